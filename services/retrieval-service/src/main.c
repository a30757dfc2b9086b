/* main.c — the retrieval-service daemon (one replica of the retrieval pool).
 *
 * Start-up order: configuration → open the index directory (rt_index_open:
 * FAISS files, SQLite metadata, embedder; dimension checked) → only then
 * connect to the retrieval-router's backend and announce WorkerReady. A
 * replica therefore never receives work before its index is loaded. It also
 * answers Search (plus the built-in Ping/Metrics) directly on its own svc
 * endpoint, so a single replica can be used without a router.
 *
 * Router protocol (a DEALER connected to the router's ROUTER backend; the
 * routing id is the worker id). Frames, worker side:
 *   control   [""][Envelope]                    WorkerReady / WorkerHeartbeat /
 *                                               WorkerDisconnect (both ways)
 *   request   [""][tag][""][Envelope Search]    from the router; `tag` is an
 *   reply     [""][tag][""][Envelope reply]     opaque router frame echoed back
 * Heartbeats go both ways every retrieval.heartbeat_ms (default 1000); any
 * traffic from the router counts as one. When the router has been silent for
 * retrieval.liveness intervals (default 3) the worker closes its socket and
 * reconnects with exponential back-off (1 s doubling to 32 s), announcing
 * WorkerReady again (Paranoid Pirate, zguide ch. 4). On SIGTERM the worker
 * sends WorkerDisconnect so the router stops routing to it, then drains.
 *
 * Threading: everything runs on the svc loop thread; a search runs to
 * completion inside the read callback (milliseconds on our corpora), so a
 * replica serves one request at a time and the router's LRU queue does the
 * load balancing across replicas.
 *
 * Configuration (cfg.h keys; env COPILOT_<KEY>):
 *   retrieval.index_dir       index directory built by `copilot index` (required)
 *   retrieval.router.backend  router backend endpoint, "none" to run standalone
 *                             (default ipc://<run_dir>/retrieval-router-backend.sock)
 *   retrieval.heartbeat_ms / retrieval.liveness
 *   retrieval_service.worker_id   default <hostname>-<pid>
 *   plus every retrieval.* key of rt_config_load (embedder, dim, ef_search ...)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus_curve.h"
#include "bus_uv.h"
#include "clock.h"
#include "rt.h"
#include "str.h"
#include "svc.h"

#define SERVICE "retrieval-service"
#define MAX_TAG 64

typedef struct {
    svc_t *svc;
    rt_index_t *ix;
    char worker_id[128];
    char backend[512];
    int hb_ms, liveness;
    void *dealer;
    bus_uv_t *uv;
    int64_t last_router_ms;  /* last traffic from the router */
    int64_t reconnect_at_ms; /* 0 = connected */
    int64_t backoff_ms;
    bool stopping;
    metric_t *m_search, *m_search_err, *m_search_seconds, *m_reconnects, *m_routed;
} s_worker_t;

/* ------------------------------------------------------------------------ */
/* search                                                                    */

static Copilot__V1__ErrorCode
s_code (int rc)
{
    switch (rc) {
    case RT_E_ARG: return COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT;
    case RT_E_NOTFOUND: return COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND;
    case RT_E_TOOBIG: return COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED;
    case RT_E_DIM: return COPILOT__V1__ERROR_CODE__ERROR_FAILED_PRECONDITION;
    case RT_E_EMBED:
    case RT_E_HTTP: return COPILOT__V1__ERROR_CODE__ERROR_UPSTREAM;
    default: return COPILOT__V1__ERROR_CODE__ERROR_INTERNAL;
    }
}

/* Fills `reply` with a SearchReply (or an Error) for the SearchRequest in req. */
static int
s_do_search (s_worker_t *w, const env_t *req, env_t *reply)
{
    const Copilot__V1__SearchRequest *sr = req->search_request;
    if (!sr) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "search_request",
                       "empty SearchRequest");
        return -1;
    }
    rt_mode_t mode;
    if (rt_mode_parse (sr->mode, &mode) != RT_OK) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "mode", "%s", rt_last_error ());
        return -1;
    }
    rt_query_t q = {.corpus = sr->corpus,
                    .query = sr->query,
                    .k = sr->k == 0 ? 5 : (sr->k > 1000 ? 1000 : (int) sr->k),
                    .entity_ids = (const char *const *) sr->entity_ids,
                    .n_entity_ids = sr->n_entity_ids,
                    .mode = mode};
    int64_t t0 = clock_mono_ns ();
    rt_result_t *res = NULL;
    int rc = rt_index_search (w->ix, &q, &res);
    metric_observe (w->m_search_seconds, (double) (clock_mono_ns () - t0) / 1e9);
    if (rc != RT_OK) {
        metric_inc (w->m_search_err);
        env_set_error (reply, s_code (rc), rc == RT_E_ARG ? "search_request" : NULL, "%s", rt_last_error ());
        return -1;
    }
    metric_inc (w->m_search);
    Copilot__V1__SearchReply *out = env_msg_new (&copilot__v1__search_reply__descriptor);
    if (!out) {
        rt_result_destroy (&res);
        return -1;
    }
    int e = env_set_str (&out->embedder, rt_index_embedder (w->ix));
    e |= env_set_str (&out->index_version, rt_index_version (w->ix));
    e |= env_set_str (&out->served_by, w->worker_id);
    out->dim = (uint32_t) rt_index_dim (w->ix);
    for (size_t i = 0; i < rt_result_count (res) && e == 0; i++) {
        const rt_hit_t *h = rt_result_hit (res, i);
        Copilot__V1__SearchHit *hit = env_msg_new (&copilot__v1__search_hit__descriptor);
        if (!hit) {
            e = -1;
            break;
        }
        e |= env_set_str (&hit->doc_id, h->doc->doc_id);
        e |= env_set_str (&hit->corpus, h->doc->corpus);
        e |= env_set_str (&hit->title, h->doc->title);
        e |= env_set_str (&hit->url, h->doc->url);
        e |= env_set_str (&hit->anchor, h->doc->anchor);
        e |= env_set_str (&hit->text, h->doc->text);
        e |= env_set_str (&hit->type, h->doc->type);
        e |= env_set_str (&hit->meta_json, h->doc->meta_json);
        hit->score = h->score;
        hit->rank = (uint32_t) i + 1;
        const char *p = h->doc->entity_ids;
        while (*p && e == 0) {
            while (*p == ' ')
                p++;
            const char *s = p;
            while (*p && *p != ' ')
                p++;
            if (p > s) {
                char *id = str_ndup (s, (size_t) (p - s));
                if (!id || ENV_APPEND (hit->entity_ids, hit->n_entity_ids, id) != 0) {
                    free (id);
                    e = -1;
                }
            }
        }
        if (ENV_APPEND (out->hits, out->n_hits, hit) != 0) {
            protobuf_c_message_free_unpacked (&hit->base, NULL);
            e = -1;
        }
    }
    rt_result_destroy (&res);
    if (e != 0) {
        protobuf_c_message_free_unpacked (&out->base, NULL);
        return -1;
    }
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_SEARCH_REPLY, out);
}

static int
s_on_search (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) svc;
    return s_do_search (arg, req, reply);
}

/* ------------------------------------------------------------------------ */
/* router link                                                               */

static int
s_send_frames (void *sock, const void *const *parts, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        if (zmq_send (sock, parts[i], lens[i], (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
            return -1;
    return 0;
}

/* Sends a control envelope [""][Envelope] to the router. */
static int
s_send_control (s_worker_t *w, int body_case, void *msg)
{
    if (!w->dealer) {
        protobuf_c_message_free_unpacked (msg, NULL);
        return -1;
    }
    env_t *env = env_new (SERVICE);
    if (!env || env_set_body (env, body_case, msg) != 0) {
        env_free (env);
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = env_encode (env, &buf, &len);
    env_free (env);
    if (rc != 0)
        return -1;
    const void *parts[2] = {"", buf};
    size_t lens[2] = {0, len};
    rc = s_send_frames (w->dealer, parts, lens, 2);
    free (buf);
    return rc;
}

static void
s_send_ready (s_worker_t *w)
{
    Copilot__V1__WorkerReady *r = env_msg_new (&copilot__v1__worker_ready__descriptor);
    if (!r)
        return;
    env_set_str (&r->worker_id, w->worker_id);
    env_set_str (&r->index_version, rt_index_version (w->ix));
    for (int c = 0; c < 3; c++) {
        static const char *const names[3] = {RT_CORPUS_TELEMETRY, RT_CORPUS_DOCS, RT_CORPUS_RUNBOOKS};
        char *s = env_strdup (names[c]);
        if (!s || ENV_APPEND (r->corpora, r->n_corpora, s) != 0)
            free (s);
    }
    if (s_send_control (w, COPILOT__V1__ENVELOPE__BODY_WORKER_READY, r) == 0)
        log_info ("worker.ready", "announced READY to %s as %s (index %s)", w->backend, w->worker_id,
                  rt_index_version (w->ix));
}

static void
s_send_heartbeat (s_worker_t *w)
{
    Copilot__V1__WorkerHeartbeat *hb = env_msg_new (&copilot__v1__worker_heartbeat__descriptor);
    if (!hb)
        return;
    env_set_str (&hb->worker_id, w->worker_id);
    hb->unix_ms = clock_wall_ms ();
    s_send_control (w, COPILOT__V1__ENVELOPE__BODY_WORKER_HEARTBEAT, hb);
}

/* Reads one message from the router. */
static int
s_on_dealer (void *arg)
{
    s_worker_t *w = arg;
    zmq_msg_t parts[5];
    int n = 0, more = 1, rc = 1;
    while (more) {
        if (n == 5) { /* too many frames: drain and drop */
            zmq_msg_t junk;
            zmq_msg_init (&junk);
            zmq_msg_recv (&junk, w->dealer, 0);
            more = zmq_msg_more (&junk);
            zmq_msg_close (&junk);
            rc = 2;
            continue;
        }
        zmq_msg_init (&parts[n]);
        if (zmq_msg_recv (&parts[n], w->dealer, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int err = errno;
            zmq_msg_close (&parts[n]);
            for (int i = 0; i < n; i++)
                zmq_msg_close (&parts[i]);
            return err == EAGAIN ? 0 : -1;
        }
        more = zmq_msg_more (&parts[n]);
        n++;
    }
    w->last_router_ms = clock_mono_ms ();
    env_t *env = NULL;
    if (rc == 1 && n == 2 && zmq_msg_size (&parts[0]) == 0) {
        /* control from the router: heartbeat (liveness already refreshed) */
        if (env_decode (zmq_msg_data (&parts[1]), zmq_msg_size (&parts[1]), &env) == 0
            && env->body_case == COPILOT__V1__ENVELOPE__BODY_WORKER_DISCONNECT) {
            log_warn ("worker.router_disconnect", "router asked us to reconnect");
            w->last_router_ms = 0; /* forces a reconnect on the next tick */
        }
    } else if (rc == 1 && n == 4 && zmq_msg_size (&parts[0]) == 0 && zmq_msg_size (&parts[2]) == 0
               && zmq_msg_size (&parts[1]) <= MAX_TAG) {
        metric_inc (w->m_routed);
        int drc = env_decode (zmq_msg_data (&parts[3]), zmq_msg_size (&parts[3]), &env);
        env_t *reply = NULL;
        if (drc != 0) {
            reply = env_error_new (env, SERVICE, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT,
                                   "undecodable request: %s", env_strerror (drc));
        } else if (env_expired (env)) {
            reply = env_error_new (env, SERVICE, COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED,
                                   "deadline passed before the search started");
        } else if (env->body_case != COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST) {
            reply = env_error_new (env, SERVICE, COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED,
                                   "%s workers only serve Search through the router", SERVICE);
        } else {
            reply = env_reply_new (env, SERVICE);
            if (reply && s_do_search (w, env, reply) < 0 && reply->body_case == COPILOT__V1__ENVELOPE__BODY__NOT_SET)
                env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "search failed");
        }
        uint8_t *buf = NULL;
        size_t len = 0;
        if (reply && env_encode (reply, &buf, &len) == 0) {
            const void *fr[4] = {"", zmq_msg_data (&parts[1]), "", buf};
            size_t fl[4] = {0, zmq_msg_size (&parts[1]), 0, len};
            if (s_send_frames (w->dealer, fr, fl, 4) != 0)
                log_warn ("worker.reply_failed", "cannot send reply to router: %s", zmq_strerror (errno));
        }
        free (buf);
        env_free (reply);
    } else {
        log_warn ("worker.bad_frames", "dropped a %d-frame message from the router", n);
    }
    env_free (env);
    for (int i = 0; i < n; i++)
        zmq_msg_close (&parts[i]);
    return 1;
}

static void
s_disconnect (s_worker_t *w)
{
    bus_uv_destroy (&w->uv);
    bus_socket_close (&w->dealer);
}

static int
s_connect (s_worker_t *w)
{
    w->dealer = zmq_socket (svc_zctx (w->svc), ZMQ_DEALER);
    if (!w->dealer)
        return -1;
    if (bus_socket_defaults (w->dealer, false) != 0
        || bus_curve_apply (svc_zctx (w->svc), w->dealer, BUS_CURVE_CLIENT, "retrieval-router") != 0
        || zmq_setsockopt (w->dealer, ZMQ_ROUTING_ID, w->worker_id, strlen (w->worker_id)) != 0
        || zmq_connect (w->dealer, w->backend) != 0) {
        log_error ("worker.connect", "cannot connect to router backend %s: %s", w->backend, zmq_strerror (errno));
        bus_socket_close (&w->dealer);
        return -1;
    }
    w->uv = bus_uv_new (svc_loop (w->svc), w->dealer, s_on_dealer, w);
    if (!w->uv) {
        bus_socket_close (&w->dealer);
        return -1;
    }
    w->last_router_ms = clock_mono_ms ();
    w->reconnect_at_ms = 0;
    s_send_ready (w);
    return 0;
}

static void
s_tick (svc_t *svc, void *arg)
{
    (void) svc;
    s_worker_t *w = arg;
    if (w->stopping)
        return;
    int64_t now = clock_mono_ms ();
    if (w->reconnect_at_ms) {
        if (now >= w->reconnect_at_ms) {
            metric_inc (w->m_reconnects);
            if (s_connect (w) != 0)
                w->reconnect_at_ms = now + w->backoff_ms;
        }
        return;
    }
    if (now - w->last_router_ms > (int64_t) w->liveness * w->hb_ms) {
        log_warn ("worker.router_silent", "no traffic from the router for %lld ms; reconnecting in %lld ms",
                  (long long) (now - w->last_router_ms), (long long) w->backoff_ms);
        s_disconnect (w);
        w->reconnect_at_ms = now + w->backoff_ms;
        w->backoff_ms = w->backoff_ms * 2 > 32000 ? 32000 : w->backoff_ms * 2;
        return;
    }
    w->backoff_ms = 1000; /* healthy: reset the back-off */
    s_send_heartbeat (w);
}

static void
s_on_stop (svc_t *svc, void *arg)
{
    (void) svc;
    s_worker_t *w = arg;
    w->stopping = true;
    if (w->dealer) {
        Copilot__V1__WorkerDisconnect *d = env_msg_new (&copilot__v1__worker_disconnect__descriptor);
        if (d) {
            env_set_str (&d->worker_id, w->worker_id);
            env_set_str (&d->reason, "shutting down");
            s_send_control (w, COPILOT__V1__ENVELOPE__BODY_WORKER_DISCONNECT, d);
        }
    }
}

static void
s_on_close (svc_t *svc, void *arg)
{
    (void) svc;
    s_disconnect (arg);
}

int
main (int argc, char **argv)
{
    int rc;
    svc_t *svc = svc_new (SERVICE, argc, argv, &rc);
    if (!svc)
        return rc;
    cfg_t *cfg = svc_cfg (svc);
    s_worker_t w = {.svc = svc, .backoff_ms = 1000};
    rt_config_t rcfg;
    const char *index_dir = NULL, *backend = NULL, *wid = NULL;
    int64_t hb = 1000, live = 3;
    if (rt_config_load (cfg, &rcfg) != RT_OK) {
        log_error ("config", "%s", rt_last_error ());
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    if (cfg_require (cfg, "retrieval.index_dir", &index_dir) != 0
        || cfg_int (cfg, "retrieval.heartbeat_ms", 1000, 50, 60000, &hb) != 0
        || cfg_int (cfg, "retrieval.liveness", 3, 1, 100, &live) != 0
        || cfg_str (cfg, "retrieval_service.worker_id", NULL, &wid) != 0
        || cfg_str (cfg, "retrieval.router.backend", NULL, &backend) != 0) {
        log_error ("config", "%s", cfg_error (cfg));
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    w.hb_ms = (int) hb;
    w.liveness = (int) live;
    if (wid && *wid) {
        str_copy (w.worker_id, sizeof w.worker_id, wid);
    } else {
        char host[64] = "host";
        gethostname (host, sizeof host - 1);
        host[sizeof host - 1] = '\0';
        str_fmt (w.worker_id, sizeof w.worker_id, "%s-%ld", host, (long) getpid ());
    }
    if (backend && *backend) {
        str_copy (w.backend, sizeof w.backend, backend);
    } else {
        char dir[256];
        svc_run_dir (cfg, dir, sizeof dir);
        str_fmt (w.backend, sizeof w.backend, "ipc://%s/retrieval-router-backend.sock", dir);
    }

    metrics_t *m = svc_metrics (svc);
    w.m_search = metrics_counter (m, "copilot_retrieval_searches_total", "Searches answered.", NULL);
    w.m_search_err = metrics_counter (m, "copilot_retrieval_search_errors_total", "Searches that failed.", NULL);
    w.m_search_seconds = metrics_histogram (m, "copilot_retrieval_search_seconds", "Search latency.", NULL, NULL, 0);
    w.m_reconnects = metrics_counter (m, "copilot_retrieval_router_reconnects_total",
                                      "Reconnections to the retrieval router.", NULL);
    w.m_routed = metrics_counter (m, "copilot_retrieval_routed_requests_total",
                                  "Requests received through the router.", NULL);

    /* Load the index BEFORE anything can route work to us. */
    int64_t t0 = clock_mono_ms ();
    w.ix = rt_index_open (index_dir, &rcfg);
    memset (rcfg.openai_api_key, 0, sizeof rcfg.openai_api_key);
    if (!w.ix) {
        log_error ("index.open", "%s", rt_last_error ());
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    char detail[256];
    str_fmt (detail, sizeof detail, "[+]index %s (%s, dim %d, %zu/%zu/%zu docs)", rt_index_version (w.ix),
             rt_index_embedder (w.ix), rt_index_dim (w.ix), rt_index_count (w.ix, RT_CORPUS_TELEMETRY),
             rt_index_count (w.ix, RT_CORPUS_DOCS), rt_index_count (w.ix, RT_CORPUS_RUNBOOKS));
    log_info ("index.loaded", "loaded %s in %lld ms: %s", index_dir, (long long) (clock_mono_ms () - t0), detail);
    svc_set_ready (svc, true, detail);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, s_on_search, &w);
    svc_on_stop (svc, s_on_stop, &w);
    svc_on_close (svc, s_on_close, &w);
    if (strcmp (w.backend, "none") != 0) {
        if (s_connect (&w) != 0)
            w.reconnect_at_ms = clock_mono_ms () + w.backoff_ms;
        svc_add_timer (svc, (uint64_t) w.hb_ms, (uint64_t) w.hb_ms, s_tick, &w);
    }
    rc = svc_run (svc);
    svc_destroy (&svc);
    rt_index_destroy (&w.ix);
    return rc;
}
