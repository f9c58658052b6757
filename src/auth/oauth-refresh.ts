import { emitAuthEvent, type AuthEventListener } from './auth-events.js';
import { RefreshError, refreshErrorFrom, type CredentialSource } from './credential-source.js';
import { scrubError } from '../secrets.js';
import type { CredentialStore, StoredCredentials } from './credential-store.js';
import { SingleFlight } from './single-flight.js';
import { requestTokenRefresh } from './token-request.js';

/** Options of {@link oauthRefreshSource}. */
export interface OAuthRefreshSourceOptions {
  /** The OAuth token endpoint. */
  readonly tokenUrl: string | URL;
  /** The OAuth client id sent with every refresh. */
  readonly clientId: string;
  /** Where the credentials live; share one file store among every process using the refresh token. */
  readonly store: CredentialStore;
  /** The fetch to use. Default the global fetch. */
  readonly fetch?: typeof fetch;
  /** Bound on one refresh request, in ms. Default 120 000 (as the peer gateway). Keep it below the store's lock stale time. */
  readonly timeoutMs?: number;
  /** Space-separated scopes to ask for on refresh, if the provider wants them. Default none. */
  readonly scope?: string;
  /** A name for logs. Default `oauth:<token endpoint host>`. */
  readonly name?: string;
  /** Wall clock, in ms since epoch, for `expires_at_ms`. Default `Date.now`. */
  readonly now?: () => number;
  /** Receives refresh failures and unreadable-store reports (no tokens). */
  readonly onEvent?: AuthEventListener;
  /**
   * Longest a turn waits for a refresh of this source, in ms. Default 30 000. Past it the turn
   * fails with class `auth` ("the refresh did not finish within refreshWaitMs"); the refresh goes
   * on, and its token is picked up by the next turn. Give the file store the same value (its
   * `refreshWaitMs` bounds the wait for another process's lock).
   */
  readonly refreshWaitMs?: number;
}

/**
 * Access tokens from an OAuth refresh-token grant, stored in `store`.
 *
 * - `token()` answers the cached access token (read from the store the first time).
 * - `refresh(rejected)` is single flight per rejected token in this process, answers a token
 *   already newer than `rejected` without any request, and otherwise rotates through
 *   `store.rotate`, which skips the request when another holder already rotated.
 * - `onChange` follows the store, so a sign-in that rewrites it is picked up without restart.
 * @param options endpoint, client and store
 */
export function oauthRefreshSource(options: OAuthRefreshSourceOptions): CredentialSource {
  const name = options.name ?? `oauth:${new URL(options.tokenUrl).host}`;
  const store = options.store;
  const flights = new SingleFlight<string, string>();
  const listeners = new Set<() => void>();
  let cached: StoredCredentials | undefined;
  let unwatch: (() => void) | undefined;
  // Tokens this source has seen, to scrub them from any message it forwards.
  const seen = new Set<string>();
  const remember = (credentials: StoredCredentials) => {
    cached = credentials;
    seen.add(credentials.access_token);
    seen.add(credentials.refresh_token);
    // Bounded: only recent tokens can appear in a message about this refresh.
    while (seen.size > 16) seen.delete(seen.values().next().value as string);
  };

  const load = async (): Promise<StoredCredentials> => {
    if (cached) return cached;
    const stored = await store.read().catch((error: unknown) => {
      throw new RefreshError(`credentials in ${store.name} are unreadable (${error instanceof Error ? error.message : 'unknown error'})`, {
        errorCode: 'credentials_unreadable',
      });
    });
    if (!stored) throw new RefreshError(`no credentials in ${store.name}: sign in`, { errorCode: 'credentials_missing' });
    remember(stored);
    return stored;
  };

  const reloadAfterChange = async () => {
    let stored: StoredCredentials | undefined;
    try {
      stored = await store.read();
    } catch (error) {
      // A half-written file from a tool that does not write atomically: the next change event brings the whole one.
      emitAuthEvent(options.onEvent, { type: 'store-unreadable', store: store.name, reason: error instanceof Error ? error.message : 'unknown error' });
      return;
    }
    if (!stored || (cached && stored.access_token === cached.access_token && stored.refresh_token === cached.refresh_token)) return;
    remember(stored);
    for (const listener of [...listeners]) {
      try {
        listener();
      } catch {
        // Listeners are notified independently.
      }
    }
  };

  const refreshOnce = async (rejected: string): Promise<string> => {
    if (cached && cached.access_token !== rejected) return cached.access_token;
    try {
      const fresh = await store.rotate(rejected, (current) =>
        requestTokenRefresh({
          tokenUrl: options.tokenUrl,
          clientId: options.clientId,
          current,
          ...(options.scope !== undefined ? { scope: options.scope } : {}),
          ...(options.fetch !== undefined ? { fetch: options.fetch } : {}),
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(options.now !== undefined ? { now: options.now } : {}),
        }),
      );
      remember(fresh);
      return fresh.access_token;
    } catch (error) {
      const safe = sanitize(error, [rejected, ...seen]);
      emitAuthEvent(options.onEvent, { type: 'refresh-failed', source: name, message: safe.message });
      throw safe;
    }
  };

  return {
    name,
    secrets: () => [...seen],
    ...(options.refreshWaitMs !== undefined ? { refreshWaitMs: options.refreshWaitMs } : {}),
    token: async () => (await load()).access_token,
    refresh: (rejected) => flights.run(rejected, () => refreshOnce(rejected)),
    expiresAtMs: () => cached?.expires_at_ms,
    onChange(listener) {
      listeners.add(listener);
      if (!unwatch) unwatch = store.watch(() => void reloadAfterChange());
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && unwatch) {
          unwatch();
          unwatch = undefined;
        }
      };
    },
  };
}

/** A RefreshError free of the given tokens in message, stack and cause chain (wrapping anything else, its facts kept). */
function sanitize(error: unknown, secrets: readonly string[]): RefreshError {
  return scrubError(refreshErrorFrom(error, 'token refresh failed', secrets), secrets);
}
