/* Unit tests for atom/connector against real counterparts: an HTTP server on 127.0.0.1 started
 * in-process (core/http_server), a temporary folder, and a temporary SQLite database.
 * Validation problems are checked at their exact JSON pointers; secrets must never show up in a
 * problem or an error. JSON in these tests is written with single quotes; js() swaps them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atom/connector.h"
#include "core/http_server.h"
#include "core/log.h"
#include "core/sqldb.h"

#define SECRET_TOKEN "tok-S3CRET-xyz"
#define SECRET_PASS "pw-S3CRET-abc"

/* Parses JSON written with ' for ". */
static jv *js(const char *text)
{
    char *t = xstrdup(text);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    sl_error err = {0};
    jv *v = jv_parse(t, strlen(t), &err);
    if (!v)
        fail_msg("bad test JSON (%s %s): %s", err.where, err.msg, t);
    free(t);
    return v;
}

static char *jsf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* printf, then as js(): returns the JSON text with quotes swapped (caller frees). */
static char *jsf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        abort();
    va_end(ap);
    return s;
}

/* ---- a registry of connections for linking ---- */

typedef struct registry {
    connection *items[16];
    size_t n;
} registry;

static registry g_reg;

static const connection *lookup(void *ctx, const char *name)
{
    registry *r = ctx;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(connection_name(r->items[i]), name) == 0)
            return r->items[i];
    return NULL;
}

static void dump_problems(const sl_problems *pr)
{
    for (size_t i = 0; i < pr->n; i++)
        print_error("  problem %s: %s\n", pr->items[i].pointer, pr->items[i].message);
}

static connection *conn_ok(const char *text, const char *base_dir)
{
    jv *doc = js(text);
    sl_problems pr;
    problems_init(&pr);
    connection *c = NULL;
    int rc = connection_parse(doc, "c.json", base_dir, &c, &pr);
    dump_problems(&pr);
    assert_int_equal(rc, 0);
    assert_int_equal(pr.n, 0);
    problems_free(&pr);
    jv_free(doc);
    return c;
}

static void reg_add(connection *c)
{
    assert_true(g_reg.n < 16);
    g_reg.items[g_reg.n++] = c;
}

static void reg_clear(void)
{
    for (size_t i = 0; i < g_reg.n; i++)
        connection_free(g_reg.items[i]);
    g_reg.n = 0;
}

/* Whether some problem is at exactly `pointer` and its message contains `part`. */
static bool has_problem(const sl_problems *pr, const char *pointer, const char *part)
{
    for (size_t i = 0; i < pr->n; i++)
        if (strcmp(pr->items[i].pointer, pointer) == 0 && strstr(pr->items[i].message, part))
            return true;
    return false;
}

static void no_secret_in(const sl_problems *pr)
{
    for (size_t i = 0; i < pr->n; i++) {
        assert_null(strstr(pr->items[i].message, "S3CRET"));
        assert_null(strstr(pr->items[i].pointer, "S3CRET"));
    }
}

/* Parses a connection that must fail; the problems are left in pr. */
static void conn_bad(const char *text, sl_problems *pr)
{
    jv *doc = js(text);
    problems_init(pr);
    connection *c = NULL;
    assert_int_equal(connection_parse(doc, "c.json", "/tmp", &c, pr), SL_EINVAL);
    assert_null(c);
    assert_true(pr->n > 0);
    no_secret_in(pr);
    jv_free(doc);
}

#define EXPECT_CONN_PROBLEM(text, pointer, part)                                                                    \
    do {                                                                                                        \
        sl_problems pr_;                                                                                        \
        conn_bad(text, &pr_);                                                                                   \
        if (!has_problem(&pr_, pointer, part)) {                                                                \
            dump_problems(&pr_);                                                                                \
            fail_msg("expected a problem at %s containing \"%s\"", pointer, part);                              \
        }                                                                                                       \
        problems_free(&pr_);                                                                                    \
    } while (0)

/* Parses and links a connector shape (at /shapes/2) that must be valid. */
static connector_op *op_ok(const char *shape_text)
{
    jv *shape = js(shape_text);
    sl_problems pr;
    problems_init(&pr);
    connector_op *op = NULL;
    int rc = connector_op_parse(shape, "p.json", "/shapes/2", &op, &pr);
    if (rc == 0)
        rc = connector_op_link(op, lookup, &g_reg, "p.json", &pr);
    dump_problems(&pr);
    assert_int_equal(rc, 0);
    assert_int_equal(pr.n, 0);
    problems_free(&pr);
    jv_free(shape);
    return op;
}

/* Parses and links a shape that must fail at pointer with a message containing part. */
static void op_bad(const char *shape_text, const char *pointer, const char *part)
{
    jv *shape = js(shape_text);
    sl_problems pr;
    problems_init(&pr);
    connector_op *op = NULL;
    int rc = connector_op_parse(shape, "p.json", "/shapes/2", &op, &pr);
    if (rc == 0) {
        rc = connector_op_link(op, lookup, &g_reg, "p.json", &pr);
        connector_op_free(op);
    } else {
        assert_null(op);
    }
    assert_int_equal(rc, SL_EINVAL);
    if (!has_problem(&pr, pointer, part)) {
        dump_problems(&pr);
        fail_msg("expected a problem at %s containing \"%s\" for %s", pointer, part, shape_text);
    }
    no_secret_in(&pr);
    problems_free(&pr);
    jv_free(shape);
}

/* Runs op on doc (JSON text, or NULL for {}); returns the output array (caller frees) or NULL when
 * the run failed (the error is in err). */
static jv *run_op(const connector_op *op, const char *doc_text, jv *props, int64_t deadline, char *err, size_t errsz)
{
    jv *doc = js(doc_text ? doc_text : "{}");
    jv *out = jv_new_array();
    err[0] = '\0';
    int rc = connector_op_run(op, doc, props, out, deadline, err, errsz);
    jv_free(doc);
    if (rc != 0) {
        assert_int_equal(rc, SL_EEXEC);
        assert_true(err[0] != '\0');
        assert_null(strstr(err, "S3CRET"));
        jv_free(out);
        return NULL;
    }
    return out;
}

static jv *run_ok(const connector_op *op, const char *doc_text, jv *props)
{
    char err[1024];
    jv *out = run_op(op, doc_text, props, 0, err, sizeof err);
    if (!out)
        fail_msg("run failed: %s", err);
    return out;
}

static void run_fails(const connector_op *op, const char *doc_text, const char *part)
{
    char err[1024];
    jv *out = run_op(op, doc_text, NULL, 0, err, sizeof err);
    if (out) {
        char *s = jv_dumps(out);
        jv_free(out);
        fail_msg("expected a failure containing \"%s\", got %s", part, s);
    }
    if (!strstr(err, part))
        fail_msg("expected an error containing \"%s\", got: %s", part, err);
}

static void assert_json(const jv *v, const char *expected)
{
    jv *e = js(expected);
    if (!jv_equal(v, e)) {
        char *a = jv_dumps(v), *b = jv_dumps(e);
        print_error("got      %s\nexpected %s\n", a, b);
        free(a);
        free(b);
        jv_free(e);
        fail();
    }
    jv_free(e);
}

/* ---- the HTTP server ---- */

static http_server *srv;
static unsigned port;
static _Atomic int flaky_left; /* /flaky answers 500 while this is positive */
static _Atomic int flaky_calls;
static _Atomic int down_calls;

static void on_headers(void *ctx, http_request *req)
{
    req->max_body = 1 << 20;
}

static void on_request(void *ctx, http_request *req)
{
    const char *p = req->path;
    if (strncmp(p, "/echo", 5) == 0) {
        jv *o = jv_new_object();
        jv_set_str(o, "method", req->method);
        jv_set_str(o, "path", req->path);
        jv_set_str(o, "query", req->query);
        const char *names[] = {"Authorization", "X-Tenant", "X-Static", "Content-Type", "Accept", "X-Empty"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
            const char *h = http_header(req, names[i]);
            if (h)
                jv_set_str(o, names[i], h);
        }
        const char *q = http_query(req, "q");
        if (q)
            jv_set_str(o, "q", q);
        const char *user = NULL, *pass = NULL;
        if (http_basic_auth(req, &user, &pass) == 0) {
            jv_set_str(o, "user", user);
            jv_set_str(o, "pass", pass);
        }
        jv_set_take(o, "body", jv_new_strn(req->body, req->body_len));
        http_respond_json(req, 200, o);
        jv_free(o);
    } else if (strcmp(p, "/list") == 0) {
        const char *b = "[{'a':1},{'a':2},{'a':3}]";
        jv *v = js(b);
        http_respond_json(req, 200, v);
        jv_free(v);
    } else if (strcmp(p, "/listbad") == 0) {
        http_respond(req, 200, "application/json", "[{\"a\":1},2]", 11);
    } else if (strcmp(p, "/notjson") == 0) {
        http_respond(req, 200, "text/plain", "hello there", 11);
    } else if (strcmp(p, "/empty") == 0) {
        http_respond(req, 204, "text/plain", "", 0);
    } else if (strcmp(p, "/flaky") == 0) {
        atomic_fetch_add(&flaky_calls, 1);
        if (atomic_fetch_sub(&flaky_left, 1) > 0)
            http_respond(req, 500, "text/plain", "boom\nagain", 10);
        else
            http_respond(req, 200, "application/json", "{\"ok\":true}", 11);
    } else if (strcmp(p, "/down") == 0) {
        atomic_fetch_add(&down_calls, 1);
        http_add_header(req, "Retry-After", "0");
        http_respond(req, 503, "text/plain", "down", 4);
    } else if (strcmp(p, "/missing") == 0) {
        const char *b = "{\"error\":\"no such customer\"}";
        http_respond(req, 404, "application/json", b, strlen(b));
    } else if (strcmp(p, "/slow") == 0) {
        usleep(400 * 1000);
        http_respond(req, 200, "application/json", "{}", 2);
    } else if (strcmp(p, "/big") == 0) {
        char body[5000];
        memset(body, 'x', sizeof body);
        http_respond(req, 200, "text/plain", body, sizeof body);
    } else {
        http_respond(req, 404, "text/plain", "nf", 2);
    }
}

static int setup_http(void **state)
{
    log_set_level(LOG_WARN);
    http_server_config cfg = {.listen = "127.0.0.1:0", .threads = 4, .max_body = 1 << 20, .on_headers = on_headers,
                              .on_request = on_request};
    sl_error err = {0};
    if (http_server_start(&cfg, &srv, &err) != 0)
        return -1;
    port = http_server_port(srv);
    char *t = jsf("{'component':'connection','name':'api','type':'http','http':{'baseUrl':'http://127.0.0.1:%u/',"
                  "'headers':{'X-Static':'s1'},'auth':{'bearer':'" SECRET_TOKEN "'},'timeoutMs':3000,"
                  "'retries':2,'retryBackoffMs':10}}",
                  port);
    reg_add(conn_ok(t, NULL));
    free(t);
    t = jsf("{'component':'connection','name':'basic','type':'http','http':{'baseUrl':'http://127.0.0.1:%u',"
            "'auth':{'basic':{'user':'ann','password':'" SECRET_PASS "'}},'retries':1,'retryBackoffMs':1,"
            "'timeoutMs':150,'maxResponseBytes':1000}}",
            port);
    reg_add(conn_ok(t, NULL));
    free(t);
    return 0;
}

static int teardown_http(void **state)
{
    http_server_stop(srv);
    reg_clear();
    return 0;
}

/* ---- validation ---- */

static void test_connection_validation(void **state)
{
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x'}", "", "missing required member \"type\"");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'ftp'}", "/type", "unknown connection type");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http'}", "", "missing required member \"http\"");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'disk','disk':{'root':'d'},'http':{}}", "/http",
                        "does not belong");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'disk','disk':{'root':'d'},'bogus':1}", "/bogus",
                        "unknown member");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'disk','disk':{}}", "/disk",
                        "missing required member \"root\"");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'disk','disk':{'root':'d','x':1}}", "/disk/x",
                        "unknown member");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'ftp://h'}}",
                        "/http/baseUrl", "http:// or https://");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http:///p'}}",
                        "/http/baseUrl", "host");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'https://h/p?x=1'}}",
                        "/http/baseUrl", "query");
    EXPECT_CONN_PROBLEM(
        "{'component':'connection','name':'x','type':'http','http':{'baseUrl':'https://ann:" SECRET_PASS "@h/'}}",
        "/http/baseUrl", "credentials");
    EXPECT_CONN_PROBLEM(
        "{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h','headers':{'Bad Name':'v'}}}",
        "/http/headers/Bad Name", "field name");
    EXPECT_CONN_PROBLEM(
        "{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h','headers':{'Host':'v'}}}",
        "/http/headers/Host", "cannot be configured");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h',"
                        "'headers':{'X-Key':'" SECRET_TOKEN "\\n'}}}",
                        "/http/headers/X-Key", "control characters");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h',"
                        "'headers':{'Authorization':'x'},'auth':{'bearer':'t'}}}",
                        "/http/headers/Authorization", "both");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h',"
                        "'auth':{'bearer':'t','basic':{'user':'u','password':'p'}}}}",
                        "/http/auth", "exactly one");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h',"
                        "'auth':{'basic':{'user':'u','password':5}}}}",
                        "/http/auth/basic/password", "password must be a string");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h',"
                        "'auth':{'basic':{'user':'u:v','password':'" SECRET_PASS "'}}}}",
                        "/http/auth/basic/user", "':'");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h',"
                        "'auth':{'basic':{'user':'u'}}}}",
                        "/http/auth/basic", "missing required member \"password\"");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h',"
                        "'auth':{'bearer':'has space " SECRET_TOKEN "'}}}",
                        "/http/auth/bearer", "visible ASCII");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h','timeoutMs':0}}",
                        "/http/timeoutMs", "from 1 to 600000");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h','retries':11}}",
                        "/http/retries", "from 0 to 10");
    EXPECT_CONN_PROBLEM(
        "{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h','retryBackoffMs':1.5}}",
        "/http/retryBackoffMs", "integer");
    EXPECT_CONN_PROBLEM(
        "{'component':'connection','name':'x','type':'http','http':{'baseUrl':'http://h','maxResponseBytes':0}}",
        "/http/maxResponseBytes", "integer");
    EXPECT_CONN_PROBLEM("{'component':'connection','name':'x','type':'database','database':{'kind':'oracle'}}",
                        "/database/kind", "");

    connection *c = conn_ok("{'component':'connection','name':'db','description':'d','type':'database',"
                            "'database':{'kind':'sqlite','path':'x.db'}}",
                            "/data");
    assert_string_equal(connection_name(c), "db");
    assert_string_equal(connection_type(c), "database");
    assert_non_null(connection_database(c));
    assert_string_equal(connection_database(c)->path, "/data/x.db");
    connection_free(c);
    c = conn_ok("{'component':'connection','name':'d','type':'disk','disk':{'root':'/abs/dir'}}", "/data");
    assert_string_equal(connection_type(c), "disk");
    assert_null(connection_database(c));
    connection_free(c);
}

static int setup_links(void **state)
{
    reg_add(conn_ok("{'component':'connection','name':'api','type':'http','http':{'baseUrl':'http://h',"
                    "'auth':{'bearer':'" SECRET_TOKEN "'}}}",
                    NULL));
    reg_add(conn_ok("{'component':'connection','name':'db','type':'database','database':{'kind':'sqlite',"
                    "'path':'x.db'}}",
                    "/tmp"));
    reg_add(conn_ok("{'component':'connection','name':'files','type':'disk','disk':{'root':'f'}}", "/tmp"));
    return 0;
}

static int teardown_links(void **state)
{
    reg_clear();
    return 0;
}

#define SHAPE(conn, op) "{'id':'c','type':'connector','connection':'" conn "','operation':" op ",'next':'n'}"

static void test_operation_validation(void **state)
{
    /* the shape */
    op_bad("{'id':'c','type':'connector','operation':{'action':'list'}}", "/shapes/2",
           "missing required member \"connection\"");
    op_bad("{'id':'c','type':'connector','connection':'files'}", "/shapes/2", "missing required member \"operation\"");
    op_bad(SHAPE("files", "[]"), "/shapes/2/operation", "must be an object");
    op_bad(SHAPE("files", "{}"), "/shapes/2/operation", "missing required member \"action\"");
    op_bad(SHAPE("files", "{'action':'move'}"), "/shapes/2/operation/action", "unknown action");
    /* linking */
    op_bad(SHAPE("nope", "{'action':'list'}"), "/shapes/2/connection", "unknown connection \"nope\"");
    op_bad(SHAPE("api", "{'action':'list'}"), "/shapes/2/connection", "is a http connection but the operation is a disk");
    op_bad(SHAPE("files", "{'action':'query','sql':'select 1'}"), "/shapes/2/connection", "disk connection");
    op_bad(SHAPE("db", "{'method':'GET','path':'/x'}"), "/shapes/2/connection", "database connection");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x','headers':{'Authorization':{'const':'x'}}}"),
           "/shapes/2/operation/headers/Authorization", "through \"auth\"");

    /* database */
    op_bad(SHAPE("db", "{'action':'query'}"), "/shapes/2/operation", "missing required member \"sql\"");
    op_bad(SHAPE("db", "{'action':'query','sql':''}"), "/shapes/2/operation/sql", "non-empty string");
    op_bad(SHAPE("db", "{'action':'query','sql':'select :a, :b','params':{'a':{'const':'1'},'c':{'const':'2'}}}"),
           "/shapes/2/operation/sql", "parameter :b has no value");
    op_bad(SHAPE("db", "{'action':'query','sql':'select :a, :b','params':{'a':{'const':'1'},'c':{'const':'2'}}}"),
           "/shapes/2/operation/params/c", "not used in sql");
    op_bad(SHAPE("db", "{'action':'query','sql':'select 1','params':{'1x':{'const':'1'}}}"),
           "/shapes/2/operation/params/1x", "not a valid name");
    op_bad(SHAPE("db", "{'action':'query','sql':'select :a','params':{'a':{'bogus':1}}}"), "/shapes/2/operation/params/a",
           "");
    op_bad(SHAPE("db", "{'action':'query','sql':'select 1','params':[]}"), "/shapes/2/operation/params",
           "must be an object");
    op_bad(SHAPE("db", "{'action':'execute','sql':'select 1','maxRows':0}"), "/shapes/2/operation/maxRows", "integer");
    op_bad(SHAPE("db", "{'action':'execute','sql':'select 1','table':'t'}"), "/shapes/2/operation/table",
           "unknown member");
    /* :name inside strings, quoted identifiers, comments, dollar quotes and after :: are not parameters */
    connector_op *op = op_ok(SHAPE("db", "{'action':'query','sql':'select \\u0027:a\\u0027, \\\"b:c\\\", x::int, "
                                         "$$ :d $$, $t$ :e $t$ -- :f\\n /* :g */ from t where id = :id and k = :id',"
                                         "'params':{'id':{'element':'Id'}}}"));
    connector_op_free(op);

    /* http */
    op_bad(SHAPE("api", "{'method':'FETCH','path':'/x'}"), "/shapes/2/operation/method", "unknown method");
    op_bad(SHAPE("api", "{'method':'GET'}"), "/shapes/2/operation", "missing required member \"path\"");
    op_bad(SHAPE("api", "{'method':'GET','path':'x'}"), "/shapes/2/operation/path", "start with '/'");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x?y=1'}"), "/shapes/2/operation/path", "'?'");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x/{id'}"), "/shapes/2/operation/path", "malformed {name}");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x/{}'}"), "/shapes/2/operation/path", "malformed {name}");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x/%zz'}"), "/shapes/2/operation/path", "hex digits");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x/{id}'}"), "/shapes/2/operation/path", "{id} has no value");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x','pathParams':{'id':{'const':'1'}}}"),
           "/shapes/2/operation/pathParams/id", "not used in path");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x','headers':{'Content-Length':{'const':'1'}}}"),
           "/shapes/2/operation/headers/Content-Length", "cannot be configured");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x','headers':{'a b':{'const':'1'}}}"),
           "/shapes/2/operation/headers/a b", "not a valid name");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x','headers':{'X-A':{'const':'1'},'x-a':{'const':'2'}}}"),
           "/shapes/2/operation/headers/x-a", "twice");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x','query':{'':{'const':'1'}}}"), "/shapes/2/operation/query/",
           "not a valid name");
    op_bad(SHAPE("api", "{'method':'POST','path':'/x','body':5}"), "/shapes/2/operation/body", "body must be");
    op_bad(SHAPE("api", "{'method':'POST','path':'/x','body':'all'}"), "/shapes/2/operation/body", "body must be");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x','response':'xml'}"), "/shapes/2/operation/response",
           "\"document\" or \"text\"");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x','failOn':'5xx'}"), "/shapes/2/operation/failOn", "\"never\"");
    op_bad(SHAPE("api", "{'method':'GET','path':'/x','action':'read'}"), "/shapes/2/operation/action",
           "unknown member");
    op = op_ok(SHAPE("api", "{'method':'GET','path':'/x/{a}/{b}/{a}','pathParams':{'a':{'const':'1'},"
                            "'b':{'element':'B'}},'query':{'q':{'property':'p'}},'body':'none','response':'text',"
                            "'failOn':'never'}"));
    connector_op_free(op);

    /* disk */
    op_bad(SHAPE("files", "{'action':'write'}"), "/shapes/2/operation", "missing required member \"filename\"");
    op_bad(SHAPE("files", "{'action':'write','filename':{'const':'a'},'content':7}"), "/shapes/2/operation/content",
           "content must be");
    op_bad(SHAPE("files", "{'action':'read','filename':{'const':'a'},'as':'xml'}"), "/shapes/2/operation/as",
           "\"json\" or \"text\"");
    op_bad(SHAPE("files", "{'action':'list','filename':{'const':'a'}}"), "/shapes/2/operation/filename",
           "unknown member");
    op_bad(SHAPE("files", "{'action':'list','pattern':'a/*'}"), "/shapes/2/operation/pattern", "without '/'");
    op_bad(SHAPE("files", "{'action':'delete','filename':{'nope':1}}"), "/shapes/2/operation/filename", "");
    op_bad(SHAPE("files", "{'action':'delete','filename':{'const':'a'},'content':'document'}"),
           "/shapes/2/operation/content", "unknown member");
}

static void test_link_values(void **state)
{
    const char *ptext = "{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                        "{'name':'Id','type':'Character'}]}}";
    jv *pdoc = js(ptext);
    sl_problems pr;
    problems_init(&pr);
    profile *prof = NULL;
    assert_int_equal(profile_parse(pdoc, "p.json", &prof, &pr), 0);
    connector_op *op = op_ok(SHAPE("api", "{'method':'GET','path':'/x/{id}','pathParams':{'id':{'element':'Id'}},"
                                          "'query':{'q':{'element':'Nope'}}}"));
    assert_int_equal(connector_op_link_values(op, prof, "p.json", &pr), 1);
    assert_true(pr.n == 1 && str_starts(pr.items[0].pointer, "/shapes/2/operation/query/q"));
    assert_int_equal(connector_op_link_values(op, NULL, "p.json", &pr), 0);
    connector_op_free(op);
    profile_free(prof);
    problems_free(&pr);
    jv_free(pdoc);
}

/* ---- HTTP ---- */

static void test_http_get(void **state)
{
    connector_op *op = op_ok(SHAPE("api", "{'method':'GET','path':'/echo/customers/{id}/x',"
                                          "'pathParams':{'id':{'element':'Id'}},"
                                          "'query':{'q':{'element':'Q'},'skip':{'element':'Missing'}},"
                                          "'headers':{'X-Tenant':{'property':'tenant'},'X-Empty':{'const':''}}}"));
    jv *props = js("{'tenant':'acme'}");
    jv *out = run_ok(op, "{'Id':'a b/c?d#e','Q':'x&y=z ü'}", props);
    assert_int_equal(jv_len(out), 1);
    const jv *d = jv_at(out, 0);
    assert_string_equal(jv_get_str(d, "method"), "GET");
    /* the value was encoded: '/', '?' and '#' stayed inside the path segment */
    assert_string_equal(jv_get_str(d, "path"), "/echo/customers/a b/c?d#e/x");
    assert_string_equal(jv_get_str(d, "q"), "x&y=z ü");
    assert_null(strstr(jv_get_str(d, "query"), "skip")); /* empty values are left out */
    assert_string_equal(jv_get_str(d, "X-Tenant"), "acme");
    assert_null(jv_get(d, "X-Empty"));
    assert_string_equal(jv_get_str(d, "X-Static"), "s1");
    assert_string_equal(jv_get_str(d, "Authorization"), "Bearer " SECRET_TOKEN);
    assert_string_equal(jv_get_str(d, "Accept"), "application/json");
    assert_string_equal(jv_get_str(d, "body"), "");
    jv_free(out);
    /* an empty path parameter fails instead of calling another URL */
    run_fails(op, "{'Q':'1'}", "path parameter \"id\" is empty");
    jv_free(props);
    connector_op_free(op);
}

static void test_http_bodies(void **state)
{
    /* POST sends the document as JSON by default */
    connector_op *op = op_ok(SHAPE("api", "{'method':'POST','path':'/echo','headers':{'X-Static':{'const':'mine'}}}"));
    jv *out = run_ok(op, "{'Name':'Ann','N':[1,2]}", NULL);
    const jv *d = jv_at(out, 0);
    assert_string_equal(jv_get_str(d, "method"), "POST");
    assert_string_equal(jv_get_str(d, "Content-Type"), "application/json");
    assert_string_equal(jv_get_str(d, "X-Static"), "mine"); /* the operation's header wins */
    jv *sent = js(jv_get_str(d, "body"));
    assert_json(sent, "{'Name':'Ann','N':[1,2]}");
    jv_free(sent);
    jv_free(out);
    connector_op_free(op);

    /* a VALUE body is sent as text; basic auth */
    op = op_ok(SHAPE("basic", "{'method':'PUT','path':'/echo','body':{'fn':'concat','args':[{'const':'hi '},"
                              "{'element':'Name'}]},'headers':{'Content-Type':{'const':'text/csv'}}}"));
    out = run_ok(op, "{'Name':'Ann'}", NULL);
    d = jv_at(out, 0);
    assert_string_equal(jv_get_str(d, "method"), "PUT");
    assert_string_equal(jv_get_str(d, "body"), "hi Ann");
    assert_string_equal(jv_get_str(d, "Content-Type"), "text/csv");
    assert_string_equal(jv_get_str(d, "user"), "ann");
    assert_string_equal(jv_get_str(d, "pass"), SECRET_PASS);
    jv_free(out);
    connector_op_free(op);

    /* PATCH with body none; DELETE with the document */
    op = op_ok(SHAPE("api", "{'method':'PATCH','path':'/echo','body':'none'}"));
    out = run_ok(op, "{'a':1}", NULL);
    assert_string_equal(jv_get_str(jv_at(out, 0), "method"), "PATCH");
    assert_string_equal(jv_get_str(jv_at(out, 0), "body"), "");
    jv_free(out);
    connector_op_free(op);
    op = op_ok(SHAPE("api", "{'method':'DELETE','path':'/echo','body':'document'}"));
    out = run_ok(op, "{'a':1}", NULL);
    assert_string_equal(jv_get_str(jv_at(out, 0), "method"), "DELETE");
    assert_string_equal(jv_get_str(jv_at(out, 0), "body"), "{\"a\":1}");
    jv_free(out);
    connector_op_free(op);
    op = op_ok(SHAPE("api", "{'method':'DELETE','path':'/echo'}"));
    out = run_ok(op, "{'a':1}", NULL);
    assert_string_equal(jv_get_str(jv_at(out, 0), "body"), "");
    jv_free(out);
    connector_op_free(op);
}

static void test_http_responses(void **state)
{
    /* an array becomes one document per item */
    connector_op *op = op_ok(SHAPE("api", "{'method':'GET','path':'/list'}"));
    jv *out = run_ok(op, NULL, NULL);
    assert_json(out, "[{'a':1},{'a':2},{'a':3}]");
    jv_free(out);
    connector_op_free(op);

    op = op_ok(SHAPE("api", "{'method':'GET','path':'/listbad'}"));
    run_fails(op, NULL, "response item 1 is a integer, not an object");
    connector_op_free(op);
    op = op_ok(SHAPE("api", "{'method':'GET','path':'/notjson'}"));
    run_fails(op, NULL, "the response is not JSON");
    connector_op_free(op);
    op = op_ok(SHAPE("api", "{'method':'DELETE','path':'/empty'}"));
    out = run_ok(op, NULL, NULL);
    assert_json(out, "[{}]");
    jv_free(out);
    connector_op_free(op);

    /* response text */
    op = op_ok(SHAPE("api", "{'method':'GET','path':'/notjson','response':'text'}"));
    out = run_ok(op, NULL, NULL);
    assert_json(out, "[{'status':200,'body':'hello there'}]");
    jv_free(out);
    connector_op_free(op);

    /* non-2xx fails by default, with the status and a snippet of the body */
    op = op_ok(SHAPE("api", "{'method':'GET','path':'/missing'}"));
    run_fails(op, NULL, "HTTP GET /missing: status 404 (1 attempt): {\"error\":\"no such customer\"}");
    connector_op_free(op);
    /* ... or becomes a document with failOn never */
    op = op_ok(SHAPE("api", "{'method':'GET','path':'/missing','failOn':'never'}"));
    out = run_ok(op, NULL, NULL);
    assert_json(out, "[{'status':404,'body':'{\\\"error\\\":\\\"no such customer\\\"}'}]");
    jv_free(out);
    connector_op_free(op);
}

static void test_http_retries(void **state)
{
    /* "api": retries 2, so two 500s and then success */
    atomic_store(&flaky_left, 2);
    atomic_store(&flaky_calls, 0);
    connector_op *op = op_ok(SHAPE("api", "{'method':'GET','path':'/flaky'}"));
    jv *out = run_ok(op, NULL, NULL);
    assert_json(out, "[{'ok':true}]");
    assert_int_equal(atomic_load(&flaky_calls), 3);
    jv_free(out);
    connector_op_free(op);

    /* "basic": retries 1, so two 500s fail */
    atomic_store(&flaky_left, 2);
    atomic_store(&flaky_calls, 0);
    op = op_ok(SHAPE("basic", "{'method':'GET','path':'/flaky'}"));
    run_fails(op, NULL, "HTTP GET /flaky: status 500 (2 attempts): boom again");
    assert_int_equal(atomic_load(&flaky_calls), 2);
    connector_op_free(op);

    /* 4xx is not retried */
    op = op_ok(SHAPE("api", "{'method':'GET','path':'/missing'}"));
    run_fails(op, NULL, "(1 attempt)");
    connector_op_free(op);

    /* 503 with Retry-After is retried; the deadline bounds the retries */
    char *t = jsf("{'component':'connection','name':'patient','type':'http','http':{'baseUrl':'http://127.0.0.1:%u',"
                  "'retries':10,'retryBackoffMs':200}}",
                  port);
    reg_add(conn_ok(t, NULL));
    free(t);
    atomic_store(&down_calls, 0);
    op = op_ok(SHAPE("patient", "{'method':'GET','path':'/down'}"));
    char err[512];
    int64_t t0 = mono_ms();
    jv *o = run_op(op, NULL, NULL, mono_ms() + 700, err, sizeof err);
    int64_t took = mono_ms() - t0;
    assert_null(o);
    assert_non_null(strstr(err, "status 503"));
    assert_true(took < 700);
    assert_true(atomic_load(&down_calls) >= 2 && atomic_load(&down_calls) <= 3); /* 0, 200, 600 ms */
    /* a deadline already passed */
    o = run_op(op, NULL, NULL, mono_ms() - 1, err, sizeof err);
    assert_null(o);
    assert_non_null(strstr(err, "time limit"));
    connector_op_free(op);
}

static void *http_work(void *arg)
{
    const connector_op *op = arg;
    intptr_t bad = 0;
    for (int i = 0; i < 20; i++) {
        char err[512];
        jv *out = run_op(op, NULL, NULL, 0, err, sizeof err);
        if (!out || jv_len(out) != 3)
            bad++;
        jv_free(out);
    }
    return (void *)bad;
}

static void test_http_concurrent(void **state)
{
    connector_op *op = op_ok(SHAPE("api", "{'method':'GET','path':'/list'}"));
    pthread_t t[6];
    for (int i = 0; i < 6; i++)
        pthread_create(&t[i], NULL, http_work, op);
    for (int i = 0; i < 6; i++) {
        void *bad = NULL;
        pthread_join(t[i], &bad);
        assert_int_equal((intptr_t)bad, 0);
    }
    connector_op_free(op);
}

static void test_http_timeouts_and_limits(void **state)
{
    /* "basic": timeoutMs 150, retries 1 */
    connector_op *op = op_ok(SHAPE("basic", "{'method':'GET','path':'/slow'}"));
    int64_t t0 = mono_ms();
    run_fails(op, NULL, "HTTP GET /slow: ");
    int64_t took = mono_ms() - t0;
    assert_true(took >= 300 && took < 1500);
    char err[512];
    jv *o = run_op(op, NULL, NULL, 0, err, sizeof err);
    assert_null(o);
    assert_non_null(strstr(err, "timed out"));
    assert_non_null(strstr(err, "(2 attempts)"));
    /* the deadline cuts the per-attempt timeout */
    t0 = mono_ms();
    o = run_op(op, NULL, NULL, mono_ms() + 60, err, sizeof err);
    assert_null(o);
    assert_true(mono_ms() - t0 < 140);
    connector_op_free(op);
    usleep(450 * 1000); /* let the slow handlers free the server's threads */

    /* "basic": maxResponseBytes 1000 */
    op = op_ok(SHAPE("basic", "{'method':'GET','path':'/big','response':'text'}"));
    run_fails(op, NULL, "larger than 1000 bytes");
    connector_op_free(op);

    /* nothing listening: connection refused, retried */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s);
    char *t = jsf("{'component':'connection','name':'closed','type':'http','http':{'baseUrl':'http://127.0.0.1:%u',"
                  "'retries':1,'retryBackoffMs':1,'auth':{'bearer':'" SECRET_TOKEN "'}}}",
                  ntohs(a.sin_port));
    reg_add(conn_ok(t, NULL));
    free(t);
    op = op_ok(SHAPE("closed", "{'method':'POST','path':'/x'}"));
    run_fails(op, "{}", "(2 attempts)");
    connector_op_free(op);
}

/* ---- disk ---- */

static char tmpdir[64];

static int setup_disk(void **state)
{
    strcpy(tmpdir, "/tmp/sluice-conn-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    reg_add(conn_ok("{'component':'connection','name':'files','type':'disk','disk':{'root':'out/files'}}", tmpdir));
    return 0;
}

static int teardown_disk(void **state)
{
    reg_clear();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *read_path(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    sl_error e = {0};
    if (file_read(path, 1 << 20, &data, &len, &e) != 0)
        return NULL;
    return data;
}

static void test_disk_roundtrip(void **state)
{
    char path[256];
    connector_op *w = op_ok(SHAPE("files", "{'action':'write','filename':{'element':'Name'}}"));
    jv *out = run_ok(w, "{'Name':'a.json','x':1}", NULL); /* creates the root */
    assert_json(out, "[{'Name':'a.json','x':1}]");        /* the document passes through */
    jv_free(out);
    snprintf(path, sizeof path, "%s/out/files/a.json", tmpdir);
    char *text = read_path(path);
    assert_non_null(text);
    assert_string_equal(text, "{\"Name\":\"a.json\",\"x\":1}");
    free(text);
    connector_op *wt = op_ok(SHAPE("files", "{'action':'write','filename':{'const':'b.txt'},"
                                            "'content':{'fn':'upper','args':[{'element':'T'}]}}"));
    out = run_ok(wt, "{'T':'hello'}", NULL);
    jv_free(out);
    out = run_ok(wt, "{'T':'hello again'}", NULL); /* replaces */
    jv_free(out);

    connector_op *r = op_ok(SHAPE("files", "{'action':'read','filename':{'element':'F'},'as':'json'}"));
    out = run_ok(r, "{'F':'a.json'}", NULL);
    assert_json(out, "[{'Name':'a.json','x':1}]");
    jv_free(out);
    run_fails(r, "{'F':'b.txt'}", "disk read \"b.txt\": not JSON");
    run_fails(r, "{'F':'none.json'}", "no such file");
    connector_op *rt = op_ok(SHAPE("files", "{'action':'read','filename':{'element':'F'},'as':'text'}"));
    out = run_ok(rt, "{'F':'b.txt'}", NULL);
    assert_json(out, "[{'filename':'b.txt','content':'HELLO AGAIN'}]");
    jv_free(out);

    /* list: sorted, dot files, folders and symlinks left out */
    snprintf(path, sizeof path, "%s/out/files/.hidden", tmpdir);
    close(open(path, O_CREAT | O_WRONLY, 0644));
    snprintf(path, sizeof path, "%s/out/files/sub", tmpdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/out/files/link.json", tmpdir);
    assert_int_equal(symlink("a.json", path), 0);
    connector_op *l = op_ok(SHAPE("files", "{'action':'list'}"));
    out = run_ok(l, NULL, NULL);
    assert_int_equal(jv_len(out), 2);
    assert_string_equal(jv_get_str(jv_at(out, 0), "filename"), "a.json");
    assert_int_equal(jv_int(jv_get(jv_at(out, 0), "size")), 23);
    const char *mod = jv_get_str(jv_at(out, 0), "modified");
    assert_int_equal(strlen(mod), 24);
    assert_true(mod[23] == 'Z' && mod[10] == 'T');
    assert_string_equal(jv_get_str(jv_at(out, 1), "filename"), "b.txt");
    jv_free(out);
    connector_op *lp = op_ok(SHAPE("files", "{'action':'list','pattern':'*.txt'}"));
    out = run_ok(lp, NULL, NULL);
    assert_int_equal(jv_len(out), 1);
    assert_string_equal(jv_get_str(jv_at(out, 0), "filename"), "b.txt");
    jv_free(out);

    /* delete */
    connector_op *d = op_ok(SHAPE("files", "{'action':'delete','filename':{'element':'F'}}"));
    out = run_ok(d, "{'F':'a.json'}", NULL);
    assert_json(out, "[{'F':'a.json'}]");
    jv_free(out);
    run_fails(r, "{'F':'a.json'}", "no such file");
    run_fails(d, "{'F':'a.json'}", "no such file");
    run_fails(d, "{'F':'sub'}", "not a regular file");
    run_fails(r, "{'F':'sub'}", "not a regular file");

    connector_op_free(w);
    connector_op_free(wt);
    connector_op_free(r);
    connector_op_free(rt);
    connector_op_free(l);
    connector_op_free(lp);
    connector_op_free(d);
}

static void test_disk_traversal(void **state)
{
    char path[256];
    snprintf(path, sizeof path, "%s/secret.txt", tmpdir);
    FILE *f = fopen(path, "w");
    fputs("TOP", f);
    fclose(f);
    connector_op *w = op_ok(SHAPE("files", "{'action':'write','filename':{'element':'F'},'content':{'const':'x'}}"));
    connector_op *r = op_ok(SHAPE("files", "{'action':'read','filename':{'element':'F'},'as':'text'}"));
    connector_op *d = op_ok(SHAPE("files", "{'action':'delete','filename':{'element':'F'}}"));
    const char *bad[] = {"{'F':'../secret.txt'}", "{'F':'a/b'}", "{'F':'.hidden'}", "{'F':'..'}",
                         "{'F':'.'}",             "{'F':''}",    "{}",              "{'F':'/etc/passwd'}",
                         "{'F':'a\\\\b'}",         "{'F':'a\\nb'}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        run_fails(w, bad[i], "file name");
        run_fails(r, bad[i], "file name");
        run_fails(d, bad[i], "file name");
    }
    run_fails(w, "{'F':'a\\u0000b'}", "NUL");
    /* a symlink pointing outside the root is never followed */
    char link[256];
    snprintf(link, sizeof link, "%s/out/files/escape", tmpdir);
    mkdir(tmpdir, 0755);
    snprintf(path, sizeof path, "%s/out", tmpdir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/out/files", tmpdir);
    mkdir(path, 0755);
    assert_int_equal(symlink("../../secret.txt", link), 0);
    run_fails(r, "{'F':'escape'}", "symbolic link");
    jv *out = run_ok(w, "{'F':'escape'}", NULL); /* replaces the link itself */
    jv_free(out);
    snprintf(path, sizeof path, "%s/secret.txt", tmpdir);
    char *text = read_path(path);
    assert_string_equal(text, "TOP");
    free(text);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* a symlinked folder cannot be entered either */
    char dlink[256];
    snprintf(dlink, sizeof dlink, "%s/out/files/up", tmpdir);
    assert_int_equal(symlink("../..", dlink), 0);
    run_fails(r, "{'F':'up'}", "symbolic link");
    out = run_ok(d, "{'F':'up'}", NULL); /* removes the link, not its target */
    jv_free(out);
    assert_int_equal(access(path, F_OK), 0);
    connector_op_free(w);
    connector_op_free(r);
    connector_op_free(d);
}

/* ---- database ---- */

static int setup_db(void **state)
{
    strcpy(tmpdir, "/tmp/sluice-conn-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    char path[128];
    snprintf(path, sizeof path, "%s/t.db", tmpdir);
    FILE *f = fopen(path, "w"); /* sqldb never creates a database file: an empty file is an empty database */
    if (!f)
        return -1;
    fclose(f);
    reg_add(conn_ok("{'component':'connection','name':'db','type':'database','database':{'kind':'sqlite',"
                    "'path':'t.db'}}",
                    tmpdir));
    return 0;
}

static void test_database(void **state)
{
    connector_op *ddl = op_ok(SHAPE("db", "{'action':'execute','sql':'create table c (id integer primary key, "
                                          "name text not null, note text)'}"));
    jv *out = run_ok(ddl, NULL, NULL);
    jv_free(out);
    connector_op *ins = op_ok(SHAPE("db", "{'action':'execute','sql':'insert into c (id, name, note) values "
                                          "(:id, :name, :note)','params':{'note':{'element':'Note'},"
                                          "'name':{'element':'Name'},'id':{'element':'Id'}}}"));
    jv *props = js("{}");
    out = run_ok(ins, "{'Id':1,'Name':'Ann','Note':'x'}", props);
    assert_json(out, "[{'Id':1,'Name':'Ann','Note':'x'}]");
    assert_string_equal(jv_get_str(props, "rowsAffected"), "1");
    jv_free(out);
    out = run_ok(ins, "{'Id':2,'Name':'Bob\\u0027 ; drop table c; --'}", props); /* empty note binds NULL */
    jv_free(out);
    out = run_ok(ins, "{'Id':3,'Name':'Cy'}", props);
    jv_free(out);
    run_fails(ins, "{'Id':3,'Name':'Dup'}", "database execute failed");

    connector_op *upd = op_ok(SHAPE("db", "{'action':'execute','sql':'update c set note = :n where id > :min',"
                                          "'params':{'n':{'const':'z'},'min':{'const':'1'}}}"));
    out = run_ok(upd, NULL, props);
    assert_string_equal(jv_get_str(props, "rowsAffected"), "2");
    jv_free(out);

    /* each row becomes a document; literals and comments that look like :names are left alone */
    connector_op *q = op_ok(SHAPE("db", "{'action':'query','sql':'select id, name, \\u0027:lit\\u0027 as l, "
                                        "note from c where id >= :min and id <= :min + 1 -- :other\\n order by id',"
                                        "'params':{'min':{'element':'From'}}}"));
    out = run_ok(q, "{'From':'1'}", NULL);
    assert_json(out, "[{'id':'1','name':'Ann','l':':lit','note':'x'},"
                     "{'id':'2','name':'Bob\\u0027 ; drop table c; --','l':':lit','note':'z'}]");
    jv_free(out);
    out = run_ok(q, "{'From':'5'}", NULL);
    assert_int_equal(jv_len(out), 0);
    jv_free(out);
    connector_op *qn = op_ok(SHAPE("db", "{'action':'query','sql':'select count(*) as n from c where note is null'}"));
    out = run_ok(qn, NULL, NULL);
    assert_json(out, "[{'n':'0'}]");
    jv_free(out);

    connector_op *cap = op_ok(SHAPE("db", "{'action':'query','sql':'select * from c','maxRows':2}"));
    run_fails(cap, NULL, "more than maxRows (2)");
    connector_op *bad = op_ok(SHAPE("db", "{'action':'query','sql':'select * from nope'}"));
    run_fails(bad, NULL, "database query failed");

    jv_free(props);
    connector_op_free(ddl);
    connector_op_free(ins);
    connector_op_free(upd);
    connector_op_free(q);
    connector_op_free(qn);
    connector_op_free(cap);
    connector_op_free(bad);
}

typedef struct worker {
    const connector_op *op;
    const char *doc;
    size_t expect_docs;
    int failures;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    for (int i = 0; i < 25; i++) {
        char err[512];
        jv *props = jv_new_object();
        jv *out = run_op(w->op, w->doc, props, mono_ms() + 10000, err, sizeof err);
        if (!out || jv_len(out) != w->expect_docs)
            w->failures++;
        jv_free(out);
        jv_free(props);
    }
    return NULL;
}

/* One operation shared by many threads (the pool and the HTTP client are shared state). */
static void test_concurrent_runs(void **state)
{
    connector_op *q = op_ok(SHAPE("db", "{'action':'query','sql':'select id from c where id <= :n',"
                                        "'params':{'n':{'element':'N'}}}"));
    connector_op *ins = op_ok(SHAPE("db", "{'action':'execute','sql':'insert into c (name) values (:name)',"
                                          "'params':{'name':{'const':'w'}}}"));
    pthread_t t[8];
    worker w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker){i % 2 ? q : ins, "{'N':'2'}", i % 2 ? 2 : 1, 0};
        pthread_create(&t[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    connector_op *n = op_ok(SHAPE("db", "{'action':'query','sql':'select count(*) as n from c where name = :w',"
                                        "'params':{'w':{'const':'w'}}}"));
    jv *out = run_ok(n, NULL, NULL);
    assert_json(out, "[{'n':'100'}]");
    jv_free(out);
    connector_op_free(q);
    connector_op_free(ins);
    connector_op_free(n);
}

/* Against a live PostgreSQL when SLUICE_TEST_PG_PORT names one on 127.0.0.1 (user postgres,
 * database postgres, no password); skipped otherwise. */
static void test_database_postgres(void **state)
{
    const char *pgport = getenv("SLUICE_TEST_PG_PORT");
    if (!pgport || !*pgport) {
        skip();
        return;
    }
    char *t = jsf("{'component':'connection','name':'pg','type':'database','database':{'kind':'postgresql',"
                  "'host':'127.0.0.1','port':'%s','user':'postgres','database':'postgres','noSsl':true}}",
                  pgport);
    reg_add(conn_ok(t, NULL));
    free(t);
    connector_op *ddl = op_ok(SHAPE("pg", "{'action':'execute','sql':'drop table if exists sluice_conn_test'}"));
    jv *out = run_ok(ddl, NULL, NULL);
    jv_free(out);
    connector_op_free(ddl);
    ddl = op_ok(SHAPE("pg", "{'action':'execute','sql':'create table sluice_conn_test (id int primary key, "
                            "name text, n numeric)'}"));
    out = run_ok(ddl, NULL, NULL);
    jv_free(out);
    connector_op *ins = op_ok(SHAPE("pg", "{'action':'execute','sql':'insert into sluice_conn_test values "
                                          "(:id::int, :name, :n::numeric)','params':{'id':{'element':'Id'},"
                                          "'name':{'element':'Name'},'n':{'element':'N'}}}"));
    jv *props = js("{}");
    out = run_ok(ins, "{'Id':1,'Name':'Ann','N':'12345678901234567890.125'}", props);
    assert_string_equal(jv_get_str(props, "rowsAffected"), "1");
    jv_free(out);
    out = run_ok(ins, "{'Id':2,'Name':'$$ :x $$'}", props);
    jv_free(out);
    connector_op *q = op_ok(SHAPE("pg", "{'action':'query','sql':'select id, name, n, $q$:lit$q$ as l "
                                        "from sluice_conn_test where id >= :min::int and id < :min::int + 5 order by id',"
                                        "'params':{'min':{'const':'1'}}}"));
    out = run_ok(q, NULL, NULL);
    assert_json(out, "[{'id':'1','name':'Ann','n':'12345678901234567890.125','l':':lit'},"
                     "{'id':'2','name':'$$ :x $$','n':null,'l':':lit'}]");
    jv_free(out);
    connector_op *drop = op_ok(SHAPE("pg", "{'action':'execute','sql':'drop table sluice_conn_test'}"));
    out = run_ok(drop, NULL, NULL);
    jv_free(out);
    jv_free(props);
    connector_op_free(ddl);
    connector_op_free(ins);
    connector_op_free(q);
    connector_op_free(drop);
}

int main(void)
{
    const struct CMUnitTest validation[] = {
        cmocka_unit_test(test_connection_validation),
        cmocka_unit_test(test_operation_validation),
        cmocka_unit_test(test_link_values),
    };
    const struct CMUnitTest http[] = {
        cmocka_unit_test(test_http_get),
        cmocka_unit_test(test_http_bodies),
        cmocka_unit_test(test_http_responses),
        cmocka_unit_test(test_http_retries),
        cmocka_unit_test(test_http_concurrent),
        cmocka_unit_test(test_http_timeouts_and_limits),
    };
    const struct CMUnitTest disk[] = {
        cmocka_unit_test(test_disk_roundtrip),
        cmocka_unit_test(test_disk_traversal),
    };
    const struct CMUnitTest db[] = {
        cmocka_unit_test(test_database),
        cmocka_unit_test(test_concurrent_runs),
        cmocka_unit_test(test_database_postgres),
    };
    int failed = cmocka_run_group_tests_name("connector validation", validation, setup_links, teardown_links);
    failed += cmocka_run_group_tests_name("connector http", http, setup_http, teardown_http);
    failed += cmocka_run_group_tests_name("connector disk", disk, setup_disk, teardown_disk);
    failed += cmocka_run_group_tests_name("connector database", db, setup_db, teardown_disk);
    return failed ? 1 : 0;
}
