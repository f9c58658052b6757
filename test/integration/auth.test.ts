import { afterEach, describe, expect, test } from 'vitest';
import { cooldownFloorMs } from '../../machines/backoff.js';
import type { CredentialContext } from '../../machines/credential.js';
import { memoryCredentialStore } from '../../src/auth/memory-store.js';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import { TurnFailedError } from '../../src/errors.js';
import { startTokenEndpoint, type TokenEndpoint } from '../auth/support/token-endpoint.js';
import { closeHarnesses, completeTurnTypes, countingSource, startHarness, type Harness } from '../support/manager-harness.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  await closeHarnesses();
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

function credentialContext(h: Harness): CredentialContext {
  const entry = h.manager.actors().find((a) => a.kind === 'credential');
  return (entry!.actor.getSnapshot() as { context: CredentialContext }).context;
}

const OLD = 'tok-old-0123456789abcdef';
const NEW = 'tok-new-1-0123456789abcdef';

test('upgrade 401, one refresh, then the same turn succeeds over WebSocket with the new token', async () => {
  const source = countingSource(OLD, (n) => `tok-new-${n}-0123456789abcdef`);
  const h = await startHarness({ endpoints: { m: { credentials: source } }, acceptToken: (token) => token === NEW });
  const s = h.session('s1', 'm');

  const turn = await h.turn(s);

  // Client: the turn completed over the socket opened with the refreshed token.
  expect(turn.error).toBeUndefined();
  expect(turn.types).toEqual(completeTurnTypes());
  expect(h.events.turn).toMatchObject([{ result: 'completed', transport: 'websocket' }]);
  expect(s.state).toMatchObject({ connection: 'connection.socket.open', transport: 'websocket' });
  expect(source.refreshCalls).toBe(1);
  expect(credentialContext(h)).toMatchObject({ refreshesStarted: 1, generation: 2 });
  // The 401 was the credentials' fault, not the endpoint's: no cooldown, no failure counted.
  expect(h.manager.endpoint('m').state).toMatchObject({ status: 'healthy', consecutiveFailures: 0 });
  // The refused upgrade is reported with its failure, then the one that opened.
  expect(h.events.upgrade).toMatchObject([
    { result: 'failed', failure: { class: 'auth', code: '401' } },
    { result: 'opened' },
  ]);
  expect(h.logger.at('warn')).toEqual([]);
  // Server: the 401 upgrade, the accepted one, and the turn on the socket; nothing over HTTP.
  expect(h.upstream.log.map((e) => [e.kind, e.status])).toEqual([
    ['upgrade', 401],
    ['upgrade', 101],
  ]);
  expect(h.upstream.wsTurns).toBe(1);
  expect(h.upstream.httpRequests).toBe(0);

  // The next turn reuses the socket; no more refreshes.
  const next = await h.turn(s);
  expect(next.error).toBeUndefined();
  expect(source.refreshCalls).toBe(1);
  expect(h.upstream.upgradeAttempts).toBe(2);
  expect(h.upstream.wsTurns).toBe(2);
});

test('a second 401 with the freshly refreshed token does not loop: the upgrade falls back to HTTP and the turn fails with class auth', async () => {
  const source = countingSource(OLD, (n) => `tok-new-${n}-0123456789abcdef`);
  const h = await startHarness({ endpoints: { m: { credentials: source } }, acceptToken: () => false });
  const s = h.session('s1', 'm');

  const turn = await h.turn(s);

  expect(turn.error).toBeInstanceOf(TurnFailedError);
  expect((turn.error as TurnFailedError).failure).toMatchObject({ class: 'auth', code: '401' });
  expect(turn.types).toEqual([]);
  expect(h.events.turn).toMatchObject([{ result: 'failed', failure: { class: 'auth' } }]);
  // The upgrade was tried once with the old token and once with the refreshed one, then given up.
  expect(h.upstream.log.filter((e) => e.kind === 'upgrade').map((e) => e.status)).toEqual([401, 401]);
  expect(h.events.upgrade).toMatchObject([
    { result: 'failed', failure: { class: 'auth', code: '401' } },
    { result: 'failed', failure: { class: 'auth', code: '401' } },
  ]);
  expect(s.state).toMatchObject({ connection: 'connection.fallback', turn: 'turn.idle', transport: 'http' });
  // Bounded: at most one refresh for the upgrade and one for the turn, at most two HTTP attempts.
  expect(source.refreshCalls).toBeGreaterThanOrEqual(1);
  expect(source.refreshCalls).toBeLessThanOrEqual(2);
  expect(h.upstream.httpRequests).toBeLessThanOrEqual(2);
  expect(h.upstream.wsTurns).toBe(0);
  expect(h.manager.endpoint('m').state).toMatchObject({ status: 'cooling-down', lastFailure: { class: 'auth' } });

  // A later turn inside the cooldown does not upgrade again and still ends (no loop).
  const refreshesBefore = source.refreshCalls;
  const httpBefore = h.upstream.httpRequests;
  const again = await h.turn(s);
  expect((again.error as TurnFailedError).failure.class).toBe('auth');
  expect(h.upstream.upgradeAttempts).toBe(2);
  expect(source.refreshCalls - refreshesBefore).toBeLessThanOrEqual(1);
  expect(h.upstream.httpRequests - httpBefore).toBeLessThanOrEqual(2);
});

test('a static token that is refused: the turn fails with class auth after a bounded number of attempts', async () => {
  const h = await startHarness({ endpoints: { m: { credentials: 'tok-static-0123456789' } }, acceptToken: () => false });
  const s = h.session('s1', 'm');
  const turn = await h.turn(s);
  expect((turn.error as TurnFailedError).failure).toMatchObject({ class: 'auth' });
  expect(h.upstream.upgradeAttempts).toBeLessThanOrEqual(2);
  expect(h.upstream.httpRequests).toBeLessThanOrEqual(2);
  expect(credentialContext(h).generation).toBe(1);
});

async function tokenEndpoint(): Promise<TokenEndpoint> {
  const endpoint = await startTokenEndpoint();
  cleanups.push(() => endpoint.close());
  return endpoint;
}

test('upgrade 401 with a real OAuth refresh: one request to the token endpoint, the turn succeeds over WebSocket', async () => {
  const tokens = await tokenEndpoint();
  const initial = tokens.signIn();
  const store = memoryCredentialStore(initial);
  const source = oauthRefreshSource({ tokenUrl: tokens.url, clientId: tokens.clientId, store, name: 'codex' });
  const h = await startHarness({
    endpoints: { m: { credentials: source } },
    acceptToken: (token) => token !== initial.access_token && tokens.allTokens().includes(token),
  });
  const s = h.session('s1', 'm');

  const turn = await h.turn(s);

  expect(turn.error).toBeUndefined();
  expect(turn.types).toEqual(completeTurnTypes());
  expect(h.events.turn).toMatchObject([{ result: 'completed', transport: 'websocket' }]);
  expect(tokens.stats()).toMatchObject({ refreshRequests: 1, issued: 1, reused: 0 });
  expect((await store.read())?.access_token).toBe(tokens.latest()!.access_token);
  expect(h.upstream.log.map((e) => [e.kind, e.status])).toEqual([
    ['upgrade', 401],
    ['upgrade', 101],
  ]);
  expect(h.upstream.wsTurns).toBe(1);
  expect(h.manager.endpoint('m').state).toMatchObject({ status: 'healthy', consecutiveFailures: 0 });
  expect(h.events.reauthRequired).toEqual([]);
});

test('50 sessions hit 401 at once: exactly one refresh request reaches the real token endpoint, every turn completes', async () => {
  const tokens = await tokenEndpoint();
  const initial = tokens.signIn();
  const source = oauthRefreshSource({ tokenUrl: tokens.url, clientId: tokens.clientId, store: memoryCredentialStore(initial), name: 'codex' });
  const h = await startHarness({
    endpoints: { m: { credentials: source } },
    // The old access token is refused on both transports; any token the endpoint issued later is fine.
    acceptToken: (token) => token !== initial.access_token && tokens.allTokens().includes(token),
  });
  const sessions = Array.from({ length: 50 }, (_, i) => h.session(`s${i}`, 'm'));

  const turns = await Promise.all(sessions.map((s) => h.turn(s)));

  expect(turns.map((t) => t.error)).toEqual(sessions.map(() => undefined));
  expect(turns.every((t) => JSON.stringify(t.types) === JSON.stringify(completeTurnTypes()))).toBe(true);
  // Token endpoint: one refresh, one rotation.
  expect(tokens.stats()).toMatchObject({ refreshRequests: 1, issued: 1, reused: 0 });
  expect(credentialContext(h)).toMatchObject({ refreshesStarted: 1 });
  expect(h.events.reauthRequired).toEqual([]);
  // Upstream: each turn was answered with 200 (or streamed on the socket) exactly once.
  const http200 = h.upstream.log.filter((e) => e.kind === 'http' && e.status === 200).length;
  expect(http200 + h.upstream.wsTurns).toBe(50);
  // One session held the probe: its upgrade was refused once, then opened with the new token.
  expect(h.upstream.log.filter((e) => e.kind === 'upgrade').map((e) => e.status)).toEqual([401, 101]);
  expect(h.upstream.wsTurns).toBe(1);
  // Every refused request carried the old token: at most one 401 per session.
  expect(h.upstream.log.filter((e) => e.kind === 'http' && e.status === 401).length).toBeLessThanOrEqual(49);
  expect(h.manager.endpoint('m').state).toMatchObject({ status: 'healthy', consecutiveFailures: 0 });
  expect(h.events.turn.filter((t) => t.result === 'completed')).toHaveLength(50);

  // The next round, once the probe's socket is proven: no refresh, every session upgrades with the new token.
  await h.advanceBy(h.manager.policy.minUptimeMs);
  const again = await Promise.all(sessions.map((s) => h.turn(s)));
  expect(again.every((t) => t.error === undefined)).toBe(true);
  expect(tokens.stats().refreshRequests).toBe(1);
  expect(h.upstream.log.filter((e) => e.kind === 'upgrade' && e.status === 101)).toHaveLength(50);
});

test('a spent refresh token (refresh_token_reused): one refresh request, reauth-required once, turns fail with class auth without retry storms', async () => {
  const tokens = await tokenEndpoint();
  const initial = tokens.signIn();
  tokens.spend(initial.refresh_token);
  const source = oauthRefreshSource({ tokenUrl: tokens.url, clientId: tokens.clientId, store: memoryCredentialStore(initial), name: 'codex' });
  const h = await startHarness({ endpoints: { m: { credentials: source } }, acceptToken: (token) => token !== initial.access_token });
  const sessions = Array.from({ length: 5 }, (_, i) => h.session(`s${i}`, 'm'));

  const turns = await Promise.all(sessions.map((s) => h.turn(s)));
  for (const turn of turns) {
    expect(turn.error).toBeInstanceOf(TurnFailedError);
    expect((turn.error as TurnFailedError).failure.class).toBe('auth');
  }
  expect(tokens.stats()).toMatchObject({ refreshRequests: 1, reused: 1, issued: 0 });
  expect(h.events.reauthRequired).toHaveLength(1);
  expect(h.events.reauthRequired[0]!.summary).toContain('refresh_token_reused');
  expect(h.logger.at('error')).toHaveLength(1);

  // Later turns fail at once: no refresh, no upgrade, no request.
  const upgrades = h.upstream.upgradeAttempts;
  const http = h.upstream.httpRequests;
  for (let round = 0; round < 5; round++) {
    await h.advanceBy(60_000);
    const later = await Promise.all(sessions.map((s) => h.turn(s)));
    expect(later.every((t) => (t.error as TurnFailedError | undefined)?.failure.class === 'auth')).toBe(true);
  }
  expect(tokens.stats().refreshRequests).toBe(1);
  expect(h.upstream.upgradeAttempts).toBe(upgrades);
  expect(h.upstream.httpRequests).toBe(http);
  expect(h.events.reauthRequired).toHaveLength(1);
  for (const s of sessions) expect(s.state.connection).toBe('connection.reauthRequired');
});

describe('the token endpoint is down (503) while the upstream refuses the old token', () => {
  const durationMs = 20 * 60_000;
  const periodMs = 30_000;

  async function run() {
    const tokens = await tokenEndpoint();
    const initial = tokens.signIn();
    tokens.failNext(10_000, 503);
    const source = oauthRefreshSource({ tokenUrl: tokens.url, clientId: tokens.clientId, store: memoryCredentialStore(initial), name: 'codex' });
    const h = await startHarness({
      endpoints: { m: { credentials: source } },
      acceptToken: (token) => token !== initial.access_token && tokens.allTokens().includes(token),
    });
    const sessions = [h.session('s1', 'm'), h.session('s2', 'm')];
    const failures: string[] = [];
    for (let at = 0; at < durationMs; at += periodMs) {
      await h.advanceTo(at);
      const turns = await Promise.all(sessions.map((s) => h.turn(s)));
      for (const turn of turns) failures.push((turn.error as TurnFailedError | undefined)?.failure.class ?? 'none');
    }
    return { h, tokens, failures };
  }

  test('the upgrade is not retried with the refused token on every turn: the endpoint cools down', async () => {
    const { h, failures } = await run();
    // Every turn fails with class auth (no usable token anywhere).
    expect(new Set(failures)).toEqual(new Set(['auth']));
    // At most one probe per cooldown window, as for any other failing upgrade (the seed's 500).
    const cooldown = h.manager.policy.cooldown;
    let maxProbes = 0;
    for (let at = 0, k = 1; at < durationMs; at += cooldownFloorMs(cooldown, k), k++) maxProbes++;
    expect(h.upstream.upgradeAttempts).toBeLessThanOrEqual(maxProbes);
    expect(h.manager.endpoint('m').state.status).not.toBe('probing');
  });

  test('the token endpoint is not hammered: refreshes follow the retry backoff across turns instead of restarting with each turn', async () => {
    const { tokens } = await run();
    // The credential chart's retry backoff caps at 60 s (20 % jitter) after 5 quick retries; a turn
    // every 30 s must not restart it: at most about one refresh per capped window.
    const bound = Math.ceil(durationMs / (60_000 * 0.8)) + 5;
    expect(tokens.stats().refreshRequests).toBeLessThanOrEqual(bound);
  });
});
