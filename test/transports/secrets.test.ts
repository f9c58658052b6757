import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspect } from 'node:util';
import { startUpstream, type Upstream } from '../../src/testing/upstream.js';
import { streamHttp } from '../../src/transports/http-sse.js';
import { openAIResponses } from '../../src/transports/openai-responses.js';
import { openWebSocket } from '../../src/transports/websocket.js';
import { collect } from '../support/transport-helpers.js';

const TOKEN = 'sk-LEAK-CANARY-TOKEN-7f3a';
const QUERY_SECRET = 'QUERY-CANARY-91c2';
const USER_SECRET = 'USERINFO-CANARY-55d0';
const CANARIES = [TOKEN, QUERY_SECRET, USER_SECRET];
// Deadlines: a case whose server answers gets seconds, so a loaded machine cannot turn its
// outcome into a timeout; only the cases whose server never answers (hang, stall) get a short
// deadline, and their outcome is a timeout however loaded the machine is.
const ANSWERS_MS = 10_000;
const NEVER_ANSWERS_MS = 300;
const turnOptions = { protocol: openAIResponses, firstEventTimeoutMs: ANSWERS_MS, idleTimeoutMs: ANSWERS_MS };
const hangingTurnOptions = { protocol: openAIResponses, firstEventTimeoutMs: NEVER_ANSWERS_MS, idleTimeoutMs: NEVER_ANSWERS_MS };

let upstream: Upstream;
let deadPort: number;

beforeAll(async () => {
  const dead = await startUpstream();
  deadPort = dead.port;
  await dead.close();
  upstream = await startUpstream({
    acceptToken: (token) => token === TOKEN,
    modes: {
      'upgrade-500': { upgradeStatus: 500, retryAfterSeconds: 1 },
      'upgrade-reset': 'reset',
      'upgrade-hang': 'hang',
      'close-1011': { closeAfterFirstEvent: 1011 },
      malformed: { turn: { malformedAfterEvents: 1 } },
      stall: { turn: { stallAfterEvents: 1 } },
      'http-429': { httpStatus: 429, retryAfterSeconds: 3 },
      'http-reset': { http: 'reset' },
      'http-hang': { http: 'hang' },
    },
  });
});
afterAll(async () => {
  await upstream.close();
});

/** Everything a caller could log about an error: message, stack, JSON, outcome, and the full inspected cause chain. */
function everythingAbout(error: unknown): string {
  return [String(error), (error as Error)?.stack, JSON.stringify(error), JSON.stringify((error as { outcome?: unknown })?.outcome), inspect(error, { depth: 10 })].join('\n');
}

function wsUrl(model: string, port = upstream.port): string {
  return `ws://user:${USER_SECRET}@127.0.0.1:${port}/v1/responses?model=${model}&api_key=${QUERY_SECRET}`;
}
function httpUrl(port = upstream.port): string {
  return `http://127.0.0.1:${port}/v1/responses?api_key=${QUERY_SECRET}`;
}

/** Whether the server never answers this case (so a short deadline decides it). */
function hangs(model: string, signal?: AbortSignal): boolean {
  return signal === undefined && ['upgrade-hang', 'stall', 'http-hang'].includes(model);
}

async function wsFailure(model: string, port?: number, signal?: AbortSignal): Promise<unknown> {
  const deadlines = hangs(model, signal) ? hangingTurnOptions : turnOptions;
  try {
    const connection = await openWebSocket({ url: wsUrl(model, port), token: TOKEN, upgradeTimeoutMs: deadlines.firstEventTimeoutMs, pingIntervalMs: 0 });
    const { error } = await collect(connection.streamTurn(openAIResponses.webSocketFrame({ model }), { ...deadlines, signal }));
    connection.close();
    return error;
  } catch (error) {
    return error;
  }
}

async function httpFailure(model: string, url = httpUrl(), token = TOKEN, signal?: AbortSignal): Promise<unknown> {
  const deadlines = hangs(model, signal) ? hangingTurnOptions : turnOptions;
  return (await collect(streamHttp({ url, token, body: { model }, ...deadlines, signal }))).error;
}

describe('no secret reaches an error', () => {
  it('in any WebSocket or HTTP failure', async () => {
    const errors = [
      await wsFailure('upgrade-500'),
      await wsFailure('upgrade-reset'),
      await wsFailure('upgrade-hang'),
      await wsFailure('close-1011'),
      await wsFailure('malformed'),
      await wsFailure('stall'),
      await wsFailure('stall', undefined, AbortSignal.timeout(20)),
      await wsFailure('any', deadPort),
      await httpFailure('http-429'),
      await httpFailure('http-reset'),
      await httpFailure('http-hang'),
      await httpFailure('malformed'),
      await httpFailure('stall'),
      await httpFailure('any', httpUrl(deadPort)),
      await httpFailure('any', httpUrl(), 'sk-LEAK-CANARY-TOKEN-7f3a-wrong'),
      await httpFailure('any', `http://user:${USER_SECRET}@127.0.0.1:${upstream.port}/v1/responses?k=${QUERY_SECRET}`),
      await httpFailure('any', `http://%zz?${QUERY_SECRET}`),
      await httpFailure('stall', httpUrl(), TOKEN, AbortSignal.abort()),
      await httpFailure('stall', httpUrl(), TOKEN, AbortSignal.timeout(20)),
    ];
    let rotated: unknown;
    try {
      await openWebSocket({ url: wsUrl('m'), token: `${TOKEN}-old`, upgradeTimeoutMs: ANSWERS_MS });
    } catch (error) {
      rotated = error;
    }
    errors.push(rotated);

    for (const error of errors) {
      expect(error).toBeInstanceOf(Error);
      const text = everythingAbout(error);
      for (const canary of CANARIES) expect(text).not.toContain(canary);
    }
    const kinds = errors.map((error) => (error as { outcome: { kind: string } }).outcome.kind);
    expect(new Set(kinds)).toEqual(new Set(['upgrade-rejected', 'network', 'timeout', 'closed', 'protocol', 'aborted', 'http-rejected']));
    // Each case's own kind, so a case that changed kind under load cannot hide behind another.
    expect(kinds).toEqual([
      'upgrade-rejected', 'network', 'timeout', 'closed', 'protocol', 'timeout', 'aborted', 'network',
      'http-rejected', 'network', 'timeout', 'protocol', 'timeout', 'network', 'http-rejected', 'network', 'network', 'aborted', 'aborted',
      'upgrade-rejected',
    ]);
  });
});
