import {
  SimulatedClock,
  createActor,
  fromCallback,
  fromPromise,
  type Actor,
  type AnyActorRef,
  type InspectionEvent,
  type PromiseActorLogic,
} from 'xstate';
import {
  createCredentialMachine,
  createEndpointMachine,
  createSessionMachine,
  DEFAULT_POLICY,
  type BackoffOptions,
  type Outcome,
  type Policy,
  type ProbeClaim,
  type RefreshOutput,
  type SessionEvent,
  type SocketActorInput,
  type TurnActorRef,
  type TurnEvent,
} from '../../machines/index.js';

/** One upgrade the session chart started through its `webSocket` actor. */
export interface UpgradeRecord {
  readonly sessionId: string;
  readonly startedAtMs: number;
  /** Generation of the token the upgrade carries (the socket actor's input). */
  readonly credentialGeneration: number;
  /** Global order of this record among everything the harness records (see {@link ChartHarness.nextSeq}). */
  readonly seq: number;
  /** True until the chart stops the socket actor (left the `socket` state). */
  active: boolean;
  /** Report back to the session chart as the real socket actor would. */
  readonly sendBack: (event: SessionEvent) => void;
}

/** A pending refresh the test settles. Settling is synchronous: the charts react before `resolve`/`reject` return. */
export interface PendingRefresh {
  readonly rejectedGeneration: number;
  readonly startedAtMs: number;
  readonly seq: number;
  /** True while the credential chart still waits for this refresh (not settled, not cancelled). */
  readonly active: boolean;
  resolve(output: RefreshOutput): void;
  reject(error: unknown): void;
}

/** A pending shared-store probe claim (only with `sharedStore: true`). Settling is synchronous. */
export interface PendingClaim {
  readonly atMs: number;
  readonly leaseMs: number;
  readonly startedAtMs: number;
  readonly active: boolean;
  resolve(claim: ProbeClaim): void;
  reject(error: unknown): void;
}

/** Options beyond the policy; all optional, so `new ChartHarness(policy, seed)` keeps working. */
export interface HarnessOptions {
  /** Run the endpoint chart with a shared store; claims are recorded in `harness.claims`. */
  readonly sharedStore?: boolean;
  /** Inspection observer given to every actor the harness creates (transition coverage). */
  readonly inspect?: (event: InspectionEvent) => void;
  /** Overrides of the credential chart's input. */
  readonly credential?: {
    readonly generation?: number;
    readonly expiresInMs?: number;
    readonly refreshMarginMs?: number;
    readonly maxTransientRetries?: number;
    readonly retry?: BackoffOptions;
  };
}

interface Settler<TOutput> {
  readonly isActive: () => boolean;
  readonly resolve: (output: TOutput) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A promise actor whose outcome the test decides, delivered synchronously (no microtask to
 * await). Same snapshot shape and events as xstate's `fromPromise`, so the charts see exactly
 * what they see in production: `xstate.done.actor.*` or `xstate.error.actor.*`.
 */
function controlledPromise<TOutput, TInput>(
  onStart: (input: TInput, settler: Settler<TOutput>, system: unknown) => void,
): PromiseActorLogic<TOutput, TInput> {
  const logic = fromPromise<TOutput, TInput>(() => new Promise<TOutput>(() => {}));
  return {
    ...logic,
    start: (state, scope) => {
      if (state.status !== 'active') return;
      const self = scope.self as AnyActorRef;
      const isActive = () => self.getSnapshot().status === 'active';
      onStart(
        state.input as TInput,
        {
          isActive,
          resolve: (output) => {
            if (isActive()) self.send({ type: 'xstate.promise.resolve', data: output });
          },
          reject: (error) => {
            if (isActive()) self.send({ type: 'xstate.promise.reject', data: error });
          },
        },
        scope.system,
      );
    },
  };
}

/** Each harness owns its clock; the recorders below find their harness through the actor system's clock. */
const harnessByClock = new WeakMap<object, ChartHarness>();

function harnessOf(system: unknown): ChartHarness {
  const harness = harnessByClock.get((system as { _clock: object })._clock);
  if (!harness) throw new Error('actor not started by a ChartHarness');
  return harness;
}

/**
 * The three charts with their I/O actors replaced by recorders. Built once: building and
 * providing a machine costs milliseconds, and property tests create thousands of harnesses.
 */
function buildProvidedMachines() {
  return {
    endpoint: createEndpointMachine().provide({
      actors: {
        claimProbe: controlledPromise<ProbeClaim, { endpointKey: string; atMs: number; leaseMs: number }>((input, settler, system) => {
          const harness = harnessOf(system);
          harness.claims.push({
            atMs: input.atMs,
            leaseMs: input.leaseMs,
            startedAtMs: harness.now(),
            get active() {
              return settler.isActive();
            },
            resolve: settler.resolve,
            reject: settler.reject,
          });
        }),
      },
    }),
    credential: createCredentialMachine().provide({
      actors: {
        refreshCredentials: controlledPromise<RefreshOutput, { rejectedGeneration: number }>((input, settler, system) => {
          const harness = harnessOf(system);
          harness.refreshes.push({
            rejectedGeneration: input.rejectedGeneration,
            startedAtMs: harness.now(),
            seq: harness.nextSeq(),
            get active() {
              return settler.isActive();
            },
            resolve: settler.resolve,
            reject: settler.reject,
          });
        }),
        loadCredentials: controlledPromise<RefreshOutput, Record<string, never>>((_input, settler, system) => {
          const harness = harnessOf(system);
          harness.loads.push({
            rejectedGeneration: 0,
            startedAtMs: harness.now(),
            seq: harness.nextSeq(),
            get active() {
              return settler.isActive();
            },
            resolve: settler.resolve,
            reject: settler.reject,
          });
        }),
      },
    }),
    session: createSessionMachine().provide({
      actors: {
        webSocket: fromCallback<SessionEvent, SocketActorInput>(({ input, sendBack, system }) => {
          const harness = harnessOf(system);
          const record: UpgradeRecord = {
            sessionId: input.sessionId,
            startedAtMs: harness.now(),
            credentialGeneration: input.credentialGeneration,
            seq: harness.nextSeq(),
            active: true,
            sendBack,
          };
          harness.upgrades.push(record);
          return () => {
            record.active = false;
          };
        }),
      },
    }),
  };
}

type ProvidedMachines = ReturnType<typeof buildProvidedMachines>;
let provided: ProvidedMachines | undefined;

function providedMachines(): ProvidedMachines {
  provided ??= buildProvidedMachines();
  return provided;
}

/**
 * Drives the three real charts together on a simulated clock, with the I/O actors replaced
 * by recorders the test controls. No sockets, no timers of Node.
 */
export class ChartHarness {
  readonly clock = new SimulatedClock();
  readonly upgrades: UpgradeRecord[] = [];
  readonly refreshes: PendingRefresh[] = [];
  /** Reads of the first token (only when the credential chart starts at generation 0). */
  readonly loads: PendingRefresh[] = [];
  readonly claims: PendingClaim[] = [];
  readonly endpoint;
  readonly credential;
  readonly sessions = new Map<string, Actor<ReturnType<typeof createSessionMachine>>>();
  /** The machines the actors run (after `provide`), e.g. to walk their state nodes. */
  readonly endpointLogic: ProvidedMachines['endpoint'];
  readonly credentialLogic: ProvidedMachines['credential'];
  readonly sessionLogic: ProvidedMachines['session'];
  private turnCounter = 0;
  private seqCounter = 0;

  constructor(
    readonly policy: Policy = DEFAULT_POLICY,
    jitterSeed = 1,
    readonly options: HarnessOptions = {},
  ) {
    const clock = this.clock;
    harnessByClock.set(clock, this);
    const inspect = options.inspect;
    const logic = providedMachines();
    this.endpointLogic = logic.endpoint;
    this.credentialLogic = logic.credential;
    this.sessionLogic = logic.session;
    this.endpoint = createActor(this.endpointLogic, {
      clock,
      ...(inspect ? { inspect } : {}),
      input: { endpointKey: 'provider/model/ws://upstream/acct', policy, jitterSeed, sharedStore: options.sharedStore ?? false },
    });
    const credentialInput = options.credential ?? {};
    this.credential = createActor(this.credentialLogic, {
      clock,
      ...(inspect ? { inspect } : {}),
      input: {
        credentialId: 'test',
        generation: credentialInput.generation ?? 1,
        jitterSeed: jitterSeed + 1,
        ...(credentialInput.expiresInMs !== undefined ? { expiresInMs: credentialInput.expiresInMs } : {}),
        ...(credentialInput.refreshMarginMs !== undefined ? { refreshMarginMs: credentialInput.refreshMarginMs } : {}),
        ...(credentialInput.maxTransientRetries !== undefined ? { maxTransientRetries: credentialInput.maxTransientRetries } : {}),
        ...(credentialInput.retry !== undefined ? { retry: credentialInput.retry } : {}),
      },
    });
    // What the manager counts (src/manager.ts): a change of health or credentials makes a turn ask again.
    this.endpoint.on('health.changed', () => void this.healthEpoch++);
    this.credential.on('credential.changed', () => void this.healthEpoch++);
    this.endpoint.start();
    this.credential.start();
  }

  /** Counts the endpoint's `health.changed` and the credential's `credential.changed`, as the manager does. */
  healthEpoch = 0;

  now(): number {
    return this.clock.now();
  }

  /** A global counter that orders what happened at the same simulated instant. */
  nextSeq(): number {
    return ++this.seqCounter;
  }

  /** The session with this id, created on first use. */
  session(sessionId: string) {
    let actor = this.sessions.get(sessionId);
    if (!actor) {
      actor = createActor(this.sessionLogic, {
        clock: this.clock,
        ...(this.options.inspect ? { inspect: this.options.inspect } : {}),
        input: {
          sessionId,
          endpointKey: 'provider/model/ws://upstream/acct',
          endpoint: this.endpoint,
          credential: this.credential,
          upgradeTimeoutMs: this.policy.upgradeTimeoutMs,
          upgradeBudgetMs: this.policy.upgradeBudgetMs,
          atMs: this.now(),
        },
      });
      actor.start();
      this.sessions.set(sessionId, actor);
    }
    return actor;
  }

  /** The session's turn chart (the session chart's child `turn`), where the facade sends a turn's events. */
  turn(sessionId: string): TurnActorRef {
    const turn = this.session(sessionId).getSnapshot().children.turn;
    if (!turn) throw new Error(`session ${sessionId} has no turn chart (released?)`);
    return turn as TurnActorRef;
  }

  /** Sends a turn event to the session's turn chart, as the facade does. */
  sendTurn(sessionId: string, event: TurnEvent): void {
    this.turn(sessionId).send(event);
  }

  /** Starts a turn and returns its id. */
  requestTurn(sessionId: string): string {
    const turnId = `t${++this.turnCounter}`;
    this.sendTurn(sessionId, { type: 'TURN_REQUESTED', turnId, atMs: this.now(), healthEpoch: this.healthEpoch });
    return turnId;
  }

  /** The upgrade still in flight or open for this session, if any. */
  liveUpgrade(sessionId: string): UpgradeRecord | undefined {
    for (let i = this.upgrades.length - 1; i >= 0; i--) {
      const record = this.upgrades[i]!;
      if (record.sessionId === sessionId && record.active) return record;
    }
    return undefined;
  }

  openSocket(record: UpgradeRecord): void {
    record.sendBack({ type: 'SOCKET.OPENED', atMs: this.now() });
  }

  /** Fails the upgrade; the generation defaults to the one the upgrade carried. */
  failUpgrade(record: UpgradeRecord, outcome: Outcome, credentialGeneration = record.credentialGeneration): void {
    record.sendBack({ type: 'SOCKET.FAILED', outcome, atMs: this.now(), credentialGeneration });
  }

  closeSocket(record: UpgradeRecord, outcome: Outcome): void {
    record.sendBack({ type: 'SOCKET.CLOSED', outcome, atMs: this.now() });
  }

  /** Due times of the timers scheduled on the clock (all actors together). */
  private timerDueTimes(): number[] {
    const timeouts = (this.clock as unknown as { timeouts: Map<number, { start: number; timeout: number }> }).timeouts;
    return [...timeouts.values()].map((t) => t.start + t.timeout);
  }

  /** When the next timer on the clock is due, if any. */
  nextTimerDueMs(): number | undefined {
    const due = this.timerDueTimes();
    return due.length === 0 ? undefined : Math.min(...due);
  }

  /** How many timers are scheduled on the simulated clock, whoever owns them. */
  pendingClockTimers(): number {
    return (this.clock as unknown as { timeouts: Map<number, unknown> }).timeouts.size;
  }

  /** How many delayed events this actor's system still has scheduled (`after` timers). */
  scheduledEventsOf(actor: AnyActorRef): number {
    return Object.keys(actor.system.getSnapshot()._scheduledEvents).length;
  }

  /**
   * Moves simulated time forward by `ms`, stopping at each timer's due time so every timer
   * fires in order and with the clock reading its due time (timers scheduled while firing
   * start at that instant, not at the end of the advance).
   */
  advance(ms: number): void {
    const target = this.clock.now() + ms;
    for (let guard = 0; guard < 100_000; guard++) {
      const due = this.timerDueTimes().filter((t) => t <= target);
      if (due.length === 0) break;
      const next = Math.max(this.clock.now(), Math.min(...due));
      this.clock.set(next);
    }
    if (this.clock.now() < target) this.clock.set(target);
  }

  /** Kept for compatibility: refreshes and claims settle synchronously, so nothing is left to wait for. */
  async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }

  release(sessionId: string): void {
    const actor = this.sessions.get(sessionId);
    if (!actor) return;
    actor.send({ type: 'RELEASE', atMs: this.now() });
    actor.stop();
    this.sessions.delete(sessionId);
  }

  /** Stops a session actor without RELEASE, as a crashed owner would (its probe is not given back). */
  abandon(sessionId: string): void {
    const actor = this.sessions.get(sessionId);
    if (!actor) return;
    actor.stop();
    this.sessions.delete(sessionId);
  }

  stop(): void {
    for (const id of [...this.sessions.keys()]) this.release(id);
    this.endpoint.send({ type: 'STOP' });
    this.credential.send({ type: 'STOP' });
    this.endpoint.stop();
    this.credential.stop();
  }
}
