/* profile: JSON profiles (Boomi-style element trees), Flow type generation and the conversion
 * between Flow values and profile-shaped documents.
 *
 * Design: a profile is parsed once at deploy time into an immutable tree (profile_elem) that is
 * shared read-only by every execution. The format and Boomi's rules are in docs/components.md.
 * Generated Flow types follow Boomi's naming, "<prefix> - <element name>", where prefix is e.g.
 * "Greet REQUEST"; describe output is deterministic (same input, same bytes).
 * Conversions validate as they go and report the offending place as a JSON pointer into the
 * request (e.g. "/inputs/2/contentValue"), so the HTTP layer can answer a clear 400.
 */
#ifndef SLUICE_PROFILE_H
#define SLUICE_PROFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/json.h"
#include "core/util.h"

typedef enum {
    PE_CHARACTER,
    PE_NUMBER,
    PE_BOOLEAN,
    PE_DATETIME,
    PE_OBJECT,
    PE_ARRAY, /* an array of objects; children are the fields of each item */
} pe_type;

typedef struct profile_elem {
    char *name;
    pe_type type;
    char *description;             /* may be NULL */
    struct profile_elem **children; /* Object/Array only */
    size_t nchildren;
} profile_elem;

typedef struct profile {
    char *name;
    char *description; /* may be NULL */
    profile_elem *root; /* always PE_OBJECT */
} profile;

#define PROFILE_MAX_DEPTH 16
#define PROFILE_MAX_ELEMENTS 1000

/* Parses and validates a profile component document (the whole file's JSON). Every problem is
 * added to problems with `file` and a JSON pointer. Returns 0 and a new profile in *out (caller
 * frees with profile_free), or SL_EINVAL when any problem was found (*out untouched). */
int profile_parse(const jv *doc, const char *file, profile **out, sl_problems *problems);
void profile_free(profile *p);

const char *pe_type_name(pe_type t);     /* "Character", … */
const char *pe_content_type(pe_type t);  /* "ContentString", "ContentNumber", …, "ContentObject", "ContentList" */

/* Finds a direct child by name (exact match), or NULL. */
const profile_elem *profile_child(const profile_elem *e, const char *name);

/* Describe: appends one DescribeValue per child of the root of p to `values` (a JSON array):
 *   {"developerName","contentValue":null,"contentType","typeElementDeveloperName","ordinal","required":false}
 * and appends the TypeElements it generates to `types` (a JSON array shared across one whole
 * describe: a type whose developerName is already in `types` with identical properties is not
 * added again; a different shape with the same name gets "_1", "_2"… appended). Type shape:
 *   {"elementType":"TYPE","developerName","developerSummary","id":null,"serviceElementId":null,
 *    "updateByName":false,"properties":[{"id":null,"developerName","contentType","contentFormat":null,
 *    "typeElementId":null,"typeElementDeveloperName"}],"bindings":[]}
 * prefix is "<action name> REQUEST" or "<action name> RESPONSE". p may be NULL (no values).
 * Returns 0 (cannot fail on a validated profile). */
int profile_describe(const profile *p, const char *prefix, jv *values, jv *types);

/* Inputs → document. `inputs` is the request's EngineValue array (may be NULL/null); values are
 * matched to root children by developerName (exact, then case-insensitive). Scalars come from
 * contentValue (Number: must be a decimal number; Boolean: "true"/"false" any case, "" = absent;
 * DateTime: ISO-8601 with offset or 'Z', converted to yyyy-MM-ddTHH:mm:ss.SSSZ in UTC; "" or
 * null = absent). Objects/lists come from objectData (MObjects whose properties are matched to
 * child elements by developerName the same way). Unknown inputs are ignored.
 * Returns 0 and a new JSON object in *doc, or SL_EINVAL with err->where = pointer relative to the
 * inputs array's parent, e.g. "/inputs/1/contentValue", and err->msg saying what is wrong. */
int profile_inputs_to_doc(const profile *p, const jv *inputs, jv **doc, sl_error *err);

/* Document → outputs: one EngineValue per root child present in the document:
 *   {"developerName","contentType","contentValue","objectData","typeElementDeveloperName",
 *    "valueElementId":null,"typeElementId":null,"typeElementPropertyId":null,
 *    "typeElementPropertyDeveloperName":null}
 * Scalars as text (numbers in their shortest form, booleans "true"/"false"); objects/lists as
 * objectData MObjects {"internalId":null,"externalId":null,"developerName":<type name>,
 * "typeElementId":null,"order":i,"isSelected":false,"properties":[...]} where every child element
 * of the type appears as a property (contentValue null when absent). Type names must match
 * profile_describe's for the same prefix. Document members not in the profile are ignored; a
 * member of the wrong JSON type fails with SL_EINVAL and err->where = pointer into the document.
 * Returns 0 and a new JSON array in *outputs. */
int profile_doc_to_outputs(const profile *p, const char *prefix, const jv *doc, jv **outputs, sl_error *err);

/* Normalises a date/time text to yyyy-MM-ddTHH:mm:ss.SSSZ (UTC) into out[25]. Accepts
 * yyyy-MM-dd, yyyy-MM-ddTHH:mm[:ss[.fraction]] followed by Z, ±HH:MM or ±HHMM (no zone = UTC).
 * Returns 0 or SL_EINVAL. */
int datetime_normalise(const char *in, char out[25]);

/* Parses decimal number text strictly (JSON number grammar, surrounding spaces allowed).
 * Returns a new JSON integer when integral and within int64, else a real; NULL if not a number. */
jv *number_from_text(const char *s);

#endif
