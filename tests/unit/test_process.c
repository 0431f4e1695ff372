/* Unit tests for atom/process (and atom/value): validation with exact problem pointers, linking
 * against profiles, map semantics (constants, copies, functions, nested objects, arrays), set
 * properties, decisions, branch order, return/stop/exception, limits, stats and concurrency.
 * JSON in these tests is written with single quotes for readability; js() swaps them (a literal
 * quote inside a JSON string is written \u0027). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stdatomic.h>
#include <unistd.h>

#include "atom/process.h"

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

/* ---- profiles ---- */

static const char *const req_profile =
    "{'component':'profile','name':'Req','root':{'name':'Order','type':'Object','children':["
    "{'name':'Customer','type':'Character'},"
    "{'name':'Total','type':'Number'},"
    "{'name':'Paid','type':'Boolean'},"
    "{'name':'Placed','type':'DateTime'},"
    "{'name':'Text','type':'Character'},"
    "{'name':'Address','type':'Object','children':[{'name':'City','type':'Character'},{'name':'Zip','type':'Character'}]},"
    "{'name':'Lines','type':'Array','children':[{'name':'Sku','type':'Character'},{'name':'Qty','type':'Number'},"
    "{'name':'Parts','type':'Array','children':[{'name':'Part','type':'Character'}]}]}"
    "]}}";

static const char *const resp_profile =
    "{'component':'profile','name':'Resp','root':{'name':'Out','type':'Object','children':["
    "{'name':'Message','type':'Character'},"
    "{'name':'Total','type':'Number'},"
    "{'name':'Paid','type':'Boolean'},"
    "{'name':'When','type':'DateTime'},"
    "{'name':'Day','type':'Character'},"
    "{'name':'Amount','type':'Character'},"
    "{'name':'Count','type':'Number'},"
    "{'name':'Name','type':'Character'},"
    "{'name':'Ship','type':'Object','children':[{'name':'Town','type':'Character'},"
    "{'name':'Geo','type':'Object','children':[{'name':'Zip','type':'Character'}]}]},"
    "{'name':'Items','type':'Array','children':[{'name':'Code','type':'Character'},{'name':'Quantity','type':'Number'},"
    "{'name':'Currency','type':'Character'},{'name':'Bits','type':'Array','children':[{'name':'Bit','type':'Character'}]}]}"
    "]}}";

typedef struct registry {
    profile *items[4];
    size_t n;
} registry;

static registry g_reg; /* set up once per test group; read-only while tests run */

static const profile *lookup(void *ctx, const char *name)
{
    registry *r = ctx;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i]->name, name) == 0)
            return r->items[i];
    return NULL;
}

static int setup_profiles(void **state)
{
    const char *texts[] = {req_profile, resp_profile};
    for (size_t i = 0; i < 2; i++) {
        jv *doc = js(texts[i]);
        sl_problems pr;
        problems_init(&pr);
        profile *p = NULL;
        int rc = profile_parse(doc, "p.json", &p, &pr);
        for (size_t k = 0; k < pr.n; k++)
            print_error("profile problem %s: %s\n", pr.items[k].pointer, pr.items[k].message);
        problems_free(&pr);
        jv_free(doc);
        if (rc)
            return -1;
        g_reg.items[g_reg.n++] = p;
    }
    return 0;
}

static int teardown_profiles(void **state)
{
    for (size_t i = 0; i < g_reg.n; i++)
        profile_free(g_reg.items[i]);
    g_reg.n = 0;
    return 0;
}

/* ---- helpers ---- */

#define START(req, next)                                                                                      \
    "{'id':'start','type':'start','connector':'flowservices','action':'Listen','operation':{'serviceType':'Message " \
    "Action','requestProfile':'" req "','responseProfile':'Resp'},'next':'" next "'}"

#define PROC(shapes) "{'component':'process','name':'P','shapes':[" shapes "]}"

static void dump_problems(const sl_problems *pr)
{
    for (size_t i = 0; i < pr->n; i++)
        print_error("  problem %s: %s\n", pr->items[i].pointer, pr->items[i].message);
}

/* Parses and links a process that must be valid. */
static process *proc_ok(const char *text)
{
    jv *doc = js(text);
    sl_problems pr;
    problems_init(&pr);
    process *p = NULL;
    int rc = process_parse(doc, "proc.json", &p, &pr);
    if (rc == 0)
        rc = process_link(p, lookup, &g_reg, &pr);
    dump_problems(&pr);
    assert_int_equal(pr.n, 0);
    assert_int_equal(rc, 0);
    problems_free(&pr);
    jv_free(doc);
    return p;
}

/* Parses (and, when that succeeds, links) a process expected to have problems. */
static void proc_bad(const char *text, sl_problems *pr, bool expect_parse_fail)
{
    jv *doc = js(text);
    problems_init(pr);
    process *sentinel = (process *)(uintptr_t)0x1, *p = sentinel;
    int rc = process_parse(doc, "proc.json", &p, pr);
    if (expect_parse_fail) {
        assert_int_equal(rc, SL_EINVAL);
        assert_ptr_equal(p, sentinel);
    } else {
        assert_int_equal(rc, 0);
        assert_int_equal(process_link(p, lookup, &g_reg, pr), SL_EINVAL);
        process_free(p);
    }
    assert_true(pr->n > 0);
    jv_free(doc);
}

/* Asserts a problem at exactly `pointer` whose message contains `part`. */
static void assert_problem(const sl_problems *pr, const char *pointer, const char *part)
{
    for (size_t i = 0; i < pr->n; i++)
        if (strcmp(pr->items[i].pointer, pointer) == 0 && strstr(pr->items[i].message, part) &&
            strcmp(pr->items[i].file, "proc.json") == 0)
            return;
    dump_problems(pr);
    fail_msg("no problem at \"%s\" containing \"%s\"", pointer, part);
}

/* Expects exactly one problem, at pointer, containing part. */
static void expect_one(const char *text, bool parse_fail, const char *pointer, const char *part)
{
    sl_problems pr;
    proc_bad(text, &pr, parse_fail);
    assert_problem(&pr, pointer, part);
    if (pr.n != 1) {
        dump_problems(&pr);
        fail_msg("expected exactly one problem, got %zu", pr.n);
    }
    problems_free(&pr);
}

static int run(const process *p, const char *docs, const char *props, const process_limits *lim,
               process_result *res)
{
    jv *d = js(docs);
    jv *pp = props ? js(props) : NULL;
    int rc = process_run(p, d, pp, lim, res);
    jv_free(d);
    jv_free(pp);
    return rc;
}

static void assert_json(const jv *v, const char *expected)
{
    jv *e = js(expected);
    if (!jv_equal(v, e)) {
        char *a = jv_dumps(v), *b = jv_dumps(e);
        print_error("got      %s\nexpected %s\n", a, b);
        free(a);
        free(b);
        fail();
    }
    jv_free(e);
}

static const process_shape_stat *stat_of(const process_result *res, const char *id)
{
    for (size_t i = 0; i < res->nstats; i++)
        if (strcmp(res->stats[i].id, id) == 0)
            return &res->stats[i];
    fail_msg("no stats for %s", id);
    return NULL;
}

/* Runs map(value → Message) on doc; returns the Message text (malloc'd; NULL when omitted),
 * or fails the test. When err is non-NULL the execution is expected to fail and err receives
 * the error. */
static char *eval_value(const char *value_json, const char *doc_json, char *err, size_t errsz)
{
    char text[4096];
    snprintf(text, sizeof text,
             PROC(START("Req", "m") ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Message',"
                                    "'value':%s}],'next':'r'},{'id':'r','type':'return'}"),
             value_json);
    process *p = proc_ok(text);
    char docs[4096];
    snprintf(docs, sizeof docs, "[%s]", doc_json);
    process_result res;
    int rc = run(p, docs, NULL, NULL, &res);
    char *out = NULL;
    if (err) {
        assert_int_equal(rc, SL_EEXEC);
        assert_false(res.ok);
        snprintf(err, errsz, "%s", res.error);
    } else {
        if (rc)
            fail_msg("unexpected failure: %s", res.error);
        const char *m = jv_get_str(jv_at(res.documents, 0), "Message");
        out = m ? xstrdup(m) : NULL;
    }
    process_result_free(&res);
    process_free(p);
    return out;
}

static void check_text(const char *value_json, const char *doc_json, const char *expected)
{
    char *got = eval_value(value_json, doc_json, NULL, 0);
    if (!expected) {
        if (got)
            fail_msg("%s: expected nothing, got \"%s\"", value_json, got);
    } else if (!got || strcmp(got, expected) != 0) {
        fail_msg("%s: expected \"%s\", got \"%s\"", value_json, expected, got ? got : "(missing)");
    }
    free(got);
}

static void check_error(const char *value_json, const char *doc_json, const char *part)
{
    char err[600];
    free(eval_value(value_json, doc_json, err, sizeof err));
    if (!strstr(err, part))
        fail_msg("error \"%s\" does not contain \"%s\"", err, part);
}

/* ---- validation ---- */

static void test_valid_minimal(void **state)
{
    process *p = proc_ok(PROC(START("Req", "r") ",{'id':'r','type':'return'}"));
    assert_string_equal(process_name(p), "P");
    assert_string_equal(process_file(p), "proc.json");
    const process_start_op *op = process_start(p);
    assert_int_equal(op->service_type, SERVICE_MESSAGE_ACTION);
    assert_string_equal(op->request_profile, "Req");
    assert_string_equal(op->response_profile, "Resp");
    assert_ptr_equal(op->request, g_reg.items[0]);
    assert_ptr_equal(op->response, g_reg.items[1]);
    assert_int_equal(op->sync_timeout_ms, 30000);
    process_free(p);
}

static void test_graph_problems(void **state)
{
    /* unknown edge target */
    expect_one(PROC(START("Req", "r") ",{'id':'r','type':'setproperties','properties':[],'next':'x'}"), true,
               "/shapes/1/next", "unknown shape \"x\"");
    /* cycle a -> b -> a (reported at the edge closing it) */
    expect_one(PROC(START("Req", "a") ",{'id':'a','type':'setproperties','properties':[],'next':'b'},"
                                      "{'id':'b','type':'setproperties','properties':[],'next':'a'}"),
               true, "/shapes/2/next", "closes a cycle");
    /* self loop */
    expect_one(PROC(START("Req", "a") ",{'id':'a','type':'setproperties','properties':[],'next':'a'}"), true,
               "/shapes/1/next", "cycle");
    /* unreachable */
    expect_one(PROC(START("Req", "r") ",{'id':'r','type':'return'},{'id':'lost','type':'stop'}"), true,
               "/shapes/2", "not reachable");
    /* two starts */
    {
        sl_problems pr;
        proc_bad(PROC(START("Req", "r") ",{'id':'r','type':'return'},"
                                        "{'id':'s2','type':'start','connector':'flowservices','action':'Listen',"
                                        "'operation':{'serviceType':'Message Action'},'next':'r'}"),
                 &pr, true);
        assert_problem(&pr, "/shapes/2", "exactly one start shape");
        problems_free(&pr);
    }
    /* no start */
    expect_one(PROC("{'id':'r','type':'return'}"), true, "/shapes", "needs a start shape");
    /* duplicate ids */
    {
        sl_problems pr;
        proc_bad(PROC(START("Req", "r") ",{'id':'r','type':'return'},{'id':'r','type':'stop'}"), &pr, true);
        assert_problem(&pr, "/shapes/2/id", "duplicate shape id \"r\" (also at /shapes/1)");
        problems_free(&pr);
    }
    /* branch targets */
    expect_one(PROC(START("Req", "b") ",{'id':'b','type':'branch','branches':['r','nope']},{'id':'r','type':'return'}"),
               true, "/shapes/1/branches/1", "unknown shape \"nope\"");
    {
        /* (r is then unreachable too) */
        sl_problems pr;
        proc_bad(PROC(START("Req", "b") ",{'id':'b','type':'branch','branches':['r']},{'id':'r','type':'return'}"), &pr,
                 true);
        assert_problem(&pr, "/shapes/1/branches", "2 to 25");
        assert_problem(&pr, "/shapes/2", "shape \"r\" is not reachable");
        problems_free(&pr);
    }
}

static void test_member_problems(void **state)
{
    /* unknown member in a shape */
    expect_one(PROC(START("Req", "r") ",{'id':'r','type':'return','colour':'red'}"), true, "/shapes/1/colour",
               "unknown member \"colour\" in a return shape");
    /* unknown top-level member, wrong component */
    {
        sl_problems pr;
        proc_bad("{'component':'proces','name':'P','extra':1,'shapes':[" START("Req", "r") ",{'id':'r','type':'return'}]}",
                 &pr, true);
        assert_problem(&pr, "/extra", "unknown member");
        assert_problem(&pr, "/component", "must be \"process\"");
        assert_int_equal(pr.n, 2);
        problems_free(&pr);
    }
    expect_one("{'component':'process','name':'P','shapes':[]}", true, "/shapes", "non-empty array");
    expect_one("{'component':'process','shapes':[" START("Req", "r") ",{'id':'r','type':'return'}]}", true, "",
               "missing required member \"name\"");
    /* missing next, bad type, bad id */
    expect_one(PROC(START("Req", "r") ",{'id':'r','type':'setproperties','properties':[]}"), true, "/shapes/1",
               "missing required member \"next\"");
    expect_one(PROC(START("Req", "t") ",{'id':'t','type':'teleport'}"), true, "/shapes/1/type",
               "unknown shape type \"teleport\"");
    {
        sl_problems pr;
        proc_bad(PROC(START("Req", "r") ",{'id':'r','type':'return'},{'id':'"
                      "x1234567890123456789012345678901234567890123456789012345678901234','type':'stop'}"),
                 &pr, true);
        assert_problem(&pr, "/shapes/2/id", "1 to 64");
        problems_free(&pr);
    }
    /* start shape members */
    expect_one(PROC("{'id':'s','type':'start','connector':'http','action':'Listen','operation':{'serviceType':'Message "
                    "Action'},'next':'r'},{'id':'r','type':'return'}"),
               true, "/shapes/0/connector", "flowservices");
    expect_one(PROC("{'id':'s','type':'start','connector':'flowservices','action':'Listen','operation':{'serviceType':"
                    "'Message Action','syncTimeoutMs':0},'next':'r'},{'id':'r','type':'return'}"),
               true, "/shapes/0/operation/syncTimeoutMs", "1 to 3600000");
    expect_one(PROC("{'id':'s','type':'start','connector':'flowservices','action':'Listen','operation':{'serviceType':"
                    "'Message Action','timeout':5},'next':'r'},{'id':'r','type':'return'}"),
               true, "/shapes/0/operation/timeout", "unknown member");
    /* decision */
    expect_one(PROC(START("Req", "d") ",{'id':'d','type':'decision','left':{'const':1},'comparison':'bigger',"
                                      "'right':{'const':2},'true':'r','false':'r'},{'id':'r','type':'return'}"),
               true, "/shapes/1/comparison", "unknown comparison \"bigger\"");
    expect_one(PROC(START("Req", "d") ",{'id':'d','type':'decision','left':{'const':1},'comparison':'equals',"
                                      "'true':'r','false':'r'},{'id':'r','type':'return'}"),
               true, "/shapes/1", "missing required member \"right\"");
    /* is_empty needs no right */
    process *p = proc_ok(PROC(START("Req", "d") ",{'id':'d','type':'decision','left':{'element':'Customer'},"
                                                "'comparison':'is_empty','true':'r','false':'r'},{'id':'r','type':'return'}"));
    process_free(p);
    /* exception */
    expect_one(PROC(START("Req", "e") ",{'id':'e','type':'exception','message':'{1} and {3}','params':[{'const':'a'}]}"),
               true, "/shapes/1/message", "{3}");
}

static void test_value_problems(void **state)
{
#define MAP1(value) PROC(START("Req", "m") ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Message','value':" value "}],'next':'r'},{'id':'r','type':'return'}")
    expect_one(MAP1("{'fn':'upper','args':[{'const':'a'},{'const':'b'}]}"), true, "/shapes/1/mappings/0/value/args",
               "upper takes 1 argument, got 2");
    expect_one(MAP1("{'fn':'add','args':[{'const':1}]}"), true, "/shapes/1/mappings/0/value/args", "add takes 2 arguments");
    expect_one(MAP1("{'fn':'default','args':[{'const':1}]}"), true, "/shapes/1/mappings/0/value/args", "2 to");
    expect_one(MAP1("{'fn':'shout','args':[]}"), true, "/shapes/1/mappings/0/value/fn", "unknown function \"shout\"");
    expect_one(MAP1("{'fn':'upper'}"), true, "/shapes/1/mappings/0/value", "missing required member \"args\"");
    expect_one(MAP1("{'fn':'upper','args':[{'const':'a'}],'separator':'-'}"), true,
               "/shapes/1/mappings/0/value/separator", "unknown option");
    expect_one(MAP1("{'fn':'concat','args':[{'const':'a'},{'fn':'trim','args':[{'elemnt':'x'}]}]}"), true,
               "/shapes/1/mappings/0/value/args/1/args/0", "exactly one of");
    expect_one(MAP1("{'const':'a','element':'Customer'}"), true, "/shapes/1/mappings/0/value", "exactly one of");
    expect_one(MAP1("{'const':null}"), true, "/shapes/1/mappings/0/value/const", "string, number or boolean");
    expect_one(MAP1("{'element':'Address//City'}"), true, "/shapes/1/mappings/0/value/element", "no element name");
    expect_one(MAP1("{'fn':'date_format','args':[{'element':'Placed'}],'outputFormat':'yyyy-QQ'}"), true,
               "/shapes/1/mappings/0/value/outputFormat", "unsupported letters \"QQ\"");
    expect_one(MAP1("{'fn':'date_format','args':[{'element':'Placed'}],'inputFormat':'yyyy-\\u0027T'}"), true,
               "/shapes/1/mappings/0/value/inputFormat", "unterminated");
    expect_one(MAP1("{'fn':'number_format','args':[{'element':'Total'}],'format':'0.0x'}"), true,
               "/shapes/1/mappings/0/value/format", "unsupported number format");
    expect_one(MAP1("{'fn':'number_format','args':[{'element':'Total'}]}"), true, "/shapes/1/mappings/0/value",
               "needs the option \"format\"");
    expect_one(MAP1("{'fn':'substring','args':[{'element':'Customer'}],'start':-1}"), true,
               "/shapes/1/mappings/0/value/start", "integer");
    expect_one(MAP1("{'fn':'count','args':[{'const':'x'}]}"), true, "/shapes/1/mappings/0/value/args/0",
               "count takes the path");
    /* the value iterates more arrays than the target */
    expect_one(MAP1("{'element':'Lines[]/Sku'}"), true, "/shapes/1/mappings/0", "iterates 1 array level");
    /* a mapping target cannot end in [] */
    expect_one(PROC(START("Req", "m") ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Items[]',"
                                      "'value':{'const':1}}],'next':'r'},{'id':'r','type':'return'}"),
               true, "/shapes/1/mappings/0/to", "not an Array item");
    /* every problem is reported, not just the first */
    {
        sl_problems pr;
        proc_bad(PROC(START("Req", "m") ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':["
                                        "{'to':'Message','value':{'fn':'lower','args':[]}},"
                                        "{'to':'Name','value':{'property':''}},{'too':'x'}],'next':'gone'}"),
                 &pr, true);
        assert_problem(&pr, "/shapes/1/mappings/0/value/args", "lower takes 1 argument, got 0");
        assert_problem(&pr, "/shapes/1/mappings/1/value/property", "non-empty");
        assert_problem(&pr, "/shapes/1/mappings/2/too", "unknown member");
        assert_problem(&pr, "/shapes/1/mappings/2", "missing required member \"to\"");
        assert_problem(&pr, "/shapes/1/mappings/2", "missing required member \"value\"");
        assert_problem(&pr, "/shapes/1/next", "unknown shape \"gone\"");
        problems_free(&pr);
    }
#undef MAP1
}

static void test_link_problems(void **state)
{
    /* unknown profiles, each at its own pointer */
    {
        sl_problems pr;
        proc_bad(PROC(START("Nope", "m") ",{'id':'m','type':'map','from':'Req','to':'Missing','mappings':[],'next':'r'},"
                                         "{'id':'r','type':'return'}"),
                 &pr, false);
        assert_problem(&pr, "/shapes/0/operation/requestProfile", "unknown profile \"Nope\"");
        assert_problem(&pr, "/shapes/1/to", "unknown profile \"Missing\"");
        assert_int_equal(pr.n, 2);
        problems_free(&pr);
    }
#define MAPL(to, value) PROC(START("Req", "m") ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[{'to':'" to "','value':" value "}],'next':'r'},{'id':'r','type':'return'}")
    expect_one(MAPL("Mesage", "{'const':'x'}"), false, "/shapes/1/mappings/0/to", "no element \"Mesage\"");
    expect_one(MAPL("Message", "{'element':'Custmer'}"), false, "/shapes/1/mappings/0/value/element",
               "no element \"Custmer\"");
    expect_one(MAPL("Ship", "{'const':'x'}"), false, "/shapes/1/mappings/0/to", "Object");
    expect_one(MAPL("Ship/Geo/Zap", "{'const':'x'}"), false, "/shapes/1/mappings/0/to", "no element \"Zap\" in \"Geo\"");
    expect_one(MAPL("Items/Code", "{'const':'x'}"), false, "/shapes/1/mappings/0/to", "write \"Items[]\"");
    expect_one(MAPL("Message[]/X", "{'const':'x'}"), false, "/shapes/1/mappings/0/to", "not an Array");
    expect_one(MAPL("Message", "{'element':'Address'}"), false, "/shapes/1/mappings/0/value/element", "an Object");
    expect_one(MAPL("Items[]/Code", "{'element':'Lines[]'}"), false, "/shapes/1/mappings/0/value/element", "Array item");
    expect_one(MAPL("Message", "{'element':'Customer/Name'}"), false, "/shapes/1/mappings/0/value/element",
               "has no children");
    expect_one(MAPL("Count", "{'fn':'count','args':[{'element':'Customer'}]}"), false,
               "/shapes/1/mappings/0/value/args/0/element", "count needs the path of an Array");
#undef MAPL
    /* element paths of a decision are checked against the documents arriving there: after the
     * map they have the map's "to" profile */
    expect_one(PROC(START("Req", "m") ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[],'next':'d'},"
                                      "{'id':'d','type':'decision','left':{'element':'Customer'},'comparison':'is_empty',"
                                      "'true':'r','false':'r'},{'id':'r','type':'return'}"),
               false, "/shapes/2/left/element", "no element \"Customer\"");
    /* ... and before it the request profile */
    expect_one(PROC(START("Req", "p") ",{'id':'p','type':'setproperties','properties':[{'name':'a','value':"
                                      "{'fn':'upper','args':[{'element':'Nme'}]}}],'next':'r'},{'id':'r','type':'return'}"),
               false, "/shapes/1/properties/0/value/args/0/element", "no element \"Nme\"");
    /* where two paths with different profiles meet, paths are not checked */
    process *p = proc_ok(PROC(START("Req", "b") ",{'id':'b','type':'branch','branches':['m','e']},"
                                                "{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[],'next':'e'},"
                                                "{'id':'e','type':'exception','message':'{1}','params':[{'element':'Whatever'}]}"));
    process_free(p);
}

/* ---- execution ---- */

static void test_map_basic(void **state)
{
    process *p = proc_ok(PROC(START("Req", "m") ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':["
        "{'to':'Message','value':{'fn':'concat','args':[{'const':'Hello, '},{'element':'Customer'}]}},"
        "{'to':'Name','value':{'fn':'concat','separator':' ','args':[{'fn':'upper','args':[{'element':'Customer'}]},"
        "{'fn':'lower','args':[{'const':'XY'}]},{'fn':'trim','args':[{'const':'  z  '}]}]}},"
        "{'to':'Total','value':{'element':'Total'}},"
        "{'to':'Paid','value':{'const':'TRUE'}},"
        "{'to':'When','value':{'element':'Placed'}},"
        "{'to':'Day','value':{'fn':'date_format','args':[{'element':'Placed'}],'outputFormat':'dd/MM/yyyy HH:mm'}},"
        "{'to':'Amount','value':{'fn':'number_format','args':[{'element':'Total'}],'format':'#,##0.00'}},"
        "{'to':'Count','value':{'fn':'add','args':[{'const':2},{'const':'3'}]}},"
        "{'to':'Ship/Town','value':{'element':'Address/City'}},"
        "{'to':'Ship/Geo/Zip','value':{'fn':'default','args':[{'element':'Text'},{'element':'Address/Zip'},{'const':'00000'}]}},"
        "{'to':'Message','value':{'fn':'concat','args':[{'const':'Hello, '},{'element':'Customer'},{'const':'!'}]}}"
        "],'next':'r'},{'id':'r','type':'return'}"));
    process_result res;
    int rc = run(p,
                 "[{'Customer':'Ann','Total':1234567.005,'Placed':'2024-03-05T10:20:30.456Z','Address':{'City':'Oslo'}},"
                 " {'Customer':'Bo','Total':-0.5,'Address':{'City':'Rome','Zip':'00100'}}]",
                 NULL, NULL, &res);
    assert_int_equal(rc, 0);
    assert_true(res.ok);
    assert_json(res.documents,
                "[{'Message':'Hello, Ann!','Name':'ANN xy z','Total':1234567.005,'Paid':true,"
                "'When':'2024-03-05T10:20:30.456Z','Day':'05/03/2024 10:20','Amount':'1,234,567.01','Count':5,"
                "'Ship':{'Town':'Oslo','Geo':{'Zip':'00000'}}},"
                " {'Message':'Hello, Bo!','Name':'BO xy z','Total':-0.5,'Paid':true,'Amount':'-0.50','Count':5,"
                "'Ship':{'Town':'Rome','Geo':{'Zip':'00100'}}}]");
    assert_json(res.properties, "{}");
    const process_shape_stat *st = stat_of(&res, "m");
    assert_int_equal(st->docs_in, 2);
    assert_int_equal(st->docs_out, 2);
    assert_int_equal(st->runs, 1);
    assert_null(st->error);
    process_result_free(&res);
    process_free(p);
}

static void test_map_arrays(void **state)
{
    /* Items[] follows Lines[], Bits[] follows Parts[]; the constant goes into every item the
     * other mappings created; a document without Lines gets none */
    process *p = proc_ok(PROC(START("Req", "m") ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':["
        "{'to':'Items[]/Code','value':{'element':'Lines[]/Sku'}},"
        "{'to':'Items[]/Quantity','value':{'fn':'multiply','args':[{'element':'Lines[]/Qty'},{'const':10}]}},"
        "{'to':'Items[]/Currency','value':{'const':'EUR'}},"
        "{'to':'Items[]/Bits[]/Bit','value':{'fn':'concat','args':[{'element':'Customer'},{'const':':'},"
        "{'fn':'upper','args':[{'element':'Lines[]/Parts[]/Part'}]}]}},"
        "{'to':'Count','value':{'fn':'count','args':[{'element':'Lines'}]}}"
        "],'next':'r'},{'id':'r','type':'return'}"));
    process_result res;
    int rc = run(p,
                 "[{'Customer':'c','Lines':[{'Sku':'A','Qty':1,'Parts':[{'Part':'p1'},{'Part':'p2'}]},"
                 "{'Sku':'B','Qty':2.5},{'Qty':3,'Parts':[{'Part':'q'}]}]},{'Customer':'none'}]",
                 NULL, NULL, &res);
    if (rc)
        fail_msg("%s", res.error);
    assert_json(res.documents,
                "[{'Items':[{'Code':'A','Quantity':10,'Currency':'EUR','Bits':[{'Bit':'c:P1'},{'Bit':'c:P2'}]},"
                "{'Code':'B','Quantity':25,'Currency':'EUR'},{'Quantity':30,'Currency':'EUR','Bits':[{'Bit':'c:Q'}]}],"
                "'Count':3},{'Count':0}]");
    process_result_free(&res);
    process_free(p);
}

static void test_functions(void **state)
{
    const char *doc = "{'Customer':'  Ann Lee ','Total':2.675,'Text':'h\\u00e9llo','Placed':'2024-02-29T23:30:00.000Z'}";
    check_text("{'fn':'substring','args':[{'element':'Customer'}],'start':2,'length':3}", doc, "Ann");
    check_text("{'fn':'substring','args':[{'element':'Customer'}],'start':6}", doc, "Lee ");
    check_text("{'fn':'substring','args':[{'element':'Customer'}],'start':50,'length':3}", doc, NULL);
    check_text("{'fn':'substring','args':[{'element':'Text'}],'start':1,'length':2}", doc, "\xc3\xa9l");
    check_text("{'fn':'length','args':[{'element':'Text'}]}", doc, "5");
    check_text("{'fn':'length','args':[{'element':'Address/Zip'}]}", doc, "0");
    check_text("{'fn':'trim','args':[{'element':'Customer'}]}", doc, "Ann Lee");
    check_text("{'fn':'default','args':[{'element':'Address/Zip'},{'const':''},{'const':'x'}]}", doc, "x");
    check_text("{'fn':'default','args':[{'element':'Address/Zip'},{'const':''}]}", doc, NULL);
    check_text("{'element':'Address/Zip'}", doc, NULL);
    check_text("{'const':true}", doc, "true");
    check_text("{'const':1.5e3}", doc, "1500");
    check_text("{'property':'nope'}", doc, NULL);
    /* numbers */
    check_text("{'fn':'number_format','args':[{'element':'Total'}],'format':'0.00'}", doc, "2.68");
    check_text("{'fn':'number_format','args':[{'const':'0.125'}],'format':'0.00'}", doc, "0.13");
    check_text("{'fn':'number_format','args':[{'const':'999.995'}],'format':'#,##0.00'}", doc, "1,000.00");
    check_text("{'fn':'number_format','args':[{'const':'-1234.5'}],'format':'0'}", doc, "-1235");
    check_text("{'fn':'number_format','args':[{'const':'-0.001'}],'format':'0.00'}", doc, "0.00");
    check_text("{'fn':'number_format','args':[{'const':'7'}],'format':'000'}", doc, "007");
    check_text("{'fn':'number_format','args':[{'const':'1.5e-1'}],'format':'0.0#'}", doc, "0.15");
    check_text("{'fn':'number_format','args':[{'const':'2'}],'format':'0.0#'}", doc, "2.0");
    check_text("{'fn':'number_format','args':[{'const':'1e6'}],'format':'#,##0'}", doc, "1,000,000");
    check_text("{'fn':'number_format','args':[{'const':''}],'format':'0'}", doc, NULL);
    check_text("{'fn':'add','args':[{'const':'0.1'},{'const':'0.2'}]}", doc, "0.30000000000000004");
    check_text("{'fn':'subtract','args':[{'const':5},{'const':7}]}", doc, "-2");
    check_text("{'fn':'divide','args':[{'const':7},{'const':2}]}", doc, "3.5");
    check_text("{'fn':'divide','args':[{'const':8},{'const':2}]}", doc, "4");
    check_text("{'fn':'multiply','args':[{'const':9223372036854775807},{'const':2}]}", doc, "1.8446744073709552e19");
    check_text("{'fn':'add','args':[{'element':'Address/Zip'},{'const':2}]}", doc, NULL);
    check_error("{'fn':'divide','args':[{'const':1},{'const':0}]}", doc, "division by zero");
    check_error("{'fn':'add','args':[{'const':'abc'},{'const':1}]}", doc, "add: \"abc\" is not a number");
    check_error("{'fn':'number_format','args':[{'const':'1,5'}],'format':'0'}", doc, "is not a number");
    /* dates */
    check_text("{'fn':'date_format','args':[{'element':'Placed'}],'outputFormat':'yyyyMMdd'}", doc, "20240229");
    check_text("{'fn':'date_format','args':[{'const':'05.03.24 7:05'}],'inputFormat':'dd.MM.yy H:mm'}", doc,
                 "2024-03-05T07:05:00.000Z");
    check_text("{'fn':'date_format','args':[{'const':'2024-12-31 23:30+0100'}],'inputFormat':'yyyy-MM-dd HH:mmZ',"
                 "'outputFormat':'yyyy-MM-dd\\u0027T\\u0027HH:mm:ss.SSSZ'}",
                 doc, "2024-12-31T22:30:00.000Z");
    check_text("{'fn':'date_format','args':[{'const':'2024-12-31 23:30-02:00'}],'inputFormat':'yyyy-MM-dd HH:mmZ',"
                 "'outputFormat':'yyyy/MM/dd \\u0027at\\u0027 HH:mm \\u0027o\\u0027\\u0027clock\\u0027'}",
                 doc, "2025/01/01 at 01:30 o'clock");
    check_text("{'fn':'date_format','args':[{'element':'Address/Zip'}]}", doc, NULL);
    check_error("{'fn':'date_format','args':[{'const':'2024-02-30'}],'inputFormat':'yyyy-MM-dd'}", doc,
                       "does not match the input format \"yyyy-MM-dd\"");
    check_error("{'fn':'date_format','args':[{'const':'yesterday'}]}", doc,
                       "does not match the input format \"yyyy-MM-dd'T'HH:mm:ss.SSS'Z'\"");
}

static void test_conversion_failure(void **state)
{
    process *p = proc_ok(PROC(START("Req", "m") ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':["
        "{'to':'Message','value':{'const':'ok'}},"
        "{'to':'Total','value':{'element':'Customer'}}],'next':'r'},{'id':'r','type':'return'}"));
    process_result res;
    assert_int_equal(run(p, "[{'Customer':'abc'}]", NULL, NULL, &res), SL_EEXEC);
    assert_false(res.ok);
    assert_string_equal(res.error_shape, "m");
    assert_non_null(strstr(res.error, "shape \"m\""));
    assert_non_null(strstr(res.error, "/shapes/1/mappings/1"));
    assert_non_null(strstr(res.error, "\"abc\" is not a number"));
    assert_int_equal(jv_len(res.documents), 0);
    assert_non_null(stat_of(&res, "m")->error);
    assert_int_equal(stat_of(&res, "r")->runs, 0);
    process_result_free(&res);
    /* empty values are omitted, not converted */
    assert_int_equal(run(p, "[{'Customer':''}]", NULL, NULL, &res), 0);
    assert_json(res.documents, "[{'Message':'ok'}]");
    process_result_free(&res);
    process_free(p);

    p = proc_ok(PROC(START("Req", "m") ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':["
        "{'to':'Paid','value':{'element':'Customer'}},{'to':'When','value':{'element':'Text'}}],'next':'r'},"
        "{'id':'r','type':'return'}"));
    assert_int_equal(run(p, "[{'Customer':'yes'}]", NULL, NULL, &res), SL_EEXEC);
    assert_non_null(strstr(res.error, "/shapes/1/mappings/0"));
    assert_non_null(strstr(res.error, "Boolean"));
    process_result_free(&res);
    assert_int_equal(run(p, "[{'Customer':'False','Text':'2024-01-02T03:04:05+02:00'}]", NULL, NULL, &res), 0);
    assert_json(res.documents, "[{'Paid':false,'When':'2024-01-02T01:04:05.000Z'}]");
    process_result_free(&res);
    assert_int_equal(run(p, "[{'Text':'soon'}]", NULL, NULL, &res), SL_EEXEC);
    assert_non_null(strstr(res.error, "/shapes/1/mappings/1"));
    assert_non_null(strstr(res.error, "DateTime"));
    process_result_free(&res);
    process_free(p);
}

static void test_properties_and_decision(void **state)
{
    process *p = proc_ok(PROC(START("Req", "p")
        ",{'id':'p','type':'setproperties','properties':["
        "{'name':'who','value':{'element':'Customer'}},"
        "{'name':'tag','value':{'fn':'concat','separator':'-','args':[{'property':'who'},{'property':'tenantId'},{'element':'Paid'}]}},"
        "{'name':'n','value':{'element':'Total'}}],'next':'d'},"
        "{'id':'d','type':'decision','left':{'property':'who'},'comparison':'equals','right':{'const':'Ann'},"
        "'true':'yes','false':'no'},"
        "{'id':'yes','type':'return'},{'id':'no','type':'stop'}"));
    process_result res;
    assert_int_equal(run(p, "[{'Customer':'Ann','Paid':true,'Total':1e21}]", "{'tenantId':'t1','token':'x'}", NULL, &res), 0);
    assert_json(res.documents, "[{'Customer':'Ann','Paid':true,'Total':1e21}]");
    assert_json(res.properties, "{'tenantId':'t1','token':'x','who':'Ann','tag':'Ann-t1-true','n':'1e21'}");
    assert_int_equal(stat_of(&res, "p")->docs_out, 1);
    assert_int_equal(stat_of(&res, "yes")->docs_in, 1);
    assert_int_equal(stat_of(&res, "no")->runs, 0);
    process_result_free(&res);
    /* the property is set per document: the last one wins, and the decision sees it for all */
    assert_int_equal(run(p, "[{'Customer':'Ann'},{'Customer':'Bob'}]", NULL, NULL, &res), 0);
    assert_int_equal(jv_len(res.documents), 0);
    assert_string_equal(jv_get_str(res.properties, "who"), "Bob");
    assert_string_equal(jv_get_str(res.properties, "tag"), "Bob--"); /* concat joins empty values too */
    assert_int_equal(stat_of(&res, "no")->docs_in, 2);
    process_result_free(&res);
    process_free(p);
}

static void test_decision_routing(void **state)
{
    process *p = proc_ok(PROC(START("Req", "d")
        ",{'id':'d','type':'decision','left':{'element':'Total'},'comparison':'greater_than','right':{'const':'9'},"
        "'true':'big','false':'small'},"
        "{'id':'big','type':'return'},{'id':'small','type':'stop'}"));
    process_result res;
    assert_int_equal(run(p, "[{'Total':5},{'Total':50},{'Total':10.5},{'Customer':'x'},{'Total':9}]", NULL, NULL, &res), 0);
    assert_json(res.documents, "[{'Total':50},{'Total':10.5}]");
    const process_shape_stat *d = stat_of(&res, "d");
    assert_int_equal(d->docs_in, 5);
    assert_int_equal(d->docs_out, 5);
    assert_int_equal(d->runs, 1);
    assert_int_equal(stat_of(&res, "big")->docs_in, 2);
    assert_int_equal(stat_of(&res, "big")->docs_out, 2);
    assert_int_equal(stat_of(&res, "small")->docs_in, 3);
    assert_int_equal(stat_of(&res, "small")->docs_out, 0);
    assert_int_equal(stat_of(&res, "start")->docs_out, 5);
    jv *sj = process_stats_json(&res);
    assert_json(sj, "[{'id':'start','type':'start','in':5,'out':5,'runs':1},"
                    "{'id':'d','type':'decision','in':5,'out':5,'runs':1},"
                    "{'id':'big','type':'return','in':2,'out':2,'runs':1},"
                    "{'id':'small','type':'stop','in':3,'out':0,'runs':1}]");
    jv_free(sj);
    process_result_free(&res);
    process_free(p);
}

/* One decision per comparison; returns whether the document went down "true". */
static bool compare(const char *cmp, const char *left, const char *right)
{
    char text[2048];
    snprintf(text, sizeof text,
             PROC(START("Req", "d") ",{'id':'d','type':'decision','left':{'const':'%s'},'comparison':'%s'%s%s%s,"
                                    "'true':'y','false':'n'},{'id':'y','type':'return'},{'id':'n','type':'stop'}"),
             left, cmp, right ? ",'right':{'const':'" : "", right ? right : "", right ? "'}" : "");
    process *p = proc_ok(text);
    process_result res;
    assert_int_equal(run(p, "[{}]", NULL, NULL, &res), 0);
    bool yes = jv_len(res.documents) == 1;
    process_result_free(&res);
    process_free(p);
    return yes;
}

static void test_comparisons(void **state)
{
    assert_true(compare("greater_than", "10", "9"));      /* numeric */
    assert_false(compare("greater_than", "10", "9x"));    /* text */
    assert_true(compare("equals", "1.0", "1"));
    assert_false(compare("equals", "a", "A"));
    assert_true(compare("not_equals", "a", "b"));
    assert_true(compare("less_than", "-2", "1e1"));
    assert_true(compare("less_than_or_equal", "abc", "abc"));
    assert_true(compare("greater_than_or_equal", "b", "abc"));
    assert_true(compare("contains", "hello world", "o w"));
    assert_false(compare("contains", "hello", "hello!"));
    assert_true(compare("starts_with", "hello", "he"));
    assert_false(compare("starts_with", "he", "hello"));
    assert_true(compare("ends_with", "hello", "llo"));
    assert_true(compare("is_empty", "", NULL));
    assert_false(compare("is_empty", " ", NULL));
    assert_true(compare("is_not_empty", "x", NULL));
}

static void test_branch_order(void **state)
{
    process *p = proc_ok(PROC(START("Req", "b")
        ",{'id':'b','type':'branch','branches':['m1','m2','s']},"
        "{'id':'m1','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Message','value':{'fn':'concat','args':"
        "[{'const':'one '},{'element':'Customer'}]}}],'next':'r'},"
        "{'id':'m2','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Message','value':{'fn':'concat','args':"
        "[{'const':'two '},{'element':'Customer'}]}}],'next':'d'},"
        "{'id':'d','type':'decision','left':{'element':'Message'},'comparison':'ends_with','right':{'const':'a'},"
        "'true':'r','false':'r'},"
        "{'id':'s','type':'stop'},"
        "{'id':'r','type':'return'}"));
    process_result res;
    assert_int_equal(run(p, "[{'Customer':'a'},{'Customer':'b'}]", NULL, NULL, &res), 0);
    /* branch 1 (and everything below it) finishes before branch 2 starts; the decision sends
     * "true" documents first */
    assert_json(res.documents, "[{'Message':'one a'},{'Message':'one b'},{'Message':'two a'},{'Message':'two b'}]");
    assert_int_equal(stat_of(&res, "b")->docs_out, 6);
    assert_int_equal(stat_of(&res, "r")->runs, 3);
    assert_int_equal(stat_of(&res, "r")->docs_in, 4);
    assert_int_equal(stat_of(&res, "s")->docs_in, 2);
    process_result_free(&res);
    process_free(p);
}

static void test_stop_and_empty(void **state)
{
    process *p = proc_ok(PROC(START("Req", "s") ",{'id':'s','type':'stop'}"));
    process_result res;
    assert_int_equal(run(p, "[{'Customer':'a'}]", NULL, NULL, &res), 0);
    assert_true(res.ok);
    assert_int_equal(jv_len(res.documents), 0);
    assert_int_equal(stat_of(&res, "s")->docs_in, 1);
    process_result_free(&res);
    /* no input documents: start runs, nothing else does */
    assert_int_equal(run(p, "[]", NULL, NULL, &res), 0);
    assert_int_equal(stat_of(&res, "start")->runs, 1);
    assert_int_equal(stat_of(&res, "s")->runs, 0);
    process_result_free(&res);
    process_free(p);
}

static void test_exception(void **state)
{
    process *p = proc_ok(PROC(START("Req", "e")
        ",{'id':'e','type':'exception','message':'Order {1} for {2} rejected ({3}) {0} {x}','params':["
        "{'element':'Total'},{'fn':'upper','args':[{'element':'Customer'}]},{'element':'Text'}]}"));
    process_result res;
    assert_int_equal(run(p, "[{'Customer':'ann','Total':42},{'Customer':'bob'}]", NULL, NULL, &res), SL_EEXEC);
    assert_false(res.ok);
    assert_string_equal(res.error_shape, "e");
    assert_string_equal(res.error, "shape \"e\": Order 42 for ANN rejected () {0} {x}");
    const process_shape_stat *st = stat_of(&res, "e");
    assert_string_equal(st->error, "Order 42 for ANN rejected () {0} {x}");
    jv *sj = process_stats_json(&res);
    assert_string_equal(jv_get_str(jv_at(sj, 1), "error"), "Order 42 for ANN rejected () {0} {x}");
    assert_null(jv_get(jv_at(sj, 0), "error"));
    jv_free(sj);
    process_result_free(&res);
    process_free(p);
}

static void test_limits(void **state)
{
    process *p = proc_ok(PROC(START("Req", "m")
        ",{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Message','value':{'element':'Customer'}}],'next':'p'},"
        "{'id':'p','type':'setproperties','properties':[{'name':'x','value':{'const':1}}],'next':'r'},"
        "{'id':'r','type':'return'}"));
    process_result res;
    /* too many input documents */
    process_limits lim = {.max_documents = 2};
    assert_int_equal(run(p, "[{},{},{}]", NULL, &lim, &res), SL_EEXEC);
    assert_string_equal(res.error_shape, "start");
    assert_non_null(strstr(res.error, "limit of 2 documents"));
    process_result_free(&res);
    /* the map's new documents plus the incoming ones exceed the limit */
    lim.max_documents = 3;
    assert_int_equal(run(p, "[{},{}]", NULL, &lim, &res), SL_EEXEC);
    assert_string_equal(res.error_shape, "m");
    assert_non_null(strstr(res.error, "limit of 3 documents"));
    process_result_free(&res);
    lim.max_documents = 4;
    assert_int_equal(run(p, "[{},{}]", NULL, &lim, &res), 0);
    process_result_free(&res);
    /* shape steps */
    lim = (process_limits){.max_shape_steps = 3};
    assert_int_equal(run(p, "[{}]", NULL, &lim, &res), SL_EEXEC);
    assert_string_equal(res.error_shape, "r");
    assert_non_null(strstr(res.error, "limit of 3 shape steps"));
    assert_int_equal(stat_of(&res, "p")->runs, 1);
    assert_int_equal(jv_len(res.documents), 0);
    process_result_free(&res);
    lim.max_shape_steps = 4;
    assert_int_equal(run(p, "[{}]", NULL, &lim, &res), 0);
    process_result_free(&res);
    /* a deadline in the past */
    lim = (process_limits){.deadline_mono_ms = mono_ms() - 1};
    assert_int_equal(run(p, "[{}]", NULL, &lim, &res), SL_EEXEC);
    assert_string_equal(res.error_shape, "start");
    assert_non_null(strstr(res.error, "deadline"));
    process_result_free(&res);
    /* a far deadline does not interfere */
    lim = (process_limits){.deadline_mono_ms = mono_ms() + 60000};
    assert_int_equal(run(p, "[{}]", NULL, &lim, &res), 0);
    process_result_free(&res);
    process_free(p);

    /* steps grow exponentially through branches: the limit stops it */
    p = proc_ok(PROC(START("Req", "b1")
        ",{'id':'b1','type':'branch','branches':['b2','b2','b2','b2','b2','b2','b2','b2','b2','b2']},"
        "{'id':'b2','type':'branch','branches':['b3','b3','b3','b3','b3','b3','b3','b3','b3','b3']},"
        "{'id':'b3','type':'branch','branches':['b4','b4','b4','b4','b4','b4','b4','b4','b4','b4']},"
        "{'id':'b4','type':'branch','branches':['b5','b5','b5','b5','b5','b5','b5','b5','b5','b5']},"
        "{'id':'b5','type':'branch','branches':['s','s','s','s','s','s','s','s','s','s']},"
        "{'id':'s','type':'stop'}"));
    assert_int_equal(run(p, "[{}]", NULL, NULL, &res), SL_EEXEC);
    assert_non_null(strstr(res.error, "limit of 100000 shape steps"));
    process_result_free(&res);
    process_free(p);
}

typedef struct thread_arg {
    const process *p;
    int id;
    int failures;
} thread_arg;

static void *thread_main(void *arg)
{
    thread_arg *t = arg;
    for (int i = 0; i < 200; i++) {
        char docs[128];
        snprintf(docs, sizeof docs, "[{\"Customer\":\"c%d-%d\",\"Total\":%d}]", t->id, i, i);
        sl_error err = {0};
        jv *d = jv_parse(docs, strlen(docs), &err);
        process_result res;
        int rc = process_run(t->p, d, NULL, NULL, &res);
        char want[64];
        snprintf(want, sizeof want, "c%d-%d", t->id, i);
        const char *got = jv_get_str(jv_at(res.documents, 0), "Message");
        if (rc || !got || strcmp(got, want) != 0 || strcmp(jv_get_str(res.properties, "who"), want) != 0)
            t->failures++;
        process_result_free(&res);
        jv_free(d);
    }
    return NULL;
}

static void test_concurrent_runs(void **state)
{
    process *p = proc_ok(PROC(START("Req", "p")
        ",{'id':'p','type':'setproperties','properties':[{'name':'who','value':{'element':'Customer'}}],'next':'m'},"
        "{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Message','value':{'property':'who'}},"
        "{'to':'Amount','value':{'fn':'number_format','args':[{'element':'Total'}],'format':'0.00'}}],'next':'r'},"
        "{'id':'r','type':'return'}"));
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg){p, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    process_free(p);
}


static void *cancel_later(void *arg)
{
    usleep(100000);
    atomic_store((_Atomic bool *)arg, true);
    return NULL;
}

/* The wait shape pauses, passes documents on, and ends early on cancel or deadline. */
static void test_wait_and_cancel(void **state)
{
    process *p = proc_ok(PROC(START("Req", "w") ",{'id':'w','type':'wait','ms':150,'next':'r'},{'id':'r','type':'return'}"));
    process_result res;
    int64_t t0 = mono_ms();
    assert_int_equal(run(p, "[{'Name':'a'}]", NULL, NULL, &res), 0);
    assert_true(mono_ms() - t0 >= 150);
    assert_int_equal(jv_len(res.documents), 1);
    assert_int_equal(stat_of(&res, "w")->docs_out, 1);
    process_result_free(&res);
    process_free(p);

    p = proc_ok(PROC(START("Req", "w") ",{'id':'w','type':'wait','ms':600000,'next':'r'},{'id':'r','type':'return'}"));
    _Atomic bool cancel = false;
    process_limits lim = {.cancel = &cancel};
    pthread_t t;
    pthread_create(&t, NULL, cancel_later, &cancel);
    t0 = mono_ms();
    assert_int_equal(run(p, "[{}]", NULL, &lim, &res), SL_EEXEC);
    pthread_join(t, NULL);
    assert_true(mono_ms() - t0 < 5000);
    assert_non_null(strstr(res.error, "shutting down"));
    assert_string_equal(res.error_shape, "w");
    process_result_free(&res);

    process_limits dl = {.deadline_mono_ms = mono_ms() + 100};
    assert_int_equal(run(p, "[{}]", NULL, &dl, &res), SL_EEXEC);
    assert_non_null(strstr(res.error, "deadline"));
    process_result_free(&res);
    process_free(p);

    expect_one(PROC(START("Req", "w") ",{'id':'w','type':'wait','ms':0,'next':'r'},{'id':'r','type':'return'}"), true,
               "/shapes/1/ms", "from 1 to");
}

/* ---- script shape ---- */

/* A process start → script (code; extra members) → return. */
static process *script_proc(const char *code, const char *extra)
{
    char text[16384];
    snprintf(text, sizeof text,
             PROC(START("Req", "sc") ",{'id':'sc','type':'script','language':'lua','script':'%s'%s,'next':'r'},"
                                     "{'id':'r','type':'return'}"),
             code, extra ? extra : "");
    return proc_ok(text);
}

/* Runs a script process once, expecting failure; the error must contain part. */
static void script_fails(const char *code, const char *extra, const char *docs, const char *part)
{
    process *p = script_proc(code, extra);
    process_result res;
    assert_int_equal(run(p, docs, NULL, NULL, &res), SL_EEXEC);
    assert_false(res.ok);
    assert_string_equal(res.error_shape, "sc");
    if (!strstr(res.error, part))
        fail_msg("error \"%s\" does not contain \"%s\"", res.error, part);
    assert_non_null(stat_of(&res, "sc")->error);
    process_result_free(&res);
    process_free(p);
}

static void test_script_transform(void **state)
{
    process *p = script_proc(
        "local out = {}\\n"
        "for i, d in ipairs(documents) do\\n"
        "  out[#out + 1] = {Name = string.upper(d.Customer), Total = d.Total * 2, Index = i, Lines = d.Lines,"
        " Nothing = d.Nothing, Empty = json.array()}\\n"
        "end\\n"
        "properties.count = #documents\\n"
        "properties.who = documents[1].Customer\\n"
        "properties.token = nil\\n"
        "properties.flag = true\\n"
        "properties.half = 0.5\\n"
        "local s = json.encode({c = [[x]], a = 1, b = {true, false, json.null}, e = {}, f = 2.5})\\n"
        "properties.enc = s\\n"
        "local back = json.decode(s)\\n"
        "properties.rt = tostring(back.b[3] == json.null) .. back.a .. back.c .. #back.b\\n"
        "properties.arr = json.encode(json.decode([[ [] ]])) .. json.encode({}) .. json.encode(json.decode([[{\\\"k\\\":[1,{}]}]]))\\n"
        "properties.scalar = json.encode([[a\\\"b]]) .. json.encode(json.null) .. json.encode(7)\\n"
        "return out",
        NULL);
    process_result res;
    assert_int_equal(run(p, "[{'Customer':'ann','Total':42,'Lines':[{'Sku':'a'}],'Nothing':null},{'Customer':'bob','Total':-1}]",
                         "{'token':'t','keep':'k'}", NULL, &res),
                     0);
    assert_true(res.ok);
    assert_json(res.documents, "[{'Name':'ANN','Total':84,'Index':1,'Lines':[{'Sku':'a'}],'Nothing':null,'Empty':[]},"
                               "{'Name':'BOB','Total':-2,'Index':2,'Empty':[]}]");
    assert_json(res.properties, "{'keep':'k','count':'2','who':'ann','flag':'true','half':'0.5',"
                                "'enc':'{\\'a\\':1,\\'b\\':[true,false,null],\\'c\\':\\'x\\',\\'e\\':{},\\'f\\':2.5}',"
                                "'rt':'true1x3','arr':'[]{}{\\'k\\':[1,{}]}','scalar':'\\'a\\\\\\'b\\'null7'}");
    assert_int_equal(stat_of(&res, "sc")->docs_in, 2);
    assert_int_equal(stat_of(&res, "sc")->docs_out, 2);
    process_result_free(&res);
    process_free(p);

    /* nil (or nothing) returns the input unchanged; {} returns no documents */
    p = script_proc("documents[1].Customer = [[changed]]", NULL);
    assert_int_equal(run(p, "[{'Customer':'ann'}]", NULL, NULL, &res), 0);
    assert_json(res.documents, "[{'Customer':'ann'}]");
    process_result_free(&res);
    process_free(p);
    p = script_proc("documents[1].Customer = [[changed]] return documents", NULL);
    assert_int_equal(run(p, "[{'Customer':'ann'}]", NULL, NULL, &res), 0);
    assert_json(res.documents, "[{'Customer':'changed'}]");
    process_result_free(&res);
    process_free(p);
    p = script_proc("return {}", NULL);
    assert_int_equal(run(p, "[{'Customer':'ann'}]", NULL, NULL, &res), 0);
    assert_int_equal(jv_len(res.documents), 0);
    assert_int_equal(stat_of(&res, "r")->runs, 0);
    process_result_free(&res);
    process_free(p);

    /* a script after a map, and a map after a script */
    p = proc_ok(PROC(START("Req", "sc")
        ",{'id':'sc','type':'script','language':'lua','script':'return {{Customer = documents[1].Customer .. [[!]]}}','next':'m'},"
        "{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Message','value':{'element':'Customer'}}],'next':'r'},"
        "{'id':'r','type':'return'}"));
    assert_int_equal(run(p, "[{'Customer':'ann'}]", NULL, NULL, &res), 0);
    assert_json(res.documents, "[{'Message':'ann!'}]");
    process_result_free(&res);
    process_free(p);
}

static void test_script_sandbox(void **state)
{
    process *p = script_proc(
        "local names = {[[io]], [[os]], [[load]], [[loadstring]], [[dofile]], [[loadfile]], [[require]], [[package]],"
        " [[debug]], [[collectgarbage]], [[coroutine]], [[module]], [[warn]]}\\n"
        "for _, n in ipairs(names) do if _G[n] ~= nil then error(n .. [[ is reachable]]) end end\\n"
        "if string.dump ~= nil or ([[x]]).dump ~= nil or getmetatable([[x]]).__index.dump ~= nil then error([[dump]]) end\\n"
        "local fns = {assert, error, ipairs, next, pairs, pcall, select, tonumber, tostring, type, xpcall, rawequal,"
        " rawget, rawlen, rawset, setmetatable, getmetatable, print, string.format, table.concat, math.floor, utf8.char}\\n"
        "if #fns ~= 22 then error([[a safe function is missing]]) end\\n"
        "print([[hello]], 1, nil)\\n"
        "properties.ok = [[yes]]",
        NULL);
    process_result res;
    if (run(p, "[{}]", NULL, NULL, &res))
        fail_msg("%s", res.error);
    assert_string_equal(jv_get_str(res.properties, "ok"), "yes");
    process_result_free(&res);
    process_free(p);

    /* attempts fail cleanly, with Lua's message and line */
    script_fails("os.exit(1)", NULL, "[{}]", "script error: script:1: attempt to index a nil value (global 'os')");
    script_fails("local f = io.open([[/etc/passwd]])", NULL, "[{}]", "(global 'io')");
    script_fails("\\nlocal f = load([[return 1]])", NULL, "[{}]", "script:2: attempt to call a nil value (global 'load')");
    script_fails("require([[os]])", NULL, "[{}]", "(global 'require')");
    script_fails("debug.getregistry()", NULL, "[{}]", "(global 'debug')");
    script_fails("return string.dump(print)", NULL, "[{}]", "(field 'dump')");
    script_fails("dofile([[/etc/passwd]])", NULL, "[{}]", "(global 'dofile')");
    script_fails("collectgarbage()", NULL, "[{}]", "(global 'collectgarbage')");
}

static void test_script_memory(void **state)
{
    const char *code = "if documents[1].Customer == [[big]] then local t = {} for i = 1, 1e9 do t[i] = i end end\\n"
                       "if documents[1].Customer == [[rep]] then local s = string.rep([[x]], 1e9) end\\n"
                       "if documents[1].Customer == [[dec]] then json.decode(string.rep([[ ]], 900000) .. [[1]]) end\\n"
                       "if documents[1].Customer == [[caught]] then\\n"
                       "  local ok, e = pcall(function() local t = {} for i = 1, 1e9 do t[i] = i end end)\\n"
                       "  properties.caught = tostring(ok) .. [[ ]] .. e\\n"
                       "end\\n"
                       "return documents";
    process *p = script_proc(code, ",'memoryLimitKb':1024");
    process_result res;
    const char *bad[] = {"[{'Customer':'big'}]", "[{'Customer':'rep'}]", "[{'Customer':'dec'}]"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(run(p, bad[i], NULL, NULL, &res), SL_EEXEC);
        assert_string_equal(res.error, "shape \"sc\": script ran out of its 1024 KiB memory");
        assert_string_equal(res.error_shape, "sc");
        process_result_free(&res);
        /* the process (and the atom) carry on */
        assert_int_equal(run(p, "[{'Customer':'small'}]", NULL, NULL, &res), 0);
        assert_json(res.documents, "[{'Customer':'small'}]");
        process_result_free(&res);
    }
    /* a script that catches the memory error itself stays within its cap and carries on */
    assert_int_equal(run(p, "[{'Customer':'caught'}]", NULL, NULL, &res), 0);
    assert_string_equal(jv_get_str(res.properties, "caught"), "false not enough memory");
    process_result_free(&res);
    /* documents too large for the cap fail the same way */
    char *docs = xmalloc(2u << 20);
    memset(docs, 'a', 2u << 20);
    memcpy(docs, "[{'Customer':'", 14);
    memcpy(docs + (2u << 20) - 4, "'}]", 4);
    assert_int_equal(run(p, docs, NULL, NULL, &res), SL_EEXEC);
    assert_non_null(strstr(res.error, "script ran out of its 1024 KiB memory"));
    process_result_free(&res);
    free(docs);
    process_free(p);

    /* the default cap is 8192 KiB */
    script_fails("local t = {} for i = 1, 1e9 do t[i] = i end", NULL, "[{}]", "script ran out of its 8192 KiB memory");
}

static void test_script_instructions(void **state)
{
    script_fails("while true do end", NULL, "[{}]", "script used its 10000000 instructions");
    script_fails("while true do end", ",'instructionLimit':5000", "[{}]", "script used its 5000 instructions");
    /* catching the stop does not help */
    script_fails("while true do pcall(function() while true do end end) end", ",'instructionLimit':5000", "[{}]",
                 "script used its 5000 instructions");
    script_fails("local ok = pcall(function() while true do end end) return documents", ",'instructionLimit':5000",
                 "[{}]", "script used its 5000 instructions");
    /* finalizers run without hooks in Lua, so they are refused */
    script_fails("setmetatable({}, {__gc = function() while true do end end})", NULL, "[{}]",
                 "script:1: __gc metamethods are not allowed in scripts");
    script_fails("local mt = getmetatable(json.array()) assert(mt == [[json.array]]) setmetatable(json.array(), {})",
                 NULL, "[{}]", "cannot change a protected metatable");
    /* a short script fits a small budget */
    process *p = script_proc("local n = 0 for i = 1, 100 do n = n + i end properties.n = n", ",'instructionLimit':1000");
    process_result res;
    assert_int_equal(run(p, "[{}]", NULL, NULL, &res), 0);
    assert_string_equal(jv_get_str(res.properties, "n"), "5050");
    process_result_free(&res);
    process_free(p);

    /* the execution deadline stops a long script too (and is not the script's fault) */
    p = script_proc("while true do end", ",'instructionLimit':1000000000");
    process_limits lim = {.deadline_mono_ms = mono_ms() + 200};
    int64_t t0 = mono_ms();
    assert_int_equal(run(p, "[{}]", NULL, &lim, &res), SL_EEXEC);
    assert_true(mono_ms() - t0 < 5000);
    assert_non_null(strstr(res.error, "deadline"));
    process_result_free(&res);
    process_free(p);
}

static void test_script_problems(void **state)
{
#define SCRIPT_SHAPE(members) PROC(START("Req", "sc") ",{'id':'sc','type':'script'," members ",'next':'r'},{'id':'r','type':'return'}")
    expect_one(SCRIPT_SHAPE("'language':'lua','script':'local x = = 1'"), true, "/shapes/1/script",
               "script:1: unexpected symbol near '='");
    expect_one(SCRIPT_SHAPE("'language':'lua','script':'local x = 1\\nif x then\\nreturn'"), true, "/shapes/1/script",
               "script:3:");
    expect_one(SCRIPT_SHAPE("'language':'python','script':'pass'"), true, "/shapes/1/language", "must be \"lua\"");
    expect_one(SCRIPT_SHAPE("'language':'lua'"), true, "/shapes/1", "missing required member \"script\"");
    expect_one(SCRIPT_SHAPE("'script':'return nil'"), true, "/shapes/1", "missing required member \"language\"");
    expect_one(SCRIPT_SHAPE("'language':'lua','script':7"), true, "/shapes/1/script", "string");
    expect_one(SCRIPT_SHAPE("'language':'lua','script':'','memoryLimitKb':0"), true, "/shapes/1/memoryLimitKb",
               "from 1 to 65536");
    expect_one(SCRIPT_SHAPE("'language':'lua','script':'','memoryLimitKb':65537"), true, "/shapes/1/memoryLimitKb",
               "from 1 to 65536");
    expect_one(SCRIPT_SHAPE("'language':'lua','script':'','memoryLimitKb':1"), true, "/shapes/1/memoryLimitKb",
               "too small");
    expect_one(SCRIPT_SHAPE("'language':'lua','script':'','instructionLimit':999"), true,
               "/shapes/1/instructionLimit", "from 1000 to 1000000000");
    expect_one(SCRIPT_SHAPE("'language':'lua','script':'','instructionLimit':1.5e3"), true,
               "/shapes/1/instructionLimit", "whole number");
    expect_one(SCRIPT_SHAPE("'language':'lua','script':'','timeout':5"), true, "/shapes/1/timeout",
               "unknown member \"timeout\" in a script shape");
    /* binary chunks are refused */
    expect_one(SCRIPT_SHAPE("'language':'lua','script':'\\u001bLua'"), true, "/shapes/1/script", "binary");
    expect_one(PROC(START("Req", "t") ",{'id':'t','type':'teleport'}"), true, "/shapes/1/type",
               "exception, wait, script, trycatch or connector");
#undef SCRIPT_SHAPE
}

static void test_script_errors(void **state)
{
    script_fails("local x = 1\\nlocal y = 2\\nerror([[boom]])", NULL, "[{}]", "shape \"sc\": script error: script:3: boom");
    script_fails("return documents[1].x.y", NULL, "[{}]", "script:1: attempt to index a nil value (field 'x')");
    script_fails("error({})", NULL, "[{}]", "an error object of type table");
    script_fails("error(42)", NULL, "[{}]", "script error: 42");
    script_fails("return 5", NULL, "[{}]", "the script returned a number; it must return an array of documents");
    script_fails("return [[x]]", NULL, "[{}]", "returned a string");
    script_fails("return {5}", NULL, "[{}]", "document 1 the script returned is a integer, not an object");
    script_fails("return {{}, {1, 2}}", NULL, "[{}]", "document 2 the script returned is a array");
    script_fails("return {Customer = [[x]]}", NULL, "[{}]", "returned a table with string keys");
    script_fails("return {{f = print}}", NULL, "[{}]", "a function cannot be converted to JSON");
    script_fails("local t = {} t.self = t return {t}", NULL, "[{}]", "nest deeper than 128 levels");
    script_fails("return {{x = 0/0}}", NULL, "[{}]", "NaN");
    script_fails("return {{[1] = 1, x = 2}}", NULL, "[{}]", "neither all strings nor exactly 1..n");
    script_fails("properties.t = {}", NULL, "[{}]", "property \"t\" must be a string, number or boolean, not a table");
    script_fails("properties = 5", NULL, "[{}]", "\"properties\" must stay a table");
    script_fails("json.encode({f = print})", NULL, "[{}]", "script:1: json.encode: a function cannot be converted");
    script_fails("json.decode([[{]])", NULL, "[{}]", "script:1: json.decode: line 1");
    script_fails("json.decode(string.rep([[[]], 200) .. string.rep([[] ]], 200))", NULL, "[{}]", "deeper than 128");
    script_fails("error([[bad \\u00ff\\u00fe]] .. string.char(255))", NULL, "[{}]", "script:1: bad");
    /* a failed script leaves the properties alone */
    process *p = script_proc("properties.x = [[1]] error([[no]])", NULL);
    process_result res;
    assert_int_equal(run(p, "[{}]", "{'y':'2'}", NULL, &res), SL_EEXEC);
    assert_json(res.properties, "{'y':'2'}");
    process_result_free(&res);
    process_free(p);
}

typedef struct script_thread_arg {
    const process *p;
    int id;
    int failures;
} script_thread_arg;

static void *script_thread(void *arg)
{
    script_thread_arg *t = arg;
    for (int i = 0; i < 40; i++) {
        char docs[128];
        snprintf(docs, sizeof docs, "[{\"Customer\":\"c%d-%d\"}]", t->id, i);
        jv *d = jv_parse(docs, strlen(docs), NULL);
        process_result res;
        int rc = process_run(t->p, d, NULL, NULL, &res);
        char want[64];
        snprintf(want, sizeof want, "C%d-%d", t->id, i);
        const char *got = jv_get_str(jv_at(res.documents, 0), "Customer");
        if (rc || !got || strcmp(got, want) != 0)
            t->failures++;
        process_result_free(&res);
        jv_free(d);
    }
    return NULL;
}

static void test_script_concurrent(void **state)
{
    process *p = script_proc("local d = documents[1] d.Customer = string.upper(d.Customer) return {d}", NULL);
    pthread_t th[4];
    script_thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (script_thread_arg){p, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, script_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    process_free(p);
}

/* ---- trycatch shape ---- */

#define CATCH_MAP(id, next)                                                                                    \
    "{'id':'" id "','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Message','value':{'property':"   \
    "'trycatch_message'}},{'to':'Name','value':{'property':'trycatch_shape'}},{'to':'Day','value':{'element':" \
    "'Customer'}}],'next':'" next "'}"

static void test_trycatch_basic(void **state)
{
    process *p = proc_ok(PROC(START("Req", "tc")
        ",{'id':'tc','type':'trycatch','try':'d','catch':'c'},"
        "{'id':'d','type':'decision','left':{'element':'Customer'},'comparison':'equals','right':{'const':'bad'},"
        "'true':'ex','false':'m'},"
        "{'id':'ex','type':'exception','message':'bad customer {1}','params':[{'element':'Customer'}]},"
        "{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Message','value':{'element':'Customer'}}],'next':'r'},"
        CATCH_MAP("c", "r") ","
        "{'id':'r','type':'return'}"));
    process_result res;
    /* success path unaffected */
    assert_int_equal(run(p, "[{'Customer':'ann'},{'Customer':'bob'}]", NULL, NULL, &res), 0);
    assert_true(res.ok);
    assert_json(res.documents, "[{'Message':'ann'},{'Message':'bob'}]");
    assert_null(jv_get(res.properties, "trycatch_message"));
    assert_int_equal(stat_of(&res, "c")->runs, 0);
    assert_int_equal(stat_of(&res, "tc")->docs_out, 2);
    process_result_free(&res);
    /* a failure sends the whole batch, as it arrived, down catch */
    assert_int_equal(run(p, "[{'Customer':'ann'},{'Customer':'bad'}]", NULL, NULL, &res), 0);
    assert_true(res.ok);
    assert_string_equal(res.error, "");
    assert_string_equal(res.error_shape, "");
    assert_json(res.documents, "[{'Message':'bad customer bad','Name':'ex','Day':'ann'},"
                               "{'Message':'bad customer bad','Name':'ex','Day':'bad'}]");
    assert_string_equal(jv_get_str(res.properties, "trycatch_message"), "bad customer bad");
    assert_string_equal(jv_get_str(res.properties, "trycatch_shape"), "ex");
    assert_string_equal(stat_of(&res, "ex")->error, "bad customer bad"); /* still recorded */
    assert_int_equal(stat_of(&res, "m")->runs, 0);                       /* dropped with the try path */
    assert_int_equal(stat_of(&res, "c")->docs_in, 2);
    assert_int_equal(stat_of(&res, "tc")->docs_out, 4);
    process_result_free(&res);
    process_free(p);

    /* documents the failed try path already returned are withdrawn */
    p = proc_ok(PROC(START("Req", "tc")
        ",{'id':'tc','type':'trycatch','try':'b','catch':'c'},"
        "{'id':'b','type':'branch','branches':['r','sc']},"
        "{'id':'sc','type':'script','language':'lua','script':'\\nerror([[nope]])','next':'r'},"
        CATCH_MAP("c", "r") ","
        "{'id':'r','type':'return'}"));
    assert_int_equal(run(p, "[{'Customer':'x'}]", "{'token':'t'}", NULL, &res), 0);
    assert_json(res.documents, "[{'Message':'script error: script:2: nope','Name':'sc','Day':'x'}]");
    assert_json(res.properties, "{'token':'t','trycatch_message':'script error: script:2: nope','trycatch_shape':'sc'}");
    assert_int_equal(stat_of(&res, "r")->runs, 2);
    process_result_free(&res);
    process_free(p);

    /* a failure in the catch path fails the execution */
    p = proc_ok(PROC(START("Req", "tc")
        ",{'id':'tc','type':'trycatch','try':'e1','catch':'e2'},"
        "{'id':'e1','type':'exception','message':'first'},"
        "{'id':'e2','type':'exception','message':'second: {1}','params':[{'property':'trycatch_message'}]}"));
    assert_int_equal(run(p, "[{}]", NULL, NULL, &res), SL_EEXEC);
    assert_string_equal(res.error, "shape \"e2\": second: first");
    process_result_free(&res);
    process_free(p);

    /* validation */
    expect_one(PROC(START("Req", "tc") ",{'id':'tc','type':'trycatch','try':'r'},{'id':'r','type':'return'}"), true,
               "/shapes/1", "missing required member \"catch\"");
    expect_one(PROC(START("Req", "tc") ",{'id':'tc','type':'trycatch','try':'r','catch':'x'},{'id':'r','type':'return'}"),
               true, "/shapes/1/catch", "unknown shape \"x\"");
    expect_one(PROC(START("Req", "tc") ",{'id':'tc','type':'trycatch','try':'r','catch':'r','next':'r'},"
                                       "{'id':'r','type':'return'}"),
               true, "/shapes/1/next", "unknown member \"next\" in a trycatch shape");
}

static void test_trycatch_nested(void **state)
{
    /* the innermost trycatch catches; a failure on its catch path goes to the outer one */
    process *p = proc_ok(PROC(START("Req", "outer")
        ",{'id':'outer','type':'trycatch','try':'inner','catch':'oc'},"
        "{'id':'inner','type':'trycatch','try':'d','catch':'ic'},"
        "{'id':'d','type':'decision','left':{'element':'Customer'},'comparison':'equals','right':{'const':'twice'},"
        "'true':'e1','false':'e0'},"
        "{'id':'e0','type':'exception','message':'inner failure'},"
        "{'id':'e1','type':'exception','message':'inner failure again'},"
        "{'id':'ic','type':'decision','left':{'property':'trycatch_message'},'comparison':'equals',"
        "'right':{'const':'inner failure again'},'true':'e2','false':'icm'},"
        CATCH_MAP("icm", "r") ","
        "{'id':'e2','type':'exception','message':'catch failed'},"
        CATCH_MAP("oc", "r") ","
        "{'id':'r','type':'return'}"));
    process_result res;
    assert_int_equal(run(p, "[{'Customer':'once'}]", NULL, NULL, &res), 0);
    assert_json(res.documents, "[{'Message':'inner failure','Name':'e0','Day':'once'}]");
    assert_int_equal(stat_of(&res, "oc")->runs, 0);
    process_result_free(&res);
    assert_int_equal(run(p, "[{'Customer':'twice'}]", NULL, NULL, &res), 0);
    assert_json(res.documents, "[{'Message':'catch failed','Name':'e2','Day':'twice'}]");
    assert_int_equal(stat_of(&res, "ic")->runs, 1);
    assert_int_equal(stat_of(&res, "oc")->runs, 1);
    process_result_free(&res);
    process_free(p);

    /* a try path on one branch does not catch failures of the next branch */
    p = proc_ok(PROC(START("Req", "b")
        ",{'id':'b','type':'branch','branches':['tc','e']},"
        "{'id':'tc','type':'trycatch','try':'r','catch':'r'},"
        "{'id':'e','type':'exception','message':'outside'},"
        "{'id':'r','type':'return'}"));
    assert_int_equal(run(p, "[{}]", NULL, NULL, &res), SL_EEXEC);
    assert_string_equal(res.error, "shape \"e\": outside");
    process_result_free(&res);
    process_free(p);
}

static void test_trycatch_limits(void **state)
{
    process *p = proc_ok(PROC(START("Req", "tc")
        ",{'id':'tc','type':'trycatch','try':'w','catch':'c'},"
        "{'id':'w','type':'wait','ms':1,'next':'m'},"
        "{'id':'m','type':'map','from':'Req','to':'Resp','mappings':[{'to':'Message','value':{'element':'Customer'}}],'next':'r'},"
        CATCH_MAP("c", "r") ","
        "{'id':'r','type':'return'}"));
    process_result res;
    /* shape steps */
    process_limits lim = {.max_shape_steps = 3};
    assert_int_equal(run(p, "[{}]", NULL, &lim, &res), SL_EEXEC);
    assert_non_null(strstr(res.error, "limit of 3 shape steps"));
    assert_int_equal(stat_of(&res, "c")->runs, 0);
    process_result_free(&res);
    /* documents in flight */
    lim = (process_limits){.max_documents = 3};
    assert_int_equal(run(p, "[{},{}]", NULL, &lim, &res), SL_EEXEC);
    assert_non_null(strstr(res.error, "limit of 3 documents"));
    process_result_free(&res);
    /* cancellation */
    _Atomic bool cancel = true;
    lim = (process_limits){.cancel = &cancel};
    assert_int_equal(run(p, "[{}]", NULL, &lim, &res), SL_EEXEC);
    assert_non_null(strstr(res.error, "shutting down"));
    process_result_free(&res);
    process_free(p);

    /* the deadline inside a script in a try path */
    p = proc_ok(PROC(START("Req", "tc")
        ",{'id':'tc','type':'trycatch','try':'sc','catch':'c'},"
        "{'id':'sc','type':'script','language':'lua','script':'while true do end','instructionLimit':1000000000,'next':'r'},"
        CATCH_MAP("c", "r") ","
        "{'id':'r','type':'return'}"));
    lim = (process_limits){.deadline_mono_ms = mono_ms() + 100};
    assert_int_equal(run(p, "[{}]", NULL, &lim, &res), SL_EEXEC);
    assert_non_null(strstr(res.error, "deadline"));
    assert_string_equal(res.error_shape, "sc");
    assert_int_equal(stat_of(&res, "c")->runs, 0);
    process_result_free(&res);
    process_free(p);

    /* a script's own budget is the script's failure: caught */
    p = proc_ok(PROC(START("Req", "tc")
        ",{'id':'tc','type':'trycatch','try':'sc','catch':'c'},"
        "{'id':'sc','type':'script','language':'lua','script':'while true do end','instructionLimit':1000,'next':'r'},"
        CATCH_MAP("c", "r") ","
        "{'id':'r','type':'return'}"));
    assert_int_equal(run(p, "[{'Customer':'z'}]", NULL, NULL, &res), 0);
    assert_json(res.documents, "[{'Message':'script used its 1000 instructions','Name':'sc','Day':'z'}]");
    process_result_free(&res);
    process_free(p);
}

/* ---- connector shape ---- */

static const connection *g_conn; /* the one connection of the connector test */

static const connection *conn_lookup(void *ctx, const char *name)
{
    return g_conn && strcmp(connection_name(g_conn), name) == 0 ? g_conn : NULL;
}

/* Parses, links (profiles and connections) a process that must be valid. */
static process *proc_conn_ok(const char *text)
{
    process *p = proc_ok(text);
    sl_problems pr;
    problems_init(&pr);
    int rc = process_link_connections(p, conn_lookup, NULL, &pr);
    dump_problems(&pr);
    assert_int_equal(rc, 0);
    problems_free(&pr);
    return p;
}

static void test_connector_shape(void **state)
{
    char dir[] = "/tmp/sluice-test-process-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char conn_text[512];
    snprintf(conn_text, sizeof conn_text,
             "{'component':'connection','name':'files','type':'disk','disk':{'root':'%s'}}", dir);
    jv *cj = js(conn_text);
    sl_problems pr;
    problems_init(&pr);
    connection *conn = NULL;
    assert_int_equal(connection_parse(cj, "c.json", NULL, &conn, &pr), 0);
    problems_free(&pr);
    jv_free(cj);
    g_conn = conn;

    /* write each document to <Customer>.json, keep one, list the folder */
    process *p = proc_conn_ok(PROC(START("Req", "w")
        ",{'id':'w','type':'connector','connection':'files','operation':{'action':'write','filename':"
        "{'fn':'concat','args':[{'element':'Customer'},{'const':'.json'}]},'content':'document'},'next':'sc'},"
        "{'id':'sc','type':'script','language':'lua','script':'return {documents[1]}','next':'l'},"
        "{'id':'l','type':'connector','connection':'files','operation':{'action':'list','pattern':'*.json'},'next':'r'},"
        "{'id':'r','type':'return'}"));
    process_result res;
    if (run(p, "[{'Customer':'ann'},{'Customer':'bob'}]", NULL, NULL, &res))
        fail_msg("%s", res.error);
    assert_int_equal(jv_len(res.documents), 2);
    assert_string_equal(jv_get_str(jv_at(res.documents, 0), "filename"), "ann.json");
    assert_string_equal(jv_get_str(jv_at(res.documents, 1), "filename"), "bob.json");
    assert_int_equal(stat_of(&res, "w")->docs_in, 2);
    assert_int_equal(stat_of(&res, "w")->docs_out, 2);
    assert_int_equal(stat_of(&res, "l")->docs_out, 2);
    process_result_free(&res);
    process_free(p);

    /* a connector error is an execution error: trycatch catches it */
    p = proc_conn_ok(PROC(START("Req", "tc")
        ",{'id':'tc','type':'trycatch','try':'k','catch':'c'},"
        "{'id':'k','type':'connector','connection':'files','operation':{'action':'read','filename':{'const':'missing.json'}},'next':'r'},"
        CATCH_MAP("c", "r") ","
        "{'id':'r','type':'return'}"));
    assert_int_equal(run(p, "[{'Customer':'x'}]", NULL, NULL, &res), 0);
    const char *msg = jv_get_str(res.properties, "trycatch_message");
    assert_non_null(msg);
    assert_non_null(strstr(msg, "missing.json"));
    assert_string_equal(jv_get_str(res.properties, "trycatch_shape"), "k");
    assert_non_null(stat_of(&res, "k")->error);
    process_result_free(&res);
    process_free(p);

    /* unknown connection: a problem at the shape's pointer */
    const char *unknown = PROC(START("Req", "k")
        ",{'id':'k','type':'connector','connection':'nope','operation':{'action':'list'},'next':'r'},"
        "{'id':'r','type':'return'}");
    p = proc_ok(unknown);
    problems_init(&pr);
    assert_int_equal(process_link_connections(p, conn_lookup, NULL, &pr), SL_EINVAL);
    assert_problem(&pr, "/shapes/1/connection", "unknown connection \"nope\"");
    problems_free(&pr);
    /* not linked: fails when it runs */
    assert_int_equal(run(p, "[{}]", NULL, NULL, &res), SL_EEXEC);
    assert_non_null(strstr(res.error, "not linked"));
    process_result_free(&res);
    process_free(p);
    /* operation problems come from connector_op_parse, at exact pointers */
    {
        sl_problems bad;
        proc_bad(PROC(START("Req", "k") ",{'id':'k','type':'connector','connection':'files','operation':{'action':'fly'},"
                                        "'next':'r','extra':1},{'id':'r','type':'return'}"),
                 &bad, true);
        assert_problem(&bad, "/shapes/1/operation/action", "unknown action \"fly\"");
        assert_problem(&bad, "/shapes/1/extra", "unknown member \"extra\" in a connector shape");
        problems_free(&bad);
    }
    /* element paths in the operation are checked against the arriving profile */
    expect_one(PROC(START("Req", "k") ",{'id':'k','type':'connector','connection':'files','operation':{'action':'read',"
                                      "'filename':{'element':'Custmer'}},'next':'r'},{'id':'r','type':'return'}"),
               false, "/shapes/1/operation/filename/element", "Custmer");

    g_conn = NULL;
    connection_free(conn);
    char path[128];
    snprintf(path, sizeof path, "%s/ann.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/bob.json", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_minimal),
        cmocka_unit_test(test_graph_problems),
        cmocka_unit_test(test_member_problems),
        cmocka_unit_test(test_value_problems),
        cmocka_unit_test(test_link_problems),
        cmocka_unit_test(test_map_basic),
        cmocka_unit_test(test_map_arrays),
        cmocka_unit_test(test_functions),
        cmocka_unit_test(test_conversion_failure),
        cmocka_unit_test(test_properties_and_decision),
        cmocka_unit_test(test_decision_routing),
        cmocka_unit_test(test_comparisons),
        cmocka_unit_test(test_branch_order),
        cmocka_unit_test(test_stop_and_empty),
        cmocka_unit_test(test_exception),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_concurrent_runs),
        cmocka_unit_test(test_wait_and_cancel),
        cmocka_unit_test(test_script_transform),
        cmocka_unit_test(test_script_sandbox),
        cmocka_unit_test(test_script_memory),
        cmocka_unit_test(test_script_instructions),
        cmocka_unit_test(test_script_problems),
        cmocka_unit_test(test_script_errors),
        cmocka_unit_test(test_script_concurrent),
        cmocka_unit_test(test_trycatch_basic),
        cmocka_unit_test(test_trycatch_nested),
        cmocka_unit_test(test_trycatch_limits),
        cmocka_unit_test(test_connector_shape),
    };
    return cmocka_run_group_tests(tests, setup_profiles, teardown_profiles);
}
