/**
 * Where a turn's time goes, layer by layer, in CPU time per 1,000-event turn (robust to other
 * load on the machine). Each layer adds one part of the package on top of the previous one:
 *
 * HTTP (body served in memory by a stubbed `fetch`, so no socket noise):
 *   1 fetch + createParser + JSON.parse  →  2 + SseDecoder & protocol decoding
 *   →  3 + streamHttp (async generator, deadlines, abort wiring, drain)
 *   →  4 + Session.stream (charts, a second async generator, turn bookkeeping)
 * WebSocket (loopback upstream child):
 *   1 raw ws, callback  →  2 raw ws, async generator
 *   →  3 openWebSocket + streamTurn (PushQueue, deadlines)  →  4 + Session.stream
 * and, in layer 4, the CPU spent inside the `send` of the session's turn chart and session chart
 * actors (the endpoint and credential charts run synchronously inside them): the charts' share.
 *
 * Every (transport, layer) runs in its own process, three times, alternating, so layers do not
 * share JIT feedback and drift hits them alike; the median of the three is reported.
 *
 *   node --import tsx bench/layers.ts        (about a minute; prints a table and JSON)
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createParser } from 'eventsource-parser';
import { createSessionManager, openAIResponses, type SessionManager } from '../src/index.js';
import type { SessionActorRef, TurnActorRef } from '../machines/index.js';
import { streamHttp } from '../src/transports/http-sse.js';
import { SseDecoder } from '../src/transports/sse-decoder.js';
import { openWebSocket } from '../src/transports/websocket.js';
import { buildTurn, encodeSseEvent } from '../src/testing/upstream-events.js';
import { RawWebSocketClient, drain } from './lib/raw-clients.js';
import { median, round } from './lib/stats.js';
import { startRemoteUpstream } from './lib/upstream-child.js';

const TOKEN = 'tok-bench-0001';
const STUB_URL = 'http://127.0.0.1:9/v1/responses';
const WARMUP = 1000;
const TURNS = 200;
const REPEATS = 3;

type Transport = 'http' | 'websocket';
const LAYERS: Record<Transport, string[]> = {
  http: ['1 fetch + createParser + JSON.parse', '2 + SseDecoder, protocol decoding', '3 + streamHttp (async generator)', '4 + Session.stream (charts, 2nd generator)'],
  websocket: ['1 raw ws, callback', '2 raw ws, async generator', '3 openWebSocket + streamTurn (PushQueue)', '4 + Session.stream (charts, generator)'],
};

/** CPU ms per turn over TURNS turns after WARMUP. */
async function cpuPerTurn(turn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < WARMUP; i++) await turn();
  const start = process.cpuUsage();
  for (let i = 0; i < TURNS; i++) await turn();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000 / TURNS;
}

/**
 * CPU ms per turn spent inside the send of the session's turn chart (where the facade sends a
 * turn's events) and of its session chart, over TURNS more turns. One chart's message to another
 * does not go through `send`, so nothing is counted twice.
 */
async function chartCpuPerTurn(manager: SessionManager, sessionId: string, turn: () => Promise<unknown>): Promise<number> {
  const session = manager.actors().find((a) => a.kind === 'session' && a.id === sessionId)?.actor as SessionActorRef;
  const turnChart = session.getSnapshot().children.turn as TurnActorRef;
  let cpuUs = 0;
  for (const actor of [session, turnChart] as { send(event: unknown): void }[]) {
    const send = actor.send.bind(actor);
    actor.send = (event) => {
      const start = process.cpuUsage();
      send(event);
      const used = process.cpuUsage(start);
      cpuUs += used.user + used.system;
    };
  }
  for (let i = 0; i < TURNS; i++) await turn();
  return cpuUs / 1000 / TURNS;
}

function stubFetch(): void {
  const payload = new TextEncoder().encode(buildTurn('cool', 'resp_1', 998, 'ok', encodeSseEvent).frames.join(''));
  const chunks = [payload.subarray(0, 65_536), payload.subarray(65_536, 131_072), payload.subarray(131_072)];
  const realFetch = globalThis.fetch;
  globalThis.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    if (String(input) !== STUB_URL) return realFetch(input, init);
    let i = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i < chunks.length) controller.enqueue(chunks[i++]!);
        else controller.close();
      },
    });
    return Promise.resolve(new Response(body, { status: 200, headers: { 'content-type': 'text/event-stream' } }));
  }) as typeof fetch;
}

/** In a child: measures one layer; returns [cpu ms per turn, charts' cpu ms per turn or undefined]. */
async function measureOne(transport: Transport, layer: number): Promise<[number, number | undefined]> {
  if (transport === 'http') {
    stubFetch();
    const upstream = await startRemoteUpstream({ deltasPerTurn: 1, modes: { cool: { upgradeStatus: 500 } } });
    const manager = createSessionManager({
      endpoints: { cool: { wsUrl: upstream.wsUrl('cool'), httpUrl: STUB_URL, credentials: TOKEN } },
      policy: { cooldown: { initialMs: 3_600_000, maxMs: 3_600_000 } },
    });
    const body = { model: 'cool', input: 'benchmark' };
    try {
      const session = manager.session('layers', 'cool');
      await drain(session.stream(body));
      if (manager.endpoint('cool').state.status !== 'cooling-down') throw new Error('layers: the endpoint is not cooling down');
      const options = { url: STUB_URL, token: TOKEN, body, protocol: openAIResponses, firstEventTimeoutMs: 60_000, idleTimeoutMs: 300_000 };
      const turns: (() => Promise<unknown>)[] = [
        async () => {
          const response = await fetch(STUB_URL, { method: 'POST', body: '{}' });
          let n = 0;
          const parser = createParser({ onEvent: (m) => void (JSON.parse(m.data), n++) });
          const reader = response.body!.getReader();
          const decoder = new TextDecoder();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return n;
            parser.feed(decoder.decode(value, { stream: true }));
          }
        },
        async () => {
          const response = await fetch(STUB_URL, { method: 'POST', body: '{}' });
          const sse = new SseDecoder(openAIResponses, 1 << 24, 'layers');
          const reader = response.body!.getReader();
          let n = 0;
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return n;
            sse.feed(value);
            for (const event of sse.pending) if (!openAIResponses.isTerminal(event)) n++;
            sse.pending.length = 0;
          }
        },
        () => drain(streamHttp(options)),
        () => drain(session.stream(body)),
      ];
      const turn = turns[layer - 1]!;
      const cpu = await cpuPerTurn(turn);
      return [cpu, layer === 4 ? await chartCpuPerTurn(manager, 'layers', turn) : undefined];
    } finally {
      await manager.close();
      await upstream.close();
    }
  }
  const upstream = await startRemoteUpstream({ deltasPerTurn: 998 });
  const manager = createSessionManager({ endpoints: { good: { wsUrl: upstream.wsUrl('good'), httpUrl: upstream.httpUrl, credentials: TOKEN } } });
  const body = { model: 'good', input: 'benchmark' };
  const frame = openAIResponses.webSocketFrame(body);
  const turnOptions = { protocol: openAIResponses, firstEventTimeoutMs: 60_000, idleTimeoutMs: 300_000 };
  try {
    if (layer === 4) {
      const session = manager.session('layers', 'good');
      await drain(session.stream(body));
      if (session.state.transport !== 'websocket') throw new Error('layers: no open socket');
      const turn = () => drain(session.stream(body));
      return [await cpuPerTurn(turn), await chartCpuPerTurn(manager, 'layers', turn)];
    }
    if (layer === 3) {
      const connection = await openWebSocket({ url: upstream.wsUrl('good'), token: TOKEN, upgradeTimeoutMs: 5_000 });
      try {
        return [await cpuPerTurn(() => drain(connection.streamTurn(frame, turnOptions))), undefined];
      } finally {
        connection.close();
      }
    }
    const raw = await RawWebSocketClient.open(upstream.wsUrl('good'), TOKEN);
    try {
      return [await cpuPerTurn(layer === 1 ? () => raw.turn(frame) : () => drain(raw.turnEvents(frame))), undefined];
    } finally {
      raw.close();
    }
  } finally {
    await manager.close();
    await upstream.close();
  }
}

/** The table of results, as bench/run.ts and docs/performance.md show it. */
export interface LayerResult {
  readonly unit: string;
  readonly http: Record<string, number>;
  readonly websocket: Record<string, number>;
}

function runAll(): LayerResult {
  const self = fileURLToPath(import.meta.url);
  const samples = new Map<string, number[]>();
  const charts = new Map<Transport, number[]>();
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    for (const transport of ['http', 'websocket'] as const) {
      for (let layer = 1; layer <= 4; layer++) {
        const child = spawnSync(process.execPath, ['--import', 'tsx', self, '--one', transport, String(layer)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
        if (child.status !== 0) throw new Error(`layers: ${transport} layer ${layer} failed (${child.status})`);
        const [cpu, chart] = JSON.parse(child.stdout.trim().split('\n').pop() ?? '[]') as [number, number | null];
        const key = `${transport}\u0000${layer}`;
        samples.set(key, [...(samples.get(key) ?? []), cpu]);
        if (chart !== null && chart !== undefined) charts.set(transport, [...(charts.get(transport) ?? []), chart]);
      }
    }
  }
  const table = (transport: Transport) => {
    const out: Record<string, number> = {};
    LAYERS[transport].forEach((name, i) => (out[name] = round(median(samples.get(`${transport}\u0000${i + 1}`)!))));
    out['4a of which in the charts (session actor send)'] = round(median(charts.get(transport) ?? []));
    return out;
  };
  return { unit: 'ms of CPU per 1,000-event turn, median of 3 processes', http: table('http'), websocket: table('websocket') };
}

const args = process.argv.slice(2);
if (args[0] === '--one') {
  const [cpu, chart] = await measureOne(args[1] as Transport, Number(args[2]));
  console.log(JSON.stringify([cpu, chart ?? null]));
  process.exit(0);
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = runAll();
  for (const transport of ['http', 'websocket'] as const) {
    console.log(`${transport}:`);
    let previous: number | undefined;
    for (const [name, value] of Object.entries(result[transport])) {
      const delta = previous === undefined || name.startsWith('4a') ? '' : ` (+${(value - previous).toFixed(3)})`;
      console.log(`  ${value.toFixed(3)} ms  ${name}${delta}`);
      if (!name.startsWith('4a')) previous = value;
    }
  }
  console.log(JSON.stringify(result));
}
