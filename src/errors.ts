import type { Failure } from '../machines/failure.js';

/** A configuration value is wrong; the message names the field and what was expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The option path, e.g. `policy.cooldown.initialMs`. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

/** A turn ended without completing; `failure` says why, in the classifier's words. */
export class TurnFailedError extends Error {
  override readonly name = 'TurnFailedError';
  /** The classified failure (no secrets). */
  readonly failure: Failure;
  /** The session and turn that failed. */
  readonly sessionId: string;
  readonly turnId: string;
  /** The transport the turn was on when it failed, if it got one. */
  readonly transport: 'websocket' | 'http' | undefined;
  constructor(sessionId: string, turnId: string, failure: Failure, transport: 'websocket' | 'http' | undefined) {
    super(`turn ${turnId} of session ${sessionId} failed (${failure.class}): ${failure.summary}`);
    this.failure = failure;
    this.sessionId = sessionId;
    this.turnId = turnId;
    this.transport = transport;
  }
}

/** `stream()` was called while another turn of the same session is still running. */
export class TurnInProgressError extends Error {
  override readonly name = 'TurnInProgressError';
  constructor(sessionId: string) {
    super(
      `session ${sessionId} already has a turn in progress: turns of one session run one at a time; ` +
        'await the previous stream to its end (or abort it) before starting the next',
    );
  }
}

/** The session or manager was released or closed; no turn can start on it. */
export class ClosedError extends Error {
  override readonly name = 'ClosedError';
}
