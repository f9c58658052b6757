/**
 * The three real charts (endpoint, credential, session) wired as the manager wires them, on a
 * simulated clock, with the socket actor replaced by a recorder: no I/O, no Node timers. Same
 * idea as test/support/chart-harness.ts, kept here so the benchmark does not depend on test code.
 */
import { SimulatedClock, createActor, fromCallback, fromPromise, type InspectionEvent } from 'xstate';
import {
  DEFAULT_POLICY,
  createCredentialMachine,
  createEndpointMachine,
  createSessionMachine,
  type RefreshOutput,
  type SessionEvent,
  type SocketActorInput,
} from '../../machines/index.js';

export interface ChartRigOptions {
  /** An inspection observer on every actor, as the manager installs one (its transition observer). */
  readonly inspect?: (event: InspectionEvent) => void;
}

export class ChartRig {
  readonly clock = new SimulatedClock();
  readonly endpoint;
  readonly credential;
  readonly session;
  /** The socket actor's last `sendBack`, to report the upgrade's outcome. */
  private sendBack: ((event: SessionEvent) => void) | undefined;
  private turnCounter = 0;

  constructor(options: ChartRigOptions = {}) {
    const inspect = options.inspect ? { inspect: options.inspect } : {};
    const clock = this.clock;
    this.endpoint = createActor(createEndpointMachine(), {
      clock,
      ...inspect,
      input: { endpointKey: 'bench/model/ws://upstream/acct', policy: DEFAULT_POLICY, jitterSeed: 1 },
    });
    this.credential = createActor(
      createCredentialMachine().provide({
        actors: { refreshCredentials: fromPromise<RefreshOutput, { rejectedGeneration: number }>(() => new Promise<RefreshOutput>(() => {})) },
      }),
      { clock, ...inspect, input: { credentialId: 'bench', generation: 1, jitterSeed: 2 } },
    );
    const logic = createSessionMachine().provide({
      actors: {
        webSocket: fromCallback<SessionEvent, SocketActorInput>(({ sendBack }) => {
          this.sendBack = sendBack;
          return () => {
            this.sendBack = undefined;
          };
        }),
      },
    });
    this.endpoint.start();
    this.credential.start();
    this.session = createActor(logic, {
      clock,
      ...inspect,
      input: {
        sessionId: 'bench',
        endpointKey: 'bench/model/ws://upstream/acct',
        endpoint: this.endpoint,
        credential: this.credential,
        upgradeTimeoutMs: DEFAULT_POLICY.upgradeTimeoutMs,
        upgradeBudgetMs: DEFAULT_POLICY.upgradeBudgetMs,
        atMs: 0,
      },
    });
    this.session.start();
  }

  /** First turn: the upgrade is granted and answered 500, so the endpoint cools down and the session is on HTTP. */
  coolDown(): void {
    const id = this.request();
    if (!this.sendBack) throw new Error('chart rig: no upgrade was started');
    this.sendBack({ type: 'SOCKET.FAILED', outcome: { kind: 'upgrade-rejected', status: 500, headers: {} }, atMs: this.clock.now(), credentialGeneration: 1 });
    this.finish(id);
    this.expect('coolingDown', 'fallback');
  }

  /** First turn: the upgrade is granted and opens, so the session keeps an open socket. */
  openSocket(): void {
    const id = this.request();
    if (!this.sendBack) throw new Error('chart rig: no upgrade was started');
    this.sendBack({ type: 'SOCKET.OPENED', atMs: this.clock.now() });
    this.finish(id);
    this.expect('healthy', 'open');
  }

  /** One turn as the facade reports it: requested, first event, completed. */
  turn(): void {
    this.finish(this.request());
  }

  private request(): string {
    const turnId = `t${++this.turnCounter}`;
    this.session.send({ type: 'TURN_REQUESTED', turnId, atMs: this.clock.now() });
    return turnId;
  }

  private finish(turnId: string): void {
    this.session.send({ type: 'TURN_COMPLETED', turnId, atMs: this.clock.now() });
  }

  /** Throws unless the endpoint and the session's connection are where the benchmark expects. */
  expect(endpoint: string, connection: string): void {
    const e = JSON.stringify(this.endpoint.getSnapshot().value);
    const s = JSON.stringify(this.session.getSnapshot().value);
    const last = this.session.getSnapshot().context.lastTurn;
    if (!e.includes(endpoint) || !s.includes(connection) || last?.result !== 'completed') {
      throw new Error(`chart rig: expected endpoint ${endpoint} and connection ${connection}, got ${e} / ${s} / ${JSON.stringify(last)}`);
    }
  }

  stop(): void {
    this.session.send({ type: 'RELEASE', atMs: this.clock.now() });
    this.session.stop();
    this.endpoint.send({ type: 'STOP' });
    this.endpoint.stop();
    this.credential.send({ type: 'STOP' });
    this.credential.stop();
  }
}
