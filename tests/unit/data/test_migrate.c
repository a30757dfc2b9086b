/* test_migrate.c — the reference fixture migrated in place keeps every
 * original row (ATTACH + EXCEPT both ways per table), row counts equal
 * seed-copilot.md §1.3, the reference schema text is unchanged, derived
 * tables are populated, and a second migration writes nothing (same SHA-256).
 * Also: db init on an empty file, refusal to migrate a non-telemetry file,
 * and the CLI exit codes of `copilot db`. */
#include "data_test_util.h"

#include "dl_common.h"
#include "dl_schema.h"

static char s_dir[4096];

static const struct {
    const char *table;
    int64_t rows;
} s_counts[] = {
    {"workspace", 1},     {"users_lookup", 7},    {"instance_pools", 2},
    {"non_job_compute", 7}, {"jobs", 9},          {"job_runs", 375},
    {"compute_usage", 688}, {"events", 802},      {"eviction_details", 27},
    {"sql_query_history", 56}, {"date_series", 0},
};

static int
s_setup (void **state)
{
    (void) state;
    if (access (COPILOT_FIXTURE_DB, R_OK) != 0) {
        fprintf (stderr, "fixture %s missing: skipping\n", COPILOT_FIXTURE_DB);
        exit (77);
    }
    dt_tmpdir (s_dir, sizeof s_dir);
    return 0;
}

static int
s_teardown (void **state)
{
    (void) state;
    dt_rmdir (s_dir);
    return 0;
}

static void
s_migrate (const char *path, int expect_applied)
{
    sqlite3 *db = NULL;
    assert_int_equal (dl_db_open (path, false, &db), DL_OK);
    int applied = -1;
    int rc = dl_schema_apply (db, DL_SCHEMA_MIGRATE, NULL, &applied);
    if (rc)
        fail_msg ("migrate: %s", dl_last_error ());
    assert_int_equal (applied, expect_applied);
    sqlite3_close (db);
}

static void
test_fixture_rows_kept (void **state)
{
    (void) state;
    char path[4200], h1[65], h2[65], h0[65];
    snprintf (path, sizeof path, "%s/fixture.db", s_dir);
    dt_copy (COPILOT_FIXTURE_DB, path);
    dt_sha256_file (COPILOT_FIXTURE_DB, h0);

    s_migrate (path, dl_schema_migration_count ());
    assert_true (dl_schema_migration_count () >= 4);
    dt_sha256_file (path, h1);
    s_migrate (path, 0); /* idempotent: nothing applied, nothing written */
    dt_sha256_file (path, h2);
    assert_string_equal (h1, h2);

    sqlite3 *db = dt_open (path);
    char sql[512];
    snprintf (sql, sizeof sql, "ATTACH '%s' AS f", COPILOT_FIXTURE_DB);
    assert_int_equal (sqlite3_exec (db, sql, NULL, NULL, NULL), SQLITE_OK);
    for (size_t i = 0; i < sizeof s_counts / sizeof s_counts[0]; i++) {
        const char *t = s_counts[i].table;
        assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM main.%s", t), s_counts[i].rows);
        assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM f.%s", t), s_counts[i].rows);
        int64_t extra = dt_i64 (db, "SELECT COUNT(*) FROM (SELECT * FROM main.%s EXCEPT SELECT * FROM f.%s)", t, t);
        int64_t missing = dt_i64 (db, "SELECT COUNT(*) FROM (SELECT * FROM f.%s EXCEPT SELECT * FROM main.%s)", t, t);
        if (extra || missing)
            fail_msg ("table %s differs from the fixture: %lld extra, %lld missing", t,
                      (long long) extra, (long long) missing);
    }
    /* the reference schema objects are byte-identical */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM (SELECT type, name, sql FROM f.sqlite_master "
                                  "EXCEPT SELECT type, name, sql FROM main.sqlite_master)"),
                      0);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM f.sqlite_master WHERE type='index' AND sql IS NOT NULL"), 8);

    /* ledger and data version */
    int latest = 0;
    dl_schema_migration_at (dl_schema_migration_count () - 1, NULL, &latest);
    assert_true (latest >= 5);
    assert_int_equal (dt_i64 (db, "SELECT MAX(version) FROM schema_migrations"), latest);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM schema_migrations"), dl_schema_migration_count () + 1);
    assert_int_equal (dt_i64 (db, "SELECT version FROM data_version WHERE id=1"), 1);
    /* derived tables from existing rows */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM sku_prices WHERE price_usd_per_dbu = 0.40 AND valid_to IS NULL"), 3);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_tags"), 25);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_tags WHERE job_id='J-LEGACY-ETL'"), 0);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_tags WHERE job_id='J-HR-WEEKLY'"), 1);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_tags WHERE tag_norm='supply-chain'"), 3);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM job_dependencies WHERE "
                                  "(upstream_job_id='J-SUPPLY-RAW' AND downstream_job_id='J-SUPPLY-TRANSFORM') OR "
                                  "(upstream_job_id='J-SUPPLY-TRANSFORM' AND downstream_job_id='J-SUPPLY-DASHBOARD')"),
                      2);
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM config_changes"), 0);
    assert_int_equal (dt_i64 (db, "SELECT SUM(runs) FROM rollup_job_day"), 375);
    assert_int_equal (dt_i64 (db, "SELECT SUM(skipped_runs) FROM rollup_job_day"), 2);
    assert_int_equal (dt_i64 (db, "SELECT SUM(evictions) FROM rollup_job_day"), 27);
    assert_int_equal (dt_i64 (db, "SELECT SUM(usage_rows) FROM rollup_compute_day"), 688);
    assert_true (fabs (dt_dbl (db, "SELECT SUM(cost_usd) FROM rollup_compute_day")
                       - dt_dbl (db, "SELECT SUM(total_cost) FROM compute_usage"))
                 < 1e-6);
    assert_true (fabs (dt_dbl (db, "SELECT SUM(cost_usd) FROM rollup_job_day")
                       - dt_dbl (db, "SELECT SUM(total_cost) FROM compute_usage WHERE parent_type='JOB_RUN'"))
                 < 1e-6);
    /* JOB_RUN usage of the fixture is priced at 0.40 exactly */
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM v_compute_usage WHERE parent_type='JOB_RUN' AND "
                                  "abs(total_cost - dbus_consumed * price_usd_per_dbu) > 1e-6"),
                      0);
    sqlite3_close (db);
    /* the fixture itself was never touched */
    char h3[65];
    dt_sha256_file (COPILOT_FIXTURE_DB, h3);
    assert_string_equal (h0, h3);
}

static void
test_init_and_refuse (void **state)
{
    (void) state;
    char path[4200];
    snprintf (path, sizeof path, "%s/empty.db", s_dir);
    sqlite3 *db = NULL;
    assert_int_equal (dl_db_open (path, true, &db), DL_OK);
    /* migrate refuses a file without the reference tables */
    assert_int_equal (dl_schema_apply (db, DL_SCHEMA_MIGRATE, NULL, NULL), DL_E_SCHEMA);
    assert_non_null (strstr (dl_last_error (), "workspace"));
    int applied = 0;
    assert_int_equal (dl_schema_apply (db, DL_SCHEMA_INIT, "2025-01-01 00:00:00", &applied), DL_OK);
    assert_int_equal (applied, dl_schema_migration_count ());
    for (int i = 0; dl_reference_tables[i]; i++)
        assert_true (dl_table_exists (db, dl_reference_tables[i]));
    assert_int_equal (dt_i64 (db, "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name LIKE 'idx_%%' "
                                  "AND tbl_name IN ('compute_usage','events','eviction_details','sql_query_history')"),
                      8);
    assert_int_equal (dl_schema_apply (db, DL_SCHEMA_INIT, NULL, &applied), DL_OK);
    assert_int_equal (applied, 0);
    sqlite3_close (db);
}

static void
test_cli (void **state)
{
    (void) state;
    char path[4200];
    snprintf (path, sizeof path, "%s/cli.db", s_dir);
    dt_copy (COPILOT_FIXTURE_DB, path);
    assert_int_equal (dt_run ("%s db migrate --db %s > /dev/null", COPILOT_BIN, path), 0);
    assert_int_equal (dt_run ("%s db version --db %s | grep -q 'schema version: [0-9]* (latest known: [0-9]*)$'", COPILOT_BIN, path), 0);
    assert_int_equal (dt_run ("%s db migrate --db %s | grep -q '0 migration(s) applied'", COPILOT_BIN, path), 0);
    assert_int_equal (dt_run ("%s db migrate --db %s/nope.db 2>/dev/null", COPILOT_BIN, s_dir), 1);
    assert_int_equal (dt_run ("%s db frobnicate --db %s 2>/dev/null", COPILOT_BIN, path), 2);
    assert_int_equal (dt_run ("%s db migrate --bogus 2>/dev/null", COPILOT_BIN), 2);
    assert_int_equal (dt_run ("%s db --help | grep -q 'usage: copilot db'", COPILOT_BIN), 0);
    assert_int_equal (dt_run ("%s --help | grep -q generate", COPILOT_BIN), 0);
    assert_int_equal (dt_run ("%s nosuchcommand 2>/dev/null", COPILOT_BIN), 2);
    assert_int_equal (dt_run ("%s generate --db %s/x.db 2>/dev/null", COPILOT_BIN, s_dir), 2);
    assert_int_equal (dt_run ("%s generate --profile huge --db %s/x.db 2>/dev/null", COPILOT_BIN, s_dir), 2);
    /* generate refuses to overwrite without --force */
    assert_int_equal (dt_run ("%s generate --profile small --seed 1 --db %s 2>/dev/null", COPILOT_BIN, path), 1);
    char init[4200];
    snprintf (init, sizeof init, "%s/init.db", s_dir);
    assert_int_equal (dt_run ("%s db init --db %s > /dev/null", COPILOT_BIN, init), 0);
    assert_int_equal (dt_run ("%s db refresh --db %s > /dev/null", COPILOT_BIN, init), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_fixture_rows_kept),
        cmocka_unit_test (test_init_and_refuse),
        cmocka_unit_test (test_cli),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
