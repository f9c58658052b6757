import type { SessionEmitted } from '../../machines/session-types.js';
import type { ReportOutlet } from './report-outlet.js';

/**
 * Turns what a session chart emits into the manager's `upgrade`, `fallback` and `recovered`
 * events. The chart decides when each happens (once per stay on HTTP, never for a release
 * mid-upgrade); this only names the session and endpoint.
 */
export function reportSessionEvent(emitted: SessionEmitted, session: { readonly id: string; readonly endpointKey: string }, sink: ReportOutlet): void {
  const base = { sessionId: session.id, endpointKey: session.endpointKey };
  switch (emitted.type) {
    case 'session.upgrade':
      sink.emit('upgrade', { ...base, result: emitted.result, atMs: emitted.atMs, startedAtMs: emitted.startedAtMs, ...(emitted.failure ? { failure: emitted.failure } : {}) });
      return;
    case 'session.fallback':
      sink.emit('fallback', { ...base, reason: emitted.reason, retryAtMs: emitted.retryAtMs, ...(emitted.failure ? { failure: emitted.failure } : {}) });
      sink.logger.debug({ ...base, reason: emitted.reason, retryAtMs: emitted.retryAtMs }, 'session turns go over HTTP');
      return;
    case 'session.recovered':
      sink.emit('recovered', { actor: 'session', id: session.id, endpointKey: session.endpointKey, downForMs: emitted.downForMs });
      return;
  }
}
