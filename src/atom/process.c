/* process: parsing, validation, linking and execution of processes (see process.h).
 *
 * Design: parsing turns the component into an array of shapes whose edges are resolved to shape
 * indices; graph checks (one start, known targets, reachability, no cycles) are iterative so a
 * large process cannot exhaust the stack. Linking resolves profile names and types every map
 * target; it also works out, in topological order, which profile the documents arriving at each
 * shape have, so element paths in decisions, property sets and exceptions can be checked too.
 *
 * Execution walks the graph depth-first with an explicit work stack of (shape, batch). A batch
 * is a reference-counted array of documents, so Branch hands one batch to every branch without
 * copying, and pushing branches in reverse order makes branch 1 (and everything below it) finish
 * before branch 2 starts. Shapes that receive no documents do not run (except start). Documents
 * are never modified in place: Map builds new ones, the other shapes pass references on. All
 * state of an execution lives in an exec struct on the caller's stack.
 */
#include "atom/process.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "atom/script.h"
#include "atom/validate.h"
#include "atom/value.h"

typedef enum {
    SH_START,
    SH_MAP,
    SH_SETPROPERTIES,
    SH_DECISION,
    SH_BRANCH,
    SH_RETURN,
    SH_STOP,
    SH_EXCEPTION,
    SH_WAIT,
    SH_SCRIPT,
    SH_TRYCATCH,
    SH_CONNECTOR,
    SH_INVALID,
} shape_kind;

static const char *const shape_kind_names[] = {
    "start", "map", "setproperties", "decision", "branch", "return", "stop", "exception", "wait",
    "script", "trycatch", "connector", "invalid",
};

/* Members each shape type allows besides id and type (NULL-terminated). */
static const char *const members_start[] = {"id", "type", "connector", "action", "operation", "next", NULL};
static const char *const members_map[] = {"id", "type", "from", "to", "mappings", "next", NULL};
static const char *const members_setprops[] = {"id", "type", "properties", "next", NULL};
static const char *const members_decision[] = {"id", "type", "left", "comparison", "right", "true", "false", NULL};
static const char *const members_branch[] = {"id", "type", "branches", NULL};
static const char *const members_end[] = {"id", "type", NULL};
static const char *const members_exception[] = {"id", "type", "message", "params", NULL};
static const char *const members_wait[] = {"id", "type", "ms", "next", NULL};
static const char *const members_script[] = {"id", "type", "language", "script", "memoryLimitKb",
                                             "instructionLimit", "next", NULL};
static const char *const members_trycatch[] = {"id", "type", "try", "catch", NULL};
static const char *const members_connector[] = {"id", "type", "connection", "operation", "next", NULL};
static const char *const *const shape_members[] = {
    members_start, members_map, members_setprops, members_decision, members_branch, members_end,
    members_end, members_exception, members_wait, members_script, members_trycatch, members_connector,
};

typedef enum {
    CMP_EQUALS,
    CMP_NOT_EQUALS,
    CMP_GREATER,
    CMP_GREATER_EQ,
    CMP_LESS,
    CMP_LESS_EQ,
    CMP_CONTAINS,
    CMP_STARTS_WITH,
    CMP_ENDS_WITH,
    CMP_IS_EMPTY,
    CMP_IS_NOT_EMPTY,
} cmp_kind;

static const char *const cmp_names[] = {
    "equals", "not_equals", "greater_than", "greater_than_or_equal", "less_than", "less_than_or_equal",
    "contains", "starts_with", "ends_with", "is_empty", "is_not_empty",
};
#define NCMP (sizeof cmp_names / sizeof cmp_names[0])

#define NO_SHAPE SIZE_MAX
#define MAX_BRANCHES 25
#define MAX_SHAPE_ID 64
#define MAX_NAME 100
#define SYNC_TIMEOUT_MAX 3600000
#define WAIT_MAX_MS 600000

typedef struct edge {
    char *target; /* shape id as written */
    char *ptr;    /* pointer of the member naming it */
    size_t to;    /* resolved index or NO_SHAPE */
} edge;

typedef struct mapping {
    char *ptr;        /* "/shapes/i/mappings/j" */
    value_path to;
    value *value;
    bool typed;       /* set by link: the target element's type is known */
    pe_type type;
    const char *elem_name;
} mapping;

typedef struct prop_set {
    char *name;
    value *value;
} prop_set;

typedef struct shape {
    char *id;    /* NULL when missing or invalid */
    shape_kind kind;
    char *ptr;   /* "/shapes/i" */
    edge *edges; /* start/map/setproperties: next; decision: true, false; branch: branches */
    size_t nedges;
    /* map */
    char *from_name, *to_name;
    const profile *from, *to;
    mapping *maps;
    size_t nmaps;
    /* setproperties */
    prop_set *props;
    size_t nprops;
    /* decision */
    value *left, *right;
    cmp_kind cmp;
    /* wait */
    int64_t wait_ms;
    /* exception */
    char *message;
    value **params;
    size_t nparams;
    /* script */
    char *script;
    size_t script_len;
    size_t mem_kb;
    int64_t instr_limit;
    /* connector */
    connector_op *op;
} shape;

struct process {
    char *name, *description, *file;
    shape *shapes;
    size_t nshapes;
    size_t start;
    bool have_op;
    process_start_op op;
    bool connections_linked; /* process_link_connections succeeded */
};

/* ------------------------------------------------------------------------------------------ */
/* small helpers                                                                               */










static void add_edge(shape *s, const char *target, const char *ptr)
{
    s->edges = xrealloc(s->edges, (s->nedges + 1) * sizeof *s->edges);
    s->edges[s->nedges++] = (edge){xstrdup(target), xstrdup(ptr), NO_SHAPE};
}

/* An edge member (a shape id). */
static void parse_edge(pctx *c, shape *s, const jv *obj, const char *key)
{
    const char *t = get_str(c, obj, s->ptr, key, true);
    if (t) {
        char *ptr = pointer_join(s->ptr, key);
        add_edge(s, t, ptr);
        free(ptr);
    }
}

static value *parse_value_member(pctx *c, const jv *obj, const char *ptr, const char *key, bool required)
{
    const jv *v = jv_get(obj, key);
    if (!v) {
        if (required)
            problem(c, ptr, NULL, "missing required member \"%s\"", key);
        return NULL;
    }
    char *vp = pointer_join(ptr, key);
    value *val = value_parse(v, c->file, vp, c->pr);
    free(vp);
    return val;
}

/* ------------------------------------------------------------------------------------------ */
/* freeing and accessors                                                                       */

static void shape_free(shape *s)
{
    free(s->id);
    free(s->ptr);
    for (size_t i = 0; i < s->nedges; i++) {
        free(s->edges[i].target);
        free(s->edges[i].ptr);
    }
    free(s->edges);
    free(s->from_name);
    free(s->to_name);
    for (size_t i = 0; i < s->nmaps; i++) {
        free(s->maps[i].ptr);
        value_path_free(&s->maps[i].to);
        value_free(s->maps[i].value);
    }
    free(s->maps);
    for (size_t i = 0; i < s->nprops; i++) {
        free(s->props[i].name);
        value_free(s->props[i].value);
    }
    free(s->props);
    value_free(s->left);
    value_free(s->right);
    free(s->message);
    for (size_t i = 0; i < s->nparams; i++)
        value_free(s->params[i]);
    free(s->params);
    free(s->script);
    if (s->op)
        connector_op_free(s->op);
}

void process_free(process *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nshapes; i++)
        shape_free(&p->shapes[i]);
    free(p->shapes);
    free(p->name);
    free(p->description);
    free(p->file);
    free((char *)p->op.request_profile);
    free((char *)p->op.response_profile);
    free(p);
}

const char *process_name(const process *p)
{
    return p->name;
}

const char *process_file(const process *p)
{
    return p->file;
}

const process_start_op *process_start(const process *p)
{
    return &p->op;
}

/* ------------------------------------------------------------------------------------------ */
/* parsing shapes                                                                              */

static void parse_start(pctx *c, process *p, shape *s, const jv *j)
{
    const char *conn = get_str(c, j, s->ptr, "connector", true);
    if (conn && strcmp(conn, "flowservices") != 0)
        problem(c, s->ptr, "connector", "connector must be \"flowservices\"");
    const char *act = get_str(c, j, s->ptr, "action", true);
    if (act && strcmp(act, "Listen") != 0)
        problem(c, s->ptr, "action", "action must be \"Listen\"");

    const jv *op = jv_get(j, "operation");
    if (!op) {
        problem(c, s->ptr, NULL, "missing required member \"operation\"");
    } else if (!jv_is_object(op)) {
        problem(c, s->ptr, "operation", "operation must be an object");
    } else {
        char *optr = pointer_join(s->ptr, "operation");
        static const char *const known[] = {"serviceType", "requestProfile", "responseProfile", "syncTimeoutMs",
                                            "dataOperation", "fileOperation", "profile", NULL};
        check_members(c, op, optr, known, "an operation");
        const char *st = get_str(c, op, optr, "serviceType", true);
        service_type stype = SERVICE_MESSAGE_ACTION;
        data_operation dop = DATA_OP_NONE;
        file_operation fop = FILE_OP_NONE;
        const char *rq = NULL, *rs = NULL;
        if (st && strcmp(st, "Data Action") == 0) {
            /* Load (Get by id, Query by filter), Save and Delete; the object type's profile is
             * what Save/Delete receive and what Get/Query/Save return. */
            stype = SERVICE_DATA_ACTION;
            const char *d = get_str(c, op, optr, "dataOperation", true);
            dop = !d ? DATA_OP_NONE : strcmp(d, "Get") == 0 ? DATA_OP_GET : strcmp(d, "Query") == 0 ? DATA_OP_QUERY
                  : strcmp(d, "Save") == 0 ? DATA_OP_SAVE : strcmp(d, "Delete") == 0 ? DATA_OP_DELETE : DATA_OP_NONE;
            if (d && dop == DATA_OP_NONE)
                problem(c, optr, "dataOperation", "dataOperation must be \"Get\", \"Query\", \"Save\" or \"Delete\"");
            const char *prof = get_str(c, op, optr, "profile", true);
            rs = prof;
            rq = (dop == DATA_OP_SAVE || dop == DATA_OP_DELETE) ? prof : NULL;
            if (jv_get(op, "requestProfile") || jv_get(op, "responseProfile") || jv_get(op, "fileOperation"))
                problem(c, optr, NULL, "a Data Action operation has dataOperation and profile only");
        } else if (st && strcmp(st, "File Resource") == 0) {
            stype = SERVICE_FILE_RESOURCE;
            const char *f = get_str(c, op, optr, "fileOperation", true);
            fop = !f ? FILE_OP_NONE : strcmp(f, "List Files") == 0 ? FILE_OP_LIST
                  : strcmp(f, "Upload File") == 0 ? FILE_OP_UPLOAD : FILE_OP_NONE;
            if (f && fop == FILE_OP_NONE)
                problem(c, optr, "fileOperation", "fileOperation must be \"List Files\" or \"Upload File\"");
            if (jv_get(op, "requestProfile") || jv_get(op, "responseProfile") || jv_get(op, "profile") ||
                jv_get(op, "dataOperation"))
                problem(c, optr, NULL, "a File Resource operation has fileOperation only");
        } else {
            if (st && strcmp(st, "Message Action") != 0)
                problem(c, optr, "serviceType",
                        "serviceType must be \"Message Action\", \"Data Action\" or \"File Resource\"");
            rq = get_str(c, op, optr, "requestProfile", false);
            rs = get_str(c, op, optr, "responseProfile", false);
            if (jv_get(op, "dataOperation") || jv_get(op, "fileOperation") || jv_get(op, "profile"))
                problem(c, optr, NULL, "a Message Action operation has requestProfile and responseProfile");
        }
        int64_t timeout = 30000;
        const jv *to = jv_get(op, "syncTimeoutMs");
        if (to) {
            if (jv_typeof(to) != JV_INT || jv_int(to) < 1 || jv_int(to) > SYNC_TIMEOUT_MAX)
                problem(c, optr, "syncTimeoutMs", "syncTimeoutMs must be an integer from 1 to %d", SYNC_TIMEOUT_MAX);
            else
                timeout = jv_int(to);
        }
        if (!p->have_op) { /* the first start shape defines the operation */
            p->have_op = true;
            p->op.service_type = stype;
            p->op.data_op = dop;
            p->op.file_op = fop;
            p->op.request_profile = rq ? xstrdup(rq) : NULL;
            p->op.response_profile = rs ? xstrdup(rs) : NULL;
            p->op.sync_timeout_ms = timeout;
        }
        free(optr);
    }
    parse_edge(c, s, j, "next");
}

static void parse_map(pctx *c, shape *s, const jv *j)
{
    const char *from = get_str(c, j, s->ptr, "from", true);
    const char *to = get_str(c, j, s->ptr, "to", true);
    s->from_name = from ? xstrdup(from) : NULL;
    s->to_name = to ? xstrdup(to) : NULL;
    const jv *ms = jv_get(j, "mappings");
    if (!ms) {
        problem(c, s->ptr, NULL, "missing required member \"mappings\"");
    } else if (!jv_is_array(ms)) {
        problem(c, s->ptr, "mappings", "mappings must be an array");
    } else {
        char *mptr = pointer_join(s->ptr, "mappings");
        size_t n = jv_len(ms);
        s->maps = xcalloc(n ? n : 1, sizeof *s->maps);
        for (size_t i = 0; i < n; i++) {
            const jv *mj = jv_at(ms, i);
            mapping *m = &s->maps[s->nmaps++];
            m->ptr = pointer_join_index(mptr, i);
            if (!jv_is_object(mj)) {
                problem(c, m->ptr, NULL, "a mapping must be an object {\"to\": PATH, \"value\": VALUE}");
                continue;
            }
            static const char *const known[] = {"to", "value", NULL};
            check_members(c, mj, m->ptr, known, "a mapping");
            const char *tp = get_str(c, mj, m->ptr, "to", true);
            bool to_ok = false;
            if (tp) {
                char msg[256];
                if (value_path_parse(tp, &m->to, msg, sizeof msg))
                    problem(c, m->ptr, "to", "%s", msg);
                else if (m->to.iter[m->to.nseg - 1])
                    problem(c, m->ptr, "to", "a mapping target must name a field, not an Array item");
                else
                    to_ok = true;
            }
            m->value = parse_value_member(c, mj, m->ptr, "value", true);
            if (to_ok && m->value && value_iterations(m->value) > m->to.niter)
                problem(c, m->ptr, NULL,
                        "the value iterates %zu array level%s (\"[]\") but the target only %zu; each "
                        "\"[]\" of the value needs a matching \"[]\" in \"to\"",
                        value_iterations(m->value), value_iterations(m->value) == 1 ? "" : "s",
                        m->to.niter);
        }
        free(mptr);
    }
    parse_edge(c, s, j, "next");
}

static void parse_wait(pctx *c, shape *s, const jv *j)
{
    const jv *ms = jv_get(j, "ms");
    if (!ms)
        problem(c, s->ptr, NULL, "missing required member \"ms\"");
    else if (jv_typeof(ms) != JV_INT || jv_int(ms) < 1 || jv_int(ms) > WAIT_MAX_MS)
        problem(c, s->ptr, "ms", "ms must be a whole number of milliseconds from 1 to %d", WAIT_MAX_MS);
    else
        s->wait_ms = jv_int(ms);
    parse_edge(c, s, j, "next");
}

static void parse_setproperties(pctx *c, shape *s, const jv *j)
{
    const jv *ps = jv_get(j, "properties");
    if (!ps) {
        problem(c, s->ptr, NULL, "missing required member \"properties\"");
    } else if (!jv_is_array(ps)) {
        problem(c, s->ptr, "properties", "properties must be an array");
    } else {
        char *pptr = pointer_join(s->ptr, "properties");
        size_t n = jv_len(ps);
        s->props = xcalloc(n ? n : 1, sizeof *s->props);
        for (size_t i = 0; i < n; i++) {
            const jv *pj = jv_at(ps, i);
            char *ip = pointer_join_index(pptr, i);
            if (!jv_is_object(pj)) {
                problem(c, ip, NULL, "a property must be an object {\"name\", \"value\": VALUE}");
            } else {
                static const char *const known[] = {"name", "value", NULL};
                check_members(c, pj, ip, known, "a property");
                prop_set *ps1 = &s->props[s->nprops++];
                const char *name = get_str(c, pj, ip, "name", true);
                ps1->name = name ? xstrdup(name) : NULL;
                ps1->value = parse_value_member(c, pj, ip, "value", true);
            }
            free(ip);
        }
        free(pptr);
    }
    parse_edge(c, s, j, "next");
}

static void parse_decision(pctx *c, shape *s, const jv *j)
{
    s->left = parse_value_member(c, j, s->ptr, "left", true);
    const char *cmp = get_str(c, j, s->ptr, "comparison", true);
    bool known = false;
    if (cmp) {
        for (size_t i = 0; i < NCMP; i++)
            if (strcmp(cmp, cmp_names[i]) == 0) {
                s->cmp = (cmp_kind)i;
                known = true;
            }
        if (!known) {
            char sn[64];
            problem(c, s->ptr, "comparison",
                    "unknown comparison \"%s\" (expected equals, not_equals, greater_than, "
                    "greater_than_or_equal, less_than, less_than_or_equal, contains, starts_with, "
                    "ends_with, is_empty or is_not_empty)",
                    snip(cmp, sn));
        }
    }
    bool needs_right = known && s->cmp != CMP_IS_EMPTY && s->cmp != CMP_IS_NOT_EMPTY;
    s->right = parse_value_member(c, j, s->ptr, "right", needs_right);
    parse_edge(c, s, j, "true");
    parse_edge(c, s, j, "false");
}

static void parse_branch(pctx *c, shape *s, const jv *j)
{
    const jv *bs = jv_get(j, "branches");
    if (!bs) {
        problem(c, s->ptr, NULL, "missing required member \"branches\"");
        return;
    }
    if (!jv_is_array(bs) || jv_len(bs) < 2 || jv_len(bs) > MAX_BRANCHES) {
        problem(c, s->ptr, "branches", "branches must be an array of 2 to %d shape ids", MAX_BRANCHES);
        return;
    }
    char *bptr = pointer_join(s->ptr, "branches");
    for (size_t i = 0; i < jv_len(bs); i++) {
        char *ip = pointer_join_index(bptr, i);
        const char *t = plain_str(jv_at(bs, i));
        if (!t || !*t)
            problem(c, ip, NULL, "a branch must be a shape id (non-empty string)");
        else
            add_edge(s, t, ip);
        free(ip);
    }
    free(bptr);
}

/* Highest {n} placeholder in an exception message (0 when none). */
static size_t max_placeholder(const char *msg)
{
    size_t max = 0;
    for (const char *p = msg; *p; p++) {
        if (*p != '{' || p[1] < '0' || p[1] > '9')
            continue;
        size_t n = 0;
        const char *q = p + 1;
        while (*q >= '0' && *q <= '9' && n < 1000000)
            n = n * 10 + (size_t)(*q++ - '0');
        if (*q == '}' && n > max)
            max = n;
    }
    return max;
}

static void parse_exception(pctx *c, shape *s, const jv *j)
{
    const jv *m = jv_get(j, "message");
    if (!m)
        problem(c, s->ptr, NULL, "missing required member \"message\"");
    else if (!plain_str(m))
        problem(c, s->ptr, "message", "message must be a string");
    else
        s->message = xstrdup(jv_str(m));
    const jv *ps = jv_get(j, "params");
    if (ps && !jv_is_array(ps)) {
        problem(c, s->ptr, "params", "params must be an array of values");
    } else if (ps) {
        char *pptr = pointer_join(s->ptr, "params");
        size_t n = jv_len(ps);
        s->params = xcalloc(n ? n : 1, sizeof *s->params);
        for (size_t i = 0; i < n; i++) {
            char *ip = pointer_join_index(pptr, i);
            s->params[s->nparams++] = value_parse(jv_at(ps, i), c->file, ip, c->pr);
            free(ip);
        }
        free(pptr);
    }
    if (s->message) {
        size_t need = max_placeholder(s->message);
        if (need > s->nparams)
            problem(c, s->ptr, "message", "message refers to {%zu} but there %s only %zu param%s", need,
                    s->nparams == 1 ? "is" : "are", s->nparams, s->nparams == 1 ? "" : "s");
    }
}

static void parse_script(pctx *c, shape *s, const jv *j)
{
    const char *lang = get_str(c, j, s->ptr, "language", true);
    if (lang && strcmp(lang, "lua") != 0)
        problem(c, s->ptr, "language", "language must be \"lua\"");
    s->mem_kb = SCRIPT_MEM_DEFAULT_KB;
    const jv *mem = jv_get(j, "memoryLimitKb");
    if (mem) {
        if (jv_typeof(mem) != JV_INT || jv_int(mem) < SCRIPT_MEM_MIN_KB || jv_int(mem) > SCRIPT_MEM_MAX_KB) {
            problem(c, s->ptr, "memoryLimitKb", "memoryLimitKb must be a whole number of KiB from %d to %d",
                    SCRIPT_MEM_MIN_KB, SCRIPT_MEM_MAX_KB);
        } else {
            s->mem_kb = (size_t)jv_int(mem);
        }
    }
    s->instr_limit = SCRIPT_INSTR_DEFAULT;
    const jv *il = jv_get(j, "instructionLimit");
    if (il) {
        if (jv_typeof(il) != JV_INT || jv_int(il) < SCRIPT_INSTR_MIN || jv_int(il) > SCRIPT_INSTR_MAX)
            problem(c, s->ptr, "instructionLimit", "instructionLimit must be a whole number from %d to %lld",
                    SCRIPT_INSTR_MIN, (long long)SCRIPT_INSTR_MAX);
        else
            s->instr_limit = jv_int(il);
    }
    const jv *src = jv_get(j, "script");
    if (!src) {
        problem(c, s->ptr, NULL, "missing required member \"script\"");
    } else if (!jv_is_string(src)) {
        problem(c, s->ptr, "script", "script must be a string of Lua source");
    } else if (jv_str_len(src) > SCRIPT_MAX_SOURCE) {
        problem(c, s->ptr, "script", "script must be at most %zu bytes", SCRIPT_MAX_SOURCE);
    } else {
        s->script_len = jv_str_len(src);
        s->script = xmalloc(s->script_len + 1);
        memcpy(s->script, jv_str(src), s->script_len + 1);
        char msg[512];
        bool lua = lang && strcmp(lang, "lua") == 0;
        /* (with an invalid memoryLimitKb the default cap is used, so a syntax error shows too) */
        int rc = lua ? script_check(s->script, s->script_len, s->mem_kb * 1024, msg, sizeof msg) : 0;
        if (rc)
            problem(c, s->ptr, rc == SL_ETOOBIG ? "memoryLimitKb" : "script", "%s", msg);
    }
    parse_edge(c, s, j, "next");
}

static void parse_connector(pctx *c, shape *s, const jv *j)
{
    connector_op *op = NULL;
    if (connector_op_parse(j, c->file, s->ptr, &op, c->pr) == 0)
        s->op = op;
    parse_edge(c, s, j, "next");
}

static void parse_shape(pctx *c, process *p, shape *s, const jv *j)
{
    s->kind = SH_INVALID;
    if (!jv_is_object(j)) {
        problem(c, s->ptr, NULL, "a shape must be an object");
        return;
    }
    const jv *idv = jv_get(j, "id");
    if (!idv) {
        problem(c, s->ptr, NULL, "missing required member \"id\"");
    } else {
        const char *id = plain_str(idv);
        if (!id || !name_ok(id, MAX_SHAPE_ID))
            problem(c, s->ptr, "id", "id must be a string of 1 to %d characters without control characters",
                    MAX_SHAPE_ID);
        else
            s->id = xstrdup(id);
    }
    const jv *tv = jv_get(j, "type");
    if (!tv) {
        problem(c, s->ptr, NULL, "missing required member \"type\"");
        return;
    }
    const char *type = plain_str(tv);
    for (int k = 0; type && k < SH_INVALID; k++)
        if (strcmp(type, shape_kind_names[k]) == 0)
            s->kind = (shape_kind)k;
    if (s->kind == SH_INVALID) {
        char sn[64];
        problem(c, s->ptr, "type",
                "unknown shape type \"%s\" (expected start, map, setproperties, decision, branch, "
                "return, stop, exception, wait, script, trycatch or connector)",
                type ? snip(type, sn) : "");
        return;
    }
    char what[64];
    snprintf(what, sizeof what, "a %s shape", shape_kind_names[s->kind]);
    check_members(c, j, s->ptr, shape_members[s->kind], what);
    switch (s->kind) {
    case SH_START: parse_start(c, p, s, j); break;
    case SH_MAP: parse_map(c, s, j); break;
    case SH_SETPROPERTIES: parse_setproperties(c, s, j); break;
    case SH_DECISION: parse_decision(c, s, j); break;
    case SH_BRANCH: parse_branch(c, s, j); break;
    case SH_EXCEPTION: parse_exception(c, s, j); break;
    case SH_WAIT: parse_wait(c, s, j); break;
    case SH_SCRIPT: parse_script(c, s, j); break;
    case SH_TRYCATCH:
        parse_edge(c, s, j, "try");
        parse_edge(c, s, j, "catch");
        break;
    case SH_CONNECTOR: parse_connector(c, s, j); break;
    default: break;
    }
}

/* ------------------------------------------------------------------------------------------ */
/* graph checks                                                                                */

typedef struct id_entry {
    const char *id;
    size_t index;
} id_entry;

static int cmp_id_entry(const void *a, const void *b)
{
    const id_entry *x = a, *y = b;
    int r = strcmp(x->id, y->id);
    if (r)
        return r;
    return x->index < y->index ? -1 : x->index > y->index;
}

static void check_graph(pctx *c, process *p)
{
    size_t n = p->nshapes;
    /* ids: sorted for lookup; duplicates are reported at the later shape */
    id_entry *ids = xcalloc(n ? n : 1, sizeof *ids);
    size_t nids = 0;
    for (size_t i = 0; i < n; i++)
        if (p->shapes[i].id)
            ids[nids++] = (id_entry){p->shapes[i].id, i};
    qsort(ids, nids, sizeof *ids, cmp_id_entry);
    size_t w = 0;
    for (size_t i = 0; i < nids; i++) {
        if (w > 0 && strcmp(ids[w - 1].id, ids[i].id) == 0) {
            char sn[64];
            problem(c, p->shapes[ids[i].index].ptr, "id", "duplicate shape id \"%s\" (also at %s)",
                    snip(ids[i].id, sn), p->shapes[ids[w - 1].index].ptr);
            continue;
        }
        ids[w++] = ids[i];
    }
    nids = w;

    /* edges */
    for (size_t i = 0; i < n; i++) {
        shape *s = &p->shapes[i];
        for (size_t k = 0; k < s->nedges; k++) {
            edge *e = &s->edges[k];
            id_entry key = {e->target, 0};
            id_entry *hit = NULL;
            /* bsearch on id only: find any entry with this id */
            size_t lo = 0, hi = nids;
            while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int r = strcmp(ids[mid].id, key.id);
                if (r == 0) {
                    hit = &ids[mid];
                    break;
                }
                if (r < 0)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            if (!hit) {
                char sn[64];
                problem(c, e->ptr, NULL, "unknown shape \"%s\"", snip(e->target, sn));
            } else {
                e->to = hit->index;
            }
        }
    }
    free(ids);

    /* exactly one start */
    size_t nstarts = 0;
    for (size_t i = 0; i < n; i++) {
        if (p->shapes[i].kind != SH_START)
            continue;
        if (nstarts++ == 0)
            p->start = i;
        else
            problem(c, p->shapes[i].ptr, NULL, "a process has exactly one start shape (the first is %s)",
                    p->shapes[p->start].ptr);
    }
    if (nstarts == 0)
        problem(c, "/shapes", NULL, "a process needs a start shape");

    /* cycles: iterative depth-first search with colours (0 new, 1 on the path, 2 done) */
    unsigned char *colour = xcalloc(n ? n : 1, 1);
    size_t *stack_node = xmalloc((n ? n : 1) * sizeof *stack_node);
    size_t *stack_edge = xmalloc((n ? n : 1) * sizeof *stack_edge);
    for (size_t r = 0; r < n; r++) {
        if (colour[r])
            continue;
        size_t sp = 0;
        stack_node[sp] = r;
        stack_edge[sp++] = 0;
        colour[r] = 1;
        while (sp) {
            size_t u = stack_node[sp - 1];
            shape *s = &p->shapes[u];
            if (stack_edge[sp - 1] < s->nedges) {
                edge *e = &s->edges[stack_edge[sp - 1]++];
                if (e->to == NO_SHAPE)
                    continue;
                if (colour[e->to] == 1) {
                    char sn[64];
                    problem(c, e->ptr, NULL, "the edge to \"%s\" closes a cycle", snip(e->target, sn));
                } else if (colour[e->to] == 0) {
                    colour[e->to] = 1;
                    stack_node[sp] = e->to;
                    stack_edge[sp++] = 0;
                }
            } else {
                colour[u] = 2;
                sp--;
            }
        }
    }

    /* reachability from the start */
    if (nstarts == 1) {
        memset(colour, 0, n);
        size_t sp = 0;
        stack_node[sp++] = p->start;
        colour[p->start] = 1;
        while (sp) {
            shape *s = &p->shapes[stack_node[--sp]];
            for (size_t k = 0; k < s->nedges; k++) {
                size_t t = s->edges[k].to;
                if (t != NO_SHAPE && !colour[t]) {
                    colour[t] = 1;
                    stack_node[sp++] = t;
                }
            }
        }
        for (size_t i = 0; i < n; i++)
            if (!colour[i]) {
                char sn[64];
                if (p->shapes[i].id)
                    problem(c, p->shapes[i].ptr, NULL, "shape \"%s\" is not reachable from the start shape",
                            snip(p->shapes[i].id, sn));
                else
                    problem(c, p->shapes[i].ptr, NULL, "shape is not reachable from the start shape");
            }
    }
    free(colour);
    free(stack_node);
    free(stack_edge);
}

static int process_parse_into(const jv *doc, const char *file, process **out, sl_problems *problems);

int process_parse(const jv *doc, const char *file, process **out, sl_problems *problems)
{
    if (problems)
        return process_parse_into(doc, file, out, problems);
    sl_problems local;
    problems_init(&local);
    int rc = process_parse_into(doc, file, out, &local);
    problems_free(&local);
    return rc;
}

static int process_parse_into(const jv *doc, const char *file, process **out, sl_problems *problems)
{
    pctx c = {file ? file : "", problems};
    size_t before = problem_count(problems);
    if (!jv_is_object(doc)) {
        problems_add(problems, c.file, "", "a process component must be a JSON object");
        return SL_EINVAL;
    }
    static const char *const known[] = {"component", "name", "description", "shapes", NULL};
    check_members(&c, doc, "", known, "a process");
    const jv *comp = jv_get(doc, "component");
    if (!comp)
        problem(&c, "", NULL, "missing required member \"component\"");
    else if (!jv_is_string(comp) || strcmp(jv_str(comp), "process") != 0)
        problem(&c, "/component", NULL, "component must be \"process\"");

    process *p = xcalloc(1, sizeof *p);
    p->start = NO_SHAPE;
    p->file = xstrdup(c.file);
    const jv *name = jv_get(doc, "name");
    if (!name)
        problem(&c, "", NULL, "missing required member \"name\"");
    else if (!plain_str(name) || !name_ok(jv_str(name), MAX_NAME))
        problem(&c, "/name", NULL, "name must be a string of 1 to %d characters without control characters",
                MAX_NAME);
    else
        p->name = xstrdup(jv_str(name));
    const jv *desc = jv_get(doc, "description");
    if (desc && !plain_str(desc))
        problem(&c, "/description", NULL, "description must be a string");
    else if (desc)
        p->description = xstrdup(jv_str(desc));

    const jv *shapes = jv_get(doc, "shapes");
    if (!shapes) {
        problem(&c, "", NULL, "missing required member \"shapes\"");
    } else if (!jv_is_array(shapes) || jv_len(shapes) == 0) {
        problem(&c, "/shapes", NULL, "shapes must be a non-empty array");
    } else {
        size_t n = jv_len(shapes);
        p->shapes = xcalloc(n, sizeof *p->shapes);
        for (size_t i = 0; i < n; i++) {
            shape *s = &p->shapes[p->nshapes++];
            s->ptr = pointer_join_index("/shapes", i);
            parse_shape(&c, p, s, jv_at(shapes, i));
        }
        check_graph(&c, p);
    }
    if (problem_count(problems) != before) {
        process_free(p);
        return SL_EINVAL;
    }
    *out = p;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* linking                                                                                     */

static const profile *resolve_profile(pctx *c, profile_lookup_fn lookup, void *ctx, const char *name,
                                      const char *base, const char *token)
{
    if (!name)
        return NULL;
    const profile *pr = lookup ? lookup(ctx, name) : NULL;
    if (!pr) {
        char sn[64];
        problem(c, base, token, "unknown profile \"%s\"", snip(name, sn));
    }
    return pr;
}

static void link_mapping(pctx *c, const shape *s, mapping *m)
{
    if (s->to && s->to->root && m->to.nseg) {
        const profile_elem *e = NULL;
        char msg[256], sn[64];
        if (value_path_resolve(s->to->root, &m->to, &e, msg, sizeof msg)) {
            problem(c, m->ptr, "to", "path \"%s\" does not fit profile \"%s\": %s", snip(m->to.text, sn),
                    s->to->name, msg);
        } else if (e->type == PE_OBJECT || e->type == PE_ARRAY) {
            problem(c, m->ptr, "to", "path \"%s\" names an %s element; map its fields instead",
                    snip(m->to.text, sn), pe_type_name(e->type));
        } else {
            m->typed = true;
            m->type = e->type;
            m->elem_name = e->name;
        }
    }
    if (s->from && m->value)
        value_link(m->value, s->from, c->file, c->pr);
}

/* Static profile of the documents arriving at each shape (NULL when unknown). */
typedef enum { IN_UNSET, IN_KNOWN, IN_UNKNOWN } in_state;

static void merge_incoming(in_state *st, const profile **pr, size_t t, in_state s, const profile *p)
{
    if (st[t] == IN_UNSET) {
        st[t] = s;
        pr[t] = p;
    } else if (st[t] == IN_KNOWN && (s != IN_KNOWN || pr[t] != p)) {
        st[t] = IN_UNKNOWN;
        pr[t] = NULL;
    }
}

static void link_documents(pctx *c, process *p)
{
    size_t n = p->nshapes;
    in_state *st = xcalloc(n, sizeof *st);
    const profile **pr = xcalloc(n, sizeof *pr);
    size_t *indeg = xcalloc(n, sizeof *indeg);
    size_t *queue = xcalloc(n, sizeof *queue);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < p->shapes[i].nedges; k++)
            indeg[p->shapes[i].edges[k].to]++;
    size_t qh = 0, qt = 0;
    queue[qt++] = p->start;
    while (qh < qt) {
        size_t u = queue[qh++];
        shape *s = &p->shapes[u];
        /* check element paths against what arrives here */
        if (st[u] == IN_KNOWN) {
            const profile *in = pr[u];
            if (s->kind == SH_DECISION) {
                value_link(s->left, in, c->file, c->pr);
                if (s->cmp != CMP_IS_EMPTY && s->cmp != CMP_IS_NOT_EMPTY)
                    value_link(s->right, in, c->file, c->pr);
            } else if (s->kind == SH_SETPROPERTIES) {
                for (size_t i = 0; i < s->nprops; i++)
                    value_link(s->props[i].value, in, c->file, c->pr);
            } else if (s->kind == SH_EXCEPTION) {
                for (size_t i = 0; i < s->nparams; i++)
                    value_link(s->params[i], in, c->file, c->pr);
            }
            else if (s->kind == SH_CONNECTOR && s->op) {
                connector_op_link_values(s->op, in, c->file, c->pr);
            }
        }
        in_state os = st[u];
        const profile *op = pr[u];
        if (s->kind == SH_START) {
            os = p->op.request ? IN_KNOWN : IN_UNKNOWN;
            op = p->op.request;
        } else if (s->kind == SH_MAP) {
            os = s->to ? IN_KNOWN : IN_UNKNOWN;
            op = s->to;
        } else if (s->kind == SH_SCRIPT || s->kind == SH_CONNECTOR) {
            os = IN_UNKNOWN; /* they may produce documents of any shape */
            op = NULL;
        }
        for (size_t k = 0; k < s->nedges; k++) {
            size_t t = s->edges[k].to;
            merge_incoming(st, pr, t, os, op);
            if (--indeg[t] == 0)
                queue[qt++] = t;
        }
    }
    free(st);
    free(pr);
    free(indeg);
    free(queue);
}

int process_link(process *p, profile_lookup_fn lookup, void *ctx, sl_problems *problems)
{
    sl_problems local;
    if (!problems) {
        problems_init(&local);
        int rc = process_link(p, lookup, ctx, &local);
        problems_free(&local);
        return rc;
    }
    pctx c = {p->file, problems};
    size_t before = problem_count(problems);
    for (size_t i = 0; i < p->nshapes; i++) {
        shape *s = &p->shapes[i];
        if (s->kind == SH_START && i == p->start) {
            char *optr = pointer_join(s->ptr, "operation");
            bool data = p->op.service_type == SERVICE_DATA_ACTION;
            p->op.response = resolve_profile(&c, lookup, ctx, p->op.response_profile, optr,
                                             data ? "profile" : "responseProfile");
            /* A data action names its profile once: resolve it once, reuse it as the request. */
            if (data && p->op.request_profile)
                p->op.request = p->op.response;
            else
                p->op.request = resolve_profile(&c, lookup, ctx, p->op.request_profile, optr, "requestProfile");
            free(optr);
        } else if (s->kind == SH_MAP) {
            s->from = resolve_profile(&c, lookup, ctx, s->from_name, s->ptr, "from");
            s->to = resolve_profile(&c, lookup, ctx, s->to_name, s->ptr, "to");
            for (size_t k = 0; k < s->nmaps; k++)
                link_mapping(&c, s, &s->maps[k]);
        }
    }
    link_documents(&c, p);
    return problem_count(problems) != before ? SL_EINVAL : 0;
}

int process_link_connections(process *p, connection_lookup_fn lookup, void *ctx, sl_problems *problems)
{
    sl_problems local;
    if (!problems) {
        problems_init(&local);
        int rc = process_link_connections(p, lookup, ctx, &local);
        problems_free(&local);
        return rc;
    }
    size_t before = problem_count(problems);
    for (size_t i = 0; i < p->nshapes; i++)
        if (p->shapes[i].kind == SH_CONNECTOR && p->shapes[i].op)
            connector_op_link(p->shapes[i].op, lookup, ctx, p->file, problems);
    p->connections_linked = problem_count(problems) == before;
    return p->connections_linked ? 0 : SL_EINVAL;
}

/* ------------------------------------------------------------------------------------------ */
/* execution                                                                                   */

/* A reference-counted batch of documents travelling along an edge. */
typedef struct batch {
    jv **docs;
    size_t n;
    size_t refs;
} batch;

/* A trycatch shape's pending try path: the marker sits on the work stack below everything the try
 * path pushes, so when it is popped the try path has finished; a catchable failure unwinds the
 * stack down to the nearest marker instead. */
typedef struct catch_frame {
    size_t shape;     /* the trycatch shape */
    batch *b;         /* the batch as it arrived (one reference) */
    size_t ndocs_ret; /* length of res->documents when the try path began */
} catch_frame;

typedef struct work {
    size_t shape;
    batch *b;
    catch_frame *cf; /* non-NULL: a marker (b unused) */
} work;

typedef struct exec {
    const process *p;
    process_result *res;
    size_t max_docs, max_steps;
    int64_t deadline;
    const _Atomic bool *cancel;
    size_t live_docs; /* documents in batches still alive */
    size_t steps;
    work *stack;
    size_t sp, cap;
    bool fatal;          /* the last failure is a limit/deadline/cancel: no trycatch catches it */
    char last_msg[1024]; /* the last failure's message (without the shape prefix) */
    size_t last_shape;
} exec;

static batch *batch_new(exec *ex, size_t cap)
{
    batch *b = xcalloc(1, sizeof *b);
    b->docs = xcalloc(cap ? cap : 1, sizeof *b->docs);
    b->refs = 1;
    (void)ex;
    return b;
}

/* Adds a document reference (stolen) to a batch. */
static void batch_add(exec *ex, batch *b, jv *doc)
{
    b->docs[b->n++] = doc;
    ex->live_docs++;
}

static void batch_release(exec *ex, batch *b)
{
    if (!b || --b->refs > 0)
        return;
    for (size_t i = 0; i < b->n; i++)
        jv_free(b->docs[i]);
    ex->live_docs -= b->n;
    free(b->docs);
    free(b);
}

/* Pushes work; takes over the caller's reference to b. Empty batches are dropped. */
static void push_work(exec *ex, size_t shape, batch *b)
{
    if (b->n == 0) {
        batch_release(ex, b);
        return;
    }
    if (ex->sp == ex->cap) {
        ex->cap = ex->cap ? ex->cap * 2 : 16;
        ex->stack = xrealloc(ex->stack, ex->cap * sizeof *ex->stack);
    }
    ex->stack[ex->sp++] = (work){shape, b, NULL};
}

static void push_marker(exec *ex, catch_frame *cf)
{
    if (ex->sp == ex->cap) {
        ex->cap = ex->cap ? ex->cap * 2 : 16;
        ex->stack = xrealloc(ex->stack, ex->cap * sizeof *ex->stack);
    }
    ex->stack[ex->sp++] = (work){cf->shape, NULL, cf};
}

static void frame_free(exec *ex, catch_frame *cf)
{
    batch_release(ex, cf->b);
    free(cf);
}

static void add_sat(uint32_t *x, size_t n)
{
    *x = n >= UINT32_MAX - *x ? UINT32_MAX : *x + (uint32_t)n;
}

/* Concatenates the parts into dst, cutting on a UTF-8 boundary when they do not fit. */
static void copy_utf8(char *dst, size_t size, const char *a, const char *b, const char *c, const char *d)
{
    const char *parts[4] = {a, b, c, d};
    size_t len = 0;
    for (int i = 0; i < 4; i++)
        for (const char *p = parts[i]; p && *p && len + 1 < size; p++)
            dst[len++] = *p;
    dst[len] = '\0';
    utf8_trim_tail(dst);
}

static int fail(exec *ex, size_t si, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail_limit(exec *ex, size_t si, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Fails the execution at shape si: fills res->error and the shape's first error. A trycatch
 * shape may still catch it unless `fatal`. */
/* Length of the valid UTF-8 sequence at s (0 when invalid). */
static size_t utf8_seq_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    size_t n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) || (s[0] == 0xF0 && s[1] < 0x90) ||
        (s[0] == 0xF4 && s[1] > 0x8F))
        return 0;
    return n;
}

/* Replaces bytes that are not valid UTF-8 (script and connector messages may carry any bytes). */
static void utf8_sanitise(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p;) {
        size_t n = utf8_seq_len(p);
        if (n == 0)
            *p++ = '?';
        else
            p += n;
    }
}

static int vfail(exec *ex, size_t si, bool fatal, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    utf8_trim_tail(msg);
    utf8_sanitise(msg);
    ex->fatal = fatal;
    memcpy(ex->last_msg, msg, sizeof msg);
    ex->last_shape = si;
    const shape *s = &ex->p->shapes[si];
    process_result *res = ex->res;
    res->ok = false;
    copy_utf8(res->error, sizeof res->error, "shape \"", s->id, "\": ", msg);
    copy_utf8(res->error_shape, sizeof res->error_shape, s->id, NULL, NULL, NULL);
    if (!res->stats[si].error)
        res->stats[si].error = xstrdup(msg);
    return SL_EEXEC;
}

/* An execution error (exception, conversion, script, connector): trycatch can catch it. */
static int fail(exec *ex, size_t si, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(ex, si, false, fmt, ap);
    va_end(ap);
    return rc;
}

/* A limit, the deadline or cancellation: always fails the whole execution. */
static int fail_limit(exec *ex, size_t si, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail(ex, si, true, fmt, ap);
    va_end(ap);
    return rc;
}

static int fail_value(exec *ex, size_t si, const sl_error *err)
{
    return fail(ex, si, "%s: %s", err->where, err->msg);
}

static int eval_text(exec *ex, size_t si, const value *v, const jv *doc, const size_t *idx, size_t nidx,
                     buf *out)
{
    value_env env = {doc, ex->res->properties, idx, nidx};
    sl_error err = {0};
    if (value_eval(v, &env, out, &err))
        return fail_value(ex, si, &err);
    return 0;
}

/* Converts mapped text to the target element's JSON type. */
static int convert(exec *ex, size_t si, const mapping *m, const buf *text, jv **out)
{
    char sn[64];
    bool plain = strlen(text->data) == text->len;
    pe_type t = m->typed ? m->type : PE_CHARACTER;
    switch (t) {
    case PE_NUMBER:
        *out = plain ? number_from_text(text->data) : NULL;
        if (!*out)
            return fail(ex, si, "mapping %s: \"%s\" is not a number (element \"%s\" is a Number)", m->ptr,
                        snip(plain ? text->data : "?", sn), m->elem_name);
        return 0;
    case PE_BOOLEAN:
        if (str_ieq(text->data, "true") && plain)
            *out = jv_new_bool(true);
        else if (str_ieq(text->data, "false") && plain)
            *out = jv_new_bool(false);
        else
            return fail(ex, si, "mapping %s: \"%s\" is not true or false (element \"%s\" is a Boolean)", m->ptr,
                        snip(plain ? text->data : "?", sn), m->elem_name);
        return 0;
    case PE_DATETIME: {
        char d[25];
        if (!plain || datetime_normalise(text->data, d))
            return fail(ex, si,
                        "mapping %s: \"%s\" is not a date/time (element \"%s\" is a DateTime; expected "
                        "yyyy-MM-dd'T'HH:mm:ss.SSS'Z' or ISO 8601)",
                        m->ptr, snip(plain ? text->data : "?", sn), m->elem_name);
        *out = jv_new_str(d);
        return 0;
    }
    default:
        *out = jv_new_strn(text->data, text->len);
        if (!*out)
            return fail(ex, si, "mapping %s: the value is not valid UTF-8 text", m->ptr);
        return 0;
    }
}

/* Writes val at the mapping's target path below obj. Levels below m_iter use idx; deeper "[]"
 * levels apply to every item already in the target. */
static void write_target(jv *obj, const value_path *to, size_t seg, const size_t *idx, size_t m_iter,
                         size_t level, jv *val)
{
    const char *name = to->names[seg];
    if (seg + 1 == to->nseg) {
        jv_set(obj, name, val);
        return;
    }
    jv *child = jv_get(obj, name);
    if (!to->iter[seg]) {
        if (!jv_is_object(child)) {
            child = jv_new_object();
            jv_set_take(obj, name, child);
        }
        write_target(child, to, seg + 1, idx, m_iter, level, val);
        return;
    }
    if (level < m_iter) {
        if (!jv_is_array(child)) {
            child = jv_new_array();
            jv_set_take(obj, name, child);
        }
        while (jv_len(child) <= idx[level])
            jv_push_take(child, jv_new_object());
        jv *item = jv_at(child, idx[level]);
        if (jv_is_object(item))
            write_target(item, to, seg + 1, idx, m_iter, level + 1, val);
        return;
    }
    if (!jv_is_array(child))
        return;
    for (size_t i = 0; i < jv_len(child); i++) {
        jv *item = jv_at(child, i);
        if (jv_is_object(item))
            write_target(item, to, seg + 1, idx, m_iter, level + 1, val);
    }
}

static int map_one(exec *ex, size_t si, const mapping *m, const jv *doc, jv *target, const size_t *idx,
                   size_t nidx)
{
    buf text;
    buf_init(&text, VALUE_MAX_TEXT);
    int rc = eval_text(ex, si, m->value, doc, idx, nidx, &text);
    if (rc == 0 && text.len > 0) {
        jv *val = NULL;
        rc = convert(ex, si, m, &text, &val);
        if (rc == 0) {
            write_target(target, &m->to, 0, idx, nidx, 0, val);
            jv_free(val);
        }
    }
    buf_free(&text);
    return rc;
}

/* Walks the driver path through doc, calling map_one for every combination of item indices. */
static int map_iterate(exec *ex, size_t si, const mapping *m, const jv *doc, jv *target, const value_path *drv,
                       const jv *cur, size_t seg, size_t level, size_t *idx, size_t m_iter)
{
    for (; seg < drv->nseg; seg++) {
        if (!jv_is_object(cur))
            return 0;
        cur = jv_get(cur, drv->names[seg]);
        if (!cur)
            return 0;
        if (drv->iter[seg]) {
            if (!jv_is_array(cur))
                return 0;
            for (size_t i = 0; i < jv_len(cur); i++) {
                idx[level] = i;
                int rc = level + 1 == m_iter
                             ? map_one(ex, si, m, doc, target, idx, m_iter)
                             : map_iterate(ex, si, m, doc, target, drv, jv_at(cur, i), seg + 1, level + 1, idx, m_iter);
                if (rc)
                    return rc;
            }
            return 0;
        }
    }
    return 0;
}

static int map_doc(exec *ex, size_t si, const shape *s, const jv *doc, jv **out)
{
    jv *target = jv_new_object();
    for (size_t i = 0; i < s->nmaps; i++) {
        const mapping *m = &s->maps[i];
        size_t m_iter = value_iterations(m->value);
        int rc;
        if (m_iter == 0) {
            rc = map_one(ex, si, m, doc, target, NULL, 0);
        } else {
            size_t idx[VALUE_MAX_PATH_SEGMENTS];
            rc = map_iterate(ex, si, m, doc, target, value_driver(m->value), doc, 0, 0, idx, m_iter);
        }
        if (rc) {
            jv_free(target);
            return rc;
        }
    }
    *out = target;
    return 0;
}

/* Numeric when both sides are numbers, else byte-wise text. Returns <0, 0, >0. */
static int compare_values(const buf *l, const buf *r)
{
    jv *x = strlen(l->data) == l->len ? number_from_text(l->data) : NULL;
    jv *y = x && strlen(r->data) == r->len ? number_from_text(r->data) : NULL;
    int res;
    if (x && y) {
        if (jv_typeof(x) == JV_INT && jv_typeof(y) == JV_INT) {
            int64_t a = jv_int(x), b = jv_int(y);
            res = a < b ? -1 : a > b;
        } else {
            double a = jv_num(x), b = jv_num(y);
            res = a < b ? -1 : a > b;
        }
    } else {
        size_t n = l->len < r->len ? l->len : r->len;
        res = memcmp(l->data, r->data, n);
        if (res == 0)
            res = l->len < r->len ? -1 : l->len > r->len;
    }
    jv_free(x);
    jv_free(y);
    return res;
}

static bool text_contains(const buf *h, const buf *n)
{
    if (n->len == 0)
        return true;
    return n->len <= h->len && memmem(h->data, h->len, n->data, n->len) != NULL;
}

static int decide(exec *ex, size_t si, const shape *s, const jv *doc, bool *out)
{
    buf l, r;
    buf_init(&l, VALUE_MAX_TEXT);
    buf_init(&r, VALUE_MAX_TEXT);
    int rc = eval_text(ex, si, s->left, doc, NULL, 0, &l);
    bool unary = s->cmp == CMP_IS_EMPTY || s->cmp == CMP_IS_NOT_EMPTY;
    if (rc == 0 && !unary && s->right)
        rc = eval_text(ex, si, s->right, doc, NULL, 0, &r);
    if (rc == 0) {
        switch (s->cmp) {
        case CMP_EQUALS: *out = compare_values(&l, &r) == 0; break;
        case CMP_NOT_EQUALS: *out = compare_values(&l, &r) != 0; break;
        case CMP_GREATER: *out = compare_values(&l, &r) > 0; break;
        case CMP_GREATER_EQ: *out = compare_values(&l, &r) >= 0; break;
        case CMP_LESS: *out = compare_values(&l, &r) < 0; break;
        case CMP_LESS_EQ: *out = compare_values(&l, &r) <= 0; break;
        case CMP_CONTAINS: *out = text_contains(&l, &r); break;
        case CMP_STARTS_WITH: *out = r.len <= l.len && memcmp(l.data, r.data, r.len) == 0; break;
        case CMP_ENDS_WITH: *out = r.len <= l.len && memcmp(l.data + l.len - r.len, r.data, r.len) == 0; break;
        case CMP_IS_EMPTY: *out = l.len == 0; break;
        case CMP_IS_NOT_EMPTY: *out = l.len > 0; break;
        }
    }
    buf_free(&l);
    buf_free(&r);
    return rc;
}

static int set_properties(exec *ex, size_t si, const shape *s, const jv *doc)
{
    for (size_t i = 0; i < s->nprops; i++) {
        buf text;
        buf_init(&text, VALUE_MAX_TEXT);
        int rc = eval_text(ex, si, s->props[i].value, doc, NULL, 0, &text);
        if (rc == 0) {
            jv *v = jv_new_strn(text.data, text.len);
            if (!v)
                rc = fail(ex, si, "property \"%s\": the value is not valid UTF-8 text", s->props[i].name);
            else
                jv_set_take(ex->res->properties, s->props[i].name, v);
        }
        buf_free(&text);
        if (rc)
            return rc;
    }
    return 0;
}

static int raise_exception(exec *ex, size_t si, const shape *s, const batch *b)
{
    const jv *doc = b->n ? b->docs[0] : NULL;
    jv *empty = doc ? NULL : jv_new_object();
    buf msg;
    buf_init(&msg, 4096);
    int rc = 0;
    for (const char *p = s->message; *p && rc == 0; p++) {
        if (*p == '{' && p[1] >= '1' && p[1] <= '9') {
            size_t n = 0;
            const char *q = p + 1;
            while (*q >= '0' && *q <= '9' && n < 1000000)
                n = n * 10 + (size_t)(*q++ - '0');
            if (*q == '}' && n >= 1 && n <= s->nparams) {
                buf part;
                buf_init(&part, VALUE_MAX_TEXT);
                rc = eval_text(ex, si, s->params[n - 1], doc ? doc : empty, NULL, 0, &part);
                if (rc == 0) {
                    size_t room = msg.max > msg.len + 1 ? msg.max - msg.len - 1 : 0;
                    buf_append(&msg, part.data, part.len < room ? part.len : room);
                }
                buf_free(&part);
                p = q;
                continue;
            }
        }
        buf_putc(&msg, *p);
    }
    if (rc == 0)
        rc = fail(ex, si, "%s", msg.data);
    buf_free(&msg);
    jv_free(empty);
    return rc;
}

static int run_script(exec *ex, size_t si, const shape *s, batch *b)
{
    script_limits lim = {s->mem_kb * 1024, s->instr_limit, ex->deadline, ex->cancel};
    jv *out = NULL, *props = NULL;
    char err[768];
    script_status st = script_run(s->script, s->script_len, s->id, &lim, b->docs, b->n, ex->res->properties, &out,
                                  &props, err, sizeof err);
    switch (st) {
    case SCRIPT_OK: break;
    case SCRIPT_MEMORY: return fail(ex, si, "script ran out of its %zu KiB memory", s->mem_kb);
    case SCRIPT_INSTRUCTIONS:
        return fail(ex, si, "script used its %lld instructions", (long long)s->instr_limit);
    case SCRIPT_DEADLINE: return fail_limit(ex, si, "the execution passed its deadline while the script ran");
    case SCRIPT_CANCELLED: return fail_limit(ex, si, "cancelled: the atom is shutting down");
    case SCRIPT_ERROR: return fail(ex, si, "%s", err);
    }
    jv_free(ex->res->properties);
    ex->res->properties = props;
    process_shape_stat *stat = &ex->res->stats[si];
    if (!out) { /* nil: the input passes on unchanged */
        add_sat(&stat->docs_out, b->n);
        b->refs++;
        push_work(ex, s->edges[0].to, b);
        return 0;
    }
    size_t n = jv_len(out);
    if (ex->live_docs + n > ex->max_docs) {
        jv_free(out);
        return fail_limit(ex, si, "the limit of %zu documents in flight was reached", ex->max_docs);
    }
    batch *nb = batch_new(ex, n);
    for (size_t i = 0; i < n; i++)
        batch_add(ex, nb, jv_incref(jv_at(out, i)));
    jv_free(out);
    add_sat(&stat->docs_out, n);
    push_work(ex, s->edges[0].to, nb);
    return 0;
}

static int run_connector(exec *ex, size_t si, const shape *s, batch *b)
{
    if (!ex->p->connections_linked || !s->op)
        return fail(ex, si, "the connector shape is not linked to its connection");
    jv *all = jv_new_array();
    for (size_t i = 0; i < b->n; i++) {
        if (i > 0 && ex->deadline && mono_ms() >= ex->deadline) {
            jv_free(all);
            return fail_limit(ex, si, "the execution passed its deadline while the connector ran");
        }
        if (ex->cancel && atomic_load(ex->cancel)) {
            jv_free(all);
            return fail_limit(ex, si, "cancelled: the atom is shutting down");
        }
        jv *out = jv_new_array();
        char err[768] = "";
        int rc = connector_op_run(s->op, b->docs[i], ex->res->properties, out, ex->deadline, err, sizeof err);
        if (rc == 0)
            for (size_t k = 0; k < jv_len(out); k++)
                jv_push(all, jv_at(out, k));
        jv_free(out);
        if (rc) {
            jv_free(all);
            if (ex->deadline && mono_ms() >= ex->deadline)
                return fail_limit(ex, si, "the execution passed its deadline while the connector ran%s%s",
                                  err[0] ? ": " : "", err);
            return fail(ex, si, "%s", err[0] ? err : "the connector operation failed");
        }
        if (ex->live_docs + jv_len(all) > ex->max_docs) {
            jv_free(all);
            return fail_limit(ex, si, "the limit of %zu documents in flight was reached", ex->max_docs);
        }
    }
    size_t n = jv_len(all);
    batch *nb = batch_new(ex, n);
    for (size_t i = 0; i < n; i++)
        batch_add(ex, nb, jv_incref(jv_at(all, i)));
    jv_free(all);
    add_sat(&ex->res->stats[si].docs_out, n);
    push_work(ex, s->edges[0].to, nb);
    return 0;
}

static int run_shape(exec *ex, size_t si, batch *b)
{
    const shape *s = &ex->p->shapes[si];
    process_shape_stat *st = &ex->res->stats[si];
    if (ex->deadline && mono_ms() >= ex->deadline)
        return fail_limit(ex, si, "the execution passed its deadline before this shape ran");
    if (ex->cancel && atomic_load(ex->cancel))
        return fail_limit(ex, si, "cancelled: the atom is shutting down");
    if (++ex->steps > ex->max_steps)
        return fail_limit(ex, si, "the limit of %zu shape steps was reached", ex->max_steps);
    add_sat(&st->runs, 1);
    add_sat(&st->docs_in, b->n);
    switch (s->kind) {
    case SH_START:
    case SH_SETPROPERTIES:
        if (s->kind == SH_SETPROPERTIES)
            for (size_t i = 0; i < b->n; i++) {
                int rc = set_properties(ex, si, s, b->docs[i]);
                if (rc)
                    return rc;
            }
        add_sat(&st->docs_out, b->n);
        b->refs++;
        push_work(ex, s->edges[0].to, b);
        return 0;
    case SH_MAP: {
        if (ex->live_docs + b->n > ex->max_docs)
            return fail_limit(ex, si, "the limit of %zu documents in flight was reached", ex->max_docs);
        batch *nb = batch_new(ex, b->n);
        for (size_t i = 0; i < b->n; i++) {
            jv *d = NULL;
            int rc = map_doc(ex, si, s, b->docs[i], &d);
            if (rc) {
                batch_release(ex, nb);
                return rc;
            }
            batch_add(ex, nb, d);
        }
        add_sat(&st->docs_out, nb->n);
        push_work(ex, s->edges[0].to, nb);
        return 0;
    }
    case SH_DECISION: {
        batch *tb = batch_new(ex, b->n), *fb = batch_new(ex, b->n);
        for (size_t i = 0; i < b->n; i++) {
            bool yes = false;
            int rc = decide(ex, si, s, b->docs[i], &yes);
            if (rc) {
                batch_release(ex, tb);
                batch_release(ex, fb);
                return rc;
            }
            batch_add(ex, yes ? tb : fb, jv_incref(b->docs[i]));
        }
        add_sat(&st->docs_out, b->n);
        push_work(ex, s->edges[1].to, fb); /* pushed first: runs after the true path */
        push_work(ex, s->edges[0].to, tb);
        return 0;
    }
    case SH_BRANCH:
        for (size_t k = s->nedges; k-- > 0;) {
            b->refs++;
            push_work(ex, s->edges[k].to, b);
        }
        add_sat(&st->docs_out, b->n * s->nedges);
        return 0;
    case SH_RETURN:
        if (jv_len(ex->res->documents) + b->n > ex->max_docs)
            return fail_limit(ex, si, "the limit of %zu returned documents was reached", ex->max_docs);
        for (size_t i = 0; i < b->n; i++)
            jv_push(ex->res->documents, b->docs[i]);
        add_sat(&st->docs_out, b->n);
        return 0;
    case SH_STOP:
        return 0;
    case SH_EXCEPTION:
        return raise_exception(ex, si, s, b);
    case SH_WAIT: {
        /* Sleep in short slices so a deadline or a shutdown ends the wait promptly. */
        int64_t until = mono_ms() + s->wait_ms;
        for (int64_t now = mono_ms(); now < until; now = mono_ms()) {
            if (ex->deadline && now >= ex->deadline)
                return fail_limit(ex, si, "the execution passed its deadline while waiting");
            if (ex->cancel && atomic_load(ex->cancel))
                return fail_limit(ex, si, "cancelled: the atom is shutting down");
            int64_t slice = until - now < 50 ? until - now : 50;
            struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice * 1000000L};
            nanosleep(&ts, NULL);
        }
        add_sat(&st->docs_out, b->n);
        b->refs++;
        push_work(ex, s->edges[0].to, b);
        return 0;
    }
    case SH_SCRIPT:
        return run_script(ex, si, s, b);
    case SH_CONNECTOR:
        return run_connector(ex, si, s, b);
    case SH_TRYCATCH: {
        catch_frame *cf = xcalloc(1, sizeof *cf);
        cf->shape = si;
        cf->b = b;
        b->refs++;
        cf->ndocs_ret = jv_len(ex->res->documents);
        push_marker(ex, cf);
        add_sat(&st->docs_out, b->n);
        b->refs++;
        push_work(ex, s->edges[0].to, b);
        return 0;
    }
    case SH_INVALID:
        break;
    }
    return fail(ex, si, "invalid shape");
}

/* After a catchable failure: drops the pending work of the innermost try path and sends the batch
 * that entered its trycatch shape down "catch". Returns false when no trycatch is pending. */
static bool catch_failure(exec *ex)
{
    catch_frame *cf = NULL;
    while (ex->sp && !cf) {
        work w = ex->stack[--ex->sp];
        if (w.cf)
            cf = w.cf;
        else
            batch_release(ex, w.b);
    }
    if (!cf)
        return false;
    process_result *res = ex->res;
    /* withdraw what the failed try path returned */
    if (jv_len(res->documents) > cf->ndocs_ret) {
        jv *kept = jv_new_array();
        for (size_t i = 0; i < cf->ndocs_ret; i++)
            jv_push(kept, jv_at(res->documents, i));
        jv_free(res->documents);
        res->documents = kept;
    }
    res->ok = true;
    res->error[0] = '\0';
    res->error_shape[0] = '\0';
    jv *msg = jv_new_str(ex->last_msg);
    jv_set_take(res->properties, "trycatch_message", msg ? msg : jv_new_str(""));
    jv_set_str(res->properties, "trycatch_shape", ex->p->shapes[ex->last_shape].id);
    const shape *s = &ex->p->shapes[cf->shape];
    add_sat(&res->stats[cf->shape].docs_out, cf->b->n);
    batch *b = cf->b;
    free(cf);
    push_work(ex, s->edges[1].to, b);
    return true;
}

int process_run(const process *p, const jv *input_docs, const jv *properties, const process_limits *limits,
                process_result *res)
{
    memset(res, 0, sizeof *res);
    res->ok = true;
    res->documents = jv_new_array();
    res->properties = jv_is_object(properties) ? jv_copy(properties) : jv_new_object();
    if (!p || p->start == NO_SHAPE) {
        res->ok = false;
        str_copy(res->error, "no process to run", sizeof res->error);
        return SL_EEXEC;
    }
    res->nstats = p->nshapes;
    res->stats = xcalloc(p->nshapes, sizeof *res->stats);
    for (size_t i = 0; i < p->nshapes; i++) {
        res->stats[i].id = p->shapes[i].id;
        res->stats[i].type = shape_kind_names[p->shapes[i].kind];
    }
    exec ex = {0};
    ex.p = p;
    ex.res = res;
    ex.max_docs = limits && limits->max_documents ? limits->max_documents : 10000;
    ex.max_steps = limits && limits->max_shape_steps ? limits->max_shape_steps : 100000;
    ex.deadline = limits ? limits->deadline_mono_ms : 0;
    ex.cancel = limits ? limits->cancel : NULL;

    size_t n = jv_len(input_docs);
    if (n > ex.max_docs)
        return fail_limit(&ex, p->start, "%zu input documents exceed the limit of %zu documents", n, ex.max_docs);
    batch *in = batch_new(&ex, n);
    for (size_t i = 0; i < n; i++)
        batch_add(&ex, in, jv_incref(jv_at(input_docs, i)));

    /* the start shape runs even without documents */
    int rc = run_shape(&ex, p->start, in);
    batch_release(&ex, in);
    for (;;) {
        if (rc != 0 && (ex.fatal || !catch_failure(&ex)))
            break;
        rc = 0;
        if (!ex.sp)
            break;
        work w = ex.stack[--ex.sp];
        if (w.cf) { /* the try path finished without a failure */
            frame_free(&ex, w.cf);
            continue;
        }
        rc = run_shape(&ex, w.shape, w.b);
        batch_release(&ex, w.b);
    }
    while (ex.sp) {
        work w = ex.stack[--ex.sp];
        if (w.cf)
            frame_free(&ex, w.cf);
        else
            batch_release(&ex, w.b);
    }
    free(ex.stack);
    return rc ? SL_EEXEC : 0;
}

void process_result_free(process_result *res)
{
    if (!res)
        return;
    jv_free(res->documents);
    jv_free(res->properties);
    for (size_t i = 0; i < res->nstats; i++)
        free(res->stats[i].error);
    free(res->stats);
    memset(res, 0, sizeof *res);
}

jv *process_stats_json(const process_result *res)
{
    jv *arr = jv_new_array();
    for (size_t i = 0; res && i < res->nstats; i++) {
        const process_shape_stat *st = &res->stats[i];
        jv *o = jv_new_object();
        jv_set_str(o, "id", st->id);
        jv_set_str(o, "type", st->type);
        jv_set_int(o, "in", st->docs_in);
        jv_set_int(o, "out", st->docs_out);
        jv_set_int(o, "runs", st->runs);
        if (st->error)
            jv_set_str(o, "error", st->error);
        jv_push_take(arr, o);
    }
    return arr;
}
