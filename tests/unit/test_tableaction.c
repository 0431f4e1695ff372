/* Unit tests for atom/tableaction: externalId encoding (README §2.5 examples, Java HashMap member
 * order), the list filter → SQL translation for both dialects (every criteria type, nested
 * groups, search, order, paging, errors), and describe/load/save/delete against real SQLite
 * files in a temporary folder: escaping of quotes and LIKE wildcards, paging and
 * hasMoreResults, composite keys, aliases from column comments, auto-increment keys, dates and
 * times under TZ=Europe/London. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "atom/tableaction.h"

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
    setenv("TZ", "Europe/London", 1);
    tzset();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-table-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(dbpath, sizeof dbpath, "%s/test.db", tmpdir);
    FILE *f = fopen(dbpath, "w");
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

static void exec(const char *sql)
{
    sqldb_config c = {.kind = SQLDB_SQLITE, .path = dbpath};
    sqldb *db = NULL;
    sl_error err = {0};
    if (sqldb_open(&c, &db, &err) != 0)
        fail_msg("open: %s", err.msg);
    if (sqldb_query(db, sql, NULL, NULL, NULL, &err) != 0)
        fail_msg("%s: %s", sql, err.msg);
    sqldb_close(db);
}

static table_source *source(int64_t max_rows)
{
    sqldb_config c = {.kind = SQLDB_SQLITE, .path = dbpath};
    return table_source_new(&c, NULL, 0, max_rows);
}

static char *b64(const char *s)
{
    return base64_encode(s, strlen(s));
}

/* contentValue of property `name` of object o (NULL when null); fails when absent. */
static const char *prop(const jv *o, const char *name)
{
    const jv *props = jv_get(o, "properties");
    for (size_t i = 0; i < jv_len(props); i++)
        if (str_eq(jv_get_str(jv_at(props, i), "developerName"), name))
            return jv_get_str(jv_at(props, i), "contentValue");
    fail_msg("no property %s", name);
    return NULL;
}

static bool has_prop(const jv *o, const char *name)
{
    const jv *props = jv_get(o, "properties");
    for (size_t i = 0; i < jv_len(props); i++)
        if (str_eq(jv_get_str(jv_at(props, i), "developerName"), name))
            return true;
    return false;
}

/* Runs a load with the given listFilter (JSON text) on table `type`; returns the result. */
static table_result load(table_source *t, const char *type, const char *list_filter, const char *props)
{
    char *text = xasprintf("{\"objectDataType\":{\"developerName\":\"%s\",\"properties\":%s},\"listFilter\":%s}",
                           type, props ? props : "null", list_filter);
    jv *req = J(text);
    free(text);
    table_result r;
    table_source_load(t, req, &r);
    jv_free(req);
    if (r.text) {
        /* Load answers with text: it must be exactly what serialising the parsed value gives
         * (compact, same members in the same order). */
        assert_null(r.body);
        assert_int_equal(r.status, 200);
        sl_error err = {0};
        r.body = jv_parse(r.text, r.len, &err);
        if (!r.body)
            fail_msg("load answer is not JSON: %s", err.msg);
        char *again = jv_dumps(r.body);
        assert_string_equal(again, r.text);
        assert_int_equal(strlen(r.text), r.len);
        free(again);
        free(r.text);
        r.text = NULL;
    }
    return r;
}

/* The ids (property "id") of the objects of a load, comma separated, into out. */
static const char *ids(const table_result *r, char *out, size_t n)
{
    out[0] = '\0';
    const jv *objs = jv_get(r->body, "objectData");
    for (size_t i = 0; i < jv_len(objs); i++) {
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s%s", i ? "," : "", prop(jv_at(objs, i), "id"));
    }
    return out;
}

static void expect_ids(table_source *t, const char *lf, const char *want)
{
    table_result r = load(t, "country", lf, NULL);
    if (r.status != 200)
        fail_msg("load %s: %d %s", lf, r.status, r.error);
    char got[256];
    ids(&r, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("load %s: got [%s], want [%s]", lf, got, want);
    jv_free(r.body);
}

static void expect_status(table_source *t, const char *lf, int status, const char *text)
{
    table_result r = load(t, "country", lf, NULL);
    if (r.status != status || !strstr(r.error, text))
        fail_msg("load %s: got %d \"%s\", want %d with \"%s\"", lf, r.status, r.error, status, text);
    jv_free(r.body);
}

/* ---- externalId ---- */

static void check_id(const char *const *names, const char *const *vals, size_t n, const char *want)
{
    jv *values[4];
    for (size_t i = 0; i < n; i++)
        values[i] = jv_new_str(vals[i]);
    char *id = table_external_id(names, (const jv *const *)values, n);
    assert_string_equal(id, want);
    free(id);
    for (size_t i = 0; i < n; i++)
        jv_free(values[i]);
}

static void test_external_id_examples(void **state)
{
    /* README §2.5: member order is Java HashMap order, not the key order given. */
    const char *n1[] = {"cityname", "countryname"}, *v1[] = {"Montevideo", "Uruguay"};
    check_id(n1, v1, 2, "eyJjaXR5bmFtZSI6Ik1vbnRldmlkZW8iLCJjb3VudHJ5bmFtZSI6IlVydWd1YXkifQ==");
    const char *n1r[] = {"countryname", "cityname"}, *v1r[] = {"Uruguay", "Montevideo"};
    check_id(n1r, v1r, 2, "eyJjaXR5bmFtZSI6Ik1vbnRldmlkZW8iLCJjb3VudHJ5bmFtZSI6IlVydWd1YXkifQ==");
    const char *n2[] = {"City Name", "Country Name"}, *v2[] = {"Montevideo", "Uruguay"};
    check_id(n2, v2, 2, "eyJDb3VudHJ5IE5hbWUiOiJVcnVndWF5IiwiQ2l0eSBOYW1lIjoiTW9udGV2aWRlbyJ9");
    const char *one[] = {"1"};
    const char *id[] = {"id"}, *Id[] = {"Id"}, *theID[] = {"The ID"}, *theId[] = {"The Id"};
    check_id(id, one, 1, "eyJpZCI6IjEifQ==");
    check_id(Id, one, 1, "eyJJZCI6IjEifQ==");
    check_id(theID, one, 1, "eyJUaGUgSUQiOiIxIn0=");
    check_id(theId, one, 1, "eyJUaGUgSWQiOiIxIn0=");
    const char *uk[] = {"uuidkey"}, *uv[] = {"155e3620-42bb-11e6-beb8-9e71128cae77"};
    check_id(uk, uv, 1, "eyJ1dWlka2V5IjoiMTU1ZTM2MjAtNDJiYi0xMWU2LWJlYjgtOWU3MTEyOGNhZTc3In0=");
    /* Escaping and a null member. */
    jv *vals[1] = {jv_new_null()};
    const char *q[] = {"a\"b"};
    char *s = table_external_id(q, (const jv *const *)vals, 1);
    char *want = b64("{\"a\\\"b\":null}");
    assert_string_equal(s, want);
    free(s);
    free(want);
    jv_free(vals[0]);
}

/* ---- filter translation ---- */

static const char *country_table =
    "{\"name\":\"country\",\"columns\":["
    "{\"name\":\"id\",\"type\":\"integer\",\"pk\":1,\"autoincrement\":false},"
    "{\"name\":\"name\",\"type\":\"character varying(255)\",\"pk\":0,\"comment\":\"{{ManyWhoName:The Name}}\"},"
    "{\"name\":\"description\",\"type\":\"text\",\"pk\":0},"
    "{\"name\":\"big\",\"type\":\"boolean\",\"pk\":0},"
    "{\"name\":\"born\",\"type\":\"date\",\"pk\":0},"
    "{\"name\":\"at\",\"type\":\"timestamp with time zone\",\"pk\":0},"
    "{\"name\":\"local\",\"type\":\"timestamp\",\"pk\":0},"
    "{\"name\":\"t\",\"type\":\"time\",\"pk\":0}]}";

static int filter(sqldb_kind kind, const char *lf, const char *search_cols, char **sql, char **params,
                  sl_error *err)
{
    jv *table = J(country_table), *f = J(lf), *sc = search_cols ? J(search_cols) : NULL;
    buf b;
    buf_init(&b, 1 << 20);
    jv *p = jv_new_array();
    int rc = table_filter_sql(kind, table, f, sc, 1000, &b, p, err);
    *sql = buf_take(&b);
    if (!*sql)
        *sql = xstrdup("");
    *params = jv_dumps(p);
    jv_free(p);
    jv_free(table);
    jv_free(f);
    jv_free(sc);
    return rc;
}

static void expect_sql(sqldb_kind kind, const char *lf, const char *want_sql, const char *want_params)
{
    char *sql, *params;
    sl_error err = {0};
    if (filter(kind, lf, NULL, &sql, &params, &err) != 0)
        fail_msg("%s: %s", lf, err.msg);
    if (strcmp(sql, want_sql) != 0)
        fail_msg("SQL for %s\n got: %s\nwant: %s", lf, sql, want_sql);
    if (strcmp(params, want_params) != 0)
        fail_msg("params for %s\n got: %s\nwant: %s", lf, params, want_params);
    free(sql);
    free(params);
}

static void expect_filter_error(const char *lf, const char *text)
{
    char *sql, *params;
    sl_error err = {0};
    int rc = filter(SQLDB_SQLITE, lf, NULL, &sql, &params, &err);
    if (rc == 0 || !strstr(err.msg, text))
        fail_msg("%s: rc %d \"%s\", want an error with \"%s\"", lf, rc, err.msg, text);
    free(sql);
    free(params);
}

static void test_filter_criteria(void **state)
{
    expect_sql(SQLDB_SQLITE,
               "{\"comparisonType\":\"AND\",\"limit\":10,\"offset\":5,\"where\":["
               "{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\",\"contentValue\":\" 1 \",\"value\":\"0\"},"
               "{\"columnName\":\"id\",\"criteriaType\":\"NOT_EQUAL\",\"contentValue\":\"2\"},"
               "{\"columnName\":\"id\",\"criteriaType\":\"GREATER_THAN\",\"contentValue\":\"-3.5\"},"
               "{\"columnName\":\"id\",\"criteriaType\":\"GREATER_THAN_OR_EQUAL\",\"contentValue\":\"4e2\"},"
               "{\"columnName\":\"id\",\"criteriaType\":\"LESS_THAN\",\"contentValue\":5},"
               "{\"columnName\":\"id\",\"criteriaType\":\"LESS_THAN_OR_EQUAL\",\"contentValue\":\"6\"},"
               "{\"columnName\":\"The Name\",\"criteriaType\":\"CONTAINS\",\"contentValue\":\"50%_o\\\\ff\"},"
               "{\"columnName\":\"name\",\"criteriaType\":\"STARTS_WITH\",\"contentValue\":\"it's\"},"
               "{\"columnName\":\"description\",\"criteriaType\":\"ENDS_WITH\",\"contentValue\":\"end\"},"
               "{\"columnName\":\"description\",\"criteriaType\":\"IS_EMPTY\",\"contentValue\":\"True\"},"
               "{\"columnName\":\"born\",\"criteriaType\":\"IS_EMPTY\",\"contentValue\":\"False\"},"
               "{\"columnName\":\"big\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"TRUE\"},"
               "{\"columnName\":\"born\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"2020-01-21T00:00:00Z\"},"
               "{\"columnName\":\"at\",\"criteriaType\":\"LESS_THAN\",\"contentValue\":\"2016-06-27T09:23:01.5+02:00\"},"
               "{\"columnName\":\"local\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"2014-07-26T12:00:00Z\"},"
               "{\"columnName\":\"name\",\"criteriaType\":\"equal\",\"contentValue\":null}]}",
               " WHERE (\"id\" = ?1 AND \"id\" <> ?2 AND \"id\" > ?3 AND \"id\" >= ?4 AND \"id\" < ?5 AND \"id\" <= ?6"
               " AND \"name\" LIKE ?7 ESCAPE '\\' AND \"name\" LIKE ?8 ESCAPE '\\' AND \"description\" LIKE ?9 ESCAPE '\\'"
               " AND \"description\" IS NULL AND \"born\" IS NOT NULL AND \"big\" = ?10 AND \"born\" = ?11"
               " AND \"at\" < ?12 AND \"local\" = ?13 AND \"name\" = ?14)"
               " ORDER BY \"id\" ASC LIMIT ?15 OFFSET ?16",
               "[\"1\",\"2\",\"-3.5\",\"4e2\",\"5\",\"6\",\"%50\\\\%\\\\_o\\\\\\\\ff%\",\"it's%\",\"%end\",\"1\","
               "\"2020-01-21\",\"2016-06-27 07:23:01.5+00:00\",\"2014-07-26 13:00:00\",null,11,5]");
    /* PostgreSQL: $n placeholders, true/false, a cast for LIKE on a non-string column. */
    expect_sql(SQLDB_POSTGRES,
               "{\"comparisonType\":\"OR\",\"where\":["
               "{\"columnName\":\"big\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"True\"},"
               "{\"columnName\":\"id\",\"criteriaType\":\"CONTAINS\",\"contentValue\":\"1\"},"
               "{\"columnName\":\"name\",\"criteriaType\":\"CONTAINS\",\"contentValue\":null}],"
               "\"orderByPropertyDeveloperName\":\"The Name\",\"orderByDirectionType\":\"DESC\",\"limit\":0}",
               " WHERE (\"big\" = $1 OR CAST(\"id\" AS text) LIKE $2 ESCAPE '\\' OR \"name\" LIKE $3 ESCAPE '\\')"
               " ORDER BY \"name\" DESC, \"id\" ASC LIMIT $4 OFFSET $5",
               "[\"true\",\"%1%\",\"%%\",1001,0]");
    /* No comparisonType means AND; a null listFilter pages by 20; empty where adds nothing. */
    expect_sql(SQLDB_SQLITE,
               "{\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"1\"},"
               "{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"2\"}]}",
               " WHERE (\"id\" = ?1 AND \"id\" = ?2) ORDER BY \"id\" ASC LIMIT ?3 OFFSET ?4",
               "[\"1\",\"2\",1001,0]");
    expect_sql(SQLDB_SQLITE, "null", " ORDER BY \"id\" ASC LIMIT ?1 OFFSET ?2", "[21,0]");
    expect_sql(SQLDB_SQLITE, "{\"where\":[],\"listFilters\":[{\"where\":[]}],\"limit\":5000,\"offset\":-4}",
               " ORDER BY \"id\" ASC LIMIT ?1 OFFSET ?2", "[1001,0]");
    /* orderBy list after the legacy field, duplicates dropped. */
    expect_sql(SQLDB_SQLITE,
               "{\"orderByPropertyDeveloperName\":\"born\",\"orderBy\":[{\"columnName\":\"born\",\"direction\":\"DESC\"},"
               "{\"columnName\":\"description\",\"direction\":\"DESC\"},{\"columnName\":\"id\"}],\"limit\":2}",
               " ORDER BY \"born\" ASC, \"description\" DESC, \"id\" ASC LIMIT ?1 OFFSET ?2", "[3,0]");
}

static void test_filter_nested_and_search(void **state)
{
    expect_sql(SQLDB_SQLITE,
               "{\"comparisonType\":\"OR\",\"limit\":1,"
               "\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"1\"}],"
               "\"listFilters\":[{\"comparisonType\":\"AND\",\"where\":["
               "{\"columnName\":\"id\",\"criteriaType\":\"GREATER_THAN\",\"contentValue\":\"5\"},"
               "{\"columnName\":\"name\",\"criteriaType\":\"STARTS_WITH\",\"contentValue\":\"U\"}],"
               "\"listFilters\":[{\"comparisonType\":\"OR\",\"where\":[]},{\"comparisonType\":\"OR\",\"where\":["
               "{\"columnName\":\"big\",\"criteriaType\":\"IS_EMPTY\",\"contentValue\":\"true\"},"
               "{\"columnName\":\"big\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"false\"}]}]}]}",
               " WHERE (\"id\" = ?1 OR (\"id\" > ?2 AND \"name\" LIKE ?3 ESCAPE '\\' AND (\"big\" IS NULL OR \"big\" = ?4)))"
               " ORDER BY \"id\" ASC LIMIT ?5 OFFSET ?6",
               "[\"1\",\"5\",\"U%\",\"0\",2,0]");
    /* A group with only nested groups. */
    expect_sql(SQLDB_SQLITE,
               "{\"listFilters\":[{\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"1\"}]}],"
               "\"limit\":1}",
               " WHERE ((\"id\" = ?1)) ORDER BY \"id\" ASC LIMIT ?2 OFFSET ?3", "[\"1\",2,0]");
    /* search over the string columns asked for (alias or name), ANDed with where. */
    char *sql, *params;
    sl_error err = {0};
    assert_int_equal(filter(SQLDB_SQLITE,
                            "{\"search\":\"a%b\",\"comparisonType\":\"AND\",\"limit\":3,"
                            "\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"1\"}]}",
                            "[{\"developerName\":\"id\"},{\"developerName\":\"The Name\"},"
                            "{\"developerName\":\"description\"},{\"developerName\":\"t\"}]",
                            &sql, &params, &err),
                     0);
    assert_string_equal(sql, " WHERE (\"name\" LIKE ?1 ESCAPE '\\' OR \"description\" LIKE ?1 ESCAPE '\\')"
                             " AND (\"id\" = ?2) ORDER BY \"id\" ASC LIMIT ?3 OFFSET ?4");
    assert_string_equal(params, "[\"%a\\\\%b%\",\"1\",4,0]");
    free(sql);
    free(params);
    /* Every string column when none are named; nothing to search matches nothing. */
    assert_int_equal(filter(SQLDB_POSTGRES, "{\"search\":\"x\",\"limit\":1}", NULL, &sql, &params, &err), 0);
    assert_string_equal(sql, " WHERE (\"name\" LIKE $1 ESCAPE '\\' OR \"description\" LIKE $1 ESCAPE '\\')"
                             " ORDER BY \"id\" ASC LIMIT $2 OFFSET $3");
    free(sql);
    free(params);
    assert_int_equal(filter(SQLDB_SQLITE, "{\"search\":\"x\",\"limit\":1}", "[\"id\"]", &sql, &params, &err), 0);
    assert_string_equal(sql, " WHERE (1 = 0) ORDER BY \"id\" ASC LIMIT ?1 OFFSET ?2");
    free(sql);
    free(params);
    assert_int_equal(filter(SQLDB_SQLITE, "{\"search\":\"x\"}", "[\"nope\"]", &sql, &params, &err), SL_EINVAL);
    assert_non_null(strstr(err.msg, "\"nope\" is not a property"));
    free(sql);
    free(params);
}

static void test_filter_errors(void **state)
{
    expect_filter_error("{\"where\":[{\"columnName\":\"nope\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"1\"}]}",
                        "\"nope\" is not a property of type \"country\"");
    expect_filter_error("{\"where\":[{\"columnName\":\"t\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"1\"}]}",
                        "\"t\" is not a property"); /* unsupported type */
    expect_filter_error("{\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"LIKE\",\"contentValue\":\"1\"}]}",
                        "criteriaType \"LIKE\"");
    expect_filter_error("{\"where\":[{\"columnName\":\"id\",\"contentValue\":\"1\"}]}", "criteriaType \"(none)\"");
    expect_filter_error("{\"comparisonType\":\"XOR\",\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\"}]}",
                        "comparisonType");
    expect_filter_error("{\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"1; DROP\"}]}",
                        "is not one");
    expect_filter_error("{\"where\":[{\"columnName\":\"born\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"yesterday\"}]}",
                        "not ISO-8601");
    expect_filter_error("{\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\",\"contentValue\":[1]}]}",
                        "must be text");
    expect_filter_error("{\"where\":{}}", "must be arrays");
    expect_filter_error("{\"where\":[7]}", "must be an object");
    expect_filter_error("{\"orderByPropertyDeveloperName\":\"nope\"}", "orderByPropertyDeveloperName");
    expect_filter_error("{\"orderBy\":[{\"columnName\":\"t\"}]}", "orderBy");
    expect_filter_error("[]", "listFilter must be an object");
    /* Nesting deeper than 16 is refused. */
    buf b;
    buf_init(&b, 1 << 16);
    for (int i = 0; i < 20; i++)
        buf_puts(&b, "{\"listFilters\":[");
    buf_puts(&b, "{\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"1\"}]}");
    for (int i = 0; i < 20; i++)
        buf_puts(&b, "]}");
    expect_filter_error(b.data, "nested more than");
    buf_free(&b);
    /* More than 1000 conditions are refused. */
    buf_init(&b, 1 << 20);
    buf_puts(&b, "{\"where\":[");
    for (int i = 0; i < 1001; i++)
        buf_printf(&b, "%s{\"columnName\":\"id\",\"criteriaType\":\"IS_EMPTY\",\"contentValue\":\"true\"}", i ? "," : "");
    buf_puts(&b, "]}");
    expect_filter_error(b.data, "more than 1000 conditions");
    buf_free(&b);
}

/* ---- against SQLite ---- */

static void seed_country(void)
{
    exec("CREATE TABLE \"country\" (\n"
         "  id          integer NOT NULL,\n"
         "  name        character varying(255),\n"
         "  description character varying(1024) NULL,\n"
         "  CONSTRAINT country_id_pk PRIMARY KEY (id))");
    exec("INSERT INTO country(id, name, description) VALUES "
         "('1','country1''s, name','It''s a nice country'),"
         "('2','country2''s, name','It''s a beautiful country'),"
         "('3','50% off_sale','a\\b'),"
         "('4','500 offXsale',NULL)");
}

static void test_load_filters(void **state)
{
    seed_country();
    table_source *t = source(1000);
    expect_ids(t, "{\"comparisonType\":\"AND\",\"where\":[{\"columnName\":\"name\",\"criteriaType\":\"EQUAL\","
                  "\"contentValue\":\"country1's, name\"}]}",
               "1");
    expect_ids(t, "{\"comparisonType\":\"AND\",\"where\":["
                  "{\"columnName\":\"name\",\"criteriaType\":\"CONTAINS\",\"contentValue\":\"ountry2\"},"
                  "{\"columnName\":\"name\",\"criteriaType\":\"STARTS_WITH\",\"contentValue\":\"countr\"},"
                  "{\"columnName\":\"name\",\"criteriaType\":\"ENDS_WITH\",\"contentValue\":\"ame\"}]}",
               "2");
    /* Apostrophes in LIKE values are bound unchanged. */
    expect_ids(t, "{\"where\":[{\"columnName\":\"name\",\"criteriaType\":\"CONTAINS\",\"contentValue\":\"1's\"}]}",
               "1");
    /* % and _ are literal: "50% off_" matches row 3 only, not "500 offX". */
    expect_ids(t, "{\"where\":[{\"columnName\":\"name\",\"criteriaType\":\"STARTS_WITH\",\"contentValue\":\"50% off_\"}]}",
               "3");
    expect_ids(t, "{\"where\":[{\"columnName\":\"name\",\"criteriaType\":\"CONTAINS\",\"contentValue\":\"_\"}]}", "3");
    expect_ids(t, "{\"where\":[{\"columnName\":\"description\",\"criteriaType\":\"ENDS_WITH\",\"contentValue\":\"\\\\b\"}]}",
               "3");
    /* Null patterns match every non-null value (conditions-null). */
    expect_ids(t, "{\"comparisonType\":\"AND\",\"where\":["
                  "{\"columnName\":\"description\",\"criteriaType\":\"CONTAINS\",\"contentValue\":null},"
                  "{\"columnName\":\"description\",\"criteriaType\":\"STARTS_WITH\",\"contentValue\":null},"
                  "{\"columnName\":\"description\",\"criteriaType\":\"ENDS_WITH\",\"contentValue\":\"\"}]}",
               "1,2,3");
    expect_ids(t, "{\"comparisonType\":\"OR\",\"where\":[{\"columnName\":\"description\",\"criteriaType\":\"IS_EMPTY\","
                  "\"contentValue\":\"true\"}]}",
               "4");
    expect_ids(t, "{\"comparisonType\":\"OR\",\"where\":[{\"columnName\":\"description\",\"criteriaType\":\"IS_EMPTY\","
                  "\"contentValue\":\"False\"}]}",
               "1,2,3");
    expect_ids(t, "{\"comparisonType\":\"OR\",\"where\":["
                  "{\"columnName\":\"id\",\"criteriaType\":\"GREATER_THAN_OR_EQUAL\",\"contentValue\":\"4\"},"
                  "{\"columnName\":\"id\",\"criteriaType\":\"LESS_THAN\",\"contentValue\":\"2\"}],"
                  "\"orderByPropertyDeveloperName\":\"id\",\"orderByDirectionType\":\"DESC\"}",
               "4,1");
    expect_ids(t, "{\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"NOT_EQUAL\",\"contentValue\":\"2\"},"
                  "{\"columnName\":\"id\",\"criteriaType\":\"LESS_THAN_OR_EQUAL\",\"contentValue\":\"3\"},"
                  "{\"columnName\":\"id\",\"criteriaType\":\"GREATER_THAN\",\"contentValue\":\"1\"}]}",
               "3");
    /* A null typed value matches nothing. */
    expect_ids(t, "{\"where\":[{\"columnName\":\"name\",\"criteriaType\":\"EQUAL\",\"contentValue\":null}]}", "");
    /* Nested groups: id = 1 OR (id > 2 AND name STARTS_WITH "500"). */
    expect_ids(t, "{\"comparisonType\":\"OR\",\"where\":[{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\","
                  "\"contentValue\":\"1\"}],\"listFilters\":[{\"comparisonType\":\"AND\",\"where\":["
                  "{\"columnName\":\"id\",\"criteriaType\":\"GREATER_THAN\",\"contentValue\":\"2\"},"
                  "{\"columnName\":\"name\",\"criteriaType\":\"STARTS_WITH\",\"contentValue\":\"500\"}]}]}",
               "1,4");
    /* search: literal text over the string columns of objectDataType.properties. */
    table_result r = load(t, "country", "{\"search\":\"country2\",\"comparisonType\":\"OR\"}",
                          "[{\"developerName\":\"id\"},{\"developerName\":\"name\"},{\"developerName\":\"description\"}]");
    assert_int_equal(r.status, 200);
    char got[64];
    assert_string_equal(ids(&r, got, sizeof got), "2");
    jv_free(r.body);
    r = load(t, "country", "{\"search\":\"%\"}", "[\"name\"]");
    assert_string_equal(ids(&r, got, sizeof got), "3");
    jv_free(r.body);
    r = load(t, "country", "{\"search\":\"beautiful\"}", "[\"name\"]");
    assert_string_equal(ids(&r, got, sizeof got), "");
    jv_free(r.body);
    /* Errors name the table and the property. */
    expect_status(t, "{\"where\":[{\"columnName\":\"nope\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"1\"}]}", 400,
                  "\"nope\" is not a property of type \"country\"");
    r = load(t, "nosuch", "{}", NULL);
    assert_int_equal(r.status, 404);
    assert_null(r.body);
    table_source_free(t);
}

static void test_load_shape_and_paging(void **state)
{
    seed_country();
    table_source *t = source(3);
    table_result r = load(t, "country", "{\"orderByPropertyDeveloperName\":\"id\",\"orderByDirectionType\":\"ASC\","
                                        "\"offset\":1,\"limit\":2}", NULL);
    assert_int_equal(r.status, 200);
    char got[64];
    assert_string_equal(ids(&r, got, sizeof got), "2,3");
    assert_true(jv_bool(jv_get(r.body, "hasMoreResults")));
    assert_true(jv_is_null(jv_get(r.body, "culture")));
    /* The object shape of the reference. */
    const jv *o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_true(jv_is_null(jv_get(o, "internalId")));
    assert_true(jv_is_null(jv_get(o, "typeElementId")));
    assert_int_equal(jv_int(jv_get(o, "order")), 0);
    assert_false(jv_bool(jv_get(o, "isSelected")));
    assert_string_equal(jv_get_str(o, "developerName"), "country");
    assert_string_equal(jv_get_str(o, "externalId"), "eyJpZCI6IjIifQ==");
    const jv *p = jv_at(jv_get(o, "properties"), 0);
    assert_string_equal(jv_get_str(p, "developerName"), "id");
    assert_string_equal(jv_get_str(p, "contentType"), "ContentNumber");
    assert_string_equal(jv_get_str(p, "contentValue"), "2");
    assert_true(jv_is_null(jv_get(p, "typeElementPropertyId")));
    assert_true(jv_is_null(jv_get(p, "contentFormat")));
    assert_true(jv_is_array(jv_get(p, "objectData")));
    jv_free(r.body);
    /* Last page: no more. */
    r = load(t, "country", "{\"offset\":2,\"limit\":2}", NULL);
    assert_string_equal(ids(&r, got, sizeof got), "3,4");
    assert_false(jv_bool(jv_get(r.body, "hasMoreResults")));
    jv_free(r.body);
    /* limit 0: the row cap (3 here) with hasMoreResults when more rows exist. */
    r = load(t, "country", "{\"limit\":0}", NULL);
    assert_string_equal(ids(&r, got, sizeof got), "1,2,3");
    assert_true(jv_bool(jv_get(r.body, "hasMoreResults")));
    jv_free(r.body);
    r = load(t, "country", "{\"limit\":100}", NULL);
    assert_string_equal(ids(&r, got, sizeof got), "1,2,3");
    jv_free(r.body);
    r = load(t, "country", "{\"offset\":10,\"limit\":2}", NULL);
    assert_string_equal(ids(&r, got, sizeof got), "");
    assert_false(jv_bool(jv_get(r.body, "hasMoreResults")));
    jv_free(r.body);
    table_source_free(t);
}

static void test_composite_keys(void **state)
{
    exec("CREATE TABLE city (cityname character varying(255), countryname character varying(255),"
         " description character varying(1024), CONSTRAINT city_pk PRIMARY KEY (cityname, countryname))");
    exec("INSERT INTO city(cityname, countryname) VALUES ('Montevideo','Uruguay'),('London','England'),"
         "('Paris','France'),('Madrid','Spain'),('Rome','Italy')");
    table_source *t = source(1000);
    const char *mvd = "eyJjaXR5bmFtZSI6Ik1vbnRldmlkZW8iLCJjb3VudHJ5bmFtZSI6IlVydWd1YXkifQ==";
    char *lf = xasprintf("{\"id\":\"%s\"}", mvd);
    table_result r = load(t, "city", lf, NULL);
    free(lf);
    assert_int_equal(r.status, 200);
    assert_int_equal(jv_len(jv_get(r.body, "objectData")), 1);
    const jv *o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_string_equal(jv_get_str(o, "externalId"), mvd);
    assert_string_equal(prop(o, "cityname"), "Montevideo");
    assert_null(prop(o, "description"));
    assert_false(jv_bool(jv_get(r.body, "hasMoreResults")));
    jv_free(r.body);
    /* Member order of an incoming id does not matter; aliases and numbers are accepted. */
    char *rev = b64("{\"countryname\":\"Uruguay\",\"cityname\":\"Montevideo\"}");
    lf = xasprintf("{\"id\":\"%s\"}", rev);
    r = load(t, "city", lf, NULL);
    free(lf);
    free(rev);
    assert_int_equal(r.status, 200);
    assert_string_equal(jv_get_str(jv_at(jv_get(r.body, "objectData"), 0), "externalId"), mvd);
    jv_free(r.body);
    /* Incomplete, foreign or garbage ids are 400; an unknown row is 404. */
    char *part = b64("{\"cityname\":\"Montevideo\"}");
    lf = xasprintf("{\"id\":\"%s\"}", part);
    r = load(t, "city", lf, NULL);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.error, "lacks key column \"countryname\""));
    free(lf);
    free(part);
    r = load(t, "city", "{\"id\":\"not base64!\"}", NULL);
    assert_int_equal(r.status, 400);
    char *other = b64("{\"cityname\":\"Nowhere\",\"countryname\":\"Atlantis\"}");
    lf = xasprintf("{\"id\":\"%s\"}", other);
    r = load(t, "city", lf, NULL);
    assert_int_equal(r.status, 404);
    free(lf);
    free(other);
    /* Paging without an order is stable (ordered by the key). */
    r = load(t, "city", "{\"orderByDirectionType\":\"ASC\",\"offset\":1,\"limit\":2}", NULL);
    assert_int_equal(jv_len(jv_get(r.body, "objectData")), 2);
    assert_string_equal(prop(jv_at(jv_get(r.body, "objectData"), 0), "cityname"), "Madrid");
    assert_true(jv_bool(jv_get(r.body, "hasMoreResults")));
    jv_free(r.body);

    /* Delete by composite key, with aliases from column comments. */
    exec("DROP TABLE city");
    exec("CREATE TABLE city (\n"
         "  cityname character varying(255) /* {{ManyWhoName:City Name}} */,\n"
         "  countryname character varying(255), -- {{ManyWhoName:Country Name}}\n"
         "  description character varying(1024),\n"
         "  CONSTRAINT city_pk PRIMARY KEY (cityname, countryname))");
    exec("INSERT INTO city(cityname, countryname) VALUES ('Montevideo','Uruguay'),('London','England')");
    r = load(t, "city", "{\"orderByPropertyDeveloperName\":\"City Name\"}", NULL);
    assert_int_equal(r.status, 200);
    o = jv_at(jv_get(r.body, "objectData"), 1);
    assert_string_equal(prop(o, "City Name"), "Montevideo");
    assert_string_equal(jv_get_str(o, "externalId"),
                        "eyJDb3VudHJ5IE5hbWUiOiJVcnVndWF5IiwiQ2l0eSBOYW1lIjoiTW9udGV2aWRlbyJ9");
    jv_free(r.body);
    jv *req = J("{\"objectData\":[{\"externalId\":"
                "\"eyJDb3VudHJ5IE5hbWUiOiJVcnVndWF5IiwiQ2l0eSBOYW1lIjoiTW9udGV2aWRlbyJ9\","
                "\"developerName\":\"city\",\"properties\":[]}]}");
    table_source_delete(t, req, &r);
    jv_free(req);
    assert_int_equal(r.status, 200);
    assert_int_equal(jv_len(jv_get(r.body, "objectData")), 0);
    assert_false(jv_bool(jv_get(r.body, "hasMoreResults")));
    jv_free(r.body);
    r = load(t, "city", "{}", NULL);
    assert_int_equal(jv_len(jv_get(r.body, "objectData")), 1);
    assert_string_equal(prop(jv_at(jv_get(r.body, "objectData"), 0), "City Name"), "London");
    jv_free(r.body);
    /* Delete by listFilter.id when there are no objects. */
    char *lon = b64("{\"City Name\":\"London\",\"countryname\":\"England\"}");
    char *text = xasprintf("{\"objectDataType\":{\"developerName\":\"city\"},\"listFilter\":{\"id\":\"%s\"}}", lon);
    req = J(text);
    table_source_delete(t, req, &r);
    assert_int_equal(r.status, 200);
    jv_free(r.body);
    jv_free(req);
    free(text);
    free(lon);
    r = load(t, "city", "{}", NULL);
    assert_int_equal(jv_len(jv_get(r.body, "objectData")), 0);
    jv_free(r.body);
    table_source_free(t);
}

static void test_describe(void **state)
{
    exec("CREATE TABLE country2 (id integer NOT NULL, -- {{ManyWhoName:The Id}}\n"
         " name character varying(255), description text, available BOOLEAN, born date,"
         " at timestamp with time zone, price DECIMAL_TEXT(20,2), t time, uid uuid, d double precision,"
         " CONSTRAINT country_id_pk PRIMARY KEY (id))");
    exec("CREATE TABLE onlytime (t time)");
    exec("CREATE VIEW v AS SELECT id, name FROM country2");
    table_source *t = source(1000);
    jv *types = jv_new_array();
    sl_error err = {0};
    assert_int_equal(table_source_describe(t, types, &err), 0);
    assert_int_equal(jv_len(types), 2); /* country2 and v; onlytime has no supported column */
    const jv *ty = jv_at(types, 0);
    assert_string_equal(jv_get_str(ty, "developerName"), "country2");
    assert_string_equal(jv_get_str(ty, "elementType"), "TYPE");
    assert_false(jv_bool(jv_get(ty, "updateByName")));
    const jv *props = jv_get(ty, "properties");
    assert_int_equal(jv_len(props), 9);
    static const char *const want[][3] = {
        {"The Id", "ContentNumber", "INTEGER"},     {"name", "ContentString", "VARCHAR"},
        {"description", "ContentString", "VARCHAR"}, {"available", "ContentBoolean", "BIT"},
        {"born", "ContentDateTime", "DATE"},        {"at", "ContentDateTime", "TIMESTAMP"},
        {"price", "ContentNumber", "NUMERIC"},      {"uid", "ContentString", "uuid"},
        {"d", "ContentNumber", "DOUBLE"}};
    const jv *binding = jv_at(jv_get(ty, "bindings"), 0);
    assert_string_equal(jv_get_str(binding, "databaseTableName"), "country2");
    assert_string_equal(jv_get_str(binding, "developerSummary"), "The binding for country2");
    const jv *pbs = jv_get(binding, "propertyBindings");
    for (size_t i = 0; i < 9; i++) {
        const jv *p = jv_at(props, i), *b = jv_at(pbs, i);
        assert_string_equal(jv_get_str(p, "developerName"), want[i][0]);
        assert_string_equal(jv_get_str(p, "contentType"), want[i][1]);
        assert_true(jv_is_null(jv_get(p, "typeElementDeveloperName")));
        assert_string_equal(jv_get_str(b, "databaseFieldName"), want[i][0]);
        assert_string_equal(jv_get_str(b, "typeElementPropertyDeveloperName"), want[i][0]);
        assert_string_equal(jv_get_str(b, "databaseContentType"), want[i][2]);
    }
    jv_free(types);
    table_source_free(t);

    /* A source for named tables describes just those; a missing one is an error. */
    sqldb_config c = {.kind = SQLDB_SQLITE, .path = dbpath};
    const char *names[] = {"v"};
    t = table_source_new(&c, names, 1, 0);
    types = jv_new_array();
    assert_int_equal(table_source_describe(t, types, &err), 0);
    assert_int_equal(jv_len(types), 1);
    assert_string_equal(jv_get_str(jv_at(types, 0), "developerName"), "v");
    jv_free(types);
    table_result r = load(t, "country2", "{}", NULL);
    assert_int_equal(r.status, 404);
    table_source_free(t);
    const char *missing[] = {"nope"};
    t = table_source_new(&c, missing, 1, 0);
    types = jv_new_array();
    assert_int_equal(table_source_describe(t, types, &err), SL_ENOTFOUND);
    jv_free(types);
    table_source_free(t);
}

static table_result save(table_source *t, const char *objects)
{
    char *text = xasprintf("{\"objectDataType\":{\"developerName\":\"country\"},\"objectData\":%s}", objects);
    jv *req = J(text);
    free(text);
    table_result r;
    table_source_save(t, req, &r);
    jv_free(req);
    return r;
}

static void test_save(void **state)
{
    exec("CREATE TABLE \"country\" (id integer NOT NULL, name character varying(255),"
         " description character varying(1024), integer_column integer, double_column double precision,"
         " numeric_column DECIMAL_TEXT(20,2), real_column real, bigint_column bigint, big BOOLEAN,"
         " CONSTRAINT country_id_pk PRIMARY KEY (id))");
    table_source *t = source(1000);
    table_result r = save(t, "[{\"externalId\":null,\"developerName\":\"country\",\"internalId\":\"x\",\"properties\":["
                             "{\"developerName\":\"id\",\"contentValue\":\"1\"},"
                             "{\"developerName\":\"name\",\"contentValue\":\"Uruguay\"},"
                             "{\"developerName\":\"description\",\"contentValue\":\"It's a nice country\"},"
                             "{\"developerName\":\"integer_column\",\"contentValue\":\"123\"},"
                             "{\"developerName\":\"double_column\",\"contentValue\":\"0.999999999\"},"
                             "{\"developerName\":\"numeric_column\",\"contentValue\":\"123456789012345678.99\"},"
                             "{\"developerName\":\"real_column\",\"contentValue\":\"12233.2\"},"
                             "{\"developerName\":\"bigint_column\",\"contentValue\":\"12345678765432\"},"
                             "{\"developerName\":\"big\",\"contentValue\":\"True\"}]}]");
    if (r.status != 200)
        fail_msg("save: %d %s", r.status, r.error);
    const jv *o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_string_equal(jv_get_str(o, "externalId"), "eyJpZCI6IjEifQ==");
    assert_true(jv_is_null(jv_get(o, "internalId")));
    assert_string_equal(prop(o, "id"), "1");
    assert_string_equal(prop(o, "description"), "It's a nice country");
    assert_string_equal(prop(o, "double_column"), "0.999999999");
    assert_string_equal(prop(o, "numeric_column"), "123456789012345678.99");
    assert_string_equal(prop(o, "real_column"), "12233.2");
    assert_string_equal(prop(o, "bigint_column"), "12345678765432");
    assert_string_equal(prop(o, "big"), "true");
    assert_false(jv_bool(jv_get(r.body, "hasMoreResults")));
    jv_free(r.body);

    /* Update by externalId; creates come back before updates. */
    r = save(t, "[{\"externalId\":\"eyJpZCI6IjEifQ==\",\"developerName\":\"country\",\"properties\":["
                "{\"developerName\":\"name\",\"contentValue\":\"England\"},"
                "{\"developerName\":\"big\",\"contentValue\":\"false\"},"
                "{\"developerName\":\"integer_column\",\"contentValue\":\"\"}]},"
                "{\"externalId\":\"\",\"developerName\":\"country\",\"properties\":["
                "{\"developerName\":\"id\",\"contentValue\":7},{\"developerName\":\"name\",\"contentValue\":\"Chile\"}]}]");
    if (r.status != 200)
        fail_msg("save: %d %s", r.status, r.error);
    assert_int_equal(jv_len(jv_get(r.body, "objectData")), 2);
    o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_string_equal(prop(o, "name"), "Chile");
    assert_string_equal(prop(o, "id"), "7");
    o = jv_at(jv_get(r.body, "objectData"), 1);
    assert_string_equal(prop(o, "name"), "England");
    assert_string_equal(prop(o, "big"), "false");
    assert_string_equal(prop(o, "integer_column"), "0"); /* empty integer is 0 */
    assert_string_equal(prop(o, "description"), "It's a nice country");
    jv_free(r.body);

    /* Errors: unknown property, bad number, unknown row, duplicate key; nothing is half done. */
    r = save(t, "[{\"externalId\":null,\"developerName\":\"country\",\"properties\":["
                "{\"developerName\":\"id\",\"contentValue\":\"9\"},{\"developerName\":\"nope\",\"contentValue\":\"x\"}]}]");
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.error, "\"nope\" is not a property of type \"country\""));
    r = save(t, "[{\"externalId\":null,\"developerName\":\"country\",\"properties\":["
                "{\"developerName\":\"id\",\"contentValue\":\"nine\"}]}]");
    assert_int_equal(r.status, 400);
    char *missing = b64("{\"id\":\"99\"}");
    char *objs = xasprintf("[{\"externalId\":null,\"developerName\":\"country\",\"properties\":["
                           "{\"developerName\":\"id\",\"contentValue\":\"8\"}]},"
                           "{\"externalId\":\"%s\",\"developerName\":\"country\",\"properties\":["
                           "{\"developerName\":\"name\",\"contentValue\":\"x\"}]}]",
                           missing);
    r = save(t, objs);
    assert_int_equal(r.status, 404);
    free(objs);
    free(missing);
    r = save(t, "[{\"externalId\":null,\"developerName\":\"country\",\"properties\":["
                "{\"developerName\":\"id\",\"contentValue\":\"7\"}]}]");
    assert_int_equal(r.status, 409);
    r = load(t, "country", "{}", NULL);
    char got[64];
    assert_string_equal(ids(&r, got, sizeof got), "1,7"); /* row 8 was rolled back */
    jv_free(r.body);
    r = save(t, "[{\"externalId\":null,\"developerName\":\"other\",\"properties\":[]}]");
    assert_int_equal(r.status, 404);
    r = save(t, "[]");
    assert_int_equal(r.status, 200);
    assert_int_equal(jv_len(jv_get(r.body, "objectData")), 0);
    jv_free(r.body);
    table_source_free(t);
}

static void test_autoincrement_and_alias(void **state)
{
    /* SERIAL on SQLite: a sole INTEGER PRIMARY KEY. */
    exec("CREATE TABLE \"country\" (name character varying(255), description character varying(1024) -- "
         "{{ManyWhoName:The Description}}\n, id INTEGER NOT NULL, CONSTRAINT country_id_pk PRIMARY KEY (id))");
    table_source *t = source(1000);
    table_result r = save(t, "[{\"externalId\":null,\"developerName\":\"country\",\"properties\":["
                             "{\"developerName\":\"name\",\"contentValue\":\"Uruguay\"},"
                             "{\"developerName\":\"The Description\",\"contentValue\":\"nice\"},"
                             "{\"developerName\":\"id\",\"contentValue\":\"\"}]}]");
    if (r.status != 200)
        fail_msg("save: %d %s", r.status, r.error);
    const jv *o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_string_equal(prop(o, "id"), "1");
    assert_string_equal(prop(o, "The Description"), "nice");
    assert_false(has_prop(o, "description"));
    assert_string_equal(jv_get_str(o, "externalId"), "eyJpZCI6IjEifQ==");
    jv_free(r.body);
    /* Update sending the generated key and the real column name of an aliased column. */
    r = save(t, "[{\"externalId\":\"eyJpZCI6IjEifQ==\",\"developerName\":\"country\",\"properties\":["
                "{\"developerName\":\"name\",\"contentValue\":\"England\"},"
                "{\"developerName\":\"description\",\"contentValue\":\"beautiful\"},"
                "{\"developerName\":\"id\",\"contentValue\":\"1\"}]}]");
    if (r.status != 200)
        fail_msg("save: %d %s", r.status, r.error);
    o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_string_equal(prop(o, "name"), "England");
    assert_string_equal(prop(o, "The Description"), "beautiful");
    jv_free(r.body);
    /* An update with nothing to set re-reads the row. */
    r = save(t, "[{\"externalId\":\"eyJpZCI6IjEifQ==\",\"developerName\":\"country\",\"properties\":["
                "{\"developerName\":\"id\",\"contentValue\":\"\"}]}]");
    assert_int_equal(r.status, 200);
    assert_string_equal(prop(jv_at(jv_get(r.body, "objectData"), 0), "name"), "England");
    jv_free(r.body);
    table_source_free(t);
}

static void test_dates(void **state)
{
    exec("CREATE TABLE timetest (id integer NOT NULL, time_with_timezone time,"
         " timestamp_with_timezone timestamp with time zone, timestamp_without_timezone timestamp without time zone,"
         " date_only DATE, CONSTRAINT timetest_id_pk PRIMARY KEY (id))");
    exec("INSERT INTO timetest VALUES ('1', '2012-05-24 14:09:08 +02:00', '2014-07-26 14:00:00 +02:00',"
         " '2014-07-26 14:00:00', '2020-01-21'), (2, NULL, '2014-01-26T14:00:00.120Z', '2014-01-26 14:00:00.5', NULL)");
    table_source *t = source(1000);
    table_result r = load(t, "timetest", "{\"orderByPropertyDeveloperName\":\"id\"}", NULL);
    assert_int_equal(r.status, 200);
    const jv *o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_int_equal(jv_len(jv_get(o, "properties")), 4); /* the time column is left out */
    assert_false(has_prop(o, "time_with_timezone"));
    assert_string_equal(prop(o, "timestamp_with_timezone"), "2014-07-26T12:00:00Z");
    assert_string_equal(prop(o, "timestamp_without_timezone"), "2014-07-26T13:00:00Z"); /* BST */
    assert_string_equal(prop(o, "date_only"), "2020-01-21T00:00:00Z");
    o = jv_at(jv_get(r.body, "objectData"), 1);
    assert_string_equal(prop(o, "timestamp_with_timezone"), "2014-01-26T14:00:00.12Z");
    assert_string_equal(prop(o, "timestamp_without_timezone"), "2014-01-26T14:00:00.5Z"); /* GMT */
    assert_null(prop(o, "date_only"));
    jv_free(r.body);
    /* Filter by date and by IS_EMPTY. */
    r = load(t, "timetest", "{\"comparisonType\":\"AND\",\"where\":[{\"columnName\":\"date_only\","
                            "\"criteriaType\":\"EQUAL\",\"contentValue\":\"2020-01-21T00:00:00Z\"}]}", NULL);
    char got[64];
    assert_string_equal(ids(&r, got, sizeof got), "1");
    jv_free(r.body);
    r = load(t, "timetest", "{\"where\":[{\"columnName\":\"timestamp_without_timezone\","
                            "\"criteriaType\":\"EQUAL\",\"contentValue\":\"2014-07-26T13:00:00Z\"}]}", NULL);
    assert_string_equal(ids(&r, got, sizeof got), "1");
    jv_free(r.body);
    /* Save: offsets converted; an empty DATE is today (service-local). */
    jv *req = J("{\"objectData\":[{\"externalId\":\"eyJpZCI6IjEifQ==\",\"developerName\":\"timetest\",\"properties\":["
                "{\"developerName\":\"timestamp_with_timezone\",\"contentValue\":\"2016-06-27T09:23:01+00:00\"},"
                "{\"developerName\":\"timestamp_without_timezone\",\"contentValue\":\"2016-06-27T11:23:01+02:00\"},"
                "{\"developerName\":\"date_only\",\"contentValue\":\"\"},"
                "{\"developerName\":\"id\",\"contentValue\":\"1\"}]}]}");
    table_source_save(t, req, &r);
    jv_free(req);
    if (r.status != 200)
        fail_msg("save: %d %s", r.status, r.error);
    o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_string_equal(prop(o, "timestamp_with_timezone"), "2016-06-27T09:23:01Z");
    assert_string_equal(prop(o, "timestamp_without_timezone"), "2016-06-27T09:23:01Z");
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char today[64];
    snprintf(today, sizeof today, "%04d-%02d-%02dT00:00:00Z", (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100);
    assert_string_equal(prop(o, "date_only"), today);
    jv_free(r.body);
    /* Stored forms: UTC with offset for zoned, local wall time for naive. */
    sqldb_config c = {.kind = SQLDB_SQLITE, .path = dbpath};
    sqldb *db = NULL;
    sl_error err = {0};
    assert_int_equal(sqldb_open(&c, &db, &err), 0);
    jv *rows = NULL;
    assert_int_equal(sqldb_query(db, "SELECT * FROM timetest WHERE id = 1", NULL, &rows, NULL, &err), 0);
    assert_string_equal(jv_get_str(jv_at(rows, 0), "timestamp_with_timezone"), "2016-06-27 09:23:01+00:00");
    assert_string_equal(jv_get_str(jv_at(rows, 0), "timestamp_without_timezone"), "2016-06-27 10:23:01");
    jv_free(rows);
    sqldb_close(db);
    /* A bad date is a 400 naming the column. */
    req = J("{\"objectData\":[{\"externalId\":null,\"developerName\":\"timetest\",\"properties\":["
            "{\"developerName\":\"id\",\"contentValue\":\"3\"},"
            "{\"developerName\":\"date_only\",\"contentValue\":\"31/12/2020\"}]}]}");
    table_source_save(t, req, &r);
    jv_free(req);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.error, "date_only"));
    table_source_free(t);
}

static void test_bool_and_char(void **state)
{
    exec("CREATE TABLE country (id integer NOT NULL, big BOOLEAN, code CHAR(10), CONSTRAINT pk PRIMARY KEY (id))");
    exec("INSERT INTO country VALUES (1, true, 'aaaa      '), (2, false, '  bb')");
    table_source *t = source(1000);
    table_result r = load(t, "country", "{\"comparisonType\":\"AND\",\"where\":["
                                        "{\"columnName\":\"big\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"True\"},"
                                        "{\"columnName\":\"id\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"1\"}],"
                                        "\"orderByPropertyDeveloperName\":\"id\"}", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(jv_len(jv_get(r.body, "objectData")), 1);
    const jv *o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_string_equal(prop(o, "big"), "true");
    assert_string_equal(prop(o, "code"), "aaaa"); /* padding trimmed */
    jv_free(r.body);
    r = load(t, "country", "{\"where\":[{\"columnName\":\"big\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"no\"}]}",
             NULL);
    o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_string_equal(prop(o, "big"), "false");
    assert_string_equal(prop(o, "code"), "bb");
    jv_free(r.body);
    /* A view without a primary key: every column is the key. */
    exec("CREATE VIEW codes AS SELECT code, big FROM country");
    r = load(t, "codes", "{\"where\":[{\"columnName\":\"big\",\"criteriaType\":\"EQUAL\",\"contentValue\":\"true\"}]}",
             NULL);
    assert_int_equal(r.status, 200);
    o = jv_at(jv_get(r.body, "objectData"), 0);
    char *want = b64("{\"code\":\"aaaa\",\"big\":\"true\"}");
    /* HashMap order of "code" and "big" */
    char *want2 = b64("{\"big\":\"true\",\"code\":\"aaaa\"}");
    const char *got = jv_get_str(o, "externalId");
    assert_true(strcmp(got, want) == 0 || strcmp(got, want2) == 0);
    free(want);
    free(want2);
    jv_free(r.body);
    table_source_free(t);
}

static void test_weird_names(void **state)
{
    /* Identifiers with quotes, spaces and SQL in them are quoted, values are bound. */
    exec("CREATE TABLE \"or\"\"der; x\" (\"k\"\"ey\" text PRIMARY KEY, \"va l\" text)");
    table_source *t = source(1000);
    jv *req = J("{\"objectData\":[{\"externalId\":null,\"developerName\":\"or\\\"der; x\",\"properties\":["
                "{\"developerName\":\"k\\\"ey\",\"contentValue\":\"a'b\"},"
                "{\"developerName\":\"va l\",\"contentValue\":\"'); DROP TABLE x; --\"}]}]}");
    table_result r;
    table_source_save(t, req, &r);
    jv_free(req);
    if (r.status != 200)
        fail_msg("save: %d %s", r.status, r.error);
    const jv *o = jv_at(jv_get(r.body, "objectData"), 0);
    assert_string_equal(prop(o, "k\"ey"), "a'b");
    assert_string_equal(prop(o, "va l"), "'); DROP TABLE x; --");
    char *want = b64("{\"k\\\"ey\":\"a'b\"}");
    assert_string_equal(jv_get_str(o, "externalId"), want);
    char *lf = xasprintf("{\"id\":\"%s\"}", want);
    free(want);
    jv_free(r.body);
    r = load(t, "or\\\"der; x", lf, NULL);
    free(lf);
    assert_int_equal(r.status, 200);
    assert_int_equal(jv_len(jv_get(r.body, "objectData")), 1);
    jv_free(r.body);
    r = load(t, "or\\\"der; x", "{\"where\":[{\"columnName\":\"va l\",\"criteriaType\":\"CONTAINS\","
                               "\"contentValue\":\"'); DROP\"}]}", NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(jv_len(jv_get(r.body, "objectData")), 1);
    jv_free(r.body);
    table_source_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_external_id_examples),
        cmocka_unit_test(test_filter_criteria),
        cmocka_unit_test(test_filter_nested_and_search),
        cmocka_unit_test(test_filter_errors),
        cmocka_unit_test_setup_teardown(test_load_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_shape_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_composite_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_describe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_autoincrement_and_alias, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bool_and_char, setup, teardown),
        cmocka_unit_test_setup_teardown(test_weird_names, setup, teardown),
    };
    setenv("TZ", "Europe/London", 1);
    tzset();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
