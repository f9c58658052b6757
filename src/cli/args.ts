import { UsageError } from './output.js';

/**
 * Runs a `util.parseArgs` call (Node's own parser: no dependency) and turns its errors into
 * {@link UsageError}s that name the argument. (`main` prefixes every error with the command,
 * so `_command` is only there for the callers' readability.)
 */
export function parsing<R>(_command: string, parse: () => R): R {
  try {
    return parse();
  } catch (error) {
    const message = error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error);
    throw new UsageError(message);
  }
}

/** Reads a numeric option, naming it in the error when it is not a number in range. */
export function numberOption(name: string, value: string | undefined, fallback: number, { min, max, integer = true }: { min: number; max: number; integer?: boolean }): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (value.trim() === '' || Number.isNaN(parsed) || (integer && !Number.isInteger(parsed))) {
    throw new UsageError(`--${name} expects ${integer ? 'a whole number' : 'a number'}, got ${JSON.stringify(value)}`);
  }
  if (parsed < min || parsed > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${parsed}`);
  return parsed;
}
