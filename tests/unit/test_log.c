/* Unit tests for core/log: every call writes exactly one line of valid JSON (parsed back with
 * jv_parse), raw '#' values, escaping of hostile input, safe truncation at 16 KiB, level
 * filtering and concurrent writers. Output is captured through a pipe set with log_set_fd. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/json.h"
#include "core/log.h"

static int pipe_fds[2];

static int setup(void **state)
{
    if (pipe(pipe_fds) != 0)
        return -1;
    fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    fcntl(pipe_fds[0], F_SETPIPE_SZ, 1 << 20);
    log_set_fd(pipe_fds[1]);
    log_set_level(LOG_DEBUG);
    return 0;
}

static int teardown(void **state)
{
    log_set_fd(2);
    log_set_level(LOG_INFO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return 0;
}

/* Everything written so far (malloc'd, NUL-terminated). */
static char *drain(size_t *len)
{
    buf b;
    buf_init(&b, SIZE_MAX);
    char tmp[4096];
    ssize_t n;
    while ((n = read(pipe_fds[0], tmp, sizeof tmp)) > 0)
        buf_append(&b, tmp, (size_t)n);
    if (len)
        *len = b.len;
    return buf_take(&b);
}

/* Reads exactly one line, checks it is valid JSON and returns the parsed object. */
static jv *one_line(void)
{
    size_t len;
    char *text = drain(&len);
    assert_true(len > 0);
    assert_int_equal(text[len - 1], '\n');
    assert_null(memchr(text, '\n', len - 1));
    assert_true(len <= 16384);
    sl_error err;
    jv *v = jv_parse(text, len - 1, &err);
    if (!v)
        fail_msg("invalid JSON line (%s at %s): %s", err.msg, err.where, text);
    assert_true(jv_is_object(v));
    free(text);
    return v;
}

static void test_basic_line(void **state)
{
    int64_t before = now_ms();
    log_info("http", "request", "path", "/a/b", "#status", "200", "method", "GET", NULL);
    jv *v = one_line();
    assert_string_equal(jv_get_str(v, "lvl"), "info");
    assert_string_equal(jv_get_str(v, "comp"), "http");
    assert_string_equal(jv_get_str(v, "msg"), "request");
    assert_string_equal(jv_get_str(v, "path"), "/a/b");
    assert_int_equal(jv_typeof(jv_get(v, "status")), JV_INT);
    assert_int_equal(jv_int(jv_get(v, "status")), 200);
    assert_null(jv_get(v, "#status"));
    assert_string_equal(jv_get_str(v, "method"), "GET");
    assert_null(jv_get(v, "truncated"));

    /* ts: yyyy-MM-ddTHH:mm:ss.SSSZ, close to now. */
    const char *ts = jv_get_str(v, "ts");
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24);
    char lo[25], hi[25];
    time_iso8601(before, lo);
    time_iso8601(now_ms(), hi);
    assert_true(strcmp(ts, lo) >= 0 && strcmp(ts, hi) <= 0);

    /* Member order: ts, lvl, comp, msg, then the fields. */
    const char *want[] = {"ts", "lvl", "comp", "msg", "path", "status", "method"};
    size_t k = 0;
    for (void *it = jv_obj_iter(v); it; it = jv_obj_next(v, it), k++)
        assert_string_equal(jv_obj_key(it), want[k]);
    assert_int_equal(k, 7);
    jv_free(v);

    /* No fields at all. */
    log_emit(LOG_ERROR, "db", "down", NULL);
    v = one_line();
    assert_string_equal(jv_get_str(v, "lvl"), "error");
    assert_int_equal(jv_obj_size(v), 4);
    jv_free(v);
}

static void test_one_line_per_call(void **state)
{
    for (int i = 0; i < 50; i++)
        log_warn("c", "m", "i", "x", NULL);
    size_t len;
    char *text = drain(&len);
    size_t lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 50);
    free(text);
}

static void test_raw_values(void **state)
{
    log_info("c", "m", "#obj", "{\"a\": [1, 2.5, \"x\"], \"b\": null}", "#t", "true", "#neg",
             "-1.5e3", "#arr", " [ ] ", "#pretty", "{\n  \"k\": 1\r\n}", NULL);
    jv *v = one_line();
    jv *want = jv_parse("{\"a\":[1,2.5,\"x\"],\"b\":null}", 26, NULL);
    assert_non_null(want);
    assert_true(jv_equal(jv_get(v, "obj"), want));
    jv_free(want);
    assert_true(jv_bool(jv_get(v, "t")));
    assert_true(jv_num(jv_get(v, "neg")) == -1500.0);
    assert_true(jv_is_array(jv_get(v, "arr")));
    assert_int_equal(jv_int(jv_get(jv_get(v, "pretty"), "k")), 1);
    jv_free(v);

    /* Invalid raw JSON is logged as a string, so the line stays valid. */
    log_info("c", "m", "#bad", "{\"a\":", "#empty", "", "#two", "1 2", "#lead0", "01",
             "#ctrl", "\"a\tb\"", "#badutf", "\"\xff\"", NULL);
    v = one_line();
    assert_string_equal(jv_get_str(v, "bad"), "{\"a\":");
    assert_string_equal(jv_get_str(v, "empty"), "");
    assert_string_equal(jv_get_str(v, "two"), "1 2");
    assert_string_equal(jv_get_str(v, "lead0"), "01");
    assert_non_null(jv_get_str(v, "ctrl"));
    assert_non_null(jv_get_str(v, "badutf"));
    jv_free(v);

    /* Too deep for the validator: logged as a string. */
    char deep[301];
    memset(deep, '[', 150);
    memset(deep + 150, ']', 150);
    deep[300] = '\0';
    log_info("c", "m", "#deep", deep, NULL);
    v = one_line();
    assert_true(jv_is_string(jv_get(v, "deep")));
    jv_free(v);
}

static void test_escaping(void **state)
{
    log_info("c\"omp", "line1\nline2\t\"q\" \\ \x01", "k\n", "v\r\x1f", "utf", "\xc3\xa9\xf0\x9f\x98\x80",
             "bad", "a\xff" "b\xc3(\xed\xa0\x80z", "nullv", NULL, "after", "x", NULL);
    jv *v = one_line();
    assert_string_equal(jv_get_str(v, "comp"), "c\"omp");
    assert_string_equal(jv_get_str(v, "msg"), "line1\nline2\t\"q\" \\ \x01");
    assert_string_equal(jv_get_str(v, "k\n"), "v\r\x1f");
    assert_string_equal(jv_get_str(v, "utf"), "\xc3\xa9\xf0\x9f\x98\x80");
    /* Each invalid byte becomes U+FFFD. */
    assert_string_equal(jv_get_str(v, "bad"),
                        "a\xef\xbf\xbd" "b\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
    assert_true(jv_is_null(jv_get(v, "nullv")));
    assert_non_null(jv_get(v, "nullv"));
    assert_string_equal(jv_get_str(v, "after"), "x");
    jv_free(v);

    log_info(NULL, NULL, NULL);
    v = one_line();
    assert_string_equal(jv_get_str(v, "comp"), "");
    assert_string_equal(jv_get_str(v, "msg"), "");
    jv_free(v);
}

static void test_truncation(void **state)
{
    /* A huge plain value. */
    size_t n = 40000;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    log_info("c", "m", "a", "1", "big", big, "later", "never", NULL);
    jv *v = one_line();
    assert_true(jv_bool(jv_get(v, "truncated")));
    assert_string_equal(jv_get_str(v, "a"), "1");
    assert_true(jv_str_len(jv_get(v, "big")) > 15000);
    assert_null(jv_get(v, "later"));
    jv_free(v);

    /* Multi-byte characters and escapes are never split. */
    for (size_t shift = 0; shift < 6; shift++) {
        for (size_t i = 0; i + 2 <= n; i += 2)
            memcpy(big + i, "\xc3\xa9", 2);
        for (size_t i = 0; i < shift; i++)
            big[i] = '\n';
        log_info("c", "m", "u", big, NULL);
        v = one_line();
        assert_true(jv_bool(jv_get(v, "truncated")));
        const char *u = jv_get_str(v, "u");
        assert_non_null(u);
        jv_free(v);
    }
    memset(big, '"', n);
    log_info("c", "m", "q", big, NULL);
    v = one_line();
    assert_true(jv_bool(jv_get(v, "truncated")));
    jv_free(v);

    /* A huge message. */
    memset(big, 'm', n);
    log_info("c", big, "k", "v", NULL);
    v = one_line();
    assert_true(jv_bool(jv_get(v, "truncated")));
    assert_null(jv_get(v, "k"));
    jv_free(v);

    /* A raw value that does not fit is dropped whole, not cut. */
    big[0] = '"';
    memset(big + 1, 'r', n - 2);
    big[n - 1] = '"';
    log_info("c", "m", "small", "s", "#raw", big, NULL);
    v = one_line();
    assert_true(jv_bool(jv_get(v, "truncated")));
    assert_null(jv_get(v, "raw"));
    assert_string_equal(jv_get_str(v, "small"), "s");
    jv_free(v);

    /* A huge key is dropped whole. */
    big[n - 1] = 'k';
    big[0] = 'k';
    log_info("c", "m", big, "v", NULL);
    v = one_line();
    assert_true(jv_bool(jv_get(v, "truncated")));
    assert_int_equal(jv_obj_size(v), 5);
    jv_free(v);

    /* Many fields that together pass the limit. */
    char val[200];
    memset(val, 'v', sizeof val - 1);
    val[sizeof val - 1] = '\0';
    for (int fill = 0; fill < 300; fill += 37) {
        char pad[400];
        memset(pad, 'p', (size_t)fill);
        pad[fill] = '\0';
        log_info("c", pad, "k1", val, "k2", val, "k3", val, "k4", val, "k5", val, "k6", val, "k7",
                 val, "k8", val, "k9", val, "k10", val, "k11", val, "k12", val, "k13", val, "k14",
                 val, "k15", val, "k16", val, "k17", val, "k18", val, "k19", val, "k20", val, "k21",
                 val, "k22", val, "k23", val, "k24", val, "k25", val, "k26", val, "k27", val, "k28",
                 val, "k29", val, "k30", val, "k31", val, "k32", val, "k33", val, "k34", val, "k35",
                 val, "k36", val, "k37", val, "k38", val, "k39", val, "k40", val, "k41", val, "k42",
                 val, "k43", val, "k44", val, "k45", val, "k46", val, "k47", val, "k48", val, "k49",
                 val, "k50", val, "k51", val, "k52", val, "k53", val, "k54", val, "k55", val, "k56",
                 val, "k57", val, "k58", val, "k59", val, "k60", val, "k61", val, "k62", val, "k63",
                 val, "k64", val, "k65", val, "k66", val, "k67", val, "k68", val, "k69", val, "k70",
                 val, "k71", val, "k72", val, "k73", val, "k74", val, "k75", val, "k76", val, "k77",
                 val, "k78", val, "k79", val, "k80", val, "k81", val, "k82", val, "k83", val, "k84",
                 val, "k85", val, "k86", val, "k87", val, "k88", val, "k89", val, NULL);
        v = one_line();
        assert_true(jv_bool(jv_get(v, "truncated")));
        jv_free(v);
    }
    free(big);
}

static void test_exact_fit_boundaries(void **state)
{
    /* Sweep value sizes across the 16 KiB boundary: every line must stay valid. */
    size_t n = 16500;
    char *big = malloc(n + 1);
    for (size_t len = 16250; len < n; len += 3) {
        memset(big, 'z', len);
        big[len] = '\0';
        log_info("c", "m", "v", big, "#r", "1", NULL);
        jv *v = one_line();
        jv_free(v);
    }
    free(big);
}

static void test_levels(void **state)
{
    log_set_level(LOG_WARN);
    assert_int_equal(log_get_level(), LOG_WARN);
    log_debug("c", "no", NULL);
    log_info("c", "no", NULL);
    log_emit(LOG_INFO, "c", "no", NULL);
    size_t len;
    char *text = drain(&len);
    assert_int_equal(len, 0);
    free(text);
    log_warn("c", "yes", NULL);
    jv *v = one_line();
    assert_string_equal(jv_get_str(v, "lvl"), "warn");
    jv_free(v);
    log_error("c", "yes", NULL);
    v = one_line();
    assert_string_equal(jv_get_str(v, "lvl"), "error");
    jv_free(v);

    log_set_level(LOG_OFF);
    log_error("c", "no", NULL);
    log_emit(LOG_OFF, "c", "no", NULL);
    log_emit(17, "c", "no", NULL);
    text = drain(&len);
    assert_int_equal(len, 0);
    free(text);

    log_set_level(LOG_DEBUG);
    log_debug("c", "yes", NULL);
    v = one_line();
    assert_string_equal(jv_get_str(v, "lvl"), "debug");
    jv_free(v);
    log_emit(-1, "c", "no", NULL);
    text = drain(&len);
    assert_int_equal(len, 0);
    free(text);

    assert_int_equal(log_level_parse("debug"), LOG_DEBUG);
    assert_int_equal(log_level_parse("info"), LOG_INFO);
    assert_int_equal(log_level_parse("warn"), LOG_WARN);
    assert_int_equal(log_level_parse("error"), LOG_ERROR);
    assert_int_equal(log_level_parse("off"), LOG_OFF);
    assert_int_equal(log_level_parse("INFO"), LOG_INFO);
    assert_int_equal(log_level_parse("warning"), LOG_WARN);
    assert_int_equal(log_level_parse("verbose"), -1);
    assert_int_equal(log_level_parse(""), -1);
    assert_int_equal(log_level_parse(NULL), -1);
}

#define THREADS 8
#define PER_THREAD 200

static void *writer(void *arg)
{
    char id[16], val[600];
    snprintf(id, sizeof id, "%d", (int)(intptr_t)arg);
    memset(val, 'a' + (int)(intptr_t)arg, sizeof val - 1);
    val[sizeof val - 1] = '\0';
    for (int i = 0; i < PER_THREAD; i++)
        log_info("t", "line", "#id", id, "v", val, NULL);
    return NULL;
}

static void test_threads(void **state)
{
    char path[] = "/tmp/sluice_log_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    log_set_fd(fd);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    log_set_fd(pipe_fds[1]);

    off_t size = lseek(fd, 0, SEEK_END);
    char *text = malloc((size_t)size + 1);
    assert_int_equal(pread(fd, text, (size_t)size, 0), size);
    text[size] = '\0';
    close(fd);
    int counts[THREADS] = {0};
    size_t lines = 0;
    for (char *line = text, *nl; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        jv *v = jv_parse(line, (size_t)(nl - line), NULL);
        assert_non_null(v);
        int id = (int)jv_int(jv_get(v, "id"));
        assert_true(id >= 0 && id < THREADS);
        const char *s = jv_get_str(v, "v");
        assert_int_equal(strlen(s), 599);
        assert_int_equal(s[0], 'a' + id);
        assert_int_equal(s[598], 'a' + id);
        counts[id]++;
        lines++;
        jv_free(v);
    }
    assert_int_equal(lines, THREADS * PER_THREAD);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(counts[i], PER_THREAD);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_line),
        cmocka_unit_test(test_one_line_per_call),
        cmocka_unit_test(test_raw_values),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_exact_fit_boundaries),
        cmocka_unit_test(test_levels),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
