import { afterEach, expect, test } from 'vitest';
import { SimulatedClock } from 'xstate';
import { createSessionManager } from '../../src/index.js';
import { startUpstream, type Upstream } from '../../src/testing/upstream.js';

let upstream: Upstream | undefined;
afterEach(async () => {
  await upstream?.close();
});

test('smoke: a turn over websocket, then a 500 endpoint over http', async () => {
  upstream = await startUpstream({ modes: { bad: { upgradeStatus: 500 } } });
  const clock = new SimulatedClock();
  const manager = createSessionManager({
    clock,
    endpoints: {
      good: { wsUrl: upstream.wsUrl('good'), httpUrl: upstream.httpUrl, credentials: 'tok-aaaaaaaa' },
      bad: { wsUrl: upstream.wsUrl('bad'), httpUrl: upstream.httpUrl, credentials: 'tok-aaaaaaaa' },
    },
  });
  const events: string[] = [];
  manager.on('transition', (e) => events.push(`${e.actor}:${e.id} ${e.from} -> ${e.to} (${e.cause})`));
  const s = manager.session('s1', 'good');
  const got: string[] = [];
  for await (const ev of s.stream({ model: 'good', input: 'hi' })) got.push(ev.type);
  console.log(got, s.state);
  const b = manager.session('s2', 'bad');
  for await (const ev of b.stream({ model: 'bad', input: 'hi' })) got.push(ev.type);
  console.log(b.state, manager.endpoint('bad').state);
  for await (const ev of b.stream({ model: 'bad', input: 'hi' })) got.push(ev.type);
  console.log(events.join('\n'));
  console.log(upstream.log);
  await manager.close();
  expect(upstream.upgradeAttemptsFor('bad')).toBe(1);
});
