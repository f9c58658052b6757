import { metrics } from '@opentelemetry/api';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterAll, describe, expect, test } from 'vitest';
import { createSessionManager } from '../../src/index.js';
import { METRIC } from '../../src/metrics.js';
import { startUpstream } from '../../src/testing/upstream.js';

class InMemoryReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

describe('an SDK registered after the manager was created', () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    metrics.disable();
  });

  test('gets the instruments from the next event on (the API has no proxy meter; the provider is looked up per event)', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const manager = createSessionManager({ endpoints: { 'e/1': { wsUrl: upstream.wsUrl('m'), httpUrl: upstream.httpUrl, credentials: 'late-token' } } });
    cleanups.push(() => manager.close());
    const turn = async () => {
      for await (const _event of manager.session('s1', 'e/1').stream({ model: 'm', input: 'hi' })) {
        // drain
      }
    };
    await turn();
    const reader = new InMemoryReader();
    const provider = new MeterProvider({ readers: [reader] });
    cleanups.push(() => provider.shutdown());
    metrics.setGlobalMeterProvider(provider);
    await turn();
    const { resourceMetrics } = await reader.collect();
    const names = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).map((m) => m.descriptor.name);
    expect(names).toContain(METRIC.turnDuration);
    expect(names).toContain(METRIC.endpointState);
    const turns = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === METRIC.turnDuration)!;
    // Only the turn after the registration: the one before went to the no-op meter.
    expect(turns.dataPoints.reduce((n, p) => n + (p.value as { count: number }).count, 0)).toBe(1);
  });
});
