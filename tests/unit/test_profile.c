/* Unit tests for atom/profile: parsing and validation (exact problem pointers), describe (type
 * names, dedupe, suffixes), inputs → document, document → outputs, dates and numbers.
 * JSON in these tests is written with single quotes for readability; js() swaps them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "atom/profile.h"

/* Parses JSON written with ' for " (no ' may appear inside strings). */
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

static profile *parse_ok(const char *text)
{
    jv *doc = js(text);
    sl_problems pr;
    problems_init(&pr);
    profile *p = NULL;
    int rc = profile_parse(doc, "p.json", &p, &pr);
    for (size_t i = 0; i < pr.n; i++)
        print_error("unexpected problem %s: %s\n", pr.items[i].pointer, pr.items[i].message);
    assert_int_equal(rc, 0);
    assert_int_equal(pr.n, 0);
    assert_non_null(p);
    problems_free(&pr);
    jv_free(doc);
    return p;
}

/* Parses text expecting failure; returns the problems (caller frees). */
static void parse_bad(const char *text, sl_problems *pr)
{
    jv *doc = js(text);
    problems_init(pr);
    profile *sentinel = (profile *)(uintptr_t)0x1;
    profile *p = sentinel;
    assert_int_equal(profile_parse(doc, "p.json", &p, pr), SL_EINVAL);
    assert_ptr_equal(p, sentinel); /* untouched */
    assert_true(pr->n > 0);
    jv_free(doc);
}

static bool has_problem(const sl_problems *pr, const char *pointer, const char *msg_part)
{
    for (size_t i = 0; i < pr->n; i++)
        if (strcmp(pr->items[i].pointer, pointer) == 0 &&
            (!msg_part || strstr(pr->items[i].message, msg_part)) &&
            strcmp(pr->items[i].file, "p.json") == 0)
            return true;
    return false;
}

static void expect_problem(const char *text, const char *pointer, const char *msg_part)
{
    sl_problems pr;
    parse_bad(text, &pr);
    if (!has_problem(&pr, pointer, msg_part)) {
        for (size_t i = 0; i < pr.n; i++)
            print_error("got %s: %s\n", pr.items[i].pointer, pr.items[i].message);
        fail_msg("no problem at '%s' containing '%s'", pointer, msg_part ? msg_part : "");
    }
    problems_free(&pr);
}

static void assert_json(const jv *v, const char *expected)
{
    jv *want = js(expected);
    if (!jv_equal(v, want)) {
        char *got = jv_dumps(v), *exp = jv_dumps(want);
        print_error("got:      %s\nexpected: %s\n", got, exp);
        free(got);
        free(exp);
        fail();
    }
    jv_free(want);
}

#define ORDER_PROFILE                                                                              \
    "{'component':'profile','name':'Order Request','description':'an order','root':{"          \
    "'name':'Order','type':'Object','children':["                                                \
    "{'name':'Customer','type':'Character','description':'who'},"                               \
    "{'name':'Total','type':'Number'},"                                                          \
    "{'name':'Paid','type':'Boolean'},"                                                          \
    "{'name':'Placed','type':'DateTime'},"                                                       \
    "{'name':'Address','type':'Object','children':[{'name':'City','type':'Character'}]},"      \
    "{'name':'Lines','type':'Array','children':[{'name':'Sku','type':'Character'},"            \
    "  {'name':'Qty','type':'Number'},"                                                          \
    "  {'name':'Item','type':'Object','children':[{'name':'Code','type':'Character'},"         \
    "     {'name':'Fragile','type':'Boolean'}]}]}"                                                \
    "]}}"

/* ---------------------------------------------------------------------------------------- */

static void test_parse_valid(void **state)
{
    profile *p = parse_ok(ORDER_PROFILE);
    assert_string_equal(p->name, "Order Request");
    assert_string_equal(p->description, "an order");
    assert_int_equal(p->root->type, PE_OBJECT);
    assert_string_equal(p->root->name, "Order");
    assert_int_equal(p->root->nchildren, 6);
    assert_string_equal(p->root->children[0]->description, "who");
    assert_null(p->root->children[1]->description);
    const profile_elem *lines = profile_child(p->root, "Lines");
    assert_non_null(lines);
    assert_int_equal(lines->type, PE_ARRAY);
    assert_int_equal(lines->nchildren, 3);
    const profile_elem *item = profile_child(lines, "Item");
    assert_non_null(item);
    assert_int_equal(item->type, PE_OBJECT);
    assert_int_equal(profile_child(item, "Fragile")->type, PE_BOOLEAN);
    assert_null(profile_child(p->root, "lines")); /* exact match only */
    assert_null(profile_child(p->root, "Nope"));
    profile_free(p);
    profile_free(NULL);
}

static void test_type_names(void **state)
{
    assert_string_equal(pe_type_name(PE_CHARACTER), "Character");
    assert_string_equal(pe_type_name(PE_DATETIME), "DateTime");
    assert_string_equal(pe_type_name(PE_ARRAY), "Array");
    assert_string_equal(pe_content_type(PE_CHARACTER), "ContentString");
    assert_string_equal(pe_content_type(PE_NUMBER), "ContentNumber");
    assert_string_equal(pe_content_type(PE_BOOLEAN), "ContentBoolean");
    assert_string_equal(pe_content_type(PE_DATETIME), "ContentDateTime");
    assert_string_equal(pe_content_type(PE_OBJECT), "ContentObject");
    assert_string_equal(pe_content_type(PE_ARRAY), "ContentList");
}

static void test_parse_root_type(void **state)
{
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Array',"
                   "'children':[{'name':'a','type':'Character'}]}}",
                   "/root/type", "root");
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Character'}}",
                   "/root/type", "root");
}

static void test_parse_unknown_type(void **state)
{
    const char *t = "{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                    "{'name':'a','type':'Character'},{'name':'b','type':'Text'}]}}";
    sl_problems pr;
    parse_bad(t, &pr);
    assert_int_equal(pr.n, 1);
    assert_string_equal(pr.items[0].pointer, "/root/children/1/type");
    assert_non_null(strstr(pr.items[0].message, "Text"));
    problems_free(&pr);
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'a','type':'character'}]}}",
                   "/root/children/0/type", "unknown element type");
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'a','type':7}]}}",
                   "/root/children/0/type", NULL);
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'a'}]}}",
                   "/root/children/0", "type");
}

static void test_parse_duplicate_names(void **state)
{
    const char *t = "{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                    "{'name':'a','type':'Character'},{'name':'b','type':'Number'},"
                    "{'name':'a','type':'Boolean'},{'name':'A','type':'Boolean'}]}}";
    sl_problems pr;
    parse_bad(t, &pr);
    assert_int_equal(pr.n, 1); /* "A" differs in case: allowed */
    assert_string_equal(pr.items[0].pointer, "/root/children/2/name");
    assert_non_null(strstr(pr.items[0].message, "/root/children/0"));
    problems_free(&pr);
    /* nested, inside an array */
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'L','type':'Array','children':[{'name':'x','type':'Number'},"
                   "{'name':'x','type':'Number'}]}]}}",
                   "/root/children/0/children/1/name", "duplicate");
}

static void test_parse_children_rules(void **state)
{
    /* missing children on Object and Array: reported at the element */
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'o','type':'Object'}]}}",
                   "/root/children/0", "children");
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'c','type':'Character'},{'name':'l','type':'Array'}]}}",
                   "/root/children/1", "children");
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object'}}", "/root",
                   "children");
    /* empty children */
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'o','type':'Array','children':[]}]}}",
                   "/root/children/0/children", "empty");
    /* children on a simple element */
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'s','type':'Number','children':[{'name':'x','type':'Number'}]}]}}",
                   "/root/children/0/children", "cannot have children");
    /* children not an array, element not an object */
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':{}}}",
                   "/root/children", "array");
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'a','type':'Number'},'b']}}",
                   "/root/children/1", "object");
    /* empty / missing element name */
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'','type':'Number'}]}}",
                   "/root/children/0/name", NULL);
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'type':'Number'}]}}",
                   "/root/children/0", "name");
}

static void test_parse_unknown_members(void **state)
{
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'a','type':'Number','size':3}]}}",
                   "/root/children/0/size", "unknown member");
    expect_problem("{'component':'profile','name':'P','colour':1,'root':{'name':'R','type':'Object',"
                   "'children':[{'name':'a','type':'Number'}]}}",
                   "/colour", "unknown member");
    /* the pointer escapes '/' and '~' */
    expect_problem("{'component':'profile','name':'P','root':{'name':'R','type':'Object','a/b~c':0,"
                   "'children':[{'name':'a','type':'Number'}]}}",
                   "/root/a~1b~0c", "unknown member");
}

static void test_parse_component_members(void **state)
{
    expect_problem("{'component':'process','name':'P','root':{'name':'R','type':'Object','children':["
                   "{'name':'a','type':'Number'}]}}",
                   "/component", NULL);
    expect_problem("{'name':'P','root':{'name':'R','type':'Object','children':[{'name':'a','type':'Number'}]}}",
                   "", "component");
    expect_problem("{'component':'profile','name':'','root':{'name':'R','type':'Object','children':["
                   "{'name':'a','type':'Number'}]}}",
                   "/name", NULL);
    expect_problem("{'component':'profile','name':'a\\tb','root':{'name':'R','type':'Object','children':["
                   "{'name':'a','type':'Number'}]}}",
                   "/name", "control");
    expect_problem("{'component':'profile','name':5,'root':{'name':'R','type':'Object','children':["
                   "{'name':'a','type':'Number'}]}}",
                   "/name", NULL);
    expect_problem("{'component':'profile','name':'P','description':3,'root':{'name':'R','type':'Object',"
                   "'children':[{'name':'a','type':'Number'}]}}",
                   "/description", NULL);
    expect_problem("{'component':'profile','name':'P'}", "", "root");
    expect_problem("[1,2]", "", "object");

    /* 100 characters (multi-byte) is fine, 101 is not */
    char text[1024], name[512] = "";
    for (int i = 0; i < 100; i++)
        strcat(name, "\xC3\xA9");
    snprintf(text, sizeof text, "{'component':'profile','name':'%s','root':{'name':'R','type':'Object',"
                                "'children':[{'name':'a','type':'Number'}]}}", name);
    profile_free(parse_ok(text));
    strcat(name, "x");
    snprintf(text, sizeof text, "{'component':'profile','name':'%s','root':{'name':'R','type':'Object',"
                                "'children':[{'name':'a','type':'Number'}]}}", name);
    expect_problem(text, "/name", "100");
}

static void test_parse_every_problem(void **state)
{
    const char *t = "{'component':'profile','name':'P','extra':true,'root':{'name':'R','type':'Object','children':["
                    "{'name':'a','type':'Text'},"
                    "{'name':'b','type':'Number','children':[]},"
                    "{'name':'b','type':'Object'},"
                    "{'name':'d','type':'Array','children':[{'name':'e','type':'Bogus','x':1}]}]}}";
    sl_problems pr;
    parse_bad(t, &pr);
    assert_true(has_problem(&pr, "/extra", NULL));
    assert_true(has_problem(&pr, "/root/children/0/type", NULL));
    assert_true(has_problem(&pr, "/root/children/1/children", NULL));
    assert_true(has_problem(&pr, "/root/children/2", "children"));
    assert_true(has_problem(&pr, "/root/children/2/name", "duplicate"));
    assert_true(has_problem(&pr, "/root/children/3/children/0/type", NULL));
    assert_true(has_problem(&pr, "/root/children/3/children/0/x", NULL));
    assert_int_equal(pr.n, 7);
    problems_free(&pr);
}

/* A chain of nested Objects `levels` deep (the root is level 1). */
static char *nested_profile(int levels)
{
    buf b;
    buf_init(&b, 1 << 20);
    buf_puts(&b, "{'component':'profile','name':'Deep','root':");
    for (int i = 1; i < levels; i++)
        buf_printf(&b, "{'name':'L%d','type':'Object','children':[", i);
    buf_printf(&b, "{'name':'L%d','type':'Object','children':[{'name':'leaf','type':'Number'}]}", levels);
    for (int i = 1; i < levels; i++)
        buf_puts(&b, "]}");
    buf_puts(&b, "}");
    return buf_take(&b);
}

static void test_parse_depth(void **state)
{
    /* root + 14 nested objects + a leaf = 16 levels: fine */
    char *t = nested_profile(15);
    profile_free(parse_ok(t));
    free(t);
    /* 16 objects + leaf = 17 levels: the leaf is too deep */
    t = nested_profile(16);
    char ptr[512] = "/root";
    for (int i = 0; i < 16; i++)
        strcat(ptr, "/children/0");
    sl_problems pr;
    parse_bad(t, &pr);
    assert_int_equal(pr.n, 1);
    assert_string_equal(pr.items[0].pointer, ptr);
    assert_non_null(strstr(pr.items[0].message, "16"));
    problems_free(&pr);
    free(t);
}

static void test_parse_too_many_elements(void **state)
{
    buf b;
    buf_init(&b, 1 << 20);
    buf_puts(&b, "{'component':'profile','name':'Big','root':{'name':'R','type':'Object','children':[");
    for (int i = 0; i < 1000; i++)
        buf_printf(&b, "%s{'name':'e%d','type':'Number'}", i ? "," : "", i);
    buf_puts(&b, "]}}");
    char *t = buf_take(&b);
    sl_problems pr;
    parse_bad(t, &pr); /* root + 1000 children = 1001 elements */
    assert_int_equal(pr.n, 1);
    assert_string_equal(pr.items[0].pointer, "/root/children/999");
    problems_free(&pr);
    free(t);
    /* 999 children + root = 1000: fine */
    buf_init(&b, 1 << 20);
    buf_puts(&b, "{'component':'profile','name':'Big','root':{'name':'R','type':'Object','children':[");
    for (int i = 0; i < 999; i++)
        buf_printf(&b, "%s{'name':'e%d','type':'Number'}", i ? "," : "", i);
    buf_puts(&b, "]}}");
    t = buf_take(&b);
    profile_free(parse_ok(t));
    free(t);
}

static void test_parse_null_problems(void **state)
{
    jv *doc = js("{'component':'profile','name':'P','root':{'name':'R','type':'Text'}}");
    profile *p = NULL;
    assert_int_equal(profile_parse(doc, NULL, &p, NULL), SL_EINVAL);
    assert_null(p);
    jv_free(doc);
}

/* ---------------------------------------------------------------------------------------- */

static void test_describe_nested(void **state)
{
    profile *p = parse_ok(ORDER_PROFILE);
    jv *values = jv_new_array(), *types = jv_new_array();
    assert_int_equal(profile_describe(p, "Order REQUEST", values, types), 0);
    assert_json(values,
        "[{'developerName':'Customer','contentValue':null,'contentType':'ContentString','typeElementDeveloperName':null,'ordinal':0,'required':false},"
        " {'developerName':'Total','contentValue':null,'contentType':'ContentNumber','typeElementDeveloperName':null,'ordinal':1,'required':false},"
        " {'developerName':'Paid','contentValue':null,'contentType':'ContentBoolean','typeElementDeveloperName':null,'ordinal':2,'required':false},"
        " {'developerName':'Placed','contentValue':null,'contentType':'ContentDateTime','typeElementDeveloperName':null,'ordinal':3,'required':false},"
        " {'developerName':'Address','contentValue':null,'contentType':'ContentObject','typeElementDeveloperName':'Order REQUEST - Address','ordinal':4,'required':false},"
        " {'developerName':'Lines','contentValue':null,'contentType':'ContentList','typeElementDeveloperName':'Order REQUEST - Lines','ordinal':5,'required':false}]");
    assert_json(types,
        "[{'elementType':'TYPE','developerName':'Order REQUEST - Address',"
        "  'developerSummary':'Generated from profile Order Request, element Address',"
        "  'id':null,'serviceElementId':null,'updateByName':false,'bindings':[],"
        "  'properties':[{'id':null,'developerName':'City','contentType':'ContentString','contentFormat':null,'typeElementId':null,'typeElementDeveloperName':null}]},"
        " {'elementType':'TYPE','developerName':'Order REQUEST - Lines',"
        "  'developerSummary':'Generated from profile Order Request, element Lines',"
        "  'id':null,'serviceElementId':null,'updateByName':false,'bindings':[],"
        "  'properties':[{'id':null,'developerName':'Sku','contentType':'ContentString','contentFormat':null,'typeElementId':null,'typeElementDeveloperName':null},"
        "                {'id':null,'developerName':'Qty','contentType':'ContentNumber','contentFormat':null,'typeElementId':null,'typeElementDeveloperName':null},"
        "                {'id':null,'developerName':'Item','contentType':'ContentObject','contentFormat':null,'typeElementId':null,'typeElementDeveloperName':'Order REQUEST - Item'}]},"
        " {'elementType':'TYPE','developerName':'Order REQUEST - Item',"
        "  'developerSummary':'Generated from profile Order Request, element Lines/Item',"
        "  'id':null,'serviceElementId':null,'updateByName':false,'bindings':[],"
        "  'properties':[{'id':null,'developerName':'Code','contentType':'ContentString','contentFormat':null,'typeElementId':null,'typeElementDeveloperName':null},"
        "                {'id':null,'developerName':'Fragile','contentType':'ContentBoolean','contentFormat':null,'typeElementId':null,'typeElementDeveloperName':null}]}]");

    /* deterministic: same bytes twice; a second describe into the same types adds nothing */
    jv *values2 = jv_new_array(), *types2 = jv_new_array();
    profile_describe(p, "Order REQUEST", values2, types2);
    char *a = jv_dumps(types), *b = jv_dumps(types2);
    assert_string_equal(a, b);
    free(a);
    free(b);
    jv *values3 = jv_new_array();
    profile_describe(p, "Order REQUEST", values3, types);
    assert_int_equal(jv_len(types), 3);
    assert_true(jv_equal(values3, values));
    /* another direction adds its own types */
    profile_describe(p, "Order RESPONSE", values3, types);
    assert_int_equal(jv_len(types), 6);
    assert_string_equal(jv_get_str(jv_at(types, 3), "developerName"), "Order RESPONSE - Address");
    /* NULL profile: nothing */
    profile_describe(NULL, "X", values3, types);
    assert_int_equal(jv_len(types), 6);
    jv_free(values);
    jv_free(types);
    jv_free(values2);
    jv_free(types2);
    jv_free(values3);
    profile_free(p);
}

static void test_describe_dedupe_and_suffix(void **state)
{
    profile *p = parse_ok(
        "{'component':'profile','name':'Ship','root':{'name':'R','type':'Object','children':["
        "{'name':'Billing','type':'Object','children':[{'name':'Address','type':'Object','children':[{'name':'City','type':'Character'}]}]},"
        "{'name':'Shipping','type':'Object','children':[{'name':'Address','type':'Object','children':[{'name':'City','type':'Character'}]}]},"
        "{'name':'Return','type':'Object','children':[{'name':'Address','type':'Object','children':[{'name':'Zip','type':'Number'}]}]},"
        "{'name':'Address','type':'Array','children':[{'name':'City','type':'Character'}]},"
        "{'name':'Other','type':'Object','children':[{'name':'Address','type':'Object','children':[{'name':'Street','type':'Character'}]}]},"
        "{'name':'Again','type':'Object','children':[{'name':'Address','type':'Object','children':[{'name':'Zip','type':'Number'}]}]},"
        "{'name':'Node','type':'Object','children':[{'name':'Node','type':'Object','children':[{'name':'v','type':'Number'}]}]}"
        "]}}");
    jv *values = jv_new_array(), *types = jv_new_array();
    profile_describe(p, "A REQUEST", values, types);
    /* Billing/Address and Shipping/Address share one type; the root-level Address array has the
     * same properties, so it shares it too; Return/Address differs → _1; Other/Address → _2;
     * Again/Address equals Return's → _1 again. Outer Node keeps its name, inner gets _1. */
    const char *expect[] = {"A REQUEST - Billing", "A REQUEST - Address", "A REQUEST - Shipping",
                            "A REQUEST - Return", "A REQUEST - Address_1", "A REQUEST - Other",
                            "A REQUEST - Address_2", "A REQUEST - Again", "A REQUEST - Node",
                            "A REQUEST - Node_1"};
    size_t n = sizeof expect / sizeof expect[0];
    assert_int_equal(jv_len(types), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(jv_get_str(jv_at(types, i), "developerName"), expect[i]);
    /* references */
    const jv *ship_props = jv_get(jv_at(types, 2), "properties");
    assert_string_equal(jv_get_str(jv_at(ship_props, 0), "typeElementDeveloperName"), "A REQUEST - Address");
    const jv *again_props = jv_get(jv_at(types, 7), "properties");
    assert_string_equal(jv_get_str(jv_at(again_props, 0), "typeElementDeveloperName"), "A REQUEST - Address_1");
    const jv *node_props = jv_get(jv_at(types, 8), "properties");
    assert_string_equal(jv_get_str(jv_at(node_props, 0), "typeElementDeveloperName"), "A REQUEST - Node_1");
    assert_string_equal(jv_get_str(jv_at(values, 3), "typeElementDeveloperName"), "A REQUEST - Address");
    assert_string_equal(jv_get_str(jv_at(values, 3), "contentType"), "ContentList");
    jv_free(values);
    jv_free(types);
    profile_free(p);

    /* an element literally named "X_1" takes that name first; the next X shape skips to _2,
     * and an identical X_1 elsewhere shares the literal one */
    p = parse_ok("{'component':'profile','name':'Clash','root':{'name':'R','type':'Object','children':["
                 "{'name':'X','type':'Object','children':[{'name':'a','type':'Number'}]},"
                 "{'name':'X_1','type':'Array','children':[{'name':'b','type':'Number'}]},"
                 "{'name':'Other','type':'Object','children':[{'name':'X','type':'Object','children':[{'name':'c','type':'Number'}]}]},"
                 "{'name':'Again','type':'Object','children':[{'name':'X_1','type':'Object','children':[{'name':'b','type':'Number'}]}]}]}}");
    values = jv_new_array();
    types = jv_new_array();
    profile_describe(p, "C", values, types);
    const char *expect2[] = {"C - X", "C - X_1", "C - Other", "C - X_2", "C - Again"};
    assert_int_equal(jv_len(types), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(jv_get_str(jv_at(types, i), "developerName"), expect2[i]);
    const jv *again = jv_get(jv_at(types, 4), "properties");
    assert_string_equal(jv_get_str(jv_at(again, 0), "typeElementDeveloperName"), "C - X_1");
    jv_free(values);
    jv_free(types);
    profile_free(p);
}

static void test_describe_existing_clash(void **state)
{
    /* A type of the same name but another shape is already in `types`: ours gets _1. */
    profile *p = parse_ok("{'component':'profile','name':'P','root':{'name':'R','type':'Object','children':["
                          "{'name':'X','type':'Object','children':[{'name':'a','type':'Number'}]}]}}");
    jv *types = js("[{'elementType':'TYPE','developerName':'T REQUEST - X','properties':["
                   "{'developerName':'b','contentType':'ContentNumber','typeElementDeveloperName':null}]}]");
    jv *values = jv_new_array();
    profile_describe(p, "T REQUEST", values, types);
    assert_int_equal(jv_len(types), 2);
    assert_string_equal(jv_get_str(jv_at(types, 1), "developerName"), "T REQUEST - X_1");
    assert_string_equal(jv_get_str(jv_at(values, 0), "typeElementDeveloperName"), "T REQUEST - X_1");
    jv_free(types);
    jv_free(values);
    profile_free(p);
}

/* ---------------------------------------------------------------------------------------- */

static void test_inputs_to_doc(void **state)
{
    profile *p = parse_ok(ORDER_PROFILE);
    jv *inputs = js(
        "[{'developerName':'customer','contentType':'ContentString','contentValue':'Ann','objectData':null},"
        " {'developerName':'Total','contentType':'ContentNumber','contentValue':' 12.50 '},"
        " {'developerName':'Paid','contentType':'ContentBoolean','contentValue':'TRUE'},"
        " {'developerName':'Placed','contentType':'ContentDateTime','contentValue':'2016-09-13T14:08:25.000+01:00'},"
        " {'developerName':'Unknown','contentValue':'ignored'},"
        " {'developerName':'Address','contentType':'ContentObject','objectData':[{'developerName':'Order REQUEST - Address',"
        "    'properties':[{'developerName':'CITY','contentValue':'Oslo'},{'developerName':'Extra','contentValue':'x'}]}]},"
        " {'developerName':'Lines','contentType':'ContentList','objectData':["
        "    {'order':0,'properties':[{'developerName':'Sku','contentValue':'A1'},{'developerName':'Qty','contentValue':'2'},"
        "       {'developerName':'Item','contentType':'ContentObject','objectData':[{'properties':["
        "          {'developerName':'Code','contentValue':'C'},{'developerName':'Fragile','contentValue':'false'}]}]}]},"
        "    {'order':1,'properties':[{'developerName':'Sku','contentValue':'B2'},{'developerName':'Qty','contentValue':''},"
        "       {'developerName':'Item','objectData':null}]},"
        "    {'order':2,'properties':null}]}]");
    jv *doc = NULL;
    sl_error err = {0};
    assert_int_equal(profile_inputs_to_doc(p, inputs, &doc, &err), 0);
    assert_json(doc, "{'Customer':'Ann','Total':12.5,'Paid':true,'Placed':'2016-09-13T13:08:25.000Z',"
                     "'Address':{'City':'Oslo'},"
                     "'Lines':[{'Sku':'A1','Qty':2,'Item':{'Code':'C','Fragile':false}},{'Sku':'B2'},{}]}");
    jv_free(doc);

    /* exact developerName beats a case-insensitive one; empty values are absent */
    jv *in2 = js("[{'developerName':'total','contentValue':'1'},{'developerName':'Total','contentValue':'2'},"
                 "{'developerName':'Paid','contentValue':''},{'developerName':'Placed','contentValue':null},"
                 "{'developerName':'Customer','contentValue':''},{'developerName':'Address','objectData':[]},"
                 "{'developerName':'Lines','objectData':[]}]");
    assert_int_equal(profile_inputs_to_doc(p, in2, &doc, &err), 0);
    assert_json(doc, "{'Customer':'','Total':2,'Lines':[]}");
    jv_free(doc);
    jv_free(in2);

    /* no inputs */
    assert_int_equal(profile_inputs_to_doc(p, NULL, &doc, &err), 0);
    assert_json(doc, "{}");
    jv_free(doc);
    jv *jnull = jv_new_null();
    assert_int_equal(profile_inputs_to_doc(p, jnull, &doc, &err), 0);
    assert_int_equal(jv_obj_size(doc), 0);
    jv_free(doc);
    jv_free(jnull);
    jv_free(inputs);
    profile_free(p);
}

static void expect_input_error(const profile *p, const char *inputs_text, const char *where,
                               const char *msg_part)
{
    jv *inputs = js(inputs_text);
    jv *doc = (jv *)(uintptr_t)0x1;
    sl_error err = {0};
    assert_int_equal(profile_inputs_to_doc(p, inputs, &doc, &err), SL_EINVAL);
    assert_ptr_equal(doc, (jv *)(uintptr_t)0x1);
    assert_int_equal(err.code, SL_EINVAL);
    if (strcmp(err.where, where) != 0 || (msg_part && !strstr(err.msg, msg_part)))
        fail_msg("got %s: %s; expected %s", err.where, err.msg, where);
    jv_free(inputs);
}

static void test_inputs_errors(void **state)
{
    profile *p = parse_ok(ORDER_PROFILE);
    expect_input_error(p, "[{'developerName':'Customer','contentValue':'x'},{'developerName':'Total','contentValue':'12a'}]",
                       "/inputs/1/contentValue", "12a");
    expect_input_error(p, "[{'developerName':'Total','contentValue':'1,5'}]", "/inputs/0/contentValue", "number");
    expect_input_error(p, "[{'developerName':'Total','contentValue':'0x10'}]", "/inputs/0/contentValue", NULL);
    expect_input_error(p, "[{'developerName':'Total','contentValue':'NaN'}]", "/inputs/0/contentValue", NULL);
    expect_input_error(p, "[{'developerName':'Total','contentValue':'1e999'}]", "/inputs/0/contentValue", NULL);
    expect_input_error(p, "[{'developerName':'Total','contentValue':12}]", "/inputs/0/contentValue", "string");
    expect_input_error(p, "[{'developerName':'Paid','contentValue':'yes'}]", "/inputs/0/contentValue", "boolean");
    expect_input_error(p, "[{'developerName':'Placed','contentValue':'13/09/2016'}]", "/inputs/0/contentValue", "date");
    expect_input_error(p, "[{'developerName':'Placed','contentValue':'2016-02-30T00:00:00Z'}]", "/inputs/0/contentValue", NULL);
    expect_input_error(p, "[{'developerName':'Address','objectData':{}}]", "/inputs/0/objectData", "array");
    expect_input_error(p, "[{'developerName':'Address','objectData':[{},{}]}]", "/inputs/0/objectData", "one");
    expect_input_error(p, "[{'developerName':'Address','objectData':[3]}]", "/inputs/0/objectData/0", NULL);
    expect_input_error(p, "[{'developerName':'Address','objectData':[{'properties':{}}]}]",
                       "/inputs/0/objectData/0/properties", NULL);
    expect_input_error(p, "[{'developerName':'Lines','objectData':[{'properties':[]},{'properties':["
                          "{'developerName':'Sku','contentValue':'a'},{'developerName':'Item','objectData':[{'properties':["
                          "{'developerName':'Fragile','contentValue':'maybe'}]}]}]}]}]",
                       "/inputs/0/objectData/1/properties/1/objectData/0/properties/0/contentValue", "maybe");
    expect_input_error(p, "[{'developerName':'Lines','objectData':[{'properties':[7]}]}]",
                       "/inputs/0/objectData/0/properties/0", NULL);
    expect_input_error(p, "['x']", "/inputs/0", NULL);
    expect_input_error(p, "{'a':1}", "/inputs", NULL);
    profile_free(p);
}

/* ---------------------------------------------------------------------------------------- */

static void test_doc_to_outputs(void **state)
{
    profile *p = parse_ok(ORDER_PROFILE);
    jv *doc = js("{'Customer':'Ann','Total':12.5,'Paid':false,'Address':{'City':'Oslo','Zip':'ignored'},"
                 "'Lines':[{'Sku':'A1','Item':{'Code':'C'}}],'NotInProfile':1,'Placed':null}");
    jv *out = NULL;
    sl_error err = {0};
    assert_int_equal(profile_doc_to_outputs(p, "Order RESPONSE", doc, &out, &err), 0);
    assert_json(out,
        "[{'developerName':'Customer','contentType':'ContentString','contentValue':'Ann','objectData':null,'typeElementDeveloperName':null,"
        "  'valueElementId':null,'typeElementId':null,'typeElementPropertyId':null,'typeElementPropertyDeveloperName':null},"
        " {'developerName':'Total','contentType':'ContentNumber','contentValue':'12.5','objectData':null,'typeElementDeveloperName':null,"
        "  'valueElementId':null,'typeElementId':null,'typeElementPropertyId':null,'typeElementPropertyDeveloperName':null},"
        " {'developerName':'Paid','contentType':'ContentBoolean','contentValue':'false','objectData':null,'typeElementDeveloperName':null,"
        "  'valueElementId':null,'typeElementId':null,'typeElementPropertyId':null,'typeElementPropertyDeveloperName':null},"
        " {'developerName':'Address','contentType':'ContentObject','contentValue':null,'typeElementDeveloperName':'Order RESPONSE - Address',"
        "  'valueElementId':null,'typeElementId':null,'typeElementPropertyId':null,'typeElementPropertyDeveloperName':null,"
        "  'objectData':[{'internalId':null,'externalId':null,'developerName':'Order RESPONSE - Address','typeElementId':null,'order':0,'isSelected':false,"
        "     'properties':[{'typeElementPropertyId':null,'developerName':'City','contentType':'ContentString','contentValue':'Oslo','contentFormat':null,'objectData':null}]}]},"
        " {'developerName':'Lines','contentType':'ContentList','contentValue':null,'typeElementDeveloperName':'Order RESPONSE - Lines',"
        "  'valueElementId':null,'typeElementId':null,'typeElementPropertyId':null,'typeElementPropertyDeveloperName':null,"
        "  'objectData':[{'internalId':null,'externalId':null,'developerName':'Order RESPONSE - Lines','typeElementId':null,'order':0,'isSelected':false,"
        "     'properties':[{'typeElementPropertyId':null,'developerName':'Sku','contentType':'ContentString','contentValue':'A1','contentFormat':null,'objectData':null},"
        "                   {'typeElementPropertyId':null,'developerName':'Qty','contentType':'ContentNumber','contentValue':null,'contentFormat':null,'objectData':null},"
        "                   {'typeElementPropertyId':null,'developerName':'Item','contentType':'ContentObject','contentValue':null,'contentFormat':null,"
        "                    'objectData':[{'internalId':null,'externalId':null,'developerName':'Order RESPONSE - Item','typeElementId':null,'order':0,'isSelected':false,"
        "                       'properties':[{'typeElementPropertyId':null,'developerName':'Code','contentType':'ContentString','contentValue':'C','contentFormat':null,'objectData':null},"
        "                                     {'typeElementPropertyId':null,'developerName':'Fragile','contentType':'ContentBoolean','contentValue':null,'contentFormat':null,'objectData':null}]}]}]}]}]");
    jv_free(out);
    jv_free(doc);

    /* type names agree with describe, including suffixes */
    profile *q = parse_ok("{'component':'profile','name':'Q','root':{'name':'R','type':'Object','children':["
                          "{'name':'N','type':'Array','children':[{'name':'N','type':'Object','children':[{'name':'v','type':'Number'}]}]}]}}");
    doc = js("{'N':[{'N':{'v':1}},{'N':{'v':-2.5}}]}");
    assert_int_equal(profile_doc_to_outputs(q, "Q RESPONSE", doc, &out, &err), 0);
    const jv *od = jv_get(jv_at(out, 0), "objectData");
    assert_int_equal(jv_len(od), 2);
    assert_int_equal(jv_int(jv_get(jv_at(od, 1), "order")), 1);
    assert_string_equal(jv_get_str(jv_at(od, 0), "developerName"), "Q RESPONSE - N");
    const jv *inner = jv_get(jv_at(jv_get(jv_at(od, 1), "properties"), 0), "objectData");
    assert_string_equal(jv_get_str(jv_at(inner, 0), "developerName"), "Q RESPONSE - N_1");
    assert_string_equal(jv_get_str(jv_at(jv_get(jv_at(inner, 0), "properties"), 0), "contentValue"), "-2.5");
    jv *values = jv_new_array(), *types = jv_new_array();
    profile_describe(q, "Q RESPONSE", values, types);
    assert_string_equal(jv_get_str(jv_at(types, 1), "developerName"), "Q RESPONSE - N_1");
    jv_free(values);
    jv_free(types);
    jv_free(out);
    jv_free(doc);
    profile_free(q);

    /* empty document / NULL */
    doc = js("{}");
    assert_int_equal(profile_doc_to_outputs(p, "X", doc, &out, &err), 0);
    assert_int_equal(jv_len(out), 0);
    jv_free(out);
    jv_free(doc);
    assert_int_equal(profile_doc_to_outputs(p, "X", NULL, &out, &err), 0);
    assert_int_equal(jv_len(out), 0);
    jv_free(out);
    profile_free(p);
}

static void expect_output_error(const profile *p, const char *doc_text, const char *where)
{
    jv *doc = js(doc_text), *out = (jv *)(uintptr_t)0x1;
    sl_error err = {0};
    assert_int_equal(profile_doc_to_outputs(p, "P RESPONSE", doc, &out, &err), SL_EINVAL);
    assert_ptr_equal(out, (jv *)(uintptr_t)0x1);
    if (strcmp(err.where, where) != 0)
        fail_msg("got %s: %s; expected %s", err.where, err.msg, where);
    jv_free(doc);
}

static void test_doc_to_outputs_errors(void **state)
{
    profile *p = parse_ok(ORDER_PROFILE);
    expect_output_error(p, "{'Customer':5}", "/Customer");
    expect_output_error(p, "{'Total':'5'}", "/Total");
    expect_output_error(p, "{'Paid':'true'}", "/Paid");
    expect_output_error(p, "{'Placed':'yesterday'}", "/Placed");
    expect_output_error(p, "{'Address':[]}", "/Address");
    expect_output_error(p, "{'Address':{'City':1}}", "/Address/City");
    expect_output_error(p, "{'Lines':{}}", "/Lines");
    expect_output_error(p, "{'Lines':[{},7]}", "/Lines/1");
    expect_output_error(p, "{'Lines':[{},{'Item':{'Fragile':'no'}}]}", "/Lines/1/Item/Fragile");
    expect_output_error(p, "[]", "");
    profile_free(p);
}

static void test_round_trip(void **state)
{
    profile *p = parse_ok(ORDER_PROFILE);
    const char *values[][2] = {{"Customer", "Zoë \\u00e9 \\\"q\\\""}, {"Total", "123456789012345678"},
                               {"Paid", "true"}, {"Placed", "2020-01-21T00:00:00.000Z"}};
    buf b;
    buf_init(&b, 1 << 16);
    buf_puts(&b, "[");
    for (size_t i = 0; i < 4; i++)
        buf_printf(&b, "%s{'developerName':'%s','contentType':'%s','contentValue':'%s'}", i ? "," : "",
                   values[i][0], pe_content_type(p->root->children[i]->type), values[i][1]);
    buf_puts(&b, ",{'developerName':'Lines','contentType':'ContentList','objectData':["
                 "{'properties':[{'developerName':'Sku','contentValue':'A'},{'developerName':'Qty','contentValue':'-9223372036854775808'}]},"
                 "{'properties':[{'developerName':'Sku','contentValue':'B'},{'developerName':'Qty','contentValue':'0.1'},"
                 "  {'developerName':'Item','objectData':[{'properties':[{'developerName':'Code','contentValue':'X'},"
                 "  {'developerName':'Fragile','contentValue':'false'}]}]}]}]}]");
    char *t = buf_take(&b);
    jv *inputs = js(t);
    free(t);
    jv *doc = NULL, *out = NULL;
    sl_error err = {0};
    assert_int_equal(profile_inputs_to_doc(p, inputs, &doc, &err), 0);
    assert_int_equal(jv_typeof(jv_get(doc, "Total")), JV_INT);
    assert_true(jv_int(jv_get(doc, "Total")) == 123456789012345678LL);
    assert_int_equal(profile_doc_to_outputs(p, "Order RESPONSE", doc, &out, &err), 0);
    assert_int_equal(jv_len(out), 5);
    for (size_t i = 0; i < 4; i++) {
        const jv *in = jv_at(inputs, i), *o = jv_at(out, i);
        assert_string_equal(jv_get_str(o, "developerName"), jv_get_str(in, "developerName"));
        assert_string_equal(jv_get_str(o, "contentValue"), jv_get_str(in, "contentValue"));
        assert_string_equal(jv_get_str(o, "contentType"), jv_get_str(in, "contentType"));
    }
    const jv *items = jv_get(jv_at(out, 4), "objectData");
    assert_int_equal(jv_len(items), 2);
    const jv *p0 = jv_get(jv_at(items, 0), "properties"), *p1 = jv_get(jv_at(items, 1), "properties");
    assert_string_equal(jv_get_str(jv_at(p0, 1), "contentValue"), "-9223372036854775808");
    assert_string_equal(jv_get_str(jv_at(p1, 1), "contentValue"), "0.1");
    const jv *item = jv_get(jv_at(p1, 2), "objectData");
    assert_string_equal(jv_get_str(jv_at(jv_get(jv_at(item, 0), "properties"), 1), "contentValue"), "false");

    /* and back again: outputs are valid inputs giving the same document */
    jv *doc2 = NULL;
    assert_int_equal(profile_inputs_to_doc(p, out, &doc2, &err), 0);
    assert_true(jv_equal(doc, doc2));
    jv_free(doc2);
    jv_free(doc);
    jv_free(out);
    jv_free(inputs);
    profile_free(p);
}

/* ---------------------------------------------------------------------------------------- */

static void expect_dt(const char *in, const char *want)
{
    char out[25];
    int rc = datetime_normalise(in, out);
    if (!want) {
        if (rc != SL_EINVAL)
            fail_msg("'%s' should be rejected, got %s", in ? in : "(null)", out);
        return;
    }
    if (rc != 0)
        fail_msg("'%s' rejected", in);
    assert_string_equal(out, want);
}

static void test_datetime(void **state)
{
    expect_dt("2016-09-13T14:08:25.000+01:00", "2016-09-13T13:08:25.000Z");
    expect_dt("2020-01-21T00:00:00Z", "2020-01-21T00:00:00.000Z");
    expect_dt("2020-01-21", "2020-01-21T00:00:00.000Z");
    expect_dt("2020-01-21T10:30", "2020-01-21T10:30:00.000Z");
    expect_dt("2020-01-21T10:30Z", "2020-01-21T10:30:00.000Z");
    expect_dt("2020-01-21T10:30:05.1Z", "2020-01-21T10:30:05.100Z");
    expect_dt("2020-01-21T10:30:05.123456789-0530", "2020-01-21T16:00:05.123Z");
    expect_dt("2020-12-31T23:30:00-01:00", "2021-01-01T00:30:00.000Z");
    expect_dt("2020-03-01T00:15:00+00:30", "2020-02-29T23:45:00.000Z");
    expect_dt("2019-03-01T00:15:00+00:30", "2019-02-28T23:45:00.000Z");
    expect_dt("2000-02-29T12:00:00.000Z", "2000-02-29T12:00:00.000Z");
    expect_dt("0000-01-01T05:00:00+04:00", "0000-01-01T01:00:00.000Z");
    expect_dt("9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999Z");
    expect_dt("1970-01-01t00:00:00z", "1970-01-01T00:00:00.000Z");
    expect_dt("2016-09-13T14:08:25.000+01:00 ", NULL);
    expect_dt("1900-02-29", NULL);
    expect_dt("2021-02-29T00:00:00Z", NULL);
    expect_dt("2020-13-01", NULL);
    expect_dt("2020-00-01", NULL);
    expect_dt("2020-01-32", NULL);
    expect_dt("2020-01-01T24:00:00Z", NULL);
    expect_dt("2020-01-01T23:60:00Z", NULL);
    expect_dt("2020-01-01T23:59:60Z", NULL);
    expect_dt("2020-01-01T23:59:59.Z", NULL);
    expect_dt("2020-01-01T23:59:59+1", NULL);
    expect_dt("2020-01-01T23:59:59+01:60", NULL);
    expect_dt("2020-01-01T23:59:59ZZ", NULL);
    expect_dt("2020-01-01T23", NULL);
    expect_dt("2020-01-01Z", NULL);
    expect_dt("2020-1-01", NULL);
    expect_dt("0000-01-01T00:00:00+00:01", NULL);
    expect_dt("9999-12-31T23:59:59-00:01", NULL);
    expect_dt("", NULL);
    expect_dt(NULL, NULL);
}

static void expect_num(const char *text, const char *want_json)
{
    jv *v = number_from_text(text);
    if (!want_json) {
        if (v)
            fail_msg("'%s' should not be a number", text ? text : "(null)");
        return;
    }
    if (!v)
        fail_msg("'%s' rejected", text);
    jv *want = js(want_json);
    if (jv_typeof(v) != jv_typeof(want) || !jv_equal(v, want))
        fail_msg("'%s' gave the wrong value or kind", text);
    jv_free(want);
    jv_free(v);
}

static void test_numbers(void **state)
{
    expect_num("0", "0");
    expect_num("-0", "0");
    expect_num("123456789012345678", "123456789012345678");
    expect_num("9223372036854775807", "9223372036854775807");
    expect_num("-9223372036854775808", "-9223372036854775808");
    expect_num(" 42\t", "42");
    expect_num("1.50", "1.5");
    expect_num("1.0", "1");
    expect_num("1e3", "1000");
    expect_num("12.5e1", "125");
    expect_num("1000e-3", "1");
    expect_num("0.000", "0");
    expect_num("-2.5e-3", "-0.0025");
    expect_num("9223372036854775808", "9223372036854775808.0");
    expect_num("1e19", "1e19");
    expect_num("0.1", "0.1");
    expect_num("1e-400", "0.0");
    expect_num("", NULL);
    expect_num("  ", NULL);
    expect_num("+1", NULL);
    expect_num("01", NULL);
    expect_num("1.", NULL);
    expect_num(".5", NULL);
    expect_num("1e", NULL);
    expect_num("1e+", NULL);
    expect_num("- 1", NULL);
    expect_num("1 2", NULL);
    expect_num("Infinity", NULL);
    expect_num("1e400", NULL);
    expect_num("0x1A", NULL);
    expect_num(NULL, NULL);
    /* very long digit strings */
    char big[400];
    memset(big, '9', 300);
    big[300] = '\0';
    jv *v = number_from_text(big);
    assert_non_null(v);
    assert_int_equal(jv_typeof(v), JV_REAL);
    jv_free(v);
    memset(big, '0', 300);
    memcpy(big, "0.", 2);
    strcpy(big + 300, "1");
    v = number_from_text(big);
    assert_non_null(v);
    assert_int_equal(jv_typeof(v), JV_REAL);
    jv_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_parse_root_type),
        cmocka_unit_test(test_parse_unknown_type),
        cmocka_unit_test(test_parse_duplicate_names),
        cmocka_unit_test(test_parse_children_rules),
        cmocka_unit_test(test_parse_unknown_members),
        cmocka_unit_test(test_parse_component_members),
        cmocka_unit_test(test_parse_every_problem),
        cmocka_unit_test(test_parse_depth),
        cmocka_unit_test(test_parse_too_many_elements),
        cmocka_unit_test(test_parse_null_problems),
        cmocka_unit_test(test_describe_nested),
        cmocka_unit_test(test_describe_dedupe_and_suffix),
        cmocka_unit_test(test_describe_existing_clash),
        cmocka_unit_test(test_inputs_to_doc),
        cmocka_unit_test(test_inputs_errors),
        cmocka_unit_test(test_doc_to_outputs),
        cmocka_unit_test(test_doc_to_outputs_errors),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_datetime),
        cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
