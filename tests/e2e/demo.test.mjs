// `sluice demo`: deploys examples/upload, creates the user "demo", prints how to reach it, serves.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as k from './flowkit.mjs';
import {
  assertProblem, basicAuth, ev, hook, it, mobject, output, poll, prop, propOf, serviceRequest, startServer,
} from './helpers.mjs';

describe('sluice demo', () => {
  let srv;
  let user;
  let token;
  before(hook(async () => {
    srv = await startServer({ command: 'demo', user: null });
    await poll(() => /^token: /m.test(srv.stdoutText), { what: 'the demo banner on stdout' });
    user = /^user: (.*)$/m.exec(srv.stdoutText)?.[1];
    token = /^token: (.*)$/m.exec(srv.stdoutText)?.[1];
  }));
  after(async () => {
    await srv?.stop();
  });

  const call = (action, inputs) => srv.action(action, serviceRequest({ inputs }), { service: 'upload', auth: basicAuth(user, token) });

  it('prints "user: " and "token: " lines on stdout', () => {
    assert.equal(user, 'demo');
    assert.match(token, /^\S{20,}$/);
    srv.user = user;
    srv.token = token;
  });

  it('the printed addresses point at the port it actually listens on', () => {
    const urls = srv.stdoutText.match(/http:\/\/[^\s/']+/g) ?? [];
    assert.ok(urls.length > 0, srv.stdoutText);
    for (const u of urls) assert.equal(u, srv.url, `printed ${u}, but the server listens on ${srv.url}:\n${srv.stdoutText}`);
  });

  it('the printed token is accepted as soon as the server answers /healthz', async () => {
    // The demo creates the user itself, before it listens: nothing should make the first call fail.
    const d = await srv.post('/fs/upload/metadata', {}, { auth: basicAuth(user, token) });
    assert.equal(d.status, 200, d.text);
  });

  it('serves /fs/upload with the example actions', async () => {
    const d = await poll(async () => {
      const x = await srv.post('/fs/upload/metadata', {}, { auth: basicAuth(user, token) });
      return x.status === 200 ? x : null;
    }, { timeoutMs: 1500, what: 'the demo credentials to be accepted' });
    assert.deepEqual(d.json.actions.map((a) => [a.developerName, a.uriPart]).sort(), [['Check Credit', 'actions/Check%20Credit'],
      ['Greet', 'actions/Greet'], ['Quote Order', 'actions/Quote%20Order']]);
  });

  it('Greet: Ada in French → "Bonjour, Ada !"', async () => {
    const r = await call('Greet', [ev.string('Name', 'Ada'), ev.string('Language', 'fr')]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.invokeType, 'FORWARD');
    assert.equal(output(r, 'Message').contentValue, 'Bonjour, Ada !');
    assert.match(output(r, 'Execution').contentValue, /^[0-9a-f-]{36}$/);
  });

  it('Greet in German, English by default, and a stranger for a blank name', async () => {
    assert.equal(output(await call('Greet', [ev.string('Name', 'Ada'), ev.string('Language', 'DE')]), 'Message').contentValue, 'Hallo, Ada!');
    assert.equal(output(await call('Greet', [ev.string('Name', 'Ada')]), 'Message').contentValue, 'Hello, Ada!');
    assert.equal(output(await call('Greet', [ev.string('Name', '   '), ev.string('Language', 'en')]), 'Message').contentValue, 'Hello, stranger!');
  });

  it('Quote Order with two lines: line totals, formatted displays and the summary', async () => {
    const line = (sku, qty, price, i) => mobject('Quote Order REQUEST - Lines', [
      prop.string('Sku', sku), prop.number('Quantity', qty), prop.number('Unit Price', price),
    ], i);
    const r = await call('Quote Order', [
      ev.string('Customer', 'Ada'),
      ev.datetime('Placed', '2024-03-05T23:30:00-02:00'),
      ev.boolean('Express', 'true'),
      ev.object('Address', 'Quote Order REQUEST - Address', mobject('Quote Order REQUEST - Address', [
        prop.string('Street', '1 Analytical Way'), prop.string('City', 'London'), prop.string('Country', 'gb'),
      ])),
      ev.list('Lines', 'Quote Order REQUEST - Lines', [line('A-1', '2', '1234.5', 0), line('B-2', '3', '0.25', 1)]),
    ]);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.invokeType, 'FORWARD');
    assert.equal(output(r, 'Customer').contentValue, 'Ada');
    assert.equal(output(r, 'Summary').contentValue, '2 line(s) for Ada');
    assert.equal(output(r, 'Line Count').contentValue, '2');
    assert.equal(output(r, 'Shipping').contentValue, 'express to GB');
    assert.equal(output(r, 'Placed On').contentValue, '06/03/2024'); // 23:30 at -02:00 is the next day in UTC
    const shipTo = output(r, 'Ship To');
    assert.equal(shipTo.typeElementDeveloperName, 'Quote Order RESPONSE - Ship To');
    assert.equal(propOf(shipTo.objectData[0], 'City').contentValue, 'London');
    assert.equal(propOf(shipTo.objectData[0], 'Country').contentValue, 'gb');
    const lines = output(r, 'Lines');
    assert.equal(lines.contentType, 'ContentList');
    assert.equal(lines.typeElementDeveloperName, 'Quote Order RESPONSE - Lines');
    assert.deepEqual(lines.objectData.map((m) => ['Sku', 'Line Total', 'Display'].map((n) => propOf(m, n).contentValue)), [
      ['A-1', '2469', '2,469.00'],
      ['B-2', '0.75', '0.75'],
    ]);
  });

  it('Quote Order without lines fails: 500 problem "needs at least one line"', async () => {
    const r = await call('Quote Order', [ev.string('Customer', 'Bob'), ev.list('Lines', 'Quote Order REQUEST - Lines', [])]);
    const p = assertProblem(r, 500, { kind: 'service', message: 'needs at least one line' });
    assert.ok(p.message.includes('an order for Bob needs at least one line'), p.message);
    const anon = await call('Quote Order', []);
    assertProblem(anon, 500, { kind: 'service', message: 'an order for an unnamed customer needs at least one line' });
  });

  const dataReq = (type, listFilter, objectData = null) => ({ objectDataType: { developerName: type, properties: [] },
    listFilter: { limit: 0, offset: 0, ...listFilter }, objectData });

  it('serves the customers table through the table data action and the process-backed one', async () => {
    const auth = basicAuth(user, token);
    let r = await srv.post('/fs/upload/data', dataReq('customers', { where: [{ columnName: 'city', criteriaType: 'EQUAL', contentValue: 'Dublin' }], comparisonType: 'AND', orderByPropertyDeveloperName: 'id', orderByDirectionType: 'ASC' }), { auth });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.objectData.map((o) => propOf(o, 'name').contentValue), ['Brendan Byrne', 'Erin Egan']);
    r = await srv.post('/fs/upload/data', dataReq('Customer', { search: 'oslo', limit: 5 }), { auth });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.objectData.map((o) => o.externalId), ['7']);
    // save a new customer through the Save process, then load it by id through Get
    const obj = mobject('Customer', [prop.string('Name', 'Zoe Zed'), prop.string('City', 'Zagreb')]);
    r = await srv.request('PUT', '/fs/upload/data', { body: dataReq('Customer', {}, [obj]), auth });
    assert.equal(r.status, 200, r.text);
    const id = r.json.objectData[0].externalId;
    assert.equal(id, '16');
    r = await srv.post('/fs/upload/data', dataReq('Customer', { id }), { auth });
    assert.equal(propOf(r.json.objectData[0], 'Segment').contentValue, 'Standard');
  });

  it('stores an upload on disk and lists it', async () => {
    const fd = new FormData();
    fd.append('FileDataRequest', new Blob([JSON.stringify({ resourcePath: 'upload' })], { type: 'application/json' }));
    fd.append('FileData', new Blob(['hello, demo'], { type: 'text/plain' }), 'hello.txt');
    const up = await fetch(`${srv.url}/fs/upload/file/content`, { method: 'POST', headers: { authorization: basicAuth(user, token) }, body: fd });
    assert.equal(up.status, 200, await up.clone().text());
    const l = await srv.post('/fs/upload/file', { resourcePath: 'upload', listFilter: { search: 'hello' } }, { auth: basicAuth(user, token) });
    assert.equal(l.status, 200, l.text);
    assert.equal(l.json.objectData.length, 1);
  });

  it('installs its Flow Service into the demo tenant by URL and imports the demo flow, which runs end to end', async () => {
    const tenant = /^tenant: (\S+)$/m.exec(srv.stdoutText)?.[1];
    const flow = /^flow: (\S+) \(Customer desk\)$/m.exec(srv.stdoutText)?.[1];
    const key = /^key: (\S+)$/m.exec(srv.stdoutText)?.[1];
    assert.ok(tenant && flow && key, srv.stdoutText);
    // the installed service points at this Atom, with the demo user's credentials
    const svc = await fetch(`${srv.url}/api/draw/1/element/service`, { headers: { ManyWhoTenant: tenant, 'x-boomi-flow-api-key': key } })
      .then((r) => r.json());
    assert.equal(svc.length, 1);
    assert.equal(svc[0].uri, `${srv.url}/fs/upload`);
    assert.equal(svc[0].httpAuthenticationUsername, 'demo');
    const c = new k.RunClient(srv.url, tenant);
    let r = await c.start(flow);
    assert.equal(k.mer(r).developerName, 'Welcome');
    const nameComp = r.mapElementInvokeResponses[0].pageResponse.pageComponentResponses.find((x) => x.developerName === 'Your name');
    let x = await c.invoke(r, { outcome: k.outcomeId(r, 'Start'), inputs: [{ pageComponentId: nameComp.id, contentValue: 'Grace' }] });
    assert.equal(x.status, 200, x.text);
    r = x.json;
    assert.equal(k.mer(r).developerName, 'Files');
    const hello = r.mapElementInvokeResponses[0].pageResponse.pageComponentDataResponses.find((d) => /Hello/.test(d.content ?? ''));
    assert.equal(hello.content, '<p>Hello, Grace!</p>', 'the message step called Greet on the Atom');
    const uploads = r.mapElementInvokeResponses[0].pageResponse.pageComponentDataResponses.filter((d) => d.fileDataRequest);
    assert.equal(uploads.length, 2);
    assert.equal(uploads[0].fileDataRequest.serviceElementId, svc[0].id, 'bound to the installed service');
    x = await c.invoke(r, { outcome: k.outcomeId(r, 'Customers') });
    r = x.json;
    assert.equal(k.mer(r).developerName, 'Customers');
    const table = r.mapElementInvokeResponses[0].pageResponse.pageComponentDataResponses.find((d) => d.objectDataRequest);
    assert.equal(table.objectDataRequest.objectDataType.developerName, 'customers');
    // a row as the service gives it, chosen with the row outcome "Edit"
    const rows = await srv.post('/fs/upload/data', { ...table.objectDataRequest, listFilter: { limit: 3, orderByPropertyDeveloperName: 'id', orderByDirectionType: 'ASC' } }, { auth: basicAuth(user, token) });
    const row = rows.json.objectData[1];
    const tableId = r.mapElementInvokeResponses[0].pageResponse.pageComponentResponses.find((p) => p.componentType === 'TABLE').id;
    x = await c.invoke(r, { outcome: k.outcomeId(r, 'Edit'), inputs: [{ pageComponentId: tableId, contentValue: null, objectData: [{ ...row, isSelected: true }] }] });
    r = x.json;
    assert.equal(k.mer(r).developerName, 'Edit customer');
    const comps = r.mapElementInvokeResponses[0].pageResponse.pageComponentResponses;
    const data = r.mapElementInvokeResponses[0].pageResponse.pageComponentDataResponses;
    const cid = (n) => comps.find((p) => p.developerName === n).id;
    assert.equal(data.find((d) => d.pageComponentId === cid('Name')).contentValue, propOf(row, 'name').contentValue);
    // a bad email is refused by the page's validation, nothing changes
    x = await c.invoke(r, { outcome: k.outcomeId(r, 'Save'), inputs: [{ pageComponentId: cid('Email'), contentValue: 'not an email' }] });
    assert.equal(x.json.stateToken, r.stateToken);
    assert.equal(x.json.mapElementInvokeResponses[0].pageResponse.pageComponentDataResponses.find((d) => d.pageComponentId === cid('Email')).validationMessage,
      'Enter an email address like name@example.org.');
    x = await c.invoke(r, { outcome: k.outcomeId(r, 'Save'), inputs: [{ pageComponentId: cid('City'), contentValue: 'Galway' }] });
    r = x.json;
    assert.equal(k.mer(r).developerName, 'Customers', JSON.stringify(r.mapElementInvokeResponses[0].rootFaults));
    const after = await srv.post('/fs/upload/data', { objectDataType: { developerName: 'customers' }, listFilter: { id: row.externalId } }, { auth: basicAuth(user, token) });
    assert.equal(propOf(after.json.objectData[0], 'city').contentValue, 'Galway', 'saved through the data action');
    x = await c.invoke(r, { outcome: k.outcomeId(r, 'Finish') });
    assert.equal(x.json.invokeType, 'DONE');
    assert.equal(k.stepContent(x.json), '<p>Thank you, Grace. That is the whole demo.</p>');
  });

  it('lists message actions, data actions and the file resource as listeners of /fs/upload', async () => {
    const r = await srv.get('/api/atom/v1/listeners', { auth: basicAuth(user, token) });
    assert.equal(r.status, 200, r.text);
    const acts = r.json.listeners[0].actions.map((a) => `${a.type}: ${a.name}`);
    assert.deepEqual(acts.sort(), ['Data Action: Customer', 'Data Action: countries', 'Data Action: customers',
      'Data Action: segments', 'File Resource: upload', 'Message Action: Check Credit', 'Message Action: Greet',
      'Message Action: Quote Order']);
    const customer = r.json.listeners[0].actions.find((a) => a.name === 'Customer');
    assert.equal(customer.processes.query, 'Query Customers');
  });

  it('a new row saved through the table data action gets the column defaults for properties left null', async () => {
    const auth = basicAuth(user, token);
    const obj = { developerName: 'customers', externalId: null, internalId: 'n1', properties: [
      { developerName: 'name', contentValue: 'Nell Null' }, { developerName: 'segment', contentValue: null },
      { developerName: 'active', contentValue: null }] };
    const r = await srv.request('PUT', '/fs/upload/data', { body: { objectDataType: { developerName: 'customers' }, objectData: [obj] }, auth });
    assert.equal(r.status, 200, r.text);
    assert.equal(propOf(r.json.objectData[0], 'segment').contentValue, 'Standard');
    assert.equal(propOf(r.json.objectData[0], 'active').contentValue, 'true');
  });
});
