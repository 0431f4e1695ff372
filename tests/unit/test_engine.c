/* Unit tests for flow/engine (with flow/page) and flow/invoke, over hand-written snapshots.
 *
 * Covered: values and their defaults (ids case-insensitive, the blob keyed by lower-case id,
 * properties of object values); eng_compare for every criteriaType and content type;
 * comparisons with nested AND/OR; operations (VALUE_OF, SET_EQUAL, NEW, EMPTY, GET_FIRST,
 * GET_NEXT, ADD, REMOVE, property paths, order and disabled); {![Value].[Property]}
 * substitution with HTML escaping; page_apply_inputs' validation messages (required, number,
 * boolean, datetime, maxSize, regex, minimum/maximum, minLength, lists) in SAVE / PARTIAL / SYNC
 * modes; engine_state_new's input checks; the loop guard; FAULT outcomes on service errors;
 * WAIT and engine_resume_wait; sub-flow child creation and resume by access type; engine_invoke
 * (FORWARD / SYNC / NAVIGATE and bad requests) and engine_response; and the error pointers of
 * invoke_decode / invoke_decode_init. The service and macro callbacks are plain functions here
 * (the HTTP path is covered by the e2e tests). Snapshots are written with ' for JSON's ".
 * The tests named test_fixed_* pin down behaviour the engine does not have yet; each one's comment
 * says what is expected and why. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/engine_internal.h"
#include "flow/invoke.h"

/* ---- helpers ---- */

/* Parses JSON written with ' for ". */
static jv *J(const char *text)
{
    char *t = xstrdup(text);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    sl_error err = {0};
    jv *v = jv_parse(t, strlen(t), &err);
    if (!v)
        fail_msg("bad test JSON (%s at %s): %s", err.msg, err.where, t);
    free(t);
    return v;
}

static void expect_str(const char *got, const char *want)
{
    if (!want && !got)
        return;
    if (!want || !got || strcmp(got, want) != 0)
        fail_msg("expected \"%s\", got \"%s\"", want ? want : "(null)", got ? got : "(null)");
}

static void expect_contains(const char *got, const char *part)
{
    if (!got || !strstr(got, part))
        fail_msg("expected text containing \"%s\", got \"%s\"", part, got ? got : "(null)");
}

#define PERSON_A                                                                                                       \
    "{'internalId':'i-1','externalId':'e-1','developerName':'Person','typeElementId':'t-person','properties':["       \
    "{'typeElementPropertyId':'p-name','developerName':'Name','contentType':'ContentString','contentValue':'Ann'},"     \
    "{'typeElementPropertyId':'p-age','developerName':'Age','contentType':'ContentNumber','contentValue':'30'}]}"
#define PERSON_B                                                                                                       \
    "{'internalId':'i-2','externalId':null,'developerName':'Person','typeElementId':'t-person','properties':["         \
    "{'developerName':'Name','contentValue':'Ben'}]}"

/* Everything but the map and page elements. */
static const char COMMON[] =
    "'valueElements':["
    " {'id':'V-NAME','developerName':'Name','contentType':'ContentString','defaultContentValue':'World','access':'INPUT_OUTPUT'},"
    " {'id':'v-age','developerName':'Age','contentType':'ContentNumber','access':'INPUT'},"
    " {'id':'v-flag','developerName':'Flag','contentType':'ContentBoolean','defaultContentValue':'false','access':'PRIVATE'},"
    " {'id':'v-when','developerName':'When','contentType':'ContentDateTime'},"
    " {'id':'v-day','developerName':'Day','contentType':'ContentDate'},"
    " {'id':'v-person','developerName':'Person','contentType':'ContentObject','typeElementId':'t-person','access':'INPUT_OUTPUT'},"
    " {'id':'v-people','developerName':'People','contentType':'ContentList','typeElementId':'t-person',"
    "  'defaultObjectData':[" PERSON_A "," PERSON_B "]},"
    " {'id':'v-selected','developerName':'Selected','contentType':'ContentList','typeElementId':'t-person'},"
    " {'id':'v-cursor','developerName':'Cursor','contentType':'ContentObject','typeElementId':'t-person'},"
    " {'id':'v-out','developerName':'Out','contentType':'ContentString','access':'OUTPUT'},"
    " {'id':'v-secret','developerName':'Secret','contentType':'ContentString','access':'PRIVATE'},"
    " {'id':'v-noaccess','developerName':'NoAccess','contentType':'ContentString'},"
    " {'id':'v-text','developerName':'Text','contentType':'ContentString','defaultContentValue':'copy me'},"
    " {'id':'v-18','developerName':'Eighteen','contentType':'ContentNumber','defaultContentValue':'18'},"
    " {'id':'v-true','developerName':'True','contentType':'ContentBoolean','defaultContentValue':'true'},"
    " {'id':'v-ada','developerName':'AdaName','contentType':'ContentString','defaultContentValue':'Ada'}],"
    "'typeElements':[{'id':'t-person','developerName':'Person','serviceElementId':'s-svc','properties':["
    " {'id':'p-name','developerName':'Name','contentType':'ContentString'},"
    " {'id':'p-age','developerName':'Age','contentType':'ContentNumber'},"
    " {'id':'p-friends','developerName':'Friends','contentType':'ContentList','typeElementId':'t-person'}]}],"
    "'serviceElements':[{'id':'s-svc','developerName':'Svc','uri':'https://svc.example/api','configurationValues':["
    "  {'developerName':'apiKey','contentType':'ContentPassword','valueElementToReferenceId':{'id':'v-text'}}]},"
    " {'id':'s-nouri','developerName':'NoUri'}],"
    "'navigationElements':[{'id':'n-nav','developerName':'Nav','navigationItems':["
    " {'id':'ni-step','developerName':'Step','locationMapElementId':'m-step'},"
    " {'id':'ni-group','developerName':'Group','navigationItems':["
    "  {'id':'ni-deep','developerName':'Deep','locationMapElementId':'m-page'}]},"
    " {'id':'ni-none','developerName':'Nowhere','locationMapElementId':'m-missing'}]}],"
    "'macroElements':[{'id':'mc-1','developerName':'Macro','code':'x'}]";

/* A snapshot with the given map and page elements (JSON array bodies) and COMMON. */
static flow_snapshot *S(const char *maps, const char *pages)
{
    char *text = xasprintf("{'id':{'id':'f-test','versionId':'fv-1'},'developerName':'Test','startMapElementId':'m-start',"
                           "'mapElements':[%s],'pageElements':[%s],%s}",
                           maps, pages ? pages : "", COMMON);
    for (char *p = text; *p; p++)
        if (*p == '\'')
            *p = '"';
    sl_problems probs;
    problems_init(&probs);
    flow_snapshot *s = NULL;
    if (snapshot_parse_text(text, strlen(text), "test", &s, &probs) != 0) {
        for (size_t i = 0; i < probs.n; i++)
            print_error("%s: %s\n", probs.items[i].pointer, probs.items[i].message);
        fail_msg("test snapshot does not parse");
    }
    problems_free(&probs);
    free(text);
    return s;
}

/* A reference from "id" or "id/propertyId". */
static jv *ref_of(const char *path)
{
    jv *r = jv_new_object();
    const char *slash = strchr(path, '/');
    if (slash) {
        char *id = xstrndup(path, (size_t)(slash - path));
        jv_set_str(r, "id", id);
        jv_set_str(r, "typeElementPropertyId", slash + 1);
        free(id);
    } else {
        jv_set_str(r, "id", path);
    }
    return r;
}

static jv *value_at(const flow_snapshot *snap, const jv *state, const char *path)
{
    jv *r = ref_of(path);
    jv *v = engine_value_get(snap, state, r);
    jv_free(r);
    if (!v)
        fail_msg("no value %s", path);
    return v;
}

/* Asserts a value's contentValue (want NULL = null). */
static void expect_cv(const flow_snapshot *snap, const jv *state, const char *path, const char *want)
{
    jv *v = value_at(snap, state, path);
    const jv *cv = jv_get(v, "contentValue");
    if (want && !jv_is_string(cv))
        fail_msg("%s: expected \"%s\", got %s", path, want, cv ? jv_type_name(jv_typeof(cv)) : "nothing");
    if (!want && !jv_is_null(cv))
        fail_msg("%s: expected null, got \"%s\"", path, jv_is_string(cv) ? jv_str(cv) : jv_type_name(jv_typeof(cv)));
    if (want)
        expect_str(jv_str(cv), want);
    jv_free(v);
}

/* The number of objects of a value, or -1 when its objectData is null. */
static long od_len(const flow_snapshot *snap, const jv *state, const char *path)
{
    jv *v = value_at(snap, state, path);
    const jv *od = jv_get(v, "objectData");
    long n = jv_is_array(od) ? (long)jv_len(od) : -1;
    jv_free(v);
    return n;
}

/* A member of objectData[i] of a value (borrowed from a copy kept until the next call). */
static const char *od_str(const flow_snapshot *snap, const jv *state, const char *path, size_t i, const char *key)
{
    static char out[256];
    jv *v = value_at(snap, state, path);
    const char *s = jv_get_str(jv_at(jv_get(v, "objectData"), i), key);
    str_copy(out, s ? s : "(null)", sizeof out);
    jv_free(v);
    return out;
}

/* ---- a fake service ---- */

#define MAX_CALLS 8

typedef struct reply {
    long status;
    const char *body; /* JSON with ' quotes, or NULL */
    const char *error;
} reply;

typedef struct fake_svc {
    reply replies[MAX_CALLS];
    int n_replies;
    int calls;
    char paths[MAX_CALLS][128];
    char methods[MAX_CALLS][8];
    char services[MAX_CALLS][64];
    jv *bodies[MAX_CALLS];
    int macro_calls;
    const char *macro_changed; /* JSON with ' quotes; NULL = the macro fails */
} fake_svc;

static void fake_call(void *arg, const snap_element *service, const char *method, const char *path, const jv *body,
                      engine_service_result *res)
{
    fake_svc *f = arg;
    int i = f->calls++;
    if (i < MAX_CALLS) {
        str_copy(f->paths[i], path, sizeof f->paths[i]);
        str_copy(f->methods[i], method, sizeof f->methods[i]);
        str_copy(f->services[i], service->id, sizeof f->services[i]);
        f->bodies[i] = jv_copy(body);
    }
    if (f->n_replies == 0) {
        res->status = 0;
        str_copy(res->error, "no reply configured", sizeof res->error);
        return;
    }
    const reply *r = &f->replies[i < f->n_replies ? i : f->n_replies - 1];
    res->status = r->status;
    res->body = r->body ? J(r->body) : NULL;
    if (r->error)
        str_copy(res->error, r->error, sizeof res->error);
}

static int fake_macro(void *arg, const char *code, const jv *values, jv **changed, sl_error *err)
{
    fake_svc *f = arg;
    f->macro_calls++;
    assert_true(jv_is_object(jv_get(values, "Name")));
    if (!f->macro_changed)
        return sl_fail(err, SL_EINVAL, "macro", "ReferenceError: boom");
    *changed = J(f->macro_changed);
    return 0;
}

/* One test's snapshot, state, services and run. */
typedef struct fixture {
    flow_snapshot *snap;
    fake_svc fake;
    engine_services svc;
    engine_run run;
} fixture;

static void fx_init(fixture *fx, const char *maps, const char *pages)
{
    memset(fx, 0, sizeof *fx);
    fx->snap = S(maps, pages);
    fx->svc = (engine_services){.call = fake_call, .macro = fake_macro, .arg = &fx->fake,
                                .callback_uri = "https://engine.example/callback"};
    jv *state = NULL;
    sl_error err = {0};
    assert_int_equal(engine_state_new(fx->snap, NULL, &state, &err), 0);
    fx->run = (engine_run){.snap = fx->snap, .state = state, .svc = &fx->svc, .tenant_id = "tenant-1",
                           .state_id = "state-1"};
}

static void fx_free(fixture *fx)
{
    engine_run_clear(&fx->run);
    jv_free(fx->run.state);
    for (int i = 0; i < fx->fake.calls && i < MAX_CALLS; i++)
        jv_free(fx->fake.bodies[i]);
    snapshot_free(fx->snap);
}

static void fx_reply(fixture *fx, long status, const char *body)
{
    fx->fake.replies[fx->fake.n_replies++] = (reply){status, body, NULL};
}

static const char *current_id(const fixture *fx)
{
    return jv_get_str(fx->run.state, "current");
}

/* Sets a value in the fixture's state, asserting success. */
static void set_cv(fixture *fx, const char *path, const char *content)
{
    jv *r = ref_of(path);
    jv *v = jv_new_object();
    jv_set_str(v, "contentValue", content);
    sl_error err = {0};
    assert_int_equal(eng_value_set(&fx->run, r, v, &err), 0);
    jv_free(v);
    jv_free(r);
}

/* A START element leading to next. */
#define START_TO(next) "{'id':'m-start','elementType':'START','developerName':'Start','outcomes':[{'id':'o-start','nextMapElementId':'" next "'}]}"

/* ---- values ---- */

static void test_values_defaults(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, "{'id':'m-start','elementType':'START'}", NULL);
    const flow_snapshot *s = fx.snap;
    jv *st = fx.run.state;
    expect_str(jv_get_str(st, "current"), "m-start");
    expect_str(engine_state_invoke_type(st), "FORWARD");
    assert_int_equal(jv_obj_size(jv_get(st, "values")), 0);

    jv *v = value_at(s, st, "v-name");
    expect_str(jv_get_str(v, "contentType"), "ContentString");
    expect_str(jv_get_str(v, "contentValue"), "World");
    assert_true(jv_is_null(jv_get(v, "objectData")));
    jv_free(v);
    expect_cv(s, st, "V-Name", "World"); /* ids compare case-insensitively */
    expect_cv(s, st, "v-age", NULL);
    assert_int_equal(od_len(s, st, "v-people"), 2);
    expect_str(od_str(s, st, "v-people", 1, "internalId"), "i-2");
    assert_int_equal(od_len(s, st, "v-person"), -1);

    /* A plain string reference works too; an unknown one gives NULL. */
    jv *sref = jv_new_str("v-text");
    v = engine_value_get(s, st, sref);
    expect_str(jv_get_str(v, "contentValue"), "copy me");
    jv_free(v);
    jv_free(sref);
    jv *bad = ref_of("v-nothing");
    assert_null(engine_value_get(s, st, bad));
    jv_free(bad);
    jv *wref = ref_of("v-when");
    assert_string_equal(eng_ref_content_type(s, wref), "ContentDateTime");
    jv_free(wref);
    wref = ref_of("v-person/p-age");
    assert_string_equal(eng_ref_content_type(s, wref), "ContentNumber");
    jv_free(wref);

    /* Setting stores under the lower-case id and overrides the default, null included. */
    set_cv(&fx, "V-NAME", "Ada");
    expect_cv(s, st, "v-name", "Ada");
    assert_non_null(jv_get(jv_get(st, "values"), "v-name"));
    assert_int_equal(jv_obj_size(jv_get(st, "values")), 1);
    set_cv(&fx, "v-name", NULL);
    expect_cv(s, st, "v-name", NULL);
    fx_free(&fx);
}

static void test_values_objects_and_properties(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, "{'id':'m-start','elementType':'START'}", NULL);
    const flow_snapshot *s = fx.snap;
    sl_error err = {0};

    /* A property of an object value that holds nothing yet creates the object. */
    set_cv(&fx, "v-person/p-name", "Grace");
    assert_int_equal(od_len(s, fx.run.state, "v-person"), 1);
    expect_str(od_str(s, fx.run.state, "v-person", 0, "typeElementId"), "t-person");
    assert_int_equal(strlen(od_str(s, fx.run.state, "v-person", 0, "internalId")), 36);
    expect_cv(s, fx.run.state, "v-person/p-name", "Grace");
    expect_cv(s, fx.run.state, "v-person/p-age", NULL);
    jv *pv = value_at(s, fx.run.state, "v-person/p-age");
    expect_str(jv_get_str(pv, "contentType"), "ContentNumber");
    jv_free(pv);
    set_cv(&fx, "v-person/P-AGE", "41");
    expect_cv(s, fx.run.state, "v-person/p-age", "41");
    expect_cv(s, fx.run.state, "v-person/p-name", "Grace");

    /* Property of a list value: the first object. Found by name when the object lacks ids. */
    expect_cv(s, fx.run.state, "v-people/p-name", "Ann");

    /* An object value keeps only the first of several objects; a list keeps all. */
    jv *two = J("{'contentValue':null,'objectData':[" PERSON_A "," PERSON_B "]}");
    jv *r = ref_of("v-cursor");
    assert_int_equal(eng_value_set(&fx.run, r, two, &err), 0);
    jv_free(r);
    assert_int_equal(od_len(s, fx.run.state, "v-cursor"), 1);
    expect_str(od_str(s, fx.run.state, "v-cursor", 0, "internalId"), "i-1");
    r = ref_of("v-selected");
    assert_int_equal(eng_value_set(&fx.run, r, two, &err), 0);
    jv_free(r);
    assert_int_equal(od_len(s, fx.run.state, "v-selected"), 2);
    jv_free(two);

    /* Errors. */
    jv *v = J("{'contentValue':'x'}");
    r = ref_of("v-name/p-name");
    assert_int_equal(eng_value_set(&fx.run, r, v, &err), SL_EINVAL);
    expect_contains(err.msg, "not an object");
    jv_free(r);
    r = ref_of("v-person/p-nope");
    assert_int_equal(eng_value_set(&fx.run, r, v, &err), SL_ENOTFOUND);
    jv_free(r);
    r = ref_of("v-nope");
    assert_int_equal(eng_value_set(&fx.run, r, v, &err), SL_ENOTFOUND);
    jv_free(r);
    jv_free(v);
    fx_free(&fx);
}

/* ---- comparisons ---- */

static bool cmp(const char *criteria, const char *ct, const char *l, const char *r)
{
    jv *a = jv_new_object(), *b = jv_new_object();
    jv_set_str(a, "contentType", ct);
    jv_set_str(a, "contentValue", l);
    jv_set_str(b, "contentType", ct);
    jv_set_str(b, "contentValue", r);
    bool out = false;
    sl_error err = {0};
    int rc = eng_compare(criteria, a, b, &out, &err);
    if (rc)
        fail_msg("eng_compare(%s, %s, \"%s\", \"%s\") failed: %s", criteria, ct, l ? l : "null", r ? r : "null", err.msg);
    jv_free(a);
    jv_free(b);
    return out;
}

static void test_compare_strings(void **unused)
{
    (void)unused;
    const char *t = "ContentString";
    assert_true(cmp("EQUAL", t, "abc", "abc"));
    assert_false(cmp("EQUAL", t, "abc", "ABC")); /* equality is exact */
    assert_true(cmp("equal", t, "abc", "abc")); /* the criteria name is not */
    assert_true(cmp("NOT_EQUAL", t, "abc", "abd"));
    assert_false(cmp("NOT_EQUAL", t, "abc", "abc"));
    assert_true(cmp("GREATER_THAN", t, "b", "a"));
    assert_false(cmp("GREATER_THAN", t, "a", "a"));
    assert_true(cmp("GREATER_THAN_OR_EQUAL", t, "a", "a"));
    assert_true(cmp("LESS_THAN", t, "10", "9")); /* text, not numbers */
    assert_true(cmp("LESS_THAN_OR_EQUAL", t, "a", "a"));
    assert_false(cmp("LESS_THAN_OR_EQUAL", t, "b", "a"));
    assert_true(cmp("CONTAINS", t, "Hello World", "o wOR"));
    assert_false(cmp("CONTAINS", t, "Hello", "xyz"));
    assert_true(cmp("CONTAINS", t, "Hello", ""));
    assert_true(cmp("STARTS_WITH", t, "Hello", "hEL"));
    assert_false(cmp("STARTS_WITH", t, "Hello", "ello"));
    assert_true(cmp("ENDS_WITH", t, "Hello", "LLO"));
    assert_false(cmp("ENDS_WITH", t, "lo", "Hello"));
    assert_true(cmp("EQUAL", t, NULL, "")); /* null reads as "" */
    assert_true(cmp("EQUAL", t, NULL, NULL));
    /* ContentPassword and unknown types compare as text */
    assert_true(cmp("EQUAL", "ContentPassword", "s3cret", "s3cret"));
    assert_true(cmp("GREATER_THAN", NULL, "b", "a"));
}

static void test_compare_is_empty(void **unused)
{
    (void)unused;
    const char *t = "ContentString";
    jv *empty = J("{'contentType':'ContentString','contentValue':''}");
    jv *null = J("{'contentType':'ContentString','contentValue':null}");
    jv *full = J("{'contentType':'ContentString','contentValue':'x'}");
    jv *yes = J("{'contentType':'ContentBoolean','contentValue':'true'}");
    jv *no = J("{'contentType':'ContentBoolean','contentValue':'FALSE'}");
    bool out = false;
    sl_error err = {0};
    /* without a right side IS_EMPTY means "is empty" */
    assert_int_equal(eng_compare("IS_EMPTY", empty, NULL, &out, &err), 0);
    assert_true(out);
    assert_int_equal(eng_compare("IS_EMPTY", null, NULL, &out, &err), 0);
    assert_true(out);
    assert_int_equal(eng_compare("IS_EMPTY", full, NULL, &out, &err), 0);
    assert_false(out);
    /* with a boolean right side: "is empty" == right */
    assert_int_equal(eng_compare("IS_EMPTY", full, yes, &out, &err), 0);
    assert_false(out);
    assert_int_equal(eng_compare("IS_EMPTY", full, no, &out, &err), 0);
    assert_true(out);
    assert_int_equal(eng_compare("IS_EMPTY", empty, no, &out, &err), 0);
    assert_false(out);
    assert_true(cmp("IS_EMPTY", t, "", "true"));

    /* objects and lists: empty when objectData is null or [] */
    jv *lnull = J("{'contentType':'ContentList','contentValue':null,'objectData':null}");
    jv *lnone = J("{'contentType':'ContentList','objectData':[]}");
    jv *lone = J("{'contentType':'ContentObject','objectData':[" PERSON_A "]}");
    assert_int_equal(eng_compare("IS_EMPTY", lnull, NULL, &out, &err), 0);
    assert_true(out);
    assert_int_equal(eng_compare("IS_EMPTY", lnone, yes, &out, &err), 0);
    assert_true(out);
    assert_int_equal(eng_compare("IS_EMPTY", lone, NULL, &out, &err), 0);
    assert_false(out);
    assert_int_equal(eng_compare("IS_EMPTY", lone, no, &out, &err), 0);
    assert_true(out);
    jv_free(empty);
    jv_free(null);
    jv_free(full);
    jv_free(yes);
    jv_free(no);
    jv_free(lnull);
    jv_free(lnone);
    jv_free(lone);
}

static void test_compare_numbers_booleans_dates(void **unused)
{
    (void)unused;
    const char *n = "ContentNumber";
    assert_true(cmp("GREATER_THAN", n, "10", "9")); /* numerically */
    assert_true(cmp("EQUAL", n, "1.0", "1"));
    assert_true(cmp("EQUAL", n, "1e3", "1000"));
    assert_true(cmp("LESS_THAN", n, "-3", "2"));
    assert_true(cmp("GREATER_THAN_OR_EQUAL", n, "2.5", "2.5"));
    assert_true(cmp("LESS_THAN_OR_EQUAL", n, "2.4", "2.5"));
    assert_false(cmp("NOT_EQUAL", n, "0", "-0"));

    const char *b = "ContentBoolean";
    assert_true(cmp("EQUAL", b, "TRUE", "true"));
    assert_true(cmp("EQUAL", b, "1", "true"));
    assert_true(cmp("EQUAL", b, "no", "false")); /* anything but true/1 is false */
    assert_true(cmp("NOT_EQUAL", b, "true", "false"));
    assert_true(cmp("LESS_THAN", b, "false", "true"));
    assert_true(cmp("EQUAL", b, NULL, "false"));

    const char *d = "ContentDateTime";
    assert_true(cmp("EQUAL", d, "2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00"));
    assert_true(cmp("LESS_THAN", d, "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"));
    assert_true(cmp("GREATER_THAN", d, "2024-03-01T10:00:00.250Z", "2024-03-01T10:00:00Z"));
    assert_true(cmp("GREATER_THAN", d, "2024-01-01T00:00:00-05:00", "2024-01-01T04:59:00Z"));
    assert_true(cmp("EQUAL", d, "2024-06-01 12:30", "2024-06-01T12:30:00Z"));
    assert_true(cmp("GREATER_THAN", "ContentDate", "2024-01-02", "2024-01-01"));
    assert_true(cmp("EQUAL", "ContentDate", "2024-01-01", "2024-01-01T00:00:00Z"));
    assert_true(cmp("LESS_THAN", "contentdate", "2023-12-31", "2024-01-01"));
}

static void test_compare_objects_and_errors(void **unused)
{
    (void)unused;
    jv *a = J("{'contentType':'ContentList','objectData':[" PERSON_A "," PERSON_B "]}");
    jv *a2 = J("{'contentType':'ContentList','objectData':[{'externalId':'e-1','internalId':'other'},{'internalId':'i-2'}]}");
    jv *b = J("{'contentType':'ContentList','objectData':[" PERSON_B "," PERSON_A "]}");
    jv *one = J("{'contentType':'ContentObject','objectData':[" PERSON_A "]}");
    bool out = false;
    sl_error err = {0};
    /* lists are equal when their objects' keys (externalId, else internalId) match in order */
    assert_int_equal(eng_compare("EQUAL", a, a2, &out, &err), 0);
    assert_true(out);
    assert_int_equal(eng_compare("EQUAL", a, b, &out, &err), 0);
    assert_false(out);
    assert_int_equal(eng_compare("NOT_EQUAL", a, one, &out, &err), 0);
    assert_true(out);
    assert_int_equal(eng_compare("GREATER_THAN", a, b, &out, &err), SL_EINVAL);
    expect_contains(err.msg, "GREATER_THAN");
    assert_int_equal(eng_compare("CONTAINS", one, one, &out, &err), SL_EINVAL);

    jv *s = J("{'contentType':'ContentString','contentValue':'x'}");
    assert_int_equal(eng_compare("SIMILAR_TO", s, s, &out, &err), SL_EINVAL);
    expect_contains(err.msg, "SIMILAR_TO");
    assert_int_equal(eng_compare(NULL, s, s, &out, &err), SL_EINVAL);
    jv_free(a);
    jv_free(a2);
    jv_free(b);
    jv_free(one);
    jv_free(s);
}

static jv *rule(const char *left, const char *criteria, const char *right)
{
    jv *r = jv_new_object();
    jv_set_take(r, "leftValueElementToReferenceId", ref_of(left));
    jv_set_str(r, "criteriaType", criteria);
    if (right)
        jv_set_take(r, "rightValueElementToReferenceId", ref_of(right));
    return r;
}

static jv *comparison(const char *type, jv *rules, jv *subs)
{
    jv *c = jv_new_object();
    jv_set_str(c, "comparisonType", type);
    jv_set_take(c, "rules", rules ? rules : jv_new_array());
    if (subs)
        jv_set_take(c, "comparisons", subs);
    return c;
}

static jv *arr2(jv *a, jv *b)
{
    jv *x = jv_new_array();
    jv_push_take(x, a);
    if (b)
        jv_push_take(x, b);
    return x;
}

static bool eval(fixture *fx, jv *c)
{
    bool out = false;
    sl_error err = {0};
    int rc = eng_comparison(&fx->run, c, &out, &err);
    if (rc)
        fail_msg("comparison failed: %s", err.msg);
    jv_free(c);
    return out;
}

static void test_comparisons_nested(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, "{'id':'m-start','elementType':'START'}", NULL);
    set_cv(&fx, "v-name", "Ada");
    set_cv(&fx, "v-age", "36");
    /* Name == "Ada" (true), Age > 18 (true), Age < 18 (false), Name starts with Ada (true) */
#define T_NAME() rule("v-name", "EQUAL", "v-ada")
#define T_AGE() rule("v-age", "GREATER_THAN", "v-18")
#define F_AGE() rule("v-age", "LESS_THAN", "v-18")
#define F_FLAG() rule("v-flag", "EQUAL", "v-true")

    assert_true(eval(&fx, comparison("AND", arr2(T_NAME(), T_AGE()), NULL)));
    assert_false(eval(&fx, comparison("AND", arr2(T_NAME(), F_AGE()), NULL)));
    assert_true(eval(&fx, comparison("OR", arr2(F_FLAG(), T_AGE()), NULL)));
    assert_false(eval(&fx, comparison("or", arr2(F_FLAG(), F_AGE()), NULL)));
    /* AND of a rule and a nested OR */
    assert_true(eval(&fx, comparison("AND", arr2(T_NAME(), NULL),
                                     arr2(comparison("OR", arr2(F_FLAG(), T_AGE()), NULL), NULL))));
    assert_false(eval(&fx, comparison("AND", arr2(T_NAME(), NULL),
                                      arr2(comparison("OR", arr2(F_FLAG(), F_AGE()), NULL), NULL))));
    /* OR of a false rule and a nested AND that holds; and two levels down */
    assert_true(eval(&fx, comparison("OR", arr2(F_AGE(), NULL),
                                     arr2(comparison("AND", arr2(T_NAME(), T_AGE()), NULL), NULL))));
    assert_true(eval(&fx, comparison("OR", NULL,
                                     arr2(comparison("AND", NULL,
                                                     arr2(comparison("OR", arr2(F_FLAG(), T_NAME()), NULL), NULL)),
                                          comparison("AND", arr2(F_AGE(), NULL), NULL)))));
    /* missing comparisonType = AND */
    jv *c = comparison("AND", arr2(T_NAME(), F_AGE()), NULL);
    jv_del(c, "comparisonType");
    assert_false(eval(&fx, c));
    /* no rules at all, or no comparison, holds */
    assert_true(eval(&fx, jv_new_object()));
    bool out = false;
    sl_error err = {0};
    assert_int_equal(eng_comparison(&fx.run, NULL, &out, &err), 0);
    assert_true(out);

    /* a rule naming no value is an error, on either side */
    c = comparison("AND", arr2(rule("v-ghost", "EQUAL", "v-ada"), NULL), NULL);
    assert_int_equal(eng_comparison(&fx.run, c, &out, &err), SL_EINVAL);
    expect_contains(err.msg, "v-ghost");
    jv_free(c);
    c = comparison("AND", arr2(rule("v-name", "EQUAL", "v-ghost"), NULL), NULL);
    assert_int_equal(eng_comparison(&fx.run, c, &out, &err), SL_EINVAL);
    jv_free(c);
    c = comparison("AND", arr2(rule("v-name", "BOGUS", "v-ada"), NULL), NULL);
    assert_int_equal(eng_comparison(&fx.run, c, &out, &err), SL_EINVAL);
    jv_free(c);

    /* nesting is limited (32 levels below the top are fine, 40 are not) */
    for (int depth = 32; depth <= 40; depth += 8) {
        jv *inner = comparison("AND", arr2(T_NAME(), NULL), NULL);
        for (int i = 0; i < depth; i++)
            inner = comparison("AND", NULL, arr2(inner, NULL));
        int rc = eng_comparison(&fx.run, inner, &out, &err);
        if (depth == 32) {
            assert_int_equal(rc, 0);
            assert_true(out);
        } else {
            assert_int_equal(rc, SL_EINVAL);
            expect_contains(err.msg, "deeper");
        }
        jv_free(inner);
    }
    fx_free(&fx);
}

/* ---- operators ---- */

/* A snapshot START -> OPERATOR (ops) -> end, run once. */
static engine_outcome run_ops(fixture *fx, const char *ops, bool init)
{
    if (init) {
        char *maps = xasprintf(START_TO("m-op") ",{'id':'m-op','elementType':'OPERATOR','developerName':'Op',"
                                                "'operations':[%s]}",
                               ops);
        fx_init(fx, maps, NULL);
        free(maps);
    } else {
        engine_run_clear(&fx->run);
        jv_set_str(fx->run.state, "current", "m-start");
    }
    return engine_forward(&fx->run);
}

static void test_operators_basic(void **unused)
{
    (void)unused;
    fixture fx;
    /* VALUE_OF / SET_EQUAL / no command = assignment, through every way of naming commands */
    assert_int_equal(run_ops(&fx,
                             "{'order':0,'valueElementToApplyId':{'id':'v-name'},"
                             " 'valueElementToReferenceId':{'id':'v-text','command':'VALUE_OF'}},"
                             "{'order':1,'valueElementToApplyId':{'id':'v-out','command':'SET_EQUAL'},"
                             " 'valueElementToReferenceId':{'id':'v-name'}},"
                             "{'order':2,'valueElementToApplyId':{'id':'v-secret'},'valueElementToApplyCommand':'SET_EQUAL',"
                             " 'valueElementToReferenceId':{'id':'v-ada'},'valueElementToReferenceCommand':'VALUE_OF'},"
                             "{'order':3,'valueElementToApplyId':{'id':'v-selected'},'valueElementToReferenceId':{'id':'v-people'}}",
                             true),
                     ENGINE_DONE);
    expect_str(engine_state_invoke_type(fx.run.state), "DONE");
    expect_cv(fx.snap, fx.run.state, "v-name", "copy me");
    expect_cv(fx.snap, fx.run.state, "v-out", "copy me");
    expect_cv(fx.snap, fx.run.state, "v-secret", "Ada");
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-selected"), 2);
    fx_free(&fx);

    /* NEW and EMPTY */
    assert_int_equal(run_ops(&fx,
                             "{'order':0,'valueElementToApplyId':{'id':'v-person','command':'NEW'}},"
                             "{'order':1,'valueElementToApplyId':{'id':'v-cursor'},'valueElementToReferenceId':{'command':'NEW'}},"
                             "{'order':2,'valueElementToApplyId':{'id':'v-people','command':'EMPTY'}},"
                             "{'order':3,'valueElementToApplyId':{'id':'v-name'},'valueElementToApplyCommand':'EMPTY'}",
                             true),
                     ENGINE_DONE);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-person"), 1);
    expect_str(od_str(fx.snap, fx.run.state, "v-person", 0, "typeElementId"), "t-person");
    expect_str(od_str(fx.snap, fx.run.state, "v-person", 0, "developerName"), "Person");
    jv *p = value_at(fx.snap, fx.run.state, "v-person");
    const jv *props = jv_get(jv_at(jv_get(p, "objectData"), 0), "properties");
    assert_int_equal(jv_len(props), 3);
    expect_str(jv_get_str(jv_at(props, 1), "developerName"), "Age");
    assert_true(jv_is_null(jv_get(jv_at(props, 1), "contentValue")));
    jv_free(p);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-cursor"), 1);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-people"), -1);
    expect_cv(fx.snap, fx.run.state, "v-name", NULL);
    fx_free(&fx);

    /* order decides, disabled operations are skipped */
    assert_int_equal(run_ops(&fx,
                             "{'order':2,'valueElementToApplyId':{'id':'v-out'},'valueElementToReferenceId':{'id':'v-name'}},"
                             "{'order':1,'valueElementToApplyId':{'id':'v-name'},'valueElementToReferenceId':{'id':'v-ada'}},"
                             "{'order':3,'disabled':true,'valueElementToApplyId':{'id':'v-out'},"
                             " 'valueElementToReferenceId':{'id':'v-text'}}",
                             true),
                     ENGINE_DONE);
    expect_cv(fx.snap, fx.run.state, "v-out", "Ada");
    fx_free(&fx);
}

static void test_operators_lists(void **unused)
{
    (void)unused;
    fixture fx;
    /* GET_FIRST */
    assert_int_equal(run_ops(&fx,
                             "{'valueElementToApplyId':{'id':'v-cursor'},"
                             " 'valueElementToReferenceId':{'id':'v-people','command':'GET_FIRST'}}",
                             true),
                     ENGINE_DONE);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-cursor"), 1);
    expect_str(od_str(fx.snap, fx.run.state, "v-cursor", 0, "internalId"), "i-1");
    fx_free(&fx);

    /* GET_NEXT walks the list: first, second, then nothing */
    assert_int_equal(run_ops(&fx,
                             "{'valueElementToApplyId':{'id':'v-cursor'},"
                             " 'valueElementToReferenceId':{'id':'v-people','command':'GET_NEXT'}}",
                             true),
                     ENGINE_DONE);
    expect_str(od_str(fx.snap, fx.run.state, "v-cursor", 0, "internalId"), "i-1");
    assert_int_equal(run_ops(&fx, NULL, false), ENGINE_DONE);
    expect_str(od_str(fx.snap, fx.run.state, "v-cursor", 0, "internalId"), "i-2");
    assert_int_equal(run_ops(&fx, NULL, false), ENGINE_DONE);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-cursor"), 0);
    fx_free(&fx);

    /* ADD appends (replacing an object with the same key), REMOVE takes out by key */
    assert_int_equal(run_ops(&fx,
                             "{'order':0,'valueElementToApplyId':{'id':'v-person','command':'NEW'}},"
                             "{'order':1,'valueElementToApplyId':{'id':'v-person','typeElementPropertyId':'p-name'},"
                             " 'valueElementToReferenceId':{'id':'v-ada'}},"
                             "{'order':2,'valueElementToApplyId':{'id':'v-people','command':'ADD'},"
                             " 'valueElementToReferenceId':{'id':'v-person'}},"
                             "{'order':3,'valueElementToApplyId':{'id':'v-people','command':'ADD'},"
                             " 'valueElementToReferenceId':{'id':'v-person'}}",
                             true),
                     ENGINE_DONE);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-people"), 3);
    expect_str(od_str(fx.snap, fx.run.state, "v-people", 0, "internalId"), "i-1");
    expect_str(od_str(fx.snap, fx.run.state, "v-people", 1, "internalId"), "i-2");
    jv *people = value_at(fx.snap, fx.run.state, "v-people");
    const jv *added = jv_at(jv_get(people, "objectData"), 2);
    expect_str(jv_get_str(jv_at(jv_get(added, "properties"), 0), "contentValue"), "Ada");
    jv_free(people);
    fx_free(&fx);

    assert_int_equal(run_ops(&fx,
                             "{'order':0,'valueElementToApplyId':{'id':'v-people','command':'REMOVE'},"
                             " 'valueElementToReferenceId':{'id':'v-people','command':'GET_FIRST'}}",
                             true),
                     ENGINE_DONE);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-people"), 1);
    expect_str(od_str(fx.snap, fx.run.state, "v-people", 0, "internalId"), "i-2");
    fx_free(&fx);

    /* ADD to an empty list, REMOVE of something not in it */
    assert_int_equal(run_ops(&fx,
                             "{'order':0,'valueElementToApplyId':{'id':'v-selected','command':'ADD'},"
                             " 'valueElementToReferenceId':{'id':'v-people'}},"
                             "{'order':1,'valueElementToApplyId':{'id':'v-cursor','command':'NEW'}},"
                             "{'order':2,'valueElementToApplyId':{'id':'v-selected','command':'REMOVE'},"
                             " 'valueElementToReferenceId':{'id':'v-cursor'}}",
                             true),
                     ENGINE_DONE);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-selected"), 2);
    fx_free(&fx);
}

static void test_operators_properties_and_errors(void **unused)
{
    (void)unused;
    fixture fx;
    /* property paths on both sides */
    assert_int_equal(run_ops(&fx,
                             "{'order':0,'valueElementToApplyId':{'id':'v-person','typeElementPropertyId':'p-name'},"
                             " 'valueElementToReferenceId':{'id':'v-name'}},"
                             "{'order':1,'valueElementToApplyId':{'id':'v-person','typeElementPropertyId':'p-age'},"
                             " 'valueElementToReferenceId':{'id':'v-people','typeElementPropertyId':'p-age'}},"
                             "{'order':2,'valueElementToApplyId':{'id':'v-out'},"
                             " 'valueElementToReferenceId':{'id':'v-person','typeElementPropertyId':'p-name'}},"
                             "{'order':3,'valueElementToApplyId':{'id':'v-person','typeElementPropertyId':'p-friends'},"
                             " 'valueElementToReferenceId':{'id':'v-people'}}",
                             true),
                     ENGINE_DONE);
    expect_cv(fx.snap, fx.run.state, "v-person/p-name", "World");
    expect_cv(fx.snap, fx.run.state, "v-person/p-age", "30");
    expect_cv(fx.snap, fx.run.state, "v-out", "World");
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-person/p-friends"), 2);
    fx_free(&fx);

    /* bad operations fault (no FAULT outcome here), naming the element */
    static const char *const bad[] = {
        "{'valueElementToApplyId':{'id':'v-ghost'},'valueElementToReferenceId':{'id':'v-name'}}",
        "{'valueElementToReferenceId':{'id':'v-name'}}",
        "{'valueElementToApplyId':{'id':'v-name'}}",
        "{'valueElementToApplyId':{'id':'v-name'},'valueElementToReferenceId':{'id':'v-ghost'}}",
        "{'valueElementToApplyId':{'id':'v-name','typeElementPropertyId':'p-name'},'valueElementToReferenceId':{'id':'v-ada'}}",
        "{'macroElementToExecuteId':'mc-ghost'}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(run_ops(&fx, bad[i], true), ENGINE_FAULT);
        assert_non_null(jv_get_str(fx.run.faults, "Op"));
        fx_free(&fx);
    }
}

static void test_operators_macro(void **unused)
{
    (void)unused;
    fixture fx;
    const char *ops = "{'macroElementToExecuteId':'MC-1'}";
    /* the macro's changes are applied by developerName; unknown names are ignored */
    char *maps = xasprintf(START_TO("m-op") ",{'id':'m-op','elementType':'OPERATOR','developerName':'Op',"
                                            "'operations':[%s]}",
                           ops);
    fx_init(&fx, maps, NULL);
    fx.fake.macro_changed = "{'Name':{'contentValue':'from macro'},'Nobody':{'contentValue':'x'},"
                            "'People':{'contentValue':null,'objectData':[]}}";
    assert_int_equal(engine_forward(&fx.run), ENGINE_DONE);
    assert_int_equal(fx.fake.macro_calls, 1);
    expect_cv(fx.snap, fx.run.state, "v-name", "from macro");
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-people"), 0);
    fx_free(&fx);
    /* a failing macro faults with its message */
    fx_init(&fx, maps, NULL);
    assert_int_equal(engine_forward(&fx.run), ENGINE_FAULT);
    expect_contains(jv_get_str(fx.run.faults, "Op"), "boom");
    fx_free(&fx);
    /* no macro callback: a fault, not a crash */
    fx_init(&fx, maps, NULL);
    fx.svc.macro = NULL;
    assert_int_equal(engine_forward(&fx.run), ENGINE_FAULT);
    expect_contains(jv_get_str(fx.run.faults, "Op"), "not available");
    fx_free(&fx);
    free(maps);
}

/* ---- substitution ---- */

static void test_substitute(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, "{'id':'m-start','elementType':'START'}", NULL);
    set_cv(&fx, "v-text", "<b>Tom & 'Jerry' \"x\"</b>");
    set_cv(&fx, "v-person/p-name", "Ann <i>");
    struct {
        const char *in, *out;
    } cases[] = {
        {"Hi {![Text]}!", "Hi &lt;b&gt;Tom &amp; &#39;Jerry&#39; &quot;x&quot;&lt;/b&gt;!"},
        {"{![Person].[Name]}", "Ann &lt;i&gt;"},
        {"{![person].[name]} / {![NAME]}", "Ann &lt;i&gt; / World"},
        {"[{![Nobody]}|{![Person].[Nope]}|{![Age]}]", "[||]"},
        {"{![Name]x {![Name", "{![Name]x {![Name"},
        {"{![Name].[", "{![Name].["},
        {"<p>{![Name]}{![Name]}</p>", "<p>WorldWorld</p>"},
        {"no references & <tags>", "no references & <tags>"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *s = eng_substitute(fx.snap, fx.run.state, cases[i].in);
        expect_str(s, cases[i].out);
        free(s);
    }
    char *s = eng_substitute(fx.snap, fx.run.state, NULL);
    expect_str(s, "");
    free(s);
    fx_free(&fx);
}

/* ---- page input ---- */

static const char VALIDATION_PAGE[] =
    "{'id':'pg','developerName':'Form','pageComponents':["
    " {'id':'c-req','componentType':'INPUT','isRequired':true,'valueElementValueBindingReferenceId':{'id':'v-name'}},"
    " {'id':'c-num','componentType':'INPUT','valueElementValueBindingReferenceId':{'id':'v-age'},"
    "  'validations':[{'type':'minimum','value':0},{'type':'maximum','value':'150','message':'Too old'}]},"
    " {'id':'c-bool','componentType':'CHECKBOX','valueElementValueBindingReferenceId':{'id':'v-flag'}},"
    " {'id':'c-dt','componentType':'INPUT','valueElementValueBindingReferenceId':{'id':'v-when'}},"
    " {'id':'c-max','componentType':'INPUT','maxSize':7,'valueElementValueBindingReferenceId':{'id':'v-text'}},"
    " {'id':'c-re','componentType':'INPUT','valueElementValueBindingReferenceId':{'id':'v-out'},"
    "  'validations':[{'type':'regex','value':'^[0-9]+$'}]},"
    " {'id':'c-re2','componentType':'INPUT','valueElementValueBindingReferenceId':{'id':'v-secret'},"
    "  'validations':[{'type':'regex','value':'^a','message':'Must start with a'},{'type':'minLength','value':3}]},"
    " {'id':'c-list','componentType':'TABLE','isRequired':true,'valueElementValueBindingReferenceId':{'id':'v-selected'},"
    "  'valueElementDataBindingReferenceId':{'id':'v-people'}},"
    " {'id':'c-ro','componentType':'INPUT','isEditable':false,'valueElementValueBindingReferenceId':{'id':'v-noaccess'}},"
    " {'id':'c-hidden','componentType':'INPUT','isRequired':true,'valueElementValueBindingReferenceId':{'id':'v-day'}},"
    " {'id':'c-pres','componentType':'PRESENTATION','content':'Hello {![Name]}'}],"
    " 'pageConditions':[{'comparisonType':'AND','pageRules':[{'left':{'valueElementToReferenceId':{'id':'v-flag'}},"
    "   'criteriaType':'EQUAL','right':{'valueElementToReferenceId':{'id':'v-true'}}}],"
    "  'pageOperations':[{'assignment':{'assignee':{'pageObjectReferenceId':'c-hidden','metaDataType':'METADATA.VISIBLE'}}}]}]}";

static const char VALIDATION_MAPS[] =
    START_TO("m-page") ",{'id':'m-page','elementType':'INPUT','developerName':'Form','pageElementId':'pg',"
                       "'outcomes':[{'id':'o-go','developerName':'Go','nextMapElementId':'m-page'}]}";

static jv *inputs(const char *pairs_json)
{
    return J(pairs_json);
}

static int apply(fixture *fx, const char *in, page_mode mode)
{
    jv *a = inputs(in);
    int n = page_apply_inputs(&fx->run, snapshot_map_element(fx->snap, "m-page"), a, mode);
    jv_free(a);
    return n;
}

static void test_page_validation_messages(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, VALIDATION_MAPS, VALIDATION_PAGE);
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    char *before = jv_dumps(fx.run.state);
    int n = apply(&fx,
                  "[{'pageComponentId':'c-req','contentValue':''},{'pageComponentId':'c-num','contentValue':'abc'},"
                  "{'pageComponentId':'c-bool','contentValue':'maybe'},{'pageComponentId':'c-dt','contentValue':'31/12/2024'},"
                  "{'pageComponentId':'c-max','contentValue':'toolong!'},{'pageComponentId':'c-re','contentValue':'12a'},"
                  "{'pageComponentId':'c-re2','contentValue':'bcd'},{'pageComponentId':'c-list','objectData':[]},"
                  "{'pageComponentId':'c-hidden','contentValue':''}]",
                  PAGE_SAVE);
    assert_int_equal(n, 8);
    const jv *val = fx.run.validation;
    expect_str(jv_get_str(val, "c-req"), "This field is required.");
    expect_str(jv_get_str(val, "c-num"), "Enter a number.");
    expect_str(jv_get_str(val, "c-bool"), "Enter true or false.");
    expect_contains(jv_get_str(val, "c-dt"), "Enter a date");
    expect_str(jv_get_str(val, "c-max"), "Enter at most 7 characters.");
    expect_str(jv_get_str(val, "c-re"), "The value does not have the expected format.");
    expect_str(jv_get_str(val, "c-re2"), "Must start with a");
    expect_str(jv_get_str(val, "c-list"), "Select at least one item.");
    assert_null(jv_get(val, "c-hidden")); /* hidden: neither validated nor saved */
    /* nothing was applied */
    char *after = jv_dumps(fx.run.state);
    assert_string_equal(before, after);
    free(after);

    /* the response shows the messages and echoes what was posted */
    jv *resp = engine_response(&fx.run, "tok", NULL, NULL);
    const jv *data = jv_get(jv_get(jv_at(jv_get(resp, "mapElementInvokeResponses"), 0), "pageResponse"),
                            "pageComponentDataResponses");
    bool seen = false;
    for (size_t i = 0; i < jv_len(data); i++) {
        const jv *d = jv_at(data, i);
        if (str_eq(jv_get_str(d, "pageComponentId"), "c-num")) {
            seen = true;
            assert_false(jv_bool(jv_get(d, "isValid")));
            expect_str(jv_get_str(d, "validationMessage"), "Enter a number.");
            expect_str(jv_get_str(d, "contentValue"), "abc");
        }
        if (str_eq(jv_get_str(d, "pageComponentId"), "c-pres"))
            expect_str(jv_get_str(d, "content"), "Hello World");
        if (str_eq(jv_get_str(d, "pageComponentId"), "c-hidden"))
            assert_false(jv_bool(jv_get(d, "isVisible")));
    }
    assert_true(seen);
    jv_free(resp);

    /* ranges and lengths */
    n = apply(&fx,
              "[{'pageComponentId':'c-req','contentValue':'x'},{'pageComponentId':'c-num','contentValue':'-1'},"
              "{'pageComponentId':'c-re2','contentValue':'ab'},{'pageComponentId':'c-list','objectData':[" PERSON_A "]}]",
              PAGE_SAVE);
    assert_int_equal(n, 2);
    expect_str(jv_get_str(fx.run.validation, "c-num"), "The value is too small.");
    expect_str(jv_get_str(fx.run.validation, "c-re2"), "The value is too short.");
    n = apply(&fx,
              "[{'pageComponentId':'c-req','contentValue':'x'},{'pageComponentId':'c-num','contentValue':151},"
              "{'pageComponentId':'c-list','objectData':[" PERSON_A "]}]",
              PAGE_SAVE);
    assert_int_equal(n, 1);
    expect_str(jv_get_str(fx.run.validation, "c-num"), "Too old");
    /* the hidden component becomes required once the condition shows it */
    set_cv(&fx, "v-flag", "true");
    n = apply(&fx, "[{'pageComponentId':'c-req','contentValue':'x'},{'pageComponentId':'c-list','objectData':[" PERSON_A "]}]",
              PAGE_SAVE);
    assert_int_equal(n, 1);
    expect_str(jv_get_str(fx.run.validation, "c-hidden"), "This field is required.");
    free(before);
    fx_free(&fx);
}

static void test_page_save_partial_sync(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, VALIDATION_MAPS, VALIDATION_PAGE);
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    /* a valid SAVE applies everything editable; booleans are normalised; a required component
     * that is not posted keeps its (default) value and passes */
    int n = apply(&fx,
                  "[{'pageComponentId':'C-NUM','contentValue':'42'},{'pageComponentId':'c-bool','contentValue':'TRUE'},"
                  "{'pageComponentId':'c-dt','contentValue':'2024-01-01'},{'pageComponentId':'c-max','contentValue':'short'},"
                  "{'pageComponentId':'c-re','contentValue':'123'},{'pageComponentId':'c-re2','contentValue':'abc'},"
                  "{'pageComponentId':'c-list','objectData':[" PERSON_B "]},{'pageComponentId':'c-ro','contentValue':'x'},"
                  "{'pageComponentId':'c-ghost','contentValue':'ignored'}]",
                  PAGE_SAVE);
    assert_int_equal(n, 0);
    assert_null(fx.run.validation);
    const flow_snapshot *s = fx.snap;
    expect_cv(s, fx.run.state, "v-name", "World");
    expect_cv(s, fx.run.state, "v-age", "42");
    expect_cv(s, fx.run.state, "v-flag", "true");
    expect_cv(s, fx.run.state, "v-when", "2024-01-01");
    expect_cv(s, fx.run.state, "v-text", "short");
    expect_cv(s, fx.run.state, "v-out", "123");
    expect_cv(s, fx.run.state, "v-secret", "abc");
    expect_cv(s, fx.run.state, "v-noaccess", NULL); /* read-only: never written */
    assert_int_equal(od_len(s, fx.run.state, "v-selected"), 1);
    expect_str(od_str(s, fx.run.state, "v-selected", 0, "internalId"), "i-2");
    jv *sel = value_at(s, fx.run.state, "v-selected");
    assert_true(jv_bool(jv_get(jv_at(jv_get(sel, "objectData"), 0), "isSelected")));
    jv_free(sel);

    /* numbers and booleans posted as JSON numbers and booleans */
    n = apply(&fx, "[{'pageComponentId':'c-num','contentValue':7.5},{'pageComponentId':'c-bool','contentValue':false},"
                   "{'pageComponentId':'c-hidden','contentValue':'2024-05-05'}]",
              PAGE_SAVE); /* the condition shows c-hidden now (Flag was true), so it is required */
    assert_int_equal(n, 0);
    expect_cv(s, fx.run.state, "v-age", "7.5");
    expect_cv(s, fx.run.state, "v-flag", "false");

    /* PARTIAL saves the well-typed inputs, skips the rest and ignores required */
    n = apply(&fx,
              "[{'pageComponentId':'c-req','contentValue':''},{'pageComponentId':'c-num','contentValue':'abc'},"
              "{'pageComponentId':'c-max','contentValue':'ok'},{'pageComponentId':'c-list','objectData':[]}]",
              PAGE_PARTIAL);
    assert_int_equal(n, 1);
    assert_null(fx.run.validation);
    expect_cv(s, fx.run.state, "v-name", NULL);
    expect_cv(s, fx.run.state, "v-age", "7.5");
    expect_cv(s, fx.run.state, "v-text", "ok");
    assert_int_equal(od_len(s, fx.run.state, "v-selected"), 0);

    /* SYNC does the same */
    n = apply(&fx, "[{'pageComponentId':'c-req','contentValue':'Zed'},{'pageComponentId':'c-bool','contentValue':'nope'}]",
              PAGE_SYNC);
    assert_int_equal(n, 1);
    assert_null(fx.run.validation);
    expect_cv(s, fx.run.state, "v-name", "Zed");
    expect_cv(s, fx.run.state, "v-flag", "false");
    fx_free(&fx);
}

/* ---- state creation ---- */

static void test_state_new_inputs(void **unused)
{
    (void)unused;
    flow_snapshot *s = S("{'id':'m-start','elementType':'START'}", NULL);
    jv *st = NULL;
    sl_error err = {0};
    jv *in = J("[{'valueElementId':'V-AGE','contentValue':'42'},{'developerName':'name','contentValue':'Init'},"
               "{'developerName':'Person','objectData':[" PERSON_A "]},{'developerName':'NoAccess','contentValue':'n'}]");
    assert_int_equal(engine_state_new(s, in, &st, &err), 0);
    expect_str(jv_get_str(st, "current"), "m-start");
    expect_str(jv_get_str(st, "invokeType"), "FORWARD");
    expect_cv(s, st, "v-age", "42");
    expect_cv(s, st, "v-name", "Init");
    assert_int_equal(od_len(s, st, "v-person"), 1);
    jv_free(st);
    jv_free(in);

    static const char *const bad[] = {
        "[{'developerName':'Nobody','contentValue':'x'}]",
        "[{'valueElementId':'v-ghost'}]",
        "[{}]",
        "[{'developerName':'Out','contentValue':'x'}]",
        "[{'valueElementId':'v-secret','contentValue':'x'}]",
        "[{'developerName':'Name','contentValue':'ok'},{'developerName':'Flag','contentValue':'true'}]",
    };
    static const char *const words[] = {"Nobody", "names no value", "names no value", "not an input", "PRIVATE", "Flag"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        st = (jv *)1;
        in = J(bad[i]);
        assert_int_equal(engine_state_new(s, in, &st, &err), SL_EINVAL);
        assert_null(st);
        expect_str(err.where, "/inputs");
        expect_contains(err.msg, words[i]);
        jv_free(in);
    }
    snapshot_free(s);

    /* a dangling start element: the state still names it */
    s = S("{'id':'m-other','elementType':'START'}", NULL);
    assert_int_equal(engine_state_new(s, NULL, &st, &err), 0);
    expect_str(jv_get_str(st, "current"), "m-start");
    engine_run run = {.snap = s, .state = st};
    assert_int_equal(engine_forward(&run), ENGINE_FAULT);
    expect_contains(jv_get_str(run.faults, "flow"), "m-start");
    engine_run_clear(&run);
    jv_free(st);
    snapshot_free(s);
}

/* ---- movement: loops, faults, waits ---- */

static void test_loop_guard(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx,
            START_TO("m-a") ",{'id':'m-a','elementType':'DECISION','developerName':'A',"
                            "'outcomes':[{'id':'o-a','nextMapElementId':'m-b'}]},"
                            "{'id':'m-b','elementType':'OPERATOR','developerName':'B',"
                            "'operations':[{'valueElementToApplyId':{'id':'v-out'},'valueElementToReferenceId':{'id':'v-name'}}],"
                            "'outcomes':[{'id':'o-b','nextMapElementId':'m-a'}]}",
            NULL);
    assert_int_equal(engine_forward(&fx.run), ENGINE_FAULT);
    assert_int_equal(fx.run.steps, ENGINE_MAX_STEPS + 1);
    expect_contains(jv_get_str(fx.run.faults, "flow"), "500");
    expect_contains(jv_get_str(fx.run.faults, "flow"), "loops");
    fx_free(&fx);

    /* the same loop through a page is fine: it stops there */
    fx_init(&fx,
            START_TO("m-a") ",{'id':'m-a','elementType':'DECISION','developerName':'A',"
                            "'outcomes':[{'id':'o-a','nextMapElementId':'m-step'}]},"
                            "{'id':'m-step','elementType':'STEP','developerName':'S',"
                            "'outcomes':[{'id':'o-b','nextMapElementId':'m-a'}]}",
            NULL);
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    expect_str(current_id(&fx), "m-step");
    fx_free(&fx);
}

static void test_decision_routes(void **unused)
{
    (void)unused;
    fixture fx;
    const char *maps =
        START_TO("m-d") ",{'id':'m-d','elementType':'DECISION','developerName':'D','outcomes':["
                        " {'id':'o-else','developerName':'Else','order':9,'nextMapElementId':'m-other'},"
                        " {'id':'o-adult','developerName':'Adult','order':1,'nextMapElementId':'m-adult','comparison':"
                        "  {'comparisonType':'AND','rules':[{'leftValueElementToReferenceId':{'id':'v-age'},"
                        "   'criteriaType':'GREATER_THAN_OR_EQUAL','rightValueElementToReferenceId':{'id':'v-18'}}]}}]},"
                        "{'id':'m-adult','elementType':'STEP','outcomes':[{'id':'o-x','nextMapElementId':'m-d'}]},"
                        "{'id':'m-other','elementType':'STEP','outcomes':[{'id':'o-y','nextMapElementId':'m-d'}]}";
    fx_init(&fx, maps, NULL);
    set_cv(&fx, "v-age", "18");
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    expect_str(current_id(&fx), "m-adult"); /* outcomes are tried by order */
    jv *h = jv_get(fx.run.state, "history");
    assert_int_equal(jv_len(h), 1);
    expect_str(jv_get_str(jv_at(h, 0), "id"), "m-adult");
    fx_free(&fx);
    fx_init(&fx, maps, NULL);
    set_cv(&fx, "v-age", "9");
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    expect_str(current_id(&fx), "m-other");
    fx_free(&fx);

    /* no outcome applies: a fault */
    fx_init(&fx,
            START_TO("m-d") ",{'id':'m-d','elementType':'DECISION','developerName':'D','outcomes':["
                            " {'id':'o-1','nextMapElementId':'m-start','comparison':{'rules':[{'leftValueElementToReferenceId':"
                            "  {'id':'v-name'},'criteriaType':'IS_EMPTY'}]}}]}",
            NULL);
    assert_int_equal(engine_forward(&fx.run), ENGINE_FAULT);
    expect_contains(jv_get_str(fx.run.faults, "D"), "no outcome");
    fx_free(&fx);
}

static const char MESSAGE_MAPS_FAULT[] =
    START_TO("m-msg") ",{'id':'m-msg','elementType':'MESSAGE','developerName':'Msg','messageActions':["
                      " {'developerName':'Call','order':0,'serviceElementId':'s-svc','uriPart':'actions/do',"
                      "  'inputs':[{'developerName':'name','contentType':'ContentString','valueElementToReferenceId':{'id':'v-name'}},"
                      "   {'developerName':'person','valueElementToReferenceId':{'id':'v-people'}}],"
                      "  'outputs':[{'developerName':'status','valueElementToApplyId':{'id':'v-out'}},"
                      "   {'developerName':'who','valueElementToApplyId':{'id':'v-person'}}]}],"
                      " 'outcomes':[{'id':'o-ok','developerName':'Ok','order':0,'nextMapElementId':'m-ok'},"
                      "  {'id':'o-fault','developerName':'FAULT','order':1,'nextMapElementId':'m-oops'}]},"
                      "{'id':'m-ok','elementType':'STEP','developerName':'Ok','outcomes':[{'id':'o-1','nextMapElementId':'m-ok'}]},"
                      "{'id':'m-oops','elementType':'STEP','developerName':'Oops','outcomes':[{'id':'o-2','nextMapElementId':'m-ok'}]}";

static void test_message_action_request_and_outputs(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, MESSAGE_MAPS_FAULT, NULL);
    fx_reply(&fx, 200,
             "{'invokeType':'FORWARD','outputs':[{'developerName':'status','contentValue':'done'},"
             "{'developerName':'who','objectData':[" PERSON_A "]},{'developerName':'extra','contentValue':'x'}]}");
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    expect_str(current_id(&fx), "m-ok");
    expect_cv(fx.snap, fx.run.state, "v-out", "done");
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-person"), 1);
    /* what the service got */
    assert_int_equal(fx.fake.calls, 1);
    expect_str(fx.fake.paths[0], "/actions/do");
    expect_str(fx.fake.methods[0], "POST");
    expect_str(fx.fake.services[0], "s-svc");
    const jv *b = fx.fake.bodies[0];
    expect_str(jv_get_str(b, "stateId"), "state-1");
    expect_str(jv_get_str(b, "tenantId"), "tenant-1");
    expect_str(jv_get_str(b, "callbackUri"), "https://engine.example/callback");
    assert_int_equal(strlen(jv_get_str(b, "token")), 36);
    const jv *cfg = jv_get(b, "configurationValues");
    assert_int_equal(jv_len(cfg), 1);
    expect_str(jv_get_str(jv_at(cfg, 0), "developerName"), "apiKey");
    expect_str(jv_get_str(jv_at(cfg, 0), "contentType"), "ContentPassword");
    expect_str(jv_get_str(jv_at(cfg, 0), "contentValue"), "copy me");
    const jv *in = jv_get(b, "inputs");
    assert_int_equal(jv_len(in), 2);
    expect_str(jv_get_str(jv_at(in, 0), "developerName"), "name");
    expect_str(jv_get_str(jv_at(in, 0), "contentValue"), "World");
    expect_str(jv_get_str(jv_at(in, 1), "contentType"), "ContentList");
    assert_int_equal(jv_len(jv_get(jv_at(in, 1), "objectData")), 2);
    fx_free(&fx);
}

static void test_fault_outcome_on_service_errors(void **unused)
{
    (void)unused;
    static const reply replies[] = {
        {500, "{'message':'it broke'}", NULL},
        {0, NULL, "connection refused"},
        {200, "{'invokeType':'FORWARD','rootFaults':{'x':'bad input'}}", NULL},
        {200, "['not an object']", NULL},
        {404, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof replies / sizeof replies[0]; i++) {
        fixture fx;
        fx_init(&fx, MESSAGE_MAPS_FAULT, NULL);
        fx.fake.replies[0] = replies[i];
        fx.fake.n_replies = 1;
        assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
        expect_str(current_id(&fx), "m-oops");
        expect_cv(fx.snap, fx.run.state, "v-out", NULL);
        fx_free(&fx);
    }

    /* the FAULT outcome may be named by the well-known id instead */
    fixture fx;
    char *maps = xasprintf(START_TO("m-msg") ",{'id':'m-msg','elementType':'MESSAGE','developerName':'Msg',"
                                             "'messageActions':[{'developerName':'Call','serviceElementId':'s-svc','uriPart':'a'}],"
                                             "'outcomes':[{'id':'%s','developerName':'Error','nextMapElementId':'m-oops'},"
                                             "{'id':'o-ok','nextMapElementId':'m-ok'}]},"
                                             "{'id':'m-ok','elementType':'STEP','outcomes':[{'id':'o-1','nextMapElementId':'m-ok'}]},"
                                             "{'id':'m-oops','elementType':'STEP','outcomes':[{'id':'o-2','nextMapElementId':'m-ok'}]}",
                           FAULT_OUTCOME_ID);
    fx_init(&fx, maps, NULL);
    fx_reply(&fx, 502, NULL);
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    expect_str(current_id(&fx), "m-oops");
    fx_free(&fx);
    /* ... and is never taken as an ordinary outcome */
    fx_init(&fx, maps, NULL);
    fx_reply(&fx, 200, "{}");
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    expect_str(current_id(&fx), "m-ok");
    fx_free(&fx);
    free(maps);

    /* without a FAULT outcome the run faults, named after the message action */
    fx_init(&fx,
            START_TO("m-msg") ",{'id':'m-msg','elementType':'MESSAGE','developerName':'Msg','messageActions':["
                              " {'developerName':'Call','serviceElementId':'s-svc','uriPart':'a'}],"
                              " 'outcomes':[{'id':'o-ok','nextMapElementId':'m-start'}]}",
            NULL);
    fx_reply(&fx, 500, "{'message':'it broke'}");
    assert_int_equal(engine_forward(&fx.run), ENGINE_FAULT);
    const char *m = jv_get_str(fx.run.faults, "Call");
    expect_contains(m, "500");
    expect_contains(m, "it broke");
    expect_contains(m, "Svc");
    fx_free(&fx);

    /* design mistakes fault the same way: an unknown service, a service without uri, no uriPart */
    static const char *const actions[] = {
        "{'developerName':'Call','serviceElementId':'s-ghost','uriPart':'a'}",
        "{'developerName':'Call','serviceElementId':'s-nouri','uriPart':'a'}",
        "{'developerName':'Call','serviceElementId':'s-svc'}",
        "{'developerName':'Call','serviceElementId':'s-svc','uriPart':'a','inputs':[{'developerName':'x',"
        "'valueElementToReferenceId':{'id':'v-ghost'}}]}",
    };
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        char *mm = xasprintf(START_TO("m-msg") ",{'id':'m-msg','elementType':'MESSAGE','developerName':'Msg',"
                                               "'messageActions':[%s],'outcomes':[{'id':'o-ok','nextMapElementId':'m-start'}]}",
                             actions[i]);
        fx_init(&fx, mm, NULL);
        fx_reply(&fx, 200, "{}");
        assert_int_equal(engine_forward(&fx.run), ENGINE_FAULT);
        assert_non_null(jv_get_str(fx.run.faults, "Call"));
        assert_int_equal(fx.fake.calls, 0);
        fx_free(&fx);
        free(mm);
    }
}

static const char WAIT_MAPS[] =
    START_TO("m-msg") ",{'id':'m-msg','elementType':'MESSAGE','developerName':'Msg','messageActions':["
                      " {'developerName':'Second','order':1,'serviceElementId':'s-svc','uriPart':'second',"
                      "  'outputs':[{'developerName':'status','valueElementToApplyId':{'id':'v-secret'}}]},"
                      " {'developerName':'First','order':0,'serviceElementId':'s-svc','uriPart':'first',"
                      "  'outputs':[{'developerName':'status','valueElementToApplyId':{'id':'v-out'}},"
                      "   {'developerName':'n','valueElementToApplyId':{'id':'v-person','typeElementPropertyId':'p-age'}}]}],"
                      " 'outcomes':[{'id':'o-ok','nextMapElementId':'m-done'}]},"
                      "{'id':'m-done','elementType':'STEP','developerName':'Done','userContent':'{![Out]}',"
                      " 'outcomes':[{'id':'o-1','nextMapElementId':'m-done'}]}";

static void test_wait_and_resume(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, WAIT_MAPS, NULL);
    fx_reply(&fx, 200, "{'invokeType':'WAIT','waitMessage':'Hold on'}");
    fx_reply(&fx, 200, "{'invokeType':'FORWARD','outputs':[{'developerName':'status','contentValue':'second'}]}");
    assert_int_equal(engine_forward(&fx.run), ENGINE_WAIT);
    assert_int_equal(fx.fake.calls, 1);
    expect_str(fx.fake.paths[0], "/first"); /* actions run by order */
    expect_str(engine_state_invoke_type(fx.run.state), "WAIT");
    expect_str(current_id(&fx), "m-msg");
    const jv *w = jv_get(fx.run.state, "wait");
    expect_str(jv_get_str(w, "element"), "m-msg");
    assert_int_equal(jv_int(jv_get(w, "action")), 0);
    expect_str(jv_get_str(w, "token"), jv_get_str(fx.fake.bodies[0], "token"));
    expect_str(jv_get_str(w, "message"), "Hold on");
    jv *resp = engine_response(&fx.run, "tok", NULL, NULL);
    expect_str(jv_get_str(resp, "invokeType"), "WAIT");
    expect_str(jv_get_str(resp, "waitMessage"), "Hold on");
    jv_free(resp);

    /* an invoke while waiting changes nothing */
    jv *req = J("{'invokeType':'FORWARD','stateToken':'t'}");
    bool bad = true;
    assert_int_equal(engine_invoke(&fx.run, req, &bad), ENGINE_WAIT);
    assert_false(bad);
    assert_int_equal(fx.fake.calls, 1);
    jv_free(req);

    /* the callback's outputs are applied, then the next action runs and the flow moves on */
    jv *answer = J("{'invokeType':'FORWARD','outputs':[{'developerName':'status','contentValue':'first done'},"
                   "{'developerName':'n','contentValue':'5'}]}");
    assert_int_equal(engine_resume_wait(&fx.run, answer), ENGINE_UI);
    jv_free(answer);
    assert_int_equal(fx.fake.calls, 2);
    expect_str(fx.fake.paths[1], "/second");
    expect_cv(fx.snap, fx.run.state, "v-out", "first done");
    expect_cv(fx.snap, fx.run.state, "v-person/p-age", "5");
    expect_cv(fx.snap, fx.run.state, "v-secret", "second");
    expect_str(current_id(&fx), "m-done");
    expect_str(engine_state_invoke_type(fx.run.state), "FORWARD");
    assert_null(jv_get(fx.run.state, "wait"));

    /* resuming a state that does not wait is a fault */
    engine_run_clear(&fx.run);
    answer = J("{'outputs':[]}");
    assert_int_equal(engine_resume_wait(&fx.run, answer), ENGINE_FAULT);
    expect_contains(jv_get_str(fx.run.faults, "flow"), "not waiting");
    jv_free(answer);
    fx_free(&fx);

    /* a callback reporting a fault faults the run (no FAULT outcome here) */
    fx_init(&fx, WAIT_MAPS, NULL);
    fx_reply(&fx, 200, "{'invokeType':'WAIT'}");
    assert_int_equal(engine_forward(&fx.run), ENGINE_WAIT);
    answer = J("{'invokeType':'FORWARD','rootFaults':{'svc':'gave up'}}");
    assert_int_equal(engine_resume_wait(&fx.run, answer), ENGINE_FAULT);
    expect_contains(jv_get_str(fx.run.faults, "Msg"), "gave up");
    jv_free(answer);
    fx_free(&fx);
}

static void test_data_actions(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx,
            START_TO("m-db") ",{'id':'m-db','elementType':'DATABASE_LOAD','developerName':'Db','dataActions':["
                             " {'developerName':'Delete','crudOperationType':'DELETE','order':2,'valueElementToReferenceId':{'id':'v-cursor'},"
                             "  'objectDataRequest':{'typeElementId':'t-person'}},"
                             " {'developerName':'Load','crudOperationType':'LOAD','order':0,'valueElementToApplyId':{'id':'v-selected'},"
                             "  'objectDataRequest':{'typeElementId':'t-person','command':'q','listFilter':{'comparisonType':'OR',"
                             "   'where':[{'columnTypeElementPropertyId':'p-name','criteriaType':'EQUAL','valueElementToReferenceId':{'id':'v-name'}}],"
                             "   'orderByTypeElementPropertyId':'p-age','orderByDirectionType':'DESC','limit':5,'offset':10}}},"
                             " {'developerName':'Save','crudOperationType':'save','order':1,'valueElementToReferenceId':{'id':'v-person'},"
                             "  'objectDataRequest':{'typeElementId':'t-person','serviceElementId':'s-svc'}}],"
                             " 'outcomes':[{'id':'o-1','nextMapElementId':'m-end'}]},"
                             "{'id':'m-end','elementType':'STEP','outcomes':[{'id':'o-2','nextMapElementId':'m-end'}]}",
            NULL);
    set_cv(&fx, "v-person/p-name", "Zoe");
    fx_reply(&fx, 200, "{'objectData':[" PERSON_A "]}");
    fx_reply(&fx, 200, "{'objectData':[" PERSON_B "]}");
    fx_reply(&fx, 200, "{}");
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    assert_int_equal(fx.fake.calls, 3);
    /* LOAD */
    expect_str(fx.fake.methods[0], "POST");
    expect_str(fx.fake.paths[0], "/data");
    expect_str(fx.fake.services[0], "s-svc"); /* the type's service */
    const jv *b = fx.fake.bodies[0];
    expect_str(jv_get_str(b, "command"), "q");
    expect_str(jv_get_str(jv_get(b, "objectDataType"), "typeElementId"), "t-person");
    assert_int_equal(jv_len(jv_get(jv_get(b, "objectDataType"), "properties")), 3);
    const jv *lf = jv_get(b, "listFilter");
    expect_str(jv_get_str(lf, "comparisonType"), "OR");
    const jv *w = jv_at(jv_get(lf, "where"), 0);
    expect_str(jv_get_str(w, "columnName"), "Name");
    expect_str(jv_get_str(w, "criteriaType"), "EQUAL");
    expect_str(jv_get_str(w, "contentValue"), "World");
    expect_str(jv_get_str(lf, "orderByPropertyDeveloperName"), "Age");
    expect_str(jv_get_str(lf, "orderByDirectionType"), "DESC");
    assert_int_equal(jv_int(jv_get(lf, "limit")), 5);
    assert_int_equal(jv_int(jv_get(lf, "offset")), 10);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-selected"), 1);
    expect_str(od_str(fx.snap, fx.run.state, "v-selected", 0, "internalId"), "i-1");
    /* SAVE sends the value's objects and takes back what the service answers */
    expect_str(fx.fake.methods[1], "PUT");
    expect_str(fx.fake.paths[1], "/data");
    assert_int_equal(jv_len(jv_get(fx.fake.bodies[1], "objectData")), 1);
    expect_str(od_str(fx.snap, fx.run.state, "v-person", 0, "internalId"), "i-2");
    /* DELETE sends an empty list for an empty value and changes nothing */
    expect_str(fx.fake.methods[2], "POST");
    expect_str(fx.fake.paths[2], "/data/delete");
    assert_int_equal(jv_len(jv_get(fx.fake.bodies[2], "objectData")), 0);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-cursor"), -1);
    expect_str(current_id(&fx), "m-end");
    fx_free(&fx);

    /* a failing load faults with what the service said; an unknown operation or type faults */
    static const char *const actions[] = {
        "{'developerName':'Load','crudOperationType':'LOAD','valueElementToApplyId':{'id':'v-selected'},"
        "'objectDataRequest':{'typeElementId':'t-person'}}",
        "{'developerName':'Load','crudOperationType':'UPSERT','valueElementToApplyId':{'id':'v-selected'},"
        "'objectDataRequest':{'typeElementId':'t-person'}}",
        "{'developerName':'Load','crudOperationType':'LOAD','valueElementToApplyId':{'id':'v-selected'},"
        "'objectDataRequest':{'typeElementId':'t-ghost'}}",
        "{'developerName':'Load','crudOperationType':'LOAD','objectDataRequest':{'typeElementId':'t-person'}}",
    };
    static const char *const words[] = {"503", "UPSERT", "t-ghost", "no value"};
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        char *maps = xasprintf(START_TO("m-db") ",{'id':'m-db','elementType':'DATABASE_LOAD','developerName':'Db',"
                                                "'dataActions':[%s],'outcomes':[{'id':'o-1','nextMapElementId':'m-start'}]}",
                               actions[i]);
        fx_init(&fx, maps, NULL);
        fx_reply(&fx, 503, "{'message':'down for maintenance'}");
        assert_int_equal(engine_forward(&fx.run), ENGINE_FAULT);
        expect_contains(jv_get_str(fx.run.faults, "Db"), words[i]);
        fx_free(&fx);
        free(maps);
    }
}

/* ---- sub-flows ---- */

static const char CHILD_SNAPSHOT[] =
    "{'id':{'id':'f-child','versionId':'cv-1'},'developerName':'Child','startMapElementId':'c-start',"
    "'mapElements':[{'id':'c-start','elementType':'START','outcomes':[{'id':'co','nextMapElementId':'c-op'}]},"
    " {'id':'c-op','elementType':'OPERATOR','developerName':'ChildOp','operations':["
    "  {'order':0,'valueElementToApplyId':{'id':'cv-out'},'valueElementToReferenceId':{'id':'cv-in'}},"
    "  {'order':1,'valueElementToApplyId':{'id':'cv-io'},'valueElementToReferenceId':{'id':'cv-const'}},"
    "  {'order':2,'valueElementToApplyId':{'id':'cv-in'},'valueElementToReferenceId':{'id':'cv-const'}},"
    "  {'order':3,'valueElementToApplyId':{'id':'cv-priv'},'valueElementToReferenceId':{'id':'cv-const'}}]}],"
    "'valueElements':["
    " {'id':'cv-in','developerName':'In','contentType':'ContentString','access':'INPUT'},"
    " {'id':'cv-io','developerName':'Io','contentType':'ContentNumber','access':'INPUT_OUTPUT'},"
    " {'id':'cv-out','developerName':'Out','contentType':'ContentString','defaultContentValue':'child default','access':'OUTPUT'},"
    " {'id':'cv-priv','developerName':'Priv','contentType':'ContentString','defaultContentValue':'child private','access':'PRIVATE'},"
    " {'id':'cv-const','developerName':'Const','contentType':'ContentString','defaultContentValue':'99'}]}";

static void test_subflow(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx,
            START_TO("m-sub") ",{'id':'m-sub','elementType':'SUB_FLOW','developerName':'Sub','subflow':{"
                              " 'flowId':{'id':'f-child','versionId':'cv-1'},'arguments':["
                              "  {'valueElementInSubflowId':{'id':'cv-in'},'valueElementToApplyId':{'id':'v-name'}},"
                              "  {'valueElementInSubflowId':{'id':'cv-io'},'valueElementToApplyId':{'id':'v-age'}},"
                              "  {'valueElementInSubflowId':{'id':'cv-out'},'valueElementToApplyId':{'id':'v-out'}},"
                              "  {'valueElementInSubflowId':{'id':'cv-priv'},'valueElementToApplyId':{'id':'v-text'}},"
                              "  {'valueElementInSubflowId':{'id':'cv-ghost'},'valueElementToApplyId':{'id':'v-secret'}}]},"
                              " 'outcomes':[{'id':'o-after','nextMapElementId':'m-after'}]},"
                              "{'id':'m-after','elementType':'STEP','outcomes':[{'id':'o-1','nextMapElementId':'m-after'}]}",
            NULL);
    sl_problems probs;
    problems_init(&probs);
    flow_snapshot *child_snap = NULL;
    char *ct = xstrdup(CHILD_SNAPSHOT);
    for (char *p = ct; *p; p++)
        if (*p == '\'')
            *p = '"';
    assert_int_equal(snapshot_parse_text(ct, strlen(ct), "child", &child_snap, &probs), 0);
    free(ct);
    problems_free(&probs);

    set_cv(&fx, "v-name", "Ada");
    set_cv(&fx, "v-age", "7");
    set_cv(&fx, "v-out", "parent out");
    set_cv(&fx, "v-text", "parent text");
    const char *fid = NULL, *ver = NULL;
    assert_false(engine_subflow_target(fx.snap, fx.run.state, &fid, &ver)); /* not there yet */
    jv *child = NULL;
    sl_error err = {0};
    assert_int_equal(engine_subflow_child(fx.snap, fx.run.state, child_snap, &child, &err), SL_ESTATE);

    assert_int_equal(engine_forward(&fx.run), ENGINE_SUBFLOW);
    expect_str(engine_state_invoke_type(fx.run.state), "SUBFLOW");
    expect_str(jv_get_str(jv_get(fx.run.state, "subflow"), "element"), "m-sub");
    assert_true(engine_subflow_target(fx.snap, fx.run.state, &fid, &ver));
    expect_str(fid, "f-child");
    expect_str(ver, "cv-1");

    /* in: INPUT and INPUT_OUTPUT arguments only */
    assert_int_equal(engine_subflow_child(fx.snap, fx.run.state, child_snap, &child, &err), 0);
    expect_str(jv_get_str(child, "current"), "c-start");
    expect_cv(child_snap, child, "cv-in", "Ada");
    expect_cv(child_snap, child, "cv-io", "7");
    expect_cv(child_snap, child, "cv-out", "child default");
    expect_cv(child_snap, child, "cv-priv", "child private");

    engine_run crun = {.snap = child_snap, .state = child, .svc = &fx.svc};
    assert_int_equal(engine_forward(&crun), ENGINE_DONE);
    engine_run_clear(&crun);
    expect_cv(child_snap, child, "cv-in", "99");

    /* out: OUTPUT and INPUT_OUTPUT arguments only, then the sub-flow element's outcome */
    engine_run_clear(&fx.run);
    assert_int_equal(engine_resume_subflow(&fx.run, child_snap, child), ENGINE_UI);
    expect_str(current_id(&fx), "m-after");
    expect_str(engine_state_invoke_type(fx.run.state), "FORWARD");
    assert_null(jv_get(fx.run.state, "subflow"));
    expect_cv(fx.snap, fx.run.state, "v-out", "Ada");
    expect_cv(fx.snap, fx.run.state, "v-age", "99");
    expect_cv(fx.snap, fx.run.state, "v-name", "Ada");
    expect_cv(fx.snap, fx.run.state, "v-text", "parent text");
    expect_cv(fx.snap, fx.run.state, "v-secret", NULL);

    /* resuming again (no longer at the sub-flow element) is a fault */
    engine_run_clear(&fx.run);
    assert_int_equal(engine_resume_subflow(&fx.run, child_snap, child), ENGINE_FAULT);
    jv_free(child);
    snapshot_free(child_snap);
    fx_free(&fx);
}

/* ---- engine_invoke and responses ---- */

static const char INVOKE_PAGE[] =
    "{'id':'pg','developerName':'P','label':'The page','pageComponents':["
    " {'id':'c-name','componentType':'INPUT','isRequired':true,'valueElementValueBindingReferenceId':{'id':'v-name'}},"
    " {'id':'c-age','componentType':'INPUT','valueElementValueBindingReferenceId':{'id':'v-age'}}]}";

static const char INVOKE_MAPS[] =
    START_TO("m-page") ",{'id':'m-page','elementType':'INPUT','developerName':'Page','pageElementId':'pg','outcomes':["
                       " {'id':'o-save','developerName':'Save','order':0,'nextMapElementId':'m-step'},"
                       " {'id':'o-partial','developerName':'Partial','order':1,'pageActionBindingType':'PARTIAL_SAVE',"
                       "  'nextMapElementId':'m-step'},"
                       " {'id':'o-nosave','developerName':'Cancel','order':2,'pageActionBindingType':'NO_SAVE',"
                       "  'nextMapElementId':'m-step'},"
                       " {'id':'o-again','developerName':'Again','order':3,'nextMapElementId':'m-reset'},"
                       " {'id':'o-lost','developerName':'Lost','order':4,'pageActionBindingType':'NO_SAVE',"
                       "  'nextMapElementId':'m-missing'},"
                       " {'id':'o-pf','developerName':'FAULT','order':5,'nextMapElementId':'m-step'}]},"
                       "{'id':'m-step','elementType':'STEP','developerName':'Step','userContent':'<p>Hi {![Name]}</p>',"
                       " 'outcomes':[{'id':'o-back','developerName':'Back','nextMapElementId':'m-page'},"
                       "  {'id':'o-end','developerName':'End','order':1,'nextMapElementId':'m-end'}]},"
                       "{'id':'m-reset','elementType':'OPERATOR','developerName':'Reset','operations':["
                       " {'valueElementToApplyId':{'id':'v-name'},'valueElementToReferenceId':{'id':'v-ada'}}],"
                       " 'outcomes':[{'id':'o-r','nextMapElementId':'m-page'}]},"
                       "{'id':'m-end','elementType':'DECISION','developerName':'End'}";

static engine_outcome invoke(fixture *fx, const char *request, bool *bad)
{
    engine_run_clear(&fx->run);
    jv *r = J(request);
    engine_outcome oc = engine_invoke(&fx->run, r, bad);
    jv_free(r);
    return oc;
}

/* A component's data response in a response. */
static const jv *component_data(const jv *resp, const char *cid)
{
    const jv *data = jv_get(jv_get(jv_at(jv_get(resp, "mapElementInvokeResponses"), 0), "pageResponse"),
                            "pageComponentDataResponses");
    for (size_t i = 0; i < jv_len(data); i++)
        if (str_eq(jv_get_str(jv_at(data, i), "pageComponentId"), cid))
            return jv_at(data, i);
    return NULL;
}

static void test_invoke_forward(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, INVOKE_MAPS, INVOKE_PAGE);
    bool bad = false;
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    expect_str(current_id(&fx), "m-page");

    /* the page's response */
    jv *resp = engine_response(&fx.run, "tok-1", NULL, "parent-9");
    expect_str(jv_get_str(resp, "stateToken"), "tok-1");
    expect_str(jv_get_str(resp, "parentStateId"), "parent-9");
    expect_str(jv_get_str(resp, "invokeType"), "FORWARD");
    expect_str(jv_get_str(resp, "currentMapElementId"), "m-page");
    expect_str(jv_get_str(jv_get(resp, "flowId"), "versionId"), "fv-1");
    const jv *mer = jv_at(jv_get(resp, "mapElementInvokeResponses"), 0);
    assert_int_equal(jv_len(jv_get(mer, "outcomeResponses")), 5); /* not the FAULT one */
    expect_str(jv_get_str(component_data(resp, "c-name"), "contentValue"), "World");
    assert_true(jv_bool(jv_get(component_data(resp, "c-name"), "isRequired")));
    assert_true(jv_is_null(jv_get(resp, "outputs")));
    const jv *navs = jv_get(resp, "navigationElementReferences");
    assert_int_equal(jv_len(navs), 1);
    expect_str(jv_get_str(jv_at(navs, 0), "id"), "n-nav");
    jv_free(resp);

    /* FORWARD without an outcome re-shows the page */
    assert_int_equal(invoke(&fx, "{'invokeType':'FORWARD','stateToken':'t'}", &bad), ENGINE_UI);
    assert_false(bad);
    expect_str(current_id(&fx), "m-page");

    /* SAVE with a missing required input: INVALID, nothing changed */
    char *before = jv_dumps(fx.run.state);
    assert_int_equal(invoke(&fx,
                            "{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':'O-SAVE',"
                            "'pageRequest':{'pageComponentInputResponses':[{'pageComponentId':'c-name','contentValue':''},"
                            "{'pageComponentId':'c-age','contentValue':'12'}]}}}",
                            &bad),
                     ENGINE_INVALID);
    assert_false(bad);
    char *after = jv_dumps(fx.run.state);
    assert_string_equal(before, after);
    free(after);
    free(before);
    resp = engine_response(&fx.run, "tok-2", NULL, NULL);
    expect_str(jv_get_str(component_data(resp, "c-name"), "validationMessage"), "This field is required.");
    expect_str(jv_get_str(component_data(resp, "c-age"), "contentValue"), "12");
    jv_free(resp);

    /* NO_SAVE drops the input */
    assert_int_equal(invoke(&fx,
                            "{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':'o-nosave',"
                            "'pageRequest':{'pageComponentInputResponses':[{'pageComponentId':'c-name','contentValue':'Zed'}]}}}",
                            &bad),
                     ENGINE_UI);
    expect_str(current_id(&fx), "m-step");
    expect_cv(fx.snap, fx.run.state, "v-name", "World");
    resp = engine_response(&fx.run, "tok", NULL, NULL);
    const jv *step = jv_get(jv_at(jv_get(resp, "mapElementInvokeResponses"), 0), "pageResponse");
    expect_str(jv_get_str(jv_at(jv_get(step, "pageComponentDataResponses"), 0), "content"), "<p>Hi World</p>");
    jv_free(resp);

    /* back, then SAVE with valid input */
    assert_int_equal(invoke(&fx, "{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':'o-back'}}",
                            &bad),
                     ENGINE_UI);
    assert_int_equal(invoke(&fx,
                            "{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':'o-save',"
                            "'pageRequest':{'pageComponentInputResponses':[{'pageComponentId':'c-name','contentValue':'Ada'}]}}}",
                            &bad),
                     ENGINE_UI);
    expect_cv(fx.snap, fx.run.state, "v-name", "Ada");
    expect_str(current_id(&fx), "m-step");

    /* an outcome can be chosen only on a page, and only one of the page's */
    jv_set_str(fx.run.state, "current", "m-reset");
    assert_int_equal(invoke(&fx, "{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':'o-r'}}",
                            &bad),
                     ENGINE_FAULT);
    assert_true(bad);
    expect_contains(jv_get_str(fx.run.faults, "request"), "only on a page");
    jv_set_str(fx.run.state, "current", "m-page");
    assert_int_equal(invoke(&fx, "{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':'o-back'}}",
                            &bad),
                     ENGINE_FAULT);
    assert_true(bad);
    expect_contains(jv_get_str(fx.run.faults, "request"), "o-back");
    /* an outcome leading nowhere is a fault of the flow, not of the request */
    assert_int_equal(invoke(&fx, "{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':'o-lost'}}",
                            &bad),
                     ENGINE_FAULT);
    assert_false(bad);
    expect_contains(jv_get_str(fx.run.faults, "Page"), "m-missing");
    /* PARTIAL_SAVE keeps what is valid */
    assert_int_equal(invoke(&fx,
                            "{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':'o-partial',"
                            "'pageRequest':{'pageComponentInputResponses':[{'pageComponentId':'c-name','contentValue':''},"
                            "{'pageComponentId':'c-age','contentValue':'x'}]}}}",
                            &bad),
                     ENGINE_UI);
    expect_cv(fx.snap, fx.run.state, "v-name", NULL);
    expect_cv(fx.snap, fx.run.state, "v-age", NULL);
    /* to the end: DONE with the outputs */
    assert_int_equal(invoke(&fx, "{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':'o-end'}}",
                            &bad),
                     ENGINE_DONE);
    resp = engine_response(&fx.run, "tok", NULL, NULL);
    expect_str(jv_get_str(resp, "invokeType"), "DONE");
    const jv *outs = jv_get(resp, "outputs");
    assert_int_equal(jv_len(outs), 3); /* Name (INPUT_OUTPUT), Person (INPUT_OUTPUT), Out (OUTPUT) */
    expect_str(jv_get_str(jv_at(outs, 0), "developerName"), "Name");
    expect_str(jv_get_str(jv_at(outs, 0), "valueElementId"), "V-NAME");
    jv_free(resp);
    assert_int_equal(invoke(&fx, "{'invokeType':'FORWARD','stateToken':'t'}", &bad), ENGINE_DONE);
    fx_free(&fx);
}

static void test_invoke_sync_navigate_and_bad(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, INVOKE_MAPS, INVOKE_PAGE);
    bool bad = false;
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);

    /* SYNC saves without validation and stays */
    assert_int_equal(invoke(&fx,
                            "{'invokeType':'sync','stateToken':'t','mapElementInvokeRequest':{'pageRequest':"
                            "{'pageComponentInputResponses':[{'pageComponentId':'c-name','contentValue':''},"
                            "{'pageComponentId':'c-age','contentValue':'33'}]}}}",
                            &bad),
                     ENGINE_UI);
    assert_false(bad);
    assert_true(fx.run.sync);
    expect_cv(fx.snap, fx.run.state, "v-name", NULL);
    expect_cv(fx.snap, fx.run.state, "v-age", "33");
    jv *resp = engine_response(&fx.run, "tok", "SYNC", NULL);
    expect_str(jv_get_str(resp, "invokeType"), "SYNC");
    jv_free(resp);

    /* NAVIGATE, also to a nested item */
    assert_int_equal(invoke(&fx, "{'invokeType':'NAVIGATE','stateToken':'t','navigationElementId':'N-NAV',"
                                 "'selectedNavigationItemId':'ni-step'}",
                            &bad),
                     ENGINE_UI);
    expect_str(current_id(&fx), "m-step");
    assert_int_equal(invoke(&fx, "{'invokeType':'NAVIGATE','stateToken':'t','navigationElementId':'n-nav',"
                                 "'selectedNavigationItemId':'ni-deep'}",
                            &bad),
                     ENGINE_UI);
    expect_str(current_id(&fx), "m-page");

    /* bad requests: nothing changes, the fault is named "request" */
    static const char *const requests[] = {
        "{'invokeType':'NAVIGATE','stateToken':'t','navigationElementId':'n-ghost','selectedNavigationItemId':'ni-step'}",
        "{'invokeType':'NAVIGATE','stateToken':'t','navigationElementId':'n-nav','selectedNavigationItemId':'ni-ghost'}",
        "{'invokeType':'NAVIGATE','stateToken':'t','navigationElementId':'n-nav','selectedNavigationItemId':'ni-none'}",
        "{'invokeType':'NAVIGATE','stateToken':'t'}",
        "{'invokeType':'JUMP','stateToken':'t'}",
        "{'stateToken':'t'}",
    };
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        char *before = jv_dumps(fx.run.state);
        bad = false;
        assert_int_equal(invoke(&fx, requests[i], &bad), ENGINE_FAULT);
        assert_true(bad);
        assert_non_null(jv_get_str(fx.run.faults, "request"));
        char *after = jv_dumps(fx.run.state);
        assert_string_equal(before, after);
        free(before);
        free(after);
    }
    /* SYNC away from a page */
    jv_set_str(fx.run.state, "current", "m-reset");
    assert_int_equal(invoke(&fx, "{'invokeType':'SYNC','stateToken':'t'}", &bad), ENGINE_FAULT);
    assert_true(bad);
    /* FORWARD at a non-page element runs it */
    assert_int_equal(invoke(&fx, "{'invokeType':'FORWARD','stateToken':'t'}", &bad), ENGINE_UI);
    assert_false(bad);
    expect_str(current_id(&fx), "m-page");
    expect_cv(fx.snap, fx.run.state, "v-name", "Ada");
    /* a state at an element that is not in the flow */
    jv_set_str(fx.run.state, "current", "m-gone");
    assert_int_equal(invoke(&fx, "{'invokeType':'FORWARD','stateToken':'t'}", &bad), ENGINE_FAULT);
    assert_non_null(jv_get_str(fx.run.faults, "flow"));
    fx_free(&fx);
}

/* ---- known bugs (each test states the expected behaviour) ---- */

/* Initialization inputs may carry numbers and booleans (invoke_decode_init accepts them), but
 * engine_state_new stores only strings, so {"developerName":"Age","contentValue":42} is lost. */
static void test_fixed_state_new_number_input(void **unused)
{
    (void)unused;
    flow_snapshot *s = S("{'id':'m-start','elementType':'START'}", NULL);
    jv *body = J("{'flowId':{'id':'f-test'},'inputs':[{'developerName':'Age','contentValue':42}]}");
    invoke_init ii;
    sl_error err = {0};
    assert_int_equal(invoke_decode_init(body, &ii, &err), 0);
    jv *st = NULL;
    assert_int_equal(engine_state_new(s, ii.inputs, &st, &err), 0);
    expect_cv(s, st, "v-age", "42");
    jv_free(st);
    jv_free(body);
    snapshot_free(s);
}

/* A page that is shown again after a SAVE outcome shows the stored values, not the input posted
 * before: here the outcome runs an OPERATOR that resets Name to "Ada" and returns to the page. */
static void test_invoke_shows_stored_values_after_move(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, INVOKE_MAPS, INVOKE_PAGE);
    bool bad = false;
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    assert_int_equal(invoke(&fx,
                            "{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':'o-again',"
                            "'pageRequest':{'pageComponentInputResponses':[{'pageComponentId':'c-name','contentValue':'Zed'}]}}}",
                            &bad),
                     ENGINE_UI);
    expect_str(current_id(&fx), "m-page");
    expect_cv(fx.snap, fx.run.state, "v-name", "Ada");
    jv *resp = engine_response(&fx.run, "tok", NULL, NULL);
    expect_str(jv_get_str(component_data(resp, "c-name"), "contentValue"), "Ada");
    jv_free(resp);
    fx_free(&fx);
}

/* Date-times: a fraction is digits only; calendar dates must exist; a fraction such as
 * ".5e400" must not overflow the int64 conversion (UBSan: "inf is outside the range of
 * representable values of type 'long'" at engine.c's eng_parse_datetime). */
static void test_fixed_datetime_parsing(void **unused)
{
    (void)unused;
    int64_t ms = 0;
    assert_true(eng_parse_datetime("2024-01-01T00:00:00.250Z", &ms));
    assert_int_equal(ms, 1704067200250LL);
    assert_true(eng_parse_datetime("2024-02-29", &ms));
    assert_false(eng_parse_datetime("2024-01-01T00:00:00.5e400Z", &ms));
    assert_false(eng_parse_datetime("2024-01-01T00:00:00.5e3Z", &ms));
    assert_false(eng_parse_datetime("2023-02-31", &ms));
    assert_false(eng_parse_datetime("+202-01-01", &ms));
}

/* A number field accepts "nan" (strtod), which then passes minimum/maximum checks and compares
 * EQUAL to every number. Expected: "nan"/"inf" are "Enter a number.", and a NaN never compares
 * equal. */
static void test_fixed_number_nan(void **unused)
{
    (void)unused;
    assert_false(cmp("EQUAL", "ContentNumber", "nan", "5"));
    assert_false(cmp("GREATER_THAN_OR_EQUAL", "ContentNumber", "nan", "18"));
    fixture fx;
    fx_init(&fx, VALIDATION_MAPS, VALIDATION_PAGE);
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    /* c-list (required, nothing selected) is invalid too */
    assert_int_equal(apply(&fx, "[{'pageComponentId':'c-num','contentValue':'nan'}]", PAGE_SAVE), 2);
    expect_str(jv_get_str(fx.run.validation, "c-num"), "Enter a number.");
    fx_free(&fx);
}

/* maxSize (and minLength / maxLength) count characters, not UTF-8 bytes: "ëëëëëë" is 6
 * characters (12 bytes) and fits a maxSize of 7. */
static void test_fixed_max_size_counts_characters(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, VALIDATION_MAPS, VALIDATION_PAGE);
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    assert_int_equal(apply(&fx, "[{'pageComponentId':'c-max','contentValue':'\\u00eb\\u00eb\\u00eb\\u00eb\\u00eb\\u00eb'},"
                                "{'pageComponentId':'c-list','objectData':[" PERSON_A "]}]",
                           PAGE_SAVE),
                     0);
    expect_cv(fx.snap, fx.run.state, "v-text", "\xc3\xab\xc3\xab\xc3\xab\xc3\xab\xc3\xab\xc3\xab");
    fx_free(&fx);
}

/* Objects with neither externalId nor internalId (as services may return them) are distinct
 * objects: ADD appends such an object instead of replacing every key-less object of the list,
 * and two different key-less lists are not EQUAL. */
static void test_fixed_keyless_objects(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, START_TO("m-op") ",{'id':'m-op','elementType':'OPERATOR','developerName':'Op','operations':["
                                  " {'valueElementToApplyId':{'id':'v-selected','command':'ADD'},"
                                  "  'valueElementToReferenceId':{'id':'v-cursor'}}]}",
            NULL);
    jv *two = J("{'objectData':[{'developerName':'Person','properties':[{'developerName':'Name','contentValue':'A'}]},"
                "{'developerName':'Person','properties':[{'developerName':'Name','contentValue':'B'}]}]}");
    jv *one = J("{'objectData':[{'developerName':'Person','properties':[{'developerName':'Name','contentValue':'C'}]}]}");
    sl_error err = {0};
    jv *r = ref_of("v-selected");
    assert_int_equal(eng_value_set(&fx.run, r, two, &err), 0);
    jv_free(r);
    r = ref_of("v-cursor");
    assert_int_equal(eng_value_set(&fx.run, r, one, &err), 0);
    jv_free(r);
    assert_int_equal(engine_forward(&fx.run), ENGINE_DONE);
    assert_int_equal(od_len(fx.snap, fx.run.state, "v-selected"), 3);
    jv_set_str(two, "contentType", "ContentList");
    jv_set_str(one, "contentType", "ContentList");
    jv *other = J("{'contentType':'ContentList','objectData':[{'developerName':'X'},{'developerName':'Y'}]}");
    bool out = true;
    assert_int_equal(eng_compare("EQUAL", two, other, &out, &err), 0);
    assert_false(out);
    jv_free(other);
    jv_free(two);
    jv_free(one);
    fx_free(&fx);
}

/* An outcome whose comparison names a value that is not in the flow is a bad reference, and
 * engine.h says a fault follows the element's FAULT outcome when it has one. */
static void test_fixed_outcome_error_follows_fault_outcome(void **unused)
{
    (void)unused;
    fixture fx;
    fx_init(&fx, START_TO("m-d") ",{'id':'m-d','elementType':'DECISION','developerName':'D','outcomes':["
                                 " {'id':'o-1','order':0,'nextMapElementId':'m-start','comparison':{'rules':["
                                 "  {'leftValueElementToReferenceId':{'id':'v-ghost'},'criteriaType':'EQUAL',"
                                 "   'rightValueElementToReferenceId':{'id':'v-name'}}]}},"
                                 " {'id':'o-f','developerName':'FAULT','order':1,'nextMapElementId':'m-oops'}]},"
                                 "{'id':'m-oops','elementType':'STEP','outcomes':[{'id':'o-2','nextMapElementId':'m-oops'}]}",
            NULL);
    assert_int_equal(engine_forward(&fx.run), ENGINE_UI);
    expect_str(current_id(&fx), "m-oops");
    fx_free(&fx);
}

/* ---- request decoders ---- */

static void expect_decode_error(const char *body, const char *where, bool prefix)
{
    jv *b = J(body);
    invoke_request ir;
    sl_error err = {0};
    int rc = invoke_decode(b, &ir, &err);
    if (rc != SL_EINVAL)
        fail_msg("invoke_decode accepted %s", body);
    if (prefix ? strncmp(err.where, where, strlen(where)) != 0 : strcmp(err.where, where) != 0)
        fail_msg("invoke_decode(%s): where \"%s\", expected %s\"%s\"", body, err.where, prefix ? "a prefix " : "", where);
    assert_true(err.msg[0] != '\0');
    jv_free(b);
}

static void test_invoke_decode(void **unused)
{
    (void)unused;
    const char *pci = "/mapElementInvokeRequest/pageRequest/pageComponentInputResponses";
    expect_decode_error("[]", "", false);
    expect_decode_error("'FORWARD'", "", false);
    expect_decode_error("{}", "/invokeType", false);
    expect_decode_error("{'invokeType':5,'stateToken':'t'}", "/invokeType", false);
    expect_decode_error("{'invokeType':'JUMP','stateToken':'t'}", "/invokeType", false);
    expect_decode_error("{'invokeType':'FORWARD'}", "/stateToken", false);
    expect_decode_error("{'invokeType':'FORWARD','stateToken':null}", "/stateToken", false);
    expect_decode_error("{'invokeType':'FORWARD','stateToken':1}", "/stateToken", false);
    expect_decode_error("{'invokeType':'FORWARD','stateToken':'t','stateId':1}", "/stateId", false);
    expect_decode_error("{'invokeType':'FORWARD','stateToken':'t','currentMapElementId':[]}", "/currentMapElementId", false);
    expect_decode_error("{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':'x'}", "/mapElementInvokeRequest",
                        false);
    expect_decode_error("{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'selectedOutcomeId':3}}",
                        "/mapElementInvokeRequest/selectedOutcomeId", false);
    expect_decode_error("{'invokeType':'FORWARD','stateToken':'t','mapElementInvokeRequest':{'pageRequest':[]}}",
                        "/mapElementInvokeRequest/pageRequest", false);
    expect_decode_error("{'invokeType':'SYNC','stateToken':'t','mapElementInvokeRequest':{'pageRequest':"
                        "{'pageComponentInputResponses':{}}}}",
                        pci, false);
    expect_decode_error("{'invokeType':'SYNC','stateToken':'t','mapElementInvokeRequest':{'pageRequest':"
                        "{'pageComponentInputResponses':[{},'x']}}}",
                        "/mapElementInvokeRequest/pageRequest/pageComponentInputResponses/1", false);
    /* member problems point at the entry (or deeper) */
    expect_decode_error("{'invokeType':'SYNC','stateToken':'t','mapElementInvokeRequest':{'pageRequest':"
                        "{'pageComponentInputResponses':[{'pageComponentId':5}]}}}",
                        "/mapElementInvokeRequest/pageRequest/pageComponentInputResponses/0", true);
    expect_decode_error("{'invokeType':'SYNC','stateToken':'t','mapElementInvokeRequest':{'pageRequest':"
                        "{'pageComponentInputResponses':[{'pageComponentId':'c','objectData':'x'}]}}}",
                        "/mapElementInvokeRequest/pageRequest/pageComponentInputResponses/0", true);
    expect_decode_error("{'invokeType':'SYNC','stateToken':'t','mapElementInvokeRequest':{'pageRequest':"
                        "{'pageComponentInputResponses':[{'pageComponentId':'c'},{'objectData':[{},1]}]}}}",
                        "/mapElementInvokeRequest/pageRequest/pageComponentInputResponses/1", true);
    expect_decode_error("{'invokeType':'SYNC','stateToken':'t','mapElementInvokeRequest':{'pageRequest':"
                        "{'pageComponentInputResponses':[{'pageComponentId':'c','contentValue':{}}]}}}",
                        "/mapElementInvokeRequest/pageRequest/pageComponentInputResponses/0", true);
    expect_decode_error("{'invokeType':'NAVIGATE','stateToken':'t'}", "/navigationElementId", false);
    expect_decode_error("{'invokeType':'NAVIGATE','stateToken':'t','navigationElementId':1}", "/navigationElementId", false);
    expect_decode_error("{'invokeType':'NAVIGATE','stateToken':'t','navigationElementId':'n','selectedNavigationItemId':2}",
                        "/selectedNavigationItemId", false);

    /* too many inputs */
    buf b;
    buf_init(&b, 1u << 20);
    buf_puts(&b, "{'invokeType':'SYNC','stateToken':'t','mapElementInvokeRequest':{'pageRequest':"
                 "{'pageComponentInputResponses':[");
    for (int i = 0; i <= INVOKE_MAX_INPUTS; i++)
        buf_puts(&b, i ? ",{}" : "{}");
    buf_puts(&b, "]}}}");
    expect_decode_error(b.data, pci, false);
    buf_free(&b);

    /* a good one: strings borrowed from the body, nulls allowed, case-insensitive invokeType */
    jv *body = J("{'invokeType':'forward','stateId':null,'stateToken':'tok','currentMapElementId':'m-page',"
                 "'mapElementInvokeRequest':{'selectedOutcomeId':'o-1','pageRequest':{'pageComponentInputResponses':["
                 "{'pageComponentId':'c','contentValue':1.5,'objectData':null},{'pageComponentId':'d','contentValue':true,"
                 "'objectData':[{}]}]}},'navigationElementId':null,'extra':{'ignored':[1,2,3]}}");
    invoke_request ir;
    sl_error err = {0};
    assert_int_equal(invoke_decode(body, &ir, &err), 0);
    expect_str(ir.invoke_type, "forward");
    assert_null(ir.state_id);
    expect_str(ir.state_token, "tok");
    expect_str(ir.current_map_element_id, "m-page");
    expect_str(ir.selected_outcome_id, "o-1");
    assert_int_equal(jv_len(ir.inputs), 2);
    assert_null(ir.navigation_element_id);
    jv_free(body);
    body = J("{'invokeType':'NAVIGATE','stateToken':'t','navigationElementId':'n','selectedNavigationItemId':'i',"
             "'mapElementInvokeRequest':null}");
    assert_int_equal(invoke_decode(body, &ir, &err), 0);
    expect_str(ir.navigation_element_id, "n");
    expect_str(ir.selected_navigation_item_id, "i");
    assert_null(ir.inputs);
    jv_free(body);
}

static void expect_init_error(const char *body, const char *where, bool prefix)
{
    jv *b = J(body);
    invoke_init ii;
    sl_error err = {0};
    int rc = invoke_decode_init(b, &ii, &err);
    if (rc != SL_EINVAL)
        fail_msg("invoke_decode_init accepted %s", body);
    if (prefix ? strncmp(err.where, where, strlen(where)) != 0 : strcmp(err.where, where) != 0)
        fail_msg("invoke_decode_init(%s): where \"%s\", expected %s\"%s\"", body, err.where, prefix ? "a prefix " : "",
                 where);
    assert_true(err.msg[0] != '\0');
    jv_free(b);
}

static void test_invoke_decode_init(void **unused)
{
    (void)unused;
    expect_init_error("[]", "", false);
    expect_init_error("{}", "/flowId", false);
    expect_init_error("{'flowId':'f'}", "/flowId", false);
    expect_init_error("{'flowId':{'id':1}}", "/flowId/id", false);
    expect_init_error("{'flowId':{'id':'f','versionId':2}}", "/flowId/versionId", false);
    expect_init_error("{'flowId':{}}", "/flowId", false);
    expect_init_error("{'id':3}", "/id", false);
    expect_init_error("{'id':'f','versionId':3}", "/versionId", false);
    expect_init_error("{'id':'f','developerName':4}", "/developerName", false);
    expect_init_error("{'id':'f','inputs':'x'}", "/inputs", false);
    expect_init_error("{'id':'f','inputs':[{},1]}", "/inputs/1", false);
    expect_init_error("{'id':'f','inputs':[{'developerName':5}]}", "/inputs/0", true);
    expect_init_error("{'id':'f','inputs':[{'developerName':'a','contentValue':[]}]}", "/inputs/0", true);
    expect_init_error("{'id':'f','inputs':[{'developerName':'a','objectData':[[]]}]}", "/inputs/0", true);

    jv *b = J("{'flowId':{'id':'f-1','versionId':'v-1'},'inputs':[{'developerName':'Name','contentValue':'x'}],"
              "'id':'ignored'}");
    invoke_init ii;
    sl_error err = {0};
    assert_int_equal(invoke_decode_init(b, &ii, &err), 0);
    expect_str(ii.flow_id, "f-1");
    expect_str(ii.version_id, "v-1");
    assert_null(ii.developer_name);
    assert_int_equal(jv_len(ii.inputs), 1);
    jv_free(b);
    /* the simple form; an all-zero id with a name means "by name"; an all-zero version = active */
    b = J("{'id':'00000000-0000-0000-0000-000000000000','developerName':'My flow',"
          "'versionId':'00000000-0000-0000-0000-000000000000','inputs':null}");
    assert_int_equal(invoke_decode_init(b, &ii, &err), 0);
    assert_null(ii.flow_id);
    assert_null(ii.version_id);
    expect_str(ii.developer_name, "My flow");
    assert_null(ii.inputs);
    jv_free(b);
    b = J("{'flowId':null,'id':'f-2'}");
    assert_int_equal(invoke_decode_init(b, &ii, &err), 0);
    expect_str(ii.flow_id, "f-2");
    assert_null(ii.version_id);
    jv_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_defaults),
        cmocka_unit_test(test_values_objects_and_properties),
        cmocka_unit_test(test_compare_strings),
        cmocka_unit_test(test_compare_is_empty),
        cmocka_unit_test(test_compare_numbers_booleans_dates),
        cmocka_unit_test(test_compare_objects_and_errors),
        cmocka_unit_test(test_comparisons_nested),
        cmocka_unit_test(test_operators_basic),
        cmocka_unit_test(test_operators_lists),
        cmocka_unit_test(test_operators_properties_and_errors),
        cmocka_unit_test(test_operators_macro),
        cmocka_unit_test(test_substitute),
        cmocka_unit_test(test_page_validation_messages),
        cmocka_unit_test(test_page_save_partial_sync),
        cmocka_unit_test(test_state_new_inputs),
        cmocka_unit_test(test_loop_guard),
        cmocka_unit_test(test_decision_routes),
        cmocka_unit_test(test_message_action_request_and_outputs),
        cmocka_unit_test(test_fault_outcome_on_service_errors),
        cmocka_unit_test(test_wait_and_resume),
        cmocka_unit_test(test_data_actions),
        cmocka_unit_test(test_subflow),
        cmocka_unit_test(test_invoke_forward),
        cmocka_unit_test(test_invoke_sync_navigate_and_bad),
        cmocka_unit_test(test_invoke_decode),
        cmocka_unit_test(test_invoke_decode_init),
        cmocka_unit_test(test_fixed_state_new_number_input),
        cmocka_unit_test(test_invoke_shows_stored_values_after_move),
        cmocka_unit_test(test_fixed_datetime_parsing),
        cmocka_unit_test(test_fixed_number_nan),
        cmocka_unit_test(test_fixed_max_size_counts_characters),
        cmocka_unit_test(test_fixed_keyless_objects),
        cmocka_unit_test(test_fixed_outcome_error_follows_fault_outcome),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
