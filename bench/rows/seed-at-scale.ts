/**
 * Row 6: the incident at scale on a simulated clock. 1,000 sessions, each with one turn every
 * 30 s for 24 simulated hours, against an endpoint whose WebSocket upgrade always answers 500.
 * Counts the upgrade attempts the (real, loopback) upstream sees, vs a naive policy that tries
 * the WebSocket on every turn, and the CPU time the simulation takes.
 *
 * Main run: the real manager, charts and socket actor on xstate's SimulatedClock; every upgrade
 * the charts grant is a real `ws` upgrade to the upstream child (counted there); each turn is
 * reported to the session's turn chart as `Session.stream` reports it (TURN_REQUESTED with the
 * health epoch, wait for the chart's `turn.send`, TURN_COMPLETED) without streaming a body, since
 * 2.88 M real HTTP turns would take most of an hour. Cross-check: fewer sessions over the same
 * day through the full `session.stream` path, with HTTP answered in-process by a stubbed
 * `fetch` (a 2-event SSE body), upgrades still real.
 */
import { SimulatedClock, type AnyActorRef } from 'xstate';
import type { SessionActorRef, TurnActorRef, TurnEmitted } from '../../machines/index.js';
import { createSessionManager } from '../../src/index.js';
import { reportRows, rowArgs, progress, type RowResult } from '../lib/child.js';
import { count, ms } from '../lib/format.js';
import { round } from '../lib/stats.js';
import { startRemoteUpstream, type RemoteUpstream } from '../lib/upstream-child.js';

interface Args {
  sessions: number;
  hours: number;
  turnEveryMs: number;
  crossCheckSessions: number;
  /** Wall-clock budget of the main run; past it the run stops and the row says so. */
  maxSeconds: number;
  jitterSeed: number;
}

const TOKEN = 'tok-bench-0001';
const TARGET_PER_DAY = 60;
const HOUR_MS = 3_600_000;

interface SimResult {
  readonly turns: number;
  readonly simulatedHours: number;
  readonly upgradesSeen: number;
  readonly upgradeTimesMs: number[];
  readonly probesGranted: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly stoppedEarly: boolean;
  readonly endpointPath: string;
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

/**
 * A turn chart's decisions as the facade hears them: the first `turn.send` or `turn.ended` of the
 * turn just requested. Synchronous in most turns; only a granted probe waits for the real upgrade.
 */
class Decisions {
  private turnId: string | undefined;
  private decided: TurnEmitted | undefined;
  private waiting: ((decision: TurnEmitted) => void) | undefined;

  constructor(readonly turn: TurnActorRef) {
    turn.on('turn.send', (event) => this.settle(event.turnId, event));
    turn.on('turn.ended', (event) => this.settle(event.result.id, event));
  }

  private settle(turnId: string, decision: TurnEmitted): void {
    if (turnId !== this.turnId || this.decided) return;
    this.decided = decision;
    this.waiting?.(decision);
  }

  /** Requests a turn and returns the chart's decision, at once when it is made at once. */
  request(turnId: string, atMs: number, healthEpoch: number): TurnEmitted | Promise<TurnEmitted> {
    this.turnId = turnId;
    this.decided = undefined;
    this.waiting = undefined;
    this.turn.send({ type: 'TURN_REQUESTED', turnId, atMs, healthEpoch });
    return this.decided ?? new Promise<TurnEmitted>((resolve) => (this.waiting = resolve));
  }
}

/** Staggered turns: session i of n turns at i × (turnEveryMs / n) within every period. */
async function simulate(
  upstream: RemoteUpstream,
  model: string,
  sessions: number,
  args: Args,
  mode: 'chart-protocol' | 'facade',
): Promise<SimResult> {
  const clock = new SimulatedClock();
  const manager = createSessionManager({
    clock,
    jitterSeed: args.jitterSeed,
    endpoints: { [model]: { wsUrl: upstream.wsUrl(model), httpUrl: upstream.httpUrl, credentials: TOKEN } },
    // The chart-protocol mode drives the turn charts directly, past the facade that notes activity.
    ...(mode === 'chart-protocol' ? { policy: { idleChartsStopAfterMs: 0 } } : {}),
  });
  const upgradeTimesMs: number[] = [];
  manager.on('upgrade', (event) => upgradeTimesMs.push(event.atMs));
  const handles = Array.from({ length: sessions }, (_, i) => manager.session(`s${i}`, model));
  // A session's charts start with its first turn through the facade; this mode sends the turn chart's
  // events itself, so it starts them as that first turn would.
  if (mode === 'chart-protocol') for (const s of handles) (s as unknown as { startCharts(): void }).startCharts();
  const byId = new Map(manager.actors().map((a) => [a.id, a.actor]));
  // Each session chart's child turn chart, where the facade sends a turn's events.
  const decisions = mode === 'chart-protocol' ? handles.map((s) => new Decisions((byId.get(s.id) as SessionActorRef).getSnapshot().children.turn as TurnActorRef)) : [];
  // The health epoch, counted as the manager counts it: the endpoint's and the credential's changes.
  let healthEpoch = 0;
  for (const { kind, actor } of manager.actors()) {
    if (kind === 'endpoint') (actor as AnyActorRef).on('health.changed', () => void healthEpoch++);
    if (kind === 'credential') (actor as AnyActorRef).on('credential.changed', () => void healthEpoch++);
  }
  const body = { model, input: 'seed' };
  const stepMs = args.turnEveryMs / sessions;
  const totalSteps = Math.round((args.hours * HOUR_MS) / stepMs);
  const stepsPerHour = Math.round(HOUR_MS / stepMs);
  // The wall-clock budget is checked every simulated quarter hour.
  const checkEvery = Math.max(1, Math.round(stepsPerHour / 4));
  const before = (await upstream.counters([model])).upgradeAttemptsByModel[model] ?? 0;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let turns = 0;
  let stoppedEarly = false;
  for (let step = 0; step < totalSteps; step++) {
    clock.set(step * stepMs);
    const index = step % sessions;
    if (mode === 'facade') {
      for await (const _event of handles[index]!.stream(body));
    } else {
      const turnChart = decisions[index]!;
      const turnId = `t${step}`;
      const atMs = clock.now();
      // Synchronous in most turns; only a granted probe waits for the real upgrade's answer.
      const decided = turnChart.request(turnId, atMs, healthEpoch);
      const decision = decided instanceof Promise ? await decided : decided;
      if (decision.type !== 'turn.send' || decision.transport !== 'http') throw new Error(`row 6: unexpected decision ${JSON.stringify(decision)}`);
      turnChart.turn.send({ type: 'TURN_COMPLETED', turnId, atMs });
    }
    turns++;
    if ((step + 1) % checkEvery === 0) {
      const hour = (step + 1) / stepsPerHour;
      const elapsed = (performance.now() - wall0) / 1000;
      if (mode === 'chart-protocol' && hour % 4 === 0) progress(`row 6: ${hour} h simulated, ${upgradeTimesMs.length} upgrades, ${elapsed.toFixed(0)} s`);
      if (elapsed > args.maxSeconds && step + 1 < totalSteps) {
        stoppedEarly = true;
        break;
      }
    }
  }
  const wallMs = performance.now() - wall0;
  const cpu = cpuMs(cpu0);
  const simulatedHours = (turns * stepMs) / HOUR_MS;
  const after = (await upstream.counters([model])).upgradeAttemptsByModel[model] ?? 0;
  const state = manager.endpoint(model).state;
  await manager.close();
  return {
    turns,
    simulatedHours,
    upgradesSeen: after - before,
    upgradeTimesMs,
    probesGranted: state.probesGranted,
    wallMs,
    cpuMs: cpu,
    stoppedEarly,
    endpointPath: state.path,
  };
}

/** HTTP turns answered in-process: the cross-check streams a tiny body through the real `streamHttp`. */
function stubFetch(httpUrl: string): () => number {
  const realFetch = globalThis.fetch;
  const sse =
    'event: response.created\ndata: {"type":"response.created","response":{"id":"r","status":"in_progress"}}\n\n' +
    'event: response.completed\ndata: {"type":"response.completed","response":{"id":"r","status":"completed"}}\n\n';
  let calls = 0;
  globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    if (String(input) !== httpUrl) return realFetch(input, init);
    calls++;
    return Promise.resolve(new Response(sse, { status: 200, headers: { 'content-type': 'text/event-stream' } }));
  }) as typeof fetch;
  return () => calls;
}

function extrapolateDay(run: SimResult): number {
  const halfMs = (run.simulatedHours * HOUR_MS) / 2;
  const late = run.upgradeTimesMs.filter((t) => t >= halfMs).length;
  const perHour = late / (run.simulatedHours / 2);
  return run.upgradesSeen + perHour * (24 - run.simulatedHours);
}

function schedule(times: number[]): string[] {
  return times.slice(0, 12).map((t) => `${(t / 60_000).toFixed(1)} min`);
}

reportRows(async (): Promise<RowResult[]> => {
  const args: Args = { sessions: 1000, hours: 24, turnEveryMs: 30_000, crossCheckSessions: 10, maxSeconds: 330, jitterSeed: 42, ...rowArgs<Partial<Args>>() };
  const upstream = await startRemoteUpstream({ deltasPerTurn: 1, defaultMode: { upgradeStatus: 500 } });
  const fetchCalls = stubFetch(upstream.httpUrl);
  try {
    progress(`row 6 cross-check: ${args.crossCheckSessions} sessions × ${args.hours} h through session.stream`);
    const facade = await simulate(upstream, 'seed-facade', args.crossCheckSessions, args, 'facade');
    if (fetchCalls() !== facade.turns) throw new Error(`row 6: ${fetchCalls()} HTTP turns for ${facade.turns} facade turns`);
    progress(`row 6: ${count(args.sessions)} sessions × ${args.hours} h, a turn every ${args.turnEveryMs / 1000} s each`);
    const main = await simulate(upstream, 'seed', args.sessions, args, 'chart-protocol');
    const upstreamCpu = (await upstream.counters()).cpuMs;
    // A run stopped by the time budget is extrapolated at the rate of its second half (the cooldown
    // grows during the first hour, so a plain linear extrapolation would overstate the day).
    const perDay = main.stoppedEarly ? extrapolateDay(main) : (main.upgradesSeen * 24) / main.simulatedHours;
    const naivePerDay = (main.turns * 24) / main.simulatedHours;
    const hoursNote = main.stoppedEarly ? ` (stopped at ${main.simulatedHours.toFixed(1)} h: time budget; per day extrapolated)` : '';
    return [
      {
        id: '6',
        title: `Seed at scale: ${count(args.sessions)} sessions, a turn every ${args.turnEveryMs / 1000} s each, ${args.hours} simulated h, upgrade always 500`,
        packageText: `${count(main.upgradesSeen)} upgrades seen${hoursNote}; ${args.crossCheckSessions} sessions via session.stream: ${facade.upgradesSeen}; CPU ${ms(main.cpuMs)} (${((main.cpuMs * 1000) / main.turns).toFixed(1)} µs/turn)`,
        rawText: `naive (WebSocket every turn): ${count(Math.round(naivePerDay))} upgrades/day`,
        valueText: `${perDay.toFixed(0)} per endpoint per day`,
        targetText: `≤ ${TARGET_PER_DAY} per endpoint per day`,
        pass: perDay <= TARGET_PER_DAY && facade.upgradesSeen <= TARGET_PER_DAY,
        details: {
          sessions: args.sessions,
          turnEveryMs: args.turnEveryMs,
          simulatedHours: round(main.simulatedHours),
          stoppedEarly: main.stoppedEarly,
          turns: main.turns,
          upgradesSeenByUpstream: main.upgradesSeen,
          upgradesPerDay: round(perDay),
          probesGrantedByEndpoint: main.probesGranted,
          naiveUpgradesPerDay: Math.round(naivePerDay),
          reductionVsNaive: round(naivePerDay / Math.max(1, perDay)),
          firstUpgradesAt: schedule(main.upgradeTimesMs),
          lastUpgradeIntervalsMin: main.upgradeTimesMs
            .slice(-6)
            .map((t, i, all) => (i === 0 ? undefined : round((t - all[i - 1]!) / 60_000)))
            .filter((v) => v !== undefined),
          endpointAtEnd: main.endpointPath,
          cpuMs: round(main.cpuMs),
          cpuUsPerTurn: round((main.cpuMs * 1000) / main.turns),
          wallMs: round(main.wallMs),
          upstreamProcessCpuMs: round(upstreamCpu),
          jitterSeed: args.jitterSeed,
          crossCheck: {
            sessions: args.crossCheckSessions,
            turns: facade.turns,
            upgradesSeenByUpstream: facade.upgradesSeen,
            firstUpgradesAt: schedule(facade.upgradeTimesMs),
            cpuMs: round(facade.cpuMs),
            cpuUsPerTurn: round((facade.cpuMs * 1000) / facade.turns),
          },
          method:
            'Real manager, charts and socket actor on xstate SimulatedClock (default policy: cooldown 45 s doubling to 30 min, 20 % downward jitter); upgrades are real ws upgrades to the upstream child, which answers 500 and counts them. Main run: each turn reported to the session\'s turn chart as Session.stream does (TURN_REQUESTED with the health epoch, the chart\'s turn.send, TURN_COMPLETED) without a body. Cross-check: the full session.stream path with fetch stubbed in-process (2-event SSE body). Turns are staggered evenly within each period. CPU is this process\'s user+system time for the run (the upstream child\'s CPU is reported separately).',
        },
      },
    ];
  } finally {
    await upstream.close();
  }
});
