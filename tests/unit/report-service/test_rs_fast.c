/* test_rs_fast.c — the rollup variants ("sql_fast" in the registry) give
 * the same results as the raw report SQL, and the engine only uses them
 * while the rollups are current.
 *
 * Two databases, both built in a fresh temporary directory with the real
 * CLI: (a) a copy of the reference fixture upgraded with `copilot db
 * migrate` (migrations + refresh/derived.sql, so the rs_* rollups exist),
 * (b) `copilot generate --profile small --seed 42`. On each, every
 * available report runs twice per parameter set — once on an engine forced
 * to the raw SQL (RS_FAST_OFF) and once on a default engine — over: the
 * defaults, a 10-day window crossing a month boundary, a window inside one
 * month, one workspace, and an as_of 20 days in the past. The rows, the
 * extra datasets, the KPIs and the selections (for anomaly_detection also
 * the measures, tables, banners and rows_total) must be equal: same row count,
 * same keys, strings equal, numbers equal within 1e-9 relative to
 * max(1, |x|) (display text may round a boundary figure one unit apart in
 * its last printed decimal, see s_text_close). For the reports without a guard the default engine must
 * have used the variant ("fast").
 * anomaly_detection's guard: with rs_rollup_state.anomaly_id_clash set the
 * raw SQL runs (same rows); rollups of another layout (rs_rollup_state.layout)
 * are never used.
 * Staleness: the unmigrated fixture has no rollups (raw); after
 * data_version moves without a refresh the engine runs the raw SQL again.
 *
 * Usage: test_rs_fast <copilot binary> <fixture.db>; exits 77 (skip) when
 * either is missing.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "it_check.h"
#include "it_files.h"
#include "rs_engine.h"

static int g_fail, g_checks, g_fast_runs;

#define CHECK(cond, ...) do { g_checks++; ITC_CHECK_MSG (g_fail, cond, __VA_ARGS__); } while (0)

static int
s_sh (const char *fmt, const char *a, const char *b)
{
    char cmd[4096];
    snprintf (cmd, sizeof cmd, fmt, a, b);
    return system (cmd);
}

/* One text value from a query on `db` (read-only), "" on error. */
static void
s_query_text (const char *db, const char *sql, char *out, size_t size)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    out[0] = '\0';
    if (sqlite3_open_v2 (db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2 (h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step (st) == SQLITE_ROW &&
        sqlite3_column_text (st, 0))
        snprintf (out, size, "%s", (const char *) sqlite3_column_text (st, 0));
    sqlite3_finalize (st);
    sqlite3_close (h);
}

static bool
s_num_close (double a, double b)
{
    double m = fmax (1.0, fmax (fabs (a), fabs (b)));
    return fabs (a - b) <= 1e-9 * m;
}

/* Display text (chip prompts, labels, KPI text) formats figures, and a
 * figure that sits on a rounding boundary of its display precision (a sum
 * of cent amounts ending in exactly half a cent) may print one unit apart
 * when the two variants add the same rows in a different order. So in those
 * strings a decimal number (a token with a '.') or an integer percentage
 * ("75%") may differ by one unit of its last printed digit; everything else,
 * other integers included, must match. */
static bool
s_text_close (const char *a, const char *b)
{
    while (*a && *b) {
        if ((*a >= '0' && *a <= '9') && (*b >= '0' && *b <= '9')) {
            char ta[64], tb[64];
            size_t na = 0, nb = 0;
            int dec_a = -1, dec_b = -1;
            while (((*a >= '0' && *a <= '9') || *a == ',' || *a == '.') && na < sizeof ta - 1) {
                if (*a == '.')
                    dec_a = 0;
                else if (*a != ',' && dec_a >= 0)
                    dec_a++;
                if (*a != ',')
                    ta[na++] = *a;
                a++;
            }
            while (((*b >= '0' && *b <= '9') || *b == ',' || *b == '.') && nb < sizeof tb - 1) {
                if (*b == '.')
                    dec_b = 0;
                else if (*b != ',' && dec_b >= 0)
                    dec_b++;
                if (*b != ',')
                    tb[nb++] = *b;
                b++;
            }
            ta[na] = tb[nb] = '\0';
            if (strcmp (ta, tb) == 0)
                continue;
            /* integers only when printed as a percentage ("75%") */
            bool pct = *a == '%' && *b == '%' && dec_a < 0 && dec_b < 0;
            if (!pct && (dec_a <= 0 || dec_a != dec_b))
                return false;
            double ulp = pct ? 1.0 : pow (10.0, -dec_a);
            if (fabs (strtod (ta, NULL) - strtod (tb, NULL)) > ulp * 1.000001)
                return false;
            continue;
        }
        if (*a != *b)
            return false;
        a++;
        b++;
    }
    return *a == *b;
}

static bool
s_is_text_key (const char *where)
{
    const char *dot = strrchr (where, '.');
    return dot && (strcmp (dot, ".prompt") == 0 || strcmp (dot, ".label") == 0 || strcmp (dot, ".text") == 0);
}

/* Deep comparison; on the first difference prints where and returns false. */
static bool
s_same (const json_t *a, const json_t *b, const char *where)
{
    if (json_is_number (a) && json_is_number (b)) {
        if (s_num_close (json_number_value (a), json_number_value (b)))
            return true;
        fprintf (stderr, "  %s: %.17g vs %.17g\n", where, json_number_value (a), json_number_value (b));
        return false;
    }
    if (json_typeof (a) != json_typeof (b)) {
        fprintf (stderr, "  %s: JSON types differ\n", where);
        return false;
    }
    char sub[512];
    if (json_is_object (a)) {
        if (json_object_size (a) != json_object_size (b)) {
            fprintf (stderr, "  %s: %zu vs %zu keys\n", where, json_object_size (a), json_object_size (b));
            return false;
        }
        const char *k;
        json_t *v;
        json_object_foreach ((json_t *) a, k, v) {
            json_t *w = json_object_get (b, k);
            snprintf (sub, sizeof sub, "%s.%s", where, k);
            if (!w) {
                fprintf (stderr, "  %s: missing\n", sub);
                return false;
            }
            if (!s_same (v, w, sub))
                return false;
        }
        return true;
    }
    if (json_is_array (a)) {
        if (json_array_size (a) != json_array_size (b)) {
            fprintf (stderr, "  %s: %zu vs %zu elements\n", where, json_array_size (a), json_array_size (b));
            return false;
        }
        for (size_t i = 0; i < json_array_size (a); i++) {
            snprintf (sub, sizeof sub, "%s[%zu]", where, i);
            if (!s_same (json_array_get (a, i), json_array_get (b, i), sub))
                return false;
        }
        return true;
    }
    if (json_is_string (a)) {
        if (strcmp (json_string_value (a), json_string_value (b)) == 0)
            return true;
        if (s_is_text_key (where) && s_text_close (json_string_value (a), json_string_value (b)))
            return true;
        fprintf (stderr, "  %s: '%.200s' vs '%.200s'\n", where, json_string_value (a), json_string_value (b));
        return false;
    }
    return json_equal ((json_t *) a, (json_t *) b);
}

typedef struct {
    const char *label;
    rs_param_t p[3];
    size_t n;
    bool is_default;
} pset_t;

/* Raw vs variant for every available report and parameter set on `db`. */
static void
s_compare_db (const char *db, const char *label)
{
    char mx[16], mn[16], ws[128], x_from[16], x_to[16], in_from[16], in_to[16], past[16];
    s_query_text (db, "SELECT MAX(usage_date) FROM compute_usage", mx, sizeof mx);
    s_query_text (db, "SELECT MIN(usage_date) FROM compute_usage", mn, sizeof mn);
    s_query_text (db, "SELECT MIN(workspace_id) FROM jobs", ws, sizeof ws);
    char sql[512];
    /* a month start M with M+4 days inside the data: [M-5, M+4] crosses it */
    snprintf (sql, sizeof sql,
              "SELECT CASE WHEN date('%s','start of month','+4 days') <= '%s' THEN date('%s','start of month')"
              " ELSE date('%s','start of month','-1 month') END",
              mx, mx, mx, mx);
    char m0[16];
    s_query_text (db, sql, m0, sizeof m0);
    snprintf (sql, sizeof sql, "SELECT date('%s','-5 days')", m0);
    s_query_text (db, sql, x_from, sizeof x_from);
    snprintf (sql, sizeof sql, "SELECT date('%s','+4 days')", m0);
    s_query_text (db, sql, x_to, sizeof x_to);
    snprintf (sql, sizeof sql, "SELECT date('%s','start of month','-1 month','+2 days')", mx);
    s_query_text (db, sql, in_from, sizeof in_from);
    snprintf (sql, sizeof sql, "SELECT date('%s','start of month','-1 month','+20 days')", mx);
    s_query_text (db, sql, in_to, sizeof in_to);
    snprintf (sql, sizeof sql, "SELECT date('%s','-20 days')", mx);
    s_query_text (db, sql, past, sizeof past);
    CHECK (mx[0] && mn[0] && ws[0] && x_from[0] && in_to[0] && past[0], "%s: data range", label);
    CHECK (strncmp (x_from, x_to, 7) != 0, "%s: window %s..%s must cross a month", label, x_from, x_to);
    CHECK (strncmp (in_from, in_to, 7) == 0, "%s: window %s..%s must stay in a month", label, in_from, in_to);

    pset_t sets[] = {
        {"defaults", {{NULL, NULL}}, 0, true},
        {"10 days across a month", {{"from", x_from}, {"to", x_to}}, 2, false},
        {"inside one month", {{"from", in_from}, {"to", in_to}}, 2, false},
        {"one workspace", {{"workspace", ws}}, 1, true},
        {"as_of in the past", {{"as_of", past}}, 1, false},
    };
    char err[512];
    rs_engine_t *raw = rs_engine_new (db, NULL, err, sizeof err);
    rs_engine_t *fast = rs_engine_new (db, NULL, err, sizeof err);
    CHECK (raw && fast, "%s: engine: %s", label, err);
    if (!raw || !fast) {
        rs_engine_destroy (&raw);
        rs_engine_destroy (&fast);
        return;
    }
    rs_engine_set_fast_mode (raw, RS_FAST_OFF);
    CHECK (rs_engine_rollups_current (fast), "%s: rollups must be current after the CLI refresh", label);
    json_t *list = NULL;
    CHECK (rs_engine_list (fast, &list) == 0, "%s: list", label);
    size_t i;
    json_t *r;
    json_array_foreach (json_object_get (list, "reports"), i, r) {
        const char *id = json_string_value (json_object_get (r, "id"));
        if (strcmp (json_string_value (json_object_get (r, "status")), "available") != 0)
            continue;
        for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
            json_t *a = NULL, *b = NULL;
            int ra = rs_engine_run (raw, id, sets[k].p, sets[k].n, &a);
            CHECK (ra == 0, "%s %s [%s]: raw run: %s", label, id, sets[k].label, rs_engine_error (raw));
            CHECK (strcmp (rs_engine_last_variant (raw), "raw") == 0, "%s %s: forced raw", label, id);
            int rb = rs_engine_run (fast, id, sets[k].p, sets[k].n, &b);
            CHECK (rb == 0, "%s %s [%s]: run: %s", label, id, sets[k].label, rs_engine_error (fast));
            bool used_fast = strcmp (rs_engine_last_variant (fast), "fast") == 0;
            g_fast_runs += used_fast;
            /* reports without a guard always take the variant; guarded
             * ones (percentiles) at least for the default window;
             * anomaly_detection's guard (no job_id equal to a compute_id)
             * holds on both databases, so it must take it every time */
            if (strcmp (id, "reliability_scorecard") != 0 && strcmp (id, "runtime_regression") != 0)
                CHECK (used_fast, "%s %s [%s]: the variant was not used", label, id, sets[k].label);
            else if (sets[k].is_default)
                CHECK (used_fast, "%s %s [%s]: the guarded variant was not used", label, id, sets[k].label);
            if (ra == 0 && rb == 0) {
                static const char *keys[] = {"rows", "extra", "kpis", "selections", "params",
                                             "measures", "tables", "banners", "rows_total"};
                /* anomaly_detection: everything the detector feeds (its
                 * variant reads precomputed series rows) */
                size_t nkeys = strcmp (id, "anomaly_detection") == 0 ? sizeof keys / sizeof keys[0] : 5;
                for (size_t q = 0; q < nkeys; q++) {
                    char where[256];
                    snprintf (where, sizeof where, "%s/%s[%s].%s", label, id, sets[k].label, keys[q]);
                    CHECK (s_same (json_object_get (a, keys[q]), json_object_get (b, keys[q]), where),
                           "%s: raw and rollup variant differ", where);
                }
                CHECK (json_array_size (json_object_get (a, "rows")) > 0 || sets[k].n > 0,
                       "%s %s: default run has no rows", label, id);
            }
            json_decref (a);
            json_decref (b);
        }
    }
    json_decref (list);
    /* EntityFacts of the costliest job: the rank/share facts come from the
     * rollups on the default engine */
    char job[128];
    s_query_text (db, "SELECT job_id FROM rs_job_month GROUP BY job_id ORDER BY SUM(cost) DESC, job_id LIMIT 1", job,
                  sizeof job);
    for (size_t k = 0; job[0] && k < sizeof sets / sizeof sets[0]; k++) {
        json_t *a = NULL, *b = NULL;
        CHECK (rs_engine_entity_facts (raw, "job", job, sets[k].p, sets[k].n, &a) == 0, "%s facts raw: %s", label,
               rs_engine_error (raw));
        CHECK (rs_engine_entity_facts (fast, "job", job, sets[k].p, sets[k].n, &b) == 0, "%s facts: %s", label,
               rs_engine_error (fast));
        char where[256];
        snprintf (where, sizeof where, "%s/facts job %s [%s]", label, job, sets[k].label);
        CHECK (a && b && s_same (json_object_get (a, "facts"), json_object_get (b, "facts"), where),
               "%s: raw and rollup facts differ", where);
        json_decref (a);
        json_decref (b);
    }
    CHECK (job[0] != '\0', "%s: no job for the facts check", label);
    rs_engine_destroy (&raw);
    rs_engine_destroy (&fast);
}

/* Stale rollups: data_version moved without a refresh => raw SQL. */
static void
s_stale (const char *db)
{
    char err[512];
    rs_engine_t *e = rs_engine_new (db, NULL, err, sizeof err);
    CHECK (e != NULL, "stale: engine: %s", err);
    if (!e)
        return;
    json_t *out = NULL;
    CHECK (rs_engine_run (e, "job_cost", NULL, 0, &out) == 0, "stale: run: %s", rs_engine_error (e));
    CHECK (strcmp (rs_engine_last_variant (e), "fast") == 0, "stale: current rollups must be used");
    json_decref (out);
    sqlite3 *h = NULL;
    CHECK (sqlite3_open (db, &h) == SQLITE_OK &&
               sqlite3_exec (h, "UPDATE data_version SET version = version + 1 WHERE id = 1", NULL, NULL, NULL) ==
                   SQLITE_OK,
           "stale: bump data_version");
    sqlite3_close (h);
    rs_engine_invalidate (e);
    CHECK (!rs_engine_rollups_current (e), "stale: rollups must be stale after the bump");
    out = NULL;
    CHECK (rs_engine_run (e, "job_cost", NULL, 0, &out) == 0, "stale: run: %s", rs_engine_error (e));
    CHECK (strcmp (rs_engine_last_variant (e), "raw") == 0, "stale: raw SQL must run on stale rollups");
    json_decref (out);
    rs_engine_destroy (&e);
    /* a fresh engine on the stale file decides the same way */
    e = rs_engine_new (db, NULL, err, sizeof err);
    out = NULL;
    CHECK (e && rs_engine_run (e, "spot_risk_by_job", NULL, 0, &out) == 0, "stale: fresh engine run");
    CHECK (e && strcmp (rs_engine_last_variant (e), "raw") == 0, "stale: fresh engine must run the raw SQL");
    json_decref (out);
    rs_engine_destroy (&e);
}

/* anomaly_detection's sql_fast_guard: with rs_rollup_state.anomaly_id_clash
 * > 0 (a job_id equal to a compute_id: rs_anomaly_* cannot hold both) the
 * raw SQL runs, with the same result; other reports keep their variant. */
static void
s_anomaly_guard (const char *db)
{
    char err[512];
    rs_engine_t *e = rs_engine_new (db, NULL, err, sizeof err);
    CHECK (e != NULL, "guard: engine: %s", err);
    if (!e)
        return;
    json_t *a = NULL, *b = NULL, *c = NULL;
    CHECK (rs_engine_run (e, "anomaly_detection", NULL, 0, &a) == 0, "guard: run: %s", rs_engine_error (e));
    CHECK (strcmp (rs_engine_last_variant (e), "fast") == 0, "guard: no clash: the variant must run");
    rs_engine_destroy (&e);
    sqlite3 *h = NULL;
    CHECK (sqlite3_open (db, &h) == SQLITE_OK &&
               sqlite3_exec (h, "UPDATE rs_rollup_state SET anomaly_id_clash = 1 WHERE id = 1", NULL, NULL, NULL) ==
                   SQLITE_OK,
           "guard: set anomaly_id_clash");
    sqlite3_close (h);
    e = rs_engine_new (db, NULL, err, sizeof err);
    CHECK (e && rs_engine_run (e, "anomaly_detection", NULL, 0, &b) == 0, "guard: run after clash");
    CHECK (e && strcmp (rs_engine_last_variant (e), "raw") == 0, "guard: a clash must select the raw SQL");
    CHECK (e && rs_engine_run (e, "job_cost", NULL, 0, &c) == 0 && strcmp (rs_engine_last_variant (e), "fast") == 0,
           "guard: other reports keep their variant");
    CHECK (a && b && s_same (json_object_get (a, "rows"), json_object_get (b, "rows"), "guard/rows"),
           "guard: raw and variant rows differ");
    json_decref (a);
    json_decref (b);
    json_decref (c);
    rs_engine_destroy (&e);

    /* rollups of another layout (an older binary's refresh) are not used:
     * every report runs its raw SQL until the next refresh */
    CHECK (sqlite3_open (db, &h) == SQLITE_OK &&
               sqlite3_exec (h, "UPDATE rs_rollup_state SET anomaly_id_clash = 0, layout = 1 WHERE id = 1", NULL,
                             NULL, NULL) == SQLITE_OK,
           "layout: set layout 1");
    sqlite3_close (h);
    e = rs_engine_new (db, NULL, err, sizeof err);
    CHECK (e && !rs_engine_rollups_current (e), "layout: rollups of layout 1 must not count as current");
    c = NULL;
    CHECK (e && rs_engine_run (e, "job_cost", NULL, 0, &c) == 0 && strcmp (rs_engine_last_variant (e), "raw") == 0,
           "layout: job_cost must run the raw SQL");
    json_decref (c);
    rs_engine_destroy (&e);
}

int
main (int argc, char **argv)
{
    const char *copilot = argc > 1 ? argv[1] : NULL, *fixture = argc > 2 ? argv[2] : NULL;
    if (!copilot || !fixture || access (copilot, X_OK) != 0 || access (fixture, R_OK) != 0) {
        fprintf (stderr, "skip: usage: test_rs_fast <copilot> <fixture.db> (missing input)\n");
        return 77;
    }
    if (strchr (copilot, '\'')) {
        fprintf (stderr, "skip: path contains a quote\n");
        return 77;
    }
    char dir[] = "/tmp/test_rs_fast.XXXXXX";
    if (!mkdtemp (dir)) {
        perror ("mkdtemp");
        return 1;
    }
    char fx[256], small[256], stale[256], guard[256];
    snprintf (fx, sizeof fx, "%s/fixture.db", dir);
    snprintf (small, sizeof small, "%s/small.db", dir);
    snprintf (stale, sizeof stale, "%s/stale.db", dir);
    snprintf (guard, sizeof guard, "%s/guard.db", dir);

    /* the unmigrated fixture: no rollups, raw SQL */
    char err[512];
    rs_engine_t *e = rs_engine_new (fixture, NULL, err, sizeof err);
    CHECK (e != NULL, "fixture engine: %s", err);
    json_t *out = NULL;
    CHECK (e && !rs_engine_rollups_current (e), "the raw fixture has no current rollups");
    CHECK (e && rs_engine_run (e, "job_cost", NULL, 0, &out) == 0 && strcmp (rs_engine_last_variant (e), "raw") == 0,
           "the raw fixture runs the raw SQL");
    json_decref (out);
    rs_engine_destroy (&e);

    CHECK (itf_copy_file (fixture, fx) == 0, "copy fixture");
    CHECK (s_sh ("'%s' db migrate --db '%s' > /dev/null", copilot, fx) == 0, "copilot db migrate");
    CHECK (s_sh ("'%s' generate --profile small --seed 42 --db '%s' > /dev/null 2>&1", copilot, small) == 0,
           "copilot generate --profile small");
    if (g_fail == 0) {
        s_compare_db (fx, "fixture");
        s_compare_db (small, "small");
        CHECK (itf_copy_file (small, stale) == 0, "copy small");
        s_stale (stale);
        CHECK (itf_copy_file (small, guard) == 0, "copy small");
        s_anomaly_guard (guard);
    }
    const char *files[] = {fx, small, stale, guard};
    for (int k = 0; k < 4; k++) {
        char p[300];
        unlink (files[k]);
        snprintf (p, sizeof p, "%s-wal", files[k]);
        unlink (p);
        snprintf (p, sizeof p, "%s-shm", files[k]);
        unlink (p);
        snprintf (p, sizeof p, "%s-journal", files[k]);
        unlink (p);
    }
    rmdir (dir);
    printf ("rs_fast: %d checks, %d runs on rollups, %d failures\n", g_checks, g_fast_runs, g_fail);
    return g_fail ? 1 : 0;
}
