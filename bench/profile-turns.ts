/**
 * CPU profile of a steady loop of turns: rows 1 and 2 one contender at a time, so the profile
 * shows where that contender's time goes (the upstream runs in a child process and is not in
 * it). The V8 profiler starts after 1,000 warmup turns (the JIT's steady state) and the
 * profile is written to <out>.
 *
 *   node --import tsx bench/profile-turns.ts http|ws package|raw <seconds> <out.cpuprofile>
 */
import { Session as InspectorSession } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { createSessionManager, openAIResponses } from '../src/index.js';
import { RawWebSocketClient, drain, rawHttpTurn } from './lib/raw-clients.js';
import { startRemoteUpstream } from './lib/upstream-child.js';

const [transport = 'http', who = 'package', secondsText = '5', out = `bench/profiles/${transport}-${who}.cpuprofile`] = process.argv.slice(2);
const seconds = Number(secondsText);
const TOKEN = 'tok-bench-0001';
const upstream = await startRemoteUpstream({ deltasPerTurn: 998, modes: { cool: { upgradeStatus: 500 } } });
const model = transport === 'http' ? 'cool' : 'good';
const manager = createSessionManager({
  endpoints: { [model]: { wsUrl: upstream.wsUrl(model), httpUrl: upstream.httpUrl, credentials: TOKEN } },
  policy: { cooldown: { initialMs: 3_600_000, maxMs: 3_600_000 } },
  jitterSeed: 1,
});
const body = { model, input: 'benchmark' };
const session = manager.session('profile', model);
await drain(session.stream(body));
const raw = transport === 'ws' ? await RawWebSocketClient.open(upstream.wsUrl(model), TOKEN) : undefined;
const frame = openAIResponses.webSocketFrame(body);
const turn =
  who === 'package'
    ? () => drain(session.stream(body))
    : transport === 'http'
      ? () => rawHttpTurn(upstream.httpUrl, TOKEN, body)
      : () => raw!.turn(frame);
for (let i = 0; i < 1000; i++) await turn();
const inspector = new InspectorSession();
inspector.connect();
const post = (method: string, params?: object) =>
  new Promise<unknown>((resolve, reject) => inspector.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));
await post('Profiler.enable');
await post('Profiler.setSamplingInterval', { interval: 200 });
await post('Profiler.start');
const started = performance.now();
let turns = 0;
while (performance.now() - started < seconds * 1000) {
  await turn();
  turns++;
}
const elapsed = performance.now() - started;
const { profile } = (await post('Profiler.stop')) as { profile: unknown };
writeFileSync(out, JSON.stringify(profile));
inspector.disconnect();
console.log(JSON.stringify({ transport, who, turns, msPerTurn: elapsed / turns }));
raw?.close();
await manager.close();
await upstream.close();
