import type { CredentialSource } from './credential-source.js';

/**
 * A token that never changes (an API key, a token from the environment).
 *
 * `refresh` answers the same token, so the runtime keeps the same generation and the
 * session's one retry after a 401 fails again: the turn ends with an auth error instead of
 * looping on a key that will never work.
 * @param token the access token
 * @param name a name for logs. Default `static`.
 */
export function staticToken(token: string, name = 'static'): CredentialSource {
  return {
    name,
    token: () => token,
    refresh: async () => token,
  };
}
