import { createActor, fromCallback } from 'xstate';
import { describe, expect, test } from 'vitest';
import { createEndpointMachine, DEFAULT_POLICY, type EndpointEmitted } from '../../machines/index.js';
import { ChartHarness } from '../support/chart-harness.js';
import { EndpointChart, KEY, UPGRADE_426, UPGRADE_500 } from './support/endpoint-chart.js';

/**
 * What the endpoint chart emits (issue 12: operator events are emitted by the charts):
 * `health.changed` for sessions, and for operators a cooldown or latch that begins, its end, and
 * a recovery. Asserted on the chart alone, on a simulated clock; src/reports/ words them.
 */

const MIN_UPTIME_MS = DEFAULT_POLICY.minUptimeMs;

function watched(options: ConstructorParameters<typeof EndpointChart>[0] = {}) {
  const c = new EndpointChart(options);
  const emitted: EndpointEmitted[] = [];
  c.endpoint.on('*', (event) => emitted.push(event));
  /** The events emitted since the last call. */
  const since = (() => {
    let seen = 0;
    return () => emitted.slice(seen, (seen = emitted.length));
  })();
  return { c, emitted, since };
}

const types = (events: readonly EndpointEmitted[]) => events.map((e) => e.type);

describe('the endpoint chart emits', () => {
  test('nothing when it starts or stops', () => {
    const actor = createActor(createEndpointMachine(), { input: { endpointKey: KEY, policy: DEFAULT_POLICY, jitterSeed: 1 } });
    const emitted: unknown[] = [];
    actor.on('*', (event) => emitted.push(event));
    actor.start();
    actor.send({ type: 'STOP' });
    expect(emitted).toEqual([]);
  });

  test('a cooldown: one announcement with the failure, whatever else fails during it; its end once', () => {
    const { c, since } = watched();
    const startedAtMs = c.now();
    c.ask('s1');
    c.fail('s1');
    const untilMs = c.context().cooldownUntilMs!;
    expect(since()).toEqual([
      { type: 'cooldown.started', endpointKey: KEY, consecutiveFailures: 1, failure: UPGRADE_500, startedAtMs, untilMs, suppressedFailures: 0 },
      { type: 'health.changed', endpointKey: KEY, status: 'cooling-down', untilMs, atMs: startedAtMs },
    ]);
    // Upgrades already in flight fail too: counted by the chart, not announced.
    c.fail('s2');
    c.lose('s3', 10);
    c.ask('s4');
    expect(since()).toEqual([]);
    expect(c.context().suppressedFailures).toBe(2);
    c.advance(untilMs - c.now());
    expect(since()).toEqual([
      { type: 'cooldown.ended', endpointKey: KEY, consecutiveFailures: 1, atMs: untilMs },
      { type: 'health.changed', endpointKey: KEY, status: 'probing', untilMs: undefined, atMs: untilMs },
    ]);
    c.stop();
    expect(since()).toEqual([]);
  });

  test('a latch: one announcement with the refusal, for unsupportedTtlMs', () => {
    const { c, since } = watched();
    const atMs = c.now();
    c.ask('s1');
    c.fail('s1', UPGRADE_426);
    const untilMs = atMs + DEFAULT_POLICY.unsupportedTtlMs;
    expect(since()).toEqual([
      { type: 'http.latched', endpointKey: KEY, consecutiveFailures: 0, failure: UPGRADE_426, startedAtMs: atMs, untilMs },
      { type: 'health.changed', endpointKey: KEY, status: 'unsupported', untilMs, atMs },
    ]);
    c.advance(DEFAULT_POLICY.unsupportedTtlMs);
    expect(types(since())).toEqual(['cooldown.ended', 'health.changed']);
    c.stop();
  });

  test('recovery: only once a socket stayed up minUptimeMs, with how long the endpoint was down; once', () => {
    const { c, since } = watched();
    const downAtMs = c.now();
    c.ask('s1');
    c.fail('s1');
    c.advance(c.context().cooldownUntilMs! - c.now());
    since();
    c.ask('s1');
    const openedAtMs = c.now();
    c.succeed('s1');
    expect(since()).toEqual([{ type: 'health.changed', endpointKey: KEY, status: 'healthy', untilMs: openedAtMs + MIN_UPTIME_MS, atMs: openedAtMs }]);
    c.advance(MIN_UPTIME_MS);
    const provenAtMs = openedAtMs + MIN_UPTIME_MS;
    expect(since()).toEqual([
      { type: 'endpoint.recovered', endpointKey: KEY, consecutiveFailures: 0, downForMs: provenAtMs - downAtMs, suppressedFailures: 0, atMs: provenAtMs },
      { type: 'health.changed', endpointKey: KEY, status: 'healthy', untilMs: undefined, atMs: provenAtMs },
    ]);
    // A reset and a new proof: the endpoint was never down since, so nothing recovered.
    c.endpoint.send({ type: 'RESET', atMs: c.now() });
    c.ask('s2');
    c.succeed('s2');
    c.advance(MIN_UPTIME_MS);
    expect(types(since())).toEqual(['health.changed', 'health.changed', 'health.changed']);
    c.stop();
  });

  test('flapping (each socket dies before minUptimeMs): a cooldown per cycle, never a recovery', () => {
    const { c, emitted } = watched();
    for (let cycle = 1; cycle <= 4; cycle++) {
      expect(c.ask('s1')).toEqual({ type: 'ENDPOINT.GRANTED' });
      c.succeed('s1');
      c.advance(MIN_UPTIME_MS / 2);
      c.lose('s1', MIN_UPTIME_MS / 2);
      expect(c.state()).toBe('coolingDown');
      c.advance(c.context().cooldownUntilMs! - c.now());
    }
    expect(types(emitted).filter((t) => t === 'cooldown.started')).toHaveLength(4);
    expect(types(emitted)).not.toContain('endpoint.recovered');
    expect(emitted.filter((e) => e.type === 'health.changed').map((e) => (e.type === 'health.changed' ? e.status : ''))).toEqual(
      Array.from({ length: 4 }, () => ['healthy', 'cooling-down', 'probing']).flat(),
    );
    c.stop();
  });

  test('a cooldown the shared store imposes (a denied claim) is announced without a failure, even after a failure of its own', () => {
    const h = new ChartHarness(DEFAULT_POLICY, 1, { sharedStore: true });
    const emitted: EndpointEmitted[] = [];
    h.endpoint.on('*', (event) => emitted.push(event));
    const session = createActor(fromCallback(() => {})).start();
    const ask = () => h.endpoint.send({ type: 'PROBE_REQUESTED', sessionId: 's1', session, atMs: h.now() });

    ask();
    const askedAtMs = h.now();
    h.advance(200); // the store answers later; the window counts from the ask
    h.claims[0]!.resolve({ granted: false, untilMs: askedAtMs + 30_000, reason: 'probe-in-flight', consecutiveFailures: 2 });
    expect(emitted).toEqual([
      { type: 'cooldown.started', endpointKey: h.endpoint.getSnapshot().context.endpointKey, consecutiveFailures: 2, startedAtMs: askedAtMs, untilMs: askedAtMs + 30_000, suppressedFailures: 0 },
      { type: 'health.changed', endpointKey: h.endpoint.getSnapshot().context.endpointKey, status: 'cooling-down', untilMs: askedAtMs + 30_000, atMs: askedAtMs },
    ]);

    // Its own probe fails later; the next refusal is still not its failure.
    h.advance(30_000);
    ask();
    h.claims[1]!.resolve({ granted: true });
    h.endpoint.send({ type: 'UPGRADE_FAILED', sessionId: 's1', failure: UPGRADE_500, atMs: h.now() });
    h.advance(h.endpoint.getSnapshot().context.cooldownUntilMs! - h.now());
    ask();
    h.claims[2]!.resolve({ granted: false, untilMs: h.now() + 30_000, reason: 'cooling-down' });
    const announced = emitted.filter((e) => e.type === 'cooldown.started');
    expect(announced.map((e) => e.failure)).toEqual([undefined, UPGRADE_500, undefined]);
    h.stop();
  });

  test('health.changed on RESET, even while probing, with the end of the cooldown it cut short', () => {
    const { c, since } = watched();
    c.endpoint.send({ type: 'RESET', atMs: c.now() });
    expect(since()).toEqual([{ type: 'health.changed', endpointKey: KEY, status: 'probing', untilMs: undefined, atMs: c.now() }]);
    c.ask('s1');
    c.fail('s1');
    since();
    c.advance(1_000);
    c.endpoint.send({ type: 'RESET', atMs: c.now() });
    expect(since()).toEqual([
      { type: 'cooldown.ended', endpointKey: KEY, consecutiveFailures: 0, atMs: c.now() },
      { type: 'health.changed', endpointKey: KEY, status: 'probing', untilMs: undefined, atMs: c.now() },
    ]);
    c.stop();
  });

  test('health.changed on every fleet report adopted; operators hear of a change of health only, never of the fleet extending a window', () => {
    const { c, since } = watched();
    const untilMs = c.now() + 60_000;
    c.fleet({ status: 'cooling-down', untilMs, consecutiveFailures: 3 });
    expect(since()).toEqual([
      { type: 'cooldown.started', endpointKey: KEY, consecutiveFailures: 3, startedAtMs: c.now(), untilMs, suppressedFailures: 0 },
      { type: 'health.changed', endpointKey: KEY, status: 'cooling-down', untilMs, atMs: c.now() },
    ]);
    c.advance(1_000);
    c.fleet({ status: 'cooling-down', untilMs: untilMs + 30_000, consecutiveFailures: 3 });
    expect(since()).toEqual([{ type: 'health.changed', endpointKey: KEY, status: 'cooling-down', untilMs: untilMs + 30_000, atMs: c.now() }]);
    // A window that ends earlier is not adopted: nothing changed, nothing emitted.
    c.fleet({ status: 'cooling-down', untilMs: untilMs - 1, consecutiveFailures: 3 });
    expect(since()).toEqual([]);
    c.fleet({ status: 'unsupported', untilMs: c.now() + 600_000 });
    expect(since()).toEqual([
      { type: 'http.latched', endpointKey: KEY, consecutiveFailures: 3, startedAtMs: c.now(), untilMs: c.now() + 600_000 },
      { type: 'health.changed', endpointKey: KEY, status: 'unsupported', untilMs: c.now() + 600_000, atMs: c.now() },
    ]);
    c.advance(1_000);
    c.fleet({ status: 'healthy' });
    expect(since()).toEqual([
      { type: 'endpoint.recovered', endpointKey: KEY, consecutiveFailures: 0, downForMs: 2_000, suppressedFailures: 0, atMs: c.now() },
      { type: 'health.changed', endpointKey: KEY, status: 'healthy', untilMs: undefined, atMs: c.now() },
    ]);
    c.advance(1_000);
    c.fleet({ status: 'reset' });
    expect(since()).toEqual([{ type: 'health.changed', endpointKey: KEY, status: 'probing', untilMs: undefined, atMs: c.now() }]);
    c.stop();
  });

  test('failures suppressed during a window are reported once, by the next announcement that carries them', () => {
    const { c, since } = watched();
    c.ask('s1');
    c.fail('s1');
    c.fail('s2');
    c.fail('s3');
    since();
    // The fleet proves the endpoint while this process cools down: the recovery carries the two.
    c.advance(1);
    c.fleet({ status: 'healthy' });
    expect(since()[0]).toMatchObject({ type: 'endpoint.recovered', suppressedFailures: 2 });
    c.fail('s4');
    c.fail('s5');
    expect(since()[0]).toMatchObject({ type: 'cooldown.started', suppressedFailures: 0, failure: UPGRADE_500 });
    expect(c.context()).toMatchObject({ suppressedFailures: 3, reportedSuppressedFailures: 2 });
    // Leaving the window by its timer reports nothing: the count is consumed with the window.
    c.advance(c.context().cooldownUntilMs! - c.now());
    c.ask('s6');
    c.fail('s6');
    expect(since().find((e) => e.type === 'cooldown.started')).toMatchObject({ suppressedFailures: 0 });
    c.stop();
  });
});
