import { afterAll, beforeAll, vi } from 'vitest';

/**
 * xstate's development build warns on every event sent to a stopped actor. The credential
 * chart keeps released sessions among its refresh waiters and answers them when the refresh
 * settles (see findings.test.ts), so random runs with releases print hundreds of these. Drop
 * only that warning; everything else still reaches the console.
 */
export function quietStoppedActorWarnings(): void {
  let restore: (() => void) | undefined;
  beforeAll(() => {
    const original = console.warn.bind(console);
    const spy = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => {
      if (typeof args[0] === 'string' && args[0].includes('was sent to stopped actor')) return;
      original(...args);
    });
    restore = () => spy.mockRestore();
  });
  afterAll(() => restore?.());
}
