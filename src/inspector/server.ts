import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { InspectionEvent } from 'xstate';
import { createCredentialMachine, createEndpointMachine, createSessionMachine } from '../../machines/index.js';
import type { ManagerEvents } from '../events.js';
import type { SessionManager } from '../manager.js';
import { layoutChart, shapeFromConfig, shapeFromMachine, type ChartGeometry, type ChartShape } from './chart.js';
import { InspectorModel, type InspectedKind } from './model.js';
import { inspectorPage } from './page.js';
import { SecretSet, sanitizeValue, type SanitizedActorRef } from './sanitize.js';
import { secretSetCache } from '../secrets.js';

/**
 * The offline inspector: a loopback HTTP server with one self-contained page and a WebSocket
 * that streams the manager's charts, actors and timeline to it. See docs/inspector.md.
 */

/** What the inspector needs from a session manager. */
export type InspectableManager = Pick<SessionManager, 'addInspector' | 'actors' | 'on' | 'off'>;

/** Options of {@link startInspector}. */
export interface InspectorOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number;
  /** Address to bind. Default `127.0.0.1`: loopback only. Anything else exposes the inspector to the network (token still required). */
  host?: string;
  /** The access token every request must carry (`?token=`). Default: 32 random bytes, base64url. */
  token?: string;
  /**
   * Keep the process alive while the inspector serves (a CLI whose only job is to inspect).
   * Default false: the server and its connections are unref'd, so an embedded inspector never
   * holds a gateway up that wants to exit.
   */
  keepAlive?: boolean;
  /** "Now" for countdowns, in ms. Default: the manager's clock (so a `SimulatedClock` shows simulated time). */
  now?: () => number;
  /** More strings to redact, besides the tokens the manager knows. */
  secrets?: () => Iterable<string>;
  /** Accept `@statelyai/inspect`'s WebSocket stream on `/stately`. Default true. */
  stately?: boolean;
  /** Title of the page. */
  title?: string;
}

/** A running inspector; see {@link startInspector}. */
export interface Inspector {
  /** The page, token included: `http://127.0.0.1:<port>/?token=…`. Treat it as a password. */
  readonly url: string;
  /** Where `@statelyai/inspect`'s `createWebSocketInspector({ url })` can send its events: `ws://127.0.0.1:<port>/stately?token=…`. */
  readonly statelyUrl: string;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  /** Stops serving: closes every connection, removes every listener and timer. Idempotent. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using inspector = await startInspector(manager)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

const TICK_MS = 1_000;
const FLUSH_MS = 40;
const HELLO_TIMELINE = 1_500;
/**
 * Limits on what `/stately` accepts, so that no client can make the inspector hold a gateway's
 * memory or CPU: a definition's JSON text, its states and transitions, and the distinct charts
 * kept. A definition past a limit is rejected with a sentence (sent back to the client and shown
 * on the actor); its actor is still listed, without a chart. Layout runs on a worker thread and
 * is bounded by `LAYOUT_TIMEOUT_MS` (src/inspector/chart.ts) besides.
 */
export const STATELY_LIMITS = Object.freeze({
  /** Largest definition accepted, in bytes of JSON text. */
  definitionBytes: 64 * 1024,
  /** Most states (every node, nested ones included) in one definition. */
  states: 100,
  /** Most transitions in one definition. */
  transitions: 400,
  /** Most distinct definitions laid out per inspector. */
  charts: 16,
  /** Most actors listed from `/stately` clients. */
  actors: 500,
  /** Largest WebSocket message accepted on `/stately`, in bytes. */
  messageBytes: 256 * 1024,
});
const MAX_PAYLOAD = 1024 * 1024;

type BuiltinChart = 'session' | 'endpoint' | 'credential';
let builtinCharts: Promise<ChartGeometry[]> | undefined;

/** The three charts, laid out once per process (ELK takes a few hundred ms). */
function layoutBuiltinCharts(): Promise<ChartGeometry[]> {
  builtinCharts ??= Promise.all([
    layoutChart(shapeFromMachine('session', createSessionMachine() as never)),
    layoutChart(shapeFromMachine('endpoint', createEndpointMachine() as never)),
    layoutChart(shapeFromMachine('credential', createCredentialMachine() as never)),
  ]).catch((error: unknown) => {
    builtinCharts = undefined;
    throw error;
  });
  return builtinCharts;
}

/** The manager's clock (`SessionManager.clock`); a duck-typed manager without one shows wall-clock time. */
function managerNow(manager: InspectableManager): () => number {
  const clock = (manager as unknown as { clock?: { now?: unknown } }).clock;
  if (clock && typeof clock.now === 'function') {
    const now = clock.now as () => number;
    return () => now.call(clock);
  }
  return Date.now;
}

/** The tokens the manager's credential sources hold (`SessionManager.redactionSecrets`), for redaction only. */
function managerSecrets(manager: InspectableManager): () => readonly string[] {
  const secrets = (manager as unknown as { redactionSecrets?: unknown }).redactionSecrets;
  if (typeof secrets === 'function') {
    return () => {
      try {
        const list: unknown = secrets.call(manager);
        return Array.isArray(list) ? list.filter((s): s is string => typeof s === 'string') : [];
      } catch {
        return [];
      }
    };
  }
  return () => [];
}

function sameToken(given: string | null, token: string): boolean {
  if (given === null) return false;
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost' || host.startsWith('127.');
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts the offline inspector for a session manager: a node:http server bound to 127.0.0.1
 * (by default) that serves one self-contained page and, on the same port, a WebSocket (`/ws`)
 * that sends the chart definitions, the actors and the recent timeline, then live updates fed
 * by `manager.addInspector` (sanitized inspection events) and the manager's events. Every
 * request needs the token (`?token=`); the returned `url` carries it.
 *
 * Also accepts, on `/stately`, the JSON stream of `@statelyai/inspect`'s
 * `createWebSocketInspector({ url: inspector.statelyUrl })`, so any xstate app can be viewed here.
 *
 * @param manager the session manager to inspect
 * @param options port, host, token; see {@link InspectorOptions}
 * @returns the running inspector; `close()` it when done
 */
export async function startInspector(manager: InspectableManager, options: InspectorOptions = {}): Promise<Inspector> {
  const host = options.host ?? '127.0.0.1';
  const token = options.token ?? randomBytes(32).toString('base64url');
  if (typeof token !== 'string' || token.length < 8) throw new TypeError('startInspector: token must be a string of at least 8 characters');
  const keepAlive = options.keepAlive ?? false;
  const acceptStately = options.stately ?? true;
  const now = options.now ?? managerNow(manager);
  const knownSecrets = managerSecrets(manager);
  const secretSet = secretSetCache();
  const secrets = (): SecretSet => secretSet([token, ...knownSecrets(), ...(options.secrets ? options.secrets() : [])]);
  // The last word before anything leaves: the whole text of every frame and of /state.json.
  const serialize = (message: unknown): string => secrets().scrub(JSON.stringify(message));

  const charts = new Map<string, ChartGeometry>();
  for (const chart of await layoutBuiltinCharts()) charts.set(chart.name, chart);

  const model = new InspectorModel(now);
  const startedAtMs = now();
  const viewers = new Set<WebSocket>();
  const statelyClients = new Set<WebSocket>();
  const sockets = new Set<Socket>();
  let closed = false;

  // ------------------------------------------------------------------ feeding the model
  const trackManagerActor = (kind: BuiltinChart, id: string, actor: { getSnapshot(): unknown }, initial: boolean): string | undefined => {
    const sessionId = (actor as { sessionId?: unknown }).sessionId;
    if (typeof sessionId !== 'string') return undefined;
    const set = secrets();
    let snapshot: unknown;
    try {
      snapshot = initial ? sanitizeValue(actor.getSnapshot(), set) : { status: 'active' };
    } catch {
      snapshot = { status: 'active' };
    }
    return model.track(kind, set.scrub(id), sessionId, kind, snapshot).key;
  };
  for (const { kind, id, actor } of manager.actors()) trackManagerActor(kind, id, actor, true);

  const discover = (ref: SanitizedActorRef): string | undefined => {
    // Children (the socket callback, the refresh promise) belong to a chart actor; they are not charts.
    if (ref._parent) return undefined;
    for (const { kind, id, actor } of manager.actors()) {
      if ((actor as { sessionId?: unknown }).sessionId === ref.sessionId) return trackManagerActor(kind, id, actor, false);
    }
    return undefined;
  };

  const onInspection = (event: InspectionEvent): void => {
    if (closed || event.type !== '@xstate.snapshot') return;
    const ref = event.actorRef as unknown as SanitizedActorRef;
    if (typeof ref?.sessionId !== 'string') return;
    const parent = ref._parent;
    if (parent !== undefined && ref.id === 'turn' && typeof parent.sessionId === 'string') {
      // A session's turn chart: shown with its session.
      const sessionKey = model.keyOfSession(parent.sessionId) ?? discover(parent);
      if (!sessionKey) return;
      const set = secrets();
      model.turnSnapshot(sessionKey, sanitizeValue(event.event, set), sanitizeValue(event.snapshot, set));
      scheduleFlush();
      return;
    }
    const key = model.keyOfSession(ref.sessionId) ?? discover(ref);
    if (!key) return;
    // The manager already sanitized the event; extra secrets (options.secrets, the inspector's own token) are scrubbed here.
    const set = secrets();
    model.snapshot(key, sanitizeValue(event.event, set), sanitizeValue(event.snapshot, set));
    scheduleFlush();
  };
  const removeInspector = manager.addInspector(onInspection);

  const scrub = (text: string): string => secrets().scrub(text);
  const listeners: { [E in keyof ManagerEvents]?: ManagerEvents[E] } = {
    fallback: (e) => {
      model.note(`session:${e.sessionId}`, 'fallback', scrub(`turns go over HTTP: ${e.reason}${e.failure ? ` (${e.failure.summary})` : ''}`), undefined, e.retryAtMs);
      scheduleFlush();
    },
    recovered: (e) => {
      model.note(`${e.actor}:${e.id}`, 'recovered', scrub(`${e.actor === 'endpoint' ? 'WebSocket works again' : 'back on the WebSocket'}${e.downForMs !== undefined ? ` after ${Math.round(e.downForMs / 1000)} s` : ''}`));
      scheduleFlush();
    },
    'reauth-required': (e) => {
      model.note(`credential:${e.credentialId}`, 'reauth-required', scrub(e.summary));
      scheduleFlush();
    },
    upgrade: (e) => {
      model.upgrade(`session:${e.sessionId}`, e.result, e.failure ? scrub(e.failure.summary) : undefined);
      scheduleFlush();
    },
    turn: (e) => {
      model.turn(`session:${e.sessionId}`, scrub(e.turnId), e.result, e.transport, e.durationMs, e.failure ? scrub(e.failure.summary) : undefined);
      scheduleFlush();
    },
  };
  for (const [name, listener] of Object.entries(listeners)) manager.on(name as keyof ManagerEvents, listener as never);

  // ------------------------------------------------------------------ sending
  const send = (ws: WebSocket, message: unknown): void => {
    if (ws.readyState !== ws.OPEN) return;
    ws.send(serialize(message));
  };
  const broadcast = (message: unknown): void => {
    if (viewers.size === 0) return;
    const text = serialize(message);
    for (const ws of viewers) if (ws.readyState === ws.OPEN) ws.send(text);
  };
  const wallClock = (): boolean => Math.abs(now() - Date.now()) < 5_000;
  const hello = (): unknown => ({
    type: 'hello',
    version: 1,
    title: options.title ?? 'resilient-stream inspector',
    now: now(),
    startedAtMs,
    wallClock: wallClock(),
    charts: [...charts.values()],
    actors: model.list(),
    timeline: model.recent(HELLO_TIMELINE),
  });

  let flushTimer: NodeJS.Timeout | undefined;
  function scheduleFlush(): void {
    if (flushTimer || closed) return;
    flushTimer = setTimeout(flush, FLUSH_MS);
    flushTimer.unref();
  }
  function flush(): void {
    flushTimer = undefined;
    const delta = model.takeDelta();
    if (!delta) return;
    broadcast({ type: 'update', now: now(), ...delta });
  }
  const ticker = setInterval(() => {
    if (viewers.size > 0) broadcast({ type: 'tick', now: now() });
  }, TICK_MS);
  ticker.unref();

  // ------------------------------------------------------------------ /stately
  const statelyCharts = new Map<string, Promise<ChartVerdict>>();
  let statelyConnections = 0;
  const statelyActorCount = (): number => model.count('xstate');
  const rejected = (reason: string): Promise<ChartVerdict> => Promise.resolve({ rejected: reason });

  /** The chart of a definition: laid out once (off the main thread), or rejected with a reason. */
  const chartForDefinition = (definition: unknown): Promise<ChartVerdict> => {
    if (typeof definition !== 'string' || definition.length === 0) return Promise.resolve({});
    const bytes = Buffer.byteLength(definition);
    if (bytes > STATELY_LIMITS.definitionBytes) {
      return rejected(`definition rejected: ${bytes} bytes, more than the ${STATELY_LIMITS.definitionBytes} the inspector lays out`);
    }
    const name = `stately:${createHash('sha256').update(definition).digest('hex').slice(0, 12)}`;
    const existing = statelyCharts.get(name);
    if (existing) return existing;
    if (statelyCharts.size >= STATELY_LIMITS.charts) return rejected(`definition rejected: the inspector already holds ${STATELY_LIMITS.charts} charts`);
    let shape: ChartShape;
    try {
      const parsed: unknown = JSON.parse(definition);
      // Counted on the raw config first: even building the shape of a hostile one costs the main thread.
      const size = configSize(parsed);
      if (size.states > STATELY_LIMITS.states || size.transitions > STATELY_LIMITS.transitions) {
        return rejected(
          `definition rejected: ${size.states} states and ${size.transitions} transitions, more than the ${STATELY_LIMITS.states} states or ${STATELY_LIMITS.transitions} transitions the inspector lays out`,
        );
      }
      shape = shapeFromConfig(name, sanitizeValue(parsed, secrets()));
    } catch (error) {
      return rejected(`definition rejected: ${error instanceof Error ? error.message : 'not a machine config'}`);
    }
    const made = (async (): Promise<ChartVerdict> => {
      try {
        const geometry = await layoutChart(shape);
        if (closed) return {};
        charts.set(name, geometry);
        broadcast({ type: 'chart', chart: geometry });
        return { chart: name };
      } catch (error) {
        return { rejected: `definition not shown: ${error instanceof Error ? error.message : 'layout failed'}` };
      }
    })();
    statelyCharts.set(name, made);
    return made;
  };

  const onStatelyEvent = (connection: number, client: WebSocket, message: Record<string, unknown>): void => {
    const type = message.type;
    const sessionId = typeof message.sessionId === 'string' ? message.sessionId : undefined;
    if (!sessionId) return;
    const scoped = `stately${connection}/${sessionId}`;
    const set = secrets();
    if (type === '@xstate.actor') {
      const name = typeof message.name === 'string' && message.name.length > 0 ? message.name : sessionId;
      const id = set.scrub(name === sessionId ? `${sessionId} #${connection}` : `${name} (${sessionId} #${connection})`);
      if (!model.keyOfSession(scoped) && statelyActorCount() >= STATELY_LIMITS.actors) return;
      // The actor message's own snapshot is read when the client gets round to converting it
      // (@statelyai/inspect does so in an idle callback), so it may be newer than the snapshot
      // messages that follow it: the state comes from those alone.
      const existing = model.get(`xstate:${id}`);
      const key = model.track('xstate', id, scoped, existing?.chart ?? '', existing ? { value: existing.value, status: existing.status, context: existing.context } : { status: 'active' }).key;
      scheduleFlush();
      void chartForDefinition(message.definition).then(({ chart, rejected: reason }) => {
        if (closed) return;
        if (reason) {
          model.note(key, 'rejected', set.scrub(reason));
          scheduleFlush();
          if (client.readyState === client.OPEN) client.send(JSON.stringify({ type: 'rejected', sessionId, reason }));
          return;
        }
        if (!chart) return;
        const view = model.get(key);
        if (view) {
          model.track('xstate', view.id, scoped, chart, { value: view.value, status: view.status, context: view.context });
          scheduleFlush();
        }
      });
      return;
    }
    if (type === '@xstate.snapshot') {
      let key = model.keyOfSession(scoped);
      if (!key) {
        if (statelyActorCount() >= STATELY_LIMITS.actors) return;
        key = model.track('xstate', `${sessionId} #${connection}`, scoped, '', { status: 'active' }).key;
      }
      model.snapshot(key, sanitizeValue(message.event, set), sanitizeValue(message.snapshot, set));
      scheduleFlush();
    }
    // '@xstate.event' messages add nothing the snapshot after them does not say.
  };

  // ------------------------------------------------------------------ HTTP
  let port = 0;
  const page = inspectorPage(options.title);
  const allowedHosts = (port: number): Set<string> => new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `${urlHost(host)}:${port}`]);

  /** Rejects requests for another host name (DNS rebinding) when bound to loopback, and requests without the token. */
  const check = (req: IncomingMessage): { status: 200 } | { status: 401 | 403 | 404; reason: string } => {
    const url = new URL(req.url ?? '/', 'http://inspector');
    if (isLoopback(host) && !allowedHosts(port).has(req.headers.host ?? '')) return { status: 403, reason: 'unexpected Host header' };
    if (!sameToken(url.searchParams.get('token'), token)) return { status: 401, reason: 'missing or wrong token: open the URL startInspector() returned' };
    return { status: 200 };
  };

  const securityHeaders = (res: ServerResponse): void => {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  };

  const server = createServer((req, res) => {
    securityHeaders(res);
    const url = new URL(req.url ?? '/', 'http://inspector');
    const verdict = check(req);
    if (verdict.status !== 200) {
      res.writeHead(verdict.status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`inspector: ${verdict.reason}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('inspector: method not allowed\n');
      return;
    }
    if (url.pathname === '/' || url.pathname === '/index.html') {
      res.writeHead(200, {
        'Content-Type': 'text/html; charset=utf-8',
        'Content-Security-Policy': `default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src ws://${req.headers.host ?? ''}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      });
      res.end(req.method === 'HEAD' ? undefined : page);
      return;
    }
    if (url.pathname === '/state.json') {
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8' }).end(req.method === 'HEAD' ? undefined : serialize(hello()));
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('inspector: not found\n');
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    if (!keepAlive) socket.unref();
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
  const refuse = (socket: Duplex, status: number, reason: string): void => {
    socket.on('error', () => {});
    socket.once('finish', () => socket.destroy());
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${reason.length + 1}\r\n\r\n${reason}\n`);
  };
  server.on('upgrade', (req, socket, head) => {
    if (closed) return refuse(socket, 503, 'Service Unavailable');
    const url = new URL(req.url ?? '/', 'http://inspector');
    const verdict = check(req);
    if (verdict.status === 403) return refuse(socket, 403, 'Forbidden');
    if (verdict.status !== 200) return refuse(socket, 401, 'Unauthorized');
    if (url.pathname === '/ws') {
      // A browser page of another origin must not read the stream, even with a leaked token.
      // (`/stately` only receives, so apps served from a dev server's origin may push to it.)
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host ?? ''}`) return refuse(socket, 403, 'Forbidden');
      wss.handleUpgrade(req, socket, head, (ws) => {
        viewers.add(ws);
        ws.on('error', () => ws.terminate());
        ws.on('close', () => viewers.delete(ws));
        ws.on('message', () => {}); // The page only listens.
        send(ws, hello());
      });
      return;
    }
    if (url.pathname === '/stately' && acceptStately) {
      wss.handleUpgrade(req, socket, head, (ws) => {
        const connection = ++statelyConnections;
        statelyClients.add(ws);
        ws.on('error', () => ws.terminate());
        ws.on('close', () => statelyClients.delete(ws));
        ws.on('message', (data: RawData, isBinary: boolean) => {
          if (isBinary || closed) return;
          const size = Array.isArray(data) ? data.reduce((sum, part) => sum + part.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
          if (size > STATELY_LIMITS.messageBytes) {
            ws.send(JSON.stringify({ type: 'rejected', reason: `message rejected: ${size} bytes, more than ${STATELY_LIMITS.messageBytes}` }));
            return;
          }
          let parsed: unknown;
          try {
            parsed = JSON.parse(String(data));
          } catch {
            return;
          }
          for (const message of Array.isArray(parsed) ? parsed : [parsed]) {
            if (typeof message === 'object' && message !== null) onStatelyEvent(connection, ws, message as Record<string, unknown>);
          }
        });
      });
      return;
    }
    refuse(socket, 404, 'Not Found');
  });


  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      clearInterval(ticker);
      if (flushTimer) clearTimeout(flushTimer);
      flushTimer = undefined;
      removeInspector();
      for (const [name, listener] of Object.entries(listeners)) manager.off(name as keyof ManagerEvents, listener as never);
      for (const ws of [...viewers, ...statelyClients]) ws.terminate();
      viewers.clear();
      statelyClients.clear();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await serverClosed;
    })();
    return closing;
  };

  try {
    port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve((server.address() as AddressInfo).port);
      });
    });
  } catch (error) {
    await close();
    throw error;
  }
  if (!keepAlive) server.unref();

  const base = `http://${urlHost(host)}:${port}`;
  return {
    url: `${base}/?token=${encodeURIComponent(token)}`,
    statelyUrl: `ws://${urlHost(host)}:${port}/stately?token=${encodeURIComponent(token)}`,
    host,
    port,
    token,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** What became of a `/stately` definition: its chart's name, or why it is not shown. */
interface ChartVerdict {
  readonly chart?: string;
  readonly rejected?: string;
}

/**
 * States (every node, the root included) and transitions (`on`, `always`, `after`, `onDone`,
 * `onError` targets) of a raw machine config, counted in one linear walk that stops early
 * far past any limit.
 */
function configSize(config: unknown): { states: number; transitions: number } {
  let states = 0;
  let transitions = 0;
  const cap = 100 * (STATELY_LIMITS.states + STATELY_LIMITS.transitions);
  const countTransitions = (value: unknown): void => {
    if (Array.isArray(value)) transitions += value.length;
    else if (value !== undefined && value !== null) transitions += 1;
  };
  const countMap = (map: unknown): void => {
    if (typeof map !== 'object' || map === null) return;
    for (const value of Object.values(map)) countTransitions(value);
  };
  const visit = (node: unknown, depth: number): void => {
    if (typeof node !== 'object' || node === null || depth > 64 || states + transitions > cap) return;
    states += 1;
    const record = node as Record<string, unknown>;
    countMap(record['on']);
    countMap(record['after']);
    countTransitions(record['always']);
    for (const invoke of Array.isArray(record['invoke']) ? record['invoke'] : [record['invoke']]) {
      if (typeof invoke === 'object' && invoke !== null) {
        countTransitions((invoke as Record<string, unknown>)['onDone']);
        countTransitions((invoke as Record<string, unknown>)['onError']);
      }
    }
    const children = record['states'];
    if (typeof children === 'object' && children !== null) for (const child of Object.values(children)) visit(child, depth + 1);
  };
  visit(config, 0);
  return { states, transitions };
}

export type { InspectedKind };
