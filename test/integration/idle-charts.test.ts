import { afterEach, expect, test } from 'vitest';
import { closeHarnesses, startHarness } from '../support/manager-harness.js';

/**
 * Issue 12: an idle session (no turn, no socket) holds no running actor. Its charts start with
 * its first turn and stop after `idleChartsStopAfterMs` without one; a session keeps no health of
 * its own, so the fresh charts of its next turn hear the same verdicts from the endpoint.
 */

afterEach(closeHarnesses);

const sessionActors = (h: { manager: { actors(): { kind: string }[] } }): number => h.manager.actors().filter((a) => a.kind === 'session').length;

test('a session holds no actor before its first turn, nor once it was idle for idleChartsStopAfterMs; its next turn still goes over HTTP while the endpoint cools down', async () => {
  const h = await startHarness({ endpoints: { bad: {} }, modes: { bad: { upgradeStatus: 500 } }, policy: { idleChartsStopAfterMs: 10_000 } });
  const s = h.session('s1', 'bad');
  expect(sessionActors(h)).toBe(0);
  expect(s.state).toMatchObject({ connection: 'connection.idle', turn: 'turn.idle', transport: 'http', released: false });

  expect((await h.turn(s)).error).toBeUndefined();
  expect(sessionActors(h)).toBe(1);
  expect(h.manager.endpoint('bad').state.status).toBe('cooling-down');
  const upgrades = h.upstream.upgradeAttempts;

  await h.advanceBy(5_000);
  expect(sessionActors(h)).toBe(1);
  await h.advanceBy(6_000);
  expect(sessionActors(h)).toBe(0);
  expect(s.state.released).toBe(false);
  // Stopping idle charts is no transition of the session: nothing says it was released.
  expect(h.events.transition.filter((t) => t.to === 'released')).toEqual([]);

  const next = await h.turn(s);
  expect(next.error).toBeUndefined();
  expect(h.events.turn.at(-1)).toMatchObject({ result: 'completed', transport: 'http' });
  // Still cooling down: the fresh charts asked the endpoint, which said no; nobody upgraded.
  expect(h.upstream.upgradeAttempts).toBe(upgrades);
  expect(h.logger.at('warn')).toHaveLength(1);
  // One stay on HTTP, one `fallback`: the fresh charts took over when it began.
  expect(h.events.fallback).toHaveLength(1);
});

test('a session with an open socket keeps its charts, however long it is idle', async () => {
  const h = await startHarness({ endpoints: { m: {} }, policy: { idleChartsStopAfterMs: 10_000, pingIntervalMs: 0 } });
  const s = h.session('s1', 'm');
  expect((await h.turn(s)).error).toBeUndefined();
  expect(h.events.turn.at(-1)).toMatchObject({ transport: 'websocket' });
  await h.advanceBy(60_000);
  expect(sessionActors(h)).toBe(1);
  expect(s.state.connection).toBe('connection.socket.open');
});

test('0 keeps idle charts running', async () => {
  const h = await startHarness({ endpoints: { bad: {} }, modes: { bad: { upgradeStatus: 500 } }, policy: { idleChartsStopAfterMs: 0 } });
  const s = h.session('s1', 'bad');
  await h.turn(s);
  await h.advanceBy(3_600_000);
  expect(sessionActors(h)).toBe(1);
});
