import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createCredentialActor } from '../../src/auth/credential-actor.js';
import { createCredentialRuntime } from '../../src/auth/credential-runtime.js';
import { fileCredentialStore } from '../../src/auth/file-store.js';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import { staticToken } from '../../src/auth/static-token.js';
import { fakeSessions, signedInFile } from './support/fixture.js';
import { startTokenEndpoint } from './support/token-endpoint.js';
import { waitUntil } from './support/wait.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('refresh is single flight inside one process', () => {
  it('50 sessions rejecting one generation make exactly one refresh request, and all 50 hear REFRESHED', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store: fileCredentialStore(file.path) });
    const runtime = createCredentialRuntime(source, { credentialId: 'codex', clock: { now: () => Date.now() } });
    cleanups.push(() => runtime.close());
    const { generation } = await runtime.current();
    const actor = createCredentialActor(runtime, { jitterSeed: 7 });
    cleanups.push(() => actor.stop());
    const sessions = fakeSessions(50);
    cleanups.push(() => sessions.stop());

    // Hold the one refresh at the endpoint until every session is queued behind it, so all
    // 50 rejections are truly concurrent with the refresh in flight.
    const held = endpoint.holdNext();
    for (const session of sessions.refs) actor.send({ type: 'REJECTED', session, generation });
    (await held).release();

    await waitUntil(() => sessions.replies.length === 50, 'all 50 sessions got a reply');
    expect(endpoint.stats().refreshRequests).toBe(1);
    expect(endpoint.stats().issued).toBe(1);
    expect(new Set(sessions.replies.map((r) => r.session)).size).toBe(50);
    for (const { reply } of sessions.replies) expect(reply).toMatchObject({ type: 'CREDENTIAL.REFRESHED', generation: generation + 1 });

    const now = await runtime.current();
    expect(now).toEqual({ token: endpoint.latest()!.access_token, generation: generation + 1 });
    expect(JSON.parse(await readFile(file.path, 'utf8')).access_token).toBe(endpoint.latest()!.access_token);
    expect(actor.getSnapshot().context.refreshesStarted).toBe(1);

    // A straggler reporting the old generation is answered at once, without a request.
    const late = fakeSessions(1);
    cleanups.push(() => late.stop());
    actor.send({ type: 'REJECTED', session: late.refs[0]!, generation });
    await waitUntil(() => late.replies.length === 1, 'the straggler got a reply');
    expect(late.replies[0]!.reply).toMatchObject({ type: 'CREDENTIAL.REFRESHED', generation: generation + 1 });
    expect(endpoint.stats().refreshRequests).toBe(1);
  });

  it('two refresh() calls on one source share one promise', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store: fileCredentialStore(file.path) });
    const a = source.refresh(file.initial.access_token);
    const b = source.refresh(file.initial.access_token);
    expect(a).toBe(b);
    await a;
    expect(endpoint.stats().refreshRequests).toBe(1);
  });

  it('two sources sharing one file in one process refresh once between them', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    const make = () => oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store: fileCredentialStore(file.path) });
    const [first, second] = [make(), make()];
    const tokens = await Promise.all([first.refresh(file.initial.access_token), second.refresh(file.initial.access_token)]);
    expect(tokens[0]).toBe(endpoint.latest()!.access_token);
    expect(tokens[1]).toBe(tokens[0]);
    expect(endpoint.stats()).toMatchObject({ refreshRequests: 1, issued: 1, reused: 0 });
  });

  it('a static token keeps its generation: the session’s one retry fails instead of looping', async () => {
    const runtime = createCredentialRuntime(staticToken('sk-static-key-123456'), { credentialId: 'static', clock: { now: () => 0 } });
    cleanups.push(() => runtime.close());
    const { generation } = await runtime.current();
    const actor = createCredentialActor(runtime, { jitterSeed: 1 });
    cleanups.push(() => actor.stop());
    const sessions = fakeSessions(1);
    cleanups.push(() => sessions.stop());
    actor.send({ type: 'REJECTED', session: sessions.refs[0]!, generation });
    await waitUntil(() => sessions.replies.length === 1, 'the session got a reply');
    // Same generation: nothing new to try. The session chart retries a turn once after a
    // refresh, so the second 401 fails the turn.
    expect(sessions.replies[0]!.reply).toMatchObject({ type: 'CREDENTIAL.REFRESHED', generation });
    expect(runtime.generation()).toBe(generation);
  });
});
