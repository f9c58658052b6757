import { afterAll, beforeAll, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { createActor, createMachine, type InspectionEvent } from 'xstate';
import { startInspector, type Inspector } from '../../src/inspector/index.js';
import { startScenario, type Scenario } from './support/scenario.js';

/**
 * `/stately` accepts what `@statelyai/inspect`'s `createWebSocketInspector({ url })` sends: one
 * JSON message per inspection event, `@xstate.actor` (with the machine config as a JSON string
 * in `definition`), `@xstate.event` and `@xstate.snapshot`. The client here sends that shape
 * (the package itself is not a dependency: its socket retries forever and logs to the console).
 */

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

const light = createMachine({
  id: 'light',
  initial: 'green',
  context: { apiKey: 'light-secret-value-123' },
  states: {
    green: { on: { TIMER: 'yellow' } },
    yellow: { on: { TIMER: 'red' } },
    red: {
      initial: 'walk',
      states: {
        walk: { on: { PED_TIMER: 'wait' } },
        wait: { on: { PED_TIMER: 'stop' } },
        stop: { on: { TIMER: '#light.green' } },
      },
    },
  },
});

/** What @statelyai/inspect's convertXStateEvent makes of an inspection event (its message shape, version 0.4+). */
function statelyMessage(event: InspectionEvent): Record<string, unknown> | undefined {
  const base = { _version: '0.7.2', createdAt: Date.now().toString(), id: null, rootId: event.rootId, sessionId: event.actorRef.sessionId };
  switch (event.type) {
    case '@xstate.actor': {
      const config = (event.actorRef as unknown as { logic?: { config?: { id?: string } } }).logic?.config;
      return {
        ...base,
        type: '@xstate.actor',
        name: config?.id ?? (event.actorRef as unknown as { id: string }).id,
        parentId: (event.actorRef as unknown as { _parent?: { sessionId: string } })._parent?.sessionId,
        definition: JSON.stringify(config, (_key, value: unknown) => (typeof value === 'function' ? { type: value.name } : value)),
        snapshot: event.actorRef.getSnapshot() ?? { status: 'active' },
      };
    }
    case '@xstate.event':
      return { ...base, type: '@xstate.event', event: event.event, sourceId: event.sourceRef?.sessionId };
    case '@xstate.snapshot':
      return { ...base, type: '@xstate.snapshot', event: event.event, snapshot: JSON.parse(JSON.stringify(event.snapshot)) };
    default:
      return undefined;
  }
}

test('an xstate app streaming to /stately shows up: its chart from its definition, its actor, its timeline', async () => {
  const viewer = new WebSocket(inspector.url.replace('http://', 'ws://').replace('/?', '/ws?'));
  const messages: Record<string, unknown>[] = [];
  viewer.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise((resolve) => viewer.once('message', resolve));

  const app = new WebSocket(inspector.statelyUrl);
  await new Promise((resolve, reject) => {
    app.once('open', resolve);
    app.once('error', reject);
  });
  // As the real inspector: convert a little later (it uses an idle callback; the snapshot cannot be read while the actor initializes).
  const actor = createActor(light, {
    inspect: (event) =>
      queueMicrotask(() => {
        const message = statelyMessage(event);
        if (message) app.send(JSON.stringify(message));
      }),
  });
  actor.start();
  actor.send({ type: 'TIMER' });
  actor.send({ type: 'TIMER' });
  actor.send({ type: 'PED_TIMER' });

  const deadline = Date.now() + 5_000;
  const find = <T>(pick: () => T | undefined): Promise<T> =>
    new Promise((resolve, reject) => {
      const poll = (): void => {
        const found = pick();
        if (found !== undefined) return resolve(found);
        if (Date.now() > deadline) return reject(new Error('not received in time'));
        setTimeout(poll, 20);
      };
      poll();
    });

  const chart = await find(() => messages.find((m) => m.type === 'chart')?.chart as { name: string; title: string; nodes: { path: string; type: string }[]; edges: { source: string; target: string; label?: { lines: string[] } }[] } | undefined);
  expect(chart.title).toBe('light');
  expect(chart.nodes.filter((n) => n.type !== 'initial').map((n) => n.path)).toEqual(['', 'green', 'yellow', 'red', 'red.walk', 'red.wait', 'red.stop']);
  expect(chart.edges.find((e) => e.source === 'red.stop' && e.target === 'green')?.label?.lines).toEqual(['TIMER']);

  const view = await find(() => {
    const actors = messages.flatMap((m) => (m.actors as { kind: string; id: string; chart: string; state: string }[] | undefined) ?? []);
    return actors.reverse().find((a) => a.kind === 'xstate' && a.chart === chart.name && a.state === 'red.wait');
  });
  expect(view.id).toMatch(/^light \(x:\d+ #\d+\)$/);

  const timeline = messages.flatMap((m) => (m.timeline as { actor: string; event: string; from: string[]; to: string[] }[] | undefined) ?? []);
  expect(timeline.filter((e) => e.actor.startsWith('xstate:light')).map((e) => `${e.event}: ${e.from.join()} -> ${e.to.join()}`)).toEqual([
    'start:  -> green',
    'TIMER: green -> yellow',
    'TIMER: yellow -> red.walk',
    'PED_TIMER: red.walk -> red.wait',
  ]);
  // The app's context went through the same sanitizer.
  expect(JSON.stringify(messages)).not.toContain('light-secret-value-123');

  actor.stop();
  app.close();
  viewer.close();
});

test('/stately needs the token too', async () => {
  const status = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(inspector.statelyUrl.replace(/token=[^&]+/, 'token=nope-nope-nope'));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.once('open', () => resolve(101));
    ws.once('error', reject);
  });
  expect(status).toBe(401);
});
