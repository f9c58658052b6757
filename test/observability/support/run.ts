import { SimulatedClock } from 'xstate';
import { fileCredentialStore } from '../../../src/auth/file-store.js';
import { oauthRefreshSource } from '../../../src/auth/oauth-refresh.js';
import { createSessionManager, type SessionManager } from '../../../src/index.js';
import { startUpstream, type Upstream } from '../../../src/testing/upstream.js';
import { signedInFile, type CredentialsFile } from '../../auth/support/fixture.js';
import { startTokenEndpoint, type TokenEndpoint } from '../../auth/support/token-endpoint.js';

export const FAILING = 'codex/gpt-5.4';
export const HEALTHY = 'zai/glm-5';
export const SIGNED_OUT = 'codex/gpt-5.4/acct-2';

/**
 * The demo in small, on real parts: a loopback upstream whose gpt-5.4 upgrade answers 500,
 * a real manager on a SimulatedClock, four sessions on the failing endpoint and one on a
 * healthy one; then the upstream heals and the sessions go back to their WebSockets. A third
 * endpoint holds an OAuth credential whose refresh token was already spent, so its first turn
 * ends in `reauth-required`.
 */
export interface DemoRun {
  readonly manager: SessionManager;
  readonly clock: SimulatedClock;
  readonly upstream: Upstream;
  /** HTTP turns served while the endpoint was down (for "fallbacks are moves, not HTTP turns"). */
  httpTurns: number;
  /** Runs one turn; resolves false when it failed. */
  turn(sessionId: string, endpointKey: string): Promise<boolean>;
  advance(ms: number): Promise<void>;
  /** Every phase of the run, in order. */
  play(): Promise<void>;
  close(): Promise<void>;
}

const MODELS: Record<string, string> = { [FAILING]: 'gpt-5.4', [HEALTHY]: 'glm-5', [SIGNED_OUT]: 'gpt-5.4-mini' };

export async function startDemoRun(): Promise<DemoRun> {
  const tokens: TokenEndpoint = await startTokenEndpoint();
  const file: CredentialsFile = await signedInFile(tokens);
  tokens.spend(file.initial.refresh_token);
  const upstream = await startUpstream({ modes: { 'gpt-5.4': { upgradeStatus: 500 } }, acceptToken: (token) => token.length > 0 && token !== file.initial.access_token });
  const clock = new SimulatedClock();
  clock.set(Date.UTC(2026, 2, 30, 16, 0, 0));
  const manager = createSessionManager({
    clock,
    jitterSeed: 7,
    endpoints: {
      [FAILING]: { wsUrl: upstream.wsUrl('gpt-5.4'), httpUrl: upstream.httpUrl, credentials: 'demo-token-a' },
      [HEALTHY]: { wsUrl: upstream.wsUrl('glm-5'), httpUrl: upstream.httpUrl, credentials: 'demo-token-b' },
      [SIGNED_OUT]: {
        wsUrl: upstream.wsUrl('gpt-5.4-mini'),
        httpUrl: upstream.httpUrl,
        credentials: oauthRefreshSource({ name: 'codex-login', tokenUrl: tokens.url, clientId: tokens.clientId, store: fileCredentialStore(file.path, { watchIntervalMs: 60_000 }) }),
      },
    },
  });
  const run: DemoRun = {
    manager,
    clock,
    upstream,
    httpTurns: 0,
    async turn(sessionId, endpointKey) {
      try {
        for await (const _event of manager.session(sessionId, endpointKey).stream({ model: MODELS[endpointKey], input: 'hello' })) {
          // drain
        }
        return true;
      } catch {
        return false;
      }
    },
    async advance(ms) {
      clock.increment(ms);
      for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    },
    async play() {
      manager.on('turn', (event) => {
        if (event.transport === 'http' && event.endpointKey === FAILING) run.httpTurns++;
      });
      const failing = ['agent-1', 'agent-2', 'agent-3', 'agent-10'];
      // Three rounds while the upgrade fails: every session moves to HTTP once, then stays.
      for (let round = 0; round < 3; round++) {
        for (const id of failing) await run.turn(id, FAILING);
        await run.turn('chat-1', HEALTHY);
        await run.advance(5_000);
      }
      await run.turn('agent-9', SIGNED_OUT);
      // The upstream heals; after the cooldown the next turn probes, opens, and the others follow.
      upstream.heal('gpt-5.4');
      await run.advance(10 * 60_000);
      for (let round = 0; round < 3; round++) {
        for (const id of failing) await run.turn(id, FAILING);
        await run.turn('chat-1', HEALTHY);
        await run.advance(30_000);
      }
      await run.advance(5 * 60_000);
    },
    async close() {
      await manager.close();
      await upstream.close();
      await tokens.close();
      await file.cleanup();
    },
  };
  return run;
}
