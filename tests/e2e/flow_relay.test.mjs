// The player's relays: POST /api/run/1/service/data, /service/file and /service/file/content,
// end to end. One `sluice serve` (Atom with examples/upload deployed + Flow engine), the
// customers table seeded per run, Flow types taken from the Atom's own describe, a flow whose
// page has a table (objectDataRequest) and a files component (fileDataRequest). The relays'
// answers are compared with what the Atom answers directly. A small node HTTP server stands in
// for a service where the test needs to see the forwarded request or a failing answer.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT, hook, it, parseRawResponse, poll, rawExchange, startServer, tempDir } from './helpers.mjs';
import * as k from './flowkit.mjs';

const UPLOAD = path.join(REPO_ROOT, 'examples', 'upload');
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const propOf = (o, name) => o.properties.find((p) => p.developerName === name)?.contentValue;
const sha256 = (b) => createHash('sha256').update(b).digest('hex');

// A describe TypeElement made into a snapshot type, as service install does: ids for the type,
// its properties and bindings, bound to svc.
function installType(te, svc) {
  const t = { ...te, id: k.id(), serviceElementId: svc.id,
    properties: te.properties.map((p) => ({ ...p, id: k.id() })) };
  t.bindings = (te.bindings ?? []).map((b) => ({ ...b, id: k.id(), serviceElementId: svc.id, typeElementId: t.id,
    propertyBindings: (b.propertyBindings ?? []).map((pb) => ({ ...pb,
      typeElementPropertyId: t.properties.find((p) => p.developerName === pb.typeElementPropertyDeveloperName)?.id ?? null })) }));
  return t;
}

// A stand-in Flow service: records every request and answers with `reply`.
async function fakeService() {
  const f = { seen: [], reply: { status: 200, type: 'application/json',
    body: JSON.stringify({ culture: null, objectData: [], hasMoreResults: false, offsetToken: null }) } };
  f.server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (d) => chunks.push(d));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      f.seen.push({ method: req.method, url: req.url, headers: req.headers, raw: Buffer.concat(chunks), text, json });
      res.writeHead(f.reply.status, { 'content-type': f.reply.type });
      res.end(f.reply.body);
    });
  });
  await new Promise((r) => f.server.listen(0, '127.0.0.1', r));
  f.url = `http://127.0.0.1:${f.server.address().port}`;
  return f;
}

// A port nobody listens on.
async function closedPort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function procStatus(pid, key) {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

describe('flow relays: /api/run/1/service/data, /file, /file/content', () => {
  let srv;
  let tenant;
  let otherTenant;
  let c; // RunClient of the tenant
  let state; // the running state's first response
  let odr; // the table's objectDataRequest
  let fdr; // the files component's fileDataRequest
  let snap;
  let fake;
  let parts;
  let tmpDir;

  const relay = (route, body, { headers = {}, tenantId = tenant } = {}) => fetch(`${srv.url}/api/run/1/service/${route}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(tenantId ? { ManyWhoTenant: tenantId } : {}), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }).then(async (r) => {
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: r.status, headers: r.headers, text, json };
  });
  const data = (listFilter, extra = {}, opts = {}) =>
    relay('data', { ...odr, listFilter: { ...odr.listFilter, ...listFilter }, ...extra }, opts);
  // What the Atom answers to the same list filter, called directly (the table's design-time limit
  // is 5; the relay defaults offset to 0).
  const direct = (listFilter) => srv.post('/fs/upload/data', { stateId: null, token: null, typeElementBindingId: null,
    authorization: null, configurationValues: [], command: null, culture: null,
    objectDataType: odr.objectDataType, listFilter: { ...odr.listFilter, offset: 0, ...listFilter }, objectData: null });
  const upload = (fd, { tenantId = tenant } = {}) => fetch(`${srv.url}/api/run/1/service/file/content`, {
    method: 'POST', headers: tenantId ? { ManyWhoTenant: tenantId } : {}, body: fd,
  }).then(async (r) => {
    const text = await r.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: r.status, text, json };
  });
  const tmpLeft = async () => (existsSync(tmpDir) ? readdir(tmpDir) : []);
  const tmpEmpty = async () => {
    try {
      await poll(async () => (await tmpLeft()).length === 0, { timeoutMs: 5000, what: `${tmpDir} to be empty` });
    } catch (e) {
      throw new Error(`${e.message}; left: ${(await tmpLeft()).join(', ')}`);
    }
  };
  const problem = (r, status, where, re) => {
    assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
    assert.equal(r.json?.statusCode, status, r.text);
    if (where !== undefined) assert.equal(r.json.where, where, r.text);
    if (re) assert.match(r.json.message, re);
    assert.equal(r.headers?.get?.('access-control-allow-origin') ?? '*', '*');
    return r.json;
  };

  before(hook(async () => {
    const dataDir = await tempDir();
    execFileSync('sqlite3', [path.join(dataDir, 'customers.db')],
      { input: readFileSync(path.join(UPLOAD, 'seed', 'customers.sql')) });
    srv = await startServer({ data: dataDir, deploy: UPLOAD });
    tmpDir = path.join(srv.data, 'tmp');
    fake = await fakeService();
    const down = await closedPort();
    // Types as the Atom's describe generates them.
    const md = await srv.post('/fs/upload/metadata', {});
    assert.equal(md.status, 200, md.text);
    const svc = k.service('Upload', `${srv.url}/fs/upload`, { username: srv.user, password: srv.token });
    const region = k.value('Region', 'ContentString', { defaultContentValue: 'EU' });
    svc.configurationValues = [{ developerName: 'Region', contentType: 'ContentString',
      valueElementToReferenceId: { id: region.id, typeElementPropertyId: null, command: null } }];
    const cust = installType(md.json.install.typeElements.find((t) => t.developerName === 'customers'), svc);
    const downSvc = k.service('Down', `http://127.0.0.1:${down}/fs/upload`, { username: 'x', password: 'y' });
    const fakeSvc = k.service('Fake', `${fake.url}/svc/`, { username: 'fake-user', password: 'fake pass' });
    fakeSvc.configurationValues = svc.configurationValues;
    const notInAtom = k.type('nosuch', [['id', 'ContentNumber']], { serviceElementId: svc.id });
    const table = (name, s) => ({ developerName: name, componentType: 'TABLE',
      objectDataRequest: { typeElementId: cust.id, typeElementBindingId: cust.bindings[0].id, serviceElementId: s.id,
        command: null, listFilter: k.listFilter(cust, { orderBy: 'id', direction: 'ASC', limit: 5 }) },
      columns: ['name', 'city'].map((p, i) => ({ typeElementPropertyId: k.prop(cust, p).id, order: i, isDisplayValue: true })) });
    const p = k.page('Browse', [
      table('Customers', svc), table('DownTable', downSvc), table('FakeTable', fakeSvc),
      { developerName: 'Files', componentType: 'FILES', fileDataRequest: { serviceElementId: svc.id, resourcePath: 'upload' } },
      { developerName: 'FakeFiles', componentType: 'FILES', fileDataRequest: { serviceElementId: fakeSvc.id, resourcePath: 'docs' } },
    ]);
    const start = k.element('START', 'Start');
    const browse = k.element('input', 'Browse', { pageElementId: p.id });
    const end = k.element('step', 'End', { userContent: 'bye' }); // no outcomes: the flow ends (DONE)
    start.outcomes = [k.outcome('go', browse)];
    browse.outcomes = [k.outcome('Finish', end)];
    snap = k.snapshot('Relays', { start, elements: [start, browse, end], values: [region], types: [cust, notInAtom],
      services: [svc, downSvc, fakeSvc], pages: [p] });
    parts = { svc, downSvc, fakeSvc, cust, notInAtom, p };
    const imp = await k.importFlow(srv.data, snap);
    tenant = imp.tenant;
    otherTenant = (await k.importFlow(srv.data, snap, 'someone-else')).tenant;
    c = new k.RunClient(srv.url, tenant);
    state = await c.start(imp.flow);
    assert.equal(state.invokeType, 'FORWARD');
    odr = k.dataOf(state, k.comp(p, 'Customers').id).objectDataRequest;
    fdr = k.dataOf(state, k.comp(p, 'Files').id).fileDataRequest;
    assert.ok(odr && fdr, 'the page carries an objectDataRequest and a fileDataRequest');
    parts.flow = imp.flow;
  }));
  after(hook(async () => {
    await srv?.stop();
    await new Promise((r) => (fake ? fake.server.close(r) : r()));
  }));

  it('pages through the customers table (limit/offset, hasMoreResults) exactly as the Atom answers', async () => {
    assert.equal(odr.stateId, state.stateId);
    assert.equal(odr.serviceElementId, parts.svc.id);
    assert.equal(odr.objectDataType.typeElementId, parts.cust.id);
    const ids = [];
    for (let offset = 0; ; offset += 4) {
      const r = await data({ limit: 4, offset });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type'), /^application\/json/);
      const d = await direct({ limit: 4, offset });
      assert.equal(d.status, 200, d.text);
      assert.deepEqual(r.json, d.json, `page at offset ${offset} differs from the Atom's`);
      ids.push(...r.json.objectData.map((o) => Number(propOf(o, 'id'))));
      assert.equal(r.json.hasMoreResults, offset + 4 < 15, `hasMoreResults at offset ${offset}`);
      if (!r.json.hasMoreResults) break;
    }
    assert.deepEqual(ids, Array.from({ length: 15 }, (_, i) => i + 1));
  });

  it('search and orderBy ASC / DESC give what the Atom gives', async () => {
    for (const lf of [{ search: 'an' }, { search: 'an', orderByPropertyDeveloperName: 'name', orderByDirectionType: 'ASC' },
      { orderByPropertyDeveloperName: 'name', orderByDirectionType: 'DESC', limit: 20 },
      { orderByPropertyDeveloperName: 'city', orderByDirectionType: 'ASC', limit: 3, offset: 2 }]) {
      const r = await data(lf);
      assert.equal(r.status, 200, r.text);
      const d = await direct(lf);
      assert.deepEqual(r.json, d.json, JSON.stringify(lf));
      assert.ok(r.json.objectData.length > 0, JSON.stringify(lf));
    }
    const names = (r) => r.json.objectData.map((o) => propOf(o, 'name'));
    const asc = names(await data({ orderByPropertyDeveloperName: 'name', orderByDirectionType: 'ASC', limit: 20 }));
    const desc = names(await data({ orderByPropertyDeveloperName: 'NAME', orderByDirectionType: 'desc', limit: 20 }));
    assert.equal(asc.length, 15);
    assert.deepEqual(asc, [...asc].sort());
    assert.deepEqual(desc, [...asc].reverse(), 'property and direction names are matched ignoring case');
    const searched = (await data({ search: 'an', limit: 20 })).json.objectData;
    assert.ok(searched.length < 15);
  });

  it('limit defaults to 10 and is capped at 1000; the rest of the request is built by the engine', async () => {
    const r = await data({ limit: undefined, offset: undefined });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.objectData.length, 10);
    assert.equal(r.json.hasMoreResults, true);
    const fodr = k.dataOf(state, k.comp(parts.p, 'FakeTable').id).objectDataRequest;
    const seen = [];
    for (const limit of [undefined, 0, 5000, 7]) {
      fake.seen.length = 0;
      const lf = { ...fodr.listFilter, limit, search: 'x', offset: 30 };
      // the player may send anything in objectDataType and culture; the engine sends the type it knows
      const q = await relay('data', { ...fodr, listFilter: lf, culture: { language: 'EN', country: 'GB' },
        objectDataType: { typeElementId: parts.cust.id, developerName: 'CUSTOMERS', properties: [{ developerName: 'x' }] },
        configurationValues: [{ developerName: 'Region', contentValue: 'forged' }], tenantId: 'forged', token: 'forged' },
      { headers: { Authorization: 'whatever: ignored for public flows' } });
      assert.equal(q.status, 200, q.text);
      assert.deepEqual(q.json, JSON.parse(fake.reply.body), 'the answer is relayed as it came');
      assert.equal(fake.seen.length, 1);
      const got = fake.seen[0];
      assert.equal(got.method, 'POST');
      assert.equal(got.url, '/svc/data', 'the trailing slash of the service uri is dropped');
      assert.equal(got.headers.authorization, 'Basic ' + Buffer.from('fake-user:fake pass').toString('base64'));
      seen.push(got.json.listFilter.limit);
      const b = got.json;
      assert.equal(b.stateId, state.stateId);
      assert.equal(b.tenantId, tenant);
      assert.match(b.token, UUID);
      assert.notEqual(b.token, fodr.token, 'a fresh token per call, not the state token');
      assert.deepEqual(b.culture, { language: 'EN', country: 'GB' });
      assert.deepEqual(b.configurationValues.map((v) => [v.developerName, v.contentValue]), [['Region', 'EU']]);
      assert.equal(b.objectDataType.typeElementId, parts.cust.id);
      assert.equal(b.objectDataType.developerName, 'customers');
      assert.deepEqual(b.objectDataType.properties.map((p) => p.developerName),
        ['id', 'name', 'email', 'city', 'country', 'segment', 'active']);
      assert.equal(b.typeElementBindingId, parts.cust.bindings[0].id);
      assert.equal(b.listFilter.search, 'x');
      assert.equal(b.listFilter.offset, 30);
      assert.equal(b.listFilter.orderByPropertyDeveloperName, 'id');
    }
    assert.deepEqual(seen, [10, 1000, 1000, 7]);
    const tokens = new Set();
    for (let i = 0; i < 3; i++) {
      fake.seen.length = 0;
      await relay('data', fodr);
      tokens.add(fake.seen[0].json.token);
    }
    assert.equal(tokens.size, 3);
  });

  it('ManyWhoState is optional and must agree with the body\'s stateId', async () => {
    let r = await data({}, {}, { headers: { ManyWhoState: state.stateId } });
    assert.equal(r.status, 200, r.text);
    r = await data({}, { stateId: undefined }, { headers: { ManyWhoState: state.stateId } });
    assert.equal(r.status, 200, 'the header alone names the state');
    r = await data({}, {}, { headers: { ManyWhoState: k.id() } });
    problem(r, 400, 'ManyWhoState', /ManyWhoState header .* and the body's stateId .* differ/);
  });

  it('refuses requests that are not tied to a running state of the tenant, with clear problems', async () => {
    problem(await data({}, {}, { tenantId: null }), 400, 'ManyWhoTenant', /ManyWhoTenant header/);
    const ghostTenant = k.id();
    problem(await data({}, {}, { tenantId: ghostTenant }), 404, 'ManyWhoTenant', new RegExp(`no tenant ${ghostTenant}`));
    problem(await data({}, {}, { tenantId: otherTenant }), 404, '/stateId', /no state .* in tenant/);
    const ghostState = k.id();
    problem(await data({}, { stateId: ghostState }), 404, '/stateId', new RegExp(`no state ${ghostState}`));
    problem(await data({}, { stateId: undefined }), 400, '/stateId', /needs the stateId/);
    const foreign = k.id();
    problem(await data({}, { serviceElementId: foreign }), 404, '/serviceElementId',
      new RegExp(`service ${foreign} is not a service of flow "Relays"`));
    problem(await data({}, { serviceElementId: undefined }), 400, '/serviceElementId');
    const ghostType = k.id();
    problem(await data({}, { objectDataType: { ...odr.objectDataType, typeElementId: ghostType } }), 404,
      '/objectDataType/typeElementId', new RegExp(`type ${ghostType} is not a type of flow`));
    problem(await data({}, { objectDataType: { typeElementId: parts.cust.id, developerName: 'secrets' } }), 400,
      '/objectDataType/developerName', /"secrets" is not the name of type/);
    problem(await data({}, { objectDataType: { developerName: 'secrets' } }), 404, '/objectDataType', /"secrets", which is not a type/);
    problem(await data({}, { objectDataType: null }), 400, '/objectDataType');
    // by name alone, when it is one of the flow's types
    const byName = await data({}, { objectDataType: { developerName: 'customers' } });
    assert.equal(byName.status, 200, byName.text);
    problem(await data({ limit: -1 }), 400, '/listFilter/limit');
    problem(await data({ limit: 'ten' }), 400, '/listFilter/limit');
    problem(await data({ offset: 1.5 }), 400, '/listFilter/offset');
    problem(await data({ orderByDirectionType: 'UP' }), 400, '/listFilter/orderByDirectionType');
    problem(await data({ orderByPropertyDeveloperName: 'salary' }), 400, '/listFilter/orderByPropertyDeveloperName',
      /type "customers" has no such property/);
    problem(await data({ search: 42 }), 400, '/listFilter/search');
    problem(await relay('data', '{"stateId":'), 400, undefined, /not valid JSON/);
    problem(await relay('data', '[1]'), 400, '', /JSON object/);
    problem(await relay('data', ''), 400, '', /needs a JSON body/);
    problem(await relay('nothing', odr), 404, 'uri', /no relay/);
    const get = await fetch(`${srv.url}/api/run/1/service/data`, { headers: { ManyWhoTenant: tenant } });
    assert.equal(get.status, 405);
    const pre = await fetch(`${srv.url}/api/run/1/service/file/content`, { method: 'OPTIONS' });
    assert.equal(pre.status, 204, 'CORS preflight');
    assert.match(pre.headers.get('access-control-allow-headers'), /ManyWhoTenant/);
  });

  it('a service that is down gives 502 naming it; service errors are relayed as problems', async () => {
    const dodr = k.dataOf(state, k.comp(parts.p, 'DownTable').id).objectDataRequest;
    let r = await relay('data', dodr);
    let p = problem(r, 502, 'service', /^service "Down" could not be reached: /);
    assert.equal(p.kind, 'service');
    assert.equal(p.serviceElementId, parts.downSvc.id);
    assert.equal(r.headers.get('x-manywho-service-problem-kind'), 'service');
    const fodr = k.dataOf(state, k.comp(parts.p, 'FakeTable').id).objectDataRequest;
    const cases = [
      [500, '{"kind":"service","message":"the database is on fire"}', 502, /^service "Fake" answered 500: the database is on fire$/],
      [400, '{"message":"no column salary"}', 400, /^service "Fake" answered 400: no column salary$/],
      [404, '{"message":"no data action nosuch"}', 404, /answered 404: no data action nosuch/],
      [401, '{"message":"bad credentials"}', 502, /answered 401: bad credentials/],
      [200, '<html>oops</html>', 502, /answered 200 with something that is not an ObjectDataResponse: <html>oops/],
      [503, 'gateway trouble', 502, /answered 503: gateway trouble/],
    ];
    for (const [status, body, want, re] of cases) {
      fake.reply = { status, body, type: body.startsWith('{') ? 'application/json' : 'text/html' };
      r = await relay('data', fodr);
      p = problem(r, want, 'service', re);
      assert.equal(p.serviceStatusCode, status);
    }
    fake.seen.length = 0;
    fake.reply = { status: 500, body: '{"message":"still down"}', type: 'application/json' };
    await relay('data', fodr);
    assert.equal(fake.seen.length, 3, 'Loads are reads: a 5xx is retried (3 attempts)');
    fake.reply = { status: 200, type: 'application/json',
      body: JSON.stringify({ culture: null, objectData: [], hasMoreResults: false, offsetToken: null }) };
    // the Atom itself: a type of the flow that the Atom does not serve
    r = await data({}, { objectDataType: { typeElementId: parts.notInAtom.id } });
    assert.ok(r.status >= 400 && r.status < 500, r.text);
    assert.match(r.json.message, /^service "Upload" answered 4\d\d: /);
  });

  it('a DONE state can still be read', async () => {
    const s = await c.start(parts.flow);
    const sodr = k.dataOf(s, k.comp(parts.p, 'Customers').id).objectDataRequest;
    const done = await c.move(s, { outcome: k.outcomeId(s, 'Finish') });
    assert.equal(done.invokeType, 'DONE');
    const r = await relay('data', { ...sodr, listFilter: { ...sodr.listFilter, limit: 2 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.objectData.length, 2);
  });

  it('uploads (several files in one request, and one) stream through to the Atom and are listed through /service/file', async () => {
    assert.equal(fdr.stateId, state.stateId);
    assert.equal(fdr.serviceElementId, parts.svc.id);
    assert.equal(fdr.resourcePath, 'upload');
    let list = await relay('file', { ...fdr, listFilter: { limit: 10 } }, { headers: { ManyWhoState: state.stateId } });
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.objectData, []);
    const big = randomBytes(5 * 1024 * 1024);
    const small = Buffer.from('hello, relay\n');
    // as the player sends it: the files, then FileDataRequest as a plain form field
    const fd = new FormData();
    fd.append('FileData', new Blob([big], { type: 'application/octet-stream' }), 'big.bin');
    fd.append('FileData', new Blob([small], { type: 'text/plain' }), 'notes ünïcode.txt');
    fd.append('FileDataRequest', JSON.stringify(fdr));
    let r = await upload(fd);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.objectData.map((o) => [o.developerName, propOf(o, 'Name'), o.order]),
      [['$File', 'big.bin', 0], ['$File', 'notes ünïcode.txt', 1]]);
    assert.equal(propOf(r.json.objectData[1], 'Mime Type'), 'text/plain');
    await tmpEmpty();
    const one = new FormData();
    one.append('FileDataRequest', new Blob([JSON.stringify(fdr)], { type: 'application/json' }));
    one.append('FileData', new Blob([small], { type: 'text/plain' }), 'single.txt');
    r = await upload(one);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.objectData.length, 1);
    assert.equal(propOf(r.json.objectData[0], 'Name'), 'single.txt');
    await tmpEmpty();
    list = await relay('file', { ...fdr, listFilter: { limit: 10 } });
    assert.equal(list.status, 200, list.text);
    const names = list.json.objectData.map((o) => propOf(o, 'Name')).sort();
    assert.deepEqual(names, ['big.bin', 'notes ünïcode.txt', 'single.txt']);
    const atom = await srv.post('/fs/upload/file', { resourcePath: 'upload', listFilter: { limit: 10 } });
    assert.deepEqual(list.json.objectData.map((o) => o.externalId), atom.json.objectData.map((o) => o.externalId));
    // paging and search go through too
    const page = await relay('file', { ...fdr, listFilter: { limit: 2 } });
    assert.equal(page.json.objectData.length, 2);
    assert.equal(page.json.hasMoreResults, true);
    const found = await relay('file', { ...fdr, listFilter: { search: 'single' } });
    assert.deepEqual(found.json.objectData.map((o) => propOf(o, 'Name')), ['single.txt']);
    // the bytes arrived intact
    const bigFile = list.json.objectData.find((o) => propOf(o, 'Name') === 'big.bin');
    const dl = await fetch(propOf(bigFile, 'Download Uri'));
    assert.equal(dl.status, 200);
    assert.equal(sha256(Buffer.from(await dl.arrayBuffer())), sha256(big));
    const smallFile = list.json.objectData.find((o) => propOf(o, 'Name').startsWith('notes'));
    assert.equal(await (await fetch(propOf(smallFile, 'Download Uri'))).text(), small.toString());
    // the forwarded file list request
    const ffdr = k.dataOf(state, k.comp(parts.p, 'FakeFiles').id).fileDataRequest;
    fake.seen.length = 0;
    r = await relay('file', { ...ffdr, listFilter: { search: 'q', limit: 5000 } });
    assert.equal(r.status, 200, r.text);
    const b = fake.seen[0];
    assert.equal(b.url, '/svc/file');
    assert.equal(b.json.resourcePath, 'docs');
    assert.equal(b.json.stateId, state.stateId);
    assert.equal(b.json.tenantId, tenant);
    assert.equal(b.json.serviceElementId, parts.fakeSvc.id);
    assert.deepEqual(b.json.configurationValues.map((v) => [v.developerName, v.contentValue]), [['Region', 'EU']]);
    assert.deepEqual([b.json.listFilter.search, b.json.listFilter.limit, b.json.listFilter.offset], ['q', 1000, 0]);
  });

  it('an upload of one file goes to the service byte for byte; several files go one request per file', async () => {
    const ffdr = k.dataOf(state, k.comp(parts.p, 'FakeFiles').id).fileDataRequest;
    const okReply = (name) => JSON.stringify({ culture: null, hasMoreResults: false, offsetToken: null,
      objectData: [{ externalId: name, developerName: '$File', order: 0, properties: [{ developerName: 'Name', contentValue: name }] }] });
    // one file: the body and Content-Type as the player sent them
    const boundary = `----player${k.id()}`;
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="FileData"; filename="one.txt"\r\nContent-Type: text/plain\r\n\r\n`),
      Buffer.from('first line\r\nsecond line\r\n'),
      Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nkept\r\n`),
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="FileDataRequest"\r\n\r\n${JSON.stringify(ffdr)}\r\n--${boundary}--\r\n`)]);
    fake.seen.length = 0;
    fake.reply = { status: 200, type: 'application/json', body: okReply('one.txt') };
    let r = await fetch(`${srv.url}/api/run/1/service/file/content`, { method: 'POST',
      headers: { ManyWhoTenant: tenant, 'Content-Type': `multipart/form-data; boundary=${boundary}` }, body });
    assert.equal(r.status, 200, await r.clone().text());
    assert.deepEqual(await r.json(), JSON.parse(okReply('one.txt')));
    assert.equal(fake.seen.length, 1, 'uploads are not retried');
    assert.equal(fake.seen[0].url, '/svc/file/content');
    assert.equal(fake.seen[0].headers['content-type'], `multipart/form-data; boundary=${boundary}`);
    assert.equal(fake.seen[0].headers.authorization, 'Basic ' + Buffer.from('fake-user:fake pass').toString('base64'));
    assert.ok(fake.seen[0].raw.equals(body), 'the service gets the bytes the player sent');
    // two files: one multipart request each, with the FileDataRequest part in each
    fake.seen.length = 0;
    const fd = new FormData();
    fd.append('FileDataRequest', JSON.stringify(ffdr));
    fd.append('FileData', new Blob(['AAA'], { type: 'text/plain' }), 'a.txt');
    fd.append('FileData', new Blob([Buffer.from([0, 1, 2, 255])], { type: 'application/octet-stream' }), 'b.bin');
    r = await upload(fd);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.objectData.map((o) => [o.externalId, o.order]), [['one.txt', 0], ['one.txt', 1]]);
    assert.equal(fake.seen.length, 2);
    for (const [i, [name, type, bytes]] of [['a.txt', 'text/plain', Buffer.from('AAA')],
      ['b.bin', 'application/octet-stream', Buffer.from([0, 1, 2, 255])]].entries()) {
      const got = fake.seen[i];
      const m = /^multipart\/form-data; boundary=(.+)$/.exec(got.headers['content-type']);
      assert.ok(m, got.headers['content-type']);
      const want = Buffer.concat([
        Buffer.from(`--${m[1]}\r\nContent-Disposition: form-data; name="FileData"; filename="${name}"\r\nContent-Type: ${type}\r\n\r\n`),
        bytes,
        Buffer.from(`\r\n--${m[1]}\r\nContent-Disposition: form-data; name="FileDataRequest"\r\nContent-Type: application/json\r\n\r\n` +
          `${JSON.stringify(ffdr)}\r\n--${m[1]}--\r\n`)]);
      assert.ok(got.raw.equals(want), `request ${i}:\n${got.raw.toString('latin1')}`);
    }
    // a failing file stops the rest and says which
    fake.seen.length = 0;
    fake.reply = { status: 500, type: 'application/json', body: '{"message":"disk full"}' };
    r = await upload(fd);
    problem(r, 502, 'service', /^file "a.txt" \(1 of 2; 0 before it stored\): service "Fake" answered 500: disk full$/);
    assert.equal(fake.seen.length, 1);
    fake.reply = { status: 200, type: 'application/json',
      body: JSON.stringify({ culture: null, objectData: [], hasMoreResults: false, offsetToken: null }) };
    await tmpEmpty();
  });

  it('refuses bad uploads with clear problems and leaves no temporary file behind', async () => {
    const file = () => new Blob([Buffer.from('x'.repeat(1000))], { type: 'text/plain' });
    const form = (request, withFile = true) => {
      const fd = new FormData();
      if (request !== undefined) fd.append('FileDataRequest', typeof request === 'string' ? request : JSON.stringify(request));
      if (withFile) fd.append('FileData', file(), 'a.txt');
      return fd;
    };
    problem(await upload(form(fdr), { tenantId: null }), 400, 'ManyWhoTenant');
    problem(await upload(form(fdr), { tenantId: k.id() }), 404, 'ManyWhoTenant');
    problem(await upload(form({ ...fdr, stateId: k.id() })), 404, 'FileDataRequest/stateId', /no state/);
    problem(await upload(form({ ...fdr, stateId: null })), 400, 'FileDataRequest/stateId');
    problem(await upload(form({ ...fdr, serviceElementId: k.id() })), 404, 'FileDataRequest/serviceElementId',
      /is not a service of flow "Relays"/);
    problem(await upload(form(undefined)), 400, 'FileDataRequest', /no FileDataRequest part/);
    problem(await upload(form(fdr, false)), 400, 'FileData', /no FileData part/);
    problem(await upload(form('{not json')), 400, 'FileDataRequest', /not a JSON object/);
    problem(await upload(form('x'.repeat(70 * 1024))), 413, 'FileDataRequest', /larger than 64 KiB/);
    const two = form(fdr);
    two.append('FileDataRequest', JSON.stringify(fdr));
    problem(await upload(two), 400, 'FileDataRequest', /more than one FileDataRequest/);
    problem(await relay('file/content', fdr), 400, 'Content-Type', /multipart\/form-data/);
    const broken = await fetch(`${srv.url}/api/run/1/service/file/content`, { method: 'POST',
      headers: { ManyWhoTenant: tenant, 'Content-Type': 'multipart/form-data; boundary=zz' },
      body: '--zz\r\nContent-Disposition: form-data; name="FileData"; filename="a"\r\n\r\nabc' });
    problem({ status: broken.status, json: await broken.json() }, 400, 'multipart', /could not be read/);
    // the service's own refusal comes back with its message
    problem(await upload(form({ ...fdr, resourcePath: 'elsewhere' })), 404, 'service',
      /^service "Upload" answered 404: no file resource "elsewhere"/);
    await tmpEmpty();
  });

  it('answers 413 before the body when Content-Length is over 1 GiB, and cleans up when the client goes away', async () => {
    const head = (len) => 'POST /api/run/1/service/file/content HTTP/1.1\r\nHost: 127.0.0.1\r\n' +
      `ManyWhoTenant: ${tenant}\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: ${len}\r\n\r\n`;
    const r = await rawExchange(srv.port, head(2 ** 30 + 1), { until: (t) => t.includes('\r\n\r\n'), timeoutMs: 5000 });
    assert.equal(parseRawResponse(r.text).status, 413, r.text);
    // a client that sends part of a 10 MB body and disconnects
    const sock = net.createConnection({ host: '127.0.0.1', port: srv.port });
    await new Promise((res) => sock.on('connect', res));
    const partHead = '--b\r\nContent-Disposition: form-data; name="FileData"; filename="x.bin"\r\n\r\n';
    sock.write(head(10 * 1024 * 1024));
    sock.write(partHead);
    sock.write(Buffer.alloc(2 * 1024 * 1024, 7));
    // Wait until the server has written all that was sent: a close that races the server's reading
    // is noticed by the HTTP layer only at its idle timeout (libmicrohttpd with epoll; not the relay's).
    await poll(async () => {
      const f = (await tmpLeft()).find((n) => n.endsWith('.upload'));
      return f && statSync(path.join(tmpDir, f)).size === partHead.length + 2 * 1024 * 1024;
    }, { what: 'the upload to stream into <data>/tmp' });
    sock.destroy();
    await tmpEmpty();
  });

  it('a 100 MB upload streams: the server\'s RSS does not grow by the upload\'s size', async (t) => {
    const size = 100 * 1000 * 1000;
    const pid = srv.child.pid;
    const rss0 = procStatus(pid, 'VmRSS');
    const boundary = `----relay${k.id()}`;
    const headPart = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="FileData"; filename="huge.bin"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n');
    const tailPart = Buffer.from(`\r\n--${boundary}\r\nContent-Disposition: form-data; name="FileDataRequest"\r\n\r\n` +
      `${JSON.stringify(fdr)}\r\n--${boundary}--\r\n`);
    const block = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < block.length; i++) block[i] = (i * 131 + 17) & 0xff;
    const hash = createHash('sha256');
    let peak = rss0;
    let samples = 0;
    const sampler = setInterval(() => { try { peak = Math.max(peak, procStatus(pid, 'VmRSS')); samples++; } catch { /* gone */ } }, 20);
    const res = await new Promise((resolve, reject) => {
      const req = http.request(`${srv.url}/api/run/1/service/file/content`, { method: 'POST', headers: {
        ManyWhoTenant: tenant, 'Content-Type': `multipart/form-data; boundary=${boundary}`,
        'Content-Length': headPart.length + size + tailPart.length } }, (r) => {
        const chunks = [];
        r.on('data', (d) => chunks.push(d));
        r.on('end', () => resolve({ status: r.statusCode, text: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      (async () => {
        req.write(headPart);
        for (let sent = 0; sent < size;) {
          const n = Math.min(block.length, size - sent);
          const chunk = n === block.length ? block : block.subarray(0, n);
          hash.update(chunk);
          if (!req.write(chunk)) await new Promise((r) => req.once('drain', r));
          sent += n;
        }
        req.end(tailPart);
      })().catch(reject);
    });
    clearInterval(sampler);
    assert.equal(res.status, 200, res.text);
    const obj = JSON.parse(res.text).objectData[0];
    assert.equal(propOf(obj, 'Name'), 'huge.bin');
    const grew = peak - rss0;
    t.diagnostic(`VmRSS ${(rss0 / 1048576).toFixed(1)} MiB before, peak ${(peak / 1048576).toFixed(1)} MiB during the upload (${samples} samples)`);
    assert.ok(grew < 40 * 1024 * 1024, `RSS grew by ${(grew / 1048576).toFixed(1)} MiB during a ${size / 1e6} MB upload ` +
      `(from ${(rss0 / 1048576).toFixed(1)} MiB)`);
    await tmpEmpty();
    // and the Atom has the same bytes
    const dl = await fetch(propOf(obj, 'Download Uri'));
    assert.equal(dl.status, 200);
    const got = createHash('sha256');
    for await (const chunk of dl.body) got.update(chunk);
    assert.equal(got.digest('hex'), hash.digest('hex'));
  });
});
