import { describe, expect, test } from 'vitest';
import { assign, createActor, createMachine, fromCallback, sendTo, setup, type InspectionEvent } from 'xstate';
import { REDACTED, sanitizeInspectionEvent, sanitizeValue, scrubText } from '../../src/inspector/sanitize.js';
import { BAD, SECRET_TOKEN, fallBack, startScenario } from './support/scenario.js';

const TOKEN = 'tok-very-secret-0123456789abcdef';

describe('sanitizeValue', () => {
  test('values under secret-looking keys are withheld, numbers and booleans kept', () => {
    const clean = sanitizeValue({
      token: 'abc',
      access_token: 'abc',
      refreshToken: 'abc',
      apiKey: 'abc',
      'api-key': 'abc',
      password: 'abc',
      clientSecret: 'abc',
      headers: { Authorization: 'Basic abc', Cookie: 'a=b', accept: 'text/event-stream' },
      credentials: { token: 'abc', nested: ['abc'] },
      maxTokens: 4096,
      tokenExpired: false,
      credentialGeneration: 3,
      credentialId: 'openai/gpt-5.4/token',
      endpointKey: 'openai/gpt-5.4',
    });
    expect(clean).toEqual({
      token: REDACTED,
      access_token: REDACTED,
      refreshToken: REDACTED,
      apiKey: REDACTED,
      'api-key': REDACTED,
      password: REDACTED,
      clientSecret: REDACTED,
      headers: { Authorization: REDACTED, Cookie: REDACTED, accept: 'text/event-stream' },
      credentials: { token: REDACTED, nested: [REDACTED] },
      maxTokens: 4096,
      tokenExpired: false,
      credentialGeneration: 3,
      credentialId: 'openai/gpt-5.4/token',
      endpointKey: 'openai/gpt-5.4',
    });
  });

  test('known tokens are replaced anywhere, in values and keys, raw or URL-encoded', () => {
    const secret = 'tok/with+chars=0123456789';
    const clean = sanitizeValue({ summary: `server said ${secret} twice ${secret}`, [secret]: 1, url: `wss://x/?t=${encodeURIComponent(secret)}` }, [secret, 'short']);
    expect(JSON.stringify(clean)).not.toContain(secret);
    expect(JSON.stringify(clean)).not.toContain(encodeURIComponent(secret));
    expect(clean).toEqual({ summary: `server said ${REDACTED} twice ${REDACTED}`, [REDACTED]: 1, url: `wss://x/?t=${REDACTED}` });
  });

  test('secret-shaped strings are replaced even when nobody said they were secret', () => {
    expect(scrubText('header Bearer abcdef123456 end')).toBe(`header Bearer ${REDACTED} end`);
    expect(scrubText('id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl')).toBe(`id ${REDACTED}`);
    expect(scrubText('key sk-proj-abcdefghijklmnop1234 used')).toBe(`key ${REDACTED} used`);
    expect(scrubText('upgrade answered HTTP 500')).toBe('upgrade answered HTTP 500');
  });

  test('anything becomes plain JSON: Map, Set, Date, Error, binary, cycles, functions, bigint', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const error = Object.assign(new Error(`refused ${TOKEN}`), { code: 'E_AUTH' });
    const clean = sanitizeValue(
      { map: new Map([['a', 1]]), set: new Set([1, 2]), date: new Date(0), error, buf: Buffer.from('abc'), cyclic, fn: () => 1, big: 10n, sym: Symbol('s') },
      [TOKEN],
    );
    expect(clean).toEqual({
      map: { a: 1 },
      set: [1, 2],
      date: '1970-01-01T00:00:00.000Z',
      error: { name: 'Error', message: `refused ${REDACTED}`, code: 'E_AUTH' },
      buf: '[binary 3 bytes]',
      cyclic: { name: 'loop', self: '[circular]' },
      big: '10',
    });
    expect(() => JSON.stringify(clean)).not.toThrow();
  });
});

describe('sanitizeInspectionEvent', () => {
  const machine = setup({
    actors: {
      child: fromCallback(() => () => {}),
    },
  }).createMachine({
    id: 'toy',
    context: { count: 0, note: `holds ${TOKEN}`, authorization: `Bearer ${TOKEN}` },
    initial: 'idle',
    states: {
      idle: { on: { GO: { target: 'busy', actions: assign({ count: ({ context }) => context.count + 1 }) } } },
      busy: {
        invoke: { id: 'kid', src: 'child' },
        entry: sendTo('kid', { type: 'PING', secret: TOKEN }),
        on: { BACK: 'idle' },
      },
    },
  });

  function run(): InspectionEvent[] {
    const events: InspectionEvent[] = [];
    const actor = createActor(machine, { inspect: (event) => events.push(sanitizeInspectionEvent(event, [TOKEN])) });
    actor.start();
    actor.send({ type: 'GO', payload: { token: TOKEN, text: `x${TOKEN}x` } } as never);
    actor.send({ type: 'BACK' });
    actor.stop();
    return events;
  }

  test('no token in any event, whatever its kind', () => {
    const events = run();
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(['@xstate.actor', '@xstate.event', '@xstate.snapshot', '@xstate.microstep', '@xstate.action']));
    const text = JSON.stringify(events);
    expect(text).not.toContain(TOKEN);
    expect(text).toContain(REDACTED);
  });

  test('actor refs keep id and sessionId, lose everything else, and still answer getSnapshot() and _parent (sanitized)', () => {
    const events = run();
    const snapshotEvent = events.find((e) => e.type === '@xstate.snapshot' && e.event.type === 'GO');
    expect(snapshotEvent).toBeDefined();
    const ref = snapshotEvent!.actorRef as unknown as Record<string, unknown> & { getSnapshot(): unknown; _parent?: unknown };
    expect(Object.keys(ref).sort()).toEqual(['id', 'sessionId']);
    expect(typeof ref.sessionId).toBe('string');
    expect(JSON.stringify(ref)).toBe(JSON.stringify({ id: ref.id, sessionId: ref.sessionId }));
    expect(JSON.stringify(ref.getSnapshot())).not.toContain(TOKEN);
    const child = events.find((e) => e.type === '@xstate.actor' && (e.actorRef as unknown as { id: string }).id === 'kid');
    const parent = (child!.actorRef as unknown as { _parent?: { sessionId: string } })._parent;
    expect(parent?.sessionId).toBe(ref.sessionId);
    const relayed = events.find((e) => e.type === '@xstate.event' && e.event.type === 'PING') as (InspectionEvent & { sourceRef?: { sessionId: string } }) | undefined;
    expect(relayed?.sourceRef?.sessionId).toBe(ref.sessionId);
    expect((relayed as unknown as { event: { secret: string } }).event.secret).toBe(REDACTED);
    const microstep = events.find((e) => e.type === '@xstate.microstep') as unknown as { _transitions: { source?: string; target: string[] }[] };
    expect(microstep._transitions[0]?.source).toMatch(/^toy/);
  });

  test("what @statelyai/inspect's converter reads is there, and serializes without a token", () => {
    // The reads of convertXStateEvent in @statelyai/inspect (createInspector.ts), on sanitized events.
    const convert = (event: InspectionEvent): unknown => {
      const ref = event.actorRef as unknown as { id: string; sessionId: string; logic?: { config?: { id: string } }; _parent?: { sessionId: string }; getSnapshot(): unknown };
      switch (event.type) {
        case '@xstate.actor': {
          const definition = ref.logic?.config;
          return { type: event.type, name: ref.id, sessionId: ref.sessionId, parentId: ref._parent?.sessionId, definition: definition ? JSON.stringify(definition) : undefined, snapshot: ref.getSnapshot(), rootId: event.rootId };
        }
        case '@xstate.event':
          return { type: event.type, event: event.event, sourceId: event.sourceRef?.sessionId, sessionId: ref.sessionId };
        case '@xstate.snapshot':
          return { type: event.type, event: event.event, snapshot: JSON.parse(JSON.stringify(event.snapshot)), sessionId: ref.sessionId };
        default:
          return undefined;
      }
    };
    const converted = run().map(convert).filter(Boolean) as { type: string; sessionId: string; snapshot?: { value?: unknown } }[];
    expect(converted.every((e) => typeof e.sessionId === 'string')).toBe(true);
    expect(converted.some((e) => e.type === '@xstate.snapshot' && e.snapshot?.value === 'busy')).toBe(true);
    expect(JSON.stringify(converted)).not.toContain(TOKEN);
  });

  test('a machine without setup works too (refs in context are reduced to ids)', () => {
    const other = createActor(createMachine({ id: 'plain', initial: 'a', states: { a: {} } }));
    const events: InspectionEvent[] = [];
    const actor = createActor(createMachine({ id: 'holder', context: { ref: other } }), { inspect: (e) => events.push(sanitizeInspectionEvent(e, [])) });
    actor.start();
    const snapshot = events.find((e) => e.type === '@xstate.snapshot') as unknown as { snapshot: { context: { ref: unknown } } };
    expect(snapshot.snapshot.context.ref).toEqual({ id: other.id, sessionId: other.sessionId });
    actor.stop();
  });
});

describe('the manager', () => {
  test('every observer added with addInspector gets sanitized events only', async () => {
    const scenario = await startScenario();
    try {
      const seen: InspectionEvent[] = [];
      scenario.manager.addInspector((event) => seen.push(event));
      await fallBack(scenario);
      const session = scenario.manager.actors().find((a) => a.kind === 'session')?.actor as unknown as { send(e: unknown): void };
      session.send({ type: 'DEBUG', text: `leak ${SECRET_TOKEN}` });
      expect(seen.length).toBeGreaterThan(50);
      const text = JSON.stringify(seen);
      expect(text).not.toContain(SECRET_TOKEN);
      expect(text).toContain('DEBUG');
      expect(scenario.manager.endpoint(BAD).state.status).toBe('cooling-down');
    } finally {
      await scenario.close();
    }
  });
});
