/* engine_internal: what engine.c and page.c share (not a public interface). */
#ifndef SLUICE_FLOW_ENGINE_INTERNAL_H
#define SLUICE_FLOW_ENGINE_INTERNAL_H

#include "flow/engine.h"

#define ENGINE_MAX_STEPS 500     /* elements entered per run before we call it a loop */
#define ENGINE_HISTORY_MAX 50
#define FAULT_OUTCOME_ID "318b0f3a-a570-4c5d-835c-21c1eeb17787"

/* Input handling modes for page_apply_inputs. */
typedef enum { PAGE_SAVE, PAGE_PARTIAL, PAGE_SYNC } page_mode;

/* values (engine.c) */
const snap_element *eng_value_element(const flow_snapshot *snap, const char *id);
const snap_element *eng_value_by_name(const flow_snapshot *snap, const char *name);
const snap_element *eng_type_element(const flow_snapshot *snap, const char *id);
const jv *eng_type_property(const snap_element *type, const char *prop_id);
const jv *eng_type_property_by_name(const snap_element *type, const char *name);
/* contentType of a reference (value or property); "" when unknown. */
const char *eng_ref_content_type(const flow_snapshot *snap, const jv *ref);
/* Sets a reference's value from v ({contentValue, objectData}); 0 or SL_EINVAL/SL_ENOTFOUND. */
int eng_value_set(engine_run *run, const jv *ref, const jv *v, sl_error *err);
/* Adds a fault to run->faults. */
void eng_fault(engine_run *run, const char *name, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A reference's current value as a display string (objects: "" ). Owned by caller. */
char *eng_ref_string(const flow_snapshot *snap, const jv *state, const jv *ref);
/* Substitutes {![Value]} and {![Value].[Property]} in text (HTML-escaped values). Owned. */
char *eng_substitute(const flow_snapshot *snap, const jv *state, const char *text);
/* Evaluates a comparison (AND/OR of rules and nested comparisons). 0 with *out, or SL_EINVAL. */
int eng_comparison(engine_run *run, const jv *comparison, bool *out, sl_error *err);
/* Compares two {contentType, contentValue, objectData} values with a criteriaType. */
int eng_compare(const char *criteria, const jv *left, const jv *right, bool *out, sl_error *err);
/* A new object of a type (all properties null). */
jv *eng_new_object(const flow_snapshot *snap, const char *type_id);
/* Parses a decimal number (no nan, inf or hex); true when valid. */
bool eng_parse_number(const char *s, double *out);
/* Parses an ISO-8601 date or date-time; true when valid. */
bool eng_parse_datetime(const char *s, int64_t *ms);
bool eng_is_ui(snap_element_kind k);
/* The runtime ObjectDataRequest for a design-time ObjectDataRequestConfig (list filter resolved
 * to current values); *svc_out gets its service. NULL with err on a bad reference. */
jv *eng_object_data_request(engine_run *run, const jv *cfg, const snap_element **svc_out, sl_error *err);
/* Applies a message action's outputs (ServiceResponse outputs) to the flow's values. */
int eng_apply_outputs(engine_run *run, const jv *ma, const jv *outputs, sl_error *err);

/* pages (page.c) */
/* The mapElementInvokeResponse for el as the state is now. */
jv *page_render(engine_run *run, const snap_map_element *el, const char *state_token);
/* Applies posted pageComponentInputResponses to the state. Returns the number of invalid
 * inputs (PAGE_SAVE: then nothing is applied and run->validation says why). */
int page_apply_inputs(engine_run *run, const snap_map_element *el, const jv *inputs, page_mode mode);

#endif
