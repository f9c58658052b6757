import { afterEach, describe, expect, test, vi } from 'vitest';
import { TurnFailedError, TurnInProgressError } from '../../src/errors.js';
import { closeHarnesses, completeTurnTypes, runTurn, settle, startHarness } from '../support/manager-harness.js';

afterEach(closeHarnesses);

describe.each([
  [1011, 'transient-server'],
  [1013, 'rate-limited'],
] as const)('socket closed with %d', (code, failureClass) => {
  test('before the first event: the turn is retried once over HTTP and served exactly once', async () => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { closeBeforeFirstEvent: code } } });
    const s = h.session('s1', 'm');

    const turn = await h.turn(s);

    // Client: one complete turn, no duplicated events, served over HTTP.
    expect(turn.error).toBeUndefined();
    expect(turn.types).toEqual(completeTurnTypes());
    expect(new Set(turn.events.map((e) => JSON.stringify(e))).size).toBe(turn.events.length);
    expect(h.events.turn).toMatchObject([{ result: 'completed', transport: 'http' }]);
    // Server: one WebSocket turn (closed before any event) and one HTTP request.
    expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
    expect(h.upstream.wsTurns).toBe(1);
    expect(h.upstream.httpRequestsFor('m')).toBe(1);
    // The socket died young: the endpoint cools down with the close code's class.
    expect(h.manager.endpoint('m').state).toMatchObject({
      status: 'cooling-down',
      consecutiveFailures: 1,
      lastFailure: { class: failureClass, code: String(code) },
    });
    expect(s.state).toMatchObject({ turn: 'turn.idle', transport: 'http', lastFailure: { class: failureClass, code: String(code) } });

    // The next turn goes over HTTP without another upgrade.
    const next = await h.turn(s);
    expect(next.error).toBeUndefined();
    expect(h.upstream.upgradeAttemptsFor('m')).toBe(1);
    expect(h.upstream.wsTurns).toBe(1);
    expect(h.upstream.httpRequestsFor('m')).toBe(2);
  });

  test('after the first event: the turn fails with a classified error and nothing is replayed over HTTP', async () => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { closeAfterFirstEvent: code } } });
    const s = h.session('s1', 'm');

    const turn = await h.turn(s);

    expect(turn.types).toEqual(['response.created']);
    expect(turn.error).toBeInstanceOf(TurnFailedError);
    const error = turn.error as TurnFailedError;
    expect(error.failure).toMatchObject({ class: failureClass, code: String(code) });
    expect(error.transport).toBe('websocket');
    expect(error.sessionId).toBe('s1');
    expect(h.events.turn).toMatchObject([{ result: 'failed', transport: 'websocket', failure: { class: failureClass } }]);
    expect(h.events.turn[0]!.firstEventMs).toBe(0);
    // Server: the WebSocket turn only; no HTTP replay.
    expect(h.upstream.wsTurns).toBe(1);
    expect(h.upstream.httpRequests).toBe(0);
    expect(s.state.turn).toBe('turn.idle');
    expect(h.manager.endpoint('m').state).toMatchObject({ status: 'cooling-down', lastFailure: { class: failureClass } });

    // The session can go on: its next turn goes over HTTP (the endpoint cools down).
    const next = await h.turn(s);
    expect(next.error).toBeUndefined();
    expect(h.upstream.httpRequests).toBe(1);
    expect(h.upstream.wsTurns).toBe(1);
  });
});

/** The next step of an aborted turn throws TurnFailedError of class `aborted` on `transport`. */
async function expectAbortedOn(iterator: AsyncIterator<unknown>, transport: 'websocket' | 'http'): Promise<void> {
  const error = await iterator.next().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TurnFailedError);
  expect((error as TurnFailedError).failure.class).toBe('aborted');
  expect((error as TurnFailedError).transport).toBe(transport);
}

describe('abort through the signal mid-turn', () => {
  test('on WebSocket: TurnFailedError of class aborted; the endpoint is not blamed; the next turn runs', async () => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { stallAfterEvents: 2 } } });
    const s = h.session('s1', 'm');
    const controller = new AbortController();
    const iterator = s.stream(h.body('m'), { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ type: 'response.created' });
    expect((await iterator.next()).value).toMatchObject({ type: 'response.output_text.delta' });
    expect(s.state).toMatchObject({ turn: 'turn.streaming', transport: 'websocket' });

    controller.abort();
    await expectAbortedOn(iterator, 'websocket');
    expect(s.state.turn).toBe('turn.idle');
    expect(h.events.turn).toMatchObject([{ result: 'failed', transport: 'websocket', failure: { class: 'aborted' } }]);
    expect(h.upstream.wsTurns).toBe(1);
    expect(h.upstream.httpRequests).toBe(0);
    // The caller gave up: nothing is wrong with the endpoint.
    expect(h.manager.endpoint('m').state).toMatchObject({ status: 'healthy', consecutiveFailures: 0 });
    expect(h.logger.at('warn')).toEqual([]);

    h.upstream.setMode('m', { turn: 'ok' });
    const next = await h.turn(s);
    expect(next.error).toBeUndefined();
    expect(next.types).toEqual(completeTurnTypes());
  });

  test('on HTTP: TurnFailedError of class aborted; the session runs its next turn', async () => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { ws: { upgradeStatus: 500 }, turn: { stallAfterEvents: 2 } } } });
    const s = h.session('s1', 'm');
    const controller = new AbortController();
    const iterator = s.stream(h.body('m'), { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ type: 'response.created' });
    expect(s.state).toMatchObject({ turn: 'turn.streaming', transport: 'http' });

    controller.abort();
    await expectAbortedOn(iterator, 'http');
    expect(s.state.turn).toBe('turn.idle');
    expect(h.events.turn).toMatchObject([{ result: 'failed', transport: 'http', failure: { class: 'aborted' } }]);
    expect(h.upstream.httpRequests).toBe(1);

    h.upstream.setMode('m', { turn: 'ok' });
    const next = await h.turn(s);
    expect(next.error).toBeUndefined();
    expect(next.types).toEqual(completeTurnTypes());
    expect(h.upstream.httpRequests).toBe(2);
    expect(h.upstream.upgradeAttempts).toBe(1);
  });

  test('while the turn waits for an upgrade in flight: aborted at once, no request sent', async () => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: 'hang' } });
    const s = h.session('s1', 'm');
    const controller = new AbortController();
    const pending = runTurn(s, h.body('m'), { signal: controller.signal });
    await vi.waitFor(() => expect(h.upstream.upgradeAttemptsFor('m')).toBe(1));
    await settle();
    expect(s.state.turn).toBe('turn.awaitingTransport');

    controller.abort();
    const turn = await pending;
    expect(turn.error).toBeInstanceOf(TurnFailedError);
    expect((turn.error as TurnFailedError).failure.class).toBe('aborted');
    expect(h.upstream.httpRequests).toBe(0);
    expect(h.upstream.wsTurns).toBe(0);
    expect(s.state.turn).toBe('turn.idle');
  });
});

test('concurrent turns on one session: the second stream() throws TurnInProgressError at once; the first is unaffected', async () => {
  const h = await startHarness({ endpoints: { m: {} } });
  const s = h.session('s1', 'm');
  const first = s.stream(h.body('m'))[Symbol.asyncIterator]();
  expect((await first.next()).value).toMatchObject({ type: 'response.created' });

  // Misuse shows at the call site, not at the first next().
  expect(() => s.stream(h.body('m'))).toThrow(TurnInProgressError);

  const rest: string[] = [];
  for (let r = await first.next(); !r.done; r = await first.next()) rest.push(r.value.type);
  expect(['response.created', ...rest]).toEqual(completeTurnTypes());

  // Started together: exactly one runs.
  const both = await Promise.all([h.turn(s), h.turn(s)]);
  expect(both.filter((t) => t.error === undefined)).toHaveLength(1);
  expect(both.filter((t) => t.error instanceof TurnInProgressError)).toHaveLength(1);

  // The session is usable afterwards.
  const after = await h.turn(s);
  expect(after.error).toBeUndefined();
  // Server: three turns were served (the rejected ones never reached it), all on one socket.
  expect(h.upstream.wsTurns).toBe(3);
  expect(h.upstream.httpRequests).toBe(0);
  expect(h.upstream.upgradeAttempts).toBe(1);
  expect(h.events.turn.map((t) => t.result)).toEqual(['completed', 'completed', 'completed']);
});
