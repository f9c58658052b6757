import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { describe, expect, test } from 'vitest';
import { createCredentialRuntime } from '../../src/auth/credential-runtime.js';
import { refreshErrorFrom, RefreshError } from '../../src/auth/credential-source.js';
import { memoryCredentialStore } from '../../src/auth/memory-store.js';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import { requestTokenRefresh } from '../../src/auth/token-request.js';
import { headerSecrets, KNOWN_OAUTH_CODES, scrubDeep, scrubError, scrubbingLogger, SecretSet, untrustedCode, untrustedText } from '../../src/secrets.js';
import { startTokenEndpoint } from '../auth/support/token-endpoint.js';

/** The scrubber's parts, one rule at a time (docs/security.md). */

const SECRET = 'qzSECRETunitToken7d3k';
const OTHER = 'qzOTHERunitToken91mx2';

describe('untrusted codes and text', () => {
  test('known OAuth codes pass as they are', () => {
    for (const code of ['invalid_grant', 'refresh_token_reused', 'refresh_token_expired', 'refresh_token_invalidated', 'invalid_client']) {
      expect(KNOWN_OAUTH_CODES.has(code)).toBe(true);
      expect(untrustedCode(code, [SECRET])).toBe(code);
    }
  });

  test('anything else is scrubbed, reduced to a safe alphabet and bounded to 64 characters', () => {
    expect(untrustedCode(SECRET, [SECRET])).toBe('[redacted]');
    expect(untrustedCode(`bad ${SECRET}\n<script>`, [SECRET])).toBe('bad_[redacted]_script_');
    expect(untrustedCode('x'.repeat(10_000))).toHaveLength(64);
    expect(untrustedCode('')).toBeUndefined();
    expect(untrustedCode(42)).toBeUndefined();
  });

  test('untrusted text: scrubbed before it is cut, one line, bounded', () => {
    const text = `${'a'.repeat(190)} ${SECRET}\r\n${'b'.repeat(50)}`;
    const clean = untrustedText(text, [SECRET]);
    expect(clean).not.toContain(SECRET);
    expect(clean).not.toMatch(/[\r\n]/);
    expect(clean.length).toBeLessThanOrEqual(200);
  });
});

describe('errors: message, stack, every string field, the whole cause chain', () => {
  test('scrubError', () => {
    const headers = { 'x-request-id': `req-${SECRET}` };
    const root = Object.assign(new Error(`root ${SECRET}`), { code: SECRET, body: `body ${OTHER}`, outcome: { status: 500, headers } });
    const middle = new Error(`middle ${OTHER}`, { cause: root });
    const aggregate = new AggregateError([new Error(`inner ${SECRET}`)], `agg ${SECRET}`, { cause: middle });
    const outer = new RefreshError(`outer ${SECRET}`, { cause: aggregate });
    expect(scrubError(outer, [SECRET, OTHER])).toBe(outer);
    expect(outer).toBeInstanceOf(RefreshError);
    const shown = inspect(outer, { depth: 20 }) + JSON.stringify(root) + outer.stack + middle.stack + root.stack;
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain(OTHER);
    expect(shown).toContain('[redacted]');
    // Nested plain data is replaced by a scrubbed copy; the original object is left alone.
    expect(root.outcome.headers['x-request-id']).toBe('req-[redacted]');
    expect(headers['x-request-id']).toBe(`req-${SECRET}`);
  });

  test('refreshErrorFrom reads status and code of plain errors as the chart does', () => {
    const plain = Object.assign(new Error('refused'), { status: 401, code: 'refresh_token_reused' });
    expect(refreshErrorFrom(plain, 'token refresh failed')).toMatchObject({ name: 'RefreshError', status: 401, errorCode: 'refresh_token_reused', cause: plain });
    expect(refreshErrorFrom(Object.assign(new Error('down'), { code: 'ECONNRESET' }), 'x')).toMatchObject({ networkCode: 'ECONNRESET' });
    expect(refreshErrorFrom(Object.assign(new Error('x'), { statusCode: 503 }), 'x')).toMatchObject({ status: 503 });
    expect(refreshErrorFrom(Object.assign(new Error('x'), { code: SECRET }), 'x', [SECRET]).errorCode).toBe('[redacted]');
  });
});

describe('values, loggers, headers', () => {
  test('scrubDeep copies plain data with every string scrubbed, keys included; cycles stay cycles', () => {
    const value: Record<string, unknown> = { a: [`x ${SECRET}`, { [SECRET]: OTHER }], n: 1 };
    value['self'] = value;
    const clean = scrubDeep(value, [SECRET, OTHER]);
    expect(JSON.stringify({ ...clean, self: undefined })).not.toMatch(/qz/);
    expect(clean['self']).toBe(clean);
    expect(value['a']).toEqual([`x ${SECRET}`, { [SECRET]: OTHER }]); // the original is untouched
  });

  test('scrubbingLogger scrubs the message and every string of the object, with the secrets known at each call', () => {
    const lines: unknown[] = [];
    const known = [SECRET];
    const logger = scrubbingLogger({ debug: () => {}, info: () => {}, warn: (obj: object, msg?: string) => lines.push(obj, msg), error: () => {} }, () => known);
    known.push(OTHER);
    logger.warn({ err: new Error(`e ${SECRET}`), nested: { deep: [OTHER] } }, `m ${OTHER}`);
    expect(inspect(lines, { depth: 10 })).not.toMatch(/qz(SECRET|OTHER)/);
  });

  test('headerSecrets: credential-bearing header values, and the bare token of a scheme', () => {
    expect(headerSecrets({ Authorization: `Bearer ${SECRET}`, 'X-Api-Key': OTHER, 'OpenAI-Beta': 'responses=v1' })).toEqual([`Bearer ${SECRET}`, SECRET, OTHER]);
  });

  test('SecretSet also catches the URL-encoded form', () => {
    expect(new SecretSet(['a/b+c=d&e']).scrub(`q=${encodeURIComponent('a/b+c=d&e')}`)).toBe('q=[redacted]');
  });
});

describe('the registry knows refresh tokens of every generation', () => {
  test('after two rotations the runtime lists both generations of access and refresh tokens', async () => {
    const endpoint = await startTokenEndpoint();
    try {
      const first = endpoint.signIn();
      const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store: memoryCredentialStore(first) });
      const runtime = createCredentialRuntime(source, { credentialId: 'c', clock: { now: () => 0 } });
      let token = (await runtime.current()).token;
      for (let i = 0; i < 2; i++) {
        token = await source.refresh(token);
        await runtime.current();
      }
      expect(new Set(runtime.knownTokens())).toEqual(new Set(endpoint.allTokens()));
      runtime.close();
    } finally {
      await endpoint.close();
    }
  });

  test('a token endpoint that echoes the refused refresh token in error and error_description: the error holds neither', async () => {
    const refresh = 'qzREFRESHechoed55ab';
    const access = 'qzACCESSechoed66cd';
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: refresh, error_description: `token ${refresh} for ${access}` })));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const error = await requestTokenRefresh({ tokenUrl: `http://127.0.0.1:${port}/t`, clientId: 'c', current: { access_token: access, refresh_token: refresh } }).catch((e: unknown) => e);
    server.closeAllConnections();
    server.close();
    expect(error).toMatchObject({ status: 400, errorCode: '[redacted]' });
    expect(inspect(error, { depth: 10 })).not.toMatch(/qz(REFRESH|ACCESS)/);
  });
});
