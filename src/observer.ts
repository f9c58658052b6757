import type { EventEmitter } from 'eventemitter3';
import type { AnyActorRef, InspectionEvent } from 'xstate';
import type { EndpointContext, EndpointEmitted } from '../machines/endpoint.js';
import type { CredentialEmitted } from '../machines/credential.js';
import type { SessionContext } from '../machines/session.js';
import type { Clock } from './clock.js';
import type { ActorKind, ManagerEvents } from './events.js';
import type { Logger } from './logging.js';
import { reportCredentialEvent } from './reports/credential-reports.js';
import { reportEndpointEvent } from './reports/endpoint-reports.js';
import type { ReportOutlet } from './reports/report-outlet.js';
import { statePaths } from './state.js';
import { reportSessionEvent } from './reports/session-reports.js';
import type { SessionEmitted } from '../machines/session-types.js';

interface Watched {
  readonly kind: ActorKind;
  readonly id: string;
  /** Dotted paths of the active leaves, one per region. */
  paths: string[];
  /** The event being processed, from inspection (only attached when transitions are listened to). */
  pendingCause: string | undefined;
  /** Set when the actor is stopped for being idle: its last snapshot is not reported. */
  forgotten?: boolean;
}

/**
 * Turns chart transitions into what operators and hosts consume: typed events and one log line
 * per state change of an endpoint or credential (metrics and spans listen to those events:
 * src/telemetry.ts). The endpoint and credential charts emit what changed themselves; their
 * events are worded in src/reports/, so the charts stay free of logging code.
 */
export class TransitionObserver {
  private readonly watched = new WeakMap<object, Watched>();
  /** Where the reports of what the charts emit go: this observer's listener-isolating `emit`, and the logger. */
  private readonly outlet: ReportOutlet;

  constructor(
    private readonly emitter: EventEmitter<ManagerEvents>,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {
    this.outlet = { emit: (event, ...args) => this.emit(event, ...args), logger };
  }

  /**
   * Starts watching an actor; call before `start()` so the first snapshot is seen. Snapshots
   * arrive through a plain subscription (cheap); xstate inspection, which costs an object per
   * action and microstep, is only attached when someone wants `transition` events or an inspector.
   * What the endpoint and credential charts emit is reported as it is emitted.
   */
  watch(
    actor: { subscribe(observer: { next(snapshot: unknown): void; error(error: unknown): void }): unknown; on(type: '*', handler: (emitted: { type: string }) => void): unknown },
    kind: ActorKind,
    id: string,
    endpointKey?: string,
  ): void {
    if (kind === 'endpoint') actor.on('*', (emitted) => reportEndpointEvent(id, emitted as EndpointEmitted, this.outlet));
    if (kind === 'credential') actor.on('*', (emitted) => reportCredentialEvent(id, emitted as CredentialEmitted, this.outlet));
    const watched: Watched = { kind, id, paths: [], pendingCause: undefined };
    this.watched.set(actor, watched);
    if (kind === 'session' && endpointKey !== undefined) {
      // The session chart says when an upgrade ended, when its turns moved to HTTP and when they came back.
      const session = { id, endpointKey };
      actor.on('*', (emitted) => reportSessionEvent(emitted as SessionEmitted, session, this.outlet));
    }
    actor.subscribe({
      next: (snapshot) => this.onSnapshot(watched, snapshot as { value?: unknown; context?: unknown; status?: string }),
      // The manager reports chart errors itself; an observer without `error` would rethrow them.
      error: () => {},
    });
  }

  /** Stops reporting an actor whose charts are being stopped without a release (an idle session's): its stop is no transition. */
  forget(actor: object): void {
    const watched = this.watched.get(actor);
    if (watched) watched.forgotten = true;
  }

  /** Emits to the host's listeners; a listener that throws is logged and skipped, never felt by a chart or a turn. */
  private emit<T extends EventEmitter.EventNames<ManagerEvents>>(event: T, ...args: EventEmitter.EventArgs<ManagerEvents, T>): void {
    try {
      this.emitter.emit(event, ...args);
    } catch (error) {
      this.logger.error({ event, err: String(error) }, `a listener of "${String(event)}" threw; it was skipped (listeners must not throw)`);
    }
  }

  /** The inspection callback: notes which event is about to be processed, so transitions can name their cause. */
  readonly inspect = (event: InspectionEvent): void => {
    if (event.type !== '@xstate.event') return;
    const watched = this.watched.get(event.actorRef);
    if (watched) watched.pendingCause = event.event.type;
  };

  private onSnapshot(watched: Watched, snapshot: { value?: unknown; context?: unknown; status?: string }): void {
    if (snapshot.value === undefined || watched.forgotten === true) return;
    const paths = snapshot.status === 'done' || snapshot.status === 'stopped' ? ['released'] : statePaths(snapshot.value as never);
    const previous = watched.paths;
    watched.paths = paths;
    const cause = watched.pendingCause ?? 'unknown';
    for (const to of paths) {
      const region = to.split('.').slice(0, 2).join('.');
      const from = previous.find((path) => path.split('.').slice(0, 2).join('.') === region) ?? previous[0] ?? 'none';
      if (from === to) continue;
      this.onTransition(watched, from, to, cause, snapshot.context);
    }
  }

  private onTransition(watched: Watched, from: string, to: string, cause: string, context: unknown): void {
    const atMs = this.clock.now();
    if (watched.kind === 'session') {
      const session = context as SessionContext;
      const failure = session.lastFailure;
      if (this.emitter.listenerCount('transition') > 0) this.emit('transition', { actor: 'session', id: watched.id, from, to, cause, atMs, ...(failure && to.endsWith('fallback') ? { failure } : {}) });
    } else if (watched.kind === 'endpoint') {
      const endpoint = context as EndpointContext;
      const failure = endpoint.lastFailure;
      if (this.emitter.listenerCount('transition') > 0) this.emit('transition', { actor: 'endpoint', id: watched.id, from, to, cause, atMs, ...(failure && to !== 'healthy.settling' ? { failure } : {}) });
    } else {
      if (this.emitter.listenerCount('transition') > 0) this.emit('transition', { actor: 'credential', id: watched.id, from, to, cause, atMs });
    }
  }
}
