import type { Actor } from 'xstate';
import type { createSessionMachine, TransportKind } from '../machines/session.js';
import type { TurnEvent } from './events.js';
import type { SecretSet } from './secrets.js';
import type { EventBatches } from './transports/event-batches.js';
import type { ProviderProtocol, TurnSend } from './transports/provider.js';

/** A session chart actor. */
export type SessionActor = Actor<ReturnType<typeof createSessionMachine>>;

/** What a session needs from its manager to run turns. @internal */
export interface TurnRunner {
  now(): number;
  credentialFor(endpointKey: string): Promise<{ token: string; generation: number }>;
  /** Starts one send; encoding and transport failures come out of the batches as `TransportError`s. */
  open(
    sessionId: string,
    endpointKey: string,
    transport: TransportKind,
    body: Record<string, unknown>,
    token: string,
    signal: AbortSignal,
    send: TurnSend,
  ): EventBatches;
  /** The wire protocol of an endpoint (resolved once per turn, not per event). */
  protocolFor(endpointKey: string): ProviderProtocol;
  /** Changes whenever the endpoint's health or its credential's state changes (see `TURN_REQUESTED.healthEpoch`). */
  healthEpoch(endpointKey: string): number;
  /** Creates, registers and starts the session's chart: done on its first turn, so an idle session holds no actor. */
  startChart(sessionId: string, carried?: { readonly onHttpSinceMs?: number }): SessionActor;
  /** The secrets to scrub from anything leaving the package (built on failure paths only). */
  secrets(): SecretSet;
  /** Publishes a turn's end (a throwing listener is logged, never felt by the turn). */
  turnEnded(event: TurnEvent): void;
  release(sessionId: string): void;
}
