import { and, assign, enqueueActions, fromPromise, setup, type ActorRefFrom } from 'xstate';
import { endpointEffectOf } from './classify.js';
import { claimInputOf, denial, probeLeaseMs, probeReleased, settleClaim, sharedProbeRelease, type ClaimEnd } from './endpoint-claim.js';
import { atMsOf, cooldownAfter, forgottenAt, initialContext, latchAfter, remember, successAt } from './endpoint-context.js';
import { fleetRecoveryAdopted, fleetReportIsNewer, fleetReportOf, fleetWindowAdopted, fleetWindowToAdopt, healthReport, proofReport } from './endpoint-fleet.js';
import { announce, announcementOf } from './endpoint-reports.js';
import type {
  ClaimInput,
  DenyReason,
  EndpointContext,
  EndpointEmitted,
  EndpointEvent,
  EndpointInput,
  EndpointReply,
  FailureEvent,
  FleetEvent,
  HealthReport,
  ProbeClaim,
  SharedProbeRelease,
} from './endpoint-types.js';

export * from './endpoint-types.js';

/**
 * The endpoint health chart: one per endpoint key (provider + model + URL + account), shared by
 * every session of that endpoint. The cooldown lives here, so releasing or recreating a session
 * never wipes it; a half-open probe is granted to exactly one session while the others stay on
 * HTTP, and the others upgrade only once the probe's socket is proven. The probe protocol (leases,
 * claims, denials) is in `endpoint-claim.ts`, the context's changes in `endpoint-context.ts`,
 * the fleet's reports in `endpoint-fleet.ts`, what it announces in `endpoint-reports.ts`; this
 * file is the chart itself.
 */

/**
 * One of the chart's provided effects, by name, enqueued from another action so that the
 * implementation `src/` provides runs (names are not typed yet inside `setup`).
 */
function effect(type: 'publishHealth', params: HealthReport): never;
function effect(type: 'releaseSharedProbe', params: SharedProbeRelease): never;
function effect(type: string, params: unknown): never {
  return { type, params } as never;
}

/** How the chart answers the session waiting for a claim when it leaves `claiming` for another reason. */
type PendingAnswer = DenyReason | 'granted';

/**
 * Builds the endpoint health chart. `claimProbe` (ask a shared store for the probe),
 * `publishHealth` (tell the store about a cooldown, latch, proof or reset) and
 * `releaseSharedProbe` (give a probe lease back without a report) are the only effects; their
 * defaults here grant every claim and publish or release nothing, and `src/` provides real ones
 * when a store is given.
 */
export function createEndpointMachine() {
  return setup({
    types: { context: {} as EndpointContext, events: {} as EndpointEvent, input: {} as EndpointInput, emitted: {} as EndpointEmitted },
    actors: {
      claimProbe: fromPromise<ProbeClaim, ClaimInput>(async () => ({ granted: true })),
    },
    actions: {
      publishHealth: (_, _params: HealthReport) => {},
      releaseSharedProbe: (_, _params: SharedProbeRelease) => {},
      publishTheChange: enqueueActions(({ enqueue, context, event }, params: { status: HealthReport['status'] }) => {
        enqueue(effect('publishHealth', healthReport(context, event, params.status)));
      }),
      publishTheProof: enqueueActions(({ enqueue, context }) => enqueue(effect('publishHealth', proofReport(context)))),
      giveTheProbeBack: enqueueActions(({ enqueue, context, event }) => {
        enqueue(effect('releaseSharedProbe', sharedProbeRelease(context, event)));
        enqueue.assign(probeReleased(context, event));
      }),
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
        if (event.type === 'PROBE_REQUESTED') enqueue.sendTo(event.session, denial(context, params.reason, event.atMs));
      }),
      rememberThePendingProbe: assign({
        pendingProbe: ({ event }) => (event.type === 'PROBE_REQUESTED' ? { sessionId: event.sessionId, session: event.session, atMs: event.atMs } : undefined),
      }),
      settleTheClaim: enqueueActions(({ enqueue, context, event }, params: { by: ClaimEnd['by'] }) => {
        const pending = context.pendingProbe;
        if (!pending) return;
        const claim = (event as { output?: ProbeClaim }).output;
        const end: ClaimEnd = params.by === 'store' && claim ? { by: 'store', claim } : { by: params.by === 'store' ? 'unreachable' : params.by };
        const { reply, update } = settleClaim(context, pending, end);
        enqueue.sendTo(pending.session, reply);
        enqueue.assign(update);
      }),
      // The claim's own answer, failure and deadline settle it first: only another way out finds it here.
      answerThePendingProbeIfAny: enqueueActions(({ enqueue, context }, params: { answer: PendingAnswer }) => {
        const pending = context.pendingProbe;
        if (!pending) return;
        const granted = params.answer === 'granted';
        enqueue.sendTo(pending.session, granted ? ({ type: 'ENDPOINT.GRANTED' } satisfies EndpointReply) : denial(context, params.answer as DenyReason, pending.atMs));
        enqueue.assign({ pendingProbe: undefined, probesGranted: context.probesGranted + (granted ? 1 : 0) });
      }),
      startTheCooldown: assign(({ context, event }) => cooldownAfter(context, event as FailureEvent)),
      latchHttp: assign(({ context, event }) => latchAfter(context, event as FailureEvent)),
      recordTheSuccess: assign(({ context, event }) => (event.type === 'UPGRADE_SUCCEEDED' ? successAt(context, event.sessionId, event.atMs) : {})),
      forgiveTheFailures: assign({ consecutiveFailures: 0, unprovenSocketOf: undefined }),
      countTheSuppressedFailure: assign({ suppressedFailures: ({ context }) => context.suppressedFailures + 1 }),
      forgetEverything: assign(({ context, event }) => forgottenAt(fleetReportOf(context, event)?.atMs ?? atMsOf(event), context)),
      adoptTheFleetsWindow: assign(({ context, event }) => fleetWindowAdopted(context, event as FleetEvent)),
      adoptTheFleetsRecovery: assign(({ event }) => fleetRecoveryAdopted(event as FleetEvent)),
      // Entering a state of health tells sessions (health.changed) and operators (src/reports/).
      announceTheProbing: enqueueActions(({ enqueue, context, event }) => announce(enqueue, announcementOf(context, event, 'probing'))),
      announceTheOpenSocket: enqueueActions(({ enqueue, context, event }) => announce(enqueue, announcementOf(context, event, 'healthy.settling'))),
      announceTheRecovery: enqueueActions(({ enqueue, context, event }) => announce(enqueue, announcementOf(context, event, 'healthy.stable'))),
      announceTheCooldown: enqueueActions(({ enqueue, context, event }) => announce(enqueue, announcementOf(context, event, 'coolingDown'))),
      announceTheLatch: enqueueActions(({ enqueue, context, event }) => announce(enqueue, announcementOf(context, event, 'unsupported'))),
    },
    guards: {
      theFailureLatchesHttp: ({ event }) => (event.type === 'UPGRADE_FAILED' || event.type === 'CONNECTION_LOST') && endpointEffectOf(event.failure) === 'latch-http',
      theFailureCallsForACooldown: ({ event }) => (event.type === 'UPGRADE_FAILED' || event.type === 'CONNECTION_LOST') && endpointEffectOf(event.failure) === 'cooldown',
      theSocketDiedYoung: ({ context, event }) => event.type === 'CONNECTION_LOST' && event.uptimeMs < context.policy.minUptimeMs,
      // A young socket closed for one request's sake (1008, 1009) says nothing about the endpoint.
      theSocketDiedYoungOfAnEndpointFault: and(['theSocketDiedYoung', 'theFailureCallsForACooldown']),
      theStoreGrantedTheProbe: ({ event }) => (event as { output?: ProbeClaim }).output?.granted === true,
      theReporterHoldsTheProbe: ({ context, event }) => 'sessionId' in event && event.sessionId === context.probeHolder,
      theFleetSharesHealth: ({ context }) => context.sharedStore,
      theAskerOpenedTheUnprovenSocket: ({ context, event }) => event.type === 'PROBE_REQUESTED' && event.sessionId === context.unprovenSocketOf,
      theFleetWasReset: ({ context, event }) => fleetReportIsNewer(context, event, 'reset'),
      theFleetProvedTheEndpoint: ({ context, event }) => fleetReportIsNewer(context, event, 'healthy'),
      theFleetLatchedHttpUntilLater: ({ context, event }) => fleetWindowToAdopt(context, event, 'unsupported'),
      theFleetCoolsDownUntilLater: ({ context, event }) => fleetWindowToAdopt(context, event, 'cooling-down'),
    },
    delays: {
      cooldownDelay: ({ context }) => Math.max(0, (context.cooldownUntilMs ?? 0) - (context.cooldownStartedAtMs ?? 0)),
      probeLeaseDelay: ({ context }) => probeLeaseMs(context.policy),
      minUptimeDelay: ({ context }) => context.policy.minUptimeMs,
    },
  }).createMachine({
    id: 'endpoint',
    context: ({ input }) => initialContext(input),
    initial: 'probing',
    on: {
      STOP: '.stopped',
      RESET: {
        target: '.probing',
        actions: [{ type: 'answerThePendingProbeIfAny', params: { answer: 'cooling-down' } }, 'forgetEverything', { type: 'publishTheChange', params: { status: 'reset' } }],
      },
      // Never published again: the report came from the fleet.
      'FLEET.HEALTH_CHANGED': [
        { guard: 'theFleetWasReset', target: '.probing', actions: [{ type: 'answerThePendingProbeIfAny', params: { answer: 'cooling-down' } }, 'forgetEverything'] },
        { guard: 'theFleetProvedTheEndpoint', target: '.healthy.stable', actions: 'adoptTheFleetsRecovery' },
        { guard: 'theFleetLatchedHttpUntilLater', target: '.unsupported', actions: 'adoptTheFleetsWindow' },
        { guard: 'theFleetCoolsDownUntilLater', target: '.coolingDown', actions: 'adoptTheFleetsWindow' },
      ],
    },
    states: {
      probing: {
        description: 'Half-open: nothing is known to work. Exactly one session may try the upgrade; the others use HTTP.',
        entry: 'announceTheProbing',
        initial: 'awaitingProbe',
        on: {
          // Published once proven (healthy.stable), not now: a socket that opens and dies must not wake the fleet.
          UPGRADE_SUCCEEDED: { target: 'healthy', actions: 'recordTheSuccess' },
          UPGRADE_FAILED: [
            { guard: 'theFailureLatchesHttp', target: 'unsupported', actions: ['latchHttp', { type: 'publishTheChange', params: { status: 'unsupported' } }] },
            { guard: 'theFailureCallsForACooldown', target: 'coolingDown', actions: ['startTheCooldown', { type: 'publishTheChange', params: { status: 'cooling-down' } }] },
            { guard: 'theReporterHoldsTheProbe', target: '.awaitingProbe', actions: 'giveTheProbeBack' },
          ],
          CONNECTION_LOST: {
            guard: 'theSocketDiedYoungOfAnEndpointFault',
            target: 'coolingDown',
            actions: ['startTheCooldown', { type: 'publishTheChange', params: { status: 'cooling-down' } }],
          },
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
            // Leaving for another reason (a late report, RESET, a fleet report, STOP) still answers the
            // waiting session, on entry of the state it lands in, or it would wait for ever.
            invoke: {
              id: 'claimProbe',
              src: 'claimProbe',
              input: ({ context }) => claimInputOf(context),
              onDone: [
                { guard: 'theStoreGrantedTheProbe', target: 'probeInFlight', actions: { type: 'settleTheClaim', params: { by: 'store' } } },
                { target: '#endpoint.coolingDown', actions: { type: 'settleTheClaim', params: { by: 'store' } } },
              ],
              // A store that cannot answer must not turn into a probe storm: wait a lease.
              onError: { target: '#endpoint.coolingDown', actions: { type: 'settleTheClaim', params: { by: 'unreachable' } } },
            },
            // A store that hangs must not keep every session on HTTP forever, nor grant a probe blindly.
            after: { probeLeaseDelay: { target: '#endpoint.coolingDown', actions: { type: 'settleTheClaim', params: { by: 'silence' } } } },
            on: { PROBE_REQUESTED: { actions: { type: 'denyTheUpgrade', params: { reason: 'probe-in-flight' } } } },
          },
          probeInFlight: {
            description: 'One session is trying the upgrade; everyone else stays on HTTP until it reports.',
            after: { probeLeaseDelay: { target: 'awaitingProbe', actions: 'giveTheProbeBack' } },
            on: {
              PROBE_REQUESTED: { actions: { type: 'denyTheUpgrade', params: { reason: 'probe-in-flight' } } },
              PROBE_RELEASED: { guard: 'theReporterHoldsTheProbe', target: 'awaitingProbe', actions: 'giveTheProbeBack' },
            },
          },
        },
      },
      healthy: {
        description: 'A socket opened: once one stays up for minUptimeMs, every session may open its own.',
        initial: 'settling',
        on: {
          UPGRADE_FAILED: [
            { guard: 'theFailureLatchesHttp', target: 'unsupported', actions: ['latchHttp', { type: 'publishTheChange', params: { status: 'unsupported' } }] },
            { guard: 'theFailureCallsForACooldown', target: 'coolingDown', actions: ['startTheCooldown', { type: 'publishTheChange', params: { status: 'cooling-down' } }] },
          ],
          CONNECTION_LOST: {
            guard: 'theSocketDiedYoungOfAnEndpointFault',
            target: 'coolingDown',
            actions: ['startTheCooldown', { type: 'publishTheChange', params: { status: 'cooling-down' } }],
          },
        },
        states: {
          settling: {
            description:
              'Unproven: the probe opened a socket, but a flapping endpoint opens them too. Other sessions stay on HTTP until it has stayed up minUptimeMs; the failure streak is only forgiven then.',
            entry: [{ type: 'answerThePendingProbeIfAny', params: { answer: 'unproven' } }, 'announceTheOpenSocket'],
            on: {
              PROBE_REQUESTED: [
                { guard: 'theAskerOpenedTheUnprovenSocket', actions: 'grantTheUpgrade' },
                { actions: { type: 'denyTheUpgrade', params: { reason: 'unproven' } } },
              ],
            },
            after: { minUptimeDelay: { target: 'stable', actions: ['forgiveTheFailures', 'publishTheProof'] } },
          },
          stable: {
            description: 'Proven: every session may open its own socket, and the backoff has been reset. A fleet report of a failure does not override it.',
            entry: [{ type: 'answerThePendingProbeIfAny', params: { answer: 'granted' } }, 'announceTheRecovery'],
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
        entry: [{ type: 'answerThePendingProbeIfAny', params: { answer: 'cooling-down' } }, 'announceTheCooldown'],
        description: 'An upgrade failed: no session may upgrade until the cooldown ends; turns go over HTTP at once.',
        after: { cooldownDelay: { target: 'probing' } },
        on: {
          PROBE_REQUESTED: { actions: { type: 'denyTheUpgrade', params: { reason: 'cooling-down' } } },
          UPGRADE_FAILED: { actions: 'countTheSuppressedFailure' },
          CONNECTION_LOST: { actions: 'countTheSuppressedFailure' },
        },
      },
      unsupported: {
        entry: [{ type: 'answerThePendingProbeIfAny', params: { answer: 'unsupported' } }, 'announceTheLatch'],
        description: 'The endpoint refused WebSocket (426, 404, 403, …): HTTP is latched until the TTL ends.',
        after: { cooldownDelay: { target: 'probing' } },
        on: {
          PROBE_REQUESTED: { actions: { type: 'denyTheUpgrade', params: { reason: 'unsupported' } } },
          UPGRADE_FAILED: { actions: 'countTheSuppressedFailure' },
          CONNECTION_LOST: { actions: 'countTheSuppressedFailure' },
        },
      },
      stopped: {
        type: 'final',
        entry: { type: 'answerThePendingProbeIfAny', params: { answer: 'cooling-down' } },
        description: 'The manager closed: no timer, no child.',
      },
    },
  });
}

/** The endpoint chart, with default (in-process) effects. */
export const endpointMachine = createEndpointMachine();

/** A running endpoint chart. */
export type EndpointActorRef = ActorRefFrom<typeof endpointMachine>;
