import { describe, expect, it } from 'vitest';
import { TransportError, redactUrl, retryHint } from '../../src/transports/transport-error.js';

describe('redactUrl', () => {
  it('drops userinfo, query string and fragment', () => {
    expect(redactUrl('wss://user:pass@api.example.com:8443/v1/responses?model=x&api_key=k#frag')).toBe('wss://api.example.com:8443/v1/responses');
    expect(redactUrl(new URL('http://127.0.0.1:1234/v1/responses?token=t'))).toBe('http://127.0.0.1:1234/v1/responses');
  });

  it('never echoes an unparseable URL', () => {
    expect(redactUrl('not a url?key=secret')).toBe('<invalid url>');
  });
});

describe('TransportError', () => {
  it('carries its outcome and serializes without its cause', () => {
    const error = new TransportError({ kind: 'timeout', phase: 'idle' }, 'no event', { cause: new Error('inner') });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TransportError');
    expect(JSON.parse(JSON.stringify(error))).toEqual({ name: 'TransportError', message: 'no event', outcome: { kind: 'timeout', phase: 'idle' } });
  });

  it('formats retry hints', () => {
    expect(retryHint({})).toBe('');
    expect(retryHint({ 'retry-after': '5' })).toBe(' (retry-after: 5)');
  });
});
