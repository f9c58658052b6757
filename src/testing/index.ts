/** Testing aids: a fake OpenAI Responses upstream speaking WebSocket and HTTP/SSE on one port. */
export { startUpstream } from './upstream.js';
export type { HttpMode, ModeUpdate, ModelModes, TurnMode, UpgradeMode, Upstream, UpstreamLogEntry, UpstreamOptions } from './upstream.js';
