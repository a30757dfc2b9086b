/* main.c — the report-service daemon (svc.h scaffold around rs_engine).
 *
 * RPCs: ListReports, RunReport, EntityFacts, ListAlerts (plus the built-in
 * Ping and Metrics). The telemetry DB is opened read-only from config key `db.path`
 * (env COPILOT_DB_PATH); until it opens the daemon answers UNAVAILABLE and
 * retries every report_service.retry_ms.
 *
 * Events: on data.changed.v1 for our database the result cache is dropped,
 * then the anomaly detector runs and every anomaly not published before is
 * published once on alert.v1.<severity>. Published alert ids, with the
 * publisher id and sequence number the bus stamped, are kept in the
 * service's own SQLite state file (report_service.state_path, default
 * <run_dir>/report-service-state.db), so a restart never republishes. The
 * same detection runs once shortly after start-up (report_service.alert_delay_ms,
 * giving the PUB socket time to connect). A PUB socket cannot know who
 * listened, so each published alert is also stored whole (alert_json) and
 * ListAlerts returns them newest first: a consumer that subscribed late (the
 * gateway's alerts panel) reads what it missed there.
 *
 * Threading (the loop never computes a report):
 *   - The loop thread owns the bus server, the event-bus sockets, the state
 *     file, the result cache and one rs_engine ("loop engine") used only for
 *     cheap things: ListReports (registry), the current data version (a stat
 *     plus PRAGMA data_version) and readiness.
 *   - report_service.workers threads (default 2) each own a private
 *     rs_engine, i.e. a private read-only SQLite connection, opened lazily on
 *     the worker. They run RunReport / EntityFacts computations and the
 *     anomaly detector.
 *   - RunReport / EntityFacts: the loop first looks in its result cache,
 *     keyed by (kind, report or entity, parameters as sent, data version;
 *     report_service.cache_entries entries, LRU); a hit is answered at once.
 *     Otherwise the request is deferred (svc_defer) and attached to a job.
 *     Jobs are coalesced: a request whose key (kind, report/entity,
 *     parameters, data version, data generation) equals a job still in
 *     flight waits for that job instead of starting another computation
 *     (copilot_report_computations_total counts computations,
 *     copilot_report_coalesced_total the requests that joined one).
 *   - A worker pushes the finished job on a done list and wakes the loop
 *     with a uv_async_t; the loop builds the replies (bus objects belong to
 *     the loop) for every waiting request, fills the cache and publishes
 *     alerts. Replies are routed by the deferred request's envelope, so
 *     they may go out in any order (bus.h deferred requests).
 *   - data.changed bumps a generation counter and drops the cache. A job
 *     carries the generation it was submitted under; a worker that sees a
 *     newer generation invalidates its engine first. A finished RunReport
 *     result is cached only if its generation is still current AND its
 *     data_version equals the current one, so results computed on old data
 *     are answered to the requests that asked for them but never cached
 *     under the new version. Alert publication stays on the loop (state
 *     file + PUB socket); two detections in flight cannot publish an alert
 *     twice because the "already published" check runs on the loop.
 *   - EntityFacts jobs are queued in front of report jobs (they are short
 *     and an explain waits for them).
 *   - Back-pressure: more than report_service.queue_max jobs waiting →
 *     RESOURCE_EXHAUSTED at once.
 *   - Shutdown: svc drains (waits for deferred requests and held detections
 *     up to drain_ms); on_close stops and joins the workers (a running SQL
 *     statement is allowed to finish), replies to finished jobs, abandons
 *     queued ones (their clients hit their deadline) and closes the async
 *     handle.
 *
 * Config keys: db.path (required), report_service.state_path,
 * report_service.cache_entries (64), report_service.workers (2),
 * report_service.queue_max (256), report_service.alerts (true),
 * report_service.alert_z_threshold (registry default), report_service.alert_delay_ms
 * (1000), report_service.retry_ms (2000).
 */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "db.h"
#include "rs_engine.h"
#include "rs_pb.h"
#include "str.h"
#include "svc.h"

#define SERVICE "report-service"
#define MAX_PARAMS 64
#define KEY_MATERIAL_MAX (1024 * 1024)

typedef enum { JOB_RUN = 1, JOB_FACTS = 2, JOB_DETECT = 3 } s_kind_t;

typedef struct s_waiter {
    bus_request_t *rq;
    int64_t t0_ns;
    struct s_waiter *next;
} s_waiter_t;

/* One computation. Inputs are immutable after submission; outputs are
 * written by exactly one worker and read by the loop after the done-list
 * hand-off (mutex). */
typedef struct s_job {
    s_kind_t kind;
    char key[65];              /* sha256 of kind + inputs + data version */
    uint64_t gen;              /* data generation at submission */
    const env_t *req;          /* first waiter's request (RUN/FACTS); lives until its reply */
    char zt[40];               /* DETECT: z threshold ("" = registry default) */
    char why[32];              /* DETECT: "start-up" / "data.changed" */
    /* results */
    int rc;
    json_t *out;
    char err[512];
    char dv[128];              /* data version the worker computed on */
    /* loop-thread bookkeeping */
    s_waiter_t *waiters, *last_waiter;
    size_t nwaiters;
    struct s_job *next;        /* todo / done list link (under mu) */
    struct s_job *inext;       /* in-flight list link (loop only) */
} s_job_t;

typedef struct {
    char key[65];
    json_t *res;
    uint64_t used;
} s_centry_t;

typedef struct s_daemon s_daemon_t;

typedef struct {
    s_daemon_t *d;
    int idx;
    pthread_t th;
    rs_engine_t *eng;          /* owned by the worker thread until joined */
    uint64_t gen;
} s_worker_t;

struct s_daemon {
    svc_t *svc;
    rs_engine_t *eng;          /* loop engine: registry, data version, readiness */
    char *db_path;
    char state_path[PATH_MAX];
    db_t *state;
    int64_t cache_entries;
    int64_t nworkers_conf;
    int64_t queue_max;
    bool alerts;
    double alert_z;
    bool have_alert_z;
    int64_t alert_delay_ms;
    int64_t retry_ms;
    metric_t *m_runs, *m_errors, *m_alerts, *m_cache_hits, *m_invalidations;
    metric_t *m_computations, *m_coalesced, *m_queue;
    metric_t *m_run_seconds;
    /* loop-only */
    uint64_t gen;
    s_job_t *inflight;
    s_centry_t *cache;
    size_t ncache;
    uint64_t tick;
    /* worker pool */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    s_job_t *todo_head, *todo_tail, *done_head, *done_tail;
    size_t queued;
    bool stop;
    s_worker_t *workers;
    int nworkers;
    uv_async_t async;
    bool async_open;
};

/* ------------------------------------------------------------------ state */
static int
s_state_open (s_daemon_t *d)
{
    const char *err = NULL;
    d->state = db_open (d->state_path, DB_CREATE, 5000, &err);
    if (!d->state) {
        log_error ("state.open", "%s: %s", d->state_path, err ? err : "cannot open");
        return -1;
    }
    if (db_exec (d->state, "CREATE TABLE IF NOT EXISTS published_alerts ("
                           " alert_id TEXT PRIMARY KEY, severity TEXT NOT NULL, entity_type TEXT,"
                           " entity_id TEXT NOT NULL, date TEXT NOT NULL, publisher_id TEXT, seq INTEGER,"
                           " data_version TEXT, topic TEXT NOT NULL)") != 0) {
        log_error ("state.schema", "%s", db_errmsg (d->state));
        db_close (&d->state);
        return -1;
    }
    /* alert_json (the whole alert, for ListAlerts) arrived after the first
     * release: add it to older state files; their rows keep NULL. */
    int64_t has = 0;
    if (db_query_i64 (d->state, "SELECT COUNT(*) FROM pragma_table_info('published_alerts')"
                                " WHERE name = 'alert_json'", &has) != 0
        || (has == 0 && db_exec (d->state, "ALTER TABLE published_alerts ADD COLUMN alert_json TEXT") != 0)) {
        log_error ("state.schema", "%s", db_errmsg (d->state));
        db_close (&d->state);
        return -1;
    }
    return 0;
}

static bool
s_published (s_daemon_t *d, const char *alert_id)
{
    sqlite3_stmt *st = db_prepare (d->state, "SELECT 1 FROM published_alerts WHERE alert_id = ?1");
    if (!st)
        return false;
    sqlite3_bind_text (st, 1, alert_id, -1, SQLITE_TRANSIENT);
    bool yes = sqlite3_step (st) == SQLITE_ROW;
    sqlite3_reset (st);
    return yes;
}

static int
s_record (s_daemon_t *d, json_t *a, const char *topic, const env_t *ev, const char *dv)
{
    sqlite3_stmt *st = db_prepare (d->state, "INSERT OR IGNORE INTO published_alerts (alert_id, severity,"
                                             " entity_type, entity_id, date, publisher_id, seq, data_version, topic,"
                                             " alert_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
    if (!st)
        return -1;
    char *aj = json_dumps (a, JSON_COMPACT | JSON_SORT_KEYS);
    if (!aj)
        return -1;
    sqlite3_bind_text (st, 10, aj, -1, SQLITE_TRANSIENT);
    free (aj);
    const char *keys[] = {"alert_id", "severity", "entity_type", "entity_id", "date"};
    for (int i = 0; i < 5; i++)
        sqlite3_bind_text (st, i + 1, json_string_value (json_object_get (a, keys[i])), -1, SQLITE_TRANSIENT);
    const char *pub = ev->header && ev->header->publisher_id ? ev->header->publisher_id : "";
    sqlite3_bind_text (st, 6, pub, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64 (st, 7, ev->header ? (sqlite3_int64) ev->header->seq : 0);
    sqlite3_bind_text (st, 8, dv ? dv : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (st, 9, topic, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (st);
    sqlite3_reset (st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Loop thread: publishes every anomaly of `all` not published before. */
static void
s_publish_anomalies (s_daemon_t *d, json_t *all, const char *dv, const char *why)
{
    size_t i, published = 0, known = 0;
    json_t *a;
    json_array_foreach (all, i, a) {
        const char *id = json_string_value (json_object_get (a, "alert_id"));
        if (!id || s_published (d, id)) {
            known++;
            continue;
        }
        char topic[PUBSUB_TOPIC_MAX];
        snprintf (topic, sizeof topic, "alert.v1.%s", json_string_value (json_object_get (a, "severity")));
        env_t *ev = env_new (SERVICE);
        Copilot__V1__Alert *msg = rs_pb_alert (a);
        if (!ev || !msg) {
            env_free (ev);
            if (msg)
                protobuf_c_message_free_unpacked (&msg->base, NULL);
            log_error ("alerts.publish", "out of memory");
            break;
        }
        env_set_body (ev, COPILOT__V1__ENVELOPE__BODY_ALERT, msg);
        int prc = svc_publish (d->svc, topic, ev);
        /* 0: sent; BUS_E_UNAVAILABLE: dropped at the HWM but the sequence
         * number was consumed (subscribers see the gap) — either way the
         * alert had its one publication. Other errors: retry next time. */
        if (prc == 0 || prc == BUS_E_UNAVAILABLE) {
            if (s_record (d, a, topic, ev, dv) != 0)
                log_error ("alerts.state", "%s: %s", d->state_path, db_errmsg (d->state));
            published++;
            metric_inc (d->m_alerts);
            log_info ("alerts.published", "%s %s seq %llu", topic, id,
                      (unsigned long long) (ev->header ? ev->header->seq : 0));
        } else
            log_warn ("alerts.publish", "%s %s: %s", topic, id, bus_strerror (prc));
        env_free (ev);
    }
    log_info ("alerts.run", "%s: %zu anomalies, %zu new published, %zu already published", why,
              json_array_size (all), published, known);
}

/* ----------------------------------------------------------------- engine */
static bool
s_open_engine (s_daemon_t *d)
{
    if (d->eng)
        return true;
    char err[512];
    rs_options_t o = {NULL, 1}; /* the loop engine never runs reports */
    d->eng = rs_engine_new (d->db_path, &o, err, sizeof err);
    if (!d->eng) {
        log_warn ("engine.open", "%s", err);
        svc_set_ready (d->svc, false, "[-]db not available");
        return false;
    }
    char detail[700];
    snprintf (detail, sizeof detail, "[+]db ok %s (data %s) [+]workers %d", d->db_path,
              rs_engine_data_version (d->eng) ? rs_engine_data_version (d->eng) : "?", d->nworkers);
    svc_set_ready (d->svc, true, detail);
    log_info ("engine.open", "%s", detail);
    return true;
}

/* ---------------------------------------------------------------- errors */
static Copilot__V1__ErrorCode
s_code_of (int rc)
{
    switch (rc) {
    case RS_E_INVALID: return COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT;
    case RS_E_NOTFOUND: return COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND;
    case RS_E_UNIMPLEMENTED: return COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED;
    case RS_E_DB: return COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE;
    case RS_E_TOOBIG:
    case RS_E_NOMEM: return COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED;
    default: return COPILOT__V1__ERROR_CODE__ERROR_INTERNAL;
    }
}

/* Sets an Error body for engine code rc with message msg. Returns -1. */
static int
s_error_msg (s_daemon_t *d, env_t *reply, int rc, const char *msg)
{
    if (!msg || !*msg)
        msg = rs_strerror (rc);
    /* detail = the parameter name for invalid arguments ("from: expected ...") */
    char detail[80] = "";
    const char *colon = strchr (msg, ':');
    if (rc == RS_E_INVALID && colon && (size_t) (colon - msg) < sizeof detail)
        str_copy (detail, (size_t) (colon - msg) + 1, msg);
    metric_inc (d->m_errors);
    env_set_error (reply, s_code_of (rc), detail[0] ? detail : NULL, "%s", msg);
    return -1;
}

static int
s_error (s_daemon_t *d, env_t *reply, int rc)
{
    return s_error_msg (d, reply, rc, d->eng ? rs_engine_error (d->eng) : "the telemetry database is not available");
}

static int
s_params (Copilot__V1__Param **in, size_t n, rs_param_t *out, size_t cap)
{
    if (n > cap)
        return -1;
    for (size_t i = 0; i < n; i++) {
        out[i].key = in[i] && in[i]->key ? in[i]->key : "";
        out[i].value = in[i] && in[i]->value ? in[i]->value : "";
    }
    return 0;
}

/* Key = sha256 over length-prefixed fields (no ambiguity between fields).
 * Parameters are taken in the order sent. 0 or -1 (too large / OOM). */
static int
s_key (s_kind_t kind, const char *a, const char *b, Copilot__V1__Param **params, size_t n, const char *dv,
       char out[65])
{
    buf_t *k = buf_new (KEY_MATERIAL_MAX);
    if (!k)
        return -1;
    const char *fields[3] = {a ? a : "", b ? b : "", dv ? dv : ""};
    int rc = buf_printf (k, "%d|", (int) kind);
    for (int i = 0; rc == 0 && i < 3; i++)
        rc = buf_printf (k, "%zu:%s|", strlen (fields[i]), fields[i]);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const char *pk = params[i] && params[i]->key ? params[i]->key : "";
        const char *pv = params[i] && params[i]->value ? params[i]->value : "";
        rc = buf_printf (k, "%zu:%s=%zu:%s|", strlen (pk), pk, strlen (pv), pv);
    }
    if (rc == 0)
        str_sha256_hex (buf_data (k), buf_len (k), out);
    buf_destroy (&k);
    return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------ result cache */
static json_t *
s_cache_get (s_daemon_t *d, const char *key)
{
    for (size_t i = 0; i < d->ncache; i++)
        if (strcmp (d->cache[i].key, key) == 0) {
            d->cache[i].used = ++d->tick;
            return d->cache[i].res;
        }
    return NULL;
}

/* Takes a new reference to res. Evicts the least recently used entry. */
static void
s_cache_put (s_daemon_t *d, const char *key, json_t *res)
{
    if (s_cache_get (d, key))
        return;
    size_t slot = d->ncache;
    if (d->ncache >= (size_t) d->cache_entries) {
        slot = 0;
        for (size_t i = 1; i < d->ncache; i++)
            if (d->cache[i].used < d->cache[slot].used)
                slot = i;
        json_decref (d->cache[slot].res);
    } else
        d->ncache++;
    str_copy (d->cache[slot].key, sizeof d->cache[slot].key, key);
    d->cache[slot].res = json_incref (res);
    d->cache[slot].used = ++d->tick;
}

static void
s_cache_clear (s_daemon_t *d)
{
    for (size_t i = 0; i < d->ncache; i++)
        json_decref (d->cache[i].res);
    d->ncache = 0;
}

/* ------------------------------------------------------------ worker pool */
static void
s_job_compute (s_worker_t *w, s_job_t *job)
{
    s_daemon_t *d = w->d;
    if (!w->eng) {
        /* the daemon caches results; the engine's own cache stays minimal */
        rs_options_t o = {NULL, 1};
        w->eng = rs_engine_new (d->db_path, &o, job->err, sizeof job->err);
        if (!w->eng) {
            job->rc = RS_E_DB;
            return;
        }
        w->gen = job->gen;
    }
    if (job->gen > w->gen) {
        rs_engine_invalidate (w->eng);
        w->gen = job->gen;
    }
    rs_param_t p[MAX_PARAMS];
    size_t np = 0;
    switch (job->kind) {
    case JOB_RUN: {
        const Copilot__V1__RunReportRequest *rr = job->req->run_report_request;
        s_params (rr->params, rr->n_params, p, MAX_PARAMS); /* n checked on submission */
        job->rc = rs_engine_run (w->eng, rr->report_id, p, rr->n_params, &job->out);
        break;
    }
    case JOB_FACTS: {
        const Copilot__V1__EntityFactsRequest *fr = job->req->entity_facts_request;
        s_params (fr->params, fr->n_params, p, MAX_PARAMS);
        job->rc = rs_engine_entity_facts (w->eng, fr->entity_type, fr->entity_id, p, fr->n_params, &job->out);
        break;
    }
    case JOB_DETECT:
        if (job->zt[0]) {
            p[np].key = "z_threshold";
            p[np].value = job->zt;
            np++;
        }
        job->rc = rs_engine_detect (w->eng, p, np, &job->out);
        break;
    }
    if (job->rc != 0)
        str_copy (job->err, sizeof job->err, rs_engine_error (w->eng));
    const char *dv = rs_engine_data_version (w->eng);
    str_copy (job->dv, sizeof job->dv, dv ? dv : "");
}

static void *
s_worker (void *arg)
{
    s_worker_t *w = arg;
    s_daemon_t *d = w->d;
    for (;;) {
        pthread_mutex_lock (&d->mu);
        while (!d->stop && !d->todo_head)
            pthread_cond_wait (&d->cv, &d->mu);
        if (d->stop) {
            pthread_mutex_unlock (&d->mu);
            return NULL;
        }
        s_job_t *job = d->todo_head;
        d->todo_head = job->next;
        if (!d->todo_head)
            d->todo_tail = NULL;
        job->next = NULL;
        d->queued--;
        pthread_mutex_unlock (&d->mu);

        if (job->req && job->req->header)
            log_set_context (job->req->header->request_id, job->req->header->trace_id);
        s_job_compute (w, job);
        log_set_context (NULL, NULL);

        pthread_mutex_lock (&d->mu);
        if (d->done_tail)
            d->done_tail->next = job;
        else
            d->done_head = job;
        d->done_tail = job;
        pthread_mutex_unlock (&d->mu);
        uv_async_send (&d->async);
    }
}

/* Loop thread: queues a new job (already linked nowhere). EntityFacts jobs
 * (short, asked for by explains in progress) go to the front, so they wait
 * for at most one running computation. 0 or -1 (full / stopping). */
static int
s_enqueue (s_daemon_t *d, s_job_t *job)
{
    pthread_mutex_lock (&d->mu);
    if (d->queued >= (size_t) d->queue_max || d->stop) {
        pthread_mutex_unlock (&d->mu);
        return -1;
    }
    if (job->kind == JOB_FACTS) {
        job->next = d->todo_head;
        d->todo_head = job;
        if (!d->todo_tail)
            d->todo_tail = job;
    } else {
        if (d->todo_tail)
            d->todo_tail->next = job;
        else
            d->todo_head = job;
        d->todo_tail = job;
    }
    d->queued++;
    metric_set (d->m_queue, (double) d->queued);
    pthread_cond_signal (&d->cv);
    pthread_mutex_unlock (&d->mu);
    job->inext = d->inflight;
    d->inflight = job;
    return 0;
}

static s_job_t *
s_inflight_find (s_daemon_t *d, s_kind_t kind, const char *key)
{
    for (s_job_t *j = d->inflight; j; j = j->inext)
        if (j->kind == kind && j->gen == d->gen && strcmp (j->key, key) == 0)
            return j;
    return NULL;
}

static void
s_inflight_remove (s_daemon_t *d, s_job_t *job)
{
    for (s_job_t **pp = &d->inflight; *pp; pp = &(*pp)->inext)
        if (*pp == job) {
            *pp = job->inext;
            job->inext = NULL;
            return;
        }
}

static void
s_job_free (s_job_t *job)
{
    while (job->waiters) {
        s_waiter_t *w = job->waiters;
        job->waiters = w->next;
        bus_request_destroy (&w->rq);
        free (w);
    }
    json_decref (job->out);
    free (job);
}

/* Adds the current request (deferred now) to job. 0 or -1. */
static int
s_add_waiter (svc_t *svc, s_job_t *job)
{
    s_waiter_t *w = calloc (1, sizeof *w);
    if (!w)
        return -1;
    w->t0_ns = clock_mono_ns ();
    w->rq = svc_defer (svc);
    if (!w->rq) {
        free (w);
        return -1;
    }
    if (job->last_waiter)
        job->last_waiter->next = w;
    else
        job->waiters = w;
    job->last_waiter = w;
    job->nwaiters++;
    return 0;
}

/* Builds the reply body for one waiter of a finished RUN/FACTS job. */
static void
s_fill (s_daemon_t *d, s_job_t *job, env_t *reply)
{
    if (job->rc != 0) {
        s_error_msg (d, reply, job->rc, job->err);
        return;
    }
    if (job->kind == JOB_RUN) {
        Copilot__V1__RunReportReply *out = env_msg_new (&copilot__v1__run_report_reply__descriptor);
        if (out)
            out->result = rs_pb_report_result (job->out);
        if (!out || !out->result) {
            if (out)
                protobuf_c_message_free_unpacked (&out->base, NULL);
            s_error_msg (d, reply, RS_E_NOMEM, "out of memory");
            return;
        }
        if (env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REPLY, out) != 0)
            s_error_msg (d, reply, RS_E_NOMEM, "out of memory");
    } else {
        Copilot__V1__EntityFactsReply *out = rs_pb_facts (job->out);
        if (!out || env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REPLY, out) != 0)
            s_error_msg (d, reply, RS_E_NOMEM, "out of memory");
    }
}

/* Loop thread: a job is finished — cache, publish, answer every waiter. */
static void
s_finish (s_daemon_t *d, s_job_t *job)
{
    s_inflight_remove (d, job);
    if (job->kind == JOB_DETECT) {
        if (job->rc != 0)
            log_error ("alerts.detect", "%s: %s", rs_strerror (job->rc), job->err);
        else if (d->state)
            s_publish_anomalies (d, job->out, job->dv, job->why);
        svc_release (d->svc);
        s_job_free (job);
        return;
    }
    if (job->rc == 0) {
        if (job->kind == JOB_RUN && json_is_true (json_object_get (job->out, "cached")))
            metric_inc (d->m_cache_hits);
        /* cache only what was computed on the current data */
        const char *cur = d->eng ? rs_engine_data_version (d->eng) : NULL;
        const char *got = json_string_value (json_object_get (job->out, "data_version"));
        if (job->gen == d->gen && cur && got && strcmp (cur, got) == 0 && strcmp (cur, job->dv) == 0)
            s_cache_put (d, job->key, job->out);
        else
            log_info ("reports.stale", "result on data %s not cached (current %s, generation %llu/%llu)",
                      got ? got : "?", cur ? cur : "?", (unsigned long long) job->gen, (unsigned long long) d->gen);
    }
    for (s_waiter_t *w = job->waiters; w; w = w->next) {
        const env_t *req = bus_request_env (w->rq);
        env_t *reply = env_reply_new (req, SERVICE);
        if (!reply)
            continue; /* OOM: the client hits its deadline */
        s_fill (d, job, reply);
        if (job->kind == JOB_RUN && job->rc == 0)
            metric_observe (d->m_run_seconds, (double) (clock_mono_ns () - w->t0_ns) / 1e9);
        int rc = bus_request_reply (&w->rq, reply);
        if (rc != 0)
            log_warn ("reports.reply", "could not send a deferred reply: %s", bus_strerror (rc));
        env_free (reply);
    }
    s_job_free (job);
}

static void
s_process_done (s_daemon_t *d)
{
    pthread_mutex_lock (&d->mu);
    s_job_t *list = d->done_head;
    d->done_head = d->done_tail = NULL;
    metric_set (d->m_queue, (double) d->queued);
    pthread_mutex_unlock (&d->mu);
    while (list) {
        s_job_t *n = list->next;
        list->next = NULL;
        s_finish (d, list);
        list = n;
    }
}

static void
s_on_async (uv_async_t *h)
{
    s_process_done (h->data);
}

static s_job_t *
s_job_new (s_kind_t kind, uint64_t gen)
{
    s_job_t *job = calloc (1, sizeof *job);
    if (job) {
        job->kind = kind;
        job->gen = gen;
    }
    return job;
}

/* Queues an anomaly detection; its alerts are published on completion. */
static void
s_submit_detect (s_daemon_t *d, const char *why)
{
    if (!d->alerts || !d->state)
        return;
    s_job_t *job = s_job_new (JOB_DETECT, d->gen);
    if (!job) {
        log_error ("alerts.detect", "out of memory");
        return;
    }
    if (d->have_alert_z)
        snprintf (job->zt, sizeof job->zt, "%.17g", d->alert_z);
    str_copy (job->why, sizeof job->why, why);
    svc_hold (d->svc);
    if (s_enqueue (d, job) != 0) {
        svc_release (d->svc);
        log_error ("alerts.detect", "%s: the job queue is full (report_service.queue_max %lld); skipped", why,
                   (long long) d->queue_max);
        s_job_free (job);
    }
}

static void
s_retry (svc_t *svc, void *arg)
{
    s_daemon_t *d = arg;
    if (svc_stopping (svc))
        return;
    if (!s_open_engine (d))
        svc_add_timer (svc, (uint64_t) d->retry_ms, 0, s_retry, d);
}

static void
s_startup_alerts (svc_t *svc, void *arg)
{
    s_daemon_t *d = arg;
    if (svc_stopping (svc))
        return;
    if (!d->eng) {
        svc_add_timer (svc, (uint64_t) d->retry_ms, 0, s_startup_alerts, d);
        return;
    }
    s_submit_detect (d, "start-up");
}

/* --------------------------------------------------------------- handlers */
static int
s_on_list (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) svc;
    (void) req;
    s_daemon_t *d = arg;
    if (!d->eng && !s_open_engine (d))
        return s_error (d, reply, RS_E_DB);
    json_t *l = NULL;
    int rc = rs_engine_list (d->eng, &l);
    if (rc != 0)
        return s_error (d, reply, rc);
    Copilot__V1__ListReportsReply *out = rs_pb_list (l);
    json_decref (l);
    if (!out)
        return s_error (d, reply, RS_E_NOMEM);
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REPLY, out);
}

/* ListAlerts: the alerts published so far, newest publication first, from
 * the state file (loop thread: the state connection is the loop's). */
static int
s_on_alerts (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    uint32_t limit = req->list_alerts_request ? req->list_alerts_request->limit : 0;
    if (limit == 0)
        limit = 50;
    if (limit > 500) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "limit",
                       "limit: expected 1..500, got %u", limit);
        return -1;
    }
    if (!d->state) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_FAILED_PRECONDITION, NULL,
                       "alerts are disabled (report_service.alerts = false)");
        return -1;
    }
    Copilot__V1__ListAlertsReply *out = env_msg_new (&copilot__v1__list_alerts_reply__descriptor);
    int64_t total = 0;
    sqlite3_stmt *st = db_prepare (d->state, "SELECT alert_json FROM published_alerts"
                                             " WHERE alert_json IS NOT NULL ORDER BY rowid DESC LIMIT ?1");
    if (!out || !st || db_query_i64 (d->state, "SELECT COUNT(*) FROM published_alerts", &total) != 0) {
        if (out)
            protobuf_c_message_free_unpacked (&out->base, NULL);
        log_error ("alerts.list", "%s: %s", d->state_path, db_errmsg (d->state));
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL,
                       "cannot read the alert state file");
        return -1;
    }
    out->total = (uint64_t) total;
    sqlite3_bind_int64 (st, 1, limit);
    int rc = 0;
    while (rc == 0 && sqlite3_step (st) == SQLITE_ROW) {
        const char *txt = (const char *) sqlite3_column_text (st, 0);
        json_t *a = txt ? json_loads (txt, 0, NULL) : NULL;
        Copilot__V1__Alert *m = a ? rs_pb_alert (a) : NULL;
        json_decref (a);
        if (!m || ENV_APPEND (out->alerts, out->n_alerts, m) != 0) {
            if (m)
                protobuf_c_message_free_unpacked (&m->base, NULL);
            rc = -1;
        }
    }
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    if (rc != 0) {
        protobuf_c_message_free_unpacked (&out->base, NULL);
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INTERNAL, NULL,
                       "a stored alert could not be read back");
        return -1;
    }
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_LIST_ALERTS_REPLY, out);
}

/* Common part of RunReport / EntityFacts: join a job in flight or start one.
 * Returns SVC_DEFERRED or an error (reply filled). */
static int
s_submit (svc_t *svc, s_daemon_t *d, s_kind_t kind, const env_t *req, const char *key, env_t *reply)
{
    s_job_t *job = s_inflight_find (d, kind, key);
    if (job) {
        if (s_add_waiter (svc, job) != 0)
            return s_error_msg (d, reply, RS_E_NOMEM, "out of memory");
        metric_inc (d->m_coalesced);
        return SVC_DEFERRED;
    }
    job = s_job_new (kind, d->gen);
    if (!job)
        return s_error_msg (d, reply, RS_E_NOMEM, "out of memory");
    str_copy (job->key, sizeof job->key, key);
    job->req = req;
    pthread_mutex_lock (&d->mu);
    bool full = d->queued >= (size_t) d->queue_max;
    pthread_mutex_unlock (&d->mu);
    if (full) {
        free (job);
        metric_inc (d->m_errors);
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED, "report_service.queue_max",
                       "report-service has %lld computations queued; try again shortly", (long long) d->queue_max);
        return -1;
    }
    if (s_add_waiter (svc, job) != 0) {
        free (job);
        return s_error_msg (d, reply, RS_E_NOMEM, "out of memory");
    }
    /* the request is deferred now: the job owns it; svc ignores `reply` */
    if (s_enqueue (d, job) != 0) {
        env_t *r = env_reply_new (req, SERVICE);
        if (r) {
            env_set_error (r, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE, NULL, "report-service is shutting down");
            bus_request_reply (&job->waiters->rq, r);
            env_free (r);
        }
        s_job_free (job);
        return SVC_DEFERRED;
    }
    if (kind == JOB_RUN)
        metric_inc (d->m_computations);
    return SVC_DEFERRED;
}

static int
s_on_run (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    s_daemon_t *d = arg;
    const Copilot__V1__RunReportRequest *rr = req->run_report_request;
    if (!rr || !rr->report_id || !rr->report_id[0]) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "report_id", "report_id is required");
        return -1;
    }
    metric_inc (d->m_runs);
    if (!d->eng && !s_open_engine (d))
        return s_error (d, reply, RS_E_DB);
    if (rr->n_params > MAX_PARAMS) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "params", "too many parameters (max 64)");
        return -1;
    }
    const char *dv = rs_engine_data_version (d->eng);
    if (!dv)
        return s_error (d, reply, RS_E_DB);
    char key[65];
    if (s_key (JOB_RUN, rr->report_id, NULL, rr->params, rr->n_params, dv, key) != 0)
        return s_error_msg (d, reply, RS_E_TOOBIG, "request too large");
    int64_t t0 = clock_mono_ns ();
    json_t *hit = s_cache_get (d, key);
    if (hit) {
        metric_inc (d->m_cache_hits);
        Copilot__V1__RunReportReply *out = env_msg_new (&copilot__v1__run_report_reply__descriptor);
        if (out)
            out->result = rs_pb_report_result (hit);
        if (!out || !out->result) {
            if (out)
                protobuf_c_message_free_unpacked (&out->base, NULL);
            return s_error_msg (d, reply, RS_E_NOMEM, "out of memory");
        }
        out->result->cached = true;
        metric_observe (d->m_run_seconds, (double) (clock_mono_ns () - t0) / 1e9);
        return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REPLY, out);
    }
    return s_submit (svc, d, JOB_RUN, req, key, reply);
}

static int
s_on_facts (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    s_daemon_t *d = arg;
    const Copilot__V1__EntityFactsRequest *fr = req->entity_facts_request;
    if (!fr || !fr->entity_type || !fr->entity_type[0] || !fr->entity_id || !fr->entity_id[0]) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "entity", "entity_type and entity_id are required");
        return -1;
    }
    if (!d->eng && !s_open_engine (d))
        return s_error (d, reply, RS_E_DB);
    if (fr->n_params > MAX_PARAMS) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "params", "too many parameters (max 64)");
        return -1;
    }
    const char *dv = rs_engine_data_version (d->eng);
    if (!dv)
        return s_error (d, reply, RS_E_DB);
    char key[65];
    if (s_key (JOB_FACTS, fr->entity_type, fr->entity_id, fr->params, fr->n_params, dv, key) != 0)
        return s_error_msg (d, reply, RS_E_TOOBIG, "request too large");
    json_t *hit = s_cache_get (d, key);
    if (hit) {
        Copilot__V1__EntityFactsReply *out = rs_pb_facts (hit);
        if (!out)
            return s_error_msg (d, reply, RS_E_NOMEM, "out of memory");
        return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REPLY, out);
    }
    return s_submit (svc, d, JOB_FACTS, req, key, reply);
}

/* ----------------------------------------------------------------- events */
static void
s_on_data_changed (svc_t *svc, const char *topic, const env_t *ev, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    const char *path = NULL;
    if (ev->body_case == COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED && ev->data_changed)
        path = ev->data_changed->db_path;
    if (!db_same_file (d->db_path, path)) {
        log_debug ("reports.ignore", "%s for another database (%s)", topic, path);
        return;
    }
    metric_inc (d->m_invalidations);
    if (!d->eng && !s_open_engine (d))
        return;
    d->gen++;
    s_cache_clear (d);
    rs_engine_invalidate (d->eng);
    log_info ("reports.invalidate", "%s: cache dropped, data version %s, generation %llu", topic,
              rs_engine_data_version (d->eng) ? rs_engine_data_version (d->eng) : "?", (unsigned long long) d->gen);
    s_submit_detect (d, "data.changed");
}

/* ------------------------------------------------------------- lifecycle */
static void
s_stop_workers (s_daemon_t *d)
{
    pthread_mutex_lock (&d->mu);
    d->stop = true;
    pthread_cond_broadcast (&d->cv);
    pthread_mutex_unlock (&d->mu);
    for (int i = 0; i < d->nworkers; i++) {
        pthread_join (d->workers[i].th, NULL);
        rs_engine_destroy (&d->workers[i].eng);
    }
    d->nworkers = 0;
}

static void
s_on_close (svc_t *svc, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    s_stop_workers (d);
    /* finished jobs: answer; queued ones: abandon (clients hit their deadline) */
    s_process_done (d);
    pthread_mutex_lock (&d->mu);
    d->todo_head = d->todo_tail = NULL;
    d->queued = 0;
    pthread_mutex_unlock (&d->mu);
    while (d->inflight) {
        s_job_t *j = d->inflight;
        d->inflight = j->inext;
        if (j->kind == JOB_DETECT)
            svc_release (d->svc);
        s_job_free (j);
    }
    if (d->async_open) {
        uv_close ((uv_handle_t *) &d->async, NULL);
        d->async_open = false;
    }
}

static int
s_start_workers (s_daemon_t *d)
{
    if (uv_async_init (svc_loop (d->svc), &d->async, s_on_async) != 0)
        return -1;
    d->async.data = d;
    d->async_open = true;
    d->workers = calloc ((size_t) d->nworkers_conf, sizeof *d->workers);
    for (int i = 0; d->workers && i < (int) d->nworkers_conf; i++) {
        d->workers[i].d = d;
        d->workers[i].idx = i;
        if (pthread_create (&d->workers[i].th, NULL, s_worker, &d->workers[i]) != 0)
            break;
        d->nworkers++;
    }
    return d->nworkers > 0 ? 0 : -1;
}

/* ------------------------------------------------------------------- main */
int
main (int argc, char **argv)
{
    int rc;
    svc_t *svc = svc_new (SERVICE, argc, argv, &rc);
    if (!svc)
        return rc;
    cfg_t *cfg = svc_cfg (svc);
    s_daemon_t d = {.svc = svc};
    const char *db = NULL, *state = NULL;
    bool alerts = true;
    double z = NAN;
    if (cfg_require (cfg, "db.path", &db) != 0 || cfg_str (cfg, "report_service.state_path", NULL, &state) != 0 ||
        cfg_int (cfg, "report_service.cache_entries", 64, 1, 100000, &d.cache_entries) != 0 ||
        cfg_int (cfg, "report_service.workers", 2, 1, 64, &d.nworkers_conf) != 0 ||
        cfg_int (cfg, "report_service.queue_max", 256, 1, 100000, &d.queue_max) != 0 ||
        cfg_bool (cfg, "report_service.alerts", true, &alerts) != 0 ||
        cfg_double (cfg, "report_service.alert_z_threshold", NAN, 0.5, 20, &z) != 0 ||
        cfg_int (cfg, "report_service.alert_delay_ms", 1000, 0, 600000, &d.alert_delay_ms) != 0 ||
        cfg_int (cfg, "report_service.retry_ms", 2000, 50, 3600000, &d.retry_ms) != 0) {
        log_error ("config", "%s", cfg_error (cfg));
        fprintf (stderr, SERVICE ": %s\n", cfg_error (cfg));
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    d.alerts = alerts;
    d.have_alert_z = !isnan (z);
    d.alert_z = z;
    d.db_path = str_dup (db);
    d.cache = calloc ((size_t) d.cache_entries, sizeof *d.cache);
    if (state)
        str_copy (d.state_path, sizeof d.state_path, state);
    else {
        char run_dir[PATH_MAX - 64];
        if (svc_run_dir (cfg, run_dir, sizeof run_dir) != 0)
            str_copy (run_dir, sizeof run_dir, "/tmp");
        str_fmt (d.state_path, sizeof d.state_path, "%s/report-service-state.db", run_dir);
    }
    metrics_t *m = svc_metrics (svc);
    const char *lbl = "service=\"report-service\"";
    d.m_runs = metrics_counter (m, "copilot_report_runs_total", "RunReport requests.", lbl);
    d.m_errors = metrics_counter (m, "copilot_report_errors_total", "Requests answered with an error.", lbl);
    d.m_cache_hits = metrics_counter (m, "copilot_report_cache_hits_total", "RunReport answered from the cache.", lbl);
    d.m_alerts = metrics_counter (m, "copilot_report_alerts_published_total", "Anomaly alerts published.", lbl);
    d.m_invalidations = metrics_counter (m, "copilot_report_invalidations_total", "data.changed events handled.", lbl);
    d.m_computations = metrics_counter (m, "copilot_report_computations_total",
                                        "RunReport computations started on a worker (cache misses not coalesced).", lbl);
    d.m_coalesced = metrics_counter (m, "copilot_report_coalesced_total",
                                     "RunReport/EntityFacts requests that joined an identical computation in flight.", lbl);
    d.m_queue = metrics_gauge (m, "copilot_report_queue_depth", "Computations waiting for a worker.", lbl);
    d.m_run_seconds = metrics_histogram (m, "copilot_report_run_duration_seconds", "RunReport time (successful).", lbl, NULL, 0);
    if (!d.db_path || !d.cache || !d.m_runs || !d.m_errors || !d.m_cache_hits || !d.m_alerts || !d.m_invalidations
        || !d.m_computations || !d.m_coalesced || !d.m_queue || !d.m_run_seconds) {
        log_error ("startup", "out of memory");
        free (d.cache);
        free (d.db_path);
        svc_destroy (&svc);
        return PROC_EXIT_FAILURE;
    }
    if (d.alerts && s_state_open (&d) != 0) {
        fprintf (stderr, SERVICE ": cannot open the state file %s\n", d.state_path);
        free (d.cache);
        free (d.db_path);
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    pthread_mutex_init (&d.mu, NULL);
    pthread_cond_init (&d.cv, NULL);
    if (s_start_workers (&d) != 0) {
        log_error ("startup", "could not start the worker threads");
        s_on_close (svc, &d);
        uv_run (svc_loop (svc), UV_RUN_NOWAIT);
        svc_destroy (&svc);
        db_close (&d.state);
        free (d.workers);
        free (d.cache);
        free (d.db_path);
        return PROC_EXIT_FAILURE;
    }
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REQUEST, s_on_list, &d);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, s_on_run, &d);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REQUEST, s_on_facts, &d);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_LIST_ALERTS_REQUEST, s_on_alerts, &d);
    svc_on_close (svc, s_on_close, &d);
    if (svc_subscribe (svc, "data.changed", s_on_data_changed, &d) != 0)
        log_warn ("reports.subscribe", "cannot subscribe to the event bus; the cache is only keyed by data version");
    if (d.alerts) {
        if (svc_declare_family (svc, "alert") != 0)
            log_warn ("alerts.declare", "cannot create the alert publisher yet");
        svc_add_timer (svc, (uint64_t) d.alert_delay_ms, 0, s_startup_alerts, &d);
    }
    if (!s_open_engine (&d))
        svc_add_timer (svc, (uint64_t) d.retry_ms, 0, s_retry, &d);
    rc = svc_run (svc);
    svc_destroy (&svc);
    s_cache_clear (&d);
    rs_engine_destroy (&d.eng);
    db_close (&d.state);
    free (d.workers);
    free (d.cache);
    free (d.db_path);
    pthread_cond_destroy (&d.cv);
    pthread_mutex_destroy (&d.mu);
    return rc;
}
