// The admin console (/admin) in a real browser: login (and its errors), the Atom pages
// (deployments, listeners, executions and one execution's per-shape counts), the Flow pages
// (services: install and refresh; flows: export, import, activate; running states: filter,
// inspect, delete; tenants: add and switch), dark mode, logout. Every step leaves a screenshot in
// tests/artifacts/browser/admin-*.png.
//
//   SLUICE_BIN=$PWD/build/sluice node --test tests/browser/admin.test.mjs
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, basicAuth, ev, hook, it, poll, run, serviceRequest, startServer, tempDir } from '../e2e/helpers.mjs';
import { launch, shot } from './browser.mjs';

const TIMEOUT = 10000;

describe('admin console', () => {
  let srv;
  let browser;
  let page;
  const creds = {};
  const pageErrors = [];
  let greetExecution;
  let failedExecution;
  let stateId;

  /** API calls from the test itself (not through the console). */
  const atomCall = (action, inputs) => fetch(`${srv.url}/fs/upload/actions/${encodeURIComponent(action)}`, {
    method: 'POST',
    headers: { authorization: basicAuth(creds.user, creds.token), 'content-type': 'application/json' },
    body: JSON.stringify(serviceRequest({ inputs })),
  });
  const flowCall = async (method, p, body) => {
    const r = await fetch(srv.url + p, {
      method,
      headers: { ManyWhoTenant: creds.tenant, 'x-boomi-flow-api-key': creds.key, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, json: text ? JSON.parse(text) : null };
  };

  const heading = (name) => page.getByRole('heading', { level: 1, name });
  const nav = (name) => page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name, exact: true });

  before(hook(async () => {
    srv = await startServer({ command: 'demo', user: null });
    await poll(() => /^key: /m.test(srv.stdoutText), { what: 'the demo banner on stdout', timeoutMs: TIMEOUT });
    for (const k of ['user', 'token', 'tenant', 'key', 'flow']) {
      creds[k] = new RegExp(`^${k}: (\\S+)`, 'm').exec(srv.stdoutText)?.[1];
      assert.ok(creds[k], `the demo printed no "${k}:" line:\n${srv.stdoutText}`);
    }
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
    context.setDefaultTimeout(TIMEOUT);
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`); });
  }));

  after(async () => {
    await browser?.close();
    await srv?.stop();
  });

  it('without a session, /admin/atom/executions leads to the login page', async () => {
    await page.goto(`${srv.url}/admin/atom/executions`);
    await heading('Sluice console').waitFor();
    assert.match(page.url(), /\/admin\/login\?next=%2Fadmin%2Fatom%2Fexecutions$/);
    await page.getByLabel('User').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.name), 'user', 'the first field has the focus');
    await shot(page, 'admin-01-login');
  });

  it('wrong credentials show the problem message', async () => {
    const form = page.locator('#login-form');
    await form.getByRole('button', { name: 'Log in' }).click();
    await form.getByRole('alert').filter({ hasText: 'Give the Atom user and token' }).waitFor();

    await page.getByLabel('User').fill(creds.user);
    await page.getByLabel('Token').fill('slt_wrong');
    await page.getByLabel('Tenant id').fill(creds.tenant);
    await page.getByLabel('API key').fill('not-the-key');
    await form.getByRole('button', { name: 'Log in' }).click();
    const atomErr = form.getByRole('alert').filter({ hasText: 'Atom:' });
    const flowErr = form.getByRole('alert').filter({ hasText: 'Flow:' });
    await atomErr.waitFor();
    assert.match(await atomErr.textContent(), /authentication required/);
    assert.match(await flowErr.textContent(), /API key is not valid/);
    assert.equal(await page.getByLabel('Token').getAttribute('aria-invalid'), 'true');
    assert.match(page.url(), /\/admin\/login/, 'still on the login page');
    await shot(page, 'admin-02-login-wrong-credentials');
  });

  it('logs in with the Atom user + token and the Flow tenant + key', async () => {
    await page.getByLabel('Token').fill(creds.token);
    await page.getByLabel('API key').fill(creds.key);
    await page.getByLabel('API key').press('Enter'); // the keyboard submits the form
    // back where it was sent from
    await heading('Executions').waitFor();
    assert.match(page.url(), /\/admin\/atom\/executions$/);
    const stored = JSON.parse(await page.evaluate(() => sessionStorage.getItem('sluice.console')));
    assert.equal(stored.atom.user, creds.user);
    assert.deepEqual(stored.tenants.map((t) => t.id), [creds.tenant]);
    await page.getByRole('link', { name: /Sluice/ }).click();
    await heading('Overview').waitFor();
    await page.getByText('16 components').waitFor();
    await shot(page, 'admin-03-overview');
  });

  it('Atom: deployments list the version and its components', async () => {
    await nav('Deployments').click();
    await heading('Deployments').waitFor();
    const versions = page.getByRole('table', { name: 'Deployment versions' });
    await versions.getByRole('link', { name: 'v1' }).waitFor();
    assert.match(await versions.textContent(), /examples\/upload.*current/s);
    const comps = page.getByRole('table', { name: 'Components of version 1' });
    for (const name of ['Upload Service', 'Greet', 'Quote Order', 'Greet Request', 'Customers DB']) {
      await comps.getByRole('cell', { name, exact: true }).waitFor();
    }
    assert.equal(await nav('Deployments').getAttribute('aria-current'), 'page');
    await shot(page, 'admin-04-deployments');
  });

  it('Atom: listeners show /fs/upload and its actions', async () => {
    await nav('Listeners').click();
    await heading('Listeners').waitFor();
    const card = page.getByRole('region', { name: 'Flow Service Upload Service' });
    await card.getByText('/fs/upload', { exact: true }).waitFor();
    const actions = card.getByRole('table', { name: 'Actions of Upload Service' });
    await actions.getByRole('cell', { name: '/fs/upload/actions/Greet' }).waitFor();
    await actions.getByRole('cell', { name: '/fs/upload/actions/Quote%20Order' }).waitFor();
    await page.getByRole('table', { name: 'Processes' }).getByRole('cell', { name: 'Save Customer', exact: true }).waitFor();
    await shot(page, 'admin-05-listeners');
  });

  it('Atom: executions list a Greet run with filters; its detail has per-shape counts', async () => {
    const r = await atomCall('Greet', [ev.string('Name', 'Ada'), ev.string('Language', 'fr')]);
    assert.equal(r.status, 200);
    greetExecution = (await r.json()).outputs.find((o) => o.developerName === 'Execution').contentValue;
    const bad = await atomCall('Quote Order', [ev.string('Customer', 'Bob')]);
    assert.equal(bad.status, 500);
    failedExecution = /^execution (\S+)$/.exec((await bad.json()).where)[1];

    await nav('Executions').click();
    await heading('Executions').waitFor();
    await page.getByText('2 executions.').waitFor();
    // filter: process Greet
    await page.getByLabel('Process').selectOption('Greet');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('1 execution match the filters.').waitFor();
    assert.match(page.url(), /\?process=Greet$/);
    assert.equal(await page.locator(`tr[data-id="${greetExecution}"]`).count(), 1);
    // filter: status error and Greet → nothing
    await page.getByLabel('Status').selectOption('error');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No executions match these filters.').waitFor();
    // time: a window in the past → nothing; clear → both
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByText('2 executions.').waitFor();
    await page.getByLabel('Started until').fill('2001-01-01T00:00');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No executions match these filters.').waitFor();
    await page.getByRole('button', { name: 'Clear' }).click();
    await page.getByText('2 executions.').waitFor();
    await shot(page, 'admin-06-executions');

    await page.getByRole('link', { name: `Execution ${greetExecution} of Greet, details` }).click();
    await heading('Execution of Greet success').waitFor();
    const shapes = page.getByRole('table', { name: 'Per-shape document counts' });
    const cells = async (id) => (await shapes.locator(`tr[data-shape="${id}"] td`).allTextContents()).map((s) => s.trim());
    assert.deepEqual(await cells('start'), ['start', 'start', '1', '1', '1', '']);
    assert.deepEqual(await cells('map-fr'), ['map-fr', 'map', '1', '1', '1', '']);
    assert.deepEqual(await cells('map-en'), ['map-en', 'map', '0', '0', '0', '']);
    assert.deepEqual(await cells('done'), ['done', 'return', '1', '1', '1', '']);
    await page.getByText('8 shapes, 5 ran.').waitFor();
    await shot(page, 'admin-07-execution-detail');

    await page.goto(`${srv.url}/admin/atom/executions/${failedExecution}`);
    await heading('Execution of Quote Order error').waitFor();
    await page.getByRole('alert').filter({ hasText: 'an order for Bob needs at least one line' }).waitFor();
    assert.deepEqual((await page.locator('tr[data-shape="empty"] td').allTextContents()).map((s) => s.trim()),
      ['empty', 'exception', '1', '0', '1', 'an order for Bob needs at least one line']);
    await shot(page, 'admin-08-execution-error');

    await page.goto(`${srv.url}/admin/atom/executions/no-such-execution`);
    await page.getByRole('alert').waitFor();
    assert.match(await page.getByRole('alert').textContent(), /no-such-execution|not found|no execution/i);
  });

  it('Atom: auto-refresh shows new executions without a reload', async () => {
    await page.goto(`${srv.url}/admin/atom/executions`);
    await page.getByText('2 executions.').waitFor();
    await page.getByLabel('Auto-refresh every 5 s').check();
    const r = await atomCall('Greet', [ev.string('Name', 'Grace')]);
    assert.equal(r.status, 200);
    await page.getByText('3 executions.').waitFor({ timeout: 9000 });
    await shot(page, 'admin-09-executions-auto-refresh');
    await page.getByLabel('Auto-refresh every 5 s').uncheck();
  });

  it('Atom: executions page 25 at a time; Back returns to the previous page', async () => {
    const runs = await Promise.all(Array.from({ length: 25 }, (_, i) => atomCall('Greet', [ev.string('Name', `P${i}`)])));
    assert.deepEqual([...new Set(runs.map((r) => r.status))], [200]);
    await page.goto(`${srv.url}/admin/atom/executions`);
    await page.getByText('28 executions.').waitFor();
    const pages = page.getByRole('navigation', { name: 'Pages' });
    assert.equal(await pages.locator('.pager-info').textContent(), '1–25 of 28');
    assert.equal(await page.locator('#exec-list tbody tr').count(), 25);
    assert.ok(await pages.getByRole('button', { name: '← Previous' }).isDisabled());
    await pages.getByRole('button', { name: 'Next →' }).click();
    await page.locator('.pager-info', { hasText: '26–28 of 28' }).waitFor();
    assert.match(page.url(), /\?offset=25$/);
    assert.equal(await page.locator('#exec-list tbody tr').count(), 3);
    assert.ok(await pages.getByRole('button', { name: 'Next →' }).isDisabled());
    await page.goBack();
    await page.locator('.pager-info', { hasText: '1–25 of 28' }).waitFor();
    assert.match(page.url(), /\/admin\/atom\/executions$/);
  });

  it('Flow: services list "Upload"; install from the URL form; refresh shows the change report', async () => {
    await nav('Services').click();
    await heading('Services').waitFor();
    const list = page.getByRole('table', { name: 'Installed services' });
    await list.getByRole('cell', { name: 'Upload', exact: true }).waitFor();
    assert.match(await list.textContent(), new RegExp(`${srv.url}/fs/upload`.replace(/[./]/g, '\\$&')));

    // a wrong path: the install's problem message is shown
    const form = page.locator('#install-form');
    await form.getByLabel('Service URL').fill(`${srv.url}/fs/nope`);
    await form.getByRole('button', { name: 'Install' }).click();
    await form.getByRole('alert').filter({ hasText: 'no Flow Service is published at /fs/nope' }).waitFor();
    assert.equal(await form.getByLabel('Service URL').getAttribute('aria-invalid'), 'true');
    await shot(page, 'admin-10-install-error');

    // again, right (the URL form is prefilled with this server and the Atom login)
    await form.getByLabel('Service URL').fill(`${srv.url}/fs/upload`);
    assert.equal(await form.getByLabel('Username').inputValue(), creds.user);
    await form.getByLabel('Name', { exact: true }).fill('Upload');
    await form.getByRole('button', { name: 'Install' }).click();
    const report = page.locator('#service-report');
    await report.getByRole('heading', { name: 'Installed Upload' }).waitFor();
    await report.getByText('No changes').waitFor();
    // and as a new service
    await page.locator('#install-form').getByLabel('Name', { exact: true }).fill('Upload copy');
    await page.locator('#install-form').getByRole('button', { name: 'Install' }).click();
    await report.getByRole('heading', { name: 'Installed Upload copy' }).waitFor();
    await page.getByRole('table', { name: 'Installed services' }).getByRole('cell', { name: 'Upload copy', exact: true }).waitFor();
    await shot(page, 'admin-11-install');

    await page.getByRole('button', { name: 'Refresh Upload', exact: true }).click();
    await report.getByRole('heading', { name: 'Refreshed Upload' }).waitFor();
    assert.match(await report.textContent(), /3 actions, 8 types\..*No changes/s);
    await shot(page, 'admin-12-refresh');
  });

  it('after a redeploy, refresh reports the added action and property; deployments show v2', async () => {
    // the example folder with one more message action and one more Address field
    const dir = path.join(await tempDir('sluice-admin-deploy-'), 'upload');
    await cp(path.join(REPO_ROOT, 'examples', 'upload'), dir, { recursive: true });
    const svcFile = path.join(dir, 'services', 'upload.json');
    const svc = JSON.parse(await readFile(svcFile, 'utf8'));
    svc.messageActions.push({ name: 'Wave', description: 'Greets once more', process: 'Greet' });
    await writeFile(svcFile, JSON.stringify(svc, null, 2));
    const profFile = path.join(dir, 'profiles', 'order-request.json');
    const prof = JSON.parse(await readFile(profFile, 'utf8'));
    prof.root.children.find((c) => c.name === 'Address').children.push({ name: 'Postcode', type: 'Character' });
    await writeFile(profFile, JSON.stringify(prof, null, 2));
    const d = await run(['deploy', dir, '--data', srv.data]);
    assert.equal(d.code, 0, d.stderr);
    await poll(async () => (await srv.healthz()).deployment === 2, { what: 'the server to pick up deployment 2', timeoutMs: TIMEOUT });

    await page.getByRole('button', { name: 'Refresh Upload', exact: true }).click();
    const report = page.locator('#service-report');
    await report.getByRole('heading', { name: 'Actions added (1)' }).waitFor();
    const text = await report.textContent();
    assert.match(text, /4 actions, 8 types\./);
    assert.match(text, /Actions added \(1\)Wave/);
    assert.match(text, /Properties added \(1\)Quote Order REQUEST - Address: Postcode/);
    assert.match(await page.locator('#services-list tr', { hasText: 'Upload copy' }).textContent(), /Greet\s*Quote Order/);
    await shot(page, 'admin-13-refresh-changes');

    await nav('Deployments').click();
    const versions = page.getByRole('table', { name: 'Deployment versions' });
    await versions.getByRole('link', { name: 'v2' }).waitFor();
    assert.match(await versions.locator('tr', { hasText: 'v2' }).textContent(), /current/);
    const comps = page.getByRole('table', { name: 'Components of version 2' });
    const row = async (name) => (await comps.locator('tr', { has: page.getByRole('cell', { name, exact: true }) }).locator('td').allTextContents()).map((s) => s.trim());
    assert.deepEqual((await row('Upload Service')).slice(0, 5), ['flowservice', 'Upload Service', 'services/upload.json', 'v2', '2']);
    assert.deepEqual((await row('Greet')).slice(0, 5), ['process', 'Greet', 'processes/greet.json', 'v1', '1']);
    await shot(page, 'admin-14-deployments-v2');
    await versions.getByRole('link', { name: 'v1' }).click();
    await page.getByRole('table', { name: 'Components of version 1' }).waitFor();
    assert.match(page.url(), /\/admin\/atom\/deployments\?version=1$/);
    await nav('Services').click();
    await heading('Services').waitFor();
  });

  it('Flow: a known Atom installs by path', async () => {
    const form = page.locator('#atom-form');
    await form.getByLabel('Atom name').fill('local');
    await form.getByLabel('Base URL').fill(srv.url);
    await form.getByRole('button', { name: 'Save Atom' }).click();
    await page.getByRole('table', { name: 'Known Atoms' }).getByRole('cell', { name: 'local' }).waitFor();
    const install = page.locator('#install-form');
    await install.getByLabel('A known Atom and a path').check();
    await install.getByLabel('Path to service').fill('/fs/upload');
    await install.getByLabel('Name', { exact: true }).fill('Upload by path');
    await install.getByRole('button', { name: 'Install' }).click();
    await page.locator('#service-report').getByRole('heading', { name: 'Installed Upload by path' }).waitFor();
    const svcs = (await flowCall('GET', '/api/draw/1/element/service')).json;
    assert.equal(svcs.find((s) => s.developerName === 'Upload by path')?.uri, `${srv.url}/fs/upload`);
  });

  let exported;
  it('Flow: flows list "Customer desk"; export its package as a download', async () => {
    await nav('Flows').click();
    await heading('Flows').waitFor();
    await page.getByRole('table', { name: 'Flows' }).getByRole('link', { name: 'Customer desk', exact: true }).waitFor();
    await shot(page, 'admin-15-flows');
    await page.getByRole('table', { name: 'Flows' }).getByRole('link', { name: 'Customer desk', exact: true }).click();
    await heading('Customer desk').waitFor();
    await page.getByRole('heading', { name: 'Versions (1)' }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export active version' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'Customer-desk.json');
    exported = path.join(await tempDir('sluice-admin-'), download.suggestedFilename());
    await download.saveAs(exported);
    const pkg = JSON.parse(await readFile(exported, 'utf8'));
    assert.equal(pkg.package.format, 'sluice-flow-package/1');
    assert.equal(pkg.developerName, 'Customer desk');
    assert.equal(pkg.id.id, creds.flow);
    await shot(page, 'admin-16-flow');
  });

  it('Flow: importing the package back adds a version; activating the old one moves the badge', async () => {
    await page.getByLabel('Package file').setInputFiles(exported);
    await page.locator('#import-form').getByRole('button', { name: 'Import' }).click();
    await page.locator('#flow-report').getByText('Imported Customer desk').waitFor();
    await page.getByRole('heading', { name: 'Versions (2)' }).waitFor();
    const versions = page.getByRole('table', { name: 'Versions' });
    assert.match(await versions.locator('tr[data-version="2"]').textContent(), /active/);
    await shot(page, 'admin-17-imported');

    // a file that is not a package: the problem is shown
    const junk = path.join(path.dirname(exported), 'junk.json');
    await writeFile(junk, '{"developerName": 3}');
    await page.getByLabel('Package file').setInputFiles(junk);
    await page.locator('#import-form').getByRole('button', { name: 'Import' }).click();
    await page.locator('#import-form').getByRole('alert').filter({ hasText: 'Import failed' }).waitFor();

    await versions.getByRole('button', { name: 'Activate version 1' }).click();
    await page.locator('#flow-report').getByText('Version 1 is now active.').waitFor();
    assert.match(await page.getByRole('table', { name: 'Versions' }).locator('tr[data-version="1"]').textContent(), /active/);
    assert.doesNotMatch(await page.getByRole('table', { name: 'Versions' }).locator('tr[data-version="2"]').textContent(), /\bactive/);
    const snap = (await flowCall('GET', `/api/draw/1/flow/snap/${creds.flow}`)).json;
    assert.deepEqual(snap.map((v) => [v.versionNumber, v.isActive]), [[2, false], [1, true]]);
    await shot(page, 'admin-18-activated');
  });

  it('Flow: running states show a state started through the run API; inspect; delete', async () => {
    const r = await fetch(`${srv.url}/api/run/1/state`, {
      method: 'POST',
      headers: { ManyWhoTenant: creds.tenant, 'content-type': 'application/json' },
      body: JSON.stringify({ id: creds.flow }),
    });
    assert.equal(r.status, 200);
    stateId = (await r.json()).stateId;

    await nav('Running states').click();
    await heading('Running states').waitFor();
    await page.locator(`tr[data-id="${stateId}"]`).waitFor();
    const filters = page.getByRole('form', { name: 'Filter states' });
    await filters.getByLabel('Flow').selectOption({ label: 'Customer desk' });
    await filters.getByLabel('Status').selectOption('IN_PROGRESS');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator(`tr[data-id="${stateId}"]`).waitFor();
    assert.match(page.url(), new RegExp(`flow=${creds.flow}&status=IN_PROGRESS`));
    const join = page.getByRole('link', { name: `Join state ${stateId} in the player` });
    assert.equal(await join.getAttribute('href'), `/play/${creds.tenant}/${creds.flow}?join=${stateId}`);
    await shot(page, 'admin-19-states');
    await filters.getByLabel('Status').selectOption('DONE');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No states match these filters.').waitFor();

    await filters.getByLabel('Status').selectOption('');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.locator('td').getByRole('link', { name: `Inspect state ${stateId}` }).first().click();
    await page.locator('#current-element').waitFor();
    assert.equal(await page.locator('#current-element').textContent(), 'Welcome');
    const values = page.getByRole('table', { name: 'Values by name' });
    await values.getByRole('cell', { name: 'Your Name' }).waitFor();
    await values.getByRole('cell', { name: 'Greeting' }).waitFor();
    assert.equal(await page.locator('#join-link').getAttribute('href'), `/play/${creds.tenant}/${creds.flow}?join=${stateId}`);
    await page.locator('#raw-state summary').click();
    const raw = JSON.parse(await page.getByLabel('Raw state JSON').textContent());
    assert.ok(raw.current, 'the raw state has the current element');
    await shot(page, 'admin-20-state');

    // delete: cancel first, then confirm
    await page.locator('#delete-state').click();
    const dialog = page.getByRole('dialog', { name: 'Delete this state?' });
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.equal((await flowCall('GET', `/api/draw/1/state/${stateId}`)).status, 200);
    await page.locator('#delete-state').click();
    await shot(page, 'admin-21-state-delete-confirm');
    await dialog.getByRole('button', { name: 'Delete state' }).click();
    await heading('Running states').waitFor();
    await page.getByText(`Deleted state ${stateId}.`).waitFor();
    assert.equal(await page.locator(`tr[data-id="${stateId}"]`).count(), 0);
    assert.equal((await flowCall('GET', `/api/draw/1/state/${stateId}`)).status, 404);
    await shot(page, 'admin-22-state-deleted');
  });

  it('Flow: tenants page counts flows and states; another tenant can be added and switched to', async () => {
    const t = await run(['tenant', 'add', 'second', '--data', srv.data]);
    assert.equal(t.code, 0, t.stderr);
    const k = await run(['key', 'add', '--tenant', 'second', '--data', srv.data]);
    assert.equal(k.code, 0, k.stderr);
    const second = { id: t.stdout.trim(), key: k.stdout.trim() };

    await nav('Tenants').click();
    await heading('Flow — tenants').waitFor();
    const table = page.locator('#tenants-table');
    const cells = async (i) => (await table.locator('tbody tr').nth(i).locator('td').allTextContents()).map((s) => s.trim());
    assert.deepEqual((await cells(0)).slice(0, 2), [`${creds.tenant} current`, '1']);

    const form = page.locator('#add-tenant-form');
    await form.getByLabel('Tenant id').fill(second.id);
    await form.getByLabel('API key').fill('wrong');
    await form.getByRole('button', { name: 'Add tenant' }).click();
    await form.getByRole('alert').filter({ hasText: 'API key is not valid' }).waitFor();
    await form.getByLabel('API key').fill(second.key);
    await form.getByRole('button', { name: 'Add tenant' }).click();
    await table.locator('tbody tr').nth(1).waitFor();
    assert.deepEqual(await cells(1), [`${second.id} current`, '0', '0', 'Forget']);
    assert.deepEqual(await page.locator('#tenant-switch option').evaluateAll((os) => os.map((o) => o.value)), [creds.tenant, second.id]);
    await shot(page, 'admin-23-tenants');

    await nav('Flows').click();
    await page.getByText('This tenant has no flows yet.').waitFor();
    await page.getByLabel('Tenant', { exact: true }).selectOption(creds.tenant);
    await page.getByRole('table', { name: 'Flows' }).getByRole('link', { name: 'Customer desk', exact: true }).waitFor();
  });

  it('dark mode follows the system', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${srv.url}/admin/atom/executions/${greetExecution}`);
    await heading('Execution of Greet success').waitFor();
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(bg, 'rgb(21, 23, 27)');
    await shot(page, 'admin-24-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('is keyboard reachable: the skip link comes first and leads into the page', async () => {
    await page.goto(`${srv.url}/admin/flow/flows`);
    await heading('Flows').waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.match(page.url(), /\/admin\/flow\/flows#main$/);
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => document.activeElement.textContent.trim());
    assert.equal(focused, 'Reload', `after the skip link, focus went to "${focused}"`);
  });

  it('shows a loading indicator while a call is slow, and a page for unknown addresses', async () => {
    let release;
    const held = new Promise((r) => { release = r; });
    await page.route('**/api/atom/v1/listeners', async (route) => { await held; await route.continue(); });
    await nav('Listeners').click();
    const busy = page.locator('#busy');
    await busy.waitFor({ state: 'visible' });
    assert.equal(await busy.getByRole('status').textContent(), 'Loading…');
    assert.equal(await page.locator('#main').getAttribute('aria-busy'), 'true');
    await shot(page, 'admin-25-loading');
    release();
    await heading('Listeners').waitFor();
    await busy.waitFor({ state: 'hidden' });
    await page.unroute('**/api/atom/v1/listeners');

    await page.goto(`${srv.url}/admin/no/such/page`);
    await heading('Page not found').waitFor();
  });

  it('logs out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await heading('Sluice console').waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('sluice.console')), null);
    await page.goto(`${srv.url}/admin/flow/flows`);
    await page.getByLabel('Tenant id').waitFor();
    assert.match(page.url(), /\/admin\/login/);
    await shot(page, 'admin-26-logged-out');
  });

  it('a Flow-only login hides the Atom pages', async () => {
    await page.getByLabel('Tenant id').fill(creds.tenant);
    await page.getByLabel('API key').fill(creds.key);
    await page.locator('#login-form').getByRole('button', { name: 'Log in' }).click();
    // it was sent to the login page from the flows list, and goes back there
    await heading('Flows').waitFor();
    assert.equal(await nav('Executions').count(), 0);
    assert.equal(await nav('Flows').count(), 1);
    await page.goto(`${srv.url}/admin/atom/executions`);
    await heading('Atom login needed').waitFor();
    await page.goto(`${srv.url}/admin`);
    await page.getByRole('heading', { name: 'Flow', level: 2 }).waitFor();
    assert.equal(await page.getByRole('heading', { name: 'Atom', level: 2 }).count(), 0);
    await shot(page, 'admin-27-flow-only');
  });

  it('the console raised no script errors', () => {
    // the expected 401s of the wrong-credentials step and the 404 of the unknown execution are
    // resource errors, not script errors
    const real = pageErrors.filter((e) => !/Failed to load resource/.test(e));
    assert.deepEqual(real, []);
  });
});
