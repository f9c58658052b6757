import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { DEFAULT_POLICY, type HealthReport } from '../../machines/index.js';
import { EndpointChart, KEY, UPGRADE_500 } from './support/endpoint-chart.js';

/**
 * Pushed health (issue 13): what the endpoint chart does with a health change another process
 * published. The rules are in the JSDoc of `FLEET.HEALTH_CHANGED` and in docs/design.md.
 */

/** A chart cooling down after its own failed probe, at `atMs` + its window. */
function coolingDown(options: ConstructorParameters<typeof EndpointChart>[0] = {}) {
  const c = new EndpointChart(options);
  c.ask('s1');
  c.fail('s1');
  expect(c.state()).toBe('coolingDown');
  return c;
}

describe('pushed health: a remote cooldown or latch', () => {
  test('is adopted while waiting for a probe: sessions stay on HTTP until its end, with the fleet streak', () => {
    const c = new EndpointChart();
    const untilMs = c.now() + 90_000;
    c.fleet({ status: 'cooling-down', untilMs, consecutiveFailures: 3 });
    expect(c.state()).toBe('coolingDown');
    expect(c.context()).toMatchObject({ cooldownUntilMs: untilMs, cooldownStartedAtMs: c.now(), consecutiveFailures: 3 });
    expect(c.ask('s1')).toEqual({ type: 'ENDPOINT.DENIED', reason: 'cooling-down', untilMs });
    c.advance(90_000 - 1);
    expect(c.state()).toBe('coolingDown');
    c.advance(1);
    expect(c.state()).toBe('probing.awaitingProbe');
    // Its next failure backs off from the fleet's streak.
    c.ask('s1');
    c.fail('s1');
    expect(c.context().consecutiveFailures).toBe(4);
    c.stop();
  });

  test('is adopted while this process probes; the probe holder learns it when it reports', () => {
    const c = new EndpointChart();
    expect(c.ask('s1')).toEqual({ type: 'ENDPOINT.GRANTED' });
    c.fleet({ status: 'cooling-down', untilMs: c.now() + 45_000, consecutiveFailures: 1 });
    expect(c.state()).toBe('coolingDown');
    expect(c.context().probeHolder).toBeUndefined();
    c.succeed('s1'); // the probe's socket opened after all: the fleet's cooldown stands
    expect(c.state()).toBe('coolingDown');
    c.stop();
  });

  test('is adopted while claiming a shared probe: the waiting session is told the fleet window', () => {
    const c = new EndpointChart({ sharedStore: true });
    expect(c.ask('s1')).toBeUndefined();
    expect(c.state()).toBe('probing.claiming');
    const untilMs = c.now() + 45_000;
    c.fleet({ status: 'cooling-down', untilMs, consecutiveFailures: 1 });
    expect(c.state()).toBe('coolingDown');
    expect(c.repliesOf('s1')).toEqual([{ type: 'ENDPOINT.DENIED', reason: 'cooling-down', untilMs }]);
    c.stop();
  });

  test('extends a cooldown when it ends later, and changes nothing when it ends sooner', () => {
    const c = coolingDown();
    const ownUntilMs = c.context().cooldownUntilMs!;
    c.fleet({ status: 'cooling-down', untilMs: ownUntilMs - 1_000, consecutiveFailures: 5 });
    expect(c.context()).toMatchObject({ cooldownUntilMs: ownUntilMs, consecutiveFailures: 1 });
    c.advance(1_000);
    c.fleet({ status: 'cooling-down', untilMs: ownUntilMs + 30_000, consecutiveFailures: 2 });
    expect(c.context()).toMatchObject({ cooldownUntilMs: ownUntilMs + 30_000, consecutiveFailures: 2 });
    c.advance(ownUntilMs - c.now());
    expect(c.state()).toBe('coolingDown');
    expect(c.ask('s2')).toEqual({ type: 'ENDPOINT.DENIED', reason: 'cooling-down', untilMs: ownUntilMs + 30_000 });
    c.advance(30_000);
    expect(c.state()).toBe('probing.awaitingProbe');
    c.stop();
  });

  test('a remote latch is adopted: sessions are told unsupported until its end', () => {
    const c = coolingDown();
    const untilMs = c.now() + DEFAULT_POLICY.unsupportedTtlMs;
    c.fleet({ status: 'unsupported', untilMs });
    expect(c.state()).toBe('unsupported');
    expect(c.ask('s2')).toEqual({ type: 'ENDPOINT.DENIED', reason: 'unsupported', untilMs });
    c.stop();
  });

  test('a report already past, or about another endpoint, changes nothing', () => {
    const c = new EndpointChart();
    c.fleet({ status: 'cooling-down', untilMs: c.now() });
    c.fleet({ status: 'cooling-down', untilMs: c.now() + 60_000, endpointKey: `${KEY}-other` });
    c.fleet({ status: 'unsupported', untilMs: undefined });
    expect(c.state()).toBe('probing.awaitingProbe');
    c.stop();
  });

  test('a process whose own socket is proven keeps its own evidence', () => {
    const c = new EndpointChart();
    c.ask('s1');
    c.succeed('s1');
    c.advance(DEFAULT_POLICY.minUptimeMs);
    expect(c.state()).toBe('healthy.stable');
    c.fleet({ status: 'cooling-down', untilMs: c.now() + 45_000, consecutiveFailures: 4 });
    c.fleet({ status: 'unsupported', untilMs: c.now() + 45_000 });
    expect(c.state()).toBe('healthy.stable');
    expect(c.context().consecutiveFailures).toBe(0);
    expect(c.ask('s2')).toEqual({ type: 'ENDPOINT.GRANTED' });
    c.stop();
  });

  test('an unproven socket yields to a newer remote failure, not to an older one', () => {
    const c = new EndpointChart();
    c.ask('s1');
    c.advance(1_000);
    const failedElsewhereAtMs = c.now() - 500; // before this process's socket opened
    c.succeed('s1');
    expect(c.state()).toBe('healthy.settling');
    c.fleet({ status: 'cooling-down', untilMs: c.now() + 45_000, atMs: failedElsewhereAtMs });
    expect(c.state()).toBe('healthy.settling');
    c.advance(300);
    c.fleet({ status: 'cooling-down', untilMs: c.now() + 45_000, consecutiveFailures: 2 });
    expect(c.state()).toBe('coolingDown');
    expect(c.context().consecutiveFailures).toBe(2);
    c.stop();
  });
});

describe('pushed health: a remote recovery', () => {
  test('moves a cooling-down endpoint to healthy at once: every session upgrades on its next turn', () => {
    const c = coolingDown();
    c.advance(5_000);
    c.fleet({ status: 'healthy' });
    expect(c.state()).toBe('healthy.stable');
    expect(c.context()).toMatchObject({ consecutiveFailures: 0, cooldownUntilMs: undefined });
    for (let s = 0; s < 20; s++) expect(c.ask(`s${s}`)).toEqual({ type: 'ENDPOINT.GRANTED' });
    c.stop();
  });

  test('grants the session waiting for a shared claim, and a probing endpoint needs no probe of its own', () => {
    const c = new EndpointChart({ sharedStore: true });
    c.ask('s1');
    expect(c.state()).toBe('probing.claiming');
    c.advance(10);
    c.fleet({ status: 'healthy' });
    expect(c.repliesOf('s1')).toEqual([{ type: 'ENDPOINT.GRANTED' }]);
    expect(c.ask('s2')).toEqual({ type: 'ENDPOINT.GRANTED' });
    expect(c.claims).toHaveLength(1);
    c.stop();
  });

  test('moves a latched endpoint to healthy when newer than the latch', () => {
    const c = new EndpointChart();
    c.ask('s1');
    c.fail('s1', { class: 'unsupported', summary: 'upgrade answered HTTP 426', code: '426' });
    expect(c.state()).toBe('unsupported');
    c.advance(60_000);
    c.fleet({ status: 'healthy' });
    expect(c.state()).toBe('healthy.stable');
    c.stop();
  });

  test('older than this process own failure, it changes nothing', () => {
    const c = new EndpointChart();
    c.advance(1_000);
    const provedElsewhereAtMs = c.now() - 1;
    c.ask('s1');
    c.fail('s1');
    c.fleet({ status: 'healthy', atMs: provedElsewhereAtMs });
    expect(c.state()).toBe('coolingDown');
    c.stop();
  });
});

describe('pushed health: reset', () => {
  test('an operator reset is published as a reset report', () => {
    const c = coolingDown();
    c.advance(2_000);
    c.endpoint.send({ type: 'RESET', atMs: c.now() });
    expect(c.reports.at(-1)).toEqual({ endpointKey: KEY, status: 'reset', atMs: c.now(), untilMs: undefined, consecutiveFailures: 0 });
    expect(c.state()).toBe('probing.awaitingProbe');
    c.stop();
  });

  test('a remote reset acts like RESET, without publishing; from healthy.stable too', () => {
    const c = coolingDown();
    const published = c.reports.length;
    c.advance(2_000);
    c.fleet({ status: 'reset' });
    expect(c.state()).toBe('probing.awaitingProbe');
    expect(c.context()).toMatchObject({ consecutiveFailures: 0, cooldownUntilMs: undefined });
    expect(c.ask('s2')).toEqual({ type: 'ENDPOINT.GRANTED' });
    c.succeed('s2');
    c.advance(DEFAULT_POLICY.minUptimeMs);
    expect(c.state()).toBe('healthy.stable');
    const afterProof = c.reports.length;
    c.advance(1);
    c.fleet({ status: 'reset' });
    expect(c.state()).toBe('probing.awaitingProbe');
    expect(c.reports.length - afterProof).toBe(0);
    expect(afterProof - published).toBe(1); // the proof only
    c.stop();
  });

  test('this process own reset coming back from the store undoes nothing it did since', () => {
    const c = coolingDown();
    c.advance(2_000);
    const resetAtMs = c.now();
    c.endpoint.send({ type: 'RESET', atMs: resetAtMs });
    const echo = c.reports.at(-1)!;
    c.ask('s2');
    expect(c.state()).toBe('probing.probeInFlight');
    c.endpoint.send({ type: 'FLEET.HEALTH_CHANGED', report: echo, atMs: c.now() });
    expect(c.state()).toBe('probing.probeInFlight');
    expect(c.context().probeHolder).toBe('s2');
    c.stop();
  });
});

describe('pushed health: publishing', () => {
  test('healthy is published once the endpoint is proven (a socket stayed up minUptimeMs), not when a socket opens', () => {
    const c = coolingDown();
    c.advance(c.context().cooldownUntilMs! - c.now());
    c.ask('s1');
    const openedAtMs = c.now();
    c.succeed('s1');
    expect(c.reports.map((r) => r.status)).toEqual(['cooling-down']);
    c.advance(DEFAULT_POLICY.minUptimeMs);
    expect(c.reports.at(-1)).toEqual({
      endpointKey: KEY,
      status: 'healthy',
      atMs: openedAtMs + DEFAULT_POLICY.minUptimeMs,
      untilMs: undefined,
      consecutiveFailures: 0,
    });
    c.stop();
  });

  const reportArb = fc.record({
    status: fc.constantFrom<HealthReport['status']>('cooling-down', 'unsupported', 'healthy', 'reset'),
    ageMs: fc.integer({ min: -5_000, max: 60_000 }),
    windowMs: fc.option(fc.integer({ min: -10_000, max: 3_600_000 }), { nil: undefined }),
    consecutiveFailures: fc.nat({ max: 12 }),
    otherKey: fc.boolean(),
  });
  const stepArb = fc.oneof(
    reportArb.map((report) => ({ do: 'fleet' as const, report })),
    fc.integer({ min: 0, max: 120_000 }).map((ms) => ({ do: 'advance' as const, ms })),
    fc.nat({ max: 4 }).map((s) => ({ do: 'ask' as const, s })),
  );

  test.prop([fc.boolean(), fc.array(stepArb, { maxLength: 60 })], { numRuns: 200 })(
    'handling a fleet report never publishes: nothing is echoed back to the store',
    (sharedStore, steps) => {
      const c = new EndpointChart({ sharedStore });
      for (const step of steps) {
        if (step.do === 'advance') c.advance(step.ms);
        else if (step.do === 'ask') c.ask(`s${step.s}`);
        else {
          const { status, ageMs, windowMs, consecutiveFailures, otherKey } = step.report;
          c.fleet({
            status,
            atMs: c.now() - ageMs,
            untilMs: windowMs === undefined ? undefined : c.now() + windowMs,
            consecutiveFailures,
            ...(otherKey ? { endpointKey: `${KEY}-other` } : {}),
          });
        }
        // No session here ever reports an outcome, so the chart has nothing of its own to publish.
        expect(c.reports).toEqual([]);
      }
      c.stop();
    },
  );
});
