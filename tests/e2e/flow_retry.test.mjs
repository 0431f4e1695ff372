// A service that is down: the running flow shows a clear fault, nothing is lost, and the same
// move succeeds once the service is back.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { it, startServer } from './helpers.mjs';
import * as k from './flowkit.mjs';

function freePort() {
  return new Promise((resolve) => {
    const s = http.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

describe('a service that is down', () => {
  let srv;
  let service;
  before(async () => { srv = await startServer({ command: 'flow', user: null }); });
  after(async () => {
    service?.close();
    await srv?.stop();
  });

  it('faults clearly, keeps the state where it was, and the retry succeeds once it is back', async () => {
    const port = await freePort();
    const name = k.value('Name');
    const said = k.value('Said');
    const svc = k.service('Echo', `http://127.0.0.1:${port}/echo`);
    const p = k.page('Ask', [{ developerName: 'Name', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(name) }]);
    const start = k.element('START', 'Start');
    const ask = k.element('input', 'Ask', { pageElementId: p.id });
    const call = k.element('MESSAGE', 'Call', { messageActions: [{ developerName: 'Echo', serviceElementId: svc.id,
      uriPart: 'actions/echo', order: 0,
      inputs: [{ developerName: 'Text', contentType: 'ContentString', valueElementToReferenceId: k.ref(name) }],
      outputs: [{ developerName: 'Text', contentType: 'ContentString', valueElementToApplyId: k.ref(said) }] }] });
    const done = k.element('step', 'Done', { userContent: 'echo: {![Said]}' });
    start.outcomes = [k.outcome('go', ask)];
    ask.outcomes = [k.outcome('Send', call)];
    call.outcomes = [k.outcome('next', done)];
    const snap = k.snapshot('Retry', { start, elements: [start, ask, call, done], values: [name, said], services: [svc], pages: [p] });
    const { tenant, flow } = await k.importFlow(srv.data, snap);
    const c = new k.RunClient(srv.url, tenant);
    const first = await c.start(flow);
    const send = { outcome: k.outcomeId(first, 'Send'), inputs: [k.input(k.comp(p, 'Name'), 'hello')] };

    const down = await c.invoke(first, send);
    assert.equal(down.status, 200, down.text);
    assert.equal(k.mer(down.json).developerName, 'Ask', 'still on the page');
    assert.equal(down.json.stateToken, first.stateToken, 'nothing was committed');
    assert.match(k.mer(down.json).rootFaults.Echo, /service "Echo" could not be reached for message action "Echo"/);
    const joined = await c.join(first.stateId);
    assert.equal(k.mer(joined.json).developerName, 'Ask');

    service = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d) => { body += d; });
      req.on('end', () => {
        const r = JSON.parse(body);
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ invokeType: 'FORWARD', token: r.token, tenantId: r.tenantId,
          outputs: [{ developerName: 'Text', contentType: 'ContentString', contentValue: r.inputs[0].contentValue.toUpperCase() }] }));
      });
    });
    await new Promise((resolve) => service.listen(port, '127.0.0.1', resolve));
    const retry = await c.invoke(first, send);
    assert.equal(retry.status, 200, retry.text);
    assert.equal(retry.json.invokeType, 'DONE');
    assert.equal(k.stepContent(retry.json), 'echo: HELLO');
  });
});
