/* invoke: decodes the run API's request bodies (EngineInvokeRequest, EngineInitialization
 * requests) into checked views.
 *
 * Design: the decoders only read an already parsed JSON object and check the members the engine
 * relies on: types, known invokeType values, sizes (at most INVOKE_MAX_INPUTS page inputs and
 * INVOKE_MAX_INPUTS flow inputs). Strings in the views are borrowed from the body. Anything else
 * in the body is ignored, as the ecosystem's players send many members this engine does not use.
 * Each problem is reported as SL_EINVAL with a JSON pointer in err->where.
 */
#ifndef SLUICE_FLOW_INVOKE_H
#define SLUICE_FLOW_INVOKE_H

#include "core/json.h"
#include "core/util.h"

#define INVOKE_MAX_INPUTS 2000

typedef struct invoke_request {
    const char *invoke_type;            /* FORWARD, SYNC or NAVIGATE */
    const char *state_id;               /* NULL when absent */
    const char *state_token;            /* required */
    const char *current_map_element_id; /* NULL when absent */
    const char *selected_outcome_id;    /* NULL when absent */
    const jv *inputs;                   /* pageComponentInputResponses (array) or NULL */
    const char *navigation_element_id;
    const char *selected_navigation_item_id;
} invoke_request;

/* Checks an EngineInvokeRequest. 0, or SL_EINVAL with err (where = JSON pointer). */
int invoke_decode(const jv *body, invoke_request *out, sl_error *err);

typedef struct invoke_init {
    const char *flow_id;        /* flowId.id, or id (simple form); NULL when only a name is given */
    const char *version_id;     /* NULL = the active version */
    const char *developer_name; /* simple form: the flow's name */
    const jv *inputs;           /* array of EngineValue or NULL */
} invoke_init;

/* Checks an EngineInitializationRequest ({flowId:{id, versionId}, inputs, …}) or an
 * EngineInitializationSimpleRequest ({id | developerName, versionId, inputs}). An all-zero id
 * with a developerName means "by name". 0, or SL_EINVAL with err. */
int invoke_decode_init(const jv *body, invoke_init *out, sl_error *err);

#endif
