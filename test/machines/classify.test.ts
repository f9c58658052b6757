import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  classify,
  endpointEffectOf,
  mayRetryOverHttp,
  pickRelevantHeaders,
  RELEVANT_HEADERS,
  retryAfterMsFrom,
  type Failure,
  type FailureClass,
  type Outcome,
} from '../../machines/index.js';
import { classificationTable, TABLE_END, TABLE_START } from '../../src/charts/classification.js';

/**
 * Pins every row of the failure classifier (machines/classify.ts). docs/design.md reproduces
 * the table; the last block checks that copy against the code.
 */

const upgrade = (status: number, headers: Record<string, string> = {}): Outcome => ({ kind: 'upgrade-rejected', status, headers });
const http = (status: number, headers: Record<string, string> = {}): Outcome => ({ kind: 'http-rejected', status, headers });

describe('upgrade answered a status other than 101', () => {
  it.each<[number, FailureClass]>([
    [401, 'auth'],
    [403, 'unsupported'],
    [404, 'unsupported'],
    [426, 'unsupported'],
    [400, 'unsupported'],
    [429, 'rate-limited'],
    [500, 'transient-server'],
    [502, 'transient-server'],
    [503, 'transient-server'],
    [504, 'transient-server'],
    [408, 'network'],
  ])('%i → %s', (status, cls) => {
    expect(classify(upgrade(status))).toEqual({ class: cls, summary: `upgrade answered HTTP ${status}`, code: String(status) });
  });

  it('any other 4xx or a redirect on the upgrade means no WebSocket here', () => {
    for (const status of [301, 302, 405, 410, 418]) expect(classify(upgrade(status)).class).toBe('unsupported');
  });
});

describe('HTTP request answered a non-2xx status', () => {
  it.each<[number, FailureClass]>([
    [400, 'request-fatal'],
    [401, 'auth'],
    [403, 'request-fatal'],
    [404, 'request-fatal'],
    [413, 'request-fatal'],
    [422, 'request-fatal'],
    [429, 'rate-limited'],
    [500, 'transient-server'],
    [503, 'transient-server'],
    [408, 'network'],
  ])('%i → %s', (status, cls) => {
    expect(classify(http(status))).toEqual({ class: cls, summary: `HTTP request answered HTTP ${status}`, code: String(status) });
  });
});

describe('Retry-After', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

  it('reads delta-seconds', () => {
    expect(retryAfterMsFrom({ 'retry-after': '120' }, now)).toBe(120_000);
    expect(retryAfterMsFrom({ 'retry-after': ' 7 ' }, now)).toBe(7_000);
    expect(retryAfterMsFrom({ 'retry-after': '0' }, now)).toBe(0);
  });

  it('reads an HTTP-date relative to nowMs, never negative', () => {
    expect(retryAfterMsFrom({ 'retry-after': 'Wed, 21 Oct 2015 07:28:30 GMT' }, now)).toBe(30_000);
    expect(retryAfterMsFrom({ 'retry-after': 'Wed, 21 Oct 2015 07:27:00 GMT' }, now)).toBe(0);
  });

  it('reads retry-after-ms, rounding up, and prefers it to retry-after', () => {
    expect(retryAfterMsFrom({ 'retry-after-ms': '1500' }, now)).toBe(1_500);
    expect(retryAfterMsFrom({ 'retry-after-ms': '1500.2' }, now)).toBe(1_501);
    expect(retryAfterMsFrom({ 'retry-after-ms': '250', 'retry-after': '60' }, now)).toBe(250);
  });

  it('falls back to retry-after when retry-after-ms is garbage', () => {
    expect(retryAfterMsFrom({ 'retry-after-ms': 'soon', 'retry-after': '3' }, now)).toBe(3_000);
  });

  it.each(['soon', '', '   ', '5s', 'NaN', 'Infinity', '1e3', '0x10', 'Tue', '-'])('garbage %j → undefined, never NaN', (value) => {
    expect(retryAfterMsFrom({ 'retry-after': value }, now)).toBeUndefined();
    expect(retryAfterMsFrom({ 'retry-after-ms': value }, now)).toBeUndefined();
  });

  it('reaches the failure on every status, and is absent (not undefined-valued) without a header', () => {
    expect(classify(upgrade(503, { 'retry-after': '30' }), now)).toEqual({
      class: 'transient-server',
      summary: 'upgrade answered HTTP 503',
      code: '503',
      retryAfterMs: 30_000,
    });
    expect(classify(http(429, { 'retry-after-ms': '900' }), now).retryAfterMs).toBe(900);
    expect(classify(upgrade(426, { 'retry-after': '10' }), now).retryAfterMs).toBe(10_000);
    expect('retryAfterMs' in classify(upgrade(429, { 'retry-after': 'soon' }), now)).toBe(false);
    expect('retryAfterMs' in classify(http(500), now)).toBe(false);
  });

  // A long digit string passes /^\d+$/ and Number() overflows to Infinity: it must not reach a Failure.
  it('a digit string too long for a number gives undefined, not Infinity', () => {
    expect(retryAfterMsFrom({ 'retry-after': '9'.repeat(400) }, now)).toBeUndefined();
  });
});

describe('socket-level errors and timeouts', () => {
  it.each(['ECONNRESET', 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'])('%s is a network failure in every phase', (code) => {
    expect(classify({ kind: 'network', code, phase: 'upgrade' })).toEqual({ class: 'network', summary: `upgrade failed: ${code}`, code });
    expect(classify({ kind: 'network', code, phase: 'request' })).toEqual({ class: 'network', summary: `HTTP request failed: ${code}`, code });
    expect(classify({ kind: 'network', code, phase: 'stream' })).toEqual({ class: 'network', summary: `stream failed: ${code}`, code });
  });

  it.each(['upgrade', 'first-event', 'idle'] as const)('a %s timeout is a network failure', (phase) => {
    expect(classify({ kind: 'timeout', phase })).toEqual({ class: 'network', summary: `${phase} timed out`, code: `timeout-${phase}` });
  });
});

describe('WebSocket close codes', () => {
  it.each<[number, FailureClass]>([
    [1000, 'network'],
    [1001, 'transient-server'],
    [1006, 'network'],
    [1008, 'request-fatal'],
    [1009, 'request-fatal'],
    [1011, 'transient-server'],
    [1012, 'transient-server'],
    [1013, 'rate-limited'],
    [1014, 'transient-server'],
    [4000, 'network'],
  ])('%i → %s, before and after the first event', (code, cls) => {
    expect(classify({ kind: 'closed', code, afterFirstEvent: false })).toEqual({
      class: cls,
      summary: `socket closed with ${code} before the first event`,
      code: String(code),
    });
    expect(classify({ kind: 'closed', code, afterFirstEvent: true })).toEqual({
      class: cls,
      summary: `socket closed with ${code} after the first event`,
      code: String(code),
    });
  });
});

describe('provider errors inside a stream', () => {
  it.each<[{ code?: string; status?: number }, FailureClass, string, string]>([
    [{ code: 'rate_limit_exceeded' }, 'rate-limited', 'rate_limit_exceeded', 'provider error rate_limit_exceeded'],
    [{ status: 429 }, 'rate-limited', '429', 'provider error (HTTP 429)'],
    [{ code: 'server_error' }, 'transient-server', 'server_error', 'provider error server_error'],
    [{ code: 'server_error', status: 500 }, 'transient-server', 'server_error', 'provider error server_error (HTTP 500)'],
    [{ status: 503 }, 'transient-server', '503', 'provider error (HTTP 503)'],
    [{ code: 'invalid_request_error' }, 'request-fatal', 'invalid_request_error', 'provider error invalid_request_error'],
    [{ code: 'context_length_exceeded', status: 400 }, 'request-fatal', 'context_length_exceeded', 'provider error context_length_exceeded (HTTP 400)'],
    [{}, 'request-fatal', 'provider-error', 'provider error'],
    // As written, a provider error never means `auth`: a 401 inside the stream fails the turn without a refresh.
    [{ status: 401 }, 'auth', '401', 'provider error (HTTP 401)'],
    [{ status: 408 }, 'network', '408', 'provider error (HTTP 408)'],
  ])('%j → %s', (outcome, cls, code, summary) => {
    expect(classify({ kind: 'provider-error', ...outcome })).toEqual({ class: cls, summary, code });
  });
});

describe('protocol errors and aborts', () => {
  it('a stream that cannot be parsed is a server fault (the other transport may be fine)', () => {
    expect(classify({ kind: 'protocol', detail: 'unexpected token' })).toEqual({
      class: 'transient-server',
      summary: 'protocol error: unexpected token',
      code: 'protocol',
    });
  });

  it('an abort is nobody’s failure', () => {
    expect(classify({ kind: 'aborted' })).toEqual({ class: 'aborted', summary: 'aborted by the caller', code: 'aborted' });
  });
});

describe('what a class does', () => {
  const failureOf = (cls: FailureClass): Failure => ({ class: cls, summary: cls });

  it.each<[FailureClass, ReturnType<typeof endpointEffectOf>, boolean]>([
    ['auth', 'cooldown', true],
    ['unsupported', 'latch-http', true],
    ['rate-limited', 'cooldown', true],
    ['transient-server', 'cooldown', true],
    ['network', 'cooldown', true],
    ['request-fatal', 'none', false],
    ['aborted', 'none', false],
  ])('%s: endpoint %s, may retry over HTTP: %s', (cls, effect, retry) => {
    expect(endpointEffectOf(failureOf(cls))).toBe(effect);
    expect(mayRetryOverHttp(failureOf(cls))).toBe(retry);
  });
});

describe('headers', () => {
  it('pickRelevantHeaders keeps only the relevant ones, lower-cased, joining repeats', () => {
    expect(
      pickRelevantHeaders({
        Authorization: 'Bearer sk-secret',
        'Set-Cookie': ['a=1', 'b=2'],
        cookie: 'c=3',
        'Retry-After': '5',
        'x-request-id': 'req_1',
        'WWW-Authenticate': ['Bearer realm="a"', 'Basic'],
        upgrade: 'websocket',
        'retry-after-ms': undefined,
        'openai-organization': 'org-1',
      }),
    ).toEqual({ 'retry-after': '5', 'x-request-id': 'req_1', 'www-authenticate': 'Bearer realm="a", Basic', upgrade: 'websocket' });
  });
});

// ---------------------------------------------------------------------------------------------
// Properties.

const headerValue = fc.oneof(
  fc.string(),
  fc.integer({ min: -1_000, max: 1_000_000 }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc.date({ noInvalidDate: true }).map((d) => d.toUTCString()),
  fc.constantFrom('', ' ', 'NaN', 'Infinity', '-0', '1e400', '9'.repeat(30), 'Wed, 21 Oct 2015 07:28:00 GMT'),
);
const headers = fc.dictionary(
  fc.oneof(fc.constantFrom('retry-after', 'retry-after-ms', 'x-request-id', 'authorization', 'set-cookie'), fc.string()),
  headerValue,
);
const outcome: fc.Arbitrary<Outcome> = fc.oneof(
  fc.record({ kind: fc.constant('upgrade-rejected' as const), status: fc.integer({ min: 0, max: 999 }), headers }),
  fc.record({ kind: fc.constant('http-rejected' as const), status: fc.integer({ min: 0, max: 999 }), headers }),
  fc.record({ kind: fc.constant('network' as const), code: fc.string(), phase: fc.constantFrom('upgrade' as const, 'request' as const, 'stream' as const) }),
  fc.record({ kind: fc.constant('timeout' as const), phase: fc.constantFrom('upgrade' as const, 'first-event' as const, 'idle' as const) }),
  fc.record({ kind: fc.constant('closed' as const), code: fc.integer({ min: 0, max: 5_000 }), afterFirstEvent: fc.boolean() }),
  fc.record({ kind: fc.constant('provider-error' as const), code: fc.option(fc.string(), { nil: undefined }), status: fc.option(fc.integer({ min: 0, max: 999 }), { nil: undefined }) }),
  fc.record({ kind: fc.constant('protocol' as const), detail: fc.string() }),
  fc.constant({ kind: 'aborted' as const }),
);
const CLASSES: readonly FailureClass[] = ['auth', 'unsupported', 'rate-limited', 'transient-server', 'network', 'request-fatal', 'aborted'];

describe('properties', () => {
  it('classify never throws, always returns a known class, and never a NaN or negative retryAfterMs', () => {
    fc.assert(
      fc.property(outcome, fc.oneof(fc.integer({ min: 0, max: 4_102_444_800_000 }), fc.constant(0)), (o, nowMs) => {
        const failure = classify(o, nowMs);
        expect(CLASSES).toContain(failure.class);
        expect(typeof failure.summary).toBe('string');
        if (failure.retryAfterMs !== undefined) {
          expect(Number.isNaN(failure.retryAfterMs)).toBe(false);
          expect(failure.retryAfterMs).toBeGreaterThanOrEqual(0);
        }
        expect(endpointEffectOf(failure)).toMatch(/^(cooldown|latch-http|none)$/);
        expect(typeof mayRetryOverHttp(failure)).toBe('boolean');
      }),
      { numRuns: 2_000 },
    );
  });

  it('no header value other than Retry-After reaches the failure', () => {
    const secret = fc.uuid().map((id) => `SECRET-${id}`);
    fc.assert(
      fc.property(
        fc.constantFrom('upgrade-rejected' as const, 'http-rejected' as const),
        fc.integer({ min: 100, max: 599 }),
        secret,
        secret,
        secret,
        headers,
        (kind, status, token, cookie, other, extra) => {
          const raw = { ...extra, authorization: `Bearer ${token}`, 'Set-Cookie': [cookie], 'x-other': other };
          const picked = pickRelevantHeaders(raw);
          expect(Object.keys(picked).every((name) => (RELEVANT_HEADERS as readonly string[]).includes(name))).toBe(true);
          expect(JSON.stringify(picked)).not.toContain(token);
          expect(JSON.stringify(picked)).not.toContain(cookie);
          expect(JSON.stringify(picked)).not.toContain(other);
          // Even handed the unfiltered bag, the classifier copies nothing but a parsed Retry-After.
          const unfiltered = { ...extra, authorization: `Bearer ${token}`, 'set-cookie': cookie, 'x-request-id': other };
          for (const bag of [picked, unfiltered]) {
            const failure = classify({ kind, status, headers: bag }, 0);
            const text = JSON.stringify(failure);
            expect(text).not.toContain(token);
            expect(text).not.toContain(cookie);
            expect(text).not.toContain(other);
            expect(Object.keys(failure).every((key) => ['class', 'summary', 'code', 'retryAfterMs'].includes(key))).toBe(true);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('docs/design.md', () => {
  it('reproduces the classification table computed from the classifier', () => {
    const text = readFileSync(new URL('../../docs/design.md', import.meta.url), 'utf8');
    const start = text.indexOf(TABLE_START);
    const end = text.indexOf(TABLE_END);
    expect(start, 'docs/design.md lacks the classification-table markers').toBeGreaterThanOrEqual(0);
    const inDoc = text.slice(start + TABLE_START.length, end).trim();
    expect(inDoc, 'the classification table in docs/design.md is stale: run `npm run charts` (or node --import tsx src/charts/write.ts)').toBe(
      classificationTable(),
    );
  });
});
