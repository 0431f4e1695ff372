/* connector: connection components and the connector shapes processes use to reach real systems
 * — databases (SQLite, PostgreSQL), HTTP APIs and disk folders.
 *
 * Design: a connection component ("component": "connection") holds where and how to connect
 * (secrets included; they are never logged or returned by any API). A connector shape in a
 * process names a connection and an operation; it is parsed and linked at deploy time and run per
 * document by the executor, which hands it the document and the dynamic process properties and
 * gets documents back. Operations are bounded (timeouts, response and row caps) and thread-safe:
 * shared state (connection pools, the HTTP client) is internally synchronised.
 * The format is in docs/components.md ("Connections" and the `connector` shape).
 */
#ifndef SLUICE_CONNECTOR_H
#define SLUICE_CONNECTOR_H

#include <stdbool.h>

#include "atom/value.h"
#include "core/json.h"
#include "core/util.h"

typedef struct connection connection;

/* Parses a connection component: {"component":"connection","name","type":"database"|"http"|"disk",
 * "database":{…}|"http":{…}|"disk":{…}}. base_dir resolves relative paths (the data directory).
 * Problems with file and pointer. Returns 0 and a new connection, or SL_EINVAL. */
int connection_parse(const jv *doc, const char *file, const char *base_dir, connection **out, sl_problems *problems);
void connection_free(connection *c);
const char *connection_name(const connection *c);
const char *connection_type(const connection *c); /* "database", "http", "disk" */
/* The database settings of a "database" connection (borrowed), or NULL for other types. Table
 * data actions use it to open their own pools. */
const struct sqldb_config *connection_database(const connection *c);

typedef struct connector_op connector_op;

/* Parses a connector shape's members (the shape object `shape` at JSON pointer ptr):
 * "connection" (name) and "operation" (per type, see docs). Problems are added at exact pointers. */
int connector_op_parse(const jv *shape, const char *file, const char *ptr, connector_op **out, sl_problems *problems);
/* Resolves the connection by name; checks the operation suits the connection's type. */
typedef const connection *(*connection_lookup_fn)(void *ctx, const char *name);
int connector_op_link(connector_op *op, connection_lookup_fn lookup, void *ctx, const char *file,
                      sl_problems *problems);
/* Checks the element paths of the operation's VALUEs against the profile of the documents
 * arriving at the shape (when the caller knows it; NULL checks nothing), as value_link does.
 * Returns the number of problems added. */
size_t connector_op_link_values(const connector_op *op, const profile *prof, const char *file,
                                sl_problems *problems);
void connector_op_free(connector_op *op);

/* Runs the operation for one incoming document (borrowed; may be an empty object). Produced
 * documents are appended to out (a JSON array); props (object of strings) may be read and set.
 * deadline_mono_ms (0 = none) bounds waiting. Returns 0, or SL_EEXEC with a message in err
 * (never containing a secret). */
int connector_op_run(const connector_op *op, const jv *doc, jv *props, jv *out, int64_t deadline_mono_ms,
                     char *err, size_t errsz);

#endif
