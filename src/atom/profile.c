/* profile: parsing/validation of profile components, Flow type generation (describe) and the
 * conversions between Flow EngineValues and profile-shaped JSON documents.
 *
 * Design notes:
 *  - profile_parse walks the component document once, building the element tree while it
 *    validates; every finding is reported (with an exact JSON pointer) and validation carries on,
 *    so one deploy shows all problems. The half-built tree is thrown away if anything was found.
 *  - Type naming is one deterministic pre-order walk over the complex (Object/Array) elements
 *    below the root ("namer"). An element claims "<prefix> - <name>", or the first of "_1", "_2", …
 *    that is free; a name already claimed by a structurally identical element (same child names,
 *    content types and nested shapes) is shared, which is exactly "identical properties" since
 *    equal shapes always resolve to equal nested names. Types already in the caller's `types`
 *    array before the call are compared against the element structurally as well. The same walk
 *    (without emitting JSON) gives profile_doc_to_outputs its type names, so both always agree.
 *  - Conversions recurse along the profile (depth <= PROFILE_MAX_DEPTH), never along the input,
 *    so hostile input cannot drive the recursion. Errors carry a JSON pointer into the request
 *    (inputs → document) or into the document (document → outputs).
 */
#include "atom/profile.h"

#include <inttypes.h>
#include <stdarg.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* small helpers                                                                               */

static const char *const TYPE_NAMES[] = {"Character", "Number", "Boolean", "DateTime", "Object", "Array"};
static const char *const CONTENT_TYPES[] = {"ContentString", "ContentNumber", "ContentBoolean",
                                            "ContentDateTime", "ContentObject", "ContentList"};
#define PE_NTYPES (sizeof TYPE_NAMES / sizeof TYPE_NAMES[0])

const char *pe_type_name(pe_type t)
{
    return (unsigned)t < PE_NTYPES ? TYPE_NAMES[t] : "?";
}

const char *pe_content_type(pe_type t)
{
    return (unsigned)t < PE_NTYPES ? CONTENT_TYPES[t] : "?";
}

static bool pe_is_complex(pe_type t)
{
    return t == PE_OBJECT || t == PE_ARRAY;
}

static bool type_from_name(const char *s, pe_type *out)
{
    for (size_t i = 0; s && i < PE_NTYPES; i++) {
        if (strcmp(s, TYPE_NAMES[i]) == 0) {
            *out = (pe_type)i;
            return true;
        }
    }
    return false;
}

/* A string value without embedded NUL, so it is safe to use as a C string. */
static const char *plain_str(const jv *v)
{
    const char *s = jv_str(v);
    if (!s || strlen(s) != jv_str_len(v))
        return NULL;
    return s;
}

/* Member of an object, or NULL for a missing member or a non-object. */
static jv *member(const jv *obj, const char *key)
{
    return jv_is_object(obj) ? jv_get(obj, key) : NULL;
}

static const char *member_str(const jv *obj, const char *key)
{
    return jv_is_object(obj) ? jv_get_str(obj, key) : NULL;
}

/* Copies at most ~48 bytes of s into out for messages, cut on a UTF-8 boundary ("…" when cut). */
static const char *snippet(const char *s, char out[64])
{
    return str_snip(s, strlen(s), out);
}

/* ------------------------------------------------------------------------------------------ */
/* tree basics                                                                                 */

static void elem_free(profile_elem *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nchildren; i++)
        elem_free(e->children[i]);
    free(e->children);
    free(e->name);
    free(e->description);
    free(e);
}

void profile_free(profile *p)
{
    if (!p)
        return;
    elem_free(p->root);
    free(p->name);
    free(p->description);
    free(p);
}

const profile_elem *profile_child(const profile_elem *e, const char *name)
{
    if (!e || !name)
        return NULL;
    for (size_t i = 0; i < e->nchildren; i++)
        if (e->children[i] && str_eq(e->children[i]->name, name))
            return e->children[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* parsing                                                                                     */

typedef struct {
    const char *file;
    sl_problems *pr;
    size_t count;        /* elements seen */
    bool count_reported; /* the element limit is reported once */
} parse_ctx;

static void problem_at(parse_ctx *cx, const char *base, const char *token, const char *msg)
{
    if (token) {
        char *ptr = pointer_join(base, token);
        problems_add(cx->pr, cx->file, ptr, "%s", msg);
        free(ptr);
    } else {
        problems_add(cx->pr, cx->file, base, "%s", msg);
    }
}

/* Reports members of obj not in `known` (NULL-terminated). */
static void check_members(parse_ctx *cx, const jv *obj, const char *ptr, const char *const *known,
                          const char *what)
{
    for (void *it = jv_obj_iter(obj); it; it = jv_obj_next(obj, it)) {
        const char *key = jv_obj_key(it);
        bool ok = false;
        for (size_t i = 0; known[i]; i++)
            if (strcmp(key, known[i]) == 0)
                ok = true;
        if (!ok) {
            char sn[64], msg[160];
            snprintf(msg, sizeof msg, "unknown member \"%s\" in %s", snippet(key, sn), what);
            problem_at(cx, ptr, key, msg);
        }
    }
}

/* A control character (C0, DEL or C1 U+0080..U+009F) starts at s (NUL-terminated UTF-8). */
static bool is_control_at(const unsigned char *s)
{
    return s[0] < 0x20 || s[0] == 0x7F || (s[0] == 0xC2 && s[1] >= 0x80 && s[1] <= 0x9F);
}

/* The component name: 1-100 characters (code points), no control characters. */
static void check_component_name(parse_ctx *cx, const jv *v)
{
    if (!v) {
        problem_at(cx, "", NULL, "missing required member \"name\"");
        return;
    }
    if (!jv_is_string(v)) {
        problem_at(cx, "/name", NULL, "name must be a string");
        return;
    }
    const unsigned char *s = (const unsigned char *)jv_str(v);
    size_t n = jv_str_len(v), chars = 0;
    bool control = false;
    for (size_t i = 0; i < n; i++) {
        if (is_control_at(s + i))
            control = true;
        if ((s[i] & 0xC0) != 0x80)
            chars++;
    }
    if (chars < 1 || chars > 100)
        problem_at(cx, "/name", NULL, "name must be 1 to 100 characters long");
    if (control)
        problem_at(cx, "/name", NULL, "name must not contain control characters");
}

static profile_elem *parse_elem(parse_ctx *cx, const jv *v, const char *ptr, int depth, bool is_root);

static const char *const ELEM_MEMBERS[] = {"name", "type", "children", "description", NULL};

/* Validates and builds the children of an element; also checks sibling name uniqueness. */
static void parse_children(parse_ctx *cx, profile_elem *e, const jv *ch, const char *ptr, int depth)
{
    size_t n = jv_len(ch);
    e->children = xcalloc(n ? n : 1, sizeof *e->children);
    e->nchildren = n;
    for (size_t i = 0; i < n; i++) {
        char *cptr = pointer_join_index(ptr, i);
        e->children[i] = parse_elem(cx, jv_at(ch, i), cptr, depth + 1, false);
        free(cptr);
    }
    /* Duplicate names, judged on the raw JSON so they are found even in broken siblings. */
    const jv **names = xcalloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; i < n; i++) {
        const jv *nm = member(jv_at(ch, i), "name");
        names[i] = jv_is_string(nm) && jv_str_len(nm) > 0 ? nm : NULL;
    }
    for (size_t i = 1; i < n; i++) {
        if (!names[i])
            continue;
        size_t len = jv_str_len(names[i]);
        for (size_t j = 0; j < i; j++) {
            if (names[j] && jv_str_len(names[j]) == len &&
                memcmp(jv_str(names[j]), jv_str(names[i]), len) == 0) {
                char *iptr = pointer_join_index(ptr, i), *nptr = pointer_join(iptr, "name");
                char *jptr = pointer_join_index(ptr, j), sn[64];
                problems_add(cx->pr, cx->file, nptr, "duplicate element name \"%s\" (also at %s)",
                             snippet(jv_str(names[i]), sn), jptr);
                free(iptr);
                free(nptr);
                free(jptr);
                break;
            }
        }
    }
    free(names);
}

static profile_elem *parse_elem(parse_ctx *cx, const jv *v, const char *ptr, int depth, bool is_root)
{
    if (++cx->count > PROFILE_MAX_ELEMENTS) {
        if (!cx->count_reported) {
            char msg[96];
            snprintf(msg, sizeof msg, "a profile may have at most %d elements", PROFILE_MAX_ELEMENTS);
            problem_at(cx, ptr, NULL, msg);
            cx->count_reported = true;
        }
        return NULL;
    }
    if (depth > PROFILE_MAX_DEPTH) {
        char msg[96];
        snprintf(msg, sizeof msg, "elements may nest at most %d levels deep", PROFILE_MAX_DEPTH);
        problem_at(cx, ptr, NULL, msg);
        return NULL;
    }
    if (!jv_is_object(v)) {
        problem_at(cx, ptr, NULL, "an element must be a JSON object");
        return NULL;
    }
    check_members(cx, v, ptr, ELEM_MEMBERS, "an element");
    profile_elem *e = xcalloc(1, sizeof *e);

    const jv *name = jv_get(v, "name");
    if (!name)
        problem_at(cx, ptr, NULL, "missing required member \"name\"");
    else if (!jv_is_string(name) || jv_str_len(name) == 0)
        problem_at(cx, ptr, "name", "name must be a non-empty string");
    else if (!plain_str(name))
        problem_at(cx, ptr, "name", "name must not contain NUL characters");
    else if (strchr(jv_str(name), '/') || str_ends(jv_str(name), "[]"))
        problem_at(cx, ptr, "name", "an element name cannot contain '/' or end in \"[]\" (paths could not name it)");
    else
        e->name = xstrdup(jv_str(name));

    const jv *type = jv_get(v, "type");
    bool type_ok = false;
    if (!type) {
        problem_at(cx, ptr, NULL, "missing required member \"type\"");
    } else if (!jv_is_string(type)) {
        problem_at(cx, ptr, "type", "type must be a string (Character, Number, Boolean, DateTime, Object or Array)");
    } else if (!type_from_name(plain_str(type), &e->type)) {
        char msg[200], sn[64];
        snprintf(msg, sizeof msg,
                 "unknown element type \"%s\" (expected Character, Number, Boolean, DateTime, Object or Array)",
                 snippet(jv_str(type), sn));
        problem_at(cx, ptr, "type", msg);
    } else {
        type_ok = true;
        if (is_root && e->type != PE_OBJECT)
            problem_at(cx, ptr, "type", "the root element must be an Object");
    }

    const jv *desc = jv_get(v, "description");
    if (desc && !jv_is_string(desc))
        problem_at(cx, ptr, "description", "description must be a string");
    else if (desc)
        e->description = xstrdup(jv_str(desc));

    const jv *ch = jv_get(v, "children");
    bool complex = type_ok && pe_is_complex(e->type);
    if (type_ok && !complex && ch) {
        char msg[96];
        snprintf(msg, sizeof msg, "a %s element cannot have children", pe_type_name(e->type));
        problem_at(cx, ptr, "children", msg);
    } else if (complex && !ch) {
        char msg[96];
        snprintf(msg, sizeof msg, "an %s element needs \"children\"", pe_type_name(e->type));
        problem_at(cx, ptr, NULL, msg);
    } else if (ch) { /* complex, or type unknown: still check what is there */
        char *chptr = pointer_join(ptr, "children");
        if (!jv_is_array(ch))
            problem_at(cx, chptr, NULL, "children must be an array of elements");
        else if (jv_len(ch) == 0 && complex)
            problem_at(cx, chptr, NULL, "children must not be empty");
        else
            parse_children(cx, e, ch, chptr, depth);
        free(chptr);
    }
    return e;
}

static size_t problem_count(const sl_problems *pr)
{
    return pr->n + pr->dropped;
}

int profile_parse(const jv *doc, const char *file, profile **out, sl_problems *problems)
{
    sl_problems local;
    bool own = !problems;
    if (own) {
        problems_init(&local);
        problems = &local;
    }
    parse_ctx cx = {.file = file ? file : "", .pr = problems};
    size_t before = problem_count(problems);
    profile *p = xcalloc(1, sizeof *p);

    if (!jv_is_object(doc)) {
        problem_at(&cx, "", NULL, "a component must be a JSON object");
    } else {
        static const char *const members[] = {"component", "name", "description", "root", NULL};
        check_members(&cx, doc, "", members, "a profile");

        const jv *comp = jv_get(doc, "component");
        if (!comp)
            problem_at(&cx, "", NULL, "missing required member \"component\"");
        else if (!str_eq(plain_str(comp), "profile"))
            problem_at(&cx, "/component", NULL, "component must be \"profile\"");

        const jv *name = jv_get(doc, "name");
        check_component_name(&cx, name);
        if (jv_is_string(name))
            p->name = xstrdup(jv_str(name));

        const jv *desc = jv_get(doc, "description");
        if (desc && !jv_is_string(desc))
            problem_at(&cx, "/description", NULL, "description must be a string");
        else if (desc)
            p->description = xstrdup(jv_str(desc));

        const jv *root = jv_get(doc, "root");
        if (!root)
            problem_at(&cx, "", NULL, "missing required member \"root\"");
        else
            p->root = parse_elem(&cx, root, "/root", 1, true);
    }

    int rc = 0;
    if (problem_count(problems) != before || !p->root) {
        profile_free(p);
        rc = SL_EINVAL;
    } else {
        *out = p;
    }
    if (own)
        problems_free(&local);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* type naming (shared by describe and doc → outputs)                                          */

typedef struct {
    const profile_elem *elem;
    char *name;  /* owned */
    jv *type;    /* the TypeElement this entry emits (describe, owner entries only), or NULL */
} name_entry;

/* Hash index of the names in use: a name owned by an entry of this call, or a type that was in
 * the caller's array before it (the first of a name wins in both cases). */
typedef struct {
    const char *name; /* NULL = free slot */
    size_t entry;     /* owning entry, when existing is NULL */
    const jv *existing;
} name_slot;

typedef struct {
    name_entry *v;
    size_t n, cap;
    name_slot *slots;
    size_t nslots, used; /* nslots is a power of two */
    const char *prefix;
    const char *profile_name;
    const jv *types;   /* caller's types (describe) or NULL */
    size_t n_existing; /* types[0..n_existing) existed before this call */
    bool emit;         /* build TypeElements */
} namer;

static void namer_free(namer *nm)
{
    for (size_t i = 0; i < nm->n; i++) {
        free(nm->v[i].name);
        jv_free(nm->v[i].type);
    }
    free(nm->v);
    free(nm->slots);
}

static size_t name_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)h;
}

static name_slot *slot_find(const namer *nm, const char *name)
{
    if (!nm->nslots || !name)
        return NULL;
    for (size_t i = name_hash(name) & (nm->nslots - 1);; i = (i + 1) & (nm->nslots - 1)) {
        if (!nm->slots[i].name)
            return NULL;
        if (strcmp(nm->slots[i].name, name) == 0)
            return &nm->slots[i];
    }
}

/* Adds name unless present (the first one wins). */
static void slot_add(namer *nm, const char *name, size_t entry, const jv *existing)
{
    if (slot_find(nm, name))
        return;
    if ((nm->used + 1) * 2 > nm->nslots) {
        name_slot *old = nm->slots;
        size_t oldn = nm->nslots;
        nm->nslots = oldn ? oldn * 2 : 64;
        nm->slots = xcalloc(nm->nslots, sizeof *nm->slots);
        nm->used = 0;
        for (size_t i = 0; i < oldn; i++)
            if (old[i].name)
                slot_add(nm, old[i].name, old[i].entry, old[i].existing);
        free(old);
    }
    size_t i = name_hash(name) & (nm->nslots - 1);
    while (nm->slots[i].name)
        i = (i + 1) & (nm->nslots - 1);
    nm->slots[i] = (name_slot){name, entry, existing};
    nm->used++;
}

static void namer_init(namer *nm, const char *prefix, const char *profile_name, const jv *types, bool emit)
{
    *nm = (namer){.prefix = prefix ? prefix : "", .profile_name = profile_name ? profile_name : "",
                  .types = types, .n_existing = jv_len(types), .emit = emit};
    for (size_t i = 0; i < nm->n_existing; i++) {
        const jv *t = jv_at(types, i);
        const char *name = member_str(t, "developerName");
        if (name)
            slot_add(nm, name, 0, t);
    }
}

static name_entry *namer_add(namer *nm, const profile_elem *e, const char *name)
{
    if (nm->n == nm->cap) {
        nm->cap = nm->cap ? nm->cap * 2 : 16;
        nm->v = xrealloc(nm->v, nm->cap * sizeof *nm->v);
    }
    name_entry *en = &nm->v[nm->n];
    en->elem = e;
    en->name = xstrdup(name);
    en->type = NULL;
    slot_add(nm, en->name, nm->n, NULL);
    nm->n++;
    return en;
}

/* Same type shape: same children (names and content types), nested shapes the same. */
static bool shape_equal(const profile_elem *a, const profile_elem *b)
{
    if (a == b)
        return true;
    if (a->nchildren != b->nchildren)
        return false;
    for (size_t i = 0; i < a->nchildren; i++) {
        const profile_elem *x = a->children[i], *y = b->children[i];
        if (!str_eq(x->name, y->name) || pe_content_type(x->type) != pe_content_type(y->type))
            return false;
        if (pe_is_complex(x->type) && !shape_equal(x, y))
            return false;
    }
    return true;
}

static const jv *existing_type(const namer *nm, const char *name)
{
    const name_slot *sl = slot_find(nm, name);
    return sl ? sl->existing : NULL;
}

/* Does a type that was already in `types` describe element e (recursively through the types
 * it references)? */
static bool existing_matches(const namer *nm, const jv *type, const profile_elem *e)
{
    const jv *props = member(type, "properties");
    if (!jv_is_array(props) || jv_len(props) != e->nchildren)
        return false;
    for (size_t i = 0; i < e->nchildren; i++) {
        const profile_elem *c = e->children[i];
        const jv *pr = jv_at(props, i);
        if (!str_eq(member_str(pr, "developerName"), c->name) ||
            !str_eq(member_str(pr, "contentType"), pe_content_type(c->type)))
            return false;
        if (!pe_is_complex(c->type)) {
            if (!jv_is_null(member(pr, "typeElementDeveloperName")))
                return false;
            continue;
        }
        const jv *sub = existing_type(nm, member_str(pr, "typeElementDeveloperName"));
        if (!sub || !existing_matches(nm, sub, c))
            return false;
    }
    return true;
}

/* The entry owning name in this call, or NULL. */
static name_entry *namer_by_name(namer *nm, const char *name)
{
    const name_slot *sl = slot_find(nm, name);
    return sl && !sl->existing ? &nm->v[sl->entry] : NULL;
}

static jv *new_type(const char *name, const char *summary)
{
    jv *t = jv_new_object();
    jv_set_str(t, "elementType", "TYPE");
    jv_set_str(t, "developerName", name);
    jv_set_str(t, "developerSummary", summary);
    jv_set_null(t, "id");
    jv_set_null(t, "serviceElementId");
    jv_set_bool(t, "updateByName", false);
    jv_set_take(t, "properties", jv_new_array());
    jv_set_take(t, "bindings", jv_new_array());
    return t;
}

static jv *new_type_property(const profile_elem *c, const char *ref)
{
    jv *pr = jv_new_object();
    jv_set_null(pr, "id");
    jv_set_str(pr, "developerName", c->name);
    jv_set_str(pr, "contentType", pe_content_type(c->type));
    jv_set_null(pr, "contentFormat");
    jv_set_null(pr, "typeElementId");
    jv_set_str(pr, "typeElementDeveloperName", ref);
    return pr;
}

/* Finds the name for complex element e: the first of base, base_1, base_2, … that is free or
 * already stands for the same shape. Returns the index of the owning entry in nm->v, or -1 when a
 * type from before this call fits (*cand then holds that name). *cand is a new string. */
static long pick_name(namer *nm, const profile_elem *e, char **cand)
{
    char *base = xasprintf("%s - %s", nm->prefix, e->name);
    *cand = xstrdup(base);
    long result;
    for (unsigned k = 1;; k++) {
        name_entry *owner = namer_by_name(nm, *cand);
        if (owner) {
            if (shape_equal(owner->elem, e)) {
                result = (long)(owner - nm->v);
                break;
            }
        } else {
            const jv *ex = existing_type(nm, *cand);
            if (!ex) {
                result = (long)nm->n;
                namer_add(nm, e, *cand);
                break;
            }
            if (existing_matches(nm, ex, e)) {
                result = -1;
                break;
            }
        }
        free(*cand);
        *cand = xasprintf("%s_%u", base, k);
    }
    free(base);
    return result;
}

/* Names complex element e and everything below it (pre-order, so an element earlier in the
 * document keeps the plain name) and, when emitting, builds its type. Returns the name (owned by
 * the namer; stable while it lives). */
static const char *name_elem(namer *nm, const profile_elem *e, const char *path)
{
    char *cand;
    long idx = pick_name(nm, e, &cand);
    if (idx < 0) { /* served by a type from earlier: nothing to emit, nothing below to name */
        const char *name = namer_add(nm, e, cand)->name;
        free(cand);
        return name;
    }
    bool owner_is_new = nm->v[idx].elem == e;
    if (!owner_is_new)
        namer_add(nm, e, cand); /* shares the owner's name */
    jv *type = NULL, *props = NULL;
    if (owner_is_new && nm->emit) {
        char *summary = xasprintf("Generated from profile %s, element %s", nm->profile_name, path);
        type = new_type(cand, summary);
        props = member(type, "properties");
        free(summary);
    }
    free(cand);
    for (size_t i = 0; i < e->nchildren; i++) {
        const profile_elem *c = e->children[i];
        const char *ref = NULL;
        if (pe_is_complex(c->type)) {
            char *cpath = xasprintf("%s/%s", path, c->name);
            ref = name_elem(nm, c, cpath);
            free(cpath);
        }
        if (props)
            jv_push_take(props, new_type_property(c, ref));
    }
    if (type)
        nm->v[idx].type = type; /* index, not pointer: nm->v may have moved */
    return nm->v[idx].name;
}

/* Names every complex element below the root, in pre-order. */
static void namer_run(namer *nm, const profile *p, const char **root_names)
{
    const profile_elem *root = p->root;
    for (size_t i = 0; i < root->nchildren; i++) {
        const profile_elem *c = root->children[i];
        root_names[i] = pe_is_complex(c->type) ? name_elem(nm, c, c->name) : NULL;
    }
}

int profile_describe(const profile *p, const char *prefix, jv *values, jv *types)
{
    if (!p || !p->root)
        return 0;
    namer nm;
    namer_init(&nm, prefix, p->name, types, true);
    size_t nroot = p->root->nchildren;
    const char **root_names = xcalloc(nroot ? nroot : 1, sizeof *root_names);
    namer_run(&nm, p, root_names);

    for (size_t i = 0; i < nroot; i++) {
        const profile_elem *c = p->root->children[i];
        jv *dv = jv_new_object();
        jv_set_str(dv, "developerName", c->name);
        jv_set_null(dv, "contentValue");
        jv_set_str(dv, "contentType", pe_content_type(c->type));
        jv_set_str(dv, "typeElementDeveloperName", root_names[i]);
        jv_set_int(dv, "ordinal", (int64_t)i);
        jv_set_bool(dv, "required", false);
        jv_push_take(values, dv);
    }
    for (size_t i = 0; i < nm.n; i++)
        if (nm.v[i].type)
            jv_push(types, nm.v[i].type);
    free(root_names);
    namer_free(&nm);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* numbers and dates                                                                           */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

jv *number_from_text(const char *s)
{
    if (!s)
        return NULL;
    while (is_space(*s))
        s++;
    const char *p = s;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    const char *int_start = p;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (is_digit(*p))
            p++;
    else
        return NULL;
    const char *int_end = p, *frac_start = p, *frac_end = p;
    if (*p == '.') {
        p++;
        frac_start = p;
        if (!is_digit(*p))
            return NULL;
        while (is_digit(*p))
            p++;
        frac_end = p;
    }
    long exp = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        bool eneg = false;
        if (*p == '+' || *p == '-')
            eneg = *p++ == '-';
        if (!is_digit(*p))
            return NULL;
        while (is_digit(*p)) {
            if (exp < 100000)
                exp = exp * 10 + (*p - '0');
            p++;
        }
        if (eneg)
            exp = -exp;
    }
    const char *end = p;
    while (is_space(*p))
        p++;
    if (*p)
        return NULL;

    /* Exact integer when the value is integral and fits int64: work on the decimal digits. */
    char digits[64];
    size_t nd = 0;
    bool too_long = false;
    for (const char *q = int_start; q < int_end; q++) {
        if (nd == 0 && *q == '0')
            continue;
        if (nd < sizeof digits)
            digits[nd++] = *q;
        else
            too_long = true;
    }
    for (const char *q = frac_start; q < frac_end; q++) {
        if (nd == 0 && *q == '0') {
            exp--;
            continue;
        }
        if (nd < sizeof digits)
            digits[nd++] = *q;
        else
            too_long = true;
        exp--;
    }
    while (!too_long && nd > 0 && digits[nd - 1] == '0') {
        nd--;
        exp++;
    }
    if (!too_long && nd == 0)
        return jv_new_int(0);
    if (!too_long && exp >= 0 && (long)nd + exp <= 19) {
        uint64_t mag = 0;
        bool overflow = false;
        for (size_t i = 0; i < nd && !overflow; i++) {
            unsigned d = (unsigned)(digits[i] - '0');
            if (mag > (UINT64_MAX - d) / 10)
                overflow = true;
            else
                mag = mag * 10 + d;
        }
        for (long i = 0; i < exp && !overflow; i++) {
            if (mag > UINT64_MAX / 10)
                overflow = true;
            else
                mag *= 10;
        }
        if (!overflow) {
            if (!neg && mag <= (uint64_t)INT64_MAX)
                return jv_new_int((int64_t)mag);
            if (neg && mag <= (uint64_t)INT64_MAX + 1)
                return jv_new_int(mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag);
        }
    }
    /* strtod needs a terminated copy without the trailing spaces. */
    char local[128], *copy = local;
    size_t len = (size_t)(end - s);
    if (len >= sizeof local)
        copy = xmalloc(len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    double d = strtod(copy, NULL);
    if (copy != local)
        free(copy);
    if (!isfinite(d))
        return NULL;
    return jv_new_real(d == 0 ? 0.0 : d); /* an underflow to -0 becomes plain 0 */
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days from 0000-01-01 to y-01-01 (proleptic Gregorian, y >= 0). */
static int64_t days_before_year(int64_t y)
{
    if (y <= 0)
        return 0;
    int64_t p = y - 1;
    return 365 * y + p / 4 - p / 100 + p / 400 + 1; /* +1: year 0 is a leap year */
}

static int64_t days_from_civil(int y, int m, int d)
{
    int64_t days = days_before_year(y);
    for (int i = 1; i < m; i++)
        days += days_in_month(y, i);
    return days + d - 1;
}

/* Inverse of days_from_civil for days >= 0. */
static void civil_from_days(int64_t days, int *y, int *m, int *d)
{
    int64_t yy = days * 400 / 146097;
    while (days_before_year(yy + 1) <= days)
        yy++;
    while (yy > 0 && days_before_year(yy) > days)
        yy--;
    days -= days_before_year(yy);
    int mm = 1;
    while (days >= days_in_month((int)yy, mm)) {
        days -= days_in_month((int)yy, mm);
        mm++;
    }
    *y = (int)yy;
    *m = mm;
    *d = (int)days + 1;
}

/* Reads exactly n digits at s into *out. */
static bool digits_at(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static void put_num(char *out, int v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

int datetime_normalise(const char *in, char out[25])
{
    if (!in)
        return SL_EINVAL;
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;
    if (!digits_at(in, 4, &y) || in[4] != '-' || !digits_at(in + 5, 2, &mo) || in[7] != '-' ||
        !digits_at(in + 8, 2, &d))
        return SL_EINVAL;
    const char *p = in + 10;
    if (*p) {
        if (*p != 'T' && *p != 't')
            return SL_EINVAL;
        if (!digits_at(p + 1, 2, &h) || p[3] != ':' || !digits_at(p + 4, 2, &mi))
            return SL_EINVAL;
        p += 6;
        if (*p == ':') {
            if (!digits_at(p + 1, 2, &sec))
                return SL_EINVAL;
            p += 3;
            if (*p == '.') {
                p++;
                if (!is_digit(*p))
                    return SL_EINVAL;
                for (int i = 0; i < 3; i++) /* milliseconds; further digits are cut off */
                    ms = ms * 10 + (is_digit(*p) ? *p++ - '0' : 0);
                while (is_digit(*p))
                    p++;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om, sign = *p == '-' ? -1 : 1;
            if (!digits_at(p + 1, 2, &oh))
                return SL_EINVAL;
            p += 3;
            if (*p == ':')
                p++;
            if (!digits_at(p, 2, &om))
                return SL_EINVAL;
            p += 2;
            if (oh > 23 || om > 59)
                return SL_EINVAL;
            off = sign * (oh * 60 + om);
        }
        if (*p)
            return SL_EINVAL;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
        return SL_EINVAL;

    int64_t total = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - off) * 60 + sec;
    if (total < 0)
        return SL_EINVAL;
    int64_t days = total / 86400, rem = total % 86400;
    civil_from_days(days, &y, &mo, &d);
    if (y > 9999)
        return SL_EINVAL;
    memcpy(out, "0000-00-00T00:00:00.000Z", 25);
    put_num(out, y, 4);
    put_num(out + 5, mo, 2);
    put_num(out + 8, d, 2);
    put_num(out + 11, (int)(rem / 3600), 2);
    put_num(out + 14, (int)(rem / 60 % 60), 2);
    put_num(out + 17, (int)(rem % 60), 2);
    put_num(out + 20, ms, 3);
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* inputs → document                                                                          */

static int fail_at(sl_error *err, const char *base, const char *token, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail_at(sl_error *err, const char *base, const char *token, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *ptr = token ? pointer_join(base, token) : xstrdup(base);
    int rc = sl_fail(err, SL_EINVAL, ptr, "%s", msg);
    free(ptr);
    return rc;
}

/* Finds the item of arr (EngineValues or properties) whose developerName is `name`: exact
 * first, then ASCII case-insensitive. Every item must be an object. Returns the index or -1. */
/* Pointers into requests are built only when an error is reported: each level of the walk keeps
 * a frame on the stack (parent, then a fixed key or an index) and pf_str renders the chain. */
#define REQ_PTR_MAX 640

typedef struct pframe {
    const struct pframe *up;
    const char *key; /* NULL: idx is an array index */
    size_t idx;
} pframe;

static size_t pf_render(const pframe *f, char *out, size_t n)
{
    if (!f)
        return 0;
    size_t used = pf_render(f->up, out, n);
    if (used >= n)
        return used;
    int w = f->key ? snprintf(out + used, n - used, "/%s", f->key) : snprintf(out + used, n - used, "/%zu", f->idx);
    return w < 0 ? used : used + (size_t)w;
}

static const char *pf_str(const pframe *f, char out[REQ_PTR_MAX])
{
    out[0] = 0;
    pf_render(f, out, REQ_PTR_MAX);
    return out;
}

/* Every entry of a values/properties array must be an object: checked once per array. */
static int check_objects(const jv *arr, const pframe *pf, sl_error *err)
{
    size_t n = jv_len(arr);
    for (size_t i = 0; i < n; i++) {
        if (!jv_is_object(jv_at(arr, i))) {
            pframe f = {pf, NULL, i};
            char ip[REQ_PTR_MAX];
            return sl_fail(err, SL_EINVAL, pf_str(&f, ip), "a value must be a JSON object");
        }
    }
    return 0;
}

/* names[i] = developerName of arr[i] (or NULL), read once per array. */
static const char **names_of(const jv *arr, const char **stack, size_t nstack)
{
    size_t n = jv_len(arr);
    const char **names = n <= nstack ? stack : xmalloc(n * sizeof *names);
    for (size_t i = 0; i < n; i++)
        names[i] = jv_get_str(jv_at(arr, i), "developerName");
    return names;
}

static long find_named(const char **names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (str_eq(names[i], name))
            return (long)i;
    for (size_t i = 0; i < n; i++)
        if (str_ieq(names[i], name))
            return (long)i;
    return -1;
}

/* contentValue → document scalar; *out stays NULL when the value is absent. */
static int scalar_in(pe_type t, const jv *cv, const pframe *pf, jv **out, sl_error *err)
{
    char pbuf[REQ_PTR_MAX];
#define ptr pf_str(pf, pbuf)
    char sn[64];
    *out = NULL;
    if (jv_is_null(cv))
        return 0;
    if (!jv_is_string(cv))
        return fail_at(err, ptr, NULL, "contentValue must be a string or null, not %s",
                       jv_type_name(jv_typeof(cv)));
    if (t == PE_CHARACTER) {
        *out = jv_new_strn(jv_str(cv), jv_str_len(cv));
        return *out ? 0 : fail_at(err, ptr, NULL, "contentValue is not valid text");
    }
    const char *s = plain_str(cv);
    if (!s)
        return fail_at(err, ptr, NULL, "contentValue must not contain NUL characters");
    if (!*s)
        return 0; /* "" means empty */
    switch (t) {
    case PE_NUMBER:
        *out = number_from_text(s);
        return *out ? 0 : fail_at(err, ptr, NULL, "not a number: \"%s\"", snippet(s, sn));
    case PE_BOOLEAN:
        if (str_ieq(s, "true") || str_ieq(s, "false")) {
            *out = jv_new_bool(str_ieq(s, "true"));
            return 0;
        }
        return fail_at(err, ptr, NULL, "not a boolean (expected \"true\" or \"false\"): \"%s\"",
                       snippet(s, sn));
    case PE_DATETIME: {
        char iso[25];
        if (datetime_normalise(s, iso) != 0)
            return fail_at(err, ptr, NULL, "not an ISO-8601 date/time: \"%s\"", snippet(s, sn));
        *out = jv_new_str(iso);
        return 0;
    }
    default:
        return 0;
    }
}

#undef ptr

static int value_in(const profile_elem *e, const jv *holder, const pframe *pf, jv **out, sl_error *err);

/* Named values (EngineValues or MObject properties) at pf → a JSON object holding e's children:
 * each child takes the value whose developerName matches it (exactly, else ignoring case). */
static int children_in(const profile_elem *e, const jv *arr, const pframe *pf, jv **out, sl_error *err)
{
    int rc = check_objects(arr, pf, err);
    if (rc)
        return rc;
    const char *stack[64];
    size_t n = jv_len(arr);
    const char **names = names_of(arr, stack, 64);
    jv *obj = jv_new_object();
    for (size_t i = 0; rc == 0 && e && i < e->nchildren; i++) {
        const profile_elem *c = e->children[i];
        long k = find_named(names, n, c->name);
        if (k < 0)
            continue;
        pframe kf = {pf, NULL, (size_t)k};
        jv *v;
        rc = value_in(c, jv_at(arr, (size_t)k), &kf, &v, err);
        if (rc == 0 && v)
            jv_set_take(obj, c->name, v);
    }
    if (names != stack)
        free(names);
    if (rc) {
        jv_free(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

/* One MObject → a JSON object with e's children. */
static int mobject_in(const profile_elem *e, const jv *mo, const pframe *pf, jv **out, sl_error *err)
{
    char pbuf[REQ_PTR_MAX];
    *out = NULL;
    if (!jv_is_object(mo))
        return fail_at(err, pf_str(pf, pbuf), NULL, "an object (MObject) must be a JSON object");
    const jv *props = jv_get(mo, "properties");
    pframe pp = {pf, "properties", 0};
    int rc = 0;
    if (!jv_is_null(props) && !jv_is_array(props))
        rc = fail_at(err, pf_str(&pp, pbuf), NULL, "properties must be an array");
    if (rc)
        return rc;
    return children_in(e, props, &pp, out, err);
}

/* objectData → a JSON object (Object) or array of objects (Array); NULL when absent. */
static int complex_in(const profile_elem *e, const jv *od, const pframe *pf, jv **out, sl_error *err)
{
    char pbuf[REQ_PTR_MAX];
    *out = NULL;
    if (jv_is_null(od))
        return 0;
    if (!jv_is_array(od))
        return fail_at(err, pf_str(pf, pbuf), NULL, "objectData must be an array or null, not %s",
                       jv_type_name(jv_typeof(od)));
    size_t n = jv_len(od);
    if (e->type == PE_OBJECT) {
        if (n == 0)
            return 0;
        if (n > 1)
            return fail_at(err, pf_str(pf, pbuf), NULL, "an object value holds at most one object");
        pframe f = {pf, NULL, 0};
        return mobject_in(e, jv_at(od, 0), &f, out, err);
    }
    jv *arr = jv_new_array();
    for (size_t i = 0; i < n; i++) {
        pframe f = {pf, NULL, i};
        jv *item;
        int rc = mobject_in(e, jv_at(od, i), &f, &item, err);
        if (rc) {
            jv_free(arr);
            return rc;
        }
        jv_push_take(arr, item);
    }
    *out = arr;
    return 0;
}

/* The value of element e held by an EngineValue or a property at pf. */
static int value_in(const profile_elem *e, const jv *holder, const pframe *pf, jv **out, sl_error *err)
{
    bool complex = pe_is_complex(e->type);
    pframe f = {pf, complex ? "objectData" : "contentValue", 0};
    const jv *v = jv_get(holder, f.key);
    return complex ? complex_in(e, v, &f, out, err) : scalar_in(e->type, v, &f, out, err);
}

int profile_inputs_to_doc(const profile *p, const jv *inputs, jv **doc, sl_error *err)
{
    if (!jv_is_null(inputs) && !jv_is_array(inputs))
        return sl_fail(err, SL_EINVAL, "/inputs", "inputs must be an array or null, not %s",
                       jv_type_name(jv_typeof(inputs)));
    pframe top = {NULL, "inputs", 0};
    return children_in(p ? p->root : NULL, inputs, &top, doc, err);
}

/* ------------------------------------------------------------------------------------------ */
/* document → outputs                                                                         */

typedef struct {
    const profile_elem *elem;
    const char *name;
} elem_name;

static int cmp_elem_name(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const elem_name *)a)->elem, y = (uintptr_t)((const elem_name *)b)->elem;
    return x < y ? -1 : x > y;
}

typedef struct {
    elem_name *map;
    size_t n;
} type_names;

static const char *type_name_of(const type_names *tn, const profile_elem *e)
{
    elem_name key = {.elem = e}, *hit = bsearch(&key, tn->map, tn->n, sizeof key, cmp_elem_name);
    return hit ? hit->name : NULL;
}

/* Document scalar → contentValue text (NULL out when the member is null). */
static int scalar_out(const profile_elem *e, const jv *v, const char *ptr, jv **out, sl_error *err)
{
    *out = NULL;
    if (jv_is_null(v))
        return 0;
    jv_type t = jv_typeof(v);
    char buf[32];
    switch (e->type) {
    case PE_CHARACTER:
        if (t != JV_STRING)
            break;
        *out = jv_new_strn(jv_str(v), jv_str_len(v));
        return 0;
    case PE_NUMBER:
        if (t == JV_INT) {
            snprintf(buf, sizeof buf, "%" PRId64, jv_int(v));
        } else if (t == JV_REAL) {
            jv_format_double(jv_num(v), buf);
        } else {
            break;
        }
        *out = jv_new_str(buf);
        return 0;
    case PE_BOOLEAN:
        if (t != JV_BOOL)
            break;
        *out = jv_new_str(jv_bool(v) ? "true" : "false");
        return 0;
    case PE_DATETIME: {
        if (t != JV_STRING)
            break;
        char iso[25], sn[64];
        const char *s = plain_str(v);
        if (!s || datetime_normalise(s, iso) != 0)
            return fail_at(err, ptr, NULL, "not an ISO-8601 date/time: \"%s\"",
                           snippet(jv_str(v), sn));
        *out = jv_new_str(iso);
        return 0;
    }
    default:
        break;
    }
    return fail_at(err, ptr, NULL, "a %s element must not be a JSON %s", pe_type_name(e->type),
                   jv_type_name(t));
}

static int complex_out(const profile_elem *e, const jv *v, const char *ptr, const type_names *tn,
                       jv **out, sl_error *err);

static jv *new_mobject(const char *type_name, size_t order)
{
    jv *mo = jv_new_object();
    jv_set_null(mo, "internalId");
    jv_set_null(mo, "externalId");
    jv_set_str(mo, "developerName", type_name);
    jv_set_null(mo, "typeElementId");
    jv_set_int(mo, "order", (int64_t)order);
    jv_set_bool(mo, "isSelected", false);
    return mo;
}

/* A JSON object of element e → MObject with one property per child of e. */
static int mobject_out(const profile_elem *e, const jv *obj, size_t order, const char *ptr,
                       const type_names *tn, jv **out, sl_error *err)
{
    jv *mo = new_mobject(type_name_of(tn, e), order);
    jv *props = jv_new_array();
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < e->nchildren; i++) {
        const profile_elem *c = e->children[i];
        const jv *v = jv_get(obj, c->name);
        char *cptr = pointer_join(ptr, c->name);
        jv *cv = NULL, *od = NULL;
        rc = pe_is_complex(c->type) ? complex_out(c, v, cptr, tn, &od, err)
                                    : scalar_out(c, v, cptr, &cv, err);
        free(cptr);
        if (rc)
            break;
        jv *pr = jv_new_object();
        jv_set_null(pr, "typeElementPropertyId");
        jv_set_str(pr, "developerName", c->name);
        jv_set_str(pr, "contentType", pe_content_type(c->type));
        jv_set_take(pr, "contentValue", cv ? cv : jv_new_null());
        jv_set_null(pr, "contentFormat");
        jv_set_take(pr, "objectData", od ? od : jv_new_null());
        jv_push_take(props, pr);
    }
    if (rc) {
        jv_free(props);
        jv_free(mo);
        return rc;
    }
    jv_set_take(mo, "properties", props);
    *out = mo;
    return 0;
}

/* Document object/array → objectData (NULL out when the member is null). */
static int complex_out(const profile_elem *e, const jv *v, const char *ptr, const type_names *tn,
                       jv **out, sl_error *err)
{
    *out = NULL;
    if (jv_is_null(v))
        return 0;
    jv_type want = e->type == PE_OBJECT ? JV_OBJECT : JV_ARRAY;
    if (jv_typeof(v) != want) {
        return fail_at(err, ptr, NULL, "an %s element must be a JSON %s, not %s",
                       pe_type_name(e->type), jv_type_name(want), jv_type_name(jv_typeof(v)));
    }
    jv *od = jv_new_array();
    size_t n = e->type == PE_OBJECT ? 1 : jv_len(v);
    for (size_t i = 0; i < n; i++) {
        const jv *item = e->type == PE_OBJECT ? v : jv_at(v, i);
        char *iptr = e->type == PE_OBJECT ? xstrdup(ptr) : pointer_join_index(ptr, i);
        jv *mo = NULL;
        int rc = jv_is_object(item) ? mobject_out(e, item, i, iptr, tn, &mo, err)
                                    : sl_fail(err, SL_EINVAL, iptr, "an item of an Array element must be a JSON object, not %s",
                                              jv_type_name(jv_typeof(item)));
        free(iptr);
        if (rc) {
            jv_free(od);
            return rc;
        }
        jv_push_take(od, mo);
    }
    *out = od;
    return 0;
}

int profile_doc_to_outputs(const profile *p, const char *prefix, const jv *doc, jv **outputs, sl_error *err)
{
    if (!jv_is_null(doc) && !jv_is_object(doc))
        return sl_fail(err, SL_EINVAL, "", "the document must be a JSON object, not %s",
                       jv_type_name(jv_typeof(doc)));
    jv *arr = jv_new_array();
    if (!p || !p->root || jv_is_null(doc)) {
        *outputs = arr;
        return 0;
    }
    namer nm;
    namer_init(&nm, prefix, p->name, NULL, false);
    size_t nroot = p->root->nchildren;
    const char **root_names = xcalloc(nroot ? nroot : 1, sizeof *root_names);
    namer_run(&nm, p, root_names);
    type_names tn = {.map = xcalloc(nm.n ? nm.n : 1, sizeof *tn.map), .n = nm.n};
    for (size_t i = 0; i < nm.n; i++)
        tn.map[i] = (elem_name){nm.v[i].elem, nm.v[i].name};
    qsort(tn.map, tn.n, sizeof *tn.map, cmp_elem_name);

    int rc = 0;
    for (size_t i = 0; rc == 0 && i < nroot; i++) {
        const profile_elem *c = p->root->children[i];
        const jv *v = jv_get(doc, c->name);
        if (jv_is_null(v))
            continue;
        char *cptr = pointer_join("", c->name);
        jv *cv = NULL, *od = NULL;
        rc = pe_is_complex(c->type) ? complex_out(c, v, cptr, &tn, &od, err)
                                    : scalar_out(c, v, cptr, &cv, err);
        free(cptr);
        if (rc)
            break;
        jv *ev = jv_new_object();
        jv_set_str(ev, "developerName", c->name);
        jv_set_str(ev, "contentType", pe_content_type(c->type));
        jv_set_take(ev, "contentValue", cv ? cv : jv_new_null());
        jv_set_take(ev, "objectData", od ? od : jv_new_null());
        jv_set_str(ev, "typeElementDeveloperName", root_names[i]);
        jv_set_null(ev, "valueElementId");
        jv_set_null(ev, "typeElementId");
        jv_set_null(ev, "typeElementPropertyId");
        jv_set_null(ev, "typeElementPropertyDeveloperName");
        jv_push_take(arr, ev);
    }
    free(tn.map);
    free(root_names);
    namer_free(&nm);
    if (rc) {
        jv_free(arr);
        return rc;
    }
    *outputs = arr;
    return 0;
}
