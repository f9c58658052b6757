import { describe, expect, test } from 'vitest';
import { ConfigError, createSessionManager, type SessionManagerOptions } from '../../src/index.js';

const ok = { wsUrl: 'ws://127.0.0.1:1/v1/responses', httpUrl: 'http://127.0.0.1:1/v1/responses', credentials: 'tok-config-0123456789' };

function configErrorOf(options: unknown): ConfigError {
  try {
    const manager = createSessionManager(options as SessionManagerOptions);
    void manager.close();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but the manager was created');
}

describe('bad configuration throws ConfigError naming the field', () => {
  test.each([
    ['endpoints missing', {}, 'endpoints'],
    ['endpoints empty', { endpoints: {} }, 'endpoints'],
    ['endpoints not an object', { endpoints: [ok] }, 'endpoints'],
    ['bad wsUrl scheme', { endpoints: { m: { ...ok, wsUrl: 'http://127.0.0.1:1/v1/responses' } } }, 'endpoints["m"].wsUrl'],
    ['bad httpUrl scheme', { endpoints: { m: { ...ok, httpUrl: 'ws://127.0.0.1:1/v1/responses' } } }, 'endpoints["m"].httpUrl'],
    ['unparseable wsUrl', { endpoints: { m: { ...ok, wsUrl: 'not a url' } } }, 'endpoints["m"].wsUrl'],
    ['credentials in the URL', { endpoints: { m: { ...ok, httpUrl: 'https://user:pw@example.com/v1/responses' } } }, 'endpoints["m"].httpUrl'],
    ['empty token', { endpoints: { m: { ...ok, credentials: '' } } }, 'endpoints["m"].credentials'],
    ['blank token', { endpoints: { m: { ...ok, credentials: '   ' } } }, 'endpoints["m"].credentials'],
    ['credentials of the wrong shape', { endpoints: { m: { ...ok, credentials: { token: 'x' } } } }, 'endpoints["m"].credentials'],
    ['upgradeBudgetMs equal to upgradeTimeoutMs', { endpoints: { m: ok }, policy: { upgradeTimeoutMs: 5_000, upgradeBudgetMs: 5_000 } }, 'policy.upgradeBudgetMs'],
    ['upgradeBudgetMs set above the upgradeTimeoutMs also set', { endpoints: { m: ok }, policy: { upgradeTimeoutMs: 2_000, upgradeBudgetMs: 3_000 } }, 'policy.upgradeBudgetMs'],
    ['negative cooldown', { endpoints: { m: ok }, policy: { cooldown: { initialMs: -1 } } }, 'policy.cooldown.initialMs'],
    ['negative cooldown cap', { endpoints: { m: ok }, policy: { cooldown: { maxMs: -5 } } }, 'policy.cooldown.maxMs'],
    ['cooldown cap below the first cooldown', { endpoints: { m: ok }, policy: { cooldown: { initialMs: 10_000, maxMs: 5_000 } } }, 'policy.cooldown.maxMs'],
    ['NaN cooldown', { endpoints: { m: ok }, policy: { cooldown: { initialMs: Number.NaN } } }, 'policy.cooldown.initialMs'],
    ['jitterRatio above 0.5', { endpoints: { m: ok }, policy: { cooldown: { jitterRatio: 0.6 } } }, 'policy.cooldown.jitterRatio'],
    ['negative jitterRatio', { endpoints: { m: ok }, policy: { cooldown: { jitterRatio: -0.1 } } }, 'policy.cooldown.jitterRatio'],
    ['multiplier below 1', { endpoints: { m: ok }, policy: { cooldown: { multiplier: 0.5 } } }, 'policy.cooldown.multiplier'],
    ['negative unsupportedTtlMs', { endpoints: { m: ok }, policy: { unsupportedTtlMs: -1 } }, 'policy.unsupportedTtlMs'],
    ['string upgradeTimeoutMs', { endpoints: { m: ok }, policy: { upgradeTimeoutMs: '8000' } }, 'policy.upgradeTimeoutMs'],
  ])('%s', (_name, options, field) => {
    const error = configErrorOf(options);
    expect(error.field).toBe(field);
    expect(error.message.startsWith(`${field}: `)).toBe(true);
    expect(error.name).toBe('ConfigError');
  });

  test('an options value that is not an object', () => {
    expect(configErrorOf(undefined).field).toBe('options');
  });

  test('a valid configuration is accepted and the resolved policy is exposed', async () => {
    const manager = createSessionManager({ endpoints: { m: ok }, policy: { upgradeBudgetMs: 500, cooldown: { jitterRatio: 0.5 } } });
    expect(manager.policy).toMatchObject({ upgradeBudgetMs: 500, upgradeTimeoutMs: 8_000, cooldown: { jitterRatio: 0.5, initialMs: 45_000 } });
    expect(manager.endpointKeys).toEqual(['m']);
    await manager.close();
  });

  test('an unknown endpoint key on session() names endpointKey', async () => {
    const manager = createSessionManager({ endpoints: { m: ok } });
    expect(() => manager.session('s1', 'nope')).toThrow(ConfigError);
    try {
      manager.session('s1', 'nope');
    } catch (error) {
      expect((error as ConfigError).field).toBe('endpointKey');
    }
    expect(manager.sessionIds).toEqual([]);
    await manager.close();
  });

  test('the token never appears in a ConfigError', () => {
    const secret = 'qzCONFIGsecretP0o9i8u7';
    const errors = [
      configErrorOf({ endpoints: { m: { ...ok, credentials: secret, wsUrl: 'ftp://x' } } }),
      configErrorOf({ endpoints: { m: { ...ok, credentials: secret }, n: { ...ok, credentials: secret, httpUrl: 'nope' } } }),
      configErrorOf({ endpoints: { m: { ...ok, credentials: secret } }, policy: { upgradeBudgetMs: 10_000, upgradeTimeoutMs: 5_000 } }),
      configErrorOf({ endpoints: { m: { ...ok, credentials: secret, headers: { Authorization: `Bearer ${secret}` } } } }),
      configErrorOf({ endpoints: { m: { ...ok, credentials: secret, wsURL: secret } } }),
    ];
    for (const error of errors) expect(`${error.message} ${JSON.stringify(error)}`).not.toContain(secret);
  });
});

describe('every option is checked at construction (issue 10)', () => {
  const base = { endpoints: { m: ok } };
  const MAX = 2 ** 31 - 1;

  test.each([
    ['a timer above 2^31−1 (Node would fire it after 1 ms)', { policy: { upgradeTimeoutMs: 2 ** 31 } }, 'policy.upgradeTimeoutMs', /at most 2147483647/],
    ['firstEventTimeoutMs above 2^31−1', { policy: { firstEventTimeoutMs: 2 ** 31 } }, 'policy.firstEventTimeoutMs', /at most 2147483647/],
    ['idleTimeoutMs of 0', { policy: { idleTimeoutMs: 0 } }, 'policy.idleTimeoutMs', /at least 1/],
    ['cooldown.maxMs above 2^31−1', { policy: { cooldown: { maxMs: 2 ** 40 } } }, 'policy.cooldown.maxMs', /at most/],
    ['a fractional timer', { policy: { minUptimeMs: 1.5 } }, 'policy.minUptimeMs', /whole number/],
    ['Infinity', { policy: { unsupportedTtlMs: Number.POSITIVE_INFINITY } }, 'policy.unsupportedTtlMs', /finite number/],
    ['policy not an object', { policy: 'fast' }, 'policy', /expected an object/],
    ['cooldown not an object', { policy: { cooldown: 5 } }, 'policy.cooldown', /expected an object/],
    ['a misspelt policy key', { policy: { upgradeTimeoutMS: 1_000 } }, 'policy.upgradeTimeoutMS', /did you mean upgradeTimeoutMs\?/],
    ['a misspelt cooldown key', { policy: { cooldown: { intialMs: 1_000 } } }, 'policy.cooldown.intialMs', /did you mean initialMs\?/],
    ['an unknown policy key with no near match', { policy: { turbo: true } }, 'policy.turbo', /unknown option \(the options of policy are cooldown, upgradeTimeoutMs/],
    ['a misspelt endpoint key', { endpoints: { m: { ...ok, httpURL: ok.httpUrl } } }, 'endpoints["m"].httpURL', /did you mean httpUrl\?/],
    ['a misspelt top-level key', { policies: {} }, 'policies', /did you mean policy\?/],
    ['store: {}', { store: {} }, 'store', /claimProbe\(\) is missing/],
    ['store with a non-function publishHealth', { store: { claimProbe: async () => ({}), publishHealth: 1 } }, 'store', /publishHealth\(\) is not a function/],
    ['store: a string', { store: 'redis://localhost' }, 'store', /expected a CoordinationStore/],
    ['clock: {}', { clock: {} }, 'clock', /now\(\) is missing/],
    ['clock whose now() is not a number', { clock: { now: () => 'soon', setTimeout() {}, clearTimeout() {} } }, 'clock', /finite number/],
    ['logger: console.log', { logger: console.log }, 'logger', /pass the object \(e\.g\. `logger: console`\)/],
    ['logger without error()', { logger: { debug() {}, info() {}, warn() {} } }, 'logger', /error\(\) is missing/],
    ['logger: true', { logger: true }, 'logger', /expected a logger object/],
    ['inspect: {}', { inspect: {} }, 'inspect', /next\(\) is missing/],
    ['inspect: a string', { inspect: 'yes' }, 'inspect', /expected a function/],
    ['protocol: {}', { endpoints: { m: { ...ok, protocol: {} } } }, 'endpoints["m"].protocol', /webSocketFrame\(\) is missing/],
    ['protocol without a name', { endpoints: { m: { ...ok, protocol: { webSocketFrame() {}, httpRequest() {}, parseWebSocketMessage() {}, parseSseEvent() {}, isTerminal() {}, providerErrorOutcome() {} } } } }, 'endpoints["m"].protocol.name', /non-empty string/],
    ['headers: a string', { endpoints: { m: { ...ok, headers: 'x-a: 1' } } }, 'endpoints["m"].headers', /expected an object/],
    ['a header with a number value', { endpoints: { m: { ...ok, headers: { 'x-team': 7 } } } }, 'endpoints["m"].headers["x-team"]', /expected a string value/],
    ['a header name with a space', { endpoints: { m: { ...ok, headers: { 'x team': 'a' } } } }, 'endpoints["m"].headers["x team"]', /not a valid HTTP header name/],
    ['a header value with a newline', { endpoints: { m: { ...ok, headers: { 'x-a': 'a\r\nx-b: c' } } } }, 'endpoints["m"].headers["x-a"]', /CR, LF/],
    ['an Authorization header', { endpoints: { m: { ...ok, headers: { Authorization: 'Bearer abcdefghijkl' } } } }, 'endpoints["m"].headers["Authorization"]', /pass the token as `credentials`/],
    ['a fractional jitterSeed', { jitterSeed: 0.5 }, 'jitterSeed', /whole number/],
  ])('%s', (_name, extra, field, message) => {
    const error = configErrorOf({ ...base, ...extra });
    expect(error.field).toBe(field);
    expect(error.message).toMatch(message);
    expect(error.message.startsWith(`${field}: `)).toBe(true);
  });

  test('timers at 2^31−1 are accepted', async () => {
    const manager = createSessionManager({ ...base, policy: { unsupportedTtlMs: MAX, idleTimeoutMs: MAX, firstEventTimeoutMs: MAX, cooldown: { maxMs: MAX } } });
    expect(manager.policy.unsupportedTtlMs).toBe(MAX);
    await manager.close();
  });

  test('console itself is a logger', async () => {
    const manager = createSessionManager({ ...base, logger: console });
    await manager.close();
  });

  test('an inspect observer with next() is accepted, and a store/clock of the right shape', async () => {
    const store = { claimProbe: async () => ({ granted: true }) as never, publishHealth: async () => {} };
    const manager = createSessionManager({ ...base, inspect: { next() {} }, store, clock: { now: () => 0, setTimeout: () => 0, clearTimeout() {} } });
    await manager.close();
  });
});

describe('rules between options derive what you left unset and fail only on two values you set', () => {
  const base = { endpoints: { m: ok } };
  async function policyOf(policy: Record<string, unknown>) {
    const manager = createSessionManager({ ...base, policy } as SessionManagerOptions);
    await manager.close();
    return manager.policy;
  }

  test('upgradeTimeoutMs 1 000 alone: the budget adapts to half of it', async () => {
    expect(await policyOf({ upgradeTimeoutMs: 1_000 })).toMatchObject({ upgradeTimeoutMs: 1_000, upgradeBudgetMs: 500 });
  });
  test('upgradeTimeoutMs 1 500 alone: a budget of 750; 3 000 alone keeps the 1 s budget', async () => {
    expect(await policyOf({ upgradeTimeoutMs: 1_500 })).toMatchObject({ upgradeTimeoutMs: 1_500, upgradeBudgetMs: 750 });
    expect(await policyOf({ upgradeTimeoutMs: 3_000 })).toMatchObject({ upgradeTimeoutMs: 3_000, upgradeBudgetMs: 1_000 });
  });
  test('upgradeBudgetMs 2 000 alone keeps the 8 s timeout', async () => {
    expect(await policyOf({ upgradeBudgetMs: 2_000 })).toMatchObject({ upgradeTimeoutMs: 8_000, upgradeBudgetMs: 2_000 });
  });
  test('upgradeBudgetMs at the timer limit alone: no timeout can be above it, so ConfigError', () => {
    expect(configErrorOf({ endpoints: { m: ok }, policy: { upgradeBudgetMs: 2 ** 31 - 1 } }).field).toBe('policy.upgradeBudgetMs');
  });
  test('upgradeTimeoutMs 1 alone: a budget of 0 (never wait)', async () => {
    expect(await policyOf({ upgradeTimeoutMs: 1 })).toMatchObject({ upgradeTimeoutMs: 1, upgradeBudgetMs: 0 });
  });
  test('upgradeBudgetMs 9 000 alone: the timeout grows to twice the budget', async () => {
    expect(await policyOf({ upgradeBudgetMs: 9_000 })).toMatchObject({ upgradeTimeoutMs: 18_000, upgradeBudgetMs: 9_000 });
  });
  test('cooldown.initialMs above the default cap alone: the cap grows to it', async () => {
    expect((await policyOf({ cooldown: { initialMs: 3_600_000 } })).cooldown).toMatchObject({ initialMs: 3_600_000, maxMs: 3_600_000 });
  });
  test('cooldown.maxMs below the default first cooldown alone: the first cooldown shrinks to it', async () => {
    expect((await policyOf({ cooldown: { maxMs: 10_000 } })).cooldown).toMatchObject({ initialMs: 10_000, maxMs: 10_000 });
  });
  test('both set and contradictory: ConfigError naming both values', () => {
    const error = configErrorOf({ ...base, policy: { upgradeTimeoutMs: 1_000, upgradeBudgetMs: 1_000 } });
    expect(error.message).toBe('policy.upgradeBudgetMs: expected less than policy.upgradeTimeoutMs (1000), got 1000: a turn may wait for an upgrade in flight only part of the upgrade\'s deadline');
  });
  test('explicit undefined counts as unset', async () => {
    expect(await policyOf({ upgradeTimeoutMs: 1_000, upgradeBudgetMs: undefined })).toMatchObject({ upgradeBudgetMs: 500 });
  });
});

describe('policy validation is driven by DEFAULT_POLICY\'s keys', () => {
  test('every key of DEFAULT_POLICY and DEFAULT_STREAM_POLICY is accepted, and a misspelling of each is refused', async () => {
    const { DEFAULT_POLICY, DEFAULT_STREAM_POLICY } = await import('../../src/index.js');
    const keys = [...Object.keys(DEFAULT_POLICY), ...Object.keys(DEFAULT_STREAM_POLICY)];
    expect(keys.length).toBeGreaterThanOrEqual(8);
    for (const key of keys) {
      const value = (DEFAULT_POLICY as unknown as Record<string, unknown>)[key] ?? (DEFAULT_STREAM_POLICY as Record<string, unknown>)[key];
      if (typeof value !== 'number') continue;
      const manager = createSessionManager({ endpoints: { m: ok }, policy: { [key]: value } });
      await manager.close();
      const misspelt = key.toUpperCase();
      const error = configErrorOf({ endpoints: { m: ok }, policy: { [misspelt]: value } });
      expect(error.message).toContain(`did you mean ${key}?`);
    }
  });

  test('every numeric field named …Ms refuses 2^31', async () => {
    const { DEFAULT_POLICY, DEFAULT_STREAM_POLICY } = await import('../../src/index.js');
    const all = { ...DEFAULT_POLICY, ...DEFAULT_STREAM_POLICY } as unknown as Record<string, unknown>;
    for (const [key, value] of Object.entries(all)) {
      if (typeof value === 'number' && key.endsWith('Ms')) expect(configErrorOf({ endpoints: { m: ok }, policy: { [key]: 2 ** 31 } }).field).toBe(`policy.${key}`);
    }
    for (const [key, value] of Object.entries(DEFAULT_POLICY.cooldown)) {
      if (typeof value === 'number' && key.endsWith('Ms')) expect(configErrorOf({ endpoints: { m: ok }, policy: { cooldown: { [key]: 2 ** 31 } } }).field).toBe(`policy.cooldown.${key}`);
    }
  });
});
