/* test_gen.c — the generator: determinism (same seed => same SHA-256, other
 * seed => different file), invariants every generated DB must hold (end =
 * start + duration, cost = DBUs x price valid at usage time, well-formed run
 * ids, retries that never overlap, foreign keys, rollups = facts) and the
 * presence of every reference scenario, each detected by a query. The small
 * profile is used throughout; medium once (several workspaces, price
 * windows); large never (see tests/bench). */
#include "data_test_util.h"

#include "dl_common.h"
#include "dl_gen.h"
#include "dl_schema.h"

static char s_dir[4096];
static char s_small[4200];
static sqlite3 *s_db;

static void
s_generate (const char *profile, uint64_t seed, const char *path)
{
    dl_gen_opts_t o = {.profile = profile, .seed = seed, .db_path = path, .force = true};
    dl_gen_stats_t st;
    int rc = dl_gen_run (&o, &st);
    if (rc)
        fail_msg ("generate %s: %s", profile, dl_last_error ());
    assert_true (st.job_runs > 0);
}

static int
s_setup (void **state)
{
    (void) state;
    dt_tmpdir (s_dir, sizeof s_dir);
    snprintf (s_small, sizeof s_small, "%s/small.db", s_dir);
    s_generate ("small", 42, s_small);
    s_db = dt_open (s_small);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    sqlite3_close (s_db);
    dt_rmdir (s_dir);
    return 0;
}

static void
test_determinism (void **state)
{
    (void) state;
    char p2[4200], p3[4200], h1[65], h2[65], h3[65];
    snprintf (p2, sizeof p2, "%s/small2.db", s_dir);
    snprintf (p3, sizeof p3, "%s/small3.db", s_dir);
    s_generate ("small", 42, p2);
    s_generate ("small", 43, p3);
    dt_sha256_file (s_small, h1);
    dt_sha256_file (p2, h2);
    dt_sha256_file (p3, h3);
    assert_string_equal (h1, h2);
    assert_string_not_equal (h1, h3);
    /* --force replaces; without it the file is kept */
    dl_gen_opts_t o = {.profile = "small", .seed = 42, .db_path = p3, .force = false};
    assert_int_equal (dl_gen_run (&o, NULL), DL_E_EXISTS);
    assert_int_equal (access (p3, R_OK), 0);
    char partial[4300];
    snprintf (partial, sizeof partial, "%s.partial", p2);
    assert_int_not_equal (access (partial, F_OK), 0);
}

/* Invariants for any generated database. */
static void
s_invariants (sqlite3 *db)
{
    char txt[64];
    dt_text (db, txt, sizeof txt, "PRAGMA integrity_check");
    assert_string_equal (txt, "ok");
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM pragma_foreign_key_check"), 0);
    /* end_time = start_time + duration_ms, exactly, for every run */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_runs WHERE end_time IS NULL OR "
                                  "(strftime('%%s', end_time) - strftime('%%s', start_time)) * 1000 != duration_ms"),
                      0);
    /* total_cost = dbus x price valid at usage time, every row */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM v_compute_usage WHERE price_usd_per_dbu IS NULL OR "
                                  "abs(total_cost - dbus_consumed * price_usd_per_dbu) > 1e-9"),
                      0);
    /* well-formed run ids: {job}-{YYYYMMDD}-{NN}[-Rnn]; the date is the run's schedule
     * date: the start date, or the day before for a downstream run that started after
     * midnight because its upstream finished late */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_runs WHERE NOT ("
                                  "job_run_id GLOB job_id || '-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9][0-9]' OR "
                                  "job_run_id GLOB job_id || '-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]-[0-9][0-9]-R[0-9][0-9]')"),
                      0);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_runs WHERE job_run_id NOT LIKE '%%-R__' AND "
                                  "substr(job_run_id, length(job_id) + 2, 8) != strftime('%%Y%%m%%d', start_time) AND "
                                  "substr(job_run_id, length(job_id) + 2, 8) != strftime('%%Y%%m%%d', start_time, '-1 day')"),
                      0);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_runs WHERE job_run_id LIKE '%%RRUN%%'"), 0);
    /* a retry starts after the previous attempt ended */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_runs r JOIN job_runs p ON p.job_run_id = "
                                  "CASE WHEN substr(r.job_run_id, -3) = 'R02' THEN substr(r.job_run_id, 1, length(r.job_run_id) - 4) "
                                  "ELSE substr(r.job_run_id, 1, length(r.job_run_id) - 2) || printf('%%02d', CAST(substr(r.job_run_id, -2) AS INTEGER) - 1) END "
                                  "WHERE r.job_run_id GLOB '*-R[0-9][0-9]' AND r.start_time < p.end_time"),
                      0);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_runs WHERE job_run_id GLOB '*-R[0-9][0-9]'"),
                      dt_i64 (db, "SELECT COUNT(*) FROM job_runs r WHERE job_run_id GLOB '*-R[0-9][0-9]' AND EXISTS "
                                  "(SELECT 1 FROM job_runs p WHERE p.job_run_id = substr(r.job_run_id, 1, length(r.job_run_id) - 4))"));
    /* a usage row per non-skipped run, none for skipped runs; usage id = run id */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_runs r LEFT JOIN compute_usage u ON u.compute_usage_id = r.job_run_id "
                                  "WHERE (r.run_status = 'SKIPPED') != (u.compute_usage_id IS NULL)"),
                      0);
    /* one eviction per failed SpotInstance run, with its SPOT_EVICTION event */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_runs WHERE run_status='FAILED' AND error_summary LIKE '%%SpotInstance%%'"),
                      dt_i64 (db, "SELECT COUNT(*) FROM eviction_details"));
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM eviction_details d LEFT JOIN events e ON e.eviction_id = d.eviction_id "
                                  "WHERE e.event_id IS NULL"),
                      0);
    /* autoscaling events always change the node count */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM events WHERE event_type='AUTOSCALING' AND "
                                  "substr(details, 20, instr(substr(details, 20), ' to ') - 1) = "
                                  "substr(details, 20 + instr(substr(details, 20), ' to ') + 3, "
                                  "instr(substr(details, 20 + instr(substr(details, 20), ' to ') + 3), ' ') - 1)"),
                      0);
    /* rollups equal the facts */
    assert_int_equal (dt_i64 (db, "SELECT SUM(runs) FROM rollup_job_day"), dt_i64 (db, "SELECT COUNT(*) FROM job_runs"));
    assert_int_equal (dt_i64 (db, "SELECT SUM(usage_rows) FROM rollup_compute_day"), dt_i64 (db, "SELECT COUNT(*) FROM compute_usage"));
    assert_true (fabs (dt_dbl (db, "SELECT SUM(cost_usd) - SUM(list_cost_usd) FROM rollup_compute_day")) < 1e-6);
    assert_true (fabs (dt_dbl (db, "SELECT SUM(cost_usd) FROM rollup_compute_day")
                       - dt_dbl (db, "SELECT SUM(total_cost) FROM compute_usage")) < 1e-6);
    assert_int_equal (dt_i64 (db, "SELECT SUM(evictions) FROM rollup_job_day"), dt_i64 (db, "SELECT COUNT(*) FROM eviction_details"));
    /* every CONFIG_CHANGE event has its config_changes rows and vice versa */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM events e WHERE event_type='CONFIG_CHANGE' AND NOT EXISTS "
                                  "(SELECT 1 FROM config_changes c WHERE c.event_id = e.event_id)"),
                      0);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM config_changes c LEFT JOIN events e ON e.event_id = c.event_id "
                                  "WHERE e.event_type IS NOT 'CONFIG_CHANGE'"),
                      0);
    /* date_series is a gap-free calendar covering every usage date */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM (SELECT DISTINCT usage_date FROM compute_usage EXCEPT SELECT date FROM date_series)"), 0);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM date_series"),
                      dt_i64 (db, "SELECT CAST(julianday(MAX(date)) - julianday(MIN(date)) AS INTEGER) + 1 FROM date_series"));
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM data_version WHERE writer='generate' AND updated_at IS NOT NULL"), 1);
}

static void
test_invariants_small (void **state)
{
    (void) state;
    s_invariants (s_db);
    /* reference-sized: the reference's fixed entities */
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM workspace"), 1);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM users_lookup"), 7);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM instance_pools"), 2);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM non_job_compute"), 7);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM jobs"), 9);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM date_series"), 45);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM jobs WHERE tags IS NULL"), 1);
    int64_t runs = dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs");
    assert_true (runs > 400 && runs < 700);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM sku_prices WHERE price_usd_per_dbu = 0.40"), 3);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM compute_usage WHERE parent_type != 'JOB_RUN'"), 7 * 45);
    char first[16];
    dt_text (s_db, first, sizeof first, "SELECT MIN(usage_date) FROM compute_usage");
    assert_string_equal (first, "2025-11-01");
}

static void
test_scenario_cost_spike (void **state)
{
    (void) state;
    /* FIN-DAILY 12-05..07: initial run + R02 + R03 fail with SpotInstanceTerminated, R04 succeeds */
    for (int d = 5; d <= 7; d++) {
        assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-FIN-DAILY' AND "
                                        "start_time LIKE '2025-12-0%d%%' AND run_status='FAILED' AND "
                                        "error_summary LIKE 'SpotInstanceTerminated%%'", d),
                          3);
        assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_run_id='J-FIN-DAILY-202512%02d-01-R04' "
                                        "AND run_status='SUCCESS'", d),
                          1);
        assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM eviction_details WHERE eviction_id LIKE 'EVICT-J-FIN-DAILY-202512%02d%%' "
                                        "AND was_retried=1 AND eviction_reason='PRICE_CHANGE'", d),
                          3);
    }
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-FIN-DAILY' AND run_status='FAILED'"), 9);
    /* the spike: daily cost on those days is > 1.5x the job's median day */
    double normal = dt_dbl (s_db, "SELECT AVG(cost_usd) FROM rollup_job_day WHERE job_id='J-FIN-DAILY' AND "
                                  "usage_date NOT BETWEEN '2025-12-05' AND '2025-12-07'");
    double spike = dt_dbl (s_db, "SELECT MIN(cost_usd) FROM rollup_job_day WHERE job_id='J-FIN-DAILY' AND "
                                 "usage_date BETWEEN '2025-12-05' AND '2025-12-07'");
    assert_true (spike > 1.5 * normal);
    assert_int_equal (dt_i64 (s_db, "SELECT SUM(retry_runs) FROM rollup_job_day WHERE job_id='J-FIN-DAILY'"), 9);
}

static void
test_scenario_cascade (void **state)
{
    (void) state;
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-SUPPLY-RAW' AND start_time LIKE '2025-11-15%%' "
                                    "AND run_status='FAILED' AND error_summary LIKE 'IOException%%'"),
                      1);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id IN ('J-SUPPLY-TRANSFORM','J-SUPPLY-DASHBOARD') "
                                    "AND start_time LIKE '2025-11-15%%' AND run_status='SKIPPED' "
                                    "AND error_summary='Upstream dependency failed - run skipped' AND duration_ms=0"),
                      2);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE run_status='SKIPPED'"), 2);
    assert_int_equal (dt_i64 (s_db, "SELECT SUM(skipped_runs) FROM rollup_job_day WHERE usage_date='2025-11-15'"), 2);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_dependencies WHERE dependency_type='HARD' AND "
                                    "upstream_job_id IN ('J-SUPPLY-RAW','J-SUPPLY-TRANSFORM')"),
                      2);
}

static void
test_scenario_eviction_cluster (void **state)
{
    (void) state;
    /* ROUTE-OPT runs 3x a day; about half fail in the 11-28..30 window */
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM (SELECT substr(start_time,1,10) d, COUNT(*) n FROM job_runs "
                                    "WHERE job_id='J-ROUTE-OPT' GROUP BY d HAVING n != 3)"),
                      0);
    int64_t total = dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-ROUTE-OPT' AND start_time BETWEEN '2025-11-28' AND '2025-12-01'");
    int64_t failed = dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-ROUTE-OPT' AND start_time BETWEEN '2025-11-28' AND '2025-12-01' "
                                   "AND run_status='FAILED' AND error_summary LIKE 'SpotInstanceTerminated%%'");
    assert_int_equal (total, 9);
    assert_true (failed * 10 >= total * 3 && failed * 10 <= total * 7);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-ROUTE-OPT' AND run_status='FAILED' AND "
                                    "start_time NOT BETWEEN '2025-11-28' AND '2025-12-01'"),
                      0);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM eviction_details WHERE eviction_id LIKE 'EVICT-J-ROUTE-OPT-%%' AND "
                                    "cloud_provider_message LIKE 'Server.InsufficientInstanceCapacity%%' AND eviction_reason='CAPACITY_CHANGE'"),
                      failed);
    /* spot ratio 0.85 only inside the window (drift, with CONFIG_CHANGE both ways) */
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-ROUTE-OPT' AND spot_ratio=0.85"), 9);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM config_changes WHERE entity_id='J-ROUTE-OPT' AND field='spot_ratio'"), 2);
}

static void
test_scenario_regression (void **state)
{
    (void) state;
    /* ML-TRAINING: 2 runs a day; CONFIG_CHANGE on 11-30 by U-EMILY; slower and failing after */
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-ML-TRAINING' AND job_run_id NOT LIKE '%%-R__'"), 90);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM events WHERE event_type='CONFIG_CHANGE' AND user_id='U-EMILY' AND "
                                    "event_time='2025-11-30 22:00:00' AND details LIKE '%%spot_ratio 0.50 -> 0.65%%'"),
                      1);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM config_changes WHERE entity_id='J-ML-TRAINING' AND field='spot_ratio' "
                                    "AND before_value='0.50' AND after_value='0.65' AND changed_by='U-EMILY'"),
                      1);
    double before = dt_dbl (s_db, "SELECT AVG(duration_ms) FROM job_runs WHERE job_id='J-ML-TRAINING' AND run_status='SUCCESS' AND start_time < '2025-12-01'");
    double after = dt_dbl (s_db, "SELECT AVG(duration_ms) FROM job_runs WHERE job_id='J-ML-TRAINING' AND run_status='SUCCESS' AND start_time >= '2025-12-01'");
    assert_true (after > 1.25 * before);
    char days[256];
    dt_text (s_db, days, sizeof days, "SELECT group_concat(d, ',') FROM (SELECT DISTINCT substr(start_time,1,10) d FROM job_runs "
                                      "WHERE job_id='J-ML-TRAINING' AND run_status='FAILED' ORDER BY d)");
    assert_string_equal (days, "2025-12-03,2025-12-06,2025-12-09,2025-12-12,2025-12-15");
    /* the same days the reference computes with julianday(date)*100 % 3 */
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM date_series WHERE date >= '2025-12-01' AND CAST(julianday(date)*100 AS INTEGER) %% 3 = 0"), 5);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-ML-TRAINING' AND start_time >= '2025-12-01' AND spot_ratio != 0.65"), 0);
}

static void
test_scenario_chronic_tags_queries (void **state)
{
    (void) state;
    /* LEGACY-ETL fails every 5th day (11-01, 06, ... 12-11) and grows slower */
    char days[512];
    dt_text (s_db, days, sizeof days, "SELECT group_concat(d, ',') FROM (SELECT DISTINCT substr(start_time,6,5) d FROM job_runs "
                                      "WHERE job_id='J-LEGACY-ETL' AND run_status='FAILED' ORDER BY d)");
    assert_string_equal (days, "11-01,11-06,11-11,11-16,11-21,11-26,12-01,12-06,12-11");
    double early = dt_dbl (s_db, "SELECT AVG(duration_ms) FROM job_runs WHERE job_id='J-LEGACY-ETL' AND run_status='SUCCESS' AND start_time < '2025-11-11'");
    double late = dt_dbl (s_db, "SELECT AVG(duration_ms) FROM job_runs WHERE job_id='J-LEGACY-ETL' AND run_status='SUCCESS' AND start_time >= '2025-12-05'");
    assert_true (late > 1.25 * early);
    /* FIN-MONTHLY fails on 11-01 (day index 0 % 20) */
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-FIN-MONTHLY' AND run_status='FAILED' AND start_time LIKE '2025-11-01%%'"), 1);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-HR-WEEKLY' AND strftime('%%w', start_time) != '1'"), 0);
    /* messy tags: HR one tag, LEGACY none, normalized forms */
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_tags WHERE job_id='J-HR-WEEKLY'"), 1);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_tags WHERE job_id='J-LEGACY-ETL'"), 0);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM job_tags WHERE tag_key='SLA-4hr' AND tag_value IS NULL"), 1);
    /* ad-hoc query problems: timeouts and killed queries */
    assert_true (dt_i64 (s_db, "SELECT COUNT(*) FROM sql_query_history WHERE error_message LIKE 'Query exceeded warehouse timeout%%'") > 0);
    assert_true (dt_i64 (s_db, "SELECT COUNT(*) FROM sql_query_history WHERE error_message LIKE 'Query killed%%'") > 0);
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM sql_query_history WHERE query_id NOT GLOB 'Q-ADHOC-[0-9][0-9][0-9][0-9]'"), 0);
    /* APC/warehouse cost = dbus x 0.40 (reference bug 11.6 fixed) */
    assert_int_equal (dt_i64 (s_db, "SELECT COUNT(*) FROM compute_usage WHERE parent_type != 'JOB_RUN' AND abs(total_cost - dbus_consumed*0.40) > 1e-9"), 0);
    assert_true (dt_i64 (s_db, "SELECT COUNT(*) FROM compute_usage WHERE compute_usage_id LIKE 'APC-FINANCE-20251201'") == 1);
}

static void
test_medium (void **state)
{
    (void) state;
    /* one medium run (determinism is covered on small; CI time matters) */
    char p[4200];
    snprintf (p, sizeof p, "%s/medium.db", s_dir);
    s_generate ("medium", 7, p);
    sqlite3 *db = dt_open (p);
    s_invariants (db);
    assert_true (dt_i64 (db, "SELECT COUNT(*) FROM workspace") >= 4);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM workspace w WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.workspace_id = w.workspace_id)"), 0);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM workspace_details"), dt_i64 (db, "SELECT COUNT(*) FROM workspace"));
    assert_true (dt_i64 (db, "SELECT COUNT(DISTINCT workspace_id) FROM rollup_job_day") >= 4);
    /* price windows: both PREMIUM_JOBS_COMPUTE prices are used, each inside its window */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM sku_prices WHERE sku='PREMIUM_JOBS_COMPUTE'"), 2);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(DISTINCT price_usd_per_dbu) FROM v_compute_usage WHERE compute_sku='PREMIUM_JOBS_COMPUTE'"), 2);
    /* reference scenarios are all present in workspace 0 */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_runs WHERE job_id='J-FIN-DAILY' AND run_status='FAILED' AND start_time BETWEEN '2025-12-05' AND '2025-12-08'"), 9);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_runs WHERE job_id IN ('J-SUPPLY-TRANSFORM','J-SUPPLY-DASHBOARD') AND run_status='SKIPPED' AND start_time LIKE '2025-11-15%%'"), 2);
    /* generated workspaces: cascades, config changes, capacity incidents, messy tags */
    assert_true (dt_i64 (db, "SELECT COUNT(*) FROM job_runs WHERE run_status='SKIPPED' AND job_id NOT LIKE 'J-SUPPLY%%'") > 0);
    assert_true (dt_i64 (db, "SELECT COUNT(*) FROM config_changes WHERE entity_id NOT IN ('J-ROUTE-OPT','J-ML-TRAINING')") > 10);
    assert_true (dt_i64 (db, "SELECT COUNT(*) FROM eviction_details WHERE eviction_id NOT LIKE 'EVICT-J-FIN%%' AND eviction_id NOT LIKE 'EVICT-J-ROUTE%%' AND eviction_id NOT LIKE 'EVICT-J-ML%%'") > 10);
    assert_true (dt_i64 (db, "SELECT COUNT(*) FROM job_tags WHERE source='json_object'") > 0);
    assert_true (dt_i64 (db, "SELECT COUNT(*) FROM job_tags WHERE source='text'") > 0);
    assert_true (dt_i64 (db, "SELECT COUNT(*) FROM job_tags WHERE tag_value IS NOT NULL AND source='json_array'") > 0);
    assert_true (dt_i64 (db, "SELECT COUNT(*) FROM jobs WHERE tags IS NULL") > 1);
    assert_true (dt_i64 (db, "SELECT COUNT(*) FROM job_runs WHERE job_run_id GLOB '*-R02'") > 50);
    sqlite3_close (db);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_determinism),
        cmocka_unit_test (test_invariants_small),
        cmocka_unit_test (test_scenario_cost_spike),
        cmocka_unit_test (test_scenario_cascade),
        cmocka_unit_test (test_scenario_eviction_cluster),
        cmocka_unit_test (test_scenario_regression),
        cmocka_unit_test (test_scenario_chronic_tags_queries),
        cmocka_unit_test (test_medium),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
