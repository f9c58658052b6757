import type { Output } from '../output.js';
import { demoCommand } from './demo.js';

/** `resilient-stream inspect --help`. */
export const INSPECT_HELP = `Usage: resilient-stream inspect [demo options]

Opens the offline inspector (a page on 127.0.0.1, no network) on a paced demo run: sessions
falling back, the endpoint cooling down and probing, the timeline of every chart. The page
stays open until Ctrl-C. In your own gateway, call startInspector(manager) instead.

Takes the options of 'resilient-stream demo' (see its --help).`;

/** Runs `resilient-stream inspect`: the demo with the inspector open. */
export async function inspectCommand(argv: readonly string[], out: Output): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    out.result(INSPECT_HELP);
    return 0;
  }
  return demoCommand([...argv.filter((arg) => arg !== '--inspect'), '--inspect'], out);
}
