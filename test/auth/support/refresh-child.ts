/**
 * A process that shares a credentials file with others and refreshes a rejected token once.
 * Configured by the REFRESH_CHILD_CONFIG environment variable (JSON, see ChildConfig).
 * Speaks JSON lines on stdout: `ready` once set up, one `event` per auth event, one `result`.
 * Waits for a line `go` on stdin between `ready` and the refresh, so the parent can release
 * every child at once (a barrier) and they really race for the lock.
 */
import { createInterface } from 'node:readline';
import { fileCredentialStore } from '../../../src/auth/file-store.js';
import { oauthRefreshSource } from '../../../src/auth/oauth-refresh.js';
import { isRefreshError } from '../../../src/auth/credential-source.js';
import type { AuthEvent } from '../../../src/auth/auth-events.js';

/** What the parent passes to a child. */
export interface ChildConfig {
  readonly credentialsPath: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  /** The access token every child reports as rejected. */
  readonly rejected: string;
  readonly lockStaleMs: number;
  /** Lock heartbeat, in ms. */
  readonly lockHeartbeatMs?: number;
}

/** A line a child prints. */
export type ChildLine =
  | { readonly type: 'ready'; readonly pid: number }
  | { readonly type: 'event'; readonly event: AuthEvent }
  | { readonly type: 'result'; readonly ok: true; readonly accessToken: string }
  | { readonly type: 'result'; readonly ok: false; readonly message: string; readonly status?: number; readonly errorCode?: string; readonly networkCode?: string };

const print = (line: ChildLine) => process.stdout.write(`${JSON.stringify(line)}\n`);

const config = JSON.parse(process.env['REFRESH_CHILD_CONFIG'] ?? '{}') as ChildConfig;
const store = fileCredentialStore(config.credentialsPath, {
  lockStaleMs: config.lockStaleMs,
  ...(config.lockHeartbeatMs !== undefined ? { lockHeartbeatMs: config.lockHeartbeatMs } : {}),
  lockRetries: { initialMs: 20, maxMs: 200 },
  onEvent: (event) => print({ type: 'event', event }),
});
const source = oauthRefreshSource({ tokenUrl: config.tokenUrl, clientId: config.clientId, store, timeoutMs: 60_000 });

const lines = createInterface({ input: process.stdin });
print({ type: 'ready', pid: process.pid });
for await (const line of lines) {
  if (line.trim() !== 'go') continue;
  try {
    const accessToken = await source.refresh(config.rejected);
    print({ type: 'result', ok: true, accessToken });
  } catch (error) {
    const details = isRefreshError(error) ? { status: error.status, errorCode: error.errorCode, networkCode: error.networkCode } : {};
    print({ type: 'result', ok: false, message: error instanceof Error ? error.message : String(error), ...details } as ChildLine);
  }
  break;
}
lines.close();
process.stdin.destroy();
