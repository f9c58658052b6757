import { describe, expect, test } from 'vitest';
import { DEFAULT_POLICY } from '../../machines/index.js';
import { EndpointChart } from './support/endpoint-chart.js';

/**
 * The probe protocol as a session and a store see it (machines/endpoint-claim.ts): one lease of
 * upgradeTimeoutMs + 2 s, and how a claim to the shared store ends.
 */
const LEASE_MS = DEFAULT_POLICY.upgradeTimeoutMs + 2_000;

describe('the probe protocol', () => {
  test('a session asking while the probe is out is told the lease end from its own ask', () => {
    const c = new EndpointChart();
    c.ask('s0');
    c.advance(3_000);
    expect(c.ask('s1')).toEqual({ type: 'ENDPOINT.DENIED', reason: 'probe-in-flight', untilMs: c.now() + LEASE_MS });
    c.stop();
  });

  test('the claim asks the store for one lease, from the time the session asked', () => {
    const c = new EndpointChart({ sharedStore: true });
    const askedAtMs = c.now();
    c.ask('s0');
    expect(c.claims).toEqual([{ atMs: askedAtMs, leaseMs: LEASE_MS }]);
    c.stop();
  });

  test('a store that stays silent for a lease: the session is told to wait one lease more, and the chart cools down that long', () => {
    const c = new EndpointChart({ sharedStore: true });
    const askedAtMs = c.now();
    c.ask('s0');
    c.advance(LEASE_MS);
    expect(c.repliesOf('s0')).toEqual([{ type: 'ENDPOINT.DENIED', reason: 'probe-in-flight', untilMs: askedAtMs + 2 * LEASE_MS }]);
    expect(c.state()).toBe('coolingDown');
    expect(c.context()).toMatchObject({ cooldownStartedAtMs: askedAtMs + LEASE_MS, cooldownUntilMs: askedAtMs + 2 * LEASE_MS, pendingProbe: undefined });
    c.advance(LEASE_MS);
    expect(c.state()).toBe('probing.awaitingProbe');
    c.stop();
  });

  test('RESET while claiming answers the waiting session and forgets the claim', () => {
    const c = new EndpointChart({ sharedStore: true });
    c.ask('s0');
    c.endpoint.send({ type: 'RESET', atMs: c.now() });
    expect(c.repliesOf('s0')).toEqual([{ type: 'ENDPOINT.DENIED', reason: 'cooling-down', untilMs: c.now() + LEASE_MS }]);
    expect(c.context().pendingProbe).toBeUndefined();
    c.stop();
  });
});
