import { assign, enqueueActions, fromPromise, setup, stateIn, type ActorRefFrom, type AnyActorRef } from 'xstate';
import { cooldownMs, type BackoffOptions } from './backoff.js';
import { classifyRefreshFailure, type RefreshFailure } from './classify-refresh.js';
import { nextRandom } from './random.js';

/**
 * The credential chart: one per credential source, shared by every session that uses it.
 * Refresh is single flight: however many sessions report a rejected token, one refresh
 * runs and all of them wait for it. Tokens never enter the chart: it knows only a
 * `generation` number that `src/auth` bumps whenever the token changes.
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
  readonly loadWaiters: readonly { readonly session: AnyActorRef; readonly asked: 'CHECK' | 'PEEK' | 'REJECTED' }[];
  /** The generation that was rejected and is being refreshed. */
  readonly rejectedGeneration: number | undefined;
  readonly transientFailures: number;
  readonly retryDelayMs: number;
  /** A sentence about the last refresh failure, without secrets. */
  readonly lastFailureSummary: string | undefined;
  /** Refreshes started since the chart started. */
  readonly refreshesStarted: number;
}

/** However short a token's life, proactive refreshes are at least this far apart, in ms. */
const MIN_REFRESH_INTERVAL_MS = 10_000;

const DEFAULT_RETRY: BackoffOptions = { initialMs: 1_000, maxMs: 60_000, multiplier: 2, jitterRatio: 0.2, retryAfterCapMs: 60_000 };

/** Builds the credential chart. `src/auth` provides `refreshCredentials`, which performs the refresh. */
export function createCredentialMachine() {
  return setup({
    types: {
      context: {} as CredentialContext,
      events: {} as CredentialEvent,
      input: {} as CredentialInput,
    },
    actors: {
      refreshCredentials: fromPromise<RefreshOutput, { rejectedGeneration: number }>(async () => {
        throw new Error('refreshCredentials is provided by src/auth');
      }),
      loadCredentials: fromPromise<RefreshOutput, Record<string, never>>(async () => {
        throw new Error('loadCredentials is provided by src/auth');
      }),
    },
    actions: {
      answerUsable: enqueueActions(({ enqueue, event, context }) => {
        if (event.type !== 'CHECK' && event.type !== 'PEEK') return;
        enqueue.sendTo(event.session, { type: 'CREDENTIAL.USABLE', generation: context.generation } satisfies CredentialReply);
      }),
      answerRefreshedAlready: enqueueActions(({ enqueue, event, context }) => {
        if (event.type !== 'REJECTED') return;
        enqueue.sendTo(event.session, { type: 'CREDENTIAL.REFRESHED', generation: context.generation } satisfies CredentialReply);
      }),
      answerReauthRequired: enqueueActions(({ enqueue, event, context }) => {
        if (event.type !== 'CHECK' && event.type !== 'REJECTED' && event.type !== 'PEEK') return;
        enqueue.sendTo(event.session, {
          type: 'CREDENTIAL.REAUTH_REQUIRED',
          summary: context.lastFailureSummary ?? 'sign-in required',
        } satisfies CredentialReply);
      }),
      addTheWaiter: assign(({ context, event }) => {
        if (event.type !== 'REJECTED' && event.type !== 'CHECK') return {};
        return {
          waiters: context.waiters.includes(event.session) ? context.waiters : [...context.waiters, event.session],
          rejectedGeneration: event.type === 'REJECTED' ? (context.rejectedGeneration ?? event.generation) : context.rejectedGeneration,
        };
      }),
      forgetTheWaiter: assign(({ context, event }) =>
        event.type === 'WAITER_GONE'
          ? { waiters: context.waiters.filter((waiter) => waiter !== event.session), loadWaiters: context.loadWaiters.filter((waiter) => waiter.session !== event.session) }
          : {},
      ),
      waitForTheFirstToken: assign(({ context, event }) => {
        if (event.type !== 'CHECK' && event.type !== 'PEEK' && event.type !== 'REJECTED') return {};
        return { loadWaiters: [...context.loadWaiters.filter((waiter) => waiter.session !== event.session), { session: event.session, asked: event.type }] };
      }),
      // Each asker gets the reply its state understands: a PEEK never waits for a refresh, so it only hears usable or sign-in.
      answerTheLoadWaiters: enqueueActions(({ enqueue, context }, params: { outcome: 'loaded' | 'permanent' | 'transient' }) => {
        const summary = context.lastFailureSummary ?? 'the credentials could not be read';
        for (const { session, asked } of context.loadWaiters) {
          let reply: CredentialReply;
          if (params.outcome === 'permanent') reply = { type: 'CREDENTIAL.REAUTH_REQUIRED', summary };
          else if (params.outcome === 'loaded' || asked === 'PEEK') {
            reply = asked === 'REJECTED' ? { type: 'CREDENTIAL.REFRESHED', generation: context.generation } : { type: 'CREDENTIAL.USABLE', generation: context.generation };
          } else reply = { type: 'CREDENTIAL.REFRESH_FAILED', summary };
          enqueue.sendTo(session, reply);
        }
        enqueue.assign({ loadWaiters: [] });
      }),
      noteTheLoadFailure: assign({
        lastFailureSummary: ({ event }) => `the credentials could not be read: ${describe((event as { error?: unknown }).error)}`,
      }),
      answerRefreshFailed: enqueueActions(({ enqueue, event, context }) => {
        if (event.type !== 'REJECTED') return;
        enqueue.sendTo(event.session, {
          type: 'CREDENTIAL.REFRESH_FAILED',
          summary: context.lastFailureSummary ?? 'token refresh failed',
        } satisfies CredentialReply);
      }),
      tellTheWaiters: enqueueActions(({ enqueue, context, event }, params: { reply: 'refreshed' | 'failed' | 'reauth' }) => {
        const summary = context.lastFailureSummary ?? 'refresh failed';
        const atMs = (event as { output?: { atMs?: unknown } }).output?.atMs;
        const reply: CredentialReply =
          params.reply === 'refreshed'
            ? typeof atMs === 'number'
              ? { type: 'CREDENTIAL.REFRESHED', generation: context.generation, atMs }
              : { type: 'CREDENTIAL.REFRESHED', generation: context.generation }
            : params.reply === 'failed'
              ? { type: 'CREDENTIAL.REFRESH_FAILED', summary }
              : { type: 'CREDENTIAL.REAUTH_REQUIRED', summary };
        for (const waiter of context.waiters) enqueue.sendTo(waiter, reply);
        enqueue.assign({ waiters: [] });
      }),
      countTheRefresh: assign({ refreshesStarted: ({ context }) => context.refreshesStarted + 1 }),
      adoptTheNewToken: assign(({ event }) => {
        const output = (event as unknown as { output: RefreshOutput }).output;
        return {
          generation: output.generation,
          expiresInMs: output.expiresInMs,
          rejectedGeneration: undefined,
          transientFailures: 0,
          lastFailureSummary: undefined,
        };
      }),
      adoptTheChangedToken: assign(({ event }) => {
        if (event.type !== 'CHANGED') return {};
        return { generation: event.generation, expiresInMs: event.expiresInMs, rejectedGeneration: undefined, transientFailures: 0 };
      }),
      noteThePermanentFailure: assign({
        lastFailureSummary: ({ event }) => permanentSummary((event as { error?: unknown }).error),
        rejectedGeneration: undefined,
      }),
      noteTheTransientFailure: assign(({ context, event }) => {
        const failures = context.transientFailures + 1;
        const random = nextRandom(context.jitterSeed);
        return {
          transientFailures: failures,
          jitterSeed: random.seed,
          retryDelayMs: cooldownMs(context.retry, failures, random.value),
          lastFailureSummary: `token refresh failed: ${describe((event as { error?: unknown }).error)}`,
        };
      }),
      // Giving up means the expiry we knew is no longer a plan: refresh again on the next rejection only.
      // The streak is kept: the next rejection's refresh fails into the capped backoff, not a fresh burst.
      giveUpRetrying: assign({ rejectedGeneration: undefined, expiresInMs: undefined }),
    },
    guards: {
      theRejectedTokenIsAlreadyReplaced: ({ context, event }) => event.type === 'REJECTED' && event.generation < context.generation,
      theFailureIsPermanent: ({ event }) => classifyRefreshFailure(asRefreshFailure((event as { error?: unknown }).error)) === 'permanent',
      theRetriesAreSpent: ({ context }) => context.transientFailures >= context.maxTransientRetries,
      theExpiryIsKnown: ({ context }) => context.expiresInMs !== undefined,
      noTokenIsKnownYet: ({ context }) => context.generation === 0,
    },
    delays: {
      // A token that lives less than the margin is refreshed half-way, never at once (a storm).
      refreshAheadDelay: ({ context }) => {
        const lifetimeMs = context.expiresInMs ?? 0;
        return Math.max(lifetimeMs - context.refreshMarginMs, lifetimeMs / 2, MIN_REFRESH_INTERVAL_MS);
      },
      retryDelay: ({ context }) => context.retryDelayMs,
    },
  }).createMachine({
    id: 'credential',
    context: ({ input }) => ({
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
    }),
    initial: 'valid',
    on: {
      STOP: '.stopped',
      WAITER_GONE: { actions: 'forgetTheWaiter' },
      PEEK: [{ guard: stateIn('#credential.reauthRequired'), actions: 'answerReauthRequired' }, { actions: 'answerUsable' }],
    },
    states: {
      valid: {
        description: 'The current token is believed good.',
        initial: 'checkingExpiry',
        on: {
          CHECK: [{ guard: 'noTokenIsKnownYet', target: 'loading', actions: 'waitForTheFirstToken' }, { actions: 'answerUsable' }],
          PEEK: [{ guard: 'noTokenIsKnownYet', target: 'loading', actions: 'waitForTheFirstToken' }, { actions: 'answerUsable' }],
          REJECTED: [
            { guard: 'noTokenIsKnownYet', target: 'loading', actions: 'waitForTheFirstToken' },
            { guard: 'theRejectedTokenIsAlreadyReplaced', actions: 'answerRefreshedAlready' },
            { target: 'refreshing', actions: 'addTheWaiter' },
          ],
          CHANGED: { target: 'valid', reenter: true, actions: 'adoptTheChangedToken' },
        },
        states: {
          checkingExpiry: {
            description: 'Decides whether the token has a known expiry to refresh ahead of.',
            always: [{ guard: 'theExpiryIsKnown', target: 'expiring' }, { target: 'untimed' }],
          },
          untimed: { description: 'The token has no known expiry: refresh only when it is rejected.' },
          expiring: {
            description: 'Refresh ahead of expiry, so no turn meets an expired token.',
            after: { refreshAheadDelay: { target: '#credential.refreshing' } },
          },
        },
      },
      loading: {
        description:
          'No token is known yet: read the first one before any session uses it, so a missing, empty or corrupt credentials file is a sign-in problem, never an endpoint failure.',
        invoke: {
          id: 'loadCredentials',
          src: 'loadCredentials',
          input: () => ({}),
          onDone: { target: 'valid', actions: ['adoptTheNewToken', { type: 'answerTheLoadWaiters', params: { outcome: 'loaded' } }] },
          onError: [
            {
              guard: 'theFailureIsPermanent',
              target: 'reauthRequired',
              actions: ['noteThePermanentFailure', { type: 'answerTheLoadWaiters', params: { outcome: 'permanent' } }],
            },
            { target: 'valid', actions: ['noteTheLoadFailure', { type: 'answerTheLoadWaiters', params: { outcome: 'transient' } }] },
          ],
        },
        on: {
          CHECK: { actions: 'waitForTheFirstToken' },
          PEEK: { actions: 'waitForTheFirstToken' },
          REJECTED: { actions: 'waitForTheFirstToken' },
          CHANGED: { target: 'valid', actions: ['adoptTheChangedToken', { type: 'answerTheLoadWaiters', params: { outcome: 'loaded' } }] },
        },
      },
      refreshing: {
        description: 'One refresh in flight; every session that needs it waits for this one.',
        entry: 'countTheRefresh',
        invoke: {
          id: 'refreshCredentials',
          src: 'refreshCredentials',
          input: ({ context }) => ({ rejectedGeneration: context.rejectedGeneration ?? context.generation }),
          onDone: { target: 'valid', actions: ['adoptTheNewToken', { type: 'tellTheWaiters', params: { reply: 'refreshed' } }] },
          onError: [
            {
              guard: 'theFailureIsPermanent',
              target: 'reauthRequired',
              actions: ['noteThePermanentFailure', { type: 'tellTheWaiters', params: { reply: 'reauth' } }],
            },
            { target: 'retrying', actions: ['noteTheTransientFailure', { type: 'tellTheWaiters', params: { reply: 'failed' } }] },
          ],
        },
        on: {
          // A session about to upgrade waits for the refresh in flight: it may end in sign-in required.
          CHECK: { actions: 'addTheWaiter' },
          REJECTED: [{ guard: 'theRejectedTokenIsAlreadyReplaced', actions: 'answerRefreshedAlready' }, { actions: 'addTheWaiter' }],
          // A sign-in or another process replaced the token while we refreshed: take it, drop our refresh.
          CHANGED: { target: 'valid', actions: ['adoptTheChangedToken', { type: 'tellTheWaiters', params: { reply: 'refreshed' } }] },
        },
      },
      retrying: {
        description: 'A refresh failed for a reason that may pass (5xx, network): try again after a backoff.',
        after: { retryDelay: [{ guard: 'theRetriesAreSpent', target: 'valid', actions: 'giveUpRetrying' }, { target: 'refreshing' }] },
        on: {
          CHECK: { actions: 'answerUsable' },
          // The token endpoint just failed: keep the backoff, and fail fast rather than make a turn wait it out.
          REJECTED: [{ guard: 'theRejectedTokenIsAlreadyReplaced', actions: 'answerRefreshedAlready' }, { actions: 'answerRefreshFailed' }],
          CHANGED: { target: 'valid', actions: 'adoptTheChangedToken' },
        },
      },
      reauthRequired: {
        description: 'The refresh token is spent or revoked: no refresh, no upgrade, until a person signs in again.',
        on: {
          CHECK: { actions: 'answerReauthRequired' },
          REJECTED: { actions: 'answerReauthRequired' },
          CHANGED: { target: 'valid', actions: 'adoptTheChangedToken' },
        },
      },
      stopped: { type: 'final', description: 'The manager closed: no timer, no refresh in flight.' },
    },
  });
}

function asRefreshFailure(error: unknown): RefreshFailure {
  if (typeof error !== 'object' || error === null) return {};
  const candidate = error as Record<string, unknown>;
  const failure: { status?: number; errorCode?: string; networkCode?: string } = {};
  if (typeof candidate['status'] === 'number') failure.status = candidate['status'];
  if (typeof candidate['errorCode'] === 'string') failure.errorCode = candidate['errorCode'];
  if (typeof candidate['networkCode'] === 'string') failure.networkCode = candidate['networkCode'];
  return failure;
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

function describe(error: unknown): string {
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
function permanentSummary(error: unknown): string {
  const failure = asRefreshFailure(error);
  if (failure.errorCode === 'credentials_missing' || failure.errorCode === 'credentials_unreadable' || failure.errorCode === 'credentials_unwritable') {
    return `${describe(error)}; sign in again (or fix the credentials file) and turns resume without a restart`;
  }
  return `token refresh refused: ${describe(error)}; sign in again and turns resume without a restart`;
}

/** The credential chart, with a refresh that must be provided. */
export const credentialMachine = createCredentialMachine();

/** A running credential chart. */
export type CredentialActorRef = ActorRefFrom<typeof credentialMachine>;
