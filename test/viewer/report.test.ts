/**
 * The report page in a real browser (Debian's Chromium through playwright-core, browser.ts): a
 * report of seed-001 and seed-004 with two simulations' results (irqlab sim --json), a lasso through `irqlab view`, and
 * a 500-step schedule. Steps seed-004's counterexample with the keyboard to pi_test_on and reads
 * ON=0 in the inspector (c112b5f50232: SN cleared, ON not recomputed), checks seed-001's before
 * and after, that the plots are drawn, that the table sorts and filters, and that no page logs an
 * error or asks for anything over the network. Screenshots go to test-artifacts/viewer; the
 * 500-step trace's render and step times are printed (figures, not pass/fail).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { checkScenario, modelFor, resolveVariant, traceFileOf } from '../../src/check/session.ts';
import { RandomChooser } from '../../src/drive/chooser.ts';
import { REPORT_FORMAT_VERSION, type ReportData } from '../../src/report/data.ts';
import { reportHtml } from '../../src/report/html.ts';
import { viewSchedule } from '../../src/report/trace-view.ts';
import { loadScenario } from '../../src/scenarios/files.ts';
import { ARTIFACTS, type Browser, CHROMIUM, launch, type Opened, open } from './browser.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'irqlab-viewer-'));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, timeout: 60_000, maxBuffer: 1 << 26 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** A 500-step schedule of seed-004-loop (it runs forever), picked at random with seed 1. */
function longReport(file: string): void {
  const { scenario } = loadScenario('seed-004-loop');
  const nv = resolveVariant(scenario, 'after');
  const model = modelFor(scenario, nv.variant);
  const { view } = viewSchedule(model, new RandomChooser(1), 500, {
    id: 'long',
    title: 'seed-004-loop · after · 500 random steps',
    scenario: scenario.name,
    variant: 'after',
    knobs: '',
    actorVcpus: {},
  });
  assert.equal(view.entries.length, 500);
  const data: ReportData = {
    kind: 'irqlab-report',
    formatVersion: REPORT_FORMAT_VERSION,
    command: 'test: 500 steps',
    generated: new Date().toISOString(),
    version: '0',
    checks: [],
    traces: [view, { ...view, id: 'other', title: 'a second trace, so the first is not opened on load' }],
    pairs: [],
  };
  writeFileSync(file, reportHtml(data));
}

async function openTrace(page: Page, id: string): Promise<void> {
  await page.evaluate(`document.getElementById(${JSON.stringify(`trace:${id}`)}).open = true`);
  await page.waitForSelector(`.trace-viewer[data-trace="${id}"]`);
}

function clean(o: Opened, what: string): void {
  assert.deepEqual(o.consoleErrors, [], `${what}: console errors`);
  assert.deepEqual(o.requests, [], `${what}: network requests`);
}

describe('the report page in Chromium', () => {
  let browser: Browser;
  const report = join(tmp, 'report.html');
  const lassoJson = join(tmp, 'lasso.json');
  const lassoHtml = join(tmp, 'lasso.html');
  const long = join(tmp, 'long.html');

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    // seed-004-loop's lasso (README: a fair cycle with --properties no-lost-interrupt).
    const { scenario } = loadScenario('seed-004-loop');
    const lasso = checkScenario(scenario, resolveVariant(scenario, 'before'), {
      properties: ['no-lost-interrupt'],
    });
    assert.notEqual(lasso.counterexample?.loopStart, undefined);
    writeFileSync(lassoJson, JSON.stringify(traceFileOf(lasso)));
    // Real simulator output: two seeds' simulations, short (the plots, not the figures, are tested).
    const simJson = join(tmp, 'sim.json');
    const sim = await cli(
      'sim',
      'sim-004-preempted-posting',
      'sim-003-icr-fastpath',
      '--duration',
      '3ms',
      '--warmup',
      '500us',
      '--replications',
      '2',
      '--json',
    );
    assert.equal(sim.code, 0, sim.stderr);
    // A sweep as `irqlab sim --all` writes one: the posted-MSI loop limit, one preset per point,
    // made from a real run of its six presets.
    const msi = await cli(
      'sim',
      'sim-000-posted-msi',
      '--duration',
      '1ms',
      '--warmup',
      '100us',
      '--replications',
      '2',
      '--json',
    );
    assert.equal(msi.code, 0, msi.stderr);
    const suite = JSON.parse(sim.stdout);
    const limits = JSON.parse(msi.stdout);
    for (const [k, v] of limits.variants.entries())
      suite.results.push({ ...limits, variants: [v], differences: [], point: `loop limit ${k + 1}` });
    writeFileSync(simJson, JSON.stringify(suite));
    const [r, v] = await Promise.all([
      cli('report', 'seed-001', 'seed-004', '--sim-results', simJson, '--out', report),
      cli('view', lassoJson, '--out', lassoHtml),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\/.*report\.html \(\d+ KiB\)\n$/);
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `${lassoHtml}\n`);
    longReport(long);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('seed-004: stepping with the keyboard to pi_test_on shows ON=0, read by that step', async () => {
    const o = await open(browser, report);
    const { page } = o;
    await openTrace(page, 'seed-004/before');
    const viewer = page.locator('.trace-viewer[data-trace="seed-004/before"]');
    const labels = await viewer.locator('.text-trace li[data-step]').allTextContents();
    const k = labels.findIndex((l) => l.includes('pi_test_on')) + 1;
    assert.ok(k >= 1, 'the trace has a pi_test_on step');
    await viewer.focus();
    for (let i = 0; i < k; i++) await page.keyboard.press('ArrowRight');
    assert.equal(await viewer.getAttribute('data-step'), String(k));
    assert.match((await viewer.locator('.step-label').textContent()) ?? '', /pi_test_on/);
    const on = viewer.locator('.inspector tr[data-field="vcpu0.PID.ON"]');
    assert.equal(await on.locator('td').textContent(), '0');
    assert.match((await on.getAttribute('class')) ?? '', /\bread\b/);
    // The vector the IOMMU posted is in PIR: the descriptor the seed is about.
    assert.match((await viewer.locator('tr[data-field="vcpu0.PID.PIR"] td').textContent()) ?? '', /0x/);
    assert.match(
      (await viewer.locator('.diagram .row.current').getAttribute('data-step')) ?? '',
      new RegExp(`^${k}$`),
    );
    assert.match((await viewer.locator('.text-trace li.current').textContent()) ?? '', /pi_test_on/);
    // The slider moves with it, and moves it back.
    assert.equal(await viewer.locator('input.slider').inputValue(), String(k));
    await viewer.locator('input.slider').fill('0');
    assert.equal(await viewer.getAttribute('data-step'), '0');
    await viewer.focus();
    for (let i = 0; i < k; i++) await page.keyboard.press('ArrowRight');
    await viewer.screenshot({ path: join(ARTIFACTS, 'seed-004-pi_test_on.png') });
    clean(o, 'report');
    await page.close();
  });

  test('seed-001: before and after side by side', async () => {
    const o = await open(browser, report);
    const { page } = o;
    await page.evaluate(`document.querySelector('details.pair[data-scenario="seed-001"]').open = true`);
    const pair = page.locator('details.pair[data-scenario="seed-001"]');
    await pair.locator('.side.after .trace-viewer').waitFor();
    assert.match((await pair.locator('.side.before .verdict').textContent()) ?? '', /no-wrong-vcpu/);
    assert.match((await pair.locator('.side.after .verdict').textContent()) ?? '', /no property violated/);
    assert.match((await pair.locator('.side.after .fixed-verdict').textContent()) ?? '', /holds/);
    const steps = await pair.locator('.side.before .text-trace li[data-step]').count();
    assert.ok(steps > 0);
    await pair.locator('.side.before .trace-viewer').focus();
    await page.keyboard.press('End');
    await pair.locator('.side.after .trace-viewer').focus();
    await page.keyboard.press('End');
    await pair.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, 'seed-001-before-after.png') });
    clean(o, 'report');
    await page.close();
  });

  test('the plots are drawn, and the table sorts and filters', async () => {
    const o = await open(browser, report);
    const { page } = o;
    const sims = page.locator('#simulations');
    // The CDF: one line per variant, each a path with points.
    const lines = sims.locator('figure').first().locator('g[aria-label="line"] path');
    assert.equal(await lines.count(), 2);
    assert.ok(((await lines.first().getAttribute('d')) ?? '').length > 20);
    assert.ok((await sims.locator('svg').count()) >= 3);
    // The sweep: one section over the six points, each metric a line through six means.
    const sweep = sims.locator('section.sweep[data-scenario="sim-000-posted-msi"]');
    assert.equal(await sweep.count(), 1);
    assert.match(
      (await sweep.locator(':scope > h3').textContent()) ?? '',
      /over loop limit \(1, 2, 3, 4, 5, 6\)/,
    );
    const notifications = sweep
      .locator(':scope > .ci > .ci-grid > figure')
      .filter({ hasText: 'posted_msi_notifications (1/s)' })
      .locator('g[aria-label="dot"] circle');
    assert.equal(await notifications.count(), 6);
    // The points' own sections are folded under the sweep, not repeated six times at the top level.
    assert.equal(
      await sims.locator(':scope > .sims > section.sim[data-scenario="sim-000-posted-msi"]').count(),
      1,
    );
    await sims.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(ARTIFACTS, 'simulations.png') });
    const rows = page.locator('table.checks tbody tr');
    const all = await rows.count();
    assert.ok(all >= 4);
    await page.locator('input.filter').fill('seed-004 violated');
    assert.equal(await rows.count(), 1);
    assert.equal(await rows.first().getAttribute('data-scenario'), 'seed-004');
    await page.locator('input.filter').fill('');
    await page.locator('table.checks th', { hasText: 'states' }).click();
    const states = (await rows.locator('td.num:nth-child(7)').allTextContents()).map(Number);
    assert.deepEqual(
      states,
      [...states].sort((a, b) => a - b),
    );
    await page.screenshot({ path: join(ARTIFACTS, 'summary.png') });
    clean(o, 'report');
    await page.close();
  });

  test('irqlab view: a lasso marked in the diagram and the text trace', async () => {
    const o = await open(browser, lassoHtml);
    const { page } = o;
    const viewer = page.locator('.trace-viewer');
    assert.equal(await viewer.count(), 1, 'a single trace opens by itself');
    assert.equal(await viewer.locator('.diagram .lasso').count(), 1);
    assert.match((await viewer.locator('.loop-marker').textContent()) ?? '', /repeat forever/);
    assert.match((await viewer.locator('.verdict').textContent()) ?? '', /no-lost-interrupt \(liveness\)/);
    await viewer.screenshot({ path: join(ARTIFACTS, 'lasso.png') });
    clean(o, 'view');
    await page.close();
  });

  test('a 500-step trace: render and step times', async () => {
    const o = await open(browser, long);
    const { page } = o;
    // In-page code is given as strings: the tests are typed without the DOM library, and tsx
    // would wrap named arrow functions in a helper the page does not have.
    const load = (await page.evaluate(
      `(() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; })()`,
    )) as number;
    const openMs = (await page.evaluate(`(async () => {
      const t0 = performance.now();
      document.getElementById('trace:long').open = true;
      await new Promise((r) => {
        const wait = () => (document.querySelector('.trace-viewer') ? r() : requestAnimationFrame(wait));
        wait();
      });
      document.querySelector('.trace-viewer').getBoundingClientRect();
      await new Promise((r) => requestAnimationFrame(() => r(null)));
      return performance.now() - t0;
    })()`)) as number;
    const stepMs = (await page.evaluate(`(() => {
      const v = window.irqlab.viewers.get('long');
      const el = document.querySelector('.trace-viewer');
      const t0 = performance.now();
      for (let k = 1; k <= 500; k++) {
        v.go(k);
        el.getBoundingClientRect();
      }
      return (performance.now() - t0) / 500;
    })()`)) as number;
    const viewer = page.locator('.trace-viewer[data-trace="long"]');
    assert.equal(await viewer.getAttribute('data-step'), '500');
    await viewer.focus();
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) await page.keyboard.press('ArrowLeft');
    const keyMs = (performance.now() - t0) / 20;
    assert.equal(await viewer.getAttribute('data-step'), '480');
    // Both panes followed the step: its row and its line are inside their panes' visible area.
    const inView = await page.evaluate(`(() => {
      const v = document.querySelector('.trace-viewer[data-trace="long"]');
      const seen = (el, pane) => {
        const a = el.getBoundingClientRect();
        const b = pane.getBoundingClientRect();
        return a.top >= b.top - 1 && a.bottom <= b.bottom + 1;
      };
      return [
        seen(v.querySelector('.diagram .row.current'), v.querySelector('.diagram-pane')),
        seen(v.querySelector('.text-trace li.current'), v.querySelector('.text-pane')),
      ];
    })()`);
    assert.deepEqual(inView, [true, true]);
    console.log(
      `500-step trace: page load ${load.toFixed(0)} ms, viewer built and laid out ${openMs.toFixed(0)} ms, ` +
        `a step ${stepMs.toFixed(2)} ms (go + layout, mean of 500), a key press ${keyMs.toFixed(1)} ms round trip (mean of 20)`,
    );
    await viewer.screenshot({ path: join(ARTIFACTS, 'long-trace.png') });
    clean(o, 'long');
    await page.close();
  });
});
