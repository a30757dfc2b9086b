/* gw_stall_backend.c — a test daemon named "gw-stall" that accepts every
 * gateway-facing request (ListReports, RunReport, Subgraph, Neighbors,
 * Search, Explain, Commentary) and never answers it, so the gateway's
 * deadline path (504) can be tested against a live, reachable backend. Ping
 * and Metrics are answered normally (svc built-ins), so readiness is true.
 * Held requests are released when the drain starts, so SIGTERM exits 0.
 */
#include <stdio.h>

#include "svc.h"

#define MAX_HELD 4096

static bus_request_t *s_held[MAX_HELD];
static int s_nheld;

static int
s_stall (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) req;
    (void) reply;
    (void) arg;
    bus_request_t *rq = svc_defer (svc);
    if (s_nheld < MAX_HELD)
        s_held[s_nheld++] = rq;
    else
        bus_request_destroy (&rq);
    return SVC_DEFERRED;
}

static void
s_release (svc_t *svc, void *arg)
{
    (void) svc;
    (void) arg;
    for (int i = 0; i < s_nheld; i++)
        bus_request_destroy (&s_held[i]);
    s_nheld = 0;
}

int
main (int argc, char **argv)
{
    int rc;
    svc_t *svc = svc_new ("gw-stall", argc, argv, &rc);
    if (!svc)
        return rc;
    const int cases[] = { COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REQUEST,
                          COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST,
                          COPILOT__V1__ENVELOPE__BODY_SUBGRAPH_REQUEST,
                          COPILOT__V1__ENVELOPE__BODY_NEIGHBORS_REQUEST,
                          COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST,
                          COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REQUEST,
                          COPILOT__V1__ENVELOPE__BODY_COMMENTARY_REQUEST };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        svc_on (svc, cases[i], s_stall, NULL);
    svc_on_stop (svc, s_release, NULL);
    rc = svc_run (svc);
    svc_destroy (&svc);
    return rc;
}
