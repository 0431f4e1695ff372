// Helpers for the API tests: real `sluice` processes on 127.0.0.1 with a fresh data directory
// each, HTTP helpers with Basic auth, ServiceRequest builders and polling.
//
// SLUICE_BIN names the binary (default build/sluice under the repository root). Every server's
// stderr (JSON log lines) is collected; when a test written with this file's `it` fails, the
// tail of each running server's stderr is printed as test diagnostics.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import { rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { it as nodeIt } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
export const FIXTURES = path.join(here, 'fixtures');
export const SLUICE_BIN = process.env.SLUICE_BIN
  ? path.resolve(process.env.SLUICE_BIN)
  : path.join(REPO_ROOT, 'build', 'sluice');

/** Generous: sanitizer builds start and run several times slower. */
export const START_TIMEOUT_MS = 20000;
export const STOP_TIMEOUT_MS = 20000;

export const fixture = (name) => path.join(FIXTURES, name);

const live = new Set(); // servers not yet stopped
const tempDirs = [];

process.on('exit', () => {
  for (const s of live) {
    try { s.child.kill('SIGKILL'); } catch { /* gone */ }
  }
});

/** A fresh temporary directory (removed at exit unless SLUICE_KEEP_TMP is set). */
export async function tempDir(prefix = 'sluice-e2e-') {
  const d = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

process.on('exit', () => {
  if (process.env.SLUICE_KEEP_TMP) return;
  for (const d of tempDirs) {
    try { rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
});

/**
 * Runs `sluice ARGS…` to completion. Resolves {code, signal, stdout, stderr}; never rejects on a
 * non-zero exit (tests assert the code), rejects on timeout.
 */
export function run(args, { cwd = REPO_ROOT, env = {}, timeoutMs = 30000, input } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(SLUICE_BIN, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sluice ${args.join(' ')} did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** `sluice user add NAME --data D`; returns the token (stdout trimmed). */
export async function addUser(data, name = 'flow') {
  const r = await run(['user', 'add', name, '--data', data]);
  assert.equal(r.code, 0, `user add ${name} failed (exit ${r.code}): ${r.stderr}`);
  const token = r.stdout.trim();
  assert.ok(token.length >= 16, `user add printed no token: ${JSON.stringify(r.stdout)}`);
  return token;
}

/** `sluice deploy DIR --data D`. */
export function deploy(dir, data) {
  return run(['deploy', dir, '--data', data]);
}

export function basicAuth(user, token) {
  return 'Basic ' + Buffer.from(`${user}:${token}`, 'utf8').toString('base64');
}

/** Parses JSON lines from a text (non-JSON lines are skipped). */
export function jsonLines(text) {
  const out = [];
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try { out.push(JSON.parse(t)); } catch { /* not a log line */ }
  }
  return out;
}

/**
 * Starts a server and waits until GET /healthz answers 200.
 *   deploy:   components folder for --deploy (optional)
 *   data:     data directory (default: a fresh temp dir)
 *   user:     user to create before start (default "flow"; null for none)
 *   args:     extra flags
 *   command:  "serve" (default), "atom" or "demo"
 * Resolves a Server.
 */
export async function startServer({ deploy: deployDir, data, user = 'flow', args = [], command = 'serve', env = {},
  cwd = REPO_ROOT, timeoutMs = START_TIMEOUT_MS } = {}) {
  data = data ?? await tempDir();
  const token = user ? await addUser(data, user) : null;
  const argv = [command, '--listen', '127.0.0.1:0', '--data', data];
  if (deployDir) argv.push('--deploy', deployDir);
  argv.push(...args);
  const server = new Server(argv, { data, user, token, env, cwd });
  await server.start(timeoutMs);
  return server;
}

export class Server {
  constructor(argv, { data, user, token, env, cwd }) {
    this.argv = argv;
    this.data = data;
    this.user = user;
    this.token = token;
    this.env = env;
    this.cwd = cwd;
    this.stderrText = '';
    this.stdoutText = '';
    this.exit = null; // {code, signal} once exited
  }

  get auth() {
    return basicAuth(this.user, this.token);
  }

  get url() {
    return `http://127.0.0.1:${this.port}`;
  }

  start(timeoutMs) {
    return new Promise((resolve, reject) => {
      const child = spawn(SLUICE_BIN, this.argv, {
        cwd: this.cwd,
        env: { ...process.env, ...this.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      this.child = child;
      live.add(this);
      this.exited = new Promise((res) => {
        child.on('close', (code, signal) => {
          this.exit = { code, signal };
          live.delete(this);
          res(this.exit);
        });
      });
      let settled = false;
      let pending = '';
      const fail = (msg) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try { child.kill('SIGKILL'); } catch { /* gone */ }
        reject(new Error(`${msg}\ncommand: ${SLUICE_BIN} ${this.argv.join(' ')}\nstderr:\n${this.stderrText}`));
      };
      const timer = setTimeout(() => fail(`sluice did not report "listening" within ${timeoutMs} ms`), timeoutMs);
      child.on('error', (e) => fail(`cannot start sluice: ${e.message}`));
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (d) => { this.stdoutText += d; });
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (d) => {
        this.stderrText += d;
        if (settled) return;
        pending += d;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          let port = null;
          if (line.startsWith('{')) {
            try {
              const o = JSON.parse(line);
              if (o.msg === 'listening') port = Number(o.port);
            } catch { /* not JSON */ }
          } else {
            const m = /listening on http:\/\/[^\s:]+:(\d+)/.exec(line);
            if (m) port = Number(m[1]);
          }
          if (port) {
            this.port = port;
            this.waitHealthy(Math.max(1000, timeoutMs)).then(() => {
              if (settled) return;
              settled = true;
              clearTimeout(timer);
              resolve(this);
            }, (e) => fail(e.message));
            return;
          }
        }
      });
      child.on('close', (code, signal) => fail(`sluice exited early (code ${code}, signal ${signal})`));
    });
  }

  async waitHealthy(timeoutMs) {
    const until = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < until) {
      try {
        const r = await fetch(`${this.url}/healthz`);
        const text = await r.text();
        if (r.status === 200) return JSON.parse(text);
        last = `HTTP ${r.status}: ${text}`;
      } catch (e) {
        last = e.message;
      }
      await sleep(50);
    }
    throw new Error(`GET /healthz did not answer 200 within ${timeoutMs} ms (last: ${last})`);
  }

  /** Sends SIGTERM once (a second one during shutdown may legitimately force an exit). */
  terminate() {
    if (!this.exit && !this.terminated) {
      this.terminated = true;
      this.child.kill('SIGTERM');
    }
  }

  /** SIGTERM (unless already sent), wait for the exit, assert exit code 0. */
  async stop({ timeoutMs = STOP_TIMEOUT_MS } = {}) {
    if (!this.child) return;
    this.terminate();
    const timer = setTimeout(() => { try { this.child.kill('SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    const ex = await this.exited;
    clearTimeout(timer);
    assert.deepEqual(ex, { code: 0, signal: null },
      `sluice did not stop cleanly on SIGTERM (code ${ex.code}, signal ${ex.signal})\nstderr tail:\n${tail(this.stderrText)}`);
  }

  /** Log lines (parsed JSON) written so far. */
  logs() {
    return jsonLines(this.stderrText);
  }

  /**
   * A request; resolves {status, headers, text, json}. auth: true (this server's user), false
   * (none) or an Authorization header value.
   */
  async request(method, p, { body, auth = true, headers = {}, raw = false } = {}) {
    const h = { ...headers };
    if (auth === true) h.authorization = this.auth;
    else if (typeof auth === 'string') h.authorization = auth;
    let payload = body;
    if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array) && !raw) {
      payload = JSON.stringify(body);
    }
    if (payload !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
      h['content-type'] = 'application/json';
    }
    const r = await fetch(this.url + p, { method, headers: h, body: payload });
    const text = await r.text();
    let json;
    try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
    return { status: r.status, headers: r.headers, text, json };
  }

  post(p, body, opts = {}) {
    return this.request('POST', p, { ...opts, body: body === undefined ? '' : body });
  }

  get(p, opts = {}) {
    return this.request('GET', p, opts);
  }

  /** POST /fs/test/actions/<name> (name is URL-encoded here). */
  action(name, req, { service = 'test', ...opts } = {}) {
    return this.post(`/fs/${service}/actions/${encodeURIComponent(name)}`, req, opts);
  }

  async healthz() {
    const r = await fetch(`${this.url}/healthz`);
    assert.equal(r.status, 200);
    return r.json();
  }

  async metricsText() {
    const r = await fetch(`${this.url}/metrics`);
    assert.equal(r.status, 200);
    return r.text();
  }
}

export function tail(text, lines = 150) {
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

/**
 * Like node:test's `it`, but when the test fails the tail of every running server's stderr is
 * added to the test's diagnostics.
 */
/**
 * Wraps a before/after hook: when it fails, the tail of every running server's stderr goes to
 * stderr (hooks have no test diagnostics).
 */
export function hook(fn) {
  return async (...args) => {
    try {
      await fn(...args);
    } catch (e) {
      for (const s of live) {
        process.stderr.write(`--- stderr of sluice ${s.argv.join(' ')} (port ${s.port}), last lines ---\n${tail(s.stderrText, 60)}\n`);
      }
      throw e;
    }
  };
}

export function it(name, opts, fn) {
  if (typeof opts === 'function') {
    fn = opts;
    opts = {};
  }
  return nodeIt(name, opts, async (t) => {
    try {
      await fn(t);
    } catch (e) {
      for (const s of live) {
        t.diagnostic(`--- stderr of sluice ${s.argv.join(' ')} (port ${s.port}), last lines ---`);
        for (const line of tail(s.stderrText, 60).split('\n')) if (line) t.diagnostic(line);
      }
      throw e;
    }
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Calls fn until it returns a truthy value (returned) or timeoutMs passes (throws with the last
 * value or error and `what`).
 */
export async function poll(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const until = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= until) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await sleep(intervalMs);
  }
}

/* ---- problems ---- */

/** Asserts a ServiceProblem response: status, JSON body, kind header; returns the body. */
export function assertProblem(res, status, { kind, message } = {}) {
  assert.equal(res.status, status, `expected HTTP ${status}, got ${res.status}: ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(res.json && typeof res.json === 'object', `problem body is not JSON: ${res.text}`);
  const p = res.json;
  assert.equal(p.statusCode, status);
  assert.equal(typeof p.message, 'string');
  assert.ok(p.message.length > 0);
  assert.ok(['api', 'service'].includes(p.kind), `kind ${p.kind}`);
  if (kind) assert.equal(p.kind, kind);
  assert.equal(res.headers.get('x-manywho-service-problem-kind'), p.kind);
  if (message instanceof RegExp) assert.match(p.message, message);
  else if (typeof message === 'string') assert.ok(p.message.includes(message), `message ${JSON.stringify(p.message)} does not contain ${JSON.stringify(message)}`);
  return p;
}

/* ---- Flow values ---- */

export const ev = {
  string: (name, value) => engineValue(name, 'ContentString', value),
  number: (name, value) => engineValue(name, 'ContentNumber', value),
  boolean: (name, value) => engineValue(name, 'ContentBoolean', value),
  datetime: (name, value) => engineValue(name, 'ContentDateTime', value),
  password: (name, value) => engineValue(name, 'ContentPassword', value),
  object: (name, typeName, mobject) => ({
    ...engineValue(name, 'ContentObject', null), typeElementDeveloperName: typeName, objectData: mobject ? [mobject] : [],
  }),
  list: (name, typeName, mobjects) => ({
    ...engineValue(name, 'ContentList', null), typeElementDeveloperName: typeName, objectData: mobjects,
  }),
};

function engineValue(developerName, contentType, contentValue) {
  return {
    valueElementId: null,
    typeElementId: null,
    typeElementPropertyId: null,
    developerName,
    typeElementDeveloperName: null,
    typeElementPropertyDeveloperName: null,
    contentValue: contentValue === undefined ? null : contentValue,
    contentType,
    objectData: null,
  };
}

/** A property of an MObject. */
export const prop = {
  string: (name, value) => property(name, 'ContentString', value),
  number: (name, value) => property(name, 'ContentNumber', value),
  boolean: (name, value) => property(name, 'ContentBoolean', value),
  datetime: (name, value) => property(name, 'ContentDateTime', value),
  object: (name, mobject) => ({ ...property(name, 'ContentObject', null), objectData: mobject ? [mobject] : [] }),
  list: (name, mobjects) => ({ ...property(name, 'ContentList', null), objectData: mobjects }),
};

function property(developerName, contentType, contentValue) {
  return { typeElementPropertyId: null, developerName, contentType, contentValue, contentFormat: null, objectData: null };
}

export function mobject(typeName, properties, order = 0) {
  return { internalId: null, externalId: null, developerName: typeName, typeElementId: null, order, isSelected: false, properties };
}

export const TEST_CULTURE = { id: null, developerName: null, developerSummary: null, brand: null, language: 'EN', country: 'USA', variant: null };

/**
 * A ServiceRequest as the Flow engine sends it. Defaults: fresh token/tenantId/stateId, the
 * test service's configuration values, no callbackUri.
 */
export function serviceRequest({ inputs = [], token = randomUUID(), tenantId = randomUUID(), stateId = randomUUID(),
  callbackUri = null, configurationValues, culture = TEST_CULTURE, annotations = null, extra = {} } = {}) {
  return {
    token,
    tenantId,
    stateId,
    callbackUri,
    joinPlayerUri: null,
    playerUri: null,
    uri: null,
    inputs,
    outcomes: [],
    executionMode: '',
    culture,
    configurationValues: configurationValues ?? [ev.string('Api Key', 'k-123'), ev.number('Limit', '25')],
    authorization: null,
    annotations,
    attributes: null,
    ...extra,
  };
}

/** Output by developerName (asserts it is present). */
export function output(res, name) {
  const outs = res.json?.outputs;
  assert.ok(Array.isArray(outs), `no outputs in ${res.text}`);
  const o = outs.find((x) => x.developerName === name);
  assert.ok(o, `no output "${name}" in ${JSON.stringify(outs.map((x) => x.developerName))}`);
  return o;
}

/** Property of an MObject by developerName (asserts it is present). */
export function propOf(mo, name) {
  const p = mo.properties.find((x) => x.developerName === name);
  assert.ok(p, `no property "${name}" in ${JSON.stringify(mo.properties.map((x) => x.developerName))}`);
  return p;
}

/* ---- raw sockets ---- */

/**
 * Writes `head` (and optionally `body`) on a raw TCP connection and collects what comes back
 * until the server closes the connection or `until(text)` is true or timeoutMs passes.
 * Resolves {text, closed, timedOut}.
 */
export function rawExchange(port, head, { body, until, timeoutMs = 10000 } = {}) {
  return new Promise((resolve) => {
    const sock = net.createConnection({ host: '127.0.0.1', port });
    let text = '';
    let done = false;
    const finish = (extra) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ text, ...extra });
    };
    const timer = setTimeout(() => finish({ closed: false, timedOut: true }), timeoutMs);
    sock.setEncoding('latin1');
    sock.on('connect', () => {
      sock.write(head);
      if (body) sock.write(body);
    });
    sock.on('data', (d) => {
      text += d;
      if (until && until(text)) finish({ closed: false, timedOut: false });
    });
    sock.on('error', (e) => finish({ closed: true, timedOut: false, error: e.message }));
    sock.on('end', () => finish({ closed: true, timedOut: false }));
  });
}

/** Parses a raw HTTP/1.1 response text: {status, headers (lower-case names), body}. */
export function parseRawResponse(text) {
  const i = text.indexOf('\r\n\r\n');
  const head = i >= 0 ? text.slice(0, i) : text;
  const body = i >= 0 ? text.slice(i + 4) : '';
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  const headers = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(':');
    if (c > 0) headers[l.slice(0, c).trim().toLowerCase()] = l.slice(c + 1).trim();
  }
  return { status: m ? Number(m[1]) : null, headers, body };
}

/** Reads the counters of a Prometheus text: {"name{labels}": value}. */
export function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/* ---- a stand-in for Flow's callback endpoint ---- */

/**
 * Starts an HTTP server on 127.0.0.1:0 that records every request ({method, url, headers, body,
 * json, at}) and answers with the next status from `statuses` (then 200). The Flow engine answers
 * a callback with an InvokeType string.
 */
export async function startReceiver({ statuses = [] } = {}) {
  const { createServer } = await import('node:http');
  const received = [];
  const queue = [...statuses];
  const waiters = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      let json;
      try { json = JSON.parse(body); } catch { json = undefined; }
      const status = queue.length ? queue.shift() : 200;
      received.push({ method: req.method, url: req.url, headers: req.headers, body, json, status, at: Date.now() });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status < 300 ? '"FORWARD"' : '{"message":"try again"}');
      for (const w of waiters.splice(0)) w();
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    received,
    /** Sets the statuses for the next requests. */
    answer(...s) { queue.splice(0, queue.length, ...s); },
    /** Waits until pred(received) is truthy. */
    async waitFor(pred, { timeoutMs = 10000, what = 'callbacks' } = {}) {
      const until = Date.now() + timeoutMs;
      while (!pred(received)) {
        const left = until - Date.now();
        if (left <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; received ${received.length}: ${JSON.stringify(received.map((r) => [r.method, r.url, r.status]))}`);
        await new Promise((r) => {
          const t = setTimeout(r, Math.min(left, 100));
          waiters.push(() => { clearTimeout(t); r(); });
        });
      }
      return received;
    },
    close() {
      server.closeAllConnections?.();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
