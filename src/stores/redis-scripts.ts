/**
 * Running Lua scripts through any ioredis-style client: EVALSHA first when the client has it,
 * EVAL once Redis answers NOSCRIPT (after a restart or SCRIPT FLUSH); and a real-time bound on
 * every call, so a Redis that does not answer is a rejected promise rather than a hung decision.
 */

import { createHash } from 'node:crypto';

/**
 * The part of a Redis client the stores use. `ioredis` (`new Redis(url)`) fits as is; a
 * node-redis client fits through a three-line adapter (docs/stores.md):
 * `{ eval: (script, numKeys, ...rest) => client.eval(script, { keys: rest.slice(0, numKeys), arguments: rest.slice(numKeys) }) }`.
 */
export interface RedisScriptClient {
  /** `EVAL script numKeys key… arg…`: resolves with the script's reply, rejects on any error. */
  eval(script: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
  /**
   * `EVALSHA sha1 numKeys key… arg…`. Optional: when present the store sends the script's
   * SHA1 and falls back to `eval` once Redis answers `NOSCRIPT` (after a restart or a
   * `SCRIPT FLUSH`); when absent every call sends the whole script with `eval`.
   */
  evalsha?(sha1: string, numKeys: number, ...keysAndArgs: string[]): Promise<unknown>;
}

/** A Lua script and its SHA1. */
export interface Script {
  readonly source: string;
  readonly sha1: string;
}

/** Names a script by its SHA1. */
export function script(source: string): Script {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

function isNoScript(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return message.includes('NOSCRIPT');
}

/** Runs `which` with `keys` and `args`: EVALSHA when the client has it, EVAL after NOSCRIPT or without it. */
export async function runScript(client: RedisScriptClient, which: Script, keys: readonly string[], args: readonly string[]): Promise<unknown> {
  if (typeof client.evalsha === 'function') {
    try {
      return await client.evalsha(which.sha1, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
    }
  }
  return client.eval(which.source, keys.length, ...keys, ...args);
}

/** `promise`, rejected with a message naming `what` if it has not settled after `timeoutMs` (real time; 0: no bound). */
export function bounded<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  if (timeoutMs <= 0) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} got no answer from Redis within ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
