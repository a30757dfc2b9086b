/* rs_facts.c — EntityFacts: the figures about one entity that the prompt
 * builder and the narrator may quote, each traceable to rows.
 *
 * Entity types: job (job_id), compute (compute_id of a warehouse or
 * all-purpose cluster), compute_type (JOB_RUN, SQL_WAREHOUSE, APC_CLUSTER)
 * and anomaly ("<entity_id>:<YYYY-MM-DD>"). The window is the resolved
 * [from, to] of the common parameters (usage_date, or the run's start date).
 *
 * Every fact is {name, value, text, unit, source_table, row_keys, row_count,
 * filter}: `row_keys` lists up to RS_FACT_KEYS primary keys of the rows the
 * figure was computed from (ordered), `row_count` how many there were, and
 * `filter` the predicate that selects them, so a reader can recount any
 * number. Optional tables (config_changes, job_dependencies from the
 * migrations) are used when present; on the raw reference fixture the
 * dependencies come from the "DEPENDS ON: J-X" text of jobs.description.
 * Facts appear in a fixed order; SQL has explicit ORDER BY everywhere.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "rs_internal.h"
#include "str.h"

#define RS_FACT_KEYS 25

typedef struct {
    rs_engine_t *eng;
    const rs_registry_t *reg;
    db_t *db;
    const char *id;
    const char *from, *to, *as_of;
    const char *date;        /* anomaly day */
    json_t *facts;
    json_t *related;
    char *err;
    size_t errsz;
} fx_t;

static int
s_err (fx_t *f, int code, const char *what)
{
    snprintf (f->err, f->errsz, "%s: %s", what, db_errmsg (f->db));
    return code;
}

/* Prepares `sql` and binds :id :from :to :as_of :date. NULL on error. */
static sqlite3_stmt *
s_stmt (fx_t *f, const char *sql)
{
    sqlite3_stmt *st = db_prepare (f->db, sql);
    if (!st)
        return NULL;
    int n = sqlite3_bind_parameter_count (st);
    for (int i = 1; i <= n; i++) {
        const char *nm = sqlite3_bind_parameter_name (st, i);
        const char *v = NULL;
        if (!nm)
            continue;
        if (strcmp (nm, ":id") == 0)
            v = f->id;
        else if (strcmp (nm, ":from") == 0)
            v = f->from;
        else if (strcmp (nm, ":to") == 0)
            v = f->to;
        else if (strcmp (nm, ":as_of") == 0)
            v = f->as_of;
        else if (strcmp (nm, ":date") == 0)
            v = f->date;
        if (v)
            sqlite3_bind_text (st, i, v, -1, SQLITE_TRANSIENT);
        else
            sqlite3_bind_null (st, i);
    }
    return st;
}

static bool
s_has_table (fx_t *f, const char *name)
{
    sqlite3_stmt *st = db_prepare (f->db, "SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?1");
    if (!st)
        return false;
    sqlite3_bind_text (st, 1, name, -1, SQLITE_TRANSIENT);
    bool ok = sqlite3_step (st) == SQLITE_ROW;
    sqlite3_reset (st);
    return ok;
}

/* Runs a one-column key query; returns the first RS_FACT_KEYS keys and the
 * total count. */
static int
s_keys (fx_t *f, const char *sql, json_t **keys, long *count)
{
    sqlite3_stmt *st = s_stmt (f, sql);
    if (!st)
        return s_err (f, RS_E_DB, "facts");
    *keys = json_array ();
    *count = 0;
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        if (*count < RS_FACT_KEYS && sqlite3_column_type (st, 0) != SQLITE_NULL)
            json_array_append_new (*keys, json_string ((const char *) sqlite3_column_text (st, 0)));
        (*count)++;
    }
    sqlite3_reset (st);
    if (rc != SQLITE_DONE) {
        json_decref (*keys);
        *keys = NULL;
        return s_err (f, RS_E_DB, "facts");
    }
    return 0;
}

static void
s_add (fx_t *f, const char *name, double value, const char *text, const char *unit, const char *table,
       json_t *keys, long count, const char *filter)
{
    json_t *o = json_object ();
    json_object_set_new (o, "name", json_string (name));
    json_object_set_new (o, "value", isnan (value) || isinf (value) ? json_null () : json_real (value));
    json_object_set_new (o, "text", json_string (text ? text : ""));
    json_object_set_new (o, "unit", json_string (unit ? unit : ""));
    json_object_set_new (o, "source_table", json_string (table));
    json_object_set_new (o, "row_keys", keys ? keys : json_array ());
    json_object_set_new (o, "row_count", json_integer (count));
    json_object_set_new (o, "filter", json_string (filter ? filter : ""));
    json_array_append_new (f->facts, o);
}

/* Scalar query (first column of the first row) as double; NAN when NULL. */
static int
s_scalar (fx_t *f, const char *sql, double *out)
{
    sqlite3_stmt *st = s_stmt (f, sql);
    if (!st)
        return s_err (f, RS_E_DB, "facts");
    int rc = sqlite3_step (st);
    *out = NAN;
    if (rc == SQLITE_ROW && sqlite3_column_type (st, 0) != SQLITE_NULL)
        *out = sqlite3_column_double (st, 0);
    sqlite3_reset (st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return s_err (f, RS_E_DB, "facts");
    return 0;
}

/* A numeric fact whose rows are given by key_sql. */
static int
s_num_fact (fx_t *f, const char *name, const char *unit, const char *table, const char *value_sql,
            const char *key_sql, const char *filter, const char *text)
{
    double v;
    json_t *keys = NULL;
    long cnt = 0;
    int rc = s_scalar (f, value_sql, &v);
    if (rc == 0 && key_sql)
        rc = s_keys (f, key_sql, &keys, &cnt);
    if (rc != 0)
        return rc;
    s_add (f, name, v, text, unit, table, keys, cnt, filter);
    return 0;
}

static void
s_related (fx_t *f, const char *type, const char *id)
{
    char buf[400];
    if (!id || !id[0] || str_fmt (buf, sizeof buf, "%s::%s", type, id) != 0)
        return;
    size_t i;
    json_t *it;
    json_array_foreach (f->related, i, it)
        if (strcmp (json_string_value (it), buf) == 0)
            return;
    json_array_append_new (f->related, json_string (buf));
}

/* ---- anomalies of an entity (detector over the window) ----------------- */
static int
s_anomaly_facts (fx_t *f, const char *entity_id, const char *only_date, json_t **found)
{
    rs_param_t p[3] = {{"from", f->from}, {"to", f->to}, {"as_of", f->as_of}};
    json_t *all = NULL;
    /* the anomaly report's own default window is as_of - 90 days; facts use
     * the caller's window, which defaults to all data up to as_of */
    int rc = rs_engine__entity_anomalies (f->eng, entity_id, p, 3, &all);
    if (rc != 0) {
        snprintf (f->err, f->errsz, "anomalies: %s", rs_engine_error (f->eng));
        return rc;
    }
    size_t i;
    json_t *a;
    json_array_foreach (all, i, a) {
        if (strcmp (json_string_value (json_object_get (a, "entity_id")), entity_id) != 0)
            continue;
        const char *date = json_string_value (json_object_get (a, "date"));
        if (only_date && strcmp (date, only_date) != 0)
            continue;
        if (found) {
            *found = json_incref (a);
            continue;
        }
        char txt[300];
        double pct = json_number_value (json_object_get (a, "pct_deviation"));
        snprintf (txt, sizeof txt, "%s: %s cost anomaly, $%.2f vs expected $%.2f (%+.0f%%, z = %.2f)", date,
                  json_string_value (json_object_get (a, "severity")),
                  json_number_value (json_object_get (a, "value")),
                  json_number_value (json_object_get (a, "expected")), pct,
                  json_number_value (json_object_get (a, "z_score")));
        json_t *keys = json_array ();
        json_array_append_new (keys, json_string (json_string_value (json_object_get (a, "alert_id"))));
        char filt[200];
        snprintf (filt, sizeof filt, "detector over daily cost of %s, %s..%s", entity_id, f->from, f->to);
        s_add (f, "anomaly", pct, txt, "pct", "compute_usage", keys, 1, filt);
        s_related (f, "anomaly", json_string_value (json_object_get (a, "alert_id")));
    }
    json_decref (all);
    return 0;
}

/* ---- config changes (migration 003) ------------------------------------ */
static int
s_config_facts (fx_t *f, const char *etypes_sql_list)
{
    if (!s_has_table (f, "config_changes"))
        return 0;
    char sql[800];
    snprintf (sql, sizeof sql,
              "SELECT change_id, changed_at, field, COALESCE(before_value,''), COALESCE(after_value,''),"
              " COALESCE(changed_by,'') FROM config_changes WHERE entity_id = :id AND entity_type IN (%s)"
              " AND substr(changed_at,1,10) BETWEEN :from AND :to ORDER BY changed_at DESC, change_id LIMIT 10",
              etypes_sql_list);
    sqlite3_stmt *st = s_stmt (f, sql);
    if (!st)
        return s_err (f, RS_E_DB, "config_changes");
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        char txt[600];
        snprintf (txt, sizeof txt, "%s: %s changed from %s to %s%s%s", (const char *) sqlite3_column_text (st, 1),
                  (const char *) sqlite3_column_text (st, 2), (const char *) sqlite3_column_text (st, 3),
                  (const char *) sqlite3_column_text (st, 4), sqlite3_column_bytes (st, 5) ? " by " : "",
                  (const char *) sqlite3_column_text (st, 5));
        json_t *keys = json_array ();
        json_array_append_new (keys, json_string ((const char *) sqlite3_column_text (st, 0)));
        s_add (f, "config_change", NAN, txt, "", "config_changes", keys, 1, "entity_id = id, changed_at in window");
        s_related (f, "configchange", (const char *) sqlite3_column_text (st, 0));
    }
    sqlite3_reset (st);
    return rc == SQLITE_DONE ? 0 : s_err (f, RS_E_DB, "config_changes");
}

/* ---- job ---------------------------------------------------------------- */
#define JOB_USAGE                                                                                  \
    " FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"                         \
    " WHERE u.parent_type = 'JOB_RUN' AND r.job_id = :id AND u.usage_date BETWEEN :from AND :to"
#define JOB_RUNS                                                                                   \
    " FROM job_runs r LEFT JOIN compute_usage u ON u.parent_id = r.job_run_id AND u.parent_type = 'JOB_RUN'" \
    " WHERE r.job_id = :id AND COALESCE(u.usage_date, date(r.start_time)) BETWEEN :from AND :to"

static int
s_job (fx_t *f, json_t *out)
{
    sqlite3_stmt *st = s_stmt (f, "SELECT job_name, workspace_id, COALESCE(description,''), COALESCE(tags,'') FROM jobs WHERE job_id = :id");
    if (!st)
        return s_err (f, RS_E_DB, "jobs");
    if (sqlite3_step (st) != SQLITE_ROW) {
        sqlite3_reset (st);
        snprintf (f->err, f->errsz, "entity_id: no job '%.100s' in the data", f->id);
        return RS_E_NOTFOUND;
    }
    char name[300], ws[200], desc[1000], tags[600];
    str_copy (name, sizeof name, (const char *) sqlite3_column_text (st, 0));
    str_copy (ws, sizeof ws, (const char *) sqlite3_column_text (st, 1));
    str_copy (desc, sizeof desc, (const char *) sqlite3_column_text (st, 2));
    str_copy (tags, sizeof tags, (const char *) sqlite3_column_text (st, 3));
    sqlite3_reset (st);
    json_object_set_new (out, "label", json_string (name));
    s_related (f, "job", f->id);
    s_related (f, "workspace", ws);
    json_t *k = json_array ();
    json_array_append_new (k, json_string (f->id));
    s_add (f, "job_name", NAN, name, "", "jobs", k, 1, "job_id = id");
    k = json_array ();
    json_array_append_new (k, json_string (f->id));
    s_add (f, "description", NAN, desc, "", "jobs", json_incref (k), 1, "job_id = id");
    s_add (f, "tags", NAN, tags, "", "jobs", k, 1, "job_id = id");

    int rc;
    const char *usage_keys = "SELECT u.compute_usage_id" JOB_USAGE " ORDER BY u.usage_date, u.compute_usage_id";
    const char *filt_usage = "compute_usage JOB_RUN rows of the job's runs, usage_date in [from, to]";
    if ((rc = s_num_fact (f, "cost_total_usd", "usd", "compute_usage", "SELECT TOTAL(u.total_cost)" JOB_USAGE,
                          usage_keys, filt_usage, NULL)))
        return rc;
    /* share and rank among all jobs in the window */
    static const char *rank_sql =
        "WITH c AS (SELECT r.job_id, SUM(u.total_cost) AS cost FROM compute_usage u"
        " JOIN job_runs r ON r.job_run_id = u.parent_id WHERE u.parent_type = 'JOB_RUN'"
        " AND u.usage_date BETWEEN :from AND :to GROUP BY r.job_id)"
        " SELECT 100.0 * (SELECT cost FROM c WHERE job_id = :id) / NULLIF((SELECT SUM(cost) FROM c), 0),"
        " (SELECT COUNT(*) FROM c WHERE cost > (SELECT cost FROM c WHERE job_id = :id)) + 1,"
        " (SELECT COUNT(*) FROM c), (SELECT cost FROM c WHERE job_id = :id)";
    /* with current, exact rollups the same figures come from the job
     * rollups (sql/reports/facts_job_rank.fast.sql) instead of a scan of
     * every usage row in the window */
    const char *rank_fast = rs_engine__fast_allowed (f->eng) ? f->reg->facts_rank_fast : NULL;
    st = s_stmt (f, rank_fast ? rank_fast : rank_sql);
    if (!st)
        return s_err (f, RS_E_DB, "facts");
    if (sqlite3_step (st) == SQLITE_ROW && sqlite3_column_type (st, 3) != SQLITE_NULL) {
        double share = sqlite3_column_double (st, 0);
        long rank = (long) sqlite3_column_int64 (st, 1), total = (long) sqlite3_column_int64 (st, 2);
        char txt[100];
        snprintf (txt, sizeof txt, "%.1f%% of job cost", share);
        s_add (f, "cost_share_pct", share, txt, "pct", "compute_usage", NULL, 0,
               "all JOB_RUN usage rows, usage_date in [from, to]");
        snprintf (txt, sizeof txt, "#%ld of %ld jobs by cost", rank, total);
        s_add (f, "cost_rank", (double) rank, txt, "rank", "compute_usage", NULL, 0,
               "all JOB_RUN usage rows, usage_date in [from, to]");
    }
    sqlite3_reset (st);

    const char *run_keys = "SELECT r.job_run_id" JOB_RUNS " ORDER BY r.start_time, r.job_run_id";
    const char *filt_runs = "job_runs of the job (SKIPPED included), run date in [from, to]";
    if ((rc = s_num_fact (f, "runs_total", "count", "job_runs", "SELECT COUNT(DISTINCT r.job_run_id)" JOB_RUNS, run_keys,
                          filt_runs, NULL)))
        return rc;
    static const char *statuses[] = {"SUCCESS", "FAILED", "SKIPPED"};
    static const char *snames[] = {"runs_success", "runs_failed", "runs_skipped"};
    for (int i = 0; i < 3; i++) {
        char vsql[600], ksql[600], filt[200];
        snprintf (vsql, sizeof vsql, "SELECT COUNT(DISTINCT r.job_run_id)%s AND r.run_status = '%s'", JOB_RUNS, statuses[i]);
        snprintf (ksql, sizeof ksql, "SELECT r.job_run_id%s AND r.run_status = '%s' ORDER BY r.start_time, r.job_run_id",
                  JOB_RUNS, statuses[i]);
        snprintf (filt, sizeof filt, "%s, run_status = %s", filt_runs, statuses[i]);
        if ((rc = s_num_fact (f, snames[i], "count", "job_runs", vsql, ksql, filt, NULL)))
            return rc;
    }
    if ((rc = s_num_fact (f, "failure_rate_pct", "pct", "job_runs",
                          "SELECT 100.0 * COUNT(DISTINCT CASE WHEN r.run_status = 'FAILED' THEN r.job_run_id END)"
                          " / NULLIF(COUNT(DISTINCT r.job_run_id), 0)" JOB_RUNS,
                          NULL, filt_runs, NULL)))
        return rc;
    if ((rc = s_num_fact (f, "avg_spot_ratio", "ratio", "job_runs", "SELECT AVG(r.spot_ratio)" JOB_USAGE, NULL,
                          "executed runs (with a usage row) of the job in [from, to]", NULL)))
        return rc;
    if ((rc = s_num_fact (f, "failed_run_cost_usd", "usd", "compute_usage",
                          "SELECT TOTAL(u.total_cost)" JOB_USAGE " AND r.run_status = 'FAILED'",
                          "SELECT u.compute_usage_id" JOB_USAGE " AND r.run_status = 'FAILED' ORDER BY u.usage_date, u.compute_usage_id",
                          "usage rows of FAILED runs of the job in [from, to]", NULL)))
        return rc;
    if ((rc = s_num_fact (f, "spot_evictions", "count", "events",
                          "SELECT COUNT(DISTINCT e.event_id) FROM events e JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id"
                          " JOIN job_runs r ON r.job_run_id = u.parent_id WHERE e.event_type = 'SPOT_EVICTION'"
                          " AND u.parent_type = 'JOB_RUN' AND r.job_id = :id AND u.usage_date BETWEEN :from AND :to",
                          "SELECT e.event_id FROM events e JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id"
                          " JOIN job_runs r ON r.job_run_id = u.parent_id WHERE e.event_type = 'SPOT_EVICTION'"
                          " AND u.parent_type = 'JOB_RUN' AND r.job_id = :id AND u.usage_date BETWEEN :from AND :to"
                          " ORDER BY e.event_time, e.event_id",
                          "SPOT_EVICTION events on the job's usage rows in [from, to]", NULL)))
        return rc;
    /* runtime trend: successful runs of the last 7 days vs the rest of the window */
    static const char *trend_sql =
        "SELECT AVG(CASE WHEN date(r.start_time) > date(:to, '-7 days') THEN r.duration_ms END) / 60000.0,"
        " AVG(CASE WHEN date(r.start_time) <= date(:to, '-7 days') THEN r.duration_ms END) / 60000.0"
        " FROM job_runs r WHERE r.job_id = :id AND r.run_status = 'SUCCESS'"
        " AND date(r.start_time) BETWEEN :from AND :to";
    st = s_stmt (f, trend_sql);
    if (!st)
        return s_err (f, RS_E_DB, "facts");
    if (sqlite3_step (st) == SQLITE_ROW) {
        double recent = sqlite3_column_type (st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double (st, 0);
        double base = sqlite3_column_type (st, 1) == SQLITE_NULL ? NAN : sqlite3_column_double (st, 1);
        const char *filt = "SUCCESS runs of the job; recent = last 7 days up to `to`, baseline = earlier days from `from`";
        s_add (f, "runtime_recent_avg_mins", recent, NULL, "minutes", "job_runs", NULL, 0, filt);
        s_add (f, "runtime_baseline_avg_mins", base, NULL, "minutes", "job_runs", NULL, 0, filt);
        double chg = (!isnan (recent) && !isnan (base) && base > 0) ? 100.0 * (recent - base) / base : NAN;
        char txt[120] = "";
        if (!isnan (chg))
            snprintf (txt, sizeof txt, "recent runs take %+.1f%% vs the baseline", chg);
        s_add (f, "runtime_change_pct", chg, txt, "pct", "job_runs", NULL, 0, filt);
    }
    sqlite3_reset (st);

    /* error signatures (most frequent first) */
    st = s_stmt (f, "SELECT error_summary, COUNT(*), MAX(start_time), MAX(job_run_id) FROM job_runs"
                    " WHERE job_id = :id AND run_status IN ('FAILED','SKIPPED') AND error_summary IS NOT NULL"
                    " AND date(start_time) BETWEEN :from AND :to GROUP BY error_summary"
                    " ORDER BY COUNT(*) DESC, error_summary LIMIT 5");
    if (!st)
        return s_err (f, RS_E_DB, "facts");
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        char txt[900];
        snprintf (txt, sizeof txt, "%s (%lld runs, last %s)", (const char *) sqlite3_column_text (st, 0),
                  (long long) sqlite3_column_int64 (st, 1), (const char *) sqlite3_column_text (st, 2));
        json_t *keys = json_array ();
        json_array_append_new (keys, json_string ((const char *) sqlite3_column_text (st, 3)));
        s_add (f, "error_signature", (double) sqlite3_column_int64 (st, 1), txt, "count", "job_runs", keys,
               (long) sqlite3_column_int64 (st, 1), "FAILED/SKIPPED runs of the job with this error_summary");
    }
    sqlite3_reset (st);
    if (rc != SQLITE_DONE)
        return s_err (f, RS_E_DB, "facts");

    /* latest runs are worth anchoring on in the graph */
    st = s_stmt (f, "SELECT job_run_id FROM job_runs WHERE job_id = :id AND date(start_time) BETWEEN :from AND :to"
                    " ORDER BY start_time DESC, job_run_id DESC LIMIT 3");
    if (st) {
        while (sqlite3_step (st) == SQLITE_ROW)
            s_related (f, "jobrun", (const char *) sqlite3_column_text (st, 0));
        sqlite3_reset (st);
    }

    if ((rc = s_config_facts (f, "'JOB'")))
        return rc;
    if ((rc = s_anomaly_facts (f, f->id, NULL, NULL)))
        return rc;

    /* dependencies */
    if (s_has_table (f, "job_dependencies")) {
        st = s_stmt (f, "SELECT upstream_job_id, downstream_job_id, dependency_type FROM job_dependencies"
                        " WHERE upstream_job_id = :id OR downstream_job_id = :id ORDER BY upstream_job_id, downstream_job_id");
        if (!st)
            return s_err (f, RS_E_DB, "job_dependencies");
        while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
            const char *up = (const char *) sqlite3_column_text (st, 0), *down = (const char *) sqlite3_column_text (st, 1);
            bool is_up = strcmp (up, f->id) != 0;
            char txt[400], key[300];
            snprintf (txt, sizeof txt, "%s %s (%s)", is_up ? "depends on" : "is upstream of", is_up ? up : down,
                      (const char *) sqlite3_column_text (st, 2));
            snprintf (key, sizeof key, "%s->%s", up, down);
            json_t *keys = json_array ();
            json_array_append_new (keys, json_string (key));
            s_add (f, is_up ? "upstream_job" : "downstream_job", NAN, txt, "", "job_dependencies", keys, 1,
                   "upstream_job_id = id OR downstream_job_id = id");
            s_related (f, "job", is_up ? up : down);
        }
        sqlite3_reset (st);
        if (rc != SQLITE_DONE)
            return s_err (f, RS_E_DB, "job_dependencies");
    } else {
        /* raw reference DB: "DEPENDS ON: J-X" in jobs.description */
        st = s_stmt (f, "SELECT job_id, description FROM jobs WHERE description LIKE '%DEPENDS ON:%' ORDER BY job_id");
        if (!st)
            return s_err (f, RS_E_DB, "jobs");
        while (sqlite3_step (st) == SQLITE_ROW) {
            const char *jid = (const char *) sqlite3_column_text (st, 0);
            const char *d = strstr ((const char *) sqlite3_column_text (st, 1), "DEPENDS ON:");
            if (!d)
                continue;
            d += strlen ("DEPENDS ON:");
            while (*d == ' ')
                d++;
            size_t n = 0;
            while (d[n] && d[n] != ' ' && d[n] != ',' && d[n] != ';' && d[n] != '.' && n < 200)
                n++;
            char up[210];
            str_copy (up, n + 1 < sizeof up ? n + 1 : sizeof up, d);
            bool mine_down = strcmp (jid, f->id) == 0, mine_up = strcmp (up, f->id) == 0;
            if (!mine_down && !mine_up)
                continue;
            char txt[400];
            snprintf (txt, sizeof txt, "%s %s (parsed from the job description)",
                      mine_down ? "depends on" : "is upstream of", mine_down ? up : jid);
            json_t *keys = json_array ();
            json_array_append_new (keys, json_string (jid));
            s_add (f, mine_down ? "upstream_job" : "downstream_job", NAN, txt, "", "jobs", keys, 1,
                   "jobs.description contains 'DEPENDS ON: <job_id>'");
            s_related (f, "job", mine_down ? up : jid);
        }
        sqlite3_reset (st);
    }
    return 0;
}

/* ---- compute (warehouse / all-purpose cluster) --------------------------- */
#define CMP_USAGE " FROM compute_usage u WHERE u.parent_id = :id AND u.parent_type <> 'JOB_RUN' AND u.usage_date BETWEEN :from AND :to"

static int
s_compute (fx_t *f, json_t *out)
{
    sqlite3_stmt *st = s_stmt (f, "SELECT compute_name, compute_type, workspace_id FROM non_job_compute WHERE compute_id = :id");
    if (!st)
        return s_err (f, RS_E_DB, "non_job_compute");
    if (sqlite3_step (st) != SQLITE_ROW) {
        sqlite3_reset (st);
        snprintf (f->err, f->errsz, "entity_id: no warehouse or cluster '%.100s' in the data", f->id);
        return RS_E_NOTFOUND;
    }
    char name[300], type[64], ws[200];
    str_copy (name, sizeof name, (const char *) sqlite3_column_text (st, 0));
    str_copy (type, sizeof type, (const char *) sqlite3_column_text (st, 1));
    str_copy (ws, sizeof ws, (const char *) sqlite3_column_text (st, 2));
    sqlite3_reset (st);
    json_object_set_new (out, "label", json_string (name));
    s_related (f, "compute", f->id);
    s_related (f, "workspace", ws);
    json_t *k = json_array ();
    json_array_append_new (k, json_string (f->id));
    s_add (f, "compute_name", NAN, name, "", "non_job_compute", json_incref (k), 1, "compute_id = id");
    s_add (f, "compute_type", NAN, type, "", "non_job_compute", k, 1, "compute_id = id");
    int rc;
    const char *keys = "SELECT u.compute_usage_id" CMP_USAGE " ORDER BY u.usage_date, u.compute_usage_id";
    const char *filt = "compute_usage rows of this compute, usage_date in [from, to]";
    if ((rc = s_num_fact (f, "cost_total_usd", "usd", "compute_usage", "SELECT TOTAL(u.total_cost)" CMP_USAGE, keys, filt, NULL)) ||
        (rc = s_num_fact (f, "dbus_total", "dbu", "compute_usage", "SELECT TOTAL(u.dbus_consumed)" CMP_USAGE, NULL, filt, NULL)) ||
        (rc = s_num_fact (f, "days_active", "count", "compute_usage", "SELECT COUNT(DISTINCT u.usage_date)" CMP_USAGE, NULL, filt, NULL)) ||
        (rc = s_num_fact (f, "avg_cpu_utilization", "ratio", "compute_usage", "SELECT AVG(u.avg_cpu_utilization)" CMP_USAGE, NULL, filt, NULL)) ||
        (rc = s_num_fact (f, "avg_memory_gb", "gb", "compute_usage", "SELECT AVG(u.avg_memory_gb)" CMP_USAGE, NULL, filt, NULL)) ||
        (rc = s_num_fact (f, "peak_concurrent_users", "count", "compute_usage", "SELECT MAX(u.peak_concurrent_users)" CMP_USAGE, NULL, filt, NULL)))
        return rc;
    static const char *rank_sql =
        "WITH c AS (SELECT parent_id, SUM(total_cost) AS cost FROM compute_usage WHERE parent_type <> 'JOB_RUN'"
        " AND usage_date BETWEEN :from AND :to GROUP BY parent_id)"
        " SELECT 100.0 * (SELECT cost FROM c WHERE parent_id = :id) / NULLIF((SELECT SUM(cost) FROM c), 0),"
        " (SELECT COUNT(*) FROM c WHERE cost > (SELECT cost FROM c WHERE parent_id = :id)) + 1, (SELECT COUNT(*) FROM c),"
        " (SELECT cost FROM c WHERE parent_id = :id)";
    st = s_stmt (f, rank_sql);
    if (!st)
        return s_err (f, RS_E_DB, "facts");
    if (sqlite3_step (st) == SQLITE_ROW && sqlite3_column_type (st, 3) != SQLITE_NULL) {
        char txt[120];
        double share = sqlite3_column_double (st, 0);
        snprintf (txt, sizeof txt, "%.1f%% of warehouse and cluster cost", share);
        s_add (f, "cost_share_pct", share, txt, "pct", "compute_usage", NULL, 0,
               "all SQL_WAREHOUSE/APC_CLUSTER usage rows in [from, to]");
        snprintf (txt, sizeof txt, "#%lld of %lld warehouses and clusters by cost", (long long) sqlite3_column_int64 (st, 1),
                  (long long) sqlite3_column_int64 (st, 2));
        s_add (f, "cost_rank", (double) sqlite3_column_int64 (st, 1), txt, "rank", "compute_usage", NULL, 0,
               "all SQL_WAREHOUSE/APC_CLUSTER usage rows in [from, to]");
    }
    sqlite3_reset (st);
    if (strcmp (type, "SQL_WAREHOUSE") == 0) {
        const char *qf = " FROM sql_query_history q WHERE q.parent_id = :id AND date(q.start_time) BETWEEN :from AND :to";
        char v1[400], k1[400], v2[400], k2[400], v3[400];
        snprintf (v1, sizeof v1, "SELECT COUNT(*)%s", qf);
        snprintf (k1, sizeof k1, "SELECT q.query_id%s ORDER BY q.start_time, q.query_id", qf);
        snprintf (v2, sizeof v2, "SELECT COUNT(*)%s AND q.error_message IS NOT NULL", qf);
        snprintf (k2, sizeof k2, "SELECT q.query_id%s AND q.error_message IS NOT NULL ORDER BY q.start_time, q.query_id", qf);
        snprintf (v3, sizeof v3, "SELECT AVG(q.duration_ms)%s", qf);
        if ((rc = s_num_fact (f, "queries", "count", "sql_query_history", v1, k1, "queries on this warehouse in [from, to]", NULL)) ||
            (rc = s_num_fact (f, "failed_queries", "count", "sql_query_history", v2, k2, "queries with an error_message", NULL)) ||
            (rc = s_num_fact (f, "avg_query_ms", "ms", "sql_query_history", v3, NULL, "queries on this warehouse in [from, to]", NULL)))
            return rc;
        st = s_stmt (f, "SELECT q.user_id, COUNT(*), SUM(q.duration_ms) FROM sql_query_history q WHERE q.parent_id = :id"
                        " AND date(q.start_time) BETWEEN :from AND :to GROUP BY q.user_id ORDER BY SUM(q.duration_ms) DESC, q.user_id LIMIT 3");
        if (!st)
            return s_err (f, RS_E_DB, "facts");
        while (sqlite3_step (st) == SQLITE_ROW) {
            char txt[300];
            snprintf (txt, sizeof txt, "%s ran %lld queries (%.1f s total)", (const char *) sqlite3_column_text (st, 0),
                      (long long) sqlite3_column_int64 (st, 1), sqlite3_column_double (st, 2) / 1000.0);
            json_t *kk = json_array ();
            json_array_append_new (kk, json_string ((const char *) sqlite3_column_text (st, 0)));
            s_add (f, "top_user", (double) sqlite3_column_int64 (st, 1), txt, "count", "sql_query_history", kk,
                   (long) sqlite3_column_int64 (st, 1), "queries of this user on this warehouse in [from, to]");
            s_related (f, "user", (const char *) sqlite3_column_text (st, 0));
        }
        sqlite3_reset (st);
    }
    if ((rc = s_config_facts (f, "'CLUSTER','WAREHOUSE'")))
        return rc;
    return s_anomaly_facts (f, f->id, NULL, NULL);
}

/* ---- compute type --------------------------------------------------------- */
static int
s_compute_type (fx_t *f, json_t *out)
{
    if (strcmp (f->id, "JOB_RUN") != 0 && strcmp (f->id, "SQL_WAREHOUSE") != 0 && strcmp (f->id, "APC_CLUSTER") != 0) {
        snprintf (f->err, f->errsz, "entity_id: expected a compute type JOB_RUN, SQL_WAREHOUSE or APC_CLUSTER, got '%.64s'", f->id);
        return RS_E_NOTFOUND;
    }
    json_object_set_new (out, "label", json_string (f->id));
    const char *filt = "compute_usage rows with parent_type = id, usage_date in [from, to]";
    const char *base = " FROM compute_usage WHERE parent_type = :id AND usage_date BETWEEN :from AND :to";
    char v[400];
    int rc;
    snprintf (v, sizeof v, "SELECT TOTAL(total_cost)%s", base);
    if ((rc = s_num_fact (f, "cost_total_usd", "usd", "compute_usage", v, NULL, filt, NULL)))
        return rc;
    if ((rc = s_num_fact (f, "cost_share_pct", "pct", "compute_usage",
                          "SELECT 100.0 * (SELECT TOTAL(total_cost) FROM compute_usage WHERE parent_type = :id AND usage_date BETWEEN :from AND :to)"
                          " / NULLIF((SELECT TOTAL(total_cost) FROM compute_usage WHERE usage_date BETWEEN :from AND :to), 0)",
                          NULL, "all usage rows in [from, to]", NULL)))
        return rc;
    snprintf (v, sizeof v, "SELECT COUNT(*)%s", base);
    if ((rc = s_num_fact (f, "usage_rows", "count", "compute_usage", v, NULL, filt, NULL)))
        return rc;
    snprintf (v, sizeof v, "SELECT COUNT(DISTINCT usage_date)%s", base);
    if ((rc = s_num_fact (f, "days_active", "count", "compute_usage", v, NULL, filt, NULL)))
        return rc;
    snprintf (v, sizeof v, "SELECT AVG(avg_cpu_utilization)%s", base);
    if ((rc = s_num_fact (f, "avg_cpu_utilization", "ratio", "compute_usage", v, NULL, filt, NULL)))
        return rc;
    snprintf (v, sizeof v, "SELECT TOTAL(dbus_consumed)%s", base);
    if ((rc = s_num_fact (f, "dbus_total", "dbu", "compute_usage", v, NULL, filt, NULL)))
        return rc;
    /* the three costliest entities of the type */
    const char *top = strcmp (f->id, "JOB_RUN") == 0
        ? "SELECT r.job_id, j.job_name, SUM(u.total_cost) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id"
          " JOIN jobs j ON j.job_id = r.job_id WHERE u.parent_type = :id AND u.usage_date BETWEEN :from AND :to"
          " GROUP BY r.job_id, j.job_name ORDER BY SUM(u.total_cost) DESC, r.job_id LIMIT 3"
        : "SELECT c.compute_id, c.compute_name, SUM(u.total_cost) FROM compute_usage u JOIN non_job_compute c ON c.compute_id = u.parent_id"
          " WHERE u.parent_type = :id AND u.usage_date BETWEEN :from AND :to"
          " GROUP BY c.compute_id, c.compute_name ORDER BY SUM(u.total_cost) DESC, c.compute_id LIMIT 3";
    sqlite3_stmt *st = s_stmt (f, top);
    if (!st)
        return s_err (f, RS_E_DB, "facts");
    bool jobs = strcmp (f->id, "JOB_RUN") == 0;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        char txt[400];
        snprintf (txt, sizeof txt, "%s (%s): $%.2f", (const char *) sqlite3_column_text (st, 1),
                  (const char *) sqlite3_column_text (st, 0), sqlite3_column_double (st, 2));
        json_t *kk = json_array ();
        json_array_append_new (kk, json_string ((const char *) sqlite3_column_text (st, 0)));
        s_add (f, "top_entity", sqlite3_column_double (st, 2), txt, "usd", jobs ? "jobs" : "non_job_compute", kk, 1,
               "costliest entities of this type in [from, to]");
        s_related (f, jobs ? "job" : "compute", (const char *) sqlite3_column_text (st, 0));
    }
    sqlite3_reset (st);
    return rc == SQLITE_DONE ? 0 : s_err (f, RS_E_DB, "facts");
}

/* ---- anomaly -------------------------------------------------------------- */
static int
s_anomaly (fx_t *f, json_t *out)
{
    const char *colon = strrchr (f->id, ':');
    int64_t days;
    char ent[300], date[16];
    if (!colon || strlen (colon + 1) != 10 || (size_t) (colon - f->id) >= sizeof ent || colon == f->id) {
        snprintf (f->err, f->errsz, "entity_id: expected an anomaly id <entity_id>:<YYYY-MM-DD>, got '%.100s'", f->id);
        return RS_E_INVALID;
    }
    str_copy (ent, (size_t) (colon - f->id) + 1, f->id);
    str_copy (date, sizeof date, colon + 1);
    if (clock_parse_date (date, &days) != 0) {
        snprintf (f->err, f->errsz, "entity_id: expected an anomaly id <entity_id>:<YYYY-MM-DD>, got '%.100s'", f->id);
        return RS_E_INVALID;
    }
    f->date = date;
    json_t *a = NULL;
    int rc = s_anomaly_facts (f, ent, date, &a);
    if (rc)
        return rc;
    if (!a) {
        snprintf (f->err, f->errsz, "entity_id: no anomaly for %.100s on %s in [%s, %s]", ent, date, f->from, f->to);
        return RS_E_NOTFOUND;
    }
    char label[400];
    snprintf (label, sizeof label, "%s on %s", json_string_value (json_object_get (a, "entity_name")), date);
    json_object_set_new (out, "label", json_string (label));
    json_t *keys = json_array ();
    json_array_append_new (keys, json_string (f->id));
    const char *filt = "detector over the entity's daily cost (compute_usage)";
    char txt[300];
    snprintf (txt, sizeof txt, "%s", json_string_value (json_object_get (a, "severity")));
    s_add (f, "severity", NAN, txt, "", "compute_usage", json_incref (keys), 1, filt);
    static const char *nums[][2] = {{"value", "usd"}, {"expected", "usd"}, {"expected_low", "usd"},
                                    {"expected_high", "usd"}, {"z_score", "sigma"}, {"pct_deviation", "pct"}};
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        s_add (f, nums[i][0], json_number_value (json_object_get (a, nums[i][0])), NULL, nums[i][1], "compute_usage",
               json_incref (keys), 1, filt);
    json_decref (keys);
    const char *etype = json_string_value (json_object_get (a, "entity_type"));
    bool is_job = etype && strcmp (etype, "job") == 0;
    json_decref (a);
    s_related (f, is_job ? "job" : "compute", ent);
    /* what happened that day */
    f->id = ent;
    if (is_job) {
        const char *day = " FROM job_runs r LEFT JOIN compute_usage u ON u.parent_id = r.job_run_id AND u.parent_type = 'JOB_RUN'"
                          " WHERE r.job_id = :id AND COALESCE(u.usage_date, date(r.start_time)) = :date";
        char v[600], k[600];
        snprintf (v, sizeof v, "SELECT COUNT(DISTINCT r.job_run_id)%s", day);
        snprintf (k, sizeof k, "SELECT r.job_run_id%s ORDER BY r.start_time, r.job_run_id", day);
        if ((rc = s_num_fact (f, "day_runs", "count", "job_runs", v, k, "runs of the job that day", NULL)))
            return rc;
        snprintf (v, sizeof v, "SELECT COUNT(DISTINCT r.job_run_id)%s AND r.run_status = 'FAILED'", day);
        snprintf (k, sizeof k, "SELECT r.job_run_id%s AND r.run_status = 'FAILED' ORDER BY r.start_time, r.job_run_id", day);
        if ((rc = s_num_fact (f, "day_failed_runs", "count", "job_runs", v, k, "FAILED runs of the job that day", NULL)))
            return rc;
        if ((rc = s_num_fact (f, "day_spot_evictions", "count", "events",
                              "SELECT COUNT(*) FROM events e JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id"
                              " JOIN job_runs r ON r.job_run_id = u.parent_id WHERE e.event_type = 'SPOT_EVICTION'"
                              " AND r.job_id = :id AND u.usage_date = :date",
                              "SELECT e.event_id FROM events e JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id"
                              " JOIN job_runs r ON r.job_run_id = u.parent_id WHERE e.event_type = 'SPOT_EVICTION'"
                              " AND r.job_id = :id AND u.usage_date = :date ORDER BY e.event_time, e.event_id",
                              "SPOT_EVICTION events on the job's usage rows that day", NULL)))
            return rc;
        sqlite3_stmt *st = s_stmt (f, "SELECT r.error_summary, COUNT(*), group_concat(r.job_run_id, char(10)) FROM"
                                      " (SELECT error_summary, job_run_id FROM job_runs WHERE job_id = :id AND date(start_time) = :date"
                                      " AND error_summary IS NOT NULL ORDER BY start_time, job_run_id) r"
                                      " GROUP BY r.error_summary ORDER BY COUNT(*) DESC, r.error_summary LIMIT 5");
        if (!st)
            return s_err (f, RS_E_DB, "facts");
        while (sqlite3_step (st) == SQLITE_ROW) {
            json_t *kk = json_array ();
            char *ids = str_dup ((const char *) sqlite3_column_text (st, 2));
            char *save = NULL;
            for (char *t = ids ? strtok_r (ids, "\n", &save) : NULL; t; t = strtok_r (NULL, "\n", &save)) {
                json_array_append_new (kk, json_string (t));
                s_related (f, "jobrun", t);
            }
            free (ids);
            char txt[900];
            snprintf (txt, sizeof txt, "%s (%lld runs)", (const char *) sqlite3_column_text (st, 0),
                      (long long) sqlite3_column_int64 (st, 1));
            s_add (f, "day_error", (double) sqlite3_column_int64 (st, 1), txt, "count", "job_runs", kk,
                   (long) sqlite3_column_int64 (st, 1), "runs of the job that day with this error_summary");
        }
        sqlite3_reset (st);
        return s_config_facts (f, "'JOB'");
    }
    if ((rc = s_num_fact (f, "day_usage_rows", "count", "compute_usage",
                          "SELECT COUNT(*) FROM compute_usage WHERE parent_id = :id AND usage_date = :date",
                          "SELECT compute_usage_id FROM compute_usage WHERE parent_id = :id AND usage_date = :date ORDER BY compute_usage_id",
                          "usage rows of this compute that day", NULL)))
        return rc;
    if ((rc = s_num_fact (f, "day_queries", "count", "sql_query_history",
                          "SELECT COUNT(*) FROM sql_query_history WHERE parent_id = :id AND date(start_time) = :date",
                          "SELECT query_id FROM sql_query_history WHERE parent_id = :id AND date(start_time) = :date ORDER BY start_time, query_id",
                          "queries on this compute that day", NULL)))
        return rc;
    return s_config_facts (f, "'CLUSTER','WAREHOUSE'");
}

int
rs_facts_build (rs_engine_t *eng, db_t *db, const rs_registry_t *reg, const char *entity_type,
                const char *entity_id, const rs_pset_t *params, json_t *out, char *err, size_t errsz)
{
    fx_t f = {eng, reg, db, entity_id, NULL, NULL, NULL, NULL, json_array (), json_array (), err, errsz};
    f.from = rs_params_get (params, "from")->text;
    f.to = rs_params_get (params, "to")->text;
    f.as_of = rs_params_get (params, "as_of")->text;
    json_object_set_new (out, "entity_type", json_string (entity_type));
    json_object_set_new (out, "entity_id", json_string (entity_id));
    json_object_set_new (out, "label", json_string (entity_id));
    json_t *pj = json_object ();
    for (int i = 0; i < params->n; i++)
        json_object_set_new (pj, params->v[i].name, params->v[i].text ? json_string (params->v[i].text) : json_null ());
    json_object_set_new (out, "params", pj);
    int rc;
    if (strcmp (entity_type, "job") == 0)
        rc = s_job (&f, out);
    else if (strcmp (entity_type, "compute") == 0)
        rc = s_compute (&f, out);
    else if (strcmp (entity_type, "compute_type") == 0)
        rc = s_compute_type (&f, out);
    else if (strcmp (entity_type, "anomaly") == 0)
        rc = s_anomaly (&f, out);
    else {
        snprintf (err, errsz, "entity_type: expected job, compute, compute_type or anomaly, got '%.64s'", entity_type);
        rc = RS_E_INVALID;
    }
    json_object_set_new (out, "facts", f.facts);
    json_object_set_new (out, "related_ids", f.related);
    return rc;
}
