/**
 * The raw alternative of row 4: the same transitions as the turn, session (connection), endpoint
 * and credential charts take during a turn, written as hand-written switch reducers over plain
 * objects, with the same context updates (immutable, like `assign`) and the same messages between
 * the four, delivered through a synchronous queue as xstate's mailboxes do. It covers what a turn
 * needs: the turn decided at once from what the connection told it (an open socket, or an HTTP
 * verdict that still holds at the same health epoch), or else the turn asking the connection
 * (`TRANSPORT.WANTED`), the endpoint's permission, the credential check once granted or the peek
 * before HTTP once denied, and the connection telling the turn (`CONNECTION.CHANGED`); completion.
 * Not failures, timers or refreshes. It follows machines/turn.ts and machines/session.ts as of this
 * benchmark: a steady turn is 2 events (requested, completed) on an open socket and while cooling
 * down; row 4 checks that both handle the same number of events per turn and says so in
 * results.json when they differ.
 */

type Transport = 'websocket' | 'http';

/** What the connection told the turn (machines/session-types.ts `ConnectionView`, without sign-in). */
type View =
  | { readonly kind: 'none' }
  | { readonly kind: 'upgrading' }
  | { readonly kind: 'websocket' }
  | { readonly kind: 'http'; readonly reason: string; readonly untilMs: number | undefined };

interface Turn {
  readonly id: string;
  readonly requestedAtMs: number;
  readonly healthEpoch: number;
  readonly transport: Transport | undefined;
  readonly attempt: number;
  readonly httpReason: string | undefined;
}

interface TurnResult {
  readonly id: string;
  readonly result: 'completed' | 'failed';
  readonly transport: Transport | undefined;
}

interface TurnState {
  readonly value: 'idle' | 'awaitingTransport' | 'streaming';
  readonly nowMs: number;
  readonly connection: View;
  readonly verdictEpoch: number | undefined;
  readonly current: Turn | undefined;
  readonly lastTurn: TurnResult | undefined;
}

interface SessionState {
  readonly connection: 'idle' | 'checkingCredentials' | 'requestingPermission' | 'peekingBeforeHttp' | 'connecting' | 'open' | 'fallback';
  readonly nowMs: number;
  readonly upgradeAuthRetried: boolean;
  readonly credentialGeneration: number;
  readonly connectStartedAtMs: number | undefined;
  readonly httpUntilMs: number | undefined;
  readonly httpReason: string | undefined;
}

interface EndpointState {
  readonly value: 'awaitingProbe' | 'probeInFlight' | 'healthy' | 'coolingDown';
  readonly cooldownUntilMs: number | undefined;
  readonly probesGranted: number;
  readonly upgradeTimeoutMs: number;
}

interface CredentialState {
  readonly value: 'untimed';
  readonly generation: number;
}

export type ReducerEvent =
  | { readonly to: 'turn'; readonly type: 'TURN_REQUESTED'; readonly turnId: string; readonly atMs: number; readonly healthEpoch: number }
  | { readonly to: 'turn'; readonly type: 'TURN_COMPLETED'; readonly turnId: string; readonly atMs: number }
  | { readonly to: 'turn'; readonly type: 'CONNECTION.CHANGED'; readonly view: View; readonly atMs: number }
  | { readonly to: 'session'; readonly type: 'TRANSPORT.WANTED'; readonly atMs: number }
  | { readonly to: 'session'; readonly type: 'CREDENTIAL.USABLE'; readonly generation: number }
  | { readonly to: 'session'; readonly type: 'ENDPOINT.GRANTED' }
  | { readonly to: 'session'; readonly type: 'ENDPOINT.DENIED'; readonly untilMs: number; readonly reason: string }
  | { readonly to: 'credential'; readonly type: 'CHECK' | 'PEEK' }
  | { readonly to: 'endpoint'; readonly type: 'PROBE_REQUESTED'; readonly sessionId: string; readonly atMs: number };

/** Four reducers and a mailbox. */
export class SwitchReducers {
  turnChart: TurnState = { value: 'idle', nowMs: 0, connection: { kind: 'none' }, verdictEpoch: undefined, current: undefined, lastTurn: undefined };
  session: SessionState = {
    connection: 'idle',
    nowMs: 0,
    upgradeAuthRetried: false,
    credentialGeneration: 0,
    connectStartedAtMs: undefined,
    httpUntilMs: undefined,
    httpReason: undefined,
  };
  endpoint: EndpointState;
  credential: CredentialState = { value: 'untimed', generation: 1 };
  /** What the facade hears (the charts' `turn.send` / `turn.ended`), recorded as the rig's listeners do. */
  lastSend: { readonly turnId: string; readonly transport: Transport; readonly attempt: number; readonly httpReason: string | undefined } | undefined;
  lastEnded: TurnResult | undefined;
  private readonly queue: ReducerEvent[] = [];
  private draining = false;
  /** Events processed (all four reducers). */
  events = 0;
  private turnCounter = 0;
  /** The manager's health epoch (nothing changes it here). */
  private readonly healthEpoch = 0;

  /** The steady state of row 4: a cooling-down endpoint whose verdict the turn heard, or an open socket. */
  constructor(endpoint: 'coolingDown' | 'healthy') {
    const untilMs = 3_600_000;
    this.endpoint = { value: endpoint, cooldownUntilMs: endpoint === 'coolingDown' ? untilMs : undefined, probesGranted: 1, upgradeTimeoutMs: 8_000 };
    if (endpoint === 'coolingDown') {
      this.session = { ...this.session, connection: 'fallback', httpUntilMs: untilMs, httpReason: 'cooling-down' };
      this.turnChart = { ...this.turnChart, connection: { kind: 'http', reason: 'cooling-down', untilMs }, verdictEpoch: this.healthEpoch };
    } else {
      this.session = { ...this.session, connection: 'open' };
      this.turnChart = { ...this.turnChart, connection: { kind: 'websocket' } };
    }
  }

  /** One turn, as the facade reports it to the turn chart. */
  turn(atMs = 0): void {
    const turnId = `t${++this.turnCounter}`;
    this.send({ to: 'turn', type: 'TURN_REQUESTED', turnId, atMs, healthEpoch: this.healthEpoch });
    this.send({ to: 'turn', type: 'TURN_COMPLETED', turnId, atMs });
  }

  send(event: ReducerEvent): void {
    this.queue.push(event);
    if (this.draining) return;
    this.draining = true;
    for (let i = 0; i < this.queue.length; i++) {
      const next = this.queue[i]!;
      this.events++;
      if (next.to === 'turn') this.turnChart = this.reduceTurn(this.turnChart, next);
      else if (next.to === 'session') this.session = this.reduceSession(this.session, next);
      else if (next.to === 'endpoint') this.endpoint = this.reduceEndpoint(this.endpoint, next);
      else this.credential = this.reduceCredential(this.credential, next);
    }
    this.queue.length = 0;
    this.draining = false;
  }

  /** Enters `streaming` with the next attempt on `transport`, and tells the facade (`turn.send`). */
  private stream(t: TurnState, transport: Transport): TurnState {
    const turn = t.current!;
    const httpReason = transport === 'websocket' ? undefined : t.connection.kind === 'http' ? t.connection.reason : 'upgrade-failed';
    const current = { ...turn, transport, attempt: turn.attempt + 1, httpReason };
    this.lastSend = { turnId: current.id, transport, attempt: current.attempt, httpReason };
    return { ...t, value: 'streaming', current };
  }

  private reduceTurn(t: TurnState, e: ReducerEvent & { to: 'turn' }): TurnState {
    let next = t;
    switch (e.type) {
      case 'TURN_REQUESTED': {
        if (t.value !== 'idle') return t;
        const nowMs = Math.max(t.nowMs, e.atMs);
        const current: Turn = { id: e.turnId, requestedAtMs: e.atMs, healthEpoch: e.healthEpoch, transport: undefined, attempt: 0, httpReason: undefined };
        const view = t.connection;
        if (view.kind === 'websocket') return this.stream({ ...t, nowMs, current }, 'websocket');
        // The HTTP verdict still holds: before its end, heard at this turn's health epoch.
        if (view.kind === 'http' && view.untilMs !== undefined && e.atMs < view.untilMs && e.healthEpoch === t.verdictEpoch) {
          return this.stream({ ...t, nowMs, current }, 'http');
        }
        if (view.kind === 'upgrading') return { ...t, value: 'awaitingTransport', nowMs, current };
        this.queue.push({ to: 'session', type: 'TRANSPORT.WANTED', atMs: nowMs });
        return { ...t, value: 'awaitingTransport', nowMs, current, connection: { kind: 'none' } };
      }
      case 'TURN_COMPLETED':
        if (t.value !== 'streaming' || t.current?.id !== e.turnId) return t;
        this.lastEnded = { id: t.current.id, result: 'completed', transport: t.current.transport };
        return { ...t, value: 'idle', nowMs: Math.max(t.nowMs, e.atMs), current: undefined, lastTurn: this.lastEnded };
      case 'CONNECTION.CHANGED':
        next = {
          ...t,
          nowMs: Math.max(t.nowMs, e.atMs),
          connection: e.view,
          verdictEpoch: e.view.kind === 'http' ? t.current?.healthEpoch : undefined,
        };
        break;
    }
    // awaitingTransport's eventless transitions.
    if (next.value === 'awaitingTransport' && next.current) {
      if (next.connection.kind === 'websocket') return this.stream(next, 'websocket');
      if (next.connection.kind === 'http') return this.stream(next, 'http');
    }
    return next;
  }

  private tellTheTurn(s: SessionState, kind: View['kind']): void {
    const view: View = kind === 'http' ? { kind, reason: s.httpReason ?? 'upgrade-failed', untilMs: s.httpUntilMs } : { kind };
    this.queue.push({ to: 'turn', type: 'CONNECTION.CHANGED', view, atMs: s.nowMs });
  }

  private reduceSession(s: SessionState, e: ReducerEvent & { to: 'session' }): SessionState {
    switch (e.type) {
      case 'TRANSPORT.WANTED':
        // The endpoint is asked first; the credentials only once an upgrade is granted.
        if (s.connection === 'idle' || s.connection === 'fallback') {
          const nowMs = Math.max(s.nowMs, e.atMs);
          this.queue.push({ to: 'endpoint', type: 'PROBE_REQUESTED', sessionId: 'bench', atMs: nowMs });
          return { ...s, connection: 'requestingPermission', nowMs, upgradeAuthRetried: false };
        }
        if (s.connection === 'open') this.tellTheTurn(s, 'websocket');
        return s;
      case 'ENDPOINT.DENIED':
        // Before HTTP, a peek at the credentials: is a sign-in required?
        if (s.connection !== 'requestingPermission') return s;
        this.queue.push({ to: 'credential', type: 'PEEK' });
        return { ...s, connection: 'peekingBeforeHttp', httpUntilMs: e.untilMs, httpReason: e.reason, upgradeAuthRetried: false };
      case 'ENDPOINT.GRANTED':
        if (s.connection !== 'requestingPermission') return s;
        this.queue.push({ to: 'credential', type: 'CHECK' });
        return { ...s, connection: 'checkingCredentials' };
      case 'CREDENTIAL.USABLE':
        if (s.connection === 'checkingCredentials') {
          const next: SessionState = { ...s, connection: 'connecting', credentialGeneration: e.generation, connectStartedAtMs: s.nowMs, httpUntilMs: undefined, httpReason: undefined };
          this.tellTheTurn(next, 'upgrading');
          return next;
        }
        if (s.connection === 'peekingBeforeHttp') {
          const next: SessionState = { ...s, connection: 'fallback' };
          this.tellTheTurn(next, 'http');
          return next;
        }
        return s;
    }
  }

  private reduceEndpoint(s: EndpointState, e: ReducerEvent & { to: 'endpoint' }): EndpointState {
    switch (s.value) {
      case 'coolingDown':
        this.queue.push({ to: 'session', type: 'ENDPOINT.DENIED', untilMs: s.cooldownUntilMs ?? e.atMs, reason: 'cooling-down' });
        return s;
      case 'probeInFlight':
        this.queue.push({ to: 'session', type: 'ENDPOINT.DENIED', untilMs: e.atMs + s.upgradeTimeoutMs + 2_000, reason: 'probe-in-flight' });
        return s;
      case 'awaitingProbe':
        this.queue.push({ to: 'session', type: 'ENDPOINT.GRANTED' });
        return { ...s, value: 'probeInFlight', probesGranted: s.probesGranted + 1 };
      case 'healthy':
        this.queue.push({ to: 'session', type: 'ENDPOINT.GRANTED' });
        return { ...s, probesGranted: s.probesGranted + 1 };
    }
  }

  private reduceCredential(s: CredentialState, _e: ReducerEvent & { to: 'credential' }): CredentialState {
    this.queue.push({ to: 'session', type: 'CREDENTIAL.USABLE', generation: s.generation });
    return s;
  }

  /** Throws unless the last turn completed on the expected transport, where the facade was told to send it. */
  expect(transport: Transport): void {
    const last = this.lastEnded;
    if (last?.result !== 'completed' || last.transport !== transport || this.lastSend?.turnId !== last.id || this.turnChart.value !== 'idle') {
      throw new Error(`reducer: expected a completed ${transport} turn, got ${JSON.stringify({ turn: this.turnChart, session: this.session, lastSend: this.lastSend })}`);
    }
  }
}
