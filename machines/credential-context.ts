import { cooldownMs, type BackoffOptions } from './backoff.js';
import type { CredentialContext, CredentialInput, CredentialReply, LoadWaiter } from './credential-types.js';
import { describeRefreshFailure } from './credential-failures.js';
import { nextRandom } from './random.js';

/**
 * How the credential chart's context starts and changes, and what it tells the sessions waiting
 * on it: pure functions from the context (and the event's data). The chart's actions only apply them.
 */

/** However short a token's life, proactive refreshes are at least this far apart, in ms. */
export const MIN_REFRESH_INTERVAL_MS = 10_000;

/** The backoff between transient refresh failures when the input names none. */
export const DEFAULT_RETRY: BackoffOptions = { initialMs: 1_000, maxMs: 60_000, multiplier: 2, jitterRatio: 0.2, retryAfterCapMs: 60_000 };

/** The context a credential chart starts with. */
export function initialCredentialContext(input: CredentialInput): CredentialContext {
  return {
    credentialId: input.credentialId,
    generation: input.generation,
    expiresInMs: input.expiresInMs,
    refreshMarginMs: input.refreshMarginMs ?? 300_000,
    retry: input.retry ?? DEFAULT_RETRY,
    maxTransientRetries: input.maxTransientRetries ?? 5,
    jitterSeed: input.jitterSeed,
    waiters: [],
    loadWaiters: [],
    rejectedGeneration: undefined,
    transientFailures: 0,
    retryDelayMs: 0,
    lastFailureSummary: undefined,
    refreshesStarted: 0,
  };
}

/** How long before refreshing a token with a known lifetime: the margin ahead of expiry, or half-way for a short-lived token, never at once (a storm). */
export function refreshAheadDelayMs(context: CredentialContext): number {
  const lifetimeMs = context.expiresInMs ?? 0;
  return Math.max(lifetimeMs - context.refreshMarginMs, lifetimeMs / 2, MIN_REFRESH_INTERVAL_MS);
}

/** One more transient failure: the next retry's delay, jittered from the chart's own seed, and the sentence about it. */
export function transientFailureAfter(context: CredentialContext, error: unknown): Partial<CredentialContext> {
  const failures = context.transientFailures + 1;
  const random = nextRandom(context.jitterSeed);
  return {
    transientFailures: failures,
    jitterSeed: random.seed,
    retryDelayMs: cooldownMs(context.retry, failures, random.value),
    lastFailureSummary: `token refresh failed: ${describeRefreshFailure(error)}`,
  };
}

/**
 * What a session waiting for the first token is told once the read ends. Each gets the reply its
 * state understands: a PEEK never waits for a refresh, so a token read hears usable, and a read
 * that failed hears "refresh failed" (HTTP, and no upgrade with a token nobody has).
 */
export function loadWaiterReply(context: CredentialContext, asked: LoadWaiter['asked'], outcome: 'loaded' | 'permanent' | 'transient'): CredentialReply {
  const summary = context.lastFailureSummary ?? 'the credentials could not be read';
  if (outcome === 'permanent') return { type: 'CREDENTIAL.REAUTH_REQUIRED', summary };
  if (outcome === 'loaded') {
    return asked === 'REJECTED' ? { type: 'CREDENTIAL.REFRESHED', generation: context.generation } : { type: 'CREDENTIAL.USABLE', generation: context.generation };
  }
  return { type: 'CREDENTIAL.REFRESH_FAILED', summary };
}

/** What the sessions waiting for a refresh are told once it ends; `atMs` is when it finished, if it did. */
export function waiterReply(context: CredentialContext, reply: 'refreshed' | 'failed' | 'reauth', atMs: unknown): CredentialReply {
  const summary = context.lastFailureSummary ?? 'refresh failed';
  if (reply === 'failed') return { type: 'CREDENTIAL.REFRESH_FAILED', summary };
  if (reply === 'reauth') return { type: 'CREDENTIAL.REAUTH_REQUIRED', summary };
  return typeof atMs === 'number'
    ? { type: 'CREDENTIAL.REFRESHED', generation: context.generation, atMs }
    : { type: 'CREDENTIAL.REFRESHED', generation: context.generation };
}
