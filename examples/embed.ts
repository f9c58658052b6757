import { createSessionManager, TurnFailedError } from 'resilient-stream';
import { startUpstream } from 'resilient-stream/testing';

// A fake OpenAI Responses upstream on 127.0.0.1 whose WebSocket upgrade answers HTTP 500 (a
// testing aid from 'resilient-stream/testing'). In production, use your provider's URLs.
const upstream = await startUpstream({ modes: { 'gpt-5.4': { upgradeStatus: 500 } } });

const manager = createSessionManager({
  endpoints: {
    // One key per provider + model + account: each key has its own health.
    'openai/gpt-5.4/acct-1': {
      wsUrl: upstream.wsUrl('gpt-5.4'), // e.g. 'wss://api.openai.com/v1/responses'
      httpUrl: upstream.httpUrl, // e.g. 'https://api.openai.com/v1/responses'
      credentials: process.env['OPENAI_API_KEY'] ?? 'sk-example-not-a-real-key', // or oauthRefreshSource({ … })
    },
  },
  logger: console, // or pino(): one line per endpoint state change, never one per turn
});
manager.on('fallback', (e) => console.log(`session ${e.sessionId} on HTTP: ${e.reason}`));
manager.on('reauth-required', (e) => console.error(`sign in again: ${e.summary}`));

export async function runTurn(sessionId: string, body: Record<string, unknown>, signal?: AbortSignal): Promise<string> {
  const session = manager.session(sessionId, 'openai/gpt-5.4/acct-1');
  let text = '';
  try {
    for await (const event of session.stream(body, { signal })) {
      if (event.type === 'response.output_text.delta') text += String(event['delta']);
    }
  } catch (error) {
    if (error instanceof TurnFailedError) console.error(`turn failed (${error.failure.class}): ${error.failure.summary}`);
    throw error;
  }
  return text;
}
export const endSession = (sessionId: string) => manager.release(sessionId); // keeps the endpoint's cooldown
export const shutdown = () => manager.close();

// Two turns of one session: the upgrade fails once, both turns complete over HTTP, and the
// second turn does not try the WebSocket again (the endpoint is cooling down).
console.log(await runTurn('session-1', { model: 'gpt-5.4', input: 'Hello' }));
console.log(await runTurn('session-1', { model: 'gpt-5.4', input: 'Hello again' }));
console.log(`upgrades the upstream saw: ${upstream.upgradeAttempts}`);
endSession('session-1');
await shutdown();
await upstream.close();
