import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createActor, fromCallback, type AnyActorRef } from 'xstate';
import type { CredentialReply } from '../../../machines/credential.js';
import type { IssuedTokens, TokenEndpoint } from './token-endpoint.js';

/** A temp directory holding a credentials file signed in at `endpoint`. */
export interface CredentialsFile {
  readonly dir: string;
  readonly path: string;
  /** The pair written at start. */
  readonly initial: IssuedTokens;
  /** Deletes the directory. */
  cleanup(): Promise<void>;
}

/** Signs in at `endpoint` and writes the pair to a fresh credentials file. */
export async function signedInFile(endpoint: TokenEndpoint, mode = 0o600): Promise<CredentialsFile> {
  const dir = await mkdtemp(join(tmpdir(), 'resilient-stream-auth-'));
  const path = join(dir, 'credentials.json');
  const initial = endpoint.signIn();
  await writeFile(path, JSON.stringify(initial), { mode });
  return { dir, path, initial, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Stand-ins for session charts: tiny callback actors that record the credential chart's replies. */
export interface FakeSessions {
  readonly refs: AnyActorRef[];
  /** Every reply, with the index of the session that got it. */
  readonly replies: { session: number; reply: CredentialReply }[];
  stop(): void;
}

/** Starts `count` fake sessions. */
export function fakeSessions(count: number): FakeSessions {
  const replies: { session: number; reply: CredentialReply }[] = [];
  const refs = Array.from({ length: count }, (_, session) =>
    createActor(
      fromCallback<CredentialReply>(({ receive }) => {
        receive((reply) => replies.push({ session, reply }));
      }),
      { id: `session-${session}` },
    ).start(),
  );
  return { refs, replies, stop: () => refs.forEach((ref) => ref.stop()) };
}
