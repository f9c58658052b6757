import type { HealthReport, ProbeClaim } from '../../machines/endpoint.js';

/**
 * Where endpoint health is shared between gateway processes. Without a store each manager's
 * endpoint chart is its own authority; with one, a half-open probe is only granted after
 * the store agrees, so a fleet probes a failing endpoint once per cooldown window in all.
 */
export interface CoordinationStore {
  /**
   * Ask for the right to probe `endpointKey`. Grants at most one lease at a time across all
   * processes, and refuses while a published cooldown is running.
   * @param atMs  the caller's current time in ms since the epoch
   * @param leaseMs  how long the lease lasts if the holder never reports
   */
  claimProbe(endpointKey: string, atMs: number, leaseMs: number): Promise<ProbeClaim>;
  /** Record a change of health (cooldown with its end, latch, or healthy) for the other processes. */
  publishHealth(report: HealthReport): Promise<void>;
  /** Release connections. The manager does not call it: the store's owner does. */
  close?(): Promise<void>;
}
