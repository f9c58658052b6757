import type { Outcome } from '../../machines/outcome.js';
import type { ProviderEvent } from '../../src/transports/provider.js';
import { TransportError } from '../../src/transports/transport-error.js';

/** What iterating a turn produced: the events, and the error it ended with (if any). */
export interface Collected {
  events: ProviderEvent[];
  error: unknown;
}

/** Drain a turn without throwing, so a test can assert on events and error together. */
export async function collect(iterable: AsyncIterable<ProviderEvent>): Promise<Collected> {
  const events: ProviderEvent[] = [];
  try {
    for await (const event of iterable) events.push(event);
    return { events, error: undefined };
  } catch (error) {
    return { events, error };
  }
}

/** The outcome of a TransportError; fails the test with the actual value otherwise. */
export function outcomeOf(error: unknown): Outcome {
  if (!(error instanceof TransportError)) {
    throw new Error(`expected a TransportError, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
  return error.outcome;
}

/** Await a promise expected to reject with a TransportError and return that error. */
export async function rejectionOf(promise: Promise<unknown>): Promise<TransportError> {
  try {
    await promise;
  } catch (error) {
    outcomeOf(error);
    return error as TransportError;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Event types in order, for compact assertions. */
export function typesOf(events: readonly ProviderEvent[]): string[] {
  return events.map((event) => event.type);
}

/** Resolve on the next emission of `event` on an emitter-like object. */
export function once<T extends unknown[]>(emitter: { once(event: string, listener: (...args: T) => void): unknown }, event: string): Promise<T> {
  return new Promise((resolve) => emitter.once(event, (...args: T) => resolve(args)));
}
