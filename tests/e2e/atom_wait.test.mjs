// Long-running message actions: WAIT, then the result by callback to Flow's callbackUri (with
// retries), and plenty of concurrent calls. The "Slow" action waits 1.5 s with a 300 ms sync
// timeout. A small node HTTP server stands in for Flow's /api/run/1/response.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  ev, fixture, it, output, parseMetrics, poll, serviceRequest, startReceiver, startServer,
} from './helpers.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('WAIT and callbacks', () => {
  let srv;
  let flow;
  before(async () => {
    // workers: a wait shape holds a worker thread while it waits, and 16 slow calls run at once below
    srv = await startServer({ deploy: fixture('good'), args: ['--callback-backoff-ms', '50', '--workers', '16'] });
    flow = await startReceiver();
  });
  after(async () => {
    await flow?.close();
    await srv?.stop();
  });

  /** The execution record, once its callback outcome is no longer "pending". */
  async function settledRecord(id) {
    return poll(async () => {
      const r = await srv.get(`/api/atom/v1/executions/${id}`);
      return r.status === 200 && r.json.callback !== 'pending' ? r.json : null;
    }, { timeoutMs: 10000, what: `execution ${id} to record its callback outcome` });
  }

  it('answers WAIT after the sync timeout, then POSTs the result to the callbackUri', async () => {
    const token = 'b1f7d0a2-6c11-4e43-9a8e-5d3c2b1a0f9e';
    const tenantId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
    const callbackUri = `${flow.url}/api/run/1/response`;
    const before = flow.received.length;
    const t0 = Date.now();
    const r = await srv.action('Slow', serviceRequest({ token, tenantId, callbackUri, inputs: [ev.string('Label', 'first')] }));
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.invokeType, 'WAIT');
    assert.equal(typeof r.json.waitMessage, 'string');
    assert.ok(r.json.waitMessage.length > 0);
    assert.equal(r.json.token, token);
    assert.equal(r.json.tenantId, tenantId);
    assert.deepEqual(r.json.outputs, []);
    assert.ok(elapsed < 1400, `WAIT should come after ~300 ms, before the 1.5 s process ends (took ${elapsed} ms)`);
    assert.equal(flow.received.length, before, 'no callback before the process has finished');

    const [cb] = (await flow.waitFor((rs) => rs.length > before, { what: 'the callback' })).slice(before);
    assert.ok(cb.at - t0 >= 1400, `the callback came ${cb.at - t0} ms after the request, before the process could finish`);
    assert.equal(cb.method, 'POST');
    assert.equal(cb.url, '/api/run/1/response');
    assert.match(cb.headers['content-type'], /^application\/json/);
    assert.equal(cb.headers.manywhotenant, tenantId);
    assert.ok(cb.json, `callback body is not JSON: ${cb.body}`);
    assert.equal(cb.json.invokeType, 'FORWARD');
    assert.equal(cb.json.token, token);
    assert.equal(cb.json.tenantId, tenantId);
    assert.equal(cb.json.rootFaults, null);
    const res = { json: cb.json, text: cb.body };
    assert.equal(output(res, 'Label').contentValue, 'first');
    assert.equal(output(res, 'Done').contentValue, 'true');
    assert.equal(output(res, 'Done').contentType, 'ContentBoolean');
    const id = output(res, 'Execution').contentValue;
    assert.match(id, UUID);

    const rec = await settledRecord(id);
    assert.equal(rec.waited, true);
    assert.equal(rec.status, 'success');
    assert.equal(rec.process, 'Slow');
    assert.match(rec.callback, /^delivered\b.*\b1 attempt\b/);
  });

  it('retries a callback that Flow answers with 500 and records delivery after 3 attempts', async () => {
    flow.answer(500, 500, 200);
    const before = flow.received.length;
    const token = 'retry-token';
    const r = await srv.action('Slow', serviceRequest({
      token, callbackUri: `${flow.url}/api/run/1/response`, inputs: [ev.string('Label', 'retried')],
    }));
    assert.equal(r.json.invokeType, 'WAIT', r.text);
    const got = (await flow.waitFor((rs) => rs.length >= before + 3, { what: '3 callback attempts' })).slice(before);
    assert.deepEqual(got.map((c) => c.status), [500, 500, 200]);
    for (const c of got) {
      assert.equal(c.json.token, token);
      assert.equal(c.body, got[0].body, 'every attempt sends the same body');
    }
    // exponential backoff from 50 ms: >= 50 ms, then >= 100 ms
    assert.ok(got[1].at - got[0].at >= 45, `first retry after ${got[1].at - got[0].at} ms`);
    assert.ok(got[2].at - got[1].at >= 90, `second retry after ${got[2].at - got[1].at} ms`);
    const id = output({ json: got[2].json, text: got[2].body }, 'Execution').contentValue;
    const rec = await settledRecord(id);
    assert.equal(rec.waited, true);
    assert.match(rec.callback, /^delivered\b.*\b3 attempts\b/);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(flow.received.length, before + 3, 'no further attempts after the delivery');
  });

  it('records a callback that never gets through as failed, after every attempt', async () => {
    flow.answer(...Array(20).fill(503));
    const before = flow.received.length;
    const r = await srv.action('Slow', serviceRequest({ callbackUri: `${flow.url}/api/run/1/response`, inputs: [ev.string('Label', 'lost')] }));
    assert.equal(r.json.invokeType, 'WAIT', r.text);
    await flow.waitFor((rs) => rs.length > before, { what: 'the first callback attempt' });
    const id = output({ json: flow.received[before].json }, 'Execution').contentValue;
    const rec = await poll(async () => {
      const x = await srv.get(`/api/atom/v1/executions/${id}`);
      return x.status === 200 && x.json.callback.startsWith('failed') ? x.json : null;
    }, { timeoutMs: 15000, what: 'the callback to be given up' });
    const attempts = flow.received.length - before;
    assert.ok(attempts >= 2, `only ${attempts} attempt(s)`);
    assert.match(rec.callback, /^failed: HTTP 503 after \d+ attempts$/);
    assert.equal(rec.callback, `failed: HTTP 503 after ${attempts} attempts`);
    flow.answer();
  });

  it('a process that fails after WAIT reports the failure in the callback (rootFaults, no outputs)', async () => {
    const before = flow.received.length;
    const r = await srv.action('Slow', serviceRequest({
      token: 'fails-late', tenantId: 'tenant-x', callbackUri: `${flow.url}/api/run/1/response`, inputs: [ev.string('Label', 'fail')],
    }));
    assert.equal(r.json.invokeType, 'WAIT', r.text);
    const [cb] = (await flow.waitFor((rs) => rs.length > before, { what: 'the callback' })).slice(before);
    assert.equal(cb.headers.manywhotenant, 'tenant-x');
    assert.equal(cb.json.token, 'fails-late');
    assert.deepEqual(cb.json.outputs, []);
    assert.ok(cb.json.rootFaults && typeof cb.json.rootFaults === 'object', `rootFaults: ${cb.body}`);
    const faults = Object.values(cb.json.rootFaults);
    assert.equal(faults.length, 1);
    assert.ok(faults[0].includes('gave up on fail after waiting'), faults[0]);
    const rec = await poll(async () => {
      const x = (await srv.get('/api/atom/v1/executions?process=Slow&status=error')).json;
      return x.total === 1 && x.executions[0].callback !== 'pending' ? x.executions[0] : null;
    }, { what: 'the failed execution record' });
    assert.equal(rec.waited, true);
    assert.match(rec.callback, /^delivered/);
    assert.ok(rec.error.includes('gave up on fail after waiting'), rec.error);
  });

  it('without a callbackUri, a slow action simply answers FORWARD when done', async () => {
    const t0 = Date.now();
    const r = await srv.action('Slow', serviceRequest({ token: 'no-callback', inputs: [ev.string('Label', 'patient')] }));
    const elapsed = Date.now() - t0;
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.invokeType, 'FORWARD');
    assert.equal(r.json.token, 'no-callback');
    assert.ok(elapsed >= 1400, `answered after ${elapsed} ms, before the process could finish`);
    assert.equal(output(r, 'Label').contentValue, 'patient');
    const id = output(r, 'Execution').contentValue;
    const rec = await poll(async () => {
      const x = await srv.get(`/api/atom/v1/executions/${id}`);
      return x.status === 200 ? x.json : null;
    }, { what: 'the execution record' });
    assert.equal(rec.waited, false);
    assert.equal(rec.callback, 'none');
  });

  it('16 concurrent slow calls all answer WAIT and all their callbacks are delivered and recorded', async () => {
    const before = flow.received.length;
    const n = 16;
    const calls = Array.from({ length: n }, (_, i) => srv.action('Slow', serviceRequest({
      token: `many-${i}`, callbackUri: `${flow.url}/api/run/1/response`, inputs: [ev.string('Label', `L${i}`)],
    })));
    const answers = await Promise.all(calls);
    for (const [i, r] of answers.entries()) {
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.invokeType, 'WAIT');
      assert.equal(r.json.token, `many-${i}`);
    }
    const got = (await flow.waitFor((rs) => rs.length >= before + n, { what: `${n} callbacks` })).slice(before);
    const byToken = new Map(got.map((c) => [c.json.token, c.json]));
    assert.equal(byToken.size, n);
    const ids = [];
    for (let i = 0; i < n; i++) {
      const res = { json: byToken.get(`many-${i}`) };
      assert.ok(res.json, `no callback for many-${i}`);
      assert.equal(output(res, 'Label').contentValue, `L${i}`);
      ids.push(output(res, 'Execution').contentValue);
    }
    for (const id of ids) {
      const rec = await settledRecord(id);
      assert.match(rec.callback, /^delivered\b/, `execution ${id}`);
    }
  });

  it('counts waited executions and callbacks in /metrics', async () => {
    // this server answered WAIT for 1 + 1 + 1 + 1 + 16 Slow calls (the one without a callbackUri never waits)
    const m = parseMetrics(await srv.metricsText());
    assert.equal(m.sluice_executions_waited_total, 20);
    assert.equal(m['sluice_callbacks_total{result="delivered"}'], 19);
    assert.equal(m['sluice_callbacks_total{result="failed"}'], 1);
  });
});

describe('concurrency', () => {
  let srv;
  before(async () => {
    srv = await startServer({ deploy: fixture('good') });
  });
  after(async () => {
    await srv?.stop();
  });

  it('200 concurrent action calls all succeed with their own results', async () => {
    const n = 200;
    const calls = Array.from({ length: n }, (_, i) => srv.action('Echo', serviceRequest({
      token: `c-${i}`,
      inputs: [
        ev.string('Text', `call ${i}`), ev.number('Amount', String(1000000000000 + i)), ev.boolean('Flag', i % 2 ? 'true' : 'false'),
        ev.datetime('When', `2024-01-01T00:00:${String(i % 60).padStart(2, '0')}+01:00`),
      ],
    })));
    const answers = await Promise.all(calls);
    for (const [i, r] of answers.entries()) {
      assert.equal(r.status, 200, `call ${i}: ${r.text}`);
      assert.equal(r.json.invokeType, 'FORWARD');
      assert.equal(r.json.token, `c-${i}`);
      assert.equal(output(r, 'Text').contentValue, `call ${i}`);
      assert.equal(output(r, 'Amount').contentValue, String(1000000000000 + i));
      assert.equal(output(r, 'Flag').contentValue, i % 2 ? 'true' : 'false');
      assert.equal(output(r, 'When').contentValue, `2023-12-31T23:00:${String(i % 60).padStart(2, '0')}.000Z`);
    }
    const list = await poll(async () => {
      const r = await srv.get('/api/atom/v1/executions?process=Echo&limit=1');
      return r.json.total >= n ? r.json : null;
    }, { what: `${n} Echo execution records` });
    assert.equal(list.total, n);
  });
});

describe('shutdown', () => {
  it('SIGTERM with an execution in flight: the caller gets an answer, the server exits 0 and keeps the record', async () => {
    const srv = await startServer({ deploy: fixture('good') });
    const pending = srv.action('Slow', serviceRequest({ token: 'interrupted', inputs: [ev.string('Label', 'x')] }));
    await poll(async () => (await srv.get('/api/atom/v1/executions')).status === 200, { what: 'the server to take requests' });
    await new Promise((r) => setTimeout(r, 300)); // the Slow call is now waiting
    const t0 = Date.now();
    srv.terminate();
    const r = await pending;
    assert.ok(r.status === 200 || r.status >= 500, `HTTP ${r.status}`);
    if (r.status !== 200) assert.equal(r.headers.get('x-manywho-service-problem-kind'), 'service');
    await srv.stop();
    assert.ok(Date.now() - t0 < 10000, `took ${Date.now() - t0} ms to stop`);
    // the record was written before exit
    const again = await startServer({ data: srv.data, user: null });
    again.user = srv.user;
    again.token = srv.token;
    try {
      const list = (await again.get('/api/atom/v1/executions?process=Slow')).json;
      assert.equal(list.total, 1);
      assert.equal(list.executions[0].status, r.status === 200 ? 'success' : 'error');
    } finally {
      await again.stop();
    }
  });
});
