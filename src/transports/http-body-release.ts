/** After the terminal event, how long the body's end may take before the connection is dropped. */
export const TAIL_GRACE_MS = 1_000;
/** After the terminal event, how much trailing body is read before the connection is dropped. */
export const TAIL_LIMIT_BYTES = 64 * 1024;

/**
 * Read the few bytes after the terminal event (the chunked-encoding end,
 * often in a later packet) in the background, so undici can put the
 * connection back in its keep-alive pool: cancelling instead would cost a new
 * TCP and TLS handshake on every turn. Bounded in time and size; cancels if
 * either runs out. Resolves once the body is released; never rejects.
 */
export async function drainThenRelease(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  graceMs = TAIL_GRACE_MS,
  limitBytes = TAIL_LIMIT_BYTES,
): Promise<void> {
  const timer = setTimeout(() => void reader.cancel().catch(() => undefined), graceMs);
  timer.unref();
  try {
    let bytes = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      bytes += value.byteLength;
      if (bytes > limitBytes) {
        await reader.cancel();
        return;
      }
    }
  } catch {
    // The connection failed after the turn completed: nothing left to report to anyone.
  } finally {
    clearTimeout(timer);
  }
}
