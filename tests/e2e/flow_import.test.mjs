// `sluice flow import FILE`: stores a Flow snapshot for a tenant, activates it, prints
// "<tenant id> <flow id>" alone on stdout.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { REPO_ROOT, it, run, tempDir } from './helpers.mjs';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SNAPSHOTS = path.resolve(REPO_ROOT, '..', 'shared', 'conformance', 'flow-snapshots');

const ownSnapshot = (name) => ({
  id: '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9', developerName: name, startMapElementId: 'aaaaaaaa-0000-4000-8000-000000000001',
  mapElements: [
    { id: 'aaaaaaaa-0000-4000-8000-000000000001', elementType: 'START', developerName: 'Start',
      outcomes: [{ id: 'bbbbbbbb-0000-4000-8000-000000000001', developerName: 'go', nextMapElementId: 'aaaaaaaa-0000-4000-8000-000000000002' }] },
    { id: 'aaaaaaaa-0000-4000-8000-000000000002', elementType: 'step', developerName: 'Hello', outcomes: [] }],
  pageElements: [], valueElements: [], typeElements: [], serviceElements: [],
});

describe('sluice flow import', () => {
  it('imports a snapshot: tenant id and flow id alone on stdout; a second import adds a version of the same flow', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'flow.json');
    await writeFile(file, JSON.stringify(ownSnapshot('Hello flow')));
    const data = path.join(dir, 'data');
    const r1 = await run(['flow', 'import', file, '--tenant', 'acme', '--data', data]);
    assert.equal(r1.code, 0, r1.stderr);
    const [tenant, flow, ...rest] = r1.stdout.trim().split(' ');
    assert.match(tenant, UUID);
    assert.equal(flow.toLowerCase(), '0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9');
    assert.deepEqual(rest, []);
    const r2 = await run(['flow', 'import', file, '--tenant', 'acme', '--data', data]);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.stdout.trim(), r1.stdout.trim(), 'same tenant, same flow');
  });

  it('refuses an invalid snapshot with the problem and its pointer, and changes nothing', async () => {
    const dir = await tempDir();
    const bad = ownSnapshot('Bad');
    delete bad.mapElements[1].elementType;
    const file = path.join(dir, 'bad.json');
    await writeFile(file, JSON.stringify(bad));
    const r = await run(['flow', 'import', file, '--data', path.join(dir, 'data')]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /\/mapElements\/1/);
  });

  it('loads the public Flow snapshots', async (t) => {
    if (!existsSync(SNAPSHOTS)) {
      t.skip(`conformance fixtures not found at ${SNAPSHOTS}`);
      return;
    }
    const dir = await tempDir();
    for (const f of ['greenlight-snapshotB.json', 'greenlight-snapshotC.json']) {
      const r = await run(['flow', 'import', path.join(SNAPSHOTS, f), '--data', path.join(dir, 'data'), '--strict']);
      assert.equal(r.code, 0, `${f}: ${r.stderr}`);
      assert.match(r.stdout.trim(), /^\S+ \S+$/);
    }
  });
});
