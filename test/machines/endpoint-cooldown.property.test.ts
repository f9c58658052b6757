import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { DEFAULT_POLICY, nominalCooldownMs, type Policy } from '../../machines/index.js';
import { ChartHarness } from '../support/chart-harness.js';
import { actionArb, actionsArb, COOLDOWN_ANSWERS, POLICIES, policyArb, SMALL_POLICY, TURN_FAILURES } from './support/actions.js';
import { assertNone, connectionOf, Driver, guaranteedCooldownMs, topState, turnOf, turnRegionOf } from './support/driver.js';
import { quietStoppedActorWarnings } from './support/quiet.js';

quietStoppedActorWarnings();

const sessionsArb = fc.integer({ min: 1, max: 20 });

/** How many cooldown floors, back to back from the first failure, fit in `totalMs`. */
function floorsThatFit(policy: Policy, totalMs: number): number {
  let spent = 0;
  let fit = 0;
  for (let failures = 1; failures < 1_000_000; failures++) {
    spent += guaranteedCooldownMs(policy.cooldown, failures);
    if (spent > totalMs) return fit;
    fit++;
  }
  return Infinity;
}

describe('endpoint cooldown', () => {
  test.prop([policyArb, sessionsArb, actionsArb(120)], { numRuns: 150 })(
    'no upgrade starts during a cooldown',
    (policyName, sessions, actions) => {
      const driver = new Driver({ policy: POLICIES[policyName], sessions }).run(actions);
      assertNone(driver.upgradesDuringCooldown(['coolingDown']));
      driver.harness.stop();
    },
  );

  test.prop(
    [
      policyArb,
      sessionsArb,
      actionsArb(
        200,
        actionArb({
          answers: COOLDOWN_ANSWERS,
          failures: TURN_FAILURES.filter((f) => f !== 'HTTP 401'),
          weights: { release: 0, refresh: 0, close: 0, advance: 6 },
        }),
      ),
    ],
    { numRuns: 120 },
  )('upgrade attempts against an always-failing endpoint are bounded by the cooldown windows that fit', (policyName, sessions, actions) => {
    const policy = POLICIES[policyName];
    const driver = new Driver({ policy, sessions }).run(actions);
    const attempts = driver.harness.upgrades.length;
    const bound = 1 + floorsThatFit(policy, driver.now);
    if (attempts > bound) {
      throw new Error(
        `${attempts} upgrade attempts in ${driver.now} ms against a failing endpoint; at most ${bound} fit (starts at ${driver.harness.upgrades.map((u) => u.startedAtMs).join(', ')} ms)`,
      );
    }
    driver.harness.stop();
  });

  test('an always-failing endpoint sees few probes a day whatever the number of sessions and turns', () => {
    // 20 sessions taking turns every 10 s for 24 h (8 640 turns), every upgrade answered 500.
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 20 });
    for (let tick = 0; tick < 8_640; tick++) {
      driver.requestTurn(tick % 20);
      for (const { record } of driver.connecting()) driver.harness.failUpgrade(record, { kind: 'upgrade-rejected', status: 500, headers: {} });
      for (const session of driver.liveSessions()) {
        if (turnRegionOf(session) === 'streaming') driver.report(driver.slotIds.indexOf(session.getSnapshot().context.sessionId), 'completed');
      }
      driver.harness.advance(10_000);
    }
    const attempts = driver.harness.upgrades.length;
    expect(attempts).toBeLessThanOrEqual(1 + floorsThatFit(DEFAULT_POLICY, driver.now));
    // 45 s doubling to 30 min (floor 24 min): about 60 a day once capped.
    expect(attempts).toBeLessThanOrEqual(70);
    assertNone(driver.violations());
    driver.harness.stop();
  });

  test.prop([policyArb, sessionsArb, actionsArb(150)], { numRuns: 150 })(
    'consecutive failures never shorten the cooldown floor, up to maxMs',
    (policyName, sessions, actions) => {
      const driver = new Driver({ policy: POLICIES[policyName], sessions }).run(actions);
      assertNone(driver.cooldownFloors());
      driver.harness.stop();
    },
  );

  test.prop(
    [
      policyArb,
      sessionsArb,
      actionsArb(120, actionArb({ answers: ['open', 'HTTP 426', 'HTTP 426', 'HTTP 404', 'HTTP 500', 'ECONNRESET'], weights: { advance: 6 } })),
    ],
    { numRuns: 120 },
  )('426/unsupported latches HTTP and stops probing until its TTL', (policyName, sessions, actions) => {
    const driver = new Driver({ policy: POLICIES[policyName], sessions }).run(actions);
    assertNone([
      ...driver.latches(),
      ...driver.upgradesDuringCooldown(['unsupported']),
      // Turns asked during the latch, on a session without a socket of its own, go over HTTP at once.
      ...driver.turnViolations(false).filter((v) => v.includes('waited for a cooldown')),
    ]);
    driver.harness.stop();
  });

  test('426 latches HTTP for the TTL, then one probe is allowed', () => {
    const h = new ChartHarness(SMALL_POLICY, 7);
    h.requestTurn('a');
    h.failUpgrade(h.liveUpgrade('a')!, { kind: 'upgrade-rejected', status: 426, headers: {} });
    expect(h.endpoint.getSnapshot().value).toBe('unsupported');
    expect(h.endpoint.getSnapshot().context.cooldownUntilMs).toBe(SMALL_POLICY.unsupportedTtlMs);
    for (let t = 0; t < SMALL_POLICY.unsupportedTtlMs - 1_000; t += 10_000) {
      h.advance(10_000 - 1);
      for (const id of ['a', 'b', 'c']) {
        const session = h.session(id);
        if (turnRegionOf(session) === 'streaming') h.sendTurn(id, { type: 'TURN_COMPLETED', turnId: turnOf(session)!.id, atMs: h.now() });
        h.requestTurn(id);
        expect(turnOf(session)?.transport).toBe('http');
      }
      h.advance(1);
    }
    expect(h.upgrades).toHaveLength(1);
    h.advance(SMALL_POLICY.unsupportedTtlMs - h.now());
    expect(topState(h.endpoint.getSnapshot().value)).toBe('probing');
    for (const id of ['a', 'b', 'c']) {
      const session = h.session(id);
      h.sendTurn(id, { type: 'TURN_COMPLETED', turnId: turnOf(session)!.id, atMs: h.now() });
      h.requestTurn(id);
    }
    expect(h.upgrades).toHaveLength(2);
    h.stop();
  });

  test.prop(
    [
      policyArb,
      sessionsArb,
      fc.array(
        fc.record({
          s: fc.nat({ max: 19 }),
          uptimeMs: fc.integer({ min: 0, max: 14_999 }),
          code: fc.constantFrom(1000, 1001, 1006, 1011),
          firstEvent: fc.boolean(),
          idleMs: fc.integer({ min: 0, max: 3_600_000 }),
        }),
        { minLength: 1, maxLength: 12 },
      ),
    ],
    { numRuns: 80 },
  )('a flapping socket never resets the backoff', (policyName, sessions, flaps) => {
    const policy = POLICIES[policyName];
    const driver = new Driver({ policy, sessions });
    const h = driver.harness;
    flaps.forEach((flap, i) => {
      const failures = i + 1;
      const slot = flap.s % sessions;
      // Wait out the cooldown (and maybe longer), then the next turn probes.
      const until = h.endpoint.getSnapshot().context.cooldownUntilMs;
      if (until !== undefined && until > h.now()) h.advance(until - h.now());
      h.advance(flap.idleMs);
      const session = driver.session(slot);
      if (turnRegionOf(session) === 'streaming') driver.report(slot, 'completed');
      const before = h.upgrades.length;
      driver.requestTurn(slot);
      expect(h.upgrades.length, `flap ${failures}: the probe starts`).toBe(before + 1);
      h.openSocket(h.liveUpgrade(session.getSnapshot().context.sessionId)!);
      expect(topState(h.endpoint.getSnapshot().value)).toBe('healthy');
      if (flap.firstEvent) driver.report(slot, 'first event');
      h.advance(flap.uptimeMs);
      expect(connectionOf(session)).toBe('socket.open');
      driver.apply({ do: 'close', pick: driver.openSockets().findIndex((o) => o.session === session), code: flap.code as 1000 });
      const { context, value } = h.endpoint.getSnapshot();
      expect(value, `flap ${failures}: a socket that died after ${flap.uptimeMs} ms cools the endpoint down`).toBe('coolingDown');
      expect(context.consecutiveFailures).toBe(failures);
      const duration = context.cooldownUntilMs! - context.cooldownStartedAtMs!;
      expect(duration).toBeGreaterThanOrEqual(guaranteedCooldownMs(policy.cooldown, failures));
      expect(duration).toBeLessThanOrEqual(nominalCooldownMs(policy.cooldown, failures));
      // The window grows until the floor reaches the cap: never back to the first window.
      if (failures > 1) expect(guaranteedCooldownMs(policy.cooldown, failures)).toBeGreaterThanOrEqual(guaranteedCooldownMs(policy.cooldown, failures - 1));
      if (failures > 1 && nominalCooldownMs(policy.cooldown, failures - 1) < policy.cooldown.maxMs) {
        // Below the cap the nominal window doubles: even the luckiest draw beats the previous window's floor.
        expect(duration).toBeGreaterThanOrEqual(guaranteedCooldownMs(policy.cooldown, failures - 1));
      }
    });
    assertNone(driver.violations());
    h.stop();
  });
});
