/* install: service install and refresh (see install.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/http_client.h"
#include "flow/install.h"
#include "flow/run_internal.h"

/* ---- helpers ---- */

static char *trim_slashes(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '/')
        n--;
    return xstrndup(s, n);
}

static const jv *find_by_name(const jv *arr, const char *name)
{
    for (size_t i = 0; name && i < jv_len(arr); i++)
        if (str_eq(jv_get_str(jv_at(arr, i), "developerName"), name))
            return jv_at(arr, i);
    return NULL;
}

static const char *id_or_new(const jv *existing, char fresh[37])
{
    const char *id = jv_get_str(existing, "id");
    if (id && *id)
        return id;
    uuid_v4(fresh);
    return fresh;
}

/* The last path segment of a URL ("http://h:1/fs/upload" → "upload"). */
static char *default_name(const char *url)
{
    const char *slash = strrchr(url, '/');
    const char *seg = slash && slash[1] ? slash + 1 : url;
    return xstrdup(seg);
}

/* ---- describe ---- */

static int describe(const install_io *io, const char *name, const char *url, const char *user, const char *pass,
                    const jv *config, jv **out, int *status, sl_error *err)
{
    *out = NULL;
    jv *req = jv_new_object();
    jv_set_null(req, "culture");
    jv_set_str(req, "uri", url);
    jv_set(req, "configurationValues", config ? (jv *)config : NULL);
    if (!config)
        jv_set_take(req, "configurationValues", jv_new_array());
    engine_service_result r = {0};
    char *u = xasprintf("%s/metadata", url);
    io->post(io->arg, u, user, pass, req, &r);
    free(u);
    int rc = 0;
    const char *msg = jv_get_str(r.body, "message");
    if (r.status == 0) {
        *status = 502;
        rc = sl_fail(err, SL_EIO, "uri", "cannot reach service \"%s\" at %s: %s", name, url,
                     r.error[0] ? r.error : "no answer");
    } else if (r.status == 401 || r.status == 403) {
        *status = 422;
        rc = sl_fail(err, SL_EAUTH, "httpAuthenticationPassword",
                     "service \"%s\" at %s refused the credentials (HTTP %ld)%s%s: check the username and token", name,
                     url, r.status, msg ? ": " : "", msg ? msg : "");
    } else if (r.status == 404) {
        *status = 422;
        rc = sl_fail(err, SL_ENOTFOUND, "uri", "there is no Flow Service at %s (HTTP 404)%s%s: check the path to service",
                     url, msg ? ": " : "", msg ? msg : "");
    } else if (r.status < 200 || r.status >= 300) {
        *status = 422;
        rc = sl_fail(err, SL_EIO, "uri", "service \"%s\" at %s answered the describe with HTTP %ld%s%s", name, url,
                     r.status, msg ? ": " : "", msg ? msg : "");
    } else if (!jv_is_object(r.body) || (!jv_is_array(jv_get(r.body, "actions")) && !jv_get(r.body, "install") &&
                                         !jv_get(r.body, "providesLogic"))) {
        *status = 502;
        rc = sl_fail(err, SL_EIO, "uri", "service \"%s\" at %s did not answer with a DescribeServiceResponse", name,
                     url);
    }
    if (rc) {
        jv_free(r.body);
        jv_free(req);
        return rc;
    }
    /* the newer layout keeps the types behind /metadata/install */
    if (jv_len(jv_get(jv_get(r.body, "install"), "typeElements")) == 0) {
        engine_service_result r2 = {0};
        u = xasprintf("%s/metadata/install", url);
        io->post(io->arg, u, user, pass, req, &r2);
        free(u);
        const jv *types = jv_get(jv_get(r2.body, "install"), "typeElements");
        if (!types)
            types = jv_get(r2.body, "typeElements");
        if (r2.status >= 200 && r2.status < 300 && jv_is_array(types)) {
            jv *inst = jv_new_object();
            jv_set(inst, "typeElements", (jv *)types);
            jv_set_take(r.body, "install", inst);
        }
        jv_free(r2.body);
    }
    jv_free(req);
    *out = r.body;
    return 0;
}

/* ---- building elements ---- */

/* A type element for described type d, keeping ids of the old element (may be NULL). */
static jv *make_type(const jv *d, const jv *old, const char *service_id)
{
    char fresh[37];
    jv *t = jv_new_object();
    jv_set_str(t, "id", id_or_new(old, fresh));
    jv_set_str(t, "elementType", "TYPE");
    jv_set_str(t, "developerName", jv_get_str(d, "developerName"));
    jv_set_str(t, "developerSummary", jv_get_str(d, "developerSummary"));
    jv_set_str(t, "serviceElementId", service_id);
    jv *props = jv_new_array();
    const jv *dp = jv_get(d, "properties");
    for (size_t i = 0; i < jv_len(dp); i++) {
        const jv *p = jv_at(dp, i);
        const jv *op = find_by_name(jv_get(old, "properties"), jv_get_str(p, "developerName"));
        jv *q = jv_new_object();
        char f2[37];
        jv_set_str(q, "id", id_or_new(op, f2));
        jv_set_str(q, "developerName", jv_get_str(p, "developerName"));
        jv_set_str(q, "contentType", jv_get_str(p, "contentType"));
        jv_set_str(q, "contentFormat", jv_get_str(p, "contentFormat"));
        jv_set_null(q, "typeElementId"); /* resolved in a second pass */
        jv_set_str(q, "typeElementDeveloperName", jv_get_str(p, "typeElementDeveloperName"));
        jv_push_take(props, q);
    }
    jv_set_take(t, "properties", props);
    return t;
}

static const char *type_id_by_name(const jv *types, const char *name)
{
    const jv *t = find_by_name(types, name);
    return jv_get_str(t, "id");
}

static const char *prop_id_by_name(const jv *type, const char *name)
{
    return jv_get_str(find_by_name(jv_get(type, "properties"), name), "id");
}

/* Bindings of a described type, with ids kept from the old element. */
static jv *make_bindings(const jv *d, const jv *type, const jv *old, const char *service_id)
{
    jv *out = jv_new_array();
    const jv *db = jv_get(d, "bindings");
    size_t n = jv_len(db) ? jv_len(db) : 1;
    for (size_t i = 0; i < n; i++) {
        const jv *b = jv_at(db, i);
        const char *bname = b ? jv_get_str(b, "developerName") : jv_get_str(d, "developerName");
        const jv *ob = find_by_name(jv_get(old, "bindings"), bname);
        jv *r = jv_new_object();
        char fresh[37];
        jv_set_str(r, "id", id_or_new(ob, fresh));
        jv_set_str(r, "developerName", bname);
        const char *table = b ? jv_get_str(b, "databaseTableName") : NULL;
        jv_set_str(r, "databaseTableName", table ? table : jv_get_str(d, "developerName"));
        jv_set_str(r, "serviceElementId", service_id);
        jv_set_str(r, "typeElementId", jv_get_str(type, "id"));
        jv *pbs = jv_new_array();
        const jv *dpb = b ? jv_get(b, "propertyBindings") : NULL;
        const jv *props = jv_get(type, "properties");
        size_t m = b ? jv_len(dpb) : jv_len(props);
        for (size_t k = 0; k < m; k++) {
            const jv *pb = b ? jv_at(dpb, k) : NULL;
            const char *pname = pb ? jv_get_str(pb, "typeElementPropertyDeveloperName")
                                   : jv_get_str(jv_at(props, k), "developerName");
            if (!pname && pb)
                pname = jv_get_str(pb, "databaseFieldName");
            jv *q = jv_new_object();
            jv_set_str(q, "typeElementPropertyId", prop_id_by_name(type, pname));
            jv_set_str(q, "typeElementPropertyDeveloperName", pname);
            const char *field = pb ? jv_get_str(pb, "databaseFieldName") : pname;
            jv_set_str(q, "databaseFieldName", field ? field : pname);
            const char *ct = pb ? jv_get_str(pb, "databaseContentType") : NULL;
            jv_set_str(q, "databaseContentType",
                       ct ? ct : jv_get_str(find_by_name(props, pname), "contentType"));
            jv_push_take(pbs, q);
        }
        jv_set_take(r, "propertyBindings", pbs);
        jv_push_take(out, r);
    }
    return out;
}

/* Action inputs/outputs with typeElementId resolved from typeElementDeveloperName. */
static jv *resolve_params(const jv *arr, const jv *types)
{
    jv *out = jv_new_array();
    for (size_t i = 0; i < jv_len(arr); i++) {
        jv *p = jv_copy(jv_at(arr, i));
        const char *tn = jv_get_str(p, "typeElementDeveloperName");
        jv_set_str(p, "typeElementId", tn ? type_id_by_name(types, tn) : NULL);
        jv_push_take(out, p);
    }
    return out;
}

static void note(jv *changes, const char *key, jv *item)
{
    jv *a = jv_get(changes, key);
    jv_push_take(a, item);
}

static jv *pair(const char *type, const char *prop)
{
    jv *o = jv_new_object();
    jv_set_str(o, "type", type);
    jv_set_str(o, "property", prop);
    return o;
}

/* Checks the request's configuration values: each must reference a value element. Returns a
 * new array of {developerName, contentType, valueElementToReferenceId, order} or NULL (err). */
static jv *config_values(flowstore *fs, const char *tenant, const jv *cvs, const jv *described, sl_error *err)
{
    jv *out = jv_new_array();
    for (size_t i = 0; i < jv_len(cvs); i++) {
        const jv *c = jv_at(cvs, i);
        char where[64];
        snprintf(where, sizeof where, "/configurationValues/%zu", i);
        const jv *ref = jv_get(c, "valueElementToReferenceId");
        const char *vid = jv_is_string(ref) ? jv_str(ref) : jv_get_str(ref, "id");
        const char *name = jv_get_str(c, "developerName");
        if (!name) {
            jv_free(out);
            return sl_fail(err, SL_EINVAL, where, "a configuration value needs its developerName"), NULL;
        }
        if (!vid) {
            jv_free(out);
            return sl_fail(err, SL_EINVAL, where,
                           "configuration value \"%s\" must reference a value element (valueElementToReferenceId); "
                           "literal values are not accepted, create a value holding it first",
                           name),
                   NULL;
        }
        jv *v = NULL;
        sl_error e2 = {0};
        if (flowstore_element_get(fs, tenant, "value", vid, &v, &e2) != 0) {
            jv_free(out);
            return sl_fail(err, SL_EINVAL, where, "configuration value \"%s\" references value %s, which this tenant "
                           "does not have", name, vid),
                   NULL;
        }
        jv *e = jv_new_object();
        jv_set_str(e, "developerName", name);
        const char *ct = jv_get_str(find_by_name(described, name), "contentType");
        jv_set_str(e, "contentType", ct ? ct : jv_get_str(v, "contentType"));
        jv *r = jv_new_object();
        jv_set_str(r, "id", jv_get_str(v, "id"));
        jv_set_null(r, "typeElementPropertyId");
        jv_set_take(e, "valueElementToReferenceId", r);
        jv_set_int(e, "order", (int64_t)i);
        jv_push_take(out, e);
        jv_free(v);
    }
    return out;
}

/* Resolves config values to EngineValues for the describe call (their current defaults). */
static jv *config_for_describe(flowstore *fs, const char *tenant, const jv *cvs)
{
    jv *out = jv_new_array();
    for (size_t i = 0; i < jv_len(cvs); i++) {
        const jv *c = jv_at(cvs, i);
        jv *v = NULL;
        sl_error e2 = {0};
        flowstore_element_get(fs, tenant, "value", jv_get_str(jv_get(c, "valueElementToReferenceId"), "id"), &v, &e2);
        jv *e = jv_new_object();
        jv_set_str(e, "developerName", jv_get_str(c, "developerName"));
        jv_set_str(e, "contentType", jv_get_str(c, "contentType"));
        jv_set_str(e, "contentValue", jv_get_str(v, "defaultContentValue"));
        jv_push_take(out, e);
        jv_free(v);
    }
    return out;
}

int install_service(flowstore *fs, const char *tenant_id, const jv *request, const char *refresh_id,
                    const install_io *io, jv **result, int *http_status, sl_error *err)
{
    *result = NULL;
    *http_status = 400;
    if (!jv_is_object(request))
        return sl_fail(err, SL_EINVAL, "", "the request must be a JSON object");
    jv *old_svc = NULL;
    sl_error e2 = {0};
    if (refresh_id && flowstore_element_get(fs, tenant_id, "service", refresh_id, &old_svc, &e2) != 0) {
        *http_status = 404;
        return sl_fail(err, SL_ENOTFOUND, "id", "no service element %s in this tenant", refresh_id);
    }
    /* the URL */
    char *url = NULL;
    const char *atom = jv_get_str(request, "atomName");
    if (atom && *atom) {
        char *base = NULL;
        if (flowstore_atom_get(fs, tenant_id, atom, &base, err) != 0) {
            *http_status = 404;
            jv_free(old_svc);
            return SL_ENOTFOUND;
        }
        const char *path = jv_get_str(request, "pathToService");
        char *b = trim_slashes(base);
        char *joined = xasprintf("%s%s%s", b, path && path[0] == '/' ? "" : "/", path ? path : "");
        url = trim_slashes(joined);
        free(joined);
        free(b);
        free(base);
    } else if (jv_get_str(request, "uri")) {
        url = trim_slashes(jv_get_str(request, "uri"));
    } else if (old_svc && jv_get_str(old_svc, "uri")) {
        url = trim_slashes(jv_get_str(old_svc, "uri"));
    } else {
        jv_free(old_svc);
        return sl_fail(err, SL_EINVAL, "/uri", "say where the service is: uri, or atomName and pathToService");
    }
    if (!str_starts(url, "http://") && !str_starts(url, "https://")) {
        int rc = sl_fail(err, SL_EINVAL, "/uri", "the service URL must be http:// or https://, not \"%s\"", url);
        free(url);
        jv_free(old_svc);
        return rc;
    }
    const char *user = jv_get_str(request, "httpAuthenticationUsername");
    const char *pass = jv_get_str(request, "httpAuthenticationPassword");
    if (!user && old_svc)
        user = jv_get_str(old_svc, "httpAuthenticationUsername");
    if (!pass && old_svc)
        pass = jv_get_str(old_svc, "httpAuthenticationPassword");
    char *name = NULL;
    if (jv_get_str(request, "developerName") && *jv_get_str(request, "developerName"))
        name = xstrdup(jv_get_str(request, "developerName"));
    else if (old_svc)
        name = xstrdup(jv_get_str(old_svc, "developerName"));
    else
        name = default_name(url);
    /* an existing service of that name is updated in place (same id) */
    jv *services = NULL;
    flowstore_element_list(fs, tenant_id, "service", NULL, &services, &e2);
    if (!old_svc) {
        const jv *same = find_by_name(services, name);
        if (same)
            old_svc = jv_copy(same);
    }
    jv_free(services);
    const jv *req_cvs = jv_get(request, "configurationValues");
    jv *cvs = NULL;
    int rc = 0;
    jv *d = NULL;
    if (req_cvs && !jv_is_null(req_cvs)) {
        if (!jv_is_array(req_cvs)) {
            rc = sl_fail(err, SL_EINVAL, "/configurationValues", "configurationValues must be an array");
            goto out;
        }
        cvs = config_values(fs, tenant_id, req_cvs, NULL, err);
        if (!cvs) {
            rc = SL_EINVAL;
            goto out;
        }
    } else {
        cvs = old_svc && jv_is_array(jv_get(old_svc, "configurationValues")) ? jv_copy(jv_get(old_svc, "configurationValues"))
                                                                            : jv_new_array();
    }
    jv *dcv = config_for_describe(fs, tenant_id, cvs);
    rc = describe(io, name, url, user, pass, dcv, &d, http_status, err);
    jv_free(dcv);
    if (rc)
        goto out;
    char sid_fresh[37];
    const char *sid = id_or_new(old_svc, sid_fresh);
    /* types: by developerName, ids kept */
    jv *old_types = NULL;
    flowstore_element_list(fs, tenant_id, "type", NULL, &old_types, &e2);
    jv *mine = jv_new_array(); /* old types bound to this service */
    for (size_t i = 0; i < jv_len(old_types); i++)
        if (str_ieq(jv_get_str(jv_at(old_types, i), "serviceElementId"), sid))
            jv_push(mine, jv_at(old_types, i));
    const jv *dtypes = jv_get(jv_get(d, "install"), "typeElements");
    jv *types = jv_new_array();
    jv *changes = jv_new_object();
    static const char *const keys[] = {"typesAdded", "typesRemoved", "propertiesAdded", "propertiesRemoved",
                                       "propertiesChanged", "actionsAdded", "actionsRemoved", NULL};
    for (int k = 0; keys[k]; k++)
        jv_set_take(changes, keys[k], jv_new_array());
    for (size_t i = 0; i < jv_len(dtypes); i++) {
        const jv *dt = jv_at(dtypes, i);
        const char *tn = jv_get_str(dt, "developerName");
        if (!tn || !*tn)
            continue;
        const jv *old = find_by_name(mine, tn);
        jv_push_take(types, make_type(dt, old, sid));
        if (!old) {
            if (old_svc)
                note(changes, "typesAdded", jv_new_str(tn));
            continue;
        }
        const jv *np = jv_get(dt, "properties"), *op = jv_get(old, "properties");
        for (size_t k = 0; k < jv_len(np); k++) {
            const char *pn = jv_get_str(jv_at(np, k), "developerName");
            const jv *o = find_by_name(op, pn);
            if (!o)
                note(changes, "propertiesAdded", pair(tn, pn));
            else if (!str_eq(jv_get_str(o, "contentType"), jv_get_str(jv_at(np, k), "contentType"))) {
                jv *c = pair(tn, pn);
                jv_set_str(c, "from", jv_get_str(o, "contentType"));
                jv_set_str(c, "to", jv_get_str(jv_at(np, k), "contentType"));
                note(changes, "propertiesChanged", c);
            }
        }
        for (size_t k = 0; k < jv_len(op); k++) {
            const char *pn = jv_get_str(jv_at(op, k), "developerName");
            if (!find_by_name(np, pn))
                note(changes, "propertiesRemoved", pair(tn, pn));
        }
    }
    for (size_t i = 0; i < jv_len(mine); i++) {
        const char *tn = jv_get_str(jv_at(mine, i), "developerName");
        if (!find_by_name(types, tn))
            note(changes, "typesRemoved", jv_new_str(tn));
    }
    /* second pass: nested type references and bindings */
    for (size_t i = 0; i < jv_len(types); i++) {
        jv *t = jv_at(types, i);
        jv *props = jv_get(t, "properties");
        for (size_t k = 0; k < jv_len(props); k++) {
            jv *p = jv_at(props, k);
            const char *tn = jv_get_str(p, "typeElementDeveloperName");
            if (tn)
                jv_set_str(p, "typeElementId", type_id_by_name(types, tn));
        }
        const jv *dt = find_by_name(dtypes, jv_get_str(t, "developerName"));
        jv_set_take(t, "bindings", make_bindings(dt, t, find_by_name(mine, jv_get_str(t, "developerName")), sid));
    }
    /* the service element */
    jv *svc = jv_new_object();
    jv_set_str(svc, "id", sid);
    jv_set_str(svc, "elementType", "SERVICE");
    jv_set_str(svc, "developerName", name);
    jv_set_str(svc, "developerSummary", jv_get_str(request, "developerSummary"));
    jv_set_str(svc, "uri", url);
    jv_set_str(svc, "format", "json");
    jv_set_str(svc, "httpAuthenticationUsername", user);
    jv_set_str(svc, "httpAuthenticationPassword", pass);
    jv_set(svc, "configurationValues", cvs);
    static const char *const provides[] = {"providesDatabase", "providesFiles", "providesIdentity", "providesLogic",
                                           "providesListening", "providesSocial", "providesViews", "providesVoting",
                                           "providesSmartSave", "providesAutoBinding", "providesNotifications",
                                           "providesSharing", NULL};
    for (int k = 0; provides[k]; k++)
        jv_set_bool(svc, provides[k], jv_bool(jv_get(d, provides[k])));
    jv *actions = jv_new_array();
    const jv *da = jv_get(d, "actions");
    for (size_t i = 0; i < jv_len(da); i++) {
        const jv *a = jv_at(da, i);
        jv *r = jv_new_object();
        jv_set_str(r, "uriPart", jv_get_str(a, "uriPart"));
        jv_set_str(r, "developerName", jv_get_str(a, "developerName"));
        jv_set_str(r, "developerSummary", jv_get_str(a, "developerSummary"));
        jv_set_bool(r, "isViewMessageAction", jv_bool(jv_get(a, "isViewMessageAction")));
        jv_set_take(r, "serviceInputs", resolve_params(jv_get(a, "serviceInputs"), types));
        jv_set_take(r, "serviceOutputs", resolve_params(jv_get(a, "serviceOutputs"), types));
        jv_set_take(r, "serviceActionOutcomes", jv_is_array(jv_get(a, "serviceActionOutcomes"))
                                                     ? jv_copy(jv_get(a, "serviceActionOutcomes"))
                                                     : jv_new_array());
        jv_push_take(actions, r);
        if (old_svc && !find_by_name(jv_get(old_svc, "actions"), jv_get_str(a, "developerName")))
            note(changes, "actionsAdded", jv_new_str(jv_get_str(a, "developerName")));
    }
    const jv *oa = old_svc ? jv_get(old_svc, "actions") : NULL;
    for (size_t i = 0; i < jv_len(oa); i++)
        if (!find_by_name(actions, jv_get_str(jv_at(oa, i), "developerName")))
            note(changes, "actionsRemoved", jv_new_str(jv_get_str(jv_at(oa, i), "developerName")));
    jv_set_take(svc, "actions", actions);
    /* store: one transaction for the service and its types */
    store *db = flowstore_db(fs);
    rc = store_tx_begin(db, err);
    if (!rc)
        rc = flowstore_element_put(fs, tenant_id, "service", NULL, svc, err);
    for (size_t i = 0; !rc && i < jv_len(types); i++)
        rc = flowstore_element_put(fs, tenant_id, "type", NULL, jv_at(types, i), err);
    if (rc) {
        store_tx_rollback(db);
        *http_status = rc == SL_ESTATE ? 409 : 500;
    } else {
        rc = store_tx_commit(db, err);
        if (rc)
            *http_status = 500;
    }
    if (!rc) {
        jv *inst = jv_new_object();
        jv_set(inst, "typeElements", types);
        jv_set_take(svc, "install", inst);
        jv *res = jv_new_object();
        jv_set(res, "serviceElement", svc);
        jv_set(res, "changes", changes);
        *result = res;
        *http_status = 200;
    }
    jv_free(svc);
    jv_free(types);
    jv_free(changes);
    jv_free(mine);
    jv_free(old_types);
out:
    jv_free(d);
    jv_free(cvs);
    jv_free(old_svc);
    free(name);
    free(url);
    return rc;
}

/* ---- over HTTP (draw API) ---- */

void install_engine_post(void *arg, const char *url, const char *user, const char *password, const jv *body,
                         engine_service_result *res)
{
    const install_engine *io = arg;
    run_http_req rq = {.method = "POST", .base_uri = url, .username = user, .password = password, .body = body,
                       .body_fd = -1, .attempts = io->attempts ? io->attempts : 1, .timeout_ms = 30000};
    run_http(io->e, &rq, res);
}

void install_handle(flow_engine *e, http_request *req, const char *tenant, bool refresh, const char *service_id)
{
    sl_error err = {0};
    jv *body = NULL;
    if (req->body_len) {
        body = jv_parse(req->body, req->body_len, &err);
        if (!body) {
            run_problem(req, 400, err.where, "the request body is not valid JSON: %s", err.msg);
            return;
        }
    } else if (refresh) {
        body = jv_new_object();
    } else {
        run_problem(req, 400, "", "an install needs a DescribeServiceInstallRequest body");
        return;
    }
    install_engine eio = {.e = e, .attempts = 1};
    install_io io = {.post = install_engine_post, .arg = &eio};
    jv *result = NULL;
    int status = 400;
    int rc = install_service(e->fs, tenant, body, refresh ? service_id : NULL, &io, &result, &status, &err);
    jv_free(body);
    if (rc) {
        run_problem(req, status, err.where, "%s", err.msg);
        return;
    }
    run_redact_service(jv_get(result, "serviceElement"));
    run_respond(req, 200, result);
}

/* ---- CLI ---- */

static void cli_post(void *arg, const char *url, const char *user, const char *password, const jv *body,
                     engine_service_result *res)
{
    memset(res, 0, sizeof *res);
    char *auth = http_basic_header(user, password);
    const char *headers[] = {"Content-Type: application/json", "Accept: application/json", auth, NULL};
    char *text = jv_dumps(body);
    http_client_opts o = {.timeout_ms = 30000, .max_attempts = 1, .max_response = 32u << 20};
    http_client_reply r;
    http_client_call(arg, "POST", url, headers, text, strlen(text), -1, 0, &o, &r);
    res->status = r.status;
    if (r.body && r.len) {
        sl_error err = {0};
        res->body = jv_parse(r.body, r.len, &err);
    }
    snprintf(res->error, sizeof res->error, "%s", r.error);
    http_client_reply_free(&r);
    free(text);
    free(auth);
}

static const char *take_value(int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    const char *eq = strchr(a, '=');
    if (str_starts(a, "--") && eq)
        return eq + 1;
    if (*i + 1 >= argc)
        return NULL;
    return argv[++*i];
}

static bool opt(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == 0 || a[n] == '=');
}

int install_cli(int argc, char **argv)
{
    const char *url = NULL, *tenant = NULL, *user = NULL, *pass = NULL, *name = NULL, *data = "./sluice-data";
    const char *configs[32];
    int nconf = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = opt(a, "--tenant") ? &tenant : opt(a, "--user") ? &user
                            : opt(a, "--password") || opt(a, "--token") ? &pass
                            : opt(a, "--name") ? &name : opt(a, "--data") ? &data : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: sluice service install URL --tenant NAME [--user U --token T] [--name NAME]\n"
                   "                              [--config NAME=VALUE]... [--data DIR]\n"
                   "  Calls the Flow Service's describe at URL (e.g. http://127.0.0.1:8080/fs/upload) with the\n"
                   "  credentials, stores the service and its generated types in the tenant (created when new),\n"
                   "  and prints the service element id alone on stdout. Installing again updates it in place.\n");
            return 0;
        } else if (slot) {
            if (!(*slot = take_value(argc, argv, &i))) {
                fprintf(stderr, "sluice service install: %s needs a value\n", a);
                return 2;
            }
        } else if (opt(a, "--config")) {
            const char *v = take_value(argc, argv, &i);
            if (!v || !strchr(v, '=') || nconf == 32) {
                fprintf(stderr, "sluice service install: --config needs NAME=VALUE (at most 32)\n");
                return 2;
            }
            configs[nconf++] = v;
        } else if (a[0] == '-') {
            fprintf(stderr, "sluice service install: unknown option %s\n", a);
            return 2;
        } else if (!url) {
            url = a;
        } else {
            fprintf(stderr, "sluice service install: one URL only\n");
            return 2;
        }
    }
    if (!url || !tenant || !*tenant) {
        fprintf(stderr, "usage: sluice service install URL --tenant NAME [--user U --token T] [--name NAME] "
                        "[--config NAME=VALUE]... [--data DIR]\n");
        return 2;
    }
    sl_error err = {0};
    flowstore *fs = NULL;
    char tid[37];
    if (flowstore_open(data, &fs, &err) != 0 || flowstore_tenant_ensure(fs, tenant, tid, &err) != 0) {
        fprintf(stderr, "sluice service install: %s\n", err.msg);
        flowstore_close(fs);
        return 1;
    }
    jv *req = jv_new_object();
    jv_set_str(req, "uri", url);
    jv_set_str(req, "httpAuthenticationUsername", user);
    jv_set_str(req, "httpAuthenticationPassword", pass);
    if (name)
        jv_set_str(req, "developerName", name);
    int rc = 0;
    if (nconf) {
        /* configuration values reference values: one value element per config value */
        char *svc_name = name ? xstrdup(name) : default_name(url);
        jv *cvs = jv_new_array();
        for (int i = 0; i < nconf && !rc; i++) {
            const char *eq = strchr(configs[i], '=');
            char *cn = xstrndup(configs[i], (size_t)(eq - configs[i]));
            char *vn = xasprintf("%s: %s", svc_name, cn);
            jv *values = NULL;
            flowstore_element_list(fs, tid, "value", NULL, &values, &err);
            const jv *same = find_by_name(values, vn);
            jv *v = same ? jv_copy(same) : jv_new_object();
            jv_free(values);
            jv_set_str(v, "elementType", "VARIABLE");
            jv_set_str(v, "developerName", vn);
            jv_set_str(v, "contentType", "ContentString");
            jv_set_str(v, "access", "PRIVATE");
            jv_set_str(v, "defaultContentValue", eq + 1);
            rc = flowstore_element_put(fs, tid, "value", NULL, v, &err);
            jv *c = jv_new_object();
            jv_set_str(c, "developerName", cn);
            jv_set_str(c, "valueElementToReferenceId", jv_get_str(v, "id"));
            jv_push_take(cvs, c);
            jv_free(v);
            free(vn);
            free(cn);
        }
        jv_set_take(req, "configurationValues", cvs);
        free(svc_name);
    }
    jv *result = NULL;
    int status = 0;
    http_client *c = http_client_start();
    install_io io = {.post = cli_post, .arg = c};
    if (!rc)
        rc = install_service(fs, tid, req, NULL, &io, &result, &status, &err);
    http_client_stop(c, 1000);
    if (rc) {
        fprintf(stderr, "sluice service install: %s\n", err.msg);
    } else {
        printf("%s\n", jv_get_str(jv_get(result, "serviceElement"), "id"));
        const jv *types = jv_get(jv_get(jv_get(result, "serviceElement"), "install"), "typeElements");
        fprintf(stderr, "installed \"%s\" (%zu types, %zu actions)\n",
                jv_get_str(jv_get(result, "serviceElement"), "developerName"), jv_len(types),
                jv_len(jv_get(jv_get(result, "serviceElement"), "actions")));
    }
    jv_free(result);
    jv_free(req);
    flowstore_close(fs);
    return rc ? 1 : 0;
}
