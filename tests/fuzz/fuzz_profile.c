/* fuzz_profile: profile components from untrusted bytes. Parses the input as JSON, validates it
 * as a profile and, when valid, describes it twice into one types array. Checks invariants and
 * aborts on a violation: every problem has a JSON pointer ("" or starting with '/'), generated
 * type names are unique, every reference names a generated type, and describing the same
 * profile again adds no types (dedupe). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "atom/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_type(const jv *types, const char *name)
{
    for (size_t i = 0; i < jv_len(types); i++)
        if (str_eq(jv_get_str(jv_at(types, i), "developerName"), name))
            return true;
    return false;
}

static void check_types(const jv *values, const jv *types)
{
    size_t n = jv_len(types);
    for (size_t i = 0; i < n; i++) {
        const jv *t = jv_at(types, i);
        const char *name = jv_get_str(t, "developerName");
        if (!name)
            abort();
        for (size_t j = 0; j < i; j++)
            if (str_eq(jv_get_str(jv_at(types, j), "developerName"), name))
                abort(); /* duplicate type name */
        const jv *props = jv_get(t, "properties");
        for (size_t k = 0; k < jv_len(props); k++) {
            const char *ref = jv_get_str(jv_at(props, k), "typeElementDeveloperName");
            if (ref && !has_type(types, ref))
                abort(); /* dangling reference */
        }
    }
    for (size_t i = 0; i < jv_len(values); i++) {
        const char *ref = jv_get_str(jv_at(values, i), "typeElementDeveloperName");
        if (ref && !has_type(types, ref))
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_error err;
    jv *doc = jv_parse((const char *)data, size, &err);
    if (!doc)
        return 0;
    sl_problems pr;
    problems_init(&pr);
    profile *p = NULL;
    int rc = profile_parse(doc, "fuzz.json", &p, &pr);
    if (rc == 0) {
        if (pr.n != 0 || !p || !p->root || p->root->type != PE_OBJECT)
            abort();
        jv *values = jv_new_array(), *types = jv_new_array();
        profile_describe(p, "Fuzz REQUEST", values, types);
        check_types(values, types);
        size_t ntypes = jv_len(types);
        jv *values2 = jv_new_array();
        profile_describe(p, "Fuzz REQUEST", values2, types);
        if (jv_len(types) != ntypes || !jv_equal(values, values2))
            abort();
        jv_free(values);
        jv_free(values2);
        jv_free(types);
        profile_free(p);
    } else {
        if (rc != SL_EINVAL || pr.n + pr.dropped == 0)
            abort();
        for (size_t i = 0; i < pr.n; i++)
            if (pr.items[i].pointer[0] != '\0' && pr.items[i].pointer[0] != '/')
                abort();
    }
    problems_free(&pr);
    jv_free(doc);
    return 0;
}
