import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const run = promisify(execFile);

describe('resilient-stream demo (a child process, as npm start runs it)', () => {
  test('with the seed failure, the package makes a small fraction of the naive upgrades and every turn completes under both', async () => {
    const { stdout, stderr } = await run('node', ['bin/resilient-stream.js', 'demo', '--hours', '0.5', '--sessions', '6', '--heal-after', '20', '--json'], {
      env: { ...process.env, NO_COLOR: '1' },
    });
    const report = JSON.parse(stdout) as {
      turnsPerPolicy: number;
      resilient: { turnsCompleted: number; upgradeAttempts: number; failedUpgradeAttempts: number; warnLines: number; addedLatencyMs: { median: number; p99: number }; backOnWebSocketAfterHealMs: number | null };
      naive: { turnsCompleted: number; upgradeAttempts: number; failedUpgradeAttempts: number; warnLines: number; addedLatencyMs: { median: number; p99: number } };
    };
    // 6 + 2 sessions × 60 rounds.
    expect(report.turnsPerPolicy).toBe(480);
    expect(report.resilient.turnsCompleted).toBe(480);
    expect(report.naive.turnsCompleted).toBe(480);
    // Naive: one failed upgrade per turn of each failing session until the heal (6 × 40 rounds).
    expect(report.naive.failedUpgradeAttempts).toBe(240);
    // Package: one probe per cooldown window (41 s, 87 s, 3 min, 6 min, 12 min... fit in 20 min: at most 6).
    expect(report.resilient.failedUpgradeAttempts).toBeGreaterThanOrEqual(1);
    expect(report.resilient.failedUpgradeAttempts).toBeLessThanOrEqual(6);
    expect(report.resilient.failedUpgradeAttempts * 20).toBeLessThan(report.naive.failedUpgradeAttempts);
    expect(report.resilient.warnLines).toBe(report.resilient.failedUpgradeAttempts);
    expect(report.naive.warnLines).toBe(report.naive.failedUpgradeAttempts);
    for (const figures of [report.resilient, report.naive]) {
      expect(Number.isFinite(figures.addedLatencyMs.median)).toBe(true);
      expect(Number.isFinite(figures.addedLatencyMs.p99)).toBe(true);
    }
    expect(report.resilient.backOnWebSocketAfterHealMs).not.toBeNull();
    expect(stderr).toContain('running resilient-stream');
  });

  test('the table names both policies and the figures an evaluator looks for', async () => {
    const { stdout } = await run('node', ['bin/resilient-stream.js', 'demo', '--hours', '0.1', '--sessions', '3', '--failure', 'hang'], { env: { ...process.env, NO_COLOR: '1' } });
    for (const text of ['resilient-stream', 'naive: retry every turn', 'turns completed', 'failed upgrades the upstream saw (hang)', 'warning lines logged', 'added latency per turn, median', 'added latency per turn, p99', 'back on WebSocket after the upstream healed']) {
      expect(stdout).toContain(text);
    }
    // No colour codes when NO_COLOR is set or stdout is not a TTY.
    expect(stdout).not.toMatch(/\u001b\[/);
  });
});
