import { RefreshError } from './credential-source.js';
import type { StoredCredentials } from './credential-store.js';
import { untrustedCode, untrustedText } from '../secrets.js';
import { redact } from './redact.js';

/**
 * One RFC 6749 §6 refresh grant: a form-encoded POST of `grant_type=refresh_token`, answered
 * with new tokens or with an error body in either shape found in the wild:
 * - RFC 6749 §5.2: `{"error":"invalid_grant","error_description":"…"}`
 * - OpenAI-like: `{"error":{"message":"…","type":"invalid_request_error","code":"refresh_token_reused"}}`
 */

/** What {@link requestTokenRefresh} needs. */
export interface TokenRefreshRequest {
  /** The token endpoint. */
  readonly tokenUrl: string | URL;
  /** The OAuth client id. */
  readonly clientId: string;
  /** The credentials whose refresh token is spent by this call. */
  readonly current: StoredCredentials;
  /** Space-separated scopes to ask for, if the provider wants them. */
  readonly scope?: string;
  /** The fetch to use. Default the global fetch. */
  readonly fetch?: typeof fetch;
  /** Bound on the whole request, in ms. Default 120 000 (as the peer gateway). */
  readonly timeoutMs?: number;
  /** Wall clock, in ms since epoch, to turn `expires_in` into `expires_at_ms`. Default `Date.now`. */
  readonly now?: () => number;
  /** Aborts the request (the caller went away). */
  readonly signal?: AbortSignal;
}

// Error bodies are read for a message only; a huge one is a broken endpoint, not more information.
const MAX_BODY_CHARS = 64 * 1024;

/**
 * Performs the refresh grant.
 * @returns the new credentials; the old refresh token is kept when the endpoint issues none (RFC 6749 §6 allows that)
 * @throws RefreshError with `status` and `errorCode` when the endpoint refused, `networkCode` when it did not answer
 */
export async function requestTokenRefresh(request: TokenRefreshRequest): Promise<StoredCredentials> {
  const doFetch = request.fetch ?? fetch;
  const now = request.now ?? Date.now;
  const secrets = [request.current.access_token, request.current.refresh_token];
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: request.current.refresh_token, client_id: request.clientId });
  if (request.scope) form.set('scope', request.scope);
  const timeout = AbortSignal.timeout(request.timeoutMs ?? 120_000);
  const signal = request.signal ? AbortSignal.any([timeout, request.signal]) : timeout;

  let response: Response;
  let text: string;
  try {
    response = await doFetch(request.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      signal,
    });
    text = (await response.text()).slice(0, MAX_BODY_CHARS);
  } catch (error) {
    const networkCode = timeout.aborted ? 'timeout' : request.signal?.aborted ? 'aborted' : networkCodeOf(error);
    throw new RefreshError(`token refresh failed: no answer from the token endpoint (${networkCode})`, { networkCode });
  }

  if (!response.ok) {
    // The body is untrusted: a known OAuth code passes, anything else is scrubbed and bounded
    // (an endpoint may echo the refresh token it refused, in `error` as in `error_description`).
    const parsed = parseErrorBody(text);
    const errorCode = untrustedCode(parsed.errorCode, secrets);
    const description = untrustedText(parsed.description, secrets);
    const detail = description ? `: ${description}` : '';
    // Redact the whole sentence: an endpoint may echo the grant it refused.
    throw new RefreshError(redact(`token refresh failed: HTTP ${response.status}${errorCode ? ` ${errorCode}` : ''}${detail}`, secrets), {
      status: response.status,
      ...(errorCode ? { errorCode } : {}),
    });
  }
  return parseTokenResponse(text, request.current, now(), response.status);
}

/**
 * Reads an OAuth error body in either the RFC 6749 or the OpenAI-like shape.
 * @param text the response body
 * @returns the error code (`error`, or `error.code`, else `error.type`) and the human description, when present
 */
export function parseErrorBody(text: string): { errorCode?: string; description?: string } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof body !== 'object' || body === null) return {};
  const error = (body as Record<string, unknown>)['error'];
  if (typeof error === 'string') {
    const description = (body as Record<string, unknown>)['error_description'];
    return typeof description === 'string' ? { errorCode: error, description } : { errorCode: error };
  }
  if (typeof error === 'object' && error !== null) {
    const record = error as Record<string, unknown>;
    const code = typeof record['code'] === 'string' ? record['code'] : typeof record['type'] === 'string' ? record['type'] : undefined;
    const message = typeof record['message'] === 'string' ? record['message'] : undefined;
    return { ...(code ? { errorCode: code } : {}), ...(message ? { description: message } : {}) };
  }
  return {};
}

/**
 * Reads a successful token response `{ access_token, refresh_token?, expires_in? }`.
 * @param text the response body
 * @param current the credentials refreshed (their refresh token is kept if no new one is issued)
 * @param nowMs wall clock now, in ms since epoch
 * @param status the HTTP status, for the error
 * @throws RefreshError `invalid_token_response` when the body is not a token response
 */
export function parseTokenResponse(text: string, current: StoredCredentials, nowMs: number, status = 200): StoredCredentials {
  let body: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    body = parsed as Record<string, unknown>;
  } catch {
    throw new RefreshError('token refresh failed: the token endpoint answered something that is not JSON', {
      status,
      errorCode: 'invalid_token_response',
    });
  }
  const access = body['access_token'];
  if (typeof access !== 'string' || access.length === 0) {
    throw new RefreshError('token refresh failed: the token endpoint answered without an access_token', { status, errorCode: 'invalid_token_response' });
  }
  const refresh = typeof body['refresh_token'] === 'string' && body['refresh_token'].length > 0 ? body['refresh_token'] : current.refresh_token;
  const rawExpiresIn = body['expires_in'];
  // Some endpoints send the number as a string.
  const expiresIn = typeof rawExpiresIn === 'number' ? rawExpiresIn : typeof rawExpiresIn === 'string' ? Number(rawExpiresIn) : Number.NaN;
  return Number.isFinite(expiresIn) && expiresIn > 0
    ? { access_token: access, refresh_token: refresh, expires_at_ms: nowMs + Math.round(expiresIn * 1000) }
    : { access_token: access, refresh_token: refresh };
}

/** The socket-level code behind a failed fetch (undici puts it on `cause`). */
function networkCodeOf(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return 'network_error';
}
