import { ConfigError } from './errors.js';
import type { CredentialSource } from './auth/credential-source.js';
import type { ProviderProtocol } from './transports/provider.js';

/** One upstream endpoint a session can stream to. */
export interface EndpointConfig {
  /** WebSocket URL (`ws:` or `wss:`), e.g. `wss://api.example.com/v1/responses`. */
  wsUrl: string;
  /** HTTP URL (`http:` or `https:`) for the SSE fallback, e.g. `https://api.example.com/v1/responses`. */
  httpUrl: string;
  /** A bearer token, or a {@link CredentialSource} that can refresh it. Never logged. */
  credentials: string | CredentialSource;
  /** Wire protocol. Default: OpenAI Responses. */
  protocol?: ProviderProtocol;
  /** Extra headers sent on the upgrade and on HTTP requests (not for secrets: use `credentials`). */
  headers?: Record<string, string>;
}

/**
 * What is wrong with `value` as a URL of one of `schemes`, as a phrase that follows its name
 * ("must be a ws: or wss: URL, got http:"); `undefined` when nothing is. Shared by the
 * manager's config check and the CLI's argument check.
 */
export function urlProblem(value: unknown, schemes: readonly string[]): string | undefined {
  if (typeof value !== 'string' || value.length === 0) return 'must be a URL string';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `is not a valid URL (${schemes.join(' or ')} expected)`;
  }
  if (!schemes.includes(url.protocol)) return `must be a ${schemes.join(' or ')} URL, got ${url.protocol}`;
  if (url.username || url.password) return 'must not carry credentials in the URL: pass them as `credentials`';
  return undefined;
}

function checkUrl(field: string, value: unknown, schemes: readonly string[]): void {
  const problem = urlProblem(value, schemes);
  if (problem) throw new ConfigError(field, problem);
}

/** Validates `options.endpoints`; throws {@link ConfigError} naming the endpoint and field. */
export function checkEndpoints(endpoints: unknown): Record<string, EndpointConfig> {
  if (typeof endpoints !== 'object' || endpoints === null || Array.isArray(endpoints)) {
    throw new ConfigError('endpoints', 'expected an object mapping endpoint keys to { wsUrl, httpUrl, credentials }');
  }
  const entries = Object.entries(endpoints as Record<string, unknown>);
  if (entries.length === 0) throw new ConfigError('endpoints', 'expected at least one endpoint');
  for (const [key, raw] of entries) {
    const field = `endpoints[${JSON.stringify(key)}]`;
    if (typeof raw !== 'object' || raw === null) throw new ConfigError(field, 'expected { wsUrl, httpUrl, credentials }');
    const config = raw as Record<string, unknown>;
    checkUrl(`${field}.wsUrl`, config['wsUrl'], ['ws:', 'wss:']);
    checkUrl(`${field}.httpUrl`, config['httpUrl'], ['http:', 'https:']);
    const credentials = config['credentials'];
    if (typeof credentials === 'string') {
      if (credentials.trim().length === 0) throw new ConfigError(`${field}.credentials`, 'the token is empty');
    } else if (
      typeof credentials !== 'object' ||
      credentials === null ||
      typeof (credentials as Record<string, unknown>)['token'] !== 'function' ||
      typeof (credentials as Record<string, unknown>)['refresh'] !== 'function'
    ) {
      throw new ConfigError(`${field}.credentials`, 'expected a token string or a CredentialSource with token() and refresh()');
    }
  }
  return endpoints as Record<string, EndpointConfig>;
}
