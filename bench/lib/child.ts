import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What a row reports back to `bench/run.ts`. */
export interface RowResult {
  /** Stable id, e.g. `1`, `3a`, `5b`. */
  readonly id: string;
  readonly title: string;
  /** What the package achieved, as shown in the table. */
  readonly packageText: string;
  /** What the raw alternative achieved in the same run, as shown in the table. */
  readonly rawText: string;
  /** The figure compared with the target (a ratio, an added latency, a count...). */
  readonly valueText: string;
  readonly targetText: string;
  readonly pass: boolean;
  /** Everything measured, for results.json. */
  readonly details: Record<string, unknown>;
}

/** Message a row child sends when done. */
interface ResultMessage {
  readonly type: 'rows';
  readonly rows: RowResult[];
}

const TSX = ['--import', 'tsx'];

/**
 * Runs one row module in its own Node process (clean heap and JIT state, its own flags) and
 * returns the rows it reported. `args` reach the child as `process.argv[2]` (JSON).
 */
export function runRowProcess(
  modulePath: string,
  args: Record<string, unknown>,
  options: { execArgv?: string[]; timeoutMs: number },
): Promise<RowResult[]> {
  return new Promise((resolve, reject) => {
    const child = fork(modulePath, [JSON.stringify(args)], {
      execArgv: [...TSX, ...(options.execArgv ?? [])],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let rows: RowResult[] | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${modulePath} did not finish within ${options.timeoutMs} ms`));
    }, options.timeoutMs);
    child.on('message', (message: ResultMessage) => {
      if (message?.type === 'rows') rows = message.rows;
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (rows) resolve(rows);
      else reject(new Error(`${modulePath} exited (${signal ?? code}) without reporting a result`));
    });
  });
}

/** In a row child: the JSON arguments the orchestrator passed. */
export function rowArgs<T>(): T {
  const raw = process.argv[2];
  return (raw ? JSON.parse(raw) : {}) as T;
}

/**
 * In a row child: runs `main`, sends its rows to the parent (or prints them when the module is
 * run by hand), and exits. Exiting explicitly keeps a stray socket or timer from holding the run.
 */
export function reportRows(main: () => Promise<RowResult[]>): void {
  main().then(
    (rows) => {
      if (process.send) process.send({ type: 'rows', rows } satisfies ResultMessage, () => process.exit(0));
      else {
        console.log(JSON.stringify(rows, null, 2));
        process.exit(0);
      }
    },
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}

/** Absolute path of a module next to `bench/`. */
export function benchPath(relative: string): string {
  return fileURLToPath(new URL(`../${relative}`, import.meta.url));
}

/** Logs a progress line on stderr (stdout carries the table). */
export function progress(message: string): void {
  process.stderr.write(`  · ${message}\n`);
}
