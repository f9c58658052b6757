import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildConfig, ChildLine } from './refresh-child.js';

const script = fileURLToPath(new URL('./refresh-child.ts', import.meta.url));

/** A running refresh child and what it said. */
export interface RefreshChild {
  readonly process: ChildProcess;
  /** Every JSON line printed so far. */
  readonly lines: ChildLine[];
  /** Resolves once the child is set up and waiting for `go`. */
  readonly ready: Promise<void>;
  /** Resolves with the child's result line. */
  readonly result: Promise<Extract<ChildLine, { type: 'result' }>>;
  /** Resolves when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Releases the barrier: the child starts its refresh. */
  go(): void;
  /** Everything written to stderr, for failure messages. */
  stderr(): string;
}

/** Spawns `node --import tsx refresh-child.ts` with `config`. */
export function spawnRefreshChild(config: ChildConfig): RefreshChild {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, REFRESH_CHILD_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: ChildLine[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let onReady!: () => void;
  let onResult!: (line: Extract<ChildLine, { type: 'result' }>) => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<Extract<ChildLine, { type: 'result' }>>((resolve) => (onResult = resolve));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: ChildLine;
    try {
      line = JSON.parse(text) as ChildLine;
    } catch {
      return;
    }
    lines.push(line);
    if (line.type === 'ready') onReady();
    if (line.type === 'result') onResult(line);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    process: child,
    lines,
    ready,
    result,
    exited,
    go: () => child.stdin!.write('go\n'),
    stderr: () => stderr,
  };
}

/** The auth events a child reported. */
export function childEvents(child: RefreshChild): string[] {
  return child.lines.flatMap((line) => (line.type === 'event' ? [line.event.type] : []));
}
