/* http_server: libmicrohttpd behind our own API (see http_server.h).
 *
 * MHD calls the access handler several times per request: first with the headers, then with
 * chunks of body, then once more with no data. We answer errors found at header time on the
 * first call (MHD then closes the connection without reading the body), accumulate the body in a
 * bounded buffer, and call on_request on the last call. A handler that suspends leaves the
 * connection suspended in MHD; http_respond from another thread stores the response and resumes
 * the connection, and MHD calls the access handler again, where the stored response is queued.
 * A per-request mutex orders "handler suspended" against "response ready", so a response that
 * is ready before the suspension is simply queued by the access handler itself.
 */
#include "core/http_server.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "core/log.h"
#include "core/metrics.h"

typedef struct hdr {
    char *name, *value;
    struct hdr *next;
} hdr;

typedef struct http_conn {
    http_request req;
    http_server *srv;
    struct MHD_Connection *mhd;
    arena arena;
    buf body;
    pthread_mutex_t mu;
    int phase;           /* 0 headers seen, 1 reading body, 2 handler called */
    bool too_big;
    bool suspended;      /* MHD_suspend_connection called and not yet resumed */
    bool want_suspend;   /* handler called http_suspend */
    bool responded;      /* response ready in status/resp_* */
    bool queued;
    int status;
    char *resp_type;
    char *resp_body;     /* malloc'd */
    size_t resp_len;
    hdr *resp_headers;
    char auth[800];      /* decoded Basic credentials (the header is capped at 1024 base64 bytes) */
    int resp_fd;         /* > 0: answer with this file (http_respond_file) */
    uint64_t resp_fd_size;
} http_conn;

struct http_server {
    struct MHD_Daemon *daemon;
    http_server_config cfg;
    unsigned port;
    metric_counter *req_2xx, *req_3xx, *req_4xx, *req_5xx;
    metric_histogram *latency;
};

static void conn_free(http_conn *c)
{
    hdr *h = c->resp_headers;
    while (h) {
        hdr *n = h->next;
        free(h->name);
        free(h->value);
        free(h);
        h = n;
    }
    if (c->resp_fd > 0)
        close(c->resp_fd); /* never handed to MHD */
    free(c->resp_body);
    free(c->resp_type);
    buf_free(&c->body);
    arena_free(&c->arena);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

static enum MHD_Result queue_stored(http_conn *c)
{
    struct MHD_Response *r;
    if (c->resp_fd > 0) {
        r = MHD_create_response_from_fd64(c->resp_fd_size, c->resp_fd); /* MHD closes the fd */
        c->resp_fd = 0;
        free(c->resp_body);
    } else {
        r = MHD_create_response_from_buffer(c->resp_len, c->resp_body, MHD_RESPMEM_MUST_FREE);
    }
    c->resp_body = NULL; /* MHD owns it now */
    if (!r)
        return MHD_NO;
    if (c->resp_type)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, c->resp_type);
    for (hdr *h = c->resp_headers; h; h = h->next)
        MHD_add_response_header(r, h->name, h->value);
    enum MHD_Result ret = MHD_queue_response(c->mhd, (unsigned)c->status, r);
    MHD_destroy_response(r);
    c->queued = true;
    return ret;
}

/* Stores the response; returns true when the caller (an outside thread) must resume. */
static bool store_response(http_conn *c, int status, const char *type, char *body, size_t len)
{
    pthread_mutex_lock(&c->mu);
    if (c->responded) {
        pthread_mutex_unlock(&c->mu);
        free(body);
        log_error("http", "response sent twice", "path", c->req.path, NULL);
        return false;
    }
    c->status = status;
    free(c->resp_type);
    c->resp_type = type ? xstrdup(type) : NULL;
    c->resp_body = body;
    c->resp_len = len;
    c->responded = true;
    bool resume = c->suspended;
    c->suspended = false;
    pthread_mutex_unlock(&c->mu);
    return resume;
}

void http_respond_take(http_request *req, int status, const char *content_type, char *body, size_t len)
{
    http_conn *c = req->_conn;
    if (!body)
        body = xstrdup("");
    if (store_response(c, status, content_type, body, len))
        MHD_resume_connection(c->mhd);
}

void http_respond_file(http_request *req, int status, const char *content_type, int fd, uint64_t size)
{
    http_conn *c = req->_conn;
    pthread_mutex_lock(&c->mu);
    c->resp_fd = fd;
    c->resp_fd_size = size;
    pthread_mutex_unlock(&c->mu);
    http_respond_take(req, status, content_type, NULL, 0);
}

void http_respond(http_request *req, int status, const char *content_type, const char *body, size_t len)
{
    char *copy = xmalloc(len + 1);
    if (len)
        memcpy(copy, body, len);
    copy[len] = 0;
    http_respond_take(req, status, content_type, copy, len);
}

void http_respond_json(http_request *req, int status, const jv *v)
{
    buf b;
    buf_init(&b, 64u << 20);
    if (jv_dump(v, &b) != 0) {
        buf_free(&b);
        static const char msg[] = "{\"message\":\"response too large\"}";
        http_respond(req, 500, "application/json", msg, sizeof msg - 1);
        return;
    }
    size_t len = b.len;
    http_respond_take(req, status, "application/json", buf_take(&b), len);
}

void http_add_header(http_request *req, const char *name, const char *value)
{
    http_conn *c = req->_conn;
    hdr *h = xmalloc(sizeof *h);
    h->name = xstrdup(name);
    h->value = xstrdup(value);
    pthread_mutex_lock(&c->mu);
    h->next = c->resp_headers;
    c->resp_headers = h;
    pthread_mutex_unlock(&c->mu);
}

void http_suspend(http_request *req)
{
    req->_conn->want_suspend = true;
}

const char *http_header(http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->_conn->mhd, MHD_HEADER_KIND, name);
}

const char *http_query(http_request *req, const char *name)
{
    const char *v = MHD_lookup_connection_value(req->_conn->mhd, MHD_GET_ARGUMENT_KIND, name);
    return v ? arena_strdup(req->arena, v) : NULL;
}

int http_basic_auth(http_request *req, const char **user, const char **pass)
{
    const char *h = http_header(req, "Authorization");
    if (!h)
        return SL_EAUTH;
    while (*h == ' ')
        h++;
    if (strncasecmp(h, "Basic ", 6) != 0)
        return SL_EAUTH;
    h += 6;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (n == 0 || n > 1024)
        return SL_EAUTH;
    char *out = req->_conn->auth;
    long len = base64_decode(h, n, out, sizeof req->_conn->auth - 1);
    if (len < 0)
        return SL_EAUTH;
    out[len] = 0;
    if (memchr(out, 0, (size_t)len))
        return SL_EAUTH;
    char *colon = strchr(out, ':');
    if (!colon)
        return SL_EAUTH;
    *colon = 0;
    *user = out;
    *pass = colon + 1;
    return 0;
}

static void respond_early(http_conn *c, int status, const char *msg)
{
    /* Used by the server itself (413 …): a minimal problem document. */
    buf b;
    buf_init(&b, 8192);
    buf_printf(&b, "{\"kind\":\"api\",\"uri\":");
    jv_escape(&b, c->req.raw_path, strlen(c->req.raw_path));
    buf_printf(&b, ",\"statusCode\":%d,\"message\":\"%s\",\"responseBody\":null,"
                   "\"responseHeaders\":null,\"invokeType\":null,\"action\":null}",
               status, msg);
    char *body = buf_take(&b);
    http_add_header(&c->req, "X-ManyWho-Service-Problem-Kind", "api");
    store_response(c, status, "application/json", body, strlen(body));
}

static size_t parse_content_length(const char *v, bool *ok)
{
    *ok = false;
    if (!v || !*v)
        return 0;
    size_t n = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        if (n > (SIZE_MAX - 9) / 10)
            return SIZE_MAX;
        n = n * 10 + (size_t)(*p - '0');
    }
    *ok = true;
    return n;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *mhd, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    http_server *srv = cls;
    http_conn *c = *con_cls;
    if (!c) {
        c = xcalloc(1, sizeof *c);
        c->srv = srv;
        c->mhd = mhd;
        pthread_mutex_init(&c->mu, NULL);
        arena_init(&c->arena, 16u << 20);
        c->req._conn = c;
        c->req.arena = &c->arena;
        c->req.method = method; /* MHD keeps both alive for the whole request */
        c->req.raw_path = url;
        c->req.path = c->req.raw_path; /* MHD hands us the path already percent-decoded */
        c->req.query = "";
        c->req.max_body = srv->cfg.max_body;
        c->req.route = "other";
        c->req.start_us = mono_us();
        *con_cls = c;
        srv->cfg.on_headers(srv->cfg.ctx, &c->req);
        if (!c->responded) {
            bool ok;
            size_t cl = parse_content_length(
                MHD_lookup_connection_value(mhd, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH), &ok);
            if (ok && cl > c->req.max_body)
                respond_early(c, 413, "request body too large");
        }
        if (c->responded)
            return queue_stored(c); /* answered before the body: MHD will not read it */
        buf_init(&c->body, c->req.max_body);
        c->phase = 1;
        return MHD_YES;
    }
    if (c->queued)
        return MHD_YES;
    if (c->phase == 1 && *upload_data_size) {
        size_t n = *upload_data_size;
        c->req.body_seen += n;
        if (c->req.on_chunk) {
            if (c->req.body_seen > c->req.max_body)
                c->too_big = true;
            else if (!c->too_big && !c->req.chunk_failed && c->req.on_chunk(&c->req, upload_data, n) != 0)
                c->req.chunk_failed = true;
        } else if (!c->too_big && buf_append(&c->body, upload_data, n) != 0) {
            c->too_big = true;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (c->phase == 1) {
        c->phase = 2;
        if (c->too_big) {
            respond_early(c, 413, "request body too large");
            return queue_stored(c);
        }
        c->req.body = c->body.data ? c->body.data : "";
        c->req.body_len = c->body.len;
        srv->cfg.on_request(srv->cfg.ctx, &c->req);
        pthread_mutex_lock(&c->mu);
        if (!c->responded) {
            if (!c->want_suspend) {
                pthread_mutex_unlock(&c->mu);
                respond_early(c, 500, "handler gave no response");
                return queue_stored(c);
            }
            c->suspended = true;
            MHD_suspend_connection(mhd);
            pthread_mutex_unlock(&c->mu);
            return MHD_YES;
        }
        pthread_mutex_unlock(&c->mu);
        return queue_stored(c);
    }
    /* phase 2: called again after a resume */
    pthread_mutex_lock(&c->mu);
    bool ready = c->responded;
    pthread_mutex_unlock(&c->mu);
    if (ready)
        return queue_stored(c);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *mhd, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    http_server *srv = cls;
    http_conn *c = *con_cls;
    if (!c)
        return;
    *con_cls = NULL;
    if (c->req.on_done)
        c->req.on_done(&c->req);
    int64_t us = mono_us() - c->req.start_us;
    int status = c->queued ? c->status : 0;
    metric_counter *ctr = status >= 500 || status == 0 ? srv->req_5xx
                          : status >= 400              ? srv->req_4xx
                          : status >= 300              ? srv->req_3xx
                                                       : srv->req_2xx;
    metrics_inc(ctr, 1);
    metrics_observe_us(srv->latency, us);
    if (log_get_level() <= LOG_INFO) {
        char st[16], lat[32];
        snprintf(st, sizeof st, "%d", status);
        snprintf(lat, sizeof lat, "%.3f", (double)us / 1000.0);
        log_emit(LOG_INFO, "http", "request", "method", c->req.method, "path", c->req.raw_path, "route", c->req.route,
                 "#status", st, "#ms", lat, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? NULL : "aborted",
                 "true", NULL);
    }
    /* A request dropped while a worker still holds it (client went away while suspended) cannot
     * happen: MHD does not time out suspended connections, and we resume before completion. */
    conn_free(c);
}

static int parse_listen(const char *listen, struct sockaddr_in *sa, sl_error *err)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    const char *colon = strrchr(listen, ':');
    if (!colon)
        return sl_fail(err, SL_EINVAL, "--listen", "expected ADDR:PORT, got \"%s\"", listen);
    char host[64];
    size_t hl = (size_t)(colon - listen);
    if (hl == 0 || hl >= sizeof host)
        return sl_fail(err, SL_EINVAL, "--listen", "bad address in \"%s\"", listen);
    memcpy(host, listen, hl);
    host[hl] = 0;
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return sl_fail(err, SL_EINVAL, "--listen", "bad IPv4 address \"%s\"", host);
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535 || end == colon + 1)
        return sl_fail(err, SL_EINVAL, "--listen", "bad port in \"%s\"", listen);
    sa->sin_port = htons((uint16_t)port);
    return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = 0;
    log_warn("http", "libmicrohttpd", "detail", msg, NULL);
}

int http_server_start(const http_server_config *cfg, http_server **out, sl_error *err)
{
    struct sockaddr_in sa;
    int rc = parse_listen(cfg->listen ? cfg->listen : "127.0.0.1:8080", &sa, err);
    if (rc)
        return rc;
    http_server *s = xcalloc(1, sizeof *s);
    s->cfg = *cfg;
    if (!s->cfg.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->cfg.threads = n > 0 ? (unsigned)n : 2;
    }
    if (!s->cfg.conn_limit)
        s->cfg.conn_limit = 4096;
    if (!s->cfg.timeout_s)
        s->cfg.timeout_s = 60;
    if (!s->cfg.max_body)
        s->cfg.max_body = 1u << 20;
    s->req_2xx = metrics_counter("sluice_http_requests_total", "code=\"2xx\"", "HTTP requests by status class");
    s->req_3xx = metrics_counter("sluice_http_requests_total", "code=\"3xx\"", NULL);
    s->req_4xx = metrics_counter("sluice_http_requests_total", "code=\"4xx\"", NULL);
    s->req_5xx = metrics_counter("sluice_http_requests_total", "code=\"5xx\"", NULL);
    s->latency = metrics_histogram("sluice_http_request_duration_seconds", "", "HTTP request latency");
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO |
                     MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
                                 MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                 MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                                 MHD_OPTION_THREAD_POOL_SIZE, (unsigned)s->cfg.threads,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.conn_limit,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout_s,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32 * 1024),
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_END);
    if (!s->daemon) {
        free(s);
        return sl_fail(err, SL_EIO, "--listen", "cannot listen on %s (address in use or not available)",
                       cfg->listen ? cfg->listen : "127.0.0.1:8080");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : ntohs(sa.sin_port);
    *out = s;
    return 0;
}

unsigned http_server_port(const http_server *s)
{
    return s->port;
}

void http_server_stop(http_server *s)
{
    if (!s)
        return;
    MHD_stop_daemon(s->daemon);
    free(s);
}
