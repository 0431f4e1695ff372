// The web folder served by sluice: files under /web/ with content types and ETags, nothing
// outside it (traversal, dot-files, symlinks), / to the console.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { symlink, writeFile, mkdtemp, cp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { readFile } from 'node:fs/promises';
import { REPO_ROOT, it, startServer } from './helpers.mjs';

function rawGet(port, target) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.end(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let data = '';
    s.on('data', (d) => { data += d; });
    s.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1])));
    s.on('error', reject);
  });
}

describe('web folder', () => {
  let srv;
  let web;
  before(async () => {
    web = path.join(await mkdtemp(path.join(os.tmpdir(), 'sluice-web-')), 'web');
    await cp(path.join(REPO_ROOT, 'web'), web, { recursive: true });
    await writeFile(path.join(web, '.secret'), 'no');
    await symlink('/etc/passwd', path.join(web, 'passwd.txt'));
    srv = await startServer({ command: 'flow', user: null, args: ['--web', web] });
  });
  after(async () => srv?.stop());

  it('serves /web/style.css with its type and an ETag; If-None-Match gives 304', async () => {
    const r = await fetch(`${srv.url}/web/style.css`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/css; charset=utf-8');
    const etag = r.headers.get('etag');
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+(-gz)?"$/);
    assert.match(await r.text(), /prefers-color-scheme: dark/);
    const again = await fetch(`${srv.url}/web/style.css`, { headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304);
  });

  it('serves nothing outside the folder: .., encoded .., dot-files, symlinks', async () => {
    for (const t of ['/web/../CMakeLists.txt', '/web/%2e%2e/CMakeLists.txt', '/web/..%2fCMakeLists.txt',
      '/web/.secret', '/web/passwd.txt', '/web//etc/passwd', '/web/style.css/x']) {
      const status = await rawGet(srv.port, t);
      assert.ok(status === 404 || status === 400, `${t} answered ${status}`);
    }
  });

  it('/ leads to the console', async () => {
    const r = await fetch(`${srv.url}/`, { redirect: 'manual' });
    assert.equal(r.status, 302);
    assert.equal(r.headers.get('location'), '/admin');
  });

  it('sends text files gzip-compressed to clients that accept it, with their own ETag', async () => {
    const get = (headers) => new Promise((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: srv.port, path: '/web/style.css', headers }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      }).on('error', reject);
    });
    const plain = await readFile(path.join(web, 'style.css'));
    const gz = await get({ 'Accept-Encoding': 'gzip, deflate' });
    assert.equal(gz.status, 200);
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.equal(gz.headers.vary, 'Accept-Encoding');
    assert.match(gz.headers.etag, /-gz"$/);
    assert.ok(gz.body.length < plain.length / 2, `${gz.body.length} bytes for ${plain.length}`);
    assert.deepEqual(gunzipSync(gz.body), plain);
    const again = await get({ 'Accept-Encoding': 'gzip', 'If-None-Match': gz.headers.etag });
    assert.equal(again.status, 304);
    const raw = await get({});
    assert.equal(raw.headers['content-encoding'], undefined);
    assert.deepEqual(raw.body, plain);
  });
});
