import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createActor, fromCallback } from 'xstate';
import { classify, endpointEffectOf } from '../../../machines/classify.js';
import { createEndpointMachine } from '../../../machines/endpoint.js';
import type { Failure } from '../../../machines/failure.js';
import type { Outcome } from '../../../machines/outcome.js';
import { DEFAULT_POLICY } from '../../../machines/policy.js';
import { urlProblem } from '../../config.js';
import { humanDuration } from '../../logging.js';
import { SecretSet } from '../../secrets.js';
import { streamHttp } from '../../transports/http-sse.js';
import { openAIResponses } from '../../transports/openai-responses.js';
import { isTransportError, redactUrl } from '../../transports/transport-error.js';
import { openWebSocket } from '../../transports/websocket.js';
import { numberOption, parsing } from '../args.js';
import { stripControl, UsageError, type Output } from '../output.js';

/** Exit codes of `probe`. */
export const PROBE_EXIT = { webSocketWorks: 0, error: 1, usage: 2, httpOnly: 3, bothFailed: 4, httpNotTried: 5 } as const;

/** `resilient-stream probe --help`. */
export const PROBE_HELP = `Usage: resilient-stream probe <wsUrl> [--http URL] [--token-file FILE] [--model M] [--timeout-ms MS] [--json]

Performs one WebSocket upgrade and (with --http) one short streamed HTTP request against a
real endpoint; prints what happened (status, the headers that matter, timings), how the
failure classifier reads it, and what the charts would do next. Never prints the token: the
token and anything shaped like a secret are replaced by [redacted] in every line, including
the headers and error text the server sent back.

Options:
  --http URL          the HTTP/SSE URL of the same endpoint, to check the fallback
                      (without it, HTTP is not tried and the report says so)
  --token-file FILE   a file holding the bearer token (default: $RESILIENT_STREAM_TOKEN, else none)
  --model M           model for the HTTP request body (default gpt-5.4)
  --timeout-ms MS     upgrade and first-event deadline (default ${DEFAULT_POLICY.upgradeTimeoutMs})
  --json              print one JSON object with the same facts instead of prose
  -h, --help          this help

Exit codes: 0 the WebSocket works; 3 the WebSocket fails and HTTP works (turns would fall
back); 4 both fail; 5 the WebSocket fails and HTTP was not tried (no --http); 2 bad
arguments; 1 an unexpected error.`;

/** One upgrade or one HTTP request, as `probe --json` reports it. */
export interface ProbeAttempt {
  /** The URL tried, with any query credentials redacted. */
  readonly url: string;
  readonly ok: boolean;
  /** Time to the upgrade (WebSocket) or the first event (HTTP), or to the failure, in ms. */
  readonly ms: number;
  /** The HTTP status the server answered, when it answered one. */
  readonly status?: number;
  /** The response headers that matter (retry-after, www-authenticate, …), scrubbed. */
  readonly headers?: Readonly<Record<string, string>>;
  /** How the failure classifier reads the failure. */
  readonly failure?: Failure;
}

/** What the charts would do after this probe, as `probe --json` reports it. */
export interface ProbeNextStep {
  /** `use-websocket`, `cool-down`, `latch-http`, `refresh-credentials` or `fail-request`. */
  readonly action: 'use-websocket' | 'cool-down' | 'latch-http' | 'refresh-credentials' | 'fail-request';
  /** Where turns would go meanwhile: `websocket`, `http`, `http-untested` (no --http) or `fail`. */
  readonly turns: 'websocket' | 'http' | 'http-untested' | 'fail';
  /** For `cool-down` and `latch-http`: how long until the endpoint's next upgrade probe, in ms (one draw of the downward jitter). */
  readonly nextProbeInMs?: number;
  /** The same as a wall-clock time (ISO 8601). */
  readonly nextProbeAt?: string;
  /** The sentence the prose report prints. */
  readonly summary: string;
}

/** The object `probe --json` prints. */
export interface ProbeReport {
  readonly webSocket: ProbeAttempt;
  /** `null` when HTTP was not tried (no --http). */
  readonly http: ProbeAttempt | null;
  readonly next: ProbeNextStep;
  /** The command's exit code (see PROBE_HELP). */
  readonly exitCode: number;
}

/** Runs `resilient-stream probe`. */
export async function probeCommand(argv: readonly string[], out: Output): Promise<number> {
  const { values, positionals } = parsing('probe', () => parseArgs({ args: [...argv], strict: true, allowPositionals: true, options: {
      http: { type: 'string' },
      'token-file': { type: 'string' },
      model: { type: 'string' },
      'timeout-ms': { type: 'string' },
      json: { type: 'boolean' },
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
  // Everything the server sends back is untrusted and may echo the token: every line goes through this.
  const secrets = new SecretSet([token]);
  const safe = scrubbingOutput(out, secrets);
  try {
    const report = await runProbe(wsUrl, values.http, token, values.model ?? 'gpt-5.4', timeoutMs, secrets);
    if (values.json) safe.result(JSON.stringify(report, null, 2));
    else printReport(safe, report);
    return report.exitCode;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(secrets.scrub(message));
  }
}

async function runProbe(wsUrl: string, httpUrl: string | undefined, token: string, model: string, timeoutMs: number, secrets: SecretSet): Promise<ProbeReport> {
  const webSocket = scrubAttempt(await probeWebSocket(wsUrl, token, timeoutMs), secrets);
  const http = httpUrl === undefined ? null : scrubAttempt(await probeHttp(httpUrl, token, model, timeoutMs), secrets);
  const next = nextStep(webSocket, http);
  const exitCode = webSocket.ok ? PROBE_EXIT.webSocketWorks : http === null ? PROBE_EXIT.httpNotTried : http.ok ? PROBE_EXIT.httpOnly : PROBE_EXIT.bothFailed;
  return { webSocket, http, next: { ...next, summary: secrets.scrub(next.summary) }, exitCode };
}

function printReport(out: Output, report: ProbeReport): void {
  out.result(out.bold(`WebSocket upgrade to ${report.webSocket.url}`));
  printAttempt(out, report.webSocket);
  out.result('');
  if (report.http) {
    out.result(out.bold(`HTTP request to ${report.http.url}`));
    printAttempt(out, report.http);
  } else {
    out.result(out.bold('HTTP'));
    out.result(`  ${out.yellow('not tried')}: pass --http URL to check the fallback`);
  }
  out.result('');
  out.result(out.bold('What resilient-stream would do'));
  out.result(`  ${report.next.summary}`);
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

async function probeWebSocket(url: string, token: string, timeoutMs: number): Promise<ProbeAttempt> {
  const started = performance.now();
  try {
    const connection = await openWebSocket({ url, token, upgradeTimeoutMs: timeoutMs, pingIntervalMs: 0 });
    const ms = performance.now() - started;
    connection.close();
    return { url: redactUrl(url), ok: true, ms: round(ms), status: 101 };
  } catch (error) {
    return failed(url, error, performance.now() - started, 'upgrade');
  }
}

async function probeHttp(url: string, token: string, model: string, timeoutMs: number): Promise<ProbeAttempt> {
  const started = performance.now();
  const controller = new AbortController();
  try {
    const body = { model, input: 'ping', max_output_tokens: 16 };
    for await (const _event of streamHttp({ url, token, body, protocol: openAIResponses, firstEventTimeoutMs: timeoutMs, idleTimeoutMs: timeoutMs, signal: controller.signal })) {
      // The first event proves the fallback works; do not spend the whole response.
      break;
    }
    return { url: redactUrl(url), ok: true, ms: round(performance.now() - started), status: 200 };
  } catch (error) {
    return failed(url, error, performance.now() - started, 'request');
  } finally {
    controller.abort();
  }
}

function failed(url: string, error: unknown, ms: number, phase: 'upgrade' | 'request'): ProbeAttempt {
  const outcome: Outcome = isTransportError(error) ? error.outcome : { kind: 'network', code: 'UNKNOWN', phase };
  const status = 'status' in outcome && typeof outcome.status === 'number' ? outcome.status : undefined;
  return {
    url: redactUrl(url),
    ok: false,
    ms: round(ms),
    ...(status !== undefined ? { status } : {}),
    ...('headers' in outcome ? { headers: outcome.headers } : {}),
    failure: classify(outcome, Date.now()),
  };
}

/** The attempt with every string the server could have influenced scrubbed of the token and secret shapes. */
function scrubAttempt(attempt: ProbeAttempt, secrets: SecretSet): ProbeAttempt {
  const clean = (text: string) => stripControl(secrets.scrub(text));
  const headers = attempt.headers && Object.fromEntries(Object.entries(attempt.headers).map(([name, value]) => [clean(name), clean(value)]));
  const failure = attempt.failure && {
    ...attempt.failure,
    summary: clean(attempt.failure.summary),
    ...(attempt.failure.code !== undefined ? { code: clean(attempt.failure.code) } : {}),
  };
  return { ...attempt, url: clean(attempt.url), ...(headers ? { headers } : {}), ...(failure ? { failure } : {}) };
}

/** An {@link Output} that scrubs secrets and control characters from every line before it is written. */
function scrubbingOutput(out: Output, secrets: SecretSet): Output {
  return {
    ...out,
    result: (line) => out.result(secrets.scrub(line)),
    progress: (line) => out.progress(secrets.scrub(line)),
  };
}

function printAttempt(out: Output, attempt: ProbeAttempt): void {
  if (attempt.ok) {
    out.result(`  ${out.green('ok')} in ${attempt.ms.toFixed(1)} ms`);
    return;
  }
  const failure = attempt.failure!;
  out.result(`  ${out.red('failed')} after ${attempt.ms.toFixed(1)} ms: ${failure.summary}`);
  for (const [name, value] of Object.entries(attempt.headers ?? {})) out.result(`  ${name}: ${value}`);
  out.result(`  classified as ${out.bold(failure.class)}${failure.retryAfterMs !== undefined ? ` (Retry-After ${humanDuration(failure.retryAfterMs)})` : ''}`);
}

/** Asks the real endpoint chart what it would do after this upgrade outcome. */
function nextStep(ws: ProbeAttempt, http: ProbeAttempt | null): Omit<ProbeNextStep, 'summary'> & { summary: string } {
  if (ws.ok) return { action: 'use-websocket', turns: 'websocket', summary: 'use the WebSocket: one socket per session, reused across turns' };
  const failure = ws.failure!;
  const turns: ProbeNextStep['turns'] = http === null ? 'http-untested' : http.ok ? 'http' : 'fail';
  const httpNote =
    http === null
      ? 'turns would go over HTTP, which was not tried (pass --http URL to check it)'
      : http.ok
        ? 'turns over HTTP (which works)'
        : `turns fail: HTTP fails too (${http.failure!.class})`;
  if (failure.class === 'auth') return { action: 'refresh-credentials', turns, summary: `refresh the credentials once and retry the upgrade; a second 401 cools the endpoint down; ${httpNote}` };
  const effect = endpointEffectOf(failure);
  if (effect === 'none') return { action: 'fail-request', turns: 'fail', summary: `fail this request (${failure.class}); the transport is not to blame` };
  const endpoint = createActor(createEndpointMachine(), { input: { endpointKey: 'probe', policy: DEFAULT_POLICY, jitterSeed: 1 } }).start();
  const session = createActor(fromCallback(() => () => {})).start();
  endpoint.send({ type: 'PROBE_REQUESTED', sessionId: 'probe', session, atMs: 0 });
  endpoint.send({ type: 'UPGRADE_FAILED', sessionId: 'probe', failure, atMs: 0 });
  const snapshot = endpoint.getSnapshot();
  const untilMs = snapshot.context.cooldownUntilMs ?? 0;
  endpoint.stop();
  session.stop();
  const latched = snapshot.matches('unsupported');
  const verb = latched ? 'latch HTTP for' : 'cool down';
  return {
    action: latched ? 'latch-http' : 'cool-down',
    turns,
    nextProbeInMs: untilMs,
    nextProbeAt: new Date(Date.now() + untilMs).toISOString(),
    summary: `${verb} ${humanDuration(untilMs)} (no upgrade from any session until then), ${httpNote}`,
  };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
