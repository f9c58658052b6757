import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, expect, test } from 'vitest';
import { startUpstream, type Upstream } from '../../src/testing/upstream.js';

/**
 * The SDK wiring in docs/observability.md, run as written (only the package import and the
 * endpoints filled in, and a turn plus a flush appended): its console exporters must print the
 * package's instruments and the turn span.
 */

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = join(ROOT, 'test', 'observability', `.docs-example.${process.pid}.generated.ts`);
let upstream: Upstream | undefined;

afterAll(async () => {
  await rm(SCRIPT, { force: true });
  await upstream?.close();
});

test('the pasteable SDK setup in docs/observability.md exports the metrics and the turn span', async () => {
  const doc = readFileSync(join(ROOT, 'docs', 'observability.md'), 'utf8');
  const block = /## Wiring the SDK[\s\S]*?```ts\n([\s\S]*?)```/.exec(doc)?.[1];
  expect(block).toBeDefined();
  upstream = await startUpstream();
  const endpoints = JSON.stringify({ 'e/1': { wsUrl: upstream.wsUrl('m'), httpUrl: upstream.httpUrl, credentials: 'docs-example-token' } });
  expect(block).toContain("from 'resilient-stream'");
  expect(block).toContain('{ endpoints: { /* … */ } }');
  const script =
    block!.replace("from 'resilient-stream'", `from ${JSON.stringify(join(ROOT, 'src', 'index.ts'))}`).replace('{ endpoints: { /* … */ } }', `{ endpoints: ${endpoints} }`) +
    `
for await (const _event of manager.session('s1', 'e/1').stream({ model: 'm', input: 'hi' })) {}
await (metrics.getMeterProvider() as unknown as { forceFlush(): Promise<void> }).forceFlush();
await manager.close();
await (trace.getTracerProvider() as unknown as { getDelegate(): { forceFlush(): Promise<void> } }).getDelegate().forceFlush();
`;
  await writeFile(SCRIPT, script);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', SCRIPT], { cwd: ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  expect(stdout).toContain("name: 'resilient_stream.turn.duration'");
  expect(stdout).toContain("name: 'resilient_stream.endpoint.state'");
  expect(stdout).toContain("name: 'resilient_stream.turn'");
}, 90_000);
