/* Unit tests for http_server and http_client against each other on 127.0.0.1 (real sockets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/http_client.h"
#include "core/http_server.h"
#include "core/log.h"

static _Atomic int fail_first; /* answer 500 this many times on /flaky */

static void *respond_later(void *arg)
{
    http_request *req = arg;
    usleep(30000);
    http_respond(req, 200, "text/plain", "later", 5);
    return NULL;
}

static _Atomic uint64_t streamed; /* bytes seen by on_chunk; the body is never collected */
static _Atomic int stream_done;

static int count_chunk(http_request *req, const char *data, size_t len)
{
    atomic_fetch_add(&streamed, len);
    return data[0] == '!' ? -1 : 0; /* a chunk starting with '!' is refused */
}

static void stream_done_cb(http_request *req)
{
    atomic_fetch_add(&stream_done, 1);
}

static void on_headers(void *ctx, http_request *req)
{
    if (strcmp(req->path, "/stream") == 0) {
        req->max_body = 8u << 20;
        req->on_chunk = count_chunk;
        req->on_done = stream_done_cb;
    }
    if (strcmp(req->path, "/small") == 0)
        req->max_body = 16;
    if (strcmp(req->path, "/deny") == 0)
        http_respond(req, 401, "text/plain", "no", 2);
}

static void on_request(void *ctx, http_request *req)
{
    if (strcmp(req->path, "/echo") == 0 || strcmp(req->path, "/small") == 0) {
        http_add_header(req, "X-Method", req->method);
        http_respond(req, 200, "application/octet-stream", req->body, req->body_len);
    } else if (strcmp(req->path, "/stream") == 0) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "%s %llu %zu", req->chunk_failed ? "refused" : "ok",
                         (unsigned long long)req->body_seen, req->body_len);
        http_respond(req, 200, "text/plain", msg, (size_t)n);
    } else if (strcmp(req->path, "/suspend") == 0) {
        http_suspend(req);
        pthread_t t;
        pthread_create(&t, NULL, respond_later, req);
        pthread_detach(t);
    } else if (strcmp(req->path, "/flaky") == 0) {
        if (atomic_fetch_sub(&fail_first, 1) > 0)
            http_respond(req, 500, "text/plain", "boom", 4);
        else
            http_respond(req, 200, "text/plain", "ok", 2);
    } else if (strcmp(req->path, "/query") == 0) {
        const char *v = http_query(req, "name");
        http_respond(req, 200, "text/plain", v ? v : "-", v ? strlen(v) : 1);
    } else {
        http_respond(req, 404, "text/plain", "nf", 2);
    }
}

typedef struct result {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    long status;
    char body[256];
    unsigned attempts;
    char error[256];
} result;

static void on_done(void *arg, long status, const char *body, size_t len, unsigned attempts, const char *error)
{
    result *r = arg;
    pthread_mutex_lock(&r->mu);
    r->status = status;
    snprintf(r->body, sizeof r->body, "%.*s", (int)len, body ? body : "");
    r->attempts = attempts;
    snprintf(r->error, sizeof r->error, "%s", error ? error : "");
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void call(http_client *c, const char *method, const char *url, const char *body, size_t len,
                 const http_client_opts *o, result *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    assert_int_equal(http_client_request(c, method, url, NULL, body, len, o, on_done, r), 0);
    pthread_mutex_lock(&r->mu);
    while (!r->done)
        pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
}

static http_server *srv;
static http_client *cli;
static char base[64];

static int setup(void **state)
{
    log_set_level(LOG_WARN);
    http_server_config cfg = {.listen = "127.0.0.1:0", .threads = 2, .max_body = 1024, .on_headers = on_headers,
                              .on_request = on_request};
    sl_error err = {0};
    if (http_server_start(&cfg, &srv, &err) != 0)
        return -1;
    snprintf(base, sizeof base, "http://127.0.0.1:%u", http_server_port(srv));
    cli = http_client_start();
    return 0;
}

static int teardown(void **state)
{
    http_client_stop(cli, 1000);
    http_server_stop(srv);
    return 0;
}

static void test_echo(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "%s/echo", base);
    result r;
    call(cli, "POST", url, "hello\0world", 11, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(memcmp(r.body, "hello", 5), 0);
    assert_int_equal(r.attempts, 1);
}

static void test_suspend_resume(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "%s/suspend", base);
    result r;
    call(cli, "POST", url, "x", 1, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "later");
}

static void test_body_limits(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "%s/small", base);
    result r;
    call(cli, "POST", url, "0123456789", 10, NULL, &r);
    assert_int_equal(r.status, 200);
    call(cli, "POST", url, "0123456789abcdefXYZ", 19, NULL, &r);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "too large"));
    /* the default limit (1024) */
    char big[4096];
    memset(big, 'a', sizeof big);
    snprintf(url, sizeof url, "%s/echo", base);
    call(cli, "POST", url, big, sizeof big, NULL, &r);
    assert_int_equal(r.status, 413);
}

static void test_answer_before_body(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "%s/deny", base);
    result r;
    call(cli, "POST", url, "abc", 3, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.body, "no");
}

static void test_query_and_404(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "%s/query?name=a%%20b", base);
    result r;
    call(cli, "GET", url, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "a b");
    snprintf(url, sizeof url, "%s/nothing", base);
    call(cli, "GET", url, NULL, 0, NULL, &r);
    assert_int_equal(r.status, 404);
}

static void test_streaming_body(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "%s/stream", base);
    size_t n = 5u << 20;
    char *big = malloc(n);
    memset(big, 'x', n);
    atomic_store(&streamed, 0);
    int done_before = atomic_load(&stream_done);
    result r;
    call(cli, "POST", url, big, n, NULL, &r);
    assert_int_equal(r.status, 200);
    char expect[64];
    snprintf(expect, sizeof expect, "ok %zu 0", n); /* seen whole, collected nothing */
    assert_string_equal(r.body, expect);
    assert_int_equal(atomic_load(&streamed), n);
    /* over the limit: 413 */
    size_t m = 9u << 20;
    big = realloc(big, m);
    memset(big, 'x', m);
    call(cli, "POST", url, big, m, NULL, &r);
    assert_int_equal(r.status, 413);
    /* a refused chunk is reported to on_request */
    big[0] = '!';
    call(cli, "POST", url, big, 100, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "refused"));
    free(big);
    for (int i = 0; i < 100 && atomic_load(&stream_done) < done_before + 3; i++)
        usleep(10000);
    assert_int_equal(atomic_load(&stream_done), done_before + 3);
}

static void test_client_retries(void **state)
{
    char url[128];
    snprintf(url, sizeof url, "%s/flaky", base);
    atomic_store(&fail_first, 2);
    http_client_opts o = {.backoff_ms = 20, .max_attempts = 5};
    result r;
    call(cli, "POST", url, "{}", 2, &o, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.attempts, 3);
    /* gives up after max_attempts and reports the last status */
    atomic_store(&fail_first, 10);
    o.max_attempts = 2;
    call(cli, "POST", url, "{}", 2, &o, &r);
    assert_int_equal(r.status, 500);
    assert_int_equal(r.attempts, 2);
}

static void test_client_connection_refused(void **state)
{
    http_client_opts o = {.backoff_ms = 10, .max_attempts = 2, .timeout_ms = 2000};
    result r;
    call(cli, "POST", "http://127.0.0.1:1/x", "{}", 2, &o, &r);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.attempts, 2);
    assert_true(strlen(r.error) > 0);
    assert_int_equal(http_client_request(cli, "POST", "file:///etc/passwd", NULL, "", 0, NULL, NULL, NULL), SL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo),
        cmocka_unit_test(test_suspend_resume),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_answer_before_body),
        cmocka_unit_test(test_query_and_404),
        cmocka_unit_test(test_streaming_body),
        cmocka_unit_test(test_client_retries),
        cmocka_unit_test(test_client_connection_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
