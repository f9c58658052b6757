import { describe, expect, test } from 'vitest';
import { main } from '../../src/cli/main.js';
import { captureOutput } from '../support/capture-output.js';

describe('argument errors exit 2 with a sentence naming the argument', () => {
  test.each([
    [['demo', '--hours', 'abc'], '--hours expects a number'],
    [['demo', '--sessions', '0'], '--sessions must be between 1 and 2000'],
    [['demo', '--failure', 'boom'], '--failure must be one of 500, reset, hang, 426, 429'],
    [['demo', '--nope'], "Unknown option '--nope'"],
    [['charts', '--format', 'svg'], '--format must be mermaid or json'],
    [['charts', '--chart', 'nope'], '--chart must be one of session, turn, endpoint, credential'],
    [['probe'], 'missing <wsUrl>'],
    [['probe', 'http://example.invalid/'], '<wsUrl> must be a ws: or wss: URL'],
    [['probe', 'ws://127.0.0.1:1/', '--http', 'ftp://x/'], '--http must be a http: or https: URL'],
    [['probe', 'ws://127.0.0.1:1/', '--token-file', '/nonexistent/token'], '--token-file: cannot read'],
  ])('%j', async (argv, message) => {
    const out = captureOutput();
    expect(await main(argv, out)).toBe(2);
    expect(out.stderr.join('\n')).toContain(message);
    expect(out.stderr[0]).toMatch(new RegExp(`^resilient-stream: error: ${argv[0]}: `));
    expect(out.stdout).toEqual([]);
  });

  test('an unknown command exits 2 and shows the commands', async () => {
    const out = captureOutput();
    expect(await main(['frobnicate'], out)).toBe(2);
    expect(out.stderr.join('\n')).toContain('resilient-stream: error: unknown command "frobnicate"');
    expect(out.stderr.join('\n')).toContain('Commands:');
  });

  test.each([['demo'], ['probe'], ['charts'], ['inspect']])('%s --help prints usage on stdout and exits 0', async (command) => {
    const out = captureOutput();
    expect(await main([command, '--help'], out)).toBe(0);
    expect(out.stdout.join('\n')).toContain(`Usage: resilient-stream ${command}`);
  });

  test('charts prints Mermaid generated from the machines', async () => {
    const out = captureOutput();
    expect(await main(['charts', '--chart', 'endpoint'], out)).toBe(0);
    const text = out.stdout.join('\n');
    expect(text).toContain('stateDiagram-v2');
    expect(text).toContain('coolingDown');
  });
});

describe('the top level', () => {
  test('--version prints the version of package.json and exits 0', async () => {
    const { readFile } = await import('node:fs/promises');
    const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const out = captureOutput();
      expect(await main([flag], out)).toBe(0);
      expect(out.stdout).toEqual([pkg.version]);
    }
  });

  test('--help lists every exit code any command returns', async () => {
    const { PROBE_EXIT } = await import('../../src/cli/commands/probe.js');
    const out = captureOutput();
    expect(await main(['--help'], out)).toBe(0);
    const help = out.stdout.join('\n');
    const codes = new Set<number>([0, 1, 2, ...Object.values(PROBE_EXIT)]);
    for (const code of codes) expect(help).toMatch(new RegExp(`^  ${code}  \\S`, 'm'));
  });

  test('no command: the help on stderr, exit 2', async () => {
    const out = captureOutput();
    expect(await main([], out)).toBe(2);
    expect(out.stderr.join('\n')).toContain('Usage: resilient-stream <command>');
    expect(out.stdout).toEqual([]);
  });

  test('an unexpected error carries the same prefix, naming the command, exit 1', async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'charts-out-'));
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const out = captureOutput();
    expect(await main(['charts', '--out', join(file, 'sub')], out)).toBe(1);
    expect(out.stderr[0]).toMatch(/^resilient-stream: error: charts: /);
  });
});

describe('colour is decided per output stream', () => {
  const ESC = '\u001b[';
  function streams(outTTY: boolean, errTTY: boolean) {
    const written = { stdout: '', stderr: '' };
    const stdout = { isTTY: outTTY, write: (chunk: string) => (written.stdout += chunk) };
    const stderr = { isTTY: errTTY, write: (chunk: string) => (written.stderr += chunk) };
    return { written, stdout, stderr };
  }

  test.each([
    [true, false, {}, true, false],
    [false, true, {}, false, true],
    [true, true, {}, true, true],
    [false, false, {}, false, false],
    [true, true, { NO_COLOR: '1' }, false, false],
    [false, false, { FORCE_COLOR: '1' }, true, true],
    [true, true, { FORCE_COLOR: '0' }, true, true],
    [false, false, { NO_COLOR: '1', FORCE_COLOR: '1' }, false, false],
  ])('stdout TTY %s, stderr TTY %s, env %j: colour on stdout %s, on stderr %s', async (outTTY, errTTY, env, outColour, errColour) => {
    const { createOutput } = await import('../../src/cli/output.js');
    const { written, stdout, stderr } = streams(outTTY, errTTY);
    const out = createOutput(stdout, stderr, env as NodeJS.ProcessEnv);
    out.result(out.bold('table'));
    out.progress(out.dim('progress'));
    expect(written.stdout.includes(ESC)).toBe(outColour);
    expect(written.stderr.includes(ESC)).toBe(errColour);
    expect(written.stdout.replaceAll(/\u001b\[\d+m/g, '')).toBe('table\n');
    expect(written.stderr.replaceAll(/\u001b\[\d+m/g, '')).toBe('progress\n');
  });
});

describe('charts --out DIR writes only the files it generates', () => {
  test('a project with its own docs/design.md: untouched, exit 0', async () => {
    const { mkdtemp, mkdir, writeFile, readFile, readdir } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const project = await mkdtemp(join(tmpdir(), 'charts-project-'));
    await mkdir(join(project, 'docs', 'charts'), { recursive: true });
    const design = '# Our own design\n\nNothing to do with resilient-stream.\n';
    await writeFile(join(project, 'docs', 'design.md'), design);
    await writeFile(join(project, 'docs', 'charts', 'ours.txt'), 'keep me');
    const cwd = process.cwd();
    process.chdir(project);
    try {
      const out = captureOutput();
      expect(await main(['charts', '--out', 'docs/charts'], out)).toBe(0);
    } finally {
      process.chdir(cwd);
    }
    expect(await readFile(join(project, 'docs', 'design.md'), 'utf8')).toBe(design);
    const files = (await readdir(join(project, 'docs', 'charts'))).sort();
    expect(files).toContain('ours.txt');
    expect(files.filter((file) => file !== 'ours.txt').every((file) => /^(session|turn|endpoint|credential)\.(mmd|json)$|^README\.md$/.test(file))).toBe(true);
    expect(await readdir(join(project, 'docs'))).toEqual(expect.arrayContaining(['charts', 'design.md']));
    expect((await readdir(join(project, 'docs'))).length).toBe(2);
  });
});
