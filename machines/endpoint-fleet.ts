import { fleetFailuresOf } from './endpoint-claim.js';
import { atMsOf } from './endpoint-context.js';
import type { EndpointContext, FleetEvent, HealthReport } from './endpoint-types.js';

/**
 * Health shared with a gateway fleet: the reports this process publishes, and the rules by which
 * it takes the reports other processes published (`FLEET.HEALTH_CHANGED`, pushed by the store).
 * The rules are told in the JSDoc of that event and in docs/design.md; in short, newer evidence
 * wins, a window only ever grows, and a socket proven here outweighs another process's failure.
 */

/** The report this process publishes about its own change of health. */
export function healthReport(context: EndpointContext, event: { readonly type: string }, status: HealthReport['status']): HealthReport {
  const windowed = status === 'cooling-down' || status === 'unsupported';
  return {
    endpointKey: context.endpointKey,
    status,
    atMs: atMsOf(event) ?? context.evidenceAtMs ?? 0,
    untilMs: windowed ? context.cooldownUntilMs : undefined,
    consecutiveFailures: context.consecutiveFailures,
  };
}

/** The `healthy` report of a proof: made when the socket has stayed up `minUptimeMs`, with the streak forgiven. */
export function proofReport(context: EndpointContext): HealthReport {
  const atMs = (context.healthySinceMs ?? context.evidenceAtMs ?? 0) + context.policy.minUptimeMs;
  return { endpointKey: context.endpointKey, status: 'healthy', atMs, untilMs: undefined, consecutiveFailures: 0 };
}

/** The report of a FLEET.HEALTH_CHANGED event about this endpoint, else undefined. */
export function fleetReportOf(context: EndpointContext, event: { readonly type: string }): HealthReport | undefined {
  if (event.type !== 'FLEET.HEALTH_CHANGED') return undefined;
  const report = (event as FleetEvent).report;
  return report.endpointKey === context.endpointKey && Number.isFinite(report.atMs) ? report : undefined;
}

/** A fleet report with this status, newer than everything this process knows itself. */
export function fleetReportIsNewer(context: EndpointContext, event: { readonly type: string }, status?: HealthReport['status']): boolean {
  const report = fleetReportOf(context, event);
  if (!report || (status !== undefined && report.status !== status)) return false;
  return report.atMs > (context.evidenceAtMs ?? -Infinity);
}

/**
 * A fleet cooldown or latch to adopt: still ahead of the event, ending later than this process's
 * own window, and, while an unproven socket of this process is open, newer than that socket.
 */
export function fleetWindowToAdopt(context: EndpointContext, event: { readonly type: string }, status: 'cooling-down' | 'unsupported'): boolean {
  const report = fleetReportOf(context, event);
  if (report?.status !== status || report.untilMs === undefined || !Number.isFinite(report.untilMs)) return false;
  const ahead = report.untilMs > (event as FleetEvent).atMs && report.untilMs > (context.cooldownUntilMs ?? -Infinity);
  return ahead && (context.healthySinceMs === undefined || fleetReportIsNewer(context, event));
}

/** The fleet's window, adopted: it started when the event arrived, and the fleet's streak counts. */
export function fleetWindowAdopted(context: EndpointContext, event: FleetEvent): Partial<EndpointContext> {
  const report = event.report;
  return {
    cooldownStartedAtMs: event.atMs,
    cooldownUntilMs: report.untilMs,
    consecutiveFailures: Math.max(context.consecutiveFailures, fleetFailuresOf(report)),
    probeHolder: undefined,
    // The reporter's publish cleared the store's lease: nothing of ours is left to release.
    sharedLeaseUntilMs: undefined,
    healthySinceMs: undefined,
    evidenceAtMs: Math.max(context.evidenceAtMs ?? -Infinity, report.atMs),
  };
}

/** Another process proved the endpoint: no window, no streak, proven since its report. */
export function fleetRecoveryAdopted(event: FleetEvent): Partial<EndpointContext> {
  return {
    consecutiveFailures: 0,
    cooldownStartedAtMs: undefined,
    cooldownUntilMs: undefined,
    probeHolder: undefined,
    sharedLeaseUntilMs: undefined,
    healthySinceMs: event.report.atMs,
    evidenceAtMs: event.report.atMs,
  };
}
