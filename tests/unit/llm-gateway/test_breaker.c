/* test_breaker.c — circuit breaker transitions with an injected clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lg_breaker.h"

static void
test_opens_after_threshold (void **state)
{
    (void) state;
    lg_breaker_t *b = lg_breaker_new (3, 1000);
    assert_non_null (b);
    int64_t t = 10000;
    for (int i = 0; i < 2; i++) {
        assert_true (lg_breaker_allow (b, t));
        assert_false (lg_breaker_record (b, false, t));
    }
    assert_int_equal (lg_breaker_state (b), LG_BREAKER_CLOSED);
    /* A success resets the count. */
    assert_true (lg_breaker_allow (b, t));
    lg_breaker_record (b, true, t);
    assert_int_equal (lg_breaker_failures (b), 0);
    for (int i = 0; i < 2; i++) {
        assert_true (lg_breaker_allow (b, t));
        assert_false (lg_breaker_record (b, false, t));
    }
    assert_true (lg_breaker_allow (b, t));
    assert_true (lg_breaker_record (b, false, t)); /* third consecutive failure trips */
    assert_int_equal (lg_breaker_state (b), LG_BREAKER_OPEN);
    assert_false (lg_breaker_allow (b, t + 999));
    lg_breaker_destroy (&b);
    assert_null (b);
}

static void
test_half_open_probe (void **state)
{
    (void) state;
    lg_breaker_t *b = lg_breaker_new (1, 500);
    assert_true (lg_breaker_allow (b, 0));
    assert_true (lg_breaker_record (b, false, 0));
    assert_false (lg_breaker_allow (b, 499));
    /* After the cool-down exactly one probe passes. */
    assert_true (lg_breaker_allow (b, 500));
    assert_int_equal (lg_breaker_state (b), LG_BREAKER_HALF_OPEN);
    assert_false (lg_breaker_allow (b, 501));
    /* The probe fails: open again with a new cool-down. */
    assert_true (lg_breaker_record (b, false, 600));
    assert_false (lg_breaker_allow (b, 1099));
    assert_true (lg_breaker_allow (b, 1100));
    /* An abandoned probe frees the slot. */
    lg_breaker_release (b);
    assert_true (lg_breaker_allow (b, 1101));
    /* The probe succeeds: closed. */
    assert_false (lg_breaker_record (b, true, 1200));
    assert_int_equal (lg_breaker_state (b), LG_BREAKER_CLOSED);
    assert_true (lg_breaker_allow (b, 1200));
    assert_true (lg_breaker_allow (b, 1200));
    assert_string_equal (lg_breaker_state_name (LG_BREAKER_HALF_OPEN), "half_open");
    lg_breaker_destroy (&b);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_opens_after_threshold),
        cmocka_unit_test (test_half_open_probe),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
