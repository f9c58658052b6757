/**
 * Row 2: a turn over an open WebSocket, 1,000 events per turn: the package's `session.stream`
 * on its open socket vs a raw `ws` client sending the same frame on its own open socket.
 */
import { createSessionManager, openAIResponses } from '../../src/index.js';
import { reportRows, rowArgs, progress, type RowResult } from '../lib/child.js';
import { measurePaired, turnRatioRow } from '../lib/paired.js';
import { RawWebSocketClient, drain } from '../lib/raw-clients.js';
import { startRemoteUpstream } from '../lib/upstream-child.js';

interface Args {
  events: number;
  rounds: number;
  iterations: number;
  warmup: number;
}

const TOKEN = 'tok-bench-0001';
/** Issue 12's targets: the package's turn at most 1.10× the raw client's median, and 1.15× its CPU time. */
const TARGET = 1.1;
const CPU_TARGET = 1.15;

reportRows(async (): Promise<RowResult[]> => {
  const args = { events: 1000, rounds: 12, iterations: 40, warmup: 1500, ...rowArgs<Partial<Args>>() };
  const upstream = await startRemoteUpstream({ deltasPerTurn: args.events - 2 });
  const manager = createSessionManager({
    endpoints: { good: { wsUrl: upstream.wsUrl('good'), httpUrl: upstream.httpUrl, credentials: TOKEN } },
    jitterSeed: 1,
  });
  const body = { model: 'good', input: 'benchmark' };
  const session = manager.session('bench-ws', 'good');
  const raw = await RawWebSocketClient.open(upstream.wsUrl('good'), TOKEN);
  const frame = openAIResponses.webSocketFrame(body);
  try {
    const first = await drain(session.stream(body));
    if (session.state.transport !== 'websocket') throw new Error(`row 2 setup: expected an open socket, got ${session.state.connection}`);
    const rawCount = await raw.turn(frame);
    if (first !== args.events || rawCount !== args.events) throw new Error(`row 2 setup: expected ${args.events} events, got ${first} and ${rawCount}`);
    const before = await upstream.counters();
    progress(`row 2: ${args.rounds} rounds × ${args.iterations} turns per contender`);

    const result = await measurePaired(
      [
        { name: 'package', fn: () => drain(session.stream(body)) },
        { name: 'raw', fn: () => raw.turn(frame) },
        { name: 'raw-iterator', fn: () => drain(raw.turnEvents(frame)) },
      ],
      { rounds: args.rounds, iterationsPerRound: args.iterations, warmupIterations: args.warmup },
    );
    const after = await upstream.counters();
    if (session.state.transport !== 'websocket') throw new Error('row 2: the package socket closed during the row');
    return [
      turnRatioRow({
        id: '2',
        title: `WebSocket turn on an open socket (${args.events} events)`,
        eventsPerTurn: args.events,
        result,
        target: TARGET,
        cpuTarget: CPU_TARGET,
        extraDetails: {
          upgradeAttemptsDuringRow: after.upgradeAttempts - before.upgradeAttempts,
          method:
            'Upstream in a child process; it writes each turn corked (one flush per turn). The package session keeps its socket open across turns; the raw ws client has its own open socket, sends the same response.create frame, JSON.parses every frame and resolves at the terminal event (callback consumer); raw-iterator: the same shaped as an async generator. Interleaved tinybench rounds, rotating order.',
        },
      }),
    ];
  } finally {
    raw.close();
    await manager.close();
    await upstream.close();
  }
});
