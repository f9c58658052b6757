/**
 * `resilient-stream/testing`: testing aids for code that embeds resilient-stream. Not needed at
 * run time; nothing in the main entry point imports it.
 *
 * - {@link startUpstream}: a fake OpenAI Responses upstream on 127.0.0.1 speaking WebSocket and
 *   HTTP/SSE on one port, whose upgrade and turns can be told to fail (HTTP 500, reset, hang,
 *   426, 429 with Retry-After, a stall, a malformed frame…) per model, and which counts what it
 *   saw (`upgradeAttempts`, `httpRequests`). The README's "Embed it" example runs against it.
 * - {@link ManualClock}: a simulated clock that knows its next deadline, to pass as the
 *   manager's `clock` and run hours of cooldowns in milliseconds.
 *
 * @packageDocumentation
 */
export { startUpstream } from './upstream.js';
export type { HttpMode, ModeUpdate, ModelModes, TurnMode, UpgradeMode, Upstream, UpstreamLogEntry, UpstreamOptions } from './upstream.js';
export { ManualClock } from './manual-clock.js';
