/* flowstore: the Flow engine's durable store, <data>/flow.db.
 *
 * Design: its own SQLite file through core/store.h (numbered migrations, JSON params and rows),
 * separate from the Atom's database so the two sides share nothing but HTTP. Tables:
 *   tenants        (id uuid, name unique, created)
 *   flows          (tenant, id = the snapshot's id.id, developerName, created; key (tenant, id))
 *   flow_versions  (id uuid v7, tenant, flow, version 1,2,3…, snapshot_version_id, snapshot JSON,
 *                   created; (tenant, flow, version) unique)
 *   activations    (tenant, flow → active version id, activated)
 *   states         (id uuid, tenant, flow, version_id, current element, token, version counter,
 *                   status, json, created, updated)
 * Every multi-statement write is one transaction. A state changes only through a
 * compare-and-set on its version counter: the UPDATE names the version the caller read, so of
 * two writers that read the same state exactly one wins and the other gets SL_ESTATE with
 * nothing changed. Each successful update also issues a fresh state token, which is what makes
 * a stale stateToken from the player refuse cleanly. SQLite's WAL journal makes each commit
 * atomic on disk, so a kill -9 leaves either the old row or the new one.
 * Times are ms since the epoch. Ids this module makes are UUIDs (v7 where they key an index).
 */
#ifndef SLUICE_FLOW_FLOWSTORE_H
#define SLUICE_FLOW_FLOWSTORE_H

#include <stdint.h>

#include "core/json.h"
#include "core/store.h"
#include "core/util.h"

typedef struct flowstore flowstore;

/* Status strings of a state. Any string is stored; DONE is what cleanup removes. */
#define FLOW_STATE_IN_PROGRESS "IN_PROGRESS"
#define FLOW_STATE_DONE "DONE"

/* One stored state (all strings owned; free with flowstore_state_free). */
typedef struct flow_state {
    char id[37];
    char tenant[37];
    char *flow_id;
    char *version_id;      /* the flow version the state runs */
    char *current_element; /* map element id; NULL when none */
    char token[37];        /* changes on every update */
    int64_t version;       /* compare-and-set counter: 1 at creation, +1 per update */
    char *status;
    char *json;            /* the engine's state blob (JSON text) */
    int64_t created;
    int64_t updated;
} flow_state;

/* Opens (creating the folder and file) <data_dir>/flow.db and applies migrations. */
int flowstore_open(const char *data_dir, flowstore **out, sl_error *err);
/* Opens a database file by its exact path (tests). */
int flowstore_open_file(const char *path, flowstore **out, sl_error *err);
void flowstore_close(flowstore *fs); /* NULL is fine */

/* Returns the id of the tenant called name into id_out, creating it when new. Idempotent and
 * safe against a concurrent creator. name must be non-empty (else SL_EINVAL). */
int flowstore_tenant_ensure(flowstore *fs, const char *name, char id_out[37], sl_error *err);
/* Looks a tenant's id up by name: 0, or SL_ENOTFOUND. */
int flowstore_tenant_find(flowstore *fs, const char *name, char id_out[37], sl_error *err);

/* Imports one snapshot (JSON text) into tenant_id: validates it structurally (snapshot_parse;
 * the first problem goes to err with SL_EINVAL), creates the flow (keyed by the snapshot's
 * id.id) if new or renames it, adds the next version number and activates that version, all in
 * one transaction. *flow_id_out (malloc'd) and version_id_out (our version id) are optional.
 * SL_ENOTFOUND when the tenant does not exist. */
int flowstore_flow_import(flowstore *fs, const char *tenant_id, const char *snapshot_json, char **flow_id_out,
                          char version_id_out[37], sl_error *err);

/* The active version of a flow: *snapshot_json (malloc'd JSON text) and optionally its version
 * id and number. SL_ENOTFOUND when the flow does not exist in the tenant or has no active
 * version. */
int flowstore_flow_active(flowstore *fs, const char *tenant_id, const char *flow_id, char **snapshot_json,
                          char version_id_out[37], int64_t *version_number, sl_error *err);

/* Makes version_id the active version of its flow (it must belong to tenant and flow). */
int flowstore_flow_activate(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version_id,
                            sl_error *err);

/* Number of versions stored for a flow (0 when it does not exist). */
int flowstore_flow_version_count(flowstore *fs, const char *tenant_id, const char *flow_id, int64_t *count,
                                 sl_error *err);

/* Creates a state (status IN_PROGRESS, version 1, a new id and token) for a version of a flow.
 * json is the initial blob (NULL means "{}"), current_element may be NULL. out (optional)
 * receives the stored row. SL_ENOTFOUND when the version is not this tenant's flow's. */
int flowstore_state_create(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version_id,
                           const char *current_element, const char *json, flow_state *out, sl_error *err);

/* Creates a state with a given id (a fresh UUID the caller made), already past its first run:
 * version 1, status, current element, JSON and wait token as given; a new token into token_out.
 * SL_ENOTFOUND when the version is not this tenant's flow's. */
int flowstore_state_insert(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version_id,
                           const char *state_id, const char *current_element, const char *status, const char *json,
                           const char *wait_token, char token_out[37], sl_error *err);

/* Reads a state of tenant_id: 0 with *out filled, or SL_ENOTFOUND (also for another tenant's
 * state). */
int flowstore_state_get(flowstore *fs, const char *tenant_id, const char *state_id, flow_state *out,
                        sl_error *err);

/* Compare-and-set, one transaction: when the stored version equals expected_version, writes
 * new_json (required), current_element (NULL keeps it), status (NULL keeps it), bumps the
 * version, stamps updated and issues a new token (into token_out when given). Otherwise
 * changes nothing and returns SL_ESTATE (stale version) or SL_ENOTFOUND (no such state).
 * Callers fetch the state through the tenant-scoped flowstore_state_get first. */
int flowstore_state_update(flowstore *fs, const char *state_id, int64_t expected_version, const char *new_json,
                           const char *current_element, const char *status, char token_out[37], sl_error *err);

/* As flowstore_state_update, also recording wait_token (NULL clears it): the token sent with a
 * message action that answered WAIT, so the service's callback can be matched to the state. */
int flowstore_state_update_wait(flowstore *fs, const char *state_id, int64_t expected_version, const char *new_json,
                                const char *current_element, const char *status, const char *wait_token,
                                char token_out[37], sl_error *err);

/* Finds the state waiting with wait_token: its tenant and id. SL_ENOTFOUND when none. */
int flowstore_state_by_wait_token(flowstore *fs, const char *wait_token, char tenant_out[37], char state_out[37],
                                  sl_error *err);

/* Deletes a state of tenant_id; SL_ENOTFOUND when there was none. */
int flowstore_state_delete(flowstore *fs, const char *tenant_id, const char *state_id, sl_error *err);

/* Deletes every DONE state whose last update is older than max_age_ms before now (pass
 * now_ms()). *deleted (optional) receives the count. */
int flowstore_state_cleanup(flowstore *fs, int64_t now, int64_t max_age_ms, int64_t *deleted, sl_error *err);

/* Deletes every state (any status) not updated for idle_ms. *deleted optional. */
int flowstore_state_expire(flowstore *fs, int64_t now, int64_t idle_ms, int64_t *deleted, sl_error *err);

/* Number of states, all or with one status. */
int flowstore_state_count(flowstore *fs, const char *status, int64_t *count, sl_error *err);

/* The snapshot JSON (malloc'd) of one of tenant_id's flow versions by our version id;
 * SL_ENOTFOUND when there is none. */
int flowstore_version_snapshot(flowstore *fs, const char *tenant_id, const char *version_id, char **snapshot_json,
                               sl_error *err);

/* A version of a flow: version NULL or "" means the active one; otherwise our version id or a
 * snapshot's id.versionId (the newest version carrying it). *snapshot_json malloc'd,
 * version_id_out (optional) gets our id. SL_ENOTFOUND when there is none. */
int flowstore_flow_version(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version,
                           char **snapshot_json, char version_id_out[37], sl_error *err);

/* As flowstore_flow_version without reading the snapshot: only our version id. */
int flowstore_flow_version_id(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version,
                              char version_id_out[37], sl_error *err);

/* The id (malloc'd) of the newest flow called name in the tenant; SL_ENOTFOUND otherwise. */
int flowstore_flow_by_name(flowstore *fs, const char *tenant_id, const char *name, char **flow_id, sl_error *err);

/* 0 when a tenant with this id exists, else SL_ENOTFOUND. */
int flowstore_tenant_exists(flowstore *fs, const char *tenant_id, sl_error *err);

/* ---- the draw side (builders) ---- */

/* The underlying store, for modules that keep their own queries on flow.db (draw, packages). */
store *flowstore_db(flowstore *fs);

/* Issues a new API key for a tenant (random 256 bits, hex); only its SHA-256 is stored.
 * *key_out malloc'd. SL_ENOTFOUND for an unknown tenant. */
int flowstore_key_add(flowstore *fs, const char *tenant_id, const char *name, char **key_out, sl_error *err);
/* 0 when key is one of tenant_id's keys, else SL_EAUTH. */
int flowstore_key_check(flowstore *fs, const char *tenant_id, const char *key, sl_error *err);

/* A tenant's known Atoms: name → base URI (e.g. http://127.0.0.1:8080). put creates or updates. */
int flowstore_atom_put(flowstore *fs, const char *tenant_id, const char *name, const char *base_uri, sl_error *err);
int flowstore_atom_get(flowstore *fs, const char *tenant_id, const char *name, char **base_uri, sl_error *err);
/* [{name, baseUri}] */
int flowstore_atom_list(flowstore *fs, const char *tenant_id, jv **atoms, sl_error *err);

/* Elements a builder edits. kind: "map", "group" (flow-scoped: flow_id set) or "page", "value",
 * "type", "service", "navigation", "macro", "tag" (tenant-scoped: flow_id NULL). put stores
 * element (giving it a new "id" when it has none, in place) creating or replacing it; an id
 * that belongs to another kind or flow is refused with SL_ESTATE. */
int flowstore_element_put(flowstore *fs, const char *tenant_id, const char *kind, const char *flow_id, jv *element,
                          sl_error *err);
int flowstore_element_get(flowstore *fs, const char *tenant_id, const char *kind, const char *id, jv **element,
                          sl_error *err);
/* Elements of one kind (and flow for flow-scoped kinds) sorted by developerName; kind NULL:
 * every element of the flow plus every tenant-scoped one. *elements is a new array. */
int flowstore_element_list(flowstore *fs, const char *tenant_id, const char *kind, const char *flow_id, jv **elements,
                           sl_error *err);
int flowstore_element_delete(flowstore *fs, const char *tenant_id, const char *kind, const char *id, sl_error *err);

/* A flow's editable header (FlowRequest JSON: id, developerName, startMapElementId, …): put
 * creates the flow when new. get gives the stored draft, or for a flow that was only imported a
 * minimal header {id:{id, versionId:null}, developerName}. */
int flowstore_flow_draft_put(flowstore *fs, const char *tenant_id, const char *flow_id, const jv *draft, sl_error *err);
int flowstore_flow_draft_get(flowstore *fs, const char *tenant_id, const char *flow_id, jv **draft, sl_error *err);
/* [{id, developerName, created, activeVersionId, versions}] */
int flowstore_flow_list(flowstore *fs, const char *tenant_id, jv **flows, sl_error *err);
/* [{id, version, snapshotVersionId, created, isActive}] newest first */
int flowstore_flow_versions(flowstore *fs, const char *tenant_id, const char *flow_id, jv **versions, sl_error *err);
/* [{id, name, created}] */
int flowstore_tenant_list(flowstore *fs, jv **tenants, sl_error *err);

/* A tenant's states, newest update first (optionally one flow's, one status's): [{id, flowId,
 * flowName, versionId, currentMapElementId, status, version, created, updated, parentStateId}].
 * limit 1..1000 (default 100). */
int flowstore_state_list(flowstore *fs, const char *tenant_id, const char *flow_id, const char *status, int64_t limit,
                         int64_t offset, jv **states, sl_error *err);

/* How many states flowstore_state_list would find without limit and offset. */
int flowstore_state_total(flowstore *fs, const char *tenant_id, const char *flow_id, const char *status, int64_t *total,
                          sl_error *err);

/* Frees the strings of a state (not the struct itself). */
void flowstore_state_free(flow_state *st);

/* ---- the draw side: deleting and deactivating (draw.c) ---- */

/* Deletes a flow of tenant_id with everything that hangs off it, in one transaction: its states,
 * its activation, its versions, its map and group elements and the flow itself (draft
 * included). SL_ENOTFOUND when the tenant has no such flow. */
int flowstore_flow_delete(flowstore *fs, const char *tenant_id, const char *flow_id, sl_error *err);
/* Removes the flow's activation when version_id is the active version (the flow then has no
 * active version until one is activated). SL_ENOTFOUND when it is not the active one. */
int flowstore_flow_deactivate(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version_id,
                              sl_error *err);

#endif
