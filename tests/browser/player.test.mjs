// The browser player (web/player/) in headless chromium against real `sluice` processes:
// the demo flow (inputs, validation, file upload with progress, files list, a service table with
// paging / search / sort / selection / row outcomes, DONE, reload), a flow of our own imported
// into the demo (every input type, containers and tabs, page conditions, radio and combobox,
// a value-bound multi-select table with a bulk outcome, navigation, a stale token) and a
// MESSAGE element whose Atom action answers WAIT (tests/e2e/fixtures/good, "Slow").
//
//   SLUICE_BIN=$PWD/build/sluice node --test tests/browser/player.test.mjs
//
// Screenshots of each step: tests/artifacts/browser/player-*.png.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { fixture, hook, it as itWithLogs, poll, startServer } from '../e2e/helpers.mjs';
import * as k from '../e2e/flowkit.mjs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ARTIFACTS, launch, shot } from './browser.mjs';

const TIMEOUT = 10000;

let browser;
let current = null; // the page under test: a failing test leaves a screenshot of it

/** `it` that saves tests/artifacts/browser/player-FAILED-<name>.png when the test fails. */
function it(name, fn) {
  return itWithLogs(name, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      if (current) await shot(current, `player-FAILED-${name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)}`).catch(() => {});
      throw e;
    }
  });
}

before(hook(async () => {
  browser = await launch();
  await mkdir(ARTIFACTS, { recursive: true });
  for (const f of await readdir(ARTIFACTS)) if (f.startsWith('player-FAILED-')) await rm(path.join(ARTIFACTS, f));
}));
after(async () => { await browser?.close(); });

/* ---- page helpers ---- */

const heading = (page) => page.locator('#page h1').textContent();

/** Waits until the page heading is `text` and no request is running. */
async function onPage(page, text) {
  await page.waitForFunction((t) => document.querySelector('#page h1')?.textContent === t
    && document.body.dataset.busy !== 'true', text, { timeout: TIMEOUT }).catch(async (e) => {
    throw new Error(`expected page "${text}", on "${await heading(page).catch(() => '?')}": ${e.message}`);
  });
}

const idle = (page) => page.waitForFunction(() => document.body.dataset.busy !== 'true', null, { timeout: TIMEOUT });

/** Clicks an outcome of the outcome bar by developerName. */
async function outcome(page, name) {
  await page.locator(`.p-outcome-bar [data-outcome-name="${name}"]`).click();
}

/** The visible text of every row of a table component (by component developerName). */
function rows(page, comp) {
  return page.locator(`[data-name="${comp}"] tbody tr:not(.p-empty-row)`).evaluateAll((trs) => trs.map((tr) =>
    [...tr.querySelectorAll('td')].filter((td) => !td.classList.contains('p-select') && !td.classList.contains('p-row-actions'))
      .map((td) => td.textContent.trim())));
}

/** Waits for a table's first column to be exactly `names` (and not loading). */
async function waitRows(page, comp, names) {
  await page.waitForFunction(({ comp, names }) => {
    const table = document.querySelector(`[data-name="${comp}"] table`);
    if (!table || table.getAttribute('aria-busy') === 'true') return false;
    const got = [...table.querySelectorAll('tbody tr:not(.p-empty-row)')].map((tr) => {
      const td = [...tr.querySelectorAll('td')].find((x) => !x.classList.contains('p-select'));
      return td?.textContent.trim();
    });
    return JSON.stringify(got) === JSON.stringify(names);
  }, { comp, names }, { timeout: TIMEOUT }).catch(async (e) => {
    throw new Error(`rows of ${comp}: expected ${JSON.stringify(names)}, got ${JSON.stringify(await rows(page, comp))}: ${e.message}`);
  });
}

const stateOf = (page) => page.evaluate(() => ({ stateId: document.body.dataset.stateId, url: location.pathname + location.search }));

async function newPage() {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.errors = errors;
  current = page;
  return page;
}

/* ---- the demo flow ---- */

describe('player: the demo flow (Customer desk)', () => {
  let srv;
  let page;
  let playUrl;
  let stateId;

  before(hook(async () => {
    srv = await startServer({ command: 'demo', user: null });
    await poll(() => /^flow: /m.test(srv.stdoutText), { what: 'the demo banner' });
    const tenant = /^tenant: (\S+)/m.exec(srv.stdoutText)[1];
    const flow = /^flow: (\S+)/m.exec(srv.stdoutText)[1];
    playUrl = `${srv.url}/play/${tenant}/${flow}`;
    page = await newPage();
  }));
  after(async () => {
    await page?.context().close();
    await srv?.stop();
  });

  it('starts a state, shows the first page and puts ?join=<state> in the URL', async () => {
    await page.goto(playUrl);
    await onPage(page, 'Welcome to the customer desk');
    const st = await stateOf(page);
    assert.match(st.stateId, /^[0-9a-f-]{36}$/);
    assert.ok(st.url.endsWith(`?join=${st.stateId}`), st.url);
    stateId = st.stateId;
    assert.equal(await page.evaluate(() => performance.getEntriesByName('sluice:first-page').length), 1);
    // focus is on the page heading
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'page-title');
    await shot(page, 'player-01-welcome');
  });

  it('a required input: the local check stops the move and says why, accessibly', async () => {
    const input = page.getByLabel('Your name');
    assert.equal(await input.getAttribute('placeholder'), 'e.g. Ada');
    assert.equal(await input.getAttribute('maxlength'), '80');
    assert.equal(await input.getAttribute('aria-required'), 'true');
    const token = await page.evaluate(() => document.body.dataset.token);
    await outcome(page, 'Start');
    await page.locator('.error-text').first().waitFor();
    assert.equal(await input.getAttribute('aria-invalid'), 'true');
    const errId = await input.getAttribute('aria-describedby');
    assert.equal(await page.locator(`#${errId}`).textContent(), 'This field is required.');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? document.activeElement?.labels?.[0]?.textContent), 'Your name *');
    assert.equal(await page.evaluate(() => document.body.dataset.token), token, 'nothing was sent');
    assert.equal(await heading(page), 'Welcome to the customer desk');
    await shot(page, 'player-02-required');
    await input.fill('Ada');
    await outcome(page, 'Start');
    await onPage(page, 'Files');
    assert.match(await page.locator('.p-presentation').first().textContent(), /Hello, Ada!/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'page-title', 'focus moved to the heading');
  });

  it('uploads a 12 MB file with a progress bar; the files list shows it with a download link', async () => {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    // slow the upload down (16 MB/s) so the bar is seen moving
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1,
      uploadThroughput: 16 * 1024 * 1024 });
    const size = 12 * 1024 * 1024;
    await page.locator('[data-name="Upload files"] input[type=file]').setInputFiles({ name: 'report.bin',
      mimeType: 'application/octet-stream', buffer: Buffer.alloc(size, 0x5a) });
    const row = page.locator('[data-name="Upload files"] .p-upload-row', { hasText: 'report.bin' });
    await row.waitFor();
    const mid = await page.waitForFunction(() => {
      const v = document.querySelector('[data-name="Upload files"] .p-upload-row progress')?.value;
      return v > 0 && v < 100 ? v : null;
    }, null, { timeout: TIMEOUT, polling: 20 });
    assert.ok(await mid.jsonValue() < 100);
    assert.ok(await row.locator('progress').isVisible());
    await shot(page, 'player-03-upload-progress');
    await page.waitForFunction(() => document.querySelector('[data-name="Upload files"] .p-upload-row')?.classList.contains('done'),
      null, { timeout: 30000 });
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
    assert.equal(await row.locator('progress').getAttribute('value'), '100');
    assert.ok(Number(await row.getAttribute('data-progress-events')) >= 2, 'several progress events');
    assert.equal((await row.textContent()).includes('Uploaded'), true);
    // the files component lists it (refreshed after the upload), with its download link
    await page.waitForFunction(() => [...document.querySelectorAll('[data-name="Uploaded"] tbody td')]
      .some((td) => td.textContent === 'report.bin'), null, { timeout: TIMEOUT });
    const link = page.locator('[data-name="Uploaded"] tbody tr', { hasText: 'report.bin' }).getByRole('link', { name: /Download/ });
    const href = await link.getAttribute('href');
    assert.match(href, /\/files\/download\//);
    const dl = await fetch(href);
    assert.equal(dl.status, 200);
    assert.equal((await dl.arrayBuffer()).byteLength, size);
    // the files list searches
    await page.locator('[data-name="Uploaded"] input[type=search]').fill('nothing-like-this');
    await page.locator('[data-name="Uploaded"] .empty', { hasText: 'No rows match your search.' }).waitFor();
    await page.locator('[data-name="Uploaded"] input[type=search]').fill('report');
    await page.locator('[data-name="Uploaded"]').getByRole('cell', { name: 'report.bin', exact: true }).waitFor();
    await page.locator('[data-name="Uploaded"] input[type=search]').fill('');
    // drag and drop onto the files list's own upload area: uploaded and listed
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' }));
      const zone = document.querySelector('[data-name="Uploaded"] .p-dropzone');
      for (const type of ['dragenter', 'dragover', 'drop']) {
        zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
      }
    });
    await page.locator('[data-name="Uploaded"] .p-upload-row.done', { hasText: 'dropped.txt' }).waitFor({ timeout: TIMEOUT });
    await page.locator('[data-name="Uploaded"]').getByRole('cell', { name: 'dropped.txt', exact: true }).waitFor({ timeout: TIMEOUT });
    await page.locator('[data-name="Uploaded"]').getByRole('cell', { name: 'report.bin', exact: true }).waitFor();
    await shot(page, 'player-04-files-listed');
  });

  it('reload rejoins the same state on the same page', async () => {
    await page.reload();
    await onPage(page, 'Files');
    const st = await stateOf(page);
    assert.equal(st.stateId, stateId);
    assert.ok(st.url.endsWith(`?join=${stateId}`));
    assert.match(await page.locator('.p-presentation').first().textContent(), /Hello, Ada!/);
  });

  it('a service table: pages next and previous, sorts by a column, searches', async () => {
    await outcome(page, 'Customers');
    await onPage(page, 'Customers');
    const first10 = ['Ada Lovelace', 'Brendan Byrne', 'Chiara Conti', 'Dmitri Dorosh', 'Erin Egan', 'Farah Fathy', 'Gustav Gran',
      'Hana Hayashi', 'Ilse Imhof', 'Jonas Jensen'];
    await waitRows(page, 'Customers', first10);
    const t = page.locator('[data-name="Customers"]');
    assert.equal(await t.locator('th', { hasText: 'Name' }).getAttribute('aria-sort'), 'ascending', 'the design-time order');
    assert.equal(await t.getByRole('button', { name: /Previous/ }).isDisabled(), true);
    await shot(page, 'player-05-table');
    await t.getByRole('button', { name: /Next/ }).click();
    await waitRows(page, 'Customers', ['Kofi Kuma', 'Lucia Lopez', 'Mateo Morales', 'Nadia Novak', 'Oskar Olsen']);
    assert.equal(await t.getByRole('button', { name: /Next/ }).isDisabled(), true, 'hasMoreResults false');
    assert.equal(await t.locator('.pager').textContent().then((x) => x.includes('Page 2')), true);
    await shot(page, 'player-06-table-page2');
    await t.getByRole('button', { name: /Previous/ }).click();
    await waitRows(page, 'Customers', first10);
    // sort by city: ascending, then descending
    await t.getByRole('button', { name: /^City/ }).click();
    await page.waitForFunction(() => document.querySelector('[data-name="Customers"] tbody tr td:nth-child(4)')?.textContent === 'Aarhus'
      && document.querySelector('[data-name="Customers"] table').getAttribute('aria-busy') === 'false', null, { timeout: TIMEOUT });
    assert.equal(await t.locator('th', { hasText: 'City' }).getAttribute('aria-sort'), 'ascending');
    await t.getByRole('button', { name: /^City/ }).click();
    await page.waitForFunction(() => document.querySelector('[data-name="Customers"] tbody tr td:nth-child(4)')?.textContent === 'Zurich',
      null, { timeout: TIMEOUT });
    assert.equal(await t.locator('th', { hasText: 'City' }).getAttribute('aria-sort'), 'descending');
    await shot(page, 'player-07-table-sorted');
    // search (debounced typing) and a search that matches nothing
    await t.getByRole('searchbox').fill('dublin');
    await waitRows(page, 'Customers', ['Brendan Byrne', 'Erin Egan']);
    await t.getByRole('searchbox').fill('no such customer');
    await t.locator('.empty', { hasText: 'No rows match your search.' }).waitFor();
    await shot(page, 'player-08-table-empty-search');
    await t.getByRole('searchbox').fill('dublin');
    await t.getByRole('searchbox').press('Enter');
    await waitRows(page, 'Customers', ['Brendan Byrne', 'Erin Egan']); // both in Dublin: city DESC keeps the service's order
  });

  it('single selection by click and keyboard; a row outcome moves with that row', async () => {
    const t = page.locator('[data-name="Customers"]');
    const erin = t.locator('tbody tr', { hasText: 'Erin Egan' });
    const brendan = t.locator('tbody tr', { hasText: 'Brendan Byrne' });
    await erin.click();
    assert.equal(await erin.getAttribute('aria-selected'), 'true');
    // keyboard: focus Brendan's row and press Space: single selection moves to it
    await page.locator('[data-name="Customers"] tbody tr', { hasText: 'Brendan Byrne' }).focus();
    await page.keyboard.press('Space');
    assert.equal(await brendan.getAttribute('aria-selected'), 'true');
    assert.equal(await erin.getAttribute('aria-selected'), 'false');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    assert.equal(await erin.getAttribute('aria-selected'), 'true');
    assert.equal(await t.locator('tr[aria-selected="true"]').count(), 1);
    await shot(page, 'player-09-table-selected');
    // the row outcome "Edit" on Brendan's row selects that row and moves
    await brendan.getByRole('button', { name: /^Edit/ }).click();
    await onPage(page, 'Edit customer');
    assert.equal(await page.getByLabel('Name').inputValue(), 'Brendan Byrne');
    assert.equal(await page.getByLabel('City').inputValue(), 'Dublin');
  });

  it('the engine\'s validation message (regex) shows on the field; a valid save goes back to the table', async () => {
    await page.getByLabel('Email').fill('not an email');
    await outcome(page, 'Save');
    const email = page.getByLabel('Email');
    await page.waitForFunction(() => document.querySelector('[aria-invalid="true"]'), null, { timeout: TIMEOUT });
    assert.equal(await email.getAttribute('aria-invalid'), 'true');
    const errId = await email.getAttribute('aria-describedby');
    assert.equal(await page.locator(`#${errId}`).textContent(), 'Enter an email address like name@example.org.');
    assert.equal(await page.evaluate(() => document.activeElement?.labels?.[0]?.textContent), 'Email', 'focus on the bad field');
    await shot(page, 'player-10-engine-validation');
    await email.fill('brendan@example.ie');
    await page.getByLabel('City').fill('Galway');
    await outcome(page, 'Save');
    await onPage(page, 'Customers');
    const t = page.locator('[data-name="Customers"]');
    await t.getByRole('searchbox').fill('galway');
    await waitRows(page, 'Customers', ['Brendan Byrne']);
    assert.deepEqual((await rows(page, 'Customers'))[0], ['Brendan Byrne', 'brendan@example.ie', 'Galway', 'IE', 'Standard']);
  });

  it('Finish (NO_SAVE) ends the flow: the last step shows, no outcomes, and it offers to start again', async () => {
    await outcome(page, 'Finish');
    await onPage(page, 'Done');
    assert.equal(await page.evaluate(() => document.body.dataset.invokeType), 'DONE');
    assert.match(await page.locator('.p-presentation').textContent(), /Thank you, Ada\. That is the whole demo\./);
    assert.equal(await page.locator('[data-outcome]').count(), 0);
    assert.match(await page.locator('.p-done').textContent(), /This flow has finished/);
    await shot(page, 'player-11-done');
    await page.getByRole('button', { name: 'Start again' }).click();
    await onPage(page, 'Welcome to the customer desk');
    const st = await stateOf(page);
    assert.notEqual(st.stateId, stateId, 'a new state');
    assert.deepEqual(page.errors, []);
  });
});

/* ---- a flow of our own: every input, containers, conditions, lists, navigation ---- */

function kitFlow(srv, user, token) {
  const svc = k.service('Upload', `${srv.url}/fs/upload`, { username: user, password: token });
  const gone = k.service('Gone', 'http://127.0.0.1:9/fs/nothing'); // nothing listens there
  const cust = k.type('customers', [['id', 'ContentNumber'], ['name', 'ContentString'], ['email', 'ContentString'],
    ['city', 'ContentString'], ['country', 'ContentString'], ['segment', 'ContentString'], ['active', 'ContentBoolean']],
  { serviceElementId: svc.id });
  cust.bindings = [{ id: k.id(), developerName: 'customers', databaseTableName: 'customers', serviceElementId: svc.id,
    typeElementId: cust.id, propertyBindings: [] }];
  const colour = k.type('Colour', [['name', 'ContentString']]);
  const archived = k.type('Archived', [['name', 'ContentString']], { serviceElementId: gone.id });
  const fruit = k.type('Fruit', [['name', 'ContentString'], ['colour', 'ContentString']]);
  const FRUITS = [['Apple', 'red'], ['Banana', 'yellow'], ['Cherry', 'red'], ['Date', 'brown'], ['Elderberry', 'purple'],
    ['Fig', 'purple'], ['Grape', 'green'], ['Honeydew', 'green'], ['Kiwi', 'brown'], ['Lemon', 'yellow'], ['Mango', 'orange'],
    ['Orange', 'orange']];
  const V = {
    name: k.value('Name'), age: k.value('Age', 'ContentNumber'), born: k.value('Born', 'ContentDate'),
    meet: k.value('Meeting', 'ContentDateTime'), sub: k.value('Subscribe', 'ContentBoolean', { defaultContentValue: 'false' }),
    email: k.value('Email'), notes: k.value('Notes'), secret: k.value('Secret', 'ContentPassword'),
    yes: k.value('Yes', 'ContentBoolean', { defaultContentValue: 'true' }),
    colours: k.value('Colours', 'ContentList', { typeElementId: colour.id,
      defaultObjectData: ['Red', 'Green', 'Blue'].map((n) => k.object(colour, { name: n }, n.toLowerCase())) }),
    colour: k.value('Picked colour', 'ContentObject', { typeElementId: colour.id }),
    customer: k.value('Picked customer', 'ContentObject', { typeElementId: cust.id }),
    fruits: k.value('Fruits', 'ContentList', { typeElementId: fruit.id,
      defaultObjectData: FRUITS.map(([n, c]) => k.object(fruit, { name: n, colour: c }, n.toLowerCase())) }),
    chosen: k.value('Chosen', 'ContentList', { typeElementId: fruit.id }),
    liked: k.value('Also liked', 'ContentList', { typeElementId: colour.id }),
  };
  const col = (t, n, i, extra = {}) => ({ typeElementPropertyId: k.prop(t, n).id, typeElementPropertyDeveloperName: n,
    label: n[0].toUpperCase() + n.slice(1), order: i, isDisplayValue: true, isEditable: false, ...extra });

  // Details: nested containers (a row, a group of tabs) and every kind of input
  const cMain = { id: k.id(), containerType: 'VERTICAL_FLOW', developerName: 'Main', label: '', order: 0, pageContainers: [] };
  const cRow = { id: k.id(), containerType: 'HORIZONTAL_FLOW', developerName: 'When', label: 'When', order: 1, pageContainers: [] };
  const cTabA = { id: k.id(), containerType: 'VERTICAL_FLOW', developerName: 'Notes tab', label: 'Notes', order: 0, pageContainers: [] };
  const cTabB = { id: k.id(), containerType: 'VERTICAL_FLOW', developerName: 'Secret tab', label: 'Secret', order: 1, pageContainers: [] };
  const cGroup = { id: k.id(), containerType: 'GROUP', developerName: 'More', label: 'More', order: 4, pageContainers: [cTabA, cTabB] };
  cMain.pageContainers = [cRow, cGroup];
  const comp = (container, order, c) => ({ id: k.id(), pageContainerId: container.id, pageContainerDeveloperName: container.developerName,
    order, isEditable: true, isRequired: false, label: c.developerName, ...c });
  const pDetails = { id: k.id(), elementType: 'PAGE_LAYOUT', developerName: 'Details', label: 'Your details', pageContainers: [cMain],
    pageComponents: [
      comp(cMain, 0, { developerName: 'Name', componentType: 'INPUT', isRequired: true, maxSize: 20, size: 20,
        hintValue: 'Your full name', helpInfo: 'As on your passport.', valueElementValueBindingReferenceId: k.ref(V.name) }),
      comp(cRow, 0, { developerName: 'Age', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(V.age),
        validations: [{ type: 'minimum', value: '18', message: 'You must be 18 or older.' }] }),
      comp(cRow, 1, { developerName: 'Born', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(V.born) }),
      comp(cRow, 2, { developerName: 'Meeting', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(V.meet) }),
      comp(cMain, 2, { developerName: 'Subscribe', componentType: 'INPUT', label: 'Subscribe to news',
        valueElementValueBindingReferenceId: k.ref(V.sub) }),
      comp(cMain, 3, { developerName: 'Email', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(V.email) }),
      comp(cTabA, 0, { developerName: 'Notes', componentType: 'TEXTAREA', isRequired: true,
        valueElementValueBindingReferenceId: k.ref(V.notes) }),
      comp(cTabB, 0, { developerName: 'Secret', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(V.secret) }),
      comp(cMain, 5, { developerName: 'Colour', componentType: 'radio', label: 'Favourite colour', isRequired: true,
        valueElementDataBindingReferenceId: k.ref(V.colours), valueElementValueBindingReferenceId: k.ref(V.colour),
        columns: [col(colour, 'name', 0)] }),
      comp(cMain, 6, { developerName: 'Customer', componentType: 'select', isSearchable: true, attributes: { paginationSize: '5' },
        valueElementValueBindingReferenceId: k.ref(V.customer), columns: [col(cust, 'name', 0), col(cust, 'city', 1)],
        objectDataRequest: { typeElementId: cust.id, typeElementBindingId: cust.bindings[0].id, serviceElementId: svc.id, command: null,
          listFilter: { comparisonType: 'AND', where: [], orderByTypeElementPropertyId: k.prop(cust, 'name').id,
            orderByDirectionType: 'ASC', limit: 250 } } }),
      comp(cMain, 7, { developerName: 'Also like', componentType: 'COMBOBOX', isMultiSelect: true,
        valueElementDataBindingReferenceId: k.ref(V.colours), valueElementValueBindingReferenceId: k.ref(V.liked),
        columns: [col(colour, 'name', 0)] }),
    ],
    pageConditions: [] };
  const byName = (p, n) => p.pageComponents.find((c) => c.developerName === n);
  const subscribed = [k.pageRule(k.compOperand(byName(pDetails, 'Subscribe')), 'EQUAL', k.valueOperand(k.ref(V.yes)))];
  pDetails.pageConditions = [k.pageCondition(subscribed, byName(pDetails, 'Email'), 'METADATA.VISIBLE'),
    k.pageCondition(subscribed, byName(pDetails, 'Email'), 'METADATA.REQUIRED')];

  const pRows = k.page('Rows', [{ developerName: 'Fruits', componentType: 'table', isMultiSelect: true, isSearchable: true,
    valueElementDataBindingReferenceId: k.ref(V.fruits), valueElementValueBindingReferenceId: k.ref(V.chosen),
    columns: [col(fruit, 'name', 0), col(fruit, 'colour', 1, { isEditable: true })] }], { label: 'Pick fruit' });
  const pSummary = k.page('Summary', [
    { developerName: 'Summary', componentType: 'PRESENTATION', isEditable: false,
      content: '<p id="summary">Name={![Name]}; Age={![Age]}; Born={![Born]}; Subscribe={![Subscribe]}; Email={![Email]}; '
        + 'Notes={![Notes]}; Colour={![Picked colour].[name]}; Customer={![Picked customer].[name]}</p>' },
    { developerName: 'Chosen', componentType: 'table', valueElementDataBindingReferenceId: k.ref(V.chosen),
      columns: [col(fruit, 'name', 0), col(fruit, 'colour', 1)] },
    { developerName: 'Liked', componentType: 'table', valueElementDataBindingReferenceId: k.ref(V.liked),
      columns: [col(colour, 'name', 0)] },
    { developerName: 'Archive', componentType: 'table', columns: [col(archived, 'name', 0)],
      objectDataRequest: { typeElementId: archived.id, typeElementBindingId: null, serviceElementId: gone.id, command: null,
        listFilter: null } }], { label: 'Summary' });

  const start = k.element('START', 'Start');
  const details = k.element('input', 'Details', { pageElementId: pDetails.id });
  const rowsEl = k.element('input', 'Rows', { pageElementId: pRows.id });
  const summary = k.element('input', 'Summary', { pageElementId: pSummary.id });
  const end = k.element('step', 'The end', { userContent: '<p>Bye {![Name]}.</p>' });
  start.outcomes = [k.outcome('go', details)];
  details.outcomes = [k.outcome('Next', rowsEl, { order: 0, pageActionType: 'NEXT' }),
    k.outcome('Skip', rowsEl, { order: 1, pageActionBindingType: 'NO_SAVE', pageActionType: 'CANCEL' })];
  const fruitTable = pRows.pageComponents[0].id;
  rowsEl.outcomes = [k.outcome('Take', summary, { label: 'Take selected', isBulkAction: true, pageObjectBindingId: fruitTable, order: 0 }),
    k.outcome('Back', details, { order: 1, pageActionBindingType: 'NO_SAVE', pageActionType: 'BACK' })];
  summary.outcomes = [k.outcome('Finish', end, { pageActionType: 'DONE' })];
  const nav = k.navigation('Menu', [['Details', details], ['Fruit', rowsEl], ['Summary', summary]]);
  return k.snapshot('Player kit', { start, elements: [start, details, rowsEl, summary, end], values: Object.values(V),
    types: [cust, colour, fruit, archived], services: [svc, gone], pages: [pDetails, pRows, pSummary], navigations: [nav] });
}

describe('player: inputs, containers, conditions, lists and navigation (a flow of our own)', () => {
  let srv;
  let page;
  let playUrl;

  before(hook(async () => {
    srv = await startServer({ command: 'demo', user: null });
    await poll(() => /^token: /m.test(srv.stdoutText), { what: 'the demo banner' });
    const user = /^user: (\S+)/m.exec(srv.stdoutText)[1];
    const token = /^token: (\S+)/m.exec(srv.stdoutText)[1];
    const imp = await k.importFlow(srv.data, kitFlow(srv, user, token));
    playUrl = `${srv.url}/play/${imp.tenant}/${imp.flow}`;
    page = await newPage();
  }));
  after(async () => {
    await page?.context().close();
    await srv?.stop();
  });

  it('renders every input type with its label, containers in order and a group as tabs', async () => {
    await page.goto(playUrl);
    await onPage(page, 'Your details');
    const type = (label) => page.getByLabel(label, { exact: true }).getAttribute('type');
    assert.equal(await type('Name *'), 'text');
    assert.equal(await type('Age'), 'number');
    assert.equal(await type('Born'), 'date');
    assert.equal(await type('Meeting'), 'datetime-local');
    assert.equal(await type('Subscribe to news'), 'checkbox');
    const name = page.getByLabel('Name *');
    assert.equal(await name.getAttribute('placeholder'), 'Your full name');
    assert.equal(await name.getAttribute('maxlength'), '20');
    assert.equal(await page.locator(`#${await name.getAttribute('aria-describedby')}`).textContent(), 'As on your passport.');
    // Email is hidden until Subscribe is ticked (page condition)
    assert.equal(await page.getByLabel('Email').count(), 0);
    // the horizontal container holds Age, Born, Meeting in a row
    const boxes = await Promise.all(['Age', 'Born', 'Meeting'].map((l) => page.getByLabel(l, { exact: true }).boundingBox()));
    assert.ok(Math.abs(boxes[0].y - boxes[2].y) < 2 && boxes[0].x < boxes[1].x && boxes[1].x < boxes[2].x, JSON.stringify(boxes));
    // the GROUP is tabs: Notes shown, Secret behind its tab
    assert.equal(await page.getByRole('tab', { name: 'Notes' }).getAttribute('aria-selected'), 'true');
    assert.equal(await page.getByRole('textbox', { name: 'Notes' }).evaluate((e) => e.tagName), 'TEXTAREA');
    const secret = page.locator('input[name="Secret"]');
    assert.equal(await secret.isVisible(), false);
    await page.getByRole('tab', { name: 'Notes' }).focus();
    await page.keyboard.press('ArrowRight');
    assert.equal(await page.getByRole('tab', { name: 'Secret' }).getAttribute('aria-selected'), 'true');
    assert.equal(await secret.isVisible(), true);
    assert.equal(await secret.getAttribute('type'), 'password');
    assert.equal(await secret.evaluate((e) => e.labels[0].textContent), 'Secret');
    // radios: a fieldset with a legend
    assert.equal(await page.locator('fieldset.p-radio legend').textContent(), 'Favourite colour * (required)');
    assert.equal(await page.getByRole('radio').count(), 3);
    await shot(page, 'player-20-kit-details');
  });

  it('NO_SAVE skips the local checks; navigation goes back', async () => {
    await outcome(page, 'Skip');
    await onPage(page, 'Pick fruit');
    await page.locator('#topnav .p-nav-item[aria-current="page"]', { hasText: 'Fruit' }).waitFor();
    assert.equal(await page.locator('#topnav .p-nav-item').count(), 3);
    await shot(page, 'player-21-kit-nav');
    await page.locator('#topnav').getByRole('button', { name: 'Details' }).click();
    await onPage(page, 'Your details');
    await page.locator('#topnav .p-nav-item[aria-current="page"]', { hasText: 'Details' }).waitFor();
  });

  it('local required checks, the engine\'s minimum, and a page condition shown by a SYNC', async () => {
    await outcome(page, 'Next');
    await page.locator('.alert.error', { hasText: '3 fields need your attention.' }).waitFor(); // Name, Notes, Colour
    assert.equal(await page.getByLabel('Name *').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator('fieldset.p-radio').getAttribute('aria-invalid'), 'true');
    assert.match(await page.locator('fieldset.p-radio .error-text').textContent(), /Select an option/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), await page.getByLabel('Name *').getAttribute('id'));
    await shot(page, 'player-22-kit-required');

    await page.getByLabel('Name *').fill('Grace Hopper');
    await page.getByLabel('Age').fill('12');
    await page.getByLabel('Born').fill('1906-12-09');
    await page.getByLabel('Meeting').fill('2030-01-02T09:30');
    await page.getByRole('radio', { name: 'Green' }).check();
    // ticking Subscribe SYNCs: Email appears, required
    const before = await page.evaluate(() => document.body.dataset.token);
    await page.getByLabel('Subscribe to news').check();
    await page.getByLabel('Email *').waitFor({ timeout: TIMEOUT });
    assert.notEqual(await page.evaluate(() => document.body.dataset.token), before, 'a SYNC ran');
    assert.equal(await page.getByLabel('Name *').inputValue(), 'Grace Hopper', 'local values survive the SYNC');
    await shot(page, 'player-23-kit-condition');
    await outcome(page, 'Next');
    await page.locator('.alert.error', { hasText: '2 fields need your attention.' }).waitFor(); // Email, Notes
    assert.equal(await page.getByLabel('Email *').getAttribute('aria-invalid'), 'true');
    await page.getByLabel('Email *').fill('grace@example.org');
    // the one field left is behind the hidden "Notes" tab: the player opens the tab and focuses it
    assert.equal(await page.getByRole('tab', { name: 'Secret' }).getAttribute('aria-selected'), 'true');
    await outcome(page, 'Next');
    await page.locator('.alert.error', { hasText: 'One field needs your attention.' }).waitFor();
    assert.equal(await page.getByRole('tab', { name: 'Notes' }).getAttribute('aria-selected'), 'true');
    const notes = page.getByRole('textbox', { name: 'Notes' });
    assert.equal(await notes.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.name), 'Notes');
    await notes.fill('line one\nline two');
    // the engine refuses Age 12 (minimum 18) and keeps the posted values
    await outcome(page, 'Next');
    await page.waitForFunction(() => document.querySelector('input[aria-invalid="true"]'), null, { timeout: TIMEOUT });
    await idle(page);
    assert.equal(await heading(page), 'Your details');
    const age = page.getByLabel('Age');
    assert.equal(await age.getAttribute('aria-invalid'), 'true');
    assert.equal(await page.locator(`#${await age.getAttribute('aria-describedby')}`).textContent(), 'You must be 18 or older.');
    assert.equal(await page.getByLabel('Name *').inputValue(), 'Grace Hopper');
    await shot(page, 'player-24-kit-engine-minimum');
    await age.fill('37');
  });

  it('a combobox: pages in while scrolling, searches the service, picks', async () => {
    const combo = page.getByRole('combobox', { name: 'Customer' });
    await combo.click();
    const options = page.getByRole('listbox').getByRole('option');
    // pages of 5 (paginationSize): the list fetches until it can scroll, then scrolling to the end loads the rest
    await page.waitForFunction(() => document.querySelectorAll('[role=listbox] [role=option]').length >= 10, null, { timeout: TIMEOUT });
    assert.equal(await options.nth(0).textContent(), 'Ada Lovelace');
    assert.ok(await page.getByRole('listbox').evaluate((ul) => ul.scrollHeight > ul.clientHeight), 'the list scrolls');
    await page.getByRole('listbox').evaluate((ul) => { ul.scrollTop = ul.scrollHeight; });
    await page.waitForFunction(() => document.querySelectorAll('[role=listbox] [role=option]').length === 15, null, { timeout: TIMEOUT });
    assert.equal(await options.nth(14).textContent(), 'Oskar Olsen');
    assert.equal(await page.locator('.p-list-note', { hasText: 'Scroll for more' }).count(), 0);
    await shot(page, 'player-25-kit-combobox-open');
    await combo.fill('oslo');
    await page.waitForFunction(() => {
      const o = [...document.querySelectorAll('[role=listbox] [role=option]')];
      return o.length === 1 && o[0].textContent === 'Gustav Gran';
    }, null, { timeout: TIMEOUT });
    await combo.press('ArrowDown');
    await combo.press('Enter');
    assert.equal(await combo.inputValue(), 'Gustav Gran');
    assert.equal(await combo.getAttribute('aria-expanded'), 'false');
    await shot(page, 'player-26-kit-combobox-picked');
    // a multi-select combobox over a value's list: filters as you type, chips to remove
    const also = page.getByRole('combobox', { name: 'Also like' });
    await also.fill('bl');
    await page.waitForFunction(() => [...document.querySelectorAll('[role=listbox]:not([hidden]) [role=option]')]
      .map((o) => o.textContent).join() === '☐ Blue', null, { timeout: TIMEOUT });
    await also.press('ArrowDown');
    await also.press('Enter');
    await also.fill('');
    await page.locator('[role=listbox]:not([hidden]) [role=option]', { hasText: 'Red' }).click();
    await page.locator('[role=listbox]:not([hidden]) [role=option]', { hasText: 'Green' }).click();
    assert.equal(await page.locator('[data-name="Also like"] [role=option][aria-selected="true"]').count(), 3);
    await page.getByRole('button', { name: 'Remove Green' }).click();
    assert.deepEqual(await page.locator('[data-name="Also like"] .p-chip').evaluateAll((cs) => cs.map((c) => c.firstChild.textContent)),
      ['Blue', 'Red']);
    await shot(page, 'player-26b-kit-combobox-multi');
    await also.press('Escape');
    assert.equal(await also.getAttribute('aria-expanded'), 'false');
    await outcome(page, 'Next');
    await onPage(page, 'Pick fruit');
  });

  it('a value-bound multi-select table: client-side paging, search, sort, and a bulk outcome', async () => {
    const t = page.locator('[data-name="Fruits"]');
    await waitRows(page, 'Fruits', ['Apple', 'Banana', 'Cherry', 'Date', 'Elderberry', 'Fig', 'Grape', 'Honeydew', 'Kiwi', 'Lemon']);
    assert.equal(await t.locator('table').getAttribute('aria-multiselectable'), 'true');
    await t.getByRole('button', { name: /Next/ }).click();
    await waitRows(page, 'Fruits', ['Mango', 'Orange']);
    assert.match(await t.locator('.pager').textContent(), /Page 2 of 2/);
    // pick Mango here by its checkbox, then go back and pick two more by click and keyboard
    await t.locator('tbody tr', { hasText: 'Mango' }).locator('input[type=checkbox]').click();
    await t.getByRole('button', { name: /Previous/ }).click();
    await t.getByRole('gridcell', { name: 'Cherry', exact: true }).click(); // not on the editable cell
    await t.locator('tbody tr', { hasText: 'Fig' }).focus();
    await page.keyboard.press('Enter');
    assert.match(await t.locator('.p-selcount').textContent(), /3 selected/);
    // sort by name, descending, and search by colour
    await t.getByRole('button', { name: /^Name/ }).click();
    await t.getByRole('button', { name: /^Name/ }).click();
    await waitRows(page, 'Fruits', ['Orange', 'Mango', 'Lemon', 'Kiwi', 'Honeydew', 'Grape', 'Fig', 'Elderberry', 'Date', 'Cherry']);
    await t.getByRole('searchbox').fill('purple');
    await waitRows(page, 'Fruits', ['Fig', 'Elderberry']);
    assert.equal(await t.locator('tbody tr', { hasText: 'Fig' }).getAttribute('aria-selected'), 'true');
    await t.getByRole('searchbox').fill('blue');
    await t.locator('.empty', { hasText: 'No rows match your search.' }).waitFor();
    await t.getByRole('searchbox').fill('');
    // an editable cell: Fig's colour
    await waitRows(page, 'Fruits', ['Orange', 'Mango', 'Lemon', 'Kiwi', 'Honeydew', 'Grape', 'Fig', 'Elderberry', 'Date', 'Cherry']);
    await t.getByRole('textbox', { name: 'Colour, row 7' }).fill('violet');
    await t.getByRole('textbox', { name: 'Colour, row 7' }).press('Tab');
    assert.equal(await t.locator('tbody tr', { hasText: 'Fig' }).getAttribute('aria-selected'), 'true');
    await shot(page, 'player-27-kit-multiselect');
    // the bulk outcome sits above the table
    const bulk = t.locator('.p-bulk').getByRole('button', { name: 'Take selected' });
    assert.ok(await bulk.isVisible());
    await bulk.click();
    await onPage(page, 'Summary');
  });

  it('the summary shows what was saved: inputs, radio, combobox and the chosen rows', async () => {
    const text = await page.locator('#summary').textContent();
    assert.match(text, /Name=Grace Hopper; Age=37; Born=1906-12-09; Subscribe=true; Email=grace@example\.org; Notes=line one\nline two;/);
    assert.match(text, /Colour=Green; Customer=Gustav Gran/);
    await waitRows(page, 'Chosen', ['Cherry', 'Fig', 'Mango']);
    assert.deepEqual(await rows(page, 'Chosen'), [['Cherry', 'red'], ['Fig', 'violet'], ['Mango', 'orange']], 'the edited cell was saved');
    await waitRows(page, 'Liked', ['Red', 'Blue']);
    // a table whose service cannot be reached: the relay's problem message, and a way to retry
    const archive = page.locator('[data-name="Archive"]');
    await archive.locator('.alert.error').waitFor({ timeout: TIMEOUT });
    assert.match(await archive.locator('.alert.error').textContent(), /could not be reached/);
    assert.equal(await archive.getByRole('button', { name: 'Try again' }).count(), 1);
    assert.match(await archive.locator('.empty').textContent(), /could not be loaded/);
    await shot(page, 'player-28-kit-summary');
  });

  it('a stale token (another tab moved the state): the player rejoins and says so', async () => {
    const other = await page.context().newPage();
    await other.goto(page.url());
    await onPage(other, 'Summary');
    await other.locator('#topnav').getByRole('button', { name: 'Details' }).click();
    await onPage(other, 'Your details');
    assert.equal(await other.getByLabel('Name *').inputValue(), 'Grace Hopper', 'values kept on navigating back');
    await other.close();
    // this tab still shows Summary with an old token
    await outcome(page, 'Finish');
    await onPage(page, 'Your details');
    await page.locator('.alert.warn', { hasText: 'changed elsewhere' }).waitFor();
    await shot(page, 'player-29-kit-stale');
  });

  it('navigation to the summary and Finish: DONE', async () => {
    await page.locator('#topnav').getByRole('button', { name: 'Summary' }).click();
    await onPage(page, 'Summary');
    await outcome(page, 'Finish');
    await onPage(page, 'The end');
    assert.match(await page.locator('.p-presentation').textContent(), /Bye Grace Hopper\./);
    assert.equal(await page.evaluate(() => document.body.dataset.invokeType), 'DONE');
    assert.deepEqual(page.errors, []);
  });
});

/* ---- WAIT: a MESSAGE element calling the Atom's slow action ---- */

describe('player: a message action that answers WAIT', () => {
  let srv;
  let page;
  let playUrl;

  before(hook(async () => {
    // fixtures/good's "Slow" process waits 1.5 s with a sync timeout of 300 ms: the Atom answers WAIT
    srv = await startServer({ deploy: fixture('good'), args: ['--callback-backoff-ms', '50'] });
    const svc = k.service('Test', `${srv.url}/fs/test`, { username: srv.user, password: srv.token });
    const apiKey = k.value('Api Key', 'ContentString', { defaultContentValue: 'k-123' });
    svc.configurationValues = [{ developerName: 'Api Key', contentType: 'ContentString', valueElementToReferenceId: k.ref(apiKey), order: 0 }];
    const label = k.value('Label');
    const echo = k.value('Echo');
    const flag = k.value('Flag', 'ContentBoolean', { defaultContentValue: 'false' });
    const pAsk = k.page('Ask', [{ developerName: 'Label', componentType: 'INPUT', isRequired: true,
      valueElementValueBindingReferenceId: k.ref(label) }], { label: 'Ask the slow system' });
    const pAfter = k.page('After', [{ developerName: 'Echo', componentType: 'PRESENTATION',
      content: '<p id="echo">echo {![Echo]} done {![Flag]}</p>' }], { label: 'It answered' });
    const start = k.element('START', 'Start');
    const ask = k.element('input', 'Ask', { pageElementId: pAsk.id });
    const msg = k.element('MESSAGE', 'Slow call', { messageActions: [k.messageAction(svc, 'Slow', {
      inputs: [['Label', k.ref(label)]], outputs: [['Label', k.ref(echo)], ['Done', k.ref(flag), 'ContentBoolean']] })] });
    const afterEl = k.element('input', 'After', { pageElementId: pAfter.id });
    k.chain(start, ask, msg, afterEl);
    // "Break": a message action that fails at once (fixtures/good's "Fail")
    const reason = k.value('Reason', 'ContentString', { defaultContentValue: 'disk full' });
    const code = k.value('Code', 'ContentNumber', { defaultContentValue: '42' });
    const doomed = k.element('MESSAGE', 'Doomed', { messageActions: [k.messageAction(svc, 'Fail', {
      inputs: [['Reason', k.ref(reason)], ['Code', k.ref(code), 'ContentNumber']] })] });
    doomed.outcomes = [k.outcome('next', afterEl)];
    ask.outcomes.push(k.outcome('Break', doomed, { order: 1, pageActionBindingType: 'NO_SAVE' }));
    const imp = await k.importFlow(srv.data, k.snapshot('Waits', { start, elements: [start, ask, msg, doomed, afterEl],
      values: [apiKey, label, echo, flag, reason, code], services: [svc], pages: [pAsk, pAfter] }));
    playUrl = `${srv.url}/play/${imp.tenant}/${imp.flow}`;
    page = await newPage();
  }));
  after(async () => {
    await page?.context().close();
    await srv?.stop();
  });

  it('a service fault (rootFaults) shows as an error and the page stays', async () => {
    await page.goto(playUrl);
    await onPage(page, 'Ask the slow system');
    const token = await page.evaluate(() => document.body.dataset.token);
    await outcome(page, 'Break');
    const alert = page.locator('#alerts .alert.error');
    await alert.waitFor({ timeout: TIMEOUT });
    assert.match(await alert.textContent(), /^Fail: .*cannot continue: disk full \(code 42\)/);
    assert.equal(await alert.getAttribute('role'), 'alert');
    assert.equal(await heading(page), 'Ask the slow system');
    assert.equal(await page.evaluate(() => document.body.dataset.token), token, 'nothing committed');
    await shot(page, 'player-32-fault');
  });

  it('a WAIT that ends in a fault: back on the page with the error; a changed input then goes through', async () => {
    await page.getByLabel('Label *').fill('fail'); // the Slow process fails after its wait for this label
    await outcome(page, 'next');
    await page.waitForFunction(() => document.body.dataset.invokeType === 'WAIT', null, { timeout: TIMEOUT });
    await page.locator('#alerts .alert.error', { hasText: 'gave up on fail' }).waitFor({ timeout: TIMEOUT });
    await onPage(page, 'Ask the slow system');
    assert.equal(await page.locator('#overlay').isVisible(), false);
    assert.equal(await page.getByLabel('Label *').inputValue(), 'fail', 'what was typed is still there');
    await shot(page, 'player-33-wait-fault');
    await page.getByLabel('Label *').fill('second try');
    await outcome(page, 'next');
    await onPage(page, 'It answered');
    assert.equal(await page.locator('#echo').textContent(), 'echo second try done true');
  });

  it('shows the wait message over the page, survives a reload, and shows the next page when the Atom calls back', async () => {
    await page.goto(playUrl);
    await onPage(page, 'Ask the slow system');
    await page.getByLabel('Label *').fill('patience');
    const t0 = Date.now();
    await outcome(page, 'next');
    await page.waitForFunction(() => document.body.dataset.invokeType === 'WAIT', null, { timeout: TIMEOUT });
    const overlay = page.locator('#overlay');
    assert.ok(await overlay.isVisible());
    const msg = await page.locator('#overlay-msg').textContent();
    assert.ok(msg.length > 0 && msg !== 'Working…', `wait message: ${msg}`);
    const { stateId } = await stateOf(page);
    await shot(page, 'player-30-wait');
    // a reload while it waits joins the waiting state and shows the same message
    await page.reload();
    await page.waitForFunction(() => document.body.dataset.invokeType === 'WAIT', null, { timeout: TIMEOUT });
    assert.ok(await overlay.isVisible());
    assert.equal((await stateOf(page)).stateId, stateId);
    // the ping turns true after the callback (1.5 s); the player rejoins within its 2 s polling
    await onPage(page, 'It answered');
    assert.ok(Date.now() - t0 >= 1400, 'only after the slow process finished');
    assert.equal(await overlay.isVisible(), false);
    assert.equal(await page.locator('#echo').textContent(), 'echo patience done true');
    assert.equal((await stateOf(page)).stateId, stateId);
    await shot(page, 'player-31-after-wait');
    assert.deepEqual(page.errors, []);
  });
});
