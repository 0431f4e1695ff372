/* process: integration processes — a graph of shapes that documents flow through — and the
 * executor that runs them.
 *
 * Design: a process is parsed and validated at deploy time into an immutable graph, linked to
 * the profiles it names, and then shared read-only by concurrent executions. An execution is a
 * depth-first walk from the start shape: each shape takes the batch of documents that arrived on
 * its incoming edge and hands its results down its outgoing edge(s) (Branch: each branch in
 * order). All per-execution state lives in process_exec; nothing global is touched, so many
 * executions run at once on worker threads. Limits guard every execution: documents in flight,
 * document size, shapes visited and wall time. A trycatch shape leaves a marker on the work stack
 * below its try path; an execution error unwinds the stack to the innermost marker and sends the
 * batch down catch instead (limits, the deadline and cancellation are never caught). Script
 * shapes run Lua in a fresh sandboxed state per batch (atom/script.h). The format is in
 * docs/components.md (script, trycatch and connector included).
 */
#ifndef SLUICE_PROCESS_H
#define SLUICE_PROCESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "atom/connector.h"
#include "atom/profile.h"
#include "core/json.h"
#include "core/util.h"

typedef struct process process;

typedef enum { SERVICE_MESSAGE_ACTION, SERVICE_DATA_ACTION, SERVICE_FILE_RESOURCE } service_type;
typedef enum { DATA_OP_NONE, DATA_OP_GET, DATA_OP_QUERY, DATA_OP_SAVE, DATA_OP_DELETE } data_operation;
typedef enum { FILE_OP_NONE, FILE_OP_LIST, FILE_OP_UPLOAD } file_operation;

/* The start shape's Flow Services Server operation. */
typedef struct process_start_op {
    service_type service_type;
    const char *request_profile;   /* name, or NULL */
    const char *response_profile;  /* name, or NULL */
    const profile *request;        /* linked by process_link, or NULL */
    const profile *response;       /* linked by process_link, or NULL */
    int64_t sync_timeout_ms;       /* default 30000 */
    data_operation data_op;        /* Data Action: Get, Query, Save or Delete */
    file_operation file_op;        /* File Resource: List Files or Upload File */
} process_start_op;

/* Parses and validates a process component document. Problems (with file + JSON pointer) are
 * added to `problems`. Returns 0 and a new process in *out (free with process_free), or SL_EINVAL. */
int process_parse(const jv *doc, const char *file, process **out, sl_problems *problems);

/* Resolves every profile name the process uses (start operation, map from/to) through lookup.
 * Each unknown name is added to problems with the pointer of the member naming it. Returns 0 or
 * SL_EINVAL. The profiles must outlive the process. */
typedef const profile *(*profile_lookup_fn)(void *ctx, const char *name);
int process_link(process *p, profile_lookup_fn lookup, void *ctx, sl_problems *problems);

/* Links every connector shape to its connection (connector_op_link) through lookup; call it after
 * process_link. Problems are added with the shape's pointers. Returns 0 or SL_EINVAL. Until it
 * has succeeded, a connector shape fails the execution when it runs. The connections must
 * outlive the process. */
int process_link_connections(process *p, connection_lookup_fn lookup, void *ctx, sl_problems *problems);

void process_free(process *p);
const char *process_name(const process *p);
const char *process_file(const process *p);
const process_start_op *process_start(const process *p);

/* Limits for one execution. */
typedef struct process_limits {
    size_t max_documents;      /* documents alive at once (default 10000) */
    size_t max_shape_steps;    /* shape visits (default 100000) */
    int64_t deadline_mono_ms;  /* 0 = none; checked between shapes */
    const _Atomic bool *cancel; /* NULL = none; when it becomes true the execution fails soon
                                 * ("cancelled: the atom is shutting down"), checked between shapes
                                 * and during waits */
} process_limits;

/* Per-shape statistics collected during an execution. */
typedef struct process_shape_stat {
    const char *id;   /* borrowed from the process */
    const char *type;
    uint32_t docs_in, docs_out;
    uint32_t runs;
    char *error;      /* first error at this shape, malloc'd, or NULL */
} process_shape_stat;

typedef struct process_result {
    bool ok;
    char error[512];          /* when !ok: what failed, naming the shape id */
    char error_shape[64];     /* id of the shape that failed ("" if none) */
    jv *documents;            /* new ref: array of documents returned by Return Documents shapes */
    jv *properties;           /* new ref: object of dynamic process properties at the end */
    process_shape_stat *stats; /* one per shape, in declaration order */
    size_t nstats;
} process_result;

/* Runs the process on the given input documents (array; borrowed) with the given initial dynamic
 * process properties (object of strings; borrowed, copied). Always fills *res (free with
 * process_result_free); returns 0 when the execution succeeded, SL_EEXEC when it failed (Exception
 * shape, conversion error, script or connector error, limit reached — res->error says which and
 * where). A failure caught by a trycatch shape whose catch path completes is a success; the
 * failing shape's stats still carry its error. */
int process_run(const process *p, const jv *input_docs, const jv *properties,
                const process_limits *limits, process_result *res);
void process_result_free(process_result *res);

/* Serialises stats as [{"id","type","in","out","runs","error"?}] (new ref). */
jv *process_stats_json(const process_result *res);

#endif
