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
const out = path.join(here, '..', 'examples', 'flows', 'customer-desk.json');

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

const value = (name, contentType, extra = {}) => ({ id: id(`value:${name}`), elementType: 'VARIABLE', developerName: name,
  contentType, access: 'PRIVATE', typeElementId: null, defaultContentValue: null, defaultObjectData: null, ...extra });
const V = {
  name: value('Your Name', 'ContentString', { access: 'INPUT' }),
  greeting: value('Greeting', 'ContentString'),
  selected: value('Selected Customer', 'ContentObject', { typeElementId: CUSTOMERS.id }),
};
const ref = (v, p = null) => ({ id: v.id, typeElementPropertyId: p ? prop(p) : null, command: null });

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
    { developerName: 'Segment', componentType: 'INPUT', maxSize: 40, valueElementValueBindingReferenceId: ref(V.selected, 'segment') }]),
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
  edit: el('edit', 'input', 'Edit customer', { pageElementId: P.edit.id }),
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
  outcome('customers', 'Edit', E.edit, { pageObjectBindingId: table, isBulkAction: false, pageActionType: 'EDIT', order: 0 }),
  outcome('customers', 'Delete', E.remove, { pageObjectBindingId: table, isBulkAction: false, pageActionType: 'DELETE', order: 1 }),
  outcome('customers', 'Finish', E.done, { pageActionType: 'DONE', order: 2, pageActionBindingType: 'NO_SAVE' })];
E.edit.outcomes = [
  outcome('edit', 'Save', E.save, { pageActionType: 'SAVE', order: 0 }),
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
  typeElements: [CUSTOMERS],
  serviceElements: [SERVICE],
  groupElements: [], navigationElements: [], macroElements: [], tagElements: [],
  package: { format: 'sluice-flow-package/1', exportedAt: null, sourceTenant: null, sourceVersion: null },
};
writeFileSync(out, `${JSON.stringify(flow, null, 2)}\n`);
console.log(`wrote ${path.relative(process.cwd(), out)}`);
