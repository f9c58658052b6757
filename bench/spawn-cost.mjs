// Why the turn chart is one actor per session and not one per turn (docs/design.md):
// the cost of a turn as two events on a live actor, against invoking a child actor per turn.
// Run: node bench/spawn-cost.mjs
import { assign, createActor, emit, setup } from 'xstate';

const turn = setup({}).createMachine({
  initial: 'streaming',
  context: ({ input }) => ({ id: input.id, transport: input.transport }),
  states: {
    streaming: { entry: emit(({ context }) => ({ type: 'send', transport: context.transport })), on: { COMPLETED: 'done' } },
    done: { type: 'final' },
  },
  output: ({ context }) => ({ id: context.id, result: 'completed' }),
});
const perTurnChild = setup({ actors: { turn } }).createMachine({
  context: { last: undefined },
  initial: 'idle',
  states: {
    idle: { on: { REQUESTED: 'busy' } },
    busy: {
      invoke: { id: 'turn', src: 'turn', input: () => ({ id: 'x', transport: 'http' }), onDone: { target: 'idle', actions: assign({ last: ({ event }) => event.output }) } },
    },
  },
});
const liveActor = setup({}).createMachine({
  context: { last: undefined },
  initial: 'idle',
  states: {
    idle: { on: { REQUESTED: { target: 'busy', actions: emit({ type: 'send', transport: 'http' }) } } },
    busy: { on: { COMPLETED: { target: 'idle', actions: assign({ last: () => ({ id: 'x', result: 'completed' }) }) } } },
  },
});

function measure(name, turnOnce, turns = 200_000) {
  for (let i = 0; i < 20_000; i++) turnOnce();
  const started = performance.now();
  for (let i = 0; i < turns; i++) turnOnce();
  console.log(`${name}: ${(((performance.now() - started) * 1000) / turns).toFixed(1)} µs per turn`);
}

const parent = createActor(perTurnChild).start();
measure('a child actor invoked per turn', () => {
  parent.send({ type: 'REQUESTED' });
  parent.getSnapshot().children.turn.send({ type: 'COMPLETED' });
});
const live = createActor(liveActor).start();
live.on('send', () => {});
measure('two events on a live actor', () => {
  live.send({ type: 'REQUESTED' });
  live.send({ type: 'COMPLETED' });
});
