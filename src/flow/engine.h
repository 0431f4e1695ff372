/* engine: runs one Flow state through a snapshot's map elements.
 *
 * Design: the engine is pure logic over JSON. A state's durable part is one JSON blob (see
 * below); a call takes the blob, moves the state from element to element until it needs a
 * person (a page or a step), waits for a service (WAIT), enters a sub-flow, or ends (DONE), and
 * leaves the new blob for the caller to commit in one compare-and-set transaction (flowstore).
 * Nothing here touches the database or the network directly: service calls go through the
 * engine_services callbacks (run.c does them over HTTP with core/http_client), so the engine
 * is unit-testable and fuzzable on its own, and a call that fails before the commit leaves the
 * stored state exactly as it was.
 *
 * The blob:
 *   { "values":  { "<value element id, lower case>": {"contentValue": s|null, "objectData": [..]|null} },
 *     "current": "<map element id>",          where the state is
 *     "invokeType": "FORWARD"|"WAIT"|"DONE"|"SUBFLOW",
 *     "wait":    {"element", "action" (index into messageActions), "token", "message"}  while WAIT
 *     "subflow": {"element", "child"}          while a child state runs
 *     "parent":  "<parent state id>"           in a child state
 *     "faults":  {name: message}               root faults to show with the current element
 *     "history": [{"id","developerName","at"}] UI elements visited (the last 50) }
 * Values absent from "values" have the snapshot's default (defaultContentValue /
 * defaultObjectData), so an idle state stores only what changed.
 *
 * Element behaviour (flow-runtime.md §2): on entering an element its data actions run (LOAD /
 * SAVE / DELETE, by order), then its operations (by order; macros through macro.h), then its
 * message actions. START, DECISION, OPERATOR, MESSAGE and DATABASE_* then follow the first
 * outcome (by order) whose comparison holds (no comparison = always); an element without
 * outcomes ends the flow (DONE). INPUT/PAGE/STEP stop for the user; the user's outcome applies
 * the page input first according to the outcome's pageActionBindingType (SAVE validates and
 * saves, PARTIAL_SAVE saves what is well-typed without the required checks, NO_SAVE drops it).
 * A fault (service error, bad reference, macro failure) follows the element's FAULT outcome when
 * it has one; otherwise the call fails with the fault and the caller commits nothing, so the
 * person sees the fault on the last committed element and can retry.
 */
#ifndef SLUICE_FLOW_ENGINE_H
#define SLUICE_FLOW_ENGINE_H

#include <stdbool.h>

#include "core/json.h"
#include "core/util.h"
#include "flow/snapshot.h"

/* What a service call returned. status 0 = no answer (error says why). body: parsed JSON or
 * NULL (owned by the callee's result; the engine frees it). */
typedef struct engine_service_result {
    long status;
    jv *body;
    char error[256];
} engine_service_result;

/* The engine's window on the outside world (implemented by run.c; tests supply their own).
 *   call: POST (or PUT) body to <service uri><path> with the service element's credentials;
 *         must fill res (status 0 on transport failure). Runs synchronously.
 *   macro: runs JavaScript code with the values (developerName → {contentType, contentValue,
 *         objectData}); returns 0 with *changed (new object, only the values set) or an error
 *         with err->msg. NULL means macros are unavailable (a fault). */
typedef struct engine_services {
    void (*call)(void *arg, const snap_element *service, const char *method, const char *path, const jv *body,
                 engine_service_result *res);
    int (*macro)(void *arg, const char *code, const jv *values, jv **changed, sl_error *err);
    void *arg;
    const char *callback_uri; /* sent as callbackUri with message actions (may be NULL) */
} engine_services;

/* Result of a run. */
typedef enum {
    ENGINE_UI = 0,    /* stopped on a page or step, waiting for the person */
    ENGINE_WAIT,      /* a message action answered WAIT; resume with engine_resume_wait */
    ENGINE_DONE,      /* reached an element without outcomes */
    ENGINE_SUBFLOW,   /* entered a SUB_FLOW element: the caller starts the child state */
    ENGINE_INVALID,   /* page input did not validate: nothing changed, *response shows why */
    ENGINE_FAULT,     /* a fault without a FAULT outcome: commit nothing, show the faults */
} engine_outcome;

/* One run's working context. Fill the first members, then call engine_* functions. */
typedef struct engine_run {
    const flow_snapshot *snap;
    jv *state;                 /* the blob; owned by the caller, modified in place */
    const engine_services *svc;
    const char *tenant_id;
    const char *state_id;
    const char *culture;       /* may be NULL */
    /* out */
    jv *faults;                /* root faults of this run (object) or NULL; owned by the run */
    jv *validation;            /* component id → message for ENGINE_INVALID; owned */
    jv *inputs_shown;          /* component id → posted input, echoed on ENGINE_INVALID; owned */
    bool sync;                 /* the request was a SYNC */
    int steps;                 /* elements entered in this run (guards against loops) */
} engine_run;

/* Creates a fresh blob for snap: no values set, positioned at the start element. inputs (an
 * array of EngineValue, may be NULL) set INPUT / INPUT_OUTPUT values by id or developerName.
 * Returns 0, or SL_EINVAL (err names the input) for an input that names no such value or is
 * not an input. */
int engine_state_new(const flow_snapshot *snap, const jv *inputs, jv **state, sl_error *err);

/* Runs from the state's current element, entering it (START kicks, a retry after a fault).
 * Returns the outcome; on ENGINE_FAULT, run->faults says why. */
engine_outcome engine_forward(engine_run *run);

/* Handles an EngineInvokeRequest (decoded JSON) at the current element: FORWARD with a
 * selectedOutcomeId moves down that outcome (page input applied per its binding type);
 * FORWARD without one at a page re-shows it (at any other element it runs, as engine_forward);
 * SYNC saves the page input without validation and re-evaluates the page; NAVIGATE jumps to a
 * navigation item's map element. Returns the outcome; SL_EINVAL-class request errors (unknown
 * outcome, …) come back as ENGINE_FAULT with a fault named "request" and *bad_request set. */
engine_outcome engine_invoke(engine_run *run, const jv *request, bool *bad_request);

/* Resumes a state parked on WAIT with the service's ServiceResponse: applies its outputs,
 * runs the element's remaining message actions and carries on. */
engine_outcome engine_resume_wait(engine_run *run, const jv *service_response);

/* Resumes a parent after its child state ended: copies the child's values out through the
 * sub-flow element's arguments (child_values: the child's blob "values" with its snapshot) and
 * follows the sub-flow element's outcome. */
engine_outcome engine_resume_subflow(engine_run *run, const flow_snapshot *child_snap, const jv *child_state);

/* Builds the child blob for the SUB_FLOW element the parent stopped on: arguments copied in. */
int engine_subflow_child(const flow_snapshot *parent_snap, const jv *parent_state, const flow_snapshot *child_snap,
                         jv **child_state, sl_error *err);

/* The sub-flow element the state stopped on: the flow id and version id it names (borrowed;
 * version may be NULL = active). Returns false when the state is not at a SUB_FLOW element. */
bool engine_subflow_target(const flow_snapshot *snap, const jv *state, const char **flow_id, const char **version_id);

/* Builds the EngineInvokeResponse for the state as it is now (after a run or for a join).
 * invoke_type overrides the blob's (e.g. "SYNC"); NULL keeps it. Returns a new object. */
jv *engine_response(engine_run *run, const char *state_token, const char *invoke_type, const char *parent_state_id);

/* A service element's configurationValues resolved from the state's values, as EngineValues
 * (what every request to the service carries). New array. */
jv *engine_configuration_values(const flow_snapshot *snap, const jv *state, const snap_element *service);

/* navigationElementReferences for the flow's navigation elements. New array. */
jv *engine_navigation_refs(const flow_snapshot *snap);

/* OUTPUT / INPUT_OUTPUT values as EngineValues (for DONE responses). */
jv *engine_outputs(const flow_snapshot *snap, const jv *state);

/* The invokeType stored in the blob ("FORWARD" when absent). */
const char *engine_state_invoke_type(const jv *state);

/* Resets a run's outputs (faults, validation) so the struct can be reused. */
void engine_run_clear(engine_run *run);

/* Value access shared with run.c and tests: the current value of a value reference
 * (ValueElementId: {id, typeElementPropertyId?}) as {contentType, contentValue, objectData}
 * (new object), or NULL when it names nothing. */
jv *engine_value_get(const flow_snapshot *snap, const jv *state, const jv *ref);

#endif
