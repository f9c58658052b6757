import { createActor, type Actor, type ActorOptions, type AnyActorLogic } from 'xstate';
import type { BackoffOptions } from '../../machines/backoff.js';
import { credentialMachine, type CredentialEvent } from '../../machines/credential.js';
import { emitAuthEvent, type AuthEventListener } from './auth-events.js';
import type { CredentialRuntime } from './credential-runtime.js';

/** Options of {@link createCredentialActor}. */
export interface CredentialActorOptions {
  /** The chart's timer clock; pass xstate's `SimulatedClock` in tests. Default real timers. */
  readonly clock?: ActorOptions<AnyActorLogic>['clock'];
  /** Seed of the retry jitter. Default random. */
  readonly jitterSeed?: number;
  /** Refresh this long before expiry, in ms. Default 300 000 (the chart's default). */
  readonly refreshMarginMs?: number;
  /** Backoff between transient refresh failures. Default the chart's: 1 s doubling to 60 s, 20 % jitter. */
  readonly retry?: BackoffOptions;
  /** Transient failures in a row before the chart stops retrying until the next rejection. Default 5. */
  readonly maxTransientRetries?: number;
  /** Receives `reauth-required` and `reauth-cleared` (no tokens). */
  readonly onEvent?: AuthEventListener;
  /** Passed to xstate's `createActor` (for example an inspector). */
  readonly inspect?: ActorOptions<AnyActorLogic>['inspect'];
  /** The chart's `credentialId`. Default `runtime.credentialId`. */
  readonly credentialId?: string;
  /** Called with the actor just before it starts, so an observer sees its first snapshot. */
  readonly beforeStart?: (actor: CredentialActor) => void;
}

/** The credential chart with the runtime's refresh provided. */
export const providedCredentialMachine = (runtime: CredentialRuntime) =>
  credentialMachine.provide({ actors: { refreshCredentials: runtime.refreshActor, loadCredentials: runtime.loadActor } });

/** A running credential chart made by {@link createCredentialActor}. */
export type CredentialActor = Actor<ReturnType<typeof providedCredentialMachine>>;

/**
 * Starts one credential chart for `runtime`: provides its refresh, starts at its current
 * generation, forwards outside changes as `CHANGED`, and reports entering and leaving
 * `reauthRequired`. Stopping the actor unhooks everything.
 *
 * Call `await runtime.current()` first so the chart starts at the real generation; otherwise
 * it starts at 0 and catches up through a `CHANGED` on the first `current()`.
 * @param runtime the runtime holding the tokens
 * @param options timing and reporting
 */
export function createCredentialActor(runtime: CredentialRuntime, options: CredentialActorOptions = {}): CredentialActor {
  const expiresInMs = runtime.expiresInMs();
  const credentialId = options.credentialId ?? runtime.credentialId;
  const actor = createActor(providedCredentialMachine(runtime), {
    input: {
      credentialId,
      generation: runtime.generation(),
      jitterSeed: options.jitterSeed ?? Math.floor(Math.random() * 2 ** 31),
      ...(expiresInMs !== undefined ? { expiresInMs } : {}),
      ...(options.refreshMarginMs !== undefined ? { refreshMarginMs: options.refreshMarginMs } : {}),
      ...(options.retry !== undefined ? { retry: options.retry } : {}),
      ...(options.maxTransientRetries !== undefined ? { maxTransientRetries: options.maxTransientRetries } : {}),
    },
    ...(options.clock !== undefined ? { clock: options.clock } : {}),
    ...(options.inspect !== undefined ? { inspect: options.inspect } : {}),
  });

  const unhookChanges = runtime.onChange((generation) => {
    if (actor.getSnapshot().status !== 'active') return;
    const expires = runtime.expiresInMs();
    const event: CredentialEvent = expires === undefined ? { type: 'CHANGED', generation } : { type: 'CHANGED', generation, expiresInMs: expires };
    actor.send(event);
  });

  let inReauth = false;
  const subscription = actor.subscribe({
    next(snapshot) {
      const now = snapshot.matches('reauthRequired');
      if (now && !inReauth) {
        emitAuthEvent(options.onEvent, {
          type: 'reauth-required',
          credentialId,
          summary: snapshot.context.lastFailureSummary ?? 'sign-in required',
        });
      } else if (!now && inReauth && snapshot.matches('valid')) {
        emitAuthEvent(options.onEvent, { type: 'reauth-cleared', credentialId, generation: snapshot.context.generation });
      }
      inReauth = now;
    },
    // Without an error observer xstate rethrows, which could crash the host process.
    error: () => unhookChanges(),
    complete: () => unhookChanges(),
  });
  void subscription;
  options.beforeStart?.(actor);
  return actor.start();
}
