import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { DEFAULT_POLICY } from '../../machines/index.js';
import { SMALL_POLICY, upgradeOutcome } from './support/actions.js';
import { connectionOf, Driver, lastTurnOf, turnRegionOf } from './support/driver.js';
import { quietStoppedActorWarnings } from './support/quiet.js';

quietStoppedActorWarnings();

/**
 * Chart bugs found while writing the property tests, each pinned by the scenario that showed
 * it; all are fixed, and the tests stay as regressions.
 */

const UPGRADE_401 = upgradeOutcome('HTTP 401');
const UPGRADE_500 = upgradeOutcome('HTTP 500');

describe('chart bugs found by the properties (fixed), kept as regressions', () => {
  test('regression (endpoint): a claim the shared store grants gives the probe to the session that asked', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 2, harness: { sharedStore: true } });
    const h = driver.harness;
    driver.requestTurn(0);
    h.claims[0]!.resolve({ granted: true });
    // The bug: `claiming`'s exit action (answerThePendingProbeIfAny) ran before the onDone action:
    // it denied s0 ("cooling-down") and cleared pendingProbe, so the grant found nobody to grant.
    // The endpoint then sat in probeInFlight with no holder and denied everyone for a lease,
    // over and over: with a shared store no session ever upgraded.
    expect(h.endpoint.getSnapshot().context.probeHolder).toBe('s0');
    expect(h.liveUpgrade('s0'), 's0 probes').toBeDefined();
    h.stop();
  });

  test.prop([fc.constantFrom('store down', 'store hangs'), fc.constantFrom(SMALL_POLICY, DEFAULT_POLICY)], { numRuns: 4 })(
    'regression (endpoint): a shared store that fails or hangs still leaves a cooldown of a lease',
    (store, policy) => {
      const driver = new Driver({ policy, sessions: 2, harness: { sharedStore: true } });
      const h = driver.harness;
      driver.requestTurn(0);
      const askedAt = h.now();
      if (store === 'store down') h.claims[0]!.reject(new Error('store unreachable'));
      else h.advance(policy.upgradeTimeoutMs + 2_000);
      // The bug: the exit action cleared pendingProbe before the onError / lease actions ran, so they
      // returned early: no cooldown window was set and the endpoint left coolingDown at once (or at
      // a stale cooldownUntilMs), asking the failing store again immediately.
      const { value, context } = h.endpoint.getSnapshot();
      expect(value).toBe('coolingDown');
      expect(context.cooldownUntilMs, 'a cooldown window is set').toBeDefined();
      expect(context.cooldownUntilMs!).toBeGreaterThan(h.now());
      expect(context.cooldownUntilMs!).toBeGreaterThanOrEqual(askedAt + policy.upgradeTimeoutMs + 2_000);
      h.stop();
    },
  );

  test('regression (session): while sign-in is required, a turn is refused at once, not sent with the refused token', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 2 });
    const h = driver.harness;
    driver.requestTurn(0);
    h.failUpgrade(h.liveUpgrade('s0')!, UPGRADE_500); // cooling down; s0's turn goes over HTTP
    driver.report(0, 'failed: HTTP 401'); // the access token is refused: refresh
    h.refreshes[0]!.reject({ status: 401, errorCode: 'refresh_token_reused' }); // sign-in required
    expect(h.credential.getSnapshot().value).toBe('reauthRequired');
    driver.requestTurn(0); // s0 (connection in fallback) asks again
    driver.requestTurn(1); // and so does a fresh session
    // The bug: since the session asked the endpoint before the credentials, a session that was not
    // itself in reauthRequired and was denied an upgrade (cooling down, probe in flight, unsupported)
    // sent its turn over HTTP with the token the credential chart knew was refused: a request per turn
    // that could only answer 401. A session denied an upgrade now peeks at the credentials first, and
    // a turn whose refresh was refused tells its connection (since issue 12, through the turn chart).
    expect(driver.turns.get('t2')!.endings).toMatchObject([{ result: 'failed', failure: { code: 'reauth-required' } }]);
    expect(driver.turns.get('t3')!.endings).toMatchObject([{ result: 'failed', failure: { code: 'reauth-required' } }]);
    h.stop();
  });

  test('regression (session): an upgrade granted before a refresh does not start once the endpoint cools down meanwhile', () => {
    const driver = new Driver({ policy: SMALL_POLICY, sessions: 3 });
    const h = driver.harness;
    driver.requestTurn(0);
    h.openSocket(h.liveUpgrade('s0')!); // healthy
    h.advance(SMALL_POLICY.minUptimeMs); // proven: every session may upgrade
    driver.requestTurn(2);
    h.openSocket(h.liveUpgrade('s2')!); // a young socket
    driver.report(0, 'failed: HTTP 401'); // refused on the socket: the turn moves to HTTP
    driver.report(0, 'failed: HTTP 401'); // refused over HTTP too: a refresh starts
    expect(h.refreshes).toHaveLength(1);
    driver.requestTurn(1); // granted (healthy), then waits for the refresh in checkingCredentials
    expect(connectionOf(driver.session(1))).toBe('checkingCredentials');
    const s2 = driver.openSockets().findIndex((o) => o.session === driver.session(2));
    driver.apply({ do: 'close', pick: s2, code: 1006 }); // s2's socket dies young: cooling down
    expect(h.endpoint.getSnapshot().value).toBe('coolingDown');
    const upgrades = h.upgrades.length;
    driver.settleRefresh('ok');
    // The bug: s1 went straight from checkingCredentials to socket on REFRESHED: an upgrade started
    // during the cooldown (and, in half-open, beside another probe once the probe lease ran out).
    expect(h.upgrades, 'no upgrade starts during the cooldown').toHaveLength(upgrades);
    h.stop();
  });

  test.prop([fc.integer({ min: 2, max: 20 }), fc.integer({ min: 10_000, max: 120_000 })], { numRuns: 20 })(
    'regression (session): a probe is never held across a slow refresh: half-open admits one probe, however long the refresh',
    (sessions, refreshTookMs) => {
      const driver = new Driver({ policy: DEFAULT_POLICY, sessions });
      const h = driver.harness;
      driver.requestTurn(0);
      h.failUpgrade(h.liveUpgrade('s0')!, UPGRADE_401); // s0 gives the probe back and waits for the refresh
      // Every second another session asks: it is granted the probe whenever the previous lease ran
      // out, then waits for the same refresh in checkingCredentials, still "holding" the probe.
      for (let t = 0, s = 1; t < refreshTookMs; t += 1_000, s = (s % (sessions - 1)) + 1) {
        if (turnRegionOf(driver.session(s)) === 'idle') driver.requestTurn(s);
        h.advance(1_000);
        if (turnRegionOf(driver.session(s)) === 'streaming') driver.report(s, 'completed');
      }
      driver.settleRefresh('ok'); // the slow refresh lands: every waiter upgrades now
      expect(driver.probesInFlight()).toEqual([]);
      h.stop();
    },
  );

  // The bug: s3 was answered (by the exit action), but before the new cooldown was computed: it was told the previous window's end.
  test('regression (endpoint): a session waiting for a probe claim is told the new cooldown when the endpoint leaves claiming for another reason', () => {
    const driver = new Driver({ policy: SMALL_POLICY, sessions: 4, harness: { sharedStore: true } });
    const h = driver.harness;
    driver.requestTurn(0);
    h.claims[0]!.resolve({ granted: true });
    h.openSocket(h.liveUpgrade('s0')!); // healthy
    h.advance(SMALL_POLICY.minUptimeMs); // proven: every session may upgrade
    driver.requestTurn(1); // granted at once while healthy: s1's upgrade is in flight
    driver.requestTurn(2);
    h.openSocket(h.liveUpgrade('s2')!);
    h.advance(1_000);
    const s2 = driver.openSockets().findIndex((o) => o.session === driver.session(2));
    driver.apply({ do: 'close', pick: s2, code: 1006 }); // s2's socket dies young: about 1 s of cooldown
    h.advance(h.endpoint.getSnapshot().context.cooldownUntilMs! - h.now());
    driver.requestTurn(3); // s3 asks: the endpoint asks the store
    expect(h.endpoint.getSnapshot().value).toEqual({ probing: 'claiming' });
    h.failUpgrade(h.liveUpgrade('s1')!, UPGRADE_500); // the late report leaves claiming for coolingDown
    expect(h.endpoint.getSnapshot().value).toBe('coolingDown');
    expect(connectionOf(driver.session(3))).toBe('fallback');
    expect(driver.session(3).getSnapshot().context.httpUntilMs).toBe(h.endpoint.getSnapshot().context.cooldownUntilMs);
    h.stop();
  });
});

describe('fixed chart bugs, kept as regressions', () => {
  test('after a sign-in, the first 401 on the new credentials is refreshed once, not turned into a cooldown', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1 });
    const h = driver.harness;
    driver.requestTurn(0);
    h.failUpgrade(h.liveUpgrade('s0')!, UPGRADE_401);
    h.refreshes[0]!.reject({ status: 401, errorCode: 'refresh_token_reused' });
    expect(connectionOf(driver.session(0))).toBe('reauthRequired');
    h.credential.send({ type: 'CHANGED', generation: 2 }); // a person signed in again
    driver.requestTurn(0);
    const upgrade = h.liveUpgrade('s0')!;
    expect(upgrade.credentialGeneration).toBe(2);
    h.failUpgrade(upgrade, UPGRADE_401); // the new access token is refused once
    expect(h.refreshes).toHaveLength(2);
    expect(connectionOf(driver.session(0))).toBe('refreshingAuth');
    expect(h.endpoint.getSnapshot().value).not.toBe('coolingDown');
    h.stop();
  });

  test('a refresh whose retry upgrade was denied leaves the next upgrade its own refresh', () => {
    const driver = new Driver({ policy: SMALL_POLICY, sessions: 3 });
    const h = driver.harness;
    driver.requestTurn(2);
    h.openSocket(h.liveUpgrade('s2')!); // healthy
    h.advance(SMALL_POLICY.minUptimeMs); // proven: s0 and s1 upgrade side by side
    driver.requestTurn(0);
    driver.requestTurn(1);
    h.failUpgrade(h.liveUpgrade('s0')!, UPGRADE_401); // s0 waits for the refresh
    h.failUpgrade(h.liveUpgrade('s1')!, UPGRADE_500); // meanwhile the endpoint cools down
    driver.settleRefresh('ok'); // s0 asks again: denied, stays on HTTP
    expect(connectionOf(driver.session(0))).toBe('fallback');
    driver.waitUntilUpgradesAreAllowed();
    driver.report(0, 'completed');
    driver.requestTurn(0);
    h.failUpgrade(h.liveUpgrade('s0')!, UPGRADE_401); // generation 2 refused: a first 401 for this upgrade
    expect(h.refreshes).toHaveLength(2);
    expect(connectionOf(driver.session(0))).toBe('refreshingAuth');
    h.stop();
  });

  test.prop([fc.integer({ min: 1, max: 600_000 }), fc.constantFrom(SMALL_POLICY, DEFAULT_POLICY)], { numRuns: 30 })(
    'a cooldown starts at the instant its failure is observed, also after a refresh',
    (refreshTookMs, policy) => {
      const driver = new Driver({ policy, sessions: 1 });
      const h = driver.harness;
      driver.requestTurn(0);
      h.failUpgrade(h.liveUpgrade('s0')!, UPGRADE_401);
      h.advance(refreshTookMs); // the token endpoint is slow
      driver.settleRefresh('ok');
      expect(h.liveUpgrade('s0')).toBeDefined(); // the retry upgrade, which hangs
      h.advance(policy.upgradeTimeoutMs);
      const { value, context } = h.endpoint.getSnapshot();
      expect(value).toBe('coolingDown');
      expect(context.cooldownStartedAtMs).toBe(h.now());
      expect(context.cooldownUntilMs!).toBeGreaterThan(h.now());
      h.stop();
    },
  );

  test('a rejection during the refresh retry backoff does not start a refresh at once', () => {
    // Token endpoint down (503), access token expired: every turn over HTTP answers 401.
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 20 });
    const h = driver.harness;
    for (let s = 0; s < 20; s++) driver.requestTurn(s);
    h.advance(DEFAULT_POLICY.upgradeBudgetMs);
    const failures: { atMs: number; delayMs: number; count: number }[] = [];
    for (let round = 0; round < 20; round++) {
      for (let s = 0; s < 20; s++) {
        if (turnRegionOf(driver.session(s)) === 'idle') driver.requestTurn(s);
        if (turnRegionOf(driver.session(s)) === 'streaming') driver.report(s, 'failed: HTTP 401');
        const refresh = driver.activeRefresh();
        if (refresh) {
          refresh.reject({ status: 503 });
          failures.push({ atMs: h.now(), delayMs: h.credential.getSnapshot().context.retryDelayMs, count: h.refreshes.length });
        }
      }
      h.advance(100);
    }
    // After a transient failure at t with a backoff d, the next refresh starts no earlier than t + d.
    const early = h.refreshes.filter((r, index) => failures.some((f) => index >= f.count && r.startedAtMs < f.atMs + f.delayMs));
    expect(early.map((r) => r.startedAtMs), `${h.refreshes.length} refreshes in ${h.now()} ms`).toEqual([]);
    h.stop();
  });

  test('a released session is dropped from the refresh waiters', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1 });
    const h = driver.harness;
    driver.requestTurn(0);
    h.failUpgrade(h.liveUpgrade('s0')!, UPGRADE_401);
    driver.release(0);
    expect(h.credential.getSnapshot().context.waiters).toHaveLength(0);
    h.stop();
  });
});

describe('turn-path bugs of issue 12 (fixed), kept as regressions', () => {
  test('a consumer that stopped a WebSocket turn early cooled the whole endpoint down', () => {
    // The bug: a `break` closed the socket locally without telling the chart; the next turn found
    // it gone and reported a lost socket (1006, young), so the endpoint cooled down for every
    // session. Now the socket's owner reports the local end, and the chart tells nobody.
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 2 });
    const h = driver.harness;
    driver.requestTurn(0);
    const upgrade = h.liveUpgrade('s0')!;
    h.openSocket(upgrade);
    driver.report(0, 'first event');
    driver.report(0, 'cancelled');
    upgrade.sendBack({ type: 'SOCKET.CLOSED', outcome: { kind: 'closed', code: 1000, afterFirstEvent: false }, local: true, atMs: h.now() });
    expect(connectionOf(driver.session(0))).toBe('idle');
    expect(h.endpoint.getSnapshot().context).toMatchObject({ consecutiveFailures: 0, lastFailure: undefined });
    // Once the endpoint is proven (minUptimeMs after the open), another session gets its upgrade.
    h.advance(DEFAULT_POLICY.minUptimeMs);
    expect(h.endpoint.getSnapshot().context).toMatchObject({ consecutiveFailures: 0, lastFailure: undefined });
    driver.requestTurn(1);
    expect(h.liveUpgrade('s1')).toBeDefined();
    h.stop();
  });

  test('a rate-limited provider error was sent again over HTTP, like a server fault', () => {
    // The bug: every provider error but a request-fatal one moved a turn that had not yet seen an
    // event to HTTP, where a rate limit answers the same. Only transient-server and network do now.
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1 });
    const h = driver.harness;
    const turnId = driver.requestTurn(0)!;
    h.openSocket(h.liveUpgrade('s0')!);
    expect(driver.turnOf(0)!.id).toBe(turnId);
    driver.failSend(0, { kind: 'provider-error', code: 'rate_limit_exceeded', status: 429 });
    expect(turnRegionOf(driver.session(0))).toBe('idle');
    expect(lastTurnOf(driver.session(0))).toMatchObject({ result: 'failed', transport: 'websocket', failure: { class: 'rate-limited' } });
    expect(driver.turns.get(turnId)!.transports.map((t) => t.transport)).toEqual(['websocket']);
    expect(driver.turns.get(turnId)!.endings).toMatchObject([{ result: 'failed', transport: 'websocket', failure: { class: 'rate-limited' } }]);
    h.stop();
  });

  test('a released session left its turn chart among the refresh waiters', () => {
    // The bug: since the turn chart (the session's child) asks for a refresh of its own after a 401,
    // the credential chart counted it as a waiter; a released session said WAITER_GONE for itself
    // only, so its stopped turn chart stayed there until the refresh settled, and was answered then.
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1 });
    const h = driver.harness;
    driver.requestTurn(0);
    h.advance(DEFAULT_POLICY.upgradeBudgetMs);
    driver.report(0, 'failed: HTTP 401');
    expect(turnRegionOf(driver.session(0))).toBe('refreshingCredentials');
    const turn = h.turn('s0');
    expect(h.credential.getSnapshot().context.waiters).toContain(turn);
    driver.release(0);
    expect(h.credential.getSnapshot().context.waiters).toHaveLength(0);
    h.stop();
  });
});
