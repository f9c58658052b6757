import type { ProviderEvent } from './provider.js';
import { PushQueue } from './push-queue.js';

/**
 * A turn's events as a transport decodes them, one network read at a time. Both transports
 * return one (`streamHttp`, `WebSocketConnection.streamTurn`); it is also an ordinary async
 * iterator. The session facade takes batches and hands their events to the consumer itself,
 * so each event crosses one async step between the socket and the consumer instead of two
 * (an async generator layer costs ~0.1 µs per event… times 1,000 events: docs/performance.md).
 */
export interface EventBatches extends AsyncIterableIterator<ProviderEvent> {
  /**
   * The events decoded since the last call, oldest first, never empty while the turn goes on;
   * the turn's terminal event is the last event of the last batch. Resolves `[]` once the turn
   * ended or the consumer returned; rejects with a `TransportError`.
   */
  nextBatch(): Promise<readonly ProviderEvent[]>;
  /** The consumer is done: release the transport (a WebSocket mid-response is closed, locally). */
  return(): Promise<IteratorResult<ProviderEvent>>;
}

/** A send that fails before it starts (the socket went, the body cannot be encoded): its first batch rejects with `error`. */
export function failedSend(error: Error): EventBatches {
  const queue = new PushQueue<ProviderEvent>();
  queue.fail(error);
  return queue;
}
