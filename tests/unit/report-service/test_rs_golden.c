/* test_rs_golden.c — golden values of the five reference reports (and
 * checks of the pillar reports) on the reference fixture, computed
 * INDEPENDENTLY of rs_engine.
 *
 * For every report the test writes its own SQL from the documented formulas
 * (seed-copilot §2 + the documented fixes), runs it with the sqlite3 CLI
 * (`sqlite3 -readonly -json`), does the remaining steps (ranking, running
 * totals, selection rules, the z-score detector via window functions) in
 * this file, and compares every figure with rs_engine's output within 1e-6
 * (relative to max(1, |x|)). The engine's own SQL files are never read here.
 * Exits 77 (skip) when the fixture or the sqlite3 CLI is missing.
 *
 * Usage: test_rs_golden <fixture.db>
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "it_check.h"
#include "rs_engine.h"

static const char *g_db;
static int g_fail;
static int g_checks;

#define CHECK(cond, ...) do { g_checks++; ITC_CHECK_MSG (g_fail, cond, __VA_ARGS__); } while (0)

static bool
s_close (double a, double b)
{
    double scale = fabs (a) > 1.0 ? fabs (a) : 1.0;
    return fabs (a - b) <= 1e-6 * scale;
}

/* Runs `sql` with the sqlite3 CLI on the fixture; returns the JSON array. */
static json_t *
s_sqlite (const char *sql)
{
    char tmpl[] = "/tmp/rs_golden_XXXXXX";
    int fd = mkstemp (tmpl);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen (fd, "w");
    fputs (sql, f);
    fputs (";\n", f);
    fclose (f);
    char cmd[2048];
    snprintf (cmd, sizeof cmd, "sqlite3 -readonly -json '%s' < '%s'", g_db, tmpl);
    FILE *p = popen (cmd, "r");
    if (!p) {
        unlink (tmpl);
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc (cap);
    size_t got;
    while ((got = fread (buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc (buf, cap);
        }
    }
    int st = pclose (p);
    unlink (tmpl);
    buf[len] = '\0';
    json_t *out = NULL;
    if (st == 0) {
        if (len == 0)
            out = json_array ();
        else {
            json_error_t e;
            out = json_loads (buf, 0, &e);
            if (!out)
                fprintf (stderr, "sqlite3 output not JSON: %s\n", e.text);
        }
    } else
        fprintf (stderr, "sqlite3 failed (%d) on:\n%s\n", st, sql);
    free (buf);
    return out;
}

static double
s_num (json_t *o, const char *k)
{
    json_t *v = json_object_get (o, k);
    return json_is_number (v) ? json_number_value (v) : NAN;
}

static json_t *
s_find_row (json_t *rows, const char *key, const char *value)
{
    size_t i;
    json_t *r;
    json_array_foreach (rows, i, r) {
        const char *v = json_string_value (json_object_get (r, key));
        if (v && strcmp (v, value) == 0)
            return r;
    }
    return NULL;
}

static json_t *
s_run (rs_engine_t *e, const char *id)
{
    json_t *out = NULL;
    int rc = rs_engine_run (e, id, NULL, 0, &out);
    CHECK (rc == 0, "run %s: %s", id, rs_engine_error (e));
    return out;
}

/* Compares the listed numeric columns of engine rows with golden rows by key. */
static void
s_compare (const char *report, json_t *eng_rows, json_t *gold_rows, const char *key, const char *const *cols)
{
    CHECK (json_array_size (eng_rows) == json_array_size (gold_rows), "%s: %zu rows, golden %zu", report,
           json_array_size (eng_rows), json_array_size (gold_rows));
    size_t i;
    json_t *g;
    json_array_foreach (gold_rows, i, g) {
        const char *id = json_string_value (json_object_get (g, key));
        json_t *r = s_find_row (eng_rows, key, id);
        CHECK (r != NULL, "%s: row %s missing", report, id);
        if (!r)
            continue;
        for (int c = 0; cols[c]; c++) {
            double a = s_num (r, cols[c]), b = s_num (g, cols[c]);
            CHECK ((isnan (a) && isnan (b)) || s_close (a, b), "%s: %s.%s = %.10g, golden %.10g", report, id,
                   cols[c], a, b);
        }
    }
}

static double
s_kpi (json_t *res, const char *id)
{
    size_t i;
    json_t *k;
    json_array_foreach (json_object_get (res, "kpis"), i, k)
        if (strcmp (json_string_value (json_object_get (k, "id")), id) == 0)
            return s_num (k, "value");
    return NAN;
}

static const char *
s_kpi_text (json_t *res, const char *id)
{
    size_t i;
    json_t *k;
    json_array_foreach (json_object_get (res, "kpis"), i, k)
        if (strcmp (json_string_value (json_object_get (k, "id")), id) == 0)
            return json_string_value (json_object_get (k, "text"));
    return "";
}

/* ---------------------------------------------------------------- job_cost */
static const char *JOB_COST_GOLD =
    "SELECT j.job_id, j.job_name,"
    " (SELECT TOTAL(u.total_cost) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
    "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id) AS cost_total_usd,"
    " (SELECT TOTAL(u.total_cost * r.spot_ratio) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
    "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id) AS cost_spot_usd,"
    " (SELECT TOTAL(u.total_cost * (1 - r.spot_ratio)) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
    "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id) AS cost_ondemand_usd,"
    /* fix §11.8: every run counts, SKIPPED included */
    " (SELECT COUNT(*) FROM job_runs r WHERE r.job_id = j.job_id) AS total_runs,"
    " (SELECT COUNT(*) FROM job_runs r WHERE r.job_id = j.job_id AND r.run_status = 'SUCCESS') AS success_runs,"
    " (SELECT COUNT(*) FROM job_runs r WHERE r.job_id = j.job_id AND r.run_status = 'FAILED') AS failed_runs,"
    " (SELECT COUNT(*) FROM job_runs r WHERE r.job_id = j.job_id AND r.run_status = 'SKIPPED') AS skipped_runs,"
    " (SELECT AVG(r.duration_ms) / 60000.0 FROM job_runs r WHERE r.job_id = j.job_id"
    "   AND r.job_run_id IN (SELECT parent_id FROM compute_usage WHERE parent_type = 'JOB_RUN')) AS avg_duration_mins,"
    " (SELECT AVG(u.avg_cpu_utilization) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
    "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id) AS avg_cpu_utilization,"
    " (SELECT MAX(u.avg_memory_gb) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
    "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id) AS max_memory_gb,"
    " (SELECT AVG(r.spot_ratio) FROM job_runs r WHERE r.job_id = j.job_id"
    "   AND r.job_run_id IN (SELECT parent_id FROM compute_usage WHERE parent_type = 'JOB_RUN')) AS avg_spot_ratio,"
    " (SELECT TOTAL(u.dbus_consumed) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
    "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id) AS total_dbus"
    " FROM jobs j WHERE EXISTS (SELECT 1 FROM job_runs r WHERE r.job_id = j.job_id) ORDER BY j.job_id";

static void
s_golden_job_cost (rs_engine_t *e)
{
    json_t *gold = s_sqlite (JOB_COST_GOLD);
    CHECK (gold != NULL, "job_cost golden query failed");
    if (!gold)
        return;
    double grand = 0;
    size_t i;
    json_t *g;
    json_array_foreach (gold, i, g)
        grand += s_num (g, "cost_total_usd");
    json_array_foreach (gold, i, g) {
        double tr = s_num (g, "total_runs"), cost = s_num (g, "cost_total_usd"), dbus = s_num (g, "total_dbus");
        json_object_set_new (g, "success_rate_pct", json_real (100.0 * s_num (g, "success_runs") / tr));
        json_object_set_new (g, "failure_rate_pct", json_real (100.0 * s_num (g, "failed_runs") / tr));
        json_object_set_new (g, "cost_per_dbu", json_real (dbus > 0 ? cost / dbus : 0));
        json_object_set_new (g, "grand_total_cost", json_real (grand));
        json_object_set_new (g, "pct_of_total_cost", json_real (100.0 * cost / grand));
    }
    json_t *res = s_run (e, "job_cost");
    if (!res) {
        json_decref (gold);
        return;
    }
    json_t *rows = json_object_get (res, "rows");
    static const char *cols[] = {"cost_total_usd", "cost_spot_usd", "cost_ondemand_usd", "total_runs", "success_runs",
                                 "failed_runs", "skipped_runs", "avg_duration_mins", "avg_cpu_utilization",
                                 "max_memory_gb", "avg_spot_ratio", "total_dbus", "cost_per_dbu", "success_rate_pct",
                                 "failure_rate_pct", "grand_total_cost", "pct_of_total_cost", NULL};
    s_compare ("job_cost", rows, gold, "job_id", cols);
    /* the figures quoted in the README */
    CHECK (s_close (grand, 200566.3767564), "job_cost grand total %.7f", grand);
    CHECK (s_close (s_kpi (res, "total_cost"), grand), "KPI total cost");
    CHECK (strcmp (s_kpi_text (res, "total_cost"), "$200,566") == 0, "KPI text %s", s_kpi_text (res, "total_cost"));
    CHECK (s_kpi (res, "active_jobs") == 9, "active jobs");
    /* SKIPPED runs now count: TRANSFORM and DASHBOARD have 45 runs, 1 skipped */
    json_t *tr = s_find_row (rows, "job_id", "J-SUPPLY-TRANSFORM");
    CHECK (tr && s_num (tr, "total_runs") == 45 && s_num (tr, "skipped_runs") == 1, "TRANSFORM runs");
    /* order: cost DESC */
    double prev = INFINITY, mean_sr = 0;
    long high = 0;
    json_array_foreach (rows, i, g) {
        CHECK (s_num (g, "cost_total_usd") <= prev, "job_cost order at %zu", i);
        prev = s_num (g, "cost_total_usd");
        mean_sr += s_num (g, "success_rate_pct");
        high += s_num (g, "pct_of_total_cost") > 10;
    }
    mean_sr /= (double) json_array_size (rows);
    CHECK (s_close (s_kpi (res, "avg_reliability"), mean_sr), "avg reliability");
    CHECK (s_kpi (res, "high_cost_jobs") == (double) high, "high cost jobs");

    /* selection rule (§2.2): top 8 by cost, + up to 4 with success < 95 by
     * failure DESC, dedupe, sort by cost DESC, cap 12 — recomputed here */
    size_t n = json_array_size (gold);
    const char *picked[32];
    size_t np = 0;
    size_t *ord = malloc (sizeof *ord * n);
    for (size_t k = 0; k < n; k++)
        ord[k] = k;
    for (size_t a = 0; a < n; a++)   /* by cost desc */
        for (size_t b = a + 1; b < n; b++)
            if (s_num (json_array_get (gold, ord[b]), "cost_total_usd") > s_num (json_array_get (gold, ord[a]), "cost_total_usd")) {
                size_t t = ord[a];
                ord[a] = ord[b];
                ord[b] = t;
            }
    for (size_t k = 0; k < n && k < 8; k++)
        picked[np++] = json_string_value (json_object_get (json_array_get (gold, ord[k]), "job_id"));
    size_t *fo = malloc (sizeof *fo * n);
    size_t nf = 0;
    for (size_t k = 0; k < n; k++)
        if (s_num (json_array_get (gold, ord[k]), "success_rate_pct") < 95)
            fo[nf++] = ord[k];
    for (size_t a = 0; a < nf; a++)
        for (size_t b = a + 1; b < nf; b++)
            if (s_num (json_array_get (gold, fo[b]), "failure_rate_pct") > s_num (json_array_get (gold, fo[a]), "failure_rate_pct")) {
                size_t t = fo[a];
                fo[a] = fo[b];
                fo[b] = t;
            }
    for (size_t k = 0; k < nf && k < 4; k++) {
        const char *id = json_string_value (json_object_get (json_array_get (gold, fo[k]), "job_id"));
        bool dup = false;
        for (size_t q = 0; q < np; q++)
            dup = dup || strcmp (picked[q], id) == 0;
        if (!dup)
            picked[np++] = id;
    }
    /* final order by cost desc == order of `ord` restricted to picked */
    json_t *sels = json_object_get (res, "selections");
    size_t si = 0;
    for (size_t k = 0; k < n; k++) {
        const char *id = json_string_value (json_object_get (json_array_get (gold, ord[k]), "job_id"));
        bool in = false;
        for (size_t q = 0; q < np; q++)
            in = in || strcmp (picked[q], id) == 0;
        if (!in || si >= 12)
            continue;
        json_t *s = json_array_get (sels, si++);
        CHECK (s && strcmp (json_string_value (json_object_get (s, "entity_id")), id) == 0,
               "job_cost selection %zu: %s, expected %s", si - 1,
               s ? json_string_value (json_object_get (s, "entity_id")) : "(none)", id);
    }
    CHECK (json_array_size (sels) == si, "job_cost selections %zu, expected %zu", json_array_size (sels), si);
    /* label of the costliest job (failure 37.5% > 10, 52.5% > 15) */
    json_t *s0 = json_array_get (sels, 0);
    CHECK (s0 && strcmp (json_string_value (json_object_get (s0, "label")),
                         "Legacy Customer Data ETL (⚠️ 38% fail, 💰 52% of cost)") == 0,
           "label %s", s0 ? json_string_value (json_object_get (s0, "label")) : "");
    free (ord);
    free (fo);
    json_decref (res);
    json_decref (gold);
}

/* ------------------------------------------------------- compute_type_cost */
static void
s_golden_compute_type (rs_engine_t *e)
{
    json_t *tot = s_sqlite ("SELECT parent_type AS compute_type, TOTAL(total_cost) AS cost_total_usd,"
                            " TOTAL(dbus_consumed) AS dbus_total, COUNT(*) AS total_usage_records,"
                            " COUNT(DISTINCT usage_date) AS days_active FROM compute_usage GROUP BY parent_type");
    json_t *daily = s_sqlite ("SELECT parent_type AS compute_type, AVG(dc) AS avg_daily_cost, MAX(dc) AS max_daily_cost,"
                              " MIN(dc) AS min_daily_cost, AVG(cpu) AS avg_cpu_utilization, AVG(ents) AS avg_active_entities"
                              " FROM (SELECT parent_type, usage_date, SUM(total_cost) AS dc, AVG(avg_cpu_utilization) AS cpu,"
                              " COUNT(DISTINCT parent_id) AS ents FROM compute_usage GROUP BY parent_type, usage_date)"
                              " GROUP BY parent_type");
    CHECK (tot && daily, "compute_type golden queries failed");
    if (!tot || !daily)
        return;
    double all = 0;
    size_t i;
    json_t *g;
    json_array_foreach (tot, i, g)
        all += s_num (g, "cost_total_usd");
    json_array_foreach (tot, i, g) {
        json_t *d = s_find_row (daily, "compute_type", json_string_value (json_object_get (g, "compute_type")));
        json_object_update (g, d);
        json_object_set_new (g, "pct_of_total", json_real (100.0 * s_num (g, "cost_total_usd") / all));
        json_object_set_new (g, "cost_volatility_ratio",
                             json_real ((s_num (g, "max_daily_cost") - s_num (g, "min_daily_cost")) / s_num (g, "avg_daily_cost")));
    }
    json_t *res = s_run (e, "compute_type_cost");
    if (!res)
        return;
    static const char *cols[] = {"cost_total_usd", "dbus_total", "avg_daily_cost", "max_daily_cost", "min_daily_cost",
                                 "pct_of_total", "avg_cpu_utilization", "total_usage_records", "days_active",
                                 "avg_active_entities", "cost_volatility_ratio", NULL};
    s_compare ("compute_type_cost", json_object_get (res, "rows"), tot, "compute_type", cols);
    CHECK (s_close (all, 249865.7767564), "all compute cost %.7f", all);
    CHECK (s_close (s_kpi (res, "total_spend"), all), "total spend");
    json_t *jr = s_find_row (tot, "compute_type", "JOB_RUN");
    CHECK (s_close (s_kpi (res, "job_run_pct"), s_num (jr, "pct_of_total")), "job run pct");
    /* one selection per type, labels as in §2.3 */
    json_t *sels = json_object_get (res, "selections");
    CHECK (json_array_size (sels) == 3, "3 compute type selections");
    CHECK (strcmp (json_string_value (json_object_get (json_array_get (sels, 0), "label")), "JOB_RUN ($200,566, 80%)") == 0,
           "compute type label %s", json_string_value (json_object_get (json_array_get (sels, 0), "label")));
    /* the daily series */
    json_t *ds = s_sqlite ("SELECT COUNT(*) AS n, TOTAL(dc) AS s FROM (SELECT parent_type, usage_date, SUM(total_cost) AS dc"
                           " FROM compute_usage GROUP BY 1, 2)");
    json_t *dj = json_object_get (json_object_get (res, "extra"), "daily");
    CHECK (ds && json_array_size (dj) == (size_t) s_num (json_array_get (ds, 0), "n"), "daily series size");
    json_decref (ds);
    json_decref (res);
    json_decref (tot);
    json_decref (daily);
}

/* --------------------------------------------------------- job_cost_pareto */
static void
s_golden_pareto (rs_engine_t *e)
{
    json_t *gold = s_sqlite ("SELECT j.job_id, SUM(u.total_cost) AS cost_total_usd, COUNT(DISTINCT r.job_run_id) AS run_count,"
                             " AVG(r.duration_ms) / 60000.0 AS avg_duration_mins,"
                             " 100.0 * SUM(r.run_status = 'FAILED') / COUNT(*) AS failure_rate_pct,"
                             " AVG(r.spot_ratio) AS avg_spot_ratio"
                             " FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id JOIN jobs j ON j.job_id = r.job_id"
                             " WHERE u.parent_type = 'JOB_RUN' GROUP BY j.job_id ORDER BY cost_total_usd DESC, j.job_id");
    CHECK (gold != NULL, "pareto golden query failed");
    if (!gold)
        return;
    double grand = 0, cum = 0;
    size_t i;
    json_t *g;
    json_array_foreach (gold, i, g)
        grand += s_num (g, "cost_total_usd");
    long jobs50 = 0, jobs80 = 0;
    json_array_foreach (gold, i, g) {
        double c = s_num (g, "cost_total_usd");
        double prior = 100.0 * cum / grand;
        cum += c;
        json_object_set_new (g, "rank", json_integer ((json_int_t) i + 1));
        json_object_set_new (g, "grand_total_usd", json_real (grand));
        json_object_set_new (g, "cumulative_cost_usd", json_real (cum));
        json_object_set_new (g, "cumulative_pct", json_real (100.0 * cum / grand));
        json_object_set_new (g, "pct_of_total", json_real (100.0 * c / grand));
        json_object_set_new (g, "prior_cumulative_pct", json_real (prior));
        jobs50 += prior < 50;
        jobs80 += prior < 80;
    }
    json_t *res = s_run (e, "job_cost_pareto");
    if (!res)
        return;
    static const char *cols[] = {"rank", "cost_total_usd", "run_count", "avg_duration_mins", "failure_rate_pct",
                                 "avg_spot_ratio", "grand_total_usd", "cumulative_cost_usd", "cumulative_pct",
                                 "pct_of_total", "prior_cumulative_pct", NULL};
    s_compare ("job_cost_pareto", json_object_get (res, "rows"), gold, "job_id", cols);
    CHECK (s_kpi (res, "total_jobs") == (double) json_array_size (gold), "total jobs");
    CHECK (s_kpi (res, "jobs50") == (double) jobs50 && jobs50 == 1, "jobs50 %g", s_kpi (res, "jobs50"));
    CHECK (s_kpi (res, "jobs80") == (double) jobs80 && jobs80 == 2, "jobs80 %g", s_kpi (res, "jobs80"));
    /* 2 of 9 = 22% -> Moderate Concentration */
    json_t *b0 = json_array_get (json_object_get (res, "banners"), 0);
    CHECK (b0 && strcmp (json_string_value (json_object_get (b0, "level")), "info") == 0 &&
               strstr (json_string_value (json_object_get (b0, "text")), "Moderate Concentration"),
           "pareto banner");
    /* selections: jobs needed for 80% are 2 < 10, so the first 10 rows (all 9) */
    json_t *sels = json_object_get (res, "selections");
    CHECK (json_array_size (sels) == json_array_size (gold), "pareto selections %zu", json_array_size (sels));
    CHECK (strcmp (json_string_value (json_object_get (json_array_get (sels, 0), "label")),
                   "#1 Legacy Customer Data ETL (🔥 Critical, 52.5%)") == 0,
           "pareto label %s", json_string_value (json_object_get (json_array_get (sels, 0), "label")));
    json_decref (res);
    json_decref (gold);
}

/* -------------------------------------------------------- spot_risk_by_job */
static void
s_golden_spot (rs_engine_t *e)
{
    static const char *sql =
        "SELECT j.job_id,"
        " (SELECT TOTAL(u.total_cost) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
        "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id) AS cost_total_usd,"
        " (SELECT TOTAL(u.total_cost * r.spot_ratio) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
        "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id) AS cost_spot_usd,"
        " (SELECT COUNT(*) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
        "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id) AS total_runs,"
        " (SELECT COUNT(*) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
        "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id AND r.run_status = 'FAILED') AS failed_runs,"
        " (SELECT TOTAL(u.total_cost) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
        "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id AND r.run_status = 'FAILED') AS failed_cost,"
        " (SELECT COUNT(DISTINCT e.event_id) FROM events e JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id"
        "   JOIN job_runs r ON r.job_run_id = u.parent_id WHERE e.event_type = 'SPOT_EVICTION' AND u.parent_type = 'JOB_RUN'"
        "   AND r.job_id = j.job_id) AS eviction_count,"
        " (SELECT COUNT(DISTINCT date(e.event_time)) FROM events e JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id"
        "   JOIN job_runs r ON r.job_run_id = u.parent_id WHERE e.event_type = 'SPOT_EVICTION' AND u.parent_type = 'JOB_RUN'"
        "   AND r.job_id = j.job_id) AS days_with_evictions,"
        /* eviction_cost_usd: FAILED runs that were evicted or started at/after
         * an evicted run of the same job on the same usage day */
        " (SELECT TOTAL(u.total_cost) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
        "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id AND r.run_status = 'FAILED' AND EXISTS ("
        "     SELECT 1 FROM compute_usage u2 JOIN job_runs r2 ON r2.job_run_id = u2.parent_id"
        "     JOIN events e ON e.compute_usage_id = u2.compute_usage_id"
        "     WHERE e.event_type = 'SPOT_EVICTION' AND u2.parent_type = 'JOB_RUN' AND r2.job_id = r.job_id"
        "     AND u2.usage_date = u.usage_date AND r2.start_time <= r.start_time)) AS eviction_cost_usd"
        " FROM jobs j WHERE EXISTS (SELECT 1 FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
        "   WHERE u.parent_type = 'JOB_RUN' AND r.job_id = j.job_id) ORDER BY j.job_id";
    json_t *gold = s_sqlite (sql);
    CHECK (gold != NULL, "spot golden query failed");
    if (!gold)
        return;
    size_t i;
    json_t *g;
    double evict_total = 0, evict_cost_total = 0;
    json_array_foreach (gold, i, g) {
        double spot = s_num (g, "cost_spot_usd"), cost = s_num (g, "cost_total_usd"), ev = s_num (g, "eviction_count");
        json_object_set_new (g, "spot_cost_pct", json_real (100.0 * spot / cost));
        json_object_set_new (g, "failure_rate_pct", json_real (100.0 * s_num (g, "failed_runs") / s_num (g, "total_runs")));
        json_object_set_new (g, "risk_score", json_real (spot * (1 + 0.1 * ev) + 2 * s_num (g, "failed_cost")));
        json_object_set_new (g, "spot_discount_benefit", json_real (spot * 0.7));
        json_object_set_new (g, "cost_if_all_ondemand", json_real (spot * 1.43));
        evict_total += ev;
        evict_cost_total += s_num (g, "eviction_cost_usd");
    }
    json_t *res = s_run (e, "spot_risk_by_job");
    if (!res)
        return;
    json_t *rows = json_object_get (res, "rows");
    static const char *cols[] = {"cost_total_usd", "cost_spot_usd", "total_runs", "failed_runs", "eviction_count",
                                 "days_with_evictions", "spot_cost_pct", "failure_rate_pct", "risk_score",
                                 "spot_discount_benefit", "cost_if_all_ondemand", "eviction_cost_usd", NULL};
    s_compare ("spot_risk_by_job", rows, gold, "job_id", cols);
    CHECK (evict_total == 27, "fixture evictions %g", evict_total);
    CHECK (s_kpi (res, "total_evictions") == evict_total, "total evictions KPI");
    CHECK (s_close (s_kpi (res, "total_eviction_cost"), evict_cost_total), "eviction cost KPI");
    /* reliability_premium is gone (§11.9) */
    CHECK (json_object_get (json_array_get (rows, 0), "reliability_premium") == NULL, "reliability_premium still present");
    /* order: risk_score DESC, cost_spot_usd DESC */
    json_t *prev = NULL;
    json_array_foreach (rows, i, g) {
        if (prev)
            CHECK (s_num (prev, "risk_score") > s_num (g, "risk_score") ||
                       (s_num (prev, "risk_score") == s_num (g, "risk_score") && s_num (prev, "cost_spot_usd") >= s_num (g, "cost_spot_usd")),
                   "spot risk order at %zu", i);
        prev = g;
    }
    json_t *s0 = json_array_get (json_object_get (res, "selections"), 0);
    CHECK (s0 && strcmp (json_string_value (json_object_get (s0, "label")),
                         "Product Recommendation Model Training (⚠️ 15 evictions, 🔴 25% fail)") == 0,
           "spot label %s", s0 ? json_string_value (json_object_get (s0, "label")) : "");
    json_decref (res);
    json_decref (gold);
}

/* ------------------------------------------------------- anomaly_detection */
static void
s_golden_anomaly (rs_engine_t *e)
{
    /* daily series (both branches of §2.6), then the detector with window
     * functions: history = up to 21 previous points (window 7 + min history
     * 14), tested from index 14, population variance E[x²] − E[x]²,
     * anomaly when (x − mean)² > 9·var (|z| > 3). */
    static const char *sql =
        "WITH s AS ("
        "  SELECT r.job_id AS entity_id, 'job' AS entity_type, u.usage_date AS d, SUM(u.total_cost) AS x"
        "  FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id JOIN jobs j ON j.job_id = r.job_id"
        "  WHERE u.parent_type = 'JOB_RUN' GROUP BY r.job_id, u.usage_date"
        "  UNION ALL"
        "  SELECT c.compute_id, c.compute_type, u.usage_date, SUM(u.total_cost) FROM compute_usage u"
        "  JOIN non_job_compute c ON c.compute_id = u.parent_id WHERE u.parent_type IN ('SQL_WAREHOUSE','APC_CLUSTER')"
        "  GROUP BY c.compute_id, u.usage_date),"
        " w AS (SELECT entity_id, entity_type, d, x,"
        "  ROW_NUMBER() OVER (PARTITION BY entity_id ORDER BY d) - 1 AS idx,"
        "  AVG(x) OVER h AS m, AVG(x * x) OVER h AS m2 FROM s"
        "  WINDOW h AS (PARTITION BY entity_id ORDER BY d ROWS BETWEEN 21 PRECEDING AND 1 PRECEDING))"
        " SELECT entity_id, entity_type, d AS usage_date, x AS total_cost, m AS mean, m2 - m * m AS var FROM w"
        " WHERE idx >= 14 AND m2 - m * m > 1e-9 AND (x - m) * (x - m) > 9 * (m2 - m * m)"
        " ORDER BY entity_id, d";
    json_t *gold = s_sqlite (sql);
    CHECK (gold != NULL, "anomaly golden query failed");
    if (!gold)
        return;
    json_t *res = s_run (e, "anomaly_detection");
    if (!res)
        return;
    json_t *rows = json_object_get (res, "rows");
    size_t i;
    json_t *r;
    size_t n_eng = 0, crit = 0;
    json_array_foreach (rows, i, r)
        n_eng += json_integer_value (json_object_get (r, "is_anomaly")) == 1;
    CHECK (n_eng == json_array_size (gold), "anomalies: engine %zu, golden %zu", n_eng, json_array_size (gold));
    json_t *g;
    json_array_foreach (gold, i, g) {
        const char *ent = json_string_value (json_object_get (g, "entity_id"));
        const char *d = json_string_value (json_object_get (g, "usage_date"));
        json_t *hit = NULL;
        size_t k;
        json_array_foreach (rows, k, r)
            if (strcmp (json_string_value (json_object_get (r, "entity_id")), ent) == 0 &&
                strcmp (json_string_value (json_object_get (r, "usage_date")), d) == 0)
                hit = r;
        CHECK (hit && json_integer_value (json_object_get (hit, "is_anomaly")) == 1, "anomaly %s:%s missing", ent, d);
        if (!hit)
            continue;
        double x = s_num (g, "total_cost"), m = s_num (g, "mean"), sd = sqrt (s_num (g, "var"));
        double z = (x - m) / sd;
        const char *sev = fabs (z) > 5 ? "critical" : fabs (z) > 4 ? "high" : fabs (z) > 3 ? "medium" : "low";
        crit += strcmp (sev, "critical") == 0;
        CHECK (s_close (s_num (hit, "anomaly_expected"), m), "%s:%s expected %.9g vs %.9g", ent, d,
               s_num (hit, "anomaly_expected"), m);
        CHECK (fabs (s_num (hit, "z_score") - z) < 1e-6, "%s:%s z %.9g vs %.9g", ent, d, s_num (hit, "z_score"), z);
        CHECK (s_close (s_num (hit, "expected_min"), m - 3 * sd) && s_close (s_num (hit, "expected_max"), m + 3 * sd),
               "%s:%s range", ent, d);
        CHECK (s_close (s_num (hit, "pct_deviation"), m > 0 ? (x - m) / m * 100.0 : 0), "%s:%s pct", ent, d);
        CHECK (strcmp (json_string_value (json_object_get (hit, "severity")), sev) == 0, "%s:%s severity %s vs %s", ent,
               d, json_string_value (json_object_get (hit, "severity")), sev);
    }
    CHECK (s_kpi (res, "total_anomalies") == (double) json_array_size (gold), "total anomalies KPI");
    CHECK (s_kpi (res, "critical") == (double) crit, "critical KPI");
    /* negative deviations keep their sign in the label (§11.4) */
    bool neg_seen = false;
    json_array_foreach (json_object_get (res, "selections"), i, g) {
        const char *label = json_string_value (json_object_get (g, "label"));
        double pct = s_num (json_object_get (g, "payload"), "pct_deviation");
        char want[32];
        snprintf (want, sizeof want, "(%+.0f%%)", pct);
        CHECK (strstr (label, want) != NULL, "label %s lacks %s", label, want);
        neg_seen = neg_seen || pct < 0;
    }
    CHECK (neg_seen, "no negative deviation among the selections");
    printf ("golden: anomalies %zu (critical %zu)\n", json_array_size (gold), crit);
    json_decref (res);
    json_decref (gold);
}


/* ----------------------------------------------------------- pillar reports */
static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* nearest-rank percentile of a sorted array: value at rank ceil(p/100 * n) */
static double
s_rank (const double *v, size_t n, int p)
{
    size_t k = (n * (size_t) p + 99) / 100;
    return n ? v[k - 1] : NAN;
}

static void
s_golden_reliability (rs_engine_t *e)
{
    json_t *gold = s_sqlite ("SELECT job_id, COUNT(*) AS total_runs, SUM(run_status = 'SUCCESS') AS success_runs,"
                             " SUM(run_status = 'FAILED') AS failed_runs, SUM(run_status = 'SKIPPED') AS skipped_runs,"
                             " SUM(substr(job_run_id, -4, 2) = '-R' AND substr(job_run_id, -2) GLOB '[0-9][0-9]') AS retry_runs"
                             " FROM job_runs GROUP BY job_id ORDER BY job_id");
    json_t *durs = s_sqlite ("SELECT job_id, duration_ms FROM job_runs WHERE run_status = 'SUCCESS'"
                             " AND duration_ms IS NOT NULL ORDER BY job_id, duration_ms");
    json_t *res = s_run (e, "reliability_scorecard");
    CHECK (gold && durs && res, "reliability golden");
    if (!gold || !durs || !res)
        return;
    size_t i, k;
    json_t *g, *d;
    json_array_foreach (gold, i, g) {
        const char *job = json_string_value (json_object_get (g, "job_id"));
        double v[512];
        size_t n = 0;
        json_array_foreach (durs, k, d)
            if (strcmp (json_string_value (json_object_get (d, "job_id")), job) == 0 && n < 512)
                v[n++] = s_num (d, "duration_ms") / 60000.0;
        double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
        double sla = strcmp (job, "J-FIN-DAILY") == 0 ? 240.0 : 1.5 * med;   /* FIN-DAILY carries SLA-4hr */
        long slow = 0;
        for (size_t q = 0; q < n; q++)
            slow += v[q] > sla;
        json_object_set_new (g, "median_minutes", json_real (med));
        json_object_set_new (g, "sla_minutes", json_real (sla));
        json_object_set_new (g, "slow_runs", json_integer (slow));
        json_object_set_new (g, "sla_breaches", json_integer (slow + (long) s_num (g, "failed_runs") + (long) s_num (g, "skipped_runs")));
        json_object_set_new (g, "success_rate_pct", json_real (100.0 * s_num (g, "success_runs") / s_num (g, "total_runs")));
    }
    static const char *cols[] = {"total_runs", "success_runs", "failed_runs", "skipped_runs", "retry_runs", "median_minutes",
                                 "sla_minutes", "slow_runs", "sla_breaches", "success_rate_pct", NULL};
    s_compare ("reliability_scorecard", json_object_get (res, "rows"), gold, "job_id", cols);
    json_decref (gold);
    json_decref (durs);
    json_decref (res);
}

static void
s_golden_signatures (rs_engine_t *e)
{
    json_t *raw = s_sqlite ("SELECT r.error_summary AS msg, r.run_status AS st, r.job_id,"
                            " (SELECT TOTAL(u.total_cost) FROM compute_usage u WHERE u.parent_id = r.job_run_id"
                            "  AND u.parent_type = 'JOB_RUN') AS cost"
                            " FROM job_runs r WHERE r.run_status IN ('FAILED','SKIPPED') AND r.error_summary IS NOT NULL");
    json_t *res = s_run (e, "failure_signatures");
    CHECK (raw && res, "signatures golden");
    if (!raw || !res)
        return;
    json_t *gold = json_array ();
    size_t i;
    json_t *x;
    json_array_foreach (raw, i, x) {
        char sig[512];
        snprintf (sig, sizeof sig, "%s", json_string_value (json_object_get (x, "msg")));
        for (char *c = sig; *c; c++)
            if (*c >= '0' && *c <= '9')
                *c = '#';
        json_t *row = s_find_row (gold, "signature", sig);
        if (!row) {
            row = json_pack ("{s:s, s:i, s:i, s:f}", "signature", sig, "occurrences", 0, "failed_runs", 0, "failed_cost_usd", 0.0);
            json_array_append_new (gold, row);
        }
        json_object_set_new (row, "occurrences", json_integer ((json_int_t) s_num (row, "occurrences") + 1));
        if (strcmp (json_string_value (json_object_get (x, "st")), "FAILED") == 0)
            json_object_set_new (row, "failed_runs", json_integer ((json_int_t) s_num (row, "failed_runs") + 1));
        json_object_set_new (row, "failed_cost_usd", json_real (s_num (row, "failed_cost_usd") + s_num (x, "cost")));
    }
    static const char *cols[] = {"occurrences", "failed_runs", "failed_cost_usd", NULL};
    s_compare ("failure_signatures", json_object_get (res, "rows"), gold, "signature", cols);
    json_t *ec2 = s_find_row (json_object_get (res, "rows"), "signature", "SpotInstanceTerminated: AWS EC# capacity insufficient");
    CHECK (ec2 != NULL, "digits are masked in signatures");
    json_decref (gold);
    json_decref (raw);
    json_decref (res);
}

static void
s_golden_runtime (rs_engine_t *e)
{
    /* default window: from 2025-11-01 to 2025-12-15, recent = the last 14 days (after 2025-12-01) */
    json_t *durs = s_sqlite ("SELECT job_id, date(start_time) AS d, duration_ms FROM job_runs WHERE run_status = 'SUCCESS'"
                             " AND duration_ms IS NOT NULL ORDER BY job_id, duration_ms");
    json_t *res = s_run (e, "runtime_regression");
    CHECK (durs && res, "runtime golden");
    if (!durs || !res)
        return;
    size_t i, k;
    json_t *r, *d;
    long drifting = 0;
    json_array_foreach (json_object_get (res, "rows"), i, r) {
        const char *job = json_string_value (json_object_get (r, "job_id"));
        double base[512], rec[512];
        size_t nb = 0, nr = 0;
        json_array_foreach (durs, k, d) {
            if (strcmp (json_string_value (json_object_get (d, "job_id")), job) != 0)
                continue;
            double m = s_num (d, "duration_ms") / 60000.0;
            if (strcmp (json_string_value (json_object_get (d, "d")), "2025-12-01") > 0) {
                if (nr < 512)
                    rec[nr++] = m;
            } else if (nb < 512)
                base[nb++] = m;
        }
        qsort (base, nb, sizeof *base, s_cmp_double);
        qsort (rec, nr, sizeof *rec, s_cmp_double);
        CHECK (s_num (r, "baseline_runs") == (double) nb && s_num (r, "recent_runs") == (double) nr, "%s run counts", job);
        if (nb && nr) {
            double b50 = s_rank (base, nb, 50), r50 = s_rank (rec, nr, 50), b95 = s_rank (base, nb, 95), r95 = s_rank (rec, nr, 95);
            CHECK (s_close (s_num (r, "baseline_p50_mins"), b50) && s_close (s_num (r, "recent_p50_mins"), r50), "%s p50", job);
            CHECK (s_close (s_num (r, "baseline_p95_mins"), b95) && s_close (s_num (r, "recent_p95_mins"), r95), "%s p95", job);
            bool drift = 100.0 * (r50 - b50) / b50 > 20 || 100.0 * (r95 - b95) / b95 > 20;
            CHECK (s_num (r, "drift_flag") == (drift ? 1 : 0), "%s drift", job);
            drifting += drift;
        }
    }
    CHECK (drifting == 2, "drifting jobs %ld (ML-TRAINING and LEGACY-ETL expected)", drifting);
    json_decref (durs);
    json_decref (res);
}

static void
s_golden_money_pillars (rs_engine_t *e)
{
    /* eviction_cost: savings and counterfactual per job, wasted attempts as in spot_risk_by_job */
    json_t *gold = s_sqlite (
        "SELECT r.job_id, TOTAL(u.total_cost * r.spot_ratio * 0.7 / 0.3) AS gross_spot_savings_usd,"
        " TOTAL(CASE WHEN w.job_run_id IS NULL THEN u.total_cost * ((1 - r.spot_ratio) + r.spot_ratio / 0.3) ELSE 0 END)"
        "   AS ondemand_counterfactual_usd,"
        " TOTAL(CASE WHEN w.job_run_id IS NOT NULL THEN u.total_cost ELSE 0 END) AS eviction_cost_usd,"
        " TOTAL(u.total_cost) AS cost_total_usd"
        " FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
        " LEFT JOIN (SELECT r1.job_run_id FROM job_runs r1 JOIN compute_usage u1 ON u1.parent_id = r1.job_run_id"
        "   WHERE r1.run_status = 'FAILED' AND EXISTS (SELECT 1 FROM job_runs r2 JOIN compute_usage u2 ON u2.parent_id = r2.job_run_id"
        "   JOIN events e ON e.compute_usage_id = u2.compute_usage_id WHERE e.event_type = 'SPOT_EVICTION'"
        "   AND r2.job_id = r1.job_id AND u2.usage_date = u1.usage_date AND r2.start_time <= r1.start_time)) w"
        "   ON w.job_run_id = r.job_run_id"
        " WHERE u.parent_type = 'JOB_RUN' GROUP BY r.job_id HAVING TOTAL(u.total_cost * r.spot_ratio) > 0 ORDER BY r.job_id");
    json_t *res = s_run (e, "eviction_cost");
    if (gold && res) {
        size_t i;
        json_t *g;
        json_array_foreach (gold, i, g)
            json_object_set_new (g, "net_spot_benefit_usd",
                                 json_real (s_num (g, "ondemand_counterfactual_usd") - s_num (g, "cost_total_usd")));
        static const char *cols[] = {"gross_spot_savings_usd", "ondemand_counterfactual_usd", "eviction_cost_usd",
                                     "net_spot_benefit_usd", NULL};
        s_compare ("eviction_cost", json_object_get (res, "rows"), gold, "job_id", cols);
    } else
        CHECK (0, "eviction_cost golden");
    json_decref (gold);
    json_decref (res);

    /* cost_efficiency: the union covers all compute; unit counts */
    res = s_run (e, "cost_efficiency");
    json_t *units = s_sqlite ("SELECT r.job_id AS entity_id, COUNT(*) AS units FROM job_runs r WHERE r.run_status = 'SUCCESS'"
                              " AND r.job_run_id IN (SELECT parent_id FROM compute_usage WHERE parent_type = 'JOB_RUN')"
                              " GROUP BY r.job_id UNION ALL SELECT parent_id, COUNT(DISTINCT usage_date) FROM compute_usage"
                              " WHERE parent_type <> 'JOB_RUN' GROUP BY parent_id");
    if (res && units) {
        static const char *cols[] = {"units", NULL};
        s_compare ("cost_efficiency", json_object_get (res, "rows"), units, "entity_id", cols);
        double tot = 0;
        size_t i;
        json_t *r;
        json_array_foreach (json_object_get (res, "rows"), i, r)
            tot += s_num (r, "cost_total_usd");
        CHECK (s_close (tot, 249865.7767564), "cost_efficiency total %.7f", tot);
        json_t *route = s_find_row (json_object_get (res, "rows"), "entity_id", "J-ROUTE-OPT");
        CHECK (route && s_num (route, "low_cpu_flag") == 1, "ROUTE-OPT low CPU on costly compute");
    } else
        CHECK (0, "cost_efficiency golden");
    json_decref (units);
    json_decref (res);

    /* tag_showback: untagged = LEGACY-ETL; finance = FIN-DAILY + FIN-MONTHLY */
    res = s_run (e, "tag_showback");
    if (res) {
        json_t *un = s_find_row (json_object_get (res, "rows"), "tag", "(untagged)");
        json_t *fin = s_find_row (json_object_get (res, "rows"), "tag", "finance");
        CHECK (un && s_close (s_num (un, "cost_total_usd"), 105230.280261333), "untagged cost");
        CHECK (fin && s_close (s_num (fin, "cost_total_usd"), 5548.9989504 + 1159.48784), "finance tag cost");
    }
    json_decref (res);

    /* warehouse_cost_by_query: allocate in C */
    json_t *qs = s_sqlite ("SELECT q.query_id, q.parent_id AS wh, date(q.start_time) AS d, q.user_id, COALESCE(q.duration_ms, 0) AS ms"
                           " FROM sql_query_history q ORDER BY q.query_id");
    json_t *days = s_sqlite ("SELECT parent_id AS wh, usage_date AS d, SUM(total_cost) AS c FROM compute_usage"
                             " WHERE parent_type = 'SQL_WAREHOUSE' GROUP BY parent_id, usage_date");
    res = s_run (e, "warehouse_cost_by_query");
    if (qs && days && res) {
        json_t *gold2 = json_array ();
        size_t i, k;
        json_t *q, *q2, *dd;
        json_array_foreach (qs, i, q) {
            const char *wh = json_string_value (json_object_get (q, "wh")), *d = json_string_value (json_object_get (q, "d"));
            double tot = 0, day = 0;
            json_array_foreach (qs, k, q2)
                if (strcmp (json_string_value (json_object_get (q2, "wh")), wh) == 0 &&
                    strcmp (json_string_value (json_object_get (q2, "d")), d) == 0)
                    tot += s_num (q2, "ms");
            json_array_foreach (days, k, dd)
                if (strcmp (json_string_value (json_object_get (dd, "wh")), wh) == 0 &&
                    strcmp (json_string_value (json_object_get (dd, "d")), d) == 0)
                    day = s_num (dd, "c");
            char key[200];
            snprintf (key, sizeof key, "%s@%s", json_string_value (json_object_get (q, "user_id")), wh);
            json_t *row = s_find_row (gold2, "allocation_id", key);
            if (!row) {
                row = json_pack ("{s:s, s:f, s:i}", "allocation_id", key, "allocated_cost_usd", 0.0, "queries", 0);
                json_array_append_new (gold2, row);
            }
            json_object_set_new (row, "queries", json_integer ((json_int_t) s_num (row, "queries") + 1));
            if (tot > 0)
                json_object_set_new (row, "allocated_cost_usd", json_real (s_num (row, "allocated_cost_usd") + day * s_num (q, "ms") / tot));
        }
        static const char *cols[] = {"allocated_cost_usd", "queries", NULL};
        s_compare ("warehouse_cost_by_query", json_object_get (res, "rows"), gold2, "allocation_id", cols);
        json_decref (gold2);
    } else
        CHECK (0, "warehouse golden");
    json_decref (qs);
    json_decref (days);
    json_decref (res);
}

int
main (int argc, char **argv)
{
    g_db = argc > 1 ? argv[1] : getenv ("COPILOT_FIXTURE_DB");
    if (!g_db || access (g_db, R_OK) != 0) {
        fprintf (stderr, "skip: fixture not found (%s)\n", g_db ? g_db : "(none)");
        return 77;
    }
    if (strchr (g_db, '\'')) {
        fprintf (stderr, "skip: fixture path contains a quote\n");
        return 77;
    }
    if (system ("sqlite3 --version > /dev/null 2>&1") != 0) {
        fprintf (stderr, "skip: sqlite3 CLI not installed\n");
        return 77;
    }
    char err[512];
    rs_engine_t *e = rs_engine_new (g_db, NULL, err, sizeof err);
    if (!e) {
        fprintf (stderr, "FAIL: engine: %s\n", err);
        return 1;
    }
    s_golden_job_cost (e);
    s_golden_compute_type (e);
    s_golden_pareto (e);
    s_golden_spot (e);
    s_golden_anomaly (e);
    s_golden_reliability (e);
    s_golden_signatures (e);
    s_golden_runtime (e);
    s_golden_money_pillars (e);
    rs_engine_destroy (&e);
    printf ("golden: %d checks, %d failures\n", g_checks, g_fail);
    return g_fail ? 1 : 0;
}
