/* http_static: see http_static.h. */
#include "core/http_static.h"

#include <errno.h>
#include <fcntl.h>
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
    http_add_header(req, "ETag", etag);
    http_add_header(req, "Cache-Control", cache);
    http_add_header(req, "X-Content-Type-Options", "nosniff");
    const char *inm = http_header(req, "If-None-Match");
    if (inm && strcmp(inm, etag) == 0) {
        close(fd);
        http_respond(req, 304, http_static_type(rel), "", 0);
        return;
    }
    http_respond_file(req, 200, http_static_type(rel), fd, (uint64_t)st.st_size);
}
