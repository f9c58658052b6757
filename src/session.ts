import type { Actor } from 'xstate';
import type { Failure } from '../machines/failure.js';
import type { Outcome } from '../machines/outcome.js';
import type { DenyReason } from '../machines/endpoint.js';
import type { createSessionMachine, SessionContext, SessionEvent, TransportKind } from '../machines/session.js';
import { ClosedError, TurnFailedError, TurnInProgressError } from './errors.js';
import { regionPath } from './state.js';
import type { ProviderEvent } from './transports/provider.js';
import { isTransportError } from './transports/transport-error.js';
import type { TurnRunner } from './turn-runner.js';

/** A session chart actor. */
export type SessionActor = Actor<ReturnType<typeof createSessionMachine>>;

/** What `session.state` tells: the chart's state and the transport in use. */
export interface SessionState {
  /** Connection region, e.g. `connection.socket.open`, `connection.fallback`, `connection.reauthRequired`. */
  readonly connection: string;
  /** Turn region, e.g. `turn.idle`, `turn.streaming`. */
  readonly turn: string;
  /** The transport the next (or current) turn uses: `websocket` when a socket is open, else `http`. */
  readonly transport: TransportKind;
  /** While on HTTP, why: `cooling-down`, `probe-in-flight`, `unsupported`, `upgrade-failed`, `refresh-failed`. */
  readonly httpReason: DenyReason | 'upgrade-failed' | 'refresh-failed' | undefined;
  /** When the endpoint may be probed again, in ms on the manager's clock, if known. */
  readonly httpUntilMs: number | undefined;
  /** The last classified failure this session saw. */
  readonly lastFailure: Failure | undefined;
  /** Whether the session was released. */
  readonly released: boolean;
}

/** Per-turn options of {@link Session.stream}. */
export interface StreamOptions {
  /** Aborts the turn: the stream ends with a {@link TurnFailedError} of class `aborted`. */
  signal?: AbortSignal;
}

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
   * (`response.completed`, `response.failed`, `response.incomplete`, `error`).
   * Never waits for a cooldown; waits for an upgrade in flight at most `upgradeBudgetMs`.
   * @throws TurnFailedError when the turn cannot be served (classified failure inside)
   * @throws TurnInProgressError when another turn of this session is still running
   */
  stream(body: Record<string, unknown>, options: StreamOptions = {}): AsyncIterable<ProviderEvent> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new TypeError(`session ${this.id}: stream(body) expects the request body as a plain object`);
    }
    return { [Symbol.asyncIterator]: () => this.run(body, options) };
  }

  private async *run(body: Record<string, unknown>, options: StreamOptions): AsyncGenerator<ProviderEvent, void, undefined> {
    if (this.actor.getSnapshot().status !== 'active') throw new ClosedError(`session ${this.id} was released`);
    if (this.turnInProgress) throw new TurnInProgressError(this.id);
    this.turnInProgress = true;
    const turnId = `${this.id}#${++this.turnCounter}`;
    const startedAtMs = this.runner.now();
    let firstEventAtMs: number | undefined;
    let finished = false;
    let transport: TransportKind | undefined;
    let providerFailure: Failure | undefined;
    const signal = options.signal ? AbortSignal.any([options.signal, this.lifetime.signal]) : this.lifetime.signal;
    const protocol = this.runner.protocolFor(this.endpointKey);
    this.actor.send({ type: 'TURN_REQUESTED', turnId, atMs: startedAtMs });
    try {
      let attempt = 0;
      for (;;) {
        const decision = await this.runner.awaitDecision(this.actor, turnId, attempt, signal);
        if (decision.kind === 'ended') {
          finished = true;
          const last = decision.result;
          this.runner.turnEnded(this, turnId, last.result, last.transport, last.failure, startedAtMs, firstEventAtMs);
          if (last.result === 'failed') {
            throw new TurnFailedError(this.id, turnId, last.failure ?? { class: 'network', summary: 'turn failed' }, last.transport);
          }
          return;
        }
        attempt = decision.attempt;
        transport = decision.transport;
        const credential = await this.runner.credentialFor(this.endpointKey);
        try {
          for await (const event of this.runner.open(this, decision.transport, body, credential.token, signal)) {
            if (firstEventAtMs === undefined) {
              firstEventAtMs = this.runner.now();
              this.tell({ type: 'TURN_FIRST_EVENT', turnId, atMs: firstEventAtMs });
            }
            if (protocol.isTerminal(event)) {
              providerFailure = this.runner.providerFailure(protocol, event);
              this.tell({ type: 'TURN_COMPLETED', turnId, atMs: this.runner.now() });
              finished = true;
              this.runner.turnEnded(this, turnId, providerFailure ? 'failed' : 'completed', transport, providerFailure, startedAtMs, firstEventAtMs);
              yield event;
              return;
            }
            yield event;
          }
          // The transport ended without a terminal event: report it as a broken stream.
          this.fail(turnId, { kind: 'network', code: 'EOF', phase: 'stream' }, credential.generation, transport);
        } catch (error) {
          if (!isTransportError(error)) throw error;
          this.fail(turnId, error.outcome, credential.generation, transport);
        }
      }
    } finally {
      this.turnInProgress = false;
      if (!finished) {
        // The consumer stopped iterating, or something threw: the chart must not wait forever.
        this.tell({ type: 'TURN_CANCELLED', turnId, atMs: this.runner.now() });
        this.runner.turnEnded(this, turnId, 'failed', transport, { class: 'aborted', summary: 'the consumer stopped the stream', code: 'aborted' }, startedAtMs, firstEventAtMs);
      }
    }
  }

  private fail(turnId: string, outcome: Outcome, credentialGeneration: number, transport: TransportKind | undefined): void {
    const atMs = this.runner.now();
    if (transport === 'websocket') this.runner.noteWebSocketTurnFailure(this.id, outcome, atMs);
    this.tell({ type: 'TURN_FAILED', turnId, outcome, atMs, credentialGeneration });
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
