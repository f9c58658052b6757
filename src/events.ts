import type { Failure } from '../machines/failure.js';
import type { TransportKind } from '../machines/session.js';

/** Which chart an event is about. */
export type ActorKind = 'session' | 'endpoint' | 'credential';

/** A chart moved from one state to another. `from`/`to` are dotted state paths, e.g. `active.connection.fallback`. */
export interface TransitionEvent {
  readonly actor: ActorKind;
  /** Session id, endpoint key or credential name. */
  readonly id: string;
  readonly from: string;
  readonly to: string;
  /** The event type that caused it (`SOCKET.FAILED`, `xstate.after.cooldownDelay…`). */
  readonly cause: string;
  /** The classified failure behind it, when there is one. */
  readonly failure?: Failure;
  /** When it happened, in ms on the manager's clock. */
  readonly atMs: number;
}

/** A session's turns now go over HTTP. */
export interface FallbackEvent {
  readonly sessionId: string;
  readonly endpointKey: string;
  /** Why: the endpoint is cooling down, another session probes, WebSocket is unsupported, the upgrade failed, or a refresh failed. */
  readonly reason: string;
  /** When the endpoint may be probed again, if known, in ms on the manager's clock. */
  readonly retryAtMs: number | undefined;
  readonly failure?: Failure;
}

/** An endpoint's upgrade works again, or a session is back on its WebSocket. */
export interface RecoveredEvent {
  readonly actor: 'session' | 'endpoint';
  readonly id: string;
  readonly endpointKey: string;
  /** How long the endpoint was not healthy, in ms, when known. */
  readonly downForMs?: number;
}

/** A credential's refresh token was refused for good: a person must sign in again. */
export interface ReauthRequiredEvent {
  readonly credentialId: string;
  /** A sentence without secrets, e.g. `token refresh refused: refresh_token_reused (HTTP 401); sign in again`. */
  readonly summary: string;
}

/** One step of a turn, for traces: an upgrade the turn waited for, a refresh it waited for, or one send. */
export interface TurnPhase {
  readonly kind: 'upgrade' | 'refresh' | 'attempt';
  /** When the step began and ended, in ms on the manager's clock. */
  readonly startedAtMs: number;
  readonly endedAtMs: number;
  /** The transport of an `attempt`. */
  readonly transport?: TransportKind;
  readonly result: 'ok' | 'failed' | 'cancelled';
  readonly failure?: Failure;
}

/** An upgrade the library started, with how it ended. */
export interface UpgradeEvent {
  readonly sessionId: string;
  readonly endpointKey: string;
  readonly result: 'opened' | 'failed';
  readonly failure?: Failure;
  /** When the upgrade ended, in ms on the manager's clock. */
  readonly atMs: number;
  /** When the upgrade started, in ms on the manager's clock. */
  readonly startedAtMs: number;
}

/** A turn ended. */
export interface TurnEvent {
  readonly sessionId: string;
  readonly endpointKey: string;
  readonly turnId: string;
  readonly result: 'completed' | 'failed';
  readonly transport: TransportKind | undefined;
  readonly failure?: Failure;
  /** When `stream()` was called, in ms on the manager's clock. */
  readonly startedAtMs: number;
  /** From `stream()` to the end, in ms on the manager's clock. */
  readonly durationMs: number;
  /** From `stream()` to the first event, if any arrived. */
  readonly firstEventMs: number | undefined;
  /** Sends made (1, or 2 after a move to HTTP or a resend after a refresh). */
  readonly attempts: number;
  /** When the turn went over HTTP, why (`cooling-down`, `probe-in-flight`, `unsupported`, `upgrade-failed`, `refresh-failed`, `moved-after-failure`…). */
  readonly httpReason?: string;
  /** The turn's steps in order, for traces. */
  readonly phases: readonly TurnPhase[];
}

/** The manager's typed events (eventemitter3). A listener that throws is logged at error level and skipped: it never changes a turn. */
export interface ManagerEvents {
  transition: (event: TransitionEvent) => void;
  fallback: (event: FallbackEvent) => void;
  recovered: (event: RecoveredEvent) => void;
  'reauth-required': (event: ReauthRequiredEvent) => void;
  upgrade: (event: UpgradeEvent) => void;
  turn: (event: TurnEvent) => void;
}
