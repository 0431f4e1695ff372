// Builders for Flow snapshots and a small run-API client, for tests of the Flow engine.
// Snapshots are written here (our own fixtures), in the ecosystem's snapshot format.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { run, tempDir } from './helpers.mjs';

export const id = () => randomUUID();

// ---- snapshot pieces ----

export function value(developerName, contentType = 'ContentString', extra = {}) {
  return { id: id(), elementType: 'VARIABLE', developerName, contentType, access: 'PRIVATE',
    defaultContentValue: null, defaultObjectData: null, typeElementId: null, ...extra };
}

export function type(developerName, props, extra = {}) {
  return { id: id(), elementType: 'TYPE', developerName,
    properties: props.map(([name, contentType, more = {}]) => ({ id: id(), developerName: name, contentType, ...more })),
    bindings: [], ...extra };
}

export const prop = (t, name) => t.properties.find((p) => p.developerName === name);
export const ref = (v, t, propName) => ({ id: v.id, typeElementPropertyId: t && propName ? prop(t, propName).id : null,
  command: null });

export function service(developerName, uri, { username = null, password = null } = {}) {
  return { id: id(), elementType: 'SERVICE', developerName, uri, format: 'json',
    httpAuthenticationUsername: username, httpAuthenticationPassword: password, configurationValues: [], actions: [] };
}

export function outcome(developerName, next, extra = {}) {
  return { id: id(), developerName, label: developerName, nextMapElementId: next ? next.id : null,
    pageActionBindingType: 'SAVE', order: 0, comparison: null, ...extra };
}

export function element(elementType, developerName, extra = {}) {
  return { id: id(), elementType, developerName, outcomes: [], operations: [], dataActions: [], messageActions: [],
    ...extra };
}

export function rule(left, criteriaType, right) {
  return { leftValueElementToReferenceId: left, criteriaType, rightValueElementToReferenceId: right ?? null };
}

export function comparison(comparisonType, rules, comparisons = []) {
  return { comparisonType, rules, comparisons };
}

// A page with one VERTICAL_FLOW container and the given components.
export function page(developerName, components, extra = {}) {
  const container = { id: id(), containerType: 'VERTICAL_FLOW', developerName: 'main', label: '', order: 0,
    pageContainers: [] };
  return { id: id(), elementType: 'PAGE_LAYOUT', developerName, label: developerName,
    pageContainers: [container],
    pageComponents: components.map((c, i) => ({ id: id(), pageContainerId: container.id,
      pageContainerDeveloperName: 'main', order: i, isEditable: true, isRequired: false, label: c.developerName,
      ...c })),
    pageConditions: [], ...extra };
}

export const comp = (p, name) => p.pageComponents.find((c) => c.developerName === name);

export function snapshot(developerName, { start, elements, values = [], types = [], services = [], pages = [],
  macros = [], navigations = [], flowId = id() }) {
  return { id: { id: flowId, versionId: id() }, developerName, startMapElementId: start.id,
    mapElements: elements, valueElements: values, typeElements: types, serviceElements: services,
    pageElements: pages, macroElements: macros, navigationElements: navigations, groupElements: [], tagElements: [] };
}

// ---- importing and running ----

// Writes snap to a temp file and imports it with the CLI into data; returns {tenant, flow}.
export async function importFlow(data, snap, tenantName = 'tests') {
  const dir = await tempDir('sluice-flow-');
  const file = path.join(dir, 'flow.json');
  await writeFile(file, JSON.stringify(snap));
  const r = await run(['flow', 'import', file, '--tenant', tenantName, '--data', data]);
  assert.equal(r.code, 0, `flow import failed: ${r.stderr}`);
  const [tenant, flow] = r.stdout.trim().split(' ');
  return { tenant, flow };
}

export class RunClient {
  constructor(baseUrl, tenant) {
    this.base = baseUrl;
    this.tenant = tenant;
  }

  async call(method, p, body, headers = {}) {
    const res = await fetch(`${this.base}${p}`, {
      method,
      headers: { 'Content-Type': 'application/json', ManyWhoTenant: this.tenant, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: res.status, json, text, headers: res.headers };
  }

  // POST /api/run/1/state: new state, run to the first stop. Returns the EngineInvokeResponse.
  async start(flowId, inputs = null, versionId = null) {
    const r = await this.call('POST', '/api/run/1/state', { id: flowId, versionId, inputs });
    assert.equal(r.status, 200, r.text);
    return r.json;
  }

  // POST /api/run/1/state/{id}; `last` is the previous response (for stateId/token/element).
  async invoke(last, { invokeType = 'FORWARD', outcome = null, inputs = null, extra = {} } = {}) {
    const body = {
      invokeType, stateId: last.stateId, stateToken: last.stateToken, currentMapElementId: last.currentMapElementId,
      annotations: null, geoLocation: null, mode: '', selectedMapElementId: null, navigationElementId: null,
      mapElementInvokeRequest: { selectedOutcomeId: outcome, pageRequest: inputs ? { pageComponentInputResponses: inputs } : null },
      ...extra,
    };
    return this.call('POST', `/api/run/1/state/${last.stateId}`, body);
  }

  async join(stateId) {
    return this.call('GET', `/api/run/1/state/${stateId}`);
  }
}

// Helpers over an EngineInvokeResponse.
export const mer = (r) => r.mapElementInvokeResponses[0];
export const outcomeId = (r, name) => {
  const o = mer(r).outcomeResponses.find((x) => x.developerName === name);
  assert.ok(o, `no outcome ${name} in ${JSON.stringify(mer(r).outcomeResponses)}`);
  return o.id;
};
export const dataOf = (r, componentId) => mer(r).pageResponse.pageComponentDataResponses
  .find((d) => d.pageComponentId === componentId);
export const stepContent = (r) => mer(r).pageResponse.pageComponentDataResponses[0].content;
export const input = (c, contentValue, objectData = null) => ({ pageComponentId: c.id, contentValue, objectData });

// ---- more pieces (run API tests) ----

// A value reference with a command (NEW, EMPTY, GET_FIRST, GET_NEXT, ADD, REMOVE, VALUE_OF, SET_EQUAL).
export const refCmd = (v, command, t = null, propName = null) => ({ ...ref(v, t, propName), command });

// An operation: apply ← reference (either may carry a command); order defaults to 0.
export function op(apply, reference, order = 0, extra = {}) {
  return { valueElementToApplyId: apply, valueElementToReferenceId: reference, macroElementToExecuteId: null, order,
    ...extra };
}

export function macro(developerName, code) {
  return { id: id(), elementType: 'MACRO', developerName, code };
}

// An operation running a macro.
export const macroOp = (m, order = 0) => ({ valueElementToApplyId: null, valueElementToReferenceId: null,
  macroElementToExecuteId: m.id, order });

// A message action calling `actions/<name>` on svc; inputs/outputs: [[developerName, valueRef, contentType]].
export function messageAction(svc, name, { inputs = [], outputs = [], order = 0 } = {}) {
  return { developerName: name, serviceElementId: svc.id, uriPart: `actions/${name}`, order,
    inputs: inputs.map(([n, r, ct = 'ContentString']) => ({ developerName: n, contentType: ct, valueElementToReferenceId: r })),
    outputs: outputs.map(([n, r, ct = 'ContentString']) => ({ developerName: n, contentType: ct, valueElementToApplyId: r })) };
}

// A data action: crud LOAD|SAVE|DELETE of value v (a ref) for type t through svc.
export function dataAction(crud, target, t, svc, { listFilter = null, order = 0, name = `${crud} ${t.developerName}` } = {}) {
  return { developerName: name, crudOperationType: crud, order, disabled: false, valueElementToApplyId: target,
    objectDataRequest: { typeElementId: t.id, typeElementDeveloperName: t.developerName, typeElementBindingId: null,
      serviceElementId: svc.id, command: null, listFilter } };
}

// Design-time list filter: where = [[propName, criteriaType, valueRef]].
export function listFilter(t, { where = [], comparisonType = 'AND', orderBy = null, direction = 'ASC', limit = 0 } = {}) {
  return { comparisonType,
    where: where.map(([p, criteriaType, r]) => ({ columnTypeElementPropertyId: prop(t, p).id, criteriaType,
      valueElementToReferenceId: r })),
    listFilters: [], filterId: null, orderByTypeElementPropertyId: orderBy ? prop(t, orderBy).id : null,
    orderByDirectionType: direction, limit };
}

// An MObject of type t with the given {propName: value} (strings or null).
export function object(t, values, externalId = null) {
  return { internalId: id(), externalId, developerName: t.developerName, typeElementId: t.id, order: 0, isSelected: false,
    properties: t.properties.map((p) => ({ typeElementPropertyId: p.id, developerName: p.developerName,
      contentType: p.contentType, contentValue: values[p.developerName] ?? null, objectData: null })) };
}

// A page condition: when `rules` hold (AND/OR), `flag` (METADATA.VISIBLE, …) of target component is set.
export function pageCondition(rules, target, flag = 'METADATA.VISIBLE', { comparisonType = 'AND', assignor = null } = {}) {
  return { comparisonType, pageRules: rules,
    pageOperations: [{ assignment: { assignee: { pageObjectReferenceId: target.id, metaDataType: flag },
      assignor: assignor ? { valueElementToReferenceId: assignor } : null } }] };
}
export const pageRule = (left, criteriaType, right) => ({ left, criteriaType, right });
export const compOperand = (c) => ({ pageObjectReferenceId: c.id, metaDataType: 'VALUE' });
export const valueOperand = (r) => ({ valueElementToReferenceId: r });

// A navigation element; items: [[developerName, mapElement]].
export function navigation(developerName, items) {
  return { id: id(), elementType: 'NAVIGATION', developerName, label: developerName, persistState: false,
    persistValues: false,
    navigationItems: items.map(([n, el], i) => ({ id: id(), developerName: n, label: n, order: i,
      locationMapElementId: el.id, navigationItems: [] })) };
}

// Connects elements in a line with outcomes named `next` (or the given names).
export function chain(...els) {
  for (let i = 0; i + 1 < els.length; i++) els[i].outcomes.push(outcome('next', els[i + 1], { order: els[i].outcomes.length }));
  return els;
}

// Extra RunClient calls.
Object.assign(RunClient.prototype, {
  // POST /api/run/1 (EngineInitializationRequest); returns the raw response.
  init(flowId, { versionId = null, inputs = null } = {}) {
    return this.call('POST', '/api/run/1', { flowId: { id: flowId, versionId }, stateId: null, annotations: null, inputs,
      playerUrl: 'http://player.example/', joinPlayerUrl: 'http://player.example/', mode: '', reportingMode: '' });
  },
  // POST /api/run/1/state with any body; returns the raw response.
  startRaw(body) {
    return this.call('POST', '/api/run/1/state', body);
  },
  async ping(stateId, token) {
    return this.call('GET', `/api/run/1/state/${stateId}/ping/${token}`);
  },
  history(stateId) {
    return this.call('GET', `/api/run/1/state/${stateId}/history?onlyUIMapElements=true`);
  },
  navigation(last, navigationElementId) {
    return this.call('POST', `/api/run/1/navigation/${last.stateId}`,
      { stateId: last.stateId, stateToken: last.stateToken, navigationElementId });
  },
  // invoke that asserts 200 and returns the JSON.
  async move(last, opts) {
    const r = await this.invoke(last, opts);
    assert.equal(r.status, 200, r.text);
    return r.json;
  },
});

export const pageData = (r) => mer(r).pageResponse.pageComponentDataResponses;
export const pageComps = (r) => mer(r).pageResponse.pageComponentResponses;
export const rootFaults = (r) => mer(r).rootFaults;
export const outputOf = (r, name) => {
  const o = (r.outputs ?? []).find((x) => x.developerName === name);
  assert.ok(o, `no output ${name} in ${JSON.stringify(r.outputs)}`);
  return o;
};
export const propValue = (o, name) => o.properties.find((p) => p.developerName === name)?.contentValue;

// ---- builders (the draw API) ----

// A builder of one tenant: its id, its API key, and calls with both headers.
export class DrawClient {
  constructor(base, tenant, key) {
    this.base = base;
    this.tenant = tenant;
    this.key = key;
  }

  async call(method, p, body, headers = null) {
    const h = headers ?? { ManyWhoTenant: this.tenant, 'x-boomi-flow-api-key': this.key };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const res = await fetch(`${this.base}${p}`, { method, headers: h,
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: res.status, json, text, headers: res.headers };
  }

  // A call that must answer 200; returns the JSON.
  async ok(method, p, body) {
    const r = await this.call(method, p, body);
    assert.equal(r.status, 200, `${method} ${p}: ${r.text}`);
    return r.json;
  }

  get = (p) => this.ok('GET', p);
  post = (p, body) => this.ok('POST', p, body);
}

// `sluice tenant add` + `sluice key add` against a data folder; returns a DrawClient.
export async function builder(srv, name) {
  const t = await run(['tenant', 'add', name, '--data', srv.data]);
  assert.equal(t.code, 0, t.stderr);
  const key = await run(['key', 'add', '--tenant', name, '--data', srv.data]);
  assert.equal(key.code, 0, key.stderr);
  return new DrawClient(srv.url, t.stdout.trim(), key.stdout.trim());
}
