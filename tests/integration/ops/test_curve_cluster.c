/* test_curve_cluster.c — integration.curve: CURVE + ZAP between real
 * processes (event-bus and a svc daemon started with curve.* in their
 * environment, ipc endpoints in a temp dir).
 *
 *   1. keys: cluster server pair, the daemons' client pair, an operator
 *      client pair on curve.allowed_clients, a rogue pair nobody allows;
 *   2. the operator's subscriber on the event bus (CURVE client of the
 *      XPUB) receives the daemon's heartbeats and an event it publishes on
 *      request (PUB → XSUB and XPUB → SUB both encrypted and authenticated);
 *   3. the operator gets Ping replies; `copilot ping` with the operator key
 *      exits 0;
 *   4. the rogue key gets no reply and no events; `copilot ping` with it
 *      exits 1; both daemons log "zap.denied" with the rogue's fingerprint;
 *   5. a plaintext client gets no reply; `copilot ping` without CURVE exits 1;
 *   6. a daemon with a malformed secret exits 3 naming the key, not the value;
 *   7. SIGTERM: everyone exits 0; no key text (public or secret) appears in
 *      any log.
 *
 * Usage: test_curve_cluster <event-bus> <bus_test_daemon> <copilot>
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "bus_curve.h"
#include "clock.h"
#include "ops_proc.h"
#include "pubsub.h"
#include "runtime.h"
#include "str.h"

typedef struct {
    char pub[41], sec[41];
} kp_t;

static kp_t s_srv, s_dmn, s_op, s_rogue;

static void *s_ctx_for (const kp_t *client)
{
    void *ctx = proc_zmq_ctx_new ();
    OPS_CHECK (ctx != NULL, "zmq ctx");
    if (client) {
        bus_curve_t *c = bus_curve_new ();
        OPS_CHECK (bus_curve_set_client_secret (c, client->sec, NULL) == 0, "client key");
        OPS_CHECK (bus_curve_set_server_public (c, s_srv.pub) == 0, "server key");
        OPS_CHECK (bus_curve_install (ctx, &c) == 0, "install");
    }
    return ctx;
}

static void s_ctx_done (void **ctx)
{
    bus_curve_uninstall (*ctx);
    proc_zmq_ctx_term (ctx);
}

static int s_ping (void *ctx, const char *ep, int timeout_ms)
{
    bus_client_t *c = bus_client_new (ctx, ep, "curve-test", NULL);
    OPS_CHECK (c != NULL, "client: %s", bus_last_error ());
    env_t *req = ops_ping_req (), *rep = NULL;
    int rc = bus_client_call (c, req, &rep, timeout_ms, 0);
    bool ok = rc == 0 && rep && rep->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY;
    env_free (req);
    env_free (rep);
    bus_client_destroy (&c);
    return ok ? 0 : -1;
}

typedef struct {
    int heartbeats, events;
} evs_t;

static void s_on_event (pubsub_sub_t *sub, const char *topic, env_t *env, void *arg)
{
    (void) sub;
    evs_t *e = arg;
    if (str_starts_with (topic, "hb.data."))
        e->heartbeats++;
    else if (strcmp (topic, "data.changed.v1") == 0)
        e->events++;
    env_free (env);
}

/* Runs `copilot ping <ep>` with extra environment assignments; exit code. */
static int s_cli_ping (const char *copilot, const char *ep, const char *secret, const char *enabled)
{
    pid_t pid = fork ();
    OPS_CHECK (pid >= 0, "fork");
    if (pid == 0) {
        setenv ("COPILOT_CURVE_ENABLED", enabled, 1);
        setenv ("COPILOT_CURVE_CLIENT_SECRET", secret, 1);
        unsetenv ("COPILOT_CURVE_SERVER_SECRET");   /* a client needs only the public key */
        setenv ("COPILOT_CURVE_SERVER_PUBLIC", s_srv.pub, 1);
        int devnull = open ("/dev/null", O_WRONLY);
        dup2 (devnull, 1);
        execl (copilot, copilot, "ping", "--endpoint", ep, "--timeout-ms", "1500", (char *) NULL);
        _exit (127);
    }
    int st;
    waitpid (pid, &st, 0);
    return WIFEXITED (st) ? WEXITSTATUS (st) : 128;
}

int main (int argc, char **argv)
{
    if (argc < 4) {
        fprintf (stderr, "usage: %s <event-bus> <bus_test_daemon> <copilot>\n", argv[0]);
        return 2;
    }
    if (!zmq_has ("curve")) {
        fprintf (stderr, "libzmq without CURVE: skipped\n");
        return 77;
    }
    ops_init ("curve");
    bus_curve_keypair (s_srv.pub, s_srv.sec);
    bus_curve_keypair (s_dmn.pub, s_dmn.sec);
    bus_curve_keypair (s_op.pub, s_op.sec);
    bus_curve_keypair (s_rogue.pub, s_rogue.sec);
    char run_dir[600];
    str_fmt (run_dir, sizeof run_dir, "%s/run", ops_dir ());
    setenv ("COPILOT_RUN_DIR", run_dir, 1);
    /* COPILOT_CURVE_ENABLED is set only around spawns: this process's own
     * plaintext context must not pick up the environment default. */
    setenv ("COPILOT_CURVE_ENABLED", "true", 1);
    setenv ("COPILOT_CURVE_SERVER_SECRET", s_srv.sec, 1);
    setenv ("COPILOT_CURVE_SERVER_PUBLIC", s_srv.pub, 1);
    setenv ("COPILOT_CURVE_CLIENT_SECRET", s_dmn.sec, 1);
    setenv ("COPILOT_CURVE_ALLOWED_CLIENTS", s_op.pub, 1);

    ops_proc_t *bus = ops_spawn ("event-bus", (char *[]){argv[1], NULL});
    ops_wait_ready (bus, 15000);
    ops_proc_t *dmn = ops_spawn ("curve-a", (char *[]){argv[2], (char *) "--as", (char *) "curve-a", NULL});
    ops_wait_ready (dmn, 15000);
    unsetenv ("COPILOT_CURVE_ENABLED");
    char sub_ep[700];
    str_fmt (sub_ep, sizeof sub_ep, "ipc://%s/bus-sub.sock", run_dir);

    /* 2 + 3: the operator. */
    void *op = s_ctx_for (&s_op);
    evs_t oev = {0, 0};
    pubsub_sub_t *osub = pubsub_sub_new (op, sub_ep, "operator", s_on_event, &oev);
    OPS_CHECK (osub != NULL, "subscriber: %s", bus_last_error ());
    pubsub_sub_subscribe (osub, "data.");
    pubsub_sub_subscribe (osub, "hb.data.");   /* heartbeats are delivered only when asked for */
    int64_t end = clock_mono_ms () + 6000;
    while (oev.heartbeats == 0 && clock_mono_ms () < end)
        pubsub_sub_poll (osub, 50);
    OPS_CHECK (oev.heartbeats > 0, "no heartbeat through the CURVE event bus in 6 s");
    OPS_CHECK (s_ping (op, bus->endpoint, 3000) == 0, "operator Ping event-bus");
    OPS_CHECK (s_ping (op, dmn->endpoint, 3000) == 0, "operator Ping curve-a");
    {
        bus_client_t *c = bus_client_new (op, dmn->endpoint, "curve-test", NULL);
        env_t *req = env_new ("curve-test"), *rep = NULL;
        Copilot__V1__DataChanged *dc = env_msg_new (&copilot__v1__data_changed__descriptor);
        env_set_str (&dc->reason, "curve");
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED, dc);
        OPS_CHECK (bus_client_call (c, req, &rep, 3000, 0) == 0 && !env_is_error (rep),
                   "DataChanged over CURVE");
        env_free (req);
        env_free (rep);
        bus_client_destroy (&c);
        end = clock_mono_ms () + 3000;
        while (oev.events == 0 && clock_mono_ms () < end)
            pubsub_sub_poll (osub, 50);
        OPS_CHECK (oev.events == 1, "event through the CURVE bus: %d", oev.events);
    }
    OPS_CHECK (s_cli_ping (argv[3], dmn->endpoint, s_op.sec, "true") == 0,
               "copilot ping with the operator key");

    /* 4: the rogue. */
    void *rogue = s_ctx_for (&s_rogue);
    evs_t rev = {0, 0};
    pubsub_sub_t *rsub = pubsub_sub_new (rogue, sub_ep, "rogue", s_on_event, &rev);
    OPS_CHECK (rsub != NULL, "rogue subscriber");
    pubsub_sub_subscribe (rsub, "data.");
    pubsub_sub_subscribe (rsub, "hb.data.");
    OPS_CHECK (s_ping (rogue, dmn->endpoint, 800) != 0, "rogue got a Ping reply");
    end = clock_mono_ms () + 1500;
    while (clock_mono_ms () < end)
        pubsub_sub_poll (rsub, 50);
    OPS_CHECK (rev.heartbeats == 0 && rev.events == 0, "rogue received %d events", rev.heartbeats);
    OPS_CHECK (s_cli_ping (argv[3], dmn->endpoint, s_rogue.sec, "true") == 1,
               "copilot ping with the rogue key must fail");
    char fp[BUS_CURVE_FP_LEN + 1];
    bus_curve_fingerprint (s_rogue.pub, fp, sizeof fp);
    OPS_CHECK (ops_log_contains (dmn, "\"event\":\"zap.denied\"") && ops_log_contains (dmn, fp),
               "curve-a did not log the ZAP denial with fingerprint %s", fp);
    OPS_CHECK (ops_log_contains (bus, "\"event\":\"zap.denied\"") && ops_log_contains (bus, fp),
               "event-bus did not log the ZAP denial with fingerprint %s", fp);

    /* 5: plaintext. */
    void *plain = s_ctx_for (NULL);
    OPS_CHECK (s_ping (plain, dmn->endpoint, 800) != 0, "plaintext client got a reply");
    OPS_CHECK (s_cli_ping (argv[3], dmn->endpoint, s_op.sec, "false") == 1,
               "plaintext copilot ping must fail");

    pubsub_sub_destroy (&osub);
    pubsub_sub_destroy (&rsub);
    s_ctx_done (&op);
    s_ctx_done (&rogue);
    s_ctx_done (&plain);

    /* 6: misconfiguration names the key, never the value. */
    setenv ("COPILOT_CURVE_ENABLED", "true", 1);
    setenv ("COPILOT_CURVE_SERVER_SECRET", "abcdefghij-not-a-key-abcdefghij-zzzzzzzzz", 1);
    ops_proc_t *bad = ops_spawn ("curve-bad", (char *[]){argv[2], (char *) "--as", (char *) "curve-bad", NULL});
    int st = ops_wait_exit (bad, 10000);
    OPS_CHECK (st == PROC_EXIT_CONFIG, "malformed secret: exit %d, want %d", st, PROC_EXIT_CONFIG);
    OPS_CHECK (ops_log_contains (bad, "COPILOT_CURVE_SERVER_SECRET"), "message names the key");
    OPS_CHECK (!ops_log_contains (bad, "not-a-key"), "message must not echo the value");
    setenv ("COPILOT_CURVE_SERVER_SECRET", s_srv.sec, 1);

    /* 7: clean exits, no key text anywhere. */
    OPS_CHECK (ops_stop (dmn, 3000) == 0, "curve-a exit status");
    OPS_CHECK (ops_stop (bus, 3000) == 0, "event-bus exit status");
    const kp_t *all[] = {&s_srv, &s_dmn, &s_op, &s_rogue};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        for (int k = 0; k < ops_nprocs (); k++) {
            OPS_CHECK (!ops_log_contains (ops_proc (k), all[i]->pub), "public key in %s's log",
                       ops_proc (k)->name);
            OPS_CHECK (!ops_log_contains (ops_proc (k), all[i]->sec), "secret key in %s's log",
                       ops_proc (k)->name);
        }
    ops_finish ();
    printf ("curve cluster: ok\n");
    return 0;
}
