import { atMsOf, remember } from './endpoint-context.js';
import type {
  ClaimInput,
  DenyReason,
  EndpointContext,
  EndpointReply,
  PendingProbe,
  ProbeClaim,
  SharedProbeRelease,
} from './endpoint-types.js';
import type { Policy } from './policy.js';

/**
 * The probe protocol in one place: how long a probe lease lasts, what a session that is denied
 * is told, and how a claim to the shared store (gateway fleets) ends: granted, refused, the store
 * unreachable, or silent. Pure functions; the chart's actions send the replies and apply the updates.
 */

/** Extra time a probe lease lasts beyond the upgrade timeout, so a slow report is not mistaken for a lost one. */
export const PROBE_LEASE_MARGIN_MS = 2_000;

/** How long a probe lease lasts if its holder never reports: `upgradeTimeoutMs` + {@link PROBE_LEASE_MARGIN_MS}, in ms. */
export function probeLeaseMs(policy: Policy): number {
  return policy.upgradeTimeoutMs + PROBE_LEASE_MARGIN_MS;
}

/** End of a lease taken at `atMs`, in ms. The only place the lease's end is computed. */
export function leaseEndMs(atMs: number, policy: Policy): number {
  return atMs + probeLeaseMs(policy);
}

/** What the `claimProbe` actor is asked: the lease for the session that asked first. */
export function claimInputOf(context: EndpointContext): ClaimInput {
  return { endpointKey: context.endpointKey, atMs: context.pendingProbe?.atMs ?? 0, leaseMs: probeLeaseMs(context.policy) };
}

/**
 * When a session denied for `reason` at `askedAtMs` may expect a different answer, in ms: a
 * probe's lease end, the end of the unproven stretch, or the window's end.
 */
export function deniedUntilMs(context: EndpointContext, reason: DenyReason, askedAtMs: number): number {
  switch (reason) {
    case 'probe-in-flight':
      return leaseEndMs(askedAtMs, context.policy);
    case 'unproven':
      return (context.healthySinceMs ?? askedAtMs) + context.policy.minUptimeMs;
    default:
      return context.cooldownUntilMs ?? leaseEndMs(askedAtMs, context.policy);
  }
}

/** The denial a session gets for `reason`. */
export function denial(context: EndpointContext, reason: DenyReason, askedAtMs: number): EndpointReply {
  return { type: 'ENDPOINT.DENIED', untilMs: deniedUntilMs(context, reason, askedAtMs), reason };
}

/** The fleet's failure streak a claim (or report) carried; anything that is not a count ≥ 0 counts as none. */
export function fleetFailuresOf(claim: { readonly consecutiveFailures?: number }): number {
  const count = claim.consecutiveFailures;
  return typeof count === 'number' && Number.isFinite(count) && count > 0 ? Math.floor(count) : 0;
}

/** How a claim ended: what the waiting session is told, and what the chart remembers. */
export interface ClaimSettlement {
  readonly reply: EndpointReply;
  readonly update: Partial<EndpointContext>;
}

/** How the claim ended, as the chart saw it. */
export type ClaimEnd =
  | { readonly by: 'store'; readonly claim: ProbeClaim }
  /** The store failed to answer (rejected): treated as "wait one lease", never as "go". */
  | { readonly by: 'unreachable' }
  /** The store did not answer within a lease: wait another lease, neither forever nor blindly. */
  | { readonly by: 'silence' };

/** The settlement of the pending session's claim. */
export function settleClaim(context: EndpointContext, pending: PendingProbe, end: ClaimEnd): ClaimSettlement {
  const policy = context.policy;
  if (end.by === 'store' && end.claim.granted) {
    return {
      reply: { type: 'ENDPOINT.GRANTED' },
      update: {
        // Back off from the fleet's streak: if this probe fails, the next window grows from it.
        consecutiveFailures: Math.max(context.consecutiveFailures, fleetFailuresOf(end.claim)),
        probeHolder: pending.sessionId,
        sharedLeaseUntilMs: leaseEndMs(pending.atMs, policy),
        pendingProbe: undefined,
        probesGranted: context.probesGranted + 1,
        history: remember(context.history, { atMs: pending.atMs, sessionId: pending.sessionId, result: 'granted' }),
      },
    };
  }
  if (end.by === 'store' && !end.claim.granted) {
    const claim = end.claim;
    return {
      reply: { type: 'ENDPOINT.DENIED', untilMs: claim.untilMs, reason: claim.reason },
      update: {
        consecutiveFailures: Math.max(context.consecutiveFailures, fleetFailuresOf(claim)),
        pendingProbe: undefined,
        cooldownStartedAtMs: pending.atMs,
        cooldownUntilMs: Math.max(claim.untilMs, pending.atMs),
      },
    };
  }
  // Unreachable: wait one lease from the claim. Silent: the lease has passed; wait one more.
  const startedAtMs = end.by === 'unreachable' ? pending.atMs : leaseEndMs(pending.atMs, policy);
  const untilMs = leaseEndMs(startedAtMs, policy);
  return {
    reply: { type: 'ENDPOINT.DENIED', untilMs, reason: 'probe-in-flight' },
    update: { pendingProbe: undefined, cooldownStartedAtMs: startedAtMs, cooldownUntilMs: untilMs },
  };
}

/** What the chart hands `releaseSharedProbe` when it gives the probe back without a report. */
export function sharedProbeRelease(context: EndpointContext, event: { readonly type: string }): SharedProbeRelease {
  const leaseUntilMs = context.sharedLeaseUntilMs;
  return { endpointKey: context.endpointKey, atMs: atMsOf(event) ?? leaseUntilMs ?? 0, leaseUntilMs };
}

/** The probe given back (PROBE_RELEASED, a failure that says nothing about the endpoint, or the lease timer). */
export function probeReleased(context: EndpointContext, event: { readonly type: string }): Partial<EndpointContext> {
  const atMs = atMsOf(event);
  const sessionId = 'sessionId' in event && typeof event.sessionId === 'string' ? event.sessionId : undefined;
  return {
    probeHolder: undefined,
    sharedLeaseUntilMs: undefined,
    history: sessionId !== undefined && atMs !== undefined ? remember(context.history, { atMs, sessionId, result: 'released' }) : context.history,
  };
}
