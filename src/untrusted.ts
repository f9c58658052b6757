import type { Outcome } from '../machines/outcome.js';
import type { SecretSet } from './secrets.js';

/**
 * Text from an upstream, and errors on their way to a caller, made safe: scrubbed of secrets
 * (the manager's known tokens and secret-shaped strings) and bounded in length. Only failure
 * paths come here, so a healthy turn pays nothing.
 */

/** Longest provider error code kept in a Failure. */
export const MAX_CODE_CHARS = 64;
/** Longest provider error message kept in a Failure's summary. */
export const MAX_MESSAGE_CHARS = 200;

/** Provider error codes known to be plain words; they pass untouched. */
const KNOWN_CODES: ReadonlySet<string> = new Set([
  'rate_limit_exceeded',
  'insufficient_quota',
  'server_error',
  'server_is_overloaded',
  'slow_down',
  'invalid_api_key',
  'invalid_request',
  'invalid_request_error',
  'invalid_prompt',
  'context_length_exceeded',
  'model_not_found',
  'unsupported_parameter',
  'invalid_image',
  'not_found',
  'unauthorized',
  'forbidden',
  'timeout',
]);

/** `text` scrubbed and cut to `max` characters (with an ellipsis when cut). */
export function boundedScrub(text: string, secrets: SecretSet, max: number): string {
  // Scrub before cutting, so a cut cannot leave half a secret that no longer matches.
  const clean = secrets.scrub(text.length > max * 4 ? text.slice(0, max * 4) : text).replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** A provider-error outcome with its code and message made safe; any other outcome as is. */
export function safeOutcome(outcome: Outcome, secrets: () => SecretSet): Outcome {
  if (outcome.kind !== 'provider-error' || (outcome.message === undefined && (outcome.code === undefined || KNOWN_CODES.has(outcome.code)))) return outcome;
  const set = secrets();
  const { code, message, ...rest } = outcome;
  return {
    ...rest,
    ...(code === undefined ? {} : { code: KNOWN_CODES.has(code) ? code : boundedScrub(code, set, MAX_CODE_CHARS) }),
    ...(message === undefined ? {} : { message: boundedScrub(message, set, MAX_MESSAGE_CHARS) }),
  };
}

/**
 * A copy of an error and its whole `cause` chain with every message, stack and string field
 * scrubbed. The copies keep their prototype (so `instanceof TransportError` and `outcome` still
 * work); the originals are left alone.
 */
export function scrubbedError(error: unknown, secrets: SecretSet, depth = 0): unknown {
  if (typeof error === 'string') return secrets.scrub(error);
  if (!(error instanceof Error) || depth > 8) return error;
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Error;
  for (const key of Object.getOwnPropertyNames(error)) {
    if (key === 'cause') continue;
    const descriptor = Object.getOwnPropertyDescriptor(error, key);
    if (!descriptor) continue;
    if (typeof descriptor.value === 'string') descriptor.value = secrets.scrub(descriptor.value);
    Object.defineProperty(copy, key, descriptor);
  }
  if ('cause' in error) {
    Object.defineProperty(copy, 'cause', { value: scrubbedError(error.cause, secrets, depth + 1), writable: true, configurable: true, enumerable: false });
  }
  return copy;
}
