import type { HealthReport, ProbeClaim } from '../../machines/endpoint.js';
import type { CoordinationStore } from './store.js';

interface Entry {
  leaseUntilMs: number;
  cooldownUntilMs: number;
  status: HealthReport['status'];
}

/**
 * A {@link CoordinationStore} in memory: shares health between several managers in one
 * process (and is the reference semantics the Redis store reproduces with a Lua script).
 */
export function memoryStore(): CoordinationStore {
  const entries = new Map<string, Entry>();
  const entryOf = (key: string): Entry => {
    let entry = entries.get(key);
    if (!entry) {
      entry = { leaseUntilMs: 0, cooldownUntilMs: 0, status: 'healthy' };
      entries.set(key, entry);
    }
    return entry;
  };
  return {
    async claimProbe(endpointKey, atMs, leaseMs): Promise<ProbeClaim> {
      const entry = entryOf(endpointKey);
      if (entry.cooldownUntilMs > atMs) {
        return { granted: false, untilMs: entry.cooldownUntilMs, reason: entry.status === 'unsupported' ? 'unsupported' : 'cooling-down' };
      }
      if (entry.leaseUntilMs > atMs) return { granted: false, untilMs: entry.leaseUntilMs, reason: 'probe-in-flight' };
      entry.leaseUntilMs = atMs + leaseMs;
      return { granted: true };
    },
    async publishHealth(report) {
      const entry = entryOf(report.endpointKey);
      entry.status = report.status;
      entry.leaseUntilMs = 0;
      // A cooldown only ever grows from another process's report: two processes that saw
      // the same failure must not shorten each other's window.
      entry.cooldownUntilMs = report.status === 'healthy' ? 0 : Math.max(entry.cooldownUntilMs, report.untilMs ?? 0);
    },
  };
}
