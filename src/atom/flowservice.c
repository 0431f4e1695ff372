/* flowservice: the Flow Services Server — /fs/<name>/metadata, /metadata/install and
 * /actions/<action> (see ../shared/reference/flow-service-api.md and docs/atom-api.md).
 *
 * An action request is decoded on the HTTP thread (JSON, then inputs into one document shaped
 * like the request profile), then the connection is suspended and the execution runs on a worker.
 * A job is shared by the worker and a sync-timeout timer; whichever finishes first answers the
 * request under the job's lock: the worker with the outputs (or a problem), the timer with WAIT.
 * If WAIT was sent, the worker later POSTs the ServiceResponse to the request's callbackUri
 * (retried with backoff by the HTTP client). The job is freed when both have let go of it.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atom/atom_internal.h"
#include "core/log.h"

typedef struct fs_job {
    atom *a;
    deployment *dep;
    const flowservice *svc;
    const fs_action *act;
    http_request *req;        /* valid until answered */
    jv *request;              /* the parsed ServiceRequest */
    jv *doc;                  /* input document */
    jv *props;                /* dynamic process properties */
    char exec_id[37];
    int64_t started_ms, t0_us;
    timer_entry timer;
    bool timer_armed;
    pthread_mutex_t mu;
    int state;                /* 0 running, 1 answered by the worker, 2 WAIT sent */
    _Atomic int refs;
} fs_job;

static void job_unref(fs_job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1)
        return;
    jv_free(j->request);
    jv_free(j->doc);
    jv_free(j->props);
    deploy_unref(j->dep);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

/* Copies request[key] into r (null when absent or, with strings_only, not a string). */
static void echo(jv *r, const jv *request, const char *key, bool strings_only)
{
    jv *v = jv_get(request, key);
    if (v && (!strings_only || jv_is_string(v)))
        jv_set(r, key, v);
    else
        jv_set_null(r, key);
}

static jv *response_base(const jv *request, const char *invoke_type)
{
    jv *r = jv_new_object();
    echo(r, request, "token", true);
    echo(r, request, "tenantId", true);
    echo(r, request, "culture", false);
    echo(r, request, "annotations", false);
    jv_set_str(r, "invokeType", invoke_type);
    jv_set_null(r, "waitMessage");
    jv_set_take(r, "outputs", jv_new_array());
    jv_set_null(r, "selectedOutcomeId");
    jv_set_null(r, "rootFaults");
    jv_set_null(r, "valueFaults");
    jv_set_null(r, "mode");
    return r;
}

static void on_timeout(void *arg)
{
    fs_job *j = arg;
    pthread_mutex_lock(&j->mu);
    if (j->state == 0) {
        j->state = 2;
        jv *r = response_base(j->request, "WAIT");
        char *msg = xasprintf("%s is still running; the result will follow.", j->act->name);
        jv_set_str(r, "waitMessage", msg);
        free(msg);
        http_respond_json(j->req, 200, r);
        j->req = NULL;
        jv_free(r);
        metrics_inc(j->a->exec_waited, 1);
    }
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
}

typedef struct callback_ctx {
    atom *a;
    char exec_id[37];
} callback_ctx;

static void on_callback_done(void *arg, long status, const char *body, size_t len, unsigned attempts, const char *error)
{
    callback_ctx *c = arg;
    char outcome[300];
    if (status >= 200 && status < 300) {
        snprintf(outcome, sizeof outcome, "delivered (HTTP %ld, %u attempt%s)", status, attempts, attempts == 1 ? "" : "s");
        metrics_inc(c->a->cb_ok, 1);
    } else {
        if (status)
            snprintf(outcome, sizeof outcome, "failed: HTTP %ld after %u attempts", status, attempts);
        else
            snprintf(outcome, sizeof outcome, "failed: %s after %u attempts", error ? error : "no response", attempts);
        metrics_inc(c->a->cb_failed, 1);
        log_warn("fs", "callback failed", "execution", c->exec_id, "outcome", outcome, NULL);
    }
    atom_record_callback(c->a, c->exec_id, outcome);
    atomic_fetch_sub(&c->a->inflight, 1);
    free(c);
}

static void send_callback(fs_job *j, const jv *response)
{
    const char *uri = jv_get_str(j->request, "callbackUri");
    if (!uri || !*uri) {
        atom_record_callback(j->a, j->exec_id, "failed: the request had no callbackUri");
        return;
    }
    char *body = jv_dumps(response);
    const char *tenant = jv_get_str(j->request, "tenantId");
    char *tenant_h = xasprintf("ManyWhoTenant: %s", tenant ? tenant : "");
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", tenant_h, NULL};
    http_client_opts o = {.timeout_ms = 10000, .max_attempts = j->a->cfg.callback_attempts,
                          .backoff_ms = j->a->cfg.callback_backoff_ms};
    callback_ctx *c = xcalloc(1, sizeof *c);
    c->a = j->a;
    memcpy(c->exec_id, j->exec_id, sizeof c->exec_id);
    atomic_fetch_add(&j->a->inflight, 1);
    if (http_client_request(j->a->client, "POST", uri, headers, body, strlen(body), &o, on_callback_done, c) != 0) {
        atomic_fetch_sub(&j->a->inflight, 1);
        free(c);
        atom_record_callback(j->a, j->exec_id, "failed: callbackUri is not an http(s) URL");
    }
    free(tenant_h);
    free(body);
}

static bool decode_request(fs_job *j);

static void run_job(void *arg)
{
    fs_job *j = arg;
    atom *a = j->a;
    if (!decode_request(j)) { /* answered with a problem */
        atomic_fetch_sub(&a->inflight, 1);
        job_unref(j);
        return;
    }
    const process *proc = j->act->process;
    const process_start_op *op = process_start(proc);
    jv *inputs = jv_new_array();
    jv_push(inputs, j->doc);
    process_limits lim = {.deadline_mono_ms = mono_ms() + a->cfg.max_exec_ms, .cancel = &a->cancel};
    process_result res;
    int64_t t0 = mono_us();
    int rc = process_run(proc, inputs, j->props, &lim, &res);
    int64_t dur = mono_us() - j->t0_us;
    metrics_observe_us(a->exec_latency, mono_us() - t0);
    jv_free(inputs);

    jv *outputs = NULL;
    sl_error err = {0};
    char error[1200] = "";
    if (rc == 0) {
        /* A message action answers with one document: the first one returned. */
        const jv *doc = jv_at(res.documents, 0);
        if (doc && op->response) {
            if (profile_doc_to_outputs(op->response, j->act->response_prefix, doc, &outputs, &err) != 0) {
                snprintf(error, sizeof error, "the returned document does not fit the response profile \"%s\" at %s: %s",
                         op->response->name, err.where, err.msg);
                rc = SL_EEXEC;
            }
        }
    } else {
        snprintf(error, sizeof error, "%s", res.error);
    }
    metrics_inc(rc == 0 ? a->exec_ok : a->exec_failed, 1);

    jv *response = NULL;
    if (rc == 0) {
        response = response_base(j->request, "FORWARD");
        jv_set_take(response, "outputs", outputs ? outputs : jv_new_array());
        outputs = NULL;
    }

    /* the record */
    exec_record *r = xcalloc(1, sizeof *r);
    memcpy(r->id, j->exec_id, sizeof r->id);
    r->process = xstrdup(process_name(proc));
    r->trigger = xasprintf("/fs/%s/%s", j->svc->external_name, j->act->uri_part);
    r->status = xstrdup(rc == 0 ? "success" : "error");
    r->error = rc == 0 ? NULL : xstrdup(error);
    r->started_ms = j->started_ms;
    r->duration_us = dur;
    r->docs_in = 1;
    r->docs_out = (int64_t)jv_len(res.documents);
    r->deployment = j->dep->version;
    jv *stats = process_stats_json(&res);
    r->shapes = jv_dumps(stats);
    jv_free(stats);
    process_result_free(&res);

    pthread_mutex_lock(&j->mu);
    bool waited = j->state == 2;
    if (j->state == 0) {
        j->state = 1;
        if (rc == 0) {
            http_respond_json(j->req, 200, response);
        } else {
            char where[64];
            snprintf(where, sizeof where, "execution %s", j->exec_id);
            atom_problem(j->req, 500, "service", where, "process \"%s\" failed: %s", process_name(proc), error);
        }
        j->req = NULL;
    }
    pthread_mutex_unlock(&j->mu);
    r->waited = waited;
    r->callback = xstrdup(waited ? "pending" : "none");
    atom_record(a, r);
    if (waited) {
        if (!response) {
            response = response_base(j->request, "FORWARD");
            jv *faults = jv_new_object();
            jv_set_str(faults, j->act->name, error);
            jv_set_take(response, "rootFaults", faults);
        }
        send_callback(j, response);
    }
    jv_free(response);
    if (j->timer_armed && timer_cancel(a->timers, &j->timer) == 1)
        job_unref(j); /* the timer's reference */
    atomic_fetch_sub(&a->inflight, 1);
    job_unref(j);
}

static void add_prop(jv *props, const char *name, const jv *v)
{
    if (jv_is_string(v)) {
        jv_set(props, name, (jv *)v);
    } else if (v && !jv_is_null(v)) {
        char *t = jv_dumps(v);
        jv_set_str(props, name, t);
        free(t);
    } else {
        jv_set_str(props, name, "");
    }
}

/* Worker side of an action call, before the process runs: parses the ServiceRequest, turns its
 * inputs into the document, sets the dynamic process properties and arms the sync-timeout timer.
 * Runs on the worker so the request's memory is allocated and freed on one thread and the HTTP
 * threads only route. Returns false after answering the request with a problem. */
static bool decode_request(fs_job *j)
{
    atom *a = j->a;
    http_request *req = j->req;
    sl_error err = {0};
    jv *request = jv_parse(req->body, req->body_len, &err);
    if (!request) {
        j->state = 1;
        atom_problem(req, 400, "api", err.where, "the request body is not valid JSON: %s (at %s)", err.msg, err.where);
        return false;
    }
    j->request = request;
    if (!jv_is_object(request)) {
        j->state = 1;
        atom_problem(req, 400, "api", "/", "the request body must be a ServiceRequest object");
        return false;
    }
    const jv *inputs = jv_get(request, "inputs");
    if (inputs && !jv_is_null(inputs) && !jv_is_array(inputs)) {
        j->state = 1;
        atom_problem(req, 400, "api", "/inputs", "inputs must be an array of values");
        return false;
    }
    const char *cb = jv_get_str(request, "callbackUri");
    bool can_wait = cb && *cb;
    if (can_wait && !str_starts(cb, "http://") && !str_starts(cb, "https://")) {
        j->state = 1;
        atom_problem(req, 400, "api", "/callbackUri", "callbackUri must be an http or https URL");
        return false;
    }
    const process_start_op *op = process_start(j->act->process);
    if (op->request) {
        if (profile_inputs_to_doc(op->request, inputs, &j->doc, &err) != 0) {
            j->state = 1;
            atom_problem(req, 400, "api", err.where, "%s (at %s)", err.msg, err.where);
            return false;
        }
    } else {
        j->doc = jv_new_object();
    }
    j->props = jv_new_object();
    static const char *const copied[] = {"token", "tenantId", "stateId", "callbackUri", "culture", NULL};
    for (size_t i = 0; copied[i]; i++)
        add_prop(j->props, copied[i], jv_get(request, copied[i]));
    const jv *cvs = jv_get(request, "configurationValues");
    for (size_t i = 0; i < jv_len(cvs); i++) {
        const jv *cv = jv_at(cvs, i);
        const char *n = jv_get_str(cv, "developerName");
        if (!n)
            continue;
        char *key = xasprintf("inflowconfigurationvalues_%s", n);
        add_prop(j->props, key, jv_get(cv, "contentValue"));
        free(key);
    }
    jv_set_str(j->props, "executionId", j->exec_id);
    /* Without a callbackUri a WAIT could never be completed, so such a request simply waits for
     * its result (bounded by the execution limit). The sync timeout counts from the request's
     * arrival. */
    if (can_wait) {
        int64_t left = op->sync_timeout_ms - (mono_us() - j->t0_us) / 1000;
        atomic_fetch_add(&j->refs, 1); /* the timer's reference */
        j->timer_armed = true;
        timer_add(a->timers, &j->timer, left > 0 ? left : 1, on_timeout, j);
    }
    return true;
}

static void handle_action(atom *a, http_request *req, deployment *dep, const flowservice *svc, const char *name)
{
    const fs_action *act = deploy_action(svc, name);
    if (!act) {
        buf names;
        buf_init(&names, 2048);
        for (size_t i = 0; i < svc->nactions; i++)
            buf_printf(&names, "%s\"%s\"", i ? ", " : "", svc->actions[i].name);
        atom_problem(req, 404, "api", "/uri", "unknown message action \"%s\" on /fs/%s (known: %s)", name,
                     svc->external_name, names.data ? names.data : "none");
        buf_free(&names);
        deploy_unref(dep);
        return;
    }
    if (atomic_load(&a->cancel)) {
        http_add_header(req, "Retry-After", "5");
        atom_problem(req, 503, "service", NULL, "the atom is shutting down");
        deploy_unref(dep);
        return;
    }
    fs_job *j = xcalloc(1, sizeof *j);
    j->a = a;
    j->dep = dep;
    j->svc = svc;
    j->act = act;
    j->req = req;
    uuid_v7(j->exec_id);
    j->started_ms = now_ms();
    j->t0_us = req->start_us;
    pthread_mutex_init(&j->mu, NULL);
    atomic_init(&j->refs, 1);
    atomic_fetch_add(&a->inflight, 1);
    http_suspend(req);
    if (workpool_submit(a->workers, run_job, j) != 0) {
        metrics_inc(a->rejected_busy, 1);
        j->state = 1;
        http_add_header(req, "Retry-After", "1");
        atom_problem(req, 503, "service", NULL, "the atom is busy: too many executions are waiting; retry shortly");
        atomic_fetch_sub(&a->inflight, 1);
        job_unref(j);
    }
}

void fs_on_request(atom *a, http_request *req, const char *rest)
{
    /* rest = "<externalName>/<route>" */
    const char *slash = strchr(rest, '/');
    size_t nlen = slash ? (size_t)(slash - rest) : strlen(rest);
    char *name = arena_strndup(req->arena, rest, nlen);
    const char *route = slash ? slash + 1 : "";
    deployment *dep = atom_current(a);
    const flowservice *svc = deploy_service(dep, name);
    if (!svc) {
        atom_problem(req, 404, "api", "/uri", "no Flow Service is published at /fs/%s", name);
        deploy_unref(dep);
        return;
    }
    if (fs_data_route(a, req, dep, svc, route) || fs_files_route(a, req, dep, svc, route))
        return; /* took dep */
    if (strcmp(req->method, "POST") != 0) {
        http_add_header(req, "Allow", "POST");
        atom_problem(req, 405, "api", NULL, "use POST for Flow Service requests");
        deploy_unref(dep);
        return;
    }
    if (strcmp(route, "metadata") == 0 || strcmp(route, "metadata/install") == 0) {
        req->route = "fs-metadata";
        http_respond(req, 200, "application/json", svc->describe, svc->describe_len);
        deploy_unref(dep);
        return;
    }
    if (str_starts(route, "actions/") && route[8]) {
        req->route = "fs-action";
        handle_action(a, req, dep, svc, route + 8); /* takes dep */
        return;
    }
    atom_problem(req, 404, "api", "/uri", "unknown Flow Service route \"/fs/%s/%s\"", name, route);
    deploy_unref(dep);
}
