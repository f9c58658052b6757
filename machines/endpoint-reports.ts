import { atMsOf } from './endpoint-context.js';
import type { EndpointContext, EndpointEmitted, EndpointHealth, FailureEvent } from './endpoint-types.js';
import type { Failure } from './failure.js';

/**
 * What the endpoint chart announces when it enters a state of health: `health.changed` for
 * sessions, and for operators a cooldown or latch that begins, its end, and a recovery. Pure:
 * the chart's entry actions emit the events and keep the update, and src/reports/ turns them
 * into the manager's events and log lines. Announcing from the chart, not from watching its
 * state paths, keeps what operators read next to the decision it reports.
 */

/** The states whose entry the chart announces. */
export type AnnouncedState = 'probing' | 'healthy.settling' | 'healthy.stable' | 'coolingDown' | 'unsupported';

/** What an entry announces, and what the chart remembers of having announced it. */
export interface Announcement {
  readonly emitted: readonly EndpointEmitted[];
  readonly update: Partial<EndpointContext>;
}

const HEALTH_OF: Readonly<Record<AnnouncedState, EndpointHealth>> = {
  probing: 'probing',
  'healthy.settling': 'healthy',
  'healthy.stable': 'healthy',
  coolingDown: 'cooling-down',
  unsupported: 'unsupported',
};

/** The failure this process saw, when the entry is one (the store's refusal and the fleet's reports carry none). */
function localFailureOf(event: { readonly type: string }): Failure | undefined {
  return event.type === 'UPGRADE_FAILED' || event.type === 'CONNECTION_LOST' ? (event as FailureEvent).failure : undefined;
}

/** When the chart entered `state`: the event's `atMs`, else the due time of the chart's own timer that moved it. */
function enteredAtMs(context: EndpointContext, event: { readonly type: string }, state: AnnouncedState): number {
  const timed =
    state === 'probing'
      ? context.cooldownUntilMs // the window's timer
      : state === 'healthy.stable'
        ? context.healthySinceMs !== undefined
          ? context.healthySinceMs + context.policy.minUptimeMs // the proof's timer
          : undefined
        : state === 'healthy.settling'
          ? context.healthySinceMs
          : context.cooldownStartedAtMs; // a claim the store refused, or could not answer
  return atMsOf(event) ?? timed ?? context.evidenceAtMs ?? 0;
}

/** When `state` ends by itself, if known (see `HealthChanged.untilMs`). */
function untilMsOf(context: EndpointContext, state: AnnouncedState, atMs: number): number | undefined {
  if (state === 'coolingDown' || state === 'unsupported') return context.cooldownUntilMs;
  if (state === 'healthy.settling') return (context.healthySinceMs ?? atMs) + context.policy.minUptimeMs;
  return undefined;
}

/**
 * The announcement of entering `state` on `event`. The status is announced on every entry (a
 * re-entry means the window moved: the fleet extended it, or a RESET); what operators read only
 * when the status really changed, so a window the fleet extends is not logged again. Failures
 * suppressed during a window are reported once, by the first announcement after it.
 */
export function announcementOf(context: EndpointContext, event: { readonly type: string }, state: AnnouncedState): Announcement {
  // Starting is no change: nobody was told anything yet.
  if (event.type === 'xstate.init') return { emitted: [], update: {} };
  const atMs = enteredAtMs(context, event, state);
  const health = HEALTH_OF[state];
  const changed = health !== context.health;
  const suppressedFailures = changed ? context.suppressedFailures - context.reportedSuppressedFailures : 0;
  const base = { endpointKey: context.endpointKey, consecutiveFailures: context.consecutiveFailures };
  const failure = localFailureOf(event);
  const emitted: EndpointEmitted[] = [];
  let unhealthySinceMs = context.unhealthySinceMs;
  if (state === 'coolingDown' || state === 'unsupported') {
    unhealthySinceMs ??= atMs;
    const window = { startedAtMs: context.cooldownStartedAtMs ?? atMs, untilMs: context.cooldownUntilMs ?? atMs, ...(failure ? { failure } : {}) };
    if (changed && state === 'coolingDown') emitted.push({ type: 'cooldown.started', ...base, ...window, suppressedFailures });
    if (changed && state === 'unsupported') emitted.push({ type: 'http.latched', ...base, ...window });
  } else if (state === 'probing' && (context.health === 'cooling-down' || context.health === 'unsupported')) {
    emitted.push({ type: 'cooldown.ended', ...base, atMs });
  } else if (state === 'healthy.stable' && unhealthySinceMs !== undefined) {
    // Only a socket that stayed up minUptimeMs proves recovery: a flapping endpoint opens
    // sockets that die at once, and must not be declared working again every cycle.
    emitted.push({ type: 'endpoint.recovered', ...base, downForMs: atMs - unhealthySinceMs, suppressedFailures, atMs });
    unhealthySinceMs = undefined;
  }
  emitted.push({ type: 'health.changed', endpointKey: context.endpointKey, status: health, untilMs: untilMsOf(context, state, atMs), atMs });
  return {
    emitted,
    update: { health, unhealthySinceMs, reportedSuppressedFailures: changed ? context.suppressedFailures : context.reportedSuppressedFailures },
  };
}

/** Emits an announcement's events and keeps what the chart remembers of it, through an action's `enqueue`. */
export function announce(enqueue: { emit(event: EndpointEmitted): void; assign(update: Partial<EndpointContext>): void }, announcement: Announcement): void {
  for (const event of announcement.emitted) enqueue.emit(event);
  enqueue.assign(announcement.update);
}
