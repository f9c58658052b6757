import type { AnyActorRef } from 'xstate';
import type { CredentialReply } from './credential.js';
import type { DenyReason, EndpointReply } from './endpoint.js';
import type { Failure } from './failure.js';
import type { Outcome } from './outcome.js';

/**
 * The types the session's two charts share: the connection chart (`session.ts`) and the turn
 * chart (`turn.ts`) it runs as a child. Kept apart so neither chart file imports the other's
 * implementation, and so `src/` can name them without loading a chart.
 */

/** The transport a turn was given. */
export type TransportKind = 'websocket' | 'http';

/** Why a session or a turn goes over HTTP. */
export type HttpReason = DenyReason | 'upgrade-failed' | 'refresh-failed' | 'credentials-unavailable' | 'upgrade-budget-spent' | 'moved-after-failure';

/**
 * What the connection chart tells its turn chart about the session's transport, on every
 * change that matters to a turn. The turn decides from it without asking, so a turn on an
 * open socket, or while the endpoint is known to cool down, costs the charts two events.
 */
export type ConnectionView =
  /** No socket and no verdict: the next turn asks the connection. */
  | { readonly kind: 'none' }
  /** An upgrade is in flight: a turn waits for it at most `upgradeBudgetMs`. */
  | { readonly kind: 'upgrading' }
  /** A socket is open: turns go on it. */
  | { readonly kind: 'websocket' }
  /**
   * Turns go over HTTP. `untilMs`: the endpoint's own verdict holds until then (cooldown, latch,
   * probe lease, settling), so turns before it go over HTTP without asking; undefined when this
   * session's own attempt failed (the next turn asks, and hears the endpoint's verdict).
   */
  | { readonly kind: 'http'; readonly reason: HttpReason; readonly untilMs: number | undefined; readonly failure: Failure | undefined }
  /** Sign-in is required: turns fail at once with `summary`, until someone signs in. */
  | { readonly kind: 'sign-in'; readonly summary: string };

/** The turn in progress. */
export interface TurnContext {
  /** Caller-visible turn id. */
  readonly id: string;
  /** When the turn was requested, in ms on the manager's clock. */
  readonly requestedAtMs: number;
  /** The endpoint's health epoch when the turn was requested (see `TURN_REQUESTED`). */
  readonly healthEpoch: number;
  /** Assigned once the chart decides; undefined while waiting for a transport. */
  readonly transport: TransportKind | undefined;
  /** 1 for the first send; 2 after a switch to HTTP or a resend after a refresh. */
  readonly attempt: number;
  readonly switchedToHttp: boolean;
  readonly authRetried: boolean;
  /** While on HTTP, why (the session's reason, `upgrade-budget-spent`, or `moved-after-failure`). */
  readonly httpReason: HttpReason | undefined;
  /** The latest failed send, classified once when it was reported. */
  readonly attemptFailure: Failure | undefined;
  /** Whether the consumer already got an event of the failed send (then nothing is sent again). */
  readonly failedAfterFirstEvent: boolean;
  /** Kind of the latest failed send's outcome (`provider-error`, `closed`…): some decisions depend on it. */
  readonly failedOutcomeKind: Outcome['kind'] | undefined;
  /** Generation of the token the failed send carried (a 401 refreshes that one, not a newer one). */
  readonly failedGeneration: number;
}

/** How a turn ended. */
export interface TurnResult {
  readonly id: string;
  readonly result: 'completed' | 'failed';
  readonly transport: TransportKind | undefined;
  readonly failure?: Failure;
}

/** Events the turn chart accepts. Those from the facade carry `atMs`. */
export type TurnEvent =
  | {
      readonly type: 'TURN_REQUESTED';
      readonly turnId: string;
      readonly atMs: number;
      /**
       * A number that changes whenever the endpoint's health or its credential's state changes
       * (the manager counts the charts' `health.changed` and `credential.changed`). An HTTP
       * verdict heard at another epoch is stale: the turn asks again.
       */
      readonly healthEpoch: number;
    }
  | { readonly type: 'TURN_COMPLETED'; readonly turnId: string; readonly atMs: number }
  | {
      readonly type: 'TURN_FAILED';
      readonly turnId: string;
      readonly outcome: Outcome;
      readonly atMs: number;
      /** Generation of the token the request carried (so a 401 refreshes the right one). */
      readonly credentialGeneration: number;
      /** Whether the consumer already got an event of this send: then it is never sent again. */
      readonly afterFirstEvent?: boolean;
    }
  /** The caller gave up on the turn (abort signal, iterator closed) before it ended. */
  | { readonly type: 'TURN_CANCELLED'; readonly turnId: string; readonly atMs: number }
  /** From the connection chart: the session's transport changed. */
  | { readonly type: 'CONNECTION.CHANGED'; readonly view: ConnectionView; readonly atMs: number }
  | CredentialReply;

/** What the turn chart publishes with `emit`: the facade acts on these, never on snapshots. */
export type TurnEmitted =
  /** Send the turn (again) on `transport`; `attempt` counts from 1. */
  | {
      readonly type: 'turn.send';
      readonly turnId: string;
      readonly transport: TransportKind;
      readonly attempt: number;
      readonly httpReason: HttpReason | undefined;
      /** Why the previous send failed, for a send after the first. */
      readonly afterFailure?: Failure;
    }
  /** The turn is over: nothing more is sent. */
  | { readonly type: 'turn.ended'; readonly result: TurnResult };

/** Events the connection chart accepts. Those from the socket carry `atMs`. */
export type SessionEvent =
  /** From the turn chart: a turn needs a transport and the turn does not know one. */
  | { readonly type: 'TRANSPORT.WANTED'; readonly atMs: number }
  /** From the turn chart: the socket's handshake token was refused mid-stream; close it, blaming nobody. */
  | { readonly type: 'SOCKET.CONDEMNED'; readonly atMs: number }
  | { readonly type: 'RELEASE'; readonly atMs: number }
  | { readonly type: 'SOCKET.OPENED'; readonly atMs: number }
  | { readonly type: 'SOCKET.FAILED'; readonly outcome: Outcome; readonly atMs: number; readonly credentialGeneration: number }
  /** The socket ended; `local` when this side closed it without the upstream being at fault (never blames the endpoint). */
  | { readonly type: 'SOCKET.CLOSED'; readonly outcome: Outcome; readonly atMs: number; readonly local?: boolean }
  /** The socket could not be opened because the credential source failed: nothing was sent. */
  | { readonly type: 'SOCKET.CREDENTIALS_UNAVAILABLE'; readonly detail: string; readonly atMs: number }
  | EndpointReply
  | CredentialReply;

/** What the connection chart publishes with `emit`, for operators (src/observer.ts turns them into events and log lines). */
export type SessionEmitted =
  /** An upgrade ended: the socket opened, or the attempt failed (never for a release mid-upgrade). */
  | { readonly type: 'session.upgrade'; readonly result: 'opened' | 'failed'; readonly startedAtMs: number; readonly atMs: number; readonly failure?: Failure }
  /** The session's turns moved to HTTP; once per stay on HTTP, not once per turn. */
  | { readonly type: 'session.fallback'; readonly reason: HttpReason; readonly retryAtMs: number | undefined; readonly failure?: Failure; readonly atMs: number }
  /** A socket opened again after a stay on HTTP. */
  | { readonly type: 'session.recovered'; readonly downForMs: number; readonly atMs: number };

/** Input of the session (connection) chart. */
export interface SessionInput {
  readonly sessionId: string;
  readonly endpointKey: string;
  /** The shared endpoint health chart of this session's endpoint. */
  readonly endpoint: AnyActorRef;
  /** The shared credential chart of this session's credentials. */
  readonly credential: AnyActorRef;
  /** Longest an upgrade may take, in ms (see `Policy.upgradeTimeoutMs`). */
  readonly upgradeTimeoutMs: number;
  /** Longest a turn waits for an upgrade in flight, in ms (see `Policy.upgradeBudgetMs`). */
  readonly upgradeBudgetMs: number;
  /** Current time at creation, in ms on the manager's clock. */
  readonly atMs: number;
  /**
   * Since when the session's turns go over HTTP, when its previous charts were stopped while it
   * was idle: carried over so operators hear one `fallback` per stay on HTTP and its `recovered`.
   */
  readonly onHttpSinceMs?: number;
}

/** Input of the turn chart (given by the session chart). */
export interface TurnInput {
  readonly sessionId: string;
  /** The shared credential chart: a turn refused with 401 asks it for a refresh. */
  readonly credential: AnyActorRef;
  /** Longest a turn waits for an upgrade in flight, in ms. */
  readonly upgradeBudgetMs: number;
  readonly atMs: number;
}

/** What the `webSocket` actor receives: enough to find the endpoint and the token, nothing secret. */
export interface SocketActorInput {
  readonly sessionId: string;
  readonly endpointKey: string;
  readonly credentialGeneration: number;
}

/** The connection chart's context: its input's fixed part, plain data, and refs to the shared charts (serialized as ids). */
export interface SessionContext extends Omit<SessionInput, 'atMs' | 'onHttpSinceMs'> {
  /** The latest time the chart heard of, in ms; every timestamped event moves it. */
  readonly nowMs: number;
  readonly connectStartedAtMs: number | undefined;
  readonly openedAtMs: number | undefined;
  /** Whether the current upgrade already refreshed credentials once after a 401. */
  readonly upgradeAuthRetried: boolean;
  /** Generation of the token known usable. */
  readonly credentialGeneration: number;
  /** While on HTTP: when the endpoint may let us try WebSocket again, and why not now. */
  readonly httpUntilMs: number | undefined;
  readonly httpReason: HttpReason | undefined;
  readonly lastFailure: Failure | undefined;
  /** The failure the socket actor reported, classified once when it arrived. */
  readonly socketFailure: Failure | undefined;
  /** Why sign-in is required, as the credential chart said it (names the cause and what to do). */
  readonly signInReason: string | undefined;
  /** Since when the session's turns go over HTTP (for `session.recovered`); undefined while on WebSocket or never moved. */
  readonly onHttpSinceMs: number | undefined;
}
