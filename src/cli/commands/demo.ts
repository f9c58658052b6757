import { humanDuration } from '../../logging.js';
import { parseArgs } from 'node:util';
import { numberOption, parsing } from '../args.js';
import { DEMO_DEFAULTS, FAILURE_MODES, runDemo, type DemoReport, type FailureMode, type PolicyFigures } from '../demo.js';
import { table, UsageError, type Output } from '../output.js';

/** `resilient-stream demo --help`. */
export const DEMO_HELP = `Usage: resilient-stream demo [options]

Replays the incident end to end on loopback, no network, no services: an upstream whose
WebSocket upgrade fails for one model (gpt-5.4) and works for another (glm-5), then heals;
a gateway streaming real turns through resilient-stream on an accelerated clock, and the
same load through a naive gateway that retries the WebSocket on every turn.

Options:
  --sessions N        sessions on the failing model (default ${DEMO_DEFAULTS.sessions}; a third as many on the healthy one)
  --hours H           simulated duration in hours (default ${DEMO_DEFAULTS.hours})
  --interval S        simulated seconds between two turns of a session (default ${DEMO_DEFAULTS.turnIntervalS})
  --failure MODE      how the upgrade fails: ${FAILURE_MODES.join(', ')} (default ${DEMO_DEFAULTS.failure})
  --heal-after MIN    simulated minutes until the upstream heals; 0 = never
                      (default min(${DEMO_DEFAULTS.healAfterMin}, 36 × hours): 60 % of the run, ${DEMO_DEFAULTS.healAfterMin} with the default hours)
  --seed N            jitter seed (default ${DEMO_DEFAULTS.seed})
  --json              print the figures as JSON on stdout
  --inspect           open the offline inspector on the resilient run (paced so a person can
                      watch); when the run is over the page says "ended" and stays open until Ctrl-C
  -h, --help          this help

Progress goes to stderr, the table to stdout. Exit 0 when every turn completed under both policies.`;

/** Runs `resilient-stream demo`. Returns the exit code. */
export async function demoCommand(argv: readonly string[], out: Output): Promise<number> {
  const { values } = parsing('demo', () => parseArgs({ args: [...argv], strict: true, allowPositionals: false, options: {
    sessions: { type: 'string' },
    hours: { type: 'string' },
    interval: { type: 'string' },
    failure: { type: 'string' },
    'heal-after': { type: 'string' },
    seed: { type: 'string' },
    json: { type: 'boolean' },
    inspect: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  } }));
  if (values.help) {
    out.result(DEMO_HELP);
    return 0;
  }
  const failure = values.failure ?? DEMO_DEFAULTS.failure;
  if (!(FAILURE_MODES as readonly string[]).includes(failure)) {
    throw new UsageError(`--failure must be one of ${FAILURE_MODES.join(', ')}, got ${JSON.stringify(failure)}`);
  }
  const hours = numberOption('hours', values.hours, DEMO_DEFAULTS.hours, { min: 0.05, max: 72, integer: false });
  let stopInspector: (() => Promise<void>) | undefined;
  const report = await runDemo({
    sessions: numberOption('sessions', values.sessions, DEMO_DEFAULTS.sessions, { min: 1, max: 2_000 }),
    hours,
    turnIntervalS: numberOption('interval', values.interval, DEMO_DEFAULTS.turnIntervalS, { min: 1, max: 3_600 }),
    failure: failure as FailureMode,
    healAfterMin: numberOption('heal-after', values['heal-after'], Math.min(DEMO_DEFAULTS.healAfterMin, Math.round(hours * 36)), { min: 0, max: 72 * 60, integer: false }),
    seed: numberOption('seed', values.seed, DEMO_DEFAULTS.seed, { min: 0, max: 2 ** 31 - 1 }),
    paceMs: values.inspect ? 40 : 0,
    onProgress: (line) => out.progress(out.dim(line)),
    ...(values.inspect
      ? {
          onManager: async (manager) => {
            const { startInspector } = await import('../../inspector/index.js');
            const inspector = await startInspector(manager, { keepAlive: true });
            stopInspector = () => inspector.close();
            out.progress(out.bold(`inspector: ${inspector.url}`));
          },
        }
      : {}),
  });
  if (values.json) out.result(JSON.stringify(withoutHandles(report), null, 2));
  else printReport(report, out);
  const ok = report.resilient.turnsCompleted === report.turnsPerPolicy && report.naive.turnsCompleted === report.turnsPerPolicy;
  if (values.inspect && stopInspector) {
    // The run's manager is closed: the page shows "ended" and what the run left behind.
    out.progress(out.bold('the inspector stays open on the resilient run, which has ended; press Ctrl-C to stop'));
    await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    await stopInspector();
  }
  return ok ? 0 : 1;
}

function withoutHandles(report: DemoReport): Omit<DemoReport, 'manager' | 'upstream'> {
  const { manager: _manager, upstream: _upstream, ...rest } = report;
  return rest;
}

function printReport(report: DemoReport, out: Output): void {
  const { resilient, naive } = report;
  const ratio = naive.failedUpgradeAttempts > 0 ? ` (${((resilient.failedUpgradeAttempts / naive.failedUpgradeAttempts) * 100).toFixed(1)} %)` : '';
  const back = (figures: PolicyFigures) => (figures.backOnWebSocketAfterHealMs === null ? 'never' : humanDuration(figures.backOnWebSocketAfterHealMs));
  const rows = [
    ['', out.bold('resilient-stream'), out.bold('naive: retry every turn')],
    ['turns completed', `${resilient.turnsCompleted} / ${resilient.turnsRequested}`, `${naive.turnsCompleted} / ${naive.turnsRequested}`],
    [`failed upgrades the upstream saw (${report.options.failure})`, out.green(`${resilient.failedUpgradeAttempts}`) + ratio, out.red(`${naive.failedUpgradeAttempts}`)],
    ['upgrade attempts in all (after the heal each session opens one)', String(resilient.upgradeAttempts), String(naive.upgradeAttempts)],
    ['warning lines logged', out.green(String(resilient.warnLines)), out.red(String(naive.warnLines))],
    ['failed upgrade round trips per turn (× your RTT = latency)', resilient.failedUpgradesPerTurn.toFixed(3), naive.failedUpgradesPerTurn.toFixed(3)],
    ['time turns waited for a WebSocket, in all (simulated)', humanDuration(resilient.waitedForWebSocketMs.total), humanDuration(naive.waitedForWebSocketMs.total)],
    ['added latency per turn, median (≥ 0; real part varies)', `${resilient.addedLatencyMs.median.toFixed(2)} ms`, `${naive.addedLatencyMs.median.toFixed(2)} ms`],
    ['added latency per turn, p99 (≥ 0; real part varies)', `${resilient.addedLatencyMs.p99.toFixed(2)} ms`, `${naive.addedLatencyMs.p99.toFixed(2)} ms`],
    ['back on WebSocket after the upstream healed', back(resilient), back(naive)],
    ['healthy model: upgrades (one per session is ideal)', String(resilient.healthyModelUpgrades), String(naive.healthyModelUpgrades)],
  ];
  out.result('');
  out.result(out.bold(`The incident, replayed: ${report.options.sessions} sessions on gpt-5.4 (upgrade fails: ${report.options.failure}) and ${Math.max(1, Math.round(report.options.sessions / 3))} on glm-5, a turn every ${report.options.turnIntervalS} s for ${report.options.hours} simulated h`));
  out.result('');
  out.result(table(rows));
  out.result('');
  out.result(out.dim(`Added latency: per turn, the simulated time it waited for a WebSocket plus the real loopback time it took beyond the direct HTTP turn started beside it (0 when not slower; direct turns took ${report.baselineTurnMs} ms, median). Every figure above it is the same on every run with the same options; the real part of the latency rows varies with machine load.`));
  out.result(out.dim('resilient-stream waits out a growing cooldown before it probes again, so it returns to the WebSocket later than a gateway that retries on every turn: that is the price of not hammering.'));
  out.result('');
  out.result(out.bold('What the operator reads, resilient-stream (first lines):'));
  for (const line of resilient.sampleWarnings) out.result(`  ${line}`);
  out.result(out.bold('What the operator reads, naive (first lines):'));
  for (const line of naive.sampleWarnings) out.result(`  ${line}`);
  out.result('');
  out.result(out.dim(`done in ${(report.realMs / 1000).toFixed(1)} s of real time`));
}
