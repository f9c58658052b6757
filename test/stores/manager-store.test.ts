import { afterEach, describe, expect, it, vi } from 'vitest';
import { cooldownFloorMs, DEFAULT_POLICY, type HealthReport, type ProbeClaim } from '../../machines/index.js';
import { memoryStore } from '../../src/stores/memory.js';
import type { CoordinationStore } from '../../src/stores/store.js';
import { closeHarnesses, startHarness, type Harness } from '../support/manager-harness.js';

/**
 * The manager's wiring of a store (src/manager.ts): two managers ("gateway processes"), each
 * with its own fake upstream and SimulatedClock, share one memoryStore under the same endpoint
 * key. Every store call is recorded.
 */

afterEach(async () => {
  await closeHarnesses();
});

interface Recorded {
  readonly claims: { readonly atMs: number; readonly leaseMs: number; readonly answer: ProbeClaim }[];
  readonly reports: HealthReport[];
  readonly releases: { readonly atMs: number; readonly leaseUntilMs: number }[];
}

function recordingStore(store: CoordinationStore): CoordinationStore & Recorded {
  const claims: Recorded['claims'][number][] = [];
  const reports: HealthReport[] = [];
  const releases: Recorded['releases'][number][] = [];
  return {
    claims,
    reports,
    releases,
    async claimProbe(endpointKey, atMs, leaseMs) {
      const answer = await store.claimProbe(endpointKey, atMs, leaseMs);
      claims.push({ atMs, leaseMs, answer });
      return answer;
    },
    async publishHealth(report) {
      reports.push(report);
      await store.publishHealth(report);
    },
    async releaseProbe(endpointKey, atMs, leaseUntilMs) {
      releases.push({ atMs, leaseUntilMs });
      await store.releaseProbe!(endpointKey, atMs, leaseUntilMs);
    },
  };
}

const KEY = 'gpt';

async function twoProcesses(store: CoordinationStore, mode: 'failing' | 'hanging'): Promise<[Harness, Harness]> {
  const modes = { [KEY]: mode === 'failing' ? { upgradeStatus: 500 } : ('hang' as const) };
  const a = await startHarness({ endpoints: { [KEY]: {} }, modes, jitterSeed: 1, manager: { store } });
  const b = await startHarness({ endpoints: { [KEY]: {} }, modes, jitterSeed: 2, manager: { store } });
  return [a, b];
}

/** Both clocks move together. */
async function advanceBoth(a: Harness, b: Harness, ms: number): Promise<void> {
  await a.advanceBy(ms);
  await b.advanceBy(ms);
}

describe('a manager with a store', () => {
  it('reports atMs, and the next process backs off from the fleet streak', async () => {
    const store = recordingStore(memoryStore());
    const [a, b] = await twoProcesses(store, 'failing');
    expect((await a.turn(a.session('a1', KEY))).error).toBeUndefined();
    await vi.waitFor(() => expect(store.reports).toHaveLength(1));
    expect(store.reports[0]).toMatchObject({ endpointKey: KEY, status: 'cooling-down', atMs: a.now(), consecutiveFailures: 1 });
    const firstWindowMs = store.reports[0]!.untilMs! - store.reports[0]!.atMs;

    // Once the window is over, process b wins the probe: it learns the streak before probing.
    await advanceBoth(a, b, firstWindowMs);
    expect((await b.turn(b.session('b1', KEY))).error).toBeUndefined();
    await vi.waitFor(() => expect(store.reports).toHaveLength(2));
    expect(store.claims.at(-1)!.answer).toEqual({ granted: true, consecutiveFailures: 1 });
    const second = store.reports[1]!;
    expect(second).toMatchObject({ status: 'cooling-down', atMs: b.now(), consecutiveFailures: 2 });
    expect(second.untilMs! - second.atMs).toBeGreaterThanOrEqual(cooldownFloorMs(DEFAULT_POLICY.cooldown, 2));
    expect(b.manager.endpoint(KEY).state.consecutiveFailures).toBe(2);

    // Process a, refused while b's window runs, adopts the streak too.
    expect((await a.turn(a.session('a2', KEY))).error).toBeUndefined();
    expect(store.claims.at(-1)!.answer).toMatchObject({ granted: false, reason: 'cooling-down', consecutiveFailures: 2 });
    expect(a.manager.endpoint(KEY).state.consecutiveFailures).toBe(2);
    expect(store.releases).toEqual([]);
  });

  it('a released session gives its probe back to the store: the other process probes at once', async () => {
    const store = recordingStore(memoryStore());
    const [a, b] = await twoProcesses(store, 'hanging');
    const pending = a.turn(a.session('a1', KEY));
    await vi.waitFor(() => expect(a.upstream.upgradeAttemptsFor(KEY)).toBe(1));
    await a.advanceBy(a.manager.policy.upgradeBudgetMs);
    expect((await pending).error).toBeUndefined();
    expect(store.claims).toHaveLength(1);
    const claim = store.claims[0]!;

    a.manager.release('a1');
    await vi.waitFor(() => expect(store.releases).toHaveLength(1));
    expect(store.releases[0]).toEqual({ atMs: a.now(), leaseUntilMs: claim.atMs + claim.leaseMs });

    // Well within the lease: b's claim is granted.
    await b.advanceBy(a.now() - b.now());
    const bPending = b.turn(b.session('b1', KEY));
    await vi.waitFor(() => expect(b.upstream.upgradeAttemptsFor(KEY)).toBe(1));
    expect(store.claims.at(-1)!.answer).toEqual({ granted: true });
    await b.advanceBy(b.manager.policy.upgradeBudgetMs);
    expect((await bPending).error).toBeUndefined();
  });
});
