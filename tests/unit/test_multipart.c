/* Unit tests for core/multipart: every body is fed whole, byte by byte and in seeded random
 * chunk sizes, and the three runs must give the same callback sequence (and the same error).
 * Covered: boundaries in the Content-Type, preamble/epilogue, binary content near the
 * boundary, empty parts, part headers and filename forms, eager delivery of content, a 50 MiB
 * part streamed with bounded hold-back, limits, truncation and callback refusal. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/multipart.h"

#define CT "multipart/form-data; boundary=XyZ"

/* ---- a recorder: the callback sequence as one string ---- */

typedef struct rec {
    buf log;            /* "<P name|filename|type>", data bytes after "<D>", "<E>" */
    bool last_data;
    int refuse_part;    /* refuse the n-th on_part (1-based; 0 never) */
    int refuse_data;    /* refuse the n-th on_data call */
    int refuse_end;     /* refuse the n-th on_part_end */
    int refuse_rc;
    int parts, datas, ends;
    bool in_part;
} rec;

static void rec_init(rec *r)
{
    memset(r, 0, sizeof *r);
    buf_init(&r->log, 1 << 24);
    r->refuse_rc = -1;
}

static int rec_part(void *ctx, const multipart_part *p)
{
    rec *r = ctx;
    assert_false(r->in_part);
    assert_non_null(p->name);
    r->in_part = true;
    r->last_data = false;
    r->parts++;
    buf_printf(&r->log, "<P %s|%s|%s>", p->name, p->filename ? p->filename : "(null)",
               p->content_type ? p->content_type : "(null)");
    return r->parts == r->refuse_part ? r->refuse_rc : 0;
}

static int rec_data(void *ctx, const char *data, size_t len)
{
    rec *r = ctx;
    assert_true(r->in_part);
    assert_true(len > 0);
    r->datas++;
    if (!r->last_data)
        buf_puts(&r->log, "<D>");
    r->last_data = true;
    assert_int_equal(buf_append(&r->log, data, len), 0);
    return r->datas == r->refuse_data ? r->refuse_rc : 0;
}

static int rec_end(void *ctx)
{
    rec *r = ctx;
    assert_true(r->in_part);
    r->in_part = false;
    r->last_data = false;
    r->ends++;
    buf_puts(&r->log, "<E>");
    return r->ends == r->refuse_end ? r->refuse_rc : 0;
}

static const multipart_callbacks rec_cb = {rec_part, rec_data, rec_end};

/* ---- feeding in three ways ---- */

enum { WHOLE, BYTES, RANDOM };

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Feeds body to a new parser the given way and finishes; returns the first failure's code (0
 * when all went well) with err filled. The recorder gets the callbacks. */
static int run_mode(const char *ct, const char *body, size_t len, int mode, uint64_t seed, rec *r,
                    size_t max_parts, sl_error *err)
{
    memset(err, 0, sizeof *err);
    multipart *m = multipart_new(ct, &rec_cb, r, err);
    if (!m)
        return err->code ? err->code : -100;
    if (max_parts)
        multipart_set_max_parts(m, max_parts);
    rng_state = seed ? seed : 1;
    size_t off = 0;
    int rc = 0;
    while (off < len && rc == 0) {
        size_t n = len - off;
        if (mode == BYTES)
            n = 1;
        else if (mode == RANDOM) {
            uint64_t x = rng_next();
            size_t cap = (x & 3) == 0 ? 200 : 17; /* mostly small, sometimes larger */
            n = 1 + (size_t)((x >> 8) % cap);
            if (n > len - off)
                n = len - off;
        }
        rc = multipart_feed(m, body + off, n, err);
        off += n;
    }
    if (rc == 0)
        rc = multipart_finish(m, err);
    else {
        /* After a failure the parser refuses more input and cannot finish. */
        sl_error e2;
        int rc2 = multipart_feed(m, "x", 1, &e2);
        if (rc2 != SL_ESTATE)
            fail_msg("feed after '%s' gave %d: %s", err->msg, rc2, e2.msg);
        assert_int_equal(multipart_finish(m, &e2), SL_ESTATE);
    }
    multipart_free(m);
    return rc;
}

/* Runs all three ways (and several random seeds), checks they agree, and returns the log of
 * the whole-body run in *log (caller frees; *log_len bytes) and its error in err. */
static int run_all(const char *ct, const char *body, size_t len, size_t max_parts, char **log, size_t *log_len,
                   sl_error *err)
{
    rec r0;
    rec_init(&r0);
    int rc0 = run_mode(ct, body, len, WHOLE, 0, &r0, max_parts, err);
    for (int mode = BYTES; mode <= RANDOM; mode++) {
        for (uint64_t seed = 1; seed <= (mode == RANDOM ? 5u : 1u); seed++) {
            rec r;
            rec_init(&r);
            sl_error e;
            int rc = run_mode(ct, body, len, mode, seed * 0x9e3779b97f4a7c15ull, &r, max_parts, &e);
            assert_int_equal(rc, rc0);
            assert_int_equal(r.log.len, r0.log.len);
            assert_memory_equal(r.log.data, r0.log.data, r0.log.len);
            if (rc0) {
                assert_string_equal(e.msg, err->msg);
                assert_string_equal(e.where, err->where);
            }
            buf_free(&r.log);
        }
    }
    *log_len = r0.log.len;
    *log = buf_take(&r0.log);
    return rc0;
}

/* Expects success with exactly the given log. */
static void expect_log(const char *ct, const char *body, size_t len, const char *want, size_t want_len)
{
    char *log;
    size_t log_len;
    sl_error err;
    int rc = run_all(ct, body, len, 0, &log, &log_len, &err);
    if (rc)
        fail_msg("unexpected error %d: %s: %s", rc, err.where, err.msg);
    size_t got_len = log_len;
    if (got_len != want_len || memcmp(log, want, want_len) != 0) {
        size_t at = 0;
        while (at < want_len && at < got_len && log[at] == want[at])
            at++;
        fail_msg("log mismatch at byte %zu (lengths %zu, %zu)\n got: %s\nwant: %s", at, got_len, want_len,
                 log + at, want + at);
    }
    free(log);
}
#define EXPECT(body, want) expect_log(CT, body, sizeof body - 1, want, sizeof want - 1)

/* Expects failure with the code and a message containing the text. */
static void expect_error(const char *ct, const char *body, size_t len, size_t max_parts, int code, const char *text)
{
    char *log;
    size_t log_len;
    sl_error err;
    int rc = run_all(ct, body, len, max_parts, &log, &log_len, &err);
    free(log);
    if (rc != code)
        fail_msg("expected %d, got %d (%s)", code, rc, err.msg);
    assert_int_equal(err.code, code);
    if (!strstr(err.msg, text))
        fail_msg("message '%s' lacks '%s'", err.msg, text);
}
#define EXPECT_ERR(body, code, text) expect_error(CT, body, sizeof body - 1, 0, code, text)

/* ---- tests ---- */

static void test_basic(void **state)
{
    EXPECT("--XyZ\r\n"
           "Content-Disposition: form-data; name=\"a\"\r\n"
           "\r\n"
           "hello\r\n"
           "--XyZ\r\n"
           "Content-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\n"
           "Content-Type: text/plain\r\n"
           "\r\n"
           "line1\r\nline2\r\n\r\n"
           "--XyZ--\r\n",
           "<P a|(null)|(null)><D>hello<E><P f|x.txt|text/plain><D>line1\r\nline2\r\n<E>");
    /* Preamble and epilogue are ignored; the epilogue may hold anything, even boundaries. */
    EXPECT("This is the preamble.\r\n--XyZ not yet\r\n--XyZ-\r\n--XyZ\r\n"
           "Content-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ--junk\r\n--XyZ\r\ngarbage\n\0\xff",
           "<P a|(null)|(null)><D>v<E>");
    /* Transport padding after boundaries; CRLF before the first boundary. */
    EXPECT("\r\n--XyZ \t\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nv\r\n--XyZ  \r\n"
           "Content-Disposition: form-data; name=\"b\"\r\n\r\nw\r\n--XyZ--",
           "<P a|(null)|(null)><D>v<E><P b|(null)|(null)><D>w<E>");
    /* No parts at all is accepted. */
    EXPECT("--XyZ--\r\n", "");
    /* Other headers are ignored; names are case-insensitive; folded lines are joined. */
    EXPECT("--XyZ\r\nX-Other: 1\r\ncontent-disposition: form-data;\r\n name=\"a\"\r\nCONTENT-TYPE:  image/png  \r\n"
           "Content-Transfer-Encoding: binary\r\n\r\nv\r\n--XyZ--",
           "<P a|(null)|image/png><D>v<E>");
    /* A part without Content-Disposition has name "". */
    EXPECT("--XyZ\r\nContent-Type: text/plain\r\n\r\nv\r\n--XyZ--", "<P |(null)|text/plain><D>v<E>");
}

static void test_binary_content(void **state)
{
    /* CR, LF, "--", boundary prefixes, the boundary in the wrong case or not at a line start,
     * CRs before the CRLF, NUL and high bytes; content that is just CRLF or ends in CR or in a
     * boundary prefix. */
    EXPECT("--XyZ\r\nContent-Disposition: form-data; name=\"b\"; filename=\"b.bin\"\r\n\r\n"
           "\r\n--\r\n--X\r\n--Xy\r\n--xyz\r\r\n--XyQ--XyZ\n--XyZ\r--XyZ\r\n-\r\r\r\n\0\xff"
           "\r\n--XyZ\r\n"
           "Content-Disposition: form-data; name=\"c\"\r\n\r\n"
           "\r\n"
           "\r\n--XyZ\r\n"
           "Content-Disposition: form-data; name=\"d\"\r\n\r\n"
           "ends in CR\r"
           "\r\n--XyZ\r\n"
           "Content-Disposition: form-data; name=\"e\"\r\n\r\n"
           "-XyZ--\r\n--Xy"
           "\r\n--XyZ--",
           "<P b|b.bin|(null)><D>"
           "\r\n--\r\n--X\r\n--Xy\r\n--xyz\r\r\n--XyQ--XyZ\n--XyZ\r--XyZ\r\n-\r\r\r\n\0\xff<E>"
           "<P c|(null)|(null)><D>\r\n<E>"
           "<P d|(null)|(null)><D>ends in CR\r<E>"
           "<P e|(null)|(null)><D>-XyZ--\r\n--Xy<E>");
    /* Content made only of near-boundary material, ending in a boundary prefix. */
    EXPECT("--XyZ\r\n\r\n\r\n--XyZ\r\n\r\n\r\r\n--Xy\r\n--XyZ--",
           "<P |(null)|(null)><E><P |(null)|(null)><D>\r\r\n--Xy<E>");
}

static void test_empty_parts(void **state)
{
    /* No headers and no content, in both forms RFC 2046 allows. */
    EXPECT("--XyZ\r\n\r\n\r\n--XyZ--", "<P |(null)|(null)><E>");
    EXPECT("--XyZ\r\n\r\n--XyZ--", "<P |(null)|(null)><E>");
    /* Headers, no content, with and without the CRLF before it. */
    EXPECT("--XyZ\r\nContent-Disposition: form-data; name=\"e\"\r\n\r\n\r\n--XyZ\r\n"
           "Content-Disposition: form-data; name=\"f\"\r\n\r\n--XyZ--",
           "<P e|(null)|(null)><E><P f|(null)|(null)><E>");
    /* A filename present but empty (no file chosen in a browser form). */
    EXPECT("--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n\r\n--XyZ--",
           "<P f||application/octet-stream><E>");
}

static void test_many_parts(void **state)
{
    buf b;
    buf_init(&b, 1 << 20);
    buf want;
    buf_init(&want, 1 << 20);
    for (int i = 0; i < MULTIPART_DEFAULT_MAX_PARTS; i++) {
        buf_printf(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"f%d\"\r\n\r\nvalue %d\r\n", i, i);
        buf_printf(&want, "<P f%d|(null)|(null)><D>value %d<E>", i, i);
    }
    buf_puts(&b, "--XyZ--\r\n");
    expect_log(CT, b.data, b.len, want.data, want.len);
    /* One more part is too many. */
    b.len -= strlen("--XyZ--\r\n");
    buf_puts(&b, "--XyZ\r\nContent-Disposition: form-data; name=\"more\"\r\n\r\nx\r\n--XyZ--\r\n");
    expect_error(CT, b.data, b.len, 0, SL_ETOOBIG, "too many parts (limit 64)");
    /* A configured limit. */
    expect_error(CT, b.data, b.len, 3, SL_ETOOBIG, "too many parts (limit 3)");
    char *log;
    size_t log_len;
    sl_error err;
    assert_int_equal(run_all(CT, b.data, b.len, 1000, &log, &log_len, &err), 0);
    free(log);
    buf_free(&b);
    buf_free(&want);
}

/* ---- a 50 MiB part through a counting callback ---- */

typedef struct counter {
    uint64_t bytes, sum, weighted;
    size_t max_call;
    int parts, ends;
} counter;

static int count_part(void *ctx, const multipart_part *p)
{
    counter *c = ctx;
    c->parts++;
    assert_string_equal(p->filename, "big.bin");
    return 0;
}

static int count_data(void *ctx, const char *data, size_t len)
{
    counter *c = ctx;
    for (size_t i = 0; i < len; i++) {
        unsigned char v = (unsigned char)data[i];
        c->sum += v;
        c->weighted += v * ((c->bytes + i) % 251 + 1);
    }
    c->bytes += len;
    if (len > c->max_call)
        c->max_call = len;
    return 0;
}

static int count_end(void *ctx)
{
    ((counter *)ctx)->ends++;
    return 0;
}

static void test_large_part(void **state)
{
    enum { BLOCK = 65536, BLOCKS = 800 }; /* 50 MiB */
    static char block[BLOCK];
    for (size_t i = 0; i < BLOCK; i++)
        block[i] = (char)(i * 7 + (i >> 9));
    /* Near-boundary material throughout, and a boundary prefix across each block's end. */
    for (size_t i = 100; i + 40 < BLOCK; i += 997) {
        static const char *const bits[] = {"\r\n--XyQ-", "\r\n--Xy", "--XyZ\r\n", "\r\r\n--X", "\r\n--XyQ"};
        const char *s = bits[(i / 997) % 5];
        memcpy(block + i, s, strlen(s));
    }
    memcpy(block + BLOCK - 5, "\r\n--X", 5);
    block[0] = 'y'; /* "\r\n--Xy" then a mismatch in the next block */
    block[1] = 'q';
    /* The test data must not hold a real delimiter, also across the block's end. */
    {
        static char twice[2 * BLOCK];
        memcpy(twice, block, BLOCK);
        memcpy(twice + BLOCK, block, BLOCK);
        assert_null(memmem(twice, sizeof twice, "\r\n--XyZ", 7));
        assert_non_null(memmem(twice, sizeof twice, "--XyZ", 5));
    }

    counter c = {0};
    multipart_callbacks cb = {count_part, count_data, count_end};
    sl_error err;
    multipart *m = multipart_new("multipart/form-data; boundary=\"XyZ\"", &cb, &c, &err);
    assert_non_null(m);
    static const char head[] = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n"
                               "Content-Type: application/octet-stream\r\n\r\n";
    assert_int_equal(multipart_feed(m, head, sizeof head - 1, &err), 0);
    uint64_t fed = 0, sum = 0, weighted = 0;
    for (int b = 0; b < BLOCKS; b++) {
        /* Two uneven pieces per block so chunk edges move around. */
        size_t cut = 1 + (size_t)(b * 7919) % (BLOCK - 1);
        assert_int_equal(multipart_feed(m, block, cut, &err), 0);
        assert_int_equal(multipart_feed(m, block + cut, BLOCK - cut, &err), 0);
        for (size_t i = 0; i < BLOCK; i++) {
            unsigned char v = (unsigned char)block[i];
            sum += v;
            weighted += v * ((fed + i) % 251 + 1);
        }
        fed += BLOCK;
        /* Streaming: everything fed has been handed on except at most a delimiter's length. */
        assert_true(c.bytes <= fed);
        assert_true(fed - c.bytes <= 4 + 3);
    }
    assert_int_equal(multipart_feed(m, "\r\n--XyZ--\r\n", 11, &err), 0);
    assert_int_equal(multipart_finish(m, &err), 0);
    multipart_free(m);
    assert_int_equal(c.parts, 1);
    assert_int_equal(c.ends, 1);
    assert_true(c.bytes == (uint64_t)BLOCK * BLOCKS);
    assert_true(c.sum == sum);
    assert_true(c.weighted == weighted);
    /* No call carries more than a chunk plus the held-back delimiter prefix. */
    assert_true(c.max_call <= BLOCK + 7);
}

/* Content is handed on as soon as it cannot be part of a delimiter. */
static void test_eager_delivery(void **state)
{
    rec r;
    rec_init(&r);
    sl_error err;
    multipart *m = multipart_new(CT, &rec_cb, &r, &err);
    assert_non_null(m);
    static const char a[] = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nhello\r\n--Xy";
    assert_int_equal(multipart_feed(m, a, sizeof a - 1, &err), 0);
    assert_string_equal(r.log.data, "<P a|(null)|(null)><D>hello");
    assert_int_equal(multipart_feed(m, "q", 1, &err), 0);
    assert_string_equal(r.log.data, "<P a|(null)|(null)><D>hello\r\n--Xyq");
    assert_int_equal(multipart_feed(m, "\r", 1, &err), 0);
    assert_string_equal(r.log.data, "<P a|(null)|(null)><D>hello\r\n--Xyq");
    assert_int_equal(multipart_feed(m, "\r", 1, &err), 0);
    assert_string_equal(r.log.data, "<P a|(null)|(null)><D>hello\r\n--Xyq\r");
    assert_int_equal(multipart_feed(m, "\n--XyZ", 6, &err), 0);
    assert_string_equal(r.log.data, "<P a|(null)|(null)><D>hello\r\n--Xyq\r");
    assert_int_equal(multipart_feed(m, "--", 2, &err), 0);
    assert_string_equal(r.log.data, "<P a|(null)|(null)><D>hello\r\n--Xyq\r<E>");
    assert_int_equal(multipart_finish(m, &err), 0);
    /* The epilogue is ignored, also after finish. */
    assert_int_equal(multipart_feed(m, "more", 4, &err), 0);
    multipart_free(m);
    buf_free(&r.log);
}

static void test_filenames(void **state)
{
    /* Backslash escapes of '"' and '\'; other backslashes stay (Windows paths). */
    EXPECT("--XyZ\r\nContent-Disposition: form-data; name=\"q\\\"n\"; filename=\"a\\\"b\\\\c \\d.txt\"\r\n\r\n"
           "\r\n--XyZ--",
           "<P q\"n|a\"b\\c \\d.txt|(null)><E>");
    EXPECT("--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"C:\\Users\\me\\r.pdf\"\r\n\r\n\r\n--XyZ--",
           "<P f|C:\\Users\\me\\r.pdf|(null)><E>");
    /* filename* takes precedence, whichever comes first. */
    EXPECT("--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"fallback.txt\"; "
           "filename*=UTF-8''%E2%82%AC%20rates.txt\r\n\r\n\r\n--XyZ--",
           "<P f|\xE2\x82\xAC rates.txt|(null)><E>");
    EXPECT("--XyZ\r\nContent-Disposition: form-data; FILENAME*=utf-8'en'%e2%82%ac.txt; Name=f; "
           "FileName=\"fallback.txt\"\r\n\r\n\r\n--XyZ--",
           "<P f|\xE2\x82\xAC.txt|(null)><E>");
    /* ISO-8859-1 is converted to UTF-8; a quoted ext-value is tolerated. */
    EXPECT("--XyZ\r\nContent-Disposition: form-data; name=f; filename*=\"ISO-8859-1''%E9t%E9.txt\"\r\n\r\n\r\n--XyZ--",
           "<P f|\xC3\xA9t\xC3\xA9.txt|(null)><E>");
    /* Raw UTF-8 in a quoted string (what browsers send); unquoted tokens; spaces around '='. */
    EXPECT("--XyZ\r\nContent-Disposition: form-data ; name = f ; filename=\"\xC3\xA9t\xC3\xA9 x.txt\" ;\r\n\r\n\r\n--XyZ--",
           "<P f|\xC3\xA9t\xC3\xA9 x.txt|(null)><E>");
    EXPECT("--XyZ\r\nContent-Disposition: form-data; name=field_1; filename=plain.txt\r\n\r\n\r\n--XyZ--",
           "<P field_1|plain.txt|(null)><E>");
    /* Unknown parameters are ignored. */
    EXPECT("--XyZ\r\nContent-Disposition: attachment; size=3; name=\"a;b\"; creation-date=\"x\"\r\n\r\nabc\r\n--XyZ--",
           "<P a;b|(null)|(null)><D>abc<E>");
}

static void test_content_type(void **state)
{
    assert_int_equal(multipart_content_type_ok("multipart/form-data; boundary=abc"), 1);
    assert_int_equal(multipart_content_type_ok("multipart/form-data;boundary=\"a b:c\""), 1);
    assert_int_equal(multipart_content_type_ok("Multipart/Form-Data; charset=utf-8; BOUNDARY=----WebKitFormBoundaryx"), 1);
    assert_int_equal(multipart_content_type_ok("  multipart/form-data ;  boundary = abc  "), 1);
    char b70[100], b71[100];
    memset(b70, 'b', 70);
    b70[70] = '\0';
    memset(b71, 'b', 71);
    b71[71] = '\0';
    char ct[200];
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b70);
    assert_int_equal(multipart_content_type_ok(ct), 1);

    struct {
        const char *ct;
        const char *text;
    } bad[] = {
        {NULL, "no Content-Type"},
        {"", "no Content-Type"},
        {"application/json", "not multipart/form-data"},
        {"multipart/mixed; boundary=abc", "not multipart/form-data"},
        {"multipart/form-data", "no boundary"},
        {"multipart/form-data; charset=utf-8", "no boundary"},
        {"multipart/form-data; boundary=", "no value"},
        {"multipart/form-data; boundary=\"\"", "1-70"},
        {"multipart/form-data; boundary=\"abc ", "unterminated"},
        {"multipart/form-data; boundary=\"abc \"", "not allowed"},
        {"multipart/form-data; boundary=\"a\tb\"", "not allowed"},
        {"multipart/form-data; boundary=\"a\xc3\xa9\"", "not allowed"},
        {"multipart/form-data; boundary=a; boundary=b", "two boundary"},
        {"multipart/form-data boundary=a", "unexpected character 'b' after the type"},
        {"multipart/form-data\x01", "unexpected character 0x01"},
        {"multipart/form-data; =a", "bad parameter name"},
        {"multipart/form-data; boundary", "no '=value'"},
        {ct, "1-70"},
    };
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", b71);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sl_error err;
        memset(&err, 0, sizeof err);
        assert_int_equal(multipart_content_type_ok(bad[i].ct), 0);
        assert_null(multipart_new(bad[i].ct, &rec_cb, NULL, &err));
        assert_int_equal(err.code, SL_EINVAL);
        if (!strstr(err.msg, bad[i].text))
            fail_msg("%s: message '%s' lacks '%s'", bad[i].ct ? bad[i].ct : "(null)", err.msg, bad[i].text);
    }

    /* A 70-character quoted boundary with spaces works end to end; content that is the
     * boundary less its last character is content. */
    static const char b[] = "0123456789 ()+_,-./:=? abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU";
    assert_int_equal(strlen(b), 70);
    snprintf(ct, sizeof ct, "multipart/form-data; boundary=\"%s\"", b);
    char body[400], want[200];
    int n = snprintf(body, sizeof body, "--%s\r\nContent-Disposition: form-data; name=x\r\n\r\n--%.69s\r\n--%s--",
                     b, b, b);
    int wn = snprintf(want, sizeof want, "<P x|(null)|(null)><D>--%.69s<E>", b);
    expect_log(ct, body, (size_t)n, want, (size_t)wn);
}

static void test_header_limits(void **state)
{
    /* A header block of exactly the limit is fine; one byte more is not. */
    char *body = malloc(MULTIPART_MAX_HEADER_BYTES + 200);
    char *want = malloc(MULTIPART_MAX_HEADER_BYTES + 200);
    for (int extra = 0; extra <= 1; extra++) {
        static const char pre[] = "--XyZ\r\nX-Pad: ";
        static const char cd[] = "\r\nContent-Disposition: form-data; name=a\r\n\r\n";
        size_t pad = MULTIPART_MAX_HEADER_BYTES - (sizeof pre - 1 - 7) - (sizeof cd - 1) + (size_t)extra;
        size_t n = 0;
        memcpy(body, pre, sizeof pre - 1);
        n += sizeof pre - 1;
        memset(body + n, 'p', pad);
        n += pad;
        memcpy(body + n, cd, sizeof cd - 1);
        n += sizeof cd - 1;
        memcpy(body + n, "v\r\n--XyZ--", 10);
        n += 10;
        if (!extra) {
            strcpy(want, "<P a|(null)|(null)><D>v<E>");
            expect_log(CT, body, n, want, strlen(want));
        } else {
            expect_error(CT, body, n, 0, SL_ETOOBIG, "header block is larger than 8192 bytes");
        }
    }
    /* An endless header line stops at the limit too (no growth). */
    size_t n = 0;
    memcpy(body, "--XyZ\r\nX: ", 10);
    n = 10;
    memset(body + n, 'h', MULTIPART_MAX_HEADER_BYTES + 100);
    n += MULTIPART_MAX_HEADER_BYTES + 100;
    expect_error(CT, body, n, 0, SL_ETOOBIG, "larger than 8192");
    free(body);
    free(want);
}

static void test_errors(void **state)
{
    /* Truncated bodies: finish fails, with a message for where it stopped. */
    EXPECT_ERR("", SL_EINVAL, "without any boundary line");
    EXPECT_ERR("no boundary here\r\n--XyQ\r\n", SL_EINVAL, "without any boundary line");
    EXPECT_ERR("--XyZ", SL_EINVAL, "inside the first boundary line");
    EXPECT_ERR("--XyZ\r\nContent-Disp", SL_EINVAL, "inside the part headers");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nhalf a val", SL_EINVAL,
               "before the closing boundary");
    EXPECT_ERR("--XyZ\r\n\r\nv\r\n--XyZ", SL_EINVAL, "before the closing boundary");
    EXPECT_ERR("--XyZ\r\n\r\nv\r\n--XyZ-", SL_EINVAL, "before the closing boundary");
    EXPECT_ERR("--XyZ\r\n\r\nv\r\n--XyZ\r\n", SL_EINVAL, "inside the part headers");
    /* Header syntax. */
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data\n\r\n\r\n--XyZ--", SL_EINVAL, "bare LF");
    EXPECT_ERR("--XyZ\nContent-Disposition: form-data\n\nv\n--XyZ--\n", SL_EINVAL,
               "a boundary line ended in a bare LF (lines must end in CRLF)");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data\rx\r\n\r\n\r\n--XyZ--", SL_EINVAL, "bare CR");
    EXPECT_ERR("--XyZ\r\nno colon here\r\n\r\n\r\n--XyZ--", SL_EINVAL, "malformed header line");
    EXPECT_ERR("--XyZ\r\nName : v\r\n\r\n\r\n--XyZ--", SL_EINVAL, "malformed header line");
    EXPECT_ERR("--XyZ\r\n folded first\r\n\r\n\r\n--XyZ--", SL_EINVAL, "continuation line");
    EXPECT_ERR("--XyZ\r\nX: a\0b\r\n\r\n\r\n--XyZ--", SL_EINVAL, "NUL byte");
    EXPECT_ERR("--XyZ\r\nX: a\x01" "b\r\n\r\n\r\n--XyZ--", SL_EINVAL, "control byte 0x01");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data; name=a\r\nContent-Disposition: form-data\r\n\r\n\r\n--XyZ--",
               SL_EINVAL, "two Content-Disposition");
    EXPECT_ERR("--XyZ\r\nContent-Type: a/b\r\ncontent-type: c/d\r\n\r\n\r\n--XyZ--", SL_EINVAL, "two Content-Type");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data; name=a; NAME=b\r\n\r\n\r\n--XyZ--", SL_EINVAL,
               "two NAME parameters");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data; name=\"a\r\n\r\n\r\n--XyZ--", SL_EINVAL, "unterminated");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data; name=\"a\" x\r\n\r\n\r\n--XyZ--", SL_EINVAL,
               "expected ';'");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: ; name=a\r\n\r\n\r\n--XyZ--", SL_EINVAL, "has no type");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data; filename*=UTF-8''%E2%8\r\n\r\n\r\n--XyZ--", SL_EINVAL,
               "bad percent escape");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data; filename*=UTF-8''a%00b\r\n\r\n\r\n--XyZ--", SL_EINVAL,
               "NUL byte");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data; filename*=KOI8-R''x\r\n\r\n\r\n--XyZ--", SL_EINVAL,
               "unsupported charset");
    EXPECT_ERR("--XyZ\r\nContent-Disposition: form-data; filename*=x.txt\r\n\r\n\r\n--XyZ--", SL_EINVAL,
               "charset'language'value");
    /* The boundary inside content must be a boundary line. */
    EXPECT_ERR("--XyZ\r\n\r\nabc\r\n--XyZx\r\n--XyZ--", SL_EINVAL, "not a boundary line");
    EXPECT_ERR("--XyZ\r\n\r\nabc\r\n--XyZ-x\r\n--XyZ--", SL_EINVAL, "not a boundary line");
    EXPECT_ERR("--XyZ\r\n\r\nabc\r\n--XyZ \r\r\n--XyZ--", SL_EINVAL, "not a boundary line");
    EXPECT_ERR("--XyZ\r\n\r\nabc\r\n--XyZ\n\r\n--XyZ--", SL_EINVAL, "byte 0x0a");
    /* The first line after the opening boundary must be a header or empty. */
    EXPECT_ERR("--XyZ\r\n--XyZ--\r\n\r\n", SL_EINVAL, "malformed header line");

    /* NULL and empty input. */
    sl_error err;
    assert_int_equal(multipart_feed(NULL, "x", 1, &err), SL_EINVAL);
    assert_int_equal(multipart_finish(NULL, &err), SL_EINVAL);
    multipart_free(NULL);
    multipart *m = multipart_new(CT, NULL, NULL, &err);
    assert_non_null(m);
    assert_int_equal(multipart_feed(m, NULL, 0, &err), 0);
    static const char body[] = "--XyZ\r\n\r\nabc\r\n--XyZ--";
    assert_int_equal(multipart_feed(m, body, sizeof body - 1, NULL), 0); /* no callbacks */
    assert_int_equal(multipart_finish(m, NULL), 0);
    multipart_free(m);
}

static void test_callback_refusal(void **state)
{
    static const char body[] = "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nAAAA\r\n--XyZ\r\n"
                               "Content-Disposition: form-data; name=b\r\n\r\nBBBB\r\n--XyZ--";
    struct {
        int part, data, end, rc;
        int want;
        const char *text;
        const char *log;
    } cases[] = {
        {1, 0, 0, 1, SL_EINVAL, "on_part callback refused part 1 (returned 1)", "<P a|(null)|(null)>"},
        {2, 0, 0, SL_ETOOBIG, SL_ETOOBIG, "on_part callback refused part 2",
         "<P a|(null)|(null)><D>AAAA<E><P b|(null)|(null)>"},
        {0, 1, 0, SL_EIO, SL_EIO, "on_data callback refused part 1", "<P a|(null)|(null)><D>"},
        {0, 0, 2, -77, SL_EINVAL, "on_part_end callback refused part 2 (returned -77)",
         "<P a|(null)|(null)><D>AAAA<E><P b|(null)|(null)><D>BBBB<E>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int mode = WHOLE; mode <= RANDOM; mode++) {
            rec r;
            rec_init(&r);
            r.refuse_part = cases[i].part;
            r.refuse_data = cases[i].data;
            r.refuse_end = cases[i].end;
            r.refuse_rc = cases[i].rc;
            sl_error err;
            int rc = run_mode(CT, body, sizeof body - 1, mode, 42, &r, 0, &err);
            assert_int_equal(rc, cases[i].want);
            assert_int_equal(err.code, cases[i].want);
            if (!strstr(err.msg, cases[i].text))
                fail_msg("message '%s' lacks '%s'", err.msg, cases[i].text);
            /* Nothing after the refusal (for data, the first delivered bytes vary by chunking). */
            if (cases[i].data)
                assert_int_equal(strncmp(r.log.data, cases[i].log, strlen(cases[i].log)), 0);
            else
                assert_string_equal(r.log.data, cases[i].log);
            assert_int_equal(r.datas, cases[i].data ? 1 : r.datas);
            buf_free(&r.log);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
        cmocka_unit_test(test_binary_content),
        cmocka_unit_test(test_empty_parts),
        cmocka_unit_test(test_many_parts),
        cmocka_unit_test(test_large_part),
        cmocka_unit_test(test_eager_delivery),
        cmocka_unit_test(test_filenames),
        cmocka_unit_test(test_content_type),
        cmocka_unit_test(test_header_limits),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_callback_refusal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
