/* bench_reports.c — report-service benchmark: every available report, cold
 * and warm, p50/p95, on the large generated profile.
 *
 *   bench_reports <copilot binary> <db path> [cold_reps] [warm_reps]
 *
 * cold = a fresh engine (new read-only connection, empty result cache) running
 *        the report once; the OS page cache is whatever the previous run left,
 *        and the very first run of the benchmark pre-reads the DB once so all
 *        reports start from the same state (COPILOT_BENCH_NO_PREREAD=1 skips it);
 * warm = the same engine answering again (result cache hit for the same
 *        parameters and data version).
 * Targets (issue 4): warm <= 20 ms, cold <= 500 ms. The table is printed in
 * Markdown; with COPILOT_BENCH_STRICT=1 a missed target fails the run.
 * The "sql" column says which SQL the cold runs used: "rollup" (the
 * report's sql_fast variant over the rs_* rollups) or "raw".
 * COPILOT_BENCH_REPORTS=id,id,... limits the run to those reports.
 * The database is generated (`copilot generate --profile large --seed 42`)
 * when missing and COPILOT_BENCH=1; otherwise the benchmark is skipped (77).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "rs_engine.h"

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* true when `id` is listed in COPILOT_BENCH_REPORTS (or the variable is unset) */
static bool
s_selected (const char *id)
{
    const char *list = getenv ("COPILOT_BENCH_REPORTS");
    if (!list || !*list)
        return true;
    size_t n = strlen (id);
    for (const char *p = list; *p;) {
        const char *end = strchr (p, ',');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        if (len == n && strncmp (p, id, n) == 0)
            return true;
        p += len + (end ? 1 : 0);
    }
    return false;
}

static double
s_pct (double *v, int n, int p)
{
    qsort (v, (size_t) n, sizeof *v, s_cmp);
    int k = (n * p + 99) / 100;
    return v[k > 0 ? k - 1 : 0];
}

int
main (int argc, char **argv)
{
    if (argc < 3) {
        fprintf (stderr, "usage: %s <copilot> <db> [cold_reps] [warm_reps]\n", argv[0]);
        return 2;
    }
    const char *copilot = argv[1], *db = argv[2];
    int cold_reps = argc > 3 ? (int) strtol (argv[3], NULL, 10) : 5;
    int warm_reps = argc > 4 ? (int) strtol (argv[4], NULL, 10) : 20;
    if (cold_reps < 1 || cold_reps > 100 || warm_reps < 1 || warm_reps > 1000)
        return 2;
    if (access (db, R_OK) != 0) {
        const char *want = getenv ("COPILOT_BENCH");
        if (!want || strcmp (want, "1") != 0) {
            fprintf (stderr, "skip: %s missing (set COPILOT_BENCH=1 to generate the large profile)\n", db);
            return 77;
        }
        char cmd[2048];
        snprintf (cmd, sizeof cmd, "'%s' generate --profile large --seed 42 --db '%s'", copilot, db);
        fprintf (stderr, "generating %s ...\n", db);
        if (system (cmd) != 0) {
            fprintf (stderr, "generation failed\n");
            return 1;
        }
    }
    char err[512];
    rs_engine_t *e = rs_engine_new (db, NULL, err, sizeof err);
    if (!e) {
        fprintf (stderr, "engine: %s\n", err);
        return 1;
    }
    json_t *list = NULL;
    if (rs_engine_list (e, &list) != 0)
        return 1;
    /* pre-read: one pass over every report so the OS page cache is in the
     * same state for every cold measurement */
    size_t i;
    json_t *r;
    int64_t t0 = clock_mono_ns ();
    const char *skip_pre = getenv ("COPILOT_BENCH_NO_PREREAD");
    json_array_foreach (json_object_get (list, "reports"), i, r) {
        json_t *out = NULL;
        if (skip_pre && strcmp (skip_pre, "1") == 0)
            break;
        int64_t s = clock_mono_ns ();
        if (!s_selected (json_string_value (json_object_get (r, "id"))))
            continue;
        if (strcmp (json_string_value (json_object_get (r, "status")), "available") == 0 &&
            rs_engine_run (e, json_string_value (json_object_get (r, "id")), NULL, 0, &out) == 0)
            json_decref (out);
        fprintf (stderr, "pre-read %s: %.0f ms\n", json_string_value (json_object_get (r, "id")),
                 (double) (clock_mono_ns () - s) / 1e6);
    }
    fprintf (stderr, "pre-read of all reports: %.0f ms\n", (double) (clock_mono_ns () - t0) / 1e6);
    const char *dv = rs_engine_data_version (e);
    printf ("report-service benchmark: %s (data %s), cold = fresh engine x%d, warm = cached x%d\n\n", db, dv ? dv : "?",
            cold_reps, warm_reps);
    printf ("| report | sql | result rows | cold p50 ms | cold p95 ms | warm p50 ms | warm p95 ms | targets (cold 500 / warm 20) |\n");
    printf ("|---|---|---:|---:|---:|---:|---:|---|\n");
    rs_engine_destroy (&e);
    int missed = 0;
    json_array_foreach (json_object_get (list, "reports"), i, r) {
        const char *id = json_string_value (json_object_get (r, "id"));
        if (strcmp (json_string_value (json_object_get (r, "status")), "available") != 0 || !s_selected (id))
            continue;
        double cold[100], warm[1000];
        const char *variant = "raw";
        size_t rows = 0;
        rs_engine_t *w = NULL;
        bool failed = false;
        for (int k = 0; k < cold_reps && !failed; k++) {
            rs_engine_t *c = rs_engine_new (db, NULL, err, sizeof err);
            json_t *out = NULL;
            int64_t s = clock_mono_ns ();
            int rc = c ? rs_engine_run (c, id, NULL, 0, &out) : -1;
            cold[k] = (double) (clock_mono_ns () - s) / 1e6;
            if (c)
                variant = strcmp (rs_engine_last_variant (c), "fast") == 0 ? "rollup" : "raw";
            if (rc != 0) {
                fprintf (stderr, "%s: %s\n", id, c ? rs_engine_error (c) : err);
                failed = true;
            }
            rows = json_array_size (json_object_get (out, "rows"));
            json_decref (out);
            if (k == cold_reps - 1 && !failed)
                w = c;
            else
                rs_engine_destroy (&c);
        }
        for (int k = 0; k < warm_reps && w; k++) {
            json_t *out = NULL;
            int64_t s = clock_mono_ns ();
            rs_engine_run (w, id, NULL, 0, &out);
            warm[k] = (double) (clock_mono_ns () - s) / 1e6;
            json_decref (out);
        }
        rs_engine_destroy (&w);
        if (failed) {
            printf ("| %s | %s | error | | | | | |\n", id, variant);
            missed++;
            continue;
        }
        double c50 = s_pct (cold, cold_reps, 50), c95 = s_pct (cold, cold_reps, 95);
        double w50 = s_pct (warm, warm_reps, 50), w95 = s_pct (warm, warm_reps, 95);
        bool ok = c95 <= 500.0 && w95 <= 20.0;
        missed += !ok;
        printf ("| %s | %s | %zu | %.1f | %.1f | %.3f | %.3f | %s |\n", id, variant, rows, c50, c95, w50, w95,
                ok ? "met" : "MISSED");
        fflush (stdout);
    }
    json_decref (list);
    printf ("\n%d report(s) missed a target\n", missed);
    const char *strict = getenv ("COPILOT_BENCH_STRICT");
    return strict && strcmp (strict, "1") == 0 && missed ? 1 : 0;
}
