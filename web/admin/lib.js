// Sluice console: DOM helpers, the session (sessionStorage), the API client, formatting and a
// few shared widgets. No framework: every page builds its DOM with h(); text always goes in as
// text (never as HTML), so nothing a server returns can inject markup.

export const BASE = '/admin';

/** "1000+" when a list came back full at its cap. */
export const countText = (n, cap) => (n >= cap ? `${cap}+` : String(n));

/* ---------- DOM ---------- */

/**
 * h('tag.class#id', {attr: value, onclick: fn, ...}, ...children). Children may be strings,
 * numbers, nodes, arrays, or null/false (skipped). Attribute values of true set an empty
 * attribute, false/null/undefined leave it out.
 */
export function h(spec, attrs, ...children) {
  if (attrs === null || typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(spec);
  const el = document.createElement(m?.[1] || 'div');
  for (const part of (m?.[2] || '').match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1));
    else el.id = part.slice(1);
  }
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.classList.add(...String(v).split(/\s+/).filter(Boolean));
    else if (k === 'value' || k === 'checked' || k === 'selected') el[k] = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);

let uid = 0;
/** A fresh id for label/for pairs. */
export const nextId = (p = 'f') => `${p}-${++uid}`;

/* ---------- session ---------- */

const SESSION_KEY = 'sluice.console';

/** {atom: {user, token} | null, tenants: [{id, key}], current: tenantId | null} */
export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
    if (s && typeof s === 'object') {
      return {
        atom: s.atom && s.atom.user ? s.atom : null,
        tenants: Array.isArray(s.tenants) ? s.tenants.filter((t) => t && t.id && t.key) : [],
        current: s.current || null,
      };
    }
  } catch { /* corrupt: start over */ }
  return { atom: null, tenants: [], current: null };
}

export function saveSession(s) {
  if (!s.atom && !s.tenants.length) sessionStorage.removeItem(SESSION_KEY);
  else sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
}

export function currentTenant(s) {
  return s.tenants.find((t) => t.id === s.current) || s.tenants[0] || null;
}

/* ---------- the busy indicator ---------- */

let busyCount = 0;
let busyTimer = null;

function busy(delta) {
  busyCount += delta;
  const overlay = document.getElementById('busy');
  const main = document.getElementById('main');
  if (busyCount > 0) {
    main?.setAttribute('aria-busy', 'true');
    if (!busyTimer && overlay?.hidden) busyTimer = setTimeout(() => { busyTimer = null; if (busyCount > 0 && overlay) overlay.hidden = false; }, 150);
  } else {
    busyCount = 0;
    clearTimeout(busyTimer);
    busyTimer = null;
    main?.removeAttribute('aria-busy');
    if (overlay) overlay.hidden = true;
  }
}

/* ---------- API ---------- */

export class ApiError extends Error {
  constructor(message, { status = 0, where = null, problems = null, body = null } = {}) {
    super(message);
    this.status = status;
    this.where = where;
    this.problems = problems;
    this.body = body;
  }
}

function base64(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * One API call. auth: {atom: {user, token}} or {tenant: {id, key}} (or nothing). body: an object
 * (sent as JSON) or a string (sent as is, as JSON). quiet: no busy overlay (auto-refresh).
 * raw: resolve the Response itself (for downloads). Errors throw ApiError with the problem's
 * `message`, `where` and `problems`.
 */
export async function api(method, path, { atom, tenant, body, quiet = false, raw = false } = {}) {
  const headers = { Accept: 'application/json' };
  if (atom) headers.Authorization = 'Basic ' + base64(`${atom.user}:${atom.token}`);
  if (tenant) {
    headers.ManyWhoTenant = tenant.id;
    headers['x-boomi-flow-api-key'] = tenant.key;
  }
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  if (!quiet) busy(1);
  let res;
  try {
    // credentials: 'omit' keeps the browser's own Basic-auth prompt away on a 401.
    res = await fetch(path, { method, headers, body: payload, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(`Cannot reach the server (${e.message}).`, { status: 0 });
  } finally {
    if (!quiet) busy(-1);
  }
  if (res.ok && raw) return res;
  const text = await res.text();
  let json;
  try { json = text ? JSON.parse(text) : null; } catch { json = undefined; }
  if (!res.ok) {
    const p = json && typeof json === 'object' ? json : null;
    let message = p?.message || (text && json === undefined ? text.slice(0, 300) : '') || `HTTP ${res.status} ${res.statusText}`;
    if (res.status === 404 && /no route for/.test(message)) {
      message += path.startsWith('/api/atom/') ? ' (this server runs no Atom)' : path.startsWith('/api/draw/') || path.startsWith('/api/package/') ? ' (this server runs no Flow engine)' : '';
    }
    throw new ApiError(message, { status: res.status, where: p?.where ?? null, problems: Array.isArray(p?.problems) ? p.problems : null, body: p });
  }
  if (json === undefined) throw new ApiError(`The server answered something that is not JSON (HTTP ${res.status}).`, { status: res.status });
  return json;
}

/* ---------- formatting ---------- */

const pad = (n, w = 2) => String(n).padStart(w, '0');

/** Local "YYYY-MM-DD HH:MM:SS" from an ISO string or milliseconds since the epoch. */
export function fmtTime(t) {
  if (t === null || t === undefined || t === '') return '—';
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** A <time> element with the local time as text and the exact ISO time as its title. */
export function timeEl(t) {
  if (t === null || t === undefined || t === '') return h('span.muted', '—');
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return h('span', String(t));
  return h('time', { datetime: d.toISOString(), title: d.toISOString() }, fmtTime(d));
}

export function fmtDuration(ms) {
  if (typeof ms !== 'number') return '—';
  if (ms < 1) return `${ms.toFixed(3)} ms`;
  if (ms < 1000) return `${ms.toFixed(1)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export const shortId = (id) => (id ? String(id).slice(0, 8) : '—');

/** A mono id shortened to 8 characters, the whole id in its title. */
export const idEl = (id) => (id ? h('code.id', { title: id }, shortId(id)) : h('span.muted', '—'));

/** "datetime-local" input value → ms (or null). */
export function localToMs(v) {
  if (!v) return null;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? null : d.getTime();
}

/* ---------- widgets ---------- */

/** An error alert for an ApiError (message, where, problems) or any Error/string. */
export function errorAlert(err, { title } = {}) {
  const e = err instanceof Error ? err : new Error(String(err));
  return h('div.alert.error', { role: 'alert' },
    title ? h('strong', title, ' ') : null,
    h('span.message', e.message),
    e.where ? h('div.muted.small', 'At: ', h('code', e.where)) : null,
    e.problems?.length ? h('ul.problems', e.problems.slice(0, 20).map((p) => h('li', p.pointer ? [h('code', p.pointer), ': '] : null, p.message ?? JSON.stringify(p)))) : null);
}

export const empty = (text, ...more) => h('div.empty', h('p', text), ...more);

export const badge = (text, kind) => h(`span.badge${kind ? '.' + kind : ''}`, text);

export function statusBadge(status) {
  const s = String(status || '').toLowerCase();
  const kind = s === 'success' || s === 'done' || s === 'listening' ? 'ok' : s === 'error' || s === 'fault' ? 'error' : s === 'waiting' || s === 'wait' ? 'warn' : null;
  return badge(status || '—', kind);
}

/**
 * A table: columns [{title, cell: (row) => node|string, class?}], rows. caption is for screen
 * readers (and shown when visibleCaption).
 */
export function table(columns, rows, { caption, rowAttrs } = {}) {
  return h('div.table-wrap',
    h('table',
      caption ? h('caption.sr-only', caption) : null,
      h('thead', h('tr', columns.map((c) => h('th', { scope: 'col', class: c.class }, c.title)))),
      h('tbody', rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {}, columns.map((c) => h('td', { class: c.class }, c.cell(r))))))));
}

/** A definition list from [[term, value], …] (null values skipped). */
export function dl(pairs) {
  return h('dl.facts', pairs.filter((p) => p && p[1] !== undefined).map(([k, v]) => [h('dt', k), h('dd', v === null || v === '' ? h('span.muted', '—') : v)]));
}

/** A labelled form field: {label, input, hint}. The input gets an id tied to the label. */
export function field(label, input, hint) {
  if (!input.id) input.id = nextId();
  let hintEl = null;
  if (hint) {
    hintEl = h('div.hint', { id: `${input.id}-hint` }, hint);
    input.setAttribute('aria-describedby', hintEl.id);
  }
  return h('div.field', h('label', { for: input.id }, label), input, hintEl);
}

/** A pager for offset/limit lists. total may be null (unknown): next is then enabled when the page was full. */
export function pager({ offset, limit, count, total, onPage }) {
  const from = count ? offset + 1 : 0;
  const to = offset + count;
  const hasNext = total === null || total === undefined ? count >= limit : to < total;
  return h('nav.pager', { 'aria-label': 'Pages' },
    h('button.small', { type: 'button', disabled: offset <= 0, onclick: () => onPage(Math.max(0, offset - limit)) }, '← Previous'),
    h('span.muted.pager-info', total === null || total === undefined ? `${from}–${to}` : `${from}–${to} of ${total}`),
    h('button.small', { type: 'button', disabled: !hasNext, onclick: () => onPage(offset + limit) }, 'Next →'));
}

/**
 * A modal confirmation (<dialog>, so focus is trapped and Escape cancels). Resolves true when
 * confirmed.
 */
export function confirmDialog({ title, body, confirm = 'Confirm', danger = false }) {
  return new Promise((resolve) => {
    const titleId = nextId('dlg');
    const back = document.activeElement;
    const dlg = h('dialog.confirm', { 'aria-labelledby': titleId },
      h('form', { method: 'dialog' },
        h('h2', { id: titleId }, title),
        body ? h('p', body) : null,
        h('div.inline.actions',
          h('button', { type: 'submit', value: 'cancel', autofocus: true }, 'Cancel'),
          h(`button${danger ? '.danger' : '.primary'}`, { type: 'submit', value: 'ok' }, confirm))));
    dlg.addEventListener('close', () => {
      dlg.remove();
      if (back && back.isConnected) back.focus();
      resolve(dlg.returnValue === 'ok');
    });
    document.body.append(dlg);
    dlg.showModal();
  });
}

/** Saves text as a file through a temporary object URL. */
export function downloadText(text, filename, type = 'application/json') {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h('a', { href: url, download: filename, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Says something to screen readers (and nothing visible). */
export function announce(text) {
  const live = document.getElementById('announcer');
  if (!live) return;
  live.textContent = '';
  setTimeout(() => { live.textContent = text; }, 30);
}

/** Pretty JSON in a <pre>. */
export const jsonPre = (v, attrs = {}) => h('pre.json', { tabindex: 0, ...attrs }, JSON.stringify(v, null, 2));

/** A safe file name from a label. */
export const fileName = (s) => String(s || 'flow').replace(/[^\w.-]+/g, '-').replace(/^-+|-+$/g, '') || 'flow';
