import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { openAIResponses } from '../../src/transports/openai-responses.js';
import { TransportError } from '../../src/transports/transport-error.js';

describe('openAIResponses', () => {
  it('builds the WebSocket frame without the stream flag', () => {
    expect(JSON.parse(openAIResponses.webSocketFrame({ model: 'm', stream: false, input: [] }))).toEqual({ type: 'response.create', model: 'm', input: [] });
  });

  it('builds the HTTP request with stream true and SSE headers', () => {
    const request = openAIResponses.httpRequest({ model: 'm', stream: false });
    expect(JSON.parse(request.body)).toEqual({ model: 'm', stream: true });
    expect(request.headers).toEqual({ 'content-type': 'application/json', accept: 'text/event-stream' });
  });

  it('parses frames and rejects bad JSON with a protocol outcome that does not quote the data', () => {
    expect(openAIResponses.parseWebSocketMessage('{"type":"response.created"}')).toEqual({ type: 'response.created' });
    for (const bad of ['{nope SECRET', '[1,2]', '{"type":3}', 'null']) {
      let caught: unknown;
      try {
        openAIResponses.parseWebSocketMessage(bad);
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(TransportError);
      expect((caught as TransportError).outcome.kind).toBe('protocol');
      expect((caught as TransportError).message).not.toContain('SECRET');
    }
  });

  it('never throws anything but TransportError on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string(), (data) => {
        try {
          const event = openAIResponses.parseWebSocketMessage(data);
          expect(typeof event.type).toBe('string');
        } catch (error) {
          expect(error).toBeInstanceOf(TransportError);
        }
      }),
    );
  });

  it('skips [DONE] and empty SSE data, and takes the type from the event name when the JSON lacks one', () => {
    expect(openAIResponses.parseSseEvent({ data: '[DONE]' })).toBeUndefined();
    expect(openAIResponses.parseSseEvent({ data: '' })).toBeUndefined();
    expect(openAIResponses.parseSseEvent({ event: 'response.created', data: '{"id":1}' })).toEqual({ type: 'response.created', id: 1 });
  });

  it('knows the terminal events', () => {
    for (const type of ['response.completed', 'response.failed', 'response.incomplete', 'error']) expect(openAIResponses.isTerminal({ type })).toBe(true);
    for (const type of ['response.created', 'response.output_text.delta']) expect(openAIResponses.isTerminal({ type })).toBe(false);
  });

  it('extracts provider error outcomes from each error shape', () => {
    expect(openAIResponses.providerErrorOutcome({ type: 'error', status: 429, error: { code: 'rate_limit_exceeded' } })).toEqual({
      kind: 'provider-error',
      code: 'rate_limit_exceeded',
      status: 429,
    });
    expect(openAIResponses.providerErrorOutcome({ type: 'error', code: 'server_error', message: 'x' })).toEqual({ kind: 'provider-error', code: 'server_error' });
    expect(openAIResponses.providerErrorOutcome({ type: 'response.failed', response: { error: { code: 'server_error' } } })).toEqual({
      kind: 'provider-error',
      code: 'server_error',
    });
    expect(openAIResponses.providerErrorOutcome({ type: 'response.completed' })).toBeUndefined();
    expect(openAIResponses.providerErrorOutcome({ type: 'response.incomplete' })).toBeUndefined();
  });
});
