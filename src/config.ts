import { describeValue, isPlainObject } from './config-check.js';
import { ConfigError } from './errors.js';
import { checkMethods, rejectUnknownKeys } from './options.js';
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
  /** Extra headers sent on the upgrade and on HTTP requests (not for secrets: use `credentials`; `authorization` is refused). */
  headers?: Record<string, string>;
}

/** The keys an endpoint config may have; a field added to {@link EndpointConfig} must be added here (the compiler says so). */
const ENDPOINT_CONFIG_KEYS = { wsUrl: true, httpUrl: true, credentials: true, protocol: true, headers: true } as const satisfies Record<keyof EndpointConfig, true>;

const PROTOCOL_MEMBERS = {
  name: 'string',
  webSocketFrame: 'function',
  httpRequest: 'function',
  parseWebSocketMessage: 'function',
  parseSseEvent: 'function',
  isTerminal: 'function',
  providerErrorOutcome: 'function',
  isPreamble: 'optional function',
} as const satisfies Record<keyof ProviderProtocol, 'string' | 'function' | 'optional function'>;

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

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
    if (!isPlainObject(raw)) throw new ConfigError(field, `expected { wsUrl, httpUrl, credentials }, got ${describeValue(raw)}`);
    const config = raw;
    rejectUnknownKeys(field, config, Object.keys(ENDPOINT_CONFIG_KEYS));
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
    if (config['protocol'] !== undefined) checkProtocol(`${field}.protocol`, config['protocol']);
    if (config['headers'] !== undefined) checkHeaders(`${field}.headers`, config['headers']);
  }
  return endpoints as Record<string, EndpointConfig>;
}

function checkProtocol(field: string, protocol: unknown): void {
  const expected = 'a ProviderProtocol (e.g. openAIResponses) with name, webSocketFrame(), httpRequest(), parseWebSocketMessage(), parseSseEvent(), isTerminal() and providerErrorOutcome()';
  if (typeof protocol !== 'object' || protocol === null) throw new ConfigError(field, `expected ${expected}, got ${describeValue(protocol)}`);
  const methods = Object.fromEntries(Object.entries(PROTOCOL_MEMBERS).filter(([, kind]) => kind !== 'string').map(([name, kind]) => [name, kind === 'function' ? ('required' as const) : ('optional' as const)]));
  checkMethods(field, protocol, methods, expected);
  const name = (protocol as Record<string, unknown>)['name'];
  if (typeof name !== 'string' || name.length === 0) throw new ConfigError(`${field}.name`, `expected a non-empty string, got ${describeValue(name)}`);
}

function checkHeaders(field: string, headers: unknown): void {
  if (!isPlainObject(headers)) throw new ConfigError(field, `expected an object of header names to string values, got ${describeValue(headers)}`);
  for (const [name, value] of Object.entries(headers)) {
    const headerField = `${field}[${JSON.stringify(name)}]`;
    if (!HEADER_NAME.test(name)) throw new ConfigError(headerField, 'is not a valid HTTP header name');
    if (name.toLowerCase() === 'authorization') throw new ConfigError(headerField, 'the package sends its own Authorization header: pass the token as `credentials`');
    if (typeof value !== 'string') throw new ConfigError(headerField, `expected a string value, got ${describeValue(value)}`);
    if (/[\r\n\0]/.test(value)) throw new ConfigError(headerField, 'a header value must not contain CR, LF or NUL');
  }
}
