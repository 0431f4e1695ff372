/* http_client: libcurl multi on a dedicated thread (see http_client.h). */
#include "core/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

typedef struct creq {
    char *method, *url, *body;
    size_t len;
    int fd;              /* >= 0: the body is read from this file (pread, so retries start over) */
    uint64_t fd_size, fd_off;
    struct curl_slist *headers;
    http_client_opts opts;
    http_client_done done;
    void *arg;
    unsigned attempts;
    int64_t due_ms;      /* when waiting for a retry */
    int64_t next_backoff;
    buf resp;
    CURL *easy;
    struct creq *next;
    struct creq *active_prev, *active_next; /* in flight (client thread only) */
} creq;

struct http_client {
    pthread_mutex_t mu;
    creq *incoming;      /* submitted, not yet started */
    creq *waiting;       /* waiting for their retry time */
    size_t pending;
    bool stopping;
    int64_t stop_deadline;
    CURLM *multi;
    creq *active;        /* in flight; touched by the client thread only */
    pthread_t thread;
};

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    creq *r = userdata;
    size_t n = size * nmemb;
    if (buf_append(&r->resp, ptr, n) != 0)
        return 0; /* abort: response too large */
    return n;
}

static size_t on_read(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    creq *r = userdata;
    size_t want = size * nmemb;
    if (r->fd_off >= r->fd_size)
        return 0;
    if (want > r->fd_size - r->fd_off)
        want = (size_t)(r->fd_size - r->fd_off);
    ssize_t n = pread(r->fd, ptr, want, (off_t)r->fd_off);
    if (n <= 0)
        return CURL_READFUNC_ABORT;
    r->fd_off += (uint64_t)n;
    return (size_t)n;
}

static void start_attempt(http_client *c, creq *r)
{
    r->attempts++;
    buf_reset(&r->resp);
    CURL *e = curl_easy_init();
    if (!e)
        abort();
    r->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->opts.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(r->opts.timeout_ms < 5000 ? r->opts.timeout_ms : 5000));
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    if (r->fd >= 0) {
        r->fd_off = 0;
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(e, CURLOPT_READDATA, r);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->fd_size);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method); /* UPLOAD means PUT; keep ours */
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_multi_add_handle(c->multi, e);
    r->active_prev = NULL;
    r->active_next = c->active;
    if (c->active)
        c->active->active_prev = r;
    c->active = r;
}

static void unlink_active(http_client *c, creq *r)
{
    if (r->active_prev)
        r->active_prev->active_next = r->active_next;
    else
        c->active = r->active_next;
    if (r->active_next)
        r->active_next->active_prev = r->active_prev;
    r->active_prev = r->active_next = NULL;
}

static void finish(http_client *c, creq *r, long status, const char *error)
{
    if (r->done)
        r->done(r->arg, status, r->resp.data, r->resp.len, r->attempts, error);
    curl_slist_free_all(r->headers);
    buf_free(&r->resp);
    free(r->method);
    free(r->url);
    free(r->body);
    free(r);
    pthread_mutex_lock(&c->mu);
    c->pending--;
    pthread_mutex_unlock(&c->mu);
}

static bool retryable(CURLcode cc, long status)
{
    if (cc != CURLE_OK)
        return cc != CURLE_WRITE_ERROR && cc != CURLE_UNSUPPORTED_PROTOCOL && cc != CURLE_URL_MALFORMAT;
    return status >= 500 || status == 429 || status == 408;
}

static void on_done(http_client *c, CURLMsg *m)
{
    creq *r = NULL;
    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
    long status = 0;
    curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
    CURLcode cc = m->data.result;
    curl_multi_remove_handle(c->multi, m->easy_handle);
    curl_easy_cleanup(m->easy_handle);
    r->easy = NULL;
    unlink_active(c, r);
    bool stopping;
    pthread_mutex_lock(&c->mu);
    stopping = c->stopping;
    pthread_mutex_unlock(&c->mu);
    if (retryable(cc, status) && r->attempts < r->opts.max_attempts && !stopping) {
        r->due_ms = mono_ms() + r->next_backoff;
        r->next_backoff = r->next_backoff * 2 > 30000 ? 30000 : r->next_backoff * 2;
        log_info("client", "request failed, will retry", "method", r->method, "error",
                 cc != CURLE_OK ? curl_easy_strerror(cc) : "HTTP error status", NULL);
        pthread_mutex_lock(&c->mu);
        r->next = c->waiting;
        c->waiting = r;
        pthread_mutex_unlock(&c->mu);
        return;
    }
    finish(c, r, cc == CURLE_OK ? status : 0, cc == CURLE_OK ? NULL : curl_easy_strerror(cc));
}

static void *client_main(void *arg)
{
    http_client *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        creq *in = c->incoming;
        c->incoming = NULL;
        int64_t now = mono_ms();
        creq *due = NULL, **pp = &c->waiting;
        int64_t next_due = INT64_MAX;
        while (*pp) {
            creq *r = *pp;
            if (r->due_ms <= now || c->stopping) {
                *pp = r->next;
                r->next = due;
                due = r;
            } else {
                if (r->due_ms < next_due)
                    next_due = r->due_ms;
                pp = &r->next;
            }
        }
        bool stopping = c->stopping;
        bool past_deadline = stopping && now >= c->stop_deadline;
        size_t pending = c->pending;
        pthread_mutex_unlock(&c->mu);

        while (in) {
            creq *n = in->next;
            start_attempt(c, in);
            in = n;
        }
        while (due) {
            creq *n = due->next;
            if (stopping)
                finish(c, due, 0, "cancelled");
            else
                start_attempt(c, due);
            due = n;
        }
        if (stopping && (pending == 0 || past_deadline))
            break;

        int running = 0;
        curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(c->multi, &left)))
            if (m->msg == CURLMSG_DONE)
                on_done(c, m);
        int wait = 200;
        if (next_due != INT64_MAX) {
            int64_t d = next_due - mono_ms();
            if (d < wait)
                wait = d < 0 ? 0 : (int)d;
        }
        curl_multi_poll(c->multi, NULL, 0, wait, NULL);
    }
    /* cancel whatever is still in flight */
    while (c->active) {
        creq *r = c->active;
        c->active = r->active_next;
        curl_multi_remove_handle(c->multi, r->easy);
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        finish(c, r, 0, "cancelled");
    }
    return NULL;
}

static void global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

http_client *http_client_start(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, global_init);
    http_client *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->multi = curl_multi_init();
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32L);
    if (pthread_create(&c->thread, NULL, client_main, c) != 0)
        abort();
    return c;
}

static int submit(http_client *c, const char *method, const char *url, const char *const *headers, const char *body,
                  size_t len, int fd, uint64_t fd_size, const http_client_opts *opts, http_client_done done, void *arg)
{
    if (!url || !(strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0))
        return SL_EINVAL;
    creq *r = xcalloc(1, sizeof *r);
    r->method = xstrdup(method ? method : "POST");
    r->url = xstrdup(url);
    r->body = xmalloc(len + 1);
    if (len)
        memcpy(r->body, body, len);
    r->body[len] = 0;
    r->len = len;
    r->fd = fd;
    r->fd_size = fd_size;
    for (size_t i = 0; headers && headers[i]; i++)
        r->headers = curl_slist_append(r->headers, headers[i]);
    r->headers = curl_slist_append(r->headers, "Expect:");
    http_client_opts o = {0};
    if (opts)
        o = *opts;
    if (o.timeout_ms <= 0)
        o.timeout_ms = 10000;
    if (o.max_attempts == 0)
        o.max_attempts = 5;
    if (o.backoff_ms <= 0)
        o.backoff_ms = 500;
    if (o.max_response == 0)
        o.max_response = 1u << 20;
    r->opts = o;
    r->next_backoff = o.backoff_ms;
    buf_init(&r->resp, o.max_response);
    r->done = done;
    r->arg = arg;
    pthread_mutex_lock(&c->mu);
    r->next = c->incoming;
    c->incoming = r;
    c->pending++;
    pthread_mutex_unlock(&c->mu);
    curl_multi_wakeup(c->multi);
    return 0;
}

int http_client_request(http_client *c, const char *method, const char *url, const char *const *headers,
                        const char *body, size_t len, const http_client_opts *opts, http_client_done done,
                        void *arg)
{
    return submit(c, method, url, headers, body, len, -1, 0, opts, done, arg);
}

int http_client_request_fd(http_client *c, const char *method, const char *url, const char *const *headers, int fd,
                           uint64_t size, const http_client_opts *opts, http_client_done done, void *arg)
{
    if (fd < 0)
        return SL_EINVAL;
    return submit(c, method, url, headers, NULL, 0, fd, size, opts, done, arg);
}

typedef struct call_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    http_client_reply *out;
} call_wait;

static void call_done(void *arg, long status, const char *body, size_t len, unsigned attempts, const char *error)
{
    call_wait *w = arg;
    w->out->status = status;
    w->out->attempts = attempts;
    if (body && len) {
        w->out->body = xmalloc(len + 1);
        memcpy(w->out->body, body, len);
        w->out->body[len] = 0;
        w->out->len = len;
    }
    if (error)
        snprintf(w->out->error, sizeof w->out->error, "%s", error);
    pthread_mutex_lock(&w->mu);
    w->done = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int http_client_call(http_client *c, const char *method, const char *url, const char *const *headers,
                     const char *body, size_t len, int body_fd, uint64_t body_size, const http_client_opts *opts,
                     http_client_reply *out)
{
    memset(out, 0, sizeof *out);
    call_wait w = {.out = out};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    int rc = body_fd >= 0 ? http_client_request_fd(c, method, url, headers, body_fd, body_size, opts, call_done, &w)
                          : http_client_request(c, method, url, headers, body, len, opts, call_done, &w);
    if (rc == 0) {
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
    } else {
        snprintf(out->error, sizeof out->error, "not an http(s) URL");
    }
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

void http_client_reply_free(http_client_reply *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}

char *http_basic_header(const char *user, const char *password)
{
    if (!user || !*user)
        return NULL;
    char *pair = xasprintf("%s:%s", user, password ? password : "");
    char *b64 = base64_encode(pair, strlen(pair));
    char *h = xasprintf("Authorization: Basic %s", b64);
    free(b64);
    free(pair);
    return h;
}

size_t http_client_pending(http_client *c)
{
    pthread_mutex_lock(&c->mu);
    size_t n = c->pending;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void http_client_stop(http_client *c, int64_t wait_ms)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    c->stop_deadline = mono_ms() + wait_ms;
    pthread_mutex_unlock(&c->mu);
    curl_multi_wakeup(c->multi);
    pthread_join(c->thread, NULL);
    curl_multi_cleanup(c->multi);
    pthread_mutex_destroy(&c->mu);
    free(c);
}
