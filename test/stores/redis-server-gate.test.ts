import { describe, expect, it } from 'vitest';
import { decideRedisGate, findRedisServer, isCi } from '../support/redis-server.js';

describe('the Redis suites gate', () => {
  it('runs when redis-server is there, CI or not', () => {
    expect(decideRedisGate('/usr/bin/redis-server', {})).toBe('run');
    expect(decideRedisGate('/usr/bin/redis-server', { CI: 'true' })).toBe('run');
  });

  it('skips locally but fails under CI when redis-server is missing', () => {
    expect(decideRedisGate(undefined, {})).toBe('skip');
    expect(decideRedisGate(undefined, { CI: 'false' })).toBe('skip');
    expect(decideRedisGate(undefined, { CI: '' })).toBe('skip');
    expect(decideRedisGate(undefined, { CI: 'true' })).toBe('fail');
    expect(decideRedisGate(undefined, { CI: '1' })).toBe('fail');
  });

  it('reads CI the way CI services set it', () => {
    expect(isCi({ CI: 'true' })).toBe(true);
    expect(isCi({ CI: 'woodpecker' })).toBe(true);
    expect(isCi({ CI: '0' })).toBe(false);
    expect(isCi({})).toBe(false);
  });

  it('REDIS_SERVER names the binary, and only it is tried', () => {
    expect(findRedisServer({ REDIS_SERVER: '/nonexistent/redis-server', PATH: '/usr/bin' })).toBeUndefined();
  });
});
