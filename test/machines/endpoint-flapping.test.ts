import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { DEFAULT_POLICY, type Policy } from '../../machines/index.js';
import { POLICIES, policyArb } from './support/actions.js';
import { EndpointChart } from './support/endpoint-chart.js';

/**
 * Issue 12 Deliver 3: a flapping endpoint is probed, not stampeded. Sessions are reduced to what
 * the endpoint chart sees of them: each takes a turn now and then, asks to upgrade when it has
 * no socket, opens the socket some time after a grant, and loses it `lifetimeMs` after opening.
 */

interface Scenario {
  readonly policy: Policy;
  readonly sessions: number;
  /** Time between two turns of session i, in ms. */
  readonly turnEveryMs: readonly number[];
  /** How long an upgrade takes, in ms. */
  readonly upgradeMs: number;
  /** How long an open socket lives, in ms; undefined: for ever. */
  readonly lifetimeMs: number | undefined;
  readonly horizonMs: number;
}

interface Run {
  /** When each grant was made, in ms. */
  readonly grantsAtMs: number[];
  /** When each cooldown began, in ms (entries into coolingDown). */
  readonly cooldownsAtMs: number[];
  /** Sessions with an open socket at the end. */
  readonly openAtEnd: number;
  readonly chart: EndpointChart;
}

type Happening = { atMs: number; kind: 'turn' | 'open' | 'die'; s: number };

function simulate(scenario: Scenario): Run {
  const c = new EndpointChart({ policy: scenario.policy, startAtMs: 0 });
  const grantsAtMs: number[] = [];
  const cooldownsAtMs: number[] = [];
  let was = c.state();
  c.endpoint.subscribe(() => {
    const now = c.state();
    if (now === 'coolingDown' && was !== 'coolingDown') cooldownsAtMs.push(c.now());
    was = now;
  });
  const socket: ('none' | 'connecting' | 'open')[] = Array.from({ length: scenario.sessions }, () => 'none');
  const queue: Happening[] = scenario.turnEveryMs.map((every, s) => ({ atMs: every % 997, kind: 'turn', s }));
  const next = (): Happening | undefined => {
    let best = -1;
    queue.forEach((h, i) => {
      if (best < 0 || h.atMs < queue[best]!.atMs) best = i;
    });
    return best < 0 ? undefined : queue.splice(best, 1)[0];
  };
  for (let h = next(); h && h.atMs <= scenario.horizonMs; h = next()) {
    c.advance(h.atMs - c.now());
    const id = `s${h.s}`;
    if (h.kind === 'turn') {
      if (socket[h.s] === 'none' && c.ask(id)?.type === 'ENDPOINT.GRANTED') {
        grantsAtMs.push(c.now());
        socket[h.s] = 'connecting';
        queue.push({ atMs: c.now() + scenario.upgradeMs, kind: 'open', s: h.s });
      }
      queue.push({ atMs: c.now() + scenario.turnEveryMs[h.s]!, kind: 'turn', s: h.s });
    } else if (h.kind === 'open') {
      socket[h.s] = 'open';
      c.succeed(id);
      if (scenario.lifetimeMs !== undefined) queue.push({ atMs: c.now() + scenario.lifetimeMs, kind: 'die', s: h.s });
    } else {
      socket[h.s] = 'none';
      c.lose(id, scenario.lifetimeMs!);
    }
  }
  return { grantsAtMs, cooldownsAtMs, openAtEnd: socket.filter((s) => s === 'open').length, chart: c };
}

/** Grants per cooldown cycle: before the first cooldown, then between each cooldown and the next. */
function upgradesPerCycle(run: Run): number[] {
  const bounds = [...run.cooldownsAtMs, Infinity];
  const counts = bounds.map(() => 0);
  for (const at of run.grantsAtMs) counts[bounds.findIndex((b) => at < b)]! += 1;
  return counts;
}

describe('a flapping endpoint is probed, not stampeded', () => {
  test('20 sessions, sockets dying 300 ms after opening: one upgrade per cooldown cycle', () => {
    const run = simulate({
      policy: DEFAULT_POLICY,
      sessions: 20,
      turnEveryMs: Array.from({ length: 20 }, (_, i) => 5_000 + 731 * i),
      upgradeMs: 40,
      lifetimeMs: 300,
      horizonMs: 6 * 3_600_000,
    });
    const perCycle = upgradesPerCycle(run);
    expect(run.cooldownsAtMs.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...perCycle), `upgrades per cycle: ${perCycle.join(', ')}`).toBeLessThanOrEqual(3);
    expect(perCycle.slice(0, -1).every((n) => n === 1)).toBe(true);
    run.chart.stop();
  });

  test.prop(
    [
      policyArb,
      fc.integer({ min: 2, max: 20 }),
      fc.array(fc.integer({ min: 1_000, max: 90_000 }), { minLength: 20, maxLength: 20 }),
      fc.integer({ min: 1, max: 7_999 }),
      fc.integer({ min: 0, max: 14_999 }),
    ],
    { numRuns: 25 },
  )('whatever the turn rhythm, upgrade time and socket lifetime below minUptimeMs, at most 3 upgrades per cooldown cycle', (policyName, sessions, turnEveryMs, upgradeMs, lifetimeMs) => {
    const policy = POLICIES[policyName];
    const run = simulate({ policy, sessions, turnEveryMs: turnEveryMs.slice(0, sessions), upgradeMs, lifetimeMs, horizonMs: 3_600_000 });
    const perCycle = upgradesPerCycle(run);
    expect(Math.max(...perCycle), `upgrades per cycle: ${perCycle.join(', ')}`).toBeLessThanOrEqual(3);
    run.chart.stop();
  });

  test('a healthy endpoint still brings every session back to WebSocket once proven', () => {
    const turnEveryMs = Array.from({ length: 20 }, (_, i) => 2_000 + 997 * i);
    const run = simulate({ policy: DEFAULT_POLICY, sessions: 20, turnEveryMs, upgradeMs: 40, lifetimeMs: undefined, horizonMs: 10 * 60_000 });
    expect(run.cooldownsAtMs).toEqual([]);
    expect(run.openAtEnd).toBe(20);
    // One probe; nobody else until it is proven; then everyone on their next turn.
    const probeAtMs = run.grantsAtMs[0]!;
    const provenAtMs = probeAtMs + 40 + DEFAULT_POLICY.minUptimeMs;
    expect(run.grantsAtMs.filter((at) => at < provenAtMs)).toEqual([probeAtMs]);
    expect(Math.max(...run.grantsAtMs)).toBeLessThanOrEqual(provenAtMs + Math.max(...turnEveryMs));
    expect(run.chart.state()).toBe('healthy.stable');
    run.chart.stop();
  });

  test('the session whose socket is unproven may upgrade again (it closed it locally, say); the others may not', () => {
    const c = new EndpointChart();
    c.ask('s0');
    c.succeed('s0');
    c.advance(2_000);
    expect(c.ask('s0')).toEqual({ type: 'ENDPOINT.GRANTED' });
    expect(c.ask('s1')).toMatchObject({ type: 'ENDPOINT.DENIED', reason: 'unproven' });
    c.stop();
  });

  test('sessions asking while the probe is unproven are told when it will be proven', () => {
    const c = new EndpointChart();
    c.ask('s0');
    c.advance(40);
    c.succeed('s0');
    const provenAtMs = c.now() + DEFAULT_POLICY.minUptimeMs;
    c.advance(1_000);
    expect(c.ask('s1')).toEqual({ type: 'ENDPOINT.DENIED', reason: 'unproven', untilMs: provenAtMs });
    c.advance(provenAtMs - c.now() - 1);
    expect(c.ask('s2')).toMatchObject({ type: 'ENDPOINT.DENIED', reason: 'unproven' });
    c.advance(1);
    expect(c.ask('s2')).toEqual({ type: 'ENDPOINT.GRANTED' });
    c.stop();
  });
});
