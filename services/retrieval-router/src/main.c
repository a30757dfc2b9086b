/* main.c — retrieval-router: least-recently-used dispatch of Search requests
 * to retrieval-service replicas (Paranoid Pirate queue, zguide ch. 4;
 * c-patterns §2.4).
 *
 * Frontend: the svc scaffold's ROUTER (Ping, Metrics, Search); a Search is
 * deferred (svc_defer) and becomes a job in a FIFO. Backend: a ROUTER bound
 * at retrieval_router.backend with ROUTER_MANDATORY=1 (an unroutable send
 * fails with EHOSTUNREACH instead of vanishing) and LINGER 0. Replicas
 * CONNECT to it, so adding capacity means starting a process.
 *
 * Backend frames (router side; the first frame is the worker's routing id):
 *   control  [wid][""][Envelope]              WorkerReady, WorkerDisconnect (from
 *                                             workers), WorkerHeartbeat (both ways)
 *   request  [wid][""][tag][""][Envelope]     tag = 8-byte job number
 *   reply    [wid][""][tag][""][Envelope]
 *
 * Workers: a table of known workers with an expiry (now + liveness x
 * heartbeat); any message from a worker refreshes it. Idle workers sit in an
 * LRU list: a worker that finishes a job goes to the tail, a job goes to the
 * head. Each worker runs one job at a time. A worker is dropped when it
 * expires (three missed heartbeats by default), says WorkerDisconnect, or a
 * send to it fails; its in-flight job is put back at the FRONT of the queue
 * (searches are idempotent), up to 3 attempts, so killing a replica while
 * searches run loses none of them. A heartbeat from an unknown worker is
 * taken as READY (it only heartbeats after its index is loaded), which makes
 * recovery after a router restart immediate.
 *
 * Jobs wait in the queue while no worker is idle; a job whose deadline
 * passes is answered DEADLINE_EXCEEDED, and the queue is capped
 * (RESOURCE_EXHAUSTED beyond retrieval_router.max_queue). The READY line is
 * printed as soon as the sockets are bound (the router can queue work);
 * from the first loop turn on, Ping reports ready only while at least one
 * worker is registered.
 *
 * Threading: single-threaded on the svc loop; the backend socket is driven
 * by bus_uv, timers by svc_add_timer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bus_curve.h"
#include "bus_uv.h"
#include "clock.h"
#include "str.h"
#include "svc.h"

#define SERVICE "retrieval-router"
#define MAX_WORKERS 256
#define MAX_ID 128
#define MAX_ATTEMPTS 3

typedef struct _s_job_t s_job_t;
struct _s_job_t {
    uint64_t tag;
    bus_request_t *rq;
    uint8_t *payload;     /* encoded request envelope */
    size_t len;
    int attempts;
    int64_t deadline_ms;  /* wall clock, 0 = none */
    s_job_t *next;
};

typedef struct {
    char id[MAX_ID];
    size_t idlen;
    bool used;
    bool idle;
    int64_t expiry_ms;    /* monotonic */
    uint64_t lru_seq;     /* when it became idle; smallest = least recently used */
    s_job_t *job;         /* in flight (one at a time) */
    uint64_t served;
} s_wk_t;

typedef struct {
    svc_t *svc;
    void *backend;
    bus_uv_t *uv;
    char backend_ep[512];
    int hb_ms, liveness;
    size_t max_queue;
    s_wk_t workers[MAX_WORKERS];
    s_job_t *qhead, *qtail;
    size_t qlen;
    uint64_t next_tag, lru_clock;
    metric_t *m_ready, *m_known, *m_dispatch, *m_requeue, *m_dropped, *m_misses, *m_queue, *m_failed;
} s_router_t;

/* ------------------------------------------------------------------------ */
/* jobs                                                                      */

static void
s_job_free (s_job_t *j)
{
    if (!j)
        return;
    bus_request_destroy (&j->rq);
    free (j->payload);
    free (j);
}

static void
s_job_fail (s_job_t *j, Copilot__V1__ErrorCode code, const char *msg)
{
    env_t *err = env_error_new (bus_request_env (j->rq), SERVICE, code, "%s", msg);
    if (err)
        bus_request_reply (&j->rq, err);
    env_free (err);
    s_job_free (j);
}

static void
s_push_back (s_router_t *r, s_job_t *j)
{
    j->next = NULL;
    if (r->qtail)
        r->qtail->next = j;
    else
        r->qhead = j;
    r->qtail = j;
    r->qlen++;
}

static void
s_push_front (s_router_t *r, s_job_t *j)
{
    j->next = r->qhead;
    r->qhead = j;
    if (!r->qtail)
        r->qtail = j;
    r->qlen++;
}

static s_job_t *
s_pop (s_router_t *r)
{
    s_job_t *j = r->qhead;
    if (j) {
        r->qhead = j->next;
        if (!r->qhead)
            r->qtail = NULL;
        r->qlen--;
        j->next = NULL;
    }
    return j;
}

/* ------------------------------------------------------------------------ */
/* workers                                                                   */

static void
s_update_gauges (s_router_t *r)
{
    int known = 0, idle = 0;
    for (int i = 0; i < MAX_WORKERS; i++)
        if (r->workers[i].used) {
            known++;
            idle += r->workers[i].idle;
        }
    metric_set (r->m_known, known);
    metric_set (r->m_ready, idle);
    metric_set (r->m_queue, (double) r->qlen);
    char detail[96];
    str_fmt (detail, sizeof detail, "%s workers %d (%d idle), queue %zu", known ? "[+]" : "[-]", known, idle,
             r->qlen);
    svc_set_ready (r->svc, known > 0, detail);
}

static s_wk_t *
s_find (s_router_t *r, const void *id, size_t idlen)
{
    for (int i = 0; i < MAX_WORKERS; i++)
        if (r->workers[i].used && r->workers[i].idlen == idlen && memcmp (r->workers[i].id, id, idlen) == 0)
            return &r->workers[i];
    return NULL;
}

static void
s_requeue (s_router_t *r, s_wk_t *w, const char *why)
{
    s_job_t *j = w->job;
    w->job = NULL;
    if (!j)
        return;
    if (j->attempts >= MAX_ATTEMPTS) {
        metric_inc (r->m_failed);
        s_job_fail (j, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE, "retrieval replicas kept failing this request");
        return;
    }
    metric_inc (r->m_requeue);
    log_warn ("router.requeue", "request %s requeued (%s, attempt %d)", env_request_id (bus_request_env (j->rq)), why,
              j->attempts);
    s_push_front (r, j);
}

static void
s_drop (s_router_t *r, s_wk_t *w, const char *why)
{
    log_warn ("router.worker_dropped", "worker %.*s dropped: %s (served %llu)", (int) w->idlen, w->id, why,
              (unsigned long long) w->served);
    metric_inc (r->m_dropped);
    s_requeue (r, w, why);
    memset (w, 0, sizeof *w);
    s_update_gauges (r);
}

static s_wk_t *
s_register (s_router_t *r, const void *id, size_t idlen)
{
    s_wk_t *w = s_find (r, id, idlen);
    if (w)
        return w;
    if (idlen == 0 || idlen > MAX_ID)
        return NULL;
    for (int i = 0; i < MAX_WORKERS; i++)
        if (!r->workers[i].used) {
            w = &r->workers[i];
            memset (w, 0, sizeof *w);
            w->used = true;
            memcpy (w->id, id, idlen);
            w->idlen = idlen;
            w->idle = true;
            w->lru_seq = ++r->lru_clock;
            log_info ("router.worker_ready", "worker %.*s registered", (int) idlen, (const char *) id);
            return w;
        }
    log_error ("router.full", "more than %d workers; ignoring %.*s", MAX_WORKERS, (int) idlen, (const char *) id);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* backend I/O                                                               */

static int
s_send_frames (void *sock, const void *const *parts, const size_t *lens, int n)
{
    for (int i = 0; i < n; i++)
        if (zmq_send (sock, parts[i], lens[i], (i + 1 < n ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0)
            return -1;
    return 0;
}

static int
s_send_heartbeat (s_router_t *r, s_wk_t *w)
{
    env_t *env = env_new (SERVICE);
    Copilot__V1__WorkerHeartbeat *hb = env_msg_new (&copilot__v1__worker_heartbeat__descriptor);
    if (!env || !hb) {
        env_free (env);
        if (hb)
            protobuf_c_message_free_unpacked (&hb->base, NULL);
        return 0;
    }
    env_set_str (&hb->worker_id, SERVICE);
    hb->unix_ms = clock_wall_ms ();
    env_set_body (env, COPILOT__V1__ENVELOPE__BODY_WORKER_HEARTBEAT, hb);
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = env_encode (env, &buf, &len);
    env_free (env);
    if (rc != 0)
        return 0;
    const void *fr[3] = {w->id, "", buf};
    size_t fl[3] = {w->idlen, 0, len};
    rc = s_send_frames (r->backend, fr, fl, 3);
    free (buf);
    return rc;
}

/* Hands queued jobs to idle workers, least recently used first. */
static void
s_dispatch (s_router_t *r)
{
    while (r->qhead) {
        s_wk_t *best = NULL;
        for (int i = 0; i < MAX_WORKERS; i++) {
            s_wk_t *w = &r->workers[i];
            if (w->used && w->idle && (!best || w->lru_seq < best->lru_seq))
                best = w;
        }
        if (!best)
            break;
        s_job_t *j = s_pop (r);
        if (j->deadline_ms && clock_wall_ms () >= j->deadline_ms) {
            s_job_fail (j, COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED,
                        "deadline passed while waiting for a retrieval replica");
            continue;
        }
        uint8_t tag[8];
        for (int b = 0; b < 8; b++)
            tag[b] = (uint8_t) (j->tag >> (8 * b));
        const void *fr[5] = {best->id, "", tag, "", j->payload};
        size_t fl[5] = {best->idlen, 0, sizeof tag, 0, j->len};
        j->attempts++;
        if (s_send_frames (r->backend, fr, fl, 5) != 0) {
            /* EHOSTUNREACH (ROUTER_MANDATORY): the worker is gone */
            j->attempts--;
            s_push_front (r, j);
            s_drop (r, best, zmq_strerror (errno));
            continue;
        }
        best->idle = false;
        best->job = j;
        metric_inc (r->m_dispatch);
    }
    s_update_gauges (r);
}

static void
s_on_reply (s_router_t *r, s_wk_t *w, const zmq_msg_t *tagf, const zmq_msg_t *body)
{
    uint64_t tag = 0;
    if (zmq_msg_size (tagf) == 8) {
        const uint8_t *t = zmq_msg_data ((zmq_msg_t *) tagf);
        for (int b = 0; b < 8; b++)
            tag |= (uint64_t) t[b] << (8 * b);
    }
    s_job_t *j = w->job;
    if (!j || j->tag != tag) {
        log_warn ("router.stale_reply", "reply from %.*s for an unknown job; dropped", (int) w->idlen, w->id);
        return;
    }
    w->job = NULL;
    w->idle = true;
    w->lru_seq = ++r->lru_clock;
    w->served++;
    env_t *reply = NULL;
    int rc = env_decode (zmq_msg_data ((zmq_msg_t *) body), zmq_msg_size (body), &reply);
    if (rc != 0) {
        env_free (reply);
        s_job_fail (j, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, "undecodable reply from a retrieval replica");
        return;
    }
    bus_request_reply (&j->rq, reply);
    env_free (reply);
    s_job_free (j);
}

static int
s_on_backend (void *arg)
{
    s_router_t *r = arg;
    zmq_msg_t parts[6];
    int n = 0, more = 1;
    bool overflow = false;
    while (more) {
        if (n == 6) {
            zmq_msg_t junk;
            zmq_msg_init (&junk);
            zmq_msg_recv (&junk, r->backend, 0);
            more = zmq_msg_more (&junk);
            zmq_msg_close (&junk);
            overflow = true;
            continue;
        }
        zmq_msg_init (&parts[n]);
        if (zmq_msg_recv (&parts[n], r->backend, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            int err = errno;
            zmq_msg_close (&parts[n]);
            for (int i = 0; i < n; i++)
                zmq_msg_close (&parts[i]);
            return err == EAGAIN ? 0 : -1;
        }
        more = zmq_msg_more (&parts[n]);
        n++;
    }
    const void *wid = zmq_msg_data (&parts[0]);
    size_t widlen = zmq_msg_size (&parts[0]);
    s_wk_t *w = s_find (r, wid, widlen);
    if (w)
        w->expiry_ms = clock_mono_ms () + (int64_t) r->liveness * r->hb_ms;
    if (!overflow && n == 3 && zmq_msg_size (&parts[1]) == 0) {
        env_t *env = NULL;
        if (env_decode (zmq_msg_data (&parts[2]), zmq_msg_size (&parts[2]), &env) == 0) {
            switch (env->body_case) {
            case COPILOT__V1__ENVELOPE__BODY_WORKER_READY:
                if (w && w->job)
                    s_requeue (r, w, "worker restarted");
                /* fall through */
            case COPILOT__V1__ENVELOPE__BODY_WORKER_HEARTBEAT:
                if (!w) {
                    w = s_register (r, wid, widlen);
                    if (w)
                        w->expiry_ms = clock_mono_ms () + (int64_t) r->liveness * r->hb_ms;
                } else if (env->body_case == COPILOT__V1__ENVELOPE__BODY_WORKER_READY && !w->idle) {
                    w->idle = true;
                    w->lru_seq = ++r->lru_clock;
                }
                break;
            case COPILOT__V1__ENVELOPE__BODY_WORKER_DISCONNECT:
                if (w)
                    s_drop (r, w, "worker said disconnect");
                break;
            default:
                log_warn ("router.bad_control", "unexpected %s from a worker", env_body_name (env->body_case));
                break;
            }
        }
        env_free (env);
    } else if (!overflow && n == 5 && zmq_msg_size (&parts[1]) == 0 && zmq_msg_size (&parts[3]) == 0) {
        if (w)
            s_on_reply (r, w, &parts[2], &parts[4]);
        else
            log_warn ("router.unknown_worker", "reply from an unregistered worker dropped");
    } else {
        log_warn ("router.bad_frames", "dropped a %d-frame message on the backend", n);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close (&parts[i]);
    s_dispatch (r);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* frontend                                                                  */

static int
s_on_search (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    s_router_t *r = arg;
    if (r->qlen >= r->max_queue) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED, NULL,
                       "retrieval router queue is full (%zu requests)", r->qlen);
        return -1;
    }
    s_job_t *j = calloc (1, sizeof *j);
    if (!j)
        return -1;
    /* env_encode only fills a missing header, which a decoded request has */
    if (env_encode ((env_t *) req, &j->payload, &j->len) != 0) {
        free (j);
        return -1;
    }
    j->tag = ++r->next_tag;
    j->deadline_ms = req->header ? req->header->deadline_unix_ms : 0;
    j->rq = svc_defer (svc);
    if (!j->rq) {
        s_job_free (j);
        return -1;
    }
    s_push_back (r, j);
    s_dispatch (r);
    return SVC_DEFERRED;
}

/* ------------------------------------------------------------------------ */
/* timers and lifecycle                                                      */

/* One-shot timer just after start: readiness from the (empty) worker table. */
static void
s_first_gauges (svc_t *svc, void *arg)
{
    (void) svc;
    s_update_gauges (arg);
}

static void
s_tick (svc_t *svc, void *arg)
{
    (void) svc;
    s_router_t *r = arg;
    int64_t now = clock_mono_ms ();
    for (int i = 0; i < MAX_WORKERS; i++) {
        s_wk_t *w = &r->workers[i];
        if (!w->used)
            continue;
        if (now > w->expiry_ms) {
            metric_inc (r->m_misses);
            s_drop (r, w, "heartbeat expired");
            continue;
        }
        if (s_send_heartbeat (r, w) != 0)
            s_drop (r, w, zmq_strerror (errno));
    }
    /* expire queued jobs whose deadline passed */
    int64_t wall = clock_wall_ms ();
    s_job_t *keep_h = NULL, *keep_t = NULL;
    size_t kept = 0;
    while (r->qhead) {
        s_job_t *j = s_pop (r);
        if (j->deadline_ms && wall >= j->deadline_ms) {
            s_job_fail (j, COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED,
                        "deadline passed while waiting for a retrieval replica");
            continue;
        }
        if (keep_t)
            keep_t->next = j;
        else
            keep_h = j;
        keep_t = j;
        kept++;
    }
    r->qhead = keep_h;
    r->qtail = keep_t;
    r->qlen = kept;
    s_dispatch (r);
}

static void
s_on_close (svc_t *svc, void *arg)
{
    (void) svc;
    s_router_t *r = arg;
    s_job_t *j;
    while ((j = s_pop (r)) != NULL)
        s_job_fail (j, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE, "retrieval router is shutting down");
    for (int i = 0; i < MAX_WORKERS; i++)
        if (r->workers[i].used && r->workers[i].job) {
            s_job_fail (r->workers[i].job, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                        "retrieval router is shutting down");
            r->workers[i].job = NULL;
        }
    bus_uv_destroy (&r->uv);
    bus_socket_close (&r->backend);
}

int
main (int argc, char **argv)
{
    int rc;
    svc_t *svc = svc_new (SERVICE, argc, argv, &rc);
    if (!svc)
        return rc;
    cfg_t *cfg = svc_cfg (svc);
    static s_router_t r; /* large (worker table): static storage */
    r.svc = svc;
    const char *backend = NULL;
    int64_t hb = 1000, live = 3, maxq = 10000;
    if (cfg_str (cfg, "retrieval_router.backend", NULL, &backend) != 0
        || cfg_int (cfg, "retrieval.heartbeat_ms", 1000, 50, 60000, &hb) != 0
        || cfg_int (cfg, "retrieval.liveness", 3, 1, 100, &live) != 0
        || cfg_int (cfg, "retrieval_router.max_queue", 10000, 1, 1000000, &maxq) != 0) {
        log_error ("config", "%s", cfg_error (cfg));
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    r.hb_ms = (int) hb;
    r.liveness = (int) live;
    r.max_queue = (size_t) maxq;
    if (backend && *backend) {
        str_copy (r.backend_ep, sizeof r.backend_ep, backend);
    } else {
        char dir[256];
        svc_run_dir (cfg, dir, sizeof dir);
        str_fmt (r.backend_ep, sizeof r.backend_ep, "ipc://%s/retrieval-router-backend.sock", dir);
    }
    r.backend = zmq_socket (svc_zctx (svc), ZMQ_ROUTER);
    int one = 1;
    if (!r.backend || bus_socket_defaults (r.backend, false) != 0
        || bus_curve_apply (svc_zctx (svc), r.backend, BUS_CURVE_SERVER, NULL) != 0   /* CURVE when enabled */
        || zmq_setsockopt (r.backend, ZMQ_ROUTER_MANDATORY, &one, sizeof one) != 0
        || bus_prepare_endpoint (r.backend_ep) != 0 || zmq_bind (r.backend, r.backend_ep) != 0) {
        log_error ("router.bind", "cannot bind backend %s: %s", r.backend_ep, zmq_strerror (errno));
        bus_socket_close (&r.backend);
        svc_destroy (&svc);
        return PROC_EXIT_BIND;
    }
    char resolved[512];
    size_t rl = sizeof resolved;
    if (zmq_getsockopt (r.backend, ZMQ_LAST_ENDPOINT, resolved, &rl) == 0)
        str_copy (r.backend_ep, sizeof r.backend_ep, resolved);
    r.uv = bus_uv_new (svc_loop (svc), r.backend, s_on_backend, &r);
    if (!r.uv) {
        bus_socket_close (&r.backend);
        svc_destroy (&svc);
        return PROC_EXIT_FAILURE;
    }
    metrics_t *m = svc_metrics (svc);
    r.m_ready = metrics_gauge (m, "copilot_workers_ready", "Idle retrieval replicas.", NULL);
    r.m_known = metrics_gauge (m, "copilot_workers_registered", "Registered retrieval replicas.", NULL);
    r.m_queue = metrics_gauge (m, "copilot_router_queue_length", "Searches waiting for a replica.", NULL);
    r.m_dispatch = metrics_counter (m, "copilot_router_dispatched_total", "Searches sent to replicas.", NULL);
    r.m_requeue = metrics_counter (m, "copilot_router_requeued_total", "Searches re-dispatched after a replica died.", NULL);
    r.m_dropped = metrics_counter (m, "copilot_router_workers_dropped_total", "Replicas dropped.", NULL);
    r.m_misses = metrics_counter (m, "copilot_worker_heartbeat_misses_total", "Replicas expired by missed heartbeats.", NULL);
    r.m_failed = metrics_counter (m, "copilot_router_failed_total", "Searches failed after all attempts.", NULL);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, s_on_search, &r);
    svc_on_close (svc, s_on_close, &r);
    svc_add_timer (svc, (uint64_t) r.hb_ms, (uint64_t) r.hb_ms, s_tick, &r);
    /* once the loop runs (the READY line is out), Ping readiness follows the
     * worker count at once instead of after the first heartbeat tick */
    svc_add_timer (svc, 1, 0, s_first_gauges, &r);
    log_info ("router.backend", "backend bound at %s (heartbeat %d ms, liveness %d)", r.backend_ep, r.hb_ms,
              r.liveness);
    s_update_gauges (&r);
    svc_set_ready (svc, true, "[+]router up, waiting for workers"); /* READY line: the router can queue */
    rc = svc_run (svc);
    svc_destroy (&svc);
    return rc;
}
