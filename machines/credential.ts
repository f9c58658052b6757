import { assign, enqueueActions, fromPromise, setup, stateIn, type ActorRefFrom } from 'xstate';
import { initialCredentialContext, loadWaiterReply, refreshAheadDelayMs, transientFailureAfter, waiterReply } from './credential-context.js';
import { describeRefreshFailure, isPermanentRefreshFailure, permanentSummary } from './credential-failures.js';
import type { CredentialContext, CredentialEmitted, CredentialEvent, CredentialInput, CredentialReply, RefreshOutput } from './credential-types.js';

export * from './credential-types.js';

/**
 * The credential chart: one per credential source, shared by every session that uses it.
 * Refresh is single flight: however many sessions report a rejected token, one refresh
 * runs and all of them wait for it. Tokens never enter the chart: it knows only a
 * `generation` number that `src/auth` bumps whenever the token changes. Its types are in
 * `credential-types.ts`, its context's changes and replies in `credential-context.ts`, how
 * it reads a failure in `credential-failures.ts`; this file is the chart itself.
 */

/** What the chart emits when it adopts a token or enters sign-in required (see `CredentialChanged`). */
function changed(context: CredentialContext, generation: number, reauthRequired: boolean): CredentialEmitted {
  return { type: 'credential.changed', credentialId: context.credentialId, generation, reauthRequired };
}

/** Builds the credential chart. `src/auth` provides `refreshCredentials`, which performs the refresh. */
export function createCredentialMachine() {
  return setup({
    types: {
      context: {} as CredentialContext,
      events: {} as CredentialEvent,
      input: {} as CredentialInput,
      emitted: {} as CredentialEmitted,
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
        for (const { session, asked } of context.loadWaiters) enqueue.sendTo(session, loadWaiterReply(context, asked, params.outcome));
        enqueue.assign({ loadWaiters: [] });
      }),
      noteTheLoadFailure: assign({
        lastFailureSummary: ({ event }) => `the credentials could not be read: ${describeRefreshFailure((event as { error?: unknown }).error)}`,
      }),
      answerRefreshFailed: enqueueActions(({ enqueue, event, context }) => {
        if (event.type !== 'REJECTED') return;
        enqueue.sendTo(event.session, {
          type: 'CREDENTIAL.REFRESH_FAILED',
          summary: context.lastFailureSummary ?? 'token refresh failed',
        } satisfies CredentialReply);
      }),
      tellTheWaiters: enqueueActions(({ enqueue, context, event }, params: { reply: 'refreshed' | 'failed' | 'reauth' }) => {
        const reply = waiterReply(context, params.reply, (event as { output?: { atMs?: unknown } }).output?.atMs);
        for (const waiter of context.waiters) enqueue.sendTo(waiter, reply);
        enqueue.assign({ waiters: [] });
      }),
      countTheRefresh: assign({ refreshesStarted: ({ context }) => context.refreshesStarted + 1 }),
      // Adopting a token tells the sessions (credential.changed): an answer they hold may be stale.
      adoptTheNewToken: enqueueActions(({ enqueue, context, event }) => {
        const output = (event as unknown as { output: RefreshOutput }).output;
        enqueue.assign({ generation: output.generation, expiresInMs: output.expiresInMs, rejectedGeneration: undefined, transientFailures: 0, lastFailureSummary: undefined });
        enqueue.emit(changed(context, output.generation, false));
      }),
      adoptTheChangedToken: enqueueActions(({ enqueue, context, event }) => {
        if (event.type !== 'CHANGED') return;
        enqueue.assign({ generation: event.generation, expiresInMs: event.expiresInMs, rejectedGeneration: undefined, transientFailures: 0 });
        enqueue.emit(changed(context, event.generation, false));
      }),
      noteThePermanentFailure: assign({
        lastFailureSummary: ({ event }) => permanentSummary((event as { error?: unknown }).error),
        rejectedGeneration: undefined,
      }),
      noteTheTransientFailure: assign(({ context, event }) => transientFailureAfter(context, (event as { error?: unknown }).error)),
      // Giving up means the expiry we knew is no longer a plan: refresh again on the next rejection only.
      // The streak is kept: the next rejection's refresh fails into the capped backoff, not a fresh burst.
      giveUpRetrying: assign({ rejectedGeneration: undefined, expiresInMs: undefined }),
      // Operators read these (src/reports/credential-reports.ts); sessions hear credential.changed.
      announceTheRefresh: enqueueActions(({ enqueue, context }) => enqueue.emit({ type: 'refresh.started', credentialId: context.credentialId })),
      announceTheRetry: enqueueActions(({ enqueue, context }) =>
        enqueue.emit({ type: 'refresh.retrying', credentialId: context.credentialId, summary: context.lastFailureSummary ?? 'refresh failed', retryInMs: context.retryDelayMs }),
      ),
      announceTheSignInRequired: enqueueActions(({ enqueue, context }) => {
        enqueue.emit({ type: 'reauth.required', credentialId: context.credentialId, summary: context.lastFailureSummary ?? 'sign-in required' });
        enqueue.emit(changed(context, context.generation, true));
      }),
    },
    guards: {
      theRejectedTokenIsAlreadyReplaced: ({ context, event }) => event.type === 'REJECTED' && event.generation < context.generation,
      theFailureIsPermanent: ({ event }) => isPermanentRefreshFailure((event as { error?: unknown }).error),
      theRetriesAreSpent: ({ context }) => context.transientFailures >= context.maxTransientRetries,
      theExpiryIsKnown: ({ context }) => context.expiresInMs !== undefined,
      noTokenIsKnownYet: ({ context }) => context.generation === 0,
    },
    delays: {
      // A token that lives less than the margin is refreshed half-way, never at once (a storm).
      refreshAheadDelay: ({ context }) => refreshAheadDelayMs(context),
      retryDelay: ({ context }) => context.retryDelayMs,
    },
  }).createMachine({
    id: 'credential',
    context: ({ input }) => initialCredentialContext(input),
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
        entry: ['countTheRefresh', 'announceTheRefresh'],
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
        entry: 'announceTheRetry',
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
        entry: 'announceTheSignInRequired',
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

/** The credential chart, with a refresh that must be provided. */
export const credentialMachine = createCredentialMachine();

/** A running credential chart. */
export type CredentialActorRef = ActorRefFrom<typeof credentialMachine>;
