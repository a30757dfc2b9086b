/* gw_http.h — HTTP/1.1 server on libuv with llhttp in strict mode.
 *
 * The server owns the listener and every connection. For each complete
 * request it calls the application's handler once with a gw_req_t; the
 * handler answers now or later (after a backend reply) with exactly one of
 * gw_respond*() or gw_stream_begin(). Until then the connection reads no
 * further bytes (pipelined requests wait in a buffer), so responses go out in
 * request order.
 *
 * Protocol-level failures are answered by the server itself with a JSON error
 * and the connection is closed: 400 malformed, 408 request too slow, 413 body
 * too large, 414 URL too long, 431 headers too large, 417 unknown Expect,
 * 503 too many connections or draining.
 *
 * Threading: everything runs on the loop thread that created the server.
 */
#ifndef GW_HTTP_H
#define GW_HTTP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct _gw_server_t gw_server_t;
typedef struct _gw_req_t gw_req_t;

/* Limits applied to every connection; gw_limits_default() fills defaults. */
typedef struct {
    size_t max_header_bytes;     /* request line + header fields/values (431) */
    size_t max_url_bytes;        /* request target (414) */
    size_t max_body_bytes;       /* Content-Length or streamed body (413) */
    int max_headers;             /* number of header lines (431) */
    int max_connections;         /* concurrent connections; excess gets 503 */
    int64_t request_timeout_ms;  /* first byte to last body byte (408) */
    int64_t idle_timeout_ms;     /* keep-alive idle before a silent close */
    int64_t write_timeout_ms;    /* a response must drain within this */
    size_t stream_queue_bytes;   /* unsent bytes allowed on a stream (SSE) */
} gw_limits_t;

/* Fills *limits with the defaults: 16 KiB headers, 4 KiB URL, 1 MiB body,
 * 64 headers, 512 connections, 10 s request, 60 s idle, 30 s write,
 * 256 KiB stream queue. */
void gw_limits_default (gw_limits_t *limits);

/* Called once per complete request. The handler must eventually finish the
 * request (gw_respond*, or gw_stream_begin + gw_stream_end), unless the
 * request is aborted first (see gw_req_on_abort). */
typedef void (*gw_handler_fn) (gw_req_t *req, void *arg);

/* Called when the connection of an unfinished request (or an open stream)
 * goes away. After the callback returns the request is freed: drop every
 * pointer to it. */
typedef void (*gw_abort_fn) (gw_req_t *req, void *arg);

/* ---- server ------------------------------------------------------------- */

/* New server on `loop` with a copy of `limits`. NULL on OOM. */
gw_server_t *gw_server_new (uv_loop_t *loop, const gw_limits_t *limits, gw_handler_fn handler,
                            void *arg);

/* Closes the listener and every connection (aborting unfinished requests),
 * runs no loop iterations itself: the caller runs the loop afterwards so the
 * close callbacks free the handles. NULL-safe, nulls *self_p. */
void gw_server_destroy (gw_server_t **self_p);

/* Binds and listens on host:port (port 0 = ephemeral; see gw_server_port).
 * Returns 0 or a negative libuv error code (uv_strerror). */
int gw_server_listen (gw_server_t *self, const char *host, int port);

/* The bound port, or 0 when not listening. */
int gw_server_port (const gw_server_t *self);

/* Starts draining: closes the listener, closes idle connections, and makes
 * later requests on kept-alive connections get 503 + Connection: close.
 * In-flight requests still complete. */
void gw_server_drain (gw_server_t *self);

/* Closes every open stream (SSE) connection; used at shutdown. */
void gw_server_close_streams (gw_server_t *self);

/* Number of open connections / unfinished requests. */
int gw_server_connections (const gw_server_t *self);
int gw_server_inflight (const gw_server_t *self);
/* Connections with a request being handled or a response being written
 * (what a drain waits for). */
int gw_server_busy (const gw_server_t *self);

/* ---- request accessors (valid until the request is finished/aborted) ---- */

const char *gw_req_method (const gw_req_t *req);   /* "GET", "POST", ... */
bool gw_req_is_head (const gw_req_t *req);
/* Raw request path (not percent-decoded), without the query. */
const char *gw_req_path (const gw_req_t *req);
/* Raw query string without '?', "" when none. */
const char *gw_req_query (const gw_req_t *req);
/* First header with that name (ASCII case-insensitive), or NULL. */
const char *gw_req_header (const gw_req_t *req, const char *name);
/* Body bytes (NUL-terminated for convenience; may contain NULs) and length. */
const char *gw_req_body (const gw_req_t *req, size_t *len);
/* Request id: the client's X-Request-Id when it is 1-64 chars of
 * [A-Za-z0-9._-], otherwise a fresh id. Echoed as X-Request-Id. */
const char *gw_req_id (const gw_req_t *req);
/* Monotonic start time of the request (ms). */
int64_t gw_req_start_ms (const gw_req_t *req);
/* Peer address as text ("127.0.0.1:5555"). */
const char *gw_req_peer (const gw_req_t *req);

/* Application data slot and abort notification. */
void gw_req_set_data (gw_req_t *req, void *data);
void *gw_req_data (const gw_req_t *req);
void gw_req_on_abort (gw_req_t *req, gw_abort_fn fn, void *arg);

/* ---- responses -------------------------------------------------------- */

/* Sends one complete response in a single write and finishes the request.
 * `extra_headers` is NULL or CRLF-terminated header lines. The body is
 * omitted (Content-Length kept) for HEAD. The request is freed: do not touch
 * it afterwards. Returns 0, or -1 when the connection had already failed
 * (the request is freed either way). */
int gw_respond (gw_req_t *req, int status, const char *content_type, const char *extra_headers,
                const void *body, size_t len);

/* Responds with a JSON error {"error":{"code","message","request_id"}}.
 * `code` is a short machine name ("not_found"); `fmt` the human message. */
int gw_respond_error (gw_req_t *req, int status, const char *code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

/* Starts a streaming response (no Content-Length, Connection: close); the
 * connection then carries only this stream. 0 or -1. */
int gw_stream_begin (gw_req_t *req, int status, const char *content_type,
                     const char *extra_headers);
/* Queues bytes on an open stream. Returns 0, or -1 when the connection is
 * gone or the unsent bytes would exceed limits.stream_queue_bytes; in that
 * case the connection is closed and the abort callback runs (later, from the
 * loop, never inside this call). */
int gw_stream_write (gw_req_t *req, const void *data, size_t len);
/* Ends the stream: the connection closes after queued bytes are written.
 * The request is freed (the abort callback does not run). */
void gw_stream_end (gw_req_t *req);

/* Reason phrase for a status code ("Not Found"). */
const char *gw_status_text (int status);

/* Formats a JSON error body into a malloc'd string (caller frees). */
char *gw_error_json (const char *code, const char *message, const char *request_id);

/* ---- query strings ------------------------------------------------------ */

/* Percent-decodes `in` (length n) into out (size > 0). With `plus_space`,
 * '+' becomes ' ' (query strings). Returns the decoded length, or -1 on a
 * malformed escape, an encoded NUL, or when out is too small. */
int gw_url_decode (const char *in, size_t n, char *out, size_t size, bool plus_space);

/* Iterates a raw query string: on each call stores the next decoded key and
 * value in key/val and advances *pos. Returns 1 for a pair, 0 at the end,
 * -1 on a malformed pair (bad escape, too long for the buffers). */
int gw_query_next (const char *query, size_t *pos, char *key, size_t key_size, char *val,
                   size_t val_size);

/* Decoded value of the first `name` in `query` into out. Returns 1 when
 * found, 0 when absent, -1 when malformed. */
int gw_query_get (const char *query, const char *name, char *out, size_t size);

#endif
