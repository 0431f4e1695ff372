/* value: VALUE expressions, PATHs and functions (see value.h and docs/components.md).
 *
 * Design: parsing validates everything that can be known without a document — forms, function
 * names, arity, option types, date patterns and number formats are compiled here — so that
 * evaluation only fails on data (a value that is not a number, a date that does not match).
 * Evaluation is a recursive walk appending text to a bounded buf; every intermediate result is
 * text. Numbers are formatted from their decimal digits (number_format rounds half-up on the
 * decimal text, not on the binary double, so 2.675 becomes 2.68 as people expect). Dates are
 * handled as broken-down fields with the proleptic Gregorian calendar, UTC only.
 */
#include "atom/value.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { VAL_ELEMENT, VAL_CONST, VAL_PROPERTY, VAL_FN } value_kind;

typedef enum {
    FN_CONCAT,
    FN_UPPER,
    FN_LOWER,
    FN_TRIM,
    FN_SUBSTRING,
    FN_DEFAULT,
    FN_DATE_FORMAT,
    FN_NUMBER_FORMAT,
    FN_ADD,
    FN_SUBTRACT,
    FN_MULTIPLY,
    FN_DIVIDE,
    FN_LENGTH,
    FN_COUNT,
} value_fn;

/* Function table: name, arity range and the options each function accepts. */
typedef struct fn_spec {
    const char *name;
    value_fn fn;
    size_t min_args, max_args;
    const char *options[3];
} fn_spec;

static const fn_spec fn_specs[] = {
    {"concat", FN_CONCAT, 1, 1000, {"separator", NULL, NULL}},
    {"upper", FN_UPPER, 1, 1, {NULL, NULL, NULL}},
    {"lower", FN_LOWER, 1, 1, {NULL, NULL, NULL}},
    {"trim", FN_TRIM, 1, 1, {NULL, NULL, NULL}},
    {"substring", FN_SUBSTRING, 1, 1, {"start", "length", NULL}},
    {"default", FN_DEFAULT, 2, 1000, {NULL, NULL, NULL}},
    {"date_format", FN_DATE_FORMAT, 1, 1, {"inputFormat", "outputFormat", NULL}},
    {"number_format", FN_NUMBER_FORMAT, 1, 1, {"format", NULL, NULL}},
    {"add", FN_ADD, 2, 2, {NULL, NULL, NULL}},
    {"subtract", FN_SUBTRACT, 2, 2, {NULL, NULL, NULL}},
    {"multiply", FN_MULTIPLY, 2, 2, {NULL, NULL, NULL}},
    {"divide", FN_DIVIDE, 2, 2, {NULL, NULL, NULL}},
    {"length", FN_LENGTH, 1, 1, {NULL, NULL, NULL}},
    {"count", FN_COUNT, 1, 1, {NULL, NULL, NULL}},
};
#define NFN (sizeof fn_specs / sizeof fn_specs[0])

/* ---- compiled date patterns ---- */
typedef enum {
    DT_LIT,
    DT_YEAR4,
    DT_YEAR2,
    DT_MONTH2,
    DT_MONTH1,
    DT_DAY2,
    DT_DAY1,
    DT_HOUR2,
    DT_HOUR1,
    DT_MIN2,
    DT_MIN1,
    DT_SEC2,
    DT_SEC1,
    DT_MILLIS,
    DT_ZONE,
} dt_kind;

typedef struct dt_tok {
    dt_kind kind;
    char *lit; /* DT_LIT */
    size_t litlen;
} dt_tok;

typedef struct date_pattern {
    char *text;
    dt_tok *toks;
    size_t n;
} date_pattern;

static const char boomi_date_pattern[] = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'";

/* ---- compiled number formats ---- */
#define NUMFMT_MAX_DIGITS 40

typedef struct num_format {
    char *text;
    int min_int;   /* '0's in the integer part */
    int group;     /* grouping size, 0 = no grouping */
    int min_frac;  /* '0's after the point */
    int max_frac;  /* '0's and '#'s after the point */
} num_format;

struct value {
    value_kind kind;
    char *ptr;
    value_path path;   /* VAL_ELEMENT */
    char *text;        /* VAL_CONST text, VAL_PROPERTY name */
    size_t len;
    value_fn fn;
    value **args;
    size_t nargs;
    char *separator;   /* concat */
    int64_t start;     /* substring */
    int64_t length;    /* substring; < 0 = to the end */
    date_pattern in_fmt, out_fmt;
    num_format numfmt;
    size_t iterations;
    const value_path *driver;
};

/* ------------------------------------------------------------------------------------------ */
/* helpers                                                                                     */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Copies at most ~48 bytes of s (cut on a UTF-8 boundary, "…" appended) for messages. */
static const char *snip(const char *s, size_t n, char out[64])
{
    return str_snip(s, n, out);
}


static size_t problem_count(const sl_problems *pr)
{
    return pr->n + pr->dropped;
}

/* Number of UTF-8 code points in s[0..n). */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

/* Byte offset after skipping k code points of s[0..n) (n when the text is shorter). */
static size_t utf8_skip(const char *s, size_t n, int64_t k)
{
    size_t i = 0;
    while (k > 0 && i < n) {
        i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
            i++;
        k--;
    }
    return i;
}

/* ------------------------------------------------------------------------------------------ */
/* paths                                                                                       */

void value_path_free(value_path *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nseg; i++)
        free(p->names[i]);
    free(p->names);
    free(p->iter);
    free(p->text);
    memset(p, 0, sizeof *p);
}

int value_path_parse(const char *text, value_path *out, char *msg, size_t msgsz)
{
    if (!text || !*text) {
        snprintf(msg, msgsz, "a path must not be empty");
        return SL_EINVAL;
    }
    size_t nseg = 1;
    for (const char *s = text; *s; s++)
        if (*s == '/')
            nseg++;
    if (nseg > VALUE_MAX_PATH_SEGMENTS) {
        snprintf(msg, msgsz, "a path has at most %d segments (a profile has at most %d levels)",
                 VALUE_MAX_PATH_SEGMENTS, PROFILE_MAX_DEPTH);
        return SL_EINVAL;
    }
    value_path p = {0};
    p.names = xcalloc(nseg, sizeof *p.names);
    p.iter = xcalloc(nseg, sizeof *p.iter);
    const char *s = text;
    for (size_t i = 0; i < nseg; i++) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        bool iter = n >= 2 && s[n - 2] == '[' && s[n - 1] == ']';
        size_t namelen = iter ? n - 2 : n;
        if (namelen == 0) {
            char sn[64];
            snprintf(msg, msgsz, "segment %zu of path \"%s\" has no element name", i + 1, snip(text, strlen(text), sn));
            p.nseg = i;
            value_path_free(&p);
            return SL_EINVAL;
        }
        p.names[i] = xstrndup(s, namelen);
        p.iter[i] = iter;
        p.niter += iter;
        p.nseg = i + 1;
        s = e ? e + 1 : s + n;
    }
    p.text = xstrdup(text);
    *out = p;
    return 0;
}

int value_path_resolve(const profile_elem *root, const value_path *p, const profile_elem **out,
                       char *msg, size_t msgsz)
{
    const profile_elem *e = root;
    char sn[64];
    for (size_t i = 0; i < p->nseg; i++) {
        const char *name = p->names[i];
        if (e->type != PE_OBJECT && e->type != PE_ARRAY) {
            snprintf(msg, msgsz, "\"%s\" is a %s element and has no children", snip(e->name, strlen(e->name), sn),
                     pe_type_name(e->type));
            return SL_EINVAL;
        }
        if (i > 0 && e->type == PE_ARRAY && !p->iter[i - 1]) {
            snprintf(msg, msgsz, "\"%s\" is an Array: write \"%s[]\" to reach the fields of its items",
                     snip(e->name, strlen(e->name), sn), sn);
            return SL_EINVAL;
        }
        const profile_elem *c = profile_child(e, name);
        if (!c) {
            if (i == 0)
                snprintf(msg, msgsz, "no element \"%s\" at the top of the profile", snip(name, strlen(name), sn));
            else
                snprintf(msg, msgsz, "no element \"%s\" in \"%s\"", snip(name, strlen(name), sn), e->name);
            return SL_EINVAL;
        }
        if (p->iter[i] && c->type != PE_ARRAY) {
            snprintf(msg, msgsz, "\"%s\" is not an Array (it is %s): remove the \"[]\"",
                     snip(name, strlen(name), sn), pe_type_name(c->type));
            return SL_EINVAL;
        }
        e = c;
    }
    *out = e;
    return 0;
}

const jv *value_lookup(const jv *doc, const value_path *p, const size_t *index, size_t nindex)
{
    const jv *cur = doc;
    size_t level = 0;
    for (size_t i = 0; i < p->nseg; i++) {
        if (!cur || !jv_is_object(cur))
            return NULL;
        cur = jv_get(cur, p->names[i]);
        if (!cur)
            return NULL;
        if (p->iter[i]) {
            if (!jv_is_array(cur))
                return NULL;
            size_t k = level < nindex ? index[level] : 0;
            level++;
            cur = jv_at(cur, k);
        }
    }
    return cur;
}

int value_text_of(const jv *v, buf *out)
{
    if (!v)
        return 0;
    switch (jv_typeof(v)) {
    case JV_NULL:
        return 0;
    case JV_BOOL:
        return buf_puts(out, jv_bool(v) ? "true" : "false");
    case JV_INT:
        return buf_printf(out, "%" PRId64, jv_int(v));
    case JV_REAL: {
        char tmp[32];
        jv_format_double(jv_num(v), tmp);
        return buf_puts(out, tmp);
    }
    case JV_STRING:
        return buf_append(out, jv_str(v), jv_str_len(v));
    case JV_ARRAY:
    case JV_OBJECT:
        return jv_dump(v, out);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* date patterns                                                                               */

static void date_pattern_free(date_pattern *dp)
{
    for (size_t i = 0; i < dp->n; i++)
        free(dp->toks[i].lit);
    free(dp->toks);
    free(dp->text);
    memset(dp, 0, sizeof *dp);
}

static void dp_add_lit(date_pattern *dp, const char *s, size_t n)
{
    if (n == 0)
        return;
    dt_tok *last = dp->n ? &dp->toks[dp->n - 1] : NULL;
    if (!last || last->kind != DT_LIT) {
        dp->toks = xrealloc(dp->toks, (dp->n + 1) * sizeof *dp->toks);
        last = &dp->toks[dp->n++];
        last->kind = DT_LIT;
        last->lit = NULL;
        last->litlen = 0;
    }
    last->lit = xrealloc(last->lit, last->litlen + n + 1);
    memcpy(last->lit + last->litlen, s, n);
    last->litlen += n;
    last->lit[last->litlen] = '\0';
}

static void dp_add(date_pattern *dp, dt_kind k)
{
    dp->toks = xrealloc(dp->toks, (dp->n + 1) * sizeof *dp->toks);
    dp->toks[dp->n++] = (dt_tok){k, NULL, 0};
}

/* Compiles a Java-style date pattern. Returns 0, or SL_EINVAL with msg. */
static int date_pattern_compile(const char *text, date_pattern *out, char *msg, size_t msgsz)
{
    date_pattern dp = {0};
    const char *s = text;
    while (*s) {
        char c = *s;
        if (c == '\'') {
            if (s[1] == '\'') { /* '' is a quote */
                dp_add_lit(&dp, "'", 1);
                s += 2;
                continue;
            }
            s++;
            for (;;) {
                if (!*s) {
                    char sn[64];
                    snprintf(msg, msgsz, "unterminated quoted text in date pattern \"%s\"", snip(text, strlen(text), sn));
                    date_pattern_free(&dp);
                    return SL_EINVAL;
                }
                if (*s == '\'') {
                    if (s[1] == '\'') {
                        dp_add_lit(&dp, "'", 1);
                        s += 2;
                        continue;
                    }
                    s++;
                    break;
                }
                dp_add_lit(&dp, s, 1);
                s++;
            }
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            size_t n = 1;
            while (s[n] == c)
                n++;
            int k = -1;
            switch (c) {
            case 'y': k = n == 4 ? DT_YEAR4 : n == 2 ? DT_YEAR2 : -1; break;
            case 'M': k = n == 2 ? DT_MONTH2 : n == 1 ? DT_MONTH1 : -1; break;
            case 'd': k = n == 2 ? DT_DAY2 : n == 1 ? DT_DAY1 : -1; break;
            case 'H': k = n == 2 ? DT_HOUR2 : n == 1 ? DT_HOUR1 : -1; break;
            case 'm': k = n == 2 ? DT_MIN2 : n == 1 ? DT_MIN1 : -1; break;
            case 's': k = n == 2 ? DT_SEC2 : n == 1 ? DT_SEC1 : -1; break;
            case 'S': k = n == 3 ? DT_MILLIS : -1; break;
            case 'Z': k = n == 1 ? DT_ZONE : -1; break;
            default: break;
            }
            if (k < 0) {
                char sn[64];
                snprintf(msg, msgsz,
                         "unsupported letters \"%.*s\" in date pattern \"%s\" (use yyyy, yy, MM, M, "
                         "dd, d, HH, H, mm, m, ss, s, SSS, Z, and quote literal text as in 'T')",
                         (int)(n > 8 ? 8 : n), s, snip(text, strlen(text), sn));
                date_pattern_free(&dp);
                return SL_EINVAL;
            }
            dp_add(&dp, (dt_kind)k);
            s += n;
            continue;
        }
        dp_add_lit(&dp, s, 1);
        s++;
    }
    if (dp.n == 0) {
        snprintf(msg, msgsz, "a date pattern must not be empty");
        return SL_EINVAL;
    }
    dp.text = xstrdup(text);
    *out = dp;
    return 0;
}

typedef struct dt_fields {
    int year, month, day, hour, minute, second, millis;
    int offset_min; /* zone offset of the parsed text */
} dt_fields;

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int64_t y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Reads between min and max digits at *p. */
static bool read_digits(const char **p, const char *end, int min, int max, int *out)
{
    int v = 0, n = 0;
    const char *s = *p;
    while (n < max && s < end && is_digit(*s)) {
        v = v * 10 + (*s - '0');
        s++;
        n++;
    }
    if (n < min)
        return false;
    *p = s;
    *out = v;
    return true;
}

/* Parses text[0..n) with a pattern into UTC fields. Returns false when it does not match. */
static bool date_parse(const date_pattern *dp, const char *text, size_t n, dt_fields *f)
{
    *f = (dt_fields){1970, 1, 1, 0, 0, 0, 0, 0};
    const char *p = text, *end = text + n;
    for (size_t i = 0; i < dp->n; i++) {
        const dt_tok *t = &dp->toks[i];
        bool ok = true;
        switch (t->kind) {
        case DT_LIT:
            ok = (size_t)(end - p) >= t->litlen && memcmp(p, t->lit, t->litlen) == 0;
            if (ok)
                p += t->litlen;
            break;
        case DT_YEAR4: ok = read_digits(&p, end, 4, 4, &f->year); break;
        case DT_YEAR2:
            ok = read_digits(&p, end, 2, 2, &f->year);
            f->year += 2000;
            break;
        case DT_MONTH2: ok = read_digits(&p, end, 2, 2, &f->month); break;
        case DT_MONTH1: ok = read_digits(&p, end, 1, 2, &f->month); break;
        case DT_DAY2: ok = read_digits(&p, end, 2, 2, &f->day); break;
        case DT_DAY1: ok = read_digits(&p, end, 1, 2, &f->day); break;
        case DT_HOUR2: ok = read_digits(&p, end, 2, 2, &f->hour); break;
        case DT_HOUR1: ok = read_digits(&p, end, 1, 2, &f->hour); break;
        case DT_MIN2: ok = read_digits(&p, end, 2, 2, &f->minute); break;
        case DT_MIN1: ok = read_digits(&p, end, 1, 2, &f->minute); break;
        case DT_SEC2: ok = read_digits(&p, end, 2, 2, &f->second); break;
        case DT_SEC1: ok = read_digits(&p, end, 1, 2, &f->second); break;
        case DT_MILLIS: ok = read_digits(&p, end, 3, 3, &f->millis); break;
        case DT_ZONE:
            if (p < end && (*p == 'Z' || *p == 'z')) {
                p++;
            } else if (p < end && (*p == '+' || *p == '-')) {
                int sign = *p == '-' ? -1 : 1, oh = 0, om = 0;
                p++;
                ok = read_digits(&p, end, 2, 2, &oh);
                if (ok && p < end && *p == ':') {
                    p++;
                    ok = read_digits(&p, end, 2, 2, &om);
                } else if (ok && p < end && is_digit(*p)) {
                    ok = read_digits(&p, end, 2, 2, &om);
                }
                ok = ok && oh <= 23 && om <= 59;
                f->offset_min = sign * (oh * 60 + om);
            } else {
                ok = false;
            }
            break;
        }
        if (!ok)
            return false;
    }
    if (p != end)
        return false;
    if (f->month < 1 || f->month > 12 || f->day < 1 || f->day > days_in_month(f->year, f->month) ||
        f->hour > 23 || f->minute > 59 || f->second > 59)
        return false;
    if (f->offset_min) {
        int64_t mins = (days_from_civil(f->year, f->month, f->day) * 24 + f->hour) * 60 + f->minute -
                       f->offset_min;
        int64_t days = mins >= 0 ? mins / 1440 : -((-mins + 1439) / 1440);
        int64_t rem = mins - days * 1440;
        int64_t y;
        civil_from_days(days, &y, &f->month, &f->day);
        if (y < 0 || y > 9999)
            return false;
        f->year = (int)y;
        f->hour = (int)(rem / 60);
        f->minute = (int)(rem % 60);
        f->offset_min = 0;
    }
    return true;
}

static int put_padded(buf *out, int v, int width)
{
    return buf_printf(out, "%0*d", width, v);
}

static int date_format_out(const date_pattern *dp, const dt_fields *f, buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < dp->n && rc == 0; i++) {
        const dt_tok *t = &dp->toks[i];
        switch (t->kind) {
        case DT_LIT: rc = buf_append(out, t->lit, t->litlen); break;
        case DT_YEAR4: rc = put_padded(out, f->year, 4); break;
        case DT_YEAR2: rc = put_padded(out, f->year % 100, 2); break;
        case DT_MONTH2: rc = put_padded(out, f->month, 2); break;
        case DT_MONTH1: rc = put_padded(out, f->month, 1); break;
        case DT_DAY2: rc = put_padded(out, f->day, 2); break;
        case DT_DAY1: rc = put_padded(out, f->day, 1); break;
        case DT_HOUR2: rc = put_padded(out, f->hour, 2); break;
        case DT_HOUR1: rc = put_padded(out, f->hour, 1); break;
        case DT_MIN2: rc = put_padded(out, f->minute, 2); break;
        case DT_MIN1: rc = put_padded(out, f->minute, 1); break;
        case DT_SEC2: rc = put_padded(out, f->second, 2); break;
        case DT_SEC1: rc = put_padded(out, f->second, 1); break;
        case DT_MILLIS: rc = put_padded(out, f->millis, 3); break;
        case DT_ZONE: rc = buf_putc(out, 'Z'); break;
        }
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* number formats                                                                              */

/* Compiles "#,##0.00"-style formats: integer part of '#', '0' and ',' ('#'s before '0's), an
 * optional '.' followed by '0's then '#'s. Returns 0 or SL_EINVAL with msg. */
static int num_format_compile(const char *text, num_format *out, char *msg, size_t msgsz)
{
    num_format nf = {0};
    char sn[64];
    const char *s = text;
    bool seen_zero = false, seen_comma = false;
    int since_comma = 0, int_digits = 0;
    for (; *s && *s != '.'; s++) {
        if (*s == '#') {
            if (seen_zero)
                goto bad;
            since_comma++;
            int_digits++;
        } else if (*s == '0') {
            seen_zero = true;
            nf.min_int++;
            since_comma++;
            int_digits++;
        } else if (*s == ',') {
            seen_comma = true;
            since_comma = 0;
        } else {
            goto bad;
        }
    }
    if (seen_comma) {
        if (since_comma == 0)
            goto bad;
        nf.group = since_comma;
    }
    if (*s == '.') {
        s++;
        bool seen_hash = false;
        for (; *s; s++) {
            if (*s == '0' && !seen_hash)
                nf.min_frac++;
            else if (*s == '#')
                seen_hash = true;
            else
                goto bad;
            nf.max_frac++;
        }
        if (nf.max_frac == 0)
            goto bad;
    }
    if (int_digits == 0 && nf.max_frac == 0)
        goto bad;
    if (nf.min_int > NUMFMT_MAX_DIGITS || nf.max_frac > NUMFMT_MAX_DIGITS) {
        snprintf(msg, msgsz, "number format \"%s\" has more than %d digits on one side", snip(text, strlen(text), sn),
                 NUMFMT_MAX_DIGITS);
        return SL_EINVAL;
    }
    nf.text = xstrdup(text);
    *out = nf;
    return 0;
bad:
    snprintf(msg, msgsz,
             "unsupported number format \"%s\" (use '#', '0' and ',' before an optional '.' "
             "followed by '0's then '#'s, e.g. \"0\", \"0.00\" or \"#,##0.00\")",
             snip(text, strlen(text), sn));
    return SL_EINVAL;
}

/* Formats number text (JSON number grammar, spaces around allowed) with nf into out.
 * Returns 0, SL_EINVAL when the text is not a number or its exponent is out of range, or
 * SL_ETOOBIG. Rounding is half-up (away from zero) on the decimal digits. */
static int num_format_apply(const num_format *nf, const char *text, buf *out)
{
    const char *p = text;
    while (is_space(*p))
        p++;
    bool neg = false;
    if (*p == '-') {
        neg = true;
        p++;
    }
    if (!is_digit(*p))
        return SL_EINVAL;
    /* significant digits and the exponent of the last one: value = digits * 10^exp10 */
    buf digits;
    buf_init(&digits, VALUE_MAX_TEXT);
    int64_t exp10 = 0;
    int rc = 0;
    for (; is_digit(*p) && rc == 0; p++)
        rc = buf_putc(&digits, *p);
    if (*p == '.') {
        p++;
        if (!is_digit(*p))
            rc = SL_EINVAL;
        for (; is_digit(*p) && rc == 0; p++) {
            rc = buf_putc(&digits, *p);
            exp10--;
        }
    }
    if (rc == 0 && (*p == 'e' || *p == 'E')) {
        p++;
        int sign = 1;
        if (*p == '+' || *p == '-')
            sign = *p++ == '-' ? -1 : 1;
        if (!is_digit(*p))
            rc = SL_EINVAL;
        int64_t e = 0;
        for (; is_digit(*p); p++)
            if (e < 100000)
                e = e * 10 + (*p - '0');
        exp10 += sign * e;
    }
    while (is_space(*p))
        p++;
    if (rc == 0 && *p)
        rc = SL_EINVAL;
    if (rc == 0 && (exp10 > 4000 || exp10 < -4000 - (int64_t)digits.len))
        rc = SL_EINVAL;
    if (rc) {
        buf_free(&digits);
        return rc == SL_ETOOBIG ? rc : SL_EINVAL;
    }

    /* scaled = digits * 10^(exp10 + max_frac), rounded half-up to an integer */
    int64_t shift = exp10 + nf->max_frac;
    buf fixed;
    buf_init(&fixed, VALUE_MAX_TEXT);
    if (shift >= 0) {
        rc = buf_append(&fixed, digits.data, digits.len);
        for (int64_t i = 0; i < shift && rc == 0; i++)
            rc = buf_putc(&fixed, '0');
    } else {
        int64_t drop = -shift;
        size_t keep = drop >= (int64_t)digits.len ? 0 : digits.len - (size_t)drop;
        char first_dropped = drop > (int64_t)digits.len ? '0' : digits.data[keep];
        rc = buf_append(&fixed, digits.data, keep);
        if (rc == 0 && first_dropped >= '5') {
            /* add one to the kept digits */
            size_t i = fixed.len;
            while (i > 0 && fixed.data[i - 1] == '9')
                fixed.data[--i] = '0';
            if (i > 0) {
                fixed.data[i - 1]++;
            } else {
                rc = buf_putc(&fixed, '0');
                if (rc == 0) {
                    memmove(fixed.data + 1, fixed.data, fixed.len - 1);
                    fixed.data[0] = '1';
                }
            }
        }
    }
    buf_free(&digits);
    /* left-pad so there is at least one integer digit position */
    while (rc == 0 && fixed.len < (size_t)nf->max_frac + 1) {
        rc = buf_putc(&fixed, '0');
        if (rc == 0) {
            memmove(fixed.data + 1, fixed.data, fixed.len - 1);
            fixed.data[0] = '0';
        }
    }
    if (rc) {
        buf_free(&fixed);
        return rc;
    }
    const char *f = fixed.data;
    size_t int_len = fixed.len - (size_t)nf->max_frac;
    const char *frac = f + int_len;
    size_t frac_len = (size_t)nf->max_frac;
    while (frac_len > (size_t)nf->min_frac && frac[frac_len - 1] == '0')
        frac_len--;
    size_t lead = 0;
    while (lead < int_len && f[lead] == '0')
        lead++;
    const char *ip = f + lead;
    size_t ip_len = int_len - lead;
    bool nonzero = ip_len > 0;
    for (size_t i = 0; i < frac_len; i++)
        if (frac[i] != '0')
            nonzero = true;
    size_t width = ip_len > (size_t)nf->min_int ? ip_len : (size_t)nf->min_int;
    if (width == 0 && frac_len == 0)
        width = 1; /* "#" formats zero as "0" */
    if (neg && nonzero)
        rc = buf_putc(out, '-');
    for (size_t pos = 0; pos < width && rc == 0; pos++) {
        size_t from_right = width - pos; /* digits left including this one */
        char d = from_right > ip_len ? '0' : ip[ip_len - from_right];
        rc = buf_putc(out, d);
        if (rc == 0 && nf->group && from_right > 1 && (from_right - 1) % (size_t)nf->group == 0)
            rc = buf_putc(out, ',');
    }
    if (rc == 0 && frac_len) {
        rc = buf_putc(out, '.');
        if (rc == 0)
            rc = buf_append(out, frac, frac_len);
    }
    buf_free(&fixed);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* parsing values                                                                              */

void value_free(value *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->nargs; i++)
        value_free(v->args[i]);
    free(v->args);
    value_path_free(&v->path);
    free(v->text);
    free(v->separator);
    free(v->ptr);
    date_pattern_free(&v->in_fmt);
    date_pattern_free(&v->out_fmt);
    free(v->numfmt.text);
    free(v);
}

const char *value_pointer(const value *v)
{
    return v->ptr;
}

size_t value_iterations(const value *v)
{
    return v->iterations;
}

const value_path *value_driver(const value *v)
{
    return v->driver;
}

typedef struct vparse {
    const char *file;
    sl_problems *pr;
} vparse;

static const char *const value_forms[] = {"element", "const", "property", "fn"};

static bool is_option_of(const fn_spec *fs, const char *key)
{
    for (size_t i = 0; i < 3 && fs->options[i]; i++)
        if (strcmp(fs->options[i], key) == 0)
            return true;
    return false;
}

static void parse_fn_options(vparse *c, value *v, const fn_spec *fs, const jv *obj)
{
    char msg[512];
    for (void *it = jv_obj_iter(obj); it; it = jv_obj_next(obj, it)) {
        const char *key = jv_obj_key(it);
        const jv *o = jv_obj_value(it);
        if (strcmp(key, "fn") == 0 || strcmp(key, "args") == 0)
            continue;
        char sn[64];
        if (!is_option_of(fs, key)) {
            problems_add_at(c->pr, c->file, v->ptr, key, "unknown option \"%s\" for function %s",
                        snip(key, strlen(key), sn), fs->name);
            continue;
        }
        if (strcmp(key, "separator") == 0) {
            if (!jv_is_string(o) || strlen(jv_str(o)) != jv_str_len(o))
                problems_add_at(c->pr, c->file, v->ptr, key, "separator must be a string");
            else
                v->separator = xstrdup(jv_str(o));
        } else if (strcmp(key, "start") == 0 || strcmp(key, "length") == 0) {
            if (jv_typeof(o) != JV_INT || jv_int(o) < 0)
                problems_add_at(c->pr, c->file, v->ptr, key, "%s must be an integer of 0 or more", key);
            else if (key[0] == 's')
                v->start = jv_int(o);
            else
                v->length = jv_int(o);
        } else if (strcmp(key, "inputFormat") == 0 || strcmp(key, "outputFormat") == 0) {
            date_pattern *dp = key[0] == 'i' ? &v->in_fmt : &v->out_fmt;
            if (!jv_is_string(o) || strlen(jv_str(o)) != jv_str_len(o))
                problems_add_at(c->pr, c->file, v->ptr, key, "%s must be a string", key);
            else if (date_pattern_compile(jv_str(o), dp, msg, sizeof msg))
                problems_add_at(c->pr, c->file, v->ptr, key, "%s", msg);
        } else if (strcmp(key, "format") == 0) {
            if (!jv_is_string(o) || strlen(jv_str(o)) != jv_str_len(o))
                problems_add_at(c->pr, c->file, v->ptr, key, "format must be a string");
            else if (num_format_compile(jv_str(o), &v->numfmt, msg, sizeof msg))
                problems_add_at(c->pr, c->file, v->ptr, key, "%s", msg);
        }
    }
}

static value *parse_value(vparse *c, const jv *j, const char *ptr, int depth);

static void parse_fn(vparse *c, value *v, const jv *j, int depth)
{
    const jv *fnv = jv_get(j, "fn");
    char sn[64];
    if (!jv_is_string(fnv)) {
        problems_add_at(c->pr, c->file, v->ptr, "fn", "fn must be a function name (string)");
        return;
    }
    const fn_spec *fs = NULL;
    for (size_t i = 0; i < NFN; i++)
        if (strcmp(fn_specs[i].name, jv_str(fnv)) == 0)
            fs = &fn_specs[i];
    if (!fs) {
        problems_add_at(c->pr, c->file, v->ptr, "fn",
                    "unknown function \"%s\" (expected concat, upper, lower, trim, substring, default, "
                    "date_format, number_format, add, subtract, multiply, divide, length or count)",
                    snip(jv_str(fnv), jv_str_len(fnv), sn));
        return;
    }
    v->fn = fs->fn;
    v->length = -1;
    parse_fn_options(c, v, fs, j);
    if (fs->fn == FN_NUMBER_FORMAT && !jv_get(j, "format"))
        problems_add_at(c->pr, c->file, v->ptr, NULL, "number_format needs the option \"format\"");
    if (fs->fn == FN_DATE_FORMAT) { /* both patterns default to Boomi's date/time form */
        char msg[128];
        if (!v->in_fmt.n)
            date_pattern_compile(boomi_date_pattern, &v->in_fmt, msg, sizeof msg);
        if (!v->out_fmt.n)
            date_pattern_compile(boomi_date_pattern, &v->out_fmt, msg, sizeof msg);
    }

    const jv *args = jv_get(j, "args");
    if (!args) {
        problems_add_at(c->pr, c->file, v->ptr, NULL, "missing required member \"args\"");
        return;
    }
    if (!jv_is_array(args)) {
        problems_add_at(c->pr, c->file, v->ptr, "args", "args must be an array of values");
        return;
    }
    size_t n = jv_len(args);
    if (n < fs->min_args || n > fs->max_args) {
        if (fs->min_args == fs->max_args)
            problems_add_at(c->pr, c->file, v->ptr, "args", "%s takes %zu argument%s, got %zu", fs->name,
                        fs->min_args, fs->min_args == 1 ? "" : "s", n);
        else
            problems_add_at(c->pr, c->file, v->ptr, "args", "%s takes %zu to %zu arguments, got %zu",
                        fs->name, fs->min_args, fs->max_args, n);
        return;
    }
    char *aptr = pointer_join(v->ptr, "args");
    v->args = xcalloc(n, sizeof *v->args);
    for (size_t i = 0; i < n; i++) {
        char *ip = pointer_join_index(aptr, i);
        const jv *a = jv_at(args, i);
        if (fs->fn == FN_COUNT && !(jv_is_object(a) && jv_get(a, "element"))) {
            problems_add(c->pr, c->file, ip,
                         "count takes the path of an Array element: {\"element\": PATH}");
        } else {
            v->args[v->nargs++] = parse_value(c, a, ip, depth + 1);
        }
        free(ip);
    }
    free(aptr);
    if (fs->fn == FN_COUNT && v->nargs == 1 && v->args[0] && v->args[0]->kind == VAL_ELEMENT) {
        const value_path *cp = &v->args[0]->path;
        if (cp->nseg && cp->iter[cp->nseg - 1])
            problems_add_at(c->pr, c->file, v->args[0]->ptr, "element",
                        "count takes the Array itself: drop the trailing \"[]\"");
    }
}

static value *parse_value(vparse *c, const jv *j, const char *ptr, int depth)
{
    size_t before = problem_count(c->pr);
    if (!jv_is_object(j)) {
        problems_add(c->pr, c->file, ptr,
                     "a value must be an object with one of \"element\", \"const\", \"property\" or \"fn\"");
        return NULL;
    }
    if (depth > VALUE_MAX_NESTING) {
        problems_add(c->pr, c->file, ptr, "values nest more than %d levels deep", VALUE_MAX_NESTING);
        return NULL;
    }
    int form = -1, nforms = 0;
    for (int i = 0; i < 4; i++)
        if (jv_get(j, value_forms[i])) {
            form = i;
            nforms++;
        }
    if (nforms != 1) {
        problems_add(c->pr, c->file, ptr,
                     "a value needs exactly one of \"element\", \"const\", \"property\" or \"fn\"");
        return NULL;
    }
    value *v = xcalloc(1, sizeof *v);
    v->ptr = xstrdup(ptr);
    v->kind = (value_kind)form;
    v->length = -1;
    char msg[512], sn[64];
    const jv *m = jv_get(j, value_forms[form]);
    if (form != VAL_FN) {
        /* the simple forms have no other members */
        for (void *it = jv_obj_iter(j); it; it = jv_obj_next(j, it)) {
            const char *key = jv_obj_key(it);
            if (strcmp(key, value_forms[form]) != 0)
                problems_add_at(c->pr, c->file, ptr, key, "unknown member \"%s\" in a %s value",
                            snip(key, strlen(key), sn), value_forms[form]);
        }
    }
    switch (v->kind) {
    case VAL_ELEMENT:
        if (!jv_is_string(m) || strlen(jv_str(m)) != jv_str_len(m))
            problems_add_at(c->pr, c->file, ptr, "element", "element must be a path (string)");
        else if (value_path_parse(jv_str(m), &v->path, msg, sizeof msg))
            problems_add_at(c->pr, c->file, ptr, "element", "%s", msg);
        else {
            v->iterations = v->path.niter;
            v->driver = v->path.niter ? &v->path : NULL;
        }
        break;
    case VAL_CONST: {
        buf b;
        buf_init(&b, VALUE_MAX_TEXT);
        if (jv_is_string(m) || jv_is_number(m) || jv_is_bool(m)) {
            if (value_text_of(m, &b) == 0) {
                v->len = b.len;
                v->text = buf_take(&b);
            } else {
                problems_add_at(c->pr, c->file, ptr, "const", "constant too long");
            }
        } else {
            problems_add_at(c->pr, c->file, ptr, "const", "const must be a string, number or boolean");
        }
        buf_free(&b);
        break;
    }
    case VAL_PROPERTY:
        if (!jv_is_string(m) || jv_str_len(m) == 0 || strlen(jv_str(m)) != jv_str_len(m))
            problems_add_at(c->pr, c->file, ptr, "property", "property must be a non-empty name");
        else
            v->text = xstrdup(jv_str(m));
        break;
    case VAL_FN:
        parse_fn(c, v, j, depth);
        for (size_t i = 0; i < v->nargs; i++) {
            value *a = v->args[i];
            if (a && a->iterations > v->iterations) {
                v->iterations = a->iterations;
                v->driver = a->driver;
            }
        }
        break;
    }
    if (problem_count(c->pr) != before) {
        value_free(v);
        return NULL;
    }
    return v;
}

value *value_parse(const jv *v, const char *file, const char *ptr, sl_problems *problems)
{
    vparse c = {file, problems};
    return parse_value(&c, v, ptr ? ptr : "", 0);
}

/* ------------------------------------------------------------------------------------------ */
/* linking                                                                                     */

static size_t link_value(const value *v, const profile *prof, const char *file, sl_problems *pr,
                         bool count_arg)
{
    size_t added = 0;
    char msg[512], sn[64];
    if (v->kind == VAL_ELEMENT) {
        const profile_elem *e = NULL;
        if (value_path_resolve(prof->root, &v->path, &e, msg, sizeof msg)) {
            problems_add_at(pr, file, v->ptr, "element", "path \"%s\" does not fit profile \"%s\": %s",
                        snip(v->path.text, strlen(v->path.text), sn), prof->name, msg);
            return 1;
        }
        bool last_iter = v->path.iter[v->path.nseg - 1];
        if (count_arg) {
            if (e->type != PE_ARRAY || last_iter) {
                problems_add_at(pr, file, v->ptr, "element", "count needs the path of an Array element; \"%s\" is %s",
                            snip(v->path.text, strlen(v->path.text), sn),
                            last_iter ? "an item of an Array" : pe_type_name(e->type));
                return 1;
            }
        } else if (last_iter || e->type == PE_OBJECT || e->type == PE_ARRAY) {
            problems_add_at(pr, file, v->ptr, "element",
                        "path \"%s\" names %s element; use one of its fields",
                        snip(v->path.text, strlen(v->path.text), sn),
                        last_iter ? "an Array item (an Object)" : e->type == PE_OBJECT ? "an Object" : "an Array");
            return 1;
        }
        return 0;
    }
    if (v->kind == VAL_FN)
        for (size_t i = 0; i < v->nargs; i++)
            added += link_value(v->args[i], prof, file, pr, v->fn == FN_COUNT);
    return added;
}

size_t value_link(const value *v, const profile *prof, const char *file, sl_problems *problems)
{
    if (!v || !prof || !prof->root)
        return 0;
    return link_value(v, prof, file, problems, false);
}

/* ------------------------------------------------------------------------------------------ */
/* evaluation                                                                                  */

static int eval(const value *v, const value_env *env, buf *out, sl_error *err);

static int too_long(const value *v, sl_error *err)
{
    return sl_fail(err, SL_EEXEC, v->ptr, "text longer than %zu bytes", VALUE_MAX_TEXT);
}

/* Evaluates argument i into a fresh buffer (caller frees it even on failure). */
static int eval_arg(const value *v, size_t i, const value_env *env, buf *b, sl_error *err)
{
    buf_init(b, VALUE_MAX_TEXT);
    return eval(v->args[i], env, b, err);
}

/* Parses number text for arithmetic; NULL when it is not a number. */
static jv *arith_operand(const buf *b)
{
    if (strlen(b->data) != b->len)
        return NULL;
    return number_from_text(b->data);
}

static int eval_arith(const value *v, const value_env *env, buf *out, sl_error *err)
{
    buf a, b;
    int rc = eval_arg(v, 0, env, &a, err);
    if (rc == 0)
        rc = eval_arg(v, 1, env, &b, err);
    else
        buf_init(&b, 0);
    const char *name = fn_specs[v->fn].name;
    jv *x = NULL, *y = NULL;
    char sn[64];
    if (rc || a.len == 0 || b.len == 0)
        goto done; /* an empty operand gives an empty result */
    x = arith_operand(&a);
    y = arith_operand(&b);
    if (!x || !y) {
        const buf *bad = !x ? &a : &b;
        rc = sl_fail(err, SL_EEXEC, v->ptr, "%s: \"%s\" is not a number", name, snip(bad->data, bad->len, sn));
        goto done;
    }
    if (jv_typeof(x) == JV_INT && jv_typeof(y) == JV_INT) {
        int64_t p = jv_int(x), q = jv_int(y), r = 0;
        bool ovf = false, exact = true;
        switch (v->fn) {
        case FN_ADD: ovf = __builtin_add_overflow(p, q, &r); break;
        case FN_SUBTRACT: ovf = __builtin_sub_overflow(p, q, &r); break;
        case FN_MULTIPLY: ovf = __builtin_mul_overflow(p, q, &r); break;
        default:
            if (q == 0) {
                rc = sl_fail(err, SL_EEXEC, v->ptr, "divide: division by zero");
                goto done;
            }
            if (q == -1 && p == INT64_MIN)
                ovf = true;
            else if (p % q != 0)
                exact = false;
            else
                r = p / q;
            break;
        }
        if (!ovf && exact) {
            rc = buf_printf(out, "%" PRId64, r);
            if (rc)
                rc = too_long(v, err);
            goto done;
        }
    }
    double p = jv_num(x), q = jv_num(y), r;
    switch (v->fn) {
    case FN_ADD: r = p + q; break;
    case FN_SUBTRACT: r = p - q; break;
    case FN_MULTIPLY: r = p * q; break;
    default:
        if (q == 0.0) {
            rc = sl_fail(err, SL_EEXEC, v->ptr, "divide: division by zero");
            goto done;
        }
        r = p / q;
        break;
    }
    if (!isfinite(r)) {
        rc = sl_fail(err, SL_EEXEC, v->ptr, "%s: the result is not a finite number", name);
        goto done;
    }
    char tmp[32];
    jv_format_double(r, tmp);
    if (buf_puts(out, tmp))
        rc = too_long(v, err);
done:
    jv_free(x);
    jv_free(y);
    buf_free(&a);
    buf_free(&b);
    return rc;
}

static int eval_fn(const value *v, const value_env *env, buf *out, sl_error *err)
{
    const char *name = fn_specs[v->fn].name;
    char sn[64];
    buf a;
    int rc = 0;
    switch (v->fn) {
    case FN_CONCAT:
        for (size_t i = 0; i < v->nargs; i++) {
            if (i > 0 && v->separator && buf_puts(out, v->separator))
                return too_long(v, err);
            rc = eval(v->args[i], env, out, err);
            if (rc)
                return rc;
        }
        return 0;
    case FN_DEFAULT:
        for (size_t i = 0; i < v->nargs; i++) {
            rc = eval_arg(v, i, env, &a, err);
            if (rc == 0 && a.len > 0 && buf_append(out, a.data, a.len))
                rc = too_long(v, err);
            bool done = rc || a.len > 0;
            buf_free(&a);
            if (done)
                return rc;
        }
        return 0;
    case FN_ADD:
    case FN_SUBTRACT:
    case FN_MULTIPLY:
    case FN_DIVIDE:
        return eval_arith(v, env, out, err);
    case FN_COUNT: {
        const jv *arr = value_lookup(env->doc, &v->args[0]->path, env->index, env->nindex);
        if (buf_printf(out, "%zu", jv_is_array(arr) ? jv_len(arr) : (size_t)0))
            return too_long(v, err);
        return 0;
    }
    default:
        break;
    }

    /* the one-argument text functions */
    rc = eval_arg(v, 0, env, &a, err);
    if (rc) {
        buf_free(&a);
        return rc;
    }
    int brc = 0;
    switch (v->fn) {
    case FN_UPPER:
    case FN_LOWER:
        for (size_t i = 0; i < a.len; i++) {
            char c = a.data[i];
            if (v->fn == FN_UPPER && c >= 'a' && c <= 'z')
                a.data[i] = (char)(c - 'a' + 'A');
            else if (v->fn == FN_LOWER && c >= 'A' && c <= 'Z')
                a.data[i] = (char)(c - 'A' + 'a');
        }
        brc = buf_append(out, a.data, a.len);
        break;
    case FN_TRIM: {
        size_t s = 0, e = a.len;
        while (s < e && is_space(a.data[s]))
            s++;
        while (e > s && is_space(a.data[e - 1]))
            e--;
        brc = buf_append(out, a.data + s, e - s);
        break;
    }
    case FN_SUBSTRING: {
        size_t s = utf8_skip(a.data, a.len, v->start);
        size_t e = v->length < 0 ? a.len : s + utf8_skip(a.data + s, a.len - s, v->length);
        brc = buf_append(out, a.data + s, e - s);
        break;
    }
    case FN_LENGTH:
        brc = buf_printf(out, "%zu", utf8_chars(a.data, a.len));
        break;
    case FN_DATE_FORMAT: {
        if (a.len == 0)
            break;
        const date_pattern *in = &v->in_fmt, *outp = &v->out_fmt;
        char sn2[64];
        dt_fields f;
        if (!date_parse(in, a.data, a.len, &f))
            rc = sl_fail(err, SL_EEXEC, v->ptr, "%s: \"%s\" does not match the input format \"%s\"", name,
                         snip(a.data, a.len, sn), snip(in->text, strlen(in->text), sn2));
        else
            brc = date_format_out(outp, &f, out);
        break;
    }
    case FN_NUMBER_FORMAT: {
        if (a.len == 0)
            break;
        int nrc = strlen(a.data) == a.len ? num_format_apply(&v->numfmt, a.data, out) : SL_EINVAL;
        if (nrc == SL_EINVAL)
            rc = sl_fail(err, SL_EEXEC, v->ptr, "%s: \"%s\" is not a number", name, snip(a.data, a.len, sn));
        else
            brc = nrc;
        break;
    }
    default:
        break;
    }
    buf_free(&a);
    if (rc)
        return rc;
    return brc ? too_long(v, err) : 0;
}

static int eval(const value *v, const value_env *env, buf *out, sl_error *err)
{
    switch (v->kind) {
    case VAL_ELEMENT: {
        const jv *e = value_lookup(env->doc, &v->path, env->index, env->nindex);
        return value_text_of(e, out) ? too_long(v, err) : 0;
    }
    case VAL_CONST:
        return buf_append(out, v->text, v->len) ? too_long(v, err) : 0;
    case VAL_PROPERTY: {
        const jv *pv = jv_is_object(env->properties) ? jv_get(env->properties, v->text) : NULL;
        return value_text_of(pv, out) ? too_long(v, err) : 0;
    }
    case VAL_FN:
        return eval_fn(v, env, out, err);
    }
    return 0;
}

int value_eval(const value *v, const value_env *env, buf *out, sl_error *err)
{
    return eval(v, env, out, err);
}
