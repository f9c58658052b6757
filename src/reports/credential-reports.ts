import type { CredentialEmitted } from '../../machines/credential.js';
import { humanDuration } from '../logging.js';
import type { ReportOutlet } from './report-outlet.js';

/**
 * Turns what the credential chart emits into the log lines operators read and the manager's
 * `reauth-required` event: one line per change of a credential's state, never one per turn.
 * The lines' text, levels and fields are documented in docs/api.md.
 */

/**
 * Reports one event the credential chart emitted. `credential.changed` is for sessions, not
 * operators: nothing is logged for it.
 * @param id the id the manager watches the chart under (the credential's name)
 * @param emitted the chart's event
 * @param out where events and log lines go
 */
export function reportCredentialEvent(id: string, emitted: CredentialEmitted, out: ReportOutlet): void {
  switch (emitted.type) {
    case 'reauth.required':
      // Error level: nothing recovers by itself, a person must sign in again.
      out.logger.error({ credentialId: id }, `credentials ${id}: ${emitted.summary}`);
      out.emit('reauth-required', { credentialId: id, summary: emitted.summary });
      return;
    case 'refresh.retrying':
      out.logger.warn({ credentialId: id, retryInMs: emitted.retryInMs }, `credentials ${id}: ${emitted.summary}; retrying in ${humanDuration(emitted.retryInMs)}`);
      return;
    case 'refresh.started':
      out.logger.debug({ credentialId: id }, `credentials ${id}: refreshing`);
      return;
    case 'credential.changed':
      return;
  }
}
