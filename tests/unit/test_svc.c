/* test_svc.c — the daemon scaffold in one process: command-line handling and
 * exit codes, endpoint resolution, built-in Ping/Metrics, UNIMPLEMENTED for
 * bodies without handlers, a deferred handler, timers, and the SIGTERM-style
 * drain (finished in time → 0, grace period exceeded → DRAIN_TIMEOUT). The
 * daemon calls itself through svc_send, so everything runs on its loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <unistd.h>

#include "clock.h"
#include "svc.h"

static char s_dir[128];

static int s_group_setup (void **state)
{
    (void) state;
    snprintf (s_dir, sizeof s_dir, "/tmp/copilot-test-svc-%d", (int) getpid ());
    setenv ("COPILOT_RUN_DIR", s_dir, 1);
    return 0;
}

static int s_group_teardown (void **state)
{
    (void) state;
    char p[256];
    snprintf (p, sizeof p, "%s/test-svc.sock", s_dir);
    unlink (p);
    rmdir (s_dir);
    return 0;
}

static void test_command_line (void **state)
{
    (void) state;
    int rc = -1;
    char *a1[] = { "x", "--help", NULL };
    assert_null (svc_new ("test-svc", 2, a1, &rc));
    assert_int_equal (rc, PROC_EXIT_OK);
    char *a2[] = { "x", "--bogus", NULL };
    assert_null (svc_new ("test-svc", 2, a2, &rc));
    assert_int_equal (rc, PROC_EXIT_USAGE);
    char *a3[] = { "x", "--set", "novalue", NULL };
    assert_null (svc_new ("test-svc", 3, a3, &rc));
    assert_int_equal (rc, PROC_EXIT_USAGE);
    char *a4[] = { "x", "--config", NULL };
    assert_null (svc_new ("test-svc", 2, a4, &rc));
    assert_int_equal (rc, PROC_EXIT_USAGE);
    char *a5[] = { "x", "--config", "/nonexistent/copilot.conf", NULL };
    assert_null (svc_new ("test-svc", 3, a5, &rc));
    assert_int_equal (rc, PROC_EXIT_CONFIG);
    setenv ("COPILOT_LOG_LEVEL", "loud", 1);
    char *a6[] = { "x", NULL };
    assert_null (svc_new ("test-svc", 1, a6, &rc));
    assert_int_equal (rc, PROC_EXIT_CONFIG);
    unsetenv ("COPILOT_LOG_LEVEL");
    char *a7[] = { "x", "--endpoint", "bogus://nowhere", NULL };
    assert_null (svc_new ("test-svc", 3, a7, &rc));
    assert_int_equal (rc, PROC_EXIT_BIND);
}

static void test_endpoint_resolution (void **state)
{
    (void) state;
    setenv ("COPILOT_REPORT_SERVICE_ENDPOINT", "tcp://127.0.0.1:7001", 1);
    setenv ("COPILOT_BUS_SUB_ENDPOINT", "tcp://127.0.0.1:7100", 1);
    cfg_t *cfg = cfg_new (NULL, NULL);
    char out[256], pub[256], sub[256];
    assert_int_equal (svc_endpoint_of (cfg, "report-service", out, sizeof out), 0);
    assert_string_equal (out, "tcp://127.0.0.1:7001");
    assert_int_equal (svc_endpoint_of (cfg, "graph-service", out, sizeof out), 0);
    char want[256];
    snprintf (want, sizeof want, "ipc://%s/graph-service.sock", s_dir);
    assert_string_equal (out, want);
    assert_int_equal (svc_bus_endpoints (cfg, pub, sub, sizeof pub), 0);
    snprintf (want, sizeof want, "ipc://%s/bus-pub.sock", s_dir);
    assert_string_equal (pub, want);
    assert_string_equal (sub, "tcp://127.0.0.1:7100");
    assert_int_equal (svc_key ("llm-gateway", out, sizeof out), 0);
    assert_string_equal (out, "llm_gateway");
    cfg_destroy (&cfg);
    unsetenv ("COPILOT_REPORT_SERVICE_ENDPOINT");
    unsetenv ("COPILOT_BUS_SUB_ENDPOINT");
    /* default run dir */
    unsetenv ("COPILOT_RUN_DIR");
    cfg = cfg_new (NULL, NULL);
    assert_int_equal (svc_run_dir (cfg, out, sizeof out), 0);
    snprintf (want, sizeof want, "/tmp/copilot-%u", (unsigned) getuid ());
    assert_string_equal (out, want);
    cfg_destroy (&cfg);
    setenv ("COPILOT_RUN_DIR", s_dir, 1);
}

/* ---- a scripted conversation with itself ------------------------------------ */

typedef struct {
    int step;
    int failures;
    char note[256];
    bus_request_t *kept;
    int64_t reply_after_ms;   /* deferred handler answers after this long */
    int answered;             /* deferred answers sent */
    int64_t stop_at;
} script_t;

static void s_fail (script_t *s, const char *what)
{
    s->failures++;
    snprintf (s->note, sizeof s->note, "step %d: %s", s->step, what);
}

static void s_next (svc_t *svc, script_t *s);

static void s_on_reply (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    svc_t *svc = ((void **) arg)[0];
    script_t *s = ((void **) arg)[1];
    switch (s->step) {
    case 1:   /* Ping */
        if (status != 0 || reply->body_case != COPILOT__V1__ENVELOPE__BODY_PING_REPLY)
            s_fail (s, "ping failed");
        else if (strcmp (reply->ping_reply->service, "test-svc") != 0 || !reply->ping_reply->ready
                 || reply->ping_reply->pid != (int) getpid ()
                 || strcmp (reply->ping_reply->detail, "[+]unit ok") != 0)
            s_fail (s, "ping reply fields wrong");
        break;
    case 2:   /* Metrics */
        if (status != 0 || reply->body_case != COPILOT__V1__ENVELOPE__BODY_METRICS_REPLY)
            s_fail (s, "metrics failed");
        else if (!strstr (reply->metrics_reply->text,
                          "copilot_requests_total{service=\"test-svc\",method=\"ping_request\",code=\"ok\"} 1\n"))
            s_fail (s, "metrics text lacks the ping counter");
        else if (!strstr (reply->metrics_reply->text, "copilot_build_info{service=\"test-svc\""))
            s_fail (s, "metrics text lacks build info");
        break;
    case 3:   /* Explain: no handler */
        if (!env_is_error (reply)
            || env_error (reply)->code != COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED
            || strcmp (env_error (reply)->message, "test-svc does not implement explain_request yet"))
            s_fail (s, "explain not UNIMPLEMENTED");
        break;
    case 4:   /* deferred RunReport */
        if (status != 0 || !env_is_error (reply)
            || env_error (reply)->code != COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND
            || strcmp (env_error (reply)->message, "deferred answer"))
            s_fail (s, "deferred reply wrong");
        break;
    default:
        break;
    }
    env_free (reply);
    s_next (svc, s);
}

static void *s_ctx[2];

static void s_send_body (svc_t *svc, int body_case, const ProtobufCMessageDescriptor *d)
{
    env_t *req = env_new ("test-svc");
    env_set_body (req, body_case, env_msg_new (d));
    if (svc_send (svc, "test-svc", req, 2000, 0, s_on_reply, s_ctx) != 0)
        s_fail (s_ctx[1], "svc_send failed");
    env_free (req);
}

static void s_next (svc_t *svc, script_t *s)
{
    s->step++;
    switch (s->step) {
    case 1: s_send_body (svc, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, &copilot__v1__ping_request__descriptor); break;
    case 2: s_send_body (svc, COPILOT__V1__ENVELOPE__BODY_METRICS_REQUEST, &copilot__v1__metrics_request__descriptor); break;
    case 3: s_send_body (svc, COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REQUEST, &copilot__v1__explain_request__descriptor); break;
    case 4: s_send_body (svc, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, &copilot__v1__run_report_request__descriptor); break;
    default: svc_stop (svc); break;
    }
}

static void s_answer_kept (svc_t *svc, void *arg)
{
    (void) svc;
    script_t *s = arg;
    if (!s->kept)
        return;
    env_t *reply = env_new ("test-svc");
    env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND, NULL, "deferred answer");
    if (bus_request_reply (&s->kept, reply) != 0)
        s->failures++;
    s->answered++;
    env_free (reply);
}

static int s_on_run_report (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) req;
    (void) reply;
    script_t *s = arg;
    s->kept = svc_defer (svc);
    if (!s->kept)
        return -1;
    svc_add_timer (svc, (uint64_t) s->reply_after_ms, 0, s_answer_kept, s);
    if (s->step == 99)
        svc_stop (svc);   /* drain tests: stop while this request is in flight */
    return SVC_DEFERRED;
}

static void s_start (svc_t *svc, void *arg)
{
    s_next (svc, arg);
}

static void test_conversation (void **state)
{
    (void) state;
    proc_reset ();
    int rc = -1;
    char *argv[] = { "test-svc", "--set", "test_svc.drain_ms=300", NULL };
    svc_t *svc = svc_new ("test-svc", 3, argv, &rc);
    assert_non_null (svc);
    assert_int_equal (rc, 0);
    char want[256];
    snprintf (want, sizeof want, "ipc://%s/test-svc.sock", s_dir);
    assert_string_equal (svc_endpoint (svc), want);
    script_t s = { .reply_after_ms = 20 };
    s_ctx[0] = svc;
    s_ctx[1] = &s;
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, s_on_run_report, &s);
    svc_set_ready (svc, true, "[+]unit ok");
    assert_true (svc_add_timer (svc, 1, 0, s_start, &s) > 0);
    int64_t t0 = clock_mono_ms ();
    rc = svc_run (svc);
    assert_int_equal (s.failures, 0);
    if (s.failures)
        fprintf (stderr, "%s\n", s.note);
    assert_int_equal (s.step, 5);
    assert_int_equal (rc, PROC_EXIT_OK);
    assert_true (clock_mono_ms () - t0 < 3000);
    svc_destroy (&svc);
    assert_null (svc);
}

/* Stop while a deferred request is in flight. */
static void s_stop_now (svc_t *svc, void *arg)
{
    (void) arg;
    svc_stop (svc);
}

static void s_kick_deferred (svc_t *svc, void *arg)
{
    script_t *s = arg;
    s->step = 99;   /* replies are ignored by the script; the handler stops the daemon */
    s_send_body (svc, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST,
                 &copilot__v1__run_report_request__descriptor);
    svc_add_timer (svc, 5000, 0, s_stop_now, NULL);   /* safety net only */
}

static int s_run_drain (int64_t reply_after_ms, const char *drain, int *answered)
{
    proc_reset ();
    int rc = -1;
    char set[64];
    snprintf (set, sizeof set, "test_svc.drain_ms=%s", drain);
    char *argv[] = { "test-svc", "--set", set, NULL };
    svc_t *svc = svc_new ("test-svc", 3, argv, &rc);
    assert_non_null (svc);
    script_t s = { .reply_after_ms = reply_after_ms };
    s_ctx[0] = svc;
    s_ctx[1] = &s;
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, s_on_run_report, &s);
    svc_add_timer (svc, 1, 0, s_kick_deferred, &s);
    int64_t t0 = clock_mono_ms ();
    rc = svc_run (svc);
    int64_t took = clock_mono_ms () - t0;
    *answered = s.answered;
    bus_request_destroy (&s.kept);   /* abandoned by the drain timeout */
    svc_destroy (&svc);
    fprintf (stderr, "# drain (reply after %lld ms, grace %s ms): exit %d in %lld ms\n",
             (long long) reply_after_ms, drain, rc, (long long) took);
    assert_true (took < 1500);
    return rc;
}

static void test_drain_waits_for_deferred (void **state)
{
    (void) state;
    int answered = -1;
    assert_int_equal (s_run_drain (150, "800", &answered), PROC_EXIT_OK);
    assert_int_equal (answered, 1);   /* the drain waited for the deferred reply */
}

static void test_drain_timeout (void **state)
{
    (void) state;
    int answered = -1;
    assert_int_equal (s_run_drain (1000, "50", &answered), PROC_EXIT_DRAIN_TIMEOUT);
    assert_int_equal (answered, 0);
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_command_line),
        cmocka_unit_test (test_endpoint_resolution),
        cmocka_unit_test (test_conversation),
        cmocka_unit_test (test_drain_waits_for_deferred),
        cmocka_unit_test (test_drain_timeout),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
