import type { Actor } from 'xstate';
import type { createSessionMachine, HttpReason, TransportKind, TurnResult } from '../machines/session.js';
import type { TurnEvent } from './events.js';
import type { SecretSet } from './secrets.js';
import type { ProviderEvent, ProviderProtocol, TurnSend } from './transports/provider.js';

/** A session chart actor. */
export type SessionActor = Actor<ReturnType<typeof createSessionMachine>>;

/** What the chart decided for a turn: a transport for the next attempt, or the end. */
export type TurnDecision =
  | { readonly kind: 'send'; readonly transport: TransportKind; readonly attempt: number; readonly httpReason: HttpReason | undefined }
  | { readonly kind: 'ended'; readonly result: TurnResult };

/** What a session needs from its manager to run a turn. @internal */
export interface TurnRunner {
  now(): number;
  credentialFor(endpointKey: string): Promise<{ token: string; generation: number }>;
  /** Starts one send; encoding and transport failures come out of the iteration as `TransportError`s. */
  open(
    sessionId: string,
    endpointKey: string,
    transport: TransportKind,
    body: Record<string, unknown>,
    token: string,
    signal: AbortSignal,
    send: TurnSend,
  ): AsyncIterable<ProviderEvent>;
  /** The wire protocol of an endpoint (resolved once per turn, not per event). */
  protocolFor(endpointKey: string): ProviderProtocol;
  /** The secrets to scrub from anything leaving the package (built on failure paths only). */
  secrets(): SecretSet;
  /** Publishes a turn's end (a throwing listener is logged, never felt by the turn). */
  turnEnded(event: TurnEvent): void;
  release(sessionId: string): void;
}

const RELEASED: TurnResult['failure'] = { class: 'aborted', summary: 'the session was released', code: 'released' };

/** Reads the chart's decision for `turnId` from a snapshot, if it has made one past `afterAttempt`. */
export function decisionIn(actor: SessionActor, turnId: string, afterAttempt: number): TurnDecision | undefined {
  const snapshot = actor.getSnapshot();
  const { context } = snapshot;
  if (context.lastTurn?.id === turnId) return { kind: 'ended', result: context.lastTurn };
  if (snapshot.status !== 'active') {
    return { kind: 'ended', result: { id: turnId, result: 'failed', transport: context.turn?.transport, failure: RELEASED } };
  }
  const turn = context.turn;
  if (turn && turn.id === turnId && turn.transport !== undefined && turn.attempt > afterAttempt && snapshot.matches({ active: { turn: 'streaming' } })) {
    return { kind: 'send', transport: turn.transport, attempt: turn.attempt, httpReason: turn.httpReason };
  }
  return undefined;
}

/** What the chart is waiting for when it has not decided yet: an upgrade in flight, or a refresh. */
export function pendingStep(actor: SessionActor): 'upgrade' | 'refresh' {
  return actor.getSnapshot().matches({ active: { turn: 'refreshingCredentials' } }) ? 'refresh' : 'upgrade';
}

/**
 * Waits for the chart to decide. Most turns are decided synchronously (socket open, or
 * endpoint cooling down), so this subscribes only when the chart is still waiting for an
 * upgrade or a refresh; an abort tells the chart, which then ends the turn.
 */
export function awaitDecision(actor: SessionActor, turnId: string, afterAttempt: number, signal: AbortSignal, now: () => number): Promise<TurnDecision> {
  const ready = decisionIn(actor, turnId, afterAttempt);
  if (ready) return Promise.resolve(ready);
  return new Promise((resolve) => {
    const onAbort = () => actor.send({ type: 'TURN_CANCELLED', turnId, atMs: now() });
    const subscription = actor.subscribe({
      next: () => {
        const decision = decisionIn(actor, turnId, afterAttempt);
        if (!decision) return;
        subscription.unsubscribe();
        signal.removeEventListener('abort', onAbort);
        resolve(decision);
      },
      complete: () => {
        signal.removeEventListener('abort', onAbort);
        resolve(decisionIn(actor, turnId, afterAttempt) ?? { kind: 'ended', result: { id: turnId, result: 'failed', transport: undefined, failure: RELEASED } });
      },
    });
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}
