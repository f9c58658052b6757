/**
 * Waiting on conditions instead of sleeping: poll `condition` until it holds, failing with
 * `message` after `timeoutMs` (a bound, not a timing assumption).
 */
export async function waitUntil(condition: () => boolean | Promise<boolean>, message: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
