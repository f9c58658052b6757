import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, test, vi } from 'vitest';
import { memoryCredentialStore } from '../../src/auth/memory-store.js';
import { oauthRefreshSource } from '../../src/auth/oauth-refresh.js';
import { ClosedError, TurnFailedError } from '../../src/errors.js';
import { startTokenEndpoint, type TokenEndpoint } from '../auth/support/token-endpoint.js';
import { startUpstream, type Upstream } from '../../src/testing/upstream.js';
import { closeHarnesses, completeTurnTypes, pendingTimers, settle, startHarness } from '../support/manager-harness.js';

let childUpstream: Upstream | undefined;
let tokens: TokenEndpoint | undefined;
afterEach(async () => {
  await closeHarnesses();
  await childUpstream?.close();
  childUpstream = undefined;
  await tokens?.close();
  tokens = undefined;
});

function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

function grown(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const diff: Record<string, number> = {};
  for (const [type, count] of after) if (count > (before.get(type) ?? 0)) diff[type] = count - (before.get(type) ?? 0);
  return diff;
}

test('manager.close() leaves nothing behind: no open socket at the upstream, no chart timer, no resource keeping the process alive', async () => {
  await settle();
  const before = resourceCounts();
  const h = await startHarness({
    endpoints: { good: {}, bad: {}, hanging: {}, latched: {} },
    modes: { bad: { upgradeStatus: 500 }, hanging: 'hang', latched: { upgradeStatus: 426 } },
  });
  const { manager, upstream, clock } = h;

  // Open sockets on the good endpoint, a cooldown on the bad one, a latch, and an upgrade still in flight.
  const good = [h.session('g1', 'good'), h.session('g2', 'good')];
  await h.turn(good[0]!);
  await h.advanceBy(h.manager.policy.minUptimeMs); // proven: the other sessions may upgrade
  await h.turn(good[1]!);
  expect(good.map((s) => s.state.transport)).toEqual(['websocket', 'websocket']);
  expect((await h.turn(h.session('b1', 'bad'))).error).toBeUndefined();
  expect((await h.turn(h.session('l1', 'latched'))).error).toBeUndefined();
  const hanging = h.session('h1', 'hanging');
  const pending = h.turn(hanging);
  await vi.waitFor(() => expect(upstream.upgradeAttemptsFor('hanging')).toBe(1));
  await h.advanceBy(manager.policy.upgradeBudgetMs);
  expect((await pending).types).toEqual(completeTurnTypes());
  expect(hanging.state.connection).toBe('connection.socket.connecting');
  expect(upstream.openWebSockets).toBe(2);
  expect(pendingTimers(clock).length).toBeGreaterThan(0);
  expect(manager.endpoint('bad').state.status).toBe('cooling-down');
  expect(manager.endpoint('latched').state.status).toBe('unsupported');

  await manager.close();

  // Client side: everything stopped.
  expect(pendingTimers(clock)).toEqual([]);
  expect(manager.sessionIds).toEqual([]);
  for (const s of [...good, hanging]) expect(s.state.released).toBe(true);
  for (const key of manager.endpointKeys) expect(manager.endpoint(key).state.status).toBe('stopped');
  expect(() => manager.session('new', 'good')).toThrow(ClosedError);
  await expect(manager.close()).resolves.toBeUndefined();
  // Server side: every socket the manager opened is gone.
  await vi.waitFor(() => expect(upstream.openWebSockets).toBe(0));
  // Time passing changes nothing any more.
  const transitions = h.events.transition.length;
  await h.advanceBy(24 * 3_600_000);
  expect(h.events.transition.length).toBe(transitions);
  expect(upstream.upgradeAttempts).toBe(5);

  // The process would exit: once the upstream (the test's own server) is closed, no resource is left over.
  await upstream.close();
  // (Polled with a one-shot timer that has fired by the time the resources are read: vi.waitFor's own timers would count.)
  const deadline = Date.now() + 5_000;
  while (Object.keys(grown(before, resourceCounts())).length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  expect(grown(before, resourceCounts())).toEqual({});
});

test('close() in the middle of a WebSocket turn ends it (aborted) and releases everything', async () => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: { stallAfterEvents: 2 } } });
  const s = h.session('s1', 'm');
  const iterator = s.stream(h.body('m'))[Symbol.asyncIterator]();
  expect((await iterator.next()).value).toMatchObject({ type: 'response.created' });
  expect(h.upstream.openWebSockets).toBe(1);

  const warn = vi.spyOn(console, 'warn');
  await h.manager.close();
  const rest = await (async () => {
    try {
      for (let r = await iterator.next(); !r.done; r = await iterator.next());
      return undefined;
    } catch (error) {
      return error;
    }
  })();
  expect(rest).toBeInstanceOf(TurnFailedError);
  expect((rest as TurnFailedError).failure.class).toBe('aborted');
  // Nothing is sent to the stopped chart (xstate warns about that in development builds).
  const stoppedActorWarnings = warn.mock.calls.filter((args) => String(args[0]).includes('stopped actor'));
  warn.mockRestore();
  expect(stoppedActorWarnings).toEqual([]);
  expect(s.state.released).toBe(true);
  expect(pendingTimers(h.clock)).toEqual([]);
  await vi.waitFor(() => expect(h.upstream.openWebSockets).toBe(0));
  expect(h.upstream.httpRequests).toBe(0);
});

function countOf(type: string): number {
  return process.getActiveResourcesInfo().filter((t) => t === type).length;
}

/** The iterator's next result, or 'pending' if it has not settled within `ms` of real time. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<{ value: T } | { error: unknown } | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'pending'>((resolve) => (timer = setTimeout(() => resolve('pending'), ms)));
  const outcome = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  try {
    return await Promise.race([outcome, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

test.each(['close', 'release'] as const)('%s() during an HTTP turn ends it at once: aborted, its connection to the upstream closed, nothing sent to the stopped chart', async (how) => {
  const h = await startHarness({ endpoints: { m: {} }, modes: { m: { upgradeStatus: 500 } } });
  // The probe fails (500): the endpoint cools down and turns go over HTTP.
  expect((await h.turn(h.session('s0', 'm'))).error).toBeUndefined();
  h.upstream.setMode('m', { stallAfterEvents: 2 });
  const s = h.session('s1', 'm');
  const iterator = s.stream(h.body('m'))[Symbol.asyncIterator]();
  expect((await iterator.next()).value).toMatchObject({ type: 'response.created' });
  expect((await iterator.next()).value).toMatchObject({ type: 'response.output_text.delta' });
  expect(s.state).toMatchObject({ turn: 'turn.streaming', transport: 'http' });
  const socketsDuringTheTurn = countOf('TCPSocketWrap');
  const warn = vi.spyOn(console, 'warn');
  try {
    if (how === 'close') await h.manager.close();
    else h.manager.release('s1');

    const next = await settledWithin(iterator.next(), 2_000);
    expect(next).not.toBe('pending');
    expect(next).toMatchObject({ error: expect.any(TurnFailedError) });
    expect(((next as { error: TurnFailedError }).error).failure.class).toBe('aborted');
    // The request's connection is gone (client and server side): nothing of it keeps the process alive.
    await vi.waitFor(() => expect(countOf('TCPSocketWrap')).toBeLessThan(socketsDuringTheTurn));
    expect(warn.mock.calls.filter((args) => String(args[0]).includes('stopped actor'))).toEqual([]);
  } finally {
    warn.mockRestore();
  }
});

test('close() while a token refresh is in flight: the turns end as aborted, the rotated credentials are kept, nothing is left', async () => {
  tokens = await startTokenEndpoint();
  const endpoint = tokens;
  const initial = endpoint.signIn();
  const store = memoryCredentialStore(initial);
  const source = oauthRefreshSource({ tokenUrl: endpoint.url, clientId: endpoint.clientId, store, name: 'codex' });
  const h = await startHarness({
    endpoints: { m: { credentials: source } },
    acceptToken: (token) => token !== initial.access_token && endpoint.allTokens().includes(token),
  });
  const held = endpoint.holdNext();
  const turns = [h.turn(h.session('s1', 'm')), h.turn(h.session('s2', 'm'))];
  const request = await held;

  await h.manager.close();
  request.release();
  const results = await Promise.all(turns);
  for (const result of results) {
    expect(result.error).toBeInstanceOf(TurnFailedError);
    expect((result.error as TurnFailedError).failure.class).toBe('aborted');
  }
  // The refresh token was spent at the endpoint: its successor must not be lost, or the next start needs a sign-in.
  await vi.waitFor(async () => expect((await store.read())?.refresh_token).toBe(endpoint.latest()!.refresh_token));
  expect(endpoint.stats()).toMatchObject({ refreshRequests: 1, issued: 1 });
  expect(pendingTimers(h.clock)).toEqual([]);
  await vi.waitFor(() => expect(h.upstream.openWebSockets).toBe(0));
});

test('a process that used the manager on the system clock exits by itself after close(), while the upstream stays up', async () => {
  childUpstream = await startUpstream({ modes: { bad: { upgradeStatus: 500 }, hanging: 'hang' } });
  const upstream = childUpstream;
  const endpoints = Object.fromEntries(
    ['good', 'bad', 'hanging'].map((model) => [model, { wsUrl: upstream.wsUrl(model), httpUrl: upstream.httpUrl, model }]),
  );
  const script = fileURLToPath(new URL('./fixtures/close-child.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, RS_CHILD_CONFIG: JSON.stringify({ endpoints }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, atMs: Date.now() });
    });
  });
  expect(exit, stderr).toMatchObject({ code: 0, signal: null });
  const report = JSON.parse(stdout) as { results: string[]; states: string[]; closedAt: number; resources: string[] };
  expect(report.results).toEqual(Array.from({ length: 6 }, () => 'response.completed'));
  expect(report.states).toEqual(['good:healthy', 'bad:cooling-down', 'hanging:probing']);
  // Right after close(): no socket, no timer, nothing but the child's own stdio keeps Node alive.
  expect(report.resources.filter((type) => !['PipeWrap', 'TTYWrap'].includes(type))).toEqual([]);
  // And it exits without waiting for a keep-alive (4-5 s), a ping (30 s), a close handshake or a cooldown.
  expect(exit.atMs - report.closedAt).toBeLessThan(4_000);
  // The upstream saw the two good sockets and the hanging upgrade go away.
  await vi.waitFor(() => expect(upstream.openWebSockets).toBe(0));
  expect(upstream.upgradeAttemptsFor('good')).toBe(2);
  expect(upstream.upgradeAttemptsFor('bad')).toBe(1);
  expect(upstream.upgradeAttemptsFor('hanging')).toBe(1);
  expect(upstream.wsTurns).toBe(3);
});
