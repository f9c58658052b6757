import { untrustedCode } from '../secrets.js';

/**
 * The one interface the rest of resilient-stream knows about credentials.
 *
 * A source hands out access tokens and refreshes them. The credential chart never sees a
 * token: `credential-runtime.ts` holds the strings and gives the chart generation numbers.
 */

/** Where access tokens come from and how a rejected one is replaced. */
export interface CredentialSource {
  /** The current access token. */
  token(): string | Promise<string>;
  /**
   * Refresh given the token that was rejected. May answer with a token another holder
   * already rotated (then it must not call the token endpoint). Throws a {@link RefreshError}
   * on failure.
   */
  refresh(rejected: string): Promise<string>;
  /** Learn that credentials changed outside (a sign-in, another process). Returns an unsubscribe function. */
  onChange?(listener: () => void): () => void;
  /** Seconds-precision expiry of the current token in ms since epoch, if known (enables proactive refresh). */
  expiresAtMs?(): number | undefined;
  /** A name for logs (never the token). */
  readonly name?: string;
  /**
   * Every other secret the source holds or has held (refresh tokens of every generation, API
   * keys), so the package can scrub them from every string it lets out. Optional: access tokens
   * are known without it. Never used for anything but scrubbing.
   */
  secrets?(): Iterable<string>;
  /**
   * Longest a turn waits for one `refresh()` of this source, in ms, unless the runtime is given
   * its own `refreshWaitMs`. Default 30 000. See `CredentialRuntimeOptions.refreshWaitMs`.
   */
  readonly refreshWaitMs?: number;
}

/** The facts about a failed refresh that `machines/classify-refresh.ts` reads. */
export interface RefreshErrorDetails {
  /** HTTP status of the token endpoint, if it answered. */
  readonly status?: number;
  /** OAuth `error` (RFC 6749 §5.2) or provider `error.code` (`refresh_token_reused`, …). */
  readonly errorCode?: string;
  /** Socket-level error code (`ECONNREFUSED`, …), `timeout`, or a local failure such as `lock_timeout`. */
  readonly networkCode?: string;
  /** The underlying error, for debugging. Must not carry a token either. */
  readonly cause?: unknown;
}

/**
 * A failed refresh. `status`, `errorCode` and `networkCode` decide whether the chart
 * retries (transient) or waits for a sign-in (permanent). The message is written for an
 * operator and never contains a token: every producer in `src/auth` redacts it.
 */
export class RefreshError extends Error {
  /** HTTP status of the token endpoint, if it answered. */
  status?: number;
  /** OAuth or provider error code, if the endpoint gave one. */
  errorCode?: string;
  /** Network or local failure code, if the endpoint never answered. */
  networkCode?: string;

  /**
   * @param message an operator-facing sentence without secrets
   * @param details what classifies the failure
   */
  constructor(message: string, details: RefreshErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'RefreshError';
    if (details.status !== undefined) this.status = details.status;
    if (details.errorCode !== undefined) this.errorCode = details.errorCode;
    if (details.networkCode !== undefined) this.networkCode = details.networkCode;
  }
}

/** Node's convention for system error codes (`ECONNRESET`, `UND_ERR_SOCKET`, `ERR_…`): a network or local failure, not an OAuth answer. */
const SYSTEM_CODE = /^(?:E[A-Z0-9]+|UND_ERR_[A-Z_]+|ERR_[A-Z0-9_]+)$/;

/**
 * Reads a failure of any source as a {@link RefreshError}, as the credential chart classifies it.
 * A `RefreshError` is kept; any other error keeps its facts: `status` (or `statusCode`) becomes
 * `status`, `errorCode` or an OAuth-style `code` becomes `errorCode`, a system `code`
 * (`ECONNREFUSED`) becomes `networkCode`. The original becomes the `cause`.
 * @param error what `token()` or `refresh()` threw
 * @param prefix the start of the message for errors that are not RefreshErrors
 * @param secrets tokens to scrub from the untrusted code
 */
export function refreshErrorFrom(error: unknown, prefix: string, secrets: Iterable<string> = []): RefreshError {
  if (isRefreshError(error)) return error;
  const record = typeof error === 'object' && error !== null ? (error as Record<string, unknown>) : {};
  const rawStatus = record['status'] ?? record['statusCode'];
  const status = typeof rawStatus === 'number' && Number.isInteger(rawStatus) && rawStatus >= 100 && rawStatus <= 599 ? rawStatus : undefined;
  const rawCode = typeof record['errorCode'] === 'string' ? record['errorCode'] : typeof record['code'] === 'string' ? record['code'] : undefined;
  const system = rawCode !== undefined && SYSTEM_CODE.test(rawCode);
  const code = rawCode === undefined ? undefined : untrustedCode(rawCode, secrets);
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : 'unknown error';
  return new RefreshError(`${prefix}: ${message}`, {
    ...(status !== undefined ? { status } : {}),
    ...(code !== undefined ? (system ? { networkCode: code } : { errorCode: code }) : {}),
    cause: error,
  });
}

/** True when `error` carries RefreshError fields (also across module copies, where `instanceof` fails). */
export function isRefreshError(error: unknown): error is RefreshError {
  if (error instanceof RefreshError) return true;
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'RefreshError';
}
