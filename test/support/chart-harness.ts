import { SimulatedClock, createActor, fromCallback, fromPromise, type Actor } from 'xstate';
import {
  createCredentialMachine,
  createEndpointMachine,
  createSessionMachine,
  DEFAULT_POLICY,
  type Outcome,
  type Policy,
  type RefreshOutput,
  type SessionEvent,
  type SocketActorInput,
} from '../../machines/index.js';

/** One upgrade the session chart started through its `webSocket` actor. */
export interface UpgradeRecord {
  readonly sessionId: string;
  readonly startedAtMs: number;
  /** True until the chart stops the socket actor (left the `socket` state). */
  active: boolean;
  /** Report back to the session chart as the real socket actor would. */
  readonly sendBack: (event: SessionEvent) => void;
}

/** A pending refresh the test settles. */
export interface PendingRefresh {
  readonly rejectedGeneration: number;
  resolve(output: RefreshOutput): void;
  reject(error: unknown): void;
}

/**
 * Drives the three real charts together on a simulated clock, with the I/O actors replaced
 * by recorders the test controls. No sockets, no timers of Node.
 */
export class ChartHarness {
  readonly clock = new SimulatedClock();
  readonly upgrades: UpgradeRecord[] = [];
  readonly refreshes: PendingRefresh[] = [];
  readonly endpoint;
  readonly credential;
  readonly sessions = new Map<string, Actor<ReturnType<typeof createSessionMachine>>>();
  private readonly sessionMachine;
  private turnCounter = 0;

  constructor(readonly policy: Policy = DEFAULT_POLICY, jitterSeed = 1) {
    this.endpoint = createActor(createEndpointMachine(), {
      clock: this.clock,
      input: { endpointKey: 'provider/model/ws://upstream/acct', policy, jitterSeed },
    });
    const refreshes = this.refreshes;
    this.credential = createActor(
      createCredentialMachine().provide({
        actors: {
          refreshCredentials: fromPromise<RefreshOutput, { rejectedGeneration: number }>(
            ({ input }) =>
              new Promise<RefreshOutput>((resolve, reject) => {
                refreshes.push({ rejectedGeneration: input.rejectedGeneration, resolve, reject });
              }),
          ),
        },
      }),
      { clock: this.clock, input: { credentialId: 'test', generation: 1, jitterSeed: jitterSeed + 1 } },
    );
    const upgrades = this.upgrades;
    const clock = this.clock;
    this.sessionMachine = createSessionMachine().provide({
      actors: {
        webSocket: fromCallback<SessionEvent, SocketActorInput>(({ input, sendBack }) => {
          const record: UpgradeRecord = { sessionId: input.sessionId, startedAtMs: clock.now(), active: true, sendBack };
          upgrades.push(record);
          return () => {
            record.active = false;
          };
        }),
      },
    });
    this.endpoint.start();
    this.credential.start();
  }

  now(): number {
    return this.clock.now();
  }

  /** The session with this id, created on first use. */
  session(sessionId: string) {
    let actor = this.sessions.get(sessionId);
    if (!actor) {
      actor = createActor(this.sessionMachine, {
        clock: this.clock,
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

  /** Starts a turn and returns its id. */
  requestTurn(sessionId: string): string {
    const turnId = `t${++this.turnCounter}`;
    this.session(sessionId).send({ type: 'TURN_REQUESTED', turnId, atMs: this.now() });
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

  failUpgrade(record: UpgradeRecord, outcome: Outcome, credentialGeneration = 1): void {
    record.sendBack({ type: 'SOCKET.FAILED', outcome, atMs: this.now(), credentialGeneration });
  }

  closeSocket(record: UpgradeRecord, outcome: Outcome): void {
    record.sendBack({ type: 'SOCKET.CLOSED', outcome, atMs: this.now() });
  }

  /** Moves simulated time forward in steps so every timer fires in order. */
  advance(ms: number): void {
    this.clock.increment(ms);
  }

  /** Lets promise-based actors (refresh) settle. */
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

  stop(): void {
    for (const id of [...this.sessions.keys()]) this.release(id);
    this.endpoint.send({ type: 'STOP' });
    this.credential.send({ type: 'STOP' });
    this.endpoint.stop();
    this.credential.stop();
  }
}
