/* test_rs_engine.c — rs_engine behaviour on the reference fixture:
 * registry listing, chip determinism / lanes / ids (the §3.3 worked
 * example), bad parameters with their exact messages, parameter windows,
 * the result cache and data version, chart specs (percentages on their own
 * axis), entity facts, planned/unknown reports, and the SQL include lines
 * ("-- @include NAME") of a registry directory: a missing or self-including
 * fragment is a load error naming it.
 *
 * Usage: test_rs_engine <fixture.db>   (exit 77 when the fixture is missing)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "rs_engine.h"

static const char *g_db;

static rs_engine_t *
s_engine (void)
{
    char err[512];
    rs_engine_t *e = rs_engine_new (g_db, NULL, err, sizeof err);
    if (!e)
        fail_msg ("engine: %s", err);
    return e;
}

static json_t *
s_run (rs_engine_t *e, const char *id, const rs_param_t *p, size_t n)
{
    json_t *out = NULL;
    int rc = rs_engine_run (e, id, p, n, &out);
    if (rc != 0)
        fail_msg ("run %s: %s", id, rs_engine_error (e));
    return out;
}

static json_t *
s_selection (json_t *res, const char *entity_id)
{
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get (res, "selections"), i, s)
        if (strcmp (json_string_value (json_object_get (s, "entity_id")), entity_id) == 0)
            return s;
    return NULL;
}

/* ---------------------------------------------------------------------- */
static void
test_registry_list (void **state)
{
    (void) state;
    rs_engine_t *e = s_engine ();
    json_t *l = NULL;
    assert_int_equal (rs_engine_list (e, &l), 0);
    assert_string_equal (json_string_value (json_object_get (l, "default_report")), "job_cost");
    json_t *reps = json_object_get (l, "reports");
    static const char *order[] = {"job_cost", "compute_type_cost", "job_cost_pareto", "spot_risk_by_job",
                                  "anomaly_detection"};
    for (size_t i = 0; i < 5; i++) {
        json_t *r = json_array_get (reps, i);
        assert_string_equal (json_string_value (json_object_get (r, "id")), order[i]);
        assert_string_equal (json_string_value (json_object_get (r, "status")), "available");
        /* every report accepts from, to, workspace, as_of first */
        json_t *p = json_object_get (r, "params");
        assert_string_equal (json_string_value (json_object_get (json_array_get (p, 0), "name")), "from");
        assert_string_equal (json_string_value (json_object_get (json_array_get (p, 3), "name")), "as_of");
    }
    size_t planned = 0, i;
    json_t *r;
    json_array_foreach (reps, i, r)
        planned += strcmp (json_string_value (json_object_get (r, "status")), "planned") == 0;
    assert_int_equal (planned, 0);   /* every report of the registry is built */
    assert_int_equal (json_array_size (json_object_get (l, "lanes")), 4);
    json_decref (l);
    rs_engine_destroy (&e);
}

static void
test_worked_example_chips (void **state)
{
    (void) state;
    /* §3.3: a job selection in Job Cost with failure > 10 and spot > 0.5:
     * J-ML-TRAINING (25% failures, 0.575 spot). Every report chip applies. */
    rs_engine_t *e = s_engine ();
    json_t *res = s_run (e, "job_cost", NULL, 0);
    json_t *sel = s_selection (res, "J-ML-TRAINING");
    assert_non_null (sel);
    static const char *want[][2] = {
        {"Understand", "report:job_cost:job:J-ML-TRAINING:0"},   /* Job Overview */
        {"Understand", "report:job_cost:job:J-ML-TRAINING:4"},   /* Cost Breakdown */
        {"Understand", "core:about:job:J-ML-TRAINING"},
        {"Diagnose", "report:job_cost:job:J-ML-TRAINING:1"},     /* Why Is This Failing? */
        {"Diagnose", "report:job_cost:job:J-ML-TRAINING:2"},     /* Spot Risk Analysis */
        {"Diagnose", "core:drivers:job:J-ML-TRAINING"},
        {"Diagnose", "core:spike:job:J-ML-TRAINING"},
        {"Optimize", "report:job_cost:job:J-ML-TRAINING:3"},     /* Optimization Recommendations */
        {"Optimize", "job:cost:J-ML-TRAINING"},
        {"Optimize", "job:reliability:J-ML-TRAINING"},
        {"Monitor", "core:next:job:J-ML-TRAINING"},
    };
    json_t *chips = json_object_get (sel, "chips");
    assert_int_equal (json_array_size (chips), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        json_t *c = json_array_get (chips, i);
        assert_string_equal (json_string_value (json_object_get (c, "lane")), want[i][0]);
        assert_string_equal (json_string_value (json_object_get (c, "id")), want[i][1]);
        /* every prompt opens with the entity anchor line */
        const char *p = json_string_value (json_object_get (c, "prompt"));
        assert_true (strncmp (p, "job_id=J-ML-TRAINING\n", 21) == 0);
    }
    /* the failure chip quotes the rate with one decimal */
    const char *fail = json_string_value (json_object_get (json_array_get (chips, 3), "prompt"));
    assert_non_null (strstr (fail, "25.0%"));
    const char *spot = json_string_value (json_object_get (json_array_get (chips, 4), "prompt"));
    assert_non_null (strstr (spot, "57%"));

    /* a job with failure <= 10 and spot <= 0.5 loses chips 1 and 2 but
     * Optimization Recommendations keeps its id (rule index 3) */
    json_t *tr = s_selection (res, "J-SUPPLY-TRANSFORM");
    assert_non_null (tr);
    json_t *tc = json_object_get (tr, "chips");
    assert_int_equal (json_array_size (tc), 9);
    bool has3 = false;
    size_t i;
    json_t *c;
    json_array_foreach (tc, i, c) {
        const char *id = json_string_value (json_object_get (c, "id"));
        assert_null (strstr (id, "J-SUPPLY-TRANSFORM:1"));
        assert_null (strstr (id, "J-SUPPLY-TRANSFORM:2"));
        has3 = has3 || strcmp (id, "report:job_cost:job:J-SUPPLY-TRANSFORM:3") == 0;
    }
    assert_true (has3);
    json_decref (res);
    rs_engine_destroy (&e);
}

static void
test_chip_determinism (void **state)
{
    (void) state;
    /* every available report of the registry */
    rs_engine_t *le = s_engine ();
    json_t *list = NULL;
    assert_int_equal (rs_engine_list (le, &list), 0);
    const char *reports[32];
    size_t nrep = 0, li;
    json_t *lr;
    json_array_foreach (json_object_get (list, "reports"), li, lr)
        if (strcmp (json_string_value (json_object_get (lr, "status")), "available") == 0 && nrep < 32)
            reports[nrep++] = json_string_value (json_object_get (lr, "id"));
    assert_true (nrep >= 13);
    for (size_t k = 0; k < nrep; k++) {
        rs_engine_t *a = s_engine (), *b = s_engine ();
        json_t *ra = s_run (a, reports[k], NULL, 0), *rb = s_run (b, reports[k], NULL, 0);
        char *sa = json_dumps (json_object_get (ra, "selections"), JSON_COMPACT);
        char *sb = json_dumps (json_object_get (rb, "selections"), JSON_COMPACT);
        assert_string_equal (sa, sb);
        /* the whole result is byte-identical too */
        char *fa = json_dumps (ra, JSON_COMPACT), *fb = json_dumps (rb, JSON_COMPACT);
        assert_string_equal (fa, fb);
        /* chips in lane order, no duplicate ids */
        static const char *lanes[] = {"Understand", "Diagnose", "Optimize", "Monitor"};
        size_t i;
        json_t *s;
        json_array_foreach (json_object_get (ra, "selections"), i, s) {
            int last = 0;
            size_t j, m;
            json_t *c, *d;
            json_t *chips = json_object_get (s, "chips");
            json_array_foreach (chips, j, c) {
                int lane = -1;
                for (int q = 0; q < 4; q++)
                    if (strcmp (lanes[q], json_string_value (json_object_get (c, "lane"))) == 0)
                        lane = q;
                assert_true (lane >= last);
                last = lane;
                json_array_foreach (chips, m, d)
                    if (m != j)
                        assert_string_not_equal (json_string_value (json_object_get (c, "id")),
                                                 json_string_value (json_object_get (d, "id")));
            }
        }
        free (sa);
        free (sb);
        free (fa);
        free (fb);
        /* every selection has chips, and every prompt starts with an anchor line */
        json_array_foreach (json_object_get (ra, "selections"), i, s) {
            json_t *chips = json_object_get (s, "chips");
            assert_true (json_array_size (chips) >= 4);
            size_t j;
            json_t *c;
            json_array_foreach (chips, j, c) {
                const char *p = json_string_value (json_object_get (c, "prompt"));
                const char *nl = strchr (p, '\n');
                assert_non_null (nl);
                assert_non_null (memchr (p, '=', (size_t) (nl - p)));
            }
        }
        json_decref (ra);
        json_decref (rb);
        rs_engine_destroy (&a);
        rs_engine_destroy (&b);
    }
    json_decref (list);
    rs_engine_destroy (&le);
}

static void
test_compute_type_and_anomaly_chips (void **state)
{
    (void) state;
    rs_engine_t *e = s_engine ();
    json_t *res = s_run (e, "compute_type_cost", NULL, 0);
    json_t *wh = s_selection (res, "SQL_WAREHOUSE");
    assert_non_null (wh);
    json_t *chips = json_object_get (wh, "chips");
    /* 3 warehouse chips + 4 core + the 2 compute core chips ("compute_type" contains "compute") */
    assert_int_equal (json_array_size (chips), 9);
    assert_string_equal (json_string_value (json_object_get (json_array_get (chips, 0), "id")),
                         "report:compute_type_cost:compute_type:SQL_WAREHOUSE:3");
    assert_true (strncmp (json_string_value (json_object_get (json_array_get (chips, 0), "prompt")),
                          "compute_type=SQL_WAREHOUSE\n", 27) == 0);
    size_t i;
    json_t *c;
    bool util = false;
    json_array_foreach (chips, i, c)
        util = util || strcmp (json_string_value (json_object_get (c, "id")), "compute:util:compute_type:SQL_WAREHOUSE") == 0;
    assert_true (util);
    json_decref (res);

    res = s_run (e, "anomaly_detection", NULL, 0);
    json_t *an = s_selection (res, "J-FIN-DAILY:2025-12-05");
    assert_non_null (an);
    assert_string_equal (json_string_value (json_object_get (an, "entity_type")), "anomaly");
    chips = json_object_get (an, "chips");
    /* slug(':') -> '_' inside ids */
    bool about = false;
    json_array_foreach (chips, i, c) {
        about = about || strcmp (json_string_value (json_object_get (c, "id")), "core:about:anomaly:J-FIN-DAILY_2025-12-05") == 0;
        assert_true (strncmp (json_string_value (json_object_get (c, "prompt")),
                              "anomaly_id=J-FIN-DAILY:2025-12-05 job_id=J-FIN-DAILY date=2025-12-05\n", 68) == 0);
    }
    assert_true (about);
    json_decref (res);
    rs_engine_destroy (&e);
}

static void
s_expect_invalid (rs_engine_t *e, const char *report, const char *k, const char *v, const char *msg)
{
    rs_param_t p[1] = {{k, v}};
    json_t *out = NULL;
    assert_int_equal (rs_engine_run (e, report, p, 1, &out), RS_E_INVALID);
    assert_null (out);
    assert_string_equal (rs_engine_error (e), msg);
}

static void
test_bad_params (void **state)
{
    (void) state;
    rs_engine_t *e = s_engine ();
    s_expect_invalid (e, "job_cost", "from", "2025-13-01", "from: expected a date YYYY-MM-DD, got '2025-13-01'");
    s_expect_invalid (e, "job_cost", "to", "yesterday", "to: expected a date YYYY-MM-DD, got 'yesterday'");
    s_expect_invalid (e, "job_cost", "as_of", "2025-02-30", "as_of: expected a date YYYY-MM-DD, got '2025-02-30'");
    s_expect_invalid (e, "job_cost", "top_n", "abc", "top_n: expected an integer in [1, 1000], got 'abc'");
    s_expect_invalid (e, "job_cost", "top_n", "0", "top_n: expected an integer in [1, 1000], got '0'");
    s_expect_invalid (e, "job_cost", "workspace", "a b",
                      "workspace: expected a workspace id (1-128 characters: letters, digits, '-', '_', '.', ':'), got 'a b'");
    s_expect_invalid (e, "job_cost", "workspace", "NOPE",
                      "workspace: expected a workspace id present in the data (OU-CHICOLA), got 'NOPE'");
    s_expect_invalid (e, "job_cost", "bogus", "1",
                      "bogus: unknown parameter for report job_cost (accepted: from, to, workspace, as_of, top_n)");
    s_expect_invalid (e, "anomaly_detection", "z_threshold", "0",
                      "z_threshold: expected a number in [0.5, 20], got '0'");
    s_expect_invalid (e, "anomaly_detection", "z_threshold", "nan",
                      "z_threshold: expected a number in [0.5, 20], got 'nan'");
    rs_param_t p2[2] = {{"from", "2025-12-10"}, {"to", "2025-12-01"}};
    json_t *out = NULL;
    assert_int_equal (rs_engine_run (e, "job_cost", p2, 2, &out), RS_E_INVALID);
    assert_string_equal (rs_engine_error (e), "from: expected a date on or before to (2025-12-01), got '2025-12-10'");
    rs_param_t p3[2] = {{"to", "2025-12-20"}, {"as_of", "2025-12-15"}};
    assert_int_equal (rs_engine_run (e, "job_cost", p3, 2, &out), RS_E_INVALID);
    assert_string_equal (rs_engine_error (e), "to: expected a date on or before as_of (2025-12-15), got '2025-12-20'");
    rs_param_t p4[2] = {{"top_n", "5"}, {"top_n", "6"}};
    assert_int_equal (rs_engine_run (e, "job_cost", p4, 2, &out), RS_E_INVALID);
    assert_string_equal (rs_engine_error (e), "top_n: expected the parameter once, got it twice");
    /* unknown and planned reports */
    assert_int_equal (rs_engine_run (e, "nope", NULL, 0, &out), RS_E_NOTFOUND);
    assert_non_null (strstr (rs_engine_error (e), "unknown report id 'nope'"));
    /* (planned reports answer RS_E_UNIMPLEMENTED; the registry has none left) */
    rs_engine_destroy (&e);
}

static void
test_param_windows (void **state)
{
    (void) state;
    rs_engine_t *e = s_engine ();
    json_t *all = s_run (e, "job_cost", NULL, 0);
    json_t *p = json_object_get (all, "params");
    /* as_of defaults to the latest usage date, not today (§11.4) */
    assert_string_equal (json_string_value (json_object_get (p, "as_of")), "2025-12-15");
    assert_string_equal (json_string_value (json_object_get (p, "from")), "2025-11-01");
    assert_string_equal (json_string_value (json_object_get (p, "to")), "2025-12-15");
    assert_true (json_is_null (json_object_get (p, "workspace")));
    double total = json_number_value (json_object_get (json_array_get (json_object_get (all, "kpis"), 0), "value"));

    rs_param_t ws[1] = {{"workspace", "OU-CHICOLA"}};
    json_t *w = s_run (e, "job_cost", ws, 1);
    assert_true (fabs (json_number_value (json_object_get (json_array_get (json_object_get (w, "kpis"), 0), "value")) - total) < 1e-6);

    rs_param_t dec[1] = {{"from", "2025-12-01"}};
    json_t *d = s_run (e, "job_cost", dec, 1);
    double dtotal = json_number_value (json_object_get (json_array_get (json_object_get (d, "kpis"), 0), "value"));
    assert_true (dtotal > 0 && dtotal < total);

    /* anomaly_detection looks back 90 days from as_of */
    json_t *an = s_run (e, "anomaly_detection", NULL, 0);
    assert_string_equal (json_string_value (json_object_get (json_object_get (an, "params"), "from")), "2025-09-16");
    /* a tighter threshold finds at least as many anomalies */
    rs_param_t zt[1] = {{"z_threshold", "2.5"}};
    json_t *an2 = s_run (e, "anomaly_detection", zt, 1);
    assert_true (json_number_value (json_object_get (json_array_get (json_object_get (an2, "kpis"), 0), "value")) >=
                 json_number_value (json_object_get (json_array_get (json_object_get (an, "kpis"), 0), "value")));
    /* top_n limits the chart data */
    rs_param_t tn[1] = {{"top_n", "3"}};
    json_t *t3 = s_run (e, "job_cost", tn, 1);
    assert_int_equal (json_array_size (json_object_get (json_object_get (json_object_get (t3, "chart_spec"), "data"), "values")), 3);
    json_decref (all);
    json_decref (w);
    json_decref (d);
    json_decref (an);
    json_decref (an2);
    json_decref (t3);
    rs_engine_destroy (&e);
}

static void
test_cache (void **state)
{
    (void) state;
    rs_engine_t *e = s_engine ();
    const char *dv = rs_engine_data_version (e);
    assert_non_null (dv);
    assert_true (strncmp (dv, "fp:", 3) == 0);   /* raw fixture: no data_version table */
    json_t *a = s_run (e, "job_cost", NULL, 0);
    assert_true (json_is_false (json_object_get (a, "cached")));
    json_t *b = s_run (e, "job_cost", NULL, 0);
    assert_true (json_is_true (json_object_get (b, "cached")));
    /* explicit defaults resolve to the same key */
    rs_param_t same[2] = {{"as_of", "2025-12-15"}, {"top_n", "15"}};
    json_t *c = s_run (e, "job_cost", same, 2);
    assert_true (json_is_true (json_object_get (c, "cached")));
    rs_param_t other[1] = {{"top_n", "4"}};
    json_t *d = s_run (e, "job_cost", other, 1);
    assert_true (json_is_false (json_object_get (d, "cached")));
    assert_int_equal (rs_engine_cache_size (e), 2);
    unsigned long hits, misses;
    rs_engine_cache_stats (e, &hits, &misses);
    assert_int_equal (hits, 2);
    assert_int_equal (misses, 2);
    rs_engine_invalidate (e);
    assert_int_equal (rs_engine_cache_size (e), 0);
    json_t *f = s_run (e, "job_cost", NULL, 0);
    assert_true (json_is_false (json_object_get (f, "cached")));
    assert_string_equal (json_string_value (json_object_get (f, "data_version")), dv);
    json_decref (a);
    json_decref (b);
    json_decref (c);
    json_decref (d);
    json_decref (f);
    rs_engine_destroy (&e);
}

static void
test_chart_specs (void **state)
{
    (void) state;
    rs_engine_t *e = s_engine ();
    json_t *res = s_run (e, "job_cost", NULL, 0);
    json_t *ch = json_object_get (res, "chart_spec");
    assert_non_null (json_object_get (ch, "$schema"));
    /* percentages on their own axis (§11.11): independent x scales and the
     * success-rate layer on a 0..105 domain */
    assert_string_equal (json_string_value (json_object_get (json_object_get (json_object_get (ch, "resolve"), "scale"), "x")),
                         "independent");
    json_t *pct = json_object_get (json_object_get (json_array_get (json_object_get (ch, "layer"), 1), "encoding"), "x");
    assert_string_equal (json_string_value (json_object_get (pct, "field")), "success_rate_pct");
    assert_int_equal (json_integer_value (json_array_get (json_object_get (json_object_get (pct, "scale"), "domain"), 1)), 105);
    assert_int_equal (json_array_size (json_object_get (json_object_get (ch, "data"), "values")), 9);
    assert_string_equal (json_string_value (json_object_get (ch, "title")), "Top 15 Jobs by Cost (with Reliability Overlay)");
    json_decref (res);
    /* no unresolved directive survives in any chart */
    static const char *reports[] = {"job_cost", "compute_type_cost", "job_cost_pareto", "spot_risk_by_job",
                                    "anomaly_detection", "reliability_scorecard", "failure_signatures",
                                    "runtime_regression", "cost_efficiency", "eviction_cost", "tag_showback",
                                    "warehouse_cost_by_query", "cost_forecast"};
    for (int k = 0; k < 13; k++) {
        res = s_run (e, reports[k], NULL, 0);
        char *s = json_dumps (json_object_get (res, "chart_spec"), JSON_COMPACT);
        assert_null (strstr (s, "\"$data\""));
        assert_null (strstr (s, "\"$tmpl\""));
        assert_null (strstr (s, "\"$expr\""));
        assert_null (strstr (s, "\"$measure\""));
        free (s);
        json_decref (res);
    }
    rs_engine_destroy (&e);
}

static json_t *
s_fact (json_t *facts, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach (json_object_get (facts, "facts"), i, f)
        if (strcmp (json_string_value (json_object_get (f, "name")), name) == 0)
            return f;
    return NULL;
}

static void
test_entity_facts (void **state)
{
    (void) state;
    rs_engine_t *e = s_engine ();
    json_t *f = NULL;
    assert_int_equal (rs_engine_entity_facts (e, "job", "J-FIN-DAILY", NULL, 0, &f), 0);
    assert_string_equal (json_string_value (json_object_get (f, "label")), "Daily Financial Aggregation");
    json_t *c = s_fact (f, "cost_total_usd");
    assert_true (fabs (json_number_value (json_object_get (c, "value")) - 5548.9989504) < 1e-6);
    assert_string_equal (json_string_value (json_object_get (c, "source_table")), "compute_usage");
    assert_int_equal (json_integer_value (json_object_get (c, "row_count")), 54);
    assert_int_equal (json_array_size (json_object_get (c, "row_keys")), 25);
    assert_true (json_number_value (json_object_get (s_fact (f, "runs_failed"), "value")) == 9);
    assert_true (json_number_value (json_object_get (s_fact (f, "spot_evictions"), "value")) == 9);
    assert_true (json_number_value (json_object_get (s_fact (f, "cost_rank"), "value")) == 4);
    json_t *an = s_fact (f, "anomaly");
    assert_non_null (an);
    assert_string_equal (json_string_value (json_array_get (json_object_get (an, "row_keys"), 0)), "J-FIN-DAILY:2025-12-05");
    assert_string_equal (json_string_value (json_array_get (json_object_get (f, "related_ids"), 0)), "job::J-FIN-DAILY");
    json_decref (f);

    /* dependencies from the description text on the raw fixture */
    assert_int_equal (rs_engine_entity_facts (e, "job", "J-SUPPLY-TRANSFORM", NULL, 0, &f), 0);
    json_t *up = s_fact (f, "upstream_job");
    assert_non_null (up);
    assert_non_null (strstr (json_string_value (json_object_get (up, "text")), "J-SUPPLY-RAW"));
    assert_true (json_number_value (json_object_get (s_fact (f, "runs_skipped"), "value")) == 1);
    json_decref (f);

    assert_int_equal (rs_engine_entity_facts (e, "compute", "WH-FINANCE", NULL, 0, &f), 0);
    assert_true (json_number_value (json_object_get (s_fact (f, "failed_queries"), "value")) > 0);
    json_decref (f);
    assert_int_equal (rs_engine_entity_facts (e, "compute_type", "JOB_RUN", NULL, 0, &f), 0);
    assert_true (fabs (json_number_value (json_object_get (s_fact (f, "cost_total_usd"), "value")) - 200566.3767564) < 1e-6);
    json_decref (f);
    assert_int_equal (rs_engine_entity_facts (e, "anomaly", "J-FIN-DAILY:2025-12-05", NULL, 0, &f), 0);
    assert_string_equal (json_string_value (json_object_get (s_fact (f, "severity"), "text")), "critical");
    assert_true (json_number_value (json_object_get (s_fact (f, "day_spot_evictions"), "value")) == 3);
    json_decref (f);

    f = NULL;
    assert_int_equal (rs_engine_entity_facts (e, "job", "J-NOPE", NULL, 0, &f), RS_E_NOTFOUND);
    assert_null (f);
    assert_int_equal (rs_engine_entity_facts (e, "anomaly", "J-FIN-DAILY:2025-11-02", NULL, 0, &f), RS_E_NOTFOUND);
    assert_int_equal (rs_engine_entity_facts (e, "anomaly", "garbage", NULL, 0, &f), RS_E_INVALID);
    assert_int_equal (rs_engine_entity_facts (e, "planet", "x", NULL, 0, &f), RS_E_INVALID);
    assert_string_equal (rs_engine_error (e), "entity_type: expected job, compute, compute_type or anomaly, got 'planet'");
    rs_engine_destroy (&e);
}

static void
test_detect_alerts (void **state)
{
    (void) state;
    rs_engine_t *e = s_engine ();
    json_t *a = NULL;
    assert_int_equal (rs_engine_detect (e, NULL, 0, &a), 0);
    assert_int_equal (json_array_size (a), 10);
    json_t *first = json_array_get (a, 0);
    assert_non_null (json_object_get (first, "alert_id"));
    assert_non_null (json_object_get (first, "severity"));
    json_decref (a);
    rs_engine_destroy (&e);
}

static void
test_forecast_report (void **state)
{
    (void) state;
    rs_engine_t *e = s_engine ();
    json_t *res = s_run (e, "cost_forecast", NULL, 0);
    json_t *rows = json_object_get (res, "rows");
    assert_int_equal (json_array_size (rows), 45 + 30);
    /* the first forecast day follows the last usage date */
    json_t *f0 = json_array_get (rows, 45);
    assert_string_equal (json_string_value (json_object_get (f0, "usage_date")), "2025-12-16");
    assert_string_equal (json_string_value (json_object_get (f0, "kind")), "forecast");
    /* MAPE KPI = mean of |a - f| / max(a, 1) over the 14 backtest rows */
    double sum = 0;
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach (rows, i, r) {
        json_t *b = json_object_get (r, "backtest_forecast_usd");
        if (!json_is_number (b))
            continue;
        double a = json_number_value (json_object_get (r, "total_cost"));
        sum += fabs (a - json_number_value (b)) / (a > 1 ? a : 1) * 100.0;
        n++;
    }
    assert_int_equal (n, 14);
    json_t *k = json_array_get (json_object_get (res, "kpis"), 2);
    assert_string_equal (json_string_value (json_object_get (k, "id")), "bt_mape");
    assert_true (fabs (json_number_value (json_object_get (k, "value")) - sum / n) < 1e-9);
    /* planned-report listing is now empty: every report is built */
    json_decref (res);
    rs_param_t h[1] = {{"horizon", "7"}};
    res = s_run (e, "cost_forecast", h, 1);
    assert_int_equal (json_array_size (json_object_get (res, "rows")), 45 + 7);
    json_decref (res);
    rs_engine_destroy (&e);
}

/* Copies registry.json and every .sql file of RS_SQL_SOURCE_DIR into `dir`. */
static void
copy_sql_dir (const char *dir)
{
    DIR *d = opendir (RS_SQL_SOURCE_DIR);
    assert_non_null (d);
    struct dirent *de;
    while ((de = readdir (d)) != NULL) {
        size_t n = strlen (de->d_name);
        if (!((n > 4 && strcmp (de->d_name + n - 4, ".sql") == 0) || strcmp (de->d_name, "registry.json") == 0))
            continue;
        char src[512], dst[512];
        snprintf (src, sizeof src, "%s/%s", RS_SQL_SOURCE_DIR, de->d_name);
        snprintf (dst, sizeof dst, "%s/%s", dir, de->d_name);
        FILE *in = fopen (src, "rb"), *out = fopen (dst, "wb");
        assert_non_null (in);
        assert_non_null (out);
        char buf[8192];
        size_t got;
        while ((got = fread (buf, 1, sizeof buf, in)) > 0)
            assert_int_equal (fwrite (buf, 1, got, out), got);
        fclose (in);
        fclose (out);
    }
    closedir (d);
}

static void
write_file (const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

static void
test_sql_include (void **state)
{
    (void) state;
    char dir[] = "/tmp/rs_include_XXXXXX";
    assert_non_null (mkdtemp (dir));
    copy_sql_dir (dir);
    char err[512];
    rs_options_t o = {dir, 0};
    /* the source tree's registry loads from a directory: includes expand */
    rs_engine_t *e = rs_engine_new (g_db, &o, err, sizeof err);
    if (!e)
        fail_msg ("engine: %s", err);
    json_t *out = NULL;
    assert_int_equal (rs_engine_run (e, "job_cost", NULL, 0, &out), 0);
    json_decref (out);
    rs_engine_destroy (&e);
    /* a fragment that does not exist */
    write_file (dir, "job_cost.fast.sql", "WITH\n-- @include nope.inc.sql\nSELECT 1\n");
    assert_null (rs_engine_new (g_db, &o, err, sizeof err));
    assert_non_null (strstr (err, "nope.inc.sql"));
    /* a fragment that includes itself */
    copy_sql_dir (dir);
    write_file (dir, "window_split.inc.sql", "-- @include window_split.inc.sql\n");
    assert_null (rs_engine_new (g_db, &o, err, sizeof err));
    assert_non_null (strstr (err, "nested more than 4 deep"));
    /* an include line naming a path */
    copy_sql_dir (dir);
    write_file (dir, "job_cost.fast.sql", "WITH\n-- @include ../etc/passwd\nSELECT 1\n");
    assert_null (rs_engine_new (g_db, &o, err, sizeof err));
    assert_non_null (strstr (err, "must be a plain file name"));
    DIR *d = opendir (dir);
    struct dirent *de;
    while (d && (de = readdir (d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char p[512];
        snprintf (p, sizeof p, "%s/%s", dir, de->d_name);
        unlink (p);
    }
    if (d)
        closedir (d);
    rmdir (dir);
}

static void
test_planned_report (void **state)
{
    (void) state;
    /* a registry (from a directory) with a planned report: listed, not runnable */
    char dir[] = "/tmp/rs_planned_XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[300];
    snprintf (path, sizeof path, "%s/registry.json", dir);
    write_file (dir, "registry.json",
                "{\"default_report\": \"later\", \"lanes\": [\"Understand\", \"Diagnose\", \"Optimize\", \"Monitor\"],"
                " \"thresholds\": {}, \"entity_types\": {}, \"core_chips\": [],"
                " \"common_params\": [{\"name\": \"from\", \"kind\": \"date\"}, {\"name\": \"to\", \"kind\": \"date\"},"
                "   {\"name\": \"workspace\", \"kind\": \"workspace\"}, {\"name\": \"as_of\", \"kind\": \"date\"}],"
                " \"reports\": [{\"id\": \"later\", \"title\": \"Later\", \"pillar\": \"cost\", \"description\": \"not yet\","
                "   \"status\": \"planned\", \"params\": []}]}");
    char err[512];
    rs_options_t o = {dir, 0};
    rs_engine_t *e = rs_engine_new (g_db, &o, err, sizeof err);
    if (!e)
        fail_msg ("engine: %s", err);
    json_t *out = NULL;
    assert_int_equal (rs_engine_run (e, "later", NULL, 0, &out), RS_E_UNIMPLEMENTED);
    assert_string_equal (rs_engine_error (e), "report later (Later) is planned, not built yet");
    assert_int_equal (rs_engine_list (e, &out), 0);
    assert_string_equal (json_string_value (json_object_get (json_array_get (json_object_get (out, "reports"), 0), "status")), "planned");
    json_decref (out);
    rs_engine_destroy (&e);
    /* a broken registry is rejected with a message naming the field */
    write_file (dir, "registry.json",
                "{\"default_report\": \"x\", \"lanes\": [\"Understand\", \"Diagnose\", \"Optimize\", \"Monitor\"], "
                "\"thresholds\": {}}");
    assert_null (rs_engine_new (g_db, &o, err, sizeof err));
    assert_non_null (strstr (err, "registry"));
    unlink (path);
    rmdir (dir);
}

int
main (int argc, char **argv)
{
    g_db = argc > 1 ? argv[1] : getenv ("COPILOT_FIXTURE_DB");
    if (!g_db || access (g_db, R_OK) != 0) {
        fprintf (stderr, "skip: fixture not found\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_registry_list), cmocka_unit_test (test_worked_example_chips),
        cmocka_unit_test (test_chip_determinism), cmocka_unit_test (test_compute_type_and_anomaly_chips),
        cmocka_unit_test (test_bad_params), cmocka_unit_test (test_param_windows),
        cmocka_unit_test (test_cache), cmocka_unit_test (test_chart_specs),
        cmocka_unit_test (test_entity_facts), cmocka_unit_test (test_detect_alerts),
        cmocka_unit_test (test_forecast_report), cmocka_unit_test (test_planned_report),
        cmocka_unit_test (test_sql_include),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
