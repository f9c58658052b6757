/**
 * One line when Redis becomes unreachable and one when it answers again, however many calls
 * fail in between: a fleet that loses Redis for a minute must not print a line per turn.
 */

import { humanDuration, type Logger } from '../logging.js';

/** Tracks whether Redis answers, and logs the changes only. */
export interface OutageLog {
  /** A call failed (or the subscriber connection reported an error). Logs at warn on the first failure after success. */
  failed(error: unknown): void;
  /** A call succeeded. Logs at info on the first success after a failure. */
  succeeded(): void;
  /** True between a failure and the next success. */
  readonly down: boolean;
}

/** An {@link OutageLog} writing to `logger` (silent without one); `what` names the store in every line. */
export function outageLog(logger: Logger | undefined, what: string, now: () => number = Date.now): OutageLog {
  let downSinceMs: number | undefined;
  return {
    failed(error) {
      if (downSinceMs !== undefined) return;
      downSinceMs = now();
      const reason = error instanceof Error ? error.message : String(error);
      logger?.warn({ store: what, err: reason }, `${what}: Redis unavailable (${reason}); probes are denied and turns go over HTTP until it answers again`);
    },
    succeeded() {
      if (downSinceMs === undefined) return;
      const downForMs = now() - downSinceMs;
      downSinceMs = undefined;
      logger?.info({ store: what, downForMs }, `${what}: Redis answers again after ${humanDuration(downForMs)}; shared health resynced`);
    },
    get down() {
      return downSinceMs !== undefined;
    },
  };
}
