// The whole demo, as a new user meets it: `sluice demo` on a clean data directory, the player URL
// it prints, every step of the Customer desk flow in a real browser (name → greeting from a
// message action → files uploaded and listed → customers table with paging and search → edit
// with a combobox and a radio filled from the service → save → credit check that answers WAIT and
// completes by callback → delete → done), then the console showing the executions that ran.
// Screenshots of each step: tests/artifacts/browser/demo-*.png.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { hook, it, poll, startServer } from '../e2e/helpers.mjs';
import { launch, shot } from './browser.mjs';

const TIMEOUT = 15000;

describe('the demo, end to end in a browser', () => {
  let srv;
  let browser;
  let page;
  let banner;
  before(hook(async () => {
    srv = await startServer({ command: 'demo', user: null, args: ['--callback-backoff-ms', '50'] });
    await poll(() => /^key: /m.test(srv.stdoutText), { what: 'the demo banner' });
    const line = (name) => new RegExp(`^${name}: (\\S+)`, 'm').exec(srv.stdoutText)?.[1];
    banner = { player: line('player'), console: line('console'), user: line('user'), token: line('token'),
      tenant: line('tenant'), key: line('key') };
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    page = await context.newPage();
    page.errors = [];
    page.on('pageerror', (e) => page.errors.push(e.message));
  }));
  after(async () => {
    await browser?.close();
    await srv?.stop();
  });

  const onPage = (text) => page.waitForFunction((t) => document.querySelector('#page h1')?.textContent === t
    && document.body.dataset.busy !== 'true', text, { timeout: TIMEOUT });
  const outcome = (name) => page.locator(`.p-outcome-bar [data-outcome-name="${name}"]`).click();
  const table = () => page.locator('[data-name="Customers"]');

  it('prints the player, console, user and token lines; the player URL opens the flow', async () => {
    assert.match(banner.player, /^http:\/\/127\.0\.0\.1:\d+\/play\/[0-9a-f-]{36}\/[0-9a-f-]{36}$/);
    assert.equal(banner.console, `${srv.url}/admin`);
    assert.equal(banner.user, 'demo');
    await page.goto(banner.player);
    await onPage('Welcome to the customer desk');
    await shot(page, 'demo-01-welcome');
  });

  it('asks for a name (required), then greets through the Atom\'s message action', async () => {
    await outcome('Start');
    await page.locator('[aria-invalid="true"]').first().waitFor({ timeout: TIMEOUT });
    await page.getByLabel('Your name').fill('Grace');
    await outcome('Start');
    await onPage('Files');
    assert.match(await page.locator('.p-presentation').first().textContent(), /Hello, Grace!/);
  });

  it('uploads files and sees them listed', async () => {
    await page.locator('[data-name="Upload files"] input[type=file]').setInputFiles([
      { name: 'contract.txt', mimeType: 'text/plain', buffer: Buffer.from('the contract') },
      { name: 'photo.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(300000, 7) }]);
    for (const name of ['contract.txt', 'photo.bin'])
      await page.locator('[data-name="Uploaded"]').getByRole('cell', { name, exact: true }).waitFor({ timeout: TIMEOUT });
    // sorted by the service: Name ascending, then descending
    const uploaded = page.locator('[data-name="Uploaded"]');
    const firstName = () => uploaded.locator('tbody tr').first().locator('td').first().textContent();
    await uploaded.getByRole('button', { name: /^Name/ }).click();
    await page.waitForFunction(() => document.querySelector('[data-name="Uploaded"] tbody tr td')?.textContent === 'contract.txt',
      null, { timeout: TIMEOUT });
    await uploaded.getByRole('button', { name: /^Name/ }).click();
    await page.waitForFunction(() => document.querySelector('[data-name="Uploaded"] tbody tr td')?.textContent === 'photo.bin',
      null, { timeout: TIMEOUT });
    assert.equal(await firstName(), 'photo.bin');
    await shot(page, 'demo-02-files');
    await outcome('Customers');
    await onPage('Customers');
  });

  it('the customers table pages and searches through the service', async () => {
    await table().locator('tbody tr').first().waitFor({ timeout: TIMEOUT });
    assert.equal(await table().locator('tbody tr').count(), 10);
    await table().getByRole('button', { name: /Next/ }).click();
    await page.waitForFunction(() => document.querySelectorAll('[data-name="Customers"] tbody tr').length === 5,
      null, { timeout: TIMEOUT });
    await table().getByRole('searchbox').fill('chiara');
    await page.waitForFunction(() => {
      const r = document.querySelectorAll('[data-name="Customers"] tbody tr');
      return r.length === 1 && r[0].textContent.includes('Chiara Conti');
    }, null, { timeout: TIMEOUT });
    await shot(page, 'demo-03-customers-search');
  });

  it('edits a customer: the combobox and the radio come from the service and are pre-selected; saving writes the table', async () => {
    await table().locator('tbody tr', { hasText: 'Chiara Conti' }).getByRole('button', { name: /^Edit/ }).click();
    await onPage('Edit customer');
    const country = page.getByRole('combobox', { name: /Country/ });
    await page.waitForFunction(() => document.querySelector('[role=combobox]')?.value === 'Italy', null, { timeout: TIMEOUT });
    const segment = page.getByRole('radio', { name: 'Silver' });
    await segment.waitFor({ timeout: TIMEOUT });
    assert.equal(await segment.isChecked(), true, 'the current segment is selected');
    await shot(page, 'demo-04-edit');
    await country.click();
    await country.fill('port');
    await page.waitForFunction(() => {
      const o = [...document.querySelectorAll('[role=listbox] [role=option]')];
      return o.length === 1 && o[0].textContent.includes('Portugal');
    }, null, { timeout: TIMEOUT });
    await country.press('ArrowDown');
    await country.press('Enter');
    await page.getByRole('radio', { name: 'Gold' }).check();
    await page.getByLabel('City').fill('Porto');
    await outcome('Save');
    await onPage('Customers');
    await table().getByRole('searchbox').fill('chiara');
    await page.waitForFunction(() => {
      const r = document.querySelectorAll('[data-name="Customers"] tbody tr');
      return r.length === 1 && r[0].textContent.includes('Porto') && r[0].textContent.includes('PT')
        && r[0].textContent.includes('Gold');
    }, null, { timeout: TIMEOUT });
    await shot(page, 'demo-05-saved');
  });

  it('a credit check goes WAIT (the busy overlay) and completes by callback', async () => {
    await table().locator('tbody tr', { hasText: 'Chiara Conti' }).getByRole('button', { name: /^Check credit/ }).click();
    await onPage('Credit check');
    await page.getByLabel('Amount').fill('1200');
    await outcome('Check');
    await page.waitForFunction(() => document.body.dataset.invokeType === 'WAIT', null, { timeout: TIMEOUT });
    assert.ok(await page.locator('#overlay').isVisible());
    await shot(page, 'demo-06-wait');
    await onPage('Credit result');
    assert.match(await page.locator('.p-presentation').first().textContent(), /Approved for Chiara Conti/);
    await shot(page, 'demo-07-credit-result');
    await outcome('Back to customers');
    await onPage('Customers');
  });

  it('deletes a customer through the data action', async () => {
    await table().getByRole('searchbox').fill('oskar');
    const row = table().locator('tbody tr', { hasText: 'Oskar Olsen' });
    await row.waitFor({ timeout: TIMEOUT });
    await row.getByRole('button', { name: /^Delete/ }).click();
    await onPage('Customers');
    await table().getByRole('searchbox').fill('oskar');
    await page.locator('[data-name="Customers"] .empty', { hasText: 'No rows match your search.' }).waitFor({ timeout: TIMEOUT });
  });

  it('finishes: DONE', async () => {
    await outcome('Finish');
    await onPage('Done');
    assert.match(await page.locator('.p-presentation').textContent(), /Thank you, Grace\. That is the whole demo\./);
    await shot(page, 'demo-08-done');
    assert.deepEqual(page.errors, []);
  });

  it('the console shows the executions that ran: Greet, the data actions and the credit check', async () => {
    await page.goto(banner.console);
    await page.getByLabel('User').fill(banner.user);
    await page.getByLabel('Token').fill(banner.token);
    await page.getByLabel('Tenant id').fill(banner.tenant);
    await page.getByLabel('API key').fill(banner.key);
    await page.locator('#login-form').getByRole('button', { name: 'Log in' }).click();
    await page.waitForFunction(() => !location.pathname.startsWith('/admin/login')
      && sessionStorage.getItem('sluice.console'), null, { timeout: TIMEOUT });
    await page.goto(`${srv.url}/admin/atom/executions`);
    for (const process of ['Greet', 'Check Credit'])
      await page.locator('tbody tr', { hasText: process }).first().waitFor({ timeout: TIMEOUT });
    await shot(page, 'demo-09-console-executions');
    await page.goto(`${srv.url}/admin/flow/states`);
    await page.locator('tbody tr', { hasText: 'Customer desk' }).first().waitFor({ timeout: TIMEOUT });
    await shot(page, 'demo-10-console-states');
  });
});
