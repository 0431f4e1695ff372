/* fuzz_multipart: the streaming multipart/form-data parser. The input's first line is the
 * request's Content-Type, the rest is the body. An optional leading '!' plus one byte makes the
 * callbacks refuse the n-th part end (n from that byte), to exercise refusal mid-stream.
 *
 * The body is parsed three ways: whole, in chunks whose sizes are read from the body's own
 * bytes, and (for small inputs) one byte at a time. Oracles (abort on violation): the three runs
 * give the same callback sequence, result and error message; callbacks nest properly (data
 * only inside a part, every end after a begin); content delivered never exceeds the body;
 * part names are never NULL; after a failure the parser refuses input with SL_ESTATE;
 * multipart_content_type_ok agrees with multipart_new. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct run {
    buf log;
    bool created, in_part, last_data;
    int ends, refuse_end;
    size_t max_parts;
    size_t content;
} run;

static int on_part(void *ctx, const multipart_part *p)
{
    run *r = ctx;
    if (r->in_part || !p->name)
        abort();
    r->in_part = true;
    r->last_data = false;
    buf_printf(&r->log, "<P %s|%s|%s>", p->name, p->filename ? p->filename : "(null)",
               p->content_type ? p->content_type : "(null)");
    return 0;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    run *r = ctx;
    if (!r->in_part || len == 0)
        abort();
    if (!r->last_data)
        buf_puts(&r->log, "<D>");
    r->last_data = true;
    if (buf_append(&r->log, data, len) != 0)
        abort();
    r->content += len;
    return 0;
}

static int on_part_end(void *ctx)
{
    run *r = ctx;
    if (!r->in_part)
        abort();
    r->in_part = false;
    r->last_data = false;
    buf_puts(&r->log, "<E>");
    return ++r->ends == r->refuse_end ? SL_EIO : 0;
}

enum { WHOLE, FROM_BYTES, BYTES };

/* Parses body the given way into r; returns the result with err filled. */
static int parse(const char *ct, const char *body, size_t len, int mode, run *r, sl_error *err)
{
    static const multipart_callbacks cb = {on_part, on_data, on_part_end};
    memset(err, 0, sizeof *err);
    multipart *m = multipart_new(ct, &cb, r, err);
    if (!m)
        return err->code;
    r->created = true;
    multipart_set_max_parts(m, r->max_parts);
    size_t off = 0, k = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        size_t n = len - off;
        if (mode == BYTES)
            n = 1;
        else if (mode == FROM_BYTES)
            n = 1 + (unsigned char)body[(k++ * 7) % len] % 24;
        if (n > len - off)
            n = len - off;
        rc = multipart_feed(m, body + off, n, err);
        off += n;
    }
    if (rc == 0) {
        rc = multipart_finish(m, err);
    } else {
        sl_error e2;
        if (multipart_feed(m, "x", 1, &e2) != SL_ESTATE || multipart_finish(m, &e2) != SL_ESTATE)
            abort();
    }
    if (rc != 0 && (rc != err->code || err->msg[0] == '\0'))
        abort();
    multipart_free(m);
    if (r->content > len)
        abort();
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    int refuse_end = 0;
    size_t max_parts = 0;
    if (size >= 2 && in[0] == '!') {
        refuse_end = 1 + (unsigned char)in[1] % 4;
        max_parts = 1 + ((unsigned char)in[1] >> 2) % 8;
        in += 2;
        size -= 2;
    }
    const char *nl = memchr(in, '\n', size);
    size_t ct_len = nl ? (size_t)(nl - in) : size;
    char *ct = malloc(ct_len + 1);
    if (!ct)
        return 0;
    memcpy(ct, in, ct_len);
    ct[ct_len] = '\0';
    const char *body = nl ? nl + 1 : in + size;
    size_t len = (size_t)(in + size - body);

    run first;
    sl_error first_err;
    int first_rc = 0;
    int modes = len <= 4096 ? 3 : 2;
    for (int mode = WHOLE; mode < modes; mode++) {
        run r;
        memset(&r, 0, sizeof r);
        buf_init(&r.log, (size_t)1 << 26);
        r.refuse_end = refuse_end;
        r.max_parts = max_parts;
        sl_error err;
        int rc = parse(ct, body, len, mode, &r, &err);
        if (mode == WHOLE) {
            if (multipart_content_type_ok(ct) != (int)r.created)
                abort();
            first = r;
            first_err = err;
            first_rc = rc;
            continue;
        }
        if (rc != first_rc || r.log.len != first.log.len || memcmp(r.log.data, first.log.data, r.log.len) != 0)
            abort();
        if (rc && (strcmp(err.msg, first_err.msg) != 0 || strcmp(err.where, first_err.where) != 0))
            abort();
        buf_free(&r.log);
    }
    buf_free(&first.log);
    free(ct);
    return 0;
}
