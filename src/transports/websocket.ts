import WebSocket from 'ws';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { pickRelevantHeaders } from '../../machines/outcome.js';
import { TransportError, redactUrl, retryHint } from './transport-error.js';
import { Connection, abortedError, type WebSocketConnection } from './websocket-connection.js';

export type { SocketEnd, WebSocketConnection } from './websocket-connection.js';
export type { WebSocketTurnOptions } from './websocket-turn.js';

/** Default for {@link OpenWebSocketOptions.maxPayloadBytes}: 16 MiB. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
/** Default for {@link OpenWebSocketOptions.pingIntervalMs}: 30 s. */
export const DEFAULT_PING_INTERVAL_MS = 30_000;
/** Default for {@link OpenWebSocketOptions.closeTimeoutMs}: 1 s. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 1_000;

/** How to open a socket; see {@link openWebSocket}. */
export interface OpenWebSocketOptions {
  /** `ws:` or `wss:` URL. Never printed with its query string. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`; never appears in errors. */
  token: string;
  /** Deadline for the whole handshake (TCP, TLS, HTTP upgrade). */
  upgradeTimeoutMs: number;
  /** Largest accepted message; bigger ones close the socket. Default 16 MiB. */
  maxPayloadBytes?: number;
  /** Client ping period; a ping unanswered by the next one ends the socket. `0` disables. Default 30 s. */
  pingIntervalMs?: number;
  /** How long a clean close waits for the server's close frame before dropping the TCP connection. Default 1 s. */
  closeTimeoutMs?: number;
  /** permessage-deflate; off by default because deltas are tiny and zlib costs CPU and memory per socket. */
  perMessageDeflate?: boolean;
  /** Extra handshake headers (the Authorization header is always ours). */
  headers?: Record<string, string>;
  /** Aborts the opening only; an open connection is governed by per-turn signals and `close()`. */
  signal?: AbortSignal;
}

/**
 * Open a WebSocket and resolve once the upgrade succeeded.
 *
 * Rejects with a {@link TransportError} whose outcome is `upgrade-rejected`
 * (non-101 answer, with Retry-After & co.), `network` (phase `upgrade`),
 * `timeout` (phase `upgrade`) or `aborted`. Nothing is left running on failure.
 */
export function openWebSocket(options: OpenWebSocketOptions): Promise<WebSocketConnection> {
  const target = redactUrl(options.url);
  const { signal, upgradeTimeoutMs } = options;
  if (signal?.aborted) return Promise.reject(abortedError(target));

  return new Promise((resolve, reject) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(options.url, {
        headers: { ...options.headers, authorization: `Bearer ${options.token}` },
        maxPayload: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
        perMessageDeflate: options.perMessageDeflate ?? false,
      });
    } catch {
      // ws's own message quotes the full URL, query string included, so it is not kept as the cause.
      reject(new TransportError({ kind: 'network', code: 'ERR_INVALID_URL', phase: 'upgrade' }, `WebSocket URL ${target} is invalid`));
      return;
    }

    let settled = false;
    const timer = setTimeout(() => {
      fail(
        new TransportError({ kind: 'timeout', phase: 'upgrade' }, `WebSocket upgrade to ${target} got no answer within ${upgradeTimeoutMs} ms`),
        true,
      );
    }, upgradeTimeoutMs);
    timer.unref();

    const onAbort = (): void => fail(abortedError(target), true);
    signal?.addEventListener('abort', onAbort, { once: true });

    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      ws.off('open', onOpen).off('unexpected-response', onUnexpectedResponse);
      return true;
    };
    const fail = (error: TransportError, terminate: boolean): void => {
      if (!settle()) return;
      // The connect-phase 'error' listener stays attached: terminate() emits one later and an unheard 'error' crashes Node.
      if (terminate) ws.terminate();
      reject(error);
    };

    const onOpen = (): void => {
      if (!settle()) return;
      ws.off('error', onConnectError);
      resolve(
        new Connection(ws, target, options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS, options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS),
      );
    };
    const onUnexpectedResponse = (req: ClientRequest, res: IncomingMessage): void => {
      const status = res.statusCode ?? 0;
      const headers = pickRelevantHeaders(res.headers);
      // Both calls are needed: with only req.destroy() the ws client never settles.
      req.destroy();
      fail(
        new TransportError({ kind: 'upgrade-rejected', status, headers }, `WebSocket upgrade to ${target} answered HTTP ${status}${retryHint(headers)}`),
        true,
      );
    };
    const onConnectError = (error: Error): void => {
      const code = (error as NodeJS.ErrnoException).code ?? 'UNKNOWN';
      fail(
        new TransportError({ kind: 'network', code, phase: 'upgrade' }, `WebSocket upgrade to ${target} failed: ${code}`, { cause: error }),
        false,
      );
    };

    ws.on('open', onOpen);
    ws.on('unexpected-response', onUnexpectedResponse);
    ws.on('error', onConnectError);
  });
}
