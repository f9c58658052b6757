import { SimulatedClock, type InspectionEvent } from 'xstate';
import { createSessionManager, type SessionManager, type SessionManagerOptions } from '../../src/manager.js';
import type { Session, StreamOptions } from '../../src/session.js';
import type { CredentialSource } from '../../src/auth/credential-source.js';
import type { PolicyOptions } from '../../src/options.js';
import type { Logger } from '../../src/logging.js';
import type {
  FallbackEvent,
  ReauthRequiredEvent,
  RecoveredEvent,
  TransitionEvent,
  TurnEvent,
  UpgradeEvent,
} from '../../src/events.js';
import type { ProviderEvent } from '../../src/transports/provider.js';
import { startUpstream, type ModeUpdate, type Upstream } from '../../src/testing/upstream.js';

/**
 * Integration harness: a real fake upstream on 127.0.0.1, a session manager whose chart
 * timers run on xstate's SimulatedClock, a recording logger and recorders for every manager
 * event. Sockets and HTTP are real; time inside the charts moves only when the test says.
 */

/** One call of the recording logger. */
export interface LogCall {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly obj: object;
  readonly msg: string | undefined;
}

/** A pino-compatible logger that keeps every call. */
export interface RecordingLogger extends Logger {
  readonly calls: LogCall[];
  /** Calls of one level. */
  at(level: LogCall['level']): LogCall[];
}

/** Creates a {@link RecordingLogger}. */
export function recordingLogger(): RecordingLogger {
  const calls: LogCall[] = [];
  const make = (level: LogCall['level']) => (obj: object, msg?: string) => {
    calls.push({ level, obj, msg });
  };
  return {
    calls,
    at: (level) => calls.filter((call) => call.level === level),
    debug: make('debug'),
    info: make('info'),
    warn: make('warn'),
    error: make('error'),
  };
}

/** Everything the manager emitted, by event name. */
export interface ManagerEventLog {
  readonly transition: TransitionEvent[];
  readonly fallback: FallbackEvent[];
  readonly recovered: RecoveredEvent[];
  readonly reauthRequired: ReauthRequiredEvent[];
  readonly upgrade: UpgradeEvent[];
  readonly turn: TurnEvent[];
}

/** Subscribes to every manager event. */
export function recordEvents(manager: SessionManager): ManagerEventLog {
  const log: ManagerEventLog = { transition: [], fallback: [], recovered: [], reauthRequired: [], upgrade: [], turn: [] };
  manager.on('transition', (event) => log.transition.push(event));
  manager.on('fallback', (event) => log.fallback.push(event));
  manager.on('recovered', (event) => log.recovered.push(event));
  manager.on('reauth-required', (event) => log.reauthRequired.push(event));
  manager.on('upgrade', (event) => log.upgrade.push(event));
  manager.on('turn', (event) => log.turn.push(event));
  return log;
}

/** What one turn produced. */
export interface TurnOutcome {
  readonly events: ProviderEvent[];
  readonly types: string[];
  readonly error: unknown;
}

/** Runs one turn to its end without throwing. */
export async function runTurn(session: Session, body: Record<string, unknown>, options: StreamOptions = {}): Promise<TurnOutcome> {
  const events: ProviderEvent[] = [];
  try {
    for await (const event of session.stream(body, options)) events.push(event);
    return { events, types: events.map((e) => e.type), error: undefined };
  } catch (error) {
    return { events, types: events.map((e) => e.type), error };
  }
}

/** Lets pending promise callbacks and already-arrived I/O run (a few turns of the event loop, no real waiting). */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface PendingTimeout {
  readonly start: number;
  readonly timeout: number;
}

/** The SimulatedClock's pending timers (private in its types). */
export function pendingTimers(clock: SimulatedClock): PendingTimeout[] {
  return [...(clock as unknown as { timeouts: Map<number, PendingTimeout> }).timeouts.values()];
}

/** When the next simulated timer is due, if any. */
export function nextDue(clock: SimulatedClock): number | undefined {
  let next: number | undefined;
  for (const t of pendingTimers(clock)) {
    const due = t.start + t.timeout;
    if (next === undefined || due < next) next = due;
  }
  return next;
}

/**
 * Moves simulated time to `target`, firing each chart timer at its own due time (not all at
 * `target`), and letting promise callbacks run between timers.
 */
export async function advanceTo(clock: SimulatedClock, target: number): Promise<void> {
  for (let guard = 0; guard < 100_000; guard++) {
    const due = nextDue(clock);
    if (due === undefined || due > target) break;
    clock.set(Math.max(due, clock.now()));
    await settle(2);
  }
  if (clock.now() < target) clock.set(target);
  await settle();
}

/** One endpoint of a harness: the key is also the upstream model name unless `model` says otherwise. */
export interface HarnessEndpoint {
  readonly model?: string;
  readonly credentials?: string | CredentialSource;
}

/** Options of {@link startHarness}. */
export interface HarnessOptions {
  readonly endpoints: Record<string, HarnessEndpoint>;
  readonly modes?: Readonly<Record<string, ModeUpdate>>;
  readonly policy?: PolicyOptions;
  readonly acceptToken?: (token: string) => boolean;
  readonly jitterSeed?: number;
  /** Collect sanitized inspection events in `harness.inspections`. */
  readonly inspect?: boolean;
  readonly deltasPerTurn?: number;
  /** Extra manager options. */
  readonly manager?: Partial<SessionManagerOptions>;
}

/** A running integration setup; see {@link startHarness}. */
export interface Harness {
  readonly upstream: Upstream;
  readonly clock: SimulatedClock;
  readonly manager: SessionManager;
  readonly logger: RecordingLogger;
  readonly events: ManagerEventLog;
  readonly inspections: InspectionEvent[];
  /** The request body for a turn on `endpointKey` (names the upstream model). */
  body(endpointKey: string): Record<string, unknown>;
  /** A session (created on first use). */
  session(id: string, endpointKey: string): Session;
  /** One turn on a session, never throwing. */
  turn(session: Session, options?: StreamOptions): Promise<TurnOutcome>;
  now(): number;
  advanceBy(ms: number): Promise<void>;
  advanceTo(ms: number): Promise<void>;
  /** Closes the manager, then the upstream. Idempotent. */
  close(): Promise<void>;
}

const live = new Set<Harness>();

/** Default token of harness endpoints. */
export const DEFAULT_TOKEN = 'tok-harness-0123456789';

/** Starts an upstream and a manager wired to it. Register `closeHarnesses` in `afterEach`. */
export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const clock = new SimulatedClock();
  const upstream = await startUpstream({
    now: () => clock.now(),
    ...(options.modes ? { modes: options.modes } : {}),
    ...(options.acceptToken ? { acceptToken: options.acceptToken } : {}),
    ...(options.deltasPerTurn !== undefined ? { deltasPerTurn: options.deltasPerTurn } : {}),
  });
  const logger = recordingLogger();
  const inspections: InspectionEvent[] = [];
  const models = new Map<string, string>();
  const endpoints: SessionManagerOptions['endpoints'] = {};
  for (const [key, endpoint] of Object.entries(options.endpoints)) {
    const model = endpoint.model ?? key;
    models.set(key, model);
    endpoints[key] = { wsUrl: upstream.wsUrl(model), httpUrl: upstream.httpUrl, credentials: endpoint.credentials ?? DEFAULT_TOKEN };
  }
  let manager: SessionManager;
  try {
    manager = createSessionManager({
      clock,
      logger,
      endpoints,
      jitterSeed: options.jitterSeed ?? 42,
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.inspect ? { inspect: (event: InspectionEvent) => inspections.push(event) } : {}),
      ...options.manager,
    });
  } catch (error) {
    await upstream.close();
    throw error;
  }
  const events = recordEvents(manager);
  let closing: Promise<void> | undefined;
  const harness: Harness = {
    upstream,
    clock,
    manager,
    logger,
    events,
    inspections,
    body: (endpointKey) => ({ model: models.get(endpointKey) ?? endpointKey, input: 'hello' }),
    session: (id, endpointKey) => manager.session(id, endpointKey),
    turn: (session, streamOptions) => runTurn(session, harness.body(session.endpointKey), streamOptions),
    now: () => clock.now(),
    advanceBy: (ms) => advanceTo(clock, clock.now() + ms),
    advanceTo: (ms) => advanceTo(clock, ms),
    close: () => {
      closing ??= (async () => {
        live.delete(harness);
        await manager.close();
        await upstream.close();
      })();
      return closing;
    },
  };
  live.add(harness);
  return harness;
}

/** Closes every harness still open (for `afterEach`). */
export async function closeHarnesses(): Promise<void> {
  await Promise.all([...live].map((harness) => harness.close()));
}

/** The event types of one complete healthy turn of the fake upstream. */
export function completeTurnTypes(deltas = 5): string[] {
  return ['response.created', ...Array.from({ length: deltas }, () => 'response.output_text.delta'), 'response.completed'];
}

/** A credential source whose tokens and refreshes the test controls and counts. */
export interface CountingSource extends CredentialSource {
  /** Tokens handed out by `refresh`, in order. */
  readonly issued: string[];
  /** How many times `refresh` was called. */
  refreshCalls: number;
  /** The current token. */
  current: string;
}

/**
 * A source starting at `initial`; each refresh answers `next(n)` for the n-th refresh (1-based),
 * unless the rejected token is already replaced (then it answers the current one, as a real
 * single-flight source does).
 */
export function countingSource(initial: string, next: (n: number) => string, name = 'counting'): CountingSource {
  const source: CountingSource = {
    name,
    issued: [],
    refreshCalls: 0,
    current: initial,
    token: () => source.current,
    refresh: async (rejected) => {
      source.refreshCalls += 1;
      if (rejected !== source.current) return source.current;
      const fresh = next(source.refreshCalls);
      source.issued.push(fresh);
      source.current = fresh;
      return fresh;
    },
  };
  return source;
}
