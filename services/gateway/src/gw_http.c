/* gw_http.c — HTTP/1.1 server: libuv TCP + llhttp (strict mode only).
 *
 * Design
 * ------
 * One gw_conn_t per accepted TCP connection, kept in a doubly linked list on
 * the server. A connection is a small state machine:
 *
 *   READING   parser fed from socket reads; a timer bounds the time from the
 *             first byte of a request to its last body byte (408) and the
 *             keep-alive idle time (silent close).
 *   HANDLING  a complete request was handed to the application; reading is
 *             stopped and the parser paused, so pipelined bytes wait in
 *             `pending` and responses leave in request order.
 *   WRITING   the response (head + body, ONE uv_write) is in flight; a write
 *             timer kills readers that never drain it.
 *   STREAMING the connection carries one long response (SSE); further input
 *             is read only to notice EOF and is discarded.
 *   LINGER    a final response was written, the write side shut down; input
 *             is drained for a short time so the peer sees our answer before
 *             the close (a close with unread input would send RST).
 *   CLOSING   uv_close() issued; the close callbacks free the connection and
 *             call the request's abort callback if it was still unfinished.
 *
 * llhttp callbacks never call the application: on_message_complete returns
 * HPE_PAUSED and the caller of llhttp_execute() dispatches afterwards, so a
 * handler that answers synchronously cannot re-enter the parser.
 *
 * Limits are enforced in the callbacks, before memory grows: the URL (414),
 * total header bytes and count (431), Content-Length before any body byte is
 * read and the running body size for chunked bodies (413). Callback errors
 * record the status to answer and return -1 / HPE_USER; every protocol
 * failure is answered with a JSON error and the connection is closed.
 *
 * The request object is embedded in the connection (one request at a time
 * per connection), so "freeing" a request means marking it inactive.
 * Strict mode: the llhttp_set_lenient_* functions are never called.
 *
 * Threading: loop thread only.
 */
#include "gw_http.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <llhttp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "str.h"

#define GW_READ_CHUNK 65536
#define GW_LINGER_MS 1000
#define GW_MAX_REJECTING 64

typedef enum { C_READING, C_HANDLING, C_WRITING, C_STREAMING, C_LINGER, C_CLOSING } conn_state_t;

typedef struct _gw_conn_t gw_conn_t;

struct _gw_req_t {
    gw_conn_t *conn;
    bool active;              /* handed to the handler, not yet finished */
    bool streaming;
    bool head;
    const char *method;       /* static string from llhttp */
    char *path;               /* points into conn->url (NUL-split) */
    char *query;
    char id[72];
    int64_t start_ms;
    void *data;
    gw_abort_fn abort_fn;
    void *abort_arg;
};

typedef struct {
    uint32_t name_off;
    uint32_t value_off;
} hdr_t;

struct _gw_conn_t {
    uv_tcp_t tcp;             /* first: handle->data is also set */
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    gw_server_t *server;
    gw_conn_t *prev, *next;
    llhttp_t parser;
    conn_state_t state;
    int handles_open;         /* tcp + timer; freed when both closed */
    bool in_message;          /* first byte of a request seen, not complete */
    bool ready;               /* on_message_complete fired */
    bool keep_alive;
    bool close_after;         /* close once the current response is written */
    bool http10;
    int err_status;           /* set by callbacks before failing */
    const char *err_code;
    char err_msg[160];
    /* current request */
    buf_t *url;
    char *arena;              /* header names and values, NUL-terminated */
    size_t arena_len, arena_cap;
    hdr_t *hdrs;
    int nhdrs;
    int hdr_phase;            /* 0 none, 1 in field, 2 in value */
    size_t header_bytes;
    buf_t *body;
    char *pending;            /* unparsed input received after a complete request */
    size_t pending_len;
    gw_req_t req;
    uv_write_t wreq;          /* the one response write */
    char *wbuf;
    char peer[64];
};

struct _gw_server_t {
    uv_loop_t *loop;
    gw_limits_t lim;
    gw_handler_fn handler;
    void *handler_arg;
    uv_tcp_t *listener;       /* heap: its close may outlive the server */
    bool listening;
    bool draining;
    int port;
    gw_conn_t *conns;
    int nconns;
    int inflight;
    int rejecting;
    uint64_t id_prefix;
    uint64_t id_counter;
    llhttp_settings_t settings;
    char readbuf[GW_READ_CHUNK];
    bool readbuf_busy;
    metric_t *m_conns, *m_rejected, *m_proto_err, *m_streams;
};

/* Each stream write owns its data. */
typedef struct {
    uv_write_t req;
    gw_conn_t *conn;
    char data[];
} stream_write_t;

/* A connection refused with 503 because of the connection cap. */
typedef struct {
    uv_tcp_t tcp;
    uv_write_t wreq;
    uv_shutdown_t sreq;
    gw_server_t *server;
} reject_t;

static void s_conn_close (gw_conn_t *c);
static void s_conn_fail (gw_conn_t *c, int status, const char *code, const char *msg);
static void s_parse (gw_conn_t *c, const char *data, size_t len);
static void s_after_request (gw_conn_t *c);
static void s_on_read (uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void s_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void s_timer_start (gw_conn_t *c, int64_t ms);

/* ---- limits --------------------------------------------------------------- */

void
gw_limits_default (gw_limits_t *l)
{
    l->max_header_bytes = 16 * 1024;
    l->max_url_bytes = 4096;
    l->max_body_bytes = 1024 * 1024;
    l->max_headers = 64;
    l->max_connections = 512;
    l->request_timeout_ms = 10000;
    l->idle_timeout_ms = 60000;
    l->write_timeout_ms = 30000;
    l->stream_queue_bytes = 256 * 1024;
}

/* ---- status text / error json --------------------------------------------- */

const char *
gw_status_text (int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

char *
gw_error_json (const char *code, const char *message, const char *request_id)
{
    json_t *root = json_pack ("{s:{s:s, s:s, s:s}}", "error", "code", code ? code : "error",
                              "message", message ? message : "", "request_id",
                              request_id ? request_id : "");
    if (!root) {
        /* Only when message is not valid UTF-8: fall back to a fixed text. */
        root = json_pack ("{s:{s:s, s:s, s:s}}", "error", "code", code ? code : "error",
                          "message", "(message not representable)", "request_id",
                          request_id ? request_id : "");
        if (!root)
            return NULL;
    }
    char *s = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    return s;
}

/* ---- helpers ------------------------------------------------------------- */

static void
s_new_id (gw_server_t *srv, char *out, size_t size)
{
    srv->id_counter++;
    snprintf (out, size, "%016" PRIx64 "%016" PRIx64, srv->id_prefix, srv->id_counter);
}

static bool
s_valid_client_id (const char *s)
{
    size_t n = strlen (s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
              || ch == '-' || ch == '_' || ch == '.'))
            return false;
    }
    return true;
}

static void
s_http_date (char *out, size_t size)
{
    time_t now = time (NULL);
    struct tm tm;
    gmtime_r (&now, &tm);
    if (strftime (out, size, "%a, %d %b %Y %H:%M:%S GMT", &tm) == 0 && size)
        out[0] = '\0';
}

/* ---- connection list ------------------------------------------------------ */

static void
s_link (gw_server_t *srv, gw_conn_t *c)
{
    c->next = srv->conns;
    c->prev = NULL;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    if (srv->m_conns)
        metric_set (srv->m_conns, srv->nconns);
}

static void
s_unlink (gw_server_t *srv, gw_conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (srv && srv->conns == c)
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    if (srv) {
        srv->nconns--;
        if (srv->m_conns)
            metric_set (srv->m_conns, srv->nconns);
    }
}

/* ---- request reset ---------------------------------------------------------- */

static void
s_reset_message (gw_conn_t *c)
{
    buf_reset (c->url);
    buf_reset (c->body);
    c->arena_len = 0;
    c->nhdrs = 0;
    c->hdr_phase = 0;
    c->header_bytes = 0;
    c->ready = false;
    c->err_status = 0;
    c->err_code = NULL;
    c->err_msg[0] = '\0';
    gw_req_t *r = &c->req;
    r->active = false;
    r->streaming = false;
    r->head = false;
    r->method = "";
    r->path = NULL;
    r->query = NULL;
    r->id[0] = '\0';
    r->data = NULL;
    r->abort_fn = NULL;
    r->abort_arg = NULL;
}

static int
s_set_err (gw_conn_t *c, int status, const char *code, const char *msg)
{
    if (!c->err_status) {
        c->err_status = status;
        c->err_code = code;
        str_copy (c->err_msg, sizeof c->err_msg, msg);
    }
    llhttp_set_error_reason (&c->parser, msg);
    return HPE_USER;
}

/* ---- llhttp callbacks ------------------------------------------------------ */

static gw_conn_t *
s_conn_of (llhttp_t *p)
{
    return (gw_conn_t *) p->data;
}

static int
s_on_message_begin (llhttp_t *p)
{
    gw_conn_t *c = s_conn_of (p);
    s_reset_message (c);
    c->in_message = true;
    c->req.start_ms = clock_mono_ms ();
    s_timer_start (c, c->server->lim.request_timeout_ms);
    return 0;
}

static int
s_count_header_bytes (gw_conn_t *c, size_t n)
{
    c->header_bytes += n;
    if (c->header_bytes > c->server->lim.max_header_bytes)
        return s_set_err (c, 431, "header_too_large", "request headers exceed the configured limit");
    return 0;
}

static int
s_on_url (llhttp_t *p, const char *at, size_t n)
{
    gw_conn_t *c = s_conn_of (p);
    if (buf_len (c->url) + n > c->server->lim.max_url_bytes)
        return s_set_err (c, 414, "uri_too_long", "request URL exceeds the configured limit");
    if (s_count_header_bytes (c, n))
        return HPE_USER;
    if (buf_append (c->url, at, n) != 0)
        return s_set_err (c, 414, "uri_too_long", "request URL exceeds the configured limit");
    return 0;
}

static int
s_arena_append (gw_conn_t *c, const char *at, size_t n)
{
    if (c->arena_len + n + 1 > c->arena_cap)
        return s_set_err (c, 431, "header_too_large", "request headers exceed the configured limit");
    memcpy (c->arena + c->arena_len, at, n);
    c->arena_len += n;
    return 0;
}

static int
s_on_header_field (llhttp_t *p, const char *at, size_t n)
{
    gw_conn_t *c = s_conn_of (p);
    if (c->hdr_phase != 1) {
        if (c->nhdrs >= c->server->lim.max_headers)
            return s_set_err (c, 431, "header_too_large", "too many request header fields");
        c->hdrs[c->nhdrs].name_off = (uint32_t) c->arena_len;
        c->hdr_phase = 1;
    }
    if (s_count_header_bytes (c, n))
        return HPE_USER;
    return s_arena_append (c, at, n) ? HPE_USER : 0;
}

/* RFC 9110 token characters (header field names). */
static bool
s_is_tchar (unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return true;
    return ch && strchr ("!#$%&'*+-.^_`|~", ch) != NULL;
}

static int
s_on_header_field_complete (llhttp_t *p)
{
    gw_conn_t *c = s_conn_of (p);
    /* llhttp 8.1 lets some non-token bytes through in names; refuse them. */
    size_t start = c->hdrs[c->nhdrs].name_off;
    if (c->arena_len == start)
        return s_set_err (c, 400, "bad_request", "empty header field name");
    for (size_t i = start; i < c->arena_len; i++)
        if (!s_is_tchar ((unsigned char) c->arena[i]))
            return s_set_err (c, 400, "bad_request", "invalid character in a header field name");
    if (s_arena_append (c, "", 0))
        return HPE_USER;
    c->arena[c->arena_len++] = '\0';
    c->hdrs[c->nhdrs].value_off = (uint32_t) c->arena_len;
    c->hdr_phase = 2;
    return 0;
}

static int
s_on_header_value (llhttp_t *p, const char *at, size_t n)
{
    gw_conn_t *c = s_conn_of (p);
    if (s_count_header_bytes (c, n))
        return HPE_USER;
    return s_arena_append (c, at, n) ? HPE_USER : 0;
}

static int
s_on_header_value_complete (llhttp_t *p)
{
    gw_conn_t *c = s_conn_of (p);
    /* Obsolete line folding (RFC 9112 5.2) and stray control bytes: 400. */
    for (size_t i = c->hdrs[c->nhdrs].value_off; i < c->arena_len; i++) {
        unsigned char ch = (unsigned char) c->arena[i];
        if (ch == '\r' || ch == '\n' || ch == 0 || ch == 0x7f)
            return s_set_err (c, 400, "bad_request", "folded or invalid header value");
    }
    if (s_arena_append (c, "", 0))
        return HPE_USER;
    c->arena[c->arena_len++] = '\0';
    c->nhdrs++;
    c->hdr_phase = 0;
    return 0;
}

static int
s_on_headers_complete (llhttp_t *p)
{
    gw_conn_t *c = s_conn_of (p);
    gw_server_t *srv = c->server;
    c->req.method = llhttp_method_name ((llhttp_method_t) llhttp_get_method (p));
    c->req.head = llhttp_get_method (p) == HTTP_HEAD;
    c->http10 = llhttp_get_http_major (p) == 1 && llhttp_get_http_minor (p) == 0;
    if (llhttp_get_http_major (p) != 1) {
        s_set_err (c, 505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are served");
        return -1;
    }
    /* Split the target into path and query (in place, inside the url buffer). */
    char *u = (char *) buf_data (c->url);
    if (u[0] != '/') {
        s_set_err (c, 400, "bad_request", "request target must be an absolute path");
        return -1;
    }
    c->req.path = u;
    char *q = strchr (u, '?');
    if (q) {
        *q = '\0';
        c->req.query = q + 1;
    } else {
        c->req.query = u + strlen (u);
    }
    char *hash = strchr (c->req.query, '#');
    if (hash)
        *hash = '\0';
    /* Body size is refused from Content-Length before any body byte is read. */
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > srv->lim.max_body_bytes) {
        s_set_err (c, 413, "payload_too_large", "request body exceeds the configured limit");
        return -1;
    }
    const char *expect = gw_req_header (&c->req, "expect");
    if (expect) {
        if (!str_ieq (expect, "100-continue")) {
            s_set_err (c, 417, "expectation_failed", "only 'Expect: 100-continue' is supported");
            return -1;
        }
        if (!c->http10) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t b = uv_buf_init ((char *) cont, sizeof cont - 1);
            /* Best effort: the client sends the body anyway after its timeout. */
            (void) uv_try_write ((uv_stream_t *) &c->tcp, &b, 1);
        }
    }
    return 0;
}

static int
s_on_body (llhttp_t *p, const char *at, size_t n)
{
    gw_conn_t *c = s_conn_of (p);
    if (buf_len (c->body) + n > c->server->lim.max_body_bytes)
        return s_set_err (c, 413, "payload_too_large", "request body exceeds the configured limit");
    if (buf_append (c->body, at, n) != 0)
        return s_set_err (c, 413, "payload_too_large", "request body exceeds the configured limit");
    return 0;
}

static int
s_on_message_complete (llhttp_t *p)
{
    gw_conn_t *c = s_conn_of (p);
    c->keep_alive = llhttp_should_keep_alive (p) != 0;
    if (p->upgrade || llhttp_get_method (p) == HTTP_CONNECT)
        c->keep_alive = false;   /* we never switch protocols */
    c->in_message = false;
    c->ready = true;
    return HPE_PAUSED;
}

/* ---- timers ---------------------------------------------------------------- */

static void
s_on_timer (uv_timer_t *t)
{
    gw_conn_t *c = t->data;
    switch (c->state) {
    case C_READING:
        if (c->in_message) {
            s_conn_fail (c, 408, "request_timeout",
                         "the request was not received completely within the time limit");
        } else {
            s_conn_close (c);   /* idle keep-alive connection */
        }
        break;
    case C_WRITING:
    case C_LINGER:
        s_conn_close (c);
        break;
    default:
        break;
    }
}

static void
s_timer_start (gw_conn_t *c, int64_t ms)
{
    if (ms <= 0) {
        uv_timer_stop (&c->timer);
        return;
    }
    uv_timer_start (&c->timer, s_on_timer, (uint64_t) ms, 0);
}

/* ---- closing ------------------------------------------------------------- */

static void
s_conn_free (gw_conn_t *c)
{
    buf_destroy (&c->url);
    buf_destroy (&c->body);
    free (c->arena);
    free (c->hdrs);
    free (c->pending);
    free (c->wbuf);
    free (c);
}

static void
s_on_handle_closed (uv_handle_t *h)
{
    gw_conn_t *c = h->data;
    if (--c->handles_open > 0)
        return;
    /* Both handles are closed: notify an unfinished request, then free. */
    if (c->req.active) {
        gw_req_t *r = &c->req;
        r->active = false;
        if (c->server && !r->streaming)
            c->server->inflight--;
        if (c->server && r->streaming && c->server->m_streams)
            metric_add (c->server->m_streams, -1);
        if (r->abort_fn)
            r->abort_fn (r, r->abort_arg);
    }
    s_conn_free (c);
}

static void
s_conn_close (gw_conn_t *c)
{
    if (c->state == C_CLOSING)
        return;
    c->state = C_CLOSING;
    s_unlink (c->server, c);
    uv_read_stop ((uv_stream_t *) &c->tcp);
    uv_timer_stop (&c->timer);
    uv_close ((uv_handle_t *) &c->timer, s_on_handle_closed);
    uv_close ((uv_handle_t *) &c->tcp, s_on_handle_closed);
}

static void
s_on_linger_read (uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    gw_conn_t *c = s->data;
    (void) buf;
    if (c->server)
        c->server->readbuf_busy = false;
    if (nread < 0)
        s_conn_close (c);
}

static void
s_on_shutdown (uv_shutdown_t *req, int status)
{
    gw_conn_t *c = req->data;
    if (c->state == C_CLOSING)
        return;
    if (status < 0) {
        s_conn_close (c);
        return;
    }
    c->state = C_LINGER;
    s_timer_start (c, GW_LINGER_MS);
    if (uv_read_start ((uv_stream_t *) &c->tcp, s_alloc, s_on_linger_read) != 0)
        s_conn_close (c);
}

/* Final response written: half-close and drain input briefly, then close. */
static void
s_conn_finish (gw_conn_t *c)
{
    if (c->state == C_CLOSING)
        return;
    uv_read_stop ((uv_stream_t *) &c->tcp);
    c->shutdown_req.data = c;
    if (uv_shutdown (&c->shutdown_req, (uv_stream_t *) &c->tcp, s_on_shutdown) != 0)
        s_conn_close (c);
    else
        s_timer_start (c, GW_LINGER_MS);
    c->state = C_LINGER;
}

/* ---- writing ----------------------------------------------------------------- */

static void
s_on_write (uv_write_t *w, int status)
{
    gw_conn_t *c = w->data;
    free (c->wbuf);
    c->wbuf = NULL;
    if (c->state == C_CLOSING)
        return;
    if (status < 0) {
        s_conn_close (c);
        return;
    }
    /* While draining, pipelined requests already received are still
     * answered (503 + close, see s_dispatch); otherwise the connection ends. */
    if (c->close_after || (c->server->draining && !c->pending)) {
        s_conn_finish (c);
        return;
    }
    s_after_request (c);
}

/* Builds head + body into one buffer and writes it. Takes ownership of nothing. */
static int
s_write_response (gw_conn_t *c, int status, const char *ctype, const char *extra,
                  const void *body, size_t blen, bool send_body, const char *req_id)
{
    char date[64];
    s_http_date (date, sizeof date);
    buf_t *b = buf_new (blen + 2048 + (extra ? strlen (extra) : 0));
    if (!b)
        return -1;
    int rc = buf_printf (b,
                         "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: copilot-gateway\r\n"
                         "Content-Length: %zu\r\nX-Content-Type-Options: nosniff\r\n",
                         status, gw_status_text (status), date, blen);
    if (!rc && ctype)
        rc = buf_printf (b, "Content-Type: %s\r\n", ctype);
    if (!rc && req_id && req_id[0])
        rc = buf_printf (b, "X-Request-Id: %s\r\n", req_id);
    if (!rc)
        rc = buf_puts (b, c->close_after ? "Connection: close\r\n"
                          : (c->http10 ? "Connection: keep-alive\r\n" : ""));
    if (!rc && extra)
        rc = buf_puts (b, extra);
    if (!rc)
        rc = buf_puts (b, "\r\n");
    if (!rc && send_body && blen)
        rc = buf_append (b, body, blen);
    if (rc) {
        buf_destroy (&b);
        return -1;
    }
    size_t len = buf_len (b);
    c->wbuf = buf_detach (b);
    buf_destroy (&b);
    if (!c->wbuf)
        return -1;
    uv_buf_t ub = uv_buf_init (c->wbuf, (unsigned) len);
    c->wreq.data = c;
    c->state = C_WRITING;
    uv_read_stop ((uv_stream_t *) &c->tcp);
    s_timer_start (c, c->server->lim.write_timeout_ms);
    if (uv_write (&c->wreq, (uv_stream_t *) &c->tcp, &ub, 1, s_on_write) != 0) {
        free (c->wbuf);
        c->wbuf = NULL;
        s_conn_close (c);
        return -1;
    }
    return 0;
}

/* Protocol failure: answer with a JSON error (when possible) and close. */
static void
s_conn_fail (gw_conn_t *c, int status, const char *code, const char *msg)
{
    if (c->state == C_CLOSING || c->state == C_LINGER)
        return;
    if (c->state == C_WRITING || c->state == C_STREAMING || c->state == C_HANDLING) {
        s_conn_close (c);
        return;
    }
    char id[72];
    s_new_id (c->server, id, sizeof id);
    if (c->server->m_proto_err) {
        char lbl[64];
        snprintf (lbl, sizeof lbl, "code=\"%d\"", status);
        metric_t *m = metrics_counter (metrics_global (), "copilot_http_protocol_errors_total",
                                       "Requests refused by the HTTP layer, by status.", lbl);
        if (m)
            metric_inc (m);
    }
    {
        const char *kv[] = { "status", NULL, "code", code, "peer", c->peer, "request_id", id };
        char st[8];
        snprintf (st, sizeof st, "%d", status);
        kv[1] = st;
        log_emitkv (status >= 500 ? LOG_WARN : LOG_INFO, "http.refused", msg, kv, 4);
    }
    char *body = gw_error_json (code, msg, id);
    c->close_after = true;
    c->keep_alive = false;
    int rc = s_write_response (c, status, "application/json; charset=utf-8", NULL, body,
                               body ? strlen (body) : 0, true, id);
    free (body);
    if (rc)
        s_conn_close (c);
}

/* ---- dispatch --------------------------------------------------------------- */

static void
s_dispatch (gw_conn_t *c)
{
    gw_server_t *srv = c->server;
    gw_req_t *r = &c->req;
    c->state = C_HANDLING;
    uv_read_stop ((uv_stream_t *) &c->tcp);
    uv_timer_stop (&c->timer);
    if (!c->keep_alive)
        c->close_after = true;
    const char *cid = gw_req_header (r, "x-request-id");
    if (cid && s_valid_client_id (cid))
        str_copy (r->id, sizeof r->id, cid);
    else
        s_new_id (srv, r->id, sizeof r->id);
    r->conn = c;
    r->active = true;
    srv->inflight++;
    if (srv->draining) {
        c->close_after = true;
        gw_respond_error (r, 503, "unavailable", "the gateway is shutting down");
        return;
    }
    srv->handler (r, srv->handler_arg);
}

/* Feeds bytes to the parser and acts on the outcome. */
static void
s_parse (gw_conn_t *c, const char *data, size_t len)
{
    llhttp_errno_t err = llhttp_execute (&c->parser, data, len);
    if (err == HPE_OK)
        return;
    if ((err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) && c->ready) {
        const char *pos = llhttp_get_error_pos (&c->parser);
        size_t used = (pos && pos >= data && pos <= data + len) ? (size_t) (pos - data) : len;
        size_t rest = len - used;
        if (rest > 0 && c->keep_alive) {
            char *p = malloc (rest);
            if (!p) {
                s_conn_close (c);
                return;
            }
            memcpy (p, data + used, rest);
            free (c->pending);
            c->pending = p;
            c->pending_len = rest;
        }
        s_dispatch (c);
        return;
    }
    if (c->err_status) {
        s_conn_fail (c, c->err_status, c->err_code, c->err_msg);
        return;
    }
    char msg[200];
    const char *reason = llhttp_get_error_reason (&c->parser);
    snprintf (msg, sizeof msg, "malformed HTTP request: %s%s%s", llhttp_errno_name (err),
              reason ? ": " : "", reason ? reason : "");
    s_conn_fail (c, 400, "bad_request", msg);
}

/* A response was written on a kept-alive connection: continue with
 * pipelined input, then with the socket. */
static void
s_after_request (gw_conn_t *c)
{
    c->state = C_READING;
    s_reset_message (c);
    llhttp_resume (&c->parser);
    if (c->pending) {
        char *p = c->pending;
        size_t n = c->pending_len;
        c->pending = NULL;
        c->pending_len = 0;
        s_parse (c, p, n);
        free (p);
        if (c->state != C_READING)
            return;
    }
    if (c->server->draining && !c->in_message) {
        s_conn_close (c);
        return;
    }
    s_timer_start (c, c->in_message ? c->server->lim.request_timeout_ms
                                     : c->server->lim.idle_timeout_ms);
    if (uv_read_start ((uv_stream_t *) &c->tcp, s_alloc, s_on_read) != 0)
        s_conn_close (c);
}

/* ---- reading ------------------------------------------------------------------ */

static void
s_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    gw_conn_t *c = h->data;
    (void) suggested;
    gw_server_t *srv = c->server;
    if (!srv || srv->readbuf_busy) {
        buf->base = NULL;
        buf->len = 0;
        return;
    }
    srv->readbuf_busy = true;
    buf->base = srv->readbuf;
    buf->len = sizeof srv->readbuf;
}

static void
s_on_read (uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    gw_conn_t *c = s->data;
    if (c->server && buf->base == c->server->readbuf)
        c->server->readbuf_busy = false;
    if (c->state == C_CLOSING)
        return;
    if (nread == UV_ENOBUFS)
        return;
    if (nread < 0) {
        s_conn_close (c);
        return;
    }
    if (nread == 0)
        return;
    if (c->state == C_STREAMING)
        return;   /* input on a stream is ignored; only EOF matters */
    if (c->state != C_READING)
        return;
    s_parse (c, buf->base, (size_t) nread);
}

/* ---- accepting ------------------------------------------------------------ */

static void
s_reject_closed (uv_handle_t *h)
{
    reject_t *r = h->data;
    if (r->server)
        r->server->rejecting--;
    free (r);
}

static void
s_reject_shutdown (uv_shutdown_t *req, int status)
{
    (void) status;
    reject_t *r = req->data;
    uv_close ((uv_handle_t *) &r->tcp, s_reject_closed);
}

static void
s_reject_written (uv_write_t *w, int status)
{
    reject_t *r = w->data;
    if (status < 0 || uv_shutdown (&r->sreq, (uv_stream_t *) &r->tcp, s_reject_shutdown) != 0)
        uv_close ((uv_handle_t *) &r->tcp, s_reject_closed);
}

static void
s_reject (gw_server_t *srv)
{
    static const char body[] =
        "{\"error\":{\"code\":\"unavailable\",\"message\":\"too many connections\","
        "\"request_id\":\"\"}}";
    static char msg[384];
    static size_t msg_len;
    if (!msg_len) {
        int n = snprintf (msg, sizeof msg,
                          "HTTP/1.1 503 Service Unavailable\r\n"
                          "Content-Type: application/json; charset=utf-8\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\nRetry-After: 1\r\n\r\n%s",
                          sizeof body - 1, body);
        msg_len = n > 0 && (size_t) n < sizeof msg ? (size_t) n : 0;
    }
    reject_t *r = calloc (1, sizeof *r);
    if (!r)
        return;
    r->server = srv;
    uv_tcp_init (srv->loop, &r->tcp);
    r->tcp.data = r;
    srv->rejecting++;
    if (srv->m_rejected)
        metric_inc (srv->m_rejected);
    if (uv_accept ((uv_stream_t *) srv->listener, (uv_stream_t *) &r->tcp) != 0
        || srv->rejecting > GW_MAX_REJECTING) {
        uv_close ((uv_handle_t *) &r->tcp, s_reject_closed);
        return;
    }
    uv_buf_t b = uv_buf_init (msg, (unsigned) msg_len);
    r->wreq.data = r;
    r->sreq.data = r;
    if (uv_write (&r->wreq, (uv_stream_t *) &r->tcp, &b, 1, s_reject_written) != 0)
        uv_close ((uv_handle_t *) &r->tcp, s_reject_closed);
}

static void
s_on_connection (uv_stream_t *listener, int status)
{
    gw_server_t *srv = listener->data;
    if (status < 0) {
        log_warn ("http.accept", "accept failed: %s", uv_strerror (status));
        return;
    }
    if (srv->nconns >= srv->lim.max_connections || srv->draining) {
        s_reject (srv);
        return;
    }
    gw_conn_t *c = calloc (1, sizeof *c);
    if (!c) {
        s_reject (srv);
        return;
    }
    c->server = srv;
    c->url = buf_new (srv->lim.max_url_bytes);
    c->body = buf_new (srv->lim.max_body_bytes);
    c->arena_cap = srv->lim.max_header_bytes + 2 * (size_t) srv->lim.max_headers + 2;
    c->arena = malloc (c->arena_cap);
    c->hdrs = calloc ((size_t) srv->lim.max_headers + 1, sizeof *c->hdrs);
    if (!c->url || !c->body || !c->arena || !c->hdrs) {
        s_conn_free (c);
        s_reject (srv);
        return;
    }
    uv_tcp_init (srv->loop, &c->tcp);
    uv_timer_init (srv->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    c->state = C_READING;
    c->req.conn = c;
    llhttp_init (&c->parser, HTTP_REQUEST, &srv->settings);
    c->parser.data = c;
    s_reset_message (c);
    s_link (srv, c);
    if (uv_accept (listener, (uv_stream_t *) &c->tcp) != 0) {
        s_conn_close (c);
        return;
    }
    uv_tcp_nodelay (&c->tcp, 1);
    struct sockaddr_storage ss;
    int sl = sizeof ss;
    if (uv_tcp_getpeername (&c->tcp, (struct sockaddr *) &ss, &sl) == 0) {
        char ip[48] = "";
        int port = 0;
        if (ss.ss_family == AF_INET) {
            struct sockaddr_in *a = (struct sockaddr_in *) &ss;
            uv_ip4_name (a, ip, sizeof ip);
            port = ntohs (a->sin_port);
        } else if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *a = (struct sockaddr_in6 *) &ss;
            uv_ip6_name (a, ip, sizeof ip);
            port = ntohs (a->sin6_port);
        }
        snprintf (c->peer, sizeof c->peer, "%s:%d", ip, port);
    }
    /* A fresh connection must start its request within the request timeout. */
    s_timer_start (c, srv->lim.request_timeout_ms);
    if (uv_read_start ((uv_stream_t *) &c->tcp, s_alloc, s_on_read) != 0)
        s_conn_close (c);
}

/* ---- server ------------------------------------------------------------------ */

gw_server_t *
gw_server_new (uv_loop_t *loop, const gw_limits_t *limits, gw_handler_fn handler, void *arg)
{
    gw_server_t *srv = calloc (1, sizeof *srv);
    if (!srv)
        return NULL;
    srv->loop = loop;
    if (limits)
        srv->lim = *limits;
    else
        gw_limits_default (&srv->lim);
    if (srv->lim.max_headers < 1)
        srv->lim.max_headers = 1;
    srv->handler = handler;
    srv->handler_arg = arg;
    llhttp_settings_init (&srv->settings);
    srv->settings.on_message_begin = s_on_message_begin;
    srv->settings.on_url = s_on_url;
    srv->settings.on_header_field = s_on_header_field;
    srv->settings.on_header_field_complete = s_on_header_field_complete;
    srv->settings.on_header_value = s_on_header_value;
    srv->settings.on_header_value_complete = s_on_header_value_complete;
    srv->settings.on_headers_complete = s_on_headers_complete;
    srv->settings.on_body = s_on_body;
    srv->settings.on_message_complete = s_on_message_complete;
    uint64_t rnd = 0;
    if (uv_random (NULL, NULL, &rnd, sizeof rnd, 0, NULL) != 0)
        rnd = (uint64_t) clock_wall_ms () ^ ((uint64_t) getpid () << 32);
    srv->id_prefix = rnd;
    metrics_t *mg = metrics_global ();
    srv->m_conns = metrics_gauge (mg, "copilot_http_connections", "Open HTTP connections.", NULL);
    srv->m_rejected = metrics_counter (mg, "copilot_http_rejected_connections_total",
                                       "Connections refused with 503 (connection cap or draining).",
                                       NULL);
    srv->m_proto_err = srv->m_rejected;
    srv->m_streams = metrics_gauge (mg, "copilot_http_open_streams", "Open streaming responses (SSE).",
                                    NULL);
    return srv;
}

static void
s_listener_closed (uv_handle_t *h)
{
    free (h);
}

static void
s_close_listener (gw_server_t *srv)
{
    if (srv->listener) {
        srv->listening = false;
        uv_close ((uv_handle_t *) srv->listener, s_listener_closed);
        srv->listener = NULL;
    }
}

int
gw_server_listen (gw_server_t *self, const char *host, int port)
{
    struct sockaddr_storage addr;
    int rc;
    if (strchr (host, ':'))
        rc = uv_ip6_addr (host, port, (struct sockaddr_in6 *) &addr);
    else
        rc = uv_ip4_addr (host, port, (struct sockaddr_in *) &addr);
    if (rc)
        return rc;
    if (self->listener)
        return UV_EALREADY;
    self->listener = malloc (sizeof *self->listener);
    if (!self->listener)
        return UV_ENOMEM;
    uv_tcp_init (self->loop, self->listener);
    self->listener->data = self;
    self->listening = true;
    rc = uv_tcp_bind (self->listener, (const struct sockaddr *) &addr, 0);
    if (!rc)
        rc = uv_listen ((uv_stream_t *) self->listener, 511, s_on_connection);
    if (rc) {
        s_close_listener (self);
        return rc;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    if (uv_tcp_getsockname (self->listener, (struct sockaddr *) &bound, &len) == 0) {
        if (bound.ss_family == AF_INET)
            self->port = ntohs (((struct sockaddr_in *) &bound)->sin_port);
        else
            self->port = ntohs (((struct sockaddr_in6 *) &bound)->sin6_port);
    }
    return 0;
}

int
gw_server_port (const gw_server_t *self)
{
    return self && self->listening ? self->port : 0;
}

void
gw_server_drain (gw_server_t *self)
{
    if (!self || self->draining)
        return;
    self->draining = true;
    s_close_listener (self);
    gw_conn_t *c = self->conns;
    while (c) {
        gw_conn_t *next = c->next;
        if (c->state == C_READING && !c->in_message)
            s_conn_close (c);
        c = next;
    }
}

void
gw_server_close_streams (gw_server_t *self)
{
    if (!self)
        return;
    gw_conn_t *c = self->conns;
    while (c) {
        gw_conn_t *next = c->next;
        if (c->state == C_STREAMING)
            s_conn_close (c);
        c = next;
    }
}

int
gw_server_connections (const gw_server_t *self)
{
    return self ? self->nconns : 0;
}

int
gw_server_inflight (const gw_server_t *self)
{
    return self ? self->inflight : 0;
}

int
gw_server_busy (const gw_server_t *self)
{
    int n = 0;
    for (const gw_conn_t *c = self ? self->conns : NULL; c; c = c->next)
        if (c->state == C_HANDLING || c->state == C_WRITING)
            n++;
    return n;
}

void
gw_server_destroy (gw_server_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gw_server_t *srv = *self_p;
    *self_p = NULL;
    /* Close every connection. Their close callbacks run later on the loop and
     * must not touch the server, so they are detached. Abort callbacks run
     * now: the application is shutting down and may free its state before
     * the loop turns again. */
    while (srv->conns) {
        gw_conn_t *c = srv->conns;
        s_conn_close (c);   /* unlinks */
        if (c->req.active && c->req.streaming && srv->m_streams)
            metric_add (srv->m_streams, -1);
        c->server = NULL;
        if (c->req.active) {
            gw_req_t *r = &c->req;
            r->active = false;
            if (r->abort_fn)
                r->abort_fn (r, r->abort_arg);
        }
    }
    s_close_listener (srv);   /* the heap listener frees itself when closed */
    free (srv);
}

/* ---- request accessors --------------------------------------------------------- */

const char *
gw_req_method (const gw_req_t *req)
{
    return req->method;
}

bool
gw_req_is_head (const gw_req_t *req)
{
    return req->head;
}

const char *
gw_req_path (const gw_req_t *req)
{
    return req->path ? req->path : "/";
}

const char *
gw_req_query (const gw_req_t *req)
{
    return req->query ? req->query : "";
}

const char *
gw_req_header (const gw_req_t *req, const char *name)
{
    const gw_conn_t *c = req->conn;
    for (int i = 0; i < c->nhdrs; i++) {
        if (strcasecmp (c->arena + c->hdrs[i].name_off, name) == 0)
            return c->arena + c->hdrs[i].value_off;
    }
    return NULL;
}

const char *
gw_req_body (const gw_req_t *req, size_t *len)
{
    if (len)
        *len = buf_len (req->conn->body);
    return buf_data (req->conn->body);
}

const char *
gw_req_id (const gw_req_t *req)
{
    return req->id;
}

int64_t
gw_req_start_ms (const gw_req_t *req)
{
    return req->start_ms;
}

const char *
gw_req_peer (const gw_req_t *req)
{
    return req->conn->peer;
}

void
gw_req_set_data (gw_req_t *req, void *data)
{
    req->data = data;
}

void *
gw_req_data (const gw_req_t *req)
{
    return req->data;
}

void
gw_req_on_abort (gw_req_t *req, gw_abort_fn fn, void *arg)
{
    req->abort_fn = fn;
    req->abort_arg = arg;
}

/* ---- responses --------------------------------------------------------------- */

static void
s_log_done (gw_req_t *req, int status)
{
    char st[8], dur[32];
    snprintf (st, sizeof st, "%d", status);
    snprintf (dur, sizeof dur, "%.4f", (double) (clock_mono_ms () - req->start_ms) / 1000.0);
    const char *kv[] = { "method", req->method, "path", req->path ? req->path : "",
                         "status", st, "duration_s", dur, "request_id", req->id,
                         "peer", req->conn->peer };
    log_emitkv (LOG_INFO, "http.request", "request done", kv, 6);
}

int
gw_respond (gw_req_t *req, int status, const char *content_type, const char *extra_headers,
            const void *body, size_t len)
{
    gw_conn_t *c = req->conn;
    if (!req->active)
        return -1;
    req->active = false;
    if (c->server)
        c->server->inflight--;
    if (c->state != C_HANDLING || !c->server)
        return -1;
    s_log_done (req, status);
    /* Draining: the last response on a connection says close; a pipelined
     * request already received is still answered (503) after this one. */
    if (c->server->draining && !c->pending)
        c->close_after = true;
    return s_write_response (c, status, content_type, extra_headers, body, len, !req->head,
                             req->id);
}

int
gw_respond_error (gw_req_t *req, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    char *body = gw_error_json (code, msg, req->id);
    const char *extra = NULL;
    if (status == 401)
        extra = "WWW-Authenticate: Bearer realm=\"copilot\"\r\n";
    else if (status == 503)
        extra = "Retry-After: 1\r\n";
    int rc = gw_respond (req, status, "application/json; charset=utf-8", extra, body,
                         body ? strlen (body) : 0);
    free (body);
    return rc;
}

static void
s_on_stream_write (uv_write_t *w, int status)
{
    stream_write_t *sw = (stream_write_t *) w;
    gw_conn_t *c = sw->conn;
    free (sw);
    if (status < 0 && c->state != C_CLOSING)
        s_conn_close (c);
}

static int
s_stream_queue (gw_conn_t *c, const void *data, size_t len)
{
    stream_write_t *sw = malloc (sizeof *sw + len);
    if (!sw)
        return -1;
    sw->conn = c;
    memcpy (sw->data, data, len);
    uv_buf_t b = uv_buf_init (sw->data, (unsigned) len);
    if (uv_write (&sw->req, (uv_stream_t *) &c->tcp, &b, 1, s_on_stream_write) != 0) {
        free (sw);
        return -1;
    }
    return 0;
}

int
gw_stream_begin (gw_req_t *req, int status, const char *content_type, const char *extra_headers)
{
    gw_conn_t *c = req->conn;
    if (!req->active || c->state != C_HANDLING || !c->server)
        return -1;
    char date[64];
    s_http_date (date, sizeof date);
    buf_t *b = buf_new (4096);
    if (!b)
        return -1;
    int rc = buf_printf (b,
                         "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: copilot-gateway\r\n"
                         "Content-Type: %s\r\nX-Request-Id: %s\r\nConnection: close\r\n"
                         "X-Content-Type-Options: nosniff\r\n%s\r\n",
                         status, gw_status_text (status), date, content_type, req->id,
                         extra_headers ? extra_headers : "");
    if (rc) {
        buf_destroy (&b);
        return -1;
    }
    rc = s_stream_queue (c, buf_data (b), buf_len (b));
    buf_destroy (&b);
    if (rc) {
        s_conn_close (c);
        return -1;
    }
    s_log_done (req, status);
    req->streaming = true;
    c->server->inflight--;
    if (c->server->m_streams)
        metric_add (c->server->m_streams, 1);
    c->state = C_STREAMING;
    c->close_after = true;
    uv_timer_stop (&c->timer);
    free (c->pending);
    c->pending = NULL;
    c->pending_len = 0;
    if (uv_read_start ((uv_stream_t *) &c->tcp, s_alloc, s_on_read) != 0) {
        s_conn_close (c);
        return -1;
    }
    return 0;
}

int
gw_stream_write (gw_req_t *req, const void *data, size_t len)
{
    gw_conn_t *c = req->conn;
    if (!req->active || !req->streaming || c->state != C_STREAMING)
        return -1;
    size_t queued = uv_stream_get_write_queue_size ((uv_stream_t *) &c->tcp);
    if (c->server && queued + len > c->server->lim.stream_queue_bytes) {
        log_warn ("http.stream_overflow", "stream client too slow (%zu bytes queued); closing",
                  queued);
        s_conn_close (c);
        return -1;
    }
    if (s_stream_queue (c, data, len) != 0) {
        s_conn_close (c);
        return -1;
    }
    return 0;
}

void
gw_stream_end (gw_req_t *req)
{
    gw_conn_t *c = req->conn;
    if (!req->active || !req->streaming)
        return;
    req->active = false;
    if (c->server && c->server->m_streams)
        metric_add (c->server->m_streams, -1);
    if (c->state == C_STREAMING)
        s_conn_finish (c);
}

/* ---- URL decoding and query strings --------------------------------------- */

static int
s_hexval (char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

int
gw_url_decode (const char *in, size_t n, char *out, size_t size, bool plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = in[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return -1;
            int hi = s_hexval (in[i + 1]), lo = s_hexval (in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            ch = (char) (hi * 16 + lo);
            if (ch == '\0')
                return -1;
            i += 2;
        } else if (ch == '+' && plus_space) {
            ch = ' ';
        } else if (ch == '\0') {
            return -1;
        }
        if (o + 1 >= size)
            return -1;
        out[o++] = ch;
    }
    if (size == 0)
        return -1;
    out[o] = '\0';
    return (int) o;
}

int
gw_query_next (const char *query, size_t *pos, char *key, size_t key_size, char *val,
               size_t val_size)
{
    size_t p = *pos;
    size_t qlen = strlen (query);
    while (p < qlen && query[p] == '&')
        p++;
    if (p >= qlen) {
        *pos = p;
        return 0;
    }
    size_t end = p;
    while (end < qlen && query[end] != '&')
        end++;
    size_t eq = p;
    while (eq < end && query[eq] != '=')
        eq++;
    *pos = end;
    if (gw_url_decode (query + p, eq - p, key, key_size, true) < 0)
        return -1;
    if (eq < end) {
        if (gw_url_decode (query + eq + 1, end - eq - 1, val, val_size, true) < 0)
            return -1;
    } else {
        if (val_size == 0)
            return -1;
        val[0] = '\0';
    }
    return 1;
}

int
gw_query_get (const char *query, const char *name, char *out, size_t size)
{
    if (size == 0)
        return -1;
    size_t pos = 0;
    char key[128];
    /* Other parameters' values may be longer than `size`: decode into a
     * buffer that fits any of them, check only the wanted one against size. */
    size_t cap = strlen (query) + 1;
    char *val = malloc (cap);
    if (!val)
        return -1;
    int rc, found = 0;
    while ((rc = gw_query_next (query, &pos, key, sizeof key, val, cap)) != 0) {
        if (rc < 0) {
            found = -1;
            break;
        }
        if (strcmp (key, name) == 0) {
            if (strlen (val) + 1 > size) {
                found = -1;
                break;
            }
            memcpy (out, val, strlen (val) + 1);
            found = 1;
            break;
        }
    }
    free (val);
    return found;
}
