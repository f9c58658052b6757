import { inspect } from 'node:util';
import { afterEach, expect, test } from 'vitest';
import { RefreshError } from '../../src/auth/credential-source.js';
import { memoryCredentialStore } from '../../src/auth/memory-store.js';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import { TurnFailedError } from '../../src/errors.js';
import type { Session } from '../../src/session.js';
import { startTokenEndpoint, type TokenEndpoint } from '../auth/support/token-endpoint.js';
import { closeHarnesses, countingSource, startHarness, type Harness, type TurnOutcome } from '../support/manager-harness.js';

let tokens: TokenEndpoint | undefined;
afterEach(async () => {
  await closeHarnesses();
  await tokens?.close();
  tokens = undefined;
});

// Distinctive, and shaped like nothing a pattern-based scrubber would recognise: only their absence counts.
const OLD = 'qzOLDsecretVv93kd71xw';
const NEW = 'qzNEWsecretAa55mm20yt';
const STATIC_500 = 'qzSTATICfiveHundredR8p';
const STATIC_426 = 'qzSTATIClatchedK3j0wq';
const REVOKED = 'qzREVOKEDsecretT6n1ue';

/** Every string the library produced: log calls, manager events, errors, snapshots, states, inspection events. */
function everythingSeen(h: Harness, turns: TurnOutcome[], sessions: Session[]): string[] {
  const out: string[] = [];
  for (const call of h.logger.calls) out.push(JSON.stringify(call.obj), call.msg ?? '', inspect(call.obj, { depth: 20 }));
  out.push(JSON.stringify(h.events), inspect(h.events, { depth: 20 }));
  for (const turn of turns) {
    if (turn.error !== undefined) {
      const error = turn.error as Error;
      out.push(String(error), error.message, error.stack ?? '', JSON.stringify(error), inspect(error, { depth: 20 }));
    }
    out.push(JSON.stringify(turn.events));
  }
  for (const { actor } of h.manager.actors()) {
    const snapshot = actor.getSnapshot();
    out.push(JSON.stringify(snapshot), inspect(snapshot, { depth: 6 }));
  }
  for (const key of h.manager.endpointKeys) out.push(JSON.stringify(h.manager.endpoint(key).state));
  for (const session of sessions) out.push(JSON.stringify(session.state), inspect(session, { depth: 4 }));
  for (const event of h.inspections) out.push(JSON.stringify(event));
  return out;
}

test('secrets: no token appears in logs, events, errors, snapshots or inspection events (401 refresh, 500, 426, refused refresh, OAuth rotation and reuse)', async () => {
  tokens = await startTokenEndpoint();
  const fresh = tokens.signIn();
  const spent = tokens.signIn();
  tokens.spend(spent.refresh_token);
  const refused = new Set([OLD, REVOKED, fresh.access_token, spent.access_token]);

  const refreshing = countingSource(OLD, () => NEW, 'refreshing');
  const revoked = {
    name: 'revoked',
    token: () => REVOKED,
    // A careless source that quotes the token it was given: the runtime must scrub it.
    refresh: async (rejected: string) => {
      throw new RefreshError(`refresh refused for token ${rejected}`, { status: 401, errorCode: 'invalid_grant' });
    },
  };
  const h = await startHarness({
    inspect: true,
    acceptToken: (token) => !refused.has(token),
    modes: { 'five-hundred': { upgradeStatus: 500 }, latched: { upgradeStatus: 426 } },
    endpoints: {
      refreshing: { credentials: refreshing },
      'five-hundred': { credentials: STATIC_500 },
      latched: { credentials: STATIC_426 },
      revoked: { credentials: revoked },
      oauth: { credentials: oauthRefreshSource({ tokenUrl: tokens.url, clientId: tokens.clientId, store: memoryCredentialStore(fresh), name: 'oauth-fresh' }) },
      'oauth-spent': {
        credentials: oauthRefreshSource({ tokenUrl: tokens.url, clientId: tokens.clientId, store: memoryCredentialStore(spent), name: 'oauth-spent' }),
      },
    },
  });
  const secrets = [OLD, NEW, STATIC_500, STATIC_426, REVOKED, ...tokens.allTokens()];

  const turns: TurnOutcome[] = [];
  const sessions = h.manager.endpointKeys.flatMap((key) => ['a', 'b'].map((id) => h.session(`${key}-${id}`, key)));
  for (let round = 0; round < 2; round++) {
    for (const session of sessions) turns.push(await h.turn(session));
    await h.advanceBy(60_000);
  }

  // The scenarios did happen.
  expect(refreshing.refreshCalls).toBe(1);
  expect(tokens.stats()).toMatchObject({ issued: 1, reused: 1 });
  expect(h.manager.endpoint('five-hundred').state.lastFailure?.code).toBe('500');
  expect(h.manager.endpoint('latched').state.status).toBe('unsupported');
  expect(h.events.reauthRequired.map((e) => e.credentialId).sort()).toEqual(['oauth-spent', 'revoked']);
  const failed = turns.filter((t) => t.error !== undefined);
  expect(failed.length).toBeGreaterThan(0);
  expect(failed.every((t) => t.error instanceof TurnFailedError && t.error.failure.class === 'auth')).toBe(true);
  expect(h.logger.calls.length).toBeGreaterThan(0);
  expect(h.inspections.length).toBeGreaterThan(100);

  const seen = everythingSeen(h, turns, sessions);
  for (const secret of secrets) {
    const leaks = seen.filter((text) => text.includes(secret));
    expect(leaks, `token ${secret.slice(0, 8)}… leaked`).toEqual([]);
  }
  expect(seen.join('\n')).not.toMatch(/qz[A-Z]+secret|qzSTATIC|qzREVOKED/);

  // And nothing after close either.
  await h.manager.close();
  const afterClose = [...h.logger.calls.map((c) => JSON.stringify(c)), ...h.inspections.map((e) => JSON.stringify(e))].join('\n');
  for (const secret of secrets) expect(afterClose.includes(secret)).toBe(false);
});
