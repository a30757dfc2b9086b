/* test_clock.c — unit tests for time helpers and strict date parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "clock.h"

static void
test_parse_format (void **state)
{
    (void) state;
    int64_t d = -1;
    char out[11];
    assert_int_equal (clock_parse_date ("1970-01-01", &d), 0);
    assert_int_equal (d, 0);
    assert_int_equal (clock_parse_date ("2000-03-01", &d), 0);
    assert_int_equal (d, 11017);
    assert_int_equal (clock_parse_date ("2024-02-29", &d), 0);
    assert_int_equal (d, 19782);
    assert_int_equal (clock_format_date (d, out, sizeof out), 0);
    assert_string_equal (out, "2024-02-29");
    assert_int_equal (clock_format_date (d + 1, out, sizeof out), 0);
    assert_string_equal (out, "2024-03-01");
    assert_int_equal (clock_parse_date ("2000-02-29", &d), 0);   /* 400-year rule */
    assert_int_equal (clock_parse_date ("1969-12-31", &d), 0);
    assert_int_equal (d, -1);
    assert_int_equal (clock_format_date (-1, out, sizeof out), 0);
    assert_string_equal (out, "1969-12-31");

    d = 42;
    assert_int_equal (clock_parse_date ("2025-02-29", &d), -1);
    assert_int_equal (clock_parse_date ("1900-02-29", &d), -1);   /* century rule */
    assert_int_equal (clock_parse_date ("2025-1-01", &d), -1);
    assert_int_equal (clock_parse_date ("2025-01-1", &d), -1);
    assert_int_equal (clock_parse_date ("2025-13-01", &d), -1);
    assert_int_equal (clock_parse_date ("2025-00-10", &d), -1);
    assert_int_equal (clock_parse_date ("2025-04-31", &d), -1);
    assert_int_equal (clock_parse_date ("2025-01-01 ", &d), -1);
    assert_int_equal (clock_parse_date ("2025/01/01", &d), -1);
    assert_int_equal (clock_parse_date ("20a5-01-01", &d), -1);
    assert_int_equal (clock_parse_date ("", &d), -1);
    assert_int_equal (d, 42);

    /* Round trip every day of 1999..2032. */
    int64_t a, b;
    assert_int_equal (clock_parse_date ("1999-01-01", &a), 0);
    assert_int_equal (clock_parse_date ("2032-12-31", &b), 0);
    for (int64_t x = a; x <= b; x++) {
        int64_t back;
        assert_int_equal (clock_format_date (x, out, sizeof out), 0);
        assert_int_equal (clock_parse_date (out, &back), 0);
        assert_int_equal (back, x);
    }
    assert_int_equal (clock_format_date (0, out, 10), -1);   /* too small */
}

static void
test_rfc3339 (void **state)
{
    (void) state;
    char out[32];
    assert_int_equal (clock_rfc3339 (0, out, sizeof out), 0);
    assert_string_equal (out, "1970-01-01T00:00:00.000Z");
    assert_int_equal (clock_rfc3339 (1709164800123LL, out, sizeof out), 0);
    assert_string_equal (out, "2024-02-29T00:00:00.123Z");
    assert_int_equal (clock_rfc3339 (1795497560999LL, out, sizeof out), 0);
    assert_string_equal (out, "2026-11-24T05:19:20.999Z");
    assert_int_equal (clock_rfc3339 (-1, out, sizeof out), 0);
    assert_string_equal (out, "1969-12-31T23:59:59.999Z");
    assert_int_equal (clock_rfc3339 (0, out, 24), -1);   /* needs 25 */
    assert_int_equal (clock_rfc3339 (0, out, 25), 0);
}

static void
test_clocks (void **state)
{
    (void) state;
    int64_t w = clock_wall_ms ();
    assert_true (w > 1600000000000LL);
    int64_t t0 = clock_mono_ns ();
    int64_t m0 = clock_mono_ms ();
    clock_sleep_ms (20);
    int64_t t1 = clock_mono_ns ();
    assert_true (t1 - t0 >= 20 * 1000000LL);
    assert_true (t1 - t0 < 2000 * 1000000LL);
    assert_true (clock_mono_ms () - m0 >= 19);
    clock_sleep_ms (0);
    clock_sleep_ms (-5);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_parse_format),
        cmocka_unit_test (test_rfc3339),
        cmocka_unit_test (test_clocks),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
