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
 * Threading (three threads):
 *   loop thread    the svc loop: every zmq socket (svc endpoint, router
 *                  DEALER, bus subscriber), heartbeats, timers. It never
 *                  searches, so heartbeats keep flowing however long a
 *                  search takes (a slow search no longer gets the replica
 *                  dropped by the router for missed heartbeats).
 *   search thread  owns the open index (w->ix): takes jobs from a FIFO
 *                  (router requests and direct Search requests), runs them
 *                  one at a time, and hands the reply envelopes back to the
 *                  loop through a uv_async_t; the loop sends them. One search
 *                  at a time per replica is all the router asks for (it
 *                  dispatches one request per READY worker, LRU); direct
 *                  requests queue up to MAX_QUEUE. Between two jobs it swaps
 *                  in a freshly built index if one is pending, so a swap
 *                  never races a search and no search fails during a reload.
 *   reload thread  hot reload. On data.changed for our database (event bus,
 *                  like graph-service) with a data_version other than the
 *                  one we serve, it rebuilds the WHOLE index (rt_index_build,
 *                  exactly what `copilot index` runs: telemetry corpus from
 *                  the DB + built-in docs/runbooks + extra folders, embedder
 *                  re-fitted) into a NEW private directory
 *                  <retrieval.reload_dir>/gen-<n>, opens it, and marks it
 *                  pending for the search thread. We rebuild rather than
 *                  wait for someone to rebuild the shared index directory:
 *                  each replica then reloads itself without coordination, no
 *                  directory is modified under a reader, and the served index
 *                  always records the data_version it was built from (info
 *                  key data_version, read before the rows). A failed rebuild
 *                  keeps the old index (counted, logged). Events arriving
 *                  during a build coalesce into one more build. The replaced
 *                  private directory is deleted after the swap; the
 *                  configured retrieval.index_dir is never touched.
 * Objects cross threads only under w->mu (job lists, the pending index, the
 * served index's description for Ping/READY).
 *
 * Configuration (cfg.h keys; env COPILOT_<KEY>):
 *   retrieval.index_dir       index directory built by `copilot index` (required)
 *   retrieval.router.backend  router backend endpoint, "none" to run standalone
 *                             (default ipc://<run_dir>/retrieval-router-backend.sock)
 *   retrieval.heartbeat_ms / retrieval.liveness
 *   retrieval_service.worker_id   default <hostname>-<pid>
 *   retrieval.hot_reload      rebuild on data.changed (default true)
 *   db.path                   telemetry DB to rebuild from (default: the one
 *                             recorded in the index; no DB = no hot reload)
 *   retrieval.reload_dir      where rebuilt indexes go (default
 *                             <index_dir>.reload/<worker_id>)
 *   plus every retrieval.* key of rt_config_load (embedder, dim, ef_search ...)
 *
 * Metrics: copilot_retrieval_searches_total, _search_errors_total,
 * _search_seconds, _router_reconnects_total, _routed_requests_total,
 * _search_queue_length, _index_data_version (gauge), _reloads_total,
 * _reload_failures_total, _reload_seconds. Ping detail names the index
 * version and its data_version.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "bus_curve.h"
#include "bus_uv.h"
#include "clock.h"
#include "db.h"
#include "rt.h"
#include "str.h"
#include "svc.h"

#define SERVICE "retrieval-service"
#define MAX_TAG 64
#define MAX_QUEUE 256

typedef struct _s_job_t s_job_t;
struct _s_job_t {
    env_t *req;            /* decoded request envelope (owned) */
    env_t *reply;          /* filled by the search thread */
    bus_request_t *rq;     /* a direct Search on our endpoint (svc_defer), or NULL */
    uint8_t tag[MAX_TAG];  /* router request: opaque tag echoed back */
    size_t taglen;
    s_job_t *next;
};

typedef struct {
    svc_t *svc;
    rt_index_t *ix;          /* owned by the search thread once it runs */
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
    metric_t *m_queue, *m_data_version, *m_reloads, *m_reload_fail, *m_reload_seconds;

    /* ---- shared between threads, under mu ---- */
    pthread_mutex_t mu;
    pthread_cond_t search_cv, reload_cv;
    s_job_t *q_head, *q_tail;   /* waiting for the search thread */
    size_t q_len;
    s_job_t *d_head, *d_tail;   /* answered, waiting for the loop */
    bool quit;
    rt_index_t *pending_ix;     /* built by the reload thread, not yet swapped in */
    char pending_dir[PATH_MAX];
    char ix_dir[PATH_MAX];      /* private directory of w->ix ("" = retrieval.index_dir) */
    char index_version[64];     /* of the served index */
    char data_version[32];
    char built_dv[32];          /* data_version of the newest index built or served */
    char detail[320];
    bool info_changed;          /* the loop must republish detail/metrics */
    bool reload_want, reloading;
    char want_dv[32];
    unsigned reload_seq;

    /* ---- fixed after start-up ---- */
    bool reload_enabled;
    char db_path[PATH_MAX];
    char reload_root[PATH_MAX];
    rt_config_t rcfg;           /* for rebuilds (API key kept only for openai) */
    pthread_t search_thr, reload_thr;
    bool search_started, reload_started;
    uv_async_t async;
    bool async_ready;
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

/* ------------------------------------------------------------------------ */
/* jobs and the search thread                                                */

static void
s_job_free (s_job_t *j)
{
    if (!j)
        return;
    env_free (j->req);
    env_free (j->reply);
    bus_request_destroy (&j->rq);
    free (j);
}

/* Removes an index directory we built (flat: files only). */
static void
s_remove_dir (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX + 256];
    while ((e = readdir (d)) != NULL) {
        if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
            continue;
        if (str_fmt (path, sizeof path, "%s/%s", dir, e->d_name) == 0)
            unlink (path);
    }
    closedir (d);
    if (rmdir (dir) != 0 && errno != ENOENT)
        log_warn ("reload.cleanup", "cannot remove %s: %s", dir, strerror (errno));
}

/* Describes the index now served (search thread, or start-up); under mu. */
static void
s_describe_locked (s_worker_t *w)
{
    str_copy (w->index_version, sizeof w->index_version, rt_index_version (w->ix));
    str_copy (w->data_version, sizeof w->data_version, rt_index_data_version (w->ix));
    if (!w->reloading && !w->pending_ix)
        str_copy (w->built_dv, sizeof w->built_dv, w->data_version);
    str_fmt (w->detail, sizeof w->detail, "[+]index %s data_version %s (%s, dim %d, %zu/%zu/%zu docs)",
             w->index_version, *w->data_version ? w->data_version : "none", rt_index_embedder (w->ix),
             rt_index_dim (w->ix), rt_index_count (w->ix, RT_CORPUS_TELEMETRY), rt_index_count (w->ix, RT_CORPUS_DOCS),
             rt_index_count (w->ix, RT_CORPUS_RUNBOOKS));
    w->info_changed = true;
}

/* Runs one job on the search thread: fills j->reply. */
static void
s_run_job (s_worker_t *w, s_job_t *j)
{
    log_set_context (env_request_id (j->req), NULL);
    j->reply = env_reply_new (j->req, SERVICE);
    if (!j->reply)
        return; /* the loop answers ERROR_INTERNAL */
    if (env_expired (j->req)) {
        env_set_error (j->reply, COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED, NULL,
                       "deadline passed before the search started");
    } else if (s_do_search (w, j->req, j->reply) < 0
               && j->reply->body_case == COPILOT__V1__ENVELOPE__BODY__NOT_SET) {
        env_set_error (j->reply, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL, "search failed");
    }
    log_set_context (NULL, NULL);
}

static void *
s_search_main (void *arg)
{
    s_worker_t *w = arg;
    pthread_mutex_lock (&w->mu);
    for (;;) {
        if (w->pending_ix) {
            /* swap between two searches: nothing else uses w->ix */
            rt_index_t *old = w->ix;
            char old_dir[PATH_MAX];
            str_copy (old_dir, sizeof old_dir, w->ix_dir);
            w->ix = w->pending_ix;
            w->pending_ix = NULL;
            str_copy (w->ix_dir, sizeof w->ix_dir, w->pending_dir);
            s_describe_locked (w);
            pthread_mutex_unlock (&w->mu);
            log_info ("reload.swapped", "now serving index %s (data_version %s) from %s", rt_index_version (w->ix),
                      rt_index_data_version (w->ix), w->ix_dir);
            rt_index_destroy (&old);
            if (old_dir[0])
                s_remove_dir (old_dir);
            uv_async_send (&w->async);
            pthread_mutex_lock (&w->mu);
            continue;
        }
        if (w->q_head) {
            s_job_t *j = w->q_head;
            w->q_head = j->next;
            if (!w->q_head)
                w->q_tail = NULL;
            w->q_len--;
            j->next = NULL;
            pthread_mutex_unlock (&w->mu);
            s_run_job (w, j);
            pthread_mutex_lock (&w->mu);
            if (w->d_tail)
                w->d_tail->next = j;
            else
                w->d_head = j;
            w->d_tail = j;
            pthread_mutex_unlock (&w->mu);
            uv_async_send (&w->async);
            pthread_mutex_lock (&w->mu);
            continue;
        }
        if (w->quit)
            break;
        pthread_cond_wait (&w->search_cv, &w->mu);
    }
    pthread_mutex_unlock (&w->mu);
    return NULL;
}

/* Queues a job for the search thread (loop thread). 0, or -1 when full. */
static int
s_submit (s_worker_t *w, s_job_t *j)
{
    pthread_mutex_lock (&w->mu);
    if (w->q_len >= MAX_QUEUE) {
        pthread_mutex_unlock (&w->mu);
        return -1;
    }
    j->next = NULL;
    if (w->q_tail)
        w->q_tail->next = j;
    else
        w->q_head = j;
    w->q_tail = j;
    w->q_len++;
    metric_set (w->m_queue, (double) w->q_len);
    pthread_cond_signal (&w->search_cv);
    pthread_mutex_unlock (&w->mu);
    return 0;
}

/* Direct Search on our own endpoint: deferred, answered by the loop once the
 * search thread is done. */
static int
s_on_search (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    s_worker_t *w = arg;
    s_job_t *j = calloc (1, sizeof *j);
    if (!j)
        return -1;
    /* private copy of the borrowed request (env_encode only fills a missing
     * header, which a decoded request has) */
    uint8_t *buf = NULL;
    size_t len = 0;
    if (env_encode ((env_t *) req, &buf, &len) != 0 || env_decode (buf, len, &j->req) != 0) {
        free (buf);
        s_job_free (j);
        return -1;
    }
    free (buf);
    (void) reply; /* answered later through j->rq */
    j->rq = svc_defer (svc);
    if (!j->rq || s_submit (w, j) != 0) {
        if (j->rq) {
            env_t *err = env_error_new (j->req, SERVICE, COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED,
                                        "search queue is full");
            if (err)
                bus_request_reply (&j->rq, err);
            env_free (err);
            s_job_free (j);
            return SVC_DEFERRED;
        }
        s_job_free (j);
        return -1;
    }
    return SVC_DEFERRED;
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
    pthread_mutex_lock (&w->mu);
    env_set_str (&r->index_version, w->index_version);
    pthread_mutex_unlock (&w->mu);
    for (int c = 0; c < 3; c++) {
        static const char *const names[3] = {RT_CORPUS_TELEMETRY, RT_CORPUS_DOCS, RT_CORPUS_RUNBOOKS};
        char *s = env_strdup (names[c]);
        if (!s || ENV_APPEND (r->corpora, r->n_corpora, s) != 0)
            free (s);
    }
    if (s_send_control (w, COPILOT__V1__ENVELOPE__BODY_WORKER_READY, r) == 0)
        log_info ("worker.ready", "announced READY to %s as %s", w->backend, w->worker_id);
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
            /* hand it to the search thread; the loop keeps heartbeating */
            s_job_t *j = calloc (1, sizeof *j);
            if (j) {
                j->req = env;
                j->taglen = zmq_msg_size (&parts[1]);
                memcpy (j->tag, zmq_msg_data (&parts[1]), j->taglen);
                svc_hold (w->svc);
                if (s_submit (w, j) == 0) {
                    env = NULL; /* owned by the job now */
                    for (int i = 0; i < n; i++)
                        zmq_msg_close (&parts[i]);
                    return 1;
                }
                svc_release (w->svc);
                j->req = NULL;
                s_job_free (j);
            }
            reply = env_error_new (env, SERVICE, COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED,
                                   "search queue is full");
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

/* ------------------------------------------------------------------------ */
/* loop side: answered jobs, index description                               */

/* Sends the answered jobs (loop thread; also from on_close after the search
 * thread has been joined). */
static void
s_flush_done (s_worker_t *w)
{
    pthread_mutex_lock (&w->mu);
    s_job_t *j = w->d_head;
    w->d_head = w->d_tail = NULL;
    bool changed = w->info_changed;
    w->info_changed = false;
    char detail[sizeof w->detail], dv[sizeof w->data_version];
    str_copy (detail, sizeof detail, w->detail);
    str_copy (dv, sizeof dv, w->data_version);
    metric_set (w->m_queue, (double) w->q_len);
    pthread_mutex_unlock (&w->mu);
    if (changed) {
        svc_set_ready (w->svc, true, detail);
        metric_set (w->m_data_version, *dv ? (double) strtoll (dv, NULL, 10) : 0.0);
    }
    while (j) {
        s_job_t *next = j->next;
        if (!j->reply)
            j->reply = env_error_new (j->req, SERVICE, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, "out of memory");
        if (j->rq) {
            if (j->reply)
                bus_request_reply (&j->rq, j->reply);
        } else {
            uint8_t *buf = NULL;
            size_t len = 0;
            if (w->dealer && j->reply && env_encode (j->reply, &buf, &len) == 0) {
                const void *fr[4] = {"", j->tag, "", buf};
                size_t fl[4] = {0, j->taglen, 0, len};
                if (s_send_frames (w->dealer, fr, fl, 4) != 0)
                    log_warn ("worker.reply_failed", "cannot send reply to router: %s", zmq_strerror (errno));
            }
            free (buf);
            svc_release (w->svc);
        }
        s_job_free (j);
        j = next;
    }
}

static void
s_on_async (uv_async_t *h)
{
    s_flush_done (h->data);
}

/* ------------------------------------------------------------------------ */
/* hot reload                                                                */

static void *
s_reload_main (void *arg)
{
    s_worker_t *w = arg;
    pthread_mutex_lock (&w->mu);
    for (;;) {
        while (!w->reload_want && !w->quit)
            pthread_cond_wait (&w->reload_cv, &w->mu);
        if (w->quit)
            break;
        w->reload_want = false;
        w->reloading = true;
        unsigned seq = ++w->reload_seq;
        char want[sizeof w->want_dv];
        str_copy (want, sizeof want, w->want_dv);
        pthread_mutex_unlock (&w->mu);

        char dir[PATH_MAX];
        int64_t t0 = clock_mono_ms ();
        rt_index_t *nix = NULL;
        rt_build_stats_t st;
        memset (&st, 0, sizeof st);
        int rc = str_fmt (dir, sizeof dir, "%s/gen-%u", w->reload_root, seq) == 0 ? RT_OK : RT_E_ARG;
        if (rc == RT_OK) {
            log_info ("reload.start", "rebuilding the index from %s (requested data_version %s) into %s", w->db_path,
                      *want ? want : "?", dir);
            s_remove_dir (dir); /* leftover of a crashed run */
            rc = rt_index_build (w->db_path, dir, &w->rcfg, NULL, NULL, &st);
        }
        if (rc == RT_OK && !(nix = rt_index_open (dir, &w->rcfg)))
            rc = RT_E_IO;
        double secs = (double) (clock_mono_ms () - t0) / 1000.0;
        if (rc != RT_OK) {
            metric_inc (w->m_reload_fail);
            log_error ("reload.failed", "rebuild into %s failed after %.1f s (still serving the old index): %s", dir,
                       secs, rt_last_error ());
            s_remove_dir (dir);
        } else {
            metric_inc (w->m_reloads);
            metric_observe (w->m_reload_seconds, secs);
            log_info ("reload.built", "built index %s (data_version %s, %zu telemetry docs) in %.1f s",
                      rt_index_version (nix), rt_index_data_version (nix), st.docs[0], secs);
        }
        pthread_mutex_lock (&w->mu);
        w->reloading = false;
        if (nix) {
            rt_index_t *stale = w->pending_ix; /* never swapped in: replace it */
            char stale_dir[PATH_MAX];
            str_copy (stale_dir, sizeof stale_dir, w->pending_dir);
            w->pending_ix = nix;
            str_copy (w->pending_dir, sizeof w->pending_dir, dir);
            str_copy (w->built_dv, sizeof w->built_dv, rt_index_data_version (nix));
            /* an event for exactly what we just built needs no other build */
            if (w->reload_want && strcmp (w->want_dv, w->built_dv) == 0)
                w->reload_want = false;
            pthread_cond_signal (&w->search_cv);
            if (stale) {
                pthread_mutex_unlock (&w->mu);
                rt_index_destroy (&stale);
                s_remove_dir (stale_dir);
                pthread_mutex_lock (&w->mu);
            }
        }
    }
    pthread_mutex_unlock (&w->mu);
    return NULL;
}

static void
s_on_data_changed (svc_t *svc, const char *topic, const env_t *ev, void *arg)
{
    (void) svc;
    s_worker_t *w = arg;
    const char *path = NULL, *version = NULL;
    if (ev->body_case == COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED && ev->data_changed) {
        path = ev->data_changed->db_path;
        version = ev->data_changed->data_version;
    }
    if (!db_same_file (w->db_path, path)) {
        log_debug ("reload.ignore", "%s for another database (%s)", topic, path);
        return;
    }
    pthread_mutex_lock (&w->mu);
    if (version && *version && !w->reloading && strcmp (version, w->built_dv) == 0) {
        pthread_mutex_unlock (&w->mu);
        log_debug ("reload.ignore", "%s: data_version %s already indexed", topic, version);
        return;
    }
    w->reload_want = true;
    str_copy (w->want_dv, sizeof w->want_dv, version ? version : "");
    char serving[sizeof w->data_version];
    str_copy (serving, sizeof serving, w->data_version);
    pthread_cond_signal (&w->reload_cv);
    pthread_mutex_unlock (&w->mu);
    log_info ("reload.requested", "%s: data_version %s (serving %s)", topic, version && *version ? version : "?",
              *serving ? serving : "none");
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
    s_worker_t *w = arg;
    pthread_mutex_lock (&w->mu);
    w->quit = true;
    pthread_cond_broadcast (&w->search_cv);
    pthread_cond_broadcast (&w->reload_cv);
    pthread_mutex_unlock (&w->mu);
    if (w->reload_started) /* waits for a rebuild in progress */
        pthread_join (w->reload_thr, NULL);
    if (w->search_started)
        pthread_join (w->search_thr, NULL);
    w->reload_started = w->search_started = false;
    s_flush_done (w); /* answers that were still waiting for the loop */
    if (w->async_ready) {
        uv_close ((uv_handle_t *) &w->async, NULL);
        w->async_ready = false;
    }
    s_disconnect (w);
}

/* Removes gen-* directories a previous run with this worker id left. */
static void
s_clean_reload_root (const char *root)
{
    DIR *d = opendir (root);
    if (!d)
        return;
    struct dirent *e;
    char path[PATH_MAX + 256];
    while ((e = readdir (d)) != NULL)
        if (strncmp (e->d_name, "gen-", 4) == 0 && str_fmt (path, sizeof path, "%s/%s", root, e->d_name) == 0)
            s_remove_dir (path);
    closedir (d);
}

/* mkdir -p for the reload root (two levels at most are new). */
static int
s_mkdirs (const char *dir)
{
    char tmp[PATH_MAX];
    if (str_copy (tmp, sizeof tmp, dir) != 0)
        return -1;
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir (tmp, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir (tmp, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

int
main (int argc, char **argv)
{
    int rc;
    svc_t *svc = svc_new (SERVICE, argc, argv, &rc);
    if (!svc)
        return rc;
    cfg_t *cfg = svc_cfg (svc);
    static s_worker_t w; /* large (paths): static storage */
    w.svc = svc;
    w.backoff_ms = 1000;
    const char *index_dir = NULL, *backend = NULL, *wid = NULL, *db = NULL, *reload_dir = NULL;
    int64_t hb = 1000, live = 3;
    bool hot = true, default_root = false;
    if (rt_config_load (cfg, &w.rcfg) != RT_OK) {
        log_error ("config", "%s", rt_last_error ());
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    if (cfg_require (cfg, "retrieval.index_dir", &index_dir) != 0
        || cfg_int (cfg, "retrieval.heartbeat_ms", 1000, 50, 60000, &hb) != 0
        || cfg_int (cfg, "retrieval.liveness", 3, 1, 100, &live) != 0
        || cfg_str (cfg, "retrieval_service.worker_id", NULL, &wid) != 0
        || cfg_str (cfg, "retrieval.router.backend", NULL, &backend) != 0
        || cfg_bool (cfg, "retrieval.hot_reload", true, &hot) != 0
        || cfg_str (cfg, "db.path", NULL, &db) != 0
        || cfg_str (cfg, "retrieval.reload_dir", NULL, &reload_dir) != 0) {
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
    w.m_queue = metrics_gauge (m, "copilot_retrieval_search_queue_length", "Searches waiting for the search thread.",
                               NULL);
    w.m_data_version = metrics_gauge (m, "copilot_retrieval_index_data_version",
                                      "data_version of the telemetry DB the served index was built from (0 = none).",
                                      NULL);
    w.m_reloads = metrics_counter (m, "copilot_retrieval_reloads_total", "Hot reloads built (data.changed).", NULL);
    w.m_reload_fail = metrics_counter (m, "copilot_retrieval_reload_failures_total",
                                       "Hot reloads that failed (old index kept).", NULL);
    w.m_reload_seconds = metrics_histogram (m, "copilot_retrieval_reload_seconds", "Hot reload build time.", NULL,
                                            NULL, 0);

    /* Load the index BEFORE anything can route work to us. */
    int64_t t0 = clock_mono_ms ();
    w.ix = rt_index_open (index_dir, &w.rcfg);
    if (strcmp (w.rcfg.embedder, "openai") != 0) /* rebuilds need the key only for openai */
        memset (w.rcfg.openai_api_key, 0, sizeof w.rcfg.openai_api_key);
    if (!w.ix) {
        log_error ("index.open", "%s", rt_last_error ());
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    pthread_mutex_init (&w.mu, NULL);
    pthread_cond_init (&w.search_cv, NULL);
    pthread_cond_init (&w.reload_cv, NULL);
    s_describe_locked (&w); /* no other thread yet */
    w.info_changed = false;
    metric_set (w.m_data_version, *w.data_version ? (double) strtoll (w.data_version, NULL, 10) : 0.0);
    log_info ("index.loaded", "loaded %s in %lld ms: %s", index_dir, (long long) (clock_mono_ms () - t0), w.detail);

    /* hot reload: which DB, where rebuilt indexes go */
    const char *src_db = db && *db ? db : rt_index_db_path (w.ix);
    if (hot && src_db && *src_db) {
        str_copy (w.db_path, sizeof w.db_path, src_db);
        int prc;
        if (reload_dir && *reload_dir) {
            prc = str_copy (w.reload_root, sizeof w.reload_root, reload_dir);
        } else {
            char id[sizeof w.worker_id];
            str_copy (id, sizeof id, w.worker_id);
            for (char *p = id; *p; p++)
                if (*p == '/')
                    *p = '_';
            prc = str_fmt (w.reload_root, sizeof w.reload_root, "%s.reload/%s", index_dir, id);
            default_root = true;
        }
        if (prc != 0 || s_mkdirs (w.reload_root) != 0) {
            log_warn ("reload.disabled", "cannot create reload directory %s: %s; hot reload off", w.reload_root,
                      strerror (errno));
        } else {
            s_clean_reload_root (w.reload_root);
            w.reload_enabled = true;
        }
    } else {
        log_info ("reload.disabled", "hot reload off (%s)", hot ? "no db.path and the index records no DB" :
                                                                  "retrieval.hot_reload=false");
    }

    if (uv_async_init (svc_loop (svc), &w.async, s_on_async) != 0) {
        log_error ("worker.async", "cannot create the loop wake-up handle");
        rt_index_destroy (&w.ix);
        svc_destroy (&svc);
        return PROC_EXIT_FAILURE;
    }
    w.async.data = &w;
    w.async_ready = true;
    if (pthread_create (&w.search_thr, NULL, s_search_main, &w) != 0) {
        log_error ("worker.thread", "cannot start the search thread");
        rt_index_destroy (&w.ix);
        svc_destroy (&svc);
        return PROC_EXIT_FAILURE;
    }
    w.search_started = true;
    if (w.reload_enabled) {
        if (pthread_create (&w.reload_thr, NULL, s_reload_main, &w) == 0) {
            w.reload_started = true;
            if (svc_subscribe (svc, "data.changed", s_on_data_changed, &w) != 0)
                log_warn ("reload.subscribe", "cannot subscribe to data.changed; hot reload off");
            else
                log_info ("reload.enabled", "rebuilding from %s on data.changed into %s", w.db_path, w.reload_root);
        } else {
            log_warn ("reload.thread", "cannot start the reload thread; hot reload off");
        }
    }

    svc_set_ready (svc, true, w.detail);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, s_on_search, &w);
    svc_on_stop (svc, s_on_stop, &w);
    svc_on_close (svc, s_on_close, &w);
    if (strcmp (w.backend, "none") != 0) {
        if (s_connect (&w) != 0)
            w.reconnect_at_ms = clock_mono_ms () + w.backoff_ms;
        svc_add_timer (svc, (uint64_t) w.hb_ms, (uint64_t) w.hb_ms, s_tick, &w);
    }
    rc = svc_run (svc);
    /* threads were joined in s_on_close; if svc_run returned before the
     * close hooks ran (cannot happen with svc), join them here */
    if (w.search_started || w.reload_started)
        s_on_close (svc, &w);
    svc_destroy (&svc);
    rt_index_destroy (&w.ix);
    pthread_mutex_lock (&w.mu);
    rt_index_t *pend = w.pending_ix;
    w.pending_ix = NULL;
    pthread_mutex_unlock (&w.mu);
    if (pend) {
        rt_index_destroy (&pend);
        s_remove_dir (w.pending_dir);
    }
    if (w.ix_dir[0])
        s_remove_dir (w.ix_dir);
    if (w.reload_enabled) { /* our private root, and its parent when empty */
        rmdir (w.reload_root);
        char *slash = strrchr (w.reload_root, '/');
        if (slash && slash != w.reload_root && default_root) {
            *slash = '\0';
            rmdir (w.reload_root);
        }
    }
    memset (w.rcfg.openai_api_key, 0, sizeof w.rcfg.openai_api_key);
    return rc;
}
