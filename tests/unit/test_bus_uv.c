/* test_bus_uv.c — the libuv integration must not stall (c-patterns §3.2):
 * 20 000 replies queued behind a consumed ZMQ_FD edge are all delivered,
 * over inproc and tcp; bus_server and bus_client attached to one loop serve
 * each other; the budget gives other handles a turn; destroy is clean. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <zmq.h>

#include "bus.h"
#include "bus_uv.h"
#include "clock.h"
#include "runtime.h"

#define N_MSGS 20000

typedef struct {
    void *ctx;
    char endpoint[128];
    volatile int ready;
    volatile int stop;       /* set by main once it received everything */
    volatile int echoed;
} echo_t;

/* ROUTER echo thread: replies to N_MSGS requests, then exits. */
static void *s_echo (void *arg)
{
    echo_t *e = arg;
    void *r = zmq_socket (e->ctx, ZMQ_ROUTER);
    int zero = 0;
    zmq_setsockopt (r, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (r, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt (r, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind (r, e->endpoint) != 0)
        return NULL;
    size_t len = sizeof e->endpoint;
    zmq_getsockopt (r, ZMQ_LAST_ENDPOINT, e->endpoint, &len);
    e->ready = 1;
    while (e->echoed < N_MSGS) {
        zmq_pollitem_t it = { r, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&it, 1, 5000) <= 0)
            break;
        char id[256], body[64];
        int idn = zmq_recv (r, id, sizeof id, 0);
        int bn = zmq_recv (r, body, sizeof body, 0);
        if (idn < 0 || bn < 0)
            break;
        zmq_send (r, id, (size_t) idn, ZMQ_SNDMORE);
        zmq_send (r, body, (size_t) bn, 0);
        e->echoed++;
    }
    /* Keep the socket open until the main thread has every reply: with
     * LINGER 0, closing now would discard replies still queued for tcp. */
    while (!e->stop)
        clock_sleep_ms (2);
    zmq_close (r);
    return NULL;
}

typedef struct {
    void *dealer;
    int got;
    bus_uv_t *uv;
    uv_timer_t guard;
    bool timed_out;
} sink_t;

static int s_read_one (void *arg)
{
    sink_t *s = arg;
    char buf[64];
    int n = zmq_recv (s->dealer, buf, sizeof buf, ZMQ_DONTWAIT);
    if (n < 0)
        return 0;
    s->got++;
    if (s->got == N_MSGS) {
        bus_uv_destroy (&s->uv);   /* closing from inside the read callback is allowed */
        uv_timer_stop (&s->guard);
        uv_close ((uv_handle_t *) &s->guard, NULL);
    }
    return 1;
}

static void s_guard (uv_timer_t *t)
{
    sink_t *s = t->data;
    s->timed_out = true;
    bus_uv_destroy (&s->uv);
    uv_close ((uv_handle_t *) t, NULL);
}

static void s_run_flood (const char *endpoint)
{
    void *ctx = proc_zmq_ctx_new ();
    echo_t e = { .ctx = ctx };
    snprintf (e.endpoint, sizeof e.endpoint, "%s", endpoint);
    pthread_t th;
    pthread_create (&th, NULL, s_echo, &e);
    while (!e.ready)
        clock_sleep_ms (1);

    sink_t s = { 0 };
    s.dealer = zmq_socket (ctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt (s.dealer, ZMQ_SNDHWM, &zero, sizeof zero);
    zmq_setsockopt (s.dealer, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt (s.dealer, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal (zmq_connect (s.dealer, e.endpoint), 0);
    /* Send everything before the loop runs: the sends consume the fd edge,
     * which is exactly what stalls a naive uv_poll design. */
    for (int i = 0; i < N_MSGS; i++)
        assert_int_equal (zmq_send (s.dealer, "ping", 4, 0), 4);
    /* Let the echo thread reply to everything first so no later edge saves us. */
    int64_t end = clock_mono_ms () + 10000;
    while (e.echoed < N_MSGS && clock_mono_ms () < end)
        clock_sleep_ms (2);
    assert_int_equal (e.echoed, N_MSGS);

    uv_loop_t loop;
    uv_loop_init (&loop);
    s.uv = bus_uv_new (&loop, s.dealer, s_read_one, &s);
    assert_non_null (s.uv);
    uv_timer_init (&loop, &s.guard);
    s.guard.data = &s;
    uv_timer_start (&s.guard, s_guard, 10000, 0);
    int64_t t0 = clock_mono_ns ();
    uv_run (&loop, UV_RUN_DEFAULT);
    double ms = (double) (clock_mono_ns () - t0) / 1e6;
    fprintf (stderr, "# %s: %d/%d replies through bus_uv in %.1f ms\n", endpoint, s.got, N_MSGS, ms);
    e.stop = 1;
    assert_false (s.timed_out);
    assert_int_equal (s.got, N_MSGS);
    assert_int_equal (uv_loop_close (&loop), 0);
    e.stop = 1;
    zmq_close (s.dealer);
    pthread_join (th, NULL);
    proc_zmq_ctx_term (&ctx);
}

static void test_flood_inproc (void **state)
{
    (void) state;
    s_run_flood ("inproc://bus-uv-flood");
}

static void test_flood_tcp (void **state)
{
    (void) state;
    s_run_flood ("tcp://127.0.0.1:*");
}

/* ---- server and client on one loop ----------------------------------------- */

#define N_RPC 2000

typedef struct {
    int replies;
    int errors;
    uv_loop_t *loop;
    bus_server_t *srv;
    bus_client_t *cli;
} rpc_t;

static int s_ping (bus_server_t *srv, bus_request_t *rq, const env_t *req, env_t *reply, void *arg)
{
    (void) srv; (void) rq; (void) arg;
    Copilot__V1__PingReply *r = env_msg_new (&copilot__v1__ping_reply__descriptor);
    env_set_str (&r->detail, req->header->trace_id);
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_PING_REPLY, r);
}

static void s_on_reply (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    rpc_t *r = arg;
    if (status == 0 && reply->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY)
        r->replies++;
    else
        r->errors++;
    env_free (reply);
    if (r->replies + r->errors == N_RPC) {
        /* Done: detach both so the loop runs out of handles. */
        bus_client_destroy (&r->cli);
        bus_server_destroy (&r->srv);
    }
}

static void test_server_client_same_loop (void **state)
{
    (void) state;
    void *ctx = proc_zmq_ctx_new ();
    uv_loop_t loop;
    uv_loop_init (&loop);
    rpc_t r = { .loop = &loop };
    r.srv = bus_server_new (ctx, "inproc://same-loop", "srv");
    assert_non_null (r.srv);
    bus_server_on (r.srv, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_ping, NULL);
    r.cli = bus_client_new (ctx, "inproc://same-loop", "cli", "srv");
    assert_int_equal (bus_server_attach_uv (r.srv, &loop), 0);
    assert_int_equal (bus_client_attach_uv (r.cli, &loop), 0);
    for (int i = 0; i < N_RPC; i++) {
        env_t *req = env_new ("cli");
        env_set_strf (&req->header->trace_id, "t%d", i);
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST,
                      env_msg_new (&copilot__v1__ping_request__descriptor));
        assert_int_equal (bus_client_send (r.cli, req, 10000, 0, s_on_reply, &r), 0);
        env_free (req);
    }
    int64_t t0 = clock_mono_ms ();
    uv_run (&loop, UV_RUN_DEFAULT);
    fprintf (stderr, "# %d request/replies on one loop in %lld ms\n", N_RPC,
             (long long) (clock_mono_ms () - t0));
    assert_int_equal (r.replies, N_RPC);
    assert_int_equal (r.errors, 0);
    assert_int_equal (uv_loop_close (&loop), 0);
    proc_zmq_ctx_term (&ctx);
}

/* Client deadline fires from the uv timer when nobody answers. */
static void s_on_deadline (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    int *st = arg;
    *st = status;
    env_free (reply);
}

static void test_client_deadline_on_loop (void **state)
{
    (void) state;
    void *ctx = proc_zmq_ctx_new ();
    uv_loop_t loop;
    uv_loop_init (&loop);
    /* a server that is never attached (never answers) */
    bus_server_t *srv = bus_server_new (ctx, "inproc://silent", "silent");
    bus_client_t *cli = bus_client_new (ctx, "inproc://silent", "cli", "silent");
    bus_client_attach_uv (cli, &loop);
    env_t *req = env_new ("cli");
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST,
                  env_msg_new (&copilot__v1__ping_request__descriptor));
    int status = 1;
    int64_t t0 = clock_mono_ms ();
    bus_client_send (cli, req, 120, 0, s_on_deadline, &status);
    while (status == 1 && clock_mono_ms () - t0 < 3000)
        uv_run (&loop, UV_RUN_ONCE);
    int64_t took = clock_mono_ms () - t0;
    assert_int_equal (status, BUS_E_DEADLINE);
    assert_true (took >= 115 && took < 500);
    env_free (req);
    bus_client_destroy (&cli);
    bus_server_destroy (&srv);
    uv_run (&loop, UV_RUN_DEFAULT);
    assert_int_equal (uv_loop_close (&loop), 0);
    proc_zmq_ctx_term (&ctx);
}

/* Budget: with budget 1 every check pass reads one message. */
typedef struct {
    void *pull;
    int got;
    bus_uv_t *uv;
} budget_t;

static int s_read_pull (void *arg)
{
    budget_t *b = arg;
    char buf[16];
    if (zmq_recv (b->pull, buf, sizeof buf, ZMQ_DONTWAIT) < 0)
        return 0;
    if (++b->got == 50)
        bus_uv_destroy (&b->uv);
    return 1;
}

static void test_budget (void **state)
{
    (void) state;
    void *ctx = proc_zmq_ctx_new ();
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    budget_t b = { .pull = zmq_socket (ctx, ZMQ_PULL) };
    zmq_bind (b.pull, "inproc://budget");
    zmq_connect (push, "inproc://budget");
    for (int i = 0; i < 50; i++)
        zmq_send (push, "x", 1, 0);
    uv_loop_t loop;
    uv_loop_init (&loop);
    b.uv = bus_uv_new (&loop, b.pull, s_read_pull, &b);
    bus_uv_set_budget (b.uv, 1);
    bus_uv_t *keep = b.uv;
    unsigned long long passes = 0;
    while (b.uv) {
        uv_run (&loop, UV_RUN_ONCE);
        if (b.uv)
            passes = bus_uv_pass_count (keep);
    }
    assert_int_equal (b.got, 50);
    assert_true (passes >= 49);   /* one message per pass */
    uv_run (&loop, UV_RUN_DEFAULT);
    assert_int_equal (uv_loop_close (&loop), 0);
    bus_socket_close (&push);
    bus_socket_close (&b.pull);
    proc_zmq_ctx_term (&ctx);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_flood_inproc),
        cmocka_unit_test (test_flood_tcp),
        cmocka_unit_test (test_server_client_same_loop),
        cmocka_unit_test (test_client_deadline_on_loop),
        cmocka_unit_test (test_budget),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
