import { describeValue } from './config-check.js';
import { ConfigError } from './errors.js';

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

/**
 * Validates a user-supplied logger: an object with `debug`, `info`, `warn` and `error`
 * methods (pino, or `console` itself). A lone function such as `console.log` is refused with
 * a {@link ConfigError} that says what to pass instead.
 */
export function checkLogger(logger: unknown): Logger {
  if (logger === undefined) return silentLogger;
  const expected = 'a logger object with debug(), info(), warn() and error() methods taking (obj, msg), such as pino() or console';
  if (typeof logger === 'function') {
    throw new ConfigError('logger', `expected ${expected}, got ${describeValue(logger)}: pass the object (e.g. \`logger: console\`), not one of its methods`);
  }
  if (typeof logger !== 'object' || logger === null) throw new ConfigError('logger', `expected ${expected}, got ${describeValue(logger)}`);
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof (logger as Record<string, unknown>)[level] !== 'function') {
      throw new ConfigError('logger', `expected ${expected}: ${level}() is missing`);
    }
  }
  return logger as Logger;
}
