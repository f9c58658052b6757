import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startInspector, type Inspector } from '../../src/inspector/index.js';
import { STATELY_LIMITS } from '../../src/inspector/server.js';
import { startScenario, type Scenario } from '../inspector/support/scenario.js';

/**
 * Issue 11, Deliver 5: nothing a `/stately` client sends blocks the host's event loop. The
 * regression this guards: one 30 KB definition (390 states × 4 transitions) was laid out by ELK
 * on the main thread and stalled the gateway for 33.6 s.
 */

/** Worst stall allowed, in ms: generous for a loaded 2-core machine, 130 times below the regression. */
const MAX_STALL_MS = 250;

let scenario: Scenario;
let inspector: Inspector;
beforeAll(async () => {
  scenario = await startScenario();
  inspector = await startInspector(scenario.manager);
});
afterAll(async () => {
  await inspector?.close();
  await scenario?.close();
});

/** A machine config of `states` states, each with `perState` transitions to others. */
function definition(states: number, perState: number, id = 'hostile'): string {
  const nodes: Record<string, unknown> = {};
  for (let i = 0; i < states; i++) {
    const on: Record<string, string> = {};
    for (let t = 0; t < perState; t++) on[`E${t}`] = `s${(i * (t + 3) + t + 1) % states}`;
    nodes[`s${i}`] = { on };
  }
  return JSON.stringify({ id, initial: 's0', states: nodes });
}

function actorMessage(sessionId: string, def: string): string {
  return JSON.stringify({ type: '@xstate.actor', _version: '0.7.2', createdAt: String(Date.now()), id: null, rootId: sessionId, sessionId, name: 'hostile', definition: def, snapshot: { status: 'active' } });
}

async function openStately(): Promise<{ ws: WebSocket; replies: Record<string, unknown>[] }> {
  const ws = new WebSocket(inspector.statelyUrl);
  const replies: Record<string, unknown>[] = [];
  ws.on('message', (data) => replies.push(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return { ws, replies };
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a hostile definition (390 states × 4 transitions, ~30 KB) is rejected with a sentence, and the event loop never stalls', async () => {
  const hostile = definition(390, 4);
  expect(hostile.length).toBeGreaterThan(20_000);
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const { ws, replies } = await openStately();
  ws.send(actorMessage('x:hostile', hostile));
  await until(() => replies.some((reply) => reply.type === 'rejected'), 'the rejection');
  histogram.disable();
  const reason = String(replies.find((reply) => reply.type === 'rejected')!.reason);
  expect(reason).toBe(`definition rejected: 391 states and 1560 transitions, more than the ${STATELY_LIMITS.states} states or ${STATELY_LIMITS.transitions} transitions the inspector lays out`);
  const worstMs = histogram.max / 1e6;
  if (process.env['REPORT_FIGURES']) console.log(`event loop: worst stall ${worstMs.toFixed(1)} ms while a 390-state definition arrived`);
  expect(worstMs).toBeLessThan(MAX_STALL_MS);
  ws.close();
});

test('definitions just inside the limits are laid out on a worker thread: the event loop stays free while ELK works', async () => {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  const { ws, replies } = await openStately();
  const viewer = new WebSocket(inspector.url.replace('http://', 'ws://').replace('/?', '/ws?'));
  const frames: Record<string, unknown>[] = [];
  viewer.on('message', (data) => frames.push(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise((resolve) => viewer.once('message', resolve));
  histogram.enable();
  const started = performance.now();
  // As big as accepted: ELK on the main thread took 3.2 s for 100 states in the audit.
  const perState = Math.floor(STATELY_LIMITS.transitions / STATELY_LIMITS.states);
  ws.send(actorMessage('x:big', definition(STATELY_LIMITS.states - 1, perState, 'big')));
  // It either reaches the page as a chart or is reported as not shown (layout past its bound).
  await until(() => frames.some((f) => f.type === 'chart') || replies.some((r) => r.type === 'rejected'), 'the layout', 60_000);
  histogram.disable();
  const worstMs = histogram.max / 1e6;
  if (process.env['REPORT_FIGURES']) console.log(`event loop: worst stall ${worstMs.toFixed(1)} ms over ${(performance.now() - started).toFixed(0)} ms of one ${STATELY_LIMITS.states - 1}-state layout`);
  // This window lasts seconds (the layout runs up to LAYOUT_TIMEOUT_MS), long enough for a
  // loaded 2-core machine to deschedule an idle process for a few hundred ms; on the main
  // thread the same layout stalls for seconds, so one second still tells them apart.
  expect(worstMs).toBeLessThan(1_000);
  ws.close();
  viewer.close();
}, 90_000);

test('a definition past the byte limit, and more charts than the limit, are rejected with a sentence', async () => {
  const { ws, replies } = await openStately();
  const huge = JSON.stringify({ id: 'huge', initial: 'a', states: { a: {} }, description: 'x'.repeat(STATELY_LIMITS.definitionBytes) });
  ws.send(actorMessage('x:huge', huge));
  await until(() => replies.some((reply) => reply.type === 'rejected'), 'the rejection');
  expect(String(replies[0]!.reason)).toMatch(/^definition rejected: \d+ bytes, more than the 65536 the inspector lays out$/);
  for (let i = 0; i < STATELY_LIMITS.charts + 2; i++) ws.send(actorMessage(`x:small${i}`, definition(2, 1, `small${i}`)));
  await until(() => replies.some((reply) => String(reply.reason).includes('already holds')), 'the chart-count rejection');
  expect(replies.map((reply) => String(reply.reason))).toContain(`definition rejected: the inspector already holds ${STATELY_LIMITS.charts} charts`);
  ws.close();
});

test('the inspector handle is AsyncDisposable', async () => {
  let url: string;
  {
    await using disposable = await startInspector(scenario.manager);
    url = disposable.url;
    expect((await fetch(url)).status).toBe(200);
  }
  await expect(fetch(url)).rejects.toThrow();
});
