/**
 * Pushed health for `redisStore`: every health report a process publishes is followed, in the
 * same Lua script, by a PUBLISH of the endpoint's resulting state on one channel. Each process
 * follows the channel on a dedicated connection and hands the other processes' messages (never
 * its own) to the manager, which tells the endpoint chart; the chart's own claim at the end of
 * each window stays the safety net for a message lost while the link was down.
 *
 * The channel also remembers the windows still running that this process published or heard,
 * so that after an outage (Redis restarted empty) they can be written again: the fleet's state
 * comes back without waiting for the next failure, and no process is granted a probe by an
 * empty Redis while the others still cool down.
 */

import { randomBytes } from 'node:crypto';
import type { HealthReport } from '../../machines/endpoint.js';
import { openSubscription, type RedisSubscriberClient, type Subscription } from './redis-subscriber.js';

/** A health change pushed by another process, as the listener receives it. */
export type HealthListener = (report: HealthReport) => void;

/** What {@link createHealthChannel} needs. */
export interface HealthChannelOptions {
  /** The channel name. */
  readonly channel: string;
  /** Opens the dedicated subscriber connection; `undefined` when the client cannot (no pushes). */
  readonly connect: () => RedisSubscriberClient | undefined;
  /** Called after the subscriber connection came back from an outage. */
  readonly onResync: () => void;
  /** Called with subscriber connection errors. */
  readonly onError: (error: unknown) => void;
}

/** The channel as the store uses it. */
export interface HealthChannel {
  /** This process's id in messages (messages carrying it are its own, and ignored). */
  readonly instance: string;
  /** Opens the subscriber connection if it is not open yet. */
  open(): void;
  /** Adds a listener of other processes' pushes; returns its removal. */
  subscribe(listener: HealthListener): () => void;
  /** Resolves with the next push about `endpointKey`, or `undefined` after `ms` (real time). */
  nextPush(endpointKey: string, ms: number): Promise<HealthReport | undefined>;
  /** Notes a report this process published (its window is written again after an outage). */
  remember(report: HealthReport): void;
  /** The windows known to run after `nowMs`, one per endpoint: what to write again after an outage. */
  runningWindows(nowMs: number): HealthReport[];
  /** Closes the subscriber connection. */
  close(): Promise<void>;
}

const STATUSES = new Set(['healthy', 'cooling-down', 'unsupported', 'reset']);

/** Parses a pushed message; `undefined` for anything malformed (the channel is not trusted to be ours alone). */
export function parseHealthMessage(text: string): { origin: string; report: HealthReport } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const { origin, endpointKey, status } = record;
  const atMs = Number(record.atMs);
  const untilMs = Number(record.untilMs);
  const failures = Number(record.consecutiveFailures);
  if (typeof origin !== 'string' || typeof endpointKey !== 'string' || typeof status !== 'string' || !STATUSES.has(status)) return undefined;
  if (!Number.isFinite(atMs) || !Number.isFinite(failures) || failures < 0) return undefined;
  const windowed = status === 'cooling-down' || status === 'unsupported';
  if (windowed && !Number.isFinite(untilMs)) return undefined;
  const report: HealthReport = {
    endpointKey,
    status: status as HealthReport['status'],
    atMs,
    untilMs: windowed ? untilMs : undefined,
    consecutiveFailures: Math.floor(failures),
  };
  return { origin, report };
}

/** Builds the channel; nothing connects until {@link HealthChannel.open} or the first subscriber. */
export function createHealthChannel(options: HealthChannelOptions): HealthChannel {
  const instance = randomBytes(8).toString('hex');
  const listeners = new Set<HealthListener>();
  const waiters = new Set<{ endpointKey: string; resolve: (report: HealthReport) => void }>();
  const windows = new Map<string, HealthReport>();
  let subscription: Subscription | undefined;
  let unavailable = false;

  const note = (report: HealthReport) => {
    if (report.status === 'cooling-down' || report.status === 'unsupported') windows.set(report.endpointKey, report);
    else windows.delete(report.endpointKey);
  };

  const onMessage = (text: string) => {
    const parsed = parseHealthMessage(text);
    if (!parsed || parsed.origin === instance) return;
    note(parsed.report);
    for (const waiter of [...waiters]) if (waiter.endpointKey === parsed.report.endpointKey) waiter.resolve(parsed.report);
    for (const listener of [...listeners]) {
      try {
        listener(parsed.report);
      } catch {
        // Listeners are told independently.
      }
    }
  };

  const open = () => {
    if (subscription || unavailable) return;
    const connection = options.connect();
    if (!connection) {
      unavailable = true;
      return;
    }
    subscription = openSubscription({ connection, channel: options.channel, onMessage, onResync: options.onResync, onError: options.onError });
  };

  return {
    instance,
    open,
    subscribe(listener) {
      listeners.add(listener);
      open();
      return () => {
        listeners.delete(listener);
      };
    },
    nextPush(endpointKey, ms) {
      return new Promise((resolve) => {
        const waiter = {
          endpointKey,
          resolve: (report: HealthReport | undefined) => {
            clearTimeout(timer);
            waiters.delete(waiter);
            resolve(report);
          },
        };
        const timer = setTimeout(() => waiter.resolve(undefined), Math.max(0, ms));
        waiters.add(waiter);
      });
    },
    remember: note,
    runningWindows: (nowMs) => [...windows.values()].filter((report) => (report.untilMs ?? 0) > nowMs),
    async close() {
      const closing = subscription;
      subscription = undefined;
      for (const waiter of [...waiters]) waiter.resolve(undefined as never);
      await closing?.close();
    },
  };
}
