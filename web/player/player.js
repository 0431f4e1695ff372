// Sluice player: runs a flow through the run API v1 (docs/flow-engine.md) in the browser.
// /play/<tenant>/<flow> starts a state, ?join=<stateId> rejoins it. Plain DOM, no framework.
//
// Model: `run` holds the state (ids, token, last response); `comps` maps each page component id
// to its local state (value, selection, rows, paging, errors); rendering rebuilds the DOM from
// those, a component at a time where it can (tables, lists), keeping focus where it was.

const API = '/api/run/1';
const POLL_MS = 2000;          // ping interval while the state waits (the reference uses 10 s)
const SEARCH_DEBOUNCE_MS = 300;
const BUSY_DELAY_MS = 120;     // the overlay shows only for requests slower than this
const PAGE_SIZE = { table: 10, files: 10, select: 250, combobox: 250, radio: 250 };

/* ------------------------------------------------------------------ small helpers */

const $ = (sel, root = document) => root.querySelector(sel);

/** Creates an element: attrs (class, text, html, on*, dataset, value, boolean/aria attributes) and children. */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = v;
      else if (k === 'html') el.innerHTML = v;
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k === 'value') el.value = v;
      else if (k === 'checked') el.checked = true;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  for (const kid of kids.flat(Infinity)) {
    if (kid == null || kid === false) continue;
    el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

const lower = (s) => String(s ?? '').toLowerCase();
const upper = (s) => String(s ?? '').toUpperCase();
const byOrder = (a, b) => (a.order ?? 0) - (b.order ?? 0);
const domId = (prefix, id) => `${prefix}-${String(id).replace(/[^A-Za-z0-9_-]/g, '_')}`;

function debounce(fn, ms) {
  let t = null;
  const d = (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
  d.cancel = () => clearTimeout(t);
  return d;
}

/** Key of an object for selection: externalId, else internalId (service data gets random internalIds). */
const objKey = (o) => o?.externalId || o?.internalId || JSON.stringify(o?.properties ?? null);

function propOf(o, name) {
  if (!o?.properties) return undefined;
  const n = lower(name);
  return o.properties.find((p) => lower(p.developerName) === n);
}

function propByColumn(o, col) {
  if (!o?.properties) return undefined;
  if (col.typeElementPropertyId) {
    const p = o.properties.find((x) => x.typeElementPropertyId && lower(x.typeElementPropertyId) === lower(col.typeElementPropertyId));
    if (p) return p;
  }
  return propOf(o, col.developerName);
}

/** Display text of a property value by content type. */
function formatValue(value, contentType, p) {
  if (value == null || value === '') {
    if (p?.objectData?.length) return p.objectData.map((x) => firstText(x)).join(', ');
    return '';
  }
  switch (upper(contentType)) {
    case 'CONTENTBOOLEAN': return lower(value) === 'true' ? 'Yes' : 'No';
    case 'CONTENTDATETIME': {
      const d = new Date(value);
      return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
    }
    case 'CONTENTDATE': {
      const d = new Date(String(value).length === 10 ? `${value}T00:00:00` : value);
      return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleDateString();
    }
    default: return String(value);
  }
}

/** A link target from flow or service data: http(s) or same-origin only (no javascript: URLs). */
function safeUrl(u, { image = false } = {}) {
  if (!u) return null;
  try {
    const url = new URL(String(u), location.href);
    if (image && url.protocol === 'data:' && /^data:image\//i.test(url.href)) return url.href;
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

function firstText(o) {
  const p = o?.properties?.find((x) => x.contentValue != null && x.contentValue !== '');
  return p ? String(p.contentValue) : '';
}

/** A run-API problem (problem JSON {message}) or a network failure (status 0). */
class ApiError extends Error {
  constructor(status, message, body = null) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

function problemMessage(status, text, json) {
  if (json && typeof json.message === 'string' && json.message) return json.message;
  if (status === 0) return 'The server cannot be reached. Check the connection and try again.';
  const t = (text || '').trim().slice(0, 300);
  return `The server answered ${status}${t ? `: ${t}` : '.'}`;
}

/* ------------------------------------------------------------------ run state */

const run = {
  tenant: null, flowId: null, versionId: null,
  stateId: null, token: null, mapElementId: null, invokeType: null, flowName: null,
  resp: null,          // last EngineInvokeResponse
  mer: null,           // its mapElementInvokeResponses[0]
  outcomes: [],
  containerData: new Map(),
  navRefs: [],
  firstRendered: false,
  pollTimer: null,
  waiting: false,
  moving: 0,           // FORWARD / NAVIGATE invokes in flight (a second click is ignored)
  activeTabs: new Map(),
};

/** Local state of every component on the current page, by component id. */
let comps = new Map();
/** Ids of the page's containers (outcomes bound to them render inside). */
let containerIds = new Set();

/* ------------------------------------------------------------------ HTTP */

async function api(method, path, body, { state = run.stateId } = {}) {
  const headers = { ManyWhoTenant: run.tenant };
  if (state) headers.ManyWhoState = state;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, problemMessage(0));
  }
  return parseAnswer(res.status, await res.text());
}

function parseAnswer(status, text) {
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (status < 200 || status >= 300) throw new ApiError(status, problemMessage(status, text, json), json);
  return json;
}

/* ------------------------------------------------------------------ busy overlay */

let busyCount = 0;
let busyTimer = null;

/** Counts running requests; the overlay (and inert page) shows when one takes longer than BUSY_DELAY_MS. */
function setBusy(on, message = 'Working…', { overlay = true } = {}) {
  busyCount += on ? 1 : -1;
  document.body.dataset.busy = busyCount > 0 ? 'true' : 'false';
  $('#main').setAttribute('aria-busy', busyCount > 0 || run.waiting ? 'true' : 'false');
  if (on && overlay && !busyTimer && !run.waiting) {
    busyTimer = setTimeout(() => { busyTimer = null; if (busyCount > 0 && !run.waiting) showOverlay(message); }, BUSY_DELAY_MS);
  }
  if (busyCount === 0) {
    clearTimeout(busyTimer);
    busyTimer = null;
    if (!run.waiting) hideOverlay();
  }
}

function showOverlay(message) {
  $('#overlay-msg').textContent = message;
  $('#overlay').hidden = false;
  $('#main').inert = true;
}

function hideOverlay() {
  $('#overlay').hidden = true;
  $('#main').inert = false;
}

/* ------------------------------------------------------------------ alerts */

/** Replaces the page-level alerts. Each: {kind: error|info|ok|warn, title?, text, action?: {label, onclick}}. */
function setAlerts(list) {
  const box = $('#alerts');
  box.replaceChildren(...list.map((a) => h('div', { class: `alert ${a.kind}`, role: a.kind === 'error' ? 'alert' : 'status' },
    a.title ? h('strong', null, a.title, ': ') : null,
    a.text,
    a.action ? h('span', null, ' ', h('button', { type: 'button', class: 'small', onclick: a.action.onclick }, a.action.label)) : null)));
}

function showError(err, extra = []) {
  setAlerts([...extra, { kind: 'error', text: err instanceof ApiError || err instanceof Error ? err.message : String(err) }]);
}

const startAgain = () => { location.href = location.pathname; };

function faultAlerts(mer) {
  const out = [];
  for (const [name, msg] of Object.entries(mer?.rootFaults ?? {})) {
    let text = msg;
    if (typeof msg === 'string' && msg.trim().startsWith('{')) {
      try { text = JSON.parse(msg).message ?? msg; } catch { /* plain text */ }
    } else if (msg && typeof msg === 'object') {
      text = msg.message ?? JSON.stringify(msg);
    }
    out.push({ kind: 'error', title: name, text: String(text) });
  }
  return out;
}

/* ------------------------------------------------------------------ starting, joining, invoking */

// Invokes are serialised: each one reads the token current when it is sent.
let queue = Promise.resolve();
function enqueue(fn) {
  const p = queue.then(fn, fn);
  queue = p.catch(() => {});
  return p;
}

async function boot() {
  const m = /^\/play\/([^/?#]+)\/([^/?#]+)/.exec(location.pathname);
  if (!m) {
    renderMessagePage('No flow here', 'This address does not name a flow: it should look like /play/<tenant>/<flow>.');
    return;
  }
  run.tenant = decodeURIComponent(m[1]);
  run.flowId = decodeURIComponent(m[2]);
  const q = new URLSearchParams(location.search);
  run.versionId = q.get('flow-version-id') || null;
  const join = q.get('join');
  setBusy(true, join ? 'Joining…' : 'Starting…');
  try {
    let resp;
    const pre = window.sluiceBoot;
    if (pre && (pre.join || null) === (join || null)) {
      let r;
      try { r = await pre.promise; } catch { throw new ApiError(0, problemMessage(0)); }
      resp = parseAnswer(r.status, r.text);
    } else if (join) {
      resp = await api('GET', `${API}/state/${encodeURIComponent(join)}`, undefined, { state: join });
    } else {
      resp = await api('POST', `${API}/state`, { id: run.flowId, versionId: run.versionId, inputs: null }, { state: null });
    }
    apply(resp);
  } catch (e) {
    if (join && e.status === 404) {
      renderMessagePage('This run was not found', 'It may have ended and been cleaned up, or the address is wrong.');
      setAlerts([{ kind: 'error', text: e.message }]);
    } else if (!join && e.status === 404) {
      renderMessagePage('This flow was not found', e.message);
    } else {
      renderMessagePage('The flow could not be started', e.message);
    }
  } finally {
    setBusy(false);
  }
}

async function rejoin(notice) {
  const resp = await api('GET', `${API}/state/${encodeURIComponent(run.stateId)}`);
  apply(resp, { notice });
}

function inputsRequest() {
  const list = [];
  for (const cs of comps.values()) {
    if (!cs.isInput) continue;
    let sel = cs.selected ? [...cs.selected.values()] : null;
    if (sel && cs.source === 'inline' && sel.length > 1) {
      // a value-bound list's selection goes in the list's order, not the order of the clicks
      const pos = new Map((cs.all ?? []).map((o, i) => [objKey(o), i]));
      sel.sort((a, b) => (pos.get(objKey(a)) ?? 1e9) - (pos.get(objKey(b)) ?? 1e9));
    }
    sel = sel?.map((o) => ({ ...o, isSelected: true })) ?? null;
    list.push({ pageComponentId: cs.meta.id, contentValue: cs.isList ? null : (cs.value ?? null),
      objectData: sel && sel.length ? sel : null });
  }
  return list;
}

/**
 * Sends an invoke (FORWARD / SYNC / NAVIGATE) with every input of the page; applies the answer.
 * A 409 (stale token) rejoins the state and says so.
 */
function invoke(invokeType, { outcome = null, nav = null } = {}) {
  return enqueue(async () => {
    if (!run.stateId) return;
    const body = {
      invokeType, stateId: run.stateId, stateToken: run.token, currentMapElementId: run.mapElementId,
      annotations: null, geoLocation: null, mode: '', selectedMapElementId: null, navigationElementId: null,
      selectedNavigationElementId: null,
      mapElementInvokeRequest: { selectedOutcomeId: outcome?.id ?? null,
        pageRequest: { pageComponentInputResponses: inputsRequest() } },
    };
    if (nav) {
      body.navigationElementId = nav.navigationElementId;
      body.selectedNavigationItemId = nav.itemId;
      body.selectedNavigationElementId = nav.itemId;
      body.selectedMapElementId = nav.locationMapElementId ?? null;
    }
    const sync = invokeType === 'SYNC';
    // a SYNC runs in the background: the person keeps typing, no overlay; outcomes queue behind it
    setBusy(true, 'Working…', { overlay: !sync });
    if (!sync) run.moving += 1;
    try {
      const resp = await api('POST', `${API}/state/${encodeURIComponent(run.stateId)}`, body);
      apply(resp, { sync });
    } catch (e) {
      if (e.status === 409) {
        try {
          await rejoin({ kind: 'warn', text: 'This flow was changed elsewhere (for example in another tab), so the page has been reloaded. Check it and try again.' });
        } catch (e2) {
          showError(e2);
        }
      } else if (e.status === 404) {
        setAlerts([{ kind: 'error', text: e.message, action: { label: 'Start again', onclick: startAgain } }]);
      } else {
        showError(e);
      }
    } finally {
      if (!sync) run.moving -= 1;
      setBusy(false);
    }
  });
}

/** Applies an EngineInvokeResponse: remembers ids and token, then renders by invokeType. */
function apply(resp, { sync = false, notice = null } = {}) {
  if (!resp || typeof resp !== 'object') throw new ApiError(500, 'The engine answered with something that is not a flow state.');
  run.resp = resp;
  run.stateId = resp.stateId;
  run.token = resp.stateToken;
  run.mapElementId = resp.currentMapElementId;
  run.invokeType = upper(resp.invokeType);
  run.flowName = resp.flowName ?? run.flowName;
  run.navRefs = resp.navigationElementReferences ?? [];
  document.body.dataset.stateId = run.stateId ?? '';
  document.body.dataset.token = run.token ?? '';
  document.body.dataset.invokeType = run.invokeType;
  if (run.stateId) {
    const url = `${location.pathname}?join=${encodeURIComponent(run.stateId)}`;
    if (location.pathname + location.search !== url) history.replaceState(null, '', url);
  }
  if (run.flowName) $('#brand').textContent = run.flowName;
  const mer = resp.mapElementInvokeResponses?.[0] ?? null;
  const alerts = notice ? [notice] : [];

  switch (run.invokeType) {
    case 'WAIT':
    case 'STATUS':
    case 'BUSY':
      startWaiting(resp.waitMessage || resp.notAuthorizedMessage || 'Please wait…');
      if (!run.mer) renderMessagePage('Please wait', resp.waitMessage || 'The flow is working.', { offerStart: false });
      setAlerts(alerts);
      return;
    case 'NOT_ALLOWED':
      stopWaiting();
      renderMessagePage('Not allowed', resp.notAuthorizedMessage || 'You are not allowed to run this flow.');
      return;
    case 'SYNC':
      stopWaiting();
      if (mer) mergeSync(mer);
      setAlerts([...alerts, ...faultAlerts(mer)]);
      return;
    default: // FORWARD, DONE
      stopWaiting();
      renderResponse(mer);
      setAlerts([...alerts, ...faultAlerts(mer)]);
      loadNavigation();
  }
}

/* ------------------------------------------------------------------ WAIT */

function startWaiting(message) {
  run.waiting = true;
  document.body.dataset.waiting = 'true';
  showOverlay(message);
  clearTimeout(run.pollTimer);
  const token = run.token;
  const tick = async () => {
    if (!run.waiting || run.token !== token) return;
    try {
      const moved = await api('GET', `${API}/state/${encodeURIComponent(run.stateId)}/ping/${encodeURIComponent(token)}`);
      if (!run.waiting || run.token !== token) return;
      if (moved === true || moved === 'true') {
        await enqueue(() => rejoin(null));
        if (!run.waiting || run.token !== token) return; // moved on (or waits again, polled anew)
      }
    } catch (e) {
      if (e.status === 404) {
        stopWaiting();
        setAlerts([{ kind: 'error', text: e.message, action: { label: 'Start again', onclick: startAgain } }]);
        return;
      }
      // a network blip: keep polling
    }
    if (run.waiting && run.token === token) run.pollTimer = setTimeout(tick, POLL_MS);
  };
  run.pollTimer = setTimeout(tick, POLL_MS);
}

function stopWaiting() {
  if (!run.waiting) return;
  run.waiting = false;
  document.body.dataset.waiting = 'false';
  clearTimeout(run.pollTimer);
  if (busyCount === 0) hideOverlay();
}

/* ------------------------------------------------------------------ navigation */

async function loadNavigation() {
  const refs = run.navRefs;
  const top = $('#topnav');
  const side = $('#sidenav');
  if (!refs.length) {
    top.hidden = true;
    side.hidden = true;
    top.replaceChildren();
    side.replaceChildren();
    return;
  }
  const token = run.token;
  const answers = await Promise.all(refs.map((ref) => api('POST', `${API}/navigation/${encodeURIComponent(run.stateId)}`,
    { stateId: run.stateId, stateToken: token, navigationElementId: ref.id }).then((r) => ({ ref, r }), () => null)));
  if (run.token !== token) return; // moved on meanwhile
  const tops = [];
  const sides = [];
  for (const a of answers) {
    if (!a?.r || a.r.isVisible === false) continue;
    const el = renderNav(a.ref, a.r);
    (lower(a.r.position ?? a.ref.position) === 'left' ? sides : tops).push(el);
  }
  top.replaceChildren(...tops);
  side.replaceChildren(...sides);
  top.hidden = tops.length === 0;
  side.hidden = sides.length === 0;
  document.body.classList.toggle('p-has-sidenav', sides.length > 0);
}

function renderNav(ref, nav) {
  const data = new Map((nav.navigationItemDataResponses ?? []).map((d) => [d.navigationItemId, d]));
  const enabled = nav.isEnabled !== false;
  const items = (list) => h('ul', null, [...(list ?? [])].sort(byOrder).map((item) => {
    const d = data.get(item.id) ?? {};
    if (d.isVisible === false) return null;
    const url = safeUrl(d.url || item.url);
    let ctl;
    if (url) {
      ctl = h('a', { href: url, target: d.urlTarget || '_blank', rel: 'noopener' }, item.label ?? item.developerName);
    } else if (d.locationMapElementId) {
      ctl = h('button', { type: 'button', class: 'p-nav-item', 'aria-current': d.isCurrent ? 'page' : null,
        disabled: !enabled || d.isEnabled === false,
        onclick: () => navigate(ref, item, d) }, item.label ?? item.developerName);
    } else {
      ctl = h('span', { class: 'p-nav-group' }, item.label ?? item.developerName);
    }
    return h('li', null, ctl, item.navigationItems?.length ? items(item.navigationItems) : null);
  }));
  return h('div', { class: 'p-nav', dataset: { navigation: ref.id } },
    nav.label ? h('span', { class: 'sr-only' }, nav.label) : null, items(nav.navigationItemResponses));
}

function navigate(ref, item, d) {
  if (run.moving > 0 || run.waiting) return;
  sync.cancel();
  invoke('NAVIGATE', { nav: { navigationElementId: ref.id, itemId: item.id, locationMapElementId: d.locationMapElementId } });
}

/* ------------------------------------------------------------------ page rendering */

function pageTitle(mer) {
  return mer?.pageResponse?.label || mer?.label || mer?.developerName || run.flowName || 'Flow';
}

function renderMessagePage(title, text, { offerStart = true } = {}) {
  const heading = h('h1', { tabindex: '-1', id: 'page-title' }, title);
  $('#page').replaceChildren(h('div', { class: 'card' }, heading, h('p', null, text),
    offerStart ? h('div', { class: 'p-outcomes' }, h('button', { type: 'button', class: 'primary', onclick: startAgain }, 'Start again')) : null));
  document.title = title;
  markFirstRender();
}

function newCompState(meta, data) {
  const type = lower(meta.componentType);
  const cs = { meta, data: data ?? {}, type, value: data?.contentValue ?? null, localError: null, el: null };
  cs.isList = ['table', 'select', 'combobox', 'radio', 'files', 'file-upload', 'file_upload', 'list', 'tiles'].includes(type);
  cs.isInput = !['presentation', 'image', 'hidden', 'outcomes', 'iframe'].includes(type)
    && !(type === 'content' && !meta.contentType);
  if (cs.isList) initListState(cs);
  return cs;
}

/** Renders a FORWARD/DONE answer: the page (or step), its outcomes, and DONE's ending. */
function renderResponse(mer) {
  run.mer = mer;
  const pr = mer?.pageResponse ?? null;
  const old = comps;
  comps = new Map();
  for (const c of old.values()) c.dispose?.();
  const dataById = new Map((pr?.pageComponentDataResponses ?? []).map((d) => [d.pageComponentId, d]));
  for (const meta of pr?.pageComponentResponses ?? []) comps.set(meta.id, newCompState(meta, dataById.get(meta.id)));
  run.containerData = new Map((pr?.pageContainerDataResponses ?? []).map((d) => [d.pageContainerId, d]));
  containerIds = new Set();
  const walk = (list) => { for (const c of list ?? []) { containerIds.add(c.id); walk(c.pageContainerResponses); } };
  walk(pr?.pageContainerResponses);
  run.outcomes = run.invokeType === 'DONE' ? [] : [...(mer?.outcomeResponses ?? [])].sort(byOrder);

  const title = pageTitle(mer);
  document.title = run.flowName && run.flowName !== title ? `${title} · ${run.flowName}` : title;
  renderPageBody();
  document.body.dataset.page = mer?.mapElementId ?? '';

  markFirstRender(); // the page is in the DOM (focus below already forces a layout)
  const invalid = [...comps.values()].find((cs) => cs.data.isVisible !== false && cs.data.isValid === false);
  if (invalid) focusComponent(invalid);
  else $('#page h1')?.focus();
}

function markFirstRender() {
  if (run.firstRendered) return;
  run.firstRendered = true;
  try { performance.mark('sluice:first-page'); } catch { /* old browsers */ }
  document.documentElement.dataset.firstPage = String(Math.round(performance.now()));
}

/** Rebuilds the whole page body from the model, keeping the focused element (by id) and its caret. */
function renderPageBody() {
  const mer = run.mer;
  const pr = mer?.pageResponse;
  const active = document.activeElement;
  const focusId = active && active !== document.body && $('#page').contains(active) ? active.id : null;
  const caret = focusId && typeof active.selectionStart === 'number' ? [active.selectionStart, active.selectionEnd] : null;

  const heading = h('h1', { tabindex: '-1', id: 'page-title' }, pageTitle(mer));
  for (const cs of comps.values()) cs.el = null; // set again for the components rendered now
  const placed = new Set();
  const roots = [...(pr?.pageContainerResponses ?? [])].sort(byOrder).map((c) => renderContainer(c, true, placed));
  // components whose container is unknown still show, after the containers
  const loose = [...comps.values()].filter((cs) => !placed.has(cs.meta.id)).sort((a, b) => byOrder(a.meta, b.meta))
    .map((cs) => renderComponentSlot(cs, true));
  const card = h('div', { class: 'card p-page' }, heading, roots, loose);

  const bar = renderOutcomeBar();
  if (bar) card.append(bar);
  if (!pr && run.invokeType !== 'DONE') {
    // stopped on an element without a page (a fault on a message or data element): it can be retried
    card.append(h('p', { class: 'muted' }, `The flow stopped at “${mer?.label || mer?.developerName || 'a step'}”.`),
      h('div', { class: 'p-outcomes' }, h('button', { type: 'button', class: 'primary', 'data-retry': 'true',
        onclick: () => { if (!run.moving && !run.waiting) invoke('FORWARD'); } }, 'Try again')));
  }
  if (run.invokeType === 'DONE') {
    card.append(h('div', { class: 'alert ok p-done', role: 'status' }, 'This flow has finished. ',
      h('button', { type: 'button', class: 'small', onclick: startAgain }, 'Start again')));
  }
  $('#page').replaceChildren(card);
  if (focusId) {
    const el = document.getElementById(focusId);
    if (el) {
      el.focus({ preventScroll: true });
      if (caret) try { el.setSelectionRange(...caret); } catch { /* not a text field */ }
    }
  }
}

function renderContainer(c, enabled, placed) {
  const cd = run.containerData.get(c.id) ?? {};
  if (cd.isVisible === false) {
    markPlaced(c, placed);
    return null;
  }
  const on = enabled && cd.isEnabled !== false;
  const type = upper(c.containerType || 'VERTICAL_FLOW');
  const cls = { VERTICAL_FLOW: 'p-vertical', HORIZONTAL_FLOW: 'p-horizontal', INLINE_FLOW: 'p-inline', GROUP: 'p-group' }[type]
    ?? 'p-vertical';
  const outer = h('div', { class: `p-container${c.className ? ` ${c.className}` : ''}`, dataset: { container: c.id } });
  if (c.label) outer.append(h('h2', { class: 'p-container-label' }, c.label));
  const el = h('div', { class: cls });
  outer.append(el);

  const kids = [];
  for (const cs of comps.values()) {
    if (cs.meta.pageContainerId === c.id) {
      placed.add(cs.meta.id);
      kids.push({ order: cs.meta.order ?? 0, node: () => renderComponentSlot(cs, on) });
    }
  }
  const children = [...(c.pageContainerResponses ?? [])].sort(byOrder);
  if (type === 'GROUP' && children.length) {
    for (const k of kids.sort(byOrder)) { const n = k.node(); if (n) el.append(n); }
    el.append(renderTabs(c, children, on, placed));
  } else {
    for (const child of children) kids.push({ order: child.order ?? 0, node: () => renderContainer(child, on, placed) });
    for (const k of kids.sort(byOrder)) { const n = k.node(); if (n) el.append(n); }
  }
  const bound = run.outcomes.filter((o) => o.pageObjectBindingId === c.id);
  if (bound.length) outer.append(h('div', { class: 'p-outcomes' }, bound.map((o) => outcomeButton(o))));
  return outer;
}

function allContainers() {
  const out = [];
  const walk = (list) => { for (const c of list ?? []) { out.push(c); walk(c.pageContainerResponses); } };
  walk(run.mer?.pageResponse?.pageContainerResponses);
  return out;
}

function markPlaced(c, placed) {
  for (const cs of comps.values()) if (cs.meta.pageContainerId === c.id) placed.add(cs.meta.id);
  for (const child of c.pageContainerResponses ?? []) markPlaced(child, placed);
}

/** A GROUP container: its child containers as tabs (the reference player's behaviour). */
function renderTabs(group, children, enabled, placed) {
  const visible = children.filter((c) => (run.containerData.get(c.id)?.isVisible ?? true) !== false);
  for (const c of children) if (!visible.includes(c)) markPlaced(c, placed);
  let current = run.activeTabs.get(group.id);
  if (!visible.some((c) => c.id === current)) current = visible[0]?.id;
  const tabs = h('div', { class: 'p-tabs', role: 'tablist' });
  const panels = [];
  visible.forEach((c, i) => {
    const selected = c.id === current;
    const tabId = domId('tab', c.id);
    const panelId = domId('panel', c.id);
    tabs.append(h('button', { type: 'button', role: 'tab', id: tabId, 'aria-selected': selected ? 'true' : 'false',
      'aria-controls': panelId, tabindex: selected ? '0' : '-1',
      onclick: () => { run.activeTabs.set(group.id, c.id); renderPageBody(); document.getElementById(tabId)?.focus(); },
      onkeydown: (e) => {
        const d = e.key === 'ArrowRight' ? 1 : e.key === 'ArrowLeft' ? -1 : 0;
        if (!d) return;
        e.preventDefault();
        const next = visible[(i + d + visible.length) % visible.length];
        run.activeTabs.set(group.id, next.id);
        renderPageBody();
        document.getElementById(domId('tab', next.id))?.focus();
      } }, c.label || c.developerName || `Tab ${i + 1}`));
    const inner = renderContainer({ ...c, label: '' }, enabled, placed);
    panels.push(h('div', { role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, hidden: !selected }, inner));
  });
  return h('div', { class: 'p-tabset' }, tabs, panels);
}

/** The wrapper of one component: re-rendered on its own (tables, lists) through cs.el. */
function renderComponentSlot(cs, enabled) {
  cs.ctxEnabled = enabled;
  if (cs.data.isVisible === false) {
    cs.el = null;
    return null;
  }
  cs.el = h('div', { class: `p-component p-${cs.type.replace(/[^a-z0-9-]/g, '-')}${cs.meta.className ? ` ${cs.meta.className}` : ''}`,
    dataset: { component: cs.meta.id, name: cs.meta.developerName ?? '' } });
  fillComponent(cs);
  return cs.el;
}

/** Re-renders one component in place, keeping focus on the element with the same data-fk. */
function rerender(cs) {
  if (!cs.el) return;
  const active = document.activeElement;
  const fk = active && cs.el.contains(active) ? active.dataset.fk : null;
  const caret = fk && typeof active.selectionStart === 'number' ? [active.selectionStart, active.selectionEnd] : null;
  cs.el.replaceChildren();
  fillComponent(cs);
  if (fk) {
    const el = cs.el.querySelector(`[data-fk="${CSS.escape(fk)}"]`);
    if (el) {
      el.focus({ preventScroll: true });
      if (caret) try { el.setSelectionRange(...caret); } catch { /* not text */ }
    }
  }
}

function fillComponent(cs) {
  const render = RENDERERS[cs.type] ?? renderUnknown;
  cs.el.append(render(cs));
  const bound = run.outcomes.filter((o) => o.pageObjectBindingId === cs.meta.id
    && !(['table', 'files'].includes(cs.type)));
  if (bound.length) cs.el.append(h('div', { class: 'p-outcomes' }, bound.map((o) => outcomeButton(o))));
}

const enabledOf = (cs) => cs.ctxEnabled !== false && cs.data.isEnabled !== false;
const editableOf = (cs) => enabledOf(cs) && cs.data.isEditable !== false;
const requiredOf = (cs) => cs.data.isRequired === true;
const labelText = (cs) => cs.meta.label ?? cs.meta.developerName ?? '';

function errorOf(cs) {
  if (cs.localError) return cs.localError;
  if (cs.data.isValid === false) return cs.data.validationMessage || 'This value is not valid.';
  return null;
}

/** Label, help and error pieces shared by the field renderers. */
function fieldParts(cs, controlId) {
  const err = errorOf(cs);
  const helpId = cs.meta.helpInfo ? domId('help', cs.meta.id) : null;
  const errId = err ? domId('err', cs.meta.id) : null;
  const label = labelText(cs);
  return {
    err, helpId, errId,
    describedBy: [helpId, errId].filter(Boolean).join(' ') || null,
    label: label ? h('label', { for: controlId }, label, requiredOf(cs) ? h('span', { class: 'p-req', 'aria-hidden': 'true' }, ' *') : null) : null,
    help: helpId ? h('div', { class: 'help', id: helpId }, cs.meta.helpInfo) : null,
    error: errId ? h('div', { class: 'error-text', id: errId }, err) : null,
  };
}

/** A committed change (change event): page conditions need a SYNC. */
function valueChanged(cs) {
  if (inputKind(cs) === 'checkbox') clearLocalError(cs);
  if (cs.meta.hasEvents) sync();
}

/**
 * The person edits a field with a local error: the message goes while they type (not on blur,
 * where the layout would shift under a button being clicked).
 */
function clearLocalError(cs) {
  if (!cs.localError && cs.data.isValid !== false) return;
  cs.localError = null;
  cs.data = { ...cs.data, isValid: true, validationMessage: null };
  rerender(cs);
}

const sync = debounce(() => invoke('SYNC'), 50);

/* ------------------------------------------------------------------ presentation, inputs */

function renderPresentation(cs) {
  const html = cs.data.content ?? cs.data.contentValue ?? cs.meta.content ?? '';
  const label = cs.meta.label && cs.type !== 'presentation' && cs.type !== 'content' ? h('div', { class: 'p-label' }, cs.meta.label) : null;
  return h('div', null, label, h('div', { class: 'p-content', html: String(html) }));
}

function renderImage(cs) {
  const src = safeUrl(cs.data.imageUri || cs.data.contentValue || cs.meta.imageUri, { image: true });
  if (!src) return h('span');
  return h('figure', { class: 'p-image' }, h('img', { src, alt: cs.meta.label || cs.meta.developerName || '' }),
    cs.meta.label ? h('figcaption', { class: 'muted' }, cs.meta.label) : null);
}

function inputKind(cs) {
  if (cs.type === 'textarea' || (cs.type === 'content' && cs.meta.contentType)) return 'textarea';
  if (cs.type === 'checkbox' || cs.type === 'toggle') return 'checkbox';
  switch (upper(cs.meta.contentType)) {
    case 'CONTENTNUMBER': return 'number';
    case 'CONTENTBOOLEAN': return 'checkbox';
    case 'CONTENTDATETIME': return 'datetime-local';
    case 'CONTENTDATE': return 'date';
    case 'CONTENTPASSWORD': case 'CONTENTENCRYPTED': return 'password';
    case 'CONTENTCONTENT': return 'textarea';
    default: return 'text';
  }
}

const pad = (n) => String(n).padStart(2, '0');
function isoToLocalInput(v) {
  if (!v) return '';
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) return '';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function renderInput(cs) {
  const kind = inputKind(cs);
  const id = domId('c', cs.meta.id);
  const f = fieldParts(cs, id);
  const editable = editableOf(cs);
  const common = {
    id, name: cs.meta.developerName ?? id, disabled: !enabledOf(cs), readonly: enabledOf(cs) && !editable,
    'aria-invalid': f.err ? 'true' : null, 'aria-describedby': f.describedBy, 'aria-required': requiredOf(cs) ? 'true' : null,
    'data-fk': 'input',
  };
  if (!f.label) common['aria-label'] = cs.meta.developerName ?? 'Input';

  if (kind === 'checkbox') {
    const box = h('input', { ...common, type: 'checkbox', role: cs.type === 'toggle' ? 'switch' : null,
      checked: lower(cs.value) === 'true', readonly: null, disabled: !editable,
      onchange: (e) => { cs.value = e.target.checked ? 'true' : 'false'; valueChanged(cs); } });
    return h('div', { class: 'field p-check' }, h('div', { class: 'p-check-row' }, box, f.label), f.help, f.error);
  }

  let control;
  const size = Number(cs.meta.size) > 0 ? Number(cs.meta.size) : null;
  const style = size ? `width: calc(${size}ch + 22px); max-width: 100%` : null;
  if (kind === 'textarea') {
    control = h('textarea', { ...common, rows: Number(cs.meta.height) > 0 ? cs.meta.height : null,
      maxlength: Number(cs.meta.maxSize) > 0 ? cs.meta.maxSize : null, placeholder: cs.meta.hintValue || null, style,
      oninput: (e) => { cs.value = e.target.value; clearLocalError(cs); }, onchange: () => valueChanged(cs) });
    control.value = cs.value ?? '';
  } else {
    let shown = cs.value ?? '';
    if (kind === 'datetime-local') shown = isoToLocalInput(cs.value);
    if (kind === 'date') shown = cs.value ? String(cs.value).slice(0, 10) : '';
    control = h('input', { ...common, type: kind, value: shown, placeholder: cs.meta.hintValue || null,
      maxlength: Number(cs.meta.maxSize) > 0 && ['text', 'password'].includes(kind) ? cs.meta.maxSize : null,
      size, style, step: kind === 'number' ? 'any' : null, autocomplete: kind === 'password' ? 'current-password' : null,
      oninput: (e) => {
        const v = e.target.value;
        if (kind === 'datetime-local') {
          const d = v ? new Date(v) : null;
          cs.value = d && !Number.isNaN(d.getTime()) ? d.toISOString() : '';
        } else {
          cs.value = v;
        }
        cs.badInput = !!e.target.validity?.badInput;
        clearLocalError(cs);
      },
      onchange: () => valueChanged(cs) });
  }
  return h('div', { class: 'field' }, f.label, control, f.help, f.error);
}

function renderUnknown(cs) {
  return h('div', { class: 'muted p-unsupported' }, `This player cannot show a "${cs.meta.componentType}" component`,
    cs.meta.label ? ` (${cs.meta.label})` : '', '.');
}

/* ------------------------------------------------------------------ lists: shared state and data */

function initListState(cs) {
  const { meta, data } = cs;
  cs.selected = new Map();
  cs.search = '';
  cs.offset = 0;
  cs.rows = [];
  cs.hasMore = false;
  cs.loaded = false;
  cs.loading = false;
  cs.error = null;
  cs.seq = 0;
  const lf = data.objectDataRequest?.listFilter ?? {};
  cs.sortBy = lf.orderByPropertyDeveloperName || null;
  cs.sortDir = lf.orderByDirectionType || (cs.sortBy ? 'ASC' : null);
  const attrSize = Number(meta.attributes?.paginationSize ?? data.attributes?.paginationSize);
  const type = cs.type === 'combobox' ? 'select' : cs.type;
  cs.limit = attrSize > 0 ? attrSize : Number(lf.limit) > 0 && type !== 'select' ? Number(lf.limit) : PAGE_SIZE[type] ?? 10;
  if (cs.type === 'files') cs.source = data.fileDataRequest ? 'files' : 'none';
  else if (cs.type === 'file-upload' || cs.type === 'file_upload') cs.source = 'upload';
  else if (data.objectDataRequest) cs.source = 'service';
  else cs.source = 'inline';
  const od = data.objectData ?? [];
  if (cs.source === 'inline') {
    // value-bound lists: every option, the selected ones flagged; one all-empty object means none
    cs.all = od.length === 1 && od[0].properties?.every((p) => p.contentValue == null || p.contentValue === '') && !od[0].isSelected
      ? [] : od;
    for (const o of od) if (o.isSelected) cs.selected.set(objKey(o), o);
    cs.loaded = true;
  } else {
    for (const o of od) cs.selected.set(objKey(o), o);
  }
  cs.uploads = [];
}

/** Columns shown (isDisplayValue), by order; $File defaults for files components without columns. */
function displayColumns(cs) {
  const cols = (cs.meta.columns ?? []).filter((c) => c.isDisplayValue !== false).sort(byOrder);
  if (cols.length) return cols;
  if (cs.type === 'files') {
    return [
      { developerName: 'Name', label: 'Name', contentType: 'ContentString' },
      { developerName: 'Mime Type', label: 'Type', contentType: 'ContentString' },
      { developerName: 'Date Modified', label: 'Modified', contentType: 'ContentDateTime' },
    ];
  }
  // no columns: the first object's properties
  const sample = (cs.source === 'inline' ? cs.all : cs.rows)?.[0];
  return (sample?.properties ?? []).slice(0, 6).map((p) => ({ developerName: p.developerName, label: p.developerName,
    contentType: p.contentType }));
}

function cellText(o, col) {
  const p = propByColumn(o, col);
  return formatValue(p?.contentValue, col.contentType || p?.contentType, p);
}

/** Label of an option: the first display column's value (else the first non-empty property). */
function optionLabel(cs, o) {
  const col = (cs.meta.columns ?? []).filter((c) => c.isDisplayValue !== false).sort(byOrder)[0];
  const t = col ? cellText(o, col) : '';
  return t || firstText(o) || '(empty)';
}

/** Inline rows after client-side search and sort. */
function inlineRows(cs, cols) {
  let rows = cs.all ?? [];
  const q = lower(cs.search).trim();
  if (q) rows = rows.filter((o) => cols.some((c) => lower(cellText(o, c)).includes(q)));
  if (cs.sortBy) {
    const col = cols.find((c) => lower(c.developerName) === lower(cs.sortBy)) ?? { developerName: cs.sortBy };
    const numeric = upper(col.contentType) === 'CONTENTNUMBER';
    const val = (o) => propByColumn(o, col)?.contentValue ?? '';
    const dir = cs.sortDir === 'DESC' ? -1 : 1;
    rows = [...rows].sort((a, b) => {
      const x = val(a);
      const y = val(b);
      const r = numeric ? (Number(x) || 0) - (Number(y) || 0) : String(x).localeCompare(String(y), undefined, { numeric: true });
      return r * dir;
    });
  }
  return rows;
}

/** Fetches the current page of a service list (data or files relay). append: add to rows (combobox scrolling). */
async function loadRows(cs, { append = false } = {}) {
  const seq = ++cs.seq;
  cs.loading = true;
  cs.error = null;
  cs.onLoading?.();
  const files = cs.source === 'files';
  const req = files ? cs.data.fileDataRequest : cs.data.objectDataRequest;
  const listFilter = { ...(req.listFilter ?? {}), limit: cs.limit, offset: cs.offset, search: cs.search || '' };
  if (cs.sortBy || !files) { // files lists are newest first until a header is clicked
    listFilter.orderByPropertyDeveloperName = cs.sortBy || '';
    listFilter.orderByDirectionType = cs.sortBy ? (cs.sortDir || 'ASC') : '';
  }
  try {
    const answer = await api('POST', `${API}/service/${files ? 'file' : 'data'}`, { ...req, listFilter },
      { state: req.stateId ?? run.stateId });
    if (seq !== cs.seq) return;
    const got = answer?.objectData ?? [];
    cs.rows = append ? [...cs.rows, ...got] : got;
    cs.hasMore = !!answer?.hasMoreResults;
    cs.loaded = true;
  } catch (e) {
    if (seq !== cs.seq) return;
    cs.error = e.message;
    if (!append) cs.rows = [];
  } finally {
    if (seq === cs.seq) {
      cs.loading = false;
      cs.onLoaded ? cs.onLoaded() : rerender(cs);
    }
  }
}

/** After a selection changed: errors go (true when one was shown: the caller re-renders), conditions SYNC. */
function selectionChanged(cs) {
  const had = !!errorOf(cs);
  cs.localError = null;
  if (cs.data.isValid === false) cs.data = { ...cs.data, isValid: true, validationMessage: null };
  if (cs.meta.hasEvents) sync();
  return had;
}

/* ------------------------------------------------------------------ table (and files) */

function renderTable(cs) {
  const { meta } = cs;
  const cols = displayColumns(cs);
  const bound = run.outcomes.filter((o) => o.pageObjectBindingId === meta.id);
  const rowOutcomes = bound.filter((o) => !o.isBulkAction);
  const bulk = bound.filter((o) => o.isBulkAction);
  const multi = !!meta.isMultiSelect;
  const enabled = enabledOf(cs);
  const files = cs.type === 'files';
  // files lists are for finding, sorting and downloading: no selection
  const selectable = enabled && !files && cs.source !== 'none';
  const editableTable = editableOf(cs);
  const labelId = domId('lbl', meta.id);
  const err = errorOf(cs);
  const errId = err ? domId('err', meta.id) : null;
  const server = cs.source === 'service' || cs.source === 'files';

  if (server && !cs.loaded && !cs.loading && !cs.error) {
    cs.loading = true;
    queueMicrotask(() => loadRows(cs));
  }

  let pageRows;
  let total = null;
  if (server) {
    pageRows = cs.rows;
  } else {
    const all = inlineRows(cs, cols);
    total = all.length;
    if (cs.offset >= total && total > 0) cs.offset = Math.floor((total - 1) / cs.limit) * cs.limit;
    pageRows = all.slice(cs.offset, cs.offset + cs.limit);
  }
  const hasNext = server ? cs.hasMore : cs.offset + cs.limit < total;
  const hasPrev = cs.offset > 0;

  const parts = [];
  const label = labelText(cs);
  if (label) {
    parts.push(h('h2', { class: 'p-label', id: labelId }, label,
      requiredOf(cs) ? h('span', { class: 'p-req', 'aria-hidden': 'true' }, ' *') : null));
  }

  if (files && cs.data.fileDataRequest && enabled) parts.push(renderUploadArea(cs, { embedded: true }));

  const toolbar = h('div', { class: 'p-toolbar' });
  if (meta.isSearchable || files) {
    const searchId = domId('search', meta.id);
    const doSearch = (v) => {
      if (v === cs.search) return;
      cs.search = v;
      cs.offset = 0;
      if (server) loadRows(cs); else rerender(cs);
    };
    const later = debounce((v) => doSearch(v), SEARCH_DEBOUNCE_MS);
    toolbar.append(h('form', { class: 'p-search', role: 'search', onsubmit: (e) => { e.preventDefault(); later.cancel(); doSearch(e.target.elements.q.value); } },
      h('label', { class: 'sr-only', for: searchId }, `Search ${label || 'rows'}`),
      h('input', { type: 'search', id: searchId, name: 'q', value: cs.search, placeholder: 'Search…', 'data-fk': 'search',
        oninput: (e) => later(e.target.value) }),
      h('button', { type: 'submit', 'data-fk': 'search-go' }, 'Search')));
  }
  if (bulk.length) {
    toolbar.append(h('div', { class: 'p-bulk' }, bulk.map((o) => outcomeButton(o, { cs }))));
  }
  if (toolbar.childNodes.length) parts.push(toolbar);
  if (cs.error) {
    parts.push(h('div', { class: 'alert error', role: 'alert' }, cs.error, ' ',
      h('button', { type: 'button', class: 'small', onclick: () => loadRows(cs) }, 'Try again')));
  }

  const table = h('table', { class: 'p-table', role: selectable ? 'grid' : null, 'aria-labelledby': label ? labelId : null,
    'aria-label': label ? null : meta.developerName, 'aria-multiselectable': selectable && multi ? 'true' : null,
    'aria-busy': cs.loading ? 'true' : 'false', 'aria-describedby': errId, 'aria-invalid': err ? 'true' : null });
  const headRow = h('tr');
  if (selectable) {
    if (multi) {
      const allOn = pageRows.length > 0 && pageRows.every((o) => cs.selected.has(objKey(o)));
      headRow.append(h('th', { class: 'p-select' }, h('input', { type: 'checkbox', 'aria-label': 'Select all rows on this page',
        checked: allOn, 'data-fk': 'select-all',
        onchange: (e) => {
          for (const o of pageRows) {
            if (e.target.checked) cs.selected.set(objKey(o), cs.selected.get(objKey(o)) ?? o);
            else cs.selected.delete(objKey(o));
          }
          selectionChanged(cs);
          rerender(cs);
        } })));
    } else {
      headRow.append(h('th', { class: 'p-select' }, h('span', { class: 'sr-only' }, 'Selected')));
    }
  }
  for (const col of cols) {
    const name = col.developerName;
    const sorted = cs.sortBy && lower(cs.sortBy) === lower(name);
    const ariaSort = sorted ? (cs.sortDir === 'DESC' ? 'descending' : 'ascending') : 'none';
    const text = col.label || name;
    const sortable = !!name;
    headRow.append(h('th', { scope: 'col', 'aria-sort': sortable ? ariaSort : null },
      sortable ? h('button', { type: 'button', class: 'sort', 'data-fk': `sort:${name}`,
        onclick: () => {
          if (sorted) cs.sortDir = cs.sortDir === 'DESC' ? 'ASC' : 'DESC';
          else { cs.sortBy = name; cs.sortDir = 'ASC'; }
          cs.offset = 0;
          if (server) loadRows(cs); else rerender(cs);
        } }, text, h('span', { class: 'p-sort-icon', 'aria-hidden': 'true' }, sorted ? (cs.sortDir === 'DESC' ? ' ▼' : ' ▲') : ' ↕'))
        : text));
  }
  if (files) headRow.append(h('th', { scope: 'col' }, 'Download'));
  if (rowOutcomes.length) headRow.append(h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')));
  table.append(h('thead', null, headRow));

  const body = h('tbody');
  const colCount = cols.length + (selectable ? 1 : 0) + (files ? 1 : 0) + (rowOutcomes.length ? 1 : 0);
  if (!pageRows.length) {
    let msg;
    if (cs.loading) msg = 'Loading…';
    else if (cs.error) msg = 'The rows could not be loaded.';
    else if (cs.search) msg = 'No rows match your search.';
    else msg = files ? 'No files yet.' : 'No rows to show.';
    body.append(h('tr', { class: 'p-empty-row' }, h('td', { colspan: colCount }, h('div', { class: 'empty' }, msg))));
  }
  pageRows.forEach((row, i) => {
    const key = objKey(row);
    const o = cs.selected.get(key) ?? row;
    const isSel = cs.selected.has(key);
    const toggle = () => {
      if (!selectable) return;
      if (multi) {
        if (isSel) cs.selected.delete(key); else cs.selected.set(key, o);
      } else if (isSel) {
        cs.selected.clear();
      } else {
        cs.selected.clear();
        cs.selected.set(key, o);
      }
      selectionChanged(cs);
      rerender(cs);
    };
    const tr = h('tr', { class: isSel ? 'selected' : null, 'aria-selected': selectable ? String(isSel) : null,
      tabindex: selectable ? '0' : null, 'data-fk': `row:${key}`, dataset: { key },
      onclick: (e) => {
        if (e.target.closest('button, a, [data-noselect]')) return;
        toggle();
      },
      onkeydown: (e) => {
        if (e.target !== e.currentTarget) return;
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); toggle(); }
        else if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
          e.preventDefault();
          const sib = e.key === 'ArrowDown' ? e.currentTarget.nextElementSibling : e.currentTarget.previousElementSibling;
          sib?.focus();
        }
      } });
    if (selectable) {
      tr.append(h('td', { class: 'p-select' }, h('input', { type: multi ? 'checkbox' : 'radio', tabindex: '-1',
        'aria-label': `Select row ${cs.offset + i + 1}`, checked: isSel, name: multi ? null : domId('sel', meta.id) })));
    }
    for (const col of cols) {
      const p = propByColumn(o, col);
      if (col.isEditable && editableTable && p) {
        const kind = { CONTENTNUMBER: 'number', CONTENTBOOLEAN: 'checkbox', CONTENTDATE: 'date' }[upper(col.contentType || p.contentType)] ?? 'text';
        const inputAttrs = { type: kind, 'data-noselect': 'true', 'data-fk': `cell:${key}:${col.developerName}`,
          'aria-label': `${col.label || col.developerName}, row ${cs.offset + i + 1}` };
        const edit = (v) => {
          const copy = cs.selected.get(key) ?? structuredClone(o);
          const cp = propByColumn(copy, col);
          cp.contentValue = v;
          if (!multi && !cs.selected.has(key)) cs.selected.clear();
          cs.selected.set(key, copy);
          selectionChanged(cs);
        };
        const cell = kind === 'checkbox'
          ? h('input', { ...inputAttrs, checked: lower(p.contentValue) === 'true', onchange: (e) => { edit(e.target.checked ? 'true' : 'false'); rerender(cs); } })
          : h('input', { ...inputAttrs, value: p.contentValue ?? '', oninput: (e) => edit(e.target.value), onchange: () => rerender(cs) });
        tr.append(h('td', { class: 'p-edit-cell' }, cell));
      } else {
        tr.append(h('td', null, cellText(o, col)));
      }
    }
    if (files) {
      const uri = safeUrl(propOf(o, 'Download Uri')?.contentValue);
      const name = propOf(o, 'Name')?.contentValue ?? 'file';
      tr.append(h('td', null, uri
        ? h('a', { href: uri, download: name, class: 'button small' }, 'Download', h('span', { class: 'sr-only' }, ` ${name}`))
        : h('button', { type: 'button', class: 'small', disabled: true }, 'Download')));
    }
    if (rowOutcomes.length) {
      tr.append(h('td', { class: 'p-row-actions' }, rowOutcomes.map((oc) => outcomeButton(oc, { cs, row: o, rowLabel: cs.offset + i + 1 }))));
    }
    body.append(tr);
  });
  table.append(body);
  parts.push(h('div', { class: 'p-table-wrap' }, table));
  if (err) parts.push(h('div', { class: 'error-text', id: errId }, err));

  if (hasPrev || hasNext) {
    const page = Math.floor(cs.offset / cs.limit) + 1;
    const pages = total != null ? Math.max(1, Math.ceil(total / cs.limit)) : null;
    const go = (d) => {
      cs.offset = Math.max(0, cs.offset + d * cs.limit);
      if (server) loadRows(cs); else rerender(cs);
    };
    parts.push(h('div', { class: 'pager', role: 'navigation', 'aria-label': `${label || 'Table'} pages` },
      h('button', { type: 'button', disabled: !hasPrev || cs.loading, 'data-fk': 'prev', onclick: () => go(-1) }, '‹ Previous'),
      h('span', { class: 'muted', 'aria-live': 'polite' }, pages ? `Page ${page} of ${pages}` : `Page ${page}`),
      h('button', { type: 'button', disabled: !hasNext || cs.loading, 'data-fk': 'next', onclick: () => go(1) }, 'Next ›'),
      cs.loading ? h('span', { class: 'spinner p-small-spinner', 'aria-label': 'Loading' }) : null));
  } else if (cs.loading && pageRows.length) {
    parts.push(h('div', { class: 'pager' }, h('span', { class: 'spinner p-small-spinner', 'aria-label': 'Loading' })));
  }
  if (selectable && cs.selected.size && multi) {
    parts.push(h('div', { class: 'muted p-selcount', 'aria-live': 'polite' }, `${cs.selected.size} selected`));
  }
  return h('div', { class: 'p-table-comp' }, parts);
}

/* ------------------------------------------------------------------ combobox (select) */

function renderCombobox(cs) {
  const { meta } = cs;
  const multi = !!meta.isMultiSelect;
  const id = domId('c', meta.id);
  const listId = domId('list', meta.id);
  const f = fieldParts(cs, id);
  const enabled = editableOf(cs) || (enabledOf(cs) && cs.isList);
  const server = cs.source === 'service';
  let open = false;
  let active = -1;
  let shown = [];

  const chips = h('div', { class: 'p-chips' });
  const list = h('ul', { role: 'listbox', id: listId, class: 'p-listbox', hidden: true,
    'aria-label': labelText(cs) || meta.developerName, 'aria-multiselectable': multi ? 'true' : null,
    onmousedown: (e) => e.preventDefault(), // keep focus in the input
    onscroll: () => {
      if (server && cs.hasMore && !cs.loading && list.scrollTop + list.clientHeight >= list.scrollHeight - 24) more();
    } });
  const selectedText = () => (multi ? '' : [...cs.selected.values()].map((o) => optionLabel(cs, o))[0] ?? '');
  const input = h('input', { type: 'text', id, role: 'combobox', autocomplete: 'off', 'aria-autocomplete': 'list',
    'aria-expanded': 'false', 'aria-controls': listId, disabled: !enabled, 'data-fk': 'combo',
    placeholder: meta.hintValue || (multi ? 'Search and pick…' : 'Choose…'), value: selectedText(),
    'aria-invalid': f.err ? 'true' : null, 'aria-describedby': f.describedBy, 'aria-required': requiredOf(cs) ? 'true' : null,
    onfocus: () => input.select?.(),
    onclick: () => { if (!open) openList(); },
    oninput: () => {
      if (!open) openList(false);
      const q = input.value;
      if (server) searchLater(q);
      else { cs.search = q; renderOptions(); }
    },
    onkeydown: (e) => {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        if (!open) { openList(); return; }
        moveActive(e.key === 'ArrowDown' ? 1 : -1);
      } else if (e.key === 'Enter') {
        if (open && active >= 0 && shown[active]) { e.preventDefault(); pick(shown[active]); }
      } else if (e.key === 'Escape') {
        if (open) { e.preventDefault(); closeList(); }
      } else if (e.key === 'Home' && open) { e.preventDefault(); setActive(0); }
      else if (e.key === 'End' && open) { e.preventDefault(); setActive(shown.length - 1); }
    },
    onblur: () => setTimeout(() => { if (document.activeElement !== input) closeList(); }, 0) });
  const toggleBtn = h('button', { type: 'button', class: 'p-combo-toggle', tabindex: '-1', disabled: !enabled,
    'aria-label': `Show options for ${labelText(cs) || meta.developerName}`,
    onmousedown: (e) => e.preventDefault(), // the input keeps the focus (its blur would close the list)
    onclick: () => { input.focus(); if (open) closeList(); else openList(); } }, '▾');

  const searchLater = debounce((q) => { cs.search = q; cs.offset = 0; loadRows(cs); }, SEARCH_DEBOUNCE_MS);
  const more = () => { cs.offset += cs.limit; loadRows(cs, { append: true }); };
  cs.onLoading = () => renderOptions();
  cs.onLoaded = () => { if (open) renderOptions(); };
  cs.dispose = () => searchLater.cancel();

  function options() {
    if (server) return cs.rows;
    const q = lower(cs.search).trim();
    const all = cs.all ?? [];
    return q ? all.filter((o) => lower(optionLabel(cs, o)).includes(q)) : all;
  }

  function renderOptions() {
    shown = options();
    if (active >= shown.length) active = shown.length - 1;
    const items = shown.map((o, i) => {
      const sel = cs.selected.has(objKey(o));
      return h('li', { role: 'option', id: `${listId}-${i}`, 'aria-selected': String(sel),
        class: `${i === active ? 'active' : ''}${sel ? ' selected' : ''}`,
        onclick: () => pick(o) }, multi ? h('span', { class: 'p-tick', 'aria-hidden': 'true' }, sel ? '☑ ' : '☐ ') : null,
      optionLabel(cs, o));
    });
    if (cs.loading) items.push(h('li', { class: 'p-list-note', role: 'presentation' }, 'Loading…'));
    else if (cs.error) items.push(h('li', { class: 'p-list-note error-text', role: 'presentation' }, cs.error));
    else if (!shown.length) items.push(h('li', { class: 'p-list-note', role: 'presentation' }, cs.search ? 'No options match your search.' : 'No options.'));
    else if (server && cs.hasMore) items.push(h('li', { class: 'p-list-note', role: 'presentation' }, 'Scroll for more…'));
    list.replaceChildren(...items);
    input.setAttribute('aria-activedescendant', active >= 0 ? `${listId}-${active}` : '');
    // a page too short to scroll could never ask for the next one: fetch until the list scrolls
    if (open && server && cs.hasMore && !cs.loading && !cs.error && list.scrollHeight <= list.clientHeight + 4) more();
  }

  function setActive(i) {
    active = Math.max(0, Math.min(i, shown.length - 1));
    renderOptions();
    list.querySelector('li.active')?.scrollIntoView({ block: 'nearest' });
    if (server && cs.hasMore && !cs.loading && active >= shown.length - 1) more();
  }
  function moveActive(d) { setActive(active + d); }

  function openList(resetSearch = true) {
    open = true;
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    if (resetSearch && cs.search && !multi) {
      cs.search = '';
      if (server) { cs.offset = 0; loadRows(cs); }
    }
    if (server && !cs.loaded && !cs.loading) loadRows(cs);
    active = shown.length ? active : -1;
    renderOptions();
  }
  function closeList() {
    open = false;
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    if (!multi) input.value = selectedText();
  }

  function pick(o) {
    const key = objKey(o);
    if (multi) {
      if (cs.selected.has(key)) cs.selected.delete(key); else cs.selected.set(key, o);
      renderChips();
      renderOptions();
    } else {
      cs.selected.clear();
      cs.selected.set(key, o);
      closeList();
    }
    if (selectionChanged(cs)) rerender(cs);
  }

  function renderChips() {
    if (!multi) return;
    chips.replaceChildren(...[...cs.selected.entries()].map(([key, o]) => h('span', { class: 'badge p-chip' }, optionLabel(cs, o),
      h('button', { type: 'button', class: 'p-chip-x', disabled: !enabled, 'aria-label': `Remove ${optionLabel(cs, o)}`,
        onclick: () => { cs.selected.delete(key); renderChips(); if (open) renderOptions(); selectionChanged(cs); input.focus(); } }, '×'))));
  }
  renderChips();
  if (!multi && cs.selected.size === 0 && !input.value) input.value = '';
  return h('div', { class: 'field p-combo' }, f.label, chips,
    h('div', { class: 'p-combo-box' }, input, toggleBtn, list), f.help, f.error);
}

/* ------------------------------------------------------------------ radio */

function renderRadio(cs) {
  const { meta } = cs;
  const multi = !!meta.isMultiSelect;
  const enabled = enabledOf(cs);
  const err = errorOf(cs);
  const errId = err ? domId('err', meta.id) : null;
  const helpId = meta.helpInfo ? domId('help', meta.id) : null;
  const server = cs.source === 'service';
  if (server && !cs.loaded && !cs.loading && !cs.error) {
    cs.loading = true;
    queueMicrotask(() => loadRows(cs));
  }
  const opts = server ? cs.rows : (cs.all ?? []);
  const name = domId('r', meta.id);
  const items = opts.map((o, i) => {
    const key = objKey(o);
    const id = `${name}-${i}`;
    return h('div', { class: 'p-check-row' },
      h('input', { type: multi ? 'checkbox' : 'radio', id, name, value: key, checked: cs.selected.has(key), disabled: !enabled,
        'data-fk': `opt:${key}`, 'aria-describedby': [helpId, errId].filter(Boolean).join(' ') || null,
        onchange: (e) => {
          if (multi) { if (e.target.checked) cs.selected.set(key, o); else cs.selected.delete(key); }
          else { cs.selected.clear(); cs.selected.set(key, o); }
          if (selectionChanged(cs)) rerender(cs);
        } }),
      h('label', { for: id }, optionLabel(cs, o)));
  });
  let note = null;
  if (cs.loading && !opts.length) note = h('p', { class: 'muted' }, 'Loading…');
  else if (cs.error) note = h('div', { class: 'alert error', role: 'alert' }, cs.error);
  else if (!opts.length) note = h('p', { class: 'muted' }, 'No options.');
  const label = labelText(cs);
  return h('fieldset', { class: 'field p-radio', 'aria-invalid': err ? 'true' : null, 'aria-describedby': [helpId, errId].filter(Boolean).join(' ') || null },
    h('legend', null, label || meta.developerName, requiredOf(cs) ? h('span', { class: 'p-req', 'aria-hidden': 'true' }, ' *') : null,
      requiredOf(cs) ? h('span', { class: 'sr-only' }, ' (required)') : null),
    items, note,
    helpId ? h('div', { class: 'help', id: helpId }, meta.helpInfo) : null,
    errId ? h('div', { class: 'error-text', id: errId }, err) : null);
}

/* ------------------------------------------------------------------ file upload */

function renderUpload(cs) {
  return renderUploadArea(cs, { embedded: false });
}

function renderUploadArea(cs, { embedded }) {
  const { meta } = cs;
  const fdr = cs.data.fileDataRequest;
  const multi = embedded ? true : meta.isMultiSelect !== false;
  const enabled = enabledOf(cs) && !!fdr;
  const inputId = domId(embedded ? 'fu' : 'c', meta.id);
  const err = embedded ? null : errorOf(cs);
  const errId = err ? domId('err', meta.id) : null;
  const label = embedded ? 'Add files' : labelText(cs);
  const fileInput = h('input', { type: 'file', id: inputId, class: 'sr-only', tabindex: '-1', multiple: multi, disabled: !enabled,
    'aria-hidden': 'true', onchange: (e) => { const list = [...e.target.files]; e.target.value = ''; startUploads(cs, list, embedded); } });
  const chooseBtn = h('button', { type: 'button', disabled: !enabled, 'data-fk': 'choose',
    'aria-describedby': errId, onclick: () => fileInput.click() }, multi ? 'Choose files…' : 'Choose a file…');
  const zone = h('div', { class: 'p-dropzone', role: 'group', 'aria-labelledby': domId('ul', meta.id), dataset: { dropzone: meta.id } },
    h('span', { class: 'muted' }, multi ? 'Drag files here, or ' : 'Drag a file here, or '), chooseBtn, fileInput);
  if (enabled) {
    zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'));
    zone.addEventListener('drop', (e) => {
      e.preventDefault();
      zone.classList.remove('over');
      const list = [...(e.dataTransfer?.files ?? [])];
      if (list.length) startUploads(cs, multi ? list : list.slice(0, 1), embedded);
    });
  }
  const uploads = h('ul', { class: 'p-uploads', 'aria-live': 'polite' }, cs.uploads.map((u) => uploadRow(u)));
  const done = !embedded && cs.selected.size
    ? h('p', { class: 'muted p-uploaded' }, `Uploaded: ${[...cs.selected.values()].map((o) => propOf(o, 'Name')?.contentValue ?? firstText(o)).join(', ')}`)
    : null;
  return h('div', { class: `field p-upload${embedded ? ' p-upload-embedded' : ''}` },
    h('div', { class: embedded ? 'sr-only' : 'p-label', id: domId('ul', meta.id) }, label,
      !embedded && requiredOf(cs) ? h('span', { class: 'p-req', 'aria-hidden': 'true' }, ' *') : null),
    fdr ? zone : h('p', { class: 'muted' }, 'Uploads are not available here.'),
    uploads, done,
    !embedded && meta.helpInfo ? h('div', { class: 'help' }, meta.helpInfo) : null,
    errId ? h('div', { class: 'error-text', id: errId }, err) : null);
}

function uploadRow(u) {
  const pct = Math.round(u.progress * 100);
  u.bar = h('progress', { max: '100', value: String(pct), 'aria-label': `Uploading ${u.name}` });
  u.text = h('span', { class: u.error ? 'error-text' : 'muted' },
    u.error ? `Failed: ${u.error}` : u.done ? 'Uploaded' : u.started ? `${pct}%` : 'Waiting');
  return h('li', { class: `p-upload-row${u.done ? ' done' : ''}${u.error ? ' failed' : ''}`,
    dataset: { file: u.name, progressEvents: String(u.events) } },
    h('span', { class: 'p-file-name' }, u.name, h('span', { class: 'muted' }, ` (${formatBytes(u.size)})`)), u.bar, u.text);
}

function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Uploads files one request each (so each has its own progress), one after the other. */
async function startUploads(cs, files, embedded) {
  if (!files.length) return;
  const entries = files.map((file) => ({ file, name: file.name, size: file.size, progress: 0, started: false, done: false,
    error: null, events: 0 }));
  cs.uploads.push(...entries);
  rerender(cs);
  let any = false;
  for (const u of entries) {
    try {
      const objs = await uploadOne(cs, u);
      u.done = true;
      u.progress = 1;
      any = true;
      for (const o of objs) {
        if (!cs.meta.isMultiSelect && !embedded) cs.selected.clear();
        if (!embedded) cs.selected.set(objKey(o), { ...o, isSelected: true });
      }
    } catch (e) {
      u.error = e.message;
    }
    updateUploadRow(u);
  }
  if (!embedded) cs.localError = null;
  rerender(cs);
  if (any) {
    // every files list of the same service shows the new files
    const svc = cs.data.fileDataRequest?.serviceElementId;
    for (const other of comps.values()) {
      if (other.type === 'files' && other.source === 'files' && other.data.fileDataRequest?.serviceElementId === svc) {
        other.offset = 0;
        loadRows(other);
      }
    }
    if (!embedded && cs.meta.hasEvents) sync();
  }
}

function updateUploadRow(u) {
  if (!u.bar) return;
  const pct = Math.round(u.progress * 100);
  u.bar.value = pct;
  u.text.textContent = u.error ? `Failed: ${u.error}` : u.done ? 'Uploaded' : `${pct}%`;
  u.text.className = u.error ? 'error-text' : 'muted';
  u.bar.closest('li')?.classList.toggle('done', u.done);
}

function uploadOne(cs, u) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `${API}/service/file/content`);
    xhr.setRequestHeader('ManyWhoTenant', run.tenant);
    u.started = true;
    xhr.upload.onprogress = (e) => {
      if (!e.lengthComputable) return;
      u.events += 1;
      u.progress = e.loaded / e.total;
      if (u.bar) u.bar.closest('li').dataset.progressEvents = String(u.events);
      updateUploadRow(u);
    };
    xhr.onerror = () => reject(new ApiError(0, problemMessage(0)));
    xhr.onabort = () => reject(new ApiError(0, 'The upload was cancelled.'));
    xhr.onload = () => {
      try {
        const answer = parseAnswer(xhr.status, xhr.responseText);
        resolve(answer?.objectData ?? []);
      } catch (e) {
        reject(e);
      }
    };
    const fd = new FormData();
    fd.append('FileDataRequest', JSON.stringify(cs.data.fileDataRequest));
    fd.append('FileData', u.file, u.file.name);
    updateUploadRow(u);
    xhr.send(fd);
  });
}

/* ------------------------------------------------------------------ outcomes and validation */

function outcomeButton(o, { cs = null, row = null, rowLabel = null } = {}) {
  const act = upper(o.pageActionType);
  const binding = upper(o.pageActionBindingType || 'SAVE');
  let cls = 'primary';
  if (['DELETE', 'REMOVE', 'REJECT'].includes(act)) cls = 'danger';
  else if (['CANCEL', 'BACK', 'CLOSE'].includes(act) || binding === 'NO_SAVE') cls = '';
  if (row) cls += ' small';
  const label = o.label || o.developerName || 'Go';
  return h('button', { type: 'button', class: `${cls}${o.className ? ` ${o.className}` : ''}`.trim() || null,
    dataset: { outcome: o.id, outcomeName: o.developerName ?? '' },
    'aria-label': row ? `${label} row ${rowLabel}` : null,
    onclick: (e) => { e.stopPropagation(); runOutcome(o, { cs, row }); } }, label);
}

function runOutcome(o, { cs, row }) {
  if (o.attributes?.uri) {
    const url = safeUrl(o.attributes.uri);
    if (url) window.open(url, '_blank', 'noopener');
    return;
  }
  if (run.moving > 0 || run.waiting) return;
  if (cs && row) {
    cs.selected.clear();
    cs.selected.set(objKey(row), row);
    cs.localError = null;
  }
  const binding = upper(o.pageActionBindingType || 'SAVE');
  if (binding === 'SAVE' && !validateLocal()) return;
  if (cs && row) rerender(cs);
  sync.cancel();
  invoke('FORWARD', { outcome: o });
}

function isEmpty(cs) {
  if (cs.isList) return !cs.selected || cs.selected.size === 0;
  if (inputKind(cs) === 'checkbox') return false;
  return cs.value == null || String(cs.value).trim() === '';
}

/** Required and well-formed checks before a SAVE outcome; shows the messages, focuses the first. */
function validateLocal() {
  const bad = [];
  for (const cs of comps.values()) {
    cs.localError = null;
    if (!cs.isInput || cs.data.isVisible === false || !enabledOf(cs) || !cs.el) continue;
    if (!cs.isList && cs.data.isEditable === false) continue;
    if (cs.type === 'files') continue;
    if (!cs.isList && cs.badInput && inputKind(cs) === 'number') cs.localError = 'Enter a number.';
    else if (requiredOf(cs) && isEmpty(cs)) {
      cs.localError = cs.type === 'file-upload' || cs.type === 'file_upload' ? 'Upload a file.'
        : cs.isList ? 'Select an option.' : 'This field is required.';
    }
    if (cs.localError) bad.push(cs);
  }
  renderPageBody();
  if (bad.length) {
    setAlerts([{ kind: 'error', text: bad.length === 1 ? 'One field needs your attention.' : `${bad.length} fields need your attention.` }]);
    focusComponent(bad[0]);
    return false;
  }
  return true;
}

function focusComponent(cs) {
  // a field behind a tab: show that tab first
  const panel = cs.el?.closest('[role="tabpanel"][hidden]');
  if (panel) {
    const group = panel.closest('[data-container]')?.dataset.container;
    const tabbed = allContainers().find((c) => domId('panel', c.id) === panel.id);
    if (group && tabbed) {
      run.activeTabs.set(group, tabbed.id);
      renderPageBody();
    }
  }
  const el = cs.el?.querySelector('[aria-invalid="true"]:not(fieldset):not(table), input:not([type=file]):not([tabindex="-1"]), textarea, button, tr[tabindex]');
  (el ?? $('#page h1'))?.focus();
}

function renderOutcomeBar() {
  const bound = new Set([...comps.keys(), ...containerIds]);
  const list = run.outcomes.filter((o) => !o.pageObjectBindingId || !bound.has(o.pageObjectBindingId));
  if (!list.length) return null;
  return h('div', { class: 'p-outcomes p-outcome-bar' }, list.map((o) => outcomeButton(o)));
}

/* ------------------------------------------------------------------ SYNC */

function mergeSync(mer) {
  const pr = mer.pageResponse;
  if (!pr || !run.mer) return;
  for (const d of pr.pageComponentDataResponses ?? []) {
    const cs = comps.get(d.pageComponentId);
    if (!cs) continue;
    const before = cs.data;
    cs.data = { ...before, ...d };
    if (!cs.isList && d.contentValue !== undefined && d.contentValue !== before.contentValue) cs.value = d.contentValue;
    if (cs.isList && cs.source === 'service'
      && JSON.stringify(d.objectDataRequest?.listFilter ?? null) !== JSON.stringify(before.objectDataRequest?.listFilter ?? null)) {
      cs.loaded = false;
      cs.offset = 0;
    }
    if (cs.isList && cs.source === 'inline' && d.objectData) {
      cs.all = d.objectData;
    }
  }
  for (const d of pr.pageContainerDataResponses ?? []) {
    run.containerData.set(d.pageContainerId, { ...(run.containerData.get(d.pageContainerId) ?? {}), ...d });
  }
  renderPageBody();
}

/* ------------------------------------------------------------------ registry */

const RENDERERS = {
  presentation: renderPresentation,
  content: (cs) => (cs.meta.contentType ? renderInput(cs) : renderPresentation(cs)),
  input: renderInput,
  checkbox: renderInput,
  toggle: renderInput,
  textarea: renderInput,
  table: renderTable,
  files: renderTable,
  select: renderCombobox,
  combobox: renderCombobox,
  radio: renderRadio,
  'file-upload': renderUpload,
  file_upload: renderUpload,
  image: renderImage,
  hidden: () => h('span', { hidden: true }),
};

window.addEventListener('pageshow', (e) => {
  // back/forward cache: the state may have moved on meanwhile
  if (e.persisted && run.stateId) enqueue(() => rejoin(null)).catch((err) => showError(err));
});

boot();
