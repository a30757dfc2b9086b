/* gs_load.c — fills a gs_builder_t from the telemetry database (read-only).
 *
 * Tables are read in dependency order so that every edge's endpoints already
 * exist when the row that names them is read: workspace, users_lookup, jobs,
 * non_job_compute, job_runs, compute_usage, eviction_details, events,
 * sql_query_history, then the optional additions (job_dependencies — or, on
 * an unmigrated reference DB, "DEPENDS ON: J-A, J-B" parsed from job
 * descriptions — and config_changes). An edge naming a missing row (the
 * fixture's two CLUSTER_START events of SKIPPED runs point at usage ids that
 * do not exist) is dropped and counted per relation; a row with a NULL or
 * oversized key is skipped and counted. Nothing here depends on row order:
 * the builder sorts everything at finish.
 *
 * All reads happen inside one read transaction, so a writer committing
 * meanwhile cannot give the graph half of its changes.
 *
 * Cold page cache: the scans fault pages in one at a time (random-looking
 * I/O, most of a cold large build was waiting on the disk). A helper thread
 * therefore walks the database file front to back with
 * posix_fadvise(WILLNEED) in 16 MiB steps (files over 64 MiB only): the
 * reads become sequential read-ahead at disk speed while the loader thread
 * parses. It only warms the page cache, so results
 * cannot depend on its timing; it stops when the load ends.
 *
 * Labels and details are short human texts chosen for the one-line rendering
 * (gs_render_node); cost and time are kept as numbers, not text.
 */
#include "gs_internal.h"

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "str.h"

/* Last resolved target of one relation: rows arrive clustered by parent
 * (a job's runs, a run's events, the system user of every event), so most
 * target lookups repeat the previous one and skip the hash table. */
typedef struct {
    char key[GS_ID_MAX];
    uint32_t idx;
    bool valid;
} s_memo_t;

typedef struct {
    gs_builder_t *b;
    sqlite3 *h;
    char *err;
    size_t errsz;
    /* the node added by the last s_node call (edge sources are that row) */
    const char *src_pk;
    gs_node_type_t src_type;
    uint32_t src_idx;
    bool src_valid;
    s_memo_t memo[GS_REL__COUNT];
} s_ctx_t;

static const char *
s_col (sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text (st, i);
    return t ? (const char *) t : NULL;
}

static bool
s_has (sqlite3_stmt *st, int i)
{
    return sqlite3_column_type (st, i) != SQLITE_NULL;
}

static bool
s_table_exists (s_ctx_t *c, const char *name)
{
    sqlite3_stmt *st = NULL;
    bool yes = false;
    if (sqlite3_prepare_v2 (c->h, "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?1",
                            -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text (st, 1, name, -1, SQLITE_STATIC);
        yes = sqlite3_step (st) == SQLITE_ROW;
    }
    sqlite3_finalize (st);
    return yes;
}

/* Builds "<type>::<pk>" into out; false when pk is NULL/empty or too long. */
static bool
s_id (char *out, size_t size, gs_node_type_t t, const char *pk)
{
    if (pk == NULL || *pk == '\0')
        return false;
    const char *tn = gs_node_type_name (t);
    size_t tl = strlen (tn), pl = strlen (pk);
    if (tl + 2 + pl >= size)
        return false;
    memcpy (out, tn, tl);
    memcpy (out + tl, "::", 2);
    memcpy (out + tl + 2, pk, pl + 1);
    return true;
}

/* Hints the id index about a lookup coming soon (the row's edge target). */
static void
s_prefetch (s_ctx_t *c, gs_node_type_t t, const char *pk)
{
    char z[GS_ID_MAX];
    if (s_id (z, sizeof z, t, pk))
        gs__builder_prefetch (c->b, z);
}

/* Adds a node; data problems (duplicate, oversized) skip the row. Returns 0
 * (added), 1 (skipped) or a negative fatal code. */
static int
s_node (s_ctx_t *c, gs_node_type_t t, const char *pk, const char *label, const char *detail, double cost,
        const char *ts_text, unsigned flags)
{
    int64_t ts = 0;
    c->src_valid = false;
    if ((++c->b->rows_read & 4095) == 1 && c->b->cancel != NULL && atomic_load (c->b->cancel) != 0)
        return gs__err (c->err, c->errsz, GS_E_CANCELLED, "graph build cancelled");
    if (pk == NULL || *pk == '\0' || strlen (pk) + strlen (gs_node_type_name (t)) + 3 > GS_ID_MAX) {
        c->b->stats.rows_skipped++;
        return 1;
    }
    if (ts_text != NULL && gs__parse_ts (ts_text, &ts) != 0)
        ts = 0;
    int rc = gs_builder_add_node (c->b, t, pk, label, detail, cost, ts, flags);
    if (rc == GS_OK) {
        c->src_valid = true;
        c->src_type = t;
        c->src_pk = pk;
        c->src_idx = c->b->n - 1;
        return 0;
    }
    if (rc == GS_E_DUPLICATE || rc == GS_E_INVALID) {
        c->b->stats.rows_skipped++;
        return 1;
    }
    return gs__err (c->err, c->errsz, rc, "building %s nodes: %s", gs_node_type_name (t), gs_strerror (rc));
}

/* Adds relation rel from (st, spk) to (dt, dpk); a NULL pk is "no edge"
 * (not dangling), a missing node is dangling. Returns 0 or a fatal code. */
static int
s_edge (s_ctx_t *c, gs_node_type_t st, const char *spk, gs_node_type_t dt, const char *dpk, gs_rel_t rel)
{
    char a[GS_ID_MAX], z[GS_ID_MAX];
    if (dpk == NULL || *dpk == '\0' || spk == NULL)
        return 0;
    uint32_t ia, iz;
    if (c->src_valid && c->src_type == st && (c->src_pk == spk || strcmp (c->src_pk, spk) == 0))
        ia = c->src_idx;
    else if (!s_id (a, sizeof a, st, spk) || gs__builder_find (c->b, a, &ia) != GS_OK) {
        gs__builder_dangling (c->b, rel);
        return 0;
    }
    if (!s_id (z, sizeof z, dt, dpk)) {
        gs__builder_dangling (c->b, rel);
        return 0;
    }
    s_memo_t *m = &c->memo[rel];
    if (m->valid && strcmp (m->key, z) == 0)
        iz = m->idx;
    else if (gs__builder_find (c->b, z, &iz) == GS_OK) {
        memcpy (m->key, z, strlen (z) + 1);
        m->idx = iz;
        m->valid = true;
    } else {
        gs__builder_dangling (c->b, rel);
        return 0;
    }
    if (ia == iz)
        return 0;
    int rc = gs__builder_add_pair (c->b, ia, iz, rel);
    return rc == GS_OK ? 0 : gs__err (c->err, c->errsz, rc, "adding %s edges: %s", gs_rel_name (rel), gs_strerror (rc));
}

static int
s_prepare (s_ctx_t *c, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2 (c->h, sql, -1, st, NULL) != SQLITE_OK)
        return gs__err (c->err, c->errsz, GS_E_DB, "sqlite prepare failed: %s (in: %.60s)", sqlite3_errmsg (c->h), sql);
    return 0;
}

static int
s_step_done (s_ctx_t *c, sqlite3_stmt *st, int step_rc, const char *what)
{
    int rc = 0;
    if (step_rc != SQLITE_DONE)
        rc = gs__err (c->err, c->errsz, GS_E_DB, "reading %s: %s", what, sqlite3_errmsg (c->h));
    sqlite3_finalize (st);
    return rc;
}

/* "[\"Finance\",\"Critical\"]" → "Finance, Critical" (plain text kept). */
static void
s_tags_text (const char *raw, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    if (raw == NULL)
        return;
    bool sep = false;
    for (const char *p = raw; *p && o + 3 < size; p++) {
        if (*p == '[' || *p == ']' || *p == '"' || *p == '{' || *p == '}')
            continue;
        if (*p == ',') {
            sep = true;
            continue;
        }
        if (*p == ' ' && (o == 0 || sep))
            continue;
        if (sep && o > 0) {
            out[o++] = ',';
            out[o++] = ' ';
        }
        sep = false;
        out[o++] = *p;
    }
    out[o] = '\0';
}

static void
s_append (char *out, size_t size, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

/* Appends "; <formatted>" (or just the text when out is empty). Truncation is
 * fine: the builder caps details anyway. */
static void
s_append (char *out, size_t size, const char *fmt, ...)
{
    size_t n = strlen (out);
    if (n + 3 >= size)
        return;
    if (n > 0) {
        out[n++] = ';';
        out[n++] = ' ';
        out[n] = '\0';
    }
    va_list ap;
    va_start (ap, fmt);
    int w = vsnprintf (out + n, size - n, fmt, ap);
    va_end (ap);
    if (w < 0)
        out[n] = '\0';
}

/* ------------------------------------------------------------ per table */

static int
s_load_workspaces (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc = s_prepare (c, "SELECT workspace_id, workspace_name, account_id, description FROM workspace", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        char det[GS_DETAIL_MAX] = "";
        if (s_col (st, 2))
            s_append (det, sizeof det, "account %s", s_col (st, 2));
        if (s_col (st, 3))
            s_append (det, sizeof det, "%s", s_col (st, 3));
        int r = s_node (c, GS_NT_WORKSPACE, s_col (st, 0), s_col (st, 1), det, 0, NULL, 0);
        if (r < 0) {
            sqlite3_finalize (st);
            return r;
        }
    }
    return s_step_done (c, st, rc, "workspace");
}

static int
s_load_users (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc = s_prepare (c, "SELECT user_id, name, workspace_id, department FROM users_lookup", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *id = s_col (st, 0);
        char det[GS_DETAIL_MAX] = "";
        if (s_col (st, 3))
            s_append (det, sizeof det, "department %s", s_col (st, 3));
        int r = s_node (c, GS_NT_USER, id, s_col (st, 1), det, 0, NULL, 0);
        if (r == 0)
            r = s_edge (c, GS_NT_USER, id, GS_NT_WORKSPACE, s_col (st, 2), GS_REL_USER_WORKSPACE);
        if (r < 0) {
            sqlite3_finalize (st);
            return r;
        }
    }
    return s_step_done (c, st, rc, "users_lookup");
}

static int
s_load_jobs (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc = s_prepare (c, "SELECT job_id, job_name, workspace_id, tags, description FROM jobs", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *id = s_col (st, 0);
        char det[GS_DETAIL_MAX] = "", tags[GS_DETAIL_MAX];
        s_tags_text (s_col (st, 3), tags, sizeof tags);
        s_append (det, sizeof det, "tags %s", tags[0] ? tags : "(none)");
        if (s_col (st, 4))
            s_append (det, sizeof det, "%s", s_col (st, 4));
        int r = s_node (c, GS_NT_JOB, id, s_col (st, 1), det, 0, NULL, 0);
        if (r == 0)
            r = s_edge (c, GS_NT_JOB, id, GS_NT_WORKSPACE, s_col (st, 2), GS_REL_JOB_WORKSPACE);
        if (r < 0) {
            sqlite3_finalize (st);
            return r;
        }
    }
    return s_step_done (c, st, rc, "jobs");
}

static int
s_load_compute (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc = s_prepare (c, "SELECT compute_id, compute_name, compute_type, workspace_id FROM non_job_compute", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *id = s_col (st, 0);
        int r = s_node (c, GS_NT_COMPUTE, id, s_col (st, 1), s_col (st, 2), 0, NULL, 0);
        if (r == 0)
            r = s_edge (c, GS_NT_COMPUTE, id, GS_NT_WORKSPACE, s_col (st, 3), GS_REL_COMPUTE_WORKSPACE);
        if (r < 0) {
            sqlite3_finalize (st);
            return r;
        }
    }
    return s_step_done (c, st, rc, "non_job_compute");
}

static int
s_load_runs (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc = s_prepare (c,
                        "SELECT job_run_id, job_id, start_time, duration_ms, run_status, error_summary,"
                        " worker_instance_type, fixed_nodes, min_nodes, max_nodes, is_autoscaling_enabled,"
                        " spot_ratio FROM job_runs",
                        &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *id = s_col (st, 0), *job = s_col (st, 1), *status = s_col (st, 4);
        char label[GS_LABEL_MAX], det[GS_DETAIL_MAX] = "";
        snprintf (label, sizeof label, "%s run of %s", status ? status : "UNKNOWN", job ? job : "?");
        if (s_has (st, 3))
            s_append (det, sizeof det, "%.1f min", sqlite3_column_double (st, 3) / 60000.0);
        if (s_col (st, 6)) {
            if (sqlite3_column_int (st, 10) && s_has (st, 8) && s_has (st, 9))
                s_append (det, sizeof det, "%s autoscale %d-%d", s_col (st, 6), sqlite3_column_int (st, 8),
                          sqlite3_column_int (st, 9));
            else if (s_has (st, 7))
                s_append (det, sizeof det, "%s x%d", s_col (st, 6), sqlite3_column_int (st, 7));
            else
                s_append (det, sizeof det, "%s", s_col (st, 6));
        }
        if (s_has (st, 11) && sqlite3_column_double (st, 11) > 0)
            s_append (det, sizeof det, "spot %.0f%%", sqlite3_column_double (st, 11) * 100.0);
        if (s_col (st, 5) && *s_col (st, 5))
            s_append (det, sizeof det, "error: %s", s_col (st, 5));
        unsigned fl = 0;
        if (status && strcmp (status, "FAILED") == 0)
            fl |= GS_NF_FAILED;
        if (status && strcmp (status, "SKIPPED") == 0)
            fl |= GS_NF_SKIPPED;
        int r = s_node (c, GS_NT_JOBRUN, id, label, det, 0, s_col (st, 2), fl);
        if (r == 0)
            r = s_edge (c, GS_NT_JOBRUN, id, GS_NT_JOB, job, GS_REL_RUN_JOB);
        if (r < 0) {
            sqlite3_finalize (st);
            return r;
        }
    }
    return s_step_done (c, st, rc, "job_runs");
}

static int
s_load_usage (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc = s_prepare (c,
                        "SELECT compute_usage_id, parent_id, parent_type, compute_sku, dbus_consumed,"
                        " cluster_instance_type, total_cost, avg_cpu_utilization, avg_memory_gb,"
                        " peak_concurrent_users, is_production, usage_date FROM compute_usage",
                        &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *id = s_col (st, 0), *ptype = s_col (st, 2);
        char label[GS_LABEL_MAX], det[GS_DETAIL_MAX] = "";
        bool job = ptype && strcmp (ptype, "JOB_RUN") == 0;
        if (job)
            snprintf (label, sizeof label, "%s usage of a job run", s_col (st, 3) ? s_col (st, 3) : "?");
        else
            snprintf (label, sizeof label, "%s usage of %s %s", s_col (st, 3) ? s_col (st, 3) : "?",
                      ptype && strcmp (ptype, "SQL_WAREHOUSE") == 0 ? "warehouse" : "cluster",
                      s_col (st, 1) ? s_col (st, 1) : "?");
        if (s_has (st, 4))
            s_append (det, sizeof det, "%.1f DBU", sqlite3_column_double (st, 4));
        if (s_col (st, 5))
            s_append (det, sizeof det, "%s %s", job ? "instance" : "size", s_col (st, 5));
        if (s_has (st, 7))
            s_append (det, sizeof det, "cpu %.0f%%", sqlite3_column_double (st, 7) * 100.0);
        if (s_has (st, 8))
            s_append (det, sizeof det, "mem %.0f GB", sqlite3_column_double (st, 8));
        if (s_has (st, 9) && sqlite3_column_int (st, 9) > 0)
            s_append (det, sizeof det, "peak users %d", sqlite3_column_int (st, 9));
        if (sqlite3_column_int (st, 10))
            s_append (det, sizeof det, "production");
        double cost = s_has (st, 6) ? sqlite3_column_double (st, 6) : 0.0;
        if (!isfinite (cost))
            cost = 0.0;
        s_prefetch (c, job ? GS_NT_JOBRUN : GS_NT_COMPUTE, s_col (st, 1));
        int r = s_node (c, GS_NT_USAGE, id, label, det, cost, s_col (st, 11), 0);
        if (r == 0) {
            if (job)
                r = s_edge (c, GS_NT_USAGE, id, GS_NT_JOBRUN, s_col (st, 1), GS_REL_USAGE_RUN);
            else
                r = s_edge (c, GS_NT_USAGE, id, GS_NT_COMPUTE, s_col (st, 1), GS_REL_USAGE_COMPUTE);
        }
        if (r < 0) {
            sqlite3_finalize (st);
            return r;
        }
    }
    return s_step_done (c, st, rc, "compute_usage");
}

static int
s_load_evictions (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc = s_prepare (c,
                        "SELECT eviction_id, eviction_time, eviction_reason, eviction_action, spot_price,"
                        " was_retried, cloud_provider_message, cloud_instance_id FROM eviction_details",
                        &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        char label[GS_LABEL_MAX], det[GS_DETAIL_MAX] = "";
        snprintf (label, sizeof label, "spot eviction (%s)", s_col (st, 2) ? s_col (st, 2) : "unknown reason");
        if (s_col (st, 7))
            s_append (det, sizeof det, "instance %s", s_col (st, 7));
        if (s_col (st, 3))
            s_append (det, sizeof det, "%s", s_col (st, 3));
        if (s_has (st, 4))
            s_append (det, sizeof det, "spot price $%.3f", sqlite3_column_double (st, 4));
        s_append (det, sizeof det, "%s", sqlite3_column_int (st, 5) ? "retried" : "not retried");
        if (s_col (st, 6))
            s_append (det, sizeof det, "%s", s_col (st, 6));
        int r = s_node (c, GS_NT_EVICTION, s_col (st, 0), label, det, 0, s_col (st, 1), 0);
        if (r < 0) {
            sqlite3_finalize (st);
            return r;
        }
    }
    return s_step_done (c, st, rc, "eviction_details");
}

static int
s_load_events (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc = s_prepare (c, "SELECT event_id, compute_usage_id, event_time, event_type, user_id, details, eviction_id FROM events",
                        &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *id = s_col (st, 0), *type = s_col (st, 3);
        unsigned fl = 0;
        if (type && strcmp (type, "SPOT_EVICTION") == 0)
            fl |= GS_NF_EVICTION;
        if (type && strcmp (type, "CONFIG_CHANGE") == 0)
            fl |= GS_NF_CONFIG;
        if (!c->memo[GS_REL_EVENT_USAGE].valid || s_col (st, 1) == NULL
            || strcmp (c->memo[GS_REL_EVENT_USAGE].key + strlen ("usage::"), s_col (st, 1)) != 0)
            s_prefetch (c, GS_NT_USAGE, s_col (st, 1));
        int r = s_node (c, GS_NT_EVENT, id, type ? type : "EVENT", s_col (st, 5), 0, s_col (st, 2), fl);
        if (r == 0) {
            /* The reference always links an event to its usage, even when the
             * usage row is missing: such edges are counted as dangling. */
            if (s_col (st, 1) == NULL)
                gs__builder_dangling (c->b, GS_REL_EVENT_USAGE);
            r = s_edge (c, GS_NT_EVENT, id, GS_NT_USAGE, s_col (st, 1), GS_REL_EVENT_USAGE);
        }
        if (r == 0)
            r = s_edge (c, GS_NT_EVENT, id, GS_NT_USER, s_col (st, 4), GS_REL_EVENT_USER);
        if (r == 0)
            r = s_edge (c, GS_NT_EVENT, id, GS_NT_EVICTION, s_col (st, 6), GS_REL_EVENT_EVICTION);
        if (r < 0) {
            sqlite3_finalize (st);
            return r;
        }
    }
    return s_step_done (c, st, rc, "events");
}

static int
s_load_queries (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc = s_prepare (c,
                        "SELECT query_id, parent_id, user_id, start_time, duration_ms, warehouse_sku,"
                        " substr(sql_text, 1, 500), error_message FROM sql_query_history",
                        &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *id = s_col (st, 0);
        char det[GS_DETAIL_MAX] = "";
        if (s_col (st, 5))
            s_append (det, sizeof det, "%s", s_col (st, 5));
        if (s_col (st, 1))
            s_append (det, sizeof det, "on %s", s_col (st, 1));
        if (s_col (st, 2))
            s_append (det, sizeof det, "by %s", s_col (st, 2));
        if (s_has (st, 4))
            s_append (det, sizeof det, "%lld ms", (long long) sqlite3_column_int64 (st, 4));
        unsigned fl = 0;
        if (s_col (st, 7) && *s_col (st, 7)) {
            fl |= GS_NF_FAILED;
            s_append (det, sizeof det, "error: %s", s_col (st, 7));
        }
        int r = s_node (c, GS_NT_QUERY, id, s_col (st, 6) ? s_col (st, 6) : "SQL query", det, 0, s_col (st, 3), fl);
        if (r == 0)
            r = s_edge (c, GS_NT_QUERY, id, GS_NT_COMPUTE, s_col (st, 1), GS_REL_QUERY_COMPUTE);
        if (r == 0)
            r = s_edge (c, GS_NT_QUERY, id, GS_NT_USER, s_col (st, 2), GS_REL_QUERY_USER);
        if (r < 0) {
            sqlite3_finalize (st);
            return r;
        }
    }
    return s_step_done (c, st, rc, "sql_query_history");
}

static int
s_load_dependencies (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc;
    c->src_valid = false;   /* edge sources here are not the last added node */
    if (c->b->stats.has_job_dependencies_table) {
        rc = s_prepare (c, "SELECT downstream_job_id, upstream_job_id FROM job_dependencies", &st);
        if (rc)
            return rc;
        while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
            int r = s_edge (c, GS_NT_JOB, s_col (st, 0), GS_NT_JOB, s_col (st, 1), GS_REL_JOB_DEPENDS);
            if (r < 0) {
                sqlite3_finalize (st);
                return r;
            }
        }
        return s_step_done (c, st, rc, "job_dependencies");
    }
    /* Unmigrated reference DB: "... DEPENDS ON: J-A, J-B" in the description. */
    rc = s_prepare (c, "SELECT job_id, description FROM jobs WHERE instr(upper(description), 'DEPENDS ON:') > 0", &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *job = s_col (st, 0), *desc = s_col (st, 1);
        const char *p = str_icontains (desc, "DEPENDS ON:");
        if (job == NULL || p == NULL)
            continue;
        p += strlen ("DEPENDS ON:");
        for (;;) {
            while (*p == ' ' || *p == '\t')
                p++;
            size_t n = 0;
            while (p[n] && (p[n] == '-' || p[n] == '_' || p[n] == '.' || (p[n] >= '0' && p[n] <= '9')
                            || (p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z')))
                n++;
            if (n == 0 || n >= 256)
                break;
            char up[256];
            memcpy (up, p, n);
            up[n] = '\0';
            p += n;
            /* A trailing '.' ends the sentence; it is not part of the id. */
            bool end = false;
            while (n > 0 && up[n - 1] == '.') {
                up[--n] = '\0';
                end = true;
            }
            if (n > 0) {
                int r = s_edge (c, GS_NT_JOB, job, GS_NT_JOB, up, GS_REL_JOB_DEPENDS);
                if (r < 0) {
                    sqlite3_finalize (st);
                    return r;
                }
            }
            while (*p == ' ' || *p == '\t')
                p++;
            if (end || *p != ',')
                break;   /* the list continues only through commas */
            p++;
        }
    }
    return s_step_done (c, st, rc, "jobs (dependencies)");
}

static int
s_load_config_changes (s_ctx_t *c)
{
    sqlite3_stmt *st;
    int rc = s_prepare (c,
                        "SELECT change_id, entity_type, entity_id, changed_at, field, before_value, after_value,"
                        " changed_by, event_id FROM config_changes",
                        &st);
    if (rc)
        return rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        const char *id = s_col (st, 0), *etype = s_col (st, 1), *eid = s_col (st, 2);
        char label[GS_LABEL_MAX], det[GS_DETAIL_MAX] = "";
        snprintf (label, sizeof label, "%s: %s -> %s", s_col (st, 4) ? s_col (st, 4) : "?",
                  s_col (st, 5) ? s_col (st, 5) : "(none)", s_col (st, 6) ? s_col (st, 6) : "(none)");
        s_append (det, sizeof det, "%s %s", etype ? etype : "?", eid ? eid : "?");
        if (s_col (st, 7))
            s_append (det, sizeof det, "by %s", s_col (st, 7));
        int r = s_node (c, GS_NT_CONFIGCHANGE, id, label, det, 0, s_col (st, 3), GS_NF_CONFIG);
        if (r == 0) {
            gs_node_type_t t = GS_NT__COUNT;
            if (etype && strcmp (etype, "JOB") == 0)
                t = GS_NT_JOB;
            else if (etype && (strcmp (etype, "CLUSTER") == 0 || strcmp (etype, "WAREHOUSE") == 0))
                t = GS_NT_COMPUTE;
            else if (etype && strcmp (etype, "WORKSPACE") == 0)
                t = GS_NT_WORKSPACE;
            if (t == GS_NT__COUNT)   /* POOL: instance pools are not modelled */
                gs__builder_dangling (c->b, GS_REL_CHANGE_ENTITY);
            else
                r = s_edge (c, GS_NT_CONFIGCHANGE, id, t, eid, GS_REL_CHANGE_ENTITY);
        }
        if (r == 0)
            r = s_edge (c, GS_NT_CONFIGCHANGE, id, GS_NT_USER, s_col (st, 7), GS_REL_CHANGE_USER);
        if (r == 0)
            r = s_edge (c, GS_NT_CONFIGCHANGE, id, GS_NT_EVENT, s_col (st, 8), GS_REL_CHANGE_EVENT);
        if (r < 0) {
            sqlite3_finalize (st);
            return r;
        }
    }
    return s_step_done (c, st, rc, "config_changes");
}

static const char *const s_phase_names[GS_PHASES] = {
    "workspace", "users_lookup", "jobs", "non_job_compute", "job_runs", "compute_usage",
    "eviction_details", "events", "sql_query_history", "job_dependencies", "config_changes", "finish"};

const char *
gs_phase_name (int i)
{
    return i >= 0 && i < GS_PHASES ? s_phase_names[i] : NULL;
}

static int64_t
s_mono_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ------------------------------------------------------------ read-ahead */

#define S_RA_STEP ((off_t) 16 << 20)

typedef struct {
    int fd;
    off_t size;
    atomic_int stop;
    pthread_t thread;
    bool started;
} s_readahead_t;

static void *
s_readahead_main (void *arg)
{
    s_readahead_t *ra = arg;
    for (off_t off = 0; off < ra->size && atomic_load (&ra->stop) == 0; off += S_RA_STEP) {
        off_t len = ra->size - off < S_RA_STEP ? ra->size - off : S_RA_STEP;
        /* Linux reads the range into the page cache before returning. */
        if (posix_fadvise (ra->fd, off, len, POSIX_FADV_WILLNEED) != 0)
            break;
    }
    return NULL;
}

static void
s_readahead_start (s_readahead_t *ra, const char *path)
{
    memset (ra, 0, sizeof *ra);
    atomic_init (&ra->stop, 0);
    ra->fd = open (path, O_RDONLY | O_CLOEXEC);
    if (ra->fd < 0)
        return;
    off_t size = lseek (ra->fd, 0, SEEK_END);
    if (size <= (off_t) 64 << 20) {   /* small files: not worth a thread */
        close (ra->fd);
        ra->fd = -1;
        return;
    }
    ra->size = size;
    ra->started = pthread_create (&ra->thread, NULL, s_readahead_main, ra) == 0;
    if (!ra->started) {
        close (ra->fd);
        ra->fd = -1;
    }
}

void
gs_builder_set_readahead (gs_builder_t *self, bool on)
{
    self->no_readahead = !on;
}

static void
s_readahead_stop (s_readahead_t *ra)
{
    if (ra->started) {
        atomic_store (&ra->stop, 1);
        pthread_join (ra->thread, NULL);
        ra->started = false;
    }
    if (ra->fd >= 0)
        close (ra->fd);
    ra->fd = -1;
}

int
gs_builder_load_db (gs_builder_t *self, const char *db_path, char *err, size_t errsz)
{
    static const char *const required[] = {"workspace", "users_lookup", "jobs", "non_job_compute", "job_runs",
                                           "compute_usage", "events", "eviction_details", "sql_query_history"};
    if (self == NULL || db_path == NULL || *db_path == '\0')
        return gs__err (err, errsz, GS_E_INVALID, "no database path given");
    if (self->loaded)
        return gs__err (err, errsz, GS_E_INVALID, "builder already loaded a database");
    self->loaded = true;
    /* Taken before the read transaction: if the file changes after this
     * point the key is older than the data, so a snapshot is rejected as
     * stale (never the other way round). */
    if (gs__file_key (db_path, self->data_key, sizeof self->data_key) != GS_OK)
        self->data_key[0] = '\0';
    const char *oerr = NULL;
    db_t *db = db_open (db_path, DB_READONLY, 5000, &oerr);
    if (db == NULL)
        return gs__err (err, errsz, GS_E_DB, "cannot open database %s: %s", db_path, oerr ? oerr : "unknown error");
    s_ctx_t c = {.b = self, .h = db_handle (db), .err = err, .errsz = errsz};
    int rc = 0;
    s_readahead_t ra = {.fd = -1};
    if (!self->no_readahead)
        s_readahead_start (&ra, db_path);
    /* Memory-mapped reads (SQLite caps the size at its compile-time
     * maximum): the scans then copy pages out of the page cache once
     * instead of through pread. Best effort. */
    (void) sqlite3_exec (c.h, "PRAGMA mmap_size = 1099511627776", NULL, NULL, NULL);
    if (sqlite3_exec (c.h, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        rc = gs__err (err, errsz, GS_E_DB, "cannot begin read transaction on %s: %s", db_path, sqlite3_errmsg (c.h));
        goto done;
    }
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (!s_table_exists (&c, required[i])) {
            rc = gs__err (err, errsz, GS_E_SCHEMA, "database %s has no table %s (not a telemetry database?)", db_path,
                          required[i]);
            goto done;
        }
    /* Size the index once (max(rowid) is an O(log n) estimate of each count). */
    {
        /* Every node table (a node past the reserve doubles all node
         * arrays: seconds and hundreds of MiB at 13M nodes), plus room for
         * 64Ki anomaly nodes added after the load. */
        static const char *const sized[] = {"job_runs", "compute_usage", "events", "eviction_details",
                                            "sql_query_history", "jobs", "users_lookup", "workspace",
                                            "non_job_compute", "config_changes"};
        int64_t total = 0;
        for (size_t i = 0; i < sizeof sized / sizeof *sized; i++) {
            char q[96];
            sqlite3_stmt *st = NULL;
            snprintf (q, sizeof q, "SELECT max(rowid) FROM %s", sized[i]);
            if (sqlite3_prepare_v2 (c.h, q, -1, &st, NULL) == SQLITE_OK && sqlite3_step (st) == SQLITE_ROW)
                total += sqlite3_column_int64 (st, 0);
            sqlite3_finalize (st);
        }
        if (total > 0 && total < (int64_t) UINT32_MAX / 4 && gs__builder_reserve (self, (size_t) total + 65536) != GS_OK) {
            rc = gs__err (err, errsz, GS_E_NOMEM, "out of memory sizing the graph for %lld rows", (long long) total);
            goto done;
        }
    }
    self->stats.has_job_dependencies_table = s_table_exists (&c, "job_dependencies");
    self->stats.has_config_changes_table = s_table_exists (&c, "config_changes");
    if (s_table_exists (&c, "data_version")) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2 (c.h, "SELECT version FROM data_version WHERE id = 1", -1, &st, NULL) == SQLITE_OK
            && sqlite3_step (st) == SQLITE_ROW && s_col (st, 0))
            str_copy (self->data_version, sizeof self->data_version, s_col (st, 0));
        sqlite3_finalize (st);
        if (self->data_version[0])
            snprintf (self->data_key, sizeof self->data_key, "dv:%s", self->data_version);
    }
    {
        int (*const steps[]) (s_ctx_t *) = {s_load_workspaces, s_load_users, s_load_jobs, s_load_compute,
                                             s_load_runs, s_load_usage, s_load_evictions, s_load_events,
                                             s_load_queries, s_load_dependencies, s_load_config_changes};
        _Static_assert (sizeof steps / sizeof *steps == GS_PHASES - 1, "one phase per table step");
        for (size_t i = 0; i < sizeof steps / sizeof *steps && rc == 0; i++) {
            if (steps[i] == s_load_config_changes && !self->stats.has_config_changes_table)
                continue;
            int64_t t0 = s_mono_ns ();
            rc = steps[i](&c);
            self->stats.phase_ms[i] = (double) (s_mono_ns () - t0) / 1e6;
        }
    }
done:
    s_readahead_stop (&ra);
    sqlite3_exec (c.h, "COMMIT", NULL, NULL, NULL);
    db_close (&db);
    return rc;
}
