// Sluice console: the shell (top bar, navigation, tenant switcher), the router (history.pushState
// under /admin), the login page, the overview and the Flow tenants page. Atom pages are in
// atom.js, the other Flow pages in flow.js.
import {
  ApiError, BASE, announce, api, countText, currentTenant, empty, errorAlert, field, h, loadSession, saveSession,
} from './lib.js';
import * as atomPages from './atom.js';
import * as flowPages from './flow.js';


/* ---------- routes ---------- */

const routes = [
  { path: '', page: overview, title: 'Overview' },
  { path: '/login', page: loginPage, title: 'Log in', public: true },
  { path: '/atom/deployments', page: atomPages.deployments, needs: 'atom', nav: 'atom-deployments', title: 'Deployments' },
  { path: '/atom/components', redirect: '/atom/deployments' },
  { path: '/atom/listeners', page: atomPages.listeners, needs: 'atom', nav: 'atom-listeners', title: 'Listeners' },
  { path: '/atom/executions', page: atomPages.executions, needs: 'atom', nav: 'atom-executions', title: 'Executions' },
  { path: '/atom/executions/:id', page: atomPages.execution, needs: 'atom', nav: 'atom-executions', title: 'Execution' },
  { path: '/flow/tenants', page: tenantsPage, needs: 'flow', nav: 'flow-tenants', title: 'Tenants' },
  { path: '/flow/services', page: flowPages.services, needs: 'flow', nav: 'flow-services', title: 'Services' },
  { path: '/flow/flows', page: flowPages.flows, needs: 'flow', nav: 'flow-flows', title: 'Flows' },
  { path: '/flow/flows/:id', page: flowPages.flow, needs: 'flow', nav: 'flow-flows', title: 'Flow' },
  { path: '/flow/states', page: flowPages.states, needs: 'flow', nav: 'flow-states', title: 'Running states' },
  { path: '/flow/states/:id', page: flowPages.state, needs: 'flow', nav: 'flow-states', title: 'State' },
];

function match(pathname) {
  let p = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  p = p.replace(/\/+$/, '');
  for (const r of routes) {
    const names = [];
    const re = new RegExp('^' + r.path.replace(/:(\w+)/g, (_, n) => { names.push(n); return '([^/]+)'; }) + '$');
    const m = re.exec(p);
    if (m) {
      const params = {};
      names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      return { route: r, params };
    }
  }
  return null;
}

/* ---------- the app ---------- */

const app = {
  session: loadSession(),
  leave: [], // cleanups of the current page (timers)
  renderId: 0,

  get atom() { return this.session.atom; },
  get tenant() { return currentTenant(this.session); },

  save() { saveSession(this.session); },

  /** Atom API call with the session's credentials. */
  atomApi(method, path, opts = {}) {
    return api(method, path, { ...opts, atom: this.session.atom });
  },
  /** Flow API call for the current tenant (or opts.tenant). */
  flowApi(method, path, opts = {}) {
    return api(method, path, { ...opts, tenant: opts.tenant || this.tenant });
  },

  navigate(to, { replace = false } = {}) {
    // paths are relative to /admin unless they already start with it
    const url = to === BASE || to.startsWith(`${BASE}/`) || to.startsWith(`${BASE}?`) ? to : `${BASE}${to}`;
    if (replace) history.replaceState(null, '', url);
    else history.pushState(null, '', url);
    this.render({ focus: true });
  },

  reload() { return this.render({ focus: false }); },

  async render({ focus = false } = {}) {
    const id = ++this.renderId;
    for (const f of this.leave.splice(0)) { try { f(); } catch { /* ignore */ } }
    const url = new URL(location.href);
    this.renderedUrl = url.pathname + url.search;
    const found = match(url.pathname);
    const loggedIn = !!(this.session.atom || this.session.tenants.length);
    if (found?.route.redirect) return this.navigate(found.route.redirect + url.search, { replace: true });
    if (!loggedIn && !found?.route.public) {
      const next = url.pathname + url.search;
      return this.navigate(`/login${next && next !== BASE ? `?next=${encodeURIComponent(next)}` : ''}`, { replace: true });
    }
    renderTopbar(found?.route);
    const main = document.getElementById('main');
    const ctx = {
      app: this,
      params: found?.params || {},
      query: url.searchParams,
      onLeave: (f) => this.leave.push(f),
      /** True while this render is still the current one (drop stale results). */
      live: () => id === this.renderId,
      setTitle: (t) => { document.title = `${t} · Sluice console`; },
    };
    ctx.setTitle(found?.route.title || 'Not found');
    let content;
    try {
      if (!found) content = notFound();
      else if (found.route.needs === 'atom' && !this.session.atom) content = needsLogin('Atom', 'the Atom user and token');
      else if (found.route.needs === 'flow' && !this.tenant) content = needsLogin('Flow', 'a tenant id and its API key');
      else content = await found.route.page(ctx);
    } catch (e) {
      if (id !== this.renderId) return;
      content = [h('h1', { tabindex: -1 }, found?.route.title || 'Error'), errorAlert(e), authHint(e, found?.route)];
    }
    if (id !== this.renderId) return;
    const keep = focus ? null : focusKey(main);
    main.replaceChildren(...[content].flat().filter(Boolean));
    if (keep) {
      // a reload keeps the keyboard where it was (same control in the new content)
      const again = [...main.querySelectorAll(keep.tag)].find((el) => focusKey(main, el)?.key === keep.key);
      again?.focus({ preventScroll: true });
    } else if (focus === 'initial') {
      main.querySelector('[autofocus]')?.focus();
    } else if (focus) {
      const target = main.querySelector('[autofocus]') || main.querySelector('h1');
      if (target) {
        if (!target.hasAttribute('tabindex') && target.tagName === 'H1') target.setAttribute('tabindex', '-1');
        target.focus({ preventScroll: true });
      }
      window.scrollTo(0, 0);
    }
  },
};

/** What identifies the focused control inside root across a re-render: tag + id, label or text. */
function focusKey(root, el = document.activeElement) {
  if (!el || el === root || !root.contains(el)) return null;
  const key = el.id || el.getAttribute('aria-label') || `${el.getAttribute('name') || ''}|${el.textContent.trim()}`;
  return { tag: el.tagName.toLowerCase(), key };
}

function authHint(e, route) {
  if (!(e instanceof ApiError) || e.status !== 401) return null;
  const which = route?.needs === 'atom' ? 'Atom' : 'Flow';
  return h('p', `The ${which} credentials were refused. `, h('a', { href: `${BASE}/login` }, 'Log in again'), '.');
}

function notFound() {
  return [h('h1', 'Page not found'), empty('There is no console page at this address.', h('a', { href: BASE }, 'Go to the overview'))];
}

function needsLogin(side, what) {
  return [h('h1', `${side} login needed`),
    empty(`This page needs ${what}.`, h('a.button', { href: `${BASE}/login` }, `Add ${side} credentials`))];
}

/* ---------- top bar ---------- */

function renderTopbar(route) {
  const s = app.session;
  const bar = document.getElementById('topbar');
  const loggedIn = !!(s.atom || s.tenants.length);
  const link = (path, text, key) => h('a', { href: BASE + path, 'aria-current': route?.nav === key || (key === 'overview' && route?.path === '') ? 'page' : null }, text);
  const nav = loggedIn ? h('nav', { 'aria-label': 'Console' },
    s.atom ? h('span.nav-group', { role: 'group', 'aria-label': 'Atom' }, h('span.nav-label', { 'aria-hidden': 'true' }, 'Atom'),
      link('/atom/deployments', 'Deployments', 'atom-deployments'),
      link('/atom/listeners', 'Listeners', 'atom-listeners'),
      link('/atom/executions', 'Executions', 'atom-executions')) : null,
    s.tenants.length ? h('span.nav-group', { role: 'group', 'aria-label': 'Flow' }, h('span.nav-label', { 'aria-hidden': 'true' }, 'Flow'),
      link('/flow/services', 'Services', 'flow-services'),
      link('/flow/flows', 'Flows', 'flow-flows'),
      link('/flow/states', 'Running states', 'flow-states'),
      link('/flow/tenants', 'Tenants', 'flow-tenants')) : null) : null;

  let switcher = null;
  if (s.tenants.length) {
    const sel = h('select#tenant-switch', { onchange: (e) => switchTenant(e.target.value), title: app.tenant?.id },
      s.tenants.map((t) => h('option', { value: t.id, selected: t.id === app.tenant?.id, title: t.id }, `${t.id.slice(0, 8)}…`)));
    switcher = h('div.tenant-switch', h('label', { for: 'tenant-switch' }, 'Tenant'), sel);
  }
  bar.replaceChildren(...[
    h('a.brand', { href: BASE }, 'Sluice ', h('span.muted', 'console')),
    nav,
    h('span.spacer'),
    switcher,
    loggedIn ? h('button.small#logout', { type: 'button', onclick: logout, title: s.atom ? `Logged in to the Atom as ${s.atom.user}` : null }, 'Log out') : null,
  ].filter(Boolean));
}

function switchTenant(id) {
  app.session.current = id;
  app.save();
  announce(`Tenant ${id} selected`);
  // a flow or state of the old tenant means nothing in the new one: go to the list
  const m = /^\/admin\/flow\/(flows|states)\/[^/]+/.exec(location.pathname);
  if (m) app.navigate(`/flow/${m[1]}`);
  else app.reload();
}

function logout() {
  app.session = { atom: null, tenants: [], current: null };
  app.save();
  app.navigate('/login');
  announce('Logged out');
}

/* ---------- login ---------- */

/** Checks Atom credentials with a cheap call; throws ApiError. */
async function verifyAtom(atom) {
  return api('GET', '/api/atom/v1/deployments', { atom });
}

/** Checks a tenant + key; resolves the tenant's flows (used for counts). */
async function verifyTenant(tenant) {
  return api('GET', '/api/draw/1/flow', { tenant });
}

function loginPage(ctx) {
  const s = app.session;
  const user = h('input', { type: 'text', name: 'user', autocomplete: 'username', value: s.atom?.user || '', autofocus: true });
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'current-password', value: s.atom?.token || '' });
  const tenantId = h('input', { type: 'text', name: 'tenant', autocomplete: 'off', spellcheck: 'false', value: app.tenant?.id || '' });
  const key = h('input', { type: 'password', name: 'key', autocomplete: 'off', value: app.tenant?.key || '' });
  const msg = h('div', { 'aria-live': 'polite' });
  const button = h('button.primary', { type: 'submit' }, 'Log in');

  const markInvalid = (inputs, bad) => { for (const i of inputs) i.setAttribute('aria-invalid', bad ? 'true' : 'false'); };

  async function submit(e) {
    e.preventDefault();
    msg.replaceChildren();
    markInvalid([user, token, tenantId, key], false);
    const a = user.value.trim() || token.value.trim() ? { user: user.value.trim(), token: token.value.trim() } : null;
    const t = tenantId.value.trim() || key.value.trim() ? { id: tenantId.value.trim(), key: key.value.trim() } : null;
    const errors = [];
    if (!a && !t) {
      errors.push(h('div.alert.error', { role: 'alert' }, 'Give the Atom user and token, a Flow tenant id and API key, or both.'));
      markInvalid([user, tenantId], true);
    }
    if (a && (!a.user || !a.token)) { errors.push(h('div.alert.error', { role: 'alert' }, 'The Atom needs both a user and a token.')); markInvalid([a.user ? token : user], true); }
    if (t && (!t.id || !t.key)) { errors.push(h('div.alert.error', { role: 'alert' }, 'Flow needs both a tenant id and an API key.')); markInvalid([t.id ? key : tenantId], true); }
    if (errors.length) { msg.replaceChildren(...errors); return; }
    button.disabled = true;
    const [ra, rt] = await Promise.allSettled([a ? verifyAtom(a) : null, t ? verifyTenant(t) : null]);
    button.disabled = false;
    if (ra.status === 'rejected') { errors.push(errorAlert(ra.reason, { title: 'Atom:' })); markInvalid([user, token], true); }
    if (rt.status === 'rejected') { errors.push(errorAlert(rt.reason, { title: 'Flow:' })); markInvalid(rt.reason?.where === 'ManyWhoTenant' ? [tenantId] : [tenantId, key], true); }
    if (errors.length) {
      msg.replaceChildren(...errors);
      (ra.status === 'rejected' ? token : key).focus();
      return;
    }
    if (a) app.session.atom = a;
    if (t) {
      app.session.tenants = [t, ...app.session.tenants.filter((x) => x.id !== t.id)];
      app.session.current = t.id;
    }
    app.save();
    announce('Logged in');
    const next = ctx.query.get('next');
    app.navigate(next && next.startsWith(BASE) && !next.startsWith(`${BASE}/login`) ? next : BASE);
  }

  return h('div.login',
    h('h1', 'Sluice console'),
    h('p.muted', 'Log in with the credentials the APIs use. Give the Atom’s, a Flow tenant’s, or both.'),
    h('form.card#login-form', { onsubmit: submit, novalidate: true },
      msg,
      h('fieldset',
        h('legend', 'Atom'),
        h('p.hint', 'A shared web server user, as printed by ', h('code', 'sluice user add'), ' or ', h('code', 'sluice demo'), '.'),
        field('User', user),
        field('Token', token)),
      h('fieldset',
        h('legend', 'Flow'),
        h('p.hint', 'A tenant id (', h('code', 'sluice tenant add'), ') and a builder API key for it (', h('code', 'sluice key add'), ').'),
        field('Tenant id', tenantId),
        field('API key', key)),
      h('div.inline', button)));
}

/* ---------- overview ---------- */

async function overview(ctx) {
  const s = app.session;
  const cards = [];
  const [dep, lis, exAll, exErr, flows, states] = await Promise.allSettled([
    s.atom ? app.atomApi('GET', '/api/atom/v1/deployments') : null,
    s.atom ? app.atomApi('GET', '/api/atom/v1/listeners') : null,
    s.atom ? app.atomApi('GET', '/api/atom/v1/executions?limit=5') : null,
    s.atom ? app.atomApi('GET', '/api/atom/v1/executions?limit=1&status=error') : null,
    app.tenant ? app.flowApi('GET', '/api/draw/1/flow') : null,
    app.tenant ? app.flowApi('GET', '/api/draw/1/state?limit=1000') : null,
  ]);
  const val = (r) => (r.status === 'fulfilled' ? r.value : null);
  if (s.atom) {
    const firstErr = [dep, lis, exAll, exErr].find((r) => r.status === 'rejected');
    const d = val(dep);
    const cur = d?.deployments?.find((x) => x.version === d.current);
    cards.push(h('section.card', { 'aria-labelledby': 'ov-atom' },
      h('h2#ov-atom', 'Atom'),
      firstErr ? errorAlert(firstErr.reason) : null,
      h('div.stats',
        stat('Deployment', d ? (d.current ? `v${d.current}` : 'none') : '—', `${BASE}/atom/deployments`, cur ? `${cur.components} components` : ''),
        stat('Flow Services', val(lis) ? String(val(lis).listeners.length) : '—', `${BASE}/atom/listeners`,
          val(lis) ? `${val(lis).listeners.reduce((n, l) => n + l.actions.length, 0)} actions` : ''),
        stat('Executions', val(exAll) ? String(val(exAll).total) : '—', `${BASE}/atom/executions`,
          val(exErr) ? `${val(exErr).total} failed` : '')),
      val(exAll)?.executions?.length ? atomPages.executionsTable(val(exAll).executions, { caption: 'Latest executions' }) : null));
  }
  if (app.tenant) {
    const firstErr = [flows, states].find((r) => r.status === 'rejected');
    const st = val(states) || [];
    const by = (k) => st.filter((x) => x.status === k).length;
    cards.push(h('section.card', { 'aria-labelledby': 'ov-flow' },
      h('h2#ov-flow', 'Flow'),
      h('p.muted', 'Tenant ', h('code', app.tenant.id)),
      firstErr ? errorAlert(firstErr.reason) : null,
      h('div.stats',
        stat('Flows', val(flows) ? String(val(flows).length) : '—', `${BASE}/flow/flows`,
          val(flows) ? `${val(flows).filter((f) => f.isActive).length} active` : ''),
        stat('States', val(states) ? countText(st.length, 1000) : '—', `${BASE}/flow/states`,
          val(states) ? `${by('IN_PROGRESS')} in progress, ${by('WAITING')} waiting, ${by('DONE')} done` : ''))));
  }
  return [h('h1', 'Overview'), ...cards];
}

function stat(label, value, href, sub) {
  return h('a.stat', { href },
    h('span.stat-label', label),
    h('span.stat-value', value),
    sub ? h('span.stat-sub.muted', sub) : null);
}


/* ---------- Flow — tenants ---------- */

async function tenantsPage(ctx) {
  const s = app.session;
  const counts = await Promise.all(s.tenants.map(async (t) => {
    const [f, st] = await Promise.allSettled([
      api('GET', '/api/draw/1/flow', { tenant: t }),
      api('GET', '/api/draw/1/state?limit=1000', { tenant: t }),
    ]);
    return {
      flows: f.status === 'fulfilled' ? String(f.value.length) : null,
      states: st.status === 'fulfilled' ? countText(st.value.length, 1000) : null,
      error: f.status === 'rejected' ? f.reason : st.status === 'rejected' ? st.reason : null,
    };
  }));
  if (!ctx.live()) return null;

  const rows = s.tenants.map((t, i) => ({ ...t, ...counts[i] }));
  const list = h('table#tenants-table',
    h('caption.sr-only', 'Tenants you are logged in to'),
    h('thead', h('tr', [['Tenant id'], ['Flows', 'num'], ['States', 'num'], ['']].map(([x, c]) => h('th', { scope: 'col', class: c }, x)))),
    h('tbody', rows.map((r) => h('tr', { class: r.id === app.tenant?.id ? 'selected' : null },
      h('td', h('code', r.id), r.id === app.tenant?.id ? [' ', h('span.badge', 'current')] : null,
        r.error ? h('div.error-text', r.error.message) : null),
      h('td.num', r.flows ?? '—'),
      h('td.num', r.states ?? '—'),
      h('td.actions', h('div.inline',
        r.id !== app.tenant?.id ? h('button.small', { type: 'button', onclick: () => { s.current = r.id; app.save(); app.reload(); announce(`Tenant ${r.id} selected`); } }, 'Switch to') : null,
        h('button.small.danger', {
          type: 'button',
          'aria-label': `Forget tenant ${r.id}`,
          onclick: () => {
            s.tenants = s.tenants.filter((x) => x.id !== r.id);
            if (s.current === r.id) s.current = s.tenants[0]?.id || null;
            app.save();
            if (!s.tenants.length && !s.atom) app.navigate('/login');
            else if (!s.tenants.length) app.navigate('');
            else app.reload();
          },
        }, 'Forget')))))));

  const idIn = h('input', { type: 'text', name: 'tenant', autocomplete: 'off', spellcheck: 'false' });
  const keyIn = h('input', { type: 'password', name: 'key', autocomplete: 'off' });
  const msg = h('div', { 'aria-live': 'polite' });
  async function add(e) {
    e.preventDefault();
    msg.replaceChildren();
    const t = { id: idIn.value.trim(), key: keyIn.value.trim() };
    if (!t.id || !t.key) {
      msg.replaceChildren(h('div.alert.error', { role: 'alert' }, 'Give the tenant id and its API key.'));
      return;
    }
    try {
      await verifyTenant(t);
    } catch (err) {
      msg.replaceChildren(errorAlert(err));
      idIn.setAttribute('aria-invalid', 'true');
      keyIn.setAttribute('aria-invalid', 'true');
      keyIn.focus();
      return;
    }
    s.tenants = [...s.tenants.filter((x) => x.id !== t.id), t];
    s.current = t.id;
    app.save();
    announce(`Tenant ${t.id} added`);
    await app.reload();
  }

  return [
    h('h1', 'Flow — tenants'),
    h('p.muted', 'The tenants you are logged in to in this browser tab. The selected one is used by the Flow pages.'),
    h('section.card', list),
    h('section.card', { 'aria-labelledby': 'add-tenant' },
      h('h2#add-tenant', 'Add a tenant'),
      h('form#add-tenant-form', { onsubmit: add, novalidate: true },
        msg,
        h('div.row', field('Tenant id', idIn), field('API key', keyIn)),
        h('button.primary', { type: 'submit' }, 'Add tenant'))),
  ];
}

/* ---------- start ---------- */

document.addEventListener('click', (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = e.target.closest?.('a[href]');
  if (!a || a.target || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === BASE || url.pathname.startsWith(`${BASE}/`))) return;
  if (url.hash && url.pathname === location.pathname) return; // in-page anchor (skip link)
  e.preventDefault();
  if (url.pathname + url.search === location.pathname + location.search) { app.reload(); return; }
  app.navigate(url.pathname + url.search);
});
window.addEventListener('popstate', () => {
  // a fragment change (the skip link) fires popstate too: only a new page renders
  if (location.pathname + location.search !== app.renderedUrl) app.render({ focus: true });
});
// another tab of the same session cannot change sessionStorage; nothing to sync

app.render({ focus: 'initial' });
window.sluiceConsole = app; // for debugging from the browser's console

