/* demo: the Flow side of `sluice demo` (see demo.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/demo.h"
#include "flow/install.h"
#include "flow/package.h"
#include "flow/run_internal.h"

int flow_demo_setup(flow_engine *e, const char *tenant_name, const char *service_url, const char *user,
                    const char *token, const char *package_file, flow_demo *out, sl_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = flowstore_tenant_ensure(e->fs, tenant_name, out->tenant_id, err);
    if (rc)
        return rc;
    /* install the service by its URL, as a builder would */
    jv *req = jv_new_object();
    jv_set_str(req, "uri", service_url);
    jv_set_str(req, "httpAuthenticationUsername", user);
    jv_set_str(req, "httpAuthenticationPassword", token);
    jv_set_str(req, "developerName", "Upload");
    install_engine eio = {.e = e, .attempts = 3};
    install_io io = {.post = install_engine_post, .arg = &eio};
    jv *result = NULL;
    int status = 0;
    rc = install_service(e->fs, out->tenant_id, req, NULL, &io, &result, &status, err);
    jv_free(req);
    if (rc)
        return rc;
    str_copy(out->service_id, jv_get_str(jv_get(result, "serviceElement"), "id"), sizeof out->service_id);
    jv_free(result);
    /* import the demo flow, bound to the installed service */
    char *text = NULL;
    size_t len = 0;
    rc = file_read(package_file, 64u << 20, &text, &len, err);
    if (rc)
        return rc;
    jv *doc = jv_parse(text, len, err);
    free(text);
    if (!doc)
        return sl_fail(err, SL_EINVAL, package_file, "the demo flow package is not JSON: %s", err->msg);
    package_options o = {.remap_ids = 0, .bind = 1, .uri_mapping = NULL, .strict = true};
    sl_problems problems;
    problems_init(&problems);
    result = NULL;
    rc = package_import(e->fs, out->tenant_id, doc, &o, package_file, &result, &problems, err);
    jv_free(doc);
    if (rc && problems.n)
        sl_fail(err, rc, problems.items[0].pointer, "the demo flow package does not import: %s%s",
                problems.items[0].message, problems.n > 1 ? " (and more)" : "");
    problems_free(&problems);
    if (rc) {
        jv_free(result);
        return rc;
    }
    str_copy(out->flow_id, jv_get_str(result, "flowId"), sizeof out->flow_id);
    out->flow_name = xstrdup(jv_get_str(result, "developerName") ? jv_get_str(result, "developerName") : "");
    jv_free(result);
    return flowstore_key_add(e->fs, out->tenant_id, "demo", &out->api_key, err);
}

void flow_demo_free(flow_demo *d)
{
    free(d->api_key);
    free(d->flow_name);
    memset(d, 0, sizeof *d);
}
