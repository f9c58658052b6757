import { and, assign, enqueueActions, fromPromise, setup, type ActorRefFrom, type AnyActorRef } from 'xstate';
import { cooldownMs } from './backoff.js';
import { endpointEffectOf } from './classify.js';
import type { Failure } from './failure.js';
import type { Policy } from './policy.js';
import { nextRandom } from './random.js';

/**
 * The endpoint health chart: one per endpoint key (provider + model + URL + account),
 * shared by every session of that endpoint. The cooldown lives here, so releasing or
 * recreating a session never wipes it, and a half-open probe is granted to exactly one
 * session while the others stay on HTTP.
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

/** Input of {@link createEndpointMachine}'s actor. */
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
  readonly pendingProbe: { readonly sessionId: string; readonly session: AnyActorRef; readonly atMs: number } | undefined;
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
   * When this chart last learned something about the endpoint (its own failure, success or reset,
   * or a fleet report it adopted), in ms. A fleet report that loosens (healthy, reset) and is not
   * newer than this is ignored, so an old report, or this process's own echoed back, undoes nothing.
   */
  readonly evidenceAtMs: number | undefined;
}

/** How many probe records an endpoint keeps. */
export const PROBE_HISTORY_LENGTH = 32;

/** Extra time a probe lease lasts beyond the upgrade timeout, so a slow report is not mistaken for a lost one. */
const PROBE_LEASE_MARGIN_MS = 2_000;

/** `atMs` of an event that carries one (every event but STOP and the chart's own timers). */
function atMsOf(event: { readonly type: string }): number | undefined {
  return 'atMs' in event && typeof event.atMs === 'number' ? event.atMs : undefined;
}

function healthReport(context: EndpointContext, event: { readonly type: string }, status: HealthReport['status']): HealthReport {
  const windowed = status === 'cooling-down' || status === 'unsupported';
  return {
    endpointKey: context.endpointKey,
    status,
    atMs: atMsOf(event) ?? context.evidenceAtMs ?? 0,
    untilMs: windowed ? context.cooldownUntilMs : undefined,
    consecutiveFailures: context.consecutiveFailures,
  };
}

type FleetEvent = Extract<EndpointEvent, { type: 'FLEET.HEALTH_CHANGED' }>;

/** The fleet report of a FLEET.HEALTH_CHANGED event about this endpoint, else undefined. */
function fleetReportOf(context: EndpointContext, event: { readonly type: string }): HealthReport | undefined {
  if (event.type !== 'FLEET.HEALTH_CHANGED') return undefined;
  const report = (event as FleetEvent).report;
  return report.endpointKey === context.endpointKey && Number.isFinite(report.atMs) ? report : undefined;
}

/** A fleet cooldown or latch still ahead of the event, and ending later than this process's own window. */
function fleetWindowExtends(context: EndpointContext, event: { readonly type: string }, status: 'cooling-down' | 'unsupported'): boolean {
  const report = fleetReportOf(context, event);
  if (report?.status !== status || report.untilMs === undefined || !Number.isFinite(report.untilMs)) return false;
  return report.untilMs > (event as FleetEvent).atMs && report.untilMs > (context.cooldownUntilMs ?? -Infinity);
}

/** A fleet report with this status, newer than everything this process knows itself. */
function fleetReportIsNewer(context: EndpointContext, event: { readonly type: string }, status?: HealthReport['status']): boolean {
  const report = fleetReportOf(context, event);
  if (!report || (status !== undefined && report.status !== status)) return false;
  return report.atMs > (context.evidenceAtMs ?? -Infinity);
}

/** The fleet's failure streak a report carried; anything that is not a count ≥ 0 counts as none. */
function fleetStreakOf(report: HealthReport): number {
  return fleetFailuresOf({ granted: true, consecutiveFailures: report.consecutiveFailures });
}

function sharedProbeRelease(context: EndpointContext, event: { readonly type: string }): SharedProbeRelease {
  const leaseUntilMs = context.sharedLeaseUntilMs;
  return { endpointKey: context.endpointKey, atMs: atMsOf(event) ?? leaseUntilMs ?? 0, leaseUntilMs };
}

/** The fleet's failure streak a claim carried; anything that is not a count ≥ 0 counts as none. */
function fleetFailuresOf(claim: ProbeClaim): number {
  const count = claim.consecutiveFailures;
  return typeof count === 'number' && Number.isFinite(count) && count > 0 ? Math.floor(count) : 0;
}

function probeLeaseMs(policy: Policy): number {
  return policy.upgradeTimeoutMs + PROBE_LEASE_MARGIN_MS;
}

function remember(history: readonly ProbeRecord[], record: ProbeRecord): readonly ProbeRecord[] {
  const next = history.length >= PROBE_HISTORY_LENGTH ? history.slice(1) : history.slice();
  next.push(record);
  return next;
}

type FailureEvent = Extract<EndpointEvent, { type: 'UPGRADE_FAILED' | 'CONNECTION_LOST' }>;

/**
 * Builds the endpoint health chart. `claimProbe` (multi-process stores), `publishHealth`
 * (tell the store about a cooldown or recovery) and `releaseSharedProbe` (give a probe lease
 * back to the store without a report) are the only effects; their defaults here grant every
 * claim and publish or release nothing, and `src/` provides real ones when a store is given.
 */
export function createEndpointMachine() {
  return setup({
    types: {
      context: {} as EndpointContext,
      events: {} as EndpointEvent,
      input: {} as EndpointInput,
    },
    actors: {
      claimProbe: fromPromise<ProbeClaim, { endpointKey: string; atMs: number; leaseMs: number }>(async () => ({
        granted: true,
      })),
    },
    actions: {
      publishHealth: (_, _params: HealthReport) => {},
      releaseSharedProbe: (_, _params: SharedProbeRelease) => {},
      grantTheProbe: enqueueActions(({ enqueue, event, context }) => {
        if (event.type !== 'PROBE_REQUESTED') return;
        enqueue.sendTo(event.session, { type: 'ENDPOINT.GRANTED' } satisfies EndpointReply);
        enqueue.assign({
          probeHolder: event.sessionId,
          probesGranted: context.probesGranted + 1,
          history: remember(context.history, { atMs: event.atMs, sessionId: event.sessionId, result: 'granted' }),
        });
      }),
      grantTheUpgrade: enqueueActions(({ enqueue, event, context }) => {
        if (event.type !== 'PROBE_REQUESTED') return;
        enqueue.sendTo(event.session, { type: 'ENDPOINT.GRANTED' } satisfies EndpointReply);
        enqueue.assign({ probesGranted: context.probesGranted + 1 });
      }),
      denyTheUpgrade: enqueueActions(({ enqueue, event, context }, params: { reason: DenyReason }) => {
        if (event.type !== 'PROBE_REQUESTED') return;
        const untilMs =
          params.reason === 'probe-in-flight'
            ? event.atMs + context.policy.upgradeTimeoutMs + PROBE_LEASE_MARGIN_MS
            : params.reason === 'unproven'
              ? (context.healthySinceMs ?? event.atMs) + context.policy.minUptimeMs
              : (context.cooldownUntilMs ?? event.atMs);
        enqueue.sendTo(event.session, { type: 'ENDPOINT.DENIED', untilMs, reason: params.reason } satisfies EndpointReply);
      }),
      // The claim's own answer, failure and deadline answer the session themselves and clear it first.
      answerThePendingProbeIfAny: enqueueActions(({ enqueue, context }, params: { reason: DenyReason | 'granted' }) => {
        const pending = context.pendingProbe;
        if (!pending) return;
        if (params.reason === 'granted') {
          enqueue.sendTo(pending.session, { type: 'ENDPOINT.GRANTED' } satisfies EndpointReply);
          enqueue.assign({ pendingProbe: undefined, probesGranted: context.probesGranted + 1 });
          return;
        }
        const untilMs =
          params.reason === 'unproven'
            ? (context.healthySinceMs ?? pending.atMs) + context.policy.minUptimeMs
            : (context.cooldownUntilMs ?? pending.atMs + context.policy.upgradeTimeoutMs + PROBE_LEASE_MARGIN_MS);
        enqueue.sendTo(pending.session, { type: 'ENDPOINT.DENIED', untilMs, reason: params.reason } satisfies EndpointReply);
        enqueue.assign({ pendingProbe: undefined });
      }),
      adoptTheFleetsWindow: assign(({ context, event }) => {
        const report = fleetReportOf(context, event)!;
        return {
          cooldownStartedAtMs: (event as FleetEvent).atMs,
          cooldownUntilMs: report.untilMs,
          consecutiveFailures: Math.max(context.consecutiveFailures, fleetStreakOf(report)),
          probeHolder: undefined,
          // The reporter's publish cleared the store's lease: nothing of ours is left to release.
          sharedLeaseUntilMs: undefined,
          healthySinceMs: undefined,
          evidenceAtMs: Math.max(context.evidenceAtMs ?? -Infinity, report.atMs),
        };
      }),
      adoptTheFleetsRecovery: assign(({ context, event }) => {
        const report = fleetReportOf(context, event)!;
        return {
          consecutiveFailures: 0,
          cooldownStartedAtMs: undefined,
          cooldownUntilMs: undefined,
          probeHolder: undefined,
          sharedLeaseUntilMs: undefined,
          healthySinceMs: report.atMs,
          evidenceAtMs: report.atMs,
        };
      }),
      rememberThePendingProbe: assign({
        pendingProbe: ({ event }) =>
          event.type === 'PROBE_REQUESTED' ? { sessionId: event.sessionId, session: event.session, atMs: event.atMs } : undefined,
      }),
      startTheCooldown: assign(({ context, event }) => {
        const failureEvent = event as FailureEvent;
        const failures = context.consecutiveFailures + 1;
        const random = nextRandom(context.jitterSeed);
        const delayMs = cooldownMs(context.policy.cooldown, failures, random.value, failureEvent.failure.retryAfterMs);
        return {
          consecutiveFailures: failures,
          jitterSeed: random.seed,
          cooldownStartedAtMs: failureEvent.atMs,
          cooldownUntilMs: failureEvent.atMs + delayMs,
          healthySinceMs: undefined,
          evidenceAtMs: failureEvent.atMs,
          lastFailure: failureEvent.failure,
          probeHolder: undefined,
          sharedLeaseUntilMs: undefined,
          history: remember(context.history, {
            atMs: failureEvent.atMs,
            sessionId: failureEvent.sessionId,
            result: 'failed',
            failure: failureEvent.failure,
          }),
        };
      }),
      latchHttp: assign(({ context, event }) => {
        const failureEvent = event as FailureEvent;
        return {
          cooldownStartedAtMs: failureEvent.atMs,
          cooldownUntilMs: failureEvent.atMs + context.policy.unsupportedTtlMs,
          healthySinceMs: undefined,
          evidenceAtMs: failureEvent.atMs,
          lastFailure: failureEvent.failure,
          probeHolder: undefined,
          sharedLeaseUntilMs: undefined,
          history: remember(context.history, {
            atMs: failureEvent.atMs,
            sessionId: failureEvent.sessionId,
            result: 'failed',
            failure: failureEvent.failure,
          }),
        };
      }),
      recordTheSuccess: assign(({ context, event }) => {
        if (event.type !== 'UPGRADE_SUCCEEDED') return {};
        return {
          probeHolder: undefined,
          sharedLeaseUntilMs: undefined,
          cooldownStartedAtMs: undefined,
          cooldownUntilMs: undefined,
          healthySinceMs: event.atMs,
          evidenceAtMs: event.atMs,
          history: remember(context.history, { atMs: event.atMs, sessionId: event.sessionId, result: 'succeeded' }),
        };
      }),
      releaseTheProbe: assign(({ context, event }) => ({
        probeHolder: undefined,
        sharedLeaseUntilMs: undefined,
        history:
          'sessionId' in event && 'atMs' in event
            ? remember(context.history, { atMs: event.atMs, sessionId: event.sessionId, result: 'released' })
            : context.history,
      })),
      forgiveTheFailures: assign({ consecutiveFailures: 0 }),
      countTheSuppressedFailure: assign({ suppressedFailures: ({ context }) => context.suppressedFailures + 1 }),
      forgetEverything: assign(({ context, event }) => ({
        consecutiveFailures: 0,
        cooldownStartedAtMs: undefined,
        cooldownUntilMs: undefined,
        probeHolder: undefined,
        sharedLeaseUntilMs: undefined,
        pendingProbe: undefined,
        healthySinceMs: undefined,
        evidenceAtMs: fleetReportOf(context, event)?.atMs ?? atMsOf(event) ?? context.evidenceAtMs,
      })),
    },
    guards: {
      theFailureLatchesHttp: ({ event }) =>
        (event.type === 'UPGRADE_FAILED' || event.type === 'CONNECTION_LOST') && endpointEffectOf(event.failure) === 'latch-http',
      theFailureCallsForACooldown: ({ event }) =>
        (event.type === 'UPGRADE_FAILED' || event.type === 'CONNECTION_LOST') && endpointEffectOf(event.failure) === 'cooldown',
      theSocketDiedYoung: ({ context, event }) =>
        event.type === 'CONNECTION_LOST' && event.uptimeMs < context.policy.minUptimeMs,
      // A young socket closed for one request's sake (1008, 1009) says nothing about the endpoint.
      theSocketDiedYoungOfAnEndpointFault: and(['theSocketDiedYoung', 'theFailureCallsForACooldown']),
      theStoreGrantedTheProbe: ({ event }) => (event as unknown as { output?: ProbeClaim }).output?.granted === true,
      theReporterHoldsTheProbe: ({ context, event }) => 'sessionId' in event && event.sessionId === context.probeHolder,
      theFleetSharesHealth: ({ context }) => context.sharedStore,
      theFleetWasReset: ({ context, event }) => fleetReportIsNewer(context, event, 'reset'),
      theFleetProvedTheEndpoint: ({ context, event }) => fleetReportIsNewer(context, event, 'healthy'),
      theFleetLatchedHttpUntilLater: ({ context, event }) =>
        fleetWindowExtends(context, event, 'unsupported') && (context.healthySinceMs === undefined || fleetReportIsNewer(context, event)),
      theFleetCoolsDownUntilLater: ({ context, event }) =>
        fleetWindowExtends(context, event, 'cooling-down') && (context.healthySinceMs === undefined || fleetReportIsNewer(context, event)),
    },
    delays: {
      cooldownDelay: ({ context }) => Math.max(0, (context.cooldownUntilMs ?? 0) - (context.cooldownStartedAtMs ?? 0)),
      probeLeaseDelay: ({ context }) => probeLeaseMs(context.policy),
      minUptimeDelay: ({ context }) => context.policy.minUptimeMs,
    },
  }).createMachine({
    id: 'endpoint',
    context: ({ input }) => ({
      endpointKey: input.endpointKey,
      policy: input.policy,
      sharedStore: input.sharedStore ?? false,
      consecutiveFailures: 0,
      cooldownStartedAtMs: undefined,
      cooldownUntilMs: undefined,
      lastFailure: undefined,
      probeHolder: undefined,
      sharedLeaseUntilMs: undefined,
      pendingProbe: undefined,
      jitterSeed: input.jitterSeed,
      suppressedFailures: 0,
      probesGranted: 0,
      history: [],
      healthySinceMs: undefined,
      evidenceAtMs: undefined,
    }),
    initial: 'probing',
    on: {
      STOP: '.stopped',
      RESET: {
        target: '.probing',
        actions: [
          { type: 'answerThePendingProbeIfAny', params: { reason: 'cooling-down' } },
          'forgetEverything',
          { type: 'publishHealth', params: ({ context, event }) => healthReport(context, event, 'reset') },
        ],
      },
      // Never published again: the report came from the fleet.
      'FLEET.HEALTH_CHANGED': [
        { guard: 'theFleetWasReset', target: '.probing', actions: [{ type: 'answerThePendingProbeIfAny', params: { reason: 'cooling-down' } }, 'forgetEverything'] },
        { guard: 'theFleetProvedTheEndpoint', target: '.healthy.stable', actions: 'adoptTheFleetsRecovery' },
        { guard: 'theFleetLatchedHttpUntilLater', target: '.unsupported', actions: 'adoptTheFleetsWindow' },
        { guard: 'theFleetCoolsDownUntilLater', target: '.coolingDown', actions: 'adoptTheFleetsWindow' },
      ],
    },
    states: {
      probing: {
        description: 'Half-open: nothing is known to work. Exactly one session may try the upgrade; the others use HTTP.',
        initial: 'awaitingProbe',
        on: {
          // Published once proven (healthy.stable), not now: a socket that opens and dies must not wake the fleet.
          UPGRADE_SUCCEEDED: { target: 'healthy', actions: 'recordTheSuccess' },
          UPGRADE_FAILED: [
            { guard: 'theFailureLatchesHttp', target: 'unsupported', actions: ['latchHttp', { type: 'publishHealth', params: ({ context, event }) => healthReport(context, event, 'unsupported') }] },
            { guard: 'theFailureCallsForACooldown', target: 'coolingDown', actions: ['startTheCooldown', { type: 'publishHealth', params: ({ context, event }) => healthReport(context, event, 'cooling-down') }] },
            {
              guard: 'theReporterHoldsTheProbe',
              target: '.awaitingProbe',
              actions: [{ type: 'releaseSharedProbe', params: ({ context, event }) => sharedProbeRelease(context, event) }, 'releaseTheProbe'],
            },
          ],
          CONNECTION_LOST: { guard: 'theSocketDiedYoungOfAnEndpointFault', target: 'coolingDown', actions: ['startTheCooldown', { type: 'publishHealth', params: ({ context, event }) => healthReport(context, event, 'cooling-down') }] },
        },
        states: {
          awaitingProbe: {
            description: 'The next session that wants a WebSocket gets the probe.',
            on: {
              PROBE_REQUESTED: [
                { guard: 'theFleetSharesHealth', target: 'claiming', actions: 'rememberThePendingProbe' },
                { target: 'probeInFlight', actions: 'grantTheProbe' },
              ],
            },
          },
          claiming: {
            description: 'Asking the shared store whether another gateway process already probes or cools down.',
            // Leaving for another reason (a late failure report, RESET, STOP) must still answer the
            // waiting session, or it would wait in requestingPermission for ever.
            invoke: {
              id: 'claimProbe',
              src: 'claimProbe',
              input: ({ context }) => ({
                endpointKey: context.endpointKey,
                atMs: context.pendingProbe?.atMs ?? 0,
                leaseMs: probeLeaseMs(context.policy),
              }),
              onDone: [
                {
                  guard: 'theStoreGrantedTheProbe',
                  target: 'probeInFlight',
                  actions: enqueueActions(({ enqueue, context, event }) => {
                    const pending = context.pendingProbe;
                    if (!pending) return;
                    enqueue.sendTo(pending.session, { type: 'ENDPOINT.GRANTED' } satisfies EndpointReply);
                    enqueue.assign({
                      // Back off from the fleet's streak: if this probe fails, the next window grows from it.
                      consecutiveFailures: Math.max(context.consecutiveFailures, fleetFailuresOf(event.output)),
                      probeHolder: pending.sessionId,
                      sharedLeaseUntilMs: pending.atMs + probeLeaseMs(context.policy),
                      pendingProbe: undefined,
                      probesGranted: context.probesGranted + 1,
                      history: remember(context.history, { atMs: pending.atMs, sessionId: pending.sessionId, result: 'granted' }),
                    });
                  }),
                },
                {
                  target: '#endpoint.coolingDown',
                  actions: enqueueActions(({ enqueue, context, event }) => {
                    const claim = event.output;
                    const pending = context.pendingProbe;
                    if (claim.granted || !pending) return;
                    enqueue.sendTo(pending.session, { type: 'ENDPOINT.DENIED', untilMs: claim.untilMs, reason: claim.reason } satisfies EndpointReply);
                    enqueue.assign({
                      consecutiveFailures: Math.max(context.consecutiveFailures, fleetFailuresOf(claim)),
                      pendingProbe: undefined,
                      cooldownStartedAtMs: pending.atMs,
                      cooldownUntilMs: Math.max(claim.untilMs, pending.atMs),
                    });
                  }),
                },
              ],
              // A store that cannot answer must not turn into a probe storm: behave as if it said "wait a lease".
              onError: {
                target: '#endpoint.coolingDown',
                actions: enqueueActions(({ enqueue, context }) => {
                  const pending = context.pendingProbe;
                  if (!pending) return;
                  const untilMs = pending.atMs + context.policy.upgradeTimeoutMs + PROBE_LEASE_MARGIN_MS;
                  enqueue.sendTo(pending.session, { type: 'ENDPOINT.DENIED', untilMs, reason: 'probe-in-flight' } satisfies EndpointReply);
                  enqueue.assign({ pendingProbe: undefined, cooldownStartedAtMs: pending.atMs, cooldownUntilMs: untilMs });
                }),
              },
            },
            // A store that hangs must not keep every session on HTTP forever, nor grant a probe blindly.
            after: {
              probeLeaseDelay: {
                target: '#endpoint.coolingDown',
                actions: enqueueActions(({ enqueue, context }) => {
                  const pending = context.pendingProbe;
                  if (!pending) return;
                  const untilMs = pending.atMs + 2 * (context.policy.upgradeTimeoutMs + PROBE_LEASE_MARGIN_MS);
                  enqueue.sendTo(pending.session, { type: 'ENDPOINT.DENIED', untilMs, reason: 'probe-in-flight' } satisfies EndpointReply);
                  enqueue.assign({ pendingProbe: undefined, cooldownStartedAtMs: pending.atMs + context.policy.upgradeTimeoutMs + PROBE_LEASE_MARGIN_MS, cooldownUntilMs: untilMs });
                }),
              },
            },
            on: { PROBE_REQUESTED: { actions: { type: 'denyTheUpgrade', params: { reason: 'probe-in-flight' } } } },
          },
          probeInFlight: {
            description: 'One session is trying the upgrade; everyone else stays on HTTP until it reports.',
            after: {
              probeLeaseDelay: {
                target: 'awaitingProbe',
                actions: [{ type: 'releaseSharedProbe', params: ({ context, event }) => sharedProbeRelease(context, event) }, 'releaseTheProbe'],
              },
            },
            on: {
              PROBE_REQUESTED: { actions: { type: 'denyTheUpgrade', params: { reason: 'probe-in-flight' } } },
              PROBE_RELEASED: {
                guard: 'theReporterHoldsTheProbe',
                target: 'awaitingProbe',
                actions: [{ type: 'releaseSharedProbe', params: ({ context, event }) => sharedProbeRelease(context, event) }, 'releaseTheProbe'],
              },
            },
          },
        },
      },
      healthy: {
        description: 'A socket opened: once one stays up for minUptimeMs, every session may open its own.',
        initial: 'settling',
        on: {
          UPGRADE_FAILED: [
            { guard: 'theFailureLatchesHttp', target: 'unsupported', actions: ['latchHttp', { type: 'publishHealth', params: ({ context, event }) => healthReport(context, event, 'unsupported') }] },
            { guard: 'theFailureCallsForACooldown', target: 'coolingDown', actions: ['startTheCooldown', { type: 'publishHealth', params: ({ context, event }) => healthReport(context, event, 'cooling-down') }] },
          ],
          CONNECTION_LOST: { guard: 'theSocketDiedYoungOfAnEndpointFault', target: 'coolingDown', actions: ['startTheCooldown', { type: 'publishHealth', params: ({ context, event }) => healthReport(context, event, 'cooling-down') }] },
        },
        states: {
          settling: {
            description:
              'Unproven: the probe opened a socket, but a flapping endpoint opens them too. Other sessions stay on HTTP until it has stayed up minUptimeMs; the failure streak is only forgiven then.',
            entry: { type: 'answerThePendingProbeIfAny', params: { reason: 'unproven' } },
            on: { PROBE_REQUESTED: { actions: { type: 'denyTheUpgrade', params: { reason: 'unproven' } } } },
            after: {
              minUptimeDelay: {
                target: 'stable',
                actions: [
                  'forgiveTheFailures',
                  {
                    type: 'publishHealth',
                    params: ({ context }) => ({ ...healthReport(context, { type: 'proven' }, 'healthy'), atMs: (context.healthySinceMs ?? 0) + context.policy.minUptimeMs }),
                  },
                ],
              },
            },
          },
          stable: {
            description: 'Proven: every session may open its own socket, and the backoff has been reset. A fleet report of a failure does not override it.',
            entry: { type: 'answerThePendingProbeIfAny', params: { reason: 'granted' } },
            on: {
              PROBE_REQUESTED: { actions: 'grantTheUpgrade' },
              'FLEET.HEALTH_CHANGED': [
                { guard: 'theFleetWasReset', target: '#endpoint.probing', actions: 'forgetEverything' },
                { description: "This process's own proven socket outweighs another process's report." },
              ],
            },
          },
        },
      },
      coolingDown: {
        entry: { type: 'answerThePendingProbeIfAny', params: { reason: 'cooling-down' } },
        description: 'An upgrade failed: no session may upgrade until the cooldown ends; turns go over HTTP at once.',
        after: { cooldownDelay: { target: 'probing' } },
        on: {
          PROBE_REQUESTED: { actions: { type: 'denyTheUpgrade', params: { reason: 'cooling-down' } } },
          UPGRADE_FAILED: { actions: 'countTheSuppressedFailure' },
          CONNECTION_LOST: { actions: 'countTheSuppressedFailure' },
        },
      },
      unsupported: {
        entry: { type: 'answerThePendingProbeIfAny', params: { reason: 'unsupported' } },
        description: 'The endpoint refused WebSocket (426, 404, 403, …): HTTP is latched until the TTL ends.',
        after: { cooldownDelay: { target: 'probing' } },
        on: {
          PROBE_REQUESTED: { actions: { type: 'denyTheUpgrade', params: { reason: 'unsupported' } } },
          UPGRADE_FAILED: { actions: 'countTheSuppressedFailure' },
          CONNECTION_LOST: { actions: 'countTheSuppressedFailure' },
        },
      },
      stopped: { type: 'final', entry: { type: 'answerThePendingProbeIfAny', params: { reason: 'cooling-down' } }, description: 'The manager closed: no timer, no child.' },
    },
  });
}

/** The endpoint chart, with default (in-process) effects. */
export const endpointMachine = createEndpointMachine();

/** A running endpoint chart. */
export type EndpointActorRef = ActorRefFrom<typeof endpointMachine>;
