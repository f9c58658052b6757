import { pickRelevantHeaders } from '../../machines/outcome.js';
import type { EventBatches } from './event-batches.js';
import type { ProviderEvent, ProviderProtocol, TurnSend } from './provider.js';
import { TransportError, redactUrl, retryHint } from './transport-error.js';
import { networkErrorCode, readErrorCode } from './http-errors.js';
import { drainThenRelease } from './http-body-release.js';
import { ServerDeadline } from './server-deadline.js';
import { SseDecoder } from './sse-decoder.js';

/**
 * `code` of the `network` outcome for a response body that ended cleanly but
 * before the terminal event. HTTP has no close code, and `closed` is a
 * WebSocket notion, so this is reported as a network fault in phase `stream`:
 * the connection delivered less than the protocol promised, like a reset.
 */
export const STREAM_EOF_CODE = 'EOF';

/** Default for {@link StreamHttpOptions.maxEventChars}: 16 Mi characters. */
export const DEFAULT_MAX_EVENT_CHARS = 16 * 1024 * 1024;

/** How to run one streamed HTTP turn; see {@link streamHttp}. */
export interface StreamHttpOptions {
  /** `http:` or `https:` endpoint. Never printed with its query string. */
  url: string;
  /** Sent as `Authorization: Bearer <token>`; never appears in errors. */
  token: string;
  /** Request body before the protocol adds its streaming switch. */
  body: Record<string, unknown>;
  /** Encodes the request and decodes events. */
  protocol: ProviderProtocol;
  /** Aborting ends the turn with `{ kind: 'aborted' }`. */
  signal?: AbortSignal;
  /** Deadline from sending the request to the first event (response headers included). */
  firstEventTimeoutMs: number;
  /** Longest allowed wait on the server between two events, once the first one arrived. */
  idleTimeoutMs: number;
  /** Extra request headers (protocol headers and Authorization win). */
  headers?: Record<string, string>;
  /** Largest SSE event the parser buffers before giving up with a `protocol` outcome. Default 16 Mi chars. */
  maxEventChars?: number;
  /** Which turn and attempt this request is, handed to the protocol (e.g. for a de-duplication header). */
  send?: TurnSend;
}

/**
 * POST one turn and iterate its Server-Sent Events up to and including the
 * terminal one. Nothing happens until the first `next()` or `nextBatch()`.
 *
 * Throws {@link TransportError} with outcome `http-rejected` (non-2xx, with
 * Retry-After & co.), `network` (phase `request` before the response
 * headers, `stream` after; {@link STREAM_EOF_CODE} when the body ends early),
 * `timeout` (`first-event` / `idle`), `protocol` or `aborted`. A provider
 * error event is yielded, not thrown. The response body is released on every
 * exit, including a consumer's early `break`.
 */
export function streamHttp(options: StreamHttpOptions): HttpSseTurn {
  return new HttpSseTurn(options);
}

const DONE: IteratorResult<ProviderEvent> = { value: undefined, done: true };

/**
 * One streamed HTTP turn. Iterate it (`for await`), or take its events a network read at a
 * time with {@link nextBatch}, which is what the session facade does so that each event
 * crosses one async step between the socket and the consumer, not two.
 */
export class HttpSseTurn implements EventBatches {
  /** Whether the turn's terminal event was handed out (the last event of the last batch). */
  finished = false;
  private readonly target: string;
  // One controller cancels fetch and body reads alike; `stopped` remembers why it fired.
  private readonly controller = new AbortController();
  private stopped: TransportError | undefined;
  private deadline: ServerDeadline | undefined;
  private response: Response | undefined;
  private reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  private decoder: SseDecoder | undefined;
  private sawFirstEvent = false;
  private closed = false;
  private started = false;
  /** For `next()`: the batch being handed out one event at a time. */
  private batch: readonly ProviderEvent[] = [];
  private index = 0;

  constructor(private readonly options: StreamHttpOptions) {
    this.target = redactUrl(options.url);
  }

  /**
   * The events of the next network read, oldest first, never empty; the last one is the
   * terminal event when {@link finished} turns true. Resolves `[]` after the terminal event or
   * once the consumer returned. Rejects with a {@link TransportError}, and releases the body.
   */
  async nextBatch(): Promise<readonly ProviderEvent[]> {
    if (this.closed) return [];
    try {
      if (!this.started) await this.start();
      return await this.read();
    } catch (error) {
      this.release();
      throw error;
    }
  }

  /** {@inheritDoc nextBatch}, one event at a time. */
  async next(): Promise<IteratorResult<ProviderEvent>> {
    if (this.index >= this.batch.length) {
      this.batch = await this.nextBatch();
      this.index = 0;
      if (this.batch.length === 0) return DONE;
    } else if (this.stopped !== undefined && !this.closed) {
      // An abort while the consumer held the previous event must not deliver more.
      const stopped = this.stopped;
      this.release();
      throw stopped;
    }
    return { value: this.batch[this.index++]!, done: false };
  }

  /** The consumer is done: the body is released (read to its end when the turn finished, else cancelled). */
  return(): Promise<IteratorResult<ProviderEvent>> {
    this.release();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private stop(error: TransportError): void {
    if (this.stopped !== undefined) return;
    this.stopped = error;
    this.controller.abort();
  }

  private readonly onAbort = (): void => this.stop(abortedError(this.target));

  private async start(): Promise<void> {
    this.started = true;
    const { options, target } = this;
    const { signal, protocol } = options;
    if (signal?.aborted) throw abortedError(target);
    if (!isFetchableUrl(options.url)) {
      // Checked up front because fetch's own error for these quotes the URL, credentials and query string included.
      throw new TransportError({ kind: 'network', code: 'ERR_INVALID_URL', phase: 'request' }, `POST ${target}: invalid URL (or one with credentials)`);
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
    // From sending the request: the first-event deadline covers the response headers too.
    this.deadline = new ServerDeadline(options.firstEventTimeoutMs, options.idleTimeoutMs, (phase, ms) => {
      this.stop(new TransportError({ kind: 'timeout', phase }, `POST ${target}: no ${phase === 'first-event' ? 'first event' : 'event'} within ${ms} ms`));
    });
    let request: { body: string; headers: Record<string, string> };
    try {
      request = protocol.httpRequest(options.body, options.send);
    } catch (error) {
      // A circular body, a BigInt, a throwing toJSON: this request can never be sent, on any transport.
      const detail = (error instanceof Error ? error.message : String(error)).slice(0, 200);
      throw new TransportError({ kind: 'request-invalid', detail }, `POST ${target}: the request body cannot be encoded: ${detail}`, { cause: error });
    }
    let response: Response;
    try {
      response = await fetch(options.url, {
        method: 'POST',
        headers: { ...options.headers, ...request.headers, authorization: `Bearer ${options.token}` },
        body: request.body,
        signal: this.controller.signal,
        // A redirect of a streaming POST is unexpected; following it could re-send the token elsewhere.
        redirect: 'manual',
      });
    } catch (error) {
      throw this.stopped ?? networkError(error, 'request', target);
    }
    if (!response.ok) {
      const status = response.status;
      const headers = pickRelevantHeaders(Object.fromEntries(response.headers));
      const code = await readErrorCode(response);
      throw new TransportError(
        { kind: 'http-rejected', status, headers },
        `POST ${target} answered HTTP ${status}${retryHint(headers)}${code === undefined ? '' : ` (error code: ${code})`}`,
      );
    }
    this.response = response;
    const contentType = response.headers.get('content-type');
    if (response.body === null || (contentType !== null && !contentType.includes('text/event-stream'))) {
      const detail = `expected text/event-stream, got ${contentType === null ? 'no body' : (contentType.split(';')[0] ?? '').slice(0, 64)}`;
      throw new TransportError({ kind: 'protocol', detail }, `POST ${target}: ${detail}`);
    }
    this.decoder = new SseDecoder(protocol, options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS, `POST ${target}`);
    this.reader = response.body.getReader();
  }

  private async read(): Promise<readonly ProviderEvent[]> {
    const reader = this.reader!;
    const decoder = this.decoder!;
    const deadline = this.deadline!;
    const pending = decoder.pending;
    const { protocol } = this.options;
    for (;;) {
      if (this.stopped !== undefined) throw this.stopped;
      // Events decoded before a bad one were delivered first (the previous batch), as on the WebSocket.
      if (decoder.failure !== undefined) throw decoder.failure;
      deadline.waiting();
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw this.stopped ?? networkError(error, 'stream', this.target);
      }
      deadline.answered();
      if (chunk.done) {
        throw new TransportError(
          { kind: 'network', code: STREAM_EOF_CODE, phase: 'stream' },
          `POST ${this.target}: response ended before a terminal event (${this.sawFirstEvent ? 'after' : 'before'} the first event)`,
        );
      }
      decoder.feed(chunk.value);
      if (pending.length > 0) {
        this.sawFirstEvent = true;
        deadline.sawEvents();
        let end = pending.length;
        for (let i = 0; i < pending.length; i++) {
          if (protocol.isTerminal(pending[i]!)) {
            end = i + 1;
            this.finished = true;
            break;
          }
        }
        const batch = pending.slice(0, end);
        pending.length = 0;
        if (this.finished) this.release();
        return batch;
      }
      // Events decoded before a bad one were delivered first, as on the WebSocket.
      if (decoder.failure !== undefined) throw decoder.failure;
    }
  }

  /** Clears the deadline and the abort listener, and releases the body: drained after the terminal event (keep-alive), else cancelled. */
  private release(): void {
    if (this.closed) return;
    this.closed = true;
    this.deadline?.clear();
    this.options.signal?.removeEventListener('abort', this.onAbort);
    const reader = this.reader;
    if (reader !== undefined && this.finished) void drainThenRelease(reader);
    else (reader !== undefined ? reader.cancel() : this.response?.body?.cancel())?.catch(() => undefined);
  }
}

/** fetch refuses unparseable URLs and URLs with userinfo; both are rejected before fetch can quote them. */
function isFetchableUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const parsed = new URL(url);
  return parsed.username === '' && parsed.password === '';
}

function networkError(error: unknown, phase: 'request' | 'stream', target: string): TransportError {
  const code = networkErrorCode(error);
  return new TransportError({ kind: 'network', code, phase }, `POST ${target} failed during the ${phase}: ${code}`, { cause: error });
}

function abortedError(target: string): TransportError {
  return new TransportError({ kind: 'aborted' }, `POST ${target} aborted by the caller`);
}
