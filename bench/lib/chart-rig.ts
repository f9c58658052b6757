/**
 * The real charts (endpoint, credential, session and its child turn chart) wired as the manager
 * wires them, on a simulated clock, with the socket actor replaced by a recorder: no I/O, no Node
 * timers. A turn goes to the turn chart and is followed through its `turn.send` / `turn.ended`
 * emits, as the facade does. Same idea as test/support/chart-harness.ts, kept here so the benchmark
 * does not depend on test code.
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
  type TransportKind,
  type TurnActorRef,
  type TurnResult,
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
  /** The session chart's child: where the facade sends a turn's events. */
  readonly turnChart: TurnActorRef;
  /**
   * What the manager passes as `TURN_REQUESTED.healthEpoch`: it counts the endpoint's
   * `health.changed` and the credential's `credential.changed` (the charts may not emit them yet).
   */
  healthEpoch = 0;
  /** The last `turn.send` and `turn.ended` the turn chart emitted, as the facade hears them. */
  lastSend: { readonly turnId: string; readonly transport: TransportKind; readonly attempt: number } | undefined;
  lastTurn: TurnResult | undefined;
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
    this.endpoint.on('health.changed', () => void this.healthEpoch++);
    this.credential.on('credential.changed', () => void this.healthEpoch++);
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
    const turnChart = this.session.getSnapshot().children.turn;
    if (!turnChart) throw new Error('chart rig: the session chart runs no turn chart');
    this.turnChart = turnChart as TurnActorRef;
    this.turnChart.on('turn.send', (event) => void (this.lastSend = event));
    this.turnChart.on('turn.ended', (event) => void (this.lastTurn = event.result));
  }

  /**
   * First turn: the upgrade is granted and answered 500, so the endpoint cools down and the session
   * is on HTTP. Second turn: the session's own failure said nothing of when, so it asks and hears the
   * endpoint's verdict (cooling down until T), which the turn chart keeps: the steady state.
   */
  coolDown(): void {
    const id = this.request();
    if (!this.sendBack) throw new Error('chart rig: no upgrade was started');
    this.sendBack({ type: 'SOCKET.FAILED', outcome: { kind: 'upgrade-rejected', status: 500, headers: {} }, atMs: this.clock.now(), credentialGeneration: 1 });
    this.finish(id);
    this.turn();
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

  /** One turn as the facade reports it to the turn chart: requested, then completed (the first event stays with the facade). */
  turn(): void {
    this.finish(this.request());
  }

  private request(): string {
    const turnId = `t${++this.turnCounter}`;
    this.turnChart.send({ type: 'TURN_REQUESTED', turnId, atMs: this.clock.now(), healthEpoch: this.healthEpoch });
    return turnId;
  }

  private finish(turnId: string): void {
    this.turnChart.send({ type: 'TURN_COMPLETED', turnId, atMs: this.clock.now() });
  }

  /** Throws unless the endpoint and the session's connection are where the benchmark expects, and the last turn completed where it was sent. */
  expect(endpoint: string, connection: string): void {
    const e = JSON.stringify(this.endpoint.getSnapshot().value);
    const s = JSON.stringify(this.session.getSnapshot().value);
    const last = this.lastTurn;
    const sent = this.lastSend;
    if (!e.includes(endpoint) || !s.includes(connection) || last?.result !== 'completed' || sent?.turnId !== last.id || sent.transport !== last.transport) {
      throw new Error(`chart rig: expected endpoint ${endpoint} and connection ${connection}, got ${e} / ${s} / ${JSON.stringify(last)} / ${JSON.stringify(sent)}`);
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
