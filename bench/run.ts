/**
 * `npm run bench`: every row of docs/performance.md, each in its own Node process, one after
 * the other, against loopback servers. Prints a table and writes bench/results.json.
 *
 *   npm run bench                      # all rows (about 6-7 minutes on the 2-core machine)
 *   npm run bench -- --rows 1,2,4      # some rows
 *   npm run bench -- --quick           # fewer samples, 100 sessions in row 6 (a smoke run)
 *   npm run bench -- --profile         # CPU profiles of rows 1 and 2 even when they pass
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import { join } from 'node:path';
import { benchPath, runRowProcess, type RowResult } from './lib/child.js';
import { formatSummary, summarizeProfile, type ProfileSummary } from './profile-summary.js';

interface Options {
  rows: Set<string>;
  quick: boolean;
  profile: boolean | undefined;
}

function parseOptions(argv: string[]): Options {
  const options: Options = { rows: new Set(['1', '2', '3', '4', '5', '6']), quick: false, profile: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') options.quick = true;
    else if (arg === '--profile') options.profile = true;
    else if (arg === '--no-profile') options.profile = false;
    else if (arg === '--rows') options.rows = new Set((argv[++i] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
    else if (arg.startsWith('--rows=')) options.rows = new Set(arg.slice(7).split(',').map((s) => s.trim()).filter(Boolean));
    else if (arg === '--help' || arg === '-h') {
      console.log('usage: npm run bench -- [--rows 1,2,...] [--quick] [--profile | --no-profile]');
      process.exit(0);
    } else throw new Error(`unknown option ${arg}`);
  }
  return options;
}

interface RowRun {
  readonly rows: RowResult[];
  readonly seconds: number;
  readonly loadBefore: number[];
  readonly loadAfter: number[];
}

const load = () => os.loadavg().map((v) => Number(v.toFixed(2)));

async function runRow(label: string, module: string, args: Record<string, unknown>, execArgv: string[] = [], timeoutMs = 300_000): Promise<RowRun> {
  const loadBefore = load();
  const started = performance.now();
  process.stderr.write(`row ${label} …\n`);
  let rows: RowResult[];
  try {
    rows = await runRowProcess(benchPath(module), args, { execArgv, timeoutMs });
  } catch (error) {
    // One broken row must not lose the others: it is reported as a MISS with its error.
    const message = error instanceof Error ? error.message : String(error);
    rows = [{ id: label, title: `row ${label} failed`, packageText: '—', rawText: '—', valueText: `error: ${message.slice(0, 160)}`, targetText: '—', pass: false, details: { error: message } }];
  }
  const seconds = (performance.now() - started) / 1000;
  process.stderr.write(`row ${label} done in ${seconds.toFixed(1)} s: ${rows.map((r) => `${r.id} ${r.pass ? 'PASS' : 'MISS'}`).join(', ')}\n`);
  return { rows, seconds, loadBefore, loadAfter: load() };
}

/** Runs bench/profile-turns.ts (V8 profiler after warmup) and summarises the profile. */
function profileTurns(transport: 'http' | 'ws', who: 'package' | 'raw', seconds: number): Promise<ProfileSummary & { msPerTurn: number | undefined }> {
  const dir = benchPath('profiles');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${transport}-${who}.cpuprofile`);
  rmSync(file, { force: true });
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', benchPath('profile-turns.ts'), transport, who, String(seconds), file], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`profile-turns ${transport} ${who} exited ${code}`));
      const summary = summarizeProfile(file, 15);
      const text = formatSummary(summary);
      writeFileSync(join(dir, `${transport}-${who}.txt`), `${transport} turn, ${who}: ${out.trim()}\n\n${text}\n`);
      let msPerTurn: number | undefined;
      try {
        msPerTurn = (JSON.parse(out.trim().split('\n').pop() ?? '{}') as { msPerTurn?: number }).msPerTurn;
      } catch {
        msPerTurn = undefined;
      }
      resolve({ ...summary, msPerTurn });
    });
  });
}

const TOTAL_BUDGET_S = 570;

/** Signs that other load on the machine disturbed the figures: say so, so they are rerun. */
function noiseWarnings(rows: RowResult[], runs: Record<string, RowRun>): string[] {
  const warnings: string[] = [];
  const cpus = os.cpus().length;
  for (const [key, run] of Object.entries(runs)) {
    const worst = Math.max(run.loadBefore[0] ?? 0, run.loadAfter[0] ?? 0);
    if (worst > cpus * 0.75) warnings.push(`row ${key} ran with a 1-minute load average of ${worst} on ${cpus} CPUs: other processes competed; rerun when the machine is idle`);
  }
  for (const row of rows) {
    const spread = row.details['perRoundRatio'] as { min: number; max: number } | undefined;
    if (spread && spread.max / spread.min > 1.35) warnings.push(`row ${row.id}: the per-round ratio ranged ${spread.min}-${spread.max}: noisy`);
  }
  return warnings;
}

function table(rows: RowResult[]): string {
  const header = ['#', 'What', 'Package', 'Raw alternative (same run)', 'Result', 'Target', ''];
  const lines = rows.map((r) => [r.id, r.title, r.packageText, r.rawText, r.valueText, r.targetText, r.pass ? 'PASS' : 'MISS']);
  const escape = (cell: string) => cell.replace(/\|/g, '\\|');
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...lines.map((cells) => `| ${cells.map(escape).join(' | ')} |`),
  ].join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const q = options.quick;
  const started = performance.now();
  const runs: Record<string, RowRun> = {};
  const all: RowResult[] = [];
  const record = (key: string, run: RowRun) => {
    runs[key] = run;
    all.push(...run.rows);
  };
  process.stderr.write(`resilient-stream benchmarks: Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${load().join(' ')}\n`);

  const turnArgs = q ? { rounds: 4, iterations: 15, warmup: 100 } : { rounds: 12, iterations: 40, warmup: 1500 };
  let sseTurnMs: number | undefined;
  if (options.rows.has('1')) {
    record('1', await runRow('1', 'rows/http-turn.ts', turnArgs));
    sseTurnMs = (runs['1']!.rows[0]!.details['raw'] as { median: number } | undefined)?.median;
  }
  if (options.rows.has('2')) record('2', await runRow('2', 'rows/ws-turn.ts', turnArgs));
  if (options.rows.has('3')) record('3', await runRow('3', 'rows/first-event.ts', q ? { samples500: 40, samplesHang: 10, warmup: 10 } : {}));
  if (options.rows.has('4')) record('4', await runRow('4', 'rows/chart-dispatch.ts', { ...(q ? { rounds: 2, timeMs: 200 } : {}), ...(sseTurnMs ? { sseTurnMs } : {}) }));
  if (options.rows.has('5')) {
    record('5a', await runRow('5a', 'rows/scale-memory.ts', { sessions: 10_000, id: '5a' }, ['--expose-gc']));
    if (!q) record('5b', await runRow('5b', 'rows/scale-memory.ts', { sessions: 100_000, id: '5b' }, ['--expose-gc', '--max-old-space-size=4096']));
  }
  // Where the time goes in rows 1 and 2, when they miss (or on request).
  const profiles: Record<string, unknown> = {};
  const missed = (id: string) => all.some((r) => r.id === id && !r.pass);
  for (const [id, transport] of [['1', 'http'], ['2', 'ws']] as const) {
    if (!options.rows.has(id) || options.profile === false || (options.profile !== true && !missed(id))) continue;
    process.stderr.write(`profiling row ${id} (${transport}) …\n`);
    const seconds = q ? 2 : 4;
    const pkg = await profileTurns(transport, 'package', seconds);
    const raw = await profileTurns(transport, 'raw', seconds);
    profiles[`row${id}`] = {
      package: { msPerTurn: pkg.msPerTurn, busyMs: Math.round(pkg.totalMs), files: pkg.files.slice(0, 10), functions: pkg.functions.slice(0, 12) },
      raw: { msPerTurn: raw.msPerTurn, busyMs: Math.round(raw.totalMs), files: raw.files.slice(0, 10), functions: raw.functions.slice(0, 12) },
      summaries: [`bench/profiles/${transport}-package.txt`, `bench/profiles/${transport}-raw.txt`],
    };
  }

  if (options.rows.has('6')) {
    // Row 6 gets what is left of a 9.5-minute budget (at most 420 s, at least 60 s); past it, it stops and says so.
    const left = TOTAL_BUDGET_S - (performance.now() - started) / 1000 - 25;
    const maxSeconds = Math.max(60, Math.min(q ? 120 : 420, Math.floor(left)));
    record('6', await runRow('6', 'rows/seed-at-scale.ts', { ...(q ? { sessions: 100, crossCheckSessions: 5 } : {}), maxSeconds }, [], (maxSeconds + 90) * 1000));
  }

  const totalSeconds = (performance.now() - started) / 1000;
  const warnings = noiseWarnings(all, runs);
  const output = table(all);
  console.log(`\n${output}\n`);
  console.log(`${all.filter((r) => r.pass).length} PASS, ${all.filter((r) => !r.pass).length} MISS; ${totalSeconds.toFixed(0)} s; load average now ${load().join(' ')}`);
  for (const warning of warnings) console.log(`warning: ${warning}`);
  const results = {
    generatedAt: new Date().toISOString(),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    machine: { node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, totalMemGiB: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()} ${os.release()}` },
    quick: q,
    totalSeconds: Math.round(totalSeconds),
    warnings,
    table: output,
    rows: all,
    runs: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, { seconds: Math.round(v.seconds * 10) / 10, loadBefore: v.loadBefore, loadAfter: v.loadAfter }])),
    profiles,
  };
  writeFileSync(benchPath('results.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log('wrote bench/results.json');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
