import type { Failure } from '../machines/failure.js';
import type { Outcome } from '../machines/outcome.js';
import type { TransportKind, TurnResult } from '../machines/session.js';
import type { Session, SessionActor } from './session.js';
import type { ProviderEvent, ProviderProtocol } from './transports/provider.js';

/** What the chart decided for a turn: a transport for the next attempt, or the end. */
export type TurnDecision =
  | { readonly kind: 'send'; readonly transport: TransportKind; readonly attempt: number }
  | { readonly kind: 'ended'; readonly result: TurnResult };

/** What a {@link Session} needs from its manager to run a turn. @internal */
export interface TurnRunner {
  now(): number;
  awaitDecision(actor: SessionActor, turnId: string, afterAttempt: number, signal: AbortSignal | undefined): Promise<TurnDecision>;
  credentialFor(endpointKey: string): Promise<{ token: string; generation: number }>;
  open(session: Session, transport: TransportKind, body: Record<string, unknown>, token: string, signal: AbortSignal | undefined): AsyncIterable<ProviderEvent>;
  /** The wire protocol of an endpoint (resolved once per turn, not per event). */
  protocolFor(endpointKey: string): ProviderProtocol;
  providerFailure(protocol: ProviderProtocol, event: ProviderEvent): Failure | undefined;
  noteWebSocketTurnFailure(sessionId: string, outcome: Outcome, atMs: number): void;
  turnEnded(
    session: Session,
    turnId: string,
    result: 'completed' | 'failed',
    transport: TransportKind | undefined,
    failure: Failure | undefined,
    startedAtMs: number,
    firstEventAtMs: number | undefined,
  ): void;
  release(sessionId: string): void;
}

/** Reads the chart's decision for `turnId` from a snapshot, if it has made one past `afterAttempt`. */
export function decisionIn(actor: SessionActor, turnId: string, afterAttempt: number): TurnDecision | undefined {
  const snapshot = actor.getSnapshot();
  const { context } = snapshot;
  if (context.lastTurn?.id === turnId) return { kind: 'ended', result: context.lastTurn };
  if (snapshot.status !== 'active') {
    return {
      kind: 'ended',
      result: { id: turnId, result: 'failed', transport: context.turn?.transport, failure: { class: 'aborted', summary: 'the session was released', code: 'released' } },
    };
  }
  const turn = context.turn;
  if (turn && turn.id === turnId && turn.transport !== undefined && turn.attempt > afterAttempt && snapshot.matches({ active: { turn: 'streaming' } })) {
    return { kind: 'send', transport: turn.transport, attempt: turn.attempt };
  }
  return undefined;
}

/**
 * Waits for the chart to decide. Most turns are decided synchronously (socket open, or
 * endpoint cooling down), so this subscribes only when the chart is still waiting for an
 * upgrade or a refresh; an abort tells the chart, which then ends the turn.
 */
export function awaitDecision(
  actor: SessionActor,
  turnId: string,
  afterAttempt: number,
  signal: AbortSignal | undefined,
  now: () => number,
): Promise<TurnDecision> {
  const ready = decisionIn(actor, turnId, afterAttempt);
  if (ready) return Promise.resolve(ready);
  return new Promise((resolve) => {
    const onAbort = () => actor.send({ type: 'TURN_CANCELLED', turnId, atMs: now() });
    const subscription = actor.subscribe({
      next: () => {
        const decision = decisionIn(actor, turnId, afterAttempt);
        if (!decision) return;
        subscription.unsubscribe();
        signal?.removeEventListener('abort', onAbort);
        resolve(decision);
      },
      complete: () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(decisionIn(actor, turnId, afterAttempt) ?? { kind: 'ended', result: { id: turnId, result: 'failed', transport: undefined, failure: { class: 'aborted', summary: 'the session was released', code: 'released' } } });
      },
    });
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}
