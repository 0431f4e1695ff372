// Installing a Flow Service into a tenant by URL (draw API and CLI), the generated types, and
// refreshing after the Atom's components change.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, it, poll, run, startServer, tempDir } from './helpers.mjs';
import * as k from './flowkit.mjs';

const EXAMPLES = path.join(REPO_ROOT, 'examples', 'upload');

async function seedCustomers(data) {
  const sql = await readFile(path.join(EXAMPLES, 'seed', 'customers.sql'), 'utf8');
  const s = spawnSync('sqlite3', [path.join(data, 'customers.db')], { input: sql });
  assert.equal(s.status, 0, String(s.stderr));
}


describe('service install', () => {
  let srv;
  let b;
  let components;
  before(async () => {
    const data = await tempDir();
    await seedCustomers(data);
    components = path.join(await tempDir('sluice-components-'), 'upload');
    await cp(EXAMPLES, components, { recursive: true });
    srv = await startServer({ deploy: components, data });
    b = await k.builder(srv, 'builders');
  });
  after(async () => srv?.stop());

  const draw = (p, body, key = b.key, tenant = b.tenant) => fetch(`${srv.url}${p}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ManyWhoTenant: tenant, 'x-boomi-flow-api-key': key },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, json: await r.json().catch(() => null) }));

  it('installs by URL: a service element with the actions and types generated from the profiles', async () => {
    const r = await draw('/api/draw/1/element/service/install', {
      uri: `${srv.url}/fs/upload/`, httpAuthenticationUsername: srv.user, httpAuthenticationPassword: srv.token,
      developerName: 'Upload', configurationValues: [],
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const svc = r.json.serviceElement;
    assert.match(svc.id, /^[0-9a-f-]{36}$/);
    assert.equal(svc.uri, `${srv.url}/fs/upload`, 'no trailing slash');
    assert.equal(svc.developerName, 'Upload');
    assert.equal(svc.providesDatabase, true);
    assert.equal(svc.providesFiles, true);
    const names = svc.install.typeElements.map((t) => t.developerName).sort();
    assert.deepEqual(names, ['Customer', 'Quote Order REQUEST - Address', 'Quote Order REQUEST - Lines',
      'Quote Order RESPONSE - Lines', 'Quote Order RESPONSE - Ship To', 'countries', 'customers', 'segments']);
    const address = svc.install.typeElements.find((t) => t.developerName === 'Quote Order REQUEST - Address');
    assert.deepEqual(address.properties.map((p) => [p.developerName, p.contentType]),
      [['Street', 'ContentString'], ['City', 'ContentString'], ['Country', 'ContentString']]);
    assert.equal(address.serviceElementId, svc.id);
    assert.equal(address.bindings.length, 1);
    assert.equal(address.bindings[0].typeElementId, address.id);
    assert.ok(address.bindings[0].propertyBindings.every((pb) => address.properties.some((p) => p.id === pb.typeElementPropertyId)));
    const quote = svc.actions.find((a) => a.developerName === 'Quote Order');
    assert.equal(quote.uriPart, 'actions/Quote%20Order', 'uriPart as the service describes it');
    const addrIn = quote.serviceInputs.find((i) => i.developerName === 'Address');
    assert.equal(addrIn.contentType, 'ContentObject');
    assert.equal(addrIn.typeElementId, address.id, 'object inputs point at the generated type');
    const lines = quote.serviceInputs.find((i) => i.developerName === 'Lines');
    assert.equal(lines.contentType, 'ContentList');
    assert.equal(lines.typeElementId, svc.install.typeElements.find((t) => t.developerName === 'Quote Order REQUEST - Lines').id);
    const customers = svc.install.typeElements.find((t) => t.developerName === 'customers');
    assert.deepEqual(customers.properties.map((p) => p.developerName),
      ['id', 'name', 'email', 'city', 'country', 'segment', 'active']);

    // the stored elements are the same
    const types = await fetch(`${srv.url}/api/draw/1/element/type`, {
      headers: { ManyWhoTenant: b.tenant, 'x-boomi-flow-api-key': b.key },
    }).then((x) => x.json()).catch(() => null);
    if (Array.isArray(types)) assert.equal(types.length >= 6, true);

    // installing again keeps every id
    const again = await draw('/api/draw/1/element/service/install', {
      uri: `${srv.url}/fs/upload`, httpAuthenticationUsername: srv.user, httpAuthenticationPassword: srv.token,
      developerName: 'Upload',
    });
    assert.equal(again.status, 200);
    assert.equal(again.json.serviceElement.id, svc.id);
    const address2 = again.json.serviceElement.install.typeElements.find((t) => t.developerName === address.developerName);
    assert.equal(address2.id, address.id);
    assert.deepEqual(address2.properties.map((p) => p.id), address.properties.map((p) => p.id));
  });

  it('wrong credentials, a wrong path and a service that is down give clear errors naming the service', async () => {
    const bad = await draw('/api/draw/1/element/service/install', {
      uri: `${srv.url}/fs/upload`, httpAuthenticationUsername: srv.user, httpAuthenticationPassword: 'nope',
      developerName: 'Upload',
    });
    assert.equal(bad.status, 422);
    assert.match(bad.json.message, /service "Upload" at http:\/\/127\.0\.0\.1:\d+\/fs\/upload refused the credentials \(HTTP 401\)/);
    const path404 = await draw('/api/draw/1/element/service/install', {
      uri: `${srv.url}/fs/nothing`, httpAuthenticationUsername: srv.user, httpAuthenticationPassword: srv.token,
    });
    assert.equal(path404.status, 422);
    assert.match(path404.json.message, /no Flow Service at .*\/fs\/nothing/);
    const down = await draw('/api/draw/1/element/service/install', {
      uri: 'http://127.0.0.1:9/fs/upload', developerName: 'Gone',
    });
    assert.equal(down.status, 502);
    assert.match(down.json.message, /cannot reach service "Gone" at http:\/\/127\.0\.0\.1:9\/fs\/upload/);
    const literal = await draw('/api/draw/1/element/service/install', {
      uri: `${srv.url}/fs/upload`, httpAuthenticationUsername: srv.user, httpAuthenticationPassword: srv.token,
      configurationValues: [{ developerName: 'Region', contentValue: 'EU' }],
    });
    assert.equal(literal.status, 400);
    assert.match(literal.json.message, /must reference a value element/);
    assert.equal(literal.json.where, '/configurationValues/0');
  });

  it('builder calls need the tenant\'s API key', async () => {
    const none = await draw('/api/draw/1/element/service/install', { uri: `${srv.url}/fs/upload` }, '');
    assert.equal(none.status, 401);
    const other = await k.builder(srv, 'others');
    const wrong = await draw('/api/draw/1/element/service/install', { uri: `${srv.url}/fs/upload` }, other.key);
    assert.equal(wrong.status, 401);
  });

  it('installs through a known Atom (name → base URI) plus the path to service', async () => {
    const atoms = await draw('/api/draw/1/atom', { name: 'local', baseUri: `${srv.url}/` });
    if (atoms.status === 200 || atoms.status === 201) {
      const r = await draw('/api/draw/1/element/service/install', {
        atomName: 'local', pathToService: '/fs/upload', httpAuthenticationUsername: srv.user,
        httpAuthenticationPassword: srv.token, developerName: 'Via Atom',
      });
      assert.equal(r.status, 200, JSON.stringify(r.json));
      assert.equal(r.json.serviceElement.uri, `${srv.url}/fs/upload`);
    } else {
      // the atom list is managed by the draw API; without it the install must say the Atom is unknown
      const r = await draw('/api/draw/1/element/service/install', { atomName: 'local', pathToService: '/fs/upload' });
      assert.equal(r.status, 404);
    }
    const unknown = await draw('/api/draw/1/element/service/install', { atomName: 'nowhere', pathToService: '/fs/upload' });
    assert.equal(unknown.status, 404);
    assert.match(unknown.json.message, /no Atom called "nowhere"/);
  });

  it('refresh after the Atom\'s profiles change: ids stay, the change is reported, flows keep running', async () => {
    const first = await draw('/api/draw/1/element/service/install', {
      uri: `${srv.url}/fs/upload`, httpAuthenticationUsername: srv.user, httpAuthenticationPassword: srv.token,
      developerName: 'Refreshing',
    });
    assert.equal(first.status, 200);
    const svc = first.json.serviceElement;
    const address = svc.install.typeElements.find((t) => t.developerName === 'Quote Order REQUEST - Address');
    // change the profile: drop Street, add Postcode; deploy to the running Atom
    const file = path.join(components, 'profiles', 'order-request.json');
    const prof = JSON.parse(await readFile(file, 'utf8'));
    const addr = prof.root.children.find((c) => c.name === 'Address');
    addr.children = [{ name: 'City', type: 'Character' }, { name: 'Country', type: 'Character' },
      { name: 'Postcode', type: 'Character' }];
    await writeFile(file, JSON.stringify(prof, null, 2));
    const dep = await run(['deploy', components, '--data', srv.data]);
    assert.equal(dep.code, 0, dep.stderr);
    await poll(async () => {
      const m = await fetch(`${srv.url}/fs/upload/metadata`, { method: 'POST', headers: { Authorization: srv.auth, 'Content-Type': 'application/json' }, body: '{}' }).then((x) => x.json());
      return m.install.typeElements.find((t) => t.developerName === address.developerName)
        .properties.some((p) => p.developerName === 'Postcode');
    }, { timeoutMs: 5000, what: 'the new deployment' });
    const r = await draw(`/api/draw/1/element/service/${svc.id}/refresh`, {});
    assert.equal(r.status, 200, JSON.stringify(r.json));
    const changes = r.json.changes;
    assert.deepEqual(changes.propertiesAdded, [{ type: address.developerName, property: 'Postcode' }]);
    assert.deepEqual(changes.propertiesRemoved, [{ type: address.developerName, property: 'Street' }]);
    assert.deepEqual(changes.typesAdded, []);
    assert.deepEqual(changes.typesRemoved, []);
    const now = r.json.serviceElement.install.typeElements.find((t) => t.developerName === address.developerName);
    assert.equal(now.id, address.id);
    const idOf = (t, n) => t.properties.find((p) => p.developerName === n)?.id;
    assert.equal(idOf(now, 'City'), idOf(address, 'City'));
    assert.equal(idOf(now, 'Country'), idOf(address, 'Country'));
    assert.ok(idOf(now, 'Postcode'));
    assert.equal(r.json.serviceElement.httpAuthenticationUsername, srv.user, 'stored credentials are reused');
  });

  it('sluice service install URL installs through the same path and prints the service id', async () => {
    const r = await run(['service', 'install', `${srv.url}/fs/upload`, '--tenant', 'cli', '--user', srv.user,
      '--token', srv.token, '--name', 'Upload', '--data', srv.data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f-]{36}\n$/);
    const bad = await run(['service', 'install', `${srv.url}/fs/upload`, '--tenant', 'cli', '--user', srv.user,
      '--token', 'wrong', '--data', srv.data]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /refused the credentials/);
    assert.equal(bad.stdout, '');
    // and a flow can use what was installed: Greet through the installed service element
    const data = srv.data;
    const list = await run(['tenant', 'add', 'cli', '--data', data]);
    const tenant = list.stdout.trim();
    const svcId = r.stdout.trim();
    // read the stored service (uri and credentials) from the store through a snapshot import
    const name = k.value('Name', 'ContentString', { defaultContentValue: 'Grace' });
    const msg = k.value('Message');
    const start = k.element('START', 'Start');
    const greet = k.element('MESSAGE', 'Greet', { messageActions: [{ developerName: 'Greet', serviceElementId: svcId,
      uriPart: 'actions/Greet', order: 0,
      inputs: [{ developerName: 'Name', contentType: 'ContentString', valueElementToReferenceId: k.ref(name) }],
      outputs: [{ developerName: 'Message', contentType: 'ContentString', valueElementToApplyId: k.ref(msg) }] }] });
    const step = k.element('step', 'Said', { userContent: '{![Message]}' });
    start.outcomes = [k.outcome('go', greet)];
    greet.outcomes = [k.outcome('next', step)];
    const svcEl = k.service('Upload', `${srv.url}/fs/upload`, { username: srv.user, password: srv.token });
    svcEl.id = svcId;
    const snap = k.snapshot('Greets', { start, elements: [start, greet, step], values: [name, msg], services: [svcEl] });
    const { flow } = await k.importFlow(data, snap, 'cli');
    const c = new k.RunClient(srv.url, tenant);
    const res = await c.start(flow);
    assert.equal(k.stepContent(res), 'Hello, Grace!');
  });
});
