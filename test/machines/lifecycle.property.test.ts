import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { DEFAULT_POLICY } from '../../machines/index.js';
import { ChartHarness } from '../support/chart-harness.js';
import { actionArb, actionsArb, POLICIES, policyArb } from './support/actions.js';
import { assertNone, Driver } from './support/driver.js';
import { quietStoppedActorWarnings } from './support/quiet.js';

quietStoppedActorWarnings();

describe('lifecycle', () => {
  test.prop(
    [
      policyArb,
      fc.integer({ min: 1, max: 20 }),
      actionsArb(100, actionArb({ weights: { release: 2, changed: 1 } })),
      fc.array(fc.nat({ max: 19 }), { maxLength: 20 }),
      fc.boolean(),
    ],
    { numRuns: 150 },
  )('a stopped session or endpoint leaves no pending timer or child actor', (policyName, sessions, actions, releases, sharedStore) => {
    const driver = new Driver({ policy: POLICIES[policyName], sessions, harness: { sharedStore } });
    const h = driver.harness;
    for (const action of actions) {
      driver.apply(action);
      // With a shared store, claims are answered by the test: grant them as a store would.
      if (sharedStore) for (const claim of h.claims.filter((c) => c.active)) claim.resolve({ granted: true });
    }
    for (const slot of releases) driver.release(slot);
    assertNone(driver.leftovers());

    h.stop();
    const stopped = [h.endpoint, h.credential, ...driver.released];
    for (const actor of stopped) {
      expect(h.scheduledEventsOf(actor), `${actor.id} keeps timers`).toBe(0);
      expect(Object.keys(actor.getSnapshot().children), `${actor.id} keeps children`).toEqual([]);
    }
    expect(h.pendingClockTimers(), 'timers left on the clock').toBe(0);
    expect(h.upgrades.filter((u) => u.active), 'sockets left open').toEqual([]);
    expect(h.refreshes.filter((r) => r.active), 'refreshes left running').toEqual([]);
    expect(h.claims.filter((c) => c.active), 'claims left running').toEqual([]);
  });

  test('releasing a session mid-upgrade gives its probe back and stops its upgrade timer', () => {
    const h = new ChartHarness(DEFAULT_POLICY);
    h.requestTurn('a');
    const upgrade = h.liveUpgrade('a')!;
    const session = h.session('a');
    expect(h.scheduledEventsOf(session)).toBe(2); // the upgrade timeout and the turn's budget
    h.release('a');
    expect(upgrade.active).toBe(false);
    expect(h.scheduledEventsOf(session)).toBe(0);
    expect(session.getSnapshot().status).toBe('done');
    expect(h.endpoint.getSnapshot().value).toEqual({ probing: 'awaitingProbe' });
    h.requestTurn('b');
    expect(h.liveUpgrade('b')).toBeDefined();
    h.stop();
    expect(h.pendingClockTimers()).toBe(0);
  });
});
