/* test_rs_anomaly.c — the anomaly detector (seed-copilot §7) on hand-made
 * series: minimum history, history window (up to window + min_history
 * previous points), population σ, strict |z| > threshold, severity
 * cut-offs, expected range, percent deviation, configurable threshold;
 * and the simple forecaster (rs_forecast). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "rs_anomaly.h"
#include "rs_forecast.h"

/* 20 points alternating 10, 12: mean 11, population σ exactly 1. */
static void
s_base (double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (i % 2) ? 12.0 : 10.0;
}

static void
test_min_history (void **state)
{
    (void) state;
    rs_anomaly_opts_t o = rs_anomaly_defaults ();
    double v[14];
    s_base (v, 13);
    v[13] = 1000.0;
    rs_anomaly_t a[4];
    /* 13 points: fewer than min_history, nothing is tested */
    assert_int_equal (rs_anomaly_scan (v, 13, &o, a, 4), 0);
    /* 14 points: index 14 does not exist, so still nothing */
    assert_int_equal (rs_anomaly_scan (v, 14, &o, a, 4), 0);
    double w[15];
    s_base (w, 14);
    w[14] = 1000.0;
    assert_int_equal (rs_anomaly_scan (w, 15, &o, a, 4), 1);
    assert_int_equal (a[0].index, 14);
    assert_int_equal (a[0].hist_n, 14);
}

static void
test_zero_sigma_skipped (void **state)
{
    (void) state;
    rs_anomaly_opts_t o = rs_anomaly_defaults ();
    double v[16];
    for (int i = 0; i < 16; i++)
        v[i] = 5.0;
    v[15] = 500.0;   /* history is constant: σ = 0, the point is skipped */
    rs_anomaly_t a[2];
    assert_int_equal (rs_anomaly_scan (v, 16, &o, a, 2), 0);
}

static void
test_medium_and_range (void **state)
{
    (void) state;
    rs_anomaly_opts_t o = rs_anomaly_defaults ();
    double v[21];
    s_base (v, 20);
    v[20] = 14.5;   /* z = 3.5 */
    rs_anomaly_t a[2];
    assert_int_equal (rs_anomaly_scan (v, 21, &o, a, 2), 1);
    assert_int_equal (a[0].index, 20);
    assert_true (fabs (a[0].z - 3.5) < 1e-12);
    assert_true (fabs (a[0].expected - 11.0) < 1e-12);
    assert_true (fabs (a[0].expected_low - 8.0) < 1e-12);
    assert_true (fabs (a[0].expected_high - 14.0) < 1e-12);
    assert_true (fabs (a[0].pct_deviation - 3.5 / 11.0 * 100.0) < 1e-9);
    assert_int_equal (a[0].severity, RS_SEV_MEDIUM);
    assert_string_equal (rs_severity_name (a[0].severity), "medium");
    assert_true (fabs (a[0].hist_std - 1.0) < 1e-12);
    assert_true (a[0].hist_min == 10.0 && a[0].hist_max == 12.0);
    assert_true (a[0].previous == 12.0);
    assert_int_equal (a[0].hist_n, 20);
}

static void
test_strict_threshold (void **state)
{
    (void) state;
    rs_anomaly_opts_t o = rs_anomaly_defaults ();
    double v[21];
    s_base (v, 20);
    v[20] = 14.0;   /* z = 3.0 exactly: not an anomaly (strict >) */
    rs_anomaly_t a[2];
    assert_int_equal (rs_anomaly_scan (v, 21, &o, a, 2), 0);
    v[20] = 8.0;    /* z = -3.0 exactly */
    assert_int_equal (rs_anomaly_scan (v, 21, &o, a, 2), 0);
}

static void
test_severity_cutoffs (void **state)
{
    (void) state;
    rs_anomaly_opts_t o = rs_anomaly_defaults ();
    struct { double x; rs_severity_t s; } cases[] = {
        {15.5, RS_SEV_HIGH},       /* z 4.5 */
        {16.0, RS_SEV_HIGH},       /* z 5.0: not > 5 */
        {16.5, RS_SEV_CRITICAL},   /* z 5.5 */
        {15.0, RS_SEV_MEDIUM},     /* z 4.0: not > 4 */
        {6.5, RS_SEV_HIGH},        /* z -4.5 */
        {4.0, RS_SEV_CRITICAL},    /* z -7 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double v[21];
        s_base (v, 20);
        v[20] = cases[k].x;
        rs_anomaly_t a[2];
        assert_int_equal (rs_anomaly_scan (v, 21, &o, a, 2), 1);
        assert_int_equal (a[0].severity, cases[k].s);
    }
    /* "low" is unreachable at threshold 3 but reachable at threshold 2 */
    o.z_threshold = 2.0;
    double v[21];
    s_base (v, 20);
    v[20] = 13.5;   /* z 2.5 */
    rs_anomaly_t a[2];
    assert_int_equal (rs_anomaly_scan (v, 21, &o, a, 2), 1);
    assert_int_equal (a[0].severity, RS_SEV_LOW);
    assert_true (fabs (a[0].expected_high - 13.0) < 1e-12);   /* mean + 2σ */
}

static void
test_negative_deviation_keeps_sign (void **state)
{
    (void) state;
    rs_anomaly_opts_t o = rs_anomaly_defaults ();
    double v[21];
    s_base (v, 20);
    v[20] = 6.5;
    rs_anomaly_t a[1];
    assert_int_equal (rs_anomaly_scan (v, 21, &o, a, 1), 1);
    assert_true (a[0].z < 0);
    assert_true (fabs (a[0].pct_deviation - (-4.5 / 11.0 * 100.0)) < 1e-9);
}

static void
test_history_window (void **state)
{
    (void) state;
    /* 4 huge points, then 21 alternating points, then a 14.5 at index 25.
     * With the rolling window the history of index 25 is [4, 25): exactly
     * the 21 alternating points (mean 11 + 1/21 because they start and end
     * on 10, σ ≈ 1), so the point is anomalous; with all history the huge
     * points inflate σ and nothing is found at index 25. */
    double v[26];
    for (int i = 0; i < 4; i++)
        v[i] = 100.0;
    for (int i = 4; i < 25; i++)
        v[i] = ((i - 4) % 2) ? 12.0 : 10.0;
    v[25] = 14.5;
    rs_anomaly_opts_t o = rs_anomaly_defaults ();
    rs_anomaly_t a[8];
    int n = rs_anomaly_scan (v, 26, &o, a, 8);
    bool found25 = false;
    for (int k = 0; k < n; k++)
        if (a[k].index == 25) {
            found25 = true;
            assert_int_equal (a[k].hist_n, 21);
            assert_true (a[k].hist_max == 12.0);   /* the 100s are outside */
        }
    assert_true (found25);
    o.rolling = false;
    n = rs_anomaly_scan (v, 26, &o, a, 8);
    for (int k = 0; k < n; k++)
        assert_true (a[k].index != 25);
    /* window 0: history = up to min_history previous points */
    o = rs_anomaly_defaults ();
    o.window = 0;
    n = rs_anomaly_scan (v, 26, &o, a, 8);
    for (int k = 0; k < n; k++)
        assert_true (a[k].hist_n <= 14);
}

static void
test_mean_not_positive (void **state)
{
    (void) state;
    double v[21];
    for (int i = 0; i < 20; i++)
        v[i] = (i % 2) ? 1.0 : -1.0;   /* mean 0, σ 1 */
    v[20] = 10.0;
    rs_anomaly_opts_t o = rs_anomaly_defaults ();
    rs_anomaly_t a[1];
    assert_int_equal (rs_anomaly_scan (v, 21, &o, a, 1), 1);
    assert_true (a[0].pct_deviation == 0.0);
}

static void
test_pairwise_sum (void **state)
{
    (void) state;
    double v[10];
    for (int i = 0; i < 10; i++)
        v[i] = 0.1;
    /* numpy: np.sum([0.1] * 10) == 1.0, naive left-to-right gives 0.9999999999999999 */
    assert_true (rs_pairwise_sum (v, 10) == 1.0);
    double naive = 0;
    for (int i = 0; i < 10; i++)
        naive += v[i];
    assert_true (naive != 1.0);
    assert_true (rs_pairwise_sum (v, 0) == 0.0);
}

static void
test_invalid_and_cap (void **state)
{
    (void) state;
    rs_anomaly_opts_t o = rs_anomaly_defaults ();
    rs_anomaly_t a[1];
    double v[30];
    s_base (v, 30);
    v[20] = 100.0;
    v[29] = 100.0;
    o.z_threshold = 0;
    assert_int_equal (rs_anomaly_scan (v, 30, &o, a, 1), -1);
    o = rs_anomaly_defaults ();
    o.min_history = 0;
    assert_int_equal (rs_anomaly_scan (v, 30, &o, a, 1), -1);
    o = rs_anomaly_defaults ();
    assert_int_equal (rs_anomaly_scan (NULL, 5, &o, a, 1), -1);
    /* more anomalies than capacity: the count is still returned */
    int n = rs_anomaly_scan (v, 30, &o, a, 1);
    assert_true (n >= 2);
    assert_int_equal (a[0].index, 20);
    assert_int_equal (rs_severity_parse ("critical"), RS_SEV_CRITICAL);
    assert_int_equal (rs_severity_parse ("bogus"), -1);
}

static void
test_forecast (void **state)
{
    (void) state;
    double v[40], f[30];
    /* too short */
    for (int i = 0; i < 40; i++)
        v[i] = 50.0;
    assert_int_equal (rs_forecast (v, 20, 5, f), -1);
    assert_int_equal (rs_forecast (v, 21, 0, f), -1);
    /* constant series: flat forecast */
    assert_int_equal (rs_forecast (v, 40, 30, f), 0);
    for (int d = 0; d < 30; d++)
        assert_true (fabs (f[d] - 50.0) < 1e-9);
    /* linear series 10 + i, n = 21: level = mean(v[7..20]) = 23.5, slope 1,
     * seasonal[p] = mean(v[p], v[p+7], v[p+14]) = 17 + p; day d uses phase
     * (21 + d - 1) mod 7 = d - 1 */
    for (int i = 0; i < 21; i++)
        v[i] = 10.0 + i;
    assert_int_equal (rs_forecast (v, 21, 7, f), 0);
    for (int d = 1; d <= 7; d++) {
        double want = (23.5 + d) * (17.0 + (d - 1)) / 23.5;
        assert_true (fabs (f[d - 1] - want) < 1e-9);
    }
    /* a falling series is floored at 0 */
    for (int i = 0; i < 21; i++)
        v[i] = 200.0 - 10.0 * i;
    assert_int_equal (rs_forecast (v, 21, 30, f), 0);
    assert_true (f[29] == 0.0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_min_history), cmocka_unit_test (test_zero_sigma_skipped),
        cmocka_unit_test (test_medium_and_range), cmocka_unit_test (test_strict_threshold),
        cmocka_unit_test (test_severity_cutoffs), cmocka_unit_test (test_negative_deviation_keeps_sign),
        cmocka_unit_test (test_history_window), cmocka_unit_test (test_mean_not_positive),
        cmocka_unit_test (test_pairwise_sum), cmocka_unit_test (test_invalid_and_cap),
        cmocka_unit_test (test_forecast),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
