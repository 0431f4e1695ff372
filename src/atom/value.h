/* value: the VALUE expressions and PATHs that process shapes use (docs/components.md, "Paths"
 * and "Values"), and the functions they can call.
 *
 * Design: a VALUE is parsed once at deploy time into an immutable tree (value) that concurrent
 * executions share read-only. Evaluation always produces text (missing and empty are the same
 * thing, as Boomi treats them); the caller converts the text to the type it needs. Evaluation
 * keeps no state outside its arguments, so it is thread-safe.
 */
#ifndef SLUICE_VALUE_H
#define SLUICE_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "atom/profile.h"
#include "core/json.h"
#include "core/util.h"

/* A path has at most as many segments as a profile has levels. */
#define VALUE_MAX_PATH_SEGMENTS PROFILE_MAX_DEPTH
/* VALUEs nest at most this deep (functions inside functions). */
#define VALUE_MAX_NESTING 32
/* Any text a value produces is at most this long; longer fails the execution. */
#define VALUE_MAX_TEXT ((size_t)16 << 20)

/* A parsed PATH: segments joined by "/", a segment may end in "[]" ("each item"). */
typedef struct value_path {
    char *text;    /* the path as written */
    char **names;  /* element name of each segment */
    bool *iter;    /* segment ends in "[]" */
    size_t nseg;
    size_t niter;  /* number of "[]" segments */
} value_path;

typedef struct value value;

/* Parses PATH text into *out. Returns 0, or SL_EINVAL with a message in msg (out untouched). */
int value_path_parse(const char *text, value_path *out, char *msg, size_t msgsz);
void value_path_free(value_path *p);

/* Walks a path through a profile starting below `root` (the document). Checks that every
 * segment names a child, that "[]" follows only Array elements and that an Array is stepped into
 * with "[]" before naming its fields. Returns 0 and the last element in *out, or SL_EINVAL with a
 * message in msg. Whether the last element is suitable is up to the caller. */
int value_path_resolve(const profile_elem *root, const value_path *p, const profile_elem **out,
                       char *msg, size_t msgsz);

/* Parses a VALUE found at JSON pointer `ptr` of component `file`. Every problem is added to
 * problems; returns the new value, or NULL when any problem was found. */
value *value_parse(const jv *v, const char *file, const char *ptr, sl_problems *problems);
void value_free(value *v);

/* Pointer of the value inside its component (for messages). */
const char *value_pointer(const value *v);

/* The most "[]" segments among the value's element paths (a count argument included), and the
 * first element path with that many: in a map it drives the iteration over source items.
 * The driver is NULL when the count is 0. */
size_t value_iterations(const value *v);
const value_path *value_driver(const value *v);

/* Checks every element path of the value against a profile (root = the document): each must
 * exist and name a simple element (count: an Array element, without a trailing "[]"). Problems
 * are added at the pointer of the offending "element" member; returns the number added. */
size_t value_link(const value *v, const profile *prof, const char *file, sl_problems *problems);

/* Evaluation environment. */
typedef struct value_env {
    const jv *doc;        /* current document, may be NULL (= empty) */
    const jv *properties; /* dynamic process properties (object), may be NULL */
    const size_t *index;  /* item index per "[]" level (missing levels use the first item) */
    size_t nindex;
} value_env;

/* Evaluates v, appending its text to out. Returns 0, or SL_EEXEC with err->where = the failing
 * value's pointer and err->msg = what failed (bad number, unparsable date, division by zero,
 * text too long). */
int value_eval(const value *v, const value_env *env, buf *out, sl_error *err);

/* Finds the element a path names in doc, using index[level] for the level-th "[]" (0 beyond
 * nindex). Returns a borrowed reference or NULL when missing. */
const jv *value_lookup(const jv *doc, const value_path *p, const size_t *index, size_t nindex);

/* Appends the text form of a JSON value: strings as they are, integers in decimal, reals in
 * their shortest form, booleans "true"/"false", null/NULL nothing, objects and arrays as
 * compact JSON. Returns 0 or SL_ETOOBIG. */
int value_text_of(const jv *v, buf *out);

#endif
