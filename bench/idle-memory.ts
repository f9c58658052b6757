/**
 * What an idle session costs in heap, before its first turn, after one HTTP turn with its charts
 * running, and once `idleChartsStopAfterMs` stopped them (docs/design.md).
 * Run: node --expose-gc --import tsx bench/idle-memory.ts
 */
import { createSessionManager } from '../src/index.js';
import { startUpstream } from '../src/testing/upstream.js';
import { drain } from './lib/raw-clients.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const heap = (): number => {
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
};
const kib = (bytes: number, n: number): string => `${(bytes / n / 1024).toFixed(2)} KiB/session`;

const upstream = await startUpstream({ deltasPerTurn: 1, modes: { cool: { upgradeStatus: 500 } } });
const manager = createSessionManager({
  endpoints: { cool: { wsUrl: upstream.wsUrl('cool'), httpUrl: upstream.httpUrl, credentials: 'tok-bench-0001' } },
  policy: { cooldown: { initialMs: 3_600_000, maxMs: 3_600_000 }, idleChartsStopAfterMs: 1_000 },
});
await drain(manager.session('warm', 'cool').stream({ model: 'cool', input: 'warm' }));
const n = 2_000;
const ids = Array.from({ length: n }, (_, i) => `session-${i}`);
const base = heap();
for (const id of ids) manager.session(id, 'cool');
const idle = heap();
for (const id of ids) await drain(manager.session(id, 'cool').stream({ model: 'cool', input: 'x' }));
const afterTurn = heap();
await new Promise((resolve) => setTimeout(resolve, 2_500));
const stopped = heap();
const running = manager.actors().filter((a) => a.kind === 'session').length;
console.log(`never streamed: ${kib(idle - base, n)}`);
console.log(`after one HTTP turn, charts running: ${kib(afterTurn - base, n)}`);
console.log(`charts stopped after idleChartsStopAfterMs: ${kib(stopped - base, n)} (${running} session actors left)`);
await manager.close();
await upstream.close();
