/**
 * What `src/auth` tells an operator. Every event is plain data without tokens, so it can be
 * logged, counted or forwarded as is. {@link formatAuthEvent} turns one into a log line and
 * {@link authEventLevel} says how loud that line should be.
 */

/** Who holds (or held) a lock file, as recorded in it. */
export interface LockHolder {
  /** Process id of the holder. */
  readonly pid?: number;
  /** Host name of the holder. */
  readonly host?: string;
}

/** Something that happened to a credential store, a source or a credential chart. */
export type AuthEvent =
  | { readonly type: 'lock-busy'; readonly store: string; readonly attempt: number; readonly lockAgeMs: number; readonly holder: LockHolder }
  | { readonly type: 'lock-acquired'; readonly store: string; readonly attempts: number; readonly waitedMs: number }
  | { readonly type: 'lock-taken-over'; readonly store: string; readonly lockAgeMs: number; readonly holder: LockHolder; readonly reason?: 'stale' | 'holder-dead' }
  | { readonly type: 'lock-compromised'; readonly store: string }
  | { readonly type: 'rotated-elsewhere'; readonly store: string }
  | { readonly type: 'refreshed'; readonly store: string }
  | { readonly type: 'reread-after-refusal'; readonly store: string; readonly foundNewer: boolean }
  | { readonly type: 'store-unreadable'; readonly store: string; readonly reason: string }
  /** The credentials file is readable by group or others (`mode`: its permission bits). Reported once per file and process. */
  | { readonly type: 'store-permissions'; readonly store: string; readonly mode: number }
  | { readonly type: 'refresh-failed'; readonly source: string; readonly message: string }
  | { readonly type: 'credentials-changed'; readonly credentialId: string; readonly generation: number }
  | { readonly type: 'reauth-required'; readonly credentialId: string; readonly summary: string }
  | { readonly type: 'reauth-cleared'; readonly credentialId: string; readonly generation: number };

/** Receives auth events. Must not throw; errors it throws are swallowed. */
export type AuthEventListener = (event: AuthEvent) => void;

/** Calls `listener` if there is one, and never lets it break the caller. */
export function emitAuthEvent(listener: AuthEventListener | undefined, event: AuthEvent): void {
  if (!listener) return;
  try {
    listener(event);
  } catch {
    // A logging hook must not be able to fail a refresh.
  }
}

/** How loud an event should be in logs: only what needs a person is `warn`. */
export function authEventLevel(event: AuthEvent): 'debug' | 'info' | 'warn' {
  switch (event.type) {
    case 'reauth-required':
    case 'lock-compromised':
    case 'store-unreadable':
    case 'store-permissions':
      return 'warn';
    case 'lock-taken-over':
    case 'refresh-failed':
    case 'reauth-cleared':
    case 'refreshed':
      return 'info';
    default:
      return 'debug';
  }
}

/** One log line for an event. Contains no token. */
export function formatAuthEvent(event: AuthEvent): string {
  switch (event.type) {
    case 'lock-busy':
      return `[auth] ${event.store}: waiting for the refresh lock (attempt ${event.attempt}, held ${event.lockAgeMs} ms by ${holderText(event.holder)})`;
    case 'lock-acquired':
      return `[auth] ${event.store}: refresh lock acquired after ${event.attempts} attempt(s), ${event.waitedMs} ms`;
    case 'lock-taken-over':
      return event.reason === 'holder-dead'
        ? `[auth] ${event.store}: took over the refresh lock of ${holderText(event.holder)}, which no longer runs`
        : `[auth] ${event.store}: took over a stale refresh lock (${event.lockAgeMs} ms old, left by ${holderText(event.holder)})`;
    case 'lock-compromised':
      return `[auth] ${event.store}: the refresh lock was taken over while held; another holder may refresh concurrently`;
    case 'rotated-elsewhere':
      return `[auth] ${event.store}: another holder already rotated the token; using it without a refresh`;
    case 'refreshed':
      return `[auth] ${event.store}: token refreshed`;
    case 'reread-after-refusal':
      return `[auth] ${event.store}: refresh refused; re-read the store ${event.foundNewer ? 'and found newer credentials' : 'and found nothing newer'}`;
    case 'store-unreadable':
      return `[auth] ${event.store}: credentials could not be read (${event.reason}); keeping the last good ones`;
    case 'store-permissions':
      return `[auth] ${event.store}: the credentials file is readable by ${(event.mode & 0o070) !== 0 ? 'its group' : ''}${(event.mode & 0o070) !== 0 && (event.mode & 0o007) !== 0 ? ' and ' : ''}${(event.mode & 0o007) !== 0 ? 'other users' : ''} (mode ${event.mode.toString(8).padStart(3, '0')}); run chmod 600 on it. The next refresh rewrites it as 600.`;
    case 'refresh-failed':
      return `[auth] ${event.source}: ${event.message}`;
    case 'credentials-changed':
      return `[auth] credential ${event.credentialId}: credentials changed outside (generation ${event.generation})`;
    case 'reauth-required':
      return `[auth] credential ${event.credentialId}: sign-in required (${event.summary}). Turns using it fail until the credentials are replaced; no restart needed.`;
    case 'reauth-cleared':
      return `[auth] credential ${event.credentialId}: new credentials picked up (generation ${event.generation}); turns resume`;
  }
}

function holderText(holder: LockHolder): string {
  if (holder.pid === undefined) return 'an unknown holder';
  return `pid ${holder.pid}${holder.host ? ` on ${holder.host}` : ''}`;
}
