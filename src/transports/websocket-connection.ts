import WebSocket from 'ws';
import type { Outcome } from '../../machines/outcome.js';
import { failedSend, type EventBatches } from './event-batches.js';
import { TransportError } from './transport-error.js';
import { WebSocketTurn, type WebSocketTurnHost, type WebSocketTurnOptions } from './websocket-turn.js';

/** How a socket ended; see {@link WebSocketConnection.onClose}. */
export interface SocketEnd {
  readonly outcome: Outcome;
  /** True when this side closed it without the upstream being at fault (break, `return()`, abort, `close()`). */
  readonly local: boolean;
}

/** An open WebSocket that carries one turn at a time, for as many turns as it lives. */
export interface WebSocketConnection {
  /** `Date.now()` when the upgrade completed. */
  readonly openedAtMs: number;
  /** True while turns can be sent (not closed, not closing). */
  readonly isOpen: boolean;
  /**
   * Send one request frame and iterate the turn's events up to and including
   * the terminal one. A provider error event is yielded, not thrown: check it
   * with `protocol.providerErrorOutcome`. The iteration throws a
   * {@link TransportError} for closes, socket errors, timeouts, bad frames and
   * aborts; every local failure mid-response (abort, timeout, bad frame,
   * `break` before the terminal event) also closes the socket, since the rest
   * of that response would otherwise arrive as the next turn's events.
   * @throws Error synchronously when another turn is still streaming on this socket
   */
  streamTurn(frame: string, options: WebSocketTurnOptions): EventBatches;
  /**
   * Hear about every end of the socket, once: a remote close or error (during a
   * turn or not), a local close after a turn ended early (`local`: the caller
   * stopped, nobody's fault; not `local` when the upstream missed a deadline or
   * sent a bad frame), and `close()`. A local end is reported synchronously, so
   * the owner knows before the next turn asks. Listeners must not throw.
   * Returns the unsubscribe function.
   */
  onClose(listener: (end: SocketEnd) => void): () => void;
  /** Clean close (code 1000), reported to `onClose` as local. Idempotent; fails a streaming turn with `{ kind: 'closed', code: 1000 }`. */
  close(): void;
}

/** The {@link WebSocketConnection} that `openWebSocket` resolves with. */
export class Connection implements WebSocketConnection, WebSocketTurnHost {
  readonly openedAtMs = Date.now();
  private turn: WebSocketTurn | undefined;
  private readonly closeListeners = new Set<(end: SocketEnd) => void>();
  /** How the socket ended, once it did (reported to every listener, late ones included). */
  private end: SocketEnd | undefined;
  /** Why the socket is about to close, recorded before ws emits 'close' (which only knows a code). */
  private pendingOutcome: Outcome | undefined;
  private pendingCause: unknown;
  private endedOutcome: Outcome | undefined;
  private closedLocally = false;
  private awaitingPong = false;
  private pingTimer: NodeJS.Timeout | undefined;

  /**
   * @param ws a socket that just emitted 'open'; listeners are attached before any message can arrive
   * @param target redacted URL for messages
   * @param pingIntervalMs client ping period, 0 for none
   * @param closeTimeoutMs how long a clean close waits for the server's close frame
   */
  constructor(
    private readonly ws: WebSocket,
    private readonly target: string,
    pingIntervalMs: number,
    private readonly closeTimeoutMs: number,
  ) {
    ws.on('message', this.onMessage);
    ws.on('pong', this.onPong);
    ws.on('error', this.onError);
    ws.on('close', this.onSocketClose);
    if (pingIntervalMs > 0) {
      this.pingTimer = setInterval(this.onPingTick, pingIntervalMs);
      this.pingTimer.unref();
    }
  }

  /** {@inheritDoc WebSocketConnection.isOpen} */
  get isOpen(): boolean {
    return !this.closedLocally && this.ws.readyState === WebSocket.OPEN;
  }

  /** {@inheritDoc WebSocketConnection.streamTurn} */
  streamTurn(frame: string, options: WebSocketTurnOptions): EventBatches {
    if (this.turn !== undefined) {
      throw new Error(`streamTurn: a turn is already streaming on the WebSocket to ${this.target}; a socket carries one turn at a time`);
    }
    if (options.signal?.aborted) return failedSend(abortedError(this.target));
    if (!this.isOpen) {
      const outcome = this.endedOutcome ?? { kind: 'closed', code: this.closedLocally ? 1000 : 1006, afterFirstEvent: false };
      return failedSend(new TransportError(outcome, `WebSocket to ${this.target} is no longer open`));
    }
    const turn = new WebSocketTurn(options, this.target, this);
    this.turn = turn;
    turn.start();
    this.ws.send(frame);
    return turn.events;
  }

  /** {@inheritDoc WebSocketConnection.onClose} */
  onClose(listener: (end: SocketEnd) => void): () => void {
    // A socket that dropped before anyone listened still reports its end, once.
    if (this.end !== undefined) {
      listener(this.end);
      return () => {};
    }
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  /** {@inheritDoc WebSocketConnection.close} */
  close(): void {
    if (this.closedLocally || this.endedOutcome !== undefined) return;
    const turn = this.turn;
    this.turn = undefined;
    turn?.failFromSocket(
      { kind: 'closed', code: 1000, afterFirstEvent: turn.sawFirstEvent },
      `WebSocket to ${this.target} was closed by the caller mid-turn`,
    );
    this.shutdown(undefined);
  }

  /** Called by the current turn when it ends; see {@link WebSocketTurnHost}. */
  turnEnded(turn: WebSocketTurn, closeSocket: boolean, fault?: Outcome): void {
    if (this.turn === turn) this.turn = undefined;
    if (closeSocket) this.shutdown(fault);
  }

  /** Closes from this side and reports it at once: `fault` when the upstream caused it, else a local end. */
  private shutdown(fault: Outcome | undefined): void {
    if (this.closedLocally) return;
    this.closedLocally = true;
    clearInterval(this.pingTimer);
    this.ws.close(1000);
    // ws waits 30 s for the server's close frame on a ref'd timer; a silent server should cost 1 s, not keep Node up.
    setTimeout(() => this.ws.terminate(), this.closeTimeoutMs).unref();
    this.reportEnd({ outcome: fault ?? { kind: 'closed', code: 1000, afterFirstEvent: false }, local: fault === undefined });
  }

  private reportEnd(end: SocketEnd): void {
    if (this.end !== undefined) return;
    this.end = end;
    const listeners = [...this.closeListeners];
    this.closeListeners.clear();
    for (const listener of listeners) {
      try {
        listener(end);
      } catch (error) {
        // Same contract as EventTarget: a throwing listener is a bug, surfaced without breaking the others.
        process.nextTick(() => {
          throw error;
        });
      }
    }
  }

  private readonly onMessage = (data: WebSocket.RawData, isBinary: boolean): void => {
    // Any inbound frame proves the peer alive, so a long turn never trips the ping check.
    this.awaitingPong = false;
    const turn = this.turn;
    // Frames outside a turn have no reader; dropping them keeps the next turn clean.
    if (turn === undefined) return;
    if (isBinary) turn.rejectFrame('unexpected binary frame');
    else turn.deliver((data as Buffer).toString());
  };

  private readonly onPong = (): void => {
    this.awaitingPong = false;
  };

  private readonly onPingTick = (): void => {
    if (this.awaitingPong) {
      this.pendingOutcome ??= { kind: 'timeout', phase: 'idle' };
      this.ws.terminate();
      return;
    }
    this.awaitingPong = true;
    this.ws.ping();
  };

  private readonly onError = (error: Error): void => {
    if (this.pendingOutcome !== undefined) return;
    const code = (error as NodeJS.ErrnoException).code ?? 'UNKNOWN';
    // ws's own errors (WS_ERR_*: oversized message, bad frame, invalid UTF-8) are protocol violations, not network faults.
    this.pendingOutcome = code.startsWith('WS_ERR_') ? { kind: 'protocol', detail: error.message } : { kind: 'network', code, phase: 'stream' };
    this.pendingCause = error;
  };

  private readonly onSocketClose = (code: number): void => {
    clearInterval(this.pingTimer);
    const turn = this.turn;
    this.turn = undefined;
    const outcome = this.pendingOutcome ?? { kind: 'closed', code, afterFirstEvent: turn?.sawFirstEvent ?? false };
    this.endedOutcome = outcome;
    const message = `WebSocket to ${this.target} ended: ${describe(outcome)}`;
    turn?.failFromSocket(outcome, message, this.pendingCause);
    // A local close was reported when it was made; this reports a remote one.
    this.reportEnd({ outcome, local: false });
  };
}

/** The error for a turn or an opening cancelled through the caller's signal. */
export function abortedError(target: string): TransportError {
  return new TransportError({ kind: 'aborted' }, `WebSocket to ${target} aborted by the caller`);
}

function describe(outcome: Outcome): string {
  switch (outcome.kind) {
    case 'closed':
      return `close code ${outcome.code} ${outcome.afterFirstEvent ? 'after the first event' : 'before the first event'}`;
    case 'network':
      return `socket error ${outcome.code}`;
    case 'timeout':
      return 'no pong before the next ping';
    case 'protocol':
      return `protocol error: ${outcome.detail}`;
    default:
      return outcome.kind;
  }
}
