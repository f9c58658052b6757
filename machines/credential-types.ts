import type { AnyActorRef } from 'xstate';
import type { BackoffOptions } from './backoff.js';

/**
 * What the credential chart (machines/credential.ts) exchanges with sessions, with `src/auth`
 * and with operators, and the context it keeps. Plain data throughout; never a token.
 */

/** Replies the credential chart sends to a session. */
export type CredentialReply =
  | { readonly type: 'CREDENTIAL.USABLE'; readonly generation: number }
  /** `atMs`: when the refresh finished, if it just did (sessions take it as the current time). */
  | { readonly type: 'CREDENTIAL.REFRESHED'; readonly generation: number; readonly atMs?: number }
  | { readonly type: 'CREDENTIAL.REFRESH_FAILED'; readonly summary: string }
  | { readonly type: 'CREDENTIAL.REAUTH_REQUIRED'; readonly summary: string };

/** What a refresh produced: the new generation and, if known, how long the token lives. */
export interface RefreshOutput {
  /** Generation of the token now current (may be one another holder rotated). */
  readonly generation: number;
  /** Lifetime of the new token from `atMs`, in ms, if the source knows it. */
  readonly expiresInMs?: number;
  /** When the refresh finished, in ms on the manager's clock. */
  readonly atMs: number;
}

/** Events the credential chart accepts. */
export type CredentialEvent =
  | { readonly type: 'CHECK'; readonly session: AnyActorRef }
  | { readonly type: 'REJECTED'; readonly session: AnyActorRef; readonly generation: number }
  | { readonly type: 'CHANGED'; readonly generation: number; readonly expiresInMs?: number }
  /** Asked by a session about to go over HTTP: answered at once, never waits for a refresh. */
  | { readonly type: 'PEEK'; readonly session: AnyActorRef }
  /**
   * A session went away: never answer it (it may have been waiting for a refresh).
   */
  | { readonly type: 'WAITER_GONE'; readonly session: AnyActorRef }
  | { readonly type: 'STOP' };

/** Input of the credential chart. */
export interface CredentialInput {
  /** A name for logs and the inspector; never the token. */
  readonly credentialId: string;
  /** Generation of the token at start. */
  readonly generation: number;
  /** Lifetime of the current token, in ms, if known: enables refresh ahead of expiry. */
  readonly expiresInMs?: number;
  /** Refresh this long before expiry, in ms. Default 300 000 (5 min, as the official CLI). */
  readonly refreshMarginMs?: number;
  /** Backoff between transient refresh failures. Default 1 s doubling to 60 s, 20 % jitter. */
  readonly retry?: BackoffOptions;
  /** Transient failures in a row before giving up until the next rejection. Default 5. */
  readonly maxTransientRetries?: number;
  /** Seed of the jitter PRNG. */
  readonly jitterSeed: number;
}

/** What a session waiting for the first token asked. */
export type LoadWaiter = { readonly session: AnyActorRef; readonly asked: 'CHECK' | 'PEEK' | 'REJECTED' };

/** The credential chart's context: plain data, serializable. */
export interface CredentialContext {
  readonly credentialId: string;
  readonly generation: number;
  readonly expiresInMs: number | undefined;
  readonly refreshMarginMs: number;
  readonly retry: BackoffOptions;
  readonly maxTransientRetries: number;
  readonly jitterSeed: number;
  /** Sessions waiting for the refresh in flight. */
  readonly waiters: readonly AnyActorRef[];
  /** Sessions waiting for the first token to be read, and what they asked (`CHECK`, `PEEK` or `REJECTED`). */
  readonly loadWaiters: readonly LoadWaiter[];
  /** The generation that was rejected and is being refreshed. */
  readonly rejectedGeneration: number | undefined;
  readonly transientFailures: number;
  readonly retryDelayMs: number;
  /** A sentence about the last refresh failure, without secrets. */
  readonly lastFailureSummary: string | undefined;
  /** Refreshes started since the chart started. */
  readonly refreshesStarted: number;
}

/**
 * The credentials changed as a session sees them. A session told "usable at generation G" or
 * "sign-in required" may trust that answer until one of these arrives. Emitted whenever the
 * chart adopts a token (a refresh's, the first one read, or one changed outside: another
 * process, or a person signing in again, which ends sign-in required) and when it enters
 * sign-in required.
 */
export interface CredentialChanged {
  readonly type: 'credential.changed';
  readonly credentialId: string;
  /** Generation of the token now current. */
  readonly generation: number;
  /** True when the chart just entered sign-in required; false when it adopted a token. */
  readonly reauthRequired: boolean;
}

/** For operators: a refresh began (a rejected token, expiry ahead, or a retry). */
export interface RefreshStarted {
  readonly type: 'refresh.started';
  readonly credentialId: string;
}

/** For operators: a refresh failed for a reason that may pass; another follows after `retryInMs`. */
export interface RefreshRetrying {
  readonly type: 'refresh.retrying';
  readonly credentialId: string;
  /** A sentence without secrets, e.g. `token refresh failed: HTTP 503`. */
  readonly summary: string;
  readonly retryInMs: number;
}

/** For operators: the refresh token was refused for good, or no credentials could be read: a person must sign in. */
export interface ReauthRequired {
  readonly type: 'reauth.required';
  readonly credentialId: string;
  /** What happened, then what to do, without secrets. */
  readonly summary: string;
}

/** Everything the credential chart emits (`actor.on(...)`); src/reports/credential-reports.ts turns it into events and log lines. */
export type CredentialEmitted = CredentialChanged | RefreshStarted | RefreshRetrying | ReauthRequired;
