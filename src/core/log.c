/* log: JSON-lines logger (see log.h).
 *
 * Design: each line is built in a fixed 16 KiB thread-local buffer and written with one
 * write(2). The writer keeps a small reserve at the end of the buffer so a line can always be
 * closed: a string that does not fit is cut at a UTF-8 character boundary and its quote closed;
 * a key or raw value that does not fit is dropped whole; a cut line ends with
 * ,"truncated":true}. Strings are escaped here (not with jv_escape) because the log must stay
 * valid JSON even for bad input: invalid UTF-8 becomes \ufffd. Raw ('#') values are checked by a
 * small non-allocating validator first; anything that is not one valid JSON value is logged as a
 * string instead, and raw whitespace newlines become spaces so a line stays one line.
 * A NULL value is logged as null and the list continues (the list ends at a NULL key).
 */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"

#define LOG_CAP 16384
#define LOG_RESERVE 32     /* room for ,"truncated":true}\n (19 bytes), with slack */
#define LOG_RAW_DEPTH 64   /* deeper raw values are logged as strings */

static atomic_int log_threshold = LOG_INFO;
static atomic_int log_out_fd = 2;

static _Thread_local char log_line_buf[LOG_CAP];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(int level)
{
    if (level < LOG_DEBUG)
        level = LOG_DEBUG;
    if (level > LOG_OFF)
        level = LOG_OFF;
    atomic_store_explicit(&log_threshold, level, memory_order_relaxed);
}

int log_get_level(void)
{
    return atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

int log_level_parse(const char *s)
{
    if (!s)
        return -1;
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (str_ieq(s, level_names[i]))
            return i;
    }
    if (str_ieq(s, "warning"))
        return LOG_WARN;
    if (str_ieq(s, "off"))
        return LOG_OFF;
    return -1;
}

void log_set_fd(int fd)
{
    atomic_store_explicit(&log_out_fd, fd, memory_order_relaxed);
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one (overlong forms,
 * surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* ---- line writer ---- */

typedef struct line {
    char *p;
    size_t len;
    size_t limit; /* content may not pass this; the rest is the reserve */
    bool truncated;
} line;

static bool put_raw(line *l, const char *s, size_t n)
{
    if (n > l->limit - l->len)
        return false;
    memcpy(l->p + l->len, s, n);
    l->len += n;
    return true;
}

/* Writes s as a JSON string. With may_cut, a string that does not fit is cut (and the line
 * marked truncated); otherwise it fails and the caller rolls back. */
static bool put_str(line *l, const char *str, bool may_cut)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s);
    if (l->limit - l->len < 2) /* room for both quotes */
        return false;
    l->p[l->len++] = '"';
    l->limit--; /* keep room for the closing quote */
    size_t i = 0;
    while (i < n) {
        char esc[8];
        const char *piece = esc;
        size_t plen = 2;
        unsigned char c = s[i];
        size_t adv = 1;
        esc[0] = '\\';
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
        } else if (c == '\n') {
            esc[1] = 'n';
        } else if (c == '\r') {
            esc[1] = 'r';
        } else if (c == '\t') {
            esc[1] = 't';
        } else if (c < 0x20) {
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            plen = 6;
        } else if (c < 0x80) {
            piece = (const char *)s + i;
            plen = 1;
        } else if ((adv = utf8_seq(s + i, n - i)) != 0) {
            piece = (const char *)s + i;
            plen = adv;
        } else {
            memcpy(esc + 1, "ufffd", 5);
            plen = 6;
            adv = 1;
        }
        if (!put_raw(l, piece, plen)) {
            if (!may_cut) {
                l->limit++;
                return false;
            }
            l->truncated = true;
            break;
        }
        i += adv;
    }
    l->limit++;
    l->p[l->len++] = '"'; /* fits: kept free above */
    return true;
}

/* ---- raw JSON validator ---- */

typedef struct scan {
    const unsigned char *s;
    size_t n, i;
} scan;

static void skip_ws(scan *sc)
{
    while (sc->i < sc->n && (sc->s[sc->i] == ' ' || sc->s[sc->i] == '\t' ||
                             sc->s[sc->i] == '\n' || sc->s[sc->i] == '\r'))
        sc->i++;
}

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool scan_digits(scan *sc)
{
    size_t start = sc->i;
    while (sc->i < sc->n && is_digit(sc->s[sc->i]))
        sc->i++;
    return sc->i > start;
}

static bool scan_string(scan *sc)
{
    sc->i++; /* opening quote */
    while (sc->i < sc->n) {
        unsigned char c = sc->s[sc->i];
        if (c == '"') {
            sc->i++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (++sc->i >= sc->n)
                return false;
            c = sc->s[sc->i++];
            if (c == 'u') {
                for (int k = 0; k < 4; k++, sc->i++) {
                    if (sc->i >= sc->n || !strchr("0123456789abcdefABCDEF", sc->s[sc->i]) ||
                        sc->s[sc->i] == '\0')
                        return false;
                }
            } else if (!strchr("\"\\/bfnrt", c) || c == '\0') {
                return false;
            }
            continue;
        }
        size_t len = utf8_seq(sc->s + sc->i, sc->n - sc->i);
        if (!len)
            return false;
        sc->i += len;
    }
    return false;
}

static bool scan_literal(scan *sc, const char *word)
{
    size_t k = strlen(word);
    if (sc->n - sc->i < k || memcmp(sc->s + sc->i, word, k) != 0)
        return false;
    sc->i += k;
    return true;
}

static bool scan_value(scan *sc, int depth)
{
    skip_ws(sc);
    if (sc->i >= sc->n || depth > LOG_RAW_DEPTH)
        return false;
    unsigned char c = sc->s[sc->i];
    bool ok;
    if (c == '{' || c == '[') {
        unsigned char close = c == '{' ? '}' : ']';
        sc->i++;
        skip_ws(sc);
        if (sc->i < sc->n && sc->s[sc->i] == close) {
            sc->i++;
            ok = true;
        } else {
            for (;;) {
                if (c == '{') {
                    skip_ws(sc);
                    if (sc->i >= sc->n || sc->s[sc->i] != '"' || !scan_string(sc))
                        return false;
                    skip_ws(sc);
                    if (sc->i >= sc->n || sc->s[sc->i++] != ':')
                        return false;
                }
                if (!scan_value(sc, depth + 1))
                    return false;
                if (sc->i >= sc->n)
                    return false;
                unsigned char d = sc->s[sc->i++];
                if (d == close)
                    break;
                if (d != ',')
                    return false;
            }
            ok = true;
        }
    } else if (c == '"') {
        ok = scan_string(sc);
    } else if (c == '-' || is_digit(c)) {
        if (c == '-')
            sc->i++;
        if (sc->i < sc->n && sc->s[sc->i] == '0')
            sc->i++;
        else if (!scan_digits(sc))
            return false;
        if (sc->i < sc->n && sc->s[sc->i] == '.') {
            sc->i++;
            if (!scan_digits(sc))
                return false;
        }
        if (sc->i < sc->n && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
            sc->i++;
            if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-'))
                sc->i++;
            if (!scan_digits(sc))
                return false;
        }
        ok = true;
    } else {
        ok = scan_literal(sc, "true") || scan_literal(sc, "false") || scan_literal(sc, "null");
    }
    skip_ws(sc);
    return ok;
}

static bool raw_json_valid(const char *s, size_t n)
{
    scan sc = {(const unsigned char *)s, n, 0};
    return scan_value(&sc, 0) && sc.i == n;
}

/* Copies valid raw JSON, turning CR/LF (only possible as whitespace) into spaces. */
static bool put_raw_json(line *l, const char *s, size_t n)
{
    size_t start = l->len;
    if (!put_raw(l, s, n))
        return false;
    for (size_t i = start; i < l->len; i++) {
        if (l->p[i] == '\n' || l->p[i] == '\r')
            l->p[i] = ' ';
    }
    return true;
}

/* ---- emit ---- */

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere to report a logging failure */
        }
        p += w;
        n -= (size_t)w;
    }
}

void log_emit(int level, const char *comp, const char *msg, ...)
{
    if (level < LOG_DEBUG || level > LOG_ERROR || level < log_get_level())
        return;
    int saved_errno = errno;
    line l = {log_line_buf, 0, LOG_CAP - LOG_RESERVE, false};
    char ts[25];
    time_iso8601(now_ms(), ts);

    put_raw(&l, "{\"ts\":\"", 7);
    put_raw(&l, ts, 24);
    put_raw(&l, "\",\"lvl\":\"", 9);
    put_raw(&l, level_names[level], strlen(level_names[level]));
    put_raw(&l, "\",\"comp\":", 9);
    put_str(&l, comp, true);
    if (!l.truncated && put_raw(&l, ",\"msg\":", 7))
        put_str(&l, msg, true);

    va_list ap;
    va_start(ap, msg);
    const char *key;
    while (!l.truncated && (key = va_arg(ap, const char *)) != NULL) {
        const char *val = va_arg(ap, const char *);
        bool raw = key[0] == '#';
        size_t mark = l.len;
        bool ok = put_raw(&l, ",", 1) && put_str(&l, raw ? key + 1 : key, false) &&
                  put_raw(&l, ":", 1);
        if (ok) {
            size_t vn = val ? strlen(val) : 0;
            if (!val)
                ok = put_raw(&l, "null", 4);
            else if (raw && raw_json_valid(val, vn))
                ok = put_raw_json(&l, val, vn);
            else
                ok = put_str(&l, val, true);
        }
        if (!ok) {
            l.len = mark;
            l.truncated = true;
        }
    }
    va_end(ap);

    if (l.truncated) {
        memcpy(l.p + l.len, ",\"truncated\":true", 17);
        l.len += 17;
    }
    l.p[l.len++] = '}';
    l.p[l.len++] = '\n';
    write_all(atomic_load_explicit(&log_out_fd, memory_order_relaxed), l.p, l.len);
    errno = saved_errno;
}
