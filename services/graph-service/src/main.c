/* main.c — the graph-service daemon.
 *
 * Serves Subgraph, Neighbors and Path (proto/copilot/v1/graph.proto) over
 * the svc scaffold from an in-memory gs_graph built from the telemetry
 * database (config `db.path`, env COPILOT_DB_PATH), opened read-only.
 *
 * Rebuilds: the graph is built off the loop thread with uv_queue_work (libuv
 * thread pool). A build is requested at start-up, on every `data.changed`
 * event for our database, and (debounced) when `alert.*` events bring new
 * anomalies. The worker only reads the database and its private copy of the
 * anomaly list; the finished graph is handed back to the after-work callback,
 * which runs on the loop thread and swaps the pointer. Requests are also
 * served on the loop thread, so no request ever sees a graph being freed: the
 * old graph is destroyed right after the swap, between two requests. At most
 * one build runs; requests for more while it runs coalesce into one follow-up
 * build. A failed rebuild keeps the previous graph (and is counted); until
 * the first graph exists the daemon is not ready and answers UNAVAILABLE,
 * retrying the load every few seconds.
 *
 * Anomalies: each Alert (published by the report-service) becomes a node
 * anomaly::<entity pk>:<date> linked to its entity (gs_builder_add_anomaly).
 * They are kept in a bounded table keyed by (entity, date) and re-added on
 * every rebuild.
 *
 * Snapshots (config `graph.snapshot_dir`, env COPILOT_GRAPH_SNAPSHOT_DIR;
 * empty = off): after every graph built from SQLite is swapped in, a second
 * work request writes it to <dir>/graph-<hash of db.path>.gsnap (atomic,
 * gs_snapshot_write). The first build at start-up (and its retries) first
 * tries that snapshot: when it is intact, of our database file and build
 * options, and its data key equals the database's current data_version (or
 * file state), the graph is loaded from it in seconds instead of rebuilt;
 * otherwise the rejection is logged with its reason (graph.snapshot_rejected)
 * and the graph is built from SQLite as before. The anomaly table is
 * restored from the loaded graph's anomaly nodes, so later rebuilds keep
 * them; a snapshot rejected only as stale (the database changed) still
 * gives its anomalies to the new build (alerts are published once). Readiness detail and metrics say where the graph came from
 * ("from snapshot" / "built"). A graph being written is never freed under
 * the writer: a swap during the write hands its destruction to the write's
 * completion callback.
 *
 * Shutdown: the on_stop hook raises the builder's cancel flag, so a long
 * build stops within a few thousand rows (a snapshot write within one 8 MiB
 * chunk, leaving the previous snapshot in place); the loop then finishes the
 * work request before closing.
 */
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "db.h"
#include "gs_graph.h"
#include "str.h"
#include "svc.h"

#define SERVICE "graph-service"
#define MAX_WEIGHTS 64
#define TEXT_CAP ((size_t) 2 << 20)
/* Build options recorded in snapshots: a snapshot is only loaded by a
 * daemon building the same way (default arena cap, same loader). */
#define SNAP_OPTIONS "graph-service max_arena=default"

typedef struct {
    char entity[256];   /* node id: job::J-FIN-DAILY */
    char date[11];
    double value;
    char summary[200];
} s_anomaly_t;

typedef struct _s_daemon_t s_daemon_t;

typedef struct {
    uv_work_t req;
    s_daemon_t *d;
    char *db_path;
    s_anomaly_t *anoms;
    size_t n_anoms;
    gs_graph_t *graph;
    int rc;
    char err[512];
    char reason[32];
    int64_t t0_ms;
    char *snap_path;            /* try this snapshot first (NULL = build) */
    bool from_snapshot;
    bool snap_rejected;
    size_t cap_anoms;
    int64_t max_anoms;
    size_t carried_anoms;       /* anomalies recovered from a stale snapshot */
} s_build_t;

typedef struct {
    uv_work_t req;
    s_daemon_t *d;
    gs_graph_t *graph;          /* borrowed from the daemon (see snap_orphan) */
    char *path;
    char *db_path;
    int rc;
    char err[512];
    int64_t t0_ms;
} s_write_t;

struct _s_daemon_t {
    svc_t *svc;
    char *db_path;
    gs_graph_t *graph;          /* current graph; loop thread only */
    bool building;
    bool pending;
    char pending_reason[32];
    atomic_int cancel;
    int64_t max_budget;
    int64_t debounce_ms;
    int64_t retry_ms;
    int debounce_timer;         /* timer id or 0 */
    int retry_timer;
    s_anomaly_t *anoms;
    size_t n_anoms, cap_anoms;
    int64_t max_anoms;
    char last_error[512];
    char *snap_path;            /* NULL: snapshots off */
    bool from_snapshot;         /* the current graph came from the snapshot */
    bool snap_current;          /* the current graph is on disk */
    gs_graph_t *snap_graph;     /* graph being written, or NULL */
    bool snap_orphan;           /* snap_graph was swapped out: free it when written */
    bool snap_pending;          /* write the current graph when the writer is free */
    metric_t *m_snap_loaded, *m_snap_rejected, *m_snap_written, *m_snap_current;
    metric_t *m_nodes, *m_edges, *m_builds_ok, *m_builds_failed, *m_build_seconds, *m_anomalies, *m_dangling;
};

static void s_request_build (s_daemon_t *d, const char *reason);
static size_t s_anoms_from_graph (const gs_graph_t *g, s_anomaly_t **arr, size_t *n_p, size_t *cap_p, int64_t max);

/* ------------------------------------------------------------------ build */

static void
s_build_work (uv_work_t *req)
{
    s_build_t *b = req->data;
    if (b->snap_path != NULL) {
        char serr[512] = "";
        int64_t t0 = clock_mono_ms ();
        int src = gs_snapshot_load (b->snap_path, b->db_path, SNAP_OPTIONS, &b->graph, serr, sizeof serr);
        if (src == GS_OK) {
            b->from_snapshot = true;
            b->rc = GS_OK;
            log_info ("graph.snapshot_loaded", "graph %s loaded from snapshot %s in %.3f s",
                      gs_graph_version (b->graph), b->snap_path, (double) (clock_mono_ms () - t0) / 1000.0);
            return;
        }
        if (src == GS_E_IO && access (b->snap_path, F_OK) != 0) {
            log_info ("graph.snapshot_none", "no snapshot at %s yet; building from SQLite", b->snap_path);
        } else {
            log_warn ("graph.snapshot_rejected", "%s [%s]; building from SQLite", serr, gs_strerror (src));
            b->snap_rejected = true;
        }
        /* The database changed since the snapshot, but the anomalies it holds
         * (from alerts, which are published once) are still ours: carry them
         * into the new build. */
        if (src == GS_E_SNAP_STALE) {
            gs_graph_t *old = NULL;
            if (gs_snapshot_load_ex (b->snap_path, b->db_path, SNAP_OPTIONS, GS_SNAP_ALLOW_STALE, &old, serr,
                                     sizeof serr) == GS_OK) {
                b->carried_anoms = s_anoms_from_graph (old, &b->anoms, &b->n_anoms, &b->cap_anoms, b->max_anoms);
                log_info ("graph.snapshot_anomalies", "%zu anomalies carried over from the stale snapshot",
                          b->carried_anoms);
            }
            gs_graph_destroy (&old);
        }
    }
    gs_builder_t *bl = gs_builder_new (0);
    if (bl == NULL) {
        b->rc = GS_E_NOMEM;
        snprintf (b->err, sizeof b->err, "out of memory");
        return;
    }
    gs_builder_set_cancel (bl, &b->d->cancel);
    b->rc = gs_builder_load_db (bl, b->db_path, b->err, sizeof b->err);
    if (b->rc == GS_OK)
        for (size_t k = 0; k < b->n_anoms; k++)
            (void) gs_builder_add_anomaly (bl, b->anoms[k].entity, b->anoms[k].date, b->anoms[k].value,
                                           b->anoms[k].summary);   /* unknown entity: counted as dangling */
    if (b->rc != GS_OK) {
        gs_builder_destroy (&bl);
        return;
    }
    b->graph = gs_builder_finish (&bl, b->err, sizeof b->err);
    if (b->graph == NULL)
        b->rc = GS_E_NOMEM;
}

/* --------------------------------------------------------------- snapshots */

static void s_request_write (s_daemon_t *d);

static void
s_write_work (uv_work_t *req)
{
    s_write_t *w = req->data;
    w->rc = gs_snapshot_write (w->graph, w->path, w->db_path, SNAP_OPTIONS, &w->d->cancel, w->err, sizeof w->err);
}

static void
s_write_done (uv_work_t *req, int status)
{
    (void) status;
    s_write_t *w = req->data;
    s_daemon_t *d = w->d;
    svc_release (d->svc);
    if (w->rc == GS_OK) {
        metric_inc (d->m_snap_written);
        log_info ("graph.snapshot_written", "snapshot of graph %s written to %s in %.3f s", gs_graph_version (w->graph),
                  w->path, (double) (clock_mono_ms () - w->t0_ms) / 1000.0);
        if (w->graph == d->graph) {
            d->snap_current = true;
            metric_set (d->m_snap_current, 1);
        }
    } else if (w->rc != GS_E_CANCELLED) {
        log_warn ("graph.snapshot_write_failed", "%s [%s]", w->err, gs_strerror (w->rc));
    }
    if (d->snap_orphan)
        gs_graph_destroy (&d->snap_graph);
    d->snap_graph = NULL;
    d->snap_orphan = false;
    free (w->path);
    free (w->db_path);
    free (w);
    if (d->snap_pending && !svc_stopping (d->svc)) {
        d->snap_pending = false;
        s_request_write (d);
    }
}

/* Writes the current graph to the snapshot file in the background (one
 * writer at a time; a request while one runs is remembered). */
static void
s_request_write (s_daemon_t *d)
{
    if (d->snap_path == NULL || d->graph == NULL || d->snap_current || svc_stopping (d->svc))
        return;
    if (d->snap_graph != NULL) {
        d->snap_pending = true;
        return;
    }
    s_write_t *w = calloc (1, sizeof *w);
    if (w == NULL || (w->path = str_dup (d->snap_path)) == NULL || (w->db_path = str_dup (d->db_path)) == NULL) {
        if (w)
            free (w->path);
        free (w);
        log_error ("graph.snapshot_write_failed", "out of memory starting a snapshot write");
        return;
    }
    w->d = d;
    w->graph = d->graph;
    w->req.data = w;
    w->t0_ms = clock_mono_ms ();
    if (uv_queue_work (svc_loop (d->svc), &w->req, s_write_work, s_write_done) != 0) {
        log_error ("graph.snapshot_write_failed", "uv_queue_work failed");
        free (w->path);
        free (w->db_path);
        free (w);
        return;
    }
    d->snap_graph = d->graph;
    svc_hold (d->svc);
}

/* Adds the anomalies of graph g (its anomaly nodes: "anomaly::<pk>:<date>"
 * → ANOMALY_OF entity, cost = value, detail = summary) to the table
 * (*arr, *n, *cap), keeping entries already there, at most `max` in all.
 * Returns how many were added. */
static size_t
s_anoms_from_graph (const gs_graph_t *g, s_anomaly_t **arr, size_t *n_p, size_t *cap_p, int64_t max)
{
    const uint32_t n = gs_graph_node_count (g);
    size_t added = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (gs_node_type (g, i) != GS_NT_ANOMALY)
            continue;
        const char *id = gs_node_id (g, i);
        size_t len = strlen (id);
        const uint32_t *nb;
        const uint8_t *et;
        uint32_t deg;
        gs_node_adjacency (g, i, &nb, &et, &deg);
        int64_t ent = -1;
        for (uint32_t k = 0; k < deg; k++)
            if (et[k] == GS_ET_ANOMALY_OF)
                ent = nb[k];
        if (ent < 0 || len < 11)
            continue;
        s_anomaly_t an = {0};
        if (str_copy (an.entity, sizeof an.entity, gs_node_id (g, (uint32_t) ent)) != 0
            || str_copy (an.date, sizeof an.date, id + len - 10) != 0)
            continue;
        an.value = gs_node_cost (g, i);
        str_copy (an.summary, sizeof an.summary, gs_node_detail (g, i));
        bool dup = false;
        for (size_t k = 0; k < *n_p && !dup; k++)
            dup = strcmp ((*arr)[k].entity, an.entity) == 0 && strcmp ((*arr)[k].date, an.date) == 0;
        if (dup || (int64_t) *n_p >= max)
            continue;
        if (*n_p == *cap_p) {
            size_t nc = *cap_p ? *cap_p * 2 : 64;
            s_anomaly_t *p = realloc (*arr, nc * sizeof *p);
            if (p == NULL)
                break;
            *arr = p;
            *cap_p = nc;
        }
        (*arr)[(*n_p)++] = an;
        added++;
    }
    return added;
}

/* Re-creates the anomaly table from a snapshot-loaded graph. Returns how
 * many entries of the table are not in the graph (alerts that arrived while
 * loading: they need a rebuild). */
static size_t
s_restore_anomalies (s_daemon_t *d, const gs_graph_t *g)
{
    s_anoms_from_graph (g, &d->anoms, &d->n_anoms, &d->cap_anoms, d->max_anoms);
    metric_set (d->m_anomalies, (double) d->n_anoms);
    gs_stats_t st;
    gs_graph_stats (g, &st);
    return d->n_anoms > st.nodes_by_type[GS_NT_ANOMALY] ? d->n_anoms - st.nodes_by_type[GS_NT_ANOMALY] : 0;
}

static void
s_ready_detail (s_daemon_t *d)
{
    char detail[256];
    if (d->graph) {
        gs_stats_t st;
        gs_graph_stats (d->graph, &st);
        snprintf (detail, sizeof detail, "[+]graph %u nodes, %llu edges, %s (%s)", st.nodes,
                  (unsigned long long) st.edges, gs_graph_version (d->graph),
                  d->from_snapshot ? "from snapshot" : "built");
        svc_set_ready (d->svc, true, detail);
    } else {
        snprintf (detail, sizeof detail, "[-]graph not loaded: %.200s", d->last_error[0] ? d->last_error : "loading");
        svc_set_ready (d->svc, false, detail);
    }
}

static void
s_retry (svc_t *svc, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    d->retry_timer = 0;
    if (d->graph == NULL)
        s_request_build (d, "retry");
}

static void
s_build_done (uv_work_t *req, int status)
{
    s_build_t *b = req->data;
    s_daemon_t *d = b->d;
    d->building = false;
    svc_release (d->svc);
    double secs = (double) (clock_mono_ms () - b->t0_ms) / 1000.0;
    if (status == UV_ECANCELED && b->rc == GS_OK && b->graph == NULL) {
        b->rc = GS_E_CANCELLED;
        snprintf (b->err, sizeof b->err, "build cancelled before it started");
    }
    if (b->snap_rejected)
        metric_inc (d->m_snap_rejected);
    if (svc_stopping (d->svc)) {
        gs_graph_destroy (&b->graph);
    } else if (b->rc == GS_OK && b->graph != NULL) {
        gs_graph_t *old = d->graph;
        d->graph = b->graph;   /* the swap: requests run on this thread too */
        b->graph = NULL;
        if (old != NULL && old == d->snap_graph)
            d->snap_orphan = true;   /* being written: the writer frees it */
        else
            gs_graph_destroy (&old);
        d->from_snapshot = b->from_snapshot;
        d->snap_current = b->from_snapshot;
        metric_set (d->m_snap_current, d->snap_current ? 1 : 0);
        metric_set (d->m_snap_loaded, d->from_snapshot ? 1 : 0);
        d->last_error[0] = '\0';
        gs_stats_t st;
        gs_graph_stats (d->graph, &st);
        metric_set (d->m_nodes, st.nodes);
        metric_set (d->m_edges, (double) st.edges);
        metric_set (d->m_dangling, (double) st.dangling);
        metric_inc (d->m_builds_ok);
        metric_observe (d->m_build_seconds, secs);
        log_info ("graph.built", "graph %s %s (%s) in %.3f s: %u nodes, %llu directed edges, %llu dangling dropped,"
                  " %zu anomalies offered",
                  gs_graph_version (d->graph), b->from_snapshot ? "loaded from snapshot" : "built", b->reason, secs,
                  st.nodes, (unsigned long long) st.edges, (unsigned long long) st.dangling, b->n_anoms);
        s_ready_detail (d);
        if (b->from_snapshot) {
            if (s_restore_anomalies (d, d->graph) > 0 && !d->pending) {
                d->pending = true;   /* alerts arrived while loading: rebuild with them */
                str_copy (d->pending_reason, sizeof d->pending_reason, "anomalies");
            }
        } else {
            if (b->carried_anoms > 0)
                s_restore_anomalies (d, d->graph);   /* the carried ones are in this graph */
            s_request_write (d);
        }
    } else {
        metric_inc (d->m_builds_failed);
        str_copy (d->last_error, sizeof d->last_error, b->err);
        log_error ("graph.build_failed", "graph build (%s) failed: %s (%s); %s", b->reason, b->err,
                   gs_strerror (b->rc), d->graph ? "keeping the previous graph" : "no graph yet, retrying");
        if (d->graph == NULL) {
            s_ready_detail (d);
            if (d->retry_timer == 0) {
                int id = svc_add_timer (d->svc, (uint64_t) d->retry_ms, 0, s_retry, d);
                d->retry_timer = id > 0 ? id : 0;
            }
        }
    }
    free (b->db_path);
    free (b->anoms);
    free (b->snap_path);
    free (b);
    if (d->pending && !svc_stopping (d->svc)) {
        d->pending = false;
        s_request_build (d, d->pending_reason);
    }
}

static void
s_request_build (s_daemon_t *d, const char *reason)
{
    if (svc_stopping (d->svc))
        return;
    if (d->building) {
        d->pending = true;
        str_copy (d->pending_reason, sizeof d->pending_reason, reason);
        return;
    }
    s_build_t *b = calloc (1, sizeof *b);
    if (b == NULL || (b->db_path = str_dup (d->db_path)) == NULL) {
        free (b);
        log_error ("graph.build_failed", "out of memory starting a graph build");
        return;
    }
    if (d->n_anoms > 0) {
        b->anoms = malloc (d->n_anoms * sizeof *b->anoms);
        if (b->anoms == NULL) {
            free (b->db_path);
            free (b);
            log_error ("graph.build_failed", "out of memory starting a graph build");
            return;
        }
        memcpy (b->anoms, d->anoms, d->n_anoms * sizeof *b->anoms);
        b->n_anoms = d->n_anoms;
        b->cap_anoms = d->n_anoms;
    }
    /* The snapshot is tried until the first graph exists (start-up and its
     * retries), never for rebuilds: those follow a data change. */
    if (d->snap_path != NULL && d->graph == NULL && (b->snap_path = str_dup (d->snap_path)) == NULL) {
        free (b->anoms);
        free (b->db_path);
        free (b);
        log_error ("graph.build_failed", "out of memory starting a graph build");
        return;
    }
    b->d = d;
    b->max_anoms = d->max_anoms;
    b->req.data = b;
    b->t0_ms = clock_mono_ms ();
    str_copy (b->reason, sizeof b->reason, reason);
    if (uv_queue_work (svc_loop (d->svc), &b->req, s_build_work, s_build_done) != 0) {
        log_error ("graph.build_failed", "uv_queue_work failed");
        free (b->anoms);
        free (b->db_path);
        free (b->snap_path);
        free (b);
        return;
    }
    d->building = true;
    svc_hold (d->svc);
    log_info ("graph.build", "building the graph from %s (%s)", d->db_path, reason);
}

/* ----------------------------------------------------------------- events */

static void
s_on_data_changed (svc_t *svc, const char *topic, const env_t *ev, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    const char *path = NULL, *version = NULL;
    if (ev->body_case == COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED && ev->data_changed) {
        path = ev->data_changed->db_path;
        version = ev->data_changed->data_version;
    }
    if (!db_same_file (d->db_path, path)) {
        log_debug ("graph.ignore", "%s for another database (%s)", topic, path);
        return;
    }
    /* Same data_version as the graph we serve and nothing queued: no-op. */
    if (version && *version && d->graph && !d->building && strcmp (version, gs_graph_data_version (d->graph)) == 0) {
        log_debug ("graph.ignore", "%s: data_version %s already loaded", topic, version);
        return;
    }
    s_request_build (d, "data.changed");
}

static void
s_debounced (svc_t *svc, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    d->debounce_timer = 0;
    s_request_build (d, "anomalies");
}

/* Node id of an alert's entity: "job::J-X" as is, else "<type>::<id>" with
 * the report-service's entity types mapped onto graph node types. */
static int
s_alert_entity (const Copilot__V1__Alert *a, char *out, size_t size)
{
    if (a->entity_id == NULL || a->entity_id[0] == '\0')
        return -1;
    if (strstr (a->entity_id, "::"))
        return str_copy (out, size, a->entity_id);
    const char *t = a->entity_type ? a->entity_type : "";
    const char *nt = NULL;
    if (str_ieq (t, "job"))
        nt = "job";
    else if (str_ieq (t, "compute") || str_ieq (t, "warehouse") || str_ieq (t, "cluster")
             || str_ieq (t, "sql_warehouse") || str_ieq (t, "apc_cluster"))
        nt = "compute";
    else if (str_ieq (t, "workspace"))
        nt = "workspace";
    else if (str_ieq (t, "user"))
        nt = "user";
    else if (str_ieq (t, "jobrun") || str_ieq (t, "run") || str_ieq (t, "job_run"))
        nt = "jobrun";
    if (nt == NULL)
        return -1;
    return str_fmt (out, size, "%s::%s", nt, a->entity_id);
}

static void
s_on_alert (svc_t *svc, const char *topic, const env_t *ev, void *arg)
{
    s_daemon_t *d = arg;
    if (ev->body_case != COPILOT__V1__ENVELOPE__BODY_ALERT || ev->alert == NULL)
        return;
    const Copilot__V1__Alert *a = ev->alert;
    s_anomaly_t an = {0};
    char probe[300];
    if (s_alert_entity (a, an.entity, sizeof an.entity) != 0 || a->date == NULL
        || str_copy (an.date, sizeof an.date, a->date) != 0
        || gs_anomaly_id (an.entity, an.date, probe, sizeof probe) != GS_OK) {
        log_warn ("graph.alert_ignored", "%s: alert %s has no usable entity/date (%s %s %s)", topic,
                  a->alert_id ? a->alert_id : "?", a->entity_type ? a->entity_type : "", a->entity_id ? a->entity_id : "",
                  a->date ? a->date : "");
        return;
    }
    an.value = a->value;
    if (a->message && a->message[0])
        str_copy (an.summary, sizeof an.summary, a->message);
    else
        str_fmt (an.summary, sizeof an.summary, "%s: value %.2f vs expected %.2f (z %.1f)",
                 a->severity ? a->severity : "anomaly", a->value, a->expected, a->z_score);
    for (size_t k = 0; k < d->n_anoms; k++)
        if (strcmp (d->anoms[k].entity, an.entity) == 0 && strcmp (d->anoms[k].date, an.date) == 0) {
            d->anoms[k] = an;   /* refreshed summary; the node id is the same */
            return;
        }
    if ((int64_t) d->n_anoms >= d->max_anoms) {
        log_warn ("graph.alert_dropped", "anomaly table full (%lld); dropping %s", (long long) d->max_anoms, probe);
        return;
    }
    if (d->n_anoms == d->cap_anoms) {
        size_t nc = d->cap_anoms ? d->cap_anoms * 2 : 64;
        s_anomaly_t *p = realloc (d->anoms, nc * sizeof *p);
        if (p == NULL)
            return;
        d->anoms = p;
        d->cap_anoms = nc;
    }
    d->anoms[d->n_anoms++] = an;
    metric_set (d->m_anomalies, (double) d->n_anoms);
    if (d->debounce_timer == 0) {
        int id = svc_add_timer (svc, (uint64_t) d->debounce_ms, 0, s_debounced, d);
        d->debounce_timer = id > 0 ? id : 0;
    }
}

static void
s_on_stop (svc_t *svc, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    atomic_store (&d->cancel, 1);
}

/* --------------------------------------------------------------- handlers */

static Copilot__V1__ErrorCode
s_code (int rc)
{
    switch (rc) {
    case GS_E_NOTFOUND: return COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND;
    case GS_E_INVALID: return COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT;
    case GS_E_TOOBIG: return COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED;
    case GS_E_NOMEM: return COPILOT__V1__ERROR_CODE__ERROR_RESOURCE_EXHAUSTED;
    default: return COPILOT__V1__ERROR_CODE__ERROR_INTERNAL;
    }
}

static int
s_unavailable (s_daemon_t *d, env_t *reply)
{
    env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE, "graph",
                   "the graph is not loaded yet (%s)", d->last_error[0] ? d->last_error : "first build in progress");
    return -1;
}

static int
s_add_param (Copilot__V1__GraphNode *n, const char *key, const char *value)
{
    Copilot__V1__Param *p = env_msg_new (&copilot__v1__param__descriptor);
    if (p == NULL || env_set_str (&p->key, key) || env_set_str (&p->value, value)) {
        if (p)
            protobuf_c_message_free_unpacked (&p->base, NULL);
        return -1;
    }
    if (ENV_APPEND (n->props, n->n_props, p) != 0) {
        protobuf_c_message_free_unpacked (&p->base, NULL);
        return -1;
    }
    return 0;
}

static Copilot__V1__GraphNode *
s_node_msg (const gs_graph_t *g, const gs_hit_t *h, bool ranked)
{
    Copilot__V1__GraphNode *n = env_msg_new (&copilot__v1__graph_node__descriptor);
    if (n == NULL)
        return NULL;
    uint32_t i = h->node;
    char tmp[64];
    int bad = env_set_str (&n->id, gs_node_id (g, i)) || env_set_str (&n->type, gs_node_type_name (gs_node_type (g, i)))
              || env_set_str (&n->label, gs_node_label (g, i));
    n->score = h->score;
    if (!bad && gs_node_cost (g, i) > 0) {
        snprintf (tmp, sizeof tmp, "%.2f", gs_node_cost (g, i));
        bad = s_add_param (n, "cost_usd", tmp);
    }
    if (!bad && gs_node_ts (g, i) > 0) {
        snprintf (tmp, sizeof tmp, "%lld", (long long) gs_node_ts (g, i));
        bad = s_add_param (n, "ts_unix", tmp);
    }
    if (!bad && gs_node_detail (g, i)[0])
        bad = s_add_param (n, "detail", gs_node_detail (g, i));
    if (!bad && ranked) {
        snprintf (tmp, sizeof tmp, "%u", (unsigned) h->hop);
        bad = s_add_param (n, "hop", tmp);
        if (!bad && h->parent >= 0) {
            bad = s_add_param (n, "parent", gs_node_id (g, (uint32_t) h->parent))
                  || s_add_param (n, "via", gs_edge_type_name ((gs_edge_type_t) h->via));
        }
    }
    if (bad) {
        protobuf_c_message_free_unpacked (&n->base, NULL);
        return NULL;
    }
    return n;
}

/* Fills (nodes, edges) of a reply from a result. 0 or -1 (OOM). */
static int
s_fill (const gs_graph_t *g, const gs_result_t *r, bool ranked, Copilot__V1__GraphNode ***nodes, size_t *n_nodes,
        Copilot__V1__GraphEdge ***edges, size_t *n_edges)
{
    for (size_t k = 0; k < r->n_nodes; k++) {
        Copilot__V1__GraphNode *n = s_node_msg (g, &r->nodes[k], ranked);
        if (n == NULL)
            return -1;
        if (ENV_APPEND (*nodes, *n_nodes, n) != 0) {
            protobuf_c_message_free_unpacked (&n->base, NULL);
            return -1;
        }
    }
    for (size_t k = 0; k < r->n_edges; k++) {
        Copilot__V1__GraphEdge *e = env_msg_new (&copilot__v1__graph_edge__descriptor);
        if (e == NULL)
            return -1;
        if (env_set_str (&e->src, gs_node_id (g, r->edges[k].src)) || env_set_str (&e->dst, gs_node_id (g, r->edges[k].dst))
            || env_set_str (&e->type, gs_edge_type_name ((gs_edge_type_t) r->edges[k].type))
            || ENV_APPEND (*edges, *n_edges, e) != 0) {
            protobuf_c_message_free_unpacked (&e->base, NULL);
            return -1;
        }
    }
    return 0;
}

static int
s_on_subgraph (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    const Copilot__V1__SubgraphRequest *rq = req->subgraph_request;
    if (d->graph == NULL)
        return s_unavailable (d, reply);
    if (rq == NULL || rq->n_anchors == 0) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "anchors", "at least one anchor node id is required");
        return -1;
    }
    if (rq->n_weights > MAX_WEIGHTS) {
        env_set_error (reply, COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT, "weights", "at most %d edge weights", MAX_WEIGHTS);
        return -1;
    }
    gs_weight_t w[MAX_WEIGHTS];
    for (size_t k = 0; k < rq->n_weights; k++)
        w[k] = (gs_weight_t) {rq->weights[k]->edge_type, rq->weights[k]->weight};
    unsigned budget = rq->node_budget;
    if ((int64_t) budget > d->max_budget)
        budget = (unsigned) d->max_budget;
    gs_subgraph_params_t p = {(const char *const *) rq->anchors, rq->n_anchors, rq->hops, budget, w, rq->n_weights, 0};
    gs_result_t *r = NULL;
    char err[512];
    int rc = gs_subgraph (d->graph, &p, &r, err, sizeof err);
    if (rc != GS_OK) {
        env_set_error (reply, s_code (rc), rc == GS_E_NOTFOUND ? "anchors" : NULL, "%s", err);
        return -1;
    }
    Copilot__V1__SubgraphReply *out = env_msg_new (&copilot__v1__subgraph_reply__descriptor);
    buf_t *text = buf_new (TEXT_CAP);
    int bad = out == NULL || text == NULL;
    if (!bad)
        bad = s_fill (d->graph, r, true, &out->nodes, &out->n_nodes, &out->edges, &out->n_edges);
    if (!bad) {
        (void) gs_render_text (d->graph, r, text);   /* on cap: cut with "... (N more)" */
        const char *dv = gs_graph_data_version (d->graph);
        bad = env_set_str (&out->text, buf_data (text)) || env_set_str (&out->data_version, *dv ? dv : gs_graph_version (d->graph));
    }
    buf_destroy (&text);
    gs_result_destroy (&r);
    if (bad) {
        if (out)
            protobuf_c_message_free_unpacked (&out->base, NULL);
        return -1;
    }
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_SUBGRAPH_REPLY, out);
}

static int
s_on_neighbors (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    const Copilot__V1__NeighborsRequest *rq = req->neighbors_request;
    if (d->graph == NULL)
        return s_unavailable (d, reply);
    gs_result_t *r = NULL;
    char err[512];
    int rc = gs_neighbors (d->graph, rq ? rq->id : NULL, rq ? rq->edge_type : NULL, rq ? rq->limit : 0, &r, err, sizeof err);
    if (rc != GS_OK) {
        env_set_error (reply, s_code (rc), rc == GS_E_NOTFOUND ? "id" : "edge_type", "%s", err);
        return -1;
    }
    Copilot__V1__NeighborsReply *out = env_msg_new (&copilot__v1__neighbors_reply__descriptor);
    int bad = out == NULL || s_fill (d->graph, r, false, &out->nodes, &out->n_nodes, &out->edges, &out->n_edges);
    gs_result_destroy (&r);
    if (bad) {
        if (out)
            protobuf_c_message_free_unpacked (&out->base, NULL);
        return -1;
    }
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_NEIGHBORS_REPLY, out);
}

static int
s_on_path (svc_t *svc, const env_t *req, env_t *reply, void *arg)
{
    (void) svc;
    s_daemon_t *d = arg;
    const Copilot__V1__PathRequest *rq = req->path_request;
    if (d->graph == NULL)
        return s_unavailable (d, reply);
    gs_result_t *r = NULL;
    char err[512];
    int rc = gs_path (d->graph, rq ? rq->from : NULL, rq ? rq->to : NULL, rq ? rq->max_hops : 0, &r, err, sizeof err);
    if (rc != GS_OK) {
        env_set_error (reply, s_code (rc), "from/to", "%s", err);
        return -1;
    }
    Copilot__V1__PathReply *out = env_msg_new (&copilot__v1__path_reply__descriptor);
    int bad = out == NULL || s_fill (d->graph, r, false, &out->nodes, &out->n_nodes, &out->edges, &out->n_edges);
    if (!bad)
        out->found = r->n_nodes > 0;
    gs_result_destroy (&r);
    if (bad) {
        if (out)
            protobuf_c_message_free_unpacked (&out->base, NULL);
        return -1;
    }
    return env_set_body (reply, COPILOT__V1__ENVELOPE__BODY_PATH_REPLY, out);
}

/* ------------------------------------------------------------------- main */

int
main (int argc, char **argv)
{
    int rc;
    svc_t *svc = svc_new (SERVICE, argc, argv, &rc);
    if (svc == NULL)
        return rc;
    cfg_t *cfg = svc_cfg (svc);
    s_daemon_t d = {.svc = svc};
    atomic_init (&d.cancel, 0);
    const char *db = NULL, *snap_dir = NULL;
    if (cfg_require (cfg, "db.path", &db) != 0
        || cfg_str (cfg, "graph.snapshot_dir", "", &snap_dir) != 0
        || cfg_int (cfg, "graph_service.max_budget", 1000, 1, GS_MAX_BUDGET, &d.max_budget) != 0
        || cfg_int (cfg, "graph_service.debounce_ms", 250, 0, 600000, &d.debounce_ms) != 0
        || cfg_int (cfg, "graph_service.retry_ms", 3000, 100, 3600000, &d.retry_ms) != 0
        || cfg_int (cfg, "graph_service.max_anomalies", 20000, 0, 10000000, &d.max_anoms) != 0) {
        log_error ("config", "%s", cfg_error (cfg));
        fprintf (stderr, "graph-service: %s\n", cfg_error (cfg));
        svc_destroy (&svc);
        return PROC_EXIT_CONFIG;
    }
    d.db_path = str_dup (db);
    if (snap_dir != NULL && snap_dir[0] != '\0') {
        /* One file per database path (FNV-1a of the configured path); the
         * header still checks the real path, device and inode. */
        uint64_t h = 1469598103934665603ull;
        for (const char *p = db; *p; p++) {
            h ^= (unsigned char) *p;
            h *= 1099511628211ull;
        }
        char path[PATH_MAX];
        if (str_fmt (path, sizeof path, "%s/graph-%016llx.gsnap", snap_dir, (unsigned long long) h) != 0) {
            log_error ("config", "graph.snapshot_dir too long: %s", snap_dir);
            svc_destroy (&svc);
            free (d.db_path);
            return PROC_EXIT_CONFIG;
        }
        d.snap_path = str_dup (path);
        log_info ("graph.snapshot_dir", "graph snapshots at %s", path);
    }
    metrics_t *m = svc_metrics (svc);
    const char *lbl = "service=\"graph-service\"";
    d.m_nodes = metrics_gauge (m, "copilot_graph_nodes", "Nodes in the current graph.", lbl);
    d.m_edges = metrics_gauge (m, "copilot_graph_edges", "Directed edges in the current graph.", lbl);
    d.m_dangling = metrics_gauge (m, "copilot_graph_dangling_edges", "Relation pairs dropped because an endpoint is missing.", lbl);
    d.m_anomalies = metrics_gauge (m, "copilot_graph_anomalies", "Anomalies received from alerts.", lbl);
    d.m_builds_ok = metrics_counter (m, "copilot_graph_builds_total", "Graph builds that replaced the graph.", lbl);
    d.m_builds_failed = metrics_counter (m, "copilot_graph_build_failures_total", "Graph builds that failed.", lbl);
    d.m_build_seconds = metrics_histogram (m, "copilot_graph_build_duration_seconds", "Graph build time.", lbl, NULL, 0);
    d.m_snap_loaded = metrics_gauge (m, "copilot_graph_from_snapshot", "1 when the current graph was loaded from the snapshot.", lbl);
    d.m_snap_current = metrics_gauge (m, "copilot_graph_snapshot_current", "1 when the current graph is saved in the snapshot.", lbl);
    d.m_snap_written = metrics_counter (m, "copilot_graph_snapshot_writes_total", "Snapshots written.", lbl);
    d.m_snap_rejected = metrics_counter (m, "copilot_graph_snapshot_rejects_total", "Snapshots rejected at start-up (corrupt, foreign, stale).", lbl);
    if (d.db_path == NULL || !d.m_snap_loaded || !d.m_snap_current || !d.m_snap_written || !d.m_snap_rejected || !d.m_nodes || !d.m_edges || !d.m_dangling || !d.m_anomalies || !d.m_builds_ok
        || !d.m_builds_failed || !d.m_build_seconds) {
        log_error ("startup", "out of memory");
        free (d.db_path);
        svc_destroy (&svc);
        return PROC_EXIT_FAILURE;
    }
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_SUBGRAPH_REQUEST, s_on_subgraph, &d);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_NEIGHBORS_REQUEST, s_on_neighbors, &d);
    svc_on (svc, COPILOT__V1__ENVELOPE__BODY_PATH_REQUEST, s_on_path, &d);
    svc_on_stop (svc, s_on_stop, &d);
    if (svc_subscribe (svc, "data.changed", s_on_data_changed, &d) != 0
        || svc_subscribe (svc, "alert.", s_on_alert, &d) != 0)
        log_warn ("graph.subscribe", "cannot subscribe to the event bus; rebuilds happen only at start-up");
    svc_set_ready (svc, false, "[-]graph loading");
    s_request_build (&d, "start-up");
    rc = svc_run (svc);
    svc_destroy (&svc);
    /* A snapshot write still running after the drain period (it stops at its
     * next chunk) may still read its graph: leave that one to process exit. */
    if (d.snap_graph == NULL || (d.snap_orphan && d.snap_graph != d.graph))
        gs_graph_destroy (&d.graph);
    free (d.anoms);
    free (d.db_path);
    free (d.snap_path);
    return rc;
}
