/**
 * resilient-stream: stream model turns over a WebSocket when it works and over HTTP when it
 * does not, without ever hammering a failing endpoint. See README.md and docs/.
 */
export { createSessionManager, SessionManager } from './manager.js';
export type { SessionManagerOptions, EndpointHandle, EndpointState } from './manager.js';
export { Session } from './session.js';
export type { SessionState, StreamOptions } from './session.js';
export type { EndpointConfig } from './config.js';
export type { PolicyOptions, RuntimePolicy } from './options.js';
export { resolvePolicy, DEFAULT_STREAM_POLICY, MAX_TIMER_MS } from './options.js';
export {
  ConfigError,
  TurnFailedError,
  TurnInProgressError,
  ClosedError,
  isConfigError,
  isTurnFailedError,
  isTurnInProgressError,
  isClosedError,
  type TurnFailedCode,
} from './errors.js';
export type {
  ManagerEvents,
  TransitionEvent,
  FallbackEvent,
  RecoveredEvent,
  ReauthRequiredEvent,
  UpgradeEvent,
  TurnEvent,
  TurnPhase,
  ActorKind,
} from './events.js';
export type { Logger } from './logging.js';
export type { Clock } from './clock.js';
export { systemClock } from './clock.js';
export type { CoordinationStore } from './stores/store.js';
export { memoryStore } from './stores/memory.js';
export { redisStore, DEFAULT_REDIS_KEY_PREFIX } from './stores/redis.js';
export type { RedisStoreOptions, RedisScriptClient } from './stores/redis.js';
export { redisCredentialStore, DEFAULT_CREDENTIAL_KEY_PREFIX } from './stores/redis-credentials.js';
export type { RedisCredentialStoreOptions } from './stores/redis-credentials.js';
export type { CredentialEncryptionKey } from './stores/credential-cipher.js';
export type { RedisSubscriberClient } from './stores/redis-subscriber.js';
export type { CredentialSource } from './auth/credential-source.js';
export { RefreshError } from './auth/credential-source.js';
export { staticToken } from './auth/static-token.js';
export {
  oauthRefreshSource,
  fileCredentialStore,
  memoryCredentialStore,
  type OAuthRefreshSourceOptions,
  type FileCredentialStoreOptions,
  type AuthEvent,
} from './auth/index.js';
export { startInspector } from './inspector/index.js';
export type { Inspector, InspectorOptions } from './inspector/index.js';
export type { ProviderProtocol, ProviderEvent, TurnSend } from './transports/provider.js';
export { openAIResponses, createOpenAIResponses, type OpenAIResponsesOptions } from './transports/openai-responses.js';
export { TransportError } from './transports/transport-error.js';
export { DEFAULT_POLICY } from '../machines/policy.js';
export type { Policy } from '../machines/policy.js';
export type { Failure, FailureClass } from '../machines/failure.js';
export type { Outcome } from '../machines/outcome.js';
