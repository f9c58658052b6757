import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { SimulatedClock } from 'xstate';
import { createSessionManager, type SessionManager } from '../../src/index.js';
import { startUpstream, type Upstream } from '../../src/testing/index.js';

/**
 * Issue 12 Deliver 3, end to end and black-box (public API only): a WebSocket endpoint that
 * accepts every upgrade and drops the socket 300 ms (real time) later, 20 sessions taking turns
 * back to back. Upgrades are counted where they land: at the WebSocket server.
 */

const DROP_AFTER_MS = 300;
const SESSIONS = 20;
const CYCLES = 4;

interface FlappingServer {
  readonly url: string;
  /** Upgrade requests received. */
  upgrades: number;
  close(): Promise<void>;
}

/** Accepts every upgrade, never answers a turn, and drops the TCP connection `dropAfterMs` after opening. */
async function startFlappingServer(dropAfterMs: number): Promise<FlappingServer> {
  const http: Server = createServer((_, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http });
  const server = { url: '', upgrades: 0, close: async () => {} };
  http.on('upgrade', () => (server.upgrades += 1));
  wss.on('connection', (ws) => {
    const timer = setTimeout(() => ws.terminate(), dropAfterMs);
    ws.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return Object.assign(server, {
    url: `ws://127.0.0.1:${port}/v1/responses`,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  });
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const open: { manager?: SessionManager; upstream?: Upstream; ws?: FlappingServer } = {};

afterEach(async () => {
  await open.manager?.close();
  await open.upstream?.close();
  await open.ws?.close();
});

test(`20 sessions, sockets dropped ${DROP_AFTER_MS} ms after opening: at most 3 upgrades per cooldown cycle, every turn completes`, async () => {
  const clock = new SimulatedClock();
  clock.set(1_764_000_000_000);
  const upstream = (open.upstream = await startUpstream({ now: () => clock.now() }));
  const ws = (open.ws = await startFlappingServer(DROP_AFTER_MS));
  const manager = (open.manager = createSessionManager({
    clock,
    logger: silent,
    jitterSeed: 42,
    endpoints: { m: { wsUrl: ws.url, httpUrl: upstream.httpUrl, credentials: 'tok-flapping-0123456789' } },
  }));
  const sessions = Array.from({ length: SESSIONS }, (_, i) => manager.session(`s${i}`, 'm'));
  const body = { model: 'm', input: 'hello' };
  const failures: unknown[] = [];
  const perCycle: number[] = [];

  for (let cycle = 0; cycle < CYCLES; cycle++) {
    expect(manager.endpoint('m').state.status).toBe('probing');
    const before = ws.upgrades;
    let cooled = false;
    const deadline = Date.now() + 30_000;
    // Every session takes turns back to back until the endpoint cools down: while the probe's
    // socket is open (unproven), the others keep asking.
    await Promise.all(
      sessions.map(async (session) => {
        while (!cooled && Date.now() < deadline) {
          try {
            for await (const _event of session.stream(body)) void _event;
          } catch (error) {
            failures.push(error);
          }
          if (manager.endpoint('m').state.status === 'cooling-down') cooled = true;
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }),
    );
    expect(cooled, `cycle ${cycle}: the endpoint cooled down`).toBe(true);
    perCycle.push(ws.upgrades - before);
    clock.set(manager.endpoint('m').state.cooldownUntilMs!);
  }

  expect(failures).toEqual([]);
  expect(Math.max(...perCycle), `upgrades per cooldown cycle: ${perCycle.join(', ')}`).toBeLessThanOrEqual(3);
  expect(upstream.httpRequests).toBeGreaterThan(SESSIONS * CYCLES);
}, 120_000);
