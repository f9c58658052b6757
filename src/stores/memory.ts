import type { HealthReport, ProbeClaim } from '../../machines/endpoint.js';
import { ConfigError } from '../errors.js';
import { DEFAULT_FAILURE_MEMORY_MS, failureMemoryUntilMs, type CoordinationStore, type FailureMemoryOptions } from './store.js';

interface Entry {
  leaseUntilMs: number;
  cooldownUntilMs: number;
  /** Status of the report that set `cooldownUntilMs`. */
  status: HealthReport['status'];
  /** The highest failure streak reported since the last `healthy`, remembered until `failuresUntilMs`. */
  failures: number;
  failuresUntilMs: number;
}

/** Options of {@link memoryStore}. */
export type MemoryStoreOptions = FailureMemoryOptions;

/**
 * A {@link CoordinationStore} in memory: shares health between several managers in one
 * process (and is the reference semantics the Redis store reproduces with Lua scripts).
 * Decisions compare the callers' times only (`atMs`); the store reads no clock.
 */
export function memoryStore(options: MemoryStoreOptions = {}): CoordinationStore {
  const failureMemoryMs = options.failureMemoryMs ?? DEFAULT_FAILURE_MEMORY_MS;
  if (!Number.isFinite(failureMemoryMs) || failureMemoryMs < 0) throw new ConfigError('store.failureMemoryMs', 'expected a finite number of ms ≥ 0');
  const entries = new Map<string, Entry>();
  const entryOf = (key: string): Entry => {
    let entry = entries.get(key);
    if (!entry) {
      entry = { leaseUntilMs: 0, cooldownUntilMs: 0, status: 'healthy', failures: 0, failuresUntilMs: 0 };
      entries.set(key, entry);
    }
    return entry;
  };
  /** The fleet's streak as seen at `atMs`, as the optional claim field (absent when none). */
  const streakAt = (entry: Entry, atMs: number): { consecutiveFailures?: number } =>
    entry.failures > 0 && entry.failuresUntilMs > atMs ? { consecutiveFailures: entry.failures } : {};
  return {
    async claimProbe(endpointKey, atMs, leaseMs): Promise<ProbeClaim> {
      const entry = entryOf(endpointKey);
      const streak = streakAt(entry, atMs);
      if (entry.cooldownUntilMs > atMs) {
        return { granted: false, untilMs: entry.cooldownUntilMs, reason: entry.status === 'unsupported' ? 'unsupported' : 'cooling-down', ...streak };
      }
      if (entry.leaseUntilMs > atMs) return { granted: false, untilMs: entry.leaseUntilMs, reason: 'probe-in-flight', ...streak };
      entry.leaseUntilMs = atMs + leaseMs;
      return { granted: true, ...streak };
    },
    async publishHealth(report) {
      const entry = entryOf(report.endpointKey);
      // Every report clears the lease: the probe holder has reported.
      entry.leaseUntilMs = 0;
      // A recovery, or an operator's reset: the fleet starts from nothing.
      if (report.status === 'healthy' || report.status === 'reset') {
        entry.cooldownUntilMs = 0;
        entry.status = 'healthy';
        entry.failures = 0;
        entry.failuresUntilMs = 0;
        return;
      }
      // A cooldown only ever grows from another process's report: two processes that saw the
      // same failure must not shorten each other's window. The reason follows the report that
      // set the end, so a long latch is not answered as a short cooldown.
      const untilMs = report.untilMs ?? 0;
      if (untilMs > entry.cooldownUntilMs) {
        entry.cooldownUntilMs = untilMs;
        entry.status = report.status;
      }
      // The streak only grows while remembered; the memory outlives the window.
      const remembered = entry.failuresUntilMs > report.atMs;
      entry.failures = remembered ? Math.max(entry.failures, report.consecutiveFailures) : report.consecutiveFailures;
      entry.failuresUntilMs = Math.max(remembered ? entry.failuresUntilMs : 0, failureMemoryUntilMs(report, failureMemoryMs));
    },
    async releaseProbe(endpointKey, _atMs, leaseUntilMs) {
      const entry = entries.get(endpointKey);
      if (entry && entry.leaseUntilMs === leaseUntilMs) entry.leaseUntilMs = 0;
    },
  };
}
