import type { Failure } from '../machines/failure.js';
import type { Outcome } from '../machines/outcome.js';
import type { HttpReason, SessionContext, SessionEvent, TransportKind } from '../machines/session.js';
import { ClosedError, TurnFailedError, TurnInProgressError } from './errors.js';
import { regionPath } from './state.js';
import type { ProviderEvent } from './transports/provider.js';
import { isTransportError, TransportError } from './transports/transport-error.js';
import type { SecretSet } from './secrets.js';
import { TurnTrace } from './turn-trace.js';
import { awaitDecision, decisionIn, pendingStep, type SessionActor, type TurnDecision, type TurnRunner } from './turn-runner.js';
import { boundedScrub, MAX_MESSAGE_CHARS, safeOutcome, scrubbedError } from './untrusted.js';

export type { SessionActor } from './turn-runner.js';

/** What `session.state` tells: the chart's state and the transport in use. */
export interface SessionState {
  /** Connection region, e.g. `connection.socket.open`, `connection.fallback`, `connection.reauthRequired`. */
  readonly connection: string;
  /** Turn region, e.g. `turn.idle`, `turn.streaming`. */
  readonly turn: string;
  /** The transport the next (or current) turn uses: `websocket` when a socket is open, else `http`. */
  readonly transport: TransportKind;
  /** While on HTTP, why: `cooling-down`, `probe-in-flight`, `unsupported`, `upgrade-failed`, `refresh-failed`, `credentials-unavailable`. */
  readonly httpReason: HttpReason | undefined;
  /** When the endpoint may be probed again, in ms on the manager's clock, if known. */
  readonly httpUntilMs: number | undefined;
  /** The last classified failure this session saw. */
  readonly lastFailure: Failure | undefined;
  /** Whether the session was released. */
  readonly released: boolean;
}

/** Per-turn options of {@link Session.stream}. */
export interface StreamOptions {
  /** Aborts the turn: the stream ends with a {@link TurnFailedError} of class `aborted` whose `cause` is `signal.reason`. */
  signal?: AbortSignal;
}

const CONSUMER_STOPPED: Failure = { class: 'aborted', summary: 'the consumer stopped the stream', code: 'aborted' };

/**
 * One gateway session: a thin imperative facade over its session chart. Streams turns,
 * reports what happened to the chart, and does what the chart decides. Deltas never go
 * through the chart: it only hears of a turn's start, first event, end and failures.
 */
export class Session {
  private turnInProgress = false;
  private turnCounter = 0;
  /** Aborted when the session is released: in-flight turns (HTTP requests included) end at once. */
  private readonly lifetime = new AbortController();

  /** @internal created by the manager */
  constructor(
    /** The caller's session id. */
    readonly id: string,
    /** The endpoint this session streams to. */
    readonly endpointKey: string,
    private readonly actor: SessionActor,
    private readonly runner: TurnRunner,
  ) {}

  /** The chart's state and the transport in use. */
  get state(): SessionState {
    const snapshot = this.actor.getSnapshot();
    const context: SessionContext = snapshot.context;
    const released = snapshot.status !== 'active';
    const connection = released ? 'released' : regionPath(snapshot.value, 'connection');
    return {
      connection,
      turn: released ? 'released' : regionPath(snapshot.value, 'turn'),
      transport: connection === 'connection.socket.open' ? 'websocket' : 'http',
      httpReason: context.httpReason,
      httpUntilMs: context.httpUntilMs,
      lastFailure: context.lastFailure,
      released,
    };
  }

  /**
   * Streams one turn: yields the provider's events, from the first to the terminal one
   * (`response.completed`, `response.done`, `response.failed`, `response.incomplete`, `error`).
   * A provider error event is yielded, not thrown. Never waits for a cooldown; waits for an
   * upgrade in flight at most `upgradeBudgetMs`. The returned iterable can be iterated once.
   * @throws TurnInProgressError at once when another turn of this session is still running
   * @throws ClosedError at once when the session was released
   * @throws TurnFailedError (from the iteration) when the turn cannot be served: stable `code`,
   *   classified `failure`, scrubbed `cause` (for an abort, `signal.reason`)
   */
  stream(body: Record<string, unknown>, options: StreamOptions = {}): AsyncIterable<ProviderEvent> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new TypeError(`session ${this.id}: stream(body) expects the request body as a plain object`);
    }
    this.checkCanStart();
    let used = false;
    return {
      [Symbol.asyncIterator]: () => {
        if (used) throw new TypeError(`session ${this.id}: a stream() result can be iterated once; call stream() again for another turn`);
        used = true;
        return this.run(body, options);
      },
    };
  }

  private checkCanStart(): void {
    if (this.actor.getSnapshot().status !== 'active') throw new ClosedError(`session ${this.id} was released`);
    if (this.turnInProgress) throw new TurnInProgressError(this.id);
  }

  private async *run(body: Record<string, unknown>, options: StreamOptions): AsyncGenerator<ProviderEvent, void, undefined> {
    this.checkCanStart();
    this.turnInProgress = true;
    const runner = this.runner;
    const turnId = `${this.id}#${++this.turnCounter}`;
    const trace = new TurnTrace(runner.now());
    const callerSignal = options.signal;
    const signal = callerSignal ? AbortSignal.any([callerSignal, this.lifetime.signal]) : this.lifetime.signal;
    const protocol = runner.protocolFor(this.endpointKey);
    const secrets = () => runner.secrets();
    let ended = false;
    /** The error behind the latest failed send, for the thrown error's `cause`. */
    let cause: unknown;
    let transport: TransportKind | undefined;
    let httpReason: string | undefined;
    const end = (result: 'completed' | 'failed', failure: Failure | undefined): void => {
      ended = true;
      runner.turnEnded(trace.event({ sessionId: this.id, endpointKey: this.endpointKey, turnId }, result, transport, failure, httpReason, runner.now()));
    };
    this.actor.send({ type: 'TURN_REQUESTED', turnId, atMs: trace.startedAtMs });
    try {
      let attempt = 0;
      for (;;) {
        const decision = await this.decide(turnId, attempt, signal, trace);
        if (decision.kind === 'ended') {
          const failure = decision.result.failure ?? { class: 'network', summary: 'turn failed' };
          transport = decision.result.transport ?? transport;
          end('failed', failure);
          // An abort carries the caller's own reason; anything else the error behind it, scrubbed.
          const aborted = failure.class === 'aborted' && failure.code !== 'released' && callerSignal?.aborted === true;
          const why = aborted ? callerSignal.reason : cause === undefined ? undefined : scrubbedError(cause, secrets());
          throw new TurnFailedError(this.id, turnId, failure, transport, { cause: why });
        }
        attempt = decision.attempt;
        transport = decision.transport;
        httpReason = decision.httpReason;
        trace.sending(transport, runner.now());
        let credential: { token: string; generation: number };
        try {
          credential = await runner.credentialFor(this.endpointKey);
        } catch (error) {
          cause = error;
          this.fail(turnId, { kind: 'credentials-unavailable', detail: describe(error, secrets) }, 0, trace);
          continue;
        }
        /** Events that only say the response started, held until content comes (see ProviderProtocol.isPreamble). */
        const held: ProviderEvent[] = [];
        let delivering = false;
        try {
          let retry = false;
          for await (const event of runner.open(this.id, this.endpointKey, transport, body, credential.token, signal, { turnId, attempt })) {
            trace.sawFirstEvent(runner.now());
            const terminal = protocol.isTerminal(event);
            if (!delivering) {
              if (!terminal && protocol.isPreamble?.(event)) {
                held.push(event);
                continue;
              }
              const outcome = terminal ? protocol.providerErrorOutcome(event) : undefined;
              if (outcome !== undefined) {
                // Before any content: the chart decides between another send and the end.
                this.fail(turnId, safeOutcome(outcome, secrets), credential.generation, trace);
                const next = decisionIn(this.actor, turnId, attempt);
                if (next?.kind !== 'ended') {
                  retry = true;
                  break;
                }
                end('failed', next.result.failure);
                yield* held;
                yield event;
                return;
              }
              // From here on a failure is never sent again (TURN_FAILED says so: no TURN_FIRST_EVENT per turn).
              delivering = true;
              if (held.length > 0) {
                yield* held.splice(0);
                // An abort while the consumer held those must not deliver more.
                if (signal.aborted) throw new TransportError({ kind: 'aborted' }, 'the turn was aborted by the caller');
              }
            }
            if (terminal) {
              const outcome = protocol.providerErrorOutcome(event);
              if (outcome !== undefined) {
                this.fail(turnId, safeOutcome(outcome, secrets), credential.generation, trace, true);
                end('failed', this.actor.getSnapshot().context.lastTurn?.failure);
              } else {
                this.tell({ type: 'TURN_COMPLETED', turnId, atMs: runner.now() });
                end('completed', undefined);
              }
              yield event;
              return;
            }
            yield event;
          }
          if (retry) continue;
          // The transport ended without a terminal event: a broken stream.
          throw new TransportError({ kind: 'network', code: 'EOF', phase: 'stream' }, `the ${transport === 'http' ? 'response' : 'socket'} ended before the turn's terminal event`);
        } catch (error) {
          if (!isTransportError(error)) throw error;
          cause = error;
          if (held.length > 0 && !delivering) {
            // The upstream had started the response: what came is delivered, and nothing is sent again.
            delivering = true;
            yield* held.splice(0);
          }
          this.fail(turnId, error.outcome, credential.generation, trace, delivering);
        }
      }
    } catch (error) {
      if (ended) throw error;
      // A fault of this package, not of the upstream or the caller: end the turn, say so, keep the cause.
      const failure: Failure = { class: 'request-fatal', summary: `internal error: ${describe(error, secrets)}`, code: 'internal' };
      this.tell({ type: 'TURN_CANCELLED', turnId, atMs: runner.now() });
      end('failed', failure);
      throw new TurnFailedError(this.id, turnId, failure, transport, { cause: scrubbedError(error, secrets()) });
    } finally {
      this.turnInProgress = false;
      if (!ended) {
        // The consumer stopped iterating (break, return()): the chart must not wait forever.
        this.tell({ type: 'TURN_CANCELLED', turnId, atMs: runner.now() });
        end('failed', CONSUMER_STOPPED);
      }
    }
  }

  /** The chart's decision for the next step, recording the wait (upgrade or refresh) when there is one. */
  private async decide(turnId: string, afterAttempt: number, signal: AbortSignal, trace: TurnTrace): Promise<TurnDecision> {
    const ready = decisionIn(this.actor, turnId, afterAttempt);
    if (ready) return ready;
    const step = pendingStep(this.actor);
    const startedAtMs = this.runner.now();
    const decision = await awaitDecision(this.actor, turnId, afterAttempt, signal, () => this.runner.now());
    const ok = decision.kind === 'send' && (step === 'refresh' || decision.transport === 'websocket');
    const failure = decision.kind === 'ended' ? decision.result.failure : undefined;
    trace.waited(step, startedAtMs, this.runner.now(), ok ? 'ok' : failure?.class === 'aborted' ? 'cancelled' : 'failed', failure);
    return decision;
  }

  private fail(turnId: string, outcome: Outcome, credentialGeneration: number, trace: TurnTrace, afterFirstEvent = false): void {
    const atMs = this.runner.now();
    this.tell({ type: 'TURN_FAILED', turnId, outcome, atMs, credentialGeneration, ...(afterFirstEvent ? { afterFirstEvent } : {}) });
    const { context } = this.actor.getSnapshot();
    const failure = context.turn?.id === turnId ? context.turn.attemptFailure : context.lastTurn?.id === turnId ? context.lastTurn.failure : undefined;
    trace.sent(atMs, outcome.kind === 'aborted' ? 'cancelled' : 'failed', failure);
  }

  /** Sends to the chart unless it was stopped (released): a stopped actor only warns. */
  private tell(event: SessionEvent): void {
    if (this.actor.getSnapshot().status === 'active') this.actor.send(event);
  }

  /** @internal Called by the manager on release: ends the turn in flight, whatever its transport. */
  endInFlightTurn(): void {
    this.lifetime.abort();
  }

  /** Closes the session's socket; the endpoint keeps its health. Same as `manager.release(id)`. */
  release(): void {
    this.runner.release(this.id);
  }
}

function describe(error: unknown, secrets: () => SecretSet): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return boundedScrub(text, secrets(), MAX_MESSAGE_CHARS);
}
