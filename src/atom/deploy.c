/* deploy: reading, validating and linking components into deployments (see deploy.h). */
#include "atom/deploy.h"

#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FILES 10000
#define MAX_FILE_BYTES (4u << 20)

/* ---- reading a folder ---- */

typedef struct path_list {
    char **items;
    size_t n, cap;
} path_list;

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan(const char *root, const char *rel, path_list *out, sl_problems *problems, int depth)
{
    char *full = rel[0] ? xasprintf("%s/%s", root, rel) : xstrdup(root);
    DIR *d = opendir(full);
    if (!d) {
        problems_add(problems, rel[0] ? rel : root, "", "cannot open folder");
        free(full);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char *r = rel[0] ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
        char *f = xasprintf("%s/%s", root, r);
        struct stat st;
        if (stat(f, &st) != 0) {
            free(r);
        } else if (S_ISDIR(st.st_mode)) {
            if (depth < 16)
                scan(root, r, out, problems, depth + 1);
            free(r);
        } else if (S_ISREG(st.st_mode) && str_ends(e->d_name, ".json")) {
            if (out->n == MAX_FILES) {
                problems_add(problems, r, "", "too many files (at most %d)", MAX_FILES);
                free(r);
            } else {
                if (out->n == out->cap) {
                    out->cap = out->cap ? out->cap * 2 : 16;
                    out->items = xrealloc(out->items, out->cap * sizeof(char *));
                }
                out->items[out->n++] = r;
            }
        } else {
            free(r);
        }
        free(f);
    }
    closedir(d);
    free(full);
}

int deploy_read_dir(const char *dir, jv **bundle, sl_problems *problems)
{
    size_t before = problems->n + problems->dropped;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        problems_add(problems, dir, "", "not a folder");
        return SL_EINVAL;
    }
    path_list paths = {0};
    scan(dir, "", &paths, problems, 0);
    if (paths.n > 1)
        qsort(paths.items, paths.n, sizeof(char *), cmp_str);
    jv *comps = jv_new_array();
    for (size_t i = 0; i < paths.n; i++) {
        char *full = xasprintf("%s/%s", dir, paths.items[i]);
        char *text = NULL;
        size_t len = 0;
        sl_error err = {0};
        if (file_read(full, MAX_FILE_BYTES, &text, &len, &err) != 0) {
            problems_add(problems, paths.items[i], "", "%s", err.msg);
        } else {
            jv *doc = jv_parse(text, len, &err);
            if (!doc) {
                problems_add(problems, paths.items[i], "", "not valid JSON (%s): %s", err.where, err.msg);
            } else {
                jv *c = jv_new_object();
                jv_set_str(c, "file", paths.items[i]);
                jv_set_take(c, "doc", doc);
                jv_push_take(comps, c);
            }
        }
        free(text);
        free(full);
        free(paths.items[i]);
    }
    free(paths.items);
    if (problems->n + problems->dropped > before) {
        jv_free(comps);
        return SL_EINVAL;
    }
    if (jv_len(comps) == 0) {
        jv_free(comps);
        problems_add(problems, dir, "", "no component files (*.json) found");
        return SL_EINVAL;
    }
    jv *b = jv_new_object();
    jv_set_take(b, "components", comps);
    *bundle = b;
    return 0;
}

/* ---- Flow Service components ---- */

static const char *config_content_type(const char *t)
{
    if (!t || strcmp(t, "String") == 0)
        return "ContentString";
    if (strcmp(t, "Number") == 0)
        return "ContentNumber";
    if (strcmp(t, "Boolean") == 0)
        return "ContentBoolean";
    if (strcmp(t, "DateTime") == 0)
        return "ContentDateTime";
    if (strcmp(t, "Password") == 0)
        return "ContentPassword";
    return NULL;
}

/* 1..max characters (UTF-8 code points; JSON text is valid UTF-8), no control characters. */
static bool text_ok(const char *s, size_t max)
{
    if (!s || !*s)
        return false;
    size_t chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return false;
        if ((*p & 0xc0) != 0x80)
            chars++;
    }
    return chars <= max;
}

static bool external_name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > 100)
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return false;
    }
    return strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* Reports members of obj not in allowed (NULL-terminated). */
static void check_members(const jv *obj, const char *const *allowed, const char *file, const char *ptr,
                          sl_problems *problems)
{
    for (void *it = jv_obj_iter(obj); it; it = jv_obj_next(obj, it)) {
        const char *k = jv_obj_key(it);
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(allowed[i], k) == 0)
                ok = true;
        if (!ok) {
            char *p = pointer_join(ptr, k);
            problems_add(problems, file, p, "unknown member \"%s\"", k);
            free(p);
        }
    }
}

static char *url_encode(const char *s)
{
    buf b;
    buf_init(&b, 4096);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '_' || *p == '.' || *p == '~')
            buf_putc(&b, (char)*p);
        else
            buf_printf(&b, "%%%02X", *p);
    }
    return buf_take(&b);
}

static void flowservice_free(flowservice *s)
{
    free(s->name);
    free(s->external_name);
    free(s->file);
    for (size_t i = 0; i < s->nconfig; i++)
        free(s->config[i].name);
    free(s->config);
    for (size_t i = 0; i < s->nactions; i++) {
        free(s->actions[i].name);
        free(s->actions[i].description);
        free(s->actions[i].uri_part);
        free(s->actions[i].request_prefix);
        free(s->actions[i].response_prefix);
    }
    free(s->actions);
    for (size_t i = 0; i < s->ntables; i++) {
        free(s->tables[i].table);
        table_source_free(s->tables[i].source);
    }
    free(s->tables);
    for (size_t i = 0; i < s->ndata; i++) {
        free(s->data[i].name);
        free(s->data[i].description);
    }
    free(s->data);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i].path);
    free(s->files);
    free(s->describe);
}

static const process *find_process(deployment *d, const char *name)
{
    for (size_t i = 0; i < d->nprocesses; i++)
        if (strcmp(process_name(d->processes[i]), name) == 0)
            return d->processes[i];
    return NULL;
}

static const profile *find_profile(void *ctx, const char *name)
{
    deployment *d = ctx;
    for (size_t i = 0; i < d->nprofiles; i++)
        if (strcmp(d->profiles[i]->name, name) == 0)
            return d->profiles[i];
    return NULL;
}

static int cmp_action(const void *a, const void *b)
{
    return strcmp(((const fs_action *)a)->name, ((const fs_action *)b)->name);
}

static const connection *find_connection(void *ctx, const char *name)
{
    deployment *d = ctx;
    for (size_t i = 0; i < d->nconnections; i++)
        if (strcmp(connection_name(d->connections[i]), name) == 0)
            return d->connections[i];
    return NULL;
}

/* One table-bound data action ({"connection","table","maxRows"?}) or database
 * ({"connection","maxRows"?}) at ptr. */
static void parse_table_source(deployment *d, const jv *v, const char *file, const char *ptr, bool whole_db,
                               flowservice *s, sl_problems *problems)
{
    if (!jv_is_object(v)) {
        problems_add(problems, file, ptr, "must be an object");
        return;
    }
    static const char *const one[] = {"connection", "table", "maxRows", "description", NULL};
    static const char *const all[] = {"connection", "maxRows", "description", NULL};
    check_members(v, whole_db ? all : one, file, ptr, problems);
    const char *cname = jv_get_str(v, "connection");
    char *pc = pointer_join(ptr, "connection");
    const connection *c = cname ? find_connection(d, cname) : NULL;
    if (!cname)
        problems_add(problems, file, pc, "connection is required: the name of a database connection");
    else if (!c)
        problems_add(problems, file, pc, "unknown connection \"%s\"", cname);
    else if (!connection_database(c))
        problems_add(problems, file, pc, "connection \"%s\" is not a database connection", cname);
    free(pc);
    const char *table = whole_db ? NULL : jv_get_str(v, "table");
    if (!whole_db && !text_ok(table, 128)) {
        char *pt = pointer_join(ptr, "table");
        problems_add(problems, file, pt, "table is required: the name of a table or view");
        free(pt);
    }
    const jv *mr = jv_get(v, "maxRows");
    int64_t max_rows = 1000;
    if (mr) {
        if (jv_typeof(mr) != JV_INT || jv_int(mr) < 1 || jv_int(mr) > 100000) {
            char *pm = pointer_join(ptr, "maxRows");
            problems_add(problems, file, pm, "maxRows must be a whole number from 1 to 100000");
            free(pm);
        } else {
            max_rows = jv_int(mr);
        }
    }
    for (size_t k = 0; table && k < s->ntables; k++)
        if (s->tables[k].table && strcmp(s->tables[k].table, table) == 0) {
            char *pt = pointer_join(ptr, "table");
            problems_add(problems, file, pt, "table \"%s\" is already served by this Flow Service", table);
            free(pt);
        }
    if (!c || !connection_database(c) || (!whole_db && !text_ok(table, 128)))
        return;
    fs_table_source *t = &s->tables[s->ntables++];
    t->connection = c;
    t->table = table ? xstrdup(table) : NULL;
    const char *tables[1] = {table};
    t->source = table_source_new(connection_database(c), table ? tables : NULL, table ? 1 : 0, max_rows);
}

/* The process named by member `key` of a data action, checked to be a Data Action process for
 * `op` on the same profile. */
static const process *data_process(deployment *d, const jv *v, const char *key, data_operation op,
                                   const profile *prof, const char *file, const char *ptr, sl_problems *problems)
{
    const jv *m = jv_get(v, key);
    if (!m)
        return NULL;
    char *pp = pointer_join(ptr, key);
    const process *pr = jv_is_string(m) ? find_process(d, jv_str(m)) : NULL;
    static const char *const opnames[] = {"", "Get", "Query", "Save", "Delete"};
    if (!jv_is_string(m))
        problems_add(problems, file, pp, "must be the name of a process");
    else if (!pr)
        problems_add(problems, file, pp, "unknown process \"%s\"", jv_str(m));
    else if (process_start(pr)->service_type != SERVICE_DATA_ACTION || process_start(pr)->data_op != op)
        problems_add(problems, file, pp, "process \"%s\" does not listen for a Data Action %s", jv_str(m), opnames[op]);
    else if (prof && process_start(pr)->response && process_start(pr)->response != prof)
        problems_add(problems, file, pp, "process \"%s\" works on profile \"%s\", not \"%s\"", jv_str(m),
                     process_start(pr)->response->name, prof->name);
    free(pp);
    return pr && process_start(pr)->service_type == SERVICE_DATA_ACTION && process_start(pr)->data_op == op ? pr : NULL;
}

/* {"name","profile","idElement","get"?,"query"?,"save"?,"delete"?,"description"?} */
static void parse_data_action(deployment *d, const jv *v, const char *file, const char *ptr, flowservice *s,
                              sl_problems *problems)
{
    static const char *const allowed[] = {"name", "description", "profile", "idElement", "get", "query", "save",
                                          "delete", NULL};
    check_members(v, allowed, file, ptr, problems);
    const char *name = jv_get_str(v, "name");
    char *pn = pointer_join(ptr, "name");
    if (!text_ok(name, 100))
        problems_add(problems, file, pn, "name is required: the object type's name (1-100 characters)");
    free(pn);
    const char *pname = jv_get_str(v, "profile");
    const profile *prof = pname ? find_profile(d, pname) : NULL;
    char *pp = pointer_join(ptr, "profile");
    if (!pname)
        problems_add(problems, file, pp, "profile is required: the object type's (flat) profile");
    else if (!prof)
        problems_add(problems, file, pp, "unknown profile \"%s\"", pname);
    for (size_t i = 0; prof && i < prof->root->nchildren; i++) {
        pe_type t = prof->root->children[i]->type;
        if (t == PE_OBJECT || t == PE_ARRAY) {
            problems_add(problems, file, pp,
                         "a data action's profile must be flat: \"%s\" is an %s (one object type, simple fields)",
                         prof->root->children[i]->name, pe_type_name(t));
            break;
        }
    }
    free(pp);
    const char *idn = jv_get_str(v, "idElement");
    const profile_elem *id = prof && idn ? profile_child(prof->root, idn) : NULL;
    if (prof && !id) {
        char *pi = pointer_join(ptr, "idElement");
        problems_add(problems, file, pi, idn ? "profile \"%s\" has no element \"%s\"" : "idElement is required: the element holding each object's id%s%s",
                     idn ? prof->name : "", idn ? idn : "");
        free(pi);
    }
    fs_data_action *a = &s->data[s->ndata++];
    a->name = xstrdup(name ? name : "");
    a->description = jv_get_str(v, "description") ? xstrdup(jv_get_str(v, "description")) : NULL;
    a->profile = prof;
    a->id = id;
    a->get = data_process(d, v, "get", DATA_OP_GET, prof, file, ptr, problems);
    a->query = data_process(d, v, "query", DATA_OP_QUERY, prof, file, ptr, problems);
    a->save = data_process(d, v, "save", DATA_OP_SAVE, prof, file, ptr, problems);
    a->del = data_process(d, v, "delete", DATA_OP_DELETE, prof, file, ptr, problems);
    if (!jv_get(v, "get") && !jv_get(v, "query") && !jv_get(v, "save") && !jv_get(v, "delete"))
        problems_add(problems, file, ptr, "a data action needs at least one of get, query, save and delete");
    for (size_t k = 0; name && k + 1 < s->ndata; k++)
        if (strcmp(s->data[k].name, name) == 0) {
            char *p2 = pointer_join(ptr, "name");
            problems_add(problems, file, p2, "duplicate data action \"%s\"", name);
            free(p2);
        }
}

static void parse_table_sources(deployment *d, const jv *doc, const char *file, flowservice *s, sl_problems *problems)
{
    const jv *das = jv_get(doc, "dataActions"), *dbs = jv_get(doc, "databases");
    if (das && !jv_is_array(das))
        problems_add(problems, file, "/dataActions", "must be an array");
    if (dbs && !jv_is_array(dbs))
        problems_add(problems, file, "/databases", "must be an array");
    size_t n = jv_len(das) + jv_len(dbs);
    s->tables = xcalloc(n ? n : 1, sizeof(fs_table_source));
    s->data = xcalloc(n ? n : 1, sizeof(fs_data_action));
    for (size_t i = 0; i < jv_len(das); i++) {
        char *p = pointer_join_index("/dataActions", i);
        const jv *v = jv_at(das, i);
        if (jv_is_object(v) && (jv_get(v, "profile") || !jv_get(v, "table")))
            parse_data_action(d, v, file, p, s, problems);
        else
            parse_table_source(d, v, file, p, false, s, problems);
        free(p);
    }
    for (size_t i = 0; i < jv_len(dbs); i++) {
        char *p = pointer_join_index("/databases", i);
        parse_table_source(d, jv_at(dbs, i), file, p, true, s, problems);
        free(p);
    }
}

static const process *file_process(deployment *d, const jv *v, const char *key, file_operation op, const char *file,
                                   const char *ptr, sl_problems *problems)
{
    const jv *m = jv_get(v, key);
    if (!m)
        return NULL;
    char *pp = pointer_join(ptr, key);
    const process *pr = jv_is_string(m) ? find_process(d, jv_str(m)) : NULL;
    if (!jv_is_string(m))
        problems_add(problems, file, pp, "must be the name of a process");
    else if (!pr)
        problems_add(problems, file, pp, "unknown process \"%s\"", jv_str(m));
    else if (process_start(pr)->service_type != SERVICE_FILE_RESOURCE || process_start(pr)->file_op != op)
        problems_add(problems, file, pp, "process \"%s\" does not listen for a File Resource %s", jv_str(m),
                     op == FILE_OP_LIST ? "List Files" : "Upload File");
    free(pp);
    return pr && process_start(pr)->service_type == SERVICE_FILE_RESOURCE && process_start(pr)->file_op == op ? pr : NULL;
}

/* {"path","list"?,"upload"?,"maxUploadBytes"?,"description"?} */
static void parse_file_resources(deployment *d, const jv *doc, const char *file, flowservice *s, sl_problems *problems)
{
    const jv *frs = jv_get(doc, "fileResources");
    if (frs && !jv_is_array(frs))
        problems_add(problems, file, "/fileResources", "must be an array");
    size_t n = jv_len(frs);
    s->files = xcalloc(n ? n : 1, sizeof(fs_file_resource));
    for (size_t i = 0; i < n; i++) {
        const jv *v = jv_at(frs, i);
        char *ptr = pointer_join_index("/fileResources", i);
        if (!jv_is_object(v)) {
            problems_add(problems, file, ptr, "must be an object");
            free(ptr);
            continue;
        }
        static const char *const allowed[] = {"path", "list", "upload", "maxUploadBytes", "description", NULL};
        check_members(v, allowed, file, ptr, problems);
        const char *path = jv_get_str(v, "path");
        char *pp = pointer_join(ptr, "path");
        if (!text_ok(path, 200))
            problems_add(problems, file, pp, "path is required: the unique resource path (1-200 characters)");
        for (size_t k = 0; path && k < s->nfiles; k++)
            if (strcmp(s->files[k].path, path) == 0)
                problems_add(problems, file, pp, "duplicate file resource path \"%s\"", path);
        free(pp);
        fs_file_resource *r = &s->files[s->nfiles++];
        r->path = xstrdup(path ? path : "");
        r->list = file_process(d, v, "list", FILE_OP_LIST, file, ptr, problems);
        r->upload = file_process(d, v, "upload", FILE_OP_UPLOAD, file, ptr, problems);
        r->max_upload = 100u << 20;
        const jv *mx = jv_get(v, "maxUploadBytes");
        if (mx) {
            if (jv_typeof(mx) != JV_INT || jv_int(mx) < 1 || jv_int(mx) > ((int64_t)1 << 40)) {
                char *pm = pointer_join(ptr, "maxUploadBytes");
                problems_add(problems, file, pm, "maxUploadBytes must be a whole number of bytes from 1 to 2^40");
                free(pm);
            } else {
                r->max_upload = (uint64_t)jv_int(mx);
            }
        }
        free(ptr);
    }
}

static void parse_flowservice(deployment *d, const jv *doc, const char *file, flowservice *s, sl_problems *problems)
{
    static const char *const top[] = {"component", "name", "description", "externalName", "configurationValues",
                                      "messageActions", "dataActions", "databases", "fileResources", NULL};
    check_members(doc, top, file, "", problems);
    s->file = xstrdup(file);
    const char *ext = jv_get_str(doc, "externalName");
    if (!external_name_ok(ext))
        problems_add(problems, file, "/externalName",
                     "externalName is required: 1-100 characters of letters, digits, '-', '_' and '.'");
    s->external_name = xstrdup(ext ? ext : "");
    const jv *cvs = jv_get(doc, "configurationValues");
    if (cvs && !jv_is_array(cvs))
        problems_add(problems, file, "/configurationValues", "must be an array");
    size_t ncv = jv_len(cvs);
    s->config = xcalloc(ncv ? ncv : 1, sizeof(fs_config_value));
    for (size_t i = 0; i < ncv; i++) {
        const jv *cv = jv_at(cvs, i);
        char *p = pointer_join_index("/configurationValues", i);
        if (!jv_is_object(cv)) {
            problems_add(problems, file, p, "must be an object");
            free(p);
            continue;
        }
        static const char *const allowed[] = {"name", "type", "required", "description", NULL};
        check_members(cv, allowed, file, p, problems);
        const char *name = jv_get_str(cv, "name");
        char *pn = pointer_join(p, "name");
        if (!text_ok(name, 100))
            problems_add(problems, file, pn, "name is required (1-100 characters, no control characters)");
        for (size_t k = 0; name && k < s->nconfig; k++)
            if (strcmp(s->config[k].name, name) == 0)
                problems_add(problems, file, pn, "duplicate configuration value \"%s\"", name);
        free(pn);
        const jv *t = jv_get(cv, "type");
        const char *ct = config_content_type(jv_str(t));
        if ((t && !jv_is_string(t)) || !ct) {
            char *pt = pointer_join(p, "type");
            problems_add(problems, file, pt, "type must be String, Number, Boolean, DateTime or Password");
            free(pt);
        }
        const jv *req = jv_get(cv, "required");
        if (req && !jv_is_bool(req)) {
            char *pr = pointer_join(p, "required");
            problems_add(problems, file, pr, "must be true or false");
            free(pr);
        }
        s->config[s->nconfig].name = xstrdup(name ? name : "");
        s->config[s->nconfig].content_type = ct ? ct : "ContentString";
        s->config[s->nconfig].required = jv_bool(req);
        s->nconfig++;
        free(p);
    }
    const jv *mas = jv_get(doc, "messageActions");
    if (mas && !jv_is_array(mas))
        problems_add(problems, file, "/messageActions", "must be an array");
    size_t nma = jv_len(mas);
    s->actions = xcalloc(nma ? nma : 1, sizeof(fs_action));
    for (size_t i = 0; i < nma; i++) {
        const jv *ma = jv_at(mas, i);
        char *p = pointer_join_index("/messageActions", i);
        if (!jv_is_object(ma)) {
            problems_add(problems, file, p, "must be an object");
            free(p);
            continue;
        }
        static const char *const allowed[] = {"name", "description", "process", NULL};
        check_members(ma, allowed, file, p, problems);
        const char *name = jv_get_str(ma, "name");
        char *pn = pointer_join(p, "name");
        if (!text_ok(name, 100))
            problems_add(problems, file, pn, "name is required (1-100 characters, no control characters)");
        for (size_t k = 0; name && k < s->nactions; k++)
            if (strcmp(s->actions[k].name, name) == 0)
                problems_add(problems, file, pn, "duplicate message action \"%s\"", name);
        free(pn);
        const jv *desc = jv_get(ma, "description");
        if (desc && !jv_is_string(desc)) {
            char *pd = pointer_join(p, "description");
            problems_add(problems, file, pd, "must be text");
            free(pd);
        }
        const char *proc = jv_get_str(ma, "process");
        char *pp = pointer_join(p, "process");
        const process *pr = proc ? find_process(d, proc) : NULL;
        if (!proc)
            problems_add(problems, file, pp, "process is required: the name of a listener process");
        else if (!pr)
            problems_add(problems, file, pp, "unknown process \"%s\"", proc);
        else if (process_start(pr)->service_type != SERVICE_MESSAGE_ACTION)
            problems_add(problems, file, pp, "process \"%s\" does not listen for a Message Action", proc);
        free(pp);
        fs_action *a = &s->actions[s->nactions++];
        a->name = xstrdup(name ? name : "");
        a->description = jv_str(desc) ? xstrdup(jv_str(desc)) : NULL;
        char *enc = url_encode(a->name);
        a->uri_part = xasprintf("actions/%s", enc);
        free(enc);
        a->process = pr;
        a->request_prefix = xasprintf("%s REQUEST", a->name);
        a->response_prefix = xasprintf("%s RESPONSE", a->name);
        free(p);
    }
    qsort(s->actions, s->nactions, sizeof(fs_action), cmp_action);
    parse_table_sources(d, doc, file, s, problems);
    parse_file_resources(d, doc, file, s, problems);
}

/* The one Flow type of a process-backed data action, with a binding so Load/Save/Delete can use it. */
static jv *data_action_type(const fs_data_action *a)
{
    jv *t = jv_new_object();
    jv_set_str(t, "elementType", "TYPE");
    jv_set_str(t, "developerName", a->name);
    jv_set_str(t, "developerSummary", a->description ? a->description : "");
    jv_set_null(t, "id");
    jv_set_null(t, "serviceElementId");
    jv_set_bool(t, "updateByName", false);
    jv *props = jv_new_array(), *pbs = jv_new_array();
    for (size_t i = 0; a->profile && i < a->profile->root->nchildren; i++) {
        const profile_elem *e = a->profile->root->children[i];
        jv *p = jv_new_object();
        jv_set_null(p, "id");
        jv_set_str(p, "developerName", e->name);
        jv_set_str(p, "contentType", pe_content_type(e->type));
        jv_set_null(p, "contentFormat");
        jv_set_null(p, "typeElementId");
        jv_set_null(p, "typeElementDeveloperName");
        jv_push_take(props, p);
        jv *pb = jv_new_object();
        jv_set_str(pb, "databaseFieldName", e->name);
        jv_set_null(pb, "typeElementPropertyId");
        jv_set_str(pb, "typeElementPropertyDeveloperName", e->name);
        jv_set_str(pb, "databaseContentType", pe_content_type(e->type));
        jv_push_take(pbs, pb);
    }
    jv_set_take(t, "properties", props);
    jv *b = jv_new_object();
    jv_set_null(b, "id");
    jv_set_str(b, "developerName", a->name);
    jv_set_str(b, "developerSummary", a->description ? a->description : "");
    jv_set_str(b, "databaseTableName", a->name);
    jv_set_null(b, "serviceElementId");
    jv_set_take(b, "propertyBindings", pbs);
    jv *bs = jv_new_array();
    jv_push_take(bs, b);
    jv_set_take(t, "bindings", bs);
    return t;
}

static void render_describe(flowservice *s)
{
    jv *r = jv_new_object();
    jv_set_null(r, "culture");
    jv_set_null(r, "uri");
    jv *cvs = jv_new_array();
    for (size_t i = 0; i < s->nconfig; i++) {
        jv *v = jv_new_object();
        jv_set_str(v, "developerName", s->config[i].name);
        jv_set_null(v, "contentValue");
        jv_set_str(v, "contentType", s->config[i].content_type);
        jv_set_null(v, "typeElementDeveloperName");
        jv_set_int(v, "ordinal", (int64_t)i);
        jv_set_bool(v, "required", s->config[i].required);
        jv_push_take(cvs, v);
    }
    jv_set_take(r, "configurationValues", cvs);
    static const char *const flags[] = {"providesAutoBinding", "providesDatabase", "providesFiles",
                                        "providesIdentity", "providesListening", "providesLogic",
                                        "providesNotifications", "providesSmartSave", "providesSocial",
                                        "providesSharing", "providesViews", "providesVoting", NULL};
    for (size_t i = 0; flags[i]; i++)
        jv_set_bool(r, flags[i],
                    (strcmp(flags[i], "providesLogic") == 0 && s->nactions > 0) ||
                        (strcmp(flags[i], "providesDatabase") == 0 && (s->ntables > 0 || s->ndata > 0)) ||
                        (strcmp(flags[i], "providesFiles") == 0 && s->nfiles > 0));
    jv *actions = jv_new_array();
    jv *types = jv_new_array();
    for (size_t i = 0; i < s->nactions; i++) {
        fs_action *a = &s->actions[i];
        const process_start_op *op = process_start(a->process);
        jv *act = jv_new_object();
        jv_set_str(act, "developerName", a->name);
        jv_set_str(act, "developerSummary", a->description ? a->description : "");
        jv_set_str(act, "uriPart", a->uri_part);
        jv *in = jv_new_array(), *out = jv_new_array();
        profile_describe(op->request, a->request_prefix, in, types);
        profile_describe(op->response, a->response_prefix, out, types);
        jv_set_take(act, "serviceInputs", in);
        jv_set_take(act, "serviceOutputs", out);
        jv_set_take(act, "serviceActionOutcomes", jv_new_array());
        jv_set_bool(act, "isViewMessageAction", false);
        jv_push_take(actions, act);
    }
    jv_set_take(r, "actions", actions);
    for (size_t i = 0; i < s->ndata; i++)
        jv_push_take(types, data_action_type(&s->data[i]));
    jv *install = jv_new_object();
    jv_set_take(install, "typeElements", types);
    jv_set_take(r, "install", install);
    buf b;
    buf_init(&b, 64u << 20);
    jv_dump(r, &b);
    s->describe_len = b.len;
    s->describe = buf_take(&b);
    jv_free(r);
}

/* ---- building a deployment ---- */

static void digest_of(const jv *doc, char out[65])
{
    char *text = jv_dumps(doc);
    uint8_t h[SHA256_LEN];
    sha256(text, strlen(text), h);
    hex_encode(h, SHA256_LEN, out);
    free(text);
}

int deploy_build(const jv *bundle, const char *base_dir, deployment **out, sl_problems *problems)
{
    size_t before = problems->n + problems->dropped;
    deployment *d = xcalloc(1, sizeof *d);
    atomic_init(&d->_refs, 1);
    d->bundle = jv_new_object();
    jv *comps_out = jv_new_array();
    jv_set_take(d->bundle, "components", comps_out);
    const jv *comps = jv_get(bundle, "components");
    size_t n = jv_len(comps);
    d->profiles = xcalloc(n ? n : 1, sizeof(profile *));
    d->processes = xcalloc(n ? n : 1, sizeof(process *));
    d->services = xcalloc(n ? n : 1, sizeof(flowservice));
    d->connections = xcalloc(n ? n : 1, sizeof(connection *));
    const jv **fs_docs = xcalloc(n ? n : 1, sizeof(jv *));
    const char **fs_files = xcalloc(n ? n : 1, sizeof(char *));
    size_t nfs = 0;
    buf all;
    buf_init(&all, SIZE_MAX);
    for (size_t i = 0; i < n; i++) {
        const jv *c = jv_at(comps, i);
        const char *file = jv_get_str(c, "file");
        const jv *doc = jv_get(c, "doc");
        if (!file)
            file = "(bundle)";
        if (!jv_is_object(doc)) {
            problems_add(problems, file, "", "a component is a JSON object");
            continue;
        }
        const char *kind = jv_get_str(doc, "component");
        const char *name = jv_get_str(doc, "name");
        if (!kind) {
            problems_add(problems, file, "/component", "\"component\" is required: \"profile\", \"process\" or \"flowservice\"");
            continue;
        }
        if (!text_ok(name, 100)) {
            problems_add(problems, file, "/name", "name is required (1-100 characters, no control characters)");
            continue;
        }
        jv *entry = jv_new_object();
        jv_set_str(entry, "file", file);
        jv_set_str(entry, "kind", kind);
        jv_set_str(entry, "name", name);
        char dg[65];
        digest_of(doc, dg);
        jv_set_str(entry, "digest", dg);
        jv_set(entry, "doc", (jv *)doc);
        jv_push_take(comps_out, entry);
        buf_printf(&all, "%s\n%s\n", file, dg);
        if (strcmp(kind, "profile") == 0) {
            for (size_t k = 0; k < d->nprofiles; k++)
                if (strcmp(d->profiles[k]->name, name) == 0)
                    problems_add(problems, file, "/name", "another profile is already named \"%s\"", name);
            profile *p = NULL;
            if (profile_parse(doc, file, &p, problems) == 0)
                d->profiles[d->nprofiles++] = p;
        } else if (strcmp(kind, "process") == 0) {
            for (size_t k = 0; k < d->nprocesses; k++)
                if (strcmp(process_name(d->processes[k]), name) == 0)
                    problems_add(problems, file, "/name", "another process is already named \"%s\"", name);
            process *p = NULL;
            if (process_parse(doc, file, &p, problems) == 0)
                d->processes[d->nprocesses++] = p;
        } else if (strcmp(kind, "connection") == 0) {
            for (size_t k = 0; k < d->nconnections; k++)
                if (strcmp(connection_name(d->connections[k]), name) == 0)
                    problems_add(problems, file, "/name", "another connection is already named \"%s\"", name);
            connection *c = NULL;
            if (connection_parse(doc, file, base_dir, &c, problems) == 0)
                d->connections[d->nconnections++] = c;
        } else if (strcmp(kind, "flowservice") == 0) {
            fs_docs[nfs] = doc;
            fs_files[nfs] = file;
            nfs++;
        } else {
            problems_add(problems, file, "/component",
                         "unknown component kind \"%s\" (profile, process, connection or flowservice)", kind);
        }
    }
    for (size_t i = 0; i < d->nprocesses; i++) {
        process_link(d->processes[i], find_profile, d, problems);
        process_link_connections(d->processes[i], find_connection, d, problems);
    }
    for (size_t i = 0; i < nfs; i++) {
        flowservice *s = &d->services[d->nservices++];
        s->name = xstrdup(jv_get_str(fs_docs[i], "name"));
        parse_flowservice(d, fs_docs[i], fs_files[i], s, problems);
        for (size_t k = 0; k + 1 < d->nservices; k++) {
            if (strcmp(d->services[k].name, s->name) == 0)
                problems_add(problems, fs_files[i], "/name", "another flowservice is already named \"%s\"", s->name);
            if (s->external_name[0] && strcmp(d->services[k].external_name, s->external_name) == 0)
                problems_add(problems, fs_files[i], "/externalName", "path /fs/%s is already used by \"%s\"",
                             s->external_name, d->services[k].name);
        }
    }
    free(fs_docs);
    free(fs_files);
    uint8_t h[SHA256_LEN];
    sha256(all.data ? all.data : "", all.len, h);
    hex_encode(h, SHA256_LEN, d->digest);
    buf_free(&all);
    if (problems->n + problems->dropped > before) {
        deploy_unref(d);
        return SL_EINVAL;
    }
    for (size_t i = 0; i < d->nservices; i++)
        render_describe(&d->services[i]);
    *out = d;
    return 0;
}

deployment *deploy_ref(deployment *d)
{
    atomic_fetch_add(&d->_refs, 1);
    return d;
}

void deploy_unref(deployment *d)
{
    if (!d || atomic_fetch_sub(&d->_refs, 1) != 1)
        return;
    for (size_t i = 0; i < d->nservices; i++)
        flowservice_free(&d->services[i]);
    free(d->services);
    for (size_t i = 0; i < d->nprocesses; i++)
        process_free(d->processes[i]);
    free(d->processes);
    for (size_t i = 0; i < d->nprofiles; i++)
        profile_free(d->profiles[i]);
    free(d->profiles);
    for (size_t i = 0; i < d->nconnections; i++)
        connection_free(d->connections[i]);
    free(d->connections);
    jv_free(d->bundle);
    free(d);
}

const flowservice *deploy_service(const deployment *d, const char *external_name)
{
    for (size_t i = 0; d && i < d->nservices; i++)
        if (strcmp(d->services[i].external_name, external_name) == 0)
            return &d->services[i];
    return NULL;
}

const fs_file_resource *deploy_file_resource(const flowservice *s, const char *path)
{
    if (!s)
        return NULL;
    if ((!path || !*path) && s->nfiles == 1)
        return &s->files[0];
    for (size_t i = 0; path && i < s->nfiles; i++)
        if (strcmp(s->files[i].path, path) == 0)
            return &s->files[i];
    return NULL;
}

const fs_data_action *deploy_data_action(const flowservice *s, const char *type_name)
{
    for (size_t i = 0; s && type_name && i < s->ndata; i++)
        if (strcmp(s->data[i].name, type_name) == 0)
            return &s->data[i];
    return NULL;
}

const fs_table_source *deploy_table_source(const flowservice *s, const char *type_name)
{
    const fs_table_source *whole = NULL;
    for (size_t i = 0; s && type_name && i < s->ntables; i++) {
        if (s->tables[i].table && strcmp(s->tables[i].table, type_name) == 0)
            return &s->tables[i];
        if (!s->tables[i].table && !whole)
            whole = &s->tables[i];
    }
    return whole;
}

const fs_action *deploy_action(const flowservice *s, const char *name)
{
    for (size_t i = 0; s && i < s->nactions; i++)
        if (strcmp(s->actions[i].name, name) == 0)
            return &s->actions[i];
    return NULL;
}

void deploy_format_problems(const sl_problems *p, buf *out)
{
    for (size_t i = 0; i < p->n; i++)
        buf_printf(out, "%s: %s: %s\n", p->items[i].file, p->items[i].pointer[0] ? p->items[i].pointer : "/",
                   p->items[i].message);
    if (p->dropped)
        buf_printf(out, "(%zu more problems not shown)\n", p->dropped);
}
