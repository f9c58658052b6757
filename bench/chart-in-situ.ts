/**
 * Where the turn chart's time goes inside real turns (docs/performance.md, row 4): a session
 * streams 1,000-event HTTP turns while its endpoint cools down, and the time inside the turn
 * chart's `send` is summed per event type, with `TURN_COMPLETED` split at the moment the chart
 * emits `turn.ended`. Try `--max-semi-space-size=64` (GC) and WARM=6000 (JIT warm-up).
 * Run: node --import tsx bench/chart-in-situ.ts
 */
import type { TurnActorRef } from '../machines/index.js';
import { createSessionManager } from '../src/index.js';
import { drain } from './lib/raw-clients.js';
import { startRemoteUpstream } from './lib/upstream-child.js';

const upstream = await startRemoteUpstream({ deltasPerTurn: 998, modes: { cool: { upgradeStatus: 500 } } });
const manager = createSessionManager({
  endpoints: { cool: { wsUrl: upstream.wsUrl('cool'), httpUrl: upstream.httpUrl, credentials: 'tok-bench-0001' } },
  policy: { cooldown: { initialMs: 3_600_000, maxMs: 3_600_000 } },
});
const session = manager.session('in-situ', 'cool');
const body = { model: 'cool', input: 'benchmark' };
await drain(session.stream(body));
await drain(session.stream(body));
const turnChart = (session.chartActor?.getSnapshot().children.turn as TurnActorRef | undefined)!;
const send = turnChart.send.bind(turnChart);
const byType = new Map<string, number>();
let emittedAtMs = 0;
let untilEmitMs = 0;
let afterEmitMs = 0;
turnChart.on('turn.ended', () => void (emittedAtMs = performance.now()));
(turnChart as { send: TurnActorRef['send'] }).send = (event) => {
  const started = performance.now();
  send(event);
  const ended = performance.now();
  byType.set(event.type, (byType.get(event.type) ?? 0) + ended - started);
  if (event.type === 'TURN_COMPLETED') {
    untilEmitMs += emittedAtMs - started;
    afterEmitMs += ended - emittedAtMs;
  }
};
const warm = Number(process.env['WARM'] ?? 1_000);
for (let i = 0; i < warm; i++) await drain(session.stream(body));
byType.clear();
untilEmitMs = 0;
afterEmitMs = 0;
const turns = 300;
for (let i = 0; i < turns; i++) await drain(session.stream(body));
const us = (ms: number): string => `${((ms * 1000) / turns).toFixed(1)} µs/turn`;
for (const [type, ms] of byType) console.log(`${type}: ${us(ms)}`);
console.log(`TURN_COMPLETED until turn.ended is emitted: ${us(untilEmitMs)}; after: ${us(afterEmitMs)}`);
await manager.close();
await upstream.close();
