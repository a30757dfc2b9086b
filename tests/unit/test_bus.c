/* test_bus.c — bus_server + bus_client over real zmq sockets (inproc in one
 * thread; tcp with a server thread for the blocking helper): dispatch,
 * UNIMPLEMENTED, server-side deadline check, client deadlines, many requests
 * in flight, deferred replies, the idempotent resend, malformed input,
 * draining, handler failures, metrics. */
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
#include "clock.h"
#include "metrics.h"
#include "runtime.h"

typedef struct {
    void *ctx;
    bus_server_t *srv;
    bus_client_t *cli;
    int handler_calls;
    bus_request_t *kept;
    int drop_first;          /* idempotent test: swallow the first attempt */
} fx_t;

static int s_setup (void **state)
{
    static int n;
    fx_t *fx = calloc (1, sizeof *fx);
    fx->ctx = proc_zmq_ctx_new ();
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://test-bus-%d", ++n);
    fx->srv = bus_server_new (fx->ctx, ep, "t");
    assert_non_null (fx->srv);
    fx->cli = bus_client_new (fx->ctx, ep, "tc", "t");
    assert_non_null (fx->cli);
    *state = fx;
    return 0;
}

static int s_teardown (void **state)
{
    fx_t *fx = *state;
    bus_client_destroy (&fx->cli);
    bus_request_destroy (&fx->kept);
    bus_server_destroy (&fx->srv);
    proc_zmq_ctx_term (&fx->ctx);
    free (fx);
    return 0;
}

/* Ping handler: PingReply{service = "t", detail = request trace id}. */
static int s_ping (bus_server_t *srv, bus_request_t *rq, const env_t *req, env_t *reply, void *arg)
{
    (void) srv;
    (void) rq;
    fx_t *fx = arg;
    fx->handler_calls++;
    Copilot__V1__PingReply *r = env_msg_new (&copilot__v1__ping_reply__descriptor);
    env_set_str (&r->service, "t");
    env_set_str (&r->detail, req->header->trace_id);
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_PING_REPLY, r);
}

static env_t *s_ping_req (const char *trace)
{
    env_t *e = env_new ("tc");
    env_set_str (&e->header->trace_id, trace ? trace : "");
    env_set_body (e, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST,
                  env_msg_new (&copilot__v1__ping_request__descriptor));
    return e;
}

typedef struct {
    int calls;
    int status;
    env_t *reply;
    int64_t at_ms;
} got_t;

static void s_got (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    got_t *g = arg;
    g->calls++;
    g->status = status;
    env_free (g->reply);
    g->reply = reply;
    g->at_ms = clock_mono_ms ();
}

/* Pumps server and client in this thread until cond or timeout. */
#define PUMP_UNTIL(fx, cond, ms)                                                 \
    do {                                                                         \
        int64_t _end = clock_mono_ms () + (ms);                                  \
        while (!(cond) && clock_mono_ms () < _end) {                             \
            bus_server_poll ((fx)->srv, 1);                                      \
            bus_client_poll ((fx)->cli, 1);                                      \
        }                                                                        \
    } while (0)

static double s_counter (const char *name, const char *labels)
{
    metric_t *m = metrics_counter (metrics_global (), name, "x", labels);
    return m ? metric_value (m) : -1;
}

static void test_ping_roundtrip (void **state)
{
    fx_t *fx = *state;
    double before = s_counter ("copilot_requests_total",
                               "service=\"t\",method=\"ping_request\",code=\"ok\"");
    assert_int_equal (bus_server_on (fx->srv, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_ping, fx), 0);
    env_t *req = s_ping_req ("tr-1");
    got_t g = { 0 };
    assert_int_equal (bus_client_send (fx->cli, req, 2000, 0, s_got, &g), 0);
    assert_int_equal (bus_client_pending (fx->cli), 1);
    PUMP_UNTIL (fx, g.calls > 0, 2000);
    assert_int_equal (g.calls, 1);
    assert_int_equal (g.status, 0);
    assert_int_equal (g.reply->body_case, COPILOT__V1__ENVELOPE__BODY_PING_REPLY);
    assert_string_equal (g.reply->ping_reply->detail, "tr-1");
    assert_string_equal (env_request_id (g.reply), env_request_id (req));
    assert_int_equal (bus_client_pending (fx->cli), 0);
    assert_int_equal (fx->handler_calls, 1);
    double after = s_counter ("copilot_requests_total",
                              "service=\"t\",method=\"ping_request\",code=\"ok\"");
    assert_true (after == before + 1);
    env_free (g.reply);
    env_free (req);
}

static void test_unimplemented (void **state)
{
    fx_t *fx = *state;
    env_t *req = env_new ("tc");
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REQUEST,
                  env_msg_new (&copilot__v1__explain_request__descriptor));
    env_t *reply = NULL;
    got_t g = { 0 };
    bus_client_send (fx->cli, req, 2000, 0, s_got, &g);
    PUMP_UNTIL (fx, g.calls > 0, 2000);
    reply = g.reply;
    assert_non_null (reply);
    assert_true (env_is_error (reply));
    assert_int_equal (env_error (reply)->code, COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED);
    assert_string_equal (env_error (reply)->message, "t does not implement explain_request yet");
    env_free (reply);
    env_free (req);
}

/* Raw DEALER to check exactly what the server answers. */
static env_t *s_raw_roundtrip (fx_t *fx, const void *payload, size_t len, bool delimiter)
{
    void *d = zmq_socket (fx->ctx, ZMQ_DEALER);
    bus_socket_defaults (d, false);
    assert_int_equal (zmq_connect (d, bus_server_endpoint (fx->srv)), 0);
    if (delimiter)
        zmq_send (d, "", 0, ZMQ_SNDMORE);
    zmq_send (d, payload, len, 0);
    bus_server_poll (fx->srv, 500);
    zmq_pollitem_t it = { d, 0, ZMQ_POLLIN, 0 };
    env_t *out = NULL;
    if (zmq_poll (&it, 1, 300) == 1) {
        char buf[65536];
        int n = zmq_recv (d, buf, sizeof buf, 0);
        assert_int_equal (n, 0);   /* delimiter */
        n = zmq_recv (d, buf, sizeof buf, 0);
        assert_true (n > 0);
        assert_int_equal (env_decode ((uint8_t *) buf, (size_t) n, &out), 0);
    }
    bus_socket_close (&d);
    return out;
}

static void test_server_deadline_and_bad_input (void **state)
{
    fx_t *fx = *state;
    bus_server_on (fx->srv, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_ping, fx);
    env_t *req = s_ping_req ("late");
    req->header->deadline_unix_ms = clock_wall_ms () - 5;
    uint8_t *data;
    size_t len;
    env_encode (req, &data, &len);
    env_t *rep = s_raw_roundtrip (fx, data, len, true);
    assert_non_null (rep);
    assert_int_equal (env_error (rep)->code, COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED);
    assert_string_equal (env_request_id (rep), env_request_id (req));
    assert_int_equal (fx->handler_calls, 0);   /* handler never ran */
    env_free (rep);
    free (data);

    /* garbage payload → INVALID_ARGUMENT */
    const uint8_t junk[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f };
    rep = s_raw_roundtrip (fx, junk, sizeof junk, true);
    assert_non_null (rep);
    assert_int_equal (env_error (rep)->code, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT);
    env_free (rep);

    /* wrong schema version → VERSION_MISMATCH echoing the id */
    req->header->deadline_unix_ms = 0;
    req->header->schema_version = 7;
    env_encode (req, &data, &len);
    rep = s_raw_roundtrip (fx, data, len, true);
    assert_non_null (rep);
    assert_int_equal (env_error (rep)->code, COPILOT__V1__ERROR_CODE__ERROR_VERSION_MISMATCH);
    assert_string_equal (env_request_id (rep), env_request_id (req));
    env_free (rep);
    free (data);

    /* no delimiter frame → dropped, no reply, counted */
    double bad0 = s_counter ("copilot_bad_frames_total", "service=\"t\",reason=\"framing\"");
    rep = s_raw_roundtrip (fx, "x", 1, false);
    assert_null (rep);
    assert_true (s_counter ("copilot_bad_frames_total", "service=\"t\",reason=\"framing\"") == bad0 + 1);
    env_free (req);

    /* draining → UNAVAILABLE without running the handler */
    bus_server_set_draining (fx->srv, true);
    req = s_ping_req ("drain");
    env_encode (req, &data, &len);
    rep = s_raw_roundtrip (fx, data, len, true);
    assert_int_equal (env_error (rep)->code, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE);
    assert_int_equal (fx->handler_calls, 0);
    env_free (rep);
    free (data);
    env_free (req);
}

static void test_client_deadline (void **state)
{
    fx_t *fx = *state;
    env_t *req = s_ping_req (NULL);
    got_t g = { 0 };
    int64_t t0 = clock_mono_ms ();
    assert_int_equal (bus_client_send (fx->cli, req, 150, 0, s_got, &g), 0);
    /* the server is never polled */
    while (g.calls == 0 && clock_mono_ms () - t0 < 2000)
        bus_client_poll (fx->cli, 20);
    assert_int_equal (g.calls, 1);
    assert_int_equal (g.status, BUS_E_DEADLINE);
    assert_int_equal (env_error (g.reply)->code, COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED);
    assert_string_equal (env_request_id (g.reply), env_request_id (req));
    int64_t took = g.at_ms - t0;
    assert_true (took >= 145 && took < 400);
    /* the late reply that arrives afterwards is dropped quietly */
    bus_server_on (fx->srv, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_ping, fx);
    bus_server_poll (fx->srv, 100);
    assert_int_equal (bus_client_poll (fx->cli, 50), 0);
    assert_int_equal (g.calls, 1);
    env_free (g.reply);
    env_free (req);
}

#define MANY 300
static void test_many_in_flight (void **state)
{
    fx_t *fx = *state;
    bus_server_on (fx->srv, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_ping, fx);
    static got_t g[MANY];
    memset (g, 0, sizeof g);
    for (int i = 0; i < MANY; i++) {
        char trace[32];
        snprintf (trace, sizeof trace, "n%d", i);
        env_t *req = s_ping_req (trace);
        assert_int_equal (bus_client_send (fx->cli, req, 5000, 0, s_got, &g[i]), 0);
        env_free (req);
    }
    assert_int_equal (bus_client_pending (fx->cli), MANY);
    int done = 0;
    int64_t end = clock_mono_ms () + 5000;
    while (done < MANY && clock_mono_ms () < end) {
        bus_server_poll (fx->srv, 1);
        bus_client_poll (fx->cli, 1);
        done = 0;
        for (int i = 0; i < MANY; i++)
            done += g[i].calls;
    }
    assert_int_equal (done, MANY);
    for (int i = 0; i < MANY; i++) {
        char trace[32];
        snprintf (trace, sizeof trace, "n%d", i);
        assert_int_equal (g[i].status, 0);
        assert_string_equal (g[i].reply->ping_reply->detail, trace);
        env_free (g[i].reply);
    }
    assert_int_equal (fx->handler_calls, MANY);
}

static int s_defer (bus_server_t *srv, bus_request_t *rq, const env_t *req, env_t *reply, void *arg)
{
    (void) srv;
    (void) req;
    (void) reply;
    fx_t *fx = arg;
    fx->handler_calls++;
    if (fx->drop_first && fx->handler_calls == 1) {
        /* lose the first attempt: take it and never answer */
        bus_request_defer (rq);
        bus_request_t *tmp = rq;
        bus_request_destroy (&tmp);
        return BUS_DEFERRED;
    }
    if (fx->drop_first) {
        fx->handler_calls--;   /* s_ping counts this call itself */
        return s_ping (srv, rq, req, reply, arg);
    }
    bus_request_defer (rq);
    fx->kept = rq;
    return BUS_DEFERRED;
}

static void test_deferred_reply (void **state)
{
    fx_t *fx = *state;
    bus_server_on (fx->srv, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_defer, fx);
    env_t *req = s_ping_req ("deferred");
    got_t g = { 0 };
    bus_client_send (fx->cli, req, 2000, 0, s_got, &g);
    PUMP_UNTIL (fx, fx->kept != NULL, 1000);
    assert_non_null (fx->kept);
    assert_int_equal (bus_server_inflight (fx->srv), 1);
    assert_string_equal (env_request_id (bus_request_env (fx->kept)), env_request_id (req));
    bus_client_poll (fx->cli, 30);
    assert_int_equal (g.calls, 0);   /* no reply yet */

    env_t *reply = env_new ("t");
    Copilot__V1__PingReply *r = env_msg_new (&copilot__v1__ping_reply__descriptor);
    env_set_str (&r->detail, "later");
    env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_PING_REPLY, r);
    assert_int_equal (bus_request_reply (&fx->kept, reply), 0);
    assert_null (fx->kept);
    assert_int_equal (bus_server_inflight (fx->srv), 0);
    env_free (reply);
    PUMP_UNTIL (fx, g.calls > 0, 1000);
    assert_int_equal (g.status, 0);
    assert_string_equal (g.reply->ping_reply->detail, "later");
    env_free (g.reply);
    env_free (req);
}

static void test_idempotent_resend (void **state)
{
    fx_t *fx = *state;
    fx->drop_first = 1;
    bus_server_on (fx->srv, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_defer, fx);
    double r0 = s_counter ("copilot_client_retries_total", "service=\"tc\",target=\"t\"");
    env_t *req = s_ping_req ("retry");
    got_t g = { 0 };
    int64_t t0 = clock_mono_ms ();
    bus_client_send (fx->cli, req, 400, BUS_CALL_IDEMPOTENT, s_got, &g);
    PUMP_UNTIL (fx, g.calls > 0, 2000);
    assert_int_equal (g.calls, 1);
    assert_int_equal (g.status, 0);
    assert_string_equal (g.reply->ping_reply->detail, "retry");
    assert_int_equal (fx->handler_calls, 2);
    assert_true (g.at_ms - t0 >= 190);   /* resent after half the timeout */
    assert_true (s_counter ("copilot_client_retries_total", "service=\"tc\",target=\"t\"") == r0 + 1);
    env_free (g.reply);

    /* not idempotent: no resend, deadline error */
    fx->handler_calls = 0;
    got_t h = { 0 };
    bus_client_send (fx->cli, req, 200, 0, s_got, &h);
    PUMP_UNTIL (fx, h.calls > 0, 2000);
    assert_int_equal (h.status, BUS_E_DEADLINE);
    assert_int_equal (fx->handler_calls, 1);
    env_free (h.reply);
    env_free (req);
}

static int s_fail_plain (bus_server_t *srv, bus_request_t *rq, const env_t *req, env_t *reply, void *arg)
{
    (void) srv; (void) rq; (void) req; (void) reply; (void) arg;
    return -3;
}

static int s_empty_ok (bus_server_t *srv, bus_request_t *rq, const env_t *req, env_t *reply, void *arg)
{
    (void) srv; (void) rq; (void) req; (void) reply; (void) arg;
    return 0;
}

static void test_handler_failures (void **state)
{
    fx_t *fx = *state;
    bus_server_on (fx->srv, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_fail_plain, fx);
    bus_server_on (fx->srv, COPILOT__V1__ENVELOPE__BODY_METRICS_REQUEST, s_empty_ok, fx);
    env_t *req = s_ping_req (NULL);
    got_t g = { 0 };
    bus_client_send (fx->cli, req, 1000, 0, s_got, &g);
    PUMP_UNTIL (fx, g.calls > 0, 1000);
    assert_int_equal (env_error (g.reply)->code, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL);
    assert_non_null (strstr (env_error (g.reply)->message, "code -3"));
    env_free (g.reply);
    env_free (req);

    req = env_new ("tc");
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_METRICS_REQUEST,
                  env_msg_new (&copilot__v1__metrics_request__descriptor));
    memset (&g, 0, sizeof g);
    bus_client_send (fx->cli, req, 1000, 0, s_got, &g);
    PUMP_UNTIL (fx, g.calls > 0, 1000);
    assert_int_equal (env_error (g.reply)->code, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL);
    assert_non_null (strstr (env_error (g.reply)->message, "no reply"));
    env_free (g.reply);
    env_free (req);
    assert_int_equal (bus_server_on (fx->srv, 0, s_ping, fx), BUS_E_INVALID);
    assert_int_equal (bus_server_on (fx->srv, 5, s_ping, fx), BUS_E_INVALID);
}

static void test_destroy_completes_pending (void **state)
{
    fx_t *fx = *state;
    env_t *req = s_ping_req (NULL);
    got_t g = { 0 };
    bus_client_send (fx->cli, req, 5000, 0, s_got, &g);
    bus_client_destroy (&fx->cli);
    assert_int_equal (g.calls, 1);
    assert_int_equal (g.status, BUS_E_CLOSED);
    assert_int_equal (env_error (g.reply)->code, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE);
    env_free (g.reply);
    env_free (req);
}

/* ---- blocking helper against a server thread over tcp ---------------------- */

typedef struct {
    bus_server_t *srv;
    volatile int stop;
} thr_t;

static int s_ping_plain (bus_server_t *srv, bus_request_t *rq, const env_t *req, env_t *reply, void *arg)
{
    (void) srv; (void) rq; (void) req; (void) arg;
    Copilot__V1__PingReply *r = env_msg_new (&copilot__v1__ping_reply__descriptor);
    env_set_str (&r->service, "threaded");
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_PING_REPLY, r);
}

static void *s_server_thread (void *arg)
{
    thr_t *t = arg;
    while (!t->stop)
        bus_server_poll (t->srv, 10);
    return NULL;
}

static void test_bus_call_blocking (void **state)
{
    (void) state;
    void *ctx = proc_zmq_ctx_new ();
    thr_t t = { 0 };
    t.srv = bus_server_new (ctx, "tcp://127.0.0.1:*", "threaded");
    assert_non_null (t.srv);
    bus_server_on (t.srv, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_ping_plain, NULL);
    char ep[256];
    snprintf (ep, sizeof ep, "%s", bus_server_endpoint (t.srv));
    assert_non_null (strstr (ep, "tcp://127.0.0.1:"));
    pthread_t th;
    pthread_create (&th, NULL, s_server_thread, &t);

    env_t *req = s_ping_req (NULL);
    env_t *reply = NULL;
    assert_int_equal (bus_call (ep, req, &reply, 2000), 0);
    assert_int_equal (reply->body_case, COPILOT__V1__ENVELOPE__BODY_PING_REPLY);
    assert_string_equal (reply->ping_reply->service, "threaded");
    env_free (reply);
    env_free (req);

    t.stop = 1;
    pthread_join (th, NULL);
    bus_server_destroy (&t.srv);
    proc_zmq_ctx_term (&ctx);

    /* nobody listening: never connected → UNAVAILABLE at the deadline */
    req = s_ping_req (NULL);
    int64_t t0 = clock_mono_ms ();
    int rc = bus_call ("ipc:///tmp/copilot-test-nobody-here.sock", req, &reply, 200);
    int64_t took = clock_mono_ms () - t0;
    assert_int_equal (rc, BUS_E_UNAVAILABLE);
    assert_int_equal (env_error (reply)->code, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE);
    assert_true (took >= 195 && took < 600);
    env_free (reply);
    env_free (req);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_ping_roundtrip, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_unimplemented, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_server_deadline_and_bad_input, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_deadline, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_many_in_flight, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_deferred_reply, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_idempotent_resend, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_handler_failures, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_destroy_completes_pending, s_setup, s_teardown),
        cmocka_unit_test (test_bus_call_blocking),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
