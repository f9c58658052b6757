/**
 * Keeps tokens out of messages. Every string that leaves `src/auth` for a log, an error or
 * an event goes through {@link redact} with the secrets the caller knows about; a JWT-shaped
 * string is removed even when nobody told us about it (a token endpoint may echo an id_token).
 */

const REDACTED = '[redacted]';
// Three base64url segments starting with a JSON header: the shape of every JWT.
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
// Shorter strings are too likely to match ordinary words; real tokens are far longer.
const MIN_SECRET_LENGTH = 6;

/**
 * Replaces every occurrence of each secret in `text` with `[redacted]`, and JWT-shaped strings too.
 * @param text a message that may have picked up a token (a server's error description)
 * @param secrets tokens the caller holds; empty and very short strings are ignored
 */
export function redact(text: string, secrets: Iterable<string | undefined>): string {
  let out = text;
  for (const secret of secrets) {
    if (!secret || secret.length < MIN_SECRET_LENGTH) continue;
    out = out.split(secret).join(REDACTED);
  }
  return out.replace(JWT_LIKE, REDACTED);
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
