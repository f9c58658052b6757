import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { DEFAULT_POLICY, type Policy } from '../../machines/index.js';
import { actionArb, actionsArb, POLICIES, policyArb, SMALL_POLICY } from './support/actions.js';
import { assertNone, connectionOf, Driver, topState, turnOf, turnRegionOf } from './support/driver.js';
import { quietStoppedActorWarnings } from './support/quiet.js';

quietStoppedActorWarnings();

const UPGRADE_401 = { kind: 'upgrade-rejected', status: 401, headers: {} } as const;

/** One socket open and proven (endpoint healthy.stable), then sessions 1..n-1 each with an upgrade in flight. */
function healthyWithUpgradesInFlight(policy: Policy, sessions: number): Driver {
  const driver = new Driver({ policy, sessions });
  const h = driver.harness;
  driver.requestTurn(0);
  h.openSocket(h.liveUpgrade('s0')!);
  h.advance(policy.minUptimeMs); // proven: an unproven endpoint keeps the others on HTTP
  for (let s = 1; s < sessions; s++) driver.requestTurn(s);
  expect(topState(h.endpoint.getSnapshot().value)).toBe('healthy');
  expect(driver.connecting()).toHaveLength(sessions - 1);
  return driver;
}

type Step =
  | { readonly do: '401 on the upgrade'; readonly pick: number }
  | { readonly do: '401 on the HTTP turn'; readonly s: number }
  | { readonly do: 'advance'; readonly ms: number }
  | { readonly do: 'refresh succeeds' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.nat({ max: 19 }).map((pick) => ({ do: '401 on the upgrade', pick }) as const) },
  { weight: 2, arbitrary: fc.nat({ max: 19 }).map((s) => ({ do: '401 on the HTTP turn', s }) as const) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 300 }).map((ms) => ({ do: 'advance', ms }) as const) },
  { weight: 1, arbitrary: fc.constant({ do: 'refresh succeeds' } as const) },
);

describe('credentials', () => {
  test.prop([policyArb, fc.integer({ min: 2, max: 20 }), fc.array(stepArb, { maxLength: 60, size: 'max' })], { numRuns: 150 })(
    'concurrent 401s lead to one refresh, not one per session',
    (policyName, sessions, steps) => {
      const driver = healthyWithUpgradesInFlight(POLICIES[policyName], sessions);
      const h = driver.harness;
      const rejected = new Set<string>();
      for (const step of steps) {
        if (step.do === '401 on the upgrade') {
          // Only upgrades that carry the first token: all of them answer 401 at generation 1.
          const inFlight = driver.connecting().filter((u) => u.record.credentialGeneration === 1);
          if (inFlight.length === 0) continue;
          const { record } = inFlight[step.pick % inFlight.length]!;
          rejected.add(record.sessionId);
          h.failUpgrade(record, UPGRADE_401);
        } else if (step.do === '401 on the HTTP turn') {
          const session = driver.session(step.s % sessions);
          const turn = turnOf(session);
          // Only requests that carried the first token: all of them answer 401 at generation 1.
          if (!turn || turnRegionOf(session) !== 'streaming' || driver.generationOfTurn(step.s % sessions) !== 1) continue;
          driver.report(step.s % sessions, 'failed: HTTP 401');
        } else if (step.do === 'advance') h.advance(step.ms);
        else if (driver.activeRefresh()) driver.settleRefresh('ok');
      }
      // Every 401 was for generation 1: one refresh, whatever the order and the timing.
      expect(h.refreshes.length).toBeLessThanOrEqual(1);
      if (rejected.size > 0) expect(h.refreshes).toHaveLength(1);
      if (driver.activeRefresh()) driver.settleRefresh('ok');
      // Each session refused at the upgrade upgrades again, once, with the refreshed token.
      for (const sessionId of rejected) {
        const again = h.upgrades.filter((u) => u.sessionId === sessionId && u.credentialGeneration === 2);
        expect(again.length, `${sessionId} upgrades again with generation 2`).toBe(1);
      }
      expect(h.refreshes).toHaveLength(rejected.size > 0 || h.refreshes.length > 0 ? 1 : 0);
      assertNone(driver.violations());
      h.stop();
    },
  );

  test.prop(
    [
      policyArb,
      fc.integer({ min: 2, max: 20 }),
      fc.integer({ min: 1, max: 19 }),
      actionsArb(80, actionArb({ weights: { refresh: 0, changed: 0 } })),
      fc.nat({ max: 19 }),
    ],
    { numRuns: 120 },
  )(
    'a refresh rejected as reused leads to reauth-required with no further refresh or upgrade until the credentials change',
    (policyName, sessions, refused, whileSignedOut, slotAfterChange) => {
      const policy = POLICIES[policyName];
      const driver = healthyWithUpgradesInFlight(policy, sessions);
      const h = driver.harness;
      for (const { record } of driver.connecting().slice(0, refused)) h.failUpgrade(record, UPGRADE_401);
      expect(h.refreshes).toHaveLength(1);
      h.refreshes[0]!.reject({ status: 401, errorCode: 'refresh_token_reused' });
      expect(h.credential.getSnapshot().value).toBe('reauthRequired');
      const upgradesBefore = h.upgrades.length;

      driver.run(whileSignedOut);
      expect(h.refreshes, 'no refresh while sign-in is required').toHaveLength(1);
      expect(h.upgrades.length, 'no upgrade while sign-in is required').toBe(upgradesBefore);
      // Every turn asked on a session without a socket of its own (open or in flight) was settled at
      // once: refused as sign-in required, or (endpoint denied the upgrade) sent over HTTP.
      for (const log of driver.turns.values()) {
        if (log.requestedSeq < h.refreshes[0]!.seq || !['idle', 'fallback', 'reauthRequired'].includes(log.connectionAtRequest)) continue;
        const refused = log.endings[0]?.failure?.code === 'reauth-required' && log.endings[0].atMs === log.requestedAtMs;
        const overHttp = log.transports[0]?.transport === 'http' && log.transports[0].atMs === log.requestedAtMs;
        expect(refused || overHttp, `turn ${log.id}: refused or over HTTP at once`).toBe(true);
      }
      assertNone(driver.violations());

      h.credential.send({ type: 'CHANGED', generation: 2 });
      // Past any cooldown the run caused, a turn on a session without a socket upgrades again.
      driver.waitUntilUpgradesAreAllowed();
      const slot = slotAfterChange % sessions;
      driver.release(slot); // a fresh session: no socket, no turn
      const before = h.upgrades.length;
      driver.requestTurn(slot);
      expect(h.upgrades.length, `a turn after the credentials changed upgrades (endpoint ${JSON.stringify(h.endpoint.getSnapshot().value)})`).toBe(
        before + 1,
      );
      expect(h.upgrades[h.upgrades.length - 1]!.credentialGeneration).toBe(2);
      expect(connectionOf(driver.session(slot))).toBe('socket.connecting');
      assertNone(driver.violations());
      h.stop();
    },
  );

  test.prop([fc.integer({ min: 1, max: 2 * 3_600_000 }), fc.integer({ min: 0, max: 600_000 }), fc.integer({ min: 1, max: 30 })], { numRuns: 60 })(
    'refreshes ahead of expiry never loop, whatever the token lifetime',
    (lifetimeMs, marginMs, refreshes) => {
      const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1, harness: { credential: { expiresInMs: lifetimeMs, refreshMarginMs: marginMs } } });
      const h = driver.harness;
      for (let i = 0; i < refreshes; i++) {
        const before = h.refreshes.length;
        const due = h.nextTimerDueMs();
        expect(due, 'a refresh ahead of expiry is scheduled').toBeDefined();
        h.advance(due! - h.now());
        expect(h.refreshes.length, 'one proactive refresh per token lifetime').toBe(before + 1);
        const started = h.refreshes[before]!;
        started.resolve({ generation: i + 2, expiresInMs: lifetimeMs, atMs: h.now() });
        // The token just adopted is not refreshed again at the same instant (a refresh storm),
        // and at most twice per lifetime.
        expect(h.refreshes).toHaveLength(before + 1);
        if (i > 0) {
          const gap = started.startedAtMs - h.refreshes[before - 1]!.startedAtMs;
          expect(gap).toBeGreaterThan(0);
          expect(gap).toBeGreaterThanOrEqual(lifetimeMs / 2);
        }
      }
      h.stop();
    },
  );

  test('a 401 on an HTTP turn refreshes once and resends the turn with the new token', () => {
    const driver = new Driver({ policy: SMALL_POLICY, sessions: 1 });
    const h = driver.harness;
    const id = driver.requestTurn(0)!;
    h.failUpgrade(h.liveUpgrade('s0')!, { kind: 'upgrade-rejected', status: 503, headers: {} });
    driver.report(0, 'failed: HTTP 401');
    expect(turnRegionOf(driver.session(0))).toBe('refreshingCredentials');
    driver.settleRefresh('ok');
    expect(driver.turnOf(0)).toMatchObject({ transport: 'http', attempt: 2, authRetried: true });
    driver.report(0, 'failed: HTTP 401');
    expect(driver.turns.get(id)!.endings).toMatchObject([{ result: 'failed', failure: { class: 'auth' } }]);
    expect(h.refreshes).toHaveLength(1);
    assertNone(driver.violations());
    h.stop();
  });

  test('while the refresh is in flight, a session that asks waits for it, its turn at most the budget', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 3 });
    const h = driver.harness;
    driver.requestTurn(0);
    h.failUpgrade(h.liveUpgrade('s0')!, { kind: 'upgrade-rejected', status: 401, headers: {} });
    expect(connectionOf(driver.session(0))).toBe('refreshingAuth');
    driver.requestTurn(1);
    expect(connectionOf(driver.session(1))).toBe('checkingCredentials');
    h.advance(DEFAULT_POLICY.upgradeBudgetMs);
    expect(driver.turnOf(1)?.transport).toBe('http');
    driver.settleRefresh('ok');
    // Both upgrade with the refreshed token, one probe at a time.
    expect(h.upgrades.filter((u) => u.credentialGeneration === 2)).toHaveLength(1);
    assertNone(driver.drain());
    assertNone([...driver.violations(), ...driver.turnViolations(true)]);
    h.stop();
  });

  test('a session that asks while the refresh runs does not upgrade once sign-in is required', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 3 });
    const h = driver.harness;
    driver.requestTurn(0);
    h.failUpgrade(h.liveUpgrade('s0')!, { kind: 'upgrade-rejected', status: 401, headers: {} });
    driver.requestTurn(1);
    h.refreshes[0]!.reject({ status: 401, errorCode: 'refresh_token_reused' });
    expect(connectionOf(driver.session(1))).toBe('reauthRequired');
    expect(driver.turns.get('t2')!.endings).toMatchObject([{ result: 'failed', failure: { code: 'reauth-required' } }]);
    expect(h.upgrades).toHaveLength(1);
    assertNone(driver.violations());
    h.stop();
  });
});
