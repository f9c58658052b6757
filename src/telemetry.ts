import type { ManagerEvents } from './events.js';
import type { EventEmitter } from 'eventemitter3';
import type { Clock } from './clock.js';
import type { EndpointHandle } from './endpoint-state.js';
import { TelemetryMetrics } from './metrics.js';
import { hostOf, otelApi } from './telemetry-api.js';
import { TurnTracing } from './tracing.js';

/** What telemetry needs from a session manager: its public events and state. */
export interface TelemetrySource extends Pick<EventEmitter<ManagerEvents>, 'on' | 'off'> {
  readonly clock: Clock;
  readonly endpointKeys: string[];
  readonly sessionIds: string[];
  endpoint(endpointKey: string): EndpointHandle;
}

/**
 * Metrics and turn spans for a manager, built as a listener of its public events (`turn`,
 * `upgrade`, `fallback`, `recovered`, `reauth-required`) and of `endpoint(key).state` for the
 * gauges: nothing in the turn path calls it. Without `@opentelemetry/api` it attaches nothing.
 * Without an SDK the API's no-op meter and tracer make each event cost a few calls.
 * @param httpUrlOf the endpoint's HTTP URL, for `server.address`
 * @returns detach: removes the listeners and the gauges' callback
 */
export function attachTelemetry(manager: TelemetrySource, httpUrlOf: (endpointKey: string) => string | undefined): () => void {
  const api = otelApi();
  if (!api) return () => {};
  const addresses = new Map<string, string | undefined>();
  const serverAddress = (endpointKey: string): string | undefined => {
    if (!addresses.has(endpointKey)) {
      let url: string | undefined;
      try {
        url = httpUrlOf(endpointKey);
      } catch {
        url = undefined;
      }
      addresses.set(endpointKey, hostOf(url));
    }
    return addresses.get(endpointKey);
  };
  const metrics = new TelemetryMetrics(api, manager, serverAddress);
  // The manager's clock is assigned after its fields: read it when a turn ends.
  const tracing = new TurnTracing(api, () => manager.clock, serverAddress);
  // Listeners must not throw into the manager: a broken exporter costs a figure, never a turn.
  const guarded = <A>(fn: (event: A) => void) => (event: A) => {
    try {
      fn(event);
    } catch {
      // Dropped on purpose; see above.
    }
  };
  const listeners: { [E in keyof ManagerEvents]?: ManagerEvents[E] } = {
    turn: guarded((event) => {
      metrics.turn(event);
      tracing.turn(event);
    }),
    upgrade: guarded((event) => {
      metrics.upgrade(event);
      tracing.upgrade(event);
    }),
    fallback: guarded((event) => metrics.fallback(event)),
    recovered: guarded((event) => metrics.recovered(event)),
    'reauth-required': guarded((event) => metrics.reauthRequired(event)),
  };
  for (const [name, listener] of Object.entries(listeners)) manager.on(name as keyof ManagerEvents, listener as never);
  metrics.start();
  let attached = true;
  return () => {
    if (!attached) return;
    attached = false;
    for (const [name, listener] of Object.entries(listeners)) manager.off(name as keyof ManagerEvents, listener as never);
    metrics.detach();
  };
}
