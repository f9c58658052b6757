import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildTurn, encodeSseEvent } from './upstream-events.js';
import { DEFAULT_MODEL, type UpstreamState } from './upstream-state.js';
import { RESPONSES_PATH, codeForStatus, retryHeaders } from './upstream-wire.js';

/** Request bodies above this are refused: the fake only ever needs a model name. */
const MAX_BODY_BYTES = 1024 * 1024;

/**
 * Answer `POST /v1/responses` according to the model's HTTP and turn modes.
 * The model comes from the JSON body's `model` field.
 */
export function handleRequest(state: UpstreamState, req: IncomingMessage, res: ServerResponse): void {
  const path = req.url === undefined ? '' : req.url.split('?', 1)[0];
  if (req.method !== 'POST' || path !== RESPONSES_PATH) {
    req.resume();
    sendError(res, 404, {}, 'not_found');
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_BODY_BYTES) {
      sendError(res, 413, {}, 'request_too_large');
      return;
    }
    answer(state, req, res, modelOf(chunks));
  });
}

function answer(state: UpstreamState, req: IncomingMessage, res: ServerResponse, model: string): void {
  state.countHttp(model);
  if (!state.isAuthorized(req.headers.authorization)) {
    state.record('http', model, 401);
    sendError(res, 401, { 'www-authenticate': 'Bearer' }, 'invalid_api_key');
    return;
  }
  const modes = state.modesFor(model);
  const mode = modes.http;
  if (mode === 'hang') {
    state.record('http', model, 0);
    return;
  }
  if (mode === 'reset') {
    state.record('http', model, 0);
    req.socket.resetAndDestroy();
    return;
  }
  if (typeof mode === 'object') {
    state.record('http', model, mode.httpStatus);
    sendError(res, mode.httpStatus, retryHeaders(mode), codeForStatus(mode.httpStatus));
    return;
  }

  state.record('http', model, 200);
  const script = buildTurn(model, state.nextResponseId(), state.deltasPerTurn, modes.turn, encodeSseEvent);
  res.statusCode = 200;
  res.setHeader('content-type', 'text/event-stream; charset=utf-8');
  res.setHeader('cache-control', 'no-cache');
  // A whole turn in one write (and, when complete, with a Content-Length): the benchmark should measure the client.
  const payload = script.frames.join('');
  if (script.complete) res.end(payload);
  else res.write(payload);
}

function modelOf(chunks: Buffer[]): string {
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { model?: unknown };
    return typeof body.model === 'string' && body.model !== '' ? body.model : DEFAULT_MODEL;
  } catch {
    return DEFAULT_MODEL;
  }
}

function sendError(res: ServerResponse, status: number, headers: Record<string, string>, code: string): void {
  const body = `{"error":{"type":"upstream_error","code":"${code}","message":"simulated HTTP ${status}"}}`;
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
