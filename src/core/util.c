/* util: implementation of the leaf helpers declared in util.h.
 *
 * Design notes:
 *   - buf keeps len <= max and data[len] == '\0' at all times; a fresh or emptied buffer points
 *     at a shared static "" (cap 0) so nothing is allocated until the first append. Every
 *     failing append leaves the buffer exactly as it was.
 *   - arena hands out 16-byte aligned slices of calloc'd blocks (>= 8 KiB, bigger for big
 *     requests), so memory is zeroed for free; used_total counts the rounded sizes handed out.
 *   - SHA-256 follows FIPS 180-4 section 6.2 directly; HMAC follows RFC 2104.
 *   - Dates are formatted with a days-to-civil conversion of our own (proleptic Gregorian), so
 *     no libc locale or time zone is involved.
 */
#include "core/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* ---- errors and allocation ---- */

int sl_fail(sl_error *err, int code, const char *where, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        str_copy(err->where, where ? where : "", sizeof err->where);
        err->msg[0] = '\0';
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err->msg, sizeof err->msg, fmt, ap);
            va_end(ap);
        }
    }
    return code;
}

static void oom(size_t n)
{
    fprintf(stderr, "sluice: out of memory allocating %zu bytes\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    if (n == 0 || size == 0)
        n = size = 1;
    void *p = calloc(n, size);
    if (!p)
        oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s ? s : "", SIZE_MAX);
}

char *xstrndup(const char *s, size_t n)
{
    if (!s)
        s = "";
    size_t len = strnlen(s, n);
    char *p = xmalloc(len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

static char *xvasprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return xstrdup("");
    char *p = xmalloc((size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = xvasprintf(fmt, ap);
    va_end(ap);
    return p;
}

/* ---- buf ---- */

/* Shared terminator for buffers that own no memory (cap == 0); never written. */
static char buf_empty[1];

void buf_init(buf *b, size_t max)
{
    b->data = buf_empty;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_free(buf *b)
{
    if (b->cap)
        free(b->data);
    b->data = buf_empty;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(buf *b)
{
    b->len = 0;
    if (b->cap)
        b->data[0] = '\0';
}

/* Makes room for n more bytes plus the terminator, or fails without touching the buffer. */
static int buf_reserve(buf *b, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return SL_ETOOBIG;
    size_t need = b->len + n + 1; /* len + n <= max, so only the +1 can wrap */
    if (need == 0)
        return SL_ETOOBIG;        /* max == SIZE_MAX and len + n == SIZE_MAX */
    if (need <= b->cap)
        return SL_OK;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    /* Never allocate more than the maximum could ever use. */
    if (b->max < SIZE_MAX && cap > b->max + 1)
        cap = b->max + 1;
    if (cap < need)
        cap = need;
    if (b->cap) {
        b->data = xrealloc(b->data, cap);
    } else {
        b->data = xmalloc(cap);
        b->data[0] = '\0';
    }
    b->cap = cap;
    return SL_OK;
}

int buf_append(buf *b, const void *p, size_t n)
{
    if (n == 0)
        return SL_OK;
    int rc = buf_reserve(b, n);
    if (rc)
        return rc;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return SL_OK;
}

int buf_puts(buf *b, const char *s)
{
    return s ? buf_append(b, s, strlen(s)) : SL_OK;
}

int buf_putc(buf *b, char c)
{
    return buf_append(b, &c, 1);
}

int buf_vprintf(buf *b, const char *fmt, va_list ap)
{
    char small[256];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return SL_EINVAL;
    if ((size_t)n < sizeof small)
        return buf_append(b, small, (size_t)n);
    int rc = buf_reserve(b, (size_t)n);
    if (rc)
        return rc;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    b->data[b->len] = '\0';
    return SL_OK;
}

int buf_printf(buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

char *buf_take(buf *b)
{
    char *p = b->cap ? b->data : xstrdup("");
    b->data = buf_empty;
    b->len = 0;
    b->cap = 0;
    return p;
}

/* ---- arena ---- */

#define ARENA_ALIGN 16u
#define ARENA_BLOCK (8u * 1024u)

struct arena_block {
    arena_block *next;
    char *base;  /* first 16-byte aligned byte */
    size_t size; /* usable bytes from base */
    size_t used;
};

void arena_init(arena *a, size_t max)
{
    a->head = NULL;
    a->used_total = 0;
    a->max = max;
}

static arena_block *arena_new_block(size_t size)
{
    arena_block *blk = xcalloc(1, sizeof *blk + ARENA_ALIGN + size);
    uintptr_t p = (uintptr_t)(blk + 1);
    p = (p + ARENA_ALIGN - 1) & ~(uintptr_t)(ARENA_ALIGN - 1);
    blk->base = (char *)p;
    blk->size = size;
    blk->used = 0;
    return blk;
}

void *arena_alloc(arena *a, size_t n)
{
    if (n == 0)
        n = 1;
    if (n > SIZE_MAX - 2 * ARENA_ALIGN - sizeof(arena_block))
        return NULL;
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (a->max && (need > a->max || a->used_total > a->max - need))
        return NULL;
    arena_block *blk = a->head;
    if (!blk || blk->size - blk->used < need) {
        if (need > ARENA_BLOCK / 4) {
            /* Big request: its own block, linked behind the current one so the current
             * block keeps serving small requests. */
            blk = arena_new_block(need);
            if (a->head) {
                blk->next = a->head->next;
                a->head->next = blk;
            } else {
                a->head = blk;
            }
        } else {
            blk = arena_new_block(ARENA_BLOCK);
            blk->next = a->head;
            a->head = blk;
        }
    }
    void *p = blk->base + blk->used;
    blk->used += need;
    a->used_total += need;
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    if (!s)
        s = "";
    size_t len = strnlen(s, n);
    char *p = arena_alloc(a, len + 1);
    if (!p)
        return NULL;
    memcpy(p, s, len); /* terminator already zero */
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    return arena_strndup(a, s, SIZE_MAX);
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = NULL;
    if (n >= 0 && (p = arena_alloc(a, (size_t)n + 1)) != NULL)
        vsnprintf(p, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return p;
}

void arena_free(arena *a)
{
    arena_block *blk = a->head;
    while (blk) {
        arena_block *next = blk->next;
        free(blk);
        blk = next;
    }
    a->head = NULL;
    a->used_total = 0;
}

/* ---- strings ---- */

bool str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static int ascii_lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

bool str_ieq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    for (;; a++, b++) {
        int ca = ascii_lower((unsigned char)*a), cb = ascii_lower((unsigned char)*b);
        if (ca != cb)
            return false;
        if (ca == 0)
            return true;
    }
}

bool str_starts(const char *s, const char *prefix)
{
    if (!s || !prefix)
        return false;
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_ends(const char *s, const char *suffix)
{
    if (!s || !suffix)
        return false;
    size_t ls = strlen(s), lx = strlen(suffix);
    return lx <= ls && memcmp(s + ls - lx, suffix, lx) == 0;
}

bool mem_ct_eq(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(x[i] ^ y[i]);
    return d == 0;
}

size_t str_copy(char *dst, const char *src, size_t dst_size)
{
    if (!src)
        src = "";
    size_t len = strlen(src);
    if (dst_size) {
        size_t n = len < dst_size - 1 ? len : dst_size - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
    }
    return len;
}

/* ---- base64 and hex ---- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t n)
{
    const unsigned char *p = data;
    if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
        oom(SIZE_MAX);
    size_t out_len = (n + 2) / 3 * 4;
    char *out = xmalloc(out_len + 1);
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = b64_alphabet[v >> 18 & 63];
        *o++ = b64_alphabet[v >> 12 & 63];
        *o++ = b64_alphabet[v >> 6 & 63];
        *o++ = b64_alphabet[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = b64_alphabet[v >> 18 & 63];
        *o++ = b64_alphabet[v >> 12 & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = b64_alphabet[v >> 18 & 63];
        *o++ = b64_alphabet[v >> 12 & 63];
        *o++ = b64_alphabet[v >> 6 & 63];
        *o++ = '=';
    }
    *o = '\0';
    return out;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Strict: length a multiple of 4, '=' only as the last one or two characters, no whitespace,
 * and the unused bits before the padding must be zero (canonical encoding only). */
long base64_decode(const char *s, size_t n, void *out, size_t out_size)
{
    unsigned char *o = out;
    if (n % 4 != 0 || (!s && n))
        return -1;
    size_t len = 0;
    for (size_t i = 0; i < n; i += 4) {
        bool last = i + 4 == n;
        int v[4];
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + k];
            if (c == '=' && last && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad) /* data after '=' */
                return -1;
            v[k] = b64_value(c);
            if (v[k] < 0)
                return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t nbytes = 3 - (size_t)pad;
        if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
            return -1;
        if (nbytes > out_size - len || len + nbytes > (size_t)LONG_MAX)
            return -1;
        o[len++] = (unsigned char)(w >> 16);
        if (nbytes > 1)
            o[len++] = (unsigned char)(w >> 8);
        if (nbytes > 2)
            o[len++] = (unsigned char)w;
    }
    return (long)len;
}

void hex_encode(const void *data, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* ---- SHA-256 (FIPS 180-4) ---- */

typedef struct sha256_ctx {
    uint32_t h[8];
    uint64_t total;       /* bytes processed */
    unsigned char block[64];
    size_t fill;          /* bytes waiting in block */
} sha256_ctx;

/* First 32 bits of the fractional parts of the cube roots of the first 64 primes (4.2.2). */
static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr32(uint32_t x, unsigned n)
{
    return x >> n | x << (32 - n);
}

static void sha256_init(sha256_ctx *c)
{
    /* 5.3.3: first 32 bits of the fractional parts of the square roots of the first 8 primes. */
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(c->h, h0, sizeof h0);
    c->total = 0;
    c->fill = 0;
}

static void sha256_compress(uint32_t h[8], const unsigned char *m)
{
    uint32_t w[64];
    for (int t = 0; t < 16; t++)
        w[t] = (uint32_t)m[4 * t] << 24 | (uint32_t)m[4 * t + 1] << 16 |
               (uint32_t)m[4 * t + 2] << 8 | (uint32_t)m[4 * t + 3];
    for (int t = 16; t < 64; t++) {
        uint32_t s0 = rotr32(w[t - 15], 7) ^ rotr32(w[t - 15], 18) ^ (w[t - 15] >> 3);
        uint32_t s1 = rotr32(w[t - 2], 17) ^ rotr32(w[t - 2], 19) ^ (w[t - 2] >> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int t = 0; t < 64; t++) {
        uint32_t big_s1 = rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25);
        uint32_t ch = (e & f) ^ (~e & g);
        uint32_t t1 = hh + big_s1 + ch + sha256_k[t] + w[t];
        uint32_t big_s0 = rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22);
        uint32_t maj = (a & b) ^ (a & c) ^ (b & c);
        uint32_t t2 = big_s0 + maj;
        hh = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
    h[5] += f;
    h[6] += g;
    h[7] += hh;
}

static void sha256_update(sha256_ctx *c, const void *data, size_t n)
{
    const unsigned char *p = data;
    c->total += n;
    if (c->fill) {
        size_t take = 64 - c->fill < n ? 64 - c->fill : n;
        memcpy(c->block + c->fill, p, take);
        c->fill += take;
        p += take;
        n -= take;
        if (c->fill < 64)
            return;
        sha256_compress(c->h, c->block);
        c->fill = 0;
    }
    for (; n >= 64; p += 64, n -= 64)
        sha256_compress(c->h, p);
    if (n) {
        memcpy(c->block, p, n);
        c->fill = n;
    }
}

static void sha256_final(sha256_ctx *c, uint8_t out[SHA256_LEN])
{
    /* 5.1.1: append 0x80, zeros to 56 mod 64, then the bit length big-endian. */
    uint64_t bits = c->total * 8;
    c->block[c->fill++] = 0x80;
    if (c->fill > 56) {
        memset(c->block + c->fill, 0, 64 - c->fill);
        sha256_compress(c->h, c->block);
        c->fill = 0;
    }
    memset(c->block + c->fill, 0, 56 - c->fill);
    for (int i = 0; i < 8; i++)
        c->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_compress(c->h, c->block);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(c->h[i] >> 24);
        out[4 * i + 1] = (uint8_t)(c->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(c->h[i] >> 8);
        out[4 * i + 3] = (uint8_t)c->h[i];
    }
    memset(c, 0, sizeof *c);
}

void sha256(const void *data, size_t n, uint8_t out[SHA256_LEN])
{
    sha256_ctx c;
    sha256_init(&c);
    sha256_update(&c, data, n);
    sha256_final(&c, out);
}

void hmac_sha256(const void *key, size_t keylen, const void *data, size_t n, uint8_t out[SHA256_LEN])
{
    unsigned char k[64] = {0};
    if (keylen > sizeof k)
        sha256(key, keylen, k);
    else if (keylen)
        memcpy(k, key, keylen);
    unsigned char pad[64];
    uint8_t inner[SHA256_LEN];
    sha256_ctx c;

    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x36;
    sha256_init(&c);
    sha256_update(&c, pad, sizeof pad);
    sha256_update(&c, data, n);
    sha256_final(&c, inner);

    for (int i = 0; i < 64; i++)
        pad[i] = k[i] ^ 0x5c;
    sha256_init(&c);
    sha256_update(&c, pad, sizeof pad);
    sha256_update(&c, inner, sizeof inner);
    sha256_final(&c, out);

    memset(k, 0, sizeof k);
    memset(pad, 0, sizeof pad);
}

/* ---- randomness ---- */

void random_bytes(void *out, size_t n)
{
    unsigned char *p = out;
    while (n) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "sluice: getrandom failed: %s\n", strerror(errno));
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

static void uuid_format(unsigned char b[16], char out[37])
{
    static const char digits[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = digits[b[i] >> 4];
        *o++ = digits[b[i] & 15];
    }
    *o = '\0';
}

void uuid_v4(char out[37])
{
    unsigned char b[16];
    random_bytes(b, sizeof b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx */
    uuid_format(b, out);
}

void uuid_v7(char out[37])
{
    unsigned char b[16];
    random_bytes(b, sizeof b);
    uint64_t ms = (uint64_t)now_ms();
    for (int i = 0; i < 6; i++)
        b[i] = (unsigned char)(ms >> (40 - 8 * i));
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x70); /* version 7 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* variant 10xx */
    uuid_format(b, out);
}

/* ---- time ---- */

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t now_ms(void)
{
    return clock_ns(CLOCK_REALTIME) / 1000000;
}

int64_t mono_ms(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000000;
}

int64_t mono_us(void)
{
    return clock_ns(CLOCK_MONOTONIC) / 1000;
}

static void put_digits(char *out, int64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Days since 1970-01-01 to a proleptic Gregorian date, by 400-year eras (146097 days each). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468; /* shift the epoch to 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                  /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);           /* [0, 365], from March */
    int64_t mp = (5 * doy + 2) / 153;                                /* [0, 11], March = 0 */
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

void time_iso8601(int64_t ms, char out[25])
{
    /* Clamp to years 0000..9999 so the fixed-width format always fits. */
    const int64_t min_ms = -62167219200000LL;   /* 0000-01-01T00:00:00.000Z */
    const int64_t max_ms = 253402300799999LL;   /* 9999-12-31T23:59:59.999Z */
    if (ms < min_ms)
        ms = min_ms;
    if (ms > max_ms)
        ms = max_ms;
    int64_t days = ms / 86400000, rem = ms % 86400000;
    if (rem < 0) {
        rem += 86400000;
        days--;
    }
    int64_t year;
    int month, day;
    civil_from_days(days, &year, &month, &day);
    put_digits(out, year, 4);
    out[4] = '-';
    put_digits(out + 5, month, 2);
    out[7] = '-';
    put_digits(out + 8, day, 2);
    out[10] = 'T';
    put_digits(out + 11, rem / 3600000, 2);
    out[13] = ':';
    put_digits(out + 14, rem / 60000 % 60, 2);
    out[16] = ':';
    put_digits(out + 17, rem / 1000 % 60, 2);
    out[19] = '.';
    put_digits(out + 20, rem % 1000, 3);
    out[23] = 'Z';
    out[24] = '\0';
}

/* ---- files ---- */

int file_read(const char *path, size_t max, char **out, size_t *len, sl_error *err)
{
    *out = NULL;
    if (len)
        *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return sl_fail(err, e == ENOENT ? SL_ENOTFOUND : SL_EIO, path, "cannot open: %s", strerror(e));
    }
    struct stat st;
    size_t cap = 4096;
    bool have_st = fstat(fd, &st) == 0;
    if (have_st && S_ISDIR(st.st_mode)) {
        close(fd);
        return sl_fail(err, SL_EIO, path, "is a directory");
    }
    if (have_st && S_ISREG(st.st_mode) && st.st_size > 0) {
        if ((uint64_t)st.st_size > max) {
            close(fd);
            return sl_fail(err, SL_ETOOBIG, path, "file is larger than %zu bytes", max);
        }
        cap = (size_t)st.st_size + 1;
    }
    if (max < SIZE_MAX && cap > max + 1)
        cap = max + 1;
    char *data = xmalloc(cap + 1);
    size_t n = 0;
    for (;;) {
        if (n == cap) {
            if (n > max)
                break;
            cap = cap > SIZE_MAX / 4 ? SIZE_MAX / 2 : cap * 2;
            if (max < SIZE_MAX && cap > max + 1)
                cap = max + 1;
            data = xrealloc(data, cap + 1);
        }
        ssize_t r = read(fd, data + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            free(data);
            close(fd);
            return sl_fail(err, SL_EIO, path, "read failed: %s", strerror(e));
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    if (n > max) {
        free(data);
        return sl_fail(err, SL_ETOOBIG, path, "file is larger than %zu bytes", max);
    }
    data[n] = '\0';
    *out = data;
    if (len)
        *len = n;
    return SL_OK;
}

int mkdir_p(const char *path, sl_error *err)
{
    if (!path || !*path)
        return sl_fail(err, SL_EINVAL, "", "empty path");
    char *p = xstrdup(path);
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char saved = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0) {
            int e = errno;
            struct stat st;
            if (e != EEXIST || stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
                int rc = sl_fail(err, SL_EIO, p, "cannot create directory: %s",
                                 strerror(e == EEXIST ? ENOTDIR : e));
                free(p);
                return rc;
            }
        }
        *s = saved;
        if (saved == '\0')
            break;
        while (s[1] == '/')
            s++;
    }
    free(p);
    return SL_OK;
}

/* ---- problems ---- */

void problems_init(sl_problems *p)
{
    p->items = NULL;
    p->n = 0;
    p->cap = 0;
    p->max = 1000;
    p->dropped = 0;
}

void problems_add(sl_problems *p, const char *file, const char *pointer, const char *fmt, ...)
{
    if (p->n >= p->max) {
        p->dropped++;
        return;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->items = xrealloc(p->items, p->cap * sizeof *p->items);
    }
    sl_problem *it = &p->items[p->n++];
    it->file = xstrdup(file ? file : "");
    it->pointer = xstrdup(pointer ? pointer : "");
    va_list ap;
    va_start(ap, fmt);
    it->message = xvasprintf(fmt, ap);
    va_end(ap);
}

void problems_free(sl_problems *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].file);
        free(p->items[i].pointer);
        free(p->items[i].message);
    }
    free(p->items);
    p->items = NULL;
    p->n = 0;
    p->cap = 0;
    p->dropped = 0;
}

char *pointer_join(const char *base, const char *token)
{
    if (!base)
        base = "";
    if (!token)
        token = "";
    size_t lb = strlen(base), extra = 0;
    for (const char *t = token; *t; t++)
        extra += (*t == '~' || *t == '/') ? 2 : 1;
    char *out = xmalloc(lb + 1 + extra + 1);
    memcpy(out, base, lb);
    char *o = out + lb;
    *o++ = '/';
    for (const char *t = token; *t; t++) {
        if (*t == '~') {
            *o++ = '~';
            *o++ = '0';
        } else if (*t == '/') {
            *o++ = '~';
            *o++ = '1';
        } else {
            *o++ = *t;
        }
    }
    *o = '\0';
    return out;
}

char *pointer_join_index(const char *base, size_t index)
{
    return xasprintf("%s/%zu", base ? base : "", index);
}

/* ---- message helpers ---- */

const char *str_snip(const char *s, size_t n, char out[64])
{
    size_t m = n;
    bool cut = false;
    if (m > 48) {
        m = 48;
        while (m > 0 && ((unsigned char)s[m] & 0xC0) == 0x80)
            m--;
        cut = true;
    }
    size_t k = 0;
    for (size_t i = 0; i < m; i++)
        out[k++] = s[i] ? s[i] : ' '; /* never let an embedded NUL cut the message */
    if (cut) {
        memcpy(out + k, "\xE2\x80\xA6", 3); /* U+2026 */
        k += 3;
    }
    out[k] = '\0';
    return out;
}

void utf8_trim_tail(char *s)
{
    size_t len = strlen(s), k = len;
    while (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
        k--;
    if (k == 0)
        return;
    unsigned char lead = (unsigned char)s[k - 1];
    size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (len - (k - 1) < need)
        s[k - 1] = '\0';
}

void problems_vadd_at(sl_problems *p, const char *file, const char *base, const char *token, const char *fmt,
                      va_list ap)
{
    if (!p)
        return;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    utf8_trim_tail(msg);
    if (token) {
        char *ptr = pointer_join(base, token);
        problems_add(p, file, ptr, "%s", msg);
        free(ptr);
    } else {
        problems_add(p, file, base, "%s", msg);
    }
}

void problems_add_at(sl_problems *p, const char *file, const char *base, const char *token, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problems_vadd_at(p, file, base, token, fmt, ap);
    va_end(ap);
}
