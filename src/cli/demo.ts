import { performance } from 'node:perf_hooks';
import { createSessionManager, type SessionManager } from '../manager.js';
import type { Logger } from '../logging.js';
import { ManualClock } from '../testing/manual-clock.js';
import { startUpstream, type ModeUpdate, type Upstream } from '../testing/upstream.js';
import { streamHttp } from '../transports/http-sse.js';
import { openAIResponses } from '../transports/openai-responses.js';
import { NaiveGateway } from './naive-gateway.js';

/** Failure modes the demo can give the failing model's WebSocket upgrade. */
export const FAILURE_MODES = ['500', 'reset', 'hang', '426', '429'] as const;
/** One of {@link FAILURE_MODES}. */
export type FailureMode = (typeof FAILURE_MODES)[number];

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Sessions on the failing model. Default 12. */
  sessions: number;
  /** Simulated duration, in hours. Default 2. */
  hours: number;
  /** Simulated time between two turns of a session, in seconds. Default 30 (the incident saw a failure every 30-60 s). */
  turnIntervalS: number;
  /** How the failing model's upgrade fails. Default `500` (the incident). */
  failure: FailureMode;
  /** When the failing model heals, in simulated minutes from the start; 0 never heals. Default 72 (the CLI uses min(72, 36 × hours): 60 % of the run). */
  healAfterMin: number;
  /** Deltas per turn. Default 20. */
  deltasPerTurn: number;
  /** Real milliseconds to pause per simulated turn round, so a person can watch the inspector. Default 0. */
  paceMs: number;
  /** Jitter seed, for reproducible figures. Default 7. */
  seed: number;
  /** Progress lines (stderr in the CLI). */
  onProgress?: (line: string) => void;
  /** Called with the resilient run's manager before its first turn (the CLI opens the inspector here). */
  onManager?: (manager: SessionManager) => void | Promise<void>;
  /** Keep the resilient manager open after the run (for the inspector); the caller closes it. */
  keepManagerOpen?: boolean;
}

/** The figures of one policy. */
export interface PolicyFigures {
  readonly policy: 'resilient-stream' | 'naive';
  readonly turnsRequested: number;
  readonly turnsCompleted: number;
  /** Upgrade attempts the upstream saw for the failing model (after the heal too: each session then opens its socket). */
  readonly upgradeAttempts: number;
  /** Of those, the ones the upstream failed (anything but 101). */
  readonly failedUpgradeAttempts: number;
  /** Upgrade attempts the upstream saw for the healthy model. */
  readonly healthyModelUpgrades: number;
  /** Warning lines the gateway logged. */
  readonly warnLines: number;
  /** The first warning lines, as an operator would read them. */
  readonly sampleWarnings: readonly string[];
  /**
   * Latency each turn added over the direct HTTP turn started beside it, in ms; never negative.
   * Per turn: the simulated time it waited for a WebSocket (upgrade budget, connect timeouts)
   * plus the real loopback time it took beyond its paired direct turn, or 0 when it was not
   * slower. The simulated part is the same on every run; the real part varies with machine load.
   */
  readonly addedLatencyMs: { readonly median: number; readonly p99: number };
  /** The simulated part alone: time turns spent waiting for a WebSocket that did not come, in ms. Identical across runs with the same options. */
  readonly waitedForWebSocketMs: { readonly median: number; readonly p99: number; readonly total: number };
  /** Failed upgrades the upstream saw per turn requested: extra round trips before a turn's request (multiply by your RTT). */
  readonly failedUpgradesPerTurn: number;
  /** Real loopback time of a whole turn, in ms (machine-dependent). */
  readonly turnMs: { readonly median: number; readonly p99: number };
  /** Simulated ms from the heal to the failing model's first turn over WebSocket; null if never. */
  readonly backOnWebSocketAfterHealMs: number | null;
}

/** What {@link runDemo} returns. */
export interface DemoReport {
  readonly options: Omit<DemoOptions, 'onProgress' | 'onManager' | 'keepManagerOpen'>;
  readonly turnsPerPolicy: number;
  /** Median latency of the reference (a direct HTTP turn run beside each turn), in ms. */
  readonly baselineTurnMs: number;
  readonly resilient: PolicyFigures;
  readonly naive: PolicyFigures;
  /** The resilient run's manager, when `keepManagerOpen` was set. */
  readonly manager?: SessionManager;
  readonly upstream?: Upstream;
  /** Real time the demo took, in ms. */
  readonly realMs: number;
}

/** Defaults of {@link DemoOptions}. */
export const DEMO_DEFAULTS: Omit<DemoOptions, 'onProgress' | 'onManager' | 'keepManagerOpen'> = {
  sessions: 12,
  hours: 2,
  turnIntervalS: 30,
  failure: '500',
  healAfterMin: 72,
  deltasPerTurn: 20,
  paceMs: 0,
  seed: 7,
};

const FAILING_MODEL = 'gpt-5.4';
const HEALTHY_MODEL = 'glm-5';
// Simulated time starts at a fixed, readable instant so log lines show plausible dates.
const START_MS = Date.UTC(2026, 2, 30, 15, 58, 0);
// Simulated time may jump to the next timer only when real I/O is idle: no progress (a turn
// settled, an event streamed, a request reached the upstream) for this many event-loop turns
// and this long. Counting loop turns, not only milliseconds, keeps a loaded machine (this
// process descheduled for 100 ms) from passing for idle I/O, which made the simulated waits,
// and so the figures, differ between runs with the same seed.
const QUIET_ITERATIONS = 200;
const QUIET_REAL_MS = 20;
const TOKEN = 'demo-token-not-a-secret';

function modeFor(failure: FailureMode): ModeUpdate {
  switch (failure) {
    case '500':
      return { upgradeStatus: 500 };
    case '426':
      return { upgradeStatus: 426 };
    case '429':
      return { upgradeStatus: 429, retryAfterSeconds: 120 };
    case 'reset':
      return 'reset';
    case 'hang':
      return 'hang';
  }
}

function countingLogger(warnings: string[]): Logger & { warnLines: number } {
  const logger = {
    warnLines: 0,
    debug() {},
    info() {},
    warn(_obj: object, msg?: string) {
      logger.warnLines++;
      if (warnings.length < 3 && msg) warnings.push(msg);
    },
    error(_obj: object, msg?: string) {
      if (warnings.length < 3 && msg) warnings.push(msg);
    },
  };
  return logger;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

/**
 * Runs turns of every session once per round, next to as many direct HTTP turns (the
 * reference) started at the same moment, so machine load hits both alike. Each turn is
 * measured in real time plus the simulated time that passed during it; simulated time jumps
 * to the next timer only when real I/O has gone quiet, so a hanging upgrade costs its
 * simulated deadline and nothing else.
 */
async function runRounds(
  clock: ManualClock,
  rounds: number,
  intervalMs: number,
  sessions: readonly { id: string; model: string }[],
  turn: (session: { id: string; model: string }) => Promise<boolean>,
  reference: (session: { id: string; model: string }) => Promise<void>,
  hooks: { atRound?: (round: number, atMs: number) => void; paceMs: number; activity: () => number },
): Promise<{ completed: number; addedMs: number[]; simulatedMs: number[]; referenceMs: number[]; turnMs: number[] }> {
  let completed = 0;
  const addedMs: number[] = [];
  const simulatedMs: number[] = [];
  const referenceMs: number[] = [];
  const turnMs: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const roundAtMs = START_MS + round * intervalMs;
    clock.advanceTo(roundAtMs);
    hooks.atRound?.(round, roundAtMs);
    let pending = sessions.length * 2;
    let settled = 0;
    // Each turn is paired with the direct HTTP turn started at the same instant.
    const pairs = sessions.map(() => ({ realMs: Number.NaN, simMs: 0, referenceMs: Number.NaN }));
    sessions.forEach((session, index) => {
      const pair = pairs[index]!;
      const realStart = performance.now();
      const simStart = clock.now();
      void turn(session).then((ok) => {
        pair.realMs = performance.now() - realStart;
        pair.simMs = clock.now() - simStart;
        if (ok) completed++;
        pending--;
        settled++;
      });
      void reference(session).then(
        () => {
          pair.referenceMs = performance.now() - realStart;
          pending--;
          settled++;
        },
        () => {
          pending--;
          settled++;
        },
      );
    });
    let lastProgress = -1;
    let quietSince = performance.now();
    let quietIterations = 0;
    while (pending > 0) {
      await new Promise((resolve) => setImmediate(resolve));
      const progress = settled + hooks.activity();
      if (progress !== lastProgress) {
        lastProgress = progress;
        quietSince = performance.now();
        quietIterations = 0;
        continue;
      }
      if (++quietIterations < QUIET_ITERATIONS || performance.now() - quietSince < QUIET_REAL_MS) continue;
      const nextMs = clock.nextTimerAtMs();
      if (nextMs !== undefined && nextMs < roundAtMs + intervalMs) {
        clock.advanceTo(nextMs);
        quietSince = performance.now();
        quietIterations = 0;
      }
    }
    for (const pair of pairs) {
      if (!Number.isNaN(pair.referenceMs)) referenceMs.push(pair.referenceMs);
      turnMs.push(pair.realMs);
      // Never negative: a turn that was not slower than its direct twin added nothing.
      const realExtra = Number.isNaN(pair.referenceMs) ? 0 : Math.max(0, pair.realMs - pair.referenceMs);
      addedMs.push(realExtra + pair.simMs);
      simulatedMs.push(pair.simMs);
    }
    if (hooks.paceMs > 0) await new Promise((resolve) => setTimeout(resolve, hooks.paceMs));
  }
  return { completed, addedMs, simulatedMs, referenceMs, turnMs };
}

// Events streamed by every turn, a progress signal for the clock driver.
let eventsDrained = 0;

async function drain(iterable: AsyncIterable<unknown>): Promise<void> {
  for await (const _event of iterable) {
    // Turns are consumed to the end, as a gateway would forward them.
    eventsDrained++;
  }
}

/**
 * The main job: a loopback upstream whose WebSocket upgrade fails for one model, a gateway
 * streaming real turns through the session manager on an accelerated clock, the same load
 * through a naive gateway that retries the WebSocket on every turn, and the figures of both.
 */
export async function runDemo(partial: Partial<DemoOptions> = {}): Promise<DemoReport> {
  const { onProgress, onManager, keepManagerOpen, ...rest } = partial;
  const options = { ...DEMO_DEFAULTS, ...rest };
  const progress = onProgress ?? (() => {});
  const realStart = performance.now();
  const upstream = await startUpstream({ deltasPerTurn: options.deltasPerTurn });
  const intervalMs = options.turnIntervalS * 1_000;
  const rounds = Math.max(1, Math.floor((options.hours * 3_600_000) / intervalMs));
  const healAtMs = options.healAfterMin > 0 ? START_MS + options.healAfterMin * 60_000 : Number.POSITIVE_INFINITY;
  const healthyCount = Math.max(1, Math.round(options.sessions / 3));
  const sessions = [
    ...Array.from({ length: options.sessions }, (_, i) => ({ id: `agent-${i + 1}`, model: FAILING_MODEL })),
    ...Array.from({ length: healthyCount }, (_, i) => ({ id: `chat-${i + 1}`, model: HEALTHY_MODEL })),
  ];
  const body = (model: string) => ({ model, input: 'Summarize the last build log.' });

  try {
    // The reference: a direct HTTP turn, no WebSocket, no chart, run beside every turn.
    const reference = (session: { id: string; model: string }) =>
      drain(streamHttp({ url: upstream.httpUrl, token: TOKEN, body: body(session.model), protocol: openAIResponses, firstEventTimeoutMs: 60_000, idleTimeoutMs: 60_000 }));
    const referenceMs: number[] = [];

    const runPolicy = async (policy: 'resilient-stream' | 'naive'): Promise<{ figures: PolicyFigures; manager?: SessionManager }> => {
      upstream.heal();
      upstream.setMode(FAILING_MODEL, modeFor(options.failure));
      upstream.resetCounters();
      const clock = new ManualClock(START_MS);
      const warnings: string[] = [];
      const logger = countingLogger(warnings);
      let backOnWebSocketAtMs: number | undefined;
      const noteTransport = (model: string, transport: string | undefined) => {
        if (model === FAILING_MODEL && transport === 'websocket' && clock.now() >= healAtMs && backOnWebSocketAtMs === undefined) {
          backOnWebSocketAtMs = clock.now();
        }
      };
      const atRound = (round: number, atMs: number) => {
        if (atMs >= healAtMs && upstream.modesOf(FAILING_MODEL).ws !== 'ok') {
          upstream.heal(FAILING_MODEL);
          progress(`  [${policy}] ${new Date(atMs).toISOString().slice(11, 16)} upstream healed: WebSocket for ${FAILING_MODEL} works again`);
        }
        if (round % Math.max(1, Math.floor(rounds / 6)) === 0) {
          progress(`  [${policy}] simulated ${((atMs - START_MS) / 3_600_000).toFixed(1)} h of ${options.hours} h · upgrades seen by upstream: ${upstream.upgradeAttemptsFor(FAILING_MODEL)} · warnings: ${logger.warnLines}`);
        }
      };

      let manager: SessionManager | undefined;
      let turn: (session: { id: string; model: string }) => Promise<boolean>;
      let close: () => Promise<void>;
      if (policy === 'resilient-stream') {
        const created = createSessionManager({
          clock,
          logger,
          jitterSeed: options.seed,
          endpoints: {
            [`codex/${FAILING_MODEL}`]: { wsUrl: upstream.wsUrl(FAILING_MODEL), httpUrl: upstream.httpUrl, credentials: TOKEN },
            [`zai/${HEALTHY_MODEL}`]: { wsUrl: upstream.wsUrl(HEALTHY_MODEL), httpUrl: upstream.httpUrl, credentials: TOKEN },
          },
        });
        manager = created;
        created.on('turn', (event) => {
          if (event.result === 'completed') noteTransport(event.endpointKey.endsWith(FAILING_MODEL) ? FAILING_MODEL : HEALTHY_MODEL, event.transport);
        });
        await onManager?.(created);
        const keyOf = (model: string) => (model === FAILING_MODEL ? `codex/${FAILING_MODEL}` : `zai/${HEALTHY_MODEL}`);
        turn = async (session) => {
          try {
            await drain(created.session(session.id, keyOf(session.model)).stream(body(session.model)));
            return true;
          } catch {
            return false;
          }
        };
        close = async () => {
          if (!keepManagerOpen) await created.close();
        };
      } else {
        const naive = new NaiveGateway(clock, logger);
        turn = async (session) => {
          try {
            await drain(naive.stream(session.id, { wsUrl: upstream.wsUrl(session.model), httpUrl: upstream.httpUrl, token: TOKEN }, body(session.model)));
            noteTransport(session.model, naive.lastTransport.get(session.id));
            return true;
          } catch {
            return false;
          }
        };
        close = async () => naive.close();
      }

      progress(`running ${policy}: ${sessions.length} sessions × ${rounds} turns, ${options.hours} simulated h, upgrade of ${FAILING_MODEL} fails with ${options.failure}`);
      const activity = () => eventsDrained + upstream.upgradeAttempts + upstream.httpRequests + upstream.wsTurns;
      const result = await runRounds(clock, rounds, intervalMs, sessions, turn, reference, { atRound, paceMs: options.paceMs, activity });
      referenceMs.push(...result.referenceMs);
      await close();
      const sorted = [...result.addedMs].sort((a, b) => a - b);
      const waited = [...result.simulatedMs].sort((a, b) => a - b);
      const failingUpgrades = upstream.log.filter((entry) => entry.kind === 'upgrade' && entry.model === FAILING_MODEL);
      const figures: PolicyFigures = {
        policy,
        turnsRequested: rounds * sessions.length,
        turnsCompleted: result.completed,
        upgradeAttempts: upstream.upgradeAttemptsFor(FAILING_MODEL),
        failedUpgradeAttempts: failingUpgrades.filter((entry) => entry.status !== 101).length,
        healthyModelUpgrades: upstream.upgradeAttemptsFor(HEALTHY_MODEL),
        warnLines: logger.warnLines,
        sampleWarnings: warnings,
        addedLatencyMs: { median: round2(percentile(sorted, 50)), p99: round2(percentile(sorted, 99)) },
        waitedForWebSocketMs: { median: percentile(waited, 50), p99: percentile(waited, 99), total: waited.reduce((a, b) => a + b, 0) },
        failedUpgradesPerTurn: Math.round((failingUpgrades.filter((entry) => entry.status !== 101).length / (rounds * sessions.length)) * 1_000) / 1_000,
        turnMs: (() => {
          const sortedTurns = [...result.turnMs].sort((a, b) => a - b);
          return { median: round2(percentile(sortedTurns, 50)), p99: round2(percentile(sortedTurns, 99)) };
        })(),
        backOnWebSocketAfterHealMs: backOnWebSocketAtMs === undefined || !Number.isFinite(healAtMs) ? null : backOnWebSocketAtMs - healAtMs,
      };
      return manager && keepManagerOpen ? { figures, manager } : { figures };
    };

    const resilient = await runPolicy('resilient-stream');
    const naive = await runPolicy('naive');
    const report: DemoReport = {
      options,
      turnsPerPolicy: rounds * sessions.length,
      baselineTurnMs: round2(percentile(referenceMs.sort((a, b) => a - b), 50)),
      resilient: resilient.figures,
      naive: naive.figures,
      realMs: Math.round(performance.now() - realStart),
      ...(resilient.manager ? { manager: resilient.manager, upstream } : {}),
    };
    return report;
  } finally {
    if (!keepManagerOpen) await upstream.close();
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}
