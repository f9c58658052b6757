import { DEFAULT_POLICY, type Policy } from '../machines/policy.js';
import type { BackoffOptions } from '../machines/backoff.js';
import { ConfigError } from './errors.js';

/** Policy overrides accepted by `createSessionManager`; every field is optional and in milliseconds. */
export interface PolicyOptions {
  /** Cooldown backoff of a failing endpoint. Defaults: 45 s doubling to 30 min, 20 % downward jitter. */
  cooldown?: Partial<BackoffOptions>;
  /** Longest an upgrade may take, in ms. Default 8 000. */
  upgradeTimeoutMs?: number;
  /** Longest a turn waits for an upgrade in flight before going over HTTP, in ms. Default 1 000. Must be below `upgradeTimeoutMs`. */
  upgradeBudgetMs?: number;
  /** Uptime after which a socket's endpoint is forgiven its failures, in ms. Default 15 000. */
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
}

/** The full policy the runtime uses: the charts' {@link Policy} plus stream deadlines. */
export interface RuntimePolicy extends Policy {
  readonly firstEventTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly pingIntervalMs: number;
}

/** Stream deadlines' defaults; see {@link PolicyOptions}. */
export const DEFAULT_STREAM_POLICY = { firstEventTimeoutMs: 60_000, idleTimeoutMs: 300_000, pingIntervalMs: 30_000 } as const;

function check(field: string, value: unknown, { min, integer = true }: { min: number; integer?: boolean }): number {
  if (typeof value !== 'number' || Number.isNaN(value) || !Number.isFinite(value)) {
    throw new ConfigError(field, `expected a finite number, got ${describe(value)}`);
  }
  if (integer && !Number.isInteger(value)) throw new ConfigError(field, `expected a whole number of milliseconds, got ${value}`);
  if (value < min) throw new ConfigError(field, `expected at least ${min}, got ${value}`);
  return value;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  return String(value);
}

/** Merges overrides onto the defaults and validates every field; throws {@link ConfigError} naming the field. */
export function resolvePolicy(options: PolicyOptions | undefined): RuntimePolicy {
  const o = options ?? {};
  if (typeof o !== 'object') throw new ConfigError('policy', `expected an object, got ${describe(o)}`);
  const c = { ...DEFAULT_POLICY.cooldown, ...(o.cooldown ?? {}) };
  const cooldown: BackoffOptions = {
    initialMs: check('policy.cooldown.initialMs', c.initialMs, { min: 1 }),
    maxMs: check('policy.cooldown.maxMs', c.maxMs, { min: 1 }),
    multiplier: check('policy.cooldown.multiplier', c.multiplier, { min: 1, integer: false }),
    jitterRatio: check('policy.cooldown.jitterRatio', c.jitterRatio, { min: 0, integer: false }),
    retryAfterCapMs: check('policy.cooldown.retryAfterCapMs', c.retryAfterCapMs, { min: 0 }),
  };
  if (cooldown.jitterRatio > 0.5) {
    throw new ConfigError('policy.cooldown.jitterRatio', `expected at most 0.5 (a probe is never sooner than half its window), got ${cooldown.jitterRatio}`);
  }
  if (cooldown.maxMs < cooldown.initialMs) {
    throw new ConfigError('policy.cooldown.maxMs', `expected at least policy.cooldown.initialMs (${cooldown.initialMs}), got ${cooldown.maxMs}`);
  }
  const upgradeTimeoutMs = check('policy.upgradeTimeoutMs', o.upgradeTimeoutMs ?? DEFAULT_POLICY.upgradeTimeoutMs, { min: 1 });
  const upgradeBudgetMs = check('policy.upgradeBudgetMs', o.upgradeBudgetMs ?? DEFAULT_POLICY.upgradeBudgetMs, { min: 0 });
  if (upgradeBudgetMs >= upgradeTimeoutMs) {
    throw new ConfigError('policy.upgradeBudgetMs', `expected less than policy.upgradeTimeoutMs (${upgradeTimeoutMs}), got ${upgradeBudgetMs}`);
  }
  return {
    cooldown,
    upgradeTimeoutMs,
    upgradeBudgetMs,
    minUptimeMs: check('policy.minUptimeMs', o.minUptimeMs ?? DEFAULT_POLICY.minUptimeMs, { min: 0 }),
    unsupportedTtlMs: check('policy.unsupportedTtlMs', o.unsupportedTtlMs ?? DEFAULT_POLICY.unsupportedTtlMs, { min: 1 }),
    webSocketFirstEventTimeoutMs: check('policy.webSocketFirstEventTimeoutMs', o.webSocketFirstEventTimeoutMs ?? DEFAULT_POLICY.webSocketFirstEventTimeoutMs, { min: 1 }),
    firstEventTimeoutMs: check('policy.firstEventTimeoutMs', o.firstEventTimeoutMs ?? DEFAULT_STREAM_POLICY.firstEventTimeoutMs, { min: 1 }),
    idleTimeoutMs: check('policy.idleTimeoutMs', o.idleTimeoutMs ?? DEFAULT_STREAM_POLICY.idleTimeoutMs, { min: 1 }),
    pingIntervalMs: check('policy.pingIntervalMs', o.pingIntervalMs ?? DEFAULT_STREAM_POLICY.pingIntervalMs, { min: 0 }),
  };
}
