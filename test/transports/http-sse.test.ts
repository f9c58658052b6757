import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startUpstream, type Upstream } from '../../src/testing/upstream.js';
import { STREAM_EOF_CODE, streamHttp, type StreamHttpOptions } from '../../src/transports/http-sse.js';
import { openAIResponses } from '../../src/transports/openai-responses.js';
import { collect, outcomeOf, typesOf } from '../support/transport-helpers.js';

const MODEL = 'gpt-5.4';
const TOKEN = 'sk-test-token';

let upstream: Upstream;

beforeEach(async () => {
  upstream = await startUpstream({ deltasPerTurn: 3 });
});
afterEach(async () => {
  await upstream.close();
});

function turn(extra: Partial<StreamHttpOptions> = {}): AsyncIterable<ReturnType<typeof openAIResponses.parseWebSocketMessage>> {
  return streamHttp({
    url: upstream.httpUrl,
    token: TOKEN,
    body: { model: MODEL, input: 'hello' },
    protocol: openAIResponses,
    firstEventTimeoutMs: 2_000,
    idleTimeoutMs: 2_000,
    ...extra,
  });
}

describe('streamHttp: a healthy upstream', () => {
  it('streams one turn over SSE', async () => {
    const { events, error } = await collect(turn());
    expect(error).toBeUndefined();
    expect(typesOf(events)).toEqual([
      'response.created',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.completed',
    ]);
    expect(events.slice(1, 4).map((event) => event['delta'])).toEqual(['chunk 1', 'chunk 2', 'chunk 3']);
    expect(upstream.httpRequestsFor(MODEL)).toBe(1);
  });

  it('keeps event order across a large turn', async () => {
    await upstream.close();
    upstream = await startUpstream({ deltasPerTurn: 1_000 });
    const { events, error } = await collect(turn());
    expect(error).toBeUndefined();
    expect(events).toHaveLength(1_002);
    expect(events.map((event) => event['sequence_number'])).toEqual(Array.from({ length: 1_002 }, (_, i) => i));
  });

  it('sends the protocol request: stream true, JSON, event-stream, bearer token', async () => {
    const seen: { headers: IncomingMessage['headers']; body: string }[] = [];
    const server = await adHocServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('data: {"type":"response.completed"}\n\n');
      });
    });
    try {
      const { error } = await collect(turn({ url: server.url, headers: { 'x-extra': '1' } }));
      expect(error).toBeUndefined();
      expect(JSON.parse(seen[0]!.body)).toEqual({ model: MODEL, input: 'hello', stream: true });
      expect(seen[0]!.headers).toMatchObject({
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${TOKEN}`,
        'x-extra': '1',
      });
    } finally {
      await server.close();
    }
  });

  it('yields a provider error event as the terminal event', async () => {
    upstream.setMode(MODEL, { providerError: { code: 'server_error' } });
    const { events, error } = await collect(turn());
    expect(error).toBeUndefined();
    expect(openAIResponses.providerErrorOutcome(events.at(-1)!)).toEqual({ kind: 'provider-error', code: 'server_error', message: 'simulated provider error' });
  });
});

describe('streamHttp: rejected requests', () => {
  it('429 carries Retry-After and the provider error code, not the body', async () => {
    upstream.setMode(MODEL, { httpStatus: 429, retryAfterSeconds: 12 });
    const { error } = await collect(turn());
    expect(outcomeOf(error)).toEqual({ kind: 'http-rejected', status: 429, headers: { 'retry-after': '12' } });
    expect((error as Error).message).toBe(
      `POST http://127.0.0.1:${upstream.port}/v1/responses answered HTTP 429 (retry-after: 12) (error code: rate_limit_exceeded)`,
    );
    expect((error as Error).message).not.toContain('simulated');
  });

  it('401 for a token the upstream does not accept', async () => {
    upstream.setAcceptToken((token) => token === 'rotated');
    const { error } = await collect(turn());
    expect(outcomeOf(error)).toEqual({ kind: 'http-rejected', status: 401, headers: { 'www-authenticate': 'Bearer' } });
    const retried = await collect(turn({ token: 'rotated' }));
    expect(retried.error).toBeUndefined();
  });

  it('a refused connection is a network outcome in phase request', async () => {
    const url = upstream.httpUrl;
    await upstream.close();
    const { error } = await collect(turn({ url }));
    expect(outcomeOf(error)).toEqual({ kind: 'network', code: 'ECONNREFUSED', phase: 'request' });
  });

  it('a reset instead of an answer is a network outcome in phase request', async () => {
    upstream.setMode(MODEL, { http: 'reset' });
    const { error } = await collect(turn());
    expect(outcomeOf(error)).toMatchObject({ kind: 'network', phase: 'request' });
  });

  it('a 200 that is not an event stream is a protocol outcome', async () => {
    const server = await adHocServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>captive portal</html>');
    });
    try {
      const { error } = await collect(turn({ url: server.url }));
      expect(outcomeOf(error)).toEqual({ kind: 'protocol', detail: 'expected text/event-stream, got text/html' });
    } finally {
      await server.close();
    }
  });
});

describe('streamHttp: failures mid-turn', () => {
  it('abort mid-turn ends the turn as aborted', async () => {
    upstream.setMode(MODEL, { stallAfterEvents: 2 });
    const controller = new AbortController();
    const seen: string[] = [];
    let caught: unknown;
    try {
      for await (const event of turn({ signal: controller.signal })) {
        seen.push(event.type);
        if (seen.length === 1) controller.abort();
      }
    } catch (error) {
      caught = error;
    }
    expect(seen).toEqual(['response.created']);
    expect(outcomeOf(caught)).toEqual({ kind: 'aborted' });
  });

  it('an already aborted signal sends nothing', async () => {
    const { error } = await collect(turn({ signal: AbortSignal.abort() }));
    expect(outcomeOf(error)).toEqual({ kind: 'aborted' });
    expect(upstream.httpRequests).toBe(0);
  });

  it('no answer in time is a first-event timeout', async () => {
    upstream.setMode(MODEL, { http: 'hang' });
    const { error } = await collect(turn({ firstEventTimeoutMs: 50 }));
    expect(outcomeOf(error)).toEqual({ kind: 'timeout', phase: 'first-event' });
  });

  it('a stall mid-turn is an idle timeout', async () => {
    upstream.setMode(MODEL, { stallAfterEvents: 2 });
    // A second: long enough that a loaded machine still delivers the two events before it.
    const { events, error } = await collect(turn({ idleTimeoutMs: 1_000 }));
    expect(events).toHaveLength(2);
    expect(outcomeOf(error)).toEqual({ kind: 'timeout', phase: 'idle' });
  });

  it('a slow consumer does not trip the idle timeout', async () => {
    const { events, error } = await (async () => {
      const events: unknown[] = [];
      try {
        for await (const event of turn({ idleTimeoutMs: 1_000 })) {
          events.push(event);
          // Holding an event longer than the idle timeout: the deadline measures the server, not us.
          if (events.length === 2) await new Promise((resolve) => setTimeout(resolve, 1_500));
        }
        return { events, error: undefined };
      } catch (error) {
        return { events, error };
      }
    })();
    expect(error).toBeUndefined();
    expect(events).toHaveLength(5);
  });

  it('malformed JSON is a protocol outcome', async () => {
    upstream.setMode(MODEL, { malformedAfterEvents: 1 });
    const { events, error } = await collect(turn());
    expect(typesOf(events)).toEqual(['response.created']);
    expect(outcomeOf(error)).toMatchObject({ kind: 'protocol' });
  });

  it(`a body ending before the terminal event is network code ${STREAM_EOF_CODE} in phase stream`, async () => {
    const server = await adHocServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end('data: {"type":"response.created"}\n\n');
    });
    try {
      const { events, error } = await collect(turn({ url: server.url }));
      expect(typesOf(events)).toEqual(['response.created']);
      expect(outcomeOf(error)).toEqual({ kind: 'network', code: STREAM_EOF_CODE, phase: 'stream' });
    } finally {
      await server.close();
    }
  });

  it('a reset mid-body is a network outcome in phase stream', async () => {
    const server = await adHocServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"type":"response.created"}\n\n', () => setTimeout(() => req.socket.resetAndDestroy(), 10));
    });
    try {
      const { events, error } = await collect(turn({ url: server.url }));
      expect(typesOf(events)).toEqual(['response.created']);
      expect(outcomeOf(error)).toMatchObject({ kind: 'network', phase: 'stream' });
    } finally {
      await server.close();
    }
  });

  it('an early break releases the connection', async () => {
    let requestClosed!: () => void;
    const closed = new Promise<void>((resolve) => (requestClosed = resolve));
    const server = await adHocServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {"type":"response.created"}\n\n');
      res.on('close', requestClosed);
    });
    try {
      for await (const event of turn({ url: server.url })) {
        expect(event.type).toBe('response.created');
        break;
      }
      await closed;
    } finally {
      await server.close();
    }
  });
});

/** A one-handler HTTP server on a random port, for wire shapes the upstream does not produce. */
async function adHocServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/responses`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
