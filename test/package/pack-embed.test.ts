/**
 * The package as a user meets it: `npm pack` the repository (built as its `prepack` builds it),
 * install the tarball into a scratch app under os.tmpdir() with production dependencies only
 * (plus typescript and @types/node for the type check), type-check the README's example with
 * `tsc --strict`, run it against `resilient-stream/testing`, run the bin, and run a user's
 * misconfiguration script. Uses the npm cache (`--prefer-offline`); fails loudly, never skips.
 */
import { execFile } from 'node:child_process';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const STEP_TIMEOUT_MS = 240_000;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to its end; never throws, so a test can show stdout and stderr on failure. */
function run(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, [...args], { cwd, env: { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false', ...env }, timeout: STEP_TIMEOUT_MS, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr: error && typeof error.code !== 'number' ? `${stderr}\n${error.message}` : stderr });
    });
  });
}

function expectSuccess(result: Run, what: string): void {
  if (result.code !== 0) throw new Error(`${what} exited ${result.code}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let scratch: string;
let app: string;
let tarball: string;
let version: string;

async function installedVersion(name: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(repo, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

beforeAll(async () => {
  version = (JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
  scratch = await mkdtemp(join(tmpdir(), 'resilient-stream-pack-'));
  // Pack a staged copy, built as `prepack` builds it but into the stage: a second `npm test`
  // running beside this one in the same checkout never sees its dist/ half-written.
  const stage = join(scratch, 'stage');
  for (const entry of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin']) await cp(join(repo, entry), join(stage, entry), { recursive: true });
  const built = await run(process.execPath, [join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--outDir', join(stage, 'dist')], repo);
  expectSuccess(built, 'tsc -p tsconfig.build.json (what prepack runs)');
  const packed = await run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], stage);
  expectSuccess(packed, 'npm pack');
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as [{ filename: string }];
  tarball = join(scratch, info.filename);

  app = join(scratch, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', private: true, type: 'module' }, null, 2));
  // The versions the repository already uses, so the npm cache has them.
  const typescript = await installedVersion('typescript');
  const nodeTypes = await installedVersion('@types/node');
  const installed = await run(npm, ['install', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund', '--no-package-lock', tarball, `typescript@${typescript}`, `@types/node@${nodeTypes}`], app);
  expectSuccess(installed, 'npm install of the tarball');
}, STEP_TIMEOUT_MS * 2);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  test('prepack (and prepare, which npm runs for a git dependency) builds dist/ with the same build this test stages', async () => {
    const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['prepack']).toBe('npm run build');
    expect(pkg.scripts['prepare']).toBe('npm run build');
    expect(pkg.scripts['build']).toMatch(/tsc -p tsconfig\.build\.json$/);
  });

  test('holds built JS, types, the bin, README, LICENSE and CHANGELOG, and no tests, sources or CI', async () => {
    const listed = await run('tar', ['-tzf', tarball], scratch);
    expectSuccess(listed, 'tar -tzf');
    const files = listed.stdout.trim().split('\n').map((line) => line.replace(/^package\//, ''));
    for (const file of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'bin/resilient-stream.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/testing/index.js', 'dist/src/cli/main.js', 'dist/machines/index.js']) {
      expect(files, file).toContain(file);
    }
    expect(files.filter((file) => /^(test|bench|\.ci|src|machines|examples)\//.test(file) || file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
  });

  test('publint --strict and attw (esm-only profile) find nothing', async () => {
    const publint = await run(join(repo, 'node_modules', '.bin', 'publint'), ['run', tarball, '--strict'], repo);
    expectSuccess(publint, 'publint');
    const attw = await run(join(repo, 'node_modules', '.bin', 'attw'), [tarball, '--profile', 'esm-only', '--no-emoji', '--format', 'table'], repo);
    expectSuccess(attw, 'attw');
  }, STEP_TIMEOUT_MS);

  test('installs with production dependencies only: no dev dependency of the package in the app', async () => {
    const modules = await readdir(join(app, 'node_modules'));
    for (const dev of ['tsx', 'vitest', 'fast-check', 'ioredis', 'playwright-core', 'publint', 'tinybench', '@types']) {
      if (dev === '@types') expect((await readdir(join(app, 'node_modules', '@types'))).filter((name) => name !== 'node')).toEqual([]);
      else expect(modules, dev).not.toContain(dev);
    }
  });
});

describe('in a scratch app that installed the tarball', () => {
  test('examples/embed.ts type-checks with tsc --strict and runs against resilient-stream/testing', async () => {
    await copyFile(join(repo, 'examples', 'embed.ts'), join(app, 'embed.ts'));
    await writeFile(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], outDir: 'out', skipLibCheck: false }, files: ['embed.ts'] }, null, 2),
    );
    const tsc = await run(join(app, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json', '--strict'], app);
    expectSuccess(tsc, 'tsc --strict in the scratch app');
    const embed = await run(process.execPath, ['out/embed.js'], app);
    expectSuccess(embed, 'node out/embed.js');
    const lines = embed.stdout.trim().split('\n');
    expect(lines).toContain('chunk 1chunk 2chunk 3chunk 4chunk 5');
    expect(embed.stdout).toContain('session session-1 on HTTP');
    expect(lines.at(-1)).toBe('upgrades the upstream saw: 1');
  }, STEP_TIMEOUT_MS);

  test('npx resilient-stream --version and --help run the built CLI', async () => {
    const versionRun = await run(npm, ['exec', '--offline', '--', 'resilient-stream', '--version'], app);
    expectSuccess(versionRun, 'npx resilient-stream --version');
    expect(versionRun.stdout.trim()).toBe(version);
    const help = await run(npm, ['exec', '--offline', '--', 'resilient-stream', '--help'], app);
    expectSuccess(help, 'npx resilient-stream --help');
    expect(help.stdout).toContain('Usage: resilient-stream <command>');
    expect(help.stdout).toMatch(/^ {2}5 {2}probe: /m);
  }, STEP_TIMEOUT_MS);

  test('a user\'s misconfigurations: each gives the documented behaviour', async () => {
    await copyFile(join(repo, 'test', 'package', 'user-config.mjs'), join(app, 'user-config.mjs'));
    const script = await run(process.execPath, ['user-config.mjs'], app);
    expectSuccess(script, 'node user-config.mjs');
    const results = Object.fromEntries(
      script.stdout
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { case: string })
        .map((result) => [result.case, result]),
    );
    expect(results['policy { upgradeTimeoutMs: 1000 } alone']).toEqual({ case: 'policy { upgradeTimeoutMs: 1000 } alone', created: true, upgradeTimeoutMs: 1000, upgradeBudgetMs: 500 });
    expect(results['logger: console']).toMatchObject({ created: true });
    const refused: Array<[string, string, RegExp]> = [
      ['a timer of 2^31 ms', 'policy.firstEventTimeoutMs', /at most 2147483647/],
      ['store: {}', 'store', /claimProbe\(\) is missing/],
      ['misspelt upgradeTimeoutMS', 'policy.upgradeTimeoutMS', /did you mean upgradeTimeoutMs\?/],
      ['logger: console.log', 'logger', /pass the object \(e\.g\. `logger: console`\)/],
      ['clock: {}', 'clock', /now\(\) is missing/],
      ['protocol: {}', 'endpoints["main"].protocol', /webSocketFrame\(\) is missing/],
    ];
    for (const [name, field, message] of refused) {
      expect(results[name], name).toMatchObject({ created: false, configError: true, name: 'ConfigError', field });
      expect((results[name] as unknown as { message: string }).message, name).toMatch(message);
    }
    // For the report: what the user saw.
    console.log(script.stdout);
  }, STEP_TIMEOUT_MS);
});
