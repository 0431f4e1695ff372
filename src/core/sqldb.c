/* sqldb: SQLite and PostgreSQL connections behind one small API (see sqldb.h).
 *
 * Design: values cross as text. SQLite gets every string parameter bound as TEXT (the column's
 * affinity converts it on write and in comparisons), integers we generate ourselves (LIMIT,
 * OFFSET) bound as integers; PostgreSQL gets text-format parameters of unspecified type, so the
 * server infers each one from its context. Results come back as text: SQLite integers and reals
 * are printed by us (reals the shortest round-trip way), PostgreSQL text output is used as is
 * with a session fixed to TimeZone=UTC and DateStyle=ISO so timestamps read back predictably.
 * Text that is not valid UTF-8 has its bad bytes replaced by U+FFFD so it can travel in JSON.
 *
 * Introspection: SQLite reads sqlite_master and pragma_table_info (a broken view, whose table was
 * dropped, fails table_info and is left out); a sole INTEGER primary key is a rowid alias and so
 * auto-increment. Column comments come from the CREATE TABLE text (SQL comments inside a column
 * definition, or a "--" comment on the same line right after its comma). PostgreSQL reads
 * pg_catalog in one query per call (pg_attribute, pg_index for the key, identity/serial defaults,
 * col_description for comments).
 *
 * Errors: the database's message goes to err->msg; sqldb_last_error classifies it (connection,
 * constraint, bad data) so callers can pick an HTTP status. A PostgreSQL connection found dead
 * outside a transaction is reset and the statement retried once. SQLite statements are bounded
 * by a progress handler checking the deadline; PostgreSQL by statement_timeout.
 *
 * The pool keeps idle connections in a stack under a mutex; get waits on a condition variable
 * (monotonic clock, bounded by the configured timeout) when max_open connections are out.
 */
#include "core/sqldb.h"

#include "core/log.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define SQLDB_DEFAULT_TIMEOUT_MS 30000
#define SQLDB_STMT_CACHE 16

struct sqldb {
    sqldb_kind kind;
    sqlite3 *lite;
    PGconn *pg;
    char *schema;
    int64_t timeout_ms;
    int64_t deadline_ms; /* SQLite: monotonic deadline of the running statement, 0 = none */
    bool in_tx;
    bool broken;
    sqldb_error_class last_error;
    /* SQLite: prepared statements kept per connection, keyed by SQL text (bounded, LRU). */
    struct lite_cached {
        char *sql;
        sqlite3_stmt *st;
        uint64_t used;
        bool busy;
    } stmts[SQLDB_STMT_CACHE];
    size_t nstmts;
    uint64_t stmt_clock;
};

/* ---- configuration ---- */

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static bool is_blank(const char *s)
{
    return !s || !*s;
}

int sqldb_config_parse(const jv *v, const char *base_dir, const char *file, const char *ptr, sqldb_config *out,
                       sl_problems *problems)
{
    memset(out, 0, sizeof *out);
    out->timeout_ms = SQLDB_DEFAULT_TIMEOUT_MS;
    size_t before = problems->n + problems->dropped;
    if (!jv_is_object(v)) {
        problems_add(problems, file, ptr, "must be an object: {\"kind\":\"sqlite\",\"path\":…} or "
                                          "{\"kind\":\"postgresql\",\"host\",\"port\",\"user\",\"password\","
                                          "\"database\",\"schema\",\"noSsl\"}");
        return SL_EINVAL;
    }
    const char *kind = jv_get_str(v, "kind");
    char *p;
    static const char *const lite_members[] = {"kind", "path", "schema", "timeoutMs", NULL};
    static const char *const pg_members[] = {"kind",     "host",   "port",  "user",      "password",
                                             "database", "schema", "noSsl", "timeoutMs", NULL};
    const char *const *allowed = NULL;
    if (str_eq(kind, "sqlite")) {
        out->kind = SQLDB_SQLITE;
        allowed = lite_members;
    } else if (str_eq(kind, "postgresql")) {
        out->kind = SQLDB_POSTGRES;
        allowed = pg_members;
    } else {
        p = pointer_join(ptr, "kind");
        problems_add(problems, file, p, "kind must be \"sqlite\" or \"postgresql\"");
        free(p);
        return SL_EINVAL;
    }
    for (void *it = jv_obj_iter(v); it; it = jv_obj_next(v, it)) {
        const char *k = jv_obj_key(it);
        bool ok = false;
        for (size_t i = 0; allowed[i] && !ok; i++)
            ok = strcmp(allowed[i], k) == 0;
        if (!ok) {
            p = pointer_join(ptr, k);
            problems_add(problems, file, p, "unknown member \"%s\" for a %s database", k, kind);
            free(p);
        }
    }
    /* String members: present ones must be strings. */
    static const char *const strs[] = {"path", "host", "user", "password", "database", "schema", NULL};
    for (size_t i = 0; strs[i]; i++) {
        const jv *m = jv_get(v, strs[i]);
        if (m && !jv_is_string(m)) {
            p = pointer_join(ptr, strs[i]);
            problems_add(problems, file, p, "%s must be a string", strs[i]);
            free(p);
        }
    }
    const char *schema = jv_get_str(v, "schema");
    out->schema = xstrdup(!is_blank(schema) ? schema : out->kind == SQLDB_SQLITE ? "main" : "public");
    const jv *t = jv_get(v, "timeoutMs");
    if (t) {
        if (jv_typeof(t) != JV_INT || jv_int(t) < 1 || jv_int(t) > 3600000) {
            p = pointer_join(ptr, "timeoutMs");
            problems_add(problems, file, p, "timeoutMs must be a whole number of milliseconds from 1 to 3600000");
            free(p);
        } else {
            out->timeout_ms = jv_int(t);
        }
    }
    if (out->kind == SQLDB_SQLITE) {
        const char *path = jv_get_str(v, "path");
        if (is_blank(path)) {
            p = pointer_join(ptr, "path");
            problems_add(problems, file, p, "path is required: the SQLite database file");
            free(p);
        } else if (path[0] == '/' || is_blank(base_dir)) {
            out->path = xstrdup(path);
        } else {
            out->path = xasprintf("%s/%s", base_dir, path);
        }
    } else {
        const char *host = jv_get_str(v, "host"), *db = jv_get_str(v, "database");
        if (is_blank(host)) {
            p = pointer_join(ptr, "host");
            problems_add(problems, file, p, "host is required: the PostgreSQL server's host name or address");
            free(p);
        }
        if (is_blank(db)) {
            p = pointer_join(ptr, "database");
            problems_add(problems, file, p, "database is required: the name of the PostgreSQL database");
            free(p);
        }
        out->host = dup_or_null(host);
        out->dbname = dup_or_null(db);
        out->user = dup_or_null(jv_get_str(v, "user"));
        out->password = dup_or_null(jv_get_str(v, "password"));
        const jv *port = jv_get(v, "port");
        if (!port || jv_is_null(port)) {
            out->port = xstrdup("5432");
        } else if (jv_typeof(port) == JV_INT && jv_int(port) > 0 && jv_int(port) < 65536) {
            out->port = xasprintf("%" PRId64, jv_int(port));
        } else {
            const char *s = jv_str(port);
            char *end = NULL;
            long n = s && *s ? strtol(s, &end, 10) : 0;
            if (!s || !end || *end || n < 1 || n > 65535) {
                p = pointer_join(ptr, "port");
                problems_add(problems, file, p, "port must be a TCP port number (1-65535), as a number or a string");
                free(p);
            } else {
                out->port = xstrdup(s);
            }
        }
        const jv *ns = jv_get(v, "noSsl");
        if (ns && !jv_is_bool(ns)) {
            p = pointer_join(ptr, "noSsl");
            problems_add(problems, file, p, "noSsl must be true or false");
            free(p);
        }
        out->no_ssl = jv_bool(ns);
    }
    if (problems->n + problems->dropped != before) {
        sqldb_config_free(out);
        return SL_EINVAL;
    }
    return 0;
}

void sqldb_config_free(sqldb_config *c)
{
    if (!c)
        return;
    free(c->path);
    free(c->host);
    free(c->port);
    free(c->user);
    free(c->password);
    free(c->dbname);
    free(c->schema);
    memset(c, 0, sizeof *c);
}

void sqldb_config_copy(const sqldb_config *src, sqldb_config *dst)
{
    dst->kind = src->kind;
    dst->path = dup_or_null(src->path);
    dst->host = dup_or_null(src->host);
    dst->port = dup_or_null(src->port);
    dst->user = dup_or_null(src->user);
    dst->password = dup_or_null(src->password);
    dst->dbname = dup_or_null(src->dbname);
    dst->schema = dup_or_null(src->schema);
    dst->no_ssl = src->no_ssl;
    dst->timeout_ms = src->timeout_ms;
}

void sqldb_config_describe(const sqldb_config *c, char *out, size_t n)
{
    if (c->kind == SQLDB_SQLITE)
        snprintf(out, n, "sqlite %s", c->path ? c->path : "?");
    else
        snprintf(out, n, "postgresql %s%s%s:%s/%s (schema %s%s)", c->user ? c->user : "", c->user ? "@" : "",
                 c->host ? c->host : "?", c->port ? c->port : "5432", c->dbname ? c->dbname : "?",
                 c->schema ? c->schema : "public", c->no_ssl ? ", no SSL" : "");
}

/* ---- text helpers ---- */

/* Checks s[0..n) is valid UTF-8 (the rules of jv_new_strn); when out is given, appends s with
 * every bad byte replaced by U+FFFD. */
static bool utf8_scan(const char *s, size_t n, buf *out)
{
    const unsigned char *u = (const unsigned char *)s;
    bool all_ok = true;
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        if (c < 0x80 && !out) {
            i++;
            continue;
        }
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = (u[i + k] & 0xC0) == 0x80;
        if (ok && len > 1) {
            uint32_t cp = len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
            for (size_t k = 1; k < len; k++)
                cp = (cp << 6) | (u[i + k] & 0x3Fu);
            ok = !(len == 2 && cp < 0x80) && !(len == 3 && cp < 0x800) && !(len == 4 && cp < 0x10000) &&
                 cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
        }
        if (ok) {
            if (out)
                buf_append(out, s + i, len);
            i += len;
        } else {
            if (!out)
                return false;
            all_ok = false;
            buf_puts(out, "\xEF\xBF\xBD");
            i++;
        }
    }
    return all_ok;
}

/* A JSON string from bytes that may not be valid UTF-8: bad bytes become U+FFFD. */
static jv *text_value(const char *s, size_t n)
{
    jv *v = jv_new_strn(s ? s : "", s ? n : 0);
    if (v)
        return v;
    buf b;
    buf_init(&b, (size_t)-1);
    utf8_scan(s, n, &b);
    v = jv_new_strn(b.data ? b.data : "", b.len);
    buf_free(&b);
    return v ? v : jv_new_str("");
}

/* The same text as text_value gives, without making a jv: *out and *outlen point at s itself when
 * it is valid, else at scratch (reset first). */
static void text_bytes(const char *s, size_t n, buf *scratch, const char **out, size_t *outlen)
{
    if (!s) {
        *out = "";
        *outlen = 0;
        return;
    }
    if (utf8_scan(s, n, NULL)) {
        *out = s;
        *outlen = n;
        return;
    }
    buf_reset(scratch);
    utf8_scan(s, n, scratch);
    *out = scratch->data ? scratch->data : "";
    *outlen = scratch->len;
}

int sqldb_quote_ident(buf *out, const char *ident)
{
    int rc = buf_putc(out, '"');
    for (const char *p = ident ? ident : ""; rc == 0 && *p; p++)
        rc = *p == '"' ? buf_puts(out, "\"\"") : buf_putc(out, *p);
    return rc ? rc : buf_putc(out, '"');
}

void sqldb_placeholder(const sqldb *db, int n, char out[16])
{
    snprintf(out, 16, "%c%d", db && db->kind == SQLDB_POSTGRES ? '$' : '?', n);
}

sqldb_kind sqldb_kind_of(const sqldb *db)
{
    return db->kind;
}

const char *sqldb_schema(const sqldb *db)
{
    return db->schema;
}

bool sqldb_broken(const sqldb *db)
{
    if (db->broken)
        return true;
    return db->kind == SQLDB_POSTGRES && PQstatus(db->pg) != CONNECTION_OK;
}

sqldb_error_class sqldb_last_error(const sqldb *db)
{
    return db->last_error;
}

/* ---- open / close ---- */

static int lite_progress(void *arg)
{
    sqldb *db = arg;
    return db->deadline_ms && mono_ms() > db->deadline_ms;
}

static int open_sqlite(const sqldb_config *c, sqldb *db, sl_error *err)
{
    if (is_blank(c->path))
        return sl_fail(err, SL_EINVAL, "path", "no SQLite database file configured");
    /* The file is someone else's database: never create it by accident. */
    int rc = sqlite3_open_v2(c->path, &db->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = sl_fail(err, SL_EIO, c->path, "cannot open SQLite database %s: %s", c->path,
                     db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
        sqlite3_close(db->lite);
        db->lite = NULL;
        db->last_error = SQLDB_ERR_CONNECTION;
        return rc;
    }
    sqlite3_busy_timeout(db->lite, (int)(db->timeout_ms > 600000 ? 600000 : db->timeout_ms));
    sqlite3_progress_handler(db->lite, 1000, lite_progress, db);
    sqlite3_extended_result_codes(db->lite, 1);
    return 0;
}

static void pg_notice(void *arg, const char *message)
{
    char m[512];
    snprintf(m, sizeof m, "%s", message);
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = 0;
    log_debug("sqldb", "postgresql notice", "detail", m, NULL);
}

static int open_pg(const sqldb_config *c, sqldb *db, sl_error *err)
{
    char timeout_s[32], options[160];
    snprintf(timeout_s, sizeof timeout_s, "%" PRId64, db->timeout_ms < 1000 ? 1 : db->timeout_ms / 1000);
    snprintf(options, sizeof options, "-c statement_timeout=%" PRId64 " -c TimeZone=UTC -c DateStyle=ISO",
             db->timeout_ms);
    const char *keys[12], *vals[12];
    int n = 0;
#define KV(k, v)                                                                                                 \
    do {                                                                                                         \
        if (!is_blank(v)) {                                                                                      \
            keys[n] = (k);                                                                                       \
            vals[n] = (v);                                                                                       \
            n++;                                                                                                 \
        }                                                                                                        \
    } while (0)
    KV("host", c->host);
    KV("port", c->port);
    KV("user", c->user);
    KV("password", c->password);
    KV("dbname", c->dbname);
    KV("sslmode", c->no_ssl ? "disable" : "prefer");
    KV("connect_timeout", timeout_s);
    KV("options", options);
    KV("client_encoding", "UTF8");
    KV("application_name", "sluice");
#undef KV
    keys[n] = NULL;
    vals[n] = NULL;
    db->pg = PQconnectdbParams(keys, vals, 0);
    if (!db->pg || PQstatus(db->pg) != CONNECTION_OK) {
        char desc[256];
        sqldb_config_describe(c, desc, sizeof desc);
        const char *m = db->pg ? PQerrorMessage(db->pg) : "out of memory";
        size_t len = strlen(m);
        while (len && (m[len - 1] == '\n' || m[len - 1] == ' '))
            len--;
        int rc = sl_fail(err, SL_EIO, "connect", "cannot connect to %s: %.*s", desc, (int)len, m);
        PQfinish(db->pg);
        db->pg = NULL;
        db->last_error = SQLDB_ERR_CONNECTION;
        return rc;
    }
    PQsetNoticeProcessor(db->pg, pg_notice, NULL); /* NOTICEs go to our log, not raw to stderr */
    return 0;
}

int sqldb_open(const sqldb_config *c, sqldb **out, sl_error *err)
{
    sqldb *db = xcalloc(1, sizeof *db);
    db->kind = c->kind;
    db->schema = xstrdup(!is_blank(c->schema) ? c->schema : c->kind == SQLDB_SQLITE ? "main" : "public");
    db->timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : SQLDB_DEFAULT_TIMEOUT_MS;
    int rc = c->kind == SQLDB_SQLITE ? open_sqlite(c, db, err) : open_pg(c, db, err);
    if (rc) {
        free(db->schema);
        free(db);
        *out = NULL;
        return rc;
    }
    *out = db;
    return 0;
}

void sqldb_close(sqldb *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->nstmts; i++) {
        sqlite3_finalize(db->stmts[i].st);
        free(db->stmts[i].sql);
    }
    if (db->lite)
        sqlite3_close_v2(db->lite);
    if (db->pg)
        PQfinish(db->pg);
    free(db->schema);
    free(db);
}

/* ---- statements ---- */

static sqldb_error_class lite_class(int code)
{
    switch (code & 0xFF) {
    case SQLITE_CONSTRAINT: return SQLDB_ERR_CONSTRAINT;
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE: return SQLDB_ERR_DATA;
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
    case SQLITE_IOERR: return SQLDB_ERR_CONNECTION;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_INTERRUPT: return SQLDB_ERR_TIMEOUT;
    default: return SQLDB_ERR_OTHER;
    }
}

static int lite_fail(sqldb *db, int code, sl_error *err)
{
    db->last_error = lite_class(code);
    if ((code & 0xFF) == SQLITE_INTERRUPT && db->deadline_ms && mono_ms() > db->deadline_ms)
        return sl_fail(err, SL_ETIMEOUT, "sqlite", "the statement took longer than %" PRId64 " ms", db->timeout_ms);
    return sl_fail(err, SL_EIO, "sqlite", "%s", sqlite3_errmsg(db->lite));
}

static void lite_column_text(sqlite3_stmt *st, int c, jv *row, const char *name)
{
    switch (sqlite3_column_type(st, c)) {
    case SQLITE_NULL: jv_set_null(row, name); break;
    case SQLITE_INTEGER: {
        char t[32];
        snprintf(t, sizeof t, "%lld", (long long)sqlite3_column_int64(st, c));
        jv_set_str(row, name, t);
        break;
    }
    case SQLITE_FLOAT: {
        char t[32];
        jv_format_double(sqlite3_column_double(st, c), t);
        jv_set_str(row, name, t);
        break;
    }
    case SQLITE_BLOB: {
        const void *b = sqlite3_column_blob(st, c);
        char *e = base64_encode(b ? b : "", (size_t)sqlite3_column_bytes(st, c));
        jv_set_str(row, name, e);
        free(e);
        break;
    }
    default: {
        const char *t = (const char *)sqlite3_column_text(st, c);
        jv_set_take(row, name, text_value(t, (size_t)sqlite3_column_bytes(st, c)));
    }
    }
}

/* A prepared statement for sql: from the connection's cache (reset, bindings cleared) or newly
 * prepared and cached. *cached is the cache slot (NULL when the statement is not cached and
 * must be finalized by lite_done). */
static int lite_prepare(sqldb *db, const char *sql, sqlite3_stmt **out, struct lite_cached **cached, sl_error *err)
{
    *out = NULL;
    *cached = NULL;
    for (size_t i = 0; i < db->nstmts; i++) {
        struct lite_cached *c = &db->stmts[i];
        if (!c->busy && strcmp(c->sql, sql) == 0) {
            sqlite3_reset(c->st);
            sqlite3_clear_bindings(c->st);
            c->used = ++db->stmt_clock;
            c->busy = true;
            *out = c->st;
            *cached = c;
            return 0;
        }
    }
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(db->lite, sql, -1, &st, &tail);
    if (rc != SQLITE_OK)
        return lite_fail(db, rc, err);
    if (!st)
        return sl_fail(err, SL_EINVAL, "sqlite", "empty statement");
    while (tail && (*tail == ' ' || *tail == '\n' || *tail == '\t' || *tail == '\r' || *tail == ';'))
        tail++;
    if (tail && *tail) {
        sqlite3_finalize(st);
        return sl_fail(err, SL_EINVAL, "sqlite", "only one statement may be run at a time");
    }
    *out = st;
    struct lite_cached *slot = NULL;
    if (db->nstmts < SQLDB_STMT_CACHE) {
        slot = &db->stmts[db->nstmts++];
    } else {
        for (size_t i = 0; i < db->nstmts; i++)
            if (!db->stmts[i].busy && (!slot || db->stmts[i].used < slot->used))
                slot = &db->stmts[i];
        if (!slot)
            return 0; /* every slot in use (nested queries): run uncached */
        sqlite3_finalize(slot->st);
        free(slot->sql);
    }
    slot->sql = xstrdup(sql);
    slot->st = st;
    slot->used = ++db->stmt_clock;
    slot->busy = true;
    *cached = slot;
    return 0;
}

static void lite_done(sqlite3_stmt *st, struct lite_cached *cached)
{
    if (cached) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        cached->busy = false;
    } else {
        sqlite3_finalize(st);
    }
}

/* Runs sql; rows as jv (rows) or handed to fn one at a time (fn, ctx). */
static int lite_run(sqldb *db, const char *sql, const jv *params, jv **rows, sqldb_row_fn fn, void *ctx,
                    int64_t *changes, sl_error *err)
{
    sqlite3_stmt *st = NULL;
    struct lite_cached *cached = NULL;
    db->deadline_ms = mono_ms() + db->timeout_ms;
    int rc = lite_prepare(db, sql, &st, &cached, err);
    if (rc) {
        db->deadline_ms = 0;
        return rc;
    }
    size_t n = jv_len(params);
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
        const jv *p = jv_at(params, i);
        int idx = (int)i + 1;
        switch (jv_typeof(p)) {
        case JV_NULL: rc = sqlite3_bind_null(st, idx); break;
        case JV_BOOL: rc = sqlite3_bind_int(st, idx, jv_bool(p)); break;
        case JV_INT: rc = sqlite3_bind_int64(st, idx, jv_int(p)); break;
        case JV_REAL: {
            char t[32];
            jv_format_double(jv_num(p), t);
            rc = sqlite3_bind_text(st, idx, t, -1, SQLITE_TRANSIENT);
            break;
        }
        case JV_STRING: rc = sqlite3_bind_text(st, idx, jv_str(p), (int)jv_str_len(p), SQLITE_TRANSIENT); break;
        default: {
            char *text = jv_dumps(p);
            rc = sqlite3_bind_text(st, idx, text, -1, SQLITE_TRANSIENT);
            free(text);
        }
        }
    }
    if (rc != SQLITE_OK) {
        rc = lite_fail(db, rc, err);
        lite_done(st, cached);
        db->deadline_ms = 0;
        return rc;
    }
    jv *out = rows ? jv_new_array() : NULL;
    int ncol = sqlite3_column_count(st);
    /* For fn: per-column values, lengths, names, number text and owned (blob/fixed) text. */
    const char **vals = NULL, **names = NULL;
    size_t *lens = NULL;
    char (*num)[32] = NULL;
    buf *scratch = NULL;
    char **owned = NULL;
    if (fn) {
        size_t nc = ncol > 0 ? (size_t)ncol : 1;
        vals = xcalloc(nc, sizeof *vals);
        names = xcalloc(nc, sizeof *names);
        lens = xcalloc(nc, sizeof *lens);
        num = xcalloc(nc, sizeof *num);
        owned = xcalloc(nc, sizeof *owned);
        scratch = xcalloc(nc, sizeof *scratch);
        for (int c = 0; c < ncol; c++)
            buf_init(&scratch[c], (size_t)-1);
    }
    bool named = false;
    for (;;) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE) {
            rc = 0;
            break;
        }
        if (step != SQLITE_ROW) {
            rc = lite_fail(db, step, err);
            break;
        }
        if (fn) {
            if (!named) {
                /* After the first step: a step may re-prepare the statement (a LIKE pattern
                 * bound), which frees the names read before. */
                for (int c = 0; c < ncol; c++) {
                    const char *name = sqlite3_column_name(st, c);
                    names[c] = name ? name : "";
                }
                named = true;
            }
            for (int c = 0; c < ncol; c++) {
                switch (sqlite3_column_type(st, c)) {
                case SQLITE_NULL: vals[c] = NULL; lens[c] = 0; break;
                case SQLITE_INTEGER:
                    lens[c] = (size_t)snprintf(num[c], sizeof num[c], "%lld", (long long)sqlite3_column_int64(st, c));
                    vals[c] = num[c];
                    break;
                case SQLITE_FLOAT:
                    jv_format_double(sqlite3_column_double(st, c), num[c]);
                    vals[c] = num[c];
                    lens[c] = strlen(num[c]);
                    break;
                case SQLITE_BLOB: {
                    const void *b = sqlite3_column_blob(st, c);
                    owned[c] = base64_encode(b ? b : "", (size_t)sqlite3_column_bytes(st, c));
                    vals[c] = owned[c];
                    lens[c] = strlen(owned[c]);
                    break;
                }
                default: {
                    const char *t = (const char *)sqlite3_column_text(st, c);
                    text_bytes(t, (size_t)sqlite3_column_bytes(st, c), &scratch[c], &vals[c], &lens[c]);
                }
                }
            }
            int stop = fn(ctx, (size_t)ncol, names, vals, lens);
            for (int c = 0; c < ncol; c++) {
                free(owned[c]);
                owned[c] = NULL;
            }
            if (stop) {
                rc = 0;
                break;
            }
            continue;
        }
        if (!out)
            continue;
        jv *row = jv_new_object();
        for (int c = 0; c < ncol; c++) {
            const char *name = sqlite3_column_name(st, c);
            lite_column_text(st, c, row, name ? name : "");
        }
        jv_push_take(out, row);
    }
    if (fn) {
        for (int c = 0; c < ncol; c++)
            buf_free(&scratch[c]);
        free(scratch);
        free(owned);
        free(num);
        free(lens);
        free(names);
        free(vals);
    }
    bool readonly = sqlite3_stmt_readonly(st);
    lite_done(st, cached);
    db->deadline_ms = 0;
    if (rc) {
        jv_free(out);
        return rc;
    }
    if (changes)
        *changes = readonly ? 0 : (int64_t)sqlite3_changes64(db->lite);
    if (rows)
        *rows = out;
    return 0;
}

static int lite_query(sqldb *db, const char *sql, const jv *params, jv **rows, int64_t *changes, sl_error *err)
{
    return lite_run(db, sql, params, rows, NULL, NULL, changes, err);
}

static sqldb_error_class pg_class(PGconn *conn, const PGresult *res)
{
    if (PQstatus(conn) != CONNECTION_OK)
        return SQLDB_ERR_CONNECTION;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (!state)
        return SQLDB_ERR_OTHER;
    if (strncmp(state, "23", 2) == 0)
        return SQLDB_ERR_CONSTRAINT;
    if (strncmp(state, "22", 2) == 0)
        return SQLDB_ERR_DATA;
    if (strncmp(state, "08", 2) == 0)
        return SQLDB_ERR_CONNECTION;
    if (strcmp(state, "57014") == 0 || strncmp(state, "40", 2) == 0 || strcmp(state, "55P03") == 0)
        return SQLDB_ERR_TIMEOUT;
    if (strcmp(state, "42703") == 0 || strcmp(state, "42P01") == 0 || strcmp(state, "42883") == 0 ||
        strcmp(state, "42804") == 0)
        return SQLDB_ERR_DATA;
    return SQLDB_ERR_OTHER;
}

static int pg_run(sqldb *db, const char *sql, const jv *params, jv **rows, sqldb_row_fn fn, void *ctx,
                  int64_t *changes, sl_error *err)
{
    size_t n = jv_len(params);
    if (n > 65535)
        return sl_fail(err, SL_ETOOBIG, "postgresql", "too many parameters (%zu)", n);
    const char **values = xcalloc(n ? n : 1, sizeof *values);
    char **owned = xcalloc(n ? n : 1, sizeof *owned);
    for (size_t i = 0; i < n; i++) {
        const jv *p = jv_at(params, i);
        switch (jv_typeof(p)) {
        case JV_NULL: values[i] = NULL; break;
        case JV_STRING: values[i] = jv_str(p); break;
        case JV_BOOL: values[i] = jv_bool(p) ? "true" : "false"; break;
        case JV_INT: values[i] = owned[i] = xasprintf("%" PRId64, jv_int(p)); break;
        case JV_REAL: {
            owned[i] = xmalloc(32);
            jv_format_double(jv_num(p), owned[i]);
            values[i] = owned[i];
            break;
        }
        default: values[i] = owned[i] = jv_dumps(p);
        }
    }
    PGresult *res = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        res = PQexecParams(db->pg, sql, (int)n, NULL, values, NULL, NULL, 0);
        ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
        if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK)
            break;
        /* A connection that died while idle in the pool: reconnect once, unless inside a
         * transaction (whose earlier statements would be lost). */
        if (attempt == 0 && !db->in_tx && PQstatus(db->pg) == CONNECTION_BAD) {
            PQclear(res);
            res = NULL;
            PQreset(db->pg);
            if (PQstatus(db->pg) == CONNECTION_OK)
                continue;
        }
        break;
    }
    for (size_t i = 0; i < n; i++)
        free(owned[i]);
    free(owned);
    free(values);
    ExecStatusType s = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
        db->last_error = pg_class(db->pg, res);
        if (db->last_error == SQLDB_ERR_CONNECTION)
            db->broken = true;
        const char *m = res ? PQresultErrorMessage(res) : PQerrorMessage(db->pg);
        if (!m || !*m)
            m = PQerrorMessage(db->pg);
        size_t len = strlen(m);
        while (len && (m[len - 1] == '\n' || m[len - 1] == ' '))
            len--;
        int rc = sl_fail(err, db->last_error == SQLDB_ERR_TIMEOUT ? SL_ETIMEOUT : SL_EIO, "postgresql", "%.*s",
                         (int)len, m);
        PQclear(res);
        return rc;
    }
    if (fn) {
        int nrows = PQntuples(res), ncols = PQnfields(res);
        size_t nc = ncols > 0 ? (size_t)ncols : 1;
        const char **vals = xcalloc(nc, sizeof *vals), **names = xcalloc(nc, sizeof *names);
        size_t *lens = xcalloc(nc, sizeof *lens);
        buf *scratch = xcalloc(nc, sizeof *scratch);
        for (int c = 0; c < ncols; c++) {
            names[c] = PQfname(res, c);
            buf_init(&scratch[c], (size_t)-1);
        }
        for (int r = 0; r < nrows; r++) {
            for (int c = 0; c < ncols; c++) {
                if (PQgetisnull(res, r, c)) {
                    vals[c] = NULL;
                    lens[c] = 0;
                } else {
                    text_bytes(PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c), &scratch[c], &vals[c], &lens[c]);
                }
            }
            if (fn(ctx, (size_t)ncols, names, vals, lens))
                break;
        }
        for (int c = 0; c < ncols; c++)
            buf_free(&scratch[c]);
        free(scratch);
        free(lens);
        free(names);
        free(vals);
    }
    if (rows) {
        jv *out = jv_new_array();
        int nrows = PQntuples(res), ncols = PQnfields(res);
        for (int r = 0; r < nrows; r++) {
            jv *row = jv_new_object();
            for (int c = 0; c < ncols; c++) {
                const char *name = PQfname(res, c);
                if (PQgetisnull(res, r, c))
                    jv_set_null(row, name);
                else
                    jv_set_take(row, name, text_value(PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c)));
            }
            jv_push_take(out, row);
        }
        *rows = out;
    }
    if (changes) {
        const char *t = PQcmdTuples(res);
        *changes = t && *t ? strtoll(t, NULL, 10) : 0;
    }
    PQclear(res);
    return 0;
}

static int pg_query(sqldb *db, const char *sql, const jv *params, jv **rows, int64_t *changes, sl_error *err)
{
    return pg_run(db, sql, params, rows, NULL, NULL, changes, err);
}

int sqldb_query_each(sqldb *db, const char *sql, const jv *params, sqldb_row_fn fn, void *ctx, sl_error *err)
{
    if (params && !jv_is_array(params))
        return sl_fail(err, SL_EINVAL, "params", "parameters must be a JSON array");
    db->last_error = SQLDB_ERR_NONE;
    return db->kind == SQLDB_SQLITE ? lite_run(db, sql, params, NULL, fn, ctx, NULL, err)
                                    : pg_run(db, sql, params, NULL, fn, ctx, NULL, err);
}

int sqldb_query(sqldb *db, const char *sql, const jv *params, jv **rows, int64_t *changes, sl_error *err)
{
    if (rows)
        *rows = NULL;
    if (changes)
        *changes = 0;
    if (params && !jv_is_array(params))
        return sl_fail(err, SL_EINVAL, "params", "parameters must be a JSON array");
    db->last_error = SQLDB_ERR_NONE;
    return db->kind == SQLDB_SQLITE ? lite_query(db, sql, params, rows, changes, err)
                                    : pg_query(db, sql, params, rows, changes, err);
}

int sqldb_begin(sqldb *db, sl_error *err)
{
    int rc = sqldb_query(db, db->kind == SQLDB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN", NULL, NULL, NULL, err);
    if (rc == 0)
        db->in_tx = true;
    return rc;
}

int sqldb_commit(sqldb *db, sl_error *err)
{
    int rc = sqldb_query(db, "COMMIT", NULL, NULL, NULL, err);
    if (rc)
        sqldb_rollback(db);
    db->in_tx = false;
    return rc;
}

void sqldb_rollback(sqldb *db)
{
    sl_error ignored;
    sqldb_error_class keep = db->last_error;
    if (db->kind == SQLDB_SQLITE) {
        if (!sqlite3_get_autocommit(db->lite))
            sqldb_query(db, "ROLLBACK", NULL, NULL, NULL, &ignored);
    } else if (PQstatus(db->pg) == CONNECTION_OK && PQtransactionStatus(db->pg) != PQTRANS_IDLE) {
        sqldb_query(db, "ROLLBACK", NULL, NULL, NULL, &ignored);
    }
    db->last_error = keep;
    db->in_tx = false;
}

/* ---- introspection ---- */

static char *ident_token(const char *s, size_t n)
{
    if (n >= 2 && ((s[0] == '"' && s[n - 1] == '"') || (s[0] == '`' && s[n - 1] == '`') ||
                   (s[0] == '[' && s[n - 1] == ']') || (s[0] == '\'' && s[n - 1] == '\''))) {
        char q = s[0] == '[' ? ']' : s[0];
        buf b;
        buf_init(&b, (size_t)-1);
        for (size_t i = 1; i + 1 < n; i++) {
            buf_putc(&b, s[i]);
            if (s[i] == q && q != ']' && i + 2 < n && s[i + 1] == q)
                i++;
        }
        char *out = buf_take(&b);
        return out ? out : xstrdup("");
    }
    return xstrndup(s, n);
}

/* Column comments from a CREATE TABLE statement: {column name: comment text}. A comment belongs to
 * the column definition it sits in; a "--" comment on the same line just after a column's comma
 * belongs to that column. Table constraints (PRIMARY KEY (...), CONSTRAINT ...) get none. */
static jv *lite_comments(const char *sql)
{
    jv *map = jv_new_object();
    if (!sql)
        return map;
    const char *p = strchr(sql, '(');
    if (!p)
        return map;
    p++;
    int depth = 1;
    buf comment;
    buf_init(&comment, 64 * 1024);
    const char *name_start = NULL;
    size_t name_len = 0;
    bool seg_end_pending = false;
    while (*p && depth > 0) {
        char c = *p;
        if (c == '-' && p[1] == '-') {
            const char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p - 2) : strlen(p + 2);
            if (comment.len)
                buf_putc(&comment, ' ');
            buf_append(&comment, p + 2, len);
            p = e ? e : p + strlen(p);
            continue;
        }
        if (c == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            size_t len = e ? (size_t)(e - p - 2) : strlen(p + 2);
            if (comment.len)
                buf_putc(&comment, ' ');
            buf_append(&comment, p + 2, len);
            p = e ? e + 2 : p + strlen(p);
            continue;
        }
        if (c == '\'' || c == '"' || c == '`' || c == '[') {
            char q = c == '[' ? ']' : c;
            const char *s = p++;
            while (*p) {
                if (*p == q) {
                    if (q != ']' && p[1] == q) {
                        p += 2;
                        continue;
                    }
                    break;
                }
                p++;
            }
            if (*p)
                p++;
            if (!name_start && depth == 1 && c != '\'') {
                name_start = s;
                name_len = (size_t)(p - s);
            }
            continue;
        }
        if (c == '(') {
            depth++;
        } else if (c == ')' || (c == ',' && depth == 1)) {
            if (c == ')')
                depth--;
            if (depth == 0 || c == ',') {
                /* A "--" comment on the rest of this line belongs to the segment that just ended. */
                if (c == ',') {
                    const char *q = p + 1;
                    while (*q == ' ' || *q == '\t')
                        q++;
                    if (q[0] == '-' && q[1] == '-') {
                        const char *e = strchr(q, '\n');
                        size_t len = e ? (size_t)(e - q - 2) : strlen(q + 2);
                        if (comment.len)
                            buf_putc(&comment, ' ');
                        buf_append(&comment, q + 2, len);
                        seg_end_pending = true;
                        p = e ? e : q + strlen(q);
                    }
                }
                if (name_start && comment.len) {
                    char *name = ident_token(name_start, name_len);
                    static const char *const kw[] = {"constraint", "primary", "unique", "check", "foreign", NULL};
                    bool is_kw = false;
                    for (size_t k = 0; kw[k]; k++)
                        is_kw = is_kw || (name_start[0] != '"' && name_start[0] != '`' && name_start[0] != '[' &&
                                          str_ieq(name, kw[k]));
                    jv *cv = is_kw ? NULL : jv_new_strn(comment.data, comment.len);
                    if (!is_kw)
                        jv_set_take(map, name, cv ? cv : jv_new_str(""));
                    free(name);
                }
                buf_reset(&comment);
                name_start = NULL;
                name_len = 0;
                if (seg_end_pending) {
                    seg_end_pending = false;
                    continue;
                }
                p++;
                continue;
            }
        } else if (!name_start && depth == 1 && c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            const char *s = p;
            while (*p && (*p == '_' || (unsigned char)*p >= 0x80 || (*p >= '0' && *p <= '9') ||
                          (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '$'))
                p++;
            if (p == s)
                p++;
            name_start = s;
            name_len = (size_t)(p - s);
            continue;
        }
        p++;
    }
    buf_free(&comment);
    return map;
}

static bool lite_without_rowid(const char *sql)
{
    if (!sql)
        return false;
    const char *close = strrchr(sql, ')');
    if (!close)
        return false;
    for (const char *p = close; *p; p++)
        if (strncasecmp(p, "without", 7) == 0)
            return true;
    return false;
}

static int lite_table_columns(sqldb *db, const char *name, const char *type, const char *sql, jv **table,
                              sl_error *err)
{
    jv *params = jv_new_array();
    jv_push_take(params, jv_new_str(name));
    jv_push_take(params, jv_new_str(db->schema));
    jv *rows = NULL;
    int rc = lite_query(db, "SELECT name, type, \"notnull\", pk FROM pragma_table_info(?1, ?2) ORDER BY cid", params,
                        &rows, NULL, err);
    jv_free(params);
    if (rc)
        return rc;
    bool view = str_eq(type, "view");
    jv *comments = view ? jv_new_object() : lite_comments(sql);
    size_t npk = 0;
    const char *pk_type = NULL;
    for (size_t i = 0; i < jv_len(rows); i++) {
        const char *pk = jv_get_str(jv_at(rows, i), "pk");
        if (pk && strcmp(pk, "0") != 0) {
            npk++;
            pk_type = jv_get_str(jv_at(rows, i), "type");
        }
    }
    bool rowid_alias = !view && npk == 1 && str_ieq(pk_type, "integer") && !lite_without_rowid(sql);
    jv *cols = jv_new_array();
    for (size_t i = 0; i < jv_len(rows); i++) {
        const jv *r = jv_at(rows, i);
        jv *col = jv_new_object();
        const char *cname = jv_get_str(r, "name");
        jv_set_str(col, "name", cname ? cname : "");
        const char *t = jv_get_str(r, "type");
        char *lower = xstrdup(t ? t : "");
        for (char *q = lower; *q; q++)
            if (*q >= 'A' && *q <= 'Z')
                *q = (char)(*q - 'A' + 'a');
        jv_set_str(col, "type", lower);
        free(lower);
        const char *pk = jv_get_str(r, "pk");
        int64_t pkpos = pk ? strtoll(pk, NULL, 10) : 0;
        jv_set_bool(col, "nullable", str_eq(jv_get_str(r, "notnull"), "0") && pkpos == 0);
        jv_set_int(col, "pk", pkpos);
        jv_set_bool(col, "autoincrement", rowid_alias && pkpos > 0);
        const char *cm = cname ? jv_get_str(comments, cname) : NULL;
        if (cm)
            jv_set_str(col, "comment", cm);
        jv_push_take(cols, col);
    }
    jv_free(rows);
    jv_free(comments);
    jv *t = jv_new_object();
    jv_set_str(t, "name", name);
    jv_set_bool(t, "view", view);
    jv_set_take(t, "columns", cols);
    *table = t;
    return 0;
}

static int lite_tables(sqldb *db, const char *only, jv **tables, sl_error *err)
{
    buf sql;
    buf_init(&sql, 4096);
    buf_puts(&sql, "SELECT name, type, sql FROM ");
    sqldb_quote_ident(&sql, db->schema);
    buf_puts(&sql, ".sqlite_master WHERE type IN ('table','view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'");
    jv *params = jv_new_array();
    if (only) {
        buf_puts(&sql, " AND name = ?1");
        jv_push_take(params, jv_new_str(only));
    }
    buf_puts(&sql, " ORDER BY name");
    jv *rows = NULL;
    int rc = lite_query(db, sql.data, params, &rows, NULL, err);
    buf_free(&sql);
    jv_free(params);
    if (rc)
        return rc;
    jv *out = jv_new_array();
    for (size_t i = 0; i < jv_len(rows); i++) {
        const jv *r = jv_at(rows, i);
        jv *t = NULL;
        sl_error ignored;
        /* A view over a dropped table fails table_info: it is left out. */
        if (lite_table_columns(db, jv_get_str(r, "name"), jv_get_str(r, "type"), jv_get_str(r, "sql"), &t,
                               &ignored) == 0)
            jv_push_take(out, t);
    }
    jv_free(rows);
    *tables = out;
    return 0;
}

static int pg_tables(sqldb *db, const char *only, jv **tables, sl_error *err)
{
    const char *sql =
        "SELECT c.relname AS tname, c.relkind AS kind, a.attname AS name, "
        "lower(format_type(a.atttypid, a.atttypmod)) AS type, NOT a.attnotnull AS nullable, "
        "COALESCE((SELECT k.n FROM unnest(i.indkey) WITH ORDINALITY AS k(att, n) WHERE k.att = a.attnum), 0) AS pk, "
        "(a.attidentity <> '' OR a.attgenerated <> '' OR "
        " COALESCE(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false)) AS autoincrement, "
        "col_description(c.oid, a.attnum) AS comment "
        "FROM pg_catalog.pg_class c "
        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
        "LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary "
        "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum "
        "WHERE n.nspname = $1 AND c.relkind IN ('r','p','v','m','f') AND ($2::text IS NULL OR c.relname = $2) "
        "ORDER BY c.relname COLLATE \"C\", a.attnum";
    jv *params = jv_new_array();
    jv_push_take(params, jv_new_str(db->schema));
    jv_push_take(params, only ? jv_new_str(only) : jv_new_null());
    jv *rows = NULL;
    int rc = pg_query(db, sql, params, &rows, NULL, err);
    jv_free(params);
    if (rc)
        return rc;
    jv *out = jv_new_array();
    jv *cur = NULL;
    for (size_t i = 0; i < jv_len(rows); i++) {
        const jv *r = jv_at(rows, i);
        const char *tname = jv_get_str(r, "tname");
        if (!cur || !str_eq(jv_get_str(cur, "name"), tname)) {
            cur = jv_new_object();
            jv_set_str(cur, "name", tname);
            const char *k = jv_get_str(r, "kind");
            jv_set_bool(cur, "view", str_eq(k, "v") || str_eq(k, "m"));
            jv_set_take(cur, "columns", jv_new_array());
            jv_push_take(out, cur);
        }
        const char *name = jv_get_str(r, "name");
        if (!name)
            continue; /* a table without columns */
        jv *col = jv_new_object();
        jv_set_str(col, "name", name);
        jv_set_str(col, "type", jv_get_str(r, "type"));
        jv_set_bool(col, "nullable", str_eq(jv_get_str(r, "nullable"), "t"));
        const char *pk = jv_get_str(r, "pk");
        jv_set_int(col, "pk", pk ? strtoll(pk, NULL, 10) : 0);
        jv_set_bool(col, "autoincrement", str_eq(jv_get_str(r, "autoincrement"), "t"));
        const char *cm = jv_get_str(r, "comment");
        if (cm)
            jv_set_str(col, "comment", cm);
        jv_push(jv_get(cur, "columns"), col);
        jv_free(col);
    }
    jv_free(rows);
    *tables = out;
    return 0;
}

int sqldb_tables(sqldb *db, jv **tables, sl_error *err)
{
    *tables = NULL;
    db->last_error = SQLDB_ERR_NONE;
    return db->kind == SQLDB_SQLITE ? lite_tables(db, NULL, tables, err) : pg_tables(db, NULL, tables, err);
}

int sqldb_schema_version(sqldb *db, int64_t *version, sl_error *err)
{
    *version = -1;
    if (db->kind != SQLDB_SQLITE)
        return 0;
    sqlite3_stmt *st = NULL;
    struct lite_cached *cached = NULL;
    sl_error perr = {0};
    if (lite_prepare(db, "PRAGMA schema_version", &st, &cached, &perr) != 0)
        return sl_fail(err, SL_EIO, "schema", "%s", perr.msg);
    int rc = SQLITE_OK;
    if (sqlite3_step(st) == SQLITE_ROW)
        *version = sqlite3_column_int64(st, 0);
    else
        rc = sl_fail(err, SL_EIO, "schema", "%s", sqlite3_errmsg(db->lite));
    lite_done(st, cached);
    return rc == SQLITE_OK ? 0 : SL_EIO;
}

int sqldb_table(sqldb *db, const char *name, jv **table, sl_error *err)
{
    *table = NULL;
    db->last_error = SQLDB_ERR_NONE;
    jv *all = NULL;
    int rc = db->kind == SQLDB_SQLITE ? lite_tables(db, name, &all, err) : pg_tables(db, name, &all, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < jv_len(all); i++)
        if (str_eq(jv_get_str(jv_at(all, i), "name"), name)) {
            *table = jv_incref(jv_at(all, i));
            break;
        }
    jv_free(all);
    if (!*table)
        return sl_fail(err, SL_ENOTFOUND, name, "no table or view \"%s\" in schema \"%s\"", name, db->schema);
    return 0;
}

/* ---- pool ---- */

struct sqldb_pool {
    sqldb_config cfg;
    unsigned max_open, open;
    sqldb **idle;
    size_t nidle;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

sqldb_pool *sqldb_pool_new(const sqldb_config *c, unsigned max_open)
{
    sqldb_pool *p = xcalloc(1, sizeof *p);
    sqldb_config_copy(c, &p->cfg);
    p->max_open = max_open ? max_open : 1;
    p->idle = xcalloc(p->max_open, sizeof *p->idle);
    pthread_mutex_init(&p->mu, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cv, &attr);
    pthread_condattr_destroy(&attr);
    return p;
}

int sqldb_pool_get(sqldb_pool *p, sqldb **out, sl_error *err)
{
    *out = NULL;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    int64_t wait = p->cfg.timeout_ms > 0 ? p->cfg.timeout_ms : SQLDB_DEFAULT_TIMEOUT_MS;
    deadline.tv_sec += (time_t)(wait / 1000);
    deadline.tv_nsec += (long)(wait % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (p->nidle) {
            *out = p->idle[--p->nidle];
            pthread_mutex_unlock(&p->mu);
            return 0;
        }
        if (p->open < p->max_open) {
            p->open++;
            pthread_mutex_unlock(&p->mu);
            int rc = sqldb_open(&p->cfg, out, err);
            if (rc) {
                pthread_mutex_lock(&p->mu);
                p->open--;
                pthread_cond_signal(&p->cv);
                pthread_mutex_unlock(&p->mu);
            }
            return rc;
        }
        if (pthread_cond_timedwait(&p->cv, &p->mu, &deadline) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->mu);
            return sl_fail(err, SL_ETIMEOUT, "pool", "all %u database connections stayed busy for %" PRId64 " ms",
                           p->max_open, wait);
        }
    }
}

void sqldb_pool_put(sqldb_pool *p, sqldb *db, bool broken)
{
    if (!db)
        return;
    if (!broken && db->in_tx)
        sqldb_rollback(db);
    broken = broken || sqldb_broken(db);
    if (broken)
        sqldb_close(db);
    pthread_mutex_lock(&p->mu);
    if (broken)
        p->open--;
    else
        p->idle[p->nidle++] = db;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

void sqldb_pool_free(sqldb_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nidle; i++)
        sqldb_close(p->idle[i]);
    free(p->idle);
    sqldb_config_free(&p->cfg);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}
