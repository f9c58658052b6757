import type { Failure } from '../machines/failure.js';
import type { Outcome } from '../machines/outcome.js';
import type { TransportKind, TurnEmitted, TurnEvent } from '../machines/session-types.js';
import { TurnFailedError } from './errors.js';
import type { SecretSet } from './secrets.js';
import type { EventBatches } from './transports/event-batches.js';
import type { ProviderEvent, ProviderProtocol } from './transports/provider.js';
import { isTransportError, TransportError } from './transports/transport-error.js';
import type { TurnRunner } from './turn-runner.js';
import { TurnTrace } from './turn-trace.js';
import { boundedScrub, MAX_MESSAGE_CHARS, safeOutcome, scrubbedError } from './untrusted.js';

/** What a turn needs from its session: who it is, the manager, and the turn chart. @internal */
export interface TurnHost {
  readonly id: string;
  readonly endpointKey: string;
  readonly runner: TurnRunner;
  /** Sends to the session's turn chart, unless the session was released. */
  tell(event: TurnEvent): void;
  /** Whether the session's charts still run (false once released). */
  chartIsLive(): boolean;
  /** The consumer is done with the turn (it saw the end, the error, or returned): the session may start another. */
  turnFinished(stream: TurnStream): void;
}

const DONE: IteratorResult<ProviderEvent> = { value: undefined, done: true };
const CONSUMER_STOPPED: Failure = { class: 'aborted', summary: 'the consumer stopped the stream', code: 'aborted' };
const RELEASED: Failure = { class: 'aborted', summary: 'the session was released', code: 'released' };

type Decision = Extract<TurnEmitted, { type: 'turn.send' }> | Extract<TurnEmitted, { type: 'turn.ended' }>;

/**
 * One turn as the consumer iterates it: the only async layer between the transport and the
 * consumer. The transport hands over a network read's worth of events at a time; `next()` serves
 * them from that batch with no further async step. The turn chart decides every step (which
 * transport, another send, the end) and says so with `turn.send` / `turn.ended`, which the
 * session routes here; this class reports what happened and does what it is told.
 */
export class TurnStream implements AsyncIterableIterator<ProviderEvent> {
  readonly turnId: string;
  private readonly runner: TurnRunner;
  private readonly trace: TurnTrace;
  private readonly signal: AbortSignal;
  private readonly protocol: ProviderProtocol;
  /** Events of the current batch, served from `index`. */
  private batch: readonly ProviderEvent[] = [];
  private index = 0;
  private source: EventBatches | undefined;
  private credentialGeneration = 0;
  /** Whether content was delivered: from then on a failure is never sent again. */
  private delivering = false;
  /** Events that only say the response started, held until content comes (see ProviderProtocol.isPreamble). */
  private held: ProviderEvent[] = [];
  private decision: Decision | undefined;
  private wakeDecision: (() => void) | undefined;
  /** Set once the turn ended (its `turn` event published); `failure` then is what the consumer is told. */
  private ended = false;
  private finishedError: TurnFailedError | undefined;
  private transport: TransportKind | undefined;
  private httpReason: string | undefined;
  /** The error behind the latest failed send, for the thrown error's `cause`. */
  private cause: unknown;

  constructor(
    private readonly host: TurnHost,
    turnNumber: number,
    private readonly body: Record<string, unknown>,
    private readonly callerSignal: AbortSignal | undefined,
    lifetime: AbortSignal,
  ) {
    this.runner = host.runner;
    this.turnId = `${host.id}#${turnNumber}`;
    this.trace = new TurnTrace(this.runner.now());
    this.signal = callerSignal ? AbortSignal.any([callerSignal, lifetime]) : lifetime;
    this.protocol = this.runner.protocolFor(host.endpointKey);
  }

  /** Asks the turn chart for the turn; call once the session routes this turn's decisions here (they may come at once). */
  request(): void {
    this.host.tell({ type: 'TURN_REQUESTED', turnId: this.turnId, atMs: this.trace.startedAtMs, healthEpoch: this.runner.healthEpoch(this.host.endpointKey) });
  }

  /** Hot path: an event of the current batch, or the next step of the turn. */
  next(): Promise<IteratorResult<ProviderEvent>> {
    if (this.index < this.batch.length && !this.signal.aborted) return Promise.resolve({ value: this.batch[this.index++]!, done: false });
    return this.step();
  }

  /** The consumer stopped (break, `return()`): the transport is released, the chart told, the endpoint never blamed. */
  return(): Promise<IteratorResult<ProviderEvent>> {
    void this.source?.return();
    this.source = undefined;
    const sawTheEnd = this.index >= this.batch.length;
    this.batch = [];
    if (!this.ended) {
      const onTheWire = this.endOnTheWire;
      // The chart already heard the end on the wire: only the turn's report says the consumer stopped first.
      if (onTheWire === undefined) this.host.tell({ type: 'TURN_CANCELLED', turnId: this.turnId, atMs: this.runner.now() });
      if (onTheWire !== undefined && sawTheEnd) this.end(onTheWire.result, onTheWire.failure);
      else this.end('failed', CONSUMER_STOPPED);
    }
    this.finishedError = undefined;
    this.host.turnFinished(this);
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** From the session: the turn chart's `turn.send` or `turn.ended` for this turn. */
  decided(decision: Decision): void {
    this.decision = decision;
    const wake = this.wakeDecision;
    this.wakeDecision = undefined;
    wake?.();
  }

  /** From the session: it was released; a turn waiting for the chart ends now. */
  released(): void {
    if (this.decision === undefined) this.decided({ type: 'turn.ended', result: { id: this.turnId, result: 'failed', transport: this.transport, failure: RELEASED } });
  }

  private async step(): Promise<IteratorResult<ProviderEvent>> {
    try {
      for (;;) {
        if (this.index < this.batch.length) {
          // An abort while the consumer held the previous event must not deliver more.
          if (this.signal.aborted) await this.failSend(new TransportError({ kind: 'aborted' }, 'the turn was aborted by the caller'));
          else return { value: this.batch[this.index++]!, done: false };
          continue;
        }
        if (this.finishedError !== undefined) {
          const error = this.finishedError;
          this.finishedError = undefined;
          this.host.turnFinished(this);
          throw error;
        }
        if (this.endOnTheWire !== undefined) this.end(this.endOnTheWire.result, this.endOnTheWire.failure);
        if (this.ended) {
          this.host.turnFinished(this);
          return DONE;
        }
        if (this.source === undefined) {
          await this.startTheNextSend();
          continue;
        }
        let events: readonly ProviderEvent[];
        try {
          events = await this.source.nextBatch();
        } catch (error) {
          if (!isTransportError(error)) throw error;
          await this.failSend(error);
          continue;
        }
        if (events.length === 0) {
          // The transport ended without a terminal event: a broken stream.
          const what = this.transport === 'http' ? 'response' : 'socket';
          await this.failSend(new TransportError({ kind: 'network', code: 'EOF', phase: 'stream' }, `the ${what} ended before the turn's terminal event`));
          continue;
        }
        await this.accept(events);
      }
    } catch (error) {
      if (this.ended) throw error;
      // A fault of this package, not of the upstream or the caller: end the turn, say so, keep the cause.
      const failure: Failure = { class: 'request-fatal', summary: `internal error: ${this.describe(error)}`, code: 'internal' };
      this.host.tell({ type: 'TURN_CANCELLED', turnId: this.turnId, atMs: this.runner.now() });
      void this.source?.return();
      this.end('failed', failure);
      this.host.turnFinished(this);
      throw new TurnFailedError(this.host.id, this.turnId, failure, this.transport, { cause: scrubbedError(error, this.secrets()) });
    }
  }

  /** Waits for the chart's next step; opens the transport it names, or ends the turn as it says. */
  private async startTheNextSend(): Promise<void> {
    const decision = await this.awaitDecision();
    this.decision = undefined;
    if (decision.type === 'turn.ended') {
      const failure = decision.result.failure ?? { class: 'network', summary: 'turn failed' };
      this.transport = decision.result.transport ?? this.transport;
      this.end('failed', failure);
      // An abort carries the caller's own reason; anything else the error behind it, scrubbed.
      const aborted = failure.class === 'aborted' && failure.code !== 'released' && this.callerSignal?.aborted === true;
      const why = aborted ? this.callerSignal!.reason : this.cause === undefined ? undefined : scrubbedError(this.cause, this.secrets());
      this.finishedError = new TurnFailedError(this.host.id, this.turnId, failure, this.transport, { cause: why });
      return;
    }
    this.transport = decision.transport;
    this.httpReason = decision.httpReason;
    this.trace.sending(decision.transport, this.runner.now());
    let credential: { token: string; generation: number };
    try {
      credential = await this.runner.credentialFor(this.host.endpointKey);
    } catch (error) {
      this.cause = error;
      this.report({ kind: 'credentials-unavailable', detail: this.describe(error) }, false);
      return;
    }
    this.credentialGeneration = credential.generation;
    this.held = [];
    this.source = this.runner.open(this.host.id, this.host.endpointKey, decision.transport, this.body, credential.token, this.signal, {
      turnId: this.turnId,
      attempt: decision.attempt,
    });
  }

  /** The chart's decision, now or once it comes (an upgrade in flight, a refresh); an abort tells the chart. */
  private async awaitDecision(): Promise<Decision> {
    if (this.decision !== undefined) return this.decision;
    const waitStartedAtMs = this.runner.now();
    const refreshing = this.trace.attempts > 0;
    const onAbort = (): void => {
      if (this.host.chartIsLive()) this.host.tell({ type: 'TURN_CANCELLED', turnId: this.turnId, atMs: this.runner.now() });
      else this.released();
    };
    if (this.signal.aborted) onAbort();
    else this.signal.addEventListener('abort', onAbort, { once: true });
    if (!this.host.chartIsLive()) this.released();
    try {
      while (this.decision === undefined) {
        await new Promise<void>((resolve) => {
          this.wakeDecision = resolve;
        });
      }
    } finally {
      this.signal.removeEventListener('abort', onAbort);
    }
    const decision = this.decision as Decision;
    const ok = decision.type === 'turn.send' && (refreshing || decision.transport === 'websocket');
    const failure = decision.type === 'turn.ended' ? decision.result.failure : undefined;
    this.trace.waited(refreshing ? 'refresh' : 'upgrade', waitStartedAtMs, this.runner.now(), ok ? 'ok' : failure?.class === 'aborted' ? 'cancelled' : 'failed', failure);
    return decision;
  }

  /** A batch arrived: hold a preamble, let the chart judge a provider error before content, end at the terminal event. */
  private async accept(events: readonly ProviderEvent[]): Promise<void> {
    this.trace.sawFirstEvent(this.runner.now());
    const last = events.length - 1;
    const terminal = this.protocol.isTerminal(events[last]!);
    if (!this.delivering) {
      let start = 0;
      while (start <= last && !(terminal && start === last) && this.protocol.isPreamble?.(events[start]!) === true) start++;
      if (start > last) {
        this.held.push(...events);
        return;
      }
      if (terminal && start === last) {
        const outcome = this.protocol.providerErrorOutcome(events[last]!);
        if (outcome !== undefined) {
          // Before any content: the chart decides between another send and the end.
          const held = [...this.held, ...events.slice(0, last)];
          this.source = undefined;
          const decision = this.report(safeOutcome(outcome, this.secrets), false);
          // Another send (or a refresh first): `startTheNextSend` takes the decision from here.
          if (decision?.type !== 'turn.ended') return;
          // The turn ends with the provider's error event, delivered, not thrown.
          this.decision = undefined;
          this.batch = [...held, events[last]!];
          this.index = 0;
          this.endAfterDelivery('failed', decision.result.failure);
          return;
        }
      }
      // From here on a failure is never sent again.
      this.delivering = true;
      if (this.held.length > 0) events = [...this.held, ...events];
      this.held = [];
    }
    this.batch = events;
    this.index = 0;
    if (!terminal) return;
    const outcome = this.protocol.providerErrorOutcome(events[events.length - 1]!);
    if (outcome !== undefined) {
      // After content nothing is sent again: the chart ends the turn (`turn.ended`) at once.
      const decision = this.report(safeOutcome(outcome, this.secrets), true);
      this.decision = undefined;
      this.endAfterDelivery('failed', decision?.type === 'turn.ended' ? decision.result.failure : undefined);
    } else {
      this.host.tell({ type: 'TURN_COMPLETED', turnId: this.turnId, atMs: this.runner.now() });
      this.decision = undefined;
      this.endAfterDelivery('completed', undefined);
    }
  }

  /** A send failed: what came before is delivered if the upstream had started; the chart decides the rest. */
  private async failSend(error: TransportError): Promise<void> {
    this.cause = error;
    void this.source?.return();
    this.source = undefined;
    this.batch = [];
    this.index = 0;
    if (!this.delivering && this.held.length > 0) {
      // The upstream had started the response: what came is delivered, and nothing is sent again.
      this.delivering = true;
      this.batch = this.held;
      this.held = [];
      this.index = 0;
    }
    this.report(error.outcome, this.delivering);
  }

  /**
   * Tells the chart a send failed. Returns its answer when it came at once (`turn.send` or
   * `turn.ended`, also kept in `decision`); undefined while it waits (a refresh).
   */
  private report(outcome: Outcome, afterFirstEvent: boolean): Decision | undefined {
    const atMs = this.runner.now();
    this.decision = undefined;
    this.host.tell({
      type: 'TURN_FAILED',
      turnId: this.turnId,
      outcome,
      atMs,
      credentialGeneration: this.credentialGeneration,
      ...(afterFirstEvent ? { afterFirstEvent } : {}),
    });
    const decision = this.decision as Decision | undefined;
    const failure = decision?.type === 'turn.send' ? decision.afterFailure : decision?.type === 'turn.ended' ? decision.result.failure : undefined;
    this.trace.sent(atMs, outcome.kind === 'aborted' ? 'cancelled' : 'failed', failure);
    return decision;
  }

  /**
   * The turn is over on the wire (the chart knows; the socket is free). Its `turn` event waits
   * until the consumer got the terminal event: one that stops before it is reported as stopped.
   */
  private endAfterDelivery(result: 'completed' | 'failed', failure: Failure | undefined): void {
    this.source = undefined;
    this.endOnTheWire = failure ? { result, failure } : { result };
  }

  private endOnTheWire: { result: 'completed' | 'failed'; failure?: Failure } | undefined;

  private end(result: 'completed' | 'failed', failure: Failure | undefined): void {
    if (this.ended) return;
    this.ended = true;
    const runner = this.runner;
    runner.turnEnded(
      this.trace.event({ sessionId: this.host.id, endpointKey: this.host.endpointKey, turnId: this.turnId }, result, this.transport, failure, this.httpReason, runner.now()),
    );
  }

  private secrets = (): SecretSet => this.runner.secrets();

  private describe(error: unknown): string {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    return boundedScrub(text, this.secrets(), MAX_MESSAGE_CHARS);
  }
}
