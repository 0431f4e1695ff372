// Data actions end to end on a real SQLite file: a table-bound data action and a process-backed one
// whose Get/Query/Save/Delete processes use the Database connector, plus script and try/catch in a
// message action. Components are written per run (the database path is absolute).
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { assertProblem, ev, hook, it, mobject, prop, serviceRequest, startServer, tempDir } from './helpers.mjs';

const SEED = `
CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT, vip BOOLEAN);
INSERT INTO customers(id, name, city, vip) VALUES
  (1,'Ada','London',1),(2,'Brendan','Dublin',0),(3,'Chiara','Milan',0),(4,'Dmitri','Kyiv',1),(5,'Erin','Dublin',0);
`;

function components(dbPath) {
  const customer = {
    component: 'profile', name: 'Customer',
    root: { name: 'Customer', type: 'Object', children: [
      { name: 'Id', type: 'Number' }, { name: 'Name', type: 'Character' }, { name: 'City', type: 'Character' }] },
  };
  const start = (op, next) => ({ id: 'start', type: 'start', connector: 'flowservices', action: 'Listen',
    operation: { serviceType: 'Data Action', dataOperation: op, profile: 'Customer' }, next });
  const toCustomer = { id: 'map', type: 'map', from: 'Customer', to: 'Customer', mappings: [
    { to: 'Id', value: { element: 'Id' } }, { to: 'Name', value: { element: 'Name' } }, { to: 'City', value: { element: 'City' } }],
  next: 'ret' };
  const rowToCustomer = (next) => ({ id: 'shape', type: 'script', language: 'lua',
    script: 'local out = {}\nfor i, r in ipairs(documents) do out[i] = { Id = tonumber(r.id), Name = r.name, City = r.city } end\nreturn out',
    next });
  const get = { component: 'process', name: 'Get Customer', shapes: [
    start('Get', 'q'),
    { id: 'q', type: 'connector', connection: 'Shop', operation: { action: 'query',
      sql: 'SELECT id, name, city FROM customers WHERE id = :id', params: { id: { property: 'param_id' } } }, next: 'shape' },
    rowToCustomer('ret'), { id: 'ret', type: 'return' }] };
  const query = { component: 'process', name: 'Query Customers', shapes: [
    start('Query', 'q'),
    { id: 'q', type: 'connector', connection: 'Shop', operation: { action: 'query',
      sql: "SELECT id, name, city FROM customers WHERE (coalesce(:search, '') = '' OR name LIKE '%' || :search || '%') ORDER BY id LIMIT :lim OFFSET :off",
      params: { search: { fn: 'default', args: [{ element: 'search' }, { const: '' }] },
        lim: { fn: 'add', args: [{ element: 'limit' }, { const: 1 }] }, off: { element: 'offset' } } }, next: 'shape' },
    rowToCustomer('ret'), { id: 'ret', type: 'return' }] };
  const save = { component: 'process', name: 'Save Customer', shapes: [
    start('Save', 'w'),
    { id: 'w', type: 'connector', connection: 'Shop', operation: { action: 'execute',
      sql: 'INSERT INTO customers(id, name, city) VALUES(:id, :name, :city) ON CONFLICT(id) DO UPDATE SET name = excluded.name, city = excluded.city',
      params: { id: { element: 'Id' }, name: { element: 'Name' }, city: { element: 'City' } } }, next: 'map' },
    toCustomer, { id: 'ret', type: 'return' }] };
  const del = { component: 'process', name: 'Delete Customer', shapes: [
    start('Delete', 'w'),
    { id: 'w', type: 'connector', connection: 'Shop', operation: { action: 'execute',
      sql: 'DELETE FROM customers WHERE id = :id', params: { id: { element: 'Id' } } }, next: 'ret' },
    { id: 'ret', type: 'stop' }] };
  const shout = {
    component: 'process', name: 'Shout', shapes: [
      { id: 'start', type: 'start', connector: 'flowservices', action: 'Listen',
        operation: { serviceType: 'Message Action', requestProfile: 'Words', responseProfile: 'Words' }, next: 'try' },
      { id: 'try', type: 'trycatch', try: 'lua', catch: 'fallback' },
      { id: 'lua', type: 'script', language: 'lua',
        script: 'local d = documents[1]\nif d.Text == "boom" then error("no booms") end\nreturn { { Text = string.upper(d.Text) .. "!" } }',
        next: 'ret' },
      { id: 'fallback', type: 'map', from: 'Words', to: 'Words',
        mappings: [{ to: 'Text', value: { fn: 'concat', args: [{ const: 'caught: ' }, { property: 'trycatch_message' }] } }], next: 'ret' },
      { id: 'ret', type: 'return' }] };
  const words = { component: 'profile', name: 'Words', root: { name: 'Words', type: 'Object', children: [{ name: 'Text', type: 'Character' }] } };
  return {
    'connection.json': { component: 'connection', name: 'Shop', type: 'database', database: { kind: 'sqlite', path: dbPath } },
    'customer.json': customer, 'words.json': words,
    'get.json': get, 'query.json': query, 'save.json': save, 'delete.json': del, 'shout.json': shout,
    'service.json': { component: 'flowservice', name: 'Shop Service', externalName: 'shop',
      messageActions: [{ name: 'Shout', process: 'Shout' }],
      dataActions: [
        { name: 'Customer', profile: 'Customer', idElement: 'Id', get: 'Get Customer', query: 'Query Customers',
          save: 'Save Customer', delete: 'Delete Customer' },
        { connection: 'Shop', table: 'customers', maxRows: 3 }] },
  };
}

const dataRequest = (type, listFilter = {}, objectData = null) => ({
  stateId: null, token: null, typeElementBindingId: null, authorization: null, configurationValues: [], command: null,
  culture: null, objectDataType: { typeElementId: null, developerName: type, properties: [] },
  listFilter: { id: null, comparisonType: '', where: null, listFilters: null, search: null, limit: 0, offset: 0, ...listFilter },
  objectData,
});
const propOf = (o, name) => o.properties.find((p) => p.developerName === name)?.contentValue;

describe('data actions', () => {
  let srv;
  before(hook(async () => {
    const dir = await tempDir();
    const db = path.join(dir, 'shop.db');
    execFileSync('sqlite3', [db], { input: SEED });
    const comp = path.join(dir, 'components');
    await mkdir(comp);
    for (const [f, c] of Object.entries(components(db))) await writeFile(path.join(comp, f), JSON.stringify(c, null, 1));
    srv = await startServer({ deploy: comp });
  }));
  after(hook(async () => { await srv?.stop(); }));

  it('describe has one bound type per data action and providesDatabase', async () => {
    const r = await srv.post('/fs/shop/metadata', {});
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.providesDatabase, true);
    const types = Object.fromEntries(r.json.install.typeElements.map((t) => [t.developerName, t]));
    assert.deepEqual(types.Customer.properties.map((p) => [p.developerName, p.contentType]),
      [['Id', 'ContentNumber'], ['Name', 'ContentString'], ['City', 'ContentString']]);
    assert.equal(types.Customer.bindings[0].databaseTableName, 'Customer');
    assert.ok(types.customers, 'the table type comes from the live schema');
    assert.equal(types.customers.bindings.length, 1);
  });

  it('process-backed Load by id runs the Get process with param_id', async () => {
    const r = await srv.post('/fs/shop/data', dataRequest('Customer', { id: '3' }));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.objectData.length, 1);
    const o = r.json.objectData[0];
    assert.equal(o.externalId, '3');
    assert.equal(o.developerName, 'Customer');
    assert.equal(propOf(o, 'Name'), 'Chiara');
    assert.equal(r.json.hasMoreResults, false);
  });

  it('process-backed Query gets the filter document; hasMoreResults is honest', async () => {
    let r = await srv.post('/fs/shop/data', dataRequest('Customer', { limit: 2, offset: 0 }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.objectData.map((o) => o.externalId), ['1', '2']);
    assert.equal(r.json.hasMoreResults, true);
    r = await srv.post('/fs/shop/data', dataRequest('Customer', { limit: 2, offset: 4 }));
    assert.deepEqual(r.json.objectData.map((o) => o.externalId), ['5']);
    assert.equal(r.json.hasMoreResults, false);
    // the search text reaches the process in the filter document (SQLite's LIKE ignores case)
    r = await srv.post('/fs/shop/data', dataRequest('Customer', { search: 'RI', limit: 10 }));
    assert.deepEqual(r.json.objectData.map((o) => propOf(o, 'Name')), ['Dmitri', 'Erin']);
  });

  it('process-backed Save and Delete hand the objects over as documents', async () => {
    const obj = mobject('Customer', [prop.number('Id', '6'), prop.string('Name', 'Farah'), prop.string('City', 'Cairo')]);
    let r = await srv.request('PUT', '/fs/shop/data', { body: dataRequest('Customer', {}, [obj]) });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.objectData[0].externalId, '6');
    r = await srv.post('/fs/shop/data', dataRequest('Customer', { id: '6' }));
    assert.equal(propOf(r.json.objectData[0], 'City'), 'Cairo');
    const del = { ...obj, externalId: '6', properties: [] };
    r = await srv.post('/fs/shop/data/delete', dataRequest('Customer', {}, [del]));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.objectData, []);
    r = await srv.post('/fs/shop/data', dataRequest('Customer', { id: '6' }));
    assert.deepEqual(r.json.objectData, []);
  });

  it('the table-bound data action loads with bound filters, paging and its row cap', async () => {
    const where = [{ columnName: 'city', criteriaType: 'EQUAL', value: 'Dublin', contentValue: 'Dublin' }];
    let r = await srv.post('/fs/shop/data', dataRequest('customers', { comparisonType: 'AND', where, orderByPropertyDeveloperName: 'id', orderByDirectionType: 'ASC', limit: 10 }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.objectData.map((o) => propOf(o, 'name')), ['Brendan', 'Erin']);
    // an injection attempt is just a value
    const evil = [{ columnName: 'name', criteriaType: 'EQUAL', value: "x' OR '1'='1", contentValue: "x' OR '1'='1" }];
    r = await srv.post('/fs/shop/data', dataRequest('customers', { comparisonType: 'AND', where: evil }));
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.objectData, []);
    // maxRows 3 caps a page
    r = await srv.post('/fs/shop/data', dataRequest('customers', { orderByPropertyDeveloperName: 'id', orderByDirectionType: 'ASC' }));
    assert.equal(r.json.objectData.length, 3);
    assert.equal(r.json.hasMoreResults, true);
  });

  it('an unknown type is 404 and a missing one 400', async () => {
    assertProblem(await srv.post('/fs/shop/data', dataRequest('Nope')), 404, { message: 'Nope' });
    assertProblem(await srv.post('/fs/shop/data', dataRequest('')), 400);
  });

  it('script and try/catch in a message action', async () => {
    let r = await srv.action('Shout', serviceRequest({ inputs: [ev.string('Text', 'hey')] }), { service: 'shop' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.outputs[0].contentValue, 'HEY!');
    r = await srv.action('Shout', serviceRequest({ inputs: [ev.string('Text', 'boom')] }), { service: 'shop' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.outputs[0].contentValue, /^caught: .*no booms/);
  });

  it('data executions are recorded with their trigger', async () => {
    const r = await srv.get('/api/atom/v1/executions?process=Get%20Customer');
    assert.equal(r.status, 200);
    assert.ok(r.json.total >= 2);
    assert.equal(r.json.executions[0].trigger, '/fs/shop/data');
  });
});
