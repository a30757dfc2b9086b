/* gw_app.c — the gateway application: routes, auth, backends, SSE, health.
 *
 * Request path: gw_http hands a complete request to s_on_request, which
 *   1. matches the route table (404 unknown path, 405 wrong method; paths
 *      outside /api/ fall through to the static directory when configured),
 *   2. authenticates (Bearer header; ?access_token= only for /events, since
 *      EventSource cannot send headers): 401 missing/invalid, 403 role,
 *   3. validates input (400) and either answers locally (livez, whoami) or
 *      translates to one protobuf request sent with svc_send() to the owning
 *      daemon (report-service, prompt-builder, retrieval-router,
 *      graph-service); readyz and metrics fan out to every backend.
 *
 * call_t is the state of one HTTP request that waits for backends. It is
 * reference counted: one reference for the HTTP side (dropped when the
 * response is sent or the connection aborts), one per outstanding bus
 * request (dropped in its callback — the bus guarantees exactly one), one
 * for the deadline timer (dropped in its close callback). So a reply that
 * arrives after the client went away, or after the deadline answered 504,
 * only frees memory.
 *
 * Deadlines: every backend request carries timeout_ms in its envelope (the
 * bus client completes it with DEADLINE_EXCEEDED / UNAVAILABLE) and the
 * gateway arms its own uv_timer slightly later as a backstop; whichever
 * fires first answers 504. Backend health comes from periodic Pings; a
 * backend whose last Ping failed recently is answered 503 at once instead of
 * making the client wait for the deadline.
 *
 * Errors from backends map through gw_status_for_error(); the message names
 * the backend. Every response is counted in copilot_http_requests_total
 * {route,method,code} and copilot_http_request_duration_seconds{route}.
 *
 * Lifetime: see gw_app.h — the app struct outlives the svc so late bus
 * callbacks (run while svc closes its clients) can see `closed`.
 * Loop thread only.
 */
#include "gw_app.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "gw_auth.h"
#include "gw_http.h"
#include "gw_json.h"
#include "gw_prom.h"
#include "gw_rcache.h"
#include "gw_route.h"
#include "gw_sse.h"
#include "gw_static.h"
#include "str.h"

#define GW_MAX_BACKENDS 8
#define GW_DEADLINE_SLACK_MS 50

typedef struct _call_t call_t;
typedef struct _gw_backend_t gw_backend_t;

struct _gw_backend_t {
    gw_app_t *app;
    char name[64];
    bool known;           /* at least one Ping finished */
    bool up;
    bool ping_pending;
    int64_t checked_ms;   /* monotonic time of the last verdict */
    char detail[256];
    metric_t *m_up;
};

/* One outstanding bus request of a call. */
typedef struct {
    call_t *call;
    int slot;
    gw_backend_t *backend;
} send_t;

typedef void (*reply_fn) (call_t *c, const env_t *reply);

typedef struct {
    bool done;
    int status;           /* 0 ok */
    char text[512];
    char *payload;        /* metrics text */
} slot_t;

struct _call_t {
    gw_app_t *app;
    gw_req_t *req;        /* NULL once answered or aborted */
    const gw_route_t *route;
    call_t *prev, *next;
    int refs;
    uv_timer_t *timer;
    gw_backend_t *backend;
    int timeout_ms;
    int expect_case;      /* body case of a good reply */
    reply_fn on_reply;
    char mode[16];        /* graph: neighbors / subgraph */
    char *cache_key;      /* report: response cache key (NULL = do not cache) */
    uint64_t cache_epoch; /* report: cache epoch when the request was sent */
    int nslots;
    slot_t *slots;
    send_t *sends;
};

struct _gw_app_t {
    svc_t *svc;
    uv_loop_t *loop;
    gw_server_t *http;
    gw_static_t *stat;
    gw_auth_t *auth;
    gw_sse_t *sse;
    bool auth_enabled;
    bool closed;
    bool draining;
    char token_file[1024];
    gw_backend_t backends[GW_MAX_BACKENDS];
    int nbackends;
    char search_service[64];
    char report_service[64];
    char graph_service[64];
    char prompt_service[64];
    int64_t t_report, t_explain, t_search, t_graph, t_commentary, t_ping, t_metrics;
    int64_t health_ms;
    size_t sse_ring;
    call_t *calls;
    gw_rcache_t *rcache;  /* rendered report responses; NULL = disabled */
    uint64_t commentary_seq;   /* highest commentary seq forwarded to SSE */
    metric_t *m_gap_filled;
    metric_t *m_rcache_hit, *m_rcache_miss;
    uv_timer_t *drain_timer;
    int port;
    metric_t *m_inflight;
};

/* ---- helpers ----------------------------------------------------------------- */

/* Backend messages often start with "<service>: "; we add the name ourselves. */
static const char *
s_unprefixed (const char *msg, const char *name)
{
    size_t n = strlen (name);
    if (msg && strncmp (msg, name, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
        return msg + n + 2;
    return msg ? msg : "";
}

static gw_backend_t *
s_backend (gw_app_t *app, const char *name)
{
    for (int i = 0; i < app->nbackends; i++)
        if (strcmp (app->backends[i].name, name) == 0)
            return &app->backends[i];
    return NULL;
}

static void
s_backend_verdict (gw_backend_t *b, bool up, const char *detail)
{
    if (b->known && b->up != up)
        log_emit (up ? LOG_INFO : LOG_WARN, up ? "backend.up" : "backend.down", "%s is %s%s%s",
                  b->name, up ? "up" : "down", detail && detail[0] ? ": " : "",
                  detail ? detail : "");
    /* A report-service that went away may come back with other data or
     * configuration: rendered responses from before are not trusted. */
    if (b->app && b->app->rcache && b->known && b->up != up
        && strcmp (b->name, b->app->report_service) == 0)
        gw_rcache_invalidate (b->app->rcache);
    b->known = true;
    b->up = up;
    b->checked_ms = clock_mono_ms ();
    str_copy (b->detail, sizeof b->detail, s_unprefixed (detail, b->name));
    if (b->m_up)
        metric_set (b->m_up, up ? 1 : 0);
}

static void
s_count (const gw_route_t *route, gw_req_t *req, int status)
{
    char labels[256], code[8];
    char route_lbl[96];
    snprintf (code, sizeof code, "%d", status);
    if (metrics_escape_label (route ? route->pattern : "other", route_lbl, sizeof route_lbl) != 0)
        str_copy (route_lbl, sizeof route_lbl, "other");
    snprintf (labels, sizeof labels, "route=\"%s\",method=\"%s\",code=\"%s\"", route_lbl,
              gw_req_method (req), code);
    metrics_t *mg = metrics_global ();
    metric_t *m = metrics_counter (mg, "copilot_http_requests_total",
                                   "HTTP requests answered by the gateway.", labels);
    if (m)
        metric_inc (m);
    snprintf (labels, sizeof labels, "route=\"%s\"", route_lbl);
    metric_t *h = metrics_histogram (mg, "copilot_http_request_duration_seconds",
                                     "Time from the first request byte to the response.", labels,
                                     NULL, 0);
    if (h)
        metric_observe (h, (double) (clock_mono_ms () - gw_req_start_ms (req)) / 1000.0);
}

/* Sends a JSON document (consumed) with `status`. */
static void
s_send_json (const gw_route_t *route, gw_req_t *req, int status, json_t *doc)
{
    if (!doc) {
        s_count (route, req, 500);
        gw_respond_error (req, 500, "internal", "out of memory building the response");
        return;
    }
    char *text = json_dumps (doc, GW_JSON_DUMP_FLAGS);
    json_decref (doc);
    if (!text) {
        s_count (route, req, 500);
        gw_respond_error (req, 500, "internal", "cannot encode the response");
        return;
    }
    s_count (route, req, status);
    gw_respond (req, status, "application/json; charset=utf-8", NULL, text, strlen (text));
    free (text);
}

static void
s_send_error (const gw_route_t *route, gw_req_t *req, int status, const char *code,
              const char *msg)
{
    s_count (route, req, status);
    gw_respond_error (req, status, code, "%s", msg);
}

static void
s_send_text (const gw_route_t *route, gw_req_t *req, int status, const char *ctype,
             const char *text, size_t len)
{
    s_count (route, req, status);
    gw_respond (req, status, ctype, "Cache-Control: no-store\r\n", text, len);
}

/* ---- call lifetime ----------------------------------------------------------- */

static void
s_call_unref (call_t *c)
{
    if (--c->refs > 0)
        return;
    if (c->app && !c->app->closed) {
        if (c->prev)
            c->prev->next = c->next;
        else if (c->app->calls == c)
            c->app->calls = c->next;
        if (c->next)
            c->next->prev = c->prev;
    }
    for (int i = 0; i < c->nslots; i++)
        free (c->slots[i].payload);
    free (c->cache_key);
    free (c->slots);
    free (c->sends);
    free (c);
}

static void
s_timer_closed (uv_handle_t *h)
{
    call_t *c = h->data;
    free (h);
    s_call_unref (c);
}

static void
s_call_stop_timer (call_t *c)
{
    if (c->timer) {
        uv_timer_stop (c->timer);
        uv_close ((uv_handle_t *) c->timer, s_timer_closed);
        c->timer = NULL;
    }
}

static void
s_call_abort (gw_req_t *req, void *arg)
{
    (void) req;
    call_t *c = arg;
    c->req = NULL;   /* the request is being freed: do not touch it */
    if (c->app && !c->app->closed)
        svc_release (c->app->svc);
    if (c->app && c->app->m_inflight)
        metric_add (c->app->m_inflight, -1);
    s_call_stop_timer (c);
    s_call_unref (c);
}

/* The HTTP side of a call is over (answered): drop its hold on the svc,
 * the in-flight gauge, the deadline timer and the HTTP reference. */
static void
s_call_done (call_t *c)
{
    c->req = NULL;
    if (c->app && !c->app->closed)
        svc_release (c->app->svc);
    if (c->app && c->app->m_inflight)
        metric_add (c->app->m_inflight, -1);
    s_call_stop_timer (c);
    s_call_unref (c);
}

static call_t *
s_call_new (gw_app_t *app, gw_req_t *req, const gw_route_t *route, int nslots)
{
    call_t *c = calloc (1, sizeof *c);
    if (!c)
        return NULL;
    c->app = app;
    c->req = req;
    c->route = route;
    c->refs = 1;
    if (nslots > 0) {
        c->slots = calloc ((size_t) nslots, sizeof *c->slots);
        c->sends = calloc ((size_t) nslots, sizeof *c->sends);
        if (!c->slots || !c->sends) {
            free (c->slots);
            free (c->sends);
            free (c);
            return NULL;
        }
        c->nslots = nslots;
    }
    c->next = app->calls;
    if (app->calls)
        app->calls->prev = c;
    app->calls = c;
    gw_req_on_abort (req, s_call_abort, c);
    svc_hold (app->svc);
    if (app->m_inflight)
        metric_add (app->m_inflight, 1);
    return c;
}

static void
s_call_json (call_t *c, int status, json_t *doc)
{
    if (!c->req) {
        json_decref (doc);
        return;
    }
    gw_req_t *req = c->req;
    gw_req_on_abort (req, NULL, NULL);
    s_send_json (c->route, req, status, doc);
    s_call_done (c);
}

/* Answers with a ready body (borrowed) and extra header lines. */
static void
s_call_body (call_t *c, int status, const char *ctype, const char *extra, const char *body,
             size_t len)
{
    if (!c->req)
        return;
    gw_req_t *req = c->req;
    gw_req_on_abort (req, NULL, NULL);
    s_count (c->route, req, status);
    gw_respond (req, status, ctype, extra, body, len);
    s_call_done (c);
}

static void
s_call_error (call_t *c, int status, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_call_error (call_t *c, int status, const char *code, const char *fmt, ...)
{
    if (!c->req)
        return;
    char msg[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    gw_req_t *req = c->req;
    gw_req_on_abort (req, NULL, NULL);
    s_send_error (c->route, req, status, code, msg);
    s_call_done (c);
}

static void
s_call_text (call_t *c, int status, const char *ctype, const char *text, size_t len)
{
    if (!c->req)
        return;
    gw_req_t *req = c->req;
    gw_req_on_abort (req, NULL, NULL);
    s_send_text (c->route, req, status, ctype, text, len);
    s_call_done (c);
}

/* ---- single backend request ------------------------------------------------- */

static void
s_on_deadline (uv_timer_t *t)
{
    call_t *c = t->data;
    s_call_error (c, 504, "deadline_exceeded", "%s did not answer within %d ms",
                  c->backend ? c->backend->name : "the backend", c->timeout_ms);
}

/* Maps a failed or error reply to an HTTP error; true when it was one. */
static bool
s_reply_failed (call_t *c, int status, const env_t *reply)
{
    const char *bname = c->backend ? c->backend->name : "backend";
    if (status == BUS_E_DEADLINE) {
        s_call_error (c, 504, "deadline_exceeded", "%s did not answer within %d ms", bname,
                      c->timeout_ms);
        return true;
    }
    if (status == BUS_E_UNAVAILABLE || status == BUS_E_CLOSED) {
        if (c->backend)
            s_backend_verdict (c->backend, false, "not reachable");
        s_call_error (c, 503, "unavailable",
                      "%s is unavailable: no connection within %d ms (is it running?)", bname,
                      c->timeout_ms);
        return true;
    }
    if (status != 0) {
        s_call_error (c, 502, "bad_gateway", "%s sent an unreadable reply (%s)", bname,
                      bus_strerror (status));
        return true;
    }
    const Copilot__V1__Error *e = env_error (reply);
    if (e) {
        int http = gw_status_for_error (e->code);
        if (e->code == COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE && c->backend)
            s_backend_verdict (c->backend, false, e->message);
        s_call_error (c, http, env_code_name (e->code), "%s: %s%s%s%s", bname,
                      e->message && e->message[0] ? s_unprefixed (e->message, bname)
                                                  : env_code_name (e->code),
                      e->detail && e->detail[0] ? " (" : "", e->detail ? e->detail : "",
                      e->detail && e->detail[0] ? ")" : "");
        return true;
    }
    if (c->backend)
        s_backend_verdict (c->backend, true, "");
    if (c->expect_case && (int) reply->body_case != c->expect_case) {
        s_call_error (c, 502, "bad_gateway", "%s answered with an unexpected message (%s)", bname,
                      env_body_name (reply->body_case));
        return true;
    }
    return false;
}

static void
s_on_bus_reply (bus_client_t *client, int status, env_t *reply, void *arg)
{
    (void) client;
    send_t *s = arg;
    call_t *c = s->call;
    if (c->req && c->app && !c->app->closed && !s_reply_failed (c, status, reply))
        c->on_reply (c, reply);
    env_free (reply);
    s_call_unref (c);
}

/* Sends `env` (consumed) to c->backend with c->timeout_ms; answers the HTTP
 * request itself when the send is impossible. */
static void
s_call_send (call_t *c, env_t *env, unsigned flags)
{
    gw_app_t *app = c->app;
    gw_backend_t *b = c->backend;
    if (!env) {
        s_call_error (c, 500, "internal", "out of memory building the backend request");
        return;
    }
    env_set_str (&env->header->trace_id, gw_req_id (c->req));
    int64_t now = clock_mono_ms ();
    /* A down verdict holds until the next Ping can have answered: two
     * health intervals plus the Ping's own timeout (a dead backend's Ping
     * takes the whole timeout to fail, so a window of health intervals
     * alone would lapse between two failed Pings and send requests to
     * wait for their deadline). */
    if (b->known && !b->up && now - b->checked_ms < 2 * app->health_ms + app->t_ping) {
        env_free (env);
        s_call_error (c, 503, "unavailable", "%s is unavailable: %s", b->name,
                      b->detail[0] ? b->detail : "health check failed");
        return;
    }
    if (!c->sends) {
        c->sends = calloc (1, sizeof *c->sends);
        if (!c->sends) {
            env_free (env);
            s_call_error (c, 500, "internal", "out of memory");
            return;
        }
    }
    c->sends[0].call = c;
    c->sends[0].slot = 0;
    c->sends[0].backend = b;
    c->refs++;
    int rc = svc_send (app->svc, b->name, env, c->timeout_ms, flags, s_on_bus_reply, &c->sends[0]);
    env_free (env);
    if (rc != 0) {
        c->refs--;
        s_call_error (c, 503, "unavailable", "cannot send to %s: %s", b->name, bus_strerror (rc));
        return;
    }
    c->timer = malloc (sizeof *c->timer);
    if (c->timer) {
        uv_timer_init (app->loop, c->timer);
        c->timer->data = c;
        c->refs++;
        uv_timer_start (c->timer, s_on_deadline, (uint64_t) c->timeout_ms + GW_DEADLINE_SLACK_MS, 0);
    }
}

static env_t *
s_env_with (int body_case, void *msg)
{
    env_t *env = env_new ("gateway");
    if (!env || !msg) {
        if (msg)
            protobuf_c_message_free_unpacked (msg, NULL);
        env_free (env);
        return NULL;
    }
    if (env_set_body (env, body_case, msg) != 0) {
        env_free (env);
        return NULL;
    }
    return env;
}

/* ---- reply converters -------------------------------------------------------- */

/* Sends a report body with its validators, or 304 when the client's
 * If-None-Match already names this ETag. `c` may be NULL (answered from the
 * cache without a call). */
static void
s_reply_cached (const gw_route_t *route, gw_req_t *req, call_t *c, const char *etag,
                const char *how, const char *body, size_t len)
{
    if (!req)
        return;
    char extra[256];
    snprintf (extra, sizeof extra,
              "ETag: %s\r\nCache-Control: private, no-cache\r\nX-Copilot-Cache: %s\r\n", etag,
              how);
    const char *inm = gw_req_header (req, "if-none-match");
    bool not_modified = inm && gw_etag_matches (inm, etag);
    const char *ctype = "application/json; charset=utf-8";
    if (c) {
        if (not_modified)
            s_call_body (c, 304, NULL, extra, NULL, 0);
        else
            s_call_body (c, 200, ctype, extra, body, len);
        return;
    }
    s_count (route, req, not_modified ? 304 : 200);
    if (not_modified)
        gw_respond (req, 304, NULL, extra, NULL, 0);
    else
        gw_respond (req, 200, ctype, extra, body, len);
}

static void
s_reply_reports (call_t *c, const env_t *r)
{
    s_call_json (c, 200, gw_json_report_list (r->list_reports_reply));
}

static void
s_reply_report (call_t *c, const env_t *r)
{
    const Copilot__V1__RunReportReply *rr = r->run_report_reply;
    if (!rr->result) {
        s_call_error (c, 502, "bad_gateway", "report-service answered without a result");
        return;
    }
    json_t *doc = gw_json_report_result (rr->result);
    char *text = doc ? json_dumps (doc, GW_JSON_DUMP_FLAGS) : NULL;
    json_decref (doc);
    if (!text) {
        s_call_error (c, 500, "internal", "cannot encode the report as JSON");
        return;
    }
    size_t len = strlen (text);
    char etag[48] = "";
    gw_app_t *app = c->app;
    if (c->cache_key && app->rcache) {
        int rc = gw_rcache_put (app->rcache, c->cache_key, c->cache_epoch, text, len,
                                clock_mono_ms (), etag, sizeof etag);
        if (rc != GW_RCACHE_OK)
            log_debug ("report.cache", "%s not cached: %s", c->cache_key, gw_rcache_strerror (rc));
    }
    if (!etag[0])
        gw_rcache_etag (text, len, etag, sizeof etag);
    s_reply_cached (c->route, c->req, c, etag, "miss", text, len);
    free (text);
}

static void
s_reply_explain (call_t *c, const env_t *r)
{
    s_call_json (c, 200, gw_json_explain_reply (r->explain_reply));
}

static void
s_reply_commentary (call_t *c, const env_t *r)
{
    s_call_json (c, 200, gw_json_commentary_reply (r->commentary_reply));
}

static void
s_reply_search (call_t *c, const env_t *r)
{
    s_call_json (c, 200, gw_json_search_reply (r->search_reply));
}

static void
s_reply_graph (call_t *c, const env_t *r)
{
    if (r->body_case == COPILOT__V1__ENVELOPE__BODY_SUBGRAPH_REPLY)
        s_call_json (c, 200, gw_json_subgraph_reply (r->subgraph_reply));
    else
        s_call_json (c, 200, gw_json_neighbors_reply (r->neighbors_reply));
}

/* ---- route handlers ------------------------------------------------------------ */

static call_t *
s_start (gw_app_t *app, gw_req_t *req, const gw_route_t *route, const char *backend,
         int64_t timeout_ms, int expect_case, reply_fn fn)
{
    gw_backend_t *b = s_backend (app, backend);
    if (!b) {
        s_send_error (route, req, 503, "unavailable", "no backend configured for this route");
        return NULL;
    }
    call_t *c = s_call_new (app, req, route, 0);
    if (!c) {
        s_send_error (route, req, 500, "internal", "out of memory");
        return NULL;
    }
    c->backend = b;
    c->timeout_ms = (int) timeout_ms;
    c->expect_case = expect_case;
    c->on_reply = fn;
    return c;
}

static void
s_h_reports (gw_app_t *app, gw_req_t *req, const gw_route_t *route)
{
    call_t *c = s_start (app, req, route, app->report_service, app->t_report,
                         COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REPLY, s_reply_reports);
    if (!c)
        return;
    void *m = env_msg_new (&copilot__v1__list_reports_request__descriptor);
    s_call_send (c, s_env_with (COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REQUEST, m),
                 BUS_CALL_IDEMPOTENT);
}

static void
s_h_report (gw_app_t *app, gw_req_t *req, const gw_route_t *route, const gw_params_t *p)
{
    const char *id = gw_params_get (p, "id");
    if (!id || !gw_valid_ident (id, 64)) {
        s_send_error (route, req, 404, "not_found", "unknown report id");
        return;
    }
    Copilot__V1__RunReportRequest *m = env_msg_new (&copilot__v1__run_report_request__descriptor);
    char err[256];
    if (!m || env_set_str (&m->report_id, id) != 0) {
        if (m)
            protobuf_c_message_free_unpacked (&m->base, NULL);
        s_send_error (route, req, 500, "internal", "out of memory");
        return;
    }
    if (gw_query_to_report_params (gw_req_query (req), m, err, sizeof err) != 0) {
        protobuf_c_message_free_unpacked (&m->base, NULL);
        s_send_error (route, req, 400, "invalid_argument", err);
        return;
    }
    /* Cache key: the id and the parameters sorted by name (their order in
     * the query string does not change the report). */
    char *key = NULL;
    if (app->rcache) {
        buf_t *kb = buf_new (256);
        const Copilot__V1__Param *sorted[16];
        size_t n = m->n_params < 16 ? m->n_params : 16;
        for (size_t i = 0; i < n; i++) {
            size_t j = i;
            while (j > 0 && strcmp (sorted[j - 1]->key, m->params[i]->key) > 0) {
                sorted[j] = sorted[j - 1];
                j--;
            }
            sorted[j] = m->params[i];
        }
        int rc = kb ? buf_puts (kb, id) : -1;
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = buf_printf (kb, "\n%s=%s", sorted[i]->key, sorted[i]->value);
        if (rc == 0)
            key = buf_detach (kb);
        buf_destroy (&kb);
        gw_rcache_hit_t hit;
        if (key && gw_rcache_get (app->rcache, key, clock_mono_ms (), &hit)) {
            if (app->m_rcache_hit)
                metric_inc (app->m_rcache_hit);
            free (key);
            protobuf_c_message_free_unpacked (&m->base, NULL);
            s_reply_cached (route, req, NULL, hit.etag, "hit", hit.body, hit.len);
            return;
        }
        if (app->m_rcache_miss)
            metric_inc (app->m_rcache_miss);
    }
    call_t *c = s_start (app, req, route, app->report_service, app->t_report,
                         COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REPLY, s_reply_report);
    if (!c) {
        free (key);
        protobuf_c_message_free_unpacked (&m->base, NULL);
        return;
    }
    c->cache_key = key;
    if (app->rcache)
        c->cache_epoch = gw_rcache_epoch (app->rcache);
    s_call_send (c, s_env_with (COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, m),
                 BUS_CALL_IDEMPOTENT);
}

static bool
s_json_content_type (gw_req_t *req)
{
    const char *ct = gw_req_header (req, "content-type");
    if (!ct)
        return false;
    while (*ct == ' ')
        ct++;
    size_t n = strlen ("application/json");
    return strncasecmp (ct, "application/json", n) == 0
           && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void
s_h_explain (gw_app_t *app, gw_req_t *req, const gw_route_t *route)
{
    if (!s_json_content_type (req)) {
        s_send_error (route, req, 415, "unsupported_media_type",
                      "send the body as Content-Type: application/json");
        return;
    }
    size_t len;
    const char *body = gw_req_body (req, &len);
    char err[256];
    json_t *doc = gw_json_parse_body (body, len, err, sizeof err);
    if (!doc) {
        s_send_error (route, req, 400, "invalid_argument", err);
        return;
    }
    Copilot__V1__ExplainRequest *m = gw_json_to_explain (doc, err, sizeof err);
    json_decref (doc);
    if (!m) {
        s_send_error (route, req, 400, "invalid_argument", err);
        return;
    }
    call_t *c = s_start (app, req, route, app->prompt_service, app->t_explain,
                         COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REPLY, s_reply_explain);
    if (!c) {
        protobuf_c_message_free_unpacked (&m->base, NULL);
        return;
    }
    /* Not idempotent: an explanation is recorded in the commentary history. */
    s_call_send (c, s_env_with (COPILOT__V1__ENVELOPE__BODY_EXPLAIN_REQUEST, m), 0);
}

/* Reads an optional bounded integer query parameter. 0 ok, -1 error sent. */
static int
s_query_int (const gw_route_t *route, gw_req_t *req, const char *name, int64_t min, int64_t max,
             int64_t def, int64_t *out)
{
    char v[32];
    int rc = gw_query_get (gw_req_query (req), name, v, sizeof v);
    if (rc == 0) {
        *out = def;
        return 0;
    }
    int64_t x;
    if (rc < 0 || str_to_i64 (v, &x) != 0 || x < min || x > max) {
        char msg[160];
        snprintf (msg, sizeof msg, "parameter '%s' must be an integer in [%lld, %lld]", name,
                  (long long) min, (long long) max);
        s_send_error (route, req, 400, "invalid_argument", msg);
        return -1;
    }
    *out = x;
    return 0;
}

/* Reads an optional string query parameter (must be valid UTF-8). */
static int
s_query_str (const gw_route_t *route, gw_req_t *req, const char *name, char *out, size_t size,
             const char *def)
{
    int rc = gw_query_get (gw_req_query (req), name, out, size);
    if (rc == 0) {
        str_copy (out, size, def);
        return 0;
    }
    if (rc < 0 || !str_utf8_valid (out, strlen (out))) {
        char msg[160];
        snprintf (msg, sizeof msg, "parameter '%s' is malformed, too long or not UTF-8", name);
        s_send_error (route, req, 400, "invalid_argument", msg);
        return -1;
    }
    return 0;
}

static void
s_h_commentary (gw_app_t *app, gw_req_t *req, const gw_route_t *route)
{
    int64_t after, limit;
    char report[80], session[80];
    if (s_query_int (route, req, "after", 0, INT64_MAX, 0, &after)
        || s_query_int (route, req, "limit", 1, 500, 50, &limit)
        || s_query_str (route, req, "report_id", report, sizeof report, "")
        || s_query_str (route, req, "session_id", session, sizeof session, ""))
        return;
    if ((report[0] && !gw_valid_ident (report, 64)) || (session[0] && !gw_valid_ident (session, 64))) {
        s_send_error (route, req, 400, "invalid_argument",
                      "'report_id' and 'session_id' must be identifiers [A-Za-z0-9_.:-]");
        return;
    }
    Copilot__V1__CommentaryRequest *m = env_msg_new (&copilot__v1__commentary_request__descriptor);
    if (!m || env_set_str (&m->report_id, report) || env_set_str (&m->session_id, session)) {
        if (m)
            protobuf_c_message_free_unpacked (&m->base, NULL);
        s_send_error (route, req, 500, "internal", "out of memory");
        return;
    }
    m->after_seq = (uint64_t) after;
    m->limit = (uint32_t) limit;
    call_t *c = s_start (app, req, route, app->prompt_service, app->t_commentary,
                         COPILOT__V1__ENVELOPE__BODY_COMMENTARY_REPLY, s_reply_commentary);
    if (!c) {
        protobuf_c_message_free_unpacked (&m->base, NULL);
        return;
    }
    s_call_send (c, s_env_with (COPILOT__V1__ENVELOPE__BODY_COMMENTARY_REQUEST, m),
                 BUS_CALL_IDEMPOTENT);
}

static void
s_reply_alerts (call_t *c, const env_t *r)
{
    s_call_json (c, 200, gw_json_alert_list (r->list_alerts_reply));
}

static void
s_h_alerts (gw_app_t *app, gw_req_t *req, const gw_route_t *route)
{
    int64_t limit;
    if (s_query_int (route, req, "limit", 1, 500, 50, &limit))
        return;
    Copilot__V1__ListAlertsRequest *m = env_msg_new (&copilot__v1__list_alerts_request__descriptor);
    if (!m) {
        s_send_error (route, req, 500, "internal", "out of memory");
        return;
    }
    m->limit = (uint32_t) limit;
    call_t *c = s_start (app, req, route, app->report_service, app->t_report,
                         COPILOT__V1__ENVELOPE__BODY_LIST_ALERTS_REPLY, s_reply_alerts);
    if (!c) {
        protobuf_c_message_free_unpacked (&m->base, NULL);
        return;
    }
    s_call_send (c, s_env_with (COPILOT__V1__ENVELOPE__BODY_LIST_ALERTS_REQUEST, m),
                 BUS_CALL_IDEMPOTENT);
}

static void
s_h_search (gw_app_t *app, gw_req_t *req, const gw_route_t *route)
{
    char q[1100], corpus[32], mode[16], ents[2100];
    int64_t k;
    if (s_query_str (route, req, "q", q, sizeof q, "")
        || s_query_str (route, req, "corpus", corpus, sizeof corpus, "telemetry")
        || s_query_str (route, req, "mode", mode, sizeof mode, "hybrid")
        || s_query_str (route, req, "entity", ents, sizeof ents, "")
        || s_query_int (route, req, "k", 1, 50, 10, &k))
        return;
    char *qt = str_trim (q);
    if (!qt[0] || strlen (qt) > 1000) {
        s_send_error (route, req, 400, "invalid_argument", "parameter 'q' is required (1-1000 bytes)");
        return;
    }
    if (strcmp (corpus, "telemetry") && strcmp (corpus, "docs") && strcmp (corpus, "runbooks")) {
        s_send_error (route, req, 400, "invalid_argument",
                      "parameter 'corpus' must be telemetry, docs or runbooks");
        return;
    }
    if (strcmp (mode, "hybrid") && strcmp (mode, "vector") && strcmp (mode, "keyword")) {
        s_send_error (route, req, 400, "invalid_argument",
                      "parameter 'mode' must be hybrid, vector or keyword");
        return;
    }
    Copilot__V1__SearchRequest *m = env_msg_new (&copilot__v1__search_request__descriptor);
    if (!m || env_set_str (&m->corpus, corpus) || env_set_str (&m->query, qt)
        || env_set_str (&m->mode, mode)) {
        if (m)
            protobuf_c_message_free_unpacked (&m->base, NULL);
        s_send_error (route, req, 500, "internal", "out of memory");
        return;
    }
    m->k = (uint32_t) k;
    /* entity=a,b,c: graph node ids to filter hits on. */
    char *save = NULL;
    for (char *tok = strtok_r (ents, ",", &save); tok; tok = strtok_r (NULL, ",", &save)) {
        char *t = str_trim (tok);
        if (!*t)
            continue;
        if (!gw_valid_ident (t, 256) || m->n_entity_ids >= 32) {
            protobuf_c_message_free_unpacked (&m->base, NULL);
            s_send_error (route, req, 400, "invalid_argument",
                          "parameter 'entity' must be up to 32 comma-separated node ids");
            return;
        }
        char *d = env_strdup (t);
        if (!d || ENV_APPEND (m->entity_ids, m->n_entity_ids, d) != 0) {
            free (d);
            protobuf_c_message_free_unpacked (&m->base, NULL);
            s_send_error (route, req, 500, "internal", "out of memory");
            return;
        }
    }
    call_t *c = s_start (app, req, route, app->search_service, app->t_search,
                         COPILOT__V1__ENVELOPE__BODY_SEARCH_REPLY, s_reply_search);
    if (!c) {
        protobuf_c_message_free_unpacked (&m->base, NULL);
        return;
    }
    s_call_send (c, s_env_with (COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, m), BUS_CALL_IDEMPOTENT);
}

static void
s_h_graph (gw_app_t *app, gw_req_t *req, const gw_route_t *route, const gw_params_t *p)
{
    const char *type = gw_params_get (p, "type");
    const char *id = gw_params_get (p, "id");
    if (!type || !gw_valid_node_type (type)) {
        s_send_error (route, req, 404, "not_found",
                      "unknown node type (workspace, user, job, compute, jobrun, usage, event, "
                      "eviction, query, configchange, anomaly)");
        return;
    }
    size_t idn = id ? strlen (id) : 0;
    bool ok = idn > 0 && idn <= 200 && str_utf8_valid (id, idn);
    for (size_t i = 0; ok && i < idn; i++)
        if ((unsigned char) id[i] < 0x20 || id[i] == 0x7f)
            ok = false;
    if (!ok) {
        s_send_error (route, req, 400, "invalid_argument", "node id must be 1-200 printable bytes");
        return;
    }
    char node[300];
    snprintf (node, sizeof node, "%s::%s", type, id);
    char hops_s[8];
    int has_hops = gw_query_get (gw_req_query (req), "hops", hops_s, sizeof hops_s);
    env_t *env = NULL;
    if (has_hops != 0) {
        int64_t hops, budget;
        if (s_query_int (route, req, "hops", 1, 4, 2, &hops)
            || s_query_int (route, req, "budget", 1, 500, 50, &budget))
            return;
        Copilot__V1__SubgraphRequest *m = env_msg_new (&copilot__v1__subgraph_request__descriptor);
        char *a = env_strdup (node);
        if (!m || !a || ENV_APPEND (m->anchors, m->n_anchors, a) != 0) {
            free (a);
            if (m)
                protobuf_c_message_free_unpacked (&m->base, NULL);
            s_send_error (route, req, 500, "internal", "out of memory");
            return;
        }
        m->hops = (uint32_t) hops;
        m->node_budget = (uint32_t) budget;
        env = s_env_with (COPILOT__V1__ENVELOPE__BODY_SUBGRAPH_REQUEST, m);
    } else {
        int64_t limit;
        char et[72];
        if (s_query_int (route, req, "limit", 1, 500, 50, &limit)
            || s_query_str (route, req, "edge_type", et, sizeof et, ""))
            return;
        if (et[0] && !gw_valid_ident (et, 64)) {
            s_send_error (route, req, 400, "invalid_argument", "'edge_type' must be an identifier");
            return;
        }
        Copilot__V1__NeighborsRequest *m = env_msg_new (&copilot__v1__neighbors_request__descriptor);
        if (!m || env_set_str (&m->id, node) || env_set_str (&m->edge_type, et)) {
            if (m)
                protobuf_c_message_free_unpacked (&m->base, NULL);
            s_send_error (route, req, 500, "internal", "out of memory");
            return;
        }
        m->limit = (uint32_t) limit;
        env = s_env_with (COPILOT__V1__ENVELOPE__BODY_NEIGHBORS_REQUEST, m);
    }
    call_t *c = s_start (app, req, route, app->graph_service, app->t_graph,
                         has_hops ? COPILOT__V1__ENVELOPE__BODY_SUBGRAPH_REPLY
                                  : COPILOT__V1__ENVELOPE__BODY_NEIGHBORS_REPLY,
                         s_reply_graph);
    if (!c) {
        env_free (env);
        return;
    }
    s_call_send (c, env, BUS_CALL_IDEMPOTENT);
}

/* ---- SSE ---------------------------------------------------------------------------- */

typedef struct {
    gw_app_t *app;
    gw_sse_client_t *client;   /* NULL once the client went away */
} replay_t;

static void
s_replay_gone (gw_sse_client_t *c, void *arg)
{
    (void) c;
    replay_t *rp = arg;
    rp->client = NULL;
}

static void
s_on_replay (bus_client_t *client, int status, env_t *reply, void *arg)
{
    (void) client;
    replay_t *rp = arg;
    if (rp->client && !rp->app->closed) {
        gw_sse_client_t *c = rp->client;
        gw_sse_client_on_gone (c, NULL, NULL);
        const Copilot__V1__Error *e = env_error (reply);
        if (status == 0 && !e && reply->body_case == COPILOT__V1__ENVELOPE__BODY_COMMENTARY_REPLY) {
            const Copilot__V1__CommentaryReply *cr = reply->commentary_reply;
            for (size_t i = 0; i < cr->n_items; i++) {
                if (!cr->items[i])
                    continue;
                json_t *j = gw_json_commentary_event (cr->items[i]);
                char *txt = j ? json_dumps (j, GW_JSON_DUMP_FLAGS) : NULL;
                json_decref (j);
                char id[64];
                snprintf (id, sizeof id, "commentary:%" PRIu64, cr->items[i]->seq);
                if (txt)
                    gw_sse_send (c, id, "commentary", txt);
                free (txt);
            }
        } else {
            char note[200];
            snprintf (note, sizeof note, "commentary replay unavailable (%s); replaying the buffer",
                      e ? env_code_name (e->code) : bus_strerror (status));
            gw_sse_comment (c, note);
            if (rp->app->sse)
                gw_sse_replay_all (rp->app->sse, c);
        }
        gw_sse_release (c);
    }
    env_free (reply);
    free (rp);
}

static bool
s_valid_event_id (const char *s)
{
    size_t n = strlen (s);
    if (n == 0 || n > 200)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

static void
s_h_events (gw_app_t *app, gw_req_t *req, const gw_route_t *route)
{
    if (!app->sse || app->draining) {
        s_send_error (route, req, 503, "unavailable", "the gateway is shutting down");
        return;
    }
    char last[256] = "";
    const char *h = gw_req_header (req, "last-event-id");
    if (h)
        str_copy (last, sizeof last, h);
    else if (gw_query_get (gw_req_query (req), "last_event_id", last, sizeof last) < 0)
        last[0] = '\0';
    if (last[0] && !s_valid_event_id (last)) {
        s_send_error (route, req, 400, "invalid_argument", "Last-Event-ID is malformed");
        return;
    }
    s_count (route, req, 200);
    gw_sse_client_t *c = gw_sse_open (app->sse, req);
    if (!c)
        return;
    if (!last[0])
        return;
    int r = gw_sse_replay_ring (app->sse, c, last);
    if (r != 0)
        return;
    /* Not in the ring. A commentary id can be replayed from the history. */
    int64_t seq;
    if (str_starts_with (last, "commentary:") && str_to_i64 (last + 11, &seq) == 0 && seq >= 0
        && s_backend (app, app->prompt_service)) {
        replay_t *rp = calloc (1, sizeof *rp);
        Copilot__V1__CommentaryRequest *m =
            env_msg_new (&copilot__v1__commentary_request__descriptor);
        env_t *env = m ? (m->after_seq = (uint64_t) seq, m->limit = (uint32_t) app->sse_ring,
                          s_env_with (COPILOT__V1__ENVELOPE__BODY_COMMENTARY_REQUEST, m))
                       : NULL;
        if (rp && env) {
            rp->app = app;
            rp->client = c;
            gw_sse_hold (c);
            gw_sse_client_on_gone (c, s_replay_gone, rp);
            int rc = svc_send (app->svc, app->prompt_service, env, (int) app->t_commentary,
                               BUS_CALL_IDEMPOTENT, s_on_replay, rp);
            env_free (env);
            if (rc == 0)
                return;
            gw_sse_client_on_gone (c, NULL, NULL);
            gw_sse_release (c);
            free (rp);
        } else {
            free (rp);
            env_free (env);
        }
    }
    gw_sse_replay_all (app->sse, c);
}

/* Forwards one commentary event to every SSE client and the ring, unless an
 * event with its id is already there (a gap fill raced the live event). */
static void
s_publish_commentary (gw_app_t *app, const char *topic, const Copilot__V1__CommentaryEvent *ce)
{
    char id[64];
    snprintf (id, sizeof id, "commentary:%" PRIu64, ce->seq);
    if (gw_sse_in_ring (app->sse, id))
        return;
    json_t *doc = gw_json_commentary_event (ce);
    if (!doc)
        return;
    json_object_set_new (doc, "topic", gw_json_str (topic));
    char *txt = json_dumps (doc, GW_JSON_DUMP_FLAGS);
    json_decref (doc);
    if (txt && gw_sse_publish (app->sse, id, "commentary", txt) != 0)
        log_warn ("sse.publish", "cannot forward event %s", id);
    free (txt);
}

/* Gap fill: commentary seqs are dense (prompt-builder numbers every answer),
 * so an event whose seq jumps past the last one forwarded means the bus
 * subscription lost events (bus restart, slow joiner). The missing range is
 * read back from prompt-builder's history and forwarded, late but complete,
 * so SSE clients — and a later resume from the ring — see every answer. */
typedef struct {
    gw_app_t *app;
    uint64_t after, before;    /* fill seqs in (after, before) */
} gapfill_t;

static void
s_on_gapfill (bus_client_t *client, int status, env_t *reply, void *arg)
{
    (void) client;
    gapfill_t *g = arg;
    gw_app_t *app = g->app;
    const Copilot__V1__Error *e = status == 0 ? env_error (reply) : NULL;
    if (app->closed || !app->sse) {
        /* shutting down: nothing to forward */
    } else if (status != 0 || e || reply->body_case != COPILOT__V1__ENVELOPE__BODY_COMMENTARY_REPLY) {
        log_warn ("sse.gapfill", "commentary %" PRIu64 "..%" PRIu64 " lost on the bus and not "
                  "refilled: %s (GET /api/v1/commentary?after=%" PRIu64 " has them)",
                  g->after + 1, g->before - 1,
                  e ? env_code_name (e->code) : bus_strerror (status), g->after);
    } else {
        size_t n = 0;
        const Copilot__V1__CommentaryReply *cr = reply->commentary_reply;
        for (size_t i = 0; i < cr->n_items; i++) {
            const Copilot__V1__CommentaryEvent *ce = cr->items[i];
            if (!ce || ce->seq <= g->after || ce->seq >= g->before)
                continue;
            char topic[160];
            snprintf (topic, sizeof topic, "commentary.v1.%s", ce->report_id ? ce->report_id : "");
            s_publish_commentary (app, topic, ce);
            n++;
        }
        if (app->m_gap_filled)
            metric_add (app->m_gap_filled, (double) n);
        log_info ("sse.gapfill", "forwarded %zu commentary event(s) the bus lost (%" PRIu64
                  "..%" PRIu64 ")", n, g->after + 1, g->before - 1);
    }
    env_free (reply);
    free (g);
}

static void
s_gapfill (gw_app_t *app, uint64_t after, uint64_t before)
{
    if (!s_backend (app, app->prompt_service) || before <= after + 1)
        return;
    uint64_t want = before - after - 1;
    gapfill_t *g = calloc (1, sizeof *g);
    Copilot__V1__CommentaryRequest *m = env_msg_new (&copilot__v1__commentary_request__descriptor);
    if (!g || !m) {
        free (g);
        if (m)
            protobuf_c_message_free_unpacked (&m->base, NULL);
        return;
    }
    m->after_seq = after;
    m->limit = (uint32_t) (want < 500 ? want : 500);
    env_t *env = s_env_with (COPILOT__V1__ENVELOPE__BODY_COMMENTARY_REQUEST, m);
    g->app = app;
    g->after = after;
    g->before = before;
    if (!env || svc_send (app->svc, app->prompt_service, env, (int) app->t_commentary,
                          BUS_CALL_IDEMPOTENT, s_on_gapfill, g) != 0) {
        log_warn ("sse.gapfill", "cannot ask %s for commentary %" PRIu64 "..%" PRIu64,
                  app->prompt_service, after + 1, before - 1);
        free (g);
    }
    env_free (env);
}

/* Bus events → SSE. */
static void
s_on_event (svc_t *svc, const char *topic, const env_t *ev, void *arg)
{
    (void) svc;
    gw_app_t *app = arg;
    if (app->closed)
        return;
    if (ev->body_case == COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED && app->rcache)
        gw_rcache_invalidate (app->rcache);
    if (!app->sse)
        return;
    json_t *doc = NULL;
    const char *type = NULL;
    char id[256];
    const char *pub = ev->header && ev->header->publisher_id ? ev->header->publisher_id : "";
    uint64_t seq = ev->header ? ev->header->seq : 0;
    snprintf (id, sizeof id, "%s:%" PRIu64, pub[0] ? pub : "bus", seq);
    switch (ev->body_case) {
    case COPILOT__V1__ENVELOPE__BODY_ALERT:
        type = "alert";
        doc = gw_json_alert (ev->alert);
        break;
    case COPILOT__V1__ENVELOPE__BODY_COMMENTARY_EVENT:
        if (ev->commentary_event && ev->commentary_event->seq) {
            uint64_t cs = ev->commentary_event->seq, last = app->commentary_seq;
            s_publish_commentary (app, topic, ev->commentary_event);
            /* A jump past the last seq is a loss; a seq going backwards is a
             * prompt-builder with a new history: start counting again. */
            if (last > 0 && cs > last + 1)
                s_gapfill (app, last, cs);
            if (cs > last || cs + 1 < last)
                app->commentary_seq = cs;
            return;
        }
        type = "commentary";
        doc = gw_json_commentary_event (ev->commentary_event);
        break;
    case COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED:
        type = "data_changed";
        doc = gw_json_data_changed (ev->data_changed);
        break;
    default:
        log_debug ("sse.ignored", "event %s on %s not forwarded", env_body_name (ev->body_case),
                   topic);
        return;
    }
    if (!doc)
        return;
    json_object_set_new (doc, "topic", gw_json_str (topic));
    char *txt = json_dumps (doc, GW_JSON_DUMP_FLAGS);
    json_decref (doc);
    /* ids are printable (publisher ids); strip anything that is not. */
    for (char *p = id; *p; p++)
        if ((unsigned char) *p < 0x20)
            *p = '_';
    if (txt && gw_sse_publish (app->sse, id, type, txt) != 0)
        log_warn ("sse.publish", "cannot forward event %s", id);
    free (txt);
}

/* ---- fan-out: readyz, metrics, health ------------------------------------------------- */

static void s_fanout_done (call_t *c);

static void
s_on_fanout_reply (bus_client_t *client, int status, env_t *reply, void *arg)
{
    (void) client;
    send_t *s = arg;
    call_t *c = s->call;
    slot_t *sl = &c->slots[s->slot];
    gw_backend_t *b = s->backend;
    bool live = c->app && !c->app->closed;
    const Copilot__V1__Error *e = env_error (reply);
    sl->done = true;
    if (status != 0 || e) {
        sl->status = -1;
        snprintf (sl->text, sizeof sl->text, "%s",
                  e ? (e->message[0] ? s_unprefixed (e->message, b->name) : env_code_name (e->code))
                    : (status == BUS_E_DEADLINE || status == BUS_E_UNAVAILABLE
                           ? "no answer (not running or not reachable)"
                           : bus_strerror (status)));
        if (live)
            s_backend_verdict (b, false, sl->text);
    } else if (reply->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY) {
        const Copilot__V1__PingReply *p = reply->ping_reply;
        sl->status = p->ready ? 0 : -1;
        snprintf (sl->text, sizeof sl->text, "%s", p->ready ? "ok" : "not ready");
        if (p->detail && p->detail[0]) {
            size_t l = strlen (sl->text);
            snprintf (sl->text + l, sizeof sl->text - l, " (%s)", p->detail);
        }
        /* one line only */
        for (char *q = sl->text; *q; q++)
            if (*q == '\n' || *q == '\r')
                *q = ' ';
        if (live)
            s_backend_verdict (b, p->ready, p->ready ? "" : sl->text);
    } else if (reply->body_case == COPILOT__V1__ENVELOPE__BODY_METRICS_REPLY) {
        sl->status = 0;
        sl->payload = str_dup (reply->metrics_reply->text);
        if (live)
            s_backend_verdict (b, true, "");
    } else {
        sl->status = -1;
        snprintf (sl->text, sizeof sl->text, "unexpected reply %s", env_body_name (reply->body_case));
    }
    env_free (reply);
    if (live && c->req) {
        bool all = true;
        for (int i = 0; i < c->nslots; i++)
            if (!c->slots[i].done)
                all = false;
        if (all)
            s_fanout_done (c);
    }
    s_call_unref (c);
}

static void
s_fanout (gw_app_t *app, gw_req_t *req, const gw_route_t *route, int body_case,
          const ProtobufCMessageDescriptor *desc, int64_t timeout_ms)
{
    call_t *c = s_call_new (app, req, route, app->nbackends);
    if (!c) {
        s_send_error (route, req, 500, "internal", "out of memory");
        return;
    }
    c->timeout_ms = (int) timeout_ms;
    c->expect_case = body_case;
    c->refs++;   /* keep c alive while sending */
    for (int i = 0; i < app->nbackends; i++) {
        gw_backend_t *b = &app->backends[i];
        c->sends[i].call = c;
        c->sends[i].slot = i;
        c->sends[i].backend = b;
        env_t *env = s_env_with (body_case, env_msg_new (desc));
        int rc = env ? (c->refs++, svc_send (app->svc, b->name, env, (int) timeout_ms,
                                             BUS_CALL_IDEMPOTENT, s_on_fanout_reply, &c->sends[i]))
                     : BUS_E_NOMEM;
        env_free (env);
        if (rc != 0) {
            if (env)
                c->refs--;
            c->slots[i].done = true;
            c->slots[i].status = -1;
            snprintf (c->slots[i].text, sizeof c->slots[i].text, "cannot send: %s",
                      bus_strerror (rc));
        }
    }
    bool all = true;
    for (int i = 0; i < c->nslots; i++)
        if (!c->slots[i].done)
            all = false;
    if (all && c->req)
        s_fanout_done (c);
    s_call_unref (c);
}

static void
s_fanout_done (call_t *c)
{
    gw_app_t *app = c->app;
    if (c->route->id == GW_R_READYZ) {
        buf_t *b = buf_new (64 * 1024);
        bool ok = !app->draining;
        if (!b) {
            s_call_error (c, 500, "internal", "out of memory");
            return;
        }
        buf_printf (b, "%shttp listening on port %d\n", app->draining ? "[-]" : "[+]", app->port);
        if (app->draining)
            buf_puts (b, "[-]draining\n");
        for (int i = 0; i < c->nslots; i++) {
            bool up = c->slots[i].status == 0;
            if (!up)
                ok = false;
            buf_printf (b, "%s%s %s\n", up ? "[+]" : "[-]", app->backends[i].name, c->slots[i].text);
        }
        buf_puts (b, ok ? "ok\n" : "not ready\n");
        s_call_text (c, ok ? 200 : 503, "text/plain; charset=utf-8", buf_data (b), buf_len (b));
        buf_destroy (&b);
        return;
    }
    /* metrics */
    gw_prom_t *pm = gw_prom_new ();
    buf_t *own = buf_new (16 * 1024 * 1024);
    buf_t *out = buf_new (64 * 1024 * 1024);
    if (!pm || !own || !out || metrics_render (metrics_global (), own) != 0
        || gw_prom_add (pm, "gateway", buf_data (own)) != 0) {
        gw_prom_destroy (&pm);
        buf_destroy (&own);
        buf_destroy (&out);
        s_call_error (c, 500, "internal", "cannot render metrics");
        return;
    }
    buf_t *notes = buf_new (64 * 1024);
    for (int i = 0; i < c->nslots; i++) {
        if (c->slots[i].status == 0 && c->slots[i].payload)
            gw_prom_add (pm, app->backends[i].name, c->slots[i].payload);
        else if (notes)
            buf_printf (notes, "# backend %s: metrics unavailable: %s\n", app->backends[i].name,
                        c->slots[i].text);
    }
    if (notes)
        buf_append (out, buf_data (notes), buf_len (notes));
    int rc = gw_prom_render (pm, out);
    if (rc == 0)
        s_call_text (c, 200, "text/plain; version=0.0.4; charset=utf-8", buf_data (out),
                     buf_len (out));
    else
        s_call_error (c, 500, "internal", "metrics exposition too large");
    buf_destroy (&notes);
    gw_prom_destroy (&pm);
    buf_destroy (&own);
    buf_destroy (&out);
}

static void
s_on_health_ping (bus_client_t *client, int status, env_t *reply, void *arg)
{
    (void) client;
    gw_backend_t *b = arg;
    b->ping_pending = false;
    if (!b->app->closed) {
        const Copilot__V1__Error *e = env_error (reply);
        if (status != 0)
            s_backend_verdict (b, false, status == BUS_E_DEADLINE || status == BUS_E_UNAVAILABLE
                                             ? "no answer to Ping (not running or not reachable)"
                                             : bus_strerror (status));
        else if (e)
            s_backend_verdict (b, false, e->message);
        else if (reply->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY)
            s_backend_verdict (b, reply->ping_reply->ready,
                               reply->ping_reply->ready ? "" : "not ready");
    }
    env_free (reply);
}

static void
s_health_tick (svc_t *svc, void *arg)
{
    gw_app_t *app = arg;
    if (app->closed || svc_stopping (svc))
        return;
    for (int i = 0; i < app->nbackends; i++) {
        gw_backend_t *b = &app->backends[i];
        if (b->ping_pending)
            continue;
        env_t *env = s_env_with (COPILOT__V1__ENVELOPE__BODY_PING_REQUEST,
                                 env_msg_new (&copilot__v1__ping_request__descriptor));
        if (!env)
            continue;
        b->ping_pending = true;
        if (svc_send (svc, b->name, env, (int) app->t_ping, 0, s_on_health_ping, b) != 0)
            b->ping_pending = false;
        env_free (env);
    }
}

/* ---- dispatch ------------------------------------------------------------------------ */

static gw_role_t
s_authenticate (gw_app_t *app, gw_req_t *req, const gw_route_t *route, bool *presented)
{
    *presented = false;
    if (!app->auth_enabled)
        return GW_ROLE_ADMIN;
    const char *h = gw_req_header (req, "authorization");
    char tok[256];
    if (h) {
        *presented = true;
        size_t n;
        const char *t = gw_auth_bearer (h, &n);
        if (!t || n >= sizeof tok)
            return GW_ROLE_NONE;
        memcpy (tok, t, n);
        tok[n] = '\0';
        return gw_auth_check_token (app->auth, tok);
    }
    if (route->flags & GW_RF_QUERY_TOKEN) {
        int rc = gw_query_get (gw_req_query (req), "access_token", tok, sizeof tok);
        if (rc != 0) {
            *presented = true;
            return rc > 0 ? gw_auth_check_token (app->auth, tok) : GW_ROLE_NONE;
        }
    }
    return GW_ROLE_NONE;
}

static void
s_on_request (gw_req_t *req, void *arg)
{
    gw_app_t *app = arg;
    const gw_route_t *route = NULL;
    gw_params_t params;
    char allow[64];
    int m = gw_route_match (gw_req_method (req), gw_req_path (req), &route, &params, allow,
                            sizeof allow);
    if (m == GW_MATCH_METHOD) {
        char extra[128];
        snprintf (extra, sizeof extra, "Allow: %s\r\n", allow);
        char msg[160];
        snprintf (msg, sizeof msg, "method %s is not allowed here (allowed: %s)", gw_req_method (req),
                  allow);
        char *body = gw_error_json ("method_not_allowed", msg, gw_req_id (req));
        s_count (NULL, req, 405);
        gw_respond (req, 405, "application/json; charset=utf-8", extra, body, body ? strlen (body) : 0);
        free (body);
        return;
    }
    if (m == GW_MATCH_BADPATH) {
        s_send_error (NULL, req, 400, "invalid_argument", "malformed path segment");
        return;
    }
    if (m == GW_MATCH_NONE) {
        const char *path = gw_req_path (req);
        bool api = str_starts_with (path, "/api/") || strcmp (path, "/api") == 0;
        bool get = strcmp (gw_req_method (req), "GET") == 0 || gw_req_is_head (req);
        if (!api && app->stat && get) {
            gw_static_serve (app->stat, req);
            return;
        }
        char msg[160];
        snprintf (msg, sizeof msg, "no route for %s %.100s", gw_req_method (req), path);
        s_send_error (NULL, req, 404, "not_found", msg);
        return;
    }
    if (route->role > GW_ROLE_NONE) {
        bool presented;
        gw_role_t role = s_authenticate (app, req, route, &presented);
        if (role == GW_ROLE_NONE) {
            s_send_error (route, req, 401, "unauthenticated",
                          presented ? "invalid bearer token"
                                    : "missing bearer token (Authorization: Bearer <token>)");
            return;
        }
        if (role < route->role) {
            char msg[128];
            snprintf (msg, sizeof msg, "this endpoint needs the %s role; the token has %s",
                      gw_role_name (route->role), gw_role_name (role));
            s_send_error (route, req, 403, "permission_denied", msg);
            return;
        }
        if (route->id == GW_R_WHOAMI) {
            json_t *doc = json_pack ("{s:s}", "role", gw_role_name (role));
            s_send_json (route, req, 200, doc);
            return;
        }
    }
    switch (route->id) {
    case GW_R_LIVEZ:
        s_send_text (route, req, 200, "text/plain; charset=utf-8", "ok\n", 3);
        return;
    case GW_R_READYZ:
        if (app->draining) {
            static const char txt[] = "[-]draining\nnot ready\n";
            s_send_text (route, req, 503, "text/plain; charset=utf-8", txt, sizeof txt - 1);
            return;
        }
        s_fanout (app, req, route, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST,
                  &copilot__v1__ping_request__descriptor, app->t_ping);
        return;
    case GW_R_METRICS:
        s_fanout (app, req, route, COPILOT__V1__ENVELOPE__BODY_METRICS_REQUEST,
                  &copilot__v1__metrics_request__descriptor, app->t_metrics);
        return;
    case GW_R_REPORTS: s_h_reports (app, req, route); return;
    case GW_R_REPORT: s_h_report (app, req, route, &params); return;
    case GW_R_EXPLAIN: s_h_explain (app, req, route); return;
    case GW_R_COMMENTARY: s_h_commentary (app, req, route); return;
    case GW_R_ALERTS: s_h_alerts (app, req, route); return;
    case GW_R_SEARCH: s_h_search (app, req, route); return;
    case GW_R_GRAPH: s_h_graph (app, req, route, &params); return;
    case GW_R_EVENTS: s_h_events (app, req, route); return;
    case GW_R_WHOAMI:
        s_send_json (route, req, 200, json_pack ("{s:s}", "role", "admin"));
        return;
    }
    s_send_error (route, req, 501, "unimplemented", "route not implemented");
}

/* ---- lifecycle -------------------------------------------------------------------- */

static void
s_drain_timer_closed (uv_handle_t *h)
{
    free (h);
}

/* The svc drain waits for holds; this one is released once no connection is
 * handling a request or writing a response (pipelined 503s included). */
static void
s_drain_check (uv_timer_t *t)
{
    gw_app_t *app = t->data;
    if (!app->closed && app->http && gw_server_busy (app->http) > 0)
        return;
    uv_timer_stop (t);
    uv_close ((uv_handle_t *) t, s_drain_timer_closed);
    app->drain_timer = NULL;
    svc_release (app->svc);
}

static void
s_on_stop (svc_t *svc, void *arg)
{
    gw_app_t *app = arg;
    app->draining = true;
    log_info ("gateway.drain", "draining: listener closed, %d request(s) in flight",
              gw_server_inflight (app->http));
    gw_server_drain (app->http);
    gw_sse_destroy (&app->sse);   /* ends every event stream */
    app->drain_timer = malloc (sizeof *app->drain_timer);
    if (app->drain_timer) {
        svc_hold (svc);
        uv_timer_init (app->loop, app->drain_timer);
        app->drain_timer->data = app;
        uv_timer_start (app->drain_timer, s_drain_check, 5, 5);
    }
}

void
gw_app_close (gw_app_t *self)
{
    if (!self || self->closed)
        return;
    self->draining = true;
    if (self->drain_timer) {
        /* Drain grace period over: stop waiting (the svc is closing). */
        uv_timer_stop (self->drain_timer);
        uv_close ((uv_handle_t *) self->drain_timer, s_drain_timer_closed);
        self->drain_timer = NULL;
    }
    gw_sse_destroy (&self->sse);
    gw_server_destroy (&self->http);   /* aborts what is left: calls get detached */
    self->closed = true;
    /* Remaining calls only wait for their bus callbacks (or timers). */
    for (call_t *c = self->calls; c;) {
        call_t *next = c->next;
        c->prev = c->next = NULL;
        s_call_stop_timer (c);
        c = next;
    }
    self->calls = NULL;
}

static void
s_on_close (svc_t *svc, void *arg)
{
    (void) svc;
    gw_app_close (arg);
}

void
gw_app_destroy (gw_app_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_app_t *app = *self_p;
    *self_p = NULL;
    gw_app_close (app);
    gw_static_destroy (&app->stat);
    gw_rcache_destroy (&app->rcache);
    gw_auth_destroy (&app->auth);
    free (app);
}

int
gw_app_port (const gw_app_t *self)
{
    return self ? self->port : 0;
}

const char *
gw_app_token_file (const gw_app_t *self)
{
    return self->token_file;
}

/* ---- configuration ------------------------------------------------------------------- */

static int
s_cfg_int (cfg_t *cfg, const char *key, int64_t def, int64_t min, int64_t max, int64_t *out,
           char *err, size_t err_size)
{
    if (cfg_int (cfg, key, def, min, max, out) != 0) {
        snprintf (err, err_size, "%s", cfg_error (cfg));
        return -1;
    }
    return 0;
}

static int
s_setup_auth (gw_app_t *app, cfg_t *cfg, char *err, size_t err_size)
{
    bool enabled = true;
    if (cfg_bool (cfg, "auth.enabled", true, &enabled) != 0) {
        snprintf (err, err_size, "%s", cfg_error (cfg));
        return -1;
    }
    app->auth_enabled = enabled;
    app->auth = gw_auth_new ();
    if (!app->auth) {
        snprintf (err, err_size, "out of memory");
        return -1;
    }
    if (!enabled) {
        log_warn ("auth.disabled", "auth.enabled=false: every request is treated as admin");
        return 0;
    }
    const char *admin = cfg_get (cfg, "auth.admin_token_sha256");
    const char *viewer = cfg_get (cfg, "auth.viewer_token_sha256");
    const char *file = cfg_get (cfg, "auth.tokens_file");
    if (admin && admin[0] && gw_auth_add_list (app->auth, GW_ROLE_ADMIN, admin) != 0) {
        snprintf (err, err_size, "auth.admin_token_sha256: expected comma-separated 64-character "
                  "SHA-256 hex digests");
        return -1;
    }
    if (viewer && viewer[0] && gw_auth_add_list (app->auth, GW_ROLE_VIEWER, viewer) != 0) {
        snprintf (err, err_size, "auth.viewer_token_sha256: expected comma-separated 64-character "
                  "SHA-256 hex digests");
        return -1;
    }
    if (file && file[0] && gw_auth_load_file (app->auth, file, err, err_size) != 0)
        return -1;
    if (gw_auth_count (app->auth) > 0) {
        log_info ("auth.tokens", "%zu token hash(es) from configuration", gw_auth_count (app->auth));
        return 0;
    }
    /* Local default: generated tokens in auth.dir. */
    char dir[900];
    const char *d = cfg_get (cfg, "auth.dir");
    const char *data_dir = cfg_get (cfg, "data_dir");
    if (d && d[0])
        str_copy (dir, sizeof dir, d);
    else if (data_dir && data_dir[0])
        snprintf (dir, sizeof dir, "%s/gateway", data_dir);
    else {
        char run[700];
        if (svc_run_dir (cfg, run, sizeof run) != 0) {
            snprintf (err, err_size, "run_dir too long");
            return -1;
        }
        snprintf (dir, sizeof dir, "%s/gateway", run);
    }
    bool created = false;
    if (gw_auth_bootstrap (app->auth, dir, &created, err, err_size) != 0)
        return -1;
    snprintf (app->token_file, sizeof app->token_file, "%s/admin.token", dir);
    if (created) {
        char tok[128] = "";
        FILE *f = fopen (app->token_file, "r");
        if (f) {
            if (!fgets (tok, sizeof tok, f))
                tok[0] = '\0';
            fclose (f);
        }
        str_trim (tok);
        /* Printed once, on the start that created it, for the operator. */
        printf ("LOCAL-TOKEN admin=%s file=%s\n", tok, app->token_file);
        log_info ("auth.bootstrap", "generated local admin and viewer tokens in %s", dir);
    } else {
        printf ("LOCAL-TOKEN file=%s\n", app->token_file);
        log_info ("auth.bootstrap", "using local tokens from %s/tokens", dir);
    }
    fflush (stdout);
    return 0;
}

static int
s_setup_backends (gw_app_t *app, cfg_t *cfg, char *err, size_t err_size)
{
    const char *v;
    cfg_str (cfg, "gateway.report_service", "report-service", &v);
    str_copy (app->report_service, sizeof app->report_service, v);
    cfg_str (cfg, "gateway.prompt_service", "prompt-builder", &v);
    str_copy (app->prompt_service, sizeof app->prompt_service, v);
    cfg_str (cfg, "gateway.search_service", "retrieval-router", &v);
    str_copy (app->search_service, sizeof app->search_service, v);
    cfg_str (cfg, "gateway.graph_service", "graph-service", &v);
    str_copy (app->graph_service, sizeof app->graph_service, v);
    const char *def[4] = { app->report_service, app->graph_service, app->search_service,
                           app->prompt_service };
    char list[512];
    const char *lst = cfg_get (cfg, "gateway.backends");
    if (lst)
        str_copy (list, sizeof list, lst);
    else
        snprintf (list, sizeof list, "%s,%s,%s,%s", def[0], def[1], def[2], def[3]);
    char *save = NULL;
    for (char *t = strtok_r (list, ", ", &save); t; t = strtok_r (NULL, ", ", &save)) {
        if (app->nbackends >= GW_MAX_BACKENDS || !gw_valid_ident (t, 63)) {
            snprintf (err, err_size, "gateway.backends: expected up to %d service names, got '%s'",
                      GW_MAX_BACKENDS, t);
            return -1;
        }
        if (s_backend (app, t))
            continue;
        gw_backend_t *b = &app->backends[app->nbackends++];
        b->app = app;
        str_copy (b->name, sizeof b->name, t);
        char lbl[128];
        snprintf (lbl, sizeof lbl, "backend=\"%s\"", t);
        b->m_up = metrics_gauge (metrics_global (), "copilot_gateway_backend_up",
                                 "1 when the backend answered its last Ping as ready.", lbl);
    }
    return 0;
}

gw_app_t *
gw_app_new (svc_t *svc, int *exit_code, char *err, size_t err_size)
{
    *exit_code = PROC_EXIT_CONFIG;
    gw_app_t *app = calloc (1, sizeof *app);
    if (!app) {
        snprintf (err, err_size, "out of memory");
        *exit_code = PROC_EXIT_FAILURE;
        return NULL;
    }
    app->svc = svc;
    app->loop = svc_loop (svc);
    cfg_t *cfg = svc_cfg (svc);
    gw_limits_t lim;
    gw_limits_default (&lim);
    int64_t port, v, ring, ping, retry, max_age, max_file, rc_entries, rc_mb, rc_ttl;
    const char *host;
    cfg_str (cfg, "http.host", "127.0.0.1", &host);
    if (s_cfg_int (cfg, "http.port", 8080, 0, 65535, &port, err, err_size)
        || s_cfg_int (cfg, "http.max_header_bytes", (int64_t) lim.max_header_bytes, 1024, 1 << 20, &v, err, err_size)
        || (lim.max_header_bytes = (size_t) v, 0)
        || s_cfg_int (cfg, "http.max_url_bytes", (int64_t) lim.max_url_bytes, 64, 1 << 16, &v, err, err_size)
        || (lim.max_url_bytes = (size_t) v, 0)
        || s_cfg_int (cfg, "http.max_body_bytes", (int64_t) lim.max_body_bytes, 1024, 64 << 20, &v, err, err_size)
        || (lim.max_body_bytes = (size_t) v, 0)
        || s_cfg_int (cfg, "http.max_headers", lim.max_headers, 8, 1000, &v, err, err_size)
        || (lim.max_headers = (int) v, 0)
        || s_cfg_int (cfg, "http.max_connections", lim.max_connections, 1, 100000, &v, err, err_size)
        || (lim.max_connections = (int) v, 0)
        || s_cfg_int (cfg, "http.request_timeout_ms", lim.request_timeout_ms, 50, 3600000, &lim.request_timeout_ms, err, err_size)
        || s_cfg_int (cfg, "http.idle_timeout_ms", lim.idle_timeout_ms, 50, 3600000, &lim.idle_timeout_ms, err, err_size)
        || s_cfg_int (cfg, "http.write_timeout_ms", lim.write_timeout_ms, 50, 3600000, &lim.write_timeout_ms, err, err_size)
        || s_cfg_int (cfg, "sse.client_queue_bytes", (int64_t) lim.stream_queue_bytes, 4096, 64 << 20, &v, err, err_size)
        || (lim.stream_queue_bytes = (size_t) v, 0)
        || s_cfg_int (cfg, "sse.ring_size", 256, 1, 100000, &ring, err, err_size)
        || s_cfg_int (cfg, "sse.ping_ms", 15000, 0, 3600000, &ping, err, err_size)
        || s_cfg_int (cfg, "sse.retry_ms", 3000, 0, 3600000, &retry, err, err_size)
        || s_cfg_int (cfg, "http.static_max_age_s", 300, 0, 31536000, &max_age, err, err_size)
        || s_cfg_int (cfg, "http.static_max_file_bytes", 32 << 20, 1, 1 << 30, &max_file, err, err_size)
        || s_cfg_int (cfg, "gateway.report_timeout_ms", 15000, 10, 600000, &app->t_report, err, err_size)
        || s_cfg_int (cfg, "gateway.explain_timeout_ms", 90000, 10, 600000, &app->t_explain, err, err_size)
        || s_cfg_int (cfg, "gateway.search_timeout_ms", 10000, 10, 600000, &app->t_search, err, err_size)
        || s_cfg_int (cfg, "gateway.graph_timeout_ms", 5000, 10, 600000, &app->t_graph, err, err_size)
        || s_cfg_int (cfg, "gateway.commentary_timeout_ms", 5000, 10, 600000, &app->t_commentary, err, err_size)
        || s_cfg_int (cfg, "gateway.ping_timeout_ms", 1000, 10, 60000, &app->t_ping, err, err_size)
        || s_cfg_int (cfg, "gateway.metrics_timeout_ms", 2000, 10, 60000, &app->t_metrics, err, err_size)
        || s_cfg_int (cfg, "gateway.health_interval_ms", 2000, 50, 600000, &app->health_ms, err, err_size)
        || s_cfg_int (cfg, "gateway.report_cache_entries", 64, 0, 4096, &rc_entries, err, err_size)
        || s_cfg_int (cfg, "gateway.report_cache_mb", 64, 1, 16384, &rc_mb, err, err_size)
        || s_cfg_int (cfg, "gateway.report_cache_ttl_ms", 300000, 1, 86400000, &rc_ttl, err, err_size))
        goto fail;
    if (rc_entries > 0) {
        app->rcache = gw_rcache_new ((int) rc_entries, (size_t) rc_mb << 20, rc_ttl);
        if (!app->rcache) {
            snprintf (err, err_size, "out of memory");
            goto fail;
        }
        metrics_t *mg = metrics_global ();
        app->m_rcache_hit = metrics_counter (mg, "copilot_gateway_report_cache_total",
                                             "Report GETs answered from the gateway's rendered-response cache (hit) or by report-service (miss).",
                                             "result=\"hit\"");
        app->m_rcache_miss = metrics_counter (mg, "copilot_gateway_report_cache_total",
                                              "Report GETs answered from the gateway's rendered-response cache (hit) or by report-service (miss).",
                                              "result=\"miss\"");
    }
    app->sse_ring = (size_t) ring;
    if (s_setup_backends (app, cfg, err, err_size) || s_setup_auth (app, cfg, err, err_size))
        goto fail;
    const char *sdir = cfg_get (cfg, "http.static_dir");
    if (sdir && sdir[0]) {
        app->stat = gw_static_new (sdir, (int) max_age, (size_t) max_file);
        if (!app->stat) {
            snprintf (err, err_size, "http.static_dir='%s': not a readable directory (%s)", sdir,
                      strerror (errno));
            goto fail;
        }
    }
    app->sse = gw_sse_new (app->loop, (size_t) ring, ping, retry);
    app->http = gw_server_new (app->loop, &lim, s_on_request, app);
    if (!app->sse || !app->http) {
        snprintf (err, err_size, "out of memory");
        goto fail;
    }
    app->m_gap_filled = metrics_counter (metrics_global (), "copilot_sse_gap_filled_total",
                                         "Commentary events the bus subscription lost and the gateway re-read from prompt-builder's history.",
                                         NULL);
    app->m_inflight = metrics_gauge (metrics_global (), "copilot_http_inflight_requests",
                                     "HTTP requests waiting for a backend.", NULL);
    int rc = gw_server_listen (app->http, host, (int) port);
    if (rc != 0) {
        snprintf (err, err_size, "cannot listen on %s:%lld: %s", host, (long long) port,
                  uv_strerror (rc));
        *exit_code = PROC_EXIT_BIND;
        goto fail;
    }
    app->port = gw_server_port (app->http);
    const char *port_file = cfg_get (cfg, "http.port_file");
    if (port_file && port_file[0]) {
        FILE *f = fopen (port_file, "w");
        if (!f || fprintf (f, "%d\n", app->port) < 0) {
            if (f)
                fclose (f);
            snprintf (err, err_size, "http.port_file='%s': cannot write (%s)", port_file,
                      strerror (errno));
            goto fail;
        }
        fclose (f);
    }
    if (svc_subscribe (svc, "alert.", s_on_event, app) != 0
        || svc_subscribe (svc, "commentary.", s_on_event, app) != 0
        || svc_subscribe (svc, "data.", s_on_event, app) != 0) {
        snprintf (err, err_size, "cannot subscribe to the event bus");
        *exit_code = PROC_EXIT_BIND;
        goto fail;
    }
    int timer = svc_add_timer (svc, 10, (uint64_t) app->health_ms, s_health_tick, app);
    if (timer <= 0) {
        snprintf (err, err_size, "cannot start the health timer");
        goto fail;
    }
    if (svc_on_stop (svc, s_on_stop, app) != 0 || svc_on_close (svc, s_on_close, app) != 0) {
        /* Only on OOM; the hooks must never see a freed app, so keep it. */
        snprintf (err, err_size, "out of memory registering shutdown hooks");
        svc_cancel_timer (svc, timer);
        *exit_code = PROC_EXIT_FAILURE;
        return NULL;
    }
    printf ("LISTEN http://%s:%d\n", strchr (host, ':') ? "[::1]" : host, app->port);
    fflush (stdout);
    log_info ("gateway.listen", "HTTP on %s:%d, static %s, auth %s, %d backend(s)", host,
              app->port, app->stat ? gw_static_root (app->stat) : "(none)",
              app->auth_enabled ? "on" : "OFF", app->nbackends);
    *exit_code = PROC_EXIT_OK;
    return app;
fail:
    gw_app_destroy (&app);
    return NULL;
}
