// Flow packages end to end: a flow exported from tenant A (API and CLI; no passwords), imported
// into tenant B with fresh ids and run there; imported into a tenant that already has a service
// of the same name (made through the draw API, pointing at a second Atom with its own
// credentials), so the flow calls that tenant's service; re-pointed with uriMapping (API) and
// --service-uri (CLI) at a stand-in service; refused with pointers when broken.
import { spawnSync } from 'node:child_process';
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, hook, it, poll, run, startServer, tempDir } from './helpers.mjs';
import * as k from './flowkit.mjs';

const UPLOAD = path.join(REPO_ROOT, 'examples', 'upload');

const { builder } = k;

function assertProblem(res, status, { where } = {}) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${res.text}`);
  assert.equal(res.json?.statusCode, status, res.text);
  assert.equal(res.json.kind, 'api');
  assert.ok('where' in res.json, `problem has no "where": ${res.text}`);
  if (where !== undefined) assert.equal(res.json.where, where, res.text);
  return res.json;
}

// A stand-in Flow service: records each request and answers a message action with FORWARD and
// a Message output.
async function standIn(message) {
  const received = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      let json = null;
      try { json = JSON.parse(body); } catch { /* not JSON */ }
      received.push({ method: req.method, url: req.url, headers: req.headers, json });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: json?.token ?? null, invokeType: 'FORWARD', culture: null,
        outputs: [{ developerName: 'Message', contentType: 'ContentString', contentValue: message, objectData: null }] }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, received,
    close: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }) };
}

// Every id an element array of a snapshot defines (elements and their nested objects).
function definedIds(snap) {
  const ids = new Set();
  const walk = (v, inRef) => {
    if (Array.isArray(v)) { v.forEach((x) => walk(x, inRef)); return; }
    if (!v || typeof v !== 'object') return;
    if (!inRef && typeof v.id === 'string') ids.add(v.id.toLowerCase());
    for (const [key, x] of Object.entries(v)) walk(x, inRef || key.endsWith('Id'));
  };
  for (const m of ['mapElements', 'pageElements', 'valueElements', 'typeElements', 'serviceElements',
    'navigationElements', 'groupElements', 'macroElements', 'tagElements']) walk(snap[m] ?? [], false);
  return ids;
}

// Runs the Greet flow in a tenant: asks a name, greets, shows "{![Greeting]}|{![Card].[Text]}".
async function runGreet(srv, tenant, flowId, who = 'Ada') {
  const c = new k.RunClient(srv.url, tenant);
  const r = await c.start(flowId);
  assert.equal(r.invokeType, 'FORWARD', JSON.stringify(r));
  const comp = k.pageComps(r).find((x) => x.developerName === 'Name');
  const done = await c.move(r, { outcome: k.outcomeId(r, 'next'),
    inputs: [{ pageComponentId: comp.id, contentValue: who, objectData: null }] });
  return done;
}

describe('flow packages', () => {
  let srv; // Atom + Flow engine: tenant A's service lives on this Atom
  let atom2; // a second Atom: tenant B's own service with its own user
  let a;
  let b;
  let simple; // {snap, flow}
  let greet; // {snap, flow, svc, type, ...}
  before(hook(async () => {
    srv = await startServer({ deploy: UPLOAD });
    atom2 = await startServer({ deploy: UPLOAD });
    a = await builder(srv, 'A');
    b = await builder(srv, 'B');

    // flow 1: START → page (Name) → step; an unused service with a password and a password value
    const name = k.value('Name');
    const secret = k.value('Secret', 'ContentPassword', { defaultContentValue: 's3cret!' });
    const unusedSvc = k.service('Vault', 'http://127.0.0.1:9/vault', { username: 'u', password: 'vault-password' });
    const p = k.page('Ask', [{ developerName: 'Name', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(name) }]);
    const start = k.element('START', 'Start');
    const ask = k.element('input', 'Ask', { pageElementId: p.id });
    const show = k.element('step', 'Show', { userContent: 'Hi {![Name]}' });
    k.chain(start, ask, show);
    const snap1 = k.snapshot('Simple', { start, elements: [start, ask, show], values: [name, secret],
      services: [unusedSvc], pages: [p] });
    simple = { snap: snap1, ...(await k.importFlow(srv.data, snap1, 'A')) };

    // flow 2: START → page (Name) → MESSAGE Greet on service "Upload" (A's Atom) → step; the
    // service owns a type "Card" whose property "Text" an operation writes
    const gName = k.value('Name');
    const greeting = k.value('Greeting');
    const card = k.type('Card', [['Text', 'ContentString'], ['Extra', 'ContentString']]);
    const svc = k.service('Upload', `${srv.url}/fs/upload`, { username: srv.user, password: srv.token });
    card.serviceElementId = svc.id;
    const cardValue = k.value('Card', 'ContentObject', { typeElementId: card.id });
    const gp = k.page('Ask', [{ developerName: 'Name', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(gName) }]);
    const gStart = k.element('START', 'Start');
    const gAsk = k.element('input', 'Ask', { pageElementId: gp.id });
    const gMsg = k.element('MESSAGE', 'Greet', {
      operations: [k.op(k.ref(cardValue, card, 'Text'), k.ref(gName))],
      messageActions: [k.messageAction(svc, 'Greet', { inputs: [['Name', k.ref(gName)]],
        outputs: [['Message', k.ref(greeting)]] })] });
    const gShow = k.element('step', 'Show', { userContent: '{![Greeting]}|{![Card].[Text]}' });
    k.chain(gStart, gAsk, gMsg, gShow);
    const snap2 = k.snapshot('Greet', { start: gStart, elements: [gStart, gAsk, gMsg, gShow],
      values: [gName, greeting, cardValue], types: [card], services: [svc], pages: [gp] });
    greet = { snap: snap2, svc, card, ...(await k.importFlow(srv.data, snap2, 'A')) };
    // it runs in A against A's Atom
    const done = await runGreet(srv, a.tenant, greet.flow);
    assert.equal(k.rootFaults(done), null, JSON.stringify(k.rootFaults(done)));
    assert.equal(k.stepContent(done), 'Hello, Ada!|Ada');
  }));
  after(hook(async () => {
    await srv?.stop();
    await atom2?.stop();
  }));

  it('exports a package (API and CLI): the snapshot plus "package", without passwords', async () => {
    const pkg = await a.get(`/api/package/1/flow/${simple.flow}`);
    assert.equal(pkg.package.format, 'sluice-flow-package/1');
    assert.equal(pkg.package.sourceTenant, a.tenant);
    assert.match(pkg.package.sourceVersion, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(pkg.package.exportedAt)));
    assert.equal(pkg.id.id, simple.flow);
    assert.equal(pkg.serviceElements[0].httpAuthenticationPassword, null);
    assert.equal(pkg.serviceElements[0].httpAuthenticationUsername, 'u');
    assert.equal(pkg.valueElements.find((v) => v.developerName === 'Secret').defaultContentValue, null);
    assert.ok(!JSON.stringify(pkg).includes('vault-password'));
    assert.ok(!JSON.stringify(pkg).includes('s3cret!'));
    // the stored version keeps them, but the draw API never gives a service password back
    const stored = await a.get(`/api/draw/1/flow/snap/${simple.flow}/${pkg.package.sourceVersion}`);
    assert.equal(stored.serviceElements[0].httpAuthenticationPassword, null);
    const db = spawnSync('sqlite3', [path.join(srv.data, 'flow.db'),
      `SELECT COUNT(*) FROM flow_versions WHERE snapshot LIKE '%vault-password%'`], { encoding: 'utf8' });
    assert.ok(Number(db.stdout.trim()) >= 1, 'the stored version keeps the password');
    // by version, and 404 for an unknown one
    const byVersion = await a.get(`/api/package/1/flow/${simple.flow}/${pkg.package.sourceVersion}`);
    assert.equal(byVersion.package.sourceVersion, pkg.package.sourceVersion);
    assertProblem(await a.call('GET', `/api/package/1/flow/${simple.flow}/${k.id()}`), 404);
    assertProblem(await b.call('GET', `/api/package/1/flow/${simple.flow}`), 404, { where: 'flow' });

    const cli = await run(['flow', 'export', simple.flow, '--tenant', 'A', '--data', srv.data]);
    assert.equal(cli.code, 0, cli.stderr);
    const fromCli = JSON.parse(cli.stdout);
    delete fromCli.package.exportedAt;
    delete pkg.package.exportedAt;
    assert.deepEqual(fromCli, pkg);
    const byName = await run(['flow', 'export', 'Simple', '--tenant', 'A', '--data', srv.data]);
    assert.equal(byName.code, 0, byName.stderr);
    assert.equal(JSON.parse(byName.stdout).id.id, simple.flow);
    const missing = await run(['flow', 'export', k.id(), '--tenant', 'A', '--data', srv.data]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
  });

  it('imports into another tenant with fresh ids (the default there) and runs it', async () => {
    const pkg = await a.get(`/api/package/1/flow/${simple.flow}`);
    const res = await b.post('/api/package/1/flow', pkg);
    assert.equal(res.remappedIds, true);
    assert.notEqual(res.flowId, simple.flow);
    assert.match(res.versionId, /^[0-9a-f-]{36}$/);
    assert.deepEqual(res.bound, []);
    assert.deepEqual(Object.keys(res.elements).sort(), ['map', 'page', 'service', 'value']);
    assert.deepEqual(res.elements.map.map((e) => e.developerName).sort(), ['Ask', 'Show', 'Start']);
    // no id of the package is left in what B stored
    const stored = await b.get(`/api/draw/1/flow/snap/${res.flowId}/${res.versionId}`);
    const text = JSON.stringify(stored).toLowerCase();
    const old = definedIds(pkg);
    assert.ok(old.size > 10);
    for (const id of [...old, simple.flow.toLowerCase()]) assert.ok(!text.includes(id), `id ${id} was not remapped`);
    assert.equal(stored.package, undefined);
    // references still line up: it runs in B
    const c = new k.RunClient(srv.url, b.tenant);
    const r = await c.start(res.flowId);
    assert.equal(r.invokeType, 'FORWARD');
    const done = await c.move(r, { outcome: k.outcomeId(r, 'next'),
      inputs: [{ pageComponentId: k.pageComps(r)[0].id, contentValue: 'Bea', objectData: null }] });
    assert.equal(done.invokeType, 'DONE');
    assert.equal(k.stepContent(done), 'Hi Bea');
    // and it is editable in B
    const header = await b.get(`/api/draw/1/flow/${res.flowId}`);
    assert.equal(header.developerName, 'Simple');
    assert.equal((await b.get(`/api/draw/1/flow/${res.flowId}/element/map`)).length, 3);

    // back into the source tenant the ids are kept by default (a new version of the same flow)
    const back = await a.post('/api/package/1/flow', pkg);
    assert.equal(back.remappedIds, false);
    assert.equal(back.flowId, simple.flow);
    // remapIds can be forced either way (query or body options); the product's JSON-string body works
    const copy = await a.post('/api/package/1/flow?remapIds=true', JSON.stringify(JSON.stringify(pkg)));
    assert.equal(copy.remappedIds, true);
    assert.notEqual(copy.flowId, simple.flow);
    const kept = await b.post('/api/package/1/flow', { ...pkg, options: { remapIds: false } });
    assert.equal(kept.flowId, simple.flow);
  });

  it('binds to a service the tenant already has (same developerName): its uri, credentials and types are used', async () => {
    // B's own "Upload" service on the second Atom, with a configuration value, and its "Card" type
    const region = await b.post('/api/draw/1/element/value', { developerName: 'Region', contentType: 'ContentString',
      defaultContentValue: 'eu-west' });
    const bSvc = await b.post('/api/draw/1/element/service', { developerName: 'Upload', uri: `${atom2.url}/fs/upload`,
      format: 'json', httpAuthenticationUsername: atom2.user, httpAuthenticationPassword: atom2.token,
      configurationValues: [{ developerName: 'Region', contentType: 'ContentString',
        valueElementToReferenceId: { id: region.id, typeElementPropertyId: null, command: null } }], actions: [] });
    const bType = await b.post('/api/draw/1/element/type', { developerName: 'Card', serviceElementId: bSvc.id,
      properties: [{ developerName: 'Text', contentType: 'ContentString' }], bindings: [] });

    const pkg = await a.get(`/api/package/1/flow/${greet.flow}`);
    const res = await b.post('/api/package/1/flow', pkg);
    assert.equal(res.remappedIds, true);
    assert.deepEqual(res.bound.map((x) => [x.kind, x.developerName, x.packageId, x.id]), [
      ['service', 'Upload', greet.svc.id, bSvc.id],
      ['type', 'Card', greet.card.id, bType.id]]);
    assert.deepEqual(res.bound[1].unmatchedProperties, ['Extra']);
    const stored = await b.get(`/api/draw/1/flow/snap/${res.flowId}/${res.versionId}`);
    assert.deepEqual(stored.serviceElements, [bSvc], 'B\'s service element, credentials included');
    assert.deepEqual(stored.typeElements, [bType]);
    assert.ok(stored.valueElements.some((v) => v.id === region.id), 'what the bound service references comes along');
    const msg = stored.mapElements.find((e) => e.developerName === 'Greet');
    assert.equal(msg.messageActions[0].serviceElementId, bSvc.id);
    assert.equal(msg.operations[0].valueElementToApplyId.typeElementPropertyId, bType.properties[0].id);
    assert.equal(stored.valueElements.find((v) => v.developerName === 'Card').typeElementId, bType.id);
    // B's service element was not overwritten by the package's (password-less) one
    assert.deepEqual(await b.get(`/api/draw/1/element/service/${bSvc.id}`), bSvc);

    const greetCalls = (s) => s.logs().filter((l) => l.msg === 'request' && l.path === '/fs/upload/actions/Greet').length;
    const before1 = greetCalls(srv);
    const before2 = greetCalls(atom2);
    const done = await runGreet(srv, b.tenant, res.flowId, 'Bo');
    assert.equal(k.rootFaults(done), null, JSON.stringify(k.rootFaults(done)));
    assert.equal(k.stepContent(done), 'Hello, Bo!|Bo');
    await poll(() => greetCalls(atom2) === before2 + 1, { what: 'B\'s service (the second Atom) to be called' });
    assert.equal(greetCalls(srv), before1, 'A\'s service was not');

    // a plain snapshot carries its services whole unless --bind is given (tenant B2, which has
    // its own "Upload" on the second Atom; the bound import first, while that is the only one)
    const b2 = await builder(srv, 'B2');
    const b2Svc = await b2.post('/api/draw/1/element/service', { ...bSvc, id: undefined, configurationValues: [],
      httpAuthenticationPassword: atom2.token }); // answers never carry the password
    const dir = await tempDir('sluice-pkg-');
    const plain = path.join(dir, 'greet.json');
    await writeFile(plain, JSON.stringify(greet.snap));
    const bound = await run(['flow', 'import', plain, '--tenant', 'B2', '--data', srv.data, '--remap-ids', '--bind']);
    assert.equal(bound.code, 0, bound.stderr);
    assert.match(bound.stderr, new RegExp(`note: service "Upload" bound to the tenant's service ${b2Svc.id}`));
    const boundDone = await runGreet(srv, b2.tenant, bound.stdout.trim().split(' ')[1], 'Al');
    assert.equal(k.stepContent(boundDone), 'Hello, Al!|Al');
    await poll(() => greetCalls(atom2) === before2 + 2, { what: 'the second Atom\'s Greet call (bound)' });
    assert.equal(greetCalls(srv), before1);
    const asIs = await run(['flow', 'import', plain, '--tenant', 'B2', '--data', srv.data, '--remap-ids']);
    assert.equal(asIs.code, 0, asIs.stderr);
    const asIsDone = await runGreet(srv, b2.tenant, asIs.stdout.trim().split(' ')[1], 'Al');
    assert.equal(k.stepContent(asIsDone), 'Hello, Al!|Al');
    await poll(() => greetCalls(srv) === before1 + 1, { what: 'A\'s Atom\'s Greet call (the snapshot\'s own service)' });
    // B2 now has two services called Upload: binding says which one it took and which it did not
    const pkgAgain = await b2.post('/api/package/1/flow', pkg);
    const candidates = [pkgAgain.bound[0].id, ...pkgAgain.bound[0].alternatives];
    assert.equal(candidates.length, 2);
    assert.ok(candidates.includes(b2Svc.id));
    assert.equal(pkgAgain.bound[0].id, [...candidates].sort()[0], 'the first in (developerName, id) order');
    // binding can be turned off for a package
    const unbound = await b2.post('/api/package/1/flow?bind=false', pkg);
    assert.deepEqual(unbound.bound, []);
    const unboundSnap = await b2.get(`/api/draw/1/flow/snap/${unbound.flowId}/${unbound.versionId}`);
    assert.equal(unboundSnap.serviceElements[0].uri, `${srv.url}/fs/upload`);
    assert.equal(unboundSnap.serviceElements[0].httpAuthenticationPassword, null);
  });

  it('uriMapping (API) and --service-uri (CLI) re-point the package\'s services', async () => {
    const svcC = await standIn('from C');
    const svcD = await standIn('from D');
    try {
      const c = await builder(srv, 'C');
      const pkg = await a.get(`/api/package/1/flow/${greet.flow}`);
      const res = await c.post('/api/package/1/flow?remapIds=false',
        { ...pkg, options: { uriMapping: { [`${srv.url}/fs/`]: `${svcC.url}/svc/` } } });
      assert.equal(res.flowId, greet.flow);
      assert.deepEqual(res.bound, []);
      assert.deepEqual(res.uriMapped.map((m) => [m.developerName, m.from, m.to]),
        [['Upload', `${srv.url}/fs/upload`, `${svcC.url}/svc/upload`]]);
      const done = await runGreet(srv, c.tenant, res.flowId, 'Cy');
      assert.equal(k.rootFaults(done), null, JSON.stringify(k.rootFaults(done)));
      assert.equal(k.stepContent(done), 'from C|Cy');
      assert.equal(svcC.received.length, 1);
      assert.equal(svcC.received[0].url, '/svc/upload/actions/Greet');
      assert.equal(svcC.received[0].json.inputs[0].contentValue, 'Cy');
      // the package carried no password: only the user name is sent
      assert.equal(svcC.received[0].headers.authorization,
        'Basic ' + Buffer.from(`${srv.user}:`).toString('base64'));

      // the CLI: a package file, another tenant, fresh ids by default
      const dir = await tempDir('sluice-pkg-');
      const file = path.join(dir, 'greet.package.json');
      await writeFile(file, JSON.stringify(pkg));
      const r = await run(['flow', 'import', file, '--tenant', 'D', '--data', srv.data,
        '--service-uri', `${srv.url}/fs/upload=${svcD.url}/d`]);
      assert.equal(r.code, 0, r.stderr);
      const [tenantD, flowD, ...rest] = r.stdout.trim().split(' ');
      assert.deepEqual(rest, []);
      assert.notEqual(flowD, greet.flow);
      const doneD = await runGreet(srv, tenantD, flowD, 'Di');
      assert.equal(k.stepContent(doneD), 'from D|Di');
      assert.equal(svcD.received[0].url, '/d/actions/Greet');
      // --keep-ids keeps them; --remap-ids on a plain snapshot gives fresh ones
      const keep = await run(['flow', 'import', file, '--tenant', 'E', '--data', srv.data, '--keep-ids']);
      assert.equal(keep.code, 0, keep.stderr);
      assert.equal(keep.stdout.trim().split(' ')[1], greet.flow);
      const plain = path.join(dir, 'plain.json');
      await writeFile(plain, JSON.stringify(greet.snap));
      const remapped = await run(['flow', 'import', plain, '--tenant', 'E', '--data', srv.data, '--remap-ids']);
      assert.equal(remapped.code, 0, remapped.stderr);
      assert.notEqual(remapped.stdout.trim().split(' ')[1], greet.flow);
      const badArg = await run(['flow', 'import', file, '--service-uri', 'nonsense', '--data', srv.data]);
      assert.equal(badArg.code, 2);
    } finally {
      await svcC.close();
      await svcD.close();
    }
  });

  it('refuses broken packages with pointers (422), bad options (400), and dangling links when strict', async () => {
    const pkg = await a.get(`/api/package/1/flow/${simple.flow}`);
    const broken = structuredClone(pkg);
    delete broken.mapElements[1].elementType;
    const r = await b.call('POST', '/api/package/1/flow', broken);
    const p = assertProblem(r, 422, { where: '/mapElements/1/elementType' });
    assert.ok(p.problems.length >= 1);
    assertProblem(await b.call('POST', '/api/package/1/flow', { ...pkg, options: { remapIds: 'yes' } }), 400,
      { where: '/options/remapIds' });
    assertProblem(await b.call('POST', '/api/package/1/flow?uriMapping=nope', pkg), 400, { where: 'uriMapping' });
    assertProblem(await b.call('POST', '/api/package/1/flow', [pkg]), 400);
    assertProblem(await b.call('POST', '/api/package/1/flow', { developerName: 'no id' }), 422, { where: '/id' });
    const dangling = structuredClone(pkg);
    dangling.mapElements[0].outcomes[0].nextMapElementId = k.id();
    const strict = await b.call('POST', '/api/package/1/flow?strict=true', dangling);
    assertProblem(strict, 422, { where: '/mapElements/0/outcomes/0/nextMapElementId' });
    const lenient = await b.post('/api/package/1/flow', dangling);
    assert.ok(lenient.warnings.some((w) => w.pointer === '/mapElements/0/outcomes/0/nextMapElementId'),
      JSON.stringify(lenient.warnings));
  });
});
