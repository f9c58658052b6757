import type { Output } from '../../src/cli/output.js';

/** An {@link Output} that records lines instead of printing them, without colours. */
export function captureOutput(): Output & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const plain = (text: string) => text;
  return {
    stdout,
    stderr,
    result: (line) => void stdout.push(line),
    progress: (line) => void stderr.push(line),
    bold: plain,
    green: plain,
    red: plain,
    yellow: plain,
    dim: plain,
  };
}
