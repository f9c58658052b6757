/**
 * Credentials for resilient-stream: sources of access tokens, the cross-process file store
 * that keeps rotating refresh tokens from being reused, and the glue to the credential chart.
 */
export { RefreshError, isRefreshError, type CredentialSource, type RefreshErrorDetails } from './credential-source.js';
export { staticToken } from './static-token.js';
export { oauthRefreshSource, type OAuthRefreshSourceOptions } from './oauth-refresh.js';
export { requestTokenRefresh, parseErrorBody, parseTokenResponse, type TokenRefreshRequest } from './token-request.js';
export {
  parseStoredCredentials,
  parseCredentialsText,
  type CredentialStore,
  type StoredCredentials,
  type DoRefresh,
} from './credential-store.js';
export { fileCredentialStore, type FileCredentialStoreOptions } from './file-store.js';
export { memoryCredentialStore } from './memory-store.js';
export { acquireFileLock, LockTimeoutError, type FileLockOptions, type FileLockRetry, type FileLockEvent, type HeldFileLock } from './file-lock.js';
export { writeFileAtomic } from './atomic-write.js';
export {
  createCredentialRuntime,
  type CredentialRuntime,
  type CredentialRuntimeOptions,
  type CurrentCredential,
  type RefreshActorLogic,
} from './credential-runtime.js';
export { createCredentialActor, providedCredentialMachine, type CredentialActor, type CredentialActorOptions } from './credential-actor.js';
export { formatAuthEvent, authEventLevel, emitAuthEvent, type AuthEvent, type AuthEventListener, type LockHolder } from './auth-events.js';
export { redact } from './redact.js';
export { SingleFlight, KeyedMutex } from './single-flight.js';
