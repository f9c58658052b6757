import type { AnyActorRef } from 'xstate';
import type { Failure } from './failure.js';
import type { Policy } from './policy.js';

/**
 * What the endpoint health chart (machines/endpoint.ts) exchanges with sessions, with the shared
 * store of a gateway fleet and with operators, and the context it keeps. Plain data throughout.
 */

/** One line of an endpoint's probe history, kept for operators and the inspector. */
export interface ProbeRecord {
  /** When it happened, in ms on the manager's clock. */
  readonly atMs: number;
  /** The session that probed or reported. */
  readonly sessionId: string;
  /** What happened to the probe. */
  readonly result: 'granted' | 'succeeded' | 'failed' | 'released';
  /** The failure, when it failed. */
  readonly failure?: Failure;
}

/**
 * Why a session was told to stay on HTTP.
 * - `cooling-down`: an upgrade failed or a young socket died; `untilMs` is the window's end.
 * - `probe-in-flight`: another session (or process) is probing; `untilMs` is the lease's end.
 * - `unsupported`: the endpoint refused WebSocket; `untilMs` is the latch's end.
 * - `unproven`: a probe's socket opened but has not stayed up `minUptimeMs` yet; `untilMs` is when
 *   it will have. Keeps a flapping endpoint (sockets that open, then die) from being stampeded.
 */
export type DenyReason = 'cooling-down' | 'probe-in-flight' | 'unsupported' | 'unproven';

/** Replies the endpoint sends to a session that asked to upgrade. */
export type EndpointReply =
  | { readonly type: 'ENDPOINT.GRANTED' }
  | { readonly type: 'ENDPOINT.DENIED'; readonly untilMs: number; readonly reason: DenyReason };

/**
 * What the shared store answered to a probe claim (multi-process gateways).
 *
 * `consecutiveFailures` is the fleet's failure streak: the highest count any process reported
 * since the endpoint was last reported healthy (within the store's failure memory). Optional,
 * so a store that does not track it still works; the chart then backs off on its own count.
 * Whether granted or not, the chart continues from `max(own count, fleet count)`, so the next
 * cooldown after a failed probe grows from the fleet's streak, whichever process probes.
 */
export type ProbeClaim =
  | { readonly granted: true; readonly consecutiveFailures?: number }
  | { readonly granted: false; readonly untilMs: number; readonly reason: DenyReason; readonly consecutiveFailures?: number };

/** What the endpoint tells a shared store when its health changes (gateway fleets). */
export interface HealthReport {
  readonly endpointKey: string;
  /**
   * - `cooling-down`: an upgrade failed or a young socket died; no probe before `untilMs`.
   * - `unsupported`: the endpoint refused WebSocket (426, 404, 403, …); HTTP latched until `untilMs`.
   * - `healthy`: a socket stayed up for `minUptimeMs` (the endpoint is proven, not merely reachable);
   *   the fleet's streak and cooldown are forgotten.
   * - `reset`: an operator reset the endpoint (`manager.endpoint(key).reset()`); every process forgets
   *   its cooldown, latch and streak.
   */
  readonly status: 'cooling-down' | 'unsupported' | 'healthy' | 'reset';
  /** When the report was made, in ms on the manager's clock: the failure's, the proof's or the reset's `atMs`. */
  readonly atMs: number;
  /** End of the cooldown or latch, in ms on the manager's clock; undefined when healthy or reset. */
  readonly untilMs: number | undefined;
  /** The reporting process's failure streak (after counting this failure). A store keeps the highest one until a `healthy` report. */
  readonly consecutiveFailures: number;
}

/** What the chart hands its `releaseSharedProbe` action when it gives a probe back without a report (gateway fleets). */
export interface SharedProbeRelease {
  readonly endpointKey: string;
  /** When the probe was given back: the event's `atMs`, or the lease's end when the chart's own lease timer gave it back. */
  readonly atMs: number;
  /**
   * End of the lease the store granted this process (the claim's `atMs + leaseMs`): it names the
   * lease, so a store only releases that one and never a lease another process took since.
   * Undefined when the chart holds no shared lease (no store): nothing to release.
   */
  readonly leaseUntilMs: number | undefined;
}

/** Events the endpoint chart accepts. Every event that moves time carries `atMs`. */
export type EndpointEvent =
  | { readonly type: 'PROBE_REQUESTED'; readonly sessionId: string; readonly session: AnyActorRef; readonly atMs: number }
  | { readonly type: 'UPGRADE_SUCCEEDED'; readonly sessionId: string; readonly atMs: number }
  | { readonly type: 'UPGRADE_FAILED'; readonly sessionId: string; readonly failure: Failure; readonly atMs: number }
  | {
      readonly type: 'CONNECTION_LOST';
      readonly sessionId: string;
      readonly failure: Failure;
      readonly uptimeMs: number;
      readonly atMs: number;
    }
  | { readonly type: 'PROBE_RELEASED'; readonly sessionId: string; readonly atMs: number }
  | { readonly type: 'RESET'; readonly atMs: number }
  /**
   * A health change another process published (the shared store pushes it, e.g. over Redis
   * pub/sub). Never republished. Rules, newest evidence first:
   * - `cooling-down` / `unsupported` whose `untilMs` is still ahead is adopted while probing,
   *   cooling down or latched when it ends later than this process's own window (a later end
   *   extends; an earlier one changes nothing), and while `healthy.settling` when it is newer than
   *   the socket that made this process healthy. The fleet's streak is taken when larger.
   *   A process whose own socket is proven (`healthy.stable`) keeps its own evidence.
   * - `healthy` (another process proved the endpoint) moves a probing, cooling-down, latched or
   *   settling endpoint straight to `healthy.stable` when newer than this process's own last
   *   evidence: every session upgrades on its next turn, without a probe of its own.
   * - `reset` acts like RESET when newer than this process's own last evidence.
   * - A report for another endpoint key, or one already past, changes nothing.
   */
  | { readonly type: 'FLEET.HEALTH_CHANGED'; readonly report: HealthReport; readonly atMs: number }
  | { readonly type: 'STOP' };

/** A session that asked for the probe while the chart asks the shared store (`probing.claiming`). */
export interface PendingProbe {
  readonly sessionId: string;
  readonly session: AnyActorRef;
  /** When it asked, in ms on the manager's clock: the claim's `atMs`. */
  readonly atMs: number;
}

/** The input of the `claimProbe` actor a gateway fleet provides (the shared store's claim). */
export interface ClaimInput {
  readonly endpointKey: string;
  /** When the session asked, in ms on the manager's clock. */
  readonly atMs: number;
  /** How long the lease lasts if the holder never reports, in ms. */
  readonly leaseMs: number;
}

/** The failures a session reports: an upgrade that failed, or an open socket that closed. */
export type FailureEvent = Extract<EndpointEvent, { type: 'UPGRADE_FAILED' | 'CONNECTION_LOST' }>;

/** Another process's health change, pushed by the shared store. */
export type FleetEvent = Extract<EndpointEvent, { type: 'FLEET.HEALTH_CHANGED' }>;

/** Input of `createEndpointMachine`'s actor. */
export interface EndpointInput {
  /** The endpoint key, e.g. `openai/gpt-5.4/wss://…/responses/acct-1`. */
  readonly endpointKey: string;
  /** Decision parameters (cooldown backoff, TTLs). */
  readonly policy: Policy;
  /** Seed of the jitter PRNG; pass a random integer in production, a fixed one in tests. */
  readonly jitterSeed: number;
  /** When true, a probe is only granted after the shared store agrees (gateway fleets). */
  readonly sharedStore?: boolean;
}

/** The endpoint chart's context: plain data, serializable. */
export interface EndpointContext {
  readonly endpointKey: string;
  readonly policy: Policy;
  readonly sharedStore: boolean;
  /** Failures since the last time a socket stayed up for `minUptimeMs`. */
  readonly consecutiveFailures: number;
  /** When the current cooldown or latch began and ends, in ms on the manager's clock. */
  readonly cooldownStartedAtMs: number | undefined;
  readonly cooldownUntilMs: number | undefined;
  /** The failure that started the current cooldown. */
  readonly lastFailure: Failure | undefined;
  /** The session holding the half-open probe, if any. */
  readonly probeHolder: string | undefined;
  /** End of the probe lease the shared store granted this process (claim `atMs + leaseMs`), while its probe is out. */
  readonly sharedLeaseUntilMs: number | undefined;
  /** A session waiting for the shared store to answer its probe claim. */
  readonly pendingProbe: PendingProbe | undefined;
  readonly jitterSeed: number;
  /** Failures reported while already cooling down (upgrades that started before): counted, not acted on. */
  readonly suppressedFailures: number;
  /** Upgrade attempts granted since the chart started. */
  readonly probesGranted: number;
  /** The last {@link PROBE_HISTORY_LENGTH} probe records. */
  readonly history: readonly ProbeRecord[];
  /** When the socket that made the endpoint healthy opened, in ms; it is proven `minUptimeMs` later. Undefined unless healthy. */
  readonly healthySinceMs: number | undefined;
  /**
   * The session whose socket made the endpoint healthy, while that socket is unproven: it alone may
   * upgrade again in `healthy.settling` (its socket closed locally, say), which adds no stampede.
   */
  readonly unprovenSocketOf: string | undefined;
  /**
   * When this chart last learned something about the endpoint (its own failure, success or reset,
   * or a fleet report it adopted), in ms. A fleet report that loosens (healthy, reset) and is not
   * newer than this is ignored, so an old report, or this process's own echoed back, undoes nothing.
   */
  readonly evidenceAtMs: number | undefined;
  /** The health last announced in `health.changed`: what sessions and operators were last told (machines/endpoint-reports.ts). */
  readonly health: EndpointHealth;
  /** When the endpoint stopped being usable (the first cooldown or latch since it was last proven), in ms; for `downForMs`. */
  readonly unhealthySinceMs: number | undefined;
  /** How many of `suppressedFailures` an announcement already reported, so each is reported once. */
  readonly reportedSuppressedFailures: number;
}

/** How many probe records an endpoint keeps. */
export const PROBE_HISTORY_LENGTH = 32;

/**
 * The endpoint's health as sessions see it.
 * - `probing`: half-open; the next session that asks gets the probe.
 * - `healthy`: a socket opened; until it has stayed up `minUptimeMs` only its own session may upgrade.
 * - `cooling-down`: no upgrade before the window ends.
 * - `unsupported`: HTTP latched until the window ends.
 */
export type EndpointHealth = 'probing' | 'healthy' | 'cooling-down' | 'unsupported';

/**
 * The endpoint's health changed. A session told "stay on HTTP until T" may trust that answer
 * until T unless one of these arrives. Emitted on every entry of a state of health: when probing
 * begins (a window ended, a RESET, even while already probing, or the fleet's reset), when a socket
 * opens (`healthy`, unproven), when it is proven (`healthy` again), and when a cooldown or latch
 * begins or the fleet extends it. Never when the chart starts or stops.
 */
export interface HealthChanged {
  readonly type: 'health.changed';
  readonly endpointKey: string;
  readonly status: EndpointHealth;
  /**
   * When this status ends by itself, in ms on the manager's clock: the window's end (`cooling-down`,
   * `unsupported`), or, for an unproven `healthy`, when its socket will be proven (other sessions are
   * denied `unproven` until then). Undefined when probing or proven.
   */
  readonly untilMs: number | undefined;
  /** When it changed, in ms on the manager's clock: the event's `atMs`, or the due time of the chart's timer. */
  readonly atMs: number;
}

/** For operators: a cooldown began (and was not already running). */
export interface CooldownStarted {
  readonly type: 'cooldown.started';
  readonly endpointKey: string;
  readonly consecutiveFailures: number;
  /** The failure this process saw that started it; absent when the shared store refused the probe claim or the fleet pushed its cooldown. */
  readonly failure?: Failure;
  /** When the window began and ends, in ms on the manager's clock. */
  readonly startedAtMs: number;
  readonly untilMs: number;
  /** Failures counted, not acted on, while cooling down or latched, that no announcement reported yet. */
  readonly suppressedFailures: number;
}

/** For operators: the endpoint refused WebSocket (or the fleet says it does); HTTP is latched. */
export interface HttpLatched {
  readonly type: 'http.latched';
  readonly endpointKey: string;
  readonly consecutiveFailures: number;
  /** The refusal this process saw; absent when the latch came from the fleet. */
  readonly failure?: Failure;
  /** When the latch began and ends, in ms on the manager's clock. */
  readonly startedAtMs: number;
  readonly untilMs: number;
}

/** For operators: a socket stayed up `minUptimeMs` (here or in the fleet) after a cooldown or latch. Never for a flapping endpoint. */
export interface EndpointRecovered {
  readonly type: 'endpoint.recovered';
  readonly endpointKey: string;
  readonly consecutiveFailures: number;
  /** From the first cooldown or latch to the proof, in ms. */
  readonly downForMs: number;
  /** As in {@link CooldownStarted}. */
  readonly suppressedFailures: number;
  readonly atMs: number;
}

/** For operators: a cooldown or latch is over (its timer, or a reset): the next turn probes. */
export interface CooldownEnded {
  readonly type: 'cooldown.ended';
  readonly endpointKey: string;
  readonly consecutiveFailures: number;
  readonly atMs: number;
}

/** Everything the endpoint chart emits (`actor.on(...)`); src/reports/endpoint-reports.ts turns it into events and log lines. */
export type EndpointEmitted = HealthChanged | CooldownStarted | HttpLatched | EndpointRecovered | CooldownEnded;
