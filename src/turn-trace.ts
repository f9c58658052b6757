import type { Failure } from '../machines/failure.js';
import type { TransportKind } from '../machines/session.js';
import type { TurnEvent, TurnPhase } from './events.js';

/**
 * What one turn did, step by step, for its `turn` event: the waits (upgrade, refresh), each
 * send, and when the first event came. Plain bookkeeping; it decides nothing.
 */
export class TurnTrace {
  readonly phases: TurnPhase[] = [];
  attempts = 0;
  firstEventAtMs: number | undefined;
  private attemptStartedAtMs = 0;
  private attemptTransport: TransportKind | undefined;

  constructor(readonly startedAtMs: number) {}

  /** A wait for the chart (an upgrade in flight, a refresh) ended. */
  waited(kind: 'upgrade' | 'refresh', startedAtMs: number, endedAtMs: number, result: TurnPhase['result'], failure?: Failure): void {
    this.phases.push({ kind, startedAtMs, endedAtMs, result, ...(failure ? { failure } : {}) });
  }

  /** A send began. */
  sending(transport: TransportKind, atMs: number): void {
    this.attempts += 1;
    this.attemptStartedAtMs = atMs;
    this.attemptTransport = transport;
  }

  /** The current send ended. */
  sent(atMs: number, result: TurnPhase['result'], failure?: Failure): void {
    if (this.attemptTransport === undefined) return;
    this.phases.push({ kind: 'attempt', startedAtMs: this.attemptStartedAtMs, endedAtMs: atMs, transport: this.attemptTransport, result, ...(failure ? { failure } : {}) });
    this.attemptTransport = undefined;
  }

  /** The first event of the turn arrived. */
  sawFirstEvent(atMs: number): void {
    this.firstEventAtMs ??= atMs;
  }

  /** The `turn` event. */
  event(
    base: { sessionId: string; endpointKey: string; turnId: string },
    result: 'completed' | 'failed',
    transport: TransportKind | undefined,
    failure: Failure | undefined,
    httpReason: string | undefined,
    nowMs: number,
  ): TurnEvent {
    this.sent(nowMs, result === 'completed' ? 'ok' : failure?.class === 'aborted' ? 'cancelled' : 'failed', failure);
    return {
      ...base,
      result,
      transport,
      ...(failure ? { failure } : {}),
      startedAtMs: this.startedAtMs,
      durationMs: nowMs - this.startedAtMs,
      firstEventMs: this.firstEventAtMs === undefined ? undefined : this.firstEventAtMs - this.startedAtMs,
      attempts: this.attempts,
      ...(transport === 'http' && httpReason !== undefined ? { httpReason } : {}),
      phases: this.phases,
    };
  }
}
