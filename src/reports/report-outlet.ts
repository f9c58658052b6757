import type { EventEmitter } from 'eventemitter3';
import type { ManagerEvents } from '../events.js';
import type { Logger } from '../logging.js';

/**
 * Where the reports of what a chart emitted go: the manager's typed events and the host's
 * logger. The observer (src/observer.ts) provides it, with an `emit` that logs and skips a
 * listener that throws, so no listener is ever felt by a chart.
 */
export interface ReportOutlet {
  /** Emits one of the manager's events to the host's listeners. */
  emit<T extends EventEmitter.EventNames<ManagerEvents>>(event: T, ...args: EventEmitter.EventArgs<ManagerEvents, T>): void;
  /** The host's logger. */
  readonly logger: Logger;
}
