/* draw: the draw API (builders) and packages — work in progress. */
#include <stdlib.h>
#include <string.h>

#include "flow/run_internal.h"

typedef struct draw_job {
    flow_engine *e;
    http_request *req;
} draw_job;

static void draw_run(void *arg)
{
    draw_job *j = arg;
    char tenant[64];
    if (run_builder_auth(j->e, j->req, tenant) == 0) {
        if (strcmp(j->req->path, "/api/draw/1/element/service/install") == 0 && strcmp(j->req->method, "POST") == 0)
            install_handle(j->e, j->req, tenant, false, NULL);
        else
            run_problem(j->req, 501, "uri", "%s %s is not implemented yet", j->req->method, j->req->raw_path);
    }
    free(j);
}

void draw_on_request(flow_engine *e, http_request *req)
{
    if (strcmp(req->method, "OPTIONS") == 0) {
        run_cors(req);
        http_respond(req, 204, "text/plain", "", 0);
        return;
    }
    draw_job *j = calloc(1, sizeof *j);
    j->e = e;
    j->req = req;
    if (run_submit(e, req, draw_run, j) != 0)
        free(j);
}
