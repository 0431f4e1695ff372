// The screenshots of docs/tutorial.md, taken where the tutorial points at the console and the
// player. It runs the tutorial's own ```sh blocks (all but the last, which stops the server) in
// a fresh folder, as tests/e2e/tutorial.test.mjs does, then drives headless chromium through
// the console (Listeners, Services, the flow's page) and the player (Tickets after adding a
// ticket, Attachments after an upload). Viewport 1100x700.
//
//   SLUICE_BIN=$PWD/build/sluice node --test tests/browser/tutorial_shots.test.mjs
//
// The PNGs go to tests/artifacts/browser/tutorial-*.png; with SLUICE_TUTORIAL_SHOTS=docs they
// replace the tutorial's images in docs/tutorial/ instead (run that after changing the tutorial,
// the console or the player, and commit the result).
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT, SLUICE_BIN, hook, it, tempDir } from '../e2e/helpers.mjs';
import { ARTIFACTS, launch } from './browser.mjs';

const TIMEOUT = 10000;
const TO_DOCS = process.env.SLUICE_TUTORIAL_SHOTS === 'docs';
const OUT = TO_DOCS ? path.join(REPO_ROOT, 'docs', 'tutorial') : ARTIFACTS;

/** The ```sh blocks of the tutorial, in order. */
function shellBlocks(md) {
  const blocks = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})\s*(\S*)/.exec(lines[i]);
    if (!open) continue;
    const [, fence, lang] = open;
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const t = lines[j].trim();
      if (t.length >= fence.length && t === fence[0].repeat(t.length)) break;
      body.push(lines[j]);
    }
    if (lang === 'sh') blocks.push(body.join('\n'));
    i = j;
  }
  return blocks;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const missing = ['curl', 'jq', 'sqlite3'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);

describe('tutorial screenshots', { skip: missing.length ? `needs ${missing.join(', ')}` : false }, () => {
  let group = null; // the bash process whose group holds the tutorial's server
  let browser;
  let page;
  const v = {}; // BASE, TOKEN, TENANT, KEY, FLOW from the tutorial's shell

  const shot = async (name) => {
    await mkdir(OUT, { recursive: true });
    await page.screenshot({ path: path.join(OUT, `${TO_DOCS ? '' : 'tutorial-'}${name}.png`) });
  };
  const idle = () => page.waitForFunction(() => document.body.dataset.busy !== 'true', null, { timeout: TIMEOUT });
  const onPage = (title) => page.waitForFunction((t) => document.querySelector('#page h1')?.textContent === t
    && document.body.dataset.busy !== 'true', title, { timeout: TIMEOUT });

  before(hook(async () => {
    const md = await readFile(path.join(REPO_ROOT, 'docs', 'tutorial.md'), 'utf8');
    const blocks = shellBlocks(md);
    assert.match(blocks.at(-1), /kill "\$SLUICE_PID"/, 'the last block stops the server');
    const cwd = await tempDir('sluice-tutorial-shots-');
    const text = ['set -euo pipefail', ...blocks.slice(0, -1),
      'jq -n --arg BASE "$BASE" --arg TOKEN "$TOKEN" --arg TENANT "$TENANT" --arg KEY "$KEY" --arg FLOW "$FLOW" '
      + '\'$ARGS.named\' > vars.json', ''].join('\n');
    const env = { ...process.env, PORT: String(await freePort()), DATA: path.join(cwd, 'data'),
      PATH: `${path.dirname(SLUICE_BIN)}:${process.env.PATH}` };
    const r = await new Promise((resolve) => {
      const child = spawn('bash', ['-c', text], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      group = child;
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      const timer = setTimeout(() => child.kill('SIGKILL'), 60000);
      child.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
    });
    assert.equal(r.code, 0, `the tutorial failed:\n${r.out.slice(-4000)}`);
    Object.assign(v, JSON.parse(await readFile(path.join(cwd, 'vars.json'), 'utf8')));
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    context.setDefaultTimeout(TIMEOUT);
    page = await context.newPage();
  }));

  after(async () => {
    await browser?.close();
    if (group) {
      try { process.kill(-group.pid, 'SIGKILL'); } catch { /* gone */ }
    }
  });

  it('console: log in to the Atom and the tenant; Listeners', async () => {
    await page.goto(`${v.BASE}/admin/login`);
    await page.getByLabel('User').fill('flow');
    await page.getByLabel('Token').fill(v.TOKEN);
    await page.getByLabel('Tenant id').fill(v.TENANT);
    await page.getByLabel('API key').fill(v.KEY);
    await page.locator('#login-form').getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    await page.goto(`${v.BASE}/admin/atom/listeners`);
    await page.getByRole('heading', { level: 1, name: 'Listeners' }).waitFor();
    await page.getByRole('table', { name: 'Actions of Tutorial Service' }).getByText('attachments', { exact: true }).waitFor();
    await shot('console-listeners');
  });

  it('console: Services', async () => {
    await page.goto(`${v.BASE}/admin/flow/services`);
    await page.getByRole('heading', { level: 1, name: 'Services' }).waitFor();
    await page.getByRole('table', { name: 'Installed services' }).getByText('Tutorial', { exact: true }).waitFor();
    await shot('console-services');
  });

  it('console: the flow and its versions', async () => {
    await page.goto(`${v.BASE}/admin/flow/flows/${v.FLOW}`);
    await page.getByRole('heading', { level: 1, name: /Ticket desk/ }).waitFor();
    await page.getByRole('table', { name: 'Versions' }).waitFor();
    await shot('console-flow');
  });

  it('player: Welcome → Tickets, add a ticket', async () => {
    await page.goto(`${v.BASE}/play/${v.TENANT}/${v.FLOW}`);
    await onPage('Welcome to the ticket desk');
    await page.getByLabel('Your name').fill('Grace');
    await page.locator('.p-outcome-bar [data-outcome-name="Start"]').click();
    await onPage('Tickets');
    await page.getByText('Hello, Grace! Open tickets: 3').waitFor();
    await page.locator('[data-name="Tickets"]').getByText('Coffee machine is leaking').waitFor();
    await page.getByLabel('New ticket').fill('Badge reader at the door beeps');
    await page.locator('.p-outcome-bar [data-outcome-name="Add"]').click();
    await onPage('Tickets');
    await page.locator('[data-name="Tickets"]').getByText('Badge reader at the door beeps').waitFor();
    await idle();
    await shot('player-tickets');
  });

  it('player: Attachments, upload a file', async () => {
    await page.locator('.p-outcome-bar [data-outcome-name="Next"]').click();
    await onPage('Attach files');
    await page.locator('[data-name="Upload"] input[type=file]').setInputFiles({ name: 'badge-reader.txt',
      mimeType: 'text/plain', buffer: Buffer.from('beeps twice, then nothing\n') });
    await page.locator('[data-name="Uploaded"]').getByRole('cell', { name: 'badge-reader.txt', exact: true }).waitFor();
    await idle();
    await shot('player-attachments');
  });
});
