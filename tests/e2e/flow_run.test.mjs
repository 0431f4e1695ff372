// The Flow engine's run API v1 end to end: real `sluice serve` processes (Atom + engine on one
// port), flows imported with `sluice flow import`, driven over HTTP the way the player drives them.
// Covers the map element kinds (START, STEP, INPUT, DECISION, OPERATOR, MESSAGE), pages (shapes,
// conditions, validation, binding types), the run API's routes and errors, joining after a
// restart, and macros. Data actions, sub-flows and WAIT are in flow_run_data.test.mjs.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { REPO_ROOT, ev, hook, it, startServer } from './helpers.mjs';
import * as k from './flowkit.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const UPLOAD = path.join(REPO_ROOT, 'examples', 'upload');

// A problem JSON answer of the run API.
function assertRunProblem(res, status, { where, message } = {}) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(res.json && typeof res.json === 'object', `problem body is not JSON: ${res.text}`);
  assert.equal(res.json.statusCode, status);
  assert.equal(res.json.kind, 'api');
  assert.equal(typeof res.json.message, 'string');
  assert.ok(res.json.message.length > 0);
  assert.ok('where' in res.json, `problem has no "where": ${res.text}`);
  if (where !== undefined) assert.equal(res.json.where, where);
  if (message) assert.match(res.json.message, message);
  return res.json;
}

// The text of all root faults of a response ('' when none).
const faultText = (r) => Object.values(k.rootFaults(r) ?? {}).join(' | ');

describe('flow run API: map elements', () => {
  let srv;
  let deployFlow;
  before(hook(async () => {
    srv = await startServer({ deploy: UPLOAD });
    deployFlow = async (snap, tenantName = 'tests') => {
      const { tenant, flow } = await k.importFlow(srv.data, snap, tenantName);
      return { tenant, flow, c: new k.RunClient(srv.url, tenant) };
    };
  }));
  after(hook(async () => { await srv?.stop(); }));

  it('START runs on to a STEP whose content has {![Value]} and {![Value].[Property]} substituted and HTML-escaped', async () => {
    const person = k.type('Person', [['Name', 'ContentString'], ['Age', 'ContentNumber']]);
    const name = k.value('Name', 'ContentString', { defaultContentValue: '<b>Tom & "Jerry"\'s</b>' });
    const who = k.value('Who', 'ContentObject', { typeElementId: person.id,
      defaultObjectData: [k.object(person, { Name: 'Ada <L>', Age: '36' }, 'p1')] });
    const start = k.element('START', 'Start');
    const show = k.element('step', 'Show', { userContent: '<p>{![Name]}</p><p>{![Who].[Name]} is {![Who].[Age]}</p>' });
    const end = k.element('step', 'End', { userContent: 'bye' });
    k.chain(start, show, end);
    const { c, flow } = await deployFlow(k.snapshot('Steps', { start, elements: [start, show, end], values: [name, who],
      types: [person] }));
    const r = await c.start(flow);
    assert.equal(r.invokeType, 'FORWARD', 'a step with an outcome waits for the person');
    assert.match(r.stateId, UUID);
    assert.equal(typeof r.stateToken, 'string');
    assert.equal(r.currentMapElementId, show.id);
    assert.equal(r.mapElementInvokeResponses.length, 1);
    assert.equal(k.mer(r).mapElementId, show.id);
    assert.equal(k.mer(r).developerName, 'Show');
    assert.equal(k.stepContent(r),
      '<p>&lt;b&gt;Tom &amp; &quot;Jerry&quot;&#39;s&lt;/b&gt;</p><p>Ada &lt;L&gt; is 36</p>');
    const pr = k.mer(r).pageResponse;
    assert.equal(pr.pageContainerResponses.length, 1);
    assert.equal(pr.pageComponentResponses.length, 1);
    assert.equal(pr.pageComponentResponses[0].componentType.toUpperCase(), 'PRESENTATION');
    assert.equal(pr.pageComponentResponses[0].pageContainerId, pr.pageContainerResponses[0].id);
    assert.deepEqual(k.mer(r).outcomeResponses.map((o) => o.developerName), ['next']);
    assert.equal(r.outputs, null);

    const done = await c.move(r, { outcome: k.outcomeId(r, 'next') });
    assert.equal(done.invokeType, 'DONE', 'a step without outcomes ends the flow');
    assert.equal(done.currentMapElementId, end.id);
    assert.equal(k.stepContent(done), 'bye');
    assert.notEqual(done.stateToken, r.stateToken, 'the token changes with every move');
  });

  // One flow per content type: decision i tests criteria[i] of L against R (or IS_EMPTY against
  // $true/$false constants) and, when it holds, an operator sets R_<criteria> to "T". A step
  // shows every result.
  function criteriaFlow(contentType, criteria) {
    const L = k.value('L', contentType, { access: 'INPUT' });
    const R = k.value('R', contentType, { access: 'INPUT' });
    const T = k.value('T', 'ContentString', { defaultContentValue: 'T' });
    const yes = k.value('Yes', 'ContentBoolean', { defaultContentValue: 'true' });
    const no = k.value('No', 'ContentBoolean', { defaultContentValue: 'false' });
    const results = criteria.map((c) => k.value(`R_${c}`, 'ContentString', { defaultContentValue: 'F' }));
    const start = k.element('START', 'Start');
    const step = k.element('step', 'Results', { userContent: criteria.map((c) => `${c}={![R_${c}]}`).join(';') });
    const els = [start];
    const decisions = criteria.map((c) => k.element('DECISION', `is ${c}`));
    const setters = criteria.map((c, i) => k.element('OPERATOR', `set ${c}`, { operations: [k.op(k.ref(results[i]), k.ref(T))] }));
    start.outcomes = [k.outcome('go', decisions[0])];
    criteria.forEach((c, i) => {
      const next = decisions[i + 1] ?? step;
      const rule = c === 'IS_EMPTY' ? k.rule(k.ref(L), 'IS_EMPTY', k.ref(yes))
        : c === 'IS_NOT_EMPTY' ? k.rule(k.ref(L), 'IS_EMPTY', k.ref(no))
          : k.rule(k.ref(L), c, k.ref(R));
      decisions[i].outcomes = [
        k.outcome('holds', setters[i], { order: 0, comparison: k.comparison('AND', [rule]) }),
        k.outcome('otherwise', next, { order: 1 })];
      setters[i].outcomes = [k.outcome('next', next)];
      els.push(decisions[i], setters[i]);
    });
    els.push(step);
    return k.snapshot(`Criteria ${contentType}`, { start, elements: els, values: [L, R, T, yes, no, ...results] });
  }

  async function runCriteria(contentType, criteria, cases) {
    const { c, flow } = await deployFlow(criteriaFlow(contentType, criteria));
    const problems = [];
    for (const [l, r, expected] of cases) {
      const res = await c.start(flow, [
        { ...ev.string('L', l), contentType }, { ...ev.string('R', r), contentType }]);
      assert.equal(k.rootFaults(res), null, `L=${l} R=${r}: ${JSON.stringify(k.rootFaults(res))}`);
      const got = Object.fromEntries(k.stepContent(res).split(';').map((kv) => kv.split('=')));
      for (const [crit, want] of Object.entries(expected)) {
        if (got[crit] !== want) problems.push(`${contentType} ${JSON.stringify(l)} ${crit} ${JSON.stringify(r)}: expected ${want === 'T'}, got ${got[crit] === 'T'}`);
      }
    }
    assert.deepEqual(problems, []);
  }

  it('DECISION: every criteriaType on strings', async () => {
    await runCriteria('ContentString',
      ['EQUAL', 'NOT_EQUAL', 'GREATER_THAN', 'GREATER_THAN_OR_EQUAL', 'LESS_THAN', 'LESS_THAN_OR_EQUAL', 'CONTAINS',
        'STARTS_WITH', 'ENDS_WITH', 'IS_EMPTY', 'IS_NOT_EMPTY'], [
        ['Hello World', 'Hello', { EQUAL: 'F', NOT_EQUAL: 'T', GREATER_THAN: 'T', GREATER_THAN_OR_EQUAL: 'T', LESS_THAN: 'F',
          LESS_THAN_OR_EQUAL: 'F', CONTAINS: 'T', STARTS_WITH: 'T', ENDS_WITH: 'F', IS_EMPTY: 'F', IS_NOT_EMPTY: 'T' }],
        ['Hello World', 'World', { EQUAL: 'F', NOT_EQUAL: 'T', GREATER_THAN: 'F', GREATER_THAN_OR_EQUAL: 'F', LESS_THAN: 'T',
          LESS_THAN_OR_EQUAL: 'T', CONTAINS: 'T', STARTS_WITH: 'F', ENDS_WITH: 'T' }],
        ['same', 'same', { EQUAL: 'T', NOT_EQUAL: 'F', GREATER_THAN: 'F', GREATER_THAN_OR_EQUAL: 'T', LESS_THAN: 'F',
          LESS_THAN_OR_EQUAL: 'T', CONTAINS: 'T', STARTS_WITH: 'T', ENDS_WITH: 'T' }],
        ['abc', 'xyz', { CONTAINS: 'F', STARTS_WITH: 'F', ENDS_WITH: 'F', EQUAL: 'F' }],
        ['', 'x', { IS_EMPTY: 'T', IS_NOT_EMPTY: 'F', EQUAL: 'F', NOT_EQUAL: 'T' }],
      ]);
  });

  it('DECISION: criteriaTypes on numbers compare numerically', async () => {
    await runCriteria('ContentNumber',
      ['EQUAL', 'NOT_EQUAL', 'GREATER_THAN', 'GREATER_THAN_OR_EQUAL', 'LESS_THAN', 'LESS_THAN_OR_EQUAL', 'IS_EMPTY'], [
        ['10', '9', { EQUAL: 'F', NOT_EQUAL: 'T', GREATER_THAN: 'T', GREATER_THAN_OR_EQUAL: 'T', LESS_THAN: 'F',
          LESS_THAN_OR_EQUAL: 'F', IS_EMPTY: 'F' }],
        ['2.50', '2.5', { EQUAL: 'T', NOT_EQUAL: 'F', GREATER_THAN: 'F', GREATER_THAN_OR_EQUAL: 'T', LESS_THAN: 'F',
          LESS_THAN_OR_EQUAL: 'T' }],
        ['-3', '2', { GREATER_THAN: 'F', LESS_THAN: 'T', EQUAL: 'F' }],
        ['', '2', { IS_EMPTY: 'T' }],
      ]);
  });

  it('DECISION: criteriaTypes on booleans', async () => {
    await runCriteria('ContentBoolean', ['EQUAL', 'NOT_EQUAL', 'IS_EMPTY'], [
      ['true', 'true', { EQUAL: 'T', NOT_EQUAL: 'F', IS_EMPTY: 'F' }],
      ['true', 'false', { EQUAL: 'F', NOT_EQUAL: 'T' }],
      ['false', 'false', { EQUAL: 'T', NOT_EQUAL: 'F' }],
      ['False', 'false', { EQUAL: 'T' }],
    ]);
  });

  it('DECISION: criteriaTypes on datetimes compare instants (time zones honoured)', async () => {
    await runCriteria('ContentDateTime',
      ['EQUAL', 'NOT_EQUAL', 'GREATER_THAN', 'GREATER_THAN_OR_EQUAL', 'LESS_THAN', 'LESS_THAN_OR_EQUAL'], [
        // 11:00+02:00 is 09:00Z: earlier than 10:00Z although it sorts later as text
        ['2024-03-01T10:00:00Z', '2024-03-01T11:00:00+02:00', { EQUAL: 'F', NOT_EQUAL: 'T', GREATER_THAN: 'T',
          GREATER_THAN_OR_EQUAL: 'T', LESS_THAN: 'F', LESS_THAN_OR_EQUAL: 'F' }],
        ['2024-03-01T12:00:00Z', '2024-03-01T13:00:00+01:00', { EQUAL: 'T', NOT_EQUAL: 'F', GREATER_THAN: 'F',
          GREATER_THAN_OR_EQUAL: 'T', LESS_THAN: 'F', LESS_THAN_OR_EQUAL: 'T' }],
        ['2023-12-31', '2024-01-01T00:00:00Z', { LESS_THAN: 'T', GREATER_THAN: 'F', EQUAL: 'F' }],
      ]);
  });

  it('DECISION: nested AND/OR comparisons, the first true outcome by order wins, an outcome without comparison is the default', async () => {
    const [A, B, C] = ['A', 'B', 'C'].map((n) => k.value(n, 'ContentString', { access: 'INPUT' }));
    const [X, Y, Z] = ['x', 'y', 'z'].map((v) => k.value(`const ${v}`, 'ContentString', { defaultContentValue: v }));
    const start = k.element('START', 'Start');
    const dec = k.element('DECISION', 'Route');
    const first = k.element('step', 'First', { userContent: 'first' });
    const second = k.element('step', 'Second', { userContent: 'second' });
    const fallback = k.element('step', 'Fallback', { userContent: 'fallback' });
    start.outcomes = [k.outcome('go', dec)];
    // listed out of order on purpose: "first" has order 0 but comes second in the array
    dec.outcomes = [
      k.outcome('second', second, { order: 1, comparison: k.comparison('AND', [k.rule(k.ref(A), 'EQUAL', k.ref(X))]) }),
      k.outcome('fallback', fallback, { order: 2 }),
      k.outcome('first', first, { order: 0, comparison: k.comparison('AND', [k.rule(k.ref(A), 'EQUAL', k.ref(X))], [
        k.comparison('OR', [k.rule(k.ref(B), 'EQUAL', k.ref(Y)), k.rule(k.ref(C), 'EQUAL', k.ref(Z))])]) }),
    ];
    const { c, flow } = await deployFlow(k.snapshot('Route', { start, elements: [start, dec, first, second, fallback],
      values: [A, B, C, X, Y, Z] }));
    const cases = [
      [['x', 'y', '-'], 'first'], [['x', '-', 'z'], 'first'], [['x', 'y', 'z'], 'first'],
      [['x', '-', '-'], 'second'], [['q', 'y', 'z'], 'fallback'],
    ];
    for (const [[a, b, cc], want] of cases) {
      const r = await c.start(flow, [ev.string('A', a), ev.string('B', b), ev.string('C', cc)]);
      assert.equal(k.stepContent(r), want, `A=${a} B=${b} C=${cc}`);
    }
  });

  it('DECISION without an applicable outcome: rootFaults on the page, nothing committed, a retry works', async () => {
    const code = k.value('Code');
    const ok = k.value('ok', 'ContentString', { defaultContentValue: 'ok' });
    const p = k.page('Ask', [{ developerName: 'Code', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(code) }]);
    const start = k.element('START', 'Start');
    const ask = k.element('input', 'Ask', { pageElementId: p.id });
    const check = k.element('DECISION', 'Check');
    const good = k.element('step', 'Good', { userContent: 'good {![Code]}' });
    start.outcomes = [k.outcome('go', ask)];
    ask.outcomes = [k.outcome('Send', check)];
    check.outcomes = [k.outcome('is ok', good, { comparison: k.comparison('AND', [k.rule(k.ref(code), 'EQUAL', k.ref(ok))]) })];
    const { c, flow } = await deployFlow(k.snapshot('Check', { start, elements: [start, ask, check, good], values: [code, ok],
      pages: [p] }));
    const r = await c.start(flow);
    const bad = await c.move(r, { outcome: k.outcomeId(r, 'Send'), inputs: [k.input(k.comp(p, 'Code'), 'nope')] });
    assert.ok(k.rootFaults(bad) && typeof k.rootFaults(bad) === 'object', `no rootFaults: ${JSON.stringify(bad)}`);
    assert.match(faultText(bad), /outcome/i);
    assert.equal(bad.currentMapElementId, ask.id, 'the person stays on the page');
    assert.equal(bad.stateToken, r.stateToken, 'nothing was committed');
    const j = await c.join(r.stateId);
    assert.equal(j.json.stateToken, r.stateToken);
    assert.equal(k.dataOf(j.json, k.comp(p, 'Code').id).contentValue, null, 'the input of the failed move was not kept');
    const fine = await c.move(r, { outcome: k.outcomeId(r, 'Send'), inputs: [k.input(k.comp(p, 'Code'), 'ok')] });
    assert.equal(fine.invokeType, 'DONE');
    assert.equal(k.stepContent(fine), 'good ok');
  });

  it('OPERATOR: NEW, SET_EQUAL/VALUE_OF on properties, ADD, GET_FIRST, GET_NEXT, REMOVE, EMPTY on lists of objects (by order)', async () => {
    const item = k.type('Item', [['Name', 'ContentString'], ['Qty', 'ContentNumber']]);
    const objs = [k.object(item, { Name: 'Alpha', Qty: '1' }, 'a'), k.object(item, { Name: 'Bravo', Qty: '2' }, 'b'),
      k.object(item, { Name: 'Charlie', Qty: '3' }, 'c')];
    const out = (n, ct, extra = {}) => k.value(n, ct, { access: 'OUTPUT', ...extra });
    const items = out('Items', 'ContentList', { typeElementId: item.id, defaultObjectData: objs });
    const cur = out('Cur', 'ContentObject', { typeElementId: item.id });
    const first = out('First', 'ContentObject', { typeElementId: item.id });
    const fresh = out('Fresh', 'ContentObject', { typeElementId: item.id });
    const curName = out('CurName', 'ContentString');
    const gone = out('Gone', 'ContentString', { defaultContentValue: 'still here' });
    const delta = k.value('delta', 'ContentString', { defaultContentValue: 'Delta' });
    const four = k.value('four', 'ContentNumber', { defaultContentValue: '4' });
    const ops = [
      k.op(k.ref(fresh), { id: null, typeElementPropertyId: null, command: 'NEW' }, 0),
      k.op(k.refCmd(fresh, 'SET_EQUAL', item, 'Name'), k.refCmd(delta, 'VALUE_OF'), 1),
      k.op(k.refCmd(fresh, 'SET_EQUAL', item, 'Qty'), k.refCmd(four, 'VALUE_OF'), 2),
      k.op(k.refCmd(items, 'ADD'), k.ref(fresh), 3),
      k.op(k.ref(cur), k.refCmd(items, 'GET_FIRST'), 4),
      k.op(k.ref(cur), k.refCmd(items, 'GET_NEXT'), 5),
      k.op(k.refCmd(items, 'REMOVE'), k.ref(cur), 6),
      k.op(k.refCmd(gone, 'EMPTY'), null, 7),
      k.op(k.ref(curName), k.ref(cur, item, 'Name'), 8),
      k.op(k.ref(first), k.refCmd(items, 'GET_FIRST'), 9),
    ];
    // shuffled: the engine must run them by "order"
    const shuffled = [ops[5], ops[0], ops[8], ops[3], ops[1], ops[9], ops[6], ops[2], ops[4], ops[7]];
    const start = k.element('START', 'Start');
    const work = k.element('OPERATOR', 'Work', { operations: shuffled });
    start.outcomes = [k.outcome('go', work)];
    const { c, flow } = await deployFlow(k.snapshot('Operators', { start, elements: [start, work],
      values: [items, cur, first, fresh, curName, gone, delta, four], types: [item] }));
    const r = await c.start(flow);
    assert.equal(k.rootFaults(r), null, JSON.stringify(k.rootFaults(r)));
    assert.equal(r.invokeType, 'DONE', 'an operator without outcomes ends the flow');
    const names = (o) => o.objectData.map((x) => k.propValue(x, 'Name'));
    assert.deepEqual(names(k.outputOf(r, 'Items')), ['Alpha', 'Charlie', 'Delta'], 'ADD appended, REMOVE took Bravo out');
    assert.deepEqual(names(k.outputOf(r, 'Cur')), ['Bravo'], 'GET_FIRST then GET_NEXT');
    assert.equal(k.outputOf(r, 'Cur').objectData[0].externalId, 'b');
    assert.deepEqual(names(k.outputOf(r, 'First')), ['Alpha']);
    assert.equal(k.outputOf(r, 'CurName').contentValue, 'Bravo', 'a property path as the reference');
    assert.equal(k.outputOf(r, 'Gone').contentValue, null, 'EMPTY');
    const f = k.outputOf(r, 'Fresh').objectData;
    assert.equal(f.length, 1);
    assert.equal(k.propValue(f[0], 'Name'), 'Delta');
    assert.equal(k.propValue(f[0], 'Qty'), '4');
    assert.equal(f[0].developerName, 'Item');
    assert.equal(f[0].typeElementId, item.id);
    assert.equal(k.outputOf(r, 'Items').contentType, 'ContentList');
    assert.ok(!r.outputs.some((o) => o.developerName === 'delta'), 'PRIVATE values are not outputs');
  });

  it('MESSAGE: inputs go to the Atom\'s Greet action, its outputs come back into values (FORWARD answer)', async () => {
    const name = k.value('Name');
    const lang = k.value('Language');
    const greeting = k.value('Greeting');
    const exec = k.value('Execution');
    const svc = k.service('Upload', `${srv.url}/fs/upload`, { username: srv.user, password: srv.token });
    const p = k.page('Ask', [
      { developerName: 'Name', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(name) },
      { developerName: 'Language', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(lang) }]);
    const start = k.element('START', 'Start');
    const ask = k.element('input', 'Ask', { pageElementId: p.id });
    const msg = k.element('MESSAGE', 'Greet', { messageActions: [k.messageAction(svc, 'Greet', {
      inputs: [['Name', k.ref(name)], ['Language', k.ref(lang)]],
      outputs: [['Message', k.ref(greeting)], ['Execution', k.ref(exec)]] })] });
    const show = k.element('step', 'Show', { userContent: '{![Greeting]}|{![Execution]}' });
    k.chain(start, ask, msg, show);
    const { c, flow } = await deployFlow(k.snapshot('Greet', { start, elements: [start, ask, msg, show],
      values: [name, lang, greeting, exec], services: [svc], pages: [p] }));
    const r = await c.start(flow);
    assert.equal(r.currentMapElementId, ask.id);
    const done = await c.move(r, { outcome: k.outcomeId(r, 'next'), inputs: [
      k.input(k.comp(p, 'Name'), 'Zoë <x>'), k.input(k.comp(p, 'Language'), 'fr')] });
    assert.equal(k.rootFaults(done), null, JSON.stringify(k.rootFaults(done)));
    assert.equal(done.currentMapElementId, show.id);
    const [text, execution] = k.stepContent(done).split('|');
    assert.equal(text, 'Bonjour, Zoë &lt;x&gt; !');
    assert.match(execution, UUID, 'the second output was applied too');
  });
});

describe('flow run API: pages', () => {
  let srv;
  let deployFlow;
  before(hook(async () => {
    srv = await startServer({ deploy: UPLOAD });
    deployFlow = async (snap) => {
      const { tenant, flow } = await k.importFlow(srv.data, snap);
      return { tenant, flow, c: new k.RunClient(srv.url, tenant) };
    };
  }));
  after(hook(async () => { await srv?.stop(); }));

  it('page response shapes: containers (nested), components, data (bound values, table selection, objectDataRequest), outcomes', async () => {
    const item = k.type('Item', [['Name', 'ContentString'], ['Qty', 'ContentNumber']]);
    const objs = [k.object(item, { Name: 'Alpha', Qty: '1' }, 'a'), k.object(item, { Name: 'Bravo', Qty: '2' }, 'b'),
      k.object(item, { Name: 'Charlie', Qty: '3' }, 'c')];
    const items = k.value('Items', 'ContentList', { typeElementId: item.id, defaultObjectData: objs });
    const selected = k.value('Selected', 'ContentObject', { typeElementId: item.id, defaultObjectData: [objs[1]] });
    const name = k.value('Name', 'ContentString', { defaultContentValue: 'Ada' });
    const age = k.value('Age', 'ContentNumber', { defaultContentValue: '36' });
    const town = k.value('Town', 'ContentString', { defaultContentValue: 'Dublin' });
    const svc = k.service('Upload', `${srv.url}/fs/upload`, { username: srv.user, password: srv.token });
    const cust = k.type('customers', [['id', 'ContentNumber'], ['name', 'ContentString'], ['city', 'ContentString']],
      { serviceElementId: svc.id });
    const p = k.page('Form', [
      { developerName: 'Name', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(name), isRequired: true,
        hintValue: 'your name', maxSize: 40, size: 20 },
      { developerName: 'Age', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(age) },
      { developerName: 'Items', componentType: 'TABLE', valueElementDataBindingReferenceId: k.ref(items),
        valueElementValueBindingReferenceId: k.ref(selected), isMultiSelect: false,
        columns: [{ typeElementPropertyId: k.prop(item, 'Name').id, label: 'Item', order: 0, isDisplayValue: true },
          { typeElementPropertyId: k.prop(item, 'Qty').id, label: '', order: 1, isDisplayValue: true }] },
      { developerName: 'Customers', componentType: 'TABLE',
        objectDataRequest: { typeElementId: cust.id, typeElementBindingId: null, serviceElementId: svc.id, command: null,
          listFilter: k.listFilter(cust, { where: [['city', 'EQUAL', k.ref(town)]], limit: 5, orderBy: 'id' }) },
        columns: [{ typeElementPropertyId: k.prop(cust, 'name').id, label: 'Name', order: 0, isDisplayValue: true }] },
      { developerName: 'Intro', componentType: 'PRESENTATION', content: '<p>Hi {![Name]}</p>' },
    ]);
    const row = { id: k.id(), containerType: 'HORIZONTAL_FLOW', developerName: 'row', label: 'Row', order: 0, pageContainers: [] };
    p.pageContainers[0].pageContainers = [row];
    k.comp(p, 'Intro').pageContainerId = row.id;
    k.comp(p, 'Intro').pageContainerDeveloperName = 'row';
    const start = k.element('START', 'Start');
    const form = k.element('input', 'Form', { pageElementId: p.id });
    const end = k.element('step', 'End', { userContent: 'end' });
    start.outcomes = [k.outcome('go', form)];
    form.outcomes = [k.outcome('Save', end, { pageActionType: 'SAVE', order: 0 }),
      k.outcome('Cancel', end, { pageActionBindingType: 'NO_SAVE', order: 1 })];
    const { c, flow } = await deployFlow(k.snapshot('Shapes', { start, elements: [start, form, end],
      values: [items, selected, name, age, town], types: [item, cust], services: [svc], pages: [p] }));
    const r = await c.start(flow);
    assert.equal(r.invokeType, 'FORWARD');
    const pr = k.mer(r).pageResponse;
    assert.equal(pr.label, 'Form');
    // containers: the tree, with the nested key renamed
    assert.equal(pr.pageContainerResponses.length, 1);
    const main = pr.pageContainerResponses[0];
    assert.equal(main.id, p.pageContainers[0].id);
    assert.equal(main.containerType, 'VERTICAL_FLOW');
    assert.equal(main.developerName, 'main');
    assert.equal(main.pageContainerResponses.length, 1);
    assert.equal(main.pageContainerResponses[0].id, row.id);
    assert.equal(main.pageContainerResponses[0].containerType, 'HORIZONTAL_FLOW');
    assert.deepEqual(main.pageContainerResponses[0].pageContainerResponses, []);
    const cdata = Object.fromEntries(pr.pageContainerDataResponses.map((d) => [d.pageContainerId, d]));
    for (const id of [main.id, row.id]) {
      assert.ok(cdata[id], `no container data for ${id}`);
      assert.equal(cdata[id].isVisible, true);
      assert.equal(cdata[id].isEnabled, true);
    }
    // components: static metadata
    const comps = Object.fromEntries(pr.pageComponentResponses.map((x) => [x.developerName, x]));
    assert.deepEqual(Object.keys(comps).sort(), ['Age', 'Customers', 'Intro', 'Items', 'Name']);
    assert.equal(comps.Name.id, k.comp(p, 'Name').id);
    assert.equal(comps.Name.componentType, 'INPUT');
    assert.equal(comps.Name.contentType, 'ContentString');
    assert.equal(comps.Name.pageContainerId, main.id);
    assert.equal(comps.Name.hintValue, 'your name');
    assert.equal(comps.Name.maxSize, 40);
    assert.equal(comps.Name.size, 20);
    assert.equal(comps.Name.hasEvents, false);
    assert.equal(comps.Age.contentType, 'ContentNumber');
    assert.equal(comps.Intro.pageContainerId, row.id);
    assert.deepEqual(comps.Items.columns.map((col) => [col.developerName, col.label, col.contentType, col.isDisplayValue,
      col.typeElementPropertyId]), [['Name', 'Item', 'ContentString', true, k.prop(item, 'Name').id],
      ['Qty', 'Qty', 'ContentNumber', true, k.prop(item, 'Qty').id]]);
    assert.equal(comps.Items.isMultiSelect, false);
    // component data: dynamic values
    const data = Object.fromEntries(pr.pageComponentDataResponses.map((d) => [d.pageComponentId, d]));
    const d = (n) => data[k.comp(p, n).id];
    for (const n of ['Name', 'Age', 'Items', 'Customers', 'Intro']) {
      assert.ok(d(n), `no data response for ${n}`);
      assert.equal(d(n).isVisible, true, n);
      assert.equal(d(n).isEnabled, true, n);
      assert.equal(d(n).isValid, true, n);
    }
    assert.equal(d('Name').contentValue, 'Ada');
    assert.equal(d('Name').isRequired, true);
    assert.equal(d('Age').contentValue, '36');
    assert.equal(d('Age').isRequired, false);
    assert.equal(d('Intro').content, '<p>Hi Ada</p>');
    const rows = d('Items').objectData;
    assert.equal(rows.length, 3);
    assert.deepEqual(rows.map((o) => [o.externalId, k.propValue(o, 'Name'), o.isSelected]),
      [['a', 'Alpha', false], ['b', 'Bravo', true], ['c', 'Charlie', false]]);
    assert.equal(d('Items').objectDataRequest, null, 'a value-bound list comes inline');
    const odr = d('Customers').objectDataRequest;
    assert.ok(odr && typeof odr === 'object', 'a service-bound component carries an objectDataRequest');
    assert.equal(odr.objectDataType.developerName, 'customers');
    assert.equal(odr.listFilter.limit, 5);
    assert.equal(odr.listFilter.orderByPropertyDeveloperName, 'id');
    assert.equal(odr.stateId, r.stateId);
    assert.deepEqual(odr.listFilter.where.map((w) => [w.columnName, w.criteriaType, w.contentValue]), [['city', 'EQUAL', 'Dublin']],
      'the design-time value reference is resolved to the runtime value');
    assert.equal(d('Customers').objectData, null, 'the player loads the rows itself');
    // outcomes
    const outs = k.mer(r).outcomeResponses;
    assert.deepEqual(outs.map((o) => [o.developerName, o.pageActionBindingType, o.order]),
      [['Save', 'SAVE', 0], ['Cancel', 'NO_SAVE', 1]]);
    for (const o of outs) {
      assert.match(o.id, UUID);
      assert.equal(o.label, o.developerName);
      assert.equal(o.isBulkAction, false);
    }
    assert.equal(outs[0].pageActionType, 'SAVE');
    assert.equal(k.mer(r).rootFaults, null);
  });

  it('a table selection posted with the outcome is stored in the value binding', async () => {
    const item = k.type('Item', [['Name', 'ContentString']]);
    const objs = ['Alpha', 'Bravo', 'Charlie'].map((n) => k.object(item, { Name: n }, n.toLowerCase()));
    const items = k.value('Items', 'ContentList', { typeElementId: item.id, defaultObjectData: objs });
    const picked = k.value('Picked', 'ContentObject', { typeElementId: item.id });
    const p = k.page('Pick', [{ developerName: 'Items', componentType: 'TABLE', valueElementDataBindingReferenceId: k.ref(items),
      valueElementValueBindingReferenceId: k.ref(picked), isRequired: true,
      columns: [{ typeElementPropertyId: k.prop(item, 'Name').id, order: 0, isDisplayValue: true }] }]);
    const start = k.element('START', 'Start');
    const pick = k.element('input', 'Pick', { pageElementId: p.id });
    const show = k.element('step', 'Show', { userContent: 'picked {![Picked].[Name]}' });
    k.chain(start, pick, show);
    const { c, flow } = await deployFlow(k.snapshot('Pick', { start, elements: [start, pick, show], values: [items, picked],
      types: [item], pages: [p] }));
    const r = await c.start(flow);
    assert.deepEqual(k.dataOf(r, k.comp(p, 'Items').id).objectData.map((o) => o.isSelected), [false, false, false]);
    const none = await c.move(r, { outcome: k.outcomeId(r, 'next'), inputs: [k.input(k.comp(p, 'Items'), null, [])] });
    assert.equal(k.dataOf(none, k.comp(p, 'Items').id).isValid, false, 'a required table needs a selection');
    const chosen = { ...objs[2], isSelected: true };
    const done = await c.move(r, { outcome: k.outcomeId(r, 'next'), inputs: [k.input(k.comp(p, 'Items'), null, [chosen])] });
    assert.equal(k.stepContent(done), 'picked Charlie');
  });

  it('page conditions: METADATA.VISIBLE follows a component\'s input on SYNC; hasEvents marks the referenced component', async () => {
    const show = k.value('Show');
    const secret = k.value('Secret');
    const plain = k.value('Plain');
    const yes = k.value('yes', 'ContentString', { defaultContentValue: 'yes' });
    const p = k.page('Cond', [
      { developerName: 'Show', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(show) },
      { developerName: 'Secret', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(secret), isRequired: true },
      { developerName: 'Plain', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(plain) }]);
    p.pageConditions = [k.pageCondition([k.pageRule(k.compOperand(k.comp(p, 'Show')), 'EQUAL', k.valueOperand(k.ref(yes)))],
      k.comp(p, 'Secret'), 'METADATA.VISIBLE')];
    const start = k.element('START', 'Start');
    const page = k.element('input', 'Cond', { pageElementId: p.id });
    const end = k.element('step', 'End', { userContent: '{![Show]}|{![Secret]}|{![Plain]}' });
    k.chain(start, page, end);
    const { c, flow } = await deployFlow(k.snapshot('Cond', { start, elements: [start, page, end],
      values: [show, secret, plain, yes], pages: [p] }));
    const id = (n) => k.comp(p, n).id;
    const r = await c.start(flow);
    const ev0 = Object.fromEntries(k.pageComps(r).map((x) => [x.developerName, x.hasEvents]));
    assert.deepEqual(ev0, { Show: true, Secret: false, Plain: false });
    assert.equal(k.dataOf(r, id('Secret')).isVisible, false, 'hidden while Show is not "yes"');
    assert.equal(k.dataOf(r, id('Plain')).isVisible, true);

    const s1 = await c.move(r, { invokeType: 'SYNC', inputs: [k.input(k.comp(p, 'Show'), 'yes'),
      k.input(k.comp(p, 'Secret'), ''), k.input(k.comp(p, 'Plain'), 'p1')] });
    assert.equal(s1.invokeType, 'SYNC');
    assert.equal(s1.currentMapElementId, page.id);
    assert.equal(k.dataOf(s1, id('Secret')).isVisible, true, 'shown after SYNC with Show = yes');
    assert.equal(k.dataOf(s1, id('Show')).contentValue, 'yes');
    assert.equal(k.dataOf(s1, id('Secret')).isValid, true, 'SYNC does not validate');

    const s2 = await c.move(s1, { invokeType: 'SYNC', inputs: [k.input(k.comp(p, 'Show'), 'no'),
      k.input(k.comp(p, 'Secret'), ''), k.input(k.comp(p, 'Plain'), 'p2')] });
    assert.equal(k.dataOf(s2, id('Secret')).isVisible, false, 'hidden again with Show = no');
    // a hidden required component is neither validated nor saved
    const done = await c.move(s2, { outcome: k.outcomeId(s2, 'next'), inputs: [k.input(k.comp(p, 'Show'), 'no'),
      k.input(k.comp(p, 'Secret'), 'sneaky'), k.input(k.comp(p, 'Plain'), 'p3')] });
    assert.equal(done.invokeType, 'DONE', JSON.stringify(k.pageData(done)));
    assert.equal(k.stepContent(done), 'no||p3');
  });

  function validationFlow() {
    const v = {
      req: k.value('Req', 'ContentString', { defaultContentValue: null }),
      num: k.value('Num', 'ContentNumber', { defaultContentValue: '1' }),
      bool: k.value('Bool', 'ContentBoolean', { defaultContentValue: 'false' }),
      when: k.value('When', 'ContentDateTime', { defaultContentValue: '2020-01-01T00:00:00Z' }),
      short: k.value('Short', 'ContentString', { defaultContentValue: 'abc' }),
      code: k.value('Code', 'ContentString', { defaultContentValue: 'ABC' }),
      min: k.value('Min', 'ContentNumber', { defaultContentValue: '10' }),
    };
    const p = k.page('Validate', [
      { developerName: 'Req', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(v.req), isRequired: true },
      { developerName: 'Num', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(v.num) },
      { developerName: 'Bool', componentType: 'CHECKBOX', valueElementValueBindingReferenceId: k.ref(v.bool) },
      { developerName: 'When', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(v.when) },
      { developerName: 'Short', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(v.short), maxSize: 5 },
      { developerName: 'Code', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(v.code),
        validations: [{ type: 'regex', value: '^[A-Z]{3}$', message: 'Three capitals' }] },
      { developerName: 'Min', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(v.min),
        validations: [{ type: 'minimum', value: 10, message: null }] },
    ]);
    const start = k.element('START', 'Start');
    const page = k.element('input', 'Validate', { pageElementId: p.id });
    const show = k.element('step', 'Show',
      { userContent: '{![Req]}|{![Num]}|{![Bool]}|{![When]}|{![Short]}|{![Code]}|{![Min]}' });
    start.outcomes = [k.outcome('go', page)];
    page.outcomes = [k.outcome('Submit', show, { order: 0 }),
      k.outcome('Cancel', show, { order: 1, pageActionBindingType: 'NO_SAVE' }),
      k.outcome('Draft', show, { order: 2, pageActionBindingType: 'PARTIAL_SAVE' })];
    return { p, page, show, snap: k.snapshot('Validate', { start, elements: [start, page, show], values: Object.values(v),
      pages: [p] }) };
  }

  const GOOD = { Req: 'here', Num: '12.5', Bool: 'true', When: '2024-05-06T07:08:09Z', Short: 'abcde', Code: 'XYZ', Min: '10' };
  const inputsOf = (p, vals) => Object.entries(vals).map(([n, val]) => k.input(k.comp(p, n), val));

  it('validation: required, number/boolean/datetime types, maxSize, regex and minimum each refuse the move and change nothing', async () => {
    const { p, page, snap } = validationFlow();
    const { c, flow } = await deployFlow(snap);
    const r = await c.start(flow);
    const defaults = Object.fromEntries(k.pageData(r).map((d) => [d.pageComponentId, d.contentValue]));
    const cases = [
      ['Req', ''], ['Num', 'twelve'], ['Bool', 'maybe'], ['When', 'next tuesday'], ['When', '2024-13-45'],
      ['Short', 'abcdef'], ['Code', 'xyz'], ['Min', '9.5'],
    ];
    const failures = [];
    for (const [bad, value] of cases) {
      const res = await c.invoke(r, { outcome: k.outcomeId(r, 'Submit'), inputs: inputsOf(p, { ...GOOD, [bad]: value }) });
      assert.equal(res.status, 200, res.text);
      const x = res.json;
      const dd = k.dataOf(x, k.comp(p, bad).id);
      const others = k.pageData(x).filter((e) => e.pageComponentId !== k.comp(p, bad).id && e.isValid === false);
      if (x.currentMapElementId !== page.id) failures.push(`${bad}=${value}: moved on to ${x.currentMapElementId}`);
      else if (dd.isValid !== false) failures.push(`${bad}=${value}: isValid ${dd.isValid}`);
      else if (typeof dd.validationMessage !== 'string' || !dd.validationMessage) failures.push(`${bad}=${value}: no validationMessage`);
      else if (others.length) failures.push(`${bad}=${value}: others invalid too: ${others.map((e) => e.pageComponentId)}`);
      else if (dd.contentValue !== value) failures.push(`${bad}=${value}: the input is not echoed (${dd.contentValue})`);
      if (x.stateToken !== r.stateToken) failures.push(`${bad}=${value}: the token changed`);
      if (bad === 'Code' && dd.validationMessage !== 'Three capitals') failures.push(`Code: message ${dd.validationMessage}`);
      // nothing was saved: joining shows the page with the old values
      const j = await c.join(r.stateId);
      assert.equal(j.status, 200, j.text);
      if (j.json.stateToken !== r.stateToken) failures.push(`${bad}=${value}: join shows another token`);
      if (j.json.currentMapElementId !== page.id) failures.push(`${bad}=${value}: join is not on the page`);
      const now = Object.fromEntries(k.pageData(j.json).map((e) => [e.pageComponentId, e.contentValue]));
      if (JSON.stringify(now) !== JSON.stringify(defaults)) failures.push(`${bad}=${value}: values changed: ${JSON.stringify(now)}`);
      if (k.pageData(j.json).some((e) => e.isValid === false)) failures.push(`${bad}=${value}: join still shows validation`);
    }
    assert.deepEqual(failures, []);
    // and the same token still moves with good input
    // the player may send numbers and booleans as JSON numbers and booleans
    const done = await c.move(r, { outcome: k.outcomeId(r, 'Submit'), inputs: inputsOf(p, { ...GOOD, Num: 12.5, Bool: true }) });
    assert.equal(done.invokeType, 'DONE');
    assert.equal(k.stepContent(done), 'here|12.5|true|2024-05-06T07:08:09Z|abcde|XYZ|10');
  });

  it('NO_SAVE drops the page input; PARTIAL_SAVE keeps well-typed input without the required checks', async () => {
    const { p, snap } = validationFlow();
    const { c, flow } = await deployFlow(snap);
    let r = await c.start(flow);
    const cancelled = await c.move(r, { outcome: k.outcomeId(r, 'Cancel'), inputs: inputsOf(p, { ...GOOD, Num: 'junk' }) });
    assert.equal(cancelled.invokeType, 'DONE');
    assert.equal(k.stepContent(cancelled), '|1|false|2020-01-01T00:00:00Z|abc|ABC|10', 'nothing saved, nothing validated');

    r = await c.start(flow);
    const drafted = await c.move(r, { outcome: k.outcomeId(r, 'Draft'),
      inputs: inputsOf(p, { ...GOOD, Req: '', Num: '7', Bool: 'maybe', Short: 'xy' }) });
    assert.equal(drafted.invokeType, 'DONE', JSON.stringify(k.pageData(drafted)));
    assert.equal(k.stepContent(drafted), '|7|false|2024-05-06T07:08:09Z|xy|XYZ|10',
      'the empty required Req passes, the bad boolean is not saved, the rest is');
  });
  it('the page shown after a move shows the stored values, not the input just posted', async () => {
    const name = k.value('Name', 'ContentString', { defaultContentValue: 'old' });
    const over = k.value('over', 'ContentString', { defaultContentValue: 'overwritten' });
    const p = k.page('Edit', [{ developerName: 'Name', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(name) }]);
    const start = k.element('START', 'Start');
    const first = k.element('input', 'First', { pageElementId: p.id });
    const second = k.element('input', 'Second', { pageElementId: p.id });
    const overwrite = k.element('OPERATOR', 'Overwrite', { operations: [k.op(k.ref(name), k.ref(over))] });
    const third = k.element('input', 'Third', { pageElementId: p.id });
    start.outcomes = [k.outcome('go', first)];
    first.outcomes = [k.outcome('Discard', second, { pageActionBindingType: 'NO_SAVE' })];
    second.outcomes = [k.outcome('Keep', overwrite)];
    overwrite.outcomes = [k.outcome('next', third)];
    const { c, flow } = await deployFlow(k.snapshot('Same page', { start, elements: [start, first, second, overwrite, third],
      values: [name, over], pages: [p] }));
    const id = k.comp(p, 'Name').id;
    const r = await c.start(flow);
    const s2 = await c.move(r, { outcome: k.outcomeId(r, 'Discard'), inputs: [k.input(k.comp(p, 'Name'), 'dropped')] });
    assert.equal(s2.currentMapElementId, second.id);
    assert.equal(k.dataOf(s2, id).contentValue, 'old', 'the dropped input is not shown as if it were saved');
    const s3 = await c.move(s2, { outcome: k.outcomeId(s2, 'Keep'), inputs: [k.input(k.comp(p, 'Name'), 'kept')] });
    assert.equal(s3.currentMapElementId, third.id);
    assert.equal(k.dataOf(s3, id).contentValue, 'overwritten', 'the operator after the page changed the value');
    assert.equal(k.dataOf((await c.join(r.stateId)).json, id).contentValue, 'overwritten');
  });
});

describe('flow run API: routes and errors', () => {
  let srv;
  let tenant;
  let c;
  let pages; // { flow, p, pb, a, b, cEl, nav, snap, start, result }
  before(hook(async () => {
    srv = await startServer({ deploy: UPLOAD });
    // START → A (input Who) → B → C (step); a navigation menu to A and C; an INPUT value and an OUTPUT value
    const who = k.value('Who', 'ContentString', { access: 'INPUT' });
    const secret = k.value('Secret', 'ContentString', { access: 'PRIVATE' });
    const result = k.value('Result', 'ContentString', { access: 'OUTPUT', defaultContentValue: 'r0' });
    const p = k.page('A page', [{ developerName: 'Who', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(who) }]);
    const pb = k.page('B page', [{ developerName: 'Hello', componentType: 'PRESENTATION', content: 'Hello {![Who]}' }]);
    const start = k.element('START', 'Start');
    const a = k.element('input', 'A', { pageElementId: p.id });
    const b = k.element('input', 'B', { pageElementId: pb.id });
    const cEl = k.element('step', 'C', { userContent: 'C {![Who]} {![Result]}' });
    k.chain(start, a, b, cEl);
    const nav = k.navigation('Menu', [['To A', a], ['To B', b]]);
    const snap = k.snapshot('Routes', { start, elements: [start, a, b, cEl], values: [who, secret, result], pages: [p, pb],
      navigations: [nav] });
    const imp = await k.importFlow(srv.data, snap);
    tenant = imp.tenant;
    c = new k.RunClient(srv.url, tenant);
    pages = { flow: imp.flow, p, pb, a, b, cEl, nav, snap, start, result };
  }));
  after(hook(async () => { await srv?.stop(); }));

  it('POST /api/run/1 creates a state at START without running it; FORWARD without an outcome kicks it', async () => {
    const init = await c.init(pages.flow, { inputs: [ev.string('Who', 'Ida')] });
    assert.equal(init.status, 200, init.text);
    assert.match(init.json.stateId, UUID);
    assert.equal(typeof init.json.stateToken, 'string');
    assert.equal(init.json.currentMapElementId, pages.start.id);
    assert.equal(init.json.statusCode, '200');
    assert.ok(Array.isArray(init.json.navigationElementReferences));
    const kicked = await c.move({ ...init.json }, {});
    assert.equal(kicked.currentMapElementId, pages.a.id);
    assert.equal(kicked.invokeType, 'FORWARD');
    assert.equal(k.dataOf(kicked, k.comp(pages.p, 'Who').id).contentValue, 'Ida', 'the input reached the INPUT value');
    assert.equal(kicked.stateId, init.json.stateId);
    assert.notEqual(kicked.stateToken, init.json.stateToken);
    assert.equal(kicked.flowId.id.toLowerCase(), pages.flow.toLowerCase());
    assert.equal(kicked.flowName, 'Routes');
  });

  it('POST /api/run/1/state by id and by developerName; versionId selects a version', async () => {
    const byName = await c.startRaw({ id: '00000000-0000-0000-0000-000000000000', developerName: 'Routes', versionId: null,
      inputs: null });
    assert.equal(byName.status, 200, byName.text);
    assert.equal(byName.json.currentMapElementId, pages.a.id);
    const byNameOnly = await c.startRaw({ developerName: 'Routes' });
    assert.equal(byNameOnly.status, 200, byNameOnly.text);
    assert.equal(byNameOnly.json.flowId.id.toLowerCase(), pages.flow.toLowerCase());
    const unknown = await c.startRaw({ developerName: 'No such flow' });
    assertRunProblem(unknown, 404);

    // two versions of one flow
    const start = k.element('START', 'Start');
    const step = k.element('step', 'Which', { userContent: 'v1' });
    start.outcomes = [k.outcome('go', step)];
    const v1 = k.snapshot('Versions', { start, elements: [start, step] });
    const v2 = structuredClone(v1);
    v2.id.versionId = k.id();
    v2.mapElements[1].userContent = 'v2';
    const { flow } = await k.importFlow(srv.data, v1);
    await k.importFlow(srv.data, v2);
    const active = await c.start(flow);
    assert.equal(k.stepContent(active), 'v2', 'the newest import is active');
    assert.equal(active.flowId.versionId, v2.id.versionId);
    const old = await c.start(flow, null, v1.id.versionId);
    assert.equal(k.stepContent(old), 'v1');
    assert.equal(old.flowId.versionId, v1.id.versionId);
    const viaInit = await c.init(flow, { versionId: v1.id.versionId });
    assert.equal(viaInit.status, 200, viaInit.text);
    const kicked = await c.move(viaInit.json, {});
    assert.equal(k.stepContent(kicked), 'v1');
    assertRunProblem(await c.startRaw({ id: flow, versionId: k.id() }), 404);
  });

  it('inputs: an unknown input and a PRIVATE value (or an OUTPUT one) are refused with 400 problem JSON', async () => {
    const unknown = await c.startRaw({ id: pages.flow, inputs: [ev.string('Nobody', 'x')] });
    assertRunProblem(unknown, 400, { message: /Nobody/ });
    assert.match(unknown.json.where, /^\/inputs/);
    const priv = await c.startRaw({ id: pages.flow, inputs: [ev.string('Secret', 'x')] });
    assertRunProblem(priv, 400, { message: /Secret/ });
    const viaInit = await c.init(pages.flow, { inputs: [ev.string('Result', 'x')] });
    assertRunProblem(viaInit, 400, { message: /Result/ });
    const ok = await c.startRaw({ id: pages.flow, inputs: [ev.string('Who', 'Ok')] });
    assert.equal(ok.status, 200, ok.text);
  });

  it('a stale stateToken is refused with 409 and changes nothing', async () => {
    const r = await c.start(pages.flow);
    const moved = await c.move(r, { outcome: k.outcomeId(r, 'next'), inputs: [k.input(k.comp(pages.p, 'Who'), 'first')] });
    assert.equal(moved.currentMapElementId, pages.b.id);
    const stale = await c.invoke(r, { outcome: k.outcomeId(r, 'next'), inputs: [k.input(k.comp(pages.p, 'Who'), 'second')] });
    assertRunProblem(stale, 409, { where: '/stateToken' });
    const j = await c.join(r.stateId);
    assert.equal(j.json.stateToken, moved.stateToken);
    assert.equal(j.json.currentMapElementId, pages.b.id);
    assert.equal(k.dataOf(j.json, k.comp(pages.pb, 'Hello').id).content,
      'Hello first', 'the stale request\'s input was not applied');
    // two requests racing with the same (current) token: exactly one wins, the other is refused
    const j2 = j.json;
    const racers = await Promise.all(['x', 'y', 'z'].map((v) => c.invoke(j2, { invokeType: 'FORWARD', outcome: k.outcomeId(j2, 'next') })));
    assert.deepEqual(racers.map((x) => x.status).sort(), [200, 409, 409], racers.map((x) => x.text.slice(0, 200)).join('\n'));
    const winner = racers.find((x) => x.status === 200).json;
    assert.equal(winner.currentMapElementId, pages.cEl.id);
    assert.equal((await c.join(r.stateId)).json.stateToken, winner.stateToken);
    // SYNC with a stale token is refused too
    assertRunProblem(await c.invoke(j2, { invokeType: 'SYNC' }), 409);
    // a missing token is a bad request
    const none = await c.call('POST', `/api/run/1/state/${r.stateId}`, { invokeType: 'FORWARD', stateId: r.stateId });
    assertRunProblem(none, 400, { where: '/stateToken' });
  });

  it('ManyWhoTenant: missing → 400, unknown → 404; another tenant\'s state → 404', async () => {
    const r = await c.start(pages.flow);
    const noTenant = await fetch(`${srv.url}/api/run/1/state/${r.stateId}`);
    const nt = { status: noTenant.status, headers: noTenant.headers, text: await noTenant.text() };
    nt.json = JSON.parse(nt.text);
    assertRunProblem(nt, 400, { where: 'ManyWhoTenant' });
    const ghost = new k.RunClient(srv.url, k.id());
    assertRunProblem(await ghost.join(r.stateId), 404);
    assertRunProblem(await ghost.startRaw({ id: pages.flow }), 404);
    // a second, real tenant cannot see or drive the first one's state
    const other = await k.importFlow(srv.data, pages.snap, 'someone-else');
    assert.notEqual(other.tenant, tenant);
    const oc = new k.RunClient(srv.url, other.tenant);
    assertRunProblem(await oc.join(r.stateId), 404);
    assertRunProblem(await oc.invoke(r, { outcome: k.outcomeId(r, 'next') }), 404);
    assertRunProblem(await oc.ping(r.stateId, r.stateToken), 404);
    assertRunProblem(await oc.history(r.stateId), 404);
    const j = await c.join(r.stateId);
    assert.equal(j.json.stateToken, r.stateToken, 'untouched');
    // its own copy of the flow runs in its own tenant
    const mine = await oc.start(other.flow);
    assert.equal(mine.currentMapElementId, pages.a.id);
    assertRunProblem(await c.join(mine.stateId), 404);
  });

  it('request errors: unknown outcome → 400, bad JSON → 400 with where, bad invokeType → 400, unknown state → 404', async () => {
    const r = await c.start(pages.flow);
    const unknownOutcome = await c.invoke(r, { outcome: k.id() });
    assertRunProblem(unknownOutcome, 400);
    const syntax = await fetch(`${srv.url}/api/run/1/state/${r.stateId}`, { method: 'POST',
      headers: { 'Content-Type': 'application/json', ManyWhoTenant: tenant }, body: '{"invokeType": "FORWARD", ' });
    const st = { status: syntax.status, headers: syntax.headers, text: await syntax.text() };
    st.json = JSON.parse(st.text);
    assertRunProblem(st, 400);
    assert.equal(typeof st.json.where, 'string');
    const typed = await c.call('POST', `/api/run/1/state/${r.stateId}`, { invokeType: 42, stateToken: r.stateToken });
    assertRunProblem(typed, 400, { where: '/invokeType' });
    const weird = await c.call('POST', `/api/run/1/state/${r.stateId}`, { invokeType: 'JUMP', stateToken: r.stateToken });
    assertRunProblem(weird, 400, { where: '/invokeType' });
    const emptyInit = await c.call('POST', '/api/run/1', {});
    assertRunProblem(emptyInit, 400);
    assertRunProblem(await c.join(k.id()), 404);
    assertRunProblem(await c.ping(k.id(), r.stateToken), 404);
    assertRunProblem(await c.invoke({ ...r, stateId: k.id() }, {}), 404);
    const j = await c.join(r.stateId);
    assert.equal(j.json.stateToken, r.stateToken, 'none of the bad requests changed the state');
  });

  it('CORS: preflight OPTIONS is answered with Access-Control-Allow-*; responses carry Access-Control-Allow-Origin', async () => {
    const origin = 'http://player.example:8080';
    const pre = await fetch(`${srv.url}/api/run/1/state/${k.id()}`, { method: 'OPTIONS', headers: { Origin: origin,
      'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'manywhotenant,content-type' } });
    assert.ok(pre.status === 200 || pre.status === 204, `preflight status ${pre.status}`);
    const allowOrigin = pre.headers.get('access-control-allow-origin');
    assert.ok(allowOrigin === origin || allowOrigin === '*', `Allow-Origin ${allowOrigin}`);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /POST/);
    assert.match(pre.headers.get('access-control-allow-methods') ?? '', /GET/);
    const allowHeaders = (pre.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const h of ['manywhotenant', 'content-type', 'authorization', 'manywhostate']) assert.ok(allowHeaders.includes(h), `${h} in ${allowHeaders}`);
    const r = await c.call('POST', '/api/run/1/state', { id: pages.flow }, { Origin: origin });
    assert.equal(r.status, 200);
    assert.ok([origin, '*'].includes(r.headers.get('access-control-allow-origin')));
    const bad = await c.call('GET', `/api/run/1/state/${k.id()}`, undefined, { Origin: origin });
    assert.equal(bad.status, 404);
    assert.ok([origin, '*'].includes(bad.headers.get('access-control-allow-origin')), 'errors carry it too');
  });

  it('GET history lists the UI elements visited, in order', async () => {
    const r = await c.start(pages.flow);
    const b = await c.move(r, { outcome: k.outcomeId(r, 'next'), inputs: [k.input(k.comp(pages.p, 'Who'), 'h')] });
    const done = await c.move(b, { outcome: k.outcomeId(b, 'next') });
    assert.equal(done.invokeType, 'DONE');
    const h = await c.history(r.stateId);
    assert.equal(h.status, 200, h.text);
    assert.equal(h.json.stateId, r.stateId);
    assert.deepEqual(h.json.historyItems.map((x) => [x.mapElementId, x.developerName]),
      [[pages.a.id, 'A'], [pages.b.id, 'B'], [pages.cEl.id, 'C']]);
    for (const x of h.json.historyItems) assert.ok(!Number.isNaN(Date.parse(x.dateCreated)), x.dateCreated);
  });

  it('navigation: invoke and init responses reference the flow\'s navigation element', async () => {
    const r = await c.start(pages.flow);
    for (const [what, refs] of [['invoke', r.navigationElementReferences],
      ['init', (await c.init(pages.flow)).json.navigationElementReferences]]) {
      assert.ok(Array.isArray(refs), what);
      assert.ok(refs.some((x) => x.id === pages.nav.id && x.developerName === 'Menu'),
        `${what}: the flow's navigation must be referenced so the player asks for it: ${JSON.stringify(refs)}`);
    }
  });

  it('navigation: POST /navigation/{id} shape; NAVIGATE jumps to the item\'s element', async () => {
    const r = await c.start(pages.flow);
    const n = await c.navigation(r, pages.nav.id);
    assert.equal(n.status, 200, n.text);
    assert.equal(n.json.developerName, 'Menu');
    assert.equal(n.json.stateId, r.stateId);
    assert.equal(n.json.isVisible, true);
    assert.deepEqual(n.json.navigationItemResponses.map((x) => [x.id, x.developerName, x.label, x.order]),
      pages.nav.navigationItems.map((x, i) => [x.id, x.developerName, x.label, i]));
    for (const x of n.json.navigationItemResponses) assert.deepEqual(x.navigationItems, []);
    const items = Object.fromEntries(n.json.navigationItemDataResponses.map((x) => [x.navigationItemDeveloperName, x]));
    assert.equal(items['To A'].locationMapElementId, pages.a.id);
    assert.equal(items['To A'].isCurrent, true, 'the state is on A');
    assert.equal(items['To B'].isCurrent, false);
    assert.equal(items['To B'].isEnabled, true);
    assert.equal(items['To B'].locationMapElementId, pages.b.id);
    assertRunProblem(await c.navigation(r, k.id()), 404);

    const toB = pages.nav.navigationItems[1];
    const jumped = await c.move(r, { invokeType: 'NAVIGATE', extra: { navigationElementId: pages.nav.id,
      selectedNavigationItemId: toB.id } });
    assert.equal(jumped.currentMapElementId, pages.b.id);
    assert.equal(jumped.invokeType, 'FORWARD');
    assert.equal(k.dataOf(jumped, k.comp(pages.pb, 'Hello').id).content, 'Hello ');
    const n2 = await c.navigation(jumped, pages.nav.id);
    const items2 = Object.fromEntries(n2.json.navigationItemDataResponses.map((x) => [x.navigationItemDeveloperName, x]));
    assert.equal(items2['To B'].isCurrent, true);
    assert.equal(items2['To A'].isCurrent, false);
    const back = await c.move(jumped, { invokeType: 'NAVIGATE', extra: { navigationElementId: pages.nav.id,
      selectedNavigationItemId: pages.nav.navigationItems[0].id } });
    assert.equal(back.currentMapElementId, pages.a.id);
    const h = await c.history(r.stateId);
    assert.deepEqual(h.json.historyItems.map((x) => x.developerName), ['A', 'B', 'A']);
    const badItem = await c.invoke(back, { invokeType: 'NAVIGATE', extra: { navigationElementId: pages.nav.id,
      selectedNavigationItemId: k.id() } });
    assertRunProblem(badItem, 400);
  });

  it('customPageComponents is an empty list', async () => {
    const r = await c.call('GET', `/api/run/1/flow/${pages.flow}/${pages.snap.id.versionId}/customPageComponents`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, []);
  });

  it('DONE responses carry the OUTPUT values as outputs (and no PRIVATE or INPUT ones)', async () => {
    const r = await c.start(pages.flow, [ev.string('Who', 'W')]);
    const b = await c.move(r, { outcome: k.outcomeId(r, 'next'), inputs: [k.input(k.comp(pages.p, 'Who'), 'Wanda')] });
    assert.equal(b.outputs, null, 'no outputs before the end');
    const done = await c.move(b, { outcome: k.outcomeId(b, 'next') });
    assert.equal(done.invokeType, 'DONE');
    assert.ok(Array.isArray(done.outputs), JSON.stringify(done));
    assert.deepEqual(done.outputs.map((o) => o.developerName), ['Result']);
    const o = k.outputOf(done, 'Result');
    assert.equal(o.contentValue, 'r0');
    assert.equal(o.contentType, 'ContentString');
    assert.equal(o.valueElementId, pages.result.id);
    // a DONE state still joins and refuses to move
    const j = await c.join(r.stateId);
    assert.equal(j.json.invokeType, 'DONE');
    assert.ok(Array.isArray(j.json.outputs));
  });
});

describe('flow run API: joining after a restart', () => {
  it('a state run to a page survives a restart: join on a new server and continue to DONE', async () => {
    const srv = await startServer({});
    let srv2;
    try {
      const who = k.value('Who');
      const p = k.page('Ask', [{ developerName: 'Who', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(who) }]);
      const start = k.element('START', 'Start');
      const ask = k.element('input', 'Ask', { pageElementId: p.id });
      const again = k.element('input', 'Again', { pageElementId: p.id });
      const end = k.element('step', 'End', { userContent: 'bye {![Who]}' });
      k.chain(start, ask, again, end);
      const { tenant, flow } = await k.importFlow(srv.data, k.snapshot('Restart', { start, elements: [start, ask, again, end],
        values: [who], pages: [p] }));
      const c = new k.RunClient(srv.url, tenant);
      const r = await c.start(flow);
      const mid = await c.move(r, { outcome: k.outcomeId(r, 'next'), inputs: [k.input(k.comp(p, 'Who'), 'Ruth')] });
      assert.equal(mid.currentMapElementId, again.id);
      await srv.stop();

      srv2 = await startServer({ data: srv.data });
      const c2 = new k.RunClient(srv2.url, tenant);
      const j = await c2.join(r.stateId);
      assert.equal(j.status, 200, j.text);
      assert.equal(j.json.currentMapElementId, again.id);
      assert.equal(j.json.stateToken, mid.stateToken);
      assert.equal(k.dataOf(j.json, k.comp(p, 'Who').id).contentValue, 'Ruth');
      const done = await c2.move(j.json, { outcome: k.outcomeId(j.json, 'next'), inputs: [k.input(k.comp(p, 'Who'), 'Ruth B')] });
      assert.equal(done.invokeType, 'DONE');
      assert.equal(k.stepContent(done), 'bye Ruth B');
    } finally {
      await srv.stop();
      await srv2?.stop();
    }
  });
});

describe('flow run API: macros', () => {
  let srv;
  let deployFlow;
  before(hook(async () => {
    srv = await startServer({});
    deployFlow = async (snap) => {
      const { tenant, flow } = await k.importFlow(srv.data, snap);
      return { tenant, flow, c: new k.RunClient(srv.url, tenant) };
    };
  }));
  after(hook(async () => { await srv?.stop(); }));

  // START → Ask (Name) → OPERATOR running `code` → Show "{![Greeting]}"
  function macroFlow(code) {
    const name = k.value('Name');
    const greeting = k.value('Greeting', 'ContentString', { defaultContentValue: 'unset' });
    const m = k.macro('Greet', code);
    const p = k.page('Ask', [{ developerName: 'Name', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(name) }]);
    const start = k.element('START', 'Start');
    const ask = k.element('input', 'Ask', { pageElementId: p.id });
    const run = k.element('OPERATOR', 'Run macro', { operations: [k.macroOp(m)] });
    const show = k.element('step', 'Show', { userContent: '{![Greeting]}' });
    k.chain(start, ask, run, show);
    return { p, ask, snap: k.snapshot('Macro', { start, elements: [start, ask, run, show], values: [name, greeting], pages: [p],
      macros: [m] }) };
  }

  it('an OPERATOR macro reads and sets values', async () => {
    const { p, snap } = macroFlow("setStringValue('{![Greeting]}', 'Hi ' + getStringValue('{![Name]}'));");
    const { c, flow } = await deployFlow(snap);
    const r = await c.start(flow);
    const done = await c.move(r, { outcome: k.outcomeId(r, 'next'), inputs: [k.input(k.comp(p, 'Name'), 'Max')] });
    assert.equal(k.rootFaults(done), null, JSON.stringify(k.rootFaults(done)));
    assert.equal(done.invokeType, 'DONE');
    assert.equal(k.stepContent(done), 'Hi Max');
  });

  it('a runaway macro faults the invoke (time budget) and the engine keeps serving', async () => {
    const { p, ask, snap } = macroFlow('while (true) {}');
    const { c, flow } = await deployFlow(snap);
    const r = await c.start(flow);
    const t0 = Date.now();
    const bad = await c.move(r, { outcome: k.outcomeId(r, 'next'), inputs: [k.input(k.comp(p, 'Name'), 'Loop')] });
    assert.ok(Date.now() - t0 < 15000, 'the macro was stopped');
    assert.match(faultText(bad), /time budget/i);
    assert.equal(bad.currentMapElementId, ask.id);
    assert.equal(bad.stateToken, r.stateToken, 'nothing committed');
    // the engine (and its macro workers) keep working
    const good = macroFlow("setStringValue('Greeting', getStringValue('Name') + '!')");
    const g = await deployFlow(good.snap);
    const r2 = await g.c.start(g.flow);
    const done = await g.c.move(r2, { outcome: k.outcomeId(r2, 'next'), inputs: [k.input(k.comp(good.p, 'Name'), 'Still')] });
    assert.equal(k.stepContent(done), 'Still!');
  });

  it('a throwing macro gives a rootFault with the JavaScript message', async () => {
    const { p, ask, snap } = macroFlow("throw new Error('kaput for ' + getStringValue('{![Name]}'));");
    const { c, flow } = await deployFlow(snap);
    const r = await c.start(flow);
    const bad = await c.move(r, { outcome: k.outcomeId(r, 'next'), inputs: [k.input(k.comp(p, 'Name'), 'Kim')] });
    assert.match(faultText(bad), /kaput for Kim/);
    assert.equal(bad.currentMapElementId, ask.id);
    const j = await c.join(r.stateId);
    assert.equal(j.json.stateToken, r.stateToken);
  });
});
