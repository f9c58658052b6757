import { describe, expect, test } from 'vitest';
import type { AnyStateMachine } from 'xstate';
import { createCredentialMachine, createEndpointMachine, createSessionMachine } from '../../machines/index.js';
import { allStateNodes } from '../../src/charts/export.js';
import { ANY_STATE_PATH, layoutChart, shapeFromConfig, shapeFromMachine, type ChartGeometry } from '../../src/inspector/chart.js';

const machines: Record<string, AnyStateMachine> = {
  session: createSessionMachine() as unknown as AnyStateMachine,
  endpoint: createEndpointMachine() as unknown as AnyStateMachine,
  credential: createCredentialMachine() as unknown as AnyStateMachine,
};

function inside(outer: ChartGeometry['nodes'][number], inner: ChartGeometry['nodes'][number]): boolean {
  return inner.x >= outer.x - 0.5 && inner.y >= outer.y - 0.5 && inner.x + inner.w <= outer.x + outer.w + 0.5 && inner.y + inner.h <= outer.y + outer.h + 0.5;
}

describe('the three charts, drawn from their definitions', () => {
  for (const [name, machine] of Object.entries(machines)) {
    test(`${name}: one box per state, each inside its parent, no two siblings overlapping; arrows for transitions`, async () => {
      const geometry = await layoutChart(shapeFromMachine(name, machine));
      const states = allStateNodes(machine).map((node) => node.path.join('.'));
      const boxes = geometry.nodes.filter((n) => n.type !== 'initial' && n.type !== 'pseudo');
      expect(boxes.map((n) => n.path).sort()).toEqual(states.sort());
      const byPath = new Map(boxes.map((n) => [n.path, n]));
      for (const node of boxes) {
        if (node.path === '') continue;
        const parent = byPath.get(node.path.split('.').slice(0, -1).join('.'));
        expect(parent && inside(parent, node), `${node.path} inside its parent`).toBe(true);
        for (const sibling of boxes) {
          if (sibling === node || sibling.path === '' || sibling.path.split('.').slice(0, -1).join('.') !== node.path.split('.').slice(0, -1).join('.')) continue;
          const overlap = node.x < sibling.x + sibling.w && sibling.x < node.x + node.w && node.y < sibling.y + sibling.h && sibling.y < node.y + node.h;
          expect(overlap, `${node.path} and ${sibling.path} overlap`).toBe(false);
        }
      }
      expect(geometry.edges.filter((e) => !e.initial).length).toBeGreaterThan(5);
      for (const edge of geometry.edges) expect(edge.points.length).toBeGreaterThanOrEqual(2);
    });
  }

  test('endpoint: the machine-wide STOP, RESET and fleet reports are drawn from an "any state" pseudo-state', async () => {
    const geometry = await layoutChart(shapeFromMachine('endpoint', machines.endpoint as AnyStateMachine));
    const fromAny = geometry.edges.filter((e) => e.source === ANY_STATE_PATH).map((e) => `${e.label?.lines.join(' ')} -> ${e.target}`);
    // Arrows to the same target share one label: the fleet's reset and RESET both lead to probing.
    expect(fromAny.sort()).toEqual([
      'FLEET.HEALTH_CHANGED [theFleetCoolsDownUntilLater] -> coolingDown',
      'FLEET.HEALTH_CHANGED [theFleetLatchedHttpUntilLater] -> unsupported',
      'FLEET.HEALTH_CHANGED [theFleetProvedTheEndpoint] -> healthy.stable',
      'FLEET.HEALTH_CHANGED [theFleetWasReset] RESET -> probing',
      'STOP -> stopped',
    ]);
  });
});

describe('shapeFromConfig (definitions sent to /stately)', () => {
  test('resolves #id, sibling, .child and dotted targets; keeps guards and delays as labels', () => {
    const shape = shapeFromConfig('x', {
      id: 'm',
      initial: 'a',
      states: {
        a: { on: { GO: [{ target: 'b', guard: { type: 'ready' } }, { target: '.inner' }], JUMP: 'b.deep' }, initial: 'inner', states: { inner: {} } },
        b: { after: { 1000: '#m.a', later: { target: 'a' } }, initial: 'deep', states: { deep: { on: { BACK: '#m.a.inner' } } } },
        c: { type: 'final' },
      },
      on: { RESET: '.a' },
    });
    const edges = shape.edges.map((e) => `${e.source} -${e.lines.join(' ')}-> ${e.target}`).sort();
    expect(edges).toEqual([
      '* -RESET-> a',
      'a -GO [ready]-> b',
      'a -GO-> a.inner',
      'a -JUMP-> b.deep',
      'b -after 1000 ms-> a',
      'b -after later-> a',
      'b.deep -BACK-> a.inner',
    ]);
    expect(shape.root.children.find((c) => c.key === 'c')?.type).toBe('final');
    expect(shape.root.children.find((c) => c.key === 'a')?.initial).toBe(true);
  });
});
