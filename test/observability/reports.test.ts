import { describe, expect, test } from 'vitest';
import type { ManagerEvents } from '../../src/events.js';
import { humanDuration, type Logger } from '../../src/logging.js';
import { reportCredentialEvent } from '../../src/reports/credential-reports.js';
import { reportEndpointEvent } from '../../src/reports/endpoint-reports.js';
import type { ReportOutlet } from '../../src/reports/report-outlet.js';
import { EndpointChart, KEY, UPGRADE_426 } from '../machines/support/endpoint-chart.js';

/**
 * src/reports/: what the charts emit, worded for operators. The lines' text, levels and fields
 * are the ones docs/api.md lists; the charts' events themselves are asserted in test/machines.
 */

interface Line {
  readonly level: keyof Logger;
  readonly obj: object;
  readonly msg: string | undefined;
}

function recorder() {
  const lines: Line[] = [];
  const events: { name: string; payload: unknown }[] = [];
  const at = (level: keyof Logger) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  const out: ReportOutlet = {
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    emit: (name: keyof ManagerEvents, ...args: unknown[]) => void events.push({ name, payload: args[0] }),
  } as ReportOutlet;
  return { lines, events, out };
}

/** An endpoint chart whose emitted events are reported to a recorder, as the manager's observer does. */
function reportedChart() {
  const c = new EndpointChart({ startAtMs: 0 });
  const r = recorder();
  c.endpoint.on('*', (emitted) => reportEndpointEvent(KEY, emitted, r.out));
  return { c, ...r };
}

describe('endpoint reports', () => {
  test('a cooldown, the failures suppressed during it, its end and the recovery: one line each', () => {
    const { c, lines, events } = reportedChart();
    c.ask('s1');
    c.fail('s1');
    const untilMs = c.context().cooldownUntilMs!;
    expect(lines).toEqual([
      {
        level: 'warn',
        obj: { endpointKey: KEY, consecutiveFailures: 1, failureClass: 'transient-server', code: '500', cooldownMs: untilMs, nextProbeAtMs: untilMs, suppressedFailures: 0 },
        msg: `WebSocket to ${KEY} unavailable (upgrade answered HTTP 500); turns go over HTTP; next probe in ${humanDuration(untilMs)} at ${new Date(untilMs).toISOString()}`,
      },
    ]);
    c.fail('s2');
    c.advance(1);
    c.fleet({ status: 'healthy' });
    expect(lines.slice(1)).toEqual([
      {
        level: 'info',
        obj: { endpointKey: KEY, consecutiveFailures: 0, downForMs: 1 },
        msg: `WebSocket to ${KEY} works again after 1 ms (1 more failure of upgrades already in flight were counted, not logged)`,
      },
    ]);
    expect(events).toEqual([{ name: 'recovered', payload: { actor: 'endpoint', id: KEY, endpointKey: KEY, downForMs: 1 } }]);
    c.stop();
  });

  test('a cooldown without a failure seen here is an info line: the process that saw the failure warns', () => {
    const { c, lines } = reportedChart();
    c.fleet({ status: 'cooling-down', untilMs: 90_000, consecutiveFailures: 2 });
    expect(lines).toEqual([
      {
        level: 'info',
        obj: { endpointKey: KEY, consecutiveFailures: 2, cooldownMs: 90_000, nextProbeAtMs: 90_000 },
        msg: `WebSocket to ${KEY}: another gateway process holds its probe or reported it failing; turns go over HTTP; next probe in 90 s at 1970-01-01T00:01:30.000Z`,
      },
    ]);
    c.advance(90_000);
    expect(lines.slice(1)).toEqual([
      { level: 'debug', obj: { endpointKey: KEY, consecutiveFailures: 2 }, msg: `cooldown of ${KEY} over: the next turn probes the WebSocket` },
    ]);
    c.stop();
  });

  test('a latch: a warn line with the refusal and how long HTTP is latched', () => {
    const { c, lines } = reportedChart();
    c.ask('s1');
    c.fail('s1', UPGRADE_426);
    expect(lines).toEqual([
      {
        level: 'warn',
        obj: { endpointKey: KEY, consecutiveFailures: 0, failureClass: 'unsupported', code: '426', nextProbeAtMs: 21_600_000 },
        msg: `WebSocket refused by ${KEY} (upgrade answered HTTP 426); HTTP latched for 6 h`,
      },
    ]);
    c.stop();
  });

  test('health.changed is for sessions: no line', () => {
    const { out, lines, events } = recorder();
    reportEndpointEvent(KEY, { type: 'health.changed', endpointKey: KEY, status: 'probing', untilMs: undefined, atMs: 0 }, out);
    expect([lines, events]).toEqual([[], []]);
  });
});

describe('credential reports', () => {
  test('refreshing, retrying, sign-in required; credential.changed is for sessions', () => {
    const { out, lines, events } = recorder();
    reportCredentialEvent('acct', { type: 'refresh.started', credentialId: 'acct' }, out);
    reportCredentialEvent('acct', { type: 'refresh.retrying', credentialId: 'acct', summary: 'token refresh failed: HTTP 503', retryInMs: 2_000 }, out);
    reportCredentialEvent('acct', { type: 'reauth.required', credentialId: 'acct', summary: 'token refresh refused: invalid_grant (HTTP 400); sign in again' }, out);
    reportCredentialEvent('acct', { type: 'credential.changed', credentialId: 'acct', generation: 2, reauthRequired: false }, out);
    expect(lines).toEqual([
      { level: 'debug', obj: { credentialId: 'acct' }, msg: 'credentials acct: refreshing' },
      { level: 'warn', obj: { credentialId: 'acct', retryInMs: 2_000 }, msg: 'credentials acct: token refresh failed: HTTP 503; retrying in 2 s' },
      { level: 'error', obj: { credentialId: 'acct' }, msg: 'credentials acct: token refresh refused: invalid_grant (HTTP 400); sign in again' },
    ]);
    expect(events).toEqual([{ name: 'reauth-required', payload: { credentialId: 'acct', summary: 'token refresh refused: invalid_grant (HTTP 400); sign in again' } }]);
  });
});
