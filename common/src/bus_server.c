/* bus_server.c — ROUTER request server with a handler table by body case.
 *
 * Data structures:
 *  - handlers[body_case]: a flat table (body cases are Envelope field
 *    numbers, all < BUS_MAX_CASE), so dispatch is one index.
 *  - bus_request_t: the routing frames copied out of the ROUTER message
 *    (identity + any broker hops before the empty delimiter), the decoded
 *    envelope and the start time. It normally lives for one recv_one call;
 *    a handler may defer it, and then it sits on a doubly linked list until
 *    bus_request_reply() so destroy can orphan what is still outstanding.
 *  - metric pointers cached per (body case, error code): the registry lookup
 *    takes a mutex, a cached pointer update is one atomic add.
 *
 * Per message (bus_server_recv_one): framing check → env_decode (size cap,
 * version, body) → draining? → deadline passed? → handler (or UNIMPLEMENTED)
 * → reply with the same routing frames → metrics. Every failure a client
 * could cause is answered with an Error envelope, never an assert. Replies
 * are sent with ZMQ_DONTWAIT: a ROUTER drops messages for vanished peers,
 * which is what we want for a client that gave up.
 *
 * Threading: one owner thread (the zmq socket's).
 */
#include "bus.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bus_curve.h"
#include "bus_internal.h"
#include "bus_uv.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "str.h"

#define BUS_MAX_CASE 128
#define BUS_MAX_ROUTE 8
#define BUS_NCODES 14     /* ErrorCode 0..12 + one "unknown" slot */

struct _bus_request_t {
    bus_server_t *srv;            /* NULL once orphaned by bus_server_destroy */
    bus_request_t *prev, *next;   /* on srv->deferred while deferred */
    size_t nroute;
    void *route[BUS_MAX_ROUTE];
    size_t route_len[BUS_MAX_ROUTE];
    env_t *env;
    int body_case;
    int64_t start_ns;
    bool deferred;
};

struct _bus_server_t {
    void *sock;
    char *service;
    char endpoint[256];
    struct {
        bus_handler_fn fn;
        void *arg;
    } handlers[BUS_MAX_CASE];
    bool draining;
    bus_request_t *deferred;
    size_t ndeferred;
    bus_request_t *current;
    bus_uv_t *uv;
    metric_t *m_inflight;
    metric_t *m_total[BUS_MAX_CASE][BUS_NCODES];
    metric_t *m_dur[BUS_MAX_CASE];
};

/* ---- metrics ------------------------------------------------------------ */

static int s_case_index (int body_case)
{
    return body_case > 0 && body_case < BUS_MAX_CASE ? body_case : 0;
}

static void s_count (bus_server_t *self, int body_case, int code, double seconds)
{
    int ci = s_case_index (body_case);
    int ki = code >= 0 && code < BUS_NCODES - 1 ? code : BUS_NCODES - 1;
    const char *method = ci ? env_body_name (ci) : "invalid";
    if (!self->m_total[ci][ki]) {
        char labels[256];
        bus__label (labels, sizeof labels, "service", self->service, "method", method, "code",
                    env_code_name (code));
        self->m_total[ci][ki] = metrics_counter (metrics_global (), "copilot_requests_total",
                                                 "Requests handled, by method and result code.",
                                                 labels);
    }
    if (!self->m_dur[ci]) {
        char labels[256];
        bus__label (labels, sizeof labels, "service", self->service, "method", method, NULL, NULL);
        self->m_dur[ci] = metrics_histogram (metrics_global (), "copilot_request_duration_seconds",
                                             "Time from receiving a request to sending its reply.",
                                             labels, NULL, 0);
    }
    if (self->m_total[ci][ki])
        metric_inc (self->m_total[ci][ki]);
    if (self->m_dur[ci] && seconds >= 0)
        metric_observe (self->m_dur[ci], seconds);
}

static void s_bad_frame (bus_server_t *self, const char *reason)
{
    char labels[256];
    bus__label (labels, sizeof labels, "service", self->service, "reason", reason, NULL, NULL);
    metric_t *m = metrics_counter (metrics_global (), "copilot_bad_frames_total",
                                   "Messages dropped or refused because of bad framing or encoding.",
                                   labels);
    if (m)
        metric_inc (m);
}

static void s_inflight (bus_server_t *self, int delta)
{
    if (self->m_inflight)
        metric_add (self->m_inflight, delta);
}

/* ---- construction ------------------------------------------------------- */

bus_server_t *bus_server_new (void *zctx, const char *endpoint, const char *service)
{
    if (!zctx || !endpoint || !service) {
        bus__set_error ("bus_server_new: missing argument");
        return NULL;
    }
    if (bus_prepare_endpoint (endpoint) != 0)
        return NULL;
    bus_server_t *self = calloc (1, sizeof *self);
    if (!self || !(self->service = str_dup (service))) {
        free (self);
        bus__set_error ("out of memory");
        return NULL;
    }
    self->sock = zmq_socket (zctx, ZMQ_ROUTER);
    if (!self->sock) {
        bus__set_error ("zmq_socket(ROUTER): %s", zmq_strerror (errno));
        goto fail;
    }
    if (bus_socket_defaults (self->sock, false) != 0
        || bus_curve_apply (zctx, self->sock, BUS_CURVE_SERVER, NULL) != 0)
        goto fail;
    if (zmq_bind (self->sock, endpoint) != 0) {
        bus__set_error ("cannot bind %s: %s", endpoint, zmq_strerror (errno));
        goto fail;
    }
    size_t len = sizeof self->endpoint;
    if (zmq_getsockopt (self->sock, ZMQ_LAST_ENDPOINT, self->endpoint, &len) != 0)
        str_copy (self->endpoint, sizeof self->endpoint, endpoint);
    char labels[160];
    bus__label (labels, sizeof labels, "service", service, NULL, NULL, NULL, NULL);
    self->m_inflight = metrics_gauge (metrics_global (), "copilot_inflight_requests",
                                      "Requests received and not yet answered.", labels);
    return self;
fail:
    bus_socket_close (&self->sock);
    free (self->service);
    free (self);
    return NULL;
}

static void s_request_free (bus_request_t *rq)
{
    for (size_t i = 0; i < rq->nroute; i++)
        free (rq->route[i]);
    env_free (rq->env);
    free (rq);
}

static void s_unlink (bus_request_t *rq)
{
    bus_server_t *srv = rq->srv;
    if (!srv)
        return;
    if (rq->prev)
        rq->prev->next = rq->next;
    else if (srv->deferred == rq)
        srv->deferred = rq->next;
    if (rq->next)
        rq->next->prev = rq->prev;
    rq->prev = rq->next = NULL;
}

void bus_server_destroy (bus_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_server_t *self = *self_p;
    *self_p = NULL;
    /* Orphan outstanding deferred requests; their holders free them later. */
    bus_request_t *rq = self->deferred;
    while (rq) {
        bus_request_t *next = rq->next;
        rq->srv = NULL;
        rq->prev = rq->next = NULL;
        s_inflight (self, -1);
        rq = next;
    }
    bus_uv_destroy (&self->uv);
    bus_socket_close (&self->sock);
    free (self->service);
    free (self);
}

const char *bus_server_endpoint (bus_server_t *self)
{
    return self->endpoint;
}

void *bus_server_socket (bus_server_t *self)
{
    return self->sock;
}

const char *bus_server_service (bus_server_t *self)
{
    return self->service;
}

int bus_server_on (bus_server_t *self, int body_case, bus_handler_fn fn, void *arg)
{
    if (!self || body_case <= 0 || body_case >= BUS_MAX_CASE
        || strcmp (env_body_name (body_case), "unknown") == 0)
        return BUS_E_INVALID;
    self->handlers[body_case].fn = fn;
    self->handlers[body_case].arg = arg;
    return BUS_OK;
}

void bus_server_set_draining (bus_server_t *self, bool draining)
{
    self->draining = draining;
}

size_t bus_server_inflight (bus_server_t *self)
{
    return self->ndeferred;
}

bus_request_t *bus__current_request (bus_server_t *srv)
{
    return srv ? srv->current : NULL;
}

/* ---- replying ------------------------------------------------------------ */

static int s_send_reply (bus_server_t *self, bus_request_t *rq, env_t *reply)
{
    const void *pre[BUS_MAX_ROUTE + 1];
    size_t pre_len[BUS_MAX_ROUTE + 1];
    for (size_t i = 0; i < rq->nroute; i++) {
        pre[i] = rq->route[i];
        pre_len[i] = rq->route_len[i];
    }
    pre[rq->nroute] = "";
    pre_len[rq->nroute] = 0;
    int rc = bus__send_env (self->sock, pre, pre_len, rq->nroute + 1, reply, ZMQ_DONTWAIT);
    if (rc == BUS_E_CODEC) {
        /* The handler built something unencodable (e.g. over the size cap):
         * tell the client instead of leaving it to time out. */
        env_t *err = env_error_new (rq->env, self->service,
                                    COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED,
                                    "%s could not encode its reply (too large or invalid)",
                                    self->service);
        if (err) {
            rc = bus__send_env (self->sock, pre, pre_len, rq->nroute + 1, err, ZMQ_DONTWAIT);
            env_free (err);
        }
    }
    if (rc != BUS_OK && rc != BUS_E_CODEC)
        log_warn ("request.send_failed", "reply to %s not sent: %s", env_request_id (rq->env),
                  zmq_strerror (errno));
    return rc;
}

static void s_finish (bus_server_t *self, bus_request_t *rq, env_t *reply)
{
    const Copilot__V1__Error *err = env_error (reply);
    int code = err ? (int) err->code : 0;
    double secs = (double) (clock_mono_ns () - rq->start_ns) / 1e9;
    s_count (self, rq->body_case, code, secs);
    if (err && (code == COPILOT__V1__ERROR_CODE__ERROR_INTERNAL))
        log_warn ("request.failed", "%s failed: %s", env_body_name (rq->body_case),
                  err->message ? err->message : "");
    else
        log_debug ("request.done", "%s %s in %.3f ms", env_body_name (rq->body_case),
                   env_code_name (code), secs * 1e3);
}

/* Answers rq with Error{code, message} (no handler ran). */
static void s_reply_error (bus_server_t *self, bus_request_t *rq, Copilot__V1__ErrorCode code,
                           const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));
static void s_reply_error (bus_server_t *self, bus_request_t *rq, Copilot__V1__ErrorCode code,
                           const char *fmt, ...)
{
    env_t *reply = env_reply_new (rq->env, self->service);
    if (!reply)
        return;
    va_list ap;
    va_start (ap, fmt);
    int rc = env_set_errorv (reply, code, NULL, fmt, ap);
    va_end (ap);
    if (rc == 0) {
        s_send_reply (self, rq, reply);
        s_finish (self, rq, reply);
    }
    env_free (reply);
}

/* ---- receiving ------------------------------------------------------------ */

#define S_BAD_FRAMING (-100)

/* Reads the routing frames and the delimiter. 1 ok, 0 nothing waiting,
 * S_BAD_FRAMING (message consumed), BUS_E_ZMQ. */
static int s_read_route (bus_server_t *self, bus_request_t *rq)
{
    for (;;) {
        zmq_msg_t f;
        zmq_msg_init (&f);
        int rc = zmq_msg_recv (&f, self->sock, ZMQ_DONTWAIT);
        if (rc < 0) {
            int e = errno;
            zmq_msg_close (&f);
            if (rq->nroute == 0 && (e == EAGAIN || e == EINTR))
                return 0;
            return BUS_E_ZMQ;
        }
        size_t n = zmq_msg_size (&f);
        int more = zmq_msg_more (&f);
        if (n == 0) {
            zmq_msg_close (&f);
            return more && rq->nroute > 0 ? 1 : S_BAD_FRAMING;
        }
        if (!more || rq->nroute == BUS_MAX_ROUTE) {
            zmq_msg_close (&f);
            bus__discard_rest (self->sock);
            return S_BAD_FRAMING;
        }
        rq->route[rq->nroute] = malloc (n);
        if (!rq->route[rq->nroute]) {
            zmq_msg_close (&f);
            bus__discard_rest (self->sock);
            return S_BAD_FRAMING;
        }
        memcpy (rq->route[rq->nroute], zmq_msg_data (&f), n);
        rq->route_len[rq->nroute] = n;
        rq->nroute++;
        zmq_msg_close (&f);
    }
}

/* Runs rq through checks and its handler. Returns true when the caller
 * still owns rq (and frees it), false when the handler kept or consumed it. */
static bool s_dispatch (bus_server_t *self, bus_request_t *rq)
{
    int bc = rq->body_case;
    if (self->draining) {
        s_reply_error (self, rq, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE,
                       "%s is shutting down; retry against another instance", self->service);
        return true;
    }
    if (env_expired (rq->env)) {
        s_reply_error (self, rq, COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED,
                       "deadline passed %lld ms before %s could start %s",
                       (long long) -env_remaining_ms (rq->env), self->service, env_body_name (bc));
        return true;
    }
    bus_handler_fn fn = bc < BUS_MAX_CASE ? self->handlers[bc].fn : NULL;
    if (!fn) {
        s_reply_error (self, rq, COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED,
                       "%s does not implement %s yet", self->service, env_body_name (bc));
        return true;
    }
    env_t *reply = env_reply_new (rq->env, self->service);
    if (!reply)
        return true;
    const Copilot__V1__Header *h = rq->env->header;
    log_set_context (h->request_id, h->trace_id && h->trace_id[0] ? h->trace_id : NULL);
    self->current = rq;
    int rc = fn (self, rq, rq->env, reply, self->handlers[bc].arg);
    bool consumed = self->current != rq;   /* replied to / destroyed inside the handler */
    self->current = NULL;
    log_set_context (NULL, NULL);
    if (consumed) {
        env_free (reply);
        return false;
    }
    if (rq->deferred) {
        if (rc == BUS_DEFERRED) {
            env_free (reply);
            return false;   /* stays on the deferred list, counted in flight */
        }
        /* Deferred, yet answered synchronously: the server keeps it. */
        s_unlink (rq);
        self->ndeferred--;
        rq->deferred = false;
    }
    if (rc == BUS_DEFERRED)
        rc = -1;            /* claimed deferral without bus_request_defer: a bug */
    if (rc < 0 && !env_is_error (reply))
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL,
                       "%s failed to handle %s (code %d)", self->service, env_body_name (bc), rc);
    else if (rc >= 0 && reply->body_case == COPILOT__V1__ENVELOPE__BODY__NOT_SET)
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL,
                       "%s produced no reply for %s", self->service, env_body_name (bc));
    s_send_reply (self, rq, reply);
    s_finish (self, rq, reply);
    env_free (reply);
    return true;
}

int bus_server_recv_one (bus_server_t *self)
{
    bus_request_t *rq = calloc (1, sizeof *rq);
    if (!rq)
        return BUS_E_NOMEM;
    rq->srv = self;
    int rc = s_read_route (self, rq);
    if (rc == 0 || rc == BUS_E_ZMQ) {
        s_request_free (rq);
        return rc;
    }
    if (rc == S_BAD_FRAMING) {
        s_bad_frame (self, "framing");
        s_request_free (rq);
        return 1;
    }
    rq->start_ns = clock_mono_ns ();
    zmq_msg_t payload;
    zmq_msg_init (&payload);
    if (zmq_msg_recv (&payload, self->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&payload);
        s_bad_frame (self, "framing");
        s_request_free (rq);
        return 1;
    }
    if (zmq_msg_more (&payload)) {
        bus__discard_rest (self->sock);
        zmq_msg_close (&payload);
        s_bad_frame (self, "framing");
        s_request_free (rq);
        return 1;
    }
    int drc = env_decode (zmq_msg_data (&payload), zmq_msg_size (&payload), &rq->env);
    zmq_msg_close (&payload);
    s_inflight (self, 1);
    if (drc == ENV_OK) {
        rq->body_case = (int) rq->env->body_case;
        if (!s_dispatch (self, rq))
            return 1;   /* kept (deferred) or already freed by the handler */
    } else {
        s_bad_frame (self, drc == ENV_E_TOOBIG ? "too_big"
                           : drc == ENV_E_VERSION ? "version"
                           : drc == ENV_E_EMPTY ? "no_body" : "malformed");
        if (drc == ENV_E_VERSION)
            s_reply_error (self, rq, COPILOT__V1__ERROR_CODE__ERROR_VERSION_MISMATCH,
                           "%s speaks envelope schema %u, got %u", self->service,
                           ENV_SCHEMA_VERSION,
                           rq->env && rq->env->header ? rq->env->header->schema_version : 0);
        else if (drc == ENV_E_EMPTY && rq->env && rq->env->base.n_unknown_fields > 0)
            s_reply_error (self, rq, COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED,
                           "%s does not implement body field %u yet", self->service,
                           rq->env->base.unknown_fields[0].tag);
        else if (drc == ENV_E_EMPTY)
            s_reply_error (self, rq, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT,
                           "request envelope has no body");
        else
            s_reply_error (self, rq, drc == ENV_E_TOOBIG
                                         ? COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED
                                         : COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT,
                           "request envelope refused: %s", env_strerror (drc));
    }
    s_inflight (self, -1);
    s_request_free (rq);
    return 1;
}

int bus_server_poll (bus_server_t *self, int timeout_ms)
{
    zmq_pollitem_t it = { self->sock, 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll (&it, 1, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : BUS_E_ZMQ;
    int handled = 0;
    for (;;) {
        rc = bus_server_recv_one (self);
        if (rc < 0)
            return handled ? handled : rc;
        if (rc == 0)
            return handled;
        handled++;
    }
}

static int s_uv_read (void *arg)
{
    return bus_server_recv_one (arg);
}

int bus_server_attach_uv (bus_server_t *self, uv_loop_t *loop)
{
    if (self->uv)
        return BUS_E_INVALID;
    self->uv = bus_uv_new (loop, self->sock, s_uv_read, self);
    return self->uv ? BUS_OK : BUS_E_ZMQ;
}

/* ---- deferred requests ----------------------------------------------------- */

void bus_request_defer (bus_request_t *rq)
{
    if (!rq || rq->deferred || !rq->srv)
        return;
    bus_server_t *srv = rq->srv;
    rq->deferred = true;
    rq->prev = NULL;
    rq->next = srv->deferred;
    if (srv->deferred)
        srv->deferred->prev = rq;
    srv->deferred = rq;
    srv->ndeferred++;
}

/* Bookkeeping when a live request is released by its holder. */
static void s_release (bus_request_t *rq)
{
    bus_server_t *srv = rq->srv;
    if (!srv)
        return;
    if (srv->current == rq)
        srv->current = NULL;   /* tells s_dispatch the handler consumed it */
    if (rq->deferred) {
        s_unlink (rq);
        srv->ndeferred--;
    }
    s_inflight (srv, -1);
}

const env_t *bus_request_env (const bus_request_t *rq)
{
    return rq ? rq->env : NULL;
}

bus_server_t *bus_request_server (const bus_request_t *rq)
{
    return rq ? rq->srv : NULL;
}

int bus_request_reply (bus_request_t **rq_p, env_t *reply)
{
    if (!rq_p || !*rq_p || !reply)
        return BUS_E_INVALID;
    bus_request_t *rq = *rq_p;
    *rq_p = NULL;
    bus_server_t *srv = rq->srv;
    if (!srv) {
        s_request_free (rq);
        return BUS_E_CLOSED;
    }
    if (!reply->header)
        env_set_timeout (reply, 0);   /* creates the header */
    int rc = reply->header ? env_set_str (&reply->header->request_id, env_request_id (rq->env))
                           : ENV_E_NOMEM;
    if (rc == 0) {
        if (reply->body_case == COPILOT__V1__ENVELOPE__BODY__NOT_SET)
            env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL,
                           "%s produced no reply for %s", srv->service,
                           env_body_name (rq->body_case));
        rc = s_send_reply (srv, rq, reply);
        s_finish (srv, rq, reply);
    } else {
        rc = BUS_E_NOMEM;
    }
    s_release (rq);
    s_request_free (rq);
    return rc;
}

void bus_request_destroy (bus_request_t **rq_p)
{
    if (!rq_p || !*rq_p)
        return;
    bus_request_t *rq = *rq_p;
    *rq_p = NULL;
    s_release (rq);
    s_request_free (rq);
}
