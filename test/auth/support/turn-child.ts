/**
 * A gateway process: a session manager whose credentials live in a shared file (named by the
 * path it is given, which may be a symlink or reach the file through a symlinked directory),
 * streaming turns to an upstream on 127.0.0.1. Configured by TURN_CHILD_CONFIG (JSON, see
 * TurnChildConfig). Prints JSON lines: `ready`, one `turn` per turn, `auth` per auth event.
 * Each line `go` on stdin runs one turn.
 */
import { createInterface } from 'node:readline';
import { fileCredentialStore } from '../../../src/auth/file-store.js';
import { oauthRefreshSource } from '../../../src/auth/oauth-refresh.js';
import { createSessionManager } from '../../../src/manager.js';

/** What the parent passes to a turn child. */
export interface TurnChildConfig {
  readonly credentialsPath: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly httpUrl: string;
  readonly wsUrl: string;
}

/** A line a turn child prints. */
export type TurnChildLine =
  | { readonly type: 'ready'; readonly pid: number }
  | { readonly type: 'turn'; readonly ok: boolean; readonly error?: string }
  | { readonly type: 'auth'; readonly event: string };

const print = (line: TurnChildLine) => process.stdout.write(`${JSON.stringify(line)}\n`);
const config = JSON.parse(process.env['TURN_CHILD_CONFIG'] ?? '{}') as TurnChildConfig;
const store = fileCredentialStore(config.credentialsPath, {
  lockRetries: { initialMs: 20, maxMs: 200 },
  onEvent: (event) => print({ type: 'auth', event: event.type }),
});
const source = oauthRefreshSource({ tokenUrl: config.tokenUrl, clientId: config.clientId, store, timeoutMs: 60_000 });
const manager = createSessionManager({ endpoints: { api: { wsUrl: config.wsUrl, httpUrl: config.httpUrl, credentials: source } } });
const session = manager.session('s1', 'api');

print({ type: 'ready', pid: process.pid });
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'exit') break;
  if (line.trim() !== 'go') continue;
  try {
    for await (const _event of session.stream({ model: 'm', input: 'hello' })) {
      // Drained: a turn completes when its terminal event arrives.
    }
    print({ type: 'turn', ok: true });
  } catch (error) {
    print({ type: 'turn', ok: false, error: error instanceof Error ? error.message : String(error) });
  }
}
await manager.close();
process.exit(0);
