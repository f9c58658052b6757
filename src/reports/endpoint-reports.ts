import type { EndpointEmitted } from '../../machines/endpoint.js';
import { humanDuration } from '../logging.js';
import type { ReportOutlet } from './report-outlet.js';

/**
 * Turns what the endpoint chart emits (machines/endpoint-reports.ts) into the log lines
 * operators read and the manager's `recovered` event. One line per change of an endpoint's
 * health, never one per turn: the chart already decided when something changed, so this file
 * only words it. The lines' text, levels and fields are documented in docs/api.md.
 */

/** " (3 more failures … counted, not logged)" when failures were suppressed since the last line that said so. */
function alsoSuppressed(count: number): string {
  return count > 0 ? ` (${count} more failure${count === 1 ? '' : 's'} of upgrades already in flight were counted, not logged)` : '';
}

/**
 * Reports one event the endpoint chart emitted: logs it and, for a recovery, emits `recovered`.
 * `health.changed` is for sessions, not operators: nothing is logged for it.
 * @param id the id the manager watches the chart under (the endpoint key)
 * @param emitted the chart's event
 * @param out where events and log lines go
 */
export function reportEndpointEvent(id: string, emitted: EndpointEmitted, out: ReportOutlet): void {
  const key = emitted.endpointKey;
  switch (emitted.type) {
    case 'cooldown.started': {
      const base = { endpointKey: key, consecutiveFailures: emitted.consecutiveFailures };
      const { failure, untilMs } = emitted;
      const cooldownMs = untilMs - emitted.startedAtMs;
      const nextProbe = `next probe in ${humanDuration(cooldownMs)} at ${new Date(untilMs).toISOString()}`;
      if (failure === undefined) {
        // No failure seen here: the shared store refused the claim (another process probes, or
        // its probe failed) or the fleet pushed its cooldown. Only the process that saw the
        // failure warns, so a fleet logs one warn line per failure, not one per process.
        out.logger.info(
          { ...base, cooldownMs, nextProbeAtMs: untilMs },
          `WebSocket to ${key}: another gateway process holds its probe or reported it failing; turns go over HTTP; ${nextProbe}`,
        );
        return;
      }
      out.logger.warn(
        { ...base, failureClass: failure.class, code: failure.code, cooldownMs, nextProbeAtMs: untilMs, suppressedFailures: emitted.suppressedFailures },
        `WebSocket to ${key} unavailable (${failure.summary}); turns go over HTTP; ${nextProbe}${alsoSuppressed(emitted.suppressedFailures)}`,
      );
      return;
    }
    case 'http.latched':
      out.logger.warn(
        { endpointKey: key, consecutiveFailures: emitted.consecutiveFailures, failureClass: 'unsupported', code: emitted.failure?.code, nextProbeAtMs: emitted.untilMs },
        `WebSocket refused by ${key} (${emitted.failure?.summary ?? 'unsupported'}); HTTP latched for ${humanDuration(emitted.untilMs - emitted.startedAtMs)}`,
      );
      return;
    case 'endpoint.recovered': {
      const { downForMs } = emitted;
      out.logger.info(
        { endpointKey: key, consecutiveFailures: emitted.consecutiveFailures, downForMs },
        `WebSocket to ${key} works again after ${humanDuration(downForMs)}${alsoSuppressed(emitted.suppressedFailures)}`,
      );
      out.emit('recovered', { actor: 'endpoint', id, endpointKey: key, downForMs });
      return;
    }
    case 'cooldown.ended':
      out.logger.debug({ endpointKey: key, consecutiveFailures: emitted.consecutiveFailures }, `cooldown of ${key} over: the next turn probes the WebSocket`);
      return;
    case 'health.changed':
      return;
  }
}
