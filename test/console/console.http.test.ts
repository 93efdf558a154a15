/**
 * The web console (issue 15) in headless Chromium (Debian's package, driven by playwright-core) against the local
 * stack, as its users would use it, with what the issue promises as the specification:
 * - the page opens with the key typed into its form (keyboard only) and with `#key=…`, which leaves the address bar
 *   and is never sent to the server; it lists the demo decision point `npm start` seeds;
 * - a wrong key, a key without admin scope, and an unreachable API each give a clear message;
 * - after `npm run simulate -- --through-stack` the learning charts draw the windows the API reports;
 * - an action retired from the page (after its confirmation) is no longer served: checked through the decisions API;
 * - a settings change the API refuses shows the API's reason and changes nothing;
 * - a retraining run (`npm run import` then `npm run retrain`) shows with its estimates, intervals, ESS and verdict,
 *   and its rollback, once confirmed, takes the active model back (checked through the API);
 * - every form field has a label, and at phone width the page does not scroll sideways.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGenWorld } from '../../cli/gen-world.ts';
import { runImport } from '../../cli/import.ts';
import { runRetrainCli } from '../../cli/retrain.ts';
import { runSimulate } from '../../cli/simulate.ts';
import { launchChromium } from '../../local/browser.ts';
import { DEMO_DECISION_POINT, seedDemo } from '../../local/demo.ts';
import { type LocalStack, startLocalStack } from '../../local/stack.ts';
import { World, worldSettings } from '../../sim/world.ts';
import { runCli } from '../support/cli.ts';
import { type Api, apiClient, waitFor } from '../support/http.ts';

process.env.NBA_LOG_LEVEL = 'silent';
const KEY = 'console-admin-key';
let stack: LocalStack;
let api: Api;
let browser: Browser;
let work: string;

const quiet = { stdout: { write: () => true }, stderr: { write: () => true } } as never;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'nba-console-'));
  // A data folder, so that `npm run retrain` can run on the stack's lake.
  stack = await startLocalStack({ apiKey: KEY, dataDir: join(work, 'data'), context: { modelRefreshMs: 100 } });
  api = apiClient(stack.url, KEY);
  await seedDemo(stack.url, KEY);
  browser = await launchChromium();
}, 240_000);
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

async function newPage(width = 1280, height = 900): Promise<{ context: BrowserContext; page: Page; sent: string[] }> {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  const sent: string[] = [];
  page.on('request', (r) => {
    sent.push(`${r.url()} ${JSON.stringify(r.headers())}`);
  });
  return { context, page, sent };
}

const consoleUrl = () => `${stack.url}/console/`;

/**
 * WCAG 2.x contrast of every visible element's own text against the first opaque background behind it, as rendered:
 * the elements whose ratio is below 4.5:1 (AA for normal text). Run in the page.
 */
const LOW_CONTRAST = `(() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || c[3] === 1) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || el.closest('[hidden]')) continue;
    const a = lum(rgb(style.color).slice(0, 3));
    const b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(el.tagName + ' "' + el.textContent.trim().slice(0, 30) + '" ' + ratio.toFixed(2));
  }
  return low;
})()`;

describe('the console', () => {
  it('opens with the key typed into its form, by keyboard alone, and lists the demo decision point', async () => {
    const { context, page } = await newPage();
    await page.goto(consoleUrl());
    const field = page.getByLabel('Admin API key');
    await field.waitFor();
    // Keyboard only: the field has focus when the form shows; Enter submits.
    expect(await page.evaluate('document.activeElement?.id')).toBe('key');
    await page.keyboard.type(KEY);
    await page.keyboard.press('Enter');
    await page.getByRole('button', { name: DEMO_DECISION_POINT }).waitFor();
    await page.locator('#actions-table').waitFor();
    const rows = await page.locator('#actions-table tbody tr').count();
    expect(rows).toBe(4);
    expect(await page.evaluate("sessionStorage.getItem('nba-console-key')")).toBe(KEY);
    // Every field has a label (the form's, the settings', the action form's, the period's).
    const unlabelled = await page.evaluate(
      "[...document.querySelectorAll('input, textarea, select')].filter((e) => e.labels.length === 0).map((e) => e.id)",
    );
    expect(unlabelled).toEqual([]);
    // Text contrast (WCAG AA) over the whole page as rendered, and on the sign-in form with its error message.
    expect(await page.evaluate(LOW_CONTRAST)).toEqual([]);
    await context.close();
  });

  it('takes the key from #key=…, removes it from the address bar, and never sends it in a URL', async () => {
    const { context, page, sent } = await newPage();
    await page.goto(`${consoleUrl()}#key=${KEY}`);
    await page.getByRole('button', { name: DEMO_DECISION_POINT }).waitFor();
    expect(page.url()).toBe(consoleUrl());
    const withKeyInUrl = sent.filter((s) => s.split(' ')[0]!.includes(KEY));
    expect(withKeyInUrl).toEqual([]);
    // It is sent, in the header, to the API only.
    expect(sent.some((s) => s.includes('/v1/decision-points') && s.includes(`"x-api-key":"${KEY}"`))).toBe(true);
    await context.close();
  });

  it('says clearly when the key is wrong, lacks admin scope, or the API cannot be reached', async () => {
    const { context, page } = await newPage();
    await page.goto(`${consoleUrl()}#key=not-a-key`);
    const alert = page.locator('#message');
    await alert.waitFor();
    expect(await alert.textContent()).toMatch(/API key was refused \(HTTP 401/);
    await page.getByLabel('Admin API key').waitFor();
    expect(await page.evaluate(LOW_CONTRAST)).toEqual([]);

    const created = await api.call('POST', '/v1/keys', { name: 'decide-only', scopes: ['decide'] });
    expect(created.status).toBe(201);
    await page.getByLabel('Admin API key').fill(created.body.secret);
    await page.getByRole('button', { name: 'Open console' }).click();
    await page.locator('#message', { hasText: 'HTTP 403' }).waitFor();
    expect(await alert.textContent()).toContain('Enter an admin key');

    await page.route('**/v1/**', (route) => route.abort('connectionrefused'));
    await page.getByLabel('Admin API key').fill(KEY);
    await page.getByRole('button', { name: 'Open console' }).click();
    await page.locator('#message', { hasText: 'could not be reached' }).waitFor();
    await context.close();
  });

  it('charts the learning series from real traffic after simulate --through-stack', async () => {
    const world = join(work, 'world');
    expect(await runGenWorld(['--seed', '3', '--rounds', '400', '--out', world], quiet)).toBe(0);
    const code = await runSimulate(
      [
        '--online',
        join(world, 'online.jsonl'),
        '--through-stack',
        stack.url,
        '--api-key',
        KEY,
        '--decision-point',
        'sim',
        '--max-rounds',
        '120',
      ],
      quiet,
    );
    expect(code).toBe(0);
    let windows: { start: string; decisions: number; meanReward: number | null; rewardEvents: number }[] = [];
    await waitFor(async () => {
      windows = (await api.call('GET', '/v1/decision-points/sim/learning?hours=6')).body.windows;
      return windows.reduce((n, w) => n + w.decisions, 0) === 120 && windows.some((w) => w.rewardEvents > 0);
    }, 60_000);

    const { context, page } = await newPage();
    await page.goto(`${consoleUrl()}?dp=sim#key=${KEY}`);
    await page.locator('#learning-charts canvas').first().waitFor();
    expect(await page.locator('#learning-charts figure').count()).toBe(4);
    // The reward chart's data table holds the API's hours and figures.
    const table = page.locator('#learning-charts figure').first().locator('details table');
    const column = (n: number) => table.locator(`tbody tr td:nth-child(${n})`).allTextContents();
    expect(await column(1)).toEqual(windows.map((w) => w.start.slice(0, 16).replace('T', ' ')));
    expect((await column(2)).map(Number)).toEqual(windows.map((w) => Number(w.meanReward!.toFixed(3))));
    const label = await page.locator('#learning-charts [role="img"]').first().getAttribute('aria-label');
    expect(label).toMatch(
      /^Reward per decision, per minute, \d+ windows?; latest: served policy [\d.]+, uniform serving/,
    );
    expect(await page.locator('#feedback-health').textContent()).toContain('Decisions in the period120');
    // Each action's share of recent traffic is the API's recent impressions over their total.
    const model = (await api.call('GET', '/v1/decision-points/sim/model')).body;
    expect(model.recent.total).toBe(120);
    const ids = await page
      .locator('#actions-table tbody tr')
      .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-action')));
    expect(ids.length).toBeGreaterThan(1);
    const shown = await page.locator('#actions-table tbody td.share').allTextContents();
    const share = (id: string | null) =>
      `${Number(((100 * (model.recent.byAction[id!] ?? 0)) / model.recent.total).toFixed(1)).toLocaleString('en')}%`;
    expect(shown).toEqual(ids.map(share));
    await context.close();
  });

  it('retires an action after confirmation, and the decisions API stops serving it', async () => {
    const { context, page } = await newPage();
    await page.goto(`${consoleUrl()}?dp=${DEMO_DECISION_POINT}#key=${KEY}`);
    await page.getByRole('button', { name: 'Retire spring-sale' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('Retire spring-sale from homepage?');
    // Cancel first: nothing changes.
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await api.call('GET', `/v1/decision-points/${DEMO_DECISION_POINT}/actions/spring-sale`)).body.status).toBe(
      'live',
    );
    await page.getByRole('button', { name: 'Retire spring-sale' }).click();
    await dialog.getByRole('button', { name: 'Retire spring-sale' }).click();
    await page.locator('tr[data-action="spring-sale"] td.status-retired').waitFor();

    const decide = async (i: number) => {
      const r = await api.call('POST', '/v1/decisions', {
        decisionPoint: DEMO_DECISION_POINT,
        userId: `console-${i}`,
        context: { segment: 'new' },
      });
      expect(r.status).toBe(200);
      return (r.body.ranking as { actionId: string }[]).map((x) => x.actionId);
    };
    let i = 0;
    await waitFor(async () => !(await decide(i++)).includes('spring-sale'), 10_000);
    for (let k = 0; k < 40; k++) expect(await decide(i++)).not.toContain('spring-sale');
    await context.close();
  });

  it('adds an action scheduled for tomorrow from the page: the API holds it scheduled and does not serve it', async () => {
    const { context, page } = await newPage();
    await page.goto(`${consoleUrl()}?dp=${DEMO_DECISION_POINT}#key=${KEY}`);
    await page.getByLabel('Action id').fill('summer-sale');
    await page.getByLabel('Features (JSON object)').fill('{"category": "promo", "discount": 0.3}');
    const start = new Date(Date.now() + 86_400_000);
    start.setUTCSeconds(0, 0);
    // The page's inputs are in the browser's time zone; the browser reports its offset for the instant.
    const offset = await page.evaluate<number>(`new Date(${start.getTime()}).getTimezoneOffset()`);
    const local = new Date(start.getTime() - offset * 60_000).toISOString().slice(0, 16);
    await page.getByLabel('Starts (your time zone; empty: now)').fill(local);
    await page.getByRole('button', { name: 'Save action' }).click();
    await page.locator('tr[data-action="summer-sale"] td.status-scheduled').waitFor();
    const stored = (await api.call('GET', `/v1/decision-points/${DEMO_DECISION_POINT}/actions/summer-sale`)).body;
    expect(stored.status).toBe('scheduled');
    expect(stored.startsAt).toBe(start.toISOString());
    expect(stored.features).toEqual({ category: 'promo', discount: 0.3 });
    const served = await api.call('POST', '/v1/decisions', {
      decisionPoint: DEMO_DECISION_POINT,
      userId: 'scheduled-check',
      context: {},
    });
    expect((served.body.ranking as { actionId: string }[]).map((r) => r.actionId)).not.toContain('summer-sale');
    // A refused input (features that are a string) is shown with the API's reason, and nothing is created.
    await page.getByLabel('Action id').fill('bad-one');
    await page.getByLabel('Features (JSON object)').fill('"just text"');
    await page.getByRole('button', { name: 'Save action' }).click();
    await page.locator('#action-error', { hasText: /HTTP 400/ }).waitFor();
    expect((await api.call('GET', `/v1/decision-points/${DEMO_DECISION_POINT}/actions/bad-one`)).status).toBe(404);
    await context.close();
  });

  it('shows the API’s reason for refused settings and changes nothing', async () => {
    const before = (await api.call('GET', `/v1/decision-points/${DEMO_DECISION_POINT}`)).body;
    const { context, page } = await newPage();
    await page.goto(`${consoleUrl()}?dp=${DEMO_DECISION_POINT}#key=${KEY}`);
    const settings = page.getByLabel(/^Settings \(version/);
    await settings.waitFor();
    await settings.fill(JSON.stringify({ ...before.settings, attributionWindowSeconds: -5 }));
    await page.getByRole('button', { name: 'Save settings' }).click();
    await page.locator('#settings-error', { hasText: /\S/ }).waitFor();
    expect(await page.locator('#settings-error').textContent()).toMatch(/HTTP 400: .*attributionWindowSeconds/);
    const after = (await api.call('GET', `/v1/decision-points/${DEMO_DECISION_POINT}`)).body;
    expect(after.version).toBe(before.version);
    await context.close();
  });

  it('shows a retraining run with its estimates and rolls it back after confirmation', async () => {
    const dp = 'offline';
    expect((await api.call('PUT', `/v1/decision-points/${dp}`, worldSettings())).status).toBe(201);
    const history = join(work, 'history.jsonl');
    const world = new World({ seed: 7, rounds: 10, historyRounds: 1500 });
    await writeFile(history, `${[...world.history()].map((l) => JSON.stringify(l)).join('\n')}\n`);
    const lake = join(work, 'data');
    const imported = await runCli(runImport, [
      ...['--format', 'jsonl', history, '--decision-point', dp, '--lake', lake, '--create-actions'],
      ...['--url', stack.url, '--key', KEY],
    ]);
    expect(imported.code, imported.err).toBe(0);
    // --force: this test is about the page, not the gate; a promoted model is what a rollback needs.
    const trained = await runCli(runRetrainCli, ['--decision-point', dp, '--data-dir', lake, '--force', '--json']);
    expect(trained.code, trained.err).toBe(0);
    const before = (await api.call('GET', `/v1/decision-points/${dp}/evaluations`)).body;
    const active = before.activeVersion as string;
    expect(active).toBeTruthy();

    const { context, page } = await newPage();
    await page.goto(`${consoleUrl()}?dp=${dp}#key=${KEY}`);
    const run = page.locator('#runs-panel article').first();
    await run.waitFor();
    expect(await run.textContent()).toContain(active);
    expect(await run.locator('.promoted').textContent()).toBe('promoted');
    // One row per evaluated policy, each with its estimate, interval, lower bound and ESS as the API reports them.
    const policies = before.evaluations[0].policies as { name: string; ess: number | null }[];
    expect(await run.locator('tbody tr th').allTextContents()).toEqual(policies.map((p) => p.name));
    // How the run chose the serving settings, as the API says it.
    expect(await run.textContent()).toContain(`Serving settings: ${before.evaluations[0].exploration.why}.`);
    await page.getByRole('button', { name: 'Roll back…' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toContain(`from offline model ${active}`);
    await dialog.getByRole('button', { name: 'Roll back' }).click();
    await page.locator('#message', { hasText: /^Rolled back/ }).waitFor();
    const after = (await api.call('GET', `/v1/decision-points/${dp}/evaluations`)).body;
    expect(after.activeVersion).not.toBe(active);
    await context.close();
  }, 180_000);

  it('fits a phone: nothing scrolls sideways at 390 px', async () => {
    const { context, page } = await newPage(390, 844);
    await page.goto(`${consoleUrl()}?dp=${DEMO_DECISION_POINT}#key=${KEY}`);
    await page.locator('#actions-table').waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await context.close();
  });
});
