/* util: small leaf helpers every module uses.
 *
 * Design: growable byte buffers that always carry a maximum size (like curl's dynbuf), so no
 * request can grow memory without bound; a bump arena for per-request scratch memory, freed in
 * one go; string, base64, SHA-256, random and clock helpers. Plain allocation aborts on
 * out-of-memory (a server cannot do anything useful then); functions whose size is decided by
 * input return an error instead. Nothing here includes a higher layer.
 */
#ifndef SLUICE_UTIL_H
#define SLUICE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Error codes shared by the whole project: fallible functions return 0 or one of these. */
enum {
    SL_OK = 0,
    SL_EINVAL = -1,   /* bad input */
    SL_ETOOBIG = -2,  /* a size limit was reached */
    SL_ENOTFOUND = -3,
    SL_EIO = -4,      /* file, socket or database failure */
    SL_ESTATE = -5,   /* operation not allowed in the current state */
    SL_ETIMEOUT = -6,
    SL_EAUTH = -7,
    SL_EEXEC = -8,    /* a process execution failed */
};

/* Detail for an error: what went wrong and where (a JSON pointer, path or file). Callers
 * supply it; functions fill it only when they fail. */
typedef struct sl_error {
    int code;
    char where[256];
    char msg[512];
} sl_error;

/* Fills err (if non-NULL) and returns code, so `return sl_fail(err, SL_EINVAL, "/a", "bad %s", x);` */
int sl_fail(sl_error *err, int code, const char *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Allocation that aborts on out-of-memory. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new malloc'd string (caller frees). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- buf: a byte buffer with a hard maximum, always NUL-terminated ---- */
typedef struct buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* appends that would pass this fail with SL_ETOOBIG */
} buf;

void buf_init(buf *b, size_t max);
void buf_free(buf *b);
void buf_reset(buf *b);
/* Append; returns 0 or SL_ETOOBIG (buffer unchanged). */
int buf_append(buf *b, const void *p, size_t n);
int buf_puts(buf *b, const char *s);
int buf_putc(buf *b, char c);
int buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap);
/* Take ownership of the data (caller frees); the buffer is left empty. */
char *buf_take(buf *b);

/* ---- arena: bump allocator for per-request scratch; freed in one go ---- */
typedef struct arena_block arena_block;
typedef struct arena {
    arena_block *head;
    size_t used_total;
    size_t max; /* 0 = unlimited; otherwise arena_alloc aborts the request via NULL */
} arena;

void arena_init(arena *a, size_t max);
/* Returns NULL only when the arena's max would be exceeded. Memory is 16-byte aligned, zeroed. */
void *arena_alloc(arena *a, size_t n);
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_free(arena *a);

/* ---- strings ---- */
bool str_eq(const char *a, const char *b);        /* NULL-safe */
bool str_ieq(const char *a, const char *b);       /* ASCII case-insensitive, NULL-safe */
bool str_starts(const char *s, const char *prefix);
bool str_ends(const char *s, const char *suffix);
/* Constant-time comparison of two equal-length byte strings. */
bool mem_ct_eq(const void *a, const void *b, size_t n);
/* Copies at most dst_size-1 bytes and NUL-terminates; returns strlen(src). */
size_t str_copy(char *dst, const char *src, size_t dst_size);

/* ---- encodings and hashes ---- */
/* base64 (standard alphabet, padded). Encode returns a malloc'd string. Decode writes at most
 * out_size bytes and returns the length, or -1 on bad input or overflow. */
char *base64_encode(const void *data, size_t n);
long base64_decode(const char *s, size_t n, void *out, size_t out_size);
void hex_encode(const void *data, size_t n, char *out /* 2n+1 */);

#define SHA256_LEN 32
void sha256(const void *data, size_t n, uint8_t out[SHA256_LEN]);
void hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, uint8_t out[SHA256_LEN]);

/* Fills out with n bytes from the kernel's CSPRNG (getrandom); aborts if it cannot. */
void random_bytes(void *out, size_t n);
/* A random RFC 4122 version 4 UUID, lowercase, into out[37]. */
void uuid_v4(char out[37]);
/* A time-ordered RFC 9562 version 7 UUID (48-bit ms timestamp, then random bits): ids made
 * later sort later, so they append to a B-tree index instead of landing at random. */
void uuid_v7(char out[37]);

/* ---- time ---- */
int64_t now_ms(void);       /* wall clock, ms since the epoch */
int64_t mono_ms(void);      /* monotonic clock, ms */
int64_t mono_us(void);      /* monotonic clock, µs */
/* Formats ms-since-epoch as yyyy-MM-ddTHH:mm:ss.SSSZ into out[25]. */
void time_iso8601(int64_t ms, char out[25]);

/* ---- files ---- */
/* Reads a whole file up to max bytes into a malloc'd NUL-terminated buffer. */
int file_read(const char *path, size_t max, char **out, size_t *len, sl_error *err);
/* mkdir -p */
int mkdir_p(const char *path, sl_error *err);



/* ---- problems: a list of validation findings, each with file and JSON pointer ---- */
typedef struct sl_problem {
    char *file;    /* component file (may be "") */
    char *pointer; /* JSON pointer inside it, "" for the whole document */
    char *message;
} sl_problem;

typedef struct sl_problems {
    sl_problem *items;
    size_t n, cap;
    size_t max; /* further findings are counted in dropped but not stored (default 1000) */
    size_t dropped;
} sl_problems;

void problems_init(sl_problems *p);
void problems_add(sl_problems *p, const char *file, const char *pointer, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void problems_free(sl_problems *p);
/* Adds a problem at base + "/token" (token escaped; NULL: at base itself). The message is cut to
 * 512 bytes on a UTF-8 character boundary. */
void problems_add_at(sl_problems *p, const char *file, const char *base, const char *token, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void problems_vadd_at(sl_problems *p, const char *file, const char *base, const char *token, const char *fmt,
                      va_list ap);

/* For messages: at most ~48 bytes of s[0..n) into out[64], cut on a UTF-8 boundary with "…"
 * appended when cut; an embedded NUL becomes a space. Returns out. */
const char *str_snip(const char *s, size_t n, char out[64]);
/* Drops an incomplete UTF-8 sequence left at the end of s by a byte-wise cut. */
void utf8_trim_tail(char *s);

/* Escapes a JSON-pointer reference token (~ -> ~0, / -> ~1) appending "/token" to base into a
 * new malloc'd string. */
char *pointer_join(const char *base, const char *token);
char *pointer_join_index(const char *base, size_t index);

#endif
