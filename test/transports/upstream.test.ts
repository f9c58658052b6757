import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startUpstream, type Upstream } from '../../src/testing/upstream.js';
import { streamHttp } from '../../src/transports/http-sse.js';
import { openAIResponses } from '../../src/transports/openai-responses.js';
import { openWebSocket } from '../../src/transports/websocket.js';
import { collect, outcomeOf, rejectionOf } from '../support/transport-helpers.js';

const TOKEN = 'sk-test-token';
const turnOptions = { protocol: openAIResponses, firstEventTimeoutMs: 2_000, idleTimeoutMs: 2_000 };
let upstream: Upstream | undefined;

afterEach(async () => {
  await upstream?.close();
  upstream = undefined;
});

function connectTo(up: Upstream, model: string, upgradeTimeoutMs = 2_000) {
  return openWebSocket({ url: up.wsUrl(model), token: TOKEN, upgradeTimeoutMs });
}

function httpTurn(up: Upstream, model: string) {
  return collect(streamHttp({ url: up.httpUrl, token: TOKEN, body: { model }, ...turnOptions }));
}

describe('startUpstream', () => {
  it('builds URLs for both transports on one port', async () => {
    upstream = await startUpstream();
    expect(upstream.httpUrl).toBe(`http://127.0.0.1:${upstream.port}/v1/responses`);
    expect(upstream.wsUrl('gpt-5.4')).toBe(`ws://127.0.0.1:${upstream.port}/v1/responses?model=gpt-5.4`);
  });

  it('counts upgrades, HTTP requests and turns, per model, and logs statuses', async () => {
    upstream = await startUpstream({ modes: { broken: { upgradeStatus: 500 } }, now: () => 42 });
    const connection = await connectTo(upstream, 'good');
    await collect(connection.streamTurn(openAIResponses.webSocketFrame({ model: 'good' }), turnOptions));
    await collect(connection.streamTurn(openAIResponses.webSocketFrame({ model: 'good' }), turnOptions));
    connection.close();
    await rejectionOf(connectTo(upstream, 'broken'));
    await rejectionOf(connectTo(upstream, 'broken'));
    await httpTurn(upstream, 'broken');

    expect(upstream.upgradeAttempts).toBe(3);
    expect(upstream.upgradeAttemptsFor('good')).toBe(1);
    expect(upstream.upgradeAttemptsFor('broken')).toBe(2);
    expect(upstream.httpRequests).toBe(1);
    expect(upstream.httpRequestsFor('broken')).toBe(1);
    expect(upstream.httpRequestsFor('good')).toBe(0);
    expect(upstream.wsTurns).toBe(2);
    expect(upstream.log).toEqual([
      { atMs: 42, kind: 'upgrade', model: 'good', status: 101 },
      { atMs: 42, kind: 'upgrade', model: 'broken', status: 500 },
      { atMs: 42, kind: 'upgrade', model: 'broken', status: 500 },
      { atMs: 42, kind: 'http', model: 'broken', status: 200 },
    ]);

    upstream.resetCounters();
    expect([upstream.upgradeAttempts, upstream.httpRequests, upstream.wsTurns, upstream.log.length]).toEqual([0, 0, 0, 0]);
  });

  it('heal() restores a failing model; other models keep their modes', async () => {
    upstream = await startUpstream({ defaultMode: { upgradeStatus: 503 } });
    upstream.setMode('a', { http: { httpStatus: 500 } });
    expect(upstream.modesOf('a')).toMatchObject({ ws: { upgradeStatus: 503 }, http: { httpStatus: 500 } });

    upstream.heal('a');
    const connection = await connectTo(upstream, 'a');
    connection.close();
    expect((await httpTurn(upstream, 'a')).error).toBeUndefined();
    expect(outcomeOf(await rejectionOf(connectTo(upstream, 'b')))).toMatchObject({ status: 503 });

    upstream.heal();
    (await connectTo(upstream, 'b')).close();
  });

  it('setMode applies to sockets that are already open, from their next turn', async () => {
    upstream = await startUpstream();
    const connection = await connectTo(upstream, 'm');
    const frame = openAIResponses.webSocketFrame({ model: 'm' });
    expect((await collect(connection.streamTurn(frame, turnOptions))).error).toBeUndefined();
    upstream.setMode('m', { closeBeforeFirstEvent: 1013 });
    const { error } = await collect(connection.streamTurn(frame, turnOptions));
    expect(outcomeOf(error)).toEqual({ kind: 'closed', code: 1013, afterFirstEvent: false });
  });

  it('a rotated token gets 401 on both transports', async () => {
    let current = TOKEN;
    upstream = await startUpstream({ acceptToken: (token) => token === current });
    (await connectTo(upstream, 'm')).close();
    current = 'sk-rotated';
    expect(outcomeOf(await rejectionOf(connectTo(upstream, 'm')))).toMatchObject({ kind: 'upgrade-rejected', status: 401 });
    expect(outcomeOf((await httpTurn(upstream, 'm')).error)).toMatchObject({ kind: 'http-rejected', status: 401 });
    expect(upstream.log.map((entry) => entry.status)).toEqual([101, 401, 401]);
  });

  it('sends retry-after-ms when asked', async () => {
    upstream = await startUpstream({ modes: { m: { httpStatus: 503, retryAfterMs: 1500 } } });
    expect(outcomeOf((await httpTurn(upstream, 'm')).error)).toEqual({
      kind: 'http-rejected',
      status: 503,
      headers: { 'retry-after-ms': '1500' },
    });
  });

  it('refuses close codes a server cannot send', async () => {
    upstream = await startUpstream();
    expect(() => upstream!.setMode('m', { closeAfterFirstEvent: 1005 })).toThrow(RangeError);
  });

  it('close() drops a hanging upgrade and stops listening', async () => {
    upstream = await startUpstream({ modes: { m: 'hang' } });
    const port = upstream.port;
    const opening = connectTo(upstream, 'm', 30_000);
    // Wait until the upgrade request reached the server, so the hang is real.
    while (upstream.log.length === 0) await new Promise((resolve) => setImmediate(resolve));

    await upstream.close();
    await upstream.close();

    expect(outcomeOf(await rejectionOf(opening))).toMatchObject({ kind: 'network', phase: 'upgrade' });
    const refused = await new Promise<string | undefined>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve(undefined);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code));
    });
    expect(refused).toBe('ECONNREFUSED');
  });

  it('close() ends open WebSockets and stalled HTTP streams', async () => {
    upstream = await startUpstream({ modes: { m: { turn: { stallAfterEvents: 1 } } } });
    const connection = await connectTo(upstream, 'm');
    const wsTurn = collect(connection.streamTurn(openAIResponses.webSocketFrame({ model: 'm' }), turnOptions));
    const http = httpTurn(upstream, 'm');
    while (upstream.log.length < 2 || upstream.wsTurns < 1) await new Promise((resolve) => setImmediate(resolve));
    expect(upstream.openWebSockets).toBe(1);

    await upstream.close();

    expect(outcomeOf((await wsTurn).error)).toMatchObject({ kind: 'closed', code: 1006 });
    expect(outcomeOf((await http).error)).toMatchObject({ kind: 'network', phase: 'stream' });
    expect(upstream.openWebSockets).toBe(0);
  });
});
