/**
 * A {@link CoordinationStore} on Redis: the semantics of `memoryStore()`, made atomic across
 * gateway processes with one Lua script per operation. The library never imports a Redis
 * client: pass any client with an ioredis-compatible `eval` (see {@link RedisScriptClient}).
 *
 * Protocol (docs/stores.md has the long form): one hash per endpoint at
 * `keyPrefix + endpointKey`, with the fields
 * - `lease`: end of the probe lease, in the caller's ms since the epoch;
 * - `cooldown`: end of the published cooldown or latch, same clock;
 * - `status`: the last published status (`cooling-down` or `unsupported`).
 * Every write leaves a PX expiry on the hash, so a fleet that dies leaves nothing behind.
 * Times are compared as the callers send them; the fleet's hosts share a clock (NTP).
 */

import { createHash } from 'node:crypto';
import type { HealthReport, ProbeClaim } from '../../machines/endpoint.js';
import type { Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { CoordinationStore } from './store.js';

/**
 * The part of a Redis client the store uses. `ioredis` (`new Redis(url)`) fits as is; a
 * node-redis client fits through a three-line adapter (docs/stores.md):
 * `{ eval: (script, numKeys, ...rest) => client.eval(script, { keys: rest.slice(0, numKeys), arguments: rest.slice(numKeys) }) }`.
 */
export interface RedisScriptClient {
  /** `EVAL script numKeys key… arg…`: resolves with the script's reply, rejects on any error. */
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  /**
   * `EVALSHA sha1 numKeys key… arg…`. Optional: when present the store sends the script's
   * SHA1 and falls back to `eval` once Redis answers `NOSCRIPT` (after a restart or a
   * `SCRIPT FLUSH`); when absent every call sends the whole script with `eval`.
   */
  evalsha?(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/** Options of {@link redisStore}. */
export interface RedisStoreOptions {
  /** The connection to use (ioredis, or an adapter). The store never closes it unless `closeClient` is given. Required, no default. */
  readonly client: RedisScriptClient;
  /**
   * Prepended to the endpoint key to make the Redis key. Default `'resilient-stream:endpoint:'`.
   * Give each fleet (or environment) sharing one Redis its own prefix.
   */
  readonly keyPrefix?: string;
  /**
   * Where the store reads "now" to turn a cooldown's end into a key expiry (health reports
   * carry the end of a window, not the time they were made). Pass the manager's clock.
   * Default: the system clock (`Date.now()`).
   */
  readonly clock?: Pick<Clock, 'now'>;
  /**
   * Added to every key expiry, in ms, so a process whose clock lags the others by up to
   * this much still finds a lease or cooldown it has not seen end yet. Expiry is only
   * garbage collection: the decisions compare the times stored in the hash. Default 1 000.
   */
  readonly clockSkewMarginMs?: number;
  /**
   * A call that Redis has not answered after this many ms is rejected (the chart then
   * waits a lease; see docs/stores.md). Real time, not the `clock`. `0` disables the bound
   * and leaves it to the client's own timeouts. Default 1 000.
   */
  readonly timeoutMs?: number;
  /** Called by the store's `close()`, e.g. `() => redis.quit()`. Default: `close()` does nothing; the owner closes the client. */
  readonly closeClient?: () => Promise<unknown>;
}

/** The default {@link RedisStoreOptions.keyPrefix}. */
export const DEFAULT_REDIS_KEY_PREFIX = 'resilient-stream:endpoint:';
const DEFAULT_CLOCK_SKEW_MARGIN_MS = 1_000;
const DEFAULT_TIMEOUT_MS = 1_000;

/**
 * KEYS[1] endpoint hash; ARGV[1] atMs; ARGV[2] lease end (atMs + leaseMs); ARGV[3] lease PX.
 * Replies `{1}` (granted) or `{0, untilMs, reason}`. Times travel as strings both ways so
 * epoch-sized and fractional values round-trip exactly (Lua prints numbers with 14 digits).
 */
export const CLAIM_PROBE_SCRIPT = `
local at = tonumber(ARGV[1])
local entry = redis.call('HMGET', KEYS[1], 'cooldown', 'status', 'lease')
local cooldown, status, lease = entry[1], entry[2], entry[3]
if cooldown and tonumber(cooldown) > at then
  if status == 'unsupported' then return {0, cooldown, 'unsupported'} end
  return {0, cooldown, 'cooling-down'}
end
if lease and tonumber(lease) > at then
  return {0, lease, 'probe-in-flight'}
end
redis.call('HSET', KEYS[1], 'lease', ARGV[2])
local px = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < px then redis.call('PEXPIRE', KEYS[1], px) end
return {1}
`;

/**
 * KEYS[1] endpoint hash; ARGV[1] status; ARGV[2] end of the window; ARGV[3] its remaining
 * time in ms plus the skew margin (may be ≤ 0 when the window already ended).
 * `healthy` deletes the hash; otherwise the cooldown only grows, the status is replaced and
 * the lease is cleared. The expiry only ever grows too, and a hash is never left without one.
 */
export const PUBLISH_HEALTH_SCRIPT = `
if ARGV[1] == 'healthy' then
  redis.call('DEL', KEYS[1])
  return 1
end
local cooldown = ARGV[2]
local current = redis.call('HGET', KEYS[1], 'cooldown')
if current and tonumber(current) > tonumber(cooldown) then cooldown = current end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'cooldown', cooldown)
redis.call('HDEL', KEYS[1], 'lease')
local px = tonumber(ARGV[3])
local pttl = redis.call('PTTL', KEYS[1])
if pttl < 0 then
  redis.call('PEXPIRE', KEYS[1], math.max(px, 1))
elseif px > pttl then
  redis.call('PEXPIRE', KEYS[1], px)
end
return 1
`;

interface Script {
  readonly source: string;
  readonly sha1: string;
}

function script(source: string): Script {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

const claimProbeScript = script(CLAIM_PROBE_SCRIPT);
const publishHealthScript = script(PUBLISH_HEALTH_SCRIPT);

function isNoScript(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.includes('NOSCRIPT');
}

function finite(name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new RangeError(`redisStore: ${name} must be a finite number of ms, got ${String(value)}`);
  }
}

function bounded<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  if (timeoutMs <= 0) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redisStore: ${what} got no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

function parseClaim(reply: unknown): ProbeClaim {
  if (Array.isArray(reply)) {
    const [granted, untilMs, reason] = reply as unknown[];
    if (Number(granted) === 1) return { granted: true };
    const until = Number(untilMs);
    if (Number(granted) === 0 && Number.isFinite(until) && (reason === 'cooling-down' || reason === 'unsupported' || reason === 'probe-in-flight')) {
      return { granted: false, untilMs: until, reason };
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
 *   `probe-in-flight`), else takes the lease until `atMs + leaseMs` and grants;
 * - `publishHealth(report)`: a cooldown only grows (max of the stored and the reported end),
 *   `healthy` clears it, and any report clears the lease.
 *
 * Every promise rejects when Redis fails or does not answer within `timeoutMs`; the endpoint
 * chart treats a failed claim as "wait a lease", so an outage denies probes rather than
 * unleashing them. Arguments that are not finite numbers reject with a `RangeError`.
 *
 * @example
 * import { Redis } from 'ioredis';
 * const store = redisStore({ client: new Redis(process.env.REDIS_URL!) });
 * const manager = createSessionManager({ endpoints, store });
 */
export function redisStore(options: RedisStoreOptions): CoordinationStore {
  const client = options?.client;
  if (!client || typeof client.eval !== 'function') {
    throw new ConfigError('store.client', 'expected a Redis client with an ioredis-compatible eval(script, numKeys, ...keysAndArgs)');
  }
  const keyPrefix = options.keyPrefix ?? DEFAULT_REDIS_KEY_PREFIX;
  if (typeof keyPrefix !== 'string') throw new ConfigError('store.keyPrefix', 'expected a string');
  const clock = options.clock ?? { now: () => Date.now() };
  const margin = options.clockSkewMarginMs ?? DEFAULT_CLOCK_SKEW_MARGIN_MS;
  if (!Number.isFinite(margin) || margin < 0) throw new ConfigError('store.clockSkewMarginMs', 'expected a finite number of ms ≥ 0');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new ConfigError('store.timeoutMs', 'expected a finite number of ms ≥ 0 (0 disables it)');

  const run = async (which: Script, key: string, args: string[]): Promise<unknown> => {
    if (typeof client.evalsha === 'function') {
      try {
        return await client.evalsha(which.sha1, 1, key, ...args);
      } catch (error) {
        if (!isNoScript(error)) throw error;
      }
    }
    return client.eval(which.source, 1, key, ...args);
  };

  return {
    async claimProbe(endpointKey, atMs, leaseMs): Promise<ProbeClaim> {
      finite('atMs', atMs);
      finite('leaseMs', leaseMs);
      const px = Math.max(1, Math.ceil(leaseMs + margin));
      const reply = await bounded(run(claimProbeScript, keyPrefix + endpointKey, [String(atMs), String(atMs + leaseMs), String(px)]), timeoutMs, `claimProbe(${endpointKey})`);
      return parseClaim(reply);
    },
    async publishHealth(report: HealthReport): Promise<void> {
      if (report.status !== 'healthy' && report.status !== 'cooling-down' && report.status !== 'unsupported') {
        throw new RangeError(`redisStore: unknown health status ${JSON.stringify(report.status)}`);
      }
      const untilMs = report.status === 'healthy' ? 0 : (report.untilMs ?? 0);
      finite('untilMs', untilMs);
      const px = Math.ceil(untilMs - clock.now() + margin);
      await bounded(run(publishHealthScript, keyPrefix + report.endpointKey, [report.status, String(untilMs), String(px)]), timeoutMs, `publishHealth(${report.endpointKey})`);
    },
    async close(): Promise<void> {
      await options.closeClient?.();
    },
  };
}
