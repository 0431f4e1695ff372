/* relay: the player's data and file requests relayed to services — work in progress. */
#include "flow/run_internal.h"

void relay_on_headers(flow_engine *e, http_request *req)
{
    req->max_body = 4u << 20;
}

void relay_on_request(flow_engine *e, http_request *req)
{
    run_problem(req, 501, "uri", "%s %s is not implemented yet", req->method, req->raw_path);
}
