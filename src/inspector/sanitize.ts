import type { InspectionEvent } from 'xstate';

/** Keys whose values are never shown to an inspection observer, whatever they hold. */
const SECRET_KEY = /token|secret|password|authorization|cookie|api[-_]?key/i;

/**
 * Makes an inspection event safe for any observer: a plain JSON copy (actor refs become
 * `{ id }`), with values under secret-looking keys and every known token string replaced.
 * The charts hold no tokens by design; this is the second lock on the door.
 */
export function sanitizeInspectionEvent(event: InspectionEvent, secrets: readonly string[]): InspectionEvent {
  const json = JSON.stringify(event, (key, value: unknown) => {
    if (key !== '' && SECRET_KEY.test(key) && typeof value === 'string') return '[redacted]';
    if (typeof value === 'object' && value !== null && 'sessionId' in value && 'send' in value && typeof (value as { send: unknown }).send === 'function') {
      return { id: (value as { id?: string }).id };
    }
    return value;
  });
  let text = json ?? '{}';
  for (const secret of secrets) if (secret.length >= 6) text = text.split(secret).join('[redacted]');
  const clean = JSON.parse(text) as InspectionEvent;
  // Observers such as @statelyai/inspect key actors by sessionId; keep it intelligible.
  return clean;
}
