import type { Clock } from '../clock.js';

interface Timer {
  readonly id: number;
  readonly dueMs: number;
  readonly fn: (...args: unknown[]) => void;
}

/**
 * A simulated clock that knows when its next timer is due, so a driver can run real
 * loopback I/O at full speed and jump simulated time only when nothing else is happening
 * (the demo runs hours of cooldowns in seconds this way). xstate's `SimulatedClock` cannot
 * tell its next deadline.
 */
export class ManualClock implements Clock {
  private nowMs: number;
  private nextId = 1;
  private readonly timers = new Map<number, Timer>();

  /** @param startMs the simulated time at creation, in ms since the epoch. Default 0. */
  constructor(startMs = 0) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(fn: (...args: unknown[]) => void, timeoutMs: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { id, dueMs: this.nowMs + Math.max(0, timeoutMs), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** When the earliest pending timer is due, or `undefined` when none is pending. */
  nextTimerAtMs(): number | undefined {
    let earliest: number | undefined;
    for (const timer of this.timers.values()) if (earliest === undefined || timer.dueMs < earliest) earliest = timer.dueMs;
    return earliest;
  }

  /** Number of pending timers (a released session or stopped manager must leave none). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time to `targetMs`, firing every timer due on the way in due order (timers they set included). */
  advanceTo(targetMs: number): void {
    for (;;) {
      let next: Timer | undefined;
      for (const timer of this.timers.values()) {
        if (timer.dueMs <= targetMs && (next === undefined || timer.dueMs < next.dueMs || (timer.dueMs === next.dueMs && timer.id < next.id))) next = timer;
      }
      if (!next) break;
      this.timers.delete(next.id);
      this.nowMs = Math.max(this.nowMs, next.dueMs);
      next.fn();
    }
    this.nowMs = Math.max(this.nowMs, targetMs);
  }

  /** Moves time forward by `ms`; see {@link advanceTo}. */
  advance(ms: number): void {
    this.advanceTo(this.nowMs + ms);
  }
}
