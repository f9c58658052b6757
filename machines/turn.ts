import { and, assign, emit, enqueueActions, sendParent, setup, type ActorRefFrom } from 'xstate';
import { classify, mayRetryOverHttp } from './classify.js';
import type { CredentialEvent } from './credential.js';
import type { Failure } from './failure.js';
import type { ConnectionView, HttpReason, SessionEvent, TransportKind, TurnContext, TurnEmitted, TurnEvent, TurnInput, TurnResult } from './session-types.js';

/**
 * The turn chart: one per session, run by the session chart as its child `turn`, one turn at a
 * time. It alone decides a turn's path: the transport of each attempt, the single move to HTTP
 * before the first event, the refresh and resend after a 401, and how the turn ended. It tells
 * the facade with `emit` (`turn.send`, `turn.ended`); deltas never pass through it.
 *
 * It knows the session's transport from the connection chart's `CONNECTION.CHANGED`, so a turn on
 * an open socket, or while the endpoint is known to cool down, is decided at once: two events per
 * turn (requested, ended). Only a turn that needs an upgrade or a sign-in check asks the connection.
 *
 * One actor per session instead of one per turn: spawning a child per turn cost 52 µs against
 * 12 µs for two events on a live actor (docs/performance.md), which alone would be over the
 * charts' budget of 2 % of a 1 ms SSE turn.
 */

/** The turn chart's context: plain data plus the credential chart's ref. */
export interface TurnChartContext {
  readonly sessionId: string;
  readonly credential: TurnInput['credential'];
  readonly upgradeBudgetMs: number;
  /** The latest time the chart heard of, in ms. */
  readonly nowMs: number;
  /** The session's transport as the connection chart last told it. */
  readonly connection: ConnectionView;
  /** The health epoch at which an HTTP verdict was heard (see `TURN_REQUESTED.healthEpoch`). */
  readonly verdictEpoch: number | undefined;
  readonly turn: TurnContext | undefined;
  readonly lastTurn: TurnResult | undefined;
}

type TurnFailed = Extract<TurnEvent, { type: 'TURN_FAILED' }>;

const ABORTED: Failure = { class: 'aborted', summary: 'aborted by the caller', code: 'aborted' };
const AUTH_REFRESH_FAILED: Failure = { class: 'auth', summary: 'credentials were refused and could not be refreshed', code: 'auth' };

function ended(turn: TurnContext | undefined, result: TurnResult['result'], failure?: Failure, transport = turn?.transport): TurnResult | undefined {
  if (!turn) return undefined;
  return failure ? { id: turn.id, result, transport, failure } : { id: turn.id, result, transport };
}

/** The latest time the chart heard of: an event's `atMs` moves it forward, never back. */
function latestTime(context: TurnChartContext, event: TurnEvent): number {
  return 'atMs' in event && typeof event.atMs === 'number' ? Math.max(context.nowMs, event.atMs) : context.nowMs;
}

/** A requested turn: sent at once on `transport` when the chart knows it, else waiting (attempt 0). */
function newTurn(event: Extract<TurnEvent, { type: 'TURN_REQUESTED' }>, transport: TransportKind | undefined, httpReason: HttpReason | undefined): TurnContext {
  return {
    id: event.turnId,
    requestedAtMs: event.atMs,
    healthEpoch: event.healthEpoch,
    transport,
    attempt: transport === undefined ? 0 : 1,
    switchedToHttp: false,
    authRetried: false,
    httpReason,
    attemptFailure: undefined,
    failedAfterFirstEvent: false,
    failedOutcomeKind: undefined,
    failedGeneration: 0,
  };
}

/** Builds the turn chart; it needs nothing provided. */
export function createTurnMachine() {
  return setup({
    types: { context: {} as TurnChartContext, events: {} as TurnEvent, input: {} as TurnInput, emitted: {} as TurnEmitted },
    actions: {
      noteTheTime: assign({ nowMs: ({ context, event }) => latestTime(context, event) }),
      rememberTheConnection: assign(({ context, event }) => {
        if (event.type !== 'CONNECTION.CHANGED') return {};
        // An HTTP verdict belongs to the epoch of the turn that asked for it.
        return { connection: event.view, verdictEpoch: event.view.kind === 'http' ? context.turn?.healthEpoch : undefined };
      }),
      openTheTurn: assign(({ event }) => (event.type === 'TURN_REQUESTED' ? { turn: newTurn(event, undefined, undefined) } : {})),
      // The steady turn's one assign (time, turn, transport): a turn on a known transport costs the chart little.
      openTheTurnOn: assign(({ context, event }, params: { transport: TransportKind }) => {
        if (event.type !== 'TURN_REQUESTED') return {};
        const view = context.connection;
        const httpReason = params.transport === 'http' && view.kind === 'http' ? view.reason : undefined;
        return { nowMs: Math.max(context.nowMs, event.atMs), turn: newTurn(event, params.transport, httpReason) };
      }),
      askTheConnectionForATransport: enqueueActions(({ enqueue, context }) => {
        // Forget the view this turn could not use, so only the connection's answer decides.
        enqueue.assign({ connection: { kind: 'none' } satisfies ConnectionView });
        enqueue.sendParent({ type: 'TRANSPORT.WANTED', atMs: context.nowMs } satisfies SessionEvent);
      }),
      sendTheTurnOver: assign(({ context }, params: { transport: TransportKind; budgetSpent?: boolean }) => {
        const turn = context.turn;
        if (!turn) return {};
        const view = context.connection;
        const httpReason: HttpReason | undefined =
          params.transport === 'websocket' ? undefined : params.budgetSpent ? 'upgrade-budget-spent' : view.kind === 'http' ? view.reason : 'upgrade-failed';
        return { turn: { ...turn, transport: params.transport, attempt: turn.attempt + 1, httpReason } };
      }),
      switchTheTurnToHttp: assign(({ context }) => {
        const turn = context.turn;
        if (!turn) return {};
        return { turn: { ...turn, transport: 'http' as const, attempt: turn.attempt + 1, switchedToHttp: true, httpReason: 'moved-after-failure' as const } };
      }),
      // A token refused inside a socket's stream condemned that socket (it carries its handshake's
      // token): the resend goes over HTTP with the new token, and the next turn upgrades afresh.
      sendTheTurnAgainWithTheNewToken: assign(({ context }) => {
        const turn = context.turn;
        if (!turn) return {};
        const transport: TransportKind = turn.transport === 'websocket' && context.connection.kind === 'websocket' ? 'websocket' : 'http';
        const moved = transport !== turn.transport;
        return {
          turn: { ...turn, transport, attempt: turn.attempt + 1, authRetried: true, ...(moved ? { switchedToHttp: true, httpReason: 'moved-after-failure' as const } : {}) },
        };
      }),
      announceTheSend: emit(({ context }): TurnEmitted => {
        const turn = context.turn!;
        const send: TurnEmitted = { type: 'turn.send', turnId: turn.id, transport: turn.transport!, attempt: turn.attempt, httpReason: turn.httpReason };
        return turn.attemptFailure ? { ...send, afterFailure: turn.attemptFailure } : send;
      }),
      // Classified here, once: every decision below reads `attemptFailure`.
      judgeTheFailedSend: assign(({ context, event }) => {
        const failed = event as TurnFailed;
        if (!context.turn) return {};
        return {
          turn: {
            ...context.turn,
            attemptFailure: classify(failed.outcome, failed.atMs),
            failedAfterFirstEvent: failed.afterFirstEvent === true,
            failedOutcomeKind: failed.outcome.kind,
            failedGeneration: failed.credentialGeneration,
          },
        };
      }),
      askForANewToken: enqueueActions(({ enqueue, context, self }) => {
        const generation = context.turn?.failedGeneration ?? 0;
        enqueue.sendTo(context.credential, { type: 'REJECTED', session: self, generation } satisfies CredentialEvent);
      }),
      condemnTheSocket: sendParent(({ context }) => ({ type: 'SOCKET.CONDEMNED', atMs: context.nowMs }) satisfies SessionEvent),
      leaveTheRefreshWaiters: enqueueActions(({ enqueue, context, self }) => {
        enqueue.sendTo(context.credential, { type: 'WAITER_GONE', session: self } satisfies CredentialEvent);
      }),
      // The connection must hear it too: it refuses the next turns until someone signs in.
      tellTheConnectionSignInIsRequired: sendParent(({ event }) => event),
      closeTheTurn: assign(({ context, event }, params: { as: 'completed' | 'failed' | 'cancelled' | 'refused' }) => {
        const turn = context.turn;
        const nowMs = latestTime(context, event);
        let result: TurnResult | undefined;
        if (params.as === 'completed') result = ended(turn, 'completed');
        else if (params.as === 'cancelled') result = ended(turn, 'failed', ABORTED);
        else if (params.as === 'refused') {
          const summary = context.connection.kind === 'sign-in' ? context.connection.summary : 'sign-in required: the refresh token was refused';
          result = ended(turn, 'failed', { class: 'auth', summary, code: 'reauth-required' }, undefined);
        } else if (event.type === 'CREDENTIAL.REAUTH_REQUIRED') result = ended(turn, 'failed', { class: 'auth', summary: event.summary, code: 'reauth-required' });
        else if (event.type === 'CREDENTIAL.REFRESH_FAILED') result = ended(turn, 'failed', { ...AUTH_REFRESH_FAILED, summary: event.summary });
        else result = ended(turn, 'failed', turn?.attemptFailure ?? AUTH_REFRESH_FAILED);
        return { nowMs, turn: undefined, lastTurn: result ?? context.lastTurn };
      }),
      announceTheEnd: emit(({ context }): TurnEmitted => ({ type: 'turn.ended', result: context.lastTurn! })),
    },
    guards: {
      theSocketIsOpen: ({ context }) => context.connection.kind === 'websocket',
      theHttpVerdictStillHolds: ({ context, event }) => {
        const view = context.connection;
        if (view.kind !== 'http' || view.untilMs === undefined || event.type !== 'TURN_REQUESTED') return false;
        return event.atMs < view.untilMs && event.healthEpoch === context.verdictEpoch;
      },
      anUpgradeIsInFlight: ({ context }) => context.connection.kind === 'upgrading',
      theConnectionSaysHttp: ({ context }) => context.connection.kind === 'http',
      theConnectionSaysSignIn: ({ context }) => context.connection.kind === 'sign-in',
      theEventIsForThisTurn: ({ context, event }) => 'turnId' in event && context.turn?.id === event.turnId,
      theTurnCanMoveToHttp: ({ context }) => {
        const turn = context.turn;
        if (!turn?.attemptFailure || turn.failedAfterFirstEvent || turn.transport !== 'websocket' || turn.switchedToHttp) return false;
        return mayRetryOverHttp(turn.attemptFailure, turn.failedOutcomeKind);
      },
      theSocketsTokenWasRefused: ({ context }) => {
        const turn = context.turn;
        return turn?.transport === 'websocket' && turn.failedOutcomeKind === 'provider-error' && turn.attemptFailure?.class === 'auth';
      },
      theTurnMayRefreshOnce: ({ context }) => {
        const turn = context.turn;
        // A source that cannot hand out a token will not refresh one either.
        if (!turn?.attemptFailure || turn.failedOutcomeKind === 'credentials-unavailable') return false;
        return !turn.authRetried && !turn.failedAfterFirstEvent && turn.attemptFailure.class === 'auth';
      },
    },
    delays: {
      upgradeBudget: ({ context }) => context.upgradeBudgetMs,
    },
  }).createMachine({
    id: 'turn',
    context: ({ input }) => ({
      sessionId: input.sessionId,
      credential: input.credential,
      upgradeBudgetMs: input.upgradeBudgetMs,
      nowMs: input.atMs,
      connection: { kind: 'none' },
      verdictEpoch: undefined,
      turn: undefined,
      lastTurn: undefined,
    }),
    on: {
      'CONNECTION.CHANGED': { actions: ['noteTheTime', 'rememberTheConnection'] },
    },
    initial: 'idle',
    states: {
      idle: {
        description: 'No turn in progress.',
        on: {
          TURN_REQUESTED: [
            { guard: 'theSocketIsOpen', target: 'streaming', actions: { type: 'openTheTurnOn', params: { transport: 'websocket' } } },
            { guard: 'theHttpVerdictStillHolds', target: 'streaming', actions: { type: 'openTheTurnOn', params: { transport: 'http' } } },
            { guard: 'anUpgradeIsInFlight', target: 'awaitingTransport', actions: ['noteTheTime', 'openTheTurn'] },
            { target: 'awaitingTransport', actions: ['noteTheTime', 'openTheTurn', 'askTheConnectionForATransport'] },
          ],
        },
      },
      awaitingTransport: {
        description: 'The connection is upgrading, checking the endpoint or the sign-in: wait for its answer, at most upgradeBudgetMs, never for a cooldown.',
        always: [
          { guard: 'theSocketIsOpen', target: 'streaming', actions: { type: 'sendTheTurnOver', params: { transport: 'websocket' } } },
          { guard: 'theConnectionSaysHttp', target: 'streaming', actions: { type: 'sendTheTurnOver', params: { transport: 'http' } } },
          { guard: 'theConnectionSaysSignIn', target: 'idle', actions: [{ type: 'closeTheTurn', params: { as: 'refused' } }, 'announceTheEnd'] },
        ],
        after: { upgradeBudget: { target: 'streaming', actions: { type: 'sendTheTurnOver', params: { transport: 'http', budgetSpent: true } } } },
        on: { TURN_CANCELLED: { guard: 'theEventIsForThisTurn', target: 'idle', actions: [{ type: 'closeTheTurn', params: { as: 'cancelled' } }, 'announceTheEnd'] } },
      },
      streaming: {
        description: 'The facade streams on the assigned transport and reports the end or a failed send.',
        entry: 'announceTheSend',
        on: {
          TURN_COMPLETED: { guard: 'theEventIsForThisTurn', target: 'idle', actions: [{ type: 'closeTheTurn', params: { as: 'completed' } }, 'announceTheEnd'] },
          TURN_CANCELLED: { guard: 'theEventIsForThisTurn', target: 'idle', actions: [{ type: 'closeTheTurn', params: { as: 'cancelled' } }, 'announceTheEnd'] },
          TURN_FAILED: { guard: 'theEventIsForThisTurn', target: 'judgingTheFailure', actions: ['noteTheTime', 'judgeTheFailedSend'] },
        },
      },
      judgingTheFailure: {
        description: 'A send failed: move to HTTP once before the first event, refresh once after a 401, or end the turn.',
        always: [
          { guard: 'theTurnCanMoveToHttp', target: 'streaming', actions: 'switchTheTurnToHttp' },
          { guard: and(['theSocketsTokenWasRefused', 'theTurnMayRefreshOnce']), target: 'refreshingCredentials', actions: ['condemnTheSocket', 'askForANewToken'] },
          { guard: 'theTurnMayRefreshOnce', target: 'refreshingCredentials', actions: 'askForANewToken' },
          { guard: 'theSocketsTokenWasRefused', target: 'idle', actions: ['condemnTheSocket', { type: 'closeTheTurn', params: { as: 'failed' } }, 'announceTheEnd'] },
          { target: 'idle', actions: [{ type: 'closeTheTurn', params: { as: 'failed' } }, 'announceTheEnd'] },
        ],
      },
      refreshingCredentials: {
        description: 'The request answered 401: wait for the single-flight refresh, then send it once more.',
        on: {
          'CREDENTIAL.REFRESHED': { target: 'streaming', actions: ['noteTheTime', 'sendTheTurnAgainWithTheNewToken'] },
          'CREDENTIAL.REFRESH_FAILED': { target: 'idle', actions: [{ type: 'closeTheTurn', params: { as: 'failed' } }, 'announceTheEnd'] },
          'CREDENTIAL.REAUTH_REQUIRED': { target: 'idle', actions: ['tellTheConnectionSignInIsRequired', { type: 'closeTheTurn', params: { as: 'failed' } }, 'announceTheEnd'] },
          TURN_CANCELLED: { guard: 'theEventIsForThisTurn', target: 'idle', actions: ['leaveTheRefreshWaiters', { type: 'closeTheTurn', params: { as: 'cancelled' } }, 'announceTheEnd'] },
        },
      },
    },
  });
}

/** The turn chart. */
export const turnMachine = createTurnMachine();

/** A running turn chart. */
export type TurnActorRef = ActorRefFrom<typeof turnMachine>;
