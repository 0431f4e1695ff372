/* atom: runtime wiring, store schema, deployment watching, execution records, route dispatch
 * and authentication (see atom.h). */
#include "atom/atom_internal.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"

static const char *const migrations[] = {
    "CREATE TABLE users(name TEXT PRIMARY KEY, salt TEXT NOT NULL, hash TEXT NOT NULL, created_ms INTEGER NOT NULL);"
    "CREATE TABLE deployments(version INTEGER PRIMARY KEY AUTOINCREMENT, created_ms INTEGER NOT NULL,"
    "  source TEXT, digest TEXT NOT NULL, bundle TEXT NOT NULL);"
    "CREATE TABLE deployed_components(version INTEGER NOT NULL REFERENCES deployments(version),"
    "  kind TEXT NOT NULL, name TEXT NOT NULL, file TEXT NOT NULL, digest TEXT NOT NULL,"
    "  PRIMARY KEY(version, kind, name));"
    "CREATE TABLE executions(id TEXT PRIMARY KEY, process TEXT NOT NULL, trigger TEXT NOT NULL,"
    "  started_ms INTEGER NOT NULL, duration_us INTEGER NOT NULL, status TEXT NOT NULL, error TEXT,"
    "  docs_in INTEGER NOT NULL, docs_out INTEGER NOT NULL, waited INTEGER NOT NULL, callback TEXT,"
    "  deployment INTEGER, shapes TEXT);"
    "CREATE INDEX executions_started ON executions(started_ms DESC);"
    "CREATE INDEX executions_process ON executions(process, started_ms DESC);",
};

deployment *atom_current(atom *a)
{
    pthread_mutex_lock(&a->dep_mu);
    deployment *d = a->current ? deploy_ref(a->current) : NULL;
    pthread_mutex_unlock(&a->dep_mu);
    return d;
}

int64_t atom_version(atom *a)
{
    deployment *d = atom_current(a);
    int64_t v = d ? d->version : 0;
    deploy_unref(d);
    return v;
}

static void set_current(atom *a, deployment *d)
{
    pthread_mutex_lock(&a->dep_mu);
    deployment *old = a->current;
    a->current = d;
    pthread_mutex_unlock(&a->dep_mu);
    deploy_unref(old);
}

/* Loads the newest stored deployment if it differs from the current one. */
static int load_latest(atom *a, sl_error *err)
{
    jv *row = store_row(a->store, "SELECT version, bundle FROM deployments ORDER BY version DESC LIMIT 1", NULL, err);
    if (!row)
        return err && err->code ? err->code : 0;
    int64_t v = jv_int(jv_get(row, "version"));
    if (v == atom_version(a)) {
        jv_free(row);
        return 0;
    }
    const char *text = jv_get_str(row, "bundle");
    jv *bundle = jv_parse(text ? text : "", text ? strlen(text) : 0, err);
    jv_free(row);
    if (!bundle)
        return SL_EIO;
    sl_problems problems;
    problems_init(&problems);
    deployment *d = NULL;
    int rc = deploy_build(bundle, a->cfg.data_dir, &d, &problems);
    jv_free(bundle);
    if (rc) {
        buf b;
        buf_init(&b, 1u << 16);
        deploy_format_problems(&problems, &b);
        log_error("atom", "stored deployment does not validate", "problems", b.data ? b.data : "", NULL);
        buf_free(&b);
        problems_free(&problems);
        return sl_fail(err, SL_EIO, "store", "deployment %lld in the store does not validate", (long long)v);
    }
    problems_free(&problems);
    d->version = v;
    set_current(a, d);
    char vs[24];
    snprintf(vs, sizeof vs, "%lld", (long long)v);
    log_info("atom", "deployment active", "#version", vs, NULL);
    return 0;
}

/* Wakes the watcher early (an unknown credential was presented). */
static void kick_watcher(void *arg)
{
    atom *a = arg;
    pthread_mutex_lock(&a->rec_mu);
    a->kicked = true;
    pthread_cond_broadcast(&a->rec_cv);
    pthread_mutex_unlock(&a->rec_mu);
}

static void *watcher_main(void *arg)
{
    atom *a = arg;
    pthread_mutex_lock(&a->rec_mu);
    while (!a->stopping) {
        pthread_mutex_unlock(&a->rec_mu);
        sl_error err = {0};
        users_reload(a->users);
        if (load_latest(a, &err) != 0)
            log_warn("atom", "cannot load the latest deployment", "error", err.msg, NULL);
        pthread_mutex_lock(&a->rec_mu);
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_sec += 1;
        while (!a->stopping && !a->kicked)
            if (pthread_cond_timedwait(&a->rec_cv, &a->rec_mu, &t) != 0)
                break;
        a->kicked = false;
    }
    pthread_mutex_unlock(&a->rec_mu);
    return NULL;
}

/* ---- execution records ---- */

static void record_free(exec_record *r)
{
    free(r->process);
    free(r->trigger);
    free(r->status);
    free(r->error);
    free(r->shapes);
    free(r->callback);
    free(r);
}

static void write_records(atom *a, exec_record *list)
{
    if (!list)
        return;
    sl_error err = {0};
    if (store_tx_begin(a->store, &err) != 0) {
        log_error("atom", "cannot write execution records", "error", err.msg, NULL);
    } else {
        for (exec_record *r = list; r; r = r->next) {
            jv *p = jv_new_array();
            jv_push_take(p, jv_new_str(r->id));
            jv_push_take(p, jv_new_str(r->process));
            jv_push_take(p, jv_new_str(r->trigger));
            jv_push_take(p, jv_new_int(r->started_ms));
            jv_push_take(p, jv_new_int(r->duration_us));
            jv_push_take(p, jv_new_str(r->status));
            jv_push_take(p, r->error ? jv_new_str(r->error) : jv_new_null());
            jv_push_take(p, jv_new_int(r->docs_in));
            jv_push_take(p, jv_new_int(r->docs_out));
            jv_push_take(p, jv_new_int(r->waited));
            jv_push_take(p, jv_new_str(r->callback ? r->callback : "none"));
            jv_push_take(p, jv_new_int(r->deployment));
            jv_push_take(p, r->shapes ? jv_new_str(r->shapes) : jv_new_null());
            /* A callback outcome may have been recorded before the record itself was written. */
            /* Callback outcomes never race this insert: atom_record_callback holds write_mu. */
            store_exec(a->store,
                       "INSERT INTO executions(id, process, trigger, started_ms, duration_us, status, error, docs_in,"
                       " docs_out, waited, callback, deployment, shapes) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
                       p, NULL, NULL, &err);
            jv_free(p);
        }
        /* Retention: rowids grow with every insert, so the oldest records are the lowest rowids.
         * Pruning is a range delete on the rowid, done at most every few seconds. */
        int64_t now = mono_ms();
        if (now - a->last_prune_ms >= 5000) {
            a->last_prune_ms = now;
            jv *keep = store_params("i", a->cfg.keep_executions);
            store_exec(a->store, "DELETE FROM executions WHERE rowid <= (SELECT max(rowid) FROM executions) - ?1", keep,
                       NULL, NULL, &err);
            jv_free(keep);
        }
        if (store_tx_commit(a->store, &err) != 0)
            log_error("atom", "cannot write execution records", "error", err.msg, NULL);
    }
    while (list) {
        exec_record *n = list->next;
        record_free(list);
        list = n;
    }
}

static exec_record *take_records(atom *a)
{
    exec_record *l = a->rec_head;
    a->rec_head = a->rec_tail = NULL;
    a->rec_n = 0;
    return l;
}

static void *writer_main(void *arg)
{
    atom *a = arg;
    pthread_mutex_lock(&a->rec_mu);
    for (;;) {
        if (!a->rec_head && !a->stopping) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            t.tv_nsec += 200 * 1000000L;
            if (t.tv_nsec >= 1000000000L) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&a->rec_cv, &a->rec_mu, &t);
        }
        bool stop = a->stopping;
        pthread_mutex_unlock(&a->rec_mu);
        pthread_mutex_lock(&a->write_mu);
        pthread_mutex_lock(&a->rec_mu);
        exec_record *l = take_records(a);
        pthread_mutex_unlock(&a->rec_mu);
        write_records(a, l);
        pthread_mutex_unlock(&a->write_mu);
        if (stop && !l)
            return NULL;
        /* batch: let records accumulate a little under load */
        usleep(20000);
        pthread_mutex_lock(&a->rec_mu);
    }
}

void atom_record(atom *a, exec_record *r)
{
    if (!a->runtime) {
        write_records(a, r);
        return;
    }
    pthread_mutex_lock(&a->rec_mu);
    if (a->rec_n >= 100000) {
        pthread_mutex_unlock(&a->rec_mu);
        metrics_inc(a->exec_dropped, 1);
        record_free(r);
        return;
    }
    r->next = NULL;
    if (a->rec_tail)
        a->rec_tail->next = r;
    else
        a->rec_head = r;
    a->rec_tail = r;
    a->rec_n++;
    pthread_mutex_unlock(&a->rec_mu);
}

void atom_record_callback(atom *a, const char *id, const char *outcome)
{
    pthread_mutex_lock(&a->write_mu);
    pthread_mutex_lock(&a->rec_mu);
    for (exec_record *r = a->rec_head; r; r = r->next) {
        if (strcmp(r->id, id) == 0) {
            free(r->callback);
            r->callback = xstrdup(outcome);
            pthread_mutex_unlock(&a->rec_mu);
            pthread_mutex_unlock(&a->write_mu);
            return;
        }
    }
    pthread_mutex_unlock(&a->rec_mu);
    jv *p = store_params("ss", outcome, id);
    sl_error err = {0};
    store_exec(a->store, "UPDATE executions SET callback = ?1 WHERE id = ?2", p, NULL, NULL, &err);
    jv_free(p);
    pthread_mutex_unlock(&a->write_mu);
}

void atom_flush_records(atom *a)
{
    pthread_mutex_lock(&a->write_mu);
    pthread_mutex_lock(&a->rec_mu);
    exec_record *l = take_records(a);
    pthread_mutex_unlock(&a->rec_mu);
    write_records(a, l);
    pthread_mutex_unlock(&a->write_mu);
}

/* ---- lifecycle ---- */

int atom_open(const atom_config *cfg, bool start_runtime, atom **out, sl_error *err)
{
    int rc = mkdir_p(cfg->data_dir, err);
    if (rc)
        return rc;
    atom *a = xcalloc(1, sizeof *a);
    a->cfg = *cfg;
    if (!a->cfg.max_request_bytes)
        a->cfg.max_request_bytes = 1u << 20;
    if (!a->cfg.workers) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        /* Two per core: enough to overlap short waits, few enough that CPU-bound maps do not
         * thrash (measured: 16 workers cost 15% throughput on 2 cores). Processes that wait on
         * slow systems want more: --workers. */
        a->cfg.workers = (unsigned)(n > 0 && 2 * n > 4 ? 2 * n : 4);
    }
    if (!a->cfg.max_queue)
        a->cfg.max_queue = 10000;
    if (!a->cfg.max_exec_ms)
        a->cfg.max_exec_ms = 300000;
    if (!a->cfg.keep_executions)
        a->cfg.keep_executions = 100000;
    if (!a->cfg.callback_backoff_ms)
        a->cfg.callback_backoff_ms = 500;
    if (!a->cfg.callback_attempts)
        a->cfg.callback_attempts = 6;
    pthread_mutex_init(&a->dep_mu, NULL);
    pthread_mutex_init(&a->rec_mu, NULL);
    pthread_mutex_init(&a->write_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&a->rec_cv, &ca);
    pthread_condattr_destroy(&ca);
    char *path = xasprintf("%s/atom.db", cfg->data_dir);
    rc = store_open(path, migrations, sizeof migrations / sizeof migrations[0], &a->store, err);
    free(path);
    if (rc) {
        free(a);
        return rc;
    }
    a->users = users_new(a->store);
    a->exec_ok = metrics_counter("sluice_executions_total", "status=\"success\"", "Process executions by outcome");
    a->exec_failed = metrics_counter("sluice_executions_total", "status=\"error\"", NULL);
    a->exec_waited = metrics_counter("sluice_executions_waited_total", "", "Executions answered WAIT (ran past their sync timeout)");
    a->cb_ok = metrics_counter("sluice_callbacks_total", "result=\"delivered\"", "WAIT callbacks to Flow");
    a->cb_failed = metrics_counter("sluice_callbacks_total", "result=\"failed\"", NULL);
    a->exec_dropped = metrics_counter("sluice_execution_records_dropped_total", "", "Execution records dropped (writer backlog full)");
    a->rejected_busy = metrics_counter("sluice_executions_rejected_total", "", "Executions refused because the queue was full");
    a->exec_latency = metrics_histogram("sluice_execution_duration_seconds", "", "Process execution time");
    rc = load_latest(a, err);
    if (rc) {
        atom_close(a);
        return rc;
    }
    if (start_runtime) {
        a->runtime = true;
        a->workers = workpool_start(a->cfg.workers, a->cfg.max_queue);
        a->timers = timer_start();
        a->client = http_client_start();
        pthread_create(&a->writer, NULL, writer_main, a);
        if (a->cfg.watch) {
            users_on_unknown(a->users, kick_watcher, a);
            pthread_create(&a->watcher, NULL, watcher_main, a);
        }
    }
    *out = a;
    return 0;
}

void atom_shutdown(atom *a, int64_t wait_ms)
{
    atomic_store(&a->cancel, true);
    int64_t until = mono_ms() + wait_ms;
    while (a->runtime && mono_ms() < until && (workpool_pending(a->workers) > 0 || http_client_pending(a->client) > 0))
        usleep(20000);
}

void atom_close(atom *a)
{
    if (!a)
        return;
    if (a->runtime) {
        workpool_stop(a->workers);
        timer_stop(a->timers);
        http_client_stop(a->client, 2000);
        pthread_mutex_lock(&a->rec_mu);
        a->stopping = true;
        pthread_cond_broadcast(&a->rec_cv);
        pthread_mutex_unlock(&a->rec_mu);
        pthread_join(a->writer, NULL);
        if (a->cfg.watch)
            pthread_join(a->watcher, NULL);
    }
    atom_flush_records(a);
    set_current(a, NULL);
    users_free(a->users);
    store_close(a->store);
    pthread_cond_destroy(&a->rec_cv);
    pthread_mutex_destroy(&a->rec_mu);
    pthread_mutex_destroy(&a->write_mu);
    pthread_mutex_destroy(&a->dep_mu);
    free(a);
}

int atom_deploy_dir(atom *a, const char *dir, int64_t *version, bool *changed, sl_problems *problems)
{
    jv *bundle = NULL;
    int rc = deploy_read_dir(dir, &bundle, problems);
    if (rc)
        return rc;
    deployment *d = NULL;
    rc = deploy_build(bundle, a->cfg.data_dir, &d, problems);
    jv_free(bundle);
    if (rc)
        return rc;
    sl_error err = {0};
    jv *latest = store_row(a->store, "SELECT version, digest FROM deployments ORDER BY version DESC LIMIT 1", NULL, &err);
    if (latest && str_eq(jv_get_str(latest, "digest"), d->digest)) {
        *version = jv_int(jv_get(latest, "version"));
        *changed = false;
        jv_free(latest);
        deploy_unref(d);
        return 0;
    }
    jv_free(latest);
    if ((rc = store_tx_begin(a->store, &err)) != 0) {
        problems_add(problems, dir, "", "cannot store the deployment: %s", err.msg);
        deploy_unref(d);
        return rc;
    }
    char *text = jv_dumps(d->bundle);
    jv *p = store_params("isss", now_ms(), dir, d->digest, text);
    free(text);
    rc = store_exec(a->store, "INSERT INTO deployments(created_ms, source, digest, bundle) VALUES(?1, ?2, ?3, ?4)", p,
                    NULL, NULL, &err);
    jv_free(p);
    jv *row = rc ? NULL : store_row(a->store, "SELECT last_insert_rowid() AS v", NULL, &err);
    int64_t v = row ? jv_int(jv_get(row, "v")) : 0;
    jv_free(row);
    const jv *comps = jv_get(d->bundle, "components");
    for (size_t i = 0; rc == 0 && i < jv_len(comps); i++) {
        const jv *c = jv_at(comps, i);
        jv *cp = store_params("issss", v, jv_get_str(c, "kind"), jv_get_str(c, "name"), jv_get_str(c, "file"),
                              jv_get_str(c, "digest"));
        rc = store_exec(a->store, "INSERT INTO deployed_components(version, kind, name, file, digest) VALUES(?1,?2,?3,?4,?5)",
                        cp, NULL, NULL, &err);
        jv_free(cp);
    }
    if (rc) {
        store_tx_rollback(a->store);
        problems_add(problems, dir, "", "cannot store the deployment: %s", err.msg);
        deploy_unref(d);
        return rc;
    }
    if ((rc = store_tx_commit(a->store, &err)) != 0) {
        problems_add(problems, dir, "", "cannot store the deployment: %s", err.msg);
        deploy_unref(d);
        return rc;
    }
    d->version = v;
    set_current(a, d);
    *version = v;
    *changed = true;
    return 0;
}

int atom_user_add(atom *a, const char *name, char **token, sl_error *err)
{
    int rc = users_add(a->store, name, token, err);
    if (rc == 0)
        users_reload(a->users); /* effective at once in this process */
    return rc;
}

/* ---- HTTP ---- */

void atom_problem(http_request *req, int status, const char *kind, const char *where, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    jv *p = jv_new_object();
    jv_set_str(p, "kind", kind);
    jv_set_str(p, "uri", req->raw_path);
    jv_set_int(p, "statusCode", status);
    jv_set_str(p, "message", msg);
    if (where)
        jv_set_str(p, "where", where);
    jv_set_null(p, "responseBody");
    jv_set_null(p, "responseHeaders");
    jv_set_null(p, "invokeType");
    jv_set_null(p, "action");
    http_add_header(req, "X-ManyWho-Service-Problem-Kind", kind);
    http_respond_json(req, status, p);
    jv_free(p);
}

bool atom_owns(const char *path)
{
    return str_starts(path, "/fs/") || str_starts(path, "/api/atom/");
}

void atom_on_headers(atom *a, http_request *req)
{
    bool fs = str_starts(req->path, "/fs/");
    req->route = fs ? "fs" : "atom-api";
    if (fs && fs_files_is_download(req)) {
        req->max_body = 0; /* signed links: the signature is the authorization */
        return;
    }
    const char *user = NULL, *pass = NULL;
    if (http_basic_auth(req, &user, &pass) != 0 || users_verify(a->users, user, pass) != 0) {
        http_add_header(req, "WWW-Authenticate", "Basic realm=\"sluice\", charset=\"UTF-8\"");
        atom_problem(req, 401, "api", NULL, "authentication required: HTTP Basic with a shared web server user and token");
        return;
    }
    req->max_body = fs ? a->cfg.max_request_bytes : 64 * 1024;
    if (fs)
        fs_files_on_headers(a, req); /* uploads stream to disk */
}

void atom_on_request(atom *a, http_request *req)
{
    if (str_starts(req->path, "/fs/"))
        fs_on_request(a, req, req->path + 4);
    else
        mgmt_on_request(a, req);
}
