import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { handleRequest } from './upstream-http.js';
import type { ModeUpdate, ModelModes } from './upstream-modes.js';
import { UpstreamState, type UpstreamLogEntry } from './upstream-state.js';
import { RESPONSES_PATH } from './upstream-wire.js';
import { handleUpgrade } from './upstream-ws.js';

export type { HttpMode, ModeUpdate, ModelModes, TurnMode, UpgradeMode } from './upstream-modes.js';
export type { UpstreamLogEntry } from './upstream-state.js';

/** Options of {@link startUpstream}; every field is optional. */
export interface UpstreamOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** `response.output_text.delta` events per turn. Default 5. */
  deltasPerTurn?: number;
  /** Initial modes per model, e.g. `{ 'gpt-5.4': { upgradeStatus: 500 } }`. */
  modes?: Readonly<Record<string, ModeUpdate>>;
  /** Modes of every model not listed in `modes`. Default: all healthy. */
  defaultMode?: ModeUpdate;
  /** Which bearer tokens pass (both transports; others get 401). Default: any non-empty token. */
  acceptToken?: (token: string) => boolean;
  /** The log keeps at least this many most recent entries. Default 10 000. */
  logLimit?: number;
  /** Clock for `log[].atMs`. Default `Date.now` (so vitest fake timers apply). */
  now?: () => number;
}

/** A running fake OpenAI Responses upstream; see {@link startUpstream}. */
export interface Upstream {
  /** The port it listens on. */
  readonly port: number;
  /** `http://127.0.0.1:<port>/v1/responses`, for `streamHttp`. */
  readonly httpUrl: string;
  /** `ws://127.0.0.1:<port>/v1/responses?model=<model>`, for `openWebSocket`. */
  wsUrl(model: string): string;

  /** Upgrade requests received, whatever the answer. */
  readonly upgradeAttempts: number;
  /** Upgrade requests received for one model. */
  upgradeAttemptsFor(model: string): number;
  /** `POST /v1/responses` requests received, whatever the answer. */
  readonly httpRequests: number;
  /** HTTP requests received for one model. */
  httpRequestsFor(model: string): number;
  /** `response.create` frames received over WebSockets. */
  readonly wsTurns: number;
  /** Every upgrade and HTTP request with the status answered, oldest first. */
  readonly log: readonly UpstreamLogEntry[];
  /** WebSockets currently open on the server side. */
  readonly openWebSockets: number;

  /** Change how `model` is answered from now on (open sockets included, from their next turn). */
  setMode(model: string, mode: ModeUpdate): void;
  /** Make `model` healthy again; without a model, every model and the defaults. */
  heal(model?: string): void;
  /** The modes currently applied to `model`. */
  modesOf(model: string): ModelModes;
  /** Replace the token check, e.g. to simulate a rotated credential. */
  setAcceptToken(acceptToken: (token: string) => boolean): void;
  /** Zero the counters and clear the log (modes are kept). */
  resetCounters(): void;
  /** Drop every connection (hanging upgrades and stalled streams included) and stop listening. Idempotent. */
  close(): Promise<void>;
}

/**
 * Start a fake OpenAI Responses upstream on 127.0.0.1: one HTTP server that
 * answers `POST /v1/responses` with SSE and upgrades `/v1/responses` to a
 * WebSocket on the same port. Per-model failure modes can be set up front and
 * changed at runtime; counters and a log record what clients did.
 */
export async function startUpstream(options: UpstreamOptions = {}): Promise<Upstream> {
  const state = new UpstreamState({
    deltasPerTurn: options.deltasPerTurn ?? 5,
    acceptToken: options.acceptToken ?? (() => true),
    modes: options.modes ?? {},
    defaultMode: options.defaultMode,
    logLimit: options.logLimit ?? 10_000,
    now: options.now ?? Date.now,
  });
  const server = createServer((req, res) => handleRequest(state, req, res));
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  // Every TCP connection, so close() can drop the ones no handler owns (hanging upgrades, stalled streams).
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  server.on('upgrade', (req, socket, head) => handleUpgrade(state, wss, req, socket, head));

  const port = await listen(server, options.port ?? 0);
  const base = `127.0.0.1:${port}`;
  let closing: Promise<void> | undefined;

  return {
    port,
    httpUrl: `http://${base}${RESPONSES_PATH}`,
    wsUrl: (model) => `ws://${base}${RESPONSES_PATH}?model=${encodeURIComponent(model)}`,
    get upgradeAttempts() {
      return state.upgradeAttempts;
    },
    upgradeAttemptsFor: (model) => state.upgradeAttemptsByModel.get(model) ?? 0,
    get httpRequests() {
      return state.httpRequests;
    },
    httpRequestsFor: (model) => state.httpRequestsByModel.get(model) ?? 0,
    get wsTurns() {
      return state.wsTurns;
    },
    get log() {
      return state.log;
    },
    get openWebSockets() {
      return wss.clients.size;
    },
    setMode: (model, mode) => state.setMode(model, mode),
    heal: (model) => state.heal(model),
    modesOf: (model) => state.modesFor(model),
    setAcceptToken: (acceptToken) => {
      state.acceptToken = acceptToken;
    },
    resetCounters: () => state.resetCounters(),
    close: () => {
      closing ??= shutdown(server, wss, sockets);
      return closing;
    },
  };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

async function shutdown(server: Server, wss: WebSocketServer, sockets: Set<Socket>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const ws of wss.clients) ws.terminate();
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await closed;
}
