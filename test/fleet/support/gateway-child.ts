/**
 * One gateway process of the fleet suite, built from the public API only (createSessionManager,
 * session.stream, redisStore, redisCredentialStore, oauthRefreshSource), so the suite keeps
 * testing what users wire whatever the runtime underneath becomes.
 *
 * Configured by FLEET_CHILD (JSON, see {@link GatewayChildConfig}). Speaks JSON lines:
 * stdin  `{ "cmd": "round", "id", "endpoint" }` (one turn on each session at once), `{ "cmd": "state", "id", "endpoint" }`,
 *        `{ "cmd": "exit" }`;
 * stdout `ready`, `round` results, `state` answers, `transition` (endpoint charts, wall-clock `wallMs`), `log` (warn/error/info lines).
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { createSessionManager, oauthRefreshSource, redisCredentialStore, redisStore, type EndpointConfig, type Logger, type PolicyOptions } from '../../../src/index.js';

/** What the parent passes to a child. */
export interface GatewayChildConfig {
  readonly index: number;
  readonly redisUrl: string;
  readonly keyPrefix: string;
  readonly httpUrl: string;
  /** Endpoint key → WebSocket URL; every endpoint but `authEndpoint` uses `staticToken`. */
  readonly endpoints: Readonly<Record<string, string>>;
  readonly staticToken: string;
  readonly authEndpoint: string;
  readonly tokenUrl: string;
  readonly clientId: string;
  readonly credentialId: string;
  readonly encryptionKey: string;
  readonly sessions: number;
  readonly policy: PolicyOptions;
}

const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);
const config = JSON.parse(process.env['FLEET_CHILD'] ?? '{}') as GatewayChildConfig;

const connect = () => {
  // Fail fast while Redis is down (the chart then waits a lease), reconnect every 100 ms.
  const client = new Redis(config.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 100 });
  client.on('error', () => undefined);
  return client;
};
const redis = connect();
const credentialsRedis = connect();

const logger: Logger = {
  debug: () => undefined,
  info: (_obj, msg) => print({ type: 'log', level: 'info', msg }),
  warn: (_obj, msg) => print({ type: 'log', level: 'warn', msg }),
  error: (_obj, msg) => print({ type: 'log', level: 'error', msg }),
};

// A loaded machine takes seconds to prove a probe: wait for it as long as the chart allows (leaseMs − 1 s).
const store = redisStore({ client: redis, keyPrefix: config.keyPrefix, logger, timeoutMs: 10_000, firstProbeWaitMs: 30_000 });
const credentials = oauthRefreshSource({
  tokenUrl: config.tokenUrl,
  clientId: config.clientId,
  store: redisCredentialStore({ client: credentialsRedis, credentialId: config.credentialId, keyPrefix: `${config.keyPrefix}cred:`, encryptionKeys: [{ id: 'k1', key: config.encryptionKey }] }),
});
const endpoints: Record<string, EndpointConfig> = {};
for (const [key, wsUrl] of Object.entries(config.endpoints)) {
  endpoints[key] = { wsUrl, httpUrl: config.httpUrl, credentials: key === config.authEndpoint ? credentials : config.staticToken };
}
const manager = createSessionManager({ endpoints, store, logger, policy: config.policy });
manager.on('transition', (event) => {
  if (event.actor === 'endpoint') print({ type: 'transition', endpoint: event.id, from: event.from, to: event.to, wallMs: Date.now() });
});

// Every session exists before the first turn: creating 250 actors at the first round would
// starve the event loop on a loaded machine, and a Redis answer would wait behind it.
for (const endpoint of Object.keys(config.endpoints)) {
  for (let i = 0; i < config.sessions; i += 1) manager.session(`c${config.index}-s${i}-${endpoint}`, endpoint);
}

const modelOf = (endpoint: string) => new URL(config.endpoints[endpoint]!).searchParams.get('model') ?? 'gpt-5.4';

let staleSocketRetries = 0;

async function turn(endpoint: string, i: number, attempt = 1): Promise<{ ok: boolean; transport: string; error: string }> {
  const session = manager.session(`c${config.index}-s${i}-${endpoint}`, endpoint);
  let events = 0;
  try {
    let terminal = '';
    for await (const event of session.stream({ model: modelOf(endpoint), input: 'hi' })) {
      events += 1;
      terminal = event.type;
    }
    return { ok: terminal === 'response.completed', transport: session.state.transport, error: terminal };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // A pooled keep-alive connection the upstream closed while this starved process was not
    // looking (UND_ERR_SOCKET or ECONNRESET before any event; undici does not retry a POST): retried up to twice, as a gateway would, and counted.
    // The library's HTTP transport should retry this itself; see the fleet report.
    if (attempt < 3 && events === 0 && /UND_ERR_SOCKET|ECONNRESET/.test(message)) {
      staleSocketRetries += 1;
      return turn(endpoint, i, attempt + 1);
    }
    return { ok: false, transport: session.state.transport, error: message };
  }
}

/** One turn on every session, `BATCH` sessions at a time (a loaded machine starves on 50 at once). */
const BATCH = 10;
async function round(id: number, endpoint: string): Promise<void> {
  const outcomes: Awaited<ReturnType<typeof turn>>[] = [];
  for (let start = 0; start < config.sessions; start += BATCH) {
    outcomes.push(...(await Promise.all(Array.from({ length: Math.min(BATCH, config.sessions - start) }, (_, k) => turn(endpoint, start + k)))));
  }
  print({
    type: 'round',
    id,
    completed: outcomes.filter((o) => o.ok).length,
    failed: outcomes.filter((o) => !o.ok).map((o) => o.error).slice(0, 3),
    websocket: outcomes.filter((o) => o.ok && o.transport === 'websocket').length,
    http: outcomes.filter((o) => o.ok && o.transport === 'http').length,
    staleSocketRetries,
  });
}

// Connected before the first turn: a loaded machine takes seconds to open 3 connections.
const connected = (client: Redis) => (client.status === 'ready' ? Promise.resolve() : new Promise((resolve) => client.once('ready', resolve)));
await Promise.all([connected(redis), connected(credentialsRedis)]);
if (config.authEndpoint in config.endpoints) await credentials.token();
const lines = createInterface({ input: process.stdin });
print({ type: 'ready', pid: process.pid });
for await (const line of lines) {
  const command = JSON.parse(line) as { cmd: string; id: number; endpoint: string };
  if (command.cmd === 'round') void round(command.id, command.endpoint);
  if (command.cmd === 'state') print({ type: 'state', id: command.id, ...manager.endpoint(command.endpoint).state });
  if (command.cmd === 'exit') break;
}
lines.close();
await manager.close();
await store.close?.();
redis.disconnect();
credentialsRedis.disconnect();
process.exit(0);
