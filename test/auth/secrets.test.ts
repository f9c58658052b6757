import { chmod, stat, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { SimulatedClock, waitFor } from 'xstate';
import { formatAuthEvent, type AuthEvent } from '../../src/auth/auth-events.js';
import { createCredentialActor } from '../../src/auth/credential-actor.js';
import { createCredentialRuntime } from '../../src/auth/credential-runtime.js';
import { parseCredentialsText } from '../../src/auth/credential-store.js';
import { fileCredentialStore } from '../../src/auth/file-store.js';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import { fakeSessions, signedInFile } from './support/fixture.js';
import { startTokenEndpoint } from './support/token-endpoint.js';

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('secrets stay secret', () => {
  it('the credentials file is rewritten with mode 0600, even if it was readable by others before', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint, 0o644);
    cleanups.push(() => file.cleanup());
    await chmod(file.path, 0o644);
    const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store: fileCredentialStore(file.path) });
    await source.refresh(file.initial.access_token);
    expect((await stat(file.path)).mode & 0o777).toBe(0o600);
  });

  it('no token appears in any error message, chart snapshot, reply, auth event or log line', async () => {
    const endpoint = await startTokenEndpoint();
    cleanups.push(() => endpoint.close());
    const file = await signedInFile(endpoint);
    cleanups.push(() => file.cleanup());
    const clock = new SimulatedClock();
    const events: AuthEvent[] = [];
    const onEvent = (event: AuthEvent) => events.push(event);
    const errors: string[] = [];
    const store = fileCredentialStore(file.path, { onEvent });
    const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store, onEvent });
    const runtime = createCredentialRuntime(source, { credentialId: 'codex', clock, onEvent });
    cleanups.push(() => runtime.close());
    let { generation } = await runtime.current();
    const actor = createCredentialActor(runtime, { clock, jitterSeed: 5, onEvent });
    cleanups.push(() => actor.stop());
    const snapshots: string[] = [];
    actor.subscribe((snapshot) => snapshots.push(JSON.stringify(snapshot)));
    const sessions = fakeSessions(2);
    cleanups.push(() => sessions.stop());

    // 1. a transient failure whose body echoes the refresh token (a careless endpoint), then success
    endpoint.failNext(1, 503, { error: 'temporarily_unavailable', error_description: `cannot refresh ${file.initial.refresh_token} for ${file.initial.access_token} now` });
    actor.send({ type: 'REJECTED', session: sessions.refs[0]!, generation });
    const retrying = await waitFor(actor, (s) => s.matches('retrying'));
    clock.increment(retrying.context.retryDelayMs);
    await waitFor(actor, (s) => s.matches('valid') && s.context.generation === generation + 1);
    generation += 1;

    // 2. a permanent failure (the new refresh token spent elsewhere), with the OpenAI-shaped body
    endpoint.spend(endpoint.latest()!.refresh_token);
    actor.send({ type: 'REJECTED', session: sessions.refs[1]!, generation });
    await waitFor(actor, (s) => s.matches('reauthRequired'));

    // 3. direct calls that fail, and a malformed file holding a token
    const current = parseCredentialsText(JSON.stringify(endpoint.latest()));
    await source.refresh(current.access_token).catch((error: Error) => errors.push(error.message, String(error.stack)));
    await writeFile(file.path, `{"access_token":"${current.access_token}", oops`);
    await store.read().catch((error: Error) => errors.push(error.message));
    // Refreshing against the malformed file: the error names the problem, not the content.
    await source.refresh(current.access_token).catch((error: Error) => errors.push(error.message));
    expect(errors).toHaveLength(4);
    expect(errors[3]).toMatch(/unreadable \(credentials are not valid JSON \(\d+ bytes\)\)/);

    const haystacks = [
      ...errors,
      ...snapshots,
      JSON.stringify(actor.getSnapshot()),
      ...sessions.replies.map((r) => JSON.stringify(r.reply)),
      ...events.map((e) => JSON.stringify(e)),
      ...events.map((e) => formatAuthEvent(e)),
    ];
    const tokens = endpoint.allTokens();
    expect(tokens.length).toBeGreaterThanOrEqual(4);
    for (const token of tokens) {
      for (const haystack of haystacks) expect(haystack.includes(token), `a token leaked into: ${haystack.slice(0, 200)}`).toBe(false);
    }
    // And the messages still say what happened.
    expect(events.some((e) => e.type === 'refresh-failed' && e.message.includes('[redacted]'))).toBe(true);
    expect(sessions.replies.map((r) => r.reply.type)).toEqual(['CREDENTIAL.REFRESH_FAILED', 'CREDENTIAL.REAUTH_REQUIRED']);
  });
});
