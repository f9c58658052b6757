import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';
import { streamHttp } from '../transports/http-sse.js';
import { openAIResponses } from '../transports/openai-responses.js';
import type { ProviderEvent } from '../transports/provider.js';
import { isTransportError } from '../transports/transport-error.js';
import { openWebSocket, type WebSocketConnection } from '../transports/websocket.js';

/** Where the naive gateway sends a session's turns. */
export interface NaiveEndpoint {
  readonly wsUrl: string;
  readonly httpUrl: string;
  readonly token: string;
}

/**
 * The incident's behaviour, for comparison only: every turn without an open socket tries
 * the WebSocket again, logs a warning when it fails, and falls back to HTTP for that turn.
 * Nothing is remembered between turns (the incident's release deleted the session entry on
 * every failed connect). The connect timeout runs on `clock` so the demo can simulate it.
 */
export class NaiveGateway {
  private readonly sockets = new Map<string, WebSocketConnection>();
  /** The transport each session's last turn used. */
  readonly lastTransport = new Map<string, 'websocket' | 'http'>();

  constructor(
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Connect timeout, in ms on `clock`. The official CLI uses 15 000; the incident's release had none. */
    private readonly connectTimeoutMs = 15_000,
  ) {}

  /** Streams one turn; yields the provider's events. */
  async *stream(sessionId: string, endpoint: NaiveEndpoint, body: Record<string, unknown>): AsyncGenerator<ProviderEvent, void, undefined> {
    let socket = this.sockets.get(sessionId);
    if (!socket || !socket.isOpen) {
      socket = await this.connect(sessionId, endpoint);
    }
    if (socket) {
      this.lastTransport.set(sessionId, 'websocket');
      try {
        yield* socket.streamTurn(openAIResponses.webSocketFrame(body), { protocol: openAIResponses, firstEventTimeoutMs: 60_000, idleTimeoutMs: 300_000 });
        return;
      } catch (error) {
        this.sockets.delete(sessionId);
        throw error;
      }
    }
    this.lastTransport.set(sessionId, 'http');
    yield* streamHttp({ url: endpoint.httpUrl, token: endpoint.token, body, protocol: openAIResponses, firstEventTimeoutMs: 60_000, idleTimeoutMs: 300_000 });
  }

  private async connect(sessionId: string, endpoint: NaiveEndpoint): Promise<WebSocketConnection | undefined> {
    const controller = new AbortController();
    const timer = this.clock.setTimeout(() => controller.abort(), this.connectTimeoutMs);
    try {
      const socket = await openWebSocket({ url: endpoint.wsUrl, token: endpoint.token, upgradeTimeoutMs: 3_600_000, pingIntervalMs: 0, signal: controller.signal });
      this.sockets.set(sessionId, socket);
      return socket;
    } catch (error) {
      const reason = isTransportError(error) ? error.message : String(error);
      this.logger.warn({ sessionId }, `WebSocket connect failed for session=${sessionId}; falling back to HTTP. error=${reason}`);
      return undefined;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /** Closes every socket. */
  close(): void {
    for (const socket of this.sockets.values()) socket.close();
    this.sockets.clear();
  }
}
