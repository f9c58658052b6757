import type { Outcome } from '../../machines/outcome.js';

/**
 * The one error type transports throw for anything that went wrong on the wire.
 *
 * `outcome` is the plain-data fact the policy consumes; the message is for
 * humans and logs. Neither ever contains a token, an Authorization header or a
 * query string: callers build messages from {@link redactUrl} and outcome
 * fields only, because these errors end up in warn-level logs and telemetry.
 */
export class TransportError extends Error {
  /** What happened, as data; see `machines/outcome.ts`. */
  readonly outcome: Outcome;

  /**
   * @param outcome what the transport saw
   * @param message human-readable cause, already free of secrets
   * @param options `cause` for debugging; only pass errors that cannot carry request secrets
   */
  constructor(outcome: Outcome, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransportError';
    this.outcome = outcome;
  }

  /** Keeps `JSON.stringify(error)` useful for structured logs without walking `cause`. */
  toJSON(): { name: string; message: string; outcome: Outcome } {
    return { name: this.name, message: this.message, outcome: this.outcome };
  }
}

/** True when `value` is a {@link TransportError}. */
export function isTransportError(value: unknown): value is TransportError {
  return value instanceof TransportError;
}

/**
 * A URL safe to print: scheme, host, port and path only.
 *
 * The query string and userinfo are dropped rather than masked because either
 * may hold credentials (`?api_key=`, `user:pass@`), and the fragment never
 * reaches the server anyway. An unparseable URL is not echoed at all.
 */
export function redactUrl(url: string | URL): string {
  let parsed: URL;
  try {
    parsed = new URL(String(url));
  } catch {
    return '<invalid url>';
  }
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/**
 * ` (retry-after: 30)`-style suffix for messages about rejected requests, so a
 * log line alone tells an operator when the server wants to be asked again.
 * Empty when the server gave no hint.
 */
export function retryHint(headers: Readonly<Record<string, string>>): string {
  const parts: string[] = [];
  const seconds = headers['retry-after'];
  const ms = headers['retry-after-ms'];
  if (seconds !== undefined) parts.push(`retry-after: ${seconds}`);
  if (ms !== undefined) parts.push(`retry-after-ms: ${ms}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}
