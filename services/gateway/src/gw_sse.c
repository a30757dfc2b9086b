/* gw_sse.c — SSE hub.
 *
 * Data structures: a circular ring of formatted events (id + wire text),
 * newest last, and a doubly linked list of clients. Events are formatted
 * once and the same bytes go to every client and into the ring.
 *
 * Client lifetime: a client is created by gw_sse_open and freed in exactly
 * one place — the abort callback of its request (connection closed, write
 * overflow) or gw_sse_destroy (which ends the stream itself, so no abort
 * follows). A failed write only marks the client dead; the abort callback
 * arrives later from the loop.
 *
 * Hold queue: bounded to the ring size in events; overflowing it ends the
 * stream at release time (the browser reconnects and resumes).
 */
#include "gw_sse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "metrics.h"
#include "str.h"

typedef struct {
    char *id;
    char *text;
    size_t len;
} ev_t;

struct _gw_sse_client_t {
    gw_sse_t *hub;
    gw_req_t *req;
    gw_sse_client_t *prev, *next;
    bool dead;
    bool hold;
    bool hold_overflow;
    ev_t *held;
    size_t nheld;
    char **replayed;
    size_t nreplayed, replayed_cap;
    gw_sse_gone_fn gone;
    void *gone_arg;
};

struct _gw_sse_t {
    uv_timer_t *timer;
    ev_t *ring;
    size_t ring_size, ring_start, ring_len;
    int64_t ping_ms, retry_ms;
    gw_sse_client_t *clients;
    size_t nclients;
    metric_t *m_events, *m_clients, *m_dropped;
};

static void
s_ev_free (ev_t *e)
{
    free (e->id);
    free (e->text);
    e->id = e->text = NULL;
    e->len = 0;
}

static bool
s_no_newline (const char *s)
{
    return s && !strchr (s, '\n') && !strchr (s, '\r');
}

int
gw_sse_format (buf_t *out, const char *id, const char *type, const char *data)
{
    if (!s_no_newline (id) || !s_no_newline (type) || !s_no_newline (data))
        return -1;
    int rc = 0;
    if (id[0])
        rc = buf_printf (out, "id: %s\n", id);
    if (!rc && type[0])
        rc = buf_printf (out, "event: %s\n", type);
    if (!rc)
        rc = buf_printf (out, "data: %s\n\n", data);
    return rc ? -1 : 0;
}

/* ---- client list ------------------------------------------------------------- */

static void
s_client_free (gw_sse_client_t *c)
{
    for (size_t i = 0; i < c->nheld; i++)
        s_ev_free (&c->held[i]);
    free (c->held);
    for (size_t i = 0; i < c->nreplayed; i++)
        free (c->replayed[i]);
    free (c->replayed);
    free (c);
}

static void
s_unlink (gw_sse_client_t *c)
{
    gw_sse_t *h = c->hub;
    if (!h)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    h->nclients--;
    if (h->m_clients)
        metric_set (h->m_clients, (double) h->nclients);
    c->hub = NULL;
}

static void
s_on_abort (gw_req_t *req, void *arg)
{
    (void) req;
    gw_sse_client_t *c = arg;
    s_unlink (c);
    if (c->gone)
        c->gone (c, c->gone_arg);
    s_client_free (c);
}

static int
s_write (gw_sse_client_t *c, const char *text, size_t len)
{
    if (c->dead)
        return -1;
    if (gw_stream_write (c->req, text, len) != 0) {
        c->dead = true;
        if (c->hub && c->hub->m_dropped)
            metric_inc (c->hub->m_dropped);
        return -1;
    }
    return 0;
}

/* ---- hub ------------------------------------------------------------------------ */

static void
s_on_ping (uv_timer_t *t)
{
    gw_sse_t *h = t->data;
    static const char ping[] = ": ping\n\n";
    for (gw_sse_client_t *c = h->clients; c; c = c->next)
        (void) s_write (c, ping, sizeof ping - 1);
}

gw_sse_t *
gw_sse_new (uv_loop_t *loop, size_t ring_size, int64_t ping_ms, int64_t retry_ms)
{
    gw_sse_t *h = calloc (1, sizeof *h);
    if (!h)
        return NULL;
    h->ring_size = ring_size ? ring_size : 1;
    h->ring = calloc (h->ring_size, sizeof *h->ring);
    h->timer = malloc (sizeof *h->timer);
    if (!h->ring || !h->timer) {
        free (h->ring);
        free (h->timer);
        free (h);
        return NULL;
    }
    h->ping_ms = ping_ms;
    h->retry_ms = retry_ms;
    uv_timer_init (loop, h->timer);
    h->timer->data = h;
    if (ping_ms > 0)
        uv_timer_start (h->timer, s_on_ping, (uint64_t) ping_ms, (uint64_t) ping_ms);
    metrics_t *mg = metrics_global ();
    h->m_events = metrics_counter (mg, "copilot_sse_events_total",
                                   "Events received from the bus and fanned out to SSE clients.", NULL);
    h->m_clients = metrics_gauge (mg, "copilot_sse_clients", "Connected SSE clients.", NULL);
    h->m_dropped = metrics_counter (mg, "copilot_sse_client_overflows_total",
                                    "SSE clients closed because they fell behind.", NULL);
    return h;
}

static void
s_timer_closed (uv_handle_t *h)
{
    free (h);
}

void
gw_sse_destroy (gw_sse_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_sse_t *h = *self_p;
    *self_p = NULL;
    while (h->clients) {
        gw_sse_client_t *c = h->clients;
        s_unlink (c);
        gw_req_on_abort (c->req, NULL, NULL);
        gw_stream_end (c->req);
        if (c->gone)
            c->gone (c, c->gone_arg);
        s_client_free (c);
    }
    uv_timer_stop (h->timer);
    uv_close ((uv_handle_t *) h->timer, s_timer_closed);
    for (size_t i = 0; i < h->ring_size; i++)
        s_ev_free (&h->ring[i]);
    free (h->ring);
    free (h);
}

static ev_t *
s_ring_at (gw_sse_t *h, size_t i)   /* 0 = oldest */
{
    return &h->ring[(h->ring_start + i) % h->ring_size];
}

static int
s_queue_held (gw_sse_client_t *c, const ev_t *e)
{
    size_t cap = c->hub ? c->hub->ring_size : 64;
    if (c->nheld >= cap) {
        c->hold_overflow = true;
        return 0;
    }
    ev_t *nv = realloc (c->held, (c->nheld + 1) * sizeof *nv);
    if (!nv)
        return -1;
    c->held = nv;
    ev_t *d = &c->held[c->nheld];
    d->id = str_dup (e->id);
    d->text = malloc (e->len);
    d->len = e->len;
    if (!d->id || !d->text) {
        s_ev_free (d);
        return -1;
    }
    memcpy (d->text, e->text, e->len);
    c->nheld++;
    return 0;
}

int
gw_sse_publish (gw_sse_t *self, const char *id, const char *type, const char *data)
{
    buf_t *b = buf_new (strlen (data) + strlen (id) + strlen (type) + 64);
    if (!b || gw_sse_format (b, id, type, data) != 0) {
        buf_destroy (&b);
        return -1;
    }
    ev_t e;
    e.len = buf_len (b);
    e.text = buf_detach (b);
    buf_destroy (&b);
    e.id = str_dup (id);
    if (!e.text || !e.id) {
        s_ev_free (&e);
        return -1;
    }
    /* Into the ring (evicting the oldest when full). */
    if (self->ring_len == self->ring_size) {
        s_ev_free (s_ring_at (self, 0));
        self->ring_start = (self->ring_start + 1) % self->ring_size;
        self->ring_len--;
    }
    *s_ring_at (self, self->ring_len) = e;
    self->ring_len++;
    if (self->m_events)
        metric_inc (self->m_events);
    const ev_t *stored = s_ring_at (self, self->ring_len - 1);
    for (gw_sse_client_t *c = self->clients; c; c = c->next) {
        if (c->dead)
            continue;
        if (c->hold)
            (void) s_queue_held (c, stored);
        else
            (void) s_write (c, stored->text, stored->len);
    }
    return 0;
}

gw_sse_client_t *
gw_sse_open (gw_sse_t *self, gw_req_t *req)
{
    gw_sse_client_t *c = calloc (1, sizeof *c);
    if (!c) {
        gw_respond_error (req, 500, "internal", "out of memory");
        return NULL;
    }
    if (gw_stream_begin (req, 200, "text/event-stream; charset=utf-8",
                         "Cache-Control: no-cache\r\nX-Accel-Buffering: no\r\n")
        != 0) {
        free (c);
        return NULL;   /* the connection is closing; its abort has no callback */
    }
    c->hub = self;
    c->req = req;
    gw_req_on_abort (req, s_on_abort, c);
    c->next = self->clients;
    if (self->clients)
        self->clients->prev = c;
    self->clients = c;
    self->nclients++;
    if (self->m_clients)
        metric_set (self->m_clients, (double) self->nclients);
    char retry[64];
    snprintf (retry, sizeof retry, "retry: %lld\n\n", (long long) self->retry_ms);
    (void) s_write (c, retry, strlen (retry));
    return c;
}

int
gw_sse_replay_all (gw_sse_t *self, gw_sse_client_t *c)
{
    for (size_t i = 0; i < self->ring_len; i++) {
        ev_t *e = s_ring_at (self, i);
        if (s_write (c, e->text, e->len) != 0)
            return -1;
    }
    return 0;
}

int
gw_sse_replay_ring (gw_sse_t *self, gw_sse_client_t *c, const char *last_id)
{
    size_t found = SIZE_MAX;
    for (size_t i = self->ring_len; i-- > 0;) {
        if (strcmp (s_ring_at (self, i)->id, last_id) == 0) {
            found = i;
            break;
        }
    }
    if (found == SIZE_MAX)
        return 0;
    for (size_t i = found + 1; i < self->ring_len; i++) {
        ev_t *e = s_ring_at (self, i);
        if (s_write (c, e->text, e->len) != 0)
            return -1;
    }
    return 1;
}

void
gw_sse_hold (gw_sse_client_t *c)
{
    c->hold = true;
}

int
gw_sse_send (gw_sse_client_t *c, const char *id, const char *type, const char *data)
{
    buf_t *b = buf_new (strlen (data) + strlen (id) + strlen (type) + 64);
    if (!b || gw_sse_format (b, id, type, data) != 0) {
        buf_destroy (&b);
        return -1;
    }
    int rc = s_write (c, buf_data (b), buf_len (b));
    buf_destroy (&b);
    if (rc == 0 && c->hold && id[0]) {
        if (c->nreplayed == c->replayed_cap) {
            size_t nc = c->replayed_cap ? c->replayed_cap * 2 : 16;
            char **nv = realloc (c->replayed, nc * sizeof *nv);
            if (!nv)
                return 0;
            c->replayed = nv;
            c->replayed_cap = nc;
        }
        char *d = str_dup (id);
        if (d)
            c->replayed[c->nreplayed++] = d;
    }
    return rc;
}

int
gw_sse_comment (gw_sse_client_t *c, const char *text)
{
    if (!s_no_newline (text))
        return -1;
    char line[512];
    snprintf (line, sizeof line, ": %s\n\n", text);
    return s_write (c, line, strlen (line));
}

int
gw_sse_release (gw_sse_client_t *c)
{
    c->hold = false;
    int rc = 0;
    for (size_t i = 0; i < c->nheld && rc == 0; i++) {
        bool dup = false;
        for (size_t j = 0; j < c->nreplayed; j++)
            if (strcmp (c->replayed[j], c->held[i].id) == 0)
                dup = true;
        if (!dup)
            rc = s_write (c, c->held[i].text, c->held[i].len);
    }
    for (size_t i = 0; i < c->nheld; i++)
        s_ev_free (&c->held[i]);
    c->nheld = 0;
    for (size_t i = 0; i < c->nreplayed; i++)
        free (c->replayed[i]);
    c->nreplayed = 0;
    if (c->hold_overflow && !c->dead) {
        /* Fell behind while on hold: end the stream, the browser resumes. */
        c->hold_overflow = false;
        (void) gw_sse_comment (c, "overflow; reconnect with Last-Event-ID");
        c->dead = true;
        gw_req_t *req = c->req;
        s_unlink (c);
        gw_req_on_abort (req, NULL, NULL);
        if (c->gone)
            c->gone (c, c->gone_arg);
        s_client_free (c);
        gw_stream_end (req);
        return -1;
    }
    return rc;
}

void
gw_sse_client_on_gone (gw_sse_client_t *c, gw_sse_gone_fn fn, void *arg)
{
    c->gone = fn;
    c->gone_arg = arg;
}

size_t
gw_sse_clients (const gw_sse_t *self)
{
    return self ? self->nclients : 0;
}

bool
gw_sse_in_ring (const gw_sse_t *self, const char *id)
{
    if (!self || !id)
        return false;
    for (size_t i = self->ring_len; i-- > 0;)
        if (strcmp (self->ring[(self->ring_start + i) % self->ring_size].id, id) == 0)
            return true;
    return false;
}

size_t
gw_sse_ring_len (const gw_sse_t *self)
{
    return self ? self->ring_len : 0;
}

const char *
gw_sse_last_id (const gw_sse_t *self)
{
    if (!self || self->ring_len == 0)
        return "";
    return self->ring[(self->ring_start + self->ring_len - 1) % self->ring_size].id;
}
