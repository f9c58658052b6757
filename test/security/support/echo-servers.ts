import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

/**
 * Hostile servers for the canary suite: an upstream and an OAuth token endpoint that echo every
 * token they can see (the bearer token they were sent, and the refresh tokens the test tells
 * them about) back in status lines' bodies, headers, error codes and descriptions.
 */

/** Tokens minted here look like nothing a pattern scrubber knows: only the registry can catch them. */
export function canaryToken(kind: 'at' | 'rt'): string {
  return `cnry${kind}${randomBytes(10).toString('hex')}`;
}

/** What an echo server knows to echo. */
export interface EchoBook {
  /** Every access token ever issued. */
  readonly access: string[];
  /** Every refresh token ever issued. */
  readonly refresh: string[];
}

/** The bearer token, and the API key header if any: what this request showed. */
function bearerOf(req: IncomingMessage): string {
  const bearer = /^Bearer\s+(.*)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const key = req.headers['x-api-key'];
  return typeof key === 'string' ? `${bearer}+${key}` : bearer;
}

/** Every token this server could know, joined: what a careless upstream would print. */
function echo(book: EchoBook, seen: string): string {
  return `seen=${seen} refresh=${book.refresh.join(',')} access=${book.access.join(',')}`;
}

/** Headers that echo tokens, as a misbehaving proxy or provider would send them. */
function echoHeaders(book: EchoBook, seen: string): Record<string, string> {
  return {
    'www-authenticate': `Bearer realm="api", error="invalid_token", error_description="token ${seen} refresh ${book.refresh.at(-1) ?? ''}"`,
    'x-request-id': `req-${seen}`,
    'x-echo-refresh': book.refresh.at(-1) ?? '',
  };
}

/** The echoing upstream: `/ws/<mode>` for upgrades, `/http/<mode>` for POSTs. */
export interface EchoUpstream {
  wsUrl(mode: 'upgrade401' | 'upgrade500' | 'turnError' | 'turnFailed'): string;
  httpUrl(mode: 'sse-error' | 'sse-failed' | 'status401' | 'status500'): string;
  close(): Promise<void>;
}

export async function startEchoUpstream(book: EchoBook): Promise<EchoUpstream> {
  const sendEcho = (res: ServerResponse, status: number, seen: string) => {
    const body = JSON.stringify({ error: { code: seen, type: book.refresh.at(-1), message: echo(book, seen), param: seen } });
    res.writeHead(status, { 'content-type': 'application/json', ...echoHeaders(book, seen) });
    res.end(body);
  };
  const server = createServer((req, res) => {
    const seen = bearerOf(req);
    const mode = (req.url ?? '').split('/')[2] ?? '';
    req.resume();
    req.on('end', () => {
      if (mode === 'status401') return sendEcho(res, 401, seen);
      if (mode === 'status500') return sendEcho(res, 500, seen);
      res.writeHead(200, { 'content-type': 'text/event-stream', ...echoHeaders(book, seen) });
      const sse = (event: Record<string, unknown>) => res.write(`event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`);
      if (mode === 'sse-error') {
        sse({ type: 'error', code: seen, message: echo(book, seen), param: book.refresh.at(-1), status: 400 });
      } else {
        sse({ type: 'response.created', response: { id: `resp_${seen}` } });
        sse({ type: 'response.failed', response: { id: `resp_${seen}`, error: { code: seen, message: echo(book, seen) } } });
      }
      res.end();
    });
  });
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    const seen = bearerOf(req);
    const mode = (req.url ?? '').split('/')[2] ?? '';
    if (mode === 'upgrade401' || mode === 'upgrade500') {
      const status = mode === 'upgrade401' ? 401 : 500;
      const body = echo(book, seen);
      const headers = Object.entries(echoHeaders(book, seen)).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      socket.end(`HTTP/1.1 ${status} ${seen}\r\n${headers}content-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', () => {
        if (mode === 'turnError') {
          ws.send(JSON.stringify({ type: 'error', error: { code: seen, message: echo(book, seen), type: book.refresh.at(-1) } }));
        } else {
          ws.send(JSON.stringify({ type: 'response.created', response: { id: `resp_${seen}` } }));
          ws.send(JSON.stringify({ type: 'response.failed', response: { id: `resp_${seen}`, error: { code: seen, message: echo(book, seen) } } }));
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    wsUrl: (mode) => `ws://127.0.0.1:${port}/ws/${mode}`,
    httpUrl: (mode) => `http://127.0.0.1:${port}/http/${mode}`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The echoing token endpoint: the first `rotations` refreshes succeed, every later one echoes. */
export interface EchoTokenEndpoint {
  readonly url: string;
  readonly requests: number;
  close(): Promise<void>;
}

export async function startEchoTokenEndpoint(book: EchoBook, rotations: number): Promise<EchoTokenEndpoint> {
  let requests = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests += 1;
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const refresh = form.get('refresh_token') ?? '';
      if (requests <= rotations) {
        const pair = { access_token: canaryToken('at'), refresh_token: canaryToken('rt') };
        book.access.push(pair.access_token);
        book.refresh.push(pair.refresh_token);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...pair, expires_in: 3600 }));
        return;
      }
      // The refused grant, echoed everywhere a client might copy it from.
      res
        .writeHead(400, { 'content-type': 'application/json', ...echoHeaders(book, refresh) })
        .end(JSON.stringify({ error: `${refresh}`, error_description: `refresh token ${refresh} (access ${book.access.join(',')}) was refused` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/oauth/token`,
    get requests() {
      return requests;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
