/**
 * The raw alternatives: what a gateway would write by hand without this package. Same wire,
 * same request bodies, same JSON decoding of every event; no charts, no deadlines, no
 * classification, no fallback.
 */
import { createParser } from 'eventsource-parser';
import WebSocket from 'ws';

const TERMINAL = new Set(['response.completed', 'response.failed', 'response.incomplete', 'error']);

function httpInit(token: string, body: Record<string, unknown>): RequestInit {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ ...body, stream: true }),
  };
}

/** `fetch` + `eventsource-parser`'s `createParser` + `JSON.parse` per event, read to the end. Returns the event count. */
export async function rawHttpTurn(url: string, token: string, body: Record<string, unknown>): Promise<number> {
  const response = await fetch(url, httpInit(token, body));
  if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
  let events = 0;
  const parser = createParser({
    onEvent: (message) => {
      JSON.parse(message.data);
      events++;
    },
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return events;
    parser.feed(decoder.decode(value, { stream: true }));
  }
}

/** The same as {@link rawHttpTurn}, shaped as an async generator of events (the natural hand-written API). */
export async function* rawHttpEvents(url: string, token: string, body: Record<string, unknown>): AsyncGenerator<{ type: string }> {
  const response = await fetch(url, httpInit(token, body));
  if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status}`);
  const pending: { type: string }[] = [];
  const parser = createParser({ onEvent: (message) => pending.push(JSON.parse(message.data) as { type: string }) });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    parser.feed(decoder.decode(value, { stream: true }));
    for (const event of pending) yield event;
    pending.length = 0;
  }
}

/**
 * Time from calling to the first decoded event of a direct HTTP turn, in ms; the rest of the
 * body is then read (not timed) so the connection goes back to the pool.
 */
export async function rawHttpFirstEventMs(url: string, token: string, body: Record<string, unknown>): Promise<number> {
  const started = performance.now();
  let firstAt = 0;
  for await (const _event of rawHttpEvents(url, token, body)) {
    if (firstAt === 0) firstAt = performance.now();
  }
  return firstAt - started;
}

/** A tiny request round trip on a kept-alive connection (a POST answered 404 with a small body), in ms. */
export async function rawPostRoundTripMs(url: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url.replace(/\/v1\/responses$/, '/nope'), { method: 'POST', body: '{}' });
  await response.arrayBuffer();
  return performance.now() - started;
}

/** A `ws` upgrade answered by a non-101 status: new TCP connection, upgrade request, answer. In ms. */
export function rawRejectedUpgradeMs(url: string, token: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    ws.on('unexpected-response', (req) => {
      const elapsed = performance.now() - started;
      req.destroy();
      ws.terminate();
      resolve(elapsed);
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('the upgrade unexpectedly succeeded'));
    });
    ws.on('error', () => undefined);
  });
}

/** A raw `ws` client on one open socket: sends the turn frame, parses every frame, resolves at the terminal one. */
export class RawWebSocketClient {
  private resolveTurn: ((events: number) => void) | undefined;
  private events = 0;
  private readonly queue: { type: string }[] = [];
  private wake: (() => void) | undefined;
  private iterating = false;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const event = JSON.parse((data as Buffer).toString()) as { type: string };
      if (this.iterating) {
        this.queue.push(event);
        const wake = this.wake;
        this.wake = undefined;
        wake?.();
        return;
      }
      this.events++;
      if (TERMINAL.has(event.type)) {
        const resolve = this.resolveTurn;
        const count = this.events;
        this.resolveTurn = undefined;
        this.events = 0;
        resolve?.(count);
      }
    });
  }

  static open(url: string, token: string): Promise<RawWebSocketClient> {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` }, perMessageDeflate: false });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(new RawWebSocketClient(ws)));
      ws.once('error', reject);
    });
  }

  /** One turn with a callback consumer: resolves with the event count. */
  turn(frame: string): Promise<number> {
    return new Promise((resolve) => {
      this.resolveTurn = resolve;
      this.ws.send(frame);
    });
  }

  /** One turn shaped as an async generator of events (the natural hand-written API). */
  async *turnEvents(frame: string): AsyncGenerator<{ type: string }> {
    this.iterating = true;
    this.ws.send(frame);
    try {
      for (;;) {
        while (this.queue.length === 0) await new Promise<void>((resolve) => (this.wake = resolve));
        for (let i = 0; i < this.queue.length; i++) {
          const event = this.queue[i]!;
          yield event;
          if (TERMINAL.has(event.type)) return;
        }
        this.queue.length = 0;
      }
    } finally {
      this.queue.length = 0;
      this.iterating = false;
    }
  }

  close(): void {
    this.ws.close();
  }
}

/** Counts a turn's events through any async iterable. */
export async function drain(events: AsyncIterable<unknown>): Promise<number> {
  let count = 0;
  for await (const _event of events) count++;
  return count;
}
