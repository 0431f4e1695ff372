/* flowstore: SQLite implementation of flowstore.h over core/store.
 *
 * Design: plain SQL through store_exec with positional parameters. Multi-statement writes run
 * between store_tx_begin and store_tx_commit (BEGIN IMMEDIATE, so the write lock is taken up
 * front and two importers cannot interleave). The state compare-and-set is a single
 * "UPDATE … WHERE id = ? AND version = ?" inside a transaction; when it changes no row, a
 * read in the same transaction tells a stale version (SL_ESTATE) from a missing state.
 */
#include "flow/flowstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store.h"
#include "flow/snapshot.h"

struct flowstore {
    store *db;
};

static const char *const migrations[] = {
    "CREATE TABLE tenants(id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created INTEGER NOT NULL);"
    "CREATE TABLE flows(tenant TEXT NOT NULL REFERENCES tenants(id), id TEXT NOT NULL,"
    "  developer_name TEXT NOT NULL, created INTEGER NOT NULL, PRIMARY KEY(tenant, id));"
    "CREATE TABLE flow_versions(id TEXT PRIMARY KEY, tenant TEXT NOT NULL, flow TEXT NOT NULL,"
    "  version INTEGER NOT NULL, snapshot_version_id TEXT, snapshot TEXT NOT NULL, created INTEGER NOT NULL,"
    "  UNIQUE(tenant, flow, version), FOREIGN KEY(tenant, flow) REFERENCES flows(tenant, id));"
    "CREATE TABLE activations(tenant TEXT NOT NULL, flow TEXT NOT NULL,"
    "  version_id TEXT NOT NULL REFERENCES flow_versions(id), activated INTEGER NOT NULL,"
    "  PRIMARY KEY(tenant, flow), FOREIGN KEY(tenant, flow) REFERENCES flows(tenant, id));"
    "CREATE TABLE states(id TEXT PRIMARY KEY, tenant TEXT NOT NULL REFERENCES tenants(id),"
    "  flow TEXT NOT NULL, version_id TEXT NOT NULL REFERENCES flow_versions(id),"
    "  current_element TEXT, token TEXT NOT NULL, version INTEGER NOT NULL, status TEXT NOT NULL,"
    "  json TEXT NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL);"
    "CREATE INDEX states_status_updated ON states(status, updated);",
    /* 2: the token sent with a message action that answered WAIT, to find the state when the
     * service's callback names only the token */
    "ALTER TABLE states ADD COLUMN wait_token TEXT;"
    "CREATE INDEX states_wait_token ON states(wait_token) WHERE wait_token IS NOT NULL;",
    /* 3: the draw side: builders' API keys (SHA-256 of the key), the tenant's known Atoms, and
     * the editable elements flows are built from (map elements and groups belong to one flow;
     * pages, values, types, services, navigation, macros and tags to the tenant). flows.draft
     * is the flow's editable header (FlowRequest JSON). */
    "CREATE TABLE api_keys(hash TEXT PRIMARY KEY, tenant TEXT NOT NULL REFERENCES tenants(id),"
    "  name TEXT, created INTEGER NOT NULL);"
    "CREATE TABLE atoms(tenant TEXT NOT NULL REFERENCES tenants(id), name TEXT NOT NULL,"
    "  base_uri TEXT NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY(tenant, name));"
    "CREATE TABLE elements(tenant TEXT NOT NULL REFERENCES tenants(id), id TEXT NOT NULL, kind TEXT NOT NULL,"
    "  flow TEXT, developer_name TEXT NOT NULL, json TEXT NOT NULL, updated INTEGER NOT NULL,"
    "  PRIMARY KEY(tenant, id));"
    "CREATE INDEX elements_kind ON elements(tenant, kind, flow);"
    "ALTER TABLE flows ADD COLUMN draft TEXT;",
};

/* Runs sql with params (stolen) and frees them. */
static int run(flowstore *fs, const char *sql, jv *params, jv **rows, int64_t *changes, sl_error *err)
{
    int rc = store_exec(fs->db, sql, params, rows, changes, err);
    jv_free(params);
    return rc;
}

/* First row of sql (new reference) or NULL; *rc gets the error code (0 when merely no row). */
static jv *row(flowstore *fs, const char *sql, jv *params, int *rc, sl_error *err)
{
    jv *rows = NULL;
    *rc = run(fs, sql, params, &rows, NULL, err);
    if (*rc)
        return NULL;
    jv *r = jv_len(rows) ? jv_incref(jv_at(rows, 0)) : NULL;
    jv_free(rows);
    return r;
}

int flowstore_open_file(const char *path, flowstore **out, sl_error *err)
{
    *out = NULL;
    flowstore *fs = xcalloc(1, sizeof *fs);
    int rc = store_open(path, migrations, sizeof migrations / sizeof migrations[0], &fs->db, err);
    if (rc) {
        free(fs);
        return rc;
    }
    *out = fs;
    return 0;
}

int flowstore_open(const char *data_dir, flowstore **out, sl_error *err)
{
    *out = NULL;
    int rc = mkdir_p(data_dir, err);
    if (rc)
        return rc;
    char *path = xasprintf("%s/flow.db", data_dir);
    rc = flowstore_open_file(path, out, err);
    free(path);
    return rc;
}

void flowstore_close(flowstore *fs)
{
    if (!fs)
        return;
    store_close(fs->db);
    free(fs);
}

/* ---- tenants ---- */

int flowstore_tenant_find(flowstore *fs, const char *name, char id_out[37], sl_error *err)
{
    int rc;
    jv *r = row(fs, "SELECT id FROM tenants WHERE name = ?1", store_params("s", name), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "tenant", "no tenant called \"%s\"", name);
    str_copy(id_out, jv_get_str(r, "id"), 37);
    jv_free(r);
    return 0;
}

int flowstore_tenant_ensure(flowstore *fs, const char *name, char id_out[37], sl_error *err)
{
    if (!name || !name[0])
        return sl_fail(err, SL_EINVAL, "tenant", "a tenant name must not be empty");
    char id[37];
    uuid_v4(id);
    /* INSERT OR IGNORE makes a concurrent creator harmless: whoever loses reads the winner's id. */
    int rc = run(fs, "INSERT OR IGNORE INTO tenants(id, name, created) VALUES(?1, ?2, ?3)",
                 store_params("ssi", id, name, now_ms()), NULL, NULL, err);
    if (rc)
        return rc;
    return flowstore_tenant_find(fs, name, id_out, err);
}

/* ---- flows and versions ---- */

int flowstore_flow_import(flowstore *fs, const char *tenant_id, const char *snapshot_json, char **flow_id_out,
                          char version_id_out[37], sl_error *err)
{
    if (flow_id_out)
        *flow_id_out = NULL;
    sl_problems problems;
    problems_init(&problems);
    flow_snapshot *snap = NULL;
    if (snapshot_parse_text(snapshot_json, strlen(snapshot_json), "", &snap, &problems) != 0) {
        int rc = sl_fail(err, SL_EINVAL, problems.n ? problems.items[0].pointer : "", "invalid snapshot: %s%s",
                         problems.n ? problems.items[0].message : "unknown problem",
                         problems.n + problems.dropped > 1 ? " (and more)" : "");
        problems_free(&problems);
        return rc;
    }
    problems_free(&problems);
    /* Stored compactly as parsed: the same content in canonical text. */
    char *text = jv_dumps(snap->json);
    char vid[37];
    uuid_v7(vid);
    int64_t now = now_ms();
    int rc = store_tx_begin(fs->db, err);
    if (rc)
        goto out;
    jv *t = row(fs, "SELECT id FROM tenants WHERE id = ?1", store_params("s", tenant_id), &rc, err);
    if (!rc && !t)
        rc = sl_fail(err, SL_ENOTFOUND, "tenant", "no tenant with id %s", tenant_id);
    jv_free(t);
    if (!rc)
        rc = run(fs,
                 "INSERT INTO flows(tenant, id, developer_name, created) VALUES(?1, ?2, ?3, ?4)"
                 " ON CONFLICT(tenant, id) DO UPDATE SET developer_name = excluded.developer_name",
                 store_params("sssi", tenant_id, snap->id, snap->name, now), NULL, NULL, err);
    if (!rc)
        rc = run(fs,
                 "INSERT INTO flow_versions(id, tenant, flow, version, snapshot_version_id, snapshot, created)"
                 " VALUES(?1, ?2, ?3, (SELECT COALESCE(MAX(version), 0) + 1 FROM flow_versions"
                 " WHERE tenant = ?2 AND flow = ?3), ?4, ?5, ?6)",
                 store_params("sssssi", vid, tenant_id, snap->id, snap->version_id, text, now), NULL, NULL, err);
    if (!rc)
        rc = run(fs,
                 "INSERT INTO activations(tenant, flow, version_id, activated) VALUES(?1, ?2, ?3, ?4)"
                 " ON CONFLICT(tenant, flow) DO UPDATE SET version_id = excluded.version_id,"
                 " activated = excluded.activated",
                 store_params("sssi", tenant_id, snap->id, vid, now), NULL, NULL, err);
    if (rc) {
        store_tx_rollback(fs->db);
        goto out;
    }
    rc = store_tx_commit(fs->db, err);
    if (!rc) {
        if (flow_id_out)
            *flow_id_out = xstrdup(snap->id);
        if (version_id_out)
            memcpy(version_id_out, vid, 37);
    }
out:
    free(text);
    snapshot_free(snap);
    return rc;
}

int flowstore_flow_active(flowstore *fs, const char *tenant_id, const char *flow_id, char **snapshot_json,
                          char version_id_out[37], int64_t *version_number, sl_error *err)
{
    *snapshot_json = NULL;
    int rc;
    jv *r = row(fs,
                "SELECT v.id, v.version, v.snapshot FROM activations a JOIN flow_versions v ON v.id = a.version_id"
                " WHERE a.tenant = ?1 AND a.flow = ?2",
                store_params("ss", tenant_id, flow_id), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "flow", "no active version of flow %s", flow_id);
    *snapshot_json = xstrdup(jv_get_str(r, "snapshot"));
    if (version_id_out)
        str_copy(version_id_out, jv_get_str(r, "id"), 37);
    if (version_number)
        *version_number = jv_int(jv_get(r, "version"));
    jv_free(r);
    return 0;
}

int flowstore_flow_activate(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version_id,
                            sl_error *err)
{
    int64_t changes = 0;
    int rc = run(fs,
                 "INSERT INTO activations(tenant, flow, version_id, activated)"
                 " SELECT tenant, flow, id, ?4 FROM flow_versions WHERE id = ?3 AND tenant = ?1 AND flow = ?2"
                 " ON CONFLICT(tenant, flow) DO UPDATE SET version_id = excluded.version_id,"
                 " activated = excluded.activated",
                 store_params("sssi", tenant_id, flow_id, version_id, now_ms()), NULL, &changes, err);
    if (rc)
        return rc;
    if (changes == 0)
        return sl_fail(err, SL_ENOTFOUND, "flow", "version %s is not a version of flow %s", version_id, flow_id);
    return 0;
}

int flowstore_flow_version_count(flowstore *fs, const char *tenant_id, const char *flow_id, int64_t *count,
                                 sl_error *err)
{
    int rc;
    jv *r = row(fs, "SELECT COUNT(*) AS n FROM flow_versions WHERE tenant = ?1 AND flow = ?2",
                store_params("ss", tenant_id, flow_id), &rc, err);
    if (rc)
        return rc;
    *count = r ? jv_int(jv_get(r, "n")) : 0;
    jv_free(r);
    return 0;
}

/* ---- states ---- */

void flowstore_state_free(flow_state *st)
{
    if (!st)
        return;
    free(st->flow_id);
    free(st->version_id);
    free(st->current_element);
    free(st->status);
    free(st->json);
    memset(st, 0, sizeof *st);
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static void state_from_row(const jv *r, flow_state *out)
{
    memset(out, 0, sizeof *out);
    str_copy(out->id, jv_get_str(r, "id"), sizeof out->id);
    str_copy(out->tenant, jv_get_str(r, "tenant"), sizeof out->tenant);
    out->flow_id = dup_or_null(jv_get_str(r, "flow"));
    out->version_id = dup_or_null(jv_get_str(r, "version_id"));
    out->current_element = dup_or_null(jv_get_str(r, "current_element"));
    str_copy(out->token, jv_get_str(r, "token"), sizeof out->token);
    out->version = jv_int(jv_get(r, "version"));
    out->status = dup_or_null(jv_get_str(r, "status"));
    out->json = dup_or_null(jv_get_str(r, "json"));
    out->created = jv_int(jv_get(r, "created"));
    out->updated = jv_int(jv_get(r, "updated"));
}

#define STATE_COLUMNS "id, tenant, flow, version_id, current_element, token, version, status, json, created, updated"

int flowstore_state_get(flowstore *fs, const char *tenant_id, const char *state_id, flow_state *out,
                        sl_error *err)
{
    int rc;
    jv *r = row(fs, "SELECT " STATE_COLUMNS " FROM states WHERE id = ?1 AND tenant = ?2",
                store_params("ss", state_id, tenant_id), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "state", "no state %s", state_id);
    state_from_row(r, out);
    jv_free(r);
    return 0;
}

int flowstore_state_create(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version_id,
                           const char *current_element, const char *json, flow_state *out, sl_error *err)
{
    char id[37], token[37];
    uuid_v4(id);
    uuid_v4(token);
    int64_t now = now_ms(), changes = 0;
    /* Inserting from flow_versions checks that the version is this tenant's flow's. */
    int rc = run(fs,
                 "INSERT INTO states(" STATE_COLUMNS ")"
                 " SELECT ?1, tenant, flow, id, ?5, ?6, 1, ?7, ?8, ?9, ?9 FROM flow_versions"
                 " WHERE id = ?4 AND tenant = ?2 AND flow = ?3",
                 store_params("ssssssssi", id, tenant_id, flow_id, version_id, current_element, token,
                              FLOW_STATE_IN_PROGRESS, json ? json : "{}", now),
                 NULL, &changes, err);
    if (rc)
        return rc;
    if (changes == 0)
        return sl_fail(err, SL_ENOTFOUND, "state", "version %s is not a version of flow %s", version_id, flow_id);
    if (out)
        return flowstore_state_get(fs, tenant_id, id, out, err);
    return 0;
}

int flowstore_state_update(flowstore *fs, const char *state_id, int64_t expected_version, const char *new_json,
                           const char *current_element, const char *status, char token_out[37], sl_error *err)
{
    return flowstore_state_update_wait(fs, state_id, expected_version, new_json, current_element, status, NULL,
                                       token_out, err);
}

int flowstore_state_update_wait(flowstore *fs, const char *state_id, int64_t expected_version, const char *new_json,
                                const char *current_element, const char *status, const char *wait_token,
                                char token_out[37], sl_error *err)
{
    if (!new_json)
        return sl_fail(err, SL_EINVAL, "state", "a state update needs its JSON");
    char token[37];
    uuid_v4(token);
    int64_t changes = 0;
    int rc = store_tx_begin(fs->db, err);
    if (rc)
        return rc;
    rc = run(fs,
             "UPDATE states SET json = ?3, current_element = COALESCE(?4, current_element),"
             " status = COALESCE(?5, status), token = ?6, version = version + 1, updated = ?7, wait_token = ?8"
             " WHERE id = ?1 AND version = ?2",
             store_params("sissssis", state_id, expected_version, new_json, current_element, status, token,
                          now_ms(), wait_token),
             NULL, &changes, err);
    if (!rc && changes == 0) {
        jv *r = row(fs, "SELECT version FROM states WHERE id = ?1", store_params("s", state_id), &rc, err);
        if (!rc && r)
            rc = sl_fail(err, SL_ESTATE, "state", "state %s is at version %lld, not %lld (stale)", state_id,
                         (long long)jv_int(jv_get(r, "version")), (long long)expected_version);
        else if (!rc)
            rc = sl_fail(err, SL_ENOTFOUND, "state", "no state %s", state_id);
        jv_free(r);
    }
    if (rc) {
        store_tx_rollback(fs->db);
        return rc;
    }
    rc = store_tx_commit(fs->db, err);
    if (!rc && token_out)
        memcpy(token_out, token, 37);
    return rc;
}

int flowstore_state_delete(flowstore *fs, const char *tenant_id, const char *state_id, sl_error *err)
{
    int64_t changes = 0;
    int rc = run(fs, "DELETE FROM states WHERE id = ?1 AND tenant = ?2", store_params("ss", state_id, tenant_id),
                 NULL, &changes, err);
    if (rc)
        return rc;
    if (changes == 0)
        return sl_fail(err, SL_ENOTFOUND, "state", "no state %s", state_id);
    return 0;
}

int flowstore_state_cleanup(flowstore *fs, int64_t now, int64_t max_age_ms, int64_t *deleted, sl_error *err)
{
    int64_t changes = 0;
    int rc = run(fs, "DELETE FROM states WHERE status = ?1 AND updated < ?2",
                 store_params("si", FLOW_STATE_DONE, now - max_age_ms), NULL, &changes, err);
    if (deleted)
        *deleted = rc ? 0 : changes;
    return rc;
}

int flowstore_state_expire(flowstore *fs, int64_t now, int64_t idle_ms, int64_t *deleted, sl_error *err)
{
    int64_t changes = 0;
    int rc = run(fs, "DELETE FROM states WHERE updated < ?1", store_params("i", now - idle_ms), NULL, &changes, err);
    if (deleted)
        *deleted = rc ? 0 : changes;
    return rc;
}

int flowstore_version_snapshot(flowstore *fs, const char *tenant_id, const char *version_id, char **snapshot_json,
                               sl_error *err)
{
    *snapshot_json = NULL;
    int rc;
    jv *r = row(fs, "SELECT snapshot FROM flow_versions WHERE id = ?1 AND tenant = ?2",
                store_params("ss", version_id, tenant_id), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "version", "no flow version %s", version_id);
    *snapshot_json = xstrdup(jv_get_str(r, "snapshot"));
    jv_free(r);
    return 0;
}

int flowstore_flow_version_id(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version,
                              char version_id_out[37], sl_error *err)
{
    int rc;
    jv *r = (!version || !*version)
                ? row(fs, "SELECT version_id AS id FROM activations WHERE tenant = ?1 AND flow = ?2",
                      store_params("ss", tenant_id, flow_id), &rc, err)
                : row(fs,
                      "SELECT id FROM flow_versions WHERE tenant = ?1 AND flow = ?2"
                      " AND (id = ?3 OR snapshot_version_id = ?3) ORDER BY (id = ?3) DESC, version DESC LIMIT 1",
                      store_params("sss", tenant_id, flow_id, version), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return (!version || !*version)
                   ? sl_fail(err, SL_ENOTFOUND, "flowId", "no active version of flow %s", flow_id)
                   : sl_fail(err, SL_ENOTFOUND, "flowId", "flow %s has no version %s", flow_id, version);
    str_copy(version_id_out, jv_get_str(r, "id"), 37);
    jv_free(r);
    return 0;
}

int flowstore_flow_version(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version,
                           char **snapshot_json, char version_id_out[37], sl_error *err)
{
    if (!version || !*version)
        return flowstore_flow_active(fs, tenant_id, flow_id, snapshot_json, version_id_out, NULL, err);
    *snapshot_json = NULL;
    int rc;
    /* our version id first; else the newest version carrying that snapshot versionId */
    jv *r = row(fs,
                "SELECT id, snapshot FROM flow_versions WHERE tenant = ?1 AND flow = ?2"
                " AND (id = ?3 OR snapshot_version_id = ?3) ORDER BY (id = ?3) DESC, version DESC LIMIT 1",
                store_params("sss", tenant_id, flow_id, version), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "flowId", "flow %s has no version %s", flow_id, version);
    *snapshot_json = xstrdup(jv_get_str(r, "snapshot"));
    if (version_id_out)
        str_copy(version_id_out, jv_get_str(r, "id"), 37);
    jv_free(r);
    return 0;
}

int flowstore_flow_by_name(flowstore *fs, const char *tenant_id, const char *name, char **flow_id, sl_error *err)
{
    *flow_id = NULL;
    int rc;
    jv *r = row(fs, "SELECT id FROM flows WHERE tenant = ?1 AND developer_name = ?2 ORDER BY created DESC LIMIT 1",
                store_params("ss", tenant_id, name), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "developerName", "no flow called \"%s\"", name);
    *flow_id = xstrdup(jv_get_str(r, "id"));
    jv_free(r);
    return 0;
}

int flowstore_tenant_exists(flowstore *fs, const char *tenant_id, sl_error *err)
{
    int rc;
    jv *r = row(fs, "SELECT id FROM tenants WHERE id = ?1", store_params("s", tenant_id), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "ManyWhoTenant", "no tenant %s", tenant_id);
    jv_free(r);
    return 0;
}

int flowstore_state_count(flowstore *fs, const char *status, int64_t *count, sl_error *err)
{
    int rc;
    jv *r = status ? row(fs, "SELECT COUNT(*) AS n FROM states WHERE status = ?1", store_params("s", status), &rc, err)
                   : row(fs, "SELECT COUNT(*) AS n FROM states", store_params(""), &rc, err);
    if (rc)
        return rc;
    *count = r ? jv_int(jv_get(r, "n")) : 0;
    jv_free(r);
    return 0;
}

int flowstore_state_by_wait_token(flowstore *fs, const char *wait_token, char tenant_out[37], char state_out[37],
                                  sl_error *err)
{
    int rc;
    jv *r = row(fs, "SELECT id, tenant FROM states WHERE wait_token = ?1", store_params("s", wait_token), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "token", "no state is waiting for a service response with this token");
    str_copy(tenant_out, jv_get_str(r, "tenant"), 37);
    str_copy(state_out, jv_get_str(r, "id"), 37);
    jv_free(r);
    return 0;
}

/* ---- draw side ---- */

store *flowstore_db(flowstore *fs)
{
    return fs->db;
}

static void key_hash(const char *key, char out[65])
{
    uint8_t h[SHA256_LEN];
    sha256(key, strlen(key), h);
    hex_encode(h, sizeof h, out);
}

int flowstore_key_add(flowstore *fs, const char *tenant_id, const char *name, char **key_out, sl_error *err)
{
    *key_out = NULL;
    uint8_t raw[32];
    random_bytes(raw, sizeof raw);
    char key[65];
    hex_encode(raw, sizeof raw, key);
    char hash[65];
    key_hash(key, hash);
    int rc = run(fs, "INSERT INTO api_keys(hash, tenant, name, created) SELECT ?1, id, ?3, ?4 FROM tenants WHERE id = ?2",
                 store_params("sssi", hash, tenant_id, name ? name : "", now_ms()), NULL, NULL, err);
    if (rc)
        return rc;
    jv *r = row(fs, "SELECT tenant FROM api_keys WHERE hash = ?1", store_params("s", hash), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "tenant", "no tenant with id %s", tenant_id);
    jv_free(r);
    *key_out = xstrdup(key);
    return 0;
}

int flowstore_key_check(flowstore *fs, const char *tenant_id, const char *key, sl_error *err)
{
    if (!key || !*key || strlen(key) > 256)
        return sl_fail(err, SL_EAUTH, "x-boomi-flow-api-key", "an API key is required");
    char hash[65];
    key_hash(key, hash);
    int rc;
    jv *r = row(fs, "SELECT tenant FROM api_keys WHERE hash = ?1", store_params("s", hash), &rc, err);
    if (rc)
        return rc;
    bool ok = r && str_ieq(jv_get_str(r, "tenant"), tenant_id);
    jv_free(r);
    return ok ? 0 : sl_fail(err, SL_EAUTH, "x-boomi-flow-api-key", "the API key is not valid for tenant %s", tenant_id);
}

int flowstore_atom_put(flowstore *fs, const char *tenant_id, const char *name, const char *base_uri, sl_error *err)
{
    if (!name || !*name || !base_uri || !*base_uri)
        return sl_fail(err, SL_EINVAL, "atom", "an Atom needs a name and a base URI");
    return run(fs,
               "INSERT INTO atoms(tenant, name, base_uri, updated) VALUES(?1, ?2, ?3, ?4)"
               " ON CONFLICT(tenant, name) DO UPDATE SET base_uri = excluded.base_uri, updated = excluded.updated",
               store_params("sssi", tenant_id, name, base_uri, now_ms()), NULL, NULL, err);
}

int flowstore_atom_get(flowstore *fs, const char *tenant_id, const char *name, char **base_uri, sl_error *err)
{
    *base_uri = NULL;
    int rc;
    jv *r = row(fs, "SELECT base_uri FROM atoms WHERE tenant = ?1 AND name = ?2", store_params("ss", tenant_id, name),
                &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "atomName", "this tenant knows no Atom called \"%s\"", name);
    *base_uri = xstrdup(jv_get_str(r, "base_uri"));
    jv_free(r);
    return 0;
}

int flowstore_atom_list(flowstore *fs, const char *tenant_id, jv **atoms, sl_error *err)
{
    return run(fs, "SELECT name, base_uri AS baseUri FROM atoms WHERE tenant = ?1 ORDER BY name",
               store_params("s", tenant_id), atoms, NULL, err);
}

int flowstore_element_put(flowstore *fs, const char *tenant_id, const char *kind, const char *flow_id, jv *element,
                          sl_error *err)
{
    if (!jv_is_object(element))
        return sl_fail(err, SL_EINVAL, "", "an element must be a JSON object");
    const char *id = jv_get_str(element, "id");
    char fresh[37];
    if (!id || !*id) {
        uuid_v4(fresh);
        jv_set_str(element, "id", fresh);
        id = jv_get_str(element, "id");
    }
    const char *name = jv_get_str(element, "developerName");
    char *text = jv_dumps(element);
    int64_t changes = 0;
    /* an id belongs to one kind (and one flow for flow-scoped kinds): never overwrite across */
    int rc = run(fs,
                 "INSERT INTO elements(tenant, id, kind, flow, developer_name, json, updated)"
                 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                 " ON CONFLICT(tenant, id) DO UPDATE SET developer_name = excluded.developer_name,"
                 " json = excluded.json, updated = excluded.updated"
                 " WHERE elements.kind = excluded.kind AND elements.flow IS excluded.flow",
                 store_params("ssssssi", tenant_id, id, kind, flow_id, name ? name : "", text, now_ms()), NULL,
                 &changes, err);
    free(text);
    if (!rc && changes == 0)
        rc = sl_fail(err, SL_ESTATE, "/id", "id %s already belongs to another element (another kind or flow)", id);
    return rc;
}

int flowstore_element_get(flowstore *fs, const char *tenant_id, const char *kind, const char *id, jv **element,
                          sl_error *err)
{
    *element = NULL;
    int rc;
    jv *r = row(fs, "SELECT json FROM elements WHERE tenant = ?1 AND id = ?2 AND kind = ?3",
                store_params("sss", tenant_id, id, kind), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "id", "no %s element %s", kind, id);
    *element = jv_parse(jv_get_str(r, "json"), strlen(jv_get_str(r, "json")), err);
    jv_free(r);
    return *element ? 0 : SL_EIO;
}

int flowstore_element_list(flowstore *fs, const char *tenant_id, const char *kind, const char *flow_id, jv **elements,
                           sl_error *err)
{
    *elements = NULL;
    jv *rows = NULL;
    int rc = kind ? run(fs,
                        "SELECT json FROM elements WHERE tenant = ?1 AND kind = ?2 AND flow IS ?3"
                        " ORDER BY developer_name, id",
                        store_params("sss", tenant_id, kind, flow_id), &rows, NULL, err)
                  : run(fs, "SELECT json FROM elements WHERE tenant = ?1 AND (flow IS ?2 OR flow IS NULL)"
                            " ORDER BY kind, developer_name, id",
                        store_params("ss", tenant_id, flow_id), &rows, NULL, err);
    if (rc)
        return rc;
    jv *out = jv_new_array();
    for (size_t i = 0; i < jv_len(rows); i++) {
        const char *t = jv_get_str(jv_at(rows, i), "json");
        jv *e = jv_parse(t, strlen(t), err);
        if (e)
            jv_push_take(out, e);
    }
    jv_free(rows);
    *elements = out;
    return 0;
}

int flowstore_element_delete(flowstore *fs, const char *tenant_id, const char *kind, const char *id, sl_error *err)
{
    int64_t changes = 0;
    int rc = run(fs, "DELETE FROM elements WHERE tenant = ?1 AND id = ?2 AND kind = ?3",
                 store_params("sss", tenant_id, id, kind), NULL, &changes, err);
    if (!rc && changes == 0)
        rc = sl_fail(err, SL_ENOTFOUND, "id", "no %s element %s", kind, id);
    return rc;
}

int flowstore_flow_draft_put(flowstore *fs, const char *tenant_id, const char *flow_id, const jv *draft, sl_error *err)
{
    char *text = jv_dumps(draft);
    const char *name = jv_get_str(draft, "developerName");
    int rc = run(fs,
                 "INSERT INTO flows(tenant, id, developer_name, created, draft) VALUES(?1, ?2, ?3, ?4, ?5)"
                 " ON CONFLICT(tenant, id) DO UPDATE SET developer_name = excluded.developer_name,"
                 " draft = excluded.draft",
                 store_params("sssis", tenant_id, flow_id, name ? name : "", now_ms(), text), NULL, NULL, err);
    free(text);
    return rc;
}

int flowstore_flow_draft_get(flowstore *fs, const char *tenant_id, const char *flow_id, jv **draft, sl_error *err)
{
    *draft = NULL;
    int rc;
    jv *r = row(fs, "SELECT draft, developer_name FROM flows WHERE tenant = ?1 AND id = ?2",
                store_params("ss", tenant_id, flow_id), &rc, err);
    if (rc)
        return rc;
    if (!r)
        return sl_fail(err, SL_ENOTFOUND, "flowId", "no flow %s", flow_id);
    const char *t = jv_get_str(r, "draft");
    if (t) {
        *draft = jv_parse(t, strlen(t), err);
    } else { /* imported, never edited: its header comes from the active version */
        *draft = jv_new_object();
        jv *id = jv_new_object();
        jv_set_str(id, "id", flow_id);
        jv_set_null(id, "versionId");
        jv_set_take(*draft, "id", id);
        jv_set_str(*draft, "developerName", jv_get_str(r, "developer_name"));
    }
    jv_free(r);
    return *draft ? 0 : SL_EIO;
}

int flowstore_flow_list(flowstore *fs, const char *tenant_id, jv **flows, sl_error *err)
{
    return run(fs,
               "SELECT f.id, f.developer_name AS developerName, f.created, a.version_id AS activeVersionId,"
               " (SELECT COUNT(*) FROM flow_versions v WHERE v.tenant = f.tenant AND v.flow = f.id) AS versions"
               " FROM flows f LEFT JOIN activations a ON a.tenant = f.tenant AND a.flow = f.id"
               " WHERE f.tenant = ?1 ORDER BY f.developer_name, f.id",
               store_params("s", tenant_id), flows, NULL, err);
}

int flowstore_flow_versions(flowstore *fs, const char *tenant_id, const char *flow_id, jv **versions, sl_error *err)
{
    return run(fs,
               "SELECT v.id, v.version, v.snapshot_version_id AS snapshotVersionId, v.created,"
               " (a.version_id = v.id) AS isActive FROM flow_versions v"
               " LEFT JOIN activations a ON a.tenant = v.tenant AND a.flow = v.flow"
               " WHERE v.tenant = ?1 AND v.flow = ?2 ORDER BY v.version DESC",
               store_params("ss", tenant_id, flow_id), versions, NULL, err);
}

int flowstore_tenant_list(flowstore *fs, jv **tenants, sl_error *err)
{
    return run(fs, "SELECT id, name, created FROM tenants ORDER BY name", store_params(""), tenants, NULL, err);
}

/* ---- draw side: deleting and deactivating ---- */

int flowstore_flow_delete(flowstore *fs, const char *tenant_id, const char *flow_id, sl_error *err)
{
    int rc = store_tx_begin(fs->db, err);
    if (rc)
        return rc;
    int64_t changes = 0;
    static const char *const steps[] = {
        "DELETE FROM states WHERE tenant = ?1 AND flow = ?2",
        "DELETE FROM activations WHERE tenant = ?1 AND flow = ?2",
        "DELETE FROM flow_versions WHERE tenant = ?1 AND flow = ?2",
        "DELETE FROM elements WHERE tenant = ?1 AND flow = ?2",
    };
    for (size_t i = 0; !rc && i < sizeof steps / sizeof steps[0]; i++)
        rc = run(fs, steps[i], store_params("ss", tenant_id, flow_id), NULL, NULL, err);
    if (!rc)
        rc = run(fs, "DELETE FROM flows WHERE tenant = ?1 AND id = ?2", store_params("ss", tenant_id, flow_id), NULL,
                 &changes, err);
    if (!rc && changes == 0)
        rc = sl_fail(err, SL_ENOTFOUND, "flowId", "no flow %s", flow_id);
    if (rc) {
        store_tx_rollback(fs->db);
        return rc;
    }
    return store_tx_commit(fs->db, err);
}

int flowstore_flow_deactivate(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version_id,
                              sl_error *err)
{
    int64_t changes = 0;
    int rc = run(fs, "DELETE FROM activations WHERE tenant = ?1 AND flow = ?2 AND version_id = ?3",
                 store_params("sss", tenant_id, flow_id, version_id), NULL, &changes, err);
    if (!rc && changes == 0)
        rc = sl_fail(err, SL_ENOTFOUND, "versionId", "version %s is not the active version of flow %s", version_id,
                     flow_id);
    return rc;
}

/* ---- states for operators (the console) ---- */

int flowstore_state_list(flowstore *fs, const char *tenant_id, const char *flow_id, const char *status, int64_t limit,
                         int64_t offset, jv **states, sl_error *err)
{
    if (limit <= 0 || limit > 1000)
        limit = 100;
    if (offset < 0)
        offset = 0;
    return run(fs,
               "SELECT s.id, s.flow AS flowId, f.developer_name AS flowName, s.version_id AS versionId,"
               " s.current_element AS currentMapElementId, s.status, s.version, s.created, s.updated,"
               " json_extract(s.json, '$.parent') AS parentStateId"
               " FROM states s LEFT JOIN flows f ON f.tenant = s.tenant AND f.id = s.flow"
               " WHERE s.tenant = ?1 AND (?2 IS NULL OR s.flow = ?2) AND (?3 IS NULL OR s.status = ?3)"
               " ORDER BY s.updated DESC, s.id LIMIT ?4 OFFSET ?5",
               store_params("sssii", tenant_id, flow_id, status, limit, offset), states, NULL, err);
}

int flowstore_state_insert(flowstore *fs, const char *tenant_id, const char *flow_id, const char *version_id,
                           const char *state_id, const char *current_element, const char *status, const char *json,
                           const char *wait_token, char token_out[37], sl_error *err)
{
    char token[37];
    uuid_v4(token);
    int64_t now = now_ms(), changes = 0;
    int rc = run(fs,
                 "INSERT INTO states(" STATE_COLUMNS ", wait_token)"
                 " SELECT ?1, tenant, flow, id, ?5, ?6, 1, ?7, ?8, ?9, ?9, ?10 FROM flow_versions"
                 " WHERE id = ?4 AND tenant = ?2 AND flow = ?3",
                 store_params("ssssssssis", state_id, tenant_id, flow_id, version_id, current_element, token,
                              status ? status : FLOW_STATE_IN_PROGRESS, json ? json : "{}", now, wait_token),
                 NULL, &changes, err);
    if (rc)
        return rc;
    if (changes == 0)
        return sl_fail(err, SL_ENOTFOUND, "state", "version %s is not a version of flow %s", version_id, flow_id);
    if (token_out)
        memcpy(token_out, token, 37);
    return 0;
}

int flowstore_state_total(flowstore *fs, const char *tenant_id, const char *flow_id, const char *status, int64_t *total,
                          sl_error *err)
{
    int rc;
    jv *r = row(fs, "SELECT COUNT(*) AS n FROM states WHERE tenant = ?1 AND (?2 IS NULL OR flow = ?2)"
                    " AND (?3 IS NULL OR status = ?3)",
                store_params("sss", tenant_id, flow_id, status), &rc, err);
    if (rc)
        return rc;
    *total = r ? jv_int(jv_get(r, "n")) : 0;
    jv_free(r);
    return 0;
}
