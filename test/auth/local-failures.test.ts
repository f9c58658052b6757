import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { fileCredentialStore } from '../../src/auth/file-store.js';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import type { CredentialSource } from '../../src/auth/credential-source.js';
import { closeHarnesses, startHarness } from '../support/manager-harness.js';

/**
 * Issue 10, Deliver 5: credentials that fail locally are a sign-in problem, never an endpoint
 * outage. A real manager, a real fake upstream, real files.
 */

const dirs: string[] = [];
afterEach(async () => {
  await closeHarnesses();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

async function credentialsPath(content: string | undefined, mode = 0o600): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rs-local-'));
  dirs.push(dir);
  const path = join(dir, 'credentials.json');
  if (content !== undefined) await writeFile(path, content, { mode });
  return path;
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

test.each([
  ['missing', undefined, 0o600],
  ['empty', '', 0o600],
  ['corrupt', '{"access_token": "at-1234567890", "refresh_tok', 0o600],
  ['not credentials', '{"hello": "world"}', 0o600],
  ['unreadable', '{"access_token":"at-unreadable-1","refresh_token":"rt-unreadable-1"}', 0o000],
] as const)('a %s credentials file: reauth-required once, turns fail with class auth, the endpoint is not blamed', async (kind, content, mode) => {
  if (kind === 'unreadable' && isRoot) return; // root reads a 0000 file: nothing to test
  const path = await credentialsPath(content, mode);
  if (kind === 'unreadable') await chmod(path, 0o000);
  const store = fileCredentialStore(path, { watchIntervalMs: 60_000 });
  const h = await startHarness({
    endpoints: { api: { credentials: oauthRefreshSource({ tokenUrl: 'http://127.0.0.1:9/oauth/token', clientId: 'c', store, name: 'codex' }) } },
  });
  const session = h.session('s1', 'api');
  const turns = [];
  for (let i = 0; i < 3; i++) turns.push(await h.turn(session));

  for (const turn of turns) {
    expect(turn.error, `turn error for a ${kind} file`).toMatchObject({ name: 'TurnFailedError', failure: { class: 'auth' } });
    // A sentence that tells the operator what to do.
    expect((turn.error as Error).message, (turn.error as Error).message).toMatch(/sign.in/i);
  }
  expect(h.events.reauthRequired).toHaveLength(1);
  expect(h.events.reauthRequired[0]!.summary).toMatch(/sign in again/);
  expect(h.upstream.upgradeAttempts + h.upstream.httpRequests).toBe(0);
  const endpoint = h.manager.endpoint('api').state;
  expect(endpoint.status).not.toBe('cooling-down');
  expect(endpoint.consecutiveFailures).toBe(0);
  expect(h.logger.calls.filter((call) => /WebSocket/.test(call.msg ?? ''))).toEqual([]);
  expect(h.events.turn.every((turn) => turn.failure?.class === 'auth')).toBe(true);
});

test('a custom source whose refresh() throws a plain Error with status 401 and code refresh_token_reused: 50 turns send the dead token at most once', async () => {
  const DEAD = 'qzDEADtokenPz81mm3kq';
  let deadSent = 0;
  let refreshCalls = 0;
  const source: CredentialSource = {
    name: 'custom',
    token: () => DEAD,
    refresh: async () => {
      refreshCalls += 1;
      throw Object.assign(new Error('refresh refused by the provider'), { status: 401, code: 'refresh_token_reused' });
    },
  };
  const h = await startHarness({
    endpoints: { api: { credentials: source } },
    acceptToken: (token) => {
      if (token === DEAD) deadSent += 1;
      return token !== DEAD;
    },
  });
  const session = h.session('s1', 'api');
  for (let i = 0; i < 50; i++) {
    const turn = await h.turn(session);
    expect(turn.error).toMatchObject({ failure: { class: 'auth' } });
  }
  if (process.env['REPORT_FIGURES']) console.log(`custom source, plain Error 401 refresh_token_reused: 50 turns sent the dead token ${deadSent} time(s); refresh() called ${refreshCalls} time(s)`);
  expect(deadSent).toBeLessThanOrEqual(1);
  expect(refreshCalls).toBe(1);
  expect(h.events.reauthRequired).toHaveLength(1);
  expect(h.events.reauthRequired[0]!.summary).toMatch(/refresh_token_reused/);
  expect(h.manager.endpoint('api').state.status).not.toBe('cooling-down');
});

test('the failed turn names the local cause and what to do', async () => {
  const path = await credentialsPath(undefined);
  const store = fileCredentialStore(path, { watchIntervalMs: 60_000 });
  const h = await startHarness({
    endpoints: { api: { credentials: oauthRefreshSource({ tokenUrl: 'http://127.0.0.1:9/oauth/token', clientId: 'c', store, name: 'codex' }) } },
  });
  const session = h.session('s1', 'api');
  await h.turn(session);
  const second = await h.turn(session);
  expect((second.error as Error).message).toMatch(/no credentials were found.*sign in again/);
});

test('refreshWaitMs: a refresh that hangs fails the turn with class auth after the wait; the token it brings later is used by the next turn', async () => {
  const OLD = 'qzOLDwaitTokenB71kd0q';
  const NEW = 'qzNEWwaitTokenC82le1r';
  let finish!: () => void;
  let current = OLD;
  const source: CredentialSource = {
    name: 'slow',
    refreshWaitMs: 200,
    token: () => current,
    refresh: () =>
      new Promise<string>((resolve) => {
        finish = () => {
          current = NEW;
          resolve(NEW);
        };
      }),
  };
  const h = await startHarness({ endpoints: { api: { credentials: source } }, modes: { api: { upgradeStatus: 426 } }, acceptToken: (token) => token === NEW });
  const session = h.session('s1', 'api');
  const started = performance.now();
  const first = await h.turn(session);
  expect(performance.now() - started).toBeLessThan(5_000);
  expect(first.error).toMatchObject({ failure: { class: 'auth' } });
  finish();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = await h.turn(session);
  expect(second.error).toBeUndefined();
});
