/* bus_test_daemon.c — a small real daemon on the svc scaffold for the bus
 * integration test (integration.bus_killrestart).
 *
 * Usage: bus_test_daemon [--as NAME] [svc options...]
 * Serves, besides the built-in Ping/Metrics:
 *   DataChanged (as a request) → publishes it on "data.changed.v1" through
 *       the event bus and echoes it back as the reply;
 *   RunReportRequest{report_id = "sleep:<ms>"} → first publishes
 *       "data.inflight.v1" (so the test knows the request is in flight), then
 *       defers and answers RunReportReply after <ms> from a timer.
 * It declares the "data" family at start so heartbeats flow immediately.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"
#include "svc.h"

typedef struct {
    bus_request_t *rq;
} slow_t;

static int s_on_data_changed (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) arg;
    env_t *ev = env_new (svc_name (svc));
    Copilot__V1__DataChanged *dc = env_msg_new (&copilot__v1__data_changed__descriptor);
    Copilot__V1__DataChanged *echo = env_msg_new (&copilot__v1__data_changed__descriptor);
    if (!ev || !dc || !echo)
        return -1;
    env_set_str (&dc->reason, req->data_changed->reason);
    env_set_str (&echo->reason, req->data_changed->reason);
    env_set_body (ev, COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED, dc);
    int rc = svc_publish (svc, "data.changed.v1", ev);
    env_free (ev);
    if (rc != 0) {
        protobuf_c_message_free_unpacked (&echo->base, NULL);
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE, NULL,
                       "publish failed: %s", bus_strerror (rc));
        return -1;
    }
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED, echo);
}

static void s_answer (svc_t *svc, void *arg)
{
    slow_t *s = arg;
    env_t *reply = env_new (svc_name (svc));
    Copilot__V1__RunReportReply *r = env_msg_new (&copilot__v1__run_report_reply__descriptor);
    if (reply && r && env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REPLY, r) == 0)
        bus_request_reply (&s->rq, reply);
    else
        bus_request_destroy (&s->rq);
    env_free (reply);
    free (s);
}

static int s_on_run_report (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) arg;
    const char *id = req->run_report_request->report_id;
    int ms = 0;
    if (!str_starts_with (id, "sleep:") || str_to_int (id + 6, 0, 60000, &ms) != 0) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "report_id",
                       "this test daemon only runs 'sleep:<ms>'");
        return -1;
    }
    env_t *ev = env_new (svc_name (svc));
    Copilot__V1__DataChanged *dc = env_msg_new (&copilot__v1__data_changed__descriptor);
    env_set_str (&dc->reason, "inflight");
    env_set_body (ev, COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED, dc);
    svc_publish (svc, "data.inflight.v1", ev);
    env_free (ev);
    slow_t *s = calloc (1, sizeof *s);
    if (!s)
        return -1;
    s->rq = svc_defer (svc);
    svc_add_timer (svc, (uint64_t) ms, 0, s_answer, s);
    return SVC_DEFERRED;
}

int main (int argc, char **argv)
{
    const char *name = "bus-test-daemon";
    if (argc >= 3 && strcmp (argv[1], "--as") == 0) {
        name = argv[2];
        argv[2] = argv[0];
        argv += 2;
        argc -= 2;
    }
    int rc;
    svc_t *svc = svc_new (name, argc, argv, &rc);
    if (!svc)
        return rc;
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED, s_on_data_changed, NULL);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, s_on_run_report, NULL);
    if (svc_declare_family (svc, "data") != 0) {
        svc_destroy (&svc);
        return PROC_EXIT_BIND;
    }
    rc = svc_run (svc);
    svc_destroy (&svc);
    return rc;
}
