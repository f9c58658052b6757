/**
 * The raw alternative of row 4: the same transitions as the session, endpoint and credential
 * charts take during a turn, written as hand-written switch reducers over plain objects, with
 * the same context updates (immutable, like `assign`) and the same messages between the three,
 * delivered through a synchronous queue as xstate's mailboxes do. It covers what a turn needs
 * (request, the endpoint's permission, the credential check once granted or the peek before
 * HTTP once denied, first event, completion; on HTTP while cooling down or on an open socket), not failures, timers or
 * refreshes. It follows machines/session.ts as of this benchmark: row 4 checks that both
 * handle the same number of events per turn and says so in results.json when they differ.
 */

type Transport = 'websocket' | 'http';

interface Turn {
  readonly id: string;
  readonly requestedAtMs: number;
  readonly transport: Transport | undefined;
  readonly attempt: number;
  readonly firstEventSeen: boolean;
  readonly switchedToHttp: boolean;
  readonly authRetried: boolean;
}

interface SessionState {
  readonly connection: 'idle' | 'checkingCredentials' | 'requestingPermission' | 'peekingBeforeHttp' | 'connecting' | 'open' | 'fallback';
  readonly turn: 'idle' | 'awaitingTransport' | 'streaming';
  readonly nowMs: number;
  readonly upgradeAuthRetried: boolean;
  readonly credentialGeneration: number;
  readonly httpUntilMs: number | undefined;
  readonly httpReason: string | undefined;
  readonly current: Turn | undefined;
  readonly lastTurn: { readonly id: string; readonly result: 'completed' | 'failed'; readonly transport: Transport | undefined } | undefined;
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
  | { readonly to: 'session'; readonly type: 'TURN_REQUESTED' | 'TURN_FIRST_EVENT' | 'TURN_COMPLETED'; readonly turnId: string; readonly atMs: number }
  | { readonly to: 'session'; readonly type: 'CREDENTIAL.USABLE'; readonly generation: number }
  | { readonly to: 'session'; readonly type: 'ENDPOINT.GRANTED' }
  | { readonly to: 'session'; readonly type: 'ENDPOINT.DENIED'; readonly untilMs: number; readonly reason: string }
  | { readonly to: 'credential'; readonly type: 'CHECK' | 'PEEK' }
  | { readonly to: 'endpoint'; readonly type: 'PROBE_REQUESTED'; readonly sessionId: string; readonly atMs: number };

/** Three reducers and a mailbox. */
export class SwitchReducers {
  session: SessionState = {
    connection: 'idle',
    turn: 'idle',
    nowMs: 0,
    upgradeAuthRetried: false,
    credentialGeneration: 0,
    httpUntilMs: undefined,
    httpReason: undefined,
    current: undefined,
    lastTurn: undefined,
  };
  endpoint: EndpointState;
  credential: CredentialState = { value: 'untimed', generation: 1 };
  private readonly queue: ReducerEvent[] = [];
  private draining = false;
  /** Events processed (all three reducers). */
  events = 0;
  private turnCounter = 0;

  constructor(endpoint: 'coolingDown' | 'healthy') {
    this.endpoint = { value: endpoint, cooldownUntilMs: endpoint === 'coolingDown' ? 3_600_000 : undefined, probesGranted: 1, upgradeTimeoutMs: 8_000 };
    if (endpoint === 'coolingDown') this.session = { ...this.session, connection: 'fallback', httpReason: 'upgrade-failed' };
    else this.session = { ...this.session, connection: 'open' };
  }

  /** One turn, as the facade reports it. */
  turn(atMs = 0): void {
    const turnId = `t${++this.turnCounter}`;
    this.send({ to: 'session', type: 'TURN_REQUESTED', turnId, atMs });
    this.send({ to: 'session', type: 'TURN_COMPLETED', turnId, atMs });
  }

  send(event: ReducerEvent): void {
    this.queue.push(event);
    if (this.draining) return;
    this.draining = true;
    for (let i = 0; i < this.queue.length; i++) {
      const next = this.queue[i]!;
      this.events++;
      if (next.to === 'session') this.session = this.reduceSession(this.session, next);
      else if (next.to === 'endpoint') this.endpoint = this.reduceEndpoint(this.endpoint, next);
      else this.credential = this.reduceCredential(this.credential, next);
    }
    this.queue.length = 0;
    this.draining = false;
  }

  private reduceSession(s: SessionState, e: ReducerEvent & { to: 'session' }): SessionState {
    let next = s;
    switch (e.type) {
      case 'TURN_REQUESTED': {
        const noTurn = s.turn === 'idle';
        const nowMs = Math.max(s.nowMs, e.atMs);
        // The endpoint is asked first; the credentials only once an upgrade is granted.
        if (noTurn && (s.connection === 'idle' || s.connection === 'fallback')) {
          next = { ...next, connection: 'requestingPermission', nowMs, upgradeAuthRetried: false };
          this.queue.push({ to: 'endpoint', type: 'PROBE_REQUESTED', sessionId: 'bench', atMs: nowMs });
        }
        if (s.turn === 'idle') {
          next = {
            ...next,
            turn: 'awaitingTransport',
            nowMs,
            current: { id: e.turnId, requestedAtMs: e.atMs, transport: undefined, attempt: 0, firstEventSeen: false, switchedToHttp: false, authRetried: false },
          };
        }
        break;
      }
      case 'TURN_FIRST_EVENT':
        if (s.turn === 'streaming' && s.current?.id === e.turnId) {
          next = { ...s, nowMs: Math.max(s.nowMs, e.atMs), current: { ...s.current, firstEventSeen: true } };
        }
        break;
      case 'TURN_COMPLETED':
        if (s.turn === 'streaming' && s.current?.id === e.turnId) {
          next = {
            ...s,
            turn: 'idle',
            nowMs: Math.max(s.nowMs, e.atMs),
            current: undefined,
            lastTurn: { id: s.current.id, result: 'completed', transport: s.current.transport },
          };
        }
        break;
      case 'ENDPOINT.DENIED':
        // Before HTTP, a peek at the credentials: is a sign-in required?
        if (s.connection === 'requestingPermission') {
          next = { ...s, connection: 'peekingBeforeHttp', httpUntilMs: e.untilMs, httpReason: e.reason, upgradeAuthRetried: false };
          this.queue.push({ to: 'credential', type: 'PEEK' });
        }
        break;
      case 'ENDPOINT.GRANTED':
        if (s.connection === 'requestingPermission') {
          next = { ...s, connection: 'checkingCredentials' };
          this.queue.push({ to: 'credential', type: 'CHECK' });
        }
        break;
      case 'CREDENTIAL.USABLE':
        if (s.connection === 'checkingCredentials') next = { ...s, connection: 'connecting', credentialGeneration: e.generation, httpUntilMs: undefined, httpReason: undefined };
        else if (s.connection === 'peekingBeforeHttp') next = { ...s, connection: 'fallback' };
        break;
    }
    // The turn region's eventless transitions, as `always` on awaitingTransport.
    if (next.turn === 'awaitingTransport' && next.current) {
      if (next.connection === 'open') next = { ...next, turn: 'streaming', current: { ...next.current, transport: 'websocket', attempt: next.current.attempt + 1 } };
      else if (next.connection === 'fallback') next = { ...next, turn: 'streaming', current: { ...next.current, transport: 'http', attempt: next.current.attempt + 1 } };
    }
    return next;
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

  /** Throws unless the last turn completed on the expected transport. */
  expect(transport: Transport): void {
    if (this.session.lastTurn?.result !== 'completed' || this.session.lastTurn.transport !== transport || this.session.turn !== 'idle') {
      throw new Error(`reducer: expected a completed ${transport} turn, got ${JSON.stringify(this.session)}`);
    }
  }
}
