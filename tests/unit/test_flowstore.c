/* Unit tests for flow/flowstore on real SQLite files in a temporary folder: tenant_ensure is
 * idempotent and survives a reopen; importing the same flow twice gives versions 1 and 2 with
 * the latest active; invalid snapshots and unknown tenants are refused with nothing written;
 * activation of an older version; states are tenant-scoped; the compare-and-set update refuses a
 * stale version with SL_ESTATE and changes nothing; delete; cleanup removes only old DONE states. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/flowstore.h"

static char tmpdir[256];

static const char *const SNAP_V1 =
    "{\"id\":{\"id\":\"11111111-2222-3333-4444-555555555555\",\"versionId\":\"v1\"},"
    "\"developerName\":\"Hello\",\"startMapElementId\":\"s\","
    "\"mapElements\":[{\"id\":\"s\",\"elementType\":\"START\",\"outcomes\":[]}]}";
static const char *const SNAP_V2 =
    "{\"id\":{\"id\":\"11111111-2222-3333-4444-555555555555\",\"versionId\":\"v2\"},"
    "\"developerName\":\"Hello again\",\"startMapElementId\":\"s\","
    "\"mapElements\":[{\"id\":\"s\",\"elementType\":\"START\",\"outcomes\":"
    "[{\"id\":\"o\",\"nextMapElementId\":\"e\"}]},{\"id\":\"e\",\"elementType\":\"step\"}]}";
#define FLOW_ID "11111111-2222-3333-4444-555555555555"

static int setup(void **state)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sluice-flowstore-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static flowstore *open_store(void)
{
    flowstore *fs = NULL;
    sl_error err = {0};
    char dir[300];
    snprintf(dir, sizeof dir, "%s/data", tmpdir);
    if (flowstore_open(dir, &fs, &err) != 0)
        fail_msg("open: %s", err.msg);
    return fs;
}

static void test_tenants(void **state)
{
    flowstore *fs = open_store();
    sl_error err = {0};
    char a[37], b[37], c[37];
    assert_int_equal(flowstore_tenant_ensure(fs, "acme", a, &err), 0);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(flowstore_tenant_ensure(fs, "acme", b, &err), 0);
    assert_string_equal(a, b);
    assert_int_equal(flowstore_tenant_ensure(fs, "other", c, &err), 0);
    assert_string_not_equal(a, c);
    assert_int_equal(flowstore_tenant_ensure(fs, "", c, &err), SL_EINVAL);
    assert_int_equal(flowstore_tenant_find(fs, "nobody", c, &err), SL_ENOTFOUND);
    flowstore_close(fs);

    /* Durable: the same id after reopening the file. */
    fs = open_store();
    assert_int_equal(flowstore_tenant_ensure(fs, "acme", b, &err), 0);
    assert_string_equal(a, b);
    flowstore_close(fs);
}

static void test_import_versions(void **state)
{
    flowstore *fs = open_store();
    sl_error err = {0};
    char tenant[37], v1[37], v2[37], active_vid[37];
    assert_int_equal(flowstore_tenant_ensure(fs, "acme", tenant, &err), 0);

    char *flow = NULL;
    assert_int_equal(flowstore_flow_import(fs, tenant, SNAP_V1, &flow, v1, &err), 0);
    assert_string_equal(flow, FLOW_ID);
    free(flow);
    assert_int_equal(flowstore_flow_import(fs, tenant, SNAP_V2, &flow, v2, &err), 0);
    assert_string_equal(flow, FLOW_ID);
    free(flow);
    assert_string_not_equal(v1, v2);

    int64_t count = 0, number = 0;
    assert_int_equal(flowstore_flow_version_count(fs, tenant, FLOW_ID, &count, &err), 0);
    assert_int_equal(count, 2);

    char *json = NULL;
    assert_int_equal(flowstore_flow_active(fs, tenant, FLOW_ID, &json, active_vid, &number, &err), 0);
    assert_string_equal(active_vid, v2);
    assert_int_equal(number, 2);
    assert_non_null(strstr(json, "\"Hello again\""));
    free(json);

    /* Re-activating version 1. */
    assert_int_equal(flowstore_flow_activate(fs, tenant, FLOW_ID, v1, &err), 0);
    assert_int_equal(flowstore_flow_active(fs, tenant, FLOW_ID, &json, active_vid, &number, &err), 0);
    assert_string_equal(active_vid, v1);
    assert_int_equal(number, 1);
    free(json);
    assert_int_equal(flowstore_flow_activate(fs, tenant, FLOW_ID, "no-such-version", &err), SL_ENOTFOUND);

    /* Tenants are separate: the same flow id elsewhere is a different flow. */
    char other[37];
    assert_int_equal(flowstore_tenant_ensure(fs, "other", other, &err), 0);
    assert_int_equal(flowstore_flow_active(fs, other, FLOW_ID, &json, NULL, NULL, &err), SL_ENOTFOUND);
    assert_null(json);
    assert_int_equal(flowstore_flow_import(fs, other, SNAP_V2, NULL, NULL, &err), 0);
    assert_int_equal(flowstore_flow_active(fs, other, FLOW_ID, &json, NULL, &number, &err), 0);
    assert_int_equal(number, 1);
    free(json);

    /* Refused imports write nothing. */
    memset(&err, 0, sizeof err);
    assert_int_equal(flowstore_flow_import(fs, tenant, "{\"id\":\"x\"}", &flow, NULL, &err), SL_EINVAL);
    assert_null(flow);
    assert_string_equal(err.where, "/developerName");
    assert_int_equal(flowstore_flow_import(fs, tenant, "not json", NULL, NULL, &err), SL_EINVAL);
    assert_int_equal(flowstore_flow_import(fs, "no-such-tenant", SNAP_V1, NULL, NULL, &err), SL_ENOTFOUND);
    assert_int_equal(flowstore_flow_version_count(fs, tenant, FLOW_ID, &count, &err), 0);
    assert_int_equal(count, 2);
    assert_int_equal(flowstore_flow_version_count(fs, "no-such-tenant", FLOW_ID, &count, &err), 0);
    assert_int_equal(count, 0);
    flowstore_close(fs);
}

static void test_state_cas(void **state)
{
    flowstore *fs = open_store();
    sl_error err = {0};
    char tenant[37], other[37], vid[37], token[37];
    assert_int_equal(flowstore_tenant_ensure(fs, "acme", tenant, &err), 0);
    assert_int_equal(flowstore_tenant_ensure(fs, "other", other, &err), 0);
    assert_int_equal(flowstore_flow_import(fs, tenant, SNAP_V1, NULL, vid, &err), 0);

    flow_state st;
    assert_int_equal(flowstore_state_create(fs, tenant, FLOW_ID, vid, "s", NULL, &st, &err), 0);
    assert_int_equal(st.version, 1);
    assert_string_equal(st.status, FLOW_STATE_IN_PROGRESS);
    assert_string_equal(st.json, "{}");
    assert_string_equal(st.current_element, "s");
    assert_string_equal(st.flow_id, FLOW_ID);
    assert_string_equal(st.version_id, vid);
    assert_string_equal(st.tenant, tenant);
    char id[37], token1[37];
    memcpy(id, st.id, 37);
    memcpy(token1, st.token, 37);
    flowstore_state_free(&st);

    /* A state needs a version of the tenant's own flow. */
    assert_int_equal(flowstore_state_create(fs, other, FLOW_ID, vid, NULL, NULL, NULL, &err), SL_ENOTFOUND);
    assert_int_equal(flowstore_state_create(fs, tenant, "nope", vid, NULL, NULL, NULL, &err), SL_ENOTFOUND);
    /* And is invisible to other tenants. */
    assert_int_equal(flowstore_state_get(fs, other, id, &st, &err), SL_ENOTFOUND);

    /* CAS: version 1 → 2 with a new token; current element kept when NULL. */
    assert_int_equal(flowstore_state_update(fs, id, 1, "{\"n\":1}", NULL, NULL, token, &err), 0);
    assert_string_not_equal(token, token1);
    assert_int_equal(flowstore_state_get(fs, tenant, id, &st, &err), 0);
    assert_int_equal(st.version, 2);
    assert_string_equal(st.json, "{\"n\":1}");
    assert_string_equal(st.current_element, "s");
    assert_string_equal(st.token, token);
    int64_t updated = st.updated;
    flowstore_state_free(&st);

    /* Stale: a second writer that also read version 1 is refused and nothing changes. */
    memset(&err, 0, sizeof err);
    char token2[37] = "untouched";
    assert_int_equal(flowstore_state_update(fs, id, 1, "{\"n\":99}", "e", FLOW_STATE_DONE, token2, &err), SL_ESTATE);
    assert_int_equal(err.code, SL_ESTATE);
    assert_non_null(strstr(err.msg, "stale"));
    assert_string_equal(token2, "untouched");
    assert_int_equal(flowstore_state_get(fs, tenant, id, &st, &err), 0);
    assert_int_equal(st.version, 2);
    assert_string_equal(st.json, "{\"n\":1}");
    assert_string_equal(st.current_element, "s");
    assert_string_equal(st.status, FLOW_STATE_IN_PROGRESS);
    assert_string_equal(st.token, token);
    assert_int_equal(st.updated, updated);
    flowstore_state_free(&st);
    /* A future version is as stale as a past one. */
    assert_int_equal(flowstore_state_update(fs, id, 3, "{}", NULL, NULL, NULL, &err), SL_ESTATE);

    /* The right version wins: element and status change. */
    assert_int_equal(flowstore_state_update(fs, id, 2, "{\"n\":2}", "e", FLOW_STATE_DONE, NULL, &err), 0);
    assert_int_equal(flowstore_state_get(fs, tenant, id, &st, &err), 0);
    assert_int_equal(st.version, 3);
    assert_string_equal(st.current_element, "e");
    assert_string_equal(st.status, FLOW_STATE_DONE);
    flowstore_state_free(&st);

    assert_int_equal(flowstore_state_update(fs, "no-such-state", 1, "{}", NULL, NULL, NULL, &err), SL_ENOTFOUND);
    assert_int_equal(flowstore_state_update(fs, id, 3, NULL, NULL, NULL, NULL, &err), SL_EINVAL);

    /* Delete is tenant-scoped too. */
    assert_int_equal(flowstore_state_delete(fs, other, id, &err), SL_ENOTFOUND);
    assert_int_equal(flowstore_state_delete(fs, tenant, id, &err), 0);
    assert_int_equal(flowstore_state_delete(fs, tenant, id, &err), SL_ENOTFOUND);
    assert_int_equal(flowstore_state_get(fs, tenant, id, &st, &err), SL_ENOTFOUND);
    flowstore_close(fs);

    /* Durable across a reopen (the file, not the process, holds the truth). */
    fs = open_store();
    assert_int_equal(flowstore_state_create(fs, tenant, FLOW_ID, vid, NULL, "{\"k\":true}", &st, &err), 0);
    memcpy(id, st.id, 37);
    flowstore_state_free(&st);
    flowstore_close(fs);
    fs = open_store();
    assert_int_equal(flowstore_state_get(fs, tenant, id, &st, &err), 0);
    assert_string_equal(st.json, "{\"k\":true}");
    assert_null(st.current_element);
    flowstore_state_free(&st);
    flowstore_close(fs);
}

static void test_cleanup(void **state)
{
    flowstore *fs = open_store();
    sl_error err = {0};
    char tenant[37], vid[37];
    assert_int_equal(flowstore_tenant_ensure(fs, "clean", tenant, &err), 0);
    assert_int_equal(flowstore_flow_import(fs, tenant, SNAP_V1, NULL, vid, &err), 0);

    char done_id[37], running_id[37];
    flow_state st;
    assert_int_equal(flowstore_state_create(fs, tenant, FLOW_ID, vid, NULL, NULL, &st, &err), 0);
    memcpy(done_id, st.id, 37);
    flowstore_state_free(&st);
    assert_int_equal(flowstore_state_update(fs, done_id, 1, "{}", NULL, FLOW_STATE_DONE, NULL, &err), 0);
    assert_int_equal(flowstore_state_create(fs, tenant, FLOW_ID, vid, NULL, NULL, &st, &err), 0);
    memcpy(running_id, st.id, 37);
    int64_t updated = st.updated;
    flowstore_state_free(&st);

    int64_t deleted = -1;
    /* Not old enough yet. */
    assert_int_equal(flowstore_state_cleanup(fs, updated, 60000, &deleted, &err), 0);
    assert_int_equal(deleted, 0);
    /* An hour later: the DONE state goes, the running one stays however old it is. */
    assert_int_equal(flowstore_state_cleanup(fs, updated + 3600000, 60000, &deleted, &err), 0);
    assert_int_equal(deleted, 1);
    assert_int_equal(flowstore_state_get(fs, tenant, done_id, &st, &err), SL_ENOTFOUND);
    assert_int_equal(flowstore_state_get(fs, tenant, running_id, &st, &err), 0);
    flowstore_state_free(&st);
    assert_int_equal(flowstore_state_cleanup(fs, updated + 3600000, 0, &deleted, &err), 0);
    assert_int_equal(deleted, 0);
    flowstore_close(fs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tenants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_cas, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
