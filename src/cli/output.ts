/**
 * Terminal output: results on stdout, progress and errors on stderr. Colour is decided per
 * stream: a stream gets ANSI colours only when it is a TTY, never when `NO_COLOR` is set
 * (no-color.org), and always when `FORCE_COLOR` is set to anything but `0` (and `NO_COLOR` is
 * not). So `resilient-stream demo > table.txt` in a terminal writes a plain table and keeps
 * coloured progress.
 */
export interface Output {
  /** A result line, on stdout. */
  result(line: string): void;
  /** A progress or diagnostic line, on stderr. */
  progress(line: string): void;
  bold(text: string): string;
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
}

/** Whether `stream` gets colours, given the environment (see {@link Output}). */
export function colourFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env['NO_COLOR'] !== undefined && env['NO_COLOR'] !== '') return false;
  if (env['FORCE_COLOR'] !== undefined && env['FORCE_COLOR'] !== '' && env['FORCE_COLOR'] !== '0') return true;
  return stream.isTTY === true;
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** `text` without ANSI colour sequences. */
export function stripAnsi(text: string): string {
  return text.replace(ANSI, '');
}

/**
 * `text` with every control character (ANSI escapes included) but tab replaced by `?`: for
 * text from a server, which must not drive the operator's terminal.
 */
export function stripControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, '?');
}

/** The streams {@link createOutput} writes to. */
export interface OutputStream {
  readonly isTTY?: boolean;
  write(chunk: string): unknown;
}

/** Builds an {@link Output} for the given streams (defaults: the process's). */
export function createOutput(stdout: OutputStream = process.stdout, stderr: OutputStream = process.stderr, env: NodeJS.ProcessEnv = process.env): Output {
  const colourOut = colourFor(stdout, env);
  const colourErr = colourFor(stderr, env);
  // Styles wrap when either stream may show colour; each stream strips them when it must not.
  const wrap = (open: number, close: number) => (text: string) => (colourOut || colourErr ? `\u001b[${open}m${text}\u001b[${close}m` : text);
  return {
    result: (line) => void stdout.write(`${colourOut ? line : stripAnsi(line)}\n`),
    progress: (line) => void stderr.write(`${colourErr ? line : stripAnsi(line)}\n`),
    bold: wrap(1, 22),
    green: wrap(32, 39),
    red: wrap(31, 39),
    yellow: wrap(33, 39),
    dim: wrap(2, 22),
  };
}

/** A usage error: the CLI prints the message and exits with code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Renders rows as an aligned text table; the first row is the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => visibleLength(row[column] ?? ''))));
  return rows
    .map((row, index) => {
      const line = row.map((cell, column) => (column === 0 ? padEnd(cell, widths[column]!) : padStart(cell, widths[column]!))).join('   ');
      return index === 0 ? `${line}\n${widths.map((w) => '-'.repeat(w)).join('   ')}` : line;
    })
    .join('\n');
}

function visibleLength(text: string): number {
  return stripAnsi(text).length;
}
function padEnd(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visibleLength(text)));
}
function padStart(text: string, width: number): string {
  return ' '.repeat(Math.max(0, width - visibleLength(text))) + text;
}
