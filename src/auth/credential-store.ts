/**
 * Where refresh tokens live between processes. A refresh token rotates on every use, so
 * whoever refreshes must do it under the store's exclusion and publish the result before
 * anyone else reads: that is what {@link CredentialStore.rotate} is for.
 */

/** The stored credentials; the JSON shape of a credentials file. */
export interface StoredCredentials {
  /** The access token sent on requests. */
  readonly access_token: string;
  /** The single-use refresh token. */
  readonly refresh_token: string;
  /** Wall-clock expiry of the access token, in ms since epoch, if known. */
  readonly expires_at_ms?: number;
}

/** Produces new credentials from the current ones (one call to the token endpoint). */
export type DoRefresh = (current: StoredCredentials) => Promise<StoredCredentials>;

/** A place holding one set of credentials, shared by every holder of the refresh token. */
export interface CredentialStore {
  /** A name for logs (a path or a label; never a token). */
  readonly name: string;
  /** The stored credentials, or `undefined` when there are none (never signed in). */
  read(): Promise<StoredCredentials | undefined>;
  /** Replace the credentials (a sign-in). Watchers are notified. */
  write(credentials: StoredCredentials): Promise<void>;
  /**
   * Replace the rejected access token, exclusively among every holder of this store:
   * read; if the stored access token is no longer `rejectedAccessToken`, another holder
   * already rotated, so answer the stored credentials without calling `doRefresh`; otherwise
   * call `doRefresh` and store its result before anyone else can read.
   * @throws RefreshError from `doRefresh`, or with `errorCode: 'credentials_missing'` when the store is empty
   */
  rotate(rejectedAccessToken: string, doRefresh: DoRefresh): Promise<StoredCredentials>;
  /** Calls `listener` when the stored credentials may have changed. Returns an unsubscribe function. */
  watch(listener: () => void): () => void;
}

/**
 * Checks a parsed JSON value is stored credentials. Never echoes the value: a parse error
 * message is a place a token could leak.
 * @throws Error naming the bad field
 */
export function parseStoredCredentials(value: unknown): StoredCredentials {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('credentials are not a JSON object');
  const record = value as Record<string, unknown>;
  const access = record['access_token'];
  const refresh = record['refresh_token'];
  const expires = record['expires_at_ms'];
  if (typeof access !== 'string' || access.length === 0) throw new Error('access_token is missing or not a string');
  if (typeof refresh !== 'string' || refresh.length === 0) throw new Error('refresh_token is missing or not a string');
  if (expires !== undefined && expires !== null && (typeof expires !== 'number' || !Number.isFinite(expires))) {
    throw new Error('expires_at_ms is not a number');
  }
  return typeof expires === 'number'
    ? { access_token: access, refresh_token: refresh, expires_at_ms: expires }
    : { access_token: access, refresh_token: refresh };
}

/**
 * Parses the text of a credentials file.
 * @throws Error without any of the text in its message
 */
export function parseCredentialsText(text: string): StoredCredentials {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // V8's message quotes the input ("Unexpected token … in "{"access_token":…"): drop it.
    throw new Error(`credentials are not valid JSON (${text.length} bytes)`);
  }
  return parseStoredCredentials(value);
}
