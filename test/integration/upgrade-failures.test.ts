import { afterEach, describe, expect, test, vi } from 'vitest';
import { cooldownFloorMs, nominalCooldownMs } from '../../machines/backoff.js';
import { ClosedError } from '../../src/errors.js';
import { closeHarnesses, completeTurnTypes, settle, startHarness, type Harness } from '../support/manager-harness.js';

afterEach(closeHarnesses);

function upgradesIn(h: Harness, model: string) {
  return h.upstream.log.filter((e) => e.kind === 'upgrade' && e.model === model);
}

test('ECONNRESET during the handshake: the same turn is served over HTTP, the endpoint cools down with class network', async () => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: 'reset' } });
  const s = h.session('s1', 'm');

  const first = await h.turn(s);

  // Client: the turn completed, over HTTP, in the same turn.
  expect(first.error).toBeUndefined();
  expect(first.types).toEqual(completeTurnTypes());
  expect(h.events.turn).toMatchObject([{ sessionId: 's1', result: 'completed', transport: 'http' }]);
  expect(h.events.upgrade).toMatchObject([{ sessionId: 's1', result: 'failed', failure: { class: 'network' } }]);
  expect(h.events.fallback).toMatchObject([{ sessionId: 's1', reason: 'upgrade-failed', failure: { class: 'network' } }]);
  expect(s.state).toMatchObject({ connection: 'connection.fallback', turn: 'turn.idle', transport: 'http', lastFailure: { class: 'network' } });
  expect(s.state.lastFailure?.code).toMatch(/ECONNRESET/);
  const state = h.manager.endpoint('m').state;
  expect(state).toMatchObject({ status: 'cooling-down', consecutiveFailures: 1, lastFailure: { class: 'network' } });
  expect(state.cooldownUntilMs).toBeGreaterThanOrEqual(cooldownFloorMs(h.manager.policy.cooldown, 1));
  expect(state.cooldownUntilMs).toBeLessThanOrEqual(nominalCooldownMs(h.manager.policy.cooldown, 1));
  // Server: one upgrade (reset), one HTTP request; nothing over the socket.
  expect(h.upstream.log.map((e) => [e.kind, e.status])).toEqual([
    ['upgrade', 0],
    ['http', 200],
  ]);
  expect(h.upstream.wsTurns).toBe(0);

  // The next turn inside the cooldown does not touch the upgrade.
  const second = await h.turn(s);
  expect(second.error).toBeUndefined();
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
  expect(h.upstream.httpRequestsFor('m')).toBe(2);
  expect(s.state).toMatchObject({ httpReason: 'cooling-down', httpUntilMs: state.cooldownUntilMs });
  expect(h.logger.at('warn')).toHaveLength(1);
});

test('an upgrade that never answers: the turn goes over HTTP after upgradeBudgetMs; the upgrade times out at upgradeTimeoutMs in the background', async () => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: 'hang' } });
  const { upgradeBudgetMs, upgradeTimeoutMs } = h.manager.policy;
  const s = h.session('s1', 'm');

  const pending = h.turn(s);
  await vi.waitFor(() => expect(h.upstream.upgradeAttemptsFor('m')).toBe(1));
  await settle();
  expect(s.state).toMatchObject({ connection: 'connection.socket.connecting', turn: 'turn.awaitingTransport' });

  // One millisecond short of the budget, the turn still waits and nothing went over HTTP.
  await h.advanceBy(upgradeBudgetMs - 1);
  await settle();
  expect(s.state.turn).toBe('turn.awaitingTransport');
  expect(h.upstream.httpRequests).toBe(0);

  await h.advanceBy(1);
  const turn = await pending;
  expect(turn.error).toBeUndefined();
  expect(turn.types).toEqual(completeTurnTypes());
  expect(h.events.turn).toMatchObject([{ result: 'completed', transport: 'http', durationMs: upgradeBudgetMs }]);
  // The upgrade keeps going in the background; the endpoint still holds the probe for it.
  expect(s.state.connection).toBe('connection.socket.connecting');
  expect(h.manager.endpoint('m').state.path).toBe('probing.probeInFlight');

  await h.advanceTo(upgradeTimeoutMs - 1);
  expect(s.state.connection).toBe('connection.socket.connecting');
  await h.advanceTo(upgradeTimeoutMs);
  expect(s.state).toMatchObject({ connection: 'connection.fallback', lastFailure: { class: 'network', code: 'timeout-upgrade' } });
  const state = h.manager.endpoint('m').state;
  expect(state).toMatchObject({ status: 'cooling-down', consecutiveFailures: 1, lastFailure: { class: 'network', code: 'timeout-upgrade' } });
  expect(state.cooldownUntilMs! - upgradeTimeoutMs).toBeGreaterThanOrEqual(cooldownFloorMs(h.manager.policy.cooldown, 1));
  expect(h.events.upgrade).toMatchObject([{ result: 'failed', atMs: upgradeTimeoutMs, failure: { code: 'timeout-upgrade' } }]);
  expect(h.logger.at('warn')).toHaveLength(1);
  expect(h.logger.at('warn')[0]!.msg).toContain('upgrade timed out');

  // Server: the request reached it on one transport only.
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
  expect(h.upstream.httpRequestsFor('m')).toBe(1);
  expect(h.upstream.wsTurns).toBe(0);
  expect(h.upstream.openWebSockets).toBe(0);

  // A later turn inside the cooldown goes straight to HTTP, without waiting for any budget.
  const next = await h.turn(s);
  expect(next.error).toBeUndefined();
  expect(h.events.turn.at(-1)).toMatchObject({ transport: 'http', durationMs: 0 });
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
});

test('426: HTTP is latched (unsupported) for unsupportedTtlMs across many turns and sessions; after the TTL exactly one probe', async () => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: { upgradeStatus: 426 } } });
  const ttl = h.manager.policy.unsupportedTtlMs;
  let sessions = Array.from({ length: 5 }, (_, i) => h.session(`s${i}`, 'm'));

  const firstTick = await Promise.all(sessions.map((s) => h.turn(s)));
  expect(firstTick.every((t) => t.error === undefined)).toBe(true);
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
  const latched = h.manager.endpoint('m').state;
  expect(latched).toMatchObject({ status: 'unsupported', cooldownUntilMs: ttl, lastFailure: { class: 'unsupported', code: '426' } });
  expect(h.logger.at('warn')).toHaveLength(1);
  expect(h.logger.at('warn')[0]!.msg).toMatch(/WebSocket refused by m \(upgrade answered HTTP 426\); HTTP latched for 6 h/);

  // Every 10 minutes for the whole TTL, all sessions run a turn; every hour a new session joins
  // and an old one is released and acquired again.
  let turns = 5;
  const stepMs = 10 * 60_000;
  for (let at = stepMs; at < ttl; at += stepMs) {
    await h.advanceTo(at);
    if (at % 3_600_000 === 0) {
      sessions[0]!.release();
      sessions = [h.session('s0', 'm'), ...sessions.slice(1), h.session(`joined-${at}`, 'm')];
    }
    const results = await Promise.all(sessions.map((s) => h.turn(s)));
    expect(results.every((t) => t.error === undefined && t.types.at(-1) === 'response.completed')).toBe(true);
    turns += sessions.length;
    expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
  }
  await h.advanceTo(ttl - 1);
  await Promise.all(sessions.map((s) => h.turn(s)));
  turns += sessions.length;
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
  expect(h.upstream.httpRequestsFor('m')).toBe(turns);
  expect(h.manager.endpoint('m').state.status).toBe('unsupported');
  for (const s of sessions) expect(s.state).toMatchObject({ transport: 'http' });
  expect(sessions.at(-1)!.state).toMatchObject({ httpReason: 'unsupported', httpUntilMs: ttl });

  // The TTL ends: the next turns of every session produce exactly one probe.
  await h.advanceTo(ttl);
  expect(h.manager.endpoint('m').state.status).toBe('probing');
  const afterTtl = await Promise.all(sessions.map((s) => h.turn(s)));
  expect(afterTtl.every((t) => t.error === undefined)).toBe(true);
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(2);
  expect(upgradesIn(h, 'm').map((e) => e.atMs)).toEqual([0, ttl]);
  expect(h.manager.endpoint('m').state).toMatchObject({ status: 'unsupported', cooldownUntilMs: 2 * ttl });
  expect(h.logger.at('warn')).toHaveLength(2);
  expect(h.upstream.wsTurns).toBe(0);
});

describe.each([
  [429, 'rate-limited'],
  [503, 'transient-server'],
] as const)('upgrade %d with Retry-After longer than the cooldown', (status, failureClass) => {
  test('the cooldown lasts at least Retry-After and nothing probes before it ends', async () => {
    const retryAfterSeconds = 600;
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { upgradeStatus: status, retryAfterSeconds } } });
    expect(retryAfterSeconds * 1000).toBeGreaterThan(nominalCooldownMs(h.manager.policy.cooldown, 1));
    const sessions = [h.session('a', 'm'), h.session('b', 'm')];

    const first = await h.turn(sessions[0]!);
    expect(first.error).toBeUndefined();
    const state = h.manager.endpoint('m').state;
    expect(state).toMatchObject({
      status: 'cooling-down',
      consecutiveFailures: 1,
      lastFailure: { class: failureClass, code: String(status), retryAfterMs: retryAfterSeconds * 1000 },
    });
    expect(state.cooldownUntilMs).toBeGreaterThanOrEqual(retryAfterSeconds * 1000);
    expect(h.logger.at('warn')).toHaveLength(1);
    expect(h.logger.at('warn')[0]!.obj).toMatchObject({ failureClass, code: String(status), nextProbeAtMs: state.cooldownUntilMs });

    for (let at = 30_000; at < state.cooldownUntilMs!; at += 30_000) {
      await h.advanceTo(at);
      const results = await Promise.all(sessions.map((s) => h.turn(s)));
      expect(results.every((t) => t.error === undefined)).toBe(true);
      expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
    }
    await h.advanceTo(state.cooldownUntilMs! - 1);
    await h.turn(sessions[1]!);
    expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
    expect(h.manager.endpoint('m').state.status).toBe('cooling-down');

    await h.advanceTo(state.cooldownUntilMs!);
    expect(h.manager.endpoint('m').state.status).toBe('probing');
    await h.turn(sessions[1]!);
    expect(h.upstream.upgradeAttemptsFor('m')).toBe(2);
    expect(upgradesIn(h, 'm').map((e) => e.atMs)).toEqual([0, state.cooldownUntilMs]);
    // Still answered with Retry-After: the next window is at least Retry-After again.
    const again = h.manager.endpoint('m').state;
    expect(again.consecutiveFailures).toBe(2);
    expect(again.cooldownUntilMs! - state.cooldownUntilMs!).toBeGreaterThanOrEqual(retryAfterSeconds * 1000);
  });
});

test('429 with retry-after-ms: the millisecond hint is honoured as the cooldown floor too', async () => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: { upgradeStatus: 429, retryAfterMs: 400_000 } } });
  const s = h.session('s1', 'm');
  expect((await h.turn(s)).error).toBeUndefined();
  const state = h.manager.endpoint('m').state;
  expect(state.lastFailure).toMatchObject({ class: 'rate-limited', retryAfterMs: 400_000 });
  expect(state.cooldownUntilMs).toBeGreaterThanOrEqual(400_000);
  await h.advanceTo(399_999);
  await h.turn(s);
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
  await h.advanceTo(state.cooldownUntilMs!);
  await h.turn(s);
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(2);
});

test('flapping (accept, then drop at once): the backoff never resets; consecutiveFailures and cooldowns grow across probes', async () => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: 'flap' } });
  const cooldown = h.manager.policy.cooldown;
  const s = h.session('s1', 'm');
  const windows: number[] = [];

  for (let probe = 1; probe <= 5; probe++) {
    const startedAtMs = h.now();
    const turn = await h.turn(s);
    expect(turn.error).toBeUndefined();
    expect(turn.types).toEqual(completeTurnTypes());
    await vi.waitFor(() => expect(h.manager.endpoint('m').state).toMatchObject({ status: 'cooling-down', consecutiveFailures: probe }));
    const state = h.manager.endpoint('m').state;
    expect(state.lastFailure).toMatchObject({ class: 'network', code: '1006' });
    const windowMs = state.cooldownUntilMs! - startedAtMs;
    expect(windowMs).toBeGreaterThanOrEqual(cooldownFloorMs(cooldown, probe));
    expect(windowMs).toBeLessThanOrEqual(nominalCooldownMs(cooldown, probe));
    windows.push(windowMs);
    expect(h.upstream.upgradeAttemptsFor('m')).toBe(probe);
    // Every probe's turn was served over HTTP, exactly once.
    expect(h.upstream.httpRequestsFor('m')).toBe(probe);
    await h.advanceTo(state.cooldownUntilMs!);
    expect(h.manager.endpoint('m').state.status).toBe('probing');
  }
  for (let k = 1; k < windows.length; k++) expect(windows[k]!).toBeGreaterThan(windows[k - 1]!);
  expect(h.upstream.log.filter((e) => e.kind === 'upgrade').every((e) => e.status === 101)).toBe(true);
  expect(h.upstream.wsTurns).toBe(0);
  // Each opened socket was reported, then each cooldown logged once.
  expect(h.events.upgrade.filter((u) => u.result === 'opened')).toHaveLength(5);
  expect(h.logger.at('warn')).toHaveLength(5);
});

test('flapping: a socket that never stays up for minUptimeMs is not reported as a recovery (no "works again" line, no endpoint recovered event)', async () => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: 'flap' } });
  const s = h.session('s1', 'm');
  for (let probe = 1; probe <= 3; probe++) {
    await h.turn(s);
    await vi.waitFor(() => expect(h.manager.endpoint('m').state).toMatchObject({ status: 'cooling-down', consecutiveFailures: probe }));
    await h.advanceTo(h.manager.endpoint('m').state.cooldownUntilMs!);
  }
  // One line per state change that matters: the three cooldowns. The endpoint never worked.
  expect(h.logger.at('warn')).toHaveLength(3);
  expect(h.logger.at('info').filter((c) => c.msg?.includes('works again'))).toEqual([]);
  expect(h.events.recovered.filter((r) => r.actor === 'endpoint')).toEqual([]);
});

test('recovery: after the endpoint heals and the cooldown ends, one probe succeeds and every session moves back to WebSocket', async () => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: { upgradeStatus: 500 } } });
  const sessions = [h.session('a', 'm'), h.session('b', 'm'), h.session('c', 'm')];
  await Promise.all(sessions.map((s) => h.turn(s)));
  const cooling = h.manager.endpoint('m').state;
  expect(cooling.status).toBe('cooling-down');
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);

  h.upstream.heal('m');
  await h.advanceTo(cooling.cooldownUntilMs! - 1);
  await Promise.all(sessions.map((s) => h.turn(s)));
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
  expect(h.upstream.wsTurns).toBe(0);

  await h.advanceTo(cooling.cooldownUntilMs!);
  const probe = await h.turn(sessions[0]!);
  expect(probe.error).toBeUndefined();
  expect(probe.types).toEqual(completeTurnTypes());
  expect(h.events.turn.at(-1)).toMatchObject({ sessionId: 'a', transport: 'websocket', result: 'completed' });
  expect(h.manager.endpoint('m').state.status).toBe('healthy');
  expect(h.events.recovered).toContainEqual({ actor: 'session', id: 'a', endpointKey: 'm', downForMs: cooling.cooldownUntilMs });

  // Unproven (a flapping endpoint opens sockets too): the others stay on HTTP until it has stayed up minUptimeMs.
  const unproven = await Promise.all(sessions.slice(1).map((s) => h.turn(s)));
  expect(unproven.every((t) => t.error === undefined)).toBe(true);
  expect(sessions.slice(1).map((s) => s.state.httpReason)).toEqual(['unproven', 'unproven']);
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(2);
  expect(h.manager.endpoint('m').state.consecutiveFailures).toBe(1);

  // Once the probe's socket has stayed up for minUptimeMs, the failure streak is forgiven and everyone upgrades.
  await h.advanceBy(h.manager.policy.minUptimeMs);
  expect(h.manager.endpoint('m').state).toMatchObject({ status: 'healthy', path: 'healthy.stable', consecutiveFailures: 0 });
  const rest = await Promise.all(sessions.slice(1).map((s) => h.turn(s)));
  expect(rest.every((t) => t.error === undefined)).toBe(true);
  for (const s of sessions) expect(s.state).toMatchObject({ connection: 'connection.socket.open', transport: 'websocket' });
  expect(h.events.recovered.filter((r) => r.actor === 'session').map((r) => r.id).sort()).toEqual(['a', 'b', 'c']);
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(4);
  expect(h.upstream.wsTurns).toBe(3);
  expect(h.upstream.openWebSockets).toBe(3);
  // The endpoint's recovery is reported once: an info line "works again" and one 'recovered' event.
  const info = h.logger.at('info').filter((c) => c.msg?.includes('works again'));
  expect(info).toHaveLength(1);
  expect(info[0]!.msg).toMatch(/^WebSocket to m works again after /);
  const endpointRecovered = h.events.recovered.filter((r) => r.actor === 'endpoint');
  expect(endpointRecovered).toHaveLength(1);
  expect(endpointRecovered[0]).toMatchObject({ id: 'm', endpointKey: 'm' });
  expect(endpointRecovered[0]!.downForMs).toBeGreaterThanOrEqual(cooling.cooldownUntilMs!);
  // Later turns reuse the sockets: no more upgrades.
  await Promise.all(sessions.map((s) => h.turn(s)));
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(4);
  expect(h.upstream.wsTurns).toBe(6);
});

test('releasing and re-acquiring a session inside a cooldown starts no new upgrade', async () => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: { upgradeStatus: 500 } } });
  const first = h.session('s1', 'm');
  await h.turn(first);
  const cooling = h.manager.endpoint('m').state;
  expect(cooling.status).toBe('cooling-down');

  first.release();
  expect(first.state).toMatchObject({ released: true, connection: 'released' });
  await expect(h.turn(first).then((t) => t.error)).resolves.toBeInstanceOf(ClosedError);
  for (let i = 0; i < 20; i++) {
    await h.advanceBy(1_000);
    const again = h.session('s1', 'm');
    expect(again).not.toBe(first);
    const turn = await h.turn(again);
    expect(turn.error).toBeUndefined();
    expect(again.state).toMatchObject({ transport: 'http', httpReason: 'cooling-down', httpUntilMs: cooling.cooldownUntilMs });
    h.manager.release('s1');
  }
  expect(h.manager.sessionIds).toEqual([]);
  expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
  expect(h.upstream.httpRequestsFor('m')).toBe(21);
  expect(h.manager.endpoint('m').state).toMatchObject({ status: 'cooling-down', consecutiveFailures: 1, cooldownUntilMs: cooling.cooldownUntilMs });
  expect(h.logger.at('warn')).toHaveLength(1);
});
