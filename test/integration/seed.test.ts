import { afterEach, expect, test } from 'vitest';
import { cooldownFloorMs, nominalCooldownMs } from '../../machines/backoff.js';
import { closeHarnesses, completeTurnTypes, startHarness } from '../support/manager-harness.js';

afterEach(closeHarnesses);

/**
 * Seed issue 57814: the upgrade answers 500 for one model only, HTTP is fine. The incident's
 * release tried the WebSocket (and logged a warning) on every turn; here the bad endpoint is
 * probed about once per cooldown window, whatever the number of sessions and turns.
 */
test('seed 57814: upgrade 500 on one model: every turn completes, probes only once per cooldown window, one warn per cooldown', async () => {
  const h = await startHarness({
    endpoints: { 'gpt-5.4': {}, 'glm-5': {} },
    modes: { 'gpt-5.4': { upgradeStatus: 500 } },
  });
  const { manager, upstream } = h;
  const policy = manager.policy;
  const bad = Array.from({ length: 10 }, (_, i) => h.session(`bad-${i}`, 'gpt-5.4'));
  const good = Array.from({ length: 5 }, (_, i) => h.session(`good-${i}`, 'glm-5'));
  const periodMs = 30_000;
  const durationMs = 2 * 60 * 60 * 1000;
  const ticks = durationMs / periodMs;

  let completed = 0;
  const failures: unknown[] = [];
  for (let tick = 0; tick < ticks; tick++) {
    expect(h.now()).toBe(tick * periodMs);
    const results = await Promise.all([...bad, ...good].map((session) => h.turn(session)));
    for (const result of results) {
      if (result.error !== undefined) failures.push(result.error);
      else if (JSON.stringify(result.types) === JSON.stringify(completeTurnTypes())) completed += 1;
    }
    await h.advanceBy(periodMs);
  }
  const lastTickMs = (ticks - 1) * periodMs;

  // Client side: every turn completed, with all its events.
  expect(failures).toEqual([]);
  expect(completed).toBe(ticks * 15);
  expect(h.events.turn.filter((t) => t.result === 'completed')).toHaveLength(ticks * 15);

  // Bounds on probes of the bad endpoint from the cooldown policy. Each failed probe starts a
  // cooldown of at least floor(k) (k-th consecutive failure); the next probe comes with the
  // first turn after it, at most one period later than the nominal window.
  let maxProbes = 0;
  for (let at = 0, k = 1; at <= lastTickMs; at += cooldownFloorMs(policy.cooldown, k), k++) maxProbes++;
  let minProbes = 0;
  for (let at = 0, k = 1; at <= lastTickMs; at += nominalCooldownMs(policy.cooldown, k) + periodMs, k++) minProbes++;
  const badUpgrades = upstream.upgradeAttemptsFor('gpt-5.4');
  expect(badUpgrades).toBeGreaterThanOrEqual(minProbes);
  expect(badUpgrades).toBeLessThanOrEqual(maxProbes);
  expect(maxProbes).toBeLessThan(15); // vs 2 400 turns on the bad model
  // Server side: the gaps between upgrades of the bad model respect the growing floors.
  const probeTimes = upstream.log.filter((e) => e.kind === 'upgrade' && e.model === 'gpt-5.4').map((e) => e.atMs);
  expect(probeTimes).toHaveLength(badUpgrades);
  expect(upstream.log.filter((e) => e.kind === 'upgrade' && e.model === 'gpt-5.4').every((e) => e.status === 500)).toBe(true);
  for (let k = 1; k < probeTimes.length; k++) {
    expect(probeTimes[k]! - probeTimes[k - 1]!).toBeGreaterThanOrEqual(cooldownFloorMs(policy.cooldown, k));
  }
  // Every bad turn went over HTTP, served once each.
  expect(upstream.httpRequestsFor('gpt-5.4')).toBe(ticks * 10);

  // The good model streams over WebSocket: one upgrade per session, every later turn on its socket.
  // (On the very first tick the endpoint is half-open: one session probes, the other four go over HTTP once.)
  expect(upstream.upgradeAttemptsFor('glm-5')).toBe(5);
  expect(upstream.httpRequestsFor('glm-5')).toBeLessThanOrEqual(4);
  expect(upstream.wsTurns).toBe(ticks * 5 - upstream.httpRequestsFor('glm-5'));
  expect(h.events.turn.filter((t) => t.endpointKey === 'glm-5' && t.transport === 'websocket')).toHaveLength(upstream.wsTurns);
  for (const session of good) expect(session.state.transport).toBe('websocket');
  for (const session of bad) {
    expect(session.state.transport).toBe('http');
    expect(session.state.lastFailure?.class === undefined || session.state.lastFailure.class === 'transient-server').toBe(true);
  }
  expect(manager.endpoint('glm-5').state.status).toBe('healthy');
  const badState = manager.endpoint('gpt-5.4').state;
  expect(['cooling-down', 'probing']).toContain(badState.status);
  expect(badState.consecutiveFailures).toBe(badUpgrades);
  expect(badState.lastFailure).toMatchObject({ class: 'transient-server', code: '500' });

  // Logs: one warn line per cooldown entry of the bad endpoint, none per turn, none for the good one.
  const coolingEntries = h.events.transition.filter((t) => t.actor === 'endpoint' && t.id === 'gpt-5.4' && t.to === 'coolingDown');
  expect(coolingEntries).toHaveLength(badUpgrades);
  const warns = h.logger.at('warn');
  expect(warns).toHaveLength(badUpgrades);
  for (const warn of warns) expect(warn.msg).toMatch(/^WebSocket to gpt-5\.4 unavailable \(upgrade answered HTTP 500\); turns go over HTTP; next probe in /);
  expect(h.logger.calls.filter((c) => c.level !== 'debug')).toHaveLength(badUpgrades);
  // The move to HTTP is reported once per session, not once per turn.
  expect(h.events.fallback.filter((f) => f.endpointKey === 'gpt-5.4')).toHaveLength(10);
  expect(h.events.upgrade.filter((u) => u.endpointKey === 'gpt-5.4')).toHaveLength(badUpgrades);
  expect(h.events.upgrade.filter((u) => u.endpointKey === 'gpt-5.4').every((u) => u.result === 'failed' && u.failure?.class === 'transient-server')).toBe(true);
});
