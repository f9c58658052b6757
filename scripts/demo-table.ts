/**
 * `npm run docs:demo`: runs `resilient-stream demo --json` (default options) several times, checks that
 * every simulated figure came out the same each time, and writes the README's demo table
 * between its markers. Real-time rows show the median over the runs and their range, because
 * loopback timings vary with the load of the machine.
 *
 * Usage: npm run docs:demo [-- --runs 3]
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs, promisify } from 'node:util';
import type { DemoReport, PolicyFigures } from '../src/cli/demo.js';
import { humanDuration } from '../src/logging.js';

const START = '<!-- demo-table:start (npm run docs:demo writes this block) -->';
const END = '<!-- demo-table:end -->';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, readme: { type: 'string', default: 'README.md' } } });
const runs = Math.max(1, Number(values.runs));

const reports: DemoReport[] = [];
for (let i = 0; i < runs; i++) {
  process.stderr.write(`demo run ${i + 1} of ${runs}…\n`);
  const { stdout } = await promisify(execFile)(process.execPath, ['bin/resilient-stream.js', 'demo', '--json'], { env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 64 * 1024 * 1024 });
  reports.push(JSON.parse(stdout) as DemoReport);
}

function deterministic(figures: PolicyFigures): unknown {
  const { addedLatencyMs: _added, turnMs: _turn, sampleWarnings: _samples, ...rest } = figures;
  return rest;
}
const first = reports[0]!;
for (const report of reports.slice(1)) {
  for (const policy of ['resilient', 'naive'] as const) {
    if (JSON.stringify(deterministic(report[policy])) !== JSON.stringify(deterministic(first[policy]))) {
      throw new Error(`the ${policy} run's simulated figures differ between runs:\n${JSON.stringify(deterministic(first[policy]))}\n${JSON.stringify(deterministic(report[policy]))}`);
    }
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
const spread = (pick: (report: DemoReport) => number) => {
  const values = reports.map(pick);
  const text = `${median(values).toFixed(1)} ms`;
  return runs > 1 ? `${text} (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})` : text;
};
const { resilient, naive, options } = first;
const back = (f: PolicyFigures) => (f.backOnWebSocketAfterHealMs === null ? 'never' : humanDuration(f.backOnWebSocketAfterHealMs));
const rows: [string, string, string][] = [
  ['', 'resilient-stream', 'naive: retry every turn'],
  ['turns completed', `${resilient.turnsCompleted} / ${resilient.turnsRequested}`, `${naive.turnsCompleted} / ${naive.turnsRequested}`],
  [`failed upgrades the upstream saw (${options.failure})`, `${resilient.failedUpgradeAttempts} (${((resilient.failedUpgradeAttempts / naive.failedUpgradeAttempts) * 100).toFixed(1)} %)`, String(naive.failedUpgradeAttempts)],
  ['upgrade attempts in all (after the heal each session opens one)', String(resilient.upgradeAttempts), String(naive.upgradeAttempts)],
  ['warning lines logged', String(resilient.warnLines), String(naive.warnLines)],
  ['failed upgrade round trips per turn (× your RTT = latency)', resilient.failedUpgradesPerTurn.toFixed(3), naive.failedUpgradesPerTurn.toFixed(3)],
  ['time turns waited for a WebSocket, in all (simulated)', humanDuration(resilient.waitedForWebSocketMs.total), humanDuration(naive.waitedForWebSocketMs.total)],
  ['back on WebSocket after the upstream healed', back(resilient), back(naive)],
  ['healthy model: upgrades (one per session is ideal)', String(resilient.healthyModelUpgrades), String(naive.healthyModelUpgrades)],
  [`added latency per turn, median (real, ${runs} runs: range)`, spread((r) => r.resilient.addedLatencyMs.median), spread((r) => r.naive.addedLatencyMs.median)],
  [`added latency per turn, p99 (real, ${runs} runs: range)`, spread((r) => r.resilient.addedLatencyMs.p99), spread((r) => r.naive.addedLatencyMs.p99)],
];
const widths = [0, 1, 2].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
const line = (r: string[]) => `${r[0]!.padEnd(widths[0]!)}   ${r[1]!.padStart(widths[1]!)}   ${r[2]!.padStart(widths[2]!)}`;
const table = [line(rows[0]!), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)].join('\n');
const block = `${START}
\`\`\`
${table}
\`\`\`

(${options.sessions} sessions on the failing model and ${Math.max(1, Math.round(options.sessions / 3))} on a healthy one, a turn every ${options.turnIntervalS} s for ${options.hours} simulated hours, heal after ${options.healAfterMin} min,
real sockets on loopback, seed ${options.seed}. Every row above the latency rows is the same on every run with these options
(\`npm run docs:demo\` checks it across ${runs} runs). Added latency, per turn: the simulated time it waited for a WebSocket plus
the real time it took beyond the direct HTTP turn started beside it, 0 when not slower; so it is never negative, and its real part
varies with the machine's load: the range is over the ${runs} runs. Direct HTTP turns took ${first.baselineTurnMs} ms (median) on loopback here.)
${END}`;

const readme = await readFile(values.readme!, 'utf8');
const start = readme.indexOf(START);
const end = readme.indexOf(END);
if (start < 0 || end < start) throw new Error(`${values.readme}: markers not found (${START} … ${END})`);
await writeFile(values.readme!, readme.slice(0, start) + block + readme.slice(end + END.length));
process.stderr.write(`wrote the demo table to ${values.readme}\n`);
