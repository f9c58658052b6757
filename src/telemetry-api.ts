/**
 * `@opentelemetry/api`, if the host installed it. It is an optional peer dependency, loaded
 * once here with a dynamic import, so that:
 * - the package works without it: every instrument and span is then skipped;
 * - the copy used is the host's, the one its SDK registered with. A second, newer copy nested
 *   inside this package would find the host's (older) registration incompatible and hand out
 *   no-op meters: metrics that silently record nothing.
 */

/** The API module's shape (types only; nothing is imported at runtime from here). */
export type OtelApi = typeof import('@opentelemetry/api');

let loaded: OtelApi | undefined;
try {
  loaded = await import('@opentelemetry/api');
} catch {
  // Not installed: telemetry stays off.
  loaded = undefined;
}

/** The host's `@opentelemetry/api`, or `undefined` when it is not installed. */
export function otelApi(): OtelApi | undefined {
  return loaded;
}

/** The instrumentation scope: the meter's and the tracer's name. */
export const SCOPE_NAME = 'resilient-stream';

/**
 * Attribute names. Standard ones from the OpenTelemetry semantic conventions (`error.type`,
 * `server.address`); the package's own under the `resilient_stream.` namespace.
 */
export const ATTR = {
  /** The failure class (`transient-server`, `network`, `auth`, …) of a failed operation. Standard. */
  errorType: 'error.type',
  /** Host of the endpoint's HTTP URL. Standard. */
  serverAddress: 'server.address',
  /** The endpoint key, as configured (`openai/gpt-5.4/acct-1`). */
  endpoint: 'resilient_stream.endpoint',
  /** `websocket`, `http`, or `none` when the turn never sent. */
  transport: 'resilient_stream.transport',
  /** Why a session's turns went over HTTP (`cooling-down`, `upgrade-failed`, …). */
  fallbackReason: 'resilient_stream.fallback.reason',
  /** How an upgrade ended: `opened` or `failed`. */
  upgradeResult: 'resilient_stream.upgrade.result',
  /** An endpoint's health: `probing`, `healthy`, `cooling-down`, `unsupported`, `stopped`. */
  endpointState: 'resilient_stream.endpoint.state',
  /** What recovered: `endpoint` (its upgrade works again) or `session` (back on its WebSocket). */
  recoveryScope: 'resilient_stream.recovery.scope',
  /** A credential's name (never its token). */
  credential: 'resilient_stream.credential',
  /** Spans only: the session id (unbounded, so never on metrics). */
  sessionId: 'resilient_stream.session.id',
  /** Spans only: the turn id. */
  turnId: 'resilient_stream.turn.id',
  /** Spans only: sends made by the turn. */
  attempts: 'resilient_stream.turn.attempts',
  /** Spans only: seconds from `stream()` to the first event. */
  timeToFirstEvent: 'resilient_stream.turn.time_to_first_event',
  /** Spans only: the status, close code or error code behind a failure. */
  failureCode: 'resilient_stream.failure.code',
  /** Spans only: the outcome of a phase (`ok`, `failed`, `cancelled`). */
  phaseResult: 'resilient_stream.phase.result',
} as const;

/** `server.address` of an endpoint: the host of its HTTP URL, or undefined when it cannot be read. */
export function hostOf(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '') || undefined;
  } catch {
    return undefined;
  }
}
