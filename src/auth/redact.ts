import { scrubText } from '../secrets.js';

/**
 * Keeps tokens out of messages. Every string that leaves `src/auth` for a log, an error or
 * an event goes through {@link redact} with the secrets the caller knows about; a JWT-shaped
 * string is removed even when nobody told us about it (a token endpoint may echo an id_token).
 */

/**
 * Replaces every occurrence of each secret in `text` with `[redacted]`, and secret-shaped strings
 * (JWTs, `Bearer …`, API-key prefixes) too; see `src/secrets.ts`.
 * @param text a message that may have picked up a token (a server's error description)
 * @param secrets tokens the caller holds; empty and very short strings are ignored
 */
export function redact(text: string, secrets: Iterable<string | undefined>): string {
  return scrubText(text, secrets);
}

/**
 * Shortens an untrusted string for a one-line message.
 * @param text the string
 * @param max largest length kept, in characters. Default 300.
 */
export function truncate(text: string, max = 300): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}
