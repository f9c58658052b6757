import { describe, expect, it } from 'vitest';
import { drainThenRelease } from '../../src/transports/http-body-release.js';

/** A body we feed by hand, recording whether the reader cancelled it. */
function controlledBody() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const state = { cancelled: false };
  const stream = new ReadableStream<Uint8Array>({
    start: (c) => {
      controller = c;
    },
    cancel: () => {
      state.cancelled = true;
    },
  });
  return { reader: stream.getReader(), controller, state };
}

describe('drainThenRelease', () => {
  it('reads a short tail to the end without cancelling, so the connection can be reused', async () => {
    const { reader, controller, state } = controlledBody();
    const draining = drainThenRelease(reader);
    controller.enqueue(new Uint8Array(5));
    controller.close();
    await draining;
    expect(state.cancelled).toBe(false);
  });

  it('cancels a tail longer than the limit', async () => {
    const { reader, controller, state } = controlledBody();
    const draining = drainThenRelease(reader, 1_000, 4);
    controller.enqueue(new Uint8Array(10));
    await draining;
    expect(state.cancelled).toBe(true);
  });

  it('cancels a tail that does not end within the grace period', async () => {
    const { reader, state } = controlledBody();
    await drainThenRelease(reader, 20);
    expect(state.cancelled).toBe(true);
  });

  it('swallows a failing body', async () => {
    const { reader, controller } = controlledBody();
    const draining = drainThenRelease(reader);
    controller.error(new Error('socket gone'));
    await expect(draining).resolves.toBeUndefined();
  });
});
