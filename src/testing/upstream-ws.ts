import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { WebSocket, WebSocketServer } from 'ws';
import { buildTurn, encodeWebSocketFrame } from './upstream-events.js';
import { DEFAULT_MODEL, type UpstreamState } from './upstream-state.js';
import { RESPONSES_PATH, codeForStatus, retryHeaders } from './upstream-wire.js';

/**
 * Answer one upgrade request according to the model's WebSocket mode.
 * The model comes from the `?model=` query parameter.
 */
export function handleUpgrade(state: UpstreamState, wss: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  // Sockets the ws server never adopts have no error listener; a client RST would otherwise crash the process.
  socket.on('error', ignore);
  const url = new URL(req.url ?? '/', 'http://upstream');
  const model = url.searchParams.get('model') ?? DEFAULT_MODEL;
  state.countUpgrade(model);

  if (url.pathname !== RESPONSES_PATH) return rejectUpgrade(state, socket, model, 404, {}, 'not_found');
  if (!state.isAuthorized(req.headers.authorization)) {
    return rejectUpgrade(state, socket, model, 401, { 'www-authenticate': 'Bearer' }, 'invalid_api_key');
  }

  const mode = state.modesFor(model).ws;
  if (mode === 'hang') {
    state.record('upgrade', model, 0);
    return;
  }
  if (mode === 'reset') {
    state.record('upgrade', model, 0);
    (socket as Socket).resetAndDestroy();
    return;
  }
  if (typeof mode === 'object' && 'upgradeStatus' in mode) {
    return rejectUpgrade(state, socket, model, mode.upgradeStatus, retryHeaders(mode), codeForStatus(mode.upgradeStatus));
  }

  wss.handleUpgrade(req, socket, head, (ws) => {
    state.record('upgrade', model, 101);
    if (mode === 'flap') {
      // end() rather than terminate(): the 101 must reach the client before the connection drops.
      socket.end();
      return;
    }
    // A client that sends garbage makes ws emit 'error'; unheard, that would crash the test process.
    ws.on('error', ignore);
    ws.on('message', (data, isBinary) => onTurnRequest(state, ws, socket, model, data, isBinary));
  });
}

function onTurnRequest(state: UpstreamState, ws: WebSocket, socket: Duplex, model: string, data: unknown, isBinary: boolean): void {
  let type: unknown;
  try {
    type = isBinary ? undefined : (JSON.parse(String(data)) as { type?: unknown }).type;
  } catch {
    type = undefined;
  }
  if (type !== 'response.create') {
    ws.send('{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"invalid_request","message":"expected response.create"}}');
    return;
  }
  state.wsTurns += 1;

  // Read at turn time so setMode() also changes sockets that are already open.
  const modes = state.modesFor(model);
  const mode = modes.ws;
  if (typeof mode === 'object' && 'closeBeforeFirstEvent' in mode) return closeWith(ws, socket, mode.closeBeforeFirstEvent);

  const script = buildTurn(model, state.nextResponseId(), state.deltasPerTurn, modes.turn, encodeWebSocketFrame);
  const frames = typeof mode === 'object' && 'closeAfterFirstEvent' in mode ? script.frames.slice(0, 1) : script.frames;
  // One flush per turn: corked writes leave as a single writev instead of a syscall per frame.
  socket.cork();
  for (const frame of frames) ws.send(frame);
  socket.uncork();
  if (typeof mode === 'object' && 'closeAfterFirstEvent' in mode) closeWith(ws, socket, mode.closeAfterFirstEvent);
}

/** 1006 is not a close frame: it is what the client reports when the TCP connection just drops. */
function closeWith(ws: WebSocket, socket: Duplex, code: number): void {
  if (code === 1006) socket.end();
  else ws.close(code);
}

function rejectUpgrade(state: UpstreamState, socket: Duplex, model: string, status: number, headers: Record<string, string>, code: string): void {
  state.record('upgrade', model, status);
  const body = `{"error":{"type":"upgrade_rejected","code":"${code}","message":"simulated upgrade rejection"}}`;
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}\r\n${body}`);
}

function ignore(): void {}
