/* Unit tests for flow/macro: the macro API reading and setting every content type, "{![Name]}"
 * references, error reporting (syntax errors, thrown errors, unknown values, bad setter input),
 * the sandbox's globals and fresh heap per macro, the time budget (a runaway loop is killed and
 * the runner keeps working), the memory cap, the output cap, a worker killed from outside,
 * workers that cannot start, and 8 threads sharing one runner.
 *
 * Real worker processes: this program is its own worker. main() runs macro_worker_main() when
 * argv[1] is MACRO_WORKER_ARG, and the runners start "/proc/self/exe __macro-worker".
 * JSON in these tests is written with single quotes for readability; js() swaps them. */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

#include "flow/macro.h"

static const char *const worker_argv[] = {"/proc/self/exe", MACRO_WORKER_ARG, NULL};

static macro_runner *g_runner; /* generous time budget, for everything but the timeout test */

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

static const char *const values_text =
    "{'Name':{'contentType':'ContentString','contentValue':'Ada','objectData':null},"
    "'Full Name':{'contentType':'ContentString','contentValue':'Ada Lovelace','objectData':null},"
    "'Count':{'contentType':'ContentNumber','contentValue':'3','objectData':null},"
    "'Price':{'contentType':'ContentNumber','contentValue':'2.5','objectData':null},"
    "'Empty':{'contentType':'ContentNumber','contentValue':'','objectData':null},"
    "'Flag':{'contentType':'ContentBoolean','contentValue':'True','objectData':null},"
    "'When':{'contentType':'ContentDateTime','contentValue':'2020-01-21T10:20:30.000Z','objectData':null},"
    "'Day':{'contentType':'ContentDate','contentValue':'2021-06-01','objectData':null},"
    "'Secret':{'contentType':'ContentPassword','contentValue':'s3cret','objectData':null},"
    "'Html':{'contentType':'ContentContent','contentValue':'<b>hi</b>','objectData':null},"
    "'Nothing':{'contentType':'ContentString','contentValue':null,'objectData':null},"
    "'Customer':{'contentType':'ContentObject','contentValue':null,'objectData':[{'externalId':'c1',"
    "'internalId':'i1','developerName':'Customer','typeElementId':'t1','properties':["
    "{'developerName':'Name','contentValue':'Bob','contentType':'ContentString'},"
    "{'developerName':'Age','contentValue':'42','contentType':'ContentNumber'},"
    "{'developerName':'Address','contentValue':null,'contentType':'ContentObject','objectData':[{'externalId':'a1',"
    "'developerName':'Address','properties':[{'developerName':'City','contentValue':'Leeds'}]}]}]}]},"
    "'Items':{'contentType':'ContentList','contentValue':null,'objectData':["
    "{'externalId':'x1','developerName':'Item','properties':[{'developerName':'Sku','contentValue':'A'}]},"
    "{'externalId':'x2','developerName':'Item','properties':[{'developerName':'Sku','contentValue':'B'}]}]},"
    "'NoItems':{'contentType':'ContentList','contentValue':null,'objectData':null}}";

/* Runs code on g_runner over values_text; expects success and returns the changed object. */
static jv *run_ok(const char *code)
{
    jv *values = js(values_text);
    jv *changed = NULL;
    sl_error err = {0};
    int rc = macro_run(g_runner, code, values, &changed, &err);
    jv_free(values);
    if (rc != 0)
        fail_msg("macro failed (%d): %s\n%s", rc, err.msg, code);
    assert_non_null(changed);
    return changed;
}

/* Runs code expecting failure with code want; err->msg is returned through msg. */
static void run_fail(macro_runner *r, const char *code, int want, sl_error *err)
{
    jv *values = js(values_text);
    jv *changed = (jv *)1;
    int rc = macro_run(r, code, values, &changed, err);
    jv_free(values);
    if (rc != want)
        fail_msg("expected %d, got %d (%s) for: %s", want, rc, err->msg, code);
    assert_null(changed);
}

/* The contentValue the macro stored for name ("<null>" for null; fails if not set). */
static const char *cv(const jv *changed, const char *name)
{
    const jv *e = jv_get(changed, name);
    if (!e)
        fail_msg("\"%s\" was not set", name);
    const jv *v = jv_get(e, "contentValue");
    return jv_is_null(v) ? "<null>" : jv_str(v);
}

static void assert_has(const char *text, const char *part)
{
    if (!text || !strstr(text, part))
        fail_msg("expected \"%s\" in \"%s\"", part, text ? text : "(null)");
}

/* ---- reading ---- */

static void test_read_scalars(void **state)
{
    (void)state;
    jv *ch = run_ok("var c = value('{![Count]}');\n"
                    "setStringValue('Name', [typeof c, c + 1, getNumberValue('Price') * 2, value('Empty'),\n"
                    "  typeof getValue('Flag'), getBooleanValue('Flag'), getValue('Name'), getValue('Full Name'),\n"
                    "  value('Secret'), value('Html'), value('Nothing'), getStringValue('Count'),\n"
                    "  getStringValue('Nothing') === null].join('|'));\n"
                    "var w = value('When');\n"
                    "setStringValue('Full Name', [w instanceof Date, w.getTime() === Date.UTC(2020, 0, 21, 10, 20, 30),\n"
                    "  getDateTimeValue('{![When]}').toISOString(), value('Day').toISOString()].join('|'));");
    assert_string_equal(cv(ch, "Name"), "number|4|5||boolean|true|Ada|Ada Lovelace|s3cret|<b>hi</b>||3|true");
    assert_string_equal(cv(ch, "Full Name"), "true|true|2020-01-21T10:20:30.000Z|2021-06-01T00:00:00.000Z");
    assert_int_equal(jv_obj_size(ch), 2); /* only what was set */
    jv_free(ch);
}

static void test_read_objects(void **state)
{
    (void)state;
    jv *ch = run_ok("var c = getObjectValue('{![Customer]}');\n"
                    "var v = value('Customer');\n"
                    "var items = getArrayValue('Items');\n"
                    "setStringValue('Name', [c.externalId, c.internalId, c.developerName, c.typeElementId,\n"
                    "  c.properties.Name, c.properties.Age, typeof c.properties.Age,\n"
                    "  c.properties.Address[0].properties.City, Array.isArray(v), v.length,\n"
                    "  items.length, items[1].properties.Sku, value('Items')[0].externalId,\n"
                    "  getArrayValue('NoItems').length, getObjectValue('NoItems')].join('|'));\n"
                    "c.properties.Name = 'changed';\n" /* copies: the store is not touched */
                    "setStringValue('Full Name', getObjectValue('Customer').properties.Name);");
    assert_string_equal(cv(ch, "Name"), "c1|i1|Customer|t1|Bob|42|string|Leeds|true|1|2|B|x1|0|");
    assert_string_equal(cv(ch, "Full Name"), "Bob");
    jv_free(ch);
}

/* ---- setting ---- */

static void test_set_scalars(void **state)
{
    (void)state;
    jv *ch = run_ok("setStringValue('{![Name]}', 'Grace');\n"
                    "setNumberValue('Count', 41 + 1);\n"
                    "setNumberValue('Price', '0.5');\n"
                    "setValue('Empty', 0.1 + 0.2);\n"
                    "setBooleanValue('Flag', false);\n"
                    "setDateTimeValue('When', new Date(Date.UTC(2021, 0, 2, 3, 4, 5, 6)));\n"
                    "setDateTimeValue('Day', '2022-03-04T05:06:07+01:00');\n"
                    "setPasswordValue('Secret', 'hunter2');\n"
                    "setContentValue('Html', '<i>x</i>');\n"
                    "setStringValue('Nothing', null);\n"
                    "setValue('Full Name', 12);\n");
    assert_string_equal(cv(ch, "Name"), "Grace");
    assert_string_equal(cv(ch, "Count"), "42");
    assert_string_equal(cv(ch, "Price"), "0.5");
    assert_string_equal(cv(ch, "Empty"), "0.30000000000000004");
    assert_string_equal(cv(ch, "Flag"), "false");
    assert_string_equal(cv(ch, "When"), "2021-01-02T03:04:05.006Z");
    assert_string_equal(cv(ch, "Day"), "2022-03-04T04:06:07.000Z");
    assert_string_equal(cv(ch, "Secret"), "hunter2");
    assert_string_equal(cv(ch, "Html"), "<i>x</i>");
    assert_string_equal(cv(ch, "Nothing"), "<null>");
    assert_string_equal(cv(ch, "Full Name"), "12");
    /* same shape as the input entries, contentType kept */
    const jv *e = jv_get(ch, "Count");
    assert_string_equal(jv_get_str(e, "contentType"), "ContentNumber");
    assert_true(jv_is_null(jv_get(e, "objectData")) && jv_get(e, "objectData"));
    assert_string_equal(jv_get_str(jv_get(ch, "Day"), "contentType"), "ContentDate");
    assert_int_equal(jv_obj_size(ch), 11);
    jv_free(ch);

    ch = run_ok("setBooleanValue('Flag', 'FALSE'); setValue('Count', '7');\n"
                "setDateTimeValue('When', 0); setBooleanValue('Name', 1);");
    assert_string_equal(cv(ch, "Flag"), "false");
    assert_string_equal(cv(ch, "Count"), "7");
    assert_string_equal(cv(ch, "When"), "1970-01-01T00:00:00.000Z");
    assert_string_equal(cv(ch, "Name"), "true");
    jv_free(ch);
}

static void test_set_objects(void **state)
{
    (void)state;
    jv *ch = run_ok("var c = getObjectValue('Customer');\n"
                    "c.properties.Name = 'Carol'; c.properties.Age = 30; c.properties.Vip = true;\n"
                    "c.properties.Since = new Date(Date.UTC(2000, 0, 1)); c.properties.Note = null;\n"
                    "setObjectValue('{![Customer]}', c);\n"
                    "var items = getArrayValue('Items');\n"
                    "items.push({developerName: 'Item', properties: {Sku: 'C', Tags: [{properties: {T: 'x'}}]}});\n"
                    "setArrayValue('Items', items);\n"
                    "setValue('NoItems', value('Items'));\n");
    const jv *cust = jv_get(jv_get(ch, "Customer"), "objectData");
    assert_int_equal(jv_len(cust), 1);
    const jv *m = jv_at(cust, 0);
    assert_string_equal(jv_get_str(m, "externalId"), "c1");
    assert_string_equal(jv_get_str(m, "internalId"), "i1");
    assert_string_equal(jv_get_str(m, "developerName"), "Customer");
    assert_string_equal(jv_get_str(m, "typeElementId"), "t1");
    jv *want = js("[{'developerName':'Name','contentValue':'Carol','objectData':null},"
                  "{'developerName':'Age','contentValue':'30','objectData':null},"
                  "{'developerName':'Address','contentValue':null,'objectData':[{'externalId':'a1','internalId':null,"
                  "'developerName':'Address','typeElementId':null,'properties':["
                  "{'developerName':'City','contentValue':'Leeds','objectData':null}]}]},"
                  "{'developerName':'Vip','contentValue':'true','objectData':null},"
                  "{'developerName':'Since','contentValue':'2000-01-01T00:00:00.000Z','objectData':null},"
                  "{'developerName':'Note','contentValue':null,'objectData':null}]");
    if (!jv_equal(jv_get(m, "properties"), want)) {
        char *got = jv_dumps(jv_get(m, "properties"));
        fail_msg("properties: %s", got);
    }
    jv_free(want);
    assert_true(jv_is_null(jv_get(jv_get(ch, "Customer"), "contentValue")));
    assert_string_equal(jv_get_str(jv_get(ch, "Customer"), "contentType"), "ContentObject");

    const jv *items = jv_get(jv_get(ch, "Items"), "objectData");
    assert_int_equal(jv_len(items), 3);
    const jv *third = jv_at(items, 2);
    assert_true(jv_is_null(jv_get(third, "externalId")));
    const jv *tags = jv_at(jv_get(third, "properties"), 1);
    assert_string_equal(jv_get_str(tags, "developerName"), "Tags");
    assert_string_equal(jv_get_str(jv_at(jv_get(jv_at(jv_get(tags, "objectData"), 0), "properties"), 0), "contentValue"),
                        "x");
    assert_true(jv_equal(jv_get(jv_get(ch, "NoItems"), "objectData"), items)); /* value() → setValue() round trip */
    jv_free(ch);

    ch = run_ok("setObjectValue('Customer', null); setArrayValue('Items', []);");
    assert_true(jv_is_null(jv_get(jv_get(ch, "Customer"), "objectData")));
    assert_int_equal(jv_len(jv_get(jv_get(ch, "Items"), "objectData")), 0);
    jv_free(ch);
}

static void test_read_after_set(void **state)
{
    (void)state;
    jv *ch = run_ok("setNumberValue('Count', 10);\n"
                    "setArrayValue('Items', [{properties: {Sku: 'Z'}}]);\n"
                    "setStringValue('Name', value('Count') * 2 + ':' + getArrayValue('Items')[0].properties.Sku);");
    assert_string_equal(cv(ch, "Name"), "20:Z");
    jv_free(ch);
}

/* Strings leave the worker as valid UTF-8, whatever JavaScript made of them. */
static void test_unicode(void **state)
{
    (void)state;
    jv *ch = run_ok("setStringValue('Name', 'caf\\u00e9 \\uD83D\\uDE00');\n"
                    "setStringValue('Full Name', 'a\\uD800b');\n"
                    "setStringValue('Secret', getStringValue('Html') + ' \xc3\xa9\xf0\x9f\x98\x80');\n"
                    "setStringValue('Html', 'line\\nbreak \"quoted\"');");
    assert_string_equal(cv(ch, "Name"), "caf\xc3\xa9 \xf0\x9f\x98\x80");
    assert_string_equal(cv(ch, "Full Name"), "a\xef\xbf\xbd" "b");
    assert_string_equal(cv(ch, "Secret"), "<b>hi</b> \xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(cv(ch, "Html"), "line\nbreak \"quoted\"");
    jv_free(ch);
}

/* ---- errors ---- */

static void test_syntax_error(void **state)
{
    (void)state;
    sl_error err = {0};
    run_fail(g_runner, "var x = 1;\nvar y = ;", SL_EINVAL, &err);
    assert_has(err.msg, "macro failed: SyntaxError");
    assert_has(err.msg, "line 2");
}

static void test_thrown_error(void **state)
{
    (void)state;
    sl_error err = {0};
    run_fail(g_runner, "var a = 1;\n\nthrow new Error('boom ' + a);", SL_EINVAL, &err);
    assert_string_equal(err.msg, "macro failed: Error: boom 1 (line 3)");
    run_fail(g_runner, "throw 'plain';", SL_EINVAL, &err);
    assert_string_equal(err.msg, "macro failed: plain");
    run_fail(g_runner, "\nnull.x;", SL_EINVAL, &err);
    assert_has(err.msg, "macro failed: TypeError");
    assert_has(err.msg, "(line 2)");
    /* a long message is cut, and stays one line */
    run_fail(g_runner, "throw new Error(new Array(2000).join('x\\n'));", SL_EINVAL, &err);
    assert_true(strlen(err.msg) < 480);
    assert_null(strchr(err.msg, '\n'));
    assert_has(err.msg, "...");
}

static void test_unknown_value(void **state)
{
    (void)state;
    sl_error err = {0};
    run_fail(g_runner, "var a = 1;\ngetValue('{![Nope]}');", SL_EINVAL, &err);
    assert_string_equal(err.msg, "macro failed: Error: getValue: there is no value named \"{![Nope]}\" (line 2)");
    run_fail(g_runner, "setStringValue('nAME', 'x');", SL_EINVAL, &err); /* names match exactly */
    assert_has(err.msg, "no value named \"nAME\"");
    run_fail(g_runner, "value('toString');", SL_EINVAL, &err);
    assert_has(err.msg, "no value named \"toString\"");
    run_fail(g_runner, "value(42);", SL_EINVAL, &err);
    assert_has(err.msg, "TypeError: value: the value reference must be a string");
    /* a macro can catch the error and go on */
    jv *ch = run_ok("try { value('Nope'); } catch (e) { setStringValue('Name', e.message); }");
    assert_string_equal(cv(ch, "Name"), "value: there is no value named \"Nope\"");
    jv_free(ch);
}

static void test_bad_setter_input(void **state)
{
    (void)state;
    sl_error err = {0};
    run_fail(g_runner, "setNumberValue('Count', 'abc');", SL_EINVAL, &err);
    assert_has(err.msg, "RangeError: setNumberValue: NaN is not a finite number (line 1)");
    run_fail(g_runner, "setNumberValue('Count', 1/0);", SL_EINVAL, &err);
    assert_has(err.msg, "not a finite number");
    run_fail(g_runner, "setDateTimeValue('When', 'not a date');", SL_EINVAL, &err);
    assert_has(err.msg, "setDateTimeValue: not a valid date");
    run_fail(g_runner, "setStringValue('Customer', 'x');", SL_EINVAL, &err);
    assert_has(err.msg, "\"Customer\" holds objects");
    run_fail(g_runner, "setArrayValue('Name', []);", SL_EINVAL, &err);
    assert_has(err.msg, "\"Name\" is not an object or list value");
    run_fail(g_runner, "setArrayValue('Items', 'x');", SL_EINVAL, &err);
    assert_has(err.msg, "expected an array or null");
    run_fail(g_runner, "setArrayValue('Customer', [{}, {}]);", SL_EINVAL, &err);
    assert_has(err.msg, "holds at most one object");
    run_fail(g_runner, "setArrayValue('Items', [1]);", SL_EINVAL, &err);
    assert_has(err.msg, "setArrayValue: expected a plain object, got a primitive value");
    run_fail(g_runner, "setObjectValue('Customer', new Date());", SL_EINVAL, &err);
    assert_has(err.msg, "got a Date");
    run_fail(g_runner, "setObjectValue('Customer', {properties: [1]});", SL_EINVAL, &err);
    assert_has(err.msg, "properties must be an object of name: value");
    run_fail(g_runner, "var o = {properties: {}}; var p = o; for (var i = 0; i < 40; i++) { p.properties.c = {properties: {}}; p = p.properties.c; }\n"
                       "setObjectValue('Customer', o);",
             SL_EINVAL, &err);
    assert_has(err.msg, "nested deeper than 16 levels");
}

/* ---- the sandbox ---- */

static void test_globals(void **state)
{
    (void)state;
    jv *ch = run_ok("console.log('ignored', 1); console.error('too');\n"
                    "setStringValue('Name', [typeof print, typeof alert, typeof Duktape, typeof require,\n"
                    "  typeof CBOR, typeof Buffer, typeof TextEncoder, typeof performance,\n"
                    "  typeof JSON, typeof Math, typeof Date].join(','));");
    assert_string_equal(cv(ch, "Name"), "undefined,undefined,undefined,undefined,undefined,undefined,undefined,"
                                        "undefined,object,object,function");
    jv_free(ch);
    /* replacing built-ins does not confuse the API */
    ch = run_ok("var D = Date; D.prototype.getTime = function () { return 5; }; Date = function () { return 1; };\n"
                "setDateTimeValue('When', '2020-02-02T00:00:00Z');\n"
                "Object.prototype.toJSON = function () { return 'x'; };\n"
                "setStringValue('Name', value('When').toISOString());");
    assert_string_equal(cv(ch, "When"), "2020-02-02T00:00:00.000Z");
    assert_string_equal(cv(ch, "Name"), "2020-02-02T00:00:00.000Z");
    assert_int_equal(jv_obj_size(ch), 2);
    jv_free(ch);
}

/* Each macro gets a fresh heap: nothing one leaves behind is seen by the next, whichever worker. */
static void test_fresh_heap(void **state)
{
    (void)state;
    for (int i = 0; i < 6; i++) {
        jv *ch = run_ok("var seen = typeof leaked + ',' + (Array.prototype.extra === undefined);\n"
                        "leaked = 1; Array.prototype.extra = 2; Math.max = null;\n"
                        "setStringValue('Name', seen);");
        assert_string_equal(cv(ch, "Name"), "undefined,true");
        jv_free(ch);
    }
}

/* ---- limits ---- */

static void test_timeout(void **state)
{
    (void)state;
    macro_limits lim = {.time_ms = 200};
    macro_runner *r = NULL;
    sl_error err = {0};
    assert_int_equal(macro_runner_start(worker_argv, 1, &lim, &r, &err), 0);
    for (int round = 0; round < 2; round++) {
        int64_t t0 = mono_ms();
        run_fail(r, "while (true) {}", SL_ETIMEOUT, &err);
        int64_t took = mono_ms() - t0;
        assert_string_equal(err.msg, "macro ran over its time budget of 200 ms");
        if (took < 190 || took > 200 + 1500)
            fail_msg("the runaway macro was stopped after %lld ms", (long long)took);
        /* the runner keeps working: the killed worker was replaced */
        jv *values = js(values_text), *ch = NULL;
        if (macro_run(r, "setNumberValue('Count', getNumberValue('Count') + 1);", values, &ch, &err) != 0)
            fail_msg("after a timeout: %s", err.msg);
        assert_string_equal(cv(ch, "Count"), "4");
        jv_free(ch);
        jv_free(values);
    }
    macro_runner_stop(r);
}

static void test_memory_bomb(void **state)
{
    (void)state;
    sl_error err = {0};
    jv *values = js(values_text), *ch = (jv *)1;
    /* Distinct strings: the memory cap stops it. */
    int64_t t0 = mono_ms();
    int rc = macro_run(g_runner, "var a = [], i = 0; while (true) a.push('x'.repeat(1e5) + i++);", values,
                       &ch, &err);
    assert_int_equal(rc, SL_EINVAL);
    assert_null(ch);
    assert_string_equal(err.msg, "macro failed: out of memory: the macro needs more than 16777216 bytes");
    assert_true(mono_ms() - t0 < 5000);
    /* The same string every time: duktape interns strings, so the array grows by one slot per
     * round and the time budget ends it before the cap does. Either way: an error, no hang. */
    macro_limits lim = {.time_ms = 1000};
    macro_runner *r = NULL;
    assert_int_equal(macro_runner_start(worker_argv, 1, &lim, &r, &err), 0);
    t0 = mono_ms();
    rc = macro_run(r, "var a = []; while (true) a.push(new Array(1e5).join('x'));", values, &ch, &err);
    if (rc != SL_ETIMEOUT && rc != SL_EINVAL)
        fail_msg("memory bomb: %d %s", rc, err.msg);
    assert_true(mono_ms() - t0 < 1000 + 2000);
    assert_int_equal(macro_run(r, "setStringValue('Name', 'fine');", values, &ch, &err), 0);
    assert_string_equal(cv(ch, "Name"), "fine");
    jv_free(ch);
    macro_runner_stop(r);
    /* One huge allocation, caught by the macro itself: the macro goes on. */
    ch = run_ok("try { 'x'.repeat(1e8); } catch (e) { setStringValue('Name', String(e)); }");
    assert_string_equal(cv(ch, "Name"), "Error: alloc failed");
    jv_free(ch);
    ch = run_ok("setStringValue('Name', 'fine');");
    assert_string_equal(cv(ch, "Name"), "fine");
    jv_free(ch);
    jv_free(values);
}

static void test_output_cap(void **state)
{
    (void)state;
    macro_limits lim = {.max_output = 4096};
    macro_runner *r = NULL;
    sl_error err = {0};
    assert_int_equal(macro_runner_start(worker_argv, 1, &lim, &r, &err), 0);
    run_fail(r, "setStringValue('Name', new Array(10000).join('x'));", SL_ETOOBIG, &err);
    assert_has(err.msg, "more than 4096 bytes");
    jv *values = js(values_text), *ch = NULL;
    assert_int_equal(macro_run(r, "setStringValue('Name', 'short');", values, &ch, &err), 0);
    assert_string_equal(cv(ch, "Name"), "short");
    jv_free(ch);
    jv_free(values);
    macro_runner_stop(r);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    sl_error err = {0};
    jv *ch = (jv *)1;
    assert_int_equal(macro_run(g_runner, NULL, NULL, &ch, &err), SL_EINVAL);
    assert_null(ch);
    jv *arr = js("[1]");
    assert_int_equal(macro_run(g_runner, "1", arr, &ch, &err), SL_EINVAL);
    jv_free(arr);
    assert_int_equal(macro_run(g_runner, "var s = '\xff';", NULL, &ch, &err), SL_EINVAL);
    assert_has(err.msg, "not valid UTF-8");
    /* no values at all is fine */
    assert_int_equal(macro_run(g_runner, "var x = 1;", NULL, &ch, &err), 0);
    assert_int_equal(jv_obj_size(ch), 0);
    jv_free(ch);

    macro_runner *r = (macro_runner *)1;
    macro_limits lim = {.memory_bytes = 1024};
    assert_int_equal(macro_runner_start(worker_argv, 1, &lim, &r, &err), SL_EINVAL);
    assert_null(r);
    lim = (macro_limits){.time_ms = -5};
    assert_int_equal(macro_runner_start(worker_argv, 1, &lim, &r, &err), SL_EINVAL);
}

/* Workers that are not macro workers, or cannot run at all, fail the start cleanly. */
static void test_start_failures(void **state)
{
    (void)state;
    macro_runner *r = NULL;
    sl_error err = {0};
    const char *const missing[] = {"/nonexistent/sluice", MACRO_WORKER_ARG, NULL};
    assert_int_equal(macro_runner_start(missing, 1, NULL, &r, &err), SL_EEXEC);
    assert_has(err.msg, "cannot start the macro worker /nonexistent/sluice");
    assert_null(r);
    const char *const quits[] = {"/bin/sh", "-c", "exit 3", NULL};
    assert_int_equal(macro_runner_start(quits, 2, NULL, &r, &err), SL_EEXEC);
    assert_has(err.msg, "the macro worker did not start (exited with status 3)");
    const char *const chatty[] = {"/bin/sh", "-c", "printf 'hello, world'; sleep 5", NULL};
    int64_t t0 = mono_ms();
    assert_int_equal(macro_runner_start(chatty, 1, NULL, &r, &err), SL_EEXEC);
    assert_has(err.msg, "not a macro worker");
    assert_true(mono_ms() - t0 < 3000); /* the sleeping shell was killed, not waited for */
}

/* Pids of this process's children whose command line has MACRO_WORKER_ARG. */
static size_t worker_pids(pid_t *out, size_t max)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) && n < max;) {
        char path[300], stat[512], cmd[256] = {0};
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(stat, 1, sizeof stat - 1, f);
        fclose(f);
        stat[len] = 0;
        char *close_paren = strrchr(stat, ')');
        int ppid = 0;
        if (!close_paren || sscanf(close_paren + 1, " %*c %d", &ppid) != 1 || ppid != getpid())
            continue;
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        len = fread(cmd, 1, sizeof cmd - 1, f);
        fclose(f);
        for (size_t i = 0; i < len; i++)
            if (!cmd[i])
                cmd[i] = ' ';
        if (strstr(cmd, MACRO_WORKER_ARG))
            out[n++] = (pid_t)atoi(e->d_name);
    }
    closedir(d);
    return n;
}

/* A worker killed from outside: the macro that finds it dead fails with SL_EIO, later ones work. */
static void test_worker_killed(void **state)
{
    (void)state;
    macro_runner *r = NULL;
    sl_error err = {0};
    pid_t before[16], pids[16];
    size_t nbefore = worker_pids(before, 16); /* g_runner's */
    assert_int_equal(macro_runner_start(worker_argv, 2, NULL, &r, &err), 0);
    size_t n = worker_pids(pids, 16), killed = 0;
    assert_int_equal(n, nbefore + 2);
    for (size_t i = 0; i < n; i++) {
        bool old = false;
        for (size_t j = 0; j < nbefore; j++)
            old = old || pids[i] == before[j];
        if (!old && kill(pids[i], SIGKILL) == 0)
            killed++;
    }
    assert_int_equal(killed, 2);
    usleep(50 * 1000);
    int failures = 0;
    jv *values = js(values_text);
    for (int i = 0; i < 4; i++) {
        jv *ch = NULL;
        int rc = macro_run(r, "setStringValue('Name', 'ok');", values, &ch, &err);
        if (rc != 0) {
            assert_int_equal(rc, SL_EIO);
            assert_has(err.msg, "the macro worker ");
            failures++;
        } else {
            assert_string_equal(cv(ch, "Name"), "ok");
        }
        jv_free(ch);
    }
    assert_true(failures >= 1 && failures <= 2);
    jv *ch = NULL;
    assert_int_equal(macro_run(r, "setStringValue('Name', 'ok');", values, &ch, &err), 0);
    jv_free(ch);
    jv_free(values);
    macro_runner_stop(r);
    assert_int_equal(worker_pids(pids, 16), nbefore); /* all of r's workers were reaped */
}

/* ---- concurrency ---- */

#define THREADS 8
#define PER_THREAD 50

typedef struct thread_arg {
    int id;
    int ok;
    char failure[600];
} thread_arg;

static void *thread_main(void *p)
{
    thread_arg *a = p;
    for (int i = 0; i < PER_THREAD; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"Count\":{\"contentType\":\"ContentNumber\",\"contentValue\":\"%d\",\"objectData\":null},"
                 "\"Tag\":{\"contentType\":\"ContentString\",\"contentValue\":\"t%d\",\"objectData\":null}}",
                 a->id * 1000 + i, a->id);
        sl_error err = {0};
        jv *values = jv_parse(text, strlen(text), &err), *ch = NULL;
        int rc = macro_run(g_runner,
                           "setNumberValue('Count', getNumberValue('Count') * 2 + 1);\n"
                           "setStringValue('Tag', value('{![Tag]}') + '/' + value('Count'));",
                           values, &ch, &err);
        char want_count[32], want_tag[64];
        snprintf(want_count, sizeof want_count, "%d", (a->id * 1000 + i) * 2 + 1);
        snprintf(want_tag, sizeof want_tag, "t%d/%s", a->id, want_count);
        const char *count = ch ? jv_get_str(jv_get(ch, "Count"), "contentValue") : NULL;
        const char *tag = ch ? jv_get_str(jv_get(ch, "Tag"), "contentValue") : NULL;
        if (rc == 0 && str_eq(count, want_count) && str_eq(tag, want_tag))
            a->ok++;
        else if (!a->failure[0])
            snprintf(a->failure, sizeof a->failure, "thread %d macro %d: rc %d %s (%s, %s)", a->id, i, rc, err.msg,
                     count ? count : "-", tag ? tag : "-");
        jv_free(ch);
        jv_free(values);
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    pthread_t t[THREADS];
    thread_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (thread_arg){.id = i + 1};
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        if (args[i].failure[0])
            fail_msg("%s", args[i].failure);
        assert_int_equal(args[i].ok, PER_THREAD);
    }
}

static int setup(void **state)
{
    (void)state;
    macro_limits lim = {.time_ms = 5000}; /* generous: the machine may be loaded or sanitized */
    sl_error err = {0};
    if (macro_runner_start(worker_argv, 2, &lim, &g_runner, &err) != 0) {
        fprintf(stderr, "cannot start the macro runner: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    macro_runner_stop(g_runner);
    g_runner = NULL;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], MACRO_WORKER_ARG) == 0)
        return macro_worker_main();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_scalars),   cmocka_unit_test(test_read_objects),
        cmocka_unit_test(test_set_scalars),    cmocka_unit_test(test_set_objects),
        cmocka_unit_test(test_read_after_set), cmocka_unit_test(test_unicode),
        cmocka_unit_test(test_syntax_error),   cmocka_unit_test(test_thrown_error),
        cmocka_unit_test(test_unknown_value),  cmocka_unit_test(test_bad_setter_input),
        cmocka_unit_test(test_globals),        cmocka_unit_test(test_fresh_heap),
        cmocka_unit_test(test_timeout),        cmocka_unit_test(test_memory_bomb),
        cmocka_unit_test(test_output_cap),     cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_start_failures), cmocka_unit_test(test_worker_killed),
        cmocka_unit_test(test_concurrent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
