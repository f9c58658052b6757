import { createActor, fromCallback } from 'xstate';
import { describe, expect, test } from 'vitest';
import type { CredentialEmitted } from '../../machines/index.js';
import { ChartHarness } from '../support/chart-harness.js';

/**
 * What the credential chart emits (issue 12: operator events are emitted by the charts):
 * `credential.changed` for sessions, and for operators a refresh that starts, one that will be
 * retried, and sign-in required. Asserted on the chart alone; src/reports/ words them.
 */

/** A session as the credential chart sees it: a ref that swallows the replies. */
const session = () => createActor(fromCallback(() => {})).start();

function watched(options: ConstructorParameters<typeof ChartHarness>[2] = {}) {
  const h = new ChartHarness(undefined, 1, options);
  const emitted: CredentialEmitted[] = [];
  h.credential.on('*', (event) => emitted.push(event));
  return { h, emitted };
}

describe('the credential chart emits', () => {
  test('a refresh that succeeds: refresh.started, then credential.changed with the new generation', () => {
    const { h, emitted } = watched();
    h.credential.send({ type: 'REJECTED', session: session(), generation: 1 });
    expect(emitted).toEqual([{ type: 'refresh.started', credentialId: 'test' }]);
    h.refreshes[0]!.resolve({ generation: 2, atMs: h.now() });
    expect(emitted.slice(1)).toEqual([{ type: 'credential.changed', credentialId: 'test', generation: 2, reauthRequired: false }]);
    h.stop();
  });

  test('a refused refresh: sign-in required once (reauth.required and credential.changed); signing in again: credential.changed', () => {
    const { h, emitted } = watched();
    h.credential.send({ type: 'REJECTED', session: session(), generation: 1 });
    h.refreshes[0]!.reject({ status: 400, errorCode: 'refresh_token_reused' });
    expect(h.credential.getSnapshot().value).toBe('reauthRequired');
    const summary = 'token refresh refused: refresh_token_reused (HTTP 400); sign in again and turns resume without a restart';
    expect(emitted.slice(1)).toEqual([
      { type: 'reauth.required', credentialId: 'test', summary },
      { type: 'credential.changed', credentialId: 'test', generation: 1, reauthRequired: true },
    ]);
    // Sessions asking while sign-in is required change nothing.
    h.credential.send({ type: 'CHECK', session: session() });
    h.credential.send({ type: 'REJECTED', session: session(), generation: 1 });
    expect(emitted).toHaveLength(3);
    h.credential.send({ type: 'CHANGED', generation: 2 });
    expect(emitted.slice(3)).toEqual([{ type: 'credential.changed', credentialId: 'test', generation: 2, reauthRequired: false }]);
    h.stop();
  });

  test('a transient failure: refresh.retrying with the backoff, then refresh.started again when it ends', () => {
    const { h, emitted } = watched();
    h.credential.send({ type: 'REJECTED', session: session(), generation: 1 });
    h.refreshes[0]!.reject({ status: 503 });
    const retryInMs = h.credential.getSnapshot().context.retryDelayMs;
    expect(retryInMs).toBeGreaterThan(0);
    expect(emitted.slice(1)).toEqual([{ type: 'refresh.retrying', credentialId: 'test', summary: 'token refresh failed: HTTP 503', retryInMs }]);
    h.advance(retryInMs);
    expect(emitted.slice(2)).toEqual([{ type: 'refresh.started', credentialId: 'test' }]);
    h.stop();
  });

  test('the first token read: credential.changed; credentials missing: sign-in required', () => {
    const read = watched({ credential: { generation: 0 } });
    read.h.credential.send({ type: 'CHECK', session: session() });
    read.h.loads[0]!.resolve({ generation: 4, atMs: read.h.now() });
    expect(read.emitted).toEqual([{ type: 'credential.changed', credentialId: 'test', generation: 4, reauthRequired: false }]);
    read.h.stop();

    const missing = watched({ credential: { generation: 0 } });
    missing.h.credential.send({ type: 'PEEK', session: session() });
    missing.h.loads[0]!.reject({ errorCode: 'credentials_missing' });
    expect(missing.emitted.map((e) => e.type)).toEqual(['reauth.required', 'credential.changed']);
    expect(missing.emitted[1]).toMatchObject({ generation: 0, reauthRequired: true });
    missing.h.stop();
  });

  test('a token changed outside (another process, a sign-in) while valid or refreshing: credential.changed each time; nothing at start or stop', () => {
    const { h, emitted } = watched();
    h.credential.send({ type: 'CHANGED', generation: 2 });
    h.credential.send({ type: 'REJECTED', session: session(), generation: 2 });
    h.credential.send({ type: 'CHANGED', generation: 3 });
    h.stop();
    expect(emitted).toEqual([
      { type: 'credential.changed', credentialId: 'test', generation: 2, reauthRequired: false },
      { type: 'refresh.started', credentialId: 'test' },
      { type: 'credential.changed', credentialId: 'test', generation: 3, reauthRequired: false },
    ]);
  });
});
