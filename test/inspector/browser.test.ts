import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startInspector, type Inspector } from '../../src/inspector/index.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumStatus } from './support/chromium.js';
import { BAD, SECRET_TOKEN, fallBack, startScenario, type Scenario } from './support/scenario.js';

/**
 * The inspector in a real headless browser (Debian's chromium driven by playwright-core; no
 * browser download). Without /usr/bin/chromium the suite is skipped with a message, except
 * under CI, where it fails.
 */

type Browser = import('playwright-core').Browser;
type Page = import('playwright-core').Page;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOT = join(ROOT, 'test-output', 'inspector.png');
const DOCS_SCREENSHOT = join(ROOT, 'docs', 'images', 'inspector.png');

const status = chromiumStatus();
const inCi = Boolean(process.env.CI);
if (!status.available && !inCi) console.warn(`[inspector browser tests] SKIPPED: ${status.message}`);

function mmss(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

describe.skipIf(!status.available && !inCi)('the inspector page in headless chromium', () => {
  let scenario: Scenario;
  let inspector: Inspector;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    if (!status.available) throw new Error(`${status.message} CI is set, so this suite fails instead of skipping.`);
    scenario = await startScenario();
    await fallBack(scenario);
    inspector = await startInspector(scenario.manager);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(message.text());
    });
    // Nothing but the inspector itself may be fetched.
    await page.route('**/*', (route) => (route.request().url().startsWith(`http://127.0.0.1:${inspector.port}/`) ? route.continue() : route.abort()));
    await page.goto(inspector.url);
    await page.waitForSelector('body[data-ready="true"]');
  });

  afterAll(async () => {
    await browser?.close();
    await inspector?.close();
    await scenario?.close();
  });

  test('the session shows its fallback and a live countdown to the next probe', async () => {
    const row = page.locator('#sessions tr[data-actor="session:s2"]');
    await expect.poll(() => row.textContent()).toContain('fallback');
    expect(await row.textContent()).toContain('http');
    expect(await row.textContent()).toContain('cooling-down');
    const until = scenario.manager.endpoint(BAD).state.cooldownUntilMs ?? 0;
    const countdown = row.locator('.countdown');
    await expect.poll(() => countdown.textContent()).toBe(mmss(until - scenario.clock.now()));
    // The endpoint's row counts down to the same deadline.
    expect(await page.locator(`#endpoints tr[data-actor="endpoint:${BAD}"] .countdown`).textContent()).toBe(mmss(until - scenario.clock.now()));
    // Time passes (simulated): the page follows within a tick.
    await scenario.advance(10_000);
    await expect.poll(() => countdown.textContent(), { timeout: 5_000 }).toBe(mmss(until - scenario.clock.now()));
    expect(await page.locator('#sessions tr[data-actor="session:s3"]').textContent()).toContain('websocket');
  });

  test("the chart of the selected endpoint highlights its state: coolingDown", async () => {
    await page.locator(`#endpoints tr[data-actor="endpoint:${BAD}"]`).click();
    await page.waitForSelector('svg#chart[data-chart="endpoint"]');
    expect(await page.locator('svg#chart g[data-state="coolingDown"].active').count()).toBe(1);
    const activeLeaves = await page.locator('svg#chart g.node.leaf.active').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-path')));
    expect(activeLeaves).toEqual(['coolingDown']);
    expect(await page.locator('#state-note').textContent()).toContain('coolingDown');
  });

  test("a session's chart highlights both regions: connection fallback and turn idle", async () => {
    await page.locator('#sessions tr[data-actor="session:s1"]').click();
    await page.waitForSelector('svg#chart[data-chart="session"]');
    const activeLeaves = await page.locator('svg#chart g.node.leaf.active').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-path')).sort());
    expect(activeLeaves).toEqual(['active.connection.fallback', 'active.turn.idle']);
    expect(await page.locator('svg#chart g[data-path="active"].active').count()).toBe(1);
  });

  test('live: the cooldown ends, the next probe fails again; clicking its timeline event shows the chart as at that moment', async () => {
    await page.locator(`#endpoints tr[data-actor="endpoint:${BAD}"]`).click();
    const until = scenario.manager.endpoint(BAD).state.cooldownUntilMs ?? 0;
    await scenario.advance(until - scenario.clock.now() + 1);
    await page.waitForSelector('svg#chart g[data-path="probing.awaitingProbe"].active');
    await scenario.turn('s1', BAD); // granted the probe, fails with 500 again
    await scenario.turn('s2', BAD); // denied: cooling down
    await page.waitForSelector('svg#chart g[data-state="coolingDown"].active');

    // The endpoint's timeline, newest first.
    await page.selectOption('#tl-actor', `endpoint:${BAD}`);
    const probeRow = page.locator(`#timeline tr.changed[data-actor="endpoint:${BAD}"][data-event="PROBE_REQUESTED"]`).first();
    await expect.poll(() => probeRow.textContent()).toContain('probing.probeInFlight');
    await probeRow.click();
    await page.waitForSelector('svg#chart g[data-path="probing.probeInFlight"].active');
    expect(await page.locator('svg#chart g[data-state="coolingDown"].active').count()).toBe(0);
    expect(await page.locator('svg#chart g[data-path="probing.awaitingProbe"].previous').count()).toBe(1);
    expect(await page.locator('#travel').getAttribute('class')).toBe('on');
    expect(await page.locator('#travel-text').textContent()).toContain('PROBE_REQUESTED');
    expect(await probeRow.getAttribute('class')).toContain('selected');

    // The failure right after it: the highlight moves to the cooldown, through the arrow that was taken.
    const failedRow = page.locator(`#timeline tr.changed[data-actor="endpoint:${BAD}"][data-event="UPGRADE_FAILED"]`).first();
    await failedRow.click();
    await page.waitForSelector('svg#chart g[data-state="coolingDown"].active');
    expect(await page.locator('svg#chart g[data-path="probing.probeInFlight"].previous').count()).toBe(1);
    expect(await page.locator('svg#chart g.edge.taken[data-target="coolingDown"]').count()).toBeGreaterThanOrEqual(1);

    // Back to live.
    await page.locator('#live-btn').click();
    expect(await page.locator('#travel').getAttribute('class')).toBe('');
    expect(await page.locator('svg#chart g[data-state="coolingDown"].active').count()).toBe(1);
  });

  test('the timeline filters by text', async () => {
    await page.selectOption('#tl-actor', '');
    await page.fill('#tl-text', 'UPGRADE_FAILED');
    const events = await page.locator('#timeline tbody tr[data-event]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-event')));
    expect(events.length).toBeGreaterThan(0);
    expect(new Set(events)).toEqual(new Set(['UPGRADE_FAILED']));
    await page.fill('#tl-text', '');
  });

  test('the probe history lists the failed probes and says whether the endpoint is in a loop', async () => {
    const failed = page.locator('#probe-table tr[data-result="failed"]');
    expect(await failed.count()).toBe(2);
    expect(await failed.first().textContent()).toContain('upgrade answered HTTP 500');
    expect(await page.locator('#probe-table tr[data-result="granted"]').count()).toBe(2);
    const verdict = await page.locator('#verdict').textContent();
    expect(verdict).toContain('2 failed probes in a row');
    expect(verdict).toContain('not a loop');
    expect(await page.locator('#strip span.r-failed').count()).toBe(2);
  });

  test('no token reaches the page; no script error', async () => {
    const html = await page.content();
    expect(html).not.toContain(SECRET_TOKEN);
    const state = await page.evaluate(() => document.body.innerText);
    expect(state).not.toContain(SECRET_TOKEN);
    expect(pageErrors).toEqual([]);
  });

  // The docs' copy is refreshed only on request (UPDATE_DOCS_SCREENSHOT=1), so a test run never dirties the tree.
  test('screenshot: test-output/inspector.png (and docs/images/inspector.png with UPDATE_DOCS_SCREENSHOT=1)', async () => {
    await page.locator(`#endpoints tr[data-actor="endpoint:${BAD}"]`).click();
    await page.selectOption('#tl-actor', '');
    await page.waitForSelector('svg#chart[data-chart="endpoint"] g[data-state="coolingDown"].active');
    mkdirSync(dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
    if (process.env['UPDATE_DOCS_SCREENSHOT'] === '1') {
      mkdirSync(dirname(DOCS_SCREENSHOT), { recursive: true });
      copyFileSync(SCREENSHOT, DOCS_SCREENSHOT);
    }
  });
});
