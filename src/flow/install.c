/* install: service install and refresh — work in progress. */
#include "flow/run_internal.h"

void install_handle(flow_engine *e, http_request *req, const char *tenant, bool refresh, const char *service_id)
{
    run_problem(req, 501, "uri", "service install is not implemented yet");
}
