import { describe, expect, it, vi } from 'vitest';
import { PushQueue } from '../../src/transports/push-queue.js';

describe('PushQueue', () => {
  it('keeps order across buffered and awaited values', async () => {
    const queue = new PushQueue<number>();
    const waiting = queue.next();
    queue.push(1);
    queue.push(2);
    queue.push(3);
    queue.end();
    expect(await waiting).toEqual({ value: 1, done: false });
    const rest: number[] = [];
    for await (const value of queue) rest.push(value);
    expect(rest).toEqual([2, 3]);
  });

  it('delivers buffered values before a failure, unless told to drop them', async () => {
    const keep = new PushQueue<number>();
    keep.push(1);
    keep.fail(new Error('boom'));
    expect(await keep.next()).toEqual({ value: 1, done: false });
    await expect(keep.next()).rejects.toThrow('boom');
    expect(await keep.next()).toEqual({ value: undefined, done: true });

    const drop = new PushQueue<number>();
    drop.push(1);
    drop.fail(new Error('abort'), true);
    await expect(drop.next()).rejects.toThrow('abort');
  });

  it('rejects a waiting consumer on failure', async () => {
    const queue = new PushQueue<number>();
    const waiting = queue.next();
    queue.fail(new Error('closed'));
    await expect(waiting).rejects.toThrow('closed');
  });

  it('calls onReturn once when the consumer stops early, not after the end', async () => {
    const onReturn = vi.fn();
    const early = new PushQueue<number>(onReturn);
    early.push(1);
    for await (const _ of early) break;
    await early.return();
    expect(onReturn).toHaveBeenCalledTimes(1);

    const late = new PushQueue<number>(onReturn);
    late.end();
    await late.return();
    expect(onReturn).toHaveBeenCalledTimes(1);
  });
});
