/**
 * Row 2: a turn over an open WebSocket, 1,000 events per turn: the package's `session.stream`
 * on its open socket vs a raw `ws` client sending the same frame on its own open socket.
 */
import { createSessionManager, openAIResponses } from '../../src/index.js';
import { reportRows, rowArgs, progress, type RowResult } from '../lib/child.js';
import { measurePaired, roundRatios } from '../lib/paired.js';
import { RawWebSocketClient, drain } from '../lib/raw-clients.js';
import { ms, ratio } from '../lib/format.js';
import { round, roundSummary } from '../lib/stats.js';
import { startRemoteUpstream } from '../lib/upstream-child.js';

interface Args {
  events: number;
  rounds: number;
  iterations: number;
  warmup: number;
}

const TOKEN = 'tok-bench-0001';
const TARGET = 1.05;

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
    const pkg = result.summaries['package']!;
    const rawS = result.summaries['raw']!;
    const rawIter = result.summaries['raw-iterator']!;
    const value = pkg.median / rawS.median;
    const perRound = roundRatios(result, 'package', 'raw');
    return [
      {
        id: '2',
        title: `WebSocket turn on an open socket (${args.events} events)`,
        packageText: `${ms(pkg.median)} (p99 ${ms(pkg.p99)})`,
        rawText: `${ms(rawS.median)} (p99 ${ms(rawS.p99)})`,
        valueText: `${ratio(value)} median (CPU ${ratio(result.cpuMsPerCall['package']! / result.cpuMsPerCall['raw']!)})`,
        targetText: `≤ ${TARGET.toFixed(2)}×`,
        pass: value <= TARGET,
        details: {
          eventsPerTurn: args.events,
          package: roundSummary(pkg),
          raw: roundSummary(rawS),
          rawIterator: roundSummary(rawIter),
          ratioOfMedians: round(value),
          ratioP99: round(pkg.p99 / rawS.p99),
          cpuMsPerTurn: { package: round(result.cpuMsPerCall['package']!), raw: round(result.cpuMsPerCall['raw']!), rawIterator: round(result.cpuMsPerCall['raw-iterator']!) },
          cpuRatio: round(result.cpuMsPerCall['package']! / result.cpuMsPerCall['raw']!),
          ratioVsRawIterator: round(pkg.median / rawIter.median),
          perRoundRatio: { min: round(Math.min(...perRound)), max: round(Math.max(...perRound)) },
          addedPerTurnMs: round(pkg.median - rawS.median),
          addedPerEventUs: round(((pkg.median - rawS.median) * 1000) / args.events),
          upgradeAttemptsDuringRow: after.upgradeAttempts - before.upgradeAttempts,
          method:
            'Upstream in a child process; it writes each turn corked (one flush per turn). The package session keeps its socket open across turns; the raw ws client has its own open socket, sends the same response.create frame, JSON.parses every frame and resolves at the terminal event (callback consumer); raw-iterator: the same shaped as an async generator. Interleaved tinybench rounds, rotating order.',
        },
      },
    ];
  } finally {
    raw.close();
    await manager.close();
    await upstream.close();
  }
});
