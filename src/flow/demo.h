/* demo: the Flow side of `sluice demo`, done through the paths a user would take.
 *
 * Design: with the server already listening, the demo tenant is created (or found), the Atom's
 * Flow Service is installed into it BY URL over HTTP with the demo user's token (install.h, the
 * same code the draw API's install runs), the demo flow package is imported with binding to that
 * installed service (package.h, as `sluice flow import` does), and a builder API key is issued.
 */
#ifndef SLUICE_FLOW_DEMO_H
#define SLUICE_FLOW_DEMO_H

#include "core/util.h"
#include "flow/run.h"

typedef struct flow_demo {
    char tenant_id[37];
    char flow_id[64];
    char service_id[37];
    char *api_key;  /* malloc'd */
    char *flow_name; /* malloc'd */
} flow_demo;

/* service_url: e.g. http://127.0.0.1:8080/fs/upload; package_file: the demo flow package.
 * Fills out (free with flow_demo_free). Returns 0 or an error with err. */
int flow_demo_setup(flow_engine *e, const char *tenant_name, const char *service_url, const char *user,
                    const char *token, const char *package_file, flow_demo *out, sl_error *err);
void flow_demo_free(flow_demo *d);

#endif
