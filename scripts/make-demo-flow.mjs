#!/usr/bin/env node
// Writes examples/flows/customer-desk.json: the demo's flow package (a Flow snapshot with
// package metadata), built here so the ids are stable and the structure readable. Run it after
// changing this script: node scripts/make-demo-flow.mjs
//
// The package names the service "Upload" and the type "customers" as the Atom's describe
// generates them; importing it into a tenant where the service is installed binds it to that
// installed service and its types (by developerName), so the URL and credentials are the
// tenant's own.
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = process.env.DEMO_FLOW_OUT ?? path.join(here, '..', 'examples', 'flows', 'customer-desk.json');

// deterministic ids: a UUID-shaped hash of a name
const id = (name) => {
  const h = createHash('sha256').update(`sluice-demo:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

const SERVICE = { id: id('service'), elementType: 'SERVICE', developerName: 'Upload',
  uri: 'http://127.0.0.1:8080/fs/upload', format: 'json', httpAuthenticationUsername: 'demo',
  httpAuthenticationPassword: null, configurationValues: [], providesDatabase: true, providesFiles: true,
  providesLogic: true, actions: [] };

const customerProps = [['id', 'ContentNumber'], ['name', 'ContentString'], ['email', 'ContentString'],
  ['city', 'ContentString'], ['country', 'ContentString'], ['segment', 'ContentString'], ['active', 'ContentBoolean']];
const CUSTOMERS = { id: id('type:customers'), elementType: 'TYPE', developerName: 'customers', serviceElementId: SERVICE.id,
  properties: customerProps.map(([n, ct]) => ({ id: id(`prop:customers:${n}`), developerName: n, contentType: ct })),
  bindings: [{ id: id('binding:customers'), developerName: 'customers', databaseTableName: 'customers',
    serviceElementId: SERVICE.id, typeElementId: id('type:customers'),
    propertyBindings: customerProps.map(([n, ct]) => ({ typeElementPropertyId: id(`prop:customers:${n}`),
      databaseFieldName: n, databaseContentType: ct })) }] };
const prop = (n) => id(`prop:customers:${n}`);

// a table type as the Atom's describe generates it (named after the table)
const tableType = (table, props) => ({ id: id(`type:${table}`), elementType: 'TYPE', developerName: table,
  serviceElementId: SERVICE.id,
  properties: props.map(([n, ct]) => ({ id: id(`prop:${table}:${n}`), developerName: n, contentType: ct })),
  bindings: [{ id: id(`binding:${table}`), developerName: table, databaseTableName: table, serviceElementId: SERVICE.id,
    typeElementId: id(`type:${table}`), propertyBindings: props.map(([n, ct]) => ({
      typeElementPropertyId: id(`prop:${table}:${n}`), databaseFieldName: n, databaseContentType: ct })) }] });
const SEGMENTS = tableType('segments', [['name', 'ContentString'], ['description', 'ContentString']]);
const COUNTRIES = tableType('countries', [['code', 'ContentString'], ['name', 'ContentString']]);
const tprop = (table, n) => id(`prop:${table}:${n}`);

const value = (name, contentType, extra = {}) => ({ id: id(`value:${name}`), elementType: 'VARIABLE', developerName: name,
  contentType, access: 'PRIVATE', typeElementId: null, defaultContentValue: null, defaultObjectData: null, ...extra });
const V = {
  name: value('Your Name', 'ContentString', { access: 'INPUT' }),
  greeting: value('Greeting', 'ContentString'),
  selected: value('Selected Customer', 'ContentObject', { typeElementId: CUSTOMERS.id }),
  segment: value('Chosen Segment', 'ContentObject', { typeElementId: SEGMENTS.id }),
  country: value('Chosen Country', 'ContentObject', { typeElementId: COUNTRIES.id }),
  amount: value('Credit Amount', 'ContentNumber'),
  approved: value('Credit Approved', 'ContentBoolean'),
  note: value('Credit Note', 'ContentString'),
};
const ref = (v, p = null) => ({ id: v.id, typeElementPropertyId: p ? prop(p) : null, command: null });
const tref = (v, table, p) => ({ id: v.id, typeElementPropertyId: tprop(table, p), command: null });
const tableRequest = (T, orderBy, extra = {}) => ({ typeElementId: T.id, typeElementBindingId: T.bindings[0].id,
  serviceElementId: SERVICE.id, command: null,
  listFilter: { comparisonType: 'AND', where: [], orderByTypeElementPropertyId: tprop(T.developerName, orderBy),
    orderByDirectionType: 'ASC', limit: 250 }, ...extra });

const container = (pageName) => ({ id: id(`container:${pageName}`), containerType: 'VERTICAL_FLOW', developerName: 'Main',
  label: '', order: 0, pageContainers: [] });
const page = (name, label, components, extra = {}) => {
  const c = container(name);
  return { id: id(`page:${name}`), elementType: 'PAGE_LAYOUT', developerName: name, label, pageContainers: [c],
    pageComponents: components.map((k, i) => ({ id: id(`component:${name}:${k.developerName}`), pageContainerId: c.id,
      pageContainerDeveloperName: 'Main', order: i, isEditable: true, isRequired: false, label: k.developerName, ...k })),
    pageConditions: [], ...extra };
};
const comp = (p, name) => p.pageComponents.find((c) => c.developerName === name);

const customersRequest = (extra = {}) => ({ typeElementId: CUSTOMERS.id, typeElementBindingId: CUSTOMERS.bindings[0].id,
  serviceElementId: SERVICE.id, command: null,
  listFilter: { comparisonType: 'AND', where: [], orderByTypeElementPropertyId: prop('name'), orderByDirectionType: 'ASC', limit: 10 },
  ...extra });
const files = { serviceElementId: SERVICE.id, resourcePath: 'upload', resourceFile: null, path: null };

const P = {
  welcome: page('Welcome', 'Welcome to the customer desk', [
    { developerName: 'Intro', componentType: 'PRESENTATION', isEditable: false,
      content: '<p>This flow runs on the Flow engine and calls the Atom\'s Flow Service <code>/fs/upload</code>: '
        + 'a message action, data actions on a customers table, and a file resource.</p>' },
    { developerName: 'Your name', componentType: 'INPUT', isRequired: true, maxSize: 80,
      hintValue: 'e.g. Ada', valueElementValueBindingReferenceId: ref(V.name) }]),
  files: page('Files', 'Files', [
    { developerName: 'Hello', componentType: 'PRESENTATION', isEditable: false, content: '<p>{![Greeting]}</p>' },
    { developerName: 'Upload files', componentType: 'file-upload', isMultiSelect: true, fileDataRequest: files,
      attributes: { isAutoUpload: 'true' } },
    { developerName: 'Uploaded', componentType: 'files', fileDataRequest: files }]),
  customers: page('Customers', 'Customers', [
    { developerName: 'Customers', componentType: 'TABLE', isSearchable: true, isEditable: false,
      objectDataRequest: customersRequest(), valueElementValueBindingReferenceId: ref(V.selected),
      columns: ['name', 'email', 'city', 'country', 'segment'].map((n, i) => ({ id: id(`column:${n}`),
        typeElementPropertyId: prop(n), typeElementPropertyDeveloperName: n, label: n[0].toUpperCase() + n.slice(1),
        order: i, isDisplayValue: true, isEditable: false })) }]),
  edit: page('Edit customer', 'Edit customer', [
    { developerName: 'Name', componentType: 'INPUT', isRequired: true, maxSize: 100, valueElementValueBindingReferenceId: ref(V.selected, 'name') },
    { developerName: 'Email', componentType: 'INPUT', maxSize: 200,
      validations: [{ type: 'regex', value: '^[^@ ]+@[^@ ]+$', message: 'Enter an email address like name@example.org.' }],
      valueElementValueBindingReferenceId: ref(V.selected, 'email') },
    { developerName: 'City', componentType: 'INPUT', maxSize: 100, valueElementValueBindingReferenceId: ref(V.selected, 'city') },
    { developerName: 'Country', componentType: 'SELECT', isSearchable: true, isRequired: true,
      objectDataRequest: tableRequest(COUNTRIES, 'name'), valueElementValueBindingReferenceId: ref(V.country),
      columns: [{ id: id('column:country:name'), typeElementPropertyId: tprop('countries', 'name'), label: 'Country',
        order: 0, isDisplayValue: true }, { id: id('column:country:code'), typeElementPropertyId: tprop('countries', 'code'),
        label: 'Code', order: 1, isDisplayValue: false }] },
    { developerName: 'Segment', componentType: 'RADIO', isRequired: true,
      objectDataRequest: tableRequest(SEGMENTS, 'name'), valueElementValueBindingReferenceId: ref(V.segment),
      columns: [{ id: id('column:segment:name'), typeElementPropertyId: tprop('segments', 'name'), label: 'Segment',
        order: 0, isDisplayValue: true }] }]),
  credit: page('Credit check', 'Credit check', [
    { developerName: 'About', componentType: 'PRESENTATION', isEditable: false,
      content: '<p>Check the credit of <strong>{![Selected Customer].[name]}</strong>. The credit office is slow: '
        + 'the Atom answers WAIT and calls back when it is done.</p>' },
    { developerName: 'Amount', componentType: 'INPUT', isRequired: true,
      validations: [{ type: 'minimum', value: 1, message: 'Enter an amount of at least 1.' }],
      valueElementValueBindingReferenceId: ref(V.amount) }]),
  result: page('Credit result', 'Credit result', [
    { developerName: 'Result', componentType: 'PRESENTATION', isEditable: false,
      content: '<p>{![Credit Note]}</p><p>Approved: {![Credit Approved]}</p>' }]),
};

const el = (key, elementType, name, extra = {}) => ({ id: id(`map:${key}`), elementType, developerName: name,
  outcomes: [], operations: [], dataActions: [], messageActions: [], ...extra });
const E = {
  start: el('start', 'START', 'Start'),
  welcome: el('welcome', 'input', 'Welcome', { pageElementId: P.welcome.id }),
  greet: el('greet', 'MESSAGE', 'Say hello', { messageActions: [{ developerName: 'Greet', serviceElementId: SERVICE.id,
    uriPart: 'actions/Greet', order: 0, disabled: false,
    inputs: [{ developerName: 'Name', contentType: 'ContentString', valueElementToReferenceId: ref(V.name), order: 0 }],
    outputs: [{ developerName: 'Message', contentType: 'ContentString', valueElementToApplyId: ref(V.greeting), order: 0 }] }] }),
  files: el('files', 'input', 'Files', { pageElementId: P.files.id }),
  customers: el('customers', 'input', 'Customers', { pageElementId: P.customers.id }),
  choices: el('choices', 'DATABASE_LOAD', 'Load choices', { dataActions: [
    { developerName: 'Current segment', crudOperationType: 'LOAD', order: 0, disabled: false, valueElementToApplyId: ref(V.segment),
      objectDataRequest: tableRequest(SEGMENTS, 'name', { listFilter: { comparisonType: 'AND', limit: 1,
        where: [{ columnTypeElementPropertyId: tprop('segments', 'name'), criteriaType: 'EQUAL',
          valueElementToReferenceId: ref(V.selected, 'segment') }] } }) },
    { developerName: 'Current country', crudOperationType: 'LOAD', order: 1, disabled: false, valueElementToApplyId: ref(V.country),
      objectDataRequest: tableRequest(COUNTRIES, 'name', { listFilter: { comparisonType: 'AND', limit: 1,
        where: [{ columnTypeElementPropertyId: tprop('countries', 'code'), criteriaType: 'EQUAL',
          valueElementToReferenceId: ref(V.selected, 'country') }] } }) }] }),
  edit: el('edit', 'input', 'Edit customer', { pageElementId: P.edit.id }),
  apply: el('apply', 'operator', 'Apply choices', { operations: [
    { order: 0, valueElementToApplyId: ref(V.selected, 'segment'), valueElementToReferenceId: tref(V.segment, 'segments', 'name') },
    { order: 1, valueElementToApplyId: ref(V.selected, 'country'), valueElementToReferenceId: tref(V.country, 'countries', 'code') }] }),
  credit: el('credit', 'input', 'Credit check', { pageElementId: P.credit.id }),
  check: el('check', 'MESSAGE', 'Check credit', { messageActions: [{ developerName: 'Check Credit', serviceElementId: SERVICE.id,
    uriPart: 'actions/Check%20Credit', order: 0, disabled: false,
    inputs: [{ developerName: 'Customer', contentType: 'ContentString', valueElementToReferenceId: ref(V.selected, 'name'), order: 0 },
      { developerName: 'Amount', contentType: 'ContentNumber', valueElementToReferenceId: ref(V.amount), order: 1 }],
    outputs: [{ developerName: 'Approved', contentType: 'ContentBoolean', valueElementToApplyId: ref(V.approved), order: 0 },
      { developerName: 'Note', contentType: 'ContentString', valueElementToApplyId: ref(V.note), order: 1 }] }] }),
  result: el('result', 'input', 'Credit result', { pageElementId: P.result.id }),
  save: el('save', 'DATABASE_SAVE', 'Save customer', { dataActions: [{ developerName: 'Save customer', crudOperationType: 'SAVE',
    order: 0, disabled: false, valueElementToApplyId: ref(V.selected), objectDataRequest: customersRequest({ listFilter: null }) }] }),
  remove: el('delete', 'DATABASE_DELETE', 'Delete customer', { dataActions: [{ developerName: 'Delete customer',
    crudOperationType: 'DELETE', order: 0, disabled: false, valueElementToApplyId: ref(V.selected),
    objectDataRequest: customersRequest({ listFilter: null }) }] }),
  done: el('done', 'step', 'Done', { userContent: '<p>Thank you, {![Your Name]}. That is the whole demo.</p>' }),
};
const outcome = (from, name, to, extra = {}) => ({ id: id(`outcome:${from}:${name}`), developerName: name, label: name,
  nextMapElementId: to.id, pageActionBindingType: 'SAVE', order: 0, comparison: null, ...extra });
E.start.outcomes = [outcome('start', 'Go', E.welcome)];
E.welcome.outcomes = [outcome('welcome', 'Start', E.greet, { pageActionType: 'NEXT' })];
E.greet.outcomes = [outcome('greet', 'Next', E.files)];
E.files.outcomes = [outcome('files', 'Customers', E.customers, { pageActionType: 'NEXT' })];
const table = comp(P.customers, 'Customers').id;
E.customers.outcomes = [
  outcome('customers', 'Edit', E.choices, { pageObjectBindingId: table, isBulkAction: false, pageActionType: 'EDIT', order: 0 }),
  outcome('customers', 'Delete', E.remove, { pageObjectBindingId: table, isBulkAction: false, pageActionType: 'DELETE', order: 1 }),
  outcome('customers', 'Check credit', E.credit, { pageObjectBindingId: table, isBulkAction: false, order: 2 }),
  outcome('customers', 'Finish', E.done, { pageActionType: 'DONE', order: 3, pageActionBindingType: 'NO_SAVE' })];
E.choices.outcomes = [outcome('choices', 'Loaded', E.edit)];
E.apply.outcomes = [outcome('apply', 'Applied', E.save)];
E.credit.outcomes = [outcome('credit', 'Check', E.check, { order: 0 }),
  outcome('credit', 'Back', E.customers, { order: 1, pageActionBindingType: 'NO_SAVE' })];
E.check.outcomes = [outcome('check', 'Checked', E.result)];
E.result.outcomes = [outcome('result', 'Back to customers', E.customers)];
E.edit.outcomes = [
  outcome('edit', 'Save', E.apply, { pageActionType: 'SAVE', order: 0 }),
  outcome('edit', 'Cancel', E.customers, { pageActionType: 'CANCEL', order: 1, pageActionBindingType: 'NO_SAVE' })];
E.save.outcomes = [outcome('save', 'Saved', E.customers)];
E.remove.outcomes = [outcome('delete', 'Deleted', E.customers)];

const flow = {
  id: { id: id('flow'), versionId: id('flow-version-1') },
  developerName: 'Customer desk',
  developerSummary: 'The demo: message actions, data actions and a file resource of the Atom\'s Flow Service /fs/upload',
  startMapElementId: E.start.id,
  allowJumping: false,
  enableHistoricalNavigation: true,
  mapElements: Object.values(E),
  pageElements: Object.values(P),
  valueElements: Object.values(V),
  typeElements: [CUSTOMERS, SEGMENTS, COUNTRIES],
  serviceElements: [SERVICE],
  groupElements: [], navigationElements: [], macroElements: [], tagElements: [],
  package: { format: 'sluice-flow-package/1', exportedAt: null, sourceTenant: null, sourceVersion: null },
};
writeFileSync(out, `${JSON.stringify(flow, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
