/* test_sse.c — the incremental SSE parser: every split point, CRLF/CR/LF,
 * comments, multi-line data, event names, caps, EOF handling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "lg_error.h"
#include "lg_sse.h"

typedef struct {
    char log[2048];
    int n;
    int fail_at;   /* return an error on this event number (1-based), 0 = never */
} sink_t;

static int
s_cb (void *arg, const char *event, const char *data, size_t len)
{
    sink_t *s = arg;
    s->n++;
    size_t l = strlen (s->log);
    snprintf (s->log + l, sizeof s->log - l, "[%s|%.*s]", event, (int) len, data);
    return s->n == s->fail_at ? LG_E_MALFORMED : 0;
}

static const char s_stream[] = ": comment\r\n"
                               "data: {\"a\":1}\r\n\r\n"
                               "event: usage\n"
                               "data: line1\n"
                               "data:line2\n"
                               "id: 7\n"
                               "\n"
                               "data: x\r\r"
                               "retry: 10\n\n"          /* no data: not dispatched */
                               "data: [DONE]\n\n";
static const char s_expect[] = "[message|{\"a\":1}][usage|line1\nline2][message|x][message|[DONE]]";

static void
test_every_split (void **state)
{
    (void) state;
    size_t n = strlen (s_stream);
    for (size_t cut = 0; cut <= n; cut++) {
        for (size_t cut2 = cut; cut2 <= n; cut2 += 7) {
            sink_t s = { "", 0, 0 };
            lg_sse_t *p = lg_sse_new (1024, s_cb, &s);
            assert_non_null (p);
            assert_int_equal (lg_sse_feed (p, s_stream, cut), 0);
            assert_int_equal (lg_sse_feed (p, s_stream + cut, cut2 - cut), 0);
            assert_int_equal (lg_sse_feed (p, s_stream + cut2, n - cut2), 0);
            if (strcmp (s.log, s_expect) != 0)
                fail_msg ("cut %zu/%zu: got %s", cut, cut2, s.log);
            assert_int_equal (lg_sse_finish (p), 0);
            assert_int_equal (lg_sse_events (p), 4);
            lg_sse_destroy (&p);
            assert_null (p);
        }
    }
}

static void
test_byte_by_byte (void **state)
{
    (void) state;
    sink_t s = { "", 0, 0 };
    lg_sse_t *p = lg_sse_new (1024, s_cb, &s);
    for (size_t i = 0; s_stream[i]; i++)
        assert_int_equal (lg_sse_feed (p, s_stream + i, 1), 0);
    assert_string_equal (s.log, s_expect);
    lg_sse_destroy (&p);
}

static void
test_partial_at_eof (void **state)
{
    (void) state;
    sink_t s = { "", 0, 0 };
    lg_sse_t *p = lg_sse_new (1024, s_cb, &s);
    assert_int_equal (lg_sse_feed (p, "data: one\n\ndata: two\n", 21), 0);
    assert_int_equal (s.n, 1);
    assert_int_equal (lg_sse_finish (p), 1); /* "two" was never terminated */
    assert_int_equal (s.n, 1);
    lg_sse_destroy (&p);
}

static void
test_caps_and_callback_errors (void **state)
{
    (void) state;
    sink_t s = { "", 0, 0 };
    lg_sse_t *p = lg_sse_new (16, s_cb, &s);
    assert_int_equal (lg_sse_feed (p, "data: 0123456789abcdefXYZ\n", 26), LG_E_TOOBIG);
    lg_sse_destroy (&p);
    /* Two data lines that each fit but together exceed the cap. */
    p = lg_sse_new (16, s_cb, &s);
    assert_int_equal (lg_sse_feed (p, "data: 0123456789\ndata: 0123456789\n", 34), LG_E_TOOBIG);
    lg_sse_destroy (&p);
    sink_t f = { "", 0, 2 };
    p = lg_sse_new (1024, s_cb, &f);
    assert_int_equal (lg_sse_feed (p, "data: a\n\ndata: b\n\ndata: c\n\n", 27), LG_E_MALFORMED);
    assert_int_equal (f.n, 2);
    lg_sse_destroy (&p);
    lg_sse_destroy (&p); /* double destroy is harmless */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_every_split),
        cmocka_unit_test (test_byte_by_byte),
        cmocka_unit_test (test_partial_at_eof),
        cmocka_unit_test (test_caps_and_callback_errors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
