/**
 * Row 3: time from the start of a turn to its first event when the WebSocket upgrade
 * (a) answers 500 and (b) hangs, on a fresh endpoint each sample so the upgrade is attempted,
 * vs a direct HTTP request. Real clock.
 */
import { createSessionManager, type PolicyOptions } from '../../src/index.js';
import { reportRows, rowArgs, progress, type RowResult } from '../lib/child.js';
import { rawHttpFirstEventMs, rawPostRoundTripMs, rawRejectedUpgradeMs } from '../lib/raw-clients.js';
import { ms } from '../lib/format.js';
import { round, roundSummary, summarize } from '../lib/stats.js';
import { startRemoteUpstream, type RemoteUpstream } from '../lib/upstream-child.js';

interface Args {
  samples500: number;
  samplesHang: number;
  warmup: number;
  upgradeBudgetMs: number;
}

const TOKEN = 'tok-bench-0001';
const ALLOWANCE_MS = 2;

/** One turn on a brand-new manager (so a brand-new endpoint): ms from the first `next()` to the first event. */
async function packageFirstEventMs(upstream: RemoteUpstream, model: string, policy: PolicyOptions, check: (upgrades: number) => void): Promise<number> {
  let upgrades = 0;
  const manager = createSessionManager({
    endpoints: { fresh: { wsUrl: upstream.wsUrl(model), httpUrl: upstream.httpUrl, credentials: TOKEN } },
    policy,
  });
  manager.on('upgrade', () => upgrades++);
  try {
    const session = manager.session('first-event', 'fresh');
    const iterator = session.stream({ model, input: 'benchmark' })[Symbol.asyncIterator]();
    const started = performance.now();
    const first = await iterator.next();
    const elapsed = performance.now() - started;
    if (first.done) throw new Error('row 3: the turn ended without an event');
    while (!(await iterator.next()).done);
    if (session.state.transport !== 'http') throw new Error(`row 3: expected the session on HTTP, got ${session.state.connection}`);
    check(upgrades);
    return elapsed;
  } finally {
    await manager.close();
  }
}

reportRows(async (): Promise<RowResult[]> => {
  const args = { samples500: 200, samplesHang: 40, warmup: 30, upgradeBudgetMs: 50, ...rowArgs<Partial<Args>>() };
  const upstream = await startRemoteUpstream({ deltasPerTurn: 5, defaultMode: { upgradeStatus: 500 }, modes: { hang: 'hang' } });
  const body = (model: string) => ({ model, input: 'benchmark' });
  try {
    // (a) upgrade answered 500
    const sample = {
      package: () => packageFirstEventMs(upstream, 'm500', {}, () => undefined),
      raw: () => rawHttpFirstEventMs(upstream.httpUrl, TOKEN, body('direct')),
      upgrade500: () => rawRejectedUpgradeMs(upstream.wsUrl('raw500'), TOKEN),
      post: () => rawPostRoundTripMs(upstream.httpUrl),
    };
    const names = Object.keys(sample) as (keyof typeof sample)[];
    for (let i = 0; i < args.warmup; i++) for (const name of names) await sample[name]();
    const before = await upstream.counters(['m500', 'raw500', 'hang']);
    progress(`row 3a: ${args.samples500} fresh endpoints, upgrade answered 500`);
    const times: Record<string, number[]> = { package: [], raw: [], upgrade500: [], post: [] };
    for (let i = 0; i < args.samples500; i++) {
      for (let k = 0; k < names.length; k++) {
        const name = names[(i + k) % names.length]!;
        times[name]!.push(await sample[name]());
      }
    }
    const after = await upstream.counters(['m500', 'raw500', 'hang']);
    const pkg = summarize(times['package']!);
    const raw = summarize(times['raw']!);
    const rtt = summarize(times['upgrade500']!);
    const post = summarize(times['post']!);
    const added = pkg.median - raw.median;
    const addedP99 = pkg.p99 - raw.p99;
    const allowed = rtt.median + ALLOWANCE_MS;
    const packageUpgrades = (after.upgradeAttemptsByModel['m500'] ?? 0) - (before.upgradeAttemptsByModel['m500'] ?? 0);

    // (b) upgrade hangs: the turn must go over HTTP once upgradeBudgetMs is spent
    progress(`row 3b: ${args.samplesHang} fresh endpoints, upgrade hangs, upgradeBudgetMs ${args.upgradeBudgetMs}`);
    const hangPolicy: PolicyOptions = { upgradeBudgetMs: args.upgradeBudgetMs };
    await packageFirstEventMs(upstream, 'hang', hangPolicy, () => undefined);
    const hang: number[] = [];
    const hangRaw: number[] = [];
    for (let i = 0; i < args.samplesHang; i++) {
      hang.push(await packageFirstEventMs(upstream, 'hang', hangPolicy, () => undefined));
      hangRaw.push(await sample.raw());
    }
    const final = await upstream.counters(['m500', 'raw500', 'hang']);
    const h = summarize(hang);
    const hr = summarize(hangRaw);
    const upgradeTimeoutMs = 8_000;
    // The median turn pays the budget, then a direct HTTP turn (+ the allowance for timers);
    // no sample may come anywhere near the upgrade timeout.
    const hangMedianBound = args.upgradeBudgetMs + hr.median + ALLOWANCE_MS;
    const hangMaxBound = upgradeTimeoutMs / 10;
    const hangUpgrades = (final.upgradeAttemptsByModel['hang'] ?? 0) - (after.upgradeAttemptsByModel['hang'] ?? 0);

    return [
      {
        id: '3a',
        title: 'First event, upgrade answers 500 (fresh endpoint each sample)',
        packageText: `${ms(pkg.median)} (p99 ${ms(pkg.p99)})`,
        rawText: `${ms(raw.median)} (p99 ${ms(raw.p99)}); RTT ${ms(rtt.median)}`,
        valueText: `+${ms(added)} median`,
        targetText: `≤ RTT + ${ALLOWANCE_MS} ms = ${ms(allowed)}`,
        pass: added <= allowed,
        details: {
          package: roundSummary(pkg),
          rawDirectHttp: roundSummary(raw),
          roundTripUpgrade500: roundSummary(rtt),
          roundTripTinyPost: roundSummary(post),
          addedMedianMs: round(added),
          addedP99Ms: round(addedP99),
          allowedMs: round(allowed),
          packageUpgradeAttempts: packageUpgrades,
          samples: args.samples500,
          method:
            'Each package sample builds a new manager (a new endpoint, so the upgrade is attempted), then times the first next() of session.stream to the first event: credential check, probe grant, upgrade answered 500 on a new TCP connection, fallback, POST, first SSE event. Raw: fetch + createParser to the first event on the warm keep-alive pool. RTT: a raw ws upgrade answered 500 (new TCP connection + upgrade round trip), the round trip the package cannot avoid. Samples interleaved, rotating order.',
        },
      },
      {
        id: '3b',
        title: `First event, upgrade hangs (upgradeBudgetMs ${args.upgradeBudgetMs}, upgradeTimeoutMs ${upgradeTimeoutMs})`,
        packageText: `${ms(h.median)} (p99 ${ms(h.p99)}, max ${ms(h.max)})`,
        rawText: `${ms(hr.median)} (p99 ${ms(hr.p99)})`,
        valueText: `${ms(h.median)} median, max ${ms(h.max)}`,
        targetText: `median ≤ budget + direct + ${ALLOWANCE_MS} ms = ${ms(hangMedianBound)}; max < ${ms(hangMaxBound)} (timeout ${ms(upgradeTimeoutMs)})`,
        pass: h.median <= hangMedianBound && h.max < hangMaxBound,
        details: {
          package: roundSummary(h),
          rawDirectHttp: roundSummary(hr),
          upgradeBudgetMs: args.upgradeBudgetMs,
          upgradeTimeoutMs,
          medianBoundMs: round(hangMedianBound),
          maxBoundMs: hangMaxBound,
          overBudgetMedianMs: round(h.median - args.upgradeBudgetMs),
          packageUpgradeAttempts: hangUpgrades,
          samples: args.samplesHang,
          method: 'Fresh manager per sample with policy.upgradeBudgetMs set, real clock; the upstream reads the upgrade request and never answers. The turn goes over HTTP when the budget is spent; the hanging upgrade is aborted when the manager closes.',
        },
      },
    ];
  } finally {
    await upstream.close();
  }
});
