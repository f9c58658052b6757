import { watchFile, unwatchFile, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { classifyRefreshFailure } from '../../machines/classify-refresh.js';
import { emitAuthEvent, type AuthEventListener } from './auth-events.js';
import { writeFileAtomic } from './atomic-write.js';
import { RefreshError, isRefreshError } from './credential-source.js';
import { parseCredentialsText, type CredentialStore, type DoRefresh, type StoredCredentials } from './credential-store.js';
import { acquireFileLock, LockTimeoutError, type FileLockEvent, type FileLockRetry } from './file-lock.js';
import { KeyedMutex } from './single-flight.js';

/** Options of {@link fileCredentialStore}. */
export interface FileCredentialStoreOptions {
  /**
   * A lock untouched for this long, in ms, was left by a dead process and is taken over.
   * Default 180 000 (3 min, as the peer gateway). Holders touch their lock every
   * `lockStaleMs / 6`, so a slow refresh (up to the 120 s request timeout) never looks stale.
   */
  readonly lockStaleMs?: number;
  /** How often a holder touches its lock, in ms. Default `lockStaleMs / 6`. */
  readonly lockHeartbeatMs?: number;
  /** Waiting for a busy lock: 100 ms growing ×2 to 2 s, giving up after `lockStaleMs + 60 000` ms (defaults). */
  readonly lockRetries?: FileLockRetry;
  /** How often `watch` polls the file, in ms. Default 2 000: a sign-in is noticed within 2 s at the cost of one stat. */
  readonly watchIntervalMs?: number;
  /** A name for logs. Default the file's path. */
  readonly name?: string;
  /** Receives lock, rotation and read events (no tokens). */
  readonly onEvent?: AuthEventListener;
}

// One queue per file for the whole process: two stores (two sources) on one file take turns
// here instead of contending on the lock file, and the second sees the first's rotation.
const processWide = new KeyedMutex<string>();

/**
 * Credentials in a JSON file `{ access_token, refresh_token, expires_at_ms }`, mode 0600,
 * shared safely by every process that refreshes them. `rotate` runs under an exclusive lock
 * file `<path>.lock`: read, skip the refresh if another holder already rotated, refresh,
 * replace the file atomically, unlock. See docs/auth.md.
 * @param path the credentials file; its directory must exist and be writable (for the lock and the temp file)
 * @param options lock, watch and log settings
 */
export function fileCredentialStore(path: string, options: FileCredentialStoreOptions = {}): CredentialStore {
  const absolute = resolve(path);
  const lockPath = `${absolute}.lock`;
  const name = options.name ?? absolute;
  const lockStaleMs = options.lockStaleMs ?? 180_000;
  const watchIntervalMs = options.watchIntervalMs ?? 2_000;
  const emit = (event: Parameters<AuthEventListener>[0]) => emitAuthEvent(options.onEvent, event);
  const listeners = new Set<() => void>();

  const read = async (): Promise<StoredCredentials | undefined> => {
    let text: string;
    try {
      text = await readFile(absolute, 'utf8');
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return undefined;
      throw error;
    }
    return parseCredentialsText(text);
  };

  const readForRotation = async (): Promise<StoredCredentials> => {
    let current: StoredCredentials | undefined;
    try {
      current = await read();
    } catch (error) {
      throw new RefreshError(`credentials in ${name} are unreadable (${reasonOf(error)})`, { errorCode: 'credentials_unreadable' });
    }
    if (!current) throw new RefreshError(`no credentials in ${name}: sign in`, { errorCode: 'credentials_missing' });
    return current;
  };

  const onLockEvent = (event: FileLockEvent) => {
    switch (event.type) {
      case 'busy':
        return emit({ type: 'lock-busy', store: name, attempt: event.attempt, lockAgeMs: event.lockAgeMs, holder: event.holder });
      case 'acquired':
        return emit({ type: 'lock-acquired', store: name, attempts: event.attempts, waitedMs: event.waitedMs });
      case 'taken-over':
        return emit({ type: 'lock-taken-over', store: name, lockAgeMs: event.lockAgeMs, holder: event.holder });
      case 'compromised':
        return emit({ type: 'lock-compromised', store: name });
    }
  };

  const rotateUnderLock = async (rejected: string, doRefresh: DoRefresh): Promise<StoredCredentials> => {
    const current = await readForRotation();
    if (current.access_token !== rejected) {
      // Another holder rotated since this one read the token: its result is ours too, and
      // calling the endpoint with the old refresh token would be exactly the reuse we avoid.
      emit({ type: 'rotated-elsewhere', store: name });
      return current;
    }
    let fresh: StoredCredentials;
    try {
      fresh = await doRefresh(current);
    } catch (error) {
      if (isRefreshError(error) && classifyRefreshFailure(error) === 'permanent') {
        // A holder outside this protocol (a CLI rewriting the file in place, a sign-in) may
        // have rotated meanwhile: one look before declaring the credentials dead.
        const again = await read().catch(() => undefined);
        const foundNewer = again !== undefined && (again.refresh_token !== current.refresh_token || again.access_token !== current.access_token);
        emit({ type: 'reread-after-refusal', store: name, foundNewer });
        if (again && foundNewer) return again;
      }
      throw error;
    }
    try {
      await writeFileAtomic(absolute, `${JSON.stringify(fresh, null, 2)}\n`, 0o600);
    } catch (error) {
      // The old refresh token is spent; the new one lives only in this process now.
      throw new RefreshError(`refreshed, but could not write ${name} (${reasonOf(error)}); other holders will need a sign-in`, {
        networkCode: 'store_write_failed',
      });
    }
    emit({ type: 'refreshed', store: name });
    return fresh;
  };

  /** Runs `work` holding both the in-process queue and the lock file. */
  const exclusively = <T>(work: () => Promise<T>): Promise<T> =>
    processWide.run(absolute, async () => {
      let lock;
      try {
        lock = await acquireFileLock(lockPath, {
          staleMs: lockStaleMs,
          ...(options.lockHeartbeatMs !== undefined ? { heartbeatMs: options.lockHeartbeatMs } : {}),
          ...(options.lockRetries !== undefined ? { retry: options.lockRetries } : {}),
          onEvent: onLockEvent,
        });
      } catch (error) {
        if (error instanceof LockTimeoutError) {
          throw new RefreshError(`the refresh lock of ${name} stayed busy; will retry`, { networkCode: 'lock_timeout' });
        }
        throw new RefreshError(`cannot lock ${name} (${reasonOf(error)})`, { networkCode: codeOf(error) ?? 'lock_failed' });
      }
      try {
        return await work();
      } finally {
        await lock.release();
      }
    });

  const rotate = (rejected: string, doRefresh: DoRefresh): Promise<StoredCredentials> => exclusively(() => rotateUnderLock(rejected, doRefresh));

  const onFileChange = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs === prev.mtimeMs && curr.ino === prev.ino && curr.size === prev.size) return;
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
    read,
    // A sign-in takes the lock too, so it cannot land between another holder's read and write.
    write: (credentials) => exclusively(() => writeFileAtomic(absolute, `${JSON.stringify(credentials, null, 2)}\n`, 0o600)),
    rotate,
    watch(listener) {
      listeners.add(listener);
      // Polling (stat) rather than fs.watch: it sees renames onto the path, works on network
      // file systems, and `persistent: false` keeps it from holding Node open.
      if (listeners.size === 1) watchFile(absolute, { interval: watchIntervalMs, persistent: false }, onFileChange);
      return () => {
        if (!listeners.delete(listener)) return;
        if (listeners.size === 0) unwatchFile(absolute, onFileChange);
      };
    },
  };
}

function codeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

// File-system errors name the path and the syscall, never file contents; parse errors from
// parseCredentialsText are written to be safe too.
function reasonOf(error: unknown): string {
  const code = codeOf(error);
  if (code) return code;
  return error instanceof Error ? error.message : 'unknown error';
}
