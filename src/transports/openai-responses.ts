import type { Outcome } from '../../machines/outcome.js';
import type { ProviderEvent, ProviderProtocol, TurnSend } from './provider.js';
import { TransportError } from './transport-error.js';

/**
 * Whether an event type ends the turn: after these the OpenAI Responses API sends nothing more.
 * Called on every event: a `switch` rejects a delta's type on its length, where `Set.has` hashes
 * each freshly parsed string (45 µs per 1,000 events on this machine, 4 % of a loopback turn).
 */
function isTerminalType(type: string): boolean {
  switch (type) {
    case 'response.completed':
    case 'response.failed':
    case 'response.incomplete':
    // The WebSocket variant some clients (the OpenAI coding CLI's) speak ends a response with it.
    case 'response.done':
    case 'error':
      return true;
    default:
      return false;
  }
}

/** Events that only say a response started; held back until the first content event. */
const PREAMBLE_EVENT_TYPES: ReadonlySet<string> = new Set(['response.created', 'response.in_progress', 'response.queued']);

/** Options of {@link createOpenAIResponses}. */
export interface OpenAIResponsesOptions {
  /**
   * A request header that carries the turn's identity, `<turnId>;attempt=<n>` (e.g.
   * `x-turn-id: s1#3;attempt=2`), so an upstream or a proxy can de-duplicate the one resend a
   * turn may make over HTTP. On the WebSocket the same value goes into the frame's
   * `metadata[<header>]`, since a frame has no headers. Default: none (nothing added).
   */
  readonly turnHeader?: string;
}

/**
 * The OpenAI Responses streaming protocol.
 *
 * WebSocket: each turn is one `{"type":"response.create", ...body}` text frame;
 * the server answers with one JSON text frame per event. HTTP: `POST` the body
 * with `stream: true` and read Server-Sent Events whose data is the same JSON.
 */
export const openAIResponses: ProviderProtocol = createOpenAIResponses();

/**
 * The OpenAI Responses protocol with options (see {@link OpenAIResponsesOptions});
 * `createOpenAIResponses()` is {@link openAIResponses}.
 */
export function createOpenAIResponses(options: OpenAIResponsesOptions = {}): ProviderProtocol {
  const header = options.turnHeader?.toLowerCase();
  const identity = (send: TurnSend | undefined): string | undefined => (header && send ? `${send.turnId};attempt=${send.attempt}` : undefined);
  return {
    name: 'openai-responses',

    webSocketFrame(body, send) {
      // `stream` is an HTTP-only switch; the socket always streams and the server rejects unknown fields.
      const { stream: _stream, ...rest } = body;
      const id = identity(send);
      if (id !== undefined && header !== undefined) {
        const metadata = typeof rest['metadata'] === 'object' && rest['metadata'] !== null ? (rest['metadata'] as Record<string, unknown>) : {};
        rest['metadata'] = { ...metadata, [header]: id };
      }
      return JSON.stringify({ type: 'response.create', ...rest });
    },

    httpRequest(body, send) {
      const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
      const id = identity(send);
      if (id !== undefined && header !== undefined) headers[header] = id;
      return { body: JSON.stringify({ ...body, stream: true }), headers };
    },

    parseWebSocketMessage(data) {
      return decodeEvent(data, 'WebSocket frame');
    },

    parseSseEvent(event) {
      const data = event.data;
      if (data === '' || data === '[DONE]') return undefined;
      // Some servers name the event only in the `event:` field; the JSON then has no `type`.
      return decodeEvent(data, 'SSE event', event.event);
    },

    isTerminal(event) {
      return isTerminalType(event.type);
    },

    isPreamble(event) {
      return PREAMBLE_EVENT_TYPES.has(event.type);
    },

    providerErrorOutcome(event) {
      if (event.type === 'error' || event.type === 'response.failed') return providerError(event);
      // `response.done` carries the response's final status: only a failed one is an error.
      if (event.type === 'response.done' && asRecord(event['response'])?.['status'] === 'failed') return providerError(event);
      return undefined;
    },
  };
}

/**
 * JSON-decode one event. The detail never quotes the payload: it may be large
 * and is model output, which does not belong in error logs.
 */
function decodeEvent(data: string, what: string, fallbackType?: string): ProviderEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data);
  } catch {
    throw protocolError(`${what} is not valid JSON (${data.length} chars)`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw protocolError(`${what} is not a JSON object`);
  }
  const record = parsed as { type?: unknown };
  if (typeof record.type !== 'string') {
    if (fallbackType !== undefined && fallbackType !== '') record.type = fallbackType;
    else throw protocolError(`${what} has no string "type" field`);
  }
  return parsed as ProviderEvent;
}

function protocolError(detail: string): TransportError {
  return new TransportError({ kind: 'protocol', detail }, `OpenAI Responses protocol error: ${detail}`);
}

/**
 * The error code sits in different places depending on the event:
 * `error.code` on WebSocket `error` events, top-level `code` on SSE `error`
 * events, `response.error.code` on `response.failed`.
 */
function providerError(event: ProviderEvent): Outcome {
  const nested = asRecord(event['error']);
  const response = asRecord(event['response']);
  const responseError = asRecord(response?.['error']);
  const code = firstString(nested?.['code'], event['code'], responseError?.['code'], nested?.['type']);
  const message = firstString(nested?.['message'], event['message'], responseError?.['message']);
  const status = typeof event['status'] === 'number' ? event['status'] : undefined;
  // Upstream text: the session scrubs and bounds code and message before they reach a Failure.
  return {
    kind: 'provider-error',
    ...(code === undefined ? {} : { code }),
    ...(status === undefined ? {} : { status }),
    ...(message === undefined ? {} : { message }),
  };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

function firstString(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === 'string' && value !== '') return value;
  return undefined;
}
