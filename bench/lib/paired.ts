import { Bench } from 'tinybench';
import type { RowResult } from './child.js';
import { ms, ratio } from './format.js';
import { median, round, roundSummary, summarize, type Summary } from './stats.js';

/** One contender of a paired measurement. */
export interface Contender {
  readonly name: string;
  readonly fn: () => Promise<unknown> | unknown;
}

/** Options of {@link measurePaired}. */
export interface PairedOptions {
  /** Rounds; the task order rotates every round so drift hits every contender alike. */
  readonly rounds: number;
  /** Samples per contender per round. */
  readonly iterationsPerRound: number;
  /** Warmup iterations per contender, before the first round (JIT, connection pools). */
  readonly warmupIterations: number;
}

/** What {@link measurePaired} returns for each contender. */
export interface PairedResult {
  readonly summaries: Record<string, Summary>;
  /**
   * This process's CPU time (user + system) per call, median over rounds, in ms. Less sensitive
   * than wall time to other load on the machine (it leaves out time spent descheduled).
   */
  readonly cpuMsPerCall: Record<string, number>;
  /** Per round, the median of each contender (to show how much the ratio moved between rounds). */
  readonly roundMedians: Record<string, number>[];
}

/**
 * Measures several contenders with tinybench in interleaved rounds: each round is a fresh
 * `Bench` running every contender for a fixed number of iterations, in an order that rotates
 * from round to round. Absolute times drift on a shared 2-core machine; interleaving keeps the
 * ratios honest. Samples of all rounds are pooled for the medians and p99.
 */
export async function measurePaired(contenders: readonly Contender[], options: PairedOptions): Promise<PairedResult> {
  const warm = new Bench({ time: 0, iterations: 1, warmupTime: 0, warmupIterations: options.warmupIterations, throws: true });
  for (const c of contenders) warm.add(c.name, c.fn);
  await warm.warmup();

  const pooled = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const cpu = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  const roundMedians: Record<string, number>[] = [];
  for (let round = 0; round < options.rounds; round++) {
    const bench = new Bench({ time: 0, iterations: options.iterationsPerRound, warmupTime: 0, warmupIterations: 0, throws: true });
    const order = contenders.map((_, i) => contenders[(i + round) % contenders.length]!);
    for (const c of order) {
      let calls = 0;
      let cpuStart = process.cpuUsage();
      const fn = c.fn;
      bench.add(
        c.name,
        () => {
          calls++;
          return fn();
        },
        {
          beforeAll: () => {
            calls = 0;
            cpuStart = process.cpuUsage();
          },
          afterAll: () => {
            const used = process.cpuUsage(cpuStart);
            if (calls > 0) cpu.get(c.name)!.push((used.user + used.system) / 1000 / calls);
          },
        },
      );
    }
    await bench.run();
    const medians: Record<string, number> = {};
    for (const task of bench.tasks) {
      const samples = task.result?.samples ?? [];
      pooled.get(task.name)!.push(...samples);
      medians[task.name] = median(samples);
    }
    roundMedians.push(medians);
  }
  const summaries: Record<string, Summary> = {};
  for (const [name, samples] of pooled) summaries[name] = summarize(samples);
  const cpuMsPerCall: Record<string, number> = {};
  for (const [name, values] of cpu) cpuMsPerCall[name] = median(values);
  return { summaries, cpuMsPerCall, roundMedians };
}

/** Ratio of medians per round, for the spread of a ratio across rounds. */
export function roundRatios(result: PairedResult, numerator: string, denominator: string): number[] {
  return result.roundMedians.map((m) => (m[numerator] ?? Number.NaN) / (m[denominator] ?? Number.NaN));
}

/**
 * The table row of a turn benchmark (rows 1 and 2): the package against the raw client, by
 * ratio of medians, with CPU and the async-generator variant of the raw client for context.
 */
export function turnRatioRow(options: {
  id: string;
  title: string;
  eventsPerTurn: number;
  result: PairedResult;
  /** Most the package's median may be, as a multiple of the raw client's. */
  target: number;
  /** Most the package's CPU time per turn may be, as a multiple of the raw client's (unchecked when absent). */
  cpuTarget?: number;
  extraDetails: Record<string, unknown>;
}): RowResult {
  const { result, eventsPerTurn } = options;
  const pkg = result.summaries['package']!;
  const raw = result.summaries['raw']!;
  const rawIter = result.summaries['raw-iterator']!;
  const cpu = result.cpuMsPerCall;
  const value = pkg.median / raw.median;
  const cpuRatio = cpu['package']! / cpu['raw']!;
  const perRound = roundRatios(result, 'package', 'raw');
  return {
    id: options.id,
    title: options.title,
    packageText: `${ms(pkg.median)} (p99 ${ms(pkg.p99)})`,
    rawText: `${ms(raw.median)} (p99 ${ms(raw.p99)})`,
    valueText: `${ratio(value)} median (CPU ${ratio(cpuRatio)})`,
    targetText: options.cpuTarget === undefined ? `≤ ${options.target.toFixed(2)}×` : `≤ ${options.target.toFixed(2)}× median, ≤ ${options.cpuTarget.toFixed(2)}× CPU`,
    pass: value <= options.target && (options.cpuTarget === undefined || cpuRatio <= options.cpuTarget),
    details: {
      eventsPerTurn,
      package: roundSummary(pkg),
      raw: roundSummary(raw),
      rawIterator: roundSummary(rawIter),
      ratioOfMedians: round(value),
      ratioP99: round(pkg.p99 / raw.p99),
      cpuMsPerTurn: { package: round(cpu['package']!), raw: round(cpu['raw']!), rawIterator: round(cpu['raw-iterator']!) },
      cpuRatio: round(cpuRatio),
      ratioVsRawIterator: round(pkg.median / rawIter.median),
      perRoundRatio: { min: round(Math.min(...perRound)), max: round(Math.max(...perRound)) },
      addedPerTurnMs: round(pkg.median - raw.median),
      addedPerEventUs: round(((pkg.median - raw.median) * 1000) / eventsPerTurn),
      ...options.extraDetails,
    },
  };
}
