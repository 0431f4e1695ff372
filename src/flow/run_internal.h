/* run_internal: the Flow engine's shared innards, for the modules that serve HTTP routes beside
 * the run API (draw API, packages, relays, service install). Not a public interface. */
#ifndef SLUICE_FLOW_RUN_INTERNAL_H
#define SLUICE_FLOW_RUN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/http_client.h"
#include "core/http_server.h"
#include "core/workpool.h"
#include "flow/engine.h"
#include "flow/flowstore.h"
#include "flow/macro.h"
#include "flow/run.h"
#include "flow/snapshot.h"

typedef struct snap_cache_entry {
    char version_id[37];
    flow_snapshot *snap;
} snap_cache_entry;

#define RUN_TENANT_CACHE 256

struct flow_engine {
    flow_engine_config cfg;
    flowstore *fs;
    workpool *wp;
    http_client *client;
    macro_runner *macros;
    char *base_url;
    char *callback_uri;
    pthread_mutex_t mu;
    snap_cache_entry *cache; /* every version a state has run (versions are few and immutable) */
    char tenants[RUN_TENANT_CACHE][37]; /* tenants known to exist (under mu) */
    size_t ntenants;
    size_t ncache, cap;
    atomic_bool stopping;
    pthread_t cleaner;
    bool cleaner_started;
    pthread_mutex_t cmu;
    pthread_cond_t ccv;
    bool cstop;
};

/* CORS headers for the player and builders (any origin). Call before answering. */
void run_cors(http_request *req);
/* Answers problem JSON {kind:"api", uri, statusCode, message, where} with CORS headers. */
void run_problem(http_request *req, int status, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers body as JSON with CORS headers; takes body. */
void run_respond(http_request *req, int status, jv *body);
/* The parsed snapshot of one of the tenant's flow versions (cached for the engine's life;
 * snapshots are immutable). NULL with err. */
const flow_snapshot *run_snapshot(flow_engine *e, const char *tenant, const char *version_id, sl_error *err);

/* A synchronous HTTP call from a worker thread (waits for the engine's client thread). */
typedef struct run_http_req {
    const char *method;        /* "POST", "PUT", "GET" */
    const char *base_uri;      /* e.g. a service's uri; trailing slashes are dropped */
    const char *path;          /* appended to base_uri ("/data"); may be NULL */
    const char *username;      /* HTTP Basic when non-empty */
    const char *password;
    const char *content_type;  /* default application/json */
    const jv *body;            /* JSON body (serialised), or */
    const char *body_text;     /* a body already serialised (body_len bytes), or */
    size_t body_len;
    int body_fd;               /* >= 0: stream body_size bytes of this file instead (set -1 otherwise!) */
    uint64_t body_size;
    unsigned attempts;         /* default 1 (no retry) */
    int64_t timeout_ms;        /* default the engine's service timeout */
} run_http_req;
/* Fills res: status (0 = no answer, error says why) and the parsed JSON body (owned by res:
 * jv_free(res->body)). */
void run_http(flow_engine *e, const run_http_req *rq, engine_service_result *res);
/* The same, keeping the answer's bytes as they came (http_client_reply_free). */
void run_http_raw(flow_engine *e, const run_http_req *rq, http_client_reply *out);

/* Services keep their password in the store (the engine needs it) but builder answers never carry
 * it: this nulls a service element's httpAuthenticationPassword in place. */
void run_redact_service(jv *service);

/* 0 when the tenant exists (remembered once seen), else SL_ENOTFOUND. */
int run_tenant_check(flow_engine *e, const char *tenant, sl_error *err);

/* Suspends req and runs fn(arg) on the engine's workers; on refusal answers 503 itself and
 * returns nonzero (then fn never runs: free arg). */
int run_submit(flow_engine *e, http_request *req, void (*fn)(void *), void *arg);

/* Checks a builder call: ManyWhoTenant + x-boomi-flow-api-key of that tenant. 0 with the
 * tenant id, or answers 400/401 and returns nonzero. Runs a query: call on a worker. */
int run_builder_auth(flow_engine *e, http_request *req, char tenant_out[64]);

/* Largest draw/package request body (a package with its elements). */
#define DRAW_MAX_BODY (64u << 20)

/* Routes of the other modules (dispatched by run.c). */
void draw_on_request(flow_engine *e, http_request *req);   /* /api/draw/..., /api/package/... (draw.c) */
void relay_on_headers(flow_engine *e, http_request *req);  /* /api/run/1/service/... (relay.c) */
void relay_on_request(flow_engine *e, http_request *req);
/* /api/draw/1/element/service/install and .../refresh (install.c); called by draw.c on a worker
 * after run_builder_auth with the tenant id. */
void install_handle(flow_engine *e, http_request *req, const char *tenant, bool refresh, const char *service_id);

#endif
