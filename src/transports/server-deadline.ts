/**
 * The first-event and idle deadlines of an HTTP turn, counting only time
 * spent waiting on the server.
 *
 * A pull-based stream reads only when the consumer asks for more, so a slow
 * consumer would otherwise look like a silent server. A deadline that passes
 * while the consumer holds an event is therefore re-armed at the next read
 * instead of firing. One timer per phase, refreshed rather than re-created.
 */
export class ServerDeadline {
  private phase: 'first-event' | 'idle' = 'first-event';
  private waitingOnServer = true;
  private passedWhileConsumerBusy = false;
  private timer: NodeJS.Timeout;

  /**
   * @param onExpired called at most once per expiry while waiting on the server
   * Starts the first-event deadline immediately.
   */
  constructor(
    private readonly firstEventTimeoutMs: number,
    private readonly idleTimeoutMs: number,
    private readonly onExpired: (phase: 'first-event' | 'idle', timeoutMs: number) => void,
  ) {
    this.timer = setTimeout(this.onTimer, firstEventTimeoutMs);
    this.timer.unref();
  }

  /** About to wait on the server (a read). */
  waiting(): void {
    if (this.passedWhileConsumerBusy) {
      this.passedWhileConsumerBusy = false;
      this.timer.refresh();
    }
    this.waitingOnServer = true;
  }

  /** The server answered a read; until the next {@link waiting}, time belongs to the consumer. */
  answered(): void {
    this.waitingOnServer = false;
  }

  /** Events arrived: the first call switches to the idle deadline, later calls push it forward. */
  sawEvents(): void {
    if (this.phase === 'idle') {
      this.timer.refresh();
      return;
    }
    this.phase = 'idle';
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onTimer, this.idleTimeoutMs);
    this.timer.unref();
  }

  /** Stop for good. */
  clear(): void {
    clearTimeout(this.timer);
  }

  private readonly onTimer = (): void => {
    if (!this.waitingOnServer) {
      this.passedWhileConsumerBusy = true;
      return;
    }
    this.onExpired(this.phase, this.phase === 'first-event' ? this.firstEventTimeoutMs : this.idleTimeoutMs);
  };
}
