// Driver of bench/service_install.sh (see there).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [bin, runsArg] = process.argv.slice(2);
const RUNS = Number(runsArg) || 50;
const TYPES = 50;
const PROPS = 20;
const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-install-'));
const comp = path.join(dir, 'components');
for (const sub of ['profiles', 'processes', 'services']) mkdirSync(path.join(comp, sub), { recursive: true });

const pad = (n) => String(n).padStart(2, '0');
// a profile holds at most 1000 elements: 25 objects in the request, 25 in the response
const objects = (from, to) => {
  const out = [];
  for (let t = from; t <= to; t++) {
    const fields = [];
    for (let p = 1; p <= PROPS; p++) fields.push({ name: `Field ${pad(p)}`, type: p % 5 === 0 ? 'Number' : 'Character' });
    out.push({ name: `Object ${pad(t)}`, type: 'Object', children: fields });
  }
  return out;
};
writeFileSync(path.join(comp, 'profiles', 'big-request.json'), JSON.stringify({
  component: 'profile', name: 'Big Request', root: { name: 'Big', type: 'Object', children: objects(1, TYPES / 2) } }));
writeFileSync(path.join(comp, 'profiles', 'big-response.json'), JSON.stringify({
  component: 'profile', name: 'Big Response', root: { name: 'Out', type: 'Object',
    children: [{ name: 'Ok', type: 'Character' }, ...objects(TYPES / 2 + 1, TYPES)] } }));
writeFileSync(path.join(comp, 'processes', 'big.json'), JSON.stringify({
  component: 'process', name: 'Big', shapes: [
    { id: 'start', type: 'start', connector: 'flowservices', action: 'Listen',
      operation: { serviceType: 'Message Action', requestProfile: 'Big Request', responseProfile: 'Big Response' }, next: 'map' },
    { id: 'map', type: 'map', from: 'Big Request', to: 'Big Response', mappings: [{ to: 'Ok', value: { const: 'yes' } }], next: 'done' },
    { id: 'done', type: 'return' }] }));
writeFileSync(path.join(comp, 'services', 'big.json'), JSON.stringify({
  component: 'flowservice', name: 'Big Service', externalName: 'big', messageActions: [{ name: 'Big', process: 'Big' }] }));

const data = path.join(dir, 'data');
const sh = (args) => {
  const r = spawnSync(bin, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};
const token = sh(['user', 'add', 'bench', '--data', data]);
sh(['deploy', comp, '--data', data]);
const tenant = sh(['tenant', 'add', 'bench', '--data', data]);
const key = sh(['key', 'add', '--tenant', 'bench', '--data', data]);

const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
const port = await new Promise((resolve, reject) => {
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
    const m = /listening on http:\/\/[^:]+:(\d+)/.exec(err);
    if (m) resolve(Number(m[1]));
  });
  child.on('exit', () => reject(new Error(`sluice exited: ${err}`)));
});
const base = `http://127.0.0.1:${port}`;
const auth = `Basic ${Buffer.from(`bench:${token}`).toString('base64')}`;

async function time(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
};

const describe = async () => {
  const r = await fetch(`${base}/fs/big/metadata`, { method: 'POST', headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: '{}' });
  const j = await r.json();
  if (j.install.typeElements.length !== TYPES) throw new Error(`describe gave ${j.install.typeElements.length} types`);
};
const install = async () => {
  const r = await fetch(`${base}/api/draw/1/element/service/install`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ManyWhoTenant: tenant, 'x-boomi-flow-api-key': key },
    body: JSON.stringify({ uri: `${base}/fs/big`, httpAuthenticationUsername: 'bench', httpAuthenticationPassword: token, developerName: 'Big' }),
  });
  const j = await r.json();
  if (r.status !== 200) throw new Error(`install: ${r.status} ${JSON.stringify(j)}`);
  const types = j.serviceElement.install.typeElements;
  if (types.length !== TYPES || types.some((t) => t.properties.length !== PROPS)) throw new Error('wrong types');
};

try {
  for (let i = 0; i < 5; i++) await describe(); // warm-up
  const first = await time(install);
  const d = [];
  const ins = [];
  for (let i = 0; i < RUNS; i++) {
    d.push(await time(describe));
    ins.push(await time(install));
  }
  const sd = stats(d);
  const si = stats(ins);
  console.log(`service_install: ${TYPES} types x ${PROPS} properties, ${RUNS} runs each, sequential, 127.0.0.1`);
  console.log(`  describe alone (reference): median ${sd.median.toFixed(2)} ms, p90 ${sd.p90.toFixed(2)} ms`);
  console.log(`  first install:              ${first.toFixed(2)} ms`);
  console.log(`  re-install (ids kept):      median ${si.median.toFixed(2)} ms, p90 ${si.p90.toFixed(2)} ms`);
  console.log(`  ratio install / describe:   ${(si.median / sd.median).toFixed(2)}x`);
} finally {
  child.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
