/* connector: connection components and connector shapes (see connector.h, docs/connectors.md).
 *
 * Design: parsing validates everything that can be known at deploy time — member types, SQL
 * named parameters against "params", path templates against "pathParams", header names, file
 * name patterns — so a run only evaluates VALUEs and talks to the outside system. Templates (SQL
 * text and URL paths) are split once into literal pieces and parameter references; a run joins
 * them with bound placeholders (SQL, in the dialect of the pooled connection) or URL-encoded
 * values (paths), so a value is never spliced into SQL and cannot change a URL's structure.
 *
 * Shared state is small: a database connection owns a lazily created sqldb_pool behind a mutex;
 * an HTTP run uses its own curl easy handle (connectors run on worker threads, so a synchronous
 * transfer bounded by timeouts is fine); a disk run opens the root directory and works relative
 * to that descriptor only (openat/renameat/unlinkat with single-component names, O_NOFOLLOW), so
 * no file name can reach outside the root. Secrets (passwords, tokens, header values) are held
 * only in the connection, wiped on free, and never formatted into a problem or an error.
 */
#include "atom/connector.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "atom/validate.h"
#include "core/sqldb.h"

#define NAME_MAX_CHARS 100
#define HTTP_TIMEOUT_DEFAULT 10000
#define HTTP_TIMEOUT_MAX 600000
#define HTTP_RETRIES_DEFAULT 2
#define HTTP_RETRIES_MAX 10
#define HTTP_BACKOFF_DEFAULT 200
#define HTTP_BACKOFF_MAX 60000
#define HTTP_WAIT_CAP 30000                      /* longest single wait between attempts */
#define HTTP_MAXRESP_DEFAULT ((int64_t)4 << 20)
#define HTTP_MAXRESP_MAX ((int64_t)256 << 20)
#define HTTP_URL_MAX 16384
#define HTTP_PATH_MAX 2048
#define HTTP_HEADER_NAME_MAX 100
#define HTTP_SNIPPET 200                         /* bytes of a response body in an error */
#define DB_POOL_MAX 8
#define DB_MAXROWS_DEFAULT 10000
#define DB_MAXROWS_MAX 1000000
#define SQL_MAX ((size_t)1 << 20)
#define PARAMS_MAX 1000
#define DISK_FILE_MAX VALUE_MAX_TEXT             /* largest file a read accepts */
#define DISK_LIST_MAX 100000
#define FILENAME_MAX_BYTES 255

/* ------------------------------------------------------------------------------------------ */
/* small helpers                                                                               */






static void set_err(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
    if (!err || !errsz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsz, fmt, ap);
    va_end(ap);
    utf8_trim_tail(err);
}



/* No byte below 0x20 (tab allowed when allow_tab) and no DEL. */
static bool no_controls(const char *s, bool allow_tab)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && !(allow_tab && *p == '\t')) || *p == 0x7F)
            return false;
    return true;
}

static bool is_ident_start(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_ident(char ch)
{
    return is_ident_start(ch) || (ch >= '0' && ch <= '9');
}

static bool ident_ok(const char *s)
{
    if (!is_ident_start(s[0]))
        return false;
    for (const char *p = s; *p; p++)
        if (!is_ident(*p))
            return false;
    return strlen(s) <= 100;
}

/* RFC 9110 token characters (header names). */
static bool is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

static bool header_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > HTTP_HEADER_NAME_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (!is_tchar(*p))
            return false;
    return true;
}

/* Headers curl (or the transfer) owns. */
static bool header_reserved(const char *name)
{
    static const char *const reserved[] = {"Host", "Content-Length", "Transfer-Encoding", "Connection",
                                           "Expect", "Upgrade", "TE", "Trailer", "Keep-Alive", NULL};
    for (size_t i = 0; reserved[i]; i++)
        if (str_ieq(name, reserved[i]))
            return true;
    return false;
}

/* Length of a valid UTF-8 sequence at s (n bytes left), or 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return len;
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (!k || p[i] == 0)
            return false;
        i += k;
    }
    return true;
}

/* A new JSON string of s[0..n) with invalid UTF-8 and NUL bytes replaced by U+FFFD. */
static jv *text_json(const char *s, size_t n)
{
    if (utf8_valid(s, n))
        return jv_new_strn(s, n);
    buf b;
    buf_init(&b, SIZE_MAX);
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(p + i, n - i);
        if (!k || p[i] == 0) {
            buf_append(&b, "\xEF\xBF\xBD", 3);
            i++;
        } else {
            buf_append(&b, s + i, k);
            i += k;
        }
    }
    jv *v = jv_new_strn(b.data ? b.data : "", b.len);
    buf_free(&b);
    return v;
}

/* Appends s percent-encoded (everything but RFC 3986 unreserved characters). */
static int url_encode(buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int rc;
        if (is_ident((char)ch) || ch == '-' || ch == '.' || ch == '~') {
            rc = buf_putc(out, (char)ch);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = buf_append(out, e, 3);
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Overwrites and frees a secret. */
static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Sleeps ms milliseconds (restarting after signals). */
static void sleep_ms(int64_t ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ------------------------------------------------------------------------------------------ */
/* member checks                                                                               */



/* An optional integer member in [min, max]; *out keeps its default when absent or invalid. */
static void get_int(pctx *c, const jv *obj, const char *ptr, const char *key, int64_t min, int64_t max, int64_t *out)
{
    const jv *v = jv_get(obj, key);
    if (!v)
        return;
    if (jv_typeof(v) != JV_INT || jv_int(v) < min || jv_int(v) > max) {
        problem(c, ptr, key, "%s must be an integer from %" PRId64 " to %" PRId64, key, min, max);
        return;
    }
    *out = jv_int(v);
}

/* An object member (optional); reports wrong types. */
static const jv *get_obj(pctx *c, const jv *obj, const char *ptr, const char *key, bool required)
{
    const jv *v = jv_get(obj, key);
    if (!v) {
        if (required)
            problem(c, ptr, NULL, "missing required member \"%s\"", key);
        return NULL;
    }
    if (!jv_is_object(v)) {
        problem(c, ptr, key, "%s must be an object", key);
        return NULL;
    }
    return v;
}

/* ------------------------------------------------------------------------------------------ */
/* connections                                                                                 */

typedef enum { CONN_DATABASE, CONN_HTTP, CONN_DISK } conn_type;

static const char *const conn_type_names[] = {"database", "http", "disk"};

typedef struct hdr {
    char *name;
    char *line; /* "Name: value" (the value may be a secret) */
} hdr;

struct connection {
    char *name;
    conn_type type;
    /* database */
    sqldb_config db;
    bool have_db;
    pthread_mutex_t mu;
    sqldb_pool *pool; /* created on first use, under mu */
    /* http */
    char *base_url;   /* without trailing '/' */
    hdr *headers;
    size_t nheaders;
    char *auth_line;  /* "Authorization: …" or NULL (secret) */
    int64_t timeout_ms, retries, backoff_ms, max_response;
    /* disk */
    char *root;
};

/* Checks an http(s) base URL; returns a problem message or NULL. */
static const char *base_url_problem(const char *u)
{
    const char *rest;
    if (strncmp(u, "http://", 7) == 0)
        rest = u + 7;
    else if (strncmp(u, "https://", 8) == 0)
        rest = u + 8;
    else
        return "baseUrl must start with http:// or https://";
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= 0x20 || *p >= 0x7F || strchr("\"<>\\^`{|}", *p))
            return "baseUrl must not contain spaces, control characters, non-ASCII or \"<>\\^`{|}";
    if (strpbrk(u, "?#"))
        return "baseUrl must not have a query or fragment (use the operation's \"query\")";
    size_t hostlen = strcspn(rest, "/");
    if (hostlen == 0)
        return "baseUrl must name a host";
    if (memchr(rest, '@', hostlen))
        return "baseUrl must not contain credentials (use \"auth\")";
    if (strlen(u) > 2048)
        return "baseUrl is longer than 2048 characters";
    return NULL;
}

static void parse_http_conn(pctx *c, const jv *h, connection *conn)
{
    const char *ptr = "/http";
    static const char *const members[] = {"baseUrl", "headers", "auth", "timeoutMs", "retries",
                                          "retryBackoffMs", "maxResponseBytes", NULL};
    check_members(c, h, ptr, members, "an http connection");
    const char *url = get_str(c, h, ptr, "baseUrl", true);
    if (url) {
        const char *why = base_url_problem(url);
        if (why) {
            problem(c, ptr, "baseUrl", "%s", why);
        } else {
            size_t n = strlen(url);
            while (n > 0 && url[n - 1] == '/')
                n--;
            conn->base_url = xstrndup(url, n);
        }
    }
    const jv *auth = get_obj(c, h, ptr, "auth", false);
    const jv *headers = get_obj(c, h, ptr, "headers", false);
    if (headers) {
        char *hp = pointer_join(ptr, "headers");
        conn->headers = xcalloc(jv_obj_size(headers) + 1, sizeof *conn->headers);
        for (void *it = jv_obj_iter(headers); it; it = jv_obj_next(headers, it)) {
            const char *name = jv_obj_key(it);
            const char *val = plain_str(jv_obj_value(it));
            char sn[64];
            if (!header_name_ok(name)) {
                problem(c, hp, name, "header name \"%s\" is not a valid HTTP field name", snip(name, sn));
                continue;
            }
            if (header_reserved(name)) {
                problem(c, hp, name, "header \"%s\" is set by the HTTP client and cannot be configured", name);
                continue;
            }
            if (auth && str_ieq(name, "Authorization")) {
                problem(c, hp, name, "Authorization cannot be set both in headers and by \"auth\"");
                continue;
            }
            if (!val || !no_controls(val, true)) {
                problem(c, hp, name, "header value must be a string without control characters");
                continue;
            }
            hdr *x = &conn->headers[conn->nheaders++];
            x->name = xstrdup(name);
            x->line = xasprintf("%s: %s", name, val);
        }
        free(hp);
    }
    if (auth) {
        char *ap = pointer_join(ptr, "auth");
        static const char *const am[] = {"basic", "bearer", NULL};
        check_members(c, auth, ap, am, "auth");
        const jv *basic = jv_get(auth, "basic"), *bearer = jv_get(auth, "bearer");
        if (!!basic + !!bearer != 1) {
            problem(c, ap, NULL, "auth must have exactly one of \"basic\" or \"bearer\"");
        } else if (basic) {
            if (!jv_is_object(basic)) {
                problem(c, ap, "basic", "basic must be an object {\"user\", \"password\"}");
            } else {
                char *bp = pointer_join(ap, "basic");
                static const char *const bm[] = {"user", "password", NULL};
                check_members(c, basic, bp, bm, "basic auth");
                const char *user = get_str(c, basic, bp, "user", true);
                const jv *pw = jv_get(basic, "password");
                const char *pass = plain_str(pw);
                if (user && (strchr(user, ':') || !no_controls(user, false))) {
                    problem(c, bp, "user", "user must not contain ':' or control characters");
                    user = NULL;
                }
                if (!pw) {
                    problem(c, bp, NULL, "missing required member \"password\"");
                } else if (!pass || !no_controls(pass, false)) {
                    problem(c, bp, "password", "password must be a string without control characters");
                    pass = NULL;
                }
                if (user && pass) {
                    char *plain = xasprintf("%s:%s", user, pass);
                    char *b64 = base64_encode(plain, strlen(plain));
                    conn->auth_line = xasprintf("Authorization: Basic %s", b64);
                    free_secret(plain);
                    free_secret(b64);
                }
                free(bp);
            }
        } else {
            const char *tok = plain_str(bearer);
            bool ok = tok && *tok;
            for (const unsigned char *p = (const unsigned char *)(tok ? tok : ""); ok && *p; p++)
                ok = *p > 0x20 && *p < 0x7F;
            if (!ok)
                problem(c, ap, "bearer", "bearer must be a non-empty token of visible ASCII characters");
            else
                conn->auth_line = xasprintf("Authorization: Bearer %s", tok);
        }
        free(ap);
    }
    conn->timeout_ms = HTTP_TIMEOUT_DEFAULT;
    conn->retries = HTTP_RETRIES_DEFAULT;
    conn->backoff_ms = HTTP_BACKOFF_DEFAULT;
    conn->max_response = HTTP_MAXRESP_DEFAULT;
    get_int(c, h, ptr, "timeoutMs", 1, HTTP_TIMEOUT_MAX, &conn->timeout_ms);
    get_int(c, h, ptr, "retries", 0, HTTP_RETRIES_MAX, &conn->retries);
    get_int(c, h, ptr, "retryBackoffMs", 0, HTTP_BACKOFF_MAX, &conn->backoff_ms);
    get_int(c, h, ptr, "maxResponseBytes", 1, HTTP_MAXRESP_MAX, &conn->max_response);
}

static void parse_disk_conn(pctx *c, const jv *d, const char *base_dir, connection *conn)
{
    const char *ptr = "/disk";
    static const char *const members[] = {"root", NULL};
    check_members(c, d, ptr, members, "a disk connection");
    const char *root = get_str(c, d, ptr, "root", true);
    if (!root)
        return;
    if (strlen(root) > 4000) {
        problem(c, ptr, "root", "root is longer than 4000 bytes");
        return;
    }
    if (root[0] == '/' || !base_dir || !*base_dir)
        conn->root = xstrdup(root);
    else
        conn->root = xasprintf("%s/%s", base_dir, root);
}

int connection_parse(const jv *doc, const char *file, const char *base_dir, connection **out, sl_problems *problems)
{
    pctx c = {file ? file : "", problems};
    size_t before = problem_count(problems);
    *out = NULL;
    if (!jv_is_object(doc)) {
        problem(&c, "", NULL, "a connection is a JSON object");
        return SL_EINVAL;
    }
    static const char *const members[] = {"component", "name", "description", "type",
                                          "database", "http", "disk", NULL};
    check_members(&c, doc, "", members, "a connection");
    connection *conn = xcalloc(1, sizeof *conn);
    pthread_mutex_init(&conn->mu, NULL);
    const char *name = get_str(&c, doc, "", "name", true);
    if (name && !name_ok(name, NAME_MAX_CHARS))
        problem(&c, "", "name", "name must be 1-100 characters without control characters");
    conn->name = xstrdup(name ? name : "");
    const jv *desc = jv_get(doc, "description");
    if (desc && !plain_str(desc))
        problem(&c, "", "description", "description must be a string");
    const char *type = get_str(&c, doc, "", "type", true);
    int t = -1;
    for (int i = 0; type && i < 3; i++)
        if (strcmp(type, conn_type_names[i]) == 0)
            t = i;
    if (type && t < 0) {
        char sn[64];
        problem(&c, "", "type", "unknown connection type \"%s\" (database, http or disk)", snip(type, sn));
    }
    for (int i = 0; i < 3; i++)
        if (t >= 0 && i != t && jv_get(doc, conn_type_names[i]))
            problem(&c, "", conn_type_names[i], "\"%s\" does not belong to a %s connection", conn_type_names[i],
                    conn_type_names[t]);
    if (t >= 0) {
        conn->type = (conn_type)t;
        const jv *body = get_obj(&c, doc, "", conn_type_names[t], true);
        if (body) {
            if (t == CONN_DATABASE) {
                if (sqldb_config_parse(body, base_dir, c.file, "/database", &conn->db, problems) == 0)
                    conn->have_db = true;
            } else if (t == CONN_HTTP) {
                parse_http_conn(&c, body, conn);
            } else {
                parse_disk_conn(&c, body, base_dir, conn);
            }
        }
    }
    if (problem_count(problems) > before) {
        connection_free(conn);
        return SL_EINVAL;
    }
    *out = conn;
    return 0;
}

void connection_free(connection *c)
{
    if (!c)
        return;
    if (c->pool)
        sqldb_pool_free(c->pool);
    if (c->have_db)
        sqldb_config_free(&c->db);
    pthread_mutex_destroy(&c->mu);
    free(c->name);
    free(c->base_url);
    for (size_t i = 0; i < c->nheaders; i++) {
        free(c->headers[i].name);
        free_secret(c->headers[i].line);
    }
    free(c->headers);
    free_secret(c->auth_line);
    free(c->root);
    free(c);
}

const char *connection_name(const connection *c)
{
    return c->name;
}

const char *connection_type(const connection *c)
{
    return conn_type_names[c->type];
}

const struct sqldb_config *connection_database(const connection *c)
{
    return c && c->type == CONN_DATABASE && c->have_db ? &c->db : NULL;
}

/* The connection's pool, created on first use. */
static sqldb_pool *conn_pool(const connection *cc)
{
    connection *c = (connection *)cc; /* the pool and its mutex are the only mutable state */
    pthread_mutex_lock(&c->mu);
    if (!c->pool)
        c->pool = sqldb_pool_new(&c->db, DB_POOL_MAX);
    sqldb_pool *p = c->pool;
    pthread_mutex_unlock(&c->mu);
    return p;
}

/* ------------------------------------------------------------------------------------------ */
/* operations: parsing                                                                         */

typedef enum { OPK_DATABASE, OPK_HTTP, OPK_DISK } op_kind;
typedef enum { DB_QUERY, DB_EXECUTE } db_action;
typedef enum { DISK_WRITE, DISK_READ, DISK_LIST, DISK_DELETE } disk_action;
typedef enum { BODY_NONE, BODY_DOCUMENT, BODY_VALUE } body_mode;

static const char *const method_names[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
enum { M_GET, M_POST, M_PUT, M_PATCH, M_DELETE };
static const char *const disk_action_names[] = {"write", "read", "list", "delete", NULL};

typedef struct named_value {
    char *name;
    value *v;
} named_value;

/* A template split at its references: lit[0] ref[0] lit[1] … ref[n-1] lit[n]. ref holds an
 * index into the operation's parameter list (SQL: into the distinct names, see db_bind). */
typedef struct tmpl {
    char **lit;
    size_t *ref;
    size_t nref;
} tmpl;

struct connector_op {
    op_kind kind;
    char *ptr, *file, *conn_name;
    const connection *conn; /* set by link */
    /* database */
    db_action db_action;
    tmpl sql;
    named_value *params;  /* in order of first use in the SQL: placeholder n is params[n-1] */
    size_t nparams;
    int64_t max_rows;
    /* http */
    int method;
    char *path_text;      /* the template as written (for messages: no data in errors) */
    tmpl path;
    named_value *path_params, *query, *headers;
    size_t npath_params, nquery, nheaders;
    body_mode body_mode;
    value *body;
    bool response_text, fail_never;
    /* disk */
    disk_action disk_action;
    value *filename;
    value *content;       /* NULL: the document as JSON */
    bool as_text;
    char *pattern;
};

static void tmpl_free(tmpl *t)
{
    if (t->lit)
        for (size_t i = 0; i <= t->nref; i++)
            free(t->lit[i]);
    free(t->lit);
    free(t->ref);
    memset(t, 0, sizeof *t);
}

static void tmpl_add(tmpl *t, const char *lit, size_t litlen, size_t ref)
{
    t->lit = xrealloc(t->lit, (t->nref + 2) * sizeof *t->lit);
    t->ref = xrealloc(t->ref, (t->nref + 1) * sizeof *t->ref);
    t->lit[t->nref] = xstrndup(lit, litlen);
    t->lit[t->nref + 1] = NULL;
    t->ref[t->nref] = ref;
    t->nref++;
}

static void tmpl_end(tmpl *t, const char *lit, size_t litlen)
{
    t->lit = xrealloc(t->lit, (t->nref + 1) * sizeof *t->lit);
    t->lit[t->nref] = xstrndup(lit, litlen);
}

static void named_free(named_value *nv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(nv[i].name);
        value_free(nv[i].v);
    }
    free(nv);
}

void connector_op_free(connector_op *op)
{
    if (!op)
        return;
    free(op->ptr);
    free(op->file);
    free(op->conn_name);
    tmpl_free(&op->sql);
    named_free(op->params, op->nparams);
    free(op->path_text);
    tmpl_free(&op->path);
    named_free(op->path_params, op->npath_params);
    named_free(op->query, op->nquery);
    named_free(op->headers, op->nheaders);
    value_free(op->body);
    value_free(op->filename);
    value_free(op->content);
    free(op->pattern);
    free(op);
}

/* Index of name in list (n entries), or n. */
static size_t find_name(char **names, size_t n, const char *name)
{
    size_t i = 0;
    while (i < n && strcmp(names[i], name) != 0)
        i++;
    return i;
}

/* Skips a quoted run starting at s[i] == q (doubled quotes continue it); returns the index after
 * the closing quote, or the end. backslash: a backslash escapes the next byte (E'…'). */
static size_t skip_quoted(const char *s, size_t i, char q, bool backslash)
{
    for (i++; s[i]; i++) {
        if (backslash && s[i] == '\\' && s[i + 1]) {
            i++;
        } else if (s[i] == q) {
            if (s[i + 1] == q) {
                i++;
                continue;
            }
            return i + 1;
        }
    }
    return i;
}

/* Splits SQL at its :name references, skipping string literals, quoted identifiers, comments,
 * PostgreSQL dollar quoting and "::" casts. Names go to *names (distinct, in order of first use);
 * t->ref holds indices into them. */
static void sql_split(const char *s, tmpl *t, char ***names, size_t *nnames)
{
    size_t start = 0, i = 0;
    while (s[i]) {
        char ch = s[i];
        bool after_ident = i > 0 && (is_ident(s[i - 1]) || s[i - 1] == '$');
        if (ch == '\'' ) {
            i = skip_quoted(s, i, '\'', false);
        } else if ((ch == 'E' || ch == 'e') && s[i + 1] == '\'' && !after_ident) {
            i = skip_quoted(s, i + 1, '\'', true);
        } else if (ch == '"' || ch == '`') {
            i = skip_quoted(s, i, ch, false);
        } else if (ch == '-' && s[i + 1] == '-') {
            while (s[i] && s[i] != '\n')
                i++;
        } else if (ch == '/' && s[i + 1] == '*') {
            const char *end = strstr(s + i + 2, "*/");
            i = end ? (size_t)(end - s) + 2 : strlen(s);
        } else if (ch == '$' && !after_ident && (s[i + 1] == '$' || is_ident_start(s[i + 1]))) {
            size_t k = i + 1;
            while (is_ident(s[k]))
                k++;
            if (s[k] != '$') {
                i = k;
                continue;
            }
            size_t taglen = k + 1 - i;
            char *tag = xstrndup(s + i, taglen);
            const char *end = strstr(s + k + 1, tag);
            i = end ? (size_t)(end - s) + taglen : strlen(s);
            free(tag);
        } else if (ch == ':' && s[i + 1] == ':') {
            i += 2;
            while (s[i] == ':')
                i++;
        } else if (ch == ':' && is_ident_start(s[i + 1])) {
            size_t k = i + 1;
            while (is_ident(s[k]))
                k++;
            char *name = xstrndup(s + i + 1, k - i - 1);
            size_t idx = find_name(*names, *nnames, name);
            if (idx == *nnames) {
                *names = xrealloc(*names, (*nnames + 1) * sizeof **names);
                (*names)[(*nnames)++] = name;
            } else {
                free(name);
            }
            tmpl_add(t, s + start, i - start, idx);
            start = i = k;
        } else {
            i++;
        }
    }
    tmpl_end(t, s + start, i - start);
}

/* Parses an object of name → VALUE at ptr/key (optional). */
static named_value *parse_named(pctx *c, const jv *obj, const char *ptr, const char *key, size_t *n,
                                bool (*name_check)(const char *), const char *name_rule)
{
    *n = 0;
    const jv *m = get_obj(c, obj, ptr, key, false);
    if (!m)
        return NULL;
    char *mp = pointer_join(ptr, key);
    size_t cap = jv_obj_size(m);
    if (cap > PARAMS_MAX) {
        problem(c, ptr, key, "%s has more than %d members", key, PARAMS_MAX);
        free(mp);
        return NULL;
    }
    named_value *nv = xcalloc(cap + 1, sizeof *nv);
    for (void *it = jv_obj_iter(m); it; it = jv_obj_next(m, it)) {
        const char *name = jv_obj_key(it);
        if (name_check && !name_check(name)) {
            char sn[64];
            problem(c, mp, name, "\"%s\" is not a valid name: %s", snip(name, sn), name_rule);
            continue;
        }
        char *vp = pointer_join(mp, name);
        value *v = value_parse(jv_obj_value(it), c->file, vp, c->pr);
        free(vp);
        /* kept even when the VALUE is bad (v NULL), so references to it still match */
        nv[*n].name = xstrdup(name);
        nv[*n].v = v;
        (*n)++;
    }
    free(mp);
    return nv;
}

static bool nonempty_name(const char *s)
{
    return *s && strlen(s) <= 200;
}

static void parse_db_op(pctx *c, const jv *o, const char *optr, connector_op *op)
{
    static const char *const members[] = {"action", "sql", "params", "maxRows", NULL};
    check_members(c, o, optr, members, "a database operation");
    const char *sql = get_str(c, o, optr, "sql", true);
    if (sql && strlen(sql) > SQL_MAX) {
        problem(c, optr, "sql", "sql is longer than %zu bytes", SQL_MAX);
        sql = NULL;
    }
    size_t nparams = 0;
    named_value *params = parse_named(c, o, optr, "params", &nparams, ident_ok,
                                      "letters, digits and _, not starting with a digit");
    bool params_ok = !jv_get(o, "params") || params;
    op->max_rows = DB_MAXROWS_DEFAULT;
    get_int(c, o, optr, "maxRows", 1, DB_MAXROWS_MAX, &op->max_rows);
    if (!sql) {
        named_free(params, nparams);
        return;
    }
    char **names = NULL;
    size_t nnames = 0;
    sql_split(sql, &op->sql, &names, &nnames);
    /* every reference needs a param, every param a reference; params are reordered by first use */
    op->params = xcalloc(nnames + 1, sizeof *op->params);
    op->nparams = nnames;
    bool *used = xcalloc(nparams + 1, sizeof *used);
    for (size_t i = 0; i < nnames; i++) {
        size_t k = 0;
        while (k < nparams && strcmp(params[k].name, names[i]) != 0)
            k++;
        op->params[i].name = names[i];
        if (k < nparams) {
            op->params[i].v = params[k].v;
            params[k].v = NULL;
            used[k] = true;
        } else if (params_ok) {
            char sn[64];
            problem(c, optr, "sql", "parameter :%s has no value in \"params\"", snip(names[i], sn));
        }
    }
    char *pp = pointer_join(optr, "params");
    for (size_t k = 0; k < nparams; k++)
        if (!used[k])
            problem(c, pp, params[k].name, "parameter \"%s\" is not used in sql (write it as :%s)", params[k].name,
                    params[k].name);
    if (nnames > PARAMS_MAX)
        problem(c, optr, "sql", "sql uses more than %d parameters", PARAMS_MAX);
    free(pp);
    free(used);
    free(names);
    named_free(params, nparams);
}

/* Splits a URL path template at its {name} references; problems at ptr. */
static bool path_split(pctx *c, const char *ptr, const char *s, tmpl *t, char ***names, size_t *nnames)
{
    if (s[0] != '/') {
        problem(c, ptr, NULL, "path must start with '/'");
        return false;
    }
    if (strlen(s) > HTTP_PATH_MAX) {
        problem(c, ptr, NULL, "path is longer than %d characters", HTTP_PATH_MAX);
        return false;
    }
    size_t start = 0, i = 0;
    while (s[i]) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '{') {
            size_t k = i + 1;
            while (is_ident(s[k]))
                k++;
            if (s[k] != '}' || k == i + 1 || !is_ident_start(s[i + 1])) {
                problem(c, ptr, NULL, "path has a malformed {name} at offset %zu (names are letters, digits and _)", i);
                return false;
            }
            char *name = xstrndup(s + i + 1, k - i - 1);
            size_t idx = find_name(*names, *nnames, name);
            if (idx == *nnames) {
                *names = xrealloc(*names, (*nnames + 1) * sizeof **names);
                (*names)[(*nnames)++] = name;
            } else {
                free(name);
            }
            tmpl_add(t, s + start, i - start, idx);
            start = i = k + 1;
            continue;
        }
        if (ch <= 0x20 || ch >= 0x7F || strchr("\"<>\\^`|}?#", ch)) {
            problem(c, ptr, NULL,
                    "path must not contain spaces, control characters, non-ASCII, '?', '#' or \"<>\\^`|} "
                    "(put values in pathParams or query)");
            return false;
        }
        if (ch == '%' && !(isxdigit((unsigned char)s[i + 1]) && isxdigit((unsigned char)s[i + 2]))) {
            problem(c, ptr, NULL, "path has a '%%' that is not followed by two hex digits");
            return false;
        }
        i++;
    }
    tmpl_end(t, s + start, i - start);
    return true;
}

static void parse_http_op(pctx *c, const jv *o, const char *optr, connector_op *op)
{
    static const char *const members[] = {"method", "path", "pathParams", "query", "headers",
                                          "body", "response", "failOn", NULL};
    check_members(c, o, optr, members, "an http operation");
    const char *method = get_str(c, o, optr, "method", true);
    op->method = -1;
    for (int i = 0; method && method_names[i]; i++)
        if (strcmp(method, method_names[i]) == 0)
            op->method = i;
    if (method && op->method < 0) {
        char sn[64];
        problem(c, optr, "method", "unknown method \"%s\" (GET, POST, PUT, PATCH or DELETE)", snip(method, sn));
    }
    const char *path = get_str(c, o, optr, "path", true);
    op->path_params = parse_named(c, o, optr, "pathParams", &op->npath_params, ident_ok,
                                  "letters, digits and _, not starting with a digit");
    bool pp_ok = !jv_get(o, "pathParams") || op->path_params;
    op->query = parse_named(c, o, optr, "query", &op->nquery, nonempty_name, "1-200 bytes");
    op->headers = parse_named(c, o, optr, "headers", &op->nheaders, header_name_ok,
                              "an HTTP field name (letters, digits and !#$%&'*+-.^_`|~)");
    char *hp = pointer_join(optr, "headers");
    for (size_t i = 0; i < op->nheaders; i++) {
        if (header_reserved(op->headers[i].name))
            problem(c, hp, op->headers[i].name, "header \"%s\" is set by the HTTP client and cannot be configured",
                    op->headers[i].name);
        for (size_t k = 0; k < i; k++)
            if (str_ieq(op->headers[i].name, op->headers[k].name))
                problem(c, hp, op->headers[i].name, "header \"%s\" is given twice", op->headers[i].name);
    }
    free(hp);
    if (path) {
        op->path_text = xstrdup(path);
        char *pptr = pointer_join(optr, "path");
        char **names = NULL;
        size_t nnames = 0;
        if (path_split(c, pptr, path, &op->path, &names, &nnames)) {
            /* remap references from template names to pathParams indices */
            bool *used = xcalloc(op->npath_params + 1, sizeof *used);
            size_t *map = xcalloc(nnames + 1, sizeof *map);
            for (size_t i = 0; i < nnames; i++) {
                size_t k = 0;
                while (k < op->npath_params && strcmp(op->path_params[k].name, names[i]) != 0)
                    k++;
                map[i] = k;
                if (k < op->npath_params)
                    used[k] = true;
                else if (pp_ok)
                    problem(c, pptr, NULL, "{%s} has no value in \"pathParams\"", names[i]);
            }
            for (size_t r = 0; r < op->path.nref; r++)
                op->path.ref[r] = map[op->path.ref[r]];
            char *ppp = pointer_join(optr, "pathParams");
            for (size_t k = 0; k < op->npath_params; k++)
                if (!used[k])
                    problem(c, ppp, op->path_params[k].name, "path parameter \"%s\" is not used in path (write it as {%s})",
                            op->path_params[k].name, op->path_params[k].name);
            free(ppp);
            free(map);
            free(used);
        }
        for (size_t i = 0; i < nnames; i++)
            free(names[i]);
        free(names);
        free(pptr);
    }
    const jv *body = jv_get(o, "body");
    op->body_mode = (op->method == M_POST || op->method == M_PUT || op->method == M_PATCH) ? BODY_DOCUMENT : BODY_NONE;
    if (body) {
        const char *bs = plain_str(body);
        if (bs && strcmp(bs, "document") == 0) {
            op->body_mode = BODY_DOCUMENT;
        } else if (bs && strcmp(bs, "none") == 0) {
            op->body_mode = BODY_NONE;
        } else if (jv_is_object(body)) {
            char *bp = pointer_join(optr, "body");
            op->body = value_parse(body, c->file, bp, c->pr);
            free(bp);
            op->body_mode = BODY_VALUE;
        } else {
            problem(c, optr, "body", "body must be \"document\", \"none\" or a VALUE");
        }
    }
    const jv *resp = jv_get(o, "response");
    if (resp) {
        const char *rs = plain_str(resp);
        if (str_eq(rs, "text"))
            op->response_text = true;
        else if (!str_eq(rs, "document"))
            problem(c, optr, "response", "response must be \"document\" or \"text\"");
    }
    const jv *fail = jv_get(o, "failOn");
    if (fail) {
        const char *fs = plain_str(fail);
        if (str_eq(fs, "never"))
            op->fail_never = true;
        else if (!str_eq(fs, "4xx5xx"))
            problem(c, optr, "failOn", "failOn must be \"4xx5xx\" or \"never\"");
    }
}

static void parse_disk_op(pctx *c, const jv *o, const char *optr, connector_op *op)
{
    static const char *const m_write[] = {"action", "filename", "content", NULL};
    static const char *const m_read[] = {"action", "filename", "as", NULL};
    static const char *const m_list[] = {"action", "pattern", NULL};
    static const char *const m_delete[] = {"action", "filename", NULL};
    static const char *const *const members[] = {m_write, m_read, m_list, m_delete};
    check_members(c, o, optr, members[op->disk_action], "this disk operation");
    if (op->disk_action != DISK_LIST) {
        const jv *fn = jv_get(o, "filename");
        if (!fn) {
            problem(c, optr, NULL, "missing required member \"filename\"");
        } else {
            char *fp = pointer_join(optr, "filename");
            op->filename = value_parse(fn, c->file, fp, c->pr);
            free(fp);
        }
    }
    if (op->disk_action == DISK_WRITE) {
        const jv *content = jv_get(o, "content");
        if (content && !str_eq(plain_str(content), "document")) {
            if (jv_is_object(content)) {
                char *cp = pointer_join(optr, "content");
                op->content = value_parse(content, c->file, cp, c->pr);
                free(cp);
            } else {
                problem(c, optr, "content", "content must be \"document\" or a VALUE");
            }
        }
    } else if (op->disk_action == DISK_READ) {
        const jv *as = jv_get(o, "as");
        if (as) {
            const char *s = plain_str(as);
            if (str_eq(s, "text"))
                op->as_text = true;
            else if (!str_eq(s, "json"))
                problem(c, optr, "as", "as must be \"json\" or \"text\"");
        }
    } else if (op->disk_action == DISK_LIST) {
        const jv *pat = jv_get(o, "pattern");
        if (pat) {
            const char *s = plain_str(pat);
            if (!s || !*s || strchr(s, '/') || strlen(s) > 255 || !no_controls(s, false))
                problem(c, optr, "pattern", "pattern must be a glob of 1-255 bytes without '/' or control characters");
            else
                op->pattern = xstrdup(s);
        }
    }
}

int connector_op_parse(const jv *shape, const char *file, const char *ptr, connector_op **out, sl_problems *problems)
{
    pctx c = {file ? file : "", problems};
    size_t before = problem_count(problems);
    *out = NULL;
    if (!ptr)
        ptr = "";
    connector_op *op = xcalloc(1, sizeof *op);
    op->ptr = xstrdup(ptr);
    op->file = xstrdup(c.file);
    const char *cname = get_str(&c, shape, ptr, "connection", true);
    if (cname && !name_ok(cname, NAME_MAX_CHARS))
        problem(&c, ptr, "connection", "connection must be a name of 1-100 characters without control characters");
    op->conn_name = xstrdup(cname ? cname : "");
    const jv *o = get_obj(&c, shape, ptr, "operation", true);
    if (o) {
        char *optr = pointer_join(ptr, "operation");
        const jv *method = jv_get(o, "method");
        const char *action = jv_get_str(o, "action");
        if (method) {
            op->kind = OPK_HTTP;
            parse_http_op(&c, o, optr, op);
        } else if (!jv_get(o, "action")) {
            problem(&c, optr, NULL,
                    "missing required member \"action\" (database: query, execute; disk: write, read, list, "
                    "delete) or \"method\" (http)");
        } else if (str_eq(action, "query") || str_eq(action, "execute")) {
            op->kind = OPK_DATABASE;
            op->db_action = str_eq(action, "query") ? DB_QUERY : DB_EXECUTE;
            parse_db_op(&c, o, optr, op);
        } else {
            int a = -1;
            for (int i = 0; action && disk_action_names[i]; i++)
                if (strcmp(action, disk_action_names[i]) == 0)
                    a = i;
            if (a < 0) {
                char sn[64];
                problem(&c, optr, "action",
                        "unknown action \"%s\" (database: query, execute; disk: write, read, list, delete)",
                        action ? snip(action, sn) : "(not a string)");
            } else {
                op->kind = OPK_DISK;
                op->disk_action = (disk_action)a;
                parse_disk_op(&c, o, optr, op);
            }
        }
        free(optr);
    }
    if (problem_count(problems) > before) {
        connector_op_free(op);
        return SL_EINVAL;
    }
    *out = op;
    return 0;
}

static const char *const op_kind_names[] = {"database", "http", "disk"};

int connector_op_link(connector_op *op, connection_lookup_fn lookup, void *ctx, const char *file,
                      sl_problems *problems)
{
    pctx c = {file ? file : op->file, problems};
    size_t before = problem_count(problems);
    const connection *conn = lookup ? lookup(ctx, op->conn_name) : NULL;
    char sn[64];
    if (!conn) {
        problem(&c, op->ptr, "connection", "unknown connection \"%s\"", snip(op->conn_name, sn));
    } else if ((int)conn->type != (int)op->kind) {
        problem(&c, op->ptr, "connection", "connection \"%s\" is a %s connection but the operation is a %s operation",
                snip(op->conn_name, sn), conn_type_names[conn->type], op_kind_names[op->kind]);
    } else if (op->kind == OPK_HTTP && conn->auth_line) {
        char *optr = pointer_join(op->ptr, "operation");
        char *hp = pointer_join(optr, "headers");
        for (size_t i = 0; i < op->nheaders; i++)
            if (str_ieq(op->headers[i].name, "Authorization"))
                problem(&c, hp, op->headers[i].name,
                        "connection \"%s\" sets Authorization through \"auth\"; the operation cannot set it",
                        snip(op->conn_name, sn));
        free(hp);
        free(optr);
    }
    if (problem_count(problems) > before)
        return SL_EINVAL;
    op->conn = conn;
    return 0;
}

size_t connector_op_link_values(const connector_op *op, const profile *prof, const char *file,
                                sl_problems *problems)
{
    if (!op || !prof)
        return 0;
    const char *f = file ? file : op->file;
    size_t n = 0;
    const named_value *lists[] = {op->params, op->path_params, op->query, op->headers};
    size_t counts[] = {op->nparams, op->npath_params, op->nquery, op->nheaders};
    for (size_t l = 0; l < 4; l++)
        for (size_t i = 0; i < counts[l]; i++)
            n += value_link(lists[l][i].v, prof, f, problems);
    n += value_link(op->body, prof, f, problems);
    n += value_link(op->filename, prof, f, problems);
    n += value_link(op->content, prof, f, problems);
    return n;
}

/* ------------------------------------------------------------------------------------------ */
/* running: shared                                                                             */

/* Evaluates v into out (initialised here; the caller frees it even on failure). */
static int eval_text(const value *v, const jv *doc, const jv *props, buf *out, char *err, size_t errsz)
{
    buf_init(out, VALUE_MAX_TEXT);
    if (!v)
        return 0;
    value_env env = {.doc = doc, .properties = props};
    sl_error e = {0};
    if (value_eval(v, &env, out, &e) != 0) {
        set_err(err, errsz, "value at %s: %s", e.where[0] ? e.where : value_pointer(v), e.msg);
        return SL_EEXEC;
    }
    if (strlen(out->data ? out->data : "") != out->len) {
        set_err(err, errsz, "value at %s: contains a NUL character", value_pointer(v));
        return SL_EEXEC;
    }
    return 0;
}

static const char *bdata(const buf *b)
{
    return b->data ? b->data : "";
}

/* The incoming document goes on unchanged (an empty object when there is none). */
static void pass_through(const jv *doc, jv *out)
{
    if (doc)
        jv_push(out, (jv *)doc);
    else
        jv_push_take(out, jv_new_object());
}

static bool deadline_passed(int64_t deadline)
{
    return deadline > 0 && mono_ms() >= deadline;
}

/* ------------------------------------------------------------------------------------------ */
/* running: database                                                                           */

static int run_db(const connector_op *op, const jv *doc, jv *props, jv *out, int64_t deadline, char *err,
                  size_t errsz)
{
    if (deadline_passed(deadline)) {
        set_err(err, errsz, "database %s: the execution's time limit was reached", op->db_action == DB_QUERY ? "query" : "execute");
        return SL_EEXEC;
    }
    jv *params = jv_new_array();
    for (size_t i = 0; i < op->nparams; i++) {
        buf b;
        if (eval_text(op->params[i].v, doc, props, &b, err, errsz) != 0) {
            buf_free(&b);
            jv_free(params);
            return SL_EEXEC;
        }
        /* missing and empty are the same thing: both bind SQL NULL */
        jv *p = b.len ? jv_new_strn(b.data, b.len) : jv_new_null();
        buf_free(&b);
        if (!p) {
            set_err(err, errsz, "parameter :%s is not valid UTF-8", op->params[i].name);
            jv_free(params);
            return SL_EEXEC;
        }
        jv_push_take(params, p);
    }
    sqldb_pool *pool = conn_pool(op->conn);
    sqldb *db = NULL;
    sl_error e = {0};
    if (!pool || sqldb_pool_get(pool, &db, &e) != 0) {
        set_err(err, errsz, "database connection \"%s\": %s", op->conn->name, pool ? e.msg : "cannot create a pool");
        jv_free(params);
        return SL_EEXEC;
    }
    buf sql;
    buf_init(&sql, SQL_MAX * 2);
    for (size_t r = 0; r < op->sql.nref; r++) {
        char ph[16];
        sqldb_placeholder(db, (int)op->sql.ref[r] + 1, ph);
        buf_puts(&sql, op->sql.lit[r]);
        buf_puts(&sql, ph);
    }
    buf_puts(&sql, op->sql.lit[op->sql.nref]);
    jv *rows = NULL;
    int64_t changes = 0;
    int rc = sqldb_query(db, bdata(&sql), params, op->db_action == DB_QUERY ? &rows : NULL,
                         op->db_action == DB_EXECUTE ? &changes : NULL, &e);
    sqldb_pool_put(pool, db, false); /* the pool closes it when sqldb_broken() says so */
    buf_free(&sql);
    jv_free(params);
    if (rc != 0) {
        set_err(err, errsz, "database %s failed: %s", op->db_action == DB_QUERY ? "query" : "execute", e.msg);
        jv_free(rows);
        return SL_EEXEC;
    }
    if (op->db_action == DB_QUERY) {
        size_t n = jv_len(rows);
        if ((int64_t)n > op->max_rows) {
            set_err(err, errsz, "database query returned %zu rows, more than maxRows (%" PRId64 ")", n, op->max_rows);
            jv_free(rows);
            return SL_EEXEC;
        }
        for (size_t i = 0; i < n; i++)
            jv_push(out, jv_at(rows, i));
        jv_free(rows);
    } else {
        char num[32];
        snprintf(num, sizeof num, "%" PRId64, changes);
        if (props)
            jv_set_str(props, "rowsAffected", num);
        pass_through(doc, out);
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* running: HTTP                                                                               */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

typedef struct http_resp {
    buf body;
    bool too_big;
} http_resp;

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    http_resp *r = ud;
    size_t n = size * nmemb;
    if (buf_append(&r->body, data, n) != 0) {
        r->too_big = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    return n;
}

static bool retryable_curl(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return false;
    }
}

/* A header list line "Name: value" for the named header present in list? (case-insensitive). */
static bool slist_has(const struct curl_slist *l, const char *name)
{
    size_t n = strlen(name);
    for (; l; l = l->next)
        if (strncasecmp(l->data, name, n) == 0 && l->data[n] == ':')
            return true;
    return false;
}

static struct curl_slist *slist_add(struct curl_slist *l, const char *line)
{
    struct curl_slist *n = curl_slist_append(l, line);
    if (!n)
        abort(); /* out of memory, as xmalloc */
    return n;
}

/* Frees a header list whose lines may hold secrets. */
static void slist_free_secret(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

/* Appends the text of a response body (up to HTTP_SNIPPET bytes, control characters as spaces). */
static void body_snippet(const buf *b, char *out, size_t outsz)
{
    size_t n = b->len < HTTP_SNIPPET ? b->len : HTTP_SNIPPET;
    if (n >= outsz)
        n = outsz - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b->data[i];
        out[i] = (ch < 0x20 || ch == 0x7F) ? ' ' : (char)ch;
    }
    out[n] = '\0';
    utf8_trim_tail(out);
    if (!utf8_valid(out, strlen(out)))
        str_copy(out, "(binary)", outsz);
}

/* Builds the request URL into url. */
static int http_url(const connector_op *op, const jv *doc, const jv *props, buf *url, char *err, size_t errsz)
{
    buf_init(url, HTTP_URL_MAX);
    int rc = buf_puts(url, op->conn->base_url);
    for (size_t r = 0; rc == 0 && r <= op->path.nref; r++) {
        rc = buf_puts(url, op->path.lit[r]);
        if (rc || r == op->path.nref)
            break;
        const named_value *p = &op->path_params[op->path.ref[r]];
        buf b;
        if (eval_text(p->v, doc, props, &b, err, errsz) != 0) {
            buf_free(&b);
            return SL_EEXEC;
        }
        if (b.len == 0) {
            buf_free(&b);
            set_err(err, errsz, "HTTP %s %s: path parameter \"%s\" is empty", method_names[op->method], op->path_text,
                    p->name);
            return SL_EEXEC;
        }
        rc = url_encode(url, b.data, b.len);
        buf_free(&b);
    }
    char sep = '?';
    for (size_t i = 0; rc == 0 && i < op->nquery; i++) {
        buf b;
        if (eval_text(op->query[i].v, doc, props, &b, err, errsz) != 0) {
            buf_free(&b);
            return SL_EEXEC;
        }
        if (b.len) { /* empty values are left out */
            rc = buf_putc(url, sep);
            if (!rc)
                rc = url_encode(url, op->query[i].name, strlen(op->query[i].name));
            if (!rc)
                rc = buf_putc(url, '=');
            if (!rc)
                rc = url_encode(url, b.data, b.len);
            sep = '&';
        }
        buf_free(&b);
    }
    if (rc) {
        set_err(err, errsz, "HTTP %s %s: the URL is longer than %d bytes", method_names[op->method], op->path_text,
                HTTP_URL_MAX);
        return SL_EEXEC;
    }
    return 0;
}

/* Turns a 2xx response into documents. */
static int http_documents(const connector_op *op, long status, const buf *body, jv *out, char *err, size_t errsz)
{
    if (op->response_text) {
        jv *d = jv_new_object();
        jv_set_int(d, "status", status);
        jv_set_take(d, "body", text_json(bdata(body), body->len));
        jv_push_take(out, d);
        return 0;
    }
    size_t i = 0;
    while (i < body->len && strchr(" \t\r\n", body->data[i]))
        i++;
    if (i == body->len) { /* no content: one empty document */
        jv_push_take(out, jv_new_object());
        return 0;
    }
    sl_error e = {0};
    jv *v = jv_parse(body->data, body->len, &e);
    if (!v) {
        set_err(err, errsz, "HTTP %s %s: status %ld: the response is not JSON (%s: %s)", method_names[op->method],
                op->path_text, status, e.where, e.msg);
        return SL_EEXEC;
    }
    if (jv_is_object(v)) {
        jv_push(out, v);
    } else if (jv_is_array(v)) {
        for (size_t k = 0; k < jv_len(v); k++) {
            if (!jv_is_object(jv_at(v, k))) {
                set_err(err, errsz, "HTTP %s %s: status %ld: response item %zu is a %s, not an object",
                        method_names[op->method], op->path_text, status, k, jv_type_name(jv_typeof(jv_at(v, k))));
                jv_free(v);
                return SL_EEXEC;
            }
        }
        for (size_t k = 0; k < jv_len(v); k++)
            jv_push(out, jv_at(v, k));
    } else {
        set_err(err, errsz, "HTTP %s %s: status %ld: the response is a JSON %s, not an object or an array of objects",
                method_names[op->method], op->path_text, status, jv_type_name(jv_typeof(v)));
        jv_free(v);
        return SL_EEXEC;
    }
    jv_free(v);
    return 0;
}

/* Seconds of a Retry-After header given as a number, or -1. */
static int64_t retry_after_ms(CURL *h)
{
    struct curl_header *hd = NULL;
    if (curl_easy_header(h, "Retry-After", 0, CURLH_HEADER, -1, &hd) != CURLHE_OK || !hd || !hd->value)
        return -1;
    char *end;
    long long s = strtoll(hd->value, &end, 10);
    if (end == hd->value || s < 0 || s > 3600)
        return -1;
    return (int64_t)s * 1000;
}

static int run_http(const connector_op *op, const jv *doc, jv *props, jv *out, int64_t deadline, char *err,
                    size_t errsz)
{
    const connection *conn = op->conn;
    const char *mname = method_names[op->method];
    buf url, body;
    buf_init(&body, 0);
    if (http_url(op, doc, props, &url, err, errsz) != 0) {
        buf_free(&url);
        return SL_EEXEC;
    }
    /* headers: the operation's, then the connection's not overridden, then defaults and auth */
    struct curl_slist *hl = NULL;
    int rc = 0;
    for (size_t i = 0; i < op->nheaders && rc == 0; i++) {
        buf b;
        rc = eval_text(op->headers[i].v, doc, props, &b, err, errsz);
        if (rc == 0 && !no_controls(bdata(&b), true)) {
            set_err(err, errsz, "HTTP %s %s: header \"%s\" has control characters in its value", mname, op->path_text,
                    op->headers[i].name);
            rc = SL_EEXEC;
        }
        if (rc == 0 && b.len) {
            char *line = xasprintf("%s: %s", op->headers[i].name, b.data);
            hl = slist_add(hl, line);
            free_secret(line);
        }
        buf_free(&b);
    }
    for (size_t i = 0; i < conn->nheaders && rc == 0; i++)
        if (!slist_has(hl, conn->headers[i].name))
            hl = slist_add(hl, conn->headers[i].line);
    if (rc == 0 && op->body_mode == BODY_DOCUMENT) {
        buf_init(&body, (size_t)64 << 20);
        if (doc ? jv_dump(doc, &body) != 0 : buf_puts(&body, "{}") != 0) {
            set_err(err, errsz, "HTTP %s %s: the document is larger than 64 MiB", mname, op->path_text);
            rc = SL_EEXEC;
        }
        if (!slist_has(hl, "Content-Type"))
            hl = slist_add(hl, "Content-Type: application/json");
    } else if (rc == 0 && op->body_mode == BODY_VALUE) {
        buf_free(&body);
        rc = eval_text(op->body, doc, props, &body, err, errsz);
        if (!slist_has(hl, "Content-Type"))
            hl = slist_add(hl, "Content-Type: text/plain; charset=utf-8");
    }
    if (rc != 0) {
        slist_free_secret(hl);
        buf_free(&url);
        buf_free(&body);
        return SL_EEXEC;
    }
    if (!op->response_text && !slist_has(hl, "Accept"))
        hl = slist_add(hl, "Accept: application/json");
    hl = slist_add(hl, "Expect:");
    if (conn->auth_line)
        hl = slist_add(hl, conn->auth_line);

    pthread_once(&curl_once, curl_init_once);
    CURL *h = curl_easy_init();
    if (!h) {
        slist_free_secret(hl);
        buf_free(&url);
        buf_free(&body);
        set_err(err, errsz, "HTTP %s %s: cannot create an HTTP handle", mname, op->path_text);
        return SL_EEXEC;
    }
    http_resp resp = {0};
    buf_init(&resp.body, (size_t)conn->max_response);
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, bdata(&url));
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Sluice");
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)conn->max_response);
    if (op->method == M_GET && op->body_mode == BODY_NONE) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (op->method == M_DELETE && op->body_mode == BODY_NONE) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, bdata(&body));
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body.len);
        if (op->method != M_POST)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, mname);
    }

    CURLcode crc = CURLE_OK;
    long status = 0;
    int attempts = 0;
    bool deadline_hit = false;
    for (int64_t attempt = 0;; attempt++) {
        int64_t tmo = conn->timeout_ms;
        if (deadline > 0) {
            int64_t left = deadline - mono_ms();
            if (left <= 0) {
                deadline_hit = true;
                break;
            }
            if (left < tmo)
                tmo = left;
        }
        buf_reset(&resp.body);
        resp.too_big = false;
        cerr[0] = '\0';
        status = 0;
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)tmo);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)tmo);
        attempts++;
        crc = curl_easy_perform(h);
        bool retry;
        int64_t wait = conn->backoff_ms << (attempt < 20 ? attempt : 20);
        if (crc == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
            retry = status >= 500 || status == 429;
            int64_t ra = retry ? retry_after_ms(h) : -1;
            if (ra > wait)
                wait = ra;
        } else {
            retry = !resp.too_big && crc != CURLE_FILESIZE_EXCEEDED && retryable_curl(crc);
        }
        if (!retry || attempt >= conn->retries)
            break;
        if (wait > HTTP_WAIT_CAP)
            wait = HTTP_WAIT_CAP;
        if (deadline > 0 && mono_ms() + wait >= deadline)
            break; /* no time for another attempt: report this one */
        sleep_ms(wait);
    }

    rc = 0;
    if (deadline_hit && attempts == 0) {
        set_err(err, errsz, "HTTP %s %s: the execution's time limit was reached", mname, op->path_text);
        rc = SL_EEXEC;
    } else if (resp.too_big || crc == CURLE_FILESIZE_EXCEEDED) {
        set_err(err, errsz, "HTTP %s %s: the response is larger than %" PRId64 " bytes (maxResponseBytes)", mname,
                op->path_text, conn->max_response);
        rc = SL_EEXEC;
    } else if (crc != CURLE_OK) {
        set_err(err, errsz, "HTTP %s %s: %s (%d attempt%s)", mname, op->path_text,
                cerr[0] ? cerr : curl_easy_strerror(crc), attempts, attempts == 1 ? "" : "s");
        rc = SL_EEXEC;
    } else if (status >= 200 && status < 300) {
        rc = http_documents(op, status, &resp.body, out, err, errsz);
    } else if (op->fail_never) {
        jv *d = jv_new_object();
        jv_set_int(d, "status", status);
        jv_set_take(d, "body", text_json(bdata(&resp.body), resp.body.len));
        jv_push_take(out, d);
    } else {
        char sn[HTTP_SNIPPET + 8];
        body_snippet(&resp.body, sn, sizeof sn);
        set_err(err, errsz, "HTTP %s %s: status %ld (%d attempt%s)%s%s", mname, op->path_text, status, attempts,
                attempts == 1 ? "" : "s", sn[0] ? ": " : "", sn);
        rc = SL_EEXEC;
    }
    curl_easy_cleanup(h);
    slist_free_secret(hl);
    buf_free(&resp.body);
    buf_free(&url);
    buf_free(&body);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* running: disk                                                                               */

/* A file name that is one path component inside the root; NULL or the reason it is not. */
static const char *filename_problem(const char *s, size_t len)
{
    if (len == 0)
        return "is empty";
    if (strlen(s) != len)
        return "contains a NUL character";
    if (len > FILENAME_MAX_BYTES)
        return "is longer than 255 bytes";
    if (s[0] == '.')
        return "starts with '.'";
    if (strchr(s, '/') || strchr(s, '\\'))
        return "contains '/' or '\\' (a file name is a single name inside the root)";
    if (!no_controls(s, false))
        return "contains control characters";
    if (!utf8_valid(s, len))
        return "is not valid UTF-8";
    return NULL;
}

/* Opens the root directory (creating it when missing). */
static int open_root(const connection *conn, char *err, size_t errsz)
{
    int fd = open(conn->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        sl_error e = {0};
        if (mkdir_p(conn->root, &e) == 0)
            fd = open(conn->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0)
        set_err(err, errsz, "disk connection \"%s\": cannot open its root folder: %s", conn->name, strerror(errno));
    return fd;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int disk_write(const connector_op *op, int rfd, const char *name, const jv *doc, const jv *props, char *err,
                      size_t errsz)
{
    buf content;
    if (op->content) {
        if (eval_text(op->content, doc, props, &content, err, errsz) != 0) {
            buf_free(&content);
            return SL_EEXEC;
        }
    } else {
        buf_init(&content, DISK_FILE_MAX);
        if (doc ? jv_dump(doc, &content) != 0 : buf_puts(&content, "{}") != 0) {
            buf_free(&content);
            set_err(err, errsz, "disk write \"%s\": the document is larger than %zu bytes", name, (size_t)DISK_FILE_MAX);
            return SL_EEXEC;
        }
    }
    char uuid[37], tmp[64];
    uuid_v4(uuid);
    snprintf(tmp, sizeof tmp, ".sluice-tmp-%s", uuid);
    int fd = openat(rfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    int rc = 0;
    if (fd < 0) {
        set_err(err, errsz, "disk write \"%s\": cannot create a file: %s", name, strerror(errno));
        buf_free(&content);
        return SL_EEXEC;
    }
    if (write_all(fd, bdata(&content), content.len) != 0 || fsync(fd) != 0) {
        set_err(err, errsz, "disk write \"%s\": %s", name, strerror(errno));
        rc = SL_EEXEC;
    }
    if (close(fd) != 0 && rc == 0) {
        set_err(err, errsz, "disk write \"%s\": %s", name, strerror(errno));
        rc = SL_EEXEC;
    }
    /* rename replaces the name itself: an existing symlink is replaced, never followed */
    if (rc == 0 && renameat(rfd, tmp, rfd, name) != 0) {
        set_err(err, errsz, "disk write \"%s\": %s", name,
                errno == EISDIR || errno == ENOTEMPTY || errno == EEXIST ? "a folder has that name" : strerror(errno));
        rc = SL_EEXEC;
    }
    if (rc != 0)
        unlinkat(rfd, tmp, 0);
    else
        fsync(rfd);
    buf_free(&content);
    return rc;
}

static int disk_read(const connector_op *op, int rfd, const char *name, jv *out, char *err, size_t errsz)
{
    int fd = openat(rfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        set_err(err, errsz, "disk read \"%s\": %s", name,
                e == ENOENT ? "no such file" : e == ELOOP ? "is a symbolic link" : strerror(e));
        return SL_EEXEC;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        set_err(err, errsz, "disk read \"%s\": not a regular file", name);
        return SL_EEXEC;
    }
    if ((uint64_t)st.st_size > DISK_FILE_MAX) {
        close(fd);
        set_err(err, errsz, "disk read \"%s\": the file is larger than %zu bytes", name, (size_t)DISK_FILE_MAX);
        return SL_EEXEC;
    }
    buf b;
    buf_init(&b, DISK_FILE_MAX);
    char chunk[65536];
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            set_err(err, errsz, "disk read \"%s\": %s", name, strerror(errno));
            rc = SL_EEXEC;
            break;
        }
        if (r == 0)
            break;
        if (buf_append(&b, chunk, (size_t)r) != 0) {
            set_err(err, errsz, "disk read \"%s\": the file is larger than %zu bytes", name, (size_t)DISK_FILE_MAX);
            rc = SL_EEXEC;
            break;
        }
    }
    close(fd);
    if (rc == 0 && op->as_text) {
        if (!utf8_valid(bdata(&b), b.len)) {
            set_err(err, errsz, "disk read \"%s\": the file is not UTF-8 text", name);
            rc = SL_EEXEC;
        } else {
            jv *d = jv_new_object();
            jv_set_str(d, "filename", name);
            jv_set_take(d, "content", jv_new_strn(bdata(&b), b.len));
            jv_push_take(out, d);
        }
    } else if (rc == 0) {
        sl_error e = {0};
        jv *v = jv_parse(bdata(&b), b.len, &e);
        if (!v) {
            set_err(err, errsz, "disk read \"%s\": not JSON (%s: %s)", name, e.where, e.msg);
            rc = SL_EEXEC;
        } else if (!jv_is_object(v)) {
            set_err(err, errsz, "disk read \"%s\": the JSON is a %s, not an object", name, jv_type_name(jv_typeof(v)));
            jv_free(v);
            rc = SL_EEXEC;
        } else {
            jv_push_take(out, v);
        }
    }
    buf_free(&b);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int disk_list(const connector_op *op, int rfd, jv *out, char *err, size_t errsz)
{
    int dfd = dup(rfd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        if (dfd >= 0)
            close(dfd);
        set_err(err, errsz, "disk list: %s", strerror(errno));
        return SL_EEXEC;
    }
    rewinddir(d);
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (filename_problem(name, strlen(name)))
            continue; /* dot files (our temporary files too) and names no operation could use */
        if (op->pattern && fnmatch(op->pattern, name, FNM_PERIOD) != 0)
            continue;
        if (n == DISK_LIST_MAX) {
            set_err(err, errsz, "disk list: more than %d files match", DISK_LIST_MAX);
            rc = SL_EEXEC;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = xstrdup(name);
    }
    closedir(d);
    if (rc == 0 && n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct stat st;
        if (fstatat(rfd, names[i], &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode))
            continue; /* gone meanwhile, a folder, a symlink or a device */
        int64_t ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        char iso[25];
        time_iso8601(ms, iso);
        jv *doc = jv_new_object();
        jv_set_str(doc, "filename", names[i]);
        jv_set_int(doc, "size", (int64_t)st.st_size);
        jv_set_str(doc, "modified", iso);
        jv_push_take(out, doc);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int run_disk(const connector_op *op, const jv *doc, jv *props, jv *out, int64_t deadline, char *err,
                    size_t errsz)
{
    static const char *const verbs[] = {"write", "read", "list", "delete"};
    const char *verb = verbs[op->disk_action];
    if (deadline_passed(deadline)) {
        set_err(err, errsz, "disk %s: the execution's time limit was reached", verb);
        return SL_EEXEC;
    }
    buf name;
    buf_init(&name, 0);
    if (op->disk_action != DISK_LIST) {
        buf_free(&name);
        if (eval_text(op->filename, doc, props, &name, err, errsz) != 0) {
            buf_free(&name);
            return SL_EEXEC;
        }
        const char *why = filename_problem(bdata(&name), name.len);
        if (why) {
            char sn[64];
            char *shown = xstrndup(bdata(&name), name.len);
            for (char *p = shown; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7F)
                    *p = '?';
            set_err(err, errsz, "disk %s: file name \"%s\" %s", verb, snip(shown, sn), why);
            free(shown);
            buf_free(&name);
            return SL_EEXEC;
        }
    }
    int rfd = open_root(op->conn, err, errsz);
    if (rfd < 0) {
        buf_free(&name);
        return SL_EEXEC;
    }
    int rc = 0;
    switch (op->disk_action) {
    case DISK_WRITE:
        rc = disk_write(op, rfd, name.data, doc, props, err, errsz);
        if (rc == 0)
            pass_through(doc, out);
        break;
    case DISK_READ:
        rc = disk_read(op, rfd, name.data, out, err, errsz);
        break;
    case DISK_LIST:
        rc = disk_list(op, rfd, out, err, errsz);
        break;
    case DISK_DELETE:
        if (unlinkat(rfd, name.data, 0) != 0) {
            int e = errno;
            set_err(err, errsz, "disk delete \"%s\": %s", name.data,
                    e == ENOENT ? "no such file" : e == EISDIR || e == EPERM ? "not a regular file" : strerror(e));
            rc = SL_EEXEC;
        } else {
            pass_through(doc, out);
        }
        break;
    }
    close(rfd);
    buf_free(&name);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */

int connector_op_run(const connector_op *op, const jv *doc, jv *props, jv *out, int64_t deadline_mono_ms,
                     char *err, size_t errsz)
{
    if (!op->conn) {
        set_err(err, errsz, "connector: connection \"%s\" is not linked", op->conn_name);
        return SL_EEXEC;
    }
    int rc;
    switch (op->kind) {
    case OPK_DATABASE:
        rc = run_db(op, doc, props, out, deadline_mono_ms, err, errsz);
        break;
    case OPK_HTTP:
        rc = run_http(op, doc, props, out, deadline_mono_ms, err, errsz);
        break;
    default:
        rc = run_disk(op, doc, props, out, deadline_mono_ms, err, errsz);
        break;
    }
    return rc ? SL_EEXEC : 0;
}
