import type { TurnMode } from './upstream-modes.js';

/** Wraps one event's JSON for the wire: identity for WebSocket frames, an SSE block for HTTP. */
export type EventEncoder = (type: string, json: string) => string;

/** WebSocket: one JSON text frame per event. */
export const encodeWebSocketFrame: EventEncoder = (_type, json) => json;

/** HTTP: a named Server-Sent Event, as the OpenAI Responses API sends them. */
export const encodeSseEvent: EventEncoder = (type, json) => `event: ${type}\ndata: ${json}\n\n`;

/** The wire frames of one turn, and whether the turn ends (false: the upstream stalls after them). */
export interface TurnScript {
  readonly frames: string[];
  readonly complete: boolean;
}

/**
 * Build the frames of one OpenAI Responses turn: `response.created`,
 * `deltasPerTurn` × `response.output_text.delta` ("chunk 1", "chunk 2", …),
 * `response.completed`, shaped by the turn mode.
 *
 * JSON is assembled by concatenation rather than `JSON.stringify` per event
 * so benchmarks of the client are not dominated by the fake server.
 */
export function buildTurn(model: string, responseId: string, deltasPerTurn: number, mode: TurnMode, encode: EventEncoder): TurnScript {
  const modelJson = JSON.stringify(model);
  const frames: string[] = [];
  let sequence = 0;
  frames.push(
    encode(
      'response.created',
      `{"type":"response.created","sequence_number":${sequence++},"response":{"id":"${responseId}","object":"response","status":"in_progress","model":${modelJson}}}`,
    ),
  );

  if (typeof mode === 'object' && 'providerError' in mode) {
    const { code, status, message = 'simulated provider error' } = mode.providerError;
    const statusField = status === undefined ? '' : `"status":${status},`;
    frames.push(
      encode(
        'error',
        `{"type":"error",${statusField}"sequence_number":${sequence},"error":{"type":"server_error","code":${JSON.stringify(code)},"message":${JSON.stringify(message)}}}`,
      ),
    );
    return { frames, complete: true };
  }

  for (let i = 1; i <= deltasPerTurn; i++) {
    frames.push(
      encode(
        'response.output_text.delta',
        `{"type":"response.output_text.delta","sequence_number":${sequence++},"item_id":"msg_${responseId}","output_index":0,"content_index":0,"delta":"chunk ${i}"}`,
      ),
    );
  }
  const terminal = typeof mode === 'object' && 'endWith' in mode ? mode.endWith : 'response.completed';
  frames.push(
    encode(
      terminal,
      `{"type":"${terminal}","sequence_number":${sequence},"response":{"id":"${responseId}","object":"response","status":"completed","model":${modelJson},"usage":{"input_tokens":1,"output_tokens":${deltasPerTurn},"total_tokens":${deltasPerTurn + 1}}}}`,
    ),
  );

  if (typeof mode === 'object' && 'stallAfterEvents' in mode) {
    return { frames: frames.slice(0, mode.stallAfterEvents), complete: false };
  }
  if (typeof mode === 'object' && 'malformedAfterEvents' in mode) {
    const kept = frames.slice(0, mode.malformedAfterEvents);
    kept.push(encode('response.output_text.delta', '{"type":"response.output_text.delta","delta":'));
    return { frames: kept, complete: true };
  }
  return { frames, complete: true };
}
