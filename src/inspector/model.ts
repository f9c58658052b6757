import type { StateValue } from 'xstate';
import { statePaths } from '../state.js';

/**
 * What the inspector knows: one view per chart actor (sessions, endpoints, credentials, and
 * actors of other xstate apps sent to `/stately`), and a bounded timeline of what happened to
 * them. Everything stored here is already sanitized: it is fed sanitized inspection events and
 * sanitized snapshots only, and it is what goes over the inspector's socket.
 */

/** Which kind of actor a view describes. `xstate` is an actor of another app, received on `/stately`. */
export type InspectedKind = 'session' | 'endpoint' | 'credential' | 'xstate';

/** One line of an endpoint's probe history, as shown. */
export interface ProbeView {
  readonly atMs: number;
  readonly sessionId: string;
  readonly result: string;
  readonly failure?: string;
  readonly code?: string;
}

export interface SessionSummary {
  readonly endpointKey: string | undefined;
  /** Connection region, without `active.connection.` (`fallback`, `socket.open`, …), or `released`. */
  readonly connection: string;
  readonly turn: string;
  readonly transport: 'websocket' | 'http';
  readonly httpReason: string | undefined;
  readonly httpUntilMs: number | undefined;
  readonly lastFailure: string | undefined;
  readonly lastTurn: { readonly id: string; readonly result: string; readonly transport: string | undefined; readonly durationMs?: number } | undefined;
  readonly turns: { readonly websocket: number; readonly http: number; readonly failed: number };
  readonly upgrades: { readonly opened: number; readonly failed: number };
  /** The connection, transport and HTTP reason before the session was released (so a finished run still tells where each session was). */
  readonly lastLive?: { readonly connection: string; readonly transport: 'websocket' | 'http'; readonly httpReason: string | undefined };
}

export interface EndpointSummary {
  readonly status: 'probing' | 'healthy' | 'cooling-down' | 'unsupported' | 'stopped';
  readonly path: string;
  readonly cooldownUntilMs: number | undefined;
  readonly cooldownStartedAtMs: number | undefined;
  readonly consecutiveFailures: number;
  readonly probesGranted: number;
  readonly suppressedFailures: number;
  readonly probeHolder: string | undefined;
  readonly lastFailure: string | undefined;
  readonly history: readonly ProbeView[];
  /** The status before the chart stopped (when the manager closed), for a page that shows how the run ended. */
  readonly lastLiveStatus?: EndpointSummary['status'];
}

export interface CredentialSummary {
  readonly generation: number | undefined;
  readonly refreshesStarted: number | undefined;
  readonly transientFailures: number | undefined;
  readonly lastFailure: string | undefined;
}

/** One actor as the page shows it. */
export interface ActorView {
  /** `kind:id`, unique. */
  readonly key: string;
  readonly kind: InspectedKind;
  /** Session id, endpoint key, credential name, or (for `xstate`) the actor's name. */
  readonly id: string;
  /** xstate's session id of the actor (`x:3`). */
  readonly sessionId: string;
  /** Name of the chart geometry to draw it with. */
  readonly chart: string;
  /** Snapshot status: `active`, `done`, `stopped`, `error`. */
  readonly status: string;
  readonly value: unknown;
  /** Active leaf paths, one per region. */
  readonly paths: readonly string[];
  /** A short label of the state (`fallback`, `coolingDown`, `socket.open · streaming`). */
  readonly state: string;
  readonly updatedAtMs: number;
  readonly session?: SessionSummary;
  readonly endpoint?: EndpointSummary;
  readonly credential?: CredentialSummary;
  /** The sanitized context, for the details panel. */
  readonly context?: unknown;
}

/** One thing that happened to an actor. */
export interface TimelineEntry {
  readonly seq: number;
  readonly atMs: number;
  /** {@link ActorView.key}. */
  readonly actor: string;
  /** Readable event name (`UPGRADE_FAILED`, `after cooldownDelay`, `fallback`). */
  readonly event: string;
  /** Leaf paths before and after. Equal when nothing changed state. */
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly changed: boolean;
  /** Why, in words: a failure summary, a denial reason. */
  readonly cause?: string;
  /** A deadline the event names (a denial's or a fallback's "until"), in ms on the manager's clock. */
  readonly untilMs?: number;
  /** The state value after the event: what time travel shows. */
  readonly value: unknown;
  /** A manager event (`fallback`, `turn`, `upgrade`, …) rather than a chart event. */
  readonly note?: true;
  /** A routine note (a turn that completed): the page folds runs of them into one counted row. */
  readonly routine?: true;
  /** The transport of a `turn` note. */
  readonly transport?: string;
  /** The event's payload (sanitized, without `type`), compact JSON, at most ~600 characters. */
  readonly detail?: string;
}

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Json) : undefined;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function failureText(value: unknown): string | undefined {
  const failure = asObject(value);
  if (!failure) return undefined;
  return str(failure.summary) ?? str(failure.code) ?? str(failure.class);
}

/** Active leaf paths of a state value (`[]` when there is none). */
export function pathsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (asObject(value)) return statePaths(value as StateValue);
  return [];
}

/** `xstate.after.cooldownDelay.endpoint.coolingDown` → `after cooldownDelay`, and so on. */
export function readableEvent(type: string): string {
  if (type === 'xstate.init') return 'start';
  if (type === 'xstate.stop') return 'stop';
  const after = /^xstate\.after\.([^.]+)\./.exec(type);
  if (after) return `after ${after[1]}`;
  if (type.startsWith('xstate.done.actor.')) return `done: ${type.slice('xstate.done.actor.'.length)}`;
  if (type.startsWith('xstate.error.actor.')) return `error: ${type.slice('xstate.error.actor.'.length)}`;
  if (type.startsWith('xstate.done.state.')) return 'done';
  return type;
}

function shortState(kind: InspectedKind, status: string, paths: readonly string[]): string {
  if (status === 'done' || status === 'stopped') {
    if (kind === 'session') return 'released';
    return paths.join(' · ') || status;
  }
  if (status === 'error') return 'error';
  if (kind === 'session') return paths.map((p) => p.replace(/^active\.(connection|turn)\./, '')).join(' · ');
  return paths.join(' · ');
}

function endpointStatus(status: string, paths: readonly string[]): EndpointSummary['status'] {
  const top = (paths[0] ?? '').split('.')[0];
  if (status !== 'active' || top === 'stopped') return 'stopped';
  if (top === 'coolingDown') return 'cooling-down';
  if (top === 'healthy' || top === 'unsupported') return top;
  return 'probing';
}

const TIMELINE_LIMIT = 5_000;
const RELEASED_SESSIONS_KEPT = 50;
const DETAIL_LIMIT = 600;

interface Tracked {
  view: ActorView;
  /** Counters from manager events (sessions). */
  turns: { websocket: number; http: number; failed: number };
  upgrades: { opened: number; failed: number };
  lastTurn: SessionSummary['lastTurn'];
  lastFailure: string | undefined;
  lastLive: SessionSummary['lastLive'];
  /** The state of a session's turn chart (its child `turn`), e.g. `streaming`. */
  turnState?: string;
}

/** A change to send: actors that changed, timeline entries that were added, actors that went. */
export interface ModelDelta {
  readonly actors: ActorView[];
  readonly timeline: TimelineEntry[];
  readonly removed: string[];
}

/** The inspector's state; see the module comment. */
export class InspectorModel {
  private readonly actors = new Map<string, Tracked>();
  private readonly bySessionId = new Map<string, string>();
  private readonly timeline: TimelineEntry[] = [];
  private released: string[] = [];
  private seq = 0;
  private pending: { actors: Set<string>; timeline: TimelineEntry[]; removed: Set<string> } = { actors: new Set(), timeline: [], removed: new Set() };

  constructor(private readonly now: () => number) {}

  /** The view of an actor, by key. */
  get(key: string): ActorView | undefined {
    return this.actors.get(key)?.view;
  }

  /** The key of the actor with this xstate session id, if tracked. */
  keyOfSession(sessionId: string): string | undefined {
    return this.bySessionId.get(sessionId);
  }

  /** Every view, endpoints first, then sessions, credentials and other actors. */
  list(): ActorView[] {
    const order: Record<InspectedKind, number> = { endpoint: 0, session: 1, credential: 2, xstate: 3 };
    return [...this.actors.values()].map((t) => t.view).sort((a, b) => order[a.kind] - order[b.kind] || naturalCompare(a.id, b.id));
  }

  /** How many actors of a kind are tracked. */
  count(kind: InspectedKind): number {
    let n = 0;
    for (const tracked of this.actors.values()) if (tracked.view.kind === kind) n++;
    return n;
  }

  /**
   * The most recent `limit` timeline entries, oldest first. Routine entries (every turn's walk
   * through its session chart) give way first: a page opened after an hour of turns still gets
   * the endpoint failures and fallbacks from the start of the incident.
   */
  recent(limit = 1_000): TimelineEntry[] {
    return keepNewest(this.timeline, limit);
  }

  /** Starts tracking an actor (or refreshes it) from a sanitized snapshot. */
  track(kind: InspectedKind, id: string, sessionId: string, chart: string, snapshot: unknown): ActorView {
    const key = `${kind}:${id}`;
    const existing = this.actors.get(key);
    if (existing && existing.view.sessionId !== sessionId) this.bySessionId.delete(existing.view.sessionId);
    const tracked: Tracked = existing ?? { view: undefined as unknown as ActorView, turns: { websocket: 0, http: 0, failed: 0 }, upgrades: { opened: 0, failed: 0 }, lastTurn: undefined, lastFailure: undefined, lastLive: undefined };
    tracked.view = this.viewOf(kind, id, sessionId, chart, snapshot, tracked);
    this.actors.set(key, tracked);
    this.bySessionId.set(sessionId, key);
    this.released = this.released.filter((k) => k !== key);
    this.pending.actors.add(key);
    this.pending.removed.delete(key);
    return tracked.view;
  }

  /**
   * Records a sanitized `@xstate.snapshot` of a tracked actor: updates its view and appends a
   * timeline entry (changed or not).
   */
  snapshot(key: string, event: unknown, snapshot: unknown): TimelineEntry | undefined {
    const tracked = this.actors.get(key);
    if (!tracked) return undefined;
    const before = tracked.view;
    const after = this.viewOf(before.kind, before.id, before.sessionId, before.chart, snapshot, tracked);
    tracked.view = after;
    this.pending.actors.add(key);
    if (before.kind === 'session' && after.status !== 'active') this.noteReleased(key);
    const e = asObject(event) ?? {};
    const type = str(e.type) ?? '(unknown)';
    const changed = before.paths.join('|') !== after.paths.join('|') || before.status !== after.status;
    return this.append({
      atMs: this.now(),
      actor: key,
      event: readableEvent(type),
      from: before.paths,
      to: after.paths.length > 0 ? after.paths : [after.status],
      changed,
      cause: causeOf(e, before, after),
      untilMs: num(e.untilMs),
      value: after.value,
      detail: detailOf(e),
    });
  }

  /**
   * Records a sanitized snapshot of a session's turn chart (the session chart's child `turn`): the
   * session's view shows the turn's state, and the timeline the event under the session's name.
   */
  turnSnapshot(sessionKey: string, event: unknown, snapshot: unknown): TimelineEntry | undefined {
    const tracked = this.actors.get(sessionKey);
    if (!tracked) return undefined;
    const before = tracked.turnState;
    const after = pathsOf(asObject(snapshot)?.value)[0];
    tracked.turnState = after;
    const view = tracked.view;
    tracked.view = this.viewOf(view.kind, view.id, view.sessionId, view.chart, { value: view.value, status: view.status, context: view.context }, tracked);
    this.pending.actors.add(sessionKey);
    const e = asObject(event) ?? {};
    const type = str(e.type) ?? '(unknown)';
    const turnPath = (state: string | undefined): string[] => (state === undefined ? [] : [`turn.${state}`]);
    return this.append({
      atMs: this.now(),
      actor: sessionKey,
      event: readableEvent(type),
      from: turnPath(before),
      to: turnPath(after),
      changed: before !== after,
      cause: causeOf(e, view, tracked.view),
      untilMs: num(e.untilMs),
      value: view.value,
      detail: detailOf(e),
    });
  }

  /** Records a manager event about an actor (a fallback, a turn, an upgrade) as a timeline note. */
  note(key: string, event: string, cause: string, apply?: (tracked: Tracked) => void, untilMs?: number, extra?: { routine?: true; transport?: string }): TimelineEntry | undefined {
    const tracked = this.actors.get(key);
    if (!tracked) return undefined;
    if (apply) {
      apply(tracked);
      tracked.view = this.viewOf(tracked.view.kind, tracked.view.id, tracked.view.sessionId, tracked.view.chart, { value: tracked.view.value, status: tracked.view.status, context: tracked.view.context }, tracked);
      this.pending.actors.add(key);
    }
    return this.append({ atMs: this.now(), actor: key, event, from: tracked.view.paths, to: tracked.view.paths, changed: false, cause, untilMs, value: tracked.view.value, note: true, ...extra });
  }

  /** Counts a finished turn of a session (from the manager's `turn` event). */
  turn(sessionKey: string, turnId: string, result: string, transport: string | undefined, durationMs: number, failure: string | undefined): void {
    this.note(sessionKey, 'turn', `${turnId} ${result}${transport ? ` over ${transport}` : ''} in ${durationMs} ms${failure ? `: ${failure}` : ''}`, (t) => {
      if (result === 'failed') t.turns.failed++;
      else if (transport === 'websocket') t.turns.websocket++;
      else t.turns.http++;
      t.lastTurn = { id: turnId, result, transport, durationMs };
    }, undefined, result === 'completed' ? { routine: true, ...(transport ? { transport } : {}) } : transport ? { transport } : {});
  }

  /** Counts an upgrade of a session (from the manager's `upgrade` event). */
  upgrade(sessionKey: string, result: 'opened' | 'failed', failure: string | undefined): void {
    this.note(sessionKey, 'upgrade', result === 'opened' ? 'WebSocket opened' : `upgrade failed${failure ? `: ${failure}` : ''}`, (t) => {
      t.upgrades[result]++;
      // A failure the session got past is not its current state.
      t.lastFailure = result === 'opened' ? undefined : (failure ?? t.lastFailure);
    });
  }

  /** What changed since the last call. */
  takeDelta(): ModelDelta | undefined {
    const { actors, timeline, removed } = this.pending;
    if (actors.size === 0 && timeline.length === 0 && removed.size === 0) return undefined;
    this.pending = { actors: new Set(), timeline: [], removed: new Set() };
    return {
      actors: [...actors].flatMap((key) => {
        const view = this.actors.get(key)?.view;
        return view ? [view] : [];
      }),
      timeline,
      removed: [...removed],
    };
  }

  private append(entry: Omit<TimelineEntry, 'seq'>): TimelineEntry {
    const full: TimelineEntry = { seq: ++this.seq, ...stripUndefined(entry) } as TimelineEntry;
    this.timeline.push(full);
    // Trimmed in batches (a fifth over the limit), routine entries first, so appending stays cheap.
    if (this.timeline.length > TIMELINE_LIMIT * 1.2) {
      const kept = keepNewest(this.timeline, TIMELINE_LIMIT);
      this.timeline.length = 0;
      this.timeline.push(...kept);
    }
    this.pending.timeline.push(full);
    return full;
  }

  private noteReleased(key: string): void {
    if (this.released.includes(key)) return;
    this.released.push(key);
    while (this.released.length > RELEASED_SESSIONS_KEPT) {
      const gone = this.released.shift();
      if (gone === undefined) break;
      const tracked = this.actors.get(gone);
      if (tracked) this.bySessionId.delete(tracked.view.sessionId);
      this.actors.delete(gone);
      this.pending.actors.delete(gone);
      this.pending.removed.add(gone);
    }
  }

  private viewOf(kind: InspectedKind, id: string, sessionId: string, chart: string, snapshot: unknown, tracked: Tracked): ActorView {
    const snap = asObject(snapshot) ?? {};
    const status = str(snap.status) ?? 'active';
    const value = snap.value;
    const paths = pathsOf(value);
    const context = asObject(snap.context);
    const base = { key: `${kind}:${id}`, kind, id, sessionId, chart, status, value, paths, state: shortState(kind, status, paths), updatedAtMs: this.now(), ...(context ? { context } : {}) };
    if (kind === 'endpoint') {
      const summary = endpointSummary(status, paths, context ?? {});
      const before = tracked.view?.endpoint;
      const lastLiveStatus = summary.status !== 'stopped' ? summary.status : (before?.status !== 'stopped' ? before?.status : before?.lastLiveStatus);
      return { ...base, endpoint: lastLiveStatus ? { ...summary, lastLiveStatus } : summary };
    }
    if (kind === 'credential') {
      const c = context ?? {};
      return {
        ...base,
        credential: { generation: num(c.generation), refreshesStarted: num(c.refreshesStarted), transientFailures: num(c.transientFailures), lastFailure: str(c.lastFailureSummary) },
      };
    }
    if (kind === 'session') {
      const c = context ?? {};
      const released = status !== 'active';
      const connection = released ? 'released' : (paths.find((p) => p.startsWith('active.connection.')) ?? '').replace(/^active\.connection\./, '');
      const turn = released ? 'released' : (tracked.turnState ?? 'idle');
      const transport = connection === 'socket.open' ? 'websocket' : 'http';
      const onSocket = connection === 'socket.open';
      if (!released && connection !== '') tracked.lastLive = { connection, transport, httpReason: onSocket ? undefined : str(c.httpReason) };
      if (onSocket) tracked.lastFailure = undefined;
      return {
        ...base,
        session: {
          endpointKey: str(c.endpointKey),
          connection,
          turn,
          transport,
          httpReason: onSocket ? undefined : str(c.httpReason),
          httpUntilMs: num(c.httpUntilMs),
          // Stale failures go once the session is back on its WebSocket.
          lastFailure: onSocket ? undefined : (failureText(c.lastFailure) ?? tracked.lastFailure),
          lastTurn: tracked.lastTurn,
          turns: { ...tracked.turns },
          upgrades: { ...tracked.upgrades },
          ...(tracked.lastLive ? { lastLive: tracked.lastLive } : {}),
        },
      };
    }
    return base;
  }
}

function endpointSummary(status: string, paths: readonly string[], c: Json): EndpointSummary {
  const endpointStatusValue = endpointStatus(status, paths);
  const history = Array.isArray(c.history) ? (c.history as unknown[]) : [];
  return {
    status: endpointStatusValue,
    path: paths[0] ?? '',
    cooldownUntilMs: endpointStatusValue === 'cooling-down' || endpointStatusValue === 'unsupported' ? num(c.cooldownUntilMs) : undefined,
    cooldownStartedAtMs: num(c.cooldownStartedAtMs),
    consecutiveFailures: num(c.consecutiveFailures) ?? 0,
    probesGranted: num(c.probesGranted) ?? 0,
    suppressedFailures: num(c.suppressedFailures) ?? 0,
    probeHolder: str(c.probeHolder),
    // A failure the endpoint got past (a probe succeeded since) is history, not its state.
    lastFailure: (num(c.consecutiveFailures) ?? 0) > 0 || endpointStatusValue === 'cooling-down' || endpointStatusValue === 'unsupported' ? failureText(c.lastFailure) : undefined,
    history: history.flatMap((entry) => {
      const h = asObject(entry);
      if (!h) return [];
      const failure = asObject(h.failure);
      return [
        {
          atMs: num(h.atMs) ?? 0,
          sessionId: str(h.sessionId) ?? '?',
          result: str(h.result) ?? '?',
          ...(failure ? { failure: failureText(failure) ?? '', ...(str(failure.code) ? { code: str(failure.code) } : {}) } : {}),
        } satisfies ProbeView,
      ];
    }),
  };
}

function causeOf(event: Json, before: ActorView, after: ActorView): string | undefined {
  const failure = failureText(event.failure);
  if (failure) return failure;
  const outcome = asObject(event.outcome);
  if (outcome) {
    const parts = [str(outcome.kind), num(outcome.status) ?? num(outcome.code) ?? str(outcome.code), str(outcome.phase)].filter((p) => p !== undefined);
    const summary = after.session?.lastFailure;
    if (summary && (summary !== before.session?.lastFailure || before.paths.join('|') !== after.paths.join('|'))) return summary;
    if (parts.length > 0) return parts.join(' ');
  }
  if (typeof event.reason === 'string') return event.reason;
  if (typeof event.summary === 'string') return event.summary;
  const beforeFailure = before.endpoint?.lastFailure ?? before.session?.lastFailure;
  const afterFailure = after.endpoint?.lastFailure ?? after.session?.lastFailure;
  if (afterFailure && afterFailure !== beforeFailure) return afterFailure;
  if (after.credential?.lastFailure && after.credential.lastFailure !== before.credential?.lastFailure) return after.credential.lastFailure;
  return undefined;
}

function detailOf(event: Json): string | undefined {
  // `type` is the event column and `atMs` the time column already.
  const { type: _type, atMs: _atMs, ...rest } = event;
  if (Object.keys(rest).length === 0) return undefined;
  const text = JSON.stringify(rest, (_key, value: unknown) => {
    // Actor refs (sanitized to { id, sessionId }) read better as their id.
    const ref = asObject(value);
    if (ref && typeof ref.sessionId === 'string' && typeof ref.id === 'string' && Object.keys(ref).length === 2) return `@${ref.id}`;
    return value;
  });
  return text.length > DETAIL_LIMIT ? `${text.slice(0, DETAIL_LIMIT - 1)}…` : text;
}

/** Whether an entry is every turn's routine: a turn that completed, or a step of a session's chart. */
export function isRoutine(entry: TimelineEntry): boolean {
  return entry.routine === true || (entry.note !== true && entry.actor.startsWith('session:'));
}

/** The newest `limit` entries, dropping routine ones before any other; order kept. */
function keepNewest(entries: readonly TimelineEntry[], limit: number): TimelineEntry[] {
  if (entries.length <= limit) return entries.slice();
  let important = 0;
  for (const entry of entries) if (!isRoutine(entry)) important++;
  if (important >= limit) return entries.filter((entry) => !isRoutine(entry)).slice(-limit);
  let routineRoom = limit - important;
  const kept: TimelineEntry[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!;
    if (!isRoutine(entry)) kept.push(entry);
    else if (routineRoom > 0) {
      kept.push(entry);
      routineRoom--;
    }
  }
  return kept.reverse();
}

/** Compares ids as a person reads them: `agent-2` before `agent-10`. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b);
}
const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'variant' });

function stripUndefined<T extends object>(value: T): T {
  const out: Record<string, unknown> = {};
  for (const [key, entry] of Object.entries(value)) if (entry !== undefined) out[key] = entry;
  return out as T;
}
