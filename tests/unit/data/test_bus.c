/* test_bus.c — `copilot generate` publishes data.changed.v1 on the event bus:
 * a SUB socket bound where the bus's publisher side would be
 * (COPILOT_BUS_PUB_ENDPOINT) receives the DataChanged envelope from the real
 * copilot process, with the absolute db path, data_version and reason.
 * Without a bus (ipc socket file absent) generate still succeeds. */
#include "data_test_util.h"

#include <limits.h>
#include <zmq.h>

#include "env.h"
#include "pubsub.h"

static char s_dir[4096];
static char s_topic[256];
static char s_path[4096];
static char s_version[64];
static char s_reason[64];
static int64_t s_rows;
static int s_got;

static void
s_on_msg (pubsub_sub_t *sub, const char *topic, env_t *env, void *arg)
{
    (void) sub;
    (void) arg;
    snprintf (s_topic, sizeof s_topic, "%s", topic);
    if (env->body_case == COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED && env->data_changed) {
        snprintf (s_path, sizeof s_path, "%s", env->data_changed->db_path);
        snprintf (s_version, sizeof s_version, "%s", env->data_changed->data_version);
        snprintf (s_reason, sizeof s_reason, "%s", env->data_changed->reason);
        s_rows = env->data_changed->rows_written;
        s_got++;
    }
    env_free (env);
}

static void
test_publish (void **state)
{
    (void) state;
    dt_tmpdir (s_dir, sizeof s_dir);
    char ep[4200], bind[4300], db[4200];
    snprintf (ep, sizeof ep, "ipc://%s/bus-pub.sock", s_dir);
    snprintf (bind, sizeof bind, "@%s", ep);
    snprintf (db, sizeof db, "%s/gen.db", s_dir);

    /* no bus yet: generate succeeds and says nothing about the bus */
    assert_int_equal (dt_run ("COPILOT_BUS_PUB_ENDPOINT=%s %s generate --profile small --seed 5 --db %s > /dev/null",
                              ep, COPILOT_BIN, db),
                      0);

    void *ctx = zmq_ctx_new ();
    assert_non_null (ctx);
    pubsub_sub_t *sub = pubsub_sub_new (ctx, bind, "test", s_on_msg, NULL);
    assert_non_null (sub);
    assert_int_equal (pubsub_sub_subscribe (sub, "data."), 0);
    /* run copilot in the background and keep polling: a SUB socket only
     * attaches a new peer (and sends it the subscription) when its owner
     * thread calls into zmq, so the test must not block while copilot runs */
    assert_int_equal (dt_run ("COPILOT_BUS_PUB_ENDPOINT=%s %s generate --profile small --seed 5 --db %s --force "
                              "> /dev/null 2>&1 &",
                              ep, COPILOT_BIN, db),
                      0);
    for (int i = 0; i < 300 && !s_got; i++)
        assert_true (pubsub_sub_poll (sub, 100) >= 0);
    assert_int_equal (s_got, 1);
    assert_string_equal (s_topic, "data.changed.v1");
    char abs[PATH_MAX];
    assert_non_null (realpath (db, abs));
    assert_string_equal (s_path, abs);
    assert_string_equal (s_reason, "generate");
    sqlite3 *h = dt_open (db);
    char v[32];
    dt_text (h, v, sizeof v, "SELECT version FROM data_version");
    assert_string_equal (s_version, v);
    assert_int_equal (s_rows, dt_i64 (h, "SELECT (SELECT COUNT(*) FROM job_runs) + (SELECT COUNT(*) FROM compute_usage) + "
                                         "(SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM eviction_details) + "
                                         "(SELECT COUNT(*) FROM sql_query_history) + (SELECT COUNT(*) FROM config_changes) + "
                                         "(SELECT COUNT(*) FROM date_series) + (SELECT COUNT(*) FROM workspace) + "
                                         "(SELECT COUNT(*) FROM workspace_details) + (SELECT COUNT(*) FROM users_lookup) + "
                                         "(SELECT COUNT(*) FROM instance_pools) + (SELECT COUNT(*) FROM non_job_compute) + "
                                         "(SELECT COUNT(*) FROM jobs) + (SELECT COUNT(*) FROM job_dependencies) + "
                                         "(SELECT COUNT(*) FROM sku_prices)"));
    sqlite3_close (h);
    pubsub_sub_destroy (&sub);
    zmq_ctx_term (ctx);
    dt_rmdir (s_dir);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test (test_publish)};
    return cmocka_run_group_tests (tests, NULL, NULL);
}
