/* svc.c — the daemon scaffold (contract and usage example in svc.h).
 *
 * Structure: one svc_t per process, owning
 *   - cfg (file + COPILOT_* env + --set overrides) and log_init;
 *   - one zmq context and one uv loop (embedded);
 *   - the bus_server, attached to the loop (bus_uv design); every body case
 *     is routed through one trampoline to svc's own handler table, which
 *     starts with the built-in Ping and Metrics handlers;
 *   - lazily: an event-bus publisher and subscriber, cached bus clients to
 *     other daemons (all attached to the loop);
 *   - a list of timers (uv_timer_t embedded first in each entry, freed by
 *     its close callback) and the lifecycle hooks;
 *   - a uv_poll on runtime.c's self-pipe: signals only set a flag there, the
 *     real stop work runs here on the loop thread.
 *
 * Lifecycle: svc_new binds (so bind errors surface before READY) → svc_run
 * prints "READY <name> <endpoint>" once bound and ready, runs the loop →
 * SIGTERM: s_begin_stop (hooks, server draining, subscriber closed, final
 * heartbeat, drain deadline) → a 5 ms drain check timer until deferred
 * requests and holds reach 0 or the grace period ends → s_shutdown (close
 * hooks, timers, clients, publisher, server, signal watcher) → the loop runs
 * out of handles and uv_run returns → zmq_ctx_term → uv_loop_close.
 *
 * Threading: everything on the thread that runs svc_run.
 */
#include "svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "buf.h"
#include "bus_curve.h"
#include "bus_internal.h"
#include "clock.h"
#include "str.h"

#ifndef COPILOT_VERSION
#define COPILOT_VERSION "0.0.0"
#endif

#define SVC_MAX_CASE 128
#define SVC_METRICS_CAP (4 * 1024 * 1024)
#define SVC_MAX_SETS 64
#define SVC_DRAIN_CHECK_MS 5

typedef struct _timer_entry_t timer_entry_t;
struct _timer_entry_t {
    uv_timer_t timer;   /* first member: freed through the handle pointer */
    svc_t *svc;
    timer_entry_t *next;
    int id;
    bool repeat;
    bool cancelled;
    svc_fn fn;
    void *arg;
};

typedef struct _sub_entry_t sub_entry_t;
struct _sub_entry_t {
    sub_entry_t *next;
    char *prefix;
    svc_event_fn fn;
    void *arg;
};

typedef struct _client_entry_t client_entry_t;
struct _client_entry_t {
    client_entry_t *next;
    char *service;
    bus_client_t *client;
};

typedef struct _hook_t hook_t;
struct _hook_t {
    hook_t *next;
    svc_fn fn;
    void *arg;
};

struct _svc_t {
    char *name;
    char key[96];
    char *config_path;
    cfg_t *cfg;
    void *zctx;
    uv_loop_t loop;
    bool loop_ok;
    bus_server_t *server;
    char endpoint[256];
    pubsub_pub_t *pub;
    pubsub_sub_t *sub;
    struct {
        svc_handler_fn fn;
        void *arg;
    } handlers[SVC_MAX_CASE];
    sub_entry_t *subs;
    timer_entry_t *timers;
    int next_timer_id;
    client_entry_t *clients;
    hook_t *on_stop, *on_close;
    bool ready;
    char *ready_detail;
    bool ready_printed;
    bool running;
    bool stopping;
    bool shut;
    int holds;
    int64_t drain_ms;
    int64_t start_mono_ms;
    int exit_code;
    uv_poll_t sig_poll;
    bool sig_poll_open;
    uv_timer_t drain_timer;
    bool drain_timer_open;
    metric_t *m_ready, *m_rss;
};

/* ---- endpoint resolution ---------------------------------------------------- */

int svc_key (const char *service, char *out, size_t size)
{
    if (!service || str_copy (out, size, service) != 0)
        return -1;
    for (char *p = out; *p; p++)
        if (*p == '-')
            *p = '_';
    return 0;
}

int svc_run_dir (cfg_t *cfg, char *out, size_t size)
{
    const char *v = cfg ? cfg_get (cfg, "run_dir") : NULL;
    if (v && v[0])
        return str_copy (out, size, v);
    return str_fmt (out, size, "/tmp/copilot-%u", (unsigned) getuid ());
}

int svc_endpoint_of (cfg_t *cfg, const char *service, char *out, size_t size)
{
    char key[128], k[96];
    if (svc_key (service, k, sizeof k) != 0 || str_fmt (key, sizeof key, "%s.endpoint", k) != 0)
        return -1;
    const char *v = cfg ? cfg_get (cfg, key) : NULL;
    if (v && v[0])
        return str_copy (out, size, v);
    char dir[200];
    if (svc_run_dir (cfg, dir, sizeof dir) != 0)
        return -1;
    return str_fmt (out, size, "ipc://%s/%s.sock", dir, service);
}

int svc_bus_endpoints (cfg_t *cfg, char *pub_out, char *sub_out, size_t size)
{
    char dir[200];
    if (svc_run_dir (cfg, dir, sizeof dir) != 0)
        return -1;
    const char *pv = cfg ? cfg_get (cfg, "bus.pub_endpoint") : NULL;
    const char *sv = cfg ? cfg_get (cfg, "bus.sub_endpoint") : NULL;
    if (pub_out) {
        int rc = pv && pv[0] ? str_copy (pub_out, size, pv)
                             : str_fmt (pub_out, size, "ipc://%s/bus-pub.sock", dir);
        if (rc != 0)
            return -1;
    }
    if (sub_out) {
        int rc = sv && sv[0] ? str_copy (sub_out, size, sv)
                             : str_fmt (sub_out, size, "ipc://%s/bus-sub.sock", dir);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* ---- built-in handlers ------------------------------------------------------ */

static int s_on_ping (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) req;
    (void) arg;
    Copilot__V1__PingReply *r = env_msg_new (&copilot__v1__ping_reply__descriptor);
    if (!r)
        return -1;
    r->uptime_ms = svc_uptime_ms (svc);
    r->pid = (int32_t) getpid ();
    r->ready = svc->ready && !svc->stopping;
    if (env_set_str (&r->service, svc->name) != 0 || env_set_str (&r->version, COPILOT_VERSION) != 0
        || env_set_str (&r->detail, svc->ready_detail ? svc->ready_detail : "") != 0) {
        protobuf_c_message_free_unpacked (&r->base, NULL);
        return -1;
    }
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_PING_REPLY, r);
}

static void s_update_process_metrics (svc_t *svc)
{
    FILE *f = fopen ("/proc/self/statm", "r");
    if (!f)
        return;
    char line[128];
    if (fgets (line, sizeof line, f)) {
        char *end = NULL;
        errno = 0;
        strtoull (line, &end, 10);   /* total size: skipped */
        unsigned long long resident = end ? strtoull (end, NULL, 10) : 0;
        long page = sysconf (_SC_PAGESIZE);
        if (errno == 0 && svc->m_rss && page > 0)
            metric_set (svc->m_rss, (double) resident * (double) page);
    }
    fclose (f);
}

static int s_on_metrics (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) req;
    (void) arg;
    s_update_process_metrics (svc);
    buf_t *b = buf_new (SVC_METRICS_CAP);
    if (!b)
        return -1;
    int rc = metrics_render (metrics_global (), b);
    if (rc != 0) {
        buf_destroy (&b);
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED, NULL,
                       "metrics exposition larger than %d bytes", SVC_METRICS_CAP);
        return -1;
    }
    Copilot__V1__MetricsReply *r = env_msg_new (&copilot__v1__metrics_reply__descriptor);
    char *text = buf_detach (b);
    buf_destroy (&b);
    if (!r || !text) {
        free (text);
        if (r)
            protobuf_c_message_free_unpacked (&r->base, NULL);
        return -1;
    }
    r->text = text;
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_METRICS_REPLY, r);
}

static int s_trampoline (bus_server_t *srv, bus_request_t *rq, const env_t *req, env_t *reply,
                         void *arg)
{
    (void) srv;
    (void) rq;
    svc_t *svc = arg;
    int bc = (int) req->body_case;
    if (bc <= 0 || bc >= SVC_MAX_CASE || !svc->handlers[bc].fn) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED, NULL,
                       "%s does not implement %s yet", svc->name, env_body_name (bc));
        return -1;
    }
    return svc->handlers[bc].fn (svc, req, reply, svc->handlers[bc].arg);
}

int svc_on (svc_t *self, int body_case, svc_handler_fn fn, void *arg)
{
    if (!self || body_case <= 0 || body_case >= SVC_MAX_CASE || !fn)
        return BUS_E_INVALID;
    int rc = bus_server_on (self->server, body_case, s_trampoline, self);
    if (rc != BUS_OK)
        return rc;
    self->handlers[body_case].fn = fn;
    self->handlers[body_case].arg = arg;
    return BUS_OK;
}

bus_request_t *svc_defer (svc_t *self)
{
    bus_request_t *rq = bus__current_request (self ? self->server : NULL);
    if (rq)
        bus_request_defer (rq);
    return rq;
}

/* ---- command line ----------------------------------------------------------- */

static void s_usage (FILE *out, const char *name)
{
    char k[96];
    svc_key (name, k, sizeof k);
    fprintf (out,
             "usage: %s [--config FILE] [--endpoint ENDPOINT] [--set key=value]... "
             "[--log-level LEVEL] [--help] [--version]\n"
             "  --config FILE      key = value configuration file (COPILOT_* env wins)\n"
             "  --endpoint EP      request endpoint (config %s.endpoint)\n"
             "  --set key=value    override one configuration key\n"
             "  --log-level LEVEL  debug|info|warn|error (config log.level)\n"
             "On start-up it prints 'READY %s <endpoint>' on stdout once serving.\n",
             name, k, name);
}

/* Value of "--opt VALUE" or "--opt=VALUE" at argv[*i]; NULL when argv[*i]
 * is not that option. Sets *missing when the value is absent. */
static const char *s_opt (int argc, char **argv, int *i, const char *opt, bool *missing)
{
    size_t n = strlen (opt);
    const char *a = argv[*i];
    if (strncmp (a, opt, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    (*i)++;
    return argv[*i];
}

/* ---- construction ----------------------------------------------------------- */

static void s_on_signal_pipe (uv_poll_t *h, int status, int events);

static void s_print_ready (svc_t *self)
{
    if (self->ready_printed || !self->running || !self->ready || self->stopping)
        return;
    self->ready_printed = true;
    fprintf (stdout, "READY %s %s\n", self->name, self->endpoint);
    fflush (stdout);
    log_info ("svc.ready", "%s serving on %s", self->name, self->endpoint);
}

svc_t *svc_new (const char *name, int argc, char **argv, int *exit_code)
{
    int dummy;
    if (!exit_code)
        exit_code = &dummy;
    *exit_code = PROC_EXIT_FAILURE;
    if (!name || !name[0])
        return NULL;
    const char *config = NULL, *endpoint = NULL, *level_flag = NULL;
    const char *sets[SVC_MAX_SETS];
    int nsets = 0;
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if (strcmp (argv[i], "--help") == 0 || strcmp (argv[i], "-h") == 0) {
            s_usage (stdout, name);
            *exit_code = PROC_EXIT_OK;
            return NULL;
        }
        if (strcmp (argv[i], "--version") == 0) {
            fprintf (stdout, "%s %s\n", name, COPILOT_VERSION);
            *exit_code = PROC_EXIT_OK;
            return NULL;
        }
        if ((v = s_opt (argc, argv, &i, "--config", &missing)))
            config = v;
        else if ((v = s_opt (argc, argv, &i, "--endpoint", &missing)))
            endpoint = v;
        else if ((v = s_opt (argc, argv, &i, "--log-level", &missing)))
            level_flag = v;
        else if ((v = s_opt (argc, argv, &i, "--set", &missing))) {
            if (nsets == SVC_MAX_SETS || !strchr (v, '=') || v[0] == '=') {
                fprintf (stderr, "%s: --set expects key=value (at most %d), got '%s'\n", name,
                         SVC_MAX_SETS, v);
                *exit_code = PROC_EXIT_USAGE;
                return NULL;
            }
            sets[nsets++] = v;
        } else {
            if (missing)
                fprintf (stderr, "%s: option %s needs a value\n", name, argv[i]);
            else
                fprintf (stderr, "%s: unknown argument '%s'\n", name, argv[i]);
            s_usage (stderr, name);
            *exit_code = PROC_EXIT_USAGE;
            return NULL;
        }
    }

    svc_t *self = calloc (1, sizeof *self);
    if (!self || !(self->name = str_dup (name)) || svc_key (name, self->key, sizeof self->key) != 0) {
        fprintf (stderr, "%s: out of memory\n", name);
        if (self)
            free (self->name);
        free (self);
        return NULL;
    }
    self->start_mono_ms = clock_mono_ms ();
    self->ready = true;
    self->exit_code = PROC_EXIT_OK;
    if (config && !(self->config_path = str_dup (config)))
        goto oom;
    const char *err = NULL;
    self->cfg = cfg_new (config, &err);
    if (!self->cfg) {
        fprintf (stderr, "%s: configuration: %s\n", name, err ? err : "cannot load");
        *exit_code = PROC_EXIT_CONFIG;
        goto fail;
    }
    for (int i = 0; i < nsets; i++) {
        const char *eq = strchr (sets[i], '=');
        char key[128];
        size_t kn = (size_t) (eq - sets[i]);
        int src = -1;
        if (kn < sizeof key) {
            memcpy (key, sets[i], kn);
            key[kn] = '\0';
            src = cfg_set (self->cfg, key, eq + 1);
        }
        if (src != 0) {
            fprintf (stderr, "%s: --set %s: %s\n", name, sets[i], cfg_error (self->cfg));
            *exit_code = PROC_EXIT_USAGE;
            goto fail;
        }
    }
    char key[128];
    str_fmt (key, sizeof key, "%s.endpoint", self->key);
    if (endpoint && cfg_set (self->cfg, key, endpoint) != 0) {
        fprintf (stderr, "%s: --endpoint: %s\n", name, cfg_error (self->cfg));
        *exit_code = PROC_EXIT_USAGE;
        goto fail;
    }
    const char *level_text = level_flag;
    if (!level_text && cfg_str (self->cfg, "log.level", "info", &level_text) != 0)
        level_text = "?";
    log_level_t level;
    if (log_level_parse (level_text, &level) != 0) {
        fprintf (stderr, "%s: %s='%s': expected one of debug, info, warn, error\n", name,
                 level_flag ? "--log-level" : "log.level (COPILOT_LOG_LEVEL)", level_text);
        *exit_code = level_flag ? PROC_EXIT_USAGE : PROC_EXIT_CONFIG;
        goto fail;
    }
    log_init (name, level);
    str_fmt (key, sizeof key, "%s.drain_ms", self->key);
    if (cfg_int (self->cfg, key, 500, 0, 600000, &self->drain_ms) != 0) {
        log_error ("svc.config", "%s", cfg_error (self->cfg));
        *exit_code = PROC_EXIT_CONFIG;
        goto fail;
    }
    char ep[256];
    if (svc_endpoint_of (self->cfg, name, ep, sizeof ep) != 0) {
        log_error ("svc.config", "endpoint for %s does not fit (run_dir too long?)", name);
        *exit_code = PROC_EXIT_CONFIG;
        goto fail;
    }
    /* CURVE (bus_curve.h): validated before anything binds, installed on the
     * context right after it exists so the server socket below is secured
     * and the ZAP handler is bound before it. */
    bus_curve_t *curve = NULL;
    char curve_err[512];
    if (bus_curve_from_cfg (self->cfg, name, &curve, curve_err, sizeof curve_err) != 0) {
        log_error ("svc.config", "%s", curve_err);
        *exit_code = PROC_EXIT_CONFIG;
        goto fail;
    }
    if (proc_init () != 0) {
        bus_curve_destroy (&curve);
        log_error ("svc.signals", "cannot install signal handlers: %s", strerror (errno));
        goto fail;
    }
    self->zctx = proc_zmq_ctx_new ();
    if (!self->zctx) {
        bus_curve_destroy (&curve);
        log_error ("svc.zmq", "cannot create zmq context: %s", zmq_strerror (errno));
        goto fail;
    }
    if (curve) {
        size_t nallowed = bus_curve_allowed_count (curve);
        if (bus_curve_install (self->zctx, &curve) != 0) {
            bus_curve_destroy (&curve);
            log_error ("svc.curve", "%s", bus_last_error ());
            goto fail;
        }
        log_info ("svc.curve", "CURVE encryption on; %zu client key(s) allowed by the ZAP handler",
                  nallowed);
    }
    if (uv_loop_init (&self->loop) != 0) {
        log_error ("svc.uv", "cannot create the event loop");
        goto fail;
    }
    self->loop_ok = true;
    self->server = bus_server_new (self->zctx, ep, name);
    if (!self->server) {
        log_error ("svc.bind", "%s", bus_last_error ());
        *exit_code = PROC_EXIT_BIND;
        goto fail;
    }
    str_copy (self->endpoint, sizeof self->endpoint, bus_server_endpoint (self->server));
    if (bus_server_attach_uv (self->server, &self->loop) != 0)
        goto fail;
    svc_on (self, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, s_on_ping, NULL);
    svc_on (self, COPILOT__V1__ENVELOPE__BODY_METRICS_REQUEST, s_on_metrics, NULL);
    /* Bodies without a handler are answered UNIMPLEMENTED by bus_server. */
    if (uv_poll_init (&self->loop, &self->sig_poll, proc_wakeup_fd ()) != 0)
        goto fail;
    self->sig_poll_open = true;
    self->sig_poll.data = self;
    uv_poll_start (&self->sig_poll, UV_READABLE, s_on_signal_pipe);
    uv_timer_init (&self->loop, &self->drain_timer);
    self->drain_timer.data = self;
    self->drain_timer_open = true;

    char labels[256];
    bus__label (labels, sizeof labels, "service", name, "version", COPILOT_VERSION, NULL, NULL);
    metric_t *bi = metrics_gauge (metrics_global (), "copilot_build_info",
                                  "Always 1; labels carry the build version.", labels);
    if (bi)
        metric_set (bi, 1);
    bus__label (labels, sizeof labels, "service", name, NULL, NULL, NULL, NULL);
    metric_t *st = metrics_gauge (metrics_global (), "process_start_time_seconds",
                                  "Start time of the process since the Unix epoch.", labels);
    if (st)
        metric_set (st, (double) clock_wall_ms () / 1000.0);
    self->m_rss = metrics_gauge (metrics_global (), "process_resident_memory_bytes",
                                 "Resident memory size in bytes.", labels);
    self->m_ready = metrics_gauge (metrics_global (), "copilot_ready",
                                   "1 when the daemon reports ready.", labels);
    if (self->m_ready)
        metric_set (self->m_ready, 1);
    log_info ("svc.start", "%s %s pid %d bound %s", name, COPILOT_VERSION, (int) getpid (),
              self->endpoint);
    *exit_code = PROC_EXIT_OK;
    return self;
oom:
    fprintf (stderr, "%s: out of memory\n", name);
fail:
    if (*exit_code == PROC_EXIT_OK)
        *exit_code = PROC_EXIT_FAILURE;
    svc_destroy (&self);
    return NULL;
}

/* ---- stop / drain / shutdown ------------------------------------------------ */

static void s_run_hooks (svc_t *self, hook_t *h)
{
    for (; h; h = h->next)
        h->fn (self, h->arg);
}

static void s_free_handle (uv_handle_t *h)
{
    free (h);
}

/* Closes everything svc opened except the zmq context and the loop itself.
 * Idempotent. After it, the loop has no svc handles left. */
static void s_shutdown (svc_t *self)
{
    if (self->shut)
        return;
    self->shut = true;
    if (self->loop_ok)
        s_run_hooks (self, self->on_close);
    for (timer_entry_t *t = self->timers; t;) {
        timer_entry_t *next = t->next;
        uv_timer_stop (&t->timer);
        uv_close ((uv_handle_t *) &t->timer, s_free_handle);
        t = next;
    }
    self->timers = NULL;
    if (self->drain_timer_open) {
        uv_timer_stop (&self->drain_timer);
        uv_close ((uv_handle_t *) &self->drain_timer, NULL);
        self->drain_timer_open = false;
    }
    if (self->sig_poll_open) {
        uv_poll_stop (&self->sig_poll);
        uv_close ((uv_handle_t *) &self->sig_poll, NULL);
        self->sig_poll_open = false;
    }
    /* Clients first: completing their pending calls may answer deferred
     * requests, which needs the server still open. */
    while (self->clients) {
        client_entry_t *c = self->clients;
        self->clients = c->next;
        bus_client_destroy (&c->client);
        free (c->service);
        free (c);
    }
    pubsub_sub_destroy (&self->sub);
    pubsub_pub_destroy (&self->pub);
    bus_server_destroy (&self->server);
}

static void s_drain_check (uv_timer_t *t)
{
    svc_t *self = t->data;
    size_t inflight = self->server ? bus_server_inflight (self->server) : 0;
    if (inflight == 0 && self->holds <= 0) {
        log_info ("svc.drained", "in-flight work finished");
        s_shutdown (self);
        return;
    }
    if (proc_drain_remaining_ms () == 0) {
        log_warn ("svc.drain_timeout", "grace period of %lld ms ended with %zu request(s) and %d "
                  "hold(s) in flight", (long long) self->drain_ms, inflight, self->holds);
        self->exit_code = PROC_EXIT_DRAIN_TIMEOUT;
        s_shutdown (self);
        return;
    }
    uv_timer_start (&self->drain_timer, s_drain_check, SVC_DRAIN_CHECK_MS, 0);
}

static void s_begin_stop (svc_t *self)
{
    if (self->stopping)
        return;
    self->stopping = true;
    int sig = proc_stop_signal ();
    log_info ("svc.stopping", "stop requested (%s), draining up to %lld ms",
              sig ? strsignal (sig) : "by the program", (long long) self->drain_ms);
    proc_drain_begin (self->drain_ms);
    if (self->m_ready)
        metric_set (self->m_ready, 0);
    s_run_hooks (self, self->on_stop);
    if (self->server)
        bus_server_set_draining (self->server, true);
    pubsub_sub_destroy (&self->sub);
    if (self->pub)
        pubsub_pub_heartbeat (self->pub);
    s_drain_check (&self->drain_timer);
}

static void s_on_signal_pipe (uv_poll_t *h, int status, int events)
{
    (void) status;
    (void) events;
    svc_t *self = h->data;
    proc_drain_wakeup ();
    if (proc_reload_requested ()) {
        /* SIGHUP: re-read the log level from a fresh config snapshot. */
        const char *err = NULL;
        cfg_t *fresh = cfg_new (self->config_path, &err);
        const char *lv = NULL;
        log_level_t level;
        if (fresh && cfg_str (fresh, "log.level", "info", &lv) == 0 && log_level_parse (lv, &level) == 0) {
            log_set_level (level);
            log_info ("svc.reload", "log level now %s", lv);
        } else {
            log_warn ("svc.reload", "reload ignored: %s", fresh ? cfg_error (fresh) : err);
        }
        cfg_destroy (&fresh);
    }
    if (proc_stop_requested ())
        s_begin_stop (self);
}

void svc_stop (svc_t *self)
{
    (void) self;
    proc_request_stop ();
}

bool svc_stopping (svc_t *self)
{
    return self->stopping;
}

int svc_run (svc_t *self)
{
    if (!self || self->running || self->shut)
        return PROC_EXIT_FAILURE;
    self->running = true;
    s_print_ready (self);
    if (proc_stop_requested ())
        s_begin_stop (self);
    uv_run (&self->loop, UV_RUN_DEFAULT);
    /* uv_run returns when no handle is active: after s_shutdown, or if a
     * daemon stopped its own handles. Make sure everything is closed. */
    s_shutdown (self);
    uv_run (&self->loop, UV_RUN_DEFAULT);
    if (self->zctx)
        bus_curve_uninstall (self->zctx);
    proc_zmq_ctx_term (&self->zctx);
    int rc = uv_loop_close (&self->loop);
    if (rc != 0) {
        log_warn ("svc.loop_busy", "handles left open at exit: %s", uv_strerror (rc));
    } else {
        self->loop_ok = false;
    }
    log_info ("svc.stopped", "exit %d (%s)", self->exit_code, proc_exit_name (self->exit_code));
    return self->exit_code;
}

static void s_walk_close (uv_handle_t *h, void *arg)
{
    (void) arg;
    if (!uv_is_closing (h))
        uv_close (h, NULL);
}

void svc_destroy (svc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    svc_t *self = *self_p;
    *self_p = NULL;
    if (self->loop_ok) {
        s_shutdown (self);
        uv_run (&self->loop, UV_RUN_DEFAULT);
        if (uv_loop_close (&self->loop) == UV_EBUSY) {
            /* A daemon left a handle open: close it rather than leak the loop. */
            uv_walk (&self->loop, s_walk_close, NULL);
            uv_run (&self->loop, UV_RUN_DEFAULT);
            uv_loop_close (&self->loop);
        }
        self->loop_ok = false;
    } else {
        s_shutdown (self);
    }
    if (self->zctx)
        bus_curve_uninstall (self->zctx);
    proc_zmq_ctx_term (&self->zctx);
    while (self->subs) {
        sub_entry_t *s = self->subs;
        self->subs = s->next;
        free (s->prefix);
        free (s);
    }
    for (hook_t *h = self->on_stop; h;) {
        hook_t *n = h->next;
        free (h);
        h = n;
    }
    for (hook_t *h = self->on_close; h;) {
        hook_t *n = h->next;
        free (h);
        h = n;
    }
    cfg_destroy (&self->cfg);
    free (self->ready_detail);
    free (self->config_path);
    free (self->name);
    free (self);
}

/* ---- pub/sub ---------------------------------------------------------------- */

static pubsub_pub_t *s_pub (svc_t *self)
{
    if (self->pub || self->stopping)
        return self->pub;
    char pub_ep[256];
    if (svc_bus_endpoints (self->cfg, pub_ep, NULL, sizeof pub_ep) != 0)
        return NULL;
    self->pub = pubsub_pub_new (self->zctx, pub_ep, self->name);
    if (!self->pub) {
        log_error ("svc.publisher", "%s", bus_last_error ());
        return NULL;
    }
    pubsub_pub_attach_uv (self->pub, &self->loop);
    return self->pub;
}

int svc_publish (svc_t *self, const char *topic, env_t *event)
{
    pubsub_pub_t *p = s_pub (self);
    if (!p)
        return self->stopping ? BUS_E_CLOSED : BUS_E_ZMQ;
    return pubsub_publish (p, topic, event);
}

int svc_declare_family (svc_t *self, const char *family)
{
    pubsub_pub_t *p = s_pub (self);
    if (!p)
        return self->stopping ? BUS_E_CLOSED : BUS_E_ZMQ;
    return pubsub_pub_declare (p, family);
}

static void s_on_event (pubsub_sub_t *sub, const char *topic, env_t *env, void *arg)
{
    (void) sub;
    svc_t *self = arg;
    for (sub_entry_t *s = self->subs; s; s = s->next)
        if (str_starts_with (topic, s->prefix))
            s->fn (self, topic, env, s->arg);
    env_free (env);
}

int svc_subscribe (svc_t *self, const char *prefix, svc_event_fn fn, void *arg)
{
    if (!self || !prefix || !fn)
        return BUS_E_INVALID;
    if (self->stopping)
        return BUS_E_CLOSED;
    if (!self->sub) {
        char sub_ep[256];
        if (svc_bus_endpoints (self->cfg, NULL, sub_ep, sizeof sub_ep) != 0)
            return BUS_E_INVALID;
        self->sub = pubsub_sub_new (self->zctx, sub_ep, self->name, s_on_event, self);
        if (!self->sub) {
            log_error ("svc.subscriber", "%s", bus_last_error ());
            return BUS_E_ZMQ;
        }
        pubsub_sub_attach_uv (self->sub, &self->loop);
    }
    sub_entry_t *e = calloc (1, sizeof *e);
    if (!e || !(e->prefix = str_dup (prefix))) {
        free (e);
        return BUS_E_NOMEM;
    }
    int rc = pubsub_sub_subscribe (self->sub, prefix);
    if (rc != BUS_OK) {
        free (e->prefix);
        free (e);
        return rc;
    }
    e->fn = fn;
    e->arg = arg;
    sub_entry_t **tail = &self->subs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = e;
    return BUS_OK;
}

/* ---- readiness, timers, hooks ---------------------------------------------- */

void svc_set_ready (svc_t *self, bool ready, const char *detail)
{
    self->ready = ready;
    char *d = str_dup (detail ? detail : "");
    if (d) {
        free (self->ready_detail);
        self->ready_detail = d;
    }
    if (self->m_ready)
        metric_set (self->m_ready, ready ? 1 : 0);
    s_print_ready (self);
}

bool svc_ready (svc_t *self)
{
    return self->ready && !self->stopping;
}

static void s_on_timer (uv_timer_t *t)
{
    timer_entry_t *te = (timer_entry_t *) t;
    te->fn (te->svc, te->arg);
    if (!te->repeat && !te->cancelled)
        svc_cancel_timer (te->svc, te->id);
}

int svc_add_timer (svc_t *self, uint64_t first_ms, uint64_t repeat_ms, svc_fn fn, void *arg)
{
    if (!self || !fn || self->shut)
        return BUS_E_INVALID;
    timer_entry_t *te = calloc (1, sizeof *te);
    if (!te)
        return BUS_E_NOMEM;
    if (uv_timer_init (&self->loop, &te->timer) != 0) {
        free (te);
        return BUS_E_NOMEM;
    }
    te->svc = self;
    te->id = ++self->next_timer_id;
    te->repeat = repeat_ms > 0;
    te->fn = fn;
    te->arg = arg;
    te->next = self->timers;
    self->timers = te;
    uv_timer_start (&te->timer, s_on_timer, first_ms, repeat_ms);
    return te->id;
}

int svc_cancel_timer (svc_t *self, int timer_id)
{
    for (timer_entry_t **pp = &self->timers; *pp; pp = &(*pp)->next) {
        timer_entry_t *te = *pp;
        if (te->id != timer_id)
            continue;
        *pp = te->next;
        te->cancelled = true;
        uv_timer_stop (&te->timer);
        uv_close ((uv_handle_t *) &te->timer, s_free_handle);
        return BUS_OK;
    }
    return BUS_E_INVALID;
}

static int s_add_hook (hook_t **list, svc_fn fn, void *arg)
{
    if (!fn)
        return BUS_E_INVALID;
    hook_t *h = calloc (1, sizeof *h);
    if (!h)
        return BUS_E_NOMEM;
    h->fn = fn;
    h->arg = arg;
    while (*list)
        list = &(*list)->next;
    *list = h;
    return BUS_OK;
}

int svc_on_stop (svc_t *self, svc_fn fn, void *arg)
{
    return s_add_hook (&self->on_stop, fn, arg);
}

int svc_on_close (svc_t *self, svc_fn fn, void *arg)
{
    return s_add_hook (&self->on_close, fn, arg);
}

void svc_hold (svc_t *self)
{
    self->holds++;
}

void svc_release (svc_t *self)
{
    if (self->holds > 0)
        self->holds--;
}

/* ---- calling other daemons -------------------------------------------------- */

bus_client_t *svc_client (svc_t *self, const char *service)
{
    if (!self || !service || self->shut)
        return NULL;
    for (client_entry_t *c = self->clients; c; c = c->next)
        if (strcmp (c->service, service) == 0)
            return c->client;
    char ep[256];
    if (svc_endpoint_of (self->cfg, service, ep, sizeof ep) != 0)
        return NULL;
    client_entry_t *c = calloc (1, sizeof *c);
    if (!c || !(c->service = str_dup (service))) {
        free (c);
        return NULL;
    }
    c->client = bus_client_new (self->zctx, ep, self->name, service);
    if (!c->client || bus_client_attach_uv (c->client, &self->loop) != 0) {
        log_error ("svc.client", "cannot create client for %s at %s: %s", service, ep,
                   bus_last_error ());
        bus_client_destroy (&c->client);
        free (c->service);
        free (c);
        return NULL;
    }
    c->next = self->clients;
    self->clients = c;
    return c->client;
}

int svc_call (svc_t *self, const char *service, env_t *req, env_t **reply_out, int timeout_ms,
              unsigned flags)
{
    if (reply_out)
        *reply_out = NULL;
    bus_client_t *c = svc_client (self, service);
    if (!c)
        return BUS_E_INVALID;
    return bus_client_call (c, req, reply_out, timeout_ms, flags);
}

int svc_send (svc_t *self, const char *service, env_t *req, int timeout_ms, unsigned flags,
              bus_reply_fn cb, void *arg)
{
    bus_client_t *c = svc_client (self, service);
    if (!c)
        return BUS_E_INVALID;
    return bus_client_send (c, req, timeout_ms, flags, cb, arg);
}

/* ---- accessors ---------------------------------------------------------------- */

cfg_t *svc_cfg (svc_t *self)
{
    return self->cfg;
}

metrics_t *svc_metrics (svc_t *self)
{
    (void) self;
    return metrics_global ();
}

uv_loop_t *svc_loop (svc_t *self)
{
    return &self->loop;
}

void *svc_zctx (svc_t *self)
{
    return self->zctx;
}

const char *svc_name (svc_t *self)
{
    return self->name;
}

const char *svc_endpoint (svc_t *self)
{
    return self->endpoint;
}

bus_server_t *svc_server (svc_t *self)
{
    return self->server;
}

int64_t svc_uptime_ms (svc_t *self)
{
    return clock_mono_ms () - self->start_mono_ms;
}
