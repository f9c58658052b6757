/**
 * In-process coordination. Two kinds, for two reasons:
 * - {@link SingleFlight}: callers asking for the same thing share one promise (fifty sessions
 *   rejecting one token make one refresh).
 * - {@link KeyedMutex}: callers touching the same resource take turns (two stores on one
 *   credentials file in one process). Taking turns, not merging, because their arguments
 *   may differ; the second one then sees the first one's result in the file.
 */

/** Shares one in-flight promise per key. */
export class SingleFlight<K, V> {
  private readonly inflight = new Map<K, Promise<V>>();

  /** Runs `work` for `key` unless a run for that key is in flight; then returns that run's promise. */
  run(key: K, work: () => Promise<V>): Promise<V> {
    const existing = this.inflight.get(key);
    if (existing) return existing;
    const promise = (async () => {
      try {
        return await work();
      } finally {
        this.inflight.delete(key);
      }
    })();
    this.inflight.set(key, promise);
    return promise;
  }

  /** Number of keys with a run in flight. */
  get size(): number {
    return this.inflight.size;
  }
}

/** A FIFO mutex per key. Entries are dropped when idle, so keys do not accumulate. */
export class KeyedMutex<K> {
  private readonly tails = new Map<K, Promise<void>>();

  /** Runs `work` once every earlier holder of `key` has finished (successfully or not). */
  async run<T>(key: K, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.tails.set(key, tail);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
