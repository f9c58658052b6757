import { SimulatedClock, createActor, fromCallback, fromPromise, type AnyActorRef, type InspectionEvent } from 'xstate';
import {
  createEndpointMachine,
  DEFAULT_POLICY,
  type EndpointReply,
  type Failure,
  type HealthReport,
  type Policy,
  type ProbeClaim,
  type SharedProbeRelease,
} from '../../../machines/index.js';

/** The endpoint key every chart of this helper runs with. */
export const KEY = 'openai/gpt-5.4/wss://api.example/v1/responses/acct-1';
/** A failure that cools an endpoint down. */
export const UPGRADE_500: Failure = { class: 'transient-server', summary: 'upgrade answered HTTP 500', code: '500' };
/** A failure that latches HTTP. */
export const UPGRADE_426: Failure = { class: 'unsupported', summary: 'upgrade answered HTTP 426', code: '426' };
/** A socket that died without a close frame. */
export const CLOSED_1006: Failure = { class: 'network', summary: 'socket closed with 1006 before the first event', code: '1006' };

const session = fromCallback<EndpointReply, { replies: EndpointReply[] }>(({ receive, input }) => {
  receive((reply) => input.replies.push(reply));
});

/** A claim the store has not answered (it never will: the chart's own deadline or another event ends it). */
export interface OpenClaim {
  readonly atMs: number;
  readonly leaseMs: number;
}

/** Options of {@link EndpointChart}. */
export interface EndpointChartOptions {
  readonly policy?: Policy;
  readonly sharedStore?: boolean;
  readonly inspect?: (event: InspectionEvent) => void;
  readonly jitterSeed?: number;
  readonly startAtMs?: number;
}

/**
 * The endpoint chart alone, on a simulated clock, with sessions reduced to what the chart sees
 * of them (refs that record the replies). Claims never resolve; reports and releases are recorded.
 */
export class EndpointChart {
  readonly clock = new SimulatedClock();
  readonly reports: HealthReport[] = [];
  readonly releases: SharedProbeRelease[] = [];
  readonly claims: OpenClaim[] = [];
  readonly policy: Policy;
  readonly endpoint;
  private readonly sessions = new Map<string, { ref: AnyActorRef; replies: EndpointReply[] }>();
  private readonly inspect: ((event: InspectionEvent) => void) | undefined;

  constructor(options: EndpointChartOptions = {}) {
    this.policy = options.policy ?? DEFAULT_POLICY;
    this.inspect = options.inspect;
    this.clock.set(options.startAtMs ?? 1_764_000_000_000);
    const machine = createEndpointMachine().provide({
      actors: {
        claimProbe: fromPromise<ProbeClaim, { endpointKey: string; atMs: number; leaseMs: number }>(({ input }) => {
          this.claims.push({ atMs: input.atMs, leaseMs: input.leaseMs });
          return new Promise<ProbeClaim>(() => {});
        }),
      },
      actions: {
        publishHealth: (_, report: HealthReport) => void this.reports.push(report),
        releaseSharedProbe: (_, release: SharedProbeRelease) => void this.releases.push(release),
      },
    });
    this.endpoint = createActor(machine, {
      clock: this.clock,
      ...(this.inspect ? { inspect: this.inspect } : {}),
      input: { endpointKey: KEY, policy: this.policy, jitterSeed: options.jitterSeed ?? 7, sharedStore: options.sharedStore ?? false },
    });
    this.endpoint.start();
  }

  now(): number {
    return this.clock.now();
  }

  /** The replies session `id` received, oldest first. */
  repliesOf(id: string): EndpointReply[] {
    return this.sessionOf(id).replies;
  }

  /** Session `id` asks to upgrade; returns the reply it got at once, if any (a claim answers later). */
  ask(id: string): EndpointReply | undefined {
    const s = this.sessionOf(id);
    const before = s.replies.length;
    this.endpoint.send({ type: 'PROBE_REQUESTED', sessionId: id, session: s.ref, atMs: this.now() });
    return s.replies.length > before ? s.replies.at(-1) : undefined;
  }

  succeed(id: string): void {
    this.endpoint.send({ type: 'UPGRADE_SUCCEEDED', sessionId: id, atMs: this.now() });
  }

  fail(id: string, failure: Failure = UPGRADE_500): void {
    this.endpoint.send({ type: 'UPGRADE_FAILED', sessionId: id, failure, atMs: this.now() });
  }

  lose(id: string, uptimeMs: number, failure: Failure = CLOSED_1006): void {
    this.endpoint.send({ type: 'CONNECTION_LOST', sessionId: id, failure, uptimeMs, atMs: this.now() });
  }

  /** Another process's report, delivered now. */
  fleet(report: Partial<HealthReport> & Pick<HealthReport, 'status'>): void {
    const full: HealthReport = { endpointKey: KEY, atMs: this.now(), untilMs: undefined, consecutiveFailures: 0, ...report };
    this.endpoint.send({ type: 'FLEET.HEALTH_CHANGED', report: full, atMs: this.now() });
  }

  /** Moves the clock forward, firing every timer at its due time. */
  advance(ms: number): void {
    const target = this.clock.now() + ms;
    const timeouts = (this.clock as unknown as { timeouts: Map<number, { start: number; timeout: number }> }).timeouts;
    for (let guard = 0; guard < 100_000; guard++) {
      const due = [...timeouts.values()].map((t) => t.start + t.timeout).filter((t) => t <= target);
      if (due.length === 0) break;
      this.clock.set(Math.max(this.clock.now(), Math.min(...due)));
    }
    if (this.clock.now() < target) this.clock.set(target);
  }

  /** The chart's state as a dotted path, e.g. `healthy.settling`. */
  state(): string {
    const path = (value: unknown): string =>
      typeof value === 'string' ? value : Object.entries(value as Record<string, unknown>).map(([k, v]) => `${k}.${path(v)}`)[0]!;
    return path(this.endpoint.getSnapshot().value);
  }

  context() {
    return this.endpoint.getSnapshot().context;
  }

  stop(): void {
    this.endpoint.send({ type: 'STOP' });
    this.endpoint.stop();
  }

  private sessionOf(id: string) {
    let s = this.sessions.get(id);
    if (!s) {
      const replies: EndpointReply[] = [];
      s = { ref: createActor(session, { input: { replies } }).start(), replies };
      this.sessions.set(id, s);
    }
    return s;
  }
}

/**
 * Takes every transition the fleet's reports drive, on a chart reporting to `inspect`
 * (model.test.ts's coverage collector). Each step is asserted in endpoint-fleet.test.ts.
 */
export function tourTheFleetTransitions(inspect: (event: InspectionEvent) => void): void {
  const c = new EndpointChart({ inspect });
  c.ask('s0');
  c.succeed('s0'); // healthy.settling: s0 may upgrade again, s1 may not
  c.ask('s0');
  c.ask('s1');
  c.advance(1);
  c.fleet({ status: 'cooling-down', untilMs: c.now() + 60_000, consecutiveFailures: 2 });
  c.fleet({ status: 'unsupported', untilMs: c.now() + 600_000 });
  c.advance(1);
  c.fleet({ status: 'reset' });
  c.advance(1);
  c.fleet({ status: 'healthy' });
  c.fleet({ status: 'cooling-down', untilMs: c.now() + 60_000 });
  c.advance(1);
  c.fleet({ status: 'reset' });
  c.stop();
}
