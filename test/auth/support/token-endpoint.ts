import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real OAuth token endpoint on 127.0.0.1 that enforces single-use refresh tokens, as the
 * provider in issue 57814 does: a refresh token works once; using it again answers
 * `401 refresh_token_reused` with the exact body from the incident log. Reusable by
 * integration tests: `startTokenEndpoint()`, then `signIn()` to mint the first pair.
 */

/** The exact error body of the incident (seed issue 57814). */
export const REFRESH_TOKEN_REUSED_BODY = {
  error: {
    message: 'Your refresh token has already been used to generate a new access token. Please try signing in again.',
    type: 'invalid_request_error',
    param: null,
    code: 'refresh_token_reused',
  },
};

/** Tokens as the endpoint issues them. */
export interface IssuedTokens {
  readonly access_token: string;
  readonly refresh_token: string;
  /** Wall-clock expiry, in ms since epoch, as a client would store it. */
  readonly expires_at_ms: number;
}

/** A refresh request held before processing by {@link TokenEndpoint.holdNext}. */
export interface HeldRequest {
  /** Process it now (unless the client went away meanwhile). */
  release(): void;
  /** Resolves when the client disconnected while held. */
  readonly abandoned: Promise<void>;
}

/** One refresh request as the endpoint saw it. */
export interface TokenRequestRecord {
  readonly refreshToken: string | undefined;
  outcome: 'issued' | 'reused' | 'unknown-token' | 'bad-request' | 'injected-failure' | 'held' | 'abandoned';
}

/** Counters of what reached the endpoint. */
export interface TokenEndpointStats {
  /** Refresh POSTs received, whatever became of them. */
  readonly refreshRequests: number;
  /** Refreshes that issued new tokens. */
  readonly issued: number;
  /** Refreshes refused with `refresh_token_reused`. */
  readonly reused: number;
  /** Refreshes answered with a failure queued by `failNext`. */
  readonly injectedFailures: number;
  /** Held refreshes whose client went away before release (never processed: the token stays valid). */
  readonly abandoned: number;
}

/** The running endpoint. */
export interface TokenEndpoint {
  /** `http://127.0.0.1:<port>/oauth/token`. */
  readonly url: string;
  /** The only client id accepted. */
  readonly clientId: string;
  /** Mints a fresh pair, as an interactive sign-in would. */
  signIn(): IssuedTokens;
  /** Marks a refresh token used without issuing anything (a holder outside the protocol spent it). */
  spend(refreshToken: string): void;
  /** The most recently issued pair. */
  latest(): IssuedTokens | undefined;
  /** Every token ever minted, to search outputs for leaks. */
  allTokens(): string[];
  /** Counters. */
  stats(): TokenEndpointStats;
  /** Every refresh request in arrival order. */
  readonly requests: readonly TokenRequestRecord[];
  /** Answer the next `count` refresh requests with `status` and `body` before looking at their token (the token stays valid). */
  failNext(count: number, status: number, body?: unknown): void;
  /** Hold the next refresh request before processing it; resolves when it arrives. */
  holdNext(): Promise<HeldRequest>;
  /** Stops the server and drops open connections. */
  close(): Promise<void>;
}

/** Options of {@link startTokenEndpoint}. */
export interface TokenEndpointOptions {
  /** Client id to require. Default `test-client`. */
  readonly clientId?: string;
  /** Lifetime of issued access tokens, in s. Default 3 600. */
  readonly expiresInSec?: number;
  /** Answer every refresh this long after it arrived, in ms (a slow provider). Default 0. */
  readonly delayMs?: number;
}

/** Starts a token endpoint on a random port of 127.0.0.1. */
export async function startTokenEndpoint(options: TokenEndpointOptions = {}): Promise<TokenEndpoint> {
  const clientId = options.clientId ?? 'test-client';
  const expiresInSec = options.expiresInSec ?? 3_600;
  const refreshTokens = new Map<string, 'valid' | 'used'>();
  const minted: string[] = [];
  const requests: TokenRequestRecord[] = [];
  const failures: { status: number; body: unknown }[] = [];
  const holds: ((held: HeldRequest) => void)[] = [];
  let serial = 0;
  let latest: IssuedTokens | undefined;

  const mint = (): IssuedTokens => {
    serial += 1;
    const pair = {
      access_token: `at_${serial}_${randomBytes(12).toString('hex')}`,
      refresh_token: `rt_${serial}_${randomBytes(12).toString('hex')}`,
      expires_at_ms: Date.now() + expiresInSec * 1000,
    };
    refreshTokens.set(pair.refresh_token, 'valid');
    minted.push(pair.access_token, pair.refresh_token);
    latest = pair;
    return pair;
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  const answer = (res: ServerResponse, record: TokenRequestRecord, form: URLSearchParams) => {
    const failure = failures.shift();
    if (failure) {
      record.outcome = 'injected-failure';
      return send(res, failure.status, failure.body);
    }
    if (form.get('grant_type') !== 'refresh_token') {
      record.outcome = 'bad-request';
      return send(res, 400, { error: 'unsupported_grant_type', error_description: 'grant_type must be refresh_token' });
    }
    if (form.get('client_id') !== clientId) {
      record.outcome = 'bad-request';
      return send(res, 401, { error: 'invalid_client', error_description: 'Unknown client' });
    }
    const token = record.refreshToken;
    const state = token === undefined ? undefined : refreshTokens.get(token);
    if (state === undefined) {
      record.outcome = 'unknown-token';
      return send(res, 400, { error: 'invalid_grant', error_description: 'Unknown refresh token' });
    }
    if (state === 'used') {
      record.outcome = 'reused';
      return send(res, 401, REFRESH_TOKEN_REUSED_BODY);
    }
    refreshTokens.set(token!, 'used');
    const pair = mint();
    record.outcome = 'issued';
    send(res, 200, { access_token: pair.access_token, refresh_token: pair.refresh_token, expires_in: expiresInSec, token_type: 'Bearer' });
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST' || req.url !== '/oauth/token') {
      send(res, 404, { error: 'not_found' });
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const record: TokenRequestRecord = { refreshToken: form.get('refresh_token') ?? undefined, outcome: 'held' };
      requests.push(record);
      const hold = holds.shift();
      if (!hold && options.delayMs) {
        setTimeout(() => answer(res, record, form), options.delayMs);
        return;
      }
      if (!hold) return answer(res, record, form);
      let gone = false;
      let markAbandoned!: () => void;
      const abandoned = new Promise<void>((resolve) => (markAbandoned = resolve));
      res.on('close', () => {
        if (record.outcome === 'held') {
          gone = true;
          record.outcome = 'abandoned';
          markAbandoned();
        }
      });
      hold({
        release: () => {
          if (!gone) answer(res, record, form);
        },
        abandoned,
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/oauth/token`,
    clientId,
    signIn: mint,
    spend: (token) => {
      if (refreshTokens.has(token)) refreshTokens.set(token, 'used');
    },
    latest: () => latest,
    allTokens: () => [...minted],
    requests,
    stats: () => ({
      refreshRequests: requests.length,
      issued: requests.filter((r) => r.outcome === 'issued').length,
      reused: requests.filter((r) => r.outcome === 'reused').length,
      injectedFailures: requests.filter((r) => r.outcome === 'injected-failure').length,
      abandoned: requests.filter((r) => r.outcome === 'abandoned').length,
    }),
    failNext: (count, status, body = { error: { message: 'upstream unavailable', type: 'server_error', code: null } }) => {
      for (let i = 0; i < count; i++) failures.push({ status, body });
    },
    holdNext: () => new Promise<HeldRequest>((resolve) => holds.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
