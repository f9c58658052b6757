#!/usr/bin/env node
import { demoCommand, DEMO_HELP } from './commands/demo.js';
import { createOutput, UsageError, type Output } from './output.js';

const HELP = `Usage: resilient-stream <command> [options]

Commands:
  demo      replay the WebSocket 500 incident on loopback and compare with a naive gateway (npm start)
  probe     try one upgrade and one HTTP request against a real endpoint and say what the charts would do
  charts    export the statecharts as Mermaid or JSON
  inspect   open the offline inspector on a demo run

Run 'resilient-stream <command> --help' for a command's options.
Exit codes: 0 success, 1 the command ran and found a failure, 2 bad arguments.`;

type Command = (argv: readonly string[], out: Output) => Promise<number>;

const commands: Record<string, { run: () => Promise<Command>; help?: string }> = {
  demo: { run: async () => demoCommand, help: DEMO_HELP },
  probe: { run: async () => (await import('./commands/probe.js')).probeCommand },
  charts: { run: async () => (await import('./commands/charts.js')).chartsCommand },
  inspect: { run: async () => (await import('./commands/inspect.js')).inspectCommand },
};

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: readonly string[], out: Output = createOutput()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out.result(HELP);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (!command) {
    out.progress(`resilient-stream: unknown command ${JSON.stringify(name)}\n\n${HELP}`);
    return 2;
  }
  try {
    return await (await command.run())(rest, out);
  } catch (error) {
    if (error instanceof UsageError) {
      out.progress(`resilient-stream ${name}: ${error.message}\nRun 'resilient-stream ${name} --help' for usage.`);
      return 2;
    }
    out.progress(`resilient-stream ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly || process.env['RESILIENT_STREAM_CLI'] === '1') {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`resilient-stream: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
