/* cmd_ping.c — `copilot ping`: one Ping request to a daemon, for health
 * checks (docker-compose, scripts) and operators.
 *
 * The endpoint is --endpoint, or resolved like the daemons do from the
 * service name (config <service>.endpoint / COPILOT_<SERVICE>_ENDPOINT, else
 * ipc://<run_dir>/<service>.sock). Configuration (environment plus an
 * optional --config file) also supplies the CURVE client keys when
 * curve.enabled is true (bus_curve.h), so health checks work against an
 * encrypted cluster. The exit status is the health verdict: 0 when a
 * PingReply arrived and the daemon reports ready (--live: any PingReply),
 * 1 otherwise, 2 on usage errors. Output is one line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "bus_curve.h"
#include "cfg.h"
#include "cli.h"
#include "env.h"
#include "runtime.h"
#include "str.h"
#include "svc.h"

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot ping [SERVICE] [--endpoint EP] [--timeout-ms N] [--live]\n"
             "                    [--config FILE]\n"
             "\n"
             "Sends one Ping to a daemon and prints its name, readiness, version, pid, uptime\n"
             "and readiness detail. Exit status 0 when it answered and is ready (with --live:\n"
             "answered at all), 1 otherwise.\n"
             "\n"
             "options:\n"
             "  SERVICE          daemon name (report-service, event-bus, ...); its endpoint is\n"
             "                   <service>.endpoint / COPILOT_<SERVICE>_ENDPOINT, else\n"
             "                   ipc://<run_dir>/<service>.sock\n"
             "  --endpoint EP    ask this endpoint instead (tcp://host:port, ipc://path)\n"
             "  --timeout-ms N   deadline, 50..60000 (default 2000)\n"
             "  --live           liveness only: succeed even while the daemon is not ready\n"
             "  --config FILE    configuration file (endpoints, curve.* keys)\n"
             "  -h, --help       this text\n"
             "\n"
             "examples:\n"
             "  copilot ping report-service\n"
             "  COPILOT_RUN_DIR=data/run copilot ping event-bus --timeout-ms 500\n"
             "  copilot ping --endpoint tcp://127.0.0.1:5555 --live\n");
}

int
cmd_ping (int argc, char **argv)
{
    const char *endpoint = NULL, *timeout = "2000", *config = NULL;
    bool live = false;
    const char *pos[1] = {NULL};
    int npos = 0;
    cli_opt_t opts[] = {{"endpoint", &endpoint, NULL}, {"timeout-ms", &timeout, NULL},
                        {"config", &config, NULL},     {"live", NULL, &live},
                        {NULL, NULL, NULL}};
    int rc = cli_parse ("ping", argc, argv, 1, opts, pos, 1, &npos);
    if (rc == 1) {
        s_help (stdout);
        return CLI_OK;
    }
    if (rc != 0)
        return rc;
    int timeout_ms = 0;
    if (str_to_int (timeout, 50, 60000, &timeout_ms) != 0) {
        fprintf (stderr, "copilot ping: --timeout-ms: expected an integer in [50, 60000], got '%s'\n",
                 timeout);
        return CLI_USAGE;
    }
    const char *service = npos > 0 ? pos[0] : NULL;
    if (!endpoint && !service) {
        fprintf (stderr, "copilot ping: give a SERVICE name or --endpoint EP\n");
        s_help (stderr);
        return CLI_USAGE;
    }
    const char *err = NULL;
    cfg_t *cfg = cfg_new (config, &err);
    if (!cfg)
        return cli_error ("ping", "configuration: %s", err ? err : "cannot load");
    char ep[512];
    if (endpoint) {
        if (str_copy (ep, sizeof ep, endpoint) != 0) {
            cfg_destroy (&cfg);
            return cli_error ("ping", "--endpoint too long");
        }
    } else if (svc_endpoint_of (cfg, service, ep, sizeof ep) != 0) {
        cfg_destroy (&cfg);
        return cli_error ("ping", "cannot resolve the endpoint of %s", service);
    }
    bus_curve_t *curve = NULL;
    char cerr[512];
    if (bus_curve_from_cfg (cfg, NULL, &curve, cerr, sizeof cerr) != 0) {
        cfg_destroy (&cfg);
        return cli_error ("ping", "%s", cerr);
    }
    void *ctx = proc_zmq_ctx_new ();
    if (!ctx) {
        bus_curve_destroy (&curve);
        cfg_destroy (&cfg);
        return cli_error ("ping", "cannot create a zmq context");
    }
    int status = CLI_FAIL;
    bus_client_t *cli = NULL;
    env_t *req = NULL, *rep = NULL;
    if (curve && bus_curve_install (ctx, &curve) != 0) {
        cli_error ("ping", "CURVE: %s", bus_last_error ());
        goto done;
    }
    cli = bus_client_new (ctx, ep, "cli", service);
    if (!cli) {
        cli_error ("ping", "%s", bus_last_error ());
        goto done;
    }
    req = env_new ("cli");
    Copilot__V1__PingRequest *p = env_msg_new (&copilot__v1__ping_request__descriptor);
    if (!req || !p || env_set_body (req, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, p) != 0) {
        cli_error ("ping", "out of memory");
        goto done;
    }
    int crc = bus_client_call (cli, req, &rep, timeout_ms, BUS_CALL_IDEMPOTENT);
    if (crc == 0 && rep && rep->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY) {
        const Copilot__V1__PingReply *r = rep->ping_reply;
        printf ("%s %s version=%s pid=%d uptime_ms=%lld detail=\"%s\"\n",
                r->service[0] ? r->service : (service ? service : ep),
                r->ready ? "ready" : "not-ready", r->version, (int) r->pid,
                (long long) r->uptime_ms, r->detail);
        status = r->ready || live ? CLI_OK : CLI_FAIL;
    } else {
        const char *why = rep && env_is_error (rep) ? env_error (rep)->message : bus_strerror (crc);
        printf ("%s down (%s): %s\n", service ? service : ep, ep, why);
    }
done:
    fflush (stdout);
    env_free (req);
    env_free (rep);
    bus_client_destroy (&cli);
    bus_curve_uninstall (ctx);
    proc_zmq_ctx_term (&ctx);
    bus_curve_destroy (&curve);
    cfg_destroy (&cfg);
    return status;
}
