import type { BackoffOptions } from './backoff.js';

/**
 * Everything the charts need to decide, in milliseconds. Defaults and the reason for
 * each are in {@link DEFAULT_POLICY}; docs/design.md explains them at length.
 */
export interface Policy {
  /** Cooldown backoff of a failing endpoint. */
  readonly cooldown: BackoffOptions;
  /** Longest an upgrade may take before it counts as failed, in ms. Default 8 000. */
  readonly upgradeTimeoutMs: number;
  /** Longest a turn waits for an upgrade in flight before it goes over HTTP, in ms. Default 1 000. */
  readonly upgradeBudgetMs: number;
  /** How long a socket must stay open before the endpoint's failure streak is forgiven, in ms. Default 15 000. */
  readonly minUptimeMs: number;
  /** How long an endpoint that refused WebSocket (426, 404, 403, …) stays latched to HTTP, in ms. Default 21 600 000 (6 h). */
  readonly unsupportedTtlMs: number;
  /**
   * Longest an open socket may stay silent after a turn was sent before the turn moves to HTTP,
   * in ms (the socket is then closed and counted as lost). Default 5 000. The turn's deadline on
   * the socket is the smaller of this and `firstEventTimeoutMs`.
   */
  readonly webSocketFirstEventTimeoutMs: number;
}

/**
 * Defaults, chosen from what peers do and where they fall short (docs/design.md, "Defaults and why", carries the figures):
 * - `upgradeTimeoutMs` 8 s: the official CLI waits 15 s per attempt, which is how a tiny turn took 118 s;
 *   a healthy upgrade is one round trip plus TLS, well under a second.
 * - `upgradeBudgetMs` 1 s: a turn never waits longer than this for a socket; past it, HTTP.
 * - cooldown 45 s doubling to 30 min with 20 % downward jitter: the incident's peers probed every
 *   30-60 s forever; gRPC caps at 120 s, which is still 720 probes a day. At 30 min an endpoint
 *   that never heals sees about 60 probes a day, whatever the number of sessions.
 * - `minUptimeMs` 15 s: a socket that opens and dies at once must not reset the backoff (phoenix.js flaps).
 * - `unsupportedTtlMs` 6 h: a refusal to upgrade only changes with a deploy or a config change.
 * - `webSocketFirstEventTimeoutMs` 5 s: an upstream answers a turn on a socket with
 *   `response.created` at once; a socket silent for 5 s is broken, and HTTP gets the turn.
 */
export const DEFAULT_POLICY: Policy = {
  cooldown: { initialMs: 45_000, maxMs: 1_800_000, multiplier: 2, jitterRatio: 0.2, retryAfterCapMs: 21_600_000 },
  upgradeTimeoutMs: 8_000,
  upgradeBudgetMs: 1_000,
  minUptimeMs: 15_000,
  unsupportedTtlMs: 21_600_000,
  webSocketFirstEventTimeoutMs: 5_000,
};
