import { and, assign, enqueueActions, fromCallback, not, setup, stateIn, type ActorRefFrom, type AnyActorRef } from 'xstate';
import { classify, mayRetryOverHttp } from './classify.js';
import type { CredentialEvent, CredentialReply } from './credential.js';
import type { DenyReason, EndpointEvent, EndpointReply } from './endpoint.js';
import type { Failure } from './failure.js';
import type { Outcome } from './outcome.js';

/**
 * The session connection chart: one per gateway session. Two regions run side by side:
 * - `connection`: the session's WebSocket (ask the credential and endpoint charts, upgrade
 *   with a timeout, refresh once on 401, stay open across turns, fall back to HTTP);
 * - `turn`: the turn in progress (wait for a transport at most `upgradeBudgetMs`, stream,
 *   retry once over HTTP before the first event, never replay after it).
 * Deltas never pass through here: the facade streams directly and reports first event, end
 * and failure. The chart decides; `src/` only does what the state says.
 */

/** The transport a turn was given. */
export type TransportKind = 'websocket' | 'http';

/** The turn in progress. */
export interface TurnContext {
  /** Caller-visible turn id. */
  readonly id: string;
  /** When the turn was requested, in ms on the manager's clock. */
  readonly requestedAtMs: number;
  /** Assigned once the chart decides; undefined while waiting for a transport. */
  readonly transport: TransportKind | undefined;
  /** 1 for the first send; 2 after a switch to HTTP or a retry after refresh. */
  readonly attempt: number;
  readonly firstEventSeen: boolean;
  readonly switchedToHttp: boolean;
  readonly authRetried: boolean;
  /** While on HTTP, why (the session's reason, `upgrade-budget-spent`, or `moved-after-failure`). */
  readonly httpReason: HttpReason | undefined;
  /** Why the previous send failed, when the turn went on (moved to HTTP, or refreshed). */
  readonly attemptFailure: Failure | undefined;
}

/** Why a session or a turn goes over HTTP. */
export type HttpReason = DenyReason | 'upgrade-failed' | 'refresh-failed' | 'credentials-unavailable' | 'upgrade-budget-spent' | 'moved-after-failure';

/** How the last turn ended. */
export interface TurnResult {
  readonly id: string;
  readonly result: 'completed' | 'failed';
  readonly transport: TransportKind | undefined;
  readonly failure?: Failure;
}

/** Events the session chart accepts. Those from the facade and the socket carry `atMs`. */
export type SessionEvent =
  | { readonly type: 'TURN_REQUESTED'; readonly turnId: string; readonly atMs: number }
  | { readonly type: 'TURN_FIRST_EVENT'; readonly turnId: string; readonly atMs: number }
  | { readonly type: 'TURN_COMPLETED'; readonly turnId: string; readonly atMs: number }
  | {
      readonly type: 'TURN_FAILED';
      readonly turnId: string;
      readonly outcome: Outcome;
      readonly atMs: number;
      /** Generation of the token the request carried (so a 401 refreshes the right one). */
      readonly credentialGeneration: number;
      /**
       * Whether the consumer already got an event of this turn. The facade says it here instead
       * of sending TURN_FIRST_EVENT on every turn (a healthy turn then costs the chart 2 events).
       */
      readonly afterFirstEvent?: boolean;
    }
  /** The caller gave up on the turn (abort signal, iterator closed) before it ended. */
  | { readonly type: 'TURN_CANCELLED'; readonly turnId: string; readonly atMs: number }
  | { readonly type: 'RELEASE'; readonly atMs: number }
  | { readonly type: 'SOCKET.OPENED'; readonly atMs: number }
  | { readonly type: 'SOCKET.FAILED'; readonly outcome: Outcome; readonly atMs: number; readonly credentialGeneration: number }
  /** The socket ended; `local` when this side closed it without the upstream being at fault (never blames the endpoint). */
  | { readonly type: 'SOCKET.CLOSED'; readonly outcome: Outcome; readonly atMs: number; readonly local?: boolean }
  /** The socket could not be opened because the credential source failed: nothing was sent. */
  | { readonly type: 'SOCKET.CREDENTIALS_UNAVAILABLE'; readonly detail: string; readonly atMs: number }
  | EndpointReply
  | CredentialReply;

/** Input of the session chart. */
export interface SessionInput {
  readonly sessionId: string;
  readonly endpointKey: string;
  /** The shared endpoint health chart of this session's endpoint. */
  readonly endpoint: AnyActorRef;
  /** The shared credential chart of this session's credentials. */
  readonly credential: AnyActorRef;
  /** Longest an upgrade may take, in ms (see `Policy.upgradeTimeoutMs`). */
  readonly upgradeTimeoutMs: number;
  /** Longest a turn waits for an upgrade in flight, in ms (see `Policy.upgradeBudgetMs`). */
  readonly upgradeBudgetMs: number;
  /** Current time at creation, in ms on the manager's clock. */
  readonly atMs: number;
}

/** What the `webSocket` actor receives: enough to find the endpoint and the token, nothing secret. */
export interface SocketActorInput {
  readonly sessionId: string;
  readonly endpointKey: string;
  readonly credentialGeneration: number;
}

/** The session chart's context: plain data plus refs to the shared charts (serialized as ids). */
export interface SessionContext {
  readonly sessionId: string;
  readonly endpointKey: string;
  readonly endpoint: AnyActorRef;
  readonly credential: AnyActorRef;
  readonly upgradeTimeoutMs: number;
  readonly upgradeBudgetMs: number;
  /** The latest time the chart heard of, in ms; every timestamped event moves it. */
  readonly nowMs: number;
  readonly connectStartedAtMs: number | undefined;
  readonly openedAtMs: number | undefined;
  /** Whether the current upgrade already refreshed credentials once after a 401. */
  readonly upgradeAuthRetried: boolean;
  /** Generation of the token known usable. */
  readonly credentialGeneration: number;
  /** While on HTTP: when the endpoint may let us try WebSocket again, and why not now. */
  readonly httpUntilMs: number | undefined;
  readonly httpReason: HttpReason | undefined;
  readonly lastFailure: Failure | undefined;
  /** Why sign-in is required, as the credential chart said it (names the cause and what to do). */
  readonly signInReason: string | undefined;
  readonly turn: TurnContext | undefined;
  readonly lastTurn: TurnResult | undefined;
}

type SocketFailed = Extract<SessionEvent, { type: 'SOCKET.FAILED' }>;
type TurnFailed = Extract<SessionEvent, { type: 'TURN_FAILED' }>;

const AUTH_REFRESH_FAILED: Failure = { class: 'auth', summary: 'credentials were refused and could not be refreshed', code: 'auth' };

function timestampOf(event: SessionEvent): number | undefined {
  return 'atMs' in event ? event.atMs : undefined;
}

/**
 * Builds the session chart. `src/` provides `webSocket`, a callback actor that opens the
 * socket on start, reports `SOCKET.OPENED` / `SOCKET.FAILED` / `SOCKET.CLOSED`, and closes it
 * when the chart leaves the `socket` state.
 */
export function createSessionMachine() {
  return setup({
    types: {
      context: {} as SessionContext,
      events: {} as SessionEvent,
      input: {} as SessionInput,
    },
    actors: {
      webSocket: fromCallback<SessionEvent, SocketActorInput>(() => () => {}),
    },
    actions: {
      noteTheTime: assign({ nowMs: ({ context, event }) => Math.max(context.nowMs, timestampOf(event) ?? context.nowMs) }),
      askWhetherTheCredentialsAreUsable: enqueueActions(({ enqueue, context, self }) => {
        enqueue.sendTo(context.credential, { type: 'CHECK', session: self } satisfies CredentialEvent);
      }),
      askTheEndpointForAnUpgrade: enqueueActions(({ enqueue, context, self }) => {
        enqueue.sendTo(context.endpoint, {
          type: 'PROBE_REQUESTED',
          sessionId: context.sessionId,
          session: self,
          atMs: context.nowMs,
        } satisfies EndpointEvent);
      }),
      rememberTheUsableGeneration: assign({
        credentialGeneration: ({ context, event }) =>
          event.type === 'CREDENTIAL.USABLE' || event.type === 'CREDENTIAL.REFRESHED' ? event.generation : context.credentialGeneration,
      }),
      // A new turn's upgrade (or one after a sign-in) gets its own refresh on a first 401.
      startAFreshUpgradeAttempt: assign({ upgradeAuthRetried: false }),
      rememberWhyWeStayOnHttp: assign(({ event }) => {
        if (event.type !== 'ENDPOINT.DENIED') return {};
        // The retry after a refresh is abandoned: the next upgrade's first 401 deserves its own refresh.
        return { httpUntilMs: event.untilMs, httpReason: event.reason, upgradeAuthRetried: false };
      }),
      startTheUpgradeClock: assign({ connectStartedAtMs: ({ context }) => context.nowMs, httpUntilMs: undefined, httpReason: undefined }),
      reportTheOpenSocket: enqueueActions(({ enqueue, context, event }) => {
        const atMs = timestampOf(event) ?? context.nowMs;
        enqueue.assign({ openedAtMs: atMs, upgradeAuthRetried: false, lastFailure: undefined });
        enqueue.sendTo(context.endpoint, { type: 'UPGRADE_SUCCEEDED', sessionId: context.sessionId, atMs } satisfies EndpointEvent);
      }),
      reportTheFailedUpgrade: enqueueActions(({ enqueue, context, event }) => {
        const failed = event as SocketFailed;
        const failure = classify(failed.outcome, failed.atMs);
        enqueue.assign({ lastFailure: failure, httpReason: 'upgrade-failed', httpUntilMs: undefined, upgradeAuthRetried: false });
        enqueue.sendTo(context.endpoint, {
          type: 'UPGRADE_FAILED',
          sessionId: context.sessionId,
          failure,
          atMs: failed.atMs,
        } satisfies EndpointEvent);
      }),
      reportTheUpgradeTimeout: enqueueActions(({ enqueue, context }) => {
        const failure = classify({ kind: 'timeout', phase: 'upgrade' });
        const atMs = (context.connectStartedAtMs ?? context.nowMs) + context.upgradeTimeoutMs;
        enqueue.assign({ lastFailure: failure, httpReason: 'upgrade-failed', httpUntilMs: undefined, nowMs: Math.max(context.nowMs, atMs), upgradeAuthRetried: false });
        enqueue.sendTo(context.endpoint, { type: 'UPGRADE_FAILED', sessionId: context.sessionId, failure, atMs } satisfies EndpointEvent);
      }),
      reportTheLostSocket: enqueueActions(({ enqueue, context, event }) => {
        if (event.type !== 'SOCKET.CLOSED') return;
        const failure = classify(event.outcome, event.atMs);
        enqueue.assign({ lastFailure: failure, openedAtMs: undefined });
        enqueue.sendTo(context.endpoint, {
          type: 'CONNECTION_LOST',
          sessionId: context.sessionId,
          failure,
          uptimeMs: Math.max(0, event.atMs - (context.openedAtMs ?? event.atMs)),
          atMs: event.atMs,
        } satisfies EndpointEvent);
      }),
      reportTheRefusedUpgrade: enqueueActions(({ enqueue, context }) => {
        const failure: Failure = context.lastFailure ?? { class: 'auth', summary: 'upgrade answered HTTP 401', code: '401' };
        enqueue.sendTo(context.endpoint, { type: 'UPGRADE_FAILED', sessionId: context.sessionId, failure, atMs: context.nowMs } satisfies EndpointEvent);
      }),
      giveTheProbeBack: enqueueActions(({ enqueue, context }) => {
        enqueue.sendTo(context.endpoint, { type: 'PROBE_RELEASED', sessionId: context.sessionId, atMs: context.nowMs } satisfies EndpointEvent);
      }),
      leaveTheRefreshWaiters: enqueueActions(({ enqueue, context, self }) => {
        enqueue.sendTo(context.credential, { type: 'WAITER_GONE', session: self } satisfies CredentialEvent);
      }),
      reportTheRejectedToken: enqueueActions(({ enqueue, context, event, self }) => {
        const generation = event.type === 'SOCKET.FAILED' || event.type === 'TURN_FAILED' ? event.credentialGeneration : context.credentialGeneration;
        enqueue.sendTo(context.credential, { type: 'REJECTED', session: self, generation } satisfies CredentialEvent);
      }),
      markTheUpgradeAuthRetried: assign({
        upgradeAuthRetried: true,
        lastFailure: ({ context, event }) => (event.type === 'SOCKET.FAILED' ? classify(event.outcome, event.atMs) : context.lastFailure),
      }),
      stayOnHttpAfterTheRefreshFailed: assign({ httpReason: 'refresh-failed', httpUntilMs: undefined, upgradeAuthRetried: false }),
      stayOnHttpWithoutCredentials: assign(({ event }) => ({
        httpReason: 'credentials-unavailable' as const,
        httpUntilMs: undefined,
        upgradeAuthRetried: false,
        lastFailure: event.type === 'SOCKET.CREDENTIALS_UNAVAILABLE' ? classify({ kind: 'credentials-unavailable', detail: event.detail }) : undefined,
      })),
      forgetTheSocketClosedHere: assign({ openedAtMs: undefined }),
      openTheTurn: assign(({ event }) => {
        if (event.type !== 'TURN_REQUESTED') return {};
        return {
          turn: {
            id: event.turnId,
            requestedAtMs: event.atMs,
            transport: undefined,
            attempt: 0,
            firstEventSeen: false,
            switchedToHttp: false,
            authRetried: false,
            httpReason: undefined,
            attemptFailure: undefined,
          },
        };
      }),
      sendTheTurnOver: assign(({ context }, params: { transport: TransportKind; budgetSpent?: boolean }) => {
        const turn = context.turn;
        if (!turn) return {};
        const httpReason = params.transport === 'websocket' ? undefined : params.budgetSpent ? 'upgrade-budget-spent' : context.httpReason;
        return { turn: { ...turn, transport: params.transport, attempt: turn.attempt + 1, httpReason } };
      }),
      switchTheTurnToHttp: assign(({ context }) => {
        const turn = context.turn;
        if (!turn) return {};
        return { turn: { ...turn, transport: 'http' as const, attempt: turn.attempt + 1, switchedToHttp: true, httpReason: 'moved-after-failure' as const } };
      }),
      // A token refused inside a socket's stream condemned that socket (it carries the token of its
      // handshake): the resend goes over HTTP with the new token, and the next turn upgrades afresh.
      sendTheTurnAgainWithTheNewToken: assign(({ context }, params: { transport: TransportKind | 'same' }) => {
        const turn = context.turn;
        if (!turn) return {};
        const transport = params.transport === 'same' ? turn.transport : params.transport;
        const moved = transport !== turn.transport;
        return {
          turn: { ...turn, transport, attempt: turn.attempt + 1, authRetried: true, ...(moved ? { switchedToHttp: true, httpReason: 'moved-after-failure' as const } : {}) },
        };
      }),
      rememberWhyTheAttemptFailed: assign(({ context, event }) =>
        context.turn && event.type === 'TURN_FAILED' ? { turn: { ...context.turn, attemptFailure: classify(event.outcome, event.atMs) } } : {},
      ),
      noteTheFirstEvent: assign(({ context }) => (context.turn ? { turn: { ...context.turn, firstEventSeen: true } } : {})),
      closeTheTurnAsCompleted: assign(({ context }) => ({
        turn: undefined,
        lastTurn: context.turn ? { id: context.turn.id, result: 'completed' as const, transport: context.turn.transport } : context.lastTurn,
      })),
      closeTheTurnAsFailed: assign(({ context, event }) => {
        const failure =
          event.type === 'TURN_FAILED'
            ? classify(event.outcome, event.atMs)
            : event.type === 'CREDENTIAL.REAUTH_REQUIRED'
              ? ({ class: 'auth', summary: event.summary, code: 'reauth-required' } satisfies Failure)
              : event.type === 'CREDENTIAL.REFRESH_FAILED'
                ? ({ ...AUTH_REFRESH_FAILED, summary: event.summary } satisfies Failure)
                : AUTH_REFRESH_FAILED;
        return {
          turn: undefined,
          lastTurn: context.turn ? { id: context.turn.id, result: 'failed' as const, transport: context.turn.transport, failure } : context.lastTurn,
        };
      }),
      closeTheTurnAsCancelled: assign(({ context }) => ({
        turn: undefined,
        lastTurn: context.turn
          ? {
              id: context.turn.id,
              result: 'failed' as const,
              transport: context.turn.transport,
              failure: { class: 'aborted', summary: 'aborted by the caller', code: 'aborted' } satisfies Failure,
            }
          : context.lastTurn,
      })),
      rememberWhySignInIsRequired: assign({
        signInReason: ({ context, event }) => (event.type === 'CREDENTIAL.REAUTH_REQUIRED' ? event.summary : context.signInReason),
      }),
      refuseTheTurnUntilSignIn: assign(({ context }) => ({
        turn: undefined,
        lastTurn: context.turn
          ? {
              id: context.turn.id,
              result: 'failed' as const,
              transport: undefined,
              failure: { class: 'auth', summary: context.signInReason ?? 'sign-in required: the refresh token was refused', code: 'reauth-required' } satisfies Failure,
            }
          : context.lastTurn,
      })),
    },
    guards: {
      noTurnIsInProgress: stateIn('#session.active.turn.idle'),
      theSocketIsOpen: stateIn('#session.active.connection.socket.open'),
      theSessionIsOnHttp: stateIn('#session.active.connection.fallback'),
      signInIsRequired: stateIn('#session.active.connection.reauthRequired'),
      theUpgradeWasRefusedForAuthTheFirstTime: ({ context, event }) =>
        event.type === 'SOCKET.FAILED' && !context.upgradeAuthRetried && classify(event.outcome).class === 'auth',
      theTurnCanMoveToHttp: ({ context, event }) => {
        const turn = context.turn;
        if (event.type !== 'TURN_FAILED' || !turn || event.turnId !== turn.id) return false;
        if (turn.firstEventSeen || event.afterFirstEvent === true) return false;
        return turn.transport === 'websocket' && !turn.switchedToHttp && mayRetryOverHttp(classify(event.outcome), event.outcome.kind);
      },
      theTurnMayRefreshOnce: ({ context, event }) => {
        const turn = context.turn;
        if (event.type !== 'TURN_FAILED' || !turn || event.turnId !== turn.id) return false;
        // A source that cannot hand out a token will not refresh one either.
        if (event.outcome.kind === 'credentials-unavailable') return false;
        return !turn.authRetried && !turn.firstEventSeen && event.afterFirstEvent !== true && classify(event.outcome).class === 'auth';
      },
      theSocketsTokenWasRefused: ({ context, event }) => {
        const turn = context.turn;
        if (event.type !== 'TURN_FAILED' || !turn || event.turnId !== turn.id || turn.transport !== 'websocket') return false;
        return event.outcome.kind === 'provider-error' && classify(event.outcome).class === 'auth';
      },
      theSocketWasClosedHere: ({ event }) => event.type === 'SOCKET.CLOSED' && event.local === true,
      theTurnLostItsSocket: and([({ context }) => context.turn?.transport === 'websocket', not(stateIn('#session.active.connection.socket.open'))]),
      theEventIsForThisTurn: ({ context, event }) => 'turnId' in event && context.turn?.id === event.turnId,
    },
    delays: {
      upgradeTimeout: ({ context }) => context.upgradeTimeoutMs,
      upgradeBudget: ({ context }) => context.upgradeBudgetMs,
    },
  }).createMachine({
    id: 'session',
    context: ({ input }) => ({
      sessionId: input.sessionId,
      endpointKey: input.endpointKey,
      endpoint: input.endpoint,
      credential: input.credential,
      upgradeTimeoutMs: input.upgradeTimeoutMs,
      upgradeBudgetMs: input.upgradeBudgetMs,
      nowMs: input.atMs,
      connectStartedAtMs: undefined,
      openedAtMs: undefined,
      upgradeAuthRetried: false,
      credentialGeneration: 0,
      httpUntilMs: undefined,
      httpReason: undefined,
      lastFailure: undefined,
      signInReason: undefined,
      turn: undefined,
      lastTurn: undefined,
    }),
    initial: 'active',
    states: {
      active: {
        description: 'The session is live: its connection and its turn evolve side by side.',
        type: 'parallel',
        on: {
          RELEASE: { target: 'released', actions: 'noteTheTime' },
        },
        states: {
          connection: {
            description: "The session's WebSocket, from the first upgrade to fallback or sign-in required.",
            initial: 'idle',
            states: {
              idle: {
                description: 'No socket. The next turn asks whether it may upgrade.',
                on: {
                  TURN_REQUESTED: { guard: 'noTurnIsInProgress', target: 'requestingPermission', actions: ['noteTheTime', 'startAFreshUpgradeAttempt'] },
                  // A turn's refresh (after an in-stream 401) ended in sign-in required: so does the connection.
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired' },
                },
              },
              requestingPermission: {
                description:
                  'The endpoint chart decides first: stay on HTTP at once (cooling down, probe in flight, unsupported), or upgrade.',
                entry: 'askTheEndpointForAnUpgrade',
                on: {
                  'ENDPOINT.GRANTED': { target: 'checkingCredentials' },
                  'ENDPOINT.DENIED': { target: 'peekingBeforeHttp', actions: 'rememberWhyWeStayOnHttp' },
                },
              },
              checkingCredentials: {
                description: 'Allowed to upgrade: is the token good? A refresh in flight is waited for; sign-in required means no upgrade.',
                entry: 'askWhetherTheCredentialsAreUsable',
                on: {
                  'CREDENTIAL.USABLE': { target: 'socket', actions: 'rememberTheUsableGeneration' },
                  // A refresh was in flight: its outcome answers the question.
                  // The refresh took a while: the probe lease may have run out; give it back and ask again.
                  'CREDENTIAL.REFRESHED': { target: 'requestingPermission', actions: ['noteTheTime', 'rememberTheUsableGeneration', 'giveTheProbeBack'] },
                  'CREDENTIAL.REFRESH_FAILED': { target: 'fallback', actions: ['giveTheProbeBack', 'stayOnHttpAfterTheRefreshFailed'] },
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired', actions: ['giveTheProbeBack', 'startAFreshUpgradeAttempt'] },
                },
              },
              peekingBeforeHttp: {
                description: 'Denied an upgrade: before HTTP, is sign-in required? Answered at once.',
                entry: enqueueActions(({ enqueue, context, self }) => {
                  enqueue.sendTo(context.credential, { type: 'PEEK', session: self } satisfies CredentialEvent);
                }),
                on: {
                  'CREDENTIAL.USABLE': { target: 'fallback' },
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired' },
                },
              },
              confirmingSignIn: {
                description: 'Sign-in was required: has someone signed in? Asked before the endpoint, so no probe is taken for nothing.',
                entry: 'askWhetherTheCredentialsAreUsable',
                on: {
                  'CREDENTIAL.USABLE': { target: 'requestingPermission', actions: 'rememberTheUsableGeneration' },
                  'CREDENTIAL.REFRESHED': { target: 'requestingPermission', actions: ['noteTheTime', 'rememberTheUsableGeneration'] },
                  'CREDENTIAL.REFRESH_FAILED': { target: 'fallback', actions: 'stayOnHttpAfterTheRefreshFailed' },
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired' },
                },
              },
              socket: {
                description: 'A socket exists (connecting or open); leaving this state closes it.',
                invoke: {
                  id: 'webSocket',
                  src: 'webSocket',
                  input: ({ context }) => ({
                    sessionId: context.sessionId,
                    endpointKey: context.endpointKey,
                    credentialGeneration: context.credentialGeneration,
                  }),
                },
                initial: 'connecting',
                states: {
                  connecting: {
                    description: 'Upgrade in flight, bounded by upgradeTimeoutMs. A turn waits for it at most upgradeBudgetMs.',
                    entry: 'startTheUpgradeClock',
                    after: { upgradeTimeout: { target: '#session.active.connection.fallback', actions: 'reportTheUpgradeTimeout' } },
                    on: {
                      'SOCKET.OPENED': { target: 'open', actions: ['noteTheTime', 'reportTheOpenSocket'] },
                      // No token to send: give the probe back, blame nobody, go over HTTP (where the turn meets the same problem).
                      'SOCKET.CREDENTIALS_UNAVAILABLE': {
                        target: '#session.active.connection.fallback',
                        actions: ['noteTheTime', 'giveTheProbeBack', 'stayOnHttpWithoutCredentials'],
                      },
                      'SOCKET.FAILED': [
                        {
                          guard: 'theUpgradeWasRefusedForAuthTheFirstTime',
                          target: '#session.active.connection.refreshingAuth',
                          actions: ['noteTheTime', 'giveTheProbeBack', 'reportTheRejectedToken', 'markTheUpgradeAuthRetried'],
                        },
                        { target: '#session.active.connection.fallback', actions: ['noteTheTime', 'reportTheFailedUpgrade'] },
                      ],
                    },
                  },
                  open: {
                    description: 'A socket is open and reused by every turn of the session.',
                    on: {
                      'SOCKET.CLOSED': [
                        // A break, return(), abort or release closed it here: nobody's fault, the endpoint is not told.
                        { guard: 'theSocketWasClosedHere', target: '#session.active.connection.idle', actions: ['noteTheTime', 'forgetTheSocketClosedHere'] },
                        { target: '#session.active.connection.idle', actions: ['noteTheTime', 'reportTheLostSocket'] },
                      ],
                      // The socket's handshake token was refused mid-stream: close it (locally, no blame); the next turn upgrades with the new token.
                      TURN_FAILED: { guard: 'theSocketsTokenWasRefused', target: '#session.active.connection.idle', actions: 'forgetTheSocketClosedHere' },
                    },
                  },
                },
              },
              refreshingAuth: {
                description: 'The upgrade answered 401: wait for the single-flight refresh, then try the upgrade once more.',
                on: {
                  'CREDENTIAL.REFRESHED': { target: 'requestingPermission', actions: ['noteTheTime', 'rememberTheUsableGeneration'] },
                  // The upgrade was refused and no new token is coming: a failed upgrade like any other (cooldown).
                  'CREDENTIAL.REFRESH_FAILED': { target: 'fallback', actions: ['stayOnHttpAfterTheRefreshFailed', 'reportTheRefusedUpgrade'] },
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired', actions: 'startAFreshUpgradeAttempt' },
                },
              },
              fallback: {
                description: 'Turns go over HTTP. The endpoint holds the cooldown; the next turn asks again, which costs nothing.',
                on: {
                  TURN_REQUESTED: { guard: 'noTurnIsInProgress', target: 'requestingPermission', actions: ['noteTheTime', 'startAFreshUpgradeAttempt'] },
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired' },
                },
              },
              reauthRequired: {
                description: 'The refresh token was refused: no refresh, no upgrade, turns fail until a person signs in.',
                entry: 'rememberWhySignInIsRequired',
                on: {
                  TURN_REQUESTED: { guard: 'noTurnIsInProgress', target: 'confirmingSignIn', actions: ['noteTheTime', 'startAFreshUpgradeAttempt'] },
                },
              },
            },
          },
          turn: {
            description: 'The turn in progress: which transport it goes on, and how it ends.',
            initial: 'idle',
            states: {
              idle: {
                description: 'No turn in progress.',
                on: { TURN_REQUESTED: { target: 'awaitingTransport', actions: ['noteTheTime', 'openTheTurn'] } },
              },
              awaitingTransport: {
                description: 'Waiting for the connection region to settle, at most upgradeBudgetMs; never for a cooldown.',
                always: [
                  { guard: 'theSocketIsOpen', target: 'streaming', actions: { type: 'sendTheTurnOver', params: { transport: 'websocket' } } },
                  { guard: 'theSessionIsOnHttp', target: 'streaming', actions: { type: 'sendTheTurnOver', params: { transport: 'http' } } },
                  { guard: 'signInIsRequired', target: 'idle', actions: 'refuseTheTurnUntilSignIn' },
                ],
                after: { upgradeBudget: { target: 'streaming', actions: { type: 'sendTheTurnOver', params: { transport: 'http', budgetSpent: true } } } },
                on: { TURN_CANCELLED: { guard: 'theEventIsForThisTurn', target: 'idle', actions: ['noteTheTime', 'closeTheTurnAsCancelled'] } },
              },
              streaming: {
                description: 'The facade streams on the assigned transport and reports first event, end or failure.',
                on: {
                  TURN_FIRST_EVENT: { guard: 'theEventIsForThisTurn', actions: ['noteTheTime', 'noteTheFirstEvent'] },
                  TURN_COMPLETED: { guard: 'theEventIsForThisTurn', target: 'idle', actions: ['noteTheTime', 'closeTheTurnAsCompleted'] },
                  TURN_CANCELLED: { guard: 'theEventIsForThisTurn', target: 'idle', actions: ['noteTheTime', 'closeTheTurnAsCancelled'] },
                  TURN_FAILED: [
                    { guard: 'theTurnCanMoveToHttp', target: 'streaming', reenter: true, actions: ['noteTheTime', 'rememberWhyTheAttemptFailed', 'switchTheTurnToHttp'] },
                    { guard: 'theTurnMayRefreshOnce', target: 'refreshingCredentials', actions: ['noteTheTime', 'rememberWhyTheAttemptFailed', 'reportTheRejectedToken'] },
                    { guard: 'theEventIsForThisTurn', target: 'idle', actions: ['noteTheTime', 'closeTheTurnAsFailed'] },
                  ],
                },
              },
              refreshingCredentials: {
                description: 'The request answered 401: wait for the single-flight refresh, then send it once more.',
                on: {
                  'CREDENTIAL.REFRESHED': [
                    {
                      guard: 'theTurnLostItsSocket',
                      target: 'streaming',
                      actions: ['noteTheTime', 'rememberTheUsableGeneration', { type: 'sendTheTurnAgainWithTheNewToken', params: { transport: 'http' } }],
                    },
                    { target: 'streaming', actions: ['noteTheTime', 'rememberTheUsableGeneration', { type: 'sendTheTurnAgainWithTheNewToken', params: { transport: 'same' } }] },
                  ],
                  'CREDENTIAL.REFRESH_FAILED': { target: 'idle', actions: 'closeTheTurnAsFailed' },
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'idle', actions: 'closeTheTurnAsFailed' },
                  TURN_CANCELLED: { guard: 'theEventIsForThisTurn', target: 'idle', actions: ['noteTheTime', 'closeTheTurnAsCancelled'] },
                },
              },
            },
          },
        },
      },
      released: {
        description: 'The session was released: its socket is closed; the endpoint keeps its health.',
        type: 'final',
        entry: ['giveTheProbeBack', 'leaveTheRefreshWaiters'],
      },
    },
  });
}

/** The session chart, with a `webSocket` actor that must be provided. */
export const sessionMachine = createSessionMachine();

/** A running session chart. */
export type SessionActorRef = ActorRefFrom<typeof sessionMachine>;
