// docs/tutorial.md must not rot: this test runs every ```sh block of the tutorial, in order, in
// one `bash` process (set -euo pipefail) in a fresh folder, with PORT = a free port, DATA = a
// fresh data directory and `sluice` = the build under test (the directory of SLUICE_BIN first on
// PATH). The tutorial starts the server itself (`sluice serve … &` and a wait loop on /healthz)
// and stops it in its last block; whatever happens, the whole process group is killed at the
// end. Then the key outputs are checked: the greeting of the message action, the generated types,
// the flow reaching its pages, the saved ticket, the uploaded file, DONE, and the re-import.
//
//   SLUICE_BIN=$PWD/build/sluice node --test tests/e2e/tutorial.test.mjs
//
// Blocks marked ```text, ```json (and any other language) are shown only. Set SLUICE_KEEP_TMP=1
// to keep the folder the tutorial ran in.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT, SLUICE_BIN, it, tempDir } from './helpers.mjs';

const TUTORIAL = path.join(REPO_ROOT, 'docs', 'tutorial.md');
const TIMEOUT_MS = 60000;

/** The ```sh blocks of a Markdown text, in order: [{line, code}]. */
function shellBlocks(md) {
  const blocks = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*(\S*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    const body = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const t = lines[j].trim();
      if (t.length >= fence.length && t === fence[0].repeat(t.length)) break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    if (lang === 'sh') blocks.push({ line: i + 1, code: body.join('\n') });
    i = j;
  }
  return blocks;
}

/** A TCP port nobody listens on right now. */
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

/** The script: every block, each announced on stderr with its line in the tutorial. */
function script(blocks) {
  const parts = [
    'set -euo pipefail',
    // a failing command names the tutorial block it was in
    'trap \'rc=$?; [ $rc -eq 0 ] || echo "tutorial: block at docs/tutorial.md:$BLOCK_LINE failed (exit $rc)" >&2\' EXIT',
  ];
  for (const b of blocks) {
    parts.push(`BLOCK_LINE=${b.line}; echo "### docs/tutorial.md:${b.line}" >&2`);
    parts.push(b.code);
  }
  return `${parts.join('\n')}\n`;
}

/** Kills the process group of child (bash and everything it started in the background). */
function killGroup(child, signal = 'SIGKILL') {
  try { process.kill(-child.pid, signal); } catch { /* already gone */ }
}

function runScript(text, { cwd, env, timeoutMs }) {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', text], { cwd, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; killGroup(child); }, timeoutMs);
    const exit = () => killGroup(child);
    process.on('exit', exit);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // the server the tutorial started in the background, if the script died before stopping it
      killGroup(child);
      process.off('exit', exit);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

const missing = ['curl', 'jq', 'sqlite3'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);

describe('docs/tutorial.md', () => {
  it('has shell blocks for every step', async () => {
    const blocks = shellBlocks(await readFile(TUTORIAL, 'utf8'));
    assert.ok(blocks.length >= 10, `only ${blocks.length} sh blocks`);
    const all = blocks.map((b) => b.code).join('\n');
    for (const needle of ['sluice serve', 'sluice deploy', 'sluice tenant add', 'sluice key add', 'sluice service install',
      '/api/draw/1/flow/snap/', '/api/run/1/state', 'sluice flow import', '/healthz']) {
      assert.ok(all.includes(needle), `no sh block uses ${needle}`);
    }
  });

  it('runs from start to end against the build under test', { skip: missing.length ? `needs ${missing.join(', ')}` : false },
    async (t) => {
      const blocks = shellBlocks(readFileSync(TUTORIAL, 'utf8'));
      const cwd = await tempDir('sluice-tutorial-');
      const data = path.join(cwd, 'data');
      const port = await freePort();
      const env = { ...process.env, PORT: String(port), DATA: data,
        PATH: `${path.dirname(SLUICE_BIN)}:${process.env.PATH}` };
      const started = Date.now();
      const r = await runScript(script(blocks), { cwd, env, timeoutMs: TIMEOUT_MS });
      const log = await readFile(path.join(cwd, 'sluice.log'), 'utf8').catch(() => '');
      const context = `\n--- stdout (tail) ---\n${r.stdout.slice(-6000)}\n--- stderr (tail) ---\n${r.stderr.slice(-4000)}`
        + `\n--- sluice.log (tail) ---\n${log.slice(-3000)}`;
      assert.equal(r.timedOut, false, `the tutorial did not finish within ${TIMEOUT_MS} ms${context}`);
      assert.equal(r.code, 0, `the tutorial failed (exit ${r.code}, signal ${r.signal})${context}`);
      t.diagnostic(`${blocks.length} blocks in ${Date.now() - started} ms`);
      const out = r.stdout;
      const has = (re, what) => assert.match(out, re, `${what}${context}`);
      // step 3: the Atom answers the message action directly, and lists its listeners
      has(/Hello, Grace! Open tickets: 2/, 'the Greet action answered with the greeting');
      has(/"status": "listening"/, 'the listeners list the Flow Service');
      has(/"upload": "Log Upload"/, 'the file resource names its Upload File process');
      // step 4: installed, with the types generated from the profile and the table
      has(/"Greet RESPONSE - Oldest Ticket"/, 'the type generated from the Oldest Ticket element');
      has(/"tickets"/, 'the type of the tickets table');
      has(/"sameElement": true/, 'installing again over HTTP keeps the service element');
      // step 5: built, snapshotted, run
      has(/"versionNumber": 1/, 'the snapshot made version 1');
      has(/"element": "Welcome"/, 'the flow starts on its Welcome page');
      has(/\{"isValid":false,"validationMessage":"This field is required\."\}/, 'a required field left empty');
      has(/"element":"Tickets","outcomes":\["Add","Next"\],"faults":null/, 'Add ticket saved and came back to the table');
      has(/Hello, Ada! Open tickets: 2/, 'the message action filled the greeting in the flow');
      has(/Oldest open ticket: #1 Printer on floor 2 is jammed/, 'the object output (a generated type) on the page');
      has(/Coffee machine is leaking\topen\tAda/, 'the saved ticket is in the table, with status and opener set');
      has(/"Name": "printer.log"/, 'the file upload through the relay');
      has(/printer\.log\|\d+/, 'the Upload File process logged the upload in SQLite');
      has(/\{"invokeType":"DONE","content":\["<p>Thank you, Ada\. Your ticket is filed\.<\/p>"\]\}/,
        'the flow ended on its last step, naming the person');
      // step 6: exported and imported into another tenant, bound to its own service
      assert.match(r.stderr, /ticket-desk\.json: note: service "Tutorial" bound to the tenant's service/,
        `the import bound the service by name${context}`);
      has(/\{"element":"Welcome","stateId":"[0-9a-f-]{36}"\}/, 'the imported flow runs in the other tenant');
      has(/stopped/, 'the server was stopped by the last block');
      // nothing of the tutorial's server is left
      assert.doesNotMatch(spawnSync('sh', ['-c', `ps -eo args | grep -F -- '127.0.0.1:${port}' | grep -v grep || true`])
        .stdout.toString(), /sluice serve/, 'the server is still running');
    });
});
