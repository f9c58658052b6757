import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { createActor, fromCallback } from 'xstate';
import { classify, endpointEffectOf } from '../../../machines/classify.js';
import { createEndpointMachine } from '../../../machines/endpoint.js';
import type { Failure } from '../../../machines/failure.js';
import type { Outcome } from '../../../machines/outcome.js';
import { DEFAULT_POLICY } from '../../../machines/policy.js';
import { urlProblem } from '../../config.js';
import { humanDuration } from '../../logging.js';
import { streamHttp } from '../../transports/http-sse.js';
import { openAIResponses } from '../../transports/openai-responses.js';
import { isTransportError, redactUrl } from '../../transports/transport-error.js';
import { openWebSocket } from '../../transports/websocket.js';
import { parseArgs } from 'node:util';
import { numberOption, parsing } from '../args.js';
import { UsageError, type Output } from '../output.js';

/** Exit codes of `probe`. */
export const PROBE_EXIT = { webSocketWorks: 0, error: 1, usage: 2, httpOnly: 3, bothFailed: 4 } as const;

/** `resilient-stream probe --help`. */
export const PROBE_HELP = `Usage: resilient-stream probe <wsUrl> [--http URL] [--token-file FILE] [--model M] [--timeout-ms MS]

Performs one WebSocket upgrade and (with --http) one short streamed HTTP request against a
real endpoint; prints what happened (status, the headers that matter, timings), how the
failure classifier reads it, and what the charts would do next. Never prints the token.

Options:
  --http URL          the HTTP/SSE URL of the same endpoint, to check the fallback
  --token-file FILE   a file holding the bearer token (default: $RESILIENT_STREAM_TOKEN, else none)
  --model M           model for the HTTP request body (default gpt-5.4)
  --timeout-ms MS     upgrade and first-event deadline (default ${DEFAULT_POLICY.upgradeTimeoutMs})
  -h, --help          this help

Exit codes: 0 the WebSocket works; 3 the WebSocket fails but HTTP works (turns would fall
back); 4 both fail; 2 bad arguments; 1 an unexpected error.`;

interface Attempt {
  readonly ok: boolean;
  readonly ms: number;
  readonly outcome?: Outcome;
  readonly failure?: Failure;
}

/** Runs `resilient-stream probe`. */
export async function probeCommand(argv: readonly string[], out: Output): Promise<number> {
  const { values, positionals } = parsing('probe', () => parseArgs({ args: [...argv], strict: true, allowPositionals: true, options: {
      http: { type: 'string' },
      'token-file': { type: 'string' },
      model: { type: 'string' },
      'timeout-ms': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    } }));
  if (values.help) {
    out.result(PROBE_HELP);
    return 0;
  }
  const wsUrl = positionals[0];
  if (wsUrl === undefined) throw new UsageError('missing <wsUrl>, e.g. wss://api.example.com/v1/responses');
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  checkUrl('<wsUrl>', wsUrl, ['ws:', 'wss:']);
  if (values.http !== undefined) checkUrl('--http', values.http, ['http:', 'https:']);
  const timeoutMs = numberOption('timeout-ms', values['timeout-ms'], DEFAULT_POLICY.upgradeTimeoutMs, { min: 1, max: 600_000 });
  const token = await readToken(values['token-file']);

  out.result(out.bold(`WebSocket upgrade to ${redactUrl(wsUrl)}`));
  const ws = await probeWebSocket(wsUrl, token, timeoutMs);
  report(out, ws);
  let http: Attempt | undefined;
  if (values.http !== undefined) {
    out.result('');
    out.result(out.bold(`HTTP request to ${redactUrl(values.http)}`));
    http = await probeHttp(values.http, token, values.model ?? 'gpt-5.4', timeoutMs);
    report(out, http);
  }
  out.result('');
  out.result(out.bold('What resilient-stream would do'));
  out.result(`  ${nextStep(ws, http)}`);
  if (ws.ok) return PROBE_EXIT.webSocketWorks;
  if (http?.ok) return PROBE_EXIT.httpOnly;
  return http ? PROBE_EXIT.bothFailed : PROBE_EXIT.httpOnly;
}

function checkUrl(name: string, value: string, schemes: string[]): void {
  const problem = urlProblem(value, schemes);
  if (problem) throw new UsageError(`${name} ${problem}`);
}

async function readToken(file: string | undefined): Promise<string> {
  if (file === undefined) return process.env['RESILIENT_STREAM_TOKEN'] ?? '';
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (error) {
    throw new UsageError(`--token-file: cannot read ${JSON.stringify(file)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

async function probeWebSocket(url: string, token: string, timeoutMs: number): Promise<Attempt> {
  const started = performance.now();
  try {
    const connection = await openWebSocket({ url, token, upgradeTimeoutMs: timeoutMs, pingIntervalMs: 0 });
    const ms = performance.now() - started;
    connection.close();
    return { ok: true, ms };
  } catch (error) {
    return failed(error, performance.now() - started, 'upgrade');
  }
}

async function probeHttp(url: string, token: string, model: string, timeoutMs: number): Promise<Attempt> {
  const started = performance.now();
  const controller = new AbortController();
  try {
    const body = { model, input: 'ping', max_output_tokens: 16 };
    for await (const _event of streamHttp({ url, token, body, protocol: openAIResponses, firstEventTimeoutMs: timeoutMs, idleTimeoutMs: timeoutMs, signal: controller.signal })) {
      // The first event proves the fallback works; do not spend the whole response.
      break;
    }
    return { ok: true, ms: performance.now() - started };
  } catch (error) {
    return failed(error, performance.now() - started, 'request');
  } finally {
    controller.abort();
  }
}

function failed(error: unknown, ms: number, phase: 'upgrade' | 'request'): Attempt {
  const outcome: Outcome = isTransportError(error) ? error.outcome : { kind: 'network', code: 'UNKNOWN', phase };
  return { ok: false, ms, outcome, failure: classify(outcome, Date.now()) };
}

function report(out: Output, attempt: Attempt): void {
  if (attempt.ok) {
    out.result(`  ${out.green('ok')} in ${attempt.ms.toFixed(1)} ms`);
    return;
  }
  const outcome = attempt.outcome!;
  const failure = attempt.failure!;
  out.result(`  ${out.red('failed')} after ${attempt.ms.toFixed(1)} ms: ${failure.summary}`);
  if ('headers' in outcome) {
    for (const [name, value] of Object.entries(outcome.headers)) out.result(`  ${name}: ${value}`);
  }
  out.result(`  classified as ${out.bold(failure.class)}${failure.retryAfterMs !== undefined ? ` (Retry-After ${humanDuration(failure.retryAfterMs)})` : ''}`);
}

/** Asks the real endpoint chart what it would do after this upgrade outcome. */
function nextStep(ws: Attempt, http: Attempt | undefined): string {
  if (ws.ok) return 'use the WebSocket: one socket per session, reused across turns';
  const failure = ws.failure!;
  const httpNote = http === undefined ? 'turns over HTTP' : http.ok ? 'turns over HTTP (which works)' : `turns fail: HTTP fails too (${http.failure!.class})`;
  if (failure.class === 'auth') return `refresh the credentials once and retry the upgrade; a second 401 cools the endpoint down; ${httpNote}`;
  const effect = endpointEffectOf(failure);
  if (effect === 'none') return `fail this request (${failure.class}); the transport is not to blame`;
  const endpoint = createActor(createEndpointMachine(), { input: { endpointKey: 'probe', policy: DEFAULT_POLICY, jitterSeed: 1 } }).start();
  const session = createActor(fromCallback(() => () => {})).start();
  endpoint.send({ type: 'PROBE_REQUESTED', sessionId: 'probe', session, atMs: 0 });
  endpoint.send({ type: 'UPGRADE_FAILED', sessionId: 'probe', failure, atMs: 0 });
  const snapshot = endpoint.getSnapshot();
  const untilMs = snapshot.context.cooldownUntilMs ?? 0;
  endpoint.stop();
  session.stop();
  const verb = snapshot.matches('unsupported') ? 'latch HTTP for' : 'cool down';
  return `${verb} ${humanDuration(untilMs)} (no upgrade from any session until then), ${httpNote}`;
}
