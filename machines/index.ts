/**
 * The pure half of resilient-stream: statecharts and policy with no I/O, no wall clock and
 * no `Math.random`. Everything here can be driven by a simulated clock and inspected.
 */
export * from './outcome.js';
export * from './failure.js';
export * from './classify.js';
export * from './classify-refresh.js';
export * from './backoff.js';
export * from './random.js';
export * from './policy.js';
export * from './endpoint.js';
export * from './credential.js';
export * from './session.js';
