/* Fuzz target: the list filter → filter document decoder that process-backed data actions use
 * (Query processes receive its output). Any JSON must decode without crashing, leaking or
 * recursing without bound, and the result must always be an object that serialises. */
#include <stdint.h>
#include <stdlib.h>

#include "atom/atom_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    jv *lf = jv_parse((const char *)data, size, NULL);
    if (!lf)
        return 0;
    jv *doc = fs_filter_document(lf);
    if (!jv_is_object(doc))
        abort();
    char *text = jv_dumps(doc);
    if (!text)
        abort();
    free(text);
    jv_free(doc);
    jv_free(lf);
    return 0;
}
