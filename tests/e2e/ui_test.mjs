// ui_test.mjs — browser test of the Usage Copilot UI against real daemons.
// ctest: e2e.ui (tests/e2e/ui.cmake).
//
// Starts the whole cluster on the fixture DB with `copilot up` (every daemon a
// real process), drives Debian's Chromium with playwright-core (no browser
// download), and checks what a person would: sign-in (a wrong token is
// refused), the sidebar (pillars, planned reports disabled, filter), then for
// each of the five reference reports: KPIs equal the API's, the Vega-Lite chart
// renders, a click on a chart mark and on a table row selects that entity,
// the chips sit in the lanes Understand/Diagnose/Optimize/Monitor with their
// exact prompts, and a chip click yields an answer with text and citations.
// Then: parameters (from date) change the result and the URL, the debug
// toggle shows SQL/prompt/context/subgraph/hits, the export downloads the
// commentary as Markdown, the live event stream is connected, and no script
// injection runs (a free question and a rendered answer carrying
// <img onerror>/<script>/javascript: links). Screenshots go to the artifacts
// directory; the job_cost one becomes docs/screenshot.png when that file is
// missing or COPILOT_E2E_UPDATE_SCREENSHOT=1. `copilot down` always runs.
//
// Exit: 0 all checks passed, 1 a check failed, 77 (skip) when Chromium is
// missing. Prints "N passed, M failed" last.
//
//   node ui_test.mjs --copilot <bin/copilot> --db <fixture.db> --artifacts <dir>
//                    [--screenshot <docs/screenshot.png>]
// Developing against a running cluster instead: COPILOT_E2E_URL, COPILOT_E2E_TOKEN.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const CHROMIUM = process.env.COPILOT_CHROMIUM || '/usr/bin/chromium';
const COPILOT = args.copilot || process.env.COPILOT_BIN;
const DB = args.db || process.env.COPILOT_FIXTURE_DB;
const ARTIFACTS = path.resolve(args.artifacts || 'tests/e2e/artifacts');
const SCREENSHOT = args.screenshot ? path.resolve(args.screenshot) : '';
const REPORTS = ['job_cost', 'compute_type_cost', 'job_cost_pareto', 'spot_risk_by_job', 'anomaly_detection'];
const LANES = ['Understand', 'Diagnose', 'Optimize', 'Monitor'];
const DEADLINE = Date.now() + 270_000;   // below the ctest TIMEOUT, so cleanup always runs

if (!fs.existsSync(CHROMIUM)) {
  console.log(`SKIP: ${CHROMIUM} not found (install Debian's chromium: deploy/install-deps.sh --test)`);
  process.exit(77);
}
let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  console.error(`playwright-core is not installed in tests/e2e (run deploy/install-deps.sh --test): ${e.message}`);
  process.exit(1);
}

// ---- results ------------------------------------------------------------------
let passed = 0;
const failures = [];
function ok(cond, what, detail = '') {
  if (cond) {
    passed++;
    console.log(`ok   ${what}`);
  } else {
    failures.push(`${what}${detail ? `: ${detail}` : ''}`);
    console.log(`FAIL ${what}${detail ? `: ${detail}` : ''}`);
  }
  return cond;
}
async function step(name, fn) {
  if (Date.now() > DEADLINE) {
    ok(false, name, 'skipped: internal deadline reached');
    return;
  }
  const t0 = Date.now();
  try {
    await fn();
    console.log(`---- ${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    ok(false, name, String(e && e.stack ? e.stack.split('\n').slice(0, 3).join(' | ') : e));
  }
}

// ---- cluster --------------------------------------------------------------------
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-e2e-'));
const dataDir = path.join(tmp, 'data');
let url = process.env.COPILOT_E2E_URL || '';
let token = process.env.COPILOT_E2E_TOKEN || '';
let clusterUp = false;

function down() {
  if (!clusterUp) return;
  clusterUp = false;
  const r = spawnSync(COPILOT, ['down', '--data-dir', dataDir], { encoding: 'utf8', timeout: 30_000 });
  console.log(`copilot down: exit ${r.status} ${(r.stdout || '').trim()} ${(r.stderr || '').trim()}`);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    down();
    process.exit(1);
  });
}

function up() {
  if (!COPILOT || !fs.existsSync(COPILOT)) throw new Error(`copilot binary not found (${COPILOT}); pass --copilot`);
  if (!DB || !fs.existsSync(DB)) throw new Error(`fixture DB not found (${DB}); pass --db`);
  clusterUp = true;   // from here on, always try `copilot down`
  // The report-service publishes the alerts it finds at start-up after
  // report_service.alert_delay_ms (default 1 s), before `copilot up` has
  // started the gateway: nobody hears those events. The alerts panel must
  // still list them (GET /api/v1/alerts reads report-service's published
  // list), so the default delay is kept on purpose.
  const env = { ...process.env };
  const r = spawnSync(COPILOT, ['up', '--db', DB, '--data-dir', dataDir, '--http-port', '0', '--replicas', '1'],
    { encoding: 'utf8', timeout: 180_000, env });
  const out = r.stdout || '';
  const u = /^url=(\S+)$/m.exec(out);
  const t = /^token=([0-9a-f]{16,})$/m.exec(out);
  if (r.status !== 0 || !u || !t) {
    const logs = path.join(dataDir, 'logs');
    let tail = '';
    if (fs.existsSync(logs)) {
      for (const f of fs.readdirSync(logs)) {
        const text = fs.readFileSync(path.join(logs, f), 'utf8').trim().split('\n').slice(-3).join('\n    ');
        tail += `\n  ${f}:\n    ${text}`;
      }
    }
    throw new Error(`copilot up failed (exit ${r.status}): ${out} ${r.stderr}${tail}`);
  }
  url = u[1];
  token = t[1];
}

async function api(p) {
  const res = await fetch(new URL(p, url), { headers: { Authorization: `Bearer ${token}` } });
  const body = await res.json();
  if (!res.ok) throw new Error(`GET ${p}: HTTP ${res.status} ${JSON.stringify(body)}`);
  return body;
}

// ---- browser helpers -------------------------------------------------------------
const consoleErrors = [];
const pageErrors = [];
const cspViolations = [];

/** Key of a chart datum in the report's selection id scheme (test's own mapping). */
function datumKey(reportId, d) {
  if (!d) return '';
  if (reportId === 'compute_type_cost') return d.compute_type || '';
  if (reportId === 'anomaly_detection') {
    let date = d.usage_date;
    if (typeof date === 'number') date = new Date(date).toISOString().slice(0, 10);
    return d.entity_id && date ? `${d.entity_id}:${date}` : '';
  }
  return d.job_id || '';
}

async function clickChartMark(page, reportId, selIds) {
  // Every rendered mark item: its datum and the centre of its box, when the
  // element at that point is the mark itself (not covered by another mark).
  const marks = await page.evaluate(() => {
    const out = [];
    const els = document.querySelectorAll('#chart svg .role-mark path, #chart svg .role-mark rect, #chart svg .role-mark text');
    for (const el of els) {
      const item = el.__data__;
      const d = item && item.datum;
      if (!d) continue;
      const r = el.getBoundingClientRect();
      if (r.width < 2 || r.height < 2) continue;
      const cx = r.left + r.width / 2;
      const cy = r.top + r.height / 2;
      const hit = document.elementFromPoint(cx, cy);
      if (hit !== el && !el.contains(hit)) continue;
      const plain = {};
      for (const [k, v] of Object.entries(d)) plain[k] = v instanceof Date ? v.getTime() : v;
      out.push({ cx, cy, d: plain, tag: el.tagName });
    }
    return out;
  });
  const target = marks.find((m) => selIds.includes(datumKey(reportId, m.d)));
  if (!target) return { clicked: false, marks: marks.length };
  await page.mouse.click(target.cx, target.cy);
  return { clicked: true, key: datumKey(reportId, target.d), marks: marks.length };
}

async function waitAnswer(page, count) {
  await page.waitForFunction((n) => {
    const a = document.querySelectorAll('#history article.answer');
    return a.length >= n && a[0].dataset.state !== 'pending';
  }, count, { timeout: 120_000 });
  return page.evaluate(() => {
    const a = document.querySelector('#history article.answer');
    return {
      state: a.dataset.state,
      text: (a.querySelector('.answer-body') || {}).textContent || '',
      error: (a.querySelector('.error-box') || {}).textContent || '',
      sources: a.querySelectorAll('.sources li').length,
      evidence: a.querySelectorAll('.evidence li').length,
      grounding: (a.querySelector('.grounding') || {}).textContent || '',
      meta: (a.querySelector('.answer-meta') || {}).textContent || '',
      debug: a.querySelectorAll('.debug details').length,
      debugPrompt: (a.querySelectorAll('.debug details pre')[1] || {}).textContent || '',
      hasImg: a.querySelectorAll('img, script, iframe').length,
    };
  });
}

// ---- the test ----------------------------------------------------------------------
let context;
try {
  if (!url) up();
  console.log(`cluster: ${url}`);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const registry = await api('api/v1/reports');
  const profile = path.join(tmp, 'chromium-profile');
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
    viewport: { width: 1600, height: 1000 },
    acceptDownloads: true,
    timeout: 60_000,
  });
  const page = context.pages()[0] || await context.newPage();
  page.setDefaultTimeout(20_000);
  page.on('console', (m) => {
    const text = m.text();
    if (/Content Security Policy/i.test(text)) cspViolations.push(text);
    if (m.type() === 'error') consoleErrors.push(text);
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));

  await step('sign-in', async () => {
    await page.goto(url);
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('#login-token', 'f'.repeat(64));
    await page.click('#login-submit');
    await page.waitForSelector('#login-error:not([hidden])');
    ok(/refused|401/.test(await page.textContent('#login-error')), 'a wrong token is refused with a visible message');
    await page.fill('#login-token', token);
    await page.click('#login-submit');
    await page.waitForSelector('#app:not([hidden])');
    ok(true, 'the right token opens the app');
  });

  await step('sidebar', async () => {
    await page.waitForSelector('#report-list .report-item');
    const items = await page.$$eval('#report-list .report-item', (els) => els.map((e) => ({ id: e.dataset.report, disabled: e.disabled })));
    const planned = registry.reports.filter((r) => r.status !== 'available').map((r) => r.id);
    ok(items.length === registry.reports.length, 'every registry report is listed', `${items.length} vs ${registry.reports.length}`);
    ok(items.filter((i) => i.disabled).map((i) => i.id).join() === planned.join(), 'planned reports are disabled');
    const pillars = await page.$$eval('#report-list .pillar h3', (els) => els.length);
    ok(pillars === new Set(registry.reports.map((r) => r.pillar)).size, 'reports are grouped by pillar', `${pillars} groups`);
    await page.fill('#report-filter', 'pareto');
    const filtered = await page.$$eval('#report-list .report-item', (els) => els.map((e) => e.dataset.report));
    ok(filtered.join() === 'job_cost_pareto', 'the filter box narrows the list', filtered.join());
    await page.fill('#report-filter', '');
  });

  await step('live events', async () => {
    await page.waitForSelector('#live-status[data-state="open"]', { timeout: 15_000 });
    ok(true, 'the SSE stream (fetch with Authorization header) is open');
  });

  let answers = 0;
  for (const id of REPORTS) {
    await step(`report ${id}`, async () => {
      const expected = await api(`api/v1/reports/${id}`);
      await page.click(`#report-list .report-item[data-report="${id}"]`);
      await page.waitForSelector(`#report[data-state="ready"][data-report="${id}"]`, { timeout: 30_000 });
      const kpis = await page.$$eval('#kpis .kpi', (els) => els.map((e) => [e.querySelector('.kpi-label').textContent, e.querySelector('.kpi-value').textContent]));
      ok(kpis.length > 0 && JSON.stringify(kpis) === JSON.stringify(expected.kpis.map((k) => [k.label, k.text])),
        `${id}: KPIs shown equal the API's`, JSON.stringify(kpis));
      // Rendered, or the UI reported why not.
      await page.waitForFunction(() => document.querySelector('#chart[data-rendered="true"] svg .role-mark')
        || document.querySelector('#chart-msg .error'), null, { timeout: 20_000 }).catch(() => {});
      const chartOk = Boolean(await page.$('#chart[data-rendered="true"] svg .role-mark'));
      ok(chartOk, `${id}: the Vega-Lite chart renders`, chartOk ? '' : await page.textContent('#chart-msg'));
      const selIds = expected.selections.map((s) => s.entity_id);
      ok(selIds.length > 0, `${id}: the report offers selections`, String(selIds.length));
      if (chartOk) {
        const r = await clickChartMark(page, id, selIds);
        ok(r.clicked, `${id}: found a visible chart mark standing for a selection`, `${r.marks} marks`);
        if (r.clicked) {
          const sel = expected.selections.find((s) => s.entity_id === r.key);
          const want = `${sel.entity_type}:${sel.entity_id}`;
          await page.waitForFunction((w) => document.querySelector('#report').dataset.selected === w, want, { timeout: 5000 }).catch(() => {});
          const got = await page.evaluate(() => [document.querySelector('#report').dataset.selected, document.querySelector('#report').dataset.selectedVia]);
          ok(got[0] === want && got[1] === 'chart', `${id}: clicking the mark selects ${want}`, got.join(' via '));
        }
      }
      // A table row selects too (pick a row for another entity than the current one).
      const current = await page.evaluate(() => document.querySelector('#report').dataset.selected || '');
      const row = await page.$(`#tables .table-wrap:not([data-table="rows"]) tr.selectable:not([data-entity="${current}"])`)
        || await page.$(`#tables tr.selectable:not([data-entity="${current}"])`);
      ok(Boolean(row), `${id}: a table row maps to a selection`);
      if (row) {
        const want = await row.getAttribute('data-entity');
        await row.scrollIntoViewIfNeeded();
        await row.click();
        const got = await page.evaluate(() => [document.querySelector('#report').dataset.selected, document.querySelector('#report').dataset.selectedVia]);
        ok(got[0] === want && got[1] === 'table', `${id}: clicking a table row selects ${want}`, got.join(' via '));
      }
      const selectedKey = await page.evaluate(() => document.querySelector('#report').dataset.selected || '');
      const sel = expected.selections.find((s) => `${s.entity_type}:${s.entity_id}` === selectedKey);
      ok(Boolean(sel), `${id}: a selection is active`, selectedKey);
      if (!sel) return;
      const lanes = await page.$$eval('#chips .lane h4', (els) => els.map((e) => e.textContent));
      ok(lanes.join() === LANES.join(), `${id}: chip lanes in order ${LANES.join(', ')}`, lanes.join());
      const chips = await page.$$eval('#chips .chip', (els) => els.map((e) => ({
        id: e.dataset.chip, lane: e.closest('.lane').dataset.lane, title: e.querySelector('.chip-btn').title,
      })));
      const apiChips = sel.chips.map((c) => ({ id: c.id, lane: LANES.includes(c.lane) ? c.lane : 'Diagnose', title: c.prompt }));
      const byLane = (list) => LANES.flatMap((l) => list.filter((c) => c.lane === l));
      ok(JSON.stringify(chips) === JSON.stringify(byLane(apiChips)),
        `${id}: the ${apiChips.length} chips are shown by lane with their exact prompts on hover`);
      await page.click('#chips .chip .chip-peek');
      const shown = await page.$eval('#chips .chip .chip-prompt', (e) => (e.hidden ? '' : e.textContent));
      ok(shown === byLane(apiChips)[0].title, `${id}: expanding a chip shows its exact prompt`);
      if (id === 'job_cost') await page.check('#debug-toggle');
      const before = await page.$$eval('#history article.answer', (els) => els.length);
      await page.click('#chips .chip .chip-btn');
      const a = await waitAnswer(page, before + 1);
      answers++;
      ok(a.state === 'done', `${id}: the chip's answer arrives`, a.error);
      ok(a.text.trim().length > 40, `${id}: the answer has text`, `${a.text.length} chars`);
      ok(a.sources + a.evidence > 0, `${id}: the answer cites sources`, `${a.sources} sources, ${a.evidence} evidence rows`);
      ok(/Grounded|grounded/.test(a.grounding), `${id}: the grounding result is shown`, a.grounding);
      ok(/ms/.test(a.meta) && a.meta.length > 5, `${id}: provider/model/latency/tokens are shown`, a.meta);
      if (id === 'job_cost') {
        ok(a.debug === 5 && a.debugPrompt.length > 100, 'debug: SQL, prompt, context, subgraph and hits are shown', `${a.debug} blocks`);
        const sqlShown = await page.$eval('#report-debug', (e) => e.textContent);
        ok(/select/i.test(sqlShown), 'debug: the report SQL is shown');
        await page.uncheck('#debug-toggle');
      }
      // Screenshot of the top of the page: KPIs, chart, chips and the answer.
      await page.click('#chips .chip .chip-peek');
      await page.evaluate(() => {
        window.scrollTo(0, 0);
        document.querySelector('.sidebar').scrollTop = 0;
      });
      await page.setViewportSize({ width: 1600, height: 1250 });
      await page.screenshot({ path: path.join(ARTIFACTS, `${id}.png`), fullPage: false });
      await page.setViewportSize({ width: 1600, height: 1000 });
      if (id === 'job_cost' && SCREENSHOT && (!fs.existsSync(SCREENSHOT) || process.env.COPILOT_E2E_UPDATE_SCREENSHOT === '1')) {
        fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
        fs.copyFileSync(path.join(ARTIFACTS, `${id}.png`), SCREENSHOT);
        console.log(`wrote ${SCREENSHOT}`);
      }
    });
  }

  await step('parameters', async () => {
    await page.click('#report-list .report-item[data-report="job_cost"]');
    await page.waitForSelector('#report[data-state="ready"][data-report="job_cost"]');
    const expected = await api('api/v1/reports/job_cost?from=2025-12-01');
    await page.fill('#param-from', '2025-12-01');
    await page.click('#params-form button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('#report-meta').textContent.includes('from 2025-12-01'));
    await page.waitForSelector('#report[data-state="ready"]');
    const kpis = await page.$$eval('#kpis .kpi-value', (els) => els.map((e) => e.textContent));
    ok(JSON.stringify(kpis) === JSON.stringify(expected.kpis.map((k) => k.text)), 'a from date re-runs the report (KPIs equal the API\'s)', kpis.join(' '));
    ok((await page.evaluate(() => location.hash)).includes('from=2025-12-01'), 'the parameters are in the URL');
    await page.fill('#param-from', '2025-12-31');
    await page.fill('#param-to', '2025-12-01');
    await page.click('#params-form button[type="submit"]');
    await page.waitForSelector('#report-error .error-box');
    ok(/400/.test(await page.textContent('#report-error')), 'a bad date range shows the gateway\'s 400 error');
    await page.click('#params-reset');
    await page.waitForSelector('#report[data-state="ready"]');
  });

  await step('no script injection', async () => {
    const evil = 'Is <img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script> [x](javascript:window.__pwned=3) safe?';
    const before = await page.$$eval('#history article.answer', (els) => els.length);
    await page.fill('#ask-input', evil);
    await page.click('#ask-submit');
    const a = await waitAnswer(page, before + 1);
    ok(a.state === 'done' || a.state === 'error', 'a free question gets an answer', a.error);
    const shownQuestion = await page.$eval('#history article.answer .answer-prompt pre', (e) => e.textContent);
    ok(shownQuestion === evil, 'the question is shown as literal text');
    // The renderer itself, with hostile Markdown, in the page.
    const r = await page.evaluate(async () => {
      const md = await import('./md.js');
      const box = document.createElement('div');
      box.id = 'xss-probe';
      document.body.append(box);
      box.append(md.renderMarkdown('# t\n<img src=x onerror="window.__pwned=4">\n\n<script>window.__pwned=5</script>\n\n'
        + '[a](javascript:window.__pwned=6) ![i](https://127.0.0.1:1/p.png) <svg onload="window.__pwned=7">\n\n'
        + '| <img src=x onerror="window.__pwned=8"> |\n|---|\n| x |'));
      await new Promise((res) => setTimeout(res, 500));
      const links = [...box.querySelectorAll('a')].map((x) => x.getAttribute('href'));
      const out = { pwned: window.__pwned, bad: box.querySelectorAll('img, script, svg, iframe').length, links, text: box.textContent.includes('<img src=x') };
      box.remove();
      return out;
    });
    const pwned = await page.evaluate(() => window.__pwned);
    ok(pwned === undefined && r.pwned === undefined, 'no injected script ran', String(pwned ?? r.pwned));
    ok(r.bad === 0 && a.hasImg === 0, 'no img/script/svg element came from answers or questions');
    ok(r.links.every((h) => /^https?:\/\//.test(h)), 'rendered links are http(s) only', r.links.join(' '));
    ok(r.text, 'raw HTML stays visible as text');
  });

  await step('export', async () => {
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#export-md')]);
    const file = path.join(ARTIFACTS, 'commentary-export.md');
    await dl.saveAs(file);
    const text = fs.readFileSync(file, 'utf8');
    ok(text.startsWith('# Usage Copilot — commentary') && (text.match(/^## \d+\. /gm) || []).length >= answers,
      'export downloads the session\'s commentary as Markdown', `${text.length} bytes`);
  });

  await step('alerts', async () => {
    // The start-up alerts were published before the gateway subscribed; the
    // panel lists them from GET /api/v1/alerts: the fixture's 10 anomalies.
    const expectAlerts = clusterUp;
    let n = 0;
    try {
      await page.waitForFunction(() => document.querySelectorAll('#alerts-list li').length >= 10,
        null, { timeout: expectAlerts ? 30_000 : 1000 });
    } catch {
      // counted below
    }
    n = await page.$$eval('#alerts-list li', (els) => els.length);
    console.log(`info alerts in the panel: ${n}`);
    if (expectAlerts) ok(n === 10, 'the fixture\'s 10 start-up alerts are in the alerts panel (published before the gateway subscribed)', String(n));
    if (n > 0) {
      const count = await page.textContent('#alerts-count');
      ok(count === String(n), 'the alert count matches the list', count);
      await page.click('#alerts-list li .alert-btn');
      await page.waitForSelector('#report[data-state="ready"][data-report="anomaly_detection"]');
      await page.waitForFunction(() => Boolean(document.querySelector('#report').dataset.selected), null, { timeout: 5000 }).catch(() => {});
      const sel = await page.evaluate(() => document.querySelector('#report').dataset.selected || '');
      ok(sel.startsWith('anomaly:'), 'clicking an alert opens its report and selects the anomaly', sel);
      await page.screenshot({ path: path.join(ARTIFACTS, 'alerts.png'), fullPage: false });
    }
  });

  await page.screenshot({ path: path.join(ARTIFACTS, 'final.png'), fullPage: true });
  ok(pageErrors.length === 0, 'no uncaught page errors', pageErrors.join(' | '));
  ok(cspViolations.length === 0, 'no Content-Security-Policy violations', cspViolations.join(' | '));
  const unexpected = consoleErrors.filter((t) => !/status of 40[01]/.test(t));
  ok(unexpected.length === 0, 'no console errors (besides the provoked 400/401)', unexpected.join(' | '));
} catch (e) {
  ok(false, 'e2e run', String(e && e.stack ? e.stack : e));
} finally {
  if (context) await context.close().catch(() => {});
  down();
  const logs = path.join(dataDir, 'logs');
  if (fs.existsSync(logs)) fs.cpSync(logs, path.join(ARTIFACTS, 'logs'), { recursive: true });
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`artifacts: ${ARTIFACTS}`);
if (failures.length) console.log(`failures:\n  ${failures.join('\n  ')}`);
console.log(`${passed} passed, ${failures.length} failed`);
process.exit(failures.length ? 1 : 0);
