import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock, waitFor } from 'xstate';
import { createCredentialActor } from '../../src/auth/credential-actor.js';
import { createCredentialRuntime } from '../../src/auth/credential-runtime.js';
import { fileCredentialStore } from '../../src/auth/file-store.js';
import { memoryCredentialStore } from '../../src/auth/memory-store.js';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import { signedInFile } from './support/fixture.js';
import { startTokenEndpoint } from './support/token-endpoint.js';
import { waitUntil } from './support/wait.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const pair = (n: number) => ({ access_token: `at-memory-${n}`, refresh_token: `rt-memory-${n}` });

describe('credential stores', () => {
  it('memory store: rotates once, answers the newer credentials to a stale rejection, refuses when empty', async () => {
    const store = memoryCredentialStore(pair(1));
    let calls = 0;
    const doRefresh = async () => {
      calls += 1;
      return pair(2);
    };
    const [a, b] = await Promise.all([store.rotate('at-memory-1', doRefresh), store.rotate('at-memory-1', doRefresh)]);
    expect(a).toEqual(pair(2));
    expect(b).toEqual(pair(2));
    expect(calls).toBe(1);
    await expect(memoryCredentialStore().rotate('x', doRefresh)).rejects.toMatchObject({ errorCode: 'credentials_missing' });
  });

  it('file store: a missing file reads as undefined and refuses to rotate; write() is atomic, 0600 and seen by watchers', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    const missing = fileCredentialStore(join(file.dir, 'nobody.json'));
    expect(await missing.read()).toBeUndefined();
    await expect(missing.rotate('x', async () => pair(1))).rejects.toMatchObject({ name: 'RefreshError', errorCode: 'credentials_missing' });

    const store = fileCredentialStore(file.path, { watchIntervalMs: 10 });
    let changes = 0;
    const unwatch = store.watch(() => (changes += 1));
    cleanups.push(unwatch);
    await store.write(pair(3));
    await waitUntil(() => changes > 0, 'the watcher saw the write');
    expect(await store.read()).toEqual(pair(3));
    expect((await stat(file.path)).mode & 0o777).toBe(0o600);
  });

  it('a malformed file is reported without its content', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    await writeFile(file.path, '{"access_token":"at-secret-123456"');
    const error = (await fileCredentialStore(file.path).read().catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(/not valid JSON/);
    expect(error.message).not.toContain('at-secret-123456');
    await writeFile(file.path, '{"access_token":"at-secret-123456"}');
    const shape = (await fileCredentialStore(file.path).read().catch((e: unknown) => e)) as Error;
    expect(shape.message).toBe('refresh_token is missing or not a string');
  });
});

describe('refresh ahead of expiry', () => {
  it('the chart refreshes refreshMarginMs before the expiry the token endpoint gave, with no rejection', async () => {
    const endpoint = await startTokenEndpoint({ expiresInSec: 3_600 });
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    const clock = new SimulatedClock();
    const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store: fileCredentialStore(file.path) });
    const runtime = createCredentialRuntime(source, { credentialId: 'codex', clock });
    cleanups.push(() => runtime.close());
    const { generation } = await runtime.current();
    const actor = createCredentialActor(runtime, { clock, jitterSeed: 2 });
    cleanups.push(() => actor.stop());
    expect(actor.getSnapshot().matches({ valid: 'expiring' })).toBe(true);
    // The wall-clock expiry from the file, turned into a lifetime for the chart.
    const expiresInMs = actor.getSnapshot().context.expiresInMs!;
    expect(expiresInMs).toBeGreaterThan(3_590_000);
    expect(expiresInMs).toBeLessThanOrEqual(3_600_000);

    // 5 min margin (the chart's default): nothing happens before expiry − 5 min.
    const due = expiresInMs - 300_000;
    clock.increment(due - 1);
    expect(actor.getSnapshot().matches({ valid: 'expiring' })).toBe(true);
    expect(endpoint.stats().refreshRequests).toBe(0);
    clock.increment(1);
    expect(actor.getSnapshot().matches('refreshing')).toBe(true);
    await waitFor(actor, (s) => s.matches('valid') && s.context.generation === generation + 1);
    expect(endpoint.stats()).toMatchObject({ refreshRequests: 1, issued: 1 });
    expect(actor.getSnapshot().context.expiresInMs).toBeGreaterThan(3_590_000);
    expect((await runtime.current()).token).toBe(endpoint.latest()!.access_token);
  });
});
