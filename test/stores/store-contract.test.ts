import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealthReport, ProbeClaim } from '../../machines/endpoint.js';
import { memoryStore } from '../../src/stores/memory.js';
import { redisStore, type RedisScriptClient } from '../../src/stores/redis.js';
import type { CoordinationStore } from '../../src/stores/store.js';
import { skipRedisSuites, startRedisServer, type RedisServer } from '../support/redis-server.js';

/**
 * One contract, two stores: `memoryStore()` is the reference, `redisStore()` must answer the
 * same. Time only moves through the `atMs` the tests pass (the stores compare caller
 * times), so lease expiry is tested without sleeping.
 */

/** `n` handles on one fresh, empty store (for Redis: `n` connections and a new key prefix). */
type FreshStores = (n: number) => CoordinationStore[];

// An epoch-sized base, as production passes, so precision problems would show.
const T = 1_764_000_000_000;
const ENDPOINT = 'openai/gpt-5.4/wss://api.example/v1/responses/acct-1';

const cooling = (untilMs: number | undefined, endpointKey = ENDPOINT): HealthReport => ({
  endpointKey,
  status: 'cooling-down',
  untilMs,
  consecutiveFailures: 1,
});
const latched = (untilMs: number): HealthReport => ({ endpointKey: ENDPOINT, status: 'unsupported', untilMs, consecutiveFailures: 0 });
const healthy = (): HealthReport => ({ endpointKey: ENDPOINT, status: 'healthy', untilMs: undefined, consecutiveFailures: 0 });

function contract(fresh: () => FreshStores): void {
  it('grants a probe, then refuses while the lease is held, with the lease end', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    expect(await a.claimProbe(ENDPOINT, T, 10_000)).toEqual({ granted: true });
    expect(await b.claimProbe(ENDPOINT, T + 1, 10_000)).toEqual({ granted: false, untilMs: T + 10_000, reason: 'probe-in-flight' });
    expect(await a.claimProbe(ENDPOINT, T + 9_999, 10_000)).toEqual({ granted: false, untilMs: T + 10_000, reason: 'probe-in-flight' });
    // Another endpoint is independent.
    expect(await b.claimProbe(`${ENDPOINT}-other`, T + 1, 10_000)).toEqual({ granted: true });
  });

  it('lets a lease expire at exactly atMs + leaseMs (times move, nothing sleeps)', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    expect(await a.claimProbe(ENDPOINT, T, 500)).toEqual({ granted: true });
    expect(await b.claimProbe(ENDPOINT, T + 499, 500)).toEqual({ granted: false, untilMs: T + 500, reason: 'probe-in-flight' });
    expect(await b.claimProbe(ENDPOINT, T + 500, 500)).toEqual({ granted: true });
    expect(await a.claimProbe(ENDPOINT, T + 600, 500)).toEqual({ granted: false, untilMs: T + 1_000, reason: 'probe-in-flight' });
  });

  it('refuses during a published cooldown with its end, and grants once it ends', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    await a.publishHealth(cooling(T + 45_000));
    expect(await b.claimProbe(ENDPOINT, T + 1, 10_000)).toEqual({ granted: false, untilMs: T + 45_000, reason: 'cooling-down' });
    expect(await b.claimProbe(ENDPOINT, T + 44_999, 10_000)).toEqual({ granted: false, untilMs: T + 45_000, reason: 'cooling-down' });
    expect(await b.claimProbe(ENDPOINT, T + 45_000, 10_000)).toEqual({ granted: true });
  });

  it('refuses during a latch with reason unsupported', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    await a.publishHealth(latched(T + 21_600_000));
    expect(await b.claimProbe(ENDPOINT, T + 60_000, 10_000)).toEqual({ granted: false, untilMs: T + 21_600_000, reason: 'unsupported' });
  });

  it('a running cooldown is answered before a running lease (a caller whose clock lags)', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    await a.publishHealth(cooling(T + 30_000));
    expect(await a.claimProbe(ENDPOINT, T + 30_000, 10_000)).toEqual({ granted: true });
    // Lease until T+40 000 and cooldown until T+30 000 both cover T+20 000: the cooldown answers.
    expect(await b.claimProbe(ENDPOINT, T + 20_000, 10_000)).toEqual({ granted: false, untilMs: T + 30_000, reason: 'cooling-down' });
    expect(await b.claimProbe(ENDPOINT, T + 35_000, 10_000)).toEqual({ granted: false, untilMs: T + 40_000, reason: 'probe-in-flight' });
  });

  it('a cooldown only grows: a shorter report does not shorten it', async () => {
    const [a, b, c] = fresh()(3) as [CoordinationStore, CoordinationStore, CoordinationStore];
    await a.publishHealth(cooling(T + 60_000));
    await b.publishHealth(cooling(T + 30_000));
    await b.publishHealth(cooling(undefined));
    expect(await c.claimProbe(ENDPOINT, T + 40_000, 10_000)).toEqual({ granted: false, untilMs: T + 60_000, reason: 'cooling-down' });
    await b.publishHealth(cooling(T + 90_000));
    expect(await c.claimProbe(ENDPOINT, T + 60_000, 10_000)).toEqual({ granted: false, untilMs: T + 90_000, reason: 'cooling-down' });
  });

  it('the reason follows the latest report, the end the longest one (the reference semantics)', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    await a.publishHealth(latched(T + 100_000));
    await b.publishHealth(cooling(T + 50_000));
    expect(await a.claimProbe(ENDPOINT, T + 60_000, 10_000)).toEqual({ granted: false, untilMs: T + 100_000, reason: 'cooling-down' });
  });

  it('healthy clears the cooldown and the lease', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    await a.publishHealth(cooling(T + 60_000));
    await b.publishHealth(healthy());
    expect(await b.claimProbe(ENDPOINT, T + 1, 10_000)).toEqual({ granted: true });
    await a.publishHealth(healthy());
    expect(await a.claimProbe(ENDPOINT, T + 2, 10_000)).toEqual({ granted: true });
  });

  it('any report clears the lease', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    expect(await a.claimProbe(ENDPOINT, T, 10_000)).toEqual({ granted: true });
    // A cooldown that already ended: only its side effect on the lease is visible.
    await a.publishHealth(cooling(T));
    expect(await b.claimProbe(ENDPOINT, T + 1, 10_000)).toEqual({ granted: true });
  });

  it('round-trips epoch-sized fractional times exactly', async () => {
    const [a, b] = fresh()(2) as [CoordinationStore, CoordinationStore];
    const until = T + 45_000.123456;
    await a.publishHealth(cooling(until));
    expect(await b.claimProbe(ENDPOINT, T, 10_000)).toEqual({ granted: false, untilMs: until, reason: 'cooling-down' });
    expect(await b.claimProbe(ENDPOINT, until, 1_000.5)).toEqual({ granted: true });
    expect(await a.claimProbe(ENDPOINT, until, 1)).toEqual({ granted: false, untilMs: until + 1_000.5, reason: 'probe-in-flight' });
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
}

describe('memoryStore (reference)', () => {
  contract(() => (n) => {
    const store = memoryStore();
    return Array.from({ length: n }, () => store);
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
      // The store's clock is the callers' clock (docs/stores.md): here it stands at T.
      return (n) => Array.from({ length: n }, (_, i) => redisStore({ client: clients[i % clients.length]!, keyPrefix, clock: { now: () => T } }));
    });
  });

  it('answers exactly like memoryStore for any sequence of operations', async () => {
    type Op =
      | { kind: 'claim'; key: number; atMs: number; leaseMs: number }
      | { kind: 'publish'; key: number; status: HealthReport['status']; untilMs: number | undefined };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('claim' as const), key: fc.integer({ min: 0, max: 1 }), atMs: fc.integer({ min: 0, max: 20_000 }), leaseMs: fc.integer({ min: 0, max: 5_000 }) }),
      fc.record({
        kind: fc.constant('publish' as const),
        key: fc.integer({ min: 0, max: 1 }),
        status: fc.constantFrom('cooling-down' as const, 'unsupported' as const, 'healthy' as const),
        untilMs: fc.option(fc.integer({ min: 0, max: 25_000 }), { nil: undefined }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const reference = memoryStore();
        // The store's clock stands at T, no later than any caller's atMs (a fleet that shares a clock).
        const store = redisStore({ client: first(), keyPrefix: freshPrefix(), clock: { now: () => T } });
        for (const o of ops) {
          const key = `ep-${o.key}`;
          if (o.kind === 'claim') {
            expect(await store.claimProbe(key, T + o.atMs, o.leaseMs)).toEqual(await reference.claimProbe(key, T + o.atMs, o.leaseMs));
          } else {
            const report: HealthReport = {
              endpointKey: key,
              status: o.status,
              untilMs: o.status === 'healthy' || o.untilMs === undefined ? undefined : T + o.untilMs,
              consecutiveFailures: 1,
            };
            await store.publishHealth(report);
            await reference.publishHealth(report);
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  describe('keys expire on their own (a dead fleet leaves nothing behind)', () => {
    it('a lease carries PX = leaseMs + clockSkewMarginMs; healthy deletes the key', async () => {
      const keyPrefix = freshPrefix();
      const store = redisStore({ client: first(), keyPrefix, clockSkewMarginMs: 1_000 });
      expect(await store.claimProbe(ENDPOINT, Date.now(), 10_000)).toEqual({ granted: true });
      const pttl = await first().pttl(keyPrefix + ENDPOINT);
      expect(pttl).toBeGreaterThan(10_000);
      expect(pttl).toBeLessThanOrEqual(11_000);
      await store.publishHealth(healthy());
      expect(await first().exists(keyPrefix + ENDPOINT)).toBe(0);
    });

    it('a cooldown carries PX = its remaining time (on the store clock) + the margin, and only grows', async () => {
      const keyPrefix = freshPrefix();
      const now = T;
      const store = redisStore({ client: first(), keyPrefix, clock: { now: () => now }, clockSkewMarginMs: 500 });
      await store.publishHealth(cooling(T + 60_000));
      let pttl = await first().pttl(keyPrefix + ENDPOINT);
      expect(pttl).toBeGreaterThan(59_000);
      expect(pttl).toBeLessThanOrEqual(60_500);
      await store.publishHealth(cooling(T + 5_000));
      pttl = await first().pttl(keyPrefix + ENDPOINT);
      expect(pttl).toBeGreaterThan(59_000);
      // A window that already ended on a fresh key: removed almost at once, never immortal.
      await store.publishHealth(cooling(T - 10_000, `${ENDPOINT}-old`));
      expect(await first().pttl(keyPrefix + `${ENDPOINT}-old`)).not.toBe(-1);
    });

    it('after any sequence of operations no key is left without an expiry', async () => {
      const keyPrefix = freshPrefix();
      const store = redisStore({ client: first(), keyPrefix });
      const now = Date.now();
      await store.claimProbe('a', now, 10_000);
      await store.publishHealth({ ...cooling(now + 45_000), endpointKey: 'a' });
      await store.claimProbe('b', now, 10_000);
      await store.publishHealth({ ...latched(now + 3_600_000), endpointKey: 'c' });
      await store.claimProbe('c', now, 10_000);
      await store.publishHealth({ ...cooling(undefined), endpointKey: 'd' });
      const keys = await first().keys(`${keyPrefix}*`);
      expect(keys.length).toBeGreaterThanOrEqual(3);
      // -1 would be a key without expiry; -2 a key that already expired ('d' had no end at all).
      for (const key of keys) expect(await first().pttl(key)).not.toBe(-1);
    });

    it('a caller whose clock lags the store clock by less than clockSkewMarginMs still sees the window', async () => {
      const keyPrefix = freshPrefix();
      const storeNow = Date.now();
      const store = redisStore({ client: first(), keyPrefix, clock: { now: () => storeNow }, clockSkewMarginMs: 5_000 });
      // Ended 2 s ago on the store clock, still running for a caller 3 s behind.
      await store.publishHealth(cooling(storeNow - 2_000));
      expect(await store.claimProbe(ENDPOINT, storeNow - 3_000, 1_000)).toEqual({ granted: false, untilMs: storeNow - 2_000, reason: 'cooling-down' });
    });

    it('Redis itself removes an expired lease (real PX, polled, no fixed sleep)', async () => {
      const keyPrefix = freshPrefix();
      const store = redisStore({ client: first(), keyPrefix, clockSkewMarginMs: 0 });
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
      const store = redisStore({ client, keyPrefix: freshPrefix() });
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
      const store = redisStore({ client, keyPrefix: freshPrefix() });
      await store.publishHealth(cooling(T + 5_000));
      expect(await store.claimProbe(ENDPOINT, T, 1_000)).toEqual({ granted: false, untilMs: T + 5_000, reason: 'cooling-down' });
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
      const store = redisStore({ client, keyPrefix: freshPrefix() });
      await store.publishHealth(cooling(T + 5_000));
      expect(await store.claimProbe(ENDPOINT, T, 1_000)).toEqual({ granted: false, untilMs: T + 5_000, reason: 'cooling-down' });
      expect(await store.claimProbe(ENDPOINT, T + 5_000, 1_000)).toEqual({ granted: true });
    });

    it('an ioredis client with its own keyPrefix still works (ioredis prefixes KEYS)', async () => {
      const prefixed = new Redis(server.url, { keyPrefix: 'tenant-a:', maxRetriesPerRequest: 1 });
      try {
        const store = redisStore({ client: prefixed, keyPrefix: freshPrefix() });
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
        const store = redisStore({ client: dead });
        await expect(store.claimProbe(ENDPOINT, T, 1_000)).rejects.toThrow();
        await expect(store.publishHealth(cooling(T + 1_000))).rejects.toThrow();
      } finally {
        dead.disconnect();
      }
    });

    it('Redis silent: the call is rejected after timeoutMs', async () => {
      const silent: RedisScriptClient = { eval: () => new Promise(() => {}) };
      const store = redisStore({ client: silent, timeoutMs: 30 });
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
      await expect(redisStore({ client }).claimProbe(ENDPOINT, T, 1_000)).rejects.toThrow(/READONLY/);
      expect(evals).toBe(0);
    });

    it('an unexpected reply rejects instead of granting', async () => {
      const store = redisStore({ client: { eval: async () => 'OK' } });
      await expect(store.claimProbe(ENDPOINT, T, 1_000)).rejects.toThrow(/unexpected reply/);
    });

    it('non-finite times reject before reaching Redis', async () => {
      const store = redisStore({ client: first() });
      await expect(store.claimProbe(ENDPOINT, Number.NaN, 1_000)).rejects.toThrow(RangeError);
      await expect(store.publishHealth(cooling(Number.POSITIVE_INFINITY))).rejects.toThrow(RangeError);
    });
  });
});
