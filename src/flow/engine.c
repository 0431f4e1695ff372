/* engine: map element execution over a state blob (see engine.h for the model).
 *
 * Values: the blob's "values" object is keyed by the lower-cased value element id and holds
 * {contentValue, objectData}; a value not in it has its snapshot default. Object values are
 * objectData arrays of at most one object, lists any number. References (ValueElementId) are
 * {id, typeElementPropertyId?, command?}; with a property id they read or write that property
 * of the value's (first) object.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flow/engine_internal.h"

/* ---- small helpers ---- */

static void lower_id(const char *id, char out[256])
{
    size_t i = 0;
    for (; id && id[i] && i < 255; i++)
        out[i] = (char)tolower((unsigned char)id[i]);
    out[i] = 0;
}

static const char *ref_id(const jv *ref)
{
    if (jv_is_string(ref))
        return jv_str(ref);
    return jv_get_str(ref, "id");
}

bool eng_is_ui(snap_element_kind k)
{
    return k == SNAP_EL_INPUT || k == SNAP_EL_PAGE || k == SNAP_EL_STEP;
}

void eng_fault(engine_run *run, const char *name, const char *fmt, ...)
{
    if (!run->faults)
        run->faults = jv_new_object();
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    utf8_trim_tail(msg);
    jv_set_str(run->faults, name && name[0] ? name : "fault", msg);
}

void engine_run_clear(engine_run *run)
{
    jv_free(run->faults);
    jv_free(run->validation);
    jv_free(run->inputs_shown);
    run->faults = run->validation = run->inputs_shown = NULL;
    run->steps = 0;
}

const char *engine_state_invoke_type(const jv *state)
{
    const char *t = jv_get_str(state, "invokeType");
    return t ? t : "FORWARD";
}

static void set_invoke_type(engine_run *run, const char *t)
{
    jv_set_str(run->state, "invokeType", t);
}

/* ---- elements ---- */

const snap_element *eng_value_element(const flow_snapshot *snap, const char *id)
{
    return id ? snapshot_element(snap, SNAP_SET_VALUE, id) : NULL;
}

const snap_element *eng_value_by_name(const flow_snapshot *snap, const char *name)
{
    for (size_t i = 0; name && i < snap->n_elements[SNAP_SET_VALUE]; i++)
        if (str_ieq(snap->elements[SNAP_SET_VALUE][i].developer_name, name))
            return &snap->elements[SNAP_SET_VALUE][i];
    return NULL;
}

const snap_element *eng_type_element(const flow_snapshot *snap, const char *id)
{
    return id ? snapshot_element(snap, SNAP_SET_TYPE, id) : NULL;
}

const jv *eng_type_property(const snap_element *type, const char *prop_id)
{
    const jv *props = type ? jv_get(type->json, "properties") : NULL;
    for (size_t i = 0; prop_id && i < jv_len(props); i++)
        if (str_ieq(jv_get_str(jv_at(props, i), "id"), prop_id))
            return jv_at(props, i);
    return NULL;
}

const jv *eng_type_property_by_name(const snap_element *type, const char *name)
{
    const jv *props = type ? jv_get(type->json, "properties") : NULL;
    for (size_t i = 0; name && i < jv_len(props); i++)
        if (str_ieq(jv_get_str(jv_at(props, i), "developerName"), name))
            return jv_at(props, i);
    return NULL;
}

static const char *value_content_type(const snap_element *v)
{
    const char *t = jv_get_str(v->json, "contentType");
    return t ? t : "ContentString";
}

static bool is_objectish(const char *content_type)
{
    return str_ieq(content_type, "ContentObject") || str_ieq(content_type, "ContentList");
}

const char *eng_ref_content_type(const flow_snapshot *snap, const jv *ref)
{
    const snap_element *v = eng_value_element(snap, ref_id(ref));
    if (!v)
        return "";
    const char *prop = jv_get_str(ref, "typeElementPropertyId");
    if (!prop)
        return value_content_type(v);
    const jv *p = eng_type_property(eng_type_element(snap, jv_get_str(v->json, "typeElementId")), prop);
    const char *t = jv_get_str(p, "contentType");
    return t ? t : "";
}

jv *eng_new_object(const flow_snapshot *snap, const char *type_id)
{
    const snap_element *t = eng_type_element(snap, type_id);
    jv *o = jv_new_object();
    char id[37];
    uuid_v4(id);
    jv_set_str(o, "internalId", id);
    jv_set_null(o, "externalId");
    jv_set_str(o, "developerName", t ? t->developer_name : "");
    jv_set_str(o, "typeElementId", type_id);
    jv_set_int(o, "order", 0);
    jv_set_bool(o, "isSelected", false);
    jv *props = jv_new_array();
    const jv *tp = t ? jv_get(t->json, "properties") : NULL;
    for (size_t i = 0; i < jv_len(tp); i++) {
        const jv *p = jv_at(tp, i);
        jv *q = jv_new_object();
        jv_set_str(q, "typeElementPropertyId", jv_get_str(p, "id"));
        jv_set_str(q, "developerName", jv_get_str(p, "developerName"));
        jv_set_str(q, "contentType", jv_get_str(p, "contentType"));
        jv_set_null(q, "contentValue");
        jv_set_null(q, "objectData");
        jv_push_take(props, q);
    }
    jv_set_take(o, "properties", props);
    return o;
}

/* ---- values ---- */

/* The stored or default {contentValue, objectData} of a value element (new object). */
static jv *value_whole(const flow_snapshot *snap, const jv *state, const snap_element *v)
{
    char key[256];
    lower_id(v->id, key);
    const jv *stored = jv_get(jv_get(state, "values"), key);
    jv *out = jv_new_object();
    jv_set_str(out, "contentType", value_content_type(v));
    if (stored) {
        jv_set(out, "contentValue", jv_get(stored, "contentValue") ? jv_get(stored, "contentValue") : NULL);
        if (!jv_get(out, "contentValue"))
            jv_set_null(out, "contentValue");
        const jv *od = jv_get(stored, "objectData");
        if (od)
            jv_set(out, "objectData", (jv *)od);
        else
            jv_set_null(out, "objectData");
    } else {
        const jv *d = jv_get(v->json, "defaultContentValue");
        if (jv_is_string(d))
            jv_set(out, "contentValue", (jv *)d);
        else
            jv_set_null(out, "contentValue");
        const jv *od = jv_get(v->json, "defaultObjectData");
        if (jv_is_array(od))
            jv_set_take(out, "objectData", jv_copy(od));
        else
            jv_set_null(out, "objectData");
    }
    return out;
}

/* Finds a property entry of an object by type property id (or, failing that, by its name). */
static jv *object_property(const flow_snapshot *snap, jv *obj, const char *type_id, const char *prop_id)
{
    jv *props = jv_get(obj, "properties");
    for (size_t i = 0; i < jv_len(props); i++)
        if (str_ieq(jv_get_str(jv_at(props, i), "typeElementPropertyId"), prop_id))
            return jv_at(props, i);
    const jv *tp = eng_type_property(eng_type_element(snap, type_id), prop_id);
    const char *name = jv_get_str(tp, "developerName");
    for (size_t i = 0; name && i < jv_len(props); i++)
        if (str_ieq(jv_get_str(jv_at(props, i), "developerName"), name))
            return jv_at(props, i);
    return NULL;
}

jv *engine_value_get(const flow_snapshot *snap, const jv *state, const jv *ref)
{
    const snap_element *v = eng_value_element(snap, ref_id(ref));
    if (!v)
        return NULL;
    jv *whole = value_whole(snap, state, v);
    const char *prop = jv_is_object(ref) ? jv_get_str(ref, "typeElementPropertyId") : NULL;
    if (!prop)
        return whole;
    jv *out = jv_new_object();
    jv_set_str(out, "contentType", eng_ref_content_type(snap, ref));
    jv *obj = jv_at(jv_get(whole, "objectData"), 0);
    jv *p = obj ? object_property(snap, obj, jv_get_str(v->json, "typeElementId"), prop) : NULL;
    if (p && jv_get(p, "contentValue"))
        jv_set(out, "contentValue", jv_get(p, "contentValue"));
    else
        jv_set_null(out, "contentValue");
    if (p && jv_is_array(jv_get(p, "objectData")))
        jv_set(out, "objectData", jv_get(p, "objectData"));
    else
        jv_set_null(out, "objectData");
    jv_free(whole);
    return out;
}

static void store_value(jv *state, const snap_element *v, const jv *content, const jv *objdata)
{
    jv *values = jv_get(state, "values");
    if (!jv_is_object(values)) {
        values = jv_new_object();
        jv_set_take(state, "values", values);
    }
    char key[256];
    lower_id(v->id, key);
    jv *e = jv_new_object();
    if (jv_is_string(content))
        jv_set(e, "contentValue", (jv *)content);
    else
        jv_set_null(e, "contentValue");
    if (jv_is_array(objdata))
        jv_set_take(e, "objectData", jv_copy(objdata));
    else
        jv_set_null(e, "objectData");
    jv_set_take(values, key, e);
}

/* Normalises objectData for the target: an object value keeps at most the first object. */
static jv *shape_objects(const char *content_type, const jv *od)
{
    if (!jv_is_array(od))
        return NULL;
    if (str_ieq(content_type, "ContentObject") && jv_len(od) > 1) {
        jv *a = jv_new_array();
        jv_push(a, jv_at(od, 0));
        return a;
    }
    return jv_copy(od);
}

static int value_set(engine_run *run, const jv *ref, const jv *val, sl_error *err);

int eng_value_set(engine_run *run, const jv *ref, const jv *val, sl_error *err)
{
    /* values are text on the wire; numbers and booleans that arrive as JSON become text */
    const jv *cv = jv_get(val, "contentValue");
    if (jv_is_number(cv) || jv_is_bool(cv)) {
        jv *copy = jv_copy(val);
        if (jv_is_bool(cv)) {
            jv_set_str(copy, "contentValue", jv_bool(cv) ? "true" : "false");
        } else {
            char n[32];
            jv_format_double(jv_num(cv), n);
            jv_set_str(copy, "contentValue", n);
        }
        int rc = value_set(run, ref, copy, err);
        jv_free(copy);
        return rc;
    }
    return value_set(run, ref, val, err);
}

static int value_set(engine_run *run, const jv *ref, const jv *val, sl_error *err)
{
    const flow_snapshot *snap = run->snap;
    const snap_element *v = eng_value_element(snap, ref_id(ref));
    if (!v)
        return sl_fail(err, SL_ENOTFOUND, "value", "no value with id %s", ref_id(ref) ? ref_id(ref) : "(none)");
    const char *prop = jv_is_object(ref) ? jv_get_str(ref, "typeElementPropertyId") : NULL;
    const jv *content = jv_get(val, "contentValue");
    const jv *od = jv_get(val, "objectData");
    if (!prop) {
        jv *shaped = shape_objects(value_content_type(v), od);
        store_value(run->state, v, content, shaped);
        jv_free(shaped);
        return 0;
    }
    if (!is_objectish(value_content_type(v)))
        return sl_fail(err, SL_EINVAL, "value", "value \"%s\" is not an object, so it has no properties",
                       v->developer_name);
    jv *whole = value_whole(snap, run->state, v);
    jv *arr = jv_get(whole, "objectData");
    const char *type_id = jv_get_str(v->json, "typeElementId");
    if (!jv_is_array(arr) || jv_len(arr) == 0) {
        arr = jv_new_array();
        jv_push_take(arr, eng_new_object(snap, type_id));
        jv_set_take(whole, "objectData", arr);
    }
    jv *obj = jv_at(arr, 0);
    jv *p = object_property(snap, obj, type_id, prop);
    if (!p) {
        const jv *tp = eng_type_property(eng_type_element(snap, type_id), prop);
        if (!tp) {
            jv_free(whole);
            return sl_fail(err, SL_ENOTFOUND, "value", "type of \"%s\" has no property %s", v->developer_name, prop);
        }
        p = jv_new_object();
        jv_set_str(p, "typeElementPropertyId", jv_get_str(tp, "id"));
        jv_set_str(p, "developerName", jv_get_str(tp, "developerName"));
        jv_set_str(p, "contentType", jv_get_str(tp, "contentType"));
        jv *props = jv_get(obj, "properties");
        if (!jv_is_array(props)) {
            props = jv_new_array();
            jv_set_take(obj, "properties", props);
        }
        jv_push_take(props, p);
    }
    if (jv_is_string(content))
        jv_set(p, "contentValue", (jv *)content);
    else
        jv_set_null(p, "contentValue");
    if (jv_is_array(od))
        jv_set_take(p, "objectData", jv_copy(od));
    else
        jv_set_null(p, "objectData");
    store_value(run->state, v, jv_get(whole, "contentValue"), arr);
    jv_free(whole);
    return 0;
}

char *eng_ref_string(const flow_snapshot *snap, const jv *state, const jv *ref)
{
    jv *v = engine_value_get(snap, state, ref);
    const char *s = jv_get_str(v, "contentValue");
    char *out = xstrdup(s ? s : "");
    jv_free(v);
    return out;
}

static void html_escape(buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '&': buf_puts(b, "&amp;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&#39;"); break;
        default: buf_putc(b, *s);
        }
    }
}

char *eng_substitute(const flow_snapshot *snap, const jv *state, const char *text)
{
    buf b;
    buf_init(&b, 4u << 20);
    const char *p = text ? text : "";
    while (*p) {
        const char *open = strstr(p, "{![");
        if (!open) {
            buf_puts(&b, p);
            break;
        }
        buf_append(&b, p, (size_t)(open - p));
        const char *name = open + 3;
        const char *close = strstr(name, "]");
        if (!close) {
            buf_puts(&b, open);
            break;
        }
        char vname[256], pname[256] = "";
        size_t n = (size_t)(close - name);
        snprintf(vname, sizeof vname, "%.*s", (int)(n < 255 ? n : 255), name);
        const char *after = close + 1;
        if (str_starts(after, ".[")) {
            const char *pn = after + 2;
            const char *pc = strstr(pn, "]");
            if (pc) {
                size_t m = (size_t)(pc - pn);
                snprintf(pname, sizeof pname, "%.*s", (int)(m < 255 ? m : 255), pn);
                after = pc + 1;
            }
        }
        if (*after != '}') { /* not a reference after all: keep the text */
            buf_append(&b, open, 3);
            p = open + 3;
            continue;
        }
        after++;
        const snap_element *v = eng_value_by_name(snap, vname);
        if (v) {
            jv *ref = jv_new_object();
            jv_set_str(ref, "id", v->id);
            if (pname[0]) {
                const jv *tp = eng_type_property_by_name(
                    eng_type_element(snap, jv_get_str(v->json, "typeElementId")), pname);
                jv_set_str(ref, "typeElementPropertyId", jv_get_str(tp, "id"));
            }
            if (!pname[0] || jv_get_str(ref, "typeElementPropertyId")) {
                char *s = eng_ref_string(snap, state, ref);
                html_escape(&b, s);
                free(s);
            }
            jv_free(ref);
        }
        p = after;
    }
    char *out = buf_take(&b);
    return out ? out : xstrdup("");
}

/* ---- comparisons ---- */

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int num(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

bool eng_parse_datetime(const char *s, int64_t *ms)
{
    /* YYYY-MM-DD[(T| )HH:MM[:SS[.fraction]][Z|±HH:MM]], real calendar dates only */
    if (!s || strlen(s) < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
        return false;
    int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2), h = 0, mi = 0, sec = 0;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return false;
    const char *p = s + 10;
    int64_t frac_ms = 0;
    long off = 0;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!digits(p, 2) || p[2] != ':' || !digits(p + 3, 2))
            return false;
        h = num(p, 2);
        mi = num(p + 3, 2);
        p += 5;
        if (*p == ':') {
            if (!digits(p + 1, 2))
                return false;
            sec = num(p + 1, 2);
            p += 3;
            if (*p == '.') {
                p++;
                if (!digits(p, 1))
                    return false;
                int n = 0, scale = 100;
                for (; *p >= '0' && *p <= '9'; p++, n++) {
                    if (n < 3)
                        frac_ms += (*p - '0') * scale;
                    scale /= 10;
                    if (n > 9)
                        return false;
                }
            }
        }
        if (*p == 'Z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            if (!digits(p + 1, 2) || p[3] != ':' || !digits(p + 4, 2))
                return false;
            int oh = num(p + 1, 2), om = num(p + 4, 2);
            if (oh > 23 || om > 59)
                return false;
            off = (oh * 60L + om) * 60L * (*p == '+' ? 1 : -1);
            p += 6;
        }
        if (h > 23 || mi > 59 || sec > 60)
            return false;
    }
    if (*p)
        return false;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - off) * 1000 + frac_ms;
    return true;
}

bool eng_parse_number(const char *s, double *out)
{
    /* decimal only: [+-]digits[.digits][(e|E)[+-]digits], surrounding spaces allowed; no nan,
     * inf or hex, which strtod would take */
    if (!s)
        return false;
    const char *p = s;
    while (*p == ' ')
        p++;
    const char *start = p;
    if (*p == '+' || *p == '-')
        p++;
    int nd = 0;
    while (*p >= '0' && *p <= '9')
        p++, nd++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, nd++;
    }
    if (nd == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    const char *end = p;
    while (*p == ' ')
        p++;
    if (*p)
        return false;
    char tmp[128];
    size_t n = (size_t)(end - start);
    if (n >= sizeof tmp)
        return false;
    memcpy(tmp, start, n);
    tmp[n] = 0;
    double v = strtod(tmp, NULL);
    if (v != v || v > 1.7976931348623157e308 || v < -1.7976931348623157e308)
        return false;
    *out = v;
    return true;
}

static bool parse_number(const char *s, double *out)
{
    return eng_parse_number(s, out);
}

static bool truthy(const char *s)
{
    return s && (str_ieq(s, "true") || str_eq(s, "1"));
}

static bool objects_empty(const jv *v)
{
    const jv *od = jv_get(v, "objectData");
    return !jv_is_array(od) || jv_len(od) == 0;
}

static const char *object_key(const jv *o)
{
    const char *k = jv_get_str(o, "externalId");
    return k && *k ? k : jv_get_str(o, "internalId");
}

/* Two objects are the same object when they share a key (externalId, else internalId); objects
 * without either are never the same as another. */
static bool same_object(const jv *a, const jv *b)
{
    const char *x = object_key(a), *y = object_key(b);
    return x && y && strcmp(x, y) == 0;
}

static bool objects_equal(const jv *a, const jv *b)
{
    const jv *x = jv_get(a, "objectData"), *y = jv_get(b, "objectData");
    size_t n = jv_len(x);
    if (n != jv_len(y))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!same_object(jv_at(x, i), jv_at(y, i)) && !jv_equal(jv_at(x, i), jv_at(y, i)))
            return false;
    return true;
}

static bool ci_contains(const char *h, const char *n)
{
    return strcasestr(h, n) != NULL;
}

int eng_compare(const char *criteria, const jv *left, const jv *right, bool *out, sl_error *err)
{
    const char *lt = jv_get_str(left, "contentType");
    const char *ls = jv_get_str(left, "contentValue"), *rs = jv_get_str(right, "contentValue");
    if (!criteria)
        return sl_fail(err, SL_EINVAL, "criteriaType", "a rule needs a criteriaType");
    if (str_ieq(criteria, "IS_EMPTY")) {
        bool empty = is_objectish(lt) ? objects_empty(left) : (!ls || !*ls);
        bool want = right ? truthy(rs) : true;
        *out = empty == want;
        return 0;
    }
    bool eq = str_ieq(criteria, "EQUAL"), ne = str_ieq(criteria, "NOT_EQUAL");
    if (is_objectish(lt)) {
        if (!eq && !ne)
            return sl_fail(err, SL_EINVAL, "criteriaType", "objects and lists support only IS_EMPTY, EQUAL and NOT_EQUAL, not %s",
                           criteria);
        *out = objects_equal(left, right) == eq;
        return 0;
    }
    ls = ls ? ls : "";
    rs = rs ? rs : "";
    int cmp;
    double a, b;
    int64_t ta, tb;
    bool ordering = str_ieq(criteria, "GREATER_THAN") || str_ieq(criteria, "GREATER_THAN_OR_EQUAL") ||
                    str_ieq(criteria, "LESS_THAN") || str_ieq(criteria, "LESS_THAN_OR_EQUAL");
    bool is_num = str_ieq(lt, "ContentNumber"), is_time = str_ieq(lt, "ContentDateTime") || str_ieq(lt, "ContentDate");
    if (ordering && ((is_num && !(parse_number(ls, &a) && parse_number(rs, &b))) ||
                     (is_time && !(eng_parse_datetime(ls, &ta) && eng_parse_datetime(rs, &tb))))) {
        *out = false; /* an empty or malformed number or date is neither smaller nor larger */
        return 0;
    }
    if (is_num && parse_number(ls, &a) && parse_number(rs, &b))
        cmp = a < b ? -1 : a > b ? 1 : 0;
    else if (str_ieq(lt, "ContentBoolean"))
        cmp = truthy(ls) == truthy(rs) ? 0 : truthy(ls) ? 1 : -1;
    else if ((str_ieq(lt, "ContentDateTime") || str_ieq(lt, "ContentDate")) && eng_parse_datetime(ls, &ta) &&
             eng_parse_datetime(rs, &tb))
        cmp = ta < tb ? -1 : ta > tb ? 1 : 0;
    else
        cmp = strcmp(ls, rs);
    if (eq)
        *out = cmp == 0;
    else if (ne)
        *out = cmp != 0;
    else if (str_ieq(criteria, "GREATER_THAN"))
        *out = cmp > 0;
    else if (str_ieq(criteria, "GREATER_THAN_OR_EQUAL"))
        *out = cmp >= 0;
    else if (str_ieq(criteria, "LESS_THAN"))
        *out = cmp < 0;
    else if (str_ieq(criteria, "LESS_THAN_OR_EQUAL"))
        *out = cmp <= 0;
    else if (str_ieq(criteria, "CONTAINS"))
        *out = ci_contains(ls, rs);
    else if (str_ieq(criteria, "STARTS_WITH"))
        *out = strncasecmp(ls, rs, strlen(rs)) == 0;
    else if (str_ieq(criteria, "ENDS_WITH"))
        *out = strlen(ls) >= strlen(rs) && strcasecmp(ls + strlen(ls) - strlen(rs), rs) == 0;
    else
        return sl_fail(err, SL_EINVAL, "criteriaType", "unknown criteriaType \"%s\"", criteria);
    return 0;
}

static int rule_eval(engine_run *run, const jv *rule, bool *out, sl_error *err)
{
    const jv *l = jv_get(rule, "leftValueElementToReferenceId");
    const jv *r = jv_get(rule, "rightValueElementToReferenceId");
    jv *lv = engine_value_get(run->snap, run->state, l);
    if (!lv)
        return sl_fail(err, SL_EINVAL, "rule", "a rule's left side names no value (%s)", ref_id(l) ? ref_id(l) : "none");
    jv *rv = NULL;
    if (ref_id(r)) {
        rv = engine_value_get(run->snap, run->state, r);
        if (!rv) {
            jv_free(lv);
            return sl_fail(err, SL_EINVAL, "rule", "a rule's right side names no value (%s)", ref_id(r));
        }
    }
    int rc = eng_compare(jv_get_str(rule, "criteriaType"), lv, rv, out, err);
    jv_free(lv);
    jv_free(rv);
    return rc;
}

static int comparison_depth(engine_run *run, const jv *c, bool *out, sl_error *err, int depth)
{
    if (depth > 32)
        return sl_fail(err, SL_EINVAL, "comparison", "comparisons nest deeper than 32 levels");
    bool is_or = str_ieq(jv_get_str(c, "comparisonType"), "OR");
    const jv *rules = jv_get(c, "rules"), *subs = jv_get(c, "comparisons");
    size_t n = jv_len(rules) + jv_len(subs);
    if (n == 0) {
        *out = true;
        return 0;
    }
    bool acc = !is_or;
    for (size_t i = 0; i < jv_len(rules); i++) {
        bool r;
        int rc = rule_eval(run, jv_at(rules, i), &r, err);
        if (rc)
            return rc;
        acc = is_or ? (acc || r) : (acc && r);
    }
    for (size_t i = 0; i < jv_len(subs); i++) {
        bool r;
        int rc = comparison_depth(run, jv_at(subs, i), &r, err, depth + 1);
        if (rc)
            return rc;
        acc = is_or ? (acc || r) : (acc && r);
    }
    *out = acc;
    return 0;
}

int eng_comparison(engine_run *run, const jv *comparison, bool *out, sl_error *err)
{
    if (!jv_is_object(comparison)) {
        *out = true;
        return 0;
    }
    return comparison_depth(run, comparison, out, err, 0);
}

/* ---- state creation ---- */

int engine_state_new(const flow_snapshot *snap, const jv *inputs, jv **state, sl_error *err)
{
    *state = NULL;
    jv *st = jv_new_object();
    jv_set_take(st, "values", jv_new_object());
    jv_set_str(st, "current", snap->start ? snap->start->id : snap->start_id);
    jv_set_str(st, "invokeType", "FORWARD");
    engine_run run = {.snap = snap, .state = st};
    for (size_t i = 0; i < jv_len(inputs); i++) {
        const jv *in = jv_at(inputs, i);
        const snap_element *v = eng_value_element(snap, jv_get_str(in, "valueElementId"));
        if (!v)
            v = eng_value_by_name(snap, jv_get_str(in, "developerName"));
        if (!v) {
            jv_free(st);
            return sl_fail(err, SL_EINVAL, "/inputs", "input %zu names no value of the flow (%s)", i,
                           jv_get_str(in, "developerName") ? jv_get_str(in, "developerName") : "no developerName");
        }
        const char *access = jv_get_str(v->json, "access");
        if (access && !str_ieq(access, "INPUT") && !str_ieq(access, "INPUT_OUTPUT")) {
            jv_free(st);
            return sl_fail(err, SL_EINVAL, "/inputs", "value \"%s\" is not an input of the flow (access %s)",
                           v->developer_name, access);
        }
        jv *ref = jv_new_object();
        jv_set_str(ref, "id", v->id);
        eng_value_set(&run, ref, in, err);
        jv_free(ref);
    }
    *state = st;
    return 0;
}

/* ---- operations ---- */

static const char *ref_command(const jv *op, const jv *ref, const char *flat)
{
    const char *c = jv_get_str(ref, "command");
    if (c && *c)
        return c;
    c = jv_get_str(op, flat);
    return c && *c ? c : NULL;
}

static int run_macro(engine_run *run, const char *macro_id, sl_error *err)
{
    const snap_element *m = snapshot_element(run->snap, SNAP_SET_MACRO, macro_id);
    if (!m)
        return sl_fail(err, SL_EINVAL, "macro", "operation names macro %s, which is not in the flow", macro_id);
    if (!run->svc || !run->svc->macro)
        return sl_fail(err, SL_ESTATE, "macro", "macros are not available in this engine");
    jv *values = jv_new_object();
    for (size_t i = 0; i < run->snap->n_elements[SNAP_SET_VALUE]; i++) {
        const snap_element *v = &run->snap->elements[SNAP_SET_VALUE][i];
        if (v->developer_name[0])
            jv_set_take(values, v->developer_name, value_whole(run->snap, run->state, v));
    }
    jv *changed = NULL;
    const char *code = jv_get_str(m->json, "code");
    int rc = run->svc->macro(run->svc->arg, code ? code : "", values, &changed, err);
    jv_free(values);
    if (rc) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return sl_fail(err, rc, "macro", "macro \"%s\": %s", m->developer_name, msg);
    }
    for (void *it = jv_obj_iter(changed); it; it = jv_obj_next(changed, it)) {
        const snap_element *v = eng_value_by_name(run->snap, jv_obj_key(it));
        if (!v)
            continue;
        jv *ref = jv_new_object();
        jv_set_str(ref, "id", v->id);
        rc = eng_value_set(run, ref, jv_obj_value(it), err);
        jv_free(ref);
        if (rc)
            break;
    }
    jv_free(changed);
    return rc;
}

/* The type an operation's target holds (for NEW). */
static const char *target_type(const flow_snapshot *snap, const jv *ref)
{
    const snap_element *v = eng_value_element(snap, ref_id(ref));
    if (!v)
        return NULL;
    const char *t = jv_get_str(v->json, "typeElementId");
    const char *prop = jv_get_str(ref, "typeElementPropertyId");
    if (prop) {
        const jv *p = eng_type_property(eng_type_element(snap, t), prop);
        return jv_get_str(p, "typeElementId");
    }
    return t;
}

static jv *value_of_objects(jv *objs)
{
    jv *v = jv_new_object();
    jv_set_null(v, "contentValue");
    jv_set_take(v, "objectData", objs);
    return v;
}

static int operation(engine_run *run, const jv *op, sl_error *err)
{
    const char *macro = jv_get_str(op, "macroElementToExecuteId");
    if (macro && *macro)
        return run_macro(run, macro, err);
    const jv *apply = jv_get(op, "valueElementToApplyId");
    const jv *refv = jv_get(op, "valueElementToReferenceId");
    if (!ref_id(apply))
        return sl_fail(err, SL_EINVAL, "operation", "operation %lld has no value to apply to",
                       (long long)jv_int(jv_get(op, "order")));
    const char *acmd = ref_command(op, apply, "valueElementToApplyCommand");
    const char *rcmd = ref_command(op, refv, "valueElementToReferenceCommand");
    if (!eng_value_element(run->snap, ref_id(apply)))
        return sl_fail(err, SL_EINVAL, "operation", "operation applies to value %s, which is not in the flow", ref_id(apply));
    jv *src = NULL;
    if (str_ieq(rcmd, "NEW") || (str_ieq(acmd, "NEW") && !ref_id(refv))) {
        const char *t = target_type(run->snap, apply);
        if (!t)
            return sl_fail(err, SL_EINVAL, "operation", "NEW needs an object or list value to create into");
        jv *a = jv_new_array();
        jv_push_take(a, eng_new_object(run->snap, t));
        src = value_of_objects(a);
    } else if (str_ieq(rcmd, "EMPTY") || str_ieq(acmd, "EMPTY")) {
        src = jv_new_object();
        jv_set_null(src, "contentValue");
        jv_set_null(src, "objectData");
    } else {
        if (!ref_id(refv))
            return sl_fail(err, SL_EINVAL, "operation", "operation %lld has no value to reference",
                           (long long)jv_int(jv_get(op, "order")));
        src = engine_value_get(run->snap, run->state, refv);
        if (!src)
            return sl_fail(err, SL_EINVAL, "operation", "operation references value %s, which is not in the flow",
                           ref_id(refv));
        const jv *od = jv_get(src, "objectData");
        if (str_ieq(rcmd, "GET_FIRST")) {
            jv *a = jv_new_array();
            if (jv_len(od))
                jv_push(a, jv_at(od, 0));
            jv *n = value_of_objects(a);
            jv_free(src);
            src = n;
        } else if (str_ieq(rcmd, "GET_NEXT")) {
            jv *cur = engine_value_get(run->snap, run->state, apply);
            const char *key = object_key(jv_at(jv_get(cur, "objectData"), 0));
            jv *a = jv_new_array();
            for (size_t i = 0; i < jv_len(od); i++) {
                if (!key) {
                    jv_push(a, jv_at(od, 0));
                    break;
                }
                if (str_eq(object_key(jv_at(od, i)), key)) { /* key is non-NULL here */
                    if (i + 1 < jv_len(od))
                        jv_push(a, jv_at(od, i + 1));
                    break;
                }
            }
            jv_free(cur);
            jv *n = value_of_objects(a);
            jv_free(src);
            src = n;
        }
    }
    int rc = 0;
    if (str_ieq(acmd, "ADD") || str_ieq(acmd, "REMOVE")) {
        bool add = str_ieq(acmd, "ADD");
        jv *cur = engine_value_get(run->snap, run->state, apply);
        const jv *have = jv_get(cur, "objectData");
        const jv *items = jv_get(src, "objectData");
        jv *out = jv_new_array();
        for (size_t i = 0; i < jv_len(have); i++) {
            bool hit = false;
            for (size_t j = 0; j < jv_len(items) && !hit; j++)
                hit = same_object(jv_at(have, i), jv_at(items, j));
            if (!hit)
                jv_push(out, jv_at(have, i));
        }
        if (add)
            for (size_t j = 0; j < jv_len(items); j++)
                jv_push(out, jv_at(items, j));
        jv *n = value_of_objects(out);
        rc = eng_value_set(run, apply, n, err);
        jv_free(n);
        jv_free(cur);
    } else {
        rc = eng_value_set(run, apply, src, err);
    }
    jv_free(src);
    return rc;
}

static int sort_by_order(const void *a, const void *b)
{
    int64_t x = jv_int(jv_get(*(jv *const *)a, "order")), y = jv_int(jv_get(*(jv *const *)b, "order"));
    return x < y ? -1 : x > y;
}

/* Enabled entries of an array member, sorted by "order" (stable by position). Borrowed items
 * in a malloc'd array. */
static size_t ordered(const jv *arr, const jv ***out)
{
    size_t n = jv_len(arr), k = 0;
    const jv **v = xcalloc(n ? n : 1, sizeof *v);
    for (size_t i = 0; i < n; i++)
        if (!jv_bool(jv_get(jv_at(arr, i), "disabled")))
            v[k++] = jv_at(arr, i);
    /* stable: insertion sort (lists are short) */
    for (size_t i = 1; i < k; i++)
        for (size_t j = i; j > 0 && sort_by_order(&v[j - 1], &v[j]) > 0; j--) {
            const jv *t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    *out = v;
    return k;
}

/* ---- service requests ---- */

int eng_apply_outputs(engine_run *run, const jv *ma, const jv *outputs, sl_error *err);

static const snap_element *service_of(engine_run *run, const char *id, sl_error *err)
{
    const snap_element *s = id ? snapshot_element(run->snap, SNAP_SET_SERVICE, id) : NULL;
    if (!s)
        sl_fail(err, SL_EINVAL, "service", "no service element %s in the flow", id ? id : "(none)");
    else if (!jv_get_str(s->json, "uri") || !*jv_get_str(s->json, "uri"))
        return sl_fail(err, SL_EINVAL, "service", "service \"%s\" has no uri", s->developer_name), NULL;
    return s;
}

/* A readable fault from a failed service call. */
static void service_fault(const engine_service_result *r, const snap_element *svc, const char *what, sl_error *err)
{
    const char *msg = jv_get_str(r->body, "message");
    if (r->status == 0)
        sl_fail(err, SL_EIO, "service", "service \"%s\" could not be reached for %s: %s", svc->developer_name, what,
                r->error[0] ? r->error : "no answer");
    else
        sl_fail(err, SL_EIO, "service", "service \"%s\" answered %ld to %s%s%s", svc->developer_name, r->status,
                what, msg ? ": " : "", msg ? msg : "");
}

static jv *engine_value_json(const flow_snapshot *snap, const char *name, const jv *v, const char *content_type)
{
    jv *e = jv_new_object();
    jv_set_str(e, "developerName", name);
    jv_set_str(e, "contentType", content_type);
    jv *cv = jv_get(v, "contentValue");
    if (cv)
        jv_set(e, "contentValue", cv);
    else
        jv_set_null(e, "contentValue");
    jv *od = jv_get(v, "objectData");
    if (jv_is_array(od))
        jv_set(e, "objectData", od);
    else
        jv_set_null(e, "objectData");
    return e;
}

/* The service element's configuration values, resolved from the flow's values (each entry
 * references a value element, as the ecosystem requires). */
jv *engine_configuration_values(const flow_snapshot *snap, const jv *state, const snap_element *svc)
{
    engine_run run = {.snap = snap, .state = (jv *)state};
    jv *out = jv_new_array();
    const jv *cvs = svc ? jv_get(svc->json, "configurationValues") : NULL;
    for (size_t i = 0; i < jv_len(cvs); i++) {
        const jv *c = jv_at(cvs, i);
        const jv *ref = jv_get(c, "valueElementToReferenceId");
        jv *v = ref_id(ref) ? engine_value_get(run.snap, run.state, ref) : NULL;
        const char *ct = jv_get_str(c, "contentType");
        jv_push_take(out, engine_value_json(run.snap, jv_get_str(c, "developerName"), v,
                                            ct ? ct : (v ? jv_get_str(v, "contentType") : "ContentString")));
        jv_free(v);
    }
    return out;
}

static jv *configuration_values(engine_run *run, const snap_element *svc)
{
    return engine_configuration_values(run->snap, run->state, svc);
}

static void base_request(engine_run *run, const snap_element *svc, jv *body)
{
    jv_set_str(body, "stateId", run->state_id);
    jv_set_str(body, "tenantId", run->tenant_id);
    jv_set_str(body, "culture", run->culture);
    jv_set_take(body, "configurationValues", configuration_values(run, svc));
}

/* Runs one message action. Returns 0 (done), 1 (WAIT: the state is parked) or an error. */
static int message_action(engine_run *run, const snap_map_element *el, const jv *ma, size_t index, sl_error *err)
{
    if (!run->svc || !run->svc->call)
        return sl_fail(err, SL_ESTATE, "service", "services cannot be called from here");
    const snap_element *svc = service_of(run, jv_get_str(ma, "serviceElementId"), err);
    if (!svc)
        return SL_EINVAL;
    const char *uri_part = jv_get_str(ma, "uriPart");
    if (!uri_part || !*uri_part)
        return sl_fail(err, SL_EINVAL, "messageAction", "message action \"%s\" has no uriPart",
                       jv_get_str(ma, "developerName") ? jv_get_str(ma, "developerName") : "");
    jv *body = jv_new_object();
    base_request(run, svc, body);
    char token[37];
    uuid_v4(token);
    jv_set_str(body, "token", token);
    if (run->svc->callback_uri)
        jv_set_str(body, "callbackUri", run->svc->callback_uri);
    jv *inputs = jv_new_array();
    const jv *ins = jv_get(ma, "inputs");
    for (size_t i = 0; i < jv_len(ins); i++) {
        const jv *in = jv_at(ins, i);
        const jv *ref = jv_get(in, "valueElementToReferenceId");
        jv *v = ref_id(ref) ? engine_value_get(run->snap, run->state, ref) : NULL;
        if (ref_id(ref) && !v) {
            jv_free(inputs);
            jv_free(body);
            return sl_fail(err, SL_EINVAL, "messageAction", "input \"%s\" references a value that is not in the flow",
                           jv_get_str(in, "developerName") ? jv_get_str(in, "developerName") : "");
        }
        const char *ct = jv_get_str(in, "contentType");
        jv_push_take(inputs, engine_value_json(run->snap, jv_get_str(in, "developerName"), v,
                                               ct ? ct : (v ? jv_get_str(v, "contentType") : "ContentString")));
        jv_free(v);
    }
    jv_set_take(body, "inputs", inputs);
    char path[512];
    snprintf(path, sizeof path, "%s%s", uri_part[0] == '/' ? "" : "/", uri_part);
    engine_service_result r = {0};
    run->svc->call(run->svc->arg, svc, "POST", path, body, &r);
    jv_free(body);
    if (r.status < 200 || r.status >= 300 || !jv_is_object(r.body)) {
        char what[300];
        snprintf(what, sizeof what, "message action \"%s\"", jv_get_str(ma, "developerName") ? jv_get_str(ma, "developerName") : uri_part);
        service_fault(&r, svc, what, err);
        jv_free(r.body);
        return SL_EIO;
    }
    const char *it = jv_get_str(r.body, "invokeType");
    if (str_ieq(it, "WAIT")) {
        jv *w = jv_new_object();
        jv_set_str(w, "element", el->id);
        jv_set_int(w, "action", (int64_t)index);
        jv_set_str(w, "token", token);
        const char *wm = jv_get_str(r.body, "waitMessage");
        jv_set_str(w, "message", wm ? wm : "Waiting for a service to finish");
        jv_set_take(run->state, "wait", w);
        jv_free(r.body);
        return 1;
    }
    int rc = 0;
    const jv *faults = jv_get(r.body, "rootFaults");
    if (jv_is_object(faults) && jv_obj_size(faults) > 0) {
        void *i0 = jv_obj_iter(faults);
        const char *m = jv_str(jv_obj_value(i0));
        rc = sl_fail(err, SL_EEXEC, "service", "service \"%s\" reported a fault: %s", svc->developer_name,
                     m ? m : jv_obj_key(i0));
        jv_free(r.body);
        return rc;
    }
    rc = eng_apply_outputs(run, ma, jv_get(r.body, "outputs"), err);
    jv_free(r.body);
    return rc;
}

int eng_apply_outputs(engine_run *run, const jv *ma, const jv *outputs, sl_error *err)
{
    const jv *outs = jv_get(ma, "outputs");
    for (size_t i = 0; i < jv_len(outs); i++) {
        const jv *o = jv_at(outs, i);
        const jv *ref = jv_get(o, "valueElementToApplyId");
        if (!ref_id(ref))
            continue;
        const char *name = jv_get_str(o, "developerName");
        for (size_t k = 0; k < jv_len(outputs); k++) {
            const jv *got = jv_at(outputs, k);
            if (!str_ieq(jv_get_str(got, "developerName"), name))
                continue;
            int rc = eng_value_set(run, ref, got, err);
            if (rc)
                return rc;
            break;
        }
    }
    return 0;
}

/* Runtime list filter from the design-time one: property ids become developer names and value
 * references become their current values. */
static jv *runtime_filter(engine_run *run, const snap_element *type, const jv *lf, int depth)
{
    jv *out = jv_new_object();
    if (!jv_is_object(lf) || depth > 8)
        return out;
    const char *ct = jv_get_str(lf, "comparisonType");
    jv_set_str(out, "comparisonType", ct ? ct : "AND");
    jv *where = jv_new_array();
    const jv *w = jv_get(lf, "where");
    for (size_t i = 0; i < jv_len(w); i++) {
        const jv *c = jv_at(w, i);
        jv *e = jv_new_object();
        const jv *p = eng_type_property(type, jv_get_str(c, "columnTypeElementPropertyId"));
        jv_set_str(e, "columnName", p ? jv_get_str(p, "developerName") : jv_get_str(c, "columnName"));
        jv_set_str(e, "criteriaType", jv_get_str(c, "criteriaType"));
        jv *v = engine_value_get(run->snap, run->state, jv_get(c, "valueElementToReferenceId"));
        if (v) {
            jv_set(e, "contentValue", jv_get(v, "contentValue"));
            jv_set(e, "value", jv_get(v, "contentValue"));
            if (jv_is_array(jv_get(v, "objectData")))
                jv_set(e, "objectData", jv_get(v, "objectData"));
        } else {
            jv_set_null(e, "contentValue");
        }
        jv_free(v);
        jv_push_take(where, e);
    }
    jv_set_take(out, "where", where);
    const jv *subs = jv_get(lf, "listFilters");
    if (jv_len(subs)) {
        jv *a = jv_new_array();
        for (size_t i = 0; i < jv_len(subs); i++)
            jv_push_take(a, runtime_filter(run, type, jv_at(subs, i), depth + 1));
        jv_set_take(out, "listFilters", a);
    }
    const jv *fid = jv_get(lf, "filterId");
    if (ref_id(fid)) {
        char *s = eng_ref_string(run->snap, run->state, fid);
        jv_set_str(out, "id", s);
        free(s);
    }
    const jv *ob = eng_type_property(type, jv_get_str(lf, "orderByTypeElementPropertyId"));
    if (ob) {
        jv_set_str(out, "orderByPropertyDeveloperName", jv_get_str(ob, "developerName"));
        const char *dir = jv_get_str(lf, "orderByDirectionType");
        jv_set_str(out, "orderByDirectionType", dir ? dir : "ASC");
    }
    if (jv_get(lf, "limit") && jv_int(jv_get(lf, "limit")) > 0)
        jv_set_int(out, "limit", jv_int(jv_get(lf, "limit")));
    if (jv_get(lf, "offset"))
        jv_set_int(out, "offset", jv_int(jv_get(lf, "offset")));
    const jv *search = jv_get(lf, "search");
    if (jv_is_string(search))
        jv_set(out, "search", (jv *)search);
    return out;
}

/* The runtime ObjectDataRequest for a design-time config (used by data actions and pages).
 * *svc_out gets the service element. NULL with err on a bad reference. */
jv *eng_object_data_request(engine_run *run, const jv *cfg, const snap_element **svc_out, sl_error *err)
{
    const snap_element *type = eng_type_element(run->snap, jv_get_str(cfg, "typeElementId"));
    if (!type)
        return sl_fail(err, SL_EINVAL, "objectDataRequest", "objectDataRequest names type %s, which is not in the flow",
                       jv_get_str(cfg, "typeElementId") ? jv_get_str(cfg, "typeElementId") : "(none)"),
               NULL;
    const char *sid = jv_get_str(cfg, "serviceElementId");
    if (!sid)
        sid = jv_get_str(type->json, "serviceElementId");
    const snap_element *svc = service_of(run, sid, err);
    if (!svc)
        return NULL;
    jv *r = jv_new_object();
    base_request(run, svc, r);
    jv_set_str(r, "typeElementBindingId", jv_get_str(cfg, "typeElementBindingId"));
    jv_set_str(r, "serviceElementId", svc->id);
    jv_set_str(r, "command", jv_get_str(cfg, "command"));
    jv *odt = jv_new_object();
    jv_set_str(odt, "typeElementId", type->id);
    jv_set_str(odt, "developerName", type->developer_name);
    jv *props = jv_new_array();
    const jv *tp = jv_get(type->json, "properties");
    for (size_t i = 0; i < jv_len(tp); i++) {
        jv *p = jv_new_object();
        jv_set_str(p, "developerName", jv_get_str(jv_at(tp, i), "developerName"));
        jv_push_take(props, p);
    }
    jv_set_take(odt, "properties", props);
    jv_set_take(r, "objectDataType", odt);
    jv_set_take(r, "listFilter", runtime_filter(run, type, jv_get(cfg, "listFilter"), 0));
    jv_set_null(r, "objectData");
    *svc_out = svc;
    return r;
}

static int data_action(engine_run *run, const jv *da, sl_error *err)
{
    if (!run->svc || !run->svc->call)
        return sl_fail(err, SL_ESTATE, "service", "services cannot be called from here");
    const char *crud = jv_get_str(da, "crudOperationType");
    const jv *target = jv_get(da, "valueElementToApplyId");
    if (!ref_id(target))
        target = jv_get(da, "valueElementToReferenceId");
    const char *name = jv_get_str(da, "developerName") ? jv_get_str(da, "developerName") : crud;
    if (!ref_id(target) || !eng_value_element(run->snap, ref_id(target)))
        return sl_fail(err, SL_EINVAL, "dataAction", "data action \"%s\" has no value to load into or save from",
                       name ? name : "");
    const snap_element *svc = NULL;
    jv *req = eng_object_data_request(run, jv_get(da, "objectDataRequest"), &svc, err);
    if (!req)
        return SL_EINVAL;
    const char *method = "POST", *path = "/data", *what = "Load";
    if (str_ieq(crud, "SAVE")) {
        method = "PUT";
        what = "Save";
    } else if (str_ieq(crud, "DELETE")) {
        path = "/data/delete";
        what = "Delete";
    } else if (!str_ieq(crud, "LOAD")) {
        jv_free(req);
        return sl_fail(err, SL_EINVAL, "dataAction", "data action \"%s\": unknown crudOperationType \"%s\"", name ? name : "",
                       crud ? crud : "");
    }
    if (!str_ieq(crud, "LOAD")) {
        jv *v = engine_value_get(run->snap, run->state, target);
        jv *od = jv_get(v, "objectData");
        jv_set(req, "objectData", jv_is_array(od) ? od : NULL);
        if (!jv_is_array(od))
            jv_set_take(req, "objectData", jv_new_array());
        jv_free(v);
    }
    engine_service_result r = {0};
    run->svc->call(run->svc->arg, svc, method, path, req, &r);
    jv_free(req);
    if (r.status < 200 || r.status >= 300 || !jv_is_object(r.body)) {
        char w[300];
        snprintf(w, sizeof w, "%s (data action \"%s\")", what, name ? name : "");
        service_fault(&r, svc, w, err);
        jv_free(r.body);
        return SL_EIO;
    }
    int rc = 0;
    if (!str_ieq(crud, "DELETE")) {
        const jv *od = jv_get(r.body, "objectData");
        jv *v = jv_new_object();
        jv_set_null(v, "contentValue");
        if (jv_is_array(od))
            jv_set(v, "objectData", (jv *)od);
        else
            jv_set_take(v, "objectData", jv_new_array());
        rc = eng_value_set(run, target, v, err);
        jv_free(v);
    }
    jv_free(r.body);
    return rc;
}

/* ---- movement ---- */

static const snap_outcome *fault_outcome(const snap_map_element *el)
{
    for (size_t i = 0; i < el->n_outcomes; i++)
        if (str_ieq(el->outcomes[i].developer_name, "FAULT") || str_ieq(el->outcomes[i].id, FAULT_OUTCOME_ID))
            return &el->outcomes[i];
    return NULL;
}

static void push_history(engine_run *run, const snap_map_element *el)
{
    jv *h = jv_get(run->state, "history");
    if (!jv_is_array(h)) {
        h = jv_new_array();
        jv_set_take(run->state, "history", h);
    }
    if (jv_len(h) >= ENGINE_HISTORY_MAX) {
        jv *n = jv_new_array();
        for (size_t i = jv_len(h) - ENGINE_HISTORY_MAX + 1; i < jv_len(h); i++)
            jv_push(n, jv_at(h, i));
        jv_set_take(run->state, "history", n);
        h = n;
    }
    jv *e = jv_new_object();
    jv_set_str(e, "id", el->id);
    jv_set_str(e, "developerName", el->developer_name);
    jv_set_int(e, "at", now_ms());
    jv_push_take(h, e);
}

/* Enters el (or resumes it at message action resume_at when >= 0) and moves on until the
 * state needs something. */
static engine_outcome enter(engine_run *run, const snap_map_element *el, long resume_at, const jv *wait_response)
{
    sl_error err = {0};
    for (;;) {
        if (++run->steps > ENGINE_MAX_STEPS) {
            eng_fault(run, "flow", "the flow entered %d elements without reaching a page; it probably loops (last: \"%s\")",
                      ENGINE_MAX_STEPS, el->developer_name);
            return ENGINE_FAULT;
        }
        jv_set_str(run->state, "current", el->id);
        jv_del(run->state, "wait");
        jv_del(run->state, "faults");
        int rc = 0;
        const char *fault_name = el->developer_name;
        if (el->kind == SNAP_EL_SUB_FLOW && resume_at < 0) {
            jv *s = jv_new_object();
            jv_set_str(s, "element", el->id);
            jv_set_take(run->state, "subflow", s);
            set_invoke_type(run, "SUBFLOW");
            return ENGINE_SUBFLOW;
        }
        if (el->kind == SNAP_EL_UNKNOWN || el->kind == SNAP_EL_WAIT) {
            rc = sl_fail(&err, SL_EINVAL, "element", "element \"%s\" has type \"%s\", which this engine does not run",
                         el->developer_name, el->element_type);
        }
        long first_msg = 0;
        if (!rc && resume_at < 0) {
            const jv **v;
            size_t n = ordered(jv_get(el->json, "dataActions"), &v);
            for (size_t i = 0; i < n && !rc; i++)
                rc = data_action(run, v[i], &err);
            free(v);
            if (!rc) {
                n = ordered(jv_get(el->json, "operations"), &v);
                for (size_t i = 0; i < n && !rc; i++)
                    rc = operation(run, v[i], &err);
                free(v);
            }
        } else if (!rc) {
            /* resuming after WAIT: apply the answer of action resume_at */
            const jv **v;
            size_t n = ordered(jv_get(el->json, "messageActions"), &v);
            if ((size_t)resume_at < n) {
                const jv *faults = jv_get(wait_response, "rootFaults");
                if (jv_is_object(faults) && jv_obj_size(faults)) {
                    void *i0 = jv_obj_iter(faults);
                    rc = sl_fail(&err, SL_EEXEC, "service", "the service reported a fault: %s",
                                 jv_str(jv_obj_value(i0)) ? jv_str(jv_obj_value(i0)) : jv_obj_key(i0));
                } else {
                    rc = eng_apply_outputs(run, v[resume_at], jv_get(wait_response, "outputs"), &err);
                }
            }
            free(v);
            first_msg = resume_at + 1;
        }
        if (!rc) {
            const jv **v;
            size_t n = ordered(jv_get(el->json, "messageActions"), &v);
            for (size_t i = (size_t)first_msg; i < n && !rc; i++) {
                rc = message_action(run, el, v[i], i, &err);
                if (rc == 1) {
                    free(v);
                    set_invoke_type(run, "WAIT");
                    return ENGINE_WAIT;
                }
                if (rc)
                    fault_name = jv_get_str(v[i], "developerName") ? jv_get_str(v[i], "developerName") : fault_name;
            }
            free(v);
        }
        resume_at = -1;
        const snap_outcome *next = NULL;
        if (rc) {
            next = fault_outcome(el);
            if (!next || !next->next) {
                eng_fault(run, fault_name, "%s", err.msg);
                return ENGINE_FAULT;
            }
        } else if (eng_is_ui(el->kind)) {
            push_history(run, el);
            if (el->n_outcomes == 0) {
                set_invoke_type(run, "DONE");
                return ENGINE_DONE;
            }
            set_invoke_type(run, "FORWARD");
            return ENGINE_UI;
        } else {
            if (el->n_outcomes == 0) {
                set_invoke_type(run, "DONE");
                return ENGINE_DONE;
            }
            for (size_t i = 0; i < el->n_outcomes && !next; i++) {
                const snap_outcome *o = &el->outcomes[i];
                if (fault_outcome(el) == o)
                    continue;
                bool ok = false;
                if (eng_comparison(run, o->comparison, &ok, &err) != 0) {
                    const snap_outcome *f = fault_outcome(el);
                    if (f && f->next) { /* a bad rule is a fault like any other */
                        next = f;
                        break;
                    }
                    eng_fault(run, el->developer_name, "outcome \"%s\": %s", o->developer_name, err.msg);
                    return ENGINE_FAULT;
                }
                if (ok)
                    next = o;
            }
            if (!next) {
                eng_fault(run, el->developer_name, "no outcome of \"%s\" applies to the current values",
                          el->developer_name);
                return ENGINE_FAULT;
            }
        }
        if (!next->next) {
            eng_fault(run, el->developer_name, "outcome \"%s\" of \"%s\" leads to element %s, which is not in the flow",
                      next->developer_name, el->developer_name, next->next_id ? next->next_id : "(none)");
            return ENGINE_FAULT;
        }
        el = next->next;
    }
}

static const snap_map_element *current(engine_run *run)
{
    return snapshot_map_element(run->snap, jv_get_str(run->state, "current"));
}

engine_outcome engine_forward(engine_run *run)
{
    const snap_map_element *el = current(run);
    if (!el) {
        eng_fault(run, "flow", "the state is at element %s, which is not in the flow",
                  jv_get_str(run->state, "current") ? jv_get_str(run->state, "current") : "(none)");
        return ENGINE_FAULT;
    }
    return enter(run, el, -1, NULL);
}

engine_outcome engine_resume_wait(engine_run *run, const jv *service_response)
{
    const snap_map_element *el = current(run);
    const jv *w = jv_get(run->state, "wait");
    if (!el || !w) {
        eng_fault(run, "flow", "the state is not waiting for a service");
        return ENGINE_FAULT;
    }
    return enter(run, el, (long)jv_int(jv_get(w, "action")), service_response);
}

/* Finds a navigation item by id in a (nested) item list. */
static const jv *nav_item(const jv *items, const char *id, int depth)
{
    for (size_t i = 0; depth < 8 && i < jv_len(items); i++) {
        const jv *it = jv_at(items, i);
        if (str_ieq(jv_get_str(it, "id"), id))
            return it;
        const jv *sub = nav_item(jv_get(it, "navigationItems"), id, depth + 1);
        if (sub)
            return sub;
    }
    return NULL;
}

static engine_outcome bad(engine_run *run, bool *bad_request, const char *fmt, const char *arg)
{
    *bad_request = true;
    char msg[400];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    eng_fault(run, "request", "%s", msg);
    return ENGINE_FAULT;
}

engine_outcome engine_invoke(engine_run *run, const jv *request, bool *bad_request)
{
    *bad_request = false;
    const char *it = jv_get_str(request, "invokeType");
    const snap_map_element *el = current(run);
    const char *st = engine_state_invoke_type(run->state);
    if (str_ieq(st, "DONE"))
        return ENGINE_DONE;
    if (str_ieq(st, "WAIT"))
        return ENGINE_WAIT;
    if (!el) {
        eng_fault(run, "flow", "the state is at an element that is not in the flow");
        return ENGINE_FAULT;
    }
    const jv *mr = jv_get(request, "mapElementInvokeRequest");
    const jv *inputs = jv_get(jv_get(mr, "pageRequest"), "pageComponentInputResponses");
    if (str_ieq(it, "NAVIGATE")) {
        const char *nav_id = jv_get_str(request, "navigationElementId");
        const char *item_id = jv_get_str(request, "selectedNavigationItemId");
        if (!item_id)
            item_id = jv_get_str(request, "selectedNavigationElementId");
        const snap_element *nav = nav_id ? snapshot_element(run->snap, SNAP_SET_NAVIGATION, nav_id) : NULL;
        if (!nav)
            return bad(run, bad_request, "NAVIGATE needs a navigationElementId of the flow (got %s)", nav_id);
        const jv *item = nav_item(jv_get(nav->json, "navigationItems"), item_id, 0);
        if (!item)
            return bad(run, bad_request, "navigation item %s is not in the navigation", item_id);
        const snap_map_element *to = snapshot_map_element(run->snap, jv_get_str(item, "locationMapElementId"));
        if (!to)
            return bad(run, bad_request, "navigation item \"%s\" leads to no map element", jv_get_str(item, "developerName"));
        return enter(run, to, -1, NULL);
    }
    if (str_ieq(it, "SYNC")) {
        run->sync = true;
        if (!eng_is_ui(el->kind))
            return bad(run, bad_request, "SYNC needs the state to be on a page; it is on \"%s\"", el->developer_name);
        page_apply_inputs(run, el, inputs, PAGE_SYNC);
        return ENGINE_UI;
    }
    if (!str_ieq(it, "FORWARD"))
        return bad(run, bad_request, "invokeType must be FORWARD, SYNC or NAVIGATE, not \"%s\"", it ? it : "(none)");
    const char *oid = jv_get_str(mr, "selectedOutcomeId");
    if (!oid || !*oid) {
        if (eng_is_ui(el->kind))
            return ENGINE_UI;
        return enter(run, el, -1, NULL);
    }
    if (!eng_is_ui(el->kind))
        return bad(run, bad_request, "an outcome can be chosen only on a page; the state is on \"%s\"", el->developer_name);
    const snap_outcome *o = snapshot_outcome(el, oid);
    if (!o)
        return bad(run, bad_request, "outcome %s is not an outcome of the current page", oid);
    if (o->binding == SNAP_BIND_SAVE) {
        if (page_apply_inputs(run, el, inputs, PAGE_SAVE) > 0)
            return ENGINE_INVALID;
    } else if (o->binding == SNAP_BIND_PARTIAL_SAVE) {
        page_apply_inputs(run, el, inputs, PAGE_PARTIAL);
    }
    /* the input is in the values now (or dropped): pages shown next read the values */
    jv_free(run->inputs_shown);
    run->inputs_shown = NULL;
    if (!o->next) {
        eng_fault(run, el->developer_name, "outcome \"%s\" leads to element %s, which is not in the flow",
                  o->developer_name, o->next_id ? o->next_id : "(none)");
        return ENGINE_FAULT;
    }
    return enter(run, o->next, -1, NULL);
}

/* ---- sub-flows ---- */

static const snap_map_element *subflow_element(const flow_snapshot *snap, const jv *state)
{
    const snap_map_element *el = snapshot_map_element(snap, jv_get_str(state, "current"));
    return el && el->kind == SNAP_EL_SUB_FLOW ? el : NULL;
}

bool engine_subflow_target(const flow_snapshot *snap, const jv *state, const char **flow_id, const char **version_id)
{
    const snap_map_element *el = subflow_element(snap, state);
    if (!el)
        return false;
    const jv *sf = jv_get(el->json, "subflow");
    const jv *fid = jv_get(sf, "flowId");
    *flow_id = jv_is_string(fid) ? jv_str(fid) : jv_get_str(fid, "id");
    *version_id = jv_is_object(fid) ? jv_get_str(fid, "versionId") : NULL;
    return *flow_id != NULL;
}

static const jv *arg_child_ref(const jv *arg)
{
    const jv *c = jv_get(arg, "valueElementInSubflowId");
    return c;
}

int engine_subflow_child(const flow_snapshot *parent_snap, const jv *parent_state, const flow_snapshot *child_snap,
                         jv **child_state, sl_error *err)
{
    const snap_map_element *el = subflow_element(parent_snap, parent_state);
    if (!el)
        return sl_fail(err, SL_ESTATE, "subflow", "the state is not at a sub-flow element");
    int rc = engine_state_new(child_snap, NULL, child_state, err);
    if (rc)
        return rc;
    engine_run child = {.snap = child_snap, .state = *child_state};
    const jv *args = jv_get(jv_get(el->json, "subflow"), "arguments");
    for (size_t i = 0; i < jv_len(args); i++) {
        const jv *a = jv_at(args, i);
        const jv *cref = arg_child_ref(a);
        const snap_element *cv = eng_value_element(child_snap, ref_id(cref));
        if (!cv)
            continue;
        const char *access = jv_get_str(cv->json, "access");
        if (access && !str_ieq(access, "INPUT") && !str_ieq(access, "INPUT_OUTPUT"))
            continue;
        jv *v = engine_value_get(parent_snap, parent_state, jv_get(a, "valueElementToApplyId"));
        if (v) {
            jv *r = jv_new_object();
            jv_set_str(r, "id", cv->id);
            eng_value_set(&child, r, v, err);
            jv_free(r);
        }
        jv_free(v);
    }
    return 0;
}

engine_outcome engine_resume_subflow(engine_run *run, const flow_snapshot *child_snap, const jv *child_state)
{
    const snap_map_element *el = subflow_element(run->snap, run->state);
    if (!el) {
        eng_fault(run, "flow", "the state is not at a sub-flow element");
        return ENGINE_FAULT;
    }
    sl_error err = {0};
    const jv *args = jv_get(jv_get(el->json, "subflow"), "arguments");
    for (size_t i = 0; i < jv_len(args); i++) {
        const jv *a = jv_at(args, i);
        const snap_element *cv = eng_value_element(child_snap, ref_id(arg_child_ref(a)));
        if (!cv)
            continue;
        const char *access = jv_get_str(cv->json, "access");
        if (!str_ieq(access, "OUTPUT") && !str_ieq(access, "INPUT_OUTPUT"))
            continue;
        jv *r = jv_new_object();
        jv_set_str(r, "id", cv->id);
        jv *v = engine_value_get(child_snap, child_state, r);
        jv_free(r);
        if (v && eng_value_set(run, jv_get(a, "valueElementToApplyId"), v, &err) != 0) {
            jv_free(v);
            eng_fault(run, el->developer_name, "sub-flow output: %s", err.msg);
            return ENGINE_FAULT;
        }
        jv_free(v);
    }
    jv_del(run->state, "subflow");
    set_invoke_type(run, "FORWARD");
    if (el->n_outcomes == 0) {
        set_invoke_type(run, "DONE");
        return ENGINE_DONE;
    }
    const snap_outcome *next = NULL;
    for (size_t i = 0; i < el->n_outcomes && !next; i++) {
        bool ok = false;
        if (fault_outcome(el) == &el->outcomes[i])
            continue;
        if (eng_comparison(run, el->outcomes[i].comparison, &ok, &err) != 0) {
            eng_fault(run, el->developer_name, "%s", err.msg);
            return ENGINE_FAULT;
        }
        if (ok)
            next = &el->outcomes[i];
    }
    if (!next || !next->next) {
        eng_fault(run, el->developer_name, "no outcome of sub-flow element \"%s\" leads anywhere", el->developer_name);
        return ENGINE_FAULT;
    }
    return enter(run, next->next, -1, NULL);
}

/* ---- responses ---- */

jv *engine_outputs(const flow_snapshot *snap, const jv *state)
{
    jv *out = jv_new_array();
    for (size_t i = 0; i < snap->n_elements[SNAP_SET_VALUE]; i++) {
        const snap_element *v = &snap->elements[SNAP_SET_VALUE][i];
        const char *access = jv_get_str(v->json, "access");
        if (!str_ieq(access, "OUTPUT") && !str_ieq(access, "INPUT_OUTPUT"))
            continue;
        jv *w = value_whole(snap, state, v);
        jv *e = engine_value_json(snap, v->developer_name, w, value_content_type(v));
        jv_set_str(e, "valueElementId", v->id);
        jv_set_str(e, "typeElementId", jv_get_str(v->json, "typeElementId"));
        jv_push_take(out, e);
        jv_free(w);
    }
    return out;
}

jv *engine_navigation_refs(const flow_snapshot *snap)
{
    jv *out = jv_new_array();
    for (size_t i = 0; i < snap->n_elements[SNAP_SET_NAVIGATION]; i++) {
        const snap_element *n = &snap->elements[SNAP_SET_NAVIGATION][i];
        jv *r = jv_new_object();
        jv_set_str(r, "id", n->id);
        jv_set_str(r, "developerName", n->developer_name);
        jv_set_bool(r, "persistState", jv_bool(jv_get(n->json, "persistState")));
        jv_set_bool(r, "persistValues", jv_bool(jv_get(n->json, "persistValues")));
        const char *pos = jv_get_str(n->json, "position");
        jv_set_str(r, "position", pos ? pos : "Top");
        jv_push_take(out, r);
    }
    return out;
}

jv *engine_response(engine_run *run, const char *state_token, const char *invoke_type, const char *parent_state_id)
{
    const flow_snapshot *snap = run->snap;
    const char *it = invoke_type ? invoke_type : engine_state_invoke_type(run->state);
    if (str_ieq(it, "SUBFLOW"))
        it = "FORWARD";
    jv *r = jv_new_object();
    jv_set_str(r, "culture", run->culture);
    jv_set_str(r, "stateId", run->state_id);
    jv_set_str(r, "parentStateId", parent_state_id);
    jv_set_str(r, "stateToken", state_token);
    jv *fid = jv_new_object();
    jv_set_str(fid, "id", snap->id);
    jv_set_str(fid, "versionId", snap->version_id);
    jv_set_take(r, "flowId", fid);
    jv_set_str(r, "flowName", snap->name);
    const snap_map_element *el = current(run);
    jv_set_str(r, "currentMapElementId", el ? el->id : NULL);
    jv_set_str(r, "invokeType", it);
    const jv *w = jv_get(run->state, "wait");
    jv_set_str(r, "waitMessage", str_ieq(it, "WAIT") ? (jv_get_str(w, "message") ? jv_get_str(w, "message") : "Please wait") : NULL);
    jv_set_null(r, "notAuthorizedMessage");
    jv_set_str(r, "statusCode", "200");
    jv_set_null(r, "authorizationContext");
    jv_set_take(r, "navigationElementReferences", engine_navigation_refs(snap));
    jv_set_bool(r, "isHistoricalNavigationEnabled", true);
    jv *mers = jv_new_array();
    if (el)
        jv_push_take(mers, page_render(run, el, state_token));
    jv_set_take(r, "mapElementInvokeResponses", mers);
    if (str_ieq(it, "DONE"))
        jv_set_take(r, "outputs", engine_outputs(snap, run->state));
    else
        jv_set_null(r, "outputs");
    return r;
}
