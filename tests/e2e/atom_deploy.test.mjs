// `sluice deploy`: versions, validation problems, and a running server picking up deployments.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  assertProblem, deploy, ev, fixture, it, output, poll, run, serviceRequest, startServer, tempDir,
} from './helpers.mjs';

/* The problems fixtures/bad has, beyond fixtures/good: [file, pointer, words the message names]. */
const BAD_PROBLEMS = [
  ['processes/broken-graph.json', '/shapes/1/next', 'nowhere'],
  ['processes/broken-profile.json', '/shapes/0/operation/responseProfile', 'No Such Profile'],
  ['profiles/broken.json', '/root/children/1/type', 'Text'],
];

/** "file: /pointer: message" lines of a deploy's stderr. */
function problemLines(stderr) {
  const out = [];
  for (const line of stderr.split('\n')) {
    const m = /^(\S+\.json): (\/\S*): (.+)$/.exec(line);
    if (m) out.push({ file: m[1], pointer: m[2], message: m[3] });
  }
  return out;
}

function assertBadProblems(stderr) {
  const got = problemLines(stderr);
  assert.deepEqual(got.map((p) => `${p.file}: ${p.pointer}`).sort(), BAD_PROBLEMS.map(([f, p]) => `${f}: ${p}`).sort(),
    `problems on stderr:\n${stderr}`);
  for (const [file, pointer, word] of BAD_PROBLEMS) {
    const p = got.find((x) => x.file === file && x.pointer === pointer);
    assert.ok(p.message.includes(word), `${file}: ${pointer}: "${p.message}" should mention ${word}`);
  }
  assert.match(stderr, /\(3 problems\)/);
}

describe('sluice deploy', () => {
  it('prints the version alone on stdout; identical content keeps it, a change makes a new one', async () => {
    const data = await tempDir();
    let r = await deploy(fixture('good'), data);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1\n');
    r = await deploy(fixture('good'), data);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '1\n', 'redeploying identical content keeps the version');
    // the same content from another folder is still the same deployment
    const copy = path.join(await tempDir(), 'copy');
    await fs.cp(fixture('good'), copy, { recursive: true });
    r = await deploy(copy, data);
    assert.equal(r.stdout, '1\n');
    r = await deploy(fixture('good-v2'), data);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '2\n');
    r = await deploy(fixture('good-v2'), data);
    assert.equal(r.stdout, '2\n');
    r = await deploy(fixture('good'), data);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '3\n', 'going back to earlier content is a new version');
  });

  it('refuses a folder with problems: exit 1, every problem as "file: /pointer: message" on stderr', async () => {
    const data = await tempDir();
    const r = await deploy(fixture('bad'), data);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assertBadProblems(r.stderr);
    // nothing was stored: the first good deploy is version 1
    const g = await deploy(fixture('good'), data);
    assert.equal(g.stdout, '1\n');
  });

  it('refuses a folder that does not exist or holds no components', async () => {
    const data = await tempDir();
    let r = await deploy(path.join(data, 'no-such-folder'), data);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /not a folder/);
    const empty = await tempDir();
    r = await deploy(empty, data);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no component files/);
  });

  it('reports a file that is not JSON, and an unknown member, with file and pointer', async () => {
    const dir = path.join(await tempDir(), 'comp');
    await fs.cp(fixture('good'), dir, { recursive: true });
    const svc = JSON.parse(await fs.readFile(path.join(dir, 'services/test.json'), 'utf8'));
    svc.externalNme = 'typo'; // a typo must not pass silently
    await fs.writeFile(path.join(dir, 'services/test.json'), JSON.stringify(svc));
    await fs.writeFile(path.join(dir, 'profiles/zz-broken.json'), '{"component": "profile",');
    let r = await deploy(dir, await tempDir());
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^profiles\/zz-broken\.json: \/: .*JSON/m);
    await fs.rm(path.join(dir, 'profiles/zz-broken.json'));
    r = await deploy(dir, await tempDir());
    assert.equal(r.code, 1);
    assert.deepEqual(problemLines(r.stderr).map((p) => `${p.file}: ${p.pointer}`), ['services/test.json: /externalNme']);
    assert.match(r.stderr, /unknown member "externalNme"/);
  });
});

describe('deploying next to a running server', () => {
  let srv;
  before(async () => {
    const data = await tempDir();
    const r = await deploy(fixture('good'), data);
    assert.equal(r.stdout, '1\n', r.stderr);
    srv = await startServer({ data });
  });
  after(async () => {
    await srv?.stop();
  });

  const failMessage = async () => {
    const r = await srv.action('Fail', serviceRequest({ inputs: [ev.string('Reason', 'x'), ev.number('Code', '1')] }));
    return assertProblem(r, 500, { kind: 'service' }).message;
  };

  it('serves the deployed version', async () => {
    assert.equal((await srv.healthz()).deployment, 1);
    assert.match(await failMessage(), /: cannot continue: x \(code 1\)/);
  });

  it('a bad deploy changes nothing: the server keeps serving the old version', async () => {
    const r = await deploy(fixture('bad'), srv.data);
    assert.equal(r.code, 1);
    assertBadProblems(r.stderr);
    // give a watcher time to (wrongly) pick something up
    await new Promise((res) => setTimeout(res, 1300));
    assert.equal((await srv.healthz()).deployment, 1);
    const d = (await srv.get('/api/atom/v1/deployments')).json;
    assert.equal(d.current, 1);
    assert.deepEqual(d.deployments.map((x) => x.version), [1]);
    const e = await srv.action('Echo', serviceRequest({ inputs: [ev.string('Text', 'still here')] }));
    assert.equal(e.status, 200, e.text);
    assert.equal(output(e, 'Text').contentValue, 'still here');
    assert.match(await failMessage(), /: cannot continue: x/);
  });

  it('a deploy made by the CLI is picked up within ~2 s', async () => {
    const r = await deploy(fixture('good-v2'), srv.data);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '2\n');
    const t0 = Date.now();
    await poll(async () => (await srv.healthz()).deployment === 2, { timeoutMs: 2500, intervalMs: 50, what: '/healthz deployment 2' });
    const took = Date.now() - t0;
    assert.ok(took <= 2500, `took ${took} ms`);
    assert.match(await failMessage(), /v2 cannot continue: x \(code 1\)/);
    const describe = (await srv.post('/fs/test/metadata', {})).json;
    assert.equal(describe.actions.find((a) => a.developerName === 'Fail').developerSummary, 'Always fails (v2)');
  });

  it('the management API shows the new version and which components changed', async () => {
    const d = (await srv.get('/api/atom/v1/deployments')).json;
    assert.equal(d.current, 2);
    assert.deepEqual(d.deployments.map((x) => x.version), [2, 1]);
    assert.notEqual(d.deployments[0].digest, d.deployments[1].digest);
    const comps = (await srv.get('/api/atom/v1/components')).json;
    assert.equal(comps.version, 2);
    const byName = Object.fromEntries(comps.components.map((c) => [`${c.kind}:${c.name}`, c]));
    assert.deepEqual([byName['process:Fail'].since, byName['process:Fail'].revision], [2, 2]);
    assert.deepEqual([byName['flowservice:Test Service'].since, byName['flowservice:Test Service'].revision], [2, 2]);
    assert.deepEqual([byName['process:Echo'].since, byName['process:Echo'].revision], [1, 1]);
    const v1 = (await srv.get('/api/atom/v1/components?version=1')).json;
    assert.equal(v1.version, 1);
    const fail1 = v1.components.find((c) => c.name === 'Fail');
    assert.notEqual(fail1.digest, byName['process:Fail'].digest);
    const l = (await srv.get('/api/atom/v1/listeners')).json;
    assert.equal(l.version, 2);
  });

  it('executions record the deployment they ran on', async () => {
    const r = await srv.action('Echo', serviceRequest({ inputs: [ev.string('Text', 'v2')] }));
    assert.equal(r.status, 200);
    const list = await poll(async () => {
      const x = (await srv.get('/api/atom/v1/executions?process=Echo')).json;
      return x.total >= 2 ? x : null;
    }, { what: 'two Echo records' });
    assert.deepEqual(list.executions.map((e) => e.deployment), [2, 1]);
  });

  it('an execution in flight during a redeploy finishes on the version it started with', async () => {
    const v = (await srv.healthz()).deployment;
    const pending = srv.action('Slow', serviceRequest({ inputs: [ev.string('Label', 'in flight')] }));
    await new Promise((res) => setTimeout(res, 200));
    const r = await deploy(fixture('good'), srv.data); // different from the current good-v2
    assert.equal(r.code, 0, r.stderr);
    const next = Number(r.stdout);
    assert.equal(next, v + 1);
    await poll(async () => (await srv.healthz()).deployment === next, { timeoutMs: 2500, what: `deployment ${next}` });
    const done = await pending;
    assert.equal(done.status, 200, done.text);
    assert.equal(output(done, 'Label').contentValue, 'in flight');
    const rec = await poll(async () => {
      const x = await srv.get(`/api/atom/v1/executions/${output(done, 'Execution').contentValue}`);
      return x.status === 200 ? x.json : null;
    }, { what: 'the record' });
    assert.equal(rec.deployment, v);
  });
});

describe('serve --deploy', () => {
  it('refuses to start with a bad components folder: exit 1, the problems on stderr', async () => {
    const data = await tempDir();
    const r = await run(['serve', '--listen', '127.0.0.1:0', '--data', data, '--deploy', fixture('bad')], { timeoutMs: 20000 });
    assert.equal(r.code, 1, r.stderr);
    assertBadProblems(r.stderr);
    assert.doesNotMatch(r.stderr, /"msg":"listening"/);
  });

  it('starts with a good folder and serves it as version 1', async () => {
    const srv = await startServer({ deploy: fixture('good') });
    try {
      assert.equal((await srv.healthz()).deployment, 1);
      assert.ok(srv.logs().some((l) => l.msg === 'deployed' || l.msg === 'deployment active'), 'logs the deployment');
    } finally {
      await srv.stop();
    }
  });
});
