/**
 * Row 5: memory retained per idle session (`manager.session(id, key)`, no turn) and the time
 * to create and release them and to close the manager, at one scale per process. Needs
 * `--expose-gc` (run.ts passes it). Heap deltas after full collections.
 */
import { createSessionManager } from '../../src/index.js';
import { reportRows, rowArgs, progress, type RowResult } from '../lib/child.js';
import { count, kib, ms } from '../lib/format.js';
import { round } from '../lib/stats.js';

interface Args {
  sessions: number;
  id: string;
}

/** Issue 12: an idle session holds no running actor, at most 2 KiB. */
const TARGET_BYTES = 2 * 1024;

function collect(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('row 5 needs node --expose-gc');
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
}

reportRows(async (): Promise<RowResult[]> => {
  const args = { sessions: 10_000, id: '5', ...rowArgs<Partial<Args>>() };
  const n = args.sessions;
  // Ids exist before the baseline: a gateway has them anyway; what is measured is what the package adds.
  const ids = Array.from({ length: n }, (_, i) => `session-${String(i).padStart(7, '0')}`);
  const manager = createSessionManager({
    // No turn is run, so nothing is ever sent to these addresses.
    endpoints: { idle: { wsUrl: 'ws://127.0.0.1:9/v1/responses', httpUrl: 'http://127.0.0.1:9/v1/responses', credentials: 'tok-bench-0001' } },
  });
  progress(`row ${args.id}: ${count(n)} idle sessions`);
  const base = collect();
  let started = performance.now();
  for (const id of ids) manager.session(id, 'idle');
  const createMs = performance.now() - started;
  const live = collect();
  if (manager.sessionIds.length !== n) throw new Error(`row 5: expected ${n} live sessions, got ${manager.sessionIds.length}`);

  started = performance.now();
  for (const id of ids) manager.release(id);
  const releaseMs = performance.now() - started;
  const released = collect();

  for (const id of ids) manager.session(id, 'idle');
  const relive = collect();
  started = performance.now();
  await manager.close();
  const closeMs = performance.now() - started;
  const closed = collect();

  // The raw alternative: what a hand-written gateway keeps per session (id, endpoint, socket slot, cooldown deadline).
  const rawBase = collect();
  const records = new Map<string, { id: string; endpointKey: string; socket: unknown; httpUntilMs: number }>();
  started = performance.now();
  for (const id of ids) records.set(id, { id, endpointKey: 'idle', socket: undefined, httpUntilMs: 0 });
  const rawCreateMs = performance.now() - started;
  const rawLive = collect();
  const rawPerSession = (rawLive - rawBase) / n;
  records.clear();

  const perSession = (live - base) / n;
  return [
    {
      id: args.id,
      title: `${count(n)} idle sessions: heap per session, create / release / close`,
      packageText: `${kib(perSession)}/session; create ${ms(createMs)}, release ${ms(releaseMs)}, close ${ms(closeMs)}`,
      rawText: `plain record ${kib(rawPerSession)}/session; create ${ms(rawCreateMs)}`,
      valueText: `${kib(perSession)}/session`,
      targetText: `≤ ${kib(TARGET_BYTES)}/session`,
      pass: perSession <= TARGET_BYTES,
      details: {
        sessions: n,
        bytesPerSession: Math.round(perSession),
        heapUsedMB: { base: round(base / 2 ** 20), live: round(live / 2 ** 20), afterRelease: round(released / 2 ** 20), beforeClose: round(relive / 2 ** 20), afterClose: round(closed / 2 ** 20) },
        retainedAfterReleaseBytesPerSession: Math.round((released - base) / n),
        retainedAfterCloseBytesPerSession: Math.round((closed - base) / n),
        createMs: round(createMs),
        createUsPerSession: round((createMs * 1000) / n),
        releaseMs: round(releaseMs),
        releaseUsPerSession: round((releaseMs * 1000) / n),
        closeMs: round(closeMs),
        rawBytesPerSession: Math.round(rawPerSession),
        rawCreateMs: round(rawCreateMs),
        method:
          'Child process with --expose-gc; heapUsed after four gc() calls. Session ids are allocated before the baseline. Sessions are created, measured, released one by one (measured again: what release leaves behind), created again and dropped by manager.close(). Raw: a Map of plain records.',
      },
    },
  ];
});
