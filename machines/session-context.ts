import { classify } from './classify.js';
import type { EndpointEvent } from './endpoint.js';
import type { Failure } from './failure.js';
import type { ConnectionView, SessionContext, SessionEvent, SessionInput } from './session-types.js';

/** Pure helpers of the session chart's actions, kept out of the chart file so the chart reads as a chart. */

/** The event's time, if it carries one. */
export function timestampOf(event: SessionEvent): number | undefined {
  return 'atMs' in event ? event.atMs : undefined;
}

/** What the connection tells its turn chart, from the context of the state it just entered. */
export function connectionViewOf(context: SessionContext, kind: ConnectionView['kind']): ConnectionView {
  if (kind === 'http') return { kind: 'http', reason: context.httpReason ?? 'upgrade-failed', untilMs: context.httpUntilMs, failure: context.lastFailure };
  if (kind === 'sign-in') return { kind: 'sign-in', summary: context.signInReason ?? 'sign-in required: the refresh token was refused' };
  return { kind };
}

/** The failed upgrade's classified failure and when it failed (a timeout fails at its deadline). Classified once, here. */
export function upgradeFailureOf(context: SessionContext, event: SessionEvent): { failure: Failure; atMs: number } {
  if (event.type === 'SOCKET.FAILED') return { failure: classify(event.outcome, event.atMs), atMs: event.atMs };
  return { failure: classify({ kind: 'timeout', phase: 'upgrade' }), atMs: (context.connectStartedAtMs ?? context.nowMs) + context.upgradeTimeoutMs };
}

/** What the endpoint hears when an open socket was lost: how long it lived decides whether it counts as flapping. */
export function connectionLost(context: SessionContext, event: Extract<SessionEvent, { type: 'SOCKET.CLOSED' }>): Extract<EndpointEvent, { type: 'CONNECTION_LOST' }> {
  return {
    type: 'CONNECTION_LOST',
    sessionId: context.sessionId,
    failure: classify(event.outcome, event.atMs),
    uptimeMs: Math.max(0, event.atMs - (context.openedAtMs ?? event.atMs)),
    atMs: event.atMs,
  };
}

/** A new session: no socket, no verdict, nothing failed yet. */
export function initialSessionContext(input: SessionInput): SessionContext {
  return {
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
    socketFailure: undefined,
    signInReason: undefined,
    onHttpSinceMs: input.onHttpSinceMs,
  };
}
