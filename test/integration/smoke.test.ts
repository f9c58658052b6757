import { afterEach, expect, test } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createSessionManager } from '../../src/index.js';
import { startUpstream, type Upstream } from '../../src/testing/upstream.js';

let upstream: Upstream | undefined;
afterEach(async () => {
  await upstream?.close();
});

test('smoke: a turn over WebSocket on a good endpoint; a 500 endpoint is probed once, then HTTP', async () => {
  upstream = await startUpstream({ modes: { bad: { upgradeStatus: 500 } } });
  const clock = new SimulatedClock();
  const manager = createSessionManager({
    clock,
    endpoints: {
      good: { wsUrl: upstream.wsUrl('good'), httpUrl: upstream.httpUrl, credentials: 'tok-aaaaaaaa' },
      bad: { wsUrl: upstream.wsUrl('bad'), httpUrl: upstream.httpUrl, credentials: 'tok-aaaaaaaa' },
    },
  });
  const transitions: string[] = [];
  manager.on('transition', (e) => transitions.push(`${e.actor}:${e.id} ${e.from} -> ${e.to} (${e.cause})`));

  const good = manager.session('s1', 'good');
  const types: string[] = [];
  for await (const event of good.stream({ model: 'good', input: 'hi' })) types.push(event.type);
  expect(types[0]).toBe('response.created');
  expect(types.at(-1)).toBe('response.completed');
  expect(good.state).toMatchObject({ connection: 'connection.socket.open', transport: 'websocket' });

  const bad = manager.session('s2', 'bad');
  for (let turn = 0; turn < 3; turn++) {
    for await (const _event of bad.stream({ model: 'bad', input: 'hi' })) {
      // drained
    }
  }
  expect(bad.state).toMatchObject({ transport: 'http', httpReason: 'cooling-down' });
  expect(manager.endpoint('bad').state).toMatchObject({ status: 'cooling-down', consecutiveFailures: 1 });
  expect(upstream.upgradeAttemptsFor('bad')).toBe(1);
  expect(upstream.httpRequestsFor('bad')).toBe(3);
  expect(transitions).toContain('endpoint:bad probing.probeInFlight -> coolingDown (UPGRADE_FAILED)');
  await manager.close();
});
