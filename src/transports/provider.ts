import type { Outcome } from '../../machines/outcome.js';

/**
 * One event of a model turn as the provider sent it, already JSON-decoded.
 * Transports only look at `type` (through {@link ProviderProtocol.isTerminal});
 * everything else is passed through untouched.
 */
export type ProviderEvent = { type: string; [key: string]: unknown };

/** Which send of which turn a request is: the identity an upstream can de-duplicate on. */
export interface TurnSend {
  /** The turn id, `<sessionId>#<n>`, the same on every attempt of the turn. */
  readonly turnId: string;
  /** 1 for the first send, 2 for the one resend (over HTTP, or after a refresh). */
  readonly attempt: number;
}

/**
 * Everything a transport needs to know about one provider's wire format.
 *
 * The transports (`websocket.ts`, `http-sse.ts`) are provider-agnostic; adding a
 * provider means writing one object that implements this interface, nothing else.
 * Implementations must be stateless so one instance can serve every connection.
 */
export interface ProviderProtocol {
  /** Short stable identifier, used in logs and metrics (e.g. `openai-responses`). */
  readonly name: string;

  /**
   * The text frame to send on the WebSocket to start one turn with this request body.
   * `send` names the turn and the attempt, so an upstream can de-duplicate a retried request.
   * @throws when the body cannot be encoded (circular, BigInt): the turn fails as `request-fatal`
   */
  webSocketFrame(body: Record<string, unknown>, send?: TurnSend): string;

  /**
   * The POST body and protocol headers for one streamed HTTP turn (no auth header: the transport adds it).
   * @throws when the body cannot be encoded (circular, BigInt): the turn fails as `request-fatal`
   */
  httpRequest(body: Record<string, unknown>, send?: TurnSend): { body: string; headers: Record<string, string> };

  /**
   * Decode one WebSocket text frame.
   * @throws TransportError with outcome `{ kind: 'protocol' }` when the frame is not a valid event
   */
  parseWebSocketMessage(data: string): ProviderEvent;

  /**
   * Decode one SSE event. Returns `undefined` for events that carry no provider
   * event (the `[DONE]` sentinel, empty keep-alives).
   * @throws TransportError with outcome `{ kind: 'protocol' }` when the data is not a valid event
   */
  parseSseEvent(event: { event?: string; data: string }): ProviderEvent | undefined;

  /** True for the event that ends a turn (success or failure); the transport stops after yielding it. */
  isTerminal(event: ProviderEvent): boolean;

  /**
   * True for an event that only says the turn started (`response.created`, `response.in_progress`).
   * The session holds such events back until the first content event, so a provider error right
   * after them can still be retried over HTTP without the consumer seeing the start twice.
   * Optional: without it nothing is held back (and such a turn is never retried after an event).
   */
  isPreamble?(event: ProviderEvent): boolean;

  /**
   * The outcome for an event that reports a provider-side failure inside a
   * healthy stream, `undefined` for every other event. Transports yield such
   * events as-is; the caller decides what they mean.
   */
  providerErrorOutcome(event: ProviderEvent): Outcome | undefined;
}
