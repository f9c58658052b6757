import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import { RefreshError } from '../../src/auth/credential-source.js';
import type { AuthEvent } from '../../src/auth/auth-events.js';
import type { StoredCredentials } from '../../src/auth/credential-store.js';
import { redisCredentialStore } from '../../src/stores/redis-credentials.js';
import { ConfigError } from '../../src/errors.js';
import { startTokenEndpoint, type TokenEndpoint } from '../auth/support/token-endpoint.js';
import { waitUntil } from '../auth/support/wait.js';
import { skipRedisSuites, startRedisServer, type RedisServer } from '../support/redis-server.js';
import type { RedisRefreshChildConfig } from './support/redis-refresh-child.js';

const KEY = randomBytes(32).toString('base64');
const OLD_KEY = randomBytes(32).toString('base64');

describe.skipIf(skipRedisSuites)('redisCredentialStore on a real redis-server', () => {
  let server: RedisServer;
  const clients: Redis[] = [];
  const cleanups: (() => unknown)[] = [];
  const connect = () => {
    const client = new Redis(server.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };
  let admin: Redis;
  let serial = 0;
  const freshId = () => `acct-${(serial += 1)}-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    server = await startRedisServer();
    admin = connect();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  afterAll(async () => {
    for (const client of clients) client.disconnect();
    await server?.stop();
  });

  async function signedIn(endpoint: TokenEndpoint, credentialId: string): Promise<StoredCredentials> {
    const pair = endpoint.signIn();
    await redisCredentialStore({ client: connect(), credentialId, encryptionKeys: [{ id: 'k1', key: KEY }] }).write(pair);
    return pair;
  }

  async function tokenEndpoint(): Promise<TokenEndpoint> {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    return endpoint;
  }

  it('seals tokens at rest with AES-256-GCM under the key id, opens them with a rotated-out key, and never shows them in errors', async () => {
    const id = freshId();
    const old = redisCredentialStore({ client: connect(), credentialId: id, encryptionKeys: [{ id: 'old', key: OLD_KEY }] });
    const secret = { access_token: `at_${randomBytes(8).toString('hex')}`, refresh_token: `rt_${randomBytes(8).toString('hex')}`, expires_at_ms: 1_800_000_000_000 };
    await old.write(secret);
    const raw = await admin.hget(`resilient-stream:credentials:{${id}}`, 'value');
    expect(raw).toMatch(/^rs1\.gcm:old:/);
    expect(raw).not.toContain(secret.access_token);
    expect(raw).not.toContain(secret.refresh_token);

    // Rotation: the new key first, the old one still listed: reads the old value, writes sealed with the new key.
    const rotated = redisCredentialStore({ client: connect(), credentialId: id, encryptionKeys: [{ id: 'new', key: KEY }, { id: 'old', key: OLD_KEY }] });
    expect(await rotated.read()).toEqual(secret);
    await rotated.write(secret);
    expect(await admin.hget(`resilient-stream:credentials:{${id}}`, 'value')).toMatch(/^rs1\.gcm:new:/);

    // A store without the key, or with another key, fails naming the key id, never the token.
    const keyless = redisCredentialStore({ client: connect(), credentialId: id });
    await expect(keyless.read()).rejects.toThrow(/key id new.*no encryptionKeys/);
    const other = redisCredentialStore({ client: connect(), credentialId: id, encryptionKeys: [{ id: 'new', key: OLD_KEY }] });
    const error = await other.read().then(() => undefined, (caught: unknown) => caught as RefreshError);
    expect(error?.errorCode).toBe('credentials_unreadable');
    expect(error?.message).toMatch(/does not open with key id new/);
    expect(error?.message).not.toContain(secret.refresh_token);

    // The Redis key is the associated data: a sealed value copied under another credential does not open.
    const copyId = freshId();
    await admin.hset(`resilient-stream:credentials:{${copyId}}`, 'value', raw!, 'version', '1');
    await expect(redisCredentialStore({ client: connect(), credentialId: copyId, encryptionKeys: [{ id: 'old', key: OLD_KEY }] }).read()).rejects.toThrow(/does not open/);
  });

  it('rejects bad options with a ConfigError naming the field, never echoing a key', () => {
    expect(() => redisCredentialStore({ client: connect(), credentialId: 'a', encryptionKeys: [{ id: 'k', key: 'c2hvcnQ=' }] })).toThrow(ConfigError);
    expect(() => redisCredentialStore({ client: connect(), credentialId: 'a', encryptionKeys: [{ id: 'k', key: 'c2hvcnQ=' }] })).toThrow(/encryptionKeys\[0\]\.key: expected 32 bytes.*got 5$/);
    expect(() => redisCredentialStore({ client: connect(), credentialId: '{a}' })).toThrow(/store\.credentialId/);
    expect(() => redisCredentialStore({ client: {} as never, credentialId: 'a' })).toThrow(/store\.client/);
  });

  it('8 instances (own connections) refreshing one rejected token make one token request, 0 refresh_token_reused, and all end on the new token', async () => {
    const endpoint = await tokenEndpoint();
    const id = freshId();
    const initial = await signedIn(endpoint, id);
    const sources = Array.from({ length: 8 }, () => {
      const store = redisCredentialStore({ client: connect(), credentialId: id, encryptionKeys: [{ id: 'k1', key: KEY }] });
      const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store });
      cleanups.push(source.onChange!(() => undefined));
      return source;
    });
    await Promise.all(sources.map((source) => source.token()));
    const held = endpoint.holdNext();
    const results = sources.map((source) => source.refresh(initial.access_token));
    (await held).release();
    const tokens = await Promise.all(results);
    expect(endpoint.stats()).toMatchObject({ refreshRequests: 1, issued: 1, reused: 0 });
    expect(new Set(tokens)).toEqual(new Set([endpoint.latest()!.access_token]));
    // The next token() of every instance is the new one, without a second request.
    for (const source of sources) expect(await source.token()).toBe(endpoint.latest()!.access_token);
  });

  it('publishes the rotation: an idle instance picks the new credential up through watch, without refreshing', async () => {
    const endpoint = await tokenEndpoint();
    const id = freshId();
    const initial = await signedIn(endpoint, id);
    const idle = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store: redisCredentialStore({ client: connect(), credentialId: id, encryptionKeys: [{ id: 'k1', key: KEY }] }) });
    let changed = 0;
    cleanups.push(idle.onChange!(() => (changed += 1)));
    expect(await idle.token()).toBe(initial.access_token);
    // The subscription is open once the dedicated connection subscribed.
    await waitUntil(async () => Number((await admin.call('PUBSUB', 'NUMSUB', `resilient-stream:credentials:{${id}}:changed`) as unknown[])[1]) === 1, 'the idle instance subscribed');
    // What anyone allowed to SUBSCRIBE sees: a version and an instance id, never a token.
    const spy = connect();
    const messages: string[] = [];
    spy.on('message', (_channel: string, message: string) => messages.push(message));
    await spy.subscribe(`resilient-stream:credentials:{${id}}:changed`);
    const busy = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store: redisCredentialStore({ client: connect(), credentialId: id, encryptionKeys: [{ id: 'k1', key: KEY }] }) });
    const fresh = await busy.refresh(initial.access_token);
    await waitUntil(() => changed === 1, 'the idle instance heard of the rotation', 5_000);
    await waitUntil(() => messages.length === 1, 'the spy heard it too', 5_000);
    expect(messages[0]).toMatch(/^\d+:[0-9a-f]{16}$/);
    for (const token of endpoint.allTokens()) expect(messages[0]).not.toContain(token);
    expect(await idle.token()).toBe(fresh);
    expect(endpoint.stats()).toMatchObject({ refreshRequests: 1, reused: 0 });
  });

  it('a holder whose lock lapsed and was outrun cannot overwrite the newer credential (fenced compare-and-write)', async () => {
    const id = freshId();
    const events: AuthEvent[] = [];
    const slow = redisCredentialStore({ client: connect(), credentialId: id, lockTtlMs: 60_000, onEvent: (event) => events.push(event) });
    const fast = redisCredentialStore({ client: connect(), credentialId: id });
    await slow.write({ access_token: 'at-0', refresh_token: 'rt-0' });
    let outrun!: () => void;
    const slowDone = slow.rotate('at-0', async () => {
      // The lock lapses under the slow holder (a GC pause, a partition): another instance rotates.
      await admin.del(`resilient-stream:credentials:{${id}}:lock`);
      await fast.rotate('at-0', async () => ({ access_token: 'at-fast', refresh_token: 'rt-fast' }));
      outrun();
      return { access_token: 'at-slow', refresh_token: 'rt-slow' };
    });
    await new Promise<void>((resolve) => (outrun = resolve));
    expect(await slowDone).toEqual({ access_token: 'at-fast', refresh_token: 'rt-fast' });
    expect(await fast.read()).toEqual({ access_token: 'at-fast', refresh_token: 'rt-fast' });
    expect(events.map((event) => event.type)).toContain('lock-compromised');
    // The fencing token is recorded with the credential: the fast holder's lock was taken after the slow one's.
    const [fence] = await admin.hmget(`resilient-stream:credentials:{${id}}`, 'fence');
    expect(Number(fence)).toBeGreaterThanOrEqual(2);
  });

  it('a lapsed lock whose credential nobody replaced still lands the only live refresh token', async () => {
    const id = freshId();
    const store = redisCredentialStore({ client: connect(), credentialId: id });
    await store.write({ access_token: 'at-0', refresh_token: 'rt-0' });
    const result = await store.rotate('at-0', async () => {
      await admin.del(`resilient-stream:credentials:{${id}}:lock`);
      return { access_token: 'at-1', refresh_token: 'rt-1' };
    });
    expect(result.access_token).toBe('at-1');
    expect(await store.read()).toEqual({ access_token: 'at-1', refresh_token: 'rt-1' });
  });

  it('refresh_token_reused re-reads the shared credential and answers a newer one instead of declaring reauth-required', async () => {
    const id = freshId();
    const events: AuthEvent[] = [];
    const store = redisCredentialStore({ client: connect(), credentialId: id, onEvent: (event) => events.push(event) });
    await store.write({ access_token: 'at-0', refresh_token: 'rt-0' });
    const result = await store.rotate('at-0', async () => {
      // A holder outside the lock rotated meanwhile and wrote its result straight to Redis.
      await admin.hset(`resilient-stream:credentials:{${id}}`, 'value', `rs1.plain:${JSON.stringify({ access_token: 'at-x', refresh_token: 'rt-x' })}`);
      throw new RefreshError('refresh_token_reused', { status: 401, errorCode: 'refresh_token_reused' });
    });
    expect(result.access_token).toBe('at-x');
    expect(events).toContainEqual({ type: 'reread-after-refusal', store: `redis:${id}`, foundNewer: true });
    // Nothing newer: the refusal is passed on as it came.
    await expect(store.rotate('at-x', async () => {
      throw new RefreshError('refresh_token_reused', { status: 401, errorCode: 'refresh_token_reused' });
    })).rejects.toMatchObject({ errorCode: 'refresh_token_reused' });
  });

  it('a Redis that does not answer is a transient failure (store_unavailable), not a reauth', async () => {
    const dead = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on('error', () => undefined);
    clients.push(dead);
    const store = redisCredentialStore({ client: dead, credentialId: 'gone', timeoutMs: 500 });
    await expect(store.rotate('at', async () => ({ access_token: 'x', refresh_token: 'y' }))).rejects.toMatchObject({ networkCode: 'store_unavailable' });
  });

  it('a lock holder SIGKILLed mid-refresh is survived after the lock TTL, with one token issued for the fleet and 0 refresh_token_reused', async () => {
    const endpoint = await tokenEndpoint();
    const id = freshId();
    const initial = await signedIn(endpoint, id);
    const config: RedisRefreshChildConfig = {
      redisUrl: server.url,
      credentialId: id,
      encryptionKey: KEY,
      tokenUrl: endpoint.url,
      clientId: endpoint.clientId,
      rejected: initial.access_token,
      lockTtlMs: 1_500,
    };
    const first = spawnChild(config);
    const second = spawnChild(config);
    cleanups.push(() => first.kill(), () => second.kill());
    await Promise.all([first.ready, second.ready]);
    const held = endpoint.holdNext();
    first.go();
    const request = await held;
    // The first child holds the lock and its request is at the endpoint: kill it there.
    second.go();
    await waitUntil(() => second.events().includes('lock-busy'), 'the second child waits on the lock');
    const killedAt = Date.now();
    first.kill();
    await request.abandoned;
    const result = await second.result;
    expect(result).toMatchObject({ ok: true, accessToken: endpoint.latest()!.access_token });
    // It waited for the lapse (TTL 1.5 s), not for lockWaitMs (130 s); generous for a loaded machine.
    expect(Date.now() - killedAt).toBeLessThan(60_000);
    expect(endpoint.stats()).toMatchObject({ issued: 1, reused: 0, abandoned: 1 });
  }, 90_000);

  function spawnChild(config: RedisRefreshChildConfig) {
    const script = fileURLToPath(new URL('./support/redis-refresh-child.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { env: { ...process.env, REDIS_REFRESH_CHILD: JSON.stringify(config) }, stdio: ['pipe', 'pipe', 'pipe'] });
    const lines: { type: string; event?: AuthEvent; ok?: boolean; accessToken?: string }[] = [];
    let onReady!: () => void;
    let onResult!: (line: unknown) => void;
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    const result = new Promise<unknown>((resolve) => (onResult = resolve));
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    createInterface({ input: child.stdout }).on('line', (text) => {
      try {
        const line = JSON.parse(text) as (typeof lines)[number];
        lines.push(line);
        if (line.type === 'ready') onReady();
        if (line.type === 'result') onResult(line);
      } catch {
        // Not ours.
      }
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return {
      ready,
      result,
      go: () => child.stdin.write('go\n'),
      events: () => lines.filter((line) => line.type === 'event').map((line) => line.event!.type),
      stderr: () => stderr,
      kill: async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
  }
});
