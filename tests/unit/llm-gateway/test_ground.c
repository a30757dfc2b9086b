/* test_ground.c — figure extraction and the groundedness check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lg_fmt.h"
#include "lg_ground.h"

typedef struct {
    double v[32];
    char shown[32][32];
    bool pct[32], usd[32];
    size_t n;
} found_t;

static int
s_collect (void *arg, const lg_number_t *num, const char *text)
{
    found_t *f = arg;
    if (f->n < 32) {
        f->v[f->n] = num->value;
        f->pct[f->n] = num->pct;
        f->usd[f->n] = num->usd;
        size_t l = num->len < 31 ? num->len : 31;
        memcpy (f->shown[f->n], text + num->off, l);
        f->shown[f->n][l] = '\0';
        f->n++;
    }
    return 0;
}

static found_t
s_scan (const char *t)
{
    found_t f;
    memset (&f, 0, sizeof f);
    lg_ground_scan (t, strlen (t), s_collect, &f);
    return f;
}

static void
test_extract_forms (void **state)
{
    (void) state;
    found_t f = s_scan ("Cost was $1,234.56 (12.3% of spend), about 1.2k runs, 3.4M rows, 2B bytes, -7.5% change.");
    assert_int_equal (f.n, 6);
    assert_true (fabs (f.v[0] - 1234.56) < 1e-9);
    assert_true (f.usd[0]);
    assert_string_equal (f.shown[0], "$1,234.56");
    assert_true (fabs (f.v[1] - 12.3) < 1e-9);
    assert_true (f.pct[1]);
    assert_true (fabs (f.v[2] - 1200) < 1e-9);
    assert_string_equal (f.shown[2], "1.2k");
    assert_true (fabs (f.v[3] - 3.4e6) < 1e-3);
    assert_true (fabs (f.v[4] - 2e9) < 1);
    assert_true (fabs (f.v[5] - 7.5) < 1e-9);
    assert_string_equal (f.shown[5], "-7.5%");

    f = s_scan ("12 percent and 5 million and 3 thousand");
    assert_int_equal (f.n, 3);
    assert_true (f.pct[0]);
    assert_true (fabs (f.v[1] - 5e6) < 1);
    assert_true (fabs (f.v[2] - 3000) < 1e-9);
}

static void
test_extract_skips (void **state)
{
    (void) state;
    const char *t = "Job J-1001 on gpt-4.1-mini (v2) at 2025-12-05 02:40:00 and 12:30, "
                    "run_12 p95 3a4f x86-64 version 1.2.3, the 2nd try, in 2024.\n"
                    "1. first\n  2) second\n### 3. Heading\n";
    found_t f = s_scan (t);
    if (f.n != 0)
        fail_msg ("unexpected figure '%s'", f.shown[0]);
    /* A list marker needs a line start; "costs 12." mid-line is a figure. */
    f = s_scan ("It costs 12. Then 4-5 runs, 10GB, 3x, SLA-4hr.");
    assert_int_equal (f.n, 5);
    assert_true (fabs (f.v[0] - 12) < 1e-9);
    assert_true (fabs (f.v[1] - 4) < 1e-9);
    assert_true (fabs (f.v[2] - 5) < 1e-9);
    assert_true (fabs (f.v[3] - 10) < 1e-9);
    assert_true (fabs (f.v[4] - 3) < 1e-9);
    /* Comma groups: "1,2345" is not one number; "1,234" at the very end is. */
    f = s_scan ("1,234");
    assert_int_equal (f.n, 1);
    assert_true (fabs (f.v[0] - 1234) < 1e-9);
    /* Unicode minus sign. */
    f = s_scan ("fell \xE2\x88\x92" "12%");
    assert_int_equal (f.n, 1);
    assert_string_equal (f.shown[0], "\xE2\x88\x92" "12%");
}

static lg_grounding_t
s_check (const char *facts_json, const char *context, const char *answer)
{
    lg_ground_t *g = lg_ground_new ();
    assert_non_null (g);
    assert_int_equal (lg_ground_add_json (g, facts_json), 0);
    assert_int_equal (lg_ground_add_text (g, context), 0);
    lg_grounding_t r;
    assert_int_equal (lg_ground_check (g, answer, &r), 0);
    lg_ground_destroy (&g);
    return r;
}

static void
test_grounding_flags_made_up (void **state)
{
    (void) state;
    const char *facts = "{\"facts\":[{\"name\":\"cost_total_usd\",\"value\":105230.28,\"unit\":\"usd\"},"
                        "{\"name\":\"failure_rate_pct\",\"value\":37.5,\"unit\":\"pct\"},"
                        "{\"name\":\"spot_ratio\",\"value\":0.575},"
                        "{\"name\":\"runs\",\"value\":72,\"text\":\"72 runs\"}]}";
    /* Rounded forms of true figures are grounded. */
    lg_grounding_t r = s_check (facts, NULL,
                                "It cost $105,230.28 (about $105.2k, or 105k), failed 37.5% (38%) of 72 runs; "
                                "spot share 57.5% (0.58). Nearly two thirds succeeded.");
    if (!r.grounded)
        fail_msg ("unexpected ungrounded figure %s", r.ungrounded[0]);
    assert_int_equal (r.checked, 8);
    lg_grounding_clear (&r);
    /* Made-up figures are listed once each, as shown, in order. */
    r = s_check (facts, NULL, "It cost $9,999.00 and failed 42% of 72 runs; again $9,999.00, and 37.6% later.");
    assert_false (r.grounded);
    assert_int_equal (r.n_ungrounded, 3);
    assert_string_equal (r.ungrounded[0], "$9,999.00");
    assert_string_equal (r.ungrounded[1], "42%");
    assert_string_equal (r.ungrounded[2], "37.6%");
    lg_grounding_clear (&r);
    /* More precision than the facts is not grounded. */
    r = s_check (facts, NULL, "Cost $105,230.29.");
    assert_int_equal (r.n_ungrounded, 1);
    lg_grounding_clear (&r);
    /* Context text counts, with its own shown precision. */
    r = s_check ("{}", "job J-7 cost $1.2k last week", "It cost $1,234 last week.");
    assert_true (r.grounded);
    lg_grounding_clear (&r);
    /* Small bare integers are prose; larger ones are checked. */
    r = s_check ("{}", NULL, "Two options: 1 or 2. Also 7 retries.");
    assert_int_equal (r.checked, 1);
    assert_int_equal (r.n_ungrounded, 1);
    assert_string_equal (r.ungrounded[0], "7");
    lg_grounding_clear (&r);
}

static void
test_grounding_non_json_facts (void **state)
{
    (void) state;
    lg_grounding_t r = s_check ("cost was 12.5 and 40%", NULL, "12.5 and 40% and 0.4");
    assert_true (r.grounded);
    lg_grounding_clear (&r);
}

static void
test_fmt (void **state)
{
    (void) state;
    struct {
        double v;
        const char *unit, *want;
    } cases[] = {
        { 1234.5, "usd", "$1,234.50" },    { -12, "usd", "-$12.00" },      { 0.001, "usd", "$0.00" },
        { 1234567.891, "usd", "$1,234,567.89" }, { 12.345, "pct", "12.3%" }, { 0.71, "ratio", "0.71" },
        { 1234, "count", "1,234" },        { 12.5, "count", "12.5" },      { 26.55, "minutes", "26.6 min" },
        { 7801.25, "dbu", "7,801.2 DBU" /* exact tie: round half to even */ }, { 12.5, NULL, "12.5" },         { 3, "other", "3" },
        { 0.125, NULL, "0.12" },           { 48.2, "gb", "48.2 GB" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_t *b = buf_new (100);
        assert_int_equal (lg_fmt_number (b, cases[i].v, cases[i].unit), 0);
        if (strcmp (buf_data (b), cases[i].want) != 0)
            fail_msg ("%g %s -> '%s', want '%s'", cases[i].v, cases[i].unit ? cases[i].unit : "-", buf_data (b),
                      cases[i].want);
        buf_destroy (&b);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_extract_forms),
        cmocka_unit_test (test_extract_skips),
        cmocka_unit_test (test_grounding_flags_made_up),
        cmocka_unit_test (test_grounding_non_json_facts),
        cmocka_unit_test (test_fmt),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
