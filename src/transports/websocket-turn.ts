import type { Outcome } from '../../machines/outcome.js';
import type { ProviderEvent, ProviderProtocol } from './provider.js';
import { PushQueue } from './push-queue.js';
import { TransportError } from './transport-error.js';

/** Per-turn settings; see `WebSocketConnection.streamTurn`. */
export interface WebSocketTurnOptions {
  /** Decodes frames and tells where the turn ends. */
  protocol: ProviderProtocol;
  /** Aborting ends the turn with `{ kind: 'aborted' }` and closes the socket. */
  signal?: AbortSignal;
  /** Deadline from sending the request frame to the first event. */
  firstEventTimeoutMs: number;
  /** Longest allowed gap between two events once the first one arrived. */
  idleTimeoutMs: number;
}

/**
 * What a turn needs from its connection. `closeSocket` is true when the turn
 * ended locally mid-response (abort, timeout, bad frame, consumer stopped):
 * the server is still sending that response, so the socket cannot carry the
 * next turn and must go. `fault` says what the upstream did wrong when it
 * was its doing (a deadline, a bad frame); undefined when the caller chose to
 * stop (break, `return()`, abort), which never blames the endpoint.
 */
export interface WebSocketTurnHost {
  turnEnded(turn: WebSocketTurn, closeSocket: boolean, fault?: Outcome): void;
}

/**
 * One in-flight turn on a WebSocket: routes frames into a {@link PushQueue},
 * owns the first-event and idle deadlines, and ends at the terminal event.
 */
export class WebSocketTurn {
  /** What the caller iterates. */
  readonly events: PushQueue<ProviderEvent>;
  /** Whether any event of this turn arrived; decides `afterFirstEvent` on a close. */
  sawFirstEvent = false;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(
    private readonly options: WebSocketTurnOptions,
    private readonly target: string,
    private readonly host: WebSocketTurnHost,
  ) {
    this.events = new PushQueue<ProviderEvent>(() => this.endLocally(undefined));
  }

  /** Arm the first-event deadline and listen for abort; the connection calls it as it sends the request frame. */
  start(): void {
    this.timer = setTimeout(this.onFirstEventTimeout, this.options.firstEventTimeoutMs);
    this.timer.unref();
    this.options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** Hot path: one text frame from the socket. */
  deliver(data: string): void {
    let event: ProviderEvent;
    try {
      event = this.options.protocol.parseWebSocketMessage(data);
    } catch (error) {
      this.endLocally(asProtocolError(error));
      return;
    }
    if (this.sawFirstEvent) {
      // The idle timer is not touched per frame (a refresh re-inserts it in Node's timer list, 70 µs
      // per 1,000 frames): it checks, when it fires, whether a frame came meanwhile.
      this.lastEventAtMs = performance.now();
    } else {
      this.sawFirstEvent = true;
      this.lastEventAtMs = performance.now();
      clearTimeout(this.timer);
      this.timer = setTimeout(this.onIdleTimer, this.options.idleTimeoutMs);
      this.timer.unref();
    }
    this.events.push(event);
    if (this.options.protocol.isTerminal(event)) {
      this.finish();
      this.events.end();
      this.host.turnEnded(this, false);
    }
  }

  /** A frame the protocol cannot carry (binary) ends the turn like a bad JSON frame. */
  rejectFrame(detail: string): void {
    this.endLocally(new TransportError({ kind: 'protocol', detail }, `WebSocket to ${this.target}: ${detail}`));
  }

  /** The socket went away (close, error, caller's `close()`): fail the turn, nothing left to close. */
  failFromSocket(outcome: Outcome, message: string, cause?: unknown): void {
    if (this.finished) return;
    this.finish();
    this.events.fail(new TransportError(outcome, message, cause === undefined ? undefined : { cause }));
  }

  /** Ends the turn from this side; `error` undefined means the consumer stopped iterating. */
  private endLocally(error: TransportError | undefined): void {
    if (this.finished) return;
    this.finish();
    if (error !== undefined) this.events.fail(error, error.outcome.kind === 'aborted');
    this.host.turnEnded(this, true, error === undefined || error.outcome.kind === 'aborted' ? undefined : error.outcome);
  }

  private finish(): void {
    this.finished = true;
    clearTimeout(this.timer);
    this.options.signal?.removeEventListener('abort', this.onAbort);
  }

  private readonly onAbort = (): void => {
    this.endLocally(new TransportError({ kind: 'aborted' }, `WebSocket turn to ${this.target} aborted by the caller`));
  };

  private readonly onFirstEventTimeout = (): void => {
    this.endLocally(
      new TransportError(
        { kind: 'timeout', phase: 'first-event' },
        `WebSocket to ${this.target}: no event within ${this.options.firstEventTimeoutMs} ms of sending the turn`,
      ),
    );
  };

  /** When the last frame of this turn arrived, on `performance.now()`'s clock. */
  private lastEventAtMs = 0;

  /** The idle timer fired: a timeout if no frame came for idleTimeoutMs, else wait out the rest. */
  private readonly onIdleTimer = (): void => {
    const quietForMs = performance.now() - this.lastEventAtMs;
    const remainingMs = this.options.idleTimeoutMs - quietForMs;
    if (remainingMs > 1) {
      this.timer = setTimeout(this.onIdleTimer, remainingMs);
      this.timer.unref();
      return;
    }
    this.onIdleTimeout();
  };

  private readonly onIdleTimeout = (): void => {
    this.endLocally(
      new TransportError(
        { kind: 'timeout', phase: 'idle' },
        `WebSocket to ${this.target}: no event for ${this.options.idleTimeoutMs} ms mid-turn`,
      ),
    );
  };
}

function asProtocolError(error: unknown): TransportError {
  if (error instanceof TransportError) return error;
  const detail = error instanceof Error ? error.message : 'unparseable frame';
  return new TransportError({ kind: 'protocol', detail }, `WebSocket protocol error: ${detail}`);
}
