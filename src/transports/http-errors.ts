/** Error bodies are read only this far: enough for a JSON error code, never a whole page. */
const ERROR_BODY_LIMIT_BYTES = 4096;

/** A code worth printing: identifier-like and short, so a hostile body cannot inject text into logs. */
const SAFE_CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * The most specific error code in an error's `cause` chain.
 *
 * fetch rejects with a bare `TypeError('fetch failed')` (or `'terminated'`
 * mid-body); the socket's code (`ECONNREFUSED`, `ECONNRESET`, `ENOTFOUND`) or
 * undici's (`UND_ERR_SOCKET`, `UND_ERR_CONNECT_TIMEOUT`) sits in `cause`.
 * `'UNKNOWN'` when none is found.
 */
export function networkErrorCode(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && code !== '') return code;
    // AggregateError (happy eyeballs over several addresses) keeps the per-address errors in `errors`.
    const nested = (current as { errors?: unknown }).errors;
    current = (current as { cause?: unknown }).cause ?? (Array.isArray(nested) ? nested[0] : undefined);
  }
  return 'UNKNOWN';
}

/**
 * Read the start of a rejected response's body and return the provider's
 * error code (`error.code`, `error.type` or `code`), if it is JSON and the code
 * looks like an identifier. The body is always released; its text is never
 * returned, because it may echo the request.
 */
export async function readErrorCode(response: Response): Promise<string | undefined> {
  const body = response.body;
  if (body === null) return undefined;
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < ERROR_BODY_LIMIT_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    return undefined;
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return extractCode(Buffer.concat(chunks).toString('utf8'));
}

function extractCode(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const root = parsed as { error?: unknown; code?: unknown };
  const nested = typeof root.error === 'object' && root.error !== null ? (root.error as { code?: unknown; type?: unknown }) : undefined;
  for (const candidate of [nested?.code, nested?.type, root.code]) {
    if (typeof candidate === 'string' && SAFE_CODE.test(candidate)) return candidate;
  }
  return undefined;
}
