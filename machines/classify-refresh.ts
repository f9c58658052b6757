/**
 * What a failed token refresh means. `permanent` failures need a person to sign in
 * again: retrying them only burns requests (one peer logged 499 in 10 hours).
 */
export type RefreshFailureClass = 'permanent' | 'transient';

/** What the refresh call saw: the token endpoint's status and OAuth error code, or a network error code. */
export interface RefreshFailure {
  /** HTTP status of the token endpoint, if it answered. */
  readonly status?: number;
  /** OAuth `error` or provider `error.code` (`invalid_grant`, `refresh_token_reused`, …). */
  readonly errorCode?: string;
  /** Socket-level error code (`ECONNREFUSED`, …) or `timeout`. */
  readonly networkCode?: string;
}

/** OAuth error codes that mean the refresh token is spent or revoked. */
export const PERMANENT_REFRESH_ERRORS: readonly string[] = [
  'refresh_token_reused',
  'refresh_token_expired',
  'refresh_token_invalidated',
  'invalid_grant',
  'invalid_client',
  'unauthorized_client',
  // Local: no credentials file, or one we cannot parse. Retrying will not make one appear.
  'credentials_missing',
  'credentials_unreadable',
  // Local: the credentials file's directory cannot be written safely. An operator must fix it.
  'credentials_unwritable',
];

/** Classifies a failed refresh: permanent (sign in again) or transient (retry with backoff). */
export function classifyRefreshFailure(failure: RefreshFailure): RefreshFailureClass {
  if (failure.errorCode !== undefined && PERMANENT_REFRESH_ERRORS.includes(failure.errorCode)) return 'permanent';
  if (failure.status === 401) return 'permanent';
  if (failure.status !== undefined && failure.status >= 400 && failure.status < 500 && failure.status !== 408 && failure.status !== 429) {
    return 'permanent';
  }
  return 'transient';
}
