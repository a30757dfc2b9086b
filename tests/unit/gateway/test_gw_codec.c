/* test_gw_codec.c — percent-decoding and query strings, the SSE event
 * encoder, and the Prometheus merge of several expositions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gw_http.h"
#include "gw_prom.h"
#include "gw_sse.h"

static void
t_url_decode (void **state)
{
    (void) state;
    char out[32];
    assert_int_equal (gw_url_decode ("a%20b+c", 7, out, sizeof out, true), 5);
    assert_string_equal (out, "a b c");
    assert_int_equal (gw_url_decode ("a%20b+c", 7, out, sizeof out, false), 5);
    assert_string_equal (out, "a b+c");
    assert_int_equal (gw_url_decode ("%2e%2E", 6, out, sizeof out, false), 2);
    assert_string_equal (out, "..");
    assert_int_equal (gw_url_decode ("%", 1, out, sizeof out, false), -1);
    assert_int_equal (gw_url_decode ("%2", 2, out, sizeof out, false), -1);
    assert_int_equal (gw_url_decode ("%g0", 3, out, sizeof out, false), -1);
    assert_int_equal (gw_url_decode ("a%00", 4, out, sizeof out, false), -1);
    assert_int_equal (gw_url_decode ("abcdef", 6, out, 4, false), -1);
    assert_int_equal (gw_url_decode ("", 0, out, sizeof out, false), 0);
    assert_string_equal (out, "");
}

static void
t_query (void **state)
{
    (void) state;
    const char *q = "a=1&&b=x%20y&flag&c=&a=2";
    size_t pos = 0;
    char k[16], v[16];
    assert_int_equal (gw_query_next (q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal (k, "a");
    assert_string_equal (v, "1");
    assert_int_equal (gw_query_next (q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal (k, "b");
    assert_string_equal (v, "x y");
    assert_int_equal (gw_query_next (q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal (k, "flag");
    assert_string_equal (v, "");
    assert_int_equal (gw_query_next (q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal (k, "c");
    assert_int_equal (gw_query_next (q, &pos, k, sizeof k, v, sizeof v), 1);
    assert_string_equal (v, "2");
    assert_int_equal (gw_query_next (q, &pos, k, sizeof k, v, sizeof v), 0);
    char out[16];
    assert_int_equal (gw_query_get (q, "a", out, sizeof out), 1);
    assert_string_equal (out, "1");
    assert_int_equal (gw_query_get (q, "zz", out, sizeof out), 0);
    assert_int_equal (gw_query_get ("a=%zz", "a", out, sizeof out), -1);
    assert_int_equal (gw_query_get ("a=0123456789abcdefghij", "a", out, sizeof out), -1);
    assert_int_equal (gw_query_get ("", "a", out, sizeof out), 0);
}

static void
t_sse_format (void **state)
{
    (void) state;
    buf_t *b = buf_new (1024);
    assert_int_equal (gw_sse_format (b, "alert@x:3", "alert", "{\"a\":1}"), 0);
    assert_string_equal (buf_data (b), "id: alert@x:3\nevent: alert\ndata: {\"a\":1}\n\n");
    buf_reset (b);
    assert_int_equal (gw_sse_format (b, "", "", "{}"), 0);
    assert_string_equal (buf_data (b), "data: {}\n\n");
    buf_reset (b);
    /* Anything that could inject a field or end the event early is refused. */
    assert_int_equal (gw_sse_format (b, "1\nevent: x", "alert", "{}"), -1);
    assert_int_equal (gw_sse_format (b, "1", "a\r", "{}"), -1);
    assert_int_equal (gw_sse_format (b, "1", "alert", "{}\n\ndata: x"), -1);
    assert_int_equal (buf_len (b), 0);
    buf_destroy (&b);
}

static void
t_prom_merge (void **state)
{
    (void) state;
    gw_prom_t *p = gw_prom_new ();
    assert_int_equal (gw_prom_add (p, "gateway",
                                   "# HELP copilot_requests_total Requests.\n"
                                   "# TYPE copilot_requests_total counter\n"
                                   "copilot_requests_total{service=\"gateway\"} 3\n"
                                   "# HELP lat Latency.\n# TYPE lat histogram\n"
                                   "lat_bucket{le=\"1\"} 1\nlat_bucket{le=\"+Inf\"} 2\nlat_sum 3.5\nlat_count 2\n"),
                      0);
    assert_int_equal (gw_prom_add (p, "report-service",
                                   "# HELP copilot_requests_total Other help.\n"
                                   "# TYPE copilot_requests_total counter\n"
                                   "copilot_requests_total{service=\"report-service\"} 7\n"
                                   "up 1\n"
                                   "garbage line {\n"),
                      0);
    buf_t *b = buf_new (1 << 16);
    assert_int_equal (gw_prom_render (p, b), 0);
    assert_string_equal (buf_data (b),
                         "# HELP copilot_requests_total Requests.\n"
                         "# TYPE copilot_requests_total counter\n"
                         "copilot_requests_total{source=\"gateway\",service=\"gateway\"} 3\n"
                         "copilot_requests_total{source=\"report-service\",service=\"report-service\"} 7\n"
                         "# HELP lat Latency.\n# TYPE lat histogram\n"
                         "lat_bucket{source=\"gateway\",le=\"1\"} 1\n"
                         "lat_bucket{source=\"gateway\",le=\"+Inf\"} 2\n"
                         "lat_sum{source=\"gateway\"} 3.5\n"
                         "lat_count{source=\"gateway\"} 2\n"
                         "up{source=\"report-service\"} 1\n");
    buf_destroy (&b);
    gw_prom_destroy (&p);
    assert_null (p);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (t_url_decode),
        cmocka_unit_test (t_query),
        cmocka_unit_test (t_sse_format),
        cmocka_unit_test (t_prom_merge),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
