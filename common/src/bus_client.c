/* bus_client.c — DEALER request client: many requests in flight, a deadline
 * per request, one resend for idempotent requests.
 *
 * Data structures: a doubly linked list of pending requests in send order.
 * Each keeps its encoded envelope (for resends and for sending later when
 * the socket had no completed connection yet: IMMEDIATE=1 makes zmq_send
 * return EAGAIN instead of queueing to nowhere), its request id, monotonic
 * deadline and resend time, and the callback. Replies are matched by
 * header.request_id; replies usually come in order, so the search from the
 * head is short. Late replies (request already completed) are dropped.
 *
 * Time: header.deadline_unix_ms is absolute wall time (it crosses
 * processes); locally the client keeps monotonic deadlines.
 *
 * Completion always goes through s_complete(), which unlinks the request
 * BEFORE running the callback, so callbacks may send new requests. Expired
 * requests are collected first and completed afterwards for the same reason.
 *
 * Threading: one owner thread. The uv integration is a bus_uv_t for replies
 * plus one uv_timer_t (separately allocated, freed by its close callback)
 * for deadlines, resends and unsent requests.
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
#include "runtime.h"
#include "str.h"

#define BUS_CLIENT_MAX_PENDING 10000
/* While a request waits for a connection, retry sending this often. */
#define BUS_CLIENT_UNSENT_RETRY_MS 10

typedef struct _pending_t pending_t;
struct _pending_t {
    pending_t *prev, *next;
    char id[ENV_ID_LEN + 32];
    uint8_t *data;
    size_t len;
    int64_t deadline_ms;     /* monotonic */
    int64_t resend_at_ms;    /* monotonic; 0 = no resend planned */
    int timeout_ms;
    bool sent;
    bus_reply_fn cb;
    void *arg;
};

typedef struct {
    uv_timer_t timer;
    bus_client_t *owner;     /* NULL after the client is destroyed */
} client_timer_t;

struct _bus_client_t {
    void *sock;
    char *service;
    char *target;
    char endpoint[256];
    pending_t *head, *tail;
    size_t npending;
    bus_uv_t *uv;
    client_timer_t *timer;
    unsigned long long completed;   /* callbacks run so far */
    metric_t *m_ok, *m_error, *m_deadline, *m_unavail, *m_retries, *m_eagain;
};

static void s_free_timer (uv_handle_t *h)
{
    free (h);   /* the timer is the first member of client_timer_t */
}

static metric_t *s_outcome_metric (bus_client_t *self, const char *outcome)
{
    char labels[384];
    bus__label (labels, sizeof labels, "service", self->service, "target", self->target,
                "outcome", outcome);
    return metrics_counter (metrics_global (), "copilot_client_requests_total",
                            "Requests sent to other daemons, by outcome.", labels);
}

bus_client_t *bus_client_new (void *zctx, const char *endpoint, const char *service,
                              const char *target)
{
    if (!zctx || !endpoint || !service) {
        bus__set_error ("bus_client_new: missing argument");
        return NULL;
    }
    bus_client_t *self = calloc (1, sizeof *self);
    if (!self) {
        bus__set_error ("out of memory");
        return NULL;
    }
    self->service = str_dup (service);
    self->target = str_dup (target ? target : endpoint);
    if (!self->service || !self->target || str_copy (self->endpoint, sizeof self->endpoint, endpoint)) {
        bus__set_error ("out of memory or endpoint too long");
        goto fail;
    }
    self->sock = zmq_socket (zctx, ZMQ_DEALER);
    if (!self->sock) {
        bus__set_error ("zmq_socket(DEALER): %s", zmq_strerror (errno));
        goto fail;
    }
    if (bus_socket_defaults (self->sock, true) != 0
        || bus_curve_apply (zctx, self->sock, BUS_CURVE_CLIENT, target) != 0)
        goto fail;
    if (zmq_connect (self->sock, endpoint) != 0) {
        bus__set_error ("cannot connect %s: %s", endpoint, zmq_strerror (errno));
        goto fail;
    }
    self->m_ok = s_outcome_metric (self, "ok");
    self->m_error = s_outcome_metric (self, "error");
    self->m_deadline = s_outcome_metric (self, "deadline");
    self->m_unavail = s_outcome_metric (self, "unavailable");
    char labels[256];
    bus__label (labels, sizeof labels, "service", service, "target", self->target, NULL, NULL);
    self->m_retries = metrics_counter (metrics_global (), "copilot_client_retries_total",
                                       "Idempotent requests resent once after half their timeout.",
                                       labels);
    bus__label (labels, sizeof labels, "service", service, NULL, NULL, NULL, NULL);
    self->m_eagain = metrics_counter (metrics_global (), "copilot_zmq_send_eagain_total",
                                      "Sends that found no completed connection or a full queue.",
                                      labels);
    return self;
fail:
    bus_socket_close (&self->sock);
    free (self->service);
    free (self->target);
    free (self);
    return NULL;
}

static void s_unlink (bus_client_t *self, pending_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        self->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        self->tail = p->prev;
    p->prev = p->next = NULL;
    self->npending--;
}

static void s_inc (metric_t *m)
{
    if (m)
        metric_inc (m);
}

/* Unlinks p (if still linked), runs its callback with `reply` (or a local
 * Error for status < 0) and frees it. */
static void s_complete (bus_client_t *self, pending_t *p, int status, env_t *reply, bool linked)
{
    if (linked)
        s_unlink (self, p);
    if (!reply) {
        Copilot__V1__ErrorCode code = COPILOT__V1__ERROR_CODE__ERROR_INTERNAL;
        const char *what = "reply could not be decoded";
        if (status == BUS_E_DEADLINE) {
            code = COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED;
            what = "no reply before the deadline";
        } else if (status == BUS_E_UNAVAILABLE) {
            code = COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
            what = "no connection before the deadline";
        } else if (status == BUS_E_CLOSED) {
            code = COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
            what = "client closed";
        }
        reply = env_new (self->service);
        if (reply) {
            env_set_str (&reply->header->request_id, p->id);
            env_set_error (reply, code, self->endpoint, "%s: %s (timeout %d ms)", self->target,
                           what, p->timeout_ms);
        }
    }
    if (status == 0)
        s_inc (env_is_error (reply) ? self->m_error : self->m_ok);
    else if (status == BUS_E_DEADLINE)
        s_inc (self->m_deadline);
    else
        s_inc (self->m_unavail);
    self->completed++;
    if (reply)
        p->cb (self, status, reply, p->arg);
    else
        log_error ("client.oom", "out of memory completing request %s", p->id);
    free (p->data);
    free (p);
}

void bus_client_destroy (bus_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_client_t *self = *self_p;
    *self_p = NULL;
    while (self->head)
        s_complete (self, self->head, BUS_E_CLOSED, NULL, true);
    bus_uv_destroy (&self->uv);
    if (self->timer) {
        self->timer->owner = NULL;
        uv_timer_stop (&self->timer->timer);
        uv_close ((uv_handle_t *) &self->timer->timer, s_free_timer);
        self->timer = NULL;
    }
    bus_socket_close (&self->sock);
    free (self->service);
    free (self->target);
    free (self);
}

void *bus_client_socket (bus_client_t *self)
{
    return self->sock;
}

const char *bus_client_endpoint (bus_client_t *self)
{
    return self->endpoint;
}

size_t bus_client_pending (bus_client_t *self)
{
    return self->npending;
}

/* Tries to put p on the wire. true when sent. */
static bool s_try_send (bus_client_t *self, pending_t *p)
{
    const void *pre[1] = { "" };
    size_t pre_len[1] = { 0 };
    int rc = bus__send_raw (self->sock, pre, pre_len, 1, p->data, p->len, ZMQ_DONTWAIT);
    if (rc == BUS_OK)
        return true;
    if (rc == BUS_E_UNAVAILABLE)
        s_inc (self->m_eagain);
    else
        log_warn ("client.send", "send to %s failed: %s", self->endpoint, zmq_strerror (errno));
    return false;
}

static void s_reschedule (bus_client_t *self);

int bus_client_send (bus_client_t *self, env_t *req, int timeout_ms, unsigned flags,
                     bus_reply_fn cb, void *arg)
{
    if (!self || !req || !cb || timeout_ms <= 0 || !self->sock)
        return BUS_E_INVALID;
    if (self->npending >= BUS_CLIENT_MAX_PENDING)
        return BUS_E_BUSY;
    if (!req->header && env_set_timeout (req, 0) != 0)
        return BUS_E_NOMEM;
    Copilot__V1__Header *h = req->header;
    if (!h->request_id || !h->request_id[0]) {
        char id[ENV_ID_LEN];
        env_new_id (id);
        if (env_set_str (&h->request_id, id) != 0)
            return BUS_E_NOMEM;
    }
    if ((!h->sender || !h->sender[0]) && env_set_str (&h->sender, self->service) != 0)
        return BUS_E_NOMEM;
    int64_t now_wall = clock_wall_ms ();
    int64_t deadline = now_wall + timeout_ms;
    if (h->deadline_unix_ms > 0 && h->deadline_unix_ms < deadline) {
        /* An upstream deadline that is earlier wins (deadline propagation). */
        timeout_ms = (int) (h->deadline_unix_ms - now_wall);
        if (timeout_ms < 1)
            timeout_ms = 1;
        deadline = h->deadline_unix_ms;
    }
    h->deadline_unix_ms = deadline;
    h->sent_unix_ms = now_wall;
    h->schema_version = ENV_SCHEMA_VERSION;
    h->idempotent = (flags & BUS_CALL_IDEMPOTENT) != 0;

    pending_t *p = calloc (1, sizeof *p);
    if (!p)
        return BUS_E_NOMEM;
    if (str_copy (p->id, sizeof p->id, h->request_id) != 0) {
        free (p);
        return BUS_E_INVALID;   /* absurdly long caller-chosen id */
    }
    int erc = env_encode (req, &p->data, &p->len);
    if (erc != ENV_OK) {
        free (p);
        return erc == ENV_E_NOMEM ? BUS_E_NOMEM : BUS_E_CODEC;
    }
    int64_t now = clock_mono_ms ();
    p->timeout_ms = timeout_ms;
    p->deadline_ms = now + timeout_ms;
    p->resend_at_ms = h->idempotent ? now + timeout_ms / 2 : 0;
    p->cb = cb;
    p->arg = arg;
    p->prev = self->tail;
    if (self->tail)
        self->tail->next = p;
    else
        self->head = p;
    self->tail = p;
    self->npending++;
    p->sent = s_try_send (self, p);
    s_reschedule (self);
    return BUS_OK;
}

int bus_client_recv_one (bus_client_t *self)
{
    zmq_msg_t f;
    zmq_msg_init (&f);
    int rc = zmq_msg_recv (&f, self->sock, ZMQ_DONTWAIT);
    if (rc < 0) {
        int e = errno;
        zmq_msg_close (&f);
        return e == EAGAIN || e == EINTR ? 0 : BUS_E_ZMQ;
    }
    bool delim_ok = zmq_msg_size (&f) == 0 && zmq_msg_more (&f);
    zmq_msg_close (&f);
    if (!delim_ok) {
        bus__discard_rest (self->sock);
        log_debug ("client.bad_frame", "reply from %s without delimiter dropped", self->endpoint);
        return 1;
    }
    zmq_msg_init (&f);
    if (zmq_msg_recv (&f, self->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&f);
        return 1;
    }
    if (zmq_msg_more (&f))
        bus__discard_rest (self->sock);
    env_t *reply = NULL;
    int drc = env_decode (zmq_msg_data (&f), zmq_msg_size (&f), &reply);
    zmq_msg_close (&f);
    const char *id = env_request_id (reply);
    pending_t *p = self->head;
    while (p && (!id[0] || strcmp (p->id, id) != 0))
        p = p->next;
    if (!p) {
        log_debug ("client.late_reply", "reply %s from %s matches no pending request",
                   id[0] ? id : "(no id)", self->target);
        env_free (reply);
        return 1;
    }
    if (drc != ENV_OK) {
        log_warn ("client.bad_reply", "reply %s from %s refused: %s", id, self->target,
                  env_strerror (drc));
        env_free (reply);
        s_complete (self, p, BUS_E_CODEC, NULL, true);
        return 1;
    }
    s_complete (self, p, 0, reply, true);
    return 1;
}

int bus_client_tick (bus_client_t *self)
{
    int64_t now = clock_mono_ms ();
    pending_t *expired = NULL;   /* singly linked through ->next */
    pending_t **tail = &expired;
    int64_t next = INT64_MAX;
    for (pending_t *p = self->head; p;) {
        pending_t *nx = p->next;
        if (now >= p->deadline_ms) {
            s_unlink (self, p);
            *tail = p;
            tail = &p->next;
            p = nx;
            continue;
        }
        if (!p->sent) {
            p->sent = s_try_send (self, p);
        } else if (p->resend_at_ms && now >= p->resend_at_ms) {
            /* Idempotent: resend once with the same id; whichever reply comes
             * first completes the request, the other is dropped as late. */
            p->resend_at_ms = 0;
            if (s_try_send (self, p))
                s_inc (self->m_retries);
        }
        int64_t due = p->deadline_ms;
        if (!p->sent && now + BUS_CLIENT_UNSENT_RETRY_MS < due)
            due = now + BUS_CLIENT_UNSENT_RETRY_MS;
        if (p->resend_at_ms && p->resend_at_ms < due)
            due = p->resend_at_ms;
        if (due < next)
            next = due;
        p = nx;
    }
    while (expired) {
        pending_t *p = expired;
        expired = p->next;
        p->next = NULL;
        s_complete (self, p, p->sent ? BUS_E_DEADLINE : BUS_E_UNAVAILABLE, NULL, false);
    }
    if (!self->head)
        return -1;
    /* Callbacks may have added requests; recompute cheaply if so. */
    if (next == INT64_MAX)
        next = now;
    int64_t wait = next - clock_mono_ms ();
    return wait < 0 ? 0 : (wait > 60000 ? 60000 : (int) wait);
}

int bus_client_poll (bus_client_t *self, int timeout_ms)
{
    int64_t end = timeout_ms >= 0 ? clock_mono_ms () + timeout_ms : INT64_MAX;
    const unsigned long long start = self->completed;
    for (;;) {
        int wait = bus_client_tick (self);
        if (wait < 0 && timeout_ms < 0)
            return (int) (self->completed - start);
        int64_t left = end - clock_mono_ms ();
        if (left <= 0)
            return (int) (self->completed - start);
        if (wait < 0 || wait > left)
            wait = (int) (left > 60000 ? 60000 : left);
        zmq_pollitem_t it = { self->sock, 0, ZMQ_POLLIN, 0 };
        int rc = zmq_poll (&it, 1, wait);
        if (rc < 0) {
            if (errno == EINTR) {
                if (proc_stop_requested ())
                    return (int) (self->completed - start);
                continue;
            }
            return BUS_E_ZMQ;
        }
        for (;;) {
            rc = bus_client_recv_one (self);
            if (rc < 0)
                return BUS_E_ZMQ;
            if (rc == 0)
                break;
        }
    }
}

typedef struct {
    bool done;
    int status;
    env_t *reply;
} call_state_t;

static void s_call_cb (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    call_state_t *st = arg;
    st->done = true;
    st->status = status;
    st->reply = reply;
}

int bus_client_call (bus_client_t *self, env_t *req, env_t **reply_out, int timeout_ms,
                     unsigned flags)
{
    if (!reply_out)
        return BUS_E_INVALID;
    *reply_out = NULL;
    call_state_t st = { false, 0, NULL };
    int rc = bus_client_send (self, req, timeout_ms, flags, s_call_cb, &st);
    if (rc != BUS_OK)
        return rc;
    while (!st.done) {
        int wait = bus_client_tick (self);
        if (st.done)
            break;
        if (wait < 0)
            wait = 10;
        zmq_pollitem_t it = { self->sock, 0, ZMQ_POLLIN, 0 };
        int prc = zmq_poll (&it, 1, wait);
        if (prc < 0 && errno != EINTR)
            break;
        while (!st.done && bus_client_recv_one (self) > 0) {
        }
        /* Other requests' replies may have been consumed above; the uv check
         * (if attached) re-reads ZMQ_EVENTS before the loop sleeps again. */
    }
    if (!st.done) {
        /* zmq failure: complete through the normal path so nothing leaks. */
        for (pending_t *p = self->head; p; p = p->next) {
            if (p->cb == s_call_cb && p->arg == &st) {
                s_complete (self, p, BUS_E_UNAVAILABLE, NULL, true);
                break;
            }
        }
    }
    *reply_out = st.reply;
    if (self->uv)
        bus_uv_kick (self->uv);
    s_reschedule (self);
    return st.status;
}

int bus_call (const char *endpoint, env_t *req, env_t **reply_out, int timeout_ms)
{
    if (reply_out)
        *reply_out = NULL;
    void *ctx = proc_zmq_ctx_new ();
    if (!ctx)
        return BUS_E_ZMQ;
    bus_client_t *c = bus_client_new (ctx, endpoint, "cli", NULL);
    if (!c) {
        proc_zmq_ctx_term (&ctx);
        return BUS_E_ZMQ;
    }
    int rc = bus_client_call (c, req, reply_out, timeout_ms, 0);
    bus_client_destroy (&c);
    proc_zmq_ctx_term (&ctx);
    return rc;
}

/* ---- libuv ------------------------------------------------------------------ */

static int s_uv_read (void *arg)
{
    return bus_client_recv_one (arg);
}

static void s_on_timer (uv_timer_t *t)
{
    client_timer_t *ct = (client_timer_t *) t;
    if (!ct->owner)
        return;
    bus_client_tick (ct->owner);
    s_reschedule (ct->owner);
}

static void s_reschedule (bus_client_t *self)
{
    if (!self->timer)
        return;
    int64_t now = clock_mono_ms ();
    int64_t next = INT64_MAX;
    for (pending_t *p = self->head; p; p = p->next) {
        int64_t due = p->deadline_ms;
        if (!p->sent)
            due = now + BUS_CLIENT_UNSENT_RETRY_MS < due ? now + BUS_CLIENT_UNSENT_RETRY_MS : due;
        if (p->resend_at_ms && p->resend_at_ms < due)
            due = p->resend_at_ms;
        if (due < next)
            next = due;
    }
    if (next == INT64_MAX) {
        uv_timer_stop (&self->timer->timer);
        return;
    }
    /* uv's loop time may lag the monotonic clock slightly; +1 ms avoids a
     * spin of zero-delay timers that find nothing due yet. */
    int64_t delay = next - now;
    uv_timer_start (&self->timer->timer, s_on_timer, delay > 0 ? (uint64_t) delay + 1 : 0, 0);
}

int bus_client_attach_uv (bus_client_t *self, uv_loop_t *loop)
{
    if (self->uv || self->timer || !loop)
        return BUS_E_INVALID;
    client_timer_t *ct = calloc (1, sizeof *ct);
    if (!ct)
        return BUS_E_NOMEM;
    if (uv_timer_init (loop, &ct->timer) != 0) {
        free (ct);
        return BUS_E_NOMEM;
    }
    ct->owner = self;
    self->uv = bus_uv_new (loop, self->sock, s_uv_read, self);
    if (!self->uv) {
        uv_close ((uv_handle_t *) &ct->timer, s_free_timer);
        return BUS_E_ZMQ;
    }
    self->timer = ct;
    s_reschedule (self);
    return BUS_OK;
}
