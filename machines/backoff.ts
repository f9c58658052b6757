/**
 * Cooldown backoff for a failing endpoint.
 *
 * Exponential from `initialMs` to `maxMs`; the jitter only ever shortens a window by
 * at most `jitterRatio` of it, so the floor `nominal × (1 − jitterRatio)` grows with
 * every consecutive failure and a failing endpoint is never probed early. A
 * server's Retry-After is a lower bound, not a replacement.
 */
export interface BackoffOptions {
  /** First cooldown after a failure, in milliseconds. Default 45 000 (45 s). */
  readonly initialMs: number;
  /** Largest nominal cooldown, in milliseconds. Default 1 800 000 (30 min). */
  readonly maxMs: number;
  /** Growth per consecutive failure. Default 2. */
  readonly multiplier: number;
  /** Share of the nominal window the jitter may take off, from 0 to 0.5. Default 0.2. */
  readonly jitterRatio: number;
  /** Largest Retry-After honoured, in milliseconds, so a bad header cannot park an endpoint for days. Default 21 600 000 (6 h). */
  readonly retryAfterCapMs: number;
}

/** The nominal (un-jittered) cooldown after `consecutiveFailures` (≥ 1) failures. */
export function nominalCooldownMs(options: BackoffOptions, consecutiveFailures: number): number {
  const exponent = Math.max(0, consecutiveFailures - 1);
  // A long streak overflows to Infinity, which min() turns into maxMs: no cap on the exponent needed.
  const grown = options.initialMs * Math.pow(options.multiplier, exponent);
  return Math.min(options.maxMs, grown);
}

/** The shortest cooldown jitter may produce after `consecutiveFailures` failures. */
export function cooldownFloorMs(options: BackoffOptions, consecutiveFailures: number): number {
  return Math.ceil(nominalCooldownMs(options, consecutiveFailures) * (1 - options.jitterRatio));
}

/**
 * The cooldown to apply: a point between the floor and the nominal window picked by
 * `unitRandom` (in [0, 1)), raised to Retry-After (capped by `retryAfterCapMs`) when given.
 */
export function cooldownMs(
  options: BackoffOptions,
  consecutiveFailures: number,
  unitRandom: number,
  retryAfterMs?: number,
): number {
  const nominal = nominalCooldownMs(options, consecutiveFailures);
  const jittered = Math.ceil(nominal * (1 - options.jitterRatio * unitRandom));
  // A NaN or infinite Retry-After must neither disable the cooldown nor park the endpoint for ever.
  const serverFloor = retryAfterMs === undefined || !Number.isFinite(retryAfterMs) ? 0 : Math.min(Math.max(0, retryAfterMs), options.retryAfterCapMs);
  return Math.max(jittered, serverFloor);
}
