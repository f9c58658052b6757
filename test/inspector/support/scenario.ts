import { SimulatedClock } from 'xstate';
import { createSessionManager, type SessionManager } from '../../../src/index.js';
import { startUpstream, type Upstream } from '../../../src/testing/upstream.js';

/** A token distinctive enough to grep for in everything the inspector sends. */
export const SECRET_TOKEN = 'sk-inspector-test-DISTINCTIVE-7f3a9c21e5b84d06';
export const MINI_TOKEN = 'tok-mini-DISTINCTIVE-b0e1d2c3a4f5';

export const BAD = 'openai/gpt-5.4/acct-1';
export const GOOD = 'openai/gpt-5.4-mini/acct-1';

/** A manager on a SimulatedClock against a fake upstream whose `gpt-5.4` upgrade answers 500. */
export interface Scenario {
  readonly upstream: Upstream;
  readonly clock: SimulatedClock;
  readonly manager: SessionManager;
  /** One turn of `sessionId` on `endpointKey`, drained. */
  turn(sessionId: string, endpointKey: string): Promise<void>;
  /** Advance the simulated clock, letting promises settle. */
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

export async function startScenario(): Promise<Scenario> {
  const upstream = await startUpstream({ modes: { 'gpt-5.4': { upgradeStatus: 500 } } });
  const clock = new SimulatedClock();
  const manager = createSessionManager({
    clock,
    jitterSeed: 42,
    endpoints: {
      [BAD]: { wsUrl: upstream.wsUrl('gpt-5.4'), httpUrl: upstream.httpUrl, credentials: SECRET_TOKEN },
      [GOOD]: { wsUrl: upstream.wsUrl('gpt-5.4-mini'), httpUrl: upstream.httpUrl, credentials: MINI_TOKEN },
    },
  });
  const models: Record<string, string> = { [BAD]: 'gpt-5.4', [GOOD]: 'gpt-5.4-mini' };
  return {
    upstream,
    clock,
    manager,
    async turn(sessionId, endpointKey) {
      for await (const _event of manager.session(sessionId, endpointKey).stream({ model: models[endpointKey], input: 'hello' })) {
        // drain
      }
    },
    async advance(ms) {
      clock.increment(ms);
      await new Promise((resolve) => setImmediate(resolve));
    },
    async close() {
      await manager.close();
      await upstream.close();
    },
  };
}

/** Two sessions fall back on the 500 endpoint (one probe failed, one denied); one session is on a healthy WebSocket. */
export async function fallBack(scenario: Scenario): Promise<void> {
  await scenario.turn('s1', BAD);
  await scenario.turn('s2', BAD);
  await scenario.turn('s3', GOOD);
  await scenario.turn('s3', GOOD);
}
