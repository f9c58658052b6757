/**
 * What a transport saw, before anyone decided what it means.
 *
 * Transports in `src/transports/` report one of these; the classifier
 * (`classify.ts`) turns it into a {@link Failure}; the charts decide what to do.
 * Every variant is plain data (serializable) and carries no token or secret:
 * headers are filtered to {@link RELEVANT_HEADERS} before they get here.
 */
export type Outcome =
  /** The WebSocket upgrade was answered with a status other than 101. */
  | { readonly kind: 'upgrade-rejected'; readonly status: number; readonly headers: Readonly<Record<string, string>> }
  /** The HTTP streaming request was answered with a non-2xx status. */
  | { readonly kind: 'http-rejected'; readonly status: number; readonly headers: Readonly<Record<string, string>> }
  /** A socket-level error (`ECONNRESET`, `ECONNREFUSED`, `ENOTFOUND`, `EAI_AGAIN`, `EPIPE`, …). */
  | { readonly kind: 'network'; readonly code: string; readonly phase: OutcomePhase }
  /** A deadline passed: the upgrade, the first event of a turn, or the gap between two events. */
  | { readonly kind: 'timeout'; readonly phase: 'upgrade' | 'first-event' | 'idle' }
  /** The WebSocket closed. `code` 1006 means no close frame arrived (a local observation). */
  | { readonly kind: 'closed'; readonly code: number; readonly afterFirstEvent: boolean }
  /**
   * The provider sent an error event inside an otherwise healthy stream. `code` and `message`
   * are upstream text: the runtime scrubs and bounds them before they get here.
   */
  | { readonly kind: 'provider-error'; readonly code?: string; readonly status?: number; readonly message?: string }
  /** The request body could not be encoded (a circular reference, a BigInt, a throwing toJSON). */
  | { readonly kind: 'request-invalid'; readonly detail: string }
  /** The credential source could not hand out a token (it threw); nothing was sent. */
  | { readonly kind: 'credentials-unavailable'; readonly detail: string }
  /** The upstream sent something the protocol cannot parse. */
  | { readonly kind: 'protocol'; readonly detail: string }
  /** The caller aborted the turn through its AbortSignal. */
  | { readonly kind: 'aborted' };

/** Where in the life of a request a network error happened. */
export type OutcomePhase = 'upgrade' | 'request' | 'stream';

/**
 * Response headers that carry meaning for the policy. Transports keep only
 * these (lower-cased), so no cookie or auth header can leak into an event.
 */
export const RELEVANT_HEADERS = ['retry-after', 'retry-after-ms', 'x-request-id', 'upgrade', 'www-authenticate'] as const;

/** Keep only {@link RELEVANT_HEADERS} from a header bag, lower-casing names and joining repeated values. */
export function pickRelevantHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (value === undefined || !(RELEVANT_HEADERS as readonly string[]).includes(lower)) continue;
    picked[lower] = Array.isArray(value) ? value.join(', ') : value;
  }
  return picked;
}
