import { afterEach, describe, expect, test } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { PROBE_EXIT } from '../../src/cli/commands/probe.js';
import { startUpstream, type ModeUpdate, type Upstream } from '../../src/testing/upstream.js';
import { captureOutput } from '../support/capture-output.js';

const TOKEN = 'probe-token-7f3a9c1e5b';
let upstream: Upstream | undefined;
afterEach(async () => {
  await upstream?.close();
  upstream = undefined;
});

async function tokenFileFor(token: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'probe-'));
  await writeFile(join(dir, 'token'), `${token}\n`);
  return join(dir, 'token');
}

async function probe(mode: ModeUpdate, extra: string[] = []) {
  upstream = await startUpstream({ modes: { m: mode }, acceptToken: (token) => token === TOKEN });
  const dir = await mkdtemp(join(tmpdir(), 'probe-'));
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`);
  const out = captureOutput();
  const code = await main(['probe', upstream.wsUrl('m'), '--http', upstream.httpUrl, '--model', 'm', '--token-file', tokenFile, '--timeout-ms', '2000', ...extra], out);
  const text = out.stdout.join('\n');
  expect(text).not.toContain(TOKEN);
  expect(out.stderr.join('\n')).not.toContain(TOKEN);
  return { code, text, upstream };
}

describe('resilient-stream probe against loopback servers', () => {
  test('a working WebSocket: exit 0, one upgrade, one HTTP request', async () => {
    const { code, text, upstream } = await probe('ok');
    expect(code).toBe(PROBE_EXIT.webSocketWorks);
    expect(text).toContain('use the WebSocket');
    expect(upstream.upgradeAttempts).toBe(1);
    expect(upstream.httpRequests).toBe(1);
  });

  test('500: transient-server, cool down, turns over HTTP: exit 3', async () => {
    const { code, text } = await probe({ upgradeStatus: 500 });
    expect(code).toBe(PROBE_EXIT.httpOnly);
    expect(text).toContain('upgrade answered HTTP 500');
    expect(text).toContain('classified as transient-server');
    expect(text).toMatch(/cool down \d+ s \(no upgrade from any session until then\), turns over HTTP \(which works\)/);
  });

  test('reset: network', async () => {
    const { code, text } = await probe('reset');
    expect(code).toBe(PROBE_EXIT.httpOnly);
    expect(text).toContain('classified as network');
  });

  test('hang: the upgrade times out', async () => {
    const { code, text } = await probe('hang', ['--timeout-ms', '300']);
    expect(code).toBe(PROBE_EXIT.httpOnly);
    expect(text).toContain('upgrade timed out');
  });

  test('426: unsupported, HTTP latched', async () => {
    const { code, text } = await probe({ upgradeStatus: 426 });
    expect(code).toBe(PROBE_EXIT.httpOnly);
    expect(text).toContain('classified as unsupported');
    expect(text).toContain('latch HTTP for 6 h');
  });

  test('429 with Retry-After: rate-limited, the cooldown honours it', async () => {
    const { code, text } = await probe({ upgradeStatus: 429, retryAfterSeconds: 600 });
    expect(code).toBe(PROBE_EXIT.httpOnly);
    expect(text).toContain('retry-after: 600');
    expect(text).toContain('classified as rate-limited (Retry-After 10 min)');
    expect(text).toContain('cool down 10 min');
  });

  test('401 on both: auth, exit 4', async () => {
    upstream = await startUpstream({ acceptToken: () => false });
    const out = captureOutput();
    const code = await main(['probe', upstream.wsUrl('m'), '--http', upstream.httpUrl], out);
    expect(code).toBe(PROBE_EXIT.bothFailed);
    expect(out.stdout.join('\n')).toContain('classified as auth');
    expect(out.stdout.join('\n')).toContain('refresh the credentials once');
  });
});

describe('probe without --http', () => {
  test('says HTTP was not tried, never that only HTTP works: exit 5', async () => {
    upstream = await startUpstream({ modes: { m: { upgradeStatus: 500 } } });
    const out = captureOutput();
    const code = await main(['probe', upstream.wsUrl('m'), '--token-file', await tokenFileFor(TOKEN)], out);
    const text = out.stdout.join('\n');
    expect(code).toBe(PROBE_EXIT.httpNotTried);
    expect(text).toContain('not tried: pass --http URL to check the fallback');
    expect(text).toContain('turns would go over HTTP, which was not tried');
    expect(text).not.toMatch(/only HTTP works|\(which works\)/);
    expect(text).toContain('upgrade answered HTTP 500');
    expect(upstream.httpRequests).toBe(0);
  });
});

describe('probe --json', () => {
  test('the same facts as the prose: status, classified failure, next step, next probe time, exit code', async () => {
    const { code, text } = await probe({ upgradeStatus: 429, retryAfterSeconds: 600 }, ['--json']);
    const report = JSON.parse(text) as import('../../src/cli/commands/probe.js').ProbeReport;
    expect(code).toBe(PROBE_EXIT.httpOnly);
    expect(report.exitCode).toBe(code);
    expect(report.webSocket).toMatchObject({ ok: false, status: 429, headers: { 'retry-after': '600' }, failure: { class: 'rate-limited', retryAfterMs: 600_000 } });
    expect(report.http).toMatchObject({ ok: true, status: 200 });
    expect(report.next).toMatchObject({ action: 'cool-down', turns: 'http', nextProbeInMs: 600_000 });
    expect(Date.parse(report.next.nextProbeAt!) - Date.now()).toBeGreaterThan(500_000);
    expect(report.next.summary).toContain('cool down 10 min');
  });

  test('a working WebSocket: exit 0, action use-websocket', async () => {
    const { code, text } = await probe('ok', ['--json']);
    const report = JSON.parse(text) as import('../../src/cli/commands/probe.js').ProbeReport;
    expect(code).toBe(0);
    expect(report).toMatchObject({ exitCode: 0, webSocket: { ok: true, status: 101 }, next: { action: 'use-websocket', turns: 'websocket' } });
  });

  test('426: latch-http', async () => {
    const { code, text } = await probe({ upgradeStatus: 426 }, ['--json']);
    const report = JSON.parse(text) as import('../../src/cli/commands/probe.js').ProbeReport;
    expect(code).toBe(PROBE_EXIT.httpOnly);
    expect(report.next).toMatchObject({ action: 'latch-http', nextProbeInMs: 21_600_000 });
  });

  test('without --http: http is null, exit 5', async () => {
    upstream = await startUpstream({ modes: { m: { upgradeStatus: 500 } } });
    const out = captureOutput();
    const code = await main(['probe', upstream.wsUrl('m'), '--token-file', await tokenFileFor(TOKEN), '--json'], out);
    const report = JSON.parse(out.stdout.join('\n')) as import('../../src/cli/commands/probe.js').ProbeReport;
    expect(code).toBe(PROBE_EXIT.httpNotTried);
    expect(report).toMatchObject({ http: null, exitCode: PROBE_EXIT.httpNotTried, webSocket: { status: 500, failure: { class: 'transient-server' } }, next: { action: 'cool-down', turns: 'http-untested' } });
  });
});
