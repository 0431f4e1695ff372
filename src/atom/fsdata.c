/* fsdata: the Flow Services Server's data routes — POST /data (Load), PUT /data (Save),
 * POST /data/delete (Delete) — and describe for services whose types come from a live database.
 *
 * Every call runs on a worker (databases are slow systems): the HTTP thread routes, suspends the
 * connection and submits; the worker parses the ObjectDataRequest, picks the source serving the
 * requested type and answers. Which type a call is for: objectDataType.developerName, or for
 * Save/Delete without it, the developerName of the first object (as the SQL service reads it).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atom/atom_internal.h"
#include "core/log.h"

typedef enum { DATA_DESCRIBE, DATA_LOAD, DATA_SAVE, DATA_DELETE } data_kind;

typedef struct data_job {
    atom *a;
    deployment *dep;
    const flowservice *svc;
    http_request *req;
    data_kind kind;
} data_job;

static const char *kind_name(data_kind k)
{
    return k == DATA_LOAD ? "LOAD" : k == DATA_SAVE ? "SAVE" : k == DATA_DELETE ? "DELETE" : "DESCRIBE";
}

static void describe(data_job *j)
{
    const flowservice *svc = j->svc;
    sl_error err = {0};
    jv *d = jv_parse(svc->describe, svc->describe_len, &err);
    jv *types = jv_get(jv_get(d, "install"), "typeElements");
    for (size_t i = 0; i < svc->ntables; i++) {
        if (table_source_describe(svc->tables[i].source, types, &err) != 0) {
            atom_problem(j->req, 502, "service", NULL, "cannot read the tables of connection \"%s\": %s",
                         connection_name(svc->tables[i].connection), err.msg);
            jv_free(d);
            return;
        }
    }
    /* A table may be served both alone and as part of a whole database: one type per name. */
    jv *unique = jv_new_array();
    for (size_t i = 0; i < jv_len(types); i++) {
        const char *name = jv_get_str(jv_at(types, i), "developerName");
        bool dup = false;
        for (size_t k = 0; k < jv_len(unique) && !dup; k++)
            dup = str_eq(jv_get_str(jv_at(unique, k), "developerName"), name);
        if (!dup)
            jv_push(unique, jv_at(types, i));
    }
    jv_set_take(jv_get(d, "install"), "typeElements", unique);
    http_respond_json(j->req, 200, d);
    jv_free(d);
}

static const char *type_of(const jv *request, data_kind kind)
{
    const char *t = jv_get_str(jv_get(request, "objectDataType"), "developerName");
    if (kind != DATA_LOAD) {
        const char *o = jv_get_str(jv_at(jv_get(request, "objectData"), 0), "developerName");
        if (o && *o)
            return o;
    }
    return t;
}

/* ---- process-backed data actions ---- */

/* The JSON filter document a Query process receives (docs/atom-api.md, "Filter document"). */
static jv *filter_group(const jv *lf, int depth)
{
    jv *g = jv_new_object();
    const char *cmp = jv_get_str(lf, "comparisonType");
    jv_set_str(g, "comparison", cmp && *cmp ? cmp : "AND");
    jv *where = jv_new_array();
    const jv *w = jv_get(lf, "where");
    for (size_t i = 0; i < jv_len(w); i++) {
        const jv *c = jv_at(w, i);
        jv *o = jv_new_object();
        const char *col = jv_get_str(c, "columnName"), *crit = jv_get_str(c, "criteriaType");
        jv_set_str(o, "column", col);
        jv_set_str(o, "criteria", crit);
        const jv *val = jv_get(c, "contentValue");
        if (jv_is_null(val))
            val = jv_get(c, "value");
        if (val && jv_is_string(val))
            jv_set(o, "value", (jv *)val);
        else
            jv_set_null(o, "value");
        jv_push_take(where, o);
    }
    jv_set_take(g, "where", where);
    jv *groups = jv_new_array();
    const jv *lfs = jv_get(lf, "listFilters");
    for (size_t i = 0; depth < 16 && i < jv_len(lfs); i++)
        jv_push_take(groups, filter_group(jv_at(lfs, i), depth + 1));
    jv_set_take(g, "groups", groups);
    return g;
}

jv *fs_filter_document(const jv *lf)
{
    jv *f = filter_group(lf, 0);
    const char *search = jv_get_str(lf, "search");
    jv_set_str(f, "search", search ? search : "");
    jv *order = jv_new_array();
    const jv *ob = jv_get(lf, "orderBy");
    for (size_t i = 0; i < jv_len(ob); i++) {
        jv *o = jv_new_object();
        jv_set_str(o, "column", jv_get_str(jv_at(ob, i), "columnName"));
        const char *dir = jv_get_str(jv_at(ob, i), "direction");
        jv_set_str(o, "direction", dir && *dir ? dir : "ASC");
        jv_push_take(order, o);
    }
    const char *legacy = jv_get_str(lf, "orderByPropertyDeveloperName");
    if (jv_len(order) == 0 && legacy && *legacy) {
        jv *o = jv_new_object();
        jv_set_str(o, "column", legacy);
        const char *dir = jv_get_str(lf, "orderByDirectionType");
        jv_set_str(o, "direction", dir && *dir ? dir : "ASC");
        jv_push_take(order, o);
    }
    jv_set_take(f, "orderBy", order);
    const jv *limit = jv_get(lf, "limit"), *offset = jv_get(lf, "offset");
    jv_set_int(f, "limit", jv_typeof(limit) == JV_INT && jv_int(limit) > 0 ? jv_int(limit) : 0);
    jv_set_int(f, "offset", jv_typeof(offset) == JV_INT && jv_int(offset) > 0 ? jv_int(offset) : 0);
    return f;
}

/* A returned document → an MObject of the data action's type. */
static int doc_to_object(const fs_data_action *da, const jv *doc, size_t order, jv **out, char *err, size_t errsz)
{
    jv *values = NULL;
    sl_error e = {0};
    if (profile_doc_to_outputs(da->profile, da->name, doc, &values, &e) != 0) {
        snprintf(err, errsz, "a returned document does not fit profile \"%s\" at %s: %s", da->profile->name, e.where,
                 e.msg);
        return SL_EEXEC;
    }
    jv *o = jv_new_object();
    jv_set_null(o, "internalId");
    const jv *id = jv_get(doc, da->id->name);
    if (jv_is_string(id)) {
        jv_set(o, "externalId", (jv *)id);
    } else if (id && !jv_is_null(id)) {
        char *t = jv_dumps(id);
        jv_set_str(o, "externalId", t);
        free(t);
    } else {
        jv_set_null(o, "externalId");
    }
    jv_set_str(o, "developerName", da->name);
    jv_set_null(o, "typeElementId");
    jv_set_int(o, "order", (int64_t)order);
    jv_set_bool(o, "isSelected", false);
    jv *props = jv_new_array();
    for (size_t i = 0; i < da->profile->root->nchildren; i++) {
        const profile_elem *e2 = da->profile->root->children[i];
        const jv *v = NULL;
        for (size_t k = 0; k < jv_len(values); k++)
            if (str_eq(jv_get_str(jv_at(values, k), "developerName"), e2->name))
                v = jv_at(values, k);
        jv *p = jv_new_object();
        jv_set_null(p, "typeElementPropertyId");
        jv_set_str(p, "developerName", e2->name);
        jv_set_str(p, "contentType", pe_content_type(e2->type));
        jv *cv = v ? jv_get(v, "contentValue") : NULL;
        if (cv)
            jv_set(p, "contentValue", cv);
        else
            jv_set_null(p, "contentValue");
        jv_set_null(p, "contentFormat");
        jv_set_take(p, "objectData", jv_new_array());
        jv_push_take(props, p);
    }
    jv_set_take(o, "properties", props);
    jv_free(values);
    *out = o;
    return 0;
}

static void record_execution(atom *a, deployment *dep, const flowservice *svc, const process *proc, const char *route,
                             const char *id, int64_t started_ms, int64_t t0_us, int rc, const char *error,
                             size_t docs_in, const process_result *res)
{
    exec_record *r = xcalloc(1, sizeof *r);
    memcpy(r->id, id, sizeof r->id);
    r->process = xstrdup(process_name(proc));
    r->trigger = xasprintf("/fs/%s/%s", svc->external_name, route);
    r->status = xstrdup(rc == 0 ? "success" : "error");
    r->error = rc == 0 ? NULL : xstrdup(error);
    r->started_ms = started_ms;
    r->duration_us = mono_us() - t0_us;
    r->docs_in = (int64_t)docs_in;
    r->docs_out = (int64_t)jv_len(res->documents);
    r->deployment = dep->version;
    jv *stats = process_stats_json(res);
    r->shapes = jv_dumps(stats);
    jv_free(stats);
    r->callback = xstrdup("none");
    atom_record(a, r);
}

/* Runs the data action's process for the call and answers it. */
static void run_data_action(data_job *j, const fs_data_action *da, const jv *request)
{
    atom *a = j->a;
    const jv *lf = jv_get(request, "listFilter");
    const char *load_id = jv_get_str(lf, "id");
    const process *proc = j->kind == DATA_SAVE     ? da->save
                          : j->kind == DATA_DELETE ? da->del
                          : (load_id && *load_id)  ? da->get
                                                   : da->query;
    const char *opname = j->kind == DATA_SAVE ? "Save" : j->kind == DATA_DELETE ? "Delete" : (load_id && *load_id) ? "Get" : "Query";
    if (!proc) {
        atom_problem(j->req, 404, "api", NULL, "data action \"%s\" has no %s process", da->name, opname);
        return;
    }
    char exec_id[37];
    uuid_v7(exec_id);
    int64_t started = now_ms(), t0 = j->req->start_us;
    jv *props = jv_new_object();
    static const char *const copied[] = {"token", "tenantId", "stateId", NULL};
    for (size_t i = 0; copied[i]; i++)
        jv_set_str(props, copied[i], jv_get_str(request, copied[i]) ? jv_get_str(request, copied[i]) : "");
    const jv *cvs = jv_get(request, "configurationValues");
    for (size_t i = 0; i < jv_len(cvs); i++) {
        const char *n = jv_get_str(jv_at(cvs, i), "developerName");
        const char *v = jv_get_str(jv_at(cvs, i), "contentValue");
        if (n) {
            char *key = xasprintf("inflowconfigurationvalues_%s", n);
            jv_set_str(props, key, v ? v : "");
            free(key);
        }
    }
    jv_set_str(props, "executionId", exec_id);
    jv *docs = jv_new_array();
    int64_t limit = 0;
    if (j->kind == DATA_LOAD && load_id && *load_id) {
        jv_set_str(props, "param_id", load_id);
        jv_push_take(docs, jv_new_object());
    } else if (j->kind == DATA_LOAD) {
        jv *f = fs_filter_document(lf);
        limit = jv_int(jv_get(f, "limit"));
        jv_push_take(docs, f);
    } else {
        const jv *objs = jv_get(request, "objectData");
        for (size_t i = 0; i < jv_len(objs); i++) {
            const jv *o = jv_at(objs, i);
            jv *doc = NULL;
            sl_error e = {0};
            if (profile_inputs_to_doc(da->profile, jv_get(o, "properties"), &doc, &e) != 0) {
                char *where = xasprintf("/objectData/%zu/properties%s", i,
                                        str_starts(e.where, "/inputs") ? e.where + strlen("/inputs") : "");
                atom_problem(j->req, 400, "api", where, "%s (at %s)", e.msg, where);
                free(where);
                jv_free(docs);
                jv_free(props);
                return;
            }
            /* The externalId is the id element's value when the properties leave it out. */
            const char *ext = jv_get_str(o, "externalId");
            if (ext && *ext && !jv_get(doc, da->id->name)) {
                jv *idv = da->id->type == PE_NUMBER ? number_from_text(ext) : jv_new_str(ext);
                if (idv)
                    jv_set_take(doc, da->id->name, idv);
            }
            jv_push_take(docs, doc);
        }
    }
    process_limits lim = {.deadline_mono_ms = mono_ms() + a->cfg.max_exec_ms, .cancel = &a->cancel};
    process_result res;
    int rc = process_run(proc, docs, props, &lim, &res);
    char error[1200] = "";
    if (rc)
        snprintf(error, sizeof error, "%s", res.error);
    jv *objects = jv_new_array();
    bool more = false;
    if (rc == 0 && j->kind != DATA_DELETE) {
        size_t n = jv_len(res.documents);
        if (limit > 0 && n > (size_t)limit) {
            n = (size_t)limit;
            more = true;
        }
        if (str_eq(jv_get_str(res.properties, "hasMoreResults"), "true"))
            more = true;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            jv *o = NULL;
            rc = doc_to_object(da, jv_at(res.documents, i), i, &o, error, sizeof error);
            if (rc == 0)
                jv_push_take(objects, o);
        }
    }
    metrics_inc(rc == 0 ? a->exec_ok : a->exec_failed, 1);
    record_execution(a, j->dep, j->svc, proc, j->kind == DATA_DELETE ? "data/delete" : "data", exec_id, started, t0, rc,
                     error, jv_len(docs), &res);
    process_result_free(&res);
    jv_free(docs);
    jv_free(props);
    if (rc) {
        jv *p = jv_new_object();
        jv_set_str(p, "kind", "service");
        jv_set_str(p, "uri", j->req->raw_path);
        jv_set_int(p, "statusCode", 500);
        char *msg = xasprintf("process \"%s\" failed: %s", process_name(proc), error);
        jv_set_str(p, "message", msg);
        free(msg);
        jv_set_str(p, "where", exec_id);
        jv_set_null(p, "responseBody");
        jv_set_null(p, "responseHeaders");
        jv_set_null(p, "invokeType");
        jv_set_str(p, "action", kind_name(j->kind));
        http_add_header(j->req, "X-ManyWho-Service-Problem-Kind", "service");
        http_respond_json(j->req, 500, p);
        jv_free(p);
        jv_free(objects);
        return;
    }
    jv *body = jv_new_object();
    jv_set_null(body, "culture");
    jv_set_take(body, "objectData", objects);
    jv_set_bool(body, "hasMoreResults", more);
    jv_set_null(body, "offsetToken");
    http_respond_json(j->req, 200, body);
    jv_free(body);
}

static void run_data(void *arg)
{
    data_job *j = arg;
    atom *a = j->a;
    if (j->kind == DATA_DESCRIBE) {
        describe(j);
    } else {
        sl_error err = {0};
        jv *request = jv_parse(j->req->body, j->req->body_len, &err);
        const char *type = request ? type_of(request, j->kind) : NULL;
        const fs_data_action *da = type ? deploy_data_action(j->svc, type) : NULL;
        const fs_table_source *src = type && !da ? deploy_table_source(j->svc, type) : NULL;
        if (!request) {
            atom_problem(j->req, 400, "api", err.where, "the request body is not valid JSON: %s (at %s)", err.msg,
                         err.where);
        } else if (!jv_is_object(request)) {
            atom_problem(j->req, 400, "api", "/", "the request body must be an ObjectDataRequest object");
        } else if (!type || !*type) {
            atom_problem(j->req, 400, "api", "/objectDataType/developerName",
                         "objectDataType.developerName must name the type to %s", kind_name(j->kind));
        } else if (da) {
            run_data_action(j, da, request);
        } else if (!src) {
            atom_problem(j->req, 404, "api", "/objectDataType/developerName",
                         "no data action for type \"%s\" on /fs/%s", type, j->svc->external_name);
        } else {
            table_result res = {0};
            if (j->kind == DATA_LOAD)
                table_source_load(src->source, request, &res);
            else if (j->kind == DATA_SAVE)
                table_source_save(src->source, request, &res);
            else
                table_source_delete(src->source, request, &res);
            if (res.status >= 400) {
                jv *p = jv_new_object();
                jv_set_str(p, "kind", "service");
                jv_set_str(p, "uri", j->req->raw_path);
                jv_set_int(p, "statusCode", res.status);
                jv_set_str(p, "message", res.error);
                jv_set_null(p, "responseBody");
                jv_set_null(p, "responseHeaders");
                jv_set_null(p, "invokeType");
                jv_set_str(p, "action", kind_name(j->kind));
                http_add_header(j->req, "X-ManyWho-Service-Problem-Kind", "service");
                http_respond_json(j->req, res.status, p);
                jv_free(p);
            } else if (res.text) {
                http_respond_take(j->req, res.status ? res.status : 200, "application/json", res.text, res.len);
                res.text = NULL;
            } else {
                http_respond_json(j->req, res.status ? res.status : 200, res.body);
            }
            jv_free(res.body);
            free(res.text);
        }
        jv_free(request);
    }
    deploy_unref(j->dep);
    atomic_fetch_sub(&a->inflight, 1);
    free(j);
}

static void submit(atom *a, http_request *req, deployment *dep, const flowservice *svc, data_kind kind)
{
    data_job *j = xcalloc(1, sizeof *j);
    j->a = a;
    j->dep = dep;
    j->svc = svc;
    j->req = req;
    j->kind = kind;
    atomic_fetch_add(&a->inflight, 1);
    http_suspend(req);
    if (workpool_submit(a->workers, run_data, j) != 0) {
        metrics_inc(a->rejected_busy, 1);
        http_add_header(req, "Retry-After", "1");
        atom_problem(req, 503, "service", NULL, "the atom is busy: too many calls are waiting; retry shortly");
        atomic_fetch_sub(&a->inflight, 1);
        deploy_unref(dep);
        free(j);
    }
}

bool fs_data_route(atom *a, http_request *req, deployment *dep, const flowservice *svc, const char *route)
{
    bool post = strcmp(req->method, "POST") == 0, put = strcmp(req->method, "PUT") == 0;
    if ((strcmp(route, "metadata") == 0 || strcmp(route, "metadata/install") == 0) && post && svc->ntables) {
        req->route = "fs-metadata";
        submit(a, req, dep, svc, DATA_DESCRIBE);
        return true;
    }
    if (strcmp(route, "data") == 0 && (post || put)) {
        req->route = "fs-data";
        if (!svc->ntables && !svc->ndata) {
            atom_problem(req, 404, "api", "/uri", "/fs/%s has no data actions", svc->external_name);
            deploy_unref(dep);
            return true;
        }
        submit(a, req, dep, svc, post ? DATA_LOAD : DATA_SAVE);
        return true;
    }
    if (strcmp(route, "data/delete") == 0 && post) {
        req->route = "fs-data";
        if (!svc->ntables && !svc->ndata) {
            atom_problem(req, 404, "api", "/uri", "/fs/%s has no data actions", svc->external_name);
            deploy_unref(dep);
            return true;
        }
        submit(a, req, dep, svc, DATA_DELETE);
        return true;
    }
    return false;
}
