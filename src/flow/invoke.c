/* invoke: request decoders for the run API (see invoke.h). */
#include <stdio.h>
#include <string.h>

#include "flow/invoke.h"

static int opt_string(const jv *obj, const char *key, const char *where, const char **out, sl_error *err)
{
    const jv *v = jv_get(obj, key);
    *out = NULL;
    if (!v || jv_is_null(v))
        return 0;
    if (!jv_is_string(v))
        return sl_fail(err, SL_EINVAL, where, "%s must be a string, not %s", key, jv_type_name(jv_typeof(v)));
    *out = jv_str(v);
    return 0;
}

static int check_values(const jv *arr, const char *where, const char *id_key, sl_error *err)
{
    if (!arr || jv_is_null(arr))
        return 0;
    if (!jv_is_array(arr))
        return sl_fail(err, SL_EINVAL, where, "must be an array");
    if (jv_len(arr) > INVOKE_MAX_INPUTS)
        return sl_fail(err, SL_EINVAL, where, "has %zu entries; at most %d are accepted", jv_len(arr), INVOKE_MAX_INPUTS);
    for (size_t i = 0; i < jv_len(arr); i++) {
        const jv *e = jv_at(arr, i);
        char w[160];
        snprintf(w, sizeof w, "%s/%zu", where, i);
        if (!jv_is_object(e))
            return sl_fail(err, SL_EINVAL, w, "each entry must be an object");
        const char *s;
        if (opt_string(e, id_key, w, &s, err))
            return SL_EINVAL;
        const jv *od = jv_get(e, "objectData");
        if (od && !jv_is_null(od) && !jv_is_array(od))
            return sl_fail(err, SL_EINVAL, w, "objectData must be an array of objects or null");
        for (size_t k = 0; k < jv_len(od); k++)
            if (!jv_is_object(jv_at(od, k)))
                return sl_fail(err, SL_EINVAL, w, "objectData[%zu] must be an object", k);
        const jv *cv = jv_get(e, "contentValue");
        if (cv && !jv_is_null(cv) && !jv_is_string(cv) && !jv_is_number(cv) && !jv_is_bool(cv))
            return sl_fail(err, SL_EINVAL, w, "contentValue must be a string, number, boolean or null");
    }
    return 0;
}

int invoke_decode(const jv *body, invoke_request *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!jv_is_object(body))
        return sl_fail(err, SL_EINVAL, "", "an EngineInvokeRequest must be a JSON object");
    if (opt_string(body, "invokeType", "/invokeType", &out->invoke_type, err) ||
        opt_string(body, "stateId", "/stateId", &out->state_id, err) ||
        opt_string(body, "stateToken", "/stateToken", &out->state_token, err) ||
        opt_string(body, "currentMapElementId", "/currentMapElementId", &out->current_map_element_id, err) ||
        opt_string(body, "navigationElementId", "/navigationElementId", &out->navigation_element_id, err) ||
        opt_string(body, "selectedNavigationItemId", "/selectedNavigationItemId", &out->selected_navigation_item_id,
                   err))
        return SL_EINVAL;
    if (!out->invoke_type)
        return sl_fail(err, SL_EINVAL, "/invokeType", "invokeType is required (FORWARD, SYNC or NAVIGATE)");
    if (!str_ieq(out->invoke_type, "FORWARD") && !str_ieq(out->invoke_type, "SYNC") &&
        !str_ieq(out->invoke_type, "NAVIGATE"))
        return sl_fail(err, SL_EINVAL, "/invokeType", "invokeType must be FORWARD, SYNC or NAVIGATE, not \"%.40s\"",
                       out->invoke_type);
    if (!out->state_token)
        return sl_fail(err, SL_EINVAL, "/stateToken", "stateToken is required: send the token of the last response");
    const jv *mr = jv_get(body, "mapElementInvokeRequest");
    if (mr && !jv_is_null(mr)) {
        if (!jv_is_object(mr))
            return sl_fail(err, SL_EINVAL, "/mapElementInvokeRequest", "must be an object or null");
        if (opt_string(mr, "selectedOutcomeId", "/mapElementInvokeRequest/selectedOutcomeId", &out->selected_outcome_id,
                       err))
            return SL_EINVAL;
        const jv *pr = jv_get(mr, "pageRequest");
        if (pr && !jv_is_null(pr)) {
            if (!jv_is_object(pr))
                return sl_fail(err, SL_EINVAL, "/mapElementInvokeRequest/pageRequest", "must be an object or null");
            const jv *in = jv_get(pr, "pageComponentInputResponses");
            if (check_values(in, "/mapElementInvokeRequest/pageRequest/pageComponentInputResponses", "pageComponentId",
                             err))
                return SL_EINVAL;
            out->inputs = jv_is_array(in) ? in : NULL;
        }
    }
    if (str_ieq(out->invoke_type, "NAVIGATE") && !out->navigation_element_id)
        return sl_fail(err, SL_EINVAL, "/navigationElementId", "a NAVIGATE invoke needs navigationElementId");
    return 0;
}

static bool all_zero(const char *id)
{
    for (; *id; id++)
        if (*id != '0' && *id != '-')
            return false;
    return true;
}

int invoke_decode_init(const jv *body, invoke_init *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!jv_is_object(body))
        return sl_fail(err, SL_EINVAL, "", "an initialization request must be a JSON object");
    const jv *fid = jv_get(body, "flowId");
    if (fid && !jv_is_null(fid)) {
        if (!jv_is_object(fid))
            return sl_fail(err, SL_EINVAL, "/flowId", "flowId must be an object {id, versionId}");
        if (opt_string(fid, "id", "/flowId/id", &out->flow_id, err) ||
            opt_string(fid, "versionId", "/flowId/versionId", &out->version_id, err))
            return SL_EINVAL;
    } else {
        if (opt_string(body, "id", "/id", &out->flow_id, err) ||
            opt_string(body, "versionId", "/versionId", &out->version_id, err))
            return SL_EINVAL;
    }
    if (opt_string(body, "developerName", "/developerName", &out->developer_name, err))
        return SL_EINVAL;
    if (out->flow_id && all_zero(out->flow_id) && out->developer_name)
        out->flow_id = NULL;
    if (out->version_id && all_zero(out->version_id))
        out->version_id = NULL;
    if (!out->flow_id && !out->developer_name)
        return sl_fail(err, SL_EINVAL, "/flowId", "say which flow to run: flowId.id (or id, or developerName)");
    const jv *in = jv_get(body, "inputs");
    if (check_values(in, "/inputs", "developerName", err))
        return SL_EINVAL;
    out->inputs = jv_is_array(in) ? in : NULL;
    return 0;
}
