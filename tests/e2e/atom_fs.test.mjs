// Flow Services Server: describe (/metadata, /metadata/install), message actions and the
// problems every kind of bad request gets. Fixture: fixtures/good (Flow Service "test").
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  assertProblem, basicAuth, ev, fixture, it, mobject, output, parseRawResponse, prop, propOf, rawExchange,
  serviceRequest, startServer, TEST_CULTURE,
} from './helpers.mjs';

const ACTIONS = ['Echo', 'Fail', 'Ping Ü & Co', 'Props', 'Slow'];

/* What the Echo profiles generate: [name, contentType, typeElementDeveloperName] per property. */
function echoTypes(dir, profileName) {
  const p = `Echo ${dir}`;
  return [
    {
      name: `${p} - Order`, path: 'Order',
      props: [['Reference', 'ContentString', null], ['Placed', 'ContentDateTime', null], ['Lines', 'ContentList', `${p} - Lines`]],
    },
    {
      name: `${p} - Lines`, path: 'Order/Lines',
      props: [['Sku', 'ContentString', null], ['Quantity', 'ContentNumber', null], ['Gift', 'ContentBoolean', null],
        ['Product', 'ContentObject', `${p} - Product`]],
    },
    {
      name: `${p} - Product`, path: 'Order/Lines/Product',
      props: [['Name', 'ContentString', null], ['Weight', 'ContentNumber', null], ['Fragile', 'ContentBoolean', null],
        ['Made', 'ContentDateTime', null]],
    },
    { name: `${p} - Tags`, path: 'Tags', props: [['Label', 'ContentString', null]] },
    // a second element named Product, with another shape, gets "_1"
    { name: `${p} - Product_1`, path: 'Product', props: [['Code', 'ContentString', null]] },
  ].map((t) => ({ ...t, profileName }));
}

const echoValues = (dir) => [
  ['Text', 'ContentString', null], ['Amount', 'ContentNumber', null], ['Flag', 'ContentBoolean', null],
  ['When', 'ContentDateTime', null], ['Order', 'ContentObject', `Echo ${dir} - Order`],
  ['Tags', 'ContentList', `Echo ${dir} - Tags`], ['Product', 'ContentObject', `Echo ${dir} - Product_1`],
];

const EXPECTED_ACTIONS = {
  Echo: { summary: 'Copies every input to the outputs', uriPart: 'actions/Echo', inputs: echoValues('REQUEST'), outputs: echoValues('RESPONSE') },
  Fail: { summary: 'Always fails', uriPart: 'actions/Fail', inputs: [['Reason', 'ContentString', null], ['Code', 'ContentNumber', null]], outputs: [] },
  'Ping Ü & Co': { summary: 'No inputs, no outputs', uriPart: 'actions/Ping%20%C3%9C%20%26%20Co', inputs: [], outputs: [] },
  Props: {
    summary: 'Returns the dynamic process properties of the request',
    uriPart: 'actions/Props',
    inputs: [['Note', 'ContentString', null]],
    outputs: ['Token', 'Tenant Id', 'State Id', 'Callback Uri', 'Culture', 'Api Key', 'Limit', 'Combined', 'Note', 'Execution']
      .map((n) => [n, 'ContentString', null]),
  },
  Slow: {
    summary: 'Waits 1.5 s; its sync timeout is 300 ms',
    uriPart: 'actions/Slow',
    inputs: [['Label', 'ContentString', null]],
    outputs: [['Label', 'ContentString', null], ['Done', 'ContentBoolean', null], ['Execution', 'ContentString', null]],
  },
};

/** The Echo request used by the round trip: every type, nested objects and lists. */
function echoInputs() {
  const product = (name, weight, fragile, made) => mobject('Echo REQUEST - Product', [
    prop.string('Name', name), prop.number('Weight', weight), prop.boolean('Fragile', fragile), prop.datetime('Made', made),
  ]);
  const line = (sku, qty, gift, p, order) => mobject('Echo REQUEST - Lines', [
    prop.string('Sku', sku), prop.number('Quantity', qty), prop.boolean('Gift', gift), prop.object('Product', p),
  ], order);
  return [
    ev.string('Text', 'Grüße, "Flow" \\ ✓'),
    ev.number('Amount', '123456789012345678'),
    ev.boolean('Flag', 'True'),
    ev.datetime('When', '2024-03-05T10:15:30+02:00'),
    ev.object('Order', 'Echo REQUEST - Order', mobject('Echo REQUEST - Order', [
      prop.string('Reference', 'R-1'),
      prop.datetime('Placed', '2024-01-02T03:04:05.6789-05:30'),
      prop.list('Lines', [
        line('A-1', '2.5', 'false', product('Pen', '0.125', 'true', '2023-12-31T23:59:59Z'), 0),
        line('B-2', '-7', 'true', product('Ink', '1e3', 'false', '2020-02-29'), 1),
      ]),
    ])),
    ev.list('Tags', 'Echo REQUEST - Tags', [
      mobject('Echo REQUEST - Tags', [prop.string('Label', 'x')], 0),
      mobject('Echo REQUEST - Tags', [prop.string('Label', 'y')], 1),
    ]),
    ev.object('Product', 'Echo REQUEST - Product_1', mobject('Echo REQUEST - Product_1', [prop.string('Code', 'P-9')])),
  ];
}

/** Outputs → a plain tree: scalars as contentValue, objects as {__type, …}, lists as arrays. */
function tree(outputs) {
  const mo = (m) => {
    const o = { __type: m.developerName };
    for (const p of m.properties) o[p.developerName] = value(p);
    return o;
  };
  const value = (v) => {
    if (v.contentType === 'ContentObject') return v.objectData && v.objectData.length ? mo(v.objectData[0]) : null;
    if (v.contentType === 'ContentList') return (v.objectData ?? []).map(mo);
    return v.contentValue;
  };
  const out = {};
  for (const o of outputs) out[o.developerName] = value(o);
  return out;
}

describe('Flow Service /fs/test', () => {
  let srv;
  before(async () => {
    srv = await startServer({ deploy: fixture('good') });
  });
  after(async () => {
    await srv?.stop();
  });

  describe('describe', () => {
    it('POST /metadata answers 200 with the flags and configuration values', async () => {
      const r = await srv.post('/fs/test/metadata', { culture: null, uri: `${srv.url}/fs/test`, configurationValues: [] });
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type'), /^application\/json/);
      const d = r.json;
      assert.equal(d.culture, null);
      assert.equal(d.uri, null);
      assert.equal(d.providesLogic, true);
      for (const f of ['providesAutoBinding', 'providesDatabase', 'providesFiles', 'providesIdentity', 'providesListening',
        'providesNotifications', 'providesSmartSave', 'providesSocial', 'providesSharing', 'providesViews', 'providesVoting']) {
        assert.equal(d[f], false, f);
      }
      assert.deepEqual(d.configurationValues, [
        { developerName: 'Api Key', contentValue: null, contentType: 'ContentString', typeElementDeveloperName: null, ordinal: 0, required: true },
        { developerName: 'Limit', contentValue: null, contentType: 'ContentNumber', typeElementDeveloperName: null, ordinal: 1, required: false },
      ]);
    });

    it('lists every message action with its URL-encoded uriPart, inputs and outputs', async () => {
      const d = (await srv.post('/fs/test/metadata/install', {})).json;
      assert.deepEqual(d.actions.map((a) => a.developerName), ACTIONS);
      for (const a of d.actions) {
        const want = EXPECTED_ACTIONS[a.developerName];
        assert.equal(a.uriPart, want.uriPart, a.developerName);
        assert.equal(a.developerSummary, want.summary);
        assert.deepEqual(a.serviceActionOutcomes, []);
        assert.equal(a.isViewMessageAction, false);
        const shape = (vals) => vals.map((v) => [v.developerName, v.contentType, v.typeElementDeveloperName]);
        assert.deepEqual(shape(a.serviceInputs), want.inputs, `${a.developerName} inputs`);
        assert.deepEqual(shape(a.serviceOutputs), want.outputs, `${a.developerName} outputs`);
        for (const v of [...a.serviceInputs, ...a.serviceOutputs]) {
          assert.equal(v.contentValue, null);
          assert.equal(v.required, false);
        }
        assert.deepEqual(a.serviceInputs.map((v) => v.ordinal), a.serviceInputs.map((_, i) => i));
        assert.deepEqual(a.serviceOutputs.map((v) => v.ordinal), a.serviceOutputs.map((_, i) => i));
      }
    });

    it('generates the types "<Action> REQUEST|RESPONSE - <element>" with their properties and links', async () => {
      const d = (await srv.post('/fs/test/metadata/install', {})).json;
      const want = [...echoTypes('REQUEST', 'Echo Request'), ...echoTypes('RESPONSE', 'Echo Response')];
      const types = d.install.typeElements;
      assert.deepEqual(types.map((t) => t.developerName), want.map((t) => t.name));
      for (const [i, t] of types.entries()) {
        const w = want[i];
        assert.equal(t.elementType, 'TYPE');
        assert.equal(t.id, null);
        assert.equal(t.serviceElementId, null);
        assert.equal(t.updateByName, false);
        assert.deepEqual(t.bindings, []);
        assert.equal(typeof t.developerSummary, 'string');
        assert.ok(t.developerSummary.includes(w.profileName), t.developerSummary);
        assert.deepEqual(t.properties.map((p) => [p.developerName, p.contentType, p.typeElementDeveloperName]), w.props, t.developerName);
        for (const p of t.properties) {
          assert.equal(p.id, null);
          assert.equal(p.contentFormat, null);
          assert.equal(p.typeElementId, null);
        }
      }
      // every reference names a generated type
      const names = new Set(types.map((t) => t.developerName));
      for (const t of types) {
        for (const p of t.properties) if (p.typeElementDeveloperName) assert.ok(names.has(p.typeElementDeveloperName));
      }
      for (const a of d.actions) {
        for (const v of [...a.serviceInputs, ...a.serviceOutputs]) {
          if (v.typeElementDeveloperName) assert.ok(names.has(v.typeElementDeveloperName), v.typeElementDeveloperName);
        }
      }
    });

    it('is byte-identical across calls and between /metadata and /metadata/install', async () => {
      const a = await srv.post('/fs/test/metadata', {});
      const b = await srv.post('/fs/test/metadata', { configurationValues: [ev.string('Api Key', 'other')] });
      const c = await srv.post('/fs/test/metadata/install', '');
      assert.equal(a.status, 200);
      assert.equal(b.text, a.text);
      assert.equal(c.text, a.text);
    });

    it('is byte-identical on another server with the same components', async () => {
      const other = await startServer({ deploy: fixture('good') });
      try {
        const a = await srv.post('/fs/test/metadata', {});
        const b = await other.post('/fs/test/metadata', {});
        assert.equal(b.status, 200);
        assert.equal(b.text, a.text);
      } finally {
        await other.stop();
      }
    });
  });

  describe('message actions', () => {
    it('Echo copies every input of every type, objects and lists included', async () => {
      const token = 'a3c1f1de-3f8e-4c4b-9d0e-2f0c8d7e6b5a';
      const tenantId = '0b5e4a1c-9a9d-4d1e-8e77-61b8a2f0c9d3';
      const annotations = { source: 'e2e' };
      const r = await srv.action('Echo', serviceRequest({ token, tenantId, annotations, inputs: echoInputs() }));
      assert.equal(r.status, 200, r.text);
      const res = r.json;
      assert.equal(res.invokeType, 'FORWARD');
      assert.equal(res.token, token);
      assert.equal(res.tenantId, tenantId);
      assert.deepEqual(res.culture, TEST_CULTURE);
      assert.deepEqual(res.annotations, annotations);
      assert.equal(res.waitMessage, null);
      assert.deepEqual(tree(res.outputs), {
        Text: 'Grüße, "Flow" \\ ✓',
        Amount: '123456789012345678', // exact: not rounded through a double
        Flag: 'true',
        When: '2024-03-05T08:15:30.000Z', // +02:00 normalised to UTC with milliseconds
        Order: {
          __type: 'Echo RESPONSE - Order',
          Reference: 'R-1',
          Placed: '2024-01-02T08:34:05.678Z',
          Lines: [
            {
              __type: 'Echo RESPONSE - Lines', Sku: 'A-1', Quantity: '2.5', Gift: 'false',
              Product: { __type: 'Echo RESPONSE - Product', Name: 'Pen', Weight: '0.125', Fragile: 'true', Made: '2023-12-31T23:59:59.000Z' },
            },
            {
              __type: 'Echo RESPONSE - Lines', Sku: 'B-2', Quantity: '-7', Gift: 'true',
              Product: { __type: 'Echo RESPONSE - Product', Name: 'Ink', Weight: '1000', Fragile: 'false', Made: '2020-02-29T00:00:00.000Z' },
            },
          ],
        },
        Tags: [{ __type: 'Echo RESPONSE - Tags', Label: 'x' }, { __type: 'Echo RESPONSE - Tags', Label: 'y' }],
        Product: { __type: 'Echo RESPONSE - Product_1', Code: 'P-9' },
      });
    });

    it('Echo outputs carry content types, type names and MObject order', async () => {
      const r = await srv.action('Echo', serviceRequest({ inputs: echoInputs() }));
      assert.equal(r.status, 200, r.text);
      const want = Object.fromEntries(echoValues('RESPONSE').map(([n, ct, t]) => [n, [ct, t]]));
      for (const o of r.json.outputs) {
        assert.deepEqual([o.contentType, o.typeElementDeveloperName], want[o.developerName], o.developerName);
        if (o.contentType === 'ContentObject' || o.contentType === 'ContentList') {
          assert.equal(o.contentValue, null);
          assert.ok(Array.isArray(o.objectData));
        } else {
          assert.equal(o.objectData, null);
          assert.equal(typeof o.contentValue, 'string');
        }
      }
      const order = output(r, 'Order').objectData;
      assert.equal(order.length, 1);
      assert.equal(order[0].externalId, null);
      assert.equal(order[0].internalId, null);
      assert.equal(order[0].isSelected, false);
      const lines = propOf(order[0], 'Lines');
      assert.equal(lines.contentType, 'ContentList');
      assert.deepEqual(lines.objectData.map((m) => m.order), [0, 1]);
      const product = propOf(lines.objectData[1], 'Product');
      assert.equal(product.contentType, 'ContentObject');
      assert.deepEqual(product.objectData[0].properties.map((p) => [p.developerName, p.contentType]),
        [['Name', 'ContentString'], ['Weight', 'ContentNumber'], ['Fragile', 'ContentBoolean'], ['Made', 'ContentDateTime']]);
      assert.deepEqual(output(r, 'Tags').objectData.map((m) => m.order), [0, 1]);
    });

    it('matches input names case-insensitively and ignores unknown inputs', async () => {
      const r = await srv.action('Echo', serviceRequest({
        inputs: [ev.string('text', 'lower-case name'), ev.string('Nonsense', 'ignored'), ev.number('Amount', '-0.5')],
      }));
      assert.equal(r.status, 200, r.text);
      assert.equal(output(r, 'Text').contentValue, 'lower-case name');
      assert.equal(output(r, 'Amount').contentValue, '-0.5');
    });

    it('Props gets the request fields and configuration values as dynamic process properties', async () => {
      const req = serviceRequest({
        token: 'tok-42', tenantId: 'ten-7', stateId: 'state-9', callbackUri: 'http://127.0.0.1:9/api/run/1/response',
        configurationValues: [ev.string('Api Key', 'secret-key'), ev.number('Limit', '25')],
        inputs: [ev.string('Note', 'hello')],
      });
      const r = await srv.action('Props', req);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.invokeType, 'FORWARD'); // fast enough: no WAIT although a callbackUri is given
      const t = tree(r.json.outputs);
      assert.match(t.Execution, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      assert.deepEqual(JSON.parse(t.Culture), TEST_CULTURE);
      delete t.Execution;
      delete t.Culture;
      assert.deepEqual(t, {
        Token: 'tok-42',
        'Tenant Id': 'ten-7',
        'State Id': 'state-9',
        'Callback Uri': 'http://127.0.0.1:9/api/run/1/response',
        'Api Key': 'secret-key',
        Limit: '25',
        Combined: 'tok-42|ten-7',
        Note: 'hello',
      });
    });

    it('Props: each execution gets its own id', async () => {
      const ids = new Set();
      for (let i = 0; i < 3; i++) {
        const r = await srv.action('Props', serviceRequest({ inputs: [ev.string('Note', `n${i}`)] }));
        ids.add(output(r, 'Execution').contentValue);
      }
      assert.equal(ids.size, 3);
    });

    it('a document dropped by a Stop shape answers FORWARD with no outputs', async () => {
      const r = await srv.action('Props', serviceRequest({ token: 'tk', inputs: [ev.string('Note', 'stop')] }));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.invokeType, 'FORWARD');
      assert.equal(r.json.token, 'tk');
      assert.deepEqual(r.json.outputs, []);
    });

    it('an action with a URL-encoded name and no profiles answers FORWARD with no outputs', async () => {
      const r = await srv.post('/fs/test/actions/Ping%20%C3%9C%20%26%20Co', serviceRequest({ token: 'ping' }));
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.invokeType, 'FORWARD');
      assert.equal(r.json.token, 'ping');
      assert.deepEqual(r.json.outputs, []);
    });

    it('an empty body is a request without inputs', async () => {
      const r = await srv.post('/fs/test/actions/Ping%20%C3%9C%20%26%20Co', '{}');
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.token, null);
      assert.equal(r.json.invokeType, 'FORWARD');
    });
  });

  describe('problems', () => {
    it('401 without credentials, with WWW-Authenticate', async () => {
      for (const p of ['/fs/test/metadata', '/fs/test/actions/Echo', '/fs/nope/metadata']) {
        const r = await srv.post(p, {}, { auth: false });
        assertProblem(r, 401, { kind: 'api' });
        assert.match(r.headers.get('www-authenticate') ?? '', /^Basic realm="[^"]+"/);
      }
    });

    it('401 with a wrong token, an unknown user or a malformed Authorization header', async () => {
      const bad = [
        basicAuth(srv.user, srv.token + 'x'),
        basicAuth(srv.user, ''),
        basicAuth('nobody', srv.token),
        basicAuth(srv.user.toUpperCase(), srv.token),
        `Bearer ${srv.token}`,
        'Basic !!!not-base64!!!',
        'Basic ' + Buffer.from(`${srv.user}${srv.token}`).toString('base64'), // no colon
      ];
      for (const auth of bad) {
        const r = await srv.post('/fs/test/actions/Echo', serviceRequest(), { auth });
        assertProblem(r, 401, { kind: 'api' });
        assert.match(r.headers.get('www-authenticate') ?? '', /^Basic /);
      }
      // and the right credentials still work afterwards
      const ok = await srv.post('/fs/test/metadata', {});
      assert.equal(ok.status, 200);
    });

    it('400 for malformed JSON, saying where', async () => {
      const r = await srv.post('/fs/test/actions/Echo', '{"inputs": [ {"developerName": "Text",, } ]}');
      const p = assertProblem(r, 400, { kind: 'api', message: 'not valid JSON' });
      assert.match(p.message, /line 1 col(umn)? \d+/);
      assert.match(p.where, /^line 1 col \d+$/);
      assert.equal(p.uri, '/fs/test/actions/Echo');
    });

    it('400 for a body that is not a ServiceRequest object, or inputs that are not an array', async () => {
      assertProblem(await srv.post('/fs/test/actions/Echo', '[1,2]'), 400, { kind: 'api', message: 'ServiceRequest' });
      const p = assertProblem(await srv.post('/fs/test/actions/Echo', { inputs: 5 }), 400, { kind: 'api' });
      assert.equal(p.where, '/inputs');
    });

    it('400 for a bad number input, with where = /inputs/N/contentValue', async () => {
      const r = await srv.action('Echo', serviceRequest({ inputs: [ev.string('Text', 'ok'), ev.number('Amount', '12abc')] }));
      const p = assertProblem(r, 400, { kind: 'api', message: '12abc' });
      assert.equal(p.where, '/inputs/1/contentValue');
      assert.ok(p.message.includes('/inputs/1/contentValue'), p.message);
    });

    it('400 for bad boolean and date/time inputs, with where', async () => {
      let p = assertProblem(await srv.action('Echo', serviceRequest({ inputs: [ev.boolean('Flag', 'yes')] })), 400, { message: 'yes' });
      assert.equal(p.where, '/inputs/0/contentValue');
      p = assertProblem(await srv.action('Echo', serviceRequest({ inputs: [ev.string('Text', 'a'), ev.datetime('When', '2024-13-45T99:00:00Z')] })), 400);
      assert.equal(p.where, '/inputs/1/contentValue');
    });

    it('400 for a bad number deep inside objectData, pointing at it', async () => {
      const inputs = echoInputs();
      // Order → Lines[1] → Product → Weight
      const lines = inputs[4].objectData[0].properties[2].objectData;
      lines[1].properties[3].objectData[0].properties[1].contentValue = 'heavy';
      const p = assertProblem(await srv.action('Echo', serviceRequest({ inputs })), 400, { kind: 'api', message: 'heavy' });
      assert.equal(p.where, '/inputs/4/objectData/0/properties/2/objectData/1/properties/3/objectData/0/properties/1/contentValue');
    });

    it('400 when an object value holds more than one object', async () => {
      const inputs = [ev.object('Product', 'Echo REQUEST - Product_1', null)];
      inputs[0].objectData = [mobject('x', [prop.string('Code', 'a')]), mobject('x', [prop.string('Code', 'b')])];
      const p = assertProblem(await srv.action('Echo', serviceRequest({ inputs })), 400, { kind: 'api' });
      assert.equal(p.where, '/inputs/0/objectData');
    });

    it('404 for an unknown action, naming the known ones', async () => {
      const r = await srv.action('Nope', serviceRequest());
      const p = assertProblem(r, 404, { kind: 'api', message: 'Nope' });
      for (const a of ACTIONS) assert.ok(p.message.includes(`"${a}"`), `${p.message} should name "${a}"`);
    });

    it('404 for an unknown service and an unknown route', async () => {
      assertProblem(await srv.post('/fs/nope/metadata', {}), 404, { kind: 'api', message: '/fs/nope' });
      assertProblem(await srv.post('/fs/nope/actions/Echo', serviceRequest()), 404, { kind: 'api' });
      assertProblem(await srv.post('/fs/test/bogus', {}), 404, { kind: 'api', message: 'bogus' });
      assertProblem(await srv.post('/fs/test/actions/', {}), 404, { kind: 'api' });
    });

    it('404 problem for a route outside /fs/ and /api/, with or without a body', async () => {
      assertProblem(await srv.get('/nothing/here'), 404, { kind: 'api', message: '/nothing/here' });
      assertProblem(await srv.post('/nothing/here', ''), 404, { kind: 'api' });
      assertProblem(await srv.post('/nothing/here', {}), 404, { kind: 'api' });
    });

    it('405 for GET, with Allow: POST', async () => {
      for (const p of ['/fs/test/metadata', '/fs/test/actions/Echo']) {
        const r = await srv.get(p);
        assertProblem(r, 405, { kind: 'api' });
        assert.equal(r.headers.get('allow'), 'POST');
      }
    });

    it('500 with the formatted message when the process ends in an Exception shape', async () => {
      const r = await srv.action('Fail', serviceRequest({ inputs: [ev.string('Reason', 'disk full'), ev.number('Code', '42')] }));
      const p = assertProblem(r, 500, { kind: 'service', message: 'cannot continue: disk full (code 42)' });
      assert.ok(p.message.includes('"Fail"'), p.message);
      assert.match(p.where, /^execution [0-9a-f-]{36}$/);
      assert.equal(p.uri, '/fs/test/actions/Fail');
      assert.equal(p.invokeType, null);
    });
  });
});

describe('request size limit (--max-request-bytes 2048)', () => {
  let srv;
  before(async () => {
    srv = await startServer({ deploy: fixture('good'), args: ['--max-request-bytes', '2048'] });
  });
  after(async () => {
    await srv?.stop();
  });

  const padded = (n) => {
    const base = serviceRequest({ inputs: [ev.string('Note', '')] });
    const len = JSON.stringify(base).length;
    base.inputs[0].contentValue = 'x'.repeat(n - len);
    const text = JSON.stringify(base);
    assert.equal(text.length, n);
    return text;
  };

  it('accepts a body at the limit', async () => {
    const r = await srv.action('Props', padded(2048));
    assert.equal(r.status, 200, r.text);
    assert.equal(output(r, 'Note').contentValue.length, 2048 - JSON.stringify(serviceRequest({ inputs: [ev.string('Note', '')] })).length);
  });

  it('413 problem for a body over the limit', async () => {
    const r = await srv.action('Props', padded(3000));
    assertProblem(r, 413, { kind: 'api' });
  });

  it('413 for an over-limit body sent chunked (no Content-Length)', async () => {
    const chunk = new TextEncoder().encode(padded(3000));
    const body = new ReadableStream({
      start(c) {
        c.enqueue(chunk.slice(0, 1000));
        c.enqueue(chunk.slice(1000));
        c.close();
      },
    });
    const res = await fetch(`${srv.url}/fs/test/actions/Props`, {
      method: 'POST', body, duplex: 'half', headers: { authorization: srv.auth, 'content-type': 'application/json' },
    });
    const text = await res.text();
    assertProblem({ status: res.status, headers: res.headers, text, json: JSON.parse(text) }, 413, { kind: 'api' });
  });

  it('413 at once when the client announces a huge Content-Length and sends nothing', async () => {
    const head = [
      'POST /fs/test/actions/Props HTTP/1.1',
      `Host: 127.0.0.1:${srv.port}`,
      `Authorization: ${srv.auth}`,
      'Content-Type: application/json',
      'Content-Length: 50000000000',
      '', '',
    ].join('\r\n');
    const t0 = Date.now();
    const r = await rawExchange(srv.port, head, {
      until: (t) => {
        const i = t.indexOf('\r\n\r\n');
        if (i < 0) return false;
        const m = /content-length:\s*(\d+)/i.exec(t.slice(0, i));
        return m && t.length >= i + 4 + Number(m[1]);
      },
      timeoutMs: 10000,
    });
    assert.equal(r.timedOut, false, `no complete answer within 10 s; got: ${JSON.stringify(r.text)}`);
    assert.ok(Date.now() - t0 < 10000);
    const res = parseRawResponse(r.text);
    assert.equal(res.status, 413, r.text);
    assert.equal(res.headers['x-manywho-service-problem-kind'], 'api');
    const p = JSON.parse(res.body);
    assert.equal(p.statusCode, 413);
    assert.equal(p.kind, 'api');
  });

  it('a huge Content-Length without credentials is 401 (credentials are checked first)', async () => {
    const head = [
      'POST /fs/test/actions/Props HTTP/1.1',
      `Host: 127.0.0.1:${srv.port}`,
      'Content-Type: application/json',
      'Content-Length: 50000000000',
      '', '',
    ].join('\r\n');
    const r = await rawExchange(srv.port, head, { until: (t) => t.includes('\r\n\r\n'), timeoutMs: 10000 });
    assert.equal(parseRawResponse(r.text).status, 401, r.text);
  });

  it('still serves normal requests afterwards', async () => {
    const r = await srv.action('Props', serviceRequest({ inputs: [ev.string('Note', 'after')] }));
    assert.equal(r.status, 200, r.text);
    assert.equal(output(r, 'Note').contentValue, 'after');
  });
});
