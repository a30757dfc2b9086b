/* main.c — the report-service daemon (svc.h scaffold around rs_engine).
 *
 * RPCs: ListReports, RunReport, EntityFacts (plus the built-in Ping and
 * Metrics). The telemetry DB is opened read-only from config key `db.path`
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
 * giving the PUB socket time to connect).
 *
 * Threading: everything runs on the svc loop thread; the engine is not
 * shared. A cold report run blocks the loop for its duration (tens of ms on
 * the fixture); cached runs are sub-millisecond.
 *
 * Config keys: db.path (required), report_service.state_path,
 * report_service.cache_entries (64), report_service.alerts (true),
 * report_service.alert_z_threshold (registry default), report_service.alert_delay_ms
 * (1000), report_service.retry_ms (2000).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "rs_engine.h"
#include "rs_pb.h"
#include "str.h"
#include "svc.h"

#define SERVICE "report-service"

typedef struct {
    svc_t *svc;
    rs_engine_t *eng;
    char *db_path;
    char state_path[PATH_MAX];
    db_t *state;
    int64_t cache_entries;
    bool alerts;
    double alert_z;
    bool have_alert_z;
    int64_t alert_delay_ms;
    int64_t retry_ms;
    metric_t *m_runs, *m_errors, *m_alerts, *m_cache_hits, *m_invalidations;
    metric_t *m_run_seconds;
} s_daemon_t;

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
                                             " entity_type, entity_id, date, publisher_id, seq, data_version, topic)"
                                             " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    if (!st)
        return -1;
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

/* Runs the detector and publishes every anomaly not published before. */
static void
s_detect_and_publish (s_daemon_t *d, const char *why)
{
    if (!d->eng || !d->alerts || !d->state)
        return;
    char zt[40];
    rs_param_t p[1];
    size_t np = 0;
    if (d->have_alert_z) {
        snprintf (zt, sizeof zt, "%.17g", d->alert_z);
        p[np].key = "z_threshold";
        p[np].value = zt;
        np++;
    }
    json_t *all = NULL;
    int rc = rs_engine_detect (d->eng, p, np, &all);
    if (rc != 0) {
        log_error ("alerts.detect", "%s: %s", rs_strerror (rc), rs_engine_error (d->eng));
        return;
    }
    const char *dv = rs_engine_data_version (d->eng);
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
    json_decref (all);
}

/* ----------------------------------------------------------------- engine */
static bool
s_open_engine (s_daemon_t *d)
{
    if (d->eng)
        return true;
    char err[512];
    rs_options_t o = {NULL, (size_t) d->cache_entries};
    d->eng = rs_engine_new (d->db_path, &o, err, sizeof err);
    if (!d->eng) {
        log_warn ("engine.open", "%s", err);
        svc_set_ready (d->svc, false, "[-]db not available");
        return false;
    }
    char detail[600];
    snprintf (detail, sizeof detail, "[+]db ok %s (data %s)", d->db_path, rs_engine_data_version (d->eng) ?
              rs_engine_data_version (d->eng) : "?");
    svc_set_ready (d->svc, true, detail);
    log_info ("engine.open", "%s", detail);
    return true;
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
    s_detect_and_publish (d, "start-up");
}

/* ---------------------------------------------------------------- errors */
static int
s_error (s_daemon_t *d, env_t *reply, int rc)
{
    Copilot__V1__ErrorCode code;
    switch (rc) {
    case RS_E_INVALID: code = COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT; break;
    case RS_E_NOTFOUND: code = COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND; break;
    case RS_E_UNIMPLEMENTED: code = COPILOT__V1__ERROR_CODE__ERROR_UNIMPLEMENTED; break;
    case RS_E_DB: code = COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE; break;
    case RS_E_TOOBIG:
    case RS_E_NOMEM: code = COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED; break;
    default: code = COPILOT__V1__ERROR_CODE__ERROR_INTERNAL; break;
    }
    const char *msg = d->eng ? rs_engine_error (d->eng) : "the telemetry database is not available";
    /* detail = the parameter name for invalid arguments ("from: expected ...") */
    char detail[80] = "";
    const char *colon = strchr (msg, ':');
    if (rc == RS_E_INVALID && colon && (size_t) (colon - msg) < sizeof detail)
        str_copy (detail, (size_t) (colon - msg) + 1, msg);
    metric_inc (d->m_errors);
    env_set_error (reply, code, detail[0] ? detail : NULL, "%s", msg);
    return -1;
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

static int
s_on_run (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    const Copilot__V1__RunReportRequest *rr = req->run_report_request;
    if (!rr || !rr->report_id || !rr->report_id[0]) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "report_id", "report_id is required");
        return -1;
    }
    if (!d->eng && !s_open_engine (d))
        return s_error (d, reply, RS_E_DB);
    rs_param_t p[64];
    if (s_params (rr->params, rr->n_params, p, 64) != 0) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "params", "too many parameters (max 64)");
        return -1;
    }
    int64_t t0 = clock_mono_ns ();
    json_t *res = NULL;
    int rc = rs_engine_run (d->eng, rr->report_id, p, rr->n_params, &res);
    metric_inc (d->m_runs);
    if (rc != 0)
        return s_error (d, reply, rc);
    if (json_is_true (json_object_get (res, "cached")))
        metric_inc (d->m_cache_hits);
    metric_observe (d->m_run_seconds, (double) (clock_mono_ns () - t0) / 1e9);
    Copilot__V1__RunReportReply *out = env_msg_new (&copilot__v1__run_report_reply__descriptor);
    if (out)
        out->result = rs_pb_report_result (res);
    json_decref (res);
    if (!out || !out->result) {
        if (out)
            protobuf_c_message_free_unpacked (&out->base, NULL);
        return s_error (d, reply, RS_E_NOMEM);
    }
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REPLY, out);
}

static int
s_on_facts (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    const Copilot__V1__EntityFactsRequest *fr = req->entity_facts_request;
    if (!fr || !fr->entity_type || !fr->entity_type[0] || !fr->entity_id || !fr->entity_id[0]) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "entity", "entity_type and entity_id are required");
        return -1;
    }
    if (!d->eng && !s_open_engine (d))
        return s_error (d, reply, RS_E_DB);
    rs_param_t p[64];
    if (s_params (fr->params, fr->n_params, p, 64) != 0) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "params", "too many parameters (max 64)");
        return -1;
    }
    json_t *f = NULL;
    int rc = rs_engine_entity_facts (d->eng, fr->entity_type, fr->entity_id, p, fr->n_params, &f);
    if (rc != 0)
        return s_error (d, reply, rc);
    Copilot__V1__EntityFactsReply *out = rs_pb_facts (f);
    json_decref (f);
    if (!out)
        return s_error (d, reply, RS_E_NOMEM);
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REPLY, out);
}

/* ----------------------------------------------------------------- events */
static bool
s_same_db (const char *a, const char *b)
{
    if (!b || !*b)
        return true;
    char ra[PATH_MAX], rb[PATH_MAX];
    if (!realpath (a, ra) || !realpath (b, rb))
        return strcmp (a, b) == 0;
    return strcmp (ra, rb) == 0;
}

static void
s_on_data_changed (svc_t *svc, const char *topic, const env_t *ev, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    const char *path = NULL;
    if (ev->body_case == COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED && ev->data_changed)
        path = ev->data_changed->db_path;
    if (!s_same_db (d->db_path, path)) {
        log_debug ("reports.ignore", "%s for another database (%s)", topic, path);
        return;
    }
    metric_inc (d->m_invalidations);
    if (!d->eng && !s_open_engine (d))
        return;
    rs_engine_invalidate (d->eng);
    log_info ("reports.invalidate", "%s: cache dropped, data version %s", topic,
              rs_engine_data_version (d->eng) ? rs_engine_data_version (d->eng) : "?");
    s_detect_and_publish (d, "data.changed");
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
    d.m_run_seconds = metrics_histogram (m, "copilot_report_run_duration_seconds", "RunReport time (successful).", lbl, NULL, 0);
    if (!d.db_path || !d.m_runs || !d.m_errors || !d.m_cache_hits || !d.m_alerts || !d.m_invalidations || !d.m_run_seconds) {
        log_error ("startup", "out of memory");
        free (d.db_path);
        svc_destroy (&svc);
        return PROC_EXIT_FAILURE;
    }
    if (d.alerts && s_state_open (&d) != 0) {
        fprintf (stderr, SERVICE ": cannot open the state file %s\n", d.state_path);
        free (d.db_path);
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_LIST_REPORTS_REQUEST, s_on_list, &d);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, s_on_run, &d);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_ENTITY_FACTS_REQUEST, s_on_facts, &d);
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
    rs_engine_destroy (&d.eng);
    db_close (&d.state);
    free (d.db_path);
    return rc;
}
