/* mgmt: the atom management API, /api/atom/v1/… (JSON, Basic auth; see docs/atom-api.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atom/atom_internal.h"

static jv *iso(int64_t ms)
{
    char t[25];
    time_iso8601(ms, t);
    return jv_new_str(t);
}

static void respond_rows_error(http_request *req, const sl_error *err)
{
    atom_problem(req, 500, "service", NULL, "store error: %s", err->msg);
}

static bool parse_int_param(http_request *req, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
    const char *v = http_query(req, name);
    if (!v || !*v) {
        *out = def;
        return true;
    }
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end || n < lo || n > hi) {
        atom_problem(req, 400, "api", name, "query parameter %s must be a whole number from %lld to %lld", name,
                     (long long)lo, (long long)hi);
        return false;
    }
    *out = n;
    return true;
}

static void get_deployments(atom *a, http_request *req)
{
    jv *rows = NULL;
    sl_error err = {0};
    if (store_exec(a->store,
                   "SELECT d.version, d.created_ms, d.source, d.digest, COUNT(c.name) AS components FROM deployments d"
                   " LEFT JOIN deployed_components c ON c.version = d.version GROUP BY d.version ORDER BY d.version DESC",
                   NULL, &rows, NULL, &err) != 0) {
        respond_rows_error(req, &err);
        return;
    }
    jv *list = jv_new_array();
    for (size_t i = 0; i < jv_len(rows); i++) {
        jv *r = jv_at(rows, i), *o = jv_new_object();
        jv_set(o, "version", jv_get(r, "version"));
        jv_set_take(o, "createdAt", iso(jv_int(jv_get(r, "created_ms"))));
        jv_set(o, "source", jv_get(r, "source"));
        jv_set(o, "digest", jv_get(r, "digest"));
        jv_set(o, "components", jv_get(r, "components"));
        jv_push_take(list, o);
    }
    jv_free(rows);
    jv *out = jv_new_object();
    jv_set_int(out, "current", atom_version(a));
    jv_set_take(out, "deployments", list);
    http_respond_json(req, 200, out);
    jv_free(out);
}

static void get_components(atom *a, http_request *req)
{
    int64_t v;
    if (!parse_int_param(req, "version", atom_version(a), 0, INT64_MAX, &v))
        return;
    jv *p = store_params("i", v);
    jv *rows = NULL;
    sl_error err = {0};
    int rc = store_exec(a->store,
                        "SELECT kind, name, file, digest, (SELECT MIN(version) FROM deployed_components d2"
                        " WHERE d2.kind = d.kind AND d2.name = d.name AND d2.digest = d.digest) AS since,"
                        " (SELECT COUNT(DISTINCT digest) FROM deployed_components d3 WHERE d3.kind = d.kind"
                        " AND d3.name = d.name AND d3.version <= d.version) AS revision"
                        " FROM deployed_components d WHERE version = ?1 ORDER BY kind, name",
                        p, &rows, NULL, &err);
    jv_free(p);
    if (rc) {
        respond_rows_error(req, &err);
        return;
    }
    jv *out = jv_new_object();
    jv_set_int(out, "version", v);
    jv_set_take(out, "components", rows);
    http_respond_json(req, 200, out);
    jv_free(out);
}

static void get_processes(atom *a, http_request *req)
{
    deployment *d = atom_current(a);
    jv *list = jv_new_array();
    for (size_t i = 0; d && i < d->nprocesses; i++) {
        const process *p = d->processes[i];
        const process_start_op *op = process_start(p);
        jv *o = jv_new_object();
        jv_set_str(o, "name", process_name(p));
        jv_set_str(o, "file", process_file(p));
        jv *start = jv_new_object();
        jv_set_str(start, "connector", "flowservices");
        jv_set_str(start, "action", "Listen");
        static const char *const types[] = {"Message Action", "Data Action", "File Resource"};
        static const char *const data_ops[] = {NULL, "Get", "Query", "Save", "Delete"};
        static const char *const file_ops[] = {NULL, "List Files", "Upload File"};
        jv_set_str(start, "serviceType", types[op->service_type]);
        if (op->service_type == SERVICE_DATA_ACTION)
            jv_set_str(start, "operation", data_ops[op->data_op]);
        else if (op->service_type == SERVICE_FILE_RESOURCE)
            jv_set_str(start, "operation", file_ops[op->file_op]);
        jv_set_str(start, "requestProfile", op->request_profile);
        jv_set_str(start, "responseProfile", op->response_profile);
        jv_set_int(start, "syncTimeoutMs", op->sync_timeout_ms);
        jv_set_take(o, "start", start);
        jv *listeners = jv_new_array();
        for (size_t s = 0; s < d->nservices; s++) {
            const flowservice *svc = &d->services[s];
            for (size_t k = 0; k < svc->nactions; k++)
                if (svc->actions[k].process == p) {
                    jv *l = jv_new_object();
                    jv_set_str(l, "service", svc->name);
                    char *path = xasprintf("/fs/%s/%s", svc->external_name, svc->actions[k].uri_part);
                    jv_set_str(l, "path", path);
                    free(path);
                    jv_set_str(l, "action", svc->actions[k].name);
                    jv_push_take(listeners, l);
                }
            for (size_t k = 0; k < svc->ndata; k++) {
                const fs_data_action *da = &svc->data[k];
                if (da->get != p && da->query != p && da->save != p && da->del != p)
                    continue;
                jv *l = jv_new_object();
                jv_set_str(l, "service", svc->name);
                char *path = xasprintf("/fs/%s/data", svc->external_name);
                jv_set_str(l, "path", path);
                free(path);
                jv_set_str(l, "dataAction", da->name);
                jv_push_take(listeners, l);
            }
            for (size_t k = 0; k < svc->nfiles; k++) {
                const fs_file_resource *fr = &svc->files[k];
                if (fr->list != p && fr->upload != p)
                    continue;
                jv *l = jv_new_object();
                jv_set_str(l, "service", svc->name);
                char *path = xasprintf("/fs/%s/file", svc->external_name);
                jv_set_str(l, "path", path);
                free(path);
                jv_set_str(l, "fileResource", fr->path);
                jv_push_take(listeners, l);
            }
        }
        jv_set_take(o, "listeners", listeners);
        jv_push_take(list, o);
    }
    jv *out = jv_new_object();
    jv_set_int(out, "version", d ? d->version : 0);
    jv_set_take(out, "processes", list);
    deploy_unref(d);
    http_respond_json(req, 200, out);
    jv_free(out);
}

static void get_listeners(atom *a, http_request *req)
{
    deployment *d = atom_current(a);
    jv *list = jv_new_array();
    for (size_t s = 0; d && s < d->nservices; s++) {
        const flowservice *svc = &d->services[s];
        jv *o = jv_new_object();
        jv_set_str(o, "service", svc->name);
        jv_set_str(o, "externalName", svc->external_name);
        char *path = xasprintf("/fs/%s", svc->external_name);
        jv_set_str(o, "path", path);
        free(path);
        jv_set_str(o, "status", "listening");
        jv *acts = jv_new_array();
        for (size_t k = 0; k < svc->nactions; k++) {
            jv *x = jv_new_object();
            jv_set_str(x, "type", "Message Action");
            jv_set_str(x, "name", svc->actions[k].name);
            jv_set_str(x, "uriPart", svc->actions[k].uri_part);
            jv_set_str(x, "process", process_name(svc->actions[k].process));
            jv_push_take(acts, x);
        }
        /* data actions and file resources listen too (on /data and /file) */
        for (size_t k = 0; k < svc->ndata; k++) {
            const fs_data_action *da = &svc->data[k];
            jv *x = jv_new_object();
            jv_set_str(x, "type", "Data Action");
            jv_set_str(x, "name", da->name);
            jv_set_str(x, "uriPart", "data");
            jv *procs = jv_new_object();
            jv_set_str(procs, "get", da->get ? process_name(da->get) : NULL);
            jv_set_str(procs, "query", da->query ? process_name(da->query) : NULL);
            jv_set_str(procs, "save", da->save ? process_name(da->save) : NULL);
            jv_set_str(procs, "delete", da->del ? process_name(da->del) : NULL);
            jv_set_take(x, "processes", procs);
            jv_push_take(acts, x);
        }
        for (size_t k = 0; k < svc->ntables; k++) {
            jv *x = jv_new_object();
            jv_set_str(x, "type", "Data Action");
            jv_set_str(x, "name", svc->tables[k].table ? svc->tables[k].table : "(whole database)");
            jv_set_str(x, "uriPart", "data");
            jv_set_str(x, "connection", connection_name(svc->tables[k].connection));
            jv_push_take(acts, x);
        }
        for (size_t k = 0; k < svc->nfiles; k++) {
            const fs_file_resource *fr = &svc->files[k];
            jv *x = jv_new_object();
            jv_set_str(x, "type", "File Resource");
            jv_set_str(x, "name", fr->path);
            jv_set_str(x, "uriPart", "file");
            jv *procs = jv_new_object();
            jv_set_str(procs, "list", fr->list ? process_name(fr->list) : NULL);
            jv_set_str(procs, "upload", fr->upload ? process_name(fr->upload) : NULL);
            jv_set_take(x, "processes", procs);
            jv_push_take(acts, x);
        }
        jv_set_take(o, "actions", acts);
        jv_push_take(list, o);
    }
    jv *out = jv_new_object();
    jv_set_int(out, "version", d ? d->version : 0);
    jv_set_take(out, "listeners", list);
    deploy_unref(d);
    http_respond_json(req, 200, out);
    jv_free(out);
}

static jv *execution_json(const jv *r, bool detail)
{
    jv *o = jv_new_object();
    jv_set(o, "id", jv_get(r, "id"));
    jv_set(o, "process", jv_get(r, "process"));
    jv_set(o, "trigger", jv_get(r, "trigger"));
    jv_set_take(o, "startedAt", iso(jv_int(jv_get(r, "started_ms"))));
    jv_set_take(o, "durationMs", jv_new_real((double)jv_int(jv_get(r, "duration_us")) / 1000.0));
    jv_set(o, "status", jv_get(r, "status"));
    jv_set(o, "error", jv_get(r, "error"));
    jv_set(o, "documentsIn", jv_get(r, "docs_in"));
    jv_set(o, "documentsOut", jv_get(r, "docs_out"));
    jv_set_bool(o, "waited", jv_int(jv_get(r, "waited")) != 0);
    jv_set(o, "callback", jv_get(r, "callback"));
    jv_set(o, "deployment", jv_get(r, "deployment"));
    if (detail) {
        const char *shapes = jv_get_str(r, "shapes");
        jv *s = shapes ? jv_parse(shapes, strlen(shapes), NULL) : NULL;
        jv_set_take(o, "shapes", s ? s : jv_new_array());
    }
    return o;
}

static void get_executions(atom *a, http_request *req)
{
    int64_t limit, offset, since, until;
    if (!parse_int_param(req, "limit", 50, 1, 1000, &limit) || !parse_int_param(req, "offset", 0, 0, INT32_MAX, &offset) ||
        !parse_int_param(req, "since", 0, 0, INT64_MAX, &since) ||
        !parse_int_param(req, "until", INT64_MAX, 0, INT64_MAX, &until))
        return;
    const char *status = http_query(req, "status");
    if (status && strcmp(status, "success") != 0 && strcmp(status, "error") != 0) {
        atom_problem(req, 400, "api", "status", "status must be success or error");
        return;
    }
    const char *process = http_query(req, "process");
    const char *waited = http_query(req, "waited");
    atom_flush_records(a);
    jv *p = jv_new_array();
    jv_push_take(p, process ? jv_new_str(process) : jv_new_null());
    jv_push_take(p, status ? jv_new_str(status) : jv_new_null());
    jv_push_take(p, jv_new_int(since));
    jv_push_take(p, jv_new_int(until));
    jv_push_take(p, waited ? jv_new_int(strcmp(waited, "true") == 0) : jv_new_null());
    jv_push_take(p, jv_new_int(limit));
    jv_push_take(p, jv_new_int(offset));
    static const char where[] = " WHERE (?1 IS NULL OR process = ?1) AND (?2 IS NULL OR status = ?2)"
                                " AND started_ms >= ?3 AND started_ms <= ?4 AND (?5 IS NULL OR waited = ?5)";
    char sql[1024];
    snprintf(sql, sizeof sql,
             "SELECT id, process, trigger, started_ms, duration_us, status, error, docs_in, docs_out, waited, callback,"
             " deployment FROM executions%s ORDER BY started_ms DESC, id LIMIT ?6 OFFSET ?7",
             where);
    jv *rows = NULL;
    sl_error err = {0};
    if (store_exec(a->store, sql, p, &rows, NULL, &err) != 0) {
        jv_free(p);
        respond_rows_error(req, &err);
        return;
    }
    snprintf(sql, sizeof sql, "SELECT COUNT(*) AS n FROM executions%s AND ?6 > 0 AND ?7 >= 0", where);
    jv *count = store_row(a->store, sql, p, &err);
    jv_free(p);
    jv *list = jv_new_array();
    for (size_t i = 0; i < jv_len(rows); i++)
        jv_push_take(list, execution_json(jv_at(rows, i), false));
    jv_free(rows);
    jv *out = jv_new_object();
    jv_set_take(out, "executions", list);
    jv_set_int(out, "total", count ? jv_int(jv_get(count, "n")) : 0);
    jv_set_int(out, "limit", limit);
    jv_set_int(out, "offset", offset);
    jv_free(count);
    http_respond_json(req, 200, out);
    jv_free(out);
}

static void get_execution(atom *a, http_request *req, const char *id)
{
    atom_flush_records(a);
    jv *p = store_params("s", id);
    sl_error err = {0};
    jv *row = store_row(a->store, "SELECT * FROM executions WHERE id = ?1", p, &err);
    jv_free(p);
    if (!row) {
        atom_problem(req, 404, "api", "/uri", "no execution with id \"%s\"", id);
        return;
    }
    jv *o = execution_json(row, true);
    jv_free(row);
    http_respond_json(req, 200, o);
    jv_free(o);
}

void mgmt_on_request(atom *a, http_request *req)
{
    const char *p = req->path;
    if (strcmp(req->method, "GET") != 0) {
        http_add_header(req, "Allow", "GET");
        atom_problem(req, 405, "api", NULL, "the management API is read-only: use GET");
        return;
    }
    if (strcmp(p, "/api/atom/v1/deployments") == 0)
        get_deployments(a, req);
    else if (strcmp(p, "/api/atom/v1/components") == 0)
        get_components(a, req);
    else if (strcmp(p, "/api/atom/v1/processes") == 0)
        get_processes(a, req);
    else if (strcmp(p, "/api/atom/v1/listeners") == 0)
        get_listeners(a, req);
    else if (strcmp(p, "/api/atom/v1/executions") == 0)
        get_executions(a, req);
    else if (str_starts(p, "/api/atom/v1/executions/") && p[24] && !strchr(p + 24, '/'))
        get_execution(a, req, p + 24);
    else
        atom_problem(req, 404, "api", "/uri", "unknown management route %s", p);
}
