import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startInspector, type Inspector } from '../../src/inspector/index.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumStatus } from './support/chromium.js';
import { AGENTS, BAD, BAD_TOKEN, BATCH, GOOD, SHARED_TOKEN, startOperatorRun, type OperatorRun } from './support/operator.js';

/**
 * The inspector as the on-call engineer sees it, in a real headless browser (Debian's chromium
 * driven by playwright-core; no browser download): 41 simulated minutes of an endpoint whose
 * upgrade answers 500, 17 sessions. The tests read the page's facts (counts, labels, order),
 * not pixels. Without /usr/bin/chromium the suite is skipped with a message, except under CI.
 */

type Browser = import('playwright-core').Browser;
type Page = import('playwright-core').Page;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const OUT = join(ROOT, 'test-output');
const DOCS = join(ROOT, 'docs', 'images');

const status = chromiumStatus();
const inCi = Boolean(process.env.CI);
if (!status.available && !inCi) console.warn(`[inspector browser tests] SKIPPED: ${status.message}`);

/** Writes test-output/<name>; with UPDATE_DOCS_SCREENSHOT=1 also docs/images/<name> (a test run never dirties the tree otherwise). */
async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  const path = join(OUT, name);
  await page.screenshot({ path });
  expect(statSync(path).size).toBeGreaterThan(10_000);
  if (process.env['UPDATE_DOCS_SCREENSHOT'] === '1') {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(path, join(DOCS, name));
  }
}

function inWords(ms: number): string {
  const s = Math.round(Math.ceil(ms / 1000));
  if (s < 60) return `in ${s} s`;
  if (s < 3600) return `in ${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `in ${Math.floor(s / 3600)} h ${String(Math.floor(s / 60) % 60).padStart(2, '0')} min`;
}

describe.skipIf(!status.available && !inCi)('the inspector page in headless chromium, as an operator reads it', () => {
  let run: OperatorRun;
  let inspector: Inspector;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!status.available) throw new Error(`${status.message} CI is set, so this suite fails instead of skipping.`);
    run = await startOperatorRun();
    inspector = await startInspector(run.manager);
    await run.rounds(41);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    // Nothing but the inspector itself may be fetched.
    await page.route('**/*', (route) => (route.request().url().startsWith(`http://127.0.0.1:${inspector.port}/`) ? route.continue() : route.abort()));
    await page.goto(inspector.url);
    await page.waitForSelector('body[data-ready="true"]');
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await inspector?.close();
    await run?.close();
  });

  const bucket = (scope: string, name: string) => page.locator(`${scope} [data-bucket="${name}"]`).getAttribute('data-count');

  test('the header: live, and the clock labelled as simulated, shown as time since the start', async () => {
    expect(await page.locator('#conn').textContent()).toBe('live');
    expect(await page.locator('#clock-kind').textContent()).toBe('simulated time');
    expect(await page.locator('#now').textContent()).toBe('sim +41:00');
    expect(await page.locator('#counts').textContent()).toBe('3 endpoints · 17 live sessions · 12 on HTTP');
    expect(await page.title()).toBe('1 down · 12 on HTTP · resilient-stream inspector');
  });

  test('counts first: the failing endpoint leads, with its 12 sessions on HTTP and why', async () => {
    const firstEndpoint = page.locator('#endpoints tbody tr').first();
    expect(await firstEndpoint.getAttribute('data-actor')).toBe(`endpoint:${BAD}`);
    expect(await firstEndpoint.textContent()).toContain('cooling-down');
    expect(await firstEndpoint.textContent()).toContain('upgrade answered HTTP 500');
    expect(await bucket(`#endpoints tr[data-actor="endpoint:${BAD}"]`, 'http')).toBe('12');
    expect(await bucket(`#endpoints tr[data-actor="endpoint:${BAD}"]`, 'websocket')).toBe('0');
    expect(await bucket(`#endpoints tr[data-actor="endpoint:${GOOD}"]`, 'websocket')).toBe('4');
    const group = page.locator(`#sessions details.sgroup[data-endpoint="${BAD}"] > summary`);
    expect(await bucket(`#sessions details.sgroup[data-endpoint="${BAD}"] > summary`, 'http')).toBe('12');
    expect(await group.textContent()).toContain('(cooling-down 12)');
    expect(await bucket(`#sessions details.sgroup[data-endpoint="${GOOD}"] > summary`, 'websocket')).toBe('4');
    expect(await bucket(`#sessions details.sgroup[data-endpoint="${BATCH}"] > summary`, 'websocket')).toBe('1');
  });

  test('details on demand: a group opens to its sessions, in natural order, each turns cell on one line', async () => {
    const details = page.locator(`#sessions details.sgroup[data-endpoint="${BAD}"]`);
    expect(await details.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    await details.locator('summary').click();
    // Rows are built when a group opens (a closed group draws counts only).
    await details.locator('tbody tr[data-actor]').first().waitFor();
    const ids = await details.locator('tbody tr[data-actor]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-actor')));
    expect(ids).toEqual(AGENTS.map((id) => `session:${id}`));
    expect(await details.locator('tr[data-actor="session:agent-2"]').textContent()).toContain('on HTTP');
    expect(await details.locator('tr[data-actor="session:agent-2"]').textContent()).toContain('41 http');
    const heights = await details.locator('.turns').evaluateAll((cells) => cells.map((c) => (c as HTMLElement).getBoundingClientRect().height));
    for (const height of heights) expect(height).toBeLessThan(20);
    // Sessions stay reachable: the open group survives updates.
    await run.advance(1_000);
    await page.waitForTimeout(300);
    expect(await details.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    await details.locator('summary').click();
  });

  test('the next probe reads as a duration, not a time of day, and follows the simulated clock', async () => {
    const countdown = page.locator(`#endpoints tr[data-actor="endpoint:${BAD}"] .countdown`);
    const until = run.manager.endpoint(BAD).state.cooldownUntilMs!;
    await expect.poll(() => countdown.textContent()).toBe(inWords(until - run.clock.now()));
    expect(await countdown.getAttribute('title')).toMatch(/^simulated time: at sim \+\d\d:\d\d$/);
    await run.advance(10_000);
    await expect.poll(() => countdown.textContent(), { timeout: 5_000 }).toBe(inWords(until - run.clock.now()));
  });

  test('the probe chart: one dot per failed probe, the waits between them growing; the verdict says backing off', async () => {
    const chart = page.locator(`#probe-charts .pchart[data-endpoint="${BAD}"]`);
    const gaps = await chart.locator('circle[data-result="failed"]').evaluateAll((dots) => dots.map((d) => d.getAttribute('data-gap-ms')).filter((g) => g !== '').map(Number));
    expect(gaps.length).toBeGreaterThanOrEqual(4);
    for (let i = 1; i < gaps.length; i++) expect(gaps[i]!).toBeGreaterThan(gaps[i - 1]! * 0.9);
    expect(await chart.textContent()).toContain('backing off');
    expect(await page.locator('#verdict').textContent()).toContain('growing: backing off, not a loop');
    expect(await page.locator(`#probe-charts .pchart[data-endpoint="${GOOD}"]`).textContent()).toContain('last probe succeeded');
  });

  test('the timeline folds routine turns into a counted row; "every turn" lists them; incidents stay visible', async () => {
    const fold = page.locator('#timeline tr.fold').first();
    expect(Number(await fold.getAttribute('data-count'))).toBeGreaterThan(10);
    expect(await fold.textContent()).toMatch(/\d+ turns completed \(\d+ over http, \d+ over websocket\)/);
    expect(await page.locator('#timeline tr[data-event="turn"]').count()).toBe(0);
    expect(await page.locator(`#timeline tr[data-actor="endpoint:${BAD}"][data-event="UPGRADE_FAILED"]`).count()).toBeGreaterThanOrEqual(4);
    const movedToHttp = await page.locator('#timeline tr[data-event="fallback"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-actor')));
    // Every failing session's move to HTTP is there (and the healthy endpoint's first-round
    // sessions that waited for its one probe: probe-in-flight).
    for (const id of AGENTS) expect(movedToHttp).toContain(`session:${id}`);
    await page.locator('#tl-turns').check();
    expect(await page.locator('#timeline tr[data-event="turn"]').count()).toBeGreaterThan(10);
    await page.locator('#tl-turns').uncheck();
  });

  test('the chart of the failing endpoint highlights coolingDown; a timeline row shows it as at that moment', async () => {
    await page.locator(`#endpoints tr[data-actor="endpoint:${BAD}"]`).click();
    await page.waitForSelector('svg#chart[data-chart="endpoint"] g[data-state="coolingDown"].active');
    await page.selectOption('#tl-actor', `endpoint:${BAD}`);
    const probeRow = page.locator(`#timeline tr.changed[data-actor="endpoint:${BAD}"][data-event="PROBE_REQUESTED"]`).first();
    await probeRow.click();
    await page.waitForSelector('svg#chart g[data-path="probing.probeInFlight"].active');
    expect(await page.locator('#travel').getAttribute('class')).toBe('on');
    expect(await page.locator('#travel-text').textContent()).toMatch(/^Viewing sim \+\d\d:\d\d, after PROBE_REQUESTED/);
    await page.locator('#live-btn').click();
    await page.selectOption('#tl-actor', '');
    expect(await page.locator('svg#chart g[data-state="coolingDown"].active').count()).toBe(1);
  });

  test('credentials: one row per credential, named without leaking which endpoint came first', async () => {
    const labels = await page.locator('#credentials tbody tr [data-label]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-label')));
    // Two tokens: one for the failing endpoint, one shared by the two healthy ones.
    expect(labels).toEqual(['static token 1', 'static token 2']);
    const text = await page.locator('#credentials').textContent();
    expect(text).not.toContain(`${GOOD}/token`);
    expect(text).not.toContain(SHARED_TOKEN);
  });

  test('screenshots at 1400×900 and 1920×1080 (docs/images with UPDATE_DOCS_SCREENSHOT=1)', async () => {
    await page.locator(`#endpoints tr[data-actor="endpoint:${BAD}"]`).click();
    await page.selectOption('#tl-actor', '');
    await page.evaluate(() => window.scrollTo(0, 0));
    await screenshot(page, 'inspector.png');
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.waitForTimeout(300);
    await screenshot(page, 'inspector-1920.png');
    await page.setViewportSize({ width: 1400, height: 900 });
  });

  test('recovery: once the upstream heals, the endpoint is healthy with no stale failure, its sessions back on WebSocket', async () => {
    run.upstream.heal('gpt-5.4');
    await run.advance(run.manager.endpoint(BAD).state.cooldownUntilMs! - run.clock.now() + 1);
    await run.rounds(4);
    expect(run.manager.endpoint(BAD).state.status).toBe('healthy');
    const row = page.locator(`#endpoints tr[data-actor="endpoint:${BAD}"]`);
    await expect.poll(() => row.textContent(), { timeout: 5_000 }).toContain('healthy');
    expect(await row.textContent()).not.toContain('HTTP 500');
    await expect.poll(() => bucket(`#sessions details.sgroup[data-endpoint="${BAD}"] > summary`, 'websocket'), { timeout: 5_000 }).toBe('12');
    expect(await bucket(`#sessions details.sgroup[data-endpoint="${BAD}"] > summary`, 'http')).toBe('0');
    expect(await page.locator(`#probe-charts .pchart[data-endpoint="${BAD}"] circle[data-result="succeeded"]`).count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#timeline tr[data-event="recovered"]').count()).toBeGreaterThanOrEqual(1);
  });

  test('ended: once the manager is closed the header says so, not "live", and the sessions keep where they were', async () => {
    await run.manager.close();
    await expect.poll(() => page.locator('#conn').textContent(), { timeout: 5_000 }).toBe('ended');
    expect(await page.locator('#counts').textContent()).toBe('3 endpoints · 17 sessions when the run ended · 0 on HTTP');
    expect(await bucket(`#sessions details.sgroup[data-endpoint="${BAD}"] > summary`, 'websocket')).toBe('12');
    expect(await page.locator('#endpoints .countdown').count()).toBe(0);
    // Each endpoint as it was when the run ended; a failure it got past is not shown as current.
    const bad = page.locator(`#endpoints tr[data-actor="endpoint:${BAD}"]`);
    expect(await bad.locator('.badge').first().textContent()).toBe('healthy');
    expect(await bad.textContent()).toContain('at the end');
    expect(await bad.textContent()).not.toContain('HTTP 500');
    await page.selectOption('#tl-actor', '');
    await screenshot(page, 'inspector-ended.png');
  });

  test('no token reaches the page; no script error', async () => {
    const html = await page.content();
    const textContent = await page.evaluate(() => document.body.innerText);
    for (const secret of [BAD_TOKEN, SHARED_TOKEN]) {
      expect(html).not.toContain(secret);
      expect(textContent).not.toContain(secret);
    }
    expect(pageErrors).toEqual([]);
  });
});
