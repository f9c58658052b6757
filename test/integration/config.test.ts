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
    ['upgradeBudgetMs above upgradeTimeoutMs', { endpoints: { m: ok }, policy: { upgradeBudgetMs: 9_000 } }, 'policy.upgradeBudgetMs'],
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
      configErrorOf({ endpoints: { m: { ...ok, credentials: secret } }, policy: { upgradeBudgetMs: 10_000 } }),
    ];
    for (const error of errors) expect(`${error.message} ${JSON.stringify(error)}`).not.toContain(secret);
  });
});
