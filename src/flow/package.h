/* package: Flow packages (a flow version carried from one tenant to another) and the JSON walks
 * the draw API shares with them.
 *
 * Design: a package is a snapshot document (the FlowImage JSON a version is stored as, so
 * `sluice flow import` takes it unchanged) plus one member
 *   "package": {"format": "sluice-flow-package/1", "exportedAt", "sourceTenant", "sourceVersion"}.
 * Exports carry no secrets: every service's httpAuthenticationPassword and every ContentPassword
 * value's defaultContentValue become null.
 *
 * Importing is split in two so the transformation can be fuzzed without a store:
 *   - package_transform is pure JSON: binding to the target tenant's services (by developerName)
 *     and their types (by developerName, properties by developerName), fresh ids for the flow
 *     and every element it defines (remapIds), rewriting every reference, and uriMapping.
 *   - package_import runs it against a tenant in the store: loads the tenant's elements, checks
 *     the result (snapshot_parse; snapshot_check_links as warnings, or errors when strict),
 *     stores it as the flow's newest active version, and makes the flow editable (its header as
 *     the draft, its elements in the elements table).
 * A reference is any JSON string equal, ignoring ASCII case, to an id being replaced: ids are
 * GUIDs, and snapshots write them in both cases. Two exceptions: ids that mean something to the
 * engine by themselves (the FAULT and debug outcome ids, the $User value) are never replaced,
 * and the values of members that are names, labels, enumerations, URIs or code
 * (package_never_ref: developerName, label, elementType, contentType, …) are never rewritten.
 *
 * The draw API's snapshot assembly lives here too (package_assemble): a flow's map and group
 * elements plus every tenant-scoped element they reference, transitively.
 */
#ifndef SLUICE_FLOW_PACKAGE_H
#define SLUICE_FLOW_PACKAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/json.h"
#include "core/util.h"
#include "flow/flowstore.h"

#define PACKAGE_FORMAT "sluice-flow-package/1"

/* The element kinds of the draw side: the name used in routes and the elements table, the
 * snapshot member holding them, whether they belong to one flow, and the elementType given to
 * an element that has none (NULL: required, as for map elements). */
typedef struct package_kind {
    const char *kind;
    const char *member;
    bool flow_scoped;
    const char *element_type;
} package_kind;

#define PACKAGE_NKINDS 9
extern const package_kind package_kinds[PACKAGE_NKINDS]; /* map, group, then the tenant-scoped ones */
/* The kind called name (exact, lower case), or NULL. */
const package_kind *package_kind_find(const char *name);

/* True for the members whose values package_transform never rewrites (developerName, label,
 * elementType, contentType, componentType, uri, code, content, …). */
bool package_never_ref(const char *key);

/* Import options. */
typedef struct package_options {
    int remap_ids;         /* 1 yes, 0 no, -1 default: yes when package.sourceTenant names another tenant */
    int bind;              /* 1 yes, 0 no, -1 default: yes for a package (a "package" member), no for a
                            * plain snapshot, which carries its services whole */
    const jv *uri_mapping; /* {oldUri: newUri} (borrowed) or NULL */
    bool strict;           /* dangling links (snapshot_check_links) refuse the import */
} package_options;

/* Reads options from a JSON object {remapIds, bind, uriMapping, strict} over *o (members absent keep
 * the current values). SL_EINVAL with err (where = the member's pointer under base) for a
 * member of the wrong type (uriMapping must map strings to strings). */
int package_options_read(const jv *obj, const char *base, package_options *o, sl_error *err);

/* What package_transform made. Free with package_result_free. */
typedef struct package_result {
    jv *doc;          /* the snapshot to store (no "package"/"options" members) */
    char *flow_id;    /* its flow id */
    bool remapped;    /* fresh ids were given */
    jv *bound;        /* [{kind, developerName, packageId, id, alternatives?, unmatchedProperties?}] */
    jv *uri_mapped;   /* [{developerName, id, from, to}] */
    jv *kept;         /* {id: kind} of elements taken unchanged from the target tenant */
} package_result;

void package_result_free(package_result *r);

/* Transforms doc (a package or plain snapshot; only read) for import into target_tenant.
 * target is the tenant's elements by kind ({"service": [...], "type": [...], "value": [...], …};
 * NULL means none). Steps, in order:
 *   1. binding (o->bind): each of the package's services whose developerName (ignoring case) names a
 *      service of the target is replaced by the target's element (when several have that name:
 *      the one with the package service's own id, else the first in the target's order; the
 *      others are listed as "alternatives"); so is each package type owned
 *      by it (serviceElementId or a binding's serviceElementId) that the target has by
 *      developerName (preferring the target service's own types); property and binding ids are
 *      matched by developerName. References are rewritten to the target's ids. The target
 *      elements the bound ones reference (e.g. configuration values) come along, transitively.
 *   2. remapping (o->remap_ids): the flow id, the id of every element in the element arrays and
 *      of every object nested in them (outcomes, components, properties, …) get fresh UUIDs —
 *      except ids of objects that are the value of a member named "…Id" (references such as
 *      valueElementToReferenceId {id} or subflow.flowId {id}) and reserved ids. id.versionId
 *      becomes fresh too.
 *   3. every string equal (ignoring case) to a replaced id is replaced, anywhere in the document
 *      except under the members package_never_ref names.
 *   4. uriMapping: a service's uri equal to a key (trailing slashes ignored) becomes the value; a
 *      uri starting with a key followed by '/' keeps its tail (longest key wins). Services taken
 *      from the target are not touched.
 * Returns 0 with *res filled, or SL_EINVAL with err when doc is not an object or has no flow id.
 * Structural validity of the result is the caller's business (snapshot_parse). */
int package_transform(const jv *doc, const char *target_tenant, const package_options *o, const jv *target,
                      package_result *res, sl_error *err);

/* A new package document from a stored snapshot (only read): passwords dropped, the "package"
 * member set. now_ms_value stamps exportedAt. */
jv *package_export(const jv *snapshot, const char *tenant_id, const char *version_id, int64_t now_ms_value);

/* The flow header of a snapshot (every member but the element arrays, "package" and "options")
 * with id as {id, versionId: null}: what the draw API keeps as the flow's draft. New reference. */
jv *package_header(const jv *snapshot);

/* {kind: [{id, developerName}]} for every element kind present in a snapshot. */
jv *package_summary(const jv *snapshot);

/* Assembles a snapshot (new reference) from a flow's draft header, its map and group elements
 * (flow = {"map": [...], "group": [...]}) and the tenant's elements by kind (pool = {"page":
 * [...], …}): the header's members (without editingToken) with id {id, versionId}, then every
 * element array. A tenant-scoped element is included when any string of the header, of an
 * included element or of a map/group element equals its id ignoring case (transitively); a value
 * is also included when such a string names it in a content reference {![Name]} (ignoring case);
 * a navigation element is also included when it points at one of the flow's map elements. */
jv *package_assemble(const jv *draft, const jv *flow, const jv *pool, const char *version_id);

/* Adds a problem for each reference from an element to an element of a kind the snapshot does
 * not hold (serviceElementId, typeElementId, macroElementToExecuteId, and value references:
 * valueElementToReferenceId, valueElementToApplyId, valueElementValueBindingReferenceId,
 * valueElementDataBindingReferenceId, left/rightValueElementToReferenceId, filterId — as a
 * string or {id}). Reserved ids and anything under a service's "install" are skipped. Returns
 * the number added. Complements snapshot_check_links (outcomes, pages, groups, start). */
size_t package_check_refs(const jv *snapshot, const char *file, sl_problems *problems);

/* Imports doc (package or snapshot) into tenant_id: package_transform against the tenant's
 * elements, then validation, then flowstore_flow_import (a new active version), then the draft
 * and the elements (map/group elements of the flow that the version no longer has are deleted).
 * *result: {flowId, versionId (ours), snapshotVersionId, developerName, remappedIds, elements,
 * bound, uriMapped, warnings:[{pointer, message}]}. A structural problem (or, with strict, a
 * dangling link) is SL_EINVAL with every finding in problems (file names the input); other
 * failures come with err. An element that cannot be stored (its id belongs to another kind or
 * flow in this tenant) is a warning, not a failure: the version itself is stored. */
int package_import(flowstore *fs, const char *tenant_id, const jv *doc, const package_options *o, const char *file,
                   jv **result, sl_problems *problems, sl_error *err);

/* The tenant's elements by kind ({"page": [...], …}, tenant-scoped kinds only). */
int package_tenant_pool(flowstore *fs, const char *tenant_id, jv **pool, sl_error *err);

#endif
