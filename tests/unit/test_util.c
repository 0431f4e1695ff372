/* Unit tests for core/util: errors, allocation, buf, arena, strings, base64/hex, SHA-256 and
 * HMAC (FIPS 180-4 and RFC 4231 vectors), random/uuid, time, files, problems, JSON pointers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util.h"

static void hex_of(const void *p, size_t n, char *out)
{
    hex_encode(p, n, out);
}

/* ---- errors and allocation ---- */

static void test_sl_fail(void **state)
{
    sl_error err;
    memset(&err, 0x55, sizeof err);
    int rc = sl_fail(&err, SL_EINVAL, "/a/b", "bad %s %d", "thing", 7);
    assert_int_equal(rc, SL_EINVAL);
    assert_int_equal(err.code, SL_EINVAL);
    assert_string_equal(err.where, "/a/b");
    assert_string_equal(err.msg, "bad thing 7");

    assert_int_equal(sl_fail(NULL, SL_EIO, "x", "y"), SL_EIO);
    sl_fail(&err, SL_ETOOBIG, NULL, "m");
    assert_string_equal(err.where, "");

    /* Long texts are cut, never overflow. */
    char longw[600];
    memset(longw, 'w', sizeof longw - 1);
    longw[sizeof longw - 1] = '\0';
    sl_fail(&err, SL_EINVAL, longw, "%s%s", longw, longw);
    assert_int_equal(strlen(err.where), sizeof err.where - 1);
    assert_int_equal(strlen(err.msg), sizeof err.msg - 1);
}

static void test_alloc(void **state)
{
    char *s = xstrdup("hello");
    assert_string_equal(s, "hello");
    free(s);
    s = xstrndup("hello", 3);
    assert_string_equal(s, "hel");
    free(s);
    s = xstrndup("hi", 10);
    assert_string_equal(s, "hi");
    free(s);
    s = xasprintf("%d-%s", 42, "x");
    assert_string_equal(s, "42-x");
    free(s);
    char big[1000];
    memset(big, 'b', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    s = xasprintf("[%s]", big);
    assert_int_equal(strlen(s), 1001);
    free(s);
    int *z = xcalloc(10, sizeof *z);
    for (int i = 0; i < 10; i++)
        assert_int_equal(z[i], 0);
    z = xrealloc(z, 100 * sizeof *z);
    free(z);
    free(xmalloc(0));
}

/* ---- buf ---- */

static void test_buf_basic(void **state)
{
    buf b;
    buf_init(&b, 1024);
    assert_non_null(b.data);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    assert_int_equal(buf_puts(&b, "abc"), 0);
    assert_int_equal(buf_putc(&b, '-'), 0);
    assert_int_equal(buf_append(&b, "xyz", 2), 0);
    assert_int_equal(buf_printf(&b, "%d", 123), 0);
    assert_string_equal(b.data, "abc-xy123");
    assert_int_equal(b.len, 9);
    assert_int_equal(b.data[b.len], '\0');
    buf_reset(&b);
    assert_string_equal(b.data, "");
    assert_int_equal(b.len, 0);
    /* Binary data with NULs. */
    assert_int_equal(buf_append(&b, "a\0b", 3), 0);
    assert_int_equal(b.len, 3);
    assert_memory_equal(b.data, "a\0b", 3);
    buf_free(&b);
    assert_int_equal(b.len, 0);
    /* Usable again after free. */
    assert_int_equal(buf_puts(&b, "again"), 0);
    assert_string_equal(b.data, "again");
    buf_free(&b);
}

static void test_buf_max(void **state)
{
    buf b;
    buf_init(&b, 5);
    assert_int_equal(buf_puts(&b, "abc"), 0);
    assert_int_equal(buf_puts(&b, "def"), SL_ETOOBIG);
    assert_string_equal(b.data, "abc"); /* unchanged */
    assert_int_equal(b.len, 3);
    assert_int_equal(buf_puts(&b, "de"), 0); /* exactly max */
    assert_string_equal(b.data, "abcde");
    assert_int_equal(buf_putc(&b, 'x'), SL_ETOOBIG);
    assert_int_equal(buf_printf(&b, "%s", "y"), SL_ETOOBIG);
    assert_int_equal(buf_append(&b, "", 0), 0);
    assert_string_equal(b.data, "abcde");
    assert_true(b.cap <= 6);
    buf_free(&b);

    /* printf beyond the small stack buffer, both fitting and not. */
    buf_init(&b, 1000);
    char s[600];
    memset(s, 'q', sizeof s - 1);
    s[sizeof s - 1] = '\0';
    assert_int_equal(buf_printf(&b, "<%s>", s), 0);
    assert_int_equal(b.len, 601);
    assert_int_equal(buf_printf(&b, "<%s>", s), SL_ETOOBIG);
    assert_int_equal(b.len, 601);
    assert_int_equal(b.data[601], '\0');
    assert_int_equal(b.data[600], '>');
    buf_free(&b);

    /* max 0 accepts nothing. */
    buf_init(&b, 0);
    assert_int_equal(buf_putc(&b, 'a'), SL_ETOOBIG);
    assert_string_equal(b.data, "");
    buf_free(&b);

    /* SIZE_MAX: overflow in the size arithmetic is caught. */
    buf_init(&b, SIZE_MAX);
    assert_int_equal(buf_puts(&b, "ab"), 0);
    assert_int_equal(buf_append(&b, "x", SIZE_MAX - 1), SL_ETOOBIG);
    assert_string_equal(b.data, "ab");
    buf_free(&b);
}

static void test_buf_take(void **state)
{
    buf b;
    buf_init(&b, 100);
    char *empty = buf_take(&b);
    assert_string_equal(empty, "");
    free(empty);
    buf_puts(&b, "owned");
    char *p = buf_take(&b);
    assert_string_equal(p, "owned");
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    free(p);
    buf_puts(&b, "more");
    assert_string_equal(b.data, "more");
    buf_free(&b);
}

static void test_buf_growth(void **state)
{
    buf b;
    buf_init(&b, SIZE_MAX);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(buf_putc(&b, (char)('a' + i % 26)), 0);
    assert_int_equal(b.len, 10000);
    assert_int_equal(strlen(b.data), 10000);
    assert_int_equal(b.data[9999], 'a' + 9999 % 26);
    buf_free(&b);
}

/* ---- arena ---- */

static void test_arena(void **state)
{
    arena a;
    arena_init(&a, 0);
    for (size_t n = 1; n < 3000; n += 37) {
        unsigned char *p = arena_alloc(&a, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(p[i], 0);
        memset(p, 0xab, n);
    }
    unsigned char *big = arena_alloc(&a, 100000);
    assert_non_null(big);
    assert_int_equal((uintptr_t)big % 16, 0);
    for (size_t i = 0; i < 100000; i++)
        assert_int_equal(big[i], 0);
    memset(big, 1, 100000);
    char *s = arena_strdup(&a, "hello");
    assert_string_equal(s, "hello");
    s = arena_strndup(&a, "hello", 2);
    assert_string_equal(s, "he");
    s = arena_printf(&a, "%s=%d", "x", 5);
    assert_string_equal(s, "x=5");
    assert_non_null(arena_alloc(&a, 0));
    arena_free(&a);
    assert_int_equal(a.used_total, 0);
    assert_null(a.head);
    /* Reusable after free. */
    assert_non_null(arena_alloc(&a, 10));
    arena_free(&a);
}

static void test_arena_max(void **state)
{
    arena a;
    arena_init(&a, 1024);
    assert_non_null(arena_alloc(&a, 1000));
    assert_true(a.used_total <= 1024);
    assert_null(arena_alloc(&a, 100));
    assert_non_null(arena_alloc(&a, 16)); /* 1008 + 16 == 1024 still fits */
    assert_null(arena_alloc(&a, 1));
    assert_null(arena_strdup(&a, "x"));
    assert_null(arena_printf(&a, "%d", 1));
    arena_free(&a);

    arena_init(&a, 100);
    assert_null(arena_alloc(&a, 101));
    assert_null(arena_alloc(&a, SIZE_MAX));
    assert_non_null(arena_alloc(&a, 96));
    arena_free(&a);

    arena_init(&a, 0);
    assert_null(arena_alloc(&a, SIZE_MAX));
    arena_free(&a);
}

/* ---- strings ---- */

static void test_strings(void **state)
{
    assert_true(str_eq("a", "a"));
    assert_false(str_eq("a", "b"));
    assert_true(str_eq(NULL, NULL));
    assert_false(str_eq(NULL, ""));
    assert_false(str_eq("", NULL));
    assert_true(str_ieq("Content-Type", "content-TYPE"));
    assert_false(str_ieq("abc", "abd"));
    assert_false(str_ieq("abc", "ab"));
    assert_false(str_ieq(NULL, "a"));
    assert_true(str_ieq(NULL, NULL));
    assert_true(str_starts("hello", "he"));
    assert_true(str_starts("hello", ""));
    assert_false(str_starts("he", "hello"));
    assert_false(str_starts(NULL, "a"));
    assert_true(str_ends("hello", "llo"));
    assert_true(str_ends("hello", "hello"));
    assert_false(str_ends("lo", "hello"));
    assert_false(str_ends("hello", NULL));

    assert_true(mem_ct_eq("abcd", "abcd", 4));
    assert_false(mem_ct_eq("abcd", "abce", 4));
    assert_false(mem_ct_eq("\x80", "\x00", 1));
    assert_true(mem_ct_eq("x", "y", 0));

    char dst[5];
    assert_int_equal(str_copy(dst, "hello world", sizeof dst), 11);
    assert_string_equal(dst, "hell");
    assert_int_equal(str_copy(dst, "hi", sizeof dst), 2);
    assert_string_equal(dst, "hi");
    dst[0] = 'z';
    assert_int_equal(str_copy(dst, "abc", 0), 3);
    assert_int_equal(dst[0], 'z');
    assert_int_equal(str_copy(dst, "abc", 1), 3);
    assert_string_equal(dst, "");
}

/* ---- base64 and hex ---- */

static void test_base64_vectors(void **state)
{
    /* RFC 4648 section 10. */
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = base64_encode(plain[i], strlen(plain[i]));
        assert_string_equal(e, enc[i]);
        free(e);
        char out[16];
        long n = base64_decode(enc[i], strlen(enc[i]), out, sizeof out);
        assert_int_equal(n, (long)strlen(plain[i]));
        assert_memory_equal(out, plain[i], (size_t)n);
    }
    char *e = base64_encode("\xfb\xff\xbf", 3);
    assert_string_equal(e, "+/+/");
    free(e);
}

static void test_base64_roundtrip(void **state)
{
    unsigned char data[300], back[300];
    random_bytes(data, sizeof data);
    for (size_t n = 0; n <= sizeof data; n++) {
        char *e = base64_encode(data, n);
        assert_int_equal(strlen(e), (n + 2) / 3 * 4);
        long m = base64_decode(e, strlen(e), back, sizeof back);
        assert_int_equal(m, (long)n);
        assert_memory_equal(back, data, n);
        free(e);
    }
}

static void test_base64_reject(void **state)
{
    char out[64];
    static const char *bad[] = {
        "Zg",        /* missing padding */
        "Zg=",       /* length not a multiple of 4 */
        "Z===",      /* too much padding */
        "====",
        "Zm9v!A==",  /* bad character */
        "Zm9v\nYmFy",
        "Zm9 ",
        "Zg==Zg==",  /* padding in the middle */
        "Zm=v",      /* data after padding */
        "Zh==",      /* non-zero bits under the padding */
        "Zm9=",
        "Zm-v",      /* URL-safe alphabet is not accepted */
        "Zm_v",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(base64_decode(bad[i], strlen(bad[i]), out, sizeof out), -1);
    /* Embedded NUL. */
    assert_int_equal(base64_decode("Zm\0v", 4, out, sizeof out), -1);
    /* Output overflow. */
    assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 5), -1);
    assert_int_equal(base64_decode("Zm9vYmFy", 8, out, 6), 6);
    assert_int_equal(base64_decode("Zm9vYg==", 8, out, 4), 4);
    assert_int_equal(base64_decode("Zm9vYg==", 8, out, 3), -1);
    assert_int_equal(base64_decode("", 0, out, 0), 0);
}

static void test_hex(void **state)
{
    char out[9];
    hex_encode("\x00\x01\xab\xff", 4, out);
    assert_string_equal(out, "0001abff");
    hex_encode("", 0, out);
    assert_string_equal(out, "");
}

/* ---- SHA-256 and HMAC ---- */

static void check_sha(const void *data, size_t n, const char *want)
{
    uint8_t d[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];
    sha256(data, n, d);
    hex_of(d, sizeof d, hex);
    assert_string_equal(hex, want);
}

static void test_sha256(void **state)
{
    check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    check_sha(m448, strlen(m448), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    size_t mil = 1000000;
    char *a = xmalloc(mil);
    memset(a, 'a', mil);
    check_sha(a, mil, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

/* Lengths around the 55/56/64-byte padding boundaries must all differ and be stable. */
static void test_sha256_padding_boundaries(void **state)
{
    unsigned char msg[130];
    memset(msg, 'x', sizeof msg);
    uint8_t prev[SHA256_LEN] = {0}, d[SHA256_LEN], again[SHA256_LEN];
    for (size_t n = 50; n < sizeof msg; n++) {
        sha256(msg, n, d);
        sha256(msg, n, again);
        assert_memory_equal(d, again, SHA256_LEN);
        assert_memory_not_equal(d, prev, SHA256_LEN);
        memcpy(prev, d, SHA256_LEN);
    }
    /* 64 'a's, a full-block message (checked with an independent implementation). */
    memset(msg, 'a', 64);
    char hex[65];
    sha256(msg, 64, d);
    hex_of(d, SHA256_LEN, hex);
    assert_string_equal(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

static void check_hmac(const void *key, size_t kl, const void *data, size_t n, const char *want)
{
    uint8_t d[SHA256_LEN];
    char hex[2 * SHA256_LEN + 1];
    hmac_sha256(key, kl, data, n, d);
    hex_of(d, sizeof d, hex);
    assert_string_equal(hex, want);
}

static void test_hmac_sha256(void **state)
{
    unsigned char key[131];
    /* RFC 4231 test case 1. */
    memset(key, 0x0b, 20);
    check_hmac(key, 20, "Hi There", 8,
               "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    /* Test case 2. */
    const char *d2 = "what do ya want for nothing?";
    check_hmac("Jefe", 4, d2, strlen(d2),
               "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* Test case 6: key longer than the block size. */
    memset(key, 0xaa, 131);
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    check_hmac(key, 131, d6, strlen(d6),
               "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* ---- randomness ---- */

static void test_random_uuid(void **state)
{
    unsigned char a[32] = {0}, b[32] = {0}, zero[32] = {0};
    random_bytes(a, sizeof a);
    random_bytes(b, sizeof b);
    assert_memory_not_equal(a, zero, sizeof a);
    assert_memory_not_equal(a, b, sizeof a);
    random_bytes(a, 0);

    char u1[37], u2[37];
    uuid_v4(u1);
    uuid_v4(u2);
    assert_string_not_equal(u1, u2);
    assert_int_equal(strlen(u1), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(u1[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", u1[i]));
    }
    assert_int_equal(u1[14], '4');
    assert_non_null(strchr("89ab", u1[19]));
}

/* ---- time ---- */

static void check_iso(int64_t ms, const char *want)
{
    char out[25];
    memset(out, 'X', sizeof out);
    time_iso8601(ms, out);
    assert_string_equal(out, want);
}

static void test_time(void **state)
{
    check_iso(0, "1970-01-01T00:00:00.000Z");
    check_iso(1700000000123, "2023-11-14T22:13:20.123Z");
    check_iso(-1, "1969-12-31T23:59:59.999Z");
    check_iso(951782400000, "2000-02-29T00:00:00.000Z");
    check_iso(4102444800000, "2100-01-01T00:00:00.000Z");
    check_iso(-62135596800000, "0001-01-01T00:00:00.000Z");
    check_iso(253402300799999, "9999-12-31T23:59:59.999Z");
    check_iso(INT64_MAX, "9999-12-31T23:59:59.999Z"); /* clamped */
    check_iso(INT64_MIN, "0000-01-01T00:00:00.000Z");

    int64_t now = now_ms();
    assert_true(now > 1600000000000LL);
    int64_t m1 = mono_ms(), u1 = mono_us();
    usleep(2000);
    int64_t m2 = mono_ms(), u2 = mono_us();
    assert_true(m2 >= m1);
    assert_true(u2 - u1 >= 2000);
}

/* ---- files ---- */

static char tmpdir[64];

static int files_setup(void **state)
{
    strcpy(tmpdir, "/tmp/sluice_util_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int files_teardown(void **state)
{
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

static void test_file_read(void **state)
{
    char *path = xasprintf("%s/f.txt", tmpdir);
    write_file(path, "hello\0world", 11);
    char *data;
    size_t len;
    sl_error err;
    assert_int_equal(file_read(path, 100, &data, &len, &err), 0);
    assert_int_equal(len, 11);
    assert_memory_equal(data, "hello\0world", 11);
    assert_int_equal(data[11], '\0');
    free(data);

    assert_int_equal(file_read(path, 11, &data, &len, &err), 0);
    free(data);
    assert_int_equal(file_read(path, 10, &data, &len, &err), SL_ETOOBIG);
    assert_null(data);
    assert_int_equal(err.code, SL_ETOOBIG);

    write_file(path, "", 0);
    assert_int_equal(file_read(path, 0, &data, &len, &err), 0);
    assert_int_equal(len, 0);
    assert_string_equal(data, "");
    free(data);

    char *missing = xasprintf("%s/nope", tmpdir);
    assert_int_not_equal(file_read(missing, 100, &data, &len, &err), 0);
    assert_string_equal(err.where, missing);
    free(missing);
    assert_int_not_equal(file_read(tmpdir, 100, &data, &len, &err), 0);

    /* A larger file, through the growth path with an unknown size (a pipe-like /proc file
     * would do too; a regular file is enough to cross several reads). */
    size_t big = 200000;
    char *content = xmalloc(big);
    for (size_t i = 0; i < big; i++)
        content[i] = (char)('a' + i % 26);
    write_file(path, content, big);
    assert_int_equal(file_read(path, SIZE_MAX, &data, &len, &err), 0);
    assert_int_equal(len, big);
    assert_memory_equal(data, content, big);
    free(data);
    free(content);
    free(path);

    /* Non-regular file: size unknown up front. */
    assert_int_equal(file_read("/proc/self/status", 1 << 20, &data, &len, &err), 0);
    assert_true(len > 0);
    assert_int_equal(strlen(data), len);
    free(data);
    assert_int_equal(file_read("/proc/self/status", 10, &data, &len, &err), SL_ETOOBIG);
}

static void test_mkdir_p(void **state)
{
    sl_error err;
    char *deep = xasprintf("%s/a/b//c/", tmpdir);
    assert_int_equal(mkdir_p(deep, &err), 0);
    struct stat st;
    char *c = xasprintf("%s/a/b/c", tmpdir);
    assert_int_equal(stat(c, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(mkdir_p(c, &err), 0); /* already there */
    char *file = xasprintf("%s/a/file", tmpdir);
    write_file(file, "x", 1);
    char *under = xasprintf("%s/a/file/sub", tmpdir);
    assert_int_equal(mkdir_p(under, &err), SL_EIO);
    assert_int_equal(mkdir_p(file, &err), SL_EIO);
    assert_int_not_equal(mkdir_p("", &err), 0);
    free(deep);
    free(c);
    free(file);
    free(under);
}

/* ---- problems and pointers ---- */

static void test_problems(void **state)
{
    sl_problems p;
    problems_init(&p);
    assert_int_equal(p.max, 1000);
    assert_int_equal(p.n, 0);
    problems_add(&p, "a.json", "/x", "bad %s", "value");
    problems_add(&p, NULL, NULL, "whole %d", 2);
    assert_int_equal(p.n, 2);
    assert_string_equal(p.items[0].file, "a.json");
    assert_string_equal(p.items[0].pointer, "/x");
    assert_string_equal(p.items[0].message, "bad value");
    assert_string_equal(p.items[1].file, "");
    assert_string_equal(p.items[1].pointer, "");
    assert_string_equal(p.items[1].message, "whole 2");
    problems_free(&p);
    assert_int_equal(p.n, 0);

    problems_init(&p);
    for (int i = 0; i < 1005; i++)
        problems_add(&p, "f", "", "n%d", i);
    assert_int_equal(p.n, 1000);
    assert_int_equal(p.dropped, 5);
    assert_string_equal(p.items[999].message, "n999");
    problems_free(&p);

    /* Copies are independent of the caller's strings. */
    problems_init(&p);
    char file[8] = "f1", ptr[8] = "/p";
    problems_add(&p, file, ptr, "m");
    file[0] = ptr[1] = 'Z';
    assert_string_equal(p.items[0].file, "f1");
    assert_string_equal(p.items[0].pointer, "/p");
    problems_free(&p);
}

static void test_pointer_join(void **state)
{
    char *p = pointer_join("", "a");
    assert_string_equal(p, "/a");
    free(p);
    p = pointer_join("/x", "a/b~c");
    assert_string_equal(p, "/x/a~1b~0c");
    free(p);
    p = pointer_join("/x", "~1");
    assert_string_equal(p, "/x/~01");
    free(p);
    p = pointer_join("/x", "");
    assert_string_equal(p, "/x/");
    free(p);
    p = pointer_join(NULL, "k");
    assert_string_equal(p, "/k");
    free(p);
    p = pointer_join_index("/items", 12);
    assert_string_equal(p, "/items/12");
    free(p);
    p = pointer_join_index("", 0);
    assert_string_equal(p, "/0");
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sl_fail),
        cmocka_unit_test(test_alloc),
        cmocka_unit_test(test_buf_basic),
        cmocka_unit_test(test_buf_max),
        cmocka_unit_test(test_buf_take),
        cmocka_unit_test(test_buf_growth),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_arena_max),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_base64_vectors),
        cmocka_unit_test(test_base64_roundtrip),
        cmocka_unit_test(test_base64_reject),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_sha256_padding_boundaries),
        cmocka_unit_test(test_hmac_sha256),
        cmocka_unit_test(test_random_uuid),
        cmocka_unit_test(test_time),
        cmocka_unit_test_setup_teardown(test_file_read, files_setup, files_teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_p, files_setup, files_teardown),
        cmocka_unit_test(test_problems),
        cmocka_unit_test(test_pointer_join),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
