import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ENDPOINT_STATES, METRIC } from '../../src/metrics.js';
import { FAILING, HEALTHY, SIGNED_OUT, startDemoRun, type DemoRun } from './support/run.js';

/** A pull reader that keeps nothing: `collect()` returns what the SDK would export. */
class InMemoryReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

type Point = { attributes: Record<string, unknown>; value: unknown };

function points(metric: MetricData): Point[] {
  return metric.dataPoints.map((p) => ({ attributes: p.attributes as Record<string, unknown>, value: p.value }));
}

function sum(metric: MetricData, where: (attributes: Record<string, unknown>) => boolean = () => true): number {
  let total = 0;
  for (const p of points(metric)) {
    if (!where(p.attributes)) continue;
    total += typeof p.value === 'number' ? p.value : (p.value as { count: number }).count;
  }
  return total;
}

describe('metrics through the real @opentelemetry/sdk-metrics (the version npm resolves on Node 20)', () => {
  const reader = new InMemoryReader();
  const provider = new MeterProvider({ readers: [reader] });
  let run: DemoRun;
  const byName = new Map<string, MetricData>();
  let collected: MetricData[] = [];

  beforeAll(async () => {
    metrics.setGlobalMeterProvider(provider);
    run = await startDemoRun();
    await run.play();
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    collected = resourceMetrics.scopeMetrics.filter((s) => s.scope.name === 'resilient-stream').flatMap((s) => s.metrics);
    for (const metric of collected) byName.set(metric.descriptor.name, metric);
    // The report pastes this table.
    console.log(collected.map((m) => `${m.descriptor.name} [${m.descriptor.unit}] ${DataPointType[m.dataPointType]} ${JSON.stringify(points(m).map((p) => ({ ...p.attributes, value: typeof p.value === 'number' ? p.value : (p.value as { count: number; sum: number }).count })))}`).join('\n'));
  });

  afterAll(async () => {
    await run?.close();
    await provider.shutdown();
    metrics.disable();
  });

  test('every instrument is exported, with a semantic-convention unit', () => {
    expect([...byName.keys()].sort()).toEqual(Object.values(METRIC).sort());
    const units = Object.fromEntries(collected.map((m) => [m.descriptor.name, m.descriptor.unit]));
    expect(units).toEqual({
      [METRIC.turnDuration]: 's',
      [METRIC.timeToFirstEvent]: 's',
      [METRIC.upgrades]: '{upgrade}',
      [METRIC.upgradeDuration]: 's',
      [METRIC.fallbacks]: '{fallback}',
      [METRIC.recoveries]: '{recovery}',
      [METRIC.downtime]: 's',
      [METRIC.reauths]: '{reauth}',
      [METRIC.endpointState]: '{endpoint}',
      [METRIC.cooldownRemaining]: 's',
      [METRIC.consecutiveFailures]: '{failure}',
      [METRIC.sessions]: '{session}',
    });
    for (const metric of collected) expect(metric.descriptor.description.length).toBeGreaterThan(10);
    // Unbounded ids never become metric attributes; the package's own attributes are namespaced.
    for (const metric of collected) {
      for (const p of points(metric)) {
        for (const key of Object.keys(p.attributes)) expect(key).toMatch(/^(error\.type|server\.address|resilient_stream\.(endpoint|transport|fallback\.reason|upgrade\.result|endpoint\.state|recovery\.scope|credential))$/);
      }
    }
  });

  test('fallbacks count moves of a session to HTTP, not HTTP turns', () => {
    const fallbacks = byName.get(METRIC.fallbacks)!;
    const moves = sum(fallbacks, (a) => a['resilient_stream.endpoint'] === FAILING);
    expect(moves).toBe(4);
    expect(run.httpTurns).toBeGreaterThan(moves);
    for (const p of points(fallbacks)) {
      expect(p.attributes['server.address']).toBe('127.0.0.1');
      expect(typeof p.attributes['resilient_stream.fallback.reason']).toBe('string');
    }
  });

  test('upgrades by result, the failure class in error.type; turn durations in seconds by transport', () => {
    const upgrades = byName.get(METRIC.upgrades)!;
    expect(sum(upgrades, (a) => a['resilient_stream.upgrade.result'] === 'failed' && a['error.type'] === 'transient-server')).toBeGreaterThanOrEqual(1);
    expect(sum(upgrades, (a) => a['resilient_stream.upgrade.result'] === 'opened' && a['resilient_stream.endpoint'] === FAILING)).toBeGreaterThanOrEqual(4);
    expect(sum(upgrades, (a) => a['resilient_stream.upgrade.result'] === 'opened' && a['resilient_stream.endpoint'] === HEALTHY)).toBe(1);
    expect(points(upgrades).filter((p) => p.attributes['resilient_stream.upgrade.result'] === 'opened').every((p) => p.attributes['error.type'] === undefined)).toBe(true);

    const turns = byName.get(METRIC.turnDuration)!;
    expect(turns.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(sum(turns, (a) => a['resilient_stream.transport'] === 'http' && a['resilient_stream.endpoint'] === FAILING)).toBe(run.httpTurns);
    expect(sum(turns, (a) => a['resilient_stream.transport'] === 'websocket')).toBeGreaterThan(0);
    // The signed-out endpoint's turn failed on auth.
    expect(sum(turns, (a) => a['resilient_stream.endpoint'] === SIGNED_OUT && a['error.type'] === 'auth')).toBe(1);
    // Seconds, not ms: loopback turns on a simulated clock are far below a second.
    for (const p of turns.dataPoints) expect((p.value as { max?: number }).max ?? 0).toBeLessThan(60);
  });

  test('recoveries, the downtime, and reauths', () => {
    expect(sum(byName.get(METRIC.recoveries)!, (a) => a['resilient_stream.recovery.scope'] === 'endpoint')).toBe(1);
    expect(sum(byName.get(METRIC.recoveries)!, (a) => a['resilient_stream.recovery.scope'] === 'session')).toBe(4);
    const downtime = byName.get(METRIC.downtime)!.dataPoints[0]!.value as { count: number; sum: number };
    expect(downtime.count).toBe(1);
    // Down from the first failed upgrade to the stable WebSocket: over 10 simulated minutes.
    expect(downtime.sum).toBeGreaterThan(600);
    expect(sum(byName.get(METRIC.reauths)!, (a) => a['resilient_stream.credential'] === 'codex-login')).toBe(1);
  });

  test('gauges: one state per endpoint, the cooldown remaining, sessions by transport', async () => {
    const state = byName.get(METRIC.endpointState)!;
    for (const key of [FAILING, HEALTHY, SIGNED_OUT]) {
      const mine = points(state).filter((p) => p.attributes['resilient_stream.endpoint'] === key);
      expect(mine.map((p) => p.attributes['resilient_stream.endpoint.state']).sort()).toEqual([...ENDPOINT_STATES].sort());
      expect(mine.filter((p) => p.value === 1)).toHaveLength(1);
    }
    expect(points(state).find((p) => p.attributes['resilient_stream.endpoint'] === FAILING && p.value === 1)?.attributes['resilient_stream.endpoint.state']).toBe('healthy');
    expect(sum(byName.get(METRIC.cooldownRemaining)!, (a) => a['resilient_stream.endpoint'] === FAILING)).toBe(0);
    const sessions = byName.get(METRIC.sessions)!;
    expect(sum(sessions, (a) => a['resilient_stream.endpoint'] === FAILING && a['resilient_stream.transport'] === 'websocket')).toBe(4);
    expect(sum(sessions, (a) => a['resilient_stream.endpoint'] === FAILING && a['resilient_stream.transport'] === 'http')).toBe(0);
    // The signed-out session could not send at all: not counted as on a WebSocket.
    expect(sum(sessions, (a) => a['resilient_stream.endpoint'] === SIGNED_OUT && a['resilient_stream.transport'] === 'none')).toBe(1);

    // While an endpoint cools down, the gauge counts down on the manager's clock.
    run.upstream.setMode('glm-5', { upgradeStatus: 503 });
    run.manager.endpoint(HEALTHY).reset();
    run.manager.release('chat-1');
    await run.turn('chat-2', HEALTHY);
    const { resourceMetrics } = await reader.collect();
    const now = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
    const remaining = sum(now.find((m) => m.descriptor.name === METRIC.cooldownRemaining)!, (a) => a['resilient_stream.endpoint'] === HEALTHY);
    const untilMs = run.manager.endpoint(HEALTHY).state.cooldownUntilMs!;
    expect(remaining).toBeCloseTo((untilMs - run.clock.now()) / 1_000, 3);
    expect(remaining).toBeGreaterThan(0);
    const states = points(now.find((m) => m.descriptor.name === METRIC.endpointState)!);
    expect(states.find((p) => p.attributes['resilient_stream.endpoint'] === HEALTHY && p.value === 1)?.attributes['resilient_stream.endpoint.state']).toBe('cooling-down');
    expect(sum(now.find((m) => m.descriptor.name === METRIC.sessions)!, (a) => a['resilient_stream.endpoint'] === HEALTHY && a['resilient_stream.transport'] === 'http')).toBe(1);
  });
});
