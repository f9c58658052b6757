import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock, waitFor } from 'xstate';
import { createCredentialActor } from '../../src/auth/credential-actor.js';
import { createCredentialRuntime } from '../../src/auth/credential-runtime.js';
import { fileCredentialStore } from '../../src/auth/file-store.js';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import { fakeSessions, signedInFile } from './support/fixture.js';
import { startTokenEndpoint } from './support/token-endpoint.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('a transient refresh failure', () => {
  it('503, 503, then 200: retried after growing backoffs on the simulated clock, never early, ends valid', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    endpoint.failNext(2, 503);

    const clock = new SimulatedClock();
    const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store: fileCredentialStore(file.path) });
    const runtime = createCredentialRuntime(source, { credentialId: 'codex', clock });
    cleanups.push(() => runtime.close());
    const { generation } = await runtime.current();
    const actor = createCredentialActor(runtime, { clock, jitterSeed: 11 });
    cleanups.push(() => actor.stop());
    const sessions = fakeSessions(1);
    cleanups.push(() => sessions.stop());

    actor.send({ type: 'REJECTED', session: sessions.refs[0]!, generation });
    const delays: number[] = [];
    for (let failure = 1; failure <= 2; failure++) {
      const retrying = await waitFor(actor, (s) => s.matches('retrying') && s.context.transientFailures === failure);
      const delay = retrying.context.retryDelayMs;
      delays.push(delay);
      expect(endpoint.stats().refreshRequests).toBe(failure);
      // One millisecond short of the backoff: still waiting, no request.
      clock.increment(delay - 1);
      expect(actor.getSnapshot().matches('retrying')).toBe(true);
      expect(endpoint.stats().refreshRequests).toBe(failure);
      clock.increment(1);
      expect(actor.getSnapshot().matches('refreshing')).toBe(true);
    }
    await waitFor(actor, (s) => s.matches('valid'));

    // Chart defaults: 1 s then 2 s nominal, jitter takes off at most 20 %.
    expect(delays[0]).toBeGreaterThanOrEqual(800);
    expect(delays[0]).toBeLessThanOrEqual(1_000);
    expect(delays[1]).toBeGreaterThanOrEqual(1_600);
    expect(delays[1]).toBeLessThanOrEqual(2_000);
    expect(endpoint.stats()).toMatchObject({ refreshRequests: 3, injectedFailures: 2, issued: 1, reused: 0 });
    expect(actor.getSnapshot().context.generation).toBe(generation + 1);
    expect((await runtime.current()).token).toBe(endpoint.latest()!.access_token);
    // The waiting session was told of the first failure (its turn fails over to its own policy).
    expect(sessions.replies[0]!.reply).toMatchObject({ type: 'CREDENTIAL.REFRESH_FAILED', summary: expect.stringContaining('HTTP 503') });
  });

  it('a token endpoint that does not answer is a transient failure with networkCode timeout or ECONNREFUSED', async () => {
    const endpoint = await startTokenEndpoint();
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    const url = endpoint.url;
    await endpoint.close();
    const source = oauthRefreshSource({ tokenUrl: url, clientId: 'test-client', store: fileCredentialStore(file.path) });
    await expect(source.refresh(file.initial.access_token)).rejects.toMatchObject({ name: 'RefreshError', networkCode: 'ECONNREFUSED' });

    const hanging = await startTokenEndpoint();
    cleanups.push(() => hanging.close());
    const file2 = await signedInFile(hanging);
    cleanups.push(() => file2.cleanup());
    void hanging.holdNext();
    const slow = oauthRefreshSource({ tokenUrl: hanging.url, clientId: hanging.clientId, store: fileCredentialStore(file2.path), timeoutMs: 200 });
    await expect(slow.refresh(file2.initial.access_token)).rejects.toMatchObject({ name: 'RefreshError', networkCode: 'timeout' });
  });
});
