/* snapshot: parsing and validating Flow snapshots (see snapshot.h).
 *
 * Design: one pass over a private deep copy of the document both validates and fills the model,
 * so every string in the model is borrowed from that copy. Problems are counted by comparing
 * the problem list's size before and after; any structural problem discards the model. Lookups
 * use per-set arrays of positions sorted by id (ASCII case-insensitive), which also make
 * duplicate ids adjacent, so the duplicate check and the index come from the same sort.
 */
#include "flow/snapshot.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- element kinds ---- */

static const struct {
    const char *name;
    snap_element_kind kind;
} kind_names[] = {
    {"START", SNAP_EL_START},
    {"STEP", SNAP_EL_STEP},
    {"INPUT", SNAP_EL_INPUT},
    {"PAGE", SNAP_EL_PAGE},
    {"DECISION", SNAP_EL_DECISION},
    {"OPERATOR", SNAP_EL_OPERATOR},
    {"MESSAGE", SNAP_EL_MESSAGE},
    {"DATABASE_LOAD", SNAP_EL_DATABASE_LOAD},
    {"DATABASE_SAVE", SNAP_EL_DATABASE_SAVE},
    {"DATABASE_DELETE", SNAP_EL_DATABASE_DELETE},
    {"SUB_FLOW", SNAP_EL_SUB_FLOW},
    {"SUBFLOW", SNAP_EL_SUB_FLOW},
    {"WAIT", SNAP_EL_WAIT},
};

snap_element_kind snapshot_element_kind(const char *element_type)
{
    if (!element_type)
        return SNAP_EL_UNKNOWN;
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
        if (str_ieq(element_type, kind_names[i].name))
            return kind_names[i].kind;
    return SNAP_EL_UNKNOWN;
}

const char *snapshot_kind_name(snap_element_kind kind)
{
    for (size_t i = 0; i < sizeof kind_names / sizeof kind_names[0]; i++)
        if (kind_names[i].kind == kind)
            return kind_names[i].name;
    return "UNKNOWN";
}

static const char *const set_members[SNAP_SET_COUNT] = {
    "pageElements", "valueElements", "typeElements", "serviceElements",
    "navigationElements", "groupElements", "macroElements", "tagElements",
};

const char *snapshot_set_member(snap_set set)
{
    return (unsigned)set < SNAP_SET_COUNT ? set_members[set] : "";
}

/* ---- member checks ---- */

typedef struct parse_ctx {
    sl_problems *problems;
    const char *file;
} parse_ctx;

static size_t problem_count(const sl_problems *p)
{
    return p->n + p->dropped;
}

/* Reads an optional string member: absent or null gives fallback; another type is a problem. */
static const char *opt_str(parse_ctx *c, const jv *obj, const char *base, const char *key, const char *fallback)
{
    const jv *v = jv_get(obj, key);
    if (!v || jv_is_null(v))
        return fallback;
    if (!jv_is_string(v)) {
        problems_add_at(c->problems, c->file, base, key, "must be a string, not %s", jv_type_name(jv_typeof(v)));
        return fallback;
    }
    return jv_str(v);
}

/* Reads a required non-empty string member. */
static const char *req_str(parse_ctx *c, const jv *obj, const char *base, const char *key)
{
    const jv *v = jv_get(obj, key);
    if (!v || jv_is_null(v)) {
        problems_add_at(c->problems, c->file, base, key, "missing required member \"%s\"", key);
        return NULL;
    }
    if (!jv_is_string(v)) {
        problems_add_at(c->problems, c->file, base, key, "must be a string, not %s", jv_type_name(jv_typeof(v)));
        return NULL;
    }
    if (jv_str_len(v) == 0) {
        problems_add_at(c->problems, c->file, base, key, "must not be empty");
        return NULL;
    }
    return jv_str(v);
}

/* Reads an optional array member: absent or null gives NULL; another type is a problem. */
static const jv *opt_array(parse_ctx *c, const jv *obj, const char *base, const char *key)
{
    const jv *v = jv_get(obj, key);
    if (!v || jv_is_null(v))
        return NULL;
    if (!jv_is_array(v)) {
        problems_add_at(c->problems, c->file, base, key, "must be an array, not %s", jv_type_name(jv_typeof(v)));
        return NULL;
    }
    return v;
}

/* ---- id indexes ---- */

typedef struct id_sort {
    const char *id;
    size_t doc_pos;   /* position in the document's array (for pointers) */
    size_t model_pos; /* position in the model's array (what the index holds) */
} id_sort;

static int cmp_id_sort(const void *a, const void *b)
{
    const id_sort *x = a, *y = b;
    int r = strcasecmp(x->id, y->id);
    if (r)
        return r;
    return x->doc_pos < y->doc_pos ? -1 : x->doc_pos > y->doc_pos;
}

/* Sorts the n entries of ids (NULL ids, already reported, are skipped; doc_pos[i] is entry i's
 * position in the document) into an index of model positions, and reports each repeated id at
 * base/<doc_pos>/id. Returns the index (*n_out entries; caller frees). */
static size_t *build_index(parse_ctx *c, const char *const *ids, const size_t *doc_pos, size_t n,
                           const char *base, size_t *n_out)
{
    id_sort *tmp = xcalloc(n ? n : 1, sizeof *tmp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (ids[i])
            tmp[k++] = (id_sort){ids[i], doc_pos[i], i};
    qsort(tmp, k, sizeof *tmp, cmp_id_sort);
    size_t *index = xcalloc(k ? k : 1, sizeof *index);
    size_t first = 0;
    for (size_t i = 0; i < k; i++) {
        index[i] = tmp[i].model_pos;
        if (i > 0 && strcasecmp(tmp[i].id, tmp[i - 1].id) == 0) {
            char ptr[96], snip[64];
            snprintf(ptr, sizeof ptr, "%s/%zu", base, tmp[i].doc_pos);
            problems_add_at(c->problems, c->file, ptr, "id", "duplicate id \"%s\" (first at %s/%zu)",
                            str_snip(tmp[i].id, strlen(tmp[i].id), snip), base, tmp[first].doc_pos);
        } else {
            first = i;
        }
    }
    free(tmp);
    *n_out = k;
    return index;
}

/* Binary search over an index of positions: id_at(pos) gives the id at a position and
 * found_at(pos) what to return (both macros defined at the use site). */
#define FIND_BY_ID(index, n, id, id_at)                                                                                \
    do {                                                                                                               \
        size_t lo_ = 0, hi_ = (n);                                                                                     \
        while (lo_ < hi_) {                                                                                            \
            size_t mid_ = lo_ + (hi_ - lo_) / 2;                                                                       \
            int r_ = strcasecmp((id), id_at((index)[mid_]));                                                           \
            if (r_ == 0)                                                                                               \
                return found_at((index)[mid_]);                                                                        \
            if (r_ < 0)                                                                                                \
                hi_ = mid_;                                                                                            \
            else                                                                                                       \
                lo_ = mid_ + 1;                                                                                        \
        }                                                                                                              \
        return NULL;                                                                                                   \
    } while (0)

const snap_map_element *snapshot_map_element(const flow_snapshot *snap, const char *id)
{
    if (!snap || !id)
        return NULL;
#define id_at(pos) (snap->map_elements[pos].id)
#define found_at(pos) (&snap->map_elements[pos])
    FIND_BY_ID(snap->map_index_, snap->map_index_n_, id, id_at);
#undef id_at
#undef found_at
}

const snap_element *snapshot_element(const flow_snapshot *snap, snap_set set, const char *id)
{
    if (!snap || !id || (unsigned)set >= SNAP_SET_COUNT)
        return NULL;
    const snap_element *els = snap->elements[set];
#define id_at(pos) (els[pos].id)
#define found_at(pos) (&els[pos])
    FIND_BY_ID(snap->set_index_[set], snap->set_index_n_[set], id, id_at);
#undef id_at
#undef found_at
}

const snap_outcome *snapshot_outcome(const snap_map_element *el, const char *id)
{
    if (!el || !id)
        return NULL;
    for (size_t i = 0; i < el->n_outcomes; i++)
        if (strcasecmp(el->outcomes[i].id, id) == 0)
            return &el->outcomes[i];
    return NULL;
}

/* ---- parsing ---- */

static int cmp_outcome(const void *a, const void *b)
{
    const snap_outcome *x = a, *y = b;
    if (x->order != y->order)
        return x->order < y->order ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static void parse_outcome(parse_ctx *c, const jv *o, const char *base, snap_outcome *out)
{
    out->json = o;
    out->id = req_str(c, o, base, "id");
    out->developer_name = opt_str(c, o, base, "developerName", "");
    out->label = opt_str(c, o, base, "label", "");
    out->next_id = opt_str(c, o, base, "nextMapElementId", NULL);
    out->page_action_type = opt_str(c, o, base, "pageActionType", "");
    const jv *order = jv_get(o, "order");
    if (order && !jv_is_null(order)) {
        if (!jv_is_number(order) || (jv_typeof(order) == JV_REAL && jv_num(order) != (double)jv_int(order)))
            problems_add_at(c->problems, c->file, base, "order", "must be an integer");
        else
            out->order = jv_int(order);
    }
    const char *bind = opt_str(c, o, base, "pageActionBindingType", "");
    if (bind[0] == '\0' || str_ieq(bind, "SAVE"))
        out->binding = SNAP_BIND_SAVE;
    else if (str_ieq(bind, "NO_SAVE"))
        out->binding = SNAP_BIND_NO_SAVE;
    else if (str_ieq(bind, "PARTIAL_SAVE"))
        out->binding = SNAP_BIND_PARTIAL_SAVE;
    else {
        char snip[64];
        problems_add_at(c->problems, c->file, base, "pageActionBindingType",
                        "unknown binding type \"%s\" (expected SAVE, NO_SAVE or PARTIAL_SAVE)",
                        str_snip(bind, strlen(bind), snip));
    }
    const jv *cmp = jv_get(o, "comparison");
    if (cmp && !jv_is_null(cmp)) {
        if (!jv_is_object(cmp))
            problems_add_at(c->problems, c->file, base, "comparison", "must be an object, not %s",
                            jv_type_name(jv_typeof(cmp)));
        else
            out->comparison = cmp;
    }
}

static void parse_map_element(parse_ctx *c, const jv *e, const char *base, snap_map_element *out)
{
    out->json = e;
    out->id = req_str(c, e, base, "id");
    out->element_type = req_str(c, e, base, "elementType");
    out->kind = snapshot_element_kind(out->element_type);
    out->developer_name = opt_str(c, e, base, "developerName", "");
    out->page_element_id = opt_str(c, e, base, "pageElementId", NULL);
    out->group_element_id = opt_str(c, e, base, "groupElementId", NULL);
    const jv *outs = opt_array(c, e, base, "outcomes");
    size_t n = jv_len(outs);
    if (n == 0)
        return;
    char obase[128];
    snprintf(obase, sizeof obase, "%s/outcomes", base);
    out->outcomes = xcalloc(n, sizeof *out->outcomes);
    const char **ids = xcalloc(n, sizeof *ids);
    for (size_t j = 0; j < n; j++) {
        const jv *o = jv_at(outs, j);
        snap_outcome *oc = &out->outcomes[out->n_outcomes];
        char ptr[160];
        snprintf(ptr, sizeof ptr, "%s/%zu", obase, j);
        if (!jv_is_object(o)) {
            problems_add_at(c->problems, c->file, ptr, NULL, "an outcome must be an object, not %s",
                            jv_type_name(jv_typeof(o)));
            continue;
        }
        oc->index = j;
        parse_outcome(c, o, ptr, oc);
        ids[out->n_outcomes] = oc->id;
        out->n_outcomes++;
    }
    /* Duplicate outcome ids within the element. */
    size_t *pos = xcalloc(out->n_outcomes ? out->n_outcomes : 1, sizeof *pos);
    for (size_t j = 0; j < out->n_outcomes; j++)
        pos[j] = out->outcomes[j].index;
    size_t nidx;
    free(build_index(c, ids, pos, out->n_outcomes, obase, &nidx));
    (void)nidx;
    free(pos);
    free(ids);
    qsort(out->outcomes, out->n_outcomes, sizeof *out->outcomes, cmp_outcome);
}

static void parse_element(parse_ctx *c, const jv *e, const char *base, snap_element *out)
{
    out->json = e;
    out->id = req_str(c, e, base, "id");
    out->element_type = opt_str(c, e, base, "elementType", "");
    out->developer_name = opt_str(c, e, base, "developerName", "");
}

static void parse_flow_id(parse_ctx *c, const jv *doc, flow_snapshot *s)
{
    const jv *id = jv_get(doc, "id");
    if (!id || jv_is_null(id)) {
        problems_add_at(c->problems, c->file, "", "id", "missing required member \"id\"");
    } else if (jv_is_string(id)) {
        s->id = req_str(c, doc, "", "id");
    } else if (jv_is_object(id)) {
        s->id = req_str(c, id, "/id", "id");
        s->version_id = opt_str(c, id, "/id", "versionId", NULL);
    } else {
        problems_add_at(c->problems, c->file, "", "id", "must be an object {id, versionId} or a string, not %s",
                        jv_type_name(jv_typeof(id)));
    }
}

static void resolve_links(flow_snapshot *s)
{
    s->start = snapshot_map_element(s, s->start_id);
    for (size_t i = 0; i < s->n_map_elements; i++) {
        snap_map_element *e = &s->map_elements[i];
        for (size_t j = 0; j < e->n_outcomes; j++)
            e->outcomes[j].next = snapshot_map_element(s, e->outcomes[j].next_id);
    }
}

int snapshot_parse(const jv *doc, const char *file, flow_snapshot **out, sl_problems *problems)
{
    *out = NULL;
    sl_problems local;
    if (!problems) {
        problems_init(&local);
        problems = &local;
    }
    parse_ctx ctx = {problems, file ? file : ""}, *c = &ctx;
    size_t before = problem_count(problems);
    if (!jv_is_object(doc)) {
        problems_add_at(problems, c->file, "", NULL, "a snapshot must be a JSON object, not %s",
                        doc ? jv_type_name(jv_typeof(doc)) : "nothing");
        if (problems == &local)
            problems_free(&local);
        return SL_EINVAL;
    }
    flow_snapshot *s = xcalloc(1, sizeof *s);
    jv *copy = jv_copy(doc);
    s->json = copy;

    parse_flow_id(c, copy, s);
    s->name = req_str(c, copy, "", "developerName");
    s->start_id = req_str(c, copy, "", "startMapElementId");

    const jv *maps = jv_get(copy, "mapElements");
    if (!maps || jv_is_null(maps))
        problems_add_at(problems, c->file, "", "mapElements", "missing required member \"mapElements\"");
    else
        maps = opt_array(c, copy, "", "mapElements");
    size_t n = jv_len(maps);
    s->map_elements = xcalloc(n ? n : 1, sizeof *s->map_elements);
    for (size_t i = 0; i < n; i++) {
        const jv *e = jv_at(maps, i);
        char ptr[64];
        snprintf(ptr, sizeof ptr, "/mapElements/%zu", i);
        if (!jv_is_object(e)) {
            problems_add_at(problems, c->file, ptr, NULL, "a map element must be an object, not %s",
                            jv_type_name(jv_typeof(e)));
            continue;
        }
        snap_map_element *me = &s->map_elements[s->n_map_elements++];
        me->index = i;
        parse_map_element(c, e, ptr, me);
    }

    for (int set = 0; set < SNAP_SET_COUNT; set++) {
        const char *member = set_members[set];
        char base[64];
        snprintf(base, sizeof base, "/%s", member);
        const jv *arr = opt_array(c, copy, "", member);
        size_t m = jv_len(arr);
        s->elements[set] = xcalloc(m ? m : 1, sizeof *s->elements[set]);
        for (size_t i = 0; i < m; i++) {
            const jv *e = jv_at(arr, i);
            char ptr[96];
            snprintf(ptr, sizeof ptr, "%s/%zu", base, i);
            if (!jv_is_object(e)) {
                problems_add_at(problems, c->file, ptr, NULL, "an element must be an object, not %s",
                                jv_type_name(jv_typeof(e)));
                continue;
            }
            snap_element *el = &s->elements[set][s->n_elements[set]++];
            el->index = i;
            parse_element(c, e, ptr, el);
        }
    }

    /* Indexes (and duplicate checks). Elements without a usable id were reported already. */
    {
        size_t nm = s->n_map_elements;
        const char **ids = xcalloc(nm ? nm : 1, sizeof *ids);
        size_t *pos = xcalloc(nm ? nm : 1, sizeof *pos);
        for (size_t i = 0; i < nm; i++) {
            ids[i] = s->map_elements[i].id;
            pos[i] = s->map_elements[i].index;
        }
        s->map_index_ = build_index(c, ids, pos, nm, "/mapElements", &s->map_index_n_);
        free(ids);
        free(pos);
    }
    for (int set = 0; set < SNAP_SET_COUNT; set++) {
        size_t nm = s->n_elements[set];
        const char **ids = xcalloc(nm ? nm : 1, sizeof *ids);
        size_t *pos = xcalloc(nm ? nm : 1, sizeof *pos);
        for (size_t i = 0; i < nm; i++) {
            ids[i] = s->elements[set][i].id;
            pos[i] = s->elements[set][i].index;
        }
        char base[64];
        snprintf(base, sizeof base, "/%s", set_members[set]);
        s->set_index_[set] = build_index(c, ids, pos, nm, base, &s->set_index_n_[set]);
        free(ids);
        free(pos);
    }

    bool bad = problem_count(problems) != before;
    if (problems == &local)
        problems_free(&local);
    if (bad) {
        snapshot_free(s);
        return SL_EINVAL;
    }
    resolve_links(s);
    *out = s;
    return 0;
}

int snapshot_parse_text(const char *text, size_t len, const char *file, flow_snapshot **out,
                        sl_problems *problems)
{
    *out = NULL;
    sl_problems local;
    if (!problems) {
        problems_init(&local);
        problems = &local;
    }
    sl_error err = {0};
    jv *doc = jv_parse(text, len, &err);
    if (!doc) {
        problems_add(problems, file ? file : "", "", "not valid JSON: %s (%s)", err.msg, err.where);
        if (problems == &local)
            problems_free(&local);
        return SL_EINVAL;
    }
    int rc = snapshot_parse(doc, file, out, problems);
    jv_free(doc);
    if (problems == &local)
        problems_free(&local);
    return rc;
}

size_t snapshot_check_links(const flow_snapshot *s, const char *file, sl_problems *problems)
{
    if (!s || !problems)
        return 0;
    file = file ? file : "";
    size_t added = 0;
    char snip[64], ptr[96];
    if (!s->start) {
        problems_add(problems, file, "/startMapElementId", "start element \"%s\" is not a map element",
                     str_snip(s->start_id, strlen(s->start_id), snip));
        added++;
    }
    for (size_t i = 0; i < s->n_map_elements; i++) {
        const snap_map_element *e = &s->map_elements[i];
        snprintf(ptr, sizeof ptr, "/mapElements/%zu", e->index);
        /* Report in document order: outcomes are sorted by order, so walk by array position. */
        for (size_t want = 0, done = 0; done < e->n_outcomes; want++) {
            for (size_t j = 0; j < e->n_outcomes; j++) {
                const snap_outcome *o = &e->outcomes[j];
                if (o->index != want)
                    continue;
                done++;
                char optr[128];
                snprintf(optr, sizeof optr, "%s/outcomes/%zu", ptr, o->index);
                if (!o->next_id) {
                    problems_add_at(problems, file, optr, "nextMapElementId", "outcome \"%s\" has no target",
                                    str_snip(o->developer_name, strlen(o->developer_name), snip));
                    added++;
                } else if (!o->next) {
                    problems_add_at(problems, file, optr, "nextMapElementId",
                                    "outcome points to \"%s\", which is not a map element",
                                    str_snip(o->next_id, strlen(o->next_id), snip));
                    added++;
                }
            }
        }
        if (e->page_element_id && !snapshot_element(s, SNAP_SET_PAGE, e->page_element_id)) {
            problems_add_at(problems, file, ptr, "pageElementId", "page \"%s\" is not a page element",
                            str_snip(e->page_element_id, strlen(e->page_element_id), snip));
            added++;
        }
        if (e->group_element_id && !snapshot_element(s, SNAP_SET_GROUP, e->group_element_id)) {
            problems_add_at(problems, file, ptr, "groupElementId", "group \"%s\" is not a group element",
                            str_snip(e->group_element_id, strlen(e->group_element_id), snip));
            added++;
        }
    }
    return added;
}

void snapshot_free(flow_snapshot *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n_map_elements; i++)
        free(s->map_elements[i].outcomes);
    free(s->map_elements);
    free(s->map_index_);
    for (int set = 0; set < SNAP_SET_COUNT; set++) {
        free(s->elements[set]);
        free(s->set_index_[set]);
    }
    jv_free((jv *)s->json);
    free(s);
}
