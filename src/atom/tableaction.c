/* tableaction: Load/Save/Delete/describe straight against database tables (see tableaction.h and
 * ../shared/conformance/service-sql/README.md for the semantics followed).
 *
 * Design:
 *   - Every call re-reads the live columns of the one table it touches (sqldb_table), so a
 *     schema change shows at once and no cache can go stale. The columns become a model: the
 *     name the client sees (the "{{ManyWhoName:…}}" alias from the column comment, else the
 *     column name), the Flow content type from the declared type (unsupported types such as
 *     time, interval, bytea or json are left out everywhere), date kind, key position and
 *     auto-increment.
 *   - SQL text is only ever built from names found in that model, quoted with
 *     sqldb_quote_ident; every value, LIMIT and OFFSET included, is a bound parameter. Unknown
 *     names are refused with a 400 naming the table and the name.
 *   - The list filter becomes one statement: WHERE (search OR-group) AND (where group, with
 *     nested listFilters as sub-groups), ORDER BY the requested columns then the key columns
 *     (stable paging), LIMIT page+1 OFFSET n; the extra row tells hasMoreResults. LIKE patterns
 *     (CONTAINS, STARTS_WITH, ENDS_WITH and search) have %, _ and \ escaped and use ESCAPE '\',
 *     so the user's text is matched literally. A where list without comparisonType means AND.
 *   - Values are typed per column before binding: booleans ("true" ignoring case) as 1/0 on
 *     SQLite and true/false on PostgreSQL, numbers checked for number syntax, date/times parsed
 *     as ISO-8601 and written in the column's storage form (DATE "YYYY-MM-DD"; naive TIMESTAMP
 *     as service-local wall time; TIMESTAMP WITH TIME ZONE as UTC "+00:00"). Read back, dates
 *     and timestamps are rendered in UTC "YYYY-MM-DDTHH:MM:SS[.f]Z" (naive values read as
 *     service-local time), booleans as "true"/"false", everything else trimmed of edge
 *     whitespace (CHAR padding).
 *   - externalId is base64 of compact JSON {key name: text} with members in Java HashMap order
 *     (README §2.5), so ids match the reference byte for byte; incoming ids accept aliases or
 *     column names in any order. Views without a primary key use every column as the key.
 *   - Save runs in one transaction: creates (externalId null/"") first, then updates, each
 *     answered by the row as stored (INSERT/UPDATE … RETURNING). Auto-increment columns are
 *     left out of INSERT and SET on PostgreSQL; on SQLite (where every sole INTEGER PRIMARY KEY
 *     is a rowid alias) only when the value is empty. An empty DATE means today (service-local).
 *   - Delete removes every object given (by externalId), in one transaction.
 *   - Statuses: 400 bad request or data, 404 unknown table/row, 409 constraint, 502 database
 *     unreachable, 503 no free connection, 504 timeout, 500 other database errors.
 */
#include "atom/tableaction.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SQL_MAX (1024 * 1024)
#define MAX_DEPTH 16
#define MAX_CONDITIONS 1000
#define POOL_SIZE 4

/* Introspected tables, kept while the database's schema version is unchanged (SQLite only:
 * PostgreSQL has no cheap schema version, so it is introspected per call). */
typedef struct cached_table {
    char *name;
    int64_t schema_version;
    jv *table;
} cached_table;

#define TABLE_CACHE 32

struct table_source {
    sqldb_config cfg;
    char **tables; /* NULL: every table of the schema */
    size_t ntables;
    int64_t max_rows;
    sqldb_pool *pool;
    pthread_mutex_t cache_mu;
    cached_table cache[TABLE_CACHE];
    size_t ncache, next_evict;
};

/* ---- column model ---- */

typedef enum { CT_STRING, CT_NUMBER, CT_BOOLEAN, CT_DATETIME } content_kind;
typedef enum { DK_NONE, DK_DATE, DK_TIMESTAMP, DK_TIMESTAMPTZ } date_kind;

static const char *const content_names[] = {"ContentString", "ContentNumber", "ContentBoolean", "ContentDateTime"};

typedef struct tcol {
    const char *name;    /* column name (borrowed from the table JSON) */
    char *display;       /* alias or name */
    bool supported;
    content_kind ct;
    const char *jdbc;    /* databaseContentType */
    date_kind dk;
    bool integer;
    bool textual;        /* a string type: searchable, LIKE without a cast */
    int64_t pk;          /* 1-based key position, 0 = not in the key */
    bool autoinc;
} tcol;

typedef struct tmodel {
    sqldb_kind kind;
    const char *name;
    jv *table; /* owned reference */
    tcol *cols;
    size_t ncols;
    size_t *keys; /* column indexes in key order */
    size_t nkeys;
    size_t nsupported;
} tmodel;

typedef struct type_rule {
    const char *base;
    content_kind ct;
    const char *jdbc;
    date_kind dk;
    bool integer, textual;
} type_rule;

static const type_rule type_rules[] = {
    {"character varying", CT_STRING, "VARCHAR", DK_NONE, false, true},
    {"varchar", CT_STRING, "VARCHAR", DK_NONE, false, true},
    {"varying character", CT_STRING, "VARCHAR", DK_NONE, false, true},
    {"nvarchar", CT_STRING, "NVARCHAR", DK_NONE, false, true},
    {"national varchar", CT_STRING, "NVARCHAR", DK_NONE, false, true},
    {"character", CT_STRING, "CHAR", DK_NONE, false, true},
    {"char", CT_STRING, "CHAR", DK_NONE, false, true},
    {"bpchar", CT_STRING, "CHAR", DK_NONE, false, true},
    {"nchar", CT_STRING, "NCHAR", DK_NONE, false, true},
    {"native character", CT_STRING, "NCHAR", DK_NONE, false, true},
    {"text", CT_STRING, "VARCHAR", DK_NONE, false, true},
    {"tinytext", CT_STRING, "LONGVARCHAR", DK_NONE, false, true},
    {"mediumtext", CT_STRING, "LONGVARCHAR", DK_NONE, false, true},
    {"longtext", CT_STRING, "LONGVARCHAR", DK_NONE, false, true},
    {"ntext", CT_STRING, "LONGNVARCHAR", DK_NONE, false, true},
    {"citext", CT_STRING, "VARCHAR", DK_NONE, false, true},
    {"name", CT_STRING, "VARCHAR", DK_NONE, false, true},
    {"string", CT_STRING, "VARCHAR", DK_NONE, false, true},
    {"clob", CT_STRING, "CLOB", DK_NONE, false, false},
    {"uuid", CT_STRING, "uuid", DK_NONE, false, false},
    {"integer", CT_NUMBER, "INTEGER", DK_NONE, true, false},
    {"int", CT_NUMBER, "INTEGER", DK_NONE, true, false},
    {"int4", CT_NUMBER, "INTEGER", DK_NONE, true, false},
    {"serial", CT_NUMBER, "INTEGER", DK_NONE, true, false},
    {"serial4", CT_NUMBER, "INTEGER", DK_NONE, true, false},
    {"mediumint", CT_NUMBER, "INTEGER", DK_NONE, true, false},
    {"smallint", CT_NUMBER, "SMALLINT", DK_NONE, true, false},
    {"int2", CT_NUMBER, "SMALLINT", DK_NONE, true, false},
    {"smallserial", CT_NUMBER, "SMALLINT", DK_NONE, true, false},
    {"tinyint", CT_NUMBER, "TINYINT", DK_NONE, true, false},
    {"bigint", CT_NUMBER, "BIGINT", DK_NONE, true, false},
    {"int8", CT_NUMBER, "BIGINT", DK_NONE, true, false},
    {"bigserial", CT_NUMBER, "BIGINT", DK_NONE, true, false},
    {"serial8", CT_NUMBER, "BIGINT", DK_NONE, true, false},
    {"unsigned big int", CT_NUMBER, "BIGINT", DK_NONE, true, false},
    {"real", CT_NUMBER, "REAL", DK_NONE, false, false},
    {"float4", CT_NUMBER, "REAL", DK_NONE, false, false},
    {"double precision", CT_NUMBER, "DOUBLE", DK_NONE, false, false},
    {"double", CT_NUMBER, "DOUBLE", DK_NONE, false, false},
    {"float8", CT_NUMBER, "DOUBLE", DK_NONE, false, false},
    {"float", CT_NUMBER, "DOUBLE", DK_NONE, false, false},
    {"numeric", CT_NUMBER, "NUMERIC", DK_NONE, false, false},
    {"decimal", CT_NUMBER, "DECIMAL", DK_NONE, false, false},
    /* SQLite: exact decimals kept as text (README §7) */
    {"decimal_text", CT_NUMBER, "NUMERIC", DK_NONE, false, false},
    {"numeric_text", CT_NUMBER, "NUMERIC", DK_NONE, false, false},
    {"boolean", CT_BOOLEAN, "BIT", DK_NONE, false, false},
    {"bool", CT_BOOLEAN, "BIT", DK_NONE, false, false},
    {"bit", CT_BOOLEAN, "BIT", DK_NONE, false, false},
    {"date", CT_DATETIME, "DATE", DK_DATE, false, false},
    {"timestamp", CT_DATETIME, "TIMESTAMP", DK_TIMESTAMP, false, false},
    {"timestamp without time zone", CT_DATETIME, "TIMESTAMP", DK_TIMESTAMP, false, false},
    {"datetime", CT_DATETIME, "TIMESTAMP", DK_TIMESTAMP, false, false},
    {"datetime2", CT_DATETIME, "TIMESTAMP", DK_TIMESTAMP, false, false},
    {"smalldatetime", CT_DATETIME, "TIMESTAMP", DK_TIMESTAMP, false, false},
    {"timestamp with time zone", CT_DATETIME, "TIMESTAMP", DK_TIMESTAMPTZ, false, false},
    {"timestamptz", CT_DATETIME, "TIMESTAMP", DK_TIMESTAMPTZ, false, false},
    {"datetimeoffset", CT_DATETIME, "datetimeoffset", DK_TIMESTAMPTZ, false, false},
};

/* Types never exposed, even where SQLite's affinity rules would find a match. */
static const char *const unsupported_types[] = {"time", "time without time zone", "time with time zone", "timetz",
                                                "interval", "point", "blob", "bytea", "binary", "varbinary",
                                                "json", "jsonb", "xml", NULL};

/* Lower case, parenthesised parts removed, blanks collapsed: "Character Varying(255)" →
 * "character varying". Writes at most n-1 bytes. */
static void base_type(const char *decl, char *out, size_t n)
{
    size_t o = 0;
    int depth = 0;
    bool space = false;
    for (const char *p = decl ? decl : ""; *p && o + 1 < n; p++) {
        char c = *p;
        if (c == '(') {
            depth++;
            continue;
        }
        if (c == ')') {
            if (depth)
                depth--;
            continue;
        }
        if (depth)
            continue;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = o > 0;
            continue;
        }
        if (space && o + 2 < n) {
            out[o++] = ' ';
            space = false;
        }
        out[o++] = (char)tolower((unsigned char)c);
    }
    out[o] = '\0';
}

static void classify(sqldb_kind kind, const char *decl, tcol *c)
{
    char base[96];
    base_type(decl, base, sizeof base);
    c->supported = false;
    size_t bl = strlen(base);
    if (bl >= 2 && strcmp(base + bl - 2, "[]") == 0)
        return; /* arrays */
    for (size_t i = 0; i < sizeof type_rules / sizeof type_rules[0]; i++)
        if (strcmp(type_rules[i].base, base) == 0) {
            c->supported = true;
            c->ct = type_rules[i].ct;
            c->jdbc = type_rules[i].jdbc;
            c->dk = type_rules[i].dk;
            c->integer = type_rules[i].integer;
            c->textual = type_rules[i].textual;
            return;
        }
    if (kind != SQLDB_SQLITE)
        return;
    for (size_t i = 0; unsupported_types[i]; i++)
        if (strcmp(unsupported_types[i], base) == 0)
            return;
    /* SQLite's own affinity rules for any other declared type. */
    if (strstr(base, "int")) {
        *c = (tcol){.name = c->name, .supported = true, .ct = CT_NUMBER, .jdbc = "INTEGER", .integer = true};
    } else if (!*base || strstr(base, "char") || strstr(base, "clob") || strstr(base, "text")) {
        *c = (tcol){.name = c->name, .supported = true, .ct = CT_STRING, .jdbc = "VARCHAR", .textual = true};
    } else if (strstr(base, "real") || strstr(base, "floa") || strstr(base, "doub")) {
        *c = (tcol){.name = c->name, .supported = true, .ct = CT_NUMBER, .jdbc = "DOUBLE"};
    }
}

/* The alias in a column comment: the text after the last "{{ManyWhoName:" up to "}}". */
static char *alias_of(const char *comment)
{
    static const char tag[] = "{{ManyWhoName:";
    const char *last = NULL;
    for (const char *p = comment; p && (p = strstr(p, tag)) != NULL; p++)
        last = p;
    if (!last)
        return NULL;
    last += sizeof tag - 1;
    const char *end = strstr(last, "}}");
    if (!end || end == last)
        return NULL;
    return xstrndup(last, (size_t)(end - last));
}

static void model_free(tmodel *m)
{
    for (size_t i = 0; i < m->ncols; i++)
        free(m->cols[i].display);
    free(m->cols);
    free(m->keys);
    jv_free(m->table);
    memset(m, 0, sizeof *m);
}

static int cmp_key(const void *a, const void *b, void *ctx)
{
    const tmodel *m = ctx;
    int64_t x = m->cols[*(const size_t *)a].pk, y = m->cols[*(const size_t *)b].pk;
    return x < y ? -1 : x > y;
}

static void model_build(sqldb_kind kind, const jv *table, tmodel *m)
{
    memset(m, 0, sizeof *m);
    m->kind = kind;
    m->table = jv_incref((jv *)(uintptr_t)table);
    m->name = jv_get_str(table, "name");
    if (!m->name)
        m->name = "";
    const jv *cols = jv_get(table, "columns");
    m->ncols = jv_len(cols);
    m->cols = xcalloc(m->ncols ? m->ncols : 1, sizeof *m->cols);
    m->keys = xcalloc(m->ncols ? m->ncols : 1, sizeof *m->keys);
    for (size_t i = 0; i < m->ncols; i++) {
        const jv *c = jv_at(cols, i);
        tcol *t = &m->cols[i];
        t->name = jv_get_str(c, "name");
        if (!t->name)
            t->name = "";
        classify(kind, jv_get_str(c, "type"), t);
        const jv *pk = jv_get(c, "pk");
        t->pk = jv_is_number(pk) ? jv_int(pk) : 0;
        t->autoinc = jv_bool(jv_get(c, "autoincrement"));
        t->display = alias_of(jv_get_str(c, "comment"));
        if (!t->display)
            t->display = xstrdup(t->name);
        if (t->supported)
            m->nsupported++;
        if (t->pk > 0)
            m->keys[m->nkeys++] = i;
    }
    if (m->nkeys) {
        qsort_r(m->keys, m->nkeys, sizeof *m->keys, cmp_key, m);
    } else {
        /* No primary key (views): every supported column is the key. */
        for (size_t i = 0; i < m->ncols; i++)
            if (m->cols[i].supported)
                m->keys[m->nkeys++] = i;
    }
}

/* A column by the name a client uses: the alias (or name) first, then the real column name. */
static tcol *find_col(const tmodel *m, const char *name, bool supported_only)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < m->ncols; i++)
        if (strcmp(m->cols[i].display, name) == 0 && (m->cols[i].supported || !supported_only))
            return &m->cols[i];
    for (size_t i = 0; i < m->ncols; i++)
        if (strcmp(m->cols[i].name, name) == 0 && (m->cols[i].supported || !supported_only))
            return &m->cols[i];
    return NULL;
}

static bool is_key(const tmodel *m, const tcol *c)
{
    for (size_t i = 0; i < m->nkeys; i++)
        if (&m->cols[m->keys[i]] == c)
            return true;
    return false;
}

/* ---- dates and times ---- */

typedef struct ts {
    int y, mo, d, h, mi, s;
    char frac[10]; /* digits, no trailing zeros */
    bool has_time, has_offset;
    int off_min;
} ts;

static bool digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return d[m - 1];
}

/* ISO-8601-ish: YYYY-MM-DD[( |T)HH:MM[:SS[.f]]][ ](Z|±HH[[:]MM])? with edge blanks allowed. */
static bool parse_ts(const char *s, ts *t)
{
    memset(t, 0, sizeof *t);
    if (!s)
        return false;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    if (!digits(s, 4, &t->y) || s[4] != '-' || !digits(s + 5, 2, &t->mo) || s[7] != '-' || !digits(s + 8, 2, &t->d))
        return false;
    if (t->mo < 1 || t->mo > 12 || t->d < 1 || t->d > days_in_month(t->y, t->mo))
        return false;
    const char *p = s + 10;
    if ((*p == 'T' || *p == 't' || *p == ' ') && p[1] >= '0' && p[1] <= '9') {
        p++;
        if (!digits(p, 2, &t->h) || p[2] != ':' || !digits(p + 3, 2, &t->mi))
            return false;
        p += 5;
        if (*p == ':') {
            if (!digits(p + 1, 2, &t->s))
                return false;
            p += 3;
            if (*p == '.' || *p == ',') {
                p++;
                int n = 0;
                while (*p >= '0' && *p <= '9') {
                    if (n < 9)
                        t->frac[n++] = *p;
                    p++;
                }
                if (n == 0)
                    return false;
                while (n > 0 && t->frac[n - 1] == '0')
                    n--;
                t->frac[n] = '\0';
            }
        }
        if (t->h > 23 || t->mi > 59 || t->s > 59)
            return false;
        t->has_time = true;
    }
    const char *q = p;
    while (*q == ' ')
        q++;
    if (*q == 'Z' || *q == 'z') {
        t->has_offset = true;
        p = q + 1;
    } else if ((*q == '+' || *q == '-') && t->has_time) {
        int sign = *q == '-' ? -1 : 1, oh = 0, om = 0;
        q++;
        if (!digits(q, 2, &oh))
            return false;
        q += 2;
        if (*q == ':') {
            if (!digits(q + 1, 2, &om))
                return false;
            q += 3;
        } else if (q[0] >= '0' && q[0] <= '9') {
            if (!digits(q, 2, &om))
                return false;
            q += 2;
        }
        if (oh > 18 || om > 59)
            return false;
        t->has_offset = true;
        t->off_min = sign * (oh * 60 + om);
        p = q;
    }
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return *p == '\0';
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

/* Seconds since the epoch of t; wall times without an offset are service-local. */
static int64_t ts_epoch(const ts *t)
{
    if (t->has_offset)
        return (days_from_civil(t->y, t->mo, t->d) * 86400 + t->h * 3600 + t->mi * 60 + t->s) - t->off_min * 60;
    struct tm tm = {0};
    tm.tm_year = t->y - 1900;
    tm.tm_mon = t->mo - 1;
    tm.tm_mday = t->d;
    tm.tm_hour = t->h;
    tm.tm_min = t->mi;
    tm.tm_sec = t->s;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

static void epoch_utc(int64_t e, ts *t)
{
    int64_t days = e / 86400, rem = e % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    civil_from_days(days, &t->y, &t->mo, &t->d);
    t->h = (int)(rem / 3600);
    t->mi = (int)(rem % 3600 / 60);
    t->s = (int)(rem % 60);
}

static void epoch_local(int64_t e, ts *t)
{
    time_t tt = (time_t)e;
    struct tm tm;
    if (!localtime_r(&tt, &tm)) {
        epoch_utc(e, t);
        return;
    }
    t->y = tm.tm_year + 1900;
    t->mo = tm.tm_mon + 1;
    t->d = tm.tm_mday;
    t->h = tm.tm_hour;
    t->mi = tm.tm_min;
    t->s = tm.tm_sec;
}

static void format_ts(const ts *t, char sep, const char *suffix, char *out, size_t n)
{
    snprintf(out, n, "%04d-%02d-%02d%c%02d:%02d:%02d%s%s%s", t->y, t->mo, t->d, sep, t->h, t->mi, t->s,
             t->frac[0] ? "." : "", t->frac, suffix);
}

/* A stored date/time rendered for Flow: UTC with Z. False when the text cannot be read. */
static bool render_datetime(date_kind dk, const char *stored, char *out, size_t n)
{
    ts t;
    if (!parse_ts(stored, &t))
        return false;
    if (dk == DK_DATE) {
        snprintf(out, n, "%04d-%02d-%02dT00:00:00Z", t.y, t.mo, t.d);
        return true;
    }
    ts u = t;
    epoch_utc(ts_epoch(&t), &u);
    memcpy(u.frac, t.frac, sizeof u.frac);
    format_ts(&u, 'T', "Z", out, n);
    return true;
}

/* A Flow date/time turned into the column's storage form. False when it is not a date/time. */
static bool store_datetime(date_kind dk, const char *value, char *out, size_t n)
{
    ts t;
    if (!parse_ts(value, &t))
        return false;
    if (dk == DK_DATE) {
        snprintf(out, n, "%04d-%02d-%02d", t.y, t.mo, t.d);
        return true;
    }
    ts w = t;
    if (dk == DK_TIMESTAMP) {
        if (t.has_offset)
            epoch_local(ts_epoch(&t), &w);
        memcpy(w.frac, t.frac, sizeof w.frac);
        format_ts(&w, ' ', "", out, n);
    } else {
        epoch_utc(ts_epoch(&t), &w);
        memcpy(w.frac, t.frac, sizeof w.frac);
        format_ts(&w, ' ', "+00:00", out, n);
    }
    return true;
}

static void today_local(char out[16])
{
    ts t;
    epoch_local((int64_t)time(NULL), &t);
    snprintf(out, 16, "%04d-%02d-%02d", t.y, t.mo, t.d);
}

/* ---- values ---- */

static const char *trim_left(const char *s)
{
    while (*s && (unsigned char)*s <= 0x20)
        s++;
    return s;
}

static size_t trimmed_len(const char *s)
{
    size_t n = strlen(s);
    while (n && (unsigned char)s[n - 1] <= 0x20)
        n--;
    return n;
}

static bool is_number_text(const char *s, size_t n)
{
    size_t i = 0, d = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9') {
        i++;
        d++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            d++;
        }
    }
    if (!d)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t e = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            i++;
            e++;
        }
        if (!e)
            return false;
    }
    return i == n;
}

/* A column value as Flow shows it (new ref: string or null). */
/* The contentValue text for stored text s of column c (NULL: null, returns false). *out points
 * into s, at a constant or into tmp. */
static bool render_text(const tcol *c, const char *s, char tmp[64], const char **out, size_t *outlen)
{
    if (!s)
        return false;
    const char *l = trim_left(s);
    size_t n = trimmed_len(l);
    if (c->ct == CT_DATETIME) {
        if (render_datetime(c->dk, s, tmp, 64)) {
            *out = tmp;
            *outlen = strlen(tmp);
            return true;
        }
    } else if (c->ct == CT_BOOLEAN) {
        static const char *const yes[] = {"t", "true", "1", "y", "yes", "on", NULL};
        static const char *const no[] = {"f", "false", "0", "n", "no", "off", NULL};
        char small[8];
        if (n < sizeof small) {
            memcpy(small, l, n);
            small[n] = '\0';
            for (size_t i = 0; yes[i]; i++)
                if (str_ieq(small, yes[i])) {
                    *out = "true";
                    *outlen = 4;
                    return true;
                }
            for (size_t i = 0; no[i]; i++)
                if (str_ieq(small, no[i])) {
                    *out = "false";
                    *outlen = 5;
                    return true;
                }
        }
        if (is_number_text(l, n)) {
            bool t = strtod(l, NULL) != 0;
            *out = t ? "true" : "false";
            *outlen = t ? 4 : 5;
            return true;
        }
    }
    *out = l;
    *outlen = n;
    return true;
}

static jv *render_value(const tcol *c, const jv *v)
{
    char tmp[64];
    const char *t;
    size_t n;
    if (!render_text(c, jv_str(v), tmp, &t, &n))
        return jv_new_null();
    jv *out = jv_new_strn(t, n);
    return out ? out : jv_new_str("");
}

/* contentValue as text (strings as is; numbers and booleans printed; null stays NULL). Returns
 * false for objects and arrays. *owned is set when the text was allocated. */
static bool value_text(const jv *v, const char **text, char **owned)
{
    *owned = NULL;
    *text = NULL;
    switch (jv_typeof(v)) {
    case JV_NULL: return true;
    case JV_STRING: *text = jv_str(v); return true;
    case JV_BOOL: *text = jv_bool(v) ? "true" : "false"; return true;
    case JV_INT:
    case JV_REAL: *owned = jv_dumps(v); *text = *owned; return true;
    default: return false;
    }
}

typedef enum { USE_WHERE, USE_SAVE } value_use;

/* Types a Flow value for binding to column c. Returns a new ref (string or null), or NULL with
 * a message in err. */
static jv *typed_value(const tmodel *m, const tcol *c, const char *v, value_use use, sl_error *err)
{
    if (!v) {
        if (use == USE_SAVE && c->dk == DK_DATE) {
            char today[16];
            today_local(today);
            return jv_new_str(today);
        }
        return jv_new_null();
    }
    const char *l = trim_left(v);
    size_t n = trimmed_len(l);
    switch (c->ct) {
    case CT_BOOLEAN: {
        if (n == 0 && use == USE_SAVE)
            return jv_new_null();
        bool b = (n == 4 && strncasecmp(l, "true", 4) == 0) || (n == 1 && l[0] == '1');
        if (m->kind == SQLDB_SQLITE)
            return jv_new_str(b ? "1" : "0");
        return jv_new_str(b ? "true" : "false");
    }
    case CT_NUMBER:
        if (n == 0) {
            if (use == USE_SAVE)
                return c->integer ? jv_new_str("0") : jv_new_null();
            sl_fail(err, SL_EINVAL, c->display, "\"%s\" of table \"%s\" is a number: the value is empty", c->display,
                    m->name);
            return NULL;
        }
        if (!is_number_text(l, n)) {
            sl_fail(err, SL_EINVAL, c->display, "\"%s\" of table \"%s\" is a number: \"%.100s\" is not one",
                    c->display, m->name, v);
            return NULL;
        }
        return jv_new_strn(l, n);
    case CT_DATETIME: {
        if (n == 0) {
            if (use == USE_SAVE && c->dk == DK_DATE) {
                char today[16];
                today_local(today);
                return jv_new_str(today);
            }
            if (use == USE_SAVE)
                return jv_new_null();
        }
        char out[64];
        if (!store_datetime(c->dk, v, out, sizeof out)) {
            sl_fail(err, SL_EINVAL, c->display,
                    "\"%s\" of table \"%s\" is a date/time: \"%.100s\" is not ISO-8601 (like 2020-01-21T00:00:00Z)",
                    c->display, m->name, v);
            return NULL;
        }
        return jv_new_str(out);
    }
    default: {
        jv *s = jv_new_str(v);
        if (!s)
            sl_fail(err, SL_EINVAL, c->display, "the value for \"%s\" is not valid UTF-8", c->display);
        return s;
    }
    }
}

/* ---- externalId ---- */

static int32_t java_hash(const char *s)
{
    uint32_t h = 0;
    const unsigned char *u = (const unsigned char *)s;
    while (*u) {
        uint32_t cp;
        size_t len;
        if (*u < 0x80) {
            cp = *u;
            len = 1;
        } else if ((*u >> 5) == 6 && u[1]) {
            cp = ((*u & 0x1Fu) << 6) | (u[1] & 0x3Fu);
            len = 2;
        } else if ((*u >> 4) == 14 && u[1] && u[2]) {
            cp = ((*u & 0x0Fu) << 12) | ((u[1] & 0x3Fu) << 6) | (u[2] & 0x3Fu);
            len = 3;
        } else if ((*u >> 3) == 30 && u[1] && u[2] && u[3]) {
            cp = ((*u & 0x07u) << 18) | ((u[1] & 0x3Fu) << 12) | ((u[2] & 0x3Fu) << 6) | (u[3] & 0x3Fu);
            len = 4;
        } else {
            cp = 0xFFFD;
            len = 1;
        }
        if (cp >= 0x10000) { /* UTF-16 surrogate pair */
            cp -= 0x10000;
            h = h * 31u + (0xD800u + (cp >> 10));
            h = h * 31u + (0xDC00u + (cp & 0x3FFu));
        } else {
            h = h * 31u + cp;
        }
        u += len;
    }
    return (int32_t)h;
}

typedef struct key_member {
    const char *name;
    const char *text; /* NULL = null */
    size_t len;
    uint32_t bucket;
    size_t order;
} key_member;

static int cmp_member(const void *a, const void *b)
{
    const key_member *x = a, *y = b;
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* base64(compact JSON) with members in Java HashMap iteration order. names/values: n members in
 * insertion order (values are strings or null). */
/* table_external_id over texts (texts[i] NULL = null) appended to out as a JSON string literal. */
static int external_id_put(buf *out, const char *const *names, const char *const *texts, const size_t *lens,
                           size_t n)
{
    size_t cap = 16;
    while (n > cap / 4 * 3)
        cap *= 2;
    key_member one[4];
    key_member *mem = n <= 4 ? one : xcalloc(n, sizeof *mem);
    for (size_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)java_hash(names[i]);
        mem[i].name = names[i];
        mem[i].text = texts[i];
        mem[i].len = lens[i];
        mem[i].bucket = (h ^ (h >> 16)) & (uint32_t)(cap - 1);
        mem[i].order = i;
    }
    if (n > 1)
        qsort(mem, n, sizeof *mem, cmp_member);
    buf b;
    buf_init(&b, (size_t)-1);
    buf_putc(&b, '{');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(&b, ',');
        jv_escape(&b, mem[i].name, strlen(mem[i].name));
        buf_putc(&b, ':');
        if (mem[i].text)
            jv_escape(&b, mem[i].text, mem[i].len);
        else
            buf_puts(&b, "null");
    }
    buf_putc(&b, '}');
    char *id = base64_encode(b.data, b.len);
    buf_free(&b);
    if (mem != one)
        free(mem);
    int rc = out ? jv_escape(out, id, strlen(id)) : 0;
    free(id);
    return rc;
}

/* base64(compact JSON) with members in Java HashMap iteration order. names/values: n members in
 * insertion order (values are strings or null). */
char *table_external_id(const char *const *names, const jv *const *values, size_t n)
{
    const char **texts = xcalloc(n ? n : 1, sizeof *texts);
    size_t *lens = xcalloc(n ? n : 1, sizeof *lens);
    for (size_t i = 0; i < n; i++) {
        if (jv_is_string(values[i])) {
            texts[i] = jv_str(values[i]);
            lens[i] = jv_str_len(values[i]);
        }
    }
    buf b;
    buf_init(&b, (size_t)-1);
    external_id_put(&b, names, texts, lens, n);
    free(lens);
    free(texts);
    /* Strip the quotes of the literal (base64 needs no escaping). */
    char *out = xmalloc(b.len >= 2 ? b.len - 1 : 1);
    size_t len = b.len >= 2 ? b.len - 2 : 0;
    memcpy(out, b.data ? b.data + 1 : "", len);
    out[len] = '\0';
    buf_free(&b);
    return out;
}

/* The externalId of a result row (column name → stored text). */
static char *row_external_id(const tmodel *m, const jv *row)
{
    const char **names = xcalloc(m->nkeys ? m->nkeys : 1, sizeof *names);
    jv **values = xcalloc(m->nkeys ? m->nkeys : 1, sizeof *values);
    for (size_t i = 0; i < m->nkeys; i++) {
        const tcol *c = &m->cols[m->keys[i]];
        names[i] = c->display;
        values[i] = render_value(c, jv_get(row, c->name));
    }
    char *id = table_external_id(names, (const jv *const *)values, m->nkeys);
    for (size_t i = 0; i < m->nkeys; i++)
        jv_free(values[i]);
    free(values);
    free(names);
    return id;
}

/* A condition from an externalId: column and typed value. */
typedef struct key_cond {
    const tcol *col;
    jv *value; /* owned; string or null */
} key_cond;

static void key_conds_free(key_cond *k, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jv_free(k[i].value);
    free(k);
}

/* Decodes an externalId into conditions covering every key column. */
static int decode_external_id(const tmodel *m, const char *id, key_cond **out, size_t *nout, sl_error *err)
{
    *out = NULL;
    *nout = 0;
    size_t n = strlen(id);
    if (n > 64 * 1024)
        return sl_fail(err, SL_EINVAL, "externalId", "the externalId is too long");
    /* Accept the URL-safe alphabet and missing padding too. */
    char *b64 = xmalloc(n + 4);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        b64[k++] = c == '-' ? '+' : c == '_' ? '/' : c;
    }
    while (k % 4)
        b64[k++] = '=';
    b64[k] = '\0';
    char *raw = xmalloc(k / 4 * 3 + 4);
    long len = base64_decode(b64, k, raw, k / 4 * 3 + 4);
    free(b64);
    sl_error perr = {0};
    jv *obj = len >= 0 ? jv_parse(raw, (size_t)len, &perr) : NULL;
    free(raw);
    if (!jv_is_object(obj)) {
        jv_free(obj);
        return sl_fail(err, SL_EINVAL, "externalId",
                       "the externalId \"%.80s\" is not an id of this service (base64 of a JSON object of key values "
                       "expected)",
                       id);
    }
    size_t cap = jv_obj_size(obj);
    key_cond *conds = xcalloc(cap ? cap : 1, sizeof *conds);
    size_t nc = 0;
    int rc = 0;
    for (void *it = jv_obj_iter(obj); it && rc == 0; it = jv_obj_next(obj, it)) {
        const char *name = jv_obj_key(it);
        const tcol *c = find_col(m, name, false);
        if (!c) {
            rc = sl_fail(err, SL_EINVAL, "externalId", "the externalId names \"%.100s\", which is not a column of table "
                         "\"%s\"", name, m->name);
            break;
        }
        for (size_t i = 0; i < nc; i++)
            if (conds[i].col == c)
                rc = sl_fail(err, SL_EINVAL, "externalId", "the externalId names column \"%s\" twice", c->name);
        const char *text;
        char *owned;
        if (rc == 0 && !value_text(jv_obj_value(it), &text, &owned))
            rc = sl_fail(err, SL_EINVAL, "externalId", "the externalId's value for \"%.100s\" is not a scalar", name);
        if (rc)
            break;
        jv *v = c->supported ? typed_value(m, c, text, USE_WHERE, err) : jv_new_str(text);
        free(owned);
        if (!v) {
            rc = SL_EINVAL;
            break;
        }
        conds[nc].col = c;
        conds[nc].value = v;
        nc++;
    }
    jv_free(obj);
    for (size_t i = 0; rc == 0 && i < m->nkeys; i++) {
        bool found = false;
        for (size_t j = 0; j < nc && !found; j++)
            found = conds[j].col == &m->cols[m->keys[i]];
        if (!found)
            rc = sl_fail(err, SL_EINVAL, "externalId", "the externalId lacks key column \"%s\" of table \"%s\"",
                         m->cols[m->keys[i]].display, m->name);
    }
    if (rc == 0 && nc == 0)
        rc = sl_fail(err, SL_EINVAL, "externalId", "the externalId names no column");
    if (rc) {
        key_conds_free(conds, nc);
        return rc;
    }
    *out = conds;
    *nout = nc;
    return 0;
}

/* ---- SQL building ---- */

typedef struct sqlb {
    sqldb_kind kind;
    buf *sql;
    jv *params;
    int rc;
} sqlb;

static void put(sqlb *q, const char *s)
{
    if (q->rc == 0)
        q->rc = buf_puts(q->sql, s);
}

static void put_ident(sqlb *q, const char *name)
{
    if (q->rc == 0)
        q->rc = sqldb_quote_ident(q->sql, name);
}

/* Appends a placeholder for value (taken). */
static void put_param(sqlb *q, jv *value)
{
    jv_push_take(q->params, value);
    char ph[16];
    snprintf(ph, sizeof ph, "%c%zu", q->kind == SQLDB_POSTGRES ? '$' : '?', jv_len(q->params));
    put(q, ph);
}

static void put_last_param(sqlb *q)
{
    char ph[16];
    snprintf(ph, sizeof ph, "%c%zu", q->kind == SQLDB_POSTGRES ? '$' : '?', jv_len(q->params));
    put(q, ph);
}

static void put_table(sqlb *q, const char *schema, const char *table)
{
    if (schema && *schema) {
        put_ident(q, schema);
        put(q, ".");
    }
    put_ident(q, table);
}

/* The column as text for LIKE: PostgreSQL needs a cast for non-string types. */
static void put_like_col(sqlb *q, const tcol *c)
{
    if (q->kind == SQLDB_POSTGRES && !c->textual) {
        put(q, "CAST(");
        put_ident(q, c->name);
        put(q, " AS text)");
    } else {
        put_ident(q, c->name);
    }
}

/* A LIKE pattern with the user's text taken literally (%, _ and \ escaped for ESCAPE '\'). A null
 * or empty text matches every non-null value. */
static jv *like_pattern(const char *v, bool lead, bool trail)
{
    if (!v || !*v)
        return jv_new_str("%%");
    buf b;
    buf_init(&b, (size_t)-1);
    if (lead)
        buf_putc(&b, '%');
    for (const char *p = v; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            buf_putc(&b, '\\');
        buf_putc(&b, *p);
    }
    if (trail)
        buf_putc(&b, '%');
    jv *out = jv_new_strn(b.data, b.len);
    buf_free(&b);
    return out ? out : jv_new_str("%%");
}

typedef struct fctx {
    const tmodel *m;
    sqlb *q;
    sl_error *err;
    size_t nconds;
} fctx;

static int where_cond(fctx *f, const jv *w, const char *ptr)
{
    const tmodel *m = f->m;
    sqlb *q = f->q;
    if (!jv_is_object(w))
        return sl_fail(f->err, SL_EINVAL, ptr, "a where entry must be an object");
    const char *colname = jv_get_str(w, "columnName");
    const tcol *c = find_col(m, colname, true);
    if (!c)
        return sl_fail(f->err, SL_EINVAL, ptr, "where: \"%.100s\" is not a property of type \"%s\"",
                       colname ? colname : "(no columnName)", m->name);
    const char *ct = jv_get_str(w, "criteriaType");
    const jv *cv = jv_get(w, "contentValue");
    if (!cv) /* absent (not null): the older "value" member */
        cv = jv_get(w, "value");
    const char *text;
    char *owned;
    if (!value_text(cv, &text, &owned))
        return sl_fail(f->err, SL_EINVAL, ptr, "where: the value for \"%s\" must be text", c->display);
    if (++f->nconds > MAX_CONDITIONS) {
        free(owned);
        return sl_fail(f->err, SL_ETOOBIG, ptr, "the list filter has more than %d conditions", MAX_CONDITIONS);
    }
    static const char *const ops[][2] = {{"EQUAL", " = "},         {"NOT_EQUAL", " <> "},
                                         {"GREATER_THAN", " > "},  {"GREATER_THAN_OR_EQUAL", " >= "},
                                         {"LESS_THAN", " < "},     {"LESS_THAN_OR_EQUAL", " <= "}};
    int rc = 0;
    const char *op = NULL;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (str_ieq(ct, ops[i][0]))
            op = ops[i][1];
    if (op) {
        jv *v = typed_value(m, c, text, USE_WHERE, f->err);
        if (!v) {
            rc = SL_EINVAL;
        } else {
            put_ident(q, c->name);
            put(q, op);
            put_param(q, v);
        }
    } else if (str_ieq(ct, "CONTAINS") || str_ieq(ct, "STARTS_WITH") || str_ieq(ct, "ENDS_WITH")) {
        bool lead = !str_ieq(ct, "STARTS_WITH"), trail = !str_ieq(ct, "ENDS_WITH");
        put_like_col(q, c);
        put(q, " LIKE ");
        put_param(q, like_pattern(text, lead, trail));
        put(q, " ESCAPE '\\'");
    } else if (str_ieq(ct, "IS_EMPTY")) {
        bool empty = text && str_ieq(text, "true");
        put_ident(q, c->name);
        put(q, empty ? " IS NULL" : " IS NOT NULL");
    } else {
        rc = sl_fail(f->err, SL_EINVAL, ptr,
                     "where: criteriaType \"%.40s\" is not one of EQUAL, NOT_EQUAL, GREATER_THAN, "
                     "GREATER_THAN_OR_EQUAL, LESS_THAN, LESS_THAN_OR_EQUAL, CONTAINS, STARTS_WITH, ENDS_WITH, IS_EMPTY",
                     ct ? ct : "(none)");
    }
    free(owned);
    return rc;
}

/* A group {comparisonType, where, listFilters}: writes "(a AND b AND (…))" or nothing when it has
 * no conditions. */
static int where_group(fctx *f, const jv *g, const char *ptr, int depth, bool *wrote)
{
    *wrote = false;
    if (depth > MAX_DEPTH)
        return sl_fail(f->err, SL_EINVAL, ptr, "list filters are nested more than %d deep", MAX_DEPTH);
    const jv *where = jv_get(g, "where"), *subs = jv_get(g, "listFilters");
    if ((where && !jv_is_null(where) && !jv_is_array(where)) || (subs && !jv_is_null(subs) && !jv_is_array(subs)))
        return sl_fail(f->err, SL_EINVAL, ptr, "where and listFilters must be arrays");
    if (!jv_len(where) && !jv_len(subs))
        return 0;
    const char *cmp = jv_get_str(g, "comparisonType");
    const jv *cmpv = jv_get(g, "comparisonType");
    if (cmpv && !jv_is_null(cmpv) && !cmp)
        return sl_fail(f->err, SL_EINVAL, ptr, "comparisonType must be \"AND\" or \"OR\"");
    const char *joiner;
    if (!cmp || !*cmp || str_ieq(cmp, "AND"))
        joiner = " AND ";
    else if (str_ieq(cmp, "OR"))
        joiner = " OR ";
    else
        return sl_fail(f->err, SL_EINVAL, ptr, "comparisonType \"%.20s\" must be \"AND\" or \"OR\"", cmp);
    sqlb *q = f->q;
    size_t start = q->sql->len;
    put(q, "(");
    size_t n = 0;
    int rc = 0;
    char p[300];
    for (size_t i = 0; rc == 0 && i < jv_len(where); i++) {
        if (n)
            put(q, joiner);
        snprintf(p, sizeof p, "%.200s/where/%zu", ptr, i);
        rc = where_cond(f, jv_at(where, i), p);
        n++;
    }
    for (size_t i = 0; rc == 0 && i < jv_len(subs); i++) {
        const jv *sub = jv_at(subs, i);
        snprintf(p, sizeof p, "%.200s/listFilters/%zu", ptr, i);
        if (!jv_is_object(sub)) {
            rc = sl_fail(f->err, SL_EINVAL, p, "a nested list filter must be an object");
            break;
        }
        size_t mark = q->sql->len;
        if (n)
            put(q, joiner);
        bool sub_wrote = false;
        rc = where_group(f, sub, p, depth + 1, &sub_wrote);
        if (rc == 0 && !sub_wrote) {
            q->sql->len = mark;
            q->sql->data[mark] = '\0';
        } else {
            n++;
        }
    }
    if (rc == 0 && n == 0) {
        q->sql->len = start;
        q->sql->data[start] = '\0';
        return q->rc;
    }
    put(q, ")");
    *wrote = rc == 0 && n > 0;
    return rc ? rc : q->rc;
}

/* A JSON number as a whole number clamped to ±10^15 (0 for anything else). */
static int64_t whole_number(const jv *v)
{
    if (jv_typeof(v) == JV_INT) {
        int64_t n = jv_int(v);
        return n > 1000000000000000LL ? 1000000000000000LL : n < -1000000000000000LL ? -1000000000000000LL : n;
    }
    if (jv_typeof(v) == JV_REAL) {
        double d = jv_num(v);
        if (!(d == d))
            return 0;
        return d > 1e15 ? 1000000000000000LL : d < -1e15 ? -1000000000000000LL : (int64_t)d;
    }
    return 0;
}

/* The page a list filter asks for: rows to return and the offset. */
static void page_of(const jv *lf, int64_t max_rows, int64_t *page, int64_t *offset)
{
    if (max_rows <= 0)
        max_rows = 1000;
    int64_t limit = 20, off = 0;
    if (jv_is_object(lf)) {
        limit = whole_number(jv_get(lf, "limit"));
        off = whole_number(jv_get(lf, "offset"));
    }
    if (limit <= 0 || limit > max_rows)
        limit = max_rows;
    if (off < 0)
        off = 0;
    *page = limit;
    *offset = off;
}

static int filter_sql(const tmodel *m, const jv *lf, const jv *search_columns, int64_t max_rows, sqlb *q,
                      sl_error *err)
{
    fctx f = {.m = m, .q = q, .err = err};
    if (lf && !jv_is_null(lf) && !jv_is_object(lf))
        return sl_fail(err, SL_EINVAL, "/listFilter", "listFilter must be an object");
    bool where_started = false;
    /* search: an OR-group over the string columns asked for */
    const jv *search = jv_get(lf, "search");
    if (jv_is_string(search) && jv_str_len(search) > 0) {
        size_t cols[4096];
        size_t nc = 0;
        if (search_columns && !jv_is_null(search_columns)) {
            if (!jv_is_array(search_columns))
                return sl_fail(err, SL_EINVAL, "/objectDataType/properties", "properties must be an array");
            for (size_t i = 0; i < jv_len(search_columns); i++) {
                const jv *e = jv_at(search_columns, i);
                const char *name = jv_is_string(e) ? jv_str(e) : jv_get_str(e, "developerName");
                const tcol *c = find_col(m, name, false);
                if (!c)
                    return sl_fail(err, SL_EINVAL, "/objectDataType/properties",
                                   "\"%.100s\" is not a property of type \"%s\"", name ? name : "(no name)", m->name);
                bool dup = false;
                for (size_t k = 0; k < nc && !dup; k++)
                    dup = &m->cols[cols[k]] == c;
                if (c->supported && c->textual && !dup && nc < sizeof cols / sizeof cols[0])
                    cols[nc++] = (size_t)(c - m->cols);
            }
        } else {
            for (size_t i = 0; i < m->ncols && nc < sizeof cols / sizeof cols[0]; i++)
                if (m->cols[i].supported && m->cols[i].textual)
                    cols[nc++] = i;
        }
        put(q, " WHERE (");
        where_started = true;
        if (nc == 0) {
            put(q, "1 = 0");
        } else {
            jv_push_take(q->params, like_pattern(jv_str(search), true, true));
            for (size_t i = 0; i < nc; i++) {
                if (i)
                    put(q, " OR ");
                put_like_col(q, &m->cols[cols[i]]);
                put(q, " LIKE ");
                put_last_param(q);
                put(q, " ESCAPE '\\'");
            }
        }
        put(q, ")");
    }
    /* where + nested groups */
    if (jv_is_object(lf)) {
        size_t mark = q->sql->len;
        put(q, where_started ? " AND " : " WHERE ");
        bool wrote = false;
        int rc = where_group(&f, lf, "/listFilter", 0, &wrote);
        if (rc)
            return rc;
        if (!wrote) {
            q->sql->len = mark;
            q->sql->data[mark] = '\0';
        }
    }
    /* order */
    const tcol *ordered[64];
    size_t no = 0;
    const char *ob = jv_get_str(lf, "orderByPropertyDeveloperName");
    if (ob && *ob) {
        const tcol *c = find_col(m, ob, true);
        if (!c)
            return sl_fail(err, SL_EINVAL, "/listFilter/orderByPropertyDeveloperName",
                           "orderByPropertyDeveloperName: \"%.100s\" is not a property of type \"%s\"", ob, m->name);
        put(q, " ORDER BY ");
        put_ident(q, c->name);
        put(q, str_ieq(jv_get_str(lf, "orderByDirectionType"), "DESC") ? " DESC" : " ASC");
        ordered[no++] = c;
    }
    const jv *obl = jv_get(lf, "orderBy");
    if (obl && !jv_is_null(obl) && !jv_is_array(obl))
        return sl_fail(err, SL_EINVAL, "/listFilter/orderBy", "orderBy must be an array");
    for (size_t i = 0; i < jv_len(obl); i++) {
        const jv *e = jv_at(obl, i);
        const char *name = jv_get_str(e, "columnName");
        const tcol *c = find_col(m, name, true);
        if (!c) {
            char p[64];
            snprintf(p, sizeof p, "/listFilter/orderBy/%zu", i);
            return sl_fail(err, SL_EINVAL, p, "orderBy: \"%.100s\" is not a property of type \"%s\"",
                           name ? name : "(no columnName)", m->name);
        }
        bool dup = false;
        for (size_t k = 0; k < no && !dup; k++)
            dup = ordered[k] == c;
        if (dup || no >= sizeof ordered / sizeof ordered[0])
            continue;
        put(q, no ? ", " : " ORDER BY ");
        put_ident(q, c->name);
        const char *dir = jv_get_str(e, "direction");
        if (!dir)
            dir = jv_get_str(e, "orderByDirectionType");
        put(q, str_ieq(dir, "DESC") ? " DESC" : " ASC");
        ordered[no++] = c;
    }
    /* Key columns last, so pages do not overlap or skip rows. */
    bool real_key = false;
    for (size_t i = 0; i < m->ncols; i++)
        real_key = real_key || m->cols[i].pk > 0;
    for (size_t i = 0; real_key && i < m->nkeys; i++) {
        const tcol *c = &m->cols[m->keys[i]];
        bool dup = false;
        for (size_t k = 0; k < no && !dup; k++)
            dup = ordered[k] == c;
        if (dup)
            continue;
        put(q, no ? ", " : " ORDER BY ");
        put_ident(q, c->name);
        put(q, " ASC");
        if (no < sizeof ordered / sizeof ordered[0])
            ordered[no++] = c;
    }
    int64_t page, offset;
    page_of(lf, max_rows, &page, &offset);
    put(q, " LIMIT ");
    put_param(q, jv_new_int(page + 1));
    put(q, " OFFSET ");
    put_param(q, jv_new_int(offset));
    if (q->rc)
        return sl_fail(err, SL_ETOOBIG, "/listFilter", "the list filter makes a statement that is too long");
    return 0;
}

int table_filter_sql(sqldb_kind kind, const jv *table, const jv *list_filter, const jv *search_columns,
                     int64_t max_rows, buf *sql, jv *params, sl_error *err)
{
    if (!jv_is_object(table) || !jv_is_array(params))
        return sl_fail(err, SL_EINVAL, "table", "table must be an object and params an array");
    tmodel m;
    model_build(kind, table, &m);
    sqlb q = {.kind = kind, .sql = sql, .params = params};
    int rc = filter_sql(&m, list_filter, search_columns, max_rows, &q, err);
    model_free(&m);
    return rc;
}

/* ---- results ---- */

static void put_select_list(sqlb *q, const tmodel *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->ncols; i++) {
        if (!m->cols[i].supported && !is_key(m, &m->cols[i]))
            continue;
        if (n++)
            put(q, ", ");
        put_ident(q, m->cols[i].name);
    }
    if (!n)
        put(q, "NULL");
}

static void put_select(sqlb *q, const tmodel *m, const char *schema)
{
    put(q, "SELECT ");
    put_select_list(q, m);
    put(q, " FROM ");
    put_table(q, schema, m->name);
}

static jv *row_object(const tmodel *m, const jv *row)
{
    jv *o = jv_new_object();
    jv_set_null(o, "internalId");
    char *id = row_external_id(m, row);
    jv_set_str(o, "externalId", id);
    free(id);
    jv_set_str(o, "developerName", m->name);
    jv_set_null(o, "typeElementId");
    jv_set_int(o, "order", 0);
    jv *props = jv_new_array();
    for (size_t i = 0; i < m->ncols; i++) {
        const tcol *c = &m->cols[i];
        if (!c->supported)
            continue;
        jv *p = jv_new_object();
        jv_set_null(p, "typeElementPropertyId");
        jv_set_str(p, "developerName", c->display);
        jv_set_str(p, "contentType", content_names[c->ct]);
        jv_set_take(p, "contentValue", render_value(c, jv_get(row, c->name)));
        jv_set_null(p, "contentFormat");
        jv_set_take(p, "objectData", jv_new_array());
        jv_push_take(props, p);
    }
    jv_set_take(o, "properties", props);
    jv_set_bool(o, "isSelected", false);
    return o;
}

static jv *response_body(jv *objects /* taken */, bool more)
{
    jv *r = jv_new_object();
    jv_set_null(r, "culture");
    jv_set_take(r, "objectData", objects);
    jv_set_bool(r, "hasMoreResults", more);
    return r;
}

/* ---- Load: the ObjectDataResponse written straight from the result rows ---- */

#define LOAD_TEXT_MAX (64u << 20) /* as http_respond_json: larger answers take the jv path (500) */

typedef struct load_writer {
    const tmodel *m;
    buf *out;
    int64_t page;  /* objects to write */
    int64_t count; /* rows seen */
    size_t *map;   /* model column → result column, SIZE_MAX = absent */
    bool mapped;
    const char **key_names, **key_texts;
    size_t *key_lens;
    char (*key_tmp)[64];
    int rc;
} load_writer;

#define PUTS(w, lit) ((w)->rc = (w)->rc ? (w)->rc : buf_append((w)->out, lit, sizeof lit - 1))

static void put_esc(load_writer *w, const char *s, size_t n)
{
    if (!w->rc)
        w->rc = jv_escape(w->out, s, n);
}

static int load_row(void *arg, size_t ncols, const char *const *names, const char *const *vals, const size_t *lens)
{
    (void)lens;
    load_writer *w = arg;
    const tmodel *m = w->m;
    if (!w->mapped) {
        for (size_t i = 0; i < m->ncols; i++) {
            w->map[i] = SIZE_MAX;
            for (size_t c = 0; c < ncols; c++)
                if (strcmp(names[c], m->cols[i].name) == 0)
                    w->map[i] = c; /* the last of equal names, as a jv object row would keep */
        }
        w->mapped = true;
    }
    if (w->count++ >= w->page)
        return 1; /* the extra row: there are more results */
    if (w->count > 1)
        PUTS(w, ",");
    PUTS(w, "{\"internalId\":null,\"externalId\":");
    for (size_t i = 0; i < m->nkeys; i++) {
        size_t ci = m->keys[i];
        const tcol *c = &m->cols[ci];
        const char *v = w->map[ci] == SIZE_MAX ? NULL : vals[w->map[ci]];
        w->key_names[i] = c->display;
        if (!render_text(c, v, w->key_tmp[i], &w->key_texts[i], &w->key_lens[i]))
            w->key_texts[i] = NULL;
    }
    if (!w->rc)
        w->rc = external_id_put(w->out, w->key_names, w->key_texts, w->key_lens, m->nkeys);
    PUTS(w, ",\"developerName\":");
    put_esc(w, m->name, strlen(m->name));
    PUTS(w, ",\"typeElementId\":null,\"order\":0,\"properties\":[");
    bool first = true;
    for (size_t i = 0; i < m->ncols; i++) {
        const tcol *c = &m->cols[i];
        if (!c->supported)
            continue;
        if (!first)
            PUTS(w, ",");
        first = false;
        PUTS(w, "{\"typeElementPropertyId\":null,\"developerName\":");
        put_esc(w, c->display, strlen(c->display));
        PUTS(w, ",\"contentType\":");
        put_esc(w, content_names[c->ct], strlen(content_names[c->ct]));
        PUTS(w, ",\"contentValue\":");
        const char *v = w->map[i] == SIZE_MAX ? NULL : vals[w->map[i]];
        char tmp[64];
        const char *t;
        size_t n;
        if (render_text(c, v, tmp, &t, &n))
            put_esc(w, t, n);
        else
            PUTS(w, "null");
        PUTS(w, ",\"contentFormat\":null,\"objectData\":[]}");
    }
    PUTS(w, "],\"isSelected\":false}");
    return w->rc ? 1 : 0;
}

static void fail(table_result *res, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(table_result *res, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->error, sizeof res->error, fmt, ap);
    va_end(ap);
    res->status = status;
    jv_free(res->body);
    res->body = NULL;
    free(res->text);
    res->text = NULL;
    res->len = 0;
}

static int db_status(sqldb *db, const sl_error *err)
{
    if (err->code == SL_ETIMEOUT)
        return 504;
    if (err->code == SL_EINVAL || err->code == SL_ETOOBIG)
        return 400;
    switch (db ? sqldb_last_error(db) : SQLDB_ERR_CONNECTION) {
    case SQLDB_ERR_CONNECTION: return 502;
    case SQLDB_ERR_CONSTRAINT: return 409;
    case SQLDB_ERR_DATA: return 400;
    case SQLDB_ERR_TIMEOUT: return 504;
    default: return 500;
    }
}

/* ---- sources ---- */

table_source *table_source_new(const sqldb_config *c, const char *const *tables, size_t ntables, int64_t max_rows)
{
    table_source *t = xcalloc(1, sizeof *t);
    sqldb_config_copy(c, &t->cfg);
    if (tables) {
        t->tables = xcalloc(ntables ? ntables : 1, sizeof *t->tables);
        for (size_t i = 0; i < ntables; i++)
            t->tables[i] = xstrdup(tables[i] ? tables[i] : "");
        t->ntables = ntables;
    }
    t->max_rows = max_rows > 0 ? max_rows : 1000;
    t->pool = sqldb_pool_new(&t->cfg, POOL_SIZE);
    pthread_mutex_init(&t->cache_mu, NULL);
    return t;
}

void table_source_free(table_source *t)
{
    if (!t)
        return;
    sqldb_pool_free(t->pool);
    for (size_t i = 0; i < t->ncache; i++) {
        free(t->cache[i].name);
        jv_free(t->cache[i].table);
    }
    pthread_mutex_destroy(&t->cache_mu);
    for (size_t i = 0; i < t->ntables; i++)
        free(t->tables[i]);
    free(t->tables);
    sqldb_config_free(&t->cfg);
    free(t);
}

static bool exposes(const table_source *t, const char *name)
{
    if (!t->tables)
        return true;
    for (size_t i = 0; i < t->ntables; i++)
        if (strcmp(t->tables[i], name) == 0)
            return true;
    return false;
}

static sqldb *acquire(table_source *t, table_result *res)
{
    sqldb *db = NULL;
    sl_error err = {0};
    if (sqldb_pool_get(t->pool, &db, &err) != 0) {
        fail(res, err.code == SL_ETIMEOUT ? 503 : 502, "%s", err.msg);
        return NULL;
    }
    return db;
}

static void release(table_source *t, sqldb *db)
{
    if (db)
        sqldb_pool_put(t->pool, db, false);
}

static jv *type_element(const tmodel *m)
{
    jv *t = jv_new_object();
    jv_set_str(t, "elementType", "TYPE");
    jv_set_str(t, "developerName", m->name);
    jv_set_null(t, "developerSummary");
    jv_set_null(t, "id");
    jv_set_null(t, "serviceElementId");
    jv *props = jv_new_array(), *pbs = jv_new_array();
    for (size_t i = 0; i < m->ncols; i++) {
        const tcol *c = &m->cols[i];
        if (!c->supported)
            continue;
        jv *p = jv_new_object();
        jv_set_null(p, "id");
        jv_set_str(p, "developerName", c->display);
        jv_set_null(p, "contentFormat");
        jv_set_str(p, "contentType", content_names[c->ct]);
        jv_set_null(p, "typeElementId");
        jv_set_null(p, "typeElementDeveloperName");
        jv_push_take(props, p);
        jv *b = jv_new_object();
        jv_set_str(b, "databaseFieldName", c->display);
        jv_set_null(b, "typeElementPropertyId");
        jv_set_str(b, "typeElementPropertyDeveloperName", c->display);
        jv_set_str(b, "databaseContentType", c->jdbc);
        jv_push_take(pbs, b);
    }
    jv_set_take(t, "properties", props);
    jv *binding = jv_new_object();
    jv_set_null(binding, "id");
    jv_set_str(binding, "developerName", m->name);
    char summary[300];
    snprintf(summary, sizeof summary, "The binding for %s", m->name);
    jv_set_str(binding, "developerSummary", summary);
    jv_set_str(binding, "databaseTableName", m->name);
    jv_set_null(binding, "serviceElementId");
    jv_set_take(binding, "propertyBindings", pbs);
    jv *bindings = jv_new_array();
    jv_push_take(bindings, binding);
    jv_set_take(t, "bindings", bindings);
    jv_set_bool(t, "updateByName", false);
    return t;
}

int table_source_describe(table_source *t, jv *types, sl_error *err)
{
    sqldb *db = NULL;
    int rc = sqldb_pool_get(t->pool, &db, err);
    if (rc)
        return rc;
    jv *tables = NULL;
    if (t->tables) {
        tables = jv_new_array();
        for (size_t i = 0; rc == 0 && i < t->ntables; i++) {
            jv *one = NULL;
            rc = sqldb_table(db, t->tables[i], &one, err);
            if (rc == 0)
                jv_push_take(tables, one);
        }
    } else {
        rc = sqldb_tables(db, &tables, err);
    }
    sqldb_kind kind = sqldb_kind_of(db);
    sqldb_pool_put(t->pool, db, false);
    for (size_t i = 0; rc == 0 && i < jv_len(tables); i++) {
        tmodel m;
        model_build(kind, jv_at(tables, i), &m);
        if (m.nsupported)
            jv_push_take(types, type_element(&m));
        model_free(&m);
    }
    jv_free(tables);
    return rc;
}

/* Reads the live table `name` into m. On failure res is filled. */
static bool load_model(table_source *t, sqldb *db, const char *name, tmodel *m, table_result *res)
{
    if (!name || !*name) {
        fail(res, 400, "objectDataType.developerName (or the object's developerName) must name a table");
        return false;
    }
    if (!exposes(t, name)) {
        fail(res, 404, "table \"%s\" is not served here", name);
        return false;
    }
    jv *table = NULL;
    sl_error err = {0};
    int64_t version = -1;
    if (sqldb_schema_version(db, &version, &err) != 0)
        version = -1;
    if (version >= 0) {
        pthread_mutex_lock(&t->cache_mu);
        for (size_t i = 0; i < t->ncache && !table; i++)
            if (t->cache[i].schema_version == version && strcmp(t->cache[i].name, name) == 0)
                table = jv_incref(t->cache[i].table);
        pthread_mutex_unlock(&t->cache_mu);
    }
    if (!table && sqldb_table(db, name, &table, &err) != 0) {
        if (err.code == SL_ENOTFOUND)
            fail(res, 404, "%s", err.msg);
        else
            fail(res, db_status(db, &err), "cannot read the columns of \"%s\": %s", name, err.msg);
        return false;
    }
    if (version >= 0) {
        pthread_mutex_lock(&t->cache_mu);
        size_t slot = t->ncache;
        for (size_t i = 0; i < t->ncache; i++)
            if (strcmp(t->cache[i].name, name) == 0)
                slot = i;
        if (slot == t->ncache && t->ncache == TABLE_CACHE) {
            slot = t->next_evict;
            t->next_evict = (t->next_evict + 1) % TABLE_CACHE;
        }
        if (slot == t->ncache) {
            t->ncache++;
        } else {
            free(t->cache[slot].name);
            jv_free(t->cache[slot].table);
        }
        t->cache[slot].name = xstrdup(name);
        t->cache[slot].schema_version = version;
        t->cache[slot].table = jv_incref(table);
        pthread_mutex_unlock(&t->cache_mu);
    }
    model_build(sqldb_kind_of(db), table, m);
    jv_free(table);
    if (!m->nsupported) {
        fail(res, 400, "table \"%s\" has no column of a supported type", name);
        model_free(m);
        return false;
    }
    return true;
}

static void put_key_where(sqlb *q, const key_cond *k, size_t n)
{
    put(q, " WHERE ");
    for (size_t i = 0; i < n; i++) {
        if (i)
            put(q, " AND ");
        put_ident(q, k[i].col->name);
        if (jv_is_null(k[i].value)) {
            put(q, " IS NULL");
        } else {
            put(q, " = ");
            put_param(q, jv_incref(k[i].value));
        }
    }
}

void table_source_load(table_source *t, const jv *request, table_result *res)
{
    memset(res, 0, sizeof *res);
    if (!jv_is_object(request)) {
        fail(res, 400, "the request must be an ObjectDataRequest object");
        return;
    }
    const char *name = jv_get_str(jv_get(request, "objectDataType"), "developerName");
    if (!name || !*name) {
        fail(res, 400, "objectDataType.developerName must name the table to load from");
        return;
    }
    if (!exposes(t, name)) {
        fail(res, 404, "table \"%s\" is not served here", name);
        return;
    }
    sqldb *db = acquire(t, res);
    if (!db)
        return;
    tmodel m;
    if (!load_model(t, db, name, &m, res)) {
        release(t, db);
        return;
    }
    const jv *lf = jv_get(request, "listFilter");
    const char *id = jv_get_str(lf, "id");
    buf sql;
    buf_init(&sql, SQL_MAX);
    jv *params = jv_new_array();
    sqlb q = {.kind = m.kind, .sql = &sql, .params = params};
    sl_error err = {0};
    put_select(&q, &m, sqldb_schema(db));
    int64_t page = 0, offset = 0;
    int rc = 0;
    if (id && *id) {
        key_cond *k = NULL;
        size_t nk = 0;
        rc = decode_external_id(&m, id, &k, &nk, &err);
        if (rc == 0) {
            put_key_where(&q, k, nk);
            put(&q, " LIMIT 1");
            key_conds_free(k, nk);
        }
        page = 1;
    } else {
        const jv *props = jv_get(jv_get(request, "objectDataType"), "properties");
        rc = filter_sql(&m, lf, props, t->max_rows, &q, &err);
        page_of(lf, t->max_rows, &page, &offset);
    }
    if (rc) {
        fail(res, 400, "%s", err.msg);
    } else if (q.rc) {
        fail(res, 400, "the query for \"%s\" is too long", name);
    } else {
        buf out;
        buf_init(&out, LOAD_TEXT_MAX);
        size_t nk = m.nkeys ? m.nkeys : 1;
        load_writer w = {.m = &m, .out = &out, .page = page};
        w.map = xcalloc(m.ncols ? m.ncols : 1, sizeof *w.map);
        w.key_names = xcalloc(nk, sizeof *w.key_names);
        w.key_texts = xcalloc(nk, sizeof *w.key_texts);
        w.key_lens = xcalloc(nk, sizeof *w.key_lens);
        w.key_tmp = xcalloc(nk, sizeof *w.key_tmp);
        PUTS(&w, "{\"culture\":null,\"objectData\":[");
        if (sqldb_query_each(db, sql.data, params, load_row, &w, &err) != 0) {
            fail(res, db_status(db, &err), "load from \"%s\": %s", name, err.msg);
        } else if (id && *id && w.count == 0) {
            fail(res, 404, "no row of \"%s\" has the externalId \"%.200s\"", name, id);
        } else if (w.rc == 0 && (w.count > page ? buf_puts(&out, "],\"hasMoreResults\":true}")
                                                : buf_puts(&out, "],\"hasMoreResults\":false}")) == 0) {
            res->status = 200;
            res->len = out.len;
            res->text = buf_take(&out);
        } else {
            /* Too large for an answer: the jv path, whose serialising reports it (500). */
            jv *rows = NULL;
            if (sqldb_query(db, sql.data, params, &rows, NULL, &err) != 0) {
                fail(res, db_status(db, &err), "load from \"%s\": %s", name, err.msg);
            } else {
                bool more = (int64_t)jv_len(rows) > page;
                jv *objs = jv_new_array();
                for (size_t i = 0; i < jv_len(rows) && (int64_t)i < page; i++)
                    jv_push_take(objs, row_object(&m, jv_at(rows, i)));
                res->status = 200;
                res->body = response_body(objs, more);
            }
            jv_free(rows);
        }
        buf_free(&out);
        free(w.key_tmp);
        free(w.key_lens);
        free(w.key_texts);
        free(w.key_names);
        free(w.map);
    }
    jv_free(params);
    buf_free(&sql);
    model_free(&m);
    release(t, db);
}

/* ---- save and delete ---- */

typedef struct model_cache {
    tmodel models[8];
    size_t n;
} model_cache;

static tmodel *cached_model(table_source *t, sqldb *db, model_cache *mc, const char *name, table_result *res)
{
    for (size_t i = 0; i < mc->n; i++)
        if (strcmp(mc->models[i].name, name) == 0)
            return &mc->models[i];
    if (mc->n == sizeof mc->models / sizeof mc->models[0]) {
        fail(res, 400, "one request may touch at most %zu tables", sizeof mc->models / sizeof mc->models[0]);
        return NULL;
    }
    if (!load_model(t, db, name, &mc->models[mc->n], res))
        return NULL;
    return &mc->models[mc->n++];
}

static void cache_free(model_cache *mc)
{
    for (size_t i = 0; i < mc->n; i++)
        model_free(&mc->models[i]);
}

static const char *object_table(const jv *request, const jv *obj)
{
    const char *n = jv_get_str(obj, "developerName");
    if (n && *n)
        return n;
    return jv_get_str(jv_get(request, "objectDataType"), "developerName");
}

typedef struct assign {
    const tcol *col;
    jv *value; /* typed, owned */
    bool empty; /* the value was null or "" */
    bool null;  /* the value was null (or missing): an INSERT leaves the column to its default */
} assign;

/* The properties of one object as typed assignments. Returns the count, or -1 with res filled. */
static long object_assigns(const tmodel *m, const jv *obj, size_t index, assign **out, table_result *res)
{
    const jv *props = jv_get(obj, "properties");
    if (props && !jv_is_null(props) && !jv_is_array(props)) {
        fail(res, 400, "/objectData/%zu/properties must be an array", index);
        return -1;
    }
    size_t n = jv_len(props);
    assign *a = xcalloc(n ? n : 1, sizeof *a);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const jv *p = jv_at(props, i);
        const char *pname = jv_get_str(p, "developerName");
        const tcol *c = find_col(m, pname, true);
        if (!c) {
            fail(res, 400, "/objectData/%zu/properties/%zu: \"%.100s\" is not a property of type \"%s\"", index, i,
                 pname ? pname : "(no developerName)", m->name);
            goto bad;
        }
        for (size_t j = 0; j < k; j++)
            if (a[j].col == c) {
                fail(res, 400, "/objectData/%zu/properties/%zu: property \"%s\" is given twice", index, i, c->display);
                goto bad;
            }
        const char *text;
        char *owned;
        if (!value_text(jv_get(p, "contentValue"), &text, &owned)) {
            fail(res, 400, "/objectData/%zu/properties/%zu: contentValue of \"%s\" must be text", index, i,
                 c->display);
            goto bad;
        }
        sl_error err = {0};
        jv *v = typed_value(m, c, text, USE_SAVE, &err);
        a[k].empty = !text || !*text;
        a[k].null = !text;
        free(owned);
        if (!v) {
            fail(res, 400, "/objectData/%zu/properties/%zu: %s", index, i, err.msg);
            goto bad;
        }
        a[k].col = c;
        a[k].value = v;
        k++;
    }
    *out = a;
    return (long)k;
bad:
    for (size_t j = 0; j < k; j++)
        jv_free(a[j].value);
    free(a);
    return -1;
}

static void assigns_free(assign *a, long n)
{
    for (long i = 0; i < n; i++)
        jv_free(a[i].value);
    free(a);
}

/* Auto-increment columns are generated: PostgreSQL never takes them in INSERT or SET; SQLite
 * rowid aliases take a value when one is given. */
static bool skip_assign(const tmodel *m, const assign *a)
{
    return a->col->autoinc && (m->kind == SQLDB_POSTGRES || a->empty);
}

/* Runs sql and appends the returned row as an object. Returns false with res filled. */
static bool run_returning(sqldb *db, const tmodel *m, sqlb *q, const char *what, const char *id, jv *objs,
                          table_result *res)
{
    if (q->rc) {
        fail(res, 400, "the statement for \"%s\" is too long", m->name);
        return false;
    }
    jv *rows = NULL;
    sl_error err = {0};
    if (sqldb_query(db, q->sql->data, q->params, &rows, NULL, &err) != 0) {
        fail(res, db_status(db, &err), "%s \"%s\": %s", what, m->name, err.msg);
        return false;
    }
    if (jv_len(rows) == 0) {
        fail(res, 404, "no row of \"%s\" has the externalId \"%.200s\"", m->name, id ? id : "");
        jv_free(rows);
        return false;
    }
    jv_push_take(objs, row_object(m, jv_at(rows, 0)));
    jv_free(rows);
    return true;
}

static bool save_one(sqldb *db, const tmodel *m, const jv *obj, size_t index, bool create, jv *objs,
                     table_result *res)
{
    assign *a = NULL;
    long n = object_assigns(m, obj, index, &a, res);
    if (n < 0)
        return false;
    buf sql;
    buf_init(&sql, SQL_MAX);
    jv *params = jv_new_array();
    sqlb q = {.kind = m->kind, .sql = &sql, .params = params};
    const char *schema = sqldb_schema(db);
    const char *id = jv_get_str(obj, "externalId");
    bool ok = true;
    if (create) {
        put(&q, "INSERT INTO ");
        put_table(&q, schema, m->name);
        size_t used = 0;
        for (long i = 0; i < n; i++) {
            if (skip_assign(m, &a[i]) || a[i].null)
                continue;
            put(&q, used++ ? ", " : " (");
            put_ident(&q, a[i].col->name);
        }
        if (used) {
            put(&q, ") VALUES (");
            used = 0;
            for (long i = 0; i < n; i++) {
                if (skip_assign(m, &a[i]) || a[i].null)
                    continue;
                if (used++)
                    put(&q, ", ");
                put_param(&q, jv_incref(a[i].value));
            }
            put(&q, ")");
        } else {
            put(&q, " DEFAULT VALUES");
        }
        put(&q, " RETURNING ");
        put_select_list(&q, m);
        ok = run_returning(db, m, &q, "insert into", NULL, objs, res);
    } else {
        key_cond *k = NULL;
        size_t nk = 0;
        sl_error err = {0};
        if (decode_external_id(m, id, &k, &nk, &err) != 0) {
            fail(res, 400, "/objectData/%zu/externalId: %s", index, err.msg);
            ok = false;
        } else {
            size_t used = 0;
            for (long i = 0; i < n; i++) {
                if (skip_assign(m, &a[i]))
                    continue;
                if (!used++) {
                    put(&q, "UPDATE ");
                    put_table(&q, schema, m->name);
                    put(&q, " SET ");
                } else {
                    put(&q, ", ");
                }
                put_ident(&q, a[i].col->name);
                put(&q, " = ");
                put_param(&q, jv_incref(a[i].value));
            }
            if (used) {
                put_key_where(&q, k, nk);
                put(&q, " RETURNING ");
                put_select_list(&q, m);
            } else {
                put_select(&q, m, schema);
                put_key_where(&q, k, nk);
            }
            key_conds_free(k, nk);
            ok = run_returning(db, m, &q, "update", id, objs, res);
        }
    }
    jv_free(params);
    buf_free(&sql);
    assigns_free(a, n);
    return ok;
}

static bool begin(sqldb *db, table_result *res)
{
    sl_error err = {0};
    if (sqldb_begin(db, &err) != 0) {
        fail(res, db_status(db, &err), "cannot start a transaction: %s", err.msg);
        return false;
    }
    return true;
}

static bool commit(sqldb *db, table_result *res)
{
    sl_error err = {0};
    if (sqldb_commit(db, &err) != 0) {
        fail(res, db_status(db, &err), "cannot commit: %s", err.msg);
        return false;
    }
    return true;
}

void table_source_save(table_source *t, const jv *request, table_result *res)
{
    memset(res, 0, sizeof *res);
    if (!jv_is_object(request)) {
        fail(res, 400, "the request must be an ObjectDataRequest object");
        return;
    }
    const jv *objects = jv_get(request, "objectData");
    if (objects && !jv_is_null(objects) && !jv_is_array(objects)) {
        fail(res, 400, "objectData must be an array");
        return;
    }
    size_t n = jv_len(objects);
    for (size_t i = 0; i < n; i++) {
        const jv *o = jv_at(objects, i);
        const char *name = jv_is_object(o) ? object_table(request, o) : NULL;
        if (!jv_is_object(o)) {
            fail(res, 400, "/objectData/%zu must be an object", i);
            return;
        }
        if (!name || !*name) {
            fail(res, 400, "/objectData/%zu: developerName must name a table", i);
            return;
        }
        if (!exposes(t, name)) {
            fail(res, 404, "table \"%s\" is not served here", name);
            return;
        }
        const jv *eid = jv_get(o, "externalId");
        if (eid && !jv_is_null(eid) && !jv_is_string(eid)) {
            fail(res, 400, "/objectData/%zu/externalId must be a string or null", i);
            return;
        }
    }
    jv *objs = jv_new_array();
    if (n == 0) {
        res->status = 200;
        res->body = response_body(objs, false);
        return;
    }
    sqldb *db = acquire(t, res);
    if (!db) {
        jv_free(objs);
        return;
    }
    model_cache mc = {0};
    bool ok = begin(db, res);
    /* Creates first, then updates, as the reference answers them. */
    for (int pass = 0; ok && pass < 2; pass++) {
        for (size_t i = 0; ok && i < n; i++) {
            const jv *o = jv_at(objects, i);
            const char *eid = jv_get_str(o, "externalId");
            bool create = !eid || !*eid;
            if (create != (pass == 0))
                continue;
            tmodel *m = cached_model(t, db, &mc, object_table(request, o), res);
            ok = m && save_one(db, m, o, i, create, objs, res);
        }
    }
    if (ok)
        ok = commit(db, res);
    else
        sqldb_rollback(db);
    cache_free(&mc);
    release(t, db);
    if (ok) {
        res->status = 200;
        res->body = response_body(objs, false);
    } else {
        jv_free(objs);
    }
}

void table_source_delete(table_source *t, const jv *request, table_result *res)
{
    memset(res, 0, sizeof *res);
    if (!jv_is_object(request)) {
        fail(res, 400, "the request must be an ObjectDataRequest object");
        return;
    }
    const jv *objects = jv_get(request, "objectData");
    if (objects && !jv_is_null(objects) && !jv_is_array(objects)) {
        fail(res, 400, "objectData must be an array");
        return;
    }
    /* Objects to delete: objectData, else listFilter.id of objectDataType. */
    jv *targets = jv_new_array();
    for (size_t i = 0; i < jv_len(objects); i++) {
        const jv *o = jv_at(objects, i);
        if (!jv_is_object(o)) {
            fail(res, 400, "/objectData/%zu must be an object", i);
            jv_free(targets);
            return;
        }
        const char *name = object_table(request, o), *eid = jv_get_str(o, "externalId");
        if (!name || !*name || !eid || !*eid) {
            fail(res, 400, "/objectData/%zu needs a developerName (the table) and an externalId", i);
            jv_free(targets);
            return;
        }
        jv *pair = jv_new_array();
        jv_push_take(pair, jv_new_str(name));
        jv_push_take(pair, jv_new_str(eid));
        jv_push_take(targets, pair);
    }
    const char *lid = jv_get_str(jv_get(request, "listFilter"), "id");
    const char *lname = jv_get_str(jv_get(request, "objectDataType"), "developerName");
    if (jv_len(targets) == 0 && lid && *lid && lname && *lname) {
        jv *pair = jv_new_array();
        jv_push_take(pair, jv_new_str(lname));
        jv_push_take(pair, jv_new_str(lid));
        jv_push_take(targets, pair);
    }
    for (size_t i = 0; i < jv_len(targets); i++) {
        const char *name = jv_str(jv_at(jv_at(targets, i), 0));
        if (!exposes(t, name)) {
            fail(res, 404, "table \"%s\" is not served here", name);
            jv_free(targets);
            return;
        }
    }
    if (jv_len(targets) == 0) {
        jv_free(targets);
        res->status = 200;
        res->body = response_body(jv_new_array(), false);
        return;
    }
    sqldb *db = acquire(t, res);
    if (!db) {
        jv_free(targets);
        return;
    }
    model_cache mc = {0};
    bool ok = begin(db, res);
    for (size_t i = 0; ok && i < jv_len(targets); i++) {
        const char *name = jv_str(jv_at(jv_at(targets, i), 0)), *eid = jv_str(jv_at(jv_at(targets, i), 1));
        tmodel *m = cached_model(t, db, &mc, name, res);
        if (!m) {
            ok = false;
            break;
        }
        key_cond *k = NULL;
        size_t nk = 0;
        sl_error err = {0};
        if (decode_external_id(m, eid, &k, &nk, &err) != 0) {
            fail(res, 400, "/objectData/%zu/externalId: %s", i, err.msg);
            ok = false;
            break;
        }
        buf sql;
        buf_init(&sql, SQL_MAX);
        jv *params = jv_new_array();
        sqlb q = {.kind = m->kind, .sql = &sql, .params = params};
        put(&q, "DELETE FROM ");
        put_table(&q, sqldb_schema(db), m->name);
        put_key_where(&q, k, nk);
        key_conds_free(k, nk);
        if (q.rc) {
            fail(res, 400, "the statement for \"%s\" is too long", name);
            ok = false;
        } else if (sqldb_query(db, sql.data, params, NULL, NULL, &err) != 0) {
            fail(res, db_status(db, &err), "delete from \"%s\": %s", name, err.msg);
            ok = false;
        }
        jv_free(params);
        buf_free(&sql);
    }
    if (ok)
        ok = commit(db, res);
    else
        sqldb_rollback(db);
    cache_free(&mc);
    release(t, db);
    jv_free(targets);
    if (ok) {
        res->status = 200;
        res->body = response_body(jv_new_array(), false);
    }
}
