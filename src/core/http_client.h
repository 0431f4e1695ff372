/* http_client: outbound HTTP on one libcurl multi thread, with retries.
 *
 * Design: callers hand over a request and a completion callback and return at once; a single
 * client thread drives every transfer with curl_multi_poll, so thousands of outstanding calls
 * cost no threads. Failed attempts (connection errors, timeouts, 5xx, 429) are retried with
 * exponential backoff up to max_attempts. Only http and https URLs are allowed, response bodies
 * are capped, and credentials in URLs are never logged.
 */
#ifndef SLUICE_HTTP_CLIENT_H
#define SLUICE_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

typedef struct http_client http_client;

typedef struct http_client_opts {
    int64_t timeout_ms;      /* per attempt (default 10000) */
    unsigned max_attempts;   /* default 5 */
    int64_t backoff_ms;      /* first retry delay, doubled each time (default 500, max 30000) */
    size_t max_response;     /* default 1 MiB */
} http_client_opts;

/* status: final HTTP status, or 0 when no response was received (error says why). body is the
 * response body of the last attempt (may be NULL). attempts: how many were made. Runs on the
 * client thread: keep it short. */
typedef void (*http_client_done)(void *arg, long status, const char *body, size_t len, unsigned attempts,
                                 const char *error);

http_client *http_client_start(void);
/* Queues a request. method: "POST", "GET", …; headers: NULL-terminated array of "Name: value"
 * (copied); body copied. done may be NULL. Returns 0, or SL_EINVAL for a URL that is not http(s). */
int http_client_request(http_client *c, const char *method, const char *url, const char *const *headers,
                        const char *body, size_t len, const http_client_opts *opts, http_client_done done,
                        void *arg);
/* As http_client_request, with the body streamed from size bytes of the open file fd (read
 * with pread from offset 0 on every attempt; never held in memory). The caller keeps fd open
 * until done has been called. SL_EINVAL for a bad URL or fd. */
int http_client_request_fd(http_client *c, const char *method, const char *url, const char *const *headers, int fd,
                           uint64_t size, const http_client_opts *opts, http_client_done done, void *arg);
/* The answer of a blocking call: status 0 when no response came (error says why); body is the
 * response of the last attempt, NUL-terminated (owned: http_client_reply_free). */
typedef struct http_client_reply {
    long status;
    char *body;
    size_t len;
    unsigned attempts;
    char error[256];
} http_client_reply;

/* As http_client_request (body_fd < 0) or http_client_request_fd (body_fd >= 0), but waits for the
 * answer (from a thread that may block: never the client's own). Returns 0 with *out filled (also
 * when the call failed: see out->status), or SL_EINVAL for a URL that is not http(s). */
int http_client_call(http_client *c, const char *method, const char *url, const char *const *headers,
                     const char *body, size_t len, int body_fd, uint64_t body_size, const http_client_opts *opts,
                     http_client_reply *out);
void http_client_reply_free(http_client_reply *r); /* NULL is fine */

/* "Authorization: Basic <base64(user:password)>" (malloc'd), or NULL when user is NULL or "". */
char *http_basic_header(const char *user, const char *password);

/* Requests queued, in flight or waiting for a retry. */
size_t http_client_pending(http_client *c);
/* Waits up to wait_ms for pending requests to finish, then cancels the rest (their done is called
 * with status 0 and error "cancelled") and frees the client. */
void http_client_stop(http_client *c, int64_t wait_ms);

#endif
