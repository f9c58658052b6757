/**
 * The fake upstream (`src/testing/upstream.ts`) in its own process, so the client under test
 * does not share its event loop with the server: on a real gateway the model server is
 * elsewhere. Forked by {@link startRemoteUpstream}; talks over IPC.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ModeUpdate, UpstreamOptions } from '../../src/testing/upstream.js';

/** Options passed to the child's `startUpstream`. */
export interface RemoteUpstreamOptions {
  deltasPerTurn?: number;
  modes?: Record<string, ModeUpdate>;
  defaultMode?: ModeUpdate;
}

/** Counters the child reports. */
export interface UpstreamCounters {
  readonly upgradeAttempts: number;
  readonly upgradeAttemptsByModel: Record<string, number>;
  readonly httpRequests: number;
  readonly wsTurns: number;
  /** The upstream process's CPU time since it started, in ms. */
  readonly cpuMs: number;
}

/** A fake upstream running in a child process. */
export interface RemoteUpstream {
  readonly port: number;
  readonly httpUrl: string;
  wsUrl(model: string): string;
  /** Counters; `models` selects the per-model upgrade counts to include. */
  counters(models?: string[]): Promise<UpstreamCounters>;
  resetCounters(): Promise<void>;
  close(): Promise<void>;
}

type Request = { type: 'counters'; id: number; models?: string[] } | { type: 'reset'; id: number } | { type: 'close'; id: number };
type Reply = { type: 'ready'; port: number; httpUrl: string } | { type: 'reply'; id: number; counters?: UpstreamCounters };

const isChild = process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1];

if (isChild) {
  const { startUpstream } = await import('../../src/testing/upstream.js');
  const options = JSON.parse(process.argv[2] ?? '{}') as UpstreamOptions;
  const upstream = await startUpstream({ ...options, logLimit: 1_000 });
  const send = (reply: Reply) => process.send?.(reply);
  process.on('message', async (request: Request) => {
    if (request.type === 'counters') {
      const models: Record<string, number> = {};
      for (const model of request.models ?? []) models[model] = upstream.upgradeAttemptsFor(model);
      const cpu = process.cpuUsage();
      send({
        type: 'reply',
        id: request.id,
        counters: {
          upgradeAttempts: upstream.upgradeAttempts,
          upgradeAttemptsByModel: models,
          httpRequests: upstream.httpRequests,
          wsTurns: upstream.wsTurns,
          cpuMs: (cpu.user + cpu.system) / 1000,
        },
      });
    } else if (request.type === 'reset') {
      upstream.resetCounters();
      send({ type: 'reply', id: request.id });
    } else if (request.type === 'close') {
      await upstream.close();
      send({ type: 'reply', id: request.id });
      process.disconnect();
    }
  });
  // The parent died: do not linger.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', port: upstream.port, httpUrl: upstream.httpUrl });
}

/** Starts the fake upstream in a child process and resolves once it listens on 127.0.0.1. */
export function startRemoteUpstream(options: RemoteUpstreamOptions = {}): Promise<RemoteUpstream> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [JSON.stringify(options)], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let nextId = 0;
  const pending = new Map<number, (reply: Reply & { type: 'reply' }) => void>();
  const call = (type: Request['type'], models?: string[]) =>
    new Promise<Reply & { type: 'reply' }>((resolve) => {
      const id = ++nextId;
      pending.set(id, resolve);
      child.send({ type, id, ...(models ? { models } : {}) } as Request);
    });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`upstream child exited early (${code})`)));
    child.on('message', (reply: Reply) => {
      if (reply.type === 'reply') {
        pending.get(reply.id)?.(reply);
        pending.delete(reply.id);
        return;
      }
      const base = `127.0.0.1:${reply.port}`;
      let closing: Promise<void> | undefined;
      resolve({
        port: reply.port,
        httpUrl: reply.httpUrl,
        wsUrl: (model) => `ws://${base}/v1/responses?model=${encodeURIComponent(model)}`,
        counters: async (models) => (await call('counters', models)).counters!,
        resetCounters: async () => {
          await call('reset');
        },
        close: () => {
          closing ??= (async () => {
            child.removeAllListeners('exit');
            const exited = new Promise<void>((done) => child.once('exit', () => done()));
            if (child.connected) await call('close');
            await Promise.race([exited, new Promise((done) => setTimeout(done, 2_000).unref())]);
            if (child.exitCode === null) child.kill('SIGKILL');
          })();
          return closing;
        },
      });
    });
  });
}
