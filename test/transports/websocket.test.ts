import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import type { Outcome } from '../../machines/outcome.js';
import { startUpstream, type Upstream } from '../../src/testing/upstream.js';
import { openAIResponses } from '../../src/transports/openai-responses.js';
import { openWebSocket, type OpenWebSocketOptions, type SocketEnd, type WebSocketConnection } from '../../src/transports/websocket.js';
import { collect, outcomeOf, rejectionOf, typesOf } from '../support/transport-helpers.js';

const MODEL = 'gpt-5.4';
const TOKEN = 'sk-test-token';
const frame = openAIResponses.webSocketFrame({ model: MODEL, input: 'hello', stream: true });
const turnOptions = { protocol: openAIResponses, firstEventTimeoutMs: 2_000, idleTimeoutMs: 2_000 };

let upstream: Upstream;
const connections: WebSocketConnection[] = [];

beforeEach(async () => {
  upstream = await startUpstream({ deltasPerTurn: 3 });
});
afterEach(async () => {
  for (const connection of connections.splice(0)) connection.close();
  await upstream.close();
});

async function open(model = MODEL, extra: Partial<OpenWebSocketOptions> = {}): Promise<WebSocketConnection> {
  const connection = await openWebSocket({ url: upstream.wsUrl(model), token: TOKEN, upgradeTimeoutMs: 2_000, ...extra });
  connections.push(connection);
  return connection;
}

/** Resolves with the outcome the connection reports for a close outside a turn. */
function nextClose(connection: WebSocketConnection): Promise<Outcome> {
  return new Promise((resolve) => {
    const off = connection.onClose((end) => {
      off();
      resolve(end.outcome);
    });
  });
}

describe('openWebSocket: a healthy upstream', () => {
  it('streams two turns on the same socket', async () => {
    const connection = await open();
    expect(connection.isOpen).toBe(true);
    expect(connection.openedAtMs).toBeLessThanOrEqual(Date.now());

    const first = await collect(connection.streamTurn(frame, turnOptions));
    const second = await collect(connection.streamTurn(frame, turnOptions));

    const expected = ['response.created', 'response.output_text.delta', 'response.output_text.delta', 'response.output_text.delta', 'response.completed'];
    expect(first.error).toBeUndefined();
    expect(typesOf(first.events)).toEqual(expected);
    expect(first.events.slice(1, 4).map((event) => event['delta'])).toEqual(['chunk 1', 'chunk 2', 'chunk 3']);
    expect(second.error).toBeUndefined();
    expect(typesOf(second.events)).toEqual(expected);
    expect(upstream.upgradeAttempts).toBe(1);
    expect(upstream.wsTurns).toBe(2);
    expect(connection.isOpen).toBe(true);
  });

  it('sends response.create without the HTTP-only stream field', () => {
    expect(JSON.parse(frame)).toEqual({ type: 'response.create', model: MODEL, input: 'hello' });
  });

  it('rejects a second concurrent turn with a clear error', async () => {
    upstream.setMode(MODEL, { stallAfterEvents: 1 });
    const connection = await open();
    const first = connection.streamTurn(frame, turnOptions);
    expect(() => connection.streamTurn(frame, turnOptions)).toThrow(/already streaming/);
    await first.return?.();
  });

  it('yields a provider error event as the terminal event instead of throwing', async () => {
    upstream.setMode(MODEL, { providerError: { code: 'server_error', status: 500 } });
    const connection = await open();
    const { events, error } = await collect(connection.streamTurn(frame, turnOptions));
    expect(error).toBeUndefined();
    const last = events.at(-1)!;
    expect(last.type).toBe('error');
    expect(openAIResponses.providerErrorOutcome(last)).toEqual({ kind: 'provider-error', code: 'server_error', status: 500, message: 'simulated provider error' });
    expect(connection.isOpen).toBe(true);
  });

  it('close() mid-turn fails the turn as a 1000 close', async () => {
    upstream.setMode(MODEL, { stallAfterEvents: 1 });
    const connection = await open();
    const turn = connection.streamTurn(frame, turnOptions);
    expect((await turn.next()).value).toMatchObject({ type: 'response.created' });
    connection.close();
    const { error } = await collect(turn);
    expect(outcomeOf(error)).toEqual({ kind: 'closed', code: 1000, afterFirstEvent: true });
  });

  it('onClose returns an unsubscribe function', async () => {
    const connection = await open();
    const reported: Outcome[] = [];
    const off = connection.onClose((end) => reported.push(end.outcome));
    const kept = nextClose(connection);
    off();
    await upstream.close();
    await kept;
    expect(reported).toEqual([]);
  });

  it('close() is clean, idempotent, and reported once, at once, as a local end', async () => {
    const connection = await open();
    const reported: SocketEnd[] = [];
    connection.onClose((end) => reported.push(end));
    connection.close();
    connection.close();
    expect(connection.isOpen).toBe(false);
    expect(reported).toEqual([{ outcome: { kind: 'closed', code: 1000, afterFirstEvent: false }, local: true }]);
    const { error } = await collect(connection.streamTurn(frame, turnOptions));
    expect(outcomeOf(error)).toMatchObject({ kind: 'closed' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(reported).toHaveLength(1);
  });

  it('a consumer that stops a turn early closes the socket as a local end; a missed deadline is the upstream\'s fault', async () => {
    upstream.setMode(MODEL, { stallAfterEvents: 2 });
    const connection = await open();
    const reported: SocketEnd[] = [];
    connection.onClose((end) => reported.push(end));
    const turn = connection.streamTurn(frame, turnOptions);
    await turn.next();
    await turn.return?.();
    expect(reported).toEqual([{ outcome: { kind: 'closed', code: 1000, afterFirstEvent: false }, local: true }]);

    const second = await open();
    const late: SocketEnd[] = [];
    second.onClose((end) => late.push(end));
    const { error } = await collect(second.streamTurn(frame, { ...turnOptions, idleTimeoutMs: 50 }));
    expect(outcomeOf(error)).toEqual({ kind: 'timeout', phase: 'idle' });
    expect(late).toEqual([{ outcome: { kind: 'timeout', phase: 'idle' }, local: false }]);
    // A listener attached after the end still hears it.
    const after: SocketEnd[] = [];
    second.onClose((end) => after.push(end));
    expect(after).toEqual(late);
  });
});

describe('openWebSocket: rejected and failed upgrades', () => {
  it('500 carries the status and Retry-After headers', async () => {
    upstream.setMode(MODEL, { upgradeStatus: 500, retryAfterSeconds: 7, retryAfterMs: 7_000 });
    const error = await rejectionOf(open());
    expect(error.outcome).toEqual({ kind: 'upgrade-rejected', status: 500, headers: { 'retry-after': '7', 'retry-after-ms': '7000' } });
    expect(error.message).toBe(`WebSocket upgrade to ws://127.0.0.1:${upstream.port}/v1/responses answered HTTP 500 (retry-after: 7, retry-after-ms: 7000)`);
  });

  it('426 is reported as an upgrade rejection', async () => {
    upstream.setMode(MODEL, { upgradeStatus: 426 });
    const error = await rejectionOf(open());
    expect(error.outcome).toMatchObject({ kind: 'upgrade-rejected', status: 426 });
  });

  it('401 from a rejected token keeps www-authenticate', async () => {
    upstream.setAcceptToken((token) => token === 'other');
    const error = await rejectionOf(open());
    expect(error.outcome).toEqual({ kind: 'upgrade-rejected', status: 401, headers: { 'www-authenticate': 'Bearer' } });
  });

  it('a connection reset during the handshake is a network outcome', async () => {
    upstream.setMode(MODEL, 'reset');
    const error = await rejectionOf(open());
    expect(error.outcome).toEqual({ kind: 'network', code: 'ECONNRESET', phase: 'upgrade' });
  });

  it('a refused connection is a network outcome', async () => {
    const port = upstream.port;
    await upstream.close();
    const error = await rejectionOf(openWebSocket({ url: `ws://127.0.0.1:${port}/v1/responses`, token: TOKEN, upgradeTimeoutMs: 2_000 }));
    expect(error.outcome).toEqual({ kind: 'network', code: 'ECONNREFUSED', phase: 'upgrade' });
  });

  it('a hanging upgrade times out', async () => {
    upstream.setMode(MODEL, 'hang');
    const error = await rejectionOf(open(MODEL, { upgradeTimeoutMs: 50 }));
    expect(error.outcome).toEqual({ kind: 'timeout', phase: 'upgrade' });
  });

  it('an abort during the upgrade is reported as aborted', async () => {
    upstream.setMode(MODEL, 'hang');
    const controller = new AbortController();
    const opening = open(MODEL, { signal: controller.signal });
    controller.abort();
    expect((await rejectionOf(opening)).outcome).toEqual({ kind: 'aborted' });
    expect((await rejectionOf(open(MODEL, { signal: controller.signal }))).outcome).toEqual({ kind: 'aborted' });
  });

  it('an invalid URL is rejected without echoing it', async () => {
    const error = await rejectionOf(openWebSocket({ url: 'not a url?secret=1', token: TOKEN, upgradeTimeoutMs: 100 }));
    expect(error.outcome).toMatchObject({ kind: 'network', code: 'ERR_INVALID_URL' });
    expect(error.message).not.toContain('secret');
  });
});

describe('streamTurn: failures mid-turn', () => {
  it('a 1011 close before the first event has afterFirstEvent false', async () => {
    upstream.setMode(MODEL, { closeBeforeFirstEvent: 1011 });
    const connection = await open();
    const { events, error } = await collect(connection.streamTurn(frame, turnOptions));
    expect(events).toEqual([]);
    expect(outcomeOf(error)).toEqual({ kind: 'closed', code: 1011, afterFirstEvent: false });
    expect(connection.isOpen).toBe(false);
  });

  it('a 1011 close after the first event has afterFirstEvent true', async () => {
    upstream.setMode(MODEL, { closeAfterFirstEvent: 1011 });
    const connection = await open();
    const { events, error } = await collect(connection.streamTurn(frame, turnOptions));
    expect(typesOf(events)).toEqual(['response.created']);
    expect(outcomeOf(error)).toEqual({ kind: 'closed', code: 1011, afterFirstEvent: true });
  });

  it('a dropped TCP connection mid-turn is close code 1006', async () => {
    upstream.setMode(MODEL, { closeAfterFirstEvent: 1006 });
    const connection = await open();
    const { error } = await collect(connection.streamTurn(frame, turnOptions));
    expect(outcomeOf(error)).toEqual({ kind: 'closed', code: 1006, afterFirstEvent: true });
  });

  it('abort mid-turn ends the turn as aborted and closes the socket', async () => {
    upstream.setMode(MODEL, { stallAfterEvents: 2 });
    const connection = await open();
    const controller = new AbortController();
    const seen: string[] = [];
    let caught: unknown;
    try {
      for await (const event of connection.streamTurn(frame, { ...turnOptions, signal: controller.signal })) {
        seen.push(event.type);
        if (seen.length === 2) controller.abort();
      }
    } catch (error) {
      caught = error;
    }
    expect(seen).toEqual(['response.created', 'response.output_text.delta']);
    expect(outcomeOf(caught)).toEqual({ kind: 'aborted' });
    expect(connection.isOpen).toBe(false);
  });

  it('an already aborted signal fails the turn without sending it or closing the socket', async () => {
    const connection = await open();
    const { error } = await collect(connection.streamTurn(frame, { ...turnOptions, signal: AbortSignal.abort() }));
    expect(outcomeOf(error)).toEqual({ kind: 'aborted' });
    expect(upstream.wsTurns).toBe(0);
    expect(connection.isOpen).toBe(true);
  });

  it('break before the terminal event frees the socket slot and closes the socket', async () => {
    upstream.setMode(MODEL, { stallAfterEvents: 3 });
    const connection = await open();
    for await (const event of connection.streamTurn(frame, turnOptions)) {
      expect(event.type).toBe('response.created');
      break;
    }
    expect(connection.isOpen).toBe(false);
  });

  it('no first event in time is a first-event timeout', async () => {
    upstream.setMode(MODEL, { stallAfterEvents: 0 });
    const connection = await open();
    const { error } = await collect(connection.streamTurn(frame, { ...turnOptions, firstEventTimeoutMs: 50 }));
    expect(outcomeOf(error)).toEqual({ kind: 'timeout', phase: 'first-event' });
    expect(connection.isOpen).toBe(false);
  });

  it('a stall mid-turn is an idle timeout', async () => {
    upstream.setMode(MODEL, { stallAfterEvents: 2 });
    const connection = await open();
    // A second: long enough that a loaded machine still delivers the two events before it.
    const { events, error } = await collect(connection.streamTurn(frame, { ...turnOptions, idleTimeoutMs: 1_000 }));
    expect(events).toHaveLength(2);
    expect(outcomeOf(error)).toEqual({ kind: 'timeout', phase: 'idle' });
  });

  it('a frame that is not JSON is a protocol outcome', async () => {
    upstream.setMode(MODEL, { malformedAfterEvents: 1 });
    const connection = await open();
    const { events, error } = await collect(connection.streamTurn(frame, turnOptions));
    expect(typesOf(events)).toEqual(['response.created']);
    expect(outcomeOf(error)).toMatchObject({ kind: 'protocol' });
    expect(connection.isOpen).toBe(false);
  });

  it('a message above maxPayloadBytes is a protocol outcome', async () => {
    const connection = await open(MODEL, { maxPayloadBytes: 64 });
    const { error } = await collect(connection.streamTurn(frame, turnOptions));
    expect(outcomeOf(error)).toMatchObject({ kind: 'protocol' });
  });
});

describe('outside a turn', () => {
  it('reports a close through onClose', async () => {
    const connection = await open();
    const closed = nextClose(connection);
    await upstream.close();
    expect(await closed).toEqual({ kind: 'closed', code: 1006, afterFirstEvent: false });
    expect(connection.isOpen).toBe(false);
  });

  it('a socket that flaps right after the upgrade ends up closed', async () => {
    upstream.setMode(MODEL, 'flap');
    const connection = await open();
    // 'flap' drops the connection right after the upgrade, possibly before onClose is attached.
    const outcome = connection.isOpen ? await nextClose(connection) : undefined;
    if (outcome !== undefined) expect(outcome).toEqual({ kind: 'closed', code: 1006, afterFirstEvent: false });
    expect(connection.isOpen).toBe(false);
  });

  it('an unanswered ping ends the socket with an idle timeout', async () => {
    const { server, url } = await startSilentServer();
    try {
      const connection = await openWebSocket({ url, token: TOKEN, upgradeTimeoutMs: 2_000, pingIntervalMs: 30 });
      expect(await nextClose(connection)).toEqual({ kind: 'timeout', phase: 'idle' });
      expect(connection.isOpen).toBe(false);
    } finally {
      await server.close();
    }
  });
});

/** A WebSocket server that never answers pings, to exercise the client's liveness check. */
async function startSilentServer(): Promise<{ url: string; server: { close(): Promise<void> } }> {
  const http: Server = createServer();
  const wss = new WebSocketServer({ server: http, autoPong: false });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/`,
    server: {
      close: async () => {
        for (const client of wss.clients) client.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
        await new Promise<void>((resolve) => http.close(() => resolve()));
      },
    },
  };
}
