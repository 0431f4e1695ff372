/* tableaction: data actions bound straight to database tables (no process), with the semantics
 * of the public ManyWho/Boomi SQL service (../shared/conformance/service-sql/README.md).
 *
 * Design: a table source is a connection pool plus the set of tables it exposes (one table for a
 * table data action, or every table of a schema). Describe turns columns into one Flow type per
 * table with a binding; Load translates the list filter into one SQL statement with bound
 * parameters (where with every criteria type and nested AND/OR groups, search over text columns,
 * order by, limit/offset with one extra row to tell hasMoreResults, a row cap); Save inserts or
 * updates by primary key; Delete deletes by primary key. externalId is base64 of a compact JSON
 * object of the primary-key values as strings, in the reference's member order.
 */
#ifndef SLUICE_TABLEACTION_H
#define SLUICE_TABLEACTION_H

#include "core/json.h"
#include "core/sqldb.h"
#include "core/util.h"

typedef struct table_source table_source;

/* tables: NULL = every table and view of the schema; else the named tables. max_rows: row cap
 * for one Load (default 1000). Connections are opened lazily. The config is copied. */
table_source *table_source_new(const sqldb_config *c, const char *const *tables, size_t ntables, int64_t max_rows);
void table_source_free(table_source *t);

/* The outcome of a data call: an HTTP status and a JSON body (ObjectDataResponse on success, a
 * message on failure). */
typedef struct table_result {
    int status;
    jv *body;        /* new ref */
    char *text;      /* when set (Load): the body as JSON text (malloc'd, len bytes), used instead of body */
    size_t len;
    char error[512]; /* when status >= 400 */
} table_result;

/* Appends one TypeElement (with one binding) per exposed table to types. */
int table_source_describe(table_source *t, jv *types, sl_error *err);
/* request: the parsed ObjectDataRequest (borrowed). */
void table_source_load(table_source *t, const jv *request, table_result *res);
void table_source_save(table_source *t, const jv *request, table_result *res);
void table_source_delete(table_source *t, const jv *request, table_result *res);

/* The list filter → SQL translation, exposed for tests and fuzzing: writes the WHERE/ORDER/LIMIT
 * tail for table `table` (columns from sqldb_tables) into sql and the bound values into params. */
int table_filter_sql(sqldb_kind kind, const jv *table, const jv *list_filter, const jv *search_columns,
                     int64_t max_rows, buf *sql, jv *params, sl_error *err);
/* Notes on table_filter_sql: placeholders continue the numbering of params (so a caller may bind
 * earlier values first); search_columns is an array of names or of {"developerName"} objects
 * (objectDataType.properties), NULL meaning every string column; a where list without
 * comparisonType is joined with AND; LIMIT and OFFSET are bound too (LIMIT is the page plus one
 * row). Errors are SL_EINVAL (unknown name, bad value or criteria) or SL_ETOOBIG. */

/* The externalId for key members names[i] = values[i] (strings or null) given in key order:
 * base64 of compact JSON with the members in Java HashMap iteration order (README §2.5).
 * Returns a malloc'd string. */
char *table_external_id(const char *const *names, const jv *const *values, size_t n);

#endif
