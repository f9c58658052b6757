import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { classify } from '../../machines/classify.js';
import { createOpenAIResponses, openAIResponses } from '../../src/transports/openai-responses.js';
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
    for (const type of ['response.completed', 'response.done', 'response.failed', 'response.incomplete', 'error']) expect(openAIResponses.isTerminal({ type })).toBe(true);
    for (const type of ['response.created', 'response.output_text.delta']) expect(openAIResponses.isTerminal({ type })).toBe(false);
  });

  it('extracts provider error outcomes from each error shape', () => {
    expect(openAIResponses.providerErrorOutcome({ type: 'error', status: 429, error: { code: 'rate_limit_exceeded' } })).toEqual({
      kind: 'provider-error',
      code: 'rate_limit_exceeded',
      status: 429,
    });
    expect(openAIResponses.providerErrorOutcome({ type: 'error', code: 'server_error', message: 'x' })).toEqual({ kind: 'provider-error', code: 'server_error', message: 'x' });
    expect(openAIResponses.providerErrorOutcome({ type: 'response.failed', response: { error: { code: 'server_error' } } })).toEqual({
      kind: 'provider-error',
      code: 'server_error',
    });
    expect(openAIResponses.providerErrorOutcome({ type: 'response.completed' })).toBeUndefined();
    expect(openAIResponses.providerErrorOutcome({ type: 'response.incomplete' })).toBeUndefined();
    // response.done ends every response of the WebSocket variant: only a failed one is an error.
    expect(openAIResponses.providerErrorOutcome({ type: 'response.done', response: { status: 'completed' } })).toBeUndefined();
    expect(
      openAIResponses.providerErrorOutcome({ type: 'response.done', response: { status: 'failed', error: { code: 'server_error', message: 'boom' } } }),
    ).toEqual({ kind: 'provider-error', code: 'server_error', message: 'boom' });
  });

  it('a recorded 429 response.failed: rate-limited with the delay its message gives', () => {
    const recorded = {
      type: 'response.failed',
      response: {
        status: 'failed',
        error: { code: 'rate_limit_exceeded', message: 'Rate limit reached for gpt-5.4 on tokens per min (TPM): Limit 30000, Used 29812. Please try again in 11.054s.' },
      },
    };
    const outcome = openAIResponses.providerErrorOutcome(recorded)!;
    expect(classify(outcome)).toMatchObject({ class: 'rate-limited', code: 'rate_limit_exceeded', retryAfterMs: 11_054 });
  });

  it('turnHeader puts the turn id and attempt on the wire: a header over HTTP, metadata in a WebSocket frame', () => {
    const protocol = createOpenAIResponses({ turnHeader: 'X-Turn-Id' });
    const send = { turnId: 's1#3', attempt: 2 };
    expect(protocol.httpRequest({ model: 'm' }, send).headers['x-turn-id']).toBe('s1#3;attempt=2');
    expect(JSON.parse(protocol.webSocketFrame({ model: 'm', metadata: { a: 'b' } }, send))).toEqual({
      type: 'response.create',
      model: 'm',
      metadata: { a: 'b', 'x-turn-id': 's1#3;attempt=2' },
    });
    // Without the option nothing is added.
    expect(openAIResponses.httpRequest({ model: 'm' }, send).headers['x-turn-id']).toBeUndefined();
    expect(JSON.parse(openAIResponses.webSocketFrame({ model: 'm' }, send))).toEqual({ type: 'response.create', model: 'm' });
  });
});
