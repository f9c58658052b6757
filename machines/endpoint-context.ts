import { cooldownMs } from './backoff.js';
import type { EndpointContext, EndpointInput, FailureEvent, ProbeRecord } from './endpoint-types.js';
import { PROBE_HISTORY_LENGTH } from './endpoint-types.js';
import { nextRandom } from './random.js';

/**
 * How the endpoint chart's context changes with what sessions report: pure functions from the
 * context (and the event) to the fields that change. The chart's actions only apply them.
 */

/** The context an endpoint chart starts with: nothing known, half-open. */
export function initialContext(input: EndpointInput): EndpointContext {
  return {
    endpointKey: input.endpointKey,
    policy: input.policy,
    sharedStore: input.sharedStore ?? false,
    consecutiveFailures: 0,
    cooldownStartedAtMs: undefined,
    cooldownUntilMs: undefined,
    lastFailure: undefined,
    probeHolder: undefined,
    sharedLeaseUntilMs: undefined,
    pendingProbe: undefined,
    jitterSeed: input.jitterSeed,
    suppressedFailures: 0,
    probesGranted: 0,
    history: [],
    healthySinceMs: undefined,
    unprovenSocketOf: undefined,
    evidenceAtMs: undefined,
    health: 'probing',
    unhealthySinceMs: undefined,
    reportedSuppressedFailures: 0,
  };
}

/** `atMs` of an event that carries one (every event but STOP and the chart's own timers). */
export function atMsOf(event: { readonly type: string }): number | undefined {
  return 'atMs' in event && typeof event.atMs === 'number' ? event.atMs : undefined;
}

/** The history with `record` appended, the oldest dropped beyond {@link PROBE_HISTORY_LENGTH}. */
export function remember(history: readonly ProbeRecord[], record: ProbeRecord): readonly ProbeRecord[] {
  const next = history.length >= PROBE_HISTORY_LENGTH ? history.slice(1) : history.slice();
  next.push(record);
  return next;
}

/** What every failure that starts a window records: when, which failure, and that no probe is out any more. */
function failed(context: EndpointContext, event: FailureEvent, untilMs: number): Partial<EndpointContext> {
  return {
    cooldownStartedAtMs: event.atMs,
    cooldownUntilMs: untilMs,
    lastFailure: event.failure,
    probeHolder: undefined,
    sharedLeaseUntilMs: undefined,
    healthySinceMs: undefined,
    unprovenSocketOf: undefined,
    evidenceAtMs: event.atMs,
    history: remember(context.history, { atMs: event.atMs, sessionId: event.sessionId, result: 'failed', failure: event.failure }),
  };
}

/** A cooldown one step further along the backoff, jittered from the chart's own seed, raised to Retry-After. */
export function cooldownAfter(context: EndpointContext, event: FailureEvent): Partial<EndpointContext> {
  const failures = context.consecutiveFailures + 1;
  const random = nextRandom(context.jitterSeed);
  const delayMs = cooldownMs(context.policy.cooldown, failures, random.value, event.failure.retryAfterMs);
  return { ...failed(context, event, event.atMs + delayMs), consecutiveFailures: failures, jitterSeed: random.seed };
}

/** HTTP latched for `unsupportedTtlMs`: a refusal to upgrade changes only with a deploy. */
export function latchAfter(context: EndpointContext, event: FailureEvent): Partial<EndpointContext> {
  return failed(context, event, event.atMs + context.policy.unsupportedTtlMs);
}

/** A socket opened at `atMs`: no window any more, and the endpoint is unproven until `atMs + minUptimeMs`. */
export function successAt(context: EndpointContext, sessionId: string, atMs: number): Partial<EndpointContext> {
  return {
    probeHolder: undefined,
    sharedLeaseUntilMs: undefined,
    cooldownStartedAtMs: undefined,
    cooldownUntilMs: undefined,
    healthySinceMs: atMs,
    unprovenSocketOf: sessionId,
    evidenceAtMs: atMs,
    history: remember(context.history, { atMs, sessionId, result: 'succeeded' }),
  };
}

/** What RESET (or the fleet's reset) forgets: the streak, the window, the probe and the claim. */
export function forgottenAt(atMs: number | undefined, context: EndpointContext): Partial<EndpointContext> {
  return {
    consecutiveFailures: 0,
    cooldownStartedAtMs: undefined,
    cooldownUntilMs: undefined,
    probeHolder: undefined,
    sharedLeaseUntilMs: undefined,
    pendingProbe: undefined,
    healthySinceMs: undefined,
    unprovenSocketOf: undefined,
    evidenceAtMs: atMs ?? context.evidenceAtMs,
  };
}
