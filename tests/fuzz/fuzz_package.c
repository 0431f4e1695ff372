/* fuzz_package: the package import transformation (package_transform: binding to a tenant's
 * services and types, id remapping, uriMapping), the export and the draw API's snapshot assembly
 * on arbitrary JSON.
 *
 * Input layout: byte 0 is a control byte, the rest is JSON (nothing more happens when it does
 * not parse). The control byte picks:
 *   bits 0-1  remapIds: 0 no, 1 yes, 2 default with a target tenant other than any source,
 *             3 default with the target tenant equal to the document's package.sourceTenant;
 *   bit 2     the target tenant holds a fixed set of elements (services "Upload" and "Mail",
 *             types "Card" (twice, one owned by Upload) and "Person", a value "Region" that
 *             Upload's configuration references), else none;
 *   bit 3     a fixed uriMapping (an exact key and a prefix key);
 *   bit 4     the fuzzed JSON itself is also the target's elements (its "service", "type", …
 *             members), instead of the fixed set;
 *   bit 5     also assemble a snapshot from the document as draft, flow and pool;
 *   bit 6     bind forced on (otherwise the default: on for a document with a "package" object).
 *
 * Oracles (abort on violation):
 *   - a document that is not an object or has no flow id is refused with SL_EINVAL, a message
 *     and a pointer; anything else succeeds, and the result dumps and parses back equal;
 *   - the result never holds "package" or "options"; remapping happens exactly when asked, or by
 *     default when package.sourceTenant names another tenant;
 *   - without a target and a uriMapping, the result has the input's exact shape: every string
 *     is unchanged except, when remapping, the ids the document defines (computed here
 *     independently: the flow id, and the "id" of every object in the element arrays not under
 *     a member named "...Id", reserved ids excepted), each replaced by a fresh UUID, the same
 *     id (ignoring case) always by the same UUID and different ids by different ones; members
 *     that are names, labels, enumerations, URIs or code are never touched;
 *   - with the fixed target and binding on, every service in the result that bears a target
 *     service's name is exactly the target's element, and every "bound" entry names a target
 *     element of its kind; with binding off nothing is bound;
 *   - with remapping, the fixed (or no) target, an input that is a valid snapshot and defines
 *     no id twice (ignoring case): the result is a valid snapshot with as many dangling links;
 *   - an export carries the package member and no service password or ContentPassword default,
 *     and imported back into its source tenant (no target, no mapping) gives the export without
 *     its package member;
 *   - assembling from the document keeps its map elements and only takes elements of the pool.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/package.h"
#include "flow/snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "fuzz_package: oracle failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);                  \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

/* The fixed target tenant, written with ' for JSON's ". */
static const char TARGET[] =
    "{'service':["
    " {'id':'t-svc-upload','elementType':'SERVICE','developerName':'Upload','uri':'http://target.example/fs/upload',"
    "  'httpAuthenticationUsername':'tu','httpAuthenticationPassword':'tp','actions':[],"
    "  'configurationValues':[{'developerName':'Region','contentType':'ContentString',"
    "   'valueElementToReferenceId':{'id':'T-VAL-REGION','typeElementPropertyId':null,'command':null}}]},"
    " {'id':'t-svc-mail','elementType':'SERVICE','developerName':'Mail','uri':'http://target.example/mail'}],"
    "'type':["
    " {'id':'t-type-card2','elementType':'TYPE','developerName':'Card','properties':[]},"
    " {'id':'t-type-card','elementType':'TYPE','developerName':'Card','serviceElementId':'t-svc-upload',"
    "  'properties':[{'id':'t-prop-text','developerName':'Text','contentType':'ContentString'},"
    "   {'id':'t-prop-who','developerName':'Who','contentType':'ContentObject','typeElementId':'t-type-person'}],"
    "  'bindings':[{'id':'t-bind-card','developerName':'Card binding','serviceElementId':'t-svc-upload'}]},"
    " {'id':'t-type-person','elementType':'TYPE','developerName':'Person',"
    "  'properties':[{'id':'t-prop-name','developerName':'Name','contentType':'ContentString'}]}],"
    "'value':[{'id':'t-val-region','elementType':'VARIABLE','developerName':'Region','contentType':'ContentString',"
    " 'defaultContentValue':'eu'}]}";

static const char MAPPING[] =
    "{'http://old.example/fs/':'http://new.example/x','http://old.example/fs/upload':'http://exact.example/up/'}";

static const char *const MEMBERS[] = {"mapElements",  "groupElements",      "pageElements",
                                      "valueElements", "typeElements",       "serviceElements",
                                      "navigationElements", "macroElements", "tagElements"};
#define NMEMBERS (sizeof MEMBERS / sizeof MEMBERS[0])

static const char *const RESERVED[] = {"318b0f3a-a570-4c5d-835c-21c1eeb17787", "ee6c8827-11e2-486d-b5fa-4d1a0cbb77a3",
                                       "03dc41dd-1c6b-4b33-bf61-cbd1d0778fff"};

static jv *parse_quoted(const char *text)
{
    char *t = strdup(text);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    sl_error err = {0};
    jv *v = jv_parse(t, strlen(t), &err);
    free(t);
    CHECK(v);
    return v;
}

/* A string usable as an id: no embedded NUL. */
static const char *plain(const jv *v)
{
    if (!jv_is_string(v))
        return NULL;
    return strlen(jv_str(v)) == jv_str_len(v) ? jv_str(v) : NULL;
}

static bool reserved(const char *s)
{
    for (size_t i = 0; i < sizeof RESERVED / sizeof RESERVED[0]; i++)
        if (str_ieq(s, RESERVED[i]))
            return true;
    return false;
}

/* ---- a small list of strings (case-insensitive lookups; linear is fine at fuzz sizes) ---- */

typedef struct strlist {
    char **a, **b; /* b: a paired value (may be NULL) */
    size_t n, cap;
    size_t dups;   /* adds of a key already present */
} strlist;

static long sl_find(const strlist *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (str_ieq(l->a[i], s))
            return (long)i;
    return -1;
}

static void sl_add(strlist *l, const char *s, const char *pair)
{
    if (sl_find(l, s) >= 0) {
        l->dups++;
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->a = realloc(l->a, l->cap * sizeof *l->a);
        l->b = realloc(l->b, l->cap * sizeof *l->b);
    }
    l->a[l->n] = strdup(s);
    l->b[l->n] = pair ? strdup(pair) : NULL;
    l->n++;
}

static void sl_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->a[i]);
        free(l->b[i]);
    }
    free(l->a);
    free(l->b);
    memset(l, 0, sizeof *l);
}

static bool ends_id(const char *k)
{
    size_t n = strlen(k);
    return n >= 2 && strcmp(k + n - 2, "Id") == 0;
}

/* The ids an element defines (see the oracles). */
static void defs_of(const jv *v, bool in_ref, strlist *defs, int depth)
{
    if (depth > 200)
        return;
    if (jv_is_array(v)) {
        for (size_t i = 0; i < jv_len(v); i++)
            defs_of(jv_at(v, i), in_ref, defs, depth + 1);
        return;
    }
    if (!jv_is_object(v))
        return;
    const char *id = plain(jv_get(v, "id"));
    if (!in_ref && id && *id && !reserved(id))
        sl_add(defs, id, NULL);
    for (void *it = jv_obj_iter(v); it; it = jv_obj_next(v, it))
        defs_of(jv_obj_value(it), in_ref || ends_id(jv_obj_key(it)), defs, depth + 1);
}

static const char *flow_id(const jv *doc)
{
    const jv *id = jv_get(doc, "id");
    return jv_is_object(id) ? plain(jv_get(id, "id")) : plain(id);
}

static bool is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

/* Walks in and out in parallel: same shape; strings unchanged unless an id being remapped
 * (outside frozen members), then a UUID given consistently (map: id → uuid, rev: uuid → id). */
static void same_shape(const jv *in, const jv *out, bool frozen, const strlist *defs, strlist *map, strlist *rev,
                       int depth)
{
    CHECK(jv_typeof(in) == jv_typeof(out));
    switch (jv_typeof(in)) {
    case JV_STRING: {
        const char *s = plain(in);
        if (frozen || !s || !*s || sl_find(defs, s) < 0) {
            CHECK(jv_equal(in, out));
            return;
        }
        const char *o = plain(out);
        CHECK(is_uuid(o));
        long i = sl_find(map, s);
        if (i >= 0)
            CHECK(strcmp(map->b[i], o) == 0);
        else
            sl_add(map, s, o);
        long r = sl_find(rev, o);
        if (r >= 0)
            CHECK(str_ieq(rev->b[r], s));
        else
            sl_add(rev, o, s);
        return;
    }
    case JV_ARRAY:
        CHECK(jv_len(in) == jv_len(out));
        for (size_t i = 0; i < jv_len(in) && depth < 200; i++)
            same_shape(jv_at(in, i), jv_at(out, i), frozen, defs, map, rev, depth + 1);
        return;
    case JV_OBJECT: {
        CHECK(jv_obj_size(in) == jv_obj_size(out));
        for (void *it = jv_obj_iter(in); it && depth < 200; it = jv_obj_next(in, it)) {
            const jv *o = jv_get(out, jv_obj_key(it));
            CHECK(o);
            same_shape(jv_obj_value(it), o, frozen || package_never_ref(jv_obj_key(it)), defs, map, rev, depth + 1);
        }
        return;
    }
    default:
        CHECK(jv_equal(in, out));
    }
}

/* The document without its "package" and "options" members (new reference). */
static jv *without_package(const jv *doc)
{
    jv *o = jv_new_object();
    for (void *it = jv_obj_iter(doc); it; it = jv_obj_next(doc, it))
        if (strcmp(jv_obj_key(it), "package") != 0 && strcmp(jv_obj_key(it), "options") != 0)
            jv_set(o, jv_obj_key(it), jv_obj_value(it));
    return o;
}

static bool contains_equal(const jv *arr, const jv *x)
{
    for (size_t i = 0; i < jv_len(arr); i++)
        if (jv_equal(jv_at(arr, i), x))
            return true;
    return false;
}

static size_t links_of(const jv *doc, bool *valid)
{
    flow_snapshot *s = NULL;
    sl_problems p;
    problems_init(&p);
    *valid = snapshot_parse(doc, "", &s, &p) == 0;
    size_t n = *valid ? snapshot_check_links(s, "", &p) : 0;
    snapshot_free(s);
    problems_free(&p);
    return n;
}

static void check_export(const jv *doc)
{
    if (!jv_is_object(doc) || !flow_id(doc) || !*flow_id(doc))
        return;
    jv *exp = package_export(doc, "tenant-src", "version-1", 0);
    const jv *pkg = jv_get(exp, "package");
    CHECK(str_eq(jv_get_str(pkg, "format"), PACKAGE_FORMAT));
    CHECK(str_eq(jv_get_str(pkg, "sourceTenant"), "tenant-src"));
    const jv *svcs = jv_get(exp, "serviceElements");
    for (size_t i = 0; i < jv_len(svcs); i++)
        if (jv_is_object(jv_at(svcs, i)))
            CHECK(jv_is_null(jv_get(jv_at(svcs, i), "httpAuthenticationPassword")));
    const jv *vals = jv_get(exp, "valueElements");
    for (size_t i = 0; i < jv_len(vals); i++) {
        const jv *v = jv_at(vals, i);
        if (jv_is_object(v) && str_ieq(jv_get_str(v, "contentType"), "ContentPassword"))
            CHECK(jv_is_null(jv_get(v, "defaultContentValue")));
    }
    package_options o = {.remap_ids = -1};
    package_result r;
    sl_error err = {0};
    CHECK(package_transform(exp, "TENANT-SRC", &o, NULL, &r, &err) == 0);
    CHECK(!r.remapped);
    jv *plainexp = without_package(exp);
    CHECK(jv_equal(r.doc, plainexp));
    jv_free(plainexp);
    package_result_free(&r);
    jv_free(exp);
}

static void check_assemble(const jv *doc)
{
    if (!jv_is_object(doc))
        return;
    jv *flow = jv_new_object(), *pool = jv_new_object();
    if (jv_get(doc, "mapElements"))
        jv_set(flow, "map", jv_get(doc, "mapElements"));
    if (jv_get(doc, "groupElements"))
        jv_set(flow, "group", jv_get(doc, "groupElements"));
    static const char *const kinds[] = {"page", "value", "type", "service", "navigation", "macro", "tag"};
    static const char *const members[] = {"pageElements",       "valueElements", "typeElements", "serviceElements",
                                          "navigationElements", "macroElements", "tagElements"};
    for (size_t k = 0; k < 7; k++)
        if (jv_get(doc, members[k]))
            jv_set(pool, kinds[k], jv_get(doc, members[k]));
    jv *out = package_assemble(doc, flow, pool, "v-fuzz");
    CHECK(jv_is_object(out));
    CHECK(str_eq(jv_get_str(jv_get(out, "id"), "versionId"), "v-fuzz"));
    CHECK(!jv_get(out, "editingToken"));
    const jv *maps = jv_get(doc, "mapElements");
    CHECK(jv_equal(jv_get(out, "mapElements"), jv_is_array(maps) ? maps : jv_get(out, "mapElements")));
    if (!jv_is_array(maps))
        CHECK(jv_len(jv_get(out, "mapElements")) == 0);
    for (size_t k = 0; k < 7; k++) {
        const jv *arr = jv_get(out, members[k]);
        CHECK(jv_is_array(arr));
        const jv *from = jv_get(pool, kinds[k]);
        CHECK(jv_len(arr) <= jv_len(from));
        for (size_t i = 0; i < jv_len(arr); i++)
            CHECK(contains_equal(from, jv_at(arr, i)));
    }
    sl_problems p;
    problems_init(&p);
    package_check_refs(out, "", &p);
    problems_free(&p);
    jv_free(package_summary(out));
    jv_free(package_header(out));
    jv_free(out);
    jv_free(flow);
    jv_free(pool);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t ctl = data[0];
    sl_error err = {0};
    jv *doc = jv_parse((const char *)data + 1, size - 1, &err);
    if (!doc)
        return 0;

    int mode = ctl & 3;
    bool fixed_target = (ctl & 4) != 0, mapping = (ctl & 8) != 0, fuzzed_target = (ctl & 16) != 0;
    const char *src = plain(jv_get(jv_get(doc, "package"), "sourceTenant"));
    const char *tenant = mode == 3 && src ? src : "tenant-target";
    jv *target = fuzzed_target ? jv_incref(doc) : fixed_target ? parse_quoted(TARGET) : NULL;
    jv *map = mapping ? parse_quoted(MAPPING) : NULL;
    package_options o = {.remap_ids = mode == 0 ? 0 : mode == 1 ? 1 : -1, .bind = (ctl & 64) ? 1 : -1,
                         .uri_mapping = map};
    bool binding = (ctl & 64) || (jv_is_object(doc) && jv_is_object(jv_get(doc, "package")));

    package_result r;
    int rc = package_transform(doc, tenant, &o, target, &r, &err);
    const char *fid = jv_is_object(doc) ? flow_id(doc) : NULL;
    if (!jv_is_object(doc) || !fid || !*fid) {
        CHECK(rc == SL_EINVAL);
        CHECK(err.msg[0]);
        CHECK(err.where[0] == '\0' || err.where[0] == '/');
        CHECK(!r.doc);
        goto done;
    }
    CHECK(rc == 0);
    CHECK(jv_is_object(r.doc) && r.flow_id && *r.flow_id);
    CHECK(!jv_get(r.doc, "package") && !jv_get(r.doc, "options"));
    bool want_remap = mode == 1 || (mode >= 2 && src && *src && !str_ieq(src, tenant));
    CHECK(r.remapped == want_remap);
    {
        char *text = jv_dumps(r.doc);
        jv *back = jv_parse(text, strlen(text), &err);
        CHECK(back && jv_equal(back, r.doc));
        jv_free(back);
        free(text);
    }

    strlist defs = {0};
    sl_add(&defs, fid, NULL);
    for (size_t m = 0; m < NMEMBERS; m++) {
        const jv *arr = jv_get(doc, MEMBERS[m]);
        if (jv_is_array(arr))
            defs_of(arr, false, &defs, 0);
    }

    if (!target && !map) {
        strlist none = {0}, idmap = {0}, rev = {0};
        jv *in = without_package(doc);
        if (!r.remapped) {
            CHECK(jv_equal(in, r.doc));
        } else {
            /* the flow id's replacement comes from id.id; then everything else must agree with it */
            const jv *oid = jv_get(r.doc, "id");
            CHECK(jv_is_object(oid) && is_uuid(jv_get_str(oid, "id")) && is_uuid(jv_get_str(oid, "versionId")));
            sl_add(&idmap, fid, jv_get_str(oid, "id"));
            sl_add(&rev, jv_get_str(oid, "id"), fid);
            CHECK(jv_obj_size(in) == jv_obj_size(r.doc));
            for (void *it = jv_obj_iter(in); it; it = jv_obj_next(in, it)) {
                const char *key = jv_obj_key(it);
                const jv *ov = jv_get(r.doc, key);
                CHECK(ov);
                if (strcmp(key, "id") == 0)
                    continue;
                same_shape(jv_obj_value(it), ov, package_never_ref(key), r.remapped ? &defs : &none, &idmap, &rev, 0);
            }
            CHECK(jv_len(r.bound) == 0 && jv_len(r.uri_mapped) == 0 && jv_obj_size(r.kept) == 0);
        }
        jv_free(in);
        sl_free(&idmap);
        sl_free(&rev);
    }

    if (!binding)
        CHECK(jv_len(r.bound) == 0);
    if (fixed_target && !fuzzed_target && binding) {
        const jv *tsvcs = jv_get(target, "service");
        const jv *osvcs = jv_get(r.doc, "serviceElements");
        for (size_t i = 0; i < jv_len(osvcs); i++) {
            const jv *s = jv_at(osvcs, i);
            const char *id = plain(jv_get(s, "id")), *name = plain(jv_get(s, "developerName"));
            if (!jv_is_object(s) || !id || !*id || !name)
                continue;
            for (size_t j = 0; j < jv_len(tsvcs); j++)
                if (str_ieq(name, jv_get_str(jv_at(tsvcs, j), "developerName")))
                    CHECK(contains_equal(tsvcs, s));
        }
        for (size_t i = 0; i < jv_len(r.bound); i++) {
            const jv *b = jv_at(r.bound, i);
            const jv *pool = jv_get(target, jv_get_str(b, "kind"));
            bool found = false;
            for (size_t j = 0; j < jv_len(pool); j++)
                found = found || (str_eq(jv_get_str(jv_at(pool, j), "id"), jv_get_str(b, "id")) &&
                                  str_ieq(jv_get_str(jv_at(pool, j), "developerName"), jv_get_str(b, "developerName")));
            CHECK(found);
        }
    }

    if (r.remapped && !fuzzed_target && defs.dups == 0) {
        bool valid_in = false, valid_out = false;
        size_t links_in = links_of(doc, &valid_in);
        if (valid_in) {
            size_t links_out = links_of(r.doc, &valid_out);
            CHECK(valid_out);
            CHECK(links_in == links_out);
        }
    }
    sl_free(&defs);

    jv_free(package_summary(r.doc));
    jv_free(package_header(r.doc));
    {
        sl_problems p;
        problems_init(&p);
        package_check_refs(r.doc, "", &p);
        problems_free(&p);
    }
    package_result_free(&r);

done:
    check_export(doc);
    if (ctl & 32)
        check_assemble(doc);
    jv_free(map);
    jv_free(target);
    jv_free(doc);
    return 0;
}
