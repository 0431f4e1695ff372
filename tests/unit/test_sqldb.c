/* Unit tests for core/sqldb on real SQLite files in a temporary folder: configuration parsing
 * (with problem pointers), quoting and placeholders, statements with bound text parameters and
 * their text results, transactions, introspection (types, key positions, rowid aliases,
 * composite keys, views, broken views, column comments from CREATE TABLE), error classes and
 * the connection pool under several threads. PostgreSQL is covered by the conformance suite. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sqldb.h"

static char tmpdir[256];
static char dbpath[300];

static jv *J(const char *text)
{
    sl_error err = {0};
    jv *v = jv_parse(text, strlen(text), &err);
    if (!v)
        fail_msg("bad JSON in test: %s: %s", err.msg, text);
    return v;
}

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-sqldb-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/test.db", tmpdir);
    FILE *f = fopen(dbpath, "w"); /* an empty file is an empty SQLite database */
    assert_non_null(f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

static sqldb *open_db(void)
{
    sqldb_config c = {.kind = SQLDB_SQLITE, .path = dbpath};
    sqldb *db = NULL;
    sl_error err = {0};
    if (sqldb_open(&c, &db, &err) != 0)
        fail_msg("open: %s", err.msg);
    return db;
}

static void exec(sqldb *db, const char *sql)
{
    sl_error err = {0};
    if (sqldb_query(db, sql, NULL, NULL, NULL, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
}

/* ---- configuration ---- */

static void test_config_sqlite(void **state)
{
    sl_problems p;
    problems_init(&p);
    sqldb_config c;
    jv *v = J("{\"kind\":\"sqlite\",\"path\":\"db/customers.db\"}");
    assert_int_equal(sqldb_config_parse(v, "/data", "c.json", "/database", &c, &p), 0);
    assert_int_equal(c.kind, SQLDB_SQLITE);
    assert_string_equal(c.path, "/data/db/customers.db");
    assert_string_equal(c.schema, "main");
    assert_int_equal(c.timeout_ms, 30000);
    char desc[200];
    sqldb_config_describe(&c, desc, sizeof desc);
    assert_string_equal(desc, "sqlite /data/db/customers.db");
    sqldb_config copy;
    sqldb_config_copy(&c, &copy);
    assert_string_equal(copy.path, c.path);
    assert_ptr_not_equal(copy.path, c.path);
    sqldb_config_free(&copy);
    sqldb_config_free(&c);
    jv_free(v);

    v = J("{\"kind\":\"sqlite\",\"path\":\"/abs.db\",\"timeoutMs\":500}");
    assert_int_equal(sqldb_config_parse(v, "/data", "c.json", "/database", &c, &p), 0);
    assert_string_equal(c.path, "/abs.db");
    assert_int_equal(c.timeout_ms, 500);
    sqldb_config_free(&c);
    jv_free(v);
    assert_int_equal(p.n, 0);
    problems_free(&p);
}

static void test_config_postgres(void **state)
{
    sl_problems p;
    problems_init(&p);
    sqldb_config c;
    jv *v = J("{\"kind\":\"postgresql\",\"host\":\"127.0.0.1\",\"port\":\"55432\",\"user\":\"postgres\","
              "\"password\":\"secret\",\"database\":\"sluice_test\",\"noSsl\":true}");
    assert_int_equal(sqldb_config_parse(v, "/data", "c.json", "/database", &c, &p), 0);
    assert_int_equal(c.kind, SQLDB_POSTGRES);
    assert_string_equal(c.host, "127.0.0.1");
    assert_string_equal(c.port, "55432");
    assert_string_equal(c.dbname, "sluice_test");
    assert_string_equal(c.schema, "public");
    assert_true(c.no_ssl);
    char desc[200];
    sqldb_config_describe(&c, desc, sizeof desc);
    assert_null(strstr(desc, "secret"));
    assert_non_null(strstr(desc, "postgres@127.0.0.1:55432/sluice_test"));
    sqldb_config_free(&c);
    jv_free(v);

    v = J("{\"kind\":\"postgresql\",\"host\":\"db\",\"port\":5433,\"database\":\"x\",\"schema\":\"sales\"}");
    assert_int_equal(sqldb_config_parse(v, NULL, "c.json", "/database", &c, &p), 0);
    assert_string_equal(c.port, "5433");
    assert_string_equal(c.schema, "sales");
    assert_false(c.no_ssl);
    sqldb_config_free(&c);
    jv_free(v);
    assert_int_equal(p.n, 0);
    problems_free(&p);
}

static bool has_problem(const sl_problems *p, const char *pointer, const char *text)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->items[i].pointer, pointer) == 0 && strstr(p->items[i].message, text))
            return true;
    return false;
}

static void test_config_problems(void **state)
{
    sl_problems p;
    problems_init(&p);
    sqldb_config c;
    jv *v = J("{\"kind\":\"oracle\"}");
    assert_int_equal(sqldb_config_parse(v, NULL, "c.json", "/database", &c, &p), SL_EINVAL);
    assert_true(has_problem(&p, "/database/kind", "sqlite"));
    jv_free(v);

    v = J("{\"kind\":\"sqlite\",\"pth\":\"x\"}");
    assert_int_equal(sqldb_config_parse(v, NULL, "c.json", "/database", &c, &p), SL_EINVAL);
    assert_true(has_problem(&p, "/database/pth", "unknown member"));
    assert_true(has_problem(&p, "/database/path", "required"));
    jv_free(v);

    v = J("{\"kind\":\"postgresql\",\"port\":\"http\",\"noSsl\":\"yes\",\"host\":5}");
    assert_int_equal(sqldb_config_parse(v, NULL, "c.json", "/database", &c, &p), SL_EINVAL);
    assert_true(has_problem(&p, "/database/port", "port"));
    assert_true(has_problem(&p, "/database/noSsl", "true or false"));
    assert_true(has_problem(&p, "/database/host", "string"));
    assert_true(has_problem(&p, "/database/database", "required"));
    jv_free(v);

    v = J("[1]");
    assert_int_equal(sqldb_config_parse(v, NULL, "c.json", "/database", &c, &p), SL_EINVAL);
    assert_true(has_problem(&p, "/database", "must be an object"));
    jv_free(v);
    v = J("{\"kind\":\"sqlite\",\"path\":\"a\",\"timeoutMs\":0}");
    assert_int_equal(sqldb_config_parse(v, NULL, "c.json", "/database", &c, &p), SL_EINVAL);
    assert_true(has_problem(&p, "/database/timeoutMs", "timeoutMs"));
    jv_free(v);
    problems_free(&p);
}

/* ---- basics ---- */

static void test_quote_and_placeholder(void **state)
{
    buf b;
    buf_init(&b, 100);
    assert_int_equal(sqldb_quote_ident(&b, "a\"b c"), 0);
    assert_string_equal(b.data, "\"a\"\"b c\"");
    buf_reset(&b);
    sqldb_quote_ident(&b, "");
    assert_string_equal(b.data, "\"\"");
    buf_free(&b);
    buf small;
    buf_init(&small, 4);
    assert_int_equal(sqldb_quote_ident(&small, "abcdef"), SL_ETOOBIG);
    buf_free(&small);

    sqldb *db = open_db();
    char ph[16];
    sqldb_placeholder(db, 3, ph);
    assert_string_equal(ph, "?3");
    assert_int_equal(sqldb_kind_of(db), SQLDB_SQLITE);
    assert_string_equal(sqldb_schema(db), "main");
    assert_false(sqldb_broken(db));
    sqldb_close(db);
}

static void test_open_missing(void **state)
{
    char path[400];
    snprintf(path, sizeof path, "%s/nope/missing.db", tmpdir);
    sqldb_config c = {.kind = SQLDB_SQLITE, .path = path};
    sqldb *db = NULL;
    sl_error err = {0};
    assert_int_equal(sqldb_open(&c, &db, &err), SL_EIO);
    assert_null(db);
    assert_non_null(strstr(err.msg, "cannot open"));
}

static void test_query_text_values(void **state)
{
    sqldb *db = open_db();
    exec(db, "CREATE TABLE v(i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC)");
    sl_error err = {0};
    int64_t changes = -1;
    jv *params = J("[\"42\", \"0.999999999\", \"it's 'quoted' %_\", null, \"12233.2\"]");
    assert_int_equal(sqldb_query(db, "INSERT INTO v VALUES (?1, ?2, ?3, x'00ff', ?5)", params, NULL, &changes, &err),
                     0);
    assert_int_equal(changes, 1);
    jv_free(params);
    jv *rows = NULL;
    assert_int_equal(sqldb_query(db, "SELECT i, r, t, b, n, NULL AS z FROM v", NULL, &rows, &changes, &err), 0);
    assert_int_equal(changes, 0);
    assert_int_equal(jv_len(rows), 1);
    const jv *r = jv_at(rows, 0);
    assert_string_equal(jv_get_str(r, "i"), "42");
    assert_string_equal(jv_get_str(r, "r"), "0.999999999");
    assert_string_equal(jv_get_str(r, "t"), "it's 'quoted' %_");
    assert_string_equal(jv_get_str(r, "b"), "AP8=");
    assert_string_equal(jv_get_str(r, "n"), "12233.2");
    assert_true(jv_is_null(jv_get(r, "z")));
    jv_free(rows);

    /* Integers in params bind as integers (LIMIT), strings compare through column affinity. */
    params = J("[\"42\", 1]");
    assert_int_equal(sqldb_query(db, "SELECT t FROM v WHERE i = ?1 LIMIT ?2", params, &rows, NULL, &err), 0);
    assert_int_equal(jv_len(rows), 1);
    jv_free(rows);
    jv_free(params);

    /* Invalid UTF-8 text comes back with U+FFFD. */
    exec(db, "INSERT INTO v(t) VALUES (CAST(x'61ff62' AS TEXT))");
    assert_int_equal(sqldb_query(db, "SELECT t FROM v WHERE i IS NULL", NULL, &rows, NULL, &err), 0);
    assert_string_equal(jv_get_str(jv_at(rows, 0), "t"), "a\xEF\xBF\xBD" "b");
    jv_free(rows);

    /* Errors carry SQLite's message and a class. */
    assert_int_equal(sqldb_query(db, "SELECT nope FROM v", NULL, &rows, NULL, &err), SL_EIO);
    assert_non_null(strstr(err.msg, "no such column"));
    assert_int_equal(sqldb_last_error(db), SQLDB_ERR_OTHER);
    assert_null(rows);
    assert_int_equal(sqldb_query(db, "SELECT 1; SELECT 2", NULL, NULL, NULL, &err), SL_EINVAL);
    params = J("{}");
    assert_int_equal(sqldb_query(db, "SELECT 1", params, NULL, NULL, &err), SL_EINVAL);
    jv_free(params);
    exec(db, "CREATE TABLE u(k TEXT PRIMARY KEY)");
    exec(db, "INSERT INTO u VALUES ('a')");
    assert_int_equal(sqldb_query(db, "INSERT INTO u VALUES ('a')", NULL, NULL, NULL, &err), SL_EIO);
    assert_int_equal(sqldb_last_error(db), SQLDB_ERR_CONSTRAINT);
    sqldb_close(db);
}

static void test_transactions(void **state)
{
    sqldb *db = open_db();
    exec(db, "CREATE TABLE t(x INTEGER)");
    sl_error err = {0};
    assert_int_equal(sqldb_begin(db, &err), 0);
    exec(db, "INSERT INTO t VALUES (1)");
    sqldb_rollback(db);
    jv *rows = NULL;
    assert_int_equal(sqldb_query(db, "SELECT count(*) AS n FROM t", NULL, &rows, NULL, &err), 0);
    assert_string_equal(jv_get_str(jv_at(rows, 0), "n"), "0");
    jv_free(rows);
    assert_int_equal(sqldb_begin(db, &err), 0);
    exec(db, "INSERT INTO t VALUES (1)");
    assert_int_equal(sqldb_commit(db, &err), 0);
    assert_int_equal(sqldb_query(db, "SELECT count(*) AS n FROM t", NULL, &rows, NULL, &err), 0);
    assert_string_equal(jv_get_str(jv_at(rows, 0), "n"), "1");
    jv_free(rows);
    sqldb_rollback(db); /* no transaction: harmless */
    sqldb_close(db);
}

/* ---- introspection ---- */

static const jv *find(const jv *arr, const char *name)
{
    for (size_t i = 0; i < jv_len(arr); i++)
        if (str_eq(jv_get_str(jv_at(arr, i), "name"), name))
            return jv_at(arr, i);
    return NULL;
}

static void test_tables(void **state)
{
    sqldb *db = open_db();
    exec(db, "CREATE TABLE \"country\" (\n"
             "  id          integer NOT NULL, -- {{ManyWhoName:The Id}}\n"
             "  name        character varying(255) /* {{ManyWhoName:The Name}} */,\n"
             "  \"desc, ription\" character varying(1024) NULL,\n"
             "  CONSTRAINT country_id_pk PRIMARY KEY (id) -- not a column\n"
             ")");
    exec(db, "CREATE TABLE city (cityname varchar(255), countryname varchar(255), description text,\n"
             "  CONSTRAINT city_pk PRIMARY KEY (countryname, cityname))");
    exec(db, "CREATE TABLE big (id bigint PRIMARY KEY, at timestamp with time zone, t time)");
    exec(db, "CREATE TABLE gone (id integer PRIMARY KEY)");
    exec(db, "CREATE VIEW broken AS SELECT * FROM gone");
    exec(db, "DROP TABLE gone");
    exec(db, "CREATE VIEW cities AS SELECT cityname, description FROM city");
    sl_error err = {0};
    jv *tables = NULL;
    assert_int_equal(sqldb_tables(db, &tables, &err), 0);
    assert_int_equal(jv_len(tables), 4); /* big, cities, city, country; not the broken view */
    assert_string_equal(jv_get_str(jv_at(tables, 0), "name"), "big");
    assert_string_equal(jv_get_str(jv_at(tables, 1), "name"), "cities");
    assert_null(find(tables, "broken"));

    const jv *country = find(tables, "country");
    const jv *cols = jv_get(country, "columns");
    assert_int_equal(jv_len(cols), 3);
    const jv *id = jv_at(cols, 0);
    assert_string_equal(jv_get_str(id, "name"), "id");
    assert_string_equal(jv_get_str(id, "type"), "integer");
    assert_int_equal(jv_int(jv_get(id, "pk")), 1);
    assert_true(jv_bool(jv_get(id, "autoincrement"))); /* a rowid alias */
    assert_false(jv_bool(jv_get(id, "nullable")));
    assert_non_null(strstr(jv_get_str(id, "comment"), "{{ManyWhoName:The Id}}"));
    const jv *name = jv_at(cols, 1);
    assert_string_equal(jv_get_str(name, "type"), "character varying(255)");
    assert_non_null(strstr(jv_get_str(name, "comment"), "{{ManyWhoName:The Name}}"));
    assert_true(jv_bool(jv_get(name, "nullable")));
    const jv *d = jv_at(cols, 2);
    assert_string_equal(jv_get_str(d, "name"), "desc, ription");
    assert_null(jv_get(d, "comment"));
    assert_false(jv_bool(jv_get(country, "view")));

    const jv *city = jv_get(find(tables, "city"), "columns");
    assert_int_equal(jv_int(jv_get(jv_at(city, 0), "pk")), 2);
    assert_int_equal(jv_int(jv_get(jv_at(city, 1), "pk")), 1);
    assert_int_equal(jv_int(jv_get(jv_at(city, 2), "pk")), 0);
    assert_false(jv_bool(jv_get(jv_at(city, 0), "autoincrement")));

    const jv *big = jv_get(find(tables, "big"), "columns");
    assert_false(jv_bool(jv_get(jv_at(big, 0), "autoincrement"))); /* bigint is not a rowid alias */
    assert_string_equal(jv_get_str(jv_at(big, 1), "type"), "timestamp with time zone");

    const jv *view = find(tables, "cities");
    assert_true(jv_bool(jv_get(view, "view")));
    assert_int_equal(jv_len(jv_get(view, "columns")), 2);
    jv_free(tables);

    jv *one = NULL;
    assert_int_equal(sqldb_table(db, "city", &one, &err), 0);
    assert_string_equal(jv_get_str(one, "name"), "city");
    jv_free(one);
    assert_int_equal(sqldb_table(db, "nope", &one, &err), SL_ENOTFOUND);
    assert_null(one);
    assert_int_equal(sqldb_table(db, "broken", &one, &err), SL_ENOTFOUND);
    sqldb_close(db);
}

/* ---- pool ---- */

static sqldb_pool *shared_pool;

static void *pool_worker(void *arg)
{
    for (int i = 0; i < 20; i++) {
        sqldb *db = NULL;
        sl_error err = {0};
        if (sqldb_pool_get(shared_pool, &db, &err) != 0)
            return (void *)1;
        jv *rows = NULL;
        int rc = sqldb_query(db, "SELECT 1 AS one", NULL, &rows, NULL, &err);
        jv_free(rows);
        sqldb_pool_put(shared_pool, db, i % 7 == 3); /* sometimes report it broken */
        if (rc)
            return (void *)1;
    }
    return NULL;
}

static void test_pool(void **state)
{
    sqldb_config c = {.kind = SQLDB_SQLITE, .path = dbpath, .timeout_ms = 5000};
    shared_pool = sqldb_pool_new(&c, 2);
    pthread_t th[6];
    for (int i = 0; i < 6; i++)
        assert_int_equal(pthread_create(&th[i], NULL, pool_worker, NULL), 0);
    for (int i = 0; i < 6; i++) {
        void *ret;
        pthread_join(th[i], &ret);
        assert_null(ret);
    }
    /* All connections out: the next get times out. */
    sqldb_pool_free(shared_pool);
    c.timeout_ms = 50;
    shared_pool = sqldb_pool_new(&c, 1);
    sqldb *a = NULL, *b = NULL;
    sl_error err = {0};
    assert_int_equal(sqldb_pool_get(shared_pool, &a, &err), 0);
    assert_int_equal(sqldb_pool_get(shared_pool, &b, &err), SL_ETIMEOUT);
    sqldb_pool_put(shared_pool, a, false);
    assert_int_equal(sqldb_pool_get(shared_pool, &b, &err), 0);
    assert_ptr_equal(a, b);
    sqldb_pool_put(shared_pool, b, false);
    sqldb_pool_free(shared_pool);

    /* A pool for a file that does not exist reports the open error. */
    char path[400];
    snprintf(path, sizeof path, "%s/missing.db", tmpdir);
    sqldb_config bad = {.kind = SQLDB_SQLITE, .path = path};
    shared_pool = sqldb_pool_new(&bad, 1);
    assert_int_equal(sqldb_pool_get(shared_pool, &a, &err), SL_EIO);
    assert_int_equal(sqldb_pool_get(shared_pool, &a, &err), SL_EIO); /* the slot was given back */
    sqldb_pool_free(shared_pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config_sqlite),
        cmocka_unit_test(test_config_postgres),
        cmocka_unit_test(test_config_problems),
        cmocka_unit_test_setup_teardown(test_quote_and_placeholder, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_text_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transactions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
