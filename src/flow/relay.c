/* relay: the player's data and file requests relayed to Flow services (flow-runtime.md §1.6-1.7,
 * §2.7). Routes (run.c dispatches /api/run/1/service/... here):
 *
 *   POST /api/run/1/service/data          ObjectDataRequest → the service's POST <uri>/data
 *   POST /api/run/1/service/file          FileDataRequest   → POST <uri>/file
 *   POST /api/run/1/service/file/content  multipart upload  → POST <uri>/file/content
 *
 * The body of a data or file call is the objectDataRequest / fileDataRequest the engine put in a
 * component's data response (page.c), echoed back by the player with its listFilter changed.
 * Before anything is forwarded the request is tied to the flow: ManyWhoTenant names an existing
 * tenant; stateId (body, or the ManyWhoState header, which must agree when both are present)
 * names a state of that tenant; serviceElementId is a service element of the snapshot that state
 * runs; a data request's type (objectDataType.typeElementId, else its developerName) is a type
 * element of that snapshot. So the player reaches only services (and, for data, types) of the
 * flow it runs, with the credentials of the flow's service element, which it never sees. A DONE
 * state may still be read (reading is harmless and the last page stays on screen). The state
 * token in the body is not checked: a SYNC issues a new one while a table keeps paging.
 *
 * What is forwarded is built here, not copied: stateId, tenantId, a fresh token per call,
 * culture, configurationValues (engine_configuration_values for that state and service),
 * objectDataType from the snapshot's type (developerName and properties), the player's listFilter
 * with limit defaulted (10) and capped (1000; 0 means "as many as allowed"), command,
 * typeElementBindingId. The service's ObjectDataResponse goes back byte for byte (no parse and
 * re-serialise: a page of 100 rows is ~90 KB). Loads and file lists are reads, so transport
 * errors and 5xx are retried (3 attempts, as the engine's own Loads); uploads are sent once. The
 * work runs on the engine's workers (run_submit), never on an HTTP thread. A service that cannot
 * be reached or answers 5xx, 401/403 (the flow's credentials) or anything but a JSON object gives
 * 502 with a ServiceProblem-shaped body naming the service; 400/404/409/413/422 (about the
 * request) are relayed with the same status and the service's message.
 *
 * Uploads stream. relay_on_headers points the HTTP server's on_chunk at this module: every chunk
 * is appended to a temporary file <data>/tmp/relay-<uuid>.upload (O_EXCL, mode 0600) and fed to
 * the streaming multipart parser, which keeps only the FileDataRequest part (at most 64 KiB) and
 * counts the file parts; no file byte is held in memory. The body limit (1 GiB) is answered 413
 * before the body when Content-Length announces more. When the body is complete the checks above
 * run on a worker with the captured FileDataRequest, then the temporary file is sent as it came
 * (original Content-Type, so the same boundary) to <uri>/file/content, streamed by libcurl from
 * the file. Services take one file per call (the Java SDK and the Atom do), so an upload with
 * several FileData parts is split: one pass over the file writes one multipart body per file (the
 * file part plus the FileDataRequest part) and each is sent in turn; the $File objects of the
 * answers are returned together (the first failure stops the rest and says which file). The
 * FileDataRequest part is the one named so, or a JSON part without a filename; any other part
 * with a filename is a file. The service gets the FileDataRequest as the player sent it (the one
 * the engine emitted). Every temporary file is removed in on_done, which runs however the request
 * ends (answered, refused, or the client gone mid-body); a split piece is removed as soon as it
 * has been sent. An upload that will be refused for its headers (no ManyWhoTenant, not
 * multipart) has its body read and dropped before the 400: answering before the body makes the
 * server close with the body unread, and the client may lose the answer to the reset.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/multipart.h"
#include "flow/run_internal.h"

#define RELAY_MAX_BODY (4u << 20)           /* data / file list request bodies */
#define RELAY_MAX_UPLOAD (1ull << 30)       /* an upload's whole multipart body */
#define RELAY_REQUEST_PART_MAX (64u * 1024) /* the FileDataRequest part of an upload */
#define RELAY_MAX_FILES 32                  /* FileData parts per upload */
#define RELAY_LIMIT_DEFAULT 10
#define RELAY_LIMIT_MAX 1000
#define RELAY_LOAD_ATTEMPTS 3
#define RELAY_SPLIT_CHUNK (256u * 1024)

typedef enum { RELAY_DATA, RELAY_FILE, RELAY_UPLOAD } relay_kind;

/* ---- problems ---- */

/* Answers a failed service call with a ServiceProblem-shaped body (kind "service", CORS headers):
 * 502, or the service's own status when it says the request was bad (400, 404, 409, 413, 422).
 * status 0 means no answer (error says why); body is the parsed answer or NULL, raw its bytes
 * (shown when it has no message). prefix goes before the message ("" for none). */
static void service_problem(http_request *req, const snap_element *svc, const char *prefix, long status,
                            const jv *body, const char *raw, size_t raw_len, const char *error)
{
    char msg[600];
    const char *name = svc->developer_name && *svc->developer_name ? svc->developer_name : svc->id;
    int out = 502;
    if (status == 0) {
        snprintf(msg, sizeof msg, "%sservice \"%s\" could not be reached: %s", prefix, name,
                 error && *error ? error : "no answer");
    } else {
        const char *m = jv_get_str(body, "message");
        char snip[204];
        if (!m && raw && raw_len) { /* no ServiceProblem: show the start of what came */
            size_t n = raw_len < 200 ? raw_len : 200;
            memcpy(snip, raw, n);
            snip[n] = 0;
            for (size_t i = 0; i < n; i++)
                if ((unsigned char)snip[i] < 0x20)
                    snip[i] = ' ';
            m = snip;
        }
        if (status >= 200 && status < 300)
            snprintf(msg, sizeof msg,
                     "%sservice \"%s\" answered %ld with something that is not an ObjectDataResponse%s%s", prefix,
                     name, status, m ? ": " : "", m ? m : "");
        else
            snprintf(msg, sizeof msg, "%sservice \"%s\" answered %ld%s%s", prefix, name, status, m ? ": " : "",
                     m ? m : "");
        if (status == 400 || status == 404 || status == 409 || status == 413 || status == 422)
            out = (int)status;
    }
    utf8_trim_tail(msg);
    log_warn("flow", "relay: service call failed", "service", name, "uri", req->raw_path, "message", msg, NULL);
    jv *p = jv_new_object();
    jv_set_str(p, "kind", "service");
    jv_set_str(p, "uri", req->raw_path);
    jv_set_int(p, "statusCode", out);
    jv_set_str(p, "message", msg);
    jv_set_str(p, "where", "service");
    jv_set_str(p, "serviceElementId", svc->id);
    jv_set_str(p, "serviceDeveloperName", name);
    if (status)
        jv_set_int(p, "serviceStatusCode", status);
    else
        jv_set_null(p, "serviceStatusCode");
    run_cors(req);
    http_add_header(req, "X-ManyWho-Service-Problem-Kind", "service");
    http_respond_json(req, out, p);
    jv_free(p);
}

/* ---- the flow context of a request ---- */

typedef struct relay_ctx {
    flow_state st;
    bool have_state;
    const flow_snapshot *snap;
    jv *blob;
    const snap_element *svc;
    const char *uri, *user, *password; /* the service's (borrowed from the snapshot) */
} relay_ctx;

static void ctx_free(relay_ctx *c)
{
    if (c->have_state)
        flowstore_state_free(&c->st);
    jv_free(c->blob);
    memset(c, 0, sizeof *c);
}

/* Checks, in order: the tenant exists; a state id is given and is a state of that tenant; the
 * service id is given and is a service element of the state's flow version. where_prefix names
 * the place of the members in messages ("" for a JSON body, "FileDataRequest" for an upload's
 * part). 0, or answers with a problem and returns nonzero. */
static int resolve(flow_engine *e, http_request *req, const char *tenant, const char *state_id,
                   const char *service_id, const char *where_prefix, relay_ctx *c)
{
    memset(c, 0, sizeof *c);
    sl_error err = {0};
    char where[96];
    int rc = run_tenant_check(e, tenant, &err);
    if (rc) {
        if (rc == SL_ENOTFOUND)
            run_problem(req, 404, "ManyWhoTenant", "no tenant %s on this engine", tenant);
        else
            run_problem(req, 500, "ManyWhoTenant", "cannot look tenant %s up: %s", tenant, err.msg);
        return rc;
    }
    snprintf(where, sizeof where, "%s/stateId", where_prefix);
    if (!state_id || !*state_id) {
        run_problem(req, 400, where, "the request needs the stateId of the running state (the engine puts it in "
                    "the component's objectDataRequest or fileDataRequest)");
        return SL_EINVAL;
    }
    rc = flowstore_state_get(e->fs, tenant, state_id, &c->st, &err);
    if (rc) {
        if (rc == SL_ENOTFOUND)
            run_problem(req, 404, where, "no state %s in tenant %s (it may have ended and been cleaned up)", state_id,
                        tenant);
        else
            run_problem(req, 500, where, "cannot read state %s: %s", state_id, err.msg);
        return rc;
    }
    c->have_state = true;
    c->snap = run_snapshot(e, tenant, c->st.version_id, &err);
    if (!c->snap) {
        run_problem(req, 500, where, "cannot load the flow version of state %s: %s", state_id, err.msg);
        ctx_free(c);
        return SL_EIO;
    }
    c->blob = jv_parse(c->st.json, strlen(c->st.json), &err);
    if (!jv_is_object(c->blob)) {
        run_problem(req, 500, where, "state %s is damaged: %s", state_id, err.msg);
        ctx_free(c);
        return SL_EIO;
    }
    snprintf(where, sizeof where, "%s/serviceElementId", where_prefix);
    if (!service_id || !*service_id) {
        run_problem(req, 400, where, "the request needs the serviceElementId of one of the flow's services");
        ctx_free(c);
        return SL_EINVAL;
    }
    c->svc = snapshot_element(c->snap, SNAP_SET_SERVICE, service_id);
    if (!c->svc) {
        run_problem(req, 404, where, "service %s is not a service of flow \"%s\" (the version state %s runs)",
                    service_id, c->snap->name ? c->snap->name : "", state_id);
        ctx_free(c);
        return SL_ENOTFOUND;
    }
    c->uri = jv_get_str(c->svc->json, "uri");
    c->user = jv_get_str(c->svc->json, "httpAuthenticationUsername");
    c->password = jv_get_str(c->svc->json, "httpAuthenticationPassword");
    if (!c->uri || !*c->uri) {
        run_problem(req, 422, where, "service \"%s\" of the flow has no uri", c->svc->developer_name);
        ctx_free(c);
        return SL_EINVAL;
    }
    return 0;
}

/* The listFilter to forward: the player's, checked, with limit defaulted and capped, offset
 * defaulted, the sort direction upper-cased and (when type is given) the sort property named as
 * the type names it. NULL with a problem answered. */
static jv *checked_filter(http_request *req, const jv *lf, const snap_element *type)
{
    if (lf && !jv_is_null(lf) && !jv_is_object(lf)) {
        run_problem(req, 400, "/listFilter", "listFilter must be an object or null, not %s",
                    jv_type_name(jv_typeof(lf)));
        return NULL;
    }
    jv *out = jv_is_object(lf) ? jv_copy(lf) : jv_new_object();
    const jv *limit = jv_get(out, "limit");
    int64_t n = RELAY_LIMIT_DEFAULT;
    if (limit && !jv_is_null(limit)) {
        if (jv_typeof(limit) != JV_INT || jv_int(limit) < 0) {
            run_problem(req, 400, "/listFilter/limit", "listFilter.limit must be a whole number >= 0");
            jv_free(out);
            return NULL;
        }
        n = jv_int(limit);
        if (n == 0 || n > RELAY_LIMIT_MAX)
            n = RELAY_LIMIT_MAX;
    }
    jv_set_int(out, "limit", n);
    const jv *offset = jv_get(out, "offset");
    if (offset && !jv_is_null(offset) && (jv_typeof(offset) != JV_INT || jv_int(offset) < 0)) {
        run_problem(req, 400, "/listFilter/offset", "listFilter.offset must be a whole number >= 0");
        jv_free(out);
        return NULL;
    }
    jv_set_int(out, "offset", offset && !jv_is_null(offset) ? jv_int(offset) : 0);
    const jv *search = jv_get(out, "search");
    if (search && !jv_is_null(search) && !jv_is_string(search)) {
        run_problem(req, 400, "/listFilter/search", "listFilter.search must be a string or null");
        jv_free(out);
        return NULL;
    }
    const jv *dir = jv_get(out, "orderByDirectionType");
    if (dir && !jv_is_null(dir)) {
        const char *d = jv_str(dir);
        if (!d || !(str_ieq(d, "ASC") || str_ieq(d, "DESC") || !*d)) {
            run_problem(req, 400, "/listFilter/orderByDirectionType",
                        "listFilter.orderByDirectionType must be \"ASC\", \"DESC\", \"\" or null");
            jv_free(out);
            return NULL;
        }
        jv_set_str(out, "orderByDirectionType", str_ieq(d, "ASC") ? "ASC" : str_ieq(d, "DESC") ? "DESC" : "");
    }
    const jv *ob = jv_get(out, "orderByPropertyDeveloperName");
    if (ob && !jv_is_null(ob)) {
        const char *o = jv_str(ob);
        if (!o) {
            run_problem(req, 400, "/listFilter/orderByPropertyDeveloperName",
                        "listFilter.orderByPropertyDeveloperName must be a string or null");
            jv_free(out);
            return NULL;
        }
        if (*o && type) {
            const jv *props = jv_get(type->json, "properties");
            const char *found = NULL;
            for (size_t i = 0; i < jv_len(props) && !found; i++)
                if (str_ieq(jv_get_str(jv_at(props, i), "developerName"), o))
                    found = jv_get_str(jv_at(props, i), "developerName");
            if (!found) {
                run_problem(req, 400, "/listFilter/orderByPropertyDeveloperName",
                            "cannot sort by \"%s\": type \"%s\" has no such property", o, type->developer_name);
                jv_free(out);
                return NULL;
            }
            jv_set_str(out, "orderByPropertyDeveloperName", found);
        }
    }
    return out;
}

/* The type a data request names, from the snapshot: objectDataType.typeElementId when given (its
 * developerName, when also given, must agree), else objectDataType.developerName. NULL with a
 * problem answered. */
static const snap_element *checked_type(http_request *req, const flow_snapshot *snap, const jv *odt)
{
    if (!jv_is_object(odt)) {
        run_problem(req, 400, "/objectDataType", "the request needs objectDataType (the type to load), as the "
                    "engine put it in the component's objectDataRequest");
        return NULL;
    }
    const char *tid = jv_get_str(odt, "typeElementId"), *name = jv_get_str(odt, "developerName");
    if (tid && *tid) {
        const snap_element *t = snapshot_element(snap, SNAP_SET_TYPE, tid);
        if (!t) {
            run_problem(req, 404, "/objectDataType/typeElementId", "type %s is not a type of flow \"%s\"", tid,
                        snap->name ? snap->name : "");
            return NULL;
        }
        if (name && *name && !str_ieq(name, t->developer_name)) {
            run_problem(req, 400, "/objectDataType/developerName",
                        "objectDataType.developerName \"%s\" is not the name of type %s (\"%s\")", name, tid,
                        t->developer_name);
            return NULL;
        }
        return t;
    }
    for (size_t i = 0; name && *name && i < snap->n_elements[SNAP_SET_TYPE]; i++)
        if (str_ieq(snap->elements[SNAP_SET_TYPE][i].developer_name, name))
            return &snap->elements[SNAP_SET_TYPE][i];
    run_problem(req, 404, "/objectDataType", "objectDataType names %s%s%s, which is not a type of flow \"%s\"",
                name && *name ? "\"" : "no type", name && *name ? name : "", name && *name ? "\"" : "",
                snap->name ? snap->name : "");
    return NULL;
}

/* ---- calling the service ---- */

static bool looks_like_object(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n'))
        i++;
    return i < len && s[i] == '{';
}

/* Sends body to the service and answers the request with the service's answer, as is. */
static void forward_json(flow_engine *e, http_request *req, const relay_ctx *c, const char *path, const jv *body)
{
    /* the answer is relayed as the bytes that came, so the raw call */
    char *text = jv_dumps(body);
    run_http_req rq = {.method = "POST", .base_uri = c->uri, .path = path, .username = c->user,
                       .password = c->password, .body_text = text, .body_len = strlen(text), .body_fd = -1,
                       .attempts = RELAY_LOAD_ATTEMPTS};
    http_client_reply w;
    run_http_raw(e, &rq, &w);
    free(text);
    if (w.status >= 200 && w.status < 300 && looks_like_object(w.body, w.len)) {
        run_cors(req);
        http_respond_take(req, 200, "application/json", w.body, w.len); /* takes the body */
        return;
    }
    sl_error err = {0};
    jv *parsed = w.body && w.status ? jv_parse(w.body, w.len, &err) : NULL;
    service_problem(req, c->svc, "", w.status, parsed, w.body, w.len, w.error);
    jv_free(parsed);
    http_client_reply_free(&w);
}

/* Sets key to v, or to null when v is absent. */
static void set_or_null(jv *obj, const char *key, const jv *v)
{
    if (v)
        jv_set(obj, key, (jv *)v);
    else
        jv_set_null(obj, key);
}

/* The members every request to the service carries. */
static void base_members(jv *out, const char *tenant, const relay_ctx *c, const jv *body)
{
    char token[37];
    uuid_v4(token);
    jv_set_str(out, "stateId", c->st.id);
    jv_set_str(out, "tenantId", tenant);
    jv_set_str(out, "token", token);
    const jv *culture = jv_get(body, "culture");
    set_or_null(out, "culture", jv_is_object(culture) ? culture : NULL);
    jv_set_take(out, "configurationValues", engine_configuration_values(c->snap, c->blob, c->svc));
    jv_set_null(out, "authorization");
}

/* ---- data and file list (worker) ---- */

typedef struct relay_job {
    flow_engine *e;
    http_request *req;
    relay_kind kind;
    char tenant[64];
    char state_header[64]; /* ManyWhoState, "" when absent */
    jv *upload_request;    /* uploads: the FileDataRequest part */
} relay_job;

/* The state id of a JSON request: the body's, or the ManyWhoState header's; both present must
 * agree. NULL with a problem answered when they do not. "" when neither is there. */
static const char *state_of(relay_job *j, const jv *body)
{
    const char *sid = jv_get_str(body, "stateId");
    const char *hdr = j->state_header;
    if (sid && *sid && *hdr && !str_ieq(sid, hdr)) {
        run_problem(j->req, 400, "ManyWhoState", "the ManyWhoState header (%s) and the body's stateId (%s) differ", hdr,
                    sid);
        return NULL;
    }
    return sid && *sid ? sid : hdr;
}

static void do_json(relay_job *j)
{
    http_request *req = j->req;
    sl_error err = {0};
    jv *body = req->body_len ? jv_parse(req->body, req->body_len, &err) : NULL;
    if (!jv_is_object(body)) {
        if (!req->body_len)
            run_problem(req, 400, "", "the request needs a JSON body: the component's %s",
                        j->kind == RELAY_DATA ? "objectDataRequest" : "fileDataRequest");
        else if (!body)
            run_problem(req, 400, err.where, "the request body is not valid JSON: %s", err.msg);
        else
            run_problem(req, 400, "", "the request body must be a JSON object");
        jv_free(body);
        return;
    }
    const char *sid = state_of(j, body);
    relay_ctx c;
    if (!sid || resolve(j->e, req, j->tenant, sid, jv_get_str(body, "serviceElementId"), "", &c) != 0) {
        jv_free(body);
        return;
    }
    jv *out = jv_new_object();
    base_members(out, j->tenant, &c, body);
    const snap_element *type = NULL;
    if (j->kind == RELAY_DATA) {
        type = checked_type(req, c.snap, jv_get(body, "objectDataType"));
        if (!type)
            goto done;
        set_or_null(out, "typeElementBindingId", jv_get(body, "typeElementBindingId"));
        set_or_null(out, "command", jv_get(body, "command"));
        jv *odt = jv_new_object();
        jv_set_str(odt, "typeElementId", type->id);
        jv_set_str(odt, "developerName", type->developer_name);
        jv *props = jv_new_array();
        const jv *tp = jv_get(type->json, "properties");
        for (size_t i = 0; i < jv_len(tp); i++) {
            jv *p = jv_new_object();
            jv_set_str(p, "developerName", jv_get_str(jv_at(tp, i), "developerName"));
            jv_push_take(props, p);
        }
        jv_set_take(odt, "properties", props);
        jv_set_take(out, "objectDataType", odt);
    } else {
        jv_set_str(out, "serviceElementId", c.svc->id);
        static const char *const keys[] = {"resourcePath", "resourceFile", "path", NULL};
        for (int k = 0; keys[k]; k++) {
            const jv *v = jv_get(body, keys[k]);
            if (v && !jv_is_null(v) && !jv_is_string(v)) {
                char where[32];
                snprintf(where, sizeof where, "/%s", keys[k]);
                run_problem(req, 400, where, "%s must be a string or null", keys[k]);
                goto done;
            }
            set_or_null(out, keys[k], v);
        }
    }
    jv *lf = checked_filter(req, jv_get(body, "listFilter"), type);
    if (!lf)
        goto done;
    jv_set_take(out, "listFilter", lf);
    if (j->kind == RELAY_DATA)
        jv_set_null(out, "objectData");
    forward_json(j->e, req, &c, j->kind == RELAY_DATA ? "/data" : "/file", out);
done:
    jv_free(out);
    jv_free(body);
    ctx_free(&c);
}

/* ---- uploads: streaming (HTTP thread) ---- */

/* One file of a split upload: a complete multipart body in its own temporary file. */
typedef struct relay_piece {
    int fd;
    char path[600];
    uint64_t size;
    char *filename;
} relay_piece;

typedef struct relay_upload {
    flow_engine *e;
    multipart *mp;
    sl_error err;          /* why the body could not be taken (SL_EIO: storage) */
    int fd;                /* the raw body, O_RDWR; -1 when none */
    char path[600];
    uint64_t size;         /* bytes written to fd */
    char *content_type;    /* the request's, forwarded unchanged */
    buf json;              /* the FileDataRequest part */
    enum { PART_OTHER, PART_JSON, PART_FILE } part;
    unsigned json_parts, files;
    relay_piece *pieces;   /* split uploads */
    size_t npieces;
} relay_upload;

static char *tmp_dir(flow_engine *e)
{
    return xasprintf("%s/tmp", e->cfg.data_dir ? e->cfg.data_dir : ".");
}

/* Creates a new temporary file <data>/tmp/relay-<uuid><suffix> (O_EXCL); fd or -1 with err. */
static int tmp_create(flow_engine *e, const char *suffix, char path[600], sl_error *err)
{
    char *dir = tmp_dir(e);
    if (mkdir_p(dir, err) != 0) {
        free(dir);
        path[0] = 0;
        return -1;
    }
    for (int tries = 0; tries < 4; tries++) {
        char id[37];
        uuid_v4(id);
        snprintf(path, 600, "%s/relay-%s%s", dir, id, suffix);
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            free(dir);
            return fd;
        }
        if (errno != EEXIST)
            break;
    }
    sl_fail(err, SL_EIO, "storage", "cannot create a temporary file in %s: %s", dir, strerror(errno));
    free(dir);
    path[0] = 0;
    return -1;
}

static int write_all(int fd, const char *data, size_t len, uint64_t *count)
{
    while (len) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        len -= (size_t)w;
        if (count)
            *count += (uint64_t)w;
    }
    return 0;
}

/* The FileDataRequest part: named so (the player sends a plain field; a Blob gets a filename
 * "blob"), or a JSON part without a filename (the SDK's way). Any other part with a filename is a
 * file, whatever its type (a .json file is a file). */
static bool is_request_part(const multipart_part *p)
{
    return str_ieq(p->name, "FileDataRequest") ||
           (!p->filename && p->content_type && str_starts(p->content_type, "application/json"));
}

static int up_part(void *ctx, const multipart_part *p)
{
    relay_upload *u = ctx;
    if (is_request_part(p)) {
        if (++u->json_parts > 1) {
            sl_fail(&u->err, SL_EINVAL, "FileDataRequest", "the upload has more than one FileDataRequest part");
            return SL_EINVAL;
        }
        u->part = PART_JSON;
    } else if (p->filename) {
        if (++u->files > RELAY_MAX_FILES) {
            sl_fail(&u->err, SL_ETOOBIG, "FileData", "more than %d files in one upload", RELAY_MAX_FILES);
            return SL_ETOOBIG;
        }
        u->part = PART_FILE;
    } else {
        u->part = PART_OTHER; /* another form field: goes to the service with the rest */
    }
    return 0;
}

static int up_data(void *ctx, const char *data, size_t len)
{
    relay_upload *u = ctx;
    if (u->part == PART_JSON && buf_append(&u->json, data, len) != 0) {
        sl_fail(&u->err, SL_ETOOBIG, "FileDataRequest", "the FileDataRequest part is larger than %u KiB",
                RELAY_REQUEST_PART_MAX / 1024);
        return SL_ETOOBIG;
    }
    return 0;
}

static int up_end(void *ctx)
{
    ((relay_upload *)ctx)->part = PART_OTHER;
    return 0;
}

static int up_chunk(http_request *req, const char *data, size_t len)
{
    relay_upload *u = req->user;
    if (write_all(u->fd, data, len, &u->size) != 0) {
        sl_fail(&u->err, SL_EIO, "storage", "cannot store the upload: %s", strerror(errno));
        return -1;
    }
    sl_error e = {0};
    if (multipart_feed(u->mp, data, len, &e) != 0) {
        if (!u->err.code) /* a callback's own reason is more precise than the parser's */
            u->err = e;
        return -1;
    }
    return 0;
}

static void up_done(http_request *req)
{
    relay_upload *u = req->user;
    if (!u)
        return;
    if (u->fd >= 0)
        close(u->fd);
    if (u->path[0])
        unlink(u->path);
    for (size_t i = 0; i < u->npieces; i++) {
        if (u->pieces[i].fd >= 0)
            close(u->pieces[i].fd);
        if (u->pieces[i].path[0])
            unlink(u->pieces[i].path);
        free(u->pieces[i].filename);
    }
    free(u->pieces);
    multipart_free(u->mp);
    free(u->content_type);
    buf_free(&u->json);
    free(u);
    req->user = NULL;
}

/* Reads and drops the body of an upload that will be refused (answering before the body is
 * read makes the server close the connection with the body unread, and a client may then lose
 * the answer to the reset). */
static int up_discard(http_request *req, const char *data, size_t len)
{
    (void)req, (void)data, (void)len;
    return 0;
}

static void upload_on_headers(flow_engine *e, http_request *req)
{
    req->route = "relay-upload";
    relay_upload *u = xcalloc(1, sizeof *u);
    u->e = e;
    u->fd = -1;
    buf_init(&u->json, RELAY_REQUEST_PART_MAX);
    req->user = u;
    req->on_done = up_done;
    const char *tenant = http_header(req, "ManyWhoTenant");
    if (!tenant || !*tenant) { /* relay_on_request answers 400 */
        req->on_chunk = up_discard;
        return;
    }
    static const multipart_callbacks cb = {up_part, up_data, up_end};
    const char *ct = http_header(req, "Content-Type");
    u->mp = multipart_new(ct, &cb, u, &u->err);
    if (!u->mp) { /* upload_body answers 400 */
        req->on_chunk = up_discard;
        return;
    }
    multipart_set_max_parts(u->mp, RELAY_MAX_FILES + 8);
    u->content_type = xstrdup(ct);
    sl_error err = {0};
    u->fd = tmp_create(e, ".upload", u->path, &err);
    if (u->fd < 0) {
        run_problem(req, 500, "storage", "%s", err.msg);
        return;
    }
    req->max_body = RELAY_MAX_UPLOAD;
    req->on_chunk = up_chunk;
}

/* ---- uploads: forwarding (worker) ---- */

/* Appends a Content-Disposition filename: a plain quoted one when the name is printable ASCII
 * without quotes or backslashes, else an ASCII stand-in plus filename*=UTF-8''... */
static void put_filename(buf *b, const char *name)
{
    bool plain = true;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            plain = false;
    buf_puts(b, "; filename=\"");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        buf_putc(b, *p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' ? '_' : (char)*p);
    buf_putc(b, '"');
    if (plain)
        return;
    buf_puts(b, "; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(".-_~", *p))
            buf_putc(b, (char)*p);
        else
            buf_printf(b, "%%%02X", *p);
    }
}

typedef struct splitter {
    relay_upload *u;
    char boundary[64];
    relay_piece *cur;
    sl_error err;
} splitter;

static int split_part(void *ctx, const multipart_part *p)
{
    splitter *s = ctx;
    relay_upload *u = s->u;
    if (is_request_part(p) || !p->filename)
        return 0; /* the FileDataRequest (added to every piece) and other fields */
    u->pieces = xrealloc(u->pieces, (u->npieces + 1) * sizeof *u->pieces);
    relay_piece *pc = &u->pieces[u->npieces++];
    memset(pc, 0, sizeof *pc);
    pc->filename = xstrdup(*p->filename ? p->filename : "(no name)");
    pc->fd = tmp_create(u->e, ".part", pc->path, &s->err);
    if (pc->fd < 0)
        return SL_EIO;
    buf h;
    buf_init(&h, 64 * 1024);
    buf_printf(&h, "--%s\r\nContent-Disposition: form-data; name=\"FileData\"", s->boundary);
    put_filename(&h, p->filename);
    buf_printf(&h, "\r\nContent-Type: %s\r\n\r\n", p->content_type && *p->content_type ? p->content_type
                                                                                    : "application/octet-stream");
    int rc = write_all(pc->fd, h.data, h.len, &pc->size);
    buf_free(&h);
    if (rc) {
        sl_fail(&s->err, SL_EIO, "storage", "cannot split the upload: %s", strerror(errno));
        return SL_EIO;
    }
    s->cur = pc;
    return 0;
}

static int split_data(void *ctx, const char *data, size_t len)
{
    splitter *s = ctx;
    if (s->cur && write_all(s->cur->fd, data, len, &s->cur->size) != 0) {
        sl_fail(&s->err, SL_EIO, "storage", "cannot split the upload: %s", strerror(errno));
        return SL_EIO;
    }
    return 0;
}

static int split_end(void *ctx)
{
    splitter *s = ctx;
    relay_piece *pc = s->cur;
    if (!pc)
        return 0;
    s->cur = NULL;
    buf t;
    buf_init(&t, RELAY_REQUEST_PART_MAX + 1024);
    buf_printf(&t, "\r\n--%s\r\nContent-Disposition: form-data; name=\"FileDataRequest\"\r\n"
                   "Content-Type: application/json\r\n\r\n", s->boundary);
    buf_append(&t, s->u->json.data, s->u->json.len);
    buf_printf(&t, "\r\n--%s--\r\n", s->boundary);
    int rc = write_all(pc->fd, t.data, t.len, &pc->size);
    buf_free(&t);
    if (rc) {
        sl_fail(&s->err, SL_EIO, "storage", "cannot split the upload: %s", strerror(errno));
        return SL_EIO;
    }
    return 0;
}

/* Rewrites an upload with several files as one multipart body per file (u->pieces), reading the
 * raw body once. 0, or an error with err. */
static int split_upload(relay_upload *u, char boundary_out[64], sl_error *err)
{
    splitter s = {.u = u};
    char id[37];
    uuid_v4(id);
    snprintf(s.boundary, sizeof s.boundary, "sluice-%s", id);
    static const multipart_callbacks cb = {split_part, split_data, split_end};
    /* The raw body is parsed with its own boundary; the pieces get ours. */
    multipart *mp = multipart_new(u->content_type, &cb, &s, err);
    if (!mp)
        return SL_EINVAL;
    multipart_set_max_parts(mp, RELAY_MAX_FILES + 8);
    char *chunk = xmalloc(RELAY_SPLIT_CHUNK);
    uint64_t off = 0;
    int rc = 0;
    while (off < u->size && rc == 0) {
        ssize_t n = pread(u->fd, chunk, RELAY_SPLIT_CHUNK, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = sl_fail(err, SL_EIO, "storage", "cannot read the upload back: %s",
                         n < 0 ? strerror(errno) : "short file");
            break;
        }
        off += (uint64_t)n;
        if (multipart_feed(mp, chunk, (size_t)n, err) != 0)
            rc = s.err.code ? s.err.code : SL_EINVAL;
    }
    if (rc == 0 && multipart_finish(mp, err) != 0)
        rc = SL_EINVAL;
    if (rc && s.err.code)
        *err = s.err;
    free(chunk);
    multipart_free(mp);
    memcpy(boundary_out, s.boundary, 64);
    return rc;
}

/* Per-attempt time for an upload: the service timeout plus 1 ms per KiB (at least ~1 MB/s). */
static int64_t upload_timeout(flow_engine *e, uint64_t size)
{
    return e->cfg.service_timeout_ms + (int64_t)(size / 1024);
}

static bool good_answer(const engine_service_result *r)
{
    return r->status >= 200 && r->status < 300 && jv_is_object(r->body);
}

static void do_upload(relay_job *j)
{
    http_request *req = j->req;
    relay_upload *u = req->user;
    const jv *fdr = j->upload_request;
    relay_ctx c;
    if (resolve(j->e, req, j->tenant, jv_get_str(fdr, "stateId"), jv_get_str(fdr, "serviceElementId"),
                "FileDataRequest", &c) != 0)
        return;
    run_http_req rq = {.method = "POST", .base_uri = c.uri, .path = "/file/content", .username = c.user,
                       .password = c.password, .attempts = 1};
    engine_service_result r;
    if (u->files == 1) { /* as it came: the original body and boundary */
        rq.content_type = u->content_type;
        rq.body_fd = u->fd;
        rq.body_size = u->size;
        rq.timeout_ms = upload_timeout(j->e, u->size);
        run_http(j->e, &rq, &r);
        if (good_answer(&r))
            run_respond(req, 200, jv_incref(r.body));
        else
            service_problem(req, c.svc, "", r.status, r.body, NULL, 0, r.error);
        jv_free(r.body);
        ctx_free(&c);
        return;
    }
    char boundary[64];
    sl_error err = {0};
    if (split_upload(u, boundary, &err) != 0) {
        run_problem(req, err.code == SL_EIO ? 500 : 400, err.code == SL_EIO ? "storage" : "multipart",
                    "the upload could not be split into one request per file: %s", err.msg);
        ctx_free(&c);
        return;
    }
    char *ct = xasprintf("multipart/form-data; boundary=%s", boundary);
    jv *objects = jv_new_array();
    engine_service_result bad = {0}; /* the first failed call; answered after the loop, since
                                        answering ends the request and frees u */
    char prefix[400] = "";
    for (size_t i = 0; i < u->npieces && !bad.status && !bad.error[0]; i++) {
        relay_piece *pc = &u->pieces[i];
        rq.content_type = ct;
        rq.body_fd = pc->fd;
        rq.body_size = pc->size;
        rq.timeout_ms = upload_timeout(j->e, pc->size);
        run_http(j->e, &rq, &r);
        if (good_answer(&r)) {
            const jv *od = jv_get(r.body, "objectData");
            for (size_t k = 0; k < jv_len(od); k++) {
                jv *o = jv_copy(jv_at(od, k));
                if (jv_is_object(o))
                    jv_set_int(o, "order", (int64_t)jv_len(objects));
                jv_push_take(objects, o);
            }
            jv_free(r.body);
        } else {
            snprintf(prefix, sizeof prefix, "file \"%.200s\" (%zu of %zu; %zu before it stored): ", pc->filename, i + 1,
                     u->npieces, i);
            bad = r;
            if (!bad.status && !bad.error[0])
                snprintf(bad.error, sizeof bad.error, "no answer");
        }
        /* done with this piece: give its disk space back now */
        close(pc->fd);
        pc->fd = -1;
        unlink(pc->path);
        pc->path[0] = 0;
    }
    if (bad.status || bad.error[0]) {
        jv_free(objects);
        service_problem(req, c.svc, prefix, bad.status, bad.body, NULL, 0, bad.error);
        jv_free(bad.body);
    } else {
        jv *resp = jv_new_object();
        jv_set_null(resp, "culture");
        jv_set_take(resp, "objectData", objects);
        jv_set_bool(resp, "hasMoreResults", false);
        jv_set_null(resp, "offsetToken");
        run_respond(req, 200, resp);
    }
    free(ct);
    ctx_free(&c);
}

/* ---- routing ---- */

static void job_run(void *arg)
{
    relay_job *j = arg;
    if (j->kind == RELAY_UPLOAD)
        do_upload(j);
    else
        do_json(j);
    jv_free(j->upload_request);
    free(j);
}

static relay_kind route_of(const char *path, bool *known)
{
    *known = true;
    if (strcmp(path, "/api/run/1/service/data") == 0)
        return RELAY_DATA;
    if (strcmp(path, "/api/run/1/service/file") == 0)
        return RELAY_FILE;
    if (strcmp(path, "/api/run/1/service/file/content") == 0)
        return RELAY_UPLOAD;
    *known = false;
    return RELAY_DATA;
}

void relay_on_headers(flow_engine *e, http_request *req)
{
    bool known;
    relay_kind k = route_of(req->path, &known);
    req->max_body = RELAY_MAX_BODY;
    if (!known || strcmp(req->method, "POST") != 0)
        return;
    if (k == RELAY_UPLOAD)
        upload_on_headers(e, req);
    else
        req->route = k == RELAY_DATA ? "relay-data" : "relay-file";
}

/* The body of an upload, once complete: 0 with j->upload_request, or answers and returns nonzero. */
static int upload_body(http_request *req, relay_job *j)
{
    relay_upload *u = req->user;
    if (!u || !u->mp) {
        run_problem(req, 400, "Content-Type", "an upload is multipart/form-data with a boundary%s%s",
                    u && u->err.msg[0] ? ": " : "", u ? u->err.msg : "");
        return SL_EINVAL;
    }
    if (u->fd < 0) { /* cannot happen: on_headers answered */
        run_problem(req, 500, "storage", "the upload was not set up");
        return SL_ESTATE;
    }
    if (req->chunk_failed || (u->err.code == 0 && multipart_finish(u->mp, &u->err) != 0) || u->err.code) {
        int st = u->err.code == SL_EIO ? 500 : u->err.code == SL_ETOOBIG ? 413 : 400;
        run_problem(req, st, u->err.code == SL_EIO ? "storage" : u->err.where[0] ? u->err.where : "multipart",
                    "the upload could not be read: %s", u->err.msg);
        return SL_EINVAL;
    }
    if (!u->json_parts) {
        run_problem(req, 400, "FileDataRequest", "the upload has no FileDataRequest part (the JSON text of the "
                    "component's fileDataRequest)");
        return SL_EINVAL;
    }
    if (!u->files) {
        run_problem(req, 400, "FileData", "the upload has no FileData part (a file)");
        return SL_EINVAL;
    }
    sl_error err = {0};
    j->upload_request = jv_parse(u->json.data ? u->json.data : "", u->json.len, &err);
    if (!jv_is_object(j->upload_request)) {
        run_problem(req, 400, "FileDataRequest", "the FileDataRequest part is not a JSON object%s%s",
                    err.msg[0] ? ": " : "", err.msg);
        return SL_EINVAL;
    }
    return 0;
}

void relay_on_request(flow_engine *e, http_request *req)
{
    bool known;
    relay_kind k = route_of(req->path, &known);
    if (!known) {
        run_problem(req, 404, "uri", "no relay %s (this engine relays /api/run/1/service/data, /service/file and "
                    "/service/file/content)", req->raw_path);
        return;
    }
    if (strcmp(req->method, "POST") != 0) {
        run_problem(req, 405, "uri", "%s takes POST, not %s", req->raw_path, req->method);
        return;
    }
    const char *tenant = http_header(req, "ManyWhoTenant");
    if (!tenant || !*tenant) {
        run_problem(req, 400, "ManyWhoTenant", "the ManyWhoTenant header (the tenant id) is required");
        return;
    }
    relay_job *j = xcalloc(1, sizeof *j);
    j->e = e;
    j->req = req;
    j->kind = k;
    str_copy(j->tenant, tenant, sizeof j->tenant);
    if (k == RELAY_UPLOAD) {
        if (upload_body(req, j) != 0) {
            jv_free(j->upload_request);
            free(j);
            return;
        }
    } else {
        const char *st = http_header(req, "ManyWhoState");
        if (st)
            str_copy(j->state_header, st, sizeof j->state_header);
    }
    if (run_submit(e, req, job_run, j) != 0) {
        jv_free(j->upload_request);
        free(j);
    }
}
