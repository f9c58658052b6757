import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { appScript, scratchApp } from './support/scratch-app.js';

/**
 * The two-copies bug, in an app directory laid out as npm lays it out: the app's SDK pins an
 * older `@opentelemetry/api` (sdk-metrics 2.x on Node 20 wants < 1.10). With the API as an
 * optional peer the package uses the app's copy and its meter records; the layout a hard
 * dependency produced (a newer nested copy) records nothing, which is the bug this guards.
 */

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as Record<string, Record<string, unknown> | undefined>;

describe('@opentelemetry/api is an optional peer dependency', () => {
  test('declared as an optional peer with a wide range, never as a dependency', () => {
    expect(pkg.dependencies?.['@opentelemetry/api']).toBeUndefined();
    expect(pkg.peerDependencies?.['@opentelemetry/api']).toBe('>=1.3.0 <2.0.0');
    expect(pkg.peerDependenciesMeta?.['@opentelemetry/api']).toEqual({ optional: true });
  });

  test("the app's older API copy is the one used: its SDK sees the package's instruments", async () => {
    const app = await scratchApp('peer');
    cleanups.push(app.cleanup);
    const result = JSON.parse(await app.run(appScript(true))) as { turns: number; names: string[] };
    expect(result.turns).toBe(3);
    expect(result.names).toContain('resilient_stream.turn.duration');
    expect(result.names).toContain('resilient_stream.upgrades');
    expect(result.names).toContain('resilient_stream.endpoint.state');
  }, 90_000);

  test('contrast: with a newer copy nested inside the package (the old hard dependency), the meter is a no-op', async () => {
    const app = await scratchApp('nested-newer-copy');
    cleanups.push(app.cleanup);
    const result = JSON.parse(await app.run(appScript(true))) as { turns: number; names: string[] };
    expect(result.turns).toBe(3);
    expect(result.names.filter((n) => n.startsWith('resilient_stream.'))).toEqual([]);
  }, 90_000);

  test('without @opentelemetry/api installed at all, turns stream as usual', async () => {
    const app = await scratchApp('absent');
    cleanups.push(app.cleanup);
    const result = JSON.parse(await app.run(appScript(false))) as { turns: number };
    expect(result.turns).toBe(3);
  }, 90_000);
});
