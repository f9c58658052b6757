import { readFileSync } from 'node:fs';
import { and, createMachine, not, setup, stateIn, type AnyStateMachine } from 'xstate';
import { describe, expect, it } from 'vitest';
import { createCredentialMachine, createEndpointMachine, createSessionMachine, createTurnMachine } from '../../machines/index.js';
import {
  allStateNodes,
  CHART_NAMES,
  chartToJson,
  chartToMermaid,
  exportCharts,
  mermaidId,
  renderChartFiles,
  type ChartJson,
  type StateJson,
  type TransitionJson,
} from '../../src/charts/export.js';

const machines: Record<(typeof CHART_NAMES)[number], AnyStateMachine> = {
  session: createSessionMachine() as unknown as AnyStateMachine,
  turn: createTurnMachine() as unknown as AnyStateMachine,
  endpoint: createEndpointMachine() as unknown as AnyStateMachine,
  credential: createCredentialMachine() as unknown as AnyStateMachine,
};

const docsDir = new URL('../../docs/charts/', import.meta.url);

function jsonStates(state: StateJson): StateJson[] {
  return [state, ...state.states.flatMap(jsonStates)];
}

function jsonTransitions(state: StateJson): TransitionJson[] {
  return [
    ...state.on,
    ...state.after,
    ...state.always,
    ...state.onDone,
    ...state.invoke.flatMap((inv) => [...inv.onDone, ...inv.onError, ...inv.onSnapshot]),
  ];
}

/**
 * A structural check of a Mermaid stateDiagram-v2: the header, balanced composite blocks,
 * `--` only inside a composite, every state declared once, and both ends of every transition
 * either `[*]` or a declared state. Returns the declared ids and the transition lines.
 */
function parseMermaid(text: string): { declared: Map<string, string>; edges: { from: string; to: string; label: string }[] } {
  const lines = text.split('\n');
  expect(lines[0]).toBe('stateDiagram-v2');
  const declared = new Map<string, string>();
  const edges: { from: string; to: string; label: string }[] = [];
  let depth = 0;
  const idPattern = /^[A-Za-z_][A-Za-z0-9_]*$/;
  for (const [index, raw] of lines.slice(1).entries()) {
    const where = `line ${index + 2}: ${raw}`;
    const line = raw.trim();
    if (line === '' || line.startsWith('%%')) continue;
    if (line === '}') {
      depth -= 1;
      expect(depth, where).toBeGreaterThanOrEqual(0);
      continue;
    }
    if (line === '--') {
      expect(depth, `${where} (region separator outside a composite state)`).toBeGreaterThan(0);
      continue;
    }
    const state = /^state "([^"]+)" as (\S+)( \{)?$/.exec(line);
    if (state) {
      const [, name, id, open] = state;
      expect(id, where).toMatch(idPattern);
      expect(declared.has(id!), `${where} (declared twice)`).toBe(false);
      declared.set(id!, name!);
      if (open) depth += 1;
      continue;
    }
    const edge = /^(\S+) --> (\S+)(?: : (.+))?$/.exec(line);
    if (edge) {
      const [, from, to, label] = edge;
      edges.push({ from: from!, to: to!, label: label ?? '' });
      if (label !== undefined) expect(label, `${where} (label with a character Mermaid may misread)`).not.toMatch(/[#;"{}%:]/);
      continue;
    }
    if (/^classDef \w+ [\w:\- ;]+$/.test(line) || /^class [\w,]+ \w+$/.test(line)) continue;
    throw new Error(`unrecognised Mermaid line ${where}`);
  }
  expect(depth, 'unbalanced braces').toBe(0);
  for (const { from, to } of edges) {
    if (from !== '[*]') expect(declared.has(from), `transition from undeclared state ${from}`).toBe(true);
    if (to !== '[*]') expect(declared.has(to), `transition to undeclared state ${to}`).toBe(true);
  }
  return { declared, edges };
}

describe('docs/charts', () => {
  it('is up to date with the machines', () => {
    for (const [file, expected] of Object.entries(renderChartFiles())) {
      let actual: string | undefined;
      try {
        actual = readFileSync(new URL(file, docsDir), 'utf8');
      } catch {
        actual = undefined;
      }
      expect(actual, `docs/charts/${file} is missing or stale: run \`npm run charts\` (or node --import tsx src/charts/write.ts)`).toBe(expected);
    }
  });

  it('README embeds every diagram in a mermaid block, the turn chart included', () => {
    expect(CHART_NAMES).toContain('turn');
    const readme = renderChartFiles()['README.md']!;
    const charts = exportCharts();
    for (const name of CHART_NAMES) expect(readme).toContain(`\`\`\`mermaid\n${charts[name].mermaid.trimEnd()}\n\`\`\``);
  });
});

describe.each(CHART_NAMES)('the %s chart', (name) => {
  const machine = machines[name];
  const { json, mermaid } = exportCharts()[name];

  it('is deterministic and serializable', () => {
    expect(chartToJson(machine)).toEqual(json);
    expect(chartToMermaid(machine)).toBe(mermaid);
    expect(JSON.parse(JSON.stringify(json))).toEqual(json);
    expect(chartToJson(createSessionMachine() as unknown as AnyStateMachine)).toEqual(chartToJson(createSessionMachine() as unknown as AnyStateMachine));
  });

  it('has every state node in the JSON, with its type and description', () => {
    const nodes = allStateNodes(machine);
    const inJson = jsonStates(json.root);
    expect(inJson.map((s) => s.id)).toEqual(nodes.map((n) => n.id));
    expect(inJson.map((s) => s.type)).toEqual(nodes.map((n) => n.type));
    for (const state of inJson) {
      const node = machine.getStateNodeById(state.id);
      expect(state.description).toBe(node.description);
    }
  });

  it('has every state node in the Mermaid diagram, declared once under its sanitized id', () => {
    const { declared } = parseMermaid(mermaid);
    for (const node of allStateNodes(machine)) {
      if (node.path.length === 0) continue; // the root is the diagram itself
      expect(declared.get(mermaidId(node.path)), `${node.id} missing from ${name}.mmd`).toBe(node.path[node.path.length - 1]);
    }
  });

  it('points every transition at a state of the chart and names only implemented guards, delays and actors', () => {
    const ids = new Set(jsonStates(json.root).map((s) => s.id));
    const impl = machine.implementations as { guards: object; delays: object; actors: object; actions: object };
    for (const state of jsonStates(json.root)) {
      for (const t of jsonTransitions(state)) {
        for (const target of t.targets) expect(ids.has(target), `${state.id} → ${target}`).toBe(true);
        for (const guard of (t.guard ?? '').replace(/stateIn\([^)]*\)/g, '').match(/[A-Za-z][A-Za-z0-9]*/g) ?? []) {
          if (guard === 'inline') continue;
          expect(Object.keys(impl.guards), `guard ${guard} in ${state.id}`).toContain(guard);
        }
        for (const action of t.actions) {
          if (action === 'inline' || action.startsWith('xstate.')) continue;
          expect(Object.keys(impl.actions), `action ${action} in ${state.id}`).toContain(action);
        }
      }
      // A misspelled delay name is no type error and fires at once (anchors.md): catch it here.
      for (const t of state.after) if (typeof t.delay === 'string') expect(Object.keys(impl.delays), `delay ${t.delay} in ${state.id}`).toContain(t.delay);
      for (const inv of state.invoke) {
        expect(Object.keys(impl.actors), `actor ${inv.src} in ${state.id}`).toContain(inv.src);
        expect(inv.id, `invoke in ${state.id} has no explicit id`).toBe(inv.src);
      }
      for (const action of [...state.entry, ...state.exit]) {
        if (action === 'inline' || action.startsWith('xstate.')) continue;
        expect(Object.keys(impl.actions), `action ${action} in ${state.id}`).toContain(action);
      }
    }
  });

  it('draws one edge per transition target, labelled with its trigger and guard', () => {
    const { edges } = parseMermaid(mermaid);
    const drawn = edges.filter((e) => e.from !== '[*]' && e.to !== '[*]');
    const expected = jsonStates(json.root).reduce((sum, s) => sum + jsonTransitions(s).reduce((n, t) => n + t.targets.length, 0), 0);
    expect(drawn.length).toBe(expected);
    for (const state of jsonStates(json.root)) {
      for (const t of state.on.filter((x) => x.targets.length > 0)) {
        const text = t.guard ? `${t.event} [${t.guard}]` : t.event;
        expect(drawn.some((e) => e.label === text || e.label === `${text} (reenter)`), `no edge labelled "${text}"`).toBe(true);
      }
      for (const t of state.after) expect(drawn.some((e) => e.label.startsWith(`after ${t.delay}`))).toBe(true);
      for (const t of state.always) expect(drawn.some((e) => e.label === (t.guard ? `always [${t.guard}]` : 'always'))).toBe(true);
    }
  });

  it('marks the initial state of every compound state and ends every final state', () => {
    const { edges } = parseMermaid(mermaid);
    for (const state of jsonStates(json.root)) {
      if (state.initial) {
        const initialPath = machine.getStateNodeById(state.initial).path;
        expect(edges.some((e) => e.from === '[*]' && e.to === mermaidId(initialPath)), `no [*] --> for ${state.id}`).toBe(true);
      }
      if (state.type === 'final') {
        const path = machine.getStateNodeById(state.id).path;
        expect(edges.some((e) => e.from === mermaidId(path) && e.to === '[*]'), `no --> [*] for ${state.id}`).toBe(true);
      }
    }
  });
});

describe('the exporter on a synthetic machine', () => {
  const machine = setup({
    types: { events: {} as { type: 'SOCKET.OPENED' } | { type: 'GO' } | { type: 'RESET' } },
    guards: { ready: () => true, other: () => false },
    delays: { wait: 100 },
    actions: { note: () => {} },
  }).createMachine({
    id: 'toy',
    initial: 'socket-open',
    on: { RESET: { target: '.with space', actions: 'note' } },
    states: {
      'socket-open': {
        description: 'A key with a dash.',
        on: {
          'SOCKET.OPENED': [
            { guard: not('ready'), target: 'with space' },
            { guard: and(['ready', 'other']), target: 'both' },
            { guard: stateIn('#toy.both'), target: 'socket-open', reenter: true },
          ],
          GO: { actions: 'note' },
        },
        after: { wait: 'with space', 250: 'done' },
      },
      'with space': { always: { guard: ({ context }) => context === undefined, target: 'done' } },
      both: {
        type: 'parallel',
        states: {
          left: { initial: 'a', states: { a: {}, b: {} } },
          right: { initial: 'c', states: { c: { on: { GO: '#toy.both.left.b' } } } },
        },
      },
      done: { type: 'final' },
    },
  }) as unknown as AnyStateMachine;

  it('names built-in and inline guards, numeric and named delays, reenter, and in-place handlers', () => {
    const json: ChartJson = chartToJson(machine);
    const open = json.root.states[0]!;
    expect(open.on.map((t) => [t.event, t.guard ?? null, t.targets, t.reenter ?? false])).toEqual([
      ['GO', null, [], false],
      ['SOCKET.OPENED', '!ready', ['toy.with space'], false],
      ['SOCKET.OPENED', '(ready && other)', ['toy.both'], false],
      ['SOCKET.OPENED', 'stateIn(toy.both)', ['toy.socket-open'], true],
    ]);
    expect(open.after.map((t) => t.delay)).toEqual([250, 'wait']);
    expect(json.root.states[1]!.always[0]!.guard).toBe('inline');
    expect(json.events).toEqual(['GO', 'RESET', 'SOCKET.OPENED']);
  });

  it('sanitizes ids consistently and renders regions, root transitions and finals', () => {
    const mermaid = chartToMermaid(machine);
    const { declared, edges } = parseMermaid(mermaid);
    expect(declared.get('socket_open')).toBe('socket-open');
    expect(declared.get('with_space')).toBe('with space');
    expect(mermaid).toContain('socket_open --> with_space : SOCKET.OPENED [!ready]');
    expect(mermaid).toContain('socket_open --> socket_open : SOCKET.OPENED [stateIn(toy.both)] (reenter)');
    expect(mermaid).toContain('socket_open --> done : after 250 ms');
    expect(mermaid).toContain('with_space --> done : always [inline]');
    expect(mermaid).toContain('both_right_c --> both_left_b : GO');
    expect(mermaid).toMatch(/state "left" as both_left \{[\s\S]*\n {4}--\n {4}state "right" as both_right \{/);
    expect(mermaid).toContain('any_state --> with_space : RESET');
    expect(mermaid).toContain('%% socket_open: GO');
    expect(edges).toContainEqual({ from: 'done', to: '[*]', label: '' });
  });

  it('refuses two states that would share a Mermaid id', () => {
    const clash = createMachine({ id: 'clash', initial: 'a_b', states: { a_b: {}, a: { initial: 'b', states: { b: {} } } } });
    expect(() => chartToMermaid(clash as unknown as AnyStateMachine)).toThrow(/both map to Mermaid id a_b/);
  });
});
