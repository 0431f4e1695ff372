// Driver of bench/player_render.sh (see there): time to the player's first page in headless
// chromium, against a static copy of the same page served by the same server.
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch } from '../../tests/browser/browser.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..', '..');
const [bin, runsArg] = process.argv.slice(2);
const RUNS = Number(runsArg) || 20;
const TARGET_MS = 300;

const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-bench-player-'));
const web = path.join(dir, 'web');
cpSync(path.join(ROOT, 'web'), web, { recursive: true }); // our copy: the reference page is added to it

const child = spawn(bin, ['demo', '--listen', '127.0.0.1:0', '--data', path.join(dir, 'data'), '--web', web,
  '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
let out = '';
let err = '';
child.stderr.on('data', (d) => { err += d; });
const banner = await new Promise((resolve, reject) => {
  child.stdout.on('data', (d) => {
    out += d;
    const t = /^tenant: (\S+)/m.exec(out);
    const f = /^flow: (\S+)/m.exec(out);
    const a = /^atom: (http:\/\/[^/\s]+)/m.exec(out);
    if (t && f && a && /^run: /m.test(out)) resolve({ tenant: t[1], flow: f[1], base: a[1] });
  });
  child.on('exit', (code) => reject(new Error(`sluice demo exited (${code}):\n${out}\n${err}`)));
  setTimeout(() => reject(new Error(`no demo banner within 20 s:\n${out}\n${err}`)), 20000);
});
const playUrl = `${banner.base}/play/${banner.tenant}/${banner.flow}`;
const refUrl = `${banner.base}/web/player/reference.html`;

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { median: q(0.5), p90: q(0.9) };
};

/** One load: ms from navigation start to the first-page mark, bytes and requests so far. */
async function load(page, url) {
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(() => performance.getEntriesByName('sluice:first-page').length > 0, null, { timeout: 10000 });
  await page.waitForTimeout(50); // let requests that finish with the page land in the timeline
  return page.evaluate(() => {
    const mark = performance.getEntriesByName('sluice:first-page')[0].startTime;
    const nav = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    const api = res.find((r) => r.name.includes('/api/run/1/state'));
    return {
      ms: mark,
      bytes: (nav?.transferSize ?? 0) + res.reduce((n, r) => n + (r.transferSize ?? 0), 0),
      requests: 1 + res.length,
      apiMs: api ? api.responseEnd - api.startTime : null,
      title: document.querySelector('#page h1')?.textContent ?? document.title,
    };
  });
}

async function series(browser, url, { warm }) {
  const results = [];
  if (warm) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await load(page, url); // fills the cache; not counted
    for (let i = 0; i < RUNS; i++) results.push(await load(page, url));
    await context.close();
  } else {
    for (let i = 0; i < RUNS; i++) {
      const context = await browser.newContext(); // an empty cache each time
      const page = await context.newPage();
      results.push(await load(page, url));
      await context.close();
    }
  }
  return results;
}

const browser = await launch();
try {
  // The reference: the player's first page, as rendered, saved as static HTML (same stylesheets,
  // no script, no API call) and served by the same server; it marks itself when parsed.
  {
    const context = await browser.newContext();
    const page = await context.newPage();
    await load(page, playUrl);
    const html = await page.evaluate(() => {
      const doc = document.documentElement.cloneNode(true);
      for (const s of doc.querySelectorAll('script')) s.remove();
      doc.querySelector('#overlay')?.setAttribute('hidden', '');
      const mark = document.createElement('script');
      mark.textContent = "performance.mark('sluice:first-page')";
      doc.querySelector('body').append(mark);
      return `<!doctype html>\n${doc.outerHTML}`;
    });
    writeFileSync(path.join(web, 'player', 'reference.html'), html);
    await context.close();
  }
  // warm the server and the browser process
  for (let i = 0; i < 3; i++) {
    const context = await browser.newContext();
    await load(await context.newPage(), playUrl);
    await context.close();
  }

  const rows = [];
  for (const [name, url, warm] of [['player, cold cache', playUrl, false], ['player, warm cache', playUrl, true],
    ['reference, cold cache', refUrl, false], ['reference, warm cache', refUrl, true]]) {
    const r = await series(browser, url, { warm });
    rows.push({ name, r, t: stats(r.map((x) => x.ms)), b: stats(r.map((x) => x.bytes)), n: r[0].requests, title: r[0].title,
      api: stats(r.map((x) => x.apiMs ?? 0)) });
  }
  // the run API call alone, from node (no browser)
  const apiMs = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const res = await fetch(`${banner.base}/api/run/1/state`, { method: 'POST',
      headers: { 'Content-Type': 'application/json', ManyWhoTenant: banner.tenant }, body: JSON.stringify({ id: banner.flow }) });
    await res.text();
    apiMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const api = stats(apiMs);

  const f = (x) => x.toFixed(1).padStart(6);
  console.log(`player_render: the demo flow's first page ("${rows[0].title}"), ${RUNS} loads per row, headless chromium, 127.0.0.1`);
  console.log('  time = navigation start -> performance mark "sluice:first-page"; bytes = transfer sizes of the document and every request');
  console.log('                           median ms   p90 ms   bytes (median)  requests');
  for (const row of rows) {
    console.log(`  ${row.name.padEnd(24)} ${f(row.t.median)}    ${f(row.t.p90)}   ${String(Math.round(row.b.median)).padStart(8)}        ${row.n}`);
  }
  console.log(`  run API call in the page (POST /api/run/1/state, resource timing): median ${f(rows[0].api.median)} ms`);
  console.log(`  run API call alone from node (same call):                          median ${f(api.median)} ms, p90 ${f(api.p90)} ms`);
  const cold = rows[0].t.median / rows[2].t.median;
  const warm = rows[1].t.median / rows[3].t.median;
  console.log(`  ratio player / reference (median): cold ${cold.toFixed(2)}x, warm ${warm.toFixed(2)}x`);
  const worst = Math.max(rows[0].t.p90, rows[1].t.p90);
  console.log(`  target: first page within ${TARGET_MS} ms (p90, cold and warm): ${worst <= TARGET_MS ? 'PASS' : 'FAIL'} (${worst.toFixed(1)} ms)`);
} finally {
  await browser.close();
  child.kill('SIGTERM');
  await new Promise((r) => { if (child.exitCode !== null) r(); else child.on('exit', r); });
  rmSync(dir, { recursive: true, force: true });
}
