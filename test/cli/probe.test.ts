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
