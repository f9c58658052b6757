import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import type { ProviderEvent, ProviderProtocol } from './provider.js';
import { TransportError } from './transport-error.js';

const DECODE_STREAMING: TextDecodeOptions = { stream: true };

/**
 * Bytes in, provider events out: UTF-8 decoding, SSE framing
 * (`eventsource-parser`'s `createParser`, not its stream class, which costs
 * 1.4× more per turn) and the protocol's JSON decoding.
 *
 * Events decoded from one chunk collect in {@link pending}; the caller drains
 * it. The first undecodable event is kept in {@link failure}, after the good
 * ones before it, and stops decoding.
 */
export class SseDecoder {
  /** Events decoded and not yet taken; the caller empties it (`length = 0`) after use. */
  readonly pending: ProviderEvent[] = [];
  /** Set once an event could not be decoded or the parser's buffer limit was hit. */
  failure: TransportError | undefined;
  private readonly parser: EventSourceParser;
  private readonly decoder = new TextDecoder();

  /**
   * @param maxEventChars parser buffer limit, so a server that never ends an event cannot exhaust memory
   * @param context prefix for error messages (e.g. `POST https://host/path`)
   */
  constructor(
    private readonly protocol: ProviderProtocol,
    maxEventChars: number,
    private readonly context: string,
  ) {
    this.parser = createParser({
      maxBufferSize: maxEventChars,
      onEvent: this.onEvent,
      onError: (error) => {
        if (error.type === 'max-buffer-size-exceeded') this.failure ??= this.protocolError(error);
      },
    });
  }

  /** Decode one body chunk. */
  feed(chunk: Uint8Array): void {
    if (this.failure !== undefined) return;
    this.parser.feed(this.decoder.decode(chunk, DECODE_STREAMING));
  }

  private readonly onEvent = (message: EventSourceMessage): void => {
    if (this.failure !== undefined) return;
    try {
      const event = this.protocol.parseSseEvent(message);
      if (event !== undefined) this.pending.push(event);
    } catch (error) {
      this.failure = this.protocolError(error);
    }
  };

  private protocolError(error: unknown): TransportError {
    if (error instanceof TransportError) return error;
    const detail = error instanceof Error ? error.message : 'undecodable event';
    return new TransportError({ kind: 'protocol', detail }, `${this.context}: ${detail}`);
  }
}
