/* page: renders map elements as the player's page responses and validates page input.
 *
 * Page conditions (PageConditionAPI): {comparisonType, pageRules:[{left, criteriaType, right}],
 * pageOperations:[{assignment:{assignee:{pageObjectReferenceId, metaDataType}, assignor:
 * {valueElementToReferenceId}}}]}. An operand is a component's current input (metaDataType
 * "VALUE" with pageObjectReferenceId) or a value (valueElementToReferenceId). The assignee's
 * METADATA.VISIBLE / ENABLED / REQUIRED / EDITABLE flag is set to the assignor's boolean (true
 * without an assignor) when the condition holds, and to its opposite when it does not, so a
 * SYNC re-evaluation can both show and hide. With stopConditionsOnFirstTrue the first holding
 * condition ends the evaluation.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/engine_internal.h"

typedef struct comp_flags {
    bool visible, enabled, editable, required;
} comp_flags;

static const snap_element *page_of(engine_run *run, const snap_map_element *el)
{
    return el->page_element_id ? snapshot_element(run->snap, SNAP_SET_PAGE, el->page_element_id) : NULL;
}

static const jv *component_by_id(const jv *comps, const char *id)
{
    for (size_t i = 0; id && i < jv_len(comps); i++)
        if (str_ieq(jv_get_str(jv_at(comps, i), "id"), id))
            return jv_at(comps, i);
    return NULL;
}

static bool flag_default(const jv *comp, const char *key, bool dflt)
{
    const jv *v = jv_get(comp, key);
    return jv_is_bool(v) ? jv_bool(v) : dflt;
}

static const jv *value_binding(const jv *comp)
{
    const jv *r = jv_get(comp, "valueElementValueBindingReferenceId");
    return jv_get_str(r, "id") ? r : NULL;
}

/* A component's current input as a value: the posted input when there is one, else its bound
 * value. New object or NULL. */
static jv *component_value(engine_run *run, const jv *comp)
{
    const jv *posted = jv_get(run->inputs_shown, jv_get_str(comp, "id"));
    const jv *b = value_binding(comp);
    if (posted) {
        jv *v = jv_new_object();
        jv_set_str(v, "contentType", b ? eng_ref_content_type(run->snap, b) : "ContentString");
        const jv *cv = jv_get(posted, "contentValue");
        if (jv_is_string(cv))
            jv_set(v, "contentValue", (jv *)cv);
        else if (jv_is_bool(cv))
            jv_set_str(v, "contentValue", jv_bool(cv) ? "true" : "false");
        else if (jv_is_number(cv)) {
            char n[32];
            jv_format_double(jv_num(cv), n);
            jv_set_str(v, "contentValue", n);
        } else
            jv_set_null(v, "contentValue");
        const jv *od = jv_get(posted, "objectData");
        if (jv_is_array(od))
            jv_set(v, "objectData", (jv *)od);
        return v;
    }
    return b ? engine_value_get(run->snap, run->state, b) : NULL;
}

static jv *operand(engine_run *run, const jv *comps, const jv *side)
{
    const char *pid = jv_get_str(side, "pageObjectReferenceId");
    if (pid) {
        const jv *c = component_by_id(comps, pid);
        return c ? component_value(run, c) : NULL;
    }
    const jv *ref = jv_get(side, "valueElementToReferenceId");
    return ref ? engine_value_get(run->snap, run->state, ref) : NULL;
}

/* Evaluates the page's conditions into flags (object: component id → {visible, …}). */
static jv *page_flags(engine_run *run, const snap_element *page)
{
    jv *flags = jv_new_object();
    const jv *comps = jv_get(page->json, "pageComponents");
    for (size_t i = 0; i < jv_len(comps); i++) {
        const jv *c = jv_at(comps, i);
        const char *id = jv_get_str(c, "id");
        if (!id)
            continue;
        jv *f = jv_new_object();
        jv_set_bool(f, "visible", true);
        jv_set_bool(f, "enabled", true);
        jv_set_bool(f, "editable", flag_default(c, "isEditable", true));
        jv_set_bool(f, "required", flag_default(c, "isRequired", false));
        jv_set_take(flags, id, f);
    }
    const jv *conds = jv_get(page->json, "pageConditions");
    bool stop_first = jv_bool(jv_get(page->json, "stopConditionsOnFirstTrue"));
    for (size_t i = 0; i < jv_len(conds); i++) {
        const jv *cond = jv_at(conds, i);
        bool is_or = str_ieq(jv_get_str(cond, "comparisonType"), "OR");
        const jv *rules = jv_get(cond, "pageRules");
        bool acc = !is_or;
        for (size_t k = 0; k < jv_len(rules); k++) {
            const jv *r = jv_at(rules, k);
            jv *l = operand(run, comps, jv_get(r, "left"));
            jv *rt = jv_get(r, "right") ? operand(run, comps, jv_get(r, "right")) : NULL;
            bool res = false;
            sl_error err = {0};
            if (l)
                eng_compare(jv_get_str(r, "criteriaType"), l, rt, &res, &err);
            jv_free(l);
            jv_free(rt);
            acc = is_or ? (acc || res) : (acc && res);
        }
        if (jv_len(rules) == 0)
            acc = true;
        const jv *ops = jv_get(cond, "pageOperations");
        for (size_t k = 0; k < jv_len(ops); k++) {
            const jv *as = jv_get(jv_at(ops, k), "assignment");
            const jv *assignee = jv_get(as, "assignee");
            const jv *assignor = jv_get(as, "assignor");
            jv *f = jv_get(flags, jv_get_str(assignee, "pageObjectReferenceId"));
            if (!f)
                continue;
            const char *md = jv_get_str(assignee, "metaDataType");
            if (!md)
                md = jv_get_str(assignee, "metadataType");
            bool val = true;
            if (assignor && jv_get(assignor, "valueElementToReferenceId")) {
                jv *v = engine_value_get(run->snap, run->state, jv_get(assignor, "valueElementToReferenceId"));
                const char *s = jv_get_str(v, "contentValue");
                val = s && (str_ieq(s, "true") || str_eq(s, "1"));
                jv_free(v);
            }
            bool set = acc ? val : !val;
            const char *key = str_ieq(md, "METADATA.VISIBLE")    ? "visible"
                              : str_ieq(md, "METADATA.ENABLED")  ? "enabled"
                              : str_ieq(md, "METADATA.REQUIRED") ? "required"
                              : str_ieq(md, "METADATA.EDITABLE") ? "editable"
                                                                 : NULL;
            if (key)
                jv_set_bool(f, key, set);
        }
        if (stop_first && acc)
            break;
    }
    return flags;
}

static comp_flags flags_of(const jv *flags, const char *id)
{
    const jv *f = jv_get(flags, id);
    comp_flags c = {true, true, true, false};
    if (f) {
        c.visible = jv_bool(jv_get(f, "visible"));
        c.enabled = jv_bool(jv_get(f, "enabled"));
        c.editable = jv_bool(jv_get(f, "editable"));
        c.required = jv_bool(jv_get(f, "required"));
    }
    return c;
}

static bool referenced_by_conditions(const snap_element *page, const char *id)
{
    const jv *conds = jv_get(page->json, "pageConditions");
    for (size_t i = 0; i < jv_len(conds); i++) {
        const jv *rules = jv_get(jv_at(conds, i), "pageRules");
        for (size_t k = 0; k < jv_len(rules); k++) {
            const jv *r = jv_at(rules, k);
            if (str_ieq(jv_get_str(jv_get(r, "left"), "pageObjectReferenceId"), id) ||
                str_ieq(jv_get_str(jv_get(r, "right"), "pageObjectReferenceId"), id))
                return true;
        }
    }
    return false;
}

/* ---- rendering ---- */

static void copy_member(jv *to, const jv *from, const char *key)
{
    jv *v = jv_get(from, key);
    if (v)
        jv_set(to, key, v);
    else
        jv_set_null(to, key);
}

static jv *containers(const jv *arr, int depth)
{
    jv *out = jv_new_array();
    size_t n = jv_len(arr);
    const jv **v = xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = jv_at(arr, i);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && jv_int(jv_get(v[j - 1], "order")) > jv_int(jv_get(v[j], "order")); j--) {
            const jv *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    for (size_t i = 0; depth < 16 && i < n; i++) {
        const jv *c = v[i];
        jv *r = jv_new_object();
        static const char *const keys[] = {"id", "containerType", "developerName", "label", "order", "attributes",
                                           "className", "tags", NULL};
        for (int k = 0; keys[k]; k++)
            copy_member(r, c, keys[k]);
        jv_set_take(r, "pageContainerResponses", containers(jv_get(c, "pageContainers"), depth + 1));
        jv_push_take(out, r);
    }
    free(v);
    return out;
}

static void container_data(const jv *arr, jv *out, int depth)
{
    for (size_t i = 0; depth < 16 && i < jv_len(arr); i++) {
        const jv *c = jv_at(arr, i);
        jv *d = jv_new_object();
        jv_set_str(d, "pageContainerId", jv_get_str(c, "id"));
        jv_set_bool(d, "isEnabled", true);
        jv_set_bool(d, "isEditable", true);
        jv_set_bool(d, "isVisible", true);
        jv_set_null(d, "tags");
        jv_push_take(out, d);
        container_data(jv_get(c, "pageContainers"), out, depth + 1);
    }
}

/* The type whose rows a component lists (for column names). */
static const snap_element *component_type(engine_run *run, const jv *comp)
{
    const jv *odr = jv_get(comp, "objectDataRequest");
    const char *t = jv_get_str(odr, "typeElementId");
    if (!t) {
        const jv *db = jv_get(comp, "valueElementDataBindingReferenceId");
        const snap_element *v = eng_value_element(run->snap, jv_get_str(db, "id"));
        t = v ? jv_get_str(v->json, "typeElementId") : NULL;
    }
    if (!t) {
        const jv *vb = value_binding(comp);
        const snap_element *v = vb ? eng_value_element(run->snap, jv_get_str(vb, "id")) : NULL;
        t = v ? jv_get_str(v->json, "typeElementId") : NULL;
    }
    return eng_type_element(run->snap, t);
}

static jv *columns(engine_run *run, const jv *comp)
{
    const jv *cols = jv_get(comp, "columns");
    if (!jv_is_array(cols))
        return jv_new_null();
    const snap_element *type = component_type(run, comp);
    jv *out = jv_new_array();
    for (size_t i = 0; i < jv_len(cols); i++) {
        const jv *c = jv_at(cols, i);
        jv *r = jv_new_object();
        const char *pid = jv_get_str(c, "typeElementPropertyId");
        const jv *p = eng_type_property(type, pid);
        const char *name = jv_get_str(c, "typeElementPropertyDeveloperName");
        jv_set_str(r, "developerName", p ? jv_get_str(p, "developerName") : name);
        jv_set_str(r, "typeElementPropertyId", pid);
        jv_set_str(r, "contentType", p ? jv_get_str(p, "contentType") : jv_get_str(c, "contentType"));
        static const char *const keys[] = {"contentFormat", "label", "isDisplayValue", "isEditable", "isPinned",
                                           "order", "typeElementPropertyToDisplayId", "componentType", NULL};
        for (int k = 0; keys[k]; k++)
            copy_member(r, c, keys[k]);
        if (!jv_get_str(r, "label") || !*jv_get_str(r, "label"))
            jv_set_str(r, "label", jv_get_str(r, "developerName"));
        if (!jv_is_bool(jv_get(r, "isDisplayValue")))
            jv_set_bool(r, "isDisplayValue", true);
        jv_push_take(out, r);
    }
    return out;
}

static const char *obj_key(const jv *o)
{
    const char *k = jv_get_str(o, "externalId");
    return k && *k ? k : jv_get_str(o, "internalId");
}

/* Rows of a value-bound list with isSelected set where the value binding holds them. */
static jv *rows_with_selection(const jv *rows, const jv *selected)
{
    jv *out = jv_new_array();
    for (size_t i = 0; i < jv_len(rows); i++) {
        jv *r = jv_copy(jv_at(rows, i));
        bool sel = false;
        const char *key = obj_key(r);
        for (size_t k = 0; key && k < jv_len(selected) && !sel; k++)
            sel = str_eq(key, obj_key(jv_at(selected, k)));
        jv_set_bool(r, "isSelected", sel);
        jv_push_take(out, r);
    }
    return out;
}

static jv *component_data(engine_run *run, const snap_element *page, const jv *comp, const jv *flags,
                          const char *token)
{
    const char *id = jv_get_str(comp, "id");
    comp_flags f = flags_of(flags, id);
    jv *d = jv_new_object();
    jv_set_str(d, "pageComponentId", id);
    jv_set_bool(d, "isVisible", f.visible);
    jv_set_bool(d, "isEnabled", f.enabled);
    jv_set_bool(d, "isEditable", f.editable);
    jv_set_bool(d, "isRequired", f.required);
    const char *msg = jv_get_str(run->validation, id);
    jv_set_bool(d, "isValid", msg == NULL);
    jv_set_str(d, "validationMessage", msg);
    jv *cur = component_value(run, comp);
    const char *cv = jv_get_str(cur, "contentValue");
    jv_set_str(d, "contentValue", cv);
    const char *content = jv_get_str(comp, "content");
    if (content) {
        char *s = eng_substitute(run->snap, run->state, content);
        jv_set_str(d, "content", s);
        free(s);
    } else {
        jv_set_null(d, "content");
    }
    copy_member(d, comp, "imageUri");
    const jv *db = jv_get(comp, "valueElementDataBindingReferenceId");
    const jv *selected = jv_get(cur, "objectData");
    if (jv_get_str(db, "id")) {
        jv *rows = engine_value_get(run->snap, run->state, db);
        jv_set_take(d, "objectData", rows_with_selection(jv_get(rows, "objectData"), selected));
        jv_free(rows);
    } else if (jv_is_array(selected)) {
        jv *sel = jv_copy(selected);
        for (size_t i = 0; i < jv_len(sel); i++)
            jv_set_bool(jv_at(sel, i), "isSelected", true);
        jv_set_take(d, "objectData", sel);
    } else {
        jv_set_null(d, "objectData");
    }
    jv_free(cur);
    const jv *odr = jv_get(comp, "objectDataRequest");
    if (jv_is_object(odr)) {
        sl_error err = {0};
        const snap_element *svc = NULL;
        jv *r = eng_object_data_request(run, odr, &svc, &err);
        if (r) {
            jv_set_str(r, "token", token);
            jv_set_take(d, "objectDataRequest", r);
        } else {
            jv_set_null(d, "objectDataRequest");
            jv_set_bool(d, "isValid", false);
            jv_set_str(d, "validationMessage", err.msg);
        }
    } else {
        jv_set_null(d, "objectDataRequest");
    }
    const jv *fdr = jv_get(comp, "fileDataRequest");
    if (jv_is_object(fdr)) {
        jv *r = jv_new_object();
        jv_set_str(r, "stateId", run->state_id);
        jv_set_str(r, "token", token);
        jv_set_str(r, "serviceElementId", jv_get_str(fdr, "serviceElementId"));
        copy_member(r, fdr, "resourcePath");
        copy_member(r, fdr, "resourceFile");
        copy_member(r, fdr, "path");
        jv_set_null(r, "listFilter");
        jv_set_take(d, "fileDataRequest", r);
    } else {
        jv_set_null(d, "fileDataRequest");
    }
    jv_set_null(d, "tags");
    copy_member(d, comp, "attributes");
    (void)page;
    return d;
}

static jv *component_response(engine_run *run, const snap_element *page, const jv *comp)
{
    jv *r = jv_new_object();
    static const char *const keys[] = {"id", "pageContainerId", "pageContainerDeveloperName", "developerName",
                                       "componentType", "label", "size", "maxSize", "height", "width",
                                       "hintValue", "helpInfo", "order", "isMultiSelect", "isSearchable",
                                       "isSearchableDisplayColumns", "attributes", "className", "row", "column",
                                       "rowSpan", "colSpan", "validations", NULL};
    for (int k = 0; keys[k]; k++)
        copy_member(r, comp, keys[k]);
    const jv *b = value_binding(comp);
    const char *ct = b ? eng_ref_content_type(run->snap, b) : NULL;
    if ((!ct || !*ct) && (jv_is_object(jv_get(comp, "objectDataRequest")) ||
                          jv_get_str(jv_get(comp, "valueElementDataBindingReferenceId"), "id")))
        ct = "ContentList";
    jv_set_str(r, "contentType", ct && *ct ? ct : NULL);
    jv_set_take(r, "columns", columns(run, comp));
    jv_set_bool(r, "hasEvents", referenced_by_conditions(page, jv_get_str(comp, "id")));
    return r;
}

static jv *outcome_responses(const snap_map_element *el)
{
    jv *out = jv_new_array();
    static const char *const bind[] = {"SAVE", "NO_SAVE", "PARTIAL_SAVE"};
    for (size_t i = 0; i < el->n_outcomes; i++) {
        const snap_outcome *o = &el->outcomes[i];
        if (str_ieq(o->developer_name, "FAULT") || str_ieq(o->id, FAULT_OUTCOME_ID))
            continue;
        jv *r = jv_new_object();
        jv_set_str(r, "id", o->id);
        jv_set_str(r, "developerName", o->developer_name);
        jv_set_str(r, "label", o->label[0] ? o->label : o->developer_name);
        jv_set_int(r, "order", o->order);
        jv_set_str(r, "pageActionBindingType", bind[o->binding]);
        jv_set_str(r, "pageActionType", o->page_action_type);
        jv_set_bool(r, "isBulkAction", jv_bool(jv_get(o->json, "isBulkAction")));
        jv_set_str(r, "pageObjectBindingId", jv_get_str(o->json, "pageObjectBindingId"));
        jv_set_bool(r, "isOut", false);
        copy_member(r, o->json, "attributes");
        copy_member(r, o->json, "className");
        jv_push_take(out, r);
    }
    return out;
}

static jv *step_page(engine_run *run, const snap_map_element *el)
{
    char cid[37], pid[37];
    uuid_v4(cid);
    uuid_v4(pid);
    jv *p = jv_new_object();
    jv_set_str(p, "label", jv_get_str(el->json, "title"));
    jv *cont = jv_new_array();
    jv *c = jv_new_object();
    jv_set_str(c, "id", cid);
    jv_set_str(c, "containerType", "VERTICAL_FLOW");
    jv_set_str(c, "developerName", "Step");
    jv_set_int(c, "order", 0);
    jv_set_take(c, "pageContainerResponses", jv_new_array());
    jv_push_take(cont, c);
    jv_set_take(p, "pageContainerResponses", cont);
    jv *comps = jv_new_array();
    jv *k = jv_new_object();
    jv_set_str(k, "id", pid);
    jv_set_str(k, "pageContainerId", cid);
    jv_set_str(k, "developerName", "Content");
    jv_set_str(k, "componentType", "PRESENTATION");
    jv_set_int(k, "order", 0);
    jv_push_take(comps, k);
    jv_set_take(p, "pageComponentResponses", comps);
    jv *data = jv_new_array();
    jv *d = jv_new_object();
    jv_set_str(d, "pageComponentId", pid);
    jv_set_bool(d, "isVisible", true);
    jv_set_bool(d, "isEnabled", true);
    jv_set_bool(d, "isEditable", false);
    jv_set_bool(d, "isRequired", false);
    jv_set_bool(d, "isValid", true);
    char *s = eng_substitute(run->snap, run->state, jv_get_str(el->json, "userContent"));
    jv_set_str(d, "content", s);
    free(s);
    jv_push_take(data, d);
    jv_set_take(p, "pageComponentDataResponses", data);
    jv *cd = jv_new_array();
    jv *e = jv_new_object();
    jv_set_str(e, "pageContainerId", cid);
    jv_set_bool(e, "isEnabled", true);
    jv_set_bool(e, "isEditable", true);
    jv_set_bool(e, "isVisible", true);
    jv_push_take(cd, e);
    jv_set_take(p, "pageContainerDataResponses", cd);
    return p;
}

static jv *input_page(engine_run *run, const snap_element *page, const char *token)
{
    jv *p = jv_new_object();
    jv_set_str(p, "label", jv_get_str(page->json, "label"));
    jv_set_take(p, "pageContainerResponses", containers(jv_get(page->json, "pageContainers"), 0));
    jv *flags = page_flags(run, page);
    const jv *comps = jv_get(page->json, "pageComponents");
    jv *cr = jv_new_array(), *dr = jv_new_array();
    for (size_t i = 0; i < jv_len(comps); i++) {
        const jv *c = jv_at(comps, i);
        jv_push_take(cr, component_response(run, page, c));
        jv_push_take(dr, component_data(run, page, c, flags, token));
    }
    jv_free(flags);
    jv_set_take(p, "pageComponentResponses", cr);
    jv_set_take(p, "pageComponentDataResponses", dr);
    jv *cd = jv_new_array();
    container_data(jv_get(page->json, "pageContainers"), cd, 0);
    jv_set_take(p, "pageContainerDataResponses", cd);
    copy_member(p, page->json, "tags");
    copy_member(p, page->json, "attributes");
    return p;
}

jv *page_render(engine_run *run, const snap_map_element *el, const char *state_token)
{
    jv *m = jv_new_object();
    jv_set_str(m, "mapElementId", el->id);
    jv_set_str(m, "developerName", el->developer_name);
    const char *label = jv_get_str(el->json, "label");
    jv_set_str(m, "label", label ? label : el->developer_name);
    const snap_element *page = page_of(run, el);
    if (el->kind == SNAP_EL_STEP)
        jv_set_take(m, "pageResponse", step_page(run, el));
    else if (page && eng_is_ui(el->kind))
        jv_set_take(m, "pageResponse", input_page(run, page, state_token));
    else
        jv_set_null(m, "pageResponse");
    jv_set_take(m, "outcomeResponses", eng_is_ui(el->kind) ? outcome_responses(el) : jv_new_array());
    const jv *faults = run->faults ? run->faults : jv_get(run->state, "faults");
    if (jv_is_object(faults) && jv_obj_size(faults))
        jv_set_take(m, "rootFaults", jv_copy(faults));
    else
        jv_set_null(m, "rootFaults");
    return m;
}

/* ---- input ---- */

/* The posted contentValue as text (the player sends strings, sometimes booleans or numbers). */
static char *posted_text(const jv *input)
{
    const jv *cv = jv_get(input, "contentValue");
    if (jv_is_string(cv))
        return xstrdup(jv_str(cv));
    if (jv_is_bool(cv))
        return xstrdup(jv_bool(cv) ? "true" : "false");
    if (jv_is_number(cv)) {
        char n[32];
        jv_format_double(jv_num(cv), n);
        return xstrdup(n);
    }
    return NULL;
}

static bool is_objectish(const char *ct)
{
    return str_ieq(ct, "ContentObject") || str_ieq(ct, "ContentList");
}

/* Characters (code points) of UTF-8 text. */
static int64_t utf8_chars(const char *s)
{
    int64_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* Checks one text input against its type and the component's rules; NULL when fine, else a
 * message (static or written into msg). */
static const char *check_text(const jv *comp, const char *ct, const char *s, bool required, char msg[256])
{
    bool empty = !s || !*s;
    if (empty)
        return required ? "This field is required." : NULL;
    double d;
    int64_t t;
    if (str_ieq(ct, "ContentNumber")) {
        if (!eng_parse_number(s, &d))
            return "Enter a number.";
    } else if (str_ieq(ct, "ContentBoolean")) {
        if (!str_ieq(s, "true") && !str_ieq(s, "false"))
            return "Enter true or false.";
    } else if (str_ieq(ct, "ContentDateTime") || str_ieq(ct, "ContentDate")) {
        if (!eng_parse_datetime(s, &t))
            return "Enter a date as YYYY-MM-DD or a date and time as YYYY-MM-DDTHH:MM[:SS][Z].";
    }
    int64_t max = jv_int(jv_get(comp, "maxSize"));
    int64_t chars = utf8_chars(s);
    if (max > 0 && chars > max) {
        snprintf(msg, 256, "Enter at most %lld characters.", (long long)max);
        return msg;
    }
    const jv *vals = jv_get(comp, "validations");
    for (size_t i = 0; i < jv_len(vals); i++) {
        const jv *v = jv_at(vals, i);
        const char *type = jv_get_str(v, "type");
        const jv *val = jv_get(v, "value");
        const char *vs = jv_str(val);
        double limit = jv_is_number(val) ? jv_num(val) : vs ? strtod(vs, NULL) : 0;
        const char *custom = jv_get_str(v, "message");
        bool bad = false;
        const char *dflt = "The value is not valid.";
        if (str_ieq(type, "minimum") || str_ieq(type, "maximum")) {
            bad = !eng_parse_number(s, &d) || (str_ieq(type, "minimum") ? d < limit : d > limit);
            dflt = str_ieq(type, "minimum") ? "The value is too small." : "The value is too large.";
        } else if (str_ieq(type, "minLength") || str_ieq(type, "maxLength") || str_ieq(type, "minimumLength") ||
                   str_ieq(type, "maximumLength")) {
            bool min = str_ieq(type, "minLength") || str_ieq(type, "minimumLength");
            bad = min ? (double)chars < limit : (double)chars > limit;
            dflt = min ? "The value is too short." : "The value is too long.";
        } else if (str_ieq(type, "regex") && vs) {
            regex_t re;
            if (regcomp(&re, vs, REG_EXTENDED | REG_NOSUB) == 0) {
                bad = regexec(&re, s, 0, NULL, 0) != 0;
                regfree(&re);
            }
            dflt = "The value does not have the expected format.";
        }
        if (bad) {
            snprintf(msg, 256, "%s", custom && *custom ? custom : dflt);
            return msg;
        }
    }
    return NULL;
}

int page_apply_inputs(engine_run *run, const snap_map_element *el, const jv *inputs, page_mode mode)
{
    const snap_element *page = page_of(run, el);
    if (!page)
        return 0;
    const jv *comps = jv_get(page->json, "pageComponents");
    jv_free(run->inputs_shown);
    run->inputs_shown = jv_new_object();
    for (size_t i = 0; i < jv_len(inputs); i++) {
        const jv *in = jv_at(inputs, i);
        const char *cid = jv_get_str(in, "pageComponentId");
        if (cid && component_by_id(comps, cid))
            jv_set(run->inputs_shown, jv_get_str(component_by_id(comps, cid), "id"), (jv *)in);
    }
    jv *flags = page_flags(run, page);
    bool save_hidden = jv_bool(jv_get(page->json, "saveHiddenInputs"));
    jv *pending = jv_new_array(); /* [ref, value] pairs to apply */
    int invalid = 0;
    jv_free(run->validation);
    run->validation = jv_new_object();
    for (size_t i = 0; i < jv_len(comps); i++) {
        const jv *comp = jv_at(comps, i);
        const char *cid = jv_get_str(comp, "id");
        const jv *b = value_binding(comp);
        if (!cid || !b)
            continue;
        comp_flags f = flags_of(flags, cid);
        if (!f.visible && !save_hidden)
            continue;
        const jv *in = jv_get(run->inputs_shown, cid);
        const char *ct = eng_ref_content_type(run->snap, b);
        bool required = f.required && f.visible && mode == PAGE_SAVE;
        char msgbuf[256];
        const char *msg = NULL;
        jv *v = jv_new_object();
        if (is_objectish(ct)) {
            const jv *od = in ? jv_get(in, "objectData") : NULL;
            if (!in) {
                jv *cur = engine_value_get(run->snap, run->state, b);
                if (required && jv_len(jv_get(cur, "objectData")) == 0)
                    msg = "Select at least one item.";
                jv_free(cur);
            } else if (required && jv_len(od) == 0) {
                msg = "Select at least one item.";
            }
            jv *sel = jv_new_array();
            for (size_t k = 0; k < jv_len(od); k++) {
                jv *o = jv_copy(jv_at(od, k));
                jv_set_bool(o, "isSelected", true);
                jv_push_take(sel, o);
            }
            jv_set_null(v, "contentValue");
            jv_set_take(v, "objectData", sel);
        } else {
            char *s = NULL;
            if (in) {
                s = posted_text(in);
            } else {
                jv *cur = engine_value_get(run->snap, run->state, b);
                s = jv_get_str(cur, "contentValue") ? xstrdup(jv_get_str(cur, "contentValue")) : NULL;
                jv_free(cur);
            }
            msg = check_text(comp, ct, s, required, msgbuf);
            if (str_ieq(ct, "ContentBoolean") && s && !msg) {
                bool t = str_ieq(s, "true");
                free(s);
                s = xstrdup(t ? "true" : "false");
            }
            jv_set_str(v, "contentValue", s && *s ? s : NULL);
            jv_set_null(v, "objectData");
            free(s);
        }
        if (msg) {
            invalid++;
            jv_set_str(run->validation, cid, msg);
            jv_free(v);
            continue;
        }
        if (!in) {
            jv_free(v);
            continue;
        }
        /* disabled components never write; read-only ones still save a selection (a table that
         * is not editable still has rows to pick) */
        if (!f.enabled || (!f.editable && !is_objectish(ct))) {
            jv_free(v);
            continue;
        }
        jv *pair = jv_new_array();
        jv_push(pair, (jv *)b);
        jv_push_take(pair, v);
        jv_push_take(pending, pair);
    }
    jv_free(flags);
    if (!(mode == PAGE_SAVE && invalid > 0)) {
        sl_error err = {0};
        for (size_t i = 0; i < jv_len(pending); i++)
            eng_value_set(run, jv_at(jv_at(pending, i), 0), jv_at(jv_at(pending, i), 1), &err);
    }
    jv_free(pending);
    if (mode != PAGE_SAVE || invalid == 0) {
        jv_free(run->validation);
        run->validation = NULL;
    }
    return invalid;
}
