/* run: the Flow engine's run API v1 over HTTP (flow-runtime.md §1).
 *
 * Design: HTTP threads only route: every call is suspended and handed to the engine's worker
 * pool, where it reads the state (flowstore), runs the engine (engine.h) and commits the new
 * state with one compare-and-set transaction before answering. Service calls (message actions,
 * data actions) are made from the workers with core/http_client, waiting for the answer; a
 * WAIT answer parks the state until the service posts to /api/run/1/response. Routes:
 *   OPTIONS /api/run/...                        CORS preflight (any origin)
 *   POST /api/run/1                             EngineInitializationRequest → new state (not run)
 *   POST /api/run/1/state                       simple init: new state, run to the first page
 *   POST /api/run/1/state/{id}                  EngineInvokeRequest (FORWARD, SYNC, NAVIGATE)
 *   GET  /api/run/1/state/{id}                  join
 *   GET  /api/run/1/state/{id}/ping/{token}     true when the state has moved past token
 *   GET  /api/run/1/state/{id}/history          UI elements visited
 *   POST /api/run/1/navigation/{id}             EngineNavigationResponse
 *   POST /api/run/1/response                    a service's asynchronous ServiceResponse
 *   GET  /api/run/1/flow/{id}/{version}/customPageComponents   always []
 * Every call but /response needs the ManyWhoTenant header; a state call whose stateToken is not
 * the state's current token is refused with 409 and changes nothing. Errors are problem JSON
 * {kind, uri, statusCode, message, where}.
 */
#ifndef SLUICE_FLOW_RUN_H
#define SLUICE_FLOW_RUN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/http_server.h"
#include "core/util.h"

typedef struct flow_engine flow_engine;

typedef struct flow_engine_config {
    const char *data_dir;             /* flow.db lives here */
    unsigned workers;                 /* engine worker threads (default 16) */
    int64_t service_timeout_ms;       /* per service call (default 30000) */
    int64_t done_ttl_ms;              /* DONE states are deleted after this idle time (default 1 day) */
    int64_t idle_ttl_ms;              /* any state is deleted after this idle time (default 30 days) */
    int64_t cleanup_every_ms;         /* how often cleanup runs (default: done_ttl/2, 0.2 s to 60 s) */
    const char *const *macro_argv;    /* how to start a macro worker process; NULL: no macros */
    unsigned macro_workers;           /* default 2 */
    int64_t macro_time_ms;            /* per macro (default 1000) */
    size_t macro_memory_bytes;        /* per macro (default 16 MiB) */
} flow_engine_config;

/* Opens the store and starts the workers (and the macro workers when macro_argv is set).
 * Returns 0 and *out, or an error with err. */
int flow_engine_open(const flow_engine_config *cfg, flow_engine **out, sl_error *err);
/* The engine's public base URL (e.g. "http://127.0.0.1:8080"): used for callbackUri and the
 * join URLs. Call once the server knows its port. Copied. */
void flow_engine_set_base_url(flow_engine *e, const char *base_url);
/* True for paths the run API serves (/api/run/…). */
bool flow_owns(const char *path);
void flow_on_headers(flow_engine *e, http_request *req);
void flow_on_request(flow_engine *e, http_request *req);
/* Stops taking work and waits up to wait_ms for running calls. */
void flow_engine_shutdown(flow_engine *e, int64_t wait_ms);
/* Frees everything (after shutdown). NULL is fine. */
void flow_engine_close(flow_engine *e);

#endif
