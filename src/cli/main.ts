#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoCommand, DEMO_HELP } from './commands/demo.js';
import { createOutput, UsageError, type Output } from './output.js';

/** The one prefix of every error line the CLI prints, whatever the command. */
export const ERROR_PREFIX = 'resilient-stream: error: ';

/** Exit codes of every command, as the top-level help lists them. */
export const EXIT_CODES = {
  success: 0,
  failure: 1,
  usage: 2,
  probeHttpOnly: 3,
  probeBothFailed: 4,
  probeHttpNotTried: 5,
} as const;

const HELP = `Usage: resilient-stream <command> [options]
       resilient-stream --version

Commands:
  demo      replay the WebSocket 500 incident on loopback and compare with a naive gateway (npm start)
  probe     try one upgrade (and, with --http, one HTTP request) against a real endpoint and say what the charts would do
  charts    export the statecharts as Mermaid or JSON
  inspect   open the offline inspector on a demo run

Run 'resilient-stream <command> --help' for a command's options.

Exit codes:
  0  success
  1  an unexpected error, or the command ran and found a failure (demo: a turn did not complete)
  2  bad arguments
  3  probe: the WebSocket fails and HTTP works (turns would fall back)
  4  probe: the WebSocket and HTTP both fail
  5  probe: the WebSocket fails and HTTP was not tried (no --http)

Errors are printed on stderr, each starting with '${ERROR_PREFIX.trim()}'.`;

type Command = (argv: readonly string[], out: Output) => Promise<number>;

const commands: Record<string, { run: () => Promise<Command>; help?: string }> = {
  demo: { run: async () => demoCommand, help: DEMO_HELP },
  probe: { run: async () => (await import('./commands/probe.js')).probeCommand },
  charts: { run: async () => (await import('./commands/charts.js')).chartsCommand },
  inspect: { run: async () => (await import('./commands/inspect.js')).inspectCommand },
};

/** The version in the package's own package.json (found from this file, built or not). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 5; depth++) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'resilient-stream' && typeof pkg.version === 'string') return pkg.version;
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[], out: Output = createOutput()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === undefined) out.progress(HELP);
    else out.result(HELP);
    return name === undefined ? EXIT_CODES.usage : EXIT_CODES.success;
  }
  if (name === '--version' || name === '-v' || name === 'version') {
    out.result(packageVersion());
    return EXIT_CODES.success;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
  if (!command) {
    out.progress(`${ERROR_PREFIX}unknown command ${JSON.stringify(name)}\n\n${HELP}`);
    return EXIT_CODES.usage;
  }
  try {
    return await (await command.run())(rest, out);
  } catch (error) {
    if (error instanceof UsageError) {
      out.progress(`${ERROR_PREFIX}${name}: ${error.message}\nRun 'resilient-stream ${name} --help' for usage.`);
      return EXIT_CODES.usage;
    }
    out.progress(`${ERROR_PREFIX}${name}: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_CODES.failure;
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly || process.env['RESILIENT_STREAM_CLI'] === '1') {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`${ERROR_PREFIX}${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = EXIT_CODES.failure;
    },
  );
}
