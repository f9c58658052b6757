/**
 * An async iterator fed by callbacks (socket `message` events).
 *
 * Written by hand rather than with an async generator because the producer is
 * push-based: a value that arrives while the consumer waits resolves its
 * promise directly, with no intermediate buffer; values that arrive early are
 * kept in an array read by index (no `shift()`, which is O(n) per item).
 */
export class PushQueue<T> implements AsyncIterableIterator<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private waiter: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  /** Wakes a consumer blocked in {@link nextBatch}; it then takes everything pushed meanwhile. */
  private wake: (() => void) | undefined;
  private state: 'open' | 'ended' | 'failed' | 'done' = 'open';
  private error: unknown;

  /**
   * @param onReturn called once when the consumer stops early (`break`,
   *   `return()`) while the producer is still open, so it can release resources
   */
  constructor(private readonly onReturn?: () => void) {}

  /** True until {@link end} or {@link fail} was called or the consumer returned. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Deliver one value; ignored once the queue is closed. */
  push(value: T): void {
    if (this.state !== 'open') return;
    if (this.wake !== undefined) {
      // The batch consumer runs after this tick's other frames were pushed: it takes them all at once.
      const wake = this.wake;
      this.wake = undefined;
      this.items.push(value);
      wake();
      return;
    }
    const waiter = this.waiter;
    if (waiter !== undefined) {
      this.waiter = undefined;
      waiter.resolve({ value, done: false });
    } else {
      this.items.push(value);
    }
  }

  /** No more values: the consumer sees `done` after the buffered ones. */
  end(): void {
    if (this.state !== 'open') return;
    this.state = 'ended';
    this.settleWaiter();
  }

  /**
   * Fail the iteration. Buffered values are still delivered first unless
   * `dropBuffered` (for aborts: the caller asked to stop, not to drain).
   */
  fail(error: unknown, dropBuffered = false): void {
    if (this.state !== 'open') return;
    this.state = 'failed';
    this.error = error;
    if (dropBuffered) this.clear();
    this.settleWaiter();
  }

  /** The next value; waits while the queue is open and empty; rejects once with the failure. */
  next(): Promise<IteratorResult<T>> {
    if (this.head < this.items.length) return Promise.resolve({ value: this.take(), done: false });
    if (this.state === 'open') {
      return new Promise((resolve, reject) => {
        this.waiter = { resolve, reject };
      });
    }
    if (this.state === 'failed') {
      this.state = 'done';
      return Promise.reject(this.error);
    }
    return Promise.resolve({ value: undefined, done: true });
  }

  /**
   * Everything pushed and not yet taken, oldest first; waits while the queue is open and empty.
   * Resolves `[]` once the queue ended; rejects once with the failure (after the buffered values).
   * One promise per socket read instead of one per value: the facade's turn iterator serves
   * the batch itself, so each event crosses a single async step (docs/performance.md).
   */
  async nextBatch(): Promise<T[]> {
    if (this.head >= this.items.length && this.state === 'open') {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    if (this.head < this.items.length) return this.takeAll();
    if (this.state === 'failed') {
      this.state = 'done';
      throw this.error;
    }
    return [];
  }

  /** The consumer is done (`break`): drop what is buffered and tell the producer if it was still open. */
  return(): Promise<IteratorResult<T>> {
    const wasOpen = this.state === 'open';
    this.state = 'done';
    this.clear();
    this.settleWaiter();
    if (wasOpen) this.onReturn?.();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The queue is its own iterator: it can be iterated once. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  private take(): T {
    const value = this.items[this.head] as T;
    // Drop the reference so a long turn does not pin every event until it ends.
    this.items[this.head] = undefined;
    this.head += 1;
    if (this.head === this.items.length) this.clear();
    return value;
  }

  private takeAll(): T[] {
    const taken = this.head === 0 ? this.items : this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return taken as T[];
  }

  private clear(): void {
    this.items.length = 0;
    this.head = 0;
  }

  /** A consumer blocked in `next()` only waits while the queue is open and empty. */
  private settleWaiter(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
    const waiter = this.waiter;
    if (waiter === undefined) return;
    this.waiter = undefined;
    if (this.state === 'failed') {
      this.state = 'done';
      waiter.reject(this.error);
    } else {
      waiter.resolve({ value: undefined, done: true });
    }
  }
}
