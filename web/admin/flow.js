// Sluice console — Flow pages: installed services (install, refresh with the change report,
// known Atoms), flows and their versions (export, import, activate) and running states
// (filter, inspect, delete, join in the player).
import {
  BASE, announce, badge, confirmDialog, dl, downloadText, empty, errorAlert, field, fileName, h, idEl, jsonPre,
  pager, statusBadge, table, timeEl,
} from './lib.js';

const enc = encodeURIComponent;

const playerUrl = (tenant, flowId, stateId) => `/play/${enc(tenant)}/${enc(flowId)}${stateId ? `?join=${enc(stateId)}` : ''}`;

function pageHead(ctx, title, ...extra) {
  return h('div.page-head', h('h1', title), h('div.inline', ...extra, h('button.small', { type: 'button', onclick: () => ctx.app.reload() }, 'Reload')));
}

/** Shows an alert in `slot`, moves focus there (so keyboard and screen reader users hear it). */
function report(slot, node) {
  slot.replaceChildren(node);
  if (!node.hasAttribute('tabindex')) node.setAttribute('tabindex', '-1');
  node.focus();
}

/* ---------- services ---------- */

const PROVIDES = [['providesLogic', 'Logic'], ['providesDatabase', 'Database'], ['providesFiles', 'Files'],
  ['providesIdentity', 'Identity'], ['providesListening', 'Listening'], ['providesViews', 'Views'],
  ['providesSocial', 'Social'], ['providesVoting', 'Voting'], ['providesNotifications', 'Notifications'],
  ['providesSharing', 'Sharing'], ['providesSmartSave', 'Smart save'], ['providesAutoBinding', 'Auto binding']];

export async function services(ctx) {
  const { app } = ctx;
  const [svcs, types, atoms] = await Promise.all([
    app.flowApi('GET', '/api/draw/1/element/service'),
    app.flowApi('GET', '/api/draw/1/element/type').catch(() => []),
    app.flowApi('GET', '/api/draw/1/atom').catch(() => []),
  ]);
  const typeCount = (sid) => types.filter((t) => t.serviceElementId === sid).length;
  const reportSlot = h('div#service-report');

  async function refresh(svc, button) {
    button.disabled = true;
    try {
      const r = await app.flowApi('POST', `/api/draw/1/element/service/${enc(svc.id)}/refresh`);
      report(reportSlot, changeReport(`Refreshed ${r.serviceElement?.developerName || svc.developerName}`, r));
      announce(`Refreshed ${svc.developerName}`);
      // the list may have changed (actions, types): redraw it, keeping the report
      const fresh = await app.flowApi('GET', '/api/draw/1/element/service', { quiet: true }).catch(() => null);
      if (fresh && ctx.live()) listSlot.replaceChildren(serviceTable(fresh));
    } catch (e) {
      report(reportSlot, errorAlert(e, { title: `Refreshing ${svc.developerName} failed:` }));
    } finally {
      button.disabled = false;
    }
  }

  const serviceTable = (list) => (list.length ? table([
    { title: 'Name', cell: (s) => h('strong', s.developerName) },
    { title: 'URL', cell: (s) => h('code.url', s.uri || '—') },
    { title: 'User', cell: (s) => s.httpAuthenticationUsername || h('span.muted', 'none') },
    { title: 'Provides', cell: (s) => h('div.badges', PROVIDES.filter(([k]) => s[k]).map(([, t]) => badge(t))) },
    { title: 'Actions', cell: (s) => ((s.actions || []).length ? (s.actions || []).map((a) => h('div', a.developerName)) : h('span.muted', 'none')) },
    { title: 'Types', class: 'num', cell: (s) => String(typeCount(s.id)) },
    {
      title: '',
      cell: (s) => {
        const b = h('button.small', { type: 'button', 'aria-label': `Refresh ${s.developerName}`, onclick: () => refresh(s, b) }, 'Refresh');
        return b;
      },
    },
  ], list, { caption: 'Installed services', rowAttrs: (s) => ({ 'data-id': s.id }) })
    : empty('No services are installed in this tenant.', h('p', 'Install one with the form below: an Atom’s Flow Service, e.g. ', h('code', `${location.origin}/fs/upload`), '.')));
  const listSlot = h('div#services-list', serviceTable(svcs));

  return [
    pageHead(ctx, 'Services'),
    h('p.muted', 'Flow Services installed in this tenant: each describe becomes a service element and its types.'),
    reportSlot,
    h('section.card', { 'aria-labelledby': 'svc-h' }, h('h2#svc-h', 'Installed services'), listSlot),
    installCard(ctx, atoms, reportSlot),
    atomsCard(ctx, atoms),
  ];
}

/** The refresh / install change report. */
function changeReport(title, r) {
  const c = r.changes || {};
  const item = (x) => (typeof x === 'string' ? x : x.property ? `${x.type}: ${x.property}${x.from ? ` (${x.from} → ${x.to})` : ''}` : JSON.stringify(x));
  const groups = [
    ['actionsAdded', 'Actions added'], ['actionsRemoved', 'Actions removed'],
    ['typesAdded', 'Types added'], ['typesRemoved', 'Types removed'],
    ['propertiesAdded', 'Properties added'], ['propertiesRemoved', 'Properties removed'],
    ['propertiesChanged', 'Properties changed'],
  ].filter(([k]) => Array.isArray(c[k]) && c[k].length);
  const svc = r.serviceElement || {};
  const summary = `${(svc.actions || []).length} actions, ${(svc.install?.typeElements || []).length} types.`;
  return h('div.alert.ok.change-report', { role: 'status' },
    h('h2.h3', title),
    h('p', summary),
    groups.length
      ? h('div.changes', groups.map(([k, label]) => h('div', h('h3.h4', `${label} (${c[k].length})`), h('ul', c[k].map((x) => h('li', item(x)))))))
      : h('p.no-changes', 'No changes: the service describes the same actions and types as before.'));
}

function installCard(ctx, atoms, reportSlot) {
  const { app } = ctx;
  const atom = app.atom;
  const msg = h('div', { 'aria-live': 'polite' });
  const viaUrl = h('input', { type: 'radio', name: 'source', value: 'url', id: 'src-url', checked: true });
  const viaAtom = h('input', { type: 'radio', name: 'source', value: 'atom', id: 'src-atom', disabled: !atoms.length });
  const url = h('input', { type: 'url', name: 'uri', placeholder: `${location.origin}/fs/upload`, value: `${location.origin}/fs/upload`, spellcheck: 'false' });
  const atomSel = h('select', { name: 'atomName' }, atoms.map((a) => h('option', { value: a.name }, `${a.name} (${a.baseUri})`)));
  const path = h('input', { type: 'text', name: 'pathToService', value: '/fs/upload', spellcheck: 'false' });
  const user = h('input', { type: 'text', name: 'user', autocomplete: 'off', value: atom?.user || '' });
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off', value: atom?.token || '' });
  const name = h('input', { type: 'text', name: 'developerName' });
  const urlBox = h('div.src-url', field('Service URL', url, 'The Flow Service’s address: http(s)://host:port/fs/<name>'));
  const atomBox = h('div.src-atom.row', field('Known Atom', atomSel), field('Path to service', path, 'e.g. /fs/upload'));
  const sync = () => { urlBox.hidden = !viaUrl.checked; atomBox.hidden = !viaAtom.checked; };
  viaUrl.addEventListener('change', sync);
  viaAtom.addEventListener('change', sync);
  sync();
  const button = h('button.primary', { type: 'submit' }, 'Install');

  async function submit(e) {
    e.preventDefault();
    msg.replaceChildren();
    const body = {
      httpAuthenticationUsername: user.value.trim() || null,
      httpAuthenticationPassword: token.value || null,
    };
    if (name.value.trim()) body.developerName = name.value.trim();
    if (viaAtom.checked) {
      body.atomName = atomSel.value;
      body.pathToService = path.value.trim();
    } else {
      if (!url.value.trim()) {
        msg.replaceChildren(h('div.alert.error', { role: 'alert' }, 'Give the service URL.'));
        url.setAttribute('aria-invalid', 'true');
        url.focus();
        return;
      }
      body.uri = url.value.trim();
    }
    url.removeAttribute('aria-invalid');
    button.disabled = true;
    try {
      const r = await app.flowApi('POST', '/api/draw/1/element/service/install', { body });
      const n = r.serviceElement?.developerName || '';
      report(reportSlot, changeReport(`Installed ${n}`, r));
      announce(`Installed ${n}`);
      if (ctx.live()) await rerenderKeeping(ctx, reportSlot); // the list changed; keep the report
    } catch (err) {
      msg.replaceChildren(errorAlert(err, { title: 'Install failed:' }));
      const bad = { uri: url, '/uri': url, httpAuthenticationPassword: token, httpAuthenticationUsername: user }[err.where];
      if (bad) bad.setAttribute('aria-invalid', 'true');
      msg.firstChild.setAttribute('tabindex', '-1');
      msg.firstChild.focus();
    } finally {
      button.disabled = false;
    }
  }

  return h('section.card', { 'aria-labelledby': 'install-h' },
    h('h2#install-h', 'Install a service'),
    h('form#install-form', { onsubmit: submit, novalidate: true },
      msg,
      h('fieldset.choice',
        h('legend', 'Where is the service?'),
        h('label.check', { for: 'src-url' }, viaUrl, ' A URL'),
        h('label.check', { for: 'src-atom' }, viaAtom, ' A known Atom and a path', atoms.length ? null : h('span.muted', ' (no known Atoms yet)'))),
      urlBox,
      atomBox,
      h('div.row',
        field('Username', user, 'The Atom’s shared web server user'),
        field('Token', token, 'Its token (slt_…)'),
        field('Name', name, 'Optional; a service of the same name is updated in place')),
      button));
}

/** Reloads the page but puts the given report back on top (after install). */
async function rerenderKeeping(ctx, reportSlot) {
  const node = reportSlot.firstChild;
  await ctx.app.reload();
  const slot = document.getElementById('service-report');
  if (slot && node) {
    slot.replaceChildren(node);
    node.focus();
  }
}

function atomsCard(ctx, atoms) {
  const { app } = ctx;
  const name = h('input', { type: 'text', name: 'atomName', autocomplete: 'off' });
  const base = h('input', { type: 'url', name: 'baseUri', value: location.origin, spellcheck: 'false' });
  const msg = h('div', { 'aria-live': 'polite' });
  async function add(e) {
    e.preventDefault();
    msg.replaceChildren();
    try {
      await app.flowApi('POST', '/api/draw/1/atom', { body: { name: name.value.trim(), baseUri: base.value.trim() } });
      announce(`Atom ${name.value.trim()} saved`);
      await app.reload();
    } catch (err) {
      msg.replaceChildren(errorAlert(err));
    }
  }
  return h('section.card', { 'aria-labelledby': 'atoms-h' },
    h('h2#atoms-h', 'Known Atoms'),
    atoms.length ? table([
      { title: 'Name', cell: (a) => h('strong', a.name) },
      { title: 'Base URL', cell: (a) => h('code', a.baseUri) },
    ], atoms, { caption: 'Known Atoms' }) : h('p.muted', 'None yet. A known Atom lets you install its services by path.'),
    h('form#atom-form', { onsubmit: add, novalidate: true, 'aria-labelledby': 'add-atom-h' },
      h('h3#add-atom-h.h4', 'Add or update a known Atom'),
      msg,
      h('div.row', field('Atom name', name), field('Base URL', base, 'http(s)://host:port')),
      h('button', { type: 'submit' }, 'Save Atom')));
}

/* ---------- flows ---------- */

async function exportPackage(ctx, flow, version, slot) {
  try {
    const path = `/api/package/1/flow/${enc(flow.id.id)}${version ? `/${enc(version.sluiceVersionId)}` : ''}`;
    const res = await ctx.app.flowApi('GET', path, { raw: true });
    const text = await res.text();
    const n = version ? version.versionNumber : null;
    downloadText(text, `${fileName(flow.developerName)}${n ? `-v${n}` : ''}.json`);
    announce('Package exported');
  } catch (e) {
    if (slot) report(slot, errorAlert(e, { title: 'Export failed:' }));
  }
}

/** The import form; after(result) runs on success. */
function importCard(ctx, { title = 'Import a package', after } = {}) {
  const { app } = ctx;
  const file = h('input', { type: 'file', name: 'package', accept: '.json,application/json' });
  const ids = h('select', { name: 'remapIds' },
    h('option', { value: '' }, 'Automatic: new ids only for a package from another tenant'),
    h('option', { value: 'false' }, 'Keep the package’s ids (a new version of the same flow)'),
    h('option', { value: 'true' }, 'New ids (an independent copy)'));
  const strict = h('input', { type: 'checkbox', name: 'strict', id: 'import-strict' });
  const msg = h('div.import-result', { 'aria-live': 'polite' });
  const button = h('button.primary', { type: 'submit' }, 'Import');

  async function submit(e) {
    e.preventDefault();
    msg.replaceChildren();
    const f = file.files?.[0];
    if (!f) {
      msg.replaceChildren(h('div.alert.error', { role: 'alert' }, 'Choose a package file (.json) to import.'));
      file.setAttribute('aria-invalid', 'true');
      file.focus();
      return;
    }
    file.removeAttribute('aria-invalid');
    const q = new URLSearchParams();
    if (ids.value) q.set('remapIds', ids.value);
    if (strict.checked) q.set('strict', 'true');
    button.disabled = true;
    try {
      const text = await f.text();
      const r = await app.flowApi('POST', `/api/package/1/flow${q.toString() ? `?${q}` : ''}`, { body: text });
      const ok = h('div.alert.ok', { role: 'status', tabindex: -1 },
        h('strong', `Imported ${r.developerName}`), ` as a new active version (${String(r.versionId).slice(0, 8)}).`,
        r.remappedIds ? ' The flow got new ids.' : '',
        ' ', h('a', { href: `${BASE}/flow/flows/${enc(r.flowId)}` }, 'Open the flow'),
        r.bound?.length ? h('p', `Bound to this tenant’s ${r.bound.map((b) => `${b.kind} “${b.developerName}”`).join(', ')}.`) : null,
        r.uriMapped?.length ? h('p', `Re-pointed: ${r.uriMapped.map((u) => `${u.developerName} → ${u.to}`).join(', ')}.`) : null,
        r.warnings?.length ? h('div', h('p', `${r.warnings.length} warning(s):`), h('ul', r.warnings.slice(0, 20).map((w) => h('li', h('code', w.pointer || ''), ' ', w.message)))) : null);
      announce(`Imported ${r.developerName}`);
      file.value = '';
      if (after) await after(r, ok);
      else report(msg, ok);
    } catch (err) {
      report(msg, errorAlert(err, { title: 'Import failed:' }));
    } finally {
      button.disabled = false;
    }
  }

  return h('section.card', { 'aria-labelledby': 'import-h' },
    h('h2#import-h', title),
    h('form#import-form', { onsubmit: submit, novalidate: true },
      msg,
      h('div.row',
        field('Package file', file, 'A package exported from Sluice (or a flow snapshot)'),
        field('Ids', ids)),
      h('div.field', h('label.check', { for: 'import-strict' }, strict, ' Strict: refuse dangling links instead of warning')),
      button));
}

export async function flows(ctx) {
  const { app } = ctx;
  const list = await app.flowApi('GET', '/api/draw/1/flow');
  const tenant = app.tenant.id;
  const slot = h('div#flows-report');
  const rows = list.length ? table([
    { title: 'Flow', cell: (f) => [h('a', { href: `${BASE}/flow/flows/${enc(f.id.id)}` }, h('strong', f.developerName)), f.developerSummary ? h('div.muted.small.clip', { title: f.developerSummary }, f.developerSummary) : null] },
    { title: 'Versions', class: 'num', cell: (f) => String(f.versionCount ?? '—') },
    { title: 'Active', cell: (f) => (f.isActive ? [badge('active', 'ok'), ' ', idEl(f.activeVersionId)] : badge('inactive')) },
    { title: 'Modified', cell: (f) => timeEl(f.dateModified) },
    {
      title: '',
      cell: (f) => h('div.inline',
        f.isActive ? h('button.small', { type: 'button', 'aria-label': `Export ${f.developerName}`, onclick: () => exportPackage(ctx, f, null, slot) }, 'Export') : null,
        f.isActive ? h('a.button.small', { href: playerUrl(tenant, f.id.id), 'aria-label': `Run ${f.developerName} in the player` }, 'Run') : null),
    },
  ], list, { caption: 'Flows', rowAttrs: (f) => ({ 'data-id': f.id.id }) })
    : empty('This tenant has no flows yet.', h('p', 'Import a package below, or build one with the draw API.'));

  return [
    pageHead(ctx, 'Flows'),
    slot,
    h('section.card', rows),
    importCard(ctx, { after: async (r, ok) => { await app.reload(); document.getElementById('flows-report')?.replaceChildren(ok); ok.focus(); } }),
  ];
}

export async function flow(ctx) {
  const { app, params } = ctx;
  const [f, versions] = await Promise.all([
    app.flowApi('GET', `/api/draw/1/flow/${enc(params.id)}`),
    app.flowApi('GET', `/api/draw/1/flow/snap/${enc(params.id)}`),
  ]);
  ctx.setTitle(f.developerName);
  const tenant = app.tenant.id;
  const slot = h('div#flow-report');

  async function activate(v, on) {
    if (!on) {
      const yes = await confirmDialog({
        title: `Deactivate version ${v.versionNumber}?`,
        body: 'The flow then has no active version: new states cannot start until one is activated. Running states keep their version.',
        confirm: 'Deactivate',
        danger: true,
      });
      if (!yes) return;
    }
    try {
      await app.flowApi('POST', `/api/draw/1/flow/activation/${enc(f.id.id)}/${enc(v.sluiceVersionId)}/false/${on}`);
      announce(`Version ${v.versionNumber} ${on ? 'activated' : 'deactivated'}`);
      await app.reload();
      const s = document.getElementById('flow-report');
      const ok = h('div.alert.ok', { role: 'status', tabindex: -1 }, `Version ${v.versionNumber} is ${on ? 'now active' : 'no longer active'}.`);
      s?.replaceChildren(ok);
      ok.focus();
    } catch (e) {
      report(slot, errorAlert(e, { title: 'Activation failed:' }));
    }
  }

  const vt = versions.length ? table([
    { title: 'Version', cell: (v) => h('strong', `#${v.versionNumber}`) },
    { title: 'Version id', cell: (v) => h('code', { title: v.sluiceVersionId }, v.sluiceVersionId) },
    { title: 'Snapshot id', cell: (v) => idEl(v.id?.versionId) },
    { title: 'Created', cell: (v) => timeEl(v.dateCreated) },
    { title: 'Status', cell: (v) => (v.isActive ? badge('active', 'ok') : h('span.muted', 'inactive')) },
    {
      title: '',
      cell: (v) => h('div.inline',
        v.isActive
          ? h('button.small', { type: 'button', 'aria-label': `Deactivate version ${v.versionNumber}`, onclick: () => activate(v, false) }, 'Deactivate')
          : h('button.small.primary', { type: 'button', 'aria-label': `Activate version ${v.versionNumber}`, onclick: () => activate(v, true) }, 'Activate'),
        h('button.small', { type: 'button', 'aria-label': `Export version ${v.versionNumber}`, onclick: () => exportPackage(ctx, f, v, slot) }, 'Export')),
    },
  ], versions, { caption: 'Versions', rowAttrs: (v) => ({ class: v.isActive ? 'selected' : null, 'data-version': v.versionNumber }) })
    : empty('No versions yet: snapshot the flow (POST /api/draw/1/flow/snap/{id}) or import a package.');

  return [
    h('p.crumbs', h('a', { href: `${BASE}/flow/flows` }, '← Flows')),
    pageHead(ctx, f.developerName,
      f.isActive ? h('button.small', { type: 'button', onclick: () => exportPackage(ctx, f, null, slot) }, 'Export active version') : null,
      f.isActive ? h('a.button.small', { href: playerUrl(tenant, f.id.id) }, 'Run in player') : null,
      h('a.button.small', { href: `${BASE}/flow/states?flow=${enc(f.id.id)}` }, 'Running states')),
    slot,
    h('section.card', { 'aria-labelledby': 'flow-facts' },
      h('h2#flow-facts.sr-only', 'About this flow'),
      f.developerSummary ? h('p', f.developerSummary) : null,
      dl([
        ['Id', h('code', f.id.id)],
        ['Active version', f.isActive ? h('code', f.activeVersionId) : h('span.muted', 'none: states cannot start')],
        ['Created', timeEl(f.dateCreated)],
        ['Modified', timeEl(f.dateModified)],
      ])),
    h('section.card', { 'aria-labelledby': 'versions-h' },
      h('h2#versions-h', `Versions (${versions.length})`),
      h('p.muted', 'Newest first. Activating a version makes new states start on it.'),
      vt),
    importCard(ctx, {
      title: 'Import a package',
      after: async (r, ok) => {
        if (r.flowId === f.id.id) await app.reload();
        const s = document.getElementById('flow-report') || slot;
        s.replaceChildren(ok);
        ok.focus();
      },
    }),
  ];
}

/* ---------- running states ---------- */

const STATE_PAGE = 25;
const STATUSES = [['', 'Any status'], ['IN_PROGRESS', 'In progress'], ['WAITING', 'Waiting'], ['DONE', 'Done']];

export async function states(ctx) {
  const { app, query } = ctx;
  const f = { flow: query.get('flow') || '', status: query.get('status') || '', offset: Math.max(0, Number(query.get('offset')) || 0) };
  const q = new URLSearchParams({ limit: String(STATE_PAGE + 1), offset: String(f.offset) });
  if (f.flow) q.set('flow', f.flow);
  if (f.status) q.set('status', f.status);
  const [flowList, rows] = await Promise.all([
    app.flowApi('GET', '/api/draw/1/flow').catch(() => []),
    app.flowApi('GET', `/api/draw/1/state?${q}`),
  ]);
  const more = rows.length > STATE_PAGE;
  const page = rows.slice(0, STATE_PAGE);
  const tenant = app.tenant.id;
  const names = Object.fromEntries(flowList.map((x) => [x.id.id, x.developerName]));
  const slot = h('div#states-report');
  const flash = sessionStorage.getItem('sluice.console.flash');
  if (flash) {
    sessionStorage.removeItem('sluice.console.flash');
    slot.append(h('div.alert.ok', { role: 'status' }, flash));
  }

  const go = (changes) => {
    const n = { ...f, ...changes };
    const p = new URLSearchParams();
    if (n.flow) p.set('flow', n.flow);
    if (n.status) p.set('status', n.status);
    if (n.offset) p.set('offset', String(n.offset));
    app.navigate(`/flow/states${p.toString() ? `?${p}` : ''}`);
  };

  const flowSel = h('select', { name: 'flow' }, h('option', { value: '' }, 'All flows'),
    flowList.map((x) => h('option', { value: x.id.id, selected: x.id.id === f.flow }, x.developerName)));
  const statusSel = h('select', { name: 'status' }, STATUSES.map(([v, t]) => h('option', { value: v, selected: v === f.status }, t)));
  const filters = h('form.card.filters#state-filters', {
    'aria-label': 'Filter states',
    onsubmit: (e) => { e.preventDefault(); go({ flow: flowSel.value, status: statusSel.value, offset: 0 }); },
  },
  h('div.row', field('Flow', flowSel), field('Status', statusSel)),
  h('div.inline',
    h('button.primary', { type: 'submit' }, 'Apply filters'),
    h('button', { type: 'button', onclick: () => go({ flow: '', status: '', offset: 0 }) }, 'Clear')));

  async function remove(s) {
    const yes = await confirmDialog({
      title: 'Delete this state?',
      body: `State ${s.id} of ${s.flowName || names[s.flowId] || 'its flow'} is removed for good; anyone running it loses their place.`,
      confirm: 'Delete state',
      danger: true,
    });
    if (!yes) return;
    try {
      await app.flowApi('DELETE', `/api/draw/1/state/${enc(s.id)}`);
      sessionStorage.setItem('sluice.console.flash', `Deleted state ${s.id}.`);
      announce('State deleted');
      await app.reload();
    } catch (e) {
      report(slot, errorAlert(e, { title: 'Delete failed:' }));
    }
  }

  const filtered = f.flow || f.status;
  const list = page.length ? table([
    { title: 'State', cell: (s) => h('a', { href: `${BASE}/flow/states/${enc(s.id)}`, 'aria-label': `Inspect state ${s.id}` }, h('code', { title: s.id }, s.id.slice(0, 8))) },
    { title: 'Flow', cell: (s) => h('a', { href: `${BASE}/flow/flows/${enc(s.flowId)}` }, s.flowName || names[s.flowId] || s.flowId) },
    { title: 'Status', cell: (s) => statusBadge(s.status) },
    { title: 'Current element', cell: (s) => idEl(s.currentMapElementId) },
    { title: 'Updated', cell: (s) => timeEl(s.updated) },
    { title: 'Created', cell: (s) => timeEl(s.created) },
    {
      title: '',
      cell: (s) => h('div.inline',
        h('a.button.small', { href: `${BASE}/flow/states/${enc(s.id)}`, 'aria-label': `Inspect state ${s.id}` }, 'Inspect'),
        s.status !== 'DONE' ? h('a.button.small', { href: playerUrl(tenant, s.flowId, s.id), 'aria-label': `Join state ${s.id} in the player` }, 'Join') : null,
        h('button.small.danger', { type: 'button', 'aria-label': `Delete state ${s.id}`, onclick: () => remove(s) }, 'Delete')),
    },
  ], page, { caption: 'Running states', rowAttrs: (s) => ({ 'data-id': s.id }) })
    : empty(filtered ? 'No states match these filters.' : 'No states in this tenant.',
      filtered ? null : h('p', 'A state starts when someone runs a flow (the player, or ', h('code', 'POST /api/run/1/state'), ').'));

  return [
    pageHead(ctx, 'Running states'),
    slot,
    filters,
    h('section.card',
      h('p.muted#states-count', page.length ? `Showing ${f.offset + 1}–${f.offset + page.length}, most recently updated first.` : ''),
      list,
      more || f.offset ? pager({ offset: f.offset, limit: STATE_PAGE, count: page.length, total: more ? null : f.offset + page.length, onPage: (o) => go({ offset: o }) }) : null),
  ];
}

function valueCell(v) {
  if (!v || typeof v !== 'object') return h('span.muted', '—');
  if (Array.isArray(v.objectData) && v.objectData.length) {
    return h('details', h('summary', `${v.objectData.length} object${v.objectData.length === 1 ? '' : 's'}`), jsonPre(v.objectData));
  }
  if (v.contentValue === null || v.contentValue === undefined || v.contentValue === '') return h('span.muted', 'empty');
  if (v.contentType === 'ContentPassword' || v.contentType === 'ContentEncrypted') return h('span.muted', '••••••');
  return h('span.value', String(v.contentValue));
}

export async function state(ctx) {
  const { app, params } = ctx;
  const s = await app.flowApi('GET', `/api/draw/1/state/${enc(params.id)}`);
  ctx.setTitle(`State ${s.id.slice(0, 8)}`);
  const tenant = app.tenant.id;
  const slot = h('div#state-report');
  const values = Object.entries(s.values || {});

  async function remove() {
    const yes = await confirmDialog({
      title: 'Delete this state?',
      body: `State ${s.id} of ${s.flowName || 'its flow'} is removed for good; anyone running it loses their place.`,
      confirm: 'Delete state',
      danger: true,
    });
    if (!yes) return;
    try {
      await app.flowApi('DELETE', `/api/draw/1/state/${enc(s.id)}`);
      sessionStorage.setItem('sluice.console.flash', `Deleted state ${s.id}.`);
      announce('State deleted');
      app.navigate('/flow/states');
    } catch (e) {
      report(slot, errorAlert(e, { title: 'Delete failed:' }));
    }
  }

  return [
    h('p.crumbs', h('a', { href: `${BASE}/flow/states` }, '← Running states')),
    h('div.page-head',
      h('h1', 'State ', h('code', s.id.slice(0, 8)), ' ', statusBadge(s.status)),
      h('div.inline',
        s.status !== 'DONE' ? h('a.button.small.primary#join-link', { href: playerUrl(tenant, s.flowId, s.id) }, 'Join in player') : null,
        h('button.small.danger#delete-state', { type: 'button', onclick: remove }, 'Delete'),
        h('button.small', { type: 'button', onclick: () => app.reload() }, 'Reload'))),
    slot,
    h('section.card', { 'aria-labelledby': 'state-facts' },
      h('h2#state-facts', 'Where it is'),
      dl([
        ['Current element', s.currentElementName
          ? [h('strong#current-element', s.currentElementName), ' ', s.currentElementType ? badge(s.currentElementType) : null, ' ', idEl(s.currentMapElementId)]
          : idEl(s.currentMapElementId)],
        ['Flow', h('a', { href: `${BASE}/flow/flows/${enc(s.flowId)}` }, s.flowName || s.flowId)],
        ['Version', h('code', s.versionId)],
        ['State id', h('code', s.id)],
        ['Created', timeEl(s.created)],
        ['Updated', timeEl(s.updated)],
        ['Revision', String(s.version)],
      ])),
    h('section.card', { 'aria-labelledby': 'values-h' },
      h('h2#values-h', `Values (${values.length})`),
      values.length ? table([
        { title: 'Name', cell: ([n]) => h('strong', n) },
        { title: 'Type', cell: ([, v]) => h('code', v?.contentType || '—') },
        { title: 'Value', cell: ([, v]) => valueCell(v) },
      ], values, { caption: 'Values by name' }) : empty('This flow has no values.')),
    h('section.card', { 'aria-labelledby': 'raw-h' },
      h('details#raw-state',
        h('summary', h('h2#raw-h.inline-h', 'Raw state'), h('span.muted', ' — the engine’s stored blob')),
        jsonPre(s.state, { 'aria-label': 'Raw state JSON' }))),
  ];
}
