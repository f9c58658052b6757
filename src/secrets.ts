/**
 * The one secret scrubber of the package: known tokens (raw and URL-encoded) and strings shaped
 * like a JWT, a `Bearer …` header or a well-known API key are replaced by `[redacted]`. Used by
 * `src/auth` for messages and by the inspector for everything it sends.
 */

/** What a secret is replaced with. */
export const REDACTED = '[redacted]';

// Shapes of secrets worth catching even when nobody told us about them.
const JWT_LIKE = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const BEARER = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{6,}/gi;
const KEY_PREFIXES = /\b(?:sk|rk|pk)-(?:proj-|live-|test-|ant-)?[A-Za-z0-9_-]{16,}|\bgh[pousr]_[A-Za-z0-9]{20,}|\bxox[abprs]-[A-Za-z0-9-]{10,}|\bAIza[0-9A-Za-z_-]{30,}|\bAKIA[0-9A-Z]{16}\b/g;

/** Shorter known secrets are ignored: they are too likely to match ordinary words. */
const MIN_SECRET_LENGTH = 6;

/** Known secrets, prepared once per call: longest first, with their URL-encoded forms. */
export class SecretSet {
  private readonly needles: string[];

  constructor(secrets: Iterable<string | undefined> = []) {
    const all = new Set<string>();
    for (const secret of secrets) {
      if (typeof secret !== 'string' || secret.length < MIN_SECRET_LENGTH) continue;
      all.add(secret);
      const encoded = encodeURIComponent(secret);
      if (encoded !== secret) all.add(encoded);
    }
    this.needles = [...all].sort((a, b) => b.length - a.length);
  }

  /** `text` with every known secret and every secret-shaped substring replaced. */
  scrub(text: string): string {
    let out = text;
    for (const needle of this.needles) if (out.includes(needle)) out = out.split(needle).join(REDACTED);
    if (out.includes('eyJ')) out = out.replace(JWT_LIKE, REDACTED);
    out = out.replace(BEARER, (_match, scheme: string) => `${scheme} ${REDACTED}`);
    return out.replace(KEY_PREFIXES, REDACTED);
  }
}

/** `text` with known secrets (and secret-shaped substrings) replaced by `[redacted]`. */
export function scrubText(text: string, secrets: Iterable<string | undefined> | SecretSet = []): string {
  return toSecretSet(secrets).scrub(text);
}

/** The given secrets as a {@link SecretSet}, prepared once. */
export function toSecretSet(secrets: Iterable<string | undefined> | SecretSet): SecretSet {
  return secrets instanceof SecretSet ? secrets : new SecretSet(secrets);
}
