/* test_bus_curve.c — CURVE policies and the ZAP handler over real tcp
 * sockets: an allow-listed client gets Ping replies; an unknown key and a
 * plaintext client get none (local deadline/unavailable error) and the
 * server counts and logs the ZAP denial; per-target server keys; the
 * process default policy used by bus_call; pub/sub with CURVE; config
 * validation messages; and no key text ever appears in the log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "bus_curve.h"
#include "cfg.h"
#include "clock.h"
#include "log.h"
#include "pubsub.h"
#include "runtime.h"

typedef struct {
    char pub[41], sec[41];
} kp_t;

static kp_t s_server, s_client_ok, s_client_bad, s_server_other;
static char s_log_path[256];
static int s_log_fd = -1;

/* ---- a CURVE server in its own thread and context ------------------------ */

typedef struct {
    void *ctx;
    char endpoint[128];
    atomic_int state;     /* 0 starting, 1 running, -1 failed */
    atomic_bool stop;
    pthread_t thread;
    int pings;
} srv_t;

static int s_ping (bus_server_t *srv, bus_request_t *rq, const env_t *req, env_t *reply, void *arg)
{
    (void) srv;
    (void) rq;
    (void) req;
    srv_t *s = arg;
    s->pings++;
    Copilot__V1__PingReply *r = env_msg_new (&copilot__v1__ping_reply__descriptor);
    env_set_str (&r->service, "curve-srv");
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_PING_REPLY, r);
}

static void *s_server_main (void *arg)
{
    srv_t *s = arg;
    bus_server_t *srv = bus_server_new (s->ctx, "tcp://127.0.0.1:*", "curve-srv");
    if (!srv) {
        atomic_store (&s->state, -1);
        return NULL;
    }
    bus_server_on (srv, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_ping, s);
    snprintf (s->endpoint, sizeof s->endpoint, "%s", bus_server_endpoint (srv));
    atomic_store (&s->state, 1);
    while (!atomic_load (&s->stop))
        bus_server_poll (srv, 20);
    bus_server_destroy (&srv);
    return NULL;
}

static void s_server_start (srv_t *s, const kp_t *server_kp)
{
    memset (s, 0, sizeof *s);
    s->ctx = proc_zmq_ctx_new ();
    assert_non_null (s->ctx);
    bus_curve_t *c = bus_curve_new ();
    assert_int_equal (bus_curve_set_server_secret (c, server_kp->sec, server_kp->pub), 0);
    assert_int_equal (bus_curve_allow (c, s_client_ok.pub), 0);
    assert_int_equal (bus_curve_install (s->ctx, &c), 0);
    assert_null (c);
    assert_int_equal (pthread_create (&s->thread, NULL, s_server_main, s), 0);
    while (atomic_load (&s->state) == 0)
        clock_sleep_ms (2);
    assert_int_equal (atomic_load (&s->state), 1);
}

static void s_server_stop (srv_t *s)
{
    atomic_store (&s->stop, true);
    pthread_join (s->thread, NULL);
    bus_curve_uninstall (s->ctx);
    proc_zmq_ctx_term (&s->ctx);
}

/* A client context with the given client keys (NULL = plaintext). */
static void *s_client_ctx (const kp_t *client, const char *server_pub)
{
    void *ctx = proc_zmq_ctx_new ();
    assert_non_null (ctx);
    if (client) {
        bus_curve_t *c = bus_curve_new ();
        assert_int_equal (bus_curve_set_client_secret (c, client->sec, client->pub), 0);
        assert_int_equal (bus_curve_set_server_public (c, server_pub), 0);
        assert_int_equal (bus_curve_install (ctx, &c), 0);
    }
    return ctx;
}

static env_t *s_ping_req (void)
{
    env_t *e = env_new ("tc");
    env_set_body (e, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST,
                  env_msg_new (&copilot__v1__ping_request__descriptor));
    return e;
}

/* Ping through a fresh client in ctx; returns the call status and whether a
 * PingReply came back. */
static int s_call_ping (void *ctx, const char *ep, const char *target, int timeout_ms, bool *got)
{
    bus_client_t *cli = bus_client_new (ctx, ep, "tc", target);
    assert_non_null (cli);
    env_t *req = s_ping_req (), *rep = NULL;
    int rc = bus_client_call (cli, req, &rep, timeout_ms, 0);
    *got = rep && rep->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY;
    if (rc != 0) {
        assert_non_null (rep);
        assert_true (env_is_error (rep));
        int code = env_error (rep)->code;
        assert_true (code == COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED
                     || code == COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE);
    }
    env_free (req);
    env_free (rep);
    bus_client_destroy (&cli);
    return rc;
}

static char *s_read_log (void)
{
    FILE *f = fopen (s_log_path, "r");
    assert_non_null (f);
    static char text[1 << 20];
    size_t n = fread (text, 1, sizeof text - 1, f);
    fclose (f);
    text[n] = '\0';
    return text;
}

/* ---- tests --------------------------------------------------------------- */

static void test_keys (void **state)
{
    (void) state;
    kp_t k;
    for (int i = 0; i < 50; i++) {
        assert_int_equal (bus_curve_keypair (k.pub, k.sec), 0);
        assert_int_equal (strlen (k.pub), BUS_CURVE_KEY_LEN);
        assert_null (strchr (k.pub, '#'));
        assert_null (strchr (k.sec, '#'));
        assert_true (bus_curve_key_valid (k.pub));
        assert_true (bus_curve_key_valid (k.sec));
    }
    assert_false (bus_curve_key_valid ("short"));
    assert_false (bus_curve_key_valid ("                                        "));
    assert_false (bus_curve_key_valid (NULL));
    /* libzmq's documented test keys (zmq_curve(7)). */
    const char *srv_pub = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7";
    const char *srv_sec = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6";
    assert_true (bus_curve_key_valid (srv_pub));
    char fp[BUS_CURVE_FP_LEN + 1], fp2[BUS_CURVE_FP_LEN + 1];
    assert_int_equal (bus_curve_fingerprint (srv_pub, fp, sizeof fp), 0);
    assert_int_equal (strlen (fp), BUS_CURVE_FP_LEN);
    assert_int_equal (bus_curve_fingerprint (srv_pub, fp2, sizeof fp2), 0);
    assert_string_equal (fp, fp2);
    assert_int_equal (bus_curve_fingerprint ("nope", fp, sizeof fp), BUS_E_INVALID);
    bus_curve_t *c = bus_curve_new ();
    assert_int_equal (bus_curve_set_server_secret (c, srv_sec, srv_pub), 0);
    /* The matching public key of another pair is refused. */
    assert_int_equal (bus_curve_set_server_secret (c, srv_sec, s_client_ok.pub), BUS_E_INVALID);
    assert_null (strstr (bus_last_error (), s_client_ok.pub));
    assert_int_equal (bus_curve_set_client_secret (c, s_client_ok.sec, NULL), 0);
    assert_int_equal (bus_curve_allowed_count (c), 1);   /* own client key */
    bus_curve_destroy (&c);
    assert_null (c);
    bus_curve_destroy (&c);
}

static void test_allow_lists (void **state)
{
    (void) state;
    bus_curve_t *c = bus_curve_new ();
    char list[200];
    snprintf (list, sizeof list, "%s, %s  %s", s_client_ok.pub, s_client_bad.pub, s_client_ok.pub);
    assert_int_equal (bus_curve_allow_list (c, list), 0);
    assert_int_equal (bus_curve_allowed_count (c), 2);
    snprintf (list, sizeof list, "%s notakey", s_server.pub);
    assert_int_equal (bus_curve_allow_list (c, list), BUS_E_INVALID);
    assert_non_null (strstr (bus_last_error (), "entry 2"));
    assert_null (strstr (bus_last_error (), "notakey"));
    bus_curve_destroy (&c);

    char path[] = "/tmp/curve-allow-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    FILE *f = fdopen (fd, "w");
    fprintf (f, "# operators' workstation keys\n\n%s\n  %s,%s\n#\n", s_client_ok.pub,
             s_client_bad.pub, s_server.pub);
    fclose (f);
    c = bus_curve_new ();
    assert_int_equal (bus_curve_allow_file (c, path), 0);
    assert_int_equal (bus_curve_allowed_count (c), 3);
    bus_curve_destroy (&c);
    f = fopen (path, "w");
    fprintf (f, "%s\n\nbroken\n", s_client_ok.pub);
    fclose (f);
    c = bus_curve_new ();
    assert_int_equal (bus_curve_allow_file (c, path), BUS_E_INVALID);
    assert_non_null (strstr (bus_last_error (), ":3: entry 2"));
    bus_curve_destroy (&c);
    unlink (path);
}

static void test_from_cfg (void **state)
{
    (void) state;
    cfg_t *cfg = cfg_new (NULL, NULL);
    assert_non_null (cfg);
    bus_curve_t *c = (bus_curve_t *) 1;
    char err[512];
    assert_int_equal (bus_curve_from_cfg (cfg, "report-service", &c, err, sizeof err), 0);
    assert_null (c);   /* disabled by default */
    cfg_set (cfg, "curve.enabled", "true");
    assert_int_equal (bus_curve_from_cfg (cfg, "report-service", &c, err, sizeof err), BUS_E_INVALID);
    assert_non_null (strstr (err, "curve.server_secret (COPILOT_CURVE_SERVER_SECRET)"));
    cfg_set (cfg, "curve.server_secret", s_server.sec);
    cfg_set (cfg, "curve.server_public", s_client_ok.pub);   /* wrong half */
    assert_int_equal (bus_curve_from_cfg (cfg, "report-service", &c, err, sizeof err), BUS_E_INVALID);
    assert_non_null (strstr (err, "does not match"));
    assert_null (strstr (err, s_client_ok.pub));
    assert_null (strstr (err, s_server.sec));
    cfg_set (cfg, "curve.server_public", s_server.pub);
    assert_int_equal (bus_curve_from_cfg (cfg, "report-service", &c, err, sizeof err), BUS_E_INVALID);
    assert_non_null (strstr (err, "curve.client_secret"));
    cfg_set (cfg, "curve.client_secret", "x1234");
    assert_int_equal (bus_curve_from_cfg (cfg, "report-service", &c, err, sizeof err), BUS_E_INVALID);
    assert_non_null (strstr (err, "curve.client_secret (COPILOT_CURVE_CLIENT_SECRET): expected"));
    assert_null (strstr (err, "x1234"));
    cfg_set (cfg, "curve.client_secret", s_client_ok.sec);
    cfg_set (cfg, "curve.allowed_clients", s_client_bad.pub);
    assert_int_equal (bus_curve_from_cfg (cfg, "report-service", &c, err, sizeof err), 0);
    assert_non_null (c);
    assert_int_equal (bus_curve_allowed_count (c), 2);
    bus_curve_destroy (&c);
    /* The CLI (no service) needs no server secret. */
    cfg_t *cli = cfg_new (NULL, NULL);
    cfg_set (cli, "curve.enabled", "1");
    cfg_set (cli, "curve.client_secret", s_client_ok.sec);
    cfg_set (cli, "curve.server_public", s_server.pub);
    assert_int_equal (bus_curve_from_cfg (cli, NULL, &c, err, sizeof err), 0);
    assert_non_null (c);
    bus_curve_destroy (&c);
    cfg_set (cli, "curve.allowed_clients_file", "/nonexistent/allowed");
    assert_int_equal (bus_curve_from_cfg (cli, NULL, &c, err, sizeof err), BUS_E_INVALID);
    assert_non_null (strstr (err, "curve.allowed_clients_file"));
    cfg_destroy (&cli);
    cfg_destroy (&cfg);
}

static void test_allowed_unknown_plaintext (void **state)
{
    (void) state;
    srv_t srv;
    s_server_start (&srv, &s_server);
    bool got = false;

    /* Allow-listed client: replies. */
    void *ok = s_client_ctx (&s_client_ok, s_server.pub);
    for (int i = 0; i < 3; i++) {
        assert_int_equal (s_call_ping (ok, srv.endpoint, "curve-srv", 3000, &got), 0);
        assert_true (got);
    }
    uint64_t allowed = 0, denied = 0;
    bus_curve_stats (srv.ctx, &allowed, &denied);
    assert_true (allowed >= 1);
    assert_int_equal (denied, 0);

    /* Unknown client key: never a reply, a ZAP denial on the server. */
    void *bad = s_client_ctx (&s_client_bad, s_server.pub);
    int64_t t0 = clock_mono_ms ();
    assert_int_not_equal (s_call_ping (bad, srv.endpoint, "curve-srv", 700, &got), 0);
    assert_false (got);
    assert_true (clock_mono_ms () - t0 < 2000);
    bus_curve_stats (srv.ctx, NULL, &denied);
    assert_true (denied >= 1);

    /* Right client key but the wrong server key: the handshake fails. */
    void *wrong_srv = s_client_ctx (&s_client_ok, s_server_other.pub);
    assert_int_not_equal (s_call_ping (wrong_srv, srv.endpoint, "curve-srv", 700, &got), 0);
    assert_false (got);

    /* Plaintext client: mechanism mismatch, no reply. */
    void *plain = s_client_ctx (NULL, NULL);
    assert_int_not_equal (s_call_ping (plain, srv.endpoint, "curve-srv", 700, &got), 0);
    assert_false (got);

    /* The allowed client still works after all that. */
    assert_int_equal (s_call_ping (ok, srv.endpoint, "curve-srv", 3000, &got), 0);
    assert_true (got);
    int pings = srv.pings;

    bus_curve_uninstall (ok);
    bus_curve_uninstall (bad);
    bus_curve_uninstall (wrong_srv);
    proc_zmq_ctx_term (&ok);
    proc_zmq_ctx_term (&bad);
    proc_zmq_ctx_term (&wrong_srv);
    proc_zmq_ctx_term (&plain);
    s_server_stop (&srv);
    assert_int_equal (pings, 4);   /* only the allowed client's requests ran */

    const char *log = s_read_log ();
    assert_non_null (strstr (log, "\"event\":\"zap.denied\""));
    char fp[BUS_CURVE_FP_LEN + 1];
    bus_curve_fingerprint (s_client_bad.pub, fp, sizeof fp);
    assert_non_null (strstr (log, fp));
}

/* Per-target server keys from the config, and the process default policy
 * that bus_call's private contexts use. */
static void test_peer_keys_and_default (void **state)
{
    (void) state;
    srv_t srv;
    s_server_start (&srv, &s_server_other);
    cfg_t *cfg = cfg_new (NULL, NULL);
    cfg_set (cfg, "curve.enabled", "on");
    cfg_set (cfg, "curve.client_secret", s_client_ok.sec);
    cfg_set (cfg, "curve.server_public", s_server.pub);              /* default: not this server */
    cfg_set (cfg, "curve_srv.curve_server_public", s_server_other.pub); /* per target */
    bus_curve_t *c = NULL;
    char err[256];
    assert_int_equal (bus_curve_from_cfg (cfg, NULL, &c, err, sizeof err), 0);
    void *ctx = proc_zmq_ctx_new ();
    assert_int_equal (bus_curve_install (ctx, &c), 0);
    bool got = false;
    assert_int_equal (s_call_ping (ctx, srv.endpoint, "curve-srv", 3000, &got), 0);
    assert_true (got);
    /* Without the target name the default key is used: handshake fails. */
    assert_int_not_equal (s_call_ping (ctx, srv.endpoint, NULL, 600, &got), 0);
    bus_curve_uninstall (ctx);
    proc_zmq_ctx_term (&ctx);

    /* Process default → bus_call works; without it, it does not. */
    assert_false (bus_curve_active (NULL));
    c = bus_curve_new ();
    bus_curve_set_client_secret (c, s_client_ok.sec, NULL);
    bus_curve_set_server_public (c, s_server_other.pub);
    assert_int_equal (bus_curve_install (NULL, &c), 0);
    assert_true (bus_curve_active (NULL));
    env_t *req = s_ping_req (), *rep = NULL;
    assert_int_equal (bus_call (srv.endpoint, req, &rep, 3000), 0);
    assert_int_equal (rep->body_case, COPILOT__V1__ENVELOPE__BODY_PING_REPLY);
    env_free (rep);
    bus_curve_uninstall (NULL);
    assert_false (bus_curve_active (NULL));
    assert_int_not_equal (bus_call (srv.endpoint, req, &rep, 500), 0);
    env_free (rep);
    env_free (req);
    s_server_stop (&srv);
    cfg_destroy (&cfg);
}

typedef struct {
    int n;
} sub_count_t;

static void s_on_msg (pubsub_sub_t *sub, const char *topic, env_t *env, void *arg)
{
    (void) sub;
    (void) topic;
    ((sub_count_t *) arg)->n++;
    env_free (env);
}

/* A bound publisher is a CURVE server; allowed subscribers receive, an
 * unknown key receives nothing. */
static void test_pubsub (void **state)
{
    (void) state;
    void *pctx = proc_zmq_ctx_new ();
    bus_curve_t *c = bus_curve_new ();
    bus_curve_set_server_secret (c, s_server.sec, NULL);
    bus_curve_allow (c, s_client_ok.pub);
    assert_int_equal (bus_curve_install (pctx, &c), 0);
    /* Find a free port for the '@' bind. */
    void *probe = zmq_socket (pctx, ZMQ_PUB);
    assert_int_equal (zmq_bind (probe, "tcp://127.0.0.1:*"), 0);
    char ep[128];
    size_t len = sizeof ep;
    zmq_getsockopt (probe, ZMQ_LAST_ENDPOINT, ep, &len);
    zmq_unbind (probe, ep);
    zmq_close (probe);
    char bind_ep[140];
    snprintf (bind_ep, sizeof bind_ep, "@%s", ep);
    pubsub_pub_t *pub = NULL;
    for (int i = 0; i < 100 && !pub; i++) {   /* the probe's port is released asynchronously */
        pub = pubsub_pub_new (pctx, bind_ep, "curve-pub");
        if (!pub)
            clock_sleep_ms (10);
    }
    if (!pub)
        fprintf (stderr, "pubsub_pub_new: %s\n", bus_last_error ());
    assert_non_null (pub);

    void *good = s_client_ctx (&s_client_ok, s_server.pub);
    void *bad = s_client_ctx (&s_client_bad, s_server.pub);
    sub_count_t gn = {0}, bn = {0};
    pubsub_sub_t *gs = pubsub_sub_new (good, ep, "good", s_on_msg, &gn);
    pubsub_sub_t *bs = pubsub_sub_new (bad, ep, "bad", s_on_msg, &bn);
    assert_non_null (gs);
    assert_non_null (bs);
    pubsub_sub_subscribe (gs, "alert.");
    pubsub_sub_subscribe (bs, "alert.");
    int64_t end = clock_mono_ms () + 5000;
    while (gn.n < 5 && clock_mono_ms () < end) {
        env_t *ev = s_ping_req ();
        pubsub_publish (pub, "alert.v1.high", ev);
        env_free (ev);
        pubsub_sub_poll (gs, 20);
        pubsub_sub_poll (bs, 0);
    }
    assert_true (gn.n >= 5);
    for (int i = 0; i < 10; i++)
        pubsub_sub_poll (bs, 20);
    assert_int_equal (bn.n, 0);
    uint64_t denied = 0;
    bus_curve_stats (pctx, NULL, &denied);
    assert_true (denied >= 1);
    pubsub_sub_destroy (&gs);
    pubsub_sub_destroy (&bs);
    pubsub_pub_destroy (&pub);
    bus_curve_uninstall (good);
    bus_curve_uninstall (bad);
    bus_curve_uninstall (pctx);
    proc_zmq_ctx_term (&good);
    proc_zmq_ctx_term (&bad);
    proc_zmq_ctx_term (&pctx);
}

/* Last: nothing any test did put key text into the log. */
static void test_no_keys_in_log (void **state)
{
    (void) state;
    const char *log = s_read_log ();
    assert_true (strlen (log) > 0);
    const kp_t *all[] = {&s_server, &s_client_ok, &s_client_bad, &s_server_other};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_null (strstr (log, all[i]->pub));
        assert_null (strstr (log, all[i]->sec));
    }
}

int main (void)
{
    if (!zmq_has ("curve")) {
        fprintf (stderr, "libzmq without CURVE: skipped\n");
        return 77;
    }
    bus_curve_keypair (s_server.pub, s_server.sec);
    bus_curve_keypair (s_client_ok.pub, s_client_ok.sec);
    bus_curve_keypair (s_client_bad.pub, s_client_bad.sec);
    bus_curve_keypair (s_server_other.pub, s_server_other.sec);
    snprintf (s_log_path, sizeof s_log_path, "/tmp/test_bus_curve-%d.log", (int) getpid ());
    s_log_fd = open (s_log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    log_init ("test-curve", LOG_DEBUG);
    log_set_fd (s_log_fd);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_keys),
        cmocka_unit_test (test_allow_lists),
        cmocka_unit_test (test_from_cfg),
        cmocka_unit_test (test_allowed_unknown_plaintext),
        cmocka_unit_test (test_peer_keys_and_default),
        cmocka_unit_test (test_pubsub),
        cmocka_unit_test (test_no_keys_in_log),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    close (s_log_fd);
    if (rc == 0)
        unlink (s_log_path);
    else
        fprintf (stderr, "log kept at %s\n", s_log_path);
    return rc;
}
