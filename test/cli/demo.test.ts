import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import type { DemoReport, PolicyFigures } from '../../src/cli/demo.js';

const run = promisify(execFile);

async function demo(args: string[]): Promise<{ report: DemoReport; stderr: string }> {
  const { stdout, stderr } = await run('node', ['bin/resilient-stream.js', 'demo', ...args, '--json'], { env: { ...process.env, NO_COLOR: '1' }, maxBuffer: 16 * 1024 * 1024 });
  return { report: JSON.parse(stdout) as DemoReport, stderr };
}

/** Figures that depend only on the options and the seed: the same on every run, loaded machine or not. */
function deterministic(figures: PolicyFigures) {
  const { addedLatencyMs: _added, turnMs: _turn, sampleWarnings: _samples, ...rest } = figures;
  return rest;
}

describe('resilient-stream demo (a child process, as npm start runs it)', () => {
  test('with the seed failure, the package makes a small fraction of the naive upgrades and every turn completes under both', async () => {
    const { report, stderr } = await demo(['--hours', '0.5', '--sessions', '6', '--heal-after', '20']);
    // 6 + 2 sessions × 60 rounds.
    expect(report.turnsPerPolicy).toBe(480);
    expect(report.resilient.turnsCompleted).toBe(480);
    expect(report.naive.turnsCompleted).toBe(480);
    // Naive: one failed upgrade per turn of each failing session until the heal (6 × 40 rounds).
    expect(report.naive.failedUpgradeAttempts).toBe(240);
    expect(report.naive.failedUpgradesPerTurn).toBe(0.5);
    // Package: one probe per cooldown window (41 s, 87 s, 3 min, 6 min, 12 min... fit in 20 min: at most 6).
    expect(report.resilient.failedUpgradeAttempts).toBeGreaterThanOrEqual(1);
    expect(report.resilient.failedUpgradeAttempts).toBeLessThanOrEqual(6);
    expect(report.resilient.failedUpgradesPerTurn).toBeCloseTo(report.resilient.failedUpgradeAttempts / 480, 3);
    expect(report.resilient.failedUpgradeAttempts * 20).toBeLessThan(report.naive.failedUpgradeAttempts);
    expect(report.resilient.warnLines).toBe(report.resilient.failedUpgradeAttempts);
    expect(report.naive.warnLines).toBe(report.naive.failedUpgradeAttempts);
    // A 500 is answered at once: no turn of either policy waited (simulated) for a WebSocket.
    expect(report.resilient.waitedForWebSocketMs.total).toBe(0);
    expect(report.naive.waitedForWebSocketMs.total).toBe(0);
    // Added latency is defined so it cannot be negative.
    for (const figures of [report.resilient, report.naive]) {
      expect(figures.addedLatencyMs.median).toBeGreaterThanOrEqual(0);
      expect(figures.addedLatencyMs.p99).toBeGreaterThanOrEqual(figures.addedLatencyMs.median);
      expect(figures.turnMs.median).toBeGreaterThan(0);
    }
    expect(report.resilient.backOnWebSocketAfterHealMs).not.toBeNull();
    expect(stderr).toContain('running resilient-stream');
  }, 180_000);

  test('hang: the simulated figures are the same on every run; the naive gateway makes each failing turn wait its 15 s connect timeout', async () => {
    const args = ['--hours', '0.1', '--sessions', '3', '--failure', 'hang'];
    const [first, second] = [await demo(args), await demo(args)];
    expect(deterministic(second.report.resilient)).toEqual(deterministic(first.report.resilient));
    expect(deterministic(second.report.naive)).toEqual(deterministic(first.report.naive));
    // Heals after min(72, 36 × 0.1) = 4 simulated minutes: 8 rounds × 3 failing sessions, 15 s each.
    expect(first.report.options.healAfterMin).toBe(4);
    expect(first.report.naive.waitedForWebSocketMs.total).toBe(8 * 3 * 15_000);
    // The package waits at most its upgrade budget (1 s), once per probe.
    expect(first.report.resilient.waitedForWebSocketMs.total).toBe(first.report.resilient.failedUpgradeAttempts * 1_000);
    // The simulated wait is the floor of the added latency.
    expect(first.report.naive.addedLatencyMs.p99).toBeGreaterThanOrEqual(15_000);
  }, 180_000);

  test('the table names both policies and the figures an evaluator looks for; --help gives the real --heal-after default', async () => {
    const { stdout } = await run('node', ['bin/resilient-stream.js', 'demo', '--hours', '0.1', '--sessions', '3', '--failure', 'hang'], { env: { ...process.env, NO_COLOR: '1' } });
    for (const text of ['resilient-stream', 'naive: retry every turn', 'turns completed', 'failed upgrades the upstream saw (hang)', 'warning lines logged', 'failed upgrade round trips per turn', 'added latency per turn, median (≥ 0; real part varies)', 'added latency per turn, p99', 'back on WebSocket after the upstream healed']) {
      expect(stdout).toContain(text);
    }
    // No colour codes when NO_COLOR is set or stdout is not a TTY.
    expect(stdout).not.toMatch(/\u001b\[/);
    const help = await run('node', ['bin/resilient-stream.js', 'demo', '--help']);
    expect(help.stdout).toContain('default min(72, 36 × hours)');
  }, 180_000);
});

describe('demo --inspect', () => {
  test('the inspector serves the run; once the run is over every endpoint chart has stopped (the page says "ended"), and Ctrl-C exits 0', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn('node', ['bin/resilient-stream.js', 'demo', '--inspect', '--hours', '0.05', '--sessions', '3', '--heal-after', '0'], { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 120_000;
      while (!stderr.includes('press Ctrl-C') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(stderr).toContain('press Ctrl-C');
      const url = /inspector: (http:\/\/127\.0\.0\.1:\d+\/\?token=\S+)/.exec(stderr)?.[1];
      expect(url).toBeDefined();
      const state = (await (await fetch(url!.replace('/?', '/state.json?'))).json()) as { actors: { kind: string; endpoint?: { status: string; lastLiveStatus?: string }; session?: { lastLive?: { transport: string } } }[] };
      const endpoints = state.actors.filter((a) => a.kind === 'endpoint');
      expect(endpoints.length).toBe(2);
      for (const endpoint of endpoints) expect(endpoint.endpoint?.status).toBe('stopped');
      // Each session keeps where it was when the run ended (the failing model's are on HTTP).
      const sessions = state.actors.filter((a) => a.kind === 'session');
      expect(sessions.length).toBe(4);
      expect(sessions.filter((a) => a.session?.lastLive?.transport === 'http')).toHaveLength(3);
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  }, 180_000);
});
