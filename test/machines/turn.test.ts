import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { DEFAULT_POLICY, type Outcome, type TurnEmitted } from '../../machines/index.js';
import { actionArb, actionsArb, POLICIES, policyArb, SMALL_POLICY, upgradeOutcome } from './support/actions.js';
import { ChartHarness } from '../support/chart-harness.js';
import { assertNone, connectionOf, Driver, turnActorOf, turnRegionOf } from './support/driver.js';
import { quietStoppedActorWarnings } from './support/quiet.js';

quietStoppedActorWarnings();

/**
 * Regressions of issue 12 ("one owner per decision"): the turn chart, the session chart's child,
 * decides each turn alone and tells the facade with `turn.send` / `turn.ended`; the connection
 * chart tells it the session's transport. What the split promised is pinned here.
 */

/** Which chart received an inspected event: the machine id of the receiving actor. */
function chartOf(event: InspectionEvent): string {
  return (event.actorRef.getSnapshot() as { machine?: { id: string } }).machine?.id ?? 'other';
}

/** Every event the charts receive while `counting` (xstate's `@xstate.event`, all actors: session, its turn, endpoint, credential). */
class EventCounter {
  counting = false;
  readonly events: { chart: string; type: string }[] = [];
  readonly inspect = (event: InspectionEvent): void => {
    if (this.counting && event.type === '@xstate.event') this.events.push({ chart: chartOf(event), type: event.event.type });
  };
  /** The events `run` made the charts handle. */
  during(run: () => void): { chart: string; type: string }[] {
    this.events.length = 0;
    this.counting = true;
    try {
      run();
    } finally {
      this.counting = false;
    }
    return [...this.events];
  }
}

/** A driver whose charts report every event they receive to `counter`. */
function countedDriver(counter: EventCounter, sessions = 1, policy = DEFAULT_POLICY): Driver {
  return new Driver({ policy, sessions, harness: { inspect: counter.inspect } });
}

/** One turn as a facade on a steady session runs it: requested, then completed on the transport it was told. */
function steadyTurn(driver: Driver, slot = 0): string {
  const id = driver.requestTurn(slot)!;
  expect(turnRegionOf(driver.session(slot)), `turn ${id} was sent at once`).toBe('streaming');
  driver.report(slot, 'completed');
  return id;
}


const UPGRADE_500 = upgradeOutcome('HTTP 500');
const PROVIDER_SERVER_ERROR: Outcome = { kind: 'provider-error', code: 'server_error', status: 500 };
const PROVIDER_RATE_LIMITED: Outcome = { kind: 'provider-error', code: 'rate_limit_exceeded', status: 429 };
const PROVIDER_REQUEST_FATAL: Outcome = { kind: 'provider-error', code: 'invalid_request_error', status: 400 };
const PROVIDER_401: Outcome = { kind: 'provider-error', code: 'invalid_api_key', status: 401 };

/** A session whose socket is open and whose endpoint is proven (healthy.stable), its first turn completed. */
function onAnOpenSocket(driver: Driver): void {
  const h = driver.harness;
  driver.requestTurn(0);
  h.openSocket(h.liveUpgrade('s0')!);
  driver.report(0, 'completed');
  h.advance(driver.policy.minUptimeMs);
  expect(connectionOf(driver.session(0))).toBe('socket.open');
  expect(h.endpoint.getSnapshot().value).toEqual({ healthy: 'stable' });
}

/**
 * A session on HTTP while its endpoint cools down: its first turn's upgrade answered 500, and its
 * second turn heard the endpoint's verdict (cooling down until T), which the turn chart keeps.
 */
function whileCoolingDown(driver: Driver): number {
  const h = driver.harness;
  driver.requestTurn(0);
  h.failUpgrade(h.liveUpgrade('s0')!, UPGRADE_500);
  driver.report(0, 'completed');
  driver.requestTurn(0); // this session's own failure says nothing of when: the turn asks, and hears it
  driver.report(0, 'completed');
  const until = h.endpoint.getSnapshot().context.cooldownUntilMs!;
  expect(h.endpoint.getSnapshot().value).toBe('coolingDown');
  expect(turnActorOf(driver.session(0))!.getSnapshot().context.connection).toMatchObject({ kind: 'http', reason: 'cooling-down', untilMs: until });
  return until;
}

describe('a steady-state turn costs the charts at most two events (issue 12)', () => {
  test('on an open socket: TURN_REQUESTED and TURN_COMPLETED, both to the turn chart', () => {
    const counter = new EventCounter();
    const driver = countedDriver(counter);
    onAnOpenSocket(driver);
    for (let i = 0; i < 3; i++) {
      let id = '';
      const events = counter.during(() => (id = steadyTurn(driver)));
      expect(events).toEqual([
        { chart: 'turn', type: 'TURN_REQUESTED' },
        { chart: 'turn', type: 'TURN_COMPLETED' },
      ]);
      expect(driver.turns.get(id)!.transports).toMatchObject([{ transport: 'websocket', attempt: 1 }]);
      expect(driver.turns.get(id)!.endings).toMatchObject([{ result: 'completed', transport: 'websocket' }]);
    }
    expect(driver.harness.upgrades).toHaveLength(1);
    driver.harness.stop();
  });

  test('while the endpoint is known to cool down: the same two events, over HTTP, the endpoint not asked', () => {
    const counter = new EventCounter();
    const driver = countedDriver(counter);
    const until = whileCoolingDown(driver);
    const h = driver.harness;
    const endpointBefore = h.endpoint.getSnapshot();
    for (let i = 0; i < 5 && h.now() < until; i++) {
      let id = '';
      const events = counter.during(() => (id = steadyTurn(driver)));
      expect(events).toEqual([
        { chart: 'turn', type: 'TURN_REQUESTED' },
        { chart: 'turn', type: 'TURN_COMPLETED' },
      ]);
      expect(driver.turns.get(id)!.transports).toMatchObject([{ transport: 'http', attempt: 1, httpReason: 'cooling-down' }]);
      expect(driver.turns.get(id)!.endings).toMatchObject([{ result: 'completed', transport: 'http' }]);
      h.advance(1_000);
    }
    expect(h.endpoint.getSnapshot().context).toEqual(endpointBefore.context);
    expect(h.upgrades).toHaveLength(1);
    assertNone(driver.violations());
    h.stop();
  });
});

describe('a provider error before the first event on the WebSocket (issue 12)', () => {
  test('a transient one is sent again once, over HTTP as attempt 2; a second failure ends the turn', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1 });
    const h = driver.harness;
    onAnOpenSocket(driver);
    const id = driver.requestTurn(0)!;
    driver.failSend(0, PROVIDER_SERVER_ERROR);
    const log = driver.turns.get(id)!;
    expect(log.transports.map(({ transport, attempt, httpReason }) => ({ transport, attempt, httpReason }))).toEqual([
      { transport: 'websocket', attempt: 1, httpReason: undefined },
      { transport: 'http', attempt: 2, httpReason: 'moved-after-failure' },
    ]);
    expect(log.endings).toEqual([]);
    driver.failSend(0, PROVIDER_SERVER_ERROR);
    expect(log.transports).toHaveLength(2);
    expect(log.endings).toMatchObject([{ result: 'failed', transport: 'http', failure: { class: 'transient-server', code: 'server_error' } }]);
    // A provider's error is the turn's, not the socket's: the socket stays, the endpoint is not blamed.
    expect(connectionOf(driver.session(0))).toBe('socket.open');
    expect(h.endpoint.getSnapshot().context.consecutiveFailures).toBe(0);
    assertNone(driver.violations());
    h.stop();
  });

  test.each([
    ['rate-limited', PROVIDER_RATE_LIMITED],
    ['request-fatal', PROVIDER_REQUEST_FATAL],
  ] as const)('a %s one is not sent again: the turn ends on the WebSocket', (failureClass, outcome) => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1 });
    const h = driver.harness;
    onAnOpenSocket(driver);
    const id = driver.requestTurn(0)!;
    driver.failSend(0, outcome);
    const log = driver.turns.get(id)!;
    expect(log.transports.map((t) => t.transport)).toEqual(['websocket']);
    expect(log.endings).toMatchObject([{ result: 'failed', transport: 'websocket', failure: { class: failureClass } }]);
    expect(turnRegionOf(driver.session(0))).toBe('idle');
    expect(connectionOf(driver.session(0))).toBe('socket.open');
    expect(h.refreshes).toHaveLength(0);
    h.stop();
  });

  test('after the first event nothing is sent again, whatever the error', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1 });
    onAnOpenSocket(driver);
    const id = driver.requestTurn(0)!;
    driver.report(0, 'first event');
    driver.failSend(0, PROVIDER_SERVER_ERROR, true);
    expect(driver.turns.get(id)!.transports.map((t) => t.transport)).toEqual(['websocket']);
    expect(driver.turns.get(id)!.endings).toMatchObject([{ result: 'failed', transport: 'websocket', failure: { class: 'transient-server' } }]);
    driver.harness.stop();
  });
});

describe('a token refused inside the WebSocket stream (issue 12)', () => {
  test('condemns the socket without blaming the endpoint, refreshes once and resends over HTTP', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1 });
    const h = driver.harness;
    onAnOpenSocket(driver);
    const socket = h.liveUpgrade('s0')!;
    const endpointBefore = h.endpoint.getSnapshot();
    const id = driver.requestTurn(0)!;
    driver.failSend(0, PROVIDER_401);
    // The socket carries its handshake's token: it is closed here, nobody's fault.
    expect(connectionOf(driver.session(0))).toBe('idle');
    expect(socket.active).toBe(false);
    expect(h.endpoint.getSnapshot().value).toEqual(endpointBefore.value);
    expect(h.endpoint.getSnapshot().context.consecutiveFailures).toBe(endpointBefore.context.consecutiveFailures);
    expect(h.endpoint.getSnapshot().context.lastFailure).toBe(endpointBefore.context.lastFailure);
    expect(turnRegionOf(driver.session(0))).toBe('refreshingCredentials');
    expect(h.refreshes).toHaveLength(1);
    expect(h.refreshes[0]!.rejectedGeneration).toBe(1);
    driver.settleRefresh('ok');
    const log = driver.turns.get(id)!;
    expect(log.transports.map(({ transport, attempt, generation, httpReason }) => ({ transport, attempt, generation, httpReason }))).toEqual([
      { transport: 'websocket', attempt: 1, generation: 1, httpReason: undefined },
      { transport: 'http', attempt: 2, generation: 2, httpReason: 'moved-after-failure' },
    ]);
    driver.report(0, 'completed');
    expect(log.endings).toMatchObject([{ result: 'completed', transport: 'http' }]);
    expect(h.refreshes).toHaveLength(1);
    expect(h.endpoint.getSnapshot().context.consecutiveFailures).toBe(0);
    // The next turn upgrades afresh, with the new token.
    driver.requestTurn(0);
    expect(h.liveUpgrade('s0')).toMatchObject({ credentialGeneration: 2 });
    assertNone(driver.violations());
    h.stop();
  });

  test('after the first event: the socket is condemned all the same, the turn ends, nothing is refreshed', () => {
    const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 1 });
    const h = driver.harness;
    onAnOpenSocket(driver);
    const id = driver.requestTurn(0)!;
    driver.report(0, 'first event');
    driver.failSend(0, PROVIDER_401, true);
    expect(connectionOf(driver.session(0))).toBe('idle');
    expect(h.endpoint.getSnapshot().context.consecutiveFailures).toBe(0);
    expect(driver.turns.get(id)!.endings).toMatchObject([{ result: 'failed', transport: 'websocket', failure: { class: 'auth' } }]);
    expect(h.refreshes).toHaveLength(0);
    h.stop();
  });
});

describe('an HTTP verdict is kept only while it holds (issue 12)', () => {
  test('a change of health (the epoch) makes the next turn ask the endpoint again', () => {
    const counter = new EventCounter();
    const driver = countedDriver(counter);
    const h = driver.harness;
    whileCoolingDown(driver);
    expect(counter.during(() => steadyTurn(driver)).filter((e) => e.chart === 'endpoint')).toEqual([]);
    const epoch = h.healthEpoch;
    h.endpoint.send({ type: 'RESET', atMs: h.now() });
    expect(h.endpoint.getSnapshot().value).toEqual({ probing: 'awaitingProbe' });
    // The endpoint chart said so (`health.changed`), and the harness counted it as the manager does.
    expect(h.healthEpoch).toBeGreaterThan(epoch);
    const events = counter.during(() => driver.requestTurn(0));
    expect(events).toContainEqual({ chart: 'session', type: 'TRANSPORT.WANTED' });
    expect(events).toContainEqual({ chart: 'endpoint', type: 'PROBE_REQUESTED' });
    // The endpoint no longer cools down: the turn's session upgrades.
    expect(connectionOf(driver.session(0))).toBe('socket.connecting');
    expect(h.upgrades).toHaveLength(2);
    h.stop();
  });

  test('at the verdict\'s end the next turn asks again, without a change of health', () => {
    const counter = new EventCounter();
    const driver = countedDriver(counter);
    const h = driver.harness;
    const until = whileCoolingDown(driver);
    h.advance(until - 1 - h.now());
    expect(counter.during(() => steadyTurn(driver)).filter((e) => e.chart !== 'turn')).toEqual([]);
    h.advance(1);
    const events = counter.during(() => driver.requestTurn(0));
    expect(events).toContainEqual({ chart: 'endpoint', type: 'PROBE_REQUESTED' });
    expect(h.upgrades).toHaveLength(2);
    h.stop();
  });

  test('a verdict heard at another epoch is not trusted, even before its end', () => {
    const counter = new EventCounter();
    const driver = countedDriver(counter);
    const h = driver.harness;
    whileCoolingDown(driver);
    h.healthEpoch++; // what the manager counted since: a health or credential change somewhere
    const events = counter.during(() => steadyTurn(driver));
    // Still cooling down: asked and denied again, and the turn goes over HTTP at once all the same.
    expect(events).toContainEqual({ chart: 'endpoint', type: 'PROBE_REQUESTED' });
    expect(events).toContainEqual({ chart: 'session', type: 'ENDPOINT.DENIED' });
    // The verdict it heard now belongs to the new epoch: the next turn trusts it again.
    expect(counter.during(() => steadyTurn(driver))).toHaveLength(2);
    expect(h.upgrades).toHaveLength(1);
    h.stop();
  });
});

describe('an HTTP verdict and sign-in required elsewhere (issue 12)', () => {
  // Without the epoch (the credential chart's `credential.changed`), a session holding a cooldown
  // verdict would send its turns over HTTP with a token known to be refused.
  test(
    'a session holding a cooldown verdict asks again once another session\'s refresh was refused: its turn is refused, not sent',
    () => {
      const driver = new Driver({ policy: DEFAULT_POLICY, sessions: 2 });
      const h = driver.harness;
      whileCoolingDown(driver);
      driver.requestTurn(1); // denied: over HTTP, where the token is refused and the refresh too
      driver.report(1, 'failed: HTTP 401');
      driver.settleRefresh('reused');
      expect(h.credential.getSnapshot().value).toBe('reauthRequired');
      const id = driver.requestTurn(0)!;
      expect(driver.turns.get(id)!.transports).toEqual([]);
      expect(driver.turns.get(id)!.endings).toMatchObject([{ result: 'failed', failure: { code: 'reauth-required' } }]);
      expect(connectionOf(driver.session(0))).toBe('reauthRequired');
      h.stop();
    },
  );
});

describe('every turn ends with exactly one turn.ended (issue 12)', () => {
  test.prop([policyArb, fc.integer({ min: 1, max: 20 }), actionsArb(120, actionArb({ weights: { changed: 1, release: 1 } }))], { numRuns: 150 })(
    'whatever happens to it: completed, failed, moved, refreshed, refused, cancelled',
    (policyName, sessions, actions) => {
      const driver = new Driver({ policy: POLICIES[policyName], sessions });
      const ended = new Map<string, TurnEmitted[]>();
      const sent = new Map<string, number>();
      const listened = new WeakSet<object>();
      // Listen to each session's turn chart as a second facade would, beside the driver's own log.
      const listen = (slot: number) => {
        const turn = turnActorOf(driver.session(slot))!;
        if (listened.has(turn)) return;
        listened.add(turn);
        turn.on('turn.ended', (event) => ended.set(event.result.id, [...(ended.get(event.result.id) ?? []), event]));
        turn.on('turn.send', (event) => {
          expect(ended.has(event.turnId), `turn ${event.turnId} sent after it ended`).toBe(false);
          sent.set(event.turnId, (sent.get(event.turnId) ?? 0) + 1);
        });
      };
      for (const action of actions) {
        if ('s' in action && action.do !== 'release') listen(action.s);
        driver.apply(action);
      }
      for (let slot = 0; slot < sessions; slot++) listen(slot);
      assertNone(driver.drain());
      for (const log of driver.turns.values()) {
        const endings = ended.get(log.id) ?? [];
        if (log.abandoned) expect(endings.length, `abandoned turn ${log.id}`).toBeLessThanOrEqual(1);
        else expect(endings, `turn ${log.id} ended once`).toHaveLength(1);
        expect(log.endings).toHaveLength(endings.length);
        const result = endings[0]?.type === 'turn.ended' ? endings[0].result : undefined;
        if (result?.result === 'completed') expect(sent.get(log.id), `turn ${log.id} completed without a send`).toBeGreaterThan(0);
      }
      for (const id of ended.keys()) expect(driver.turns.has(id), `turn.ended for ${id}, never requested`).toBe(true);
      assertNone(driver.turnViolations(true));
      driver.harness.stop();
    },
  );

  test.each([
    ['completed', (d: Driver) => (d.harness.advance(d.policy.upgradeBudgetMs), d.report(0, 'completed')), 'completed'],
    ['cancelled while waiting for a transport', (d: Driver) => d.report(0, 'cancelled'), 'failed'],
    ['failed after its first event', (d: Driver) => (d.harness.advance(d.policy.upgradeBudgetMs), d.report(0, 'first event'), d.report(0, 'failed: HTTP 503')), 'failed'],
    ['refused for sign-in after its refresh was refused', (d: Driver) => (d.harness.advance(d.policy.upgradeBudgetMs), d.report(0, 'failed: HTTP 401'), d.settleRefresh('reused')), 'failed'],
    ['ended when its refresh failed', (d: Driver) => (d.harness.advance(d.policy.upgradeBudgetMs), d.report(0, 'failed: HTTP 401'), d.settleRefresh('transient 503')), 'failed'],
    ['cancelled while waiting for its refresh', (d: Driver) => (d.harness.advance(d.policy.upgradeBudgetMs), d.report(0, 'failed: HTTP 401'), d.report(0, 'cancelled')), 'failed'],
  ] as const)('%s: one turn.ended', (_name, run, result) => {
    const driver = new Driver({ policy: SMALL_POLICY, sessions: 1 });
    const id = driver.requestTurn(0)!;
    run(driver);
    expect(driver.turns.get(id)!.endings).toMatchObject([{ id, result }]);
    expect(turnRegionOf(driver.session(0))).toBe('idle');
    assertNone(driver.turnViolations(true));
    driver.harness.stop();
  });
});
