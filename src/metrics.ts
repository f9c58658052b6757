import { metrics, type Counter, type Histogram } from '@opentelemetry/api';

/**
 * OpenTelemetry instruments. `@opentelemetry/api` is a no-op until the host registers a
 * MeterProvider, so a gateway without telemetry pays one function call per record.
 */
export interface Instruments {
  /** Upgrade attempts by result (`opened` or a failure class). */
  readonly upgrades: Counter;
  /** Turns sent over HTTP because the WebSocket was not available, by reason. */
  readonly fallbacks: Counter;
  /** Time an endpoint spent cooling down or latched, in ms. */
  readonly cooldownMs: Histogram;
  /** Whole-turn latency by transport and result, in ms. */
  readonly turnMs: Histogram;
  /** Time to a turn's first event by transport, in ms. */
  readonly firstEventMs: Histogram;
}

/** Creates the instruments on the global meter provider (or a no-op meter). */
export function createInstruments(): Instruments {
  const meter = metrics.getMeter('resilient-stream');
  return {
    upgrades: meter.createCounter('resilient_stream.upgrades', { description: 'WebSocket upgrade attempts by result' }),
    fallbacks: meter.createCounter('resilient_stream.fallbacks', { description: 'Turns served over HTTP instead of WebSocket' }),
    cooldownMs: meter.createHistogram('resilient_stream.cooldown', { unit: 'ms', description: 'Time an endpoint spent cooling down' }),
    turnMs: meter.createHistogram('resilient_stream.turn.duration', { unit: 'ms', description: 'Turn latency by transport' }),
    firstEventMs: meter.createHistogram('resilient_stream.turn.first_event', { unit: 'ms', description: 'Time to first event by transport' }),
  };
}
