import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const MODULES = join(ROOT, 'node_modules');

/** How the scratch app's node_modules is laid out. */
export type Layout =
  /** As npm installs the package now: `@opentelemetry/api` is a peer, so only the app's copy exists. */
  | 'peer'
  /** As npm installed it when the API was a hard `^1.10` dependency: a newer copy nested in the package. */
  | 'nested-newer-copy'
  /** No `@opentelemetry/api` anywhere. */
  | 'absent';

/**
 * A throwaway app directory laid out as npm would install it: the app's own
 * `@opentelemetry/api` (1.9.x, the version `@opentelemetry/sdk-metrics` 2.x pins on Node 20)
 * and SDK, this package's files under `node_modules/resilient-stream`, its dependencies
 * hoisted. The package is a copy, not a symlink, so module resolution starts inside it.
 */
export async function scratchApp(layout: Layout): Promise<{ dir: string; run(script: string): Promise<string>; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'resilient-stream-app-'));
  const modules = join(dir, 'node_modules');
  const pkg = join(modules, 'resilient-stream');
  await mkdir(join(modules, '@opentelemetry'), { recursive: true });
  await mkdir(pkg, { recursive: true });
  for (const name of ['src', 'machines']) await cp(join(ROOT, name), join(pkg, name), { recursive: true });
  await cp(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  for (const dep of ['xstate', 'ws', 'eventemitter3', 'eventsource-parser']) await symlink(join(MODULES, dep), join(modules, dep), 'dir');
  if (layout !== 'absent') {
    for (const dep of ['api', 'sdk-metrics', 'core', 'resources', 'semantic-conventions']) await symlink(join(MODULES, '@opentelemetry', dep), join(modules, '@opentelemetry', dep), 'dir');
  }
  if (layout === 'nested-newer-copy') {
    // The copy a hard dependency on ^1.10 brought in: same code, a newer version. The API
    // refuses a global registered by an older minor, so this copy sees no MeterProvider.
    const nested = join(pkg, 'node_modules', '@opentelemetry', 'api');
    await cp(join(MODULES, '@opentelemetry', 'api'), nested, { recursive: true, dereference: true });
    for (const file of ['build/src/version.js', 'build/esm/version.js', 'build/esnext/version.js']) {
      const path = join(nested, file);
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text !== undefined) await writeFile(path, text.replace(/VERSION = '1\.\d+\.\d+'/, "VERSION = '1.10.0'"));
    }
  }
  const tsx = pathToFileURL(join(MODULES, 'tsx', 'dist', 'loader.mjs')).href;
  return {
    dir,
    async run(script) {
      await writeFile(join(dir, 'app.mjs'), script);
      const { stdout } = await run(process.execPath, ['--import', tsx, 'app.mjs'], { cwd: dir, timeout: 60_000 });
      return stdout;
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** The app: registers its SDK (when it has one), runs real turns through the copied package, prints what its reader collected. */
export function appScript(withSdk: boolean): string {
  return `
${withSdk ? `import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
class Reader extends MetricReader { async onForceFlush() {} async onShutdown() {} }
const reader = new Reader();
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));` : ''}
const { createSessionManager } = await import('./node_modules/resilient-stream/src/index.ts');
const { startUpstream } = await import('./node_modules/resilient-stream/src/testing/upstream.ts');
const upstream = await startUpstream();
const manager = createSessionManager({ endpoints: { 'e/1': { wsUrl: upstream.wsUrl('m'), httpUrl: upstream.httpUrl, credentials: 'scratch-token' } } });
let turns = 0;
for (let i = 0; i < 3; i++) {
  for await (const _e of manager.session('s1', 'e/1').stream({ model: 'm', input: 'hi' })) {}
  turns++;
}
${withSdk ? `const { resourceMetrics } = await reader.collect();
const names = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics.map((m) => m.descriptor.name)).sort();` : 'const names = [];'}
await manager.close();
await upstream.close();
console.log(JSON.stringify({ turns, names }));
`;
}
