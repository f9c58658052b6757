/**
 * Row 1: a turn over HTTP while the endpoint cools down (its upgrade answered 500 once), 1,000
 * SSE events per turn: the package's `session.stream` vs `fetch` + `createParser` by hand.
 */
import { createSessionManager } from '../../src/index.js';
import { reportRows, rowArgs, progress, type RowResult } from '../lib/child.js';
import { measurePaired, turnRatioRow } from '../lib/paired.js';
import { drain, rawHttpEvents, rawHttpTurn } from '../lib/raw-clients.js';
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
  // response.created + deltas + response.completed
  const upstream = await startRemoteUpstream({ deltasPerTurn: args.events - 2, modes: { cool: { upgradeStatus: 500 } } });
  const manager = createSessionManager({
    endpoints: { cool: { wsUrl: upstream.wsUrl('cool'), httpUrl: upstream.httpUrl, credentials: TOKEN } },
    // Long enough that the cooldown cannot end during the row.
    policy: { cooldown: { initialMs: 3_600_000, maxMs: 3_600_000 } },
    jitterSeed: 1,
  });
  const body = { model: 'cool', input: 'benchmark' };
  const session = manager.session('bench-http', 'cool');
  try {
    const first = await drain(session.stream(body));
    const endpoint = manager.endpoint('cool').state;
    if (endpoint.status !== 'cooling-down' || session.state.transport !== 'http') {
      throw new Error(`row 1 setup: expected a cooling-down endpoint, got ${endpoint.path} / ${session.state.connection}`);
    }
    const rawCount = await rawHttpTurn(upstream.httpUrl, TOKEN, body);
    if (first !== args.events || rawCount !== args.events) throw new Error(`row 1 setup: expected ${args.events} events, got ${first} and ${rawCount}`);
    const before = await upstream.counters();
    progress(`row 1: ${args.rounds} rounds × ${args.iterations} turns per contender`);

    const result = await measurePaired(
      [
        { name: 'package', fn: () => drain(session.stream(body)) },
        { name: 'raw', fn: () => rawHttpTurn(upstream.httpUrl, TOKEN, body) },
        { name: 'raw-iterator', fn: () => drain(rawHttpEvents(upstream.httpUrl, TOKEN, body)) },
      ],
      { rounds: args.rounds, iterationsPerRound: args.iterations, warmupIterations: args.warmup },
    );
    const after = await upstream.counters();
    return [
      turnRatioRow({
        id: '1',
        title: `HTTP turn while cooling down (${args.events} SSE events)`,
        eventsPerTurn: args.events,
        result,
        target: TARGET,
        cpuTarget: CPU_TARGET,
        extraDetails: {
          upgradeAttemptsDuringRow: after.upgradeAttempts - before.upgradeAttempts,
          endpointState: manager.endpoint('cool').state.path,
          method:
            'Upstream in a child process. One session whose first turn met an upgrade answered 500; the endpoint then cools down and every measured turn goes over HTTP. Raw: fetch + createParser + JSON.parse per event, callback consumer, read to the end; raw-iterator: the same shaped as an async generator. Interleaved tinybench rounds, rotating order.',
        },
      }),
    ];
  } finally {
    await manager.close();
    await upstream.close();
  }
});
