/**
 * How the fake upstream answers WebSocket upgrades and what it does on the socket.
 *
 * - `'ok'`: accept and answer every turn.
 * - `{ upgradeStatus }`: answer the upgrade with that HTTP status (optionally Retry-After / retry-after-ms).
 * - `'reset'`: destroy the TCP connection with a RST mid-handshake (client sees `ECONNRESET`).
 * - `'hang'`: read the upgrade request and never answer.
 * - `'flap'`: accept, then drop the TCP connection at once without a close frame (client sees 1006).
 * - `{ closeBeforeFirstEvent: code }`: accept; on the first turn close with `code` before any event.
 * - `{ closeAfterFirstEvent: code }`: accept; on each turn send `response.created`, then close with `code`.
 *
 * Close code 1006 cannot be sent in a close frame, so it means "drop the TCP connection".
 */
export type UpgradeMode =
  | 'ok'
  | 'reset'
  | 'hang'
  | 'flap'
  | { readonly upgradeStatus: number; readonly retryAfterSeconds?: number; readonly retryAfterMs?: number }
  | { readonly closeBeforeFirstEvent: number }
  | { readonly closeAfterFirstEvent: number };

/**
 * How the fake upstream answers `POST /v1/responses`.
 *
 * - `'ok'`: 200 with an SSE stream.
 * - `{ httpStatus }`: that status with a JSON error body (optionally Retry-After / retry-after-ms).
 * - `'reset'`: RST the connection instead of answering (fetch fails with a network error).
 * - `'hang'`: never answer.
 */
export type HttpMode =
  | 'ok'
  | 'reset'
  | 'hang'
  | { readonly httpStatus: number; readonly retryAfterSeconds?: number; readonly retryAfterMs?: number };

/**
 * What a turn looks like once it is accepted, on either transport.
 *
 * - `'ok'`: `response.created`, the deltas, `response.completed`.
 * - `{ stallAfterEvents: n }`: send the first `n` events, then nothing, keeping the connection open.
 * - `{ malformedAfterEvents: n }`: send `n` events, then one that is not JSON (HTTP then ends the response).
 * - `{ providerError }`: `response.created`, then an `error` event with that code, status and message.
 * - `{ endWith: 'response.done' }`: a healthy turn whose last event is `response.done` (the
 *   WebSocket variant some clients speak) instead of `response.completed`.
 */
export type TurnMode =
  | 'ok'
  | { readonly stallAfterEvents: number }
  | { readonly malformedAfterEvents: number }
  | { readonly providerError: { readonly code: string; readonly status?: number; readonly message?: string } }
  | { readonly endWith: 'response.done' };

/** The full behaviour of the upstream for one model. */
export interface ModelModes {
  readonly ws: UpgradeMode;
  readonly http: HttpMode;
  readonly turn: TurnMode;
}

/**
 * What `setMode` accepts: one mode of any family (recognised by its shape and
 * applied to that family only), or several at once. `'ok'` alone heals all three.
 */
export type ModeUpdate = UpgradeMode | HttpMode | TurnMode | Partial<ModelModes>;

/** Every family `'ok'`. */
export const HEALTHY: ModelModes = Object.freeze({ ws: 'ok', http: 'ok', turn: 'ok' });

/**
 * Apply an update to the current modes.
 * @throws RangeError for close codes that cannot be sent, so a typo fails in the test, not in a socket handler
 */
export function applyModeUpdate(current: ModelModes, update: ModeUpdate): ModelModes {
  if (update === 'ok') return HEALTHY;
  if (update === 'flap' || update === 'hang' || update === 'reset') {
    // A bare 'hang' / 'reset' is ambiguous; it means the upgrade, the first thing a client tries.
    return { ...current, ws: update };
  }
  if ('upgradeStatus' in update || 'closeBeforeFirstEvent' in update || 'closeAfterFirstEvent' in update) {
    return { ...current, ws: validated(update) };
  }
  if ('httpStatus' in update) return { ...current, http: update };
  if ('stallAfterEvents' in update || 'malformedAfterEvents' in update || 'providerError' in update || 'endWith' in update) {
    return { ...current, turn: update };
  }
  return {
    ws: update.ws === undefined ? current.ws : validated(update.ws),
    http: update.http ?? current.http,
    turn: update.turn ?? current.turn,
  };
}

/** Close codes a server may put in a close frame (RFC 6455 §7.4), plus 1006 meaning "drop the connection". */
export function isSendableCloseCode(code: number): boolean {
  if (code === 1006) return true;
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005;
}

function validated(mode: UpgradeMode): UpgradeMode {
  if (typeof mode === 'object') {
    const code = 'closeBeforeFirstEvent' in mode ? mode.closeBeforeFirstEvent : 'closeAfterFirstEvent' in mode ? mode.closeAfterFirstEvent : undefined;
    if (code !== undefined && !isSendableCloseCode(code)) throw new RangeError(`close code ${code} cannot be sent by a server`);
  }
  return mode;
}
