/* http_server: our HTTP/1.1 server API over libmicrohttpd.
 *
 * Design: handler code never sees MHD types. A request is delivered in two steps:
 *   1. on_headers(ctx, req): method, path and headers are known, no body read yet. The handler
 *      may answer at once (401, 404, 413 …: the body is then never read) or set req->max_body
 *      and return to receive the body. A Content-Length above max_body is answered 413 here,
 *      before any byte of the body is read; a chunked body that grows past it is discarded and
 *      answered 413 too.
 *   2. on_request(ctx, req): the whole body is in req->body. The handler either answers with
 *      http_respond*() before returning, or calls http_suspend(req) and answers later from any
 *      thread with http_respond*() — the connection is suspended meanwhile, so slow work never
 *      blocks an HTTP thread.
 * Each request owns an arena (freed when the request completes) and is logged as one JSON
 * access-log line. A completed request updates the http metrics in core/metrics.
 */
#ifndef SLUICE_HTTP_SERVER_H
#define SLUICE_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "core/util.h"

typedef struct http_server http_server;
typedef struct http_request http_request;

struct http_request {
    const char *method;       /* "GET", "POST", … */
    const char *path;         /* URL path, percent-decoded, without the query (same as raw_path) */
    const char *raw_path;     /* the path as libmicrohttpd hands it over (percent-decoded) */
    const char *query;        /* raw query string after '?', or "" */
    const char *body;         /* whole body (NUL-terminated), after on_headers */
    size_t body_len;
    size_t max_body;          /* set by on_headers; default from the server config */
    arena *arena;             /* per-request scratch memory */
    void *user;               /* for the handler */
    const char *route;        /* a low-cardinality label for logs/metrics, set by the handler */
    int64_t start_us;         /* mono_us() when headers arrived */
    /* Streaming bodies (uploads): on_headers may set on_chunk; the body is then handed over in
     * chunks as it arrives (on the HTTP thread: keep it quick, e.g. write to a file) and never
     * collected (body stays ""). A nonzero return stops passing chunks and sets chunk_failed;
     * on_request still runs and decides the answer. max_body still applies (413). on_done, if
     * set, runs when the request ends for any reason (client gone included): free per-request
     * state there. */
    int (*on_chunk)(http_request *req, const char *data, size_t len);
    void (*on_done)(http_request *req);
    bool chunk_failed;
    uint64_t body_seen;       /* bytes of body received so far */
    struct http_conn *_conn;  /* private */
};

typedef struct http_server_config {
    const char *listen;       /* "ADDR:PORT"; port 0 picks a free port */
    unsigned threads;         /* HTTP threads (default: number of cores) */
    unsigned conn_limit;      /* default 4096 */
    unsigned timeout_s;       /* idle connection timeout (default 60) */
    size_t max_body;          /* default body limit (default 1 MiB) */
    void (*on_headers)(void *ctx, http_request *req);
    void (*on_request)(void *ctx, http_request *req);
    void *ctx;
} http_server_config;

/* Starts listening (threads run inside). Returns 0 and *out, or SL_EIO with err (address in use…). */
int http_server_start(const http_server_config *cfg, http_server **out, sl_error *err);
/* The port actually bound (useful with port 0). */
unsigned http_server_port(const http_server *s);
/* Stops accepting, waits for threads, frees. Suspended requests are dropped. */
void http_server_stop(http_server *s);

/* Request accessors. Header lookup is case-insensitive; NULL when absent. */
const char *http_header(http_request *req, const char *name);
/* Value of query parameter `name` (percent-decoded, in the request arena) or NULL. */
const char *http_query(http_request *req, const char *name);
/* Decodes "Authorization: Basic …" into arena strings. Returns 0 or SL_EAUTH. */
int http_basic_auth(http_request *req, const char **user, const char **pass);

/* Adds a response header (copied) before http_respond*. */
void http_add_header(http_request *req, const char *name, const char *value);
/* Answers the request. body is copied. May be called from any thread, once; after it the request
 * must not be touched. */
void http_respond(http_request *req, int status, const char *content_type, const char *body, size_t len);
/* Serialises v (borrowed) as application/json. */
void http_respond_json(http_request *req, int status, const jv *v);
/* Takes ownership of a malloc'd body. */
void http_respond_take(http_request *req, int status, const char *content_type, char *body, size_t len);

/* Answers with the contents of an open file (streamed by the server, never read whole); takes
 * ownership of fd (closed when the response is done). */
void http_respond_file(http_request *req, int status, const char *content_type, int fd, uint64_t size);

/* Called from on_request: the answer will come later from another thread. */
void http_suspend(http_request *req);

#endif
