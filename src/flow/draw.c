/* draw: the draw API (what builders edit flows with) and the package routes; see
 * docs/draw-api.md for every route and shape.
 *
 * Design: every call runs on the engine's workers (run_submit) because each one queries the
 * store, and every call is a builder call: run_builder_auth first (ManyWhoTenant + the tenant's
 * x-boomi-flow-api-key). Editing state lives in flowstore's draw side: a flow's draft header
 * (flows.draft) and elements (map and group elements per flow, the other kinds per tenant).
 * Nothing runs from the draft: POST /flow/snap assembles a snapshot (package_assemble),
 * validates it like an import and stores it as the flow's newest active version, which is what
 * the run API serves. Validation of single elements reuses snapshot_parse on a one-element
 * snapshot, so an element the draw API accepted never fails the structural check later.
 * Errors are problem JSON (run_problem); findings with JSON pointers go in "problems".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/package.h"
#include "flow/run_internal.h"

#define MAX_SEGS 12

typedef struct draw_ctx {
    flow_engine *e;
    http_request *req;
    char tenant[64];
    const char *seg[MAX_SEGS];
    size_t nseg;
} draw_ctx;

static bool is_method(const draw_ctx *c, const char *m)
{
    return strcmp(c->req->method, m) == 0;
}

static bool seg_is(const draw_ctx *c, size_t i, const char *s)
{
    return i < c->nseg && strcmp(c->seg[i], s) == 0;
}

static void respond_no_content(http_request *req)
{
    run_cors(req);
    http_respond(req, 204, "text/plain", "", 0);
}

/* Answers a store failure with the status its code means. */
static void store_failed(draw_ctx *c, int rc, const sl_error *err)
{
    int status = rc == SL_ENOTFOUND ? 404 : rc == SL_ESTATE ? 409 : rc == SL_EINVAL ? 400 : 500;
    run_problem(c->req, status, err->where, "%s", err->msg[0] ? err->msg : "the store failed");
}

/* Problem JSON with the findings: {kind, uri, statusCode, message, where, problems:[{pointer,
 * message}]}; where is the first finding's pointer. strip (optional) is a pointer prefix taken
 * off every finding (for elements validated inside a one-element snapshot). */
static void respond_problems(draw_ctx *c, int status, const char *message, const sl_problems *p, const char *strip)
{
    jv *list = jv_new_array();
    size_t sl = strip ? strlen(strip) : 0;
    const char *first = NULL;
    for (size_t i = 0; i < p->n; i++) {
        const char *ptr = p->items[i].pointer;
        if (sl && strncmp(ptr, strip, sl) == 0)
            ptr += sl;
        if (!first)
            first = ptr;
        jv *x = jv_new_object();
        jv_set_str(x, "pointer", ptr);
        jv_set_str(x, "message", p->items[i].message);
        jv_push_take(list, x);
    }
    jv *body = jv_new_object();
    jv_set_str(body, "kind", "api");
    jv_set_str(body, "uri", c->req->raw_path);
    jv_set_int(body, "statusCode", status);
    char msg[700];
    snprintf(msg, sizeof msg, "%s%s%s%s", message, p->n ? ": " : "", p->n ? p->items[0].message : "",
             p->n + p->dropped > 1 ? " (and more, see problems)" : "");
    utf8_trim_tail(msg);
    jv_set_str(body, "message", msg);
    jv_set_str(body, "where", first ? first : "");
    jv_set_take(body, "problems", list);
    run_respond(c->req, status, body);
}

/* The request body as JSON, or NULL after answering 400. */
static jv *body_json(draw_ctx *c)
{
    if (!c->req->body || c->req->body_len == 0) {
        run_problem(c->req, 400, "", "a JSON body is required");
        return NULL;
    }
    sl_error err = {0};
    jv *v = jv_parse(c->req->body, c->req->body_len, &err);
    if (!v)
        run_problem(c->req, 400, err.where, "the body is not valid JSON: %s", err.msg);
    return v;
}

static void now_iso(char out[25])
{
    time_iso8601(now_ms(), out);
}

/* Makes sure obj[key] is an object with a non-empty string "id" for each element of the array
 * member (recursively into nested, when given). */
static void ensure_ids(jv *arr, const char *nested)
{
    for (size_t i = 0; i < jv_len(arr); i++) {
        jv *o = jv_at(arr, i);
        if (!jv_is_object(o))
            continue;
        const char *id = jv_get_str(o, "id");
        const jv *idv = jv_get(o, "id");
        if ((!idv || jv_is_null(idv)) || (id && !*id)) {
            char fresh[37];
            uuid_v4(fresh);
            jv_set_str(o, "id", fresh);
        }
        if (nested)
            ensure_ids(jv_get(o, nested), nested);
    }
}

/* ---- flows ---- */

/* FlowResponse: the draft with id {id, versionId: null}, an editingToken, isActive and the
 * active version (our id). */
static jv *flow_response(draw_ctx *c, const char *flow_id, const jv *draft, const char *active)
{
    jv *r = jv_copy(draft);
    jv *id = jv_new_object();
    jv_set_str(id, "id", flow_id);
    jv_set_null(id, "versionId");
    jv_set_take(r, "id", id);
    if (!jv_get_str(r, "editingToken")) {
        char t[37];
        uuid_v4(t);
        jv_set_str(r, "editingToken", t);
    }
    jv_set_bool(r, "isActive", active != NULL);
    jv_set_str(r, "activeVersionId", active);
    return r;
}

static void flow_list(draw_ctx *c)
{
    sl_error err = {0};
    jv *rows = NULL;
    int rc = flowstore_flow_list(c->e->fs, c->tenant, &rows, &err);
    if (rc) {
        store_failed(c, rc, &err);
        return;
    }
    jv *out = jv_new_array();
    for (size_t i = 0; i < jv_len(rows); i++) {
        const jv *row = jv_at(rows, i);
        const char *fid = jv_get_str(row, "id");
        jv *draft = NULL;
        if (flowstore_flow_draft_get(c->e->fs, c->tenant, fid, &draft, &err) != 0)
            continue;
        jv *r = flow_response(c, fid, draft, jv_get_str(row, "activeVersionId"));
        jv_set(r, "versionCount", jv_get(row, "versions"));
        jv_push_take(out, r);
        jv_free(draft);
    }
    jv_free(rows);
    run_respond(c->req, 200, out);
}

static void flow_get(draw_ctx *c, const char *flow_id)
{
    sl_error err = {0};
    jv *draft = NULL;
    int rc = flowstore_flow_draft_get(c->e->fs, c->tenant, flow_id, &draft, &err);
    if (rc) {
        store_failed(c, rc, &err);
        return;
    }
    char *json = NULL, vid[37];
    bool active = flowstore_flow_active(c->e->fs, c->tenant, flow_id, &json, vid, NULL, &err) == 0;
    free(json);
    run_respond(c->req, 200, flow_response(c, flow_id, draft, active ? vid : NULL));
    jv_free(draft);
}

static void flow_save(draw_ctx *c)
{
    jv *body = body_json(c);
    if (!body)
        return;
    sl_error err = {0};
    jv *old = NULL, *draft = NULL;
    char fresh[37], when[25];
    const char *name = jv_get_str(body, "developerName");
    const jv *idv = jv_get(body, "id"), *start = jv_get(body, "startMapElementId");
    const char *fid = NULL;
    if (!jv_is_object(body)) {
        run_problem(c->req, 400, "", "a FlowRequest must be a JSON object");
        goto out;
    }
    if (!name || !*name) {
        run_problem(c->req, 400, "/developerName", "a flow needs a non-empty developerName");
        goto out;
    }
    if (jv_is_string(idv))
        fid = jv_str(idv);
    else if (jv_is_object(idv) && jv_is_string(jv_get(idv, "id")))
        fid = jv_get_str(idv, "id");
    else if (idv && !jv_is_null(idv) && !(jv_is_object(idv) && jv_is_null(jv_get(idv, "id")))) {
        run_problem(c->req, 400, "/id", "id must be {id} with a string id, a string, or null");
        goto out;
    }
    if (fid && !*fid)
        fid = NULL;
    if (start && !jv_is_null(start) && !jv_is_string(start)) {
        run_problem(c->req, 400, "/startMapElementId", "startMapElementId must be a string");
        goto out;
    }
    if (fid && strlen(fid) > 200) {
        run_problem(c->req, 400, "/id/id", "a flow id is at most 200 characters");
        goto out;
    }
    now_iso(when);
    bool creating = true;
    if (fid) {
        int rc = flowstore_flow_draft_get(c->e->fs, c->tenant, fid, &old, &err);
        if (rc == 0)
            creating = false;
        else if (rc != SL_ENOTFOUND) {
            store_failed(c, rc, &err);
            goto out;
        }
    } else {
        uuid_v4(fresh);
        fid = fresh;
    }
    char *flow_id = arena_strdup(c->req->arena, fid);
    /* an update merges the request over the stored draft (absent members keep their values) */
    draft = old ? jv_copy(old) : jv_new_object();
    for (void *it = jv_obj_iter(body); it; it = jv_obj_next(body, it)) {
        const char *k = jv_obj_key(it);
        const jv *v = jv_obj_value(it);
        if (strcmp(k, "id") == 0 || strcmp(k, "editingToken") == 0 || strcmp(k, "dateCreated") == 0 ||
            strcmp(k, "dateModified") == 0 || (strcmp(k, "startMapElementId") == 0 && jv_is_null(v)))
            continue;
        jv_set(draft, k, (jv *)v);
    }
    jv *id = jv_new_object();
    jv_set_str(id, "id", flow_id);
    jv_set_null(id, "versionId");
    jv_set_take(draft, "id", id);
    if (!jv_get_str(draft, "editingToken")) {
        uuid_v4(fresh);
        jv_set_str(draft, "editingToken", fresh);
    }
    if (!jv_get_str(draft, "dateCreated"))
        jv_set_str(draft, "dateCreated", when);
    jv_set_str(draft, "dateModified", when);
    const char *sid = jv_get_str(draft, "startMapElementId");
    bool make_start = creating && (!sid || !*sid);
    char start_id[37];
    if (make_start) {
        uuid_v4(start_id);
        jv_set_str(draft, "startMapElementId", start_id);
    }
    int rc = flowstore_flow_draft_put(c->e->fs, c->tenant, flow_id, draft, &err);
    if (!rc && make_start) { /* as the product does: a new flow comes with its START element */
        jv *el = jv_new_object();
        jv_set_str(el, "id", start_id);
        jv_set_str(el, "elementType", "START");
        jv_set_str(el, "developerName", "Start");
        jv_set_int(el, "x", 40);
        jv_set_int(el, "y", 40);
        jv_set_null(el, "groupElementId");
        jv_set_take(el, "outcomes", jv_new_array());
        jv_set_take(el, "operations", jv_new_array());
        jv_set_take(el, "dataActions", jv_new_array());
        jv_set_take(el, "messageActions", jv_new_array());
        rc = flowstore_element_put(c->e->fs, c->tenant, "map", flow_id, el, &err);
        jv_free(el);
    }
    if (rc) {
        store_failed(c, rc, &err);
        goto out;
    }
    char *json = NULL, vid[37];
    bool active = flowstore_flow_active(c->e->fs, c->tenant, flow_id, &json, vid, NULL, &err) == 0;
    free(json);
    run_respond(c->req, 200, flow_response(c, flow_id, draft, active ? vid : NULL));
out:
    jv_free(old);
    jv_free(draft);
    jv_free(body);
}

static void flow_delete(draw_ctx *c, const char *flow_id)
{
    sl_error err = {0};
    int rc = flowstore_flow_delete(c->e->fs, c->tenant, flow_id, &err);
    if (rc)
        store_failed(c, rc, &err);
    else
        respond_no_content(c->req);
}

/* 0 when the tenant has the flow, else answers 404 (or 500). */
static int need_flow(draw_ctx *c, const char *flow_id)
{
    sl_error err = {0};
    jv *draft = NULL;
    int rc = flowstore_flow_draft_get(c->e->fs, c->tenant, flow_id, &draft, &err);
    jv_free(draft);
    if (rc)
        store_failed(c, rc, &err);
    return rc;
}

/* ---- elements ---- */

static const char *const content_types[] = {
    "ContentString", "ContentNumber",    "ContentBoolean",   "ContentDateTime", "ContentDate",
    "ContentContent", "ContentPassword", "ContentEncrypted", "ContentObject",   "ContentList",
};

/* The elementType strings accepted per kind (besides the default in package_kinds). */
static bool type_ok(const package_kind *k, const char *t)
{
    if (strcmp(k->kind, "map") == 0)
        return snapshot_element_kind(t) != SNAP_EL_UNKNOWN;
    if (str_ieq(t, k->element_type))
        return true;
    if (strcmp(k->kind, "group") == 0)
        return str_ieq(t, "GROUP");
    if (strcmp(k->kind, "value") == 0)
        return str_ieq(t, "CONSTANT");
    return false;
}

/* Completes and checks an element about to be stored. Adds findings (pointers relative to the
 * element) to p. */
static void element_check(const package_kind *k, jv *el, sl_problems *p)
{
    const jv *et = jv_get(el, "elementType");
    if ((!et || jv_is_null(et) || (jv_is_string(et) && !*jv_str(et))) && k->element_type)
        jv_set_str(el, "elementType", k->element_type);
    et = jv_get(el, "elementType");
    if (!et || jv_is_null(et))
        problems_add(p, "", "/elementType", "a map element needs an elementType (START, STEP, INPUT, DECISION, …)");
    else if (!jv_is_string(et))
        problems_add(p, "", "/elementType", "elementType must be a string");
    else if (!type_ok(k, jv_str(et)))
        problems_add(p, "", "/elementType", "\"%s\" is not an elementType of a %s element%s%s", jv_str(et), k->kind,
                     k->element_type ? " (expected " : "", k->element_type ? k->element_type : "");
    const jv *dn = jv_get(el, "developerName");
    if (!jv_is_string(dn) || !*jv_str(dn))
        problems_add(p, "", "/developerName", "an element needs a non-empty developerName");
    const jv *idv = jv_get(el, "id");
    if (idv && !jv_is_null(idv) && (!jv_is_string(idv) || strlen(jv_str(idv)) > 200))
        problems_add(p, "", "/id", "id must be a string of at most 200 characters");
    if (strcmp(k->kind, "value") == 0) {
        const char *ct = jv_get_str(el, "contentType");
        bool known = false;
        for (size_t i = 0; ct && i < sizeof content_types / sizeof content_types[0]; i++)
            known = known || str_ieq(ct, content_types[i]);
        if (!known)
            problems_add(p, "", "/contentType", "a value needs a contentType (ContentString, ContentNumber, "
                         "ContentBoolean, ContentDateTime, ContentDate, ContentContent, ContentPassword, "
                         "ContentEncrypted, ContentObject or ContentList)");
    }
    if (strcmp(k->kind, "service") == 0 && jv_get(el, "uri") && !jv_is_null(jv_get(el, "uri")) &&
        !jv_is_string(jv_get(el, "uri")))
        problems_add(p, "", "/uri", "uri must be a string");
}

/* Nested objects the product gives ids to. */
static void element_fill_ids(const package_kind *k, jv *el)
{
    if (strcmp(k->kind, "map") == 0)
        ensure_ids(jv_get(el, "outcomes"), NULL);
    else if (strcmp(k->kind, "page") == 0) {
        ensure_ids(jv_get(el, "pageContainers"), "pageContainers");
        ensure_ids(jv_get(el, "pageComponents"), NULL);
    } else if (strcmp(k->kind, "type") == 0) {
        ensure_ids(jv_get(el, "properties"), NULL);
        ensure_ids(jv_get(el, "bindings"), NULL);
    } else if (strcmp(k->kind, "navigation") == 0)
        ensure_ids(jv_get(el, "navigationItems"), "navigationItems");
}

static bool owned_by(const jv *t, const char *sid)
{
    if (str_ieq(jv_get_str(t, "serviceElementId"), sid))
        return true;
    const jv *b = jv_get(t, "bindings");
    for (size_t i = 0; i < jv_len(b); i++)
        if (str_ieq(jv_get_str(jv_at(b, i), "serviceElementId"), sid))
            return true;
    return false;
}

/* Gives the objects of t[member] the ids of the same-named ones in m[member]. */
static void adopt_ids(jv *t, const jv *m, const char *member)
{
    jv *ts = jv_get(t, member);
    const jv *ms = jv_get(m, member);
    for (size_t i = 0; i < jv_len(ts); i++) {
        jv *x = jv_at(ts, i);
        for (size_t j = 0; jv_is_object(x) && j < jv_len(ms); j++)
            if (str_ieq(jv_get_str(x, "developerName"), jv_get_str(jv_at(ms, j), "developerName")) &&
                jv_get_str(jv_at(ms, j), "id")) {
                jv_set_str(x, "id", jv_get_str(jv_at(ms, j), "id"));
                break;
            }
    }
}

/* Saving a service stores the types its install describes (install.typeElements), as the
 * product does: a type the service already owns (same developerName) keeps its id and its
 * properties' ids, so references to them stay valid. */
static int save_install_types(draw_ctx *c, jv *svc, sl_error *err)
{
    jv *types = jv_get(jv_get(svc, "install"), "typeElements");
    const char *sid = jv_get_str(svc, "id");
    if (!jv_len(types) || !sid)
        return 0;
    jv *existing = NULL;
    int rc = flowstore_element_list(c->e->fs, c->tenant, "type", NULL, &existing, err);
    if (rc)
        return rc;
    jv *stored = jv_new_array();
    for (size_t i = 0; !rc && i < jv_len(types); i++) {
        const jv *t = jv_at(types, i);
        const char *name = jv_get_str(t, "developerName");
        if (!jv_is_object(t) || !name || !*name)
            continue;
        jv *copy = jv_copy(t);
        for (size_t j = 0; j < jv_len(existing); j++) {
            const jv *m = jv_at(existing, j);
            if (str_ieq(jv_get_str(m, "developerName"), name) && owned_by(m, sid)) {
                jv_set_str(copy, "id", jv_get_str(m, "id"));
                adopt_ids(copy, m, "properties");
                adopt_ids(copy, m, "bindings");
                break;
            }
        }
        if (!jv_get_str(copy, "elementType"))
            jv_set_str(copy, "elementType", "TYPE");
        if (!jv_get_str(copy, "serviceElementId"))
            jv_set_str(copy, "serviceElementId", sid);
        jv *b = jv_get(copy, "bindings");
        for (size_t j = 0; j < jv_len(b); j++)
            if (jv_is_object(jv_at(b, j)) && !jv_get_str(jv_at(b, j), "serviceElementId"))
                jv_set_str(jv_at(b, j), "serviceElementId", sid);
        ensure_ids(jv_get(copy, "properties"), NULL);
        ensure_ids(jv_get(copy, "bindings"), NULL);
        rc = flowstore_element_put(c->e->fs, c->tenant, "type", NULL, copy, err);
        jv_push_take(stored, copy);
    }
    if (!rc)
        jv_set(jv_get(svc, "install"), "typeElements", stored);
    jv_free(stored);
    jv_free(existing);
    return rc;
}

/* Services keep their password in the store (the engine needs it), but the draw API never gives
 * it back: answers carry null, and a service saved without one keeps the stored one. */
static jv *redact(const package_kind *k, jv *v)
{
    if (strcmp(k->kind, "service") != 0)
        return v;
    if (jv_is_array(v))
        for (size_t i = 0; i < jv_len(v); i++)
            run_redact_service(jv_at(v, i));
    else
        run_redact_service(v);
    return v;
}

static void element_save(draw_ctx *c, const package_kind *k, const char *flow_id)
{
    if (flow_id && need_flow(c, flow_id) != 0)
        return;
    jv *el = body_json(c);
    if (!el)
        return;
    if (!jv_is_object(el)) {
        run_problem(c->req, 400, "", "an element must be a JSON object");
        jv_free(el);
        return;
    }
    sl_problems p;
    problems_init(&p);
    element_fill_ids(k, el);
    element_check(k, el, &p);
    if (!jv_get_str(el, "id") && p.n == 0) {
        char fresh[37];
        uuid_v4(fresh);
        jv_set_str(el, "id", fresh);
    }
    if (p.n == 0) { /* the structural checks of a snapshot holding just this element */
        jv *snap = jv_new_object();
        jv_set_str(snap, "id", "draw-check");
        jv_set_str(snap, "developerName", "draw-check");
        jv_set_str(snap, "startMapElementId", "draw-check");
        jv *one = jv_new_array();
        jv_push(one, el);
        if (strcmp(k->member, "mapElements") != 0)
            jv_set_take(snap, "mapElements", jv_new_array());
        jv_set_take(snap, k->member, one);
        flow_snapshot *s = NULL;
        if (snapshot_parse(snap, "", &s, &p) == 0)
            snapshot_free(s);
        jv_free(snap);
    }
    if (p.n) {
        char strip[64];
        snprintf(strip, sizeof strip, "/%s/0", k->member);
        respond_problems(c, 400, "the element is not valid", &p, strip);
        problems_free(&p);
        jv_free(el);
        return;
    }
    problems_free(&p);
    sl_error err = {0};
    if (strcmp(k->kind, "service") == 0 && !jv_get_str(el, "httpAuthenticationPassword") && jv_get_str(el, "id")) {
        jv *old = NULL;
        sl_error e2 = {0};
        if (flowstore_element_get(c->e->fs, c->tenant, "service", jv_get_str(el, "id"), &old, &e2) == 0 &&
            jv_get_str(old, "httpAuthenticationPassword"))
            jv_set_str(el, "httpAuthenticationPassword", jv_get_str(old, "httpAuthenticationPassword"));
        jv_free(old);
    }
    /* values, pages and macros are referenced by name ({![Name]}, macro code): one per name */
    if (strcmp(k->kind, "value") == 0 || strcmp(k->kind, "page") == 0 || strcmp(k->kind, "macro") == 0) {
        jv *same = NULL;
        sl_error e2 = {0};
        if (flowstore_element_list(c->e->fs, c->tenant, k->kind, NULL, &same, &e2) == 0) {
            for (size_t i = 0; i < jv_len(same); i++) {
                const jv *o = jv_at(same, i);
                if (str_ieq(jv_get_str(o, "developerName"), jv_get_str(el, "developerName")) &&
                    !str_ieq(jv_get_str(o, "id"), jv_get_str(el, "id"))) {
                    run_problem(c->req, 409, "/developerName",
                                "a %s called \"%s\" already exists (id %s): update it by its id, or choose another name",
                                k->kind, jv_get_str(el, "developerName"), jv_get_str(o, "id"));
                    jv_free(same);
                    jv_free(el);
                    return;
                }
            }
        }
        jv_free(same);
    }
    int rc = strcmp(k->kind, "service") == 0 ? save_install_types(c, el, &err) : 0;
    if (!rc)
        rc = flowstore_element_put(c->e->fs, c->tenant, k->kind, flow_id, el, &err);
    if (rc)
        store_failed(c, rc, &err);
    else
        run_respond(c->req, 200, redact(k, jv_copy(el)));
    jv_free(el);
}

static void element_list(draw_ctx *c, const package_kind *k, const char *flow_id)
{
    if (flow_id && need_flow(c, flow_id) != 0)
        return;
    sl_error err = {0};
    jv *list = NULL;
    int rc = flowstore_element_list(c->e->fs, c->tenant, k->kind, flow_id, &list, &err);
    if (rc)
        store_failed(c, rc, &err);
    else
        run_respond(c->req, 200, redact(k, list));
}

/* An element of kind k by id; for flow-scoped kinds it must belong to flow_id. NULL after
 * answering 404 (or 500). */
static jv *element_find(draw_ctx *c, const package_kind *k, const char *flow_id, const char *id)
{
    sl_error err = {0};
    jv *el = NULL;
    int rc;
    if (flow_id) {
        jv *list = NULL;
        if ((rc = flowstore_element_list(c->e->fs, c->tenant, k->kind, flow_id, &list, &err)) != 0) {
            store_failed(c, rc, &err);
            return NULL;
        }
        for (size_t i = 0; !el && i < jv_len(list); i++)
            if (str_ieq(jv_get_str(jv_at(list, i), "id"), id))
                el = jv_incref(jv_at(list, i));
        jv_free(list);
        if (!el)
            run_problem(c->req, 404, "id", "flow %s has no %s element %s", flow_id, k->kind, id);
        return el;
    }
    if ((rc = flowstore_element_get(c->e->fs, c->tenant, k->kind, id, &el, &err)) != 0) {
        store_failed(c, rc, &err);
        return NULL;
    }
    return el;
}

static void element_get(draw_ctx *c, const package_kind *k, const char *flow_id, const char *id)
{
    jv *el = element_find(c, k, flow_id, id);
    if (el)
        run_respond(c->req, 200, redact(k, el));
}

static void element_delete(draw_ctx *c, const package_kind *k, const char *flow_id, const char *id)
{
    jv *el = element_find(c, k, flow_id, id);
    if (!el)
        return;
    sl_error err = {0};
    int rc = flowstore_element_delete(c->e->fs, c->tenant, k->kind, jv_get_str(el, "id"), &err);
    jv_free(el);
    if (rc)
        store_failed(c, rc, &err);
    else
        respond_no_content(c->req);
}

/* Routes .../element/{kind}[/{id}] once kind, flow_id and id are known. */
static void element_route(draw_ctx *c, const char *kind, const char *flow_id, const char *id)
{
    const package_kind *k = package_kind_find(kind);
    if (!k || k->flow_scoped != (flow_id != NULL)) {
        run_problem(c->req, 404, "uri", "no element kind \"%s\" here (flow: map, group; tenant: page, value, type, "
                    "service, navigation, macro, tag)", kind);
        return;
    }
    if (!id && is_method(c, "GET"))
        element_list(c, k, flow_id);
    else if (!id && is_method(c, "POST"))
        element_save(c, k, flow_id);
    else if (id && is_method(c, "GET"))
        element_get(c, k, flow_id, id);
    else if (id && is_method(c, "DELETE"))
        element_delete(c, k, flow_id, id);
    else
        run_problem(c->req, 405, "method", "%s is not allowed on %s", c->req->method, c->req->raw_path);
}

/* ---- versions ---- */

static void snap_create(draw_ctx *c, const char *flow_id)
{
    sl_error err = {0};
    jv *draft = NULL, *maps = NULL, *groups = NULL, *pool = NULL, *doc = NULL;
    flow_snapshot *s = NULL;
    sl_problems p;
    problems_init(&p);
    int rc = flowstore_flow_draft_get(c->e->fs, c->tenant, flow_id, &draft, &err);
    if (!rc)
        rc = flowstore_element_list(c->e->fs, c->tenant, "map", flow_id, &maps, &err);
    if (!rc)
        rc = flowstore_element_list(c->e->fs, c->tenant, "group", flow_id, &groups, &err);
    if (!rc)
        rc = package_tenant_pool(c->e->fs, c->tenant, &pool, &err);
    if (rc) {
        store_failed(c, rc, &err);
        goto out;
    }
    jv *flow = jv_new_object();
    jv_set(flow, "map", maps);
    jv_set(flow, "group", groups);
    char vid[37];
    uuid_v7(vid);
    doc = package_assemble(draft, flow, pool, vid);
    jv_free(flow);
    if (snapshot_parse(doc, "", &s, &p) != 0) {
        respond_problems(c, 422, "the flow cannot be snapshotted", &p, NULL);
        goto out;
    }
    snapshot_check_links(s, "", &p);
    package_check_refs(doc, "", &p);
    if (p.n) {
        respond_problems(c, 422, "the flow has references that lead nowhere", &p, NULL);
        goto out;
    }
    char *text = jv_dumps(doc), *fid = NULL, ours[37];
    rc = flowstore_flow_import(c->e->fs, c->tenant, text, &fid, ours, &err);
    free(text);
    free(fid);
    if (rc) {
        store_failed(c, rc, &err);
        goto out;
    }
    int64_t count = 0;
    flowstore_flow_version_count(c->e->fs, c->tenant, flow_id, &count, &err);
    jv *r = jv_incref(doc);
    jv_set_str(r, "sluiceVersionId", ours);
    jv_set_int(r, "versionNumber", count);
    jv_set_bool(r, "isActive", true);
    run_respond(c->req, 200, r);
out:
    problems_free(&p);
    snapshot_free(s);
    jv_free(draft);
    jv_free(maps);
    jv_free(groups);
    jv_free(pool);
    jv_free(doc);
}

static void snap_list(draw_ctx *c, const char *flow_id)
{
    if (need_flow(c, flow_id) != 0)
        return;
    sl_error err = {0};
    jv *rows = NULL;
    int rc = flowstore_flow_versions(c->e->fs, c->tenant, flow_id, &rows, &err);
    if (rc) {
        store_failed(c, rc, &err);
        return;
    }
    jv *out = jv_new_array();
    for (size_t i = 0; i < jv_len(rows); i++) {
        const jv *row = jv_at(rows, i);
        jv *v = jv_new_object(), *id = jv_new_object();
        jv_set_str(id, "id", flow_id);
        jv_set_str(id, "versionId", jv_get_str(row, "snapshotVersionId"));
        jv_set_take(v, "id", id);
        jv_set_str(v, "sluiceVersionId", jv_get_str(row, "id"));
        jv_set(v, "versionNumber", jv_get(row, "version"));
        char when[25];
        time_iso8601(jv_int(jv_get(row, "created")), when);
        jv_set_str(v, "dateCreated", when);
        jv_set_bool(v, "isActive", jv_int(jv_get(row, "isActive")) != 0);
        jv_push_take(out, v);
    }
    jv_free(rows);
    run_respond(c->req, 200, out);
}

/* The stored snapshot of one version (ours or the snapshot's versionId; NULL = active), parsed.
 * NULL after answering. */
static jv *load_version(draw_ctx *c, const char *flow_id, const char *version, char ours[37])
{
    sl_error err = {0};
    char *text = NULL;
    int rc = flowstore_flow_version(c->e->fs, c->tenant, flow_id, version, &text, ours, &err);
    if (rc) {
        store_failed(c, rc, &err);
        return NULL;
    }
    jv *doc = jv_parse(text, strlen(text), &err);
    free(text);
    if (!doc)
        run_problem(c->req, 500, NULL, "stored snapshot is not JSON: %s", err.msg);
    return doc;
}

static void snap_get(draw_ctx *c, const char *flow_id, const char *version)
{
    char ours[37];
    jv *doc = load_version(c, flow_id, version, ours);
    if (doc) {
        const jv *svcs = jv_get(doc, "serviceElements");
        for (size_t i = 0; i < jv_len(svcs); i++)
            run_redact_service(jv_at(svcs, i));
        run_respond(c->req, 200, doc);
    }
}

static int parse_bool_seg(const char *s, bool *out)
{
    if (str_ieq(s, "true"))
        *out = true;
    else if (str_ieq(s, "false"))
        *out = false;
    else
        return SL_EINVAL;
    return 0;
}

static void activation(draw_ctx *c, const char *flow_id, const char *version, const char *is_default,
                       const char *is_activated)
{
    bool def = false, act = false;
    if (parse_bool_seg(is_default, &def) || parse_bool_seg(is_activated, &act)) {
        run_problem(c->req, 400, "uri", "isDefault and isActivated must be true or false");
        return;
    }
    char ours[37];
    jv *doc = load_version(c, flow_id, version, ours);
    if (!doc)
        return;
    sl_error err = {0};
    int rc = act ? flowstore_flow_activate(c->e->fs, c->tenant, flow_id, ours, &err)
                 : flowstore_flow_deactivate(c->e->fs, c->tenant, flow_id, ours, &err);
    if (rc == SL_ENOTFOUND && !act)
        rc = 0; /* deactivating a version that is not active: nothing to do */
    if (rc) {
        store_failed(c, rc, &err);
        jv_free(doc);
        return;
    }
    jv *r = jv_new_object(), *id = jv_new_object();
    jv_set_str(id, "id", flow_id);
    const jv *did = jv_get(doc, "id");
    jv_set_str(id, "versionId", jv_is_object(did) ? jv_get_str(did, "versionId") : NULL);
    jv_set_take(r, "id", id);
    jv_set_str(r, "sluiceVersionId", ours);
    jv_set_str(r, "developerName", jv_get_str(doc, "developerName"));
    jv_set_bool(r, "isActive", act);
    jv_set_bool(r, "isDefault", def);
    jv_free(doc);
    run_respond(c->req, 200, r);
}

/* ---- atoms ---- */

static void atom_save(draw_ctx *c)
{
    jv *body = body_json(c);
    if (!body)
        return;
    const char *name = jv_get_str(body, "name"), *uri = jv_get_str(body, "baseUri");
    sl_error err = {0};
    if (!name || !*name)
        run_problem(c->req, 400, "/name", "an Atom needs a non-empty name");
    else if (!uri || !(str_starts(uri, "http://") || str_starts(uri, "https://")))
        run_problem(c->req, 400, "/baseUri", "baseUri must be an http:// or https:// URL");
    else {
        int rc = flowstore_atom_put(c->e->fs, c->tenant, name, uri, &err);
        if (rc)
            store_failed(c, rc, &err);
        else {
            jv *r = jv_new_object();
            jv_set_str(r, "name", name);
            jv_set_str(r, "baseUri", uri);
            run_respond(c->req, 200, r);
        }
    }
    jv_free(body);
}

static void atom_route(draw_ctx *c)
{
    sl_error err = {0};
    if (c->nseg == 4 && is_method(c, "GET")) {
        jv *list = NULL;
        int rc = flowstore_atom_list(c->e->fs, c->tenant, &list, &err);
        if (rc)
            store_failed(c, rc, &err);
        else
            run_respond(c->req, 200, list);
    } else if (c->nseg == 4 && is_method(c, "POST")) {
        atom_save(c);
    } else if (c->nseg == 5 && is_method(c, "GET")) {
        char *uri = NULL;
        int rc = flowstore_atom_get(c->e->fs, c->tenant, c->seg[4], &uri, &err);
        if (rc) {
            store_failed(c, rc, &err);
            return;
        }
        jv *r = jv_new_object();
        jv_set_str(r, "name", c->seg[4]);
        jv_set_str(r, "baseUri", uri);
        free(uri);
        run_respond(c->req, 200, r);
    } else {
        run_problem(c->req, 405, "method", "%s is not allowed on %s", c->req->method, c->req->raw_path);
    }
}

/* ---- packages ---- */

static void package_export_route(draw_ctx *c, const char *flow_id, const char *version)
{
    char ours[37];
    jv *doc = load_version(c, flow_id, version, ours);
    if (!doc)
        return;
    jv *pkg = package_export(doc, c->tenant, ours, now_ms());
    jv_free(doc);
    run_respond(c->req, 200, pkg);
}

/* Reads a query flag ("true"/"false"); 0, or answers 400. */
static int query_bool(draw_ctx *c, const char *name, int *out)
{
    const char *v = http_query(c->req, name);
    if (!v || !*v)
        return 0;
    bool b;
    if (parse_bool_seg(v, &b)) {
        run_problem(c->req, 400, name, "%s must be true or false", name);
        return SL_EINVAL;
    }
    *out = b;
    return 0;
}

static void package_import_route(draw_ctx *c)
{
    jv *body = body_json(c), *qmap = NULL, *result = NULL;
    if (!body)
        return;
    sl_error err = {0};
    if (jv_is_string(body)) { /* the product's export is a JSON string holding the package */
        jv *inner = jv_parse(jv_str(body), jv_str_len(body), &err);
        jv_free(body);
        if (!inner) {
            run_problem(c->req, 400, err.where, "the body is a string that does not hold JSON: %s", err.msg);
            return;
        }
        body = inner;
    }
    sl_problems p;
    problems_init(&p);
    package_options o = {.remap_ids = -1, .bind = -1};
    int remap = -1, bind = -1, strict = 0;
    if (query_bool(c, "remapIds", &remap) || query_bool(c, "bind", &bind) || query_bool(c, "strict", &strict))
        goto out;
    o.remap_ids = remap;
    o.bind = bind;
    o.strict = strict;
    const char *um = http_query(c->req, "uriMapping");
    if (um && *um) {
        qmap = jv_parse(um, strlen(um), &err);
        jv *wrap = jv_new_object();
        if (qmap)
            jv_set(wrap, "uriMapping", qmap);
        int rc = qmap ? package_options_read(wrap, "", &o, &err) : SL_EINVAL;
        jv_free(wrap);
        if (rc) {
            run_problem(c->req, 400, "uriMapping", "the uriMapping query parameter must be a JSON object "
                        "{oldUri: newUri}");
            goto out;
        }
    }
    if (!jv_is_object(body)) {
        run_problem(c->req, 400, "", "a package must be a JSON object");
        goto out;
    }
    if (package_options_read(jv_get(body, "options"), "/options", &o, &err) != 0) {
        run_problem(c->req, 400, err.where, "%s", err.msg);
        goto out;
    }
    int rc = package_import(c->e->fs, c->tenant, body, &o, "", &result, &p, &err);
    if (rc == SL_EINVAL && p.n)
        respond_problems(c, 422, "the package cannot be imported", &p, NULL);
    else if (rc)
        store_failed(c, rc, &err);
    else
        run_respond(c->req, 200, jv_incref(result));
out:
    problems_free(&p);
    jv_free(result);
    jv_free(qmap);
    jv_free(body);
}

/* ---- routing ---- */

static void split_path(draw_ctx *c)
{
    const char *p = c->req->path;
    c->nseg = 0;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (c->nseg == MAX_SEGS) {
            c->nseg = MAX_SEGS + 1; /* too long: matches no route */
            return;
        }
        c->seg[c->nseg++] = arena_strndup(c->req->arena, p, n);
        p += n;
    }
}

static void not_found(draw_ctx *c)
{
    run_problem(c->req, 404, "uri", "no route %s %s", c->req->method, c->req->raw_path);
}

static void method_not_allowed(draw_ctx *c)
{
    run_problem(c->req, 405, "method", "%s is not allowed on %s", c->req->method, c->req->raw_path);
}

/* /api/draw/1/flow... */
static void flow_route(draw_ctx *c)
{
    size_t n = c->nseg;
    if (n == 4) {
        if (is_method(c, "GET"))
            flow_list(c);
        else if (is_method(c, "POST"))
            flow_save(c);
        else
            method_not_allowed(c);
    } else if (seg_is(c, 4, "snap") && (n == 6 || n == 7)) {
        if (n == 6 && is_method(c, "POST"))
            snap_create(c, c->seg[5]);
        else if (n == 6 && is_method(c, "GET"))
            snap_list(c, c->seg[5]);
        else if (n == 7 && is_method(c, "GET"))
            snap_get(c, c->seg[5], c->seg[6]);
        else
            method_not_allowed(c);
    } else if (seg_is(c, 4, "activation") && n == 9) {
        if (is_method(c, "POST"))
            activation(c, c->seg[5], c->seg[6], c->seg[7], c->seg[8]);
        else
            method_not_allowed(c);
    } else if (n == 5) {
        if (is_method(c, "GET"))
            flow_get(c, c->seg[4]);
        else if (is_method(c, "DELETE"))
            flow_delete(c, c->seg[4]);
        else
            method_not_allowed(c);
    } else if (seg_is(c, 5, "element") && (n == 7 || n == 8)) { /* without the editing token */
        element_route(c, c->seg[6], c->seg[4], n == 8 ? c->seg[7] : NULL);
    } else if (seg_is(c, 6, "element") && (n == 8 || n == 9)) { /* {flowId}/{editingToken}/element/... */
        element_route(c, c->seg[7], c->seg[4], n == 9 ? c->seg[8] : NULL);
    } else {
        not_found(c);
    }
}

/* States for operators: GET /api/draw/1/state[?flow=&status=&limit=&offset=],
 * GET /api/draw/1/state/{id} (row + the engine's blob + the current element), DELETE …/{id}. */
static void state_route(draw_ctx *c)
{
    sl_error err = {0};
    if (c->nseg == 4 && is_method(c, "GET")) {
        const char *lim = http_query(c->req, "limit"), *off = http_query(c->req, "offset");
        const char *flow = http_query(c->req, "flow"), *status = http_query(c->req, "status");
        if (flow && !*flow)
            flow = NULL;
        if (status && !*status)
            status = NULL;
        char *end = NULL;
        long long limit = lim ? strtoll(lim, &end, 10) : 100;
        if (lim && (!*lim || *end || limit < 1 || limit > 1000)) {
            run_problem(c->req, 400, "limit", "limit must be a whole number from 1 to 1000, not \"%s\"", lim);
            return;
        }
        long long offset = off ? strtoll(off, &end, 10) : 0;
        if (off && (!*off || *end || offset < 0)) {
            run_problem(c->req, 400, "offset", "offset must be a whole number of at least 0, not \"%s\"", off);
            return;
        }
        if (status && !str_eq(status, "IN_PROGRESS") && !str_eq(status, "WAITING") && !str_eq(status, "DONE")) {
            run_problem(c->req, 400, "status", "status must be IN_PROGRESS, WAITING or DONE, not \"%s\"", status);
            return;
        }
        jv *rows = NULL;
        int64_t total = 0;
        if (flowstore_state_list(c->e->fs, c->tenant, flow, status, limit, offset, &rows, &err) != 0 ||
            flowstore_state_total(c->e->fs, c->tenant, flow, status, &total, &err) != 0) {
            jv_free(rows);
            run_problem(c->req, 500, NULL, "cannot list states: %s", err.msg);
            return;
        }
        for (size_t i = 0; i < jv_len(rows); i++) { /* element names, from the (cached) snapshots */
            jv *r = jv_at(rows, i);
            const flow_snapshot *snap = run_snapshot(c->e, c->tenant, jv_get_str(r, "versionId"), &err);
            const snap_map_element *el = snap ? snapshot_map_element(snap, jv_get_str(r, "currentMapElementId")) : NULL;
            jv_set_str(r, "currentElementName", el ? el->developer_name : NULL);
            jv_set_str(r, "currentElementType", el ? el->element_type : NULL);
        }
        char t[24];
        snprintf(t, sizeof t, "%lld", (long long)total);
        http_add_header(c->req, "X-Total-Count", t);
        http_add_header(c->req, "Access-Control-Expose-Headers", "X-Total-Count");
        run_respond(c->req, 200, rows);
        return;
    }
    if (c->nseg != 5) {
        not_found(c);
        return;
    }
    const char *id = c->seg[4];
    if (is_method(c, "DELETE")) {
        int rc = flowstore_state_delete(c->e->fs, c->tenant, id, &err);
        if (rc) {
            run_problem(c->req, rc == SL_ENOTFOUND ? 404 : 500, "id", "%s", err.msg);
            return;
        }
        run_cors(c->req);
        http_respond(c->req, 204, "application/json", "", 0);
        return;
    }
    if (!is_method(c, "GET")) {
        method_not_allowed(c);
        return;
    }
    flow_state st;
    int rc = flowstore_state_get(c->e->fs, c->tenant, id, &st, &err);
    if (rc) {
        run_problem(c->req, rc == SL_ENOTFOUND ? 404 : 500, "id", "%s", err.msg);
        return;
    }
    jv *r = jv_new_object();
    jv_set_str(r, "id", st.id);
    jv_set_str(r, "flowId", st.flow_id);
    jv_set_str(r, "versionId", st.version_id);
    jv_set_str(r, "currentMapElementId", st.current_element);
    jv_set_str(r, "status", st.status);
    jv_set_int(r, "version", st.version);
    jv_set_int(r, "created", st.created);
    jv_set_int(r, "updated", st.updated);
    jv *blob = jv_parse(st.json, strlen(st.json), &err);
    const flow_snapshot *snap = run_snapshot(c->e, c->tenant, st.version_id, &err);
    if (snap && st.current_element) {
        const snap_map_element *el = snapshot_map_element(snap, st.current_element);
        if (el) {
            jv_set_str(r, "currentElementName", el->developer_name);
            jv_set_str(r, "currentElementType", el->element_type);
        }
        jv_set_str(r, "flowName", snap->name);
    }
    /* values by developerName for people, not ids */
    jv *values = jv_new_object();
    for (size_t i = 0; snap && i < snap->n_elements[SNAP_SET_VALUE]; i++) {
        const snap_element *v = &snap->elements[SNAP_SET_VALUE][i];
        jv *ref = jv_new_object();
        jv_set_str(ref, "id", v->id);
        jv *val = engine_value_get(snap, blob, ref);
        jv_free(ref);
        if (val && v->developer_name[0])
            jv_set_take(values, v->developer_name, val);
        else
            jv_free(val);
    }
    jv_set_take(r, "values", values);
    jv_set_take(r, "state", blob ? blob : jv_new_null());
    flowstore_state_free(&st);
    run_respond(c->req, 200, r);
}

static void route(draw_ctx *c)
{
    size_t n = c->nseg;
    if (n >= 3 && seg_is(c, 0, "api") && seg_is(c, 1, "draw") && seg_is(c, 2, "1")) {
        if (seg_is(c, 3, "flow"))
            flow_route(c);
        else if (seg_is(c, 3, "element") && n == 6 && seg_is(c, 4, "service") && seg_is(c, 5, "install") &&
                 is_method(c, "POST"))
            install_handle(c->e, c->req, c->tenant, false, NULL);
        else if (seg_is(c, 3, "element") && n == 7 && seg_is(c, 4, "service") && seg_is(c, 6, "refresh") &&
                 is_method(c, "POST"))
            install_handle(c->e, c->req, c->tenant, true, c->seg[5]);
        else if (seg_is(c, 3, "element") && (n == 5 || n == 6))
            element_route(c, c->seg[4], NULL, n == 6 ? c->seg[5] : NULL);
        else if (seg_is(c, 3, "atom") && (n == 4 || n == 5))
            atom_route(c);
        else if (seg_is(c, 3, "state") && (n == 4 || n == 5))
            state_route(c);
        else
            not_found(c);
    } else if (n >= 4 && seg_is(c, 0, "api") && seg_is(c, 1, "package") && seg_is(c, 2, "1") &&
               seg_is(c, 3, "flow")) {
        if (n == 4 && is_method(c, "POST"))
            package_import_route(c);
        else if ((n == 5 || n == 6) && is_method(c, "GET"))
            package_export_route(c, c->seg[4], n == 6 ? c->seg[5] : NULL);
        else if (n <= 6)
            method_not_allowed(c);
        else
            not_found(c);
    } else {
        not_found(c);
    }
}

typedef struct draw_job {
    flow_engine *e;
    http_request *req;
} draw_job;

static void draw_run(void *arg)
{
    draw_job *j = arg;
    draw_ctx c = {.e = j->e, .req = j->req};
    free(j);
    if (run_builder_auth(c.e, c.req, c.tenant) != 0)
        return;
    split_path(&c);
    route(&c);
}

void draw_on_request(flow_engine *e, http_request *req)
{
    if (strcmp(req->method, "OPTIONS") == 0) {
        run_cors(req);
        http_respond(req, 204, "text/plain", "", 0);
        return;
    }
    draw_job *j = calloc(1, sizeof *j);
    j->e = e;
    j->req = req;
    if (run_submit(e, req, draw_run, j) != 0)
        free(j);
}
