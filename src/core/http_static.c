/* http_static: see http_static.h. */
#include "core/http_static.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <zlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *http_static_type(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},   {".js", "text/javascript; charset=utf-8"},
                 {".mjs", "text/javascript; charset=utf-8"}, {".css", "text/css; charset=utf-8"},
                 {".json", "application/json"},             {".svg", "image/svg+xml"},
                 {".png", "image/png"},                     {".ico", "image/x-icon"},
                 {".txt", "text/plain; charset=utf-8"},     {".woff2", "font/woff2"}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (str_ends(name, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static void not_found(http_request *req, const char *what)
{
    char *body = xasprintf("{\"kind\":\"api\",\"statusCode\":404,\"message\":\"no such file: %s\"}", what);
    http_respond_take(req, 404, "application/json", body, strlen(body));
}

static bool name_ok(const char *s, size_t n)
{
    if (n == 0 || n > 128 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

/* ---- gzip: text files are compressed once per (path, size, mtime) and kept in memory ---- */

#define GZ_SLOTS 64
#define GZ_MAX_FILE (4u << 20)

typedef struct gz_entry {
    char *key;        /* "<dev>:<ino>:<size>:<mtime>" */
    char *data;
    size_t len;
} gz_entry;

static gz_entry gz_cache[GZ_SLOTS];
static size_t gz_next;
static pthread_mutex_t gz_mu = PTHREAD_MUTEX_INITIALIZER;

static bool compressible(const char *type)
{
    return str_starts(type, "text/") || str_starts(type, "application/json") || str_starts(type, "image/svg");
}

static bool accepts_gzip(http_request *req)
{
    const char *ae = http_header(req, "Accept-Encoding");
    return ae && strstr(ae, "gzip");
}

/* The gzip of the open file fd (a malloc'd copy into *out), from the cache or made now. */
static bool gzipped(int fd, const struct stat *st, char **out, size_t *out_len)
{
    char key[96];
    snprintf(key, sizeof key, "%llx:%llx:%llx:%llx", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
             (unsigned long long)st->st_size, (unsigned long long)st->st_mtime);
    pthread_mutex_lock(&gz_mu);
    for (size_t i = 0; i < GZ_SLOTS; i++)
        if (gz_cache[i].key && strcmp(gz_cache[i].key, key) == 0) {
            *out = xmalloc(gz_cache[i].len);
            memcpy(*out, gz_cache[i].data, gz_cache[i].len);
            *out_len = gz_cache[i].len;
            pthread_mutex_unlock(&gz_mu);
            return true;
        }
    pthread_mutex_unlock(&gz_mu);
    size_t n = (size_t)st->st_size;
    char *raw = xmalloc(n ? n : 1);
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, raw + got, n - got, (off_t)got);
        if (r <= 0) {
            free(raw);
            return false;
        }
        got += (size_t)r;
    }
    z_stream z = {0};
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) { /* +16: gzip wrapper */
        free(raw);
        return false;
    }
    size_t cap = deflateBound(&z, (uLong)n);
    char *gz = xmalloc(cap);
    z.next_in = (Bytef *)raw;
    z.avail_in = (uInt)n;
    z.next_out = (Bytef *)gz;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    free(raw);
    if (rc != Z_STREAM_END) {
        free(gz);
        return false;
    }
    pthread_mutex_lock(&gz_mu);
    gz_entry *e = &gz_cache[gz_next++ % GZ_SLOTS];
    free(e->key);
    free(e->data);
    e->key = xstrdup(key);
    e->data = xmalloc(len);
    memcpy(e->data, gz, len);
    e->len = len;
    pthread_mutex_unlock(&gz_mu);
    *out = gz;
    *out_len = len;
    return true;
}

void http_static_serve(http_request *req, const char *root, const char *rel, int cache_seconds)
{
    while (*rel == '/')
        rel++;
    int dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) {
        not_found(req, "(no web folder)");
        return;
    }
    const char *p = rel;
    int depth = 0;
    int fd = -1;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        char name[129];
        if (!name_ok(p, n) || ++depth > 16)
            break;
        memcpy(name, p, n);
        name[n] = 0;
        if (slash) {
            int next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            close(dir);
            dir = next;
            if (dir < 0)
                break;
            p = slash + 1;
        } else {
            fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
            break;
        }
    }
    if (dir >= 0)
        close(dir);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        not_found(req, "this path");
        return;
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_size, (unsigned long long)st.st_mtime);
    char cache[64];
    if (cache_seconds > 0)
        snprintf(cache, sizeof cache, "public, max-age=%d", cache_seconds);
    else
        snprintf(cache, sizeof cache, "no-cache");
    const char *type = http_static_type(rel);
    bool gz = compressible(type) && st.st_size > 1024 && st.st_size <= GZ_MAX_FILE;
    if (gz) {
        http_add_header(req, "Vary", "Accept-Encoding");
        gz = accepts_gzip(req);
    }
    if (gz) /* a different body, so a different tag */
        snprintf(etag, sizeof etag, "\"%llx-%llx-gz\"", (unsigned long long)st.st_size,
                 (unsigned long long)st.st_mtime);
    http_add_header(req, "ETag", etag);
    http_add_header(req, "Cache-Control", cache);
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    const char *inm = http_header(req, "If-None-Match");
    if (inm && strcmp(inm, etag) == 0) {
        close(fd);
        http_respond(req, 304, type, "", 0);
        return;
    }
    char *body = NULL;
    size_t len = 0;
    if (gz && gzipped(fd, &st, &body, &len)) {
        close(fd);
        http_add_header(req, "Content-Encoding", "gzip");
        http_respond_take(req, 200, type, body, len);
        return;
    }
    http_respond_file(req, 200, type, fd, (uint64_t)st.st_size);
}
