import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startUpstream, type Upstream } from '../../src/testing/index.js';
import { redisCredentialStore } from '../../src/stores/redis-credentials.js';
import { startTokenEndpoint, type TokenEndpoint } from '../auth/support/token-endpoint.js';
import { waitUntil } from '../auth/support/wait.js';
import { skipRedisSuites, startRedisServer, type RedisServer } from '../support/redis-server.js';
import type { GatewayChildConfig } from './support/gateway-child.js';

/**
 * A real fleet: 8 Node processes × 50 sessions, one real redis-server, one loopback upstream.
 * Each scenario uses its own endpoint (model), so their histories do not mix. The policy is
 * short (cooldown 2 s doubling to 4 s, no jitter; upgrade timeout 6 s, so the probe lease is
 * 8 s: generous, as a loaded 2-core machine answers Redis in seconds, not ms) so the suite runs
 * in about a minute. Every figure is printed with a `[fleet]` prefix.
 */

const PROCESSES = 8;
const SESSIONS = 50;
const COOLDOWN_MS = 2_000;
const UPGRADE_TIMEOUT_MS = 6_000;
const LEASE_MS = UPGRADE_TIMEOUT_MS + 2_000;
const STATIC_TOKEN = 'static-fleet-token';
const MODELS = { healthy: 'm-ok', failing: 'm-500', auth: 'm-auth', redis: 'm-redis', lease: 'm-lease' } as const;

type Line = { type: string; id?: number; [key: string]: unknown };

interface Child {
  readonly index: number;
  readonly process: ChildProcess;
  readonly lines: Line[];
  readonly ready: Promise<void>;
  send(command: object): void;
  next(type: string, id: number): Promise<Line>;
  kill(): Promise<void>;
  readonly alive: boolean;
}

function spawnChild(config: GatewayChildConfig): Child {
  const script = fileURLToPath(new URL('./support/gateway-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, FLEET_CHILD: JSON.stringify(config) }, stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Line[] = [];
  const waiters: { type: string; id: number; resolve: (line: Line) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let onReady!: () => void;
  const ready = new Promise<void>((resolve, reject) => {
    onReady = resolve;
    child.once('exit', (code, signal) => reject(new Error(`child ${config.index} exited (${code ?? signal}) before ready:\n${stderr}`)));
  });
  ready.catch(() => undefined);
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Line;
    try {
      line = JSON.parse(text) as Line;
    } catch {
      return;
    }
    lines.push(line);
    if (line.type === 'ready') onReady();
    for (const waiter of [...waiters]) {
      if (waiter.type === line.type && waiter.id === line.id) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      // A killed child answers nothing more: its pending requests resolve as `exited`.
      for (const waiter of waiters.splice(0)) waiter.resolve({ type: waiter.type, id: waiter.id, exited: true });
      resolve();
    }),
  );
  child.stdin!.on('error', () => undefined);
  return {
    index: config.index,
    process: child,
    lines,
    ready,
    send: (command) => child.stdin!.write(`${JSON.stringify(command)}\n`),
    next: (type, id) => new Promise((resolve) => waiters.push({ type, id, resolve })),
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    get alive() {
      return child.exitCode === null && child.signalCode === null;
    },
  };
}

interface RoundResult {
  readonly child: number;
  readonly completed: number;
  readonly websocket: number;
  readonly http: number;
  readonly failed: string[];
}

describe.skipIf(skipRedisSuites)('a fleet of 8 real gateway processes × 50 sessions on one real redis-server', () => {
  let redis: RedisServer;
  let upstream: Upstream;
  let tokens: TokenEndpoint;
  let admin: Redis;
  let children: Child[] = [];
  let expire: () => void = () => undefined;
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  const allCompleted = (results: RoundResult[]) => results.every((r) => r.completed === SESSIONS);
  const firstFailures = (results: RoundResult[]) => JSON.stringify(results.filter((r) => r.completed !== SESSIONS).slice(0, 2));
  let serial = 0;
  const keyPrefix = `fleet-${randomBytes(3).toString('hex')}:`;
  const endpointKey = (model: string) => `openai/${model}/acct-1`;
  const live = () => children.filter((child) => child.alive);
  const staleRetries = new Map<number, number>();

  /** One round: every live child runs one turn on each of its sessions at once. */
  async function round(model: string): Promise<RoundResult[]> {
    const id = (serial += 1);
    const results = await Promise.all(
      live().map(async (child) => {
        const reply = child.next('round', id);
        child.send({ cmd: 'round', id, endpoint: endpointKey(model) });
        const line = await reply;
        if (line.exited) return undefined;
        staleRetries.set(child.index, Number(line.staleSocketRetries));
        return { child: child.index, completed: Number(line.completed), websocket: Number(line.websocket), http: Number(line.http), failed: line.failed as string[] };
      }),
    );
    return results.filter((result): result is RoundResult => result !== undefined);
  }

  /** Rounds back to back until `until()` or `maxMs`, with `gapMs` between them. */
  async function rounds(model: string, options: { durationMs: number; gapMs?: number; during?: () => Promise<void> }): Promise<RoundResult[]> {
    const results: RoundResult[] = [];
    const deadline = Date.now() + options.durationMs;
    let running = true;
    const driver = (async () => {
      while (running && Date.now() < deadline) {
        results.push(...(await round(model)));
        await new Promise((resolve) => setTimeout(resolve, options.gapMs ?? 200));
      }
    })();
    try {
      await (options.during?.() ?? new Promise((resolve) => setTimeout(resolve, options.durationMs)));
    } finally {
      // The condition holds (or failed): finish the round in progress, start no other.
      running = false;
      await driver;
    }
    return results;
  }

  const upgradesOf = (model: string, sinceMs = 0) => upstream.log.filter((entry) => entry.kind === 'upgrade' && entry.model === model && entry.atMs >= sinceMs);
  const transitions = (model: string) =>
    children.flatMap((child) => child.lines.filter((line) => line.type === 'transition' && line.endpoint === endpointKey(model)).map((line) => ({ child: child.index, to: String(line.to), wallMs: Number(line.wallMs) })));
  const gapsOf = (times: number[]) => times.slice(1).map((time, i) => time - times[i]!);

  beforeAll(async () => {
    redis = await startRedisServer();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    admin.on('error', () => undefined);
    tokens = await startTokenEndpoint({ expiresInSec: 3_600 });
    const signedIn = tokens.signIn();
    let current = signedIn.access_token;
    upstream = await startUpstream({
      modes: { [MODELS.failing]: { upgradeStatus: 500 }, [MODELS.auth]: { upgradeStatus: 426 }, [MODELS.redis]: { upgradeStatus: 500 }, [MODELS.lease]: 'hang' },
      acceptToken: (token) => token === STATIC_TOKEN || token === current,
      logLimit: 1_000_000,
      deltasPerTurn: 1,
    });
    // The account's access token expires: the upstream refuses it from now on (401).
    expire = () => {
      current = '';
      upstream.setAcceptToken((token) => token === STATIC_TOKEN || (token === tokens.latest()?.access_token && token !== signedIn.access_token));
    };
    const encryptionKey = randomBytes(32).toString('base64');
    const credentialId = 'acct-1';
    const seed = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    seed.on('error', () => undefined);
    await redisCredentialStore({ client: seed, credentialId, keyPrefix: `${keyPrefix}cred:`, encryptionKeys: [{ id: 'k1', key: encryptionKey }] }).write(signedIn);
    seed.disconnect();
    const endpoints = Object.fromEntries(Object.values(MODELS).map((model) => [endpointKey(model), upstream.wsUrl(model)]));
    const startedAt = Date.now();
    children = Array.from({ length: PROCESSES }, (_, index) =>
      spawnChild({
        index,
        redisUrl: redis.url,
        keyPrefix,
        httpUrl: upstream.httpUrl,
        endpoints,
        staticToken: STATIC_TOKEN,
        authEndpoint: endpointKey(MODELS.auth),
        tokenUrl: tokens.url,
        clientId: tokens.clientId,
        credentialId,
        encryptionKey,
        sessions: SESSIONS,
        policy: {
          cooldown: { initialMs: COOLDOWN_MS, maxMs: 2 * COOLDOWN_MS, multiplier: 2, jitterRatio: 0 },
          upgradeTimeoutMs: UPGRADE_TIMEOUT_MS,
          upgradeBudgetMs: 1_000,
          minUptimeMs: 500,
          firstEventTimeoutMs: 20_000,
        },
      }),
    );
    await Promise.all(children.map((child) => child.ready));
    console.log(`[fleet] ${PROCESSES} gateway processes ready in ${Date.now() - startedAt} ms`);
  }, 120_000);

  afterAll(async () => {
    console.log(`[fleet] turns retried after a stale keep-alive connection (UND_ERR_SOCKET or ECONNRESET before any event): ${[...staleRetries.values()].reduce((a, b) => a + b, 0)}`);
    for (const child of children) await child.kill();
    admin?.disconnect();
    await upstream?.close();
    await tokens?.close();
    await redis?.stop();
  });

  const warnLines = () => children.flatMap((child) => child.lines.filter((line) => line.type === 'log' && line.level === 'warn').map((line) => `child ${child.index}: ${String(line.msg)}`));

  it('a healthy fleet starts without a warn line: one probe, then every instance on WebSocket', async () => {
    const startedAt = Date.now();
    const results = await rounds(MODELS.healthy, {
      durationMs: 60_000,
      gapMs: 1_000,
      during: () =>
        waitUntil(() => new Set(transitions(MODELS.healthy).filter((t) => t.to === 'healthy.stable').map((t) => t.child)).size === PROCESSES, 'every instance is healthy', 60_000).catch((error: unknown) => {
          throw new Error(`${String(error)}\n${warnLines().join('\n')}`);
        }),
    });
    const next = await round(MODELS.healthy);
    const probes = upgradesOf(MODELS.healthy).filter((entry) => entry.atMs <= Math.min(...transitions(MODELS.healthy).filter((t) => t.to === 'healthy.stable').map((t) => t.wallMs)));
    console.log(`[fleet] healthy start: every instance healthy after ${Date.now() - startedAt} ms, ${probes.length} probe(s) before the first proof, ${results.length} process-rounds; then ${next.reduce((s, r) => s + r.websocket, 0)} of ${PROCESSES * SESSIONS} turns over WebSocket; warn lines: ${warnLines().length}\n${warnLines().join('\n')}`);
    expect(results.every((r) => r.completed === SESSIONS), JSON.stringify(results.filter((r) => r.completed !== SESSIONS).slice(0, 2))).toBe(true);
    // Every instance is on WebSocket (a turn whose upgrade outlasts upgradeBudgetMs on a starved machine goes over HTTP meanwhile).
    expect(next.every((r) => r.completed === SESSIONS && r.websocket > 0), JSON.stringify(next)).toBe(true);
    // No false alarm: no process says Redis failed, and none says the store refused it a probe
    // while the fleet's first probe was still going well. (On a machine so starved that the first
    // probe itself times out, the others' waits end first and they are told so: that is a real
    // failure, reported as "upgrade timed out", and then the refusal lines are not false.)
    const lines = warnLines();
    expect(lines.filter((line) => /Redis unavailable/.test(line))).toEqual([]);
    const probeFailed = lines.some((line) => /upgrade timed out|upgrade answered/.test(line));
    if (!probeFailed) expect(lines.filter((line) => /probe refused by the shared store/.test(line))).toEqual([]);
  }, 90_000);

  it('upgrade answering 500: at most one upgrade per cooldown window for the whole fleet, every turn completes over HTTP; then the upstream heals: one probe succeeds and every instance is back on WebSocket within the propagation bound', async () => {
    const startedAt = Date.now();
    const failing = await rounds(MODELS.failing, { durationMs: 9_000 });
    const turns = failing.reduce((sum, r) => sum + r.completed, 0);
    expect(failing.every((r) => r.completed === SESSIONS), JSON.stringify(failing.filter((r) => r.completed !== SESSIONS).slice(0, 3))).toBe(true);
    expect(failing.every((r) => r.http === SESSIONS)).toBe(true);
    const upgrades = upgradesOf(MODELS.failing).map((entry) => entry.atMs);
    const gaps = gapsOf(upgrades);
    console.log(`[fleet] 500 phase: ${turns} turns over HTTP in ${Date.now() - startedAt} ms, ${upgrades.length} upgrades for the fleet, gaps ${gaps.join(', ')} ms`);
    expect(upgrades.length).toBeGreaterThanOrEqual(2);
    expect(upgrades.length).toBeLessThanOrEqual(Math.ceil((Date.now() - startedAt) / COOLDOWN_MS) + 1);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(COOLDOWN_MS - 100);


    // Heal: the next probe succeeds, its process proves it (minUptimeMs), and the push brings everyone back.
    const healedAt = Date.now();
    upstream.heal(MODELS.failing);
    await rounds(MODELS.failing, {
      durationMs: 30_000,
      during: () => waitUntil(() => new Set(transitions(MODELS.failing).filter((t) => t.wallMs >= healedAt && t.to.startsWith('healthy')).map((t) => t.child)).size === PROCESSES, 'every instance is healthy', 30_000),
    }).catch(() => []);
    const healthy = transitions(MODELS.failing).filter((t) => t.wallMs >= healedAt && t.to === 'healthy.stable');
    const proven = Math.min(...healthy.map((t) => t.wallMs));
    const propagationMs = Math.max(...[...new Set(healthy.map((t) => t.child))].map((child) => Math.min(...healthy.filter((t) => t.child === child).map((t) => t.wallMs)))) - proven;
    const probesAfterHeal = upgradesOf(MODELS.failing, healedAt).filter((entry) => entry.atMs <= proven);
    console.log(`[fleet] heal: ${probesAfterHeal.length} probe(s) before the endpoint was proven; every instance healthy ${propagationMs} ms after the first (push)`);
    expect(probesAfterHeal).toHaveLength(1);
    expect(probesAfterHeal[0]!.status).toBe(101);
    // Redis carries a push in ms (redis-push.test.ts measures it); here the bound also covers each
    // starved child's event loop and its stdout, on a loaded 2-core machine: generous.
    expect(propagationMs).toBeLessThanOrEqual(5_000);
    // Next turns: every instance streams over WebSocket.
    await round(MODELS.failing);
    const back = await round(MODELS.failing);
    console.log(`[fleet] after heal: ${back.reduce((s, r) => s + r.websocket, 0)} of ${back.length * SESSIONS} turns over WebSocket`);
    expect(back.every((r) => r.completed === SESSIONS && r.websocket > 0)).toBe(true);
    expect(upgradesOf(MODELS.failing, healedAt).every((entry) => entry.status === 101)).toBe(true);
  }, 90_000);

  it('a token expires: one token request for the whole fleet, 0 refresh_token_reused, every turn completes', async () => {
    const before = await round(MODELS.auth);
    expect(allCompleted(before), firstFailures(before)).toBe(true);
    expect(tokens.stats().refreshRequests).toBe(0);
    expire();
    const after = [...(await round(MODELS.auth)), ...(await round(MODELS.auth))];
    const stats = tokens.stats();
    console.log(`[fleet] token expiry: ${after.reduce((s, r) => s + r.completed, 0)} of ${after.length * SESSIONS} turns completed after it; token endpoint saw ${stats.refreshRequests} refresh request(s), ${stats.issued} issued, ${stats.reused} refresh_token_reused`);
    expect(allCompleted(after), firstFailures(after)).toBe(true);
    expect(stats).toMatchObject({ refreshRequests: 1, issued: 1, reused: 0 });
  }, 90_000);

  it('redis-server SIGKILLed mid-run and restarted: no turn lost, no upgrade storm, one outage line and one recovery line per process, state resynced', async () => {
    const port = redis.port;
    const startedAt = Date.now();
    let killedAt = 0;
    let restartedAt = 0;
    const results = await rounds(MODELS.redis, {
      durationMs: 120_000,
      during: async () => {
        await sleep(3_000);
        killedAt = Date.now();
        await redis.kill();
        await sleep(4_000);
        redis = await startRedisServer(undefined, { port });
        restartedAt = Date.now();
        await waitUntil(async () => Number(((await admin.call('PUBSUB', 'NUMSUB', `${keyPrefix}__health__`).catch(() => [0, 0])) as unknown[])[1]) === live().length, 'every subscriber is back', 30_000);
        // Back on its feet: the fleet's cooldown is in Redis again (written again, or by the next failure).
        await waitUntil(async () => (await admin.hget(`${keyPrefix}${endpointKey(MODELS.redis)}`, 'cooldown').catch(() => null)) !== null, 'the endpoint state is back in Redis', 30_000);
        await sleep(3_000);
      },
    });
    const upgrades = upgradesOf(MODELS.redis, startedAt).map((entry) => entry.atMs);
    const gaps = gapsOf(upgrades);
    const outage = (child: Child) => child.lines.filter((line) => line.type === 'log' && /Redis unavailable/.test(String(line.msg))).length;
    const recovery = (child: Child) => child.lines.filter((line) => line.type === 'log' && /Redis answers again/.test(String(line.msg))).length;
    await waitUntil(() => live().every((child) => outage(child) === recovery(child)), 'every process that logged the outage logged the recovery', 30_000).catch(() => undefined);
    console.log(
      `[fleet] redis SIGKILL: down ${restartedAt - killedAt} ms; ${results.reduce((s, r) => s + r.completed, 0)} of ${results.length * SESSIONS} turns completed; ${upgrades.length} upgrades in ${Date.now() - startedAt} ms, gaps ${gaps.join(', ')} ms; outage/recovery lines per process ${live().map((c) => `${outage(c)}/${recovery(c)}`).join(' ')}`,
    );
    expect(allCompleted(results), firstFailures(results)).toBe(true);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(COOLDOWN_MS - 100);
    expect(upgrades.length).toBeLessThanOrEqual(Math.ceil((Date.now() - startedAt) / COOLDOWN_MS) + 1);
    for (const child of live()) {
      expect(outage(child)).toBeLessThanOrEqual(1);
      expect(recovery(child)).toBe(outage(child));
    }
  }, 150_000);

  it('the probe-lease holder SIGKILLed while probing: another instance probes once, after the lease TTL', async () => {
    let holder: Child | undefined;
    const inFlight = (child: Child) => {
      const last = child.lines.filter((line) => line.type === 'transition' && line.endpoint === endpointKey(MODELS.lease)).at(-1);
      return last?.to === 'probing.probeInFlight';
    };
    const results = await rounds(MODELS.lease, {
      durationMs: 120_000,
      during: async () => {
        await waitUntil(() => (holder = live().find(inFlight)) !== undefined, 'one instance holds the probe', 30_000);
        await waitUntil(() => upgradesOf(MODELS.lease).length >= 1, 'its upgrade hangs at the upstream', 30_000);
        await holder!.kill();
        await waitUntil(() => upgradesOf(MODELS.lease).length >= 2, 'another instance probes', 60_000);
        await sleep(1_500);
      },
    });
    const times = upgradesOf(MODELS.lease).map((entry) => entry.atMs);
    console.log(`[fleet] lease holder SIGKILL: next probe ${times[1]! - times[0]!} ms after the killed one's (lease ${LEASE_MS} ms); upgrades within 1.5 s after it: ${times.filter((t) => t > times[1]! && t <= times[1]! + 1_500).length}`);
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(LEASE_MS - 1_000);
    expect(times.filter((t) => t <= times[1]! + 1_500)).toHaveLength(2);
    expect(allCompleted(results.filter((r) => r.child !== holder!.index)), firstFailures(results)).toBe(true);
  }, 150_000);
});
