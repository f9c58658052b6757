import { constants, watchFile, unwatchFile, type Stats } from 'node:fs';
import { access, lstat, readFile, readlink, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { classifyRefreshFailure } from '../../machines/classify-refresh.js';
import { emitAuthEvent, formatAuthEvent, type AuthEventListener } from './auth-events.js';
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
  /**
   * Waiting for a busy lock: 100 ms growing ×2 to 2 s (defaults). `giveUpAfterMs` defaults to
   * `refreshWaitMs`.
   */
  readonly lockRetries?: FileLockRetry;
  /**
   * Longest a refresh waits for another holder's lock, in ms. Default 30 000. Then the file is
   * read once more: if the other holder wrote new credentials meanwhile they are used; if not,
   * the refresh fails with `networkCode: 'lock_timeout'` and a sentence naming the holder (the
   * turn fails with class `auth`; the rejected token is not sent again). A holder of this host
   * that died (SIGKILL) is not waited for at all: its lock is taken over at once.
   */
  readonly refreshWaitMs?: number;
  /** How often `watch` polls the file, in ms. Default 2 000: a sign-in is noticed within 2 s at the cost of one stat. */
  readonly watchIntervalMs?: number;
  /** A name for logs. Default the file's path. */
  readonly name?: string;
  /**
   * Receives lock, rotation and read events (no tokens). Without it, the one warning that needs
   * a person (a credentials file readable by group or others) goes to `process.emitWarning`.
   */
  readonly onEvent?: AuthEventListener;
}

/** Default of {@link FileCredentialStoreOptions.refreshWaitMs}, in ms. */
export const DEFAULT_FILE_REFRESH_WAIT_MS = 30_000;

// Real paths already warned about (group/other-readable), once per process.
const warnedModes = new Set<string>();

// One queue per file for the whole process: two stores (two sources) on one file take turns
// here instead of contending on the lock file, and the second sees the first's rotation.
const processWide = new KeyedMutex<string>();

/**
 * Credentials in a JSON file `{ access_token, refresh_token, expires_at_ms }`, mode 0600,
 * shared safely by every process that refreshes them. `rotate` runs under an exclusive lock
 * file `<real path>.lock`: read, skip the refresh if another holder already rotated, refresh,
 * replace the file atomically, unlock. See docs/auth.md and docs/security.md.
 *
 * The file's identity is the file, not the name: the path is resolved to its real path (through
 * every symlink) before each lock and write, so every name of one file shares one lock, and the
 * atomic write replaces the target in its own directory, leaving a symlink a symlink.
 * @param path the credentials file; its directory must exist and be writable (for the lock and the temp file)
 * @param options lock, watch and log settings
 */
export function fileCredentialStore(path: string, options: FileCredentialStoreOptions = {}): CredentialStore {
  const absolute = resolve(path);
  const name = options.name ?? absolute;
  const refreshWaitMs = options.refreshWaitMs ?? DEFAULT_FILE_REFRESH_WAIT_MS;
  if (!(Number.isFinite(refreshWaitMs) && refreshWaitMs > 0 && refreshWaitMs <= 2 ** 31 - 1)) {
    throw new RangeError(`fileCredentialStore: refreshWaitMs must be a number of ms in (0, 2^31-1], got ${String(refreshWaitMs)}`);
  }
  const lockStaleMs = options.lockStaleMs ?? 180_000;
  const watchIntervalMs = options.watchIntervalMs ?? 2_000;
  const emit = (event: Parameters<AuthEventListener>[0]) => emitAuthEvent(options.onEvent, event);
  const listeners = new Set<() => void>();

  const warnIfReadableByOthers = async (real: string) => {
    if (warnedModes.has(real)) return;
    let mode: number;
    try {
      mode = (await stat(real)).mode & 0o777;
    } catch {
      return;
    }
    if ((mode & 0o077) === 0) return;
    warnedModes.add(real);
    const event = { type: 'store-permissions', store: name, mode } as const;
    if (options.onEvent) emit(event);
    else process.emitWarning(formatAuthEvent(event), { code: 'RESILIENT_STREAM_CREDENTIALS_MODE' });
  };

  const read = async (): Promise<StoredCredentials | undefined> => {
    const real = await resolveTarget(absolute);
    let text: string;
    try {
      text = await readFile(real, 'utf8');
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return undefined;
      throw error;
    }
    await warnIfReadableByOthers(real);
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
        return emit({ type: 'lock-taken-over', store: name, lockAgeMs: event.lockAgeMs, holder: event.holder, ...(event.reason ? { reason: event.reason } : {}) });
      case 'compromised':
        return emit({ type: 'lock-compromised', store: name });
    }
  };

  const rotateUnderLock = async (real: string, rejected: string, doRefresh: DoRefresh): Promise<StoredCredentials> => {
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
      await writeFileAtomic(real, `${JSON.stringify(fresh, null, 2)}\n`, 0o600);
    } catch (error) {
      // The old refresh token is spent; the new one lives only in this process now.
      throw new RefreshError(`refreshed, but could not write ${name} (${reasonOf(error)}); other holders will need a sign-in`, {
        networkCode: 'store_write_failed',
      });
    }
    emit({ type: 'refreshed', store: name });
    return fresh;
  };

  /**
   * Runs `work` with the file's real path, holding both the in-process queue and the lock file
   * of that real path (so every name of the file shares them). `onLockTimeout` decides what a
   * wait past `refreshWaitMs` means.
   */
  const exclusively = async <T>(work: (real: string) => Promise<T>, onLockTimeout: (real: string, waitedMs: number, holder: string) => Promise<T>): Promise<T> => {
    let real: string;
    try {
      real = await resolveTarget(absolute);
      await checkDirectory(dirname(real));
    } catch (error) {
      throw new RefreshError(`cannot use ${name} safely: ${reasonOf(error)}`, { errorCode: 'credentials_unwritable', cause: error });
    }
    return processWide.run(real, async () => {
      let lock;
      let lastHolder = 'another holder';
      try {
        lock = await acquireFileLock(`${real}.lock`, {
          staleMs: lockStaleMs,
          ...(options.lockHeartbeatMs !== undefined ? { heartbeatMs: options.lockHeartbeatMs } : {}),
          retry: { giveUpAfterMs: refreshWaitMs, ...options.lockRetries },
          onEvent: (event) => {
            if (event.type === 'busy' && event.holder.pid !== undefined) lastHolder = `pid ${event.holder.pid}${event.holder.host ? ` on ${event.holder.host}` : ''}`;
            onLockEvent(event);
          },
        });
      } catch (error) {
        if (error instanceof LockTimeoutError) return onLockTimeout(real, refreshWaitMs, lastHolder);
        throw new RefreshError(`cannot lock ${name} (${reasonOf(error)})`, { networkCode: codeOf(error) ?? 'lock_failed' });
      }
      try {
        return await work(real);
      } finally {
        await lock.release();
      }
    });
  };

  const rotate = (rejected: string, doRefresh: DoRefresh): Promise<StoredCredentials> =>
    exclusively(
      (real) => rotateUnderLock(real, rejected, doRefresh),
      async (_real, waitedMs, holder) => {
        // The other holder may have written its result just before our wait ended: use it.
        const again = await read().catch(() => undefined);
        if (again && again.access_token !== rejected) {
          emit({ type: 'rotated-elsewhere', store: name });
          return again;
        }
        throw new RefreshError(
          `${holder} held the refresh lock of ${name} for longer than refreshWaitMs (${waitedMs} ms) without writing new credentials; the turn fails rather than send the rejected token, and the next one tries again`,
          { networkCode: 'lock_timeout' },
        );
      },
    );

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
    write: (credentials) =>
      exclusively(
        (real) => writeFileAtomic(real, `${JSON.stringify(credentials, null, 2)}\n`, 0o600),
        async (_real, waitedMs, holder) => {
          throw new RefreshError(`${holder} held the lock of ${name} for longer than ${waitedMs} ms; the credentials were not written`, { networkCode: 'lock_timeout' });
        },
      ),
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

/**
 * The file a path names, through every symlink, even when the final target does not exist yet
 * (a symlink to a credentials file that a sign-in will create).
 * @throws Error on a symlink loop
 */
export async function resolveTarget(path: string): Promise<string> {
  let current = path;
  for (let hops = 0; hops < 40; hops++) {
    try {
      return await realpath(current);
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') throw error;
    }
    let link: string;
    try {
      if (!(await lstat(current)).isSymbolicLink()) break;
      link = await readlink(current);
    } catch (error) {
      if (codeOf(error) === 'ENOENT') break;
      throw error;
    }
    current = resolve(dirname(current), link);
  }
  // The target does not exist: its directory may still be reached through links.
  try {
    return join(await realpath(dirname(current)), basename(current));
  } catch {
    return current;
  }
}

/**
 * Refuses a directory the atomic write cannot use safely: missing, not ours to write, or
 * writable by others without the sticky bit (anyone could swap the credentials file there).
 */
async function checkDirectory(dir: string): Promise<void> {
  let st: Stats;
  try {
    st = await stat(dir);
  } catch (error) {
    throw new Error(`its directory ${dir} does not exist (${codeOf(error) ?? 'unknown error'})`);
  }
  if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
  try {
    await access(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new Error(`its directory ${dir} is not writable by this process (the lock and the atomic write need it)`);
  }
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o022) !== 0 && !sticky) {
    throw new Error(`its directory ${dir} is writable by other users (mode ${(st.mode & 0o7777).toString(8)}) without the sticky bit; another user could replace the credentials file`);
  }
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
