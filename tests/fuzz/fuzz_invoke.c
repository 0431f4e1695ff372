/* fuzz_invoke: the run API's request decoders and the Flow engine behind them.
 *
 * Input layout: byte 0 is a control byte, the rest is JSON (parsed with jv_parse; nothing more
 * happens when it does not parse). The control byte picks:
 *   bits 0-2  what the fake service answers a message action with: 0 FORWARD with outputs,
 *             1 WAIT, 2 HTTP 500 with a message, 3 no answer (transport failure), 4 rootFaults,
 *             5 a 200 whose body is not an object, 6 the fuzzed JSON itself as the 200 body,
 *             7 FORWARD to the first call and WAIT to the next;
 *   bits 3-4  where the state is before the invoke: 0 on the page (START forwarded), 1 on the
 *             step (the page's NO_SAVE outcome taken), 2 a state made from the fuzzed JSON as an
 *             initialization request's inputs, then forwarded, 3 positioned on the DECISION and
 *             forwarded from there;
 *   bit 5     a macro callback is present (otherwise engine_services.macro is NULL);
 *   bit 6     the invoke is repeated a second time on the resulting state;
 *   bit 7     the run has a culture.
 * The JSON goes through invoke_decode and invoke_decode_init, then into engine_invoke on a
 * state of a fixed snapshot (START, an input page with string/number/boolean/datetime/object/
 * list components, required flags, maxSize, regex and minimum validations and page conditions,
 * a DECISION with nested AND/OR rules, an OPERATOR with NEW/property/ADD/GET_NEXT/GET_FIRST/
 * REMOVE, a STEP with {![Value].[Property]} content, two MESSAGE elements (one with a FAULT
 * outcome), a DATABASE_LOAD, a macro OPERATOR, a SUB_FLOW, a loop of elements without pages and
 * a navigation reaching all of them). When the state waits, engine_resume_wait gets the fuzzed
 * JSON as the service's answer. A SUB_FLOW runs its child (the same snapshot) and resumes. As in
 * run.c, a FAULT or INVALID outcome commits nothing: the next call sees the last committed blob.
 *
 * Oracles (abort on violation): a decoder failure is SL_EINVAL with a message and a JSON pointer
 * ("" or starting with '/'), a success has the members the engine relies on; ENGINE_FAULT comes
 * with faults, ENGINE_INVALID with validation messages and an unchanged state, a bad request is
 * a FAULT named "request" with an unchanged state; WAIT/DONE/UI outcomes leave the blob with the
 * matching invokeType and position; the blob always survives a dump/parse round trip; every
 * response is an object that dumps. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/engine_internal.h"
#include "flow/invoke.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The snapshot, written with ' for JSON's " (swapped at load time, so no text below may hold an
 * apostrophe of its own). */
static const char SNAPSHOT[] =
    "{'id':{'id':'f-fuzz','versionId':'v-1'},'developerName':'Fuzz flow','startMapElementId':'m-start',"
    "'mapElements':["
    " {'id':'m-start','elementType':'START','developerName':'Start',"
    "  'outcomes':[{'id':'o-start','developerName':'Go','nextMapElementId':'m-page'}]},"
    " {'id':'m-page','elementType':'input','developerName':'Page','pageElementId':'pg-main',"
    "  'outcomes':["
    "   {'id':'o-next','developerName':'Next','order':0,'pageActionBindingType':'SAVE','nextMapElementId':'m-decide'},"
    "   {'id':'o-partial','developerName':'Partial','order':1,'pageActionBindingType':'PARTIAL_SAVE',"
    "    'nextMapElementId':'m-decide'},"
    "   {'id':'o-skip','developerName':'Skip','order':2,'pageActionBindingType':'NO_SAVE','nextMapElementId':'m-step'},"
    "   {'id':'o-self','developerName':'Again','order':3,'nextMapElementId':'m-page'},"
    "   {'id':'o-dangling','developerName':'Nowhere','order':4,'pageActionBindingType':'NO_SAVE',"
    "    'nextMapElementId':'m-missing'},"
    "   {'id':'o-page-fault','developerName':'FAULT','order':5,'nextMapElementId':'m-step'}]},"
    " {'id':'m-decide','elementType':'DECISION','developerName':'Decide',"
    "  'outcomes':["
    "   {'id':'o-adult','developerName':'Adult','order':0,'nextMapElementId':'m-ops','comparison':{"
    "     'comparisonType':'AND','rules':[{'leftValueElementToReferenceId':{'id':'v-age'},"
    "      'criteriaType':'GREATER_THAN_OR_EQUAL','rightValueElementToReferenceId':{'id':'v-eighteen'}}],"
    "     'comparisons':[{'comparisonType':'OR','rules':["
    "      {'leftValueElementToReferenceId':{'id':'v-agree'},'criteriaType':'EQUAL',"
    "       'rightValueElementToReferenceId':{'id':'v-true'}},"
    "      {'leftValueElementToReferenceId':{'id':'v-name'},'criteriaType':'STARTS_WITH',"
    "       'rightValueElementToReferenceId':{'id':'v-vip'}}]}]}},"
    "   {'id':'o-dated','developerName':'Dated','order':1,'nextMapElementId':'m-msg','comparison':{"
    "     'comparisonType':'AND','rules':[{'leftValueElementToReferenceId':{'id':'v-when'},'criteriaType':'LESS_THAN',"
    "      'rightValueElementToReferenceId':{'id':'v-cutoff'}}]}},"
    "   {'id':'o-empty','developerName':'NoName','order':2,'nextMapElementId':'m-step','comparison':{"
    "     'rules':[{'leftValueElementToReferenceId':{'id':'v-name'},'criteriaType':'IS_EMPTY',"
    "      'rightValueElementToReferenceId':{'id':'v-true'}}]}},"
    "   {'id':'o-contains','developerName':'Contains','order':3,'nextMapElementId':'m-load','comparison':{"
    "     'comparisonType':'OR','rules':[{'leftValueElementToReferenceId':{'id':'v-name'},'criteriaType':'CONTAINS',"
    "      'rightValueElementToReferenceId':{'id':'v-vip'}},{'leftValueElementToReferenceId':{'id':'v-people'},"
    "      'criteriaType':'IS_EMPTY'}]}},"
    "   {'id':'o-else','developerName':'Else','order':4,'nextMapElementId':'m-msg2'}]},"
    " {'id':'m-ops','elementType':'OPERATOR','developerName':'Ops','operations':["
    "   {'order':0,'valueElementToApplyId':{'id':'v-person','command':'NEW'}},"
    "   {'order':1,'valueElementToApplyId':{'id':'v-person','typeElementPropertyId':'p-name'},"
    "    'valueElementToReferenceId':{'id':'v-name'}},"
    "   {'order':2,'valueElementToApplyId':{'id':'v-person','typeElementPropertyId':'p-age'},"
    "    'valueElementToReferenceId':{'id':'v-age'}},"
    "   {'order':3,'valueElementToApplyId':{'id':'v-people','command':'ADD'},'valueElementToReferenceId':{'id':'v-person'}},"
    "   {'order':4,'valueElementToApplyId':{'id':'v-cursor'},'valueElementToReferenceId':{'id':'v-people','command':'GET_NEXT'}},"
    "   {'order':5,'valueElementToApplyId':{'id':'v-first'},'valueElementToReferenceId':{'id':'v-people','command':'GET_FIRST'}},"
    "   {'order':6,'valueElementToApplyId':{'id':'v-people','command':'REMOVE'},'valueElementToReferenceId':{'id':'v-cursor'}},"
    "   {'order':7,'valueElementToApplyId':{'id':'v-count'},'valueElementToReferenceId':{'id':'v-age'}},"
    "   {'order':8,'disabled':true,'valueElementToApplyId':{'id':'v-name'},'valueElementToReferenceId':{'id':'v-vip'}},"
    "   {'order':9,'valueElementToApplyId':{'id':'v-selected','command':'EMPTY'}}],"
    "  'outcomes':[{'id':'o-ops','developerName':'On','nextMapElementId':'m-msg'}]},"
    " {'id':'m-msg','elementType':'MESSAGE','developerName':'Call','messageActions':["
    "   {'developerName':'Lookup','order':0,'serviceElementId':'s-svc','uriPart':'actions/lookup',"
    "    'inputs':[{'developerName':'name','contentType':'ContentString','valueElementToReferenceId':{'id':'v-name'}},"
    "     {'developerName':'person','valueElementToReferenceId':{'id':'v-person'}},{'developerName':'constant'}],"
    "    'outputs':[{'developerName':'status','valueElementToApplyId':{'id':'v-status'}},"
    "     {'developerName':'person','valueElementToApplyId':{'id':'v-person'}},"
    "     {'developerName':'score','valueElementToApplyId':{'id':'v-person','typeElementPropertyId':'p-age'}},"
    "     {'developerName':'people','valueElementToApplyId':{'id':'v-people'}}]},"
    "   {'developerName':'Second','order':1,'serviceElementId':'s-svc','uriPart':'/actions/second',"
    "    'outputs':[{'developerName':'status','valueElementToApplyId':{'id':'v-status'}},"
    "     {'developerName':'when','valueElementToApplyId':{'id':'v-when'}}]}],"
    "  'outcomes':[{'id':'o-msg','developerName':'Done','order':0,'nextMapElementId':'m-step'},"
    "   {'id':'o-msg-fault','developerName':'FAULT','order':1,'nextMapElementId':'m-step'}]},"
    " {'id':'m-msg2','elementType':'MESSAGE','developerName':'Call without fault outcome','messageActions':["
    "   {'developerName':'Notify','serviceElementId':'s-svc','uriPart':'actions/notify',"
    "    'inputs':[{'developerName':'when','valueElementToReferenceId':{'id':'v-when'}}],"
    "    'outputs':[{'developerName':'status','valueElementToApplyId':{'id':'v-status'}}]}],"
    "  'outcomes':[{'id':'o-msg2','developerName':'Back','nextMapElementId':'m-page'}]},"
    " {'id':'m-step','elementType':'step','developerName':'Step','title':'Summary',"
    "  'userContent':'<p>Hello {![Name]} ({![Person].[Name]}, {![Person].[Age]}) status {![Status]} {![Missing]}"
    " {![Name].[Nope]} {![Name] {![Name</p>',"
    "  'outcomes':[{'id':'o-back','developerName':'Back','order':0,'nextMapElementId':'m-page'},"
    "   {'id':'o-finish','developerName':'Finish','order':1,'nextMapElementId':'m-end'}]},"
    " {'id':'m-end','elementType':'DECISION','developerName':'End'},"
    " {'id':'m-macro','elementType':'OPERATOR','developerName':'Macro','operations':["
    "   {'order':0,'macroElementToExecuteId':'mc-greet'}],"
    "  'outcomes':[{'id':'o-macro','nextMapElementId':'m-page'}]},"
    " {'id':'m-load','elementType':'DATABASE_LOAD','developerName':'Load','dataActions':["
    "   {'developerName':'Load people','crudOperationType':'LOAD','order':0,'valueElementToApplyId':{'id':'v-people'},"
    "    'objectDataRequest':{'typeElementId':'t-person','serviceElementId':'s-svc','listFilter':{"
    "     'where':[{'columnTypeElementPropertyId':'p-name','criteriaType':'EQUAL','valueElementToReferenceId':{'id':'v-name'}}],"
    "     'listFilters':[{'comparisonType':'OR','where':[]}],'orderByTypeElementPropertyId':'p-age','limit':10}}},"
    "   {'developerName':'Save person','crudOperationType':'SAVE','order':1,'valueElementToReferenceId':{'id':'v-person'},"
    "    'objectDataRequest':{'typeElementId':'t-person'}}],"
    "  'outcomes':[{'id':'o-load','developerName':'Loaded','nextMapElementId':'m-page'},"
    "   {'id':'o-load-fault','developerName':'FAULT','nextMapElementId':'m-page'}]},"
    " {'id':'m-sub','elementType':'SUB_FLOW','developerName':'Sub','subflow':{'flowId':{'id':'f-fuzz','versionId':'v-1'},"
    "   'arguments':[{'valueElementInSubflowId':{'id':'v-name'},'valueElementToApplyId':{'id':'v-name'}},"
    "    {'valueElementInSubflowId':{'id':'v-age'},'valueElementToApplyId':{'id':'v-age'}},"
    "    {'valueElementInSubflowId':{'id':'v-status'},'valueElementToApplyId':{'id':'v-status'}},"
    "    {'valueElementInSubflowId':{'id':'v-none'},'valueElementToApplyId':{'id':'v-name'}}]},"
    "  'outcomes':[{'id':'o-sub','developerName':'Back','nextMapElementId':'m-page'}]},"
    " {'id':'m-loop-a','elementType':'DECISION','developerName':'LoopA',"
    "  'outcomes':[{'id':'o-la','nextMapElementId':'m-loop-b'}]},"
    " {'id':'m-loop-b','elementType':'OPERATOR','developerName':'LoopB','operations':["
    "   {'valueElementToApplyId':{'id':'v-count'},'valueElementToReferenceId':{'id':'v-age'}}],"
    "  'outcomes':[{'id':'o-lb','nextMapElementId':'m-loop-a'}]},"
    " {'id':'m-odd','elementType':'SWIMLANE','developerName':'Odd'}"
    "],"
    "'pageElements':[{'id':'pg-main','developerName':'Main','label':'Main page','stopConditionsOnFirstTrue':false,"
    " 'pageContainers':[{'id':'pc-root','containerType':'VERTICAL_FLOW','developerName':'Root','order':1,"
    "   'pageContainers':[{'id':'pc-inner','containerType':'GROUP','order':0}]},"
    "  {'id':'pc-side','containerType':'HORIZONTAL_FLOW','order':0}],"
    " 'pageComponents':["
    "  {'id':'c-name','pageContainerId':'pc-root','developerName':'Name','componentType':'INPUT','order':0,"
    "   'isRequired':true,'maxSize':20,'valueElementValueBindingReferenceId':{'id':'v-name'},"
    "   'validations':[{'type':'regex','value':'^[A-Za-z ]*$','message':'Letters only'},{'type':'minLength','value':2}]},"
    "  {'id':'c-age','componentType':'INPUT','order':1,'valueElementValueBindingReferenceId':{'id':'v-age'},"
    "   'validations':[{'type':'minimum','value':0},{'type':'maximum','value':'150'}]},"
    "  {'id':'c-agree','componentType':'CHECKBOX','order':2,'valueElementValueBindingReferenceId':{'id':'v-agree'}},"
    "  {'id':'c-when','componentType':'INPUT','order':3,'isRequired':true,"
    "   'valueElementValueBindingReferenceId':{'id':'v-when'}},"
    "  {'id':'c-people','componentType':'TABLE','order':4,'isMultiSelect':true,"
    "   'valueElementValueBindingReferenceId':{'id':'v-selected'},'valueElementDataBindingReferenceId':{'id':'v-people'},"
    "   'columns':[{'typeElementPropertyId':'p-name','label':'Name','order':0},{'typeElementPropertyId':'p-age','order':1},"
    "    {'typeElementPropertyDeveloperName':'Ghost','contentType':'ContentString'}]},"
    "  {'id':'c-pname','componentType':'INPUT','order':5,"
    "   'valueElementValueBindingReferenceId':{'id':'v-person','typeElementPropertyId':'p-name'}},"
    "  {'id':'c-remote','componentType':'COMBOBOX','order':6,'valueElementValueBindingReferenceId':{'id':'v-first'},"
    "   'objectDataRequest':{'typeElementId':'t-person','serviceElementId':'s-svc'}},"
    "  {'id':'c-readonly','componentType':'INPUT','order':7,'isEditable':false,"
    "   'valueElementValueBindingReferenceId':{'id':'v-status'}},"
    "  {'id':'c-pres','componentType':'PRESENTATION','order':8,'content':'<b>{![Name]}</b> & {![Person].[Name]}'},"
    "  {'id':'c-file','componentType':'FILES','order':9,'fileDataRequest':{'serviceElementId':'s-svc','resourcePath':'/f'}},"
    "  {'id':'c-broken','componentType':'INPUT','order':10,'valueElementValueBindingReferenceId':{'id':'v-gone'},"
    "   'objectDataRequest':{'typeElementId':'t-gone'}}],"
    " 'pageConditions':["
    "  {'comparisonType':'AND','pageRules':[{'left':{'pageObjectReferenceId':'c-agree','metaDataType':'VALUE'},"
    "    'criteriaType':'EQUAL','right':{'valueElementToReferenceId':{'id':'v-true'}}}],"
    "   'pageOperations':[{'assignment':{'assignee':{'pageObjectReferenceId':'c-when','metaDataType':'METADATA.VISIBLE'}}}]},"
    "  {'comparisonType':'OR','pageRules':[{'left':{'valueElementToReferenceId':{'id':'v-age'}},"
    "    'criteriaType':'GREATER_THAN','right':{'valueElementToReferenceId':{'id':'v-hundred'}}},"
    "    {'left':{'pageObjectReferenceId':'c-name'},'criteriaType':'BOGUS'}],"
    "   'pageOperations':[{'assignment':{'assignee':{'pageObjectReferenceId':'c-name','metaDataType':'METADATA.REQUIRED'},"
    "    'assignor':{'valueElementToReferenceId':{'id':'v-false'}}}},"
    "    {'assignment':{'assignee':{'pageObjectReferenceId':'c-people','metadataType':'METADATA.ENABLED'}}}]}]}],"
    "'valueElements':["
    " {'id':'v-name','developerName':'Name','contentType':'ContentString','defaultContentValue':'World','access':'INPUT_OUTPUT'},"
    " {'id':'v-age','developerName':'Age','contentType':'ContentNumber','access':'INPUT'},"
    " {'id':'v-agree','developerName':'Agree','contentType':'ContentBoolean','defaultContentValue':'false'},"
    " {'id':'v-when','developerName':'When','contentType':'ContentDateTime','access':'INPUT'},"
    " {'id':'v-person','developerName':'Person','contentType':'ContentObject','typeElementId':'t-person','access':'INPUT_OUTPUT'},"
    " {'id':'v-people','developerName':'People','contentType':'ContentList','typeElementId':'t-person','defaultObjectData':["
    "   {'internalId':'i-1','externalId':'e-1','developerName':'Person','typeElementId':'t-person','properties':["
    "    {'typeElementPropertyId':'p-name','developerName':'Name','contentType':'ContentString','contentValue':'Ada'},"
    "    {'typeElementPropertyId':'p-age','developerName':'Age','contentType':'ContentNumber','contentValue':'36'}]},"
    "   {'internalId':'i-2','externalId':null,'developerName':'Person','typeElementId':'t-person','properties':["
    "    {'developerName':'Name','contentValue':'Bob'}]}]},"
    " {'id':'v-selected','developerName':'Selected','contentType':'ContentList','typeElementId':'t-person'},"
    " {'id':'v-cursor','developerName':'Cursor','contentType':'ContentObject','typeElementId':'t-person'},"
    " {'id':'v-first','developerName':'First','contentType':'ContentObject','typeElementId':'t-person'},"
    " {'id':'v-status','developerName':'Status','contentType':'ContentString','access':'OUTPUT'},"
    " {'id':'v-count','developerName':'Count','contentType':'ContentNumber','defaultContentValue':'0'},"
    " {'id':'v-eighteen','developerName':'Eighteen','contentType':'ContentNumber','defaultContentValue':'18'},"
    " {'id':'v-hundred','developerName':'Hundred','contentType':'ContentNumber','defaultContentValue':'100'},"
    " {'id':'v-true','developerName':'True','contentType':'ContentBoolean','defaultContentValue':'true'},"
    " {'id':'v-false','developerName':'False','contentType':'ContentBoolean','defaultContentValue':'false'},"
    " {'id':'v-vip','developerName':'Vip','contentType':'ContentString','defaultContentValue':'VIP'},"
    " {'id':'v-cutoff','developerName':'Cutoff','contentType':'ContentDateTime','defaultContentValue':'2030-01-01T00:00:00Z'}],"
    "'typeElements':[{'id':'t-person','developerName':'Person','serviceElementId':'s-svc','properties':["
    " {'id':'p-name','developerName':'Name','contentType':'ContentString'},"
    " {'id':'p-age','developerName':'Age','contentType':'ContentNumber'},"
    " {'id':'p-friends','developerName':'Friends','contentType':'ContentList','typeElementId':'t-person'}]}],"
    "'serviceElements':[{'id':'s-svc','developerName':'Svc','uri':'https://svc.invalid/api','configurationValues':["
    " {'developerName':'key','contentType':'ContentPassword','valueElementToReferenceId':{'id':'v-vip'}},"
    " {'developerName':'who','valueElementToReferenceId':{'id':'v-person','typeElementPropertyId':'p-name'}},"
    " {'developerName':'ghost','valueElementToReferenceId':{'id':'v-gone'}},{'developerName':'plain'}]}],"
    "'navigationElements':[{'id':'n-main','developerName':'Nav','navigationItems':["
    " {'id':'ni-page','developerName':'Page','locationMapElementId':'m-page'},"
    " {'id':'ni-more','developerName':'More','navigationItems':["
    "  {'id':'ni-msg','locationMapElementId':'m-msg'},{'id':'ni-msg2','locationMapElementId':'m-msg2'},"
    "  {'id':'ni-load','locationMapElementId':'m-load'},{'id':'ni-macro','locationMapElementId':'m-macro'},"
    "  {'id':'ni-sub','locationMapElementId':'m-sub'},{'id':'ni-loop','locationMapElementId':'m-loop-a'},"
    "  {'id':'ni-ops','locationMapElementId':'m-ops'},{'id':'ni-end','locationMapElementId':'m-end'},"
    "  {'id':'ni-step','locationMapElementId':'m-step'},{'id':'ni-odd','locationMapElementId':'m-odd'},"
    "  {'id':'ni-nowhere','locationMapElementId':'m-missing'}]}]}],"
    "'macroElements':[{'id':'mc-greet','developerName':'Greet','code':'setStringValue(Name, hi)'}]}";

static flow_snapshot *g_snap;

static void free_snapshot(void)
{
    snapshot_free(g_snap);
}

static const flow_snapshot *snapshot(void)
{
    if (g_snap)
        return g_snap;
    size_t n = sizeof SNAPSHOT - 1;
    char *text = xstrdup(SNAPSHOT);
    for (size_t i = 0; i < n; i++)
        if (text[i] == '\'')
            text[i] = '"';
    sl_problems p;
    problems_init(&p);
    if (snapshot_parse_text(text, n, "fuzz_invoke", &g_snap, &p) != 0) {
        for (size_t i = 0; i < p.n; i++)
            fprintf(stderr, "fuzz_invoke snapshot: %s: %s\n", p.items[i].pointer, p.items[i].message);
        abort();
    }
    problems_free(&p);
    free(text);
    atexit(free_snapshot);
    return g_snap;
}

/* ---- the fake outside world ---- */

typedef struct fake {
    int mode;         /* bits 0-2 of the control byte */
    const jv *fuzzed; /* the parsed input */
    int calls;
} fake;

static const char CANNED_FORWARD[] =
    "{'invokeType':'FORWARD','outputs':["
    " {'developerName':'status','contentType':'ContentString','contentValue':'ok <&> \\u00e9'},"
    " {'developerName':'person','contentType':'ContentObject','objectData':[{'internalId':'i-9','externalId':'e-9',"
    "  'developerName':'Person','typeElementId':'t-person','properties':["
    "   {'typeElementPropertyId':'p-name','developerName':'Name','contentValue':'Grace'}]}]},"
    " {'developerName':'score','contentValue':'99'},"
    " {'developerName':'when','contentValue':'2024-02-29T12:00:00+01:00'},"
    " {'developerName':'people','objectData':[]}]}";

static const char CANNED_DATA[] =
    "{'objectData':[{'internalId':'i-7','externalId':'e-7','developerName':'Person','typeElementId':'t-person',"
    " 'properties':[{'typeElementPropertyId':'p-name','developerName':'Name','contentValue':'Linus'}]},"
    " {'internalId':'i-8','externalId':'','developerName':'Person','typeElementId':'t-person','properties':[]}]}";

static jv *parse_quoted(const char *s)
{
    char *t = xstrdup(s);
    for (char *p = t; *p; p++)
        if (*p == '\'')
            *p = '"';
    sl_error err = {0};
    jv *v = jv_parse(t, strlen(t), &err);
    free(t);
    if (!v)
        abort();
    return v;
}

static void fake_call(void *arg, const snap_element *service, const char *method, const char *path, const jv *body,
                      engine_service_result *res)
{
    fake *f = arg;
    /* What the engine sends must be a well-formed request. */
    if (!service || !method || !path || path[0] != '/' || !jv_is_object(body))
        abort();
    int call = f->calls++;
    res->status = 200;
    res->body = NULL;
    if (str_starts(path, "/data")) {
        if (f->mode == 2 || f->mode == 3) {
            res->status = f->mode == 2 ? 503 : 0;
            snprintf(res->error, sizeof res->error, "connection refused");
        } else {
            res->body = parse_quoted(CANNED_DATA);
        }
        return;
    }
    if (!jv_is_array(jv_get(body, "inputs")) || !jv_get_str(body, "token") ||
        jv_len(jv_get(body, "configurationValues")) != 4)
        abort();
    switch (f->mode) {
    case 0:
        res->body = parse_quoted(CANNED_FORWARD);
        break;
    case 1:
        res->body = parse_quoted("{'invokeType':'WAIT','waitMessage':'Hold on'}");
        break;
    case 2:
        res->status = 500;
        res->body = parse_quoted("{'message':'the service fell over'}");
        break;
    case 3:
        res->status = 0;
        snprintf(res->error, sizeof res->error, "timed out after %d ms", 30000);
        break;
    case 4:
        res->body = parse_quoted("{'invokeType':'FORWARD','rootFaults':{'lookup':'no such person'}}");
        break;
    case 5:
        res->body = parse_quoted("['not','an','object']");
        break;
    case 6:
        res->body = jv_copy(f->fuzzed);
        break;
    default:
        res->body = parse_quoted(call == 0 ? CANNED_FORWARD : "{'invokeType':'WAIT'}");
        break;
    }
}

static int fake_macro(void *arg, const char *code, const jv *values, jv **changed, sl_error *err)
{
    fake *f = arg;
    if (!code || !jv_is_object(values))
        abort();
    if (f->mode == 2)
        return sl_fail(err, SL_EINVAL, "macro", "ReferenceError: hi is not defined");
    *changed = parse_quoted("{'Name':{'contentValue':'from a macro'},'Agree':{'contentValue':'true'},"
                            "'People':{'contentValue':null,'objectData':[]},'Unknown':{'contentValue':'x'}}");
    return 0;
}

/* ---- oracles ---- */

static void check_error(const sl_error *err, int rc)
{
    if (rc != SL_EINVAL || !err->msg[0] || (err->where[0] != '\0' && err->where[0] != '/'))
        abort();
}

static char *dump_checked(const jv *v)
{
    char *s = jv_dumps(v);
    if (!s)
        abort();
    sl_error err = {0};
    jv *back = jv_parse(s, strlen(s), &err);
    if (!back || !jv_equal(back, v))
        abort();
    jv_free(back);
    return s;
}

/* The outcome agrees with the blob. before: the blob's text before the call (for outcomes that
 * must change nothing). */
static void check_outcome(const engine_run *run, engine_outcome oc, bool bad_request, const char *before)
{
    const flow_snapshot *snap = run->snap;
    const char *it = engine_state_invoke_type(run->state);
    const snap_map_element *cur = snapshot_map_element(snap, jv_get_str(run->state, "current"));
    char *now = dump_checked(run->state);
    switch (oc) {
    case ENGINE_UI:
        if (!cur || !eng_is_ui(cur->kind) || !str_ieq(it, "FORWARD"))
            abort();
        break;
    case ENGINE_WAIT:
        if (!str_ieq(it, "WAIT") || !jv_is_object(jv_get(run->state, "wait")))
            abort();
        break;
    case ENGINE_DONE:
        if (!str_ieq(it, "DONE"))
            abort();
        break;
    case ENGINE_SUBFLOW:
        if (!cur || cur->kind != SNAP_EL_SUB_FLOW || !str_ieq(it, "SUBFLOW"))
            abort();
        break;
    case ENGINE_INVALID:
        if (!jv_is_object(run->validation) || jv_obj_size(run->validation) == 0 || strcmp(now, before) != 0)
            abort();
        break;
    case ENGINE_FAULT:
        if (!jv_is_object(run->faults) || jv_obj_size(run->faults) == 0)
            abort();
        break;
    default:
        abort();
    }
    if (bad_request && (oc != ENGINE_FAULT || !jv_get_str(run->faults, "request") || strcmp(now, before) != 0))
        abort();
    free(now);
}

static void respond(engine_run *run)
{
    jv *r = engine_response(run, "token-1", NULL, NULL);
    if (!jv_is_object(r))
        abort();
    free(dump_checked(r));
    jv_free(r);
    jv *o = engine_outputs(run->snap, run->state);
    if (!jv_is_array(o))
        abort();
    jv_free(o);
}

/* Like run.c, a caller commits a run's blob unless the run faulted or the input was invalid, in
 * which case the last committed blob is what the next call sees. */
static void commit(engine_run *run, engine_outcome oc, jv **committed)
{
    if (oc == ENGINE_FAULT || oc == ENGINE_INVALID) {
        jv_free(run->state);
        run->state = jv_copy(*committed);
    } else {
        jv_free(*committed);
        *committed = jv_copy(run->state);
    }
}

/* Runs the child of a state that stopped on the SUB_FLOW element and resumes the parent. */
static engine_outcome run_subflow(engine_run *run, jv **committed)
{
    const char *fid = NULL, *ver = NULL;
    if (!engine_subflow_target(run->snap, run->state, &fid, &ver) || !str_eq(fid, "f-fuzz") || !str_eq(ver, "v-1"))
        abort();
    jv *child = NULL;
    sl_error err = {0};
    if (engine_subflow_child(run->snap, run->state, run->snap, &child, &err) != 0)
        abort();
    engine_run c = {.snap = run->snap, .state = child, .svc = run->svc, .tenant_id = "t-1", .state_id = "s-child"};
    char *before = dump_checked(child);
    engine_outcome oc = engine_forward(&c);
    check_outcome(&c, oc, false, before);
    free(before);
    respond(&c);
    engine_run_clear(&c);
    before = dump_checked(run->state);
    engine_run_clear(run);
    oc = engine_resume_subflow(run, run->snap, c.state);
    check_outcome(run, oc, false, before);
    free(before);
    respond(run);
    jv_free(c.state);
    commit(run, oc, committed);
    return oc;
}

/* Resolves sub-flows and waits (the fuzzed JSON first, then a canned answer, as the service's
 * ServiceResponse), as run.c would on later requests. */
static engine_outcome settle(engine_run *run, engine_outcome oc, const jv *fuzzed, jv **committed)
{
    if (oc == ENGINE_SUBFLOW)
        oc = run_subflow(run, committed);
    for (int i = 0; i < 2 && oc == ENGINE_WAIT; i++) {
        jv *canned = i ? parse_quoted(CANNED_FORWARD) : NULL;
        char *before = dump_checked(run->state);
        engine_run_clear(run);
        oc = engine_resume_wait(run, i ? canned : fuzzed);
        check_outcome(run, oc, false, before);
        free(before);
        respond(run);
        jv_free(canned);
        if (oc == ENGINE_FAULT) {
            /* run.c keeps the fault with the state, which stays on the element */
            jv_del(run->state, "wait");
            jv_set_str(run->state, "invokeType", "FORWARD");
            jv_set(run->state, "faults", run->faults);
            respond(run);
            oc = ENGINE_UI;
            jv_free(*committed);
            *committed = jv_copy(run->state);
        } else {
            commit(run, oc, committed);
        }
        if (oc == ENGINE_SUBFLOW)
            oc = run_subflow(run, committed);
    }
    return oc;
}

/* One engine_invoke on run, checked and committed. */
static engine_outcome invoke_checked(engine_run *run, const jv *request, const jv *fuzzed, jv **committed)
{
    engine_run_clear(run);
    run->sync = false;
    char *before = dump_checked(run->state);
    bool bad = false;
    engine_outcome oc = engine_invoke(run, request, &bad);
    check_outcome(run, oc, bad, before);
    free(before);
    respond(run);
    commit(run, oc, committed);
    return settle(run, oc, fuzzed, committed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const flow_snapshot *snap = snapshot();
    uint8_t ctl = data[0];
    sl_error err = {0};
    jv *req = jv_parse((const char *)data + 1, size - 1, &err);
    if (!req)
        return 0;

    invoke_request ir;
    int rc = invoke_decode(req, &ir, &err);
    if (rc)
        check_error(&err, rc);
    else if (!ir.invoke_type || !ir.state_token ||
             (!str_ieq(ir.invoke_type, "FORWARD") && !str_ieq(ir.invoke_type, "SYNC") &&
              !str_ieq(ir.invoke_type, "NAVIGATE")) ||
             (ir.inputs && !jv_is_array(ir.inputs)))
        abort();
    invoke_init ii;
    memset(&err, 0, sizeof err);
    int irc = invoke_decode_init(req, &ii, &err);
    if (irc)
        check_error(&err, irc);
    else if ((!ii.flow_id && !ii.developer_name) || (ii.inputs && !jv_is_array(ii.inputs)))
        abort();

    fake f = {.mode = ctl & 7, .fuzzed = req};
    engine_services svc = {.call = fake_call, .macro = (ctl & 0x20) ? fake_macro : NULL, .arg = &f,
                           .callback_uri = "https://sluice.invalid/callback"};
    jv *state = NULL;
    int where = (ctl >> 3) & 3;
    if (where == 2 && irc == 0) {
        memset(&err, 0, sizeof err);
        if (engine_state_new(snap, ii.inputs, &state, &err) != 0) {
            if (state || !err.msg[0] || !str_eq(err.where, "/inputs"))
                abort();
        }
    }
    if (!state && engine_state_new(snap, NULL, &state, &err) != 0)
        abort();
    if (where == 3)
        jv_set_str(state, "current", "m-decide");
    jv *committed = jv_copy(state);

    engine_run run = {.snap = snap, .state = state, .svc = &svc, .tenant_id = "t-1", .state_id = "s-1",
                      .culture = (ctl & 0x80) ? "en-US" : NULL};
    char *before = dump_checked(run.state);
    engine_outcome oc = engine_forward(&run);
    check_outcome(&run, oc, false, before);
    free(before);
    respond(&run);
    commit(&run, oc, &committed);
    oc = settle(&run, oc, req, &committed);
    if (where == 1 && oc == ENGINE_UI) {
        jv *skip = parse_quoted("{'invokeType':'FORWARD','stateToken':'t',"
                                "'mapElementInvokeRequest':{'selectedOutcomeId':'o-skip'}}");
        oc = invoke_checked(&run, skip, req, &committed);
        jv_free(skip);
    }
    /* Only a request the decoder accepts reaches the engine in run.c; the engine must cope with
     * any JSON all the same, so rejected requests go in too. */
    for (int round = 0; round < ((ctl & 0x40) ? 2 : 1); round++)
        oc = invoke_checked(&run, req, req, &committed);
    (void)oc;
    engine_run_clear(&run);
    jv_free(run.state);
    jv_free(committed);
    jv_free(req);
    return 0;
}
