/**
 * The one place the library reads time. The charts take timers from it (xstate's `clock`
 * option) and the runtime stamps events with `now()`, so a test or the demo can swap in
 * xstate's `SimulatedClock` and run hours of cooldowns in milliseconds.
 */
export interface Clock {
  /** Current time in ms since the epoch (or since the start of a simulation). */
  now(): number;
  /** Schedule `fn` after `timeoutMs`; returns a handle for {@link Clock.clearTimeout}. */
  setTimeout(fn: (...args: unknown[]) => void, timeoutMs: number): unknown;
  /** Cancel a timer from {@link Clock.setTimeout}. */
  clearTimeout(handle: unknown): void;
}

/**
 * Wall-clock time with unref'd timers: a 30-minute cooldown must never keep a gateway
 * process alive after it wants to exit (xstate's default clock does not unref).
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, timeoutMs) {
    const handle = setTimeout(fn, timeoutMs);
    handle.unref();
    return handle;
  },
  clearTimeout(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};
