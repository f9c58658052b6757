import { describe, expectTypeOf, test } from 'vitest';
import {
  createSessionManager,
  type CoordinationStore,
  type CredentialSource,
  type EndpointState,
  type FailureClass,
  type ManagerEvents,
  type ProviderEvent,
  type Session,
  type SessionManager,
  type SessionState,
  TurnFailedError,
} from '../../src/index.js';

// Type tests of the public API (p-queue style): they fail `npm run typecheck` when the contract changes.
describe('public API types', () => {
  test('createSessionManager takes endpoints with a token or a CredentialSource', () => {
    expectTypeOf(createSessionManager).parameter(0).toHaveProperty('endpoints');
    expectTypeOf(createSessionManager).returns.toEqualTypeOf<SessionManager>();
    const source: CredentialSource = { token: () => 't', refresh: async () => 't2' };
    expectTypeOf(source.refresh).returns.toEqualTypeOf<Promise<string>>();
    // @ts-expect-error wsUrl is required
    createSessionManager.bind(null, { endpoints: { a: { httpUrl: 'https://x', credentials: 't' } } });
    // @ts-expect-error policy values are numbers of milliseconds
    createSessionManager.bind(null, { endpoints: {}, policy: { upgradeTimeoutMs: '8s' } });
  });

  test('a session streams provider events and tells its state', () => {
    expectTypeOf<Session['stream']>().returns.toEqualTypeOf<AsyncIterable<ProviderEvent>>();
    expectTypeOf<Session['state']>().toEqualTypeOf<SessionState>();
    expectTypeOf<SessionState['transport']>().toEqualTypeOf<'websocket' | 'http'>();
    expectTypeOf<SessionManager['session']>().returns.toEqualTypeOf<Session>();
  });

  test('endpoint state and failures are typed', () => {
    expectTypeOf<EndpointState['status']>().toEqualTypeOf<'probing' | 'healthy' | 'cooling-down' | 'unsupported' | 'stopped'>();
    expectTypeOf<TurnFailedError['failure']['class']>().toEqualTypeOf<FailureClass>();
    expectTypeOf<FailureClass>().toEqualTypeOf<'auth' | 'unsupported' | 'rate-limited' | 'transient-server' | 'network' | 'request-fatal' | 'aborted'>();
  });

  test('events are typed', () => {
    expectTypeOf<Parameters<ManagerEvents['fallback']>[0]>().toHaveProperty('retryAtMs');
    expectTypeOf<Parameters<ManagerEvents['transition']>[0]['actor']>().toEqualTypeOf<'session' | 'endpoint' | 'credential'>();
    expectTypeOf<Parameters<ManagerEvents['reauth-required']>[0]>().toHaveProperty('summary');
  });

  test('a custom coordination store is a plain interface', () => {
    expectTypeOf<CoordinationStore['claimProbe']>().returns.resolves.toHaveProperty('granted');
  });

  test('the README embedding compiles', async () => {
    // The README's example, minus the logger and the I/O it forwards to.
    const manager = createSessionManager({
      endpoints: {
        'openai/gpt-5.4/acct-1': { wsUrl: 'wss://api.example.com/v1/responses', httpUrl: 'https://api.example.com/v1/responses', credentials: 'token' },
      },
    });
    manager.on('reauth-required', (e) => expectTypeOf(e.summary).toBeString());
    async function runTurn(sessionId: string, body: Record<string, unknown>, signal: AbortSignal) {
      const session = manager.session(sessionId, 'openai/gpt-5.4/acct-1');
      for await (const event of session.stream(body, { signal })) expectTypeOf(event.type).toBeString();
    }
    expectTypeOf(runTurn).returns.toEqualTypeOf<Promise<void>>();
    await manager.close();
  });
});
