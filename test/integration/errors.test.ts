import { afterEach, describe, expect, test } from 'vitest';
import {
  ClosedError,
  TurnFailedError,
  TurnInProgressError,
  isClosedError,
  isTurnFailedError,
  isTurnInProgressError,
} from '../../src/errors.js';
import { TransportError } from '../../src/transports/transport-error.js';
import { createSessionManager } from '../../src/manager.js';
import type { CredentialSource } from '../../src/auth/credential-source.js';
import { closeHarnesses, completeTurnTypes, runTurn, startHarness, type Harness } from '../support/manager-harness.js';

/** Issue 10, Deliver 4: errors a caller can rely on. */

afterEach(closeHarnesses);

/** The turn's error, checked to be a TurnFailedError that tells the same failure as the `turn` event. */
function failedTurn(h: Harness, error: unknown, index = 0): TurnFailedError {
  expect(isTurnFailedError(error)).toBe(true);
  const failed = error as TurnFailedError;
  expect(h.events.turn[index]).toMatchObject({ result: 'failed', turnId: failed.turnId });
  expect(h.events.turn[index]!.failure).toEqual(failed.failure);
  return failed;
}

describe('TurnFailedError', () => {
  test('an aborted turn carries signal.reason as its cause, and code "aborted"', async () => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { turn: { stallAfterEvents: 2 } } } });
    const s = h.session('s1', 'm');
    const controller = new AbortController();
    const reason = new Error('the gateway client hung up');
    const iterator = s.stream(h.body('m'), { signal: controller.signal })[Symbol.asyncIterator]();
    await iterator.next();
    controller.abort(reason);
    const error = await iterator.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    const failed = failedTurn(h, error);
    expect(failed.code).toBe('aborted');
    expect(failed.cause).toBe(reason);
  });

  test.each([
    ['websocket', {}],
    ['http', { ws: { upgradeStatus: 500 } }],
  ] as const)('an unserialisable body is request-fatal with the reason named, over %s, and nothing is sent', async (transport, modes) => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: modes } });
    const s = h.session('s1', 'm');
    const circular: Record<string, unknown> = { model: 'm' };
    circular['self'] = circular;
    for (const [body, reason] of [
      [{ model: 'm', n: 1n }, /BigInt/],
      [circular, /circular/i],
    ] as const) {
      const turn = await runTurn(s, body);
      const failed = failedTurn(h, turn.error, h.events.turn.length - 1);
      expect(failed.code).toBe('request-fatal');
      expect(failed.failure).toMatchObject({ class: 'request-fatal', code: 'request-invalid' });
      expect(failed.failure.summary).toMatch(reason);
      expect(failed.transport).toBe(transport);
      expect(failed.cause).toBeInstanceOf(TransportError);
    }
    expect(h.upstream.wsTurns).toBe(0);
    expect(h.upstream.httpRequests).toBe(0);
    expect(h.events.turn.map((t) => t.failure?.summary)).not.toContain('the consumer stopped the stream');
    // The session goes on.
    expect((await h.turn(s)).types).toEqual(completeTurnTypes());
  });

  test('a transport failure: stable code, classified failure, the TransportError as cause', async () => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { ws: { upgradeStatus: 500 }, http: { httpStatus: 503 } } } });
    const turn = await h.turn(h.session('s1', 'm'));
    const failed = failedTurn(h, turn.error);
    expect(failed.code).toBe('transient-server');
    expect(failed.cause).toBeInstanceOf(TransportError);
    expect((failed.cause as TransportError).outcome).toMatchObject({ kind: 'http-rejected', status: 503 });
  });

  test('a released session: code "released"', async () => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { turn: { stallAfterEvents: 2 } } } });
    const s = h.session('s1', 'm');
    const iterator = s.stream(h.body('m'))[Symbol.asyncIterator]();
    await iterator.next();
    s.release();
    const error = await iterator.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failedTurn(h, error).code).toBe('released');
  });
});

describe('stream() validates at the call site', () => {
  test('a running turn: TurnInProgressError from stream() itself; a released session: ClosedError', async () => {
    const h = await startHarness({ endpoints: { m: {} } });
    const s = h.session('s1', 'm');
    const iterator = s.stream(h.body('m'))[Symbol.asyncIterator]();
    await iterator.next();
    expect(() => s.stream(h.body('m'))).toThrow(TurnInProgressError);
    await iterator.return?.();
    s.release();
    expect(() => s.stream(h.body('m'))).toThrow(ClosedError);
  });

  test('the returned iterable can be iterated once', async () => {
    const h = await startHarness({ endpoints: { m: {} } });
    const stream = h.session('s1', 'm').stream(h.body('m'));
    const events: string[] = [];
    for await (const event of stream) events.push(event.type);
    expect(events).toEqual(completeTurnTypes());
    expect(() => stream[Symbol.asyncIterator]()).toThrow(/iterated once/);
  });
});

test('SessionManager implements Symbol.asyncDispose', async () => {
  const manager = createSessionManager({ endpoints: { m: { wsUrl: 'ws://127.0.0.1:9/x', httpUrl: 'http://127.0.0.1:9/x', credentials: 'tok-0123456789' } } });
  manager.session('s1', 'm');
  await manager[Symbol.asyncDispose]();
  expect(manager.sessionIds).toEqual([]);
  expect(() => manager.session('s2', 'm')).toThrow(ClosedError);
});

test('the type guards and instanceof recognise errors of another copy of the package', async () => {
  const copy = (await import('../../src/errors.js?copy=2' as string)) as typeof import('../../src/errors.js');
  expect(copy.TurnFailedError).not.toBe(TurnFailedError);
  const foreign = new copy.TurnFailedError('s', 's#1', { class: 'network', summary: 'x' }, 'http');
  expect(isTurnFailedError(foreign)).toBe(true);
  expect(foreign instanceof TurnFailedError).toBe(true);
  expect(isTurnInProgressError(new copy.TurnInProgressError('s'))).toBe(true);
  expect(isClosedError(new copy.ClosedError('closed'))).toBe(true);
  expect(isTurnFailedError(new copy.ClosedError('closed'))).toBe(false);
  expect(isTurnFailedError(new Error('plain'))).toBe(false);
});

test('a credential source that throws is a credential problem: no cooldown, no WebSocket warn line, an auth TurnFailedError with a scrubbed cause', async () => {
  const leaked = `sk-proj-${'B'.repeat(32)}`;
  const source: CredentialSource = {
    name: 'broken-source',
    token: () => {
      throw new Error(`cannot read the credentials file: EACCES (last key ${leaked})`);
    },
    refresh: async () => {
      throw new Error('no refresh either');
    },
  };
  const h = await startHarness({ endpoints: { m: { credentials: source } } });
  const turn = await h.turn(h.session('s1', 'm'));
  const failed = failedTurn(h, turn.error);
  expect(failed.code).toBe('credentials-unavailable');
  expect(failed.failure.class).toBe('auth');
  expect(h.upstream.upgradeAttempts + h.upstream.httpRequests).toBe(0);
  expect(h.manager.endpoint('m').state).toMatchObject({ consecutiveFailures: 0 });
  expect(h.manager.endpoint('m').state.status).not.toBe('cooling-down');
  expect(h.logger.at('warn').filter((c) => /WebSocket/.test(c.msg ?? ''))).toEqual([]);
  expect(h.events.upgrade.filter((e) => e.result === 'failed')).toEqual([]);
  const text = `${failed.message} ${(failed.cause as Error).message} ${failed.failure.summary}`;
  expect(text).not.toContain(leaked);
  expect(text).toContain('[redacted]');
});
