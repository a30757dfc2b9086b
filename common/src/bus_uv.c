/* bus_uv.c — libuv integration for ZeroMQ sockets (c-patterns §3.3).
 *
 * ZMQ_FD is edge-triggered and zmq_recv/zmq_send/ZMQ_EVENTS consume edges,
 * so "wait for the fd, then read" loses wake-ups and stalls (measured: 0 of
 * 20 000 messages). The fd is therefore only a wake-up source; the truth is
 * ZMQ_EVENTS, read at two points of every loop iteration:
 *
 *   prepare (before the loop may block): POLLIN pending → start idle, so the
 *            loop polls with timeout 0 instead of sleeping on a consumed edge;
 *   check   (after polling): read up to `budget` messages through the
 *            caller's read function, then re-read ZMQ_EVENTS and keep idle
 *            running while input remains (fairness: other handles get a turn
 *            between passes).
 *
 * All four handles are embedded in one struct. bus_uv_destroy stops them
 * synchronously (uv_poll_stop removes the fd from epoll at once, so the
 * caller may zmq_close right after) and frees the struct from the last
 * close callback. Single-threaded (the loop thread).
 */
#include "bus_uv.h"

#include <errno.h>
#include <stdlib.h>
#include <zmq.h>

#include "log.h"

#define BUS_UV_DEFAULT_BUDGET 256

struct _bus_uv_t {
    uv_poll_t poll;
    uv_prepare_t prepare;
    uv_check_t check;
    uv_idle_t idle;
    void *zsock;
    bus_uv_read_fn read;
    void *arg;
    int budget;
    int open_handles;   /* handles not yet closed; free at 0 */
    bool closing;
    unsigned long long reads;
    unsigned long long passes;
};

static int s_events (bus_uv_t *self)
{
    int ev = 0;
    size_t len = sizeof ev;
    if (zmq_getsockopt (self->zsock, ZMQ_EVENTS, &ev, &len) != 0)
        return 0;
    return ev;
}

static void s_noop_idle (uv_idle_t *h)
{
    (void) h;
}

static void s_noop_poll (uv_poll_t *h, int status, int events)
{
    /* Wake-up only: reading here would consume edges (see design comment). */
    (void) h;
    (void) status;
    (void) events;
}

static void s_prepare (uv_prepare_t *h)
{
    bus_uv_t *self = h->data;
    if (s_events (self) & ZMQ_POLLIN)
        uv_idle_start (&self->idle, s_noop_idle);
}

static void s_check (uv_check_t *h)
{
    bus_uv_t *self = h->data;
    self->passes++;
    for (int i = 0; i < self->budget && !self->closing; i++) {
        int rc = self->read (self->arg);
        if (rc <= 0)
            break;
        self->reads++;
    }
    if (self->closing)
        return;
    if (s_events (self) & ZMQ_POLLIN)
        uv_idle_start (&self->idle, s_noop_idle);
    else
        uv_idle_stop (&self->idle);
}

bus_uv_t *bus_uv_new (uv_loop_t *loop, void *zsock, bus_uv_read_fn read, void *arg)
{
    if (!loop || !zsock || !read)
        return NULL;
    int fd = -1;
    size_t len = sizeof fd;
    if (zmq_getsockopt (zsock, ZMQ_FD, &fd, &len) != 0) {
        log_error ("bus_uv.fd", "ZMQ_FD failed: %s", zmq_strerror (errno));
        return NULL;
    }
    bus_uv_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->zsock = zsock;
    self->read = read;
    self->arg = arg;
    self->budget = BUS_UV_DEFAULT_BUDGET;
    int rc = uv_poll_init (loop, &self->poll, fd);
    if (rc != 0) {
        log_error ("bus_uv.poll", "uv_poll_init failed: %s", uv_strerror (rc));
        free (self);
        return NULL;
    }
    /* The remaining inits cannot fail on Unix (they only link the handle). */
    uv_prepare_init (loop, &self->prepare);
    uv_check_init (loop, &self->check);
    uv_idle_init (loop, &self->idle);
    self->open_handles = 4;
    self->poll.data = self->prepare.data = self->check.data = self->idle.data = self;
    uv_poll_start (&self->poll, UV_READABLE, s_noop_poll);
    uv_prepare_start (&self->prepare, s_prepare);
    uv_check_start (&self->check, s_check);
    /* Messages may already be queued (e.g. replies that arrived before the
     * socket was attached): make the first iteration look at them. */
    uv_idle_start (&self->idle, s_noop_idle);
    return self;
}

static void s_on_close (uv_handle_t *h)
{
    bus_uv_t *self = h->data;
    if (--self->open_handles == 0)
        free (self);
}

void bus_uv_destroy (bus_uv_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    bus_uv_t *self = *self_p;
    *self_p = NULL;
    self->closing = true;
    uv_poll_stop (&self->poll);   /* fd leaves epoll now, before any zmq_close */
    uv_prepare_stop (&self->prepare);
    uv_check_stop (&self->check);
    uv_idle_stop (&self->idle);
    uv_close ((uv_handle_t *) &self->poll, s_on_close);
    uv_close ((uv_handle_t *) &self->prepare, s_on_close);
    uv_close ((uv_handle_t *) &self->check, s_on_close);
    uv_close ((uv_handle_t *) &self->idle, s_on_close);
}

void bus_uv_set_budget (bus_uv_t *self, int budget)
{
    self->budget = budget >= 1 ? budget : 1;
}

unsigned long long bus_uv_read_count (const bus_uv_t *self)
{
    return self->reads;
}

unsigned long long bus_uv_pass_count (const bus_uv_t *self)
{
    return self->passes;
}

void bus_uv_kick (bus_uv_t *self)
{
    if (self && !self->closing)
        uv_idle_start (&self->idle, s_noop_idle);
}
