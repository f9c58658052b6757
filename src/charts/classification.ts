import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { classify, endpointEffectOf, mayRetryOverHttp } from '../../machines/classify.js';
import type { Failure } from '../../machines/failure.js';
import type { Outcome } from '../../machines/outcome.js';
import { DEFAULT_POLICY } from '../../machines/policy.js';

/**
 * The classification table of docs/design.md, computed from `machines/classify.ts`: the class
 * and code come from `classify`, the endpoint column from `endpointEffectOf`, the turn column
 * from `mayRetryOverHttp`. Only the words saying where a failure was seen are written here;
 * they follow what `machines/session.ts` does with each kind of report.
 *
 * `test/machines/classify.test.ts` fails when the table in docs/design.md differs from this.
 */

/** Where the failure was seen, which decides who hears about it. */
export type Where =
  /** The WebSocket upgrade (`SOCKET.FAILED`, or the upgrade timeout): reported to the endpoint as `UPGRADE_FAILED`. */
  | 'upgrade'
  /** The HTTP streaming request (`TURN_FAILED` on HTTP): the endpoint chart is not told. */
  | 'http'
  /** The open socket closed (`SOCKET.CLOSED` → `CONNECTION_LOST`; the turn on it gets `TURN_FAILED`). */
  | 'socket'
  /** Inside a stream on either transport (`TURN_FAILED`): the endpoint chart is not told. */
  | 'stream'
  /** Inside a stream, after its first event: never replayed. */
  | 'stream-after-first-event'
  /** The caller. */
  | 'caller';

/** One row of the table. */
export interface ClassificationCase {
  readonly happened: string;
  readonly where: Where;
  readonly outcome: Outcome;
}

const upgrade = (status: number): ClassificationCase => ({
  happened: `upgrade answered ${status}`,
  where: 'upgrade',
  outcome: { kind: 'upgrade-rejected', status, headers: {} },
});

const http = (status: number): ClassificationCase => ({
  happened: `HTTP request answered ${status}`,
  where: 'http',
  outcome: { kind: 'http-rejected', status, headers: {} },
});

const closed = (code: number, note: string): ClassificationCase => ({
  happened: `socket closed ${code} (${note})`,
  where: 'socket',
  outcome: { kind: 'closed', code, afterFirstEvent: false },
});

/** Every row of the table, in the order of docs/design.md. */
export const CLASSIFICATION_CASES: readonly ClassificationCase[] = [
  ...[401, 403, 404, 426, 400, 429, 500, 502, 503, 504, 408].map(upgrade),
  ...[400, 401, 403, 404, 408, 413, 422, 429, 500, 503].map(http),
  ...(['ECONNRESET', 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'] as const).map(
    (code): ClassificationCase => ({ happened: `upgrade failed: ${code}`, where: 'upgrade', outcome: { kind: 'network', code, phase: 'upgrade' } }),
  ),
  { happened: 'HTTP request failed: ECONNRESET (or any socket error)', where: 'http', outcome: { kind: 'network', code: 'ECONNRESET', phase: 'request' } },
  { happened: 'stream failed: ECONNRESET (either transport)', where: 'stream', outcome: { kind: 'network', code: 'ECONNRESET', phase: 'stream' } },
  { happened: `upgrade timed out (upgradeTimeoutMs, ${DEFAULT_POLICY.upgradeTimeoutMs / 1000} s)`, where: 'upgrade', outcome: { kind: 'timeout', phase: 'upgrade' } },
  { happened: 'no first event in time', where: 'stream', outcome: { kind: 'timeout', phase: 'first-event' } },
  { happened: 'stream idle too long (after the first event)', where: 'stream-after-first-event', outcome: { kind: 'timeout', phase: 'idle' } },
  closed(1000, 'normal, but mid-turn'),
  closed(1001, 'going away'),
  closed(1006, 'no close frame: a local observation'),
  closed(1008, 'policy violation'),
  closed(1009, 'message too big'),
  closed(1011, 'internal error'),
  closed(1012, 'service restart'),
  closed(1013, 'try again later'),
  closed(1014, 'bad gateway'),
  closed(4000, 'application code, unknown'),
  { happened: 'provider error `rate_limit_exceeded` or status 429 (a "try again in N s" in its message is its Retry-After)', where: 'stream', outcome: { kind: 'provider-error', code: 'rate_limit_exceeded' } },
  { happened: 'provider error with status 401 (`invalid_api_key`)', where: 'stream', outcome: { kind: 'provider-error', code: 'invalid_api_key', status: 401 } },
  { happened: 'provider error `server_error` or status ≥ 500', where: 'stream', outcome: { kind: 'provider-error', code: 'server_error' } },
  { happened: 'any other provider error (`invalid_request_error`, `context_length_exceeded`, none)', where: 'stream', outcome: { kind: 'provider-error', code: 'invalid_request_error' } },
  { happened: 'unparseable frame or SSE event', where: 'stream', outcome: { kind: 'protocol', detail: 'bad frame' } },
  { happened: 'request body cannot be encoded (circular, BigInt)', where: 'stream', outcome: { kind: 'request-invalid', detail: 'circular structure' } },
  { happened: 'the credential source threw (no token)', where: 'stream', outcome: { kind: 'credentials-unavailable', detail: 'unreadable file' } },
  { happened: 'caller aborted', where: 'caller', outcome: { kind: 'aborted' } },
];

const hours = (ms: number): string => `${ms / 3_600_000} h`;
const seconds = (ms: number): string => `${ms / 1000} s`;

function endpointColumn(where: Where, failure: Failure): string {
  switch (where) {
    case 'upgrade': {
      const effect = endpointEffectOf(failure);
      if (failure.class === 'auth') return 'first 401: probe released, no cooldown (refresh); second: cooldown';
      if (effect === 'latch-http') return `latch HTTP for ${hours(DEFAULT_POLICY.unsupportedTtlMs)}`;
      if (effect === 'cooldown') return failure.class === 'rate-limited' ? 'cooldown, Retry-After as a floor' : 'cooldown';
      return 'none';
    }
    case 'socket':
      return `cooldown if the socket was up < ${seconds(DEFAULT_POLICY.minUptimeMs)} (unless the class calls for no cooldown, e.g. 1008/1009), else none`;
    case 'http':
    case 'stream':
    case 'stream-after-first-event':
      return 'not told';
    case 'caller':
      return 'none';
  }
}

function turnColumn(where: Where, failure: Failure, outcome: Outcome): string {
  const retry = mayRetryOverHttp(failure, outcome.kind);
  switch (where) {
    case 'upgrade':
      return failure.class === 'auth'
        ? `refresh once, then upgrade again; the turn waits ≤ ${seconds(DEFAULT_POLICY.upgradeBudgetMs)}, else HTTP`
        : `goes over HTTP (waits ≤ ${seconds(DEFAULT_POLICY.upgradeBudgetMs)} for the upgrade)`;
    case 'http':
      return failure.class === 'auth' ? 'refresh once (single flight), send once more' : 'fails';
    case 'socket':
    case 'stream':
      if (outcome.kind === 'credentials-unavailable') return 'fails (no token, nothing sent)';
      if (failure.class === 'auth') return 'before the first event: refresh once (single flight), send once more (over HTTP if it was a socket); otherwise fails';
      return retry ? 'WebSocket before first event: sent once more over HTTP; otherwise fails' : 'fails';
    case 'stream-after-first-event':
      return 'fails (never replayed after the first event)';
    case 'caller':
      return 'ends, cancelled';
  }
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The rows as data: what happened, class, code, endpoint effect, turn effect. */
export function classificationRows(): { happened: string; class: string; code: string; endpoint: string; turn: string }[] {
  return CLASSIFICATION_CASES.map((row) => {
    const failure = classify(row.outcome);
    return {
      happened: row.happened,
      class: failure.class,
      code: failure.code ?? '',
      endpoint: endpointColumn(row.where, failure),
      turn: turnColumn(row.where, failure, row.outcome),
    };
  });
}

/** The Markdown table, exactly as docs/design.md embeds it between its classification markers. */
export function classificationTable(): string {
  const lines = ['| what happened | class | code | endpoint chart | turn |', '|---|---|---|---|---|'];
  for (const row of classificationRows()) {
    lines.push(`| ${cell(row.happened)} | \`${row.class}\` | \`${cell(row.code)}\` | ${cell(row.endpoint)} | ${cell(row.turn)} |`);
  }
  return lines.join('\n');
}

/** Markers around the generated table in docs/design.md. */
export const TABLE_START = '<!-- classification-table:start (generated from machines/classify.ts by src/charts/classification.ts) -->';
export const TABLE_END = '<!-- classification-table:end -->';

/** Replaces the marked table in a design document's text; throws when the markers are missing. */
export function withClassificationTable(text: string): string {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error('docs/design.md has no classification-table markers');
  return `${text.slice(0, start + TABLE_START.length)}\n${classificationTable()}\n${text.slice(end)}`;
}

/** Rewrites the marked table in the design document at `path` if it changed. Returns true when the file was written. */
export async function updateDesignTable(path = 'docs/design.md'): Promise<boolean> {
  if (!existsSync(path)) return false;
  const before = await readFile(path, 'utf8');
  const after = withClassificationTable(before);
  if (after === before) return false;
  await writeFile(path, after, 'utf8');
  return true;
}
