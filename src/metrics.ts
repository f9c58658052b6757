import type { Attributes, BatchObservableCallback, Counter, Histogram, Meter, MeterProvider, Observable } from '@opentelemetry/api';
import type { Clock } from './clock.js';
import type { FallbackEvent, ReauthRequiredEvent, RecoveredEvent, TurnEvent, UpgradeEvent } from './events.js';
import { ATTR, SCOPE_NAME, type OtelApi } from './telemetry-api.js';

/**
 * The package's OpenTelemetry instruments, named and united per the semantic conventions
 * (durations in seconds, counts in `{thing}` units, `error.type`, `server.address`). Each
 * counts exactly what its name says; docs/observability.md lists them.
 */
export const METRIC = {
  turnDuration: 'resilient_stream.turn.duration',
  timeToFirstEvent: 'resilient_stream.turn.time_to_first_event',
  upgrades: 'resilient_stream.upgrades',
  upgradeDuration: 'resilient_stream.upgrade.duration',
  fallbacks: 'resilient_stream.fallbacks',
  recoveries: 'resilient_stream.recoveries',
  downtime: 'resilient_stream.endpoint.downtime',
  reauths: 'resilient_stream.credential.reauths',
  endpointState: 'resilient_stream.endpoint.state',
  cooldownRemaining: 'resilient_stream.endpoint.cooldown.remaining',
  consecutiveFailures: 'resilient_stream.endpoint.consecutive_failures',
  sessions: 'resilient_stream.session.count',
} as const;

/** The endpoint states the `resilient_stream.endpoint.state` gauge reports (1 for the current one, 0 for the others). */
export const ENDPOINT_STATES = ['probing', 'healthy', 'cooling-down', 'unsupported', 'stopped'] as const;

// Semantic-convention buckets for request durations, stretched for model turns that stream for minutes.
const TURN_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60, 120, 300];
// Outages last seconds to hours.
const DOWNTIME_BUCKETS_S = [1, 10, 30, 60, 300, 900, 1_800, 3_600, 7_200, 21_600, 86_400];

/** What the gauges read: the manager's public surface. */
export interface MetricsSource {
  readonly clock: Clock;
  readonly endpointKeys: string[];
  readonly sessionIds: string[];
  endpoint(key: string): { readonly state: { readonly status: string; readonly cooldownUntilMs: number | undefined; readonly consecutiveFailures: number } };
}

interface Instruments {
  readonly provider: MeterProvider;
  readonly turnDuration: Histogram;
  readonly timeToFirstEvent: Histogram;
  readonly upgrades: Counter;
  readonly upgradeDuration: Histogram;
  readonly fallbacks: Counter;
  readonly recoveries: Counter;
  readonly downtime: Histogram;
  readonly reauths: Counter;
  readonly meter: Meter;
  readonly observables: Observable[];
}

/**
 * Records the manager's events into instruments of the host's global MeterProvider. The
 * provider is looked up on every event, not once: a host that starts its SDK after creating
 * the manager still gets every figure from then on (the API has no proxy meter).
 */
export class TelemetryMetrics {
  private instruments: Instruments | undefined;
  /** Sessions whose turns go over HTTP, and why (from `fallback` until `recovered`). */
  private readonly onHttp = new Map<string, { endpointKey: string; reason: string }>();
  /** The endpoint of each session seen in an event, for the session gauge. */
  private readonly sessionEndpoint = new Map<string, string>();
  /** The transport of each session's last turn (`none` when it could not send), for the session gauge. */
  private readonly sessionTransport = new Map<string, string>();
  /** Series of the session gauge reported before: reported as 0 once empty, so a graph drops instead of freezing. */
  private readonly sessionSeries = new Map<string, Attributes>();

  constructor(
    private readonly api: OtelApi,
    private readonly source: MetricsSource,
    private readonly serverAddress: (endpointKey: string) => string | undefined,
  ) {}

  /** Registers the instruments (and the gauges' callback) on the current provider, before any event. */
  start(): void {
    this.current();
  }

  /** A turn ended: its duration and time to first event. */
  turn(event: TurnEvent): void {
    const i = this.current();
    this.sessionEndpoint.set(event.sessionId, event.endpointKey);
    this.sessionTransport.set(event.sessionId, event.transport ?? 'none');
    const attributes = this.endpointAttributes(event.endpointKey, {
      [ATTR.transport]: event.transport ?? 'none',
      ...(event.result === 'failed' ? { [ATTR.errorType]: event.failure?.class ?? '_OTHER' } : {}),
    });
    i.turnDuration.record(event.durationMs / 1_000, attributes);
    if (event.firstEventMs !== undefined) {
      i.timeToFirstEvent.record(event.firstEventMs / 1_000, this.endpointAttributes(event.endpointKey, { [ATTR.transport]: event.transport ?? 'none' }));
    }
  }

  /** An upgrade the library started ended. */
  upgrade(event: UpgradeEvent): void {
    const i = this.current();
    this.sessionEndpoint.set(event.sessionId, event.endpointKey);
    const attributes = this.endpointAttributes(event.endpointKey, {
      [ATTR.upgradeResult]: event.result,
      ...(event.result === 'failed' ? { [ATTR.errorType]: event.failure?.class ?? '_OTHER' } : {}),
    });
    i.upgrades.add(1, attributes);
    i.upgradeDuration.record(Math.max(0, event.atMs - event.startedAtMs) / 1_000, attributes);
  }

  /** A session moved to HTTP (once per move, not per HTTP turn). */
  fallback(event: FallbackEvent): void {
    const i = this.current();
    this.sessionEndpoint.set(event.sessionId, event.endpointKey);
    this.onHttp.set(event.sessionId, { endpointKey: event.endpointKey, reason: event.reason });
    i.fallbacks.add(1, this.endpointAttributes(event.endpointKey, { [ATTR.fallbackReason]: event.reason, ...(event.failure ? { [ATTR.errorType]: event.failure.class } : {}) }));
  }

  /** An endpoint works again, or a session is back on its WebSocket. */
  recovered(event: RecoveredEvent): void {
    const i = this.current();
    if (event.actor === 'session') {
      this.onHttp.delete(event.id);
      this.sessionTransport.set(event.id, 'websocket');
    }
    i.recoveries.add(1, this.endpointAttributes(event.endpointKey, { [ATTR.recoveryScope]: event.actor }));
    if (event.actor === 'endpoint' && event.downForMs !== undefined) i.downtime.record(event.downForMs / 1_000, this.endpointAttributes(event.endpointKey, {}));
  }

  /** A credential needs a person to sign in again. */
  reauthRequired(event: ReauthRequiredEvent): void {
    this.current().reauths.add(1, { [ATTR.credential]: event.credentialId });
  }

  /** Unregisters the gauges' callback. */
  detach(): void {
    if (this.instruments) this.instruments.meter.removeBatchObservableCallback(this.observe, this.instruments.observables);
    this.instruments = undefined;
  }

  private endpointAttributes(endpointKey: string, extra: Attributes): Attributes {
    const address = this.serverAddress(endpointKey);
    return { [ATTR.endpoint]: endpointKey, ...(address ? { [ATTR.serverAddress]: address } : {}), ...extra };
  }

  private current(): Instruments {
    const provider = this.api.metrics.getMeterProvider();
    if (this.instruments?.provider === provider) return this.instruments;
    this.detach();
    this.instruments = this.create(provider);
    return this.instruments;
  }

  private create(provider: MeterProvider): Instruments {
    const meter = provider.getMeter(SCOPE_NAME);
    const seconds = (boundaries: number[]) => ({ unit: 's', advice: { explicitBucketBoundaries: boundaries } });
    const state = meter.createObservableUpDownCounter(METRIC.endpointState, { unit: '{endpoint}', description: 'Endpoints by health: 1 for the state each endpoint is in, 0 for the others' });
    const cooldown = meter.createObservableGauge(METRIC.cooldownRemaining, { unit: 's', description: 'Time until the endpoint may be probed again (0 when it may now)' });
    const failures = meter.createObservableGauge(METRIC.consecutiveFailures, { unit: '{failure}', description: 'Failed upgrades of the endpoint since its last success' });
    const sessions = meter.createObservableUpDownCounter(METRIC.sessions, { unit: '{session}', description: 'Live sessions by the transport their next turn uses (and why HTTP)' });
    const observables = [state, cooldown, failures, sessions];
    meter.addBatchObservableCallback(this.observe, observables);
    return {
      provider,
      meter,
      observables,
      turnDuration: meter.createHistogram(METRIC.turnDuration, { ...seconds(TURN_BUCKETS_S), description: 'Turns, from stream() to their end, by transport; error.type on failed turns' }),
      timeToFirstEvent: meter.createHistogram(METRIC.timeToFirstEvent, { ...seconds(TURN_BUCKETS_S), description: 'Time from stream() to the first event of the turn' }),
      upgrades: meter.createCounter(METRIC.upgrades, { unit: '{upgrade}', description: 'WebSocket upgrades the library started and saw end, by result; error.type on failures' }),
      upgradeDuration: meter.createHistogram(METRIC.upgradeDuration, { ...seconds(TURN_BUCKETS_S), description: 'WebSocket upgrades, from the request to open or failure' }),
      fallbacks: meter.createCounter(METRIC.fallbacks, { unit: '{fallback}', description: 'Moves of a session to HTTP (once per move, not per HTTP turn), by reason' }),
      recoveries: meter.createCounter(METRIC.recoveries, { unit: '{recovery}', description: 'Endpoints whose upgrade works again, and sessions back on their WebSocket' }),
      downtime: meter.createHistogram(METRIC.downtime, { ...seconds(DOWNTIME_BUCKETS_S), description: 'How long an endpoint was not healthy, recorded when it recovers' }),
      reauths: meter.createCounter(METRIC.reauths, { unit: '{reauth}', description: 'Credentials whose refresh was refused for good: a person must sign in again' }),
    };
  }

  private readonly observe: BatchObservableCallback = (result) => {
    const i = this.instruments;
    if (!i) return;
    const [state, cooldown, failures, sessions] = i.observables as [Observable, Observable, Observable, Observable];
    const nowMs = this.source.clock.now();
    for (const key of this.source.endpointKeys) {
      let endpoint: ReturnType<MetricsSource['endpoint']>['state'];
      try {
        endpoint = this.source.endpoint(key).state;
      } catch {
        continue;
      }
      const base = this.endpointAttributes(key, {});
      for (const name of ENDPOINT_STATES) result.observe(state, endpoint.status === name ? 1 : 0, { ...base, [ATTR.endpointState]: name });
      result.observe(cooldown, endpoint.cooldownUntilMs === undefined ? 0 : Math.max(0, endpoint.cooldownUntilMs - nowMs) / 1_000, base);
      result.observe(failures, endpoint.consecutiveFailures, base);
    }
    // Released sessions leave the counts.
    const live = new Set(this.source.sessionIds);
    for (const id of this.sessionEndpoint.keys()) {
      if (!live.has(id)) {
        this.sessionEndpoint.delete(id);
        this.sessionTransport.delete(id);
        this.onHttp.delete(id);
      }
    }
    const counts = new Map<string, number>();
    for (const [id, endpointKey] of this.sessionEndpoint) {
      const http = this.onHttp.get(id);
      // On HTTP from a fallback until it recovers; otherwise where its last turn went.
      const transport = http ? 'http' : (this.sessionTransport.get(id) ?? 'websocket');
      const key = `${endpointKey}\u0000${transport}\u0000${http ? http.reason : ''}`;
      if (!this.sessionSeries.has(key)) this.sessionSeries.set(key, this.endpointAttributes(endpointKey, http ? { [ATTR.transport]: 'http', [ATTR.fallbackReason]: http.reason } : { [ATTR.transport]: transport }));
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    for (const [key, attributes] of this.sessionSeries) result.observe(sessions, counts.get(key) ?? 0, attributes);
  };
}
