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

/** True when `error` carries RefreshError fields (also across module copies, where `instanceof` fails). */
export function isRefreshError(error: unknown): error is RefreshError {
  if (error instanceof RefreshError) return true;
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'RefreshError';
}
