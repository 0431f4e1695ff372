/* store: the embedded SQL store (SQLite, WAL) behind a small backend-neutral API.
 *
 * Design: callers speak SQL with positional parameters ("?1", "?2" …) given as a JSON array of
 * scalars, and get rows back as JSON objects keyed by column name. That keeps callers free of
 * SQLite types so a PostgreSQL backend can sit behind the same functions later. One connection
 * per store, serialised by a mutex; prepared statements are cached by SQL text. Schema changes
 * are numbered migrations applied in one transaction at open (PRAGMA user_version).
 * Every write that must be atomic goes through store_tx_begin/commit.
 */
#ifndef SLUICE_STORE_H
#define SLUICE_STORE_H

#include <stdint.h>

#include "core/json.h"
#include "core/util.h"

typedef struct store store;

/* Opens (creating) the database file at path and applies migrations[0..n) that are newer than
 * the database (each a string of SQL statements). Returns 0 and *out, or SL_EIO with err. */
int store_open(const char *path, const char *const *migrations, size_t n, store **out, sl_error *err);
void store_close(store *s);

/* Runs one statement with params (a JSON array of strings/integers/reals/booleans/nulls; may be
 * NULL). rows (optional) receives a new JSON array of row objects. changes (optional) receives
 * the number of rows changed. Returns 0 or SL_EIO (err->msg has SQLite's text). */
int store_exec(store *s, const char *sql, const jv *params, jv **rows, int64_t *changes, sl_error *err);
/* Convenience: first row (new ref) or NULL when there is none or on error. */
jv *store_row(store *s, const char *sql, const jv *params, sl_error *err);

/* Transactions: begin takes the store's lock and holds it until commit/rollback, so other
 * threads' statements wait. Nesting is not supported. */
int store_tx_begin(store *s, sl_error *err);
int store_tx_commit(store *s, sl_error *err);
void store_tx_rollback(store *s);

/* Builds a params array from a printf-like spec: 's' string (NULL -> null), 'i' int64, 'n' null.
 * e.g. store_params("si", name, (int64_t)5). Returns a new array. */
jv *store_params(const char *spec, ...);

#endif
