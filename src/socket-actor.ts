import { fromCallback } from 'xstate';
import type { Outcome } from '../machines/outcome.js';
import type { SessionEvent, SocketActorInput } from '../machines/session.js';
import type { Clock } from './clock.js';
import { isTransportError } from './transports/transport-error.js';
import { openWebSocket, type WebSocketConnection } from './transports/websocket.js';

/** What the socket actor needs from the manager. @internal */
export interface SocketHost {
  readonly clock: Clock;
  /** Where to connect, with what headers and limits. */
  socketOptions(endpointKey: string): { url: string; headers?: Record<string, string>; pingIntervalMs: number };
  /** The token of the given generation's credential (or the current one). */
  credentialFor(endpointKey: string): Promise<{ token: string; generation: number }>;
  /** Hands the open connection to the session so turns can use it; `undefined` when it goes. */
  attach(sessionId: string, connection: WebSocketConnection | undefined): void;
  /** A sentence about a credential source's failure, scrubbed of secrets and bounded. */
  describeCredentialError(error: unknown): string;
}

/** A safety net only: the session chart owns the real upgrade deadline on the manager's clock. */
const TRANSPORT_TIMEOUT_MARGIN_MS = 5_000;

/**
 * The session chart's `webSocket` actor, the socket's one owner: opens it when the chart enters
 * `socket`, reports every end of it (remote, or local with `local: true`, which never blames
 * the endpoint), and closes it when the chart leaves. It decides nothing.
 */
export function createSocketActor(host: SocketHost, upgradeTimeoutMs: number) {
  return fromCallback<SessionEvent, SocketActorInput>(({ input, sendBack }) => {
    const controller = new AbortController();
    let connection: WebSocketConnection | undefined;
    let stopped = false;
    const report = (event: SessionEvent) => {
      if (!stopped) sendBack(event);
    };

    void (async () => {
      let credential: { token: string; generation: number };
      try {
        credential = await host.credentialFor(input.endpointKey);
      } catch (error) {
        // No token to send: a credential problem, never a failed upgrade of the endpoint.
        report({ type: 'SOCKET.CREDENTIALS_UNAVAILABLE', detail: host.describeCredentialError(error), atMs: host.clock.now() });
        return;
      }
      const generation = credential.generation;
      try {
        const target = host.socketOptions(input.endpointKey);
        const opened = await openWebSocket({
          url: target.url,
          token: credential.token,
          upgradeTimeoutMs: upgradeTimeoutMs + TRANSPORT_TIMEOUT_MARGIN_MS,
          pingIntervalMs: target.pingIntervalMs,
          signal: controller.signal,
          ...(target.headers ? { headers: target.headers } : {}),
        });
        if (stopped) {
          opened.close();
          return;
        }
        connection = opened;
        host.attach(input.sessionId, opened);
        report({ type: 'SOCKET.OPENED', atMs: host.clock.now() });
        // Attached after OPENED: a socket that already dropped reports its end at once, in order.
        opened.onClose(({ outcome, local }) => {
          connection = undefined;
          host.attach(input.sessionId, undefined);
          report({ type: 'SOCKET.CLOSED', outcome, local, atMs: host.clock.now() });
        });
      } catch (error) {
        if (stopped) return;
        const outcome: Outcome = isTransportError(error) ? error.outcome : { kind: 'network', code: 'UNKNOWN', phase: 'upgrade' };
        report({ type: 'SOCKET.FAILED', outcome, atMs: host.clock.now(), credentialGeneration: generation });
      }
    })();

    return () => {
      stopped = true;
      controller.abort();
      if (connection) {
        host.attach(input.sessionId, undefined);
        connection.close();
      }
    };
  });
}
