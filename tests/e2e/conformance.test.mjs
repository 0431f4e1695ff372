// Our describe response against a describe response of the Java SDK (the conformance fixture
// ../shared/conformance/sdk/describe-response-v1.json, outside this repository): the same
// top-level members, and every member the fixture has on a configuration value, action, service
// input/output, type, property or binding is on ours too, with the same JSON type (null is fine
// where the fixture has null). Member order is ignored. Skipped when the fixtures are absent.
import { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fixture, it, REPO_ROOT, startServer } from './helpers.mjs';

const CONFORMANCE = path.resolve(REPO_ROOT, '..', 'shared', 'conformance');
const DESCRIBE_V1 = path.join(CONFORMANCE, 'sdk', 'describe-response-v1.json');
const present = existsSync(DESCRIBE_V1);

const jsonType = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** The items of each kind in a describe response. */
function itemsByKind(d) {
  const actions = d.actions ?? [];
  const types = d.install?.typeElements ?? [];
  return {
    configurationValue: d.configurationValues ?? [],
    action: actions,
    serviceInput: actions.flatMap((a) => a.serviceInputs ?? []),
    serviceOutput: actions.flatMap((a) => a.serviceOutputs ?? []),
    serviceActionOutcome: actions.flatMap((a) => a.serviceActionOutcomes ?? []),
    install: d.install ? [d.install] : [],
    typeElement: types,
    property: types.flatMap((t) => t.properties ?? []),
    binding: types.flatMap((t) => t.bindings ?? []),
    propertyBinding: types.flatMap((t) => (t.bindings ?? []).flatMap((b) => b.propertyBindings ?? [])),
  };
}

/** member → set of JSON types seen across the fixture's items of one kind. */
function memberTypes(items) {
  const m = new Map();
  for (const it of items) {
    for (const [k, v] of Object.entries(it)) {
      if (!m.has(k)) m.set(k, new Set());
      m.get(k).add(jsonType(v));
    }
  }
  return m;
}

function allowed(types, t) {
  if (types.has(t)) return true;
  // the fixture only ever has null here (ids and the like): a string value is as plausible
  return types.size === 1 && types.has('null') && t === 'string';
}

describe('conformance with the Java SDK describe response', () => {
  let srv;
  let ours;
  let theirs;
  before(async () => {
    if (!present) return;
    theirs = JSON.parse(readFileSync(DESCRIBE_V1, 'utf8'));
    srv = await startServer({ deploy: fixture('good') });
    const r = await srv.post('/fs/test/metadata', {});
    assert.equal(r.status, 200, r.text);
    ours = r.json;
  });
  after(async () => {
    await srv?.stop();
  });

  const skipIfAbsent = (t) => {
    if (!present) {
      t.skip(`conformance fixtures not found at ${CONFORMANCE}`);
      return true;
    }
    return false;
  };

  it('has the same top-level members, of the same JSON types', (t) => {
    if (skipIfAbsent(t)) return;
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort());
    for (const [k, v] of Object.entries(theirs)) {
      assert.ok(allowed(new Set([jsonType(v)]), jsonType(ours[k])), `${k}: ours is ${jsonType(ours[k])}, the SDK's ${jsonType(v)}`);
    }
  });

  for (const kind of ['configurationValue', 'action', 'serviceInput', 'serviceOutput', 'serviceActionOutcome', 'install',
    'typeElement', 'property', 'binding', 'propertyBinding']) {
    it(`every ${kind} member of the SDK's response is on ours, with the same JSON type`, (t) => {
      if (skipIfAbsent(t)) return;
      const want = memberTypes(itemsByKind(theirs)[kind]);
      const mine = itemsByKind(ours)[kind];
      if (want.size === 0) {
        t.diagnostic(`the SDK's response has no ${kind} members to compare`);
        return;
      }
      if (mine.length === 0) {
        // e.g. bindings: our types come from message-action profiles and have none
        t.diagnostic(`our response has no ${kind} (the SDK's has ${[...want.keys()].join(', ')})`);
        assert.ok(['binding', 'propertyBinding', 'serviceActionOutcome'].includes(kind), `our describe has no ${kind} at all`);
        return;
      }
      for (const [i, item] of mine.entries()) {
        for (const [member, types] of want) {
          assert.ok(Object.hasOwn(item, member), `${kind} ${i} (${item.developerName ?? ''}) lacks "${member}"`);
          const t2 = jsonType(item[member]);
          assert.ok(allowed(types, t2), `${kind} ${i} (${item.developerName ?? ''}) "${member}" is ${t2}; the SDK has ${[...types].join('/')}`);
        }
      }
    });
  }

  it('has the same shape of values: contentValue null, ordinal a number, required a boolean', (t) => {
    if (skipIfAbsent(t)) return;
    const k = itemsByKind(ours);
    for (const v of [...k.configurationValue, ...k.serviceInput, ...k.serviceOutput]) {
      assert.equal(v.contentValue, null);
      assert.equal(typeof v.ordinal, 'number');
      assert.equal(typeof v.required, 'boolean');
    }
    // objects and lists name their type, like the SDK's "Type"/"Types" inputs
    for (const v of [...k.serviceInput, ...k.serviceOutput]) {
      if (v.contentType === 'ContentObject' || v.contentType === 'ContentList') assert.equal(typeof v.typeElementDeveloperName, 'string');
      else assert.equal(v.typeElementDeveloperName, null);
    }
  });
});
