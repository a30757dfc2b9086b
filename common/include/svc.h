/* svc.h — the daemon scaffold every copilot daemon is built on.
 *
 * A svc_t owns: the configuration (cfg.h), logging (log.h), one zmq context,
 * a bus_server (ROUTER) bound at the daemon's endpoint, a libuv loop that
 * drives it (bus_uv design), lazily an event-bus publisher and subscriber,
 * cached clients to other daemons, timers, and the SIGTERM drain.
 *
 * ---------------------------------------------------------------- usage --
 *   #include "svc.h"
 *
 *   static int s_on_run_report (svc_t *svc, const env_t *req, env_t *reply, void *arg)
 *   {
 *       rs_engine_t *eng = arg;
 *       const Copilot__V1__RunReportRequest *rr = req->run_report_request;
 *       if (!rr->report_id[0]) {
 *           env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT,
 *                          "report_id", "report_id is required");
 *           return -1;                              // the Error body is sent
 *       }
 *       Copilot__V1__RunReportReply *out = env_msg_new (&copilot__v1__run_report_reply__descriptor);
 *       if (!out) return -1;                        // -> ERROR_INTERNAL
 *       ... fill `out` with malloc'd strings/messages only (env.h OWNERSHIP RULE) ...
 *       return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REPLY, out);
 *   }
 *
 *   int main (int argc, char **argv)
 *   {
 *       int rc;
 *       svc_t *svc = svc_new ("report-service", argc, argv, &rc);
 *       if (!svc) return rc;                        // usage/config/bind error, or --help
 *       const char *db;
 *       if (cfg_require (svc_cfg (svc), "report_service.db", &db) != 0) {
 *           log_error ("config", "%s", cfg_error (svc_cfg (svc)));
 *           svc_destroy (&svc);
 *           return PROC_EXIT_CONFIG;
 *       }
 *       rs_engine_t *eng = rs_engine_new (db);      // domain object
 *       svc_on (svc, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, s_on_run_report, eng);
 *       svc_set_ready (svc, eng != NULL, eng ? "[+]db ok" : "[-]db failed");
 *       rc = svc_run (svc);                         // prints READY, blocks until SIGTERM
 *       svc_destroy (&svc);
 *       rs_engine_destroy (&eng);
 *       return rc;
 *   }
 * -------------------------------------------------------------------------
 *
 * Command line (svc_new): --config FILE, --endpoint EP, --set key=value
 * (repeatable; overrides env and file), --log-level LEVEL, --help, --version.
 * Anything else is a usage error (exit PROC_EXIT_USAGE).
 *
 * Configuration keys (cfg.h: env COPILOT_<KEY upper, dots → '_'> wins over
 * the file; the service KEY is the name with '-' → '_', e.g. report_service):
 *   run_dir                 COPILOT_RUN_DIR, default /tmp/copilot-<uid>
 *                           (created 0700; holds the default ipc sockets)
 *   <key>.endpoint          COPILOT_REPORT_SERVICE_ENDPOINT etc.; default
 *                           ipc://<run_dir>/<name>.sock; --endpoint overrides
 *   bus.pub_endpoint        COPILOT_BUS_PUB_ENDPOINT, default ipc://<run_dir>/bus-pub.sock
 *                           (publishers connect; the event bus binds its XSUB)
 *   bus.sub_endpoint        COPILOT_BUS_SUB_ENDPOINT, default ipc://<run_dir>/bus-sub.sock
 *                           (subscribers connect; the event bus binds its XPUB)
 *   log.level               COPILOT_LOG_LEVEL, debug|info|warn|error, default info
 *   <key>.drain_ms          grace period for in-flight work on SIGTERM, default 500
 *   curve.enabled           COPILOT_CURVE_ENABLED, default false: CURVE encryption +
 *                           ZAP authentication on every bus socket of the daemon
 *                           (server, clients, publisher, subscriber). Keys:
 *                           curve.server_secret / <key>.curve_server_secret,
 *                           curve.server_public / <target>.curve_server_public,
 *                           curve.client_secret (+ curve.client_public),
 *                           curve.allowed_clients, curve.allowed_clients_file —
 *                           all documented in bus_curve.h and deploy/README.md.
 *                           An incomplete or invalid CURVE config is a config
 *                           error (exit PROC_EXIT_CONFIG, message names the key,
 *                           never the key material).
 *
 * Readiness: svc_run prints exactly one line "READY <name> <endpoint>\n" on
 * stdout (flushed) once the server is bound AND the daemon is ready (ready
 * defaults to true; call svc_set_ready(svc, false, ...) before svc_run to
 * delay it until your index/DB is loaded). Tests wait for that line.
 *
 * Built-in RPCs (answered for every daemon unless overridden with svc_on):
 *   Ping    → PingReply{service, version, uptime_ms, pid, ready, detail}
 *   Metrics → MetricsReply{text = Prometheus exposition of metrics_global()}
 * Any body without a handler → Error{ERROR_UNIMPLEMENTED, "<name> does not
 * implement <body> yet"}. A request whose deadline passed →
 * Error{ERROR_DEADLINE_EXCEEDED} without running the handler. While draining
 * → Error{ERROR_UNAVAILABLE}. Per-request metrics: see bus.h.
 *
 * Shutdown (svc_run): SIGTERM/SIGINT → on_stop hooks → server draining,
 * subscriber closed, publishers send a final heartbeat → wait until deferred
 * requests and svc_hold() counts reach 0 or <key>.drain_ms passes →
 * on_close hooks → close uv handles and zmq sockets (LINGER 0) → zmq context
 * term → loop closed → returns PROC_EXIT_OK (PROC_EXIT_DRAIN_TIMEOUT if work
 * was abandoned). A second signal exits at once (runtime.h).
 *
 * Threading: everything runs on the thread that calls svc_run (the loop
 * thread). Handlers must not block for long; a synchronous svc_call blocks
 * the loop for at most its timeout (acceptable for fan-out daemons such as
 * prompt-builder; use svc_send + svc_defer to stay asynchronous).
 */
#ifndef COPILOT_SVC_H
#define COPILOT_SVC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "bus.h"
#include "cfg.h"
#include "env.h"
#include "log.h"
#include "metrics.h"
#include "pubsub.h"
#include "runtime.h"

typedef struct _svc_t svc_t;

/* Request handler: fill `reply`'s body (env_set_body / env_set_error) and
 * return 0; return < 0 on failure (an Error body you set is sent, otherwise
 * ERROR_INTERNAL); return SVC_DEFERRED after svc_defer() to answer later. */
typedef int (*svc_handler_fn) (svc_t *svc, const env_t *req, env_t *reply, void *arg);
#define SVC_DEFERRED BUS_DEFERRED

/* Event handler for svc_subscribe. `event` is borrowed: valid during the call
 * only (svc frees it after every matching handler ran). */
typedef void (*svc_event_fn) (svc_t *svc, const char *topic, const env_t *event, void *arg);
/* Timer / lifecycle hook callback. */
typedef void (*svc_fn) (svc_t *svc, void *arg);

/* Parses argv, loads config (file + env), initialises logging with `name`,
 * installs signal handling (proc_init), creates the zmq context and loop and
 * binds the server endpoint. Returns NULL and sets *exit_code (PROC_EXIT_OK
 * after --help/--version, PROC_EXIT_USAGE, PROC_EXIT_CONFIG, PROC_EXIT_BIND,
 * PROC_EXIT_FAILURE) after printing the reason on stderr. */
svc_t *svc_new (const char *name, int argc, char **argv, int *exit_code);
/* Releases everything still open (safe after svc_run, or without running).
 * NULL-safe; sets *self_p = NULL. */
void svc_destroy (svc_t **self_p);

/* Registers the handler for one body case (replaces a previous one, including
 * the built-in Ping/Metrics). 0 or BUS_E_INVALID. */
int svc_on (svc_t *self, int body_case, svc_handler_fn fn, void *arg);

/* Inside a handler only: takes the current request out of the server so it
 * can be answered later with bus_request_reply(&rq, reply) (then free your
 * reply with env_free). Return SVC_DEFERRED from the handler. Drain waits
 * for deferred requests. NULL when called outside a handler. */
bus_request_t *svc_defer (svc_t *self);

/* Publishes `event` (not consumed) on `topic` through the event bus
 * (pubsub_publish: per-family stream, seq, heartbeats). The publisher socket
 * is created on first use. 0 or a BUS_E_* code. */
int svc_publish (svc_t *self, const char *topic, env_t *event);
/* Announces a topic family early so heartbeats carry it before the first
 * event (pubsub_pub_declare). */
int svc_declare_family (svc_t *self, const char *family);
/* Subscribes a topic prefix on the event bus; `fn` runs on the loop thread
 * for each matching event. Every handler whose prefix matches is called. */
int svc_subscribe (svc_t *self, const char *prefix, svc_event_fn fn, void *arg);

/* Readiness reported by Ping (and the READY line, see above). `detail` is
 * copied (NULL = ""). */
void svc_set_ready (svc_t *self, bool ready, const char *detail);
bool svc_ready (svc_t *self);

/* Repeating timer on the loop: first run after first_ms, then every
 * repeat_ms (0 = once). Returns a timer id > 0, or BUS_E_NOMEM/BUS_E_INVALID. */
int svc_add_timer (svc_t *self, uint64_t first_ms, uint64_t repeat_ms, svc_fn fn, void *arg);
/* Cancels a timer by id. 0 or BUS_E_INVALID (unknown id). */
int svc_cancel_timer (svc_t *self, int timer_id);

/* Lifecycle hooks: on_stop runs when the drain starts (stop accepting your
 * own work, e.g. close an HTTP listener); on_close runs after the drain, before
 * svc closes its sockets and the zmq context (close YOUR zmq sockets and uv
 * handles here). Several hooks run in registration order. */
int svc_on_stop (svc_t *self, svc_fn fn, void *arg);
int svc_on_close (svc_t *self, svc_fn fn, void *arg);
/* Extra in-flight work the drain waits for (e.g. HTTP requests). */
void svc_hold (svc_t *self);
void svc_release (svc_t *self);

/* ---- calling other daemons --------------------------------------------- */

/* Synchronous call to daemon `service` (endpoint resolved with
 * svc_endpoint_of, client cached): blocks up to timeout_ms. Returns as
 * bus_client_call: *reply_out owns the reply or a local Error envelope. */
int svc_call (svc_t *self, const char *service, env_t *req, env_t **reply_out, int timeout_ms,
              unsigned flags);
/* Asynchronous call; `cb` runs on the loop thread (bus_reply_fn rules). */
int svc_send (svc_t *self, const char *service, env_t *req, int timeout_ms, unsigned flags,
              bus_reply_fn cb, void *arg);
/* The cached client for `service`, attached to the loop (NULL on failure). */
bus_client_t *svc_client (svc_t *self, const char *service);

/* ---- run ------------------------------------------------------------------ */

/* Prints READY when ready, runs the loop until SIGTERM/SIGINT or svc_stop,
 * drains, closes, and returns a PROC_EXIT_* code. Call once. */
int svc_run (svc_t *self);
/* Requests a stop from code (same path as SIGTERM). */
void svc_stop (svc_t *self);
bool svc_stopping (svc_t *self);

/* ---- accessors ------------------------------------------------------------ */
cfg_t *svc_cfg (svc_t *self);
metrics_t *svc_metrics (svc_t *self);         /* metrics_global() */
uv_loop_t *svc_loop (svc_t *self);
void *svc_zctx (svc_t *self);
const char *svc_name (svc_t *self);
const char *svc_endpoint (svc_t *self);       /* resolved bound endpoint */
bus_server_t *svc_server (svc_t *self);
int64_t svc_uptime_ms (svc_t *self);

/* ---- endpoint resolution (usable without a svc, e.g. by the CLI) --------- */

/* run_dir as above into out. 0 or -1 (does not fit). */
int svc_run_dir (cfg_t *cfg, char *out, size_t size);
/* Endpoint of daemon `service` ("report-service") per the keys above. 0 or -1. */
int svc_endpoint_of (cfg_t *cfg, const char *service, char *out, size_t size);
/* Event-bus endpoints (either out may be NULL). 0 or -1. */
int svc_bus_endpoints (cfg_t *cfg, char *pub_out, char *sub_out, size_t size);
/* Config key prefix of a service: "report-service" → "report_service". */
int svc_key (const char *service, char *out, size_t size);

#endif
