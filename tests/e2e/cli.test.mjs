// The command line: help, usage errors, and `sluice user add` (tokens, rotation, storage).
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import {
  addUser, assertProblem, basicAuth, fixture, it, poll, run, startServer, tempDir,
} from './helpers.mjs';

describe('help and usage errors', () => {
  it('sluice --help, -h and help print the usage and exit 0', async () => {
    for (const a of [['--help'], ['-h'], ['help']]) {
      const r = await run(a);
      assert.equal(r.code, 0, `${a}: ${r.stderr}`);
      assert.match(r.stdout, /Usage: sluice COMMAND/);
      for (const c of ['serve', 'atom', 'user add', 'deploy', 'demo']) assert.ok(r.stdout.includes(c), `usage lists ${c}`);
    }
  });

  it('--help on every subcommand exits 0 and prints its usage', async () => {
    const cases = [
      [['serve', '--help'], /^Usage: sluice serve/m],
      [['atom', '--help'], /^Usage: sluice atom/m],
      [['user', '--help'], /^Usage: sluice user add NAME/m],
      [['user', 'add', '--help'], /^Usage: sluice user add NAME/m],
      [['deploy', '--help'], /^Usage: sluice deploy DIR/m],
      [['demo', '--help'], /^Usage: sluice demo/m],
      [['serve', '-h'], /^Usage: sluice serve/m],
    ];
    for (const [args, re] of cases) {
      const r = await run(args);
      assert.equal(r.code, 0, `${args.join(' ')}: exit ${r.code} ${r.stderr}`);
      assert.match(r.stdout, re, args.join(' '));
    }
    const serve = await run(['serve', '--help']);
    for (const o of ['--listen', '--data', '--deploy', '--max-request-bytes']) assert.ok(serve.stdout.includes(o), `serve --help mentions ${o}`);
  });

  it('version prints the version', async () => {
    const r = await run(['version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^sluice \d+\.\d+\.\d+\n$/);
  });

  it('no command: usage on stderr, exit 2', async () => {
    const r = await run([]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /Usage: sluice COMMAND/);
  });

  it('an unknown command exits 2 naming it', async () => {
    const r = await run(['frobnicate']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "frobnicate"/);
    assert.equal(r.stdout, '');
  });

  it('an unknown option, a missing or bad value, or a missing argument exits 2', async () => {
    const data = await tempDir();
    // --listen/--data always given, so a mis-parsed case can never serve on a default address/folder
    const safe = ['--listen', '127.0.0.1:0', '--data', data];
    const cases = [
      ['serve', ...safe, '--bogus'],
      ['atom', ...safe, '--nope=1'],
      ['deploy', fixture('good'), '--data', data, '--frob'],
      ['user', 'add', 'x', '--data'],
      ['serve', ...safe, '--max-request-bytes', 'abc'],
      ['serve', ...safe, '--max-request-bytes', '0'],
      ['serve', ...safe, '--workers', '0'],
      ['serve', ...safe, '--workers', '2000'],
      ['serve', ...safe, '--log-level', 'loud'],
      ['serve', ...safe, '--listen'],
      ['deploy'],
      ['deploy', 'a', 'b'],
      ['user'],
      ['user', 'remove', 'x'],
      ['user', 'add'],
      ['serve', ...safe, 'extra-argument'],
    ];
    for (const args of cases) {
      const r = await run(args, { timeoutMs: 5000 });
      assert.equal(r.code, 2, `sluice ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
    }
    const r = await run(['serve', ...safe, '--bogus']);
    assert.match(r.stderr, /unknown option --bogus/);
  });

  it('negative numbers are refused for options that need a positive number (exit 2)', async () => {
    const data = await tempDir();
    const safe = ['--listen', '127.0.0.1:0', '--data', data];
    for (const args of [
      ['serve', ...safe, '--max-request-bytes', '-1'],
      ['serve', ...safe, '--callback-backoff-ms', '-5'],
      ['serve', ...safe, '--http-threads', '-1'],
    ]) {
      const r = await run(args, { timeoutMs: 4000 }).catch((e) => ({ code: 'still running after 4 s (the value was accepted)', stderr: e.message }));
      assert.equal(r.code, 2, `sluice ${args.join(' ')}: exit ${r.code}`);
      assert.match(r.stderr, /positive number|number from 1/);
    }
  });

  it('serve on an address that cannot be used fails with exit 1', async () => {
    const r = await run(['serve', '--listen', '999.1.1.1:0', '--data', await tempDir()], { timeoutMs: 10000 });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /999\.1\.1\.1/);
  });
});

describe('sluice user add', () => {
  it('prints only the token, on one line', async () => {
    const data = await tempDir();
    const r = await run(['user', 'add', 'flow', '--data', data]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\S+\n$/, `stdout: ${JSON.stringify(r.stdout)}`);
    assert.ok(r.stdout.trim().length >= 32, 'a token long enough to be unguessable');
  });

  it('gives every user, and every rotation, a different token', async () => {
    const data = await tempDir();
    const tokens = [await addUser(data, 'a'), await addUser(data, 'b'), await addUser(data, 'a')];
    assert.equal(new Set(tokens).size, 3);
  });

  it('accepts names of letters, digits, . _ @ - up to 64 characters', async () => {
    const data = await tempDir();
    for (const name of ['a', 'flow.user_1@example-org', 'x'.repeat(64), 'A-Z.09']) {
      const r = await run(['user', 'add', name, '--data', data]);
      assert.equal(r.code, 0, `${name}: ${r.stderr}`);
    }
  });

  it('rejects bad user names with exit 1 and no token', async () => {
    const data = await tempDir();
    for (const name of ['', 'has space', 'a/b', 'a:b', 'x'.repeat(65), 'ünïcode', 'semi;colon', 'tab\there']) {
      const r = await run(['user', 'add', name, '--data', data]);
      assert.equal(r.code, 1, `${JSON.stringify(name)}: exit ${r.code}`);
      assert.equal(r.stdout, '', `${JSON.stringify(name)} printed a token`);
      assert.match(r.stderr, /user name/);
    }
  });

  it('the data directory keeps no token text (atom.db, atom.db-wal)', async () => {
    const data = await tempDir();
    const tokens = [await addUser(data, 'one'), await addUser(data, 'two'), await addUser(data, 'one')];
    const files = ['atom.db', 'atom.db-wal', 'atom.db-journal'];
    let checked = 0;
    for (const f of files) {
      let bytes;
      try {
        bytes = await fs.readFile(path.join(data, f));
      } catch {
        continue;
      }
      checked++;
      for (const t of tokens) {
        assert.equal(bytes.indexOf(Buffer.from(t)), -1, `${f} contains a token`);
        const secret = t.replace(/^[a-z]+_/, ''); // the random part, without any prefix
        assert.equal(bytes.indexOf(Buffer.from(secret)), -1, `${f} contains a token's random part`);
        assert.equal(bytes.indexOf(Buffer.from(Buffer.from(t).toString('base64'))), -1, `${f} contains a token in base64`);
      }
    }
    assert.ok(checked >= 1, 'atom.db exists');
  });
});

describe('users and a running server', () => {
  let srv;
  before(async () => {
    srv = await startServer({ deploy: fixture('good'), user: 'flow' });
  });
  after(async () => {
    await srv?.stop();
  });

  const status = async (user, token) => (await srv.post('/fs/test/metadata', {}, { auth: basicAuth(user, token) })).status;
  /** Polls until the credentials get `want` (the server re-reads users at least every second). */
  const eventually = (user, token, want, what) => poll(async () => (await status(user, token)) === want,
    { timeoutMs: 1500, intervalMs: 100, what });

  it('a user added while the server runs can authenticate within ~1 s', async () => {
    const t = await addUser(srv.data, 'newcomer');
    await eventually('newcomer', t, 200, 'the new user to be accepted');
    assert.equal(await status('newcomer', t + 'x'), 401);
  });

  it('rotating a token: the old one gets 401 within ~1 s, the new one works', async () => {
    const old = srv.token;
    assert.equal(await status('flow', old), 200);
    const fresh = await addUser(srv.data, 'flow');
    assert.notEqual(fresh, old);
    // Only the old token is presented here: nothing else may be needed to make the server notice.
    await eventually('flow', old, 401, 'the rotated-out token to be refused');
    assertProblem(await srv.post('/fs/test/metadata', {}, { auth: basicAuth('flow', old) }), 401, { kind: 'api' });
    await eventually('flow', fresh, 200, 'the new token to be accepted');
    srv.token = fresh;
  });

  it('after a rotation the old token stays refused and the new one keeps working', async () => {
    const before = srv.token;
    const fresh = await addUser(srv.data, 'flow');
    await eventually('flow', fresh, 200, 'the new token to be accepted');
    for (let i = 0; i < 5; i++) {
      assert.equal(await status('flow', before), 401);
      assert.equal(await status('flow', fresh), 200);
    }
    srv.token = fresh;
    // other users are unaffected
    assert.equal(await status('nobody', fresh), 401);
  });
});
