/* main.c — the gateway daemon.
 *
 * Built on the svc scaffold (common/include/svc.h): configuration, JSON
 * logging, the zmq context, clients to the backends, the event-bus
 * subscription and the SIGTERM drain come from there; gw_app wires the HTTP
 * side. Start-up prints "LISTEN http://host:port" (and, on the first start
 * with generated tokens, "LOCAL-TOKEN admin=... file=...") before svc_run
 * prints "READY gateway <endpoint>". Exit codes are runtime.h's PROC_EXIT_*.
 */
#include <stdio.h>

#include "gw_app.h"
#include "svc.h"

int
main (int argc, char **argv)
{
    int rc;
    svc_t *svc = svc_new ("gateway", argc, argv, &rc);
    if (!svc)
        return rc;
    char err[512] = "";
    gw_app_t *app = gw_app_new (svc, &rc, err, sizeof err);
    if (!app) {
        log_error ("gateway.start", "%s", err);
        fprintf (stderr, "gateway: %s\n", err);
        svc_destroy (&svc);
        return rc;
    }
    rc = svc_run (svc);
    svc_destroy (&svc);
    gw_app_destroy (&app);
    return rc;
}
