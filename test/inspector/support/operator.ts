import { SimulatedClock } from 'xstate';
import { createSessionManager, type SessionManager } from '../../../src/index.js';
import { startUpstream, type Upstream } from '../../../src/testing/upstream.js';

/** A token distinctive enough to grep for in everything the page shows. */
export const BAD_TOKEN = 'sk-operator-test-DISTINCTIVE-0d9e8f7a6b5c';
/** One token shared by two endpoints: the credentials panel must show one neutral row for it. */
export const SHARED_TOKEN = 'sk-operator-shared-DISTINCTIVE-1a2b3c4d5e6f';

export const BAD = 'openai/gpt-5.4/acct-1';
export const GOOD = 'openai/gpt-5.4-mini/acct-1';
export const BATCH = 'openai/gpt-5.4-mini/acct-2';
export const AGENTS = Array.from({ length: 12 }, (_, i) => `agent-${i + 1}`);
export const CHATS = Array.from({ length: 4 }, (_, i) => `chat-${i + 1}`);

/**
 * What the on-call engineer opens at 3 a.m.: 12 sessions on an endpoint whose WebSocket
 * upgrade answers 500, 4 on a healthy one, one batch session on a third endpoint that shares
 * the healthy one's token; a turn per session every simulated minute, on a SimulatedClock
 * whose start is a plausible instant (so a time of day would be misleading).
 */
export interface OperatorRun {
  readonly upstream: Upstream;
  readonly clock: SimulatedClock;
  readonly manager: SessionManager;
  readonly startMs: number;
  turn(sessionId: string, endpointKey: string): Promise<void>;
  /** Rounds of turns, one simulated minute apart. */
  rounds(count: number): Promise<void>;
  advance(ms: number): Promise<void>;
  close(): Promise<void>;
}

const MODEL: Record<string, string> = { [BAD]: 'gpt-5.4', [GOOD]: 'gpt-5.4-mini', [BATCH]: 'gpt-5.4-mini' };

export async function startOperatorRun(): Promise<OperatorRun> {
  const upstream = await startUpstream({ modes: { 'gpt-5.4': { upgradeStatus: 500 } } });
  const clock = new SimulatedClock();
  const startMs = Date.UTC(2026, 2, 30, 15, 58, 0);
  clock.set(startMs);
  const manager = createSessionManager({
    clock,
    jitterSeed: 7,
    endpoints: {
      [BAD]: { wsUrl: upstream.wsUrl('gpt-5.4'), httpUrl: upstream.httpUrl, credentials: BAD_TOKEN },
      [GOOD]: { wsUrl: upstream.wsUrl('gpt-5.4-mini'), httpUrl: upstream.httpUrl, credentials: SHARED_TOKEN },
      [BATCH]: { wsUrl: upstream.wsUrl('gpt-5.4-mini'), httpUrl: upstream.httpUrl, credentials: SHARED_TOKEN },
    },
  });
  const run: OperatorRun = {
    upstream,
    clock,
    manager,
    startMs,
    async turn(sessionId, endpointKey) {
      for await (const _event of manager.session(sessionId, endpointKey).stream({ model: MODEL[endpointKey], input: 'hello' })) {
        // drain
      }
    },
    async rounds(count) {
      for (let round = 0; round < count; round++) {
        await Promise.all([...AGENTS.map((id) => run.turn(id, BAD)), ...CHATS.map((id) => run.turn(id, GOOD)), run.turn('batch-1', BATCH)]);
        await run.advance(60_000);
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
  return run;
}
