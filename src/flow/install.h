/* install: installing a Flow Service into a tenant, and refreshing it.
 *
 * Design: install calls the service's describe (POST <uri>/metadata with a
 * DescribeServiceRequest, Basic credentials; POST <uri>/metadata/install as well when the first
 * answer carries no types) and turns the DescribeServiceResponse into elements of the tenant:
 * one SERVICE element (uri, credentials, configuration values, provides*, actions with their
 * inputs and outputs) and one TYPE element per described type, each with a binding to the
 * service. Ids are stable: installing again a service of the same developerName, or refreshing
 * it, keeps the service's id, each type's id (matched by developerName) and each property's id
 * (matched by developerName), so flows built on them keep working; a type the service no longer
 * describes is kept (flows may still use it) and reported as removed. The result reports what
 * changed. Configuration values must reference value elements (as in the real product): an
 * entry with a literal contentValue is refused with a message saying so.
 *
 * The URL is the request's uri, or the base URI of one of the tenant's known Atoms (atomName)
 * plus pathToService; either way without a trailing slash.
 */
#ifndef SLUICE_FLOW_INSTALL_H
#define SLUICE_FLOW_INSTALL_H

#include "core/json.h"
#include "core/util.h"
#include "flow/engine.h"
#include "flow/flowstore.h"

/* How install reaches the service: POST body (JSON) to url with Basic credentials; fills res. */
typedef struct install_io {
    void (*post)(void *arg, const char *url, const char *user, const char *password, const jv *body,
                 engine_service_result *res);
    void *arg;
} install_io;

/* install_io.post through a running engine's HTTP client (arg: an install_engine). */
typedef struct flow_engine flow_engine;
typedef struct install_engine {
    flow_engine *e;
    unsigned attempts; /* 0 means 1 */
} install_engine;
void install_engine_post(void *arg, const char *url, const char *user, const char *password, const jv *body,
                         engine_service_result *res);

/* Installs (refresh_id NULL) or refreshes (refresh_id = the service element's id) a service in
 * tenant_id. request: DescribeServiceInstallRequest {uri | atomName + pathToService,
 * httpAuthenticationUsername, httpAuthenticationPassword, configurationValues, developerName}
 * (for a refresh every member is optional: the stored ones are used). On success *result is
 * {serviceElement (with install.typeElements), changes:{typesAdded, typesRemoved,
 * propertiesAdded, propertiesRemoved, propertiesChanged, actionsAdded, actionsRemoved}} and 0 is
 * returned. On failure returns an error with err and *http_status set to the status to answer
 * (400 bad request, 404 unknown service/atom, 422 the service refused the credentials or
 * answered an error, 502 unreachable or not a describe answer). */
int install_service(flowstore *fs, const char *tenant_id, const jv *request, const char *refresh_id,
                    const install_io *io, jv **result, int *http_status, sl_error *err);

/* `sluice service install URL --tenant NAME [--user U --password P] [--name N]
 * [--config NAME=VALUE]... [--data DIR]`: installs through the same path as the draw API (no
 * server needed) and prints the service element id alone on stdout. argv[0] is "install". */
int install_cli(int argc, char **argv);

#endif
