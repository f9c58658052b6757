import { fromPromise } from 'xstate';
import type { RefreshOutput } from '../../machines/credential.js';
import { emitAuthEvent, type AuthEventListener } from './auth-events.js';
import { RefreshError, refreshErrorFrom, type CredentialSource } from './credential-source.js';
import { scrubError } from '../secrets.js';

// The session manager imports both halves of the glue from here.

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
  /**
   * Longest a turn waits for one refresh, in ms. Default 30 000. When it passes, the refresh
   * fails for the chart with `networkCode: 'refresh_wait_timeout'` (transient: the turn fails
   * with class `auth` and says why); the refresh itself goes on, and a token it produces later
   * reaches the chart as a change.
   */
  readonly refreshWaitMs?: number;
}

/** Default of {@link CredentialRuntimeOptions.refreshWaitMs}, in ms. */
export const DEFAULT_REFRESH_WAIT_MS = 30_000;

/** The token and the generation number the chart knows it by. */
export interface CurrentCredential {
  /** The access token to send. */
  readonly token: string;
  /** Its generation: report this number (never the token) to the chart when the token is rejected. */
  readonly generation: number;
}

/** The input and output of the `refreshCredentials` actor of `machines/credential.ts`. */
export type RefreshActorLogic = ReturnType<typeof fromPromise<RefreshOutput, { rejectedGeneration: number }>>;

/** The `loadCredentials` actor of `machines/credential.ts`: reads the first token. */
export type LoadActorLogic = ReturnType<typeof fromPromise<RefreshOutput, Record<string, never>>>;

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
  /**
   * Implements the chart's `loadCredentials`: asks the source for its first token. A source that
   * cannot give one (no credentials file, a corrupt one) fails with a classified {@link RefreshError},
   * so the chart, not the endpoint, takes the blame.
   */
  readonly loadActor: LoadActorLogic;
  /** Calls `listener` with the new generation when the token changed outside a chart refresh. Returns an unsubscribe function. */
  onChange(listener: (generation: number) => void): () => void;
  /**
   * Every secret this runtime holds or has held (access tokens of every generation, and the
   * refresh tokens and other secrets the source reports through `secrets()`), for redaction
   * only (scrubbing logs, events, errors, inspector frames). Never put them anywhere else.
   */
  knownTokens(): readonly string[];
  /** Stops following the source. */
  close(): void;
}

// Generations the chart may still name in a REJECTED; older ones are long replaced.
const REMEMBERED_GENERATIONS = 8;
// Secrets kept for scrubbing only: far more than any message could still quote, bounded so a
// long-lived gateway does not grow without end (a token 256 rotations old is weeks dead).
const REMEMBERED_SECRETS = 256;

/**
 * Holds the tokens of one source so that nothing else has to: the chart, its snapshots and
 * the sessions see generation numbers only.
 * @param source where tokens come from
 * @param options name and clocks
 */
export function createCredentialRuntime(source: CredentialSource, options: CredentialRuntimeOptions): CredentialRuntime {
  const wallClock = options.wallClock ?? Date.now;
  const tokens = new Map<number, string>();
  const refreshWaitMs = options.refreshWaitMs ?? source.refreshWaitMs ?? DEFAULT_REFRESH_WAIT_MS;
  if (!(Number.isFinite(refreshWaitMs) && refreshWaitMs > 0 && refreshWaitMs <= 2 ** 31 - 1)) {
    throw new RangeError(`refreshWaitMs: expected a number of ms in (0, 2^31-1], got ${String(refreshWaitMs)}`);
  }
  // Every secret ever seen, oldest first (a Set keeps insertion order), for scrubbing only.
  const everSeen = new Set<string>();
  const learn = (secret: string | undefined) => {
    if (typeof secret !== 'string' || secret.length === 0) return;
    everSeen.delete(secret);
    everSeen.add(secret);
    while (everSeen.size > REMEMBERED_SECRETS) everSeen.delete(everSeen.values().next().value as string);
  };
  const secretsNow = (): string[] => {
    try {
      for (const secret of source.secrets?.() ?? []) learn(secret);
    } catch {
      // A source whose secrets() throws still gets its access tokens scrubbed.
    }
    return [...everSeen];
  };
  const listeners = new Set<(generation: number) => void>();
  let generation = 0;
  let closed = false;

  /** Records `token` as current; answers its generation and whether it is new. */
  const adopt = (token: string): { generation: number; changed: boolean } => {
    if (generation > 0 && tokens.get(generation) === token) return { generation, changed: false };
    generation += 1;
    tokens.set(generation, token);
    learn(token);
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
    let token: string;
    try {
      token = await source.token();
    } catch (error) {
      throw classified(error, secretsNow(), 'the credential source could not give a token');
    }
    if (typeof token !== 'string' || token.length === 0) {
      throw new RefreshError(`credential ${options.credentialId}: the source gave no token; sign in or fix the source`, { errorCode: 'credentials_missing' });
    }
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
    // The chart's abort signal is deliberately not passed on: a rotation cut short after the
    // endpoint answered would lose the new refresh token, and the old one is already spent.
    const refreshing = (async () => {
      try {
        return await source.refresh(rejected);
      } catch (error) {
        throw classified(error, secretsNow(), 'token refresh failed');
      }
    })();
    let gaveUp = false;
    // Past refreshWaitMs the turn stops waiting; a token this refresh produces later still counts.
    refreshing.then(
      (fresh) => {
        if (!gaveUp || closed || typeof fresh !== 'string') return;
        const adopted = adopt(fresh);
        if (adopted.changed) notify(adopted.generation);
      },
      () => undefined,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        gaveUp = true;
        reject(
          new RefreshError(
            `credential ${options.credentialId}: the token refresh did not finish within refreshWaitMs (${refreshWaitMs} ms); the rejected token is not sent again`,
            { networkCode: 'refresh_wait_timeout' },
          ),
        );
      }, refreshWaitMs);
      timer.unref?.();
    });
    let fresh: string;
    try {
      fresh = await Promise.race([refreshing, waited]);
    } finally {
      clearTimeout(timer);
    }
    if (typeof fresh !== 'string' || fresh.length === 0) {
      throw new RefreshError(`credential ${options.credentialId}: the source's refresh gave no token`, { errorCode: 'credentials_missing' });
    }
    const adopted = adopt(fresh);
    // The chart dropped this refresh (a CHANGED arrived, or it stopped): it will not read our
    // output, so a token this refresh produced reaches it as a change instead.
    if (signal.aborted && adopted.changed) notify(adopted.generation);
    return output(adopted.generation);
  });

  const loadActor = fromPromise<RefreshOutput, Record<string, never>>(async () => {
    const { generation: loaded } = await current();
    return output(loaded);
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
    loadActor,
    knownTokens: secretsNow,
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

/**
 * Any failure of a source as a {@link RefreshError} the chart can classify: `status`, `code` and
 * `errorCode` are read from plain errors too (the Node convention), and every string it carries
 * (message, stack, the whole cause chain) is scrubbed of the secrets.
 */
function classified(error: unknown, secrets: readonly string[], prefix: string): RefreshError {
  return scrubError(refreshErrorFrom(error, prefix, secrets), secrets);
}
