// The Flow engine's run API v1 with services: DATABASE_LOAD / SAVE / DELETE through the Atom's
// table-bound data action (examples/upload's customers table, seeded per run), SUB_FLOW (child
// states with arguments in and out) and MESSAGE actions that answer WAIT and finish by callback
// (tests/e2e/fixtures/good's "Slow" action). Real `sluice serve` processes, real HTTP.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT, ev, fixture, hook, it, poll, startServer, tempDir } from './helpers.mjs';
import * as k from './flowkit.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UPLOAD = path.join(REPO_ROOT, 'examples', 'upload');
const faultText = (r) => Object.values(k.rootFaults(r) ?? {}).join(' | ');

// The Flow type of the Atom's customers table (as its describe reports it).
function customersType(svc) {
  const t = k.type('customers', [['id', 'ContentNumber'], ['name', 'ContentString'], ['email', 'ContentString'],
    ['city', 'ContentString'], ['country', 'ContentString'], ['segment', 'ContentString'], ['active', 'ContentBoolean']],
  { serviceElementId: svc.id });
  t.bindings = [{ id: k.id(), developerName: 'customers', databaseTableName: 'customers', serviceElementId: svc.id,
    typeElementId: t.id, propertyBindings: [] }];
  return t;
}

// A table page listing a list value's name and city.
function listPage(name, t, listValue) {
  return k.page(name, [{ developerName: 'Rows', componentType: 'TABLE', valueElementDataBindingReferenceId: k.ref(listValue),
    columns: ['name', 'city'].map((p, i) => ({ typeElementPropertyId: k.prop(t, p).id, order: i, isDisplayValue: true })) }]);
}
const rowsOf = (r, p) => k.dataOf(r, k.comp(p, 'Rows').id).objectData.map((o) => `${k.propValue(o, 'name')}@${k.propValue(o, 'city')}`);

describe('flow run API: data actions (DATABASE_LOAD / SAVE / DELETE)', () => {
  let srv;
  let c;
  let flow;
  let parts;
  const atomLoad = (listFilter) => srv.post('/fs/upload/data', { stateId: null, token: null, typeElementBindingId: null,
    authorization: null, configurationValues: [], command: null, culture: null,
    objectDataType: { typeElementId: null, developerName: 'customers', properties: [] },
    listFilter: { id: null, comparisonType: 'AND', where: null, listFilters: null, search: null, limit: 0, offset: 0, ...listFilter },
    objectData: null });

  before(hook(async () => {
    const data = await tempDir();
    execFileSync('sqlite3', [path.join(data, 'customers.db')], { input: readFileSync(path.join(UPLOAD, 'seed', 'customers.sql')) });
    srv = await startServer({ data, deploy: UPLOAD });
    const svc = k.service('Upload', `${srv.url}/fs/upload`, { username: srv.user, password: srv.token });
    const t = customersType(svc);
    const city = k.value('City', 'ContentString', { access: 'INPUT' });
    const found = k.value('Found', 'ContentList', { typeElementId: t.id });
    const top = k.value('Top', 'ContentList', { typeElementId: t.id });
    const one = k.value('One', 'ContentObject', { typeElementId: t.id });
    const reloaded = k.value('Reloaded', 'ContentList', { typeElementId: t.id });
    const paris = k.value('Paris', 'ContentString', { defaultContentValue: 'Paris' });
    const yes = k.value('Yes', 'ContentBoolean', { defaultContentValue: 'true' });
    const oneId = k.ref(one, t, 'id');
    const pResults = k.page('Results', [
      { developerName: 'Rows', componentType: 'TABLE', valueElementDataBindingReferenceId: k.ref(found),
        columns: ['name', 'city'].map((p, i) => ({ typeElementPropertyId: k.prop(t, p).id, order: i, isDisplayValue: true })) },
      { developerName: 'Top', componentType: 'TABLE', valueElementDataBindingReferenceId: k.ref(top),
        columns: [{ typeElementPropertyId: k.prop(t, 'name').id, order: 0, isDisplayValue: true }] }]);
    const pSaved = listPage('Saved', t, reloaded);
    const start = k.element('START', 'Start');
    const load = k.element('DATABASE_LOAD', 'Load', { dataActions: [
      // listed out of order: they run by "order"
      k.dataAction('LOAD', k.ref(top), t, svc, { order: 1, name: 'Top two',
        listFilter: k.listFilter(t, { orderBy: 'id', direction: 'ASC', limit: 2 }) }),
      k.dataAction('LOAD', k.ref(found), t, svc, { order: 0, name: 'In the city',
        listFilter: k.listFilter(t, { where: [['city', 'EQUAL', k.ref(city)]], orderBy: 'name', direction: 'DESC', limit: 10 }) }),
    ] });
    const results = k.element('input', 'Results', { pageElementId: pResults.id });
    const edit = k.element('OPERATOR', 'Move first to Paris', { operations: [
      k.op(k.ref(one), k.refCmd(found, 'GET_FIRST'), 0),
      k.op(k.ref(one, t, 'city'), k.ref(paris), 1)] });
    const save = k.element('DATABASE_SAVE', 'Save', { dataActions: [k.dataAction('SAVE', k.ref(one), t, svc)] });
    const byId = () => k.listFilter(t, { where: [['id', 'EQUAL', oneId]] });
    const reload = k.element('DATABASE_LOAD', 'Reload', { dataActions: [
      k.dataAction('LOAD', k.ref(reloaded), t, svc, { listFilter: byId() })] });
    const saved = k.element('input', 'Saved', { pageElementId: pSaved.id });
    const del = k.element('DATABASE_DELETE', 'Delete', { dataActions: [k.dataAction('DELETE', k.ref(one), t, svc)] });
    const reload2 = k.element('DATABASE_LOAD', 'Reload again', { dataActions: [
      k.dataAction('LOAD', k.ref(reloaded), t, svc, { listFilter: byId() })] });
    const check = k.element('DECISION', 'Gone?');
    const gone = k.element('step', 'Gone', { userContent: 'gone: {![One].[name]}' });
    const still = k.element('step', 'Still there', { userContent: 'still there' });
    start.outcomes = [k.outcome('go', load)];
    load.outcomes = [k.outcome('next', results)];
    results.outcomes = [k.outcome('Move', edit)];
    k.chain(edit, save, reload, saved);
    saved.outcomes = [k.outcome('Delete', del)];
    k.chain(del, reload2, check);
    check.outcomes = [k.outcome('empty', gone, { comparison: k.comparison('AND', [k.rule(k.ref(reloaded), 'IS_EMPTY', k.ref(yes))]) }),
      k.outcome('else', still, { order: 1 })];
    const snap = k.snapshot('Customers', { start, elements: [start, load, results, edit, save, reload, saved, del, reload2, check,
      gone, still], values: [city, found, top, one, reloaded, paris, yes], types: [t], services: [svc], pages: [pResults, pSaved] });
    const imp = await k.importFlow(srv.data, snap);
    flow = imp.flow;
    c = new k.RunClient(srv.url, imp.tenant);
    parts = { pResults, pSaved, results, saved, gone };
  }));
  after(hook(async () => { await srv?.stop(); }));

  it('DATABASE_LOAD: the list filter\'s value reference resolves to the runtime value; orderBy and limit apply', async () => {
    const oslo = await c.start(flow, [ev.string('City', 'Oslo')]);
    assert.equal(k.rootFaults(oslo), null, JSON.stringify(k.rootFaults(oslo)));
    assert.equal(oslo.currentMapElementId, parts.results.id);
    assert.deepEqual(rowsOf(oslo, parts.pResults), ['Gustav Gran@Oslo']);
    const dublin = await c.start(flow, [ev.string('City', 'Dublin')]);
    assert.deepEqual(rowsOf(dublin, parts.pResults), ['Erin Egan@Dublin', 'Brendan Byrne@Dublin'], 'name DESC');
    const topRows = k.dataOf(dublin, k.comp(parts.pResults, 'Top').id).objectData;
    assert.deepEqual(topRows.map((o) => k.propValue(o, 'name')), ['Ada Lovelace', 'Brendan Byrne'], 'id ASC, limit 2');
    for (const o of topRows) {
      assert.equal(typeof o.externalId, 'string');
      assert.ok(o.externalId.length > 0, 'loaded objects carry the service\'s externalId');
    }
    const nowhere = await c.start(flow, [ev.string('City', 'Atlantis')]);
    assert.deepEqual(rowsOf(nowhere, parts.pResults), []);
  });

  it('DATABASE_SAVE persists a modified object (seen by loading again); DATABASE_DELETE removes it', async () => {
    const r = await c.start(flow, [ev.string('City', 'Dublin')]);
    const saved = await c.move(r, { outcome: k.outcomeId(r, 'Move') });
    assert.equal(k.rootFaults(saved), null, JSON.stringify(k.rootFaults(saved)));
    assert.equal(saved.currentMapElementId, parts.saved.id);
    assert.deepEqual(rowsOf(saved, parts.pSaved), ['Erin Egan@Paris'], 'reloaded by id from the service');
    // straight from the Atom: the row changed in the database, nothing else did
    const inParis = await atomLoad({ where: [{ columnName: 'city', criteriaType: 'EQUAL', value: 'Paris', contentValue: 'Paris' }] });
    assert.equal(inParis.status, 200, inParis.text);
    assert.deepEqual(inParis.json.objectData.map((o) => [k.propValue(o, 'id'), k.propValue(o, 'name'), k.propValue(o, 'email')]),
      [['5', 'Erin Egan', 'erin@example.org']]);
    const inDublin = await atomLoad({ where: [{ columnName: 'city', criteriaType: 'EQUAL', value: 'Dublin', contentValue: 'Dublin' }] });
    assert.deepEqual(inDublin.json.objectData.map((o) => k.propValue(o, 'name')), ['Brendan Byrne']);

    const done = await c.move(saved, { outcome: k.outcomeId(saved, 'Delete') });
    assert.equal(k.rootFaults(done), null, JSON.stringify(k.rootFaults(done)));
    assert.equal(done.currentMapElementId, parts.gone.id, 'the reload after the delete found nothing');
    assert.equal(k.stepContent(done), 'gone: Erin Egan');
    const erin = await atomLoad({ where: [{ columnName: 'id', criteriaType: 'EQUAL', value: '5', contentValue: '5' }] });
    assert.deepEqual(erin.json.objectData, []);
    const all = await atomLoad({ limit: 100 });
    assert.equal(all.json.objectData.length, 14, 'only that row was deleted');
  });

  it('a data action the service refuses faults with rootFaults and commits nothing', async () => {
    const svc = k.service('Upload', `${srv.url}/fs/upload`, { username: srv.user, password: srv.token });
    const t = customersType(svc);
    const list = k.value('List', 'ContentList', { typeElementId: t.id });
    const bogus = k.value('Bogus', 'ContentString', { defaultContentValue: 'x' });
    const p = k.page('Go', [{ developerName: 'Hi', componentType: 'PRESENTATION', content: 'hi' }]);
    const start = k.element('START', 'Start');
    const go = k.element('input', 'Go', { pageElementId: p.id });
    const filter = k.listFilter(t, { where: [['id', 'EQUAL', k.ref(bogus)]] });
    filter.where[0].columnTypeElementPropertyId = null;
    filter.where[0].columnName = 'no_such_column';
    const load = k.element('DATABASE_LOAD', 'Bad load', { dataActions: [k.dataAction('LOAD', k.ref(list), t, svc, { listFilter: filter })] });
    const end = k.element('step', 'End', { userContent: 'end' });
    k.chain(start, go, load, end);
    const imp = await k.importFlow(srv.data, k.snapshot('Bad load', { start, elements: [start, go, load, end],
      values: [list, bogus], types: [t], services: [svc], pages: [p] }));
    const cc = new k.RunClient(srv.url, imp.tenant);
    const r = await cc.start(imp.flow);
    const bad = await cc.move(r, { outcome: k.outcomeId(r, 'next') });
    assert.ok(k.rootFaults(bad), `expected rootFaults: ${JSON.stringify(k.mer(bad))}`);
    assert.match(faultText(bad), /no_such_column|400/);
    assert.equal(bad.currentMapElementId, go.id);
    assert.equal(bad.stateToken, r.stateToken);
  });
});

describe('flow run API: SUB_FLOW', () => {
  let srv;
  before(hook(async () => { srv = await startServer({}); }));
  after(hook(async () => { await srv?.stop(); }));

  it('a child state gets the parent\'s value in, gives its OUTPUT back, and the response switches stateId both ways', async () => {
    // child: In (INPUT) shown on a page whose input sets Out (OUTPUT); ends at an operator without outcomes
    const cin = k.value('In', 'ContentString', { access: 'INPUT' });
    const cout = k.value('Out', 'ContentString', { access: 'OUTPUT' });
    const cp = k.page('Child page', [
      { developerName: 'Got', componentType: 'PRESENTATION', content: 'got {![In]}' },
      { developerName: 'Out', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(cout) }]);
    const cstart = k.element('START', 'Start');
    const cpage = k.element('input', 'Child page', { pageElementId: cp.id });
    const cend = k.element('OPERATOR', 'Child end');
    k.chain(cstart, cpage, cend);
    const child = k.snapshot('Child', { start: cstart, elements: [cstart, cpage, cend], values: [cin, cout], pages: [cp] });
    const { tenant, flow: childFlow } = await k.importFlow(srv.data, child);

    const x = k.value('X');
    const result = k.value('Result', 'ContentString', { defaultContentValue: 'none' });
    const pp = k.page('Parent page', [{ developerName: 'X', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(x) }]);
    const pstart = k.element('START', 'Start');
    const ppage = k.element('input', 'Parent page', { pageElementId: pp.id });
    const sub = k.element('SUB_FLOW', 'Call child', { subflow: { flowId: { id: child.id.id, versionId: null },
      arguments: [{ valueElementInSubflowId: { id: cin.id }, valueElementToApplyId: k.ref(x) },
        { valueElementInSubflowId: { id: cout.id }, valueElementToApplyId: k.ref(result) }] } });
    const pdone = k.element('step', 'Parent done', { userContent: 'result {![Result]} from {![X]}' });
    k.chain(pstart, ppage, sub, pdone);
    const parent = k.snapshot('Parent', { start: pstart, elements: [pstart, ppage, sub, pdone], values: [x, result], pages: [pp] });
    const { flow: parentFlow } = await k.importFlow(srv.data, parent);
    const c = new k.RunClient(srv.url, tenant);

    const r0 = await c.start(parentFlow);
    const parentId = r0.stateId;
    assert.equal(r0.parentStateId, null);
    assert.equal(r0.currentMapElementId, ppage.id);

    const r1 = await c.move(r0, { outcome: k.outcomeId(r0, 'next'), inputs: [k.input(k.comp(pp, 'X'), 'abc')] });
    assert.equal(k.rootFaults(r1), null, JSON.stringify(k.rootFaults(r1)));
    assert.match(r1.stateId, UUID);
    assert.notEqual(r1.stateId, parentId, 'the response is the child state\'s');
    assert.equal(r1.parentStateId, parentId);
    assert.equal(r1.flowId.id.toLowerCase(), childFlow.toLowerCase());
    assert.equal(r1.currentMapElementId, cpage.id);
    assert.equal(k.dataOf(r1, k.comp(cp, 'Got').id).content, 'got abc', 'the argument went in');
    const childId = r1.stateId;

    const jc = await c.join(childId);
    assert.equal(jc.json.stateId, childId);
    assert.equal(jc.json.parentStateId, parentId);
    const jp = await c.join(parentId);
    assert.equal(jp.status, 200, jp.text);
    assert.equal(jp.json.stateId, childId, 'joining the parent while the child runs shows the child');

    const r2 = await c.move(r1, { outcome: k.outcomeId(r1, 'next'), inputs: [k.input(k.comp(cp, 'Out'), 'xyz')] });
    assert.equal(k.rootFaults(r2), null, JSON.stringify(k.rootFaults(r2)));
    assert.equal(r2.stateId, parentId, 'back to the parent when the child ends');
    assert.equal(r2.parentStateId, null);
    assert.equal(r2.currentMapElementId, pdone.id);
    assert.equal(r2.invokeType, 'DONE');
    assert.equal(k.stepContent(r2), 'result xyz from abc', 'the child\'s OUTPUT came back');
    const jp2 = await c.join(parentId);
    assert.equal(jp2.json.stateId, parentId);
    assert.equal(jp2.json.invokeType, 'DONE');
  });
});

describe('flow run API: MESSAGE answered WAIT', () => {
  let srv;
  let c;
  let flow;
  let parts;
  let tenant;
  before(hook(async () => {
    srv = await startServer({ deploy: fixture('good'), args: ['--callback-backoff-ms', '50'] });
    const svc = k.service('Test', `${srv.url}/fs/test`, { username: srv.user, password: srv.token });
    const apiKey = k.value('Api Key', 'ContentString', { defaultContentValue: 'k-123' });
    svc.configurationValues = [{ developerName: 'Api Key', contentType: 'ContentString', valueElementToReferenceId: k.ref(apiKey),
      order: 0 }];
    const label = k.value('Label', 'ContentString', { access: 'INPUT', defaultContentValue: 'hello' });
    const echo = k.value('Echo');
    const flag = k.value('Flag', 'ContentBoolean', { defaultContentValue: 'false' });
    const p = k.page('After', [{ developerName: 'Echo', componentType: 'PRESENTATION', content: 'echo {![Echo]} done {![Flag]}' }]);
    const start = k.element('START', 'Start');
    const msg = k.element('MESSAGE', 'Slow call', { messageActions: [k.messageAction(svc, 'Slow', {
      inputs: [['Label', k.ref(label)]], outputs: [['Label', k.ref(echo)], ['Done', k.ref(flag), 'ContentBoolean']] })] });
    const afterEl = k.element('input', 'After', { pageElementId: p.id });
    const end = k.element('step', 'End', { userContent: 'end' });
    k.chain(start, msg, afterEl, end);
    const imp = await k.importFlow(srv.data, k.snapshot('Waits', { start, elements: [start, msg, afterEl, end],
      values: [apiKey, label, echo, flag], services: [svc], pages: [p] }));
    flow = imp.flow;
    tenant = imp.tenant;
    c = new k.RunClient(srv.url, tenant);
    parts = { p, msg, afterEl };
  }));
  after(hook(async () => { await srv?.stop(); }));

  it('WAIT parks the state; ping is false until the Atom\'s callback resumes it; join then shows the next page', async () => {
    const t0 = Date.now();
    const r = await c.start(flow);
    assert.equal(k.rootFaults(r), null, JSON.stringify(k.rootFaults(r)));
    assert.equal(r.invokeType, 'WAIT');
    assert.equal(typeof r.waitMessage, 'string');
    assert.ok(r.waitMessage.length > 0);
    assert.equal(r.currentMapElementId, parts.msg.id);
    assert.ok(Date.now() - t0 < 1400, 'the start did not wait for the slow process');
    const p1 = await c.ping(r.stateId, r.stateToken);
    assert.equal(p1.status, 200, p1.text);
    assert.equal(p1.json, false);
    // a forged callback (a token the engine never sent) is refused and changes nothing
    const forged = await c.call('POST', '/api/run/1/response', { tenantId: tenant, stateId: r.stateId, token: k.id(),
      invokeType: 'FORWARD', outputs: [ev.string('Label', 'forged')], rootFaults: null });
    assert.ok([404, 409].includes(forged.status), `forged callback answered ${forged.status}: ${forged.text}`);
    // the person pressing on while it waits still sees WAIT
    const busy = await c.invoke(r, {});
    assert.equal(busy.status, 200, busy.text);
    assert.equal(busy.json.invokeType, 'WAIT');
    assert.equal((await c.ping(r.stateId, r.stateToken)).json, false);
    const waiting = await c.join(r.stateId);
    assert.equal(waiting.json.invokeType, 'WAIT');
    assert.equal(waiting.json.waitMessage, r.waitMessage);
    assert.equal(waiting.json.stateToken, r.stateToken);

    await poll(async () => (await c.ping(r.stateId, r.stateToken)).json === true,
      { timeoutMs: 8000, intervalMs: 100, what: 'ping to turn true after the callback' });
    assert.ok(Date.now() - t0 >= 1400, 'resumed only after the process finished');
    const j = await c.join(r.stateId);
    assert.equal(j.status, 200, j.text);
    assert.equal(j.json.invokeType, 'FORWARD');
    assert.equal(j.json.waitMessage, null);
    assert.equal(j.json.currentMapElementId, parts.afterEl.id);
    assert.equal(k.dataOf(j.json, k.comp(parts.p, 'Echo').id).content, 'echo hello done true');
    assert.equal((await c.ping(r.stateId, j.json.stateToken)).json, false, 'ping with the current token');
    const done = await c.move(j.json, { outcome: k.outcomeId(j.json, 'next') });
    assert.equal(done.invokeType, 'DONE');
  });

  it('the ServiceRequest carries tenantId, stateId, callbackUri and the service\'s configurationValues', async () => {
    const svc = k.service('Test', `${srv.url}/fs/test`, { username: srv.user, password: srv.token });
    const apiKey = k.value('Api Key', 'ContentString', { defaultContentValue: 'k-123' });
    const limit = k.value('Limit', 'ContentNumber', { defaultContentValue: '25' });
    svc.configurationValues = [
      { developerName: 'Api Key', contentType: 'ContentString', valueElementToReferenceId: k.ref(apiKey), order: 0 },
      { developerName: 'Limit', contentType: 'ContentNumber', valueElementToReferenceId: k.ref(limit), order: 1 }];
    const names = ['Tenant Id', 'State Id', 'Callback Uri', 'Api Key', 'Limit', 'Note', 'Token'];
    const outs = names.map((n) => k.value(`got ${n}`));
    const note = k.value('Note', 'ContentString', { defaultContentValue: 'hi' });
    const start = k.element('START', 'Start');
    const msg = k.element('MESSAGE', 'Props', { messageActions: [k.messageAction(svc, 'Props', {
      inputs: [['Note', k.ref(note)]], outputs: names.map((n, i) => [n, k.ref(outs[i])]) })] });
    const show = k.element('step', 'Show', { userContent: names.map((n) => `{![got ${n}]}`).join('|') });
    k.chain(start, msg, show);
    const imp = await k.importFlow(srv.data, k.snapshot('Props', { start, elements: [start, msg, show],
      values: [apiKey, limit, note, ...outs], services: [svc] }));
    const cc = new k.RunClient(srv.url, imp.tenant);
    const r = await cc.start(imp.flow);
    assert.equal(k.rootFaults(r), null, JSON.stringify(k.rootFaults(r)));
    const got = Object.fromEntries(k.stepContent(r).split('|').map((v, i) => [names[i], v]));
    assert.match(got.Token, /\S/, 'a token is sent');
    delete got.Token;
    assert.deepEqual(got, { 'Tenant Id': imp.tenant, 'State Id': r.stateId, 'Callback Uri': `${srv.url}/api/run/1/response`,
      'Api Key': 'k-123', Limit: '25', Note: 'hi' });
  });

  it('a message action that fails gives rootFaults with the service\'s message and commits nothing', async () => {
    const svc = k.service('Test', `${srv.url}/fs/test`, { username: srv.user, password: srv.token });
    const reason = k.value('Reason', 'ContentString', { defaultContentValue: 'disk full' });
    const code = k.value('Code', 'ContentNumber', { defaultContentValue: '42' });
    const p = k.page('Go', [{ developerName: 'Hi', componentType: 'PRESENTATION', content: 'hi' }]);
    const start = k.element('START', 'Start');
    const go = k.element('input', 'Go', { pageElementId: p.id });
    const msg = k.element('MESSAGE', 'Doomed', { messageActions: [k.messageAction(svc, 'Fail', {
      inputs: [['Reason', k.ref(reason)], ['Code', k.ref(code), 'ContentNumber']] })] });
    const end = k.element('step', 'End', { userContent: 'end' });
    k.chain(start, go, msg, end);
    const imp = await k.importFlow(srv.data, k.snapshot('Doomed', { start, elements: [start, go, msg, end],
      values: [reason, code], services: [svc], pages: [p] }));
    const cc = new k.RunClient(srv.url, imp.tenant);
    const r = await cc.start(imp.flow);
    const bad = await cc.move(r, { outcome: k.outcomeId(r, 'next') });
    assert.match(faultText(bad), /cannot continue: disk full \(code 42\)/);
    assert.equal(bad.currentMapElementId, go.id);
    assert.equal(bad.stateToken, r.stateToken);
  });

  it('a WAIT whose process fails later shows the fault on the message element', async () => {
    const r = await c.start(flow, [ev.string('Label', 'fail')]);
    assert.equal(r.invokeType, 'WAIT', JSON.stringify(k.rootFaults(r)));
    await poll(async () => (await c.ping(r.stateId, r.stateToken)).json === true,
      { timeoutMs: 8000, intervalMs: 100, what: 'ping to turn true after the failing callback' });
    const j = await c.join(r.stateId);
    assert.notEqual(j.json.invokeType, 'WAIT');
    assert.equal(j.json.currentMapElementId, parts.msg.id, 'the state did not move on');
    assert.match(faultText(j.json), /gave up on fail/);
  });
});
