import type { Failure } from '../machines/failure.js';
import type { HttpReason, SessionContext, TransportKind, TurnActorRef, TurnEmitted, TurnEvent } from '../machines/session.js';
import { ClosedError, TurnInProgressError } from './errors.js';
import { regionPath } from './state.js';
import type { ProviderEvent } from './transports/provider.js';
import type { SessionActor, TurnRunner } from './turn-runner.js';
import { TurnStream, type TurnHost } from './turn-stream.js';

export type { SessionActor } from './turn-runner.js';

/** What `session.state` tells: the chart's state and the transport in use. */
export interface SessionState {
  /** Connection region, e.g. `connection.idle`, `connection.socket.open`, `connection.fallback`, `connection.reauthRequired`. */
  readonly connection: string;
  /** The turn chart's state, e.g. `turn.idle`, `turn.streaming`. */
  readonly turn: string;
  /** The transport the next (or current) turn uses: `websocket` when a socket is open, else `http`. */
  readonly transport: TransportKind;
  /** While on HTTP, why: `cooling-down`, `probe-in-flight`, `unsupported`, `unproven`, `upgrade-failed`, `refresh-failed`, `credentials-unavailable`. */
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

/**
 * One gateway session: a thin imperative facade over its charts. Streams turns, reports what
 * happened to the turn chart, and does what it decides. Deltas never go through a chart: the turn
 * chart only hears of a turn's start, end and failed sends. Its charts start with its first turn,
 * so a session that never streamed costs a few fields.
 */
export class Session implements TurnHost {
  private current: TurnStream | undefined;
  private turnCounter = 0;
  private chart: SessionActor | undefined;
  private turnChart: TurnActorRef | undefined;
  /** Released while it had no charts running (before its first turn, or after they stopped idle). */
  private releasedWithoutCharts = false;
  /** Aborted when the session is released: in-flight turns (HTTP requests included) end at once. */
  private readonly lifetime = new AbortController();

  /** @internal created by the manager */
  constructor(
    /** The caller's session id. */
    readonly id: string,
    /** The endpoint this session streams to. */
    readonly endpointKey: string,
    /** @internal */
    readonly runner: TurnRunner,
  ) {}

  /** The chart's state and the transport in use. */
  get state(): SessionState {
    const snapshot = this.chart?.getSnapshot();
    if (snapshot === undefined) {
      const released = this.releasedWithoutCharts;
      return {
        connection: released ? 'released' : 'connection.idle',
        turn: released ? 'released' : 'turn.idle',
        transport: 'http',
        httpReason: undefined,
        httpUntilMs: undefined,
        lastFailure: undefined,
        released,
      };
    }
    const context: SessionContext = snapshot.context;
    const released = snapshot.status !== 'active';
    const connection = released ? 'released' : regionPath(snapshot.value, 'connection');
    const turnValue = this.turnChart?.getSnapshot().value;
    return {
      connection,
      turn: released || turnValue === undefined ? 'released' : `turn.${String(turnValue)}`,
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
        this.checkCanStart();
        this.startCharts();
        const turn = new TurnStream(this, ++this.turnCounter, body, options.signal, this.lifetime.signal);
        this.current = turn;
        turn.request();
        return turn;
      },
    };
  }

  private checkCanStart(): void {
    if (this.releasedWithoutCharts || (this.chart !== undefined && this.chart.getSnapshot().status !== 'active')) throw new ClosedError(`session ${this.id} was released`);
    if (this.current !== undefined) throw new TurnInProgressError(this.id);
  }

  private startCharts(): void {
    if (this.chart !== undefined) return;
    const chart = this.runner.startChart(this.id, this.carried);
    this.carried = undefined;
    this.lastActiveAtMs = this.runner.now();
    const turnChart = chart.getSnapshot().children.turn as TurnActorRef | undefined;
    if (turnChart === undefined) throw new Error(`session ${this.id}: the session chart did not start its turn chart`);
    turnChart.on('turn.send', this.onDecision);
    turnChart.on('turn.ended', this.onDecision);
    this.chart = chart;
    this.turnChart = turnChart;
  }

  /** The turn chart's decisions reach the turn they are about, as they are made (synchronously, inside `send`). */
  private readonly onDecision = (decision: TurnEmitted): void => {
    const current = this.current;
    if (current === undefined) return;
    const turnId = decision.type === 'turn.send' ? decision.turnId : decision.result.id;
    if (turnId === current.turnId) current.decided(decision);
  };

  /** @internal {@link TurnHost.tell} */
  tell(event: TurnEvent): void {
    if (this.chart?.getSnapshot().status === 'active') this.turnChart?.send(event);
  }

  /** @internal {@link TurnHost.chartIsLive} */
  chartIsLive(): boolean {
    return this.chart?.getSnapshot().status === 'active';
  }

  /** @internal {@link TurnHost.turnFinished} */
  turnFinished(stream: TurnStream): void {
    if (this.current === stream) this.current = undefined;
    this.lastActiveAtMs = this.runner.now();
  }

  /** What the next charts take over from the stopped ones (for operators' events, not decisions). */
  private carried: { readonly onHttpSinceMs?: number } | undefined;

  /** When the session's last turn ended (or its charts started), in ms on the manager's clock. @internal */
  lastActiveAtMs = 0;

  /**
   * @internal Stops the charts of a session that has been idle since `idleSinceMs` or earlier: no
   * turn, no socket, the connection at rest (idle, on HTTP, or sign-in required), so nothing is
   * held (no probe, no refresh waited for). Its next turn starts fresh charts, which ask the
   * endpoint and credential charts again: a session keeps no health of its own.
   * @returns whether the charts were stopped
   */
  stopChartsIfIdle(idleSinceMs: number, beforeStop: (chart: SessionActor) => void): boolean {
    const chart = this.chart;
    if (chart === undefined || this.current !== undefined || this.lastActiveAtMs > idleSinceMs) return false;
    const snapshot = chart.getSnapshot();
    if (snapshot.status !== 'active') return false;
    const connection = regionPath(snapshot.value, 'connection');
    if (connection !== 'connection.idle' && connection !== 'connection.fallback' && connection !== 'connection.reauthRequired') return false;
    if (this.turnChart?.getSnapshot().value !== 'idle') return false;
    this.chart = undefined;
    this.turnChart = undefined;
    const { onHttpSinceMs } = snapshot.context;
    this.carried = onHttpSinceMs === undefined ? undefined : { onHttpSinceMs };
    beforeStop(chart);
    chart.stop();
    return true;
  }

  /** @internal Called by the manager on release: ends the turn in flight, whatever its transport. */
  endInFlightTurn(): void {
    if (this.chart === undefined) this.releasedWithoutCharts = true;
    this.lifetime.abort();
    this.current?.released();
  }

  /** @internal The session chart, once the first turn started it. */
  get chartActor(): SessionActor | undefined {
    return this.chart;
  }

  /** Closes the session's socket; the endpoint keeps its health. Same as `manager.release(id)`. */
  release(): void {
    this.runner.release(this.id);
  }
}
