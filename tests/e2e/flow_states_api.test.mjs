// The draw API's state routes (the console's running states) and password redaction.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { it, poll, startServer } from './helpers.mjs';
import * as k from './flowkit.mjs';

describe('states for operators', () => {
  let srv;
  let tenant;
  let key;
  before(async () => {
    srv = await startServer({ command: 'demo', user: null });
    await poll(() => /^key: /m.test(srv.stdoutText), { what: 'the demo banner' });
    tenant = /^tenant: (\S+)$/m.exec(srv.stdoutText)[1];
    key = /^key: (\S+)$/m.exec(srv.stdoutText)[1];
  });
  after(async () => srv?.stop());
  const get = (p) => fetch(`${srv.url}${p}`, { headers: { ManyWhoTenant: tenant, 'x-boomi-flow-api-key': key } });

  it('lists states with a total and element names, inspects one, deletes it; bad filters are 400', async () => {
    const flow = /^flow: (\S+)/m.exec(srv.stdoutText)[1];
    const c = new k.RunClient(srv.url, tenant);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await c.start(flow)).stateId);
    const r = await get('/api/draw/1/state?limit=2');
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-total-count'), '3');
    const rows = await r.json();
    assert.equal(rows.length, 2);
    assert.equal(rows[0].currentElementName, 'Welcome');
    assert.equal(rows[0].status, 'IN_PROGRESS');
    const one = await (await get(`/api/draw/1/state/${ids[0]}`)).json();
    assert.equal(one.flowName, 'Customer desk');
    assert.ok('Your Name' in one.values);
    for (const [q, where] of [['limit=0', 'limit'], ['limit=5000', 'limit'], ['limit=x', 'limit'], ['offset=-1', 'offset'],
      ['status=RUNNING', 'status']]) {
      const bad = await get(`/api/draw/1/state?${q}`);
      assert.equal(bad.status, 400, q);
      assert.equal((await bad.json()).where, where);
    }
    const del = await fetch(`${srv.url}/api/draw/1/state/${ids[0]}`, { method: 'DELETE', headers: { ManyWhoTenant: tenant, 'x-boomi-flow-api-key': key } });
    assert.equal(del.status, 204);
    assert.equal((await get(`/api/draw/1/state/${ids[0]}`)).status, 404);
    assert.equal((await get('/api/draw/1/state')).headers.get('x-total-count'), '2');
  });

  it('never gives a service password back, and saving without one keeps it', async () => {
    const list = await (await get('/api/draw/1/element/service')).json();
    assert.equal(list[0].httpAuthenticationPassword, null);
    const one = await (await get(`/api/draw/1/element/service/${list[0].id}`)).json();
    assert.equal(one.httpAuthenticationPassword, null);
    const saved = await fetch(`${srv.url}/api/draw/1/element/service`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', ManyWhoTenant: tenant, 'x-boomi-flow-api-key': key },
      body: JSON.stringify({ ...one, developerSummary: 'edited' }),
    });
    assert.equal(saved.status, 200);
    assert.equal((await saved.json()).httpAuthenticationPassword, null);
    // the flow still reaches the Atom with the stored token
    const flow = /^flow: (\S+)/m.exec(srv.stdoutText)[1];
    const c = new k.RunClient(srv.url, tenant);
    const r = await c.start(flow);
    const nameComp = k.mer(r).pageResponse.pageComponentResponses.find((x) => x.developerName === 'Your name');
    const x = await c.invoke(r, { outcome: k.outcomeId(r, 'Start'), inputs: [{ pageComponentId: nameComp.id, contentValue: 'Lin' }] });
    assert.equal(k.mer(x.json).developerName, 'Files', JSON.stringify(k.mer(x.json).rootFaults));
  });

  it('values are one per name: a second value with the same developerName is refused (409), updating by id works', async () => {
    const post = (body) => fetch(`${srv.url}/api/draw/1/element/value`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', ManyWhoTenant: tenant, 'x-boomi-flow-api-key': key },
      body: JSON.stringify(body) });
    const first = await post({ developerName: 'Unique Name', contentType: 'ContentString', elementType: 'VARIABLE' });
    assert.equal(first.status, 200);
    const v = await first.json();
    const dup = await post({ developerName: 'unique name', contentType: 'ContentString', elementType: 'VARIABLE' });
    assert.equal(dup.status, 409);
    const p = await dup.json();
    assert.equal(p.where, '/developerName');
    assert.match(p.message, new RegExp(`already exists \\(id ${v.id}\\)`));
    const upd = await post({ ...v, defaultContentValue: 'x' });
    assert.equal(upd.status, 200);
    assert.equal((await upd.json()).defaultContentValue, 'x');
  });
});
