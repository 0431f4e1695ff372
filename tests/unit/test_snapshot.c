/* Unit tests for flow/snapshot: the three public greenlight snapshots (read at run time from
 * $SLUICE_SOURCE_DIR/../shared/conformance/flow-snapshots; skipped when that folder is absent)
 * load with no structural problem, with the right start element, element counts and graph;
 * hand-written snapshots produce each kind of problem at its exact JSON pointer; unknown members
 * are ignored; element types compare case-insensitively; outcomes come sorted by order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/snapshot.h"

/* ---- helpers ---- */

/* Reads a greenlight fixture into *text; returns false (and the test should skip) when the
 * shared folder is not there. */
static bool read_fixture(const char *letter, char **text, size_t *len, char path[512])
{
    const char *root = getenv("SLUICE_SOURCE_DIR");
    if (!root)
        return false;
    snprintf(path, 512, "%s/../shared/conformance/flow-snapshots/greenlight-snapshot%s.json", root, letter);
    if (access(path, R_OK) != 0)
        return false;
    sl_error err = {0};
    if (file_read(path, 1 << 24, text, len, &err) != 0)
        fail_msg("cannot read %s: %s", path, err.msg);
    return true;
}

static flow_snapshot *load_fixture(const char *letter)
{
    char *text = NULL, path[512];
    size_t len = 0;
    if (!read_fixture(letter, &text, &len, path)) {
        print_message("skipped: greenlight-snapshot%s.json not found (set SLUICE_SOURCE_DIR to the repo root "
                      "with ../shared beside it)\n", letter);
        return NULL;
    }
    sl_problems p;
    problems_init(&p);
    flow_snapshot *s = NULL;
    int rc = snapshot_parse_text(text, len, path, &s, &p);
    for (size_t i = 0; i < p.n; i++)
        print_error("%s: %s: %s\n", p.items[i].file, p.items[i].pointer, p.items[i].message);
    assert_int_equal(rc, 0);
    assert_int_equal(p.n, 0);
    assert_non_null(s);
    problems_free(&p);
    free(text);
    return s;
}

/* Parses a hand-written snapshot (structure only). */
static int parse(const char *text, flow_snapshot **s, sl_problems *p)
{
    problems_init(p);
    return snapshot_parse_text(text, strlen(text), "t.json", s, p);
}

/* Asserts the problem list holds exactly the given pointers, in order (NULL-terminated), and that
 * message i contains words[i] when words is given. */
static void expect(const sl_problems *p, const char *const *pointers, const char *const *words)
{
    size_t n = 0;
    while (pointers[n])
        n++;
    if (p->n != n) {
        for (size_t i = 0; i < p->n; i++)
            print_error("  got %s: %s\n", p->items[i].pointer, p->items[i].message);
        fail_msg("expected %zu problems, got %zu", n, p->n);
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p->items[i].pointer, pointers[i]) != 0)
            fail_msg("problem %zu: pointer \"%s\" (%s), expected \"%s\"", i, p->items[i].pointer,
                     p->items[i].message, pointers[i]);
        assert_string_equal(p->items[i].file, "t.json");
        if (words && words[i] && !strstr(p->items[i].message, words[i]))
            fail_msg("problem %zu at %s: \"%s\" lacks \"%s\"", i, pointers[i], p->items[i].message, words[i]);
    }
}

#define PTRS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A minimal valid snapshot; %s slots let tests vary pieces. */
#define MINI_HEAD "{\"id\":{\"id\":\"f1\",\"versionId\":\"v1\"},\"developerName\":\"Mini\",\"startMapElementId\":\"s\","

/* ---- the public fixtures ---- */

static void test_greenlight_a(void **state)
{
    flow_snapshot *s = load_fixture("A");
    if (!s)
        skip();
    assert_string_equal(s->id, "ce99a5a6-d9ce-4763-99fc-73d5e5494051");
    assert_string_equal(s->version_id, "b13e3d11-aa2e-4bc4-aa2e-572a7c6fe3f1");
    assert_string_equal(s->name, "New Flow");
    assert_string_equal(s->start_id, "b2e0de38-680d-47de-a60e-81c30f607c1a");
    assert_int_equal(s->n_map_elements, 2);
    assert_int_equal(s->map_elements[0].kind, SNAP_EL_START);
    assert_int_equal(s->map_elements[1].kind, SNAP_EL_START);
    assert_string_equal(s->map_elements[1].developer_name, "Deleted");
    assert_int_equal(s->n_elements[SNAP_SET_SERVICE], 2);
    assert_int_equal(s->n_elements[SNAP_SET_MACRO], 2);
    assert_int_equal(s->n_elements[SNAP_SET_PAGE], 0);
    assert_int_equal(s->n_elements[SNAP_SET_VALUE], 0);
    assert_int_equal(s->n_elements[SNAP_SET_TYPE], 0);
    assert_int_equal(s->n_elements[SNAP_SET_GROUP], 0);
    assert_int_equal(s->n_elements[SNAP_SET_NAVIGATION], 0);
    assert_int_equal(s->n_elements[SNAP_SET_TAG], 0);
    /* This diffing fixture's start id and its only outcome's target name elements it lacks:
     * the model still loads, the references resolve to NULL and the link check reports both. */
    assert_null(s->start);
    assert_int_equal(s->map_elements[0].n_outcomes, 1);
    assert_null(s->map_elements[0].outcomes[0].next);
    assert_int_equal(s->map_elements[0].outcomes[0].binding, SNAP_BIND_NO_SAVE);
    sl_problems p;
    problems_init(&p);
    assert_int_equal(snapshot_check_links(s, "t.json", &p), 2);
    expect(&p, PTRS("/startMapElementId", "/mapElements/0/outcomes/0/nextMapElementId"),
           PTRS("b2e0de38-680d-47de-a60e-81c30f607c1a", "f681e254-74d3-4ae3-94ce-d669ba6d169d"));
    problems_free(&p);
    snapshot_free(s);
}

static void check_one_of_everything(flow_snapshot *s)
{
    assert_string_equal(s->id, "f7c18bde-bd15-4e4b-b897-38b8e787f762");
    assert_string_equal(s->version_id, "02ed199b-981d-400f-978a-24c86d23ab75");
    assert_string_equal(s->start_id, "b02b9241-8260-4428-9149-b7c54a190142");
    assert_int_equal(s->n_map_elements, 3);
    assert_int_equal(s->n_elements[SNAP_SET_PAGE], 1);
    assert_int_equal(s->n_elements[SNAP_SET_VALUE], 1);
    assert_int_equal(s->n_elements[SNAP_SET_TYPE], 1);
    assert_int_equal(s->n_elements[SNAP_SET_SERVICE], 2);
    assert_int_equal(s->n_elements[SNAP_SET_NAVIGATION], 1);
    assert_int_equal(s->n_elements[SNAP_SET_GROUP], 1);
    assert_int_equal(s->n_elements[SNAP_SET_MACRO], 2);
    assert_int_equal(s->n_elements[SNAP_SET_TAG], 1);

    /* START → operator → input (page), every reference resolved. */
    const snap_map_element *start = s->start;
    assert_non_null(start);
    assert_ptr_equal(start, snapshot_map_element(s, "B02B9241-8260-4428-9149-B7C54A190142"));
    assert_int_equal(start->kind, SNAP_EL_START);
    assert_string_equal(start->element_type, "START");
    assert_int_equal(start->n_outcomes, 1);
    const snap_outcome *go = &start->outcomes[0];
    assert_string_equal(go->id, "64a16da9-a69b-4e56-bec0-c5b5deae2d46");
    assert_string_equal(go->developer_name, "Go");
    assert_string_equal(go->label, "");
    assert_int_equal(go->order, 0);
    assert_int_equal(go->binding, SNAP_BIND_SAVE);
    assert_ptr_equal(snapshot_outcome(start, go->id), go);

    const snap_map_element *op = go->next;
    assert_non_null(op);
    assert_int_equal(op->kind, SNAP_EL_OPERATOR);
    assert_string_equal(op->element_type, "operator");
    assert_string_equal(op->developer_name, "Operator");
    assert_string_equal(op->group_element_id, "f9960d01-cd03-44e3-b0e7-6b216e217beb");
    assert_non_null(snapshot_element(s, SNAP_SET_GROUP, op->group_element_id));
    assert_int_equal(op->n_outcomes, 1);
    assert_string_equal(op->outcomes[0].developer_name, "Done");

    const snap_map_element *page = op->outcomes[0].next;
    assert_non_null(page);
    assert_int_equal(page->kind, SNAP_EL_INPUT);
    assert_string_equal(page->element_type, "input");
    assert_int_equal(page->n_outcomes, 0);
    const snap_element *layout = snapshot_element(s, SNAP_SET_PAGE, page->page_element_id);
    assert_non_null(layout);
    assert_string_equal(layout->element_type, "PAGE_LAYOUT");
    assert_string_equal(layout->developer_name, "Page");

    const snap_element *value = snapshot_element(s, SNAP_SET_VALUE, "24e855f4-7dc6-44e4-a97e-66cbec09817c");
    assert_non_null(value);
    assert_string_equal(value->developer_name, "Value");
    assert_null(snapshot_element(s, SNAP_SET_TYPE, "24e855f4-7dc6-44e4-a97e-66cbec09817c"));

    sl_problems p;
    problems_init(&p);
    assert_int_equal(snapshot_check_links(s, "t.json", &p), 0);
    problems_free(&p);
}

static void test_greenlight_b(void **state)
{
    flow_snapshot *s = load_fixture("B");
    if (!s)
        skip();
    assert_string_equal(s->name, "One of Everything - updated");
    check_one_of_everything(s);
    snapshot_free(s);
}

static void test_greenlight_c(void **state)
{
    flow_snapshot *s = load_fixture("C");
    if (!s)
        skip();
    assert_string_equal(s->name, "CORE-4734: One of Everything");
    check_one_of_everything(s);
    assert_string_equal(snapshot_element(s, SNAP_SET_SERVICE, "3e3228fa-a340-4cb4-977d-cea354d2c40f")->developer_name,
                        "ManyWho Runtime Service - updated");
    snapshot_free(s);
}

/* ---- hand-written snapshots ---- */

static void test_minimal_and_unknown_members(void **state)
{
    flow_snapshot *s = NULL;
    sl_problems p;
    /* Unknown members at every level are ignored; null optional members are fine. */
    const char *text = "{\"id\":\"plain-id\",\"developerName\":\"Mini\",\"startMapElementId\":\"S\","
                       "\"futureThing\":{\"x\":[1,2]},\"pageElements\":null,\"tagElements\":[],"
                       "\"mapElements\":[{\"id\":\"s\",\"elementType\":\"start\",\"newField\":true,"
                       "\"developerName\":null,\"outcomes\":[{\"id\":\"o\",\"nextMapElementId\":\"e\","
                       "\"whatever\":7,\"pageActionBindingType\":null,\"order\":null}]},"
                       "{\"id\":\"e\",\"elementType\":\"Step\",\"outcomes\":null}]}";
    assert_int_equal(parse(text, &s, &p), 0);
    expect(&p, PTRS(NULL), NULL);
    assert_string_equal(s->id, "plain-id");
    assert_null(s->version_id);
    assert_non_null(s->start); /* "S" finds "s": ids compare case-insensitively */
    assert_string_equal(s->start->id, "s");
    assert_string_equal(s->start->developer_name, "");
    assert_int_equal(s->start->outcomes[0].binding, SNAP_BIND_SAVE);
    assert_ptr_equal(s->start->outcomes[0].next, snapshot_map_element(s, "e"));
    assert_int_equal(snapshot_map_element(s, "e")->kind, SNAP_EL_STEP);
    assert_null(snapshot_map_element(s, "nope"));
    assert_null(snapshot_map_element(s, NULL));
    assert_int_equal(snapshot_check_links(s, "t.json", &p), 0);
    /* The model holds its own copy of the document. */
    assert_true(jv_is_object(s->json));
    assert_non_null(jv_get(s->json, "futureThing"));
    snapshot_free(s);
    problems_free(&p);
}

static void test_not_object_and_syntax(void **state)
{
    flow_snapshot *s = NULL;
    sl_problems p;
    assert_int_equal(parse("[1]", &s, &p), SL_EINVAL);
    assert_null(s);
    expect(&p, PTRS(""), PTRS("JSON object"));
    problems_free(&p);

    assert_int_equal(parse("{\"id\":", &s, &p), SL_EINVAL);
    assert_null(s);
    expect(&p, PTRS(""), PTRS("not valid JSON"));
    problems_free(&p);

    /* snapshot_parse accepts NULL problems too. */
    jv *doc = jv_new_array();
    assert_int_equal(snapshot_parse(doc, NULL, &s, NULL), SL_EINVAL);
    assert_null(s);
    jv_free(doc);
}

static void test_missing_required(void **state)
{
    flow_snapshot *s = NULL;
    sl_problems p;
    assert_int_equal(parse("{}", &s, &p), SL_EINVAL);
    assert_null(s);
    expect(&p, PTRS("/id", "/developerName", "/startMapElementId", "/mapElements"),
           PTRS("missing required member \"id\"", "missing", "missing", "missing"));
    problems_free(&p);

    assert_int_equal(parse("{\"id\":{\"versionId\":\"v\"},\"developerName\":\"\",\"startMapElementId\":7,"
                           "\"mapElements\":[{},{\"id\":\"x\",\"elementType\":\"\"}]}",
                           &s, &p),
                     SL_EINVAL);
    expect(&p,
           PTRS("/id/id", "/developerName", "/startMapElementId", "/mapElements/0/id", "/mapElements/0/elementType",
                "/mapElements/1/elementType"),
           PTRS("missing", "empty", "must be a string", "missing", "missing", "empty"));
    problems_free(&p);

    /* Outcomes need an id. */
    assert_int_equal(parse(MINI_HEAD "\"mapElements\":[{\"id\":\"s\",\"elementType\":\"START\","
                                     "\"outcomes\":[{\"nextMapElementId\":\"s\"}]}]}",
                           &s, &p),
                     SL_EINVAL);
    expect(&p, PTRS("/mapElements/0/outcomes/0/id"), PTRS("missing"));
    problems_free(&p);
}

static void test_wrong_types(void **state)
{
    flow_snapshot *s = NULL;
    sl_problems p;
    assert_int_equal(parse("{\"id\":5,\"developerName\":\"M\",\"startMapElementId\":\"s\",\"mapElements\":{},"
                           "\"pageElements\":\"x\",\"valueElements\":[3,{\"id\":\"v\",\"developerName\":4}]}",
                           &s, &p),
                     SL_EINVAL);
    expect(&p, PTRS("/id", "/mapElements", "/pageElements", "/valueElements/0", "/valueElements/1/developerName"),
           PTRS("must be an object {id, versionId} or a string", "must be an array", "must be an array",
                "must be an object", "must be a string"));
    problems_free(&p);

    assert_int_equal(parse(MINI_HEAD "\"mapElements\":[\"s\",{\"id\":\"s\",\"elementType\":\"START\","
                                     "\"pageElementId\":1,\"groupElementId\":[],\"outcomes\":[1,"
                                     "{\"id\":\"o\",\"nextMapElementId\":false,\"order\":1.5,\"label\":{},"
                                     "\"pageActionBindingType\":\"MAYBE\",\"comparison\":[]},"
                                     "{\"id\":\"p\",\"order\":\"2\"}]}]}",
                           &s, &p),
                     SL_EINVAL);
    expect(&p,
           PTRS("/mapElements/0", "/mapElements/1/pageElementId", "/mapElements/1/groupElementId",
                "/mapElements/1/outcomes/0", "/mapElements/1/outcomes/1/label",
                "/mapElements/1/outcomes/1/nextMapElementId", "/mapElements/1/outcomes/1/order",
                "/mapElements/1/outcomes/1/pageActionBindingType", "/mapElements/1/outcomes/1/comparison",
                "/mapElements/1/outcomes/2/order"),
           PTRS("map element must be an object", "string", "string", "outcome must be an object", "string", "string",
                "integer", "unknown binding type \"MAYBE\"", "object", "integer"));
    problems_free(&p);
}

static void test_duplicates(void **state)
{
    flow_snapshot *s = NULL;
    sl_problems p;
    assert_int_equal(parse(MINI_HEAD "\"mapElements\":["
                                     "{\"id\":\"s\",\"elementType\":\"START\",\"outcomes\":["
                                     "{\"id\":\"o1\",\"nextMapElementId\":\"a\"},{\"id\":\"O1\",\"nextMapElementId\":\"a\"}]},"
                                     "{\"id\":\"a\",\"elementType\":\"step\"},"
                                     "{\"id\":\"S\",\"elementType\":\"step\"}],"
                                     "\"pageElements\":[{\"id\":\"p\"},{\"id\":\"q\"},{\"id\":\"p\"}],"
                                     "\"valueElements\":[{\"id\":\"p\"}]}",
                           &s, &p),
                     SL_EINVAL);
    assert_null(s);
    /* Same id in different sets is allowed (valueElements "p"); case is ignored ("S", "O1"). */
    expect(&p, PTRS("/mapElements/0/outcomes/1/id", "/mapElements/2/id", "/pageElements/2/id"),
           PTRS("duplicate id \"O1\" (first at /mapElements/0/outcomes/0)", "duplicate id \"S\" (first at /mapElements/0)",
                "duplicate id \"p\" (first at /pageElements/0)"));
    problems_free(&p);
}

static void test_links(void **state)
{
    flow_snapshot *s = NULL;
    sl_problems p;
    const char *text = "{\"id\":{\"id\":\"f\"},\"developerName\":\"L\",\"startMapElementId\":\"gone\","
                       "\"mapElements\":["
                       "{\"id\":\"s\",\"elementType\":\"START\",\"groupElementId\":\"g\",\"outcomes\":["
                       "{\"id\":\"o1\",\"developerName\":\"first\",\"order\":5,\"nextMapElementId\":\"missing\"},"
                       "{\"id\":\"o2\",\"developerName\":\"second\",\"order\":1},"
                       "{\"id\":\"o3\",\"order\":2,\"nextMapElementId\":\"in\"}]},"
                       "{\"id\":\"in\",\"elementType\":\"INPUT\",\"pageElementId\":\"nopage\",\"groupElementId\":\"nogroup\"}],"
                       "\"groupElements\":[{\"id\":\"G\",\"elementType\":\"SWIMLANE\"}]}";
    /* Dangling references are not structural problems: the model loads. */
    assert_int_equal(parse(text, &s, &p), 0);
    assert_null(s->start);
    assert_int_equal(snapshot_check_links(s, "t.json", &p), 5);
    expect(&p,
           PTRS("/startMapElementId", "/mapElements/0/outcomes/0/nextMapElementId",
                "/mapElements/0/outcomes/1/nextMapElementId", "/mapElements/1/pageElementId",
                "/mapElements/1/groupElementId"),
           PTRS("\"gone\" is not a map element", "\"missing\", which is not a map element", "\"second\" has no target",
                "\"nopage\"", "\"nogroup\""));
    /* Outcomes are sorted by order (o2, o3, o1) and keep their array positions. */
    const snap_map_element *e = snapshot_map_element(s, "s");
    assert_string_equal(e->outcomes[0].id, "o2");
    assert_int_equal(e->outcomes[0].index, 1);
    assert_string_equal(e->outcomes[1].id, "o3");
    assert_string_equal(e->outcomes[2].id, "o1");
    assert_null(e->outcomes[0].next);
    assert_ptr_equal(e->outcomes[1].next, snapshot_map_element(s, "IN"));
    assert_ptr_equal(snapshot_outcome(e, "O3"), &e->outcomes[1]);
    assert_null(snapshot_outcome(e, "o4"));
    snapshot_free(s);
    problems_free(&p);
}

static void test_element_kinds(void **state)
{
    static const struct {
        const char *type;
        snap_element_kind kind;
    } cases[] = {
        {"START", SNAP_EL_START},
        {"start", SNAP_EL_START},
        {"Start", SNAP_EL_START},
        {"step", SNAP_EL_STEP},
        {"input", SNAP_EL_INPUT},
        {"Input", SNAP_EL_INPUT},
        {"PAGE", SNAP_EL_PAGE},
        {"decision", SNAP_EL_DECISION},
        {"operator", SNAP_EL_OPERATOR},
        {"message", SNAP_EL_MESSAGE},
        {"DataBase_Load", SNAP_EL_DATABASE_LOAD},
        {"database_save", SNAP_EL_DATABASE_SAVE},
        {"DATABASE_DELETE", SNAP_EL_DATABASE_DELETE},
        {"sub_flow", SNAP_EL_SUB_FLOW},
        {"subflow", SNAP_EL_SUB_FLOW},
        {"wait", SNAP_EL_WAIT},
        {"swimlane", SNAP_EL_UNKNOWN},
        {"STAR", SNAP_EL_UNKNOWN},
        {"STARTS", SNAP_EL_UNKNOWN},
        {"", SNAP_EL_UNKNOWN},
        {NULL, SNAP_EL_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (snapshot_element_kind(cases[i].type) != cases[i].kind)
            fail_msg("elementType \"%s\": kind %d, expected %d", cases[i].type ? cases[i].type : "(null)",
                     (int)snapshot_element_kind(cases[i].type), (int)cases[i].kind);
    assert_string_equal(snapshot_kind_name(SNAP_EL_DATABASE_LOAD), "DATABASE_LOAD");
    assert_string_equal(snapshot_kind_name(SNAP_EL_UNKNOWN), "UNKNOWN");
    assert_string_equal(snapshot_set_member(SNAP_SET_NAVIGATION), "navigationElements");

    /* An unknown elementType is not a problem: the engine decides what to do with it. */
    flow_snapshot *s = NULL;
    sl_problems p;
    assert_int_equal(parse(MINI_HEAD "\"mapElements\":[{\"id\":\"s\",\"elementType\":\"sTaRt\"},"
                                     "{\"id\":\"x\",\"elementType\":\"hologram\"}]}",
                           &s, &p),
                     0);
    assert_int_equal(s->start->kind, SNAP_EL_START);
    assert_string_equal(s->start->element_type, "sTaRt");
    assert_int_equal(snapshot_map_element(s, "x")->kind, SNAP_EL_UNKNOWN);
    snapshot_free(s);
    problems_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greenlight_a),
        cmocka_unit_test(test_greenlight_b),
        cmocka_unit_test(test_greenlight_c),
        cmocka_unit_test(test_minimal_and_unknown_members),
        cmocka_unit_test(test_not_object_and_syntax),
        cmocka_unit_test(test_missing_required),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_element_kinds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
