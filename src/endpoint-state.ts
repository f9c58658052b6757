import type { Failure } from '../machines/failure.js';
import type { ProbeRecord } from '../machines/endpoint.js';

/** What `manager.endpoint(key).state` tells. */
export interface EndpointState {
  /** `probing` (half-open), `healthy`, `cooling-down`, `unsupported` or `stopped`. */
  readonly status: 'probing' | 'healthy' | 'cooling-down' | 'unsupported' | 'stopped';
  /** The chart's state path, e.g. `probing.probeInFlight`. */
  readonly path: string;
  /** When the cooldown or latch ends, in ms on the manager's clock. */
  readonly cooldownUntilMs: number | undefined;
  readonly consecutiveFailures: number;
  readonly lastFailure: Failure | undefined;
  /** Upgrade attempts the endpoint granted. */
  readonly probesGranted: number;
  /** The last probes and their outcomes, oldest first. */
  readonly history: readonly ProbeRecord[];
}

/** A handle on one endpoint's shared health. */
export interface EndpointHandle {
  readonly key: string;
  readonly state: EndpointState;
  /** Forget the failures and probe again on the next turn (after an operator fixed something). */
  reset(): void;
}
