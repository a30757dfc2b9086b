/* test_str.c — unit tests for the safe string helpers and SHA-256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "str.h"

static void
test_copy_append_fmt (void **state)
{
    (void) state;
    char d[6];
    assert_int_equal (str_copy (d, sizeof d, "abcde"), 0);   /* size-1: fits */
    assert_string_equal (d, "abcde");
    assert_int_equal (str_copy (d, sizeof d, "abcdef"), -1); /* size: truncated */
    assert_string_equal (d, "abcde");
    assert_int_equal (str_copy (d, sizeof d, ""), 0);
    assert_string_equal (d, "");
    assert_int_equal (str_append (d, sizeof d, "ab"), 0);
    assert_int_equal (str_append (d, sizeof d, "cde"), 0);
    assert_string_equal (d, "abcde");
    assert_int_equal (str_append (d, sizeof d, "f"), -1);
    assert_string_equal (d, "abcde");
    assert_int_equal (str_fmt (d, sizeof d, "%d", 12345), 0);
    assert_string_equal (d, "12345");
    assert_int_equal (str_fmt (d, sizeof d, "%d", 123456), -1);
    assert_string_equal (d, "12345");
}

static void
test_numbers (void **state)
{
    (void) state;
    int64_t v = 99;
    assert_int_equal (str_to_i64 ("0", &v), 0);
    assert_int_equal (v, 0);
    assert_int_equal (str_to_i64 ("-9223372036854775808", &v), 0);
    assert_true (v == INT64_MIN);
    assert_int_equal (str_to_i64 ("9223372036854775807", &v), 0);
    assert_true (v == INT64_MAX);
    v = 5;
    assert_int_equal (str_to_i64 ("9223372036854775808", &v), -1);
    assert_int_equal (str_to_i64 ("", &v), -1);
    assert_int_equal (str_to_i64 (" 1", &v), -1);
    assert_int_equal (str_to_i64 ("1 ", &v), -1);
    assert_int_equal (str_to_i64 ("12abc", &v), -1);
    assert_int_equal (str_to_i64 ("0x10", &v), -1);
    assert_int_equal (str_to_i64 ("+", &v), -1);
    assert_int_equal (str_to_i64 (NULL, &v), -1);
    assert_int_equal (v, 5);   /* untouched on failure */
    assert_int_equal (str_to_i64 ("+17", &v), 0);
    assert_int_equal (v, 17);

    int i = 0;
    assert_int_equal (str_to_int ("65535", 1, 65535, &i), 0);
    assert_int_equal (i, 65535);
    assert_int_equal (str_to_int ("65536", 1, 65535, &i), -1);
    assert_int_equal (str_to_int ("0", 1, 65535, &i), -1);
    assert_int_equal (i, 65535);

    double d = 0;
    assert_int_equal (str_to_double ("2.5", &d), 0);
    assert_true (d == 2.5);
    assert_int_equal (str_to_double ("-.5e1", &d), 0);
    assert_true (d == -5.0);
    assert_int_equal (str_to_double ("1e999", &d), -1);
    assert_int_equal (str_to_double ("inf", &d), -1);
    assert_int_equal (str_to_double ("nan", &d), -1);
    assert_int_equal (str_to_double ("0x1p3", &d), -1);
    assert_int_equal (str_to_double (" 1", &d), -1);
    assert_int_equal (str_to_double ("1.5x", &d), -1);
    assert_int_equal (str_to_double ("", &d), -1);
    assert_int_equal (str_to_double (".", &d), -1);
    assert_true (d == -5.0);
}

static void
test_misc (void **state)
{
    (void) state;
    char *s = str_dup ("abc");
    assert_string_equal (s, "abc");
    free (s);
    assert_null (str_dup (NULL));
    s = str_ndup ("abcdef", 3);
    assert_string_equal (s, "abc");
    free (s);
    s = str_ndup ("ab", 10);
    assert_string_equal (s, "ab");
    free (s);
    assert_true (str_starts_with ("report.run", "report."));
    assert_false (str_starts_with ("rep", "report"));
    assert_true (str_ends_with ("x_total", "_total"));
    assert_false (str_ends_with ("total", "_total"));
    assert_true (str_ends_with ("abc", ""));
    assert_true (str_ieq ("Hello", "hELLO"));
    assert_false (str_ieq ("Hello", "Hell"));
    const char *h = "The Quick Brown";
    assert_ptr_equal (str_icontains (h, "quick"), h + 4);
    assert_null (str_icontains (h, "slow"));
    assert_ptr_equal (str_icontains (h, ""), h);
    char t[] = " \t x y \n";
    assert_string_equal (str_trim (t), "x y");
    char t2[] = "   ";
    assert_string_equal (str_trim (t2), "");
}

static void
test_utf8 (void **state)
{
    (void) state;
    assert_true (str_utf8_valid ("plain", 5));
    assert_true (str_utf8_valid ("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    assert_false (str_utf8_valid ("\xc0\xaf", 2));           /* overlong '/' */
    assert_false (str_utf8_valid ("\xe0\x80\xaf", 3));       /* overlong */
    assert_false (str_utf8_valid ("\xed\xa0\x80", 3));       /* surrogate */
    assert_false (str_utf8_valid ("\xf4\x90\x80\x80", 4));   /* > U+10FFFF */
    assert_false (str_utf8_valid ("\xc3", 1));               /* truncated */
    assert_false (str_utf8_valid ("\x80", 1));
    uint32_t cp = 0;
    assert_int_equal (str_utf8_decode ("\xe2\x82\xac", 3, &cp), 3);
    assert_int_equal (cp, 0x20AC);
    assert_int_equal (str_utf8_decode ("\xf4\x8f\xbf\xbf", 4, &cp), 4);
    assert_int_equal (cp, 0x10FFFF);
}

static void
test_sha256 (void **state)
{
    (void) state;
    char out[65];
    str_sha256_hex ("", 0, out);
    assert_string_equal (out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    str_sha256_hex ("abc", 3, out);
    assert_string_equal (out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";   /* 56 bytes */
    str_sha256_hex (m, strlen (m), out);
    assert_string_equal (out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* one million 'a' (FIPS 180-2 appendix B.3) */
    char *a = malloc (1000000);
    memset (a, 'a', 1000000);
    str_sha256_hex (a, 1000000, out);
    free (a);
    assert_string_equal (out, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_copy_append_fmt),
        cmocka_unit_test (test_numbers),
        cmocka_unit_test (test_misc),
        cmocka_unit_test (test_utf8),
        cmocka_unit_test (test_sha256),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
