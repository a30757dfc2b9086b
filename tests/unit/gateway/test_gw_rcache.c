/* test_gw_rcache.c — the rendered-report cache: hits, epochs, TTL, LRU
 * eviction by count and by bytes, ETags, and error codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "gw_rcache.h"

static void
t_hit_and_etag (void **state)
{
    (void) state;
    gw_rcache_t *c = gw_rcache_new (4, 1 << 20, 1000);
    assert_non_null (c);
    gw_rcache_hit_t hit;
    assert_int_equal (gw_rcache_get (c, "job_cost", 0, &hit), 0);
    char etag[48];
    uint64_t ep = gw_rcache_epoch (c);
    assert_int_equal (gw_rcache_put (c, "job_cost", ep, "{\"a\":1}", 7, 10, etag, sizeof etag),
                      GW_RCACHE_OK);
    assert_int_equal (gw_rcache_get (c, "job_cost", 20, &hit), 1);
    assert_int_equal (hit.len, 7);
    assert_memory_equal (hit.body, "{\"a\":1}", 7);
    assert_string_equal (hit.etag, etag);
    /* The ETag is a function of the bytes: same bytes, same tag; other bytes, other tag. */
    char e2[48], e3[48];
    gw_rcache_etag ("{\"a\":1}", 7, e2, sizeof e2);
    gw_rcache_etag ("{\"a\":2}", 7, e3, sizeof e3);
    assert_string_equal (etag, e2);
    assert_string_not_equal (e2, e3);
    assert_true (etag[0] == '"' && etag[strlen (etag) - 1] == '"');
    /* Replacing a key keeps one entry. */
    assert_int_equal (gw_rcache_put (c, "job_cost", ep, "{\"a\":2}", 7, 30, NULL, 0), GW_RCACHE_OK);
    int n;
    size_t bytes;
    uint64_t hits, misses;
    gw_rcache_stats (c, &n, &bytes, &hits, &misses);
    assert_int_equal (n, 1);
    assert_int_equal (bytes, 7);
    assert_int_equal (hits, 1);
    assert_int_equal (misses, 1);
    assert_int_equal (gw_rcache_get (c, "job_cost", 40, &hit), 1);
    assert_string_equal (hit.etag, e3);
    gw_rcache_destroy (&c);
    assert_null (c);
    gw_rcache_destroy (&c);   /* NULL-safe */
}

static void
t_epoch_and_ttl (void **state)
{
    (void) state;
    gw_rcache_t *c = gw_rcache_new (4, 1 << 20, 1000);
    uint64_t sent = gw_rcache_epoch (c);
    assert_int_equal (gw_rcache_put (c, "r1", sent, "x", 1, 0, NULL, 0), GW_RCACHE_OK);
    gw_rcache_invalidate (c);
    gw_rcache_hit_t hit;
    assert_int_equal (gw_rcache_get (c, "r1", 1, &hit), 0);
    /* A reply to a request sent before the data changed is not stored. */
    assert_int_equal (gw_rcache_put (c, "r1", sent, "x", 1, 2, NULL, 0), GW_RCACHE_E_STALE);
    assert_int_equal (gw_rcache_get (c, "r1", 3, &hit), 0);
    uint64_t now = gw_rcache_epoch (c);
    assert_true (now != sent);
    assert_int_equal (gw_rcache_put (c, "r1", now, "y", 1, 100, NULL, 0), GW_RCACHE_OK);
    assert_int_equal (gw_rcache_get (c, "r1", 1099, &hit), 1);
    assert_int_equal (gw_rcache_get (c, "r1", 1100, &hit), 0);   /* TTL reached */
    int n;
    gw_rcache_stats (c, &n, NULL, NULL, NULL);
    assert_int_equal (n, 0);
    gw_rcache_destroy (&c);
}

static void
t_lru_bounds (void **state)
{
    (void) state;
    /* Count bound: 3 entries. */
    gw_rcache_t *c = gw_rcache_new (3, 1 << 20, 100000);
    uint64_t ep = gw_rcache_epoch (c);
    gw_rcache_hit_t hit;
    assert_int_equal (gw_rcache_put (c, "a", ep, "1", 1, 0, NULL, 0), 0);
    assert_int_equal (gw_rcache_put (c, "b", ep, "2", 1, 0, NULL, 0), 0);
    assert_int_equal (gw_rcache_put (c, "c", ep, "3", 1, 0, NULL, 0), 0);
    assert_int_equal (gw_rcache_get (c, "a", 1, &hit), 1);          /* a is now the most recent */
    assert_int_equal (gw_rcache_put (c, "d", ep, "4", 1, 2, NULL, 0), 0);   /* evicts b */
    assert_int_equal (gw_rcache_get (c, "b", 3, &hit), 0);
    assert_int_equal (gw_rcache_get (c, "a", 3, &hit), 1);
    assert_int_equal (gw_rcache_get (c, "c", 3, &hit), 1);
    assert_int_equal (gw_rcache_get (c, "d", 3, &hit), 1);
    gw_rcache_destroy (&c);

    /* Byte bound: 400 bytes, bodies up to 100 bytes. */
    c = gw_rcache_new (100, 400, 100000);
    ep = gw_rcache_epoch (c);
    char body[101];
    memset (body, 'x', sizeof body);
    assert_int_equal (gw_rcache_put (c, "big", ep, body, 101, 0, NULL, 0), GW_RCACHE_E_TOO_BIG);
    const char *keys[] = {"k1", "k2", "k3", "k4", "k5"};
    for (int i = 0; i < 5; i++)
        assert_int_equal (gw_rcache_put (c, keys[i], ep, body, 100, i, NULL, 0), 0);
    int n;
    size_t bytes;
    gw_rcache_stats (c, &n, &bytes, NULL, NULL);
    assert_int_equal (n, 4);
    assert_int_equal (bytes, 400);
    assert_int_equal (gw_rcache_get (c, "k1", 9, &hit), 0);   /* oldest went first */
    assert_int_equal (gw_rcache_get (c, "k5", 9, &hit), 1);
    gw_rcache_destroy (&c);
}

static void
t_errors (void **state)
{
    (void) state;
    assert_null (gw_rcache_new (0, 10, 10));
    assert_null (gw_rcache_new (1, 0, 10));
    assert_null (gw_rcache_new (1, 10, 0));
    gw_rcache_t *c = gw_rcache_new (1, 100, 10);
    uint64_t ep = gw_rcache_epoch (c);
    assert_int_equal (gw_rcache_put (c, "", ep, "x", 1, 0, NULL, 0), GW_RCACHE_E_ARG);
    assert_int_equal (gw_rcache_put (c, "k", ep, "x", 0, 0, NULL, 0), GW_RCACHE_E_ARG);
    assert_string_equal (gw_rcache_strerror (GW_RCACHE_E_STALE),
                         "data changed while the report was computed");
    assert_string_equal (gw_rcache_strerror (42), "unknown gw_rcache error");
    gw_rcache_destroy (&c);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (t_hit_and_etag),
        cmocka_unit_test (t_epoch_and_ttl),
        cmocka_unit_test (t_lru_bounds),
        cmocka_unit_test (t_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
