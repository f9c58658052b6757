/**
 * A pino-compatible logger: `(obj, msg)`. pino, bunyan-style adapters and `console`-backed
 * shims all fit. The library logs one line per state change of an endpoint or credential,
 * never one per turn: repeated failures inside a cooldown are counted and reported on the
 * next state change.
 */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Discards everything: the default, since a library must not write to stdout uninvited. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Formats a duration for humans: `45 s`, `12 min`, `6 h`. */
export function humanDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1_000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1).replace(/\.0$/, '')} h`;
}

/** Validates a user-supplied logger, naming the missing method. */
export function checkLogger(logger: unknown): Logger {
  if (logger === undefined) return silentLogger;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof (logger as Record<string, unknown>)?.[level] !== 'function') {
      throw new TypeError(`logger: expected a pino-compatible logger with a ${level}(obj, msg) method`);
    }
  }
  return logger as Logger;
}
