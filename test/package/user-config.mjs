// A user's script, run from a scratch app that installed the packed tarball (see
// pack-embed.test.ts): the configuration mistakes of issue 10, each as a user would make them.
// Prints one JSON line per case: what createSessionManager did.
import { ConfigError, createSessionManager } from 'resilient-stream';

const endpoint = { wsUrl: 'ws://127.0.0.1:9/v1/responses', httpUrl: 'http://127.0.0.1:9/v1/responses', credentials: 'sk-user-script-not-a-real-key' };
const cases = [
  ['policy { upgradeTimeoutMs: 1000 } alone', { policy: { upgradeTimeoutMs: 1000 } }],
  ['a timer of 2^31 ms', { policy: { firstEventTimeoutMs: 2 ** 31 } }],
  ['store: {}', { store: {} }],
  ['misspelt upgradeTimeoutMS', { policy: { upgradeTimeoutMS: 1000 } }],
  ['logger: console.log', { logger: console.log }],
  ['logger: console', { logger: console }],
  ['clock: {}', { clock: {} }],
  ['protocol: {}', { endpoints: { main: { ...endpoint, protocol: {} } } }],
];

for (const [name, options] of cases) {
  try {
    const manager = createSessionManager({ endpoints: { main: endpoint }, ...options });
    const { upgradeTimeoutMs, upgradeBudgetMs } = manager.policy;
    await manager.close();
    console.log(JSON.stringify({ case: name, created: true, upgradeTimeoutMs, upgradeBudgetMs }));
  } catch (error) {
    console.log(JSON.stringify({ case: name, created: false, configError: error instanceof ConfigError, name: error?.name, field: error?.field, message: error?.message }));
  }
}
