/* validate: small helpers the component validators share (processes, connectors): a context
 * naming the file and the problem list, a problem at a JSON pointer, and the member checks every
 * component makes (unknown members, required strings, names). Header-only (static inline) so
 * each validator keeps its short local names. */
#ifndef SLUICE_VALIDATE_H
#define SLUICE_VALIDATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

#include "core/json.h"
#include "core/util.h"

typedef struct pctx {
    const char *file;
    sl_problems *pr;
} pctx;

static inline void problem(pctx *c, const char *base, const char *token, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds a problem at base (+ "/token" when token is non-NULL). */
static inline void problem(pctx *c, const char *base, const char *token, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problems_vadd_at(c->pr, c->file, base, token, fmt, ap);
    va_end(ap);
}

static inline size_t problem_count(const sl_problems *pr)
{
    return pr->n + pr->dropped;
}

/* A string without embedded NUL, or NULL. */
static inline const char *plain_str(const jv *v)
{
    const char *s = jv_str(v);
    if (!s || strlen(s) != jv_str_len(v))
        return NULL;
    return s;
}

/* Text of 1..max code points without control characters. */
static inline bool name_ok(const char *s, size_t max)
{
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7F || (p[0] == 0xC2 && p[1] >= 0x80 && p[1] <= 0x9F))
            return false;
        if ((*p & 0xC0) != 0x80)
            chars++;
    }
    return chars >= 1 && chars <= max;
}

/* Copies at most ~48 bytes of s for messages, cut on a UTF-8 boundary with "…". */
static inline const char *snip(const char *s, char out[64])
{
    return str_snip(s, strlen(s), out);
}

static inline void check_members(pctx *c, const jv *obj, const char *ptr, const char *const *known, const char *what)
{
    for (void *it = jv_obj_iter(obj); it; it = jv_obj_next(obj, it)) {
        const char *key = jv_obj_key(it);
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok) {
            char sn[64];
            problem(c, ptr, key, "unknown member \"%s\" in %s", snip(key, sn), what);
        }
    }
}

/* A string member; reports missing (when required) and wrong types. NULL when unusable. */
static inline const char *get_str(pctx *c, const jv *obj, const char *ptr, const char *key, bool required)
{
    const jv *v = jv_get(obj, key);
    if (!v) {
        if (required)
            problem(c, ptr, NULL, "missing required member \"%s\"", key);
        return NULL;
    }
    const char *s = plain_str(v);
    if (!s || !*s) {
        problem(c, ptr, key, "%s must be a non-empty string", key);
        return NULL;
    }
    return s;
}

#endif
