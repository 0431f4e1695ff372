// Replay of the ManyWho/Boomi SQL service conformance fixtures (../shared/conformance/service-sql,
// README there) against a real `sluice serve`, once on SQLite and once on PostgreSQL.
//
// For each case of the `common` and `postgresql` suites (README §4; plus mysql/load-bool-int,
// which the PostgreSQL suite runs too): every table and view is dropped, the case's setup SQL is
// run (PostgreSQL dialect with psql; translated for the sqlite3 CLI per README §7), the request
// file has its placeholders substituted (§2.3) and is sent to /fs/sql/…, and the answer is
// compared leniently (§2.4): error cases only need a non-2xx status, describe cases compare
// install.typeElements, save cases substitute the expected file too, delete cases also run their
// post-condition SQL, by-order-by counts rows, offset-and-limit checks the row order.
//
// The server gets a components folder written here: a database connection (SQLite file or the
// PostgreSQL started with scripts/pg-test-server.sh) and a flowservice "sql" exposing every table
// of it. Cases skipped or adapted, and why, are listed in tests/conformance/README.md.
//
// Environment: SLUICE_BIN (default build/sluice), SLUICE_KEEP_TMP=1 keeps the temp folders.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '..', '..');
const FIXTURES = path.resolve(ROOT, '..', 'shared', 'conformance', 'service-sql');
const BIN = process.env.SLUICE_BIN ? path.resolve(process.env.SLUICE_BIN) : path.join(ROOT, 'build', 'sluice');
const PG_SCRIPT = path.join(ROOT, 'scripts', 'pg-test-server.sh');
const TZ = 'Europe/London';
const HAVE_FIXTURES = fs.existsSync(path.join(FIXTURES, 'README.md'));

// ---- table definitions (README §4.0 and §4.6), PostgreSQL dialect ----

const T_COUNTRY = `CREATE TABLE "country" (
  id          integer NOT NULL,
  name        character varying(255),
  description character varying(1024) NULL,
  CONSTRAINT country_id_pk PRIMARY KEY (id)
)`;
const T_COUNTRY2 = T_COUNTRY.replace('"country"', '"country2"');
const T_COUNTRY_DATED = `CREATE TABLE "country" (
  id          integer NOT NULL,
  name        character varying(255),
  description character varying(1024) NULL,
  date_at     date NULL,
  CONSTRAINT country_id_pk PRIMARY KEY (id)
)`;
const T_COUNTRY_NUMERIC = `CREATE TABLE "country" (
  id                   integer NOT NULL,
  name                 character varying(255),
  description          character varying(1024),
  integer_column       integer,
  double_column        double precision,
  numeric_column       numeric(20,2),
  real_column          real,
  bigint_column        bigint,
  numeric_small_column numeric(26,25),
  CONSTRAINT country_id_pk PRIMARY KEY (id)
)`;
const T_CITY = `CREATE TABLE "city" (
  cityname    character varying(255),
  countryname character varying(255),
  description character varying(1024),
  CONSTRAINT city_pk PRIMARY KEY (cityname, countryname)
)`;
const T_COUNTRY_SERIAL = `CREATE TABLE "country" (
  name        character varying(255),
  description character varying(1024),
  id          SERIAL NOT NULL,
  CONSTRAINT country_id_pk PRIMARY KEY (id)
)`;
const T_COUNTRY_BOOL = `CREATE TABLE "country" (
  id   integer NOT NULL,
  name character varying(255),
  big  BOOLEAN,
  CONSTRAINT country_id2_pk PRIMARY KEY (id)
)`;
const T_COUNTRY_BIG = `CREATE TABLE "country" (
  id  integer NOT NULL,
  big BOOLEAN,
  CONSTRAINT country_id_pk PRIMARY KEY (id)
)`;
const T_COUNTRY_CAPITAL = `CREATE TABLE "Country" (
  "Id"                 integer NOT NULL,
  "Name"               character varying(255),
  "DescriptionCountry" character varying(1024),
  CONSTRAINT country_id_capitalize_pk PRIMARY KEY ("Id")
)`;
const SEED_A = `INSERT INTO "country"(id, name, description) VALUES
  ('1', 'Uruguay', 'It is a nice country'),
  ('2', 'England', 'It is a beautiful country')`;
const SEED_Q = `INSERT INTO "country"(id, name, description) VALUES
  ('1', 'country1''s, name', 'It''s a nice country'),
  ('2', 'country2''s, name', 'It''s a beautiful country')`;
// Numbers quoted so SQLite keeps them exact in its text-affinity decimal columns (README §7).
const SEED_NUMERIC = `INSERT INTO "country" VALUES (1, 'Uruguay', 'It is a nice country', 123, '0.999999999',
  '123456789012345678.99', '12233.2', 12345678765432, '0.9876543234500000000000000')`;
const comment = (table, column, alias) => `COMMENT ON COLUMN "${table}".${column} IS '{{ManyWhoName:${alias}}}'`;
const T_TIMETEST_LOAD = `CREATE TABLE "timetest" (
  id integer NOT NULL,
  time_with_timezone time,
  time_without_timezone time,
  timestamp_with_timezone timestamp with time zone,
  timestamp_without_timezone timestamp without time zone,
  CONSTRAINT timetest_id_pk PRIMARY KEY (id))`;
const T_TIMETEST_SAVE = `CREATE TABLE "timetest" (
  id integer NOT NULL,
  time_with_timezone time with time zone,
  time_without_timezone time without time zone,
  timestamp_with_timezone timestamp with time zone,
  timestamp_without_timezone timestamp without time zone,
  date_only DATE,
  CONSTRAINT timetest_id_pk PRIMARY KEY (id))`;
const T_SEARCH = `CREATE TABLE "searchtest" (id INT NOT NULL PRIMARY KEY, col_char CHAR(10),
  col_varchar VARCHAR(10), col_text TEXT)`;
const SEED_SEARCH = `INSERT INTO "searchtest" (id, col_char, col_varchar, col_text) VALUES
  (1,'aaaa','xxxx','xxxx'), (2,'xxxx','bbbb','xxxx'),
  (3,'xxxx','xxxx','cccc'), (4,'zzzz','zzzz','zzzz')`;
const T_UUID = `CREATE TABLE "uuidexample" (uuidkey uuid PRIMARY KEY, payload character(300))`;
const SEED_UUID = `INSERT INTO "uuidexample" VALUES ('155e3620-42bb-11e6-beb8-9e71128cae77', 'payload example')`;
const CITY_POST = {
  sql: `SELECT count(cityname) FROM "city" WHERE cityname = 'Montevideo' AND countryname = 'Uruguay'`,
  want: '0',
};

// ---- the catalogue ----
// kind: describe | load | save | delete. req/res: fixture paths. setup: PostgreSQL statements.
// sqlite: replacement statements for SQLite. skip: {sqlite, postgresql, all}: reason.

const CASES = [
  // §4.1 common/describe
  { id: 'common/describe/without-types', kind: 'describe', req: 'common/describe/without-types/metadata1-request.json',
    res: 'common/describe/without-types/metadata1-response.json', setup: [T_COUNTRY],
    skip: { all: 'Sluice ignores configurationValues: the connection component always gives the types' } },
  { id: 'common/describe/with-types', kind: 'describe', req: 'common/describe/with-types/metadata1-request.json',
    res: 'common/describe/with-types/metadata1-response.json', setup: [T_COUNTRY2] },
  { id: 'common/describe/with-types-no-password', kind: 'describe', error: true,
    req: 'common/describe/with-types-no-password/metadata1-request.json', setup: [T_COUNTRY],
    skip: { all: 'Sluice ignores configurationValues, so a missing Port setting cannot fail the call' } },
  { id: 'common/describe/not-supported-types', kind: 'describe',
    req: 'common/describe/not-supported-types/metadata1-request.json',
    res: 'common/describe/not-supported-types/metadata1-response.json',
    setup: [`CREATE TABLE "timetest"(id integer NOT NULL, time time, description character varying(255),
  CONSTRAINT timetest_id_pk PRIMARY KEY (id))`,
    `INSERT INTO "timetest"(id, time, description) VALUES ('1','14:09:08','time description')`] },
  { id: 'common/describe/with-alias-types', kind: 'describe', req: 'common/describe/with-alias-types/metadata1-request.json',
    res: 'common/describe/with-alias-types/metadata1-response.json',
    setup: [T_COUNTRY, comment('country', 'name', 'The Name'), `COMMENT ON TABLE "country" IS '{{ManyWhoName:The Country}}'`] },
  // §4.2 delete
  { id: 'common/data/delete', kind: 'delete', req: 'common/data/delete/request.json', res: 'common/data/delete/response.json',
    setup: [T_CITY, `INSERT INTO "city"(cityname, countryname) VALUES ('Montevideo','Uruguay')`], post: CITY_POST },
  { id: 'common/data/delete-with-alias', kind: 'delete', req: 'common/data/delete-with-alias/request.json',
    res: 'common/data/delete-with-alias/response.json',
    setup: [T_CITY, comment('city', 'cityname', 'City Name'), comment('city', 'countryname', 'Country Name'),
      `INSERT INTO "city"(cityname, countryname) VALUES ('Montevideo','Uruguay')`], post: CITY_POST },
  // §4.3 load
  { id: 'common/data/load/is-empty', kind: 'load', req: 'common/data/load/is-empty/load-request.json',
    res: 'common/data/load/is-empty/load-response.json',
    setup: [T_COUNTRY, `INSERT INTO "country"(id, name, description) VALUES ('1','Uruguay',NULL), ('2','UK','UK description')`] },
  { id: 'common/data/load/is-not-empty', kind: 'load', req: 'common/data/load/is-not-empty/load-request.json',
    res: 'common/data/load/is-not-empty/load-response.json',
    setup: [T_COUNTRY, `INSERT INTO "country"(id, name, description) VALUES ('1','Uruguay','Uruguay description'), ('2','UK',NULL)`] },
  { id: 'common/data/load/by-external-id', kind: 'load', req: 'common/data/load/by-external-id/load-request.json',
    res: 'common/data/load/by-external-id/load-response.json',
    setup: [T_COUNTRY, `INSERT INTO "country"(id, name, description) VALUES ('1','Uruguay','It is a nice country')`] },
  { id: 'common/data/load/by-external-id-with-alias', kind: 'load',
    req: 'common/data/load/by-external-id-with-alias/load-request.json',
    res: 'common/data/load/by-external-id-with-alias/load-response.json',
    setup: [T_COUNTRY, `INSERT INTO "country"(id, name, description) VALUES ('1','Uruguay','It is a nice country')`,
      comment('country', 'id', 'The ID')] },
  { id: 'common/data/load/by-filter/equal-and-like', kind: 'load', req: 'common/data/load/by-filter/equal-and-like/load-request.json',
    res: 'common/data/load/by-filter/equal-and-like/load-response.json', setup: [T_COUNTRY, SEED_A] },
  { id: 'common/data/load/by-filter/equal-or-like', kind: 'load', req: 'common/data/load/by-filter/equal-or-like/load-request.json',
    res: 'common/data/load/by-filter/equal-or-like/load-response.json', setup: [T_COUNTRY, SEED_A] },
  { id: 'common/data/load/by-filter/equal-or-like-with-alias', kind: 'load',
    req: 'common/data/load/by-filter/equal-or-like-with-alias/load-request.json',
    res: 'common/data/load/by-filter/equal-or-like-with-alias/load-response.json',
    setup: [T_COUNTRY, comment('country', 'name', 'The Name'), comment('country', 'description', 'The Description'), SEED_A] },
  { id: 'common/data/load/by-filter/escape/load-search', kind: 'load',
    req: 'common/data/load/by-filter/escape/load-search-request.json',
    res: 'common/data/load/by-filter/escape/load-search-response.json', setup: [T_COUNTRY, SEED_Q] },
  { id: 'common/data/load/by-filter/escape/load-and', kind: 'load',
    req: 'common/data/load/by-filter/escape/load-and-request.json',
    res: 'common/data/load/by-filter/escape/load-and-response.json', setup: [T_COUNTRY, SEED_Q] },
  { id: 'common/data/load/by-filter/start-end-contain', kind: 'load',
    req: 'common/data/load/by-filter/start-end-contain/load-search-request.json',
    res: 'common/data/load/by-filter/start-end-contain/load-search-response.json', setup: [T_COUNTRY, SEED_Q] },
  { id: 'common/data/load/by-filter/conditions-null', kind: 'load',
    req: 'common/data/load/by-filter/conditions-null/load-search-request.json',
    res: 'common/data/load/by-filter/conditions-null/load-search-response.json', setup: [T_COUNTRY, SEED_Q] },
  { id: 'common/data/load/by-filter/offset-and-limit', kind: 'load', ordered: true,
    req: 'common/data/load/by-filter/offset-and-limit/load-offset-request.json',
    res: 'common/data/load/by-filter/offset-and-limit/load-offset-response.json',
    setup: [T_COUNTRY, `INSERT INTO "country"(id, name, description) VALUES ('1','Uruguay','Uruguay description'),
  ('2','England','England description'), ('3','Spain','Spain description'), ('4','Italy','Italy description')`] },
  // The request file repeats "stateId", "token" and "typeElementBindingId"; Sluice refuses
  // duplicate keys, so it is sent re-serialised (as the upstream harness did with every request).
  { id: 'common/data/load/types', kind: 'load', reserialize: true, req: 'common/data/load/types/load-request.json',
    res: 'common/data/load/types/load-response.json',
    setup: [T_COUNTRY_DATED, `INSERT INTO "country"(id, date_at, name, description) VALUES
  ('1','2020-01-21','Uruguay',NULL), ('2','2020-02-22','UK','UK description')`] },
  { id: 'common/data/load/by-order-by', kind: 'load', countOnly: 2, req: 'common/data/load/by-order-by/load-request.json',
    setup: [T_CITY, `INSERT INTO "city"(cityname, countryname) VALUES ('Montevideo','Uruguay'), ('London','England'),
  ('Paris','France'), ('Madrid','Spain'), ('Rome','Italy')`] },
  // §4.4 multiple primary key
  { id: 'common/data/multiple-primary-key/load/by-primary-key', kind: 'load',
    req: 'common/data/multiple-primary-key/load/by-primary-key/load-request.json',
    res: 'common/data/multiple-primary-key/load/by-primary-key/load-response.json',
    setup: [T_CITY, `INSERT INTO "city"(cityname, countryname) VALUES ('Montevideo','Uruguay')`] },
  { id: 'common/data/multiple-primary-key/create', kind: 'save',
    req: 'common/data/multiple-primary-key/create/create-request.json',
    res: 'common/data/multiple-primary-key/create/create-response.json', setup: [T_CITY] },
  // §4.5 save
  { id: 'common/data/save/create', kind: 'save', req: 'common/data/save/create/create-request.json',
    res: 'common/data/save/create/create-response.json', setup: [T_COUNTRY_NUMERIC] },
  { id: 'common/data/save/create-escape', kind: 'save', req: 'common/data/save/create-escape/create-request.json',
    res: 'common/data/save/create-escape/create-response.json', setup: [T_COUNTRY_NUMERIC] },
  { id: 'common/data/save/update', kind: 'save', req: 'common/data/save/update/update-request.json',
    res: 'common/data/save/update/update-response.json', setup: [T_COUNTRY_NUMERIC, SEED_NUMERIC] },
  { id: 'common/data/save/update-escape', kind: 'save', req: 'common/data/save/update-escape/update-request.json',
    res: 'common/data/save/update-escape/update-response.json', setup: [T_COUNTRY_NUMERIC, SEED_NUMERIC] },
  { id: 'common/data/save/create-with-alias', kind: 'save', req: 'common/data/save/create-with-alias/create-request.json',
    res: 'common/data/save/create-with-alias/create-response.json',
    setup: [T_COUNTRY, comment('country', 'id', 'The Id'), comment('country', 'name', 'The Name'),
      comment('country', 'description', 'The Description')] },
  { id: 'common/data/save/update-with-alias', kind: 'save', req: 'common/data/save/update-with-alias/update-request.json',
    res: 'common/data/save/update-with-alias/update-response.json',
    setup: [T_COUNTRY, comment('country', 'id', 'The Id'), comment('country', 'name', 'The Name'),
      comment('country', 'description', 'The Description'),
      `INSERT INTO "country"(id, name, description) VALUES (1,'Uruguay','It is a nice country')`] },
  // §4.6 postgresql
  { id: 'postgresql/autoincrement/create', kind: 'save', req: 'postgresql/autoincrement/create-request.json',
    res: 'postgresql/autoincrement/create-response.json', setup: [T_COUNTRY_SERIAL] },
  { id: 'postgresql/update-autoincrement/update', kind: 'save', req: 'postgresql/update-autoincrement/update-request.json',
    res: 'postgresql/update-autoincrement/update-response.json',
    setup: [T_COUNTRY_SERIAL, `INSERT INTO "country"(name, description) VALUES ('Uruguay','It is a nice country')`] },
  { id: 'postgresql/boolean/create', kind: 'save', req: 'postgresql/boolean/create/create-request.json',
    res: 'postgresql/boolean/create/create-response.json', setup: [T_COUNTRY_BOOL] },
  { id: 'postgresql/capitalize/equal-or-like', kind: 'load', req: 'postgresql/capitalize/equal-or-like/load-request.json',
    res: 'postgresql/capitalize/equal-or-like/load-response.json',
    setup: [T_COUNTRY_CAPITAL, `INSERT INTO "Country"("Id","Name","DescriptionCountry") VALUES
  ('1','Uruguay','It is a nice country'), ('2','England','It is a beautiful country')`] },
  { id: 'postgresql/capitalize/save/create', kind: 'save', req: 'postgresql/capitalize/save/create/create-request.json',
    res: 'postgresql/capitalize/save/create/create-response.json', setup: [T_COUNTRY_CAPITAL] },
  { id: 'postgresql/capitalize/save/update', kind: 'save', req: 'postgresql/capitalize/save/update/update-request.json',
    res: 'postgresql/capitalize/save/update/update-response.json',
    setup: [T_COUNTRY_CAPITAL, `INSERT INTO "Country"("Id","Name","DescriptionCountry") VALUES ('1','Uruguay','It is a nice country')`] },
  { id: 'postgresql/dates/load', kind: 'load', req: 'postgresql/dates/load/request-dates.json',
    res: 'postgresql/dates/load/response-dates.json',
    setup: [T_TIMETEST_LOAD, `INSERT INTO "timetest" VALUES
  ('1', '2012-05-24 14:09:08 +02:00', '2013-06-25 15:10:09 +02:00',
        '2014-07-26 14:00:00 +02:00', '2014-07-26 14:00:00')`] },
  { id: 'postgresql/dates/save', kind: 'save', req: 'postgresql/dates/save/request-dates.json',
    res: 'postgresql/dates/save/response-dates.json',
    setup: [T_TIMETEST_SAVE, `INSERT INTO "timetest" VALUES
  ('1', '2012-05-24 14:09:08 +02:00', '2013-06-25 15:10:09 +02:00',
        '2014-07-26 14:00:00 +02:00', '2014-07-26 14:00:00', '2020-01-01')`] },
  { id: 'postgresql/dates/isnull', kind: 'load', req: 'postgresql/dates/isnull/request-dates.json',
    res: 'postgresql/dates/isnull/response-dates.json',
    setup: [`CREATE TABLE "country" (id int NOT NULL, uuid1 uuid NULL, created_at timestamp NULL,
  CONSTRAINT country_id_pk PRIMARY KEY (id))`,
    `INSERT INTO "country"(id, uuid1) VALUES ('1', '123e4567-e89b-12d3-a456-426655440000')`] },
  { id: 'postgresql/describe/with-types/metadata1', kind: 'describe',
    req: 'postgresql/describe/with-types/metadata1-request.json',
    res: 'postgresql/describe/with-types/metadata1-response.json',
    setup: [`CREATE TABLE "country2"(id integer NOT NULL, name character varying(255), description character varying(1024),
  available BOOLEAN, CONSTRAINT country_id_pk PRIMARY KEY (id))`] },
  { id: 'postgresql/describe/with-types/metadata-empty-table', kind: 'describe',
    req: 'postgresql/describe/with-types/metadata-empty-table-request.json',
    res: 'postgresql/describe/with-types/metadata-empty-table-response.json',
    setup: [`CREATE TABLE "emptytable"(id integer PRIMARY KEY)`, `ALTER TABLE "emptytable" DROP COLUMN id`,
      `CREATE TABLE "notemptytable"(id integer PRIMARY KEY, data text)`],
    // SQLite cannot drop a primary-key column (README §7): a table whose only column is
    // unsupported tests the same rule.
    sqlite: [`CREATE TABLE "emptytable"(t time)`, `CREATE TABLE "notemptytable"(id integer PRIMARY KEY, data text)`] },
  ...['char', 'varchar', 'text', 'xxxx', 'noresults', 'allresults'].map((n) => ({
    id: `postgresql/search/${n}`, kind: 'load', req: `postgresql/search/${n}-request.json`,
    res: `postgresql/search/${n}-response.json`, setup: [T_SEARCH, SEED_SEARCH],
  })),
  { id: 'postgresql/uuid/load', kind: 'load', req: 'postgresql/uuid/load/request-load.json',
    res: 'postgresql/uuid/load/response-load.json', setup: [T_UUID, SEED_UUID] },
  { id: 'postgresql/uuid/save/create', kind: 'save', req: 'postgresql/uuid/save/create/create-request.json',
    res: 'postgresql/uuid/save/create/create-response.json', setup: [T_UUID] },
  { id: 'postgresql/uuid/save/update', kind: 'save', req: 'postgresql/uuid/save/update/update-request.json',
    res: 'postgresql/uuid/save/update/update-response.json', setup: [T_UUID, SEED_UUID] },
  { id: 'mysql/load-bool-int', kind: 'load', req: 'mysql/load-bool-int/load-request.json',
    res: 'mysql/load-bool-int/load-response.json',
    setup: [T_COUNTRY_BIG, `INSERT INTO "country" VALUES (1, true), (2, false)`] },
];

// ---- SQLite translation (README §7) ----

/** PostgreSQL setup statements → SQLite: SERIAL → INTEGER (a rowid alias), numeric(p,s) → a
 *  text-affinity decimal, column comments moved into the CREATE TABLE text as SQL comments. */
export function toSqlite(statements) {
  const out = [];
  const comments = [];
  for (const s of statements) {
    const m = s.match(/^\s*COMMENT ON COLUMN\s+"?([^".\s]+)"?\.\s*"?([^"\s]+)"?\s+IS\s+'(.*)'\s*;?\s*$/is);
    if (m) {
      comments.push({ table: m[1], column: m[2], text: m[3].replace(/''/g, "'") });
      continue;
    }
    if (/^\s*COMMENT ON TABLE/i.test(s)) continue;
    out.push(s.replace(/\bSERIAL\b/g, 'INTEGER').replace(/\bnumeric\((\d+),\s*(\d+)\)/gi, 'DECIMAL_TEXT($1,$2)'));
  }
  for (const c of comments) {
    const i = out.findIndex((s) => new RegExp(`^\\s*CREATE TABLE\\s+"?${c.table}"?\\s*\\(`, 'i').test(s));
    if (i < 0) throw new Error(`no CREATE TABLE for the comment on ${c.table}.${c.column}`);
    const lines = out[i].split('\n');
    const j = lines.findIndex((l) => new RegExp(`^\\s*"?${c.column}"?\\s`).test(l));
    if (j < 0) throw new Error(`no line for column ${c.column} in ${out[i]}`);
    lines[j] = lines[j].replace(/(,?)\s*$/, ` /* ${c.text.replace(/\*\//g, '')} */$1`);
    out[i] = lines.join('\n');
  }
  return out;
}

// ---- lenient comparison (README §2.4) ----

/** Returns null when `a` matches `e` leniently, else a description of the first difference. */
export function lenient(e, a, where = '') {
  if (e === null) return a === null ? null : `${where || '/'}: expected null, got ${JSON.stringify(a)}`;
  if (Array.isArray(e)) {
    if (!Array.isArray(a)) return `${where || '/'}: expected an array, got ${JSON.stringify(a)}`;
    if (a.length !== e.length) return `${where || '/'}: expected ${e.length} elements, got ${a.length}`;
    // Every expected element must match a different actual element (bipartite matching).
    const ok = e.map((ev) => a.map((av) => lenient(ev, av) === null));
    const owner = new Array(a.length).fill(-1);
    const tryAssign = (i, seen) => {
      for (let j = 0; j < a.length; j++) {
        if (!ok[i][j] || seen[j]) continue;
        seen[j] = true;
        if (owner[j] < 0 || tryAssign(owner[j], seen)) {
          owner[j] = i;
          return true;
        }
      }
      return false;
    };
    for (let i = 0; i < e.length; i++) {
      if (!tryAssign(i, new Array(a.length).fill(false))) {
        // Explain with the closest candidate at the same index.
        const detail = lenient(e[i], a[i] ?? null, `${where}/${i}`);
        return `${where || '/'}: no match for expected element ${i} ${JSON.stringify(e[i]).slice(0, 300)}` +
          (detail ? ` (e.g. ${detail})` : '');
      }
    }
    return null;
  }
  if (typeof e === 'object') {
    if (a === null || typeof a !== 'object' || Array.isArray(a)) return `${where || '/'}: expected an object, got ${JSON.stringify(a)}`;
    for (const k of Object.keys(e)) {
      if (!(k in a)) return `${where}/${k}: missing`;
      const d = lenient(e[k], a[k], `${where}/${k}`);
      if (d) return d;
    }
    return null;
  }
  if (typeof e === 'number') return typeof a === 'number' && a === e ? null : `${where}: expected ${e}, got ${JSON.stringify(a)}`;
  return a === e ? null : `${where}: expected ${JSON.stringify(e)}, got ${JSON.stringify(a)}`;
}

// ---- helpers ----

const tmpDirs = [];
function tempDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(d, 0o755); // the PostgreSQL server may run as another user
  tmpDirs.push(d);
  return d;
}

function todayIn(tz) {
  const p = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' })
    .formatToParts(new Date()).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day}T00:00:00Z`;
}

function substitute(text, values) {
  let out = text;
  for (const [k, v] of Object.entries(values)) out = out.split(`{{${k}}}`).join(v);
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function pgAvailable() {
  if (!have('psql')) return false;
  if (process.env.PG_BIN) return fs.existsSync(path.join(process.env.PG_BIN, 'pg_ctl'));
  try {
    for (const v of fs.readdirSync('/usr/lib/postgresql')) {
      if (fs.existsSync(`/usr/lib/postgresql/${v}/bin/pg_ctl`)) return true;
    }
  } catch { /* none */ }
  return have('pg_ctl');
}

/** A `sluice serve` over a components folder with one database connection. */
class Server {
  constructor(database) {
    this.database = database;
  }

  async start() {
    const base = tempDir('sluice-sql-');
    this.data = path.join(base, 'data');
    const comps = path.join(base, 'components');
    fs.mkdirSync(comps, { recursive: true });
    fs.writeFileSync(path.join(comps, 'db.json'),
      JSON.stringify({ component: 'connection', name: 'db', type: 'database', database: this.database }, null, 2));
    fs.writeFileSync(path.join(comps, 'sql.json'),
      JSON.stringify({ component: 'flowservice', name: 'SQL', externalName: 'sql', databases: [{ connection: 'db' }] }, null, 2));
    const env = { ...process.env, TZ };
    this.token = execFileSync(BIN, ['user', 'add', 'u', '--data', this.data], { env, encoding: 'utf8' }).trim();
    // Through a small shell that stops the server when our end of its stdin closes, so an
    // interrupted run (even a killed one) leaves no server behind. Its exit status is the server's.
    const watchdog = 'exec 3<&0; "$0" "$@" </dev/null & p=$!; { read -r _ <&3; kill -TERM $p 2>/dev/null; } & wait $p';
    this.child = spawn('sh', ['-c', watchdog, BIN, 'serve', '--listen', '127.0.0.1:0', '--data', this.data, '--deploy', comps],
      { env, stdio: ['pipe', 'ignore', 'pipe'] });
    servers.add(this.child);
    this.child.once('exit', () => servers.delete(this.child));
    this.stderr = '';
    this.port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sluice did not start:\n${this.stderr}`)), 20000);
      this.child.stderr.setEncoding('utf8');
      this.child.stderr.on('data', (d) => {
        this.stderr += d;
        if (this.stderr.length > 200000) this.stderr = this.stderr.slice(-100000);
        for (const line of d.split('\n')) {
          try {
            const j = JSON.parse(line);
            if (j.msg === 'listening' && j.port) {
              clearTimeout(timer);
              resolve(j.port);
            }
          } catch { /* not JSON */ }
        }
      });
      this.child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sluice exited (${code}):\n${this.stderr}`));
      });
    });
    this.child.removeAllListeners('exit');
  }

  async call(method, route, body) {
    const r = await fetch(`http://127.0.0.1:${this.port}/fs/sql/${route}`, {
      method,
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Basic ${Buffer.from(`u:${this.token}`).toString('base64')}`,
      },
      body,
    });
    const text = await r.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: r.status, text, json };
  }

  /** Stops the server; resolves its exit code (null when it was not running). */
  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return null;
    const done = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.stdin.end(); // the watchdog sends SIGTERM
    const t = setTimeout(() => this.child.kill('SIGKILL'), 20000);
    const code = await done;
    clearTimeout(t);
    return code;
  }
}

function runOrThrow(cmd, args, input) {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', env: { ...process.env, TZ } });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr}\n--- input ---\n${input}`);
  return r.stdout;
}

const sqliteDb = {
  name: 'SQLite',
  available: () => have('sqlite3'),
  async start() {
    this.file = path.join(tempDir('sluice-sqlite-'), 'sql.db');
    fs.writeFileSync(this.file, '');
    this.values = { host: '127.0.0.1', port: '0', databaseType: 'sqlite', databaseName: 'main', schema: 'main',
      userName: 'sluice', password: '' };
    this.server = new Server({ kind: 'sqlite', path: this.file });
  },
  async stop() {},
  clean() {
    const rows = runOrThrow('sqlite3', ['-noheader', '-list', this.file,
      "SELECT type || '|' || name FROM sqlite_master WHERE type IN ('table','view') AND name NOT LIKE 'sqlite_%'"], '');
    const drops = rows.split('\n').filter(Boolean).map((l) => {
      const [type, ...name] = l.split('|');
      return { type, name: name.join('|') };
    }).sort((a, b) => (a.type === 'view' ? -1 : 1) - (b.type === 'view' ? -1 : 1))
      .map((o) => `DROP ${o.type.toUpperCase()} IF EXISTS "${o.name.replace(/"/g, '""')}";`);
    if (drops.length) runOrThrow('sqlite3', ['-bail', this.file], drops.join('\n'));
  },
  setup(c) {
    const stmts = c.sqlite ?? toSqlite(c.setup);
    runOrThrow('sqlite3', ['-bail', this.file], stmts.map((s) => `${s};`).join('\n'));
  },
  query(sql) {
    return runOrThrow('sqlite3', ['-noheader', '-list', this.file, sql], '').trim();
  },
};

const pgDb = {
  name: 'PostgreSQL',
  available: pgAvailable,
  async start() {
    this.dir = path.join(tempDir('sluice-pg-'), 'pg');
    this.port = String(process.env.SLUICE_PG_PORT || await freePort());
    pgDirToStop = this.dir;
    runOrThrow(PG_SCRIPT, ['start', this.dir, this.port], '');
    this.values = { host: '127.0.0.1', port: this.port, databaseType: 'postgresql', databaseName: 'sluice_test',
      schema: 'public', userName: 'postgres', password: '' };
    this.server = new Server({ kind: 'postgresql', host: '127.0.0.1', port: this.port, user: 'postgres', password: '',
      database: 'sluice_test', schema: 'public', noSsl: true });
  },
  async stop() {
    if (this.dir) spawnSync(PG_SCRIPT, ['stop', this.dir], { stdio: 'ignore' });
    pgDirToStop = null;
  },
  psql(input, extra = []) {
    return runOrThrow('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', this.port, '-U', 'postgres',
      '-d', 'sluice_test', ...extra], input);
  },
  clean() {
    this.psql('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;');
  },
  setup(c) {
    this.psql(c.setup.map((s) => `${s};`).join('\n'));
  },
  query(sql) {
    return this.psql(sql, ['-tA']).trim();
  },
};

const ROUTES = { describe: ['POST', 'metadata'], load: ['POST', 'data'], save: ['PUT', 'data'], delete: ['POST', 'data/delete'] };

async function runCase(t, db, c) {
  const skip = c.skip?.all ?? (db === sqliteDb ? c.skip?.sqlite : c.skip?.postgresql);
  if (skip) {
    t.skip(skip);
    return;
  }
  db.clean();
  db.setup(c);
  const values = { ...db.values, 'sql-today': todayIn(TZ) };
  let body = substitute(fs.readFileSync(path.join(FIXTURES, c.req), 'utf8'), values);
  if (c.reserialize) body = JSON.stringify(JSON.parse(body));
  const [method, route] = ROUTES[c.kind];
  const r = await db.server.call(method, route, body);
  if (c.error) {
    if (r.status >= 200 && r.status < 300) throw new Error(`expected an error, got ${r.status}: ${r.text.slice(0, 500)}`);
    return;
  }
  if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 1000)}`);
  if (c.countOnly !== undefined) {
    const n = r.json?.objectData?.length;
    if (n !== c.countOnly) throw new Error(`expected ${c.countOnly} objects, got ${n}: ${r.text.slice(0, 1000)}`);
  } else {
    let expectedText = fs.readFileSync(path.join(FIXTURES, c.res), 'utf8');
    if (c.kind === 'save') expectedText = substitute(expectedText, values);
    const expected = JSON.parse(expectedText);
    let diff;
    if (c.kind === 'describe') {
      diff = lenient(expected.install.typeElements, r.json?.install?.typeElements ?? null, '/install/typeElements');
    } else {
      diff = lenient(expected, r.json);
    }
    if (diff) throw new Error(`${diff}\n--- actual ---\n${r.text.slice(0, 4000)}`);
    if (c.ordered) {
      const want = expected.objectData.map((o) => o.externalId);
      const got = r.json.objectData.map((o) => o.externalId);
      if (JSON.stringify(want) !== JSON.stringify(got)) throw new Error(`row order: want ${want}, got ${got}`);
    }
  }
  if (c.post) {
    const got = db.query(c.post.sql);
    if (got !== c.post.want) throw new Error(`post-condition ${c.post.sql}: want ${c.post.want}, got ${got}`);
  }
}

// Never leave a server behind, even when the run is interrupted.
const servers = new Set();
let pgDirToStop = null;
process.on('exit', () => {
  for (const child of servers) {
    try { child.kill('SIGKILL'); } catch { /* gone */ }
  }
  if (pgDirToStop) spawnSync(PG_SCRIPT, ['stop', pgDirToStop], { stdio: 'ignore' });
  if (process.env.SLUICE_KEEP_TMP) return;
  for (const d of tmpDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
  }
});

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.once(sig, () => process.exit(130));

if (!HAVE_FIXTURES) {
  test('service-sql conformance', (t) => t.skip(`fixtures not found at ${FIXTURES}`));
} else {
  for (const db of [sqliteDb, pgDb]) {
    const missing = !db.available() ? `${db.name} tools are not installed` : !fs.existsSync(BIN) ? `no sluice binary at ${BIN}` : null;
    describe(`service-sql on ${db.name}`, { concurrency: 1 }, () => {
      if (missing) {
        test('all cases', (t) => t.skip(missing));
        return;
      }
      before(async () => {
        await db.start();
        await db.server.start();
      });
      after(async () => {
        await db.server?.stop();
        await db.stop();
      });
      for (const c of CASES) {
        test(c.id, async (t) => {
          try {
            await runCase(t, db, c);
          } catch (e) {
            const log = db.server?.stderr ? `\n--- server log (tail) ---\n${db.server.stderr.slice(-2000)}` : '';
            e.message += log;
            throw e;
          }
        });
      }
      // Last: the server stops cleanly, with no sanitizer report (when built with ASan/UBSan).
      test('server stops cleanly', async () => {
        const code = await db.server.stop();
        const report = db.server.stderr.match(/(AddressSanitizer|LeakSanitizer|runtime error:).*/);
        if (report) throw new Error(`sanitizer report in the server log:\n${db.server.stderr.slice(-4000)}`);
        if (code !== 0) throw new Error(`sluice exited with ${code}:\n${db.server.stderr.slice(-2000)}`);
      });
    });
  }
}
