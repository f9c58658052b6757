import { describe, expect, it } from 'vitest';
import { classifyRefreshFailure } from '../../machines/classify-refresh.js';
import { RefreshError } from '../../src/auth/credential-source.js';
import { parseErrorBody, parseTokenResponse, requestTokenRefresh } from '../../src/auth/token-request.js';
import { REFRESH_TOKEN_REUSED_BODY } from './support/token-endpoint.js';

const current = { access_token: 'at_old_0123456789', refresh_token: 'rt_old_0123456789' };

/** A fetch that answers `status` with `body` and records what it was sent. */
function answering(status: number, body: unknown) {
  const sent: { url: string; init: RequestInit }[] = [];
  const fetchStub = (async (url: string | URL | Request, init?: RequestInit) => {
    sent.push({ url: String(url), init: init ?? {} });
    return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  return { fetchStub, sent };
}

describe('the refresh grant', () => {
  it('posts a form-encoded refresh_token grant', async () => {
    const { fetchStub, sent } = answering(200, { access_token: 'at_new_0123456789', refresh_token: 'rt_new_0123456789', expires_in: 60 });
    const fresh = await requestTokenRefresh({ tokenUrl: 'https://auth.example/oauth/token', clientId: 'cli', current, scope: 'openid offline_access', fetch: fetchStub, now: () => 1_000 });
    expect(fresh).toEqual({ access_token: 'at_new_0123456789', refresh_token: 'rt_new_0123456789', expires_at_ms: 61_000 });
    expect(sent[0]!.init.method).toBe('POST');
    expect((sent[0]!.init.headers as Record<string, string>)['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(String(sent[0]!.init.body));
    expect(Object.fromEntries(form)).toEqual({ grant_type: 'refresh_token', refresh_token: 'rt_old_0123456789', client_id: 'cli', scope: 'openid offline_access' });
  });

  it('keeps the old refresh token when none is issued, and reads expires_in given as a string', () => {
    expect(parseTokenResponse('{"access_token":"at_new_0123456789","expires_in":"30"}', current, 0)).toEqual({
      access_token: 'at_new_0123456789',
      refresh_token: 'rt_old_0123456789',
      expires_at_ms: 30_000,
    });
  });

  it('reads the OpenAI-like error shape of the incident: permanent', async () => {
    expect(parseErrorBody(JSON.stringify(REFRESH_TOKEN_REUSED_BODY))).toEqual({
      errorCode: 'refresh_token_reused',
      description: REFRESH_TOKEN_REUSED_BODY.error.message,
    });
    const { fetchStub } = answering(401, REFRESH_TOKEN_REUSED_BODY);
    const error = await requestTokenRefresh({ tokenUrl: 'https://auth.example/t', clientId: 'cli', current, fetch: fetchStub }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RefreshError);
    expect(error).toMatchObject({ status: 401, errorCode: 'refresh_token_reused' });
    expect((error as Error).message).toContain('Please try signing in again');
    expect(classifyRefreshFailure(error as RefreshError)).toBe('permanent');
  });

  it('reads the RFC 6749 error shape: permanent', async () => {
    const { fetchStub } = answering(400, { error: 'invalid_grant', error_description: 'Refresh token revoked' });
    const error = (await requestTokenRefresh({ tokenUrl: 'https://auth.example/t', clientId: 'cli', current, fetch: fetchStub }).catch((e: unknown) => e)) as RefreshError;
    expect(error).toMatchObject({ status: 400, errorCode: 'invalid_grant' });
    expect(error.message).toBe('token refresh failed: HTTP 400 invalid_grant: Refresh token revoked');
    expect(classifyRefreshFailure(error)).toBe('permanent');
  });

  it('a 5xx with any body, or a body that is not JSON, is transient', async () => {
    for (const body of ['<html>bad gateway</html>', { error: { message: 'overloaded', type: 'server_error', code: null } }]) {
      const { fetchStub } = answering(502, body);
      const error = (await requestTokenRefresh({ tokenUrl: 'https://auth.example/t', clientId: 'cli', current, fetch: fetchStub }).catch((e: unknown) => e)) as RefreshError;
      expect(error.status).toBe(502);
      expect(classifyRefreshFailure(error)).toBe('transient');
    }
  });

  it('a 200 without an access token is an invalid response', async () => {
    const { fetchStub } = answering(200, { token_type: 'Bearer' });
    await expect(requestTokenRefresh({ tokenUrl: 'https://auth.example/t', clientId: 'cli', current, fetch: fetchStub })).rejects.toMatchObject({
      errorCode: 'invalid_token_response',
    });
  });

  it('redacts the tokens it sent, and JWT-shaped strings, from the error message', async () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl';
    const { fetchStub } = answering(400, { error: 'invalid_grant', error_description: `bad ${current.refresh_token} / ${current.access_token} / ${jwt}` });
    const error = (await requestTokenRefresh({ tokenUrl: 'https://auth.example/t', clientId: 'cli', current, fetch: fetchStub }).catch((e: unknown) => e)) as RefreshError;
    expect(error.message).toBe('token refresh failed: HTTP 400 invalid_grant: bad [redacted] / [redacted] / [redacted]');
  });
});
