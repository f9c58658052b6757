import type { InspectionEvent, Observer } from 'xstate';
import { DEFAULT_POLICY, type Policy } from '../machines/policy.js';
import type { BackoffOptions } from '../machines/backoff.js';
import type { Clock } from './clock.js';
import { ConfigError } from './errors.js';
import type { CoordinationStore } from './stores/store.js';
import { didYouMean, describeValue, isPlainObject } from './config-check.js';

/**
 * The longest delay Node's timers accept: 2^31−1 ms (about 24.8 days). Node turns anything
 * larger into 1 ms, which would make every upgrade "time out" at once, so every `…Ms` option
 * is checked against it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Policy overrides accepted by `createSessionManager`; every field is optional, durations in milliseconds. */
export interface PolicyOptions {
  /** Cooldown backoff of a failing endpoint. Defaults: 45 s doubling to 30 min, 20 % downward jitter. */
  cooldown?: Partial<BackoffOptions>;
  /** Longest an upgrade may take, in ms, in (0, 2^31−1]. Default 8 000; when you set `upgradeBudgetMs` and leave this unset, max(8 000, twice the budget). */
  upgradeTimeoutMs?: number;
  /**
   * Longest a turn waits for an upgrade in flight before going over HTTP, in ms; 0 never waits.
   * Must be below `upgradeTimeoutMs`. Default 1 000; when you set `upgradeTimeoutMs` and leave this
   * unset, min(1 000, half of `upgradeTimeoutMs`).
   */
  upgradeBudgetMs?: number;
  /** Uptime after which a socket's endpoint is forgiven its failures, in ms; 0 forgives at once. Default 15 000. */
  minUptimeMs?: number;
  /** How long a refusal to upgrade (426, 404, 403) latches HTTP, in ms. Default 21 600 000 (6 h). */
  unsupportedTtlMs?: number;
  /** Deadline for a turn's first event, on either transport, in ms. Default 60 000. */
  firstEventTimeoutMs?: number;
  /** Longest gap between two events of a turn, in ms. Default 300 000 (5 min, as the official CLI). */
  idleTimeoutMs?: number;
  /** Client ping period on open sockets, in ms; 0 disables. Default 30 000. */
  pingIntervalMs?: number;
  /** Longest an open socket may stay silent after a turn was sent before the turn moves to HTTP, in ms. Default 5 000. */
  webSocketFirstEventTimeoutMs?: number;
  /**
   * How long a session with no turn and no socket keeps its charts running, in ms; then they are
   * stopped (an idle session holds no actor) and start afresh with its next turn. 0 keeps them.
   * Default 60 000. Sessions keep no health of their own, so nothing is lost: the endpoint holds
   * the cooldown, the credential chart the sign-in state.
   */
  idleChartsStopAfterMs?: number;
}

// Compile-time guard: a field added to the charts' Policy must be documented in PolicyOptions.
type MissingFromPolicyOptions = Exclude<keyof Policy, keyof PolicyOptions>;
const policyOptionsCoverPolicy: [MissingFromPolicyOptions] extends [never] ? true : MissingFromPolicyOptions = true;
void policyOptionsCoverPolicy;

/** The full policy the runtime uses: the charts' {@link Policy} plus stream deadlines. */
export interface RuntimePolicy extends Policy {
  readonly firstEventTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly idleChartsStopAfterMs: number;
}

/** Stream deadlines' defaults; see {@link PolicyOptions}. */
export const DEFAULT_STREAM_POLICY = { firstEventTimeoutMs: 60_000, idleTimeoutMs: 300_000, pingIntervalMs: 30_000, idleChartsStopAfterMs: 60_000 } as const;

interface NumberRule {
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  /** Why the bound is there, appended to the message. */
  readonly why?: string;
}

/** A duration: whole milliseconds in (0, 2^31−1]. */
const TIMER: NumberRule = { min: 1, max: MAX_TIMER_MS, integer: true, why: 'the largest delay a Node timer accepts' };
/** A duration where 0 has a documented meaning (never wait, forgive at once, disabled). */
const TIMER_OR_ZERO: NumberRule = { ...TIMER, min: 0 };

/**
 * The policy fields whose bounds differ from the default rule. Every other field is checked by
 * its default's type: a number named `…Ms` is a {@link TIMER}, any other number is finite and
 * ≥ 0, a boolean a boolean, a string a string, an object recursively. So a field added to
 * `DEFAULT_POLICY` is validated without a line here.
 */
const POLICY_RULES: Readonly<Record<string, NumberRule>> = {
  'cooldown.multiplier': { min: 1, max: 1_000, integer: false },
  'cooldown.jitterRatio': { min: 0, max: 0.5, integer: false, why: 'a probe is never sooner than half its window' },
  'cooldown.retryAfterCapMs': TIMER_OR_ZERO,
  upgradeBudgetMs: TIMER_OR_ZERO,
  minUptimeMs: TIMER_OR_ZERO,
  pingIntervalMs: TIMER_OR_ZERO,
  idleChartsStopAfterMs: TIMER_OR_ZERO,
};

function ruleFor(path: string, key: string): NumberRule {
  return POLICY_RULES[path] ?? (key.endsWith('Ms') ? TIMER : { min: 0, max: Number.MAX_SAFE_INTEGER, integer: false });
}

function checkNumber(field: string, value: unknown, rule: NumberRule): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new ConfigError(field, `expected a finite number, got ${describeValue(value)}`);
  if (rule.integer && !Number.isInteger(value)) throw new ConfigError(field, `expected a whole number of milliseconds, got ${value}`);
  if (value < rule.min) throw new ConfigError(field, `expected at least ${rule.min}, got ${value}`);
  if (value > rule.max) throw new ConfigError(field, `expected at most ${rule.max}${rule.why ? ` (${rule.why})` : ''}, got ${value}`);
  return value;
}

/**
 * Merges `given` onto `defaults`, checking every field by the default's type and rejecting
 * keys the defaults do not have (with a "did you mean" hint).
 */
function resolveGroup(field: string, path: string, defaults: Readonly<Record<string, unknown>>, given: unknown): Record<string, unknown> {
  if (given === undefined) return { ...defaults };
  if (!isPlainObject(given)) throw new ConfigError(field, `expected an object, got ${describeValue(given)}`);
  rejectUnknownKeys(field, given, Object.keys(defaults));
  const out: Record<string, unknown> = {};
  for (const [key, fallback] of Object.entries(defaults)) {
    const value = given[key];
    const keyPath = path ? `${path}.${key}` : key;
    const keyField = `${field}.${key}`;
    if (isPlainObject(fallback)) out[key] = resolveGroup(keyField, keyPath, fallback, value);
    else if (value === undefined) out[key] = fallback;
    else if (typeof fallback === 'number') out[key] = checkNumber(keyField, value, ruleFor(keyPath, key));
    else if (typeof fallback !== typeof value) throw new ConfigError(keyField, `expected a ${typeof fallback}, got ${describeValue(value)}`);
    else out[key] = value;
  }
  return out;
}

/**
 * Throws {@link ConfigError} for the first key of `given` not in `known`, naming it with
 * `field` as its parent and suggesting the closest known key.
 */
export function rejectUnknownKeys(field: string, given: Readonly<Record<string, unknown>>, known: readonly string[]): void {
  for (const key of Object.keys(given)) {
    if (known.includes(key)) continue;
    const hint = didYouMean(key, known);
    throw new ConfigError(`${field}.${key}`, `unknown option${hint ? `; did you mean ${hint}?` : ''} (the options of ${field} are ${known.join(', ')})`);
  }
}

const isSet = (given: unknown, key: string): boolean => isPlainObject(given) && given[key] !== undefined;

/**
 * Merges overrides onto the defaults and validates every field; throws {@link ConfigError}
 * naming the field. Cross-field rules fill an unset value from the one you set and fail only
 * when two values you set contradict each other (docs/api.md, "Rules between options"):
 * - `upgradeBudgetMs` < `upgradeTimeoutMs`: with only the timeout set, budget = min(1 000,
 *   ⌊timeout / 2⌋); with only the budget set, timeout = max(8 000, 2 × budget), at most 2^31−1.
 * - `cooldown.initialMs` ≤ `cooldown.maxMs`: unset cap = max(30 min, initial); unset initial =
 *   min(45 s, cap).
 */
export function resolvePolicy(options: PolicyOptions | undefined): RuntimePolicy {
  const defaults = { ...DEFAULT_POLICY, ...DEFAULT_STREAM_POLICY } as unknown as Record<string, unknown>;
  const resolved = resolveGroup('policy', '', defaults, options) as unknown as { -readonly [K in keyof RuntimePolicy]: RuntimePolicy[K] };
  const given = options as Record<string, unknown> | undefined;

  // upgradeBudgetMs < upgradeTimeoutMs.
  const budgetSet = isSet(given, 'upgradeBudgetMs');
  const timeoutSet = isSet(given, 'upgradeTimeoutMs');
  if (timeoutSet && !budgetSet) resolved.upgradeBudgetMs = Math.min(DEFAULT_POLICY.upgradeBudgetMs, Math.floor(resolved.upgradeTimeoutMs / 2));
  if (budgetSet && !timeoutSet) resolved.upgradeTimeoutMs = Math.min(MAX_TIMER_MS, Math.max(DEFAULT_POLICY.upgradeTimeoutMs, 2 * resolved.upgradeBudgetMs));
  if (resolved.upgradeBudgetMs >= resolved.upgradeTimeoutMs) {
    const because = budgetSet && timeoutSet ? ": a turn may wait for an upgrade in flight only part of the upgrade's deadline" : '';
    throw new ConfigError('policy.upgradeBudgetMs', `expected less than policy.upgradeTimeoutMs (${resolved.upgradeTimeoutMs}), got ${resolved.upgradeBudgetMs}${because}`);
  }

  // cooldown.initialMs ≤ cooldown.maxMs.
  const cooldown = resolved.cooldown as { -readonly [K in keyof BackoffOptions]: BackoffOptions[K] };
  const givenCooldown = given?.['cooldown'];
  if (cooldown.maxMs < cooldown.initialMs) {
    const initialSet = isSet(givenCooldown, 'initialMs');
    const maxSet = isSet(givenCooldown, 'maxMs');
    if (initialSet && maxSet) {
      throw new ConfigError('policy.cooldown.maxMs', `expected at least policy.cooldown.initialMs (${cooldown.initialMs}), got ${cooldown.maxMs}`);
    }
    if (initialSet) cooldown.maxMs = cooldown.initialMs;
    else cooldown.initialMs = cooldown.maxMs;
  }
  return resolved;
}

/** The top-level options `createSessionManager` knows; a key added to its options type must be added here (the compiler says so). */
/** The options `createSessionManager` takes; src/manager.ts checks that it names every one. @internal */
export const MANAGER_OPTION_KEYS = {
  endpoints: true,
  policy: true,
  logger: true,
  store: true,
  inspect: true,
  clock: true,
  jitterSeed: true,
} as const;

const STORE_METHODS = { claimProbe: 'required', publishHealth: 'required', releaseProbe: 'optional', subscribe: 'optional', close: 'optional' } as const satisfies Record<keyof CoordinationStore, 'required' | 'optional'>;
const CLOCK_METHODS = { now: 'required', setTimeout: 'required', clearTimeout: 'required' } as const satisfies Record<keyof Clock, 'required'>;

/** Throws unless `value` has every required method of `methods` (and optional ones, when present, are functions). */
export function checkMethods(field: string, value: unknown, methods: Readonly<Record<string, 'required' | 'optional'>>, expected: string): void {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) {
    throw new ConfigError(field, `expected ${expected}, got ${describeValue(value)}`);
  }
  for (const [name, need] of Object.entries(methods)) {
    const member = (value as Record<string, unknown>)[name];
    if (member === undefined && need === 'optional') continue;
    if (typeof member !== 'function') throw new ConfigError(field, `expected ${expected}: ${name}() is ${member === undefined ? 'missing' : `not a function (${describeValue(member)})`}`);
  }
}

/**
 * Checks the options `createSessionManager` does not hand to a more specific check: unknown
 * top-level keys, `store`, `clock`, `inspect` and `jitterSeed`. (`endpoints`, `policy` and
 * `logger` have their own checks.) Throws {@link ConfigError} naming the field.
 */
export function checkManagerOptions(options: unknown): void {
  if (!isPlainObject(options)) throw new ConfigError('options', `expected an options object, got ${describeValue(options)}`);
  for (const key of Object.keys(options)) {
    if (key in MANAGER_OPTION_KEYS) continue;
    const hint = didYouMean(key, Object.keys(MANAGER_OPTION_KEYS));
    throw new ConfigError(key, `unknown option${hint ? `; did you mean ${hint}?` : ''} (createSessionManager takes ${Object.keys(MANAGER_OPTION_KEYS).join(', ')})`);
  }
  const { store, clock, inspect, jitterSeed } = options as Partial<Record<keyof typeof MANAGER_OPTION_KEYS, unknown>>;
  if (store !== undefined) checkMethods('store', store, STORE_METHODS, 'a CoordinationStore (memoryStore(), redisStore({ client }) or your own with claimProbe() and publishHealth())');
  if (clock !== undefined) {
    checkMethods('clock', clock, CLOCK_METHODS, 'a Clock with now(), setTimeout() and clearTimeout() (e.g. xstate\'s SimulatedClock)');
    const now: unknown = (clock as Clock).now();
    if (typeof now !== 'number' || !Number.isFinite(now)) throw new ConfigError('clock', `expected now() to return a finite number of ms, got ${describeValue(now)}`);
  }
  if (inspect !== undefined) checkInspect(inspect);
  if (jitterSeed !== undefined && !(typeof jitterSeed === 'number' && Number.isInteger(jitterSeed))) {
    throw new ConfigError('jitterSeed', `expected a whole number, got ${describeValue(jitterSeed)}`);
  }
}

function checkInspect(inspect: unknown): asserts inspect is Observer<InspectionEvent> | ((event: InspectionEvent) => void) {
  if (typeof inspect === 'function') return;
  const expected = 'a function (event) => void or an observer { next(event) }';
  if (!isPlainObject(inspect) && (typeof inspect !== 'object' || inspect === null)) throw new ConfigError('inspect', `expected ${expected}, got ${describeValue(inspect)}`);
  const observer = inspect as Record<string, unknown>;
  const members = (['next', 'error', 'complete'] as const).filter((name) => observer[name] !== undefined);
  if (typeof observer['next'] !== 'function') throw new ConfigError('inspect', `expected ${expected}: next() is ${observer['next'] === undefined ? 'missing' : 'not a function'}`);
  for (const name of members) if (typeof observer[name] !== 'function') throw new ConfigError(`inspect.${name}`, `expected a function, got ${describeValue(observer[name])}`);
}
