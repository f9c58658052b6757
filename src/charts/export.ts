import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnyStateMachine } from 'xstate';
import { createCredentialMachine, createEndpointMachine, createSessionMachine, createTurnMachine } from '../../machines/index.js';

/**
 * Chart export: the JSON and Mermaid definitions of the four charts, generated from the
 * machines themselves (their `root` state nodes), never drawn by hand.
 *
 * `docs/charts/` holds the output; `test/charts/export.test.ts` fails when it is stale.
 * Regenerate with `npm run charts` (or `node --import tsx src/charts/write.ts`).
 */

/** The kind of a state node, as xstate reports it. */
export type StateTypeJson = 'atomic' | 'compound' | 'parallel' | 'final' | 'history';

/** One transition candidate. Candidates of one trigger keep xstate's priority order (first enabled wins). */
export interface TransitionJson {
  /** Name of the guard: a named guard, `stateIn(...)`, `!g`, `a && b`, `a || b`, or `inline` for an anonymous function. */
  readonly guard?: string;
  /** Full state ids (`endpoint.probing.awaitingProbe`). Empty: handled in place, no state change. */
  readonly targets: readonly string[];
  /** True when the transition exits and re-enters its source (`reenter: true`). */
  readonly reenter?: true;
  /** Action names in order (`xstate.assign`-style names for inline built-ins, `inline` for anonymous functions). */
  readonly actions: readonly string[];
  readonly description?: string;
}

/** A transition triggered by an event. */
export interface EventTransitionJson extends TransitionJson {
  readonly event: string;
}

/** A delayed (`after`) transition: `delay` is the name of a delay from `setup({ delays })`, or a number of ms. */
export interface DelayedTransitionJson extends TransitionJson {
  readonly delay: string | number;
}

/** An invoked actor and what its completion does. */
export interface InvokeJson {
  readonly id: string;
  /** The actor's name in `setup({ actors })`, or `inline`. */
  readonly src: string;
  readonly onDone: readonly TransitionJson[];
  readonly onError: readonly TransitionJson[];
  readonly onSnapshot: readonly TransitionJson[];
}

/** One state node. Children are in document order; `on` is sorted by event name. */
export interface StateJson {
  /** Full state id, e.g. `session.active.connection.socket.connecting`. */
  readonly id: string;
  readonly key: string;
  readonly type: StateTypeJson;
  readonly description?: string;
  /** Full id of the initial child, for compound states. */
  readonly initial?: string;
  readonly entry: readonly string[];
  readonly exit: readonly string[];
  readonly tags: readonly string[];
  readonly on: readonly EventTransitionJson[];
  readonly after: readonly DelayedTransitionJson[];
  readonly always: readonly TransitionJson[];
  readonly invoke: readonly InvokeJson[];
  /** `onDone` of a compound or parallel state (its `xstate.done.state.*` event). */
  readonly onDone: readonly TransitionJson[];
  readonly states: readonly StateJson[];
}

/** A whole chart: stable, serializable, diffable. */
export interface ChartJson {
  /** The machine's id. */
  readonly id: string;
  /** Every event type the chart accepts somewhere, sorted (internal `xstate.*` events excluded). */
  readonly events: readonly string[];
  readonly root: StateJson;
}

/** The names of the four charts, in the order they are documented (the turn chart runs as the session chart's child). */
export const CHART_NAMES = ['session', 'turn', 'endpoint', 'credential'] as const;
export type ChartName = (typeof CHART_NAMES)[number];

/** Both renderings of one chart. */
export interface ExportedChart {
  readonly json: ChartJson;
  readonly mermaid: string;
}

// ---------------------------------------------------------------------------------------------
// Reading the machine. xstate's StateNode is generic over everything; the exporter only needs
// this structural slice of it, which is what xstate 5.33 exposes at run time.

interface TransitionDef {
  readonly eventType: string;
  readonly guard?: unknown;
  readonly target?: readonly NodeDef[];
  readonly reenter?: boolean;
  readonly actions?: readonly unknown[];
  readonly delay?: string | number;
  readonly description?: string;
}

interface InvokeDef {
  readonly id: string;
  readonly src: unknown;
}

interface NodeDef {
  readonly id: string;
  readonly key: string;
  readonly path: readonly string[];
  readonly type: StateTypeJson;
  readonly order: number;
  readonly description?: string;
  readonly tags: readonly string[];
  readonly parent?: NodeDef;
  readonly states: Readonly<Record<string, NodeDef>>;
  readonly config: { readonly entry?: unknown; readonly exit?: unknown };
  readonly initial?: { readonly target: readonly NodeDef[] };
  readonly transitions: ReadonlyMap<string, readonly TransitionDef[]>;
  readonly always?: readonly TransitionDef[];
  readonly after: readonly TransitionDef[];
  readonly invoke: readonly InvokeDef[];
}

function rootOf(machine: AnyStateMachine): NodeDef {
  return machine.root as unknown as NodeDef;
}

function childrenOf(node: NodeDef): NodeDef[] {
  return Object.values(node.states).sort((a, b) => a.order - b.order);
}

/** Every state node of a machine, root first, in document order. */
export function allStateNodes(machine: AnyStateMachine): { readonly id: string; readonly path: readonly string[]; readonly type: StateTypeJson }[] {
  const out: NodeDef[] = [];
  const walk = (node: NodeDef): void => {
    out.push(node);
    for (const child of childrenOf(node)) walk(child);
  };
  walk(rootOf(machine));
  return out.map((node) => ({ id: node.id, path: [...node.path], type: node.type }));
}

function toArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** A readable name for a guard as stored on a transition. */
export function guardName(guard: unknown): string | undefined {
  if (guard === undefined || guard === null) return undefined;
  if (typeof guard === 'string') return guard;
  if (typeof guard === 'function') {
    const builtin = guard as { name?: string; check?: unknown; guards?: unknown[]; stateValue?: unknown };
    if (builtin.check !== undefined) {
      if (builtin.stateValue !== undefined) {
        const value = builtin.stateValue;
        return `stateIn(${typeof value === 'string' ? value.replace(/^#/, '') : JSON.stringify(value)})`;
      }
      const parts = (builtin.guards ?? []).map((g) => guardName(g) ?? 'inline');
      if (builtin.name === 'not') return `!${parts[0] ?? 'inline'}`;
      if (builtin.name === 'and') return `(${parts.join(' && ')})`;
      if (builtin.name === 'or') return `(${parts.join(' || ')})`;
    }
    return 'inline';
  }
  if (typeof guard === 'object' && typeof (guard as { type?: unknown }).type === 'string') return (guard as { type: string }).type;
  return 'inline';
}

/** A readable name for an action as stored on a transition or a state's entry/exit. */
export function actionName(action: unknown): string {
  if (typeof action === 'string') return action;
  if (action !== null && (typeof action === 'object' || typeof action === 'function')) {
    const type = (action as { type?: unknown }).type;
    if (typeof type === 'string') return type;
  }
  return 'inline';
}

function transitionToJson(transition: TransitionDef): TransitionJson {
  const guard = guardName(transition.guard);
  return {
    ...(guard === undefined ? {} : { guard }),
    targets: (transition.target ?? []).map((target) => target.id),
    ...(transition.reenter ? { reenter: true as const } : {}),
    actions: toArray(transition.actions).map(actionName),
    ...(transition.description === undefined ? {} : { description: transition.description }),
  };
}

const DONE_ACTOR = 'xstate.done.actor.';
const ERROR_ACTOR = 'xstate.error.actor.';
const SNAPSHOT = 'xstate.snapshot.';

function stateToJson(node: NodeDef): StateJson {
  const afterEvents = new Set(node.after.map((t) => t.eventType));
  const invokeEvents = new Set(node.invoke.flatMap((inv) => [DONE_ACTOR + inv.id, ERROR_ACTOR + inv.id, SNAPSHOT + inv.id]));
  const doneStateEvent = `xstate.done.state.${node.id}`;
  const on: EventTransitionJson[] = [];
  for (const [event, candidates] of node.transitions) {
    if (afterEvents.has(event) || invokeEvents.has(event) || event === doneStateEvent) continue;
    for (const candidate of candidates) on.push({ event, ...transitionToJson(candidate) });
  }
  // Stable sort: by event name; the candidates of one event keep their priority order.
  on.sort((a, b) => (a.event < b.event ? -1 : a.event > b.event ? 1 : 0));
  const initialTarget = node.type === 'compound' ? node.initial?.target[0] : undefined;
  const candidatesOf = (event: string): TransitionJson[] => (node.transitions.get(event) ?? []).map(transitionToJson);
  return {
    id: node.id,
    key: node.key,
    type: node.type,
    ...(node.description === undefined ? {} : { description: node.description }),
    ...(initialTarget === undefined ? {} : { initial: initialTarget.id }),
    entry: toArray(node.config.entry).map(actionName),
    exit: toArray(node.config.exit).map(actionName),
    tags: [...node.tags],
    on,
    after: node.after.map((t) => ({ delay: t.delay ?? '?', ...transitionToJson(t) })),
    always: (node.always ?? []).map(transitionToJson),
    invoke: node.invoke.map((inv) => ({
      id: inv.id,
      src: typeof inv.src === 'string' ? inv.src : 'inline',
      onDone: candidatesOf(DONE_ACTOR + inv.id),
      onError: candidatesOf(ERROR_ACTOR + inv.id),
      onSnapshot: candidatesOf(SNAPSHOT + inv.id),
    })),
    onDone: candidatesOf(doneStateEvent),
    states: childrenOf(node).map(stateToJson),
  };
}

/** A stable, serializable description of a chart, read from `machine.root`. */
export function chartToJson(machine: AnyStateMachine): ChartJson {
  const events = [...new Set((machine.events as string[]).filter((event) => !event.startsWith('xstate.')))].sort();
  return { id: machine.id, events, root: stateToJson(rootOf(machine)) };
}

// ---------------------------------------------------------------------------------------------
// Mermaid.

/** Key of the pseudo-state from which the machine root's own transitions are drawn. */
const ANY_STATE_KEY = 'any_state';

const MERMAID_RESERVED = new Set(['state', 'note', 'end', 'as', 'direction', 'classdef', 'class', 'style', 'click', 'default', 'hide', 'scale', 'left', 'right', 'of']);

/**
 * The Mermaid id of a state node: its path joined with `_`, every character outside
 * `[A-Za-z0-9_]` replaced by `_` (so `SOCKET.OPENED`-like keys and dots never reach an id).
 * The root has no id: it is the diagram itself.
 */
export function mermaidId(path: readonly string[]): string {
  const id = path.map((segment) => segment.replace(/[^A-Za-z0-9_]/g, '_')).join('_');
  return MERMAID_RESERVED.has(id.toLowerCase()) ? `${id}_` : id;
}

/** Text that is safe after the `:` of a Mermaid transition or inside a quoted state name. */
function mermaidText(text: string): string {
  // `#` and `;` start entity codes and statement breaks; quotes, braces and `%` confuse the parser.
  return text.replace(/[#;"{}%:]/g, '_').replace(/\s+/g, ' ').trim();
}

function label(trigger: string, transition: TransitionJson): string {
  const parts = [trigger];
  if (transition.guard !== undefined) parts.push(`[${transition.guard}]`);
  if (transition.reenter) parts.push('(reenter)');
  return mermaidText(parts.join(' '));
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly label: string;
}

interface InPlace {
  readonly state: string;
  readonly label: string;
}

/** The transitions of one state, flattened into labelled candidates (event, after, always, invoke, done). */
function triggersOf(state: StateJson): { readonly trigger: string; readonly transition: TransitionJson }[] {
  const out: { trigger: string; transition: TransitionJson }[] = [];
  for (const t of state.on) out.push({ trigger: t.event, transition: t });
  for (const t of state.after) out.push({ trigger: `after ${typeof t.delay === 'number' ? `${t.delay} ms` : t.delay}`, transition: t });
  for (const t of state.always) out.push({ trigger: 'always', transition: t });
  for (const inv of state.invoke) {
    for (const t of inv.onDone) out.push({ trigger: `onDone ${inv.id}`, transition: t });
    for (const t of inv.onError) out.push({ trigger: `onError ${inv.id}`, transition: t });
    for (const t of inv.onSnapshot) out.push({ trigger: `onSnapshot ${inv.id}`, transition: t });
  }
  for (const t of state.onDone) out.push({ trigger: 'onDone', transition: t });
  return out;
}

function pathOf(chart: ChartJson, id: string): string[] {
  // Ids are `machine.key.key…` unless a state was given its own id; look the node up to be safe.
  const found = findState(chart.root, id);
  if (!found) throw new Error(`chart ${chart.id}: transition to unknown state ${id}`);
  return found.path;
}

function findState(state: StateJson, id: string, path: string[] = []): { state: StateJson; path: string[] } | undefined {
  if (state.id === id) return { state, path };
  for (const child of state.states) {
    const hit = findState(child, id, [...path, child.key]);
    if (hit) return hit;
  }
  return undefined;
}

/**
 * A Mermaid `stateDiagram-v2` of the chart: composite states for compound nodes, `--`
 * between parallel regions, `[*] -->` for initial states, `--> [*]` for final ones, and
 * transitions labelled `EVENT [guard]`, `after delayName`, `always [guard]`, `onDone id`.
 *
 * State ids are {@link mermaidId} paths; the state's own key is its display name. Descriptions
 * are `%%` comments. Transitions without a target (events handled in place) do not change the
 * state, so they are listed as comments instead of drawn as loops. Transitions declared on the
 * machine root apply in every state: they are drawn once, from a dashed pseudo-state `any state`.
 */
export function chartToMermaid(machine: AnyStateMachine): string {
  const chart = chartToJson(machine);
  const lines: string[] = ['stateDiagram-v2', `  %% ${chart.id}: generated from the machine by src/charts/export.ts. Do not edit: run npm run charts.`];
  const edges: Edge[] = [];
  const inPlace: InPlace[] = [];
  const declared = new Map<string, string>();

  const declare = (path: readonly string[], stateId: string): string => {
    const id = mermaidId(path);
    const clash = declared.get(id);
    if (clash !== undefined && clash !== stateId) throw new Error(`chart ${chart.id}: states ${clash} and ${stateId} both map to Mermaid id ${id}`);
    declared.set(id, stateId);
    return id;
  };

  const collectEdges = (state: StateJson, path: readonly string[], sources: readonly string[]): void => {
    for (const { trigger, transition } of triggersOf(state)) {
      const text = label(trigger, transition);
      if (transition.targets.length === 0) {
        inPlace.push({ state: path.length === 0 ? chart.id : mermaidId(path), label: text });
        continue;
      }
      for (const target of transition.targets) {
        const to = mermaidId(pathOf(chart, target));
        for (const from of sources) edges.push({ from, to, label: text });
      }
    }
  };

  const emit = (state: StateJson, path: readonly string[], indent: string): void => {
    const children = state.states;
    if (state.type === 'parallel') {
      children.forEach((region, index) => {
        if (index > 0) lines.push(`${indent}--`);
        emitState(region, [...path, region.key], indent);
      });
      return;
    }
    if (state.initial !== undefined) lines.push(`${indent}[*] --> ${mermaidId(pathOf(chart, state.initial))}`);
    for (const child of children) emitState(child, [...path, child.key], indent);
    for (const child of children) if (child.type === 'final') lines.push(`${indent}${mermaidId([...path, child.key])} --> [*]`);
  };

  const emitState = (state: StateJson, path: readonly string[], indent: string): void => {
    const id = declare(path, state.id);
    if (state.description !== undefined) lines.push(`${indent}%% ${id}: ${state.description.replace(/\s+/g, ' ')}`);
    const name = `"${mermaidText(state.key)}"`;
    if (state.states.length === 0) {
      lines.push(`${indent}state ${name} as ${id}`);
    } else {
      lines.push(`${indent}state ${name} as ${id} {`);
      emit(state, path, `${indent}  `);
      lines.push(`${indent}}`);
    }
    collectEdges(state, path, [id]);
  };

  emit(chart.root, [], '  ');
  // The root's own transitions apply in every state: draw them once, from a pseudo-state.
  if (triggersOf(chart.root).some(({ transition }) => transition.targets.length > 0)) {
    const any = declare([ANY_STATE_KEY], `${chart.id}(any state)`);
    lines.push(`  %% ${any}: not a state. Transitions declared on the machine itself, taken from whatever state the chart is in.`);
    lines.push(`  state "any state" as ${any}`, `  classDef anyState stroke-dasharray: 5 5`, `  class ${any} anyState`);
    collectEdges(chart.root, [], [any]);
  }

  if (edges.length > 0) lines.push('', '  %% Transitions');
  for (const edge of edges) lines.push(`  ${edge.from} --> ${edge.to} : ${edge.label}`);
  if (inPlace.length > 0) lines.push('', '  %% Handled in place (no state change)');
  for (const entry of inPlace) lines.push(`  %% ${entry.state}: ${entry.label}`);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// The four charts and the docs.

const SUMMARIES: Record<ChartName, string> = {
  session: "One per gateway session, owning its connection: credentials, the endpoint's permission, the upgrade, the socket, HTTP fallback and sign-in required. It runs the turn chart as its child `turn` and tells it the session's transport.",
  turn: "One per session, the session chart's child, one turn at a time: the transport of each attempt (at once on an open socket or a known cooldown, else within the upgrade budget), one move to HTTP before the first event, one refresh on 401; it tells the facade with `turn.send` and `turn.ended`.",
  endpoint: 'One per endpoint key (provider + model + URL + account), shared by every session: holds the cooldown and grants the half-open probe to one session at a time.',
  credential: 'One per credential source, shared by every session that uses it: single-flight refresh, proactive refresh before expiry, permanent refusal parks it until a person signs in.',
};

function machinesByName(): Record<ChartName, AnyStateMachine> {
  return {
    session: createSessionMachine() as unknown as AnyStateMachine,
    turn: createTurnMachine() as unknown as AnyStateMachine,
    endpoint: createEndpointMachine() as unknown as AnyStateMachine,
    credential: createCredentialMachine() as unknown as AnyStateMachine,
  };
}

/** JSON and Mermaid of the session, turn, endpoint and credential charts, built from the machines. */
export function exportCharts(): Record<ChartName, ExportedChart> {
  const machines = machinesByName();
  const out = {} as Record<ChartName, ExportedChart>;
  for (const name of CHART_NAMES) out[name] = { json: chartToJson(machines[name]), mermaid: chartToMermaid(machines[name]) };
  return out;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
}

function stateRows(state: StateJson, depth: number, rows: string[]): void {
  if (depth > 0) {
    const inPlace = state.on.filter((t) => t.targets.length === 0).map((t) => `${t.event}${t.guard ? ` [${t.guard}]` : ''}`);
    const name = `${'&nbsp;&nbsp;'.repeat(depth - 1)}\`${state.key}\``;
    rows.push(`| ${name} | ${state.type} | ${cell(state.description ?? '')} | ${cell(inPlace.join(', '))} |`);
  }
  for (const child of state.states) stateRows(child, depth + 1, rows);
}

/** The files `writeCharts` writes, by file name, as strings. */
export function renderChartFiles(): Record<string, string> {
  const charts = exportCharts();
  const files: Record<string, string> = {};
  const readme: string[] = [
    '# Charts',
    '',
    'Generated from `machines/*.ts` by `src/charts/export.ts`: do not edit by hand. Run `npm run charts` after changing a chart;',
    '`test/charts/export.test.ts` fails while these files are stale. `docs/design.md` explains every state.',
    '',
    'Each chart is here as JSON (`<name>.json`: states, descriptions, transitions with guards and targets, delays, invokes) and as',
    'Mermaid (`<name>.mmd`). In the diagrams, a transition reads `EVENT [guard]`; `after name` is a delayed transition named in',
    "the chart's `delays`; `always [guard]` is eventless; `onDone id` / `onError id` end an invoked actor. Events handled without",
    'leaving a state are in the last column of the tables, not drawn.',
    '',
  ];
  for (const name of CHART_NAMES) {
    const { json, mermaid } = charts[name];
    files[`${name}.json`] = `${JSON.stringify(json, null, 2)}\n`;
    files[`${name}.mmd`] = mermaid;
    const rows: string[] = [];
    stateRows(json.root, 0, rows);
    readme.push(
      `## ${name}`,
      '',
      `${SUMMARIES[name]} Source: \`machines/${name}.ts\`; files: [${name}.json](${name}.json), [${name}.mmd](${name}.mmd).`,
      '',
      '```mermaid',
      mermaid.trimEnd(),
      '```',
      '',
      '| state | type | why it exists | handled in place |',
      '|---|---|---|---|',
      ...rows,
      '',
    );
  }
  files['README.md'] = `${readme.join('\n').trimEnd()}\n`;
  return files;
}

/** Writes `<name>.json`, `<name>.mmd` for each chart and `README.md` into `dir` (default `docs/charts`). Returns the paths written. */
export async function writeCharts(dir = 'docs/charts'): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const [file, text] of Object.entries(renderChartFiles())) {
    const path = join(dir, file);
    await writeFile(path, text, 'utf8');
    written.push(path);
  }
  return written;
}
