import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedClock, createActor, fromCallback, fromPromise, type Actor, type AnyActorRef } from 'xstate';
import {
  cooldownFloorMs,
  createEndpointMachine,
  DEFAULT_POLICY,
  nominalCooldownMs,
  type EndpointReply,
  type Failure,
  type HealthReport,
  type Policy,
  type ProbeClaim,
  type SharedProbeRelease,
} from '../../machines/index.js';
import { memoryStore } from '../../src/stores/memory.js';
import { redisStore, type RedisScriptClient } from '../../src/stores/redis.js';
import type { CoordinationStore } from '../../src/stores/store.js';
import { skipRedisSuites, startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * A gateway fleet on one real Redis: each simulated process has its own endpoint chart, its
 * own SimulatedClock (all kept in step) and its own Redis connection. Sessions ask for the
 * probe every simulated second; every upgrade fails with a 500. Across the fleet the
 * endpoint must be probed at most once per cooldown window, and the windows must grow with
 * the fleet's failure streak as they would in a single process.
 */

const ENDPOINT = 'openai/gpt-5.4/wss://api.example/v1/responses/acct-1';
const UPGRADE_500: Failure = { class: 'transient-server', summary: 'upgrade answered HTTP 500', code: '500' };
const START = 1_764_000_000_000;

interface Grant {
  readonly process: number;
  readonly sessionId: string;
  readonly atMs: number;
}

interface Window {
  readonly process: number;
  readonly fromMs: number;
  readonly untilMs: number;
  /** The failing process's streak after this failure. */
  readonly consecutiveFailures: number;
}

interface Denial {
  readonly process: number;
  readonly atMs: number;
  readonly untilMs: number;
  readonly reason: string;
}

const endpointLogic = createEndpointMachine();
type EndpointActor = Actor<typeof endpointLogic>;

/** The tiny session: records every reply the endpoint sends it. */
const sessionLogic = fromCallback<EndpointReply, { onReply: (reply: EndpointReply) => void }>(({ receive, input }) => {
  receive((reply) => input.onReply(reply));
});

interface Process {
  readonly index: number;
  readonly clock: SimulatedClock;
  readonly endpoint: EndpointActor;
  readonly sessions: { readonly id: string; readonly ref: AnyActorRef; busyUntilMs: number }[];
}

interface FleetOptions {
  readonly processes: number;
  readonly sessionsPerProcess: number;
  readonly policy: Policy;
  /** One store per process (its own connection), or undefined for charts that decide alone. */
  readonly storeFor: (() => CoordinationStore) | undefined;
  /** Simulated time after a grant at which the upgrade reports its 500 (or gives the probe back). */
  readonly failAfterMs: (grantIndex: number) => number;
  /** Grants whose session gives the probe back (PROBE_RELEASED, e.g. the turn was aborted) instead of failing. */
  readonly releases?: (grantIndex: number) => boolean;
}

/** A probe given back without a report. */
interface Release {
  readonly process: number;
  readonly atMs: number;
}

/** Builds a fleet and drives it; everything observable is recorded. */
function createFleet(options: FleetOptions) {
  const grants: Grant[] = [];
  const windows: Window[] = [];
  const denials: Denial[] = [];
  const reports: HealthReport[] = [];
  const releases: Release[] = [];
  const storeReleases: SharedProbeRelease[] = [];
  const publishErrors: unknown[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const dueFailures: { process: number; sessionId: string; atMs: number; release: boolean }[] = [];
  const processes: Process[] = [];

  for (let p = 0; p < options.processes; p += 1) {
    const clock = new SimulatedClock();
    clock.set(START);
    const store = options.storeFor?.();
    const track = <T>(promise: Promise<T>): Promise<T> => {
      inFlight.add(promise);
      void promise.then(
        () => inFlight.delete(promise),
        () => inFlight.delete(promise),
      );
      return promise;
    };
    const machine = store
      ? endpointLogic.provide({
          actors: {
            claimProbe: fromPromise<ProbeClaim, { endpointKey: string; atMs: number; leaseMs: number }>(({ input }) =>
              track(store.claimProbe(input.endpointKey, input.atMs, input.leaseMs)),
            ),
          },
          actions: {
            publishHealth: (_, report: HealthReport) => {
              reports.push(report);
              // As the manager does: fire and forget, log (here: record) a failure.
              track(store.publishHealth(report).catch((error: unknown) => publishErrors.push(error)));
            },
            releaseSharedProbe: (_, release: SharedProbeRelease) => {
              // As the manager does: only with a lease to give back and a store that can.
              if (release.leaseUntilMs === undefined || !store.releaseProbe) return;
              storeReleases.push(release);
              track(store.releaseProbe(release.endpointKey, release.atMs, release.leaseUntilMs).catch((error: unknown) => publishErrors.push(error)));
            },
          },
        })
      : endpointLogic;
    const endpoint = createActor(machine, {
      clock,
      input: { endpointKey: ENDPOINT, policy: options.policy, jitterSeed: 1_000 + p * 7_919, sharedStore: store !== undefined },
    });
    endpoint.start();
    const process: Process = { index: p, clock, endpoint, sessions: [] };
    for (let s = 0; s < options.sessionsPerProcess; s += 1) {
      const id = `p${p}-s${s}`;
      const ref = createActor(sessionLogic, {
        input: {
          onReply: (reply) => {
            const atMs = clock.now();
            if (reply.type === 'ENDPOINT.GRANTED') {
              grants.push({ process: p, sessionId: id, atMs });
              const delay = options.failAfterMs(grants.length - 1);
              dueFailures.push({ process: p, sessionId: id, atMs: atMs + delay, release: options.releases?.(grants.length - 1) ?? false });
              const session = process.sessions.find((candidate) => candidate.id === id);
              if (session) session.busyUntilMs = atMs + delay;
            } else {
              denials.push({ process: p, atMs, untilMs: reply.untilMs, reason: reply.reason });
            }
          },
        },
      });
      ref.start();
      process.sessions.push({ id, ref, busyUntilMs: 0 });
    }
    processes.push(process);
  }

  /** Lets Redis round trips and the charts' reactions to them finish. */
  async function settle(): Promise<void> {
    // Real round trips on a busy 2-core machine: bound by wall time, not by a number of turns.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const claiming = processes.some((process) => process.endpoint.getSnapshot().matches({ probing: 'claiming' }));
      if (!claiming && inFlight.size === 0) {
        // One more turn so an onDone/onError queued behind the last promise is processed.
        await new Promise((resolve) => setImmediate(resolve));
        if (!processes.some((process) => process.endpoint.getSnapshot().matches({ probing: 'claiming' })) && inFlight.size === 0) return;
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
    throw new Error('the fleet did not settle within 10 s: a store call never answered');
  }

  // Which process's sessions speak first changes every step (a fixed order would hand every
  // race to process 0): a small deterministic LCG shuffles them.
  let seed = 12_345;
  const shuffled = (): Process[] => {
    const order = processes.slice();
    for (let i = order.length - 1; i > 0; i -= 1) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      const j = seed % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    return order;
  };

  /** One simulated step: due failures are reported, every idle session asks for the probe, then time moves. */
  async function step(stepMs: number): Promise<void> {
    for (const process of processes) {
      const now = process.clock.now();
      for (const due of dueFailures.filter((failure) => failure.process === process.index && failure.atMs <= now)) {
        dueFailures.splice(dueFailures.indexOf(due), 1);
        if (due.release) {
          process.endpoint.send({ type: 'PROBE_RELEASED', sessionId: due.sessionId, atMs: now });
          releases.push({ process: process.index, atMs: now });
          continue;
        }
        process.endpoint.send({ type: 'UPGRADE_FAILED', sessionId: due.sessionId, failure: UPGRADE_500, atMs: now });
        const context = process.endpoint.getSnapshot().context;
        windows.push({ process: process.index, fromMs: now, untilMs: context.cooldownUntilMs ?? now, consecutiveFailures: context.consecutiveFailures });
      }
    }
    await settle();
    for (const process of shuffled()) {
      const now = process.clock.now();
      for (const session of process.sessions) {
        if (session.busyUntilMs > now) continue;
        process.endpoint.send({ type: 'PROBE_REQUESTED', sessionId: session.id, session: session.ref, atMs: now });
      }
    }
    await settle();
    // The clocks are kept in step: every process moves by the same amount.
    for (const process of processes) process.clock.increment(stepMs);
    await settle();
  }

  async function run(horizonMs: number, stepMs: number): Promise<void> {
    for (let elapsed = 0; elapsed < horizonMs; elapsed += stepMs) await step(stepMs);
  }

  function stop(): void {
    for (const process of processes) {
      process.endpoint.stop();
      for (const session of process.sessions) session.ref.stop();
    }
  }

  return { processes, grants, windows, denials, reports, releases, storeReleases, publishErrors, run, settle, stop };
}

/** How many cooldown floors, back to back from the first failure, fit in `totalMs`. */
function floorsThatFit(policy: Policy, totalMs: number): number {
  let spent = 0;
  let fit = 0;
  for (let failures = 1; ; failures += 1) {
    spent += cooldownFloorMs(policy.cooldown, failures);
    if (spent > totalMs) return fit;
    fit += 1;
  }
}

/**
 * The fleet backs off as one process would: the k-th window of the fleet (in time order,
 * whichever process opened it) lasts at least the floor after k consecutive failures, and the
 * windows do not shrink before the cap.
 */
function expectFleetBackoff(fleet: ReturnType<typeof createFleet>, policy: Policy): void {
  const windows = [...fleet.windows].sort((a, b) => a.fromMs - b.fromMs);
  windows.forEach((window, k) => {
    expect(window.consecutiveFailures, `window ${k + 1} opened by process ${window.process}`).toBe(k + 1);
    expect(window.untilMs - window.fromMs, `window ${k + 1}`).toBeGreaterThanOrEqual(cooldownFloorMs(policy.cooldown, k + 1));
    expect(window.untilMs - window.fromMs, `window ${k + 1}`).toBeLessThanOrEqual(nominalCooldownMs(policy.cooldown, k + 1));
    const next = windows[k + 1];
    if (next && nominalCooldownMs(policy.cooldown, k + 1) < policy.cooldown.maxMs) {
      expect(next.untilMs - next.fromMs, `window ${k + 2} after ${k + 1}`).toBeGreaterThanOrEqual(window.untilMs - window.fromMs);
    }
  });
}

const seconds = (windows: readonly Window[]): string =>
  [...windows]
    .sort((a, b) => a.fromMs - b.fromMs)
    .map((window) => Math.round((window.untilMs - window.fromMs) / 1_000))
    .join(', ');

/**
 * The fleet-wide invariant: no grant falls inside a cooldown window opened by a failed probe
 * (anywhere in the fleet) or while another probe is still in flight, so the grants number
 * at most the windows that ended within the horizon, plus one.
 */
function expectOneProbePerWindow(fleet: ReturnType<typeof createFleet>, horizonEndMs: number): void {
  const grants = [...fleet.grants].sort((a, b) => a.atMs - b.atMs);
  for (const grant of grants) {
    const inside = fleet.windows.filter((window) => window.fromMs <= grant.atMs && grant.atMs < window.untilMs);
    expect(inside, `grant to ${grant.sessionId} at +${grant.atMs - START} ms falls inside a cooldown`).toEqual([]);
  }
  for (let i = 1; i < grants.length; i += 1) {
    // The previous probe's failure (and the window it opened) came before the next grant.
    const previousWindow = fleet.windows.find((window) => window.fromMs >= grants[i - 1]!.atMs);
    expect(previousWindow, `grant ${i} came before grant ${i - 1} reported`).toBeDefined();
    expect(grants[i]!.atMs).toBeGreaterThanOrEqual(previousWindow!.untilMs);
  }
  const windowsEnded = fleet.windows.filter((window) => window.untilMs <= horizonEndMs).length;
  expect(grants.length).toBeLessThanOrEqual(windowsEnded + 1);
}

describe.skipIf(skipRedisSuites)('a gateway fleet sharing one real Redis', () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  let fleets = 0;

  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
    await server?.stop();
  });

  /** Each process gets its own connection; each fleet its own key prefix. */
  function storesOnRedis(wrap: (client: Redis) => RedisScriptClient = (client) => client) {
    const keyPrefix = `fleet-${(fleets += 1)}:`;
    return () => {
      const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      clients.push(client);
      return redisStore({ client: wrap(client), keyPrefix, firstProbeWaitMs: 0 });
    };
  }

  it('5 processes × 4 sessions, upgrades always 500, 3 simulated hours: at most one probe per cooldown window', async () => {
    const horizonMs = 3 * 3_600_000;
    const fleet = createFleet({
      processes: 5,
      sessionsPerProcess: 4,
      policy: DEFAULT_POLICY,
      storeFor: storesOnRedis(),
      // The upgrade answers 500 after 0.2-3.5 s: some failures land several steps later.
      failAfterMs: (n) => 200 + ((n * 1_307) % 3_300),
    });
    try {
      await fleet.run(horizonMs, 1_000);
      await fleet.settle();
      expectOneProbePerWindow(fleet, START + horizonMs);
      // Probing never stops: a failing endpoint is still tried once per window.
      expect(fleet.grants.length).toBeGreaterThanOrEqual(6);
      // The probes were spread over the processes (the claim is a race each window), and every
      // other request of 20 sessions × 10 800 s was told to stay on HTTP.
      expect(fleet.denials.length).toBeGreaterThan(100_000);
      expect(fleet.publishErrors).toEqual([]);
      const perProcess = fleet.processes.map((process) => process.endpoint.getSnapshot().context.probesGranted);
      expect(perProcess.reduce((a, b) => a + b, 0)).toBe(fleet.grants.length);
      // Whichever process probes, the windows grow from the fleet's streak.
      expectFleetBackoff(fleet, DEFAULT_POLICY);
      expect(new Set(fleet.windows.map((window) => window.process)).size).toBeGreaterThan(1);
      console.info(`fleet: ${fleet.grants.length} probes in 3 h over ${fleet.windows.length} windows; per process ${perProcess.join('/')}; windows (s): ${seconds(fleet.windows)}`);
    } finally {
      fleet.stop();
    }
  });

  it('5 processes × 4 sessions, always failing, 24 simulated hours with the default policy: the backoff grows as in one process', async () => {
    const horizonMs = 24 * 3_600_000;
    const fleet = createFleet({
      processes: 5,
      sessionsPerProcess: 4,
      policy: DEFAULT_POLICY,
      storeFor: storesOnRedis(),
      failAfterMs: (n) => 200 + ((n * 1_307) % 3_300),
    });
    try {
      await fleet.run(horizonMs, 1_000);
      await fleet.settle();
      expectOneProbePerWindow(fleet, START + horizonMs);
      expectFleetBackoff(fleet, DEFAULT_POLICY);
      expect(fleet.publishErrors).toEqual([]);
      // One process alone can be probed at most this often in a day (every window at its floor): 65.
      const singleProcessWorstCase = 1 + floorsThatFit(DEFAULT_POLICY, horizonMs);
      expect(singleProcessWorstCase).toBe(65);
      expect(fleet.grants.length).toBeLessThanOrEqual(singleProcessWorstCase);
      expect(fleet.grants.length).toBeLessThanOrEqual(70);
      // And it is still probed all day long, once per window.
      expect(fleet.grants.length).toBeGreaterThanOrEqual(50);
      const perProcess = fleet.processes.map((process) => process.endpoint.getSnapshot().context.probesGranted);
      expect(perProcess.filter((count) => count > 0).length).toBeGreaterThan(1);
      console.info(
        `fleet 24 h: ${fleet.grants.length} probes (single-process worst case ${singleProcessWorstCase}); per process ${perProcess.join('/')}; ` +
          `windows (s): ${seconds(fleet.windows)}`,
      );
    } finally {
      fleet.stop();
    }
  }, 120_000);

  it('a probe given back (PROBE_RELEASED) is released in Redis: the fleet probes again without waiting out the lease', async () => {
    const leaseMs = DEFAULT_POLICY.upgradeTimeoutMs + 2_000;
    const run = async (store: () => CoordinationStore) => {
      // The first probe is given back after 2 s (its turn was aborted); the next one fails.
      const fleet = createFleet({ processes: 3, sessionsPerProcess: 2, policy: DEFAULT_POLICY, storeFor: store, failAfterMs: () => 2_000, releases: (n) => n === 0 });
      try {
        await fleet.run(60_000, 1_000);
        await fleet.settle();
        return { grants: fleet.grants.map((grant) => grant.atMs), released: fleet.releases.map((release) => release.atMs), storeReleases: fleet.storeReleases.length };
      } finally {
        fleet.stop();
      }
    };
    const released = await run(storesOnRedis());
    expect(released.released).toHaveLength(1);
    expect(released.storeReleases).toBe(1);
    // The next probe starts on the very next step after the release, not a lease after the first grant.
    expect(released.grants[1]! - released.released[0]!).toBeLessThanOrEqual(1_000);
    expect(released.grants[1]! - released.grants[0]!).toBeLessThan(leaseMs);
    // A store without releaseProbe (a custom one) still works: the fleet waits the lease out.
    const onRedis = storesOnRedis();
    const withoutRelease = await run(() => {
      const { releaseProbe: _drop, ...rest } = onRedis();
      return rest;
    });
    expect(withoutRelease.storeReleases).toBe(0);
    expect(withoutRelease.grants[1]! - withoutRelease.grants[0]!).toBeGreaterThanOrEqual(leaseMs);
  });

  it('3 processes with a compressed policy, many short windows', async () => {
    const policy: Policy = {
      ...DEFAULT_POLICY,
      cooldown: { ...DEFAULT_POLICY.cooldown, initialMs: 2_000, maxMs: 16_000 },
      upgradeTimeoutMs: 1_000,
    };
    const horizonMs = 15 * 60_000;
    const fleet = createFleet({ processes: 3, sessionsPerProcess: 5, policy, storeFor: storesOnRedis(), failAfterMs: (n) => 100 + ((n * 337) % 900) });
    try {
      await fleet.run(horizonMs, 250);
      await fleet.settle();
      expectOneProbePerWindow(fleet, START + horizonMs);
      expectFleetBackoff(fleet, policy);
      expect(fleet.grants.length).toBeGreaterThanOrEqual(20);
    } finally {
      fleet.stop();
    }
  });

  it('without a shared store the same fleet probes once per window per process (the check above can fail)', async () => {
    const horizonMs = 3 * 3_600_000;
    const fleet = createFleet({ processes: 5, sessionsPerProcess: 4, policy: DEFAULT_POLICY, storeFor: undefined, failAfterMs: (n) => 200 + ((n * 1_307) % 3_300) });
    try {
      await fleet.run(horizonMs, 1_000);
      // Each process opens its own windows and probes inside the others': the invariant fails.
      const overlapping = fleet.grants.filter((grant) => fleet.windows.some((window) => window.fromMs <= grant.atMs && grant.atMs < window.untilMs));
      expect(overlapping.length).toBeGreaterThan(10);
      expect(() => expectOneProbePerWindow(fleet, START + horizonMs)).toThrow();
      console.info(`no store: ${fleet.grants.length} probes in 3 h, ${overlapping.length} of them inside another process's cooldown`);
    } finally {
      fleet.stop();
    }
  });

  it('a Redis outage denies every probe (wait a lease), and probing resumes once per window when Redis returns', async () => {
    let down = true;
    const faulty = (client: Redis): RedisScriptClient => ({
      eval: (script, numKeys, ...rest) => (down ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')) : client.eval(script, numKeys, ...rest)),
      evalsha: (sha1, numKeys, ...rest) => (down ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379')) : client.evalsha(sha1, numKeys, ...rest)),
    });
    const fleet = createFleet({ processes: 4, sessionsPerProcess: 5, policy: DEFAULT_POLICY, storeFor: storesOnRedis(faulty), failAfterMs: () => 500 });
    const leaseMs = DEFAULT_POLICY.upgradeTimeoutMs + 2_000;
    try {
      await fleet.run(10 * 60_000, 1_000);
      expect(fleet.grants).toEqual([]);
      // Every denial during the outage is "a probe is in flight, come back after a lease".
      expect(fleet.denials.length).toBeGreaterThan(10_000);
      expect(new Set(fleet.denials.map((denial) => denial.reason))).toEqual(new Set(['probe-in-flight', 'cooling-down']));
      for (const denial of fleet.denials) expect(denial.untilMs - denial.atMs).toBeLessThanOrEqual(leaseMs);
      // Whatever the chart publishes meanwhile fails too: recorded (the manager logs it), never thrown.

      down = false;
      const backAt = START + 10 * 60_000;
      await fleet.run(60 * 60_000, 1_000);
      await fleet.settle();
      expect(fleet.grants.length).toBeGreaterThanOrEqual(2);
      expect(fleet.grants[0]!.atMs - backAt).toBeLessThanOrEqual(leaseMs + 1_000);
      expectOneProbePerWindow(fleet, backAt + 60 * 60_000);
    } finally {
      fleet.stop();
    }
  });
});

describe('a gateway fleet sharing one memoryStore (several managers in one process)', () => {
  it('5 processes × 4 sessions, always failing, 24 simulated hours: the same bound and the same growth as on Redis', async () => {
    const horizonMs = 24 * 3_600_000;
    const store = memoryStore();
    const fleet = createFleet({ processes: 5, sessionsPerProcess: 4, policy: DEFAULT_POLICY, storeFor: () => store, failAfterMs: (n) => 200 + ((n * 1_307) % 3_300) });
    try {
      await fleet.run(horizonMs, 1_000);
      await fleet.settle();
      expectOneProbePerWindow(fleet, START + horizonMs);
      expectFleetBackoff(fleet, DEFAULT_POLICY);
      expect(fleet.grants.length).toBeLessThanOrEqual(1 + floorsThatFit(DEFAULT_POLICY, horizonMs));
      expect(fleet.grants.length).toBeLessThanOrEqual(70);
      console.info(`memory fleet 24 h: ${fleet.grants.length} probes; windows (s): ${seconds(fleet.windows)}`);
    } finally {
      fleet.stop();
    }
  }, 120_000);
});
