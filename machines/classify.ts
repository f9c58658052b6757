import type { Failure, FailureClass } from './failure.js';
import type { Outcome } from './outcome.js';

/**
 * The failure classifier: one table from what happened to what it means.
 * docs/design.md reproduces the table; `test/machines/classify.test.ts` pins every row.
 *
 * Pure: `nowMs` is only used to turn an HTTP-date Retry-After into a delay.
 */
export function classify(outcome: Outcome, nowMs = 0): Failure {
  switch (outcome.kind) {
    case 'upgrade-rejected':
      return fromStatus('upgrade', outcome.status, retryAfterMsFrom(outcome.headers, nowMs));
    case 'http-rejected':
      return fromStatus('http', outcome.status, retryAfterMsFrom(outcome.headers, nowMs));
    case 'network':
      return { class: 'network', summary: `${phaseName(outcome.phase)} failed: ${outcome.code}`, code: outcome.code };
    case 'timeout':
      return { class: 'network', summary: `${outcome.phase} timed out`, code: `timeout-${outcome.phase}` };
    case 'closed':
      return fromCloseCode(outcome.code, outcome.afterFirstEvent);
    case 'provider-error':
      return fromProviderError(outcome.code, outcome.status, outcome.message);
    case 'request-invalid':
      return { class: 'request-fatal', summary: `the request body cannot be sent: ${outcome.detail}`, code: 'request-invalid' };
    case 'credentials-unavailable':
      return { class: 'auth', summary: `no token: the credential source failed: ${outcome.detail}`, code: 'credentials-unavailable' };
    case 'protocol':
      // A stream we cannot parse will not parse better on retry over the same transport,
      // but the other transport may be fine: treat it like a server fault.
      return { class: 'transient-server', summary: `protocol error: ${outcome.detail}`, code: 'protocol' };
    case 'aborted':
      return { class: 'aborted', summary: 'aborted by the caller', code: 'aborted' };
  }
}

type Where = 'upgrade' | 'http';

function fromStatus(where: Where, status: number, retryAfterMs: number | undefined): Failure {
  const summary = `${where === 'upgrade' ? 'upgrade' : 'HTTP request'} answered HTTP ${status}`;
  const code = String(status);
  const withRetry = (cls: FailureClass): Failure =>
    retryAfterMs === undefined ? { class: cls, summary, code } : { class: cls, summary, code, retryAfterMs };
  if (status === 401) return withRetry('auth');
  if (status === 429) return withRetry('rate-limited');
  if (status === 408) return withRetry('network');
  if (status >= 500) return withRetry('transient-server');
  // On the upgrade, any other 4xx (403, 404, 426, 400, …) is deterministic: this endpoint
  // will not give us a WebSocket. The same request over HTTP may well succeed.
  if (where === 'upgrade') return withRetry('unsupported');
  return withRetry('request-fatal');
}

function fromCloseCode(code: number, afterFirstEvent: boolean): Failure {
  const when = afterFirstEvent ? 'after the first event' : 'before the first event';
  const summary = `socket closed with ${code} ${when}`;
  const c = String(code);
  switch (code) {
    case 1008: // policy violation
    case 1009: // message too big: this request, not the endpoint
      return { class: 'request-fatal', summary, code: c };
    case 1013: // try again later
      return { class: 'rate-limited', summary, code: c };
    case 1011: // internal error
    case 1012: // service restart
    case 1014: // bad gateway
    case 1001: // going away
      return { class: 'transient-server', summary, code: c };
    default:
      // 1006 (no close frame), 1000 mid-turn, and unknown codes: the path broke.
      return { class: 'network', summary, code: c };
  }
}

function fromProviderError(code: string | undefined, status: number | undefined, message: string | undefined): Failure {
  const summary = `provider error${code ? ` ${code}` : ''}${status ? ` (HTTP ${status})` : ''}${message ? `: ${message}` : ''}`;
  const failureCode = code ?? (status ? String(status) : 'provider-error');
  // A status the provider reports inside the stream means what it means on an HTTP answer.
  if (status === 401 || status === 408) return { ...fromStatus('http', status, undefined), summary, code: failureCode };
  if (code === 'rate_limit_exceeded' || status === 429) {
    const retryAfterMs = message === undefined ? undefined : retryAfterMsFromMessage(message);
    return retryAfterMs === undefined ? { class: 'rate-limited', summary, code: failureCode } : { class: 'rate-limited', summary, code: failureCode, retryAfterMs };
  }
  if (code === 'server_error' || (status !== undefined && status >= 500)) {
    return { class: 'transient-server', summary, code: failureCode };
  }
  return { class: 'request-fatal', summary, code: failureCode };
}

function phaseName(phase: 'upgrade' | 'request' | 'stream'): string {
  return phase === 'upgrade' ? 'upgrade' : phase === 'request' ? 'HTTP request' : 'stream';
}

/**
 * Reads `retry-after-ms` (milliseconds) or `retry-after` (seconds or an HTTP date).
 * Garbage yields `undefined`, never NaN: an upstream must not be able to disable the cooldown.
 */
export function retryAfterMsFrom(headers: Readonly<Record<string, string>>, nowMs: number): number | undefined {
  const ms = headers['retry-after-ms'];
  if (ms !== undefined && /^\s*\d+(\.\d+)?\s*$/.test(ms)) return finiteOrUndefined(Math.ceil(Number(ms)));
  const value = headers['retry-after'];
  if (value === undefined) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return finiteOrUndefined(Number(value) * 1000);
  // Only the IMF-fixdate of RFC 9110 (`Sun, 06 Nov 1994 08:49:37 GMT`): V8's Date.parse also
  // accepts "1.5" or "-5" as dates in 2001, which would turn garbage into a delay.
  if (!HTTP_DATE.test(value.trim())) return undefined;
  const dateMs = Date.parse(value);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.max(0, dateMs - nowMs);
}

/**
 * Reads the delay out of a rate-limit message such as "Please try again in 11.054s" or
 * "try again in 250ms" (OpenAI puts it in the text, not in a header). Bounded to a day, so
 * a garbled message cannot latch anything for long.
 */
export function retryAfterMsFromMessage(message: string): number | undefined {
  const match = /try again in\s+(\d{1,9}(?:\.\d{1,6})?)\s*(ms|milliseconds?|s|sec|seconds?|m|min|minutes?)\b/i.exec(message);
  if (!match) return undefined;
  const value = Number(match[1]);
  const unit = (match[2] ?? 's').toLowerCase();
  const ms = unit.startsWith('ms') || unit.startsWith('milli') ? value : unit.startsWith('m') ? value * 60_000 : value * 1000;
  return Number.isFinite(ms) ? Math.min(Math.ceil(ms), 86_400_000) : undefined;
}

const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

function finiteOrUndefined(value: number): number | undefined {
  return Number.isFinite(value) ? value : undefined;
}

/** What a failure class does to the endpoint's health. */
export type EndpointEffect = 'cooldown' | 'latch-http' | 'none';

/** The endpoint half of the table: how the shared health chart reacts to a failed upgrade. */
export function endpointEffectOf(failure: Failure): EndpointEffect {
  switch (failure.class) {
    case 'unsupported':
      return 'latch-http';
    case 'request-fatal':
    case 'aborted':
      return 'none';
    default:
      return 'cooldown';
  }
}

/**
 * Whether a turn that failed on the WebSocket before its first event may be sent again over HTTP.
 * A transport failure may (the other path may well work), except when the request itself is
 * wrong or the caller gave up. A provider error answered by a working upstream only when it is
 * a server or network fault: a rate limit or a refused request would be answered the same way.
 */
export function mayRetryOverHttp(failure: Failure, outcomeKind?: Outcome['kind']): boolean {
  if (outcomeKind === 'provider-error') return failure.class === 'transient-server' || failure.class === 'network';
  if (outcomeKind === 'credentials-unavailable') return false;
  return failure.class !== 'request-fatal' && failure.class !== 'aborted';
}
