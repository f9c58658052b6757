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

/** One pass that finds every text the three patterns above could touch (a superset: case-insensitive), so clean text skips three. */
const ANY_SECRET_SHAPE = new RegExp(`${JWT_LIKE.source}|${BEARER.source}|${KEY_PREFIXES.source}`, 'i');

/** The shortest text the patterns above can match: `Bearer` + a space + 6 characters, a JWT's 13. */
const MIN_SHAPED_SECRET_CHARS = 13;

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
    // No secret-shaped match is shorter (see the patterns above): ids and words skip the regexes.
    if (out.length < MIN_SHAPED_SECRET_CHARS || !ANY_SECRET_SHAPE.test(out)) return out;
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

// ---------------------------------------------------------------------------------------------
// Scrubbing whole values, errors and loggers: every exit of the package goes through one of these.

/** How deep {@link scrubDeep} and {@link scrubError} follow nested values; deeper ones are dropped. */
const MAX_DEPTH = 12;

/**
 * A copy of `value` with every string (keys included) scrubbed of the known secrets. Plain
 * objects and arrays are copied; errors become scrubbed errors ({@link scrubError}); other class
 * instances (actor refs, sockets) are kept by reference, since they carry no text of their own
 * that a listener would print. Cycles are kept as cycles.
 * @param value any event payload or log object
 * @param secrets the secrets to remove
 */
export function scrubDeep<T>(value: T, secrets: Iterable<string | undefined> | SecretSet): T {
  return deep(value, toSecretSet(secrets), new Map(), 0) as T;
}

function deep(value: unknown, set: SecretSet, seen: Map<object, unknown>, depth: number): unknown {
  if (typeof value === 'string') return set.scrub(value);
  if (typeof value !== 'object' || value === null) return value;
  const known = seen.get(value);
  if (known !== undefined) return known;
  if (depth > MAX_DEPTH) return '[too deep]';
  if (value instanceof Error) return scrubError(value, set);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    seen.set(value, out);
    for (const item of value) out.push(deep(item, set, seen, depth + 1));
    return out;
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  seen.set(value, out);
  for (const [key, item] of Object.entries(value)) out[set.scrub(key)] = deep(item, set, seen, depth + 1);
  return out;
}

/**
 * Scrubs an error in place, and everything it carries: message, stack, every own string
 * property (`code`, `errorCode`, `description`…), every plain object or array it holds
 * (replaced by a scrubbed copy: response headers, parsed bodies), and the whole `cause` chain
 * (also `AggregateError.errors`). In place, so `instanceof` and brand checks keep working.
 * @param error the error (anything else is returned as is, strings scrubbed)
 * @param secrets the secrets to remove
 * @returns the same error
 */
export function scrubError<T>(error: T, secrets: Iterable<string | undefined> | SecretSet): T {
  return scrubErrorIn(error, toSecretSet(secrets), new Set(), 0);
}

function scrubErrorIn<T>(error: T, set: SecretSet, seen: Set<object>, depth: number): T {
  if (typeof error === 'string') return set.scrub(error) as T;
  if (typeof error !== 'object' || error === null || seen.has(error) || depth > MAX_DEPTH) return error;
  seen.add(error);
  const record = error as Record<string, unknown>;
  for (const key of Object.getOwnPropertyNames(error)) {
    let item: unknown;
    try {
      item = record[key];
    } catch {
      continue;
    }
    try {
      if (typeof item === 'string') {
        const clean = set.scrub(item);
        if (clean !== item) Object.defineProperty(error, key, { value: clean, writable: true, configurable: true, enumerable: Object.prototype.propertyIsEnumerable.call(error, key) });
      } else if (key === 'cause' || key === 'errors' || item instanceof Error) {
        if (Array.isArray(item)) for (const inner of item) scrubErrorIn(inner, set, seen, depth + 1);
        else scrubErrorIn(item, set, seen, depth + 1);
      } else if (typeof item === 'object' && item !== null && (Array.isArray(item) || isPlainObject(item))) {
        // Plain data an error carries (a transport outcome's response headers, a parsed body):
        // replaced by a scrubbed copy, so the original value (maybe shared) is left as it was.
        const clean = scrubDeep(item, set);
        if (JSON.stringify(clean) !== JSON.stringify(item)) {
          Object.defineProperty(error, key, { value: clean, writable: true, configurable: true, enumerable: Object.prototype.propertyIsEnumerable.call(error, key) });
        }
      }
    } catch {
      // A frozen or exotic error: nothing more can be done in place.
    }
  }
  // `stack` is an accessor on some engines' errors; read it once so its text is fixed, then scrub.
  if (error instanceof Error && typeof error.stack === 'string') {
    const clean = set.scrub(error.stack);
    if (clean !== error.stack) {
      try {
        Object.defineProperty(error, 'stack', { value: clean, writable: true, configurable: true, enumerable: false });
      } catch {
        // Non-configurable stack: leave it.
      }
    }
  }
  return error;
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** A pino-style logger, as `src/logging.ts` declares it (repeated here so this file stays a leaf). */
interface LoggerLike {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Wraps a logger so every line leaves scrubbed: the message and every string in the log object,
 * recursively (errors included). `secrets` is read on every call, so tokens learnt later
 * (after a refresh) are removed too.
 * @param logger the host's logger
 * @param secrets the secrets known right now
 */
export function scrubbingLogger<L extends LoggerLike>(logger: L, secrets: () => Iterable<string | undefined> | SecretSet): L {
  const wrap =
    (level: keyof LoggerLike) =>
    (obj: object, msg?: string): void => {
      const set = toSecretSet(secrets());
      const cleanObj = scrubDeep(obj, set);
      if (msg === undefined) logger[level](cleanObj);
      else logger[level](cleanObj, set.scrub(msg));
    };
  return { ...logger, debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}

// ---------------------------------------------------------------------------------------------
// Untrusted codes from upstreams.

/**
 * OAuth and provider error codes that pass as they are: RFC 6749 §5.2, RFC 6750 §3.1,
 * RFC 8628 and the rotating-refresh codes of OpenAI-style token endpoints. Anything else an
 * upstream puts in an `error` field is scrubbed and bounded by {@link untrustedCode}.
 */
export const KNOWN_OAUTH_CODES: ReadonlySet<string> = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'access_denied',
  'unsupported_response_type',
  'server_error',
  'temporarily_unavailable',
  'invalid_token',
  'insufficient_scope',
  'authorization_pending',
  'slow_down',
  'expired_token',
  'refresh_token_reused',
  'refresh_token_expired',
  'refresh_token_invalidated',
  'refresh_token_revoked',
  'token_expired',
  'token_revoked',
  'invalid_request_error',
  'authentication_error',
  'rate_limit_exceeded',
  'insufficient_quota',
]);

/** Longest untrusted code kept, in characters. */
export const MAX_UNTRUSTED_CODE_CHARS = 64;

/**
 * An error code from an upstream, safe to log: a known code as it is; anything else scrubbed,
 * cut to one line of {@link MAX_UNTRUSTED_CODE_CHARS} characters, and reduced to
 * `[A-Za-z0-9_.:-]` (so it cannot smuggle markup or a line break into a log).
 * @param code the upstream's `error` / `error.code`
 * @param secrets tokens the caller holds
 * @returns the safe code, or undefined when nothing usable is left
 */
export function untrustedCode(code: unknown, secrets: Iterable<string | undefined> | SecretSet = []): string | undefined {
  if (typeof code !== 'string' || code.length === 0) return undefined;
  if (KNOWN_OAUTH_CODES.has(code)) return code;
  const scrubbed = toSecretSet(secrets).scrub(code.slice(0, 4 * MAX_UNTRUSTED_CODE_CHARS));
  const safe = scrubbed.replace(/[^A-Za-z0-9_.:[\]-]+/g, '_').slice(0, MAX_UNTRUSTED_CODE_CHARS);
  return safe.length === 0 ? undefined : safe;
}

/**
 * Free text from an upstream (an OAuth `error_description`, a provider's message): scrubbed,
 * one line, at most `maxChars` characters.
 * @param text the untrusted text
 * @param secrets tokens the caller holds
 * @param maxChars longest result, in characters. Default 200.
 */
export function untrustedText(text: unknown, secrets: Iterable<string | undefined> | SecretSet = [], maxChars = 200): string {
  if (typeof text !== 'string') return '';
  const set = toSecretSet(secrets);
  // Scrub before cutting, so a token split by the cut cannot survive half-recognisable.
  const oneLine = set.scrub(text.slice(0, 8 * maxChars)).replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return oneLine.length <= maxChars ? oneLine : `${oneLine.slice(0, maxChars - 1)}…`;
}

// ---------------------------------------------------------------------------------------------
// The registry: what the manager knows, prepared once per change.

/** Header names whose values are credentials (`Authorization`, `X-Api-Key`, `Cookie`, `OpenAI-Organization`…). */
const CREDENTIAL_HEADER = /auth|key|token|secret|cookie|session|signature|credential|password|passwd|organization|project/i;

/**
 * The values of the credential-bearing headers of an endpoint config's `headers`, and the
 * bare token of an `Authorization: Bearer …` value, for the secret registry.
 * @param headers an endpoint's extra headers
 */
export function headerSecrets(headers: Readonly<Record<string, string>> | undefined): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (typeof value !== 'string' || !CREDENTIAL_HEADER.test(name)) continue;
    out.push(value);
    const bare = /^\s*\S+\s+(\S.*)$/.exec(value)?.[1];
    if (bare) out.push(bare.trim());
  }
  return out;
}

/**
 * A {@link SecretSet} rebuilt only when the list of secrets changed (compared element by
 * element, which is far cheaper than sorting and encoding them again on every event).
 */
export function secretSetCache(): (secrets: readonly string[]) => SecretSet {
  let last: readonly string[] = [];
  let set = new SecretSet();
  return (secrets) => {
    if (secrets.length !== last.length || secrets.some((secret, i) => secret !== last[i])) {
      last = [...secrets];
      set = new SecretSet(secrets);
    }
    return set;
  };
}
