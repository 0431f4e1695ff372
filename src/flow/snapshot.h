/* snapshot: a Flow snapshot (one flow version as JSON) parsed into an immutable model.
 *
 * Design: a snapshot is the ecosystem's "FlowImage" document (flow-runtime.md §2.1): the flow's
 * own members (id {id, versionId}, developerName, startMapElementId, …) plus arrays of elements
 * (mapElements, pageElements, valueElements, typeElements, serviceElements, navigationElements,
 * groupElements, macroElements, tagElements). The format belongs to the ecosystem, so parsing is
 * lenient: unknown members are ignored, optional members may be missing or null. What the engine
 * relies on is checked and every finding is reported with a JSON pointer.
 *
 * Checks come in two passes:
 *   - snapshot_parse: the structure. Required members present with the right type, ids unique,
 *     outcome binding types known. Any finding here means no model is built.
 *   - snapshot_check_links: the references between elements (start element, outcome targets,
 *     an input's page, an element's group). A snapshot with dangling references still gives a
 *     model (the reference resolves to NULL) because real published snapshots carry them: the
 *     public greenlight "snapshot A" fixture names a start element and an outcome target that
 *     are not in it. Callers decide whether such findings are fatal (the import CLI's --strict).
 *
 * The model keeps a private deep copy of the document; every string and jv pointer in it is
 * borrowed from that copy and lives as long as the snapshot. Nothing is mutated after parsing,
 * so one snapshot may be shared by many threads. Element ids are GUIDs and are compared ASCII
 * case-insensitively, as are elementType strings ("START", "input", "step" all occur).
 */
#ifndef SLUICE_FLOW_SNAPSHOT_H
#define SLUICE_FLOW_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/json.h"
#include "core/util.h"

/* Map element kinds (flow-runtime.md §2.2). INPUT is the ordinary page element; PAGE is the
 * .NET SDK's separate "remote page" kind. WAIT is inferred from MapElement fields. */
typedef enum {
    SNAP_EL_UNKNOWN = 0,
    SNAP_EL_START,
    SNAP_EL_STEP,
    SNAP_EL_INPUT,
    SNAP_EL_PAGE,
    SNAP_EL_DECISION,
    SNAP_EL_OPERATOR,
    SNAP_EL_MESSAGE,
    SNAP_EL_DATABASE_LOAD,
    SNAP_EL_DATABASE_SAVE,
    SNAP_EL_DATABASE_DELETE,
    SNAP_EL_SUB_FLOW,
    SNAP_EL_WAIT,
} snap_element_kind;

/* Maps an elementType string to its kind, ignoring ASCII case; NULL or unknown → UNKNOWN.
 * "SUB_FLOW" and "SUBFLOW" both give SNAP_EL_SUB_FLOW. */
snap_element_kind snapshot_element_kind(const char *element_type);
/* The canonical upper-case name of a kind ("START", …, "UNKNOWN"). */
const char *snapshot_kind_name(snap_element_kind kind);

/* Outcome.pageActionBindingType: whether page input is saved (and validated) when the outcome is
 * chosen. Missing, null or "" means SAVE, the ecosystem's default. */
typedef enum {
    SNAP_BIND_SAVE = 0,
    SNAP_BIND_NO_SAVE,
    SNAP_BIND_PARTIAL_SAVE,
} snap_binding_type;

struct snap_map_element;

/* One outcome of a map element. */
typedef struct snap_outcome {
    const char *id;
    const char *developer_name;       /* "" when absent */
    const char *label;                /* "" when absent */
    const char *next_id;              /* nextMapElementId as written */
    const struct snap_map_element *next; /* resolved target, NULL when it points nowhere */
    int64_t order;                    /* "order", 0 when absent */
    snap_binding_type binding;
    const char *page_action_type;     /* "" when absent (UI hint such as "SAVE", "NEXT") */
    const jv *comparison;             /* borrowed; NULL when absent or null */
    const jv *json;                   /* the whole outcome object, borrowed */
    size_t index;                     /* position in the element's "outcomes" array */
} snap_outcome;

/* One map element (a node of the flow graph). */
typedef struct snap_map_element {
    const char *id;
    const char *element_type;         /* as written, e.g. "input" */
    snap_element_kind kind;
    const char *developer_name;       /* "" when absent */
    const char *page_element_id;      /* NULL when absent or null */
    const char *group_element_id;     /* NULL when absent or null */
    snap_outcome *outcomes;           /* sorted by order, then by array position */
    size_t n_outcomes;
    const jv *json;                   /* the whole element object, borrowed */
    size_t index;                     /* position in "mapElements" */
} snap_map_element;

/* The element arrays other than mapElements. */
typedef enum {
    SNAP_SET_PAGE = 0,  /* pageElements */
    SNAP_SET_VALUE,     /* valueElements */
    SNAP_SET_TYPE,      /* typeElements */
    SNAP_SET_SERVICE,   /* serviceElements */
    SNAP_SET_NAVIGATION,/* navigationElements */
    SNAP_SET_GROUP,     /* groupElements */
    SNAP_SET_MACRO,     /* macroElements */
    SNAP_SET_TAG,       /* tagElements */
    SNAP_SET_COUNT
} snap_set;

/* The member name of a set ("pageElements", …). */
const char *snapshot_set_member(snap_set set);

/* An element of one of the other sets: only the members every kind has. */
typedef struct snap_element {
    const char *id;
    const char *element_type;         /* "" when absent */
    const char *developer_name;       /* "" when absent */
    const jv *json;                   /* borrowed */
    size_t index;                     /* position in its array */
} snap_element;

/* The parsed snapshot. Treat every member as read-only. */
typedef struct flow_snapshot {
    const char *id;                   /* id.id (or id when it is a plain string) */
    const char *version_id;           /* id.versionId; NULL when absent */
    const char *name;                 /* developerName */
    const char *start_id;             /* startMapElementId as written */
    const snap_map_element *start;    /* resolved; NULL when it names no map element */
    snap_map_element *map_elements;   /* in document order */
    size_t n_map_elements;
    snap_element *elements[SNAP_SET_COUNT]; /* each in document order */
    size_t n_elements[SNAP_SET_COUNT];
    const jv *json;                   /* the snapshot's private deep copy */
    /* private: lookup indexes (positions sorted by id, case-insensitively) */
    size_t *map_index_;
    size_t map_index_n_;
    size_t *set_index_[SNAP_SET_COUNT];
    size_t set_index_n_[SNAP_SET_COUNT];
} flow_snapshot;

/* Parses and validates doc (the snapshot's JSON; only read, a deep copy is kept). Every
 * structural problem is added to problems with file and a JSON pointer; file may be NULL ("").
 * Returns 0 with *out set when there was none, else SL_EINVAL with *out NULL. Reference
 * problems are not reported here: see snapshot_check_links. */
int snapshot_parse(const jv *doc, const char *file, flow_snapshot **out, sl_problems *problems);

/* Convenience: parses text[0..len) as JSON (a syntax error becomes one problem at "") and then
 * as a snapshot. */
int snapshot_parse_text(const char *text, size_t len, const char *file, flow_snapshot **out,
                        sl_problems *problems);

/* Adds a problem for each reference that resolves to nothing: startMapElementId
 * ("/startMapElementId"), an outcome's nextMapElementId
 * ("/mapElements/i/outcomes/j/nextMapElementId"), an element's pageElementId and
 * groupElementId. Returns the number of problems added. */
size_t snapshot_check_links(const flow_snapshot *snap, const char *file, sl_problems *problems);

void snapshot_free(flow_snapshot *snap); /* NULL is fine */

/* Looks a map element up by id (ASCII case-insensitive); NULL when there is none. */
const snap_map_element *snapshot_map_element(const flow_snapshot *snap, const char *id);
/* Looks an element of another set up by id; NULL when there is none. */
const snap_element *snapshot_element(const flow_snapshot *snap, snap_set set, const char *id);
/* Finds an outcome of el by id (case-insensitive); NULL when there is none. */
const snap_outcome *snapshot_outcome(const snap_map_element *el, const char *id);

#endif
