/* http_static: serving a folder of static files (the player and the console) safely.
 *
 * Design: a request path is mapped to a file under one root folder, component by component:
 * only [A-Za-z0-9._-] names, no dot-files, no "..", no symlinks (openat with O_NOFOLLOW from the
 * root's descriptor), regular files only, at most 16 levels. The file is streamed with
 * http_respond_file; the content type comes from the extension; responses carry an ETag (size and
 * mtime) and answer If-None-Match with 304. Text files over 1 KiB go out gzip-compressed to
 * clients that accept it (compressed once per file version, kept in a small in-memory cache, with
 * their own ETag and Vary: Accept-Encoding). Anything else is a 404.
 */
#ifndef SLUICE_HTTP_STATIC_H
#define SLUICE_HTTP_STATIC_H

#include "core/http_server.h"

/* Answers req with root/rel (rel: "player/app.js"; a leading '/' is ignored). cache_seconds > 0
 * adds "Cache-Control: public, max-age=N", else "no-cache" (revalidate with the ETag). Always
 * answers (404 problem JSON when there is no such file). */
void http_static_serve(http_request *req, const char *root, const char *rel, int cache_seconds);

/* The content type for a file name by its extension ("application/octet-stream" by default). */
const char *http_static_type(const char *name);

#endif
