import { fromPromise } from 'xstate';
import type { RefreshOutput } from '../../machines/credential.js';
import { emitAuthEvent, type AuthEventListener } from './auth-events.js';
import { RefreshError, isRefreshError, type CredentialSource } from './credential-source.js';
import { redact } from './redact.js';

// The session manager imports both halves of the glue from here.
export { createCredentialActor, type CredentialActor, type CredentialActorOptions } from './credential-actor.js';

/** Options of {@link createCredentialRuntime}. */
export interface CredentialRuntimeOptions {
  /** A name for logs and the chart (never the token). */
  readonly credentialId: string;
  /** The manager's clock, for `RefreshOutput.atMs`; may be simulated. */
  readonly clock: { now(): number };
  /**
   * Wall clock, in ms since epoch. Expiry times come from token endpoints and files, so they
   * are wall-clock even when `clock` is simulated. Default `Date.now`.
   */
  readonly wallClock?: () => number;
  /** Receives `credentials-changed` (no tokens). */
  readonly onEvent?: AuthEventListener;
}

/** The token and the generation number the chart knows it by. */
export interface CurrentCredential {
  /** The access token to send. */
  readonly token: string;
  /** Its generation: report this number (never the token) to the chart when the token is rejected. */
  readonly generation: number;
}

/** The input and output of the `refreshCredentials` actor of `machines/credential.ts`. */
export type RefreshActorLogic = ReturnType<typeof fromPromise<RefreshOutput, { rejectedGeneration: number }>>;

/** The glue between a {@link CredentialSource} and the credential chart. */
export interface CredentialRuntime {
  /** The name given at creation. */
  readonly credentialId: string;
  /** The current token and its generation (asks the source, so a token it changed on its own gets a new generation). */
  current(): Promise<CurrentCredential>;
  /** The generation of the current token; 0 before the first token is known. */
  generation(): number;
  /** How long the current token still lives, in ms, if the source knows. */
  expiresInMs(): number | undefined;
  /**
   * Implements the chart's `refreshCredentials`: refreshes the token of `rejectedGeneration`
   * through `source.refresh`, and bumps the generation only if the token string changed.
   */
  readonly refreshActor: RefreshActorLogic;
  /** Calls `listener` with the new generation when the token changed outside a chart refresh. Returns an unsubscribe function. */
  onChange(listener: (generation: number) => void): () => void;
  /**
   * The tokens of the generations still remembered, for redaction only (scrubbing inspector
   * events and logs). Never put them anywhere else.
   */
  knownTokens(): readonly string[];
  /** Stops following the source. */
  close(): void;
}

// Generations the chart may still name in a REJECTED; older ones are long replaced.
const REMEMBERED_GENERATIONS = 8;

/**
 * Holds the tokens of one source so that nothing else has to: the chart, its snapshots and
 * the sessions see generation numbers only.
 * @param source where tokens come from
 * @param options name and clocks
 */
export function createCredentialRuntime(source: CredentialSource, options: CredentialRuntimeOptions): CredentialRuntime {
  const wallClock = options.wallClock ?? Date.now;
  const tokens = new Map<number, string>();
  const listeners = new Set<(generation: number) => void>();
  let generation = 0;
  let closed = false;

  /** Records `token` as current; answers its generation and whether it is new. */
  const adopt = (token: string): { generation: number; changed: boolean } => {
    if (generation > 0 && tokens.get(generation) === token) return { generation, changed: false };
    generation += 1;
    tokens.set(generation, token);
    tokens.delete(generation - REMEMBERED_GENERATIONS);
    return { generation, changed: true };
  };

  const notify = (gen: number) => {
    // The first token is a start, not a change worth a log line; the chart still hears of it.
    if (gen > 1) emitAuthEvent(options.onEvent, { type: 'credentials-changed', credentialId: options.credentialId, generation: gen });
    for (const listener of [...listeners]) {
      try {
        listener(gen);
      } catch {
        // Listeners are notified independently.
      }
    }
  };

  const current = async (): Promise<CurrentCredential> => {
    const token = await source.token();
    const adopted = adopt(token);
    // A token the chart has not heard of: the first one (a chart created before it was
    // known starts at generation 0), or one the source changed on its own.
    if (adopted.changed) notify(adopted.generation);
    return { token, generation: adopted.generation };
  };

  const expiresInMs = (): number | undefined => {
    const at = source.expiresAtMs?.();
    return at === undefined ? undefined : Math.max(0, at - wallClock());
  };

  const output = (gen: number): RefreshOutput => {
    const expires = expiresInMs();
    return expires === undefined ? { generation: gen, atMs: options.clock.now() } : { generation: gen, expiresInMs: expires, atMs: options.clock.now() };
  };

  const refreshActor = fromPromise<RefreshOutput, { rejectedGeneration: number }>(async ({ input, signal }) => {
    if (generation === 0) await current();
    // Replaced already (a CHANGED the chart has not seen yet): nothing to refresh.
    if (input.rejectedGeneration < generation) return output(generation);
    const rejected = tokens.get(input.rejectedGeneration) ?? tokens.get(generation);
    if (rejected === undefined) throw new RefreshError(`credential ${options.credentialId}: no token to refresh`, { errorCode: 'credentials_missing' });
    let fresh: string;
    try {
      // The chart's abort signal is deliberately not passed on: a rotation cut short after the
      // endpoint answered would lose the new refresh token, and the old one is already spent.
      fresh = await source.refresh(rejected);
    } catch (error) {
      throw scrub(error, [...tokens.values()]);
    }
    const adopted = adopt(fresh);
    // The chart dropped this refresh (a CHANGED arrived, or it stopped): it will not read our
    // output, so a token this refresh produced reaches it as a change instead.
    if (signal.aborted && adopted.changed) notify(adopted.generation);
    return output(adopted.generation);
  });

  const unsubscribe = source.onChange?.(() => {
    if (closed) return;
    void (async () => {
      try {
        const token = await source.token();
        const adopted = adopt(token);
        if (adopted.changed && !closed) notify(adopted.generation);
      } catch {
        // The source reports its own read failures; the old token stays current.
      }
    })();
  });

  return {
    credentialId: options.credentialId,
    current,
    generation: () => generation,
    expiresInMs,
    refreshActor,
    knownTokens: () => [...tokens.values()],
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      closed = true;
      listeners.clear();
      unsubscribe?.();
    },
  };
}

/** Keeps the error's classification fields, removes any token from its message. */
function scrub(error: unknown, secrets: readonly string[]): RefreshError {
  if (isRefreshError(error)) {
    error.message = redact(error.message, secrets);
    return error;
  }
  return new RefreshError(redact(`token refresh failed: ${error instanceof Error ? error.message : String(error)}`, secrets));
}
