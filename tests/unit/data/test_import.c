/* test_import.c — `copilot import --from DIR` on hand-written exports of
 * every supported system table (tests/unit/data/import/): corrections net
 * (ORIGINAL + RETRACTION + RESTATEMENT), cost uses the price valid at usage
 * time, latest SCD2 rows win, hourly slices merge into one run, both status
 * vocabularies normalize, spot terminations become evictions, attribution
 * follows billing_origin_product, unknown columns and struct keys are kept,
 * re-import writes nothing, an incremental batch updates, and malformed rows
 * fail with the exact file:line/column/reason while writing nothing. The
 * real copilot binary is used throughout. */
#include "data_test_util.h"

#include "dl_common.h"
#include "dl_import.h"

#define IMPORT_DIR COPILOT_SOURCE_DIR "/tests/unit/data/import"

static char s_dir[4096];
static char s_db[4200];
static sqlite3 *s_h;

static int
s_setup (void **state)
{
    (void) state;
    dt_tmpdir (s_dir, sizeof s_dir);
    snprintf (s_db, sizeof s_db, "%s/imp.db", s_dir);
    if (dt_run ("%s db init --db %s > /dev/null", COPILOT_BIN, s_db) != 0)
        return -1;
    if (dt_run ("%s import --from %s/basic --db %s > /dev/null", COPILOT_BIN, IMPORT_DIR, s_db) != 0)
        return -1;
    s_h = dt_open (s_db);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    sqlite3_close (s_h);
    dt_rmdir (s_dir);
    return 0;
}

static void
s_expect_text (const char *expect, const char *sql)
{
    char got[512];
    dt_text (s_h, got, sizeof got, "%s", sql);
    if (strcmp (got, expect) != 0)
        fail_msg ("%s\n  expected '%s'\n  got      '%s'", sql, expect, got);
}

static void
test_prices_and_cost (void **state)
{
    (void) state;
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM sku_prices WHERE source='import'"), 4);
    /* effective_list.default wins over default; windows kept */
    assert_true (fabs (dt_dbl (s_h, "SELECT price_usd_per_dbu FROM sku_prices WHERE sku='PREMIUM_JOBS_COMPUTE' AND valid_to IS NULL") - 0.18) < 1e-12);
    s_expect_text ("2025-06-01 00:00:00", "SELECT valid_to FROM sku_prices WHERE sku='PREMIUM_JOBS_COMPUTE' AND price_usd_per_dbu=0.15");
    /* run 501: 10 + 20 - 20 (RETRACTION) + 15 (RESTATEMENT) = 25 DBU at 0.18 */
    assert_true (fabs (dt_dbl (s_h, "SELECT dbus_consumed FROM compute_usage WHERE compute_usage_id='1001:501'") - 25.0) < 1e-9);
    assert_true (fabs (dt_dbl (s_h, "SELECT total_cost FROM compute_usage WHERE compute_usage_id='1001:501'") - 4.5) < 1e-9);
    assert_int_equal (dt_i64 (s_h, "SELECT corrections FROM usage_attributed WHERE resource_id='1001:501'"), 2);
    /* run 500 is before the price change: 10 x 0.15 */
    assert_true (fabs (dt_dbl (s_h, "SELECT total_cost FROM compute_usage WHERE compute_usage_id='1001:500'") - 1.5) < 1e-9);
    /* attribution: warehouse, all-purpose cluster, job without a run id, other products */
    assert_true (fabs (dt_dbl (s_h, "SELECT total_cost FROM compute_usage WHERE compute_usage_id='wh-1:2025-06-20' AND parent_type='SQL_WAREHOUSE'") - 4.4) < 1e-9);
    s_expect_text ("M", "SELECT cluster_instance_type FROM compute_usage WHERE compute_usage_id='wh-1:2025-06-20'");
    assert_true (fabs (dt_dbl (s_h, "SELECT total_cost FROM compute_usage WHERE compute_usage_id='c-apc-1:2025-06-20' AND parent_type='APC_CLUSTER'") - 2.2) < 1e-9);
    assert_true (fabs (dt_dbl (s_h, "SELECT avg_cpu_utilization FROM compute_usage WHERE compute_usage_id='c-apc-1:2025-06-20'") - 0.45) < 1e-9);
    s_expect_text ("i3.2xlarge", "SELECT cluster_instance_type FROM compute_usage WHERE compute_usage_id='c-apc-1:2025-06-20'");
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM compute_usage WHERE compute_usage_id='c-apc-1:2025-06-21'"), 0); /* fully retracted */
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM compute_usage WHERE compute_usage_id='1001:12:2025-06-22' AND parent_type='JOB_RUN'"), 1);
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM usage_attributed WHERE resource_type='OTHER' AND billing_origin_product='MODEL_SERVING' "
                                   "AND resource_id='ep-9' AND cost_usd IS NULL AND unpriced_records=1"),
                      1);
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM compute_usage"), 5);
}

static void
test_jobs_runs_status (void **state)
{
    (void) state;
    /* latest SCD2 row; map tags normalized */
    s_expect_text ("nightly_etl_v2", "SELECT job_name FROM jobs WHERE job_id='1001:11'");
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM job_tags WHERE job_id='1001:11' AND source='json_object'"), 3);
    s_expect_text ("bi", "SELECT tag_value FROM job_tags WHERE job_id='1001:12' AND tag_key='team'");
    /* three hourly slices -> one run */
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM job_runs WHERE job_run_id='1001:501'"), 1);
    s_expect_text ("2025-06-20 01:30:00|2025-06-20 03:20:00|6600000|SUCCESS",
                   "SELECT start_time || '|' || end_time || '|' || duration_ms || '|' || run_status FROM job_runs WHERE job_run_id='1001:501'");
    assert_int_equal (dt_i64 (s_h, "SELECT slices FROM job_run_details WHERE job_run_id='1001:501'"), 3);
    /* sizing and spot share from compute.clusters (first_on_demand 1 = driver only) */
    s_expect_text ("r5.xlarge|2|8|1|1.0",
                   "SELECT worker_instance_type || '|' || min_nodes || '|' || max_nodes || '|' || is_autoscaling_enabled || '|' || spot_ratio "
                   "FROM job_runs WHERE job_run_id='1001:501'");
    /* both vocabularies */
    s_expect_text ("FAILED/FAILED,FAILED/CANCELLED,FAILED/TIMED_OUT,SUCCESS/SUCCESS,SKIPPED/SKIPPED,RUNNING/RUNNING,FAILED/FAILED",
                   "SELECT group_concat(r.run_status || '/' || d.canonical_status, ',') FROM (SELECT * FROM job_runs ORDER BY job_run_id) r "
                   "JOIN job_run_details d USING (job_run_id) WHERE r.job_run_id > '1001:501'");
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM job_runs WHERE job_run_id='1001:507' AND end_time IS NULL"), 1);
    s_expect_text ("c-job-1", "SELECT cluster_id FROM job_run_details WHERE job_run_id='1001:505'"); /* from the task timeline */
    /* events of imported runs, warehouse events */
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM events WHERE event_type='CLUSTER_START' AND event_id LIKE 'EVT-START-1001:%%'"), 7);
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM events WHERE event_id LIKE 'WHE-wh-1-%%'"), 3);
}

static void
test_evictions_queries_unknown (void **state)
{
    (void) state;
    /* spot instance terminated while run 502 was running; capacity termination code on 508;
     * the on-demand termination and the spot termination after run 501 ended are not evictions */
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM eviction_details"), 2);
    s_expect_text ("1001:502", "SELECT compute_usage_id FROM events WHERE eviction_id='EVICT-i-aaa-20250621012000'");
    s_expect_text ("AWS_INSUFFICIENT_INSTANCE_CAPACITY_FAILURE", "SELECT cloud_provider_message FROM eviction_details WHERE eviction_id='EVICT-1001:508'");
    assert_int_equal (dt_i64 (s_h, "SELECT SUM(evictions) FROM rollup_job_day WHERE job_id='1001:11'"), 2);
    /* query history: warehouse queries only; vocabulary of execution_status */
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM sql_query_history"), 3);
    s_expect_text ("Query cancelled", "SELECT error_message FROM sql_query_history WHERE query_id='q-3'");
    s_expect_text ("SQLWH-MEDIUM", "SELECT warehouse_sku FROM sql_query_history WHERE query_id='q-1'");
    assert_int_equal (dt_i64 (s_h, "SELECT duration_ms FROM sql_query_history WHERE query_id='q-2'"), 180000);
    /* unknown columns and struct keys kept */
    s_expect_text ("v", "SELECT json_extract(row_json, '$.usage_metadata.brand_new_key') FROM import_rows WHERE record_key='r1'");
    s_expect_text ("{\"x\":1}", "SELECT json_extract(row_json, '$.brand_new_field') FROM import_rows WHERE source='lakeflow.jobs' AND record_key LIKE '1001|11|2025-05-01%%'");
    s_expect_text ("x", "SELECT json_extract(row_json, '$.future_column') FROM import_rows WHERE record_key LIKE '1001|c-job-1|%%'");
    s_expect_text ("kept", "SELECT json_extract(row_json, '$.query_source.new_struct_key') FROM import_rows WHERE record_key='q-1'");
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
}

static void
test_reimport_and_update (void **state)
{
    (void) state;
    char h1[65], h2[65];
    sqlite3_close (s_h);
    dt_sha256_file (s_db, h1);
    assert_int_equal (dt_run ("%s import --from %s/basic --db %s > /dev/null", COPILOT_BIN, IMPORT_DIR, s_db), 0);
    dt_sha256_file (s_db, h2);
    assert_string_equal (h1, h2);
    s_h = dt_open (s_db);
    int64_t v = dt_i64 (s_h, "SELECT version FROM data_version");
    sqlite3_close (s_h);
    /* a later batch: a retraction cancels run 500; job 12 renamed and deleted */
    assert_int_equal (dt_run ("%s import --from %s/update --db %s > /dev/null", COPILOT_BIN, IMPORT_DIR, s_db), 0);
    s_h = dt_open (s_db);
    assert_int_equal (dt_i64 (s_h, "SELECT version FROM data_version"), v + 1);
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM compute_usage WHERE compute_usage_id='1001:500'"), 0);
    s_expect_text ("reporting_v2", "SELECT job_name FROM jobs WHERE job_id='1001:12'");
    s_expect_text ("[deleted 2025-07-02 00:00:00]", "SELECT description FROM jobs WHERE job_id='1001:12'");
    assert_int_equal (dt_i64 (s_h, "SELECT COUNT(*) FROM import_batches"), 2);
}

static void
s_bad (const char *dir, const char *expect)
{
    char h1[65], h2[65], out[4300];
    snprintf (out, sizeof out, "%s/err.txt", s_dir);
    dt_sha256_file (s_db, h1);
    assert_int_equal (dt_run ("%s import --from %s/%s --db %s 2> %s", COPILOT_BIN, IMPORT_DIR, dir, s_db, out), 1);
    dt_sha256_file (s_db, h2);
    assert_string_equal (h1, h2); /* nothing of the batch written */
    FILE *f = fopen (out, "r");
    assert_non_null (f);
    char line[1024] = "";
    assert_non_null (fgets (line, sizeof line, f));
    fclose (f);
    line[strcspn (line, "\n")] = '\0';
    if (strncmp (line, expect, strlen (expect)) != 0)
        fail_msg ("%s: expected '%s'\n  got '%s'", dir, expect, line);
}

static void
test_malformed (void **state)
{
    (void) state;
    sqlite3_close (s_h);
    s_bad ("bad_decimal", "copilot import: bad input data: billing.usage.csv:3: column 'usage_quantity': not a decimal: 'ten'");
    s_bad ("missing_required", "copilot import: bad input data: lakeflow.jobs.jsonl:2: column 'job_id': required value missing");
    s_bad ("bad_json", "copilot import: bad input data: query.history.jsonl:1: not a JSON object: ");
    s_bad ("bad_fields", "copilot import: bad input data: compute.clusters.csv:4: 3 fields, the header has 4");
    s_bad ("bad_ts", "copilot import: bad input data: lakeflow.job_run_timeline.csv:2: column 'period_start_time': not a timestamp: 'yesterday'");
    assert_int_equal (dt_run ("env -u DATABRICKS_TOKEN -u COPILOT_DATABRICKS_TOKEN %s import --workspace https://example.invalid --db %s 2>/dev/null", COPILOT_BIN, s_db), 1);
    assert_int_equal (dt_run ("%s import --db %s 2>/dev/null", COPILOT_BIN, s_db), 2);
    s_h = dt_open (s_db);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_prices_and_cost),
        cmocka_unit_test (test_jobs_runs_status),
        cmocka_unit_test (test_evictions_queries_unknown),
        cmocka_unit_test (test_reimport_and_update),
        cmocka_unit_test (test_malformed),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
