/* Unit tests for the runtime pieces: worker pool, timers, store (real SQLite files). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/store.h"
#include "core/workpool.h"

static _Atomic int counter;

static void bump(void *arg)
{
    (void)arg;
    atomic_fetch_add(&counter, 1);
}

static void slow(void *arg)
{
    usleep(50000);
    bump(arg);
}

static void test_workpool_runs_all(void **state)
{
    atomic_store(&counter, 0);
    workpool *wp = workpool_start(3, 1000);
    for (int i = 0; i < 500; i++)
        assert_int_equal(workpool_submit(wp, bump, NULL), 0);
    workpool_stop(wp); /* runs the queue to completion */
    assert_int_equal(atomic_load(&counter), 500);
}

static void test_workpool_bounded(void **state)
{
    atomic_store(&counter, 0);
    workpool *wp = workpool_start(1, 2);
    int refused = 0;
    for (int i = 0; i < 10; i++)
        if (workpool_submit(wp, slow, NULL) == SL_ETOOBIG)
            refused++;
    assert_true(refused >= 7); /* one running, two queued at most */
    workpool_stop(wp);
    assert_int_equal(atomic_load(&counter), 10 - refused);
}

typedef struct tctx {
    timer_entry t;
    int64_t fired_at;
    _Atomic int fired;
} tctx;

static void on_fire(void *arg)
{
    tctx *c = arg;
    c->fired_at = mono_ms();
    atomic_store(&c->fired, 1);
}

static void test_timers_fire_in_order_and_cancel(void **state)
{
    timer_service *ts = timer_start();
    tctx a = {0}, b = {0}, c = {0}, d = {0};
    int64_t t0 = mono_ms();
    timer_add(ts, &a.t, 120, on_fire, &a);
    timer_add(ts, &b.t, 40, on_fire, &b);
    timer_add(ts, &c.t, 40, on_fire, &c);
    timer_add(ts, &d.t, 80, on_fire, &d);
    assert_int_equal(timer_cancel(ts, &c.t), 1);
    for (int i = 0; i < 100 && !atomic_load(&a.fired); i++)
        usleep(10000);
    assert_true(atomic_load(&a.fired));
    assert_true(atomic_load(&b.fired));
    assert_true(atomic_load(&d.fired));
    assert_false(atomic_load(&c.fired));
    assert_true(b.fired_at - t0 >= 40);
    assert_true(d.fired_at >= b.fired_at);
    assert_true(a.fired_at >= d.fired_at);
    assert_true(a.fired_at - t0 >= 120);
    /* cancelling after firing reports 0 */
    assert_int_equal(timer_cancel(ts, &a.t), 0);
    timer_stop(ts);
}

static char *temp_db(void)
{
    char tmpl[] = "/tmp/sluice-store-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    return xasprintf("%s/test.db", dir);
}

/* Removes the database, its WAL files and the temporary folder temp_db made. */
static void remove_db(char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        char *side = xasprintf("%s%s", path, suffixes[i]);
        unlink(side);
        free(side);
    }
    char *slash = strrchr(path, '/');
    if (slash) {
        *slash = 0;
        rmdir(path);
    }
    free(path);
}

static const char *const migrations[] = {
    "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, score REAL, data TEXT);",
    "ALTER TABLE t ADD COLUMN extra TEXT;",
};

static void test_store_roundtrip_and_migrations(void **state)
{
    char *path = temp_db();
    store *s = NULL;
    sl_error err = {0};
    assert_int_equal(store_open(path, migrations, 1, &s, &err), 0);
    jv *p = store_params("si", "ada", (int64_t)7);
    int64_t changes = 0;
    assert_int_equal(store_exec(s, "INSERT INTO t(name, id) VALUES(?1, ?2)", p, NULL, &changes, &err), 0);
    assert_int_equal(changes, 1);
    jv_free(p);
    store_close(s);
    /* reopen with one more migration: data kept, column added */
    assert_int_equal(store_open(path, migrations, 2, &s, &err), 0);
    jv *row = store_row(s, "SELECT id, name, extra FROM t", NULL, &err);
    assert_non_null(row);
    assert_int_equal(jv_int(jv_get(row, "id")), 7);
    assert_string_equal(jv_get_str(row, "name"), "ada");
    assert_true(jv_is_null(jv_get(row, "extra")));
    jv_free(row);
    /* a bad statement reports SQLite's message */
    assert_int_equal(store_exec(s, "SELECT nope FROM t", NULL, NULL, NULL, &err), SL_EIO);
    assert_non_null(strstr(err.msg, "nope"));
    store_close(s);
    /* a database newer than the code is refused */
    assert_int_equal(store_open(path, migrations, 1, &s, &err), SL_EIO);
    remove_db(path);
}

static void test_store_transaction_rollback(void **state)
{
    char *path = temp_db();
    store *s = NULL;
    sl_error err = {0};
    assert_int_equal(store_open(path, migrations, 2, &s, &err), 0);
    assert_int_equal(store_tx_begin(s, &err), 0);
    jv *p = store_params("s", "gone");
    assert_int_equal(store_exec(s, "INSERT INTO t(name) VALUES(?1)", p, NULL, NULL, &err), 0);
    jv_free(p);
    store_tx_rollback(s);
    jv *rows = NULL;
    assert_int_equal(store_exec(s, "SELECT * FROM t", NULL, &rows, NULL, &err), 0);
    assert_int_equal(jv_len(rows), 0);
    jv_free(rows);
    assert_int_equal(store_tx_begin(s, &err), 0);
    p = store_params("s", "kept");
    assert_int_equal(store_exec(s, "INSERT INTO t(name) VALUES(?1)", p, NULL, NULL, &err), 0);
    jv_free(p);
    assert_int_equal(store_tx_commit(s, &err), 0);
    jv *row = store_row(s, "SELECT name FROM t", NULL, &err);
    assert_string_equal(jv_get_str(row, "name"), "kept");
    jv_free(row);
    store_close(s);
    remove_db(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workpool_runs_all),
        cmocka_unit_test(test_workpool_bounded),
        cmocka_unit_test(test_timers_fire_in_order_and_cancel),
        cmocka_unit_test(test_store_roundtrip_and_migrations),
        cmocka_unit_test(test_store_transaction_rollback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
