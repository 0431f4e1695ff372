/* fuzz_request: the Flow request decoder. The input is treated as a ServiceRequest; its
 * "inputs" are converted to a document of a fixed nested profile (every scalar type, an
 * object, arrays of objects, an array inside an array) and, when that succeeds, the document
 * is converted back to outputs. Oracles (abort on violation): a failure's pointer starts with
 * "/inputs"; a document made from inputs always converts to outputs; and those outputs, fed
 * back as inputs, give the same document again (numbers compared by value). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atom/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char PROFILE_JSON[] =
    "{\"component\":\"profile\",\"name\":\"Fuzz Request\",\"root\":{\"name\":\"Request\",\"type\":\"Object\",\"children\":["
    "{\"name\":\"Name\",\"type\":\"Character\"},"
    "{\"name\":\"Count\",\"type\":\"Number\"},"
    "{\"name\":\"Active\",\"type\":\"Boolean\"},"
    "{\"name\":\"When\",\"type\":\"DateTime\"},"
    "{\"name\":\"Address\",\"type\":\"Object\",\"children\":["
    "  {\"name\":\"Street\",\"type\":\"Character\"},{\"name\":\"Zip\",\"type\":\"Number\"},"
    "  {\"name\":\"Geo\",\"type\":\"Object\",\"children\":[{\"name\":\"Lat\",\"type\":\"Number\"},{\"name\":\"Lon\",\"type\":\"Number\"}]}]},"
    "{\"name\":\"Items\",\"type\":\"Array\",\"children\":["
    "  {\"name\":\"Sku\",\"type\":\"Character\"},{\"name\":\"Qty\",\"type\":\"Number\"},"
    "  {\"name\":\"Gift\",\"type\":\"Boolean\"},{\"name\":\"Shipped\",\"type\":\"DateTime\"},"
    "  {\"name\":\"Tags\",\"type\":\"Array\",\"children\":[{\"name\":\"Tag\",\"type\":\"Character\"}]},"
    "  {\"name\":\"Address\",\"type\":\"Object\",\"children\":[{\"name\":\"Street\",\"type\":\"Character\"}]}]}"
    "]}}";

static profile *g_profile;

static void free_profile(void)
{
    profile_free(g_profile);
}

static const profile *fuzz_profile(void)
{
    if (!g_profile) {
        sl_error err;
        jv *doc = jv_parse(PROFILE_JSON, sizeof PROFILE_JSON - 1, &err);
        sl_problems pr;
        problems_init(&pr);
        if (!doc || profile_parse(doc, "builtin", &g_profile, &pr) != 0)
            abort();
        problems_free(&pr);
        jv_free(doc);
        atexit(free_profile);
    }
    return g_profile;
}

/* Deep equality where numbers compare by value (an integral real may come back as an integer). */
static bool same(const jv *a, const jv *b)
{
    if (jv_is_number(a) && jv_is_number(b))
        return jv_num(a) == jv_num(b);
    if (jv_typeof(a) != jv_typeof(b))
        return false;
    if (jv_is_object(a)) {
        if (jv_obj_size(a) != jv_obj_size(b))
            return false;
        for (void *it = jv_obj_iter(a); it; it = jv_obj_next(a, it)) {
            const jv *other = jv_get(b, jv_obj_key(it));
            if (!other || !same(jv_obj_value(it), other))
                return false;
        }
        return true;
    }
    if (jv_is_array(a)) {
        if (jv_len(a) != jv_len(b))
            return false;
        for (size_t i = 0; i < jv_len(a); i++)
            if (!same(jv_at(a, i), jv_at(b, i)))
                return false;
        return true;
    }
    return jv_equal(a, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const profile *p = fuzz_profile();
    sl_error err;
    jv *req = jv_parse((const char *)data, size, &err);
    if (!req)
        return 0;
    /* A ServiceRequest's inputs; anything else is passed as is to test the type checks. */
    const jv *inputs = jv_is_object(req) ? jv_get(req, "inputs") : req;
    jv *doc = NULL;
    memset(&err, 0, sizeof err);
    if (profile_inputs_to_doc(p, inputs, &doc, &err) != 0) {
        if (err.code != SL_EINVAL || strncmp(err.where, "/inputs", 7) != 0)
            abort();
        jv_free(req);
        return 0;
    }
    jv *outputs = NULL;
    if (profile_doc_to_outputs(p, "Fuzz RESPONSE", doc, &outputs, &err) != 0)
        abort(); /* a document we made must always convert */
    jv *doc2 = NULL;
    if (profile_inputs_to_doc(p, outputs, &doc2, &err) != 0 || !same(doc, doc2))
        abort(); /* outputs must read back as the same document */
    jv_free(doc2);
    jv_free(outputs);
    jv_free(doc);
    jv_free(req);
    return 0;
}
