// app.js — the Usage Copilot web UI (plain ES modules, no framework).
//
// Data flow: every view is a rendering of `state`, filled only from the
// gateway's JSON API (/api/v1, bearer token). Nothing is invented here:
// KPIs, charts (Vega-Lite specs), tables, selections and chips (with their
// exact prompts) come from the report-service through GET /reports/{id};
// answers, sources, grounding and debug blocks from POST /explain; alerts
// from the SSE stream GET /events. A failing route shows its HTTP status
// and the gateway's {error:{code,message}} in the pane that needed it.
//
// Safety: API text reaches the page only as text nodes (dom.js h()) or
// through md.js (answers), which never parses HTML. Charts render with
// Vega's AST interpreter (no eval, so the CSP forbids it) and a loader that
// refuses every URL, so a spec cannot fetch anything.
//
// Token: a login box; the token lives in sessionStorage (this tab only) and
// is sent as Authorization: Bearer. Any 401 returns to the login box.
//
// URL: #/<report>?from=..&to=..&workspace=..&as_of=.. mirrors the report
// and its parameters, so a view can be bookmarked or shared.

import { h, clear, replace } from './dom.js';
import { renderMarkdown, safeHref } from './md.js';
import { connectEventStream } from './sse.js';

const LANES = ['Understand', 'Diagnose', 'Optimize', 'Monitor'];
const TOKEN_KEY = 'copilot.token';
const SESSION_KEY = 'copilot.session';
const DEBUG_KEY = 'copilot.debug';
const LAST_EVENT_KEY = 'copilot.lastEventId';
const MAX_TABLE_ROWS = 1000;
const MAX_ALERTS = 100;

const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  role: '',
  sessionId: '',
  reports: [],
  reportId: '',
  params: {},          // user-set parameters of the current report (strings)
  result: null,        // last ReportResult
  selection: null,     // one of result.selections
  debug: sessionStorage.getItem(DEBUG_KEY) === '1',
  history: [],         // answers of this session, oldest first
  alerts: [],
  workspaces: new Set(),
  seq: 0,              // report request sequence (stale replies are ignored)
  reportAbort: null,
  embed: null,         // vega-embed result of the current chart
  events: null,        // AbortController of the event stream
};

// ------------------------------------------------------------------ API --

class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId || '';
  }
}

async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json', Authorization: `Bearer ${state.token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, signal, cache: 'no-store',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `the gateway did not answer (${e.message})`);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    const e = new ApiError(res.status, err.code || `http_${res.status}`,
      err.message || text.slice(0, 300) || res.statusText, err.request_id);
    if (res.status === 401) signOut('Your token was refused (401). Sign in again.');
    throw e;
  }
  if (data === null) throw new ApiError(res.status, 'bad_json', 'the gateway sent a body that is not JSON');
  return data;
}

function errorBox(e, what) {
  if (e instanceof ApiError) {
    return h('div', { class: 'error-box', role: 'alert', dataset: { status: e.status, code: e.code } },
      h('strong', null, `${what} failed: `),
      e.status ? `HTTP ${e.status} ` : '', `${e.code} — ${e.message}`,
      e.requestId ? h('span', { class: 'rid' }, ` (request ${e.requestId})`) : null);
  }
  return h('div', { class: 'error-box', role: 'alert' }, h('strong', null, `${what} failed: `),
    String(e && e.message ? e.message : e));
}

// ------------------------------------------------------------ formatting --

const fmtUsd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 2 });
const fmtInt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const fmtNum = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });
const fmtPct = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1, minimumFractionDigits: 1 });

function fmtCell(name, v) {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  if (/(^|_)(usd|cost|benefit|premium)(_|$)/.test(name) && !/ratio|pct/.test(name)) return fmtUsd.format(v);
  if (/(^|_)pct(_|$)/.test(name)) return `${fmtPct.format(v)}%`;
  if (Number.isInteger(v)) return fmtInt.format(v);
  return fmtNum.format(v);
}

function titleCase(s) {
  return String(s || '').replace(/\b\w/g, (c) => c.toUpperCase());
}

function isoDate(d) {
  return d.toISOString().slice(0, 10);
}

function now() {
  return new Date();
}

// ---------------------------------------------------------------- login --

function showLogin(message) {
  $('app').hidden = true;
  $('logout').hidden = true;
  $('whoami').textContent = '';
  $('login').hidden = false;
  const err = $('login-error');
  err.hidden = !message;
  err.textContent = message || '';
  $('login-token').focus();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = '';
  if (state.events) state.events.abort();
  state.events = null;
  setLive('idle', '');
  showLogin(message);
}

async function signIn(token) {
  state.token = token;
  const who = await api('api/v1/whoami');
  state.role = who.role || 'viewer';
  sessionStorage.setItem(TOKEN_KEY, token);
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  $('whoami').textContent = `role: ${state.role}`;
  if (!state.sessionId) {
    state.sessionId = sessionStorage.getItem(SESSION_KEY) || newSessionId();
    sessionStorage.setItem(SESSION_KEY, state.sessionId);
  }
  startEvents();
  loadAlerts();
  await loadReports();
  restoreHistory();
}

// Alerts published before this page (or the gateway) subscribed never arrive
// as events: read the newest ones from report-service's published list.
// Events and this list meet in addAlert, which keeps one entry per alert_id.
async function loadAlerts() {
  let data;
  try {
    data = await api(`api/v1/alerts?limit=${MAX_ALERTS}`);
  } catch (e) {
    if (e.name !== 'AbortError') console.warn(`alerts list unavailable: ${e.message}`);
    return;
  }
  const list = (data && data.alerts) || [];
  // newest first from the API; addAlert puts each on top, so go oldest first
  for (let i = list.length - 1; i >= 0; i--) addAlert(list[i], '');
}

function newSessionId() {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return `ui-${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
}

// -------------------------------------------------------------- sidebar --

async function loadReports() {
  const list = $('report-list');
  replace(list, h('p', { class: 'hint' }, 'Loading reports…'));
  try {
    const data = await api('api/v1/reports');
    state.reports = (data.reports || []).slice().sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
  } catch (e) {
    replace(list, errorBox(e, 'Loading the report list'));
    return;
  }
  renderReportList();
  const route = readHash();
  const first = state.reports.find((r) => r.status === 'available');
  const target = state.reports.find((r) => r.id === route.reportId && r.status === 'available') || first;
  if (target) openReport(target.id, target.id === route.reportId ? route.params : {});
  else renderReportEmpty('No report is available.');
}

function renderReportList() {
  const list = $('report-list');
  const q = $('report-filter').value.trim().toLowerCase();
  const groups = new Map();
  for (const r of state.reports) {
    const pillar = r.pillar || 'Uncategorized';
    const hay = `${r.title} ${r.id} ${pillar} ${r.description}`.toLowerCase();
    if (q && !hay.includes(q)) continue;
    if (!groups.has(pillar)) groups.set(pillar, []);
    groups.get(pillar).push(r);
  }
  clear(list);
  if (!groups.size) {
    list.append(h('p', { class: 'hint' }, `No report matches “${q}”.`));
    return;
  }
  for (const [pillar, reports] of groups) {
    const ul = h('ul', null);
    for (const r of reports) {
      const planned = r.status !== 'available';
      const current = r.id === state.reportId;
      ul.append(h('li', null, h('button', {
        type: 'button',
        class: `report-item${current ? ' current' : ''}`,
        title: r.description + (planned ? ' (planned: not implemented yet)' : ''),
        'aria-current': current ? 'page' : null,
        dataset: { report: r.id, status: r.status },
        props: { disabled: planned },
        on: { click: () => openReport(r.id, {}) },
      }, h('span', { class: 'check', 'aria-hidden': 'true' }, current ? '✓' : ''),
      h('span', { class: 'name' }, r.title),
      planned ? h('span', { class: 'tag' }, 'planned') : null)));
    }
    list.append(h('section', { class: 'pillar' }, h('h3', null, titleCase(pillar)), ul));
  }
}

function currentReportInfo() {
  return state.reports.find((r) => r.id === state.reportId) || null;
}

function renderParams() {
  const info = currentReportInfo();
  const box = $('params-fields');
  clear(box);
  if (!info) return;
  const effective = (state.result && state.result.params) || {};
  for (const p of info.params || []) {
    const id = `param-${p.name}`;
    let input;
    const common = {
      id, name: p.name, title: p.description,
      placeholder: effective[p.name] || p.default || '',
      props: { value: state.params[p.name] || '' },
    };
    if (p.kind === 'date') {
      input = h('input', { ...common, type: 'date' });
    } else if (p.kind === 'int' || p.kind === 'number') {
      input = h('input', { ...common, type: 'number', step: p.kind === 'int' ? '1' : 'any', min: '0' });
    } else if (p.kind === 'workspace') {
      input = h('input', { ...common, type: 'text', list: 'workspace-options', placeholder: effective[p.name] || 'all workspaces' });
    } else {
      input = h('input', { ...common, type: 'text' });
    }
    box.append(h('div', { class: 'field' }, h('label', { for: id, title: p.description }, p.name.replace(/_/g, ' ')), input,
      effective[p.name] && !state.params[p.name] ? h('span', { class: 'effective' }, `effective: ${effective[p.name]}`) : null));
  }
  const dl = $('workspace-options');
  clear(dl);
  for (const w of [...state.workspaces].sort()) dl.append(h('option', { value: w }));
}

function readParamsForm() {
  const out = {};
  for (const input of $('params-fields').querySelectorAll('input')) {
    const v = input.value.trim();
    if (v) out[input.name] = v;
  }
  return out;
}

// ----------------------------------------------------------- URL routing --

function readHash() {
  const m = /^#\/([A-Za-z0-9_.:-]{1,64})(?:\?(.*))?$/.exec(location.hash);
  if (!m) return { reportId: '', params: {} };
  const params = {};
  for (const [k, v] of new URLSearchParams(m[2] || '')) if (/^[a-z_]{1,32}$/.test(k) && v) params[k] = v;
  return { reportId: m[1], params };
}

function writeHash() {
  const qs = new URLSearchParams(state.params).toString();
  const hash = `#/${state.reportId}${qs ? `?${qs}` : ''}`;
  if (location.hash !== hash) history.replaceState(null, '', hash);
}

// --------------------------------------------------------------- report --

function renderReportEmpty(msg) {
  $('report-title').textContent = msg;
}

async function openReport(id, params) {
  const changed = id !== state.reportId;
  state.reportId = id;
  state.params = { ...params };
  if (changed) {
    state.selection = null;
    state.result = null;
  }
  renderReportList();
  renderParams();
  writeHash();
  await runReport();
}

async function runReport() {
  const info = currentReportInfo();
  const seq = ++state.seq;
  if (state.reportAbort) state.reportAbort.abort();
  const abort = new AbortController();
  state.reportAbort = abort;
  $('report').dataset.state = 'loading';
  $('report-title').textContent = info ? info.title : state.reportId;
  $('report-desc').textContent = info ? info.description : '';
  $('report-meta').textContent = 'Running the report…';
  clear($('report-error'));
  clear($('report-notice'));
  const qs = new URLSearchParams(state.params).toString();
  let result;
  try {
    result = await api(`api/v1/reports/${encodeURIComponent(state.reportId)}${qs ? `?${qs}` : ''}`, { signal: abort.signal });
  } catch (e) {
    if (e.name === 'AbortError' || seq !== state.seq) return;
    $('report').dataset.state = 'error';
    $('report-meta').textContent = '';
    replace($('report-error'), errorBox(e, 'Running the report'));
    clearReportBody();
    return;
  }
  if (seq !== state.seq) return;
  state.result = result;
  for (const row of result.rows || []) if (row.workspace_id) state.workspaces.add(String(row.workspace_id));
  // Keep the selection when the same entity is still selectable.
  if (state.selection) {
    state.selection = (result.selections || []).find((s) => s.entity_type === state.selection.entity_type
      && s.entity_id === state.selection.entity_id) || null;
  }
  renderParams();
  renderReport(seq);
}

function clearReportBody() {
  clear($('banners'));
  clear($('kpis'));
  finalizeChart();
  clear($('chart'));
  $('chart-msg').textContent = '';
  clear($('selection-items'));
  clear($('chips'));
  $('selected-banner').hidden = true;
  clear($('tables'));
  clear($('report-debug'));
}

function renderReport(seq) {
  const r = state.result;
  $('report-title').textContent = r.title || state.reportId;
  const eff = Object.entries(r.params || {}).filter(([, v]) => v !== '').map(([k, v]) => `${k} ${v}`).join(' · ');
  $('report-meta').textContent = `${eff}${r.data_version ? ` · data ${r.data_version}` : ''}${r.cached ? ' · cached' : ''}`;
  // Banners.
  replace($('banners'), (r.banners || []).map((b) => h('div', { class: `banner banner-${/^(info|warning|error|success)$/.test(b.level) ? b.level : 'info'}` }, b.text)));
  // KPIs.
  replace($('kpis'), (r.kpis || []).map((k) => h('div', { class: 'kpi', dataset: { kpi: k.id } },
    h('div', { class: 'kpi-label' }, k.label),
    h('div', { class: 'kpi-value' }, k.text || (k.value === null || k.value === undefined ? '—' : fmtNum.format(k.value))))));
  renderChart(seq);
  renderSelectionItems();
  renderSelected();
  renderTables();
  renderReportDebug();
  updateAskScope();
  $('report').dataset.state = 'ready';
  $('report').dataset.report = r.report_id || state.reportId;
}

// ---------------------------------------------------------------- chart --

function finalizeChart() {
  if (state.embed) {
    try {
      state.embed.finalize();
    } catch {
      /* already gone */
    }
  }
  state.embed = null;
  delete $('chart').dataset.rendered;
}

function makeLoader() {
  // Specs carry their data inline; refuse any URL so a spec cannot fetch.
  const loader = globalThis.vega.loader();
  loader.sanitize = async (uri) => {
    throw new Error(`loading data from a URL is disabled (${String(uri).slice(0, 80)})`);
  };
  return loader;
}

async function renderChart(seq) {
  const r = state.result;
  const chart = $('chart');
  const msg = $('chart-msg');
  finalizeChart();
  clear(chart);
  msg.textContent = '';
  if (r.chart_error) {
    replace(msg, h('span', { class: 'error' }, `The chart spec could not be read: ${r.chart_error}`));
    return;
  }
  if (!r.chart) {
    msg.textContent = 'This report has no chart.';
    return;
  }
  if (typeof globalThis.vegaEmbed !== 'function' || !globalThis.vega) {
    replace(msg, h('span', { class: 'error' }, 'The chart libraries (vega, vega-lite, vega-embed) did not load; rebuild the UI (cmake target copilot_web).'));
    return;
  }
  try {
    const res = await globalThis.vegaEmbed(chart, structuredClone(r.chart), {
      renderer: 'svg',
      actions: false,
      ast: true,                 // Vega's expression interpreter: no eval under the CSP
      loader: makeLoader(),
      tooltip: true,
    });
    if (seq !== state.seq) {
      res.finalize();
      return;
    }
    state.embed = res;
    res.view.addEventListener('click', onChartClick);
    syncChartParams();
    chart.dataset.rendered = 'true';
    msg.textContent = 'Click a bar, point or cell to select that entity.';
  } catch (e) {
    if (seq !== state.seq) return;
    replace(msg, h('span', { class: 'error' }, `The chart could not be drawn: ${e.message}`));
  }
}

/** Values of a datum as comparable strings (dates as YYYY-MM-DD). */
function datumValues(d) {
  const vals = new Set();
  for (const [k, v] of Object.entries(d || {})) {
    if (k.startsWith('Symbol(') || v === null || v === undefined) continue;
    if (v instanceof Date) {
      if (!Number.isNaN(v.getTime())) vals.add(isoDate(v));
    } else if (typeof v === 'string') {
      vals.add(v);
    } else if (typeof v === 'number' && /date|day|time/i.test(k) && Math.abs(v) > 1e11) {
      vals.add(isoDate(new Date(v)));
    }
  }
  return vals;
}

/** The selection a chart datum or table row stands for, or null. */
function selectionFor(d) {
  const sels = (state.result && state.result.selections) || [];
  const vals = datumValues(d);
  for (const s of sels) if (vals.has(s.entity_id)) return s;
  // Composite ids such as an anomaly's "<entity_id>:<date>".
  for (const s of sels) {
    const k = s.entity_id.lastIndexOf(':');
    if (k > 0 && vals.has(s.entity_id.slice(0, k)) && vals.has(s.entity_id.slice(k + 1))) return s;
  }
  return null;
}

function onChartClick(event, item) {
  const d = item && item.datum;
  if (!d) return;
  const sel = selectionFor(d);
  if (sel) {
    select(sel, 'chart');
  } else {
    const name = d.job_name || d.entity_name || d.compute_type || d.job_id || d.entity_id || '';
    flashNotice(name ? `“${name}” has no selection in this report (not among the items below).` : 'This mark is not a selectable entity.');
  }
}

function flashNotice(text) {
  replace($('report-notice'), h('div', { class: 'notice', role: 'status' }, text));
}

// ----------------------------------------------------------- selections --

function selKey(s) {
  return `${s.entity_type}:${s.entity_id}`;
}

function renderSelectionItems() {
  const sels = (state.result && state.result.selections) || [];
  const box = $('selection-items');
  clear(box);
  if (!sels.length) {
    box.append(h('p', { class: 'hint' }, 'This report offers no selectable items for these parameters.'));
    return;
  }
  for (const s of sels) {
    const cur = state.selection && selKey(state.selection) === selKey(s);
    box.append(h('button', {
      type: 'button',
      class: `sel-item${cur ? ' current' : ''}`,
      'aria-pressed': cur ? 'true' : 'false',
      title: `${s.entity_type} ${s.entity_id}`,
      dataset: { entity: selKey(s) },
      on: { click: () => select(s, 'list') },
    }, s.label || s.entity_id));
  }
}

function select(sel, origin) {
  state.selection = sel;
  clear($('report-notice'));
  $('report').dataset.selected = selKey(sel);
  $('report').dataset.selectedVia = origin;
  renderSelectionItems();
  renderSelected();
  markTableRows();
  updateAskScope();
  syncChartParams();
  $('selection').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

/**
 * When the chart has a select-bound parameter whose options include the
 * selected entity (the anomaly timeline's "entity" picker), point it at the
 * selection so the chart shows what was selected from a row or an alert.
 */
function syncChartParams() {
  const sel = state.selection;
  const res = state.embed;
  const chart = state.result && state.result.chart;
  if (!sel || !res || !chart || !Array.isArray(chart.params)) return;
  const k = sel.entity_id.lastIndexOf(':');
  const candidates = [sel.entity_id, k > 0 ? sel.entity_id.slice(0, k) : ''];
  for (const p of chart.params) {
    const opts = p && p.bind && Array.isArray(p.bind.options) ? p.bind.options : null;
    if (!opts || typeof p.name !== 'string') continue;
    const v = candidates.find((c) => c && opts.includes(c));
    try {
      if (v !== undefined && res.view.signal(p.name) !== v) res.view.signal(p.name, v).runAsync();
    } catch {
      /* the compiled view has no such signal */
    }
  }
}

function clearSelection() {
  state.selection = null;
  delete $('report').dataset.selected;
  renderSelectionItems();
  renderSelected();
  markTableRows();
  updateAskScope();
}

function renderSelected() {
  const banner = $('selected-banner');
  const lanesBox = $('chips');
  clear(lanesBox);
  const s = state.selection;
  if (!s) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  replace(banner, h('span', { class: 'sel-type' }, s.entity_type), ' ', h('strong', null, s.label || s.entity_id),
    h('span', { class: 'sel-id' }, ` ${s.entity_id}`));
  const byLane = new Map(LANES.map((l) => [l, []]));
  for (const c of s.chips || []) byLane.get(LANES.includes(c.lane) ? c.lane : 'Diagnose').push(c);
  for (const lane of LANES) {
    const chips = byLane.get(lane);
    const col = h('div', { class: 'lane', dataset: { lane } }, h('h4', null, lane));
    if (!chips.length) col.append(h('p', { class: 'hint' }, '—'));
    for (const c of chips) col.append(chipView(s, c));
    lanesBox.append(col);
  }
}

function chipView(sel, chip) {
  const prompt = h('pre', { class: 'chip-prompt', props: { hidden: true } }, chip.prompt);
  const peek = h('button', {
    type: 'button', class: 'chip-peek', title: 'Show the exact prompt', 'aria-expanded': 'false',
    'aria-label': `Show the prompt of ${chip.label}`,
    on: {
      click: () => {
        prompt.hidden = !prompt.hidden;
        peek.setAttribute('aria-expanded', String(!prompt.hidden));
        peek.textContent = prompt.hidden ? '▸' : '▾';
      },
    },
  }, '▸');
  return h('div', { class: 'chip', dataset: { chip: chip.id } },
    h('div', { class: 'chip-row' },
      h('button', { type: 'button', class: 'chip-btn', title: chip.prompt, on: { click: () => explainChip(sel, chip) } }, chip.label),
      peek),
    prompt);
}

// --------------------------------------------------------------- tables --

function tableView(title, columns, rows, { labels = {}, id = '' } = {}) {
  const shown = rows.slice(0, MAX_TABLE_ROWS);
  const thead = h('thead', null, h('tr', null, columns.map((c) => h('th', { title: c }, labels[c] || c))));
  const tbody = h('tbody', null);
  for (const row of shown) {
    const sel = selectionFor(row);
    const tr = h('tr', sel ? {
      class: 'selectable', tabindex: '0', dataset: { entity: selKey(sel) },
      on: {
        click: () => select(sel, 'table'),
        keydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); select(sel, 'table'); } },
      },
    } : null, columns.map((c) => {
      const v = row[c];
      return h('td', { class: typeof v === 'number' ? 'num' : null }, fmtCell(c, v));
    }));
    tbody.append(tr);
  }
  return h('div', { class: 'table-wrap', dataset: { table: id } },
    title ? h('h3', null, title) : null,
    h('div', { class: 'scroll' }, h('table', { class: 'data' }, thead, tbody)),
    rows.length > shown.length ? h('p', { class: 'hint' }, `Showing the first ${shown.length} of ${rows.length} rows.`) : null);
}

function renderTables() {
  const r = state.result;
  const box = $('tables');
  clear(box);
  const labels = {};
  for (const c of r.columns || []) labels[c.name] = c.label || c.name;
  const extra = r.extra && Array.isArray(r.extra.tables) ? r.extra.tables : [];
  for (const t of extra) {
    if (!Array.isArray(t.columns) || !Array.isArray(t.rows)) continue;
    box.append(tableView(t.title || t.id, t.columns, t.rows, { labels, id: t.id || '' }));
  }
  const cols = (r.columns || []).map((c) => c.name);
  const rows = r.rows || [];
  const all = tableView('', cols, rows, { labels, id: 'rows' });
  // rows_output may list a subset (anomaly_detection: anomalies + charted series)
  const total = Number.isInteger(r.rows_total) && r.rows_total > rows.length ? r.rows_total : rows.length;
  const count = total > rows.length ? `${rows.length} listed of ${total}` : `${rows.length}`;
  if (extra.length) {
    box.append(h('details', { class: 'all-rows' }, h('summary', null, `All rows (${count})`), all));
  } else {
    box.append(h('h3', null, `Rows (${count})`), all);
  }
  markTableRows();
}

function markTableRows() {
  const key = state.selection ? selKey(state.selection) : '';
  for (const tr of $('tables').querySelectorAll('tr.selectable')) {
    tr.classList.toggle('current', tr.dataset.entity === key);
  }
}

function renderReportDebug() {
  const box = $('report-debug');
  clear(box);
  if (!state.debug || !state.result) return;
  box.append(h('details', { class: 'debug', open: true }, h('summary', null, 'Report SQL'), h('pre', null, state.result.sql || '(none)')));
}

// --------------------------------------------------------------- explain --

function userParams() {
  return { ...state.params };
}

async function explainChip(sel, chip) {
  const report = state.result;
  const entry = addEntry({
    kind: 'chip',
    title: chip.label,
    prompt: chip.prompt,
    reportId: state.reportId,
    reportTitle: report ? report.title : state.reportId,
    entityType: sel.entity_type,
    entityId: sel.entity_id,
    entityLabel: sel.label,
    chipId: chip.id,
  });
  await runExplain(entry, {
    report_id: state.reportId,
    entity_type: sel.entity_type,
    entity_id: sel.entity_id,
    chip_id: chip.id,
    params: userParams(),
    debug: state.debug,
    session_id: state.sessionId,
  });
}

async function askQuestion(text) {
  const sel = state.selection;
  const report = state.result;
  const entry = addEntry({
    kind: 'question',
    title: 'Question',
    prompt: text,
    reportId: state.reportId,
    reportTitle: report ? report.title : state.reportId,
    entityType: sel ? sel.entity_type : '',
    entityId: sel ? sel.entity_id : '',
    entityLabel: sel ? sel.label : '',
  });
  const body = { question: text, params: userParams(), debug: state.debug, session_id: state.sessionId };
  if (state.reportId) body.report_id = state.reportId;
  if (sel) {
    body.entity_type = sel.entity_type;
    body.entity_id = sel.entity_id;
  }
  await runExplain(entry, body);
}

async function runExplain(entry, body) {
  const t0 = performance.now();
  try {
    entry.reply = await api('api/v1/explain', { method: 'POST', body });
    entry.state = 'done';
  } catch (e) {
    entry.error = e;
    entry.state = 'error';
  }
  entry.clientMs = Math.round(performance.now() - t0);
  renderEntry(entry);
}

let entrySeq = 0;

function addEntry(fields) {
  const entry = { id: ++entrySeq, at: now(), state: 'pending', reply: null, error: null, ...fields };
  state.history.push(entry);
  $('commentary-hint').hidden = true;
  entry.node = h('article', { class: 'answer', dataset: { entry: entry.id } });
  $('history').prepend(entry.node);
  renderEntry(entry);
  return entry;
}

function scopeText(e) {
  const parts = [];
  if (e.reportTitle) parts.push(e.reportTitle);
  if (e.entityType) parts.push(`${e.entityType} ${e.entityId}`);
  return parts.join(' · ');
}

function renderEntry(e) {
  const n = e.node;
  n.dataset.state = e.state;
  clear(n);
  n.append(h('header', { class: 'answer-head' },
    h('div', { class: 'answer-title' }, e.title),
    h('div', { class: 'answer-scope' }, scopeText(e)),
    h('time', { datetime: e.at.toISOString(), class: 'answer-time' }, e.at.toLocaleTimeString())));
  n.append(h('details', { class: 'answer-prompt' }, h('summary', null, e.kind === 'chip' ? 'Prompt' : 'Question'), h('pre', null, e.prompt)));
  if (e.state === 'pending') {
    n.append(h('p', { class: 'pending' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Working: facts, usage graph, retrieval, then the narrator or model…'));
    return;
  }
  if (e.state === 'error') {
    n.append(errorBox(e.error, 'Explain'));
    return;
  }
  const r = e.reply || {};
  const body = h('div', { class: 'answer-body md' });
  body.append(renderMarkdown(r.answer_markdown || ''));
  if (!r.answer_markdown) body.append(h('p', { class: 'hint' }, '(empty answer)'));
  n.append(body);
  if (r.note && !(r.answer_markdown || '').includes(r.note.slice(0, 40))) n.append(h('p', { class: 'note' }, r.note));
  n.append(groundingView(r.grounding));
  n.append(sourcesView(r.sources || []));
  if (Array.isArray(r.evidence) && r.evidence.length) n.append(evidenceView(r.evidence));
  n.append(metaView(r, e));
  if (r.debug) n.append(debugView(r.debug, r));
}

function groundingView(g) {
  if (!g) return h('p', { class: 'grounding unknown', dataset: { grounded: 'unknown' } }, 'Grounding: not checked');
  if (g.grounded) {
    return h('p', { class: 'grounding ok', dataset: { grounded: 'true' } },
      `✓ Grounded: ${g.numbers_checked} number${g.numbers_checked === 1 ? '' : 's'} checked against the facts`);
  }
  return h('div', { class: 'grounding bad', dataset: { grounded: 'false' } },
    `⚠ Not grounded: ${(g.ungrounded || []).length} number(s) not found in the facts (of ${g.numbers_checked} checked)`,
    g.ungrounded && g.ungrounded.length ? h('ul', null, g.ungrounded.map((u) => h('li', null, h('code', null, u)))) : null);
}

function sourcesView(sources) {
  const box = h('div', { class: 'sources', dataset: { count: sources.length } }, h('h4', null, `Sources (${sources.length})`));
  if (!sources.length) {
    box.append(h('p', { class: 'hint' }, 'No sources were cited.'));
    return box;
  }
  const ol = h('ol', null);
  for (const s of sources) {
    const href = safeHref(s.url || '');
    ol.append(h('li', null,
      href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer nofollow' }, s.title || s.url) : (s.title || s.url || '(untitled)'),
      s.corpus ? h('span', { class: 'corpus' }, s.corpus) : null,
      !href && s.url ? h('span', { class: 'src-id' }, ` ${s.url}`) : null));
  }
  box.append(ol);
  return box;
}

function evidenceView(ev) {
  return h('details', { class: 'evidence' }, h('summary', null, `Evidence (${ev.length} rows behind the numbers)`),
    h('ul', null, ev.map((x) => h('li', null,
      h('strong', null, x.label || x.entity_id), x.figure ? ` — ${x.figure}` : '',
      h('span', { class: 'src-id' }, ` ${x.source_table || ''}${x.row_keys && x.row_keys.length ? `: ${x.row_keys.join(', ')}` : ''}`)))));
}

function metaView(r, e) {
  const parts = [];
  if (r.provider || r.model) parts.push(`${r.provider || '?'}${r.model ? ` / ${r.model}` : ''}`);
  if (r.latency_ms !== undefined) parts.push(`${fmtInt.format(r.latency_ms)} ms`);
  if (r.tokens_in || r.tokens_out) parts.push(`tokens ${fmtInt.format(r.tokens_in || 0)} in / ${fmtInt.format(r.tokens_out || 0)} out`);
  else parts.push('no model tokens');
  if (r.cached) parts.push('cached');
  if (r.commentary_seq) parts.push(`#${r.commentary_seq}`);
  const route = r.route ? `Route: ${[r.route.telemetry && 'telemetry', r.route.docs && 'docs', r.route.runbooks && 'runbooks'].filter(Boolean).join(' + ') || 'none'}${r.route.reason ? ` — ${r.route.reason}` : ''}` : '';
  return h('div', { class: 'answer-meta' }, h('span', { class: 'provider' }, parts.join(' · ')),
    route ? h('div', { class: 'route' }, route) : null,
    e.restored ? h('div', { class: 'hint' }, 'Restored from the commentary history.') : null);
}

function debugView(d, r) {
  const hits = d.hits || [];
  return h('div', { class: 'debug' },
    h('h4', null, 'Debug'),
    h('details', null, h('summary', null, 'SQL'), h('pre', null, d.sql || '(none)')),
    h('details', null, h('summary', null, `Prompt${r.prompt_sha256 ? ` (sha256 ${r.prompt_sha256.slice(0, 12)}…)` : ''}`), h('pre', null, d.prompt || '(none)')),
    h('details', null, h('summary', null, 'Context'), h('pre', null, d.context || '(none)')),
    h('details', null, h('summary', null, 'Subgraph'), h('pre', null, d.subgraph || '(none)')),
    h('details', null, h('summary', null, `Retrieval hits (${hits.length})`),
      hits.length ? h('div', { class: 'scroll' }, h('table', { class: 'data' },
        h('thead', null, h('tr', null, ['#', 'corpus', 'doc', 'score', 'title'].map((c) => h('th', null, c)))),
        h('tbody', null, hits.map((x) => h('tr', { title: x.text || '' },
          h('td', null, String(x.rank ?? '')), h('td', null, x.corpus || ''), h('td', null, x.doc_id || ''),
          h('td', { class: 'num' }, typeof x.score === 'number' ? x.score.toFixed(3) : ''), h('td', null, x.title || '')))))) : h('p', { class: 'hint' }, 'No hits.')));
}

async function restoreHistory() {
  if (state.history.length) return;
  let data;
  try {
    data = await api(`api/v1/commentary?session_id=${encodeURIComponent(state.sessionId)}&limit=50`);
  } catch (e) {
    if (e.status === 401) return;
    $('history').append(errorBox(e, 'Loading this session\'s commentary history'));
    return;
  }
  for (const it of data.items || []) {
    if (state.history.some((x) => x.reply && x.reply.commentary_seq === it.seq)) continue;
    const entry = addEntry({
      kind: it.chip_id ? 'chip' : 'question',
      title: it.chip_id ? `Chip ${it.chip_id.split(':').slice(0, 2).join(':')}` : 'Question',
      prompt: it.question || '',
      reportId: it.report_id || '',
      reportTitle: (state.reports.find((r) => r.id === it.report_id) || {}).title || it.report_id || '',
      entityType: it.entity_type || '',
      entityId: it.entity_id || '',
      chipId: it.chip_id || '',
      restored: true,
    });
    entry.at = it.created_unix_ms ? new Date(it.created_unix_ms) : entry.at;
    entry.reply = { answer_markdown: it.answer_markdown, sources: it.sources || [], provider: it.provider, commentary_seq: it.seq, grounding: null };
    entry.state = 'done';
    renderEntry(entry);
  }
}

// ---------------------------------------------------------------- export --

function exportMarkdown() {
  const lines = [];
  lines.push('# Usage Copilot — commentary', '');
  lines.push(`Exported ${now().toISOString()} · session \`${state.sessionId}\``, '');
  const done = state.history.filter((e) => e.state === 'done');
  if (!done.length) lines.push('_No answers in this session yet._', '');
  done.forEach((e, i) => {
    const r = e.reply || {};
    lines.push(`## ${i + 1}. ${e.title}`, '');
    if (e.reportTitle) lines.push(`- Report: ${e.reportTitle} (\`${e.reportId}\`)`);
    if (e.entityType) lines.push(`- Selection: ${e.entityType} \`${e.entityId}\`${e.entityLabel ? ` — ${e.entityLabel}` : ''}`);
    if (e.chipId) lines.push(`- Chip: \`${e.chipId}\``);
    lines.push(`- Asked: ${e.at.toISOString()}`);
    const meta = [r.provider && `${r.provider}${r.model ? ` / ${r.model}` : ''}`,
      r.latency_ms !== undefined && `${r.latency_ms} ms`,
      (r.tokens_in || r.tokens_out) && `tokens ${r.tokens_in || 0} in / ${r.tokens_out || 0} out`].filter(Boolean);
    if (meta.length) lines.push(`- Provider: ${meta.join(' · ')}`);
    if (r.grounding) lines.push(`- Grounding: ${r.grounding.grounded ? 'grounded' : `NOT grounded (${(r.grounding.ungrounded || []).join(', ')})`}, ${r.grounding.numbers_checked} numbers checked`);
    lines.push('', `**${e.kind === 'chip' ? 'Prompt' : 'Question'}**`, '');
    for (const l of String(e.prompt || '').split('\n')) lines.push(`> ${l}`);
    lines.push('', (r.answer_markdown || '').trim(), '');
    if ((r.sources || []).length) {
      lines.push('**Sources**', '');
      r.sources.forEach((s, k) => {
        const href = safeHref(s.url || '');
        lines.push(`${k + 1}. ${href ? `[${s.title || href}](${href})` : `${s.title || ''}${s.url ? ` (${s.url})` : ''}`}${s.corpus ? ` — ${s.corpus}` : ''}`);
      });
      lines.push('');
    }
    lines.push('---', '');
  });
  const blob = new Blob([lines.join('\n')], { type: 'text/markdown;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const stamp = now().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  const a = h('a', { href: url, download: `copilot-commentary-${stamp}.md`, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---------------------------------------------------------------- events --

function setLive(stateName, detail) {
  const el = $('live-status');
  el.dataset.state = stateName;
  const labels = { idle: '● offline', connecting: '● connecting', open: '● live', retrying: '● reconnecting', unauthorized: '● refused', closed: '● offline' };
  el.textContent = labels[stateName] || stateName;
  el.title = `Live event stream: ${stateName}${detail ? ` (${detail})` : ''}`;
}

function startEvents() {
  if (state.events) state.events.abort();
  const ctl = new AbortController();
  state.events = ctl;
  // First connection of this tab: "0" is an id the gateway never issued, so
  // (per its documented rule for unknown ids) it replays its recent-event
  // ring and the panel shows alerts raised before the page opened. A reload
  // resumes after the last id this tab saw.
  const last = sessionStorage.getItem(LAST_EVENT_KEY) || '0';
  connectEventStream({
    url: 'api/v1/events',
    token: state.token,
    signal: ctl.signal,
    lastEventId: last,
    onStatus: (s, detail) => {
      setLive(s, detail);
      if (s === 'unauthorized' && !ctl.signal.aborted) signOut('The event stream refused the token. Sign in again.');
    },
    onEvent: (ev) => {
      if (ev.id) sessionStorage.setItem(LAST_EVENT_KEY, ev.id);
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (ev.type === 'alert') addAlert(data, ev.id);
      else if (ev.type === 'data_changed') onDataChanged(data);
    },
  });
}

function addAlert(a, id) {
  const key = a.alert_id || id;
  if (state.alerts.some((x) => x.key === key)) return;
  state.alerts.unshift({ key, a, id });
  if (state.alerts.length > MAX_ALERTS) state.alerts.length = MAX_ALERTS;
  renderAlerts();
}

function renderAlerts() {
  const list = $('alerts-list');
  clear(list);
  $('alerts-count').textContent = String(state.alerts.length);
  $('alerts-empty').hidden = state.alerts.length > 0;
  for (const { a, key } of state.alerts) {
    const sev = /^(low|medium|high|critical|info|warning)$/.test(a.severity) ? a.severity : 'info';
    const dev = typeof a.pct_deviation === 'number' ? ` ${a.pct_deviation >= 0 ? '+' : '−'}${fmtInt.format(Math.abs(a.pct_deviation))}%` : '';
    list.append(h('li', { class: `alert sev-${sev}`, dataset: { alert: key } },
      h('button', { type: 'button', class: 'alert-btn', title: a.message || '', on: { click: () => openAlert(a) } },
        h('span', { class: 'sev' }, a.severity || 'alert'),
        h('span', { class: 'alert-what' }, `${a.entity_name || a.entity_id || ''}${a.date ? ` · ${a.date}` : ''}${dev}`),
        a.message ? h('span', { class: 'alert-msg' }, a.message) : null)));
  }
}

async function openAlert(a) {
  const rid = a.report_id && state.reports.some((r) => r.id === a.report_id && r.status === 'available') ? a.report_id : '';
  if (!rid) return;
  if (rid !== state.reportId) await openReport(rid, {});
  const sels = (state.result && state.result.selections) || [];
  const want = a.date ? `${a.entity_id}:${a.date}` : a.entity_id;
  const sel = sels.find((s) => s.entity_id === want) || sels.find((s) => s.entity_id === a.entity_id);
  if (sel) select(sel, 'alert');
  else flashNotice(`The alert's entity ${want} is not among this report's selections for the current parameters.`);
}

function onDataChanged(d) {
  replace($('report-notice'), h('div', { class: 'notice', role: 'status' },
    `The data changed (${d.reason || 'update'}${d.data_version ? `, version ${d.data_version}` : ''}). `,
    h('button', { type: 'button', class: 'btn-link', on: { click: () => runReport() } }, 'Re-run the report')));
}

// ------------------------------------------------------------------ misc --

function updateAskScope() {
  const s = state.selection;
  const info = currentReportInfo();
  $('ask-scope').textContent = `Context: ${info ? info.title : 'no report'}${s ? ` · ${s.entity_type} ${s.entity_id}` : ''}`;
}

function wire() {
  $('login-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const token = $('login-token').value.trim();
    if (!token) return;
    $('login-submit').disabled = true;
    try {
      await signIn(token);
      $('login-token').value = '';
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(e instanceof ApiError && e.status === 401 ? 'That token was refused (401).' : `Sign-in failed: ${e.message}`);
    } finally {
      $('login-submit').disabled = false;
    }
  });
  $('logout').addEventListener('click', () => signOut(''));
  $('report-filter').addEventListener('input', renderReportList);
  $('params-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.params = readParamsForm();
    writeHash();
    runReport();
  });
  $('params-reset').addEventListener('click', () => {
    state.params = {};
    writeHash();
    renderParams();
    runReport();
  });
  const dbg = $('debug-toggle');
  dbg.checked = state.debug;
  dbg.addEventListener('change', () => {
    state.debug = dbg.checked;
    sessionStorage.setItem(DEBUG_KEY, state.debug ? '1' : '0');
    renderReportDebug();
  });
  $('clear-selection').addEventListener('click', clearSelection);
  $('export-md').addEventListener('click', exportMarkdown);
  $('clear-commentary').addEventListener('click', () => {
    state.history = state.history.filter((e) => e.state === 'pending');
    for (const n of [...$('history').children]) if (n.dataset.state !== 'pending') n.remove();
    $('commentary-hint').hidden = state.history.length > 0;
  });
  $('ask-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = $('ask-input').value.trim();
    if (!text) return;
    $('ask-input').value = '';
    askQuestion(text);
  });
  $('ask-input').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) {
      ev.preventDefault();
      $('ask-form').requestSubmit();
    }
  });
  window.addEventListener('hashchange', () => {
    const route = readHash();
    if (!state.token || !route.reportId) return;
    if (route.reportId !== state.reportId || JSON.stringify(route.params) !== JSON.stringify(state.params)) {
      openReport(route.reportId, route.params);
    }
  });
  updateAskScope();
}

async function boot() {
  wire();
  setLive('idle', '');
  if (!state.token) {
    showLogin('');
    return;
  }
  try {
    await signIn(state.token);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) showLogin(`Sign-in failed: ${e.message}`);
  }
}

boot();

// For the browser test and for debugging from the console (read-only view).
globalThis.copilotUi = Object.freeze({
  state: () => ({
    reportId: state.reportId,
    params: { ...state.params },
    selection: state.selection ? selKey(state.selection) : '',
    history: state.history.map((e) => ({ state: e.state, title: e.title, sources: e.reply ? (e.reply.sources || []).length : 0 })),
    alerts: state.alerts.length,
  }),
});
