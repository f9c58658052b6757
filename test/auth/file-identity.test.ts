import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthEvent } from '../../src/auth/auth-events.js';
import { parseCredentialsText } from '../../src/auth/credential-store.js';
import { fileCredentialStore } from '../../src/auth/file-store.js';
import { startUpstream, type Upstream } from '../../src/testing/upstream.js';
import { spawnTurnChild, type TurnChild } from './support/children.js';
import { startTokenEndpoint, type TokenEndpoint } from './support/token-endpoint.js';

/**
 * Issue 11, Deliver 3: a credentials file's identity is the file, not the name it is reached by.
 * Real gateway processes (a session manager each), a real slow single-use token endpoint, a
 * real upstream that accepts only the newest access token.
 */

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rs-identity-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Setup {
  readonly endpoint: TokenEndpoint;
  readonly upstream: Upstream;
  readonly realPath: string;
  /** Rejects every access token issued so far: the next turn of each process needs a rotation. */
  revokeAll(): void;
}

async function setup(): Promise<Setup> {
  // Slow, as in the audit: a refresh answers after 5 s, so the second process surely waits on the lock.
  const endpoint = await startTokenEndpoint({ delayMs: 5_000 });
  cleanups.push(() => endpoint.close());
  const revoked = new Set<string>();
  // WebSockets refused (426): every turn goes over HTTP, so every turn shows its token to the upstream.
  const upstream = await startUpstream({
    modes: { m: { upgradeStatus: 426 } },
    acceptToken: (token) => endpoint.allTokens().includes(token) && !revoked.has(token),
  });
  cleanups.push(() => upstream.close());
  const dir = await tempDir();
  const realPath = join(dir, 'credentials.json');
  await writeFile(realPath, JSON.stringify(endpoint.signIn()), { mode: 0o600 });
  return { endpoint, upstream, realPath, revokeAll: () => endpoint.allTokens().forEach((token) => revoked.add(token)) };
}

function child(s: Setup, credentialsPath: string): TurnChild {
  const spawned = spawnTurnChild({
    credentialsPath,
    tokenUrl: s.endpoint.url,
    clientId: s.endpoint.clientId,
    httpUrl: s.upstream.httpUrl,
    wsUrl: s.upstream.wsUrl('m'),
  });
  cleanups.push(async () => {
    if (spawned.process.exitCode === null) spawned.process.kill('SIGKILL');
  });
  return spawned;
}

/** Two rotations, each raced by both processes: one request per rotation, no reuse, every turn completes. */
async function twoRotations(s: Setup, a: TurnChild, b: TurnChild): Promise<void> {
  await Promise.all([a.ready, b.ready]);
  for (const turn of await Promise.all([a.turn(), b.turn()])) expect(turn, a.stderr() + b.stderr()).toEqual({ type: 'turn', ok: true });
  for (let rotation = 1; rotation <= 2; rotation++) {
    s.revokeAll();
    const turns = await Promise.all([a.turn(), b.turn()]);
    for (const turn of turns) expect(turn, `rotation ${rotation}: ${JSON.stringify(turn)}\n${a.stderr()}${b.stderr()}`).toEqual({ type: 'turn', ok: true });
    expect(s.endpoint.stats()).toMatchObject({ refreshRequests: rotation, issued: rotation, reused: 0 });
  }
  expect(parseCredentialsText(await readFile(s.realPath, 'utf8')).access_token).toBe(s.endpoint.latest()!.access_token);
  if (process.env['REPORT_FIGURES']) {
    const turns = [...a.lines, ...b.lines].filter((line) => line.type === 'turn');
    console.log(`2 processes, 2 rotations: ${JSON.stringify(s.endpoint.stats())}; turns ${turns.filter((t) => t.type === 'turn' && t.ok).length}/${turns.length} completed`);
  }
  await Promise.all([a.exit(), b.exit()]);
}

describe('credentials files reached by more than one name (real processes, 5 s single-use token endpoint)', () => {
  it('a symlinked path and the real path: one token request per rotation, no reuse, every turn completes, the link stays a link', async () => {
    const s = await setup();
    const linkDir = await tempDir();
    const link = join(linkDir, 'credentials.json');
    await symlink(s.realPath, link);
    await twoRotations(s, child(s, link), child(s, s.realPath));
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe(s.realPath);
    expect(((await stat(s.realPath)).mode & 0o777).toString(8)).toBe('600');
    // No lock, guard or temp file left next to the link or the file.
    expect(await readdir(linkDir)).toEqual(['credentials.json']);
  }, 60_000);

  it('two paths to one file (through a symlinked directory): they share one lock', async () => {
    const s = await setup();
    const aliasDir = join(await tempDir(), 'alias');
    await symlink(join(s.realPath, '..'), aliasDir);
    await twoRotations(s, child(s, join(aliasDir, 'credentials.json')), child(s, s.realPath));
  }, 60_000);
});

describe('what the store refuses or reports', () => {
  it('warns once, without the contents, when the file is readable by group or others; the next write makes it 600', async () => {
    const dir = await tempDir();
    const path = join(dir, 'credentials.json');
    await writeFile(path, JSON.stringify({ access_token: 'at-perm-secret-1', refresh_token: 'rt-perm-secret-1' }));
    await chmod(path, 0o644);
    const events: AuthEvent[] = [];
    const store = fileCredentialStore(path, { onEvent: (event) => events.push(event) });
    await store.read();
    await store.read();
    const warnings = events.filter((event) => event.type === 'store-permissions');
    expect(warnings).toEqual([{ type: 'store-permissions', store: path, mode: 0o644 }]);
    expect(JSON.stringify(events)).not.toContain('perm-secret');
    await store.write({ access_token: 'at-perm-secret-2', refresh_token: 'rt-perm-secret-2' });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('refuses, with a sentence naming the directory, a file whose directory others can write (no sticky bit)', async () => {
    const dir = join(await tempDir(), 'open');
    await mkdir(dir);
    await chmod(dir, 0o777);
    const path = join(dir, 'credentials.json');
    await writeFile(path, JSON.stringify({ access_token: 'at-open-1', refresh_token: 'rt-open-1' }), { mode: 0o600 });
    const store = fileCredentialStore(path);
    let refreshed = 0;
    const error = await store.rotate('at-open-1', async (current) => {
      refreshed += 1;
      return current;
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'RefreshError', errorCode: 'credentials_unwritable' });
    expect((error as Error).message).toContain(`${dir} is writable by other users`);
    // Refused before spending the refresh token.
    expect(refreshed).toBe(0);
  });

  it('a dangling symlink (the file a sign-in will create) is written through, the link kept', async () => {
    const dir = await tempDir();
    const target = join(dir, 'real.json');
    const link = join(dir, 'credentials.json');
    await symlink(target, link);
    const store = fileCredentialStore(link);
    expect(await store.read()).toBeUndefined();
    await store.write({ access_token: 'at-dangling-1', refresh_token: 'rt-dangling-1' });
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(parseCredentialsText(await readFile(target, 'utf8')).access_token).toBe('at-dangling-1');
  });
});

describe('refreshWaitMs: no turn waits on a slow holder for longer', () => {
  async function heldByALiveProcess(): Promise<{ path: string }> {
    const dir = await tempDir();
    const path = join(dir, 'credentials.json');
    await writeFile(path, JSON.stringify({ access_token: 'at-wait-1', refresh_token: 'rt-wait-1' }), { mode: 0o600 });
    // Held by a live process of this host (our parent) with a fresh mtime: neither dead nor stale.
    await writeFile(`${path}.lock`, JSON.stringify({ pid: process.ppid, host: hostname() }));
    return { path };
  }

  it('fails after refreshWaitMs with a sentence saying why, without calling the token endpoint', async () => {
    const { path } = await heldByALiveProcess();
    const store = fileCredentialStore(path, { refreshWaitMs: 300, lockRetries: { initialMs: 20, maxMs: 50 } });
    let refreshed = 0;
    const started = performance.now();
    const error = await store.rotate('at-wait-1', async (current) => {
      refreshed += 1;
      return current;
    }).catch((e: unknown) => e);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(error).toMatchObject({ name: 'RefreshError', networkCode: 'lock_timeout' });
    expect((error as Error).message).toMatch(new RegExp(`pid ${process.ppid} on .* held the refresh lock of .* for longer than refreshWaitMs \\(300 ms\\)`));
    expect(refreshed).toBe(0);
  });

  it('proceeds with the credentials another holder wrote while it waited', async () => {
    const { path } = await heldByALiveProcess();
    const store = fileCredentialStore(path, { refreshWaitMs: 300, lockRetries: { initialMs: 20, maxMs: 50 } });
    const rotating = store.rotate('at-wait-1', async () => {
      throw new Error('must not refresh');
    });
    await writeFile(path, JSON.stringify({ access_token: 'at-wait-2', refresh_token: 'rt-wait-2' }), { mode: 0o600 });
    expect(await rotating).toEqual({ access_token: 'at-wait-2', refresh_token: 'rt-wait-2' });
  });
});
