import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { main } from '../../src/cli/main.js';
import { PROBE_EXIT } from '../../src/cli/commands/probe.js';
import { captureOutput } from '../support/capture-output.js';

// A token with no secret shape, so only the known-token scrub can catch it.
const TOKEN = 'probe-echo-token-4Hq9ZxW2LmP7';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwcm9iZSJ9.c2lnbmF0dXJlLXZhbHVl';
const API_KEY = 'sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX0123';

let server: Server;
let base: string;
let tokenFile: string;

/** Headers that echo what the client sent (the Authorization header among them) and other secrets. */
function echoHeaders(authorization: string | undefined): Record<string, string> {
  return {
    'www-authenticate': `Bearer realm="x", error="invalid_token", error_description="token ${TOKEN} rejected; you sent ${authorization}"`,
    'x-request-id': `${TOKEN}-${JWT}`,
    'retry-after': '1',
    upgrade: `websocket ${API_KEY}`,
    'x-echo': `${authorization} ${TOKEN}`,
  };
}

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    const body = JSON.stringify({ error: { code: TOKEN, message: `your token ${TOKEN} and ${JWT} and ${API_KEY}`, type: req.headers.authorization } });
    res.writeHead(401, { ...echoHeaders(req.headers.authorization), 'content-type': 'application/json' });
    res.end(body);
  });
  server.on('upgrade', (req, socket) => {
    const headers = Object.entries(echoHeaders(req.headers.authorization)).map(([name, value]) => `${name}: ${value}\r\n`).join('');
    const body = `token ${TOKEN} is not welcome here (${req.headers.authorization})`;
    socket.end(`HTTP/1.1 500 Internal Server Error\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dir = await mkdtemp(join(tmpdir(), 'probe-echo-'));
  tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`);
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function hits(text: string): string[] {
  return [TOKEN, JWT, API_KEY, encodeURIComponent(TOKEN)].filter((secret) => text.includes(secret));
}

describe('probe never prints the token, whatever the server echoes', () => {
  test.each([[[]], [['--json']]])('in process, %j: zero hits in stdout and stderr', async (extra) => {
    const out = captureOutput();
    const code = await main(['probe', `ws://${base}/v1/responses`, '--http', `http://${base}/v1/responses`, '--token-file', tokenFile, '--timeout-ms', '5000', ...extra], out);
    const stdout = out.stdout.join('\n');
    expect(code).toBe(PROBE_EXIT.bothFailed);
    // The echoed headers are still shown, redacted: the operator sees that the server sent them.
    expect(stdout).toContain('x-request-id');
    expect(stdout).toContain('[redacted]');
    expect(hits(stdout)).toEqual([]);
    expect(hits(out.stderr.join('\n'))).toEqual([]);
  });

  test('as a child process through the bin: zero hits', async () => {
    const bin = new URL('../../bin/resilient-stream.js', import.meta.url).pathname;
    const run = promisify(execFile);
    const result = await run(process.execPath, [bin, 'probe', `ws://${base}/v1/responses`, '--http', `http://${base}/v1/responses`, '--token-file', tokenFile], { env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } }).then(
      (r) => ({ code: 0, ...r }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(result.code).toBe(PROBE_EXIT.bothFailed);
    expect(result.stdout).toContain('classified as');
    expect(hits(result.stdout)).toEqual([]);
    expect(hits(result.stderr)).toEqual([]);
  });
});
