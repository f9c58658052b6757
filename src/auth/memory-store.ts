import { RefreshError } from './credential-source.js';
import type { CredentialStore, DoRefresh, StoredCredentials } from './credential-store.js';
import { KeyedMutex } from './single-flight.js';

/**
 * Credentials kept in this process only: for gateways that persist them elsewhere, and for
 * tests. Rotation is exclusive within the process; nothing protects other processes.
 * @param initial the credentials at start, if any
 * @param name a name for logs. Default `memory`.
 */
export function memoryCredentialStore(initial?: StoredCredentials, name = 'memory'): CredentialStore {
  let current = initial;
  const listeners = new Set<() => void>();
  const mutex = new KeyedMutex<'only'>();
  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  return {
    name,
    read: async () => current,
    write: async (credentials) => {
      current = credentials;
      notify();
    },
    rotate: (rejected: string, doRefresh: DoRefresh) =>
      mutex.run('only', async () => {
        if (!current) throw new RefreshError(`no credentials in ${name}: sign in`, { errorCode: 'credentials_missing' });
        if (current.access_token !== rejected) return current;
        current = await doRefresh(current);
        return current;
      }),
    watch: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
