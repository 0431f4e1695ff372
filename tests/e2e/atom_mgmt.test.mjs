// The management API (/api/atom/v1/…), /metrics and /healthz.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertProblem, ev, fixture, hook, it, output, parseMetrics, poll, serviceRequest, startReceiver, startServer,
} from './helpers.mjs';

const HEX64 = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{3})?Z$/;

describe('management API', () => {
  let srv;
  let flow;
  let propsId; // a Props execution that went through the map
  let stoppedId; // a Props execution whose document was dropped by the Stop shape
  let slowId; // a Slow execution that answered WAIT
  const TOTAL = 8;

  before(hook(async () => {
    srv = await startServer({ deploy: fixture('good'), args: ['--callback-backoff-ms', '100'] });
    flow = await startReceiver();
    // one execution that waits (finishes by callback in ~1.5 s) …
    const slow = await srv.action('Slow', serviceRequest({ callbackUri: `${flow.url}/api/run/1/response`, inputs: [ev.string('Label', 'm')] }));
    assert.equal(slow.json.invokeType, 'WAIT', slow.text);
    // … and seven quick ones: Props ×2, Echo ×3, Fail ×1, Ping ×1
    const props = await srv.action('Props', serviceRequest({ inputs: [ev.string('Note', 'go')] }));
    propsId = output(props, 'Execution').contentValue;
    const stopped = await srv.action('Props', serviceRequest({ inputs: [ev.string('Note', 'stop')] }));
    assert.deepEqual(stopped.json.outputs, []);
    for (let i = 0; i < 3; i++) {
      const r = await srv.action('Echo', serviceRequest({ inputs: [ev.string('Text', `e${i}`)] }));
      assert.equal(r.status, 200, r.text);
    }
    assert.equal((await srv.action('Fail', serviceRequest({ inputs: [ev.string('Reason', 'nope'), ev.number('Code', '7')] }))).status, 500);
    assert.equal((await srv.post('/fs/test/actions/Ping%20%C3%9C%20%26%20Co', serviceRequest())).status, 200);
    await flow.waitFor((rs) => rs.length >= 1, { what: 'the Slow callback' });
    slowId = output({ json: flow.received[0].json }, 'Execution').contentValue;
    // every record is written (the slow one last)
    await poll(async () => (await srv.get('/api/atom/v1/executions')).json.total === TOTAL, { what: `${TOTAL} execution records` });
    const list = (await srv.get('/api/atom/v1/executions?process=Props')).json.executions;
    stoppedId = list.find((e) => e.documentsOut === 0)?.id;
    assert.ok(stoppedId);
  }));
  after(async () => {
    await flow?.close();
    await srv?.stop();
  });

  it('GET /listeners lists the Flow Service at /fs/test with its actions and processes', async () => {
    const r = await srv.get('/api/atom/v1/listeners');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, {
      version: 1,
      listeners: [{
        service: 'Test Service',
        externalName: 'test',
        path: '/fs/test',
        status: 'listening',
        actions: [
          { type: 'Message Action', name: 'Echo', uriPart: 'actions/Echo', process: 'Echo' },
          { type: 'Message Action', name: 'Fail', uriPart: 'actions/Fail', process: 'Fail' },
          { type: 'Message Action', name: 'Ping Ü & Co', uriPart: 'actions/Ping%20%C3%9C%20%26%20Co', process: 'Ping' },
          { type: 'Message Action', name: 'Props', uriPart: 'actions/Props', process: 'Props' },
          { type: 'Message Action', name: 'Slow', uriPart: 'actions/Slow', process: 'Slow' },
        ],
      }],
    });
  });

  it('GET /processes lists each process with its start operation and listeners', async () => {
    const r = await srv.get('/api/atom/v1/processes');
    assert.equal(r.status, 200, r.text);
    const start = (req, res, timeout = 30000) => ({
      connector: 'flowservices', action: 'Listen', serviceType: 'Message Action', requestProfile: req, responseProfile: res, syncTimeoutMs: timeout,
    });
    const listener = (action, uri) => [{ service: 'Test Service', path: `/fs/test/${uri}`, action }];
    assert.deepEqual(r.json, {
      version: 1,
      processes: [
        { name: 'Echo', file: 'processes/echo.json', start: start('Echo Request', 'Echo Response'), listeners: listener('Echo', 'actions/Echo') },
        { name: 'Fail', file: 'processes/fail.json', start: start('Fail Request', null), listeners: listener('Fail', 'actions/Fail') },
        { name: 'Ping', file: 'processes/ping.json', start: start(null, null), listeners: listener('Ping Ü & Co', 'actions/Ping%20%C3%9C%20%26%20Co') },
        { name: 'Props', file: 'processes/props.json', start: start('Props Request', 'Props Response'), listeners: listener('Props', 'actions/Props') },
        { name: 'Slow', file: 'processes/slow.json', start: start('Slow Request', 'Slow Response', 300), listeners: listener('Slow', 'actions/Slow') },
      ],
    });
  });

  it('GET /components lists every deployed component with file, digest and revision', async () => {
    const r = await srv.get('/api/atom/v1/components');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.version, 1);
    assert.deepEqual(r.json.components.map((c) => [c.kind, c.name, c.file]), [
      ['flowservice', 'Test Service', 'services/test.json'],
      ['process', 'Echo', 'processes/echo.json'],
      ['process', 'Fail', 'processes/fail.json'],
      ['process', 'Ping', 'processes/ping.json'],
      ['process', 'Props', 'processes/props.json'],
      ['process', 'Slow', 'processes/slow.json'],
      ['profile', 'Echo Request', 'profiles/echo-request.json'],
      ['profile', 'Echo Response', 'profiles/echo-response.json'],
      ['profile', 'Fail Request', 'profiles/fail-request.json'],
      ['profile', 'Props Request', 'profiles/props-request.json'],
      ['profile', 'Props Response', 'profiles/props-response.json'],
      ['profile', 'Slow Request', 'profiles/slow-request.json'],
      ['profile', 'Slow Response', 'profiles/slow-response.json'],
    ]);
    for (const c of r.json.components) {
      assert.match(c.digest, HEX64);
      assert.equal(c.since, 1);
      assert.equal(c.revision, 1);
    }
    assert.equal(new Set(r.json.components.map((c) => c.digest)).size, r.json.components.length);
  });

  it('GET /deployments shows the current version and its history', async () => {
    const r = await srv.get('/api/atom/v1/deployments');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.current, 1);
    assert.equal(r.json.deployments.length, 1);
    const d = r.json.deployments[0];
    assert.equal(d.version, 1);
    assert.equal(d.components, 13);
    assert.equal(d.source, fixture('good'));
    assert.match(d.digest, HEX64);
    assert.match(d.createdAt, ISO);
  });

  it('GET /executions lists every execution, newest first', async () => {
    const r = await srv.get('/api/atom/v1/executions');
    assert.equal(r.status, 200, r.text);
    const { executions, total, limit, offset } = r.json;
    assert.equal(total, TOTAL);
    assert.equal(limit, 50);
    assert.equal(offset, 0);
    assert.equal(executions.length, TOTAL);
    const starts = executions.map((e) => Date.parse(e.startedAt));
    assert.deepEqual(starts, [...starts].sort((a, b) => b - a));
    for (const e of executions) {
      assert.match(e.id, /^[0-9a-f-]{36}$/);
      assert.match(e.startedAt, ISO);
      assert.equal(typeof e.durationMs, 'number');
      assert.equal(e.deployment, 1);
      assert.equal(e.documentsIn, 1);
      assert.equal(e.trigger, `/fs/test/${{ Echo: 'actions/Echo', Fail: 'actions/Fail', Props: 'actions/Props', Slow: 'actions/Slow', Ping: 'actions/Ping%20%C3%9C%20%26%20Co' }[e.process]}`);
      assert.equal(e.shapes, undefined, 'the list leaves out the per-shape counts');
    }
    const count = (p) => executions.filter((e) => e.process === p).length;
    assert.deepEqual([count('Echo'), count('Fail'), count('Ping'), count('Props'), count('Slow')], [3, 1, 1, 2, 1]);
  });

  it('filters by process, status and waited', async () => {
    const q = async (query) => {
      const r = await srv.get(`/api/atom/v1/executions?${query}`);
      assert.equal(r.status, 200, r.text);
      return r.json;
    };
    let j = await q('process=Props');
    assert.equal(j.total, 2);
    assert.ok(j.executions.every((e) => e.process === 'Props'));
    j = await q('process=Ping%20%C3%9C%20%26%20Co');
    assert.equal(j.total, 0, 'process filters by process name, not action name');
    j = await q('status=error');
    assert.equal(j.total, 1);
    assert.equal(j.executions[0].process, 'Fail');
    assert.ok(j.executions[0].error.includes('cannot continue: nope (code 7)'), j.executions[0].error);
    j = await q('status=success&process=Echo');
    assert.equal(j.total, 3);
    j = await q('status=error&process=Echo');
    assert.equal(j.total, 0);
    assert.deepEqual(j.executions, []);
    j = await q('waited=true');
    assert.equal(j.total, 1);
    assert.equal(j.executions[0].id, slowId);
    assert.equal(j.executions[0].waited, true);
    j = await q('waited=false');
    assert.equal(j.total, TOTAL - 1);
    assert.ok(j.executions.every((e) => e.waited === false && e.callback === 'none'));
    j = await q('process=Nope');
    assert.equal(j.total, 0);
  });

  it('pages with limit and offset; total counts all matches', async () => {
    const all = (await srv.get('/api/atom/v1/executions')).json.executions.map((e) => e.id);
    const seen = [];
    for (let offset = 0; offset < TOTAL; offset += 3) {
      const r = await srv.get(`/api/atom/v1/executions?limit=3&offset=${offset}`);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.total, TOTAL);
      assert.equal(r.json.limit, 3);
      assert.equal(r.json.offset, offset);
      assert.equal(r.json.executions.length, Math.min(3, TOTAL - offset));
      seen.push(...r.json.executions.map((e) => e.id));
    }
    assert.deepEqual(seen, all);
    const past = await srv.get(`/api/atom/v1/executions?offset=${TOTAL}`);
    assert.deepEqual(past.json.executions, []);
    assert.equal(past.json.total, TOTAL);
    const filtered = await srv.get('/api/atom/v1/executions?process=Echo&limit=2&offset=2');
    assert.equal(filtered.json.total, 3);
    assert.equal(filtered.json.executions.length, 1);
  });

  it('400 for bad query parameters', async () => {
    for (const q of ['limit=0', 'limit=1001', 'limit=abc', 'offset=-1', 'status=weird']) {
      assertProblem(await srv.get(`/api/atom/v1/executions?${q}`), 400, { kind: 'api' });
    }
  });

  it('GET /executions/<id> has the per-shape counts', async () => {
    const r = await srv.get(`/api/atom/v1/executions/${propsId}`);
    assert.equal(r.status, 200, r.text);
    const e = r.json;
    assert.equal(e.id, propsId);
    assert.equal(e.process, 'Props');
    assert.equal(e.status, 'success');
    assert.equal(e.error, null);
    assert.equal(e.documentsIn, 1);
    assert.equal(e.documentsOut, 1);
    assert.equal(e.waited, false);
    assert.equal(e.callback, 'none');
    assert.deepEqual(e.shapes.map(({ id, type, in: i, out }) => ({ id, type, in: i, out })), [
      { id: 'start', type: 'start', in: 1, out: 1 },
      { id: 'remember', type: 'setproperties', in: 1, out: 1 },
      { id: 'check', type: 'decision', in: 1, out: 1 },
      { id: 'drop', type: 'stop', in: 0, out: 0 },
      { id: 'map', type: 'map', in: 1, out: 1 },
      { id: 'done', type: 'return', in: 1, out: 1 },
    ]);
  });

  it('per-shape counts follow the document down the other edge', async () => {
    const e = (await srv.get(`/api/atom/v1/executions/${stoppedId}`)).json;
    assert.equal(e.documentsOut, 0);
    const byId = Object.fromEntries(e.shapes.map((s) => [s.id, s]));
    assert.equal(byId.check.in, 1);
    assert.equal(byId.drop.in, 1);
    assert.equal(byId.drop.out, 0);
    assert.equal(byId.map.in, 0);
    assert.equal(byId.done.in, 0);
  });

  it('a failed execution records its error and where it stopped', async () => {
    const list = (await srv.get('/api/atom/v1/executions?status=error')).json.executions;
    const e = (await srv.get(`/api/atom/v1/executions/${list[0].id}`)).json;
    assert.equal(e.status, 'error');
    assert.equal(e.documentsOut, 0);
    const boom = e.shapes.find((s) => s.id === 'boom');
    assert.equal(boom.type, 'exception');
    assert.equal(boom.in, 1);
    assert.equal(boom.out, 0);
  });

  it('a waited execution records its callback', async () => {
    const e = await poll(async () => {
      const x = (await srv.get(`/api/atom/v1/executions/${slowId}`)).json;
      return x.callback !== 'pending' ? x : null;
    }, { what: 'the callback outcome' });
    assert.equal(e.waited, true);
    assert.match(e.callback, /^delivered/);
    assert.ok(e.durationMs >= 1400, `durationMs ${e.durationMs}`);
    assert.deepEqual(e.shapes.map((s) => [s.id, s.type, s.in, s.out]), [
      ['start', 'start', 1, 1], ['pause', 'wait', 1, 1], ['check', 'decision', 1, 1], ['boom', 'exception', 0, 0],
      ['map', 'map', 1, 1], ['done', 'return', 1, 1],
    ]);
  });

  it('404 for an unknown execution id and an unknown route', async () => {
    assertProblem(await srv.get('/api/atom/v1/executions/00000000-0000-4000-8000-000000000000'), 404, { kind: 'api' });
    assertProblem(await srv.get('/api/atom/v1/executions/nope'), 404, { kind: 'api', message: 'nope' });
    assertProblem(await srv.get('/api/atom/v1/nothing'), 404, { kind: 'api' });
  });

  it('401 without credentials', async () => {
    for (const p of ['listeners', 'processes', 'components', 'deployments', 'executions', `executions/${propsId}`]) {
      const r = await srv.get(`/api/atom/v1/${p}`, { auth: false });
      assertProblem(r, 401, { kind: 'api' });
      assert.match(r.headers.get('www-authenticate') ?? '', /^Basic /);
    }
  });

  it('405 for POST (read-only), with Allow: GET', async () => {
    for (const p of ['listeners', 'executions', 'deployments']) {
      const r = await srv.post(`/api/atom/v1/${p}`, {});
      assertProblem(r, 405, { kind: 'api' });
      assert.equal(r.headers.get('allow'), 'GET');
    }
    assert.equal((await srv.request('DELETE', `/api/atom/v1/executions/${propsId}`)).status, 405);
    assert.equal((await srv.get(`/api/atom/v1/executions/${propsId}`)).status, 200, 'still there');
  });
});

describe('/metrics and /healthz', () => {
  let srv;
  before(async () => {
    srv = await startServer({ deploy: fixture('good') });
  });
  after(async () => {
    await srv?.stop();
  });

  it('GET /healthz answers without credentials', async () => {
    const r = await fetch(`${srv.url}/healthz`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    const h = await r.json();
    assert.equal(h.status, 'ok');
    assert.match(h.version, /^\d+\.\d+\.\d+/);
    assert.equal(h.deployment, 1);
    assert.equal(typeof h.uptimeMs, 'number');
    assert.ok(h.uptimeMs >= 0);
  });

  it('GET /metrics is Prometheus text with the request and execution counters', async () => {
    const r = await fetch(`${srv.url}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
    const text = await r.text();
    assert.match(text, /^# TYPE sluice_http_requests_total counter$/m);
    assert.match(text, /^# TYPE sluice_executions_total counter$/m);
    assert.match(text, /^sluice_http_requests_total\{code="2xx"\} \d+$/m);
    assert.match(text, /^sluice_executions_total\{status="success"\} \d+$/m);
    assert.match(text, /^sluice_executions_total\{status="error"\} \d+$/m);
    assert.match(text, /^sluice_http_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m);
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue;
      assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="[^"]*"(,[a-zA-Z_][a-zA-Z0-9_]*="[^"]*")*\})? [0-9.e+-]+$/, `not Prometheus text: ${line}`);
    }
  });

  it('the counters move with the calls', async () => {
    const m0 = parseMetrics(await srv.metricsText());
    for (let i = 0; i < 3; i++) assert.equal((await srv.action('Echo', serviceRequest({ inputs: [ev.string('Text', 'm')] }))).status, 200);
    assert.equal((await srv.action('Fail', serviceRequest())).status, 500);
    assert.equal((await srv.post('/fs/test/metadata', {}, { auth: false })).status, 401);
    const m1 = parseMetrics(await srv.metricsText());
    const d = (k) => (m1[k] ?? 0) - (m0[k] ?? 0);
    assert.equal(d('sluice_executions_total{status="success"}'), 3);
    assert.equal(d('sluice_executions_total{status="error"}'), 1);
    assert.ok(d('sluice_http_requests_total{code="2xx"}') >= 3, `2xx +${d('sluice_http_requests_total{code="2xx"}')}`);
    assert.equal(d('sluice_http_requests_total{code="4xx"}'), 1);
    assert.equal(d('sluice_http_requests_total{code="5xx"}'), 1);
    assert.ok(d('sluice_http_request_duration_seconds_count') >= 5);
    assert.equal(d('sluice_execution_duration_seconds_count'), 4);
  });
});
