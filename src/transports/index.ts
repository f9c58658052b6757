/** Transports: one model turn over a WebSocket or over HTTP/SSE, reporting failures as `Outcome`s. */
export { TransportError, isTransportError, redactUrl, retryHint } from './transport-error.js';
export type { ProviderEvent, ProviderProtocol, TurnSend } from './provider.js';
export { openAIResponses, createOpenAIResponses, type OpenAIResponsesOptions } from './openai-responses.js';
export {
  openWebSocket,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_PING_INTERVAL_MS,
  type OpenWebSocketOptions,
  type WebSocketConnection,
  type WebSocketTurnOptions,
} from './websocket.js';
export { streamHttp, STREAM_EOF_CODE, DEFAULT_MAX_EVENT_CHARS, type StreamHttpOptions } from './http-sse.js';
