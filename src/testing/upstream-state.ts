import { HEALTHY, applyModeUpdate, type ModeUpdate, type ModelModes } from './upstream-modes.js';

/**
 * One answered (or deliberately unanswered) request, in arrival order.
 * `status` is the HTTP status sent: 101 for an accepted upgrade, 0 when the
 * mode sent nothing (`'reset'`, `'hang'`).
 */
export interface UpstreamLogEntry {
  readonly atMs: number;
  readonly kind: 'upgrade' | 'http';
  readonly model: string;
  readonly status: number;
}

/** Settings shared by the HTTP and WebSocket handlers of the fake upstream. */
export interface UpstreamStateOptions {
  deltasPerTurn: number;
  acceptToken: (token: string) => boolean;
  modes: Readonly<Record<string, ModeUpdate>>;
  defaultMode: ModeUpdate | undefined;
  logLimit: number;
  now: () => number;
}

/** Model name used when a request names none. */
export const DEFAULT_MODEL = 'default';

/**
 * Counters, log and per-model modes of the fake upstream: plain mutable state
 * the handlers update and tests read.
 */
export class UpstreamState {
  /** Deltas in each healthy turn. */
  deltasPerTurn: number;
  /** Token check for both transports; replaceable at runtime to simulate a rotation. */
  acceptToken: (token: string) => boolean;
  /** Upgrade requests received, whatever the answer. */
  upgradeAttempts = 0;
  /** `POST /v1/responses` requests received, whatever the answer. */
  httpRequests = 0;
  /** `response.create` frames received. */
  wsTurns = 0;
  /** {@link upgradeAttempts} split by model. */
  readonly upgradeAttemptsByModel = new Map<string, number>();
  /** {@link httpRequests} split by model. */
  readonly httpRequestsByModel = new Map<string, number>();
  /** Answered requests, oldest first, trimmed beyond twice the log limit. */
  readonly log: UpstreamLogEntry[] = [];
  private readonly modes = new Map<string, ModelModes>();
  private defaultModes: ModelModes;
  private responseCounter = 0;
  private readonly logLimit: number;
  private readonly now: () => number;

  constructor(options: UpstreamStateOptions) {
    this.deltasPerTurn = options.deltasPerTurn;
    this.acceptToken = options.acceptToken;
    this.logLimit = options.logLimit;
    this.now = options.now;
    this.defaultModes = options.defaultMode === undefined ? HEALTHY : applyModeUpdate(HEALTHY, options.defaultMode);
    for (const [model, update] of Object.entries(options.modes)) this.setMode(model, update);
  }

  /** Current behaviour for `model` (its own modes, else the defaults). */
  modesFor(model: string): ModelModes {
    return this.modes.get(model) ?? this.defaultModes;
  }

  /** Apply a mode update to `model` (starting from its current modes). */
  setMode(model: string, update: ModeUpdate): void {
    this.modes.set(model, applyModeUpdate(this.modesFor(model), update));
  }

  /** Make `model` healthy, or every model (defaults included) when omitted. */
  heal(model?: string): void {
    if (model !== undefined) {
      this.modes.set(model, HEALTHY);
      return;
    }
    this.modes.clear();
    this.defaultModes = HEALTHY;
  }

  /** `Authorization: Bearer <token>` with a token `acceptToken` likes. */
  isAuthorized(authorization: string | undefined): boolean {
    if (authorization === undefined || !authorization.startsWith('Bearer ')) return false;
    const token = authorization.slice('Bearer '.length).trim();
    return token !== '' && this.acceptToken(token);
  }

  /** One more upgrade request for `model`. */
  countUpgrade(model: string): void {
    this.upgradeAttempts += 1;
    this.upgradeAttemptsByModel.set(model, (this.upgradeAttemptsByModel.get(model) ?? 0) + 1);
  }

  /** One more HTTP request for `model`. */
  countHttp(model: string): void {
    this.httpRequests += 1;
    this.httpRequestsByModel.set(model, (this.httpRequestsByModel.get(model) ?? 0) + 1);
  }

  /** Append to the log the status a request was answered with. */
  record(kind: UpstreamLogEntry['kind'], model: string, status: number): void {
    this.log.push({ atMs: this.now(), kind, model, status });
    // Trim in bulk so a long benchmark costs amortised O(1) per entry, not a shift() each.
    if (this.log.length > this.logLimit * 2) this.log.splice(0, this.log.length - this.logLimit);
  }

  /** A fresh `resp_<n>` id, unique per upstream. */
  nextResponseId(): string {
    this.responseCounter += 1;
    return `resp_${this.responseCounter}`;
  }

  /** Zero the counters and clear the log; modes are kept. */
  resetCounters(): void {
    this.upgradeAttempts = 0;
    this.httpRequests = 0;
    this.wsTurns = 0;
    this.upgradeAttemptsByModel.clear();
    this.httpRequestsByModel.clear();
    this.log.length = 0;
  }
}
