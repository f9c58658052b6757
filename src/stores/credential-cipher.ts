/**
 * Tokens at rest: how the Redis credential store seals a credential before it leaves the
 * process. AES-256-GCM (node:crypto), a random 96-bit IV per write, the Redis key as associated
 * data (a sealed value copied under another credential's key does not open), and the key id in
 * clear so keys can be rotated: seal with the first key, open with any key still listed.
 */

import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ConfigError } from '../errors.js';

/** One encryption key. */
export interface CredentialEncryptionKey {
  /** Names the key inside every sealed value (`[A-Za-z0-9_-]{1,32}`), so rotation knows which key opens it. */
  readonly id: string;
  /** 32 bytes: a Buffer, or a string of base64 that decodes to 32 bytes (`openssl rand -base64 32`). */
  readonly key: Uint8Array | string;
}

/** Seals and opens credential values. */
export interface CredentialCipher {
  /** The stored form of `plaintext` for `redisKey`. */
  seal(plaintext: string, redisKey: string): string;
  /**
   * The plaintext of a stored value.
   * @throws Error naming the reason (unknown key id, tampered value), never the value
   */
  open(stored: string, redisKey: string): string;
}

const SEALED = 'rs1.gcm';
const PLAIN = 'rs1.plain';
const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;

function keyBytes(entry: CredentialEncryptionKey, index: number): Buffer {
  const field = `store.encryptionKeys[${index}]`;
  if (typeof entry?.id !== 'string' || !KEY_ID.test(entry.id)) throw new ConfigError(`${field}.id`, 'expected 1 to 32 characters of A-Z a-z 0-9 _ -');
  const bytes = typeof entry.key === 'string' ? Buffer.from(entry.key, 'base64') : Buffer.from(entry.key ?? []);
  // The message never shows the key, only its length.
  if (bytes.length !== 32) throw new ConfigError(`${field}.key`, `expected 32 bytes (AES-256), got ${bytes.length}`);
  return bytes;
}

/**
 * A cipher for `keys` (the first seals; all open), or a pass-through marker format when `keys`
 * is empty or absent. A store without keys still refuses to read a sealed value, and a store
 * with keys reads a plain value (migration) but only ever writes sealed ones.
 */
export function credentialCipher(keys: readonly CredentialEncryptionKey[] | undefined): CredentialCipher {
  const list = keys ?? [];
  const byId = new Map<string, Buffer>();
  list.forEach((entry, index) => {
    const bytes = keyBytes(entry, index);
    if (byId.has(entry.id)) throw new ConfigError(`store.encryptionKeys[${index}].id`, `key id ${entry.id} is listed twice`);
    byId.set(entry.id, bytes);
  });
  const current = list[0];
  return {
    seal(plaintext, redisKey) {
      if (!current) return `${PLAIN}:${plaintext}`;
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', byId.get(current.id)!, iv);
      cipher.setAAD(Buffer.from(redisKey, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return [SEALED, current.id, iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
    },
    open(stored, redisKey) {
      if (stored.startsWith(`${PLAIN}:`)) return stored.slice(PLAIN.length + 1);
      const parts = stored.split(':');
      if (parts.length !== 5 || parts[0] !== SEALED) throw new Error('the stored credential is in an unknown format');
      const [, keyId, iv, tag, body] = parts as [string, string, string, string, string];
      const key = byId.get(keyId);
      if (!key) {
        throw new Error(
          list.length === 0
            ? `the stored credential is encrypted (key id ${keyId}) and this store has no encryptionKeys`
            : `the stored credential is encrypted with key id ${keyId}, which is not among this store's encryptionKeys`,
        );
      }
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
        decipher.setAAD(Buffer.from(redisKey, 'utf8'));
        decipher.setAuthTag(Buffer.from(tag, 'base64'));
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
      } catch {
        throw new Error(`the stored credential does not open with key id ${keyId} (tampered, or sealed for another key)`);
      }
    },
  };
}
