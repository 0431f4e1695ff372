// Sluice console — Atom pages: deployments and components, listeners and processes, executions
// (filters, paging, auto-refresh) and one execution with its per-shape document counts.
import {
  BASE, badge, dl, empty, field, fmtDuration, h, localToMs, pager, statusBadge, table, timeEl,
} from './lib.js';

const enc = encodeURIComponent;

/* ---------- deployments and components ---------- */

export async function deployments(ctx) {
  const { app } = ctx;
  const dep = await app.atomApi('GET', '/api/atom/v1/deployments');
  const wanted = Number(ctx.query.get('version')) || dep.current || null;
  const comps = wanted ? await app.atomApi('GET', `/api/atom/v1/components?version=${enc(wanted)}`) : null;

  const versions = dep.deployments.length
    ? table([
      { title: 'Version', cell: (d) => h('a', { href: `${BASE}/atom/deployments?version=${d.version}`, 'aria-current': d.version === wanted ? 'true' : null }, `v${d.version}`) },
      { title: 'Deployed', cell: (d) => timeEl(d.createdAt) },
      { title: 'Source', cell: (d) => h('code', d.source) },
      { title: 'Components', class: 'num', cell: (d) => String(d.components) },
      { title: 'Digest', cell: (d) => h('code', { title: d.digest }, d.digest.slice(0, 12)) },
      { title: 'Status', cell: (d) => (d.version === dep.current ? badge('current', 'ok') : '') },
    ], dep.deployments, { caption: 'Deployment versions', rowAttrs: (d) => ({ class: d.version === wanted ? 'selected' : null }) })
    : empty('Nothing is deployed yet.', h('p', 'Deploy a folder of components with ', h('code', 'sluice deploy DIR'), '.'));

  let compSection = null;
  if (comps) {
    const kinds = [...new Set(comps.components.map((c) => c.kind))];
    compSection = h('section.card', { 'aria-labelledby': 'components-h' },
      h('h2#components-h', `Components of v${comps.version}`, comps.version === dep.current ? ' ' : null, comps.version === dep.current ? badge('current', 'ok') : null),
      h('p.muted', `${comps.components.length} components: `, kinds.map((k) => `${comps.components.filter((c) => c.kind === k).length} ${k}`).join(', ')),
      comps.components.length ? table([
        { title: 'Kind', cell: (c) => badge(c.kind) },
        { title: 'Name', cell: (c) => h('strong', c.name) },
        { title: 'File', cell: (c) => h('code', c.file) },
        { title: 'Since', class: 'num', cell: (c) => `v${c.since}` },
        { title: 'Revision', class: 'num', cell: (c) => String(c.revision) },
        { title: 'Digest', cell: (c) => h('code', { title: c.digest }, c.digest.slice(0, 12)) },
      ], comps.components, { caption: `Components of version ${comps.version}` }) : empty('This version has no components.'));
  }

  return [
    h('div.page-head', h('h1', 'Deployments'), refreshButton(ctx)),
    h('section.card', { 'aria-labelledby': 'versions-h' },
      h('h2#versions-h', 'Deployment versions'),
      h('p.muted', 'Newest first. Select a version to see its components.'),
      versions),
    compSection,
  ];
}

/* ---------- listeners and processes ---------- */

export async function listeners(ctx) {
  const { app } = ctx;
  const [lis, procs] = await Promise.all([
    app.atomApi('GET', '/api/atom/v1/listeners'),
    app.atomApi('GET', '/api/atom/v1/processes'),
  ]);
  const origin = location.origin;
  const services = lis.listeners.length
    ? lis.listeners.map((l) => h('section.card.listener', { 'aria-label': `Flow Service ${l.service}` },
      h('div.page-head',
        h('h2', l.service, ' ', statusBadge(l.status)),
        h('code.path', l.path)),
      h('p.muted', 'Path to Service for Flow: ', h('code', origin + l.path)),
      l.actions.length ? table([
        { title: 'Type', cell: (a) => a.type },
        { title: 'Action', cell: (a) => h('strong', a.name) },
        { title: 'Path', cell: (a) => h('code', `${l.path}/${a.uriPart}`) },
        { title: 'Process', cell: (a) => {
          // message actions name one process; data actions and file resources name one per operation
          const procs = a.process ? [a.process] : Object.values(a.processes ?? {}).filter(Boolean);
          if (!procs.length) return h('span', { class: 'muted' }, a.connection ? `table (${a.connection})` : 'stored by the Atom');
          return h('span', {}, ...procs.flatMap((p, i) => [i ? ', ' : '',
            h('a', { href: `${BASE}/atom/executions?process=${enc(p)}` }, p)]));
        } },
      ], l.actions, { caption: `Actions of ${l.service}` }) : empty('This Flow Service has no message actions.')))
    : [h('section.card', empty('No Flow Service is deployed, so nothing listens.'))];

  const procTable = procs.processes.length ? table([
    { title: 'Process', cell: (p) => h('strong', p.name) },
    { title: 'Start', cell: (p) => (p.start ? `${p.start.serviceType || p.start.action || ''}` : '—') },
    { title: 'Profiles', cell: (p) => (p.start ? [p.start.requestProfile || '—', ' → ', p.start.responseProfile || '—'] : '—') },
    { title: 'Sync timeout', class: 'num', cell: (p) => (p.start?.syncTimeoutMs ? fmtDuration(p.start.syncTimeoutMs) : '—') },
    { title: 'Triggered by', cell: (p) => (p.listeners.length ? p.listeners.map((x) => h('div', h('code', x.path))) : h('span.muted', 'not a message action')) },
    { title: '', cell: (p) => h('a', { href: `${BASE}/atom/executions?process=${enc(p.name)}`, 'aria-label': `Executions of ${p.name}` }, 'Executions') },
  ], procs.processes, { caption: 'Processes' }) : empty('No processes are deployed.');

  return [
    h('div.page-head', h('h1', 'Listeners'), refreshButton(ctx)),
    h('p.muted', `Deployment v${lis.version}. Flow Services answer under `, h('code', '/fs/'), ' with HTTP Basic authentication.'),
    ...services,
    h('section.card', { 'aria-labelledby': 'procs-h' }, h('h2#procs-h', 'Processes'), procTable),
  ];
}

/* ---------- executions ---------- */

const PAGE = 25;
const AUTO_KEY = 'sluice.console.autorefresh';

/** The executions table (shared with the overview). */
export function executionsTable(rows, { caption = 'Executions' } = {}) {
  return table([
    { title: 'Started', cell: (x) => h('a', { href: `${BASE}/atom/executions/${enc(x.id)}`, 'aria-label': `Execution ${x.id} of ${x.process}, details` }, timeEl(x.startedAt)) },
    { title: 'Process', cell: (x) => x.process },
    { title: 'Status', cell: (x) => [statusBadge(x.status), x.waited ? [' ', badge('waited', 'warn')] : null] },
    { title: 'Duration', class: 'num', cell: (x) => fmtDuration(x.durationMs) },
    { title: 'Docs in / out', class: 'num', cell: (x) => `${x.documentsIn} / ${x.documentsOut}` },
    { title: 'Trigger', cell: (x) => h('code.trigger', x.trigger || '—') },
    { title: 'Error', cell: (x) => (x.error ? h('span.error-text.clip', { title: x.error }, x.error) : '') },
  ], rows, { caption, rowAttrs: (x) => ({ 'data-id': x.id }) });
}

export async function executions(ctx) {
  const { app, query } = ctx;
  const f = {
    process: query.get('process') || '',
    status: query.get('status') || '',
    from: query.get('from') || '',
    to: query.get('to') || '',
    offset: Math.max(0, Number(query.get('offset')) || 0),
  };
  const params = () => {
    const p = new URLSearchParams({ limit: String(PAGE), offset: String(f.offset) });
    if (f.process) p.set('process', f.process);
    if (f.status) p.set('status', f.status);
    if (localToMs(f.from) !== null) p.set('since', String(localToMs(f.from)));
    // "to" is a minute: include all of it
    if (localToMs(f.to) !== null) p.set('until', String(localToMs(f.to) + (f.to.length <= 16 ? 59999 : 999)));
    return p;
  };
  const [procs, first] = await Promise.all([
    app.atomApi('GET', '/api/atom/v1/processes').catch(() => ({ processes: [] })),
    app.atomApi('GET', `/api/atom/v1/executions?${params()}`),
  ]);

  const go = (changes) => {
    const next = { ...f, ...changes };
    const q = new URLSearchParams();
    for (const k of ['process', 'status', 'from', 'to']) if (next[k]) q.set(k, next[k]);
    if (next.offset) q.set('offset', String(next.offset));
    app.navigate(`/atom/executions${q.toString() ? `?${q}` : ''}`);
  };

  // the filter form
  const procSel = h('select', { name: 'process' }, h('option', { value: '' }, 'All processes'),
    procs.processes.map((p) => h('option', { value: p.name, selected: p.name === f.process }, p.name)),
    f.process && !procs.processes.some((p) => p.name === f.process) ? h('option', { value: f.process, selected: true }, f.process) : null);
  const statusSel = h('select', { name: 'status' },
    [['', 'Any status'], ['success', 'Success'], ['error', 'Error']].map(([v, t]) => h('option', { value: v, selected: v === f.status }, t)));
  const fromIn = h('input', { type: 'datetime-local', name: 'from', value: f.from, step: 1 });
  const toIn = h('input', { type: 'datetime-local', name: 'to', value: f.to, step: 1 });
  const filters = h('form.card.filters#exec-filters', {
    'aria-label': 'Filter executions',
    onsubmit: (e) => { e.preventDefault(); go({ process: procSel.value, status: statusSel.value, from: fromIn.value, to: toIn.value, offset: 0 }); },
  },
  h('div.row',
    field('Process', procSel),
    field('Status', statusSel),
    field('Started from', fromIn),
    field('Started until', toIn)),
  h('div.inline',
    h('button.primary', { type: 'submit' }, 'Apply filters'),
    h('button', { type: 'button', onclick: () => go({ process: '', status: '', from: '', to: '', offset: 0 }) }, 'Clear'),
    h('span.spacer'),
    autoToggle()));

  const holder = h('div#exec-list', { 'aria-live': 'polite', 'aria-atomic': 'false' });
  const note = h('p.muted.small#exec-updated');
  const show = (res) => {
    const filtered = f.process || f.status || f.from || f.to;
    holder.replaceChildren(...[
      h('p.muted', { id: 'exec-total' }, `${res.total} execution${res.total === 1 ? '' : 's'}${filtered ? ' match the filters' : ''}.`),
      res.executions.length
        ? executionsTable(res.executions)
        : empty(filtered ? 'No executions match these filters.' : 'No executions yet.',
          filtered ? null : h('p', 'They appear here once a Flow Service action runs, e.g. ', h('code', 'POST /fs/upload/actions/Greet'), '.')),
      res.total > PAGE || f.offset ? pager({ offset: f.offset, limit: PAGE, count: res.executions.length, total: res.total, onPage: (o) => go({ offset: o }) }) : null,
    ].filter(Boolean));
    note.textContent = `Updated ${new Date().toLocaleTimeString()}`;
  };
  show(first);

  // auto-refresh
  let timer = null;
  function autoToggle() {
    const id = 'auto-refresh';
    const box = h('input', {
      type: 'checkbox', id, checked: sessionStorage.getItem(AUTO_KEY) === '1',
      onchange: (e) => { sessionStorage.setItem(AUTO_KEY, e.target.checked ? '1' : '0'); schedule(); },
    });
    return h('label.check', { for: id }, box, ' Auto-refresh every 5 s');
  }
  const tick = async () => {
    if (!ctx.live()) return;
    if (!document.hidden) {
      try {
        const res = await app.atomApi('GET', `/api/atom/v1/executions?${params()}`, { quiet: true });
        if (ctx.live()) show(res);
      } catch (e) {
        if (ctx.live()) note.replaceChildren(h('span.error-text', `Auto-refresh failed: ${e.message}`));
      }
    }
    schedule();
  };
  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (ctx.live() && sessionStorage.getItem(AUTO_KEY) === '1') timer = setTimeout(tick, 5000);
  }
  schedule();
  ctx.onLeave(() => clearTimeout(timer));

  return [
    h('div.page-head', h('h1', 'Executions'), refreshButton(ctx)),
    filters,
    h('section.card', holder, note),
  ];
}

/* ---------- one execution ---------- */

export async function execution(ctx) {
  const { app, params } = ctx;
  const x = await app.atomApi('GET', `/api/atom/v1/executions/${enc(params.id)}`);
  ctx.setTitle(`Execution of ${x.process}`);
  const shapes = x.shapes || [];
  const ran = shapes.filter((s) => s.runs > 0).length;
  return [
    h('p.crumbs', h('a', { href: `${BASE}/atom/executions` }, '← Executions')),
    h('div.page-head', h('h1', `Execution of ${x.process}`, ' ', statusBadge(x.status))),
    x.error ? h('div.alert.error', { role: 'alert' }, h('strong', 'Error: '), x.error) : null,
    h('section.card', { 'aria-labelledby': 'exec-facts' },
      h('h2#exec-facts.sr-only', 'Summary'),
      dl([
        ['Id', h('code', x.id)],
        ['Process', h('a', { href: `${BASE}/atom/executions?process=${enc(x.process)}` }, x.process)],
        ['Trigger', h('code', x.trigger || '—')],
        ['Started', timeEl(x.startedAt)],
        ['Duration', fmtDuration(x.durationMs)],
        ['Documents in / out', `${x.documentsIn} / ${x.documentsOut}`],
        ['Answered WAIT', x.waited ? 'yes' : 'no'],
        ['Callback', x.callback],
        ['Deployment', h('a', { href: `${BASE}/atom/deployments?version=${x.deployment}` }, `v${x.deployment}`)],
      ])),
    h('section.card', { 'aria-labelledby': 'shapes-h' },
      h('h2#shapes-h', 'Shapes'),
      h('p.muted', `${shapes.length} shapes, ${ran} ran. Counts are documents that entered and left each shape.`),
      shapes.length ? table([
        { title: 'Shape', cell: (s) => h('code', s.id) },
        { title: 'Type', cell: (s) => s.type },
        { title: 'In', class: 'num', cell: (s) => String(s.in) },
        { title: 'Out', class: 'num', cell: (s) => String(s.out) },
        { title: 'Runs', class: 'num', cell: (s) => String(s.runs) },
        { title: 'Error', cell: (s) => (s.error ? h('span.error-text', s.error) : '') },
      ], shapes, {
        caption: 'Per-shape document counts',
        rowAttrs: (s) => ({ class: s.error ? 'shape-error' : s.runs === 0 ? 'shape-idle' : null, 'data-shape': s.id }),
      }) : empty('No per-shape counts were recorded for this execution.')),
  ];
}

function refreshButton(ctx) {
  return h('button.small', { type: 'button', onclick: () => ctx.app.reload() }, 'Reload');
}
