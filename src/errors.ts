import type { Failure, FailureClass } from '../machines/failure.js';

/**
 * The brand every public error carries, under a registry symbol: two copies of the package in
 * one process (a gateway and a plugin each bundling it) share `Symbol.for`, so the type guards
 * and `instanceof` below recognise errors thrown by either copy.
 */
const BRAND = Symbol.for('resilient-stream.error');

type ErrorName = 'ConfigError' | 'TurnFailedError' | 'TurnInProgressError' | 'ClosedError';

function brand(error: Error, name: ErrorName): void {
  Object.defineProperty(error, BRAND, { value: name, enumerable: false });
}

function hasBrand(value: unknown, name: ErrorName): boolean {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === name;
}

/** A configuration value is wrong; the message names the field and what was expected. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The option path, e.g. `policy.cooldown.initialMs`. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
    brand(this, 'ConfigError');
  }

  /** `instanceof` that also recognises errors of another copy of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'ConfigError');
  }
}

/**
 * Why a turn failed, as a stable word to switch on: the failure's class, or `released` (the
 * session was released mid-turn), `reauth-required` (a person must sign in),
 * `credentials-unavailable` (the credential source threw).
 */
export type TurnFailedCode = FailureClass | 'released' | 'reauth-required' | 'credentials-unavailable';

/** The stable {@link TurnFailedCode} of a failure. */
export function turnFailedCode(failure: Failure): TurnFailedCode {
  if (failure.code === 'released' || failure.code === 'reauth-required' || failure.code === 'credentials-unavailable') return failure.code;
  return failure.class;
}

/**
 * A turn ended without completing; `failure` says why, in the classifier's words, `code` as one
 * stable word, and `cause` is the error behind it (scrubbed of secrets; for an aborted turn, the
 * signal's `reason`).
 */
export class TurnFailedError extends Error {
  override readonly name = 'TurnFailedError';
  /** Why, as a stable word; see {@link TurnFailedCode}. */
  readonly code: TurnFailedCode;
  /** The classified failure (no secrets). */
  readonly failure: Failure;
  /** The session and turn that failed. */
  readonly sessionId: string;
  readonly turnId: string;
  /** The transport the turn was on when it failed, if it got one. */
  readonly transport: 'websocket' | 'http' | undefined;
  constructor(sessionId: string, turnId: string, failure: Failure, transport: 'websocket' | 'http' | undefined, options?: { cause?: unknown }) {
    super(`turn ${turnId} of session ${sessionId} failed (${failure.class}): ${failure.summary}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = turnFailedCode(failure);
    this.failure = failure;
    this.sessionId = sessionId;
    this.turnId = turnId;
    this.transport = transport;
    brand(this, 'TurnFailedError');
  }

  /** `instanceof` that also recognises errors of another copy of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'TurnFailedError');
  }
}

/** `stream()` was called while another turn of the same session is still running. */
export class TurnInProgressError extends Error {
  override readonly name = 'TurnInProgressError';
  /** The session whose turn is still running. */
  readonly sessionId: string;
  constructor(sessionId: string) {
    super(
      `session ${sessionId} already has a turn in progress: turns of one session run one at a time; ` +
        'await the previous stream to its end (or abort it) before starting the next',
    );
    this.sessionId = sessionId;
    brand(this, 'TurnInProgressError');
  }

  /** `instanceof` that also recognises errors of another copy of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'TurnInProgressError');
  }
}

/** The session or manager was released or closed; no turn can start on it. */
export class ClosedError extends Error {
  override readonly name = 'ClosedError';
  constructor(message: string) {
    super(message);
    brand(this, 'ClosedError');
  }

  /** `instanceof` that also recognises errors of another copy of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return hasBrand(value, 'ClosedError');
  }
}

/** True for a {@link ConfigError} of any copy of the package. */
export function isConfigError(value: unknown): value is ConfigError {
  return hasBrand(value, 'ConfigError');
}

/** True for a {@link TurnFailedError} of any copy of the package. */
export function isTurnFailedError(value: unknown): value is TurnFailedError {
  return hasBrand(value, 'TurnFailedError');
}

/** True for a {@link TurnInProgressError} of any copy of the package. */
export function isTurnInProgressError(value: unknown): value is TurnInProgressError {
  return hasBrand(value, 'TurnInProgressError');
}

/** True for a {@link ClosedError} of any copy of the package. */
export function isClosedError(value: unknown): value is ClosedError {
  return hasBrand(value, 'ClosedError');
}
