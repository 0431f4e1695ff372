/* atom: the integration runtime — deployments, users, executions, and its HTTP routes.
 *
 * Design: an atom owns its own SQLite database (<data>/atom.db), the current deployment (swapped
 * atomically; a thread watches the store so `sluice deploy` from another process is picked up
 * within a second), a worker pool that runs process executions off the HTTP threads, a timer
 * service for sync timeouts, an HTTP client for WAIT callbacks, and a batching writer for
 * execution records. Its routes are /fs/<name>/… (Flow Services Server) and /api/atom/v1/…
 * (management); both use Basic authentication against the atom's users.
 */
#ifndef SLUICE_ATOM_H
#define SLUICE_ATOM_H

#include <stdbool.h>
#include <stdint.h>

#include "atom/deploy.h"
#include "core/http_server.h"
#include "core/store.h"
#include "core/util.h"

typedef struct atom atom;

typedef struct atom_config {
    const char *data_dir;        /* required */
    size_t max_request_bytes;    /* /fs/ request body limit (default 1 MiB) */
    unsigned workers;            /* execution threads (default: 2 × cores) */
    size_t max_queue;            /* executions waiting for a worker (default 10000) */
    int64_t max_exec_ms;         /* hard limit on one execution (default 300000) */
    int64_t keep_executions;     /* execution records kept (default 100000) */
    int64_t callback_backoff_ms; /* first retry delay of WAIT callbacks (default 500) */
    unsigned callback_attempts;  /* default 6 */
    bool watch;                  /* watch the store for new deployments (default for servers) */
} atom_config;

/* Opens the atom's store under cfg->data_dir (creating it) and loads the latest deployment.
 * Server machinery (workers, timers, client, watcher) starts only with start_runtime. */
int atom_open(const atom_config *cfg, bool start_runtime, atom **out, sl_error *err);
void atom_close(atom *a);

/* Reads, validates, stores and activates the components in dir. *version receives the new
 * version (or the current one when nothing changed: *changed false). Problems are listed. */
int atom_deploy_dir(atom *a, const char *dir, int64_t *version, bool *changed, sl_problems *problems);

/* Creates or replaces a user; *token receives the new token (caller frees). */
int atom_user_add(atom *a, const char *name, char **token, sl_error *err);

/* HTTP: returns true when the path belongs to the atom (then it handles the request). */
bool atom_owns(const char *path);
void atom_on_headers(atom *a, http_request *req);
void atom_on_request(atom *a, http_request *req);

/* Current deployment version (0 when none). */
int64_t atom_version(atom *a);

/* Graceful stop, step 1: new action calls are refused (503), running executions are cancelled
 * (they answer with an error), and this waits up to wait_ms for them and for callbacks in flight.
 * Call before stopping the HTTP server, so no request is left suspended. */
void atom_shutdown(atom *a, int64_t wait_ms);

#endif
