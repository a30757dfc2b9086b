/* test_buf.c — unit tests for the capped buffer and the JSON string escaper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "buf.h"

static void
test_cap_boundaries (void **state)
{
    (void) state;
    buf_t *b = buf_new (8);
    assert_non_null (b);
    assert_int_equal (buf_cap (b), 8);
    assert_string_equal (buf_data (b), "");
    assert_int_equal (buf_len (b), 0);
    /* cap-1 fits */
    assert_int_equal (buf_append (b, "1234567", 7), BUF_OK);
    assert_int_equal (buf_len (b), 7);
    /* +2 would be cap+1: refused, unchanged */
    assert_int_equal (buf_append (b, "ab", 2), BUF_E_TOOBIG);
    assert_string_equal (buf_data (b), "1234567");
    assert_int_equal (buf_len (b), 7);
    /* exactly cap fits */
    assert_int_equal (buf_append (b, "8", 1), BUF_OK);
    assert_string_equal (buf_data (b), "12345678");
    assert_int_equal (buf_len (b), 8);
    /* anything more fails, even one byte; empty append is fine */
    assert_int_equal (buf_append (b, "9", 1), BUF_E_TOOBIG);
    assert_int_equal (buf_append (b, "", 0), BUF_OK);
    assert_string_equal (buf_data (b), "12345678");
    buf_destroy (&b);
    assert_null (b);
    buf_destroy (&b);   /* harmless */
    buf_destroy (NULL);
}

static void
test_single_append_boundaries (void **state)
{
    (void) state;
    for (size_t n = 15; n <= 17; n++) {
        buf_t *b = buf_new (16);
        char src[17];
        memset (src, 'x', sizeof src);
        int rc = buf_append (b, src, n);
        if (n <= 16) {
            assert_int_equal (rc, BUF_OK);
            assert_int_equal (buf_len (b), n);
            assert_int_equal (strlen (buf_data (b)), n);
        } else {
            assert_int_equal (rc, BUF_E_TOOBIG);
            assert_int_equal (buf_len (b), 0);
            assert_string_equal (buf_data (b), "");
        }
        buf_destroy (&b);
    }
}

static void
test_printf (void **state)
{
    (void) state;
    buf_t *b = buf_new (10);
    assert_int_equal (buf_printf (b, "%d-%s", 42, "ab"), BUF_OK);   /* 5 */
    assert_string_equal (buf_data (b), "42-ab");
    /* 5 more = exactly cap */
    assert_int_equal (buf_printf (b, "%05d", 7), BUF_OK);
    assert_string_equal (buf_data (b), "42-ab00007");
    assert_int_equal (buf_printf (b, "%c", 'z'), BUF_E_TOOBIG);
    assert_string_equal (buf_data (b), "42-ab00007");
    buf_reset (b);
    assert_int_equal (buf_len (b), 0);
    /* cap+1 in one printf fails and leaves the buffer unchanged */
    assert_int_equal (buf_printf (b, "%s", "abc"), BUF_OK);
    assert_int_equal (buf_printf (b, "%s", "12345678"), BUF_E_TOOBIG);
    assert_string_equal (buf_data (b), "abc");
    assert_int_equal (buf_printf (b, "%s", "1234567"), BUF_OK);
    assert_string_equal (buf_data (b), "abc1234567");
    buf_destroy (&b);

    /* Growth across many appends, larger than the first block. */
    b = buf_new (100000);
    for (int i = 0; i < 10000; i++)
        assert_int_equal (buf_printf (b, "%d,", i % 10), BUF_OK);
    assert_int_equal (buf_len (b), 20000);
    assert_memory_equal (buf_data (b) + 19996, "8,9,", 5);
    buf_destroy (&b);
}

static void
test_truncate_detach (void **state)
{
    (void) state;
    buf_t *b = buf_new (32);
    buf_puts (b, "hello world");
    buf_truncate (b, 5);
    assert_string_equal (buf_data (b), "hello");
    buf_truncate (b, 50);   /* no-op */
    assert_string_equal (buf_data (b), "hello");
    char *s = buf_detach (b);
    assert_string_equal (s, "hello");
    free (s);
    assert_int_equal (buf_len (b), 0);
    assert_string_equal (buf_data (b), "");
    s = buf_detach (b);   /* empty buffer detaches "" */
    assert_string_equal (s, "");
    free (s);
    assert_int_equal (buf_puts (b, "again"), BUF_OK);
    assert_string_equal (buf_data (b), "again");
    buf_destroy (&b);
    assert_string_equal (buf_strerror (BUF_E_TOOBIG), "buffer cap exceeded");
}

static void
test_json_escape (void **state)
{
    (void) state;
    buf_t *b = buf_new (1024);
    assert_int_equal (buf_json_str (b, "a\"b\\c\n\t\r\b\f\x01\x1f\x7f/"), BUF_OK);
    assert_string_equal (buf_data (b), "\"a\\\"b\\\\c\\n\\t\\r\\b\\f\\u0001\\u001f\\u007f/\"");
    buf_reset (b);
    /* valid UTF-8 passes through, invalid bytes become \ufffd */
    assert_int_equal (buf_json_str (b, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), BUF_OK);
    assert_string_equal (buf_data (b), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    buf_reset (b);
    assert_int_equal (buf_json_str (b, "x\xff" "y\xc3" "z\xc0\xaf\xed\xa0\x80"), BUF_OK);
    assert_string_equal (buf_data (b),
                         "\"x\\ufffdy\\ufffdz\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    buf_reset (b);
    assert_int_equal (buf_json_strn (b, "a\0b", 3), BUF_OK);
    assert_string_equal (buf_data (b), "\"a\\u0000b\"");
    buf_reset (b);
    assert_int_equal (buf_json_str (b, NULL), BUF_OK);
    assert_string_equal (buf_data (b), "null");
    buf_destroy (&b);

    /* all-or-nothing at the cap: "ab\n" escapes to 6 bytes with quotes */
    for (size_t cap = 5; cap <= 7; cap++) {
        b = buf_new (cap);
        int rc = buf_json_str (b, "ab\n");
        if (cap >= 6) {
            assert_int_equal (rc, BUF_OK);
            assert_string_equal (buf_data (b), "\"ab\\n\"");
        } else {
            assert_int_equal (rc, BUF_E_TOOBIG);
            assert_string_equal (buf_data (b), "");
        }
        buf_destroy (&b);
    }
}

static void
test_json_limit (void **state)
{
    (void) state;
    buf_t *b = buf_new (1024);
    bool cut = true;
    /* fits exactly: 5 chars + 2 quotes = 7 */
    assert_int_equal (buf_json_str_limit (b, "hello", 7, "...", &cut), BUF_OK);
    assert_false (cut);
    assert_string_equal (buf_data (b), "\"hello\"");
    buf_reset (b);
    /* one byte short: prefix + marker within 6 bytes */
    assert_int_equal (buf_json_str_limit (b, "hello", 6, "~", &cut), BUF_OK);
    assert_true (cut);
    assert_string_equal (buf_data (b), "\"hel~\"");
    buf_reset (b);
    /* never splits an escape or a multi-byte character */
    assert_int_equal (buf_json_str_limit (b, "a\n\xc3\xa9zzzz", 6, NULL, &cut), BUF_OK);
    assert_true (cut);
    assert_string_equal (buf_data (b), "\"a\\n\"");
    buf_reset (b);
    assert_int_equal (buf_json_str_limit (b, "\xc3\xa9\xc3\xa9", 5, NULL, &cut), BUF_OK);
    assert_string_equal (buf_data (b), "\"\xc3\xa9\"");
    buf_reset (b);
    /* marker alone too big */
    assert_int_equal (buf_json_str_limit (b, "hello", 4, "[truncated]", &cut), BUF_E_TOOBIG);
    assert_string_equal (buf_data (b), "");
    buf_destroy (&b);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_cap_boundaries),
        cmocka_unit_test (test_single_append_boundaries),
        cmocka_unit_test (test_printf),
        cmocka_unit_test (test_truncate_detach),
        cmocka_unit_test (test_json_escape),
        cmocka_unit_test (test_json_limit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
