import { fc } from '@fast-check/vitest';
import { DEFAULT_POLICY, type Outcome, type Policy } from '../../../machines/index.js';

/**
 * The action language of the property tests: plain, readable records, so a shrunk
 * counterexample reads like a script. Indices (`s`, `pick`) are taken modulo what exists
 * when the action runs, so every shrunk sequence stays meaningful.
 */
export type UpgradeAnswer = (typeof UPGRADE_ANSWERS)[number];
export type TurnFailure = (typeof TURN_FAILURES)[number];
export type RefreshResult = 'ok' | 'transient 503' | 'reused';
export type TurnReport = 'first event' | 'completed' | 'cancelled' | `failed: ${TurnFailure}`;

export type Action =
  /** Session slot `s` requests a turn (skipped if a turn is already in progress there). */
  | { readonly do: 'turn'; readonly s: number }
  /** The `pick`-th upgrade in flight is answered (open, a status, a network error). */
  | { readonly do: 'answer'; readonly pick: number; readonly with: UpgradeAnswer }
  /** The `pick`-th open socket closes with `code`; the facade reports a WebSocket turn in progress as failed. */
  | { readonly do: 'close'; readonly pick: number; readonly code: 1000 | 1001 | 1006 | 1011 | 1013 }
  /** The facade reports on slot `s`'s streaming turn, or the caller cancels slot `s`'s turn. */
  | { readonly do: 'report'; readonly s: number; readonly what: TurnReport }
  /** Slot `s`'s session is released; a later action on the slot creates a fresh session. */
  | { readonly do: 'release'; readonly s: number }
  /** Simulated time moves on; timers fire at their due times. */
  | { readonly do: 'advance'; readonly ms: number }
  /** The refresh in flight, if any, settles. */
  | { readonly do: 'refresh'; readonly result: RefreshResult }
  /** src/auth saw a new token (a person signed in, another holder rotated it). */
  | { readonly do: 'credentials changed' };

export const UPGRADE_ANSWERS = [
  'open',
  'open',
  'open',
  'HTTP 500',
  'HTTP 502',
  'HTTP 503',
  'HTTP 503, Retry-After 30',
  'HTTP 503, Retry-After 100000',
  'HTTP 429',
  'HTTP 429, Retry-After 120',
  'HTTP 429, retry-after-ms 2500',
  'ECONNRESET',
  'ECONNREFUSED',
  'HTTP 426',
  'HTTP 404',
  'HTTP 401',
] as const;

/** Answers after which the endpoint must cool down (5xx, 429, network). Timeouts come from the clock. */
export const COOLDOWN_ANSWERS = UPGRADE_ANSWERS.filter(
  (a): a is Exclude<UpgradeAnswer, 'open' | 'HTTP 426' | 'HTTP 404' | 'HTTP 401'> =>
    a !== 'open' && a !== 'HTTP 426' && a !== 'HTTP 404' && a !== 'HTTP 401',
);

export const TURN_FAILURES = [
  'closed 1006',
  'closed 1011',
  'ECONNRESET',
  'first-event timeout',
  'HTTP 500',
  'HTTP 503',
  'HTTP 401',
  'HTTP 400',
  'HTTP 429',
  'provider server_error',
  'provider invalid_request',
  'aborted',
] as const;

export function upgradeOutcome(answer: Exclude<UpgradeAnswer, 'open'>): Outcome {
  if (answer === 'ECONNRESET' || answer === 'ECONNREFUSED') return { kind: 'network', code: answer, phase: 'upgrade' };
  const match = /^HTTP (\d+)(?:, (Retry-After|retry-after-ms) (\d+))?$/.exec(answer);
  if (!match) throw new Error(`unknown answer ${answer}`);
  const headers: Record<string, string> = {};
  if (match[2] !== undefined) headers[match[2].toLowerCase()] = match[3]!;
  return { kind: 'upgrade-rejected', status: Number(match[1]), headers };
}

export function turnFailureOutcome(failure: TurnFailure, firstEventSeen: boolean): Outcome {
  switch (failure) {
    case 'closed 1006':
      return { kind: 'closed', code: 1006, afterFirstEvent: firstEventSeen };
    case 'closed 1011':
      return { kind: 'closed', code: 1011, afterFirstEvent: firstEventSeen };
    case 'ECONNRESET':
      return { kind: 'network', code: 'ECONNRESET', phase: 'stream' };
    case 'first-event timeout':
      return { kind: 'timeout', phase: 'first-event' };
    case 'provider server_error':
      return { kind: 'provider-error', code: 'server_error' };
    case 'provider invalid_request':
      return { kind: 'provider-error', code: 'invalid_request_error' };
    case 'aborted':
      return { kind: 'aborted' };
    default:
      return { kind: 'http-rejected', status: Number(failure.slice(5)), headers: {} };
  }
}

/** A small policy: short cooldowns so many windows fit in a run, TTL short enough to expire. */
export const SMALL_POLICY: Policy = {
  cooldown: { initialMs: 1_000, maxMs: 60_000, multiplier: 2, jitterRatio: 0.2, retryAfterCapMs: 120_000 },
  upgradeTimeoutMs: 8_000,
  upgradeBudgetMs: 1_000,
  minUptimeMs: 15_000,
  unsupportedTtlMs: 600_000,
  webSocketFirstEventTimeoutMs: 5_000,
};

export const POLICIES = { small: SMALL_POLICY, default: DEFAULT_POLICY } as const;
export const policyArb = fc.constantFrom<keyof typeof POLICIES>('small', 'default');

/** Clock advances from 0 ms to hours, weighted towards the scales the policies use. */
export const advanceArb: fc.Arbitrary<Action> = fc
  .oneof(
    { weight: 2, arbitrary: fc.constant(0) },
    { weight: 3, arbitrary: fc.integer({ min: 1, max: 999 }) },
    { weight: 4, arbitrary: fc.integer({ min: 1_000, max: 20_000 }) },
    { weight: 2, arbitrary: fc.integer({ min: 20_000, max: 300_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 300_000, max: 4 * 3_600_000 }) },
  )
  .map((ms) => ({ do: 'advance', ms }) as const);

const slot = fc.nat({ max: 19 });

export interface ActionWeights {
  readonly turn?: number;
  readonly answer?: number;
  readonly close?: number;
  readonly report?: number;
  readonly release?: number;
  readonly advance?: number;
  readonly refresh?: number;
  readonly changed?: number;
}

/** Any action, with optional weights and a restricted set of upgrade answers. */
export function actionArb(options: { weights?: ActionWeights; answers?: readonly UpgradeAnswer[]; failures?: readonly TurnFailure[] } = {}): fc.Arbitrary<Action> {
  const w = { turn: 6, answer: 5, close: 2, report: 5, release: 1, advance: 5, refresh: 1, changed: 0, ...options.weights };
  const answers = options.answers ?? UPGRADE_ANSWERS;
  const failures = options.failures ?? TURN_FAILURES;
  const reports: TurnReport[] = ['first event', 'completed', 'completed', 'cancelled', ...failures.map((f) => `failed: ${f}` as const)];
  const all: { weight: number; arbitrary: fc.Arbitrary<Action> }[] = [
    { weight: w.turn, arbitrary: slot.map((s) => ({ do: 'turn', s }) as const) },
    {
      weight: w.answer,
      arbitrary: fc.record({ do: fc.constant('answer' as const), pick: fc.nat({ max: 19 }), with: fc.constantFrom(...answers) }),
    },
    {
      weight: w.close,
      arbitrary: fc.record({
        do: fc.constant('close' as const),
        pick: fc.nat({ max: 19 }),
        code: fc.constantFrom(1000 as const, 1001 as const, 1006 as const, 1011 as const, 1013 as const),
      }),
    },
    { weight: w.report, arbitrary: fc.record({ do: fc.constant('report' as const), s: slot, what: fc.constantFrom(...reports) }) },
    { weight: w.release, arbitrary: slot.map((s) => ({ do: 'release', s }) as const) },
    { weight: w.advance, arbitrary: advanceArb },
    {
      weight: w.refresh,
      arbitrary: fc.constantFrom<RefreshResult>('ok', 'ok', 'transient 503', 'reused').map((result) => ({ do: 'refresh', result }) as const),
    },
    { weight: w.changed, arbitrary: fc.constant({ do: 'credentials changed' } as const) },
  ];
  return fc.oneof(...all.filter((a) => a.weight > 0));
}

/** Action sequences of up to `maxLength`, spread over the whole range (fast-check's default size stays near 10). */
export function actionsArb(maxLength: number, action: fc.Arbitrary<Action> = actionArb()): fc.Arbitrary<Action[]> {
  return fc.array(action, { minLength: 1, maxLength, size: 'max' });
}
