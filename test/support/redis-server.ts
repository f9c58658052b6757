import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * A real `redis-server` for the store suites: 127.0.0.1, a random free port, no persistence.
 *
 * Gate: when the binary is missing the Redis suites are skipped with a warning that says
 * why, except under CI (env `CI` set to anything but '', '0' or 'false'), where a missing
 * redis-server fails the suite: CI must never pass by skipping. `REDIS_SERVER` names the
 * binary explicitly (and only it is tried), e.g. to check the gate with a path that does not exist.
 */

/** The message printed when the Redis suites are skipped. */
export const REDIS_MISSING_MESSAGE = 'redis-server not found: skipping Redis store tests; install it with apt-get install redis-server';

/** What a suite does about Redis: run it, skip it (local machine without Redis), or fail it (CI without Redis). */
export type RedisGate = 'run' | 'skip' | 'fail';

/** True when `CI` is set to something that does not mean "no". */
export function isCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const value = env.CI;
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The redis-server binary: `$REDIS_SERVER` if set, else /usr/bin/redis-server, else the first on `PATH`. */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.REDIS_SERVER !== undefined && env.REDIS_SERVER !== '') return executable(env.REDIS_SERVER) ? env.REDIS_SERVER : undefined;
  const candidates = ['/usr/bin/redis-server', ...(env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'redis-server'))];
  return candidates.find(executable);
}

/** Pure decision, tested on its own: missing binary → skip locally, fail under CI. */
export function decideRedisGate(binary: string | undefined, env: NodeJS.ProcessEnv = process.env): RedisGate {
  if (binary !== undefined) return 'run';
  return isCi(env) ? 'fail' : 'skip';
}

/** The binary found when this module was loaded. */
export const redisServerBinary = findRedisServer();
/** This run's gate. */
export const redisGate: RedisGate = decideRedisGate(redisServerBinary);
/** Pass to `describe.skipIf`: true only when Redis is missing and this is not CI. */
export const skipRedisSuites = redisGate === 'skip';

if (redisGate === 'skip') console.warn(REDIS_MISSING_MESSAGE);

/** A running redis-server. */
export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Stops the server (SIGTERM, then SIGKILL after 2 s) and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL (a crash: nothing saved) and waits for it to exit. */
  kill(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** One PING over a raw socket: true when the server answers +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function startOnce(binary: string, fixedPort: number | undefined): Promise<RedisServer | undefined> {
  const port = fixedPort ?? (await freePort());
  const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  let spawnError: Error | undefined;
  child.once('error', (error) => (spawnError = error));
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (spawnError) throw new Error(`could not start ${binary}: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) {
      // Most likely someone took the port between probe and bind: the caller retries.
      if (/address already in use/i.test(output)) return undefined;
      throw new Error(`${binary} exited (${child.exitCode ?? child.signalCode}) before answering PING:\n${output}`);
    }
    if (await ping(port)) {
      return {
        host: '127.0.0.1',
        port,
        url: `redis://127.0.0.1:${port}`,
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const gone = exited(child);
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
          await gone;
          clearTimeout(timer);
        },
        async kill() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const gone = exited(child);
          child.kill('SIGKILL');
          await gone;
        },
      };
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  child.kill('SIGKILL');
  await exited(child);
  throw new Error(`${binary} did not answer PING on 127.0.0.1:${port} within 10 s:\n${output}`);
}

/**
 * Starts a redis-server on 127.0.0.1 at a random free port (or `options.port`, to restart one) (`--save '' --appendonly no`) and
 * resolves once it answers PING. Rejects with an explanation when the binary is missing
 * (that is how a CI run without Redis fails) or the server does not come up.
 */
export async function startRedisServer(binary: string | undefined = redisServerBinary, options: { readonly port?: number } = {}): Promise<RedisServer> {
  if (binary === undefined) {
    throw new Error(
      isCi()
        ? 'redis-server not found and CI is set: the Redis store suites must run in CI; install it with apt-get install redis-server'
        : REDIS_MISSING_MESSAGE,
    );
  }
  // A fixed port is a restart on the port the clients know: retry while the old one lets go of it.
  for (let attempt = 0; attempt < (options.port === undefined ? 3 : 20); attempt += 1) {
    const server = await startOnce(binary, options.port);
    if (server) return server;
    if (options.port !== undefined) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${binary}: no free port after 3 attempts`);
}
