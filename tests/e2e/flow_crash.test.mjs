// Durability of the Flow engine's states across a kill -9 (SIGKILL) of the server.
//
// One `sluice serve` runs the Atom (examples/upload, for its Greet message action) and the
// engine. A flow START → page A (input bound to Name) → MESSAGE (Greet through the Atom; its
// "Message" output goes to Greeting) → page B (Name, Greeting) → step C (no outcomes: DONE) is
// driven for many states at once through the run API. For every state the test keeps the last
// response it RECEIVED (stateId, stateToken, element, the value entered) and the request it
// had in flight. At a random moment (after a random number of received responses) the server
// is killed with SIGKILL, then restarted on the same data directory and port. Then:
//   - a copy of flow.db (+ its WAL) as the kill left it passes PRAGMA integrity_check;
//   - every state whose response was received joins (GET /api/run/1/state/{id}) at the same
//     element with the same token, or exactly one step further with a new token when the kill
//     came between the commit and the answer (and only when the client had sent that step);
//   - the values entered are there, page B's Greeting matches the Name it was made from, and
//     the row in flow.db agrees with the join (element, token, version counter, status, blob);
//   - states the client never heard of (an init whose answer was lost) are at A: a new state is
//     stored together with its first run, so none is ever left at START;
//   - every state, including those, is resumed to DONE with the token from the join; at the end
//     every row is DONE and flow.db passes PRAGMA integrity_check again.
//
// CRASH_SEED=N replays the random choices (kill point, delays, names; the seed is printed as a
// diagnostic), though the server's timing still varies from run to run;
// CRASH_STATES (default 200) sets how many states run.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, stat } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { REPO_ROOT, START_TIMEOUT_MS, Server, addUser, it, sleep, tempDir } from './helpers.mjs';
import * as k from './flowkit.mjs';

const STATES = Number(process.env.CRASH_STATES ?? 200);
const SEED = Number(process.env.CRASH_SEED ?? Math.floor(Math.random() * 2 ** 31));
const DEPLOY = path.join(REPO_ROOT, 'examples', 'upload');

// mulberry32: a small seeded generator, so a failing run can be replayed with CRASH_SEED.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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

function sqlite(db, sql, { json = false, readonly = false } = {}) {
  const args = [...(readonly ? ['-readonly'] : []), ...(json ? ['-json'] : []), db, sql];
  return new Promise((resolve, reject) => {
    execFile('sqlite3', args, { maxBuffer: 256 << 20 }, (e, stdout, stderr) => {
      if (e) reject(new Error(`sqlite3 ${args.join(' ')}: ${e.message}\n${stderr}`));
      else resolve(json ? (stdout.trim() ? JSON.parse(stdout) : []) : stdout.trim());
    });
  });
}

// One HTTP exchange on a given agent. Resolves only for a complete response (status, text,
// json); a connection that dies before the whole body arrived rejects.
function request(agent, port, tenant, method, p, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = { ManyWhoTenant: tenant, Accept: 'application/json' };
    if (data) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': data.length });
    const rq = http.request({ host: '127.0.0.1', port, method, path: p, agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('close', () => {
        if (!res.complete) { reject(new Error('the connection closed before the whole response arrived')); return; }
        const text = Buffer.concat(chunks).toString('utf8');
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
        resolve({ status: res.statusCode, text, json });
      });
    });
    rq.on('error', reject);
    rq.end(data);
  });
}

const invokeBody = (last, outcome, inputs) => ({
  invokeType: 'FORWARD', stateId: last.stateId, stateToken: last.stateToken,
  currentMapElementId: last.element, annotations: null, geoLocation: null, mode: '', selectedMapElementId: null,
  navigationElementId: null,
  mapElementInvokeRequest: { selectedOutcomeId: outcome, pageRequest: inputs ? { pageComponentInputResponses: inputs } : null },
});

// The flow under test; `url` is the Atom's base URL (same process, fixed port).
function crashFlow(url, token) {
  const name = k.value('Name');
  const greeting = k.value('Greeting');
  const svc = k.service('Upload', `${url}/fs/upload`, { username: 'flow', password: token });
  const pa = k.page('A', [{ developerName: 'Name', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(name),
    isRequired: true }]);
  const pb = k.page('B', [
    { developerName: 'Name', componentType: 'INPUT', valueElementValueBindingReferenceId: k.ref(name) },
    { developerName: 'Greeting', componentType: 'PRESENTATION', valueElementValueBindingReferenceId: k.ref(greeting),
      isEditable: false }]);
  const start = k.element('START', 'Start');
  const a = k.element('input', 'A', { pageElementId: pa.id });
  const msg = k.element('MESSAGE', 'Greet', { messageActions: [{ developerName: 'Greet', serviceElementId: svc.id,
    uriPart: 'actions/Greet', order: 0,
    inputs: [{ developerName: 'Name', contentType: 'ContentString', valueElementToReferenceId: k.ref(name) }],
    outputs: [{ developerName: 'Message', contentType: 'ContentString', valueElementToApplyId: k.ref(greeting) }] }] });
  const b = k.element('input', 'B', { pageElementId: pb.id });
  const c = k.element('step', 'C', { userContent: '<p>{![Greeting]}|{![Name]}</p>' });
  start.outcomes = [k.outcome('go', a)];
  a.outcomes = [k.outcome('Next', msg)];
  msg.outcomes = [k.outcome('next', b)];
  b.outcomes = [k.outcome('Finish', c)];
  const snap = k.snapshot('Crash', { start, elements: [start, a, msg, b, c], values: [name, greeting], services: [svc],
    pages: [pa, pb] });
  return { snap, name, greeting, pa, pb, start, a, msg, b, c };
}

describe('Flow states survive kill -9', () => {
  it('every answered state is intact after SIGKILL mid-run and can be resumed to DONE', { timeout: 60000 }, async (t) => {
    const random = rng(SEED);
    t.diagnostic(`CRASH_SEED=${SEED} CRASH_STATES=${STATES}`);
    const data = await tempDir('sluice-crash-');
    const token = await addUser(data, 'flow');
    const port = await freePort();
    const argv = ['serve', '--listen', `127.0.0.1:${port}`, '--data', data, '--deploy', DEPLOY];
    const launch = async () => {
      // The port was freed by the kill; retry a little in case the kernel still holds it.
      for (let attempt = 0; ; attempt++) {
        const s = new Server(argv, { data, user: 'flow', token, env: {}, cwd: REPO_ROOT });
        try {
          return await s.start(START_TIMEOUT_MS);
        } catch (e) {
          if (attempt >= 20 || !/exited early/.test(e.message)) throw e;
          await sleep(250);
        }
      }
    };
    let srv = await launch();
    const agents = [];
    t.after(async () => { // a failing assertion must not leave a server or sockets behind (the runner would wait)
      for (const a of agents) a.destroy();
      if (srv && !srv.exit) srv.child.kill('SIGKILL');
    });
    const f = crashFlow(srv.url, token);
    const { tenant, flow } = await k.importFlow(data, f.snap);
    const flowDb = path.join(data, 'flow.db');
    const nameComp = k.comp(f.pa, 'Name').id;
    const ids = { START: f.start.id, A: f.a.id, B: f.b.id, C: f.c.id };
    const elementName = Object.fromEntries(Object.entries(ids).map(([n, id]) => [id, n]));
    const versionOf = { A: 1, B: 2, C: 3 }; // a new state is stored with its first run; then one compare-and-set per transition
    const nextOf = { A: 'B', B: 'C' };
    const greet = (n) => `Hello, ${n}!`;

    // ---- drive the states until the kill ----
    const totalSteps = STATES * 3;
    const killAt = Math.floor(totalSteps * (0.15 + 0.65 * random()));
    let received = 0;
    let inflight = 0;
    let killed = false;
    let inflightAtKill = 0;
    let receivedAtKill = 0;
    const unexpected = []; // answers that were not 200 with a JSON body before the kill
    const agent = new http.Agent({ keepAlive: true, maxSockets: STATES });
    agents.push(agent);
    const send = async (method, p, body) => {
      inflight++;
      try {
        const r = await request(agent, port, tenant, method, p, body);
        received++;
        if (!killed && received >= killAt) {
          killed = true;
          inflightAtKill = inflight - 1;
          receivedAtKill = received;
          srv.child.kill('SIGKILL');
        }
        return r;
      } finally {
        inflight--;
      }
    };
    const recs = [];
    for (let i = 0; i < STATES; i++) {
      recs.push({ i, name: `Zoë ${i} ${Math.floor(random() * 1e9).toString(36)}`, last: null, pending: null,
        delays: [random() * 100, random() * 5, random() * 5] });
    }
    const take = (rec, r, what) => {
      if (r.status !== 200 || !r.json || typeof r.json.stateToken !== 'string') {
        unexpected.push(`state #${rec.i} ${what}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
        return false;
      }
      return true;
    };
    const drive = async (rec) => {
      try {
        await sleep(rec.delays[0]);
        if (killed) return;
        rec.pending = { to: 'A' };
        let r = await send('POST', '/api/run/1/state', { id: flow, versionId: null, inputs: null });
        if (!take(rec, r, 'init')) return;
        rec.last = { stateId: r.json.stateId, stateToken: r.json.stateToken, element: r.json.currentMapElementId,
          at: elementName[r.json.currentMapElementId], entered: null };
        rec.pending = null;
        if (rec.last.at !== 'A') { unexpected.push(`state #${rec.i} init stopped at ${rec.last.at}`); return; }

        await sleep(rec.delays[1]);
        if (killed) return;
        rec.pending = { to: 'B', entered: rec.name };
        r = await send('POST', `/api/run/1/state/${rec.last.stateId}`,
          invokeBody(rec.last, f.a.outcomes[0].id, [{ pageComponentId: nameComp, contentValue: rec.name, objectData: null }]));
        if (!take(rec, r, 'A → B')) return;
        rec.last = { stateId: rec.last.stateId, stateToken: r.json.stateToken, element: r.json.currentMapElementId,
          at: elementName[r.json.currentMapElementId], entered: rec.name };
        rec.pending = null;
        if (rec.last.at !== 'B') { unexpected.push(`state #${rec.i} A → ${rec.last.at} (expected B): ${r.text.slice(0, 300)}`); return; }

        await sleep(rec.delays[2]);
        if (killed) return;
        rec.pending = { to: 'C', entered: rec.name };
        r = await send('POST', `/api/run/1/state/${rec.last.stateId}`, invokeBody(rec.last, f.b.outcomes[0].id, null));
        if (!take(rec, r, 'B → C')) return;
        rec.last = { stateId: rec.last.stateId, stateToken: r.json.stateToken, element: r.json.currentMapElementId,
          at: elementName[r.json.currentMapElementId], entered: rec.name, invokeType: r.json.invokeType };
        rec.pending = null;
        if (rec.last.at !== 'C' || r.json.invokeType !== 'DONE') unexpected.push(`state #${rec.i} B → ${rec.last.at} ${r.json.invokeType}`);
      } catch {
        // the server died under this request: rec.pending stays set (it may or may not have been committed)
      }
    };
    const drivers = recs.map(drive);
    const exit = await srv.exited;
    await Promise.allSettled(drivers);
    agent.destroy();
    assert.ok(killed, `the run ended before the kill (received ${received} of ${totalSteps}, kill planned at ${killAt})`);
    assert.equal(exit.signal, 'SIGKILL', `the server was not killed by SIGKILL: ${JSON.stringify(exit)}`);
    assert.deepEqual(unexpected, [], 'unexpected answers before the kill');
    const known = recs.filter((r) => r.last);
    const at = (list, key) => list.reduce((m, r) => ({ ...m, [r.last[key]]: (m[r.last[key]] ?? 0) + 1 }), {});
    t.diagnostic(`SIGKILL after ${receivedAtKill} answers (of ${totalSteps}) with ${inflightAtKill} more requests in flight; ` +
      `${received} answers received in all (the rest were on their way); states known to the client: ${known.length}, last seen at ${JSON.stringify(at(known, 'at'))}`);

    // ---- the files as the kill left them ----
    const copy = path.join(await tempDir('sluice-crash-copy-'), 'copy');
    await mkdir(copy);
    await copyFile(flowDb, path.join(copy, 'flow.db'));
    const wal = await stat(`${flowDb}-wal`).then((s) => s.size, () => -1);
    if (wal >= 0) await copyFile(`${flowDb}-wal`, path.join(copy, 'flow.db-wal'));
    t.diagnostic(`flow.db-wal after the kill: ${wal} bytes`);
    assert.equal(await sqlite(path.join(copy, 'flow.db'), 'PRAGMA integrity_check;'), 'ok',
      'flow.db as the kill left it fails PRAGMA integrity_check');

    // ---- restart on the same data and port ----
    srv = await launch();
    const agent2 = new http.Agent({ keepAlive: true, maxSockets: 16 });
    agents.push(agent2);
    const call = (method, p, body) => request(agent2, port, tenant, method, p, body);
    const rows = new Map((await sqlite(flowDb,
      'SELECT id, current_element, token, version, status, json FROM states;', { json: true, readonly: true }))
      .map((r) => [r.id, r]));

    // Checks a joined (or answered) state at element `el` with the entered name `entered`
    // against its row in flow.db; returns nothing, throws with `who` in the message.
    const checkConsistent = (who, j, el, entered) => {
      const row = rows.get(j.stateId);
      assert.ok(row, `${who}: no row in flow.db`);
      assert.equal(row.current_element, ids[el], `${who}: flow.db says ${elementName[row.current_element]}, the join ${el}`);
      assert.equal(row.token, j.stateToken, `${who}: flow.db's token differs from the join's`);
      assert.equal(row.version, versionOf[el], `${who}: version counter ${row.version} at ${el}`);
      assert.equal(row.status, el === 'C' ? 'DONE' : 'IN_PROGRESS', `${who}: status ${row.status} at ${el}`);
      const blob = JSON.parse(row.json);
      assert.equal(blob.current, ids[el], `${who}: the blob's current element differs from the row's`);
      const v = (x) => blob.values?.[x.id.toLowerCase()]?.contentValue ?? null;
      if (el === 'START' || el === 'A') {
        assert.equal(v(f.name), null, `${who}: Name is set at ${el}`);
        assert.equal(v(f.greeting), null, `${who}: Greeting is set at ${el}`);
      } else {
        assert.equal(v(f.name), entered, `${who}: stored Name`);
        assert.equal(v(f.greeting), greet(entered), `${who}: stored Greeting`);
      }
      const mer = j.mapElementInvokeResponses?.[0];
      assert.equal(mer?.mapElementId, ids[el], `${who}: the response shows another element`);
      if (el === 'A') {
        assert.equal(j.invokeType, 'FORWARD');
        assert.equal(k.dataOf(j, nameComp).contentValue, null, `${who}: page A shows a Name`);
      } else if (el === 'B') {
        assert.equal(j.invokeType, 'FORWARD');
        const byName = Object.fromEntries(f.pb.pageComponents.map((pc) => [pc.developerName,
          k.dataOf(j, pc.id)?.contentValue]));
        assert.deepEqual(byName, { Name: entered, Greeting: greet(entered) }, `${who}: page B's data`);
      } else if (el === 'C') {
        assert.equal(j.invokeType, 'DONE', `${who}: invokeType at C`);
        assert.equal(k.stepContent(j), `<p>${greet(entered)}|${entered}</p>`, `${who}: step C's content`);
      }
    };

    // ---- every answered state: same element and token, or exactly one step further ----
    let same = 0;
    let moved = 0;
    const joined = new Map();
    for (const rec of known) {
      const who = `state #${rec.i} (${rec.last.stateId}, last answer at ${rec.last.at}` +
        `${rec.pending ? `, request to ${rec.pending.to} in flight` : ''})`;
      const r = await call('GET', `/api/run/1/state/${rec.last.stateId}`);
      assert.equal(r.status, 200, `${who}: join answered ${r.status}: ${r.text}`);
      const j = r.json;
      const el = elementName[j.currentMapElementId];
      assert.ok(el, `${who}: joined at an unknown element ${j.currentMapElementId}`);
      let entered = rec.last.entered;
      if (el === rec.last.at) {
        same++;
        assert.equal(j.stateToken, rec.last.stateToken, `${who}: same element but another token`);
      } else {
        assert.equal(el, nextOf[rec.last.at], `${who}: joined at ${el}, not at ${rec.last.at} or the step after it`);
        assert.ok(rec.pending && rec.pending.to === el, `${who}: moved to ${el} without the client asking`);
        assert.notEqual(j.stateToken, rec.last.stateToken, `${who}: moved on but kept its token`);
        entered = rec.pending.entered;
        moved++;
      }
      checkConsistent(who, j, el, entered);
      joined.set(rec.last.stateId, { rec, j, el, entered });
    }

    // ---- states the client never heard of: an init answer lost to the kill ----
    const orphans = [...rows.values()].filter((row) => !joined.has(row.id));
    const inits = recs.filter((r) => !r.last && r.pending?.to === 'A').length;
    assert.ok(orphans.length <= inits, `${orphans.length} unknown states, but only ${inits} inits were unanswered`);
    for (const row of orphans) {
      const el = elementName[row.current_element];
      assert.ok(el === 'A', `unknown state ${row.id} is at ${el ?? row.current_element} (a new state is stored with its first run)`);
      const r = await call('GET', `/api/run/1/state/${row.id}`);
      assert.equal(r.status, 200, `unknown state ${row.id}: join answered ${r.status}: ${r.text}`);
      assert.equal(r.json.currentMapElementId, row.current_element);
      checkConsistent(`unknown state ${row.id}`, r.json, el, null);
      joined.set(row.id, { rec: null, j: r.json, el, entered: null });
    }
    t.diagnostic(`after the restart: ${same} answered states where the client left them, ${moved} one step further ` +
      `(committed, answer lost), ${orphans.length} unanswered inits in flow.db ` +
      `(${JSON.stringify(orphans.reduce((m, o) => ({ ...m, [elementName[o.current_element]]: (m[elementName[o.current_element]] ?? 0) + 1 }), {}))})`);

    // ---- resume every state to DONE with the token from the join ----
    const resume = async (id, { rec, j, el, entered: before }) => {
      const who = `resuming ${rec ? `state #${rec.i}` : 'unknown state'} ${id} from ${el}`;
      // the name already stored (at B or C), else the one entered now on page A
      const entered = before ?? (rec ? rec.name : `late ${id.slice(0, 8)}`);
      let last = { stateId: id, stateToken: j.stateToken, element: j.currentMapElementId };
      let cur = el;
      let inv = j.invokeType;
      const step = async (outcome, inputs, want) => {
        const r = await call('POST', `/api/run/1/state/${id}`, invokeBody(last, outcome, inputs));
        assert.equal(r.status, 200, `${who}: ${cur} → ${want} answered ${r.status}: ${r.text}`);
        assert.equal(elementName[r.json.currentMapElementId], want, `${who}: ${cur} → ${want} stopped elsewhere`);
        last = { stateId: id, stateToken: r.json.stateToken, element: r.json.currentMapElementId };
        cur = want;
        inv = r.json.invokeType;
        return r.json;
      };
      if (cur === 'START') await step(null, null, 'A'); // an init killed between its two commits: run it on
      if (cur === 'A') {
        await step(f.a.outcomes[0].id, [{ pageComponentId: nameComp, contentValue: entered, objectData: null }], 'B');
      }
      if (cur === 'B') {
        const r = await step(f.b.outcomes[0].id, null, 'C');
        assert.equal(k.stepContent(r), `<p>${greet(entered)}|${entered}</p>`, `${who}: step C's content`);
      }
      assert.equal(inv, 'DONE', `${who}: ended with invokeType ${inv}`);
      // the old token is refused now (unless nothing was left to do)
      if (last.stateToken !== j.stateToken) {
        const stale = await call('POST', `/api/run/1/state/${id}`, invokeBody({ ...last, stateToken: j.stateToken },
          null, null));
        assert.equal(stale.status, 409, `${who}: the join's token still works after the state moved: ${stale.text}`);
      }
    };
    const queue = [...joined.entries()];
    await Promise.all(Array.from({ length: 16 }, async () => {
      for (let e = queue.shift(); e; e = queue.shift()) await resume(...e);
    }));
    agent2.destroy();

    const status = await sqlite(flowDb, 'SELECT status, count(*) AS n FROM states GROUP BY status;', { json: true, readonly: true });
    assert.deepEqual(status, [{ status: 'DONE', n: joined.size }], 'every state in flow.db is DONE');
    await srv.stop();
    assert.equal(await sqlite(flowDb, 'PRAGMA integrity_check;'), 'ok', 'flow.db fails PRAGMA integrity_check at the end');
  });
});
