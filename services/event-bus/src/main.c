/* event-bus — the XSUB/XPUB proxy of the copilot event bus (c-patterns §2.5).
 *
 * Publishers connect PUB sockets to our XSUB (config bus.pub_endpoint,
 * COPILOT_BUS_PUB_ENDPOINT); subscribers connect SUB sockets to our XPUB
 * (bus.sub_endpoint, COPILOT_BUS_SUB_ENDPOINT). Events flow XSUB → XPUB,
 * subscriptions flow XPUB → XSUB (so publishers filter at the source).
 * Frames are passed through untouched: [topic][Envelope], where the
 * envelope header already carries publisher_id and the per-stream seq
 * stamped by the publisher (pubsub.h); subscribers detect gaps from those.
 *
 * Instead of a blocking zmq_proxy thread, both sockets are driven by the
 * svc loop through bus_uv (prepare/check/idle/poll), so the same process
 * also answers Ping/Metrics on its ROUTER endpoint (event_bus.endpoint),
 * counts what it forwards, and drains on SIGTERM with the common code.
 * Slow subscribers: XPUB drops for a subscriber whose queue (SNDHWM,
 * event_bus.hwm, default 10000) is full, without blocking the others;
 * subscribers see the loss as a seq gap.
 *
 * CURVE (bus_curve.h): with curve.enabled both XSUB and XPUB are CURVE
 * servers (key event_bus.curve_server_secret or curve.server_secret) and
 * the ZAP handler admits only allow-listed publishers and subscribers.
 *
 * Exit codes: runtime.h (0 clean, 2 usage, 3 config, 4 bind).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bus_curve.h"
#include "bus_uv.h"
#include "svc.h"

typedef struct {
    svc_t *svc;
    void *xsub;
    void *xpub;
    bus_uv_t *uv_xsub;
    bus_uv_t *uv_xpub;
    char pub_ep[256];
    char sub_ep[256];
    metric_t *m_events, *m_subs, *m_bytes, *m_errors;
} eb_t;

/* Moves ONE multipart message from `from` to `to`. 1 moved (or dropped and
 * counted), 0 nothing waiting, -1 socket error. */
static int s_forward (eb_t *eb, void *from, void *to, metric_t *count)
{
    bool first = true;
    bool dropped = false;
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        if (zmq_msg_recv (&m, from, ZMQ_DONTWAIT) < 0) {
            int e = errno;
            zmq_msg_close (&m);
            if (first)
                return e == EAGAIN || e == EINTR ? 0 : -1;
            break;   /* cannot happen: the rest of a multipart is atomic */
        }
        first = false;
        int more = zmq_msg_more (&m);
        if (eb->m_bytes)
            metric_add (eb->m_bytes, (double) zmq_msg_size (&m));
        if (!dropped && zmq_msg_send (&m, to, (more ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT) < 0) {
            dropped = true;
            if (eb->m_errors)
                metric_inc (eb->m_errors);
            log_warn ("bus.forward", "forwarding failed: %s", zmq_strerror (errno));
        }
        zmq_msg_close (&m);   /* no-op after a successful send */
        if (!more)
            break;
    }
    if (!dropped && count)
        metric_inc (count);
    return 1;
}

static int s_read_xsub (void *arg)
{
    eb_t *eb = arg;
    return s_forward (eb, eb->xsub, eb->xpub, eb->m_events);
}

static int s_read_xpub (void *arg)
{
    eb_t *eb = arg;
    return s_forward (eb, eb->xpub, eb->xsub, eb->m_subs);
}

static void *s_bind (svc_t *svc, int type, const char *endpoint, int hwm)
{
    if (bus_prepare_endpoint (endpoint) != 0) {
        log_error ("bus.bind", "%s", bus_last_error ());
        return NULL;
    }
    void *s = zmq_socket (svc_zctx (svc), type);
    if (!s)
        return NULL;
    if (bus_curve_apply (svc_zctx (svc), s, BUS_CURVE_SERVER, NULL) != 0) {
        log_error ("bus.bind", "CURVE for %s: %s", endpoint, bus_last_error ());
        bus_socket_close (&s);
        return NULL;
    }
    if (bus_socket_defaults (s, false) != 0
        || zmq_setsockopt (s, ZMQ_SNDHWM, &hwm, sizeof hwm) != 0
        || zmq_setsockopt (s, ZMQ_RCVHWM, &hwm, sizeof hwm) != 0 || zmq_bind (s, endpoint) != 0) {
        log_error ("bus.bind", "cannot bind %s: %s", endpoint, zmq_strerror (errno));
        bus_socket_close (&s);
        return NULL;
    }
    return s;
}

static void s_close (svc_t *svc, void *arg)
{
    (void) svc;
    eb_t *eb = arg;
    bus_uv_destroy (&eb->uv_xsub);
    bus_uv_destroy (&eb->uv_xpub);
    bus_socket_close (&eb->xsub);
    bus_socket_close (&eb->xpub);
}

static metric_t *s_counter (const char *name, const char *help, const char *direction)
{
    char labels[128];
    if (direction)
        snprintf (labels, sizeof labels, "service=\"event-bus\",direction=\"%s\"", direction);
    else
        snprintf (labels, sizeof labels, "service=\"event-bus\"");
    return metrics_counter (metrics_global (), name, help, labels);
}

int main (int argc, char **argv)
{
    int rc;
    svc_t *svc = svc_new ("event-bus", argc, argv, &rc);
    if (!svc)
        return rc;
    eb_t eb = { .svc = svc };
    int64_t hwm = 0;
    if (cfg_int (svc_cfg (svc), "event_bus.hwm", 10000, 0, 10000000, &hwm) != 0) {
        log_error ("bus.config", "%s", cfg_error (svc_cfg (svc)));
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    if (svc_bus_endpoints (svc_cfg (svc), eb.pub_ep, eb.sub_ep, sizeof eb.pub_ep) != 0) {
        log_error ("bus.config", "bus endpoints do not fit (run_dir too long?)");
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    eb.xsub = s_bind (svc, ZMQ_XSUB, eb.pub_ep, (int) hwm);
    eb.xpub = s_bind (svc, ZMQ_XPUB, eb.sub_ep, (int) hwm);
    if (!eb.xsub || !eb.xpub) {
        s_close (svc, &eb);
        svc_destroy (&svc);
        return PROC_EXIT_BIND;
    }
    eb.m_events = s_counter ("copilot_bus_forwarded_total",
                             "Messages forwarded by the event bus, by direction.", "events");
    eb.m_subs = s_counter ("copilot_bus_forwarded_total",
                           "Messages forwarded by the event bus, by direction.", "subscriptions");
    eb.m_bytes = s_counter ("copilot_bus_forwarded_bytes_total", "Frame bytes forwarded.", NULL);
    eb.m_errors = s_counter ("copilot_bus_forward_errors_total",
                             "Messages that could not be forwarded.", NULL);
    eb.uv_xsub = bus_uv_new (svc_loop (svc), eb.xsub, s_read_xsub, &eb);
    eb.uv_xpub = bus_uv_new (svc_loop (svc), eb.xpub, s_read_xpub, &eb);
    if (!eb.uv_xsub || !eb.uv_xpub) {
        s_close (svc, &eb);
        svc_destroy (&svc);
        return PROC_EXIT_FAILURE;
    }
    svc_on_close (svc, s_close, &eb);
    char detail[600];
    snprintf (detail, sizeof detail, "[+]xsub %s [+]xpub %s", eb.pub_ep, eb.sub_ep);
    svc_set_ready (svc, true, detail);
    log_info ("bus.listening", "publishers → %s, subscribers → %s", eb.pub_ep, eb.sub_ep);
    rc = svc_run (svc);
    svc_destroy (&svc);
    return rc;
}
