/* store: SQLite implementation of store.h. */
#include "core/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

#define STMT_CACHE 64

typedef struct cached_stmt {
    char *sql;
    sqlite3_stmt *stmt;
} cached_stmt;

struct store {
    sqlite3 *db;
    pthread_mutex_t mu;
    cached_stmt cache[STMT_CACHE];
    size_t ncache;
};

static int db_fail(store *s, sl_error *err, const char *what)
{
    return sl_fail(err, SL_EIO, what, "%s", sqlite3_errmsg(s->db));
}

static int exec_script(store *s, const char *sql, sl_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        int rc = sl_fail(err, SL_EIO, "store", "%s", msg ? msg : "sqlite error");
        sqlite3_free(msg);
        return rc;
    }
    return 0;
}

int store_open(const char *path, const char *const *migrations, size_t n, store **out, sl_error *err)
{
    store *s = xcalloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        int rc = sl_fail(err, SL_EIO, path, "cannot open database: %s", s->db ? sqlite3_errmsg(s->db) : "?");
        sqlite3_close(s->db);
        free(s);
        return rc;
    }
    sqlite3_busy_timeout(s->db, 5000);
    int rc = exec_script(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", err);
    if (rc == 0) {
        sqlite3_stmt *st;
        int version = 0;
        if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW)
                version = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
        }
        if ((size_t)version > n) {
            rc = sl_fail(err, SL_EIO, path, "database schema version %d is newer than this sluice (%zu)", version, n);
        } else if ((size_t)version < n) {
            rc = exec_script(s, "BEGIN IMMEDIATE", err);
            for (size_t i = (size_t)version; rc == 0 && i < n; i++)
                rc = exec_script(s, migrations[i], err);
            if (rc == 0) {
                char v[64];
                snprintf(v, sizeof v, "PRAGMA user_version=%zu; COMMIT;", n);
                rc = exec_script(s, v, err);
            }
            if (rc)
                sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        }
    }
    if (rc) {
        sqlite3_close(s->db);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void store_close(store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->ncache; i++) {
        sqlite3_finalize(s->cache[i].stmt);
        free(s->cache[i].sql);
    }
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* The thread inside store_tx_begin/commit already holds the lock. */
static _Thread_local store *tls_tx_store;

static void lock(store *s)
{
    if (tls_tx_store != s)
        pthread_mutex_lock(&s->mu);
}

static void unlock(store *s)
{
    if (tls_tx_store != s)
        pthread_mutex_unlock(&s->mu);
}

static sqlite3_stmt *prepare(store *s, const char *sql, sl_error *err)
{
    for (size_t i = 0; i < s->ncache; i++)
        if (strcmp(s->cache[i].sql, sql) == 0) {
            sqlite3_reset(s->cache[i].stmt);
            sqlite3_clear_bindings(s->cache[i].stmt);
            return s->cache[i].stmt;
        }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        db_fail(s, err, "prepare");
        return NULL;
    }
    if (s->ncache == STMT_CACHE) {
        sqlite3_finalize(s->cache[STMT_CACHE - 1].stmt);
        free(s->cache[STMT_CACHE - 1].sql);
        s->ncache--;
    }
    s->cache[s->ncache].sql = xstrdup(sql);
    s->cache[s->ncache].stmt = st;
    s->ncache++;
    return st;
}

static int bind_params(store *s, sqlite3_stmt *st, const jv *params, sl_error *err)
{
    size_t n = jv_len(params);
    for (size_t i = 0; i < n; i++) {
        const jv *p = jv_at(params, i);
        int idx = (int)i + 1, rc;
        switch (jv_typeof(p)) {
        case JV_NULL: rc = sqlite3_bind_null(st, idx); break;
        case JV_BOOL: rc = sqlite3_bind_int(st, idx, jv_bool(p)); break;
        case JV_INT: rc = sqlite3_bind_int64(st, idx, jv_int(p)); break;
        case JV_REAL: rc = sqlite3_bind_double(st, idx, jv_num(p)); break;
        case JV_STRING: rc = sqlite3_bind_text(st, idx, jv_str(p), (int)jv_str_len(p), SQLITE_TRANSIENT); break;
        default: {
            char *text = jv_dumps(p);
            rc = sqlite3_bind_text(st, idx, text, -1, SQLITE_TRANSIENT);
            free(text);
        }
        }
        if (rc != SQLITE_OK)
            return db_fail(s, err, "bind");
    }
    return 0;
}

int store_exec(store *s, const char *sql, const jv *params, jv **rows, int64_t *changes, sl_error *err)
{
    lock(s);
    sqlite3_stmt *st = prepare(s, sql, err);
    if (!st) {
        unlock(s);
        return SL_EIO;
    }
    int rc = bind_params(s, st, params, err);
    jv *out = rows ? jv_new_array() : NULL;
    while (rc == 0) {
        int step = sqlite3_step(st);
        if (step == SQLITE_DONE)
            break;
        if (step != SQLITE_ROW) {
            rc = db_fail(s, err, "step");
            break;
        }
        if (!out)
            continue;
        jv *row = jv_new_object();
        int ncol = sqlite3_column_count(st);
        for (int c = 0; c < ncol; c++) {
            const char *name = sqlite3_column_name(st, c);
            switch (sqlite3_column_type(st, c)) {
            case SQLITE_INTEGER: jv_set_int(row, name, sqlite3_column_int64(st, c)); break;
            case SQLITE_FLOAT: jv_set_take(row, name, jv_new_real(sqlite3_column_double(st, c))); break;
            case SQLITE_NULL: jv_set_null(row, name); break;
            default: {
                const char *t = (const char *)sqlite3_column_text(st, c);
                jv *v = jv_new_strn(t ? t : "", (size_t)sqlite3_column_bytes(st, c));
                jv_set_take(row, name, v ? v : jv_new_null());
            }
            }
        }
        jv_push_take(out, row);
    }
    if (rc == 0 && changes)
        *changes = sqlite3_changes64(s->db);
    sqlite3_reset(st);
    unlock(s);
    if (rc) {
        jv_free(out);
        return rc;
    }
    if (rows)
        *rows = out;
    return 0;
}

jv *store_row(store *s, const char *sql, const jv *params, sl_error *err)
{
    jv *rows = NULL;
    if (store_exec(s, sql, params, &rows, NULL, err) != 0)
        return NULL;
    jv *r = jv_len(rows) ? jv_incref(jv_at(rows, 0)) : NULL;
    jv_free(rows);
    return r;
}

int store_tx_begin(store *s, sl_error *err)
{
    pthread_mutex_lock(&s->mu);
    if (exec_script(s, "BEGIN IMMEDIATE", err) != 0) {
        pthread_mutex_unlock(&s->mu);
        return SL_EIO;
    }
    tls_tx_store = s;
    return 0;
}

int store_tx_commit(store *s, sl_error *err)
{
    int rc = exec_script(s, "COMMIT", err);
    if (rc)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    tls_tx_store = NULL;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void store_tx_rollback(store *s)
{
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    tls_tx_store = NULL;
    pthread_mutex_unlock(&s->mu);
}

jv *store_params(const char *spec, ...)
{
    va_list ap;
    va_start(ap, spec);
    jv *a = jv_new_array();
    for (const char *p = spec; *p; p++) {
        switch (*p) {
        case 's': {
            const char *v = va_arg(ap, const char *);
            jv_push_take(a, v ? jv_new_str(v) : jv_new_null());
            break;
        }
        case 'i': jv_push_take(a, jv_new_int(va_arg(ap, int64_t))); break;
        default: jv_push_take(a, jv_new_null()); break;
        }
    }
    va_end(ap);
    return a;
}
