import { classifyRefreshFailure, type RefreshFailure } from './classify-refresh.js';

/**
 * How the credential chart reads a failed refresh or read of the credentials: the fields it
 * trusts, whether the failure is permanent, and the sentence operators and sessions are given.
 * Pure; never a token (src/auth checks codes before they reach the chart, and they are bounded
 * again here).
 */

/** The fields of a thrown refresh or load error the chart looks at; anything else is ignored. */
export function asRefreshFailure(error: unknown): RefreshFailure {
  if (typeof error !== 'object' || error === null) return {};
  const candidate = error as Record<string, unknown>;
  const failure: { status?: number; errorCode?: string; networkCode?: string } = {};
  if (typeof candidate['status'] === 'number') failure.status = candidate['status'];
  if (typeof candidate['errorCode'] === 'string') failure.errorCode = candidate['errorCode'];
  if (typeof candidate['networkCode'] === 'string') failure.networkCode = candidate['networkCode'];
  return failure;
}

/** Whether a thrown refresh or load error needs a person (sign in again), not a retry. */
export function isPermanentRefreshFailure(error: unknown): boolean {
  return classifyRefreshFailure(asRefreshFailure(error)) === 'permanent';
}

// Codes the package itself produces, as sentences an operator can act on.
const LOCAL_FAILURES: Readonly<Record<string, string>> = {
  credentials_missing: 'no credentials were found (a missing or empty credentials file, or a source without a token)',
  credentials_unreadable: 'the credentials could not be read (unreadable file, or not valid credentials JSON)',
  credentials_unwritable: 'the credentials file cannot be written safely (see the log line naming its directory)',
  lock_timeout: 'another holder kept the refresh lock past refreshWaitMs',
  refresh_wait_timeout: 'the refresh did not finish within refreshWaitMs',
  store_write_failed: 'the refreshed credentials could not be written back',
};

/** A short description of a thrown refresh or load error: the package's own codes as sentences, else the code and status. */
export function describeRefreshFailure(error: unknown): string {
  const failure = asRefreshFailure(error);
  const code = failure.errorCode ?? failure.networkCode;
  const local = code === undefined ? undefined : LOCAL_FAILURES[code];
  if (local) return `${local} [${code}]`;
  // Codes reach the chart already checked by src/auth; bound them again, the chart is the last word.
  if (failure.errorCode) return `${failure.errorCode.slice(0, 64)}${failure.status ? ` (HTTP ${failure.status})` : ''}`;
  if (failure.status) return `HTTP ${failure.status}`;
  if (failure.networkCode) return failure.networkCode.slice(0, 64);
  return 'unknown error';
}

/** What the operator reads when a person must act: what happened, then what to do. */
export function permanentSummary(error: unknown): string {
  const failure = asRefreshFailure(error);
  if (failure.errorCode === 'credentials_missing' || failure.errorCode === 'credentials_unreadable' || failure.errorCode === 'credentials_unwritable') {
    return `${describeRefreshFailure(error)}; sign in again (or fix the credentials file) and turns resume without a restart`;
  }
  return `token refresh refused: ${describeRefreshFailure(error)}; sign in again and turns resume without a restart`;
}
