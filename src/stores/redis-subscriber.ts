/**
 * One dedicated subscriber connection for a Redis-backed store. A connection in subscribe mode
 * can run no other command, so the store asks its client for a twin (`client.duplicate()`, as
 * ioredis offers) and keeps it for pub/sub only. ioredis re-subscribes by itself after a
 * reconnect; what was published while the link was down is lost, so every (re)connection after
 * the first is reported as a resync, and the owner re-reads what it cares about.
 */

/** The part of a subscriber connection the stores use: ioredis fits as is. */
export interface RedisSubscriberClient {
  /** `SUBSCRIBE channel…`. */
  subscribe(...channels: string[]): Promise<unknown>;
  /** `UNSUBSCRIBE channel…`. Optional. */
  unsubscribe?(...channels: string[]): Promise<unknown>;
  /** ioredis events: `message` (channel, text), `ready` (each (re)connection), `error`. */
  on(event: string, listener: (...args: any[]) => void): unknown;
  /** Closes the connection gracefully. Optional; `disconnect` is used otherwise. */
  quit?(): Promise<unknown>;
  /** Closes the connection at once. Optional. */
  disconnect?(): void;
}

/** A client that can open a twin connection for pub/sub (ioredis: `duplicate()`). */
export interface RedisDuplicableClient {
  /** A new connection with the same settings. */
  duplicate?(): RedisSubscriberClient;
}

/** A live subscription on a dedicated connection. */
export interface Subscription {
  /** Unsubscribes and closes the dedicated connection. */
  close(): Promise<void>;
}

/** What {@link openSubscription} needs. */
export interface SubscriptionOptions {
  /** Where the dedicated connection comes from: an explicit subscriber, or `client.duplicate()`. */
  readonly connection: RedisSubscriberClient;
  /** The channel to follow. */
  readonly channel: string;
  /** Called with each message's text. */
  readonly onMessage: (message: string) => void;
  /** Called after the connection came back from an outage (messages may have been lost). */
  readonly onResync?: () => void;
  /** Called with connection errors, which would otherwise be unhandled `error` events. */
  readonly onError?: (error: unknown) => void;
}

/** Subscribes `connection` to `channel`; reports messages, reconnections and errors. */
export function openSubscription(options: SubscriptionOptions): Subscription {
  const { connection, channel } = options;
  let readyOnce = false;
  let closed = false;
  connection.on('error', (error: unknown) => options.onError?.(error));
  connection.on('message', (from: string, message: string) => {
    if (!closed && from === channel) options.onMessage(message);
  });
  const subscribe = () => {
    connection.subscribe(channel).catch((error: unknown) => options.onError?.(error));
  };
  connection.on('ready', () => {
    if (closed) return;
    // Subscribing again on every connection is harmless, and needed by a client that keeps no
    // offline queue (its first SUBSCRIBE, sent before the connection was up, failed).
    subscribe();
    // The first 'ready' is the initial connection; later ones follow an outage.
    if (readyOnce) options.onResync?.();
    readyOnce = true;
  });
  subscribe();
  return {
    async close() {
      if (closed) return;
      closed = true;
      try {
        await connection.unsubscribe?.(channel);
      } catch {
        // Closing anyway.
      }
      try {
        if (typeof connection.quit === 'function') await connection.quit();
        else connection.disconnect?.();
      } catch {
        connection.disconnect?.();
      }
    },
  };
}

/** The subscriber connection for a store: the explicit one, else the client's twin, else none. */
export function subscriberFor(client: RedisDuplicableClient, explicit: RedisSubscriberClient | undefined): RedisSubscriberClient | undefined {
  if (explicit) return explicit;
  return typeof client.duplicate === 'function' ? client.duplicate() : undefined;
}
