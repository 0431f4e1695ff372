/* run: the run API v1 (see run.h). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_client.h"
#include "core/log.h"
#include "core/workpool.h"
#include "flow/engine.h"
#include "flow/flowstore.h"
#include "flow/invoke.h"
#include "flow/macro.h"
#include "flow/run.h"
#include "flow/run_internal.h"
#include "flow/snapshot.h"

#define MAX_BODY (4u << 20)
#define MAX_SUBFLOW_DEPTH 8

/* ---- problems and responses ---- */

void run_cors(http_request *req)
{
    const char *origin = http_header(req, "Origin");
    http_add_header(req, "Access-Control-Allow-Origin", origin ? origin : "*");
    http_add_header(req, "Vary", "Origin");
    http_add_header(req, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
    http_add_header(req, "Access-Control-Allow-Headers", "ManyWhoTenant, ManyWhoState, Authorization, Content-Type, x-boomi-flow-api-key");
    http_add_header(req, "Access-Control-Max-Age", "600");
}

void run_problem(http_request *req, int status, const char *where, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_trim_tail(msg);
    jv *p = jv_new_object();
    jv_set_str(p, "kind", "api");
    jv_set_str(p, "uri", req->raw_path);
    jv_set_int(p, "statusCode", status);
    jv_set_str(p, "message", msg);
    jv_set_str(p, "where", where);
    run_cors(req);
    http_respond_json(req, status, p);
    jv_free(p);
}

void run_respond(http_request *req, int status, jv *body)
{
    run_cors(req);
    http_respond_json(req, status, body);
    jv_free(body);
}

/* ---- snapshots ---- */

/* The parsed snapshot of a version (cached; snapshots are immutable). NULL with err. */
const flow_snapshot *run_snapshot(flow_engine *e, const char *tenant, const char *version_id, sl_error *err)
{
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->ncache; i++)
        if (strcmp(e->cache[i].version_id, version_id) == 0) {
            const flow_snapshot *s = e->cache[i].snap;
            pthread_mutex_unlock(&e->mu);
            return s;
        }
    pthread_mutex_unlock(&e->mu);
    char *json = NULL;
    if (flowstore_version_snapshot(e->fs, tenant, version_id, &json, err) != 0)
        return NULL;
    sl_problems pr;
    problems_init(&pr);
    flow_snapshot *snap = NULL;
    int rc = snapshot_parse_text(json, strlen(json), "", &snap, &pr);
    free(json);
    if (rc) {
        sl_fail(err, SL_EINVAL, pr.n ? pr.items[0].pointer : "", "stored snapshot is invalid: %s",
                pr.n ? pr.items[0].message : "?");
        problems_free(&pr);
        return NULL;
    }
    problems_free(&pr);
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->ncache; i++)
        if (strcmp(e->cache[i].version_id, version_id) == 0) { /* a racing reader won */
            snapshot_free(snap);
            const flow_snapshot *s = e->cache[i].snap;
            pthread_mutex_unlock(&e->mu);
            return s;
        }
    if (e->ncache == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 16;
        e->cache = xrealloc(e->cache, e->cap * sizeof *e->cache);
    }
    str_copy(e->cache[e->ncache].version_id, version_id, 37);
    e->cache[e->ncache++].snap = snap;
    pthread_mutex_unlock(&e->mu);
    return snap;
}

/* ---- service calls (from worker threads) ---- */

typedef struct svc_ctx {
    flow_engine *e;
} svc_ctx;

void run_redact_service(jv *service)
{
    if (jv_get(service, "httpAuthenticationPassword"))
        jv_set_null(service, "httpAuthenticationPassword");
}

int run_tenant_check(flow_engine *e, const char *tenant, sl_error *err)
{
    /* tenants are never deleted, so a tenant seen once is remembered (a small, bounded set) */
    pthread_mutex_lock(&e->mu);
    for (size_t i = 0; i < e->ntenants; i++)
        if (strcmp(e->tenants[i], tenant) == 0) {
            pthread_mutex_unlock(&e->mu);
            return 0;
        }
    pthread_mutex_unlock(&e->mu);
    int rc = flowstore_tenant_exists(e->fs, tenant, err);
    if (rc == 0 && strlen(tenant) < 37) {
        pthread_mutex_lock(&e->mu);
        if (e->ntenants < RUN_TENANT_CACHE)
            str_copy(e->tenants[e->ntenants++], tenant, 37);
        pthread_mutex_unlock(&e->mu);
    }
    return rc;
}

void run_http_raw(flow_engine *e, const run_http_req *rq, http_client_reply *out)
{
    size_t ul = strlen(rq->base_uri);
    while (ul > 0 && rq->base_uri[ul - 1] == '/')
        ul--;
    char *url = xasprintf("%.*s%s", (int)ul, rq->base_uri, rq->path ? rq->path : "");
    char *auth = http_basic_header(rq->username, rq->password);
    char *ctype = xasprintf("Content-Type: %s", rq->content_type ? rq->content_type : "application/json");
    const char *headers[] = {ctype, "Accept: application/json", auth, NULL};
    char *text = rq->body_fd < 0 && rq->body ? jv_dumps(rq->body) : NULL;
    const char *body = text ? text : rq->body_text ? rq->body_text : "";
    size_t len = text ? strlen(text) : rq->body_text ? rq->body_len : 0;
    http_client_opts o = {.timeout_ms = rq->timeout_ms ? rq->timeout_ms : e->cfg.service_timeout_ms,
                          .max_attempts = rq->attempts ? rq->attempts : 1, .backoff_ms = 200,
                          .max_response = 32u << 20};
    if (http_client_call(e->client, rq->method, url, headers, body, len, rq->body_fd, rq->body_size, &o, out) != 0)
        snprintf(out->error, sizeof out->error, "\"%s\" is not an http(s) URL", rq->base_uri);
    free(text);
    free(ctype);
    free(auth);
    free(url);
}

void run_http(flow_engine *e, const run_http_req *rq, engine_service_result *res)
{
    memset(res, 0, sizeof *res);
    http_client_reply r;
    run_http_raw(e, rq, &r);
    res->status = r.status;
    if (r.body && r.len) {
        sl_error err = {0};
        res->body = jv_parse(r.body, r.len, &err);
    }
    snprintf(res->error, sizeof res->error, "%s", r.error);
    http_client_reply_free(&r);
}

static void svc_call(void *arg, const snap_element *service, const char *method, const char *path, const jv *body,
                     engine_service_result *res)
{
    flow_engine *e = ((svc_ctx *)arg)->e;
    bool idempotent = strcmp(path, "/data") == 0 && strcmp(method, "POST") == 0; /* Load */
    run_http_req rq = {.method = method, .base_uri = jv_get_str(service->json, "uri"), .path = path,
                       .username = jv_get_str(service->json, "httpAuthenticationUsername"),
                       .password = jv_get_str(service->json, "httpAuthenticationPassword"), .body = body,
                       .body_fd = -1, .attempts = idempotent ? 3 : 1};
    run_http(e, &rq, res);
}

int run_submit(flow_engine *e, http_request *req, void (*fn)(void *), void *arg)
{
    if (atomic_load(&e->stopping)) {
        run_problem(req, 503, NULL, "the engine is shutting down");
        return SL_ESTATE;
    }
    http_suspend(req);
    if (workpool_submit(e->wp, fn, arg) != 0) {
        run_problem(req, 503, NULL, "the engine is busy: too many requests are waiting; retry shortly");
        return SL_ETOOBIG;
    }
    return 0;
}

int run_builder_auth(flow_engine *e, http_request *req, char tenant_out[64])
{
    const char *tenant = http_header(req, "ManyWhoTenant");
    const char *key = http_header(req, "x-boomi-flow-api-key");
    if (!tenant || !*tenant) {
        run_problem(req, 400, "ManyWhoTenant", "the ManyWhoTenant header (the tenant id) is required");
        return SL_EINVAL;
    }
    sl_error err = {0};
    if (!key || !*key) {
        run_problem(req, 401, "x-boomi-flow-api-key",
                    "builder calls need an API key in x-boomi-flow-api-key (create one with 'sluice key add --tenant NAME')");
        return SL_EAUTH;
    }
    int rc = flowstore_key_check(e->fs, tenant, key, &err);
    if (rc) {
        if (rc == SL_EAUTH)
            run_problem(req, 401, "x-boomi-flow-api-key", "%s", err.msg);
        else
            run_problem(req, 500, NULL, "cannot check the API key: %s", err.msg);
        return rc;
    }
    str_copy(tenant_out, tenant, 64);
    return 0;
}

static int svc_macro(void *arg, const char *code, const jv *values, jv **changed, sl_error *err)
{
    flow_engine *e = ((svc_ctx *)arg)->e;
    if (!e->macros)
        return sl_fail(err, SL_ESTATE, "macro", "macros are not enabled in this engine");
    return macro_run(e->macros, code, values, changed, err);
}

/* ---- jobs ---- */

typedef enum {
    R_INIT,
    R_SIMPLE,
    R_INVOKE,
    R_JOIN,
    R_PING,
    R_HISTORY,
    R_NAVIGATION,
    R_RESPONSE,
    R_CUSTOM,
    R_DELETE,
} route_kind;

typedef struct job {
    flow_engine *e;
    http_request *req;
    route_kind kind;
    char state_id[64];
    char token[64];
    char tenant[64];
} job;

/* A loaded state with its snapshot and blob. */
typedef struct loaded {
    flow_state st;
    const flow_snapshot *snap;
    jv *blob;
    bool fresh; /* not stored yet: the first commit inserts it (a new state and its first run in one) */
} loaded;

static void loaded_free(loaded *l)
{
    flowstore_state_free(&l->st);
    jv_free(l->blob);
    memset(l, 0, sizeof *l);
}

/* Loads a state: 0, or answers the request with a problem and returns nonzero. */
static int load_state(job *j, const char *state_id, loaded *l)
{
    memset(l, 0, sizeof *l);
    sl_error err = {0};
    int rc = flowstore_state_get(j->e->fs, j->tenant, state_id, &l->st, &err);
    if (rc) {
        if (rc == SL_ENOTFOUND)
            run_problem(j->req, 404, "stateId", "no state %s in tenant %s (it may have ended and been cleaned up)", state_id,
                    j->tenant);
        else
            run_problem(j->req, 500, "state", "cannot read state %s: %s", state_id, err.msg);
        return rc;
    }
    l->snap = run_snapshot(j->e, j->tenant, l->st.version_id, &err);
    if (!l->snap) {
        run_problem(j->req, 500, "state", "cannot load the flow version of state %s: %s", state_id, err.msg);
        flowstore_state_free(&l->st);
        return SL_EIO;
    }
    l->blob = jv_parse(l->st.json, strlen(l->st.json), &err);
    if (!jv_is_object(l->blob)) {
        run_problem(j->req, 500, "state", "state %s is damaged: %s", state_id, err.msg);
        loaded_free(l);
        return SL_EIO;
    }
    return 0;
}

static const char *status_of(const jv *blob)
{
    const char *it = engine_state_invoke_type(blob);
    return str_ieq(it, "DONE") ? FLOW_STATE_DONE : str_ieq(it, "WAIT") ? "WAITING" : FLOW_STATE_IN_PROGRESS;
}

/* Commits l->blob with compare-and-set (given: its serialisation when the caller already made it,
 * else NULL). 0, or answers 409/500 and returns nonzero. */
static int commit_text(job *j, loaded *l, const char *given)
{
    char *made = given ? NULL : jv_dumps(l->blob);
    const char *text = given ? given : made;
    sl_error err = {0};
    char token[37];
    const char *wait_token = str_ieq(engine_state_invoke_type(l->blob), "WAIT")
                                 ? jv_get_str(jv_get(l->blob, "wait"), "token")
                                 : NULL;
    int rc = l->fresh ? flowstore_state_insert(j->e->fs, j->tenant, l->st.flow_id, l->st.version_id, l->st.id,
                                               jv_get_str(l->blob, "current"), status_of(l->blob), text, wait_token,
                                               token, &err)
                      : flowstore_state_update_wait(j->e->fs, l->st.id, l->st.version, text,
                                                    jv_get_str(l->blob, "current"), status_of(l->blob), wait_token,
                                                    token, &err);
    free(made);
    if (!rc && l->fresh) {
        l->fresh = false;
        l->st.version = 0; /* becomes 1 below */
    }
    if (rc == SL_ESTATE) {
        run_problem(j->req, 409, "stateToken",
                "state %s was changed by another request meanwhile; nothing was saved from this one: rejoin the state "
                "and try again",
                l->st.id);
        return rc;
    }
    if (rc) {
        run_problem(j->req, 500, "state", "cannot save state %s: %s", l->st.id, err.msg);
        return rc;
    }
    memcpy(l->st.token, token, 37);
    l->st.version++;
    return 0;
}

static int commit(job *j, loaded *l)
{
    return commit_text(j, l, NULL);
}

static void fill_run(job *j, loaded *l, engine_run *run, const engine_services *svc)
{
    memset(run, 0, sizeof *run);
    run->snap = l->snap;
    run->state = l->blob;
    run->svc = svc;
    run->tenant_id = j->tenant;
    run->state_id = l->st.id;
}

static void add_urls(job *j, jv *resp, loaded *l)
{
    if (!j->e->base_url)
        return;
    char *run = xasprintf("%s/play/%s/%s", j->e->base_url, j->tenant, l->st.flow_id);
    char *join = xasprintf("%s?join=%s", run, l->st.id);
    jv_set_str(resp, "runFlowUri", run);
    jv_set_str(resp, "joinFlowUri", join);
    free(run);
    free(join);
}

/* Builds the response for l (its current element) after a run; invoke_type may override. */
static jv *response_for(job *j, loaded *l, engine_run *run, const char *invoke_type)
{
    jv *r = engine_response(run, l->st.token, invoke_type, jv_get_str(l->blob, "parent"));
    add_urls(j, r, l);
    return r;
}

static void settle(job *j, loaded *l, engine_run *run, engine_outcome oc, const char *before, int depth);

/* Resumes the parent of a child that just ended. Takes over child (freed). */
static void finish_child(job *j, loaded *child, int depth)
{
    const char *parent_id = jv_get_str(child->blob, "parent");
    loaded p;
    char pid[64];
    str_copy(pid, parent_id, sizeof pid);
    if (load_state(j, pid, &p) != 0) {
        loaded_free(child);
        return;
    }
    engine_services svc = {.call = svc_call, .macro = svc_macro, .arg = &(svc_ctx){j->e},
                           .callback_uri = j->e->callback_uri};
    engine_run run;
    fill_run(j, &p, &run, &svc);
    char *before = jv_dumps(p.blob);
    engine_outcome oc = engine_resume_subflow(&run, child->snap, child->blob);
    loaded_free(child);
    settle(j, &p, &run, oc, before, depth + 1);
    free(before);
    engine_run_clear(&run);
    loaded_free(&p);
}

/* Starts the child state of a parent that entered a SUB_FLOW element. */
static void start_child(job *j, loaded *l, engine_run *run, int depth)
{
    const char *fid = NULL, *ver = NULL;
    sl_error err = {0};
    if (!engine_subflow_target(l->snap, l->blob, &fid, &ver)) {
        run_problem(j->req, 500, "subflow", "the state entered a sub-flow element without a flowId");
        return;
    }
    char vid[37];
    if (flowstore_flow_version_id(j->e->fs, j->tenant, fid, ver, vid, &err) != 0) {
        run_problem(j->req, 422, "subflow", "the sub-flow element names flow %s, which this tenant cannot run: %s", fid,
                err.msg);
        return;
    }
    const flow_snapshot *cs = run_snapshot(j->e, j->tenant, vid, &err);
    jv *cblob = NULL;
    if (!cs || engine_subflow_child(l->snap, l->blob, cs, &cblob, &err) != 0) {
        run_problem(j->req, 500, "subflow", "cannot start the sub-flow: %s", err.msg);
        return;
    }
    jv_set_str(cblob, "parent", l->st.id);
    char *ctext = jv_dumps(cblob);
    loaded c = {0};
    int rc = flowstore_state_create(j->e->fs, j->tenant, cs->id, vid, jv_get_str(cblob, "current"), ctext, &c.st, &err);
    free(ctext);
    if (rc) {
        jv_free(cblob);
        run_problem(j->req, 500, "subflow", "cannot create the sub-flow state: %s", err.msg);
        return;
    }
    c.snap = cs;
    c.blob = cblob;
    jv_set_str(jv_get(l->blob, "subflow"), "child", c.st.id);
    if (commit(j, l) != 0) {
        sl_error e2 = {0};
        flowstore_state_delete(j->e->fs, j->tenant, c.st.id, &e2);
        loaded_free(&c);
        return;
    }
    engine_services svc = {.call = svc_call, .macro = svc_macro, .arg = &(svc_ctx){j->e},
                           .callback_uri = j->e->callback_uri};
    engine_run crun;
    fill_run(j, &c, &crun, &svc);
    char *before = jv_dumps(c.blob);
    engine_outcome oc = engine_forward(&crun);
    settle(j, &c, &crun, oc, before, depth + 1);
    free(before);
    engine_run_clear(&crun);
    loaded_free(&c);
    (void)run;
}

/* After a run on l: commits when something changed, follows sub-flows, and answers. */
static void settle(job *j, loaded *l, engine_run *run, engine_outcome oc, const char *before, int depth)
{
    if (depth > MAX_SUBFLOW_DEPTH) {
        run_problem(j->req, 422, "subflow", "sub-flows nest deeper than %d levels", MAX_SUBFLOW_DEPTH);
        return;
    }
    if (oc == ENGINE_FAULT || oc == ENGINE_INVALID) {
        /* Commit nothing: show the stored state (with the faults or the validation). A new
         * state is stored as it was created, so the person can retry. */
        sl_error err = {0};
        jv *stored = jv_parse(l->st.json, strlen(l->st.json), &err);
        if (l->fresh) {
            jv *run_blob = l->blob;
            l->blob = stored;
            int rc = commit(j, l);
            l->blob = run_blob;
            if (rc) {
                jv_free(stored);
                return;
            }
        }
        engine_run show = *run;
        show.state = stored;
        jv *r = response_for(j, l, &show, oc == ENGINE_INVALID ? "FORWARD" : NULL);
        jv_free(stored);
        run_respond(j->req, 200, r);
        return;
    }
    char *after = jv_dumps(l->blob);
    bool changed = strcmp(after, before) != 0;
    if (oc == ENGINE_SUBFLOW) {
        free(after);
        start_child(j, l, run, depth);
        return;
    }
    int rc = changed || l->fresh ? commit_text(j, l, after) : 0; /* the text just made is what is stored */
    free(after);
    if (rc != 0)
        return;
    if (oc == ENGINE_DONE && changed && jv_get_str(l->blob, "parent")) {
        /* the child has just ended: hand its outputs to the parent and carry on there */
        loaded child = *l;
        child.blob = jv_incref(l->blob);
        child.st.flow_id = child.st.flow_id ? xstrdup(child.st.flow_id) : NULL;
        child.st.version_id = child.st.version_id ? xstrdup(child.st.version_id) : NULL;
        child.st.current_element = child.st.current_element ? xstrdup(child.st.current_element) : NULL;
        child.st.status = child.st.status ? xstrdup(child.st.status) : NULL;
        child.st.json = child.st.json ? xstrdup(child.st.json) : NULL;
        finish_child(j, &child, depth);
        return;
    }
    run_respond(j->req, 200, response_for(j, l, run, run->sync ? "SYNC" : NULL));
}

/* Joins a parent that is inside a sub-flow: answers with the child's state, or, when the child
 * has ended (e.g. a crash came between the two commits), resumes the parent. */
static bool join_subflow(job *j, loaded *l, int depth)
{
    if (!str_ieq(engine_state_invoke_type(l->blob), "SUBFLOW"))
        return false;
    const char *cid = jv_get_str(jv_get(l->blob, "subflow"), "child");
    if (!cid)
        return false;
    loaded c;
    sl_error err = {0};
    if (flowstore_state_get(j->e->fs, j->tenant, cid, &c.st, &err) != 0)
        return false;
    flowstore_state_free(&c.st);
    if (load_state(j, cid, &c) != 0)
        return true;
    if (str_ieq(engine_state_invoke_type(c.blob), "DONE")) {
        finish_child(j, &c, depth);
        return true;
    }
    if (depth < MAX_SUBFLOW_DEPTH && join_subflow(j, &c, depth + 1)) {
        loaded_free(&c);
        return true;
    }
    engine_run run;
    fill_run(j, &c, &run, NULL);
    run_respond(j->req, 200, response_for(j, &c, &run, NULL));
    engine_run_clear(&run);
    loaded_free(&c);
    return true;
}

/* ---- handlers ---- */

static jv *parse_body(job *j)
{
    sl_error err = {0};
    if (j->req->body_len == 0) {
        run_problem(j->req, 400, "", "the request needs a JSON body");
        return NULL;
    }
    jv *b = jv_parse(j->req->body, j->req->body_len, &err);
    if (!b) {
        run_problem(j->req, 400, err.where, "the request body is not valid JSON: %s", err.msg);
        return NULL;
    }
    if (!jv_is_object(b)) {
        jv_free(b);
        run_problem(j->req, 400, "", "the request body must be a JSON object");
        return NULL;
    }
    return b;
}

/* Creates a state for flow (id or name) at version; answers on failure. */
static int create_state(job *j, const char *flow_id, const char *version, const jv *inputs, bool insert, loaded *l)
{
    memset(l, 0, sizeof *l);
    sl_error err = {0};
    char vid[37];
    if (flowstore_flow_version_id(j->e->fs, j->tenant, flow_id, version, vid, &err) != 0) {
        run_problem(j->req, 404, "flowId", "%s", err.msg);
        return SL_ENOTFOUND;
    }
    l->snap = run_snapshot(j->e, j->tenant, vid, &err);
    if (!l->snap) {
        run_problem(j->req, 500, "flowId", "%s", err.msg);
        return SL_EIO;
    }
    if (!l->snap->start) {
        run_problem(j->req, 422, "startMapElementId", "flow %s cannot run: its start element %s is not in it", flow_id,
                l->snap->start_id ? l->snap->start_id : "(none)");
        return SL_EINVAL;
    }
    if (engine_state_new(l->snap, inputs, &l->blob, &err) != 0) {
        run_problem(j->req, 400, err.where, "%s", err.msg);
        return SL_EINVAL;
    }
    char *text = jv_dumps(l->blob);
    if (!insert) { /* stored by the first commit, with its first run */
        uuid_v4(l->st.id);
        str_copy(l->st.tenant, j->tenant, sizeof l->st.tenant);
        l->st.flow_id = xstrdup(l->snap->id);
        l->st.version_id = xstrdup(vid);
        l->st.current_element = xstrdup(jv_get_str(l->blob, "current"));
        l->st.status = xstrdup(FLOW_STATE_IN_PROGRESS);
        l->st.json = text;
        l->fresh = true;
        return 0;
    }
    int rc = flowstore_state_create(j->e->fs, j->tenant, l->snap->id, vid, jv_get_str(l->blob, "current"), text,
                                    &l->st, &err);
    free(text);
    if (rc) {
        jv_free(l->blob);
        l->blob = NULL;
        run_problem(j->req, 500, "state", "cannot create the state: %s", err.msg);
    }
    return rc;
}

static void h_init(job *j)
{
    jv *b = parse_body(j);
    if (!b)
        return;
    invoke_init init;
    sl_error err = {0};
    if (invoke_decode_init(b, &init, &err) != 0) {
        run_problem(j->req, 400, err.where, "%s", err.msg);
        jv_free(b);
        return;
    }
    loaded l;
    char *fid = NULL;
    if (!init.flow_id && init.developer_name) {
        if (flowstore_flow_by_name(j->e->fs, j->tenant, init.developer_name, &fid, &err) != 0) {
            run_problem(j->req, 404, "developerName", "%s", err.msg);
            jv_free(b);
            return;
        }
    }
    if (create_state(j, fid ? fid : init.flow_id, init.version_id, init.inputs, j->kind == R_INIT, &l) != 0) {
        free(fid);
        jv_free(b);
        return;
    }
    free(fid);
    if (j->kind == R_INIT) {
        jv *r = jv_new_object();
        jv_set_str(r, "culture", NULL);
        jv_set_str(r, "stateId", l.st.id);
        jv_set_str(r, "stateToken", l.st.token);
        jv_set_str(r, "currentMapElementId", jv_get_str(l.blob, "current"));
        jv_set_null(r, "currentStreamId");
        jv_set_str(r, "statusCode", "200");
        jv_set_null(r, "authorizationContext");
        jv_set_take(r, "navigationElementReferences", engine_navigation_refs(l.snap));
        jv_set_bool(r, "isHistoricalNavigationEnabled", true);
        add_urls(j, r, &l);
        run_respond(j->req, 200, r);
    } else {
        engine_services svc = {.call = svc_call, .macro = svc_macro, .arg = &(svc_ctx){j->e},
                               .callback_uri = j->e->callback_uri};
        engine_run run;
        fill_run(j, &l, &run, &svc);
        char *before = jv_dumps(l.blob);
        engine_outcome oc = engine_forward(&run);
        settle(j, &l, &run, oc, before, 0);
        free(before);
        engine_run_clear(&run);
    }
    loaded_free(&l);
    jv_free(b);
}

static void h_invoke(job *j)
{
    jv *b = parse_body(j);
    if (!b)
        return;
    sl_error err = {0};
    invoke_request ir;
    if (invoke_decode(b, &ir, &err) != 0) {
        run_problem(j->req, 400, err.where, "%s", err.msg);
        jv_free(b);
        return;
    }
    if (ir.state_id && !str_ieq(ir.state_id, j->state_id)) {
        run_problem(j->req, 400, "/stateId", "stateId %s in the body differs from %s in the path", ir.state_id, j->state_id);
        jv_free(b);
        return;
    }
    loaded l;
    if (load_state(j, j->state_id, &l) != 0) {
        jv_free(b);
        return;
    }
    if (!str_eq(ir.state_token, l.st.token)) {
        run_problem(j->req, 409, "/stateToken",
                "stale stateToken: state %s has moved on since that token was issued; nothing was changed. Rejoin "
                "with GET /api/run/1/state/%s",
                l.st.id, l.st.id);
        loaded_free(&l);
        jv_free(b);
        return;
    }
    if (join_subflow(j, &l, 0)) {
        loaded_free(&l);
        jv_free(b);
        return;
    }
    engine_services svc = {.call = svc_call, .macro = svc_macro, .arg = &(svc_ctx){j->e},
                           .callback_uri = j->e->callback_uri};
    engine_run run;
    fill_run(j, &l, &run, &svc);
    run.culture = NULL;
    char *before = jv_dumps(l.blob);
    bool bad = false;
    engine_outcome oc = engine_invoke(&run, b, &bad);
    if (bad) {
        run_problem(j->req, 400, "/mapElementInvokeRequest", "%s", jv_get_str(run.faults, "request"));
    } else {
        settle(j, &l, &run, oc, before, 0);
    }
    free(before);
    engine_run_clear(&run);
    loaded_free(&l);
    jv_free(b);
}

static void h_join(job *j)
{
    loaded l;
    if (load_state(j, j->state_id, &l) != 0)
        return;
    if (!join_subflow(j, &l, 0)) {
        engine_run run;
        fill_run(j, &l, &run, NULL);
        run_respond(j->req, 200, response_for(j, &l, &run, NULL));
        engine_run_clear(&run);
    }
    loaded_free(&l);
}

static void h_ping(job *j)
{
    flow_state st;
    sl_error err = {0};
    int rc = flowstore_state_get(j->e->fs, j->tenant, j->state_id, &st, &err);
    if (rc) {
        run_problem(j->req, rc == SL_ENOTFOUND ? 404 : 500, "stateId", "%s", err.msg);
        return;
    }
    bool moved = !str_eq(st.token, j->token);
    flowstore_state_free(&st);
    run_cors(j->req);
    const char *body = moved ? "true" : "false";
    http_respond(j->req, 200, "application/json", body, strlen(body));
}

static void h_history(job *j)
{
    loaded l;
    if (load_state(j, j->state_id, &l) != 0)
        return;
    jv *r = jv_new_object();
    jv_set_str(r, "stateId", l.st.id);
    jv *items = jv_new_array();
    const jv *h = jv_get(l.blob, "history");
    for (size_t i = 0; i < jv_len(h); i++) {
        const jv *e = jv_at(h, i);
        jv *it = jv_new_object();
        jv_set_str(it, "mapElementId", jv_get_str(e, "id"));
        jv_set_str(it, "developerName", jv_get_str(e, "developerName"));
        const snap_map_element *el = snapshot_map_element(l.snap, jv_get_str(e, "id"));
        const char *label = el ? jv_get_str(el->json, "label") : NULL;
        jv_set_str(it, "label", label ? label : jv_get_str(e, "developerName"));
        char iso[25];
        time_iso8601(jv_int(jv_get(e, "at")), iso);
        jv_set_str(it, "dateCreated", iso);
        jv_push_take(items, it);
    }
    jv_set_take(r, "historyItems", items);
    run_respond(j->req, 200, r);
    loaded_free(&l);
}

static jv *nav_items(const jv *items, const char *current, jv *data, int depth)
{
    jv *out = jv_new_array();
    for (size_t i = 0; depth < 8 && i < jv_len(items); i++) {
        const jv *it = jv_at(items, i);
        jv *r = jv_new_object();
        jv_set_str(r, "id", jv_get_str(it, "id"));
        jv_set_str(r, "developerName", jv_get_str(it, "developerName"));
        jv_set_str(r, "label", jv_get_str(it, "label") ? jv_get_str(it, "label") : jv_get_str(it, "developerName"));
        jv_set_int(r, "order", jv_int(jv_get(it, "order")));
        jv_set_str(r, "url", jv_get_str(it, "url"));
        jv_set_take(r, "navigationItems", nav_items(jv_get(it, "navigationItems"), current, data, depth + 1));
        jv_push_take(out, r);
        jv *d = jv_new_object();
        jv_set_str(d, "navigationItemId", jv_get_str(it, "id"));
        jv_set_str(d, "navigationItemDeveloperName", jv_get_str(it, "developerName"));
        const char *loc = jv_get_str(it, "locationMapElementId");
        jv_set_bool(d, "isActive", true);
        jv_set_bool(d, "isCurrent", loc && str_ieq(loc, current));
        jv_set_bool(d, "isEnabled", true);
        jv_set_bool(d, "isVisible", true);
        jv_set_str(d, "locationMapElementId", loc);
        jv_push_take(data, d);
    }
    return out;
}

static void h_navigation(job *j)
{
    jv *b = parse_body(j);
    if (!b)
        return;
    loaded l;
    if (load_state(j, j->state_id, &l) != 0) {
        jv_free(b);
        return;
    }
    const char *nid = jv_get_str(b, "navigationElementId");
    const snap_element *nav = nid ? snapshot_element(l.snap, SNAP_SET_NAVIGATION, nid) : NULL;
    if (!nav) {
        run_problem(j->req, 404, "/navigationElementId", "navigation %s is not in the flow", nid ? nid : "(none)");
    } else {
        jv *r = jv_new_object();
        jv_set_str(r, "developerName", nav->developer_name);
        jv_set_str(r, "label", jv_get_str(nav->json, "label"));
        jv_set_bool(r, "isVisible", true);
        jv_set_bool(r, "isEnabled", true);
        jv_set_str(r, "stateId", l.st.id);
        jv_set_bool(r, "persistState", jv_bool(jv_get(nav->json, "persistState")));
        jv_set_bool(r, "persistValues", jv_bool(jv_get(nav->json, "persistValues")));
        jv_set_str(r, "position", "Top");
        jv *data = jv_new_array();
        jv_set_take(r, "navigationItemResponses",
                    nav_items(jv_get(nav->json, "navigationItems"), jv_get_str(l.blob, "current"), data, 0));
        jv_set_take(r, "navigationItemDataResponses", data);
        run_respond(j->req, 200, r);
    }
    loaded_free(&l);
    jv_free(b);
}

static void h_response(job *j)
{
    jv *b = parse_body(j);
    if (!b)
        return;
    /* The ServiceResponse carries the token the engine sent (unique per call); stateId and
     * tenantId are optional checks when the service echoes them. */
    const char *tok = jv_get_str(b, "token");
    if (!tok || !*tok) {
        run_problem(j->req, 400, "/token", "a ServiceResponse callback needs the token that was sent with the request");
        jv_free(b);
        return;
    }
    char tenant_found[37], sid_found[37];
    sl_error ferr = {0};
    int frc = flowstore_state_by_wait_token(j->e->fs, tok, tenant_found, sid_found, &ferr);
    if (frc) {
        run_problem(j->req, frc == SL_ENOTFOUND ? 409 : 500, "/token",
                "no state is waiting for a service response with this token (already resumed, or never sent)");
        jv_free(b);
        return;
    }
    const char *sid = sid_found;
    if ((jv_get_str(b, "stateId") && !str_ieq(jv_get_str(b, "stateId"), sid_found)) ||
        (jv_get_str(b, "tenantId") && !str_ieq(jv_get_str(b, "tenantId"), tenant_found))) {
        run_problem(j->req, 409, "/stateId", "the stateId or tenantId of this ServiceResponse does not match the state "
                "waiting with its token");
        jv_free(b);
        return;
    }
    str_copy(j->tenant, tenant_found, sizeof j->tenant);
    loaded l;
    if (load_state(j, sid, &l) != 0) {
        jv_free(b);
        return;
    }
    const jv *w = jv_get(l.blob, "wait");
    if (!str_ieq(engine_state_invoke_type(l.blob), "WAIT") || !w || !str_eq(jv_get_str(w, "token"), tok)) {
        run_problem(j->req, 409, "/token", "state %s is not waiting for this service response (already resumed, or the token "
                "is not the one sent)", sid);
        loaded_free(&l);
        jv_free(b);
        return;
    }
    if (str_ieq(jv_get_str(b, "invokeType"), "WAIT")) { /* still working: note the message only */
        const char *m = jv_get_str(b, "waitMessage");
        if (m)
            jv_set_str((jv *)w, "message", m);
        if (m && commit(j, &l) != 0) {
            loaded_free(&l);
            jv_free(b);
            return;
        }
        run_respond(j->req, 200, jv_new_object());
        loaded_free(&l);
        jv_free(b);
        return;
    }
    engine_services svc = {.call = svc_call, .macro = svc_macro, .arg = &(svc_ctx){j->e},
                           .callback_uri = j->e->callback_uri};
    engine_run run;
    fill_run(j, &l, &run, &svc);
    char *before = jv_dumps(l.blob);
    engine_outcome oc = engine_resume_wait(&run, b);
    if (oc == ENGINE_FAULT) {
        /* The service finished with a fault: back to the page the person came from (the last
         * one visited), with the fault shown, so they can change their input and try again. The
         * fault is kept with the state until the next move. */
        jv_del(l.blob, "wait");
        jv_set_str(l.blob, "invokeType", "FORWARD");
        const jv *h = jv_get(l.blob, "history");
        const char *back = jv_len(h) ? jv_get_str(jv_at(h, jv_len(h) - 1), "id") : NULL;
        if (back && snapshot_map_element(l.snap, back))
            jv_set_str(l.blob, "current", back);
        jv_set(l.blob, "faults", run.faults);
        oc = ENGINE_UI;
    }
    settle(j, &l, &run, oc, before, 0);
    free(before);
    engine_run_clear(&run);
    loaded_free(&l);
    jv_free(b);
}

static void h_delete(job *j)
{
    sl_error err = {0};
    int rc = flowstore_state_delete(j->e->fs, j->tenant, j->state_id, &err);
    if (rc) {
        run_problem(j->req, rc == SL_ENOTFOUND ? 404 : 500, "stateId", "%s", err.msg);
        return;
    }
    run_cors(j->req);
    http_respond(j->req, 204, "application/json", "", 0);
}

static void job_run(void *arg)
{
    job *j = arg;
    sl_error err = {0};
    if (j->kind != R_RESPONSE && j->kind != R_CUSTOM && run_tenant_check(j->e, j->tenant, &err) != 0) {
        run_problem(j->req, 404, "ManyWhoTenant", "no tenant %s on this engine", j->tenant);
        free(j);
        return;
    }
    switch (j->kind) {
    case R_INIT:
    case R_SIMPLE: h_init(j); break;
    case R_INVOKE: h_invoke(j); break;
    case R_JOIN: h_join(j); break;
    case R_PING: h_ping(j); break;
    case R_HISTORY: h_history(j); break;
    case R_NAVIGATION: h_navigation(j); break;
    case R_RESPONSE: h_response(j); break;
    case R_DELETE: h_delete(j); break;
    case R_CUSTOM: run_respond(j->req, 200, jv_new_array()); break;
    }
    free(j);
}

/* ---- routing ---- */

bool flow_owns(const char *path)
{
    return str_starts(path, "/api/run/") || str_starts(path, "/api/draw/") || str_starts(path, "/api/package/");
}

void flow_on_headers(flow_engine *e, http_request *req)
{
    if (str_starts(req->path, "/api/draw/") || str_starts(req->path, "/api/package/")) {
        req->route = "draw";
        req->max_body = DRAW_MAX_BODY;
        return;
    }
    if (str_starts(req->path, "/api/run/1/service/")) {
        req->route = "relay";
        relay_on_headers(e, req);
        return;
    }
    req->route = "run";
    req->max_body = MAX_BODY;
}

/* Splits path after prefix into up to n segments (each < 64 chars). Returns the count, or -1. */
static int segments(const char *path, char seg[][64], int n)
{
    int k = 0;
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        if (k == n)
            return -1;
        const char *s = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - s);
        if (len >= 64)
            return -1;
        memcpy(seg[k], s, len);
        seg[k][len] = 0;
        k++;
    }
    return k;
}

void flow_on_request(flow_engine *e, http_request *req)
{
    if (strcmp(req->method, "OPTIONS") == 0) {
        run_cors(req);
        http_respond(req, 204, "text/plain", "", 0);
        return;
    }
    if (str_starts(req->path, "/api/draw/") || str_starts(req->path, "/api/package/")) {
        draw_on_request(e, req);
        return;
    }
    if (str_starts(req->path, "/api/run/1/service/")) {
        relay_on_request(e, req);
        return;
    }
    char seg[8][64];
    int n = segments(req->path + strlen("/api/run/"), seg, 8);
    bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0,
         del = strcmp(req->method, "DELETE") == 0;
    route_kind kind;
    const char *sid = NULL, *tok = NULL;
    if (n < 1 || strcmp(seg[0], "1") != 0) {
        run_problem(req, 404, "uri", "no run API route %s (this engine speaks /api/run/1)", req->raw_path);
        return;
    }
    if (n == 1 && post)
        kind = R_INIT;
    else if (n == 2 && post && strcmp(seg[1], "state") == 0)
        kind = R_SIMPLE;
    else if (n == 3 && strcmp(seg[1], "state") == 0 && (get || post || del)) {
        kind = get ? R_JOIN : post ? R_INVOKE : R_DELETE;
        sid = seg[2];
    } else if (n == 5 && get && strcmp(seg[1], "state") == 0 && strcmp(seg[3], "ping") == 0) {
        kind = R_PING;
        sid = seg[2];
        tok = seg[4];
    } else if (n == 4 && get && strcmp(seg[1], "state") == 0 && strcmp(seg[3], "history") == 0) {
        kind = R_HISTORY;
        sid = seg[2];
    } else if (n == 3 && post && strcmp(seg[1], "navigation") == 0) {
        kind = R_NAVIGATION;
        sid = seg[2];
    } else if (n == 2 && post && strcmp(seg[1], "response") == 0) {
        kind = R_RESPONSE;
    } else if (n == 5 && get && strcmp(seg[1], "flow") == 0 && strcmp(seg[4], "customPageComponents") == 0) {
        kind = R_CUSTOM;
    } else {
        run_problem(req, n >= 2 && (strcmp(seg[1], "state") == 0 || strcmp(seg[1], "navigation") == 0) ? 405 : 404, "uri",
                "no run API route %s %s", req->method, req->raw_path);
        return;
    }
    job *j = xcalloc(1, sizeof *j);
    j->e = e;
    j->req = req;
    j->kind = kind;
    if (sid)
        str_copy(j->state_id, sid, sizeof j->state_id);
    if (tok)
        str_copy(j->token, tok, sizeof j->token);
    if (kind != R_RESPONSE && kind != R_CUSTOM) {
        const char *tenant = http_header(req, "ManyWhoTenant");
        if (!tenant || !*tenant) {
            free(j);
            run_problem(req, 400, "ManyWhoTenant", "the ManyWhoTenant header (the tenant id) is required");
            return;
        }
        str_copy(j->tenant, tenant, sizeof j->tenant);
    }
    if (atomic_load(&e->stopping)) {
        free(j);
        run_problem(req, 503, NULL, "the engine is shutting down");
        return;
    }
    http_suspend(req);
    if (workpool_submit(e->wp, job_run, j) != 0) {
        free(j);
        run_problem(req, 503, NULL, "the engine is busy: too many requests are waiting; retry shortly");
    }
}

/* ---- lifecycle ---- */

static void *cleaner_main(void *arg)
{
    flow_engine *e = arg;
    pthread_mutex_lock(&e->cmu);
    while (!e->cstop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + (e->cfg.cleanup_every_ms % 1000) * 1000000;
        ts.tv_sec += e->cfg.cleanup_every_ms / 1000 + ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&e->ccv, &e->cmu, &ts);
        if (e->cstop)
            break;
        pthread_mutex_unlock(&e->cmu);
        sl_error err = {0};
        int64_t done = 0, idle = 0;
        flowstore_state_cleanup(e->fs, now_ms(), e->cfg.done_ttl_ms, &done, &err);
        flowstore_state_expire(e->fs, now_ms(), e->cfg.idle_ttl_ms, &idle, &err);
        if (done || idle) {
            char a[24], b[24];
            snprintf(a, sizeof a, "%lld", (long long)done);
            snprintf(b, sizeof b, "%lld", (long long)idle);
            log_info("flow", "states cleaned up", "#done", a, "#expired", b, NULL);
        }
        pthread_mutex_lock(&e->cmu);
    }
    pthread_mutex_unlock(&e->cmu);
    return NULL;
}

int flow_engine_open(const flow_engine_config *cfg, flow_engine **out, sl_error *err)
{
    *out = NULL;
    flow_engine *e = xcalloc(1, sizeof *e);
    e->cfg = *cfg;
    if (!e->cfg.workers)
        e->cfg.workers = 16;
    if (!e->cfg.service_timeout_ms)
        e->cfg.service_timeout_ms = 30000;
    if (!e->cfg.done_ttl_ms)
        e->cfg.done_ttl_ms = 24LL * 3600 * 1000;
    if (!e->cfg.idle_ttl_ms)
        e->cfg.idle_ttl_ms = 30LL * 24 * 3600 * 1000;
    if (!e->cfg.cleanup_every_ms) /* often enough that a short TTL is honoured promptly */
        e->cfg.cleanup_every_ms = e->cfg.done_ttl_ms / 2 < 200     ? 200
                                  : e->cfg.done_ttl_ms / 2 > 60000 ? 60000
                                                                   : e->cfg.done_ttl_ms / 2;
    int rc = flowstore_open(cfg->data_dir, &e->fs, err);
    if (rc) {
        free(e);
        return rc;
    }
    if (cfg->macro_argv) {
        macro_limits lim = {.time_ms = cfg->macro_time_ms, .memory_bytes = cfg->macro_memory_bytes};
        rc = macro_runner_start(cfg->macro_argv, cfg->macro_workers, &lim, &e->macros, err);
        if (rc) {
            flowstore_close(e->fs);
            free(e);
            return rc;
        }
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->cmu, NULL);
    pthread_cond_init(&e->ccv, NULL);
    e->client = http_client_start();
    e->wp = workpool_start(e->cfg.workers, 10000);
    e->cleaner_started = pthread_create(&e->cleaner, NULL, cleaner_main, e) == 0;
    *out = e;
    return 0;
}

void flow_engine_set_base_url(flow_engine *e, const char *base_url)
{
    free(e->base_url);
    free(e->callback_uri);
    e->base_url = xstrdup(base_url);
    e->callback_uri = xasprintf("%s/api/run/1/response", base_url);
}

void flow_engine_shutdown(flow_engine *e, int64_t wait_ms)
{
    if (!e || atomic_exchange(&e->stopping, true))
        return;
    if (e->cleaner_started) {
        pthread_mutex_lock(&e->cmu);
        e->cstop = true;
        pthread_cond_signal(&e->ccv);
        pthread_mutex_unlock(&e->cmu);
        pthread_join(e->cleaner, NULL);
        e->cleaner_started = false;
    }
    workpool_stop(e->wp); /* runs queued jobs to completion */
    e->wp = NULL;
    http_client_stop(e->client, wait_ms);
    e->client = NULL;
}

void flow_engine_close(flow_engine *e)
{
    if (!e)
        return;
    flow_engine_shutdown(e, 0);
    macro_runner_stop(e->macros);
    for (size_t i = 0; i < e->ncache; i++)
        snapshot_free(e->cache[i].snap);
    free(e->cache);
    flowstore_close(e->fs);
    pthread_mutex_destroy(&e->mu);
    pthread_mutex_destroy(&e->cmu);
    pthread_cond_destroy(&e->ccv);
    free(e->base_url);
    free(e->callback_uri);
    free(e);
}
