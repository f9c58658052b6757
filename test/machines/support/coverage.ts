import type { AnyStateMachine, AnyStateNode, InspectionEvent } from 'xstate';

interface TransitionLike {
  readonly source: AnyStateNode;
  readonly eventType: string;
  readonly target?: readonly AnyStateNode[] | undefined;
}

function eventLabel(eventType: string): string {
  if (eventType === '') return 'always';
  const after = /^xstate\.after\.([^.]+)\./.exec(eventType);
  if (after) return `after ${after[1]}`;
  const done = /^xstate\.done\.actor\.(.+)$/.exec(eventType);
  if (done) return `onDone ${done[1]}`;
  const error = /^xstate\.error\.actor\.(.+)$/.exec(eventType);
  if (error) return `onError ${error[1]}`;
  return eventType;
}

/** A stable name for one transition of a machine definition: source, event, branch index, targets. */
export function transitionKey(transition: TransitionLike): string {
  const source = transition.source;
  const candidates: readonly unknown[] =
    transition.eventType === '' ? (source.always ?? []) : (source.transitions.get(transition.eventType) ?? []);
  const index = candidates.indexOf(transition);
  const targets = (transition.target ?? []).map((t) => t.id).join(', ') || '(stays)';
  const branch = candidates.length > 1 ? ` [branch ${index + 1}/${candidates.length}]` : '';
  return `${source.id} --${eventLabel(transition.eventType)}${branch}--> ${targets}`;
}

function walk(node: AnyStateNode, visit: (node: AnyStateNode) => void): void {
  visit(node);
  for (const child of Object.values(node.states) as AnyStateNode[]) walk(child, visit);
}

/** Every state node id (except the root) and every transition of a machine definition. */
export function definitionOf(machine: AnyStateMachine): { states: string[]; transitions: string[] } {
  const states: string[] = [];
  const transitions: string[] = [];
  walk(machine.root, (node) => {
    if (node !== machine.root) states.push(node.id);
    for (const defs of node.transitions.values()) for (const def of defs) transitions.push(transitionKey(def as TransitionLike));
    for (const def of node.always ?? []) transitions.push(transitionKey(def as TransitionLike));
  });
  return { states, transitions };
}

/** Collects the states entered and the transitions taken, from xstate's inspection events. */
export class Coverage {
  readonly states = new Set<string>();
  readonly transitions = new Set<string>();

  readonly inspect = (event: InspectionEvent): void => {
    if (event.type === '@xstate.microstep') {
      for (const transition of (event as unknown as { _transitions: TransitionLike[] })._transitions) {
        this.transitions.add(transitionKey(transition));
      }
    }
    if (event.type === '@xstate.microstep' || event.type === '@xstate.snapshot') {
      const nodes = (event.snapshot as { _nodes?: AnyStateNode[] })._nodes;
      for (const node of nodes ?? []) this.states.add(node.id);
    }
  };

  /** What the machines define but no run reached. */
  missing(machines: readonly AnyStateMachine[]): { states: string[]; transitions: string[] } {
    const states: string[] = [];
    const transitions: string[] = [];
    for (const machine of machines) {
      const definition = definitionOf(machine);
      states.push(...definition.states.filter((s) => !this.states.has(s)));
      transitions.push(...definition.transitions.filter((t) => !this.transitions.has(t)));
    }
    return { states, transitions };
  }
}
