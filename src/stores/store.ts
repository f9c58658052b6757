import type { HealthReport, ProbeClaim } from '../../machines/endpoint.js';

/**
 * Where endpoint health is shared between gateway processes. Without a store each manager's
 * endpoint chart is its own authority; with one, a half-open probe is only granted after
 * the store agrees, so a fleet probes a failing endpoint once per cooldown window in all, and
 * the windows grow with the fleet's failure streak as they would in a single process.
 */
export interface CoordinationStore {
  /**
   * Ask for the right to probe `endpointKey`. Grants at most one lease at a time across all
   * processes, and refuses while a published cooldown is running. Granted or not, the answer
   * carries the fleet's failure streak (`consecutiveFailures`) when the store remembers one.
   * @param atMs  the caller's current time in ms since the epoch
   * @param leaseMs  how long the lease lasts if the holder never reports
   */
  claimProbe(endpointKey: string, atMs: number, leaseMs: number): Promise<ProbeClaim>;
  /**
   * Record a change of health (cooldown with its end, latch, or healthy) for the other
   * processes, and the reporter's failure streak: the store keeps the highest one it was told,
   * for longer than the cooldown (its failure memory), until a `healthy` report resets it.
   */
  publishHealth(report: HealthReport): Promise<void>;
  /**
   * Give back a probe lease without a health report (the upgrade was abandoned, or the chart's
   * own lease timer ran out), so the fleet does not wait out the lease. Only the lease that ends
   * at `leaseUntilMs` (the granted claim's `atMs + leaseMs`) is released: a lease another process
   * took since is left alone. Optional: without it, the fleet waits the lease out.
   * @param atMs  when the probe was given back, in the caller's ms since the epoch
   * @param leaseUntilMs  the end of the lease being given back, which names it
   */
  releaseProbe?(endpointKey: string, atMs: number, leaseUntilMs: number): Promise<void>;
  /**
   * Follow the health changes other processes publish (cooldown start, latch, recovery,
   * reset), pushed as they happen; this process's own reports are not echoed. The manager
   * hands each one to the endpoint chart of its key (`FLEET.HEALTH_CHANGED`), which adopts a
   * longer window or a recovery at once instead of at its next claim. A pushed report carries
   * the store's resulting state (the longest window, the highest streak), not the reporter's.
   * Optional: without it (or while the push link is down), a process learns at its next claim.
   * @returns a function that stops the listener
   */
  subscribe?(listener: (report: HealthReport) => void): () => void;
  /** Release connections. The manager does not call it: the store's owner does. */
  close?(): Promise<void>;
}

/**
 * How long a store remembers the fleet's failure streak after the end of the last reported
 * window, by default: 6 h. It must outlive any cooldown by far (the policy's `cooldown.maxMs`
 * is 30 min by default), or a process that probes after a long window starts its backoff over.
 */
export const DEFAULT_FAILURE_MEMORY_MS = 21_600_000;

/** Options shared by the built-in stores. */
export interface FailureMemoryOptions {
  /**
   * How long the fleet's failure streak is remembered after the end of the last window reported
   * (or after the report itself, for a window that already ended), in ms. Give it at least twice
   * the policy's `cooldown.maxMs` (and more than the longest Retry-After you expect between
   * probes). Default {@link DEFAULT_FAILURE_MEMORY_MS} (6 h).
   */
  readonly failureMemoryMs?: number;
}

/** End of the failure memory a report opens: `failureMemoryMs` after its window ends, or after the report. */
export function failureMemoryUntilMs(report: HealthReport, failureMemoryMs: number): number {
  return Math.max(report.atMs, report.untilMs ?? report.atMs) + failureMemoryMs;
}
