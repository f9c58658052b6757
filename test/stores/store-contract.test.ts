import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthReport, ProbeClaim } from '../../machines/endpoint.js';
import { ConfigError } from '../../src/errors.js';
import { memoryStore } from '../../src/stores/memory.js';
import { redisStore, type RedisScriptClient } from '../../src/stores/redis.js';
import { DEFAULT_FAILURE_MEMORY_MS, type CoordinationStore, type FailureMemoryOptions } from '../../src/stores/store.js';
import { skipRedisSuites, startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * One contract, two stores: `memoryStore()` is the reference, `redisStore()` must answer the
 * (Redis stores here take `firstProbeWaitMs: 0`: the contract is the immediate answer; the wait
 * for a first probe in flight is tested in redis-push.test.ts.)
 * same. Time only moves through the `atMs` the tests pass (the stores compare caller
 * times), so lease expiry is tested without sleeping.
 */

/** `n` handles on one fresh, empty store (for Redis: `n` connections and a new key prefix). */
type FreshStores = (n: number, options?: FailureMemoryOptions) => CoordinationStore[];

// An epoch-sized base, as production passes, so precision problems would show.
const T = 1_764_000_000_000;
const ENDPOINT = 'openai/gpt-5.4/wss://api.example/v1/responses/acct-1';

/** A cooldown report made at `atMs` (default T) by a process whose streak is `failures` (default 1). */
const cooling = (untilMs: number | undefined, endpointKey = ENDPOINT, atMs = T, failures = 1): HealthReport => ({
  endpointKey,
  status: 'cooling-down',
  atMs,
  untilMs,
  consecutiveFailures: failures,
});
const latched = (untilMs: number, atMs = T, failures = 0): HealthReport => ({ endpointKey: ENDPOINT, status: 'unsupported', atMs, untilMs, consecutiveFailures: failures });
const healthy = (atMs = T): HealthReport => ({ endpointKey: ENDPOINT, status: 'healthy', atMs, untilMs: undefined, consecutiveFailures: 0 });
/** A refusal carrying the fleet's streak (every cooldown report below carries at least 1). */
const refused = (untilMs: number, reason: 'cooling-down' | 'unsupported' | 'probe-in-flight', consecutiveFailures?: number): ProbeClaim =>
  consecutiveFailures === undefined ? { granted: false, untilMs, reason } : { granted: false, untilMs, reason, consecutiveFailures };

function contract(fresh: () => FreshStores): void {
  it('grants a probe, then refuses while the lease is held, with the lease end', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    expect(await a.claimProbe(ENDPOINT, T, 10_000)).toEqual({ granted: true });
    expect(await b.claimProbe(ENDPOINT, T + 1, 10_000)).toEqual(refused(T + 10_000, 'probe-in-flight'));
    expect(await a.claimProbe(ENDPOINT, T + 9_999, 10_000)).toEqual(refused(T + 10_000, 'probe-in-flight'));
    // Another endpoint is independent.
    expect(await b.claimProbe(`${ENDPOINT}-other`, T + 1, 10_000)).toEqual({ granted: true });
  });

  it('lets a lease expire at exactly atMs + leaseMs (times move, nothing sleeps)', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    expect(await a.claimProbe(ENDPOINT, T, 500)).toEqual({ granted: true });
    expect(await b.claimProbe(ENDPOINT, T + 499, 500)).toEqual(refused(T + 500, 'probe-in-flight'));
    expect(await b.claimProbe(ENDPOINT, T + 500, 500)).toEqual({ granted: true });
    expect(await a.claimProbe(ENDPOINT, T + 600, 500)).toEqual(refused(T + 1_000, 'probe-in-flight'));
  });

  it('refuses during a published cooldown with its end, and grants once it ends', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    await a.publishHealth(cooling(T + 45_000));
    expect(await b.claimProbe(ENDPOINT, T + 1, 10_000)).toEqual(refused(T + 45_000, 'cooling-down', 1));
    expect(await b.claimProbe(ENDPOINT, T + 44_999, 10_000)).toEqual(refused(T + 45_000, 'cooling-down', 1));
    expect(await b.claimProbe(ENDPOINT, T + 45_000, 10_000)).toEqual({ granted: true, consecutiveFailures: 1 });
  });

  it('refuses during a latch with reason unsupported', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    await a.publishHealth(latched(T + 21_600_000));
    expect(await b.claimProbe(ENDPOINT, T + 60_000, 10_000)).toEqual(refused(T + 21_600_000, 'unsupported'));
  });

  it('a running cooldown is answered before a running lease (a caller whose clock lags)', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    await a.publishHealth(cooling(T + 30_000));
    expect(await a.claimProbe(ENDPOINT, T + 30_000, 10_000)).toEqual({ granted: true, consecutiveFailures: 1 });
    // Lease until T+40 000 and cooldown until T+30 000 both cover T+20 000: the cooldown answers.
    expect(await b.claimProbe(ENDPOINT, T + 20_000, 10_000)).toEqual(refused(T + 30_000, 'cooling-down', 1));
    expect(await b.claimProbe(ENDPOINT, T + 35_000, 10_000)).toEqual(refused(T + 40_000, 'probe-in-flight', 1));
  });

  it('a cooldown only grows: a shorter report does not shorten it', async () => {
    const [a, b, c] = fresh()(3) as [CoordinationStore, CoordinationStore, CoordinationStore];
    await a.publishHealth(cooling(T + 60_000));
    await b.publishHealth(cooling(T + 30_000));
    await b.publishHealth(cooling(undefined));
    expect(await c.claimProbe(ENDPOINT, T + 40_000, 10_000)).toEqual(refused(T + 60_000, 'cooling-down', 1));
    await b.publishHealth(cooling(T + 90_000));
    expect(await c.claimProbe(ENDPOINT, T + 60_000, 10_000)).toEqual(refused(T + 90_000, 'cooling-down', 1));
  });

  it('the reason follows the report that set the end', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    // A long latch, then a short cooldown: still the latch, until its end.
    await a.publishHealth(latched(T + 100_000));
    await b.publishHealth(cooling(T + 50_000));
    expect(await a.claimProbe(ENDPOINT, T + 60_000, 10_000)).toEqual(refused(T + 100_000, 'unsupported', 1));
    // A longer cooldown takes the end over, and with it the reason.
    await b.publishHealth(cooling(T + 150_000, ENDPOINT, T + 60_000, 2));
    expect(await a.claimProbe(ENDPOINT, T + 60_000, 10_000)).toEqual(refused(T + 150_000, 'cooling-down', 2));
    // A latch shorter than the running cooldown does not relabel it; an equal end does not either.
    await a.publishHealth(latched(T + 120_000, T + 70_000));
    await a.publishHealth(latched(T + 150_000, T + 70_000));
    expect(await b.claimProbe(ENDPOINT, T + 70_000, 10_000)).toEqual(refused(T + 150_000, 'cooling-down', 2));
    await a.publishHealth(latched(T + 150_001, T + 70_000));
    expect(await b.claimProbe(ENDPOINT, T + 70_000, 10_000)).toEqual(refused(T + 150_001, 'unsupported', 2));
  });

  it('healthy clears the cooldown, the lease and the failure streak', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    await a.publishHealth(cooling(T + 60_000, ENDPOINT, T, 4));
    await b.publishHealth(healthy());
    expect(await b.claimProbe(ENDPOINT, T + 1, 10_000)).toEqual({ granted: true });
    await a.publishHealth(healthy());
    expect(await a.claimProbe(ENDPOINT, T + 2, 10_000)).toEqual({ granted: true });
  });

  it('an operator reset clears like healthy: cooldown, latch, lease and streak', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    await a.publishHealth(cooling(T + 60_000, ENDPOINT, T, 4));
    await b.publishHealth({ endpointKey: ENDPOINT, status: 'reset', atMs: T + 1, untilMs: undefined, consecutiveFailures: 0 });
    expect(await b.claimProbe(ENDPOINT, T + 2, 10_000)).toEqual({ granted: true });
  });

  it('any report clears the lease', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    expect(await a.claimProbe(ENDPOINT, T, 10_000)).toEqual({ granted: true });
    // A cooldown that already ended: only its side effects (lease, streak) are visible.
    await a.publishHealth(cooling(T));
    expect(await b.claimProbe(ENDPOINT, T + 1, 10_000)).toEqual({ granted: true, consecutiveFailures: 1 });
  });

  it('round-trips epoch-sized fractional times exactly', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    const until = T + 45_000.123456;
    await a.publishHealth(cooling(until, ENDPOINT, T + 0.5));
    expect(await b.claimProbe(ENDPOINT, T, 10_000)).toEqual(refused(until, 'cooling-down', 1));
    expect(await b.claimProbe(ENDPOINT, until, 1_000.5)).toEqual({ granted: true, consecutiveFailures: 1 });
    expect(await a.claimProbe(ENDPOINT, until, 1)).toEqual(refused(until + 1_000.5, 'probe-in-flight', 1));
    await a.releaseProbe!(ENDPOINT, until + 1, until + 1_000.5);
    expect(await a.claimProbe(ENDPOINT, until + 1, 1)).toEqual({ granted: true, consecutiveFailures: 1 });
  });

  it('50 concurrent claims from 5 clients: exactly one grant, the rest see its lease', async () => {
    const stores = fresh()(5);
    const claims = await Promise.all(
      Array.from({ length: 50 }, (_, i) => stores[i % stores.length]!.claimProbe(ENDPOINT, T + (i % 7), 8_000 + 2_000)),
    );
    const granted = claims.filter((claim) => claim.granted);
    expect(granted).toHaveLength(1);
    const denied = claims.filter((claim): claim is Extract<ProbeClaim, { granted: false }> => !claim.granted);
    expect(denied).toHaveLength(49);
    const leaseEnds = new Set(denied.map((claim) => claim.untilMs));
    expect(leaseEnds.size).toBe(1);
    expect(denied.every((claim) => claim.reason === 'probe-in-flight')).toBe(true);
  });

  it('50 concurrent claims on 10 endpoints: exactly one grant per endpoint', async () => {
    const stores = fresh()(5);
    const claims = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => ({ key: `ep-${i % 10}`, claim: await stores[i % 5]!.claimProbe(`ep-${i % 10}`, T, 10_000) })),
    );
    for (let k = 0; k < 10; k += 1) {
      expect(claims.filter(({ key, claim }) => key === `ep-${k}` && claim.granted)).toHaveLength(1);
    }
  });

  describe('the fleet failure streak', () => {
    it('every answer, granted or not, carries the highest streak reported; a lower report does not lower it', async () => {
      const [a, b, c] = fresh()(3) as [CoordinationStore, CoordinationStore, CoordinationStore];
      expect(await c.claimProbe(ENDPOINT, T, 10_000)).toEqual({ granted: true });
      await a.publishHealth(cooling(T + 150_000, ENDPOINT, T + 1_000, 3));
      expect(await c.claimProbe(ENDPOINT, T + 2_000, 10_000)).toEqual(refused(T + 150_000, 'cooling-down', 3));
      // Another process that failed on its own, lower streak: the fleet keeps 3.
      await b.publishHealth(cooling(T + 40_000, ENDPOINT, T + 2_000, 1));
      expect(await c.claimProbe(ENDPOINT, T + 150_000, 10_000)).toEqual({ granted: true, consecutiveFailures: 3 });
      // The lease refusal carries it too.
      expect(await a.claimProbe(ENDPOINT, T + 150_001, 10_000)).toEqual(refused(T + 160_000, 'probe-in-flight', 3));
      // The prober's failure grows it.
      await c.publishHealth(cooling(T + 450_000, ENDPOINT, T + 152_000, 4));
      expect(await b.claimProbe(ENDPOINT, T + 200_000, 10_000)).toEqual(refused(T + 450_000, 'cooling-down', 4));
    });

    it('a latch keeps the streak it carries, a latch with none keeps the fleet\u2019s', async () => {
      const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
      await a.publishHealth(cooling(T + 45_000, ENDPOINT, T, 5));
      await b.publishHealth(latched(T + 3_600_000, T + 1_000, 0));
      expect(await a.claimProbe(ENDPOINT, T + 2_000, 10_000)).toEqual(refused(T + 3_600_000, 'unsupported', 5));
    });

    it('outlives the cooldown: remembered for failureMemoryMs after the window ends (default 6 h)', async () => {
      expect(DEFAULT_FAILURE_MEMORY_MS).toBe(6 * 3_600_000);
      const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
      await a.publishHealth(cooling(T + 1_800_000, ENDPOINT, T, 7));
      // Long after the 30-minute window, the next claim still learns the streak.
      expect(await b.claimProbe(ENDPOINT, T + 1_800_000 + DEFAULT_FAILURE_MEMORY_MS - 1, 10_000)).toEqual({ granted: true, consecutiveFailures: 7 });
      expect(await b.claimProbe(ENDPOINT, T + 1_800_000 + DEFAULT_FAILURE_MEMORY_MS, 10_000)).toEqual(refused(T + 1_800_000 + DEFAULT_FAILURE_MEMORY_MS - 1 + 10_000, 'probe-in-flight'));
    });

    it('is forgotten failureMemoryMs after the window (or the report, if later); a forgotten streak is replaced, not maxed', async () => {
      const [a, b] = fresh()(2, { failureMemoryMs: 60_000 }) as [CoordinationStore, CoordinationStore];
      await a.publishHealth(cooling(T + 45_000, ENDPOINT, T, 4));
      expect(await b.claimProbe(ENDPOINT, T + 104_999, 1)).toEqual({ granted: true, consecutiveFailures: 4 });
      expect(await b.claimProbe(ENDPOINT, T + 105_000, 1)).toEqual({ granted: true });
      // A report after the memory ended starts over from its own streak.
      await b.publishHealth(cooling(T + 200_000, ENDPOINT, T + 150_000, 1));
      expect(await a.claimProbe(ENDPOINT, T + 150_001, 1)).toEqual(refused(T + 200_000, 'cooling-down', 1));
      // A report whose window already ended is remembered from the report's time.
      await a.publishHealth(cooling(T + 100_000, `${ENDPOINT}-late`, T + 300_000, 2));
      expect(await b.claimProbe(`${ENDPOINT}-late`, T + 359_999, 1)).toEqual({ granted: true, consecutiveFailures: 2 });
      expect(await b.claimProbe(`${ENDPOINT}-late`, T + 360_000, 1)).toEqual({ granted: true });
    });

    it('a lower streak still extends the memory of the higher one', async () => {
      const [a, b] = fresh()(2, { failureMemoryMs: 60_000 }) as [CoordinationStore, CoordinationStore];
      await a.publishHealth(cooling(T + 45_000, ENDPOINT, T, 6));
      await b.publishHealth(cooling(T + 100_000, ENDPOINT, T + 50_000, 1));
      expect(await a.claimProbe(ENDPOINT, T + 159_999, 1)).toEqual({ granted: true, consecutiveFailures: 6 });
    });
  });

  describe('releasing a probe', () => {
    it('the holder gives its lease back: the next claim is granted at once', async () => {
      const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
      expect(await a.claimProbe(ENDPOINT, T, 10_000)).toEqual({ granted: true });
      expect(await b.claimProbe(ENDPOINT, T + 1_000, 10_000)).toEqual(refused(T + 10_000, 'probe-in-flight'));
      await a.releaseProbe!(ENDPOINT, T + 1_500, T + 10_000);
      expect(await b.claimProbe(ENDPOINT, T + 1_600, 10_000)).toEqual({ granted: true });
    });

    it('a late release never frees a lease another process took since', async () => {
      const [a, b, c] = fresh()(3) as [CoordinationStore, CoordinationStore, CoordinationStore];
      expect(await a.claimProbe(ENDPOINT, T, 10_000)).toEqual({ granted: true });
      // a's lease ran out; b takes the next one.
      expect(await b.claimProbe(ENDPOINT, T + 10_000, 10_000)).toEqual({ granted: true });
      await a.releaseProbe!(ENDPOINT, T + 10_500, T + 10_000);
      expect(await c.claimProbe(ENDPOINT, T + 11_000, 10_000)).toEqual(refused(T + 20_000, 'probe-in-flight'));
    });

    it('a release touches neither the cooldown nor the streak, and releasing nothing is harmless', async () => {
      const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
      await a.releaseProbe!(`${ENDPOINT}-never-claimed`, T, T + 10_000);
      await a.publishHealth(cooling(T + 45_000, ENDPOINT, T, 2));
      expect(await a.claimProbe(ENDPOINT, T + 45_000, 10_000)).toEqual({ granted: true, consecutiveFailures: 2 });
      await a.releaseProbe!(ENDPOINT, T + 46_000, T + 55_000);
      await a.releaseProbe!(ENDPOINT, T + 46_000, T + 55_000);
      expect(await b.claimProbe(ENDPOINT, T + 46_001, 10_000)).toEqual({ granted: true, consecutiveFailures: 2 });
      await b.publishHealth(cooling(T + 200_000, ENDPOINT, T + 47_000, 3));
      await b.releaseProbe!(ENDPOINT, T + 47_001, T + 56_001);
      expect(await a.claimProbe(ENDPOINT, T + 47_002, 10_000)).toEqual(refused(T + 200_000, 'cooling-down', 3));
    });
  });
}

describe('memoryStore (reference)', () => {
  contract(() => (n, options) => {
    const store = memoryStore(options);
    return Array.from({ length: n }, () => store);
  });

  it('rejects a failureMemoryMs that is not a finite number ≥ 0', () => {
    expect(() => memoryStore({ failureMemoryMs: -1 })).toThrow(ConfigError);
    expect(() => memoryStore({ failureMemoryMs: Number.NaN })).toThrow(ConfigError);
  });
});

describe.skipIf(skipRedisSuites)('redisStore on a real redis-server', () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  let prefixes = 0;
  const freshPrefix = () => `contract-${process.pid}-${(prefixes += 1)}:`;

  beforeAll(async () => {
    server = await startRedisServer();
    for (let i = 0; i < 5; i += 1) {
      const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
      client.on('error', () => undefined);
      clients.push(client);
      await client.ping();
    }
  });
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit().catch(() => undefined)));
    await server?.stop();
  });

  const first = () => clients[0]!;

  describe('contract', () => {
    contract(() => {
      const keyPrefix = freshPrefix();
      // No clock: the stores compare the callers' atMs and measure key expiry from the report's atMs.
      return (n, options) => Array.from({ length: n }, (_, i) => redisStore({ firstProbeWaitMs: 0, client: clients[i % clients.length]!, keyPrefix, ...options }));
    });
  });

  it('answers exactly like memoryStore for any sequence of operations', async () => {
    type Op =
      | { kind: 'claim'; key: number; atMs: number; leaseMs: number }
      | { kind: 'publish'; key: number; status: HealthReport['status']; atMs: number; untilMs: number | undefined; failures: number }
      | { kind: 'release'; key: number; atMs: number; pick: number };
    const key = fc.integer({ min: 0, max: 1 });
    const time = fc.integer({ min: 0, max: 20_000 });
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('claim' as const), key, atMs: time, leaseMs: fc.integer({ min: 0, max: 5_000 }) }),
      fc.record({
        kind: fc.constant('publish' as const),
        key,
        status: fc.constantFrom('cooling-down' as const, 'unsupported' as const, 'healthy' as const),
        atMs: time,
        untilMs: fc.option(fc.integer({ min: 0, max: 25_000 }), { nil: undefined }),
        failures: fc.integer({ min: 0, max: 12 }),
      }),
      fc.record({ kind: fc.constant('release' as const), key, atMs: time, pick: fc.nat({ max: 1_000 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 15_000 }), async (ops, failureMemoryMs) => {
        const reference = memoryStore({ failureMemoryMs });
        // A wide skew margin: Redis' own (real-time) expiry must not remove a key mid-run.
        const store = redisStore({ firstProbeWaitMs: 0, client: first(), keyPrefix: freshPrefix(), failureMemoryMs, clockSkewMarginMs: 600_000 });
        // Ends of the leases granted so far, per endpoint: a release names one of them (or none).
        const leaseEnds = new Map<string, number[]>();
        for (const o of ops) {
          const endpointKey = `ep-${o.key}`;
          if (o.kind === 'claim') {
            const expected = await reference.claimProbe(endpointKey, T + o.atMs, o.leaseMs);
            expect(await store.claimProbe(endpointKey, T + o.atMs, o.leaseMs)).toEqual(expected);
            if (expected.granted) leaseEnds.set(endpointKey, [...(leaseEnds.get(endpointKey) ?? []), T + o.atMs + o.leaseMs]);
          } else if (o.kind === 'publish') {
            const report: HealthReport = {
              endpointKey,
              status: o.status,
              atMs: T + o.atMs,
              untilMs: o.status === 'healthy' || o.untilMs === undefined ? undefined : T + o.untilMs,
              consecutiveFailures: o.failures,
            };
            await store.publishHealth(report);
            await reference.publishHealth(report);
          } else {
            const ends = leaseEnds.get(endpointKey) ?? [];
            const leaseUntilMs = ends.length > 0 && o.pick % 3 !== 0 ? ends[o.pick % ends.length]! : T + o.pick;
            await store.releaseProbe!(endpointKey, T + o.atMs, leaseUntilMs);
            await reference.releaseProbe!(endpointKey, T + o.atMs, leaseUntilMs);
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  describe('keys expire on their own (a dead fleet leaves nothing behind)', () => {
    it('a lease carries PX = leaseMs + clockSkewMarginMs; healthy deletes the key', async () => {
      const keyPrefix = freshPrefix();
      const store = redisStore({ firstProbeWaitMs: 0, client: first(), keyPrefix, clockSkewMarginMs: 1_000 });
      expect(await store.claimProbe(ENDPOINT, Date.now(), 10_000)).toEqual({ granted: true });
      const pttl = await first().pttl(keyPrefix + ENDPOINT);
      expect(pttl).toBeGreaterThan(10_000);
      expect(pttl).toBeLessThanOrEqual(11_000);
      await store.publishHealth(healthy());
      expect(await first().exists(keyPrefix + ENDPOINT)).toBe(0);
    });

    it('a report carries PX = from its atMs to the end of the failure memory, plus the margin, and only grows (no clock read)', async () => {
      const keyPrefix = freshPrefix();
      // Reports made long before the real now: the expiry is measured from each report's atMs.
      const store = redisStore({ firstProbeWaitMs: 0, client: first(), keyPrefix, clockSkewMarginMs: 500, failureMemoryMs: 120_000 });
      await store.publishHealth(cooling(T + 60_000));
      let pttl = await first().pttl(keyPrefix + ENDPOINT);
      expect(pttl).toBeGreaterThan(179_000);
      expect(pttl).toBeLessThanOrEqual(180_500);
      await store.publishHealth(cooling(T + 5_000));
      pttl = await first().pttl(keyPrefix + ENDPOINT);
      expect(pttl).toBeGreaterThan(179_000);
      // The failure memory outlives the cooldown: the streak is still there after the window.
      expect(await store.claimProbe(ENDPOINT, T + 179_999, 1)).toEqual({ granted: true, consecutiveFailures: 1 });
      // A window that already ended when reported: kept for the failure memory from the report, never immortal.
      await store.publishHealth(cooling(T - 10_000, `${ENDPOINT}-old`));
      pttl = await first().pttl(keyPrefix + `${ENDPOINT}-old`);
      expect(pttl).toBeGreaterThan(119_000);
      expect(pttl).toBeLessThanOrEqual(120_500);
    });

    it('with the default failure memory a cooldown key lives 6 h past its window', async () => {
      const keyPrefix = freshPrefix();
      const store = redisStore({ firstProbeWaitMs: 0, client: first(), keyPrefix, clockSkewMarginMs: 0 });
      await store.publishHealth(cooling(T + 1_800_000));
      const pttl = await first().pttl(keyPrefix + ENDPOINT);
      expect(pttl).toBeGreaterThan(1_800_000 + DEFAULT_FAILURE_MEMORY_MS - 1_000);
      expect(pttl).toBeLessThanOrEqual(1_800_000 + DEFAULT_FAILURE_MEMORY_MS);
    });

    it('after any sequence of operations no key is left without an expiry', async () => {
      const keyPrefix = freshPrefix();
      const store = redisStore({ firstProbeWaitMs: 0, client: first(), keyPrefix });
      const now = Date.now();
      await store.claimProbe('a', now, 10_000);
      await store.publishHealth({ ...cooling(now + 45_000, 'a', now) });
      await store.claimProbe('b', now, 10_000);
      await store.releaseProbe!('b', now + 1, now + 10_000);
      await store.publishHealth({ ...latched(now + 3_600_000, now), endpointKey: 'c' });
      await store.claimProbe('c', now, 10_000);
      await store.publishHealth({ ...cooling(undefined, 'd', now) });
      await store.claimProbe('e', now, 10_000);
      await store.releaseProbe!('e', now + 1, now + 10_000);
      const keys = await first().keys(`${keyPrefix}*`);
      expect(keys.length).toBeGreaterThanOrEqual(3);
      // -1 would be a key without expiry; 'b' and 'e' held only a lease, released: their keys are gone.
      for (const key of keys) expect(await first().pttl(key)).not.toBe(-1);
      expect(await first().exists(`${keyPrefix}b`)).toBe(0);
    });

    it('a caller whose clock lags the reporter by less than clockSkewMarginMs still sees the window', async () => {
      const keyPrefix = freshPrefix();
      const reporterNow = Date.now();
      const store = redisStore({ firstProbeWaitMs: 0, client: first(), keyPrefix, clockSkewMarginMs: 5_000, failureMemoryMs: 0 });
      // Ended 2 s before the report, still running for a caller 3 s behind the reporter.
      await store.publishHealth(cooling(reporterNow - 2_000, ENDPOINT, reporterNow));
      expect(await store.claimProbe(ENDPOINT, reporterNow - 3_000, 1_000)).toEqual(refused(reporterNow - 2_000, 'cooling-down', 1));
    });

    it('Redis itself removes an expired lease (real PX, polled, no fixed sleep)', async () => {
      const keyPrefix = freshPrefix();
      const store = redisStore({ firstProbeWaitMs: 0, client: first(), keyPrefix, clockSkewMarginMs: 0 });
      expect(await store.claimProbe(ENDPOINT, Date.now(), 30)).toEqual({ granted: true });
      const deadline = Date.now() + 5_000;
      while ((await first().exists(keyPrefix + ENDPOINT)) === 1 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await first().exists(keyPrefix + ENDPOINT)).toBe(0);
    });
  });

  describe('transport of the scripts', () => {
    function counting(target: Redis, withEvalsha: boolean) {
      const calls = { eval: 0, evalsha: 0 };
      const client: RedisScriptClient = {
        eval: (script, numKeys, ...rest) => {
          calls.eval += 1;
          return target.eval(script, numKeys, ...rest);
        },
      };
      if (withEvalsha) {
        client.evalsha = (sha1, numKeys, ...rest) => {
          calls.evalsha += 1;
          return target.evalsha(sha1, numKeys, ...rest);
        };
      }
      return { client, calls };
    }

    it('uses EVALSHA, falls back to EVAL once on NOSCRIPT (e.g. after SCRIPT FLUSH), then EVALSHA again', async () => {
      await first().script('FLUSH');
      const { client, calls } = counting(first(), true);
      const store = redisStore({ firstProbeWaitMs: 0, client, keyPrefix: freshPrefix() });
      expect(await store.claimProbe(ENDPOINT, T, 1_000)).toEqual({ granted: true });
      expect(calls).toEqual({ eval: 1, evalsha: 1 });
      expect(await store.claimProbe(ENDPOINT, T + 1, 1_000)).toEqual({ granted: false, untilMs: T + 1_000, reason: 'probe-in-flight' });
      expect(calls).toEqual({ eval: 1, evalsha: 2 });
      await first().script('FLUSH');
      expect(await store.claimProbe(ENDPOINT, T + 1_000, 1_000)).toEqual({ granted: true });
      expect(calls).toEqual({ eval: 2, evalsha: 3 });
    });

    it('works with a client that only has eval', async () => {
      const { client, calls } = counting(first(), false);
      const store = redisStore({ firstProbeWaitMs: 0, client, keyPrefix: freshPrefix() });
      await store.publishHealth(cooling(T + 5_000));
      expect(await store.claimProbe(ENDPOINT, T, 1_000)).toEqual(refused(T + 5_000, 'cooling-down', 1));
      expect(calls).toEqual({ eval: 2, evalsha: 0 });
    });

    it('the node-redis adapter from docs/stores.md works (node-redis simulated by its eval/evalSha shape)', async () => {
      // node-redis v4/v5: eval(script, { keys, arguments }) and evalSha(sha1, { keys, arguments }).
      const nodeRedisLike = {
        eval: (script: string, o: { keys: string[]; arguments: string[] }) => first().eval(script, o.keys.length, ...o.keys, ...o.arguments),
        evalSha: (sha1: string, o: { keys: string[]; arguments: string[] }) => first().evalsha(sha1, o.keys.length, ...o.keys, ...o.arguments),
      };
      const redis = nodeRedisLike;
      // The adapter, verbatim from the docs:
      const client: RedisScriptClient = {
        eval: (script, numKeys, ...rest) => redis.eval(script, { keys: rest.slice(0, numKeys), arguments: rest.slice(numKeys) }),
        evalsha: (sha1, numKeys, ...rest) => redis.evalSha(sha1, { keys: rest.slice(0, numKeys), arguments: rest.slice(numKeys) }),
      };
      await first().script('FLUSH');
      const store = redisStore({ firstProbeWaitMs: 0, client, keyPrefix: freshPrefix() });
      await store.publishHealth(cooling(T + 5_000));
      expect(await store.claimProbe(ENDPOINT, T, 1_000)).toEqual(refused(T + 5_000, 'cooling-down', 1));
      expect(await store.claimProbe(ENDPOINT, T + 5_000, 1_000)).toEqual({ granted: true, consecutiveFailures: 1 });
      await store.releaseProbe!(ENDPOINT, T + 5_001, T + 6_000);
      expect(await store.claimProbe(ENDPOINT, T + 5_002, 1_000)).toEqual({ granted: true, consecutiveFailures: 1 });
    });

    it('an ioredis client with its own keyPrefix still works (ioredis prefixes KEYS)', async () => {
      const prefixed = new Redis(server.url, { keyPrefix: 'tenant-a:', maxRetriesPerRequest: 1 });
      prefixed.on('error', () => undefined);
      try {
        const store = redisStore({ firstProbeWaitMs: 0, client: prefixed, keyPrefix: freshPrefix() });
        expect(await store.claimProbe(ENDPOINT, T, 1_000)).toEqual({ granted: true });
        expect(await store.claimProbe(ENDPOINT, T + 1, 1_000)).toMatchObject({ granted: false, reason: 'probe-in-flight' });
      } finally {
        await prefixed.quit();
      }
    });
  });

  describe('failures reject the promise', () => {
    it('Redis unreachable: claimProbe and publishHealth reject', async () => {
      const closed = await startRedisServer();
      await closed.stop();
      const dead = new Redis(closed.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true, retryStrategy: () => null });
      dead.on('error', () => undefined);
      try {
        const store = redisStore({ firstProbeWaitMs: 0, client: dead });
        await expect(store.claimProbe(ENDPOINT, T, 1_000)).rejects.toThrow();
        await expect(store.publishHealth(cooling(T + 1_000))).rejects.toThrow();
      } finally {
        dead.disconnect();
      }
    });

    it('Redis silent: the call is rejected after timeoutMs', async () => {
      const silent: RedisScriptClient = { eval: () => new Promise(() => {}) };
      const store = redisStore({ firstProbeWaitMs: 0, client: silent, timeoutMs: 30 });
      await expect(store.claimProbe(ENDPOINT, T, 1_000)).rejects.toThrow(/no answer from Redis within 30 ms/);
    });

    it('a script error (not NOSCRIPT) is not retried with EVAL', async () => {
      let evals = 0;
      const client: RedisScriptClient = {
        eval: async () => {
          evals += 1;
          return [1];
        },
        evalsha: async () => {
          throw new Error('READONLY You cannot write against a read only replica.');
        },
      };
      await expect(redisStore({ firstProbeWaitMs: 0, client }).claimProbe(ENDPOINT, T, 1_000)).rejects.toThrow(/READONLY/);
      expect(evals).toBe(0);
    });

    it('an unexpected reply rejects instead of granting', async () => {
      const store = redisStore({ firstProbeWaitMs: 0, client: { eval: async () => 'OK' } });
      await expect(store.claimProbe(ENDPOINT, T, 1_000)).rejects.toThrow(/unexpected reply/);
    });

    it('non-finite times reject before reaching Redis', async () => {
      const store = redisStore({ firstProbeWaitMs: 0, client: first() });
      await expect(store.claimProbe(ENDPOINT, Number.NaN, 1_000)).rejects.toThrow(RangeError);
      await expect(store.publishHealth(cooling(Number.POSITIVE_INFINITY))).rejects.toThrow(RangeError);
      await expect(store.publishHealth(cooling(T + 1_000, ENDPOINT, Number.NaN))).rejects.toThrow(RangeError);
      await expect(store.publishHealth(cooling(T + 1_000, ENDPOINT, T, Number.POSITIVE_INFINITY))).rejects.toThrow(RangeError);
      await expect(store.publishHealth(cooling(T + 1_000, ENDPOINT, T, 1.5))).rejects.toThrow(RangeError);
      await expect(store.releaseProbe!(ENDPOINT, T, Number.NaN)).rejects.toThrow(RangeError);
    });

    it('an old reply without the streak still reads (a granted {1}, a refusal of three)', async () => {
      let reply: unknown = [1];
      const store = redisStore({ firstProbeWaitMs: 0, client: { eval: async () => reply } });
      expect(await store.claimProbe(ENDPOINT, T, 1_000)).toEqual({ granted: true });
      reply = [0, String(T + 5), 'cooling-down'];
      expect(await store.claimProbe(ENDPOINT, T, 1_000)).toEqual(refused(T + 5, 'cooling-down'));
      reply = [0, String(T + 5), 'cooling-down', '3'];
      expect(await store.claimProbe(ENDPOINT, T, 1_000)).toEqual(refused(T + 5, 'cooling-down', 3));
    });

    it('rejects a failureMemoryMs that is not a finite number ≥ 0', () => {
      expect(() => redisStore({ firstProbeWaitMs: 0, client: first(), failureMemoryMs: -1 })).toThrow(ConfigError);
      expect(() => redisStore({ firstProbeWaitMs: 0, client: first(), failureMemoryMs: Number.POSITIVE_INFINITY })).toThrow(ConfigError);
    });
  });
});
