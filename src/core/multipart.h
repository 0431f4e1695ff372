/* multipart: a streaming multipart/form-data parser (RFC 7578 / RFC 2046).
 *
 * Design: bytes arrive in chunks of any size (as the HTTP server reads them) and are handed on as
 * they are parsed, so a part's content is never held whole in memory: the caller streams file
 * parts to disk. The parser keeps only a small bounded state (the boundary, a header line buffer
 * of at most 8 KiB, a look-behind of boundary length). Limits: parts per body, header bytes per
 * part. Any malformed input ends in an error, never a crash or an unbounded wait.
 */
#ifndef SLUICE_MULTIPART_H
#define SLUICE_MULTIPART_H

#include <stddef.h>

#include "core/util.h"

typedef struct multipart multipart;

/* Limits: bytes of one part's header block (its header lines and the empty line ending them),
 * and the default number of parts per body (see multipart_set_max_parts). */
#define MULTIPART_MAX_HEADER_BYTES 8192
#define MULTIPART_DEFAULT_MAX_PARTS 64

typedef struct multipart_part {
    const char *name;         /* Content-Disposition name, or "" */
    const char *filename;     /* Content-Disposition filename (may be ""), or NULL when absent */
    const char *content_type; /* Content-Type of the part, or NULL when absent */
} multipart_part;

/* The strings of a multipart_part are valid only during the on_part call: copy what you keep.
 * filename is the sender's text, unsanitized: never use it as a path as it is. */
typedef struct multipart_callbacks {
    /* A part begins; its headers are parsed. Return 0 to go on, nonzero to stop with an error. */
    int (*on_part)(void *ctx, const multipart_part *part);
    /* Content bytes of the current part (any chunking). */
    int (*on_data)(void *ctx, const char *data, size_t len);
    /* The current part ended. */
    int (*on_part_end)(void *ctx);
} multipart_callbacks;

/* content_type: the request's Content-Type header (must be multipart/form-data with a boundary of
 * 1-70 characters). Returns NULL with err filled when it is not usable. */
multipart *multipart_new(const char *content_type, const multipart_callbacks *cb, void *ctx, sl_error *err);
/* Feeds the next chunk. Returns 0, or a negative error with err filled (malformed input, a limit,
 * or a callback's refusal). After an error the parser refuses further input. */
int multipart_feed(multipart *m, const char *data, size_t len, sl_error *err);
/* The body ended: returns 0 only when the closing boundary was seen. */
int multipart_finish(multipart *m, sl_error *err);
void multipart_free(multipart *m);

/* Changes the part limit (default MULTIPART_DEFAULT_MAX_PARTS; 0 means the default). */
void multipart_set_max_parts(multipart *m, size_t max_parts);
/* 1 when content_type is multipart/form-data with a usable boundary (multipart_new would
 * accept it), else 0. */
int multipart_content_type_ok(const char *content_type);

#endif
