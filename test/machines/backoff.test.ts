import fc from 'fast-check';
import { createActor, fromCallback, SimulatedClock, type AnyActorRef, type EventObject } from 'xstate';
import { describe, expect, it } from 'vitest';
import {
  cooldownFloorMs,
  cooldownMs,
  createEndpointMachine,
  DEFAULT_POLICY,
  nextRandom,
  nominalCooldownMs,
  type BackoffOptions,
} from '../../machines/index.js';

/**
 * Properties of the cooldown backoff (machines/backoff.ts) and the jitter PRNG
 * (machines/random.ts), and the upgrade count per day that docs/design.md quotes.
 */

/** Options in whole milliseconds, as a policy would set them; multiplier ≥ 1 (a backoff grows). */
const options: fc.Arbitrary<BackoffOptions> = fc
  .record({
    initialMs: fc.integer({ min: 1, max: 10_000_000 }),
    extraMs: fc.integer({ min: 0, max: 1_000_000_000 }),
    multiplier: fc.oneof(fc.constantFrom(1, 1.3, 1.6, 2, 3), fc.double({ min: 1, max: 10, noNaN: true })),
    jitterRatio: fc.oneof(fc.constantFrom(0, 0.2, 0.5), fc.double({ min: 0, max: 0.5, noNaN: true })),
    retryAfterCapMs: fc.integer({ min: 0, max: 1_000_000_000 }),
  })
  .map(({ initialMs, extraMs, multiplier, jitterRatio, retryAfterCapMs }) => ({
    initialMs,
    maxMs: initialMs + extraMs,
    multiplier,
    jitterRatio,
    retryAfterCapMs,
  }));
const failures = fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 10_000 }));
const unit = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true });
const retryAfter = fc.integer({ min: 0, max: 2_000_000_000 });

describe('cooldown backoff', () => {
  it('the floor never decreases as failures accumulate', () => {
    fc.assert(
      fc.property(options, failures, failures, (o, a, b) => {
        const [few, many] = a <= b ? [a, b] : [b, a];
        expect(cooldownFloorMs(o, few)).toBeLessThanOrEqual(cooldownFloorMs(o, many));
      }),
    );
  });

  it('without Retry-After, a cooldown lies between the floor and the nominal window', () => {
    fc.assert(
      fc.property(options, failures, unit, (o, n, u) => {
        const delay = cooldownMs(o, n, u);
        expect(delay).toBeGreaterThanOrEqual(cooldownFloorMs(o, n));
        // cooldownMs rounds up to whole ms, so with a fractional nominal window (multiplier 1.6)
        // it may exceed it by less than 1 ms; with whole-ms windows it never does.
        expect(delay).toBeLessThanOrEqual(Math.ceil(nominalCooldownMs(o, n)));
        expect(Number.isInteger(delay)).toBe(true);
      }),
    );
  });

  it('with the default policy, a cooldown is within [floor, nominal] exactly', () => {
    fc.assert(
      fc.property(failures, unit, (n, u) => {
        const o = DEFAULT_POLICY.cooldown;
        const delay = cooldownMs(o, n, u);
        expect(delay).toBeGreaterThanOrEqual(cooldownFloorMs(o, n));
        expect(delay).toBeLessThanOrEqual(nominalCooldownMs(o, n));
      }),
    );
  });

  it('never goes below Retry-After, capped at retryAfterCapMs', () => {
    fc.assert(
      fc.property(options, failures, unit, retryAfter, (o, n, u, r) => {
        expect(cooldownMs(o, n, u, r)).toBeGreaterThanOrEqual(Math.min(r, o.retryAfterCapMs));
        expect(cooldownMs(o, n, u, r)).toBeGreaterThanOrEqual(cooldownMs(o, n, u));
      }),
    );
  });

  it('never goes above max(maxMs, capped Retry-After)', () => {
    fc.assert(
      fc.property(options, failures, unit, fc.option(retryAfter, { nil: undefined }), (o, n, u, r) => {
        const serverFloor = r === undefined ? 0 : Math.min(r, o.retryAfterCapMs);
        expect(cooldownMs(o, n, u, r)).toBeLessThanOrEqual(Math.max(o.maxMs, serverFloor));
      }),
    );
  });

  it('a Retry-After of days is capped (6 h by default)', () => {
    const o = DEFAULT_POLICY.cooldown;
    expect(cooldownMs(o, 1, 0, 7 * 86_400_000)).toBe(o.retryAfterCapMs);
    expect(o.retryAfterCapMs).toBe(21_600_000);
  });

  it('does not overflow: 10 000 failures (or any count) give a finite cooldown within [floor, maxMs]', () => {
    fc.assert(
      fc.property(options, unit, fc.constantFrom(10_000, 1_000_000, Number.MAX_SAFE_INTEGER), (o, u, n) => {
        const nominal = nominalCooldownMs(o, n);
        expect(Number.isFinite(nominal)).toBe(true);
        expect(nominal).toBeLessThanOrEqual(o.maxMs);
        expect(nominal).toBeGreaterThanOrEqual(nominalCooldownMs(o, 1));
        const delay = cooldownMs(o, n, u);
        expect(Number.isFinite(delay)).toBe(true);
        expect(delay).toBeLessThanOrEqual(o.maxMs);
        expect(delay).toBeGreaterThanOrEqual(cooldownFloorMs(o, n));
      }),
    );
  });

  it('reaches maxMs after enough failures when the multiplier is at least 2', () => {
    fc.assert(
      fc.property(options, unit, fc.double({ min: 2, max: 10, noNaN: true }), (o, u, multiplier) => {
        const grown = { ...o, multiplier };
        expect(nominalCooldownMs(grown, 10_000)).toBe(grown.maxMs);
        expect(cooldownMs(grown, 10_000, u)).toBeGreaterThanOrEqual(cooldownFloorMs(grown, 10_000));
      }),
    );
  });

  it('grows 45 s ×2 to 30 min with the defaults; the floor is 80 % of the window', () => {
    const o = DEFAULT_POLICY.cooldown;
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => nominalCooldownMs(o, n) / 1000)).toEqual([45, 90, 180, 360, 720, 1440, 1800, 1800]);
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => cooldownFloorMs(o, n) / 1000)).toEqual([36, 72, 144, 288, 576, 1152, 1440]);
    expect(nominalCooldownMs(o, 0)).toBe(45_000);
  });
});

describe('nextRandom', () => {
  const seeds = fc.oneof(fc.integer(), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(0, -1, 2 ** 31 - 1, -(2 ** 31)));

  it('yields values in [0, 1) and 32-bit integer seeds', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const { value, seed: next } = nextRandom(seed);
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThan(1);
        expect(Number.isInteger(next)).toBe(true);
        expect(next | 0).toBe(next);
      }),
    );
  });

  it('is deterministic: the same seed gives the same sequence', () => {
    fc.assert(
      fc.property(seeds, fc.integer({ min: 1, max: 50 }), (seed, length) => {
        const run = (): number[] => {
          const values: number[] = [];
          let s = seed;
          for (let i = 0; i < length; i++) {
            const r = nextRandom(s);
            values.push(r.value);
            s = r.seed;
          }
          return values;
        };
        expect(run()).toEqual(run());
      }),
    );
  });

  it('spreads: the mean of 10 000 draws is near 1/2', () => {
    let seed = 12_345;
    let sum = 0;
    for (let i = 0; i < 10_000; i++) {
      const r = nextRandom(seed);
      sum += r.value;
      seed = r.seed;
    }
    expect(Math.abs(sum / 10_000 - 0.5)).toBeLessThan(0.01);
  });
});

describe('an endpoint that never heals (docs/design.md, "Upgrades per day")', () => {
  const DAY = 86_400_000;

  /** Upgrades per day when sessions want a WebSocket all the time and every upgrade fails at once. */
  function upgradesPerDay(unitRandom: (failure: number) => number, days: number): number[] {
    const counts = new Array<number>(days).fill(0);
    let t = 0;
    for (let n = 1; t < days * DAY; n++) {
      counts[Math.floor(t / DAY)]! += 1;
      t += cooldownMs(DEFAULT_POLICY.cooldown, n, unitRandom(n));
    }
    return counts;
  }

  it('worst case (every jitter at the floor): 65 the first day, 60 a day after', () => {
    expect(upgradesPerDay(() => 1 - 2 ** -32, 3)).toEqual([65, 60, 60]);
  });

  it('no jitter at all (every window at nominal): 53 the first day, 48 a day after', () => {
    expect(upgradesPerDay(() => 0, 3)).toEqual([53, 48, 48]);
  });

  it('mean over seeds: about 58 the first day and 53 a day after', () => {
    let seed = 7;
    const totals = [0, 0];
    const runs = 400;
    for (let i = 0; i < runs; i++) {
      const counts = upgradesPerDay(() => {
        const r = nextRandom(seed);
        seed = r.seed;
        return r.value;
      }, 2);
      totals[0]! += counts[0]!;
      totals[1]! += counts[1]!;
    }
    expect(totals[0]! / runs).toBeGreaterThan(57.5);
    expect(totals[0]! / runs).toBeLessThan(59);
    expect(totals[1]! / runs).toBeGreaterThan(52.5);
    expect(totals[1]! / runs).toBeLessThan(54);
  });

  it('the endpoint chart itself grants no more than that, whatever the number of sessions', () => {
    const clock = new SimulatedClock();
    const endpoint = createActor(createEndpointMachine(), {
      clock,
      input: { endpointKey: 'provider/model/wss://upstream/acct', policy: DEFAULT_POLICY, jitterSeed: 99 },
    });
    endpoint.start();
    const replies: EventObject[] = [];
    const sessions: AnyActorRef[] = ['s1', 's2', 's3'].map((id) => {
      const actor = createActor(fromCallback<EventObject>(({ receive }) => receive((event) => replies.push(event))), { id });
      actor.start();
      return actor;
    });
    let granted = 0;
    let denied = 0;
    // Every session asks every 10 s for two days; every granted upgrade fails at once with a 500.
    const perDay = [0, 0];
    for (let t = 0; t < 2 * DAY; t += 10_000) {
      clock.increment(t - clock.now());
      sessions.forEach((session, i) => {
        replies.length = 0;
        endpoint.send({ type: 'PROBE_REQUESTED', sessionId: `s${i + 1}`, session, atMs: t });
        if (replies.some((r) => r.type === 'ENDPOINT.GRANTED')) {
          granted += 1;
          perDay[Math.floor(t / DAY)]! += 1;
          endpoint.send({
            type: 'UPGRADE_FAILED',
            sessionId: `s${i + 1}`,
            failure: { class: 'transient-server', summary: 'upgrade answered HTTP 500', code: '500' },
            atMs: t,
          });
        } else {
          denied += 1;
        }
      });
    }
    endpoint.stop();
    expect(perDay[0]).toBeLessThanOrEqual(65);
    expect(perDay[1]).toBeLessThanOrEqual(60);
    expect(perDay[1]).toBeGreaterThanOrEqual(45);
    expect(granted + denied).toBe(3 * (2 * DAY) / 10_000);
  });
});
