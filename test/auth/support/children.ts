import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildConfig, ChildLine } from './refresh-child.js';
import type { TurnChildConfig, TurnChildLine } from './turn-child.js';

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

const turnScript = fileURLToPath(new URL('./turn-child.ts', import.meta.url));

/** A running gateway child (see turn-child.ts). */
export interface TurnChild {
  readonly process: ChildProcess;
  readonly lines: TurnChildLine[];
  readonly ready: Promise<void>;
  /** Runs one turn; resolves with its line. */
  turn(): Promise<Extract<TurnChildLine, { type: 'turn' }>>;
  /** Asks the child to exit and waits for it. */
  exit(): Promise<void>;
  stderr(): string;
}

/** Spawns `node --import tsx turn-child.ts` with `config`. */
export function spawnTurnChild(config: TurnChildConfig): TurnChild {
  const child = spawn(process.execPath, ['--import', 'tsx', turnScript], {
    env: { ...process.env, TURN_CHILD_CONFIG: JSON.stringify(config) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: TurnChildLine[] = [];
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const waiting: ((line: Extract<TurnChildLine, { type: 'turn' }>) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: TurnChildLine;
    try {
      line = JSON.parse(text) as TurnChildLine;
    } catch {
      return;
    }
    lines.push(line);
    if (line.type === 'ready') onReady();
    if (line.type === 'turn') waiting.shift()?.(line);
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return {
    process: child,
    lines,
    ready,
    turn: () =>
      new Promise((resolve) => {
        waiting.push(resolve);
        child.stdin!.write('go\n');
      }),
    exit: async () => {
      child.stdin!.write('exit\n');
      await exited;
    },
    stderr: () => stderr,
  };
}
