/* sqldb: connections to the user's databases (SQLite files and PostgreSQL servers) behind one
 * small API, for table data actions and the Database connector.
 *
 * Design: unlike core/store (our own data), these are someone else's databases: every value
 * crosses as text (or null), exactly as Flow carries values, so numbers and dates are never
 * rounded through doubles; parameters are always bound ("$1"/"?1" placeholders written by the
 * caller in the dialect's form via sqldb_placeholder), never spliced into SQL text. A connection
 * is used by one thread at a time; sqldb_pool hands out connections per configuration.
 * Introspection lists tables, columns (declared type, nullability, primary-key position,
 * auto-increment) in the form table data actions need.
 */
#ifndef SLUICE_SQLDB_H
#define SLUICE_SQLDB_H

#include <stdbool.h>
#include <stdint.h>

#include "core/json.h"
#include "core/util.h"

typedef enum { SQLDB_SQLITE, SQLDB_POSTGRES } sqldb_kind;

typedef struct sqldb_config {
    sqldb_kind kind;
    char *path;        /* SQLite: database file (absolute, or relative to base_dir) */
    char *host, *port, *user, *password, *dbname; /* PostgreSQL */
    char *schema;      /* default "main" (SQLite) / "public" (PostgreSQL) */
    bool no_ssl;       /* PostgreSQL: sslmode=disable (else prefer) */
    int64_t timeout_ms;/* statement/connect timeout (default 30000) */
} sqldb_config;

/* Parses the "database" member of a connection component:
 *   {"kind":"sqlite","path":"customers.db"} or
 *   {"kind":"postgresql","host","port","user","password","database","schema","noSsl"}
 * base_dir resolves relative SQLite paths. Problems at ptr (+ member). Returns 0 or SL_EINVAL. */
int sqldb_config_parse(const jv *v, const char *base_dir, const char *file, const char *ptr, sqldb_config *out,
                       sl_problems *problems);
void sqldb_config_free(sqldb_config *c);
/* Deep copy of src into dst (free dst with sqldb_config_free). */
void sqldb_config_copy(const sqldb_config *src, sqldb_config *dst);
/* A description safe to log (never the password). */
void sqldb_config_describe(const sqldb_config *c, char *out, size_t n);

typedef struct sqldb sqldb;

int sqldb_open(const sqldb_config *c, sqldb **out, sl_error *err);
void sqldb_close(sqldb *db);
sqldb_kind sqldb_kind_of(const sqldb *db);

/* Writes the n-th (1-based) parameter placeholder of the dialect ("?N" or "$N") into out[16]. */
void sqldb_placeholder(const sqldb *db, int n, char out[16]);
/* Appends ident as a quoted identifier ("name", with quotes doubled) to out. */
int sqldb_quote_ident(buf *out, const char *ident);

/* Runs one statement. params: JSON array of strings/nulls (numbers/booleans are sent as text).
 * rows (optional): new array of objects column → text or null (SQLite integers/reals as their
 * text; PostgreSQL text format). changes (optional): rows affected. Errors: SL_EIO with the
 * database's message in err->msg. */
int sqldb_query(sqldb *db, const char *sql, const jv *params, jv **rows, int64_t *changes, sl_error *err);

/* Runs one statement and hands each result row to fn, without building jv rows: values[c] is
 * NULL for SQL NULL, else the same text sqldb_query would give (valid UTF-8, NUL-terminated,
 * lens[c] bytes); names[c] the column names. Everything is valid only during the call. fn
 * returns 0 to go on, nonzero to stop reading rows (not an error). SQLite statements are
 * prepared once per connection and reused (sqldb_query too). Errors as for sqldb_query. */
typedef int (*sqldb_row_fn)(void *ctx, size_t ncols, const char *const *names, const char *const *values,
                            const size_t *lens);
int sqldb_query_each(sqldb *db, const char *sql, const jv *params, sqldb_row_fn fn, void *ctx, sl_error *err);

/* What kind of failure the last statement had, so callers can choose a status: bad data or an
 * unknown name (400), a constraint (409), a timeout or lock wait (504), a lost connection (502). */
typedef enum {
    SQLDB_ERR_NONE,
    SQLDB_ERR_CONNECTION,
    SQLDB_ERR_CONSTRAINT,
    SQLDB_ERR_DATA,
    SQLDB_ERR_TIMEOUT,
    SQLDB_ERR_OTHER
} sqldb_error_class;
sqldb_error_class sqldb_last_error(const sqldb *db);
/* True when the connection is unusable (give it back to the pool as broken). */
bool sqldb_broken(const sqldb *db);
/* The schema tables live in ("main" / "public" unless configured). */
const char *sqldb_schema(const sqldb *db);

int sqldb_begin(sqldb *db, sl_error *err);
int sqldb_commit(sqldb *db, sl_error *err);
void sqldb_rollback(sqldb *db);

/* Introspection: [{"name","columns":[{"name","type" (declared, lower case),"nullable","pk" (0 or
 * 1-based position in the primary key),"autoincrement"}]}] for the tables and views of the
 * schema, sorted by name. Also: table "view" (bool); column "comment" (string, only when the
 * column has one: PostgreSQL COMMENT ON COLUMN; SQLite a SQL comment inside the column's
 * definition in CREATE TABLE, or a "--" comment on the same line after its comma). Tables
 * without columns are listed with "columns": []; SQLite views whose tables are gone are left out. */
int sqldb_tables(sqldb *db, jv **tables, sl_error *err);
/* One table or view of the schema in the same form (new ref), or SL_ENOTFOUND. */
int sqldb_table(sqldb *db, const char *name, jv **table, sl_error *err);

/* A number that changes whenever the schema changes (SQLite: PRAGMA schema_version), so callers
 * may cache introspection; -1 when the database offers no cheap such number (PostgreSQL), in
 * which case nothing may be cached. Returns 0 or SL_EIO. */
int sqldb_schema_version(sqldb *db, int64_t *version, sl_error *err);

/* A small pool of open connections per configuration (thread-safe). */
typedef struct sqldb_pool sqldb_pool;
sqldb_pool *sqldb_pool_new(const sqldb_config *c, unsigned max_open);
int sqldb_pool_get(sqldb_pool *p, sqldb **out, sl_error *err);  /* waits when all are in use */
void sqldb_pool_put(sqldb_pool *p, sqldb *db, bool broken);      /* broken: close it */
void sqldb_pool_free(sqldb_pool *p);

#endif
