/* multipart: a streaming multipart/form-data parser (see multipart.h).
 *
 * Design: one byte-driven state machine that never needs the whole body. The body is read as
 *
 *     preamble  "--B" line  { headers CRLF content  CRLF "--B" line }  CRLF "--B--"  epilogue
 *
 * where the delimiter is the fixed string "\r\n--" B (at most 74 bytes). Matching it needs no
 * look-behind buffer: the bytes held back while a match is in progress are always a prefix of
 * the delimiter itself, so on a mismatch they are re-emitted from the delimiter string. Since a
 * boundary holds no CR, a mismatch can only restart a match at the current byte (when it is a
 * CR), so the matcher is a counter and content between CRs is skipped with memchr. Content is
 * handed to on_data as soon as it cannot be part of a delimiter: straight from the caller's
 * chunk where possible, so bytes are neither copied nor held beyond the delimiter's length.
 *
 * The start of the body and the start of each part's content count as if preceded by CRLF
 * (the "virtual" bytes of a match), so the first boundary may open the body and a part whose
 * headers are followed directly by the next delimiter (RFC 2046 lets the CRLF before content be
 * omitted when the content is empty) parses as empty.
 *
 * Choices:
 *  - CRLF is required everywhere: a bare LF or CR in part headers is an error with a clear
 *    message (no guessing which line ending a sender meant; every browser sends CRLF). Content
 *    is binary and passed through untouched.
 *  - After "\r\n--B" in content only "--" (the end) or transport padding (spaces, tabs) and CRLF
 *    may follow; anything else is an error, as RFC 2046 forbids the delimiter inside content.
 *    In the preamble such a line is just more preamble. The epilogue (anything after "--B--",
 *    including more boundaries) is ignored. A body with no parts ("--B--") is accepted.
 *  - Part headers: the header block (lines and the empty line ending it) is at most
 *    MULTIPART_MAX_HEADER_BYTES; obsolete folded lines are joined with spaces; header names are
 *    case-insensitive; Content-Disposition and Content-Type may appear once each; other headers
 *    are ignored. NUL and control bytes (other than tab) are errors; bytes >= 0x80 pass.
 *  - Parameters (request Content-Type and Content-Disposition): names case-insensitive; values
 *    a token or a quoted string. In a quoted string a backslash escapes only '"' and '\'; any
 *    other backslash is kept, so Windows paths ("C:\dir\f.txt") some old clients send survive.
 *    filename*=charset'lang'percent-encoded (RFC 5987/8187; UTF-8 or ISO-8859-1, the latter
 *    converted to UTF-8) takes precedence over filename. A parameter given twice is an error.
 *  - Boundary: 1-70 printable ASCII characters (space allowed, not last), quoted or not.
 *  - Callbacks may be NULL. A callback's nonzero return stops the parser; a negative project
 *    error code (SL_E...) is passed on as the result, anything else becomes SL_EINVAL.
 */
#include "core/multipart.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MP_MAX_BOUNDARY 70
#define MP_DELIM_MAX (4 + MP_MAX_BOUNDARY) /* "\r\n--" boundary */

enum mp_state {
    MP_PREAMBLE,    /* looking for the first delimiter; bytes are discarded */
    MP_HEADERS,     /* collecting a part's header block */
    MP_CONTENT,     /* a part's content, looking for the next delimiter */
    MP_AFTER_DELIM, /* a whole delimiter matched: "--", padding or CRLF must follow */
    MP_DASH,        /* one '-' after the delimiter */
    MP_PADDING,     /* transport padding after the delimiter */
    MP_DELIM_CR,    /* the CR ending a delimiter line */
    MP_DONE,        /* the closing delimiter was seen; the epilogue is ignored */
    MP_FAILED,
};

struct multipart {
    multipart_callbacks cb;
    void *ctx;
    enum mp_state state;
    bool in_part;            /* the delimiter being checked ends a part (not the preamble) */
    bool saw_bare_lf;        /* the preamble had a boundary line ending in a bare LF */
    char delim[MP_DELIM_MAX + 1];
    size_t delim_len;
    size_t match;            /* delimiter bytes matched so far */
    size_t virt;             /* of which the leading ones are virtual (the implied CRLF) */
    size_t carry;            /* of which real ones came in earlier chunks (not in this one) */
    size_t parts;            /* parts begun */
    size_t max_parts;
    size_t hdr_len, line_start;
    char hdr[MULTIPART_MAX_HEADER_BYTES];
    sl_error fail;           /* the first error, kept for calls after it */
};

/* ---- small helpers ---- */

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* ASCII case-insensitive comparison of s[0..n) with the literal lit. */
static bool span_ieq(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n; i++) {
        if (lit[i] == '\0' || lower((unsigned char)s[i]) != lower((unsigned char)lit[i]))
            return false;
    }
    return lit[i] == '\0';
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (unsigned char)lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* A byte for a message: 'c' when printable, else 0xNN. */
static const char *show_byte(unsigned char c, char out[8])
{
    if (c > ' ' && c < 0x7f)
        snprintf(out, 8, "'%c'", c);
    else
        snprintf(out, 8, "0x%02x", c);
    return out;
}

/* ---- header values: "type; name=value; name=\"quoted\"" ---- */

typedef struct param_iter {
    const char *p, *end;
    const char *where; /* for error messages */
} param_iter;

static void skip_ows(param_iter *it)
{
    while (it->p < it->end && is_ows((unsigned char)*it->p))
        it->p++;
}

/* Reads the leading type token (tchars and '/') and checks that only parameters follow. */
static int read_type(param_iter *it, const char **type, size_t *type_len, sl_error *err)
{
    skip_ows(it);
    const char *start = it->p;
    while (it->p < it->end && (is_tchar((unsigned char)*it->p) || *it->p == '/'))
        it->p++;
    *type = start;
    *type_len = (size_t)(it->p - start);
    skip_ows(it);
    char shown[8];
    if (*type_len == 0)
        return sl_fail(err, SL_EINVAL, it->where, "%s has no type", it->where);
    if (it->p < it->end && *it->p != ';')
        return sl_fail(err, SL_EINVAL, it->where, "%s: unexpected character %s after the type",
                       it->where, show_byte((unsigned char)*it->p, shown));
    return SL_OK;
}

/* The next parameter: 1 with *name (not NUL-terminated) and *value (a malloc'd, decoded,
 * NUL-terminated copy; *value_len excludes the NUL), 0 at the end, or an error. Empty
 * parameters (";;", a trailing ';') are skipped. */
static int next_param(param_iter *it, const char **name, size_t *name_len, char **value, size_t *value_len,
                      sl_error *err)
{
    char shown[8];
    for (;;) {
        skip_ows(it);
        if (it->p == it->end)
            return 0;
        if (*it->p != ';')
            return sl_fail(err, SL_EINVAL, it->where, "%s: expected ';' before %s", it->where,
                           show_byte((unsigned char)*it->p, shown));
        it->p++;
        skip_ows(it);
        if (it->p == it->end)
            return 0;
        if (*it->p != ';')
            break;
    }
    const char *start = it->p;
    while (it->p < it->end && is_tchar((unsigned char)*it->p))
        it->p++;
    *name = start;
    *name_len = (size_t)(it->p - start);
    if (*name_len == 0)
        return sl_fail(err, SL_EINVAL, it->where, "%s: bad parameter name at %s", it->where,
                       show_byte((unsigned char)*it->p, shown));
    skip_ows(it);
    if (it->p == it->end || *it->p != '=')
        return sl_fail(err, SL_EINVAL, it->where, "%s: parameter %.*s has no '=value'", it->where,
                       (int)*name_len, *name);
    it->p++;
    skip_ows(it);
    char *out = xmalloc((size_t)(it->end - it->p) + 1);
    size_t n = 0;
    if (it->p < it->end && *it->p == '"') {
        it->p++;
        bool closed = false;
        while (it->p < it->end) {
            char c = *it->p++;
            if (c == '"') {
                closed = true;
                break;
            }
            if (c == '\\' && it->p < it->end && (*it->p == '"' || *it->p == '\\'))
                c = *it->p++;
            out[n++] = c;
        }
        if (!closed) {
            free(out);
            return sl_fail(err, SL_EINVAL, it->where, "%s: parameter %.*s has an unterminated quoted string",
                           it->where, (int)*name_len, *name);
        }
    } else {
        while (it->p < it->end) {
            unsigned char c = (unsigned char)*it->p;
            if (c <= ' ' || c == ';' || c == '"' || c == 0x7f)
                break;
            out[n++] = (char)c;
            it->p++;
        }
        if (n == 0) {
            free(out);
            return sl_fail(err, SL_EINVAL, it->where, "%s: parameter %.*s has no value", it->where,
                           (int)*name_len, *name);
        }
    }
    out[n] = '\0';
    *value = out;
    *value_len = n;
    return 1;
}

/* Decodes an RFC 5987 ext-value (charset'language'percent-encoded) into a malloc'd UTF-8
 * string. */
static int decode_ext_value(const char *v, size_t len, char **out, const char *where, sl_error *err)
{
    const char *q1 = memchr(v, '\'', len);
    const char *q2 = q1 ? memchr(q1 + 1, '\'', len - (size_t)(q1 + 1 - v)) : NULL;
    if (!q2)
        return sl_fail(err, SL_EINVAL, where, "filename* is not charset'language'value");
    bool latin1;
    if (span_ieq(v, (size_t)(q1 - v), "utf-8"))
        latin1 = false;
    else if (span_ieq(v, (size_t)(q1 - v), "iso-8859-1"))
        latin1 = true;
    else
        return sl_fail(err, SL_EINVAL, where, "filename* has unsupported charset '%.*s' (UTF-8 or ISO-8859-1)",
                       (int)((q1 - v) > 40 ? 40 : (q1 - v)), v);
    const unsigned char *p = (const unsigned char *)q2 + 1, *end = (const unsigned char *)v + len;
    char *res = xmalloc(2 * (size_t)(end - p) + 1); /* ISO-8859-1 bytes may double */
    size_t n = 0;
    while (p < end) {
        unsigned c = *p++;
        if (c == '%') {
            int hi = p < end ? hex_val(p[0]) : -1;
            int lo = p + 1 < end ? hex_val(p[1]) : -1;
            if (hi < 0 || lo < 0) {
                free(res);
                return sl_fail(err, SL_EINVAL, where, "filename* has a bad percent escape");
            }
            c = (unsigned)(hi * 16 + lo);
            p += 2;
            if (c == 0) {
                free(res);
                return sl_fail(err, SL_EINVAL, where, "filename* contains a NUL byte (%%00)");
            }
        }
        if (latin1 && c >= 0x80) {
            res[n++] = (char)(0xc0 | (c >> 6));
            res[n++] = (char)(0x80 | (c & 0x3f));
        } else {
            res[n++] = (char)c;
        }
    }
    res[n] = '\0';
    *out = res;
    return SL_OK;
}

/* Boundary from the request's Content-Type into out (NUL-terminated). */
static int parse_request_type(const char *content_type, char out[MP_MAX_BOUNDARY + 1], sl_error *err)
{
    const char *where = "Content-Type";
    if (!content_type || !*content_type)
        return sl_fail(err, SL_EINVAL, where, "no Content-Type (expected multipart/form-data)");
    param_iter it = {content_type, content_type + strlen(content_type), where};
    const char *type;
    size_t type_len;
    int rc = read_type(&it, &type, &type_len, err);
    if (rc)
        return rc;
    if (!span_ieq(type, type_len, "multipart/form-data"))
        return sl_fail(err, SL_EINVAL, where, "Content-Type is %.*s, not multipart/form-data",
                       (int)(type_len > 100 ? 100 : type_len), type);
    bool have = false;
    const char *name;
    size_t name_len, value_len;
    char *value;
    while ((rc = next_param(&it, &name, &name_len, &value, &value_len, err)) > 0) {
        if (!span_ieq(name, name_len, "boundary")) {
            free(value);
            continue;
        }
        if (have) {
            free(value);
            return sl_fail(err, SL_EINVAL, where, "Content-Type has two boundary parameters");
        }
        have = true;
        if (value_len == 0 || value_len > MP_MAX_BOUNDARY) {
            free(value);
            return sl_fail(err, SL_EINVAL, where, "boundary must be 1-%d characters, not %zu", MP_MAX_BOUNDARY,
                           value_len);
        }
        for (size_t i = 0; i < value_len; i++) {
            unsigned char c = (unsigned char)value[i];
            if (c < 0x20 || c > 0x7e || (c == ' ' && i == value_len - 1)) {
                free(value);
                return sl_fail(err, SL_EINVAL, where,
                               "boundary has a character not allowed (0x%02x at %zu): printable ASCII, "
                               "not ending in a space", c, i);
            }
        }
        memcpy(out, value, value_len + 1);
        free(value);
    }
    if (rc < 0)
        return rc;
    if (!have)
        return sl_fail(err, SL_EINVAL, where, "Content-Type multipart/form-data has no boundary parameter");
    return SL_OK;
}

int multipart_content_type_ok(const char *content_type)
{
    char boundary[MP_MAX_BOUNDARY + 1];
    return parse_request_type(content_type, boundary, NULL) == SL_OK;
}

/* ---- the parser ---- */

multipart *multipart_new(const char *content_type, const multipart_callbacks *cb, void *ctx, sl_error *err)
{
    char boundary[MP_MAX_BOUNDARY + 1];
    if (parse_request_type(content_type, boundary, err) != SL_OK)
        return NULL;
    multipart *m = xcalloc(1, sizeof *m);
    if (cb)
        m->cb = *cb;
    m->ctx = ctx;
    m->delim_len = (size_t)snprintf(m->delim, sizeof m->delim, "\r\n--%s", boundary);
    m->state = MP_PREAMBLE;
    m->match = m->virt = 2; /* the body starts as if after a CRLF */
    m->max_parts = MULTIPART_DEFAULT_MAX_PARTS;
    return m;
}

void multipart_set_max_parts(multipart *m, size_t max_parts)
{
    if (m)
        m->max_parts = max_parts ? max_parts : MULTIPART_DEFAULT_MAX_PARTS;
}

void multipart_free(multipart *m)
{
    free(m);
}

/* Records the first error, stops the parser and fills err. */
static int mp_fail(multipart *m, sl_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int mp_fail(multipart *m, sl_error *err, int code, const char *fmt, ...)
{
    sl_fail(&m->fail, code, "multipart", NULL);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->fail.msg, sizeof m->fail.msg, fmt, ap);
    va_end(ap);
    m->state = MP_FAILED;
    if (err)
        *err = m->fail;
    return code;
}

static int refused(multipart *m, sl_error *err, int rc, const char *what)
{
    int code = rc <= SL_EINVAL && rc >= SL_EEXEC ? rc : SL_EINVAL;
    return mp_fail(m, err, code, "%s callback refused part %zu (returned %d)", what, m->parts, rc);
}

static int emit(multipart *m, const char *data, size_t len, sl_error *err)
{
    if (len == 0 || !m->cb.on_data)
        return SL_OK;
    int rc = m->cb.on_data(m->ctx, data, len);
    return rc ? refused(m, err, rc, "on_data") : SL_OK;
}

static int end_part(multipart *m, sl_error *err)
{
    if (!m->in_part || !m->cb.on_part_end)
        return SL_OK;
    int rc = m->cb.on_part_end(m->ctx);
    return rc ? refused(m, err, rc, "on_part_end") : SL_OK;
}

/* A delimiter line ended (not the closing one): a new part begins. */
static int start_part(multipart *m, sl_error *err)
{
    if (m->parts >= m->max_parts)
        return mp_fail(m, err, SL_ETOOBIG, "too many parts (limit %zu)", m->max_parts);
    m->parts++;
    m->hdr_len = m->line_start = 0;
    m->state = MP_HEADERS;
    return SL_OK;
}

/* Parses a Content-Disposition value into the part's name and filename. */
static int parse_disposition(multipart *m, const char *v, size_t len, char **name, char **filename, sl_error *err)
{
    param_iter it = {v, v + len, "Content-Disposition"};
    const char *type, *pname;
    size_t type_len, pname_len, value_len;
    char *value, *fname_plain = NULL, *fname_ext = NULL;
    sl_error e;
    int rc = read_type(&it, &type, &type_len, &e);
    while (rc == SL_OK && (rc = next_param(&it, &pname, &pname_len, &value, &value_len, &e)) > 0) {
        char **slot = NULL;
        bool ext = false;
        if (span_ieq(pname, pname_len, "name")) {
            slot = name;
        } else if (span_ieq(pname, pname_len, "filename")) {
            slot = &fname_plain;
        } else if (span_ieq(pname, pname_len, "filename*")) {
            slot = &fname_ext;
            ext = true;
        }
        if (!slot) {
            free(value);
            rc = SL_OK;
            continue;
        }
        if (*slot) {
            free(value);
            rc = sl_fail(&e, SL_EINVAL, NULL, "Content-Disposition has two %.*s parameters",
                         (int)pname_len, pname);
            break;
        }
        rc = SL_OK;
        if (ext) {
            rc = decode_ext_value(value, value_len, slot, NULL, &e);
            free(value);
            if (rc)
                break;
        } else {
            *slot = value;
        }
    }
    if (rc < 0) {
        free(fname_plain);
        free(fname_ext);
        return mp_fail(m, err, rc, "part %zu: %s", m->parts, e.msg);
    }
    if (fname_ext) {
        free(fname_plain);
        *filename = fname_ext;
    } else {
        *filename = fname_plain;
    }
    return SL_OK;
}

/* The header block hdr[0..end) (lines ending in CRLF) is complete: parse it and call on_part. */
static int begin_content(multipart *m, size_t end, sl_error *err)
{
    char *h = m->hdr;
    /* Obsolete line folding: a line starting with a space or tab continues the previous one. */
    for (size_t i = 2; i < end; i++) {
        if (h[i - 2] == '\r' && h[i - 1] == '\n' && is_ows((unsigned char)h[i])) {
            h[i - 2] = h[i - 1] = ' ';
        }
    }
    if (end >= 2 && is_ows((unsigned char)h[0]))
        return mp_fail(m, err, SL_EINVAL, "part %zu: headers begin with a continuation line", m->parts);
    char *name = NULL, *filename = NULL, *ctype = NULL;
    bool have_disposition = false;
    int rc = SL_OK;
    size_t pos = 0;
    while (pos < end) {
        char *line = h + pos;
        char *eol = memchr(line, '\r', end - pos); /* every CR is followed by LF here */
        size_t line_len = (size_t)(eol - line);
        pos += line_len + 2;
        size_t name_len = 0;
        while (name_len < line_len && is_tchar((unsigned char)line[name_len]))
            name_len++;
        if (name_len == 0 || name_len == line_len || line[name_len] != ':') {
            rc = mp_fail(m, err, SL_EINVAL, "part %zu: malformed header line '%.*s'", m->parts,
                         (int)(line_len > 60 ? 60 : line_len), line);
            break;
        }
        const char *v = line + name_len + 1, *vend = line + line_len;
        for (const char *p = v; p < vend; p++) {
            unsigned char c = (unsigned char)*p;
            if ((c < 0x20 && c != '\t') || c == 0x7f) {
                rc = mp_fail(m, err, SL_EINVAL, "part %zu: control byte 0x%02x in header %.*s", m->parts, c,
                             (int)name_len, line);
                break;
            }
        }
        if (rc)
            break;
        while (v < vend && is_ows((unsigned char)*v))
            v++;
        while (vend > v && is_ows((unsigned char)vend[-1]))
            vend--;
        if (span_ieq(line, name_len, "content-disposition")) {
            if (have_disposition) {
                rc = mp_fail(m, err, SL_EINVAL, "part %zu: two Content-Disposition headers", m->parts);
                break;
            }
            have_disposition = true;
            rc = parse_disposition(m, v, (size_t)(vend - v), &name, &filename, err);
            if (rc)
                break;
        } else if (span_ieq(line, name_len, "content-type")) {
            if (ctype) {
                rc = mp_fail(m, err, SL_EINVAL, "part %zu: two Content-Type headers", m->parts);
                break;
            }
            ctype = xstrndup(v, (size_t)(vend - v));
        }
    }
    if (rc == SL_OK) {
        multipart_part part = {name ? name : "", filename, ctype};
        int cb_rc = m->cb.on_part ? m->cb.on_part(m->ctx, &part) : 0;
        if (cb_rc)
            rc = refused(m, err, cb_rc, "on_part");
    }
    free(name);
    free(filename);
    free(ctype);
    if (rc)
        return rc;
    m->in_part = true;
    m->state = MP_CONTENT;
    m->match = m->virt = 2; /* content starts as if after a CRLF */
    m->carry = 0;
    return SL_OK;
}

/* The bytes after a whole delimiter are not "--", padding or CRLF. In the preamble that line is
 * just preamble (the byte is looked at again); in content it is an error. */
static int not_a_delimiter(multipart *m, unsigned char c, sl_error *err)
{
    if (!m->in_part) {
        if (c == '\n')
            m->saw_bare_lf = true;
        m->state = MP_PREAMBLE;
        m->match = m->virt = 0;
        return SL_OK;
    }
    return mp_fail(m, err, SL_EINVAL,
                   "part %zu: a line in the content starts with the boundary but is not a boundary line "
                   "(byte 0x%02x after it; expected \"--\" or CRLF)", m->parts, c);
}

int multipart_feed(multipart *m, const char *data, size_t len, sl_error *err)
{
    if (!m)
        return sl_fail(err, SL_EINVAL, "multipart", "no multipart parser");
    if (m->state == MP_FAILED)
        return sl_fail(err, SL_ESTATE, m->fail.where, "multipart parser stopped after an earlier error: %s",
                       m->fail.msg);
    if (len == 0 || m->state == MP_DONE)
        return SL_OK;
    if (!data)
        return mp_fail(m, err, SL_EINVAL, "no data");
    size_t i = 0;
    size_t run = 0; /* in MP_CONTENT: start of the content run not yet handed on */
    m->carry = m->match - m->virt;
    int rc = SL_OK;
    while (i < len && rc == SL_OK) {
        unsigned char c = (unsigned char)data[i];
        switch (m->state) {
        case MP_PREAMBLE:
        case MP_CONTENT: {
            bool content = m->state == MP_CONTENT;
            if (m->match == 0) {
                const char *cr = memchr(data + i, '\r', len - i);
                if (!cr) {
                    i = len;
                    break;
                }
                i = (size_t)(cr - data) + 1;
                m->match = 1;
                break;
            }
            if (c == (unsigned char)m->delim[m->match]) {
                i++;
                if (++m->match < m->delim_len)
                    break;
                if (content) {
                    size_t held_here = m->match - m->virt - m->carry;
                    rc = emit(m, data + run, i - held_here - run, err);
                    if (rc)
                        break;
                }
                m->in_part = content;
                m->match = m->virt = m->carry = 0;
                m->state = MP_AFTER_DELIM;
                break;
            }
            /* Mismatch: the held bytes are content after all. Those from earlier chunks come
             * from the delimiter string; those in this chunk simply join the run. The current
             * byte is looked at again (it may be a CR starting a new match). */
            if (content && m->carry)
                rc = emit(m, m->delim + m->virt, m->carry, err);
            m->match = m->virt = m->carry = 0;
            break;
        }
        case MP_AFTER_DELIM:
            if (c == '-') {
                m->state = MP_DASH;
                i++;
            } else if (is_ows(c)) {
                m->state = MP_PADDING;
                i++;
            } else if (c == '\r') {
                m->state = MP_DELIM_CR;
                i++;
            } else {
                rc = not_a_delimiter(m, c, err);
            }
            break;
        case MP_DASH:
            if (c == '-') {
                i++;
                rc = end_part(m, err);
                if (rc == SL_OK)
                    m->state = MP_DONE;
            } else {
                rc = not_a_delimiter(m, c, err);
            }
            break;
        case MP_PADDING:
            if (is_ows(c)) {
                i++;
            } else if (c == '\r') {
                m->state = MP_DELIM_CR;
                i++;
            } else {
                rc = not_a_delimiter(m, c, err);
            }
            break;
        case MP_DELIM_CR:
            if (c == '\n') {
                i++;
                rc = end_part(m, err);
                if (rc == SL_OK)
                    rc = start_part(m, err);
            } else {
                rc = not_a_delimiter(m, c, err);
            }
            break;
        case MP_HEADERS:
            i++;
            if (c == '\0') {
                rc = mp_fail(m, err, SL_EINVAL, "part %zu: NUL byte in the headers", m->parts);
                break;
            }
            if (m->hdr_len == sizeof m->hdr) {
                rc = mp_fail(m, err, SL_ETOOBIG, "part %zu: header block is larger than %d bytes", m->parts,
                             MULTIPART_MAX_HEADER_BYTES);
                break;
            }
            if (m->hdr_len > 0 && m->hdr[m->hdr_len - 1] == '\r' && c != '\n') {
                rc = mp_fail(m, err, SL_EINVAL, "part %zu: bare CR in the headers (lines must end in CRLF)",
                             m->parts);
                break;
            }
            if (c == '\n' && (m->hdr_len == 0 || m->hdr[m->hdr_len - 1] != '\r')) {
                rc = mp_fail(m, err, SL_EINVAL, "part %zu: bare LF in the headers (lines must end in CRLF)",
                             m->parts);
                break;
            }
            m->hdr[m->hdr_len++] = (char)c;
            if (c != '\n')
                break;
            if (m->hdr_len - m->line_start == 2) {
                rc = begin_content(m, m->line_start, err);
                run = i;
            } else {
                m->line_start = m->hdr_len;
            }
            break;
        case MP_DONE:
            i = len; /* epilogue */
            break;
        case MP_FAILED:
            return m->fail.code;
        }
    }
    if (rc)
        return rc;
    if (m->state == MP_CONTENT) {
        size_t held_here = m->match - m->virt - m->carry;
        rc = emit(m, data + run, len - held_here - run, err);
    }
    return rc;
}

int multipart_finish(multipart *m, sl_error *err)
{
    if (!m)
        return sl_fail(err, SL_EINVAL, "multipart", "no multipart parser");
    switch (m->state) {
    case MP_DONE:
        return SL_OK;
    case MP_FAILED:
        return sl_fail(err, SL_ESTATE, m->fail.where, "multipart parser stopped after an earlier error: %s",
                       m->fail.msg);
    case MP_PREAMBLE:
        return mp_fail(m, err, SL_EINVAL, "body ended without any boundary line (boundary \"%s\")%s", m->delim + 4,
                       m->saw_bare_lf ? "; a boundary line ended in a bare LF (lines must end in CRLF)" : "");
    case MP_HEADERS:
        return mp_fail(m, err, SL_EINVAL, "part %zu: body ended inside the part headers", m->parts);
    default:
        if (!m->in_part)
            return mp_fail(m, err, SL_EINVAL, "body ended inside the first boundary line");
        return mp_fail(m, err, SL_EINVAL, "part %zu: body ended before the closing boundary", m->parts);
    }
}
