/* pubsub.c — publisher streams with sequence numbers and heartbeats, and a
 * subscriber with gap detection (contract and topic scheme in pubsub.h).
 *
 * Publisher: one PUB socket; a small array of streams, one per topic family,
 * created on first publish (or pubsub_pub_declare). A stream's publisher_id
 * embeds the family, the service, the pid and 4 random hex digits, so a
 * restarted process is a new stream and subscribers never confuse its seq 1
 * with a replay. Heartbeats go out per stream every PUBSUB_HEARTBEAT_MS from
 * a uv timer or pubsub_pub_tick(), and once more on destroy.
 *
 * Subscriber: one SUB socket; the caller's prefixes; the set of families it
 * subscribed whole (only those are gap-tracked, because only for those it
 * receives every message of a stream); a bounded table of known publishers
 * (last seq, last heard), evicting the least recently heard when full.
 * Ordering: a publisher's data and heartbeats share one PUB socket and one
 * path through the proxy, so a heartbeat's last_seq never overtakes data.
 *
 * All received bytes are untrusted: topic length cap, exactly two frames,
 * env_decode with the size cap; anything else is counted and dropped.
 * Single-threaded objects.
 */
#include "pubsub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "bus_curve.h"
#include "bus_internal.h"
#include "bus_uv.h"
#include "clock.h"
#include "log.h"
#include "str.h"

#define PUBSUB_FAMILY_MAX 48
#define PUBSUB_ID_MAX 192
#define PUBSUB_MAX_PEERS 256
#define PUBSUB_MAX_PREFIXES 64

typedef struct {
    char family[PUBSUB_FAMILY_MAX];
    char id[PUBSUB_ID_MAX];
    uint64_t seq;
} stream_t;

typedef struct {
    uv_timer_t timer;   /* first member: the close callback frees the struct */
    void *owner;        /* NULL after the owner was destroyed */
} owned_timer_t;

struct _pubsub_pub_t {
    void *sock;
    char *service;
    char base[128];
    stream_t *streams;
    size_t nstreams;
    int64_t next_hb_ms;
    owned_timer_t *timer;
    metric_t *m_msgs, *m_dropped;
};

int pubsub_topic_family (const char *topic, char *out, size_t size)
{
    if (!topic || !out || size == 0)
        return -1;
    const char *dot = strchr (topic, '.');
    if (!dot || dot == topic)
        return -1;
    size_t n = (size_t) (dot - topic);
    if (n >= size)
        return -1;
    memcpy (out, topic, n);
    out[n] = '\0';
    return 0;
}

static void s_free_timer (uv_handle_t *h)
{
    free (h);
}

static void s_close_timer (owned_timer_t **t_p)
{
    if (!*t_p)
        return;
    (*t_p)->owner = NULL;
    uv_timer_stop (&(*t_p)->timer);
    uv_close ((uv_handle_t *) &(*t_p)->timer, s_free_timer);
    *t_p = NULL;
}

/* Opens a socket of `type` and binds ('@' prefix) or connects `endpoint`. */
static void *s_open (void *zctx, int type, const char *endpoint)
{
    void *sock = zmq_socket (zctx, type);
    if (!sock) {
        bus__set_error ("zmq_socket: %s", zmq_strerror (errno));
        return NULL;
    }
    /* CURVE (bus_curve.h): a bound socket is the server side, a connected
     * one is a client of the event bus. No-op without a policy. */
    if (bus_socket_defaults (sock, false) != 0
        || bus_curve_apply (zctx, sock, endpoint[0] == '@' ? BUS_CURVE_SERVER : BUS_CURVE_CLIENT,
                            "event-bus") != 0) {
        bus_socket_close (&sock);
        return NULL;
    }
    int rc;
    if (endpoint[0] == '@') {
        if (bus_prepare_endpoint (endpoint + 1) != 0) {
            bus_socket_close (&sock);
            return NULL;
        }
        rc = zmq_bind (sock, endpoint + 1);
    } else {
        rc = zmq_connect (sock, endpoint[0] == '>' ? endpoint + 1 : endpoint);
    }
    if (rc != 0) {
        bus__set_error ("cannot %s %s: %s", endpoint[0] == '@' ? "bind" : "connect", endpoint,
                        zmq_strerror (errno));
        bus_socket_close (&sock);
        return NULL;
    }
    return sock;
}

static metric_t *s_counter (const char *name, const char *help, const char *service)
{
    char labels[160];
    bus__label (labels, sizeof labels, "service", service, NULL, NULL, NULL, NULL);
    return metrics_counter (metrics_global (), name, help, labels);
}

static void s_bad_frame (const char *service, const char *reason)
{
    char labels[256];
    bus__label (labels, sizeof labels, "service", service, "reason", reason, NULL, NULL);
    metric_t *m = metrics_counter (metrics_global (), "copilot_bad_frames_total",
                                   "Messages dropped or refused because of bad framing or encoding.",
                                   labels);
    if (m)
        metric_inc (m);
}

/* =========================== publisher ===================================== */

pubsub_pub_t *pubsub_pub_new (void *zctx, const char *endpoint, const char *service)
{
    if (!zctx || !endpoint || !service) {
        bus__set_error ("pubsub_pub_new: missing argument");
        return NULL;
    }
    pubsub_pub_t *self = calloc (1, sizeof *self);
    if (!self || !(self->service = str_dup (service))) {
        free (self);
        bus__set_error ("out of memory");
        return NULL;
    }
    char rnd[ENV_ID_LEN];
    env_new_id (rnd);   /* first hex digits: the per-process random prefix */
    if (str_fmt (self->base, sizeof self->base, "%s-%d-%.4s", service, (int) getpid (), rnd) != 0) {
        bus__set_error ("service name too long");
        goto fail;
    }
    self->sock = s_open (zctx, ZMQ_PUB, endpoint);
    if (!self->sock)
        goto fail;
    self->m_msgs = s_counter ("copilot_pub_messages_total", "Events published.", service);
    self->m_dropped = s_counter ("copilot_pub_dropped_total",
                                 "Events dropped by the publisher (queue full).", service);
    self->next_hb_ms = clock_mono_ms () + PUBSUB_HEARTBEAT_MS;
    return self;
fail:
    free (self->service);
    free (self);
    return NULL;
}

void pubsub_pub_destroy (pubsub_pub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pubsub_pub_t *self = *self_p;
    *self_p = NULL;
    if (self->nstreams)
        pubsub_pub_heartbeat (self);   /* final heartbeat: subscribers see last_seq */
    s_close_timer (&self->timer);
    bus_socket_close (&self->sock);
    free (self->streams);
    free (self->service);
    free (self);
}

static stream_t *s_stream (pubsub_pub_t *self, const char *family, bool create)
{
    for (size_t i = 0; i < self->nstreams; i++)
        if (strcmp (self->streams[i].family, family) == 0)
            return &self->streams[i];
    if (!create)
        return NULL;
    if (strlen (family) >= PUBSUB_FAMILY_MAX || strcmp (family, "hb") == 0)
        return NULL;
    stream_t *grown = realloc (self->streams, (self->nstreams + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    self->streams = grown;
    stream_t *s = &self->streams[self->nstreams];
    memset (s, 0, sizeof *s);
    str_copy (s->family, sizeof s->family, family);
    if (str_fmt (s->id, sizeof s->id, "%s@%s", family, self->base) != 0)
        return NULL;
    self->nstreams++;
    return s;
}

int pubsub_pub_declare (pubsub_pub_t *self, const char *family)
{
    if (!self || !family || !family[0] || strchr (family, '.'))
        return BUS_E_INVALID;
    return s_stream (self, family, true) ? BUS_OK : BUS_E_INVALID;
}

static int s_stamp (pubsub_pub_t *self, env_t *env, const stream_t *s, uint64_t seq)
{
    if (!env->header && env_set_timeout (env, 0) != 0)
        return BUS_E_NOMEM;
    Copilot__V1__Header *h = env->header;
    h->schema_version = ENV_SCHEMA_VERSION;
    h->seq = seq;
    h->sent_unix_ms = clock_wall_ms ();
    if (env_set_str (&h->publisher_id, s->id) != 0 || env_set_str (&h->sender, self->service) != 0)
        return BUS_E_NOMEM;
    return BUS_OK;
}

static int s_send (pubsub_pub_t *self, const char *topic, env_t *env)
{
    const void *pre[1] = { topic };
    size_t pre_len[1] = { strlen (topic) };
    int rc = bus__send_env (self->sock, pre, pre_len, 1, env, ZMQ_DONTWAIT);
    if (rc == BUS_E_UNAVAILABLE && self->m_dropped)
        metric_inc (self->m_dropped);
    return rc;
}

int pubsub_publish (pubsub_pub_t *self, const char *topic, env_t *env)
{
    char family[PUBSUB_FAMILY_MAX];
    if (!self || !env || !topic || !topic[0] || strlen (topic) > PUBSUB_TOPIC_MAX
        || str_starts_with (topic, "hb.") || pubsub_topic_family (topic, family, sizeof family) != 0)
        return BUS_E_INVALID;
    stream_t *s = s_stream (self, family, true);
    if (!s)
        return BUS_E_NOMEM;
    uint64_t seq = ++s->seq;   /* consumed even if dropped: subscribers see the gap */
    int rc = s_stamp (self, env, s, seq);
    if (rc != BUS_OK)
        return rc;
    rc = s_send (self, topic, env);
    if (rc == BUS_OK && self->m_msgs)
        metric_inc (self->m_msgs);
    return rc;
}

const char *pubsub_pub_id (pubsub_pub_t *self, const char *family)
{
    stream_t *s = family ? s_stream (self, family, false) : NULL;
    return s ? s->id : NULL;
}

uint64_t pubsub_pub_seq (pubsub_pub_t *self, const char *family)
{
    stream_t *s = family ? s_stream (self, family, false) : NULL;
    return s ? s->seq : 0;
}

int pubsub_pub_heartbeat (pubsub_pub_t *self)
{
    int result = BUS_OK;
    for (size_t i = 0; i < self->nstreams; i++) {
        stream_t *s = &self->streams[i];
        env_t *env = env_new (self->service);
        Copilot__V1__Heartbeat *hb = env_msg_new (&copilot__v1__heartbeat__descriptor);
        if (!env || !hb) {
            env_free (env);
            if (hb)
                protobuf_c_message_free_unpacked (&hb->base, NULL);
            return BUS_E_NOMEM;
        }
        hb->last_seq = s->seq;
        hb->unix_ms = clock_wall_ms ();
        int rc = env_set_str (&hb->publisher_id, s->id);
        if (rc == 0)
            rc = env_set_str (&hb->service, self->service);
        if (env_set_body (env, COPILOT__V1__ENVELOPE__BODY_HEARTBEAT, hb) != 0 || rc != 0) {
            env_free (env);
            return BUS_E_NOMEM;
        }
        char topic[PUBSUB_FAMILY_MAX + PUBSUB_ID_MAX + 8];
        rc = str_fmt (topic, sizeof topic, "hb.%s.%s", s->family, s->id);
        if (rc == 0)
            rc = s_stamp (self, env, s, s->seq);
        if (rc == 0)
            rc = s_send (self, topic, env);
        if (rc != BUS_OK)
            result = rc;
        env_free (env);
    }
    self->next_hb_ms = clock_mono_ms () + PUBSUB_HEARTBEAT_MS;
    return result;
}

int pubsub_pub_tick (pubsub_pub_t *self)
{
    int64_t now = clock_mono_ms ();
    if (now >= self->next_hb_ms)
        pubsub_pub_heartbeat (self);
    int64_t left = self->next_hb_ms - clock_mono_ms ();
    return left < 0 ? 0 : (int) left;
}

static void s_pub_timer (uv_timer_t *t)
{
    owned_timer_t *ot = (owned_timer_t *) t;
    if (ot->owner)
        pubsub_pub_heartbeat (ot->owner);
}

int pubsub_pub_attach_uv (pubsub_pub_t *self, uv_loop_t *loop)
{
    if (!self || !loop || self->timer)
        return BUS_E_INVALID;
    owned_timer_t *ot = calloc (1, sizeof *ot);
    if (!ot)
        return BUS_E_NOMEM;
    if (uv_timer_init (loop, &ot->timer) != 0) {
        free (ot);
        return BUS_E_NOMEM;
    }
    ot->owner = self;
    self->timer = ot;
    uv_timer_start (&ot->timer, s_pub_timer, PUBSUB_HEARTBEAT_MS, PUBSUB_HEARTBEAT_MS);
    return BUS_OK;
}

/* =========================== subscriber ==================================== */

typedef struct {
    char id[PUBSUB_ID_MAX];
    uint64_t last_seq;
    int64_t heard_ms;
} peer_t;

struct _pubsub_sub_t {
    void *sock;
    char *service;
    pubsub_msg_fn fn;
    void *arg;
    pubsub_gap_fn gap_fn;
    void *gap_arg;
    char *prefixes[PUBSUB_MAX_PREFIXES];
    size_t nprefixes;
    char *families[PUBSUB_MAX_PREFIXES];
    size_t nfamilies;
    bool track_all;
    peer_t *peers;
    size_t npeers;
    uint64_t received, missed;
    bus_uv_t *uv;
    metric_t *m_msgs, *m_missed;
};

pubsub_sub_t *pubsub_sub_new (void *zctx, const char *endpoint, const char *service,
                              pubsub_msg_fn fn, void *arg)
{
    if (!zctx || !endpoint || !service || !fn) {
        bus__set_error ("pubsub_sub_new: missing argument");
        return NULL;
    }
    pubsub_sub_t *self = calloc (1, sizeof *self);
    if (!self || !(self->service = str_dup (service))
        || !(self->peers = calloc (PUBSUB_MAX_PEERS, sizeof *self->peers))) {
        if (self)
            free (self->service);
        free (self);
        bus__set_error ("out of memory");
        return NULL;
    }
    self->fn = fn;
    self->arg = arg;
    self->sock = s_open (zctx, ZMQ_SUB, endpoint);
    if (!self->sock) {
        free (self->peers);
        free (self->service);
        free (self);
        return NULL;
    }
    self->m_msgs = s_counter ("copilot_sub_messages_total", "Events received.", service);
    self->m_missed = s_counter ("copilot_pubsub_missed_total",
                                "Events detected as missed through sequence gaps.", service);
    return self;
}

void pubsub_sub_destroy (pubsub_sub_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pubsub_sub_t *self = *self_p;
    *self_p = NULL;
    bus_uv_destroy (&self->uv);
    bus_socket_close (&self->sock);
    for (size_t i = 0; i < self->nprefixes; i++)
        free (self->prefixes[i]);
    for (size_t i = 0; i < self->nfamilies; i++)
        free (self->families[i]);
    free (self->peers);
    free (self->service);
    free (self);
}

static int s_zsub (pubsub_sub_t *self, const char *prefix)
{
    if (zmq_setsockopt (self->sock, ZMQ_SUBSCRIBE, prefix, strlen (prefix)) != 0) {
        bus__set_error ("subscribe '%s': %s", prefix, zmq_strerror (errno));
        return BUS_E_ZMQ;
    }
    return BUS_OK;
}

int pubsub_sub_subscribe (pubsub_sub_t *self, const char *prefix)
{
    if (!self || !prefix || strlen (prefix) > PUBSUB_TOPIC_MAX
        || self->nprefixes == PUBSUB_MAX_PREFIXES)
        return BUS_E_INVALID;
    char *copy = str_dup (prefix);
    if (!copy)
        return BUS_E_NOMEM;
    int rc = s_zsub (self, prefix);
    if (rc != BUS_OK) {
        free (copy);
        return rc;
    }
    self->prefixes[self->nprefixes++] = copy;
    if (!prefix[0]) {
        self->track_all = true;
        return BUS_OK;
    }
    /* A whole family "<family>." (one dot, at the end) is gap-tracked. */
    size_t n = strlen (prefix);
    const char *dot = strchr (prefix, '.');
    if (dot == prefix + n - 1 && n > 1 && strcmp (prefix, "hb.") != 0
        && self->nfamilies < PUBSUB_MAX_PREFIXES && n - 1 < PUBSUB_FAMILY_MAX) {
        char *fam = str_ndup (prefix, n - 1);
        if (!fam)
            return BUS_E_NOMEM;
        char hb[PUBSUB_FAMILY_MAX + 8];
        str_fmt (hb, sizeof hb, "hb.%s.", fam);
        rc = s_zsub (self, hb);
        if (rc != BUS_OK) {
            free (fam);
            return rc;
        }
        self->families[self->nfamilies++] = fam;
    }
    return BUS_OK;
}

void pubsub_sub_set_gap_fn (pubsub_sub_t *self, pubsub_gap_fn fn, void *arg)
{
    self->gap_fn = fn;
    self->gap_arg = arg;
}

void *pubsub_sub_socket (pubsub_sub_t *self)
{
    return self->sock;
}

static bool s_tracked (const pubsub_sub_t *self, const char *family)
{
    if (self->track_all)
        return true;
    for (size_t i = 0; i < self->nfamilies; i++)
        if (strcmp (self->families[i], family) == 0)
            return true;
    return false;
}

static bool s_user_wants (const pubsub_sub_t *self, const char *topic)
{
    for (size_t i = 0; i < self->nprefixes; i++)
        if (str_starts_with (topic, self->prefixes[i]))
            return true;
    return false;
}

static peer_t *s_peer (pubsub_sub_t *self, const char *id, bool create)
{
    for (size_t i = 0; i < self->npeers; i++)
        if (strcmp (self->peers[i].id, id) == 0)
            return &self->peers[i];
    if (!create || strlen (id) >= PUBSUB_ID_MAX)
        return NULL;
    peer_t *p;
    if (self->npeers < PUBSUB_MAX_PEERS) {
        p = &self->peers[self->npeers++];
    } else {
        p = &self->peers[0];   /* evict the least recently heard */
        for (size_t i = 1; i < self->npeers; i++)
            if (self->peers[i].heard_ms < p->heard_ms)
                p = &self->peers[i];
    }
    memset (p, 0, sizeof *p);
    str_copy (p->id, sizeof p->id, id);
    return p;
}

/* Records seq (a data seq, or a heartbeat's last_seq) of publisher id. */
static void s_track (pubsub_sub_t *self, const char *id, uint64_t seq, bool heartbeat)
{
    if (!id || !id[0])
        return;
    peer_t *p = s_peer (self, id, false);
    if (!p) {
        p = s_peer (self, id, true);
        if (p) {
            /* First contact: a late joiner, not a gap. */
            p->last_seq = seq;
            p->heard_ms = clock_mono_ms ();
        }
        return;
    }
    p->heard_ms = clock_mono_ms ();
    uint64_t expect = heartbeat ? p->last_seq : p->last_seq + 1;
    if (seq > expect) {
        uint64_t missed = heartbeat ? seq - p->last_seq : seq - p->last_seq - 1;
        self->missed += missed;
        if (self->m_missed)
            metric_add (self->m_missed, (double) missed);
        log_warn ("pubsub.gap", "missed %llu event(s) from %s: last seq %llu, now %llu",
                  (unsigned long long) missed, id, (unsigned long long) p->last_seq,
                  (unsigned long long) seq);
        if (self->gap_fn)
            self->gap_fn (self, id, p->last_seq, seq, missed, self->gap_arg);
    } else if (!heartbeat && seq <= p->last_seq) {
        log_debug ("pubsub.replay", "seq %llu from %s not after %llu", (unsigned long long) seq,
                   id, (unsigned long long) p->last_seq);
        return;
    }
    if (seq > p->last_seq)
        p->last_seq = seq;
}

int pubsub_sub_recv_one (pubsub_sub_t *self)
{
    zmq_msg_t t;
    zmq_msg_init (&t);
    if (zmq_msg_recv (&t, self->sock, ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close (&t);
        return e == EAGAIN || e == EINTR ? 0 : BUS_E_ZMQ;
    }
    size_t tlen = zmq_msg_size (&t);
    char topic[PUBSUB_TOPIC_MAX + 1];
    bool ok = zmq_msg_more (&t) && tlen > 0 && tlen <= PUBSUB_TOPIC_MAX
              && !memchr (zmq_msg_data (&t), '\0', tlen);
    if (ok) {
        memcpy (topic, zmq_msg_data (&t), tlen);
        topic[tlen] = '\0';
    }
    zmq_msg_close (&t);
    if (!ok) {
        bus__discard_rest (self->sock);
        s_bad_frame (self->service, "topic");
        return 1;
    }
    zmq_msg_t m;
    zmq_msg_init (&m);
    if (zmq_msg_recv (&m, self->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&m);
        s_bad_frame (self->service, "framing");
        return 1;
    }
    if (zmq_msg_more (&m)) {
        bus__discard_rest (self->sock);
        zmq_msg_close (&m);
        s_bad_frame (self->service, "framing");
        return 1;
    }
    env_t *env = NULL;
    int drc = env_decode (zmq_msg_data (&m), zmq_msg_size (&m), &env);
    zmq_msg_close (&m);
    if (drc != ENV_OK) {
        env_free (env);
        s_bad_frame (self->service, drc == ENV_E_TOOBIG ? "too_big" : "malformed");
        return 1;
    }
    char family[PUBSUB_FAMILY_MAX];
    if (str_starts_with (topic, "hb.")) {
        if (pubsub_topic_family (topic + 3, family, sizeof family) == 0 && s_tracked (self, family)
            && env->body_case == COPILOT__V1__ENVELOPE__BODY_HEARTBEAT && env->heartbeat)
            s_track (self, env->heartbeat->publisher_id, env->heartbeat->last_seq, true);
    } else {
        if (pubsub_topic_family (topic, family, sizeof family) == 0 && s_tracked (self, family))
            s_track (self, env->header->publisher_id, env->header->seq, false);
        self->received++;
        if (self->m_msgs)
            metric_inc (self->m_msgs);
    }
    if (s_user_wants (self, topic))
        self->fn (self, topic, env, self->arg);
    else
        env_free (env);
    return 1;
}

int pubsub_sub_poll (pubsub_sub_t *self, int timeout_ms)
{
    zmq_pollitem_t it = { self->sock, 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll (&it, 1, timeout_ms);
    if (rc < 0)
        return errno == EINTR ? 0 : BUS_E_ZMQ;
    int n = 0;
    while ((rc = pubsub_sub_recv_one (self)) > 0)
        n++;
    return rc < 0 && n == 0 ? rc : n;
}

static int s_sub_uv_read (void *arg)
{
    return pubsub_sub_recv_one (arg);
}

int pubsub_sub_attach_uv (pubsub_sub_t *self, uv_loop_t *loop)
{
    if (!self || !loop || self->uv)
        return BUS_E_INVALID;
    self->uv = bus_uv_new (loop, self->sock, s_sub_uv_read, self);
    return self->uv ? BUS_OK : BUS_E_ZMQ;
}

uint64_t pubsub_sub_received (const pubsub_sub_t *self)
{
    return self->received;
}

uint64_t pubsub_sub_missed (const pubsub_sub_t *self)
{
    return self->missed;
}

int pubsub_sub_last_seq (const pubsub_sub_t *self, const char *publisher_id, uint64_t *out)
{
    for (size_t i = 0; i < self->npeers; i++)
        if (strcmp (self->peers[i].id, publisher_id) == 0) {
            *out = self->peers[i].last_seq;
            return BUS_OK;
        }
    return BUS_E_INVALID;
}

int64_t pubsub_sub_last_heard (const pubsub_sub_t *self, const char *publisher_id)
{
    for (size_t i = 0; i < self->npeers; i++)
        if (strcmp (self->peers[i].id, publisher_id) == 0)
            return self->peers[i].heard_ms;
    return -1;
}
