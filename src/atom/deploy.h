/* deploy: a deployment — one immutable, validated set of components — and its loading.
 *
 * Design: a components folder is read into a *bundle* (a JSON document listing every component
 * with its file path), the bundle is validated and linked into a deployment (profiles, processes,
 * Flow Services with their describe responses pre-rendered), and only then stored and made
 * current. Validation reports every problem with its file and JSON pointer; nothing is deployed
 * when any is found. A deployment is reference counted: requests hold it while they run, so a
 * new deployment can replace it at any time without disturbing executions in flight.
 */
#ifndef SLUICE_DEPLOY_H
#define SLUICE_DEPLOY_H

#include <stdatomic.h>
#include <stdint.h>

#include "atom/connector.h"
#include "atom/process.h"
#include "atom/profile.h"
#include "atom/tableaction.h"
#include "core/json.h"
#include "core/util.h"

typedef struct fs_config_value {
    char *name;
    const char *content_type; /* static string */
    bool required;
} fs_config_value;

typedef struct fs_action {
    char *name;
    char *description;
    char *uri_part;            /* "actions/<url-encoded name>" */
    const process *process;
    char *request_prefix;      /* "<name> REQUEST" */
    char *response_prefix;     /* "<name> RESPONSE" */
} fs_action;

/* Tables served straight from a database (data actions bound to a table, or every table of a
 * connection's schema): Flow types are named after the tables. */
typedef struct fs_table_source {
    const connection *connection;
    char *table;               /* NULL: every table of the schema */
    table_source *source;      /* owns its connection pool */
} fs_table_source;

/* A data action backed by processes: one object type (a flat profile) with Get, Query, Save and
 * Delete processes (each optional). */
typedef struct fs_data_action {
    char *name;                /* the Flow type's developerName */
    char *description;
    const profile *profile;
    const profile_elem *id;    /* the element holding the externalId */
    const process *get, *query, *save, *del;
} fs_data_action;

/* A file resource: uploads stream to <data>/files/<externalName>/, then the Upload File process
 * (optional) runs; List Files (optional) lists them. */
typedef struct fs_file_resource {
    char *path;                /* the resource path Flow's components name */
    const process *list, *upload;
    uint64_t max_upload;       /* bytes (default 100 MiB) */
} fs_file_resource;

typedef struct flowservice {
    char *name;
    char *external_name;       /* path is /fs/<external_name> */
    char *file;
    fs_config_value *config;
    size_t nconfig;
    fs_action *actions;
    size_t nactions;
    fs_table_source *tables;   /* table data actions and whole databases */
    size_t ntables;
    fs_data_action *data;      /* process-backed data actions */
    size_t ndata;
    fs_file_resource *files;
    size_t nfiles;
    char *describe;            /* pre-rendered describe response (JSON text); with tables, the
                                * table types are added at request time from the live schema */
    size_t describe_len;
} flowservice;

typedef struct deployment {
    int64_t version;           /* store version, 0 when not stored yet */
    char digest[65];           /* sha256 of the canonical bundle */
    jv *bundle;                /* {"components":[{"file","kind","name","digest","doc"}]} */
    profile **profiles;
    size_t nprofiles;
    process **processes;
    size_t nprocesses;
    flowservice *services;
    size_t nservices;
    connection **connections;
    size_t nconnections;
    _Atomic int _refs;
} deployment;

/* Reads every *.json file under dir (sorted, recursive, at most 10,000 files of 4 MiB) into a
 * bundle. Unreadable or non-JSON files are problems. Returns 0 and a new bundle, or SL_EINVAL. */
int deploy_read_dir(const char *dir, jv **bundle, sl_problems *problems);

/* Validates and links a bundle into a new deployment (refcount 1; bundle borrowed and kept).
 * base_dir (the data directory) resolves relative paths in connections. Nothing connects to an
 * outside system here. Returns 0, or SL_EINVAL with every problem listed. */
int deploy_build(const jv *bundle, const char *base_dir, deployment **out, sl_problems *problems);

/* The file resource for resourcePath (the only one when path is NULL/"" and there is one). */
const fs_file_resource *deploy_file_resource(const flowservice *s, const char *path);

/* The process-backed data action for Flow type `type_name`, or NULL. */
const fs_data_action *deploy_data_action(const flowservice *s, const char *type_name);

/* The table source serving Flow type `type_name` on s (a table data action for that table, else
 * a whole-database source), or NULL. */
const fs_table_source *deploy_table_source(const flowservice *s, const char *type_name);

deployment *deploy_ref(deployment *d);
void deploy_unref(deployment *d);

const flowservice *deploy_service(const deployment *d, const char *external_name);
const fs_action *deploy_action(const flowservice *s, const char *name);

/* Prints problems as "file: pointer: message" lines to f-like sink (one per line) into out. */
void deploy_format_problems(const sl_problems *p, buf *out);

#endif
