/* package: Flow packages and the draw side's JSON walks (see package.h).
 *
 * Design: every transformation builds a new document rather than editing one in place (the
 * JSON facade has no array setter, and the input stays untouched for the caller). Ids are
 * looked up in a small open-addressing hash keyed by the ASCII-lowercased id, so "a case-
 * insensitive match anywhere" costs one hash probe per string of the document.
 */
#include "flow/package.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "flow/snapshot.h"

const package_kind package_kinds[PACKAGE_NKINDS] = {
    {"map", "mapElements", true, NULL},
    {"group", "groupElements", true, "SWIMLANE"},
    {"page", "pageElements", false, "PAGE_LAYOUT"},
    {"value", "valueElements", false, "VARIABLE"},
    {"type", "typeElements", false, "TYPE"},
    {"service", "serviceElements", false, "SERVICE"},
    {"navigation", "navigationElements", false, "NAVIGATION"},
    {"macro", "macroElements", false, "MACRO"},
    {"tag", "tagElements", false, "TAG"},
};

const package_kind *package_kind_find(const char *name)
{
    for (size_t i = 0; name && i < PACKAGE_NKINDS; i++)
        if (strcmp(package_kinds[i].kind, name) == 0)
            return &package_kinds[i];
    return NULL;
}

static const package_kind *kind_by_member(const char *member)
{
    for (size_t i = 0; member && i < PACKAGE_NKINDS; i++)
        if (strcmp(package_kinds[i].member, member) == 0)
            return &package_kinds[i];
    return NULL;
}

/* Ids the engine or the player give a meaning of their own: never replaced, never required. */
static const char *const reserved_ids[] = {
    "318b0f3a-a570-4c5d-835c-21c1eeb17787", /* the FAULT outcome */
    "ee6c8827-11e2-486d-b5fa-4d1a0cbb77a3", /* the debug outcome */
    "03dc41dd-1c6b-4b33-bf61-cbd1d0778fff", /* the $User system value */
};

static bool is_reserved(const char *id)
{
    for (size_t i = 0; i < sizeof reserved_ids / sizeof reserved_ids[0]; i++)
        if (str_ieq(id, reserved_ids[i]))
            return true;
    return false;
}

/* A JSON string usable as an id: no embedded NUL (the C string is the whole value). */
static const char *plain_str(const jv *v)
{
    if (!jv_is_string(v))
        return NULL;
    const char *s = jv_str(v);
    return strlen(s) == jv_str_len(v) ? s : NULL;
}

/* ---- idmap: case-insensitive string keys ---- */

typedef struct idmap {
    char **keys; /* lowercased copies; NULL = empty slot */
    void **vals;
    size_t cap, n;
} idmap;

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static uint64_t hash_ci(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)lower(*s);
        h *= 1099511628211ULL;
    }
    return h;
}

static void idmap_free(idmap *m, bool free_vals)
{
    for (size_t i = 0; i < m->cap; i++) {
        free(m->keys[i]);
        if (free_vals && m->keys[i])
            free(m->vals[i]);
    }
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

static size_t idmap_find(const idmap *m, const char *key)
{
    size_t i = hash_ci(key) & (m->cap - 1);
    while (m->keys[i] && strcasecmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static void *idmap_get(const idmap *m, const char *key)
{
    if (!m->n || !key)
        return NULL;
    size_t i = idmap_find(m, key);
    return m->keys[i] ? m->vals[i] : NULL;
}

static bool idmap_has(const idmap *m, const char *key)
{
    if (!m->n || !key)
        return false;
    return m->keys[idmap_find(m, key)] != NULL;
}

/* Adds key → val unless key is present (then nothing changes and false is returned). */
static bool idmap_put(idmap *m, const char *key, void *val)
{
    if ((m->n + 1) * 2 > m->cap) {
        idmap old = *m;
        m->cap = old.cap ? old.cap * 2 : 64;
        m->keys = xcalloc(m->cap, sizeof *m->keys);
        m->vals = xcalloc(m->cap, sizeof *m->vals);
        for (size_t i = 0; i < old.cap; i++)
            if (old.keys[i]) {
                size_t j = idmap_find(m, old.keys[i]);
                m->keys[j] = old.keys[i];
                m->vals[j] = old.vals[i];
            }
        free(old.keys);
        free(old.vals);
    }
    size_t i = idmap_find(m, key);
    if (m->keys[i])
        return false;
    char *k = xstrdup(key);
    for (char *p = k; *p; p++)
        *p = lower(*p);
    m->keys[i] = k;
    m->vals[i] = val;
    m->n++;
    return true;
}

/* ---- walks ---- */

typedef void (*str_fn)(void *ctx, const char *s);

static void walk_strings(const jv *v, str_fn fn, void *ctx)
{
    switch (jv_typeof(v)) {
    case JV_STRING: {
        const char *s = plain_str(v);
        if (s && *s)
            fn(ctx, s);
        break;
    }
    case JV_ARRAY:
        for (size_t i = 0; i < jv_len(v); i++)
            walk_strings(jv_at(v, i), fn, ctx);
        break;
    case JV_OBJECT:
        for (void *it = jv_obj_iter(v); it; it = jv_obj_next(v, it))
            walk_strings(jv_obj_value(it), fn, ctx);
        break;
    default:
        break;
    }
}

/* Members whose values are names, labels, enumerations, URIs or code, never references: they are
 * not rewritten even when they happen to equal an id (hand-written snapshots use ids like
 * "start" or "Name", which must not turn an elementType or a developerName into a UUID). */
static const char *const never_refs[] = {
    "developerName", "developerSummary", "label",        "elementType",     "contentType",
    "contentFormat", "componentType",    "containerType", "pageActionBindingType", "pageActionType",
    "criteriaType",  "comparisonType",   "access",       "crudOperationType", "command",
    "orderByDirectionType", "uri",      "uriPart",      "code",            "userContent",
    "content",       "hintValue",        "helpInfo",
};

bool package_never_ref(const char *key)
{
    for (size_t i = 0; i < sizeof never_refs / sizeof never_refs[0]; i++)
        if (strcmp(key, never_refs[i]) == 0)
            return true;
    return false;
}

/* A deep copy of v with every string that map holds replaced by its value (a char *), except
 * under the members of never_refs. */
static jv *rewrite(const jv *v, const idmap *map)
{
    switch (jv_typeof(v)) {
    case JV_STRING: {
        const char *to = idmap_get(map, plain_str(v));
        return to ? jv_new_str(to) : jv_copy(v);
    }
    case JV_ARRAY: {
        jv *a = jv_new_array();
        for (size_t i = 0; i < jv_len(v); i++)
            jv_push_take(a, rewrite(jv_at(v, i), map));
        return a;
    }
    case JV_OBJECT: {
        jv *o = jv_new_object();
        for (void *it = jv_obj_iter(v); it; it = jv_obj_next(v, it))
            jv_set_take(o, jv_obj_key(it),
                        package_never_ref(jv_obj_key(it)) ? jv_copy(jv_obj_value(it)) : rewrite(jv_obj_value(it), map));
        return o;
    }
    default:
        return jv_copy(v);
    }
}

static bool is_element_member(const char *key)
{
    return kind_by_member(key) != NULL;
}

/* The flow id of a snapshot: id.id, or id when it is a string. */
static const char *flow_id_of(const jv *doc)
{
    const jv *id = jv_get(doc, "id");
    return jv_is_object(id) ? plain_str(jv_get(id, "id")) : plain_str(id);
}

static bool ends_with_id(const char *key)
{
    size_t n = strlen(key);
    return n >= 2 && strcmp(key + n - 2, "Id") == 0;
}

/* Collects the ids an element defines: its own and those of nested objects, except objects that
 * are references (the value of a member named "…Id", or inside one). */
static void collect_defs(const jv *v, bool in_ref, idmap *defs)
{
    if (jv_is_array(v)) {
        for (size_t i = 0; i < jv_len(v); i++)
            collect_defs(jv_at(v, i), in_ref, defs);
        return;
    }
    if (!jv_is_object(v))
        return;
    if (!in_ref) {
        const char *id = plain_str(jv_get(v, "id"));
        if (id && *id && !is_reserved(id))
            idmap_put(defs, id, NULL);
    }
    for (void *it = jv_obj_iter(v); it; it = jv_obj_next(v, it))
        collect_defs(jv_obj_value(it), in_ref || ends_with_id(jv_obj_key(it)), defs);
}

/* ---- options ---- */

int package_options_read(const jv *obj, const char *base, package_options *o, sl_error *err)
{
    if (jv_is_null(obj))
        return 0;
    if (!jv_is_object(obj))
        return sl_fail(err, SL_EINVAL, base, "options must be an object, not %s", jv_type_name(jv_typeof(obj)));
    char where[256];
    const jv *r = jv_get(obj, "remapIds");
    if (r && !jv_is_null(r)) {
        if (!jv_is_bool(r)) {
            snprintf(where, sizeof where, "%s/remapIds", base);
            return sl_fail(err, SL_EINVAL, where, "remapIds must be true or false");
        }
        o->remap_ids = jv_bool(r) ? 1 : 0;
    }
    const jv *bd = jv_get(obj, "bind");
    if (bd && !jv_is_null(bd)) {
        if (!jv_is_bool(bd)) {
            snprintf(where, sizeof where, "%s/bind", base);
            return sl_fail(err, SL_EINVAL, where, "bind must be true or false");
        }
        o->bind = jv_bool(bd) ? 1 : 0;
    }
    const jv *s = jv_get(obj, "strict");
    if (s && !jv_is_null(s)) {
        if (!jv_is_bool(s)) {
            snprintf(where, sizeof where, "%s/strict", base);
            return sl_fail(err, SL_EINVAL, where, "strict must be true or false");
        }
        o->strict = jv_bool(s);
    }
    const jv *u = jv_get(obj, "uriMapping");
    if (u && !jv_is_null(u)) {
        snprintf(where, sizeof where, "%s/uriMapping", base);
        if (!jv_is_object(u))
            return sl_fail(err, SL_EINVAL, where, "uriMapping must be an object {oldUri: newUri}");
        for (void *it = jv_obj_iter(u); it; it = jv_obj_next(u, it))
            if (!plain_str(jv_obj_value(it)) || !*jv_str(jv_obj_value(it)) || !*jv_obj_key(it))
                return sl_fail(err, SL_EINVAL, where, "uriMapping maps non-empty URIs to non-empty URIs (\"%s\")",
                               jv_obj_key(it));
        o->uri_mapping = u;
    }
    return 0;
}

/* ---- transform ---- */

void package_result_free(package_result *r)
{
    if (!r)
        return;
    jv_free(r->doc);
    free(r->flow_id);
    jv_free(r->bound);
    jv_free(r->uri_mapped);
    jv_free(r->kept);
    memset(r, 0, sizeof *r);
}

/* Whether type t belongs to the service with id sid (serviceElementId or a binding's). */
static bool type_owned_by(const jv *t, const char *sid)
{
    if (str_ieq(plain_str(jv_get(t, "serviceElementId")), sid))
        return true;
    const jv *b = jv_get(t, "bindings");
    for (size_t i = 0; i < jv_len(b); i++)
        if (str_ieq(plain_str(jv_get(jv_at(b, i), "serviceElementId")), sid))
            return true;
    return false;
}

/* The first object of arr whose developerName equals name ignoring case and whose id is a
 * non-empty string; with owner, one owned by that service wins over the others. */
static const jv *find_by_name(const jv *arr, const char *name, const char *owner)
{
    const jv *any = NULL;
    for (size_t i = 0; i < jv_len(arr); i++) {
        const jv *e = jv_at(arr, i);
        const char *id = plain_str(jv_get(e, "id"));
        if (!jv_is_object(e) || !id || !*id || !str_ieq(plain_str(jv_get(e, "developerName")), name))
            continue;
        if (!owner || type_owned_by(e, owner))
            return e;
        if (!any)
            any = e;
    }
    return any;
}

/* Maps the ids of the objects in a's member arr to those of b's with the same developerName;
 * with single_fallback, a lone object on each side is matched whatever its name. Names of a's
 * objects left unmatched go to unmatched (when given). */
static void map_children(const jv *a, const jv *b, const char *member, bool single_fallback, idmap *map,
                         jv *unmatched)
{
    const jv *as = jv_get(a, member), *bs = jv_get(b, member);
    for (size_t i = 0; i < jv_len(as); i++) {
        const jv *x = jv_at(as, i);
        const char *xid = plain_str(jv_get(x, "id"));
        if (!jv_is_object(x) || !xid || !*xid)
            continue;
        const char *xname = plain_str(jv_get(x, "developerName"));
        const jv *y = xname && *xname ? find_by_name(bs, xname, NULL) : NULL;
        if (!y && single_fallback && jv_len(as) == 1 && jv_len(bs) == 1 && jv_is_object(jv_at(bs, 0)) &&
            plain_str(jv_get(jv_at(bs, 0), "id")) && *plain_str(jv_get(jv_at(bs, 0), "id")))
            y = jv_at(bs, 0);
        if (y)
            idmap_put(map, xid, xstrdup(plain_str(jv_get(y, "id"))));
        else if (unmatched)
            jv_push_take(unmatched, jv_new_str(xname ? xname : xid));
    }
}

/* Maps uri through mapping: exact (trailing slashes ignored) or the longest key that is a
 * prefix followed by '/'. A new malloc'd string, or NULL when nothing matches. */
static char *map_uri(const jv *mapping, const char *uri)
{
    size_t ul = strlen(uri);
    while (ul > 0 && uri[ul - 1] == '/')
        ul--;
    const char *best = NULL;
    size_t best_len = 0;
    for (void *it = jv_obj_iter(mapping); it; it = jv_obj_next(mapping, it)) {
        const char *k = jv_obj_key(it), *v = plain_str(jv_obj_value(it));
        size_t kl = strlen(k);
        while (kl > 0 && k[kl - 1] == '/')
            kl--;
        if (!v || kl == 0 || kl > ul || strncmp(uri, k, kl) != 0)
            continue;
        if (kl == ul)
            return xstrdup(v);
        if (uri[kl] == '/' && kl > best_len) {
            best = v;
            best_len = kl;
        }
    }
    if (!best)
        return NULL;
    size_t vl = strlen(best);
    while (vl > 0 && best[vl - 1] == '/')
        vl--;
    return xasprintf("%.*s%s", (int)vl, best, uri + best_len);
}

/* An element of the target tenant, by id. */
typedef struct pool_ent {
    const jv *el;
    const package_kind *kind;
    bool in;
} pool_ent;

typedef struct pull_ctx {
    idmap *index;    /* id → pool_ent */
    idmap *present;  /* ids held by the output's element arrays */
    jv *out;         /* the output document */
    jv *kept;        /* {id: kind} */
    pool_ent **work; /* worklist */
    size_t nwork, capwork;
} pull_ctx;

static void push_work(pull_ctx *c, pool_ent *p)
{
    if (c->nwork == c->capwork) {
        c->capwork = c->capwork ? c->capwork * 2 : 16;
        c->work = xrealloc(c->work, c->capwork * sizeof *c->work);
    }
    c->work[c->nwork++] = p;
}

/* The output's array member (created when absent or not an array). */
static jv *out_array(jv *out, const char *member)
{
    jv *a = jv_get(out, member);
    if (!jv_is_array(a)) {
        a = jv_new_array();
        jv_set_take(out, member, a);
    }
    return a;
}

/* Adds a target element to the output, replacing (replace) or yielding to an element with the
 * same id already there. */
static void add_target(pull_ctx *c, pool_ent *p, bool replace)
{
    const char *id = plain_str(jv_get(p->el, "id"));
    if (p->in || !id)
        return;
    if (idmap_has(c->present, id)) {
        if (!replace)
            return;
        jv *old = out_array(c->out, p->kind->member), *keep = jv_new_array();
        for (size_t i = 0; i < jv_len(old); i++)
            if (!str_ieq(plain_str(jv_get(jv_at(old, i), "id")), id))
                jv_push(keep, jv_at(old, i));
        jv_set_take(c->out, p->kind->member, keep);
    }
    p->in = true;
    idmap_put(c->present, id, NULL);
    jv_push_take(out_array(c->out, p->kind->member), jv_copy(p->el));
    jv_set_str(c->kept, id, p->kind->kind);
    push_work(c, p);
}

static void pull_string(void *arg, const char *s)
{
    pull_ctx *c = arg;
    pool_ent *p = idmap_get(c->index, s);
    if (p)
        add_target(c, p, false);
}

/* Indexes every element of pool ({kind: [elements]}) by id into index; ents (caller frees) holds
 * the entries. */
static pool_ent *index_pool(const jv *pool, idmap *index, size_t *n_out)
{
    size_t n = 0;
    for (size_t k = 0; k < PACKAGE_NKINDS; k++)
        n += jv_len(jv_get(pool, package_kinds[k].kind));
    pool_ent *ents = xcalloc(n ? n : 1, sizeof *ents);
    size_t m = 0;
    for (size_t k = 0; k < PACKAGE_NKINDS; k++) {
        const jv *arr = jv_get(pool, package_kinds[k].kind);
        for (size_t i = 0; i < jv_len(arr); i++) {
            const jv *e = jv_at(arr, i);
            const char *id = plain_str(jv_get(e, "id"));
            if (!jv_is_object(e) || !id || !*id)
                continue;
            ents[m] = (pool_ent){e, &package_kinds[k], false};
            if (idmap_put(index, id, &ents[m]))
                m++;
        }
    }
    *n_out = m;
    return ents;
}

int package_transform(const jv *doc, const char *target_tenant, const package_options *o, const jv *target,
                      package_result *res, sl_error *err)
{
    memset(res, 0, sizeof *res);
    if (!jv_is_object(doc))
        return sl_fail(err, SL_EINVAL, "", "a package must be a JSON object, not %s",
                       doc ? jv_type_name(jv_typeof(doc)) : "nothing");
    const char *flow_id = flow_id_of(doc);
    if (!flow_id || !*flow_id)
        return sl_fail(err, SL_EINVAL, "/id", "a package needs the flow's id (id.id)");
    package_options defaults = {.remap_ids = -1, .bind = -1};
    if (!o)
        o = &defaults;
    bool remap = o->remap_ids > 0;
    bool bind = o->bind > 0 || (o->bind < 0 && jv_is_object(jv_get(doc, "package")));
    if (o->remap_ids < 0) {
        const char *src = plain_str(jv_get(jv_get(doc, "package"), "sourceTenant"));
        remap = src && *src && target_tenant && !str_ieq(src, target_tenant);
    }

    idmap map = {0}; /* old id → new id (char *, owned) */
    jv *bound = jv_new_array();
    const jv *svcs = jv_get(doc, "serviceElements"), *types = jv_get(doc, "typeElements");
    const jv *tsvcs = bind ? jv_get(target, "service") : NULL, *ttypes = jv_get(target, "type");
    size_t ns = jv_len(svcs), nt = jv_len(types);
    bool *rm_s = xcalloc(ns + 1, sizeof *rm_s), *rm_t = xcalloc(nt + 1, sizeof *rm_t);
    const jv **bound_els = xcalloc(2 * (ns + nt) + 1, sizeof *bound_els); /* target elements to add */
    size_t nbound = 0;

    /* 1. binding */
    for (size_t i = 0; i < ns; i++) {
        const jv *s = jv_at(svcs, i);
        const char *sid = plain_str(jv_get(s, "id")), *name = plain_str(jv_get(s, "developerName"));
        if (!jv_is_object(s) || !sid || !*sid || !name || !*name)
            continue;
        /* the tenant's service with the package's own id wins (a re-import), else the first of
         * that name; any others are reported as alternatives */
        const jv *t = NULL;
        jv *alts = jv_new_array();
        for (size_t j = 0; j < jv_len(tsvcs); j++) {
            const jv *c = jv_at(tsvcs, j);
            const char *cid = plain_str(jv_get(c, "id"));
            if (!jv_is_object(c) || !cid || !*cid || !str_ieq(plain_str(jv_get(c, "developerName")), name))
                continue;
            if (!t || (str_ieq(cid, sid) && !str_ieq(plain_str(jv_get(t, "id")), sid))) {
                if (t)
                    jv_push_take(alts, jv_new_str(plain_str(jv_get(t, "id"))));
                t = c;
            } else {
                jv_push_take(alts, jv_new_str(cid));
            }
        }
        if (!t) {
            jv_free(alts);
            continue;
        }
        const char *tid = plain_str(jv_get(t, "id"));
        rm_s[i] = true;
        idmap_put(&map, sid, xstrdup(tid));
        bound_els[nbound++] = t;
        jv *b = jv_new_object();
        jv_set_str(b, "kind", "service");
        jv_set_str(b, "developerName", name);
        jv_set_str(b, "packageId", sid);
        jv_set_str(b, "id", tid);
        if (jv_len(alts))
            jv_set_take(b, "alternatives", alts);
        else
            jv_free(alts);
        jv_push_take(bound, b);
        for (size_t j = 0; j < nt; j++) {
            const jv *p = jv_at(types, j);
            const char *pid = plain_str(jv_get(p, "id")), *pname = plain_str(jv_get(p, "developerName"));
            if (rm_t[j] || !jv_is_object(p) || !pid || !*pid || !pname || !*pname || !type_owned_by(p, sid))
                continue;
            const jv *q = find_by_name(ttypes, pname, tid);
            if (!q)
                continue;
            const char *qid = plain_str(jv_get(q, "id"));
            rm_t[j] = true;
            idmap_put(&map, pid, xstrdup(qid));
            bound_els[nbound++] = q;
            jv *unmatched = jv_new_array();
            map_children(p, q, "properties", false, &map, unmatched);
            map_children(p, q, "bindings", true, &map, NULL);
            jv *bt = jv_new_object();
            jv_set_str(bt, "kind", "type");
            jv_set_str(bt, "developerName", pname);
            jv_set_str(bt, "packageId", pid);
            jv_set_str(bt, "id", qid);
            if (jv_len(unmatched))
                jv_set_take(bt, "unmatchedProperties", unmatched);
            else
                jv_free(unmatched);
            jv_push_take(bound, bt);
        }
    }

    /* 2. remapping: the flow first, then what the (unbound) elements define */
    char fresh[37];
    if (remap) {
        uuid_v4(fresh);
        idmap_put(&map, flow_id, xstrdup(fresh));
        idmap defs = {0};
        for (size_t k = 0; k < PACKAGE_NKINDS; k++) {
            const char *member = package_kinds[k].member;
            const jv *arr = jv_get(doc, member);
            for (size_t i = 0; i < jv_len(arr); i++) {
                if ((arr == svcs && rm_s[i]) || (arr == types && rm_t[i]))
                    continue;
                collect_defs(jv_at(arr, i), false, &defs);
            }
        }
        for (size_t i = 0; i < defs.cap; i++)
            if (defs.keys[i] && !idmap_has(&map, defs.keys[i])) {
                uuid_v4(fresh);
                idmap_put(&map, defs.keys[i], xstrdup(fresh));
            }
        idmap_free(&defs, false);
    }

    /* 3. the rewritten document */
    jv *out = jv_new_object();
    for (void *it = jv_obj_iter(doc); it; it = jv_obj_next(doc, it)) {
        const char *key = jv_obj_key(it);
        const jv *v = jv_obj_value(it);
        if (strcmp(key, "package") == 0 || strcmp(key, "options") == 0)
            continue;
        if (is_element_member(key) && jv_is_array(v)) {
            jv *arr = jv_new_array();
            for (size_t i = 0; i < jv_len(v); i++) {
                if ((v == svcs && rm_s[i]) || (v == types && rm_t[i]))
                    continue;
                jv_push_take(arr, rewrite(jv_at(v, i), &map));
            }
            jv_set_take(out, key, arr);
        } else {
            jv_set_take(out, key, package_never_ref(key) ? jv_copy(v) : rewrite(v, &map));
        }
    }
    if (remap) {
        const char *new_flow = idmap_get(&map, flow_id);
        jv *id = jv_new_object();
        jv_set_str(id, "id", new_flow);
        uuid_v4(fresh);
        jv_set_str(id, "versionId", fresh);
        jv_set_take(out, "id", id);
    }

    /* 4. the target's bound elements, and what they reference */
    jv *kept = jv_new_object();
    idmap index = {0}, present = {0};
    size_t npool = 0;
    pool_ent *ents = index_pool(target, &index, &npool);
    for (size_t k = 0; k < PACKAGE_NKINDS; k++) {
        const jv *arr = jv_get(out, package_kinds[k].member);
        for (size_t i = 0; i < jv_len(arr); i++) {
            const char *id = plain_str(jv_get(jv_at(arr, i), "id"));
            if (id && *id)
                idmap_put(&present, id, NULL);
        }
    }
    pull_ctx pc = {.index = &index, .present = &present, .out = out, .kept = kept};
    for (size_t i = 0; i < nbound; i++) {
        pool_ent *p = idmap_get(&index, plain_str(jv_get(bound_els[i], "id")));
        if (p)
            add_target(&pc, p, true);
    }
    while (pc.nwork > 0) {
        pool_ent *p = pc.work[--pc.nwork];
        walk_strings(p->el, pull_string, &pc);
    }
    free(pc.work);

    /* 5. uriMapping on the package's own services */
    jv *mapped = jv_new_array();
    jv *osvcs = jv_get(out, "serviceElements");
    for (size_t i = 0; o->uri_mapping && i < jv_len(osvcs); i++) {
        jv *s = jv_at(osvcs, i);
        const char *id = plain_str(jv_get(s, "id")), *uri = plain_str(jv_get(s, "uri"));
        if (!jv_is_object(s) || !uri || (id && jv_get(kept, id)))
            continue;
        char *to = map_uri(o->uri_mapping, uri);
        if (!to)
            continue;
        jv *m = jv_new_object();
        jv_set_str(m, "developerName", plain_str(jv_get(s, "developerName")));
        jv_set_str(m, "id", id);
        jv_set_str(m, "from", uri);
        jv_set_str(m, "to", to);
        jv_push_take(mapped, m);
        jv_set_str(s, "uri", to);
        free(to);
    }

    res->flow_id = xstrdup(flow_id_of(out) ? flow_id_of(out) : flow_id);
    res->doc = out;
    res->remapped = remap;
    res->bound = bound;
    res->uri_mapped = mapped;
    res->kept = kept;
    free(ents);
    idmap_free(&index, false);
    idmap_free(&present, false);
    idmap_free(&map, true);
    free(rm_s);
    free(rm_t);
    free(bound_els);
    return 0;
}

/* ---- export, header, summary ---- */

jv *package_export(const jv *snapshot, const char *tenant_id, const char *version_id, int64_t now_ms_value)
{
    jv *out = jv_new_object();
    for (void *it = jv_obj_iter(snapshot); it; it = jv_obj_next(snapshot, it)) {
        const char *key = jv_obj_key(it);
        if (strcmp(key, "package") != 0 && strcmp(key, "options") != 0)
            jv_set_take(out, key, jv_copy(jv_obj_value(it)));
    }
    jv *svcs = jv_get(out, "serviceElements");
    for (size_t i = 0; i < jv_len(svcs); i++)
        if (jv_is_object(jv_at(svcs, i)))
            jv_set_null(jv_at(svcs, i), "httpAuthenticationPassword");
    jv *vals = jv_get(out, "valueElements");
    for (size_t i = 0; i < jv_len(vals); i++) {
        jv *v = jv_at(vals, i);
        if (jv_is_object(v) && str_ieq(jv_get_str(v, "contentType"), "ContentPassword"))
            jv_set_null(v, "defaultContentValue");
    }
    jv *p = jv_new_object();
    char when[25];
    time_iso8601(now_ms_value, when);
    jv_set_str(p, "format", PACKAGE_FORMAT);
    jv_set_str(p, "exportedAt", when);
    jv_set_str(p, "sourceTenant", tenant_id);
    jv_set_str(p, "sourceVersion", version_id);
    jv_set_take(out, "package", p);
    return out;
}

jv *package_header(const jv *snapshot)
{
    jv *h = jv_new_object();
    const char *flow_id = flow_id_of(snapshot);
    for (void *it = jv_obj_iter(snapshot); it; it = jv_obj_next(snapshot, it)) {
        const char *key = jv_obj_key(it);
        if (is_element_member(key) || strcmp(key, "package") == 0 || strcmp(key, "options") == 0 ||
            strcmp(key, "id") == 0)
            continue;
        jv_set_take(h, key, jv_copy(jv_obj_value(it)));
    }
    jv *id = jv_new_object();
    jv_set_str(id, "id", flow_id);
    jv_set_null(id, "versionId");
    jv_set_take(h, "id", id);
    return h;
}

jv *package_summary(const jv *snapshot)
{
    jv *s = jv_new_object();
    for (size_t k = 0; k < PACKAGE_NKINDS; k++) {
        const jv *arr = jv_get(snapshot, package_kinds[k].member);
        if (!jv_len(arr))
            continue;
        jv *list = jv_new_array();
        for (size_t i = 0; i < jv_len(arr); i++) {
            const jv *e = jv_at(arr, i);
            jv *x = jv_new_object();
            jv_set_str(x, "id", jv_get_str(e, "id"));
            jv_set_str(x, "developerName", jv_get_str(e, "developerName"));
            jv_push_take(list, x);
        }
        jv_set_take(s, package_kinds[k].kind, list);
    }
    return s;
}

/* ---- assembly (draw API snapshots) ---- */

typedef struct mark_ctx {
    idmap *index;
    idmap *value_names; /* value developerName → pool_ent */
    pool_ent **work;
    size_t nwork, capwork;
} mark_ctx;

static void mark_ent(mark_ctx *c, pool_ent *p)
{
    if (!p || p->in)
        return;
    p->in = true;
    if (c->nwork == c->capwork) {
        c->capwork = c->capwork ? c->capwork * 2 : 16;
        c->work = xrealloc(c->work, c->capwork * sizeof *c->work);
    }
    c->work[c->nwork++] = p;
}

static void mark_string(void *arg, const char *s)
{
    mark_ctx *c = arg;
    mark_ent(c, idmap_get(c->index, s));
    /* values named in content: {![Name]} and {![Name].[Property]} */
    for (const char *p = strstr(s, "{!["); p && c->value_names->n; p = strstr(p, "{![")) {
        p += 3;
        const char *end = strchr(p, ']');
        if (!end)
            break;
        if (end - p > 0 && end - p < 256) {
            char name[256];
            memcpy(name, p, (size_t)(end - p));
            name[end - p] = '\0';
            mark_ent(c, idmap_get(c->value_names, name));
        }
        p = end;
    }
}

typedef struct hit_ctx {
    const idmap *ids;
    bool hit;
} hit_ctx;

static void hit_string(void *arg, const char *s)
{
    hit_ctx *c = arg;
    if (idmap_has(c->ids, s))
        c->hit = true;
}

jv *package_assemble(const jv *draft, const jv *flow, const jv *pool, const char *version_id)
{
    jv *out = jv_new_object();
    const char *flow_id = flow_id_of(draft);
    jv *id = jv_new_object();
    jv_set_str(id, "id", flow_id);
    jv_set_str(id, "versionId", version_id);
    jv_set_take(out, "id", id);
    for (void *it = jv_obj_iter(draft); it; it = jv_obj_next(draft, it)) {
        const char *key = jv_obj_key(it);
        if (strcmp(key, "id") == 0 || strcmp(key, "editingToken") == 0 || is_element_member(key) ||
            strcmp(key, "package") == 0 || strcmp(key, "options") == 0)
            continue;
        jv_set_take(out, key, jv_copy(jv_obj_value(it)));
    }

    idmap index = {0};
    size_t npool = 0;
    pool_ent *ents = index_pool(pool, &index, &npool);
    idmap value_names = {0};
    for (size_t i = 0; i < npool; i++) {
        const char *vn = plain_str(jv_get(ents[i].el, "developerName"));
        if (strcmp(ents[i].kind->kind, "value") == 0 && vn && *vn)
            idmap_put(&value_names, vn, &ents[i]);
    }
    mark_ctx mc = {.index = &index, .value_names = &value_names};
    const jv *maps = jv_get(flow, "map"), *groups = jv_get(flow, "group");
    walk_strings(draft, mark_string, &mc);
    walk_strings(maps, mark_string, &mc);
    walk_strings(groups, mark_string, &mc);
    /* navigation elements pointing at this flow's map elements */
    idmap map_ids = {0};
    for (size_t i = 0; i < jv_len(maps); i++) {
        const char *mid = plain_str(jv_get(jv_at(maps, i), "id"));
        if (mid && *mid)
            idmap_put(&map_ids, mid, NULL);
    }
    for (size_t i = 0; i < npool; i++) {
        if (ents[i].in || strcmp(ents[i].kind->kind, "navigation") != 0)
            continue;
        hit_ctx hc = {&map_ids, false};
        walk_strings(ents[i].el, hit_string, &hc);
        if (hc.hit)
            mark_ent(&mc, &ents[i]);
    }
    idmap_free(&map_ids, false);
    while (mc.nwork > 0) {
        pool_ent *p = mc.work[--mc.nwork];
        walk_strings(p->el, mark_string, &mc);
    }
    free(mc.work);
    idmap_free(&value_names, false);

    jv_set_take(out, "mapElements", jv_is_array(maps) ? jv_copy(maps) : jv_new_array());
    jv_set_take(out, "groupElements", jv_is_array(groups) ? jv_copy(groups) : jv_new_array());
    for (size_t k = 0; k < PACKAGE_NKINDS; k++) {
        if (package_kinds[k].flow_scoped)
            continue;
        jv *arr = jv_new_array();
        for (size_t i = 0; i < npool; i++)
            if (ents[i].in && ents[i].kind == &package_kinds[k])
                jv_push_take(arr, jv_copy(ents[i].el));
        jv_set_take(out, package_kinds[k].member, arr);
    }
    free(ents);
    idmap_free(&index, false);
    return out;
}

/* ---- reference checks ---- */

enum { REF_SERVICE, REF_TYPE, REF_MACRO, REF_VALUE, REF_COUNT };

static int ref_kind(const char *key)
{
    static const char *const value_refs[] = {
        "valueElementToReferenceId",          "valueElementToApplyId",
        "valueElementValueBindingReferenceId", "valueElementDataBindingReferenceId",
        "leftValueElementToReferenceId",      "rightValueElementToReferenceId",
        "filterId",
    };
    if (strcmp(key, "serviceElementId") == 0)
        return REF_SERVICE;
    if (strcmp(key, "typeElementId") == 0)
        return REF_TYPE;
    if (strcmp(key, "macroElementToExecuteId") == 0)
        return REF_MACRO;
    for (size_t i = 0; i < sizeof value_refs / sizeof value_refs[0]; i++)
        if (strcmp(key, value_refs[i]) == 0)
            return REF_VALUE;
    return -1;
}

typedef struct check_ctx {
    idmap sets[REF_COUNT];
    sl_problems *problems;
    const char *file;
    size_t added;
} check_ctx;

static void check_walk(check_ctx *c, const jv *v, const char *ptr, int depth)
{
    static const char *const what[REF_COUNT] = {"service", "type", "macro", "value"};
    static const char *const member[REF_COUNT] = {"serviceElements", "typeElements", "macroElements",
                                                  "valueElements"};
    if (depth > 64)
        return;
    if (jv_is_array(v)) {
        for (size_t i = 0; i < jv_len(v); i++) {
            char *p = pointer_join_index(ptr, i);
            check_walk(c, jv_at(v, i), p, depth + 1);
            free(p);
        }
        return;
    }
    if (!jv_is_object(v))
        return;
    for (void *it = jv_obj_iter(v); it; it = jv_obj_next(v, it)) {
        const char *key = jv_obj_key(it);
        const jv *val = jv_obj_value(it);
        if (strcmp(key, "install") == 0)
            continue;
        char *p = pointer_join(ptr, key);
        int rk = ref_kind(key);
        const char *id = rk < 0 ? NULL : jv_is_object(val) ? plain_str(jv_get(val, "id")) : plain_str(val);
        if (id && *id && !is_reserved(id) && !idmap_has(&c->sets[rk], id)) {
            char *at = jv_is_object(val) ? pointer_join(p, "id") : xstrdup(p);
            char snip[64];
            problems_add(c->problems, c->file, at, "%s \"%s\" is not one of the snapshot's %s", what[rk],
                         str_snip(id, strlen(id), snip), member[rk]);
            free(at);
            c->added++;
        }
        check_walk(c, val, p, depth + 1);
        free(p);
    }
}

size_t package_check_refs(const jv *snapshot, const char *file, sl_problems *problems)
{
    check_ctx c = {.problems = problems, .file = file ? file : ""};
    static const char *const members[REF_COUNT] = {"serviceElements", "typeElements", "macroElements",
                                                   "valueElements"};
    for (int r = 0; r < REF_COUNT; r++) {
        const jv *arr = jv_get(snapshot, members[r]);
        for (size_t i = 0; i < jv_len(arr); i++) {
            const char *id = plain_str(jv_get(jv_at(arr, i), "id"));
            if (id && *id)
                idmap_put(&c.sets[r], id, NULL);
        }
    }
    for (size_t k = 0; k < PACKAGE_NKINDS; k++) {
        const jv *arr = jv_get(snapshot, package_kinds[k].member);
        char base[64];
        snprintf(base, sizeof base, "/%s", package_kinds[k].member);
        if (jv_is_array(arr))
            check_walk(&c, arr, base, 0);
    }
    for (int r = 0; r < REF_COUNT; r++)
        idmap_free(&c.sets[r], false);
    return c.added;
}

/* ---- import into the store ---- */

int package_tenant_pool(flowstore *fs, const char *tenant_id, jv **pool, sl_error *err)
{
    *pool = jv_new_object();
    for (size_t k = 0; k < PACKAGE_NKINDS; k++) {
        if (package_kinds[k].flow_scoped)
            continue;
        jv *list = NULL;
        int rc = flowstore_element_list(fs, tenant_id, package_kinds[k].kind, NULL, &list, err);
        if (rc) {
            jv_free(*pool);
            *pool = NULL;
            return rc;
        }
        jv_set_take(*pool, package_kinds[k].kind, list);
    }
    return 0;
}

static void warn(jv *warnings, const char *pointer, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void warn(jv *warnings, const char *pointer, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_trim_tail(msg);
    jv *w = jv_new_object();
    jv_set_str(w, "pointer", pointer);
    jv_set_str(w, "message", msg);
    jv_push_take(warnings, w);
}

/* Stores a version's elements as the flow's editable ones. */
static void store_elements(flowstore *fs, const char *tenant_id, const char *flow_id, const jv *doc, const jv *kept,
                           jv *warnings)
{
    sl_error err = {0};
    for (size_t k = 0; k < PACKAGE_NKINDS; k++) {
        const package_kind *kind = &package_kinds[k];
        const jv *arr = jv_get(doc, kind->member);
        if (kind->flow_scoped) { /* drop the flow's elements this version no longer has */
            idmap ids = {0};
            for (size_t i = 0; i < jv_len(arr); i++) {
                const char *id = plain_str(jv_get(jv_at(arr, i), "id"));
                if (id)
                    idmap_put(&ids, id, NULL);
            }
            jv *old = NULL;
            if (flowstore_element_list(fs, tenant_id, kind->kind, flow_id, &old, &err) == 0)
                for (size_t i = 0; i < jv_len(old); i++) {
                    const char *id = jv_get_str(jv_at(old, i), "id");
                    if (id && !idmap_has(&ids, id))
                        flowstore_element_delete(fs, tenant_id, kind->kind, id, &err);
                }
            jv_free(old);
            idmap_free(&ids, false);
        }
        for (size_t i = 0; i < jv_len(arr); i++) {
            const jv *e = jv_at(arr, i);
            const char *id = plain_str(jv_get(e, "id"));
            if (!id || (!kind->flow_scoped && jv_get(kept, id)))
                continue;
            jv *copy = jv_copy(e);
            if (flowstore_element_put(fs, tenant_id, kind->kind, kind->flow_scoped ? flow_id : NULL, copy, &err) != 0) {
                char ptr[96];
                snprintf(ptr, sizeof ptr, "/%s/%zu", kind->member, i);
                warn(warnings, ptr, "not stored as an editable %s element: %s", kind->kind, err.msg);
            }
            jv_free(copy);
        }
    }
}

int package_import(flowstore *fs, const char *tenant_id, const jv *doc, const package_options *o, const char *file,
                   jv **result, sl_problems *problems, sl_error *err)
{
    *result = NULL;
    file = file ? file : "";
    package_options defaults = {.remap_ids = -1, .bind = -1};
    if (!o)
        o = &defaults;
    jv *pool = NULL, *warnings = jv_new_array();
    package_result pr = {0};
    flow_snapshot *snap = NULL;
    char *text = NULL, *flow_id = NULL;
    char vid[37];
    sl_problems links;
    problems_init(&links);
    int rc = package_tenant_pool(fs, tenant_id, &pool, err);
    if (rc)
        goto out;
    if ((rc = package_transform(doc, tenant_id, o, pool, &pr, err)) != 0) {
        problems_add(problems, file, err->where, "%s", err->msg);
        goto out;
    }
    if ((rc = snapshot_parse(pr.doc, file, &snap, problems)) != 0) {
        sl_fail(err, SL_EINVAL, problems->n ? problems->items[0].pointer : "", "the snapshot is not valid");
        goto out;
    }
    if (snapshot_check_links(snap, file, &links) > 0) {
        for (size_t i = 0; i < links.n; i++) {
            if (o->strict)
                problems_add(problems, links.items[i].file, links.items[i].pointer, "%s", links.items[i].message);
            else
                warn(warnings, links.items[i].pointer, "%s", links.items[i].message);
        }
        if (o->strict) {
            rc = sl_fail(err, SL_EINVAL, links.items[0].pointer, "the snapshot has references that lead nowhere");
            goto out;
        }
    }
    text = jv_dumps(pr.doc);
    if ((rc = flowstore_flow_import(fs, tenant_id, text, &flow_id, vid, err)) != 0)
        goto out;

    /* the flow's draft: the version's header, keeping the editing token and creation date */
    jv *header = package_header(pr.doc), *old = NULL;
    sl_error e2 = {0};
    char when[25], token[37];
    time_iso8601(now_ms(), when);
    if (flowstore_flow_draft_get(fs, tenant_id, flow_id, &old, &e2) == 0 && jv_get_str(old, "editingToken")) {
        jv_set_str(header, "editingToken", jv_get_str(old, "editingToken"));
        if (jv_get_str(old, "dateCreated"))
            jv_set_str(header, "dateCreated", jv_get_str(old, "dateCreated"));
    } else {
        uuid_v4(token);
        jv_set_str(header, "editingToken", token);
        jv_set_str(header, "dateCreated", when);
    }
    jv_set_str(header, "dateModified", when);
    jv_free(old);
    if (flowstore_flow_draft_put(fs, tenant_id, flow_id, header, &e2) != 0)
        warn(warnings, "", "the flow's draft was not stored: %s", e2.msg);
    jv_free(header);
    store_elements(fs, tenant_id, flow_id, pr.doc, pr.kept, warnings);

    jv *r = jv_new_object();
    jv_set_str(r, "flowId", flow_id);
    jv_set_str(r, "versionId", vid);
    jv_set_str(r, "snapshotVersionId", snap->version_id);
    jv_set_str(r, "developerName", snap->name);
    jv_set_bool(r, "remappedIds", pr.remapped);
    jv_set_take(r, "elements", package_summary(pr.doc));
    jv_set(r, "bound", pr.bound);
    jv_set(r, "uriMapped", pr.uri_mapped);
    jv_set(r, "warnings", warnings);
    *result = r;
out:
    problems_free(&links);
    snapshot_free(snap);
    free(text);
    free(flow_id);
    package_result_free(&pr);
    jv_free(pool);
    jv_free(warnings);
    return rc;
}
