/* rt_telemetry.c — the telemetry corpus: documents built from the rows of
 * the telemetry database (seed §5.1, with the reference's defects fixed).
 *
 * Ids: every document id is the graph node id of its row (one scheme for the
 * graph and the corpus, seed §11 item 1): job::, jobrun:: (never run::),
 * usage::, event::, eviction::, query::, user::, compute::, workspace::,
 * configchange::. Each document also lists the node ids it is about
 * (entity_ids: itself first, then the rows it links to), which is what the
 * entity-id search filter matches.
 *
 * Size: one document per workspace, user, job and compute resource, plus
 * bounded "notable" sets: the newest runs of every job and the newest failed
 * runs, the most expensive usage rows, spot evictions, autoscaling and
 * configuration events plus a few recent routine events, evictions, recent
 * and failed SQL queries, configuration changes. Bounds come from
 * rt_telemetry_opts_t, so a large profile stays indexable.
 *
 * Job and compute documents carry aggregate lines (runs, failures, cost,
 * evictions, dependencies) computed with one GROUP BY per aggregate, merged
 * by key, instead of correlated subqueries (job_runs has no job_id index in
 * the reference schema). Every query ends its ORDER BY with the primary key,
 * so the corpus is a pure function of the database.
 *
 * The database is opened read-only (SQLITE_OPEN_READONLY); optional tables
 * (config_changes, job_dependencies) are used only when present.
 *
 * Anomalies: one document per anomaly of the report engine's detector
 * (rs_engine_detect: the anomaly_detection report's daily cost series over
 * its default window, z-score against a rolling history), with the graph's
 * node id anomaly::<entity pk>:<date> (gs_anomaly_id) so a hit names the
 * same node the graph-service links to its job or compute resource. The
 * engine is the single implementation of the detector: the corpus never
 * re-derives the statistics. Anomalies are few; when there are more than
 * max_anomalies, the largest |z| are kept (ties by id). The engine opens
 * its own read-only connection, so on a database that changes during the
 * load the anomalies may come from a newer snapshot than the rows.
 */
#include "rt_internal.h"

#include "rs_engine.h"

#include <jansson.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sqlite3 *db;
    rt_docset_t *out;
    rt_telemetry_opts_t o;
    buf_t *text, *meta, *title;
    rt_strv_t ents;
    bool has_changes, has_deps, has_usage;
} s_ctx_t;

static const char *
s_col (sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text (st, i);
    return t ? (const char *) t : "";
}

static bool
s_null (sqlite3_stmt *st, int i)
{
    return sqlite3_column_type (st, i) == SQLITE_NULL;
}

static int
s_db_fail (s_ctx_t *cx, const char *what)
{
    return rt__fail (RT_E_DB, "telemetry %s: %s", what, sqlite3_errmsg (cx->db));
}

static bool
s_table_exists (sqlite3 *db, const char *name)
{
    sqlite3_stmt *st = NULL;
    bool ok = false;
    if (sqlite3_prepare_v2 (db, "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?1",
                            -1, &st, NULL)
        == SQLITE_OK) {
        sqlite3_bind_text (st, 1, name, -1, SQLITE_STATIC);
        ok = sqlite3_step (st) == SQLITE_ROW;
    }
    sqlite3_finalize (st);
    return ok;
}

/* Starts a document: clears the buffers. */
static void
s_begin (s_ctx_t *cx)
{
    buf_reset (cx->text);
    buf_reset (cx->meta);
    buf_reset (cx->title);
    rt__strv_free (&cx->ents);
}

static int
s_line (s_ctx_t *cx, const char *key, const char *val)
{
    return buf_printf (cx->text, "%s: %s\n", key, val) == 0 ? RT_OK : RT_E_TOOBIG;
}

static int
s_ent (s_ctx_t *cx, const char *prefix, const char *id)
{
    if (!id || !*id)
        return RT_OK;
    char buf[512];
    if (str_fmt (buf, sizeof buf, "%s::%s", prefix, id) != 0)
        return RT_OK; /* absurdly long id: not an entity we can filter on */
    for (const char *p = buf; *p; p++)
        if (*p == ' ' || *p == '\t' || *p == '\n')
            return RT_OK; /* ids with blanks cannot go into the space-separated list */
    return rt__strv_push_unique (&cx->ents, buf);
}

/* meta_json: {"type":T, k1:v1, ...} from NULL-terminated key/value pairs. */
static int
s_meta (s_ctx_t *cx, const char *type, const char *const *kv)
{
    int rc = buf_puts (cx->meta, "{\"type\":");
    rc |= buf_json_str (cx->meta, type);
    for (int i = 0; kv && kv[i]; i += 2) {
        rc |= buf_puts (cx->meta, ",");
        rc |= buf_json_str (cx->meta, kv[i]);
        rc |= buf_puts (cx->meta, ":");
        rc |= buf_json_str (cx->meta, kv[i + 1] ? kv[i + 1] : "");
    }
    rc |= buf_puts (cx->meta, "}");
    return rc ? RT_E_TOOBIG : RT_OK;
}

/* Adds the document being built, unless its id is already present. */
static int
s_commit (s_ctx_t *cx, const char *type)
{
    if (cx->ents.n == 0)
        return rt__fail (RT_E_ARG, "telemetry %s document without an id", type);
    const char *id = cx->ents.v[0];
    if (rt_docset_find (cx->out, id) >= 0)
        return RT_OK;
    char *ents = rt__strv_join (&cx->ents);
    if (!ents)
        return rt__fail (RT_E_NOMEM, "out of memory");
    /* drop the final newline of the text */
    size_t tl = buf_len (cx->text);
    if (tl > 0 && buf_data (cx->text)[tl - 1] == '\n')
        buf_truncate (cx->text, tl - 1);
    rt_doc_t d = {.doc_id = id,
                  .corpus = RT_CORPUS_TELEMETRY,
                  .type = type,
                  .title = buf_data (cx->title),
                  .url = "",
                  .anchor = "",
                  .text = buf_data (cx->text),
                  .entity_ids = ents,
                  .source_file = "",
                  .meta_json = buf_len (cx->meta) ? buf_data (cx->meta) : "{}"};
    int rc = rt_docset_add (cx->out, &d);
    free (ents);
    return rc;
}

/* Steps `st`: true on a row; false at the end, with *rc set when the step
 * failed (rather than finished). */
static bool
s_step (s_ctx_t *cx, sqlite3_stmt *st, int *rc)
{
    if (*rc != RT_OK)
        return false;
    int s = sqlite3_step (st);
    if (s == SQLITE_ROW)
        return true;
    if (s != SQLITE_DONE)
        *rc = s_db_fail (cx, "query");
    return false;
}

static int
s_prepare (s_ctx_t *cx, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2 (cx->db, sql, -1, st, NULL) != SQLITE_OK)
        return s_db_fail (cx, "prepare");
    return RT_OK;
}

/* ------------------------------------------------------------------------ */
/* aggregates keyed by id                                                    */

typedef struct {
    char *key;
    double v[6];
    char *s[2];
} s_agg_t;

typedef struct {
    s_agg_t *a;
    size_t n, cap;
} s_aggs_t;

static void
s_aggs_free (s_aggs_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free (g->a[i].key);
        free (g->a[i].s[0]);
        free (g->a[i].s[1]);
    }
    free (g->a);
    memset (g, 0, sizeof *g);
}

/* Runs `sql` returning (key, num..., [text, text]) ordered by key. The first
 * `nnum` columns after the key are numbers, then `nstr` text columns. */
static int
s_aggs_load (s_ctx_t *cx, const char *sql, int nnum, int nstr, s_aggs_t *g)
{
    sqlite3_stmt *st = NULL;
    int rc = s_prepare (cx, sql, &st);
    if (rc < 0)
        return rc;
    int s;
    while ((s = sqlite3_step (st)) == SQLITE_ROW) {
        if (g->n == g->cap) {
            size_t nc = g->cap ? g->cap * 2 : 64;
            s_agg_t *na = realloc (g->a, nc * sizeof *na);
            if (!na) {
                rc = rt__fail (RT_E_NOMEM, "out of memory");
                break;
            }
            g->a = na;
            g->cap = nc;
        }
        s_agg_t *a = &g->a[g->n];
        memset (a, 0, sizeof *a);
        a->key = str_dup (s_col (st, 0));
        for (int i = 0; i < nnum && i < 6; i++)
            a->v[i] = sqlite3_column_double (st, 1 + i);
        for (int i = 0; i < nstr && i < 2; i++)
            a->s[i] = str_dup (s_col (st, 1 + nnum + i));
        g->n++;
        if (!a->key) {
            rc = rt__fail (RT_E_NOMEM, "out of memory");
            break;
        }
    }
    if (rc == RT_OK && s != SQLITE_DONE)
        rc = s_db_fail (cx, "aggregate");
    sqlite3_finalize (st);
    return rc;
}

/* Binary search; SQLite's ORDER BY on TEXT uses memcmp order (BINARY). */
static const s_agg_t *
s_aggs_get (const s_aggs_t *g, const char *key)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int r = strcmp (g->a[mid].key, key);
        if (r == 0)
            return &g->a[mid];
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* per-type builders                                                         */

static int
s_workspaces (s_ctx_t *cx)
{
    sqlite3_stmt *st = NULL;
    int rc = s_prepare (cx,
                        "SELECT workspace_id, workspace_name, account_id, description "
                        "FROM workspace ORDER BY workspace_id",
                        &st);
    while (s_step (cx, st, &rc)) {
        s_begin (cx);
        const char *id = s_col (st, 0), *name = s_col (st, 1);
        buf_printf (cx->text, "Workspace: %s (ID: %s)\n", name, id);
        s_line (cx, "Account ID", s_col (st, 2));
        buf_printf (cx->text, "\nDescription: %s\n", s_col (st, 3));
        buf_puts (cx->title, name);
        s_ent (cx, "workspace", id);
        const char *kv[] = {"workspace_id", id, "name", name, "account_id", s_col (st, 2), NULL};
        if ((rc = s_meta (cx, "workspace", kv)) == RT_OK)
            rc = s_commit (cx, "workspace");
    }
    sqlite3_finalize (st);
    return rc;
}

static int
s_users (s_ctx_t *cx)
{
    sqlite3_stmt *st = NULL;
    int rc = s_prepare (cx,
                        "SELECT user_id, name, department, workspace_id FROM users_lookup "
                        "ORDER BY user_id",
                        &st);
    while (s_step (cx, st, &rc)) {
        s_begin (cx);
        const char *id = s_col (st, 0), *name = s_col (st, 1);
        buf_printf (cx->text, "User: %s (ID: %s)\n", name, id);
        s_line (cx, "Department", s_col (st, 2));
        s_line (cx, "Workspace", s_col (st, 3));
        buf_puts (cx->title, name);
        s_ent (cx, "user", id);
        s_ent (cx, "workspace", s_col (st, 3));
        const char *kv[] = {"user_id", id, "name", name, "department", s_col (st, 2), NULL};
        if ((rc = s_meta (cx, "user", kv)) == RT_OK)
            rc = s_commit (cx, "user");
    }
    sqlite3_finalize (st);
    return rc;
}

static int
s_jobs (s_ctx_t *cx)
{
    s_aggs_t runs = {0}, cost = {0}, evict = {0}, up = {0}, down = {0};
    int rc = s_aggs_load (cx,
                          "SELECT job_id, COUNT(*), SUM(run_status = 'SUCCESS'), "
                          "SUM(run_status = 'FAILED'), SUM(run_status = 'SKIPPED'), "
                          "AVG(COALESCE(spot_ratio, 0)), MIN(start_time), MAX(start_time) "
                          "FROM job_runs GROUP BY job_id ORDER BY job_id",
                          5, 2, &runs);
    if (rc == RT_OK)
        rc = s_aggs_load (cx,
                          "SELECT r.job_id, SUM(u.total_cost), SUM(u.dbus_consumed), COUNT(*) "
                          "FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id "
                          "WHERE u.parent_type = 'JOB_RUN' GROUP BY r.job_id ORDER BY r.job_id",
                          3, 0, &cost);
    if (rc == RT_OK)
        rc = s_aggs_load (cx,
                          "SELECT r.job_id, COUNT(*) FROM events e "
                          "JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id "
                          "JOIN job_runs r ON u.parent_type = 'JOB_RUN' AND r.job_run_id = u.parent_id "
                          "WHERE e.event_type = 'SPOT_EVICTION' GROUP BY r.job_id ORDER BY r.job_id",
                          1, 0, &evict);
    if (rc == RT_OK && cx->has_deps)
        rc = s_aggs_load (cx,
                          "SELECT downstream_job_id, COUNT(*), group_concat(upstream_job_id, ' ') "
                          "FROM (SELECT * FROM job_dependencies ORDER BY downstream_job_id, upstream_job_id) "
                          "GROUP BY downstream_job_id ORDER BY downstream_job_id",
                          1, 1, &up);
    if (rc == RT_OK && cx->has_deps)
        rc = s_aggs_load (cx,
                          "SELECT upstream_job_id, COUNT(*), group_concat(downstream_job_id, ' ') "
                          "FROM (SELECT * FROM job_dependencies ORDER BY upstream_job_id, downstream_job_id) "
                          "GROUP BY upstream_job_id ORDER BY upstream_job_id",
                          1, 1, &down);
    sqlite3_stmt *st = NULL;
    if (rc == RT_OK)
        rc = s_prepare (cx,
                        "SELECT j.job_id, j.job_name, j.workspace_id, w.workspace_name, w.account_id, "
                        "j.description, j.tags FROM jobs j "
                        "LEFT JOIN workspace w ON w.workspace_id = j.workspace_id ORDER BY j.job_id",
                        &st);
    while (s_step (cx, st, &rc)) {
        s_begin (cx);
        const char *id = s_col (st, 0), *name = s_col (st, 1), *wid = s_col (st, 2);
        buf_printf (cx->text, "Job: %s (ID: %s)\n", name, id);
        buf_printf (cx->text, "Workspace: %s (%s)\n", s_col (st, 3), wid);
        s_line (cx, "Account", s_col (st, 4));
        s_line (cx, "Description", s_col (st, 5));
        s_line (cx, "Tags", s_col (st, 6));
        const s_agg_t *r = s_aggs_get (&runs, id), *c = s_aggs_get (&cost, id),
                      *e = s_aggs_get (&evict, id);
        if (r) {
            buf_printf (cx->text, "Runs: %.0f (%.0f succeeded, %.0f failed, %.0f skipped)\n",
                        r->v[0], r->v[1], r->v[2], r->v[3]);
            buf_printf (cx->text, "Failure rate: %.1f%%\n",
                        r->v[0] > 0 ? 100.0 * r->v[2] / r->v[0] : 0.0);
            buf_printf (cx->text, "Average spot ratio: %.0f%%\n", 100.0 * r->v[4]);
            buf_printf (cx->text, "First run: %s\nLast run: %s\n", r->s[0], r->s[1]);
        } else {
            buf_puts (cx->text, "Runs: 0\n");
        }
        if (c)
            buf_printf (cx->text, "Total cost: $%.2f (%.2f DBUs over %.0f usage records)\n", c->v[0],
                        c->v[1], c->v[2]);
        buf_printf (cx->text, "Spot evictions: %.0f\n", e ? e->v[0] : 0.0);
        s_ent (cx, "job", id);
        s_ent (cx, "workspace", wid);
        const s_agg_t *u = s_aggs_get (&up, id), *d = s_aggs_get (&down, id);
        if (u && u->s[0] && *u->s[0]) {
            s_line (cx, "Depends on (upstream jobs)", u->s[0]);
            char *save = NULL, *copy = str_dup (u->s[0]);
            for (char *t = copy ? strtok_r (copy, " ", &save) : NULL; t; t = strtok_r (NULL, " ", &save))
                s_ent (cx, "job", t);
            free (copy);
        }
        if (d && d->s[0] && *d->s[0]) {
            s_line (cx, "Downstream jobs", d->s[0]);
            char *save = NULL, *copy = str_dup (d->s[0]);
            for (char *t = copy ? strtok_r (copy, " ", &save) : NULL; t; t = strtok_r (NULL, " ", &save))
                s_ent (cx, "job", t);
            free (copy);
        }
        buf_puts (cx->title, name);
        const char *kv[] = {"job_id", id, "job_name", name, "workspace_id", wid, "tags_json",
                            s_col (st, 6), NULL};
        if ((rc = s_meta (cx, "job", kv)) == RT_OK)
            rc = s_commit (cx, "job");
    }
    sqlite3_finalize (st);
    s_aggs_free (&runs);
    s_aggs_free (&cost);
    s_aggs_free (&evict);
    s_aggs_free (&up);
    s_aggs_free (&down);
    return rc;
}

static int
s_computes (s_ctx_t *cx)
{
    s_aggs_t cost = {0}, qs = {0};
    int rc = s_aggs_load (cx,
                          "SELECT parent_id, SUM(total_cost), SUM(dbus_consumed), COUNT(*), "
                          "AVG(avg_cpu_utilization), MAX(peak_concurrent_users) FROM compute_usage "
                          "WHERE parent_type <> 'JOB_RUN' GROUP BY parent_id ORDER BY parent_id",
                          5, 0, &cost);
    if (rc == RT_OK)
        rc = s_aggs_load (cx,
                          "SELECT parent_id, COUNT(*), SUM(error_message IS NOT NULL AND error_message <> ''), "
                          "AVG(duration_ms) FROM sql_query_history GROUP BY parent_id ORDER BY parent_id",
                          3, 0, &qs);
    sqlite3_stmt *st = NULL;
    if (rc == RT_OK)
        rc = s_prepare (cx,
                        "SELECT c.compute_id, c.compute_name, c.compute_type, c.workspace_id, w.account_id "
                        "FROM non_job_compute c LEFT JOIN workspace w ON w.workspace_id = c.workspace_id "
                        "ORDER BY c.compute_id",
                        &st);
    while (s_step (cx, st, &rc)) {
        s_begin (cx);
        const char *id = s_col (st, 0), *name = s_col (st, 1), *type = s_col (st, 2);
        buf_printf (cx->text, "Compute Resource: %s (ID: %s)\n", name, id);
        s_line (cx, "Type", strcmp (type, "SQL_WAREHOUSE") == 0 ? "SQL_WAREHOUSE (SQL warehouse)"
                            : strcmp (type, "APC_CLUSTER") == 0 ? "APC_CLUSTER (all-purpose cluster)"
                                                                  : type);
        s_line (cx, "Workspace", s_col (st, 3));
        s_line (cx, "Account", s_col (st, 4));
        const s_agg_t *c = s_aggs_get (&cost, id), *q = s_aggs_get (&qs, id);
        if (c) {
            buf_printf (cx->text, "Total cost: $%.2f (%.2f DBUs over %.0f usage records)\n", c->v[0],
                        c->v[1], c->v[2]);
            buf_printf (cx->text, "Average CPU: %.1f%%\n", 100.0 * c->v[3]);
            buf_printf (cx->text, "Peak concurrent users: %.0f\n", c->v[4]);
        }
        if (q)
            buf_printf (cx->text, "SQL queries: %.0f (%.0f failed, average %.0f ms)\n", q->v[0], q->v[1],
                        q->v[2]);
        buf_puts (cx->title, name);
        s_ent (cx, "compute", id);
        s_ent (cx, "workspace", s_col (st, 3));
        const char *kv[] = {"compute_id", id, "compute_name", name, "compute_type", type, NULL};
        if ((rc = s_meta (cx, "compute", kv)) == RT_OK)
            rc = s_commit (cx, "compute");
    }
    sqlite3_finalize (st);
    s_aggs_free (&cost);
    s_aggs_free (&qs);
    return rc;
}

#define RUN_COLS                                                                              \
    "r.job_run_id, r.job_id, j.job_name, r.run_status, r.start_time, r.end_time, r.duration_ms, " \
    "r.driver_instance_type, r.worker_instance_type, r.fixed_nodes, r.min_nodes, r.max_nodes, "   \
    "r.is_autoscaling_enabled, r.spot_ratio, r.error_summary, r.instance_pool_id, r.is_fleet_cluster"

static int
s_run_doc (s_ctx_t *cx, sqlite3_stmt *st)
{
    s_begin (cx);
    const char *id = s_col (st, 0), *job = s_col (st, 1), *jname = s_col (st, 2),
               *status = s_col (st, 3), *start = s_col (st, 4);
    s_line (cx, "Job Run", id);
    buf_printf (cx->text, "Job ID: %s\n", job);
    s_line (cx, "Status", status);
    s_line (cx, "Started", start);
    if (!s_null (st, 5))
        s_line (cx, "Ended", s_col (st, 5));
    if (!s_null (st, 6))
        buf_printf (cx->text, "Duration: %lld ms (%.1f min)\n", (long long) sqlite3_column_int64 (st, 6),
                    (double) sqlite3_column_int64 (st, 6) / 60000.0);
    if (!s_null (st, 7))
        s_line (cx, "Driver Instance Type", s_col (st, 7));
    s_line (cx, "Instance Type", s_col (st, 8));
    long long fixed = sqlite3_column_int64 (st, 9);
    if (fixed != 0)
        buf_printf (cx->text, "Nodes: %lld\n", fixed);
    else
        buf_printf (cx->text, "Nodes: %lld-%lld\n", (long long) sqlite3_column_int64 (st, 10),
                    (long long) sqlite3_column_int64 (st, 11));
    s_line (cx, "Autoscaling", sqlite3_column_int64 (st, 12) ? "Yes" : "No");
    buf_printf (cx->text, "Spot Ratio: %.0f%%\n", 100.0 * sqlite3_column_double (st, 13));
    if (!s_null (st, 15) && *s_col (st, 15))
        s_line (cx, "Instance Pool", s_col (st, 15));
    if (sqlite3_column_int64 (st, 16))
        s_line (cx, "Fleet Cluster", "Yes");
    if (!s_null (st, 14) && *s_col (st, 14))
        s_line (cx, "Error", s_col (st, 14));
    buf_printf (cx->title, "%s run %s (%s)", *jname ? jname : job, start, status);
    s_ent (cx, "jobrun", id);
    s_ent (cx, "job", job);
    const char *kv[] = {"job_run_id", id, "job_id", job, "status", status, "start_time", start, NULL};
    int rc = s_meta (cx, "jobrun", kv);
    return rc == RT_OK ? s_commit (cx, "jobrun") : rc;
}

static int
s_runs (s_ctx_t *cx)
{
    sqlite3_stmt *st = NULL;
    int rc = s_prepare (cx,
                        "SELECT " RUN_COLS " FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY job_id "
                        "ORDER BY start_time DESC, job_run_id DESC) AS rn FROM job_runs) r "
                        "LEFT JOIN jobs j ON j.job_id = r.job_id WHERE r.rn <= ?1 "
                        "ORDER BY r.job_run_id",
                        &st);
    if (rc == RT_OK)
        sqlite3_bind_int (st, 1, cx->o.runs_per_job);
    while (s_step (cx, st, &rc))
        rc = s_run_doc (cx, st);
    sqlite3_finalize (st);
    st = NULL;
    if (rc == RT_OK)
        rc = s_prepare (cx,
                        "SELECT " RUN_COLS " FROM job_runs r LEFT JOIN jobs j ON j.job_id = r.job_id "
                        "WHERE r.run_status = 'FAILED' ORDER BY r.start_time DESC, r.job_run_id DESC "
                        "LIMIT ?1",
                        &st);
    if (rc == RT_OK)
        sqlite3_bind_int (st, 1, cx->o.max_failed_runs);
    while (s_step (cx, st, &rc))
        rc = s_run_doc (cx, st);
    sqlite3_finalize (st);
    return rc;
}

static int
s_usage (s_ctx_t *cx)
{
    sqlite3_stmt *st = NULL;
    int rc = s_prepare (cx,
                        "SELECT u.compute_usage_id, u.parent_id, u.parent_type, u.usage_date, u.compute_sku, "
                        "u.dbus_consumed, u.total_cost, u.avg_cpu_utilization, u.avg_memory_gb, "
                        "u.is_production, u.cluster_instance_type, u.peak_concurrent_users, r.job_id "
                        "FROM compute_usage u LEFT JOIN job_runs r ON u.parent_type = 'JOB_RUN' "
                        "AND r.job_run_id = u.parent_id "
                        "ORDER BY u.total_cost DESC, u.compute_usage_id LIMIT ?1",
                        &st);
    if (rc == RT_OK)
        sqlite3_bind_int (st, 1, cx->o.max_usage);
    while (s_step (cx, st, &rc)) {
        s_begin (cx);
        const char *id = s_col (st, 0), *pid = s_col (st, 1), *ptype = s_col (st, 2);
        s_line (cx, "Compute Usage", id);
        buf_printf (cx->text, "Parent: %s (%s)\n", pid, ptype);
        if (!s_null (st, 12))
            s_line (cx, "Job ID", s_col (st, 12));
        s_line (cx, "Date", s_col (st, 3));
        s_line (cx, "SKU", s_col (st, 4));
        if (*s_col (st, 10))
            s_line (cx, "Instance Type", s_col (st, 10));
        buf_printf (cx->text, "DBUs: %.2f\nCost: $%.2f\nCPU: %.1f%%\nMemory: %.1f GB\n",
                    sqlite3_column_double (st, 5), sqlite3_column_double (st, 6),
                    100.0 * sqlite3_column_double (st, 7), sqlite3_column_double (st, 8));
        if (!s_null (st, 11))
            buf_printf (cx->text, "Peak concurrent users: %lld\n", (long long) sqlite3_column_int64 (st, 11));
        s_line (cx, "Production", sqlite3_column_int64 (st, 9) ? "Yes" : "No");
        buf_printf (cx->title, "Usage %s on %s ($%.2f)", pid, s_col (st, 3), sqlite3_column_double (st, 6));
        s_ent (cx, "usage", id);
        if (strcmp (ptype, "JOB_RUN") == 0) {
            s_ent (cx, "jobrun", pid);
            s_ent (cx, "job", s_col (st, 12));
        } else {
            s_ent (cx, "compute", pid);
        }
        char cost[32];
        str_fmt (cost, sizeof cost, "%.2f", sqlite3_column_double (st, 6));
        const char *kv[] = {"parent_id", pid, "parent_type", ptype, "usage_date", s_col (st, 3),
                            "total_cost", cost, NULL};
        if ((rc = s_meta (cx, "usage", kv)) == RT_OK)
            rc = s_commit (cx, "usage");
    }
    sqlite3_finalize (st);
    return rc;
}

static int
s_event_doc (s_ctx_t *cx, sqlite3_stmt *st)
{
    s_begin (cx);
    const char *id = s_col (st, 0), *type = s_col (st, 1), *time = s_col (st, 2), *cu = s_col (st, 3),
               *user = s_col (st, 4), *evict = s_col (st, 6), *ptype = s_col (st, 7),
               *pid = s_col (st, 8), *job = s_col (st, 9);
    s_line (cx, "Event", id);
    s_line (cx, "Type", type);
    s_line (cx, "Time", time);
    s_line (cx, "Compute", cu);
    if (*job)
        s_line (cx, "Job ID", job);
    else if (*pid && strcmp (ptype, "JOB_RUN") != 0)
        s_line (cx, "Compute Resource", pid);
    if (*user)
        s_line (cx, "User", user);
    s_line (cx, "Details", s_col (st, 5));
    if (*evict)
        s_line (cx, "Related Eviction", evict);
    buf_printf (cx->title, "%s %s", type, time);
    s_ent (cx, "event", id);
    s_ent (cx, "usage", cu);
    if (*pid) {
        if (strcmp (ptype, "JOB_RUN") == 0) {
            s_ent (cx, "jobrun", pid);
            s_ent (cx, "job", job);
        } else {
            s_ent (cx, "compute", pid);
        }
    }
    s_ent (cx, "user", user);
    s_ent (cx, "eviction", evict);
    const char *kv[] = {"event_type", type, "event_time", time, "compute_usage_id", cu,
                        "eviction_id", evict, NULL};
    int rc = s_meta (cx, "event", kv);
    return rc == RT_OK ? s_commit (cx, "event") : rc;
}

#define EVENT_SQL                                                                                   \
    "SELECT e.event_id, e.event_type, e.event_time, e.compute_usage_id, e.user_id, e.details, "      \
    "e.eviction_id, u.parent_type, u.parent_id, r.job_id FROM events e "                             \
    "LEFT JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id "                          \
    "LEFT JOIN job_runs r ON u.parent_type = 'JOB_RUN' AND r.job_run_id = u.parent_id "

static int
s_events (s_ctx_t *cx)
{
    sqlite3_stmt *st = NULL;
    int rc = s_prepare (cx,
                        EVENT_SQL "WHERE e.event_type IN ('SPOT_EVICTION', 'CONFIG_CHANGE', 'AUTOSCALING') "
                                  "ORDER BY e.event_time DESC, e.event_id DESC LIMIT ?1",
                        &st);
    if (rc == RT_OK)
        sqlite3_bind_int (st, 1, cx->o.max_notable_events);
    while (s_step (cx, st, &rc))
        rc = s_event_doc (cx, st);
    sqlite3_finalize (st);
    st = NULL;
    if (rc == RT_OK)
        rc = s_prepare (cx,
                        EVENT_SQL "WHERE e.event_type NOT IN ('SPOT_EVICTION', 'CONFIG_CHANGE', 'AUTOSCALING') "
                                  "ORDER BY e.event_time DESC, e.event_id DESC LIMIT ?1",
                        &st);
    if (rc == RT_OK)
        sqlite3_bind_int (st, 1, cx->o.max_other_events);
    while (s_step (cx, st, &rc))
        rc = s_event_doc (cx, st);
    sqlite3_finalize (st);
    return rc;
}

static int
s_evictions (s_ctx_t *cx)
{
    sqlite3_stmt *st = NULL;
    int rc = s_prepare (cx,
                        "SELECT x.eviction_id, x.cloud_instance_id, x.eviction_time, x.eviction_reason, "
                        "x.spot_price, x.cloud_provider_message, x.was_retried, x.eviction_action, "
                        "MIN(e.event_id), MIN(e.compute_usage_id), MIN(r.job_run_id), MIN(r.job_id) "
                        "FROM (SELECT * FROM eviction_details ORDER BY eviction_time DESC, eviction_id DESC "
                        "LIMIT ?1) x "
                        "LEFT JOIN events e ON e.eviction_id = x.eviction_id "
                        "LEFT JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id "
                        "LEFT JOIN job_runs r ON u.parent_type = 'JOB_RUN' AND r.job_run_id = u.parent_id "
                        "GROUP BY x.eviction_id ORDER BY x.eviction_id",
                        &st);
    if (rc == RT_OK)
        sqlite3_bind_int (st, 1, cx->o.max_evictions);
    while (s_step (cx, st, &rc)) {
        s_begin (cx);
        const char *id = s_col (st, 0), *time = s_col (st, 2), *reason = s_col (st, 3),
                   *job = s_col (st, 11);
        s_line (cx, "Spot Eviction", id);
        s_line (cx, "Instance", s_col (st, 1));
        s_line (cx, "Time", time);
        s_line (cx, "Reason", reason);
        buf_printf (cx->text, "Spot Price: $%.3f\n", sqlite3_column_double (st, 4));
        s_line (cx, "Provider Message", s_col (st, 5));
        s_line (cx, "Action", s_col (st, 7));
        s_line (cx, "Retried", sqlite3_column_int64 (st, 6) ? "Yes" : "No");
        if (*job)
            s_line (cx, "Job ID", job);
        if (*s_col (st, 10))
            s_line (cx, "Job Run", s_col (st, 10));
        buf_printf (cx->title, "Spot eviction %s (%s)", time, reason);
        s_ent (cx, "eviction", id);
        s_ent (cx, "event", s_col (st, 8));
        s_ent (cx, "usage", s_col (st, 9));
        s_ent (cx, "jobrun", s_col (st, 10));
        s_ent (cx, "job", job);
        const char *kv[] = {"eviction_time", time, "eviction_reason", reason, "was_retried",
                            sqlite3_column_int64 (st, 6) ? "1" : "0", NULL};
        if ((rc = s_meta (cx, "eviction", kv)) == RT_OK)
            rc = s_commit (cx, "eviction");
    }
    sqlite3_finalize (st);
    return rc;
}

static int
s_query_doc (s_ctx_t *cx, sqlite3_stmt *st)
{
    s_begin (cx);
    const char *id = s_col (st, 0), *wh = s_col (st, 1), *user = s_col (st, 2), *err = s_col (st, 7);
    s_line (cx, "SQL Query", id);
    s_line (cx, "Warehouse", wh);
    s_line (cx, "User", user);
    s_line (cx, "Start", s_col (st, 3));
    buf_printf (cx->text, "Duration: %lld ms\n", (long long) sqlite3_column_int64 (st, 4));
    s_line (cx, "SKU", s_col (st, 5));
    const char *sql = s_col (st, 6);
    size_t sl = strlen (sql);
    if (sl > 500) {
        sl = 500;
        while (sl > 0 && ((unsigned char) sql[sl] & 0xC0) == 0x80)
            sl--; /* keep UTF-8 whole */
    }
    buf_puts (cx->text, "\nSQL: ");
    buf_append (cx->text, sql, sl);
    buf_puts (cx->text, "\n");
    if (*err)
        s_line (cx, "Error", err);
    buf_printf (cx->title, "SQL query %s on %s", id, wh);
    s_ent (cx, "query", id);
    s_ent (cx, "compute", wh);
    s_ent (cx, "user", user);
    const char *kv[] = {"user_id", user, "start_time", s_col (st, 3), "has_error", *err ? "1" : "0", NULL};
    int rc = s_meta (cx, "query", kv);
    return rc == RT_OK ? s_commit (cx, "query") : rc;
}

#define QUERY_SQL                                                                                \
    "SELECT query_id, parent_id, user_id, start_time, duration_ms, warehouse_sku, sql_text, "    \
    "error_message FROM sql_query_history "

static int
s_queries (s_ctx_t *cx)
{
    sqlite3_stmt *st = NULL;
    int rc = s_prepare (cx, QUERY_SQL "ORDER BY start_time DESC, query_id DESC LIMIT ?1", &st);
    if (rc == RT_OK)
        sqlite3_bind_int (st, 1, cx->o.max_queries);
    while (s_step (cx, st, &rc))
        rc = s_query_doc (cx, st);
    sqlite3_finalize (st);
    st = NULL;
    if (rc == RT_OK)
        rc = s_prepare (cx,
                        QUERY_SQL "WHERE error_message IS NOT NULL AND error_message <> '' "
                                  "ORDER BY start_time DESC, query_id DESC LIMIT ?1",
                        &st);
    if (rc == RT_OK)
        sqlite3_bind_int (st, 1, cx->o.max_queries);
    while (s_step (cx, st, &rc))
        rc = s_query_doc (cx, st);
    sqlite3_finalize (st);
    return rc;
}

static int
s_changes (s_ctx_t *cx)
{
    sqlite3_stmt *st = NULL;
    int rc = s_prepare (cx,
                        "SELECT change_id, entity_type, entity_id, changed_at, field, before_value, "
                        "after_value, changed_by, event_id FROM config_changes "
                        "ORDER BY changed_at DESC, change_id DESC LIMIT ?1",
                        &st);
    if (rc == RT_OK)
        sqlite3_bind_int (st, 1, cx->o.max_changes);
    while (s_step (cx, st, &rc)) {
        s_begin (cx);
        const char *id = s_col (st, 0), *etype = s_col (st, 1), *eid = s_col (st, 2),
                   *field = s_col (st, 4), *time = s_col (st, 3);
        s_line (cx, "Configuration Change", id);
        buf_printf (cx->text, "Entity: %s %s\n", etype, eid);
        s_line (cx, "Time", time);
        s_line (cx, "Field", field);
        s_line (cx, "Before", s_col (st, 5));
        s_line (cx, "After", s_col (st, 6));
        if (*s_col (st, 7))
            s_line (cx, "Changed By", s_col (st, 7));
        buf_printf (cx->title, "%s change on %s %s at %s", field, etype, eid, time);
        s_ent (cx, "configchange", id);
        if (strcmp (etype, "JOB") == 0)
            s_ent (cx, "job", eid);
        else if (strcmp (etype, "CLUSTER") == 0 || strcmp (etype, "WAREHOUSE") == 0)
            s_ent (cx, "compute", eid);
        else if (strcmp (etype, "WORKSPACE") == 0)
            s_ent (cx, "workspace", eid);
        s_ent (cx, "user", s_col (st, 7));
        s_ent (cx, "event", s_col (st, 8));
        const char *kv[] = {"entity_type", etype, "entity_id", eid, "field", field, "changed_at", time,
                            NULL};
        if ((rc = s_meta (cx, "configchange", kv)) == RT_OK)
            rc = s_commit (cx, "configchange");
    }
    sqlite3_finalize (st);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* anomalies (report engine detector)                                        */

typedef struct {
    json_t *a;      /* borrowed from the detector's array */
    double absz;
    char id[300];
} s_anom_t;

static int
s_anom_cmp (const void *x, const void *y)
{
    const s_anom_t *a = x, *b = y;
    if (a->absz != b->absz)
        return a->absz > b->absz ? -1 : 1;
    return strcmp (a->id, b->id);
}

static const char *
s_jstr (json_t *o, const char *key)
{
    const char *v = json_string_value (json_object_get (o, key));
    return v ? v : "";
}

static double
s_jnum (json_t *o, const char *key)
{
    json_t *v = json_object_get (o, key);
    return json_is_number (v) ? json_number_value (v) : NAN;
}

/* Graph node type of a detector entity type (as the graph-service maps the
 * alerts it receives): job, or a compute resource. NULL when unknown. */
static const char *
s_anom_node_type (const char *etype)
{
    if (str_ieq (etype, "job"))
        return "job";
    if (str_ieq (etype, "compute") || str_ieq (etype, "sql_warehouse") || str_ieq (etype, "apc_cluster")
        || str_ieq (etype, "warehouse") || str_ieq (etype, "cluster"))
        return "compute";
    return NULL;
}

static int
s_anomaly_doc (s_ctx_t *cx, const s_anom_t *an, const char *ntype)
{
    json_t *a = an->a;
    const char *eid = s_jstr (a, "entity_id"), *ename = s_jstr (a, "entity_name"),
               *etype = s_jstr (a, "entity_type"), *date = s_jstr (a, "date"),
               *sev = s_jstr (a, "severity");
    double cost = s_jnum (a, "value"), exp = s_jnum (a, "expected"), lo = s_jnum (a, "expected_low"),
           hi = s_jnum (a, "expected_high"), z = s_jnum (a, "z_score"), pct = s_jnum (a, "pct_deviation");
    s_begin (cx);
    s_line (cx, "Cost Anomaly", an->id);
    buf_printf (cx->text, "Entity: %s::%s%s%s%s\n", ntype, eid, *ename ? " (" : "", ename, *ename ? ")" : "");
    s_line (cx, strcmp (ntype, "job") == 0 ? "Job ID" : "Compute ID", eid);
    if (strcmp (ntype, "compute") == 0)
        s_line (cx, "Compute Type", etype);
    s_line (cx, "Date", date);
    buf_printf (cx->text, "Daily Cost: $%.2f\n", cost);
    buf_printf (cx->text, "Expected Cost: $%.2f (expected range $%.2f to $%.2f)\n", exp, lo, hi);
    buf_printf (cx->text, "Z-Score: %.2f\n", z);
    if (isfinite (pct))
        buf_printf (cx->text, "Deviation: %+.1f%%\n", pct);
    s_line (cx, "Severity", sev);
    buf_printf (cx->text, "Summary: %s cost %s on %s for %s: $%.2f against an expected $%.2f (z-score %.1f)\n",
                sev, z >= 0 ? "spike" : "drop", date, *ename ? ename : eid, cost, exp, z);
    buf_printf (cx->title, "%s cost anomaly of %s %s%s%s%s on %s", sev, ntype, eid, *ename ? " (" : "", ename,
                *ename ? ")" : "", date);
    rt__strv_free (&cx->ents);
    int rc = rt__strv_push (&cx->ents, an->id);
    if (rc == RT_OK)
        rc = s_ent (cx, ntype, eid);
    if (rc < 0)
        return rc;
    char sc[32], zs[32], ex[32], elo[32], ehi[32];
    str_fmt (sc, sizeof sc, "%.2f", cost);
    str_fmt (zs, sizeof zs, "%.3f", z);
    str_fmt (ex, sizeof ex, "%.2f", exp);
    str_fmt (elo, sizeof elo, "%.2f", lo);
    str_fmt (ehi, sizeof ehi, "%.2f", hi);
    char node[300];
    str_fmt (node, sizeof node, "%s::%s", ntype, eid);
    const char *kv[] = {"entity", node, "entity_type", etype, "date", date, "severity", sev, "total_cost", sc,
                        "expected", ex, "expected_low", elo, "expected_high", ehi, "z_score", zs, NULL};
    if ((rc = s_meta (cx, "anomaly", kv)) == RT_OK)
        rc = s_commit (cx, "anomaly");
    return rc;
}

static int
s_anomalies (s_ctx_t *cx, const char *db_path)
{
    char err[512] = "";
    rs_engine_t *eng = rs_engine_new (db_path, NULL, err, sizeof err);
    if (!eng)
        return rt__fail (RT_E_DB, "anomaly detector: %s", err[0] ? err : "cannot open the report engine");
    json_t *all = NULL;
    int rc = RT_OK, erc = rs_engine_detect (eng, NULL, 0, &all);
    if (erc != 0) {
        rc = rt__fail (RT_E_DB, "anomaly detector: %s: %s", rs_strerror (erc), rs_engine_error (eng));
        rs_engine_destroy (&eng);
        return rc;
    }
    size_t n = json_array_size (all), m = 0;
    s_anom_t *v = calloc (n ? n : 1, sizeof *v);
    if (!v)
        rc = rt__fail (RT_E_NOMEM, "out of memory");
    for (size_t i = 0; i < n && rc == RT_OK; i++) {
        json_t *a = json_array_get (all, i);
        const char *eid = s_jstr (a, "entity_id"), *date = s_jstr (a, "date");
        const char *nt = s_anom_node_type (s_jstr (a, "entity_type"));
        /* the id scheme of gs_anomaly_id: anomaly::<entity pk>:<YYYY-MM-DD> */
        if (!nt || !*eid || strlen (date) != 10 || strpbrk (eid, " \t\n")
            || str_fmt (v[m].id, sizeof v[m].id, "anomaly::%s:%s", eid, date) != 0)
            continue;
        v[m].a = a;
        double z = s_jnum (a, "z_score");
        v[m].absz = isfinite (z) ? fabs (z) : 0.0;
        m++;
    }
    if (rc == RT_OK && m > 1)
        qsort (v, m, sizeof *v, s_anom_cmp);
    if (m > (size_t) cx->o.max_anomalies)
        m = (size_t) cx->o.max_anomalies;
    for (size_t i = 0; i < m && rc == RT_OK; i++)
        rc = s_anomaly_doc (cx, &v[i], s_anom_node_type (s_jstr (v[i].a, "entity_type")));
    free (v);
    json_decref (all);
    rs_engine_destroy (&eng);
    return rc;
}

static void
s_fill_defaults (rt_telemetry_opts_t *o)
{
    if (o->max_anomalies <= 0)
        o->max_anomalies = 1000;
    if (o->runs_per_job <= 0)
        o->runs_per_job = 60;
    if (o->max_failed_runs <= 0)
        o->max_failed_runs = 2000;
    if (o->max_usage <= 0)
        o->max_usage = 200;
    if (o->max_notable_events <= 0)
        o->max_notable_events = 2000;
    if (o->max_other_events <= 0)
        o->max_other_events = 100;
    if (o->max_evictions <= 0)
        o->max_evictions = 2000;
    if (o->max_queries <= 0)
        o->max_queries = 300;
    if (o->max_changes <= 0)
        o->max_changes = 2000;
}

int
rt_telemetry_load (const char *db_path, const rt_telemetry_opts_t *opts, rt_docset_t *out)
{
    if (!db_path || !out)
        return rt__fail (RT_E_ARG, "rt_telemetry_load: NULL argument");
    s_ctx_t cx = {.out = out};
    if (opts)
        cx.o = *opts;
    s_fill_defaults (&cx.o);
    int rc = RT_OK;
    if (sqlite3_open_v2 (db_path, &cx.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = rt__fail (RT_E_DB, "cannot open telemetry DB %s: %s", db_path,
                       cx.db ? sqlite3_errmsg (cx.db) : "out of memory");
        sqlite3_close_v2 (cx.db);
        return rc;
    }
    sqlite3_busy_timeout (cx.db, 5000);
    if (!s_table_exists (cx.db, "jobs") || !s_table_exists (cx.db, "job_runs")) {
        rc = rt__fail (RT_E_DB, "%s is not a telemetry database (no jobs/job_runs table)", db_path);
        sqlite3_close_v2 (cx.db);
        return rc;
    }
    cx.has_changes = s_table_exists (cx.db, "config_changes");
    cx.has_deps = s_table_exists (cx.db, "job_dependencies");
    cx.has_usage = s_table_exists (cx.db, "compute_usage") && s_table_exists (cx.db, "non_job_compute");
    cx.text = buf_new (64 * 1024);
    cx.meta = buf_new (16 * 1024);
    cx.title = buf_new (1024);
    if (!cx.text || !cx.meta || !cx.title)
        rc = rt__fail (RT_E_NOMEM, "out of memory");
    /* A read transaction makes every query see one snapshot. */
    if (rc == RT_OK && sqlite3_exec (cx.db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
        rc = s_db_fail (&cx, "begin");
    if (rc == RT_OK)
        rc = s_workspaces (&cx);
    if (rc == RT_OK)
        rc = s_users (&cx);
    if (rc == RT_OK)
        rc = s_jobs (&cx);
    if (rc == RT_OK)
        rc = s_computes (&cx);
    if (rc == RT_OK)
        rc = s_runs (&cx);
    if (rc == RT_OK)
        rc = s_usage (&cx);
    if (rc == RT_OK)
        rc = s_events (&cx);
    if (rc == RT_OK)
        rc = s_evictions (&cx);
    if (rc == RT_OK)
        rc = s_queries (&cx);
    if (rc == RT_OK && cx.has_changes)
        rc = s_changes (&cx);
    if (rc == RT_OK && cx.has_usage)
        rc = s_anomalies (&cx, db_path);
    if (rc == RT_E_TOOBIG)
        rc = rt__fail (RT_E_TOOBIG, "a telemetry document exceeded its size cap");
    sqlite3_exec (cx.db, "COMMIT", NULL, NULL, NULL);
    rt__strv_free (&cx.ents);
    buf_destroy (&cx.text);
    buf_destroy (&cx.meta);
    buf_destroy (&cx.title);
    sqlite3_close_v2 (cx.db);
    return rc;
}
