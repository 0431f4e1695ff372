/* macro: the Flow engine's macro sandbox in worker processes (see macro.h).
 *
 * Design notes:
 * - Engine side: a runner is a fixed array of worker slots under one mutex. macro_run takes a
 *   free slot (waiting on a condition variable while all are busy), then talks to that worker
 *   without holding the lock: the slot is the caller's until it is given back, including the
 *   kill/reap/respawn after a failure. A slot whose respawn failed has no process; the next call
 *   that takes it tries again. The socket is non-blocking on our side and every send and receive
 *   waits with poll() against the macro's deadline.
 * - Worker side: the request is parsed with the jv facade, then everything JavaScript happens
 *   inside one duk_safe_call on a fresh heap. C code inside that call allocates nothing that a
 *   thrown error could leak: the input values are copied into the heap up front, the macro's
 *   results live in the heap (in the heap stash, which scripts cannot reach) until the script has
 *   finished, and the answer is written into buffers owned by the run context, which the caller
 *   frees whatever happened.
 * - The stash holds: "values" (the values by name, with the macro's changes applied), "changed"
 *   (only the changed ones), and the Date constructor and Date.prototype.getTime as they were
 *   before the script ran, so a script that replaces Date cannot confuse the conversions. The
 *   stores are objects without a prototype, so a name like "toString" or "__proto__" is just a
 *   name. Getters hand the script fresh copies; the script never holds a reference into a store.
 * - Duktape keeps strings in its own extended UTF-8: a surrogate pair written in JavaScript
 *   ("\uD83D\uDE00") is stored as two 3-byte sequences and a lone surrogate as one. Everything the
 *   worker sends back passes utf8_clean, which joins such pairs into one 4-byte sequence and
 *   replaces what cannot be UTF-8 with U+FFFD, so the engine's strict parser accepts it.
 * - The allocator given to duktape prefixes each block with its size so the running total is
 *   exact. When the script has finished, or failed, the cap is raised by MEM_SLACK so that
 *   encoding the result or describing the error cannot fail for lack of memory.
 */
#include "flow/macro.h"

#include <duktape.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

extern char **environ;

/* Sanitizers reserve terabytes of address space, so RLIMIT_AS would stop them from starting. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MACRO_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define MACRO_SANITIZED 1
#endif
#endif
#ifndef MACRO_SANITIZED
#define MACRO_SANITIZED 0
#endif

#define READY_FRAME "{\"ready\":\"sluice-macro/1\"}"
#define ANSWER_SLACK 4096                /* an answer may exceed max_output by this much */
#define MEM_SLACK ((size_t)256 << 10)    /* extra heap for encoding results or describing errors */
#define MSG_MAX 400                      /* bytes of a JavaScript error message passed on */

/* Date range that time_iso8601 prints exactly: 0000-01-01 to 9999-12-31. */
#define DATE_MIN_MS (-62167219200000.0)
#define DATE_MAX_MS 253402300799999.0

/* ========================================================================================== */
/* Shared helpers                                                                              */

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Decodes one UTF-8 sequence at s[0..n) into *cp. Encoded surrogates are accepted (duktape
 * stores UTF-16 surrogates that way); overlong forms and values past U+10FFFF are not. Returns
 * the sequence's length, or 0 when the bytes do not start a sequence. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF)
        return 0;
    *cp = v;
    return len;
}

static int put_utf8(buf *out, uint32_t cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp, n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | cp >> 6), b[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | cp >> 12), b[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
    } else {
        b[0] = (char)(0xF0 | cp >> 18), b[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        b[2] = (char)(0x80 | (cp >> 6 & 0x3F)), b[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
    }
    return buf_append(out, b, n);
}

/* Appends str[0..n) to out as valid UTF-8: a surrogate pair stored as two 3-byte sequences
 * becomes one 4-byte sequence; a lone surrogate or a byte that starts no sequence becomes
 * U+FFFD; with one_line, control characters become spaces. Returns 0 or SL_ETOOBIG. */
static int utf8_clean(buf *out, const char *str, size_t n, bool one_line)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, start = 0; /* s[start..i) is a run to copy as it is */
    int rc = 0;
    while (i < n && rc == 0) {
        uint32_t cp = 0;
        size_t len = utf8_decode(s + i, n - i, &cp);
        bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        bool control = one_line && (cp < 0x20 || cp == 0x7F);
        if (len > 0 && !surrogate && !control) {
            i += len;
            continue;
        }
        rc = buf_append(out, s + start, i - start);
        if (len == 0) {
            cp = 0xFFFD, len = 1;
        } else if (control) {
            cp = ' ';
        } else if (cp <= 0xDBFF) {
            uint32_t lo = 0;
            size_t len2 = utf8_decode(s + i + len, n - i - len, &lo);
            if (len2 > 0 && lo >= 0xDC00 && lo <= 0xDFFF)
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00), len += len2;
            else
                cp = 0xFFFD;
        } else {
            cp = 0xFFFD;
        }
        if (rc == 0)
            rc = put_utf8(out, cp);
        i += len;
        start = i;
    }
    if (rc == 0)
        rc = buf_append(out, s + start, n - start);
    return rc;
}

/* ========================================================================================== */
/* Worker: one macro in one duktape heap                                                       */

typedef struct mrun {
    size_t used, cap; /* bytes the heap holds, and its cap */
    bool refused;     /* an allocation was refused because of the cap */
    const char *code;
    size_t code_len;
    const jv *values; /* borrowed from the request */
    buf out;          /* the changed values as JSON, at most max_output bytes */
    buf text;         /* scratch for one string being cleaned */
    bool out_full;    /* out reached its limit */
    char msg[MSG_MAX + 64];
} mrun;

typedef enum { RUN_OK, RUN_SCRIPT, RUN_OUTPUT } run_status;

/* Each block carries its size in front so frees and reallocs keep an exact total. */
typedef union mhdr {
    max_align_t align;
    size_t size;
} mhdr;

static void *m_alloc(void *ud, duk_size_t n)
{
    mrun *c = ud;
    if (n > c->cap - c->used) {
        c->refused = true;
        return NULL;
    }
    mhdr *h = malloc(sizeof *h + n);
    if (!h) {
        c->refused = true;
        return NULL;
    }
    h->size = n;
    c->used += n;
    return h + 1;
}

static void m_free(void *ud, void *p)
{
    mrun *c = ud;
    if (!p)
        return;
    mhdr *h = (mhdr *)p - 1;
    c->used -= h->size;
    free(h);
}

static void *m_realloc(void *ud, void *p, duk_size_t n)
{
    mrun *c = ud;
    if (!p)
        return m_alloc(ud, n);
    if (n == 0) {
        m_free(ud, p);
        return NULL;
    }
    mhdr *h = (mhdr *)p - 1;
    size_t old = h->size;
    if (n > old && n - old > c->cap - c->used) {
        c->refused = true;
        return NULL;
    }
    mhdr *nh = realloc(h, sizeof *nh + n);
    if (!nh) {
        c->refused = true;
        return NULL;
    }
    nh->size = n;
    c->used = c->used - old + n;
    return nh + 1;
}

/* Duktape calls this only for errors outside any protected call, which the worker never makes;
 * it must not return. The engine sees the worker's socket close and replaces it. */
static void m_fatal(void *ud, const char *msg)
{
    (void)ud;
    char line[256];
    int n = snprintf(line, sizeof line, "sluice macro worker: fatal JavaScript engine error: %s\n", msg ? msg : "?");
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    _exit(70);
}

/* ---- the macro API ---- */

typedef enum { K_TYPED, K_STRING, K_NUMBER, K_BOOLEAN, K_DATETIME, K_ARRAY, K_OBJECT } api_kind;
typedef enum { CT_STRING, CT_NUMBER, CT_BOOLEAN, CT_DATETIME, CT_OBJECT, CT_LIST } content_type;

typedef struct api_fn {
    const char *name;
    bool setter;
    api_kind kind;
} api_fn;

/* A function's index here is its duktape "magic". */
static const api_fn api_fns[] = {
    {"value", false, K_TYPED},           {"getValue", false, K_TYPED},
    {"getStringValue", false, K_STRING}, {"getNumberValue", false, K_NUMBER},
    {"getBooleanValue", false, K_BOOLEAN}, {"getDateTimeValue", false, K_DATETIME},
    {"getArrayValue", false, K_ARRAY},   {"getObjectValue", false, K_OBJECT},
    {"setValue", true, K_TYPED},         {"setStringValue", true, K_STRING},
    {"setContentValue", true, K_STRING}, {"setPasswordValue", true, K_STRING},
    {"setNumberValue", true, K_NUMBER},  {"setBooleanValue", true, K_BOOLEAN},
    {"setDateTimeValue", true, K_DATETIME}, {"setArrayValue", true, K_ARRAY},
    {"setObjectValue", true, K_OBJECT},
};

/* Globals duktape adds beyond ECMAScript; deleted before the macro runs. */
static const char *const extra_globals[] = {"Duktape", "CBOR", "Buffer", "TextEncoder", "TextDecoder",
                                            "performance", "print", "alert", "require"};

static content_type content_type_of(const char *s)
{
    if (str_ieq(s, "ContentNumber"))
        return CT_NUMBER;
    if (str_ieq(s, "ContentBoolean"))
        return CT_BOOLEAN;
    if (str_ieq(s, "ContentDateTime") || str_ieq(s, "ContentDate"))
        return CT_DATETIME;
    if (str_ieq(s, "ContentObject"))
        return CT_OBJECT;
    if (str_ieq(s, "ContentList"))
        return CT_LIST;
    return CT_STRING; /* ContentString, ContentPassword, ContentContent, ContentEncrypted, unknown */
}

static const api_fn *current_fn(duk_context *ctx)
{
    return &api_fns[duk_get_current_magic(ctx)];
}

static void push_stash(duk_context *ctx, const char *key)
{
    duk_push_heap_stash(ctx);
    duk_get_prop_string(ctx, -1, key);
    duk_remove(ctx, -2);
}

/* Throws an error of type code whose fileName/lineNumber name the macro line that called the API
 * function (duktape would name the C source line otherwise). */
static void api_throw(duk_context *ctx, duk_errcode_t code, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
static void api_throw(duk_context *ctx, duk_errcode_t code, const char *fmt, ...)
{
    char msg[MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    double line = 0;
    duk_inspect_callstack_entry(ctx, -2); /* -1 is the API function itself */
    if (duk_is_object(ctx, -1)) {
        duk_get_prop_string(ctx, -1, "lineNumber");
        line = duk_get_number_default(ctx, -1, 0);
        duk_pop(ctx);
    }
    duk_pop(ctx);
    duk_push_error_object(ctx, code, "%s", msg);
    const duk_uint_t flags = DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WRITABLE | DUK_DEFPROP_SET_CONFIGURABLE |
                             DUK_DEFPROP_FORCE;
    duk_push_string(ctx, "fileName");
    duk_push_string(ctx, line > 0 ? "macro" : "");
    duk_def_prop(ctx, -3, flags);
    duk_push_string(ctx, "lineNumber");
    duk_push_number(ctx, line);
    duk_def_prop(ctx, -3, flags);
    duk_throw_raw(ctx);
    abort(); /* not reached; duktape's header does not mark duk_throw_raw noreturn */
}

/* Resolves the reference at index 0 ("Name" or "{![Name]}"): pushes the name and the value's
 * entry from the store, or throws naming the reference. */
static void lookup(duk_context *ctx, const api_fn *f)
{
    if (!duk_is_string(ctx, 0))
        api_throw(ctx, DUK_ERR_TYPE_ERROR, "%s: the value reference must be a string", f->name);
    duk_size_t n = 0;
    const char *s = duk_get_lstring(ctx, 0, &n);
    if (n >= 5 && memcmp(s, "{![", 3) == 0 && memcmp(s + n - 2, "]}", 2) == 0)
        duk_push_lstring(ctx, s + 3, n - 5);
    else
        duk_push_lstring(ctx, s, n);
    push_stash(ctx, "values");
    duk_dup(ctx, -2);
    if (!duk_get_prop(ctx, -2) || !duk_is_object(ctx, -1))
        api_throw(ctx, DUK_ERR_ERROR, "%s: there is no value named \"%s\"", f->name, s);
    duk_remove(ctx, -2);
}

static content_type entry_type(duk_context *ctx, duk_idx_t entry)
{
    duk_get_prop_string(ctx, entry, "contentType");
    content_type t = content_type_of(duk_get_string(ctx, -1));
    duk_pop(ctx);
    return t;
}

static bool is_date(duk_context *ctx, duk_idx_t idx)
{
    idx = duk_normalize_index(ctx, idx);
    push_stash(ctx, "Date");
    bool yes = duk_is_object(ctx, idx) && duk_instanceof(ctx, idx, -1);
    duk_pop(ctx);
    return yes;
}

static void push_plain_list(duk_context *ctx, duk_idx_t list, int depth);

/* Pushes a plain object for the MObject at idx: {externalId, internalId, developerName,
 * typeElementId, properties: {name: contentValue, or for objectData a nested array}}. */
static void push_plain_object(duk_context *ctx, duk_idx_t idx, int depth)
{
    static const char *const ids[] = {"externalId", "internalId", "developerName", "typeElementId"};
    idx = duk_normalize_index(ctx, idx);
    duk_require_stack(ctx, 8);
    if (!duk_is_object(ctx, idx)) {
        duk_push_null(ctx);
        return;
    }
    duk_idx_t out = duk_push_object(ctx);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        duk_get_prop_string(ctx, idx, ids[i]);
        if (!duk_is_string(ctx, -1)) {
            duk_pop(ctx);
            duk_push_null(ctx);
        }
        duk_put_prop_string(ctx, out, ids[i]);
    }
    duk_idx_t props = duk_push_object(ctx);
    duk_get_prop_string(ctx, idx, "properties");
    duk_idx_t in = duk_get_top_index(ctx);
    duk_size_t n = duk_is_array(ctx, in) ? duk_get_length(ctx, in) : 0;
    for (duk_size_t i = 0; i < n; i++) {
        duk_get_prop_index(ctx, in, (duk_uarridx_t)i);
        duk_idx_t p = duk_get_top_index(ctx);
        if (duk_is_object(ctx, p)) {
            duk_get_prop_string(ctx, p, "developerName");
            if (duk_is_string(ctx, -1)) {
                duk_get_prop_string(ctx, p, "objectData");
                if (duk_is_array(ctx, -1)) {
                    push_plain_list(ctx, -1, depth + 1);
                    duk_remove(ctx, -2);
                } else {
                    duk_pop(ctx);
                    duk_get_prop_string(ctx, p, "contentValue");
                    if (!duk_is_string(ctx, -1)) {
                        duk_pop(ctx);
                        duk_push_null(ctx);
                    }
                }
                /* defined, not assigned, so a property named __proto__ stays a property */
                duk_def_prop(ctx, props, DUK_DEFPROP_HAVE_VALUE | DUK_DEFPROP_SET_WEC);
            } else {
                duk_pop(ctx);
            }
        }
        duk_pop(ctx);
    }
    duk_pop(ctx); /* the MObject's properties */
    duk_put_prop_string(ctx, out, "properties");
}

/* Pushes a new array of plain objects for the MObject array at list (anything else gives []). */
static void push_plain_list(duk_context *ctx, duk_idx_t list, int depth)
{
    list = duk_normalize_index(ctx, list);
    if (depth > MACRO_MAX_DEPTH)
        api_throw(ctx, DUK_ERR_RANGE_ERROR, "%s: objects are nested deeper than %d levels", current_fn(ctx)->name,
                  MACRO_MAX_DEPTH);
    duk_require_stack(ctx, 8);
    duk_idx_t out = duk_push_array(ctx);
    duk_size_t n = duk_is_array(ctx, list) ? duk_get_length(ctx, list) : 0;
    for (duk_size_t i = 0; i < n; i++) {
        duk_get_prop_index(ctx, list, (duk_uarridx_t)i);
        push_plain_object(ctx, -1, depth);
        duk_put_prop_index(ctx, out, (duk_uarridx_t)i);
        duk_pop(ctx);
    }
}

static api_kind typed_kind(content_type t)
{
    switch (t) {
    case CT_NUMBER: return K_NUMBER;
    case CT_BOOLEAN: return K_BOOLEAN;
    case CT_DATETIME: return K_DATETIME;
    case CT_OBJECT:
    case CT_LIST: return K_ARRAY;
    default: return K_STRING;
    }
}

/* value, getValue, get<Type>Value: (ref) → a fresh JavaScript value. */
static duk_ret_t js_get(duk_context *ctx)
{
    const api_fn *f = current_fn(ctx);
    lookup(ctx, f); /* [ref name entry] */
    duk_idx_t entry = duk_get_top_index(ctx);
    api_kind kind = f->kind == K_TYPED ? typed_kind(entry_type(ctx, entry)) : f->kind;
    if (kind == K_ARRAY || kind == K_OBJECT) {
        duk_get_prop_string(ctx, entry, "objectData");
        push_plain_list(ctx, -1, 0);
        if (kind == K_OBJECT && !duk_get_prop_index(ctx, -1, 0)) {
            duk_pop(ctx);
            duk_push_null(ctx);
        }
        return 1;
    }
    duk_get_prop_string(ctx, entry, "contentValue");
    if (!duk_is_string(ctx, -1))
        duk_push_null(ctx);
    else if (kind == K_STRING)
        ;
    else if (duk_get_length(ctx, -1) == 0)
        duk_push_null(ctx);
    else if (kind == K_NUMBER)
        duk_to_number(ctx, -1);
    else if (kind == K_BOOLEAN)
        duk_push_boolean(ctx, str_ieq(duk_get_string(ctx, -1), "true"));
    else { /* K_DATETIME */
        push_stash(ctx, "Date");
        duk_dup(ctx, -2);
        duk_new(ctx, 1);
    }
    return 1;
}

/* Pushes ms since the epoch for v (a Date, a date string, a number) through the original Date. */
static double date_ms(duk_context *ctx, duk_idx_t v)
{
    v = duk_normalize_index(ctx, v);
    push_stash(ctx, "getTime");
    push_stash(ctx, "Date");
    duk_dup(ctx, v);
    duk_new(ctx, 1);
    duk_call_method(ctx, 0);
    double ms = duk_get_number_default(ctx, -1, NAN);
    duk_pop(ctx);
    return ms;
}

/* Pushes Flow's text for the value at v converted as kind (K_STRING, K_NUMBER, K_BOOLEAN,
 * K_DATETIME), or null for null and undefined. Throws for NaN, infinities and invalid dates. */
static void push_text(duk_context *ctx, duk_idx_t v, api_kind kind)
{
    const api_fn *f = current_fn(ctx);
    v = duk_normalize_index(ctx, v);
    if (duk_is_null_or_undefined(ctx, v)) {
        duk_push_null(ctx);
        return;
    }
    if (kind == K_NUMBER) {
        duk_dup(ctx, v);
        double d = duk_to_number(ctx, -1);
        if (!isfinite(d))
            api_throw(ctx, DUK_ERR_RANGE_ERROR, "%s: %s is not a finite number", f->name, duk_to_string(ctx, -1));
        duk_to_string(ctx, -1);
    } else if (kind == K_BOOLEAN) {
        bool b;
        const char *s = duk_get_string(ctx, v);
        if (s && (str_ieq(s, "true") || str_ieq(s, "false")))
            b = str_ieq(s, "true");
        else {
            duk_dup(ctx, v);
            b = duk_to_boolean(ctx, -1);
            duk_pop(ctx);
        }
        duk_push_string(ctx, b ? "true" : "false");
    } else if (kind == K_DATETIME) {
        double ms = date_ms(ctx, v);
        if (isnan(ms))
            api_throw(ctx, DUK_ERR_RANGE_ERROR, "%s: not a valid date", f->name);
        if (ms < DATE_MIN_MS || ms > DATE_MAX_MS)
            api_throw(ctx, DUK_ERR_RANGE_ERROR, "%s: the date is outside the years 0000 to 9999", f->name);
        char iso[25];
        time_iso8601((int64_t)ms, iso);
        duk_push_string(ctx, iso);
    } else {
        duk_dup(ctx, v);
        duk_to_string(ctx, -1);
    }
}

static void push_mobject(duk_context *ctx, duk_idx_t obj, int depth);

/* Pushes a new array of MObjects for the array of plain objects at arr. */
static void push_mobject_list(duk_context *ctx, duk_idx_t arr, int depth)
{
    const api_fn *f = current_fn(ctx);
    arr = duk_normalize_index(ctx, arr);
    duk_size_t n = duk_get_length(ctx, arr);
    if (n > MACRO_MAX_OBJECTS)
        api_throw(ctx, DUK_ERR_RANGE_ERROR, "%s: more than %d objects in one array", f->name, MACRO_MAX_OBJECTS);
    duk_require_stack(ctx, 8);
    duk_idx_t out = duk_push_array(ctx);
    for (duk_size_t i = 0; i < n; i++) {
        duk_get_prop_index(ctx, arr, (duk_uarridx_t)i);
        push_mobject(ctx, -1, depth);
        duk_put_prop_index(ctx, out, (duk_uarridx_t)i);
        duk_pop(ctx);
    }
}

/* Pushes one MObject for the plain object at obj: the ids as strings or null, and properties
 * [{developerName, contentValue, objectData}] from the object's own enumerable properties. */
static void push_mobject(duk_context *ctx, duk_idx_t obj, int depth)
{
    static const char *const ids[] = {"externalId", "internalId", "developerName", "typeElementId"};
    const api_fn *f = current_fn(ctx);
    obj = duk_normalize_index(ctx, obj);
    if (depth > MACRO_MAX_DEPTH)
        api_throw(ctx, DUK_ERR_RANGE_ERROR, "%s: objects are nested deeper than %d levels", f->name, MACRO_MAX_DEPTH);
    if (!duk_is_object(ctx, obj) || duk_is_array(ctx, obj) || duk_is_function(ctx, obj) || is_date(ctx, obj))
        api_throw(ctx, DUK_ERR_TYPE_ERROR, "%s: expected a plain object, got %s", f->name,
                  duk_is_array(ctx, obj)      ? "an array"
                  : duk_is_function(ctx, obj) ? "a function"
                  : duk_is_object(ctx, obj)   ? "a Date"
                  : duk_is_null(ctx, obj)     ? "null"
                                              : "a primitive value");
    duk_require_stack(ctx, 12);
    duk_idx_t out = duk_push_bare_object(ctx);
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        duk_get_prop_string(ctx, obj, ids[i]);
        if (duk_is_null_or_undefined(ctx, -1)) {
            duk_pop(ctx);
            duk_push_null(ctx);
        } else {
            duk_to_string(ctx, -1);
        }
        duk_put_prop_string(ctx, out, ids[i]);
    }
    duk_idx_t props = duk_push_array(ctx);
    duk_get_prop_string(ctx, obj, "properties");
    duk_idx_t in = duk_get_top_index(ctx);
    if (!duk_is_null_or_undefined(ctx, in)) {
        if (!duk_is_object(ctx, in) || duk_is_array(ctx, in))
            api_throw(ctx, DUK_ERR_TYPE_ERROR, "%s: properties must be an object of name: value", f->name);
        duk_enum(ctx, in, DUK_ENUM_OWN_PROPERTIES_ONLY);
        duk_uarridx_t n = 0;
        while (duk_next(ctx, -1, 1)) { /* [... enum key value] */
            if (n >= MACRO_MAX_OBJECTS)
                api_throw(ctx, DUK_ERR_RANGE_ERROR, "%s: more than %d properties", f->name, MACRO_MAX_OBJECTS);
            duk_idx_t key = duk_get_top_index(ctx) - 1, val = key + 1;
            duk_idx_t p = duk_push_bare_object(ctx);
            duk_dup(ctx, key);
            duk_to_string(ctx, -1);
            duk_put_prop_string(ctx, p, "developerName");
            if (duk_is_array(ctx, val)) {
                duk_push_null(ctx);
                duk_put_prop_string(ctx, p, "contentValue");
                push_mobject_list(ctx, val, depth + 1);
            } else if (duk_is_object(ctx, val) && !duk_is_function(ctx, val) && !is_date(ctx, val)) {
                duk_push_null(ctx);
                duk_put_prop_string(ctx, p, "contentValue");
                duk_push_array(ctx);
                push_mobject(ctx, val, depth + 1);
                duk_put_prop_index(ctx, -2, 0);
            } else {
                api_kind k = duk_is_boolean(ctx, val) ? K_BOOLEAN
                             : duk_is_number(ctx, val) ? K_NUMBER
                             : is_date(ctx, val)       ? K_DATETIME
                                                       : K_STRING;
                push_text(ctx, val, k);
                duk_put_prop_string(ctx, p, "contentValue");
                duk_push_null(ctx);
            }
            duk_put_prop_string(ctx, p, "objectData");
            duk_put_prop_index(ctx, props, n++);
            duk_pop_2(ctx);
        }
        duk_pop(ctx); /* the enumerator */
    }
    duk_pop(ctx); /* the given properties */
    duk_put_prop_string(ctx, out, "properties");
}

/* setValue, set<Type>Value: (ref, v) → stores the converted value in "values" and "changed". */
static duk_ret_t js_set(duk_context *ctx)
{
    const api_fn *f = current_fn(ctx);
    lookup(ctx, f); /* [ref v name entry] */
    const duk_idx_t v = 1, name = 2, entry = 3;
    content_type t = entry_type(ctx, entry);
    bool objects = t == CT_OBJECT || t == CT_LIST;
    api_kind kind = f->kind;
    if (kind == K_TYPED)
        kind = !objects ? typed_kind(t) : duk_is_object(ctx, v) && !duk_is_array(ctx, v) ? K_OBJECT : K_ARRAY;
    bool wants_objects = kind == K_ARRAY || kind == K_OBJECT;
    if (objects && !wants_objects)
        api_throw(ctx, DUK_ERR_TYPE_ERROR, "%s: \"%s\" holds objects; use setObjectValue or setArrayValue", f->name,
                  duk_get_string(ctx, name));
    if (!objects && wants_objects)
        api_throw(ctx, DUK_ERR_TYPE_ERROR, "%s: \"%s\" is not an object or list value", f->name,
                  duk_get_string(ctx, name));

    duk_idx_t out = duk_push_bare_object(ctx);
    duk_get_prop_string(ctx, entry, "contentType");
    duk_put_prop_string(ctx, out, "contentType");
    if (!wants_objects) {
        push_text(ctx, v, kind);
        duk_put_prop_string(ctx, out, "contentValue");
        duk_push_null(ctx);
    } else {
        duk_push_null(ctx);
        duk_put_prop_string(ctx, out, "contentValue");
        if (duk_is_null_or_undefined(ctx, v)) {
            duk_push_null(ctx);
        } else if (kind == K_OBJECT) {
            duk_push_array(ctx);
            push_mobject(ctx, v, 0);
            duk_put_prop_index(ctx, -2, 0);
        } else {
            if (!duk_is_array(ctx, v))
                api_throw(ctx, DUK_ERR_TYPE_ERROR, "%s: expected an array or null", f->name);
            push_mobject_list(ctx, v, 0);
            if (t == CT_OBJECT && duk_get_length(ctx, -1) > 1)
                api_throw(ctx, DUK_ERR_TYPE_ERROR, "%s: \"%s\" is an object value and holds at most one object",
                          f->name, duk_get_string(ctx, name));
        }
    }
    duk_put_prop_string(ctx, out, "objectData");

    static const char *const stores[] = {"values", "changed"};
    for (size_t i = 0; i < 2; i++) {
        push_stash(ctx, stores[i]);
        duk_dup(ctx, name);
        duk_dup(ctx, out);
        duk_put_prop(ctx, -3);
        duk_pop(ctx);
    }
    return 0;
}

static duk_ret_t js_noop(duk_context *ctx)
{
    (void)ctx;
    return 0;
}

/* ---- setting up, running, answering ---- */

/* Pushes a copy of v; objects get no prototype. Depth is bounded by the parser's. */
static void push_jv(duk_context *ctx, const jv *v)
{
    duk_require_stack(ctx, 4);
    switch (jv_typeof(v)) {
    case JV_BOOL: duk_push_boolean(ctx, jv_bool(v)); break;
    case JV_INT:
    case JV_REAL: duk_push_number(ctx, jv_num(v)); break;
    case JV_STRING: duk_push_lstring(ctx, jv_str(v), jv_str_len(v)); break;
    case JV_ARRAY: {
        duk_idx_t a = duk_push_array(ctx);
        for (size_t i = 0; i < jv_len(v); i++) {
            push_jv(ctx, jv_at(v, i));
            duk_put_prop_index(ctx, a, (duk_uarridx_t)i);
        }
        break;
    }
    case JV_OBJECT: {
        duk_idx_t o = duk_push_bare_object(ctx);
        for (void *it = jv_obj_iter(v); it; it = jv_obj_next(v, it)) {
            duk_push_string(ctx, jv_obj_key(it));
            push_jv(ctx, jv_obj_value(it));
            duk_put_prop(ctx, o);
        }
        break;
    }
    default: duk_push_null(ctx); break;
    }
}

static void emit(mrun *c, const char *s)
{
    if (!c->out_full && buf_puts(&c->out, s) != 0)
        c->out_full = true;
}

static void emit_string(mrun *c, const char *s, size_t n)
{
    buf_reset(&c->text);
    if (c->out_full || utf8_clean(&c->text, s, n, false) != 0 || jv_escape(&c->out, c->text.data, c->text.len) != 0)
        c->out_full = true;
}

/* Writes the value at idx as JSON into c->out. Only the worker's own stores are encoded: objects
 * without prototypes, arrays, strings and nulls, so no script code runs here. */
static void encode(duk_context *ctx, duk_idx_t idx, mrun *c)
{
    idx = duk_normalize_index(ctx, idx);
    duk_require_stack(ctx, 4);
    if (c->out_full)
        return;
    if (duk_is_string(ctx, idx)) {
        duk_size_t n = 0;
        const char *s = duk_get_lstring(ctx, idx, &n);
        emit_string(c, s, n);
    } else if (duk_is_boolean(ctx, idx)) {
        emit(c, duk_get_boolean(ctx, idx) ? "true" : "false");
    } else if (duk_is_number(ctx, idx)) {
        char num[32];
        jv_format_double(duk_get_number(ctx, idx), num);
        emit(c, isfinite(duk_get_number(ctx, idx)) ? num : "null");
    } else if (duk_is_array(ctx, idx)) {
        emit(c, "[");
        duk_size_t n = duk_get_length(ctx, idx);
        for (duk_size_t i = 0; i < n && !c->out_full; i++) {
            if (i)
                emit(c, ",");
            duk_get_prop_index(ctx, idx, (duk_uarridx_t)i);
            encode(ctx, -1, c);
            duk_pop(ctx);
        }
        emit(c, "]");
    } else if (duk_is_object(ctx, idx) && !duk_is_function(ctx, idx)) {
        emit(c, "{");
        duk_enum(ctx, idx, DUK_ENUM_OWN_PROPERTIES_ONLY);
        for (bool first = true; !c->out_full && duk_next(ctx, -1, 1); first = false) {
            if (!first)
                emit(c, ",");
            encode(ctx, -2, c);
            emit(c, ":");
            encode(ctx, -1, c);
            duk_pop_2(ctx);
        }
        duk_pop(ctx);
        emit(c, "}");
    } else {
        emit(c, "null");
    }
}

/* The protected body: sandbox, API, values, the macro, the answer. */
static duk_ret_t exec_body(duk_context *ctx, void *ud)
{
    mrun *c = ud;
    duk_push_heap_stash(ctx);
    duk_get_global_string(ctx, "Date");
    duk_get_prop_string(ctx, -1, "prototype");
    duk_get_prop_string(ctx, -1, "getTime");
    duk_put_prop_string(ctx, -4, "getTime");
    duk_pop(ctx);
    duk_put_prop_string(ctx, -2, "Date");
    push_jv(ctx, c->values);
    duk_put_prop_string(ctx, -2, "values");
    duk_push_bare_object(ctx);
    duk_put_prop_string(ctx, -2, "changed");
    duk_pop(ctx);

    duk_push_global_object(ctx);
    for (size_t i = 0; i < sizeof extra_globals / sizeof extra_globals[0]; i++)
        duk_del_prop_string(ctx, -1, extra_globals[i]);
    for (size_t i = 0; i < sizeof api_fns / sizeof api_fns[0]; i++) {
        duk_push_c_function(ctx, api_fns[i].setter ? js_set : js_get, api_fns[i].setter ? 2 : 1);
        duk_set_magic(ctx, -1, (duk_int_t)i);
        duk_put_prop_string(ctx, -2, api_fns[i].name);
    }
    static const char *const console_fns[] = {"log", "info", "warn", "error", "debug"};
    duk_push_object(ctx);
    for (size_t i = 0; i < sizeof console_fns / sizeof console_fns[0]; i++) {
        duk_push_c_function(ctx, js_noop, DUK_VARARGS);
        duk_put_prop_string(ctx, -2, console_fns[i]);
    }
    duk_put_prop_string(ctx, -2, "console");
    duk_pop(ctx);

    duk_push_lstring(ctx, c->code, c->code_len);
    duk_push_string(ctx, "macro");
    duk_compile(ctx, 0);
    duk_call(ctx, 0);
    duk_pop(ctx);

    c->cap += MEM_SLACK;
    push_stash(ctx, "changed");
    encode(ctx, -1, c);
    duk_pop(ctx);
    return 0;
}

/* Copies message s[0..n) (cleaned, one line, at most MSG_MAX bytes) and the line into c->msg. */
static void set_message(mrun *c, const char *s, size_t n, int line)
{
    buf m;
    buf_init(&m, 4 * MSG_MAX);
    (void)utf8_clean(&m, s, n < 2 * MSG_MAX ? n : 2 * MSG_MAX, true); /* a cut text is fine */
    bool cut = m.len > MSG_MAX || n > 2 * MSG_MAX;
    if (m.len > MSG_MAX) {
        m.data[MSG_MAX] = 0;
        utf8_trim_tail(m.data);
    }
    snprintf(c->msg, sizeof c->msg, "%s%s", m.data ? m.data : "", cut ? "..." : "");
    if (line > 0 && !strstr(c->msg, "(line ")) {
        size_t len = strlen(c->msg);
        snprintf(c->msg + len, sizeof c->msg - len, " (line %d)", line);
    }
    buf_free(&m);
}

/* Describes the thrown value at index 0 into c->msg (protected: toString may be the script's). */
static duk_ret_t describe_error(duk_context *ctx, void *ud)
{
    mrun *c = ud;
    int line = 0;
    if (duk_is_error(ctx, 0)) {
        duk_get_prop_string(ctx, 0, "fileName");
        bool ours = duk_is_string(ctx, -1) && strcmp(duk_get_string(ctx, -1), "macro") == 0;
        duk_get_prop_string(ctx, 0, "lineNumber");
        double l = duk_get_number_default(ctx, -1, 0);
        if (ours && l > 0 && l < INT_MAX)
            line = (int)l;
        duk_pop_2(ctx);
    }
    duk_dup(ctx, 0);
    duk_size_t n = 0;
    const char *s = duk_safe_to_lstring(ctx, -1, &n);
    set_message(c, s, n, line);
    return 0;
}

static run_status macro_exec(mrun *c)
{
    duk_context *ctx = duk_create_heap(m_alloc, m_realloc, m_free, c, m_fatal);
    if (!ctx) {
        snprintf(c->msg, sizeof c->msg, "out of memory: the limit of %zu bytes is too small to start", c->cap);
        return RUN_SCRIPT;
    }
    run_status st = RUN_OK;
    if (duk_safe_call(ctx, exec_body, c, 0, 1) != DUK_EXEC_SUCCESS) {
        st = RUN_SCRIPT;
        size_t limit = c->cap;
        c->cap += MEM_SLACK;
        if (c->refused)
            snprintf(c->msg, sizeof c->msg, "out of memory: the macro needs more than %zu bytes", limit);
        else if (duk_safe_call(ctx, describe_error, c, 1, 1) != DUK_EXEC_SUCCESS)
            snprintf(c->msg, sizeof c->msg, "an error that could not be described");
    } else if (c->out_full) {
        st = RUN_OUTPUT;
    }
    duk_destroy_heap(ctx);
    return st;
}

static void answer_error(buf *resp, const char *kind, const char *msg)
{
    buf_reset(resp);
    buf_printf(resp, "{\"kind\":\"%s\",\"error\":", kind);
    jv_escape(resp, msg, strlen(msg));
    buf_putc(resp, '}');
}

/* Runs one request and writes the answer JSON into resp. */
static void worker_handle(const char *req, size_t len, buf *resp)
{
    sl_error perr = {0};
    jv *rq = jv_parse(req, len, &perr);
    const jv *code = jv_get(rq, "code"), *values = jv_get(rq, "values");
    const jv *mem = jv_get(rq, "memoryBytes"), *max_out = jv_get(rq, "maxOutput");
    if (!jv_is_string(code) || !jv_is_object(values) || !jv_is_number(mem) || !jv_is_number(max_out) ||
        jv_int(mem) < (int64_t)MACRO_MIN_MEMORY || jv_int(mem) > (int64_t)MACRO_MAX_MEMORY || jv_int(max_out) < 1 ||
        jv_int(max_out) > (int64_t)MACRO_MAX_REQUEST) {
        answer_error(resp, "request", rq ? "the request is malformed" : perr.msg);
        jv_free(rq);
        return;
    }
    mrun c = {.cap = (size_t)jv_int(mem), .code = jv_str(code), .code_len = jv_str_len(code), .values = values};
    size_t max = (size_t)jv_int(max_out);
    buf_init(&c.out, max);
    buf_init(&c.text, max + 16);
    run_status st = macro_exec(&c);
    if (st == RUN_OK) {
        buf_puts(resp, "{\"changed\":");
        buf_append(resp, c.out.data, c.out.len);
        buf_putc(resp, '}');
    } else if (st == RUN_OUTPUT) {
        char msg[128];
        snprintf(msg, sizeof msg, "the values the macro set take more than %zu bytes as JSON", max);
        answer_error(resp, "output", msg);
    } else {
        answer_error(resp, "script", c.msg);
    }
    buf_free(&c.out);
    buf_free(&c.text);
    jv_free(rq);
}

/* Reads exactly n bytes; returns how many were read before end of input or an error. */
static size_t read_full(int fd, void *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, (char *)p + got, n - got);
        if (k > 0)
            got += (size_t)k;
        else if (k < 0 && errno == EINTR)
            continue;
        else
            break;
    }
    return got;
}

static bool write_frame(int fd, const char *p, size_t n)
{
    unsigned char hdr[4];
    put_be32(hdr, (uint32_t)n);
    for (size_t off = 0; off < 4 + n;) {
        ssize_t k = off < 4 ? write(fd, hdr + off, 4 - off) : write(fd, p + (off - 4), n - (off - 4));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        off += (size_t)k;
    }
    return true;
}

int macro_worker_main(void)
{
    struct rlimit rl = {0, 0};
    (void)setrlimit(RLIMIT_CORE, &rl);
#if !MACRO_SANITIZED
    rl.rlim_cur = rl.rlim_max = MACRO_WORKER_AS;
    (void)setrlimit(RLIMIT_AS, &rl);
#endif
    if (!write_frame(1, READY_FRAME, strlen(READY_FRAME)))
        return 1;
    for (;;) {
        unsigned char hdr[4];
        size_t got = read_full(0, hdr, 4);
        if (got == 0)
            return 0;
        uint32_t len = get_be32(hdr);
        if (got < 4 || len > MACRO_MAX_REQUEST)
            return 1;
        char *req = xmalloc((size_t)len + 1);
        if (read_full(0, req, len) < len) {
            free(req);
            return 1;
        }
        req[len] = 0;
        buf resp;
        buf_init(&resp, MACRO_MAX_REQUEST + ANSWER_SLACK);
        worker_handle(req, len, &resp);
        free(req);
        bool ok = write_frame(1, resp.data ? resp.data : "", resp.len);
        buf_free(&resp);
        if (!ok)
            return 1;
    }
}

/* ========================================================================================== */
/* Engine side: the runner                                                                     */

typedef struct mworker {
    pid_t pid; /* -1: no process (its start failed; retried when the slot is next used) */
    int fd;    /* our end of the socket pair, -1 with no process */
    bool ready; /* its ready frame was read */
    bool busy;  /* taken by a macro_run */
} mworker;

struct macro_runner {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char **argv; /* owned, NULL-terminated */
    macro_limits lim;
    unsigned n;
    mworker *w;
};

typedef enum { IO_OK, IO_TIMEOUT, IO_EOF, IO_ERROR, IO_TOOBIG } io_status;

/* Waits until fd is ready for events or the deadline (mono ms) passes. */
static io_status wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return IO_TIMEOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (n > 0)
            return IO_OK; /* readiness, hang-up or error: the next send/recv tells which */
        if (n < 0 && errno != EINTR)
            return IO_ERROR;
    }
}

static io_status send_all(int fd, const char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k, n -= (size_t)k;
        } else if (k < 0 && errno == EINTR) {
            continue;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            io_status st = wait_fd(fd, POLLOUT, deadline);
            if (st != IO_OK)
                return st;
        } else {
            return k < 0 && errno != EPIPE && errno != ECONNRESET ? IO_ERROR : IO_EOF;
        }
    }
    return IO_OK;
}

static io_status recv_all(int fd, char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t k = recv(fd, p, n, 0);
        if (k > 0) {
            p += k, n -= (size_t)k;
        } else if (k == 0) {
            return IO_EOF;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            io_status st = wait_fd(fd, POLLIN, deadline);
            if (st != IO_OK)
                return st;
        } else {
            return errno == ECONNRESET ? IO_EOF : IO_ERROR;
        }
    }
    return IO_OK;
}

/* Receives one frame of at most max bytes into a new NUL-terminated *out (caller frees). */
static io_status recv_frame(int fd, size_t max, int64_t deadline, char **out, size_t *len)
{
    unsigned char hdr[4];
    io_status st = recv_all(fd, (char *)hdr, 4, deadline);
    if (st != IO_OK)
        return st;
    size_t n = get_be32(hdr);
    if (n > max)
        return IO_TOOBIG;
    char *p = xmalloc(n + 1);
    st = recv_all(fd, p, n, deadline);
    if (st != IO_OK) {
        free(p);
        return st;
    }
    p[n] = 0;
    *out = p;
    *len = n;
    return IO_OK;
}

/* Waits up to ms for pid to exit; true once it is reaped (or is not our child any more). */
static bool wait_exit(pid_t pid, int64_t ms, int *status)
{
    int64_t end = mono_ms() + ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR))
            return true;
        if (mono_ms() >= end)
            return false;
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void kill_and_reap(pid_t pid, int *status)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, status, 0) < 0 && errno == EINTR)
        ;
}

/* Closes w's socket and ends its process: waits up to grace_ms for it to exit by itself, then
 * SIGKILLs it. Returns the wait status, or -1 when none was seen. */
static int worker_end(mworker *w, int64_t grace_ms)
{
    int status = -1;
    if (w->fd >= 0)
        close(w->fd);
    if (w->pid > 0 && !wait_exit(w->pid, grace_ms, &status))
        kill_and_reap(w->pid, &status);
    w->fd = -1;
    w->pid = -1;
    w->ready = false;
    return status;
}

static void describe_status(int status, char *out, size_t n)
{
    if (status != -1 && WIFSIGNALED(status)) {
        const char *abbrev = sigabbrev_np(WTERMSIG(status));
        snprintf(out, n, "was killed by signal %d (SIG%s)", WTERMSIG(status), abbrev ? abbrev : "?");
    } else if (status != -1 && WIFEXITED(status)) {
        snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
    } else {
        snprintf(out, n, "closed its connection");
    }
}

/* Starts a worker process in slot w: the child gets the socket as stdin and stdout, keeps
 * stderr, and nothing else; default signal dispositions and an empty signal mask. */
static int worker_spawn(const macro_runner *r, mworker *w, sl_error *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return sl_fail(err, SL_EEXEC, "macro", "cannot create a socket pair for a macro worker: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = posix_spawn(&pid, r->argv[0], &fa, &attr, r->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        return sl_fail(err, SL_EEXEC, "macro", "cannot start the macro worker %s: %s", r->argv[0], strerror(rc));
    }
    int fl = fcntl(sv[0], F_GETFL);
    if (fl < 0 || fcntl(sv[0], F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        w->fd = sv[0], w->pid = pid;
        worker_end(w, 0);
        return sl_fail(err, SL_EEXEC, "macro", "cannot set up the macro worker's socket: %s", strerror(e));
    }
    w->pid = pid;
    w->fd = sv[0];
    w->ready = false;
    return 0;
}

/* Replaces w's process after a failure; a failed start leaves the slot empty to retry later. */
static void worker_restart(const macro_runner *r, mworker *w)
{
    sl_error e = {0};
    if (worker_spawn(r, w, &e) != 0)
        log_warn("macro", "cannot restart a macro worker", "error", e.msg, NULL);
}

/* Reads a new worker's ready frame (not charged to any macro's time). */
static int await_ready(mworker *w, sl_error *err)
{
    char *msg = NULL;
    size_t len = 0;
    io_status st = recv_frame(w->fd, 64, mono_ms() + MACRO_START_MS, &msg, &len);
    bool ok = st == IO_OK && len == strlen(READY_FRAME) && memcmp(msg, READY_FRAME, len) == 0;
    free(msg);
    if (ok) {
        w->ready = true;
        return 0;
    }
    int status = worker_end(w, st == IO_EOF ? 200 : 0);
    char how[96];
    if (st == IO_TIMEOUT)
        snprintf(how, sizeof how, "it was not ready within %d ms", MACRO_START_MS);
    else if (st == IO_OK || st == IO_TOOBIG)
        snprintf(how, sizeof how, "it is not a macro worker: its first message was wrong");
    else
        describe_status(status, how, sizeof how);
    return sl_fail(err, SL_EEXEC, "macro", "the macro worker did not start (%s)", how);
}

/* The answer's changed values must name values that were passed in, with their contentType. */
static bool changed_ok(const jv *changed, const jv *values)
{
    for (void *it = jv_obj_iter(changed); it; it = jv_obj_next(changed, it)) {
        const jv *e = jv_obj_value(it), *in = jv_get(values, jv_obj_key(it));
        const jv *cv = jv_get(e, "contentValue"), *od = jv_get(e, "objectData");
        if (!jv_is_object(e) || !jv_is_object(in) || !str_eq(jv_get_str(e, "contentType"), jv_get_str(in, "contentType")) ||
            !(jv_is_null(cv) || jv_is_string(cv)) || !(jv_is_null(od) || jv_is_array(od)))
            return false;
    }
    return true;
}

static int decode_answer(const char *text, size_t len, const jv *values, jv **changed, bool *bad, sl_error *err)
{
    sl_error perr = {0};
    jv *v = jv_parse(text, len, &perr);
    jv *ch = jv_get(v, "changed");
    const char *kind = jv_get_str(v, "kind"), *msg = jv_get_str(v, "error");
    int rc;
    *bad = false;
    if (jv_is_object(ch) && changed_ok(ch, values)) {
        *changed = jv_incref(ch);
        rc = 0;
    } else if (msg && str_eq(kind, "script")) {
        rc = sl_fail(err, SL_EINVAL, "macro", "macro failed: %s", msg);
    } else if (msg && str_eq(kind, "output")) {
        rc = sl_fail(err, SL_ETOOBIG, "macro", "%s", msg);
    } else if (msg && str_eq(kind, "request")) {
        rc = sl_fail(err, SL_EIO, "macro", "the macro worker refused the request: %s", msg);
    } else {
        *bad = true;
        rc = sl_fail(err, SL_EIO, "macro", "the macro worker sent a malformed answer");
    }
    jv_free(v);
    return rc;
}

/* One request/answer with the worker in slot w (owned by the caller). */
static int exchange(macro_runner *r, mworker *w, const buf *req, const jv *values, jv **changed, sl_error *err)
{
    int rc = w->pid < 0 ? worker_spawn(r, w, err) : 0;
    if (rc == 0 && !w->ready)
        rc = await_ready(w, err);
    if (rc != 0)
        return rc;
    int64_t deadline = mono_ms() + r->lim.time_ms;
    size_t cap = r->lim.max_output + ANSWER_SLACK;
    char *answer = NULL;
    size_t len = 0;
    io_status st = send_all(w->fd, req->data, req->len, deadline);
    if (st == IO_OK)
        st = recv_frame(w->fd, cap, deadline, &answer, &len);
    if (st == IO_OK) {
        bool bad = false;
        rc = decode_answer(answer, len, values, changed, &bad, err);
        free(answer);
        if (bad) {
            worker_end(w, 0);
            worker_restart(r, w);
        }
        return rc;
    }
    int status = worker_end(w, st == IO_EOF ? 200 : 0);
    worker_restart(r, w);
    if (st == IO_TIMEOUT)
        return sl_fail(err, SL_ETIMEOUT, "macro", "macro ran over its time budget of %lld ms", (long long)r->lim.time_ms);
    if (st == IO_TOOBIG)
        return sl_fail(err, SL_EIO, "macro", "the macro worker sent an answer of more than %zu bytes", cap);
    char how[96];
    describe_status(status, how, sizeof how);
    return sl_fail(err, SL_EIO, "macro", "the macro worker %s while running the macro", how);
}

/* Frames the request: {"memoryBytes", "maxOutput", "code", "values"}. */
static int build_request(const macro_runner *r, const char *code, const jv *values, buf *req, sl_error *err)
{
    jv *c = jv_new_str(code);
    if (!c)
        return sl_fail(err, SL_EINVAL, "macro", "the macro's code is not valid UTF-8");
    buf_init(req, MACRO_MAX_REQUEST + 4);
    int rc = buf_append(req, "\0\0\0\0", 4);
    if (rc == 0)
        rc = buf_printf(req, "{\"memoryBytes\":%zu,\"maxOutput\":%zu,\"code\":", r->lim.memory_bytes,
                        r->lim.max_output);
    if (rc == 0)
        rc = jv_dump(c, req);
    if (rc == 0)
        rc = buf_puts(req, ",\"values\":");
    if (rc == 0)
        rc = values ? jv_dump(values, req) : buf_puts(req, "{}");
    if (rc == 0)
        rc = buf_putc(req, '}');
    jv_free(c);
    if (rc != 0) {
        buf_free(req);
        return sl_fail(err, SL_ETOOBIG, "macro", "the macro's code and values take more than %zu bytes",
                       MACRO_MAX_REQUEST);
    }
    put_be32((unsigned char *)req->data, (uint32_t)(req->len - 4));
    return 0;
}

int macro_run(macro_runner *r, const char *code, const jv *values, jv **changed, sl_error *err)
{
    if (changed)
        *changed = NULL;
    if (!r || !code || !changed)
        return sl_fail(err, SL_EINVAL, "macro", "macro_run needs a runner, code and a place for the result");
    if (values && !jv_is_object(values))
        return sl_fail(err, SL_EINVAL, "macro", "the macro's values must be a JSON object");
    buf req;
    int rc = build_request(r, code, values, &req, err);
    if (rc)
        return rc;

    pthread_mutex_lock(&r->mu);
    mworker *w = NULL;
    while (!w) {
        for (unsigned i = 0; i < r->n && !w; i++)
            if (!r->w[i].busy)
                w = &r->w[i];
        if (!w)
            pthread_cond_wait(&r->cv, &r->mu);
    }
    w->busy = true;
    pthread_mutex_unlock(&r->mu);

    rc = exchange(r, w, &req, values, changed, err);

    pthread_mutex_lock(&r->mu);
    w->busy = false;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    buf_free(&req);
    return rc;
}

int macro_runner_start(const char *const *worker_argv, unsigned workers, const macro_limits *lim,
                       macro_runner **out, sl_error *err)
{
    if (out)
        *out = NULL;
    if (!worker_argv || !worker_argv[0] || !out)
        return sl_fail(err, SL_EINVAL, "macro", "macro_runner_start needs a worker command and a place for the runner");
    macro_limits l = lim ? *lim : (macro_limits){0};
    if (l.time_ms == 0)
        l.time_ms = MACRO_DEFAULT_TIME_MS;
    if (l.memory_bytes == 0)
        l.memory_bytes = MACRO_DEFAULT_MEMORY;
    if (l.max_output == 0)
        l.max_output = MACRO_DEFAULT_OUTPUT;
    if (workers == 0)
        workers = MACRO_DEFAULT_WORKERS;
    if (l.time_ms < 0 || l.time_ms > MACRO_MAX_TIME_MS)
        return sl_fail(err, SL_EINVAL, "macro", "the macro time budget must be 1 to %d ms", MACRO_MAX_TIME_MS);
    if (l.memory_bytes < MACRO_MIN_MEMORY || l.memory_bytes > MACRO_MAX_MEMORY)
        return sl_fail(err, SL_EINVAL, "macro", "the macro memory cap must be %zu to %zu bytes", MACRO_MIN_MEMORY,
                       MACRO_MAX_MEMORY);
    if (l.max_output > MACRO_MAX_REQUEST)
        return sl_fail(err, SL_EINVAL, "macro", "the macro output limit must be at most %zu bytes", MACRO_MAX_REQUEST);
    if (workers > MACRO_MAX_WORKERS)
        return sl_fail(err, SL_EINVAL, "macro", "at most %d macro workers", MACRO_MAX_WORKERS);
    size_t argc = 0;
    while (worker_argv[argc])
        argc++;

    macro_runner *r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->argv = xcalloc(argc + 1, sizeof *r->argv);
    for (size_t i = 0; i < argc; i++)
        r->argv[i] = xstrdup(worker_argv[i]);
    r->lim = l;
    r->n = workers;
    r->w = xcalloc(workers, sizeof *r->w);
    for (unsigned i = 0; i < workers; i++)
        r->w[i] = (mworker){.pid = -1, .fd = -1};
    int rc = 0;
    for (unsigned i = 0; i < workers && rc == 0; i++)
        rc = worker_spawn(r, &r->w[i], err);
    for (unsigned i = 0; i < workers && rc == 0; i++)
        rc = await_ready(&r->w[i], err);
    if (rc != 0) {
        macro_runner_stop(r);
        return rc;
    }
    *out = r;
    return 0;
}

void macro_runner_stop(macro_runner *r)
{
    if (!r)
        return;
    /* End of input asks each worker to exit; SIGTERM and then SIGKILL follow for stragglers. */
    for (unsigned i = 0; i < r->n; i++) {
        if (r->w[i].fd >= 0)
            close(r->w[i].fd);
        r->w[i].fd = -1;
    }
    for (int step = 0; step < 3; step++) {
        int sig = step == 0 ? 0 : step == 1 ? SIGTERM : SIGKILL;
        for (unsigned i = 0; i < r->n; i++)
            if (sig && r->w[i].pid > 0)
                kill(r->w[i].pid, sig);
        int64_t end = mono_ms() + 500;
        for (unsigned i = 0; i < r->n; i++) {
            mworker *w = &r->w[i];
            int status;
            int64_t left = end - mono_ms();
            if (w->pid <= 0)
                continue;
            if (sig == SIGKILL)
                kill_and_reap(w->pid, &status);
            else if (!wait_exit(w->pid, left > 0 ? left : 0, &status))
                continue;
            w->pid = -1;
        }
    }
    for (size_t i = 0; r->argv && r->argv[i]; i++)
        free(r->argv[i]);
    free(r->argv);
    free(r->w);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
