/* atom_internal: the atom struct and the functions its route files share (not a public API). */
#ifndef SLUICE_ATOM_INTERNAL_H
#define SLUICE_ATOM_INTERNAL_H

#include <pthread.h>

#include "atom/atom.h"
#include "atom/users.h"
#include "core/http_client.h"
#include "core/metrics.h"
#include "core/workpool.h"

/* One finished execution, queued for the batching writer. */
typedef struct exec_record {
    char id[37];
    char *process, *trigger, *status, *error, *shapes; /* shapes: JSON text */
    int64_t started_ms, duration_us, docs_in, docs_out, deployment;
    bool waited;
    char *callback; /* "none", "pending", "delivered", "failed: …" */
    struct exec_record *next;
} exec_record;

struct atom {
    atom_config cfg;
    store *store;
    users *users;
    pthread_mutex_t dep_mu;
    deployment *current;
    workpool *workers;
    timer_service *timers;
    http_client *client;
    /* execution records */
    pthread_mutex_t rec_mu;
    pthread_mutex_t write_mu; /* held while a batch is taken and written, so a callback outcome
                               * is never applied between the two */
    pthread_cond_t rec_cv;
    exec_record *rec_head, *rec_tail;
    size_t rec_n;
    bool stopping;
    int64_t last_prune_ms; /* writer thread only */
    bool kicked;           /* under rec_mu: the watcher should re-read users now */
    pthread_t writer, watcher;
    bool runtime;
    _Atomic int64_t inflight;
    _Atomic bool cancel;      /* set by atom_shutdown */
    /* metrics */
    metric_counter *exec_ok, *exec_failed, *exec_waited, *cb_ok, *cb_failed, *exec_dropped, *rejected_busy;
    metric_histogram *exec_latency;
};

/* A new reference to the current deployment, or NULL. */
deployment *atom_current(atom *a);

/* Answers with a ServiceProblem body and the X-ManyWho-Service-Problem-Kind header. where may be
 * NULL; it is added as "where" for humans and tools. */
void atom_problem(http_request *req, int status, const char *kind, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Queues an execution record (takes ownership). */
void atom_record(atom *a, exec_record *r);
/* Updates the callback outcome of a recorded (or queued) execution. */
void atom_record_callback(atom *a, const char *id, const char *outcome);
/* Writes queued records now (used before listing). */
void atom_flush_records(atom *a);

void fs_on_request(atom *a, http_request *req, const char *rest_after_fs);
/* File routes: list, upload (multipart, streamed), signed downloads. fs_files_on_headers sets up
 * streaming for uploads; fs_files_is_download marks the one route without Basic auth. */
void fs_files_on_headers(atom *a, http_request *req);
bool fs_files_is_download(const http_request *req);
bool fs_files_route(atom *a, http_request *req, deployment *dep, const flowservice *svc, const char *route);
/* The JSON filter document a Query process receives, decoded from a Flow list filter (borrowed;
 * any JSON is accepted: missing or mistyped members are left out). Returns a new object. */
jv *fs_filter_document(const jv *list_filter);
/* Data routes (and describe for services with table sources). Returns true when it took the
 * request (and the deployment reference dep); false leaves both to the caller. */
bool fs_data_route(atom *a, http_request *req, deployment *dep, const flowservice *svc, const char *route);
void mgmt_on_request(atom *a, http_request *req);

#endif
