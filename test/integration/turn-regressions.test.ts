import { afterEach, describe, expect, test, vi } from 'vitest';
import { TurnFailedError } from '../../src/errors.js';
import { createSessionManager } from '../../src/manager.js';
import { createOpenAIResponses } from '../../src/transports/openai-responses.js';
import type { ProviderProtocol } from '../../src/transports/provider.js';
import { closeHarnesses, completeTurnTypes, countingSource, runTurn, settle, startHarness, type Harness } from '../support/manager-harness.js';

/**
 * Named regressions of the turn path (issue 12): each test was red before its fix.
 */

afterEach(closeHarnesses);

function expectEndpointUntouched(h: Harness, key = 'm'): void {
  expect(h.manager.endpoint(key).state).toMatchObject({ status: 'healthy', consecutiveFailures: 0 });
  expect(h.logger.at('warn')).toEqual([]);
}

describe('a consumer that stops a WebSocket turn early never blames the endpoint', () => {
  test.each([
    ['break, next turn at once', 'break', false],
    ['break, next turn after the close settled', 'break', true],
    ['return() on the iterator', 'return', false],
  ] as const)('%s: within minUptimeMs the next turn runs on a socket, the endpoint stays healthy, no warn line', async (_name, how, wait) => {
    const h = await startHarness({ endpoints: { m: {} } });
    const s = h.session('s1', 'm');
    if (how === 'break') {
      for await (const event of s.stream(h.body('m'))) if (event.type === 'response.output_text.delta') break;
    } else {
      const iterator = s.stream(h.body('m'))[Symbol.asyncIterator]();
      await iterator.next();
      await iterator.return?.();
    }
    if (wait) await settle(10);
    // Well within minUptimeMs (15 s) of the socket's opening.
    await h.advanceBy(100);

    const next = await h.turn(s);

    expect(next.error).toBeUndefined();
    expect(next.types).toEqual(completeTurnTypes());
    expect(h.events.turn[1]).toMatchObject({ result: 'completed', transport: 'websocket', attempts: 1 });
    expect(h.upstream.httpRequests).toBe(0);
    expectEndpointUntouched(h);
    expect(h.events.turn[0]).toMatchObject({ result: 'failed', failure: { class: 'aborted', code: 'aborted' } });
  });
});

describe('response.done ends a turn on both transports', () => {
  test.each([
    ['websocket', { endWith: 'response.done' }],
    ['http', { ws: { upgradeStatus: 500 }, turn: { endWith: 'response.done' } }],
  ] as const)('over %s', async (transport, mode) => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: mode }, policy: { idleTimeoutMs: 60_000 } });
    const s = h.session('s1', 'm');
    const started = Date.now();
    const turn = await h.turn(s);
    expect(turn.error).toBeUndefined();
    expect(turn.types.at(-1)).toBe('response.done');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(h.events.turn).toMatchObject([{ result: 'completed', transport }]);
  });
});

describe('a provider error before the first content event on a WebSocket', () => {
  test.each([
    ['server_error', 500],
    ['server_error', undefined],
  ] as const)('transient-server (%s, %s) is retried exactly once over HTTP, and the consumer sees one response', async (code, status) => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { providerError: { code, ...(status ? { status } : {}) } } } });
    const s = h.session('s1', 'm');
    const turn = await h.turn(s);
    expect(h.upstream.wsTurns).toBe(1);
    expect(h.upstream.httpRequests).toBe(1);
    // The HTTP answer failed the same way: the consumer sees it once (yielded, not thrown), nothing of the WebSocket attempt.
    expect(turn.types).toEqual(['response.created', 'error']);
    expect(turn.error).toBeUndefined();
    expect(h.events.turn).toMatchObject([
      { result: 'failed', transport: 'http', attempts: 2, httpReason: 'moved-after-failure', failure: { class: 'transient-server' } },
    ]);
    expect(h.events.turn[0]!.phases.map((p) => [p.kind, p.transport, p.result, p.failure?.class])).toEqual([
      ['upgrade', undefined, 'ok', undefined],
      ['attempt', 'websocket', 'failed', 'transient-server'],
      ['attempt', 'http', 'failed', 'transient-server'],
    ]);
    // The provider answered: the WebSocket path is not blamed.
    expectEndpointUntouched(h);
  });

  test.each([
    ['rate_limit_exceeded', 429, 'rate-limited'],
    ['invalid_request', 400, 'request-fatal'],
  ] as const)('%s is not retried over HTTP', async (code, status, failureClass) => {
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { providerError: { code, status } } } });
    const s = h.session('s1', 'm');
    const turn = await h.turn(s);
    expect(h.upstream.wsTurns).toBe(1);
    expect(h.upstream.httpRequests).toBe(0);
    expect(turn.types).toEqual(['response.created', 'error']);
    expect(turn.error).toBeUndefined();
    expect(h.events.turn).toMatchObject([{ result: 'failed', transport: 'websocket', attempts: 1, failure: { class: failureClass } }]);
  });
});

describe('an in-stream provider 401 refreshes once and resends', () => {
  test.each([
    ['websocket', {}],
    ['http', { ws: { upgradeStatus: 500 } }],
  ] as const)('first sent over %s', async (_transport, modes) => {
    let h: Harness | undefined;
    const source = countingSource('tok-old-0123456789', () => 'tok-new-0123456789');
    const refresh = source.refresh.bind(source);
    source.refresh = async (rejected) => {
      h?.upstream.setMode('m', { turn: 'ok' });
      return refresh(rejected);
    };
    h = await startHarness({
      endpoints: { m: { credentials: source } },
      modes: { m: { ...modes, turn: { providerError: { code: 'invalid_api_key', status: 401 } } } },
    });
    const s = h.session('s1', 'm');
    const turn = await h.turn(s);
    expect(turn.error).toBeUndefined();
    expect(turn.types).toEqual(completeTurnTypes());
    expect(source.refreshCalls).toBe(1);
    expect(h.events.turn).toMatchObject([{ result: 'completed', attempts: 2 }]);
    expect(h.events.turn[0]!.phases.map((p) => p.kind)).toContain('refresh');
  });

  test('a second 401 after the refresh fails the turn as auth, without a second refresh', async () => {
    const source = countingSource('tok-old-0123456789', (n) => `tok-new-${n}-0123456789`);
    const h = await startHarness({ endpoints: { m: { credentials: source } }, modes: { m: { providerError: { code: 'invalid_api_key', status: 401 } } } });
    const turn = await h.turn(h.session('s1', 'm'));
    expect(turn.types).toEqual(['response.created', 'error']);
    expect(h.events.turn).toMatchObject([{ result: 'failed', attempts: 2, failure: { class: 'auth' } }]);
    expect(source.refreshCalls).toBe(1);
  });
});

test('a rate-limit error whose message says "try again in N s" carries that delay as retryAfterMs', async () => {
  const message = 'Rate limit reached for gpt-5.4 in organization org-x on tokens per min. Please try again in 11.054s. Visit https://platform.openai.com/account/rate-limits';
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: { providerError: { code: 'rate_limit_exceeded', status: 429, message } } } });
  const turn = await h.turn(h.session('s1', 'm'));
  expect(turn.types).toEqual(['response.created', 'error']);
  expect(h.events.turn[0]!.failure).toMatchObject({ class: 'rate-limited', retryAfterMs: 11_054, code: 'rate_limit_exceeded' });
});

test('a throwing listener never changes what the consumer receives', async () => {
  const h = await startHarness({ endpoints: { m: {} } });
  for (const name of ['turn', 'upgrade', 'fallback', 'recovered', 'transition'] as const) {
    h.manager.on(name, () => {
      throw new Error(`a ${name} listener bug`);
    });
  }
  const turn = await h.turn(h.session('s1', 'm'));
  expect(turn.error).toBeUndefined();
  expect(turn.types).toEqual(completeTurnTypes());
  expect(h.logger.at('error').map((c) => c.msg).join('\n')).toMatch(/listener of "turn" threw/);
});

test('an open socket that stays silent costs a turn at most webSocketFirstEventTimeoutMs before the HTTP retry', async () => {
  const h = await startHarness({
    endpoints: { m: {} },
    modes: { m: { turn: { stallAfterEvents: 0 } } },
    policy: { firstEventTimeoutMs: 60_000, webSocketFirstEventTimeoutMs: 500 },
  });
  const s = h.session('s1', 'm');
  const started = Date.now();
  const pending = h.turn(s);
  await vi.waitFor(() => expect(h.upstream.wsTurns).toBe(1));
  h.upstream.setMode('m', { turn: 'ok' });
  const turn = await pending;
  expect(turn.error).toBeUndefined();
  expect(turn.types).toEqual(completeTurnTypes());
  expect(Date.now() - started).toBeLessThan(15_000);
  expect(h.events.turn).toMatchObject([{ result: 'completed', transport: 'http', attempts: 2, httpReason: 'moved-after-failure' }]);
  expect(h.manager.policy.webSocketFirstEventTimeoutMs).toBeLessThan(h.manager.policy.firstEventTimeoutMs);
});

test('a session released mid-upgrade reports no failed upgrade', async () => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: 'hang' } });
  const s = h.session('s1', 'm');
  const pending = runTurn(s, h.body('m'));
  await vi.waitFor(() => expect(h.upstream.upgradeAttemptsFor('m')).toBe(1));
  await settle();
  h.manager.release('s1');
  const turn = await pending;
  expect((turn.error as TurnFailedError).failure.code).toBe('released');
  await settle();
  expect(h.events.upgrade.filter((e) => e.result === 'failed')).toEqual([]);
  // The probe was given back, not failed.
  expect(h.manager.endpoint('m').state).toMatchObject({ consecutiveFailures: 0, lastFailure: undefined });
  expect(h.logger.at('warn')).toEqual([]);
});

describe('untrusted provider text entering a Failure', () => {
  test('a known code passes; anything else is scrubbed and bounded; the thrown error carries no secret', async () => {
    const secretCode = `sk-proj-${'A'.repeat(40)}`;
    const message = `bad token tok-harness-0123456789 and ${'x'.repeat(5_000)}`;
    const h = await startHarness({ endpoints: { m: {} }, modes: { m: { providerError: { code: secretCode, status: 400, message } } } });
    await h.turn(h.session('s1', 'm'));
    const failure = h.events.turn[0]!.failure!;
    const text = JSON.stringify({ event: h.events.turn, state: h.session('s1', 'm').state });
    expect(text).not.toContain(secretCode);
    expect(text).not.toContain('tok-harness-0123456789');
    expect(failure.code!.length).toBeLessThanOrEqual(64);
    expect(failure.summary.length).toBeLessThanOrEqual(300);
    expect(failure.summary).toContain('bad token [redacted]');

    h.upstream.setMode('m', { providerError: { code: 'invalid_request', status: 400 } });
    await h.turn(h.session('s1', 'm'));
    expect(h.events.turn[1]!.failure!.code).toBe('invalid_request');
  });
});

test('each send carries the turn id and its attempt to the protocol, and the header reaches the upstream', async () => {
  const sends: { transport: string; turnId: string; attempt: number }[] = [];
  const base = createOpenAIResponses({ turnHeader: 'x-turn-id' });
  const recording: ProviderProtocol = {
    ...base,
    webSocketFrame: (body, send) => {
      sends.push({ transport: 'websocket', ...send! });
      return base.webSocketFrame(body, send);
    },
    httpRequest: (body, send) => {
      sends.push({ transport: 'http', ...send! });
      return base.httpRequest(body, send);
    },
  };
  const seen: (string | undefined)[] = [];
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: { closeBeforeFirstEvent: 1011 } } });
  const manager = createSessionManager({
    clock: h.clock,
    endpoints: { m: { wsUrl: h.upstream.wsUrl('m'), httpUrl: h.upstream.httpUrl, credentials: 'tok-identity-0123456789', protocol: recording } },
  });
  try {
    const realFetch = globalThis.fetch;
    const spy = vi.spyOn(globalThis, 'fetch').mockImplementation((input, init) => {
      seen.push(new Headers(init?.headers).get('x-turn-id') ?? undefined);
      return realFetch(input, init);
    });
    const turn = await runTurn(manager.session('s1', 'm'), { model: 'm', input: 'hi' });
    spy.mockRestore();
    expect(turn.error).toBeUndefined();
    expect(sends).toEqual([
      { transport: 'websocket', turnId: 's1#1', attempt: 1 },
      { transport: 'http', turnId: 's1#1', attempt: 2 },
    ]);
    expect(seen).toEqual(['s1#1;attempt=2']);
  } finally {
    await manager.close();
  }
});

test('a healthy turn on an open socket sends the session chart 2 events', async () => {
  const h = await startHarness({ endpoints: { m: {} }, inspect: true });
  const s = h.session('s1', 'm');
  await h.turn(s); // opens the socket
  h.inspections.length = 0;
  const turn = await h.turn(s);
  expect(turn.types).toEqual(completeTurnTypes());
  const toSession = h.inspections.filter((e) => e.type === '@xstate.event' && (e.actorRef as { id?: string }).id !== undefined && e.event.type.startsWith('TURN_'));
  expect(toSession.map((e) => (e as { event: { type: string } }).event.type)).toEqual(['TURN_REQUESTED', 'TURN_COMPLETED']);
});
