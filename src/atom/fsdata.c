/* fsdata: the Flow Services Server's data routes — POST /data (Load), PUT /data (Save),
 * POST /data/delete (Delete) — and describe for services whose types come from a live database.
 *
 * Every call runs on a worker (databases are slow systems): the HTTP thread routes, suspends the
 * connection and submits; the worker parses the ObjectDataRequest, picks the source serving the
 * requested type and answers. Which type a call is for: objectDataType.developerName, or for
 * Save/Delete without it, the developerName of the first object (as the SQL service reads it).
 */
#include <stdatomic.h>
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
        const fs_table_source *src = type ? deploy_table_source(j->svc, type) : NULL;
        if (!request) {
            atom_problem(j->req, 400, "api", err.where, "the request body is not valid JSON: %s (at %s)", err.msg,
                         err.where);
        } else if (!jv_is_object(request)) {
            atom_problem(j->req, 400, "api", "/", "the request body must be an ObjectDataRequest object");
        } else if (!type || !*type) {
            atom_problem(j->req, 400, "api", "/objectDataType/developerName",
                         "objectDataType.developerName must name the type to %s", kind_name(j->kind));
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
            } else {
                http_respond_json(j->req, res.status ? res.status : 200, res.body);
            }
            jv_free(res.body);
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
        if (!svc->ntables) {
            atom_problem(req, 404, "api", "/uri", "/fs/%s has no data actions", svc->external_name);
            deploy_unref(dep);
            return true;
        }
        submit(a, req, dep, svc, post ? DATA_LOAD : DATA_SAVE);
        return true;
    }
    if (strcmp(route, "data/delete") == 0 && post) {
        req->route = "fs-data";
        if (!svc->ntables) {
            atom_problem(req, 404, "api", "/uri", "/fs/%s has no data actions", svc->external_name);
            deploy_unref(dep);
            return true;
        }
        submit(a, req, dep, svc, DATA_DELETE);
        return true;
    }
    return false;
}
