import { pickRelevantHeaders } from '../../machines/outcome.js';
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
 * terminal one. Nothing happens until the first `next()`.
 *
 * Throws {@link TransportError} with outcome `http-rejected` (non-2xx, with
 * Retry-After & co.), `network` (phase `request` before the response
 * headers, `stream` after; {@link STREAM_EOF_CODE} when the body ends early),
 * `timeout` (`first-event` / `idle`), `protocol` or `aborted`. A provider
 * error event is yielded, not thrown. The response body is released on every
 * exit, including a consumer's early `break`.
 */
export async function* streamHttp(options: StreamHttpOptions): AsyncGenerator<ProviderEvent, void, undefined> {
  const { protocol, signal } = options;
  const target = redactUrl(options.url);
  if (signal?.aborted) throw abortedError(target);
  if (!isFetchableUrl(options.url)) {
    // Checked up front because fetch's own error for these quotes the URL, credentials and query string included.
    throw new TransportError({ kind: 'network', code: 'ERR_INVALID_URL', phase: 'request' }, `POST ${target}: invalid URL (or one with credentials)`);
  }

  // One controller cancels fetch and body reads alike; `stopped` remembers why it fired.
  const controller = new AbortController();
  let stopped: TransportError | undefined;
  const stop = (error: TransportError): void => {
    if (stopped !== undefined) return;
    stopped = error;
    controller.abort();
  };
  const onAbort = (): void => stop(abortedError(target));
  signal?.addEventListener('abort', onAbort, { once: true });

  const deadline = new ServerDeadline(options.firstEventTimeoutMs, options.idleTimeoutMs, (phase, ms) => {
    stop(new TransportError({ kind: 'timeout', phase }, `POST ${target}: no ${phase === 'first-event' ? 'first event' : 'event'} within ${ms} ms`));
  });

  let response: Response | undefined;
  let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  let sawTerminalEvent = false;
  try {
    let request: { body: string; headers: Record<string, string> };
    try {
      request = protocol.httpRequest(options.body, options.send);
    } catch (error) {
      // A circular body, a BigInt, a throwing toJSON: this request can never be sent, on any transport.
      const detail = (error instanceof Error ? error.message : String(error)).slice(0, 200);
      throw new TransportError({ kind: 'request-invalid', detail }, `POST ${target}: the request body cannot be encoded: ${detail}`, { cause: error });
    }
    try {
      response = await fetch(options.url, {
        method: 'POST',
        headers: { ...options.headers, ...request.headers, authorization: `Bearer ${options.token}` },
        body: request.body,
        signal: controller.signal,
        // A redirect of a streaming POST is unexpected; following it could re-send the token elsewhere.
        redirect: 'manual',
      });
    } catch (error) {
      throw stopped ?? networkError(error, 'request', target);
    }

    if (!response.ok) {
      const status = response.status;
      const headers = pickRelevantHeaders(Object.fromEntries(response.headers));
      const code = await readErrorCode(response);
      response = undefined;
      throw new TransportError(
        { kind: 'http-rejected', status, headers },
        `POST ${target} answered HTTP ${status}${retryHint(headers)}${code === undefined ? '' : ` (error code: ${code})`}`,
      );
    }
    const contentType = response.headers.get('content-type');
    if (response.body === null || (contentType !== null && !contentType.includes('text/event-stream'))) {
      const detail = `expected text/event-stream, got ${contentType === null ? 'no body' : (contentType.split(';')[0] ?? '').slice(0, 64)}`;
      throw new TransportError({ kind: 'protocol', detail }, `POST ${target}: ${detail}`);
    }

    const decoder = new SseDecoder(protocol, options.maxEventChars ?? DEFAULT_MAX_EVENT_CHARS, `POST ${target}`);
    const pending = decoder.pending;
    reader = response.body.getReader();
    let sawFirstEvent = false;

    for (;;) {
      deadline.waiting();
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        throw stopped ?? networkError(error, 'stream', target);
      }
      deadline.answered();
      if (chunk.done) {
        throw new TransportError(
          { kind: 'network', code: STREAM_EOF_CODE, phase: 'stream' },
          `POST ${target}: response ended before a terminal event (${sawFirstEvent ? 'after' : 'before'} the first event)`,
        );
      }
      decoder.feed(chunk.value);
      if (pending.length > 0) {
        sawFirstEvent = true;
        deadline.sawEvents();
        for (let i = 0; i < pending.length; i++) {
          // An abort while the consumer held the previous event must not deliver more.
          if (stopped !== undefined) throw stopped;
          const event = pending[i] as ProviderEvent;
          if (protocol.isTerminal(event)) {
            sawTerminalEvent = true;
            yield event;
            return;
          }
          yield event;
        }
        pending.length = 0;
      }
      // Events decoded before a bad one were delivered first, as on the WebSocket.
      if (decoder.failure !== undefined) throw decoder.failure;
    }
  } finally {
    deadline.clear();
    signal?.removeEventListener('abort', onAbort);
    if (reader !== undefined && sawTerminalEvent) void drainThenRelease(reader);
    else (reader !== undefined ? reader.cancel() : response?.body?.cancel())?.catch(() => undefined);
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
