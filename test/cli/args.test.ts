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
    [['charts', '--chart', 'nope'], '--chart must be one of session, endpoint, credential'],
    [['probe'], 'missing <wsUrl>'],
    [['probe', 'http://example.invalid/'], '<wsUrl> must be a ws: or wss: URL'],
    [['probe', 'ws://127.0.0.1:1/', '--http', 'ftp://x/'], '--http must be a http: or https: URL'],
    [['probe', 'ws://127.0.0.1:1/', '--token-file', '/nonexistent/token'], '--token-file: cannot read'],
  ])('%j', async (argv, message) => {
    const out = captureOutput();
    expect(await main(argv, out)).toBe(2);
    expect(out.stderr.join('\n')).toContain(message);
    expect(out.stdout).toEqual([]);
  });

  test('an unknown command exits 2 and shows the commands', async () => {
    const out = captureOutput();
    expect(await main(['frobnicate'], out)).toBe(2);
    expect(out.stderr.join('\n')).toContain('unknown command "frobnicate"');
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
