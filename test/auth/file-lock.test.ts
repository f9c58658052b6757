import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireFileLock, holderIsDeadHere, LockTimeoutError, type FileLockEvent } from '../../src/auth/file-lock.js';
import { spawnSync } from 'node:child_process';
import { waitUntil } from './support/wait.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});
async function lockPath(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'resilient-stream-lock-'));
  dirs.push(dir);
  return join(dir, 'credentials.json.lock');
}

/** A pid that certainly does not run: a child that already exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid!;
}

describe('the O_EXCL lock file', () => {
  it('takes over at once a fresh lock whose holder is a dead process of this host', async () => {
    const path = await lockPath();
    const pid = deadPid();
    await writeFile(path, JSON.stringify({ pid, host: hostname() }));
    const events: FileLockEvent[] = [];
    const started = performance.now();
    const lock = await acquireFileLock(path, { staleMs: 180_000, onEvent: (e) => events.push(e) });
    const tookMs = performance.now() - started;
    if (process.env['REPORT_FIGURES']) console.log(`dead holder's lock taken over in ${tookMs.toFixed(1)} ms`);
    expect(tookMs).toBeLessThan(1_000);
    expect(events[0]).toMatchObject({ type: 'taken-over', reason: 'holder-dead', holder: { pid, host: hostname() } });
    await lock.release();
  });

  it('waits for a fresh lock of a dead pid on another host: there the pid says nothing, only the heartbeat rule counts', async () => {
    const path = await lockPath();
    await writeFile(path, JSON.stringify({ pid: deadPid(), host: `${hostname()}-elsewhere` }));
    const events: FileLockEvent[] = [];
    const error = await acquireFileLock(path, { staleMs: 180_000, retry: { initialMs: 10, maxMs: 20, giveUpAfterMs: 200 }, onEvent: (e) => events.push(e) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(events.some((e) => e.type === 'taken-over')).toBe(false);
  });

  it('never judges a live process of this host dead (itself, its parent), nor a lock without a pid', () => {
    expect(holderIsDeadHere({ pid: process.pid, host: hostname() })).toBe(false);
    expect(holderIsDeadHere({ pid: process.ppid, host: hostname() })).toBe(false);
    expect(holderIsDeadHere({ host: hostname() })).toBe(false);
    expect(holderIsDeadHere({ pid: deadPid(), host: hostname() })).toBe(true);
  });

  it('excludes: 20 concurrent holders never overlap', async () => {
    const path = await lockPath();
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        const lock = await acquireFileLock(path, { staleMs: 10_000, retry: { initialMs: 1, maxMs: 5 } });
        inside += 1;
        maxInside = Math.max(maxInside, inside);
        await new Promise((resolve) => setImmediate(resolve));
        inside -= 1;
        await lock.release();
      }),
    );
    expect(maxInside).toBe(1);
    expect(existsSync(path)).toBe(false);
  });

  it('takes over a lock whose mtime is older than staleMs, and reports who left it', async () => {
    const path = await lockPath();
    await writeFile(path, JSON.stringify({ pid: 999_999, host: 'crashed-host' }));
    const old = new Date(Date.now() - 60_000);
    await utimes(path, old, old);
    const events: FileLockEvent[] = [];
    const lock = await acquireFileLock(path, { staleMs: 5_000, onEvent: (e) => events.push(e) });
    expect(events[0]).toMatchObject({ type: 'taken-over', holder: { pid: 999_999, host: 'crashed-host' } });
    expect(events[1]).toMatchObject({ type: 'acquired' });
    await lock.release();
    expect(await readdir(join(path, '..'))).toEqual([]);
  });

  it('a live holder’s heartbeat keeps its lock from ever looking stale, however long it holds it', async () => {
    const path = await lockPath();
    // Wide enough that a loaded machine's event-loop stalls stay well inside it.
    const staleMs = 400;
    const holder = await acquireFileLock(path, { staleMs, heartbeatMs: 25 });
    const started = Date.now();
    const events: FileLockEvent[] = [];
    const waiter = acquireFileLock(path, { staleMs, retry: { initialMs: 10, maxMs: 40 }, onEvent: (e) => events.push(e) });
    // Held for more than three stale periods while the waiter keeps looking.
    await waitUntil(() => events.some((e) => e.type === 'busy' && Date.now() - started > 3 * staleMs), 'the waiter looked after three stale periods');
    expect(events.some((e) => e.type === 'taken-over')).toBe(false);
    expect(holder.compromised).toBe(false);
    expect(events.every((e) => e.type !== 'busy' || e.lockAgeMs <= staleMs)).toBe(true);
    await holder.release();
    const second = await waiter;
    expect(events.at(-1)).toMatchObject({ type: 'acquired' });
    await second.release();
  });

  it('gives up after giveUpAfterMs with a LockTimeoutError', async () => {
    const path = await lockPath();
    const holder = await acquireFileLock(path, { staleMs: 60_000 });
    await expect(acquireFileLock(path, { staleMs: 60_000, retry: { initialMs: 5, maxMs: 10, giveUpAfterMs: 50 } })).rejects.toBeInstanceOf(LockTimeoutError);
    await holder.release();
  });

  it('release leaves alone a lock that is no longer ours', async () => {
    const path = await lockPath();
    const events: FileLockEvent[] = [];
    const first = await acquireFileLock(path, { staleMs: 100, heartbeatMs: 10_000, onEvent: (e) => events.push(e) });
    // Pretend the first holder froze: its lock goes stale and a second process takes it over.
    const old = new Date(Date.now() - 10_000);
    await utimes(path, old, old);
    const second = await acquireFileLock(path, { staleMs: 100 });
    await first.release();
    expect(existsSync(path)).toBe(true);
    await second.release();
    expect(existsSync(path)).toBe(false);
  });
});
