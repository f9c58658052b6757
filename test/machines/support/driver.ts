import type { Outcome } from '../../../machines/outcome.js';
import { ChartHarness, type HarnessOptions, type UpgradeRecord } from '../../support/chart-harness.js';
import {
  cooldownFloorMs,
  nominalCooldownMs,
  type Failure,
  type HttpReason,
  type Policy,
  type TransportKind,
  type TurnContext,
  type TurnEvent,
  type TurnResult,
} from '../../../machines/index.js';
import { turnFailureOutcome, upgradeOutcome, type Action, type RefreshResult, type TurnFailure, type TurnReport } from './actions.js';

export type SessionActor = ReturnType<ChartHarness['session']>;
export type TurnActor = ReturnType<ChartHarness['turn']>;

/** The session's turn chart (the connection chart's child `turn`), or undefined once the session is released. */
export function turnActorOf(session: SessionActor): TurnActor | undefined {
  return session.getSnapshot().children.turn as TurnActor | undefined;
}

/** The turn in progress on a session, as its turn chart holds it. */
export function turnOf(session: SessionActor): TurnContext | undefined {
  return turnActorOf(session)?.getSnapshot().context.turn;
}

/** How the session's latest turn ended, as its turn chart holds it. */
export function lastTurnOf(session: SessionActor): TurnResult | undefined {
  return turnActorOf(session)?.getSnapshot().context.lastTurn;
}

/**
 * The shortest cooldown the k-th consecutive failure may get: the chart's floor, and never less
 * than half the nominal window whatever the policy says (jitter takes at most 0.5 of a window,
 * see BackoffOptions.jitterRatio), so a policy or backoff that lets the floor reach 0 is caught.
 */
export function guaranteedCooldownMs(options: Policy['cooldown'], failures: number): number {
  return Math.max(cooldownFloorMs(options, failures), Math.ceil(nominalCooldownMs(options, failures) / 2));
}

/** Top-level state name of a snapshot value (`'coolingDown'`, `'probing'`, …). */
export function topState(value: unknown): string {
  return typeof value === 'string' ? value : Object.keys(value as object)[0]!;
}

/** Dotted path of a state value: `probing.probeInFlight`, `active.connection.socket.open`… for one region. */
function leafPath(value: unknown): string {
  if (typeof value === 'string') return value;
  const [key, child] = Object.entries(value as object)[0]!;
  return `${key}.${leafPath(child)}`;
}

/** The session's `connection` region as a dotted path (`idle`, `socket.connecting`, …), or `released`. */
export function connectionOf(session: SessionActor): string {
  const value = session.getSnapshot().value as unknown;
  if (typeof value === 'string') return value;
  return leafPath((value as { active: { connection: unknown } }).active.connection);
}

/** The state of the session's turn chart (`idle`, `awaitingTransport`, `streaming`, `refreshingCredentials`), or `released`. */
export function turnRegionOf(session: SessionActor): string {
  const turn = turnActorOf(session);
  if (typeof session.getSnapshot().value === 'string' || !turn) return 'released';
  return turn.getSnapshot().value as string;
}

/** One stay of the endpoint chart in a top-level state. */
export interface EndpointPhase {
  readonly state: string;
  readonly from: string | undefined;
  readonly enteredAtMs: number;
  readonly enteredSeq: number;
  exitedAtMs: number | undefined;
  exitedSeq: number | undefined;
  readonly cooldownStartedAtMs: number | undefined;
  readonly cooldownUntilMs: number | undefined;
  readonly consecutiveFailures: number;
  readonly failure: Failure | undefined;
  /** Entered because a failure was reported (the chart recorded a new failure), not because a shared store said so. */
  readonly byFailure: boolean;
}

/** Everything observed about one requested turn. */
export interface TurnLog {
  readonly id: string;
  readonly sessionId: string;
  readonly requestedAtMs: number;
  readonly requestedSeq: number;
  readonly endpointAtRequest: string;
  readonly connectionAtRequest: string;
  /** The credential chart's state when the turn was asked: a session asking during a refresh waits for it. */
  readonly credentialAtRequest: string;
  /** Each send of the turn (the turn chart's `turn.send`), with the token generation it carried (the credential's at that instant). */
  readonly transports: {
    readonly transport: TransportKind;
    readonly atMs: number;
    readonly attempt: number;
    readonly generation: number;
    readonly httpReason: HttpReason | undefined;
  }[];
  /** When the facade saw the turn's first event (it tells the chart only in a later `TURN_FAILED`, as `afterFirstEvent`). */
  firstEventAtMs: number | undefined;
  /** The turn chart's `turn.ended` events for this turn, with when they came. */
  readonly endings: (TurnResult & { readonly atMs: number })[];
  /** Its session was released before it ended. */
  abandoned: boolean;
}

export interface DriverOptions {
  readonly policy: Policy;
  readonly sessions: number;
  readonly jitterSeed?: number;
  readonly harness?: HarnessOptions;
}

/**
 * Applies {@link Action}s to a {@link ChartHarness} and records what the charts did: endpoint
 * phases, upgrades, turns, refreshes. The invariant checks read these logs.
 */
export class Driver {
  readonly harness: ChartHarness;
  readonly policy: Policy;
  readonly phases: EndpointPhase[] = [];
  readonly turns = new Map<string, TurnLog>();
  /** Current session id of each slot; a released slot gets a fresh id. */
  readonly slotIds: string[];
  readonly released: SessionActor[] = [];
  /** The turn charts of the released sessions (stopped with them). */
  readonly releasedTurns: TurnActor[] = [];
  /** Credential chart states with the seq they were entered at. */
  readonly credentialPhases: { state: string; enteredSeq: number; enteredAtMs: number }[] = [];
  /** Upgrades refused as unsupported (426, 404) while the endpoint probed or was healthy, and what followed. */
  readonly refusals: { readonly atMs: number; readonly answer: string; readonly before: string; readonly after: string }[] = [];
  /** What the turn charts emitted that no facade could act on (a send or an end of a turn that is not in progress). */
  readonly strayEmits: string[] = [];
  private turnCounter = 0;
  private readonly slotGenerations: number[];

  constructor(options: DriverOptions) {
    this.policy = options.policy;
    this.harness = new ChartHarness(options.policy, options.jitterSeed ?? 1, options.harness ?? {});
    this.slotIds = Array.from({ length: options.sessions }, (_, i) => `s${i}`);
    this.slotGenerations = Array.from({ length: options.sessions }, () => 0);
    this.watchEndpoint();
    this.watchCredential();
  }

  get now(): number {
    return this.harness.now();
  }

  private watchEndpoint(): void {
    const endpoint = this.harness.endpoint;
    let lastFailure = endpoint.getSnapshot().context.lastFailure;
    const record = (snapshot: ReturnType<typeof endpoint.getSnapshot>) => {
      const state = topState(snapshot.value);
      const last = this.phases[this.phases.length - 1];
      const byFailure = snapshot.context.lastFailure !== lastFailure;
      lastFailure = snapshot.context.lastFailure;
      if (last && last.state === state) return;
      const seq = this.harness.nextSeq();
      if (last) {
        last.exitedAtMs = this.now;
        last.exitedSeq = seq;
      }
      this.phases.push({
        state,
        from: last?.state,
        enteredAtMs: this.now,
        enteredSeq: seq,
        exitedAtMs: undefined,
        exitedSeq: undefined,
        cooldownStartedAtMs: snapshot.context.cooldownStartedAtMs,
        cooldownUntilMs: snapshot.context.cooldownUntilMs,
        consecutiveFailures: snapshot.context.consecutiveFailures,
        failure: snapshot.context.lastFailure,
        byFailure,
      });
    };
    record(endpoint.getSnapshot());
    endpoint.subscribe({ next: record, error: () => {} });
  }

  private watchCredential(): void {
    const credential = this.harness.credential;
    const record = (snapshot: ReturnType<typeof credential.getSnapshot>) => {
      const state = topState(snapshot.value);
      const last = this.credentialPhases[this.credentialPhases.length - 1];
      if (last && last.state === state) return;
      this.credentialPhases.push({ state, enteredSeq: this.harness.nextSeq(), enteredAtMs: this.now });
    };
    record(credential.getSnapshot());
    credential.subscribe({ next: record, error: () => {} });
  }

  /** The live session of a slot, created (and watched) on first use. */
  session(slot: number): SessionActor {
    const index = slot % this.slotIds.length;
    const id = this.slotIds[index]!;
    const existing = this.harness.sessions.get(id);
    if (existing) return existing;
    const actor = this.harness.session(id);
    this.watchTurns(id, turnActorOf(actor)!);
    return actor;
  }

  /**
   * Records what the session's turn chart tells the facade, as the facade hears it: `turn.send`
   * (send the turn, again) and `turn.ended`. Emitted events only: no snapshot is read.
   */
  private watchTurns(sessionId: string, turnActor: TurnActor): void {
    turnActor.on('turn.send', (event) => {
      const log = this.turns.get(event.turnId);
      if (!log || log.sessionId !== sessionId || log.endings.length > 0) {
        this.strayEmits.push(`${sessionId} was told to send turn ${event.turnId} (attempt ${event.attempt}) at ${this.now} ms, which is not in progress there`);
        return;
      }
      const generation = this.harness.credential.getSnapshot().context.generation;
      log.transports.push({ transport: event.transport, atMs: this.now, attempt: event.attempt, generation, httpReason: event.httpReason });
    });
    turnActor.on('turn.ended', (event) => {
      const log = this.turns.get(event.result.id);
      if (!log || log.sessionId !== sessionId) {
        this.strayEmits.push(`${sessionId} ended turn ${event.result.id} at ${this.now} ms, which it never started`);
        return;
      }
      log.endings.push({ ...event.result, atMs: this.now });
    });
  }

  /** Live sessions, by slot order. */
  liveSessions(): SessionActor[] {
    return this.slotIds.map((id) => this.harness.sessions.get(id)).filter((s): s is SessionActor => s !== undefined);
  }

  private upgradesIn(state: 'socket.connecting' | 'socket.open'): { session: SessionActor; record: UpgradeRecord }[] {
    const found: { session: SessionActor; record: UpgradeRecord }[] = [];
    for (const session of this.liveSessions()) {
      if (connectionOf(session) !== state) continue;
      const record = this.harness.liveUpgrade(session.getSnapshot().context.sessionId);
      if (record) found.push({ session, record });
    }
    return found;
  }

  connecting() {
    return this.upgradesIn('socket.connecting');
  }

  openSockets() {
    return this.upgradesIn('socket.open');
  }

  activeRefresh() {
    return this.harness.refreshes.find((r) => r.active);
  }

  /** Requests a turn on a slot; returns its id, or undefined if a turn is already in progress there. */
  requestTurn(slot: number): string | undefined {
    const session = this.session(slot);
    if (turnRegionOf(session) !== 'idle') return undefined;
    const id = `t${++this.turnCounter}`;
    this.turns.set(id, {
      id,
      sessionId: session.getSnapshot().context.sessionId,
      requestedAtMs: this.now,
      requestedSeq: this.harness.nextSeq(),
      endpointAtRequest: topState(this.harness.endpoint.getSnapshot().value),
      connectionAtRequest: connectionOf(session),
      credentialAtRequest: topState(this.harness.credential.getSnapshot().value),
      transports: [],
      firstEventAtMs: undefined,
      endings: [],
      abandoned: false,
    });
    this.sendTurn(slot, { type: 'TURN_REQUESTED', turnId: id, atMs: this.now, healthEpoch: this.harness.healthEpoch });
    return id;
  }

  /** Sends an event to a slot's turn chart, as the facade does. */
  sendTurn(slot: number, event: TurnEvent): void {
    turnActorOf(this.session(slot))!.send(event);
  }

  /** The turn in progress on a slot, as its turn chart holds it. */
  turnOf(slot: number): TurnContext | undefined {
    return turnOf(this.session(slot));
  }

  /** Whether the facade already saw an event of the slot's turn in progress. */
  firstEventSeen(slot: number): boolean {
    const turn = this.turnOf(slot);
    return turn !== undefined && this.turns.get(turn.id)?.firstEventAtMs !== undefined;
  }

  /** The token generation the current send of a slot's turn carried. */
  generationOfTurn(slot: number): number {
    const session = this.session(slot);
    const turn = turnOf(session);
    const sends = turn ? this.turns.get(turn.id)?.transports : undefined;
    return sends?.[sends.length - 1]?.generation ?? session.getSnapshot().context.credentialGeneration;
  }

  /** Fails the send of a slot's turn in progress with `outcome`, as the facade reports it (the token generation the send carried). */
  failSend(slot: number, outcome: Outcome, afterFirstEvent = false): void {
    const turn = this.turnOf(slot);
    if (!turn) throw new Error(`slot ${slot}: no turn in progress to fail`);
    const credentialGeneration = this.generationOfTurn(slot);
    this.sendTurn(slot, { type: 'TURN_FAILED', turnId: turn.id, outcome, atMs: this.now, credentialGeneration, afterFirstEvent });
  }

  /** What the facade reports about a slot's streaming turn (no-op unless one streams), or the caller cancelling its turn. */
  report(slot: number, what: TurnReport): void {
    const session = this.session(slot);
    const turn = turnOf(session);
    if (turn && what === 'cancelled') {
      this.sendTurn(slot, { type: 'TURN_CANCELLED', turnId: turn.id, atMs: this.now });
      return;
    }
    if (!turn || turnRegionOf(session) !== 'streaming') return;
    const log = this.turns.get(turn.id);
    // The facade keeps the first event to itself: the chart hears of it only with a failure.
    if (what === 'first event') {
      if (log && log.firstEventAtMs === undefined) log.firstEventAtMs = this.now;
    } else if (what === 'completed') this.sendTurn(slot, { type: 'TURN_COMPLETED', turnId: turn.id, atMs: this.now });
    else {
      const failure = what.slice('failed: '.length) as TurnFailure;
      const afterFirstEvent = this.firstEventSeen(slot);
      this.failSend(slot, turnFailureOutcome(failure, afterFirstEvent), afterFirstEvent);
    }
  }

  release(slot: number): void {
    const index = slot % this.slotIds.length;
    const id = this.slotIds[index]!;
    const session = this.harness.sessions.get(id);
    if (!session) return;
    const turn = turnOf(session);
    if (turn) {
      const log = this.turns.get(turn.id);
      if (log) log.abandoned = true;
    }
    const turnActor = turnActorOf(session);
    this.harness.release(id);
    this.released.push(session);
    if (turnActor) this.releasedTurns.push(turnActor);
    this.slotGenerations[index] = this.slotGenerations[index]! + 1;
    this.slotIds[index] = `s${index}~${this.slotGenerations[index]}`;
  }

  settleRefresh(result: RefreshResult): void {
    const refresh = this.activeRefresh();
    if (!refresh) return;
    if (result === 'ok') refresh.resolve({ generation: this.harness.credential.getSnapshot().context.generation + 1, atMs: this.now });
    else if (result === 'transient 503') refresh.reject({ status: 503 });
    else refresh.reject({ status: 401, errorCode: 'refresh_token_reused' });
  }

  changeCredentials(): void {
    this.harness.credential.send({ type: 'CHANGED', generation: this.harness.credential.getSnapshot().context.generation + 1 });
  }

  apply(action: Action): void {
    switch (action.do) {
      case 'turn':
        this.requestTurn(action.s);
        return;
      case 'answer': {
        const inFlight = this.connecting();
        if (inFlight.length === 0) return;
        const { record } = inFlight[action.pick % inFlight.length]!;
        const before = topState(this.harness.endpoint.getSnapshot().value);
        if (action.with === 'open') this.harness.openSocket(record);
        else this.harness.failUpgrade(record, upgradeOutcome(action.with));
        if ((action.with === 'HTTP 426' || action.with === 'HTTP 404') && (before === 'probing' || before === 'healthy')) {
          this.refusals.push({ atMs: this.now, answer: action.with, before, after: topState(this.harness.endpoint.getSnapshot().value) });
        }
        return;
      }
      case 'close': {
        const open = this.openSockets();
        if (open.length === 0) return;
        const { session, record } = open[action.pick % open.length]!;
        const slot = this.slotIds.indexOf(session.getSnapshot().context.sessionId);
        const turn = turnOf(session);
        const credentialGeneration = this.generationOfTurn(slot);
        const afterFirstEvent = this.firstEventSeen(slot);
        this.harness.closeSocket(record, { kind: 'closed', code: action.code, afterFirstEvent });
        // The facade sees a WebSocket turn in progress die with its socket.
        if (turn && turn.transport === 'websocket' && turnRegionOf(session) === 'streaming') {
          this.sendTurn(slot, {
            type: 'TURN_FAILED',
            turnId: turn.id,
            outcome: { kind: 'closed', code: action.code === 1000 ? 1006 : action.code, afterFirstEvent },
            atMs: this.now,
            credentialGeneration,
            afterFirstEvent,
          });
        }
        return;
      }
      case 'report':
        this.report(action.s, action.what);
        return;
      case 'release':
        this.release(action.s);
        return;
      case 'advance':
        this.harness.advance(action.ms);
        return;
      case 'refresh':
        this.settleRefresh(action.result);
        return;
      case 'credentials changed':
        this.changeCredentials();
        return;
    }
  }

  run(actions: readonly Action[]): this {
    for (const action of actions) this.apply(action);
    return this;
  }

  /** Advances past cooldowns, latches and upgrades in flight until the endpoint would grant a probe. */
  waitUntilUpgradesAreAllowed(): void {
    for (let i = 0; i < 50; i++) {
      const { value, context } = this.harness.endpoint.getSnapshot();
      const state = topState(value);
      if (state === 'coolingDown' || state === 'unsupported') this.harness.advance(Math.max(1, context.cooldownUntilMs! - this.now));
      else if (this.connecting().length > 0 || JSON.stringify(value).includes('probeInFlight')) this.harness.advance(this.policy.upgradeTimeoutMs + 2_000);
      else return;
    }
    throw new Error('the endpoint never allowed an upgrade again');
  }

  /**
   * Brings every turn in progress to an end the way a facade would: waits out the budget,
   * lets refreshes succeed, completes streams. Returns a violation if a turn cannot end.
   */
  drain(): string[] {
    for (let round = 0; round < 10; round++) {
      let busy = false;
      for (const session of this.liveSessions()) {
        const region = turnRegionOf(session);
        if (region === 'idle') continue;
        busy = true;
        if (region === 'awaitingTransport') this.harness.advance(this.policy.upgradeBudgetMs);
        else if (region === 'streaming') {
          const turn = turnOf(session)!;
          turnActorOf(session)!.send({ type: 'TURN_COMPLETED', turnId: turn.id, atMs: this.now });
        } else if (region === 'refreshingCredentials') {
          if (this.activeRefresh()) this.settleRefresh('ok');
          else return [`${session.getSnapshot().context.sessionId} waits for a refresh that nobody runs`];
        }
      }
      if (!busy) return [];
    }
    return this.liveSessions()
      .filter((s) => turnRegionOf(s) !== 'idle')
      .map((s) => `${s.getSnapshot().context.sessionId}'s turn never ends (turn region ${turnRegionOf(s)})`);
  }

  // ---------------------------------------------------------------------------------------
  // Invariants. Each returns human-readable violations; an empty list means it holds.
  // ---------------------------------------------------------------------------------------

  /** Cooldown and unsupported stays of the endpoint. */
  coolingPhases(): EndpointPhase[] {
    return this.phases.filter((p) => p.state === 'coolingDown' || p.state === 'unsupported');
  }

  /** Property 1/4: no upgrade starts after a cooldown (or latch) began and before its end. */
  upgradesDuringCooldown(states: readonly string[] = ['coolingDown', 'unsupported']): string[] {
    const violations: string[] = [];
    for (const phase of this.coolingPhases().filter((p) => states.includes(p.state))) {
      for (const upgrade of this.harness.upgrades) {
        if (upgrade.seq < phase.enteredSeq) continue;
        const beforeUntil = phase.cooldownUntilMs !== undefined && upgrade.startedAtMs < phase.cooldownUntilMs;
        const whileIn = phase.exitedSeq === undefined || upgrade.seq < phase.exitedSeq;
        if (beforeUntil || whileIn) {
          violations.push(
            `${upgrade.sessionId} started an upgrade at ${upgrade.startedAtMs} ms during the ${phase.state} entered at ${phase.enteredAtMs} ms until ${phase.cooldownUntilMs} ms`,
          );
        }
      }
      if (phase.exitedAtMs !== undefined && phase.cooldownUntilMs !== undefined && phase.exitedAtMs < phase.cooldownUntilMs) {
        const next = this.phases[this.phases.indexOf(phase) + 1];
        if (next?.state !== 'stopped') {
          violations.push(`the ${phase.state} until ${phase.cooldownUntilMs} ms ended early, at ${phase.exitedAtMs} ms`);
        }
      }
    }
    return violations;
  }

  /**
   * Property 2: the k-th cooldown of a failure streak (no healthy stay of minUptimeMs in between)
   * lasts at least the floor for k and at most max(nominal(k), capped Retry-After); the chart
   * counts the streak as the test does.
   */
  cooldownFloors(): string[] {
    const violations: string[] = [];
    const options = this.policy.cooldown;
    let streak = 0;
    for (const phase of this.phases) {
      if (phase.state === 'healthy') {
        const end = phase.exitedAtMs ?? this.now;
        if (end - phase.enteredAtMs >= this.policy.minUptimeMs) streak = 0;
        continue;
      }
      if (phase.state !== 'coolingDown' || !phase.byFailure) continue;
      streak++;
      const duration = phase.cooldownUntilMs! - phase.cooldownStartedAtMs!;
      const floor = guaranteedCooldownMs(options, streak);
      const retryAfter = phase.failure?.retryAfterMs;
      const ceiling = Math.max(nominalCooldownMs(options, streak), retryAfter === undefined ? 0 : Math.min(retryAfter, options.retryAfterCapMs));
      if (phase.consecutiveFailures !== streak) {
        violations.push(`cooldown at ${phase.enteredAtMs} ms: the chart counts ${phase.consecutiveFailures} consecutive failures, the streak is ${streak}`);
      }
      if (duration < floor) violations.push(`cooldown #${streak} at ${phase.enteredAtMs} ms lasts ${duration} ms, below its floor ${floor} ms`);
      if (duration > ceiling) violations.push(`cooldown #${streak} at ${phase.enteredAtMs} ms lasts ${duration} ms, above ${ceiling} ms`);
      if (streak > 1 && floor < guaranteedCooldownMs(options, streak - 1)) violations.push(`floor shrank at failure ${streak}`);
    }
    return violations;
  }

  /** Property 4: a latch lasts exactly the TTL, and no upgrade starts meanwhile (see upgradesDuringCooldown). */
  latches(): string[] {
    const violations: string[] = [];
    for (const refusal of this.refusals) {
      if (refusal.after !== 'unsupported') {
        violations.push(`${refusal.answer} at ${refusal.atMs} ms while ${refusal.before} did not latch HTTP (endpoint ${refusal.after})`);
      }
    }
    for (const phase of this.phases.filter((p) => p.state === 'unsupported' && p.byFailure)) {
      if (phase.failure?.class !== 'unsupported') violations.push(`latched at ${phase.enteredAtMs} ms without an unsupported failure`);
      if (phase.cooldownUntilMs !== phase.cooldownStartedAtMs! + this.policy.unsupportedTtlMs) {
        violations.push(`latch at ${phase.enteredAtMs} ms ends at ${phase.cooldownUntilMs} ms, not after the TTL`);
      }
      if (phase.exitedAtMs !== undefined && this.phases[this.phases.indexOf(phase) + 1]?.state === 'probing' && phase.exitedAtMs !== phase.cooldownUntilMs) {
        violations.push(`latch until ${phase.cooldownUntilMs} ms was lifted at ${phase.exitedAtMs} ms`);
      }
    }
    return violations;
  }

  /** Half-open admits one probe: while probing, at most one upgrade started in this stay is in flight. */
  probesInFlight(): string[] {
    const current = this.phases[this.phases.length - 1]!;
    if (current.state !== 'probing') return [];
    const inFlight = this.connecting().filter(({ record }) => record.seq > current.enteredSeq);
    return inFlight.length > 1 ? [`${inFlight.length} probes in flight at ${this.now} ms: ${inFlight.map((u) => u.record.sessionId).join(', ')}`] : [];
  }

  /**
   * Property 3: every turn ends at most once (exactly once when `final`), with a transport or a
   * classified failure; a transport within upgradeBudgetMs (at once while the endpoint cools down);
   * at most one switch, to HTTP, and none after the first event.
   */
  turnViolations(final: boolean): string[] {
    const violations: string[] = [...this.strayEmits];
    const budget = this.policy.upgradeBudgetMs;
    for (const log of this.turns.values()) {
      const name = `turn ${log.id} of ${log.sessionId} (requested at ${log.requestedAtMs} ms)`;
      if (log.endings.length > 1) violations.push(`${name} ended ${log.endings.length} times`);
      const attempts = log.transports.map((t) => t.attempt);
      if (attempts.some((a, i) => a !== i + 1)) violations.push(`${name} was sent as attempts ${attempts.join(', ')}, not 1, 2, …`);
      if (final && log.endings.length === 0 && !log.abandoned) violations.push(`${name} never ended`);
      const ending = log.endings[0];
      const first = log.transports[0];
      const settledAt = Math.min(first?.atMs ?? Infinity, ending?.atMs ?? Infinity);
      if (settledAt === Infinity) {
        if (!log.abandoned && this.now - log.requestedAtMs >= budget) violations.push(`${name} still waits for a transport at ${this.now} ms`);
      } else if (settledAt - log.requestedAtMs > budget) {
        violations.push(`${name} waited ${settledAt - log.requestedAtMs} ms for a transport (budget ${budget} ms)`);
      }
      const coolingAtRequest = log.endpointAtRequest === 'coolingDown' || log.endpointAtRequest === 'unsupported';
      const noUpgradeOfItsOwn = ['idle', 'fallback', 'reauthRequired'].includes(log.connectionAtRequest);
      // A turn asked while a refresh runs waits for the refresh (at most the budget), not for the cooldown.
      const refreshInFlight = log.credentialAtRequest === 'refreshing';
      if (coolingAtRequest && noUpgradeOfItsOwn && !refreshInFlight && settledAt !== log.requestedAtMs) {
        violations.push(`${name} waited for a cooldown: the endpoint was ${log.endpointAtRequest}, it settled at ${settledAt} ms`);
      }
      if (log.connectionAtRequest === 'socket.open' && (first?.transport !== 'websocket' || first.atMs !== log.requestedAtMs)) {
        violations.push(`${name} did not take the open socket at once`);
      }
      const kinds = log.transports.map((t) => t.transport).filter((t, i, all) => i === 0 || all[i - 1] !== t);
      if (kinds.length > 2 || (kinds.length === 2 && !(kinds[0] === 'websocket' && kinds[1] === 'http'))) {
        violations.push(`${name} moved between transports: ${kinds.join(' -> ')}`);
      }
      if (log.firstEventAtMs !== undefined) {
        const before = log.transports.filter((t) => t.atMs <= log.firstEventAtMs!).pop();
        const after = log.transports.filter((t) => t.atMs > log.firstEventAtMs!);
        if (after.some((t) => t.transport !== before?.transport)) violations.push(`${name} switched transport after its first event`);
      }
      if (ending) {
        if (ending.result === 'completed') {
          const last = log.transports[log.transports.length - 1]?.transport;
          if (ending.transport === undefined || ending.transport !== last) {
            violations.push(`${name} completed over ${ending.transport} but was last sent over ${last}`);
          }
        } else if (!ending.failure?.class) violations.push(`${name} failed without a classified failure`);
      }
    }
    return violations;
  }

  /** Single flight: at most one refresh runs at a time, and a generation is refreshed again only after a transient failure. */
  refreshViolations(): string[] {
    const active = this.harness.refreshes.filter((r) => r.active).length;
    return active > 1 ? [`${active} refreshes in flight at once`] : [];
  }

  /** Property 5: while sign-in is required, no upgrade and no refresh starts. */
  reauthViolations(): string[] {
    const violations: string[] = [];
    const phases = this.credentialPhases;
    phases.forEach((phase, i) => {
      if (phase.state !== 'reauthRequired') return;
      const endSeq = phases[i + 1]?.enteredSeq ?? Infinity;
      const inside = (seq: number) => seq > phase.enteredSeq && seq < endSeq;
      for (const u of this.harness.upgrades.filter((u) => inside(u.seq))) {
        violations.push(`${u.sessionId} started an upgrade at ${u.startedAtMs} ms while sign-in was required`);
      }
      for (const r of this.harness.refreshes.filter((r) => inside(r.seq))) {
        violations.push(`a refresh started at ${r.startedAtMs} ms while sign-in was required`);
      }
    });
    return violations;
  }

  /** Property 7: a released session keeps no timer, no child and no live socket recorder. */
  leftovers(): string[] {
    const violations: string[] = [];
    for (const session of this.released) {
      const id = session.getSnapshot().context.sessionId;
      const timers = this.harness.scheduledEventsOf(session);
      if (timers > 0) violations.push(`released ${id} still has ${timers} scheduled timers`);
      const children = Object.keys(session.getSnapshot().children);
      if (children.length > 0) violations.push(`released ${id} still has children ${children.join(', ')}`);
      if (this.harness.upgrades.some((u) => u.sessionId === id && u.active)) violations.push(`released ${id} still has a live socket`);
    }
    // Nobody answers a released session or its turn chart: they left the credential chart's waiters.
    const { waiters, loadWaiters } = this.harness.credential.getSnapshot().context;
    const gone = new Set<unknown>([...this.released, ...this.releasedTurns]);
    const left = [...waiters, ...loadWaiters.map((w) => w.session)].filter((w) => gone.has(w));
    if (left.length > 0) violations.push(`${left.length} released session(s) or turn chart(s) still wait for a refresh or a token`);
    const owned =
      this.harness.scheduledEventsOf(this.harness.endpoint) +
      this.harness.scheduledEventsOf(this.harness.credential) +
      this.liveSessions().reduce((sum, s) => sum + this.harness.scheduledEventsOf(s), 0);
    const onClock = this.harness.pendingClockTimers();
    if (onClock !== owned) violations.push(`${onClock} timers on the clock but live actors own ${owned}`);
    return violations;
  }

  /** Every invariant that must hold at any point of a run. */
  violations(): string[] {
    return [
      ...this.upgradesDuringCooldown(),
      ...this.cooldownFloors(),
      ...this.latches(),
      ...this.probesInFlight(),
      ...this.turnViolations(false),
      ...this.refreshViolations(),
      ...this.reauthViolations(),
      ...this.leftovers(),
    ];
  }
}

/** Fails with the violations, so a counterexample says what went wrong in words. */
export function assertNone(violations: readonly string[]): void {
  if (violations.length > 0) throw new Error(`${violations.length} violation(s):\n  ${violations.slice(0, 10).join('\n  ')}`);
}
