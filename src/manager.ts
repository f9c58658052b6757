import { EventEmitter } from 'eventemitter3';
import { createActor, fromPromise, type InspectionEvent, type Observer, type StateValue } from 'xstate';
import { createEndpointMachine, type EndpointContext, type ProbeRecord } from '../machines/endpoint.js';
import type { Failure } from '../machines/failure.js';
import { createSessionMachine } from '../machines/session.js';
import type { CredentialSource } from './auth/credential-source.js';
import { createCredentialActor } from './auth/credential-actor.js';
import { createCredentialRuntime, type CredentialRuntime } from './auth/credential-runtime.js';
import type { EndpointHandle, EndpointState } from './endpoint-state.js';

export type { EndpointHandle, EndpointState } from './endpoint-state.js';
import { staticToken } from './auth/static-token.js';
import { systemClock, type Clock } from './clock.js';
import { checkEndpoints, type EndpointConfig } from './config.js';
import { ClosedError, ConfigError } from './errors.js';
import type { ManagerEvents } from './events.js';
import { checkLogger, type Logger } from './logging.js';
import { attachTelemetry } from './telemetry.js';
import { TransitionObserver } from './observer.js';
import { checkManagerOptions, MANAGER_OPTION_KEYS, resolvePolicy, type PolicyOptions, type RuntimePolicy } from './options.js';
import { Session } from './session.js';
import type { SessionActor } from './turn-runner.js';
import { statePaths } from './state.js';
import { createSocketActor } from './socket-actor.js';
import type { CoordinationStore } from './stores/store.js';
import { sanitizeInspectionEvent } from './inspector/sanitize.js';
import type { TurnRunner } from './turn-runner.js';
import { headerSecrets, scrubDeep, scrubbingLogger, secretSetCache, scrubText } from './secrets.js';
import { boundedScrub, MAX_MESSAGE_CHARS } from './untrusted.js';
import { openAIResponses } from './transports/openai-responses.js';
import { streamHttp } from './transports/http-sse.js';
import type { ProviderProtocol } from './transports/provider.js';
import { TransportError } from './transports/transport-error.js';
import type { WebSocketConnection } from './transports/websocket.js';
import { failedSend } from './transports/event-batches.js';

/** Options of {@link createSessionManager}. */
export interface SessionManagerOptions {
  /** The upstream endpoints, by key. Name keys by provider, model and account (`openai/gpt-5.4/acct-1`): each key has its own health. */
  endpoints: Record<string, EndpointConfig>;
  /** Decision parameters, all in milliseconds. Defaults in `DEFAULT_POLICY`; see docs/design.md. */
  policy?: PolicyOptions;
  /** A pino-compatible logger. Default: silent. One line per endpoint or credential state change, never per turn. */
  logger?: Logger;
  /** Shares endpoint health between gateway processes (e.g. `redisStore`). Default: none, each manager decides alone. */
  store?: CoordinationStore;
  /** Receives sanitized xstate inspection events of every chart (e.g. `@statelyai/inspect`'s `inspect`, or the offline inspector). */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Where time comes from. Default: the system clock with unref'd timers. Tests and the demo pass xstate's `SimulatedClock`. */
  clock?: Clock;
  /** Seed for the cooldown jitter. Default: random. Set it for reproducible runs. */
  jitterSeed?: number;
}

interface SessionEntry {
  readonly session: Session;
  /** The session's chart, started by its first turn (an idle session holds none). */
  actor: SessionActor | undefined;
  connection: WebSocketConnection | undefined;
}

interface EndpointEntry {
  readonly key: string;
  readonly config: EndpointConfig;
  readonly protocol: ProviderProtocol;
  readonly actor: ReturnType<typeof createActor<ReturnType<typeof createEndpointMachine>>>;
  readonly credential: CredentialEntry;
  /** Counts the endpoint's `health.changed` and its credential's `credential.changed` (see `TURN_REQUESTED.healthEpoch`). */
  healthEpoch: number;
}

interface CredentialEntry {
  readonly id: string;
  /** The endpoints using these credentials, whose health epoch a credential change moves. */
  readonly endpoints: EndpointEntry[];
  readonly runtime: CredentialRuntime;
  readonly actor: ReturnType<typeof createCredentialActor>;
}

/**
 * Creates a session manager: the object a gateway embeds. It owns one endpoint chart per
 * endpoint key, one credential chart per credential source, and one session chart per live
 * session.
 * @throws ConfigError naming the field when an option is wrong
 */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  return new SessionManager(options);
}

// The option table of src/options.ts must name every option declared here (the compiler checks).
MANAGER_OPTION_KEYS satisfies Record<keyof SessionManagerOptions, true>;

/** See {@link createSessionManager}. */
export class SessionManager extends EventEmitter<ManagerEvents> {
  /** The resolved policy, defaults filled in. */
  readonly policy: RuntimePolicy;
  /** Where the manager's time comes from (the system clock unless one was given). */
  readonly clock: Clock;
  private readonly logger: Logger;
  private readonly observer: TransitionObserver;
  private readonly endpoints = new Map<string, EndpointEntry>();
  private readonly credentials = new Map<CredentialSource | string, CredentialEntry>();
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly inspectors = new Set<(event: InspectionEvent) => void>();
  /** Whether xstate inspection is attached: only once a `transition` listener or an inspector exists. */
  private inspecting = false;
  private readonly sessionMachine;
  private readonly runner: TurnRunner;
  private closed = false;
  private jitterSeed: number;
  /** Metrics and turn spans, a listener of this manager's events (see src/telemetry.ts); no-op without `@opentelemetry/api`. */
  private readonly detachTelemetry = attachTelemetry(this, (key) => this.endpointEntry(key).config.httpUrl);

  constructor(options: SessionManagerOptions) {
    super();
    checkManagerOptions(options);
    const endpoints = checkEndpoints(options.endpoints);
    this.policy = resolvePolicy(options.policy);
    // Every log line leaves scrubbed of every secret the manager knows (src/secrets.ts).
    this.logger = scrubbingLogger(checkLogger(options.logger), () => this.secretSet(this.redactionSecrets()));
    this.clock = options.clock ?? systemClock;
    this.observer = new TransitionObserver(this, this.logger, this.clock);
    this.jitterSeed = options.jitterSeed ?? Math.floor(Math.random() * 2 ** 31);
    if (options.inspect) this.addInspector(options.inspect);

    for (const [key, config] of Object.entries(endpoints)) {
      this.endpoints.set(key, this.createEndpoint(key, config, options.store));
    }

    this.sessionMachine = createSessionMachine().provide({
      actors: {
        webSocket: createSocketActor(
          {
            clock: this.clock,
            socketOptions: (endpointKey) => {
              const endpoint = this.endpointEntry(endpointKey);
              return { url: endpoint.config.wsUrl, pingIntervalMs: this.policy.pingIntervalMs, ...(endpoint.config.headers ? { headers: endpoint.config.headers } : {}) };
            },
            credentialFor: (endpointKey) => this.endpointEntry(endpointKey).credential.runtime.current(),
            attach: (sessionId, connection) => {
              const entry = this.sessions.get(sessionId);
              if (entry) entry.connection = connection;
            },
            describeCredentialError: (error) =>
              boundedScrub(error instanceof Error ? `${error.name}: ${error.message}` : String(error), this.secretSet(this.redactionSecrets()), MAX_MESSAGE_CHARS),
          },
          this.policy.upgradeTimeoutMs,
        ),
      },
    });
    this.runner = this.createRunner();
  }

  /**
   * The session with this id, created on first use; the same object while it lives.
   * @throws ConfigError when `endpointKey` is not configured, or the id is live on another endpoint
   */
  session(sessionId: string, endpointKey: string): Session {
    if (this.closed) throw new ClosedError('the session manager is closed');
    if (typeof sessionId !== 'string' || sessionId.length === 0) throw new TypeError('session(sessionId, endpointKey): sessionId must be a non-empty string');
    const existing = this.sessions.get(sessionId);
    if (existing) {
      if (existing.session.endpointKey !== endpointKey) {
        throw new ConfigError('endpointKey', `session ${sessionId} is live on endpoint ${JSON.stringify(existing.session.endpointKey)}, not ${JSON.stringify(endpointKey)}; release it first`);
      }
      return existing.session;
    }
    this.endpointEntry(endpointKey);
    const session = new Session(sessionId, endpointKey, this.runner);
    this.sessions.set(sessionId, { session, actor: undefined, connection: undefined });
    return session;
  }

  /** Creates, watches and starts a session's chart: on its first turn, so idle sessions cost no actor. */
  private startSessionChart(sessionId: string, carried?: { readonly onHttpSinceMs?: number }): SessionActor {
    const entry = this.sessions.get(sessionId);
    if (!entry) throw new ClosedError(`session ${sessionId} was released`);
    if (entry.actor) return entry.actor;
    const endpoint = this.endpointEntry(entry.session.endpointKey);
    const actor: SessionActor = createActor(this.sessionMachine, {
      clock: this.clock,
      ...(this.inspecting ? { inspect: this.inspect } : {}),
      input: {
        sessionId,
        endpointKey: endpoint.key,
        endpoint: endpoint.actor,
        credential: endpoint.credential.actor,
        upgradeTimeoutMs: this.policy.upgradeTimeoutMs,
        upgradeBudgetMs: this.policy.upgradeBudgetMs,
        atMs: this.clock.now(),
        ...(carried?.onHttpSinceMs !== undefined ? { onHttpSinceMs: carried.onHttpSinceMs } : {}),
      },
    });
    this.observer.watch(actor, 'session', sessionId, endpoint.key);
    entry.actor = actor;
    actor.start();
    this.scheduleIdleSweep();
    return actor;
  }

  private idleSweep: unknown;

  /**
   * Stops the charts of sessions idle for `idleChartsStopAfterMs` (no turn, no socket): one
   * timer for the manager, armed while some session has charts. Not while an inspector is
   * attached: it shows every live chart, and would show stopped ones as released.
   */
  private scheduleIdleSweep(): void {
    const afterMs = this.policy.idleChartsStopAfterMs;
    if (afterMs === 0 || this.idleSweep !== undefined || this.closed) return;
    this.idleSweep = this.clock.setTimeout(() => {
      this.idleSweep = undefined;
      if (this.closed) return;
      let running = 0;
      if (this.inspectors.size === 0) {
        const idleSinceMs = this.clock.now() - afterMs;
        for (const entry of this.sessions.values()) {
          if (entry.actor === undefined) continue;
          if (entry.session.stopChartsIfIdle(idleSinceMs, (chart) => this.observer.forget(chart))) entry.actor = undefined;
          else running++;
        }
      } else running = 1;
      if (running > 0) this.scheduleIdleSweep();
    }, afterMs);
  }

  /** Closes the session's socket and forgets it; the endpoint keeps its health (and cooldown). */
  release(sessionId: string): void {
    const entry = this.sessions.get(sessionId);
    if (!entry) return;
    this.sessions.delete(sessionId);
    entry.actor?.send({ type: 'RELEASE', atMs: this.clock.now() });
    entry.actor?.stop();
    entry.connection?.close();
    entry.session.endInFlightTurn();
  }

  /**
   * A handle on an endpoint's shared health.
   * @throws ConfigError when the key is not configured
   */
  endpoint(endpointKey: string): EndpointHandle {
    const entry = this.endpointEntry(endpointKey);
    return {
      key: endpointKey,
      get state() {
        return endpointState(entry.actor.getSnapshot());
      },
      reset: () => entry.actor.send({ type: 'RESET', atMs: this.clock.now() }),
    };
  }

  /** The configured endpoint keys. */
  get endpointKeys(): string[] {
    return [...this.endpoints.keys()];
  }

  /** Ids of the live sessions. */
  get sessionIds(): string[] {
    return [...this.sessions.keys()];
  }

  /** Adds an inspection observer (sanitized events of every chart); returns a function that removes it. */
  addInspector(observer: Observer<InspectionEvent> | ((event: InspectionEvent) => void)): () => void {
    const next = typeof observer === 'function' ? observer : (event: InspectionEvent) => observer.next?.(event);
    this.inspectors.add(next);
    this.startInspecting();
    return () => this.inspectors.delete(next);
  }

  /** Emits with every string of the payload scrubbed of every secret the manager knows (src/secrets.ts). */
  override emit<T extends EventEmitter.EventNames<ManagerEvents>>(event: T, ...args: EventEmitter.EventArgs<ManagerEvents, T>): boolean {
    return super.emit(event, ...scrubDeep(args, this.secretSet(this.redactionSecrets())));
  }

  private readonly secretSet = secretSetCache();

  /** Adds a listener; a `transition` listener turns chart inspection on (it names each transition's cause). */
  override on<T extends EventEmitter.EventNames<ManagerEvents>>(event: T, fn: EventEmitter.EventListener<ManagerEvents, T>, context?: unknown): this {
    if (event === 'transition') this.startInspecting();
    return super.on(event, fn, context);
  }

  /** See {@link SessionManager.on}. */
  override addListener<T extends EventEmitter.EventNames<ManagerEvents>>(event: T, fn: EventEmitter.EventListener<ManagerEvents, T>, context?: unknown): this {
    return this.on(event, fn, context);
  }

  /** See {@link SessionManager.on}. */
  override once<T extends EventEmitter.EventNames<ManagerEvents>>(event: T, fn: EventEmitter.EventListener<ManagerEvents, T>, context?: unknown): this {
    if (event === 'transition') this.startInspecting();
    return super.once(event, fn, context);
  }

  /**
   * Attaches inspection to every chart, now and from now on. It is off by default because
   * xstate then builds an object per action and microstep of every event of every turn.
   */
  private startInspecting(): void {
    if (this.inspecting) return;
    this.inspecting = true;
    for (const { actor } of this.actors()) (actor as unknown as { system: { inspect(observer: (event: InspectionEvent) => void): unknown } }).system.inspect(this.inspect);
  }

  /** The charts' live actors, for inspectors: endpoints, credentials and sessions. @internal */
  actors(): { kind: 'endpoint' | 'credential' | 'session'; id: string; actor: { getSnapshot(): unknown } }[] {
    const list: { kind: 'endpoint' | 'credential' | 'session'; id: string; actor: { getSnapshot(): unknown } }[] = [];
    for (const [key, entry] of this.endpoints) list.push({ kind: 'endpoint', id: key, actor: entry.actor });
    for (const entry of new Set(this.credentials.values())) list.push({ kind: 'credential', id: entry.id, actor: entry.actor });
    for (const [id, entry] of this.sessions) if (entry.actor) list.push({ kind: 'session', id, actor: entry.actor });
    return list;
  }

  /** Releases every session, stops every chart, closes every socket and timer. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.idleSweep !== undefined) this.clock.clearTimeout(this.idleSweep as never);
    this.idleSweep = undefined;
    for (const id of [...this.sessions.keys()]) this.release(id);
    for (const entry of this.endpoints.values()) {
      entry.actor.send({ type: 'STOP' });
      entry.actor.stop();
    }
    for (const entry of new Set(this.credentials.values())) {
      entry.actor.send({ type: 'STOP' });
      entry.actor.stop();
      entry.runtime.close();
    }
    this.inspectors.clear();
    this.detachTelemetry();
    this.removeAllListeners();
  }

  private readonly inspect = (event: InspectionEvent): void => {
    this.observer.inspect(event);
    if (this.inspectors.size === 0) return;
    const clean = sanitizeInspectionEvent(event, this.redactionSecrets());
    for (const inspector of this.inspectors) {
      try {
        inspector(clean);
      } catch (error) {
        this.logger.error({ err: String(error) }, 'an inspection observer threw; it was skipped');
      }
    }
  };

  /** The tokens the credential sources hold, for redaction only (inspectors, logs). @internal */
  redactionSecrets(): string[] {
    const secrets: string[] = [];
    for (const [source, entry] of this.credentials) {
      if (typeof source === 'string') secrets.push(source);
      secrets.push(...entry.runtime.knownTokens());
    }
    for (const entry of this.endpoints.values()) secrets.push(...headerSecrets(entry.config.headers));
    return secrets;
  }

  private endpointEntry(endpointKey: string): EndpointEntry {
    const entry = this.endpoints.get(endpointKey);
    if (!entry) {
      throw new ConfigError('endpointKey', `unknown endpoint ${JSON.stringify(endpointKey)}; configured: ${[...this.endpoints.keys()].map((k) => JSON.stringify(k)).join(', ')}`);
    }
    return entry;
  }

  private nextSeed(): number {
    this.jitterSeed = (this.jitterSeed * 1103515245 + 12345) & 0x7fffffff;
    return this.jitterSeed;
  }

  private credentialEntry(source: string | CredentialSource, endpointKey: string): CredentialEntry {
    const existing = this.credentials.get(source);
    if (existing) return existing;
    const resolved = typeof source === 'string' ? staticToken(source, `${endpointKey}/token`) : source;
    const id = resolved.name ?? `${endpointKey}/credentials`;
    const runtime = createCredentialRuntime(resolved, { credentialId: id, clock: this.clock });
    const actor = createCredentialActor(runtime, {
      credentialId: id,
      jitterSeed: this.nextSeed(),
      clock: this.clock,
      ...(this.inspecting ? { inspect: this.inspect } : {}),
      beforeStart: (created) => this.observer.watch(created, 'credential', id),
    });
    const entry: CredentialEntry = { id, runtime, actor, endpoints: [] };
    // A sign-in, a sign-in required or a new token changes what a turn may do: its endpoints' turns ask again.
    actor.on('credential.changed', () => {
      for (const endpoint of entry.endpoints) endpoint.healthEpoch += 1;
    });
    this.credentials.set(source, entry);
    return entry;
  }

  private createEndpoint(key: string, config: EndpointConfig, store: CoordinationStore | undefined): EndpointEntry {
    const credential = this.credentialEntry(config.credentials, key);
    const machine = createEndpointMachine().provide({
      actors: store
        ? { claimProbe: fromPromise(({ input }: { input: { endpointKey: string; atMs: number; leaseMs: number } }) => store.claimProbe(input.endpointKey, input.atMs, input.leaseMs)) }
        : {},
      actions: store
        ? {
            publishHealth: (_, report) => {
              store.publishHealth(report).catch((error: unknown) => {
                this.logger.warn({ endpointKey: key, err: String(error) }, `could not publish the health of ${key} to the shared store`);
              });
            },
            // Give the store's lease back so the fleet does not wait it out; a store without releaseProbe lets it expire.
            releaseSharedProbe: (_, release) => {
              if (release.leaseUntilMs === undefined || typeof store.releaseProbe !== 'function') return;
              store.releaseProbe(release.endpointKey, release.atMs, release.leaseUntilMs).catch((error: unknown) => {
                this.logger.warn({ endpointKey: key, err: String(error) }, `could not release the probe of ${key} in the shared store`);
              });
            },
          }
        : {},
    });
    const actor = createActor(machine, {
      clock: this.clock,
      ...(this.inspecting ? { inspect: this.inspect } : {}),
      input: { endpointKey: key, policy: this.policy, jitterSeed: this.nextSeed(), sharedStore: store !== undefined },
    });
    this.observer.watch(actor, 'endpoint', key);
    actor.start();
    // Other processes' health changes, pushed by the store, reach the chart at once; the
    // subscription ends with the chart (STOP makes it final).
    const unsubscribe = store?.subscribe?.((report) => {
      if (report.endpointKey === key) actor.send({ type: 'FLEET.HEALTH_CHANGED', report, atMs: this.clock.now() });
    });
    if (unsubscribe) actor.subscribe({ complete: unsubscribe, error: unsubscribe });
    const entry: EndpointEntry = { key, config, protocol: config.protocol ?? openAIResponses, actor, credential, healthEpoch: 0 };
    credential.endpoints.push(entry);
    // A session told "HTTP until T" skips asking before T, unless the health changed meanwhile (reset, probe, fleet).
    actor.on('health.changed', () => {
      entry.healthEpoch += 1;
    });
    return entry;
  }

  private createRunner(): TurnRunner {
    const manager = this;
    return {
      now: () => manager.clock.now(),
      credentialFor: (endpointKey) => manager.endpointEntry(endpointKey).credential.runtime.current(),
      open(sessionId, endpointKey, transport, body, token, signal, send) {
        const endpoint = manager.endpointEntry(endpointKey);
        const policy = manager.policy;
        if (transport === 'http') {
          return streamHttp({
            url: endpoint.config.httpUrl,
            token,
            body,
            send,
            protocol: endpoint.protocol,
            firstEventTimeoutMs: policy.firstEventTimeoutMs,
            idleTimeoutMs: policy.idleTimeoutMs,
            signal,
            ...(endpoint.config.headers ? { headers: endpoint.config.headers } : {}),
          });
        }
        const connection = manager.sessions.get(sessionId)?.connection;
        if (!connection || !connection.isOpen) {
          // The socket went between the chart's decision and now (its owner reported the end): the chart moves the turn to HTTP.
          return failedSend(new TransportError({ kind: 'closed', code: 1006, afterFirstEvent: false }, 'the session socket closed before the turn was sent'));
        }
        let frame: string;
        try {
          frame = endpoint.protocol.webSocketFrame(body, send);
        } catch (error) {
          return failedSend(requestInvalid(error));
        }
        return connection.streamTurn(frame, {
          protocol: endpoint.protocol,
          // A socket that stays silent costs at most this before the turn moves to HTTP.
          firstEventTimeoutMs: Math.min(policy.webSocketFirstEventTimeoutMs, policy.firstEventTimeoutMs),
          idleTimeoutMs: policy.idleTimeoutMs,
          signal,
        });
      },
      protocolFor: (endpointKey) => manager.endpointEntry(endpointKey).protocol,
      healthEpoch: (endpointKey) => manager.endpointEntry(endpointKey).healthEpoch,
      startChart: (sessionId, carried) => manager.startSessionChart(sessionId, carried),
      secrets: () => manager.secretSet(manager.redactionSecrets()),
      turnEnded(event) {
        manager.publish('turn', event);
      },
      release: (sessionId) => manager.release(sessionId),
    };
  }

  /**
   * Emits to the listeners; a listener that throws is logged at error level and skipped, so it
   * never changes a turn or a chart. @internal
   */
  publish<T extends EventEmitter.EventNames<ManagerEvents>>(event: T, ...args: EventEmitter.EventArgs<ManagerEvents, T>): void {
    // Nobody listens: skip scrubbing the payload (a turn's event on the hot path).
    if (this.listenerCount(event) === 0) return;
    try {
      this.emit(event, ...args);
    } catch (error) {
      this.logger.error({ event, err: scrubText(String(error), this.secretSet(this.redactionSecrets())) }, `a listener of "${String(event)}" threw; it was skipped (listeners must not throw)`);
    }
  }

  /** `await using manager = createSessionManager(…)`: closes the manager at the end of the scope. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** The request body could not be encoded (circular, BigInt, a throwing toJSON): the turn fails as request-fatal. */
export function requestInvalid(error: unknown): TransportError {
  const detail = (error instanceof Error ? error.message : String(error)).slice(0, 200);
  return new TransportError({ kind: 'request-invalid', detail }, `the request body cannot be encoded: ${detail}`, { cause: error });
}

function endpointState(snapshot: { value: unknown; context: EndpointContext; status: string }): EndpointState {
  // The endpoint chart has no parallel regions: one path.
  const path = statePaths(snapshot.value as StateValue)[0] ?? '';
  const top = path.split('.')[0];
  const status: EndpointState['status'] =
    snapshot.status !== 'active' || top === 'stopped'
      ? 'stopped'
      : top === 'coolingDown'
        ? 'cooling-down'
        : (top as 'probing' | 'healthy' | 'unsupported');
  const c = snapshot.context;
  return {
    status,
    path,
    cooldownUntilMs: status === 'cooling-down' || status === 'unsupported' ? c.cooldownUntilMs : undefined,
    consecutiveFailures: c.consecutiveFailures,
    lastFailure: c.lastFailure,
    probesGranted: c.probesGranted,
    history: c.history,
  };
}
