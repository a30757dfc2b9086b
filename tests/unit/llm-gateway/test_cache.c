/* test_cache.c — cache key, cache and ledger in SQLite, price table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lg_cache.h"
#include "lg_error.h"
#include "lg_price.h"

static char s_dir[64];

static int
s_setup (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/lg-cache-XXXXXX");
    return mkdtemp (s_dir) ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void) state;
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system (cmd) == 0 ? 0 : -1;
}

static void
test_key (void **state)
{
    (void) state;
    char a[65], b[65];
    lg_cache_key ("openai", "https://x/v1", "m", 0.2, 100, "sys", "prompt", a);
    lg_cache_key ("openai", "https://x/v1", "m", 0.2, 100, "sys", "prompt", b);
    assert_string_equal (a, b);
    assert_int_equal (strlen (a), 64);
    /* Every input matters. */
    const char *variants[][7] = {
        { "grok", "https://x/v1", "m", "0.2", "100", "sys", "prompt" },
        { "openai", "https://y/v1", "m", "0.2", "100", "sys", "prompt" },
        { "openai", "https://x/v1", "m2", "0.2", "100", "sys", "prompt" },
        { "openai", "https://x/v1", "m", "0.3", "100", "sys", "prompt" },
        { "openai", "https://x/v1", "m", "0.2", "101", "sys", "prompt" },
        { "openai", "https://x/v1", "m", "0.2", "100", "sys ", "prompt" },
        { "openai", "https://x/v1", "m", "0.2", "100", "sys", "prompt." },
    };
    for (size_t i = 0; i < 7; i++) {
        lg_cache_key (variants[i][0], variants[i][1], variants[i][2], strtod (variants[i][3], NULL),
                      (uint32_t) strtoul (variants[i][4], NULL, 10), variants[i][5], variants[i][6], b);
        assert_string_not_equal (a, b);
    }
    /* Field boundaries are unambiguous: ("ab","c") != ("a","bc"). */
    lg_cache_key ("p", "u", "m", 0.2, 1, "ab", "c", a);
    lg_cache_key ("p", "u", "m", 0.2, 1, "a", "bc", b);
    assert_string_not_equal (a, b);
}

static void
test_cache_roundtrip (void **state)
{
    (void) state;
    char path[128], err[256];
    snprintf (path, sizeof path, "%s/sub/dir/llm.db", s_dir);
    lg_cache_t *c = lg_cache_open (path, err, sizeof err);
    if (c == NULL)
        fail_msg ("%s", err);
    lg_cache_entry_t e = { 0 }, got;
    assert_int_equal (lg_cache_get (c, "k1", 0, 1000, &got), 0);
    e.text = "answer one";
    e.model = "gpt-x";
    e.tokens_in = 12;
    e.tokens_out = 34;
    e.cost_usd = 0.5;
    e.created_ms = 1000;
    assert_int_equal (lg_cache_put (c, "k1", "openai", &e), 0);
    assert_int_equal (lg_cache_get (c, "k1", 0, 2000, &got), 1);
    assert_string_equal (got.text, "answer one");
    assert_string_equal (got.model, "gpt-x");
    assert_int_equal (got.tokens_in, 12);
    assert_int_equal (got.tokens_out, 34);
    assert_int_equal (got.hits, 0);
    lg_cache_entry_clear (&got);
    assert_int_equal (lg_cache_get (c, "k1", 0, 3000, &got), 1);
    assert_int_equal (got.hits, 1);
    lg_cache_entry_clear (&got);
    /* TTL: older than 5 s is a miss. */
    assert_int_equal (lg_cache_get (c, "k1", 5, 1000 + 5000, &got), 1);
    lg_cache_entry_clear (&got);
    assert_int_equal (lg_cache_get (c, "k1", 5, 1000 + 5001, &got), 0);
    assert_int_equal (lg_cache_entries (c), 1);

    lg_account_t a = { 0 };
    a.ts_ms = 1;
    a.provider = "openai";
    a.model = "gpt-x";
    a.outcome = "ok";
    a.tokens_in = 10;
    a.tokens_out = 20;
    a.cost_usd = 0.25;
    assert_int_equal (lg_cache_account (c, &a), 0);
    a.outcome = "fallback";
    a.tokens_in = 0;
    a.tokens_out = 0;
    a.cost_usd = 0;
    assert_int_equal (lg_cache_account (c, &a), 0);
    int64_t n, tin, tout;
    double cost;
    assert_int_equal (lg_cache_totals (c, NULL, &n, &tin, &tout, &cost), 0);
    assert_int_equal (n, 2);
    assert_int_equal (tin, 10);
    assert_int_equal (tout, 20);
    assert_true (fabs (cost - 0.25) < 1e-12);
    assert_int_equal (lg_cache_totals (c, "fallback", &n, NULL, NULL, NULL), 0);
    assert_int_equal (n, 1);
    lg_cache_close (&c);
    /* Persisted across reopen. */
    c = lg_cache_open (path, err, sizeof err);
    assert_non_null (c);
    assert_int_equal (lg_cache_get (c, "k1", 0, 4000, &got), 1);
    assert_int_equal (got.hits, 3); /* hits at 2000, 3000 and 6000 */
    lg_cache_entry_clear (&got);
    lg_cache_close (&c);
    assert_null (c);
}

static void
test_prices (void **state)
{
    (void) state;
    char err[200];
    lg_prices_t *p = lg_prices_builtin (err, sizeof err);
    if (p == NULL)
        fail_msg ("%s", err);
    assert_true (lg_prices_count (p) > 10);
    double in, out;
    assert_true (lg_prices_lookup (p, "openai", "gpt-4.1-mini-2025-04-14", &in, &out));
    assert_true (fabs (in - 0.40) < 1e-12 && fabs (out - 1.60) < 1e-12);
    assert_true (lg_prices_lookup (p, "openai", "gpt-4.1", &in, &out));
    assert_true (fabs (in - 2.00) < 1e-12);
    assert_true (lg_prices_lookup (p, "ollama", "llama3.2", &in, &out));
    assert_true (in == 0 && out == 0);
    bool priced = true;
    assert_true (lg_prices_cost (p, "openai", "mystery-model", 1000, 1000, &priced) == 0);
    assert_false (priced);
    /* 1M in + 0.5M out of gpt-4o-mini = 0.15 + 0.30. */
    double cost = lg_prices_cost (p, "openai", "gpt-4o-mini", 1000000, 500000, &priced);
    assert_true (priced);
    assert_true (fabs (cost - 0.45) < 1e-9);
    lg_prices_destroy (&p);

    p = lg_prices_parse ("# c\n\nx * 1 2\nx big 3\n", err, sizeof err);
    assert_null (p);
    assert_string_equal (err, "line 4: expected 4 fields (provider model-prefix input output), got 3");
    p = lg_prices_parse ("x m -1 2\n", err, sizeof err);
    assert_null (p);
    assert_string_equal (err, "line 1: prices must be non-negative numbers");
    p = lg_prices_load_file ("/nonexistent/prices.tsv", err, sizeof err);
    assert_null (p);
    assert_non_null (strstr (err, "No such file"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_key),
        cmocka_unit_test_setup_teardown (test_cache_roundtrip, s_setup, s_teardown),
        cmocka_unit_test (test_prices),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
