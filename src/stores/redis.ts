/**
 * A {@link CoordinationStore} on Redis: the semantics of `memoryStore()`, made atomic across
 * gateway processes with one Lua script per operation. The library never imports a Redis
 * client: pass any client with an ioredis-compatible `eval` (see {@link RedisScriptClient}).
 *
 * Protocol (docs/stores.md has the long form): one hash per endpoint at
 * `keyPrefix + endpointKey`, with the fields
 * - `lease`: end of the probe lease, in the caller's ms since the epoch;
 * - `cooldown`: end of the published cooldown or latch, same clock;
 * - `status`: status of the report that set `cooldown` (`cooling-down` or `unsupported`);
 * - `failures`: the highest failure streak reported since the last `healthy`;
 * - `failuresUntil`: end of the failure memory (`failureMemoryMs` after the last window's end).
 * Every write leaves a PX expiry on the hash, so a fleet that dies leaves nothing behind.
 * Times are compared as the callers send them; the fleet's hosts share a clock (NTP).
 */

export type { RedisScriptClient } from './redis-scripts.js';
import type { HealthReport, ProbeClaim } from '../../machines/endpoint.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../logging.js';
import { createHealthChannel } from './redis-health-channel.js';
import { outageLog } from './redis-outage-log.js';
import { bounded, runScript, script, type RedisScriptClient } from './redis-scripts.js';
import { subscriberFor, type RedisDuplicableClient, type RedisSubscriberClient } from './redis-subscriber.js';
import { DEFAULT_FAILURE_MEMORY_MS, failureMemoryUntilMs, type CoordinationStore } from './store.js';

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /** The connection to use (ioredis, or an adapter). The store never closes it unless `closeClient` is given. Required, no default. */
  readonly client: RedisScriptClient & RedisDuplicableClient;
  /**
   * Prepended to the endpoint key to make the Redis key. Default `'resilient-stream:endpoint:'`.
   * Give each fleet (or environment) sharing one Redis its own prefix.
   */
  readonly keyPrefix?: string;
  /**
   * How long the fleet's failure streak is remembered after the end of the last reported window
   * (or after the report, for a window that already ended), in ms, so the next cooldown grows
   * from the fleet's streak whichever process probes. Give it at least twice the policy's
   * `cooldown.maxMs`. Default 21 600 000 (6 h).
   */
  readonly failureMemoryMs?: number;
  /**
   * Added to every key expiry, in ms, so a process whose clock lags the others by up to
   * this much still finds a lease or cooldown it has not seen end yet. Expiry is only
   * garbage collection: the decisions compare the times stored in the hash. Default 1 000.
   */
  readonly clockSkewMarginMs?: number;
  /**
   * A call that Redis has not answered after this many ms is rejected (the chart then
   * waits a lease; see docs/stores.md). Real time, not the callers' `atMs`. `0` disables the bound
   * and leaves it to the client's own timeouts. Default 1 000.
   */
  readonly timeoutMs?: number;
  /** Called by the store's `close()`, e.g. `() => redis.quit()`. Default: `close()` closes only the store's own subscriber connection; the owner closes the client. */
  readonly closeClient?: () => Promise<unknown>;
  /**
   * The pub/sub connection that receives the other processes' health changes. Default
   * `client.duplicate()` (ioredis), opened at the first `subscribe` and closed by
   * `close()`. Without either, nothing is pushed and each process learns at its next claim.
   */
  readonly subscriber?: RedisSubscriberClient;
  /** The pub/sub channel of health changes. Default `keyPrefix + '__health__'`. Every process of a fleet must use the same. */
  readonly healthChannel?: string;
  /**
   * When a claim finds another process's probe in flight and the fleet knows no failure (a
   * fleet starting up), wait up to this many ms (real time) for that probe's outcome instead of
   * refusing at once, so a healthy fleet starts without a cooldown (and without a warn line).
   * Capped at the claim's `leaseMs` less 1 s, below the chart's own claim deadline. A turn never
   * waits for it longer than `upgradeBudgetMs`. `0` refuses at once. Default 5 000.
   */
  readonly firstProbeWaitMs?: number;
  /** Where the store says, once, that Redis became unreachable and, once, that it answers again. Default: silent. */
  readonly logger?: Logger;
  /** Wall clock in ms since the epoch, to tell which windows still run when Redis comes back. Default `Date.now`; the fleet shares it (NTP). */
  readonly now?: () => number;
}

/** The default {@link RedisStoreOptions.keyPrefix}. */
export const DEFAULT_REDIS_KEY_PREFIX = 'resilient-stream:endpoint:';
const DEFAULT_CLOCK_SKEW_MARGIN_MS = 1_000;
const DEFAULT_TIMEOUT_MS = 1_000;
const DEFAULT_FIRST_PROBE_WAIT_MS = 5_000;
const FIRST_PROBE_WAIT_MARGIN_MS = 1_000;
const FIRST_PROBE_POLL_MS = 250;
const HEALTH_CHANNEL_SUFFIX = '__health__';
const RESYNC_ATTEMPTS = 50;
const RESYNC_RETRY_MS = 200;
const STATUSES: readonly string[] = ['healthy', 'cooling-down', 'unsupported', 'reset'];

/**
 * KEYS[1] endpoint hash; ARGV[1] atMs; ARGV[2] lease end (atMs + leaseMs); ARGV[3] lease PX.
 * Replies `{1, failures}` (granted) or `{0, untilMs, reason, failures}`, where `failures` is
 * the fleet's streak still remembered at atMs (`'0'` when none). Times travel as strings both
 * ways so epoch-sized and fractional values round-trip exactly (Lua prints numbers with 14
 * digits); the script only compares them, never computes one.
 */
export const CLAIM_PROBE_SCRIPT = `
local at = tonumber(ARGV[1])
local entry = redis.call('HMGET', KEYS[1], 'cooldown', 'status', 'lease', 'failures', 'failuresUntil')
local cooldown, status, lease, failures, failuresUntil = entry[1], entry[2], entry[3], entry[4], entry[5]
local streak = '0'
if failures and failuresUntil and tonumber(failuresUntil) > at then streak = failures end
if cooldown and tonumber(cooldown) > at then
  if status == 'unsupported' then return {0, cooldown, 'unsupported', streak} end
  return {0, cooldown, 'cooling-down', streak}
end
if lease and tonumber(lease) > at then
  return {0, lease, 'probe-in-flight', streak}
end
redis.call('HSET', KEYS[1], 'lease', ARGV[2])
local px = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < px then redis.call('PEXPIRE', KEYS[1], px) end
return {1, streak}
`;

/**
 * KEYS[1] endpoint hash; ARGV[1] status; ARGV[2] end of the window; ARGV[3] atMs of the
 * report; ARGV[4] the reporter's failure streak; ARGV[5] end of the failure memory the report
 * opens; ARGV[6] PX: from atMs to that end, plus the skew margin; ARGV[7] the health channel
 * (`''`: publish nothing); ARGV[8] the reporter's instance id; ARGV[9] the endpoint key.
 * `healthy` and `reset` delete the hash (cooldown, lease and streak). Otherwise: the cooldown
 * only grows and the status follows the report that set its end; the streak only grows while
 * remembered (a forgotten one is replaced), and its memory only lengthens; the lease is cleared.
 * The expiry only ever grows too, and a hash is never left without one.
 * Then the resulting state (not the report: a shorter window than the stored one is published as
 * the stored one) is published on the channel, in the same atomic step, so every instance hears
 * of exactly what a claim would now answer. Numbers travel as strings (exact round trip).
 */
export const PUBLISH_HEALTH_SCRIPT = `
local status, untilMs, failures = ARGV[1], ARGV[2], ARGV[4]
if ARGV[1] == 'healthy' or ARGV[1] == 'reset' then
  redis.call('DEL', KEYS[1])
  untilMs, failures = '0', '0'
else
  local entry = redis.call('HMGET', KEYS[1], 'cooldown', 'failures', 'failuresUntil', 'status')
  local cooldown, storedFailures, failuresUntil = entry[1], entry[2], entry[3]
  if not cooldown or tonumber(ARGV[2]) > tonumber(cooldown) then
    redis.call('HSET', KEYS[1], 'cooldown', ARGV[2], 'status', ARGV[1])
  else
    untilMs, status = cooldown, entry[4] or ARGV[1]
  end
  if storedFailures and failuresUntil and tonumber(failuresUntil) > tonumber(ARGV[3]) then
    if tonumber(ARGV[4]) > tonumber(storedFailures) then redis.call('HSET', KEYS[1], 'failures', ARGV[4]) else failures = storedFailures end
    if tonumber(ARGV[5]) > tonumber(failuresUntil) then redis.call('HSET', KEYS[1], 'failuresUntil', ARGV[5]) end
  else
    redis.call('HSET', KEYS[1], 'failures', ARGV[4], 'failuresUntil', ARGV[5])
  end
  redis.call('HDEL', KEYS[1], 'lease')
  local px = tonumber(ARGV[6])
  local pttl = redis.call('PTTL', KEYS[1])
  if pttl < 0 then
    redis.call('PEXPIRE', KEYS[1], math.max(px, 1))
  elseif px > pttl then
    redis.call('PEXPIRE', KEYS[1], px)
  end
end
if ARGV[7] ~= '' then
  redis.call('PUBLISH', ARGV[7], cjson.encode({ origin = ARGV[8], endpointKey = ARGV[9], status = status, atMs = ARGV[3], untilMs = untilMs, consecutiveFailures = failures }))
end
return 1
`;

/**
 * KEYS[1] endpoint hash; ARGV[1] atMs of the release; ARGV[2] end of the lease given back.
 * Deletes the lease only if it is that one (a lease taken since by another process stays).
 * Replies 1 when released, 0 otherwise. Touches no expiry.
 */
export const RELEASE_PROBE_SCRIPT = `
local lease = redis.call('HGET', KEYS[1], 'lease')
if lease and tonumber(lease) == tonumber(ARGV[2]) then
  redis.call('HDEL', KEYS[1], 'lease')
  return 1
end
return 0
`;

const claimProbeScript = script(CLAIM_PROBE_SCRIPT);
const publishHealthScript = script(PUBLISH_HEALTH_SCRIPT);
const releaseProbeScript = script(RELEASE_PROBE_SCRIPT);

function finite(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`redisStore: ${name} must be a finite number of ms, got ${String(value)}`);
  }
}

/** The fleet's streak in a claim reply, as the optional claim field (absent when none or unreadable). */
function streakOf(value: unknown): { consecutiveFailures?: number } {
  const count = Number(value);
  return Number.isFinite(count) && count > 0 ? { consecutiveFailures: count } : {};
}

function parseClaim(reply: unknown): ProbeClaim {
  if (Array.isArray(reply)) {
    const [granted, untilMs, reason, failures] = reply as unknown[];
    if (Number(granted) === 1) return { granted: true, ...streakOf(untilMs) };
    const until = Number(untilMs);
    if (Number(granted) === 0 && Number.isFinite(until) && (reason === 'cooling-down' || reason === 'unsupported' || reason === 'probe-in-flight')) {
      return { granted: false, untilMs: until, reason, ...streakOf(failures) };
    }
  }
  throw new Error(`redisStore: unexpected reply to the claim script: ${JSON.stringify(reply)}`);
}

/**
 * Builds a {@link CoordinationStore} on Redis, for gateway fleets: a failing endpoint is
 * probed once per cooldown window across every process that shares the Redis.
 *
 * Semantics (exactly those of `memoryStore()`, atomic, one EVALSHA/EVAL per call):
 * - `claimProbe(key, atMs, leaseMs)` refuses while a published cooldown runs (its end, reason
 *   `cooling-down` or `unsupported`), refuses while another lease runs (its end, reason
 *   `probe-in-flight`), else takes the lease until `atMs + leaseMs` and grants; every answer
 *   carries the fleet's failure streak (`consecutiveFailures`) while it is remembered;
 * - `publishHealth(report)`: a cooldown only grows (max of the stored and the reported end) and
 *   its reason is the status of the report that set that end; the streak is the highest one
 *   reported, remembered `failureMemoryMs` past the window's end; `healthy` clears everything,
 *   and any report clears the lease;
 * - `releaseProbe(key, atMs, leaseUntilMs)` clears the lease if it is the one ending at `leaseUntilMs`.
 *
 * Every promise rejects when Redis fails or does not answer within `timeoutMs`; the endpoint
 * chart treats a failed claim as "wait a lease", so an outage denies probes rather than
 * unleashing them. Arguments that are not finite numbers reject with a `RangeError`.
 *
 * @example
 * import { Redis } from 'ioredis';
 * const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
 * redis.on('error', (error) => logger.debug({ err: error.message }, 'redis connection error'));
 * const store = redisStore({ client: redis, logger });
 * const manager = createSessionManager({ endpoints, store });
 */
export function redisStore(options: RedisStoreOptions): CoordinationStore {
  const client = options?.client;
  if (!client || typeof client.eval !== 'function') {
    throw new ConfigError('store.client', 'expected a Redis client with an ioredis-compatible eval(script, numKeys, ...keysAndArgs)');
  }
  const keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
  if (typeof keyPrefix !== 'string') throw new ConfigError('store.keyPrefix', 'expected a string');
  const failureMemoryMs = options.failureMemoryMs ?? DEFAULT_FAILURE_MEMORY_MS;
  if (!Number.isFinite(failureMemoryMs) || failureMemoryMs < 0) throw new ConfigError('store.failureMemoryMs', 'expected a finite number of ms ≥ 0');
  const margin = options.clockSkewMarginMs ?? DEFAULT_CLOCK_SKEW_MARGIN_MS;
  if (!Number.isFinite(margin) || margin < 0) throw new ConfigError('store.clockSkewMarginMs', 'expected a finite number of ms ≥ 0');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new ConfigError('store.timeoutMs', 'expected a finite number of ms ≥ 0 (0 disables it)');
  const firstProbeWaitMs = options.firstProbeWaitMs ?? DEFAULT_FIRST_PROBE_WAIT_MS;
  if (!Number.isFinite(firstProbeWaitMs) || firstProbeWaitMs < 0) throw new ConfigError('store.firstProbeWaitMs', 'expected a finite number of ms ≥ 0 (0 disables it)');
  const healthChannel = options.healthChannel ?? `${keyPrefix}${HEALTH_CHANNEL_SUFFIX}`;
  if (typeof healthChannel !== 'string' || healthChannel === '') throw new ConfigError('store.healthChannel', 'expected a non-empty string');
  const now = options.now ?? Date.now;
  const link = outageLog(options.logger, 'redisStore', now);

  const run = (which: typeof claimProbeScript, key: string, args: string[], what: string): Promise<unknown> =>
    bounded(runScript(client, which, [key], args), timeoutMs, `redisStore: ${what}`).then(
      (reply) => {
        link.succeeded();
        return reply;
      },
      (error: unknown) => {
        link.failed(error);
        throw error;
      },
    );

  const publish = async (report: HealthReport): Promise<void> => {
    const untilMs = report.status === 'healthy' || report.status === 'reset' ? 0 : (report.untilMs ?? 0);
    // The report says when it was made: the expiry is measured from it, no clock needed.
    const memoryUntilMs = failureMemoryUntilMs({ ...report, untilMs }, failureMemoryMs);
    const px = Math.ceil(memoryUntilMs - report.atMs + margin);
    const args = [report.status, String(untilMs), String(report.atMs), String(report.consecutiveFailures), String(memoryUntilMs), String(px), healthChannel, channel.instance, report.endpointKey];
    await run(publishHealthScript, keyPrefix + report.endpointKey, args, `publishHealth(${report.endpointKey})`);
  };

  const channel = createHealthChannel({
    channel: healthChannel,
    connect: () => subscriberFor(client, options.subscriber),
    // Back from an outage: write the windows still running again (a restarted Redis is empty,
    // and would grant a probe while the fleet still cools down), and tell the others.
    onResync: () => void republishRunningWindows(),
    // Only command outcomes decide the outage lines: a subscriber's reconnect attempts would flap them.
    onError: () => undefined,
  });

  /** Writes the windows still running again; retried while the command connection comes back. */
  const republishRunningWindows = async () => {
    for (let attempt = 0; attempt < RESYNC_ATTEMPTS; attempt += 1) {
      const reports = channel.runningWindows(now());
      const results = await Promise.allSettled(reports.map((report) => publish(report)));
      if (results.every((result) => result.status === 'fulfilled')) return;
      await new Promise((resolve) => setTimeout(resolve, RESYNC_RETRY_MS).unref());
    }
  };

  const claimOnce = async (endpointKey: string, atMs: number, leaseMs: number): Promise<ProbeClaim> => {
    const px = Math.max(1, Math.ceil(leaseMs + margin));
    return parseClaim(await run(claimProbeScript, keyPrefix + endpointKey, [String(atMs), String(atMs + leaseMs), String(px)], `claimProbe(${endpointKey})`));
  };

  return {
    async claimProbe(endpointKey, atMs, leaseMs): Promise<ProbeClaim> {
      finite('atMs', atMs);
      finite('leaseMs', leaseMs);
      let claim = await claimOnce(endpointKey, atMs, leaseMs);
      // Another process's probe is out and the fleet knows no failure (a fleet starting up):
      // not a refusal worth a cooldown. Wait for that probe's outcome, within the chart's own
      // claim deadline (leaseMs) less a margin, then answer what it says.
      const waitMs = Math.min(firstProbeWaitMs, leaseMs - FIRST_PROBE_WAIT_MARGIN_MS);
      const deadline = Date.now() + waitMs;
      while (!claim.granted && claim.reason === 'probe-in-flight' && claim.consecutiveFailures === undefined && Date.now() < deadline) {
        const pushed = await channel.nextPush(endpointKey, Math.min(FIRST_PROBE_POLL_MS, deadline - Date.now()));
        // The probe succeeded: everyone may upgrade, no lease needed.
        if (pushed?.status === 'healthy') return { granted: true };
        claim = await claimOnce(endpointKey, atMs, leaseMs);
      }
      return claim;
    },
    async publishHealth(report: HealthReport): Promise<void> {
      if (!STATUSES.includes(report.status)) {
        throw new RangeError(`redisStore: unknown health status ${JSON.stringify(report.status)}`);
      }
      finite('atMs', report.atMs);
      const untilMs = report.status === 'cooling-down' || report.status === 'unsupported' ? (report.untilMs ?? 0) : 0;
      finite('untilMs', untilMs);
      const failures = report.consecutiveFailures;
      if (!Number.isInteger(failures) || failures < 0) {
        throw new RangeError(`redisStore: consecutiveFailures must be an integer ≥ 0, got ${String(failures)}`);
      }
      // Remembered before the call: a report Redis missed is written again when it is back.
      channel.remember(report);
      await publish(report);
    },
    async releaseProbe(endpointKey, atMs, leaseUntilMs): Promise<void> {
      finite('atMs', atMs);
      finite('leaseUntilMs', leaseUntilMs);
      await run(releaseProbeScript, keyPrefix + endpointKey, [String(atMs), String(leaseUntilMs)], `releaseProbe(${endpointKey})`);
    },
    subscribe(listener) {
      return channel.subscribe(listener);
    },
    async close(): Promise<void> {
      await channel.close();
      await options.closeClient?.();
    },
  };
}
