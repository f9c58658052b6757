import type { Outcome } from '../../machines/outcome.js';
import type { ProviderEvent, ProviderProtocol } from './provider.js';
import { TransportError } from './transport-error.js';

/** Events after which the OpenAI Responses API sends nothing more for the turn. */
const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set([
  'response.completed',
  'response.failed',
  'response.incomplete',
  'error',
]);

/**
 * The OpenAI Responses streaming protocol.
 *
 * WebSocket: each turn is one `{"type":"response.create", ...body}` text frame;
 * the server answers with one JSON text frame per event. HTTP: `POST` the body
 * with `stream: true` and read Server-Sent Events whose data is the same JSON.
 */
export const openAIResponses: ProviderProtocol = {
  name: 'openai-responses',

  webSocketFrame(body) {
    // `stream` is an HTTP-only switch; the socket always streams and the server rejects unknown fields.
    const { stream: _stream, ...rest } = body;
    return JSON.stringify({ type: 'response.create', ...rest });
  },

  httpRequest(body) {
    return {
      body: JSON.stringify({ ...body, stream: true }),
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    };
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
    return TERMINAL_EVENT_TYPES.has(event.type);
  },

  providerErrorOutcome(event) {
    if (event.type !== 'error' && event.type !== 'response.failed') return undefined;
    return providerError(event);
  },
};

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
  const code = firstString(nested?.['code'], event['code'], asRecord(response?.['error'])?.['code'], nested?.['type']);
  const status = typeof event['status'] === 'number' ? event['status'] : undefined;
  return {
    kind: 'provider-error',
    ...(code === undefined ? {} : { code }),
    ...(status === undefined ? {} : { status }),
  };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
}

function firstString(...values: unknown[]): string | undefined {
  for (const value of values) if (typeof value === 'string' && value !== '') return value;
  return undefined;
}
