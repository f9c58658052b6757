import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { DEFAULT_POLICY } from '../../machines/index.js';
import { actionArb, actionsArb, POLICIES, policyArb, SMALL_POLICY, TURN_FAILURES, type TurnReport } from './support/actions.js';
import { assertNone, Driver, turnOf, turnRegionOf } from './support/driver.js';
import { quietStoppedActorWarnings } from './support/quiet.js';

quietStoppedActorWarnings();

const sessionsArb = fc.integer({ min: 1, max: 20 });

describe('turns', () => {
  test.prop([policyArb, sessionsArb, actionsArb(120, actionArb({ weights: { changed: 1 } }))], { numRuns: 200 })(
    'every turn is served exactly once',
    (policyName, sessions, actions) => {
      const driver = new Driver({ policy: POLICIES[policyName], sessions }).run(actions);
      assertNone(driver.turnViolations(false));
      assertNone(driver.drain());
      assertNone(driver.turnViolations(true));
      driver.harness.stop();
    },
  );

  test.prop(
    [
      policyArb,
      fc.constantFrom('websocket', 'http'),
      fc.array(fc.constantFrom<TurnReport>('first event', ...TURN_FAILURES.map((f) => `failed: ${f}` as const)), { maxLength: 6 }),
      fc.constantFrom<TurnReport>('completed', ...TURN_FAILURES.map((f) => `failed: ${f}` as const)),
    ],
    { numRuns: 150 },
  )('a turn whose first event was reported is never switched to the other transport', (policyName, transport, before, after) => {
    const driver = new Driver({ policy: POLICIES[policyName], sessions: 1 });
    const h = driver.harness;
    const id = driver.requestTurn(0)!;
    if (transport === 'websocket') h.openSocket(h.liveUpgrade('s0')!);
    else h.failUpgrade(h.liveUpgrade('s0')!, { kind: 'upgrade-rejected', status: 503, headers: {} });
    for (const report of before) driver.report(0, report); // before the first event: may move to HTTP once, or refresh once
    if (turnRegionOf(driver.session(0)) === 'refreshingCredentials') driver.settleRefresh('ok');
    const log = driver.turns.get(id)!;
    if (log.endings.length === 0) {
      driver.report(0, 'first event');
      const sends = log.transports.length;
      driver.report(0, after);
      expect(log.transports.slice(sends).map((t) => t.transport), 'no send after the first event').toEqual([]);
      expect(log.endings).toHaveLength(1);
    }
    assertNone(driver.drain());
    assertNone(driver.turnViolations(true));
    h.stop();
  });

  test.prop([fc.constantFrom(SMALL_POLICY, DEFAULT_POLICY), sessionsArb, fc.nat({ max: 19 }), fc.integer({ min: 0, max: 3_600_000 })])(
    'no turn waits for a cooldown: it gets HTTP at the instant it is requested',
    (policy, sessions, slot, waitMs) => {
      const driver = new Driver({ policy, sessions });
      const h = driver.harness;
      driver.requestTurn(0);
      h.failUpgrade(h.liveUpgrade('s0')!, { kind: 'upgrade-rejected', status: 503, headers: {} });
      const until = h.endpoint.getSnapshot().context.cooldownUntilMs!;
      h.advance(Math.min(waitMs, until - h.now() - 1));
      const session = driver.session(slot % sessions);
      if (turnRegionOf(session) === 'streaming') driver.report(slot % sessions, 'completed');
      const requestedAt = h.now();
      driver.requestTurn(slot % sessions);
      const turn = turnOf(session)!;
      expect(turn.transport).toBe('http');
      expect(h.now()).toBe(requestedAt);
      expect(h.upgrades).toHaveLength(1);
      h.stop();
    },
  );

  test('a turn waits at most upgradeBudgetMs for an upgrade in flight, then goes over HTTP', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1 });
    const h = driver.harness;
    const id = driver.requestTurn(0)!;
    h.advance(DEFAULT_POLICY.upgradeBudgetMs - 1);
    expect(turnRegionOf(driver.session(0))).toBe('awaitingTransport');
    h.advance(1);
    expect(driver.turns.get(id)!.transports).toMatchObject([{ transport: 'http', atMs: DEFAULT_POLICY.upgradeBudgetMs, attempt: 1 }]);
    // The upgrade keeps going and times out on its own clock, which cools the endpoint down.
    h.advance(DEFAULT_POLICY.upgradeTimeoutMs - DEFAULT_POLICY.upgradeBudgetMs);
    expect(h.endpoint.getSnapshot().value).toBe('coolingDown');
    expect(h.endpoint.getSnapshot().context.lastFailure?.code).toBe('timeout-upgrade');
    expect(h.endpoint.getSnapshot().context.cooldownStartedAtMs).toBe(DEFAULT_POLICY.upgradeTimeoutMs);
    assertNone(driver.violations());
    h.stop();
  });

  test('a turn that failed on the WebSocket before its first event moves to HTTP once; after its first event it never moves', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 2 });
    const h = driver.harness;
    const first = driver.requestTurn(0)!;
    h.openSocket(h.liveUpgrade('s0')!);
    driver.report(0, 'failed: closed 1011');
    driver.report(0, 'failed: HTTP 503');
    expect(driver.turns.get(first)!.transports.map((t) => t.transport)).toEqual(['websocket', 'http']);
    expect(driver.turns.get(first)!.endings).toMatchObject([{ result: 'failed', transport: 'http', failure: { class: 'transient-server' } }]);
    const second = driver.requestTurn(0)!;
    driver.report(0, 'first event');
    driver.report(0, 'failed: closed 1006');
    expect(driver.turns.get(second)!.transports.map((t) => t.transport)).toEqual(['websocket']);
    expect(driver.turns.get(second)!.endings).toMatchObject([{ result: 'failed', transport: 'websocket', failure: { class: 'network' } }]);
    assertNone(driver.violations());
    h.stop();
  });
});
