import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import type { Clock } from './clock.js';
import type { TurnEvent, TurnPhase, UpgradeEvent } from './events.js';
import type { Failure } from '../machines/failure.js';
import { ATTR, SCOPE_NAME, type OtelApi } from './telemetry-api.js';

/** Span names; docs/observability.md lists their attributes. */
export const SPAN = {
  turn: 'resilient_stream.turn',
  upgrade: 'resilient_stream.upgrade',
  refresh: 'resilient_stream.refresh',
  attempt: 'resilient_stream.attempt',
} as const;

/**
 * One span per turn, with a child per phase (the upgrade and the refresh it waited for, each
 * send), built from the `turn` event when the turn ends. The span is parented to the context
 * active where the turn event fires, which is the caller's: the turn ends inside its
 * `for await` over `stream()`. Times are the manager's clock moved onto the wall clock, so a
 * simulated run still yields well-ordered spans.
 */
export class TurnTracing {
  private readonly tracer: Tracer;
  /** Each session's last failed upgrade, to name the failure of an upgrade phase that carries none. */
  private readonly upgradeFailures = new Map<string, { atMs: number; failure: Failure }>();

  constructor(
    private readonly api: OtelApi,
    private readonly clock: () => Clock,
    private readonly serverAddress: (endpointKey: string) => string | undefined,
  ) {
    // A proxy tracer: it follows a TracerProvider registered later.
    this.tracer = api.trace.getTracer(SCOPE_NAME);
  }

  /** Remembers a failed upgrade until the turn that waited for it ends. */
  upgrade(event: UpgradeEvent): void {
    if (event.result === 'failed' && event.failure) this.upgradeFailures.set(event.sessionId, { atMs: event.atMs, failure: event.failure });
    else this.upgradeFailures.delete(event.sessionId);
  }

  /** Records the spans of a finished turn. */
  turn(event: TurnEvent): void {
    const upgradeFailure = this.upgradeFailures.get(event.sessionId);
    this.upgradeFailures.delete(event.sessionId);
    const api = this.api;
    // The manager's clock may be simulated: shift its times so the turn ends "now".
    const offsetMs = Date.now() - this.clock().now();
    const at = (ms: number) => new Date(ms + offsetMs);
    const address = this.serverAddress(event.endpointKey);
    const attributes: Attributes = {
      [ATTR.endpoint]: event.endpointKey,
      [ATTR.sessionId]: event.sessionId,
      [ATTR.turnId]: event.turnId,
      [ATTR.transport]: event.transport ?? 'none',
      [ATTR.attempts]: event.attempts,
      ...(address ? { [ATTR.serverAddress]: address } : {}),
      ...(event.httpReason ? { [ATTR.fallbackReason]: event.httpReason } : {}),
      ...(event.firstEventMs !== undefined ? { [ATTR.timeToFirstEvent]: event.firstEventMs / 1_000 } : {}),
      ...(event.result === 'failed' ? { [ATTR.errorType]: event.failure?.class ?? '_OTHER' } : {}),
      ...(event.failure?.code ? { [ATTR.failureCode]: event.failure.code } : {}),
    };
    const span = this.tracer.startSpan(SPAN.turn, { kind: api.SpanKind.INTERNAL, startTime: at(event.startedAtMs), attributes }, api.context.active());
    if (!span.isRecording()) {
      span.end();
      return;
    }
    if (event.result === 'failed' && event.failure?.class !== 'aborted') span.setStatus({ code: api.SpanStatusCode.ERROR, message: event.failure?.summary ?? 'turn failed' });
    const parent = api.trace.setSpan(api.context.active(), span);
    for (const phase of event.phases) {
      // The turn path may report a failed upgrade phase without its failure; the `upgrade` event had it.
      const known = phase.kind === 'upgrade' && phase.result === 'failed' && !phase.failure && upgradeFailure && upgradeFailure.atMs >= phase.startedAtMs && upgradeFailure.atMs <= phase.endedAtMs;
      this.phase(known ? { ...phase, failure: upgradeFailure.failure } : phase, parent, at, event.endpointKey, address);
    }
    span.end(at(event.startedAtMs + event.durationMs));
  }

  private phase(phase: TurnPhase, parent: ReturnType<OtelApi['context']['active']>, at: (ms: number) => Date, endpointKey: string, address: string | undefined): void {
    const api = this.api;
    const name = phase.kind === 'upgrade' ? SPAN.upgrade : phase.kind === 'refresh' ? SPAN.refresh : SPAN.attempt;
    const child: Span = this.tracer.startSpan(
      name,
      {
        kind: phase.kind === 'refresh' ? api.SpanKind.INTERNAL : api.SpanKind.CLIENT,
        startTime: at(phase.startedAtMs),
        attributes: {
          [ATTR.endpoint]: endpointKey,
          [ATTR.phaseResult]: phase.result,
          ...(address ? { [ATTR.serverAddress]: address } : {}),
          ...(phase.transport ? { [ATTR.transport]: phase.transport } : {}),
          ...(phase.failure ? { [ATTR.errorType]: phase.failure.class } : {}),
          ...(phase.failure?.code ? { [ATTR.failureCode]: phase.failure.code } : {}),
        },
      },
      parent,
    );
    if (phase.result === 'failed') child.setStatus({ code: api.SpanStatusCode.ERROR, message: phase.failure?.summary ?? `${phase.kind} failed` });
    child.end(at(Math.max(phase.startedAtMs, phase.endedAtMs)));
  }
}
