/* Unit tests for core/json: strict parsing and error locations, our serializer (escaping,
 * shortest doubles, insertion order, size limit), the builder API, ownership rules, deep
 * equality and NULL safety. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

static jv *parse(const char *s)
{
    sl_error err;
    jv *v = jv_parse(s, strlen(s), &err);
    if (!v)
        fail_msg("parse of %s failed: %s at %s", s, err.msg, err.where);
    return v;
}

/* Parses s, dumps it and compares with want. */
static void check_roundtrip(const char *s, const char *want)
{
    jv *v = parse(s);
    char *out = jv_dumps(v);
    assert_string_equal(out, want);
    free(out);
    jv_free(v);
}

static void check_reject(const char *s, size_t n)
{
    sl_error err;
    memset(&err, 0, sizeof err);
    jv *v = jv_parse(s, n, &err);
    if (v) {
        char *d = jv_dumps(v);
        fail_msg("accepted invalid JSON, got %s", d);
    }
    assert_int_equal(err.code, SL_EINVAL);
    assert_true(strncmp(err.where, "line ", 5) == 0);
    assert_non_null(strstr(err.where, " col "));
    assert_true(err.msg[0] != '\0');
}

/* ---- parsing ---- */

static void test_parse_types(void **state)
{
    jv *v = parse("{\"s\":\"x\",\"i\":-42,\"r\":2.5,\"t\":true,\"f\":false,\"n\":null,"
                  "\"a\":[1,2,3],\"o\":{}}");
    assert_true(jv_is_object(v));
    assert_int_equal(jv_obj_size(v), 8);
    assert_int_equal(jv_typeof(jv_get(v, "s")), JV_STRING);
    assert_string_equal(jv_get_str(v, "s"), "x");
    assert_int_equal(jv_typeof(jv_get(v, "i")), JV_INT);
    assert_int_equal(jv_int(jv_get(v, "i")), -42);
    assert_int_equal(jv_typeof(jv_get(v, "r")), JV_REAL);
    assert_true(jv_num(jv_get(v, "r")) == 2.5);
    assert_int_equal(jv_typeof(jv_get(v, "t")), JV_BOOL);
    assert_true(jv_bool(jv_get(v, "t")));
    assert_false(jv_bool(jv_get(v, "f")));
    assert_true(jv_is_null(jv_get(v, "n")));
    assert_non_null(jv_get(v, "n"));
    assert_true(jv_is_array(jv_get(v, "a")));
    assert_int_equal(jv_len(jv_get(v, "a")), 3);
    assert_int_equal(jv_int(jv_at(jv_get(v, "a"), 2)), 3);
    assert_null(jv_at(jv_get(v, "a"), 3));
    assert_true(jv_is_object(jv_get(v, "o")));
    assert_null(jv_get(v, "missing"));
    assert_null(jv_get_str(v, "i"));
    assert_true(jv_is_number(jv_get(v, "i")));
    assert_true(jv_is_number(jv_get(v, "r")));
    assert_false(jv_is_number(jv_get(v, "s")));
    assert_true(jv_is_bool(jv_get(v, "f")));
    jv_free(v);

    /* Any value may be the top level (RFC 8259). */
    v = parse(" 42 ");
    assert_int_equal(jv_int(v), 42);
    jv_free(v);
    v = parse("\"str\"");
    assert_string_equal(jv_str(v), "str");
    jv_free(v);

    /* Duplicate keys are an error, never a silent "last one wins". */
    {
        sl_error derr = {0};
        assert_null(jv_parse("{\"a\":1,\"a\":2}", 13, &derr));
        assert_int_equal(derr.code, SL_EINVAL);
    }

    /* Escapes and UTF-8 (including a surrogate pair) decode. */
    v = parse("\"\\u00e9\\ud83d\\ude00\\n\\/\xc3\xa9\"");
    assert_string_equal(jv_str(v), "\xc3\xa9\xf0\x9f\x98\x80\n/\xc3\xa9");
    jv_free(v);
}

static void test_parse_int_limits(void **state)
{
    jv *v = parse("[9223372036854775807,-9223372036854775808,123456789012345678]");
    assert_int_equal(jv_typeof(jv_at(v, 0)), JV_INT);
    assert_true(jv_int(jv_at(v, 0)) == INT64_MAX);
    assert_true(jv_int(jv_at(v, 1)) == INT64_MIN);
    assert_true(jv_int(jv_at(v, 2)) == 123456789012345678LL);
    char *s = jv_dumps(v);
    assert_string_equal(s, "[9223372036854775807,-9223372036854775808,123456789012345678]");
    free(s);
    jv_free(v);

    check_reject("9223372036854775808", 19);
    check_reject("[-9223372036854775809]", 22);
    check_reject("{\"a\":99999999999999999999999}", 29);
}

static void test_parse_strict(void **state)
{
    static const char *bad[] = {
        "[1,2,]",          /* trailing comma in an array */
        "{\"a\":1,}",      /* trailing comma in an object */
        "[01]",            /* leading zero */
        "-01",
        "[1] x",           /* trailing garbage */
        "{} {}",
        "[1]]",
        "",                /* empty input */
        "   ",
        "[1,2",            /* unterminated */
        "{\"a\" 1}",
        "{a:1}",           /* unquoted key */
        "['a']",           /* single quotes */
        "[.5]",
        "[1.]",
        "[1e]",
        "[+1]",
        "[NaN]",
        "[Infinity]",
        "[tru]",
        "\"\\x\"",         /* bad escape */
        "\"a\tb\"",        /* raw control character in a string */
        "\"\\ud800\"",     /* lone surrogate */
        "// c\n1",         /* comments */
        "[1e999]",         /* real overflow */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        check_reject(bad[i], strlen(bad[i]));

    /* Invalid UTF-8 bytes. */
    check_reject("\"\xff\"", 3);
    check_reject("\"\xc3\"", 3);          /* truncated sequence */
    check_reject("\"\xc0\xaf\"", 4);      /* overlong */
    check_reject("\"\xed\xa0\x80\"", 5);  /* encoded surrogate */
    check_reject("{\"\xfe\":1}", 7);       /* in a key */
    /* A raw NUL byte is not JSON. */
    check_reject("[1]\0", 4);
    check_reject("\"a\0b\"", 5);
    /* NULL text. */
    sl_error err;
    assert_null(jv_parse(NULL, 5, &err));
    assert_null(jv_parse(NULL, 0, &err));
    /* err may be NULL. */
    assert_null(jv_parse("[", 1, NULL));
}

static void test_parse_depth(void **state)
{
    size_t n = 5000;
    char *s = malloc(2 * n);
    memset(s, '[', n);
    memset(s + n, ']', n);
    check_reject(s, 2 * n);
    free(s);
    /* Modest nesting is fine. */
    n = 100;
    s = malloc(2 * n + 1);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    check_roundtrip(s, s);
    free(s);
}

static void test_parse_error_location(void **state)
{
    sl_error err;
    const char *s = "{\n  \"a\": 1,\n  \"b\": [1, 2,,]\n}";
    assert_null(jv_parse(s, strlen(s), &err));
    assert_int_equal(err.code, SL_EINVAL);
    assert_true(strncmp(err.where, "line 3 col ", 11) == 0);
    int line = 0, col = 0;
    assert_int_equal(sscanf(err.where, "line %d col %d", &line, &col), 2);
    assert_int_equal(line, 3);
    assert_true(col >= 12 && col <= 14);

    s = "[1, 2] garbage";
    assert_null(jv_parse(s, strlen(s), &err));
    assert_int_equal(sscanf(err.where, "line %d col %d", &line, &col), 2);
    assert_int_equal(line, 1);
    assert_true(col >= 7);
    assert_non_null(strstr(err.msg, "end of file expected"));
}

static void test_nul_in_strings(void **state)
{
    jv *v = parse("{\"k\":\"a\\u0000b\"}");
    jv *s = jv_get(v, "k");
    assert_int_equal(jv_str_len(s), 3);
    assert_memory_equal(jv_str(s), "a\0b", 3);
    char *out = jv_dumps(v);
    assert_string_equal(out, "{\"k\":\"a\\u0000b\"}");
    jv *back = parse(out);
    assert_true(jv_equal(v, back));
    assert_int_equal(jv_str_len(jv_get(back, "k")), 3);
    free(out);
    jv_free(back);
    jv_free(v);

    jv *n = jv_new_strn("x\0y", 3);
    assert_non_null(n);
    assert_int_equal(jv_str_len(n), 3);
    out = jv_dumps(n);
    assert_string_equal(out, "\"x\\u0000y\"");
    free(out);
    jv_free(n);
}

/* ---- serialising ---- */

static void check_double(double d, const char *want)
{
    char out[32];
    jv_format_double(d, out);
    assert_string_equal(out, want);
}

static void test_format_double(void **state)
{
    check_double(0.1, "0.1");
    check_double(350.66, "350.66");
    check_double(1e300, "1e300");
    check_double(5e-324, "5e-324");
    check_double(-5e-324, "-5e-324");
    check_double(1.0, "1");
    check_double(-2.0, "-2");
    check_double(0.0, "0");
    check_double(2.5, "2.5");
    check_double(1e-7, "1e-7");
    check_double(1.5e-5, "1.5e-5");
    check_double(0.1 + 0.2, "0.30000000000000004");
    check_double(1.0 / 3.0, "0.3333333333333333");
    check_double(9007199254740992.0, "9007199254740992");   /* 2^53 */
    check_double(-9007199254740992.0, "-9007199254740992");
    check_double(1e16 + 2, "10000000000000002");             /* beyond 2^53: shortest %g form */
    check_double(1e17, "1e17");
    check_double(-1e22, "-1e22");
    check_double(1.7976931348623157e308, "1.7976931348623157e308");
    check_double(2.2250738585072014e-308, "2.2250738585072014e-308");
    check_double(123456.789, "123456.789");
    check_double(NAN, "null");
    check_double(INFINITY, "null");
    check_double(-INFINITY, "null");
}

static void test_format_double_roundtrip(void **state)
{
    /* Random bit patterns: every finite value must read back exactly. */
    for (int i = 0; i < 20000; i++) {
        uint64_t bits;
        random_bytes(&bits, sizeof bits);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d))
            continue;
        char out[32];
        jv_format_double(d, out);
        assert_true(strlen(out) < 32);
        if (strtod(out, NULL) != d)
            fail_msg("%s does not read back as %.17g", out, d);
        /* And it is valid JSON that parses to the same number. */
        jv *v = parse(out);
        assert_true(jv_num(v) == d || (d == 0 && jv_num(v) == 0));
        jv_free(v);
    }
}

static void test_dump_numbers(void **state)
{
    check_roundtrip("[0.1,350.66,1e300,5e-324,123456789012345678,-0.5,1E2,1.0,-0]",
                    "[0.1,350.66,1e300,5e-324,123456789012345678,-0.5,100,1,0]");
    jv *a = jv_new_array();
    jv_push_take(a, jv_new_real(0.1));
    jv_push_take(a, jv_new_real(NAN));
    jv_push_take(a, jv_new_real(INFINITY));
    jv_push_take(a, jv_new_int(INT64_MIN));
    char *s = jv_dumps(a);
    assert_string_equal(s, "[0.1,null,null,-9223372036854775808]");
    free(s);
    jv_free(a);
}

static void test_dump_strings(void **state)
{
    check_roundtrip("\"q\\\"b\\\\s\\/\\b\\f\\n\\r\\t\\u0001\\u001f\\u007f\"",
                    "\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
    /* UTF-8 stays as is. */
    check_roundtrip("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    check_roundtrip("\"\\u2028\"", "\"\xe2\x80\xa8\"");

    buf b;
    buf_init(&b, 100);
    assert_int_equal(jv_escape(&b, "a\"\n\x02z", 5), 0);
    assert_string_equal(b.data, "\"a\\\"\\n\\u0002z\"");
    buf_reset(&b);
    assert_int_equal(jv_escape(&b, "", 0), 0);
    assert_string_equal(b.data, "\"\"");
    buf_free(&b);

    /* jv_escape that does not fit leaves the buffer unchanged. */
    buf_init(&b, 8);
    buf_puts(&b, "ab");
    assert_int_equal(jv_escape(&b, "\n\n\n", 3), SL_ETOOBIG);
    assert_string_equal(b.data, "ab");
    assert_int_equal(jv_escape(&b, "xyz", 3), 0);
    assert_string_equal(b.data, "ab\"xyz\"");
    buf_free(&b);
}

static void test_dump_order_and_compact(void **state)
{
    check_roundtrip(" { \"b\" : 1 , \"a\" : [ true , false , null ] , \"c\" : { } , \"d\" : [ ] } ",
                    "{\"b\":1,\"a\":[true,false,null],\"c\":{},\"d\":[]}");
    jv *o = jv_new_object();
    jv_set_int(o, "z", 1);
    jv_set_int(o, "y", 2);
    jv_set_int(o, "x", 3);
    jv_set_int(o, "y", 20); /* replacing keeps the position */
    char *s = jv_dumps(o);
    assert_string_equal(s, "{\"z\":1,\"y\":20,\"x\":3}");
    free(s);
    jv_del(o, "z");
    jv_set_int(o, "z", 4);
    s = jv_dumps(o);
    assert_string_equal(s, "{\"y\":20,\"x\":3,\"z\":4}");
    free(s);
    jv_free(o);
    /* Keys are escaped too. */
    check_roundtrip("{\"a\\\"b\\n\":1}", "{\"a\\\"b\\n\":1}");
}

static void test_dump_limit(void **state)
{
    jv *v = parse("{\"key\":[\"a long string value\",12345,{\"x\":true}]}");
    char *full = jv_dumps(v);
    size_t n = strlen(full);
    for (size_t max = 0; max < n; max++) {
        buf b;
        buf_init(&b, max);
        if (max >= 3)
            buf_puts(&b, "pre");
        size_t before = b.len;
        assert_int_equal(jv_dump(v, &b), SL_ETOOBIG);
        assert_int_equal(b.len, before);
        assert_int_equal(strlen(b.data), before);
        buf_free(&b);
    }
    buf b;
    buf_init(&b, n);
    assert_int_equal(jv_dump(v, &b), 0);
    assert_string_equal(b.data, full);
    buf_free(&b);
    /* Appends after existing content. */
    buf_init(&b, n + 1);
    buf_putc(&b, '>');
    assert_int_equal(jv_dump(v, &b), 0);
    assert_true(b.data[0] == '>' && strcmp(b.data + 1, full) == 0);
    buf_free(&b);
    free(full);
    jv_free(v);

    /* NULL dumps as null. */
    char *s = jv_dumps(NULL);
    assert_string_equal(s, "null");
    free(s);
}

/* ---- building ---- */

static void test_build(void **state)
{
    jv *o = jv_new_object();
    assert_int_equal(jv_set_str(o, "s", "hello"), 0);
    assert_int_equal(jv_set_str(o, "n", NULL), 0);
    assert_int_equal(jv_set_int(o, "i", 7), 0);
    assert_int_equal(jv_set_bool(o, "b", true), 0);
    assert_int_equal(jv_set_null(o, "z"), 0);
    jv *arr = jv_new_array();
    assert_int_equal(jv_push_take(arr, jv_new_str("x")), 0);
    assert_int_equal(jv_push_take(arr, jv_new_real(1.5)), 0);
    assert_int_equal(jv_push_take(arr, jv_new_bool(false)), 0);
    assert_int_equal(jv_push_take(arr, jv_new_null()), 0);
    assert_int_equal(jv_set_take(o, "a", arr), 0);
    char *s = jv_dumps(o);
    assert_string_equal(s, "{\"s\":\"hello\",\"n\":null,\"i\":7,\"b\":true,\"z\":null,\"a\":[\"x\",1.5,false,null]}");
    free(s);

    /* Iteration in insertion order. */
    const char *want[] = {"s", "n", "i", "b", "z", "a"};
    size_t k = 0;
    for (void *it = jv_obj_iter(o); it; it = jv_obj_next(o, it)) {
        assert_true(k < 6);
        assert_string_equal(jv_obj_key(it), want[k]);
        assert_non_null(jv_obj_value(it));
        k++;
    }
    assert_int_equal(k, 6);
    assert_true(jv_is_array(jv_obj_value(jv_obj_iter(o))) == false);

    assert_int_equal(jv_del(o, "s"), 0);
    assert_int_equal(jv_del(o, "s"), SL_ENOTFOUND);
    assert_int_equal(jv_obj_size(o), 5);
    assert_int_not_equal(jv_del(arr, "x"), 0);

    /* jv_set adds a reference: both owners may release independently. */
    jv *shared = jv_new_str("shared");
    assert_int_equal(jv_set(o, "sh", shared), 0);
    assert_int_equal(jv_push(arr, shared), 0);
    jv_free(shared);
    assert_string_equal(jv_get_str(o, "sh"), "shared");
    assert_string_equal(jv_str(jv_at(arr, 4)), "shared");

    /* jv_incref. */
    jv *r = jv_incref(jv_get(o, "a"));
    jv_free(o);
    assert_int_equal(jv_len(r), 5);
    jv_free(r);
}

static void test_take_on_error(void **state)
{
    /* _take functions release val even when they fail (ASan would report a leak). */
    jv *arr = jv_new_array();
    jv *obj = jv_new_object();
    assert_int_not_equal(jv_set_take(arr, "k", jv_new_str("leak?")), 0);
    assert_int_not_equal(jv_set_take(NULL, "k", jv_new_str("leak?")), 0);
    assert_int_not_equal(jv_set_take(obj, NULL, jv_new_str("leak?")), 0);
    assert_int_not_equal(jv_set_take(obj, "\xff", jv_new_str("leak?")), 0); /* bad UTF-8 key */
    assert_int_not_equal(jv_push_take(obj, jv_new_str("leak?")), 0);
    assert_int_not_equal(jv_push_take(NULL, jv_new_object()), 0);
    assert_int_not_equal(jv_set_take(obj, "k", NULL), 0);
    assert_int_not_equal(jv_push_take(arr, NULL), 0);
    assert_int_not_equal(jv_set(arr, "k", obj), 0);
    assert_int_not_equal(jv_push(obj, arr), 0);
    assert_int_not_equal(jv_set_str(obj, "k", "\xc3"), 0);
    assert_int_equal(jv_obj_size(obj), 0);
    assert_int_equal(jv_len(arr), 0);
    jv_free(arr);
    jv_free(obj);
}

static void test_scalars(void **state)
{
    assert_null(jv_new_str("bad \xff utf8"));
    assert_null(jv_new_strn("\xe2\x82", 2));
    jv *n = jv_new_str(NULL);
    assert_true(jv_is_null(n));
    assert_non_null(n);
    jv_free(n);
    n = jv_new_real(NAN);
    assert_int_equal(jv_typeof(n), JV_NULL);
    jv_free(n);

    jv *r = jv_new_real(-3.99);
    assert_int_equal(jv_int(r), -3);
    jv_free(r);
    r = jv_new_real(1e300);
    assert_true(jv_int(r) == INT64_MAX);
    jv_free(r);
    jv *i = jv_new_int(5);
    assert_true(jv_num(i) == 5.0);
    assert_int_equal(jv_typeof(i), JV_INT);
    jv_free(i);

    jv *s = jv_new_str("str");
    assert_int_equal(jv_int(s), 0);
    assert_true(jv_num(s) == 0.0);
    assert_false(jv_bool(s));
    assert_int_equal(jv_str_len(s), 3);
    jv_free(s);

    assert_string_equal(jv_type_name(JV_NULL), "null");
    assert_string_equal(jv_type_name(JV_BOOL), "boolean");
    assert_string_equal(jv_type_name(JV_INT), "integer");
    assert_string_equal(jv_type_name(JV_REAL), "number");
    assert_string_equal(jv_type_name(JV_STRING), "string");
    assert_string_equal(jv_type_name(JV_ARRAY), "array");
    assert_string_equal(jv_type_name(JV_OBJECT), "object");
}

static void test_null_safety(void **state)
{
    jv_free(NULL);
    assert_null(jv_incref(NULL));
    assert_int_equal(jv_typeof(NULL), JV_NULL);
    assert_true(jv_is_null(NULL));
    assert_false(jv_is_string(NULL));
    assert_false(jv_is_object(NULL));
    assert_false(jv_is_array(NULL));
    assert_false(jv_is_number(NULL));
    assert_false(jv_is_bool(NULL));
    assert_null(jv_get(NULL, "a"));
    assert_null(jv_get_str(NULL, "a"));
    assert_null(jv_str(NULL));
    assert_int_equal(jv_str_len(NULL), 0);
    assert_int_equal(jv_int(NULL), 0);
    assert_true(jv_num(NULL) == 0.0);
    assert_false(jv_bool(NULL));
    assert_int_equal(jv_len(NULL), 0);
    assert_null(jv_at(NULL, 0));
    assert_int_equal(jv_obj_size(NULL), 0);
    assert_null(jv_obj_iter(NULL));
    assert_null(jv_copy(NULL));
    assert_true(jv_equal(NULL, NULL));

    jv *o = parse("{\"a\":1}");
    assert_int_equal(jv_len(o), 0);         /* not an array */
    assert_null(jv_at(o, 0));
    assert_null(jv_get(jv_get(o, "a"), "x")); /* not an object */
    assert_null(jv_get(o, NULL));
    assert_null(jv_obj_iter(jv_get(o, "a")));
    assert_false(jv_equal(o, NULL));
    jv_free(o);
}

/* ---- copy and equality ---- */

static void test_equal_and_copy(void **state)
{
    jv *a = parse("{\"x\":1,\"y\":[1,2,{\"z\":\"s\"}],\"w\":null}");
    jv *b = parse("{\"w\":null,\"y\":[1,2,{\"z\":\"s\"}],\"x\":1}");
    assert_true(jv_equal(a, b));
    jv *c = parse("{\"x\":1,\"y\":[2,1,{\"z\":\"s\"}],\"w\":null}");
    assert_false(jv_equal(a, c)); /* array order matters */
    jv *d = parse("{\"x\":1,\"y\":[1,2,{\"z\":\"s\"}]}");
    assert_false(jv_equal(a, d));
    jv *e = parse("{\"x\":1,\"y\":[1,2,{\"z\":\"s\"}],\"v\":null}");
    assert_false(jv_equal(a, e)); /* same size, different key */

    jv *cp = jv_copy(a);
    assert_true(jv_equal(a, cp));
    jv_set_int(jv_at(jv_get(cp, "y"), 2), "new", 1);
    assert_false(jv_equal(a, cp)); /* deep: the original is untouched */
    assert_int_equal(jv_obj_size(jv_at(jv_get(a, "y"), 2)), 1);

    /* int and real compare by value (see jv_equal). */
    jv *i1 = jv_new_int(1), *r1 = jv_new_real(1.0), *r15 = jv_new_real(1.5);
    assert_true(jv_equal(i1, r1));
    assert_true(jv_equal(r1, i1));
    assert_false(jv_equal(i1, r15));
    jv *big = jv_new_int(INT64_MAX), *bigr = jv_new_real(9223372036854775808.0);
    assert_false(jv_equal(big, bigr));
    jv *t = jv_new_bool(true), *f = jv_new_bool(false), *nul = jv_new_null();
    assert_false(jv_equal(t, f));
    assert_false(jv_equal(nul, f));
    assert_false(jv_equal(i1, t));
    jv *s1 = jv_new_strn("a\0b", 3), *s2 = jv_new_strn("a\0c", 3);
    assert_false(jv_equal(s1, s2));

    /* A value stays equal to itself through a dump/parse round trip. */
    char *text = jv_dumps(a);
    jv *back = parse(text);
    assert_true(jv_equal(a, back));
    free(text);

    jv *vals[] = {a, b, c, d, e, cp, i1, r1, r15, big, bigr, t, f, nul, s1, s2, back};
    for (size_t k = 0; k < sizeof vals / sizeof *vals; k++)
        jv_free(vals[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_types),
        cmocka_unit_test(test_parse_int_limits),
        cmocka_unit_test(test_parse_strict),
        cmocka_unit_test(test_parse_depth),
        cmocka_unit_test(test_parse_error_location),
        cmocka_unit_test(test_nul_in_strings),
        cmocka_unit_test(test_format_double),
        cmocka_unit_test(test_format_double_roundtrip),
        cmocka_unit_test(test_dump_numbers),
        cmocka_unit_test(test_dump_strings),
        cmocka_unit_test(test_dump_order_and_compact),
        cmocka_unit_test(test_dump_limit),
        cmocka_unit_test(test_build),
        cmocka_unit_test(test_take_on_error),
        cmocka_unit_test(test_scalars),
        cmocka_unit_test(test_null_safety),
        cmocka_unit_test(test_equal_and_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
