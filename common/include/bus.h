/* bus.h — request/reply over ZeroMQ: a ROUTER server with a handler table,
 * and a DEALER client with many requests in flight.
 *
 * Wire format (both directions): [empty delimiter][Envelope]; the server side
 * additionally sees the routing identity frame(s) in front. Replies echo the
 * request's header.request_id; the client matches replies by that id.
 *
 * Both objects are single-threaded (one owner thread, like the zmq socket
 * inside) and never block unless a function says so. Each can be driven in
 * three ways:
 *   - a libuv loop: bus_server_attach_uv / bus_client_attach_uv (bus_uv.h
 *     design: prepare + check + idle + poll, never a naive uv_poll);
 *   - your own zmq_poll loop: bus_*_socket() + bus_*_recv_one() (+
 *     bus_client_tick() for deadlines);
 *   - blocking helpers: bus_server_poll(), bus_client_call(), bus_call().
 *
 * Error codes: functions return 0 or a negative BUS_E_* code (bus_strerror).
 * Constructors return NULL and leave a message in bus_last_error().
 *
 * Socket options set on every socket: LINGER 0, MAXMSGSIZE ENV_MAX_BYTES + 1 KiB,
 * RECONNECT_IVL 100 ms with RECONNECT_IVL_MAX 1000 ms; clients also IMMEDIATE 1
 * (messages queue only to completed connections; a request that cannot be
 * sent yet waits in the client until its deadline).
 *
 * Metrics (registry = metrics_global()):
 *   server: copilot_requests_total{service,method,code} (counter),
 *           copilot_request_duration_seconds{service,method} (histogram),
 *           copilot_inflight_requests{service} (gauge),
 *           copilot_bad_frames_total{service,reason} (counter)
 *   client: copilot_client_requests_total{service,target,outcome} (outcome =
 *           ok|error|deadline|unavailable), copilot_client_retries_total{service,target},
 *           copilot_zmq_send_eagain_total{service}
 */
#ifndef COPILOT_BUS_H
#define COPILOT_BUS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "env.h"

/* Error codes (negative; values never change). */
enum {
    BUS_OK = 0,
    BUS_E_ZMQ = -1,         /* a zmq call failed; bus_last_error() has zmq_strerror */
    BUS_E_NOMEM = -2,
    BUS_E_CODEC = -3,       /* envelope could not be encoded/decoded */
    BUS_E_DEADLINE = -4,    /* the request's deadline passed without a reply */
    BUS_E_UNAVAILABLE = -5, /* could not send (no peer / HWM) before the deadline */
    BUS_E_INVALID = -6,     /* bad argument (NULL, unknown body case, ...) */
    BUS_E_BUSY = -7,        /* too many requests in flight on this client */
    BUS_E_CLOSED = -8,      /* the object is shutting down / socket closed */
};

/* Handler return value meaning "I kept the request (bus_request_defer) and
 * will reply later with bus_request_reply". Positive on purpose. */
#define BUS_DEFERRED 1

const char *bus_strerror (int code);
/* Message describing the last failure in this thread (constructors). */
const char *bus_last_error (void);

/* Applies the standard options above to a socket (used internally; public
 * for daemons that create raw zmq sockets, e.g. the event-bus proxy).
 * `client` adds IMMEDIATE=1. 0 or BUS_E_ZMQ. */
int bus_socket_defaults (void *zsock, bool client);
/* zmq_close with LINGER 0; NULL-safe, sets *zsock_p = NULL. */
void bus_socket_close (void **zsock_p);
/* For ipc:// endpoints: creates the parent directory (0700) and removes a
 * stale socket file no process listens on. No-op for other transports.
 * 0 or BUS_E_INVALID (path too long, mkdir failed, or a live process is
 * listening there: zmq would otherwise silently steal the address). */
int bus_prepare_endpoint (const char *endpoint);

/* =========================== server ======================================= */

typedef struct _bus_server_t bus_server_t;
/* One received request: routing frames + decoded envelope. Owned by the server
 * while the handler runs; owned by the handler after bus_request_defer(). */
typedef struct _bus_request_t bus_request_t;

/* A request handler. `req` is the decoded request (valid until the reply is
 * sent); `reply` is a fresh envelope whose header already echoes the request
 * id and trace id: set its body (env_set_body / env_set_error). Return:
 *   0            reply is sent (a reply without a body becomes ERROR_INTERNAL)
 *   BUS_DEFERRED the handler called bus_request_defer(rq) and will answer
 *                later with bus_request_reply(); `reply` is discarded
 *   < 0          failure: if reply carries an Error body it is sent as is,
 *                otherwise ERROR_INTERNAL "handler failed (<code>)" is sent. */
typedef int (*bus_handler_fn) (bus_server_t *srv, bus_request_t *rq, const env_t *req,
                               env_t *reply, void *arg);

/* Creates a ROUTER socket in `zctx` bound to `endpoint` (ipc://, tcp://,
 * inproc://; "tcp://127.0.0.1:*" picks a free port, see bus_server_endpoint).
 * `service` names the daemon in replies, logs and metric labels (copied).
 * Ping and Metrics are NOT answered here (svc.h does that); every body
 * without a handler gets ERROR_UNIMPLEMENTED "<service> does not implement
 * <body> yet". NULL on failure (bus_last_error()). */
bus_server_t *bus_server_new (void *zctx, const char *endpoint, const char *service);
/* Detaches from uv (if attached), closes the socket (LINGER 0). Deferred
 * requests still held by handlers become orphans: replying to them afterwards
 * is an error, freeing them with bus_request_destroy is still required.
 * NULL-safe; sets *self_p = NULL. */
void bus_server_destroy (bus_server_t **self_p);

/* The bound endpoint as resolved by zmq (ZMQ_LAST_ENDPOINT). Owned by srv. */
const char *bus_server_endpoint (bus_server_t *self);
/* The ROUTER socket, for zmq_poll. Do not recv/send on it yourself. */
void *bus_server_socket (bus_server_t *self);
const char *bus_server_service (bus_server_t *self);

/* Registers `fn` for requests whose body_case == `body_case` (replacing any
 * previous handler). 0 or BUS_E_INVALID. */
int bus_server_on (bus_server_t *self, int body_case, bus_handler_fn fn, void *arg);

/* Draining: new requests are answered ERROR_UNAVAILABLE "<service> is
 * shutting down" without running a handler; deferred ones may still reply. */
void bus_server_set_draining (bus_server_t *self, bool draining);
/* Number of deferred requests not yet answered. */
size_t bus_server_inflight (bus_server_t *self);

/* Non-blocking: receives and fully handles ONE request (decode, version and
 * deadline check, handler, reply). Returns 1 if a message was consumed
 * (valid or not), 0 if none was waiting, BUS_E_ZMQ on socket failure.
 * A request whose deadline already passed is answered
 * ERROR_DEADLINE_EXCEEDED without running the handler. */
int bus_server_recv_one (bus_server_t *self);
/* Blocking helper: waits up to timeout_ms (-1 = forever) for a request, then
 * handles every waiting one. Returns the number handled, or BUS_E_ZMQ
 * (EINTR is reported as 0 so callers can check their stop flag). */
int bus_server_poll (bus_server_t *self, int timeout_ms);
/* Drives the server from a libuv loop (bus_uv.h). 0 or a BUS_E_* code. */
int bus_server_attach_uv (bus_server_t *self, uv_loop_t *loop);

/* --- requests ------------------------------------------------------------ */

/* Takes ownership of rq away from the server (call inside the handler, then
 * return BUS_DEFERRED). The request envelope stays valid until the reply. */
void bus_request_defer (bus_request_t *rq);
/* The decoded request envelope (owned by rq). */
const env_t *bus_request_env (const bus_request_t *rq);
/* The server the request arrived on (NULL after the server was destroyed). */
bus_server_t *bus_request_server (const bus_request_t *rq);
/* Sends `reply` (not consumed; its header request_id is forced to the
 * request's) for a deferred request and frees *rq_p (set to NULL). Usually
 * called from a later callback; calling it (or bus_request_destroy) inside
 * the handler is allowed too, the server then sends nothing more. An expired
 * deadline does not stop the reply (the client ignores late replies).
 * 0, BUS_E_CLOSED (server gone; *rq_p still freed), BUS_E_CODEC, BUS_E_ZMQ. */
int bus_request_reply (bus_request_t **rq_p, env_t *reply);
/* Frees a deferred request without replying (the client will hit its
 * deadline). NULL-safe. */
void bus_request_destroy (bus_request_t **rq_p);

/* =========================== client ======================================= */

typedef struct _bus_client_t bus_client_t;

/* Flags for bus_client_send / bus_client_call. */
#define BUS_CALL_IDEMPOTENT 0x1u  /* safe to resend once (same request id) */

/* Called exactly once per sent request, from bus_client_recv_one /
 * bus_client_tick / the uv loop. `reply` is never NULL and is OWNED BY THE
 * CALLBACK (free with env_free): either the server's reply (status 0; the
 * body may be an Error from the server) or a locally made Error envelope:
 *   BUS_E_DEADLINE    -> Error{ERROR_DEADLINE_EXCEEDED}
 *   BUS_E_UNAVAILABLE -> Error{ERROR_UNAVAILABLE} (never got onto the wire)
 *   BUS_E_CLOSED      -> Error{ERROR_UNAVAILABLE} (client destroyed)
 *   BUS_E_CODEC       -> Error{ERROR_INTERNAL} (undecodable reply)
 * The callback may send new requests on the same client; it must not destroy
 * the client. */
typedef void (*bus_reply_fn) (bus_client_t *client, int status, env_t *reply, void *arg);

/* Creates a DEALER in `zctx` connected to `endpoint`. `service` is the
 * caller's name (header.sender, metric label); copied. `target` labels
 * metrics (defaults to the endpoint when NULL). NULL on failure. */
bus_client_t *bus_client_new (void *zctx, const char *endpoint, const char *service,
                              const char *target);
/* Completes every pending request with BUS_E_CLOSED (callbacks run), then
 * closes the socket. NULL-safe; sets *self_p = NULL. */
void bus_client_destroy (bus_client_t **self_p);

void *bus_client_socket (bus_client_t *self);
const char *bus_client_endpoint (bus_client_t *self);
/* Number of requests waiting for a reply or for their callback. */
size_t bus_client_pending (bus_client_t *self);

/* Sends `req` (not consumed: it is encoded immediately). The client stamps
 * header.request_id (when empty), sender, sent_unix_ms, idempotent, and
 * deadline = now + timeout_ms (timeout_ms must be > 0; an existing earlier
 * header deadline wins). With BUS_CALL_IDEMPOTENT the request is resent once
 * (same id) when no reply came within half of its timeout. Returns 0 (cb will
 * be called exactly once) or BUS_E_INVALID / BUS_E_CODEC / BUS_E_NOMEM /
 * BUS_E_BUSY (cb will not be called). Never blocks. */
int bus_client_send (bus_client_t *self, env_t *req, int timeout_ms, unsigned flags,
                     bus_reply_fn cb, void *arg);

/* Non-blocking: receives ONE reply and runs its callback. 1 if a message was
 * consumed, 0 if none waiting, BUS_E_ZMQ on failure. Late or unknown replies
 * are dropped (logged at debug). */
int bus_client_recv_one (bus_client_t *self);
/* Housekeeping for your own loop: resends unsent / idempotent requests and
 * completes expired ones (callbacks run). Returns the number of ms until it
 * needs to run again (-1 = nothing pending). */
int bus_client_tick (bus_client_t *self);
/* Blocking helper: processes replies and deadlines for up to timeout_ms
 * (-1 = until nothing is pending). Returns the number of callbacks run or
 * BUS_E_ZMQ. */
int bus_client_poll (bus_client_t *self, int timeout_ms);
/* Drives the client from a libuv loop (replies + a timer for deadlines and
 * resends). 0 or a BUS_E_* code. */
int bus_client_attach_uv (bus_client_t *self, uv_loop_t *loop);

/* Synchronous call on this client: sends req and blocks (zmq_poll; NOT the uv
 * loop) until its reply or deadline. Other requests' callbacks on this client
 * may run meanwhile. On return *reply_out owns the reply (or a local Error
 * envelope, as for bus_reply_fn) and the status is 0 or BUS_E_DEADLINE /
 * BUS_E_UNAVAILABLE / BUS_E_CODEC; on argument errors *reply_out is NULL. */
int bus_client_call (bus_client_t *self, env_t *req, env_t **reply_out, int timeout_ms,
                     unsigned flags);

/* One-shot blocking call for CLIs and tests: private context + DEALER to
 * `endpoint`, one request, closes everything. Same results as
 * bus_client_call (sender "cli"). */
int bus_call (const char *endpoint, env_t *req, env_t **reply_out, int timeout_ms);

#endif
