import { describe, expect, it } from 'vitest';
import { SimulatedClock, createActor, fromCallback, fromPromise, type AnyActorRef } from 'xstate';
import {
  cooldownFloorMs,
  createEndpointMachine,
  DEFAULT_POLICY,
  type EndpointReply,
  type Failure,
  type HealthReport,
  type ProbeClaim,
  type SharedProbeRelease,
} from '../../machines/index.js';

/**
 * The endpoint chart's side of a shared store, one chart at a time: what it takes from a
 * claim's fleet streak, what it reports, and when it gives a lease back.
 */

const KEY = 'openai/gpt-5.4/wss://api.example/v1/responses/acct-1';
const UPGRADE_500: Failure = { class: 'transient-server', summary: 'upgrade answered HTTP 500', code: '500' };
const ABORTED: Failure = { class: 'aborted', summary: 'the caller aborted the turn' };
const START = 1_764_000_000_000;
const LEASE_MS = DEFAULT_POLICY.upgradeTimeoutMs + 2_000;

const session = fromCallback<EndpointReply, { replies: EndpointReply[] }>(({ receive, input }) => {
  receive((reply) => input.replies.push(reply));
});

/** One chart whose store answers every claim with `answer` (synchronously enough: a resolved promise). */
function chart(answer: () => ProbeClaim) {
  const reports: HealthReport[] = [];
  const releases: SharedProbeRelease[] = [];
  const claims: { atMs: number; leaseMs: number }[] = [];
  const clock = new SimulatedClock();
  clock.set(START);
  const machine = createEndpointMachine().provide({
    actors: {
      claimProbe: fromPromise<ProbeClaim, { endpointKey: string; atMs: number; leaseMs: number }>(async ({ input }) => {
        claims.push({ atMs: input.atMs, leaseMs: input.leaseMs });
        return answer();
      }),
    },
    actions: {
      publishHealth: (_, report: HealthReport) => reports.push(report),
      releaseSharedProbe: (_, release: SharedProbeRelease) => releases.push(release),
    },
  });
  const endpoint = createActor(machine, { clock, input: { endpointKey: KEY, policy: DEFAULT_POLICY, jitterSeed: 7, sharedStore: true } });
  endpoint.start();
  const replies: EndpointReply[] = [];
  const ref: AnyActorRef = createActor(session, { input: { replies } }).start();
  const settle = async () => {
    for (let i = 0; i < 5; i += 1) await Promise.resolve();
  };
  const ask = async () => {
    endpoint.send({ type: 'PROBE_REQUESTED', sessionId: 's1', session: ref, atMs: clock.now() });
    await settle();
    return replies.at(-1);
  };
  return { endpoint, clock, reports, releases, claims, replies, ask, settle };
}

describe('the endpoint chart with a shared store', () => {
  it('takes max(own, fleet) from a granted claim, so its next cooldown grows from the fleet streak', async () => {
    const c = chart(() => ({ granted: true, consecutiveFailures: 5 }));
    expect(await c.ask()).toEqual({ type: 'ENDPOINT.GRANTED' });
    expect(c.endpoint.getSnapshot().context.consecutiveFailures).toBe(5);
    c.clock.increment(1_000);
    c.endpoint.send({ type: 'UPGRADE_FAILED', sessionId: 's1', failure: UPGRADE_500, atMs: c.clock.now() });
    const report = c.reports.at(-1)!;
    expect(report).toMatchObject({ endpointKey: KEY, status: 'cooling-down', atMs: c.clock.now(), consecutiveFailures: 6 });
    expect(report.untilMs! - report.atMs).toBeGreaterThanOrEqual(cooldownFloorMs(DEFAULT_POLICY.cooldown, 6));
    // A failure report clears the store's lease itself: nothing to release.
    expect(c.releases).toEqual([]);
    expect(c.endpoint.getSnapshot().context.sharedLeaseUntilMs).toBeUndefined();
  });

  it('a lower fleet streak does not lower its own; a refused claim carries the streak too', async () => {
    let answer: ProbeClaim = { granted: true };
    const c = chart(() => answer);
    await c.ask();
    c.endpoint.send({ type: 'UPGRADE_FAILED', sessionId: 's1', failure: UPGRADE_500, atMs: c.clock.now() });
    c.endpoint.send({ type: 'RESET', atMs: c.clock.now() });
    answer = { granted: false, untilMs: c.clock.now() + 60_000, reason: 'cooling-down', consecutiveFailures: 3 };
    expect(await c.ask()).toMatchObject({ type: 'ENDPOINT.DENIED', reason: 'cooling-down' });
    expect(c.endpoint.getSnapshot().context.consecutiveFailures).toBe(3);
    c.clock.increment(60_000);
    answer = { granted: true, consecutiveFailures: 1 };
    await c.ask();
    expect(c.endpoint.getSnapshot().context.consecutiveFailures).toBe(3);
  });

  it('ignores a streak that is not a count', async () => {
    for (const [streak, expected] of [
      [Number.NaN, 0],
      [-3, 0],
      [Number.POSITIVE_INFINITY, 0],
      [2.7, 2],
    ] as const) {
      const c = chart(() => ({ granted: true, consecutiveFailures: streak }));
      await c.ask();
      expect(c.endpoint.getSnapshot().context.consecutiveFailures, String(streak)).toBe(expected);
    }
  });

  it('gives the lease back on PROBE_RELEASED, naming it by its end', async () => {
    const c = chart(() => ({ granted: true }));
    const claimedAt = c.clock.now();
    await c.ask();
    expect(c.endpoint.getSnapshot().context.sharedLeaseUntilMs).toBe(claimedAt + LEASE_MS);
    c.clock.increment(2_000);
    c.endpoint.send({ type: 'PROBE_RELEASED', sessionId: 's1', atMs: c.clock.now() });
    expect(c.releases).toEqual([{ endpointKey: KEY, atMs: claimedAt + 2_000, leaseUntilMs: claimedAt + LEASE_MS }]);
    expect(c.endpoint.getSnapshot().context.sharedLeaseUntilMs).toBeUndefined();
    // A release by a session that does not hold the probe changes nothing.
    c.endpoint.send({ type: 'PROBE_RELEASED', sessionId: 's2', atMs: c.clock.now() });
    expect(c.releases).toHaveLength(1);
  });

  it('gives the lease back when the holder reports a failure that says nothing about the endpoint', async () => {
    const c = chart(() => ({ granted: true }));
    const claimedAt = c.clock.now();
    await c.ask();
    c.clock.increment(500);
    c.endpoint.send({ type: 'UPGRADE_FAILED', sessionId: 's1', failure: ABORTED, atMs: c.clock.now() });
    expect(c.endpoint.getSnapshot().value).toEqual({ probing: 'awaitingProbe' });
    expect(c.releases).toEqual([{ endpointKey: KEY, atMs: claimedAt + 500, leaseUntilMs: claimedAt + LEASE_MS }]);
    expect(c.reports).toEqual([]);
  });

  it('gives the lease back when its own lease timer runs out (the holder never reported)', async () => {
    const c = chart(() => ({ granted: true }));
    const claimedAt = c.clock.now();
    await c.ask();
    c.clock.increment(LEASE_MS);
    expect(c.endpoint.getSnapshot().value).toEqual({ probing: 'awaitingProbe' });
    expect(c.releases).toEqual([{ endpointKey: KEY, atMs: claimedAt + LEASE_MS, leaseUntilMs: claimedAt + LEASE_MS }]);
  });

  it('a healthy report is made once proven, at the success atMs + minUptimeMs; without a store the chart never releases', async () => {
    const c = chart(() => ({ granted: true }));
    await c.ask();
    c.clock.increment(300);
    const openedAtMs = c.clock.now();
    c.endpoint.send({ type: 'UPGRADE_SUCCEEDED', sessionId: 's1', atMs: openedAtMs });
    expect(c.reports).toEqual([]);
    c.clock.increment(DEFAULT_POLICY.minUptimeMs);
    expect(c.reports).toEqual([{ endpointKey: KEY, status: 'healthy', atMs: openedAtMs + DEFAULT_POLICY.minUptimeMs, untilMs: undefined, consecutiveFailures: 0 }]);
    expect(c.releases).toEqual([]);

    const releases: SharedProbeRelease[] = [];
    const alone = createActor(
      createEndpointMachine().provide({ actions: { releaseSharedProbe: (_, release: SharedProbeRelease) => releases.push(release) } }),
      { clock: new SimulatedClock(), input: { endpointKey: KEY, policy: DEFAULT_POLICY, jitterSeed: 1 } },
    ).start();
    const ref = createActor(session, { input: { replies: [] } }).start();
    alone.send({ type: 'PROBE_REQUESTED', sessionId: 's1', session: ref, atMs: 0 });
    alone.send({ type: 'PROBE_RELEASED', sessionId: 's1', atMs: 1 });
    // The action runs (a no-op by default), but names no lease: the manager does not call the store.
    expect(releases).toEqual([{ endpointKey: KEY, atMs: 1, leaseUntilMs: undefined }]);
  });
});
