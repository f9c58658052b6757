import { context, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { SimulatedClock } from 'xstate';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createSessionManager, type SessionManager } from '../../src/index.js';
import { startUpstream, type Upstream } from '../../src/testing/upstream.js';
import { SPAN } from '../../src/tracing.js';

/** Spans through the real SDK's in-memory exporter, with Node's AsyncLocalStorage context manager. */

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager().enable();
const FAILING = 'codex/gpt-5.4';
const HEALTHY = 'zai/glm-5';

let upstream: Upstream;
let clock: SimulatedClock;
let manager: SessionManager;

beforeAll(async () => {
  context.setGlobalContextManager(contextManager);
  trace.setGlobalTracerProvider(provider);
  upstream = await startUpstream({ modes: { 'gpt-5.4': { upgradeStatus: 500 } } });
  clock = new SimulatedClock();
  clock.set(1_000_000);
  manager = createSessionManager({
    clock,
    jitterSeed: 3,
    endpoints: {
      [FAILING]: { wsUrl: upstream.wsUrl('gpt-5.4'), httpUrl: upstream.httpUrl, credentials: 'trace-token-a' },
      [HEALTHY]: { wsUrl: upstream.wsUrl('glm-5'), httpUrl: upstream.httpUrl, credentials: 'trace-token-b' },
    },
  });
});

afterEach(() => exporter.reset());

afterAll(async () => {
  await manager?.close();
  await upstream?.close();
  await provider.shutdown();
  trace.disable();
  context.disable();
});

const tracer = () => trace.getTracer('gateway');
const ms = (time: [number, number]) => time[0] * 1_000 + time[1] / 1e6;
const byName = (spans: readonly ReadableSpan[], name: string) => spans.filter((s) => s.name === name);

async function turnUnder(parent: Span, sessionId: string, endpointKey: string, model: string): Promise<void> {
  await context.with(trace.setSpan(context.active(), parent), async () => {
    for await (const _event of manager.session(sessionId, endpointKey).stream({ model, input: 'hi' })) {
      // drain
    }
  });
}

describe('a span per turn', () => {
  test('from a turn event: the turn span under the active span, a child per phase, transport, attempts, fallback reason and failure class', () => {
    const parent = tracer().startSpan('POST /v1/chat');
    const startedAtMs = clock.now() - 900;
    context.with(trace.setSpan(context.active(), parent), () => {
      manager.emit('turn', {
        sessionId: 'agent-7',
        endpointKey: FAILING,
        turnId: 'turn-3',
        result: 'failed',
        transport: 'http',
        failure: { class: 'transient-server', summary: 'HTTP 502 from upstream', code: '502' },
        startedAtMs,
        durationMs: 900,
        firstEventMs: undefined,
        attempts: 2,
        httpReason: 'upgrade-failed',
        phases: [
          { kind: 'upgrade', startedAtMs, endedAtMs: startedAtMs + 200, result: 'failed', failure: { class: 'transient-server', summary: 'upgrade answered HTTP 500', code: '500' } },
          { kind: 'refresh', startedAtMs: startedAtMs + 200, endedAtMs: startedAtMs + 300, result: 'ok' },
          { kind: 'attempt', startedAtMs: startedAtMs + 300, endedAtMs: startedAtMs + 900, transport: 'http', result: 'failed', failure: { class: 'transient-server', summary: 'HTTP 502 from upstream', code: '502' } },
        ],
      });
    });
    parent.end();
    const spans = exporter.getFinishedSpans();
    const [turn] = byName(spans, SPAN.turn);
    expect(turn).toBeDefined();
    expect(turn!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(turn!.spanContext().traceId).toBe(parent.spanContext().traceId);
    expect(turn!.attributes).toMatchObject({
      'resilient_stream.endpoint': FAILING,
      'resilient_stream.session.id': 'agent-7',
      'resilient_stream.turn.id': 'turn-3',
      'resilient_stream.transport': 'http',
      'resilient_stream.turn.attempts': 2,
      'resilient_stream.fallback.reason': 'upgrade-failed',
      'error.type': 'transient-server',
      'resilient_stream.failure.code': '502',
      'server.address': '127.0.0.1',
    });
    expect(turn!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'HTTP 502 from upstream' });
    // 900 ms of the manager's (simulated) clock, ending about now on the wall clock.
    expect(ms(turn!.endTime) - ms(turn!.startTime)).toBeCloseTo(900, 0);
    expect(Math.abs(ms(turn!.endTime) - Date.now())).toBeLessThan(10_000);

    const children = spans.filter((s) => s.parentSpanContext?.spanId === turn!.spanContext().spanId);
    expect(children.map((s) => s.name)).toEqual([SPAN.upgrade, SPAN.refresh, SPAN.attempt]);
    const [upgrade, refresh, attempt] = children as [ReadableSpan, ReadableSpan, ReadableSpan];
    expect(upgrade.attributes).toMatchObject({ 'error.type': 'transient-server', 'resilient_stream.failure.code': '500', 'resilient_stream.phase.result': 'failed' });
    expect(upgrade.status.code).toBe(SpanStatusCode.ERROR);
    expect(ms(upgrade.endTime) - ms(upgrade.startTime)).toBeCloseTo(200, 0);
    expect(refresh.attributes['resilient_stream.phase.result']).toBe('ok');
    expect(refresh.status.code).toBe(SpanStatusCode.UNSET);
    expect(attempt.attributes).toMatchObject({ 'resilient_stream.transport': 'http', 'error.type': 'transient-server' });
    expect(ms(attempt.startTime)).toBeCloseTo(ms(turn!.startTime) + 300, 0);
  });

  test('a completed turn has no error status and no error.type; no parent means a root span', () => {
    manager.emit('turn', { sessionId: 's', endpointKey: HEALTHY, turnId: 't', result: 'completed', transport: 'websocket', startedAtMs: clock.now() - 50, durationMs: 50, firstEventMs: 10, attempts: 1, phases: [] });
    const [turn] = byName(exporter.getFinishedSpans(), SPAN.turn);
    expect(turn!.parentSpanContext).toBeUndefined();
    expect(turn!.status.code).toBe(SpanStatusCode.UNSET);
    expect(turn!.attributes['error.type']).toBeUndefined();
    expect(turn!.attributes['resilient_stream.turn.time_to_first_event']).toBe(0.01);
  });

  test('a turn the caller aborted records error.type aborted but no error status: nothing is wrong with anyone', () => {
    manager.emit('turn', { sessionId: 's', endpointKey: HEALTHY, turnId: 'a', result: 'failed', transport: 'websocket', failure: { class: 'aborted', summary: 'the consumer stopped the stream', code: 'aborted' }, startedAtMs: clock.now() - 5, durationMs: 5, firstEventMs: undefined, attempts: 1, phases: [] });
    const [turn] = byName(exporter.getFinishedSpans(), SPAN.turn);
    expect(turn!.attributes['error.type']).toBe('aborted');
    expect(turn!.status.code).toBe(SpanStatusCode.UNSET);
  });

  test('real turns: each turn span is a child of the span active when the gateway streamed it', async () => {
    const request = tracer().startSpan('gateway request');
    await turnUnder(request, 'chat-1', HEALTHY, 'glm-5');
    await turnUnder(request, 'chat-1', HEALTHY, 'glm-5');
    request.end();
    const turns = byName(exporter.getFinishedSpans(), SPAN.turn);
    expect(turns).toHaveLength(2);
    for (const turn of turns) {
      expect(turn.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
      expect(turn.attributes).toMatchObject({ 'resilient_stream.transport': 'websocket', 'resilient_stream.session.id': 'chat-1' });
      expect(turn.attributes['resilient_stream.turn.attempts']).toBeGreaterThanOrEqual(1);
      expect(byName(exporter.getFinishedSpans(), SPAN.attempt).some((a) => a.parentSpanContext?.spanId === turn.spanContext().spanId)).toBe(true);
    }
  });

  // End to end through the turn path's own phases (src/turn-trace.ts).
  test('real turns: the first turn on a failing endpoint has a failed upgrade child and goes over HTTP for "upgrade-failed"', async () => {
    const request = tracer().startSpan('gateway request');
    await turnUnder(request, 'agent-1', FAILING, 'gpt-5.4');
    request.end();
    const [turn] = byName(exporter.getFinishedSpans(), SPAN.turn);
    expect(turn!.attributes).toMatchObject({ 'resilient_stream.transport': 'http', 'resilient_stream.fallback.reason': 'upgrade-failed' });
    const children = exporter.getFinishedSpans().filter((s) => s.parentSpanContext?.spanId === turn!.spanContext().spanId);
    const upgrade = children.find((s) => s.name === SPAN.upgrade);
    expect(upgrade?.attributes).toMatchObject({ 'error.type': 'transient-server', 'resilient_stream.failure.code': '500' });
    expect(children.find((s) => s.name === SPAN.attempt)?.attributes['resilient_stream.transport']).toBe('http');
  });
});
