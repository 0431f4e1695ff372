// The draw API end to end: a real `sluice serve`, tenants and builder keys made with the CLI, a
// flow built element by element over HTTP, snapshotted, activated and then run through the run
// API to DONE. Covers API keys, element validation, versions (a new snapshot runs the new
// content, the old one stays loadable and runnable), dangling references refused with
// pointers, the lists, atoms, CLI-imported flows becoming editable, and deleting a flow.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { hook, it, run, startServer } from './helpers.mjs';
import * as k from './flowkit.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const { builder } = k;

// A problem JSON answer of the draw API.
function assertProblem(res, status, { where, message } = {}) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.equal(res.json?.statusCode, status, res.text);
  assert.equal(res.json.kind, 'api');
  assert.ok(typeof res.json.message === 'string' && res.json.message.length > 0);
  assert.ok('where' in res.json, `problem has no "where": ${res.text}`);
  if (where !== undefined) assert.equal(res.json.where, where, res.text);
  if (message) assert.match(res.json.message, message);
  return res.json;
}

const ref = (v) => ({ id: v.id, typeElementPropertyId: null, command: null });

describe('draw API', () => {
  let srv;
  let a; // tenant "alpha"
  let b; // tenant "beta"
  before(hook(async () => {
    srv = await startServer();
    a = await builder(srv, 'alpha');
    b = await builder(srv, 'beta');
  }));
  after(hook(async () => { await srv?.stop(); }));

  it('needs the tenant header and that tenant\'s API key', async () => {
    const noTenant = await a.call('GET', '/api/draw/1/flow', undefined, { 'x-boomi-flow-api-key': a.key });
    assertProblem(noTenant, 400, { where: 'ManyWhoTenant' });
    const noKey = await a.call('GET', '/api/draw/1/flow', undefined, { ManyWhoTenant: a.tenant });
    assertProblem(noKey, 401, { where: 'x-boomi-flow-api-key' });
    const wrong = await a.call('GET', '/api/draw/1/flow', undefined,
      { ManyWhoTenant: a.tenant, 'x-boomi-flow-api-key': 'f'.repeat(64) });
    assertProblem(wrong, 401);
    const otherTenantsKey = await a.call('GET', '/api/draw/1/element/value', undefined,
      { ManyWhoTenant: a.tenant, 'x-boomi-flow-api-key': b.key });
    assertProblem(otherTenantsKey, 401);
    const pkg = await a.call('GET', `/api/package/1/flow/${randomUUID()}`, undefined, { ManyWhoTenant: a.tenant });
    assertProblem(pkg, 401);
    // the right key works; an unknown route under /api/draw is a 404 problem
    assert.ok(Array.isArray(await a.get('/api/draw/1/flow')));
    assertProblem(await a.call('GET', '/api/draw/1/nothing'), 404);
    assertProblem(await a.call('PUT', '/api/draw/1/flow'), 405);
  });

  it('validates elements: shape, developerName, elementType, contentType; ids are given when missing', async () => {
    const noType = await a.call('POST', '/api/draw/1/element/value', { developerName: 'X' });
    assertProblem(noType, 400, { where: '/contentType' });
    const noName = await a.call('POST', '/api/draw/1/element/value', { developerName: '', contentType: 'ContentString' });
    assertProblem(noName, 400, { where: '/developerName' });
    const wrongKind = await a.call('POST', '/api/draw/1/element/page', { developerName: 'P', elementType: 'VARIABLE' });
    assertProblem(wrongKind, 400, { where: '/elementType' });
    assertProblem(await a.call('POST', '/api/draw/1/element/value', '[1,2]'), 400, { where: '' });
    assertProblem(await a.call('POST', '/api/draw/1/element/value', '{"developerName":'), 400);
    assertProblem(await a.call('GET', '/api/draw/1/element/widget'), 404);
    assertProblem(await a.call('GET', '/api/draw/1/element/map'), 404, { where: 'uri' });

    const v = await a.post('/api/draw/1/element/value', { developerName: 'Counter', contentType: 'ContentNumber',
      access: 'PRIVATE', defaultContentValue: '1' });
    assert.match(v.id, UUID);
    assert.equal(v.elementType, 'VARIABLE', 'the default elementType is filled in');
    assert.deepEqual(await a.get(`/api/draw/1/element/value/${v.id}`), v);
    // an update keeps the id
    const v2 = await a.post('/api/draw/1/element/value', { ...v, defaultContentValue: '2' });
    assert.equal(v2.id, v.id);
    assert.equal((await a.get(`/api/draw/1/element/value/${v.id}`)).defaultContentValue, '2');
    // another tenant cannot see it
    assertProblem(await b.call('GET', `/api/draw/1/element/value/${v.id}`), 404);
    // the same id as another kind is refused
    assertProblem(await a.call('POST', '/api/draw/1/element/macro', { id: v.id, developerName: 'M', code: '' }), 409);
    // a type's properties get ids
    const t = await a.post('/api/draw/1/element/type', { developerName: 'Person',
      properties: [{ developerName: 'Name', contentType: 'ContentString' }] });
    assert.match(t.properties[0].id, UUID);
    // delete
    const del = await a.call('DELETE', `/api/draw/1/element/value/${v.id}`);
    assert.equal(del.status, 204, del.text);
    assertProblem(await a.call('GET', `/api/draw/1/element/value/${v.id}`), 404);
    assertProblem(await a.call('DELETE', `/api/draw/1/element/value/${v.id}`), 404);
  });

  it('builds a flow (START → page → step), snapshots, activates and runs it; version 2 runs new content, version 1 stays', async () => {
    // a value, a page with an input bound to it, and an unrelated value that must stay out of the snapshot
    const name = await a.post('/api/draw/1/element/value', { developerName: 'Name', contentType: 'ContentString',
      access: 'OUTPUT', defaultContentValue: null });
    const unused = await a.post('/api/draw/1/element/value', { developerName: 'Unused', contentType: 'ContentString' });
    const page = await a.post('/api/draw/1/element/page', {
      developerName: 'Ask page', label: 'Who are you?',
      pageContainers: [{ id: k.id(), containerType: 'VERTICAL_FLOW', developerName: 'main', order: 0, pageContainers: [] }],
      pageComponents: [],
      pageConditions: [] });
    assert.equal(page.elementType, 'PAGE_LAYOUT');
    page.pageComponents.push({ developerName: 'Name', componentType: 'INPUT', label: 'Name', order: 0,
      pageContainerId: page.pageContainers[0].id, pageContainerDeveloperName: 'main', isEditable: true,
      isRequired: true, valueElementValueBindingReferenceId: ref(name) });
    const page2 = await a.post('/api/draw/1/element/page', page);
    assert.equal(page2.id, page.id);
    assert.match(page2.pageComponents[0].id, UUID);

    // the flow: created with its START element
    const flow = await a.post('/api/draw/1/flow', { developerName: 'Hello draw', developerSummary: 'built over HTTP',
      allowJumping: false });
    assert.match(flow.id.id, UUID);
    assert.equal(flow.id.versionId, null);
    assert.match(flow.editingToken, UUID);
    assert.match(flow.startMapElementId, UUID);
    assert.equal(flow.isActive, false);
    const f = flow.id.id;
    const tok = flow.editingToken;
    const maps0 = await a.get(`/api/draw/1/flow/${f}/${tok}/element/map`);
    assert.equal(maps0.length, 1);
    const start = maps0[0];
    assert.equal(start.id, flow.startMapElementId);
    assert.equal(start.elementType, 'START');

    const show = await a.post(`/api/draw/1/flow/${f}/${tok}/element/map`, { elementType: 'step', developerName: 'Show',
      userContent: '<p>Hello {![Name]}</p>', x: 400, y: 40, outcomes: [] });
    const ask = await a.post(`/api/draw/1/flow/${f}/${tok}/element/map`, { elementType: 'input', developerName: 'Ask',
      pageElementId: page.id, x: 200, y: 40,
      outcomes: [{ developerName: 'go', label: 'Go', nextMapElementId: show.id, pageActionBindingType: 'SAVE' }] });
    assert.match(ask.outcomes[0].id, UUID, 'outcomes get ids');
    start.outcomes = [{ developerName: 'begin', nextMapElementId: ask.id }];
    // the path without the editing token works too
    await a.post(`/api/draw/1/flow/${f}/element/map`, start);
    assert.equal((await a.get(`/api/draw/1/flow/${f}/element/map/${start.id}`)).outcomes.length, 1);
    assertProblem(await a.call('POST', `/api/draw/1/flow/${f}/${tok}/element/map`, { developerName: 'Bad',
      elementType: 'TELEPORT' }), 400, { where: '/elementType' });
    assertProblem(await a.call('POST', `/api/draw/1/flow/${f}/${tok}/element/map`, { developerName: 'Bad',
      elementType: 'step', outcomes: [7] }), 400, { where: '/outcomes/0' });
    assertProblem(await a.call('GET', `/api/draw/1/flow/${randomUUID()}/${tok}/element/map`), 404);

    // snapshot: the flow's elements plus the referenced page and value, not the unused value
    const v1 = await a.post(`/api/draw/1/flow/snap/${f}`);
    assert.equal(v1.id.id, f);
    assert.match(v1.id.versionId, UUID);
    assert.equal(v1.developerName, 'Hello draw');
    assert.equal(v1.startMapElementId, start.id);
    assert.deepEqual(v1.mapElements.map((e) => e.developerName).sort(), ['Ask', 'Show', 'Start']);
    assert.deepEqual(v1.pageElements.map((e) => e.id), [page.id]);
    assert.deepEqual(v1.valueElements.map((e) => e.id), [name.id]);
    assert.ok(!JSON.stringify(v1).includes(unused.id));
    assert.equal(v1.editingToken, undefined);
    const act = await a.post(`/api/draw/1/flow/activation/${f}/${v1.id.versionId}/false/true`);
    assert.equal(act.isActive, true);
    assert.equal(act.id.versionId, v1.id.versionId);

    const c = new k.RunClient(srv.url, a.tenant);
    const r = await c.start(f);
    assert.equal(r.invokeType, 'FORWARD');
    assert.equal(r.currentMapElementId, ask.id);
    const comp = k.pageComps(r)[0];
    assert.equal(comp.developerName, 'Name');
    const done = await c.move(r, { outcome: k.outcomeId(r, 'go'), inputs: [{ pageComponentId: comp.id,
      contentValue: 'Ada', objectData: null }] });
    assert.equal(done.invokeType, 'DONE');
    assert.equal(k.stepContent(done), '<p>Hello Ada</p>');
    assert.equal(k.outputOf(done, 'Name').contentValue, 'Ada');

    // version 2: new content
    await a.post(`/api/draw/1/flow/${f}/${tok}/element/map`, { ...show, userContent: '<p>Goodbye {![Name]}</p>' });
    const v2 = await a.post(`/api/draw/1/flow/snap/${f}`);
    assert.notEqual(v2.id.versionId, v1.id.versionId);
    assert.equal(v2.versionNumber, 2);
    const r2 = await c.start(f);
    const done2 = await c.move(r2, { outcome: k.outcomeId(r2, 'go'), inputs: [{ pageComponentId: k.pageComps(r2)[0].id,
      contentValue: 'Bob', objectData: null }] });
    assert.equal(k.stepContent(done2), '<p>Goodbye Bob</p>');
    // version 1 is still there: loadable and runnable by its versionId
    const old = await a.get(`/api/draw/1/flow/snap/${f}/${v1.id.versionId}`);
    assert.equal(old.mapElements.find((e) => e.id === show.id).userContent, '<p>Hello {![Name]}</p>');
    const byOurId = await a.get(`/api/draw/1/flow/snap/${f}/${v1.sluiceVersionId}`);
    assert.deepEqual(byOurId, old);
    const r1 = await c.start(f, null, v1.id.versionId);
    const done1 = await c.move(r1, { outcome: k.outcomeId(r1, 'go'), inputs: [{ pageComponentId: k.pageComps(r1)[0].id,
      contentValue: 'Cy', objectData: null }] });
    assert.equal(k.stepContent(done1), '<p>Hello Cy</p>');
    // versions, newest first; activation moves
    const versions = await a.get(`/api/draw/1/flow/snap/${f}`);
    assert.deepEqual(versions.map((v) => v.versionNumber), [2, 1]);
    assert.deepEqual(versions.map((v) => v.isActive), [true, false]);
    assert.equal(versions[1].id.versionId, v1.id.versionId);
    await a.post(`/api/draw/1/flow/activation/${f}/${v1.id.versionId}/false/true`);
    assert.deepEqual((await a.get(`/api/draw/1/flow/snap/${f}`)).map((v) => v.isActive), [false, true]);
    const r3 = await c.start(f);
    const done3 = await c.move(r3, { outcome: k.outcomeId(r3, 'go'), inputs: [{ pageComponentId: k.pageComps(r3)[0].id,
      contentValue: 'Di', objectData: null }] });
    assert.equal(k.stepContent(done3), '<p>Hello Di</p>', 'the activated version 1 runs again');
    // deactivating leaves no active version: starting without a version is refused
    await a.post(`/api/draw/1/flow/activation/${f}/${v1.sluiceVersionId}/false/false`);
    assert.equal((await c.call('POST', '/api/run/1/state', { id: f, versionId: null, inputs: null })).status, 404);
    await a.post(`/api/draw/1/flow/activation/${f}/${v2.id.versionId}/false/true`);
    assertProblem(await a.call('POST', `/api/draw/1/flow/activation/${f}/${v2.id.versionId}/false/maybe`), 400);
    assertProblem(await a.call('POST', `/api/draw/1/flow/activation/${f}/${randomUUID()}/false/true`), 404);

    // the lists
    const flows = await a.get('/api/draw/1/flow');
    const listed = flows.find((x) => x.id.id === f);
    assert.ok(listed, JSON.stringify(flows));
    assert.equal(listed.developerName, 'Hello draw');
    assert.equal(listed.isActive, true);
    assert.equal(listed.versionCount, 2);
    assert.equal(listed.editingToken, tok);
    const got = await a.get(`/api/draw/1/flow/${f}`);
    assert.equal(got.developerSummary, 'built over HTTP');
    assert.equal(got.startMapElementId, start.id);
    assert.equal((await b.get('/api/draw/1/flow')).length, 0, 'another tenant sees none of it');
    assert.deepEqual((await a.get('/api/draw/1/element/value')).map((v) => v.developerName), ['Name', 'Unused']);
    assert.deepEqual((await a.get('/api/draw/1/element/page')).map((p) => p.id), [page.id]);
    assert.deepEqual((await a.get(`/api/draw/1/flow/${f}/${tok}/element/group`)), []);

    // an update of the flow keeps what it does not mention
    const renamed = await a.post('/api/draw/1/flow', { id: { id: f }, developerName: 'Hello draw (renamed)' });
    assert.equal(renamed.startMapElementId, start.id);
    assert.equal(renamed.developerSummary, 'built over HTTP');
    assert.equal(renamed.editingToken, tok);

    // dangling references: refused with pointers, nothing stored
    const lost = await a.post(`/api/draw/1/flow/${f}/${tok}/element/map`, { elementType: 'step', developerName: 'Lost',
      outcomes: [{ developerName: 'nowhere', nextMapElementId: randomUUID() }] });
    const bad = await a.call('POST', `/api/draw/1/flow/snap/${f}`);
    const p = assertProblem(bad, 422);
    assert.ok(p.problems.some((x) => /^\/mapElements\/\d+\/outcomes\/0\/nextMapElementId$/.test(x.pointer)), bad.text);
    assert.equal(p.where, p.problems[0].pointer);
    await a.call('DELETE', `/api/draw/1/flow/${f}/${tok}/element/map/${lost.id}`);
    assert.equal((await a.call('DELETE', `/api/draw/1/element/value/${name.id}`)).status, 204);
    assert.equal((await a.call('DELETE', `/api/draw/1/element/page/${page.id}`)).status, 204);
    const bad2 = await a.call('POST', `/api/draw/1/flow/snap/${f}`);
    const p2 = assertProblem(bad2, 422);
    assert.ok(p2.problems.some((x) => /^\/mapElements\/\d+\/pageElementId$/.test(x.pointer)), bad2.text);
    assert.equal((await a.get(`/api/draw/1/flow/snap/${f}`)).length, 2, 'no version was added');
    // a dangling value reference (the page is back, its value is not)
    await a.post('/api/draw/1/element/page', page2);
    const bad3 = await a.call('POST', `/api/draw/1/flow/snap/${f}`);
    const p3 = assertProblem(bad3, 422);
    assert.ok(p3.problems.some((x) => x.pointer === '/pageElements/0/pageComponents/0/valueElementValueBindingReferenceId/id'),
      bad3.text);

    // deleting the flow removes it, its versions and its map elements
    const del = await a.call('DELETE', `/api/draw/1/flow/${f}`);
    assert.equal(del.status, 204, del.text);
    assertProblem(await a.call('GET', `/api/draw/1/flow/${f}`), 404);
    assertProblem(await a.call('GET', `/api/draw/1/flow/snap/${f}`), 404);
    assertProblem(await a.call('POST', `/api/draw/1/flow/snap/${f}`), 404);
    assert.equal((await c.call('POST', '/api/run/1/state', { id: f, versionId: null, inputs: null })).status, 404);
    assertProblem(await a.call('DELETE', `/api/draw/1/flow/${f}`), 404);
  });

  it('a flow imported with `sluice flow import` is editable: header, map elements and tenant elements', async () => {
    const who = k.value('Who', 'ContentString', { defaultContentValue: 'world' });
    const start = k.element('START', 'Start');
    const hello = k.element('step', 'Hello', { userContent: 'Hello {![Who]}' });
    k.chain(start, hello);
    const snap = k.snapshot('Imported', { start, elements: [start, hello], values: [who] });
    const { tenant, flow } = await k.importFlow(srv.data, snap, 'alpha');
    assert.equal(tenant, a.tenant);
    const header = await a.get(`/api/draw/1/flow/${flow}`);
    assert.equal(header.developerName, 'Imported');
    assert.equal(header.startMapElementId, start.id);
    assert.equal(header.isActive, true);
    const maps = await a.get(`/api/draw/1/flow/${flow}/${header.editingToken}/element/map`);
    assert.deepEqual(maps.map((e) => e.id).sort(), [start.id, hello.id].sort());
    assert.deepEqual(await a.get(`/api/draw/1/element/value/${who.id}`), who);
    // edit and snapshot: version 2 of the imported flow
    await a.post(`/api/draw/1/flow/${flow}/element/map`, { ...hello, userContent: 'Hi {![Who]}' });
    const v2 = await a.post(`/api/draw/1/flow/snap/${flow}`);
    assert.equal(v2.versionNumber, 2);
    const c = new k.RunClient(srv.url, a.tenant);
    const r = await c.start(flow);
    assert.equal(r.invokeType, 'DONE');
    assert.equal(k.stepContent(r), 'Hi world');
    // importing again replaces the editable elements with the file's
    await k.importFlow(srv.data, snap, 'alpha');
    assert.equal((await a.get(`/api/draw/1/flow/${flow}/element/map/${hello.id}`)).userContent, 'Hello {![Who]}');
  });

  it('atoms: the tenant\'s known Atoms by name', async () => {
    assert.deepEqual(await a.get('/api/draw/1/atom'), []);
    const saved = await a.post('/api/draw/1/atom', { name: 'local', baseUri: 'http://127.0.0.1:9090' });
    assert.deepEqual(saved, { name: 'local', baseUri: 'http://127.0.0.1:9090' });
    await a.post('/api/draw/1/atom', { name: 'local', baseUri: 'http://127.0.0.1:9091' });
    assert.deepEqual(await a.get('/api/draw/1/atom'), [{ name: 'local', baseUri: 'http://127.0.0.1:9091' }]);
    assert.deepEqual(await a.get('/api/draw/1/atom/local'), { name: 'local', baseUri: 'http://127.0.0.1:9091' });
    assertProblem(await a.call('POST', '/api/draw/1/atom', { name: 'x', baseUri: 'ftp://nope' }), 400, { where: '/baseUri' });
    assertProblem(await a.call('POST', '/api/draw/1/atom', { baseUri: 'http://x' }), 400, { where: '/name' });
    assertProblem(await a.call('GET', '/api/draw/1/atom/nope'), 404);
    assert.deepEqual(await b.get('/api/draw/1/atom'), []);
  });
});
