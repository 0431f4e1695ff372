/* json: the project's JSON facade (prefix jv_).
 *
 * Design: every module speaks JSON through these functions only, never through the parser
 * underneath (jansson today), so the parser can be replaced later without touching callers.
 * Values are reference counted. Naming states ownership:
 *   - `_get`/`jv_at` return a BORROWED reference (valid while the container lives);
 *   - `jv_new_*`, `jv_parse`, `jv_copy` return a NEW reference the caller must jv_free();
 *   - `_take` functions STEAL the reference passed in (the caller must not free it).
 * Parsing is strict (RFC 8259: no trailing commas, no leading zeros, valid UTF-8, no trailing
 * garbage, no repeated keys in an object), rejects integers beyond int64 (reported as errors, never clamped), allows "\u0000"
 * inside strings, limits depth, and reports the line/column and byte offset of an error.
 * Serialising is our own: numbers print the shortest text that reads back to the same double,
 * keys keep insertion order, output is compact.
 */
#ifndef SLUICE_JSON_H
#define SLUICE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

typedef struct jv jv;

typedef enum { JV_NULL, JV_BOOL, JV_INT, JV_REAL, JV_STRING, JV_ARRAY, JV_OBJECT } jv_type;

/* Parses text[0..len). Returns a new reference, or NULL with err filled (where = "line L col C"). */
jv *jv_parse(const char *text, size_t len, sl_error *err);

/* Appends compact JSON to out. Returns 0 or SL_ETOOBIG when out's limit is reached. */
int jv_dump(const jv *v, buf *out);
/* Compact JSON as a new malloc'd string (caller frees). */
char *jv_dumps(const jv *v);

jv *jv_incref(jv *v);
void jv_free(jv *v); /* decrements; NULL is fine */

jv_type jv_typeof(const jv *v);
const char *jv_type_name(jv_type t);
bool jv_is_null(const jv *v); /* true for NULL pointers too */
bool jv_is_string(const jv *v);
bool jv_is_number(const jv *v);
bool jv_is_object(const jv *v);
bool jv_is_array(const jv *v);
bool jv_is_bool(const jv *v);

/* Scalars: getters return the fallback-free value; check the type first. */
const char *jv_str(const jv *v);      /* NULL unless a string */
size_t jv_str_len(const jv *v);
int64_t jv_int(const jv *v);          /* integer value (reals truncated) */
double jv_num(const jv *v);           /* any number as double */
bool jv_bool(const jv *v);            /* true only for JSON true */

jv *jv_new_null(void);
jv *jv_new_bool(bool b);
jv *jv_new_int(int64_t i);
jv *jv_new_real(double d);            /* NaN/inf are not JSON: they become null */
jv *jv_new_str(const char *s);        /* copies; NULL -> JSON null; invalid UTF-8 -> NULL */
jv *jv_new_strn(const char *s, size_t n);
jv *jv_new_object(void);
jv *jv_new_array(void);

/* Objects. */
jv *jv_get(const jv *obj, const char *key);                 /* borrowed or NULL */
const char *jv_get_str(const jv *obj, const char *key);     /* NULL unless a string member */
int jv_set(jv *obj, const char *key, jv *val);              /* adds a reference */
int jv_set_take(jv *obj, const char *key, jv *val);         /* steals val (even on error) */
int jv_set_str(jv *obj, const char *key, const char *s);    /* s NULL -> null */
int jv_set_int(jv *obj, const char *key, int64_t i);
int jv_set_bool(jv *obj, const char *key, bool b);
int jv_set_null(jv *obj, const char *key);
int jv_del(jv *obj, const char *key);
size_t jv_obj_size(const jv *obj);
/* Iteration in insertion order: for (void *it = jv_obj_iter(o); it; it = jv_obj_next(o, it)) */
void *jv_obj_iter(const jv *obj);
void *jv_obj_next(const jv *obj, void *it);
const char *jv_obj_key(void *it);
jv *jv_obj_value(void *it); /* borrowed */

/* Arrays. */
size_t jv_len(const jv *arr);                 /* 0 unless an array */
jv *jv_at(const jv *arr, size_t i);           /* borrowed or NULL */
int jv_push(jv *arr, jv *val);                /* adds a reference */
int jv_push_take(jv *arr, jv *val);           /* steals val */

/* Deep copy (new reference) and deep equality (object member order ignored). */
jv *jv_copy(const jv *v);
bool jv_equal(const jv *a, const jv *b);

/* Formats a double the shortest way that round-trips; out must hold 32 bytes. Integral
 * values in ±2^53 print without a fraction or exponent. */
void jv_format_double(double d, char out[32]);

/* Appends s as a JSON string literal (quotes included) to out. */
int jv_escape(buf *out, const char *s, size_t n);

#endif
