import { assign, enqueueActions, fromCallback, sendTo, setup, type ActorRefFrom } from 'xstate';
import { classify } from './classify.js';
import type { CredentialEvent } from './credential.js';
import type { EndpointEvent } from './endpoint.js';
import type { Failure } from './failure.js';
import { connectionLost, connectionViewOf, initialSessionContext, timestampOf, upgradeFailureOf } from './session-context.js';
import type { ConnectionView, SessionContext, SessionEmitted, SessionEvent, SessionInput, SocketActorInput } from './session-types.js';
import { createTurnMachine } from './turn.js';

export * from './session-types.js';
export { createTurnMachine, turnMachine, type TurnActorRef, type TurnChartContext } from './turn.js';

/**
 * The session chart: one per gateway session, owning its WebSocket from the first upgrade to
 * fallback or sign-in required: ask the endpoint and credential charts, upgrade with a timeout,
 * refresh once on a 401, keep the socket across turns, fall back to HTTP. Its child `turn`
 * (machines/turn.ts) decides each turn's path; this chart tells it the session's transport
 * (`CONNECTION.CHANGED`) and answers its `TRANSPORT.WANTED`. Operators hear of upgrades, moves
 * to HTTP and recoveries through `emit` (src/observer.ts turns them into events and log lines).
 */

/**
 * Builds the session chart. `src/` provides `webSocket`, a callback actor that opens the
 * socket on start, reports `SOCKET.OPENED` / `SOCKET.FAILED` / `SOCKET.CLOSED` (every end,
 * local or remote), and closes it when the chart leaves the `socket` state.
 */
export function createSessionMachine() {
  return setup({
    types: { context: {} as SessionContext, events: {} as SessionEvent, input: {} as SessionInput, emitted: {} as SessionEmitted },
    actors: {
      webSocket: fromCallback<SessionEvent, SocketActorInput>(() => () => {}),
      turn: createTurnMachine(),
    },
    actions: {
      noteTheTime: assign({ nowMs: ({ context, event }) => Math.max(context.nowMs, timestampOf(event) ?? context.nowMs) }),
      tellTheTurn: sendTo('turn', ({ context }, params: { view: ConnectionView['kind'] }) => ({
        type: 'CONNECTION.CHANGED' as const,
        view: connectionViewOf(context, params.view),
        atMs: context.nowMs,
      })),
      askWhetherTheCredentialsAreUsable: enqueueActions(({ enqueue, context, self }) => {
        enqueue.sendTo(context.credential, { type: 'CHECK', session: self } satisfies CredentialEvent);
      }),
      peekWhetherSignInIsRequired: enqueueActions(({ enqueue, context, self }) => {
        enqueue.sendTo(context.credential, { type: 'PEEK', session: self } satisfies CredentialEvent);
      }),
      askTheEndpointForAnUpgrade: enqueueActions(({ enqueue, context, self }) => {
        enqueue.sendTo(context.endpoint, { type: 'PROBE_REQUESTED', sessionId: context.sessionId, session: self, atMs: context.nowMs } satisfies EndpointEvent);
      }),
      rememberTheUsableGeneration: assign({
        credentialGeneration: ({ context, event }) =>
          event.type === 'CREDENTIAL.USABLE' || event.type === 'CREDENTIAL.REFRESHED' ? event.generation : context.credentialGeneration,
      }),
      // A new upgrade (or one after a sign-in) gets its own refresh on a first 401.
      startAFreshUpgradeAttempt: assign({ upgradeAuthRetried: false }),
      rememberWhyWeStayOnHttp: assign(({ event }) => {
        if (event.type !== 'ENDPOINT.DENIED') return {};
        // The retry after a refresh is abandoned: the next upgrade's first 401 deserves its own refresh.
        return { httpUntilMs: event.untilMs, httpReason: event.reason, upgradeAuthRetried: false };
      }),
      startTheUpgradeClock: assign({ connectStartedAtMs: ({ context }) => context.nowMs, httpUntilMs: undefined, httpReason: undefined }),
      reportTheOpenSocket: enqueueActions(({ enqueue, context, event }) => {
        const atMs = timestampOf(event) ?? context.nowMs;
        enqueue.assign({ openedAtMs: atMs, upgradeAuthRetried: false, lastFailure: undefined, onHttpSinceMs: undefined });
        enqueue.sendTo(context.endpoint, { type: 'UPGRADE_SUCCEEDED', sessionId: context.sessionId, atMs } satisfies EndpointEvent);
        enqueue.emit({ type: 'session.upgrade', result: 'opened', startedAtMs: context.connectStartedAtMs ?? atMs, atMs } satisfies SessionEmitted);
        if (context.onHttpSinceMs !== undefined) enqueue.emit({ type: 'session.recovered', downForMs: atMs - context.onHttpSinceMs, atMs } satisfies SessionEmitted);
      }),
      // Classified here, once: the guards and reports below read `socketFailure`.
      judgeTheFailedUpgrade: enqueueActions(({ enqueue, context, event }) => {
        const { failure, atMs } = upgradeFailureOf(context, event);
        enqueue.assign({ socketFailure: failure, lastFailure: failure, nowMs: Math.max(context.nowMs, atMs) });
        enqueue.emit({ type: 'session.upgrade', result: 'failed', startedAtMs: context.connectStartedAtMs ?? atMs, atMs, failure } satisfies SessionEmitted);
      }),
      reportTheFailedUpgrade: enqueueActions(({ enqueue, context }) => {
        const failure: Failure = context.socketFailure ?? context.lastFailure ?? { class: 'auth', summary: 'upgrade answered HTTP 401', code: '401' };
        enqueue.assign({ httpReason: 'upgrade-failed', httpUntilMs: undefined, upgradeAuthRetried: false, socketFailure: undefined });
        enqueue.sendTo(context.endpoint, { type: 'UPGRADE_FAILED', sessionId: context.sessionId, failure, atMs: context.nowMs } satisfies EndpointEvent);
      }),
      reportTheLostSocket: enqueueActions(({ enqueue, context, event }) => {
        if (event.type !== 'SOCKET.CLOSED') return;
        const lost = connectionLost(context, event);
        enqueue.assign({ lastFailure: lost.failure, openedAtMs: undefined });
        enqueue.sendTo(context.endpoint, lost);
      }),
      giveTheProbeBack: enqueueActions(({ enqueue, context }) => {
        enqueue.sendTo(context.endpoint, { type: 'PROBE_RELEASED', sessionId: context.sessionId, atMs: context.nowMs } satisfies EndpointEvent);
      }),
      leaveTheRefreshWaiters: enqueueActions(({ enqueue, context, self }) => {
        enqueue.sendTo(context.credential, { type: 'WAITER_GONE', session: self } satisfies CredentialEvent);
        // The turn chart waits for refreshes of its own (after a 401 on a turn), and a stopped child
        // runs no exit action: it leaves with the session. Still in the snapshot: `active` is being left.
        const turn = self.getSnapshot().children.turn;
        if (turn) enqueue.sendTo(context.credential, { type: 'WAITER_GONE', session: turn } satisfies CredentialEvent);
      }),
      reportTheRejectedToken: enqueueActions(({ enqueue, context, self }) => {
        enqueue.sendTo(context.credential, { type: 'REJECTED', session: self, generation: context.credentialGeneration } satisfies CredentialEvent);
      }),
      markTheUpgradeAuthRetried: assign({ upgradeAuthRetried: true, socketFailure: undefined }),
      stayOnHttpAfterTheRefreshFailed: assign({ httpReason: 'refresh-failed', httpUntilMs: undefined, upgradeAuthRetried: false }),
      stayOnHttpWithoutCredentials: assign(({ event }) => ({
        httpReason: 'credentials-unavailable' as const,
        httpUntilMs: undefined,
        upgradeAuthRetried: false,
        lastFailure: event.type === 'SOCKET.CREDENTIALS_UNAVAILABLE' ? classify({ kind: 'credentials-unavailable', detail: event.detail }) : undefined,
      })),
      forgetTheSocketClosedHere: assign({ openedAtMs: undefined }),
      // Once per stay on HTTP: each turn while cooling down lands here again and must not repeat it.
      announceTheMoveToHttp: enqueueActions(({ enqueue, context }) => {
        if (context.onHttpSinceMs !== undefined || context.httpReason === 'credentials-unavailable') return;
        enqueue.assign({ onHttpSinceMs: context.nowMs });
        const reason = context.httpReason ?? 'upgrade-failed';
        const failure = context.lastFailure;
        enqueue.emit({ type: 'session.fallback', reason, retryAtMs: context.httpUntilMs, atMs: context.nowMs, ...(failure ? { failure } : {}) } satisfies SessionEmitted);
      }),
      rememberWhySignInIsRequired: assign({
        signInReason: ({ context, event }) => (event.type === 'CREDENTIAL.REAUTH_REQUIRED' ? event.summary : context.signInReason),
      }),
    },
    guards: {
      theUpgradeWasRefusedForAuthTheFirstTime: ({ context }) => !context.upgradeAuthRetried && context.socketFailure?.class === 'auth',
      theSocketWasClosedHere: ({ event }) => event.type === 'SOCKET.CLOSED' && event.local === true,
    },
    delays: {
      upgradeTimeout: ({ context }) => context.upgradeTimeoutMs,
    },
  }).createMachine({
    id: 'session',
    context: ({ input }) => initialSessionContext(input),
    initial: 'active',
    states: {
      active: {
        description: 'The session is live: its connection, and its turn chart as a child.',
        type: 'parallel',
        invoke: {
          id: 'turn',
          src: 'turn',
          input: ({ context }) => ({ sessionId: context.sessionId, credential: context.credential, upgradeBudgetMs: context.upgradeBudgetMs, atMs: context.nowMs }),
        },
        on: {
          RELEASE: { target: 'released', actions: 'noteTheTime' },
        },
        states: {
          connection: {
            description: "The session's WebSocket, from the first upgrade to fallback or sign-in required.",
            initial: 'idle',
            states: {
              idle: {
                description: 'No socket. A turn that needs one asks whether it may upgrade.',
                on: {
                  'TRANSPORT.WANTED': { target: 'peekingBeforeAsking', actions: ['noteTheTime', 'startAFreshUpgradeAttempt'] },
                  // A turn's refresh (after an in-stream 401) ended in sign-in required: so does the connection.
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired' },
                },
              },
              peekingBeforeAsking: {
                description: 'Is sign-in required? Answered at once, so a turn is refused at once rather than waiting on the endpoint (or its shared store).',
                entry: 'peekWhetherSignInIsRequired',
                on: {
                  'CREDENTIAL.USABLE': { target: 'requestingPermission' },
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired' },
                  // The first token could not be read: no upgrade, HTTP (where the turn meets the same problem).
                  'CREDENTIAL.REFRESH_FAILED': { target: 'fallback', actions: 'stayOnHttpAfterTheRefreshFailed' },
                },
              },
              requestingPermission: {
                description: 'The endpoint chart decides first: stay on HTTP at once (cooling down, probe in flight, unsupported, unproven), or upgrade.',
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
                  // The refresh took a while: the probe lease may have run out; give it back and ask again.
                  'CREDENTIAL.REFRESHED': { target: 'requestingPermission', actions: ['noteTheTime', 'rememberTheUsableGeneration', 'giveTheProbeBack'] },
                  'CREDENTIAL.REFRESH_FAILED': { target: 'fallback', actions: ['giveTheProbeBack', 'stayOnHttpAfterTheRefreshFailed'] },
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired', actions: ['giveTheProbeBack', 'startAFreshUpgradeAttempt'] },
                },
              },
              peekingBeforeHttp: {
                description: 'Denied an upgrade: before HTTP, is sign-in required? Answered at once.',
                entry: 'peekWhetherSignInIsRequired',
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
                  input: ({ context }) => ({ sessionId: context.sessionId, endpointKey: context.endpointKey, credentialGeneration: context.credentialGeneration }),
                },
                initial: 'connecting',
                states: {
                  connecting: {
                    description: 'Upgrade in flight, bounded by upgradeTimeoutMs. A turn waits for it at most upgradeBudgetMs.',
                    entry: ['startTheUpgradeClock', { type: 'tellTheTurn', params: { view: 'upgrading' } }],
                    after: { upgradeTimeout: { target: '#session.active.connection.judgingTheUpgrade', actions: 'judgeTheFailedUpgrade' } },
                    on: {
                      'SOCKET.OPENED': { target: 'open', actions: ['noteTheTime', 'reportTheOpenSocket'] },
                      // No token to send: give the probe back, blame nobody, go over HTTP (where the turn meets the same problem).
                      'SOCKET.CREDENTIALS_UNAVAILABLE': {
                        target: '#session.active.connection.fallback',
                        actions: ['noteTheTime', 'giveTheProbeBack', 'stayOnHttpWithoutCredentials'],
                      },
                      'SOCKET.FAILED': { target: '#session.active.connection.judgingTheUpgrade', actions: ['noteTheTime', 'judgeTheFailedUpgrade'] },
                    },
                  },
                  open: {
                    description: 'A socket is open and reused by every turn of the session.',
                    entry: { type: 'tellTheTurn', params: { view: 'websocket' } },
                    on: {
                      'SOCKET.CLOSED': [
                        // A break, return(), abort or release closed it here: nobody's fault, the endpoint is not told.
                        { guard: 'theSocketWasClosedHere', target: '#session.active.connection.idle', actions: ['noteTheTime', 'forgetTheSocketClosedHere', { type: 'tellTheTurn', params: { view: 'none' } }] },
                        { target: '#session.active.connection.idle', actions: ['noteTheTime', 'reportTheLostSocket', { type: 'tellTheTurn', params: { view: 'none' } }] },
                      ],
                      // The socket's handshake token was refused mid-stream: close it (locally, no blame); the next turn upgrades with a new token.
                      'SOCKET.CONDEMNED': { target: '#session.active.connection.idle', actions: ['noteTheTime', 'forgetTheSocketClosedHere', { type: 'tellTheTurn', params: { view: 'none' } }] },
                      // Only a turn that did not know the socket asks: tell it again.
                      'TRANSPORT.WANTED': { actions: { type: 'tellTheTurn', params: { view: 'websocket' } } },
                    },
                  },
                },
              },
              judgingTheUpgrade: {
                description: 'The upgrade failed or timed out: refresh once after a first 401, else blame the endpoint and go over HTTP.',
                always: [
                  {
                    guard: 'theUpgradeWasRefusedForAuthTheFirstTime',
                    target: 'refreshingAuth',
                    actions: ['giveTheProbeBack', 'reportTheRejectedToken', 'markTheUpgradeAuthRetried'],
                  },
                  { target: 'fallback', actions: 'reportTheFailedUpgrade' },
                ],
              },
              refreshingAuth: {
                description: 'The upgrade answered 401: wait for the single-flight refresh, then try the upgrade once more.',
                on: {
                  'CREDENTIAL.REFRESHED': { target: 'requestingPermission', actions: ['noteTheTime', 'rememberTheUsableGeneration'] },
                  // The upgrade was refused and no new token is coming: a failed upgrade like any other (cooldown).
                  'CREDENTIAL.REFRESH_FAILED': { target: 'fallback', actions: ['reportTheFailedUpgrade', 'stayOnHttpAfterTheRefreshFailed'] },
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired', actions: 'startAFreshUpgradeAttempt' },
                },
              },
              fallback: {
                description: 'Turns go over HTTP. The endpoint holds the cooldown; the turn chart knows until when, and asks again after it.',
                entry: ['announceTheMoveToHttp', { type: 'tellTheTurn', params: { view: 'http' } }],
                on: {
                  'TRANSPORT.WANTED': { target: 'peekingBeforeAsking', actions: ['noteTheTime', 'startAFreshUpgradeAttempt'] },
                  'CREDENTIAL.REAUTH_REQUIRED': { target: 'reauthRequired' },
                },
              },
              reauthRequired: {
                description: 'The refresh token was refused: no refresh, no upgrade, turns fail until a person signs in.',
                entry: ['rememberWhySignInIsRequired', { type: 'tellTheTurn', params: { view: 'sign-in' } }],
                on: {
                  'TRANSPORT.WANTED': { target: 'confirmingSignIn', actions: ['noteTheTime', 'startAFreshUpgradeAttempt'] },
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
