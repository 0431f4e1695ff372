// `sluice flow` (the engine alone), `sluice serve` (engine beside the Atom), and the cleanup of
// ended states after --flow-done-ttl.
import { describe } from 'node:test';
import assert from 'node:assert/strict';
import { it, poll, startServer } from './helpers.mjs';
import * as k from './flowkit.mjs';

function helloFlow() {
  const start = k.element('START', 'Start');
  const step = k.element('step', 'Hello', { userContent: '<p>Hello</p>' });
  start.outcomes = [k.outcome('go', step)];
  return k.snapshot('Hello', { start, elements: [start, step] });
}

describe('sluice flow and sluice serve', () => {
  it('sluice flow serves the run API alone: /api/run/1 works, the Atom routes are not there', async () => {
    const srv = await startServer({ command: 'flow', user: null });
    try {
      const { tenant, flow } = await k.importFlow(srv.data, helloFlow());
      const c = new k.RunClient(srv.url, tenant);
      const r = await c.start(flow);
      assert.equal(r.invokeType, 'DONE');
      assert.equal(k.stepContent(r), '<p>Hello</p>');
      const fs = await fetch(`${srv.url}/fs/upload/metadata`, { method: 'POST' });
      assert.equal(fs.status, 404);
      const atomApi = await fetch(`${srv.url}/api/atom/v1/listeners`);
      assert.equal(atomApi.status, 404);
      const health = await (await fetch(`${srv.url}/healthz`)).json();
      assert.equal(health.flow, true);
      assert.equal(health.atom, false);
    } finally {
      await srv.stop();
    }
  });

  it('sluice atom does not serve the run API; sluice serve serves both', async () => {
    const atomOnly = await startServer({ command: 'atom', user: null });
    try {
      const r = await fetch(`${atomOnly.url}/api/run/1`, { method: 'POST', body: '{}' });
      assert.equal(r.status, 404);
    } finally {
      await atomOnly.stop();
    }
    const both = await startServer({ user: null });
    try {
      const health = await (await fetch(`${both.url}/healthz`)).json();
      assert.equal(health.flow, true);
      assert.equal(health.atom, true);
    } finally {
      await both.stop();
    }
  });

  it('deletes ended states after --flow-done-ttl; states in progress stay', async () => {
    const srv = await startServer({ command: 'flow', user: null, args: ['--flow-done-ttl', '1'] });
    try {
      const { tenant, flow } = await k.importFlow(srv.data, helloFlow());
      const c = new k.RunClient(srv.url, tenant);
      const done = await c.start(flow);
      assert.equal(done.invokeType, 'DONE');
      // a state that has not run yet (POST /api/run/1) is in progress
      const init = await c.call('POST', '/api/run/1', { flowId: { id: flow, versionId: null } });
      assert.equal(init.status, 200, init.text);
      assert.equal((await c.join(done.stateId)).status, 200);
      await poll(async () => (await c.join(done.stateId)).status === 404,
        { timeoutMs: 6000, what: 'the DONE state to be cleaned up' });
      assert.equal((await c.join(init.json.stateId)).status, 200, 'the state in progress must stay');
    } finally {
      await srv.stop();
    }
  });
});
