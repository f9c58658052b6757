import { randomBytes } from 'node:crypto';
import { statSync, unlinkSync, type BigIntStats } from 'node:fs';
import { link, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { LockHolder } from './auth-events.js';

/**
 * A cross-process lock made of one file created with O_EXCL (`open(path, 'wx')`).
 *
 * - The holder records its pid and host name in the file. A lock whose holder is on this host
 *   and whose pid is no longer running (a SIGKILL, a crash) is abandoned at once: nobody waits
 *   out `staleMs` for a process that is gone.
 * - For holders on other hosts (a shared file system) the pid says nothing, so the holder
 *   touches the file's mtime every `heartbeatMs`: such a lock is stale only when its holder
 *   stopped running, not when a refresh is merely slow.
 * - A stale lock (mtime older than `staleMs`) is taken over under a second O_EXCL file, the
 *   takeover guard, and only after checking under that guard that it is still the same
 *   file (inode) and still stale. Without the guard, two waiters that both judged one lock
 *   stale could each delete the other's fresh lock (the check-then-delete race
 *   proper-lockfile has).
 * - Release deletes the file only if it is still ours (same inode).
 * See docs/auth.md for the whole protocol.
 */

/** How long and how often to wait for a busy lock. */
export interface FileLockRetry {
  /** First wait after finding the lock busy, in ms. Default 100. */
  readonly initialMs?: number;
  /** Longest wait between two attempts, in ms. Default 2 000. */
  readonly maxMs?: number;
  /** Growth of the wait per attempt. Default 2. */
  readonly factor?: number;
  /**
   * Stop waiting after this long, in ms. Default `staleMs + 60 000`: longer than a crashed
   * holder's lock takes to go stale, so a waiter that arrives just after a crash still gets
   * the lock instead of failing.
   */
  readonly giveUpAfterMs?: number;
}

/** Options of {@link acquireFileLock}. */
export interface FileLockOptions {
  /** A lock whose mtime is older than this, in ms, is abandoned and may be taken over. */
  readonly staleMs: number;
  /** How often a holder refreshes its lock's mtime, in ms. Default `staleMs / 6` (30 s for a 180 s stale time). */
  readonly heartbeatMs?: number;
  /** Waiting for a busy lock. */
  readonly retry?: FileLockRetry;
  /** Receives what happened; must not throw. */
  readonly onEvent?: (event: FileLockEvent) => void;
}

/** What happened while taking or holding a lock. */
export type FileLockEvent =
  | { readonly type: 'busy'; readonly attempt: number; readonly lockAgeMs: number; readonly holder: LockHolder }
  | { readonly type: 'acquired'; readonly attempts: number; readonly waitedMs: number }
  | { readonly type: 'taken-over'; readonly lockAgeMs: number; readonly holder: LockHolder; readonly reason?: 'stale' | 'holder-dead' }
  | { readonly type: 'compromised' };

/** A lock this process holds. */
export interface HeldFileLock {
  /** True once the heartbeat found the lock file replaced by someone else's. */
  readonly compromised: boolean;
  /** Stops the heartbeat and deletes the lock file if it is still ours. Idempotent. */
  release(): Promise<void>;
}

/** Thrown when a lock stayed busy for `giveUpAfterMs`. */
export class LockTimeoutError extends Error {
  /** Stable code for callers. */
  readonly code = 'ELOCKTIMEOUT';
  /** @param lockPath the lock that stayed busy @param waitedMs how long we waited, in ms */
  constructor(lockPath: string, waitedMs: number) {
    super(`lock ${lockPath} stayed busy for ${waitedMs} ms`);
    this.name = 'LockTimeoutError';
  }
}

/**
 * Takes the lock at `lockPath`, waiting (with growing, jittered delays) while another live
 * holder has it, and taking it over once it is stale.
 * @throws LockTimeoutError after `retry.giveUpAfterMs`
 * @throws the file-system error when the directory is missing or not writable
 */
export async function acquireFileLock(lockPath: string, options: FileLockOptions): Promise<HeldFileLock> {
  const staleMs = options.staleMs;
  const initialMs = options.retry?.initialMs ?? 100;
  const maxMs = options.retry?.maxMs ?? 2_000;
  const factor = options.retry?.factor ?? 2;
  const giveUpAfterMs = options.retry?.giveUpAfterMs ?? staleMs + 60_000;
  const nonce = randomBytes(8).toString('hex');
  const startedAt = Date.now();
  const emit = (event: FileLockEvent) => {
    try {
      options.onEvent?.(event);
    } catch {
      // A listener must not break locking.
    }
  };

  for (let attempt = 1; ; attempt++) {
    const created = await tryCreate(lockPath, nonce);
    if (created) {
      emit({ type: 'acquired', attempts: attempt, waitedMs: Date.now() - startedAt });
      return hold(lockPath, created, options.heartbeatMs ?? Math.max(10, Math.floor(staleMs / 6)), emit);
    }
    const seen = await statOrUndefined(lockPath);
    if (!seen) continue; // released between our create and our stat: try again at once
    const lockAgeMs = Math.max(0, Date.now() - Number(seen.mtimeMs));
    const holder = await readHolder(lockPath);
    const holderDead = holderIsDeadHere(holder);
    if (lockAgeMs > staleMs || holderDead) {
      const takeover = await takeOverStale(lockPath, seen, staleMs, nonce);
      if (takeover === 'gone') continue;
      if (takeover) {
        emit({ type: 'taken-over', lockAgeMs, holder: takeover.holder, reason: holderIsDeadHere(takeover.holder) ? 'holder-dead' : 'stale' });
        continue;
      }
    }
    emit({ type: 'busy', attempt, lockAgeMs, holder });
    const waited = Date.now() - startedAt;
    if (waited >= giveUpAfterMs) throw new LockTimeoutError(lockPath, waited);
    const nominal = Math.min(maxMs, initialMs * Math.pow(factor, Math.min(attempt - 1, 30)));
    // Jitter only shortens (by up to a quarter), so waiters that collided do not collide again.
    const delay = Math.max(1, Math.min(giveUpAfterMs - waited, Math.ceil(nominal * (1 - 0.25 * Math.random()))));
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

interface Created {
  readonly handle: FileHandle;
  readonly ino: bigint;
  readonly dev: bigint;
}

async function tryCreate(lockPath: string, nonce: string): Promise<Created | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(lockPath, 'wx', 0o600);
  } catch (error) {
    if (codeOf(error) === 'EEXIST') return undefined;
    throw error;
  }
  try {
    // Who holds it, for the operator's log line when someone waits; not needed for safety.
    await handle.writeFile(JSON.stringify({ pid: process.pid, host: hostname(), nonce, acquiredAt: new Date().toISOString() }));
  } catch {
    // An empty lock file is still a lock.
  }
  const st = await handle.stat({ bigint: true });
  return { handle, ino: st.ino, dev: st.dev };
}

/**
 * Removes a stale lock under the takeover guard. Answers the old holder once removed,
 * `gone` when it disappeared by itself, or undefined when it is not ours to remove.
 */
async function takeOverStale(
  lockPath: string,
  seen: BigIntStats,
  staleMs: number,
  nonce: string,
): Promise<{ holder: LockHolder } | 'gone' | undefined> {
  const guardPath = `${lockPath}.takeover`;
  let guard: FileHandle;
  try {
    guard = await open(guardPath, 'wx', 0o600);
  } catch (error) {
    if (codeOf(error) !== 'EEXIST') throw error;
    // Someone is taking over right now (a few ms), or died doing so: clear a guard that old.
    const guardStat = await statOrUndefined(guardPath);
    if (guardStat && Date.now() - Number(guardStat.mtimeMs) > staleMs) await unlink(guardPath).catch(() => undefined);
    return undefined;
  }
  try {
    const current = await statOrUndefined(lockPath);
    if (!current) return 'gone';
    // Re-judge under the guard: a different file means a new holder; a heartbeat since we looked
    // means a live one, unless the file names a process of this host that no longer runs.
    if (current.ino !== seen.ino || current.dev !== seen.dev) return undefined;
    const holder = await readHolder(lockPath);
    if (Date.now() - Number(current.mtimeMs) <= staleMs && !holderIsDeadHere(holder)) return undefined;
    const tomb = `${lockPath}.stale-${nonce}`;
    try {
      await rename(lockPath, tomb);
    } catch (error) {
      if (codeOf(error) === 'ENOENT') return 'gone';
      throw error;
    }
    const moved = await statOrUndefined(tomb);
    if (moved && (moved.ino !== current.ino || moved.dev !== current.dev)) {
      // The stale holder released and someone created a fresh lock in the instant between our
      // check and the rename: put it back. If yet another lock appeared meanwhile, the
      // displaced holder's heartbeat reports it compromised.
      await link(tomb, lockPath).catch(() => undefined);
      await unlink(tomb).catch(() => undefined);
      return undefined;
    }
    await unlink(tomb).catch(() => undefined);
    return { holder };
  } finally {
    await guard.close().catch(() => undefined);
    await unlink(guardPath).catch(() => undefined);
  }
}

function hold(lockPath: string, created: Created, heartbeatMs: number, emit: (event: FileLockEvent) => void): HeldFileLock {
  let compromised = false;
  let released = false;
  let beating = false;
  const isOurs = (st: BigIntStats | undefined) => st !== undefined && st.ino === created.ino && st.dev === created.dev;
  const timer = setInterval(() => {
    if (beating || released) return;
    beating = true;
    void (async () => {
      try {
        const now = new Date();
        await created.handle.utimes(now, now);
        if (!compromised && !released && !isOurs(await statOrUndefined(lockPath))) {
          compromised = true;
          emit({ type: 'compromised' });
        }
      } catch {
        // A failed touch is retried at the next beat; staleMs is several beats long.
      } finally {
        beating = false;
      }
    })();
  }, heartbeatMs);
  // A heartbeat must never keep a process alive on its own.
  timer.unref();
  heldLocks.set(lockPath, created);
  ensureExitCleanup();
  return {
    get compromised() {
      return compromised;
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(timer);
      heldLocks.delete(lockPath);
      try {
        if (isOurs(await statOrUndefined(lockPath))) await unlink(lockPath).catch(() => undefined);
      } finally {
        await created.handle.close().catch(() => undefined);
      }
    },
  };
}

// Locks held right now, so a process that exits normally mid-refresh does not leave others
// waiting `staleMs` for its lock. A SIGKILL or a crash still does: that is what staleness is for.
const heldLocks = new Map<string, Created>();
let exitCleanupInstalled = false;
function ensureExitCleanup(): void {
  if (exitCleanupInstalled) return;
  exitCleanupInstalled = true;
  process.once('exit', () => {
    for (const [path, created] of heldLocks) {
      try {
        const st = statSync(path, { bigint: true });
        if (st.ino === created.ino && st.dev === created.dev) unlinkSync(path);
      } catch {
        // Nothing more can be done while exiting.
      }
    }
  });
}

/**
 * True only when the holder is certainly gone: it names this host and a pid that does not run
 * (`kill(pid, 0)` answers ESRCH). A pid reused by another process looks alive, which only means
 * waiting for the heartbeat rule: the safe side. Our own pid is alive by definition (a lock this
 * process holds is excluded in-process first).
 */
export function holderIsDeadHere(holder: LockHolder): boolean {
  if (holder.pid === undefined || holder.host === undefined || holder.host !== hostname()) return false;
  if (!Number.isInteger(holder.pid) || holder.pid <= 0 || holder.pid === process.pid) return false;
  try {
    process.kill(holder.pid, 0);
    return false;
  } catch (error) {
    // EPERM: it runs, as another user.
    return codeOf(error) === 'ESRCH';
  }
}

async function readHolder(lockPath: string): Promise<LockHolder> {
  try {
    const text = await readFile(lockPath, 'utf8');
    const parsed = JSON.parse(text) as { pid?: unknown; host?: unknown };
    const holder: { pid?: number; host?: string } = {};
    if (typeof parsed.pid === 'number') holder.pid = parsed.pid;
    if (typeof parsed.host === 'string') holder.host = parsed.host;
    return holder;
  } catch {
    return {};
  }
}

async function statOrUndefined(path: string): Promise<BigIntStats | undefined> {
  try {
    return await stat(path, { bigint: true });
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return undefined;
    throw error;
  }
}

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null ? ((error as { code?: unknown }).code as string | undefined) : undefined;
}
