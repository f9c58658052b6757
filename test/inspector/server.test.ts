import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { startInspector, type Inspector } from '../../src/inspector/index.js';
import { PAGE_SCRIPT } from '../../src/inspector/page.js';
import { BAD, GOOD, MINI_TOKEN, SECRET_TOKEN, fallBack, startScenario, type Scenario } from './support/scenario.js';

let scenario: Scenario;
let inspector: Inspector;

beforeAll(async () => {
  scenario = await startScenario();
  await fallBack(scenario);
  inspector = await startInspector(scenario.manager);
});

afterAll(async () => {
  await inspector?.close();
  await scenario?.close();
});

function wsUrl(path: string, token: string | undefined): string {
  return `ws://127.0.0.1:${inspector.port}${path}${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;
}

/** Opens a socket; resolves with the HTTP status of a refused upgrade, or the open socket. */
function openSocket(url: string, headers: Record<string, string> = {}): Promise<{ status: number; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      ws.terminate();
    });
    ws.once('open', () => resolve({ status: 101, ws }));
    ws.once('error', (error) => reject(error));
  });
}

function httpGet(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: inspector.port, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Collects every frame a viewer receives. */
function viewer(): Promise<{ ws: WebSocket; frames: string[]; next(predicate: (message: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl('/ws', inspector.token));
    const frames: string[] = [];
    const waiters: { predicate: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }[] = [];
    ws.on('message', (data) => {
      const text = String(data);
      frames.push(text);
      const message = JSON.parse(text) as Record<string, unknown>;
      for (const waiter of [...waiters]) {
        if (waiter.predicate(message)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(message);
        }
      }
    });
    ws.once('error', reject);
    ws.once('open', () =>
      resolve({
        ws,
        frames,
        next: (predicate) =>
          new Promise((res, rej) => {
            const existing = frames.map((f) => JSON.parse(f) as Record<string, unknown>).find(predicate);
            if (existing) return res(existing);
            const timer = setTimeout(() => rej(new Error('no matching inspector message within 5 s')), 5_000);
            waiters.push({ predicate, resolve: (m) => (clearTimeout(timer), res(m)) });
          }),
      }),
    );
  });
}

describe('access', () => {
  test('the URL carries the token and points at 127.0.0.1', () => {
    expect(inspector.host).toBe('127.0.0.1');
    expect(inspector.url).toBe(`http://127.0.0.1:${inspector.port}/?token=${encodeURIComponent(inspector.token)}`);
    expect(inspector.token.length).toBeGreaterThanOrEqual(32);
    expect(inspector.statelyUrl).toBe(`ws://127.0.0.1:${inspector.port}/stately?token=${encodeURIComponent(inspector.token)}`);
  });

  test('the page needs the token: none or a wrong one is 401', async () => {
    expect((await httpGet('/')).status).toBe(401);
    expect((await httpGet('/?token=wrong-token-value')).status).toBe(401);
    expect((await httpGet(`/state.json?token=${inspector.token}x`)).status).toBe(401);
    const ok = await httpGet(`/?token=${encodeURIComponent(inspector.token)}`);
    expect(ok.status).toBe(200);
    expect(ok.headers['content-type']).toMatch(/text\/html/);
    expect(ok.headers['referrer-policy']).toBe('no-referrer');
    expect(String(ok.headers['content-security-policy'])).toContain("default-src 'none'");
  });

  test('the page is self-contained: no external script, style, image or font', async () => {
    const { body } = await httpGet(`/?token=${encodeURIComponent(inspector.token)}`);
    expect(body).not.toMatch(/<script[^>]+src=/i);
    expect(body).not.toMatch(/<link\b/i);
    expect(body).not.toMatch(/@import|url\(\s*['"]?https?:/i);
    expect(body).not.toMatch(/(src|href)=["']?https?:/i);
    // The only absolute URL in the page is the SVG namespace, which is a name, not a fetch.
    expect(body.match(/https?:\/\/[^\s'"]+/g) ?? []).toEqual(['http://www.w3.org/2000/svg']);
    // Nor is the token baked into the page: the script reads it from its own URL.
    expect(body).not.toContain(inspector.token);
  });

  test('the page script parses', () => {
    expect(() => new Function(PAGE_SCRIPT)).not.toThrow();
  });

  test('the socket needs the token: none or a wrong one is refused with 401', async () => {
    expect((await openSocket(wsUrl('/ws', undefined))).status).toBe(401);
    expect((await openSocket(wsUrl('/ws', 'wrong-token-value'))).status).toBe(401);
    expect((await openSocket(wsUrl('/stately', 'wrong-token-value'))).status).toBe(401);
    const ok = await openSocket(wsUrl('/ws', inspector.token));
    expect(ok.status).toBe(101);
    ok.ws?.close();
  });

  test('another Host (DNS rebinding) or a foreign Origin is refused', async () => {
    expect((await httpGet(`/?token=${encodeURIComponent(inspector.token)}`, { Host: `evil.example:${inspector.port}` })).status).toBe(403);
    expect((await openSocket(wsUrl('/ws', inspector.token), { Origin: 'http://evil.example' })).status).toBe(403);
  });

  test('it listens on 127.0.0.1 only', () => {
    // The kernel's own table of listening sockets: local address 0100007F is 127.0.0.1.
    if (!existsSync('/proc/net/tcp')) return;
    const portHex = inspector.port.toString(16).toUpperCase().padStart(4, '0');
    const listening = [...readFileSync('/proc/net/tcp', 'utf8').split('\n'), ...(existsSync('/proc/net/tcp6') ? readFileSync('/proc/net/tcp6', 'utf8').split('\n') : [])]
      .map((line) => line.trim().split(/\s+/))
      .filter((cols) => cols[1]?.endsWith(`:${portHex}`) && cols[3] === '0A')
      .map((cols) => cols[1]);
    expect(listening).toEqual([`0100007F:${portHex}`]);
  });
});

describe('what a viewer receives', () => {
  test('the initial state: the three charts, every actor, the endpoint cooling down with its probe history', async () => {
    const v = await viewer();
    const hello = await v.next((m) => m.type === 'hello');
    v.ws.close();
    const charts = hello.charts as { name: string; nodes: { path: string }[]; edges: unknown[] }[];
    expect(charts.map((c) => c.name).sort()).toEqual(['credential', 'endpoint', 'session']);
    const endpointChart = charts.find((c) => c.name === 'endpoint');
    expect(endpointChart?.nodes.map((n) => n.path)).toEqual(expect.arrayContaining(['coolingDown', 'probing.awaitingProbe', 'probing.probeInFlight', 'healthy.stable']));
    const actors = hello.actors as { key: string; state: string; endpoint?: { status: string; cooldownUntilMs?: number; history: { result: string; failure?: string }[] }; session?: { connection: string; transport: string } }[];
    const keys = actors.map((a) => a.key);
    expect(keys).toEqual(expect.arrayContaining([`endpoint:${BAD}`, `endpoint:${GOOD}`, 'session:s1', 'session:s2', 'session:s3']));
    const bad = actors.find((a) => a.key === `endpoint:${BAD}`);
    expect(bad?.endpoint?.status).toBe('cooling-down');
    expect(bad?.endpoint?.cooldownUntilMs).toBe(scenario.manager.endpoint(BAD).state.cooldownUntilMs);
    expect(bad?.endpoint?.history.map((h) => h.result)).toEqual(['granted', 'failed']);
    expect(bad?.endpoint?.history[1]?.failure).toBe('upgrade answered HTTP 500');
    expect(actors.find((a) => a.key === 'session:s1')?.session).toMatchObject({ connection: 'fallback', transport: 'http' });
    expect(actors.find((a) => a.key === 'session:s3')?.session).toMatchObject({ connection: 'socket.open', transport: 'websocket' });
  });

  test('live updates: a new session, its turn and its fallback arrive as actor updates and timeline entries', async () => {
    const v = await viewer();
    await v.next((m) => m.type === 'hello');
    await scenario.turn('s4', BAD);
    const update = await v.next((m) => m.type === 'update' && JSON.stringify(m.timeline ?? []).includes('"event":"fallback"'));
    const timeline = update.timeline as { actor: string; event: string; cause?: string }[];
    expect(timeline.find((e) => e.event === 'fallback')?.actor).toBe('session:s4');
    // The turn's own row may come in a later frame than the fallback (frames are batched).
    await v.next((m) => m.type === 'update' && (m.timeline as { actor: string; event: string }[] | undefined ?? []).some((e) => e.actor === 'session:s4' && e.event === 'turn'));
    const all = v.frames.map((f) => JSON.parse(f) as { type: string; timeline?: { actor: string; event: string; to: string[] }[] });
    const entries = all.flatMap((m) => m.timeline ?? []).filter((e) => e.actor === 'session:s4');
    expect(entries.map((e) => e.event)).toEqual(expect.arrayContaining(['start', 'TURN_REQUESTED', 'ENDPOINT.DENIED', 'turn']));
    // Denied, the session peeks at the credentials (sign-in required?) before it settles on HTTP.
    expect(entries.find((e) => e.event === 'ENDPOINT.DENIED')?.to).toContain('active.connection.peekingBeforeHttp');
    expect(entries.some((e) => e.to.includes('active.connection.fallback'))).toBe(true);
    v.ws.close();
  });

  test('a distinctive token never appears in anything sent over the inspector socket, even when an event carries it', async () => {
    const v = await viewer();
    await v.next((m) => m.type === 'hello');
    // The charts hold no token by design; put one where defence in depth has to catch it.
    const session = scenario.manager.actors().find((a) => a.kind === 'session' && a.id === 's1')?.actor as unknown as { send(event: unknown): void };
    session.send({
      type: 'DEBUG.LEAK',
      note: `prefix ${SECRET_TOKEN} suffix`,
      headers: { Authorization: `Bearer ${SECRET_TOKEN}` },
      apiKey: 'a-secret-nobody-told-the-inspector-about',
      nested: { refresh_token: 'rt-nobody-knows-this-one', list: [MINI_TOKEN, encodeURIComponent(SECRET_TOKEN)] },
      jwt: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
    });
    await scenario.turn('s1', BAD);
    await v.next((m) => m.type === 'update' && JSON.stringify(m).includes('DEBUG.LEAK'));
    await v.next((m) => m.type === 'update' && JSON.stringify(m).includes('"event":"turn"'));
    const state = await httpGet(`/state.json?token=${encodeURIComponent(inspector.token)}`);
    v.ws.close();
    const everything = [...v.frames, state.body].join('\n');
    expect(everything).toContain('DEBUG.LEAK');
    expect(everything).toContain('[redacted]');
    for (const secret of [SECRET_TOKEN, MINI_TOKEN, encodeURIComponent(SECRET_TOKEN), 'a-secret-nobody-told-the-inspector-about', 'rt-nobody-knows-this-one', 'eyJhbGciOiJIUzI1NiJ9', inspector.token]) {
      expect(everything).not.toContain(secret);
    }
  });
});

describe('close()', () => {
  test('closes viewers and leaves no server, socket or timer behind', async () => {
    const resources = (): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
      return counts;
    };
    const before = resources();
    // keepAlive: ref'd handles, so the resource list shows them (unref'd ones are not listed; the child-process tests cover those).
    const own = await startInspector(scenario.manager, { keepAlive: true });
    const ws = new WebSocket(`ws://127.0.0.1:${own.port}/ws?token=${encodeURIComponent(own.token)}`);
    await new Promise((resolve) => ws.once('message', resolve));
    const during = resources();
    expect(during.TCPServerWrap ?? 0).toBeGreaterThan(before.TCPServerWrap ?? 0);
    const closedByServer = new Promise((resolve) => ws.once('close', resolve));
    await own.close();
    await closedByServer;
    await own.close(); // idempotent
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = resources();
    for (const kind of ['TCPServerWrap', 'TCPSocketWrap', 'Timeout']) expect(after[kind] ?? 0, kind).toBeLessThanOrEqual(before[kind] ?? 0);
    // And it stopped listening.
    await expect(fetch(own.url)).rejects.toThrow();
  });

  test('a busy port rejects, and the failed start leaves nothing attached', async () => {
    const before = scenario.manager.listenerCount('turn');
    await expect(startInspector(scenario.manager, { port: inspector.port })).rejects.toThrow(/EADDRINUSE/);
    expect(scenario.manager.listenerCount('turn')).toBe(before);
  });

  const child = fileURLToPath(new URL('./support/child.ts', import.meta.url));
  for (const mode of ['close', 'no-close'] as const) {
    test(`a process exits by itself once done (${mode === 'close' ? 'after close()' : 'even without close(): everything is unref\'d'})`, async () => {
      const proc = spawn(process.execPath, ['--import', 'tsx', child, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      proc.stdout.on('data', (chunk: Buffer) => (out += String(chunk)));
      proc.stderr.on('data', (chunk: Buffer) => (out += String(chunk)));
      const code = await new Promise<number | null | 'hung'>((resolve) => {
        const timer = setTimeout(() => {
          proc.kill('SIGKILL');
          resolve('hung');
        }, 20_000);
        proc.once('exit', (exitCode) => {
          clearTimeout(timer);
          resolve(exitCode);
        });
      });
      expect(out).toContain(`ready-to-exit ${mode}`);
      expect(code, out).toBe(0);
    });
  }
});
