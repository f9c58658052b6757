import type { ElkExtendedEdge, ElkNode } from 'elkjs/lib/elk-api.js';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { AnyStateMachine } from 'xstate';
import { chartToJson, type ChartJson, type StateJson, type TransitionJson } from '../charts/export.js';

/**
 * The inspector draws each chart from its definition: states become nested boxes (compound
 * and parallel states contain their children, parallel regions are dashed), transitions become
 * labelled arrows, and ELK (elkjs, run here in Node once per chart) places everything. The page
 * receives plain geometry and never runs a layout itself.
 */

/** A state in a chart's shape. `path` is the dotted key path from the machine (`''` for the machine itself). */
export interface ShapeNode {
  readonly path: string;
  readonly key: string;
  readonly type: 'atomic' | 'compound' | 'parallel' | 'final' | 'history' | 'pseudo';
  readonly description?: string;
  /** The initial child of its parent. */
  readonly initial: boolean;
  readonly children: readonly ShapeNode[];
}

/** A transition to draw: from one state path to another, with the label's lines. */
export interface ShapeEdge {
  readonly source: string;
  readonly target: string;
  readonly lines: readonly string[];
}

/** What a chart is made of, before layout. */
export interface ChartShape {
  /** The name the page knows the chart by (`session`, `endpoint`, `credential`, `stately:…`). */
  readonly name: string;
  /** The machine's id. */
  readonly title: string;
  readonly root: ShapeNode;
  readonly edges: readonly ShapeEdge[];
}

/** A positioned state, in absolute chart coordinates. */
export interface GeoNode {
  readonly path: string;
  readonly key: string;
  /** `initial` is the dot an initial-state arrow starts from (path `<compound>#initial`). */
  readonly type: ShapeNode['type'] | 'initial';
  readonly depth: number;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly initial: boolean;
  /** A region of a parallel state. */
  readonly region: boolean;
  readonly leaf: boolean;
  readonly description?: string;
}

/** A routed transition. */
export interface GeoEdge {
  readonly source: string;
  readonly target: string;
  readonly points: readonly (readonly [number, number])[];
  /** The arrow from a compound state's initial dot to its initial child. */
  readonly initial?: true;
  readonly label?: { readonly x: number; readonly y: number; readonly w: number; readonly h: number; readonly lines: readonly string[] };
}

/** A laid-out chart, as sent to the page. */
export interface ChartGeometry {
  readonly name: string;
  readonly title: string;
  readonly width: number;
  readonly height: number;
  readonly nodes: readonly GeoNode[];
  readonly edges: readonly GeoEdge[];
}

/** Path of the pseudo-state from which a machine's own (root) transitions are drawn. */
export const ANY_STATE_PATH = '*';

// ---------------------------------------------------------------------------------------------
// From the chart export (`src/charts/export.ts`).

function triggersOf(state: StateJson): { trigger: string; transition: TransitionJson }[] {
  const out: { trigger: string; transition: TransitionJson }[] = [];
  for (const t of state.on) out.push({ trigger: t.event, transition: t });
  for (const t of state.after) out.push({ trigger: `after ${typeof t.delay === 'number' ? `${t.delay} ms` : t.delay}`, transition: t });
  for (const t of state.always) out.push({ trigger: 'always', transition: t });
  for (const inv of state.invoke) {
    for (const t of inv.onDone) out.push({ trigger: `done: ${inv.id}`, transition: t });
    for (const t of inv.onError) out.push({ trigger: `error: ${inv.id}`, transition: t });
    for (const t of inv.onSnapshot) out.push({ trigger: `snapshot: ${inv.id}`, transition: t });
  }
  for (const t of state.onDone) out.push({ trigger: 'done', transition: t });
  return out;
}

/** The shape of a chart from its exported JSON. */
export function shapeFromChartJson(name: string, chart: ChartJson): ChartShape {
  const pathById = new Map<string, string>();
  const index = (state: StateJson, path: string): void => {
    pathById.set(state.id, path);
    for (const child of state.states) index(child, path === '' ? child.key : `${path}.${child.key}`);
  };
  index(chart.root, '');

  const edges: ShapeEdge[] = [];
  const build = (state: StateJson, path: string, initial: boolean): ShapeNode => {
    const source = path === '' ? ANY_STATE_PATH : path;
    for (const { trigger, transition } of triggersOf(state)) {
      for (const targetId of transition.targets) {
        const target = pathById.get(targetId);
        if (target === undefined) continue;
        edges.push({ source, target, lines: labelLines(trigger, transition.guard, transition.reenter === true) });
      }
    }
    return {
      path,
      key: path === '' ? chart.id : state.key,
      type: state.type,
      ...(state.description === undefined ? {} : { description: state.description }),
      initial,
      children: state.states.map((child) => build(child, path === '' ? child.key : `${path}.${child.key}`, state.initial === child.id)),
    };
  };
  const root = build(chart.root, '', false);
  return { name, title: chart.id, root: withAnyState(root, edges), edges };
}

/** The shape of a machine, read from its definition. */
export function shapeFromMachine(name: string, machine: AnyStateMachine): ChartShape {
  return shapeFromChartJson(name, chartToJson(machine));
}

function withAnyState(root: ShapeNode, edges: readonly ShapeEdge[]): ShapeNode {
  if (!edges.some((edge) => edge.source === ANY_STATE_PATH)) return root;
  const any: ShapeNode = {
    path: ANY_STATE_PATH,
    key: 'any state',
    type: 'pseudo',
    description: 'Not a state: transitions declared on the machine itself, taken from whatever state it is in.',
    initial: false,
    children: [],
  };
  return { ...root, children: [...root.children, any] };
}

function labelLines(trigger: string, guard: string | undefined, reenter: boolean): string[] {
  const lines = [trigger + (reenter ? ' (re-enter)' : '')];
  if (guard !== undefined) lines.push(`[${guard}]`);
  return lines;
}

// ---------------------------------------------------------------------------------------------
// From a machine config sent by `@statelyai/inspect` (`definition`: the JSON of `machine.config`,
// functions replaced by `{ type: name }`).

interface ConfigNode {
  readonly id?: unknown;
  readonly type?: unknown;
  readonly initial?: unknown;
  readonly description?: unknown;
  readonly states?: Record<string, ConfigNode>;
  readonly on?: Record<string, unknown>;
  readonly after?: Record<string, unknown>;
  readonly always?: unknown;
  readonly invoke?: unknown;
  readonly onDone?: unknown;
}

interface ConfigIndexed {
  readonly config: ConfigNode;
  readonly path: readonly string[];
  readonly parent: ConfigIndexed | undefined;
  readonly children: Map<string, ConfigIndexed>;
}

const MAX_CONFIG_STATES = 400;

/**
 * The shape of a machine from its config object (as `@statelyai/inspect` sends it). Targets are
 * resolved as xstate does: `#id`, `.child`, `sibling`, `sibling.child`; unresolvable ones are skipped.
 * @throws Error when `config` is not an object or has more than 400 states
 */
export function shapeFromConfig(name: string, config: unknown): ChartShape {
  if (typeof config !== 'object' || config === null) throw new Error('definition is not an object');
  const machineId = typeof (config as ConfigNode).id === 'string' ? ((config as ConfigNode).id as string) : '(machine)';
  const byId = new Map<string, ConfigIndexed>();
  let count = 0;
  const index = (node: ConfigNode, path: string[], parent: ConfigIndexed | undefined): ConfigIndexed => {
    if (++count > MAX_CONFIG_STATES) throw new Error(`definition has more than ${MAX_CONFIG_STATES} states`);
    const indexed: ConfigIndexed = { config: node, path, parent, children: new Map() };
    byId.set(typeof node.id === 'string' && path.length > 0 ? node.id : [machineId, ...path].join('.'), indexed);
    for (const [key, child] of Object.entries(node.states ?? {})) {
      if (typeof child === 'object' && child !== null) indexed.children.set(key, index(child, [...path, key], indexed));
    }
    return indexed;
  };
  const root = index(config as ConfigNode, [], undefined);

  const descend = (from: ConfigIndexed | undefined, keys: readonly string[]): ConfigIndexed | undefined => {
    let node = from;
    for (const key of keys) node = node?.children.get(key);
    return node;
  };
  const resolve = (from: ConfigIndexed, target: string): ConfigIndexed | undefined => {
    if (target.startsWith('#')) {
      const id = target.slice(1);
      const exact = byId.get(id);
      if (exact) return exact;
      const parts = id.split('.');
      for (let cut = parts.length - 1; cut > 0; cut--) {
        const base = byId.get(parts.slice(0, cut).join('.'));
        if (base) return descend(base, parts.slice(cut));
      }
      return undefined;
    }
    if (target.startsWith('.')) return descend(from, target.slice(1).split('.'));
    return descend(from.parent ?? from, target.split('.'));
  };

  const edges: ShapeEdge[] = [];
  const addTransitions = (from: ConfigIndexed, trigger: string, spec: unknown): void => {
    for (const candidate of Array.isArray(spec) ? spec : [spec]) {
      let targets: unknown;
      let guard: string | undefined;
      let reenter = false;
      if (typeof candidate === 'string') targets = candidate;
      else if (typeof candidate === 'object' && candidate !== null) {
        const c = candidate as { target?: unknown; guard?: unknown; reenter?: unknown };
        targets = c.target;
        guard = typeof c.guard === 'string' ? c.guard : typeof (c.guard as { type?: unknown } | undefined)?.type === 'string' ? ((c.guard as { type: string }).type) : c.guard === undefined ? undefined : 'inline';
        reenter = c.reenter === true;
      }
      for (const target of Array.isArray(targets) ? targets : targets === undefined ? [] : [targets]) {
        if (typeof target !== 'string') continue;
        const to = resolve(from, target);
        if (!to) continue;
        edges.push({ source: from.path.length === 0 ? ANY_STATE_PATH : from.path.join('.'), target: to.path.join('.'), lines: labelLines(trigger, guard, reenter) });
      }
    }
  };

  const build = (node: ConfigIndexed, initial: boolean): ShapeNode => {
    const c = node.config;
    for (const [event, spec] of Object.entries(c.on ?? {})) addTransitions(node, event, spec);
    for (const [delay, spec] of Object.entries(c.after ?? {})) addTransitions(node, `after ${/^\d+$/.test(delay) ? `${delay} ms` : delay}`, spec);
    if (c.always !== undefined) addTransitions(node, 'always', c.always);
    if (c.onDone !== undefined) addTransitions(node, 'done', c.onDone);
    const invokes = Array.isArray(c.invoke) ? c.invoke : c.invoke === undefined ? [] : [c.invoke];
    for (const inv of invokes as { id?: unknown; src?: unknown; onDone?: unknown; onError?: unknown }[]) {
      const id = typeof inv?.id === 'string' ? inv.id : typeof inv?.src === 'string' ? inv.src : 'actor';
      if (inv?.onDone !== undefined) addTransitions(node, `done: ${id}`, inv.onDone);
      if (inv?.onError !== undefined) addTransitions(node, `error: ${id}`, inv.onError);
    }
    const children = [...node.children.values()];
    const type: ShapeNode['type'] =
      c.type === 'parallel' ? 'parallel' : c.type === 'final' ? 'final' : c.type === 'history' ? 'history' : children.length > 0 ? 'compound' : 'atomic';
    const initialKey = typeof c.initial === 'string' ? c.initial : children[0]?.path.at(-1);
    return {
      path: node.path.join('.'),
      key: node.path.length === 0 ? machineId : (node.path.at(-1) ?? ''),
      type,
      ...(typeof c.description === 'string' ? { description: c.description } : {}),
      initial,
      children: children.map((child) => build(child, type === 'compound' && child.path.at(-1) === initialKey)),
    };
  };
  const shape = build(root, false);
  return { name, title: machineId, root: withAnyState(shape, edges), edges };
}

// ---------------------------------------------------------------------------------------------
// Layout.

const CHAR_W = 7.2;
const LABEL_CHAR_W = 6.3;
const LABEL_LINE_H = 13;
const LEAF_H = 34;
const TITLE_H = 30;

/**
 * Longest one layout may take, in ms. ELK's layered algorithm is superlinear: a hostile
 * definition can keep it busy for minutes. It runs on a worker thread, so the host's event
 * loop never waits; past this bound the worker is terminated and the layout rejected.
 */
export const LAYOUT_TIMEOUT_MS = 10_000;

// The worker: plain CommonJS, evaluated (no file to find next to built or source code).
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const ELK = require(workerData.elkPath);
const elk = new ELK();
parentPort.on('message', ({ id, graph }) => {
  elk.layout(graph).then(
    (result) => parentPort.postMessage({ id, result }),
    (error) => parentPort.postMessage({ id, error: String((error && error.message) || error) }),
  );
});
`;

interface LayoutJob {
  readonly id: number;
  readonly graph: ElkNode;
  readonly timeoutMs: number;
  readonly resolve: (result: ElkNode) => void;
  readonly reject: (error: Error) => void;
}

/**
 * One worker thread running ELK, started on first use. Jobs run one at a time, each bounded by
 * {@link LAYOUT_TIMEOUT_MS}. The worker is unref'd while idle, so it never holds a process up.
 */
class LayoutWorker {
  private worker: Worker | undefined;
  private readonly queue: LayoutJob[] = [];
  private running: { job: LayoutJob; timer: ReturnType<typeof setTimeout> } | undefined;
  private nextId = 1;

  layout(graph: ElkNode, timeoutMs: number): Promise<ElkNode> {
    return new Promise<ElkNode>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, graph, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { elkPath: elkPath() } });
    worker.on('message', (message: { id: number; result?: ElkNode; error?: string }) => {
      const running = this.running;
      if (!running || running.job.id !== message.id) return;
      clearTimeout(running.timer);
      this.running = undefined;
      if (message.error !== undefined) running.job.reject(new Error(`chart layout failed: ${message.error}`));
      else running.job.resolve(message.result as ElkNode);
      this.pump();
    });
    // Only the current worker's end fails the running job: a terminated stuck one already did.
    worker.on('error', (error) => {
      if (this.worker === worker) this.fail(new Error(`chart layout worker failed: ${error.message}`));
    });
    worker.on('exit', () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.fail(new Error('chart layout worker exited'));
    });
    this.worker = worker;
    return worker;
  }

  private fail(error: Error): void {
    const running = this.running;
    if (!running) return;
    clearTimeout(running.timer);
    this.running = undefined;
    running.job.reject(error);
    this.pump();
  }

  private pump(): void {
    if (this.running) return;
    const job = this.queue.shift();
    if (!job) {
      this.worker?.unref();
      return;
    }
    let worker: Worker;
    try {
      worker = this.start();
    } catch (error) {
      job.reject(error instanceof Error ? error : new Error(String(error)));
      this.pump();
      return;
    }
    worker.ref();
    const timer = setTimeout(() => {
      // A layout past its bound: the worker is the only way to stop ELK. The next job starts a new one.
      const stuck = this.worker;
      this.worker = undefined;
      this.fail(new Error(`chart layout took longer than ${job.timeoutMs} ms and was stopped`));
      void stuck?.terminate();
    }, job.timeoutMs);
    timer.unref();
    this.running = { job, timer };
    worker.postMessage({ id: job.id, graph: job.graph });
  }
}

let elkFile: string | undefined;
/** Where elkjs is installed; a clear error when it is not (it is only needed for the inspector's charts). */
function elkPath(): string {
  if (elkFile) return elkFile;
  try {
    elkFile = createRequire(import.meta.url).resolve('elkjs/lib/elk.bundled.js');
  } catch {
    throw new Error("the inspector's chart layout needs the package elkjs, which is not installed: npm install elkjs");
  }
  return elkFile;
}

const layoutWorker = new LayoutWorker();

const NODE_PREFIX = 'n:';

/** Options of every graph ELK lays out on its own (the chart, and each region of a separated parallel state). */
const COMMON_OPTIONS: Record<string, string> = {
  'elk.algorithm': 'layered',
  'elk.direction': 'DOWN',
  'elk.edgeRouting': 'ORTHOGONAL',
  'elk.json.edgeCoords': 'ROOT',
  'elk.json.shapeCoords': 'ROOT',
  'elk.spacing.nodeNode': '26',
  'elk.layered.spacing.nodeNodeBetweenLayers': '34',
  'elk.spacing.edgeNode': '14',
  'elk.spacing.edgeEdge': '10',
  'elk.spacing.edgeLabel': '3',
  'elk.layered.spacing.edgeNodeBetweenLayers': '14',
  'elk.layered.spacing.edgeEdgeBetweenLayers': '8',
  'elk.layered.considerModelOrder.strategy': 'NODES_AND_EDGES',
  'elk.layered.nodePlacement.strategy': 'NETWORK_SIMPLEX',
  'elk.edgeLabels.placement': 'CENTER',
};

/**
 * Parallel states whose regions only have transitions inside themselves are laid out on their
 * own, regions stacked (ELK would otherwise put them side by side, which makes a wide chart).
 */
function separableParallels(root: ShapeNode, edges: readonly ShapeEdge[]): Set<string> {
  const out = new Set<string>();
  const inside = (path: string, container: string): boolean => container === '' ? path !== ANY_STATE_PATH : path.startsWith(`${container}.`);
  const regionOf = (path: string, container: string): string => {
    const rest = container === '' ? path : path.slice(container.length + 1);
    return rest.split('.')[0] ?? '';
  };
  const visit = (node: ShapeNode): void => {
    if (node.type === 'parallel' && node.path !== '') {
      const crossing = edges.some((edge) => {
        const a = inside(edge.source, node.path);
        const b = inside(edge.target, node.path);
        if (a !== b) return true;
        return a && b && regionOf(edge.source, node.path) !== regionOf(edge.target, node.path);
      });
      if (!crossing) out.add(node.path);
    }
    for (const child of node.children) visit(child);
  };
  visit(root);
  return out;
}

/** Suffix of the id of the dot an initial-state arrow starts from (`<compound path>#initial`). */
export const INITIAL_DOT = '#initial';
const DOT_SIZE = 12;

function elkNode(node: ShapeNode, separate: ReadonlySet<string>, parentSeparated = false, priority = 0): ElkNode {
  const id = NODE_PREFIX + node.path;
  const titleWidth = node.key.length * CHAR_W + 40;
  const ordered: Record<string, string> = priority > 0 ? { 'elk.priority': String(priority) } : {};
  if (node.children.length === 0) {
    return { id, width: Math.max(96, Math.ceil(titleWidth)), height: node.type === 'pseudo' ? 28 : LEAF_H, ...(priority > 0 ? { layoutOptions: ordered } : {}) };
  }
  const separated = separate.has(node.path);
  const children = node.children.map((child, index) => elkNode(child, separate, separated, separated ? node.children.length - index : 0));
  const edges: ElkExtendedEdge[] = [];
  const initial = node.type === 'compound' ? node.children.find((child) => child.initial) : undefined;
  if (initial) {
    // The dot and arrow of the initial state: also tells ELK where the chart starts, so the initial state sits on top.
    const dot = `${id}${INITIAL_DOT}`;
    children.unshift({ id: dot, width: DOT_SIZE, height: DOT_SIZE });
    edges.push({ id: `i${id}`, sources: [dot], targets: [NODE_PREFIX + initial.path] });
  }
  return {
    id,
    layoutOptions: {
      'elk.padding': `[top=${TITLE_H + 6},left=14,bottom=14,right=14]`,
      'elk.nodeSize.constraints': 'MINIMUM_SIZE',
      'elk.nodeSize.minimum': `(${Math.ceil(titleWidth)},${TITLE_H + 20})`,
      ...ordered,
      ...(separated
        ? { ...COMMON_OPTIONS, 'elk.hierarchyHandling': 'SEPARATE_CHILDREN', 'elk.algorithm': 'org.eclipse.elk.box', 'elk.box.packingMode': 'SIMPLE', 'elk.aspectRatio': '0.05', 'elk.spacing.nodeNode': '18' }
        : {}),
      ...(parentSeparated ? { ...COMMON_OPTIONS, 'elk.hierarchyHandling': 'INCLUDE_CHILDREN' } : {}),
    },
    children,
    edges,
  };
}

function ancestors(path: string): string[] {
  if (path === '' || path === ANY_STATE_PATH) return [''];
  const parts = path.split('.');
  const out = [''];
  for (let i = 1; i <= parts.length; i++) out.push(parts.slice(0, i).join('.'));
  return out;
}

/** The deepest common ancestor container of two states (never one of them, unless it is the root). */
function container(source: string, target: string): string {
  const a = ancestors(source).slice(0, -1);
  const b = new Set(ancestors(target).slice(0, -1));
  let best = '';
  for (const path of a) if (b.has(path)) best = path;
  return best;
}

/**
 * Lays a chart out with ELK (layered, top to bottom, hierarchy included) on a worker thread,
 * so the host's event loop never waits for it. Cached by the caller.
 * @param shape the chart
 * @param timeoutMs longest the layout may take, in ms. Default {@link LAYOUT_TIMEOUT_MS}.
 * @throws Error when elkjs is missing, or the layout failed or took longer than `timeoutMs`
 */
export async function layoutChart(shape: ChartShape, timeoutMs = LAYOUT_TIMEOUT_MS): Promise<ChartGeometry> {
  const machine = elkNode(shape.root, separableParallels(shape.root, shape.edges));
  const byPath = new Map<string, ElkNode>();
  const walk = (node: ElkNode): void => {
    byPath.set(node.id.slice(NODE_PREFIX.length), node);
    for (const child of node.children ?? []) walk(child);
  };
  walk(machine);

  // One arrow per (source, target), labelled with every trigger that takes it.
  const merged = new Map<string, { source: string; target: string; lines: string[] }>();
  for (const edge of shape.edges) {
    if (!byPath.has(edge.source) || !byPath.has(edge.target)) continue;
    const key = `${edge.source}\u0000${edge.target}`;
    const entry = merged.get(key) ?? { source: edge.source, target: edge.target, lines: [] };
    for (const line of edge.lines) if (!entry.lines.includes(line)) entry.lines.push(line);
    merged.set(key, entry);
  }
  const edgeList = [...merged.values()];
  edgeList.forEach((edge, i) => {
    const lines = edge.lines.length > 6 ? [...edge.lines.slice(0, 5), `… ${edge.lines.length - 5} more`] : edge.lines;
    const width = Math.ceil(Math.max(...lines.map((line) => line.length)) * LABEL_CHAR_W + 10);
    const elkEdge: ElkExtendedEdge = {
      id: `e${i}`,
      sources: [NODE_PREFIX + edge.source],
      targets: [NODE_PREFIX + edge.target],
      labels: [{ id: `e${i}:label`, text: lines.join('\n'), width, height: lines.length * LABEL_LINE_H + 4 }],
    };
    const parent = byPath.get(container(edge.source, edge.target)) ?? machine;
    (parent.edges ??= []).push(elkEdge);
  });

  const graph: ElkNode = {
    id: 'graph',
    layoutOptions: { ...COMMON_OPTIONS, 'elk.hierarchyHandling': 'INCLUDE_CHILDREN', 'elk.padding': '[top=4,left=4,bottom=4,right=4]' },
    children: [machine],
    edges: [],
  };
  const result = await layoutWorker.layout(graph, timeoutMs);

  const nodes: GeoNode[] = [];
  const flatten = (shapeNode: ShapeNode, elk: ElkNode | undefined, depth: number, region: boolean): void => {
    if (!elk) return;
    nodes.push({
      path: shapeNode.path,
      key: shapeNode.key,
      type: shapeNode.type,
      depth,
      x: round(elk.x ?? 0),
      y: round(elk.y ?? 0),
      w: round(elk.width ?? 0),
      h: round(elk.height ?? 0),
      initial: shapeNode.initial,
      region,
      leaf: shapeNode.children.length === 0,
      ...(shapeNode.description === undefined ? {} : { description: shapeNode.description }),
    });
    const children = new Map((elk.children ?? []).map((child) => [child.id, child]));
    const dot = children.get(NODE_PREFIX + shapeNode.path + INITIAL_DOT);
    if (dot) {
      nodes.push({ path: shapeNode.path + INITIAL_DOT, key: '', type: 'initial', depth: depth + 1, x: round(dot.x ?? 0), y: round(dot.y ?? 0), w: DOT_SIZE, h: DOT_SIZE, initial: false, region: false, leaf: true });
    }
    for (const child of shapeNode.children) flatten(child, children.get(NODE_PREFIX + child.path), depth + 1, shapeNode.type === 'parallel');
  };
  flatten(shape.root, result.children?.[0], 0, false);

  const edges: GeoEdge[] = [];
  const collect = (node: ElkNode): void => {
    for (const edge of (node.edges ?? []) as ElkExtendedEdge[]) {
      const section = edge.sections?.[0];
      if (!section) continue;
      const points: [number, number][] = [[round(section.startPoint.x), round(section.startPoint.y)]];
      for (const bend of section.bendPoints ?? []) points.push([round(bend.x), round(bend.y)]);
      points.push([round(section.endPoint.x), round(section.endPoint.y)]);
      if (edge.id.startsWith(`i${NODE_PREFIX}`)) {
        const target = (edge.targets[0] ?? '').slice(NODE_PREFIX.length);
        edges.push({ source: edge.id.slice(1 + NODE_PREFIX.length) + INITIAL_DOT, target, points, initial: true });
        continue;
      }
      const source = edgeList[Number(edge.id.slice(1))];
      if (!source) continue;
      const label = edge.labels?.[0];
      edges.push({
        source: source.source,
        target: source.target,
        points,
        ...(label
          ? { label: { x: round(label.x ?? 0), y: round(label.y ?? 0), w: round(label.width ?? 0), h: round(label.height ?? 0), lines: (label.text ?? '').split('\n') } }
          : {}),
      });
    }
    for (const child of node.children ?? []) collect(child);
  };
  collect(result);

  return { name: shape.name, title: shape.title, width: Math.ceil(result.width ?? 0), height: Math.ceil(result.height ?? 0), nodes, edges };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
