/**
 * A {@link CredentialStore} on Redis, for gateway fleets whose hosts share one OAuth account:
 * the rotating refresh token is refreshed once for the whole fleet, under a Redis lock, and
 * every other instance picks the rotated credential up from Redis without refreshing.
 *
 * Keys (docs/fleet.md has the long form), all with the hash tag `{credentialId}` so they live in
 * one Cluster slot:
 * - `<keyPrefix>{<id>}`: hash `value` (the sealed credential JSON), `version` (+1 per write),
 *   `fence` (the fencing token of the lock under which it was written); no expiry;
 * - `<keyPrefix>{<id>}:lock`: `<fence>:<nonce>` while a refresh runs, PX `lockTtlMs`, extended
 *   by the live holder every `lockTtlMs / 3`, so a SIGKILLed holder's lock lapses within `lockTtlMs`;
 * - `<keyPrefix>{<id>}:fence`: the counter the fencing tokens come from;
 * - channel `<keyPrefix>{<id>}:changed`: `<version>:<instance>` after every write (no token).
 */

import { randomBytes } from 'node:crypto';
import { classifyRefreshFailure } from '../../machines/classify-refresh.js';
import { emitAuthEvent, type AuthEventListener } from '../auth/auth-events.js';
import { RefreshError, isRefreshError } from '../auth/credential-source.js';
import { parseCredentialsText, type CredentialStore, type DoRefresh, type StoredCredentials } from '../auth/credential-store.js';
import { ConfigError } from '../errors.js';
import { credentialCipher, type CredentialEncryptionKey } from './credential-cipher.js';
import { bounded, runScript, script, type RedisScriptClient } from './redis-scripts.js';
import { openSubscription, subscriberFor, type RedisDuplicableClient, type RedisSubscriberClient, type Subscription } from './redis-subscriber.js';

/** Options of {@link redisCredentialStore}. */
export interface RedisCredentialStoreOptions {
  /** The command connection (ioredis, or an adapter with `eval`). Never closed by the store. Required. */
  readonly client: RedisScriptClient & RedisDuplicableClient;
  /**
   * Names the credential (one OAuth account): every instance sharing the account's refresh token
   * gives the same id. Part of the Redis keys (hash tag), never a token. Required.
   */
  readonly credentialId: string;
  /** Prepended to every key and channel. Default `'resilient-stream:credentials:'`. Give each environment sharing a Redis its own. */
  readonly keyPrefix?: string;
  /**
   * Encryption keys for tokens at rest (AES-256-GCM). The first seals every write; every key
   * listed opens (list the old key second while rotating). Default none: stored in clear, which
   * only an isolated, ACL-protected Redis should accept (docs/fleet.md).
   */
  readonly encryptionKeys?: readonly CredentialEncryptionKey[];
  /** Life of the refresh lock if its holder dies, in ms; a live holder extends it every third of it. Default 30 000. */
  readonly lockTtlMs?: number;
  /** Longest `rotate` waits for another instance's lock before failing with `lock_timeout` (transient), in ms. Default 130 000 (above the 120 s refresh timeout). */
  readonly lockWaitMs?: number;
  /** A Redis call not answered after this many ms is a failure. Real time; `0` leaves it to the client. Default 2 000. */
  readonly timeoutMs?: number;
  /** The pub/sub connection for `watch`. Default `client.duplicate()` (ioredis), opened at the first `watch` and closed with the last. */
  readonly subscriber?: RedisSubscriberClient;
  /** A name for logs. Default `redis:<credentialId>`. */
  readonly name?: string;
  /** Receives lock, rotation and read events (no tokens). */
  readonly onEvent?: AuthEventListener;
}

/** The default {@link RedisCredentialStoreOptions.keyPrefix}. */
export const DEFAULT_CREDENTIAL_KEY_PREFIX = 'resilient-stream:credentials:';
const DEFAULT_LOCK_TTL_MS = 30_000;
const DEFAULT_LOCK_WAIT_MS = 130_000;
const DEFAULT_TIMEOUT_MS = 2_000;

/** KEYS[1] lock, KEYS[2] fence counter; ARGV[1] nonce, ARGV[2] PX. `{1, lockValue}` or `{0, pttl}`. */
export const ACQUIRE_LOCK_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('PTTL', KEYS[1])} end
local value = redis.call('INCR', KEYS[2]) .. ':' .. ARGV[1]
redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[2])
return {1, value}
`;

/** KEYS[1] lock; ARGV[1] the holder's lock value, ARGV[2] PX. Extends only the holder's own lock: 1, else 0. */
export const EXTEND_LOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** KEYS[1] lock; ARGV[1] the holder's lock value. Compare-and-delete: a lock another holder took since stays. */
export const RELEASE_LOCK_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** KEYS[1] credential hash. `{value, version}` (nil value when none). */
export const READ_CREDENTIAL_SCRIPT = `
return redis.call('HMGET', KEYS[1], 'value', 'version')
`;

/**
 * KEYS[1] credential hash, KEYS[2] lock; ARGV[1] the writer's lock value, ARGV[2] the version it
 * read, ARGV[3] sealed value, ARGV[4] channel, ARGV[5] writer's instance id.
 * Compare-and-write with the fencing token: writes when the writer still holds its lock, or when
 * nothing was written since its read (its lock lapsed, but it overwrites nothing newer: it keeps
 * the only live refresh token). Otherwise refuses: a holder whose lock expired and was outrun
 * never overwrites a newer credential. `{1, version}` or `{0, stored version}`.
 */
export const WRITE_FENCED_SCRIPT = `
local holds = redis.call('GET', KEYS[2]) == ARGV[1]
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if not holds and version ~= tonumber(ARGV[2]) then return {0, version} end
version = version + 1
local fence = string.match(ARGV[1], '^(%d+):')
redis.call('HSET', KEYS[1], 'value', ARGV[3], 'version', version, 'fence', fence or '0')
redis.call('PUBLISH', ARGV[4], version .. ':' .. ARGV[5])
return {1, version}
`;

const acquireLock = script(ACQUIRE_LOCK_SCRIPT);
const extendLock = script(EXTEND_LOCK_SCRIPT);
const releaseLock = script(RELEASE_LOCK_SCRIPT);
const readCredential = script(READ_CREDENTIAL_SCRIPT);
const writeFenced = script(WRITE_FENCED_SCRIPT);

interface Snapshot {
  readonly credentials: StoredCredentials | undefined;
  readonly version: number;
}

interface HeldLock {
  readonly value: string;
  /** False once the heartbeat found the lock gone. */
  held: boolean;
  stop(): void;
}

function positive(field: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(field, `expected a positive number of ms, got ${String(value)}`);
  return value;
}

/**
 * Credentials in Redis, shared by every gateway host holding one OAuth account. Use it as the
 * `store` of `oauthRefreshSource`; a custom source follows the same protocol by calling
 * `rotate(rejected, doRefresh)` (docs/fleet.md).
 *
 * - `rotate` takes the credential's lock (`SET NX PX` with a fencing token, in one script),
 *   re-reads inside it and skips the refresh when another instance already rotated; while it
 *   waits for the lock it re-reads too, and answers a rotated credential without the lock.
 * - A `refresh_token_reused` (any permanent refusal) re-reads the shared credential before it
 *   is passed on: an instance outside the lock may have rotated meanwhile.
 * - The write is a fenced compare-and-write that publishes the new version; `watch` listeners
 *   of every instance fire (pub/sub on a dedicated connection), and `oauthRefreshSource` reads
 *   the new token without refreshing.
 * - A holder SIGKILLed mid-refresh leaves a lock that lapses after `lockTtlMs`; its refresh
 *   request, if it never reached the token endpoint, left the token valid for the next holder.
 *
 * @example
 * const redis = new Redis(process.env.REDIS_URL!, { maxRetriesPerRequest: 1 });
 * redis.on('error', (error) => logger.warn({ err: error.message }, 'redis'));
 * const store = redisCredentialStore({ client: redis, credentialId: 'acct-1', encryptionKeys: [{ id: 'k1', key: process.env.CREDENTIALS_KEY! }] });
 * const source = oauthRefreshSource({ tokenUrl, clientId, store });
 */
export function redisCredentialStore(options: RedisCredentialStoreOptions): CredentialStore {
  const client = options?.client;
  if (!client || typeof client.eval !== 'function') {
    throw new ConfigError('store.client', 'expected a Redis client with an ioredis-compatible eval(script, numKeys, ...keysAndArgs)');
  }
  const id = options.credentialId;
  if (typeof id !== 'string' || id.length === 0 || /[{}]/.test(id)) throw new ConfigError('store.credentialId', 'expected a non-empty string without braces');
  const keyPrefix = options.keyPrefix ?? DEFAULT_CREDENTIAL_KEY_PREFIX;
  if (typeof keyPrefix !== 'string') throw new ConfigError('store.keyPrefix', 'expected a string');
  const lockTtlMs = positive('store.lockTtlMs', options.lockTtlMs ?? DEFAULT_LOCK_TTL_MS);
  const lockWaitMs = positive('store.lockWaitMs', options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0) throw new ConfigError('store.timeoutMs', 'expected a finite number of ms ≥ 0 (0 disables it)');
  const cipher = credentialCipher(options.encryptionKeys);
  const name = options.name ?? `redis:${id}`;
  const emit = (event: Parameters<AuthEventListener>[0]) => emitAuthEvent(options.onEvent, event);

  // The hash tag keeps every key of one credential in one Cluster slot (the scripts touch two).
  const base = `${keyPrefix}{${id}}`;
  const keys = { credential: base, lock: `${base}:lock`, fence: `${base}:fence`, channel: `${base}:changed` };
  const instance = randomBytes(8).toString('hex');
  const listeners = new Set<() => void>();
  const changeWaiters = new Set<() => void>();
  let subscription: Subscription | undefined;

  const call = (which: typeof readCredential, keyList: string[], args: string[], what: string) =>
    bounded(runScript(client, which, keyList, args), timeoutMs, `${name}: ${what}`);

  const unavailable = (error: unknown, what: string) =>
    new RefreshError(`${name}: Redis ${what} failed (${error instanceof Error ? error.message : 'unknown error'}); will retry`, { networkCode: 'store_unavailable' });

  /** The stored credential and its version. Rejects with a RefreshError: `store_unavailable` (transient) or `credentials_unreadable`. */
  const snapshot = async (): Promise<Snapshot> => {
    let reply: unknown;
    try {
      reply = await call(readCredential, [keys.credential], [], 'read');
    } catch (error) {
      throw unavailable(error, 'read');
    }
    const [value, version] = Array.isArray(reply) ? (reply as unknown[]) : [];
    if (typeof value !== 'string') return { credentials: undefined, version: Number(version ?? 0) || 0 };
    try {
      return { credentials: parseCredentialsText(cipher.open(value, keys.credential)), version: Number(version) || 0 };
    } catch (error) {
      throw new RefreshError(`credentials in ${name} are unreadable (${error instanceof Error ? error.message : 'unknown error'})`, { errorCode: 'credentials_unreadable' });
    }
  };

  /** Resolves after `ms` or at the next change message, whichever comes first. */
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        changeWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      changeWaiters.add(done);
    });

  const startHeartbeat = (value: string): HeldLock => {
    const held: HeldLock = { value, held: true, stop: () => clearInterval(timer) };
    const timer = setInterval(() => {
      call(extendLock, [keys.lock], [value, String(lockTtlMs)], 'lock heartbeat').then(
        (reply) => {
          if (Number(reply) === 1 || !held.held) return;
          held.held = false;
          emit({ type: 'lock-compromised', store: name });
        },
        () => undefined,
      );
    }, Math.max(1, Math.floor(lockTtlMs / 3)));
    timer.unref();
    return held;
  };

  /**
   * Takes the lock, or answers credentials already newer than `rejected` (another instance
   * rotated while this one waited). `rejected` undefined: a sign-in, which always waits.
   */
  const lockOrNewer = async (rejected: string | undefined): Promise<{ lock: HeldLock } | { newer: StoredCredentials }> => {
    const startedAt = Date.now();
    let attempt = 0;
    for (;;) {
      attempt += 1;
      let reply: unknown;
      try {
        reply = await call(acquireLock, [keys.lock, keys.fence], [randomBytes(8).toString('hex'), String(lockTtlMs)], 'lock');
      } catch (error) {
        throw unavailable(error, 'lock');
      }
      const [granted, detail] = Array.isArray(reply) ? (reply as unknown[]) : [];
      if (Number(granted) === 1 && typeof detail === 'string') {
        if (attempt > 1) emit({ type: 'lock-acquired', store: name, attempts: attempt, waitedMs: Date.now() - startedAt });
        return { lock: startHeartbeat(detail) };
      }
      const remainingMs = Math.max(0, Number(detail) || 0);
      emit({ type: 'lock-busy', store: name, attempt, lockAgeMs: Math.max(0, lockTtlMs - remainingMs), holder: {} });
      if (rejected !== undefined) {
        const seen = await snapshot().catch(() => undefined);
        if (seen?.credentials && seen.credentials.access_token !== rejected) return { newer: seen.credentials };
      }
      if (Date.now() - startedAt >= lockWaitMs) {
        throw new RefreshError(`the refresh lock of ${name} stayed busy for ${lockWaitMs} ms; will retry`, { networkCode: 'lock_timeout' });
      }
      // Woken early by the holder's publish; otherwise poll, never later than the lock's lapse.
      await pause(Math.min(Math.max(remainingMs, 10), 50 * 2 ** Math.min(attempt, 4)));
    }
  };

  const release = async (lock: HeldLock) => {
    lock.stop();
    await call(releaseLock, [keys.lock], [lock.value], 'unlock').catch(() => undefined);
  };

  /** The fenced write; answers the stored credentials instead when a newer one won. */
  const writeUnder = async (lock: HeldLock, readVersion: number, fresh: StoredCredentials): Promise<StoredCredentials> => {
    const sealed = cipher.seal(JSON.stringify(fresh), keys.credential);
    let reply: unknown;
    // The old refresh token is spent: the new one must reach Redis, so a failed write is retried
    // for up to a lock's life before the failure is passed on.
    const deadline = Date.now() + lockTtlMs;
    for (let attempt = 0; ; attempt += 1) {
      try {
        reply = await call(writeFenced, [keys.credential, keys.lock], [lock.value, String(readVersion), sealed, keys.channel, instance], 'write');
        break;
      } catch (error) {
        if (Date.now() >= deadline) {
          throw new RefreshError(`refreshed, but could not write ${name} (${error instanceof Error ? error.message : 'unknown error'}); other holders will need a sign-in`, {
            networkCode: 'store_write_failed',
          });
        }
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 100 * 2 ** attempt)));
      }
    }
    const [written] = Array.isArray(reply) ? (reply as unknown[]) : [];
    if (Number(written) === 1) return fresh;
    emit({ type: 'lock-compromised', store: name });
    const stored = await snapshot();
    return stored.credentials ?? fresh;
  };

  const rotate = async (rejected: string, doRefresh: DoRefresh): Promise<StoredCredentials> => {
    const outcome = await lockOrNewer(rejected);
    if ('newer' in outcome) {
      emit({ type: 'rotated-elsewhere', store: name });
      return outcome.newer;
    }
    const { lock } = outcome;
    try {
      const current = await snapshot();
      if (!current.credentials) throw new RefreshError(`no credentials in ${name}: sign in`, { errorCode: 'credentials_missing' });
      if (current.credentials.access_token !== rejected) {
        emit({ type: 'rotated-elsewhere', store: name });
        return current.credentials;
      }
      let fresh: StoredCredentials;
      try {
        fresh = await doRefresh(current.credentials);
      } catch (error) {
        if (isRefreshError(error) && classifyRefreshFailure(error) === 'permanent') {
          // Another instance may have rotated outside this lock (its lock lapsed; a sign-in):
          // one look at the shared credential before declaring it dead.
          const again = await snapshot().catch(() => undefined);
          const found = again?.credentials;
          const foundNewer = found !== undefined && (found.refresh_token !== current.credentials.refresh_token || found.access_token !== current.credentials.access_token);
          emit({ type: 'reread-after-refusal', store: name, foundNewer });
          if (found && foundNewer) return found;
        }
        throw error;
      }
      const stored = await writeUnder(lock, current.version, fresh);
      if (stored === fresh) emit({ type: 'refreshed', store: name });
      return stored;
    } finally {
      await release(lock);
    }
  };

  const write = async (credentials: StoredCredentials): Promise<void> => {
    const outcome = await lockOrNewer(undefined);
    if (!('lock' in outcome)) return;
    try {
      const current = await snapshot().catch((): Snapshot => ({ credentials: undefined, version: 0 }));
      await writeUnder(outcome.lock, current.version, credentials);
    } finally {
      await release(outcome.lock);
    }
  };

  const notify = () => {
    for (const wake of [...changeWaiters]) wake();
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // One listener's failure must not hide the change from the others.
      }
    }
  };

  return {
    name,
    read: async () => (await snapshot()).credentials,
    write,
    rotate,
    watch(listener) {
      listeners.add(listener);
      if (!subscription) {
        const connection = subscriberFor(client, options.subscriber);
        if (connection) {
          subscription = openSubscription({
            connection,
            channel: keys.channel,
            onMessage: notify,
            // Messages sent while the link was down are lost: let the listeners re-read.
            onResync: notify,
            onError: () => undefined,
          });
        }
      }
      return () => {
        if (!listeners.delete(listener) || listeners.size > 0 || !subscription) return;
        const closing = subscription;
        subscription = undefined;
        void closing.close();
      };
    },
  };
}
