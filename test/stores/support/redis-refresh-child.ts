/**
 * A gateway host sharing one OAuth account through Redis: refreshes a rejected token once with
 * `oauthRefreshSource` over `redisCredentialStore`. Configured by REDIS_REFRESH_CHILD (JSON).
 * JSON lines on stdout: `ready`, one `event` per auth event, one `result`. Waits for `go` on stdin.
 */
import { Redis } from 'ioredis';
import { createInterface } from 'node:readline';
import { oauthRefreshSource } from '../../../src/auth/oauth-refresh.js';
import { isRefreshError } from '../../../src/auth/credential-source.js';
import { redisCredentialStore } from '../../../src/stores/redis-credentials.js';

/** What the parent passes. */
export interface RedisRefreshChildConfig {
  readonly redisUrl: string;
  readonly credentialId: string;
  readonly encryptionKey: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly rejected: string;
  readonly lockTtlMs: number;
}

const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const config = JSON.parse(process.env['REDIS_REFRESH_CHILD'] ?? '{}') as RedisRefreshChildConfig;
const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 1 });
redis.on('error', () => undefined);
const store = redisCredentialStore({
  client: redis,
  credentialId: config.credentialId,
  encryptionKeys: [{ id: 'k1', key: config.encryptionKey }],
  lockTtlMs: config.lockTtlMs,
  onEvent: (event) => print({ type: 'event', event }),
});
const source = oauthRefreshSource({ tokenUrl: config.tokenUrl, clientId: config.clientId, store, timeoutMs: 60_000 });
await source.token();

const lines = createInterface({ input: process.stdin });
print({ type: 'ready', pid: process.pid });
for await (const line of lines) {
  if (line.trim() !== 'go') continue;
  try {
    print({ type: 'result', ok: true, accessToken: await source.refresh(config.rejected) });
  } catch (error) {
    print({ type: 'result', ok: false, message: error instanceof Error ? error.message : String(error), ...(isRefreshError(error) ? { errorCode: error.errorCode, networkCode: error.networkCode } : {}) });
  }
  break;
}
lines.close();
process.stdin.destroy();
redis.disconnect();
