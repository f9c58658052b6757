import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuthEvent } from '../../src/auth/auth-events.js';
import { createCredentialActor } from '../../src/auth/credential-actor.js';
import { createCredentialRuntime } from '../../src/auth/credential-runtime.js';
import { fileCredentialStore } from '../../src/auth/file-store.js';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import { fakeSessions, signedInFile } from './support/fixture.js';
import { startTokenEndpoint } from './support/token-endpoint.js';
import { waitUntil } from './support/wait.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('a reused refresh token', () => {
  it('ends in reauthRequired after one re-read and no retries, and a sign-in that rewrites the file brings it back', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    // Another holder outside the protocol (a copied profile) already spent the refresh token
    // and never wrote the result here: the incident's `refresh_token_reused`.
    endpoint.spend(file.initial.refresh_token);

    const events: AuthEvent[] = [];
    const onEvent = (event: AuthEvent) => events.push(event);
    const store = fileCredentialStore(file.path, { watchIntervalMs: 20, onEvent });
    const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store, onEvent });
    const runtime = createCredentialRuntime(source, { credentialId: 'codex', clock: { now: () => Date.now() }, onEvent });
    cleanups.push(() => runtime.close());
    const { generation } = await runtime.current();
    const actor = createCredentialActor(runtime, { jitterSeed: 3, onEvent });
    cleanups.push(() => actor.stop());
    const sessions = fakeSessions(3);
    cleanups.push(() => sessions.stop());

    actor.send({ type: 'REJECTED', session: sessions.refs[0]!, generation });
    await waitUntil(() => actor.getSnapshot().matches('reauthRequired'), 'the chart requires a sign-in');
    expect(endpoint.stats()).toMatchObject({ refreshRequests: 1, reused: 1, issued: 0 });
    expect(events.filter((e) => e.type === 'reread-after-refusal')).toEqual([{ type: 'reread-after-refusal', store: file.path, foundNewer: false }]);
    expect(sessions.replies).toHaveLength(1);
    expect(sessions.replies[0]!.reply).toMatchObject({ type: 'CREDENTIAL.REAUTH_REQUIRED', summary: expect.stringContaining('refresh_token_reused') });
    const reauth = events.filter((e) => e.type === 'reauth-required');
    expect(reauth).toHaveLength(1);
    expect(reauth[0]).toMatchObject({ credentialId: 'codex', summary: expect.stringContaining('sign in again') });

    // No retry storm: every later rejection or check is answered from the chart.
    for (let round = 0; round < 20; round++) {
      for (const session of sessions.refs) {
        actor.send({ type: 'REJECTED', session, generation });
        actor.send({ type: 'CHECK', session });
      }
    }
    await waitUntil(() => sessions.replies.length === 1 + 20 * 3 * 2, 'every session got its answers');
    expect(sessions.replies.slice(1).every((r) => r.reply.type === 'CREDENTIAL.REAUTH_REQUIRED')).toBe(true);
    expect(endpoint.stats().refreshRequests).toBe(1);
    expect(actor.getSnapshot().context.refreshesStarted).toBe(1);

    // A person signs in again: the file is rewritten in place, as a CLI would. No restart.
    const changes: number[] = [];
    runtime.onChange((gen) => changes.push(gen));
    const signedIn = endpoint.signIn();
    await writeFile(file.path, JSON.stringify(signedIn));
    await waitUntil(() => actor.getSnapshot().matches('valid'), 'the chart picked up the new credentials');
    expect(changes).toEqual([generation + 1]);
    expect(actor.getSnapshot().context.generation).toBe(generation + 1);
    expect(events.filter((e) => e.type === 'reauth-cleared')).toEqual([{ type: 'reauth-cleared', credentialId: 'codex', generation: generation + 1 }]);
    expect(await runtime.current()).toEqual({ token: signedIn.access_token, generation: generation + 1 });

    // And the new refresh token works when its access token is rejected.
    const before = sessions.replies.length;
    actor.send({ type: 'REJECTED', session: sessions.refs[1]!, generation: generation + 1 });
    await waitUntil(() => sessions.replies.length === before + 1, 'the session got a reply');
    expect(sessions.replies.at(-1)!.reply).toMatchObject({ type: 'CREDENTIAL.REFRESHED', generation: generation + 2 });
    expect(endpoint.stats()).toMatchObject({ refreshRequests: 2, reused: 1, issued: 1 });
    expect((await runtime.current()).token).toBe(endpoint.latest()!.access_token);
  });

  it('a refusal after another process rotated outside the lock is rescued by the re-read', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    const events: AuthEvent[] = [];
    const store = fileCredentialStore(file.path, { onEvent: (e) => events.push(e) });
    const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store });

    // A tool that ignores the lock refreshes while ours is in flight and writes its result.
    const held = endpoint.holdNext();
    const ours = source.refresh(file.initial.access_token);
    const request = await held;
    const outsider = await fetch(endpoint.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: file.initial.refresh_token, client_id: endpoint.clientId }),
    });
    const rotated = (await outsider.json()) as { access_token: string; refresh_token: string };
    await writeFile(file.path, JSON.stringify({ access_token: rotated.access_token, refresh_token: rotated.refresh_token }));
    request.release();

    expect(await ours).toBe(rotated.access_token);
    expect(events.filter((e) => e.type === 'reread-after-refusal')).toEqual([{ type: 'reread-after-refusal', store: file.path, foundNewer: true }]);
    expect(endpoint.stats()).toMatchObject({ refreshRequests: 2, issued: 1, reused: 1 });
  });
});

describe('credentials that change while a refresh is in flight', () => {
  it('a sign-in during a refresh ends it at once; the refresh that finishes later still reaches the chart as a change', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    const store = fileCredentialStore(file.path, { watchIntervalMs: 10 });
    const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store });
    const runtime = createCredentialRuntime(source, { credentialId: 'codex', clock: { now: () => Date.now() } });
    cleanups.push(() => runtime.close());
    const { generation } = await runtime.current();
    const actor = createCredentialActor(runtime, { jitterSeed: 9 });
    cleanups.push(() => actor.stop());
    const sessions = fakeSessions(1);
    cleanups.push(() => sessions.stop());

    const held = endpoint.holdNext();
    actor.send({ type: 'REJECTED', session: sessions.refs[0]!, generation });
    const request = await held;
    // A person signs in while the refresh hangs (a tool that ignores the lock writes the file).
    const signedIn = endpoint.signIn();
    await writeFile(file.path, JSON.stringify(signedIn));
    await waitUntil(() => sessions.replies.length === 1, 'the waiting session was answered');
    expect(sessions.replies[0]!.reply).toMatchObject({ type: 'CREDENTIAL.REFRESHED', generation: generation + 1 });
    expect(actor.getSnapshot().matches('valid')).toBe(true);

    // The hung refresh completes after all: its tokens are valid and stored, and the chart hears of them.
    request.release();
    await waitUntil(() => actor.getSnapshot().context.generation === generation + 2, 'the chart adopted the late refresh');
    expect(runtime.generation()).toBe(generation + 2);
    expect((await runtime.current()).token).toBe(endpoint.latest()!.access_token);
    expect(JSON.parse(await readFile(file.path, 'utf8')).access_token).toBe(endpoint.latest()!.access_token);
    expect(endpoint.stats()).toMatchObject({ refreshRequests: 1, issued: 1, reused: 0 });
  });
});
