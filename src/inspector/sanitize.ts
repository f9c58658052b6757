import type { InspectionEvent } from 'xstate';
import { REDACTED, SecretSet, scrubText, toSecretSet } from '../secrets.js';

export { REDACTED, SecretSet, scrubText };

/**
 * Defence in depth for everything an inspection observer sees. The charts hold no token by
 * design (the credential chart knows generation numbers only), so on a healthy codebase this
 * changes nothing but the shape; it is the second lock on the door, for the day someone puts a
 * header map in an event or a provider echoes a key in an error message.
 *
 * What it does to any value on its way out:
 * - plain JSON-able data only: functions and symbols are dropped, `Map`/`Set`/`Date`/`Error`/
 *   binary data become plain values, cycles become `"[circular]"`, depth is bounded;
 * - actor refs become `{ id, sessionId }` (plus a non-enumerable `getSnapshot()` that returns
 *   the actor's *sanitized* snapshot and a non-enumerable sanitized `_parent`, which is what
 *   `@statelyai/inspect`'s converters read); machines and state nodes become their ids;
 * - values under secret-looking keys (`token`, `secret`, `password`, `authorization`, `cookie`,
 *   `apiKey`, `credentials`, …) are replaced, strings nested below them too;
 * - every known token string (the credential sources' tokens, passed in by the manager) is
 *   replaced wherever it appears, in values and keys, raw or URL-encoded;
 * - strings shaped like a JWT, a `Bearer …` header or a well-known API key prefix are replaced
 *   even when nobody said they were secret.
 */

/** Keys whose values are never shown to an inspection observer, whatever they hold (numbers and booleans excepted). */
const SECRET_KEY = /token|secret|passw(?:or)?d|passphrase|authori[sz]ation|cookie|api[-_]?key|private[-_]?key|client[-_]?secret|^credentials?$|^bearer$|signature/i;

const MAX_DEPTH = 24;

/** Whether values under this key are withheld from observers. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/** A sanitized actor ref: ids only, enumerable; `getSnapshot` and `_parent` are there for converters but never serialized. */
export interface SanitizedActorRef {
  readonly id: string;
  readonly sessionId: string;
  /** The actor's current snapshot, sanitized. Non-enumerable. */
  getSnapshot(): unknown;
  /** The parent's sanitized ref, if any. Non-enumerable. */
  readonly _parent?: SanitizedActorRef;
}

interface ActorLike {
  readonly id: string;
  readonly sessionId: string;
  send(event: unknown): void;
  getSnapshot?: () => unknown;
  _parent?: unknown;
}

function isActorRef(value: object): value is ActorLike {
  const v = value as Partial<ActorLike>;
  return typeof v.sessionId === 'string' && typeof v.send === 'function';
}

/** An actor ref reduced to `{ id, sessionId }`; see {@link SanitizedActorRef}. */
export function sanitizeActorRef(ref: unknown, secrets: Iterable<string | undefined> | SecretSet = []): SanitizedActorRef | undefined {
  if (typeof ref !== 'object' || ref === null || !isActorRef(ref)) return undefined;
  const set = toSecretSet(secrets);
  const clean = { id: set.scrub(String(ref.id)), sessionId: ref.sessionId } as SanitizedActorRef;
  Object.defineProperty(clean, 'getSnapshot', {
    enumerable: false,
    value: () => {
      try {
        return sanitizeValue(ref.getSnapshot?.(), set);
      } catch {
        return undefined;
      }
    },
  });
  Object.defineProperty(clean, '_parent', {
    enumerable: false,
    get: () => sanitizeActorRef(ref._parent, set),
  });
  return clean;
}

/**
 * A plain, JSON-safe copy of `value` with secrets removed (see the module comment).
 * @param value anything: an event, a snapshot, a context
 * @param secrets known token strings to replace wherever they appear
 */
export function sanitizeValue(value: unknown, secrets: Iterable<string | undefined> | SecretSet = []): unknown {
  return clean(value, toSecretSet(secrets), [], 0, false);
}

function clean(value: unknown, secrets: SecretSet, stack: object[], depth: number, secret: boolean): unknown {
  switch (typeof value) {
    case 'string':
      return secret && value.length > 0 ? REDACTED : secrets.scrub(value);
    case 'number':
    case 'boolean':
    case 'undefined':
      return value;
    case 'bigint':
      return secret ? REDACTED : value.toString();
    case 'function':
    case 'symbol':
      return undefined;
    default:
      break;
  }
  if (value === null) return null;
  const object = value as object;
  if (isActorRef(object)) return sanitizeActorRef(object, secrets);
  if (stack.includes(object)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
  if (object instanceof Error) {
    const code = (object as { code?: unknown }).code;
    return {
      name: object.name,
      message: secret ? REDACTED : secrets.scrub(object.message),
      ...(typeof code === 'string' || typeof code === 'number' ? { code: secret ? REDACTED : secrets.scrub(String(code)) } : {}),
    };
  }
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) return `[binary ${object.byteLength} bytes]`;
  const shape = object as Record<string, unknown>;
  // A state node or a machine: its id is all an observer needs (both are huge and cyclic).
  if ('machine' in shape && 'path' in shape && 'key' in shape && typeof shape.id === 'string') return { stateNode: secrets.scrub(shape.id) };
  if ('root' in shape && 'implementations' in shape && typeof shape.id === 'string') return { machine: secrets.scrub(shape.id) };
  stack.push(object);
  try {
    if (object instanceof Map) {
      const out: Record<string, unknown> = {};
      for (const [key, entry] of object) putEntry(out, String(key), entry, secrets, stack, depth, secret);
      return out;
    }
    if (object instanceof Set) return [...object].map((entry) => clean(entry, secrets, stack, depth + 1, secret));
    if (Array.isArray(object)) return object.map((entry) => clean(entry, secrets, stack, depth + 1, secret));
    const toJSON = shape.toJSON;
    if (typeof toJSON === 'function') {
      // What JSON.stringify would serialize (machine snapshots drop their machine and helpers here).
      const json: unknown = toJSON.call(object);
      if (json !== object) return clean(json, secrets, stack, depth + 1, secret);
    }
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(shape)) putEntry(out, key, shape[key], secrets, stack, depth, secret);
    return out;
  } finally {
    stack.pop();
  }
}

function putEntry(out: Record<string, unknown>, key: string, entry: unknown, secrets: SecretSet, stack: object[], depth: number, secret: boolean): void {
  const underSecret = secret || isSecretKey(key);
  const cleaned = clean(entry, secrets, stack, depth + 1, underSecret && typeof entry !== 'number' && typeof entry !== 'boolean');
  if (cleaned === undefined && (typeof entry === 'function' || typeof entry === 'symbol')) return;
  out[secrets.scrub(key)] = cleaned;
}

interface TransitionLike {
  readonly eventType?: unknown;
  readonly source?: { readonly id?: unknown };
  readonly target?: readonly { readonly id?: unknown }[];
}

/**
 * Makes an inspection event safe for any observer: `type`, `rootId`, and the fields of its kind
 * (`event`, `snapshot`, `sourceRef`, `action`), each sanitized by {@link sanitizeValue}; actor
 * refs become {@link SanitizedActorRef}s, so observers that read `actorRef.sessionId`,
 * `actorRef.getSnapshot()`, `actorRef._parent?.sessionId` or `sourceRef?.sessionId` (such as
 * `@statelyai/inspect`) keep working. `actorRef.logic` (the machine config) is withheld.
 * @param event the raw event from xstate's `inspect` hook
 * @param secrets known token strings to replace wherever they appear
 */
export function sanitizeInspectionEvent(event: InspectionEvent, secrets: Iterable<string | undefined> | SecretSet): InspectionEvent {
  const set = toSecretSet(secrets);
  const raw = event as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {
    type: event.type,
    rootId: typeof event.rootId === 'string' ? event.rootId : undefined,
    actorRef: sanitizeActorRef(event.actorRef, set) ?? sanitizeValue(event.actorRef, set),
  };
  switch (event.type) {
    case '@xstate.actor':
      break;
    case '@xstate.event':
      out.sourceRef = event.sourceRef ? (sanitizeActorRef(event.sourceRef, set) ?? undefined) : undefined;
      out.event = sanitizeValue(event.event, set);
      break;
    case '@xstate.snapshot':
      out.event = sanitizeValue(event.event, set);
      out.snapshot = sanitizeValue(event.snapshot, set);
      break;
    case '@xstate.microstep':
      out.event = sanitizeValue(event.event, set);
      out.snapshot = sanitizeValue(event.snapshot, set);
      out._transitions = ((raw._transitions as readonly TransitionLike[] | undefined) ?? []).map((t) => ({
        eventType: typeof t.eventType === 'string' ? set.scrub(t.eventType) : undefined,
        source: typeof t.source?.id === 'string' ? t.source.id : undefined,
        target: (t.target ?? []).map((node) => (typeof node.id === 'string' ? node.id : undefined)),
      }));
      break;
    case '@xstate.action':
      out.action = sanitizeValue(event.action, set);
      break;
    default:
      for (const key of Object.keys(raw)) if (!(key in out)) out[set.scrub(key)] = sanitizeValue(raw[key], set);
  }
  return out as unknown as InspectionEvent;
}
