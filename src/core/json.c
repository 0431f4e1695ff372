/* json: the jv_ facade over jansson.
 *
 * Design: `struct jv` is never defined; a jv* is a json_t* and the casts live only in this
 * file (as_json/as_jv), so callers cannot reach jansson. Parsing is jansson's strict parser
 * (JSON_REJECT_DUPLICATES so a repeated key is an error, never a silent "last wins";
 * JSON_DECODE_ANY so any RFC 8259 value may be the top level, JSON_ALLOW_NUL so "\u0000"
 * survives; jansson itself rejects trailing
 * commas, leading zeros, invalid UTF-8, trailing garbage, integers beyond int64 and nesting
 * deeper than JSON_PARSER_MAX_DEPTH). Serialising is our own tree walk: compact, keys in
 * insertion order (jansson keeps it), strings escaped by jv_escape, reals printed by
 * jv_format_double.
 */
#include "core/json.h"

#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *as_json(const jv *v)
{
    return (json_t *)(uintptr_t)v; /* drops const: jansson's API is not const-correct */
}

static jv *as_jv(json_t *j)
{
    return (jv *)j;
}

/* ---- parse ---- */

jv *jv_parse(const char *text, size_t len, sl_error *err)
{
    json_error_t je;
    if (!text) {
        if (len) {
            sl_fail(err, SL_EINVAL, "line 1 col 0", "no input");
            return NULL;
        }
        text = "";
    }
    json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        char where[64];
        snprintf(where, sizeof where, "line %d col %d", je.line, je.column);
        sl_fail(err, SL_EINVAL, where, "%s", je.text);
        return NULL;
    }
    return as_jv(j);
}

/* ---- serialise ---- */

void jv_format_double(double d, char out[32])
{
    if (isnan(d) || isinf(d)) {
        memcpy(out, "null", 5);
        return;
    }
    if (d == trunc(d) && fabs(d) <= 9007199254740992.0) { /* 2^53 */
        snprintf(out, 32, "%.0f", d);
        return;
    }
    /* For normal doubles, any decimal of <= 15 significant digits is read back exactly, so
     * if %.15g round-trips nothing shorter does; otherwise 16 or 17 digits are needed.
     * Subnormals carry fewer bits, so for them search upwards from one digit. */
    int first = fabs(d) < 2.2250738585072014e-308 ? 1 : 15;
    for (int prec = first; prec <= 17; prec++) {
        snprintf(out, 32, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    /* Normalise the exponent: "1e+300" -> "1e300", "1e-05" -> "1e-5"; and force '.' as the
     * decimal point whatever LC_NUMERIC says. */
    char *e = strchr(out, 'e');
    if (e) {
        char *src = e + 1, *dst = e + 1;
        if (*src == '+')
            src++;
        else if (*src == '-')
            *dst++ = *src++;
        while (*src == '0' && src[1])
            src++;
        memmove(dst, src, strlen(src) + 1);
    }
    for (char *p = out; *p; p++) {
        if (*p == ',')
            *p = '.';
    }
}

int jv_escape(buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start_len = out->len;
    int rc = buf_putc(out, '"');
    size_t run = 0; /* start of the pending run of bytes that need no escaping */
    for (size_t i = 0; rc == 0 && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc = buf_append(out, s + run, i - run);
        run = i + 1;
        if (rc)
            break;
        char esc[7] = {'\\', 0};
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
            break;
        }
        rc = buf_append(out, esc, elen);
    }
    if (rc == 0)
        rc = buf_append(out, s + run, n - run);
    if (rc == 0)
        rc = buf_putc(out, '"');
    if (rc) {
        out->len = start_len;
        if (out->cap)
            out->data[start_len] = '\0';
    }
    return rc;
}

static int dump_value(json_t *j, buf *out)
{
    char num[32];
    int rc = 0;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        rc = buf_putc(out, '{');
        bool first = true;
        for (void *it = json_object_iter(j); it && rc == 0; it = json_object_iter_next(j, it)) {
            if (!first)
                rc = buf_putc(out, ',');
            first = false;
            if (rc == 0)
                rc = jv_escape(out, json_object_iter_key(it), json_object_iter_key_len(it));
            if (rc == 0)
                rc = buf_putc(out, ':');
            if (rc == 0)
                rc = dump_value(json_object_iter_value(it), out);
        }
        return rc ? rc : buf_putc(out, '}');
    }
    case JSON_ARRAY: {
        rc = buf_putc(out, '[');
        size_t n = json_array_size(j);
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (i)
                rc = buf_putc(out, ',');
            if (rc == 0)
                rc = dump_value(json_array_get(j, i), out);
        }
        return rc ? rc : buf_putc(out, ']');
    }
    case JSON_STRING:
        return jv_escape(out, json_string_value(j), json_string_length(j));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(j));
        return buf_puts(out, num);
    case JSON_REAL:
        jv_format_double(json_real_value(j), num);
        return buf_puts(out, num);
    case JSON_TRUE:
        return buf_puts(out, "true");
    case JSON_FALSE:
        return buf_puts(out, "false");
    case JSON_NULL:
    default:
        return buf_puts(out, "null");
    }
}

int jv_dump(const jv *v, buf *out)
{
    size_t start_len = out->len;
    int rc = v ? dump_value(as_json(v), out) : buf_puts(out, "null");
    if (rc) { /* leave out as it was */
        out->len = start_len;
        if (out->cap)
            out->data[start_len] = '\0';
    }
    return rc;
}

char *jv_dumps(const jv *v)
{
    buf b;
    buf_init(&b, SIZE_MAX);
    jv_dump(v, &b);
    return buf_take(&b);
}

/* ---- references and types ---- */

jv *jv_incref(jv *v)
{
    return as_jv(json_incref(as_json(v)));
}

void jv_free(jv *v)
{
    json_decref(as_json(v));
}

jv_type jv_typeof(const jv *v)
{
    if (!v)
        return JV_NULL;
    switch (json_typeof(as_json(v))) {
    case JSON_OBJECT: return JV_OBJECT;
    case JSON_ARRAY: return JV_ARRAY;
    case JSON_STRING: return JV_STRING;
    case JSON_INTEGER: return JV_INT;
    case JSON_REAL: return JV_REAL;
    case JSON_TRUE:
    case JSON_FALSE: return JV_BOOL;
    case JSON_NULL:
    default: return JV_NULL;
    }
}

const char *jv_type_name(jv_type t)
{
    switch (t) {
    case JV_NULL: return "null";
    case JV_BOOL: return "boolean";
    case JV_INT: return "integer";
    case JV_REAL: return "number";
    case JV_STRING: return "string";
    case JV_ARRAY: return "array";
    case JV_OBJECT: return "object";
    }
    return "unknown";
}

bool jv_is_null(const jv *v) { return jv_typeof(v) == JV_NULL; }
bool jv_is_string(const jv *v) { return jv_typeof(v) == JV_STRING; }
bool jv_is_number(const jv *v) { return jv_typeof(v) == JV_INT || jv_typeof(v) == JV_REAL; }
bool jv_is_object(const jv *v) { return jv_typeof(v) == JV_OBJECT; }
bool jv_is_array(const jv *v) { return jv_typeof(v) == JV_ARRAY; }
bool jv_is_bool(const jv *v) { return jv_typeof(v) == JV_BOOL; }

/* ---- scalars ---- */

const char *jv_str(const jv *v)
{
    return v ? json_string_value(as_json(v)) : NULL;
}

size_t jv_str_len(const jv *v)
{
    return v ? json_string_length(as_json(v)) : 0;
}

/* Truncates toward zero, saturating at the int64 range. */
static int64_t double_to_i64(double d)
{
    if (isnan(d))
        return 0;
    if (d >= 9223372036854775808.0) /* 2^63 */
        return INT64_MAX;
    if (d < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)d;
}

int64_t jv_int(const jv *v)
{
    switch (jv_typeof(v)) {
    case JV_INT: return (int64_t)json_integer_value(as_json(v));
    case JV_REAL: return double_to_i64(json_real_value(as_json(v)));
    default: return 0;
    }
}

double jv_num(const jv *v)
{
    return v ? json_number_value(as_json(v)) : 0.0;
}

bool jv_bool(const jv *v)
{
    return v && json_is_true(as_json(v));
}

jv *jv_new_null(void) { return as_jv(json_null()); }
jv *jv_new_bool(bool b) { return as_jv(json_boolean(b)); }
jv *jv_new_int(int64_t i) { return as_jv(json_integer((json_int_t)i)); }

jv *jv_new_real(double d)
{
    if (isnan(d) || isinf(d))
        return jv_new_null();
    return as_jv(json_real(d));
}

jv *jv_new_str(const char *s)
{
    return s ? as_jv(json_string(s)) : jv_new_null();
}

jv *jv_new_strn(const char *s, size_t n)
{
    if (!s)
        return n ? NULL : as_jv(json_string(""));
    return as_jv(json_stringn(s, n));
}

jv *jv_new_object(void) { return as_jv(json_object()); }
jv *jv_new_array(void) { return as_jv(json_array()); }

/* ---- objects ---- */

jv *jv_get(const jv *obj, const char *key)
{
    if (!obj || !key)
        return NULL;
    return as_jv(json_object_get(as_json(obj), key));
}

const char *jv_get_str(const jv *obj, const char *key)
{
    return jv_str(jv_get(obj, key));
}

int jv_set(jv *obj, const char *key, jv *val)
{
    if (!obj || !key || !val || !json_is_object(as_json(obj)))
        return SL_EINVAL;
    return json_object_set(as_json(obj), key, as_json(val)) == 0 ? SL_OK : SL_EINVAL;
}

int jv_set_take(jv *obj, const char *key, jv *val)
{
    if (!obj || !key || !val || !json_is_object(as_json(obj))) {
        jv_free(val);
        return SL_EINVAL;
    }
    /* json_object_set_new releases val itself when it fails. */
    return json_object_set_new(as_json(obj), key, as_json(val)) == 0 ? SL_OK : SL_EINVAL;
}

int jv_set_str(jv *obj, const char *key, const char *s)
{
    jv *v = jv_new_str(s);
    if (!v)
        return SL_EINVAL; /* invalid UTF-8 */
    return jv_set_take(obj, key, v);
}

int jv_set_int(jv *obj, const char *key, int64_t i) { return jv_set_take(obj, key, jv_new_int(i)); }
int jv_set_bool(jv *obj, const char *key, bool b) { return jv_set_take(obj, key, jv_new_bool(b)); }
int jv_set_null(jv *obj, const char *key) { return jv_set_take(obj, key, jv_new_null()); }

int jv_del(jv *obj, const char *key)
{
    if (!obj || !key || !json_is_object(as_json(obj)))
        return SL_EINVAL;
    return json_object_del(as_json(obj), key) == 0 ? SL_OK : SL_ENOTFOUND;
}

size_t jv_obj_size(const jv *obj)
{
    return obj ? json_object_size(as_json(obj)) : 0;
}

void *jv_obj_iter(const jv *obj)
{
    return obj ? json_object_iter(as_json(obj)) : NULL;
}

void *jv_obj_next(const jv *obj, void *it)
{
    return obj && it ? json_object_iter_next(as_json(obj), it) : NULL;
}

const char *jv_obj_key(void *it)
{
    return json_object_iter_key(it);
}

jv *jv_obj_value(void *it)
{
    return as_jv(json_object_iter_value(it));
}

/* ---- arrays ---- */

size_t jv_len(const jv *arr)
{
    return arr ? json_array_size(as_json(arr)) : 0;
}

jv *jv_at(const jv *arr, size_t i)
{
    return arr ? as_jv(json_array_get(as_json(arr), i)) : NULL;
}

int jv_push(jv *arr, jv *val)
{
    if (!arr || !val || !json_is_array(as_json(arr)))
        return SL_EINVAL;
    return json_array_append(as_json(arr), as_json(val)) == 0 ? SL_OK : SL_EINVAL;
}

int jv_push_take(jv *arr, jv *val)
{
    if (!arr || !val || !json_is_array(as_json(arr))) {
        jv_free(val);
        return SL_EINVAL;
    }
    /* json_array_append_new releases val itself when it fails. */
    return json_array_append_new(as_json(arr), as_json(val)) == 0 ? SL_OK : SL_EINVAL;
}

/* ---- copy and equality ---- */

jv *jv_copy(const jv *v)
{
    return v ? as_jv(json_deep_copy(as_json(v))) : NULL;
}

/* Exact comparison of an integer with a double (no rounding through either type). */
static bool int_equals_real(int64_t i, double d)
{
    if (d != trunc(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
        return false;
    return (int64_t)d == i;
}

/* Deep equality. Numbers compare by value across the integer/real split, so int 1 equals
 * real 1.0: jv_dump prints an integral real as an integer, and a value must stay equal to
 * itself after a dump/parse round trip. Object member order is ignored; NULL equals only
 * NULL. */
bool jv_equal(const jv *a, const jv *b)
{
    if (!a || !b)
        return a == b;
    if (a == b)
        return true;
    jv_type ta = jv_typeof(a), tb = jv_typeof(b);
    json_t *ja = as_json(a), *jb = as_json(b);
    if (ta == JV_INT && tb == JV_REAL)
        return int_equals_real(json_integer_value(ja), json_real_value(jb));
    if (ta == JV_REAL && tb == JV_INT)
        return int_equals_real(json_integer_value(jb), json_real_value(ja));
    if (ta != tb)
        return false;
    switch (ta) {
    case JV_NULL: return true;
    case JV_BOOL: return json_is_true(ja) == json_is_true(jb);
    case JV_INT: return json_integer_value(ja) == json_integer_value(jb);
    case JV_REAL: return json_real_value(ja) == json_real_value(jb);
    case JV_STRING:
        return json_string_length(ja) == json_string_length(jb) &&
               memcmp(json_string_value(ja), json_string_value(jb), json_string_length(ja)) == 0;
    case JV_ARRAY: {
        size_t n = json_array_size(ja);
        if (n != json_array_size(jb))
            return false;
        for (size_t i = 0; i < n; i++) {
            if (!jv_equal(as_jv(json_array_get(ja, i)), as_jv(json_array_get(jb, i))))
                return false;
        }
        return true;
    }
    case JV_OBJECT: {
        if (json_object_size(ja) != json_object_size(jb))
            return false;
        for (void *it = json_object_iter(ja); it; it = json_object_iter_next(ja, it)) {
            json_t *other = json_object_getn(jb, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!other || !jv_equal(as_jv(json_object_iter_value(it)), as_jv(other)))
                return false;
        }
        return true;
    }
    }
    return false;
}
