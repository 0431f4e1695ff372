// File resources end to end: multipart uploads streamed to disk, listing, signed download links,
// size limits, refusals, and Upload File / List Files processes.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { assertProblem, hook, it, rawExchange, startServer, tempDir } from './helpers.mjs';

const fileStart = (op) => ({ id: 'start', type: 'start', connector: 'flowservices', action: 'Listen',
  operation: { serviceType: 'File Resource', fileOperation: op }, next: 's' });
const COMPONENTS = {
  'upload.json': { component: 'process', name: 'Tag Upload', shapes: [fileStart('Upload File'),
    { id: 's', type: 'script', language: 'lua', next: 'r',
      script: 'local d = documents[1]\nreturn { { Id = d.Id, Name = "tagged-" .. properties["File Name"], ["Mime Type"] = properties["File Content Type"], Description = d.Size .. " bytes" } }' },
    { id: 'r', type: 'return' }] },
  'list.json': { component: 'process', name: 'Fixed List', shapes: [fileStart('List Files'),
    { id: 's', type: 'script', language: 'lua', next: 'r',
      script: 'local out = {}\nfor i = 1, 3 do out[i] = { Id = "f" .. i, Name = documents[1].search .. i } end\nreturn out' },
    { id: 'r', type: 'return' }] },
  'service.json': { component: 'flowservice', name: 'Files', externalName: 'files',
    fileResources: [
      { path: 'uploads', maxUploadBytes: 3000000 },
      { path: 'docs', upload: 'Tag Upload', list: 'Fixed List', maxUploadBytes: 1000 }] },
};

function form(request, name, type, bytes) {
  const fd = new FormData();
  if (request) fd.append('FileDataRequest', new Blob([JSON.stringify(request)], { type: 'application/json' }));
  if (bytes) fd.append('FileData', new Blob([bytes], { type }), name);
  return fd;
}
const propOf = (o, n) => o.properties.find((p) => p.developerName === n)?.contentValue;

describe('file resources', () => {
  let srv;
  let data;
  before(hook(async () => {
    const dir = await tempDir();
    const comp = path.join(dir, 'components');
    await mkdir(comp);
    for (const [f, c] of Object.entries(COMPONENTS)) await writeFile(path.join(comp, f), JSON.stringify(c));
    srv = await startServer({ deploy: comp });
    data = srv.data;
  }));
  after(hook(async () => { await srv?.stop(); }));

  const upload = (fd, route = '/fs/files/file/content') =>
    fetch(srv.url + route, { method: 'POST', headers: { authorization: srv.auth }, body: fd })
      .then(async (r) => ({ status: r.status, headers: r.headers, text: await r.clone().text(), json: await r.json().catch(() => undefined) }));

  it('describe says providesFiles', async () => {
    const r = await srv.post('/fs/files/metadata', {});
    assert.equal(r.json.providesFiles, true);
  });

  it('uploads a 2 MB file, lists it, and serves it back through a signed link', async () => {
    const bytes = Buffer.alloc(2 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + 7) & 0xff;
    const r = await upload(form({ resourcePath: 'uploads' }, 'report 1.bin', 'application/octet-stream', bytes));
    assert.equal(r.status, 200, r.text);
    const f = r.json.objectData[0];
    assert.equal(f.developerName, '$File');
    assert.match(f.externalId, /^[0-9a-f-]{36}$/);
    assert.equal(propOf(f, 'Name'), 'report 1.bin');
    const uri = propOf(f, 'Download Uri');
    assert.match(uri, /\/fs\/files\/files\/download\/.+expires=\d+&sig=[0-9a-f]{64}$/);
    // listed (newest first), with search
    const l = await srv.post('/fs/files/file', { resourcePath: 'uploads', listFilter: { search: 'REPORT', limit: 10, offset: 0 } });
    assert.equal(l.status, 200, l.text);
    assert.deepEqual(l.json.objectData.map((o) => o.externalId), [f.externalId]);
    // the link needs no Basic auth and returns the same bytes
    const u = new URL(uri);
    const d = await fetch(`${srv.url}${u.pathname}${u.search}`);
    assert.equal(d.status, 200);
    assert.match(d.headers.get('content-disposition'), /filename\*=UTF-8''report%201\.bin/);
    assert.ok(Buffer.from(await d.arrayBuffer()).equals(bytes));
    // a tampered or expired link is refused
    const bad = uri.replace(/sig=./, (m) => (m.endsWith('0') ? 'sig=1' : 'sig=0'));
    assert.equal((await fetch(`${srv.url}${new URL(bad).pathname}${new URL(bad).search}`)).status, 403);
    const expired = `${srv.url}${u.pathname}?expires=1&sig=${u.searchParams.get('sig')}`;
    assert.equal((await fetch(expired)).status, 403);
  });

  it('a JSON file is a file: only the part named FileDataRequest is the request', async () => {
    const r = await upload(form({ resourcePath: 'uploads' }, 'data.json', 'application/json', '{"a":1}'));
    assert.equal(r.status, 200, r.text);
    assert.equal(propOf(r.json.objectData[0], 'Name'), 'data.json');
    assert.equal(propOf(r.json.objectData[0], 'Mime Type'), 'application/json');
  });

  it('orders the stored files by Name, Size or date, ASC or DESC; an unknown order is 400', async () => {
    for (const [name, size] of [['b-middle.txt', 20], ['a-small.txt', 10], ['c-large.txt', 30]]) {
      const r = await upload(form({ resourcePath: 'uploads' }, name, 'text/plain', 'x'.repeat(size)));
      assert.equal(r.status, 200, r.text);
    }
    const list = async (lf) => {
      const l = await srv.post('/fs/files/file', { resourcePath: 'uploads', listFilter: { search: '-', limit: 10, ...lf } });
      assert.equal(l.status, 200, l.text);
      return l.json.objectData.map((o) => propOf(o, 'Name'));
    };
    assert.deepEqual(await list({ orderByPropertyDeveloperName: 'name', orderByDirectionType: 'ASC' }),
      ['a-small.txt', 'b-middle.txt', 'c-large.txt']);
    assert.deepEqual(await list({ orderByPropertyDeveloperName: 'Name', orderByDirectionType: 'DESC' }),
      ['c-large.txt', 'b-middle.txt', 'a-small.txt']);
    assert.deepEqual(await list({ orderByPropertyDeveloperName: 'Size', orderByDirectionType: 'DESC' }),
      ['c-large.txt', 'b-middle.txt', 'a-small.txt']);
    assert.deepEqual(await list({}), ['c-large.txt', 'a-small.txt', 'b-middle.txt'], 'newest first by default');
    assert.deepEqual(await list({ orderByDirectionType: 'ASC' }), ['b-middle.txt', 'a-small.txt', 'c-large.txt']);
    const bad = await srv.post('/fs/files/file', { resourcePath: 'uploads', listFilter: { orderByPropertyDeveloperName: 'Colour' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.where, '/listFilter/orderByPropertyDeveloperName');
  });

  it('stores files under generated ids only: traversal attempts go nowhere', async () => {
    const r = await upload(form({ resourcePath: 'uploads' }, '../../etc/passwd', 'text/plain', Buffer.from('x')));
    assert.equal(r.status, 200, r.text);
    assert.equal(propOf(r.json.objectData[0], 'Name'), '../../etc/passwd'); // a name, never a path
    const stored = await readdir(path.join(data, 'files', 'files'));
    assert.ok(stored.every((n) => /^[0-9a-f-]{36}\.(bin|json)$/.test(n)), stored.join(','));
    for (const id of ['..%2F..%2Fatom.db', '../atom.db', 'x']) {
      const res = await fetch(`${srv.url}/fs/files/files/download/${id}?expires=9999999999&sig=${'0'.repeat(64)}`);
      // refused: a bad signature (403), or a path that is not a download link at all (401)
      assert.ok([401, 403, 404].includes(res.status), `${id}: ${res.status}`);
    }
  });

  it('answers 413 before reading an announced oversize body, and 413 for a file over the resource limit', async () => {
    const head = `POST /fs/files/file/content HTTP/1.1\r\nHost: x\r\nAuthorization: ${srv.auth}\r\n` +
      'Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 9000000000\r\n\r\n';
    const raw = await rawExchange(srv.port, head, { until: (t) => /\r\n\r\n[\s\S]*\}/.test(t) });
    assert.match(raw.text, /^HTTP\/1\.1 413/);
    const r = await upload(form({ resourcePath: 'docs' }, 'big.txt', 'text/plain', Buffer.alloc(5000, 65)));
    assertProblem(r, 413);
    const left = await readdir(path.join(data, 'files', '.tmp')).catch(() => []);
    assert.deepEqual(left, [], 'no temporary file is left behind');
  });

  it('refuses uploads that are not multipart, have no file, or name an unknown resource', async () => {
    assertProblem(await srv.post('/fs/files/file/content', '{}'), 400);
    assertProblem(await upload(form({ resourcePath: 'uploads' })), 400, { message: 'no file part' });
    assertProblem(await upload(form({ resourcePath: 'nope' }, 'a.txt', 'text/plain', Buffer.from('a'))), 404);
  });

  it('runs the Upload File process with the tracked properties; its document is the answer', async () => {
    const r = await upload(form({ resourcePath: 'docs' }, 'note.txt', 'text/plain', Buffer.from('hello')), '/fs/files/files/content');
    assert.equal(r.status, 200, r.text);
    const f = r.json.objectData[0];
    assert.equal(propOf(f, 'Name'), 'tagged-note.txt');
    assert.equal(propOf(f, 'Mime Type'), 'text/plain');
    assert.equal(propOf(f, 'Description'), '5 bytes');
    assert.ok(propOf(f, 'Download Uri'));
  });

  it('runs the List Files process with the filter; limit makes hasMoreResults honest', async () => {
    const r = await srv.post('/fs/files/file', { resourcePath: 'docs', listFilter: { search: 'n', limit: 2, offset: 0 } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.objectData.map((o) => propOf(o, 'Name')), ['n1', 'n2']);
    assert.equal(r.json.hasMoreResults, true);
  });
});
