/* Fuzz target: the component validator and linker (profiles, processes, Flow Services).
 * The input is one component document; it is deployed together with the example profiles so
 * processes and services have something to link against. Every input must either deploy or be
 * rejected with problems — never crash, leak or hang. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atom/deploy.h"

static const char base_profiles[] =
    "[{\"component\":\"profile\",\"name\":\"Greet Request\",\"root\":{\"name\":\"R\",\"type\":\"Object\",\"children\":["
    "{\"name\":\"Name\",\"type\":\"Character\"},{\"name\":\"Language\",\"type\":\"Character\"},"
    "{\"name\":\"Lines\",\"type\":\"Array\",\"children\":[{\"name\":\"Qty\",\"type\":\"Number\"}]}]}},"
    "{\"component\":\"profile\",\"name\":\"Greet Response\",\"root\":{\"name\":\"R\",\"type\":\"Object\",\"children\":["
    "{\"name\":\"Message\",\"type\":\"Character\"},{\"name\":\"When\",\"type\":\"DateTime\"},"
    "{\"name\":\"Items\",\"type\":\"Array\",\"children\":[{\"name\":\"Total\",\"type\":\"Number\"}]}]}},"
    "{\"component\":\"process\",\"name\":\"Greet\",\"shapes\":[{\"id\":\"s\",\"type\":\"start\",\"connector\":\"flowservices\","
    "\"action\":\"Listen\",\"operation\":{\"serviceType\":\"Message Action\",\"requestProfile\":\"Greet Request\","
    "\"responseProfile\":\"Greet Response\"},\"next\":\"r\"},{\"id\":\"r\",\"type\":\"return\"}]}]";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jv *doc = jv_parse((const char *)data, size, NULL);
    if (!doc)
        return 0;
    jv *base = jv_parse(base_profiles, sizeof base_profiles - 1, NULL);
    jv *comps = jv_new_array();
    for (size_t i = 0; i < jv_len(base); i++) {
        jv *c = jv_new_object();
        jv_set_str(c, "file", "base.json");
        jv_set(c, "doc", jv_at(base, i));
        jv_push_take(comps, c);
    }
    jv *c = jv_new_object();
    jv_set_str(c, "file", "fuzz.json");
    jv_set_take(c, "doc", doc);
    jv_push_take(comps, c);
    jv *bundle = jv_new_object();
    jv_set_take(bundle, "components", comps);
    sl_problems problems;
    problems_init(&problems);
    deployment *d = NULL;
    if (deploy_build(bundle, "/nonexistent-sluice-fuzz", &d, &problems) == 0)
        deploy_unref(d);
    buf b;
    buf_init(&b, 1u << 20);
    deploy_format_problems(&problems, &b);
    buf_free(&b);
    problems_free(&problems);
    jv_free(bundle);
    jv_free(base);
    return 0;
}
