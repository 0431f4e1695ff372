/* fsfiles: the Flow Services Server's file routes — POST /file (List Files), POST /file/content
 * (Upload File, multipart; /files/... accepted too) — and signed download links.
 *
 * Uploads stream: the body is fed chunk by chunk to the multipart parser on the HTTP thread and
 * the file part is written straight to a temporary file under <data>/files/.tmp, so memory does
 * not grow with the file; the size limit is answered 413 before the body is read when the client
 * announces it, and the moment it is passed otherwise. Stored files are named by generated ids
 * (time-ordered UUIDs) inside <data>/files/<externalName>/, never by anything the client sent,
 * so path traversal cannot happen. Each stored file has a metadata file beside it (<id>.json).
 * The Upload File process (optional) then runs on a worker with one document describing the file
 * and the tracked properties "File Name" and "File Content Type"; its returned document (a $File
 * shape) becomes the answer. Download links are HMAC-SHA256-signed and expire after an hour.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atom/atom_internal.h"
#include "core/log.h"
#include "core/multipart.h"

#define JSON_PART_MAX (64 * 1024)
#define LINK_TTL_S 3600

/* ---- storage ---- */

static char *files_dir(atom *a, const char *svc)
{
    return svc ? xasprintf("%s/files/%s", a->cfg.data_dir, svc) : xasprintf("%s/files", a->cfg.data_dir);
}

/* The per-data-directory key that signs download links (created once, mode 0600). */
static int link_key(atom *a, uint8_t key[32])
{
    char *dir = files_dir(a, NULL);
    sl_error err = {0};
    mkdir_p(dir, &err);
    char *path = xasprintf("%s/.link-key", dir);
    free(dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        uint8_t k[32];
        random_bytes(k, sizeof k);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            ssize_t w = write(fd, k, sizeof k);
            close(fd);
            if (w != (ssize_t)sizeof k) {
                unlink(path);
                free(path);
                return SL_EIO;
            }
        }
        fd = open(path, O_RDONLY | O_CLOEXEC); /* whoever won the race wrote it */
    }
    free(path);
    if (fd < 0)
        return SL_EIO;
    ssize_t r = read(fd, key, 32);
    close(fd);
    return r == 32 ? 0 : SL_EIO;
}

static bool id_ok(const char *id)
{
    /* our ids are lowercase UUIDs: 36 characters of hex and dashes */
    if (!id || strlen(id) != 36)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || *p == '-'))
            return false;
    return true;
}

static void sign(const uint8_t key[32], const char *svc, const char *id, long long expires, char out[65])
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s\n%s\n%lld", svc, id, expires);
    uint8_t mac[SHA256_LEN];
    hmac_sha256(key, 32, msg, (size_t)(n > 0 ? n : 0), mac);
    hex_encode(mac, SHA256_LEN, out);
}

static char *download_uri(atom *a, http_request *req, const char *svc, const char *id)
{
    uint8_t key[32];
    if (link_key(a, key) != 0)
        return NULL;
    long long expires = (long long)(now_ms() / 1000) + LINK_TTL_S;
    char sig[65];
    sign(key, svc, id, expires, sig);
    const char *host = http_header(req, "Host");
    return xasprintf("http://%s/fs/%s/files/download/%s?expires=%lld&sig=%s", host ? host : "127.0.0.1", svc, id,
                     expires, sig);
}

static jv *read_meta(atom *a, const char *svc, const char *id)
{
    if (!id_ok(id))
        return NULL;
    char *dir = files_dir(a, svc);
    char *path = xasprintf("%s/%s.json", dir, id);
    free(dir);
    char *text = NULL;
    size_t len = 0;
    sl_error err = {0};
    jv *m = file_read(path, 65536, &text, &len, &err) == 0 ? jv_parse(text, len, &err) : NULL;
    free(text);
    free(path);
    return m;
}

/* A document (any of the $File members) → a $File object. */
static jv *file_object(const jv *doc, size_t order)
{
    static const char *const props[] = {"Date Created", "Date Modified", "Description", "Download Uri", "Embed Uri",
                                        "Icon Uri", "Id", "Kind", "Mime Type", "Name", NULL};
    jv *o = jv_new_object();
    jv_set_null(o, "internalId");
    const jv *id = jv_get(doc, "Id");
    if (!id)
        id = jv_get(doc, "externalId");
    if (jv_is_string(id))
        jv_set(o, "externalId", (jv *)id);
    else
        jv_set_null(o, "externalId");
    jv_set_str(o, "developerName", "$File");
    jv_set_str(o, "typeElementId", "AF48E652-7DEC-4739-9C98-586318E0AD7D");
    jv_set_int(o, "order", (int64_t)order);
    jv_set_bool(o, "isSelected", false);
    jv *ps = jv_new_array();
    for (size_t i = 0; props[i]; i++) {
        jv *p = jv_new_object();
        jv_set_null(p, "typeElementPropertyId");
        jv_set_str(p, "developerName", props[i]);
        bool date = str_starts(props[i], "Date");
        jv_set_str(p, "contentType", date ? "ContentDateTime" : "ContentString");
        const jv *v = strcmp(props[i], "Id") == 0 ? id : jv_get(doc, props[i]);
        if (jv_is_string(v)) {
            jv_set(p, "contentValue", (jv *)v);
        } else if (v && !jv_is_null(v)) {
            char *t = jv_dumps(v);
            jv_set_str(p, "contentValue", t);
            free(t);
        } else {
            jv_set_null(p, "contentValue");
        }
        jv_set_null(p, "contentFormat");
        jv_set_take(p, "objectData", jv_new_array());
        jv_push_take(ps, p);
    }
    jv_set_take(o, "properties", ps);
    return o;
}

/* ---- uploads (HTTP thread) ---- */

typedef struct upload {
    atom *a;
    multipart *mp;
    sl_error err;
    bool in_file, in_json, have_file;
    int fd;
    char tmp_path[600];
    char *filename, *content_type;
    uint64_t size;
    buf json;
} upload;

static int up_part(void *ctx, const multipart_part *p)
{
    upload *u = ctx;
    /* the FileDataRequest part: so named (browsers give Blob parts a filename "blob"), or JSON
     * without a filename; any other part with a filename is a file, even an uploaded data.json */
    bool named = str_ieq(p->name, "FileDataRequest");
    bool json = named || (!p->filename && p->content_type && str_starts(p->content_type, "application/json"));
    if (json) {
        u->in_json = true;
        return 0;
    }
    if (u->have_file) {
        sl_fail(&u->err, SL_EINVAL, "multipart", "one file per upload");
        return SL_EINVAL;
    }
    u->have_file = u->in_file = true;
    u->filename = xstrdup(p->filename && *p->filename ? p->filename : (p->name && *p->name ? p->name : "upload"));
    u->content_type = xstrdup(p->content_type ? p->content_type : "application/octet-stream");
    char *dir = xasprintf("%s/files/.tmp", u->a->cfg.data_dir);
    sl_error e = {0};
    mkdir_p(dir, &e);
    char id[37];
    uuid_v7(id);
    snprintf(u->tmp_path, sizeof u->tmp_path, "%s/%s", dir, id);
    free(dir);
    u->fd = open(u->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        u->tmp_path[0] = 0;
        sl_fail(&u->err, SL_EIO, "storage", "cannot store the upload: %s", strerror(errno));
        return SL_EIO;
    }
    return 0;
}

static int up_data(void *ctx, const char *data, size_t len)
{
    upload *u = ctx;
    if (u->in_json) {
        if (buf_append(&u->json, data, len) != 0) {
            sl_fail(&u->err, SL_ETOOBIG, "FileDataRequest", "the FileDataRequest part is larger than 64 KiB");
            return SL_ETOOBIG;
        }
        return 0;
    }
    if (!u->in_file)
        return 0;
    while (len) {
        ssize_t w = write(u->fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            sl_fail(&u->err, SL_EIO, "storage", "cannot store the upload: %s", strerror(errno));
            return SL_EIO;
        }
        data += w;
        len -= (size_t)w;
        u->size += (uint64_t)w;
    }
    return 0;
}

static int up_end(void *ctx)
{
    upload *u = ctx;
    u->in_json = u->in_file = false;
    return 0;
}

static int up_chunk(http_request *req, const char *data, size_t len)
{
    upload *u = req->user;
    return multipart_feed(u->mp, data, len, &u->err) != 0 ? -1 : 0;
}

static void up_done(http_request *req)
{
    upload *u = req->user;
    if (u->fd > 0)
        close(u->fd);
    if (u->tmp_path[0])
        unlink(u->tmp_path); /* not moved into place: the upload failed or the client went away */
    multipart_free(u->mp);
    free(u->filename);
    free(u->content_type);
    buf_free(&u->json);
    free(u);
}

/* From atom_on_headers, after authentication: uploads stream instead of being collected. */
void fs_files_on_headers(atom *a, http_request *req)
{
    const char *p = req->path + 4; /* after /fs/ */
    const char *slash = strchr(p, '/');
    if (!slash || strcmp(req->method, "POST") != 0)
        return;
    if (strcmp(slash, "/file/content") != 0 && strcmp(slash, "/files/content") != 0)
        return;
    char svc[128];
    snprintf(svc, sizeof svc, "%.*s", (int)(slash - p), p);
    deployment *dep = atom_current(a);
    const flowservice *s = deploy_service(dep, svc);
    uint64_t max = 0;
    for (size_t i = 0; s && i < s->nfiles; i++)
        if (s->files[i].max_upload > max)
            max = s->files[i].max_upload;
    deploy_unref(dep);
    if (!max)
        return; /* no file resource: fs_on_request answers 404 */
    upload *u = xcalloc(1, sizeof *u);
    u->a = a;
    buf_init(&u->json, JSON_PART_MAX);
    static const multipart_callbacks cb = {up_part, up_data, up_end};
    u->mp = multipart_new(http_header(req, "Content-Type"), &cb, u, &u->err);
    req->user = u;
    req->max_body = max + 64 * 1024; /* the file plus the multipart framing and the JSON part */
    req->on_chunk = u->mp ? up_chunk : NULL;
    req->on_done = up_done;
}

/* ---- worker side ---- */

typedef enum { FILES_LIST, FILES_UPLOAD } files_kind;

typedef struct files_job {
    atom *a;
    deployment *dep;
    const flowservice *svc;
    http_request *req;
    files_kind kind;
    const fs_file_resource *res;
    jv *request;              /* FileDataRequest */
    jv *meta;                 /* upload: the stored file's metadata */
} files_job;

static void respond_objects(http_request *req, jv *objects, bool more)
{
    jv *body = jv_new_object();
    jv_set_null(body, "culture");
    jv_set_take(body, "objectData", objects);
    jv_set_bool(body, "hasMoreResults", more);
    jv_set_null(body, "offsetToken");
    http_respond_json(req, 200, body);
    jv_free(body);
}

static void add_link(files_job *j, jv *doc)
{
    const char *id = jv_get_str(doc, "Id");
    if (jv_get_str(doc, "Download Uri") || !id_ok(id))
        return;
    jv *m = read_meta(j->a, j->svc->external_name, id);
    if (!m)
        return;
    jv_free(m);
    char *uri = download_uri(j->a, j->req, j->svc->external_name, id);
    if (uri)
        jv_set_str(doc, "Download Uri", uri);
    free(uri);
}

/* The order of a listing: a $File property (Name ignoring case, dates as ISO text, Size as a
 * number) and a direction; newest first when none is given. qsort has no context argument, so the
 * key travels in a thread-local. */
typedef struct file_order {
    const char *prop; /* "Name", "Date Created", "Date Modified", "Mime Type", "Size" */
    bool desc;
} file_order;
static _Thread_local file_order tls_order;

static int cmp_files(const void *x, const void *y)
{
    const jv *a = *(jv *const *)x, *b = *(jv *const *)y;
    int c;
    if (strcmp(tls_order.prop, "Size") == 0) {
        int64_t p = jv_int(jv_get(a, "Size")), q = jv_int(jv_get(b, "Size"));
        c = p < q ? -1 : p > q;
    } else {
        const char *p = jv_get_str(a, tls_order.prop), *q = jv_get_str(b, tls_order.prop);
        c = strcmp(tls_order.prop, "Name") == 0 || strcmp(tls_order.prop, "Mime Type") == 0
                ? strcasecmp(p ? p : "", q ? q : "")
                : strcmp(p ? p : "", q ? q : "");
    }
    if (c == 0) { /* stable across calls: then by creation, then by id */
        const char *p = jv_get_str(a, "Date Created"), *q = jv_get_str(b, "Date Created");
        c = strcmp(p ? p : "", q ? q : "");
        if (c == 0) {
            p = jv_get_str(a, "Id"), q = jv_get_str(b, "Id");
            c = strcmp(p ? p : "", q ? q : "");
        }
    }
    return tls_order.desc ? -c : c;
}

/* The listFilter's order: orderByPropertyDeveloperName (one of the properties above, ignoring case)
 * and orderByDirectionType (ASC, DESC). Returns false for an unknown property or direction. */
static bool file_order_of(const jv *lf, file_order *o)
{
    static const char *const props[] = {"Name", "Date Created", "Date Modified", "Mime Type", "Size", NULL};
    const char *by = jv_get_str(lf, "orderByPropertyDeveloperName");
    const char *dir = jv_get_str(lf, "orderByDirectionType");
    if (dir && *dir && !str_ieq(dir, "ASC") && !str_ieq(dir, "DESC"))
        return false;
    if (!by || !*by) { /* newest first, or oldest first with ASC */
        o->prop = "Date Created";
        o->desc = !(dir && str_ieq(dir, "ASC"));
        return true;
    }
    o->prop = NULL;
    for (int i = 0; props[i]; i++)
        if (str_ieq(by, props[i]))
            o->prop = props[i];
    o->desc = dir && str_ieq(dir, "DESC");
    return o->prop != NULL;
}

/* Without a List Files process: the stored files, newest first unless the listFilter orders them,
 * filtered by search on the name. */
static void list_stored(files_job *j, const char *search, int64_t limit, int64_t offset, file_order order)
{
    char *dir = files_dir(j->a, j->svc->external_name);
    DIR *d = opendir(dir);
    free(dir);
    jv **items = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 100000) {
        if (!str_ends(e->d_name, ".json"))
            continue;
        char id[64];
        snprintf(id, sizeof id, "%.*s", (int)(strlen(e->d_name) - 5), e->d_name);
        jv *m = read_meta(j->a, j->svc->external_name, id);
        if (!m)
            continue;
        const char *name = jv_get_str(m, "Name");
        if (search && *search && (!name || !strcasestr(name, search)) ) {
            jv_free(m);
            continue;
        }
        if (!str_eq(jv_get_str(m, "Resource"), j->res->path)) {
            jv_free(m);
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            items = xrealloc(items, cap * sizeof *items);
        }
        items[n++] = m;
    }
    if (d)
        closedir(d);
    if (n > 1) {
        tls_order = order;
        qsort(items, n, sizeof *items, cmp_files);
    }
    jv *objects = jv_new_array();
    size_t from = offset > 0 ? (size_t)offset : 0, count = 0;
    bool more = false;
    for (size_t i = from; i < n; i++) {
        if (limit > 0 && count == (size_t)limit) {
            more = true;
            break;
        }
        add_link(j, items[i]);
        jv_push_take(objects, file_object(items[i], count++));
    }
    for (size_t i = 0; i < n; i++)
        jv_free(items[i]);
    free(items);
    respond_objects(j->req, objects, more);
}

static void files_problem(files_job *j, int status, const char *fmt, const char *a1, const char *a2)
{
    atom_problem(j->req, status, "service", NULL, fmt, a1, a2);
}

/* Moves the finished upload into place and writes its metadata; returns the metadata. */
static jv *store_upload(atom *a, const flowservice *svc, const fs_file_resource *res, upload *u, sl_error *err)
{
    char *dir = files_dir(a, svc->external_name);
    if (mkdir_p(dir, err) != 0) {
        free(dir);
        return NULL;
    }
    char id[37];
    uuid_v7(id);
    char *bin = xasprintf("%s/%s.bin", dir, id), *meta_path = xasprintf("%s/%s.json", dir, id);
    free(dir);
    if (fsync(u->fd) != 0 || rename(u->tmp_path, bin) != 0) {
        sl_fail(err, SL_EIO, "storage", "cannot store the upload: %s", strerror(errno));
        free(bin);
        free(meta_path);
        return NULL;
    }
    u->tmp_path[0] = 0;
    char created[25];
    time_iso8601(now_ms(), created);
    jv *m = jv_new_object();
    jv_set_str(m, "Id", id);
    jv_set_str(m, "Name", u->filename);
    jv_set_str(m, "Mime Type", u->content_type);
    jv_set_str(m, "Kind", "file");
    jv_set_int(m, "Size", (int64_t)u->size);
    jv_set_str(m, "Date Created", created);
    jv_set_str(m, "Date Modified", created);
    jv_set_str(m, "Resource", res->path);
    jv_set_str(m, "Path", bin);
    char *text = jv_dumps(m);
    FILE *f = fopen(meta_path, "wx");
    bool ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0)
        ok = false;
    free(text);
    free(meta_path);
    free(bin);
    if (!ok) {
        jv_free(m);
        sl_fail(err, SL_EIO, "storage", "cannot write the upload's metadata");
        return NULL;
    }
    return m;
}

static void run_files(void *arg)
{
    files_job *j = arg;
    atom *a = j->a;
    const process *proc = j->kind == FILES_LIST ? j->res->list : j->res->upload;
    const jv *lf = jv_get(j->request, "listFilter");
    const char *search = jv_get_str(lf, "search");
    int64_t limit = jv_typeof(jv_get(lf, "limit")) == JV_INT ? jv_int(jv_get(lf, "limit")) : 0;
    int64_t offset = jv_typeof(jv_get(lf, "offset")) == JV_INT ? jv_int(jv_get(lf, "offset")) : 0;
    sl_error err = {0};
    if (j->kind == FILES_UPLOAD) {
        /* The upload's state lives until the request completes, i.e. until we answer. */
        j->meta = store_upload(a, j->svc, j->res, j->req->user, &err);
        if (!j->meta)
            proc = NULL;
    }
    if (j->kind == FILES_UPLOAD && !j->meta) {
        atom_problem(j->req, 500, "service", NULL, "%s", err.msg);
    } else if (!proc && j->kind == FILES_LIST) {
        file_order order;
        if (!file_order_of(lf, &order))
            atom_problem(j->req, 400, "api", "/listFilter/orderByPropertyDeveloperName",
                         "files are ordered by Name, Date Created, Date Modified, Mime Type or Size, ASC or DESC");
        else
            list_stored(j, search, limit, offset, order);
    } else if (!proc) {
        add_link(j, j->meta);
        jv *objects = jv_new_array();
        jv_push_take(objects, file_object(j->meta, 0));
        respond_objects(j->req, objects, false);
    } else {
        jv *doc = j->kind == FILES_UPLOAD ? jv_copy(j->meta) : jv_new_object();
        if (j->kind == FILES_LIST) {
            jv_set_str(doc, "resourcePath", j->res->path);
            jv_set_str(doc, "search", search ? search : "");
            jv_set_int(doc, "limit", limit);
            jv_set_int(doc, "offset", offset);
        }
        jv *props = jv_new_object();
        char exec_id[37];
        uuid_v7(exec_id);
        jv_set_str(props, "executionId", exec_id);
        jv_set_str(props, "resourcePath", j->res->path);
        if (j->kind == FILES_UPLOAD) {
            jv_set_str(props, "File Name", jv_get_str(j->meta, "Name"));
            jv_set_str(props, "File Content Type", jv_get_str(j->meta, "Mime Type"));
            jv_set_str(props, "File Id", jv_get_str(j->meta, "Id"));
            jv_set_str(props, "File Path", jv_get_str(j->meta, "Path"));
        }
        jv *docs = jv_new_array();
        jv_push_take(docs, doc);
        process_limits lim = {.deadline_mono_ms = mono_ms() + a->cfg.max_exec_ms, .cancel = &a->cancel};
        process_result res;
        int64_t started = now_ms();
        int rc = process_run(proc, docs, props, &lim, &res);
        metrics_inc(rc == 0 ? a->exec_ok : a->exec_failed, 1);
        exec_record *r = xcalloc(1, sizeof *r);
        memcpy(r->id, exec_id, sizeof r->id);
        r->process = xstrdup(process_name(proc));
        r->trigger = xasprintf("/fs/%s/%s", j->svc->external_name, j->kind == FILES_LIST ? "file" : "file/content");
        r->status = xstrdup(rc == 0 ? "success" : "error");
        r->error = rc == 0 ? NULL : xstrdup(res.error);
        r->started_ms = started;
        r->duration_us = mono_us() - j->req->start_us;
        r->docs_in = 1;
        r->docs_out = (int64_t)jv_len(res.documents);
        r->deployment = j->dep->version;
        jv *stats = process_stats_json(&res);
        r->shapes = jv_dumps(stats);
        jv_free(stats);
        r->callback = xstrdup("none");
        atom_record(a, r);
        if (rc) {
            files_problem(j, 500, "process \"%s\" failed: %s", process_name(proc), res.error);
        } else if (j->kind == FILES_UPLOAD && !(jv_get_str(jv_at(res.documents, 0), "Id") ||
                                                jv_get_str(jv_at(res.documents, 0), "externalId"))) {
            files_problem(j, 500, "process \"%s\" must return a document with the file's Id (externalId)%s",
                          process_name(proc), "");
        } else {
            jv *objects = jv_new_array();
            size_t n = jv_len(res.documents);
            bool more = false;
            if (j->kind == FILES_LIST && limit > 0 && n > (size_t)limit) {
                n = (size_t)limit;
                more = true;
            }
            if (j->kind == FILES_UPLOAD && n > 1)
                n = 1;
            for (size_t i = 0; i < n; i++) {
                jv *d = jv_copy(jv_at(res.documents, i));
                if (j->kind == FILES_UPLOAD && !jv_get(d, "Id") && jv_get(d, "externalId"))
                    jv_set(d, "Id", jv_get(d, "externalId"));
                add_link(j, d);
                jv_push_take(objects, file_object(d, i));
                jv_free(d);
            }
            respond_objects(j->req, objects, more);
        }
        process_result_free(&res);
        jv_free(docs);
        jv_free(props);
    }
    jv_free(j->request);
    jv_free(j->meta);
    deploy_unref(j->dep);
    atomic_fetch_sub(&a->inflight, 1);
    free(j);
}

static void submit_files(files_job *j)
{
    atom *a = j->a;
    atomic_fetch_add(&a->inflight, 1);
    http_suspend(j->req);
    if (workpool_submit(a->workers, run_files, j) != 0) {
        metrics_inc(a->rejected_busy, 1);
        http_add_header(j->req, "Retry-After", "1");
        atom_problem(j->req, 503, "service", NULL, "the atom is busy: too many calls are waiting; retry shortly");
        atomic_fetch_sub(&a->inflight, 1);
        jv_free(j->request);
        jv_free(j->meta);
        deploy_unref(j->dep);
        free(j);
    }
}

static void download(atom *a, http_request *req, const flowservice *svc, const char *id)
{
    const char *exp = http_query(req, "expires"), *sig = http_query(req, "sig");
    uint8_t key[32];
    char want[65];
    long long expires = exp ? strtoll(exp, NULL, 10) : 0;
    if (!id_ok(id) || !sig || strlen(sig) != 64 || link_key(a, key) != 0) {
        atom_problem(req, 403, "api", NULL, "this download link is not valid");
        return;
    }
    sign(key, svc->external_name, id, expires, want);
    if (!mem_ct_eq(want, sig, 64)) {
        atom_problem(req, 403, "api", NULL, "this download link is not valid");
        return;
    }
    if (expires < now_ms() / 1000) {
        atom_problem(req, 410, "api", NULL, "this download link has expired; list the files again for a new one");
        return;
    }
    jv *m = read_meta(a, svc->external_name, id);
    const char *path = jv_get_str(m, "Path");
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) : -1;
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        jv_free(m);
        atom_problem(req, 404, "api", NULL, "no such file");
        return;
    }
    const char *name = jv_get_str(m, "Name");
    buf cd;
    buf_init(&cd, 1024);
    buf_puts(&cd, "attachment; filename*=UTF-8''");
    for (const unsigned char *p = (const unsigned char *)(name ? name : "file"); *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
            *p == '-' || *p == '_')
            buf_putc(&cd, (char)*p);
        else
            buf_printf(&cd, "%%%02X", *p);
    }
    http_add_header(req, "Content-Disposition", cd.data ? cd.data : "attachment");
    buf_free(&cd);
    http_respond_file(req, 200, jv_get_str(m, "Mime Type") ? jv_get_str(m, "Mime Type") : "application/octet-stream",
                      fd, (uint64_t)st.st_size);
    jv_free(m);
}

bool fs_files_route(atom *a, http_request *req, deployment *dep, const flowservice *svc, const char *route)
{
    bool post = strcmp(req->method, "POST") == 0;
    if (str_starts(route, "files/download/") && strcmp(req->method, "GET") == 0) {
        req->route = "fs-download";
        download(a, req, svc, route + 15);
        deploy_unref(dep);
        return true;
    }
    bool list = strcmp(route, "file") == 0 || strcmp(route, "files") == 0;
    bool upload_route = strcmp(route, "file/content") == 0 || strcmp(route, "files/content") == 0;
    if (!post || (!list && !upload_route))
        return false;
    req->route = list ? "fs-file-list" : "fs-file-upload";
    if (!svc->nfiles) {
        atom_problem(req, 404, "api", "/uri", "/fs/%s has no file resources", svc->external_name);
        deploy_unref(dep);
        return true;
    }
    files_job *j = xcalloc(1, sizeof *j);
    j->a = a;
    j->dep = dep;
    j->svc = svc;
    j->req = req;
    sl_error err = {0};
    if (list) {
        j->kind = FILES_LIST;
        j->request = jv_parse(req->body, req->body_len, &err);
        if (!jv_is_object(j->request)) {
            atom_problem(req, 400, "api", err.where, "the request body must be a FileDataRequest object%s%s",
                         err.msg[0] ? ": " : "", err.msg);
            goto fail;
        }
    } else {
        j->kind = FILES_UPLOAD;
        upload *u = req->user;
        if (!u || !u->mp) {
            atom_problem(req, 400, "api", "Content-Type", "an upload is multipart/form-data with a boundary%s%s",
                         u && u->err.msg[0] ? ": " : "", u ? u->err.msg : "");
            goto fail;
        }
        if (req->chunk_failed || multipart_finish(u->mp, &u->err) != 0) {
            atom_problem(req, u->err.code == SL_EIO ? 500 : 400, u->err.code == SL_EIO ? "service" : "api",
                         u->err.where, "the upload could not be read: %s", u->err.msg);
            goto fail;
        }
        if (!u->have_file) {
            atom_problem(req, 400, "api", "multipart", "the upload has no file part");
            goto fail;
        }
        j->request = u->json.len ? jv_parse(u->json.data, u->json.len, &err) : jv_new_object();
        if (!jv_is_object(j->request)) {
            atom_problem(req, 400, "api", "FileDataRequest", "the FileDataRequest part is not a JSON object: %s", err.msg);
            goto fail;
        }
    }
    const char *rp = jv_get_str(j->request, "resourcePath");
    j->res = deploy_file_resource(svc, rp);
    if (!j->res) {
        atom_problem(req, 404, "api", "/resourcePath", "no file resource \"%s\" on /fs/%s", rp ? rp : "",
                     svc->external_name);
        goto fail;
    }
    if (j->kind == FILES_UPLOAD) {
        upload *u = req->user;
        if (u->size > j->res->max_upload) {
            atom_problem(req, 413, "api", NULL, "the file is larger than the %llu bytes resource \"%s\" accepts",
                         (unsigned long long)j->res->max_upload, j->res->path);
            goto fail;
        }
    }
    submit_files(j); /* the upload is moved into place (fsync, rename) on the worker */
    return true;
fail:
    jv_free(j->request);
    jv_free(j->meta);
    free(j);
    deploy_unref(dep);
    return true;
}

/* True for the signed download route, which does not use Basic authentication. */
bool fs_files_is_download(const http_request *req)
{
    const char *p = strstr(req->path + 4, "/files/download/");
    return strcmp(req->method, "GET") == 0 && p && !strchr(p + 16, '/') && strchr(req->path + 4, '/') == p;
}
