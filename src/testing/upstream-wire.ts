/** Path both transports serve, as on api.openai.com. */
export const RESPONSES_PATH = '/v1/responses';

/** Retry-After (seconds) and retry-after-ms, as OpenAI sends them. */
export function retryHeaders(mode: { retryAfterSeconds?: number; retryAfterMs?: number }): Record<string, string> {
  const headers: Record<string, string> = {};
  if (mode.retryAfterSeconds !== undefined) headers['retry-after'] = String(mode.retryAfterSeconds);
  if (mode.retryAfterMs !== undefined) headers['retry-after-ms'] = String(mode.retryAfterMs);
  return headers;
}

/** An OpenAI-like error code for a simulated status. */
export function codeForStatus(status: number): string {
  if (status === 401) return 'invalid_api_key';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not_found';
  if (status === 426) return 'upgrade_required';
  if (status === 429) return 'rate_limit_exceeded';
  if (status >= 500) return 'server_error';
  return 'upstream_error';
}
