import type { Outcome } from './outcome.js';

/**
 * What a failure means. One word per distinct reaction of the charts:
 * - `auth`: the credentials were refused; refresh once, then treat as a failure of this path.
 * - `unsupported`: the endpoint will not speak WebSocket to us; latch HTTP for a long TTL.
 * - `rate-limited`: the upstream asked us to slow down; its Retry-After is a floor for the cooldown.
 * - `transient-server`: the upstream failed in a way that may heal; cool down and probe later.
 * - `network`: the path failed (reset, refused, DNS, timeout); cool down and probe later.
 * - `request-fatal`: this request is wrong (400-like); fail the turn, do not switch transport.
 * - `aborted`: the caller gave up; nothing is wrong with anyone.
 */
export type FailureClass =
  | 'auth'
  | 'unsupported'
  | 'rate-limited'
  | 'transient-server'
  | 'network'
  | 'request-fatal'
  | 'aborted';

/** A classified failure: plain data, safe to log, emit and persist. */
export interface Failure {
  /** What the failure means; see {@link FailureClass}. */
  readonly class: FailureClass;
  /** A short human sentence without secrets, e.g. `upgrade answered HTTP 500`. */
  readonly summary: string;
  /** Server-supplied minimum wait in milliseconds (Retry-After, retry-after-ms), if any. */
  readonly retryAfterMs?: number;
  /** HTTP status, WebSocket close code or error code that led here, for metrics and logs. */
  readonly code?: string;
}
