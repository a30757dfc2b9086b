/* test_metrics.c — registry, atomics and the exact Prometheus text output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "metrics.h"

static void
test_golden (void **state)
{
    (void) state;
    metrics_t *r = metrics_new ();
    assert_non_null (r);
    /* Registered out of order on purpose: output is sorted. */
    metric_t *g = metrics_gauge (r, "copilot_inflight_requests", "Requests in flight.", NULL);
    metric_t *c500 = metrics_counter (r, "copilot_requests_total", "Requests served.",
                                      "service=\"gw\",code=\"500\"");
    metric_t *c200 = metrics_counter (r, "copilot_requests_total", "ignored later help",
                                      "service=\"gw\",code=\"200\"");
    const double bounds[] = { 0.1, 0.5, 1 };
    metric_t *h = metrics_histogram (r, "copilot_request_duration_seconds",
                                     "Request latency.\nSecond line with \\ backslash.",
                                     "service=\"gw\"", bounds, 3);
    metric_t *h2 = metrics_histogram (r, "copilot_request_duration_seconds", NULL, NULL, bounds, 3);
    metric_t *empty = metrics_counter (r, "a_total", "", NULL);
    assert_non_null (g);
    assert_non_null (c500);
    assert_non_null (c200);
    assert_non_null (h);
    assert_non_null (h2);
    assert_non_null (empty);
    assert_ptr_equal (metrics_counter (r, "copilot_requests_total", NULL,
                                       "service=\"gw\",code=\"200\""), c200);

    metric_inc (c200);
    metric_inc (c200);
    metric_add (c200, 3);
    metric_add (c200, -1);   /* ignored: counters only go up */
    metric_inc (c500);
    metric_set (g, 7);
    metric_add (g, -2.5);
    metric_observe (h, 0.05);
    metric_observe (h, 0.1);    /* le is inclusive */
    metric_observe (h, 0.3);
    metric_observe (h, 2);
    metric_observe (h, 1e9);
    metric_observe (h, NAN);    /* ignored */
    metric_observe (h2, 0.75);

    assert_true (metric_value (c200) == 5.0);
    assert_true (metric_value (g) == 4.5);
    assert_true (metric_value (h) == 5.0);

    buf_t *out = buf_new (1 << 16);
    assert_int_equal (metrics_render (r, out), 0);
    const char *golden =
        "# HELP a_total\n"
        "# TYPE a_total counter\n"
        "a_total 0\n"
        "# HELP copilot_inflight_requests Requests in flight.\n"
        "# TYPE copilot_inflight_requests gauge\n"
        "copilot_inflight_requests 4.5\n"
        "# HELP copilot_request_duration_seconds Request latency.\\nSecond line with \\\\ backslash.\n"
        "# TYPE copilot_request_duration_seconds histogram\n"
        "copilot_request_duration_seconds_bucket{le=\"0.1\"} 0\n"
        "copilot_request_duration_seconds_bucket{le=\"0.5\"} 0\n"
        "copilot_request_duration_seconds_bucket{le=\"1\"} 1\n"
        "copilot_request_duration_seconds_bucket{le=\"+Inf\"} 1\n"
        "copilot_request_duration_seconds_sum 0.75\n"
        "copilot_request_duration_seconds_count 1\n"
        "copilot_request_duration_seconds_bucket{service=\"gw\",le=\"0.1\"} 2\n"
        "copilot_request_duration_seconds_bucket{service=\"gw\",le=\"0.5\"} 3\n"
        "copilot_request_duration_seconds_bucket{service=\"gw\",le=\"1\"} 3\n"
        "copilot_request_duration_seconds_bucket{service=\"gw\",le=\"+Inf\"} 5\n"
        "copilot_request_duration_seconds_sum{service=\"gw\"} 1000000002.45\n"
        "copilot_request_duration_seconds_count{service=\"gw\"} 5\n"
        "# HELP copilot_requests_total Requests served.\n"
        "# TYPE copilot_requests_total counter\n"
        "copilot_requests_total{service=\"gw\",code=\"200\"} 5\n"
        "copilot_requests_total{service=\"gw\",code=\"500\"} 1\n";
    assert_string_equal (buf_data (out), golden);

    /* Rendering twice gives the same bytes (deterministic). */
    buf_t *again = buf_new (1 << 16);
    assert_int_equal (metrics_render (r, again), 0);
    assert_string_equal (buf_data (out), buf_data (again));
    buf_destroy (&again);

    /* A too-small buffer fails and appends nothing. */
    buf_t *small = buf_new (100);
    buf_puts (small, "keep");
    assert_int_equal (metrics_render (r, small), BUF_E_TOOBIG);
    assert_string_equal (buf_data (small), "keep");
    buf_destroy (&small);
    buf_destroy (&out);
    metrics_destroy (&r);
    assert_null (r);
    metrics_destroy (&r);
}

static void
test_rejects (void **state)
{
    (void) state;
    metrics_t *r = metrics_new ();
    assert_non_null (metrics_counter (r, "x_total", "h", NULL));
    assert_null (metrics_gauge (r, "x_total", "h", NULL));          /* type clash */
    assert_null (metrics_counter (r, "1bad", "h", NULL));
    assert_null (metrics_counter (r, "bad-name", "h", NULL));
    assert_null (metrics_counter (r, "", "h", NULL));
    assert_null (metrics_counter (r, "y", "h", "a=\"1\n\""));        /* raw newline */
    const double desc[] = { 1, 0.5 };
    assert_null (metrics_histogram (r, "h1", "h", NULL, desc, 2));
    const double inf[] = { 1, INFINITY };
    assert_null (metrics_histogram (r, "h2", "h", NULL, inf, 2));
    const double b1[] = { 1, 2 }, b2[] = { 1, 3 };
    assert_non_null (metrics_histogram (r, "h3", "h", NULL, b1, 2));
    assert_null (metrics_histogram (r, "h3", "h", "a=\"1\"", b2, 2));  /* bounds differ */
    /* default buckets: 14 finite bounds + Inf */
    metric_t *d = metrics_histogram (r, "h4_seconds", "h", NULL, NULL, 0);
    assert_non_null (d);
    metric_observe (d, 0.0004);
    metric_observe (d, 11);
    buf_t *out = buf_new (1 << 16);
    assert_int_equal (metrics_render (r, out), 0);
    assert_non_null (strstr (buf_data (out), "h4_seconds_bucket{le=\"0.0005\"} 1\n"));
    assert_non_null (strstr (buf_data (out), "h4_seconds_bucket{le=\"10\"} 1\n"));
    assert_non_null (strstr (buf_data (out), "h4_seconds_bucket{le=\"+Inf\"} 2\n"));
    assert_non_null (strstr (buf_data (out), "h4_seconds_sum 11.0004\n"));
    buf_destroy (&out);
    metric_inc (NULL);
    metric_observe (NULL, 1);
    metrics_destroy (&r);
}

static void
test_escape_label (void **state)
{
    (void) state;
    char out[32];
    assert_int_equal (metrics_escape_label ("a\\b\"c\nd", out, sizeof out), 0);
    assert_string_equal (out, "a\\\\b\\\"c\\nd");
    /* exact fit: 4 bytes + NUL */
    assert_int_equal (metrics_escape_label ("ab\"", out, 5), 0);
    assert_string_equal (out, "ab\\\"");
    assert_int_equal (metrics_escape_label ("ab\"", out, 4), -1);
    assert_string_equal (out, "ab");   /* never half an escape */
    char lbl[64];
    char esc[32];
    metrics_escape_label ("say \"hi\"", esc, sizeof esc);
    snprintf (lbl, sizeof lbl, "q=\"%s\"", esc);
    metrics_t *r = metrics_new ();
    metric_inc (metrics_counter (r, "q_total", "h", lbl));
    buf_t *b = buf_new (4096);
    metrics_render (r, b);
    assert_string_equal (buf_data (b), "# HELP q_total h\n# TYPE q_total counter\n"
                                       "q_total{q=\"say \\\"hi\\\"\"} 1\n");
    buf_destroy (&b);
    metrics_destroy (&r);
}

static metric_t *s_c, *s_g, *s_h;

static void *
s_hammer (void *arg)
{
    (void) arg;
    for (int i = 0; i < 20000; i++) {
        metric_inc (s_c);
        metric_add (s_g, 0.5);
        metric_observe (s_h, (i % 4) * 0.25);
    }
    return NULL;
}

static void
test_threads (void **state)
{
    (void) state;
    metrics_t *r = metrics_global ();
    assert_ptr_equal (r, metrics_global ());
    s_c = metrics_counter (r, "t_total", "h", NULL);
    s_g = metrics_gauge (r, "t_gauge", "h", NULL);
    const double b[] = { 0.3 };
    s_h = metrics_histogram (r, "t_seconds", "h", NULL, b, 1);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create (&th[i], NULL, s_hammer, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join (th[i], NULL);
    assert_true (metric_value (s_c) == 80000.0);
    assert_true (metric_value (s_g) == 40000.0);
    assert_true (metric_value (s_h) == 80000.0);
    buf_t *out = buf_new (4096);
    assert_int_equal (metrics_render (r, out), 0);
    assert_non_null (strstr (buf_data (out), "t_seconds_bucket{le=\"0.3\"} 40000\n"));
    assert_non_null (strstr (buf_data (out), "t_seconds_bucket{le=\"+Inf\"} 80000\n"));
    assert_non_null (strstr (buf_data (out), "t_seconds_sum 30000\n"));
    assert_non_null (strstr (buf_data (out), "t_seconds_count 80000\n"));
    buf_destroy (&out);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_golden),
        cmocka_unit_test (test_rejects),
        cmocka_unit_test (test_escape_label),
        cmocka_unit_test (test_threads),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
