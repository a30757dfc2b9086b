-- derived.sql: rebuilds every derived table from the facts. Run by each
-- writer inside its own transaction after writing facts (dl_schema.c:
-- dl_schema_refresh). Deterministic: every INSERT reads in a fixed order.
-- Tables: job_tags, job_dependencies (rows with source 'description' only),
-- rollup_job_day, rollup_compute_day, and the report rollups rs_* (see the
-- section at the end; owner: report-service).

-- job_tags ---------------------------------------------------------------
-- Items come from (a) a JSON array of scalars ["Finance","SLA-4hr"],
-- (b) a JSON object {"team":"fin"} (Databricks map tags), (c) anything else
-- that is non-empty text ("Finance, Critical" or a JSON string), split on
-- ',' and ';'. An item 'k=v' or 'k:v' becomes key k / value v; any other
-- item is a flag tag (value NULL). Keys are trimmed; empty keys dropped; the
-- first occurrence of a key wins.
DELETE FROM job_tags;
WITH RECURSIVE
arr AS (
  SELECT j.job_id, e.id AS ord, trim(CAST(e.value AS TEXT)) AS item
  FROM jobs j, json_each(j.tags) e
  WHERE j.tags IS NOT NULL AND json_valid(j.tags) AND json_type(j.tags) = 'array'
    AND e.type NOT IN ('array', 'object', 'null')
),
txt(job_id, ord, item, rest) AS (
  SELECT job_id, 0, NULL,
         replace(CASE WHEN json_valid(tags) AND json_type(tags) = 'text' THEN json_extract(tags, '$')
                      ELSE tags END, ';', ',') || ','
  FROM jobs
  WHERE tags IS NOT NULL AND trim(tags) <> ''
    AND NOT (json_valid(tags) AND json_type(tags) IN ('array', 'object', 'null'))
  UNION ALL
  SELECT job_id, ord + 1, trim(substr(rest, 1, instr(rest, ',') - 1)), substr(rest, instr(rest, ',') + 1)
  FROM txt WHERE rest <> ''
),
items AS (
  SELECT job_id, ord, item, 'json_array' AS source FROM arr
  UNION ALL
  SELECT job_id, ord, item, 'text' FROM txt WHERE item IS NOT NULL
),
split AS (
  SELECT job_id, ord, source, item,
         CASE WHEN instr(item, '=') > 0 THEN instr(item, '=')
              WHEN instr(item, ':') > 0 THEN instr(item, ':') ELSE 0 END AS sep
  FROM items
),
kv AS (
  SELECT job_id, ord, source,
         CASE WHEN sep > 0 THEN trim(substr(item, 1, sep - 1)) ELSE item END AS k,
         CASE WHEN sep > 0 THEN trim(substr(item, sep + 1)) END AS v
  FROM split
  UNION ALL
  SELECT j.job_id, e.id, 'json_object', trim(e.key),
         CASE WHEN e.type = 'null' THEN NULL ELSE CAST(e.value AS TEXT) END
  FROM jobs j, json_each(j.tags) e
  WHERE j.tags IS NOT NULL AND json_valid(j.tags) AND json_type(j.tags) = 'object'
)
INSERT OR IGNORE INTO job_tags (job_id, tag_key, tag_value, tag_norm, source)
SELECT job_id, k, v, lower(replace(replace(k, ' ', '-'), '_', '-')), source
FROM kv WHERE k IS NOT NULL AND k <> ''
ORDER BY job_id, source, ord;

-- job_dependencies from description text ("... DEPENDS ON: J-A, J-B") ------
DELETE FROM job_dependencies WHERE source = 'description';
WITH RECURSIVE dep(job_id, item, rest) AS (
  SELECT job_id, NULL,
         replace(replace(substr(description, instr(upper(description), 'DEPENDS ON:') + 11), ';', ','), ' and ', ',') || ','
  FROM jobs WHERE instr(upper(description), 'DEPENDS ON:') > 0
  UNION ALL
  SELECT job_id, trim(trim(substr(rest, 1, instr(rest, ',') - 1)), ' .'), substr(rest, instr(rest, ',') + 1)
  FROM dep WHERE rest <> ''
)
INSERT OR IGNORE INTO job_dependencies (upstream_job_id, downstream_job_id, dependency_type, source)
SELECT d.item, d.job_id, 'HARD', 'description'
FROM dep d JOIN jobs u ON u.job_id = d.item
WHERE d.item IS NOT NULL AND d.item <> d.job_id
ORDER BY d.job_id, d.item;

-- priced usage, materialized once for both rollups -----------------------
DROP TABLE IF EXISTS temp.refresh_usage;
CREATE TEMP TABLE refresh_usage AS
SELECT parent_id, parent_type, usage_date, job_id, workspace_id, dbus_consumed, total_cost,
       price_usd_per_dbu, spot_ratio, avg_cpu_utilization, avg_memory_gb,
       peak_concurrent_users, is_production
FROM v_compute_usage;

-- rollup_job_day ---------------------------------------------------------
-- One sort: run, usage and eviction contributions are stacked (UNION ALL)
-- and grouped once by (job, day).
DELETE FROM rollup_job_day;
INSERT INTO rollup_job_day (job_id, usage_date, workspace_id, runs, success_runs, failed_runs,
    skipped_runs, running_runs, retry_runs, duration_ms_sum, usage_rows, dbus, cost_usd,
    list_cost_usd, cost_spot_usd, cpu_sum, evictions)
SELECT g.job_id, g.d, j.workspace_id, g.runs, g.ok, g.failed, g.skipped, g.running, g.retries,
       g.dur, g.n, g.dbus, g.cost, g.list_cost, g.spot_cost, g.cpu, g.ev
FROM (
SELECT c.job_id, c.d,
       SUM(c.runs) AS runs, SUM(c.ok) AS ok, SUM(c.failed) AS failed, SUM(c.skipped) AS skipped,
       SUM(c.running) AS running, SUM(c.retries) AS retries, SUM(c.dur) AS dur, SUM(c.n) AS n,
       SUM(c.dbus) AS dbus, SUM(c.cost) AS cost,
       CASE WHEN SUM(c.unpriced) > 0 THEN NULL ELSE SUM(c.list_cost) END AS list_cost,
       SUM(c.spot_cost) AS spot_cost, SUM(c.cpu) AS cpu, SUM(c.ev) AS ev
FROM (
  SELECT job_id, substr(start_time, 1, 10) AS d, 1 AS runs, run_status = 'SUCCESS' AS ok,
         run_status = 'FAILED' AS failed, run_status = 'SKIPPED' AS skipped,
         run_status = 'RUNNING' AS running, job_run_id GLOB '*-R[0-9][0-9]' AS retries,
         COALESCE(duration_ms, 0) AS dur, 0 AS n, 0.0 AS dbus, 0.0 AS cost, 0.0 AS list_cost,
         0 AS unpriced, 0.0 AS spot_cost, 0.0 AS cpu, 0 AS ev
  FROM job_runs
  UNION ALL
  SELECT job_id, usage_date, 0, 0, 0, 0, 0, 0, 0, 1, dbus_consumed, COALESCE(total_cost, 0),
         COALESCE(dbus_consumed * price_usd_per_dbu, 0), price_usd_per_dbu IS NULL,
         COALESCE(total_cost, 0) * COALESCE(spot_ratio, 0), COALESCE(avg_cpu_utilization, 0), 0
  FROM temp.refresh_usage WHERE parent_type = 'JOB_RUN' AND job_id IS NOT NULL
  UNION ALL
  SELECT r.job_id, substr(e.event_time, 1, 10), 0, 0, 0, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0, 0, 0.0, 0.0, 1
  FROM events e
  LEFT JOIN compute_usage cu ON cu.compute_usage_id = e.compute_usage_id
  JOIN job_runs r ON r.job_run_id = CASE WHEN cu.parent_type = 'JOB_RUN' THEN cu.parent_id
                                         ELSE e.compute_usage_id END
  WHERE e.event_type = 'SPOT_EVICTION'
) c
WHERE c.d IS NOT NULL
GROUP BY c.job_id, c.d
) g
LEFT JOIN jobs j ON j.job_id = g.job_id
ORDER BY g.job_id, g.d;

-- rollup_compute_day -----------------------------------------------------
DELETE FROM rollup_compute_day;
INSERT INTO rollup_compute_day (parent_id, parent_type, usage_date, workspace_id, usage_rows,
    dbus, cost_usd, list_cost_usd, cpu_sum, memory_gb_sum, peak_users_max, is_production)
SELECT CASE WHEN parent_type = 'JOB_RUN' THEN COALESCE(job_id, parent_id) ELSE parent_id END AS pid,
       parent_type, usage_date, MIN(workspace_id), COUNT(*), SUM(dbus_consumed),
       SUM(COALESCE(total_cost, 0)),
       CASE WHEN COUNT(price_usd_per_dbu) < COUNT(*) THEN NULL
            ELSE SUM(dbus_consumed * price_usd_per_dbu) END,
       SUM(COALESCE(avg_cpu_utilization, 0)), SUM(COALESCE(avg_memory_gb, 0)),
       MAX(peak_concurrent_users), MAX(COALESCE(is_production, 0))
FROM temp.refresh_usage
GROUP BY parent_type, pid, usage_date
ORDER BY parent_type, pid, usage_date;
DROP TABLE temp.refresh_usage;

-- =========================================================================
-- Report rollups (rs_*; owner: report-service, read by the sql/reports/
-- *.fast.sql variants). Re-created on every refresh (DROP + CREATE), so
-- their shape can change without a migration. Every figure is stored as the
-- exact additive pieces the raw report SQL aggregates (sums AND counts of
-- non-NULL values, maxima), so a report summed over rollup rows equals the
-- raw report up to floating-point summation order.
--
-- The rollups are exact only while
--   (a) every job run has at most one JOB_RUN compute_usage row, and
--   (b) that row's usage_date is the run's start date,
-- because then a run lives in exactly one (job, day) bucket whichever date
-- (usage_date or date(start_time)) a report filters on, and COUNT(DISTINCT
-- run) is a plain sum. rs_rollup_state.exact records whether (a) and (b)
-- hold for the data this refresh saw; the engine uses the fast variants
-- only when exact = 1 AND built_for_version equals data_version.version
-- (every writer bumps data_version by exactly 1 right after this script in
-- the same transaction, so "current version + 1" is the version these rows
-- belong to).
-- =========================================================================

-- SPOT_EVICTION events per usage row, and the first evicted run start per
-- (job, day) (the "evicted day" of spot_risk_by_job / eviction_cost).
DROP TABLE IF EXISTS temp.rs_ev;
CREATE TEMP TABLE rs_ev (compute_usage_id TEXT PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO temp.rs_ev (compute_usage_id, n)
SELECT compute_usage_id, COUNT(DISTINCT event_id) FROM events
WHERE event_type = 'SPOT_EVICTION' GROUP BY compute_usage_id ORDER BY compute_usage_id;

DROP TABLE IF EXISTS temp.rs_evday;
CREATE TEMP TABLE rs_evday (job_id TEXT NOT NULL, d TEXT NOT NULL, first_start TEXT, PRIMARY KEY (job_id, d));
INSERT INTO temp.rs_evday (job_id, d, first_start)
SELECT r.job_id, u.usage_date, MIN(r.start_time)
FROM temp.rs_ev ev JOIN compute_usage u ON u.compute_usage_id = ev.compute_usage_id
JOIN job_runs r ON r.job_run_id = u.parent_id
WHERE u.parent_type = 'JOB_RUN'
GROUP BY r.job_id, u.usage_date ORDER BY r.job_id, u.usage_date;

-- rs_job_day: one row per (job, day) with a run; day = usage_date of the
-- run's usage row, else date(start_time) (job_cost's rule). x_* = executed
-- runs (runs with a usage row); money/DBU/CPU/memory/spot/duration figures
-- are over executed runs only, as in every report.
DROP TABLE IF EXISTS rs_job_day;
CREATE TABLE rs_job_day (
    job_id TEXT NOT NULL, d TEXT NOT NULL, workspace_id TEXT,
    runs INTEGER NOT NULL, ok_runs INTEGER NOT NULL, failed_runs INTEGER NOT NULL,
    skipped_runs INTEGER NOT NULL, retry_runs INTEGER NOT NULL,
    x_runs INTEGER NOT NULL, x_ok INTEGER NOT NULL, x_failed INTEGER NOT NULL,
    cost REAL, cost_n INTEGER NOT NULL,              -- SUM / COUNT of non-NULL total_cost
    cost_spot REAL, cost_od REAL, prod_n INTEGER NOT NULL, -- SUM(cost*spot), SUM(cost*(1-spot)), COUNT non-NULL
    failed_cost REAL,                                -- SUM(CASE FAILED THEN cost ELSE 0)
    dbus REAL, dbus_n INTEGER NOT NULL,
    dur_sum INTEGER, dur_n INTEGER NOT NULL,         -- executed runs' duration_ms
    cpu_sum REAL, cpu_n INTEGER NOT NULL, mem_max REAL,
    spot_sum REAL, spot_n INTEGER NOT NULL,
    ev_rows INTEGER NOT NULL, ev_events INTEGER NOT NULL, -- usage rows with an eviction / eviction events
    evx_runs INTEGER NOT NULL, evx_cost REAL,        -- FAILED runs attributable to an eviction, their cost
    nw_cost_od REAL, nw_cost_spot REAL,              -- not-wasted rows: SUM(cost*(1-spot)), SUM(cost*spot)
    PRIMARY KEY (d, job_id)
) WITHOUT ROWID;
INSERT INTO rs_job_day
SELECT job_id, d, MIN(workspace_id),
       COUNT(*), SUM(run_status = 'SUCCESS'), SUM(run_status = 'FAILED'), SUM(run_status = 'SKIPPED'),
       SUM(job_run_id GLOB '*-R[0-9][0-9]'),
       SUM(x), SUM(x AND run_status = 'SUCCESS'), SUM(x AND run_status = 'FAILED'),
       SUM(total_cost), COUNT(total_cost),
       SUM(total_cost * spot_ratio), SUM(total_cost * (1 - spot_ratio)), COUNT(total_cost * spot_ratio),
       SUM(CASE WHEN x THEN CASE WHEN run_status = 'FAILED' THEN total_cost ELSE 0 END END),
       SUM(dbus_consumed), COUNT(dbus_consumed),
       SUM(CASE WHEN x THEN duration_ms END), COUNT(CASE WHEN x THEN duration_ms END),
       SUM(avg_cpu_utilization), COUNT(avg_cpu_utilization), MAX(avg_memory_gb),
       SUM(CASE WHEN x THEN spot_ratio END), COUNT(CASE WHEN x THEN spot_ratio END),
       SUM(ev_n > 0), SUM(ev_n),
       SUM(wasted), SUM(CASE WHEN wasted THEN total_cost END),
       SUM(CASE WHEN x AND NOT wasted THEN total_cost * (1 - spot_ratio) END),
       SUM(CASE WHEN x AND NOT wasted THEN total_cost * spot_ratio END)
FROM (
  SELECT r.job_id, COALESCE(u.usage_date, date(r.start_time)) AS d, j.workspace_id, r.job_run_id,
         r.run_status, r.duration_ms, r.spot_ratio, u.compute_usage_id IS NOT NULL AS x,
         u.total_cost, u.dbus_consumed, u.avg_cpu_utilization, u.avg_memory_gb,
         COALESCE(ev.n, 0) AS ev_n,
         (u.compute_usage_id IS NOT NULL AND r.run_status = 'FAILED' AND evd.first_start IS NOT NULL
          AND r.start_time >= evd.first_start) AS wasted
  FROM job_runs r
  JOIN jobs j ON j.job_id = r.job_id
  LEFT JOIN compute_usage u ON u.parent_id = r.job_run_id AND u.parent_type = 'JOB_RUN'
  LEFT JOIN temp.rs_ev ev ON ev.compute_usage_id = u.compute_usage_id
  LEFT JOIN temp.rs_evday evd ON evd.job_id = r.job_id AND evd.d = u.usage_date
)
GROUP BY job_id, d
ORDER BY d, job_id;

-- rs_job_month: rs_job_day summed per (job, calendar month); a window reads
-- whole months from here and the partial months at its edges from rs_job_day.
DROP TABLE IF EXISTS rs_job_month;
CREATE TABLE rs_job_month (
    job_id TEXT NOT NULL, m TEXT NOT NULL, workspace_id TEXT,   -- m = first day 'YYYY-MM-01'
    runs INTEGER NOT NULL, ok_runs INTEGER NOT NULL, failed_runs INTEGER NOT NULL,
    skipped_runs INTEGER NOT NULL, retry_runs INTEGER NOT NULL,
    x_runs INTEGER NOT NULL, x_ok INTEGER NOT NULL, x_failed INTEGER NOT NULL,
    cost REAL, cost_n INTEGER NOT NULL, cost_spot REAL, cost_od REAL, prod_n INTEGER NOT NULL,
    failed_cost REAL, dbus REAL, dbus_n INTEGER NOT NULL, dur_sum INTEGER, dur_n INTEGER NOT NULL,
    cpu_sum REAL, cpu_n INTEGER NOT NULL, mem_max REAL, spot_sum REAL, spot_n INTEGER NOT NULL,
    ev_rows INTEGER NOT NULL, ev_events INTEGER NOT NULL, evx_runs INTEGER NOT NULL, evx_cost REAL,
    nw_cost_od REAL, nw_cost_spot REAL,
    PRIMARY KEY (m, job_id)
) WITHOUT ROWID;
INSERT INTO rs_job_month
SELECT job_id, substr(d, 1, 8) || '01', MIN(workspace_id),
       SUM(runs), SUM(ok_runs), SUM(failed_runs), SUM(skipped_runs), SUM(retry_runs),
       SUM(x_runs), SUM(x_ok), SUM(x_failed), SUM(cost), SUM(cost_n), SUM(cost_spot), SUM(cost_od),
       SUM(prod_n), SUM(failed_cost), SUM(dbus), SUM(dbus_n), SUM(dur_sum), SUM(dur_n),
       SUM(cpu_sum), SUM(cpu_n), MAX(mem_max), SUM(spot_sum), SUM(spot_n),
       SUM(ev_rows), SUM(ev_events), SUM(evx_runs), SUM(evx_cost), SUM(nw_cost_od), SUM(nw_cost_spot)
FROM rs_job_day
GROUP BY job_id, substr(d, 1, 8) || '01'
ORDER BY 2, job_id;

-- rs_job_all: rs_job_day summed per job over ALL days — a window that
-- covers every day (the reports' default: earliest to latest usage date)
-- reads one row per job from here (rs_rollup_state.job_d_min / job_d_max).
DROP TABLE IF EXISTS rs_job_all;
CREATE TABLE rs_job_all (
    job_id TEXT PRIMARY KEY, workspace_id TEXT,
    runs INTEGER, ok_runs INTEGER, failed_runs INTEGER, skipped_runs INTEGER, retry_runs INTEGER,
    x_runs INTEGER, x_ok INTEGER, x_failed INTEGER, cost REAL, cost_n INTEGER, cost_spot REAL, cost_od REAL,
    prod_n INTEGER, failed_cost REAL, dbus REAL, dbus_n INTEGER, dur_sum INTEGER, dur_n INTEGER, cpu_sum REAL,
    cpu_n INTEGER, mem_max REAL, spot_sum REAL, spot_n INTEGER, ev_rows INTEGER, ev_events INTEGER,
    evx_runs INTEGER, evx_cost REAL, nw_cost_od REAL, nw_cost_spot REAL
) WITHOUT ROWID;
INSERT INTO rs_job_all
SELECT job_id, MIN(workspace_id),
       SUM(runs),
       SUM(ok_runs),
       SUM(failed_runs),
       SUM(skipped_runs),
       SUM(retry_runs),
       SUM(x_runs),
       SUM(x_ok),
       SUM(x_failed),
       SUM(cost),
       SUM(cost_n),
       SUM(cost_spot),
       SUM(cost_od),
       SUM(prod_n),
       SUM(failed_cost),
       SUM(dbus),
       SUM(dbus_n),
       SUM(dur_sum),
       SUM(dur_n),
       SUM(cpu_sum),
       SUM(cpu_n),
       MAX(mem_max),
       SUM(spot_sum),
       SUM(spot_n),
       SUM(ev_rows),
       SUM(ev_events),
       SUM(evx_runs),
       SUM(evx_cost),
       SUM(nw_cost_od),
       SUM(nw_cost_spot)
FROM rs_job_day GROUP BY job_id ORDER BY job_id;

-- rs_job_mtd / rs_job_rtm: rs_job_day as running totals within each
-- calendar month — month-to-date (first day of the month .. d) and
-- rest-of-month (d .. last day), running MAX for mem_max. A window's partial
-- month at its start is the rest-of-month row at the job's first day >=
-- :from, the partial month at its end the month-to-date row at the last day
-- <= :to: one row per job and edge, no subtraction (exact). Both frames
-- only grow (rest-of-month runs over d DESC), so SQLite never removes a row
-- from a running sum (which would leave rounding residue such as 1e-14
-- instead of 0).
DROP TABLE IF EXISTS rs_job_mtd;
CREATE TABLE rs_job_mtd (
    job_id TEXT NOT NULL, d TEXT NOT NULL, workspace_id TEXT,
    runs INTEGER, ok_runs INTEGER, failed_runs INTEGER, skipped_runs INTEGER, retry_runs INTEGER,
    x_runs INTEGER, x_ok INTEGER, x_failed INTEGER, cost REAL, cost_n INTEGER, cost_spot REAL, cost_od REAL,
    prod_n INTEGER, failed_cost REAL, dbus REAL, dbus_n INTEGER, dur_sum INTEGER, dur_n INTEGER, cpu_sum REAL,
    cpu_n INTEGER, mem_max REAL, spot_sum REAL, spot_n INTEGER, ev_rows INTEGER, ev_events INTEGER,
    evx_runs INTEGER, evx_cost REAL, nw_cost_od REAL, nw_cost_spot REAL,
    PRIMARY KEY (job_id, d)
) WITHOUT ROWID;
INSERT INTO rs_job_mtd
SELECT job_id, d, workspace_id,
       SUM(runs) OVER p,
       SUM(ok_runs) OVER p,
       SUM(failed_runs) OVER p,
       SUM(skipped_runs) OVER p,
       SUM(retry_runs) OVER p,
       SUM(x_runs) OVER p,
       SUM(x_ok) OVER p,
       SUM(x_failed) OVER p,
       SUM(cost) OVER p,
       SUM(cost_n) OVER p,
       SUM(cost_spot) OVER p,
       SUM(cost_od) OVER p,
       SUM(prod_n) OVER p,
       SUM(failed_cost) OVER p,
       SUM(dbus) OVER p,
       SUM(dbus_n) OVER p,
       SUM(dur_sum) OVER p,
       SUM(dur_n) OVER p,
       SUM(cpu_sum) OVER p,
       SUM(cpu_n) OVER p,
       MAX(mem_max) OVER p,
       SUM(spot_sum) OVER p,
       SUM(spot_n) OVER p,
       SUM(ev_rows) OVER p,
       SUM(ev_events) OVER p,
       SUM(evx_runs) OVER p,
       SUM(evx_cost) OVER p,
       SUM(nw_cost_od) OVER p,
       SUM(nw_cost_spot) OVER p
FROM rs_job_day
WINDOW p AS (PARTITION BY job_id, substr(d, 1, 7) ORDER BY d ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY job_id, d;
DROP TABLE IF EXISTS rs_job_rtm;
CREATE TABLE rs_job_rtm (
    job_id TEXT NOT NULL, d TEXT NOT NULL, workspace_id TEXT,
    runs INTEGER, ok_runs INTEGER, failed_runs INTEGER, skipped_runs INTEGER, retry_runs INTEGER,
    x_runs INTEGER, x_ok INTEGER, x_failed INTEGER, cost REAL, cost_n INTEGER, cost_spot REAL, cost_od REAL,
    prod_n INTEGER, failed_cost REAL, dbus REAL, dbus_n INTEGER, dur_sum INTEGER, dur_n INTEGER, cpu_sum REAL,
    cpu_n INTEGER, mem_max REAL, spot_sum REAL, spot_n INTEGER, ev_rows INTEGER, ev_events INTEGER,
    evx_runs INTEGER, evx_cost REAL, nw_cost_od REAL, nw_cost_spot REAL,
    PRIMARY KEY (job_id, d)
) WITHOUT ROWID;
INSERT INTO rs_job_rtm
SELECT job_id, d, workspace_id,
       SUM(runs) OVER p,
       SUM(ok_runs) OVER p,
       SUM(failed_runs) OVER p,
       SUM(skipped_runs) OVER p,
       SUM(retry_runs) OVER p,
       SUM(x_runs) OVER p,
       SUM(x_ok) OVER p,
       SUM(x_failed) OVER p,
       SUM(cost) OVER p,
       SUM(cost_n) OVER p,
       SUM(cost_spot) OVER p,
       SUM(cost_od) OVER p,
       SUM(prod_n) OVER p,
       SUM(failed_cost) OVER p,
       SUM(dbus) OVER p,
       SUM(dbus_n) OVER p,
       SUM(dur_sum) OVER p,
       SUM(dur_n) OVER p,
       SUM(cpu_sum) OVER p,
       SUM(cpu_n) OVER p,
       MAX(mem_max) OVER p,
       SUM(spot_sum) OVER p,
       SUM(spot_n) OVER p,
       SUM(ev_rows) OVER p,
       SUM(ev_events) OVER p,
       SUM(evx_runs) OVER p,
       SUM(evx_cost) OVER p,
       SUM(nw_cost_od) OVER p,
       SUM(nw_cost_spot) OVER p
FROM rs_job_day
WINDOW p AS (PARTITION BY job_id, substr(d, 1, 7) ORDER BY d DESC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
ORDER BY job_id, d;

-- rs_job_eviction: SPOT_EVICTION events of job runs per (job, usage day,
-- event day) (spot_risk_by_job: days_with_evictions and the timeline).
DROP TABLE IF EXISTS rs_job_eviction;
CREATE TABLE rs_job_eviction (
    job_id TEXT NOT NULL, d TEXT NOT NULL, ev_day TEXT NOT NULL, workspace_id TEXT,
    events INTEGER NOT NULL,                   -- distinct event ids
    PRIMARY KEY (job_id, d, ev_day)
) WITHOUT ROWID;
INSERT INTO rs_job_eviction
SELECT r.job_id, u.usage_date, DATE(e.event_time), MIN(j.workspace_id), COUNT(DISTINCT e.event_id)
FROM events e JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id
JOIN job_runs r ON r.job_run_id = u.parent_id
JOIN jobs j ON j.job_id = r.job_id
WHERE e.event_type = 'SPOT_EVICTION' AND u.parent_type = 'JOB_RUN' AND DATE(e.event_time) IS NOT NULL
GROUP BY r.job_id, u.usage_date, DATE(e.event_time)
ORDER BY 1, 2, 3;

-- rs_type_day: every compute_usage row per (parent_type, workspace, day);
-- workspace = the run's job's workspace for JOB_RUN rows, the compute's for
-- the others, NULL when the parent is unknown (kept: the unfiltered reports
-- count those rows). entities = distinct parent_id (a parent has one
-- workspace, so the sum over workspaces is the distinct count of the day).
DROP TABLE IF EXISTS rs_type_day;
CREATE TABLE rs_type_day (
    compute_type TEXT NOT NULL, workspace_id TEXT, d TEXT NOT NULL,
    cost REAL, cost_n INTEGER NOT NULL, dbus REAL, dbus_n INTEGER NOT NULL, rows_n INTEGER NOT NULL,
    cpu_sum REAL, cpu_n INTEGER NOT NULL, entities INTEGER NOT NULL
);
INSERT INTO rs_type_day
SELECT parent_type, ws, usage_date, SUM(total_cost), COUNT(total_cost), SUM(dbus_consumed),
       COUNT(dbus_consumed), COUNT(*), SUM(avg_cpu_utilization), COUNT(avg_cpu_utilization),
       COUNT(DISTINCT parent_id)
FROM (
  SELECT u.parent_type, u.parent_id, u.usage_date, u.total_cost, u.dbus_consumed, u.avg_cpu_utilization,
         CASE u.parent_type
           WHEN 'JOB_RUN' THEN (SELECT j.workspace_id FROM job_runs r JOIN jobs j ON j.job_id = r.job_id
                                WHERE r.job_run_id = u.parent_id)
           ELSE (SELECT c.workspace_id FROM non_job_compute c WHERE c.compute_id = u.parent_id) END AS ws
  FROM compute_usage u
)
GROUP BY parent_type, ws, usage_date
ORDER BY parent_type, ws, usage_date;
CREATE INDEX rs_type_day_d ON rs_type_day (d);

-- rs_compute_day: warehouse / all-purpose usage per (compute, parent_type,
-- day) for computes known to non_job_compute.
DROP TABLE IF EXISTS rs_compute_day;
CREATE TABLE rs_compute_day (
    compute_id TEXT NOT NULL, parent_type TEXT NOT NULL, d TEXT NOT NULL, workspace_id TEXT,
    cost REAL, cost_n INTEGER NOT NULL, dbus REAL, dbus_n INTEGER NOT NULL, rows_n INTEGER NOT NULL,
    cpu_sum REAL, cpu_n INTEGER NOT NULL,
    PRIMARY KEY (d, compute_id, parent_type)
) WITHOUT ROWID;
INSERT INTO rs_compute_day
SELECT c.compute_id, u.parent_type, u.usage_date, MIN(c.workspace_id), SUM(u.total_cost), COUNT(u.total_cost),
       SUM(u.dbus_consumed), COUNT(u.dbus_consumed), COUNT(*), SUM(u.avg_cpu_utilization),
       COUNT(u.avg_cpu_utilization)
FROM compute_usage u JOIN non_job_compute c ON c.compute_id = u.parent_id
WHERE u.parent_type IN ('SQL_WAREHOUSE', 'APC_CLUSTER')
GROUP BY c.compute_id, u.parent_type, u.usage_date
ORDER BY 3, 1, 2;

-- rs_query_alloc: every warehouse query that receives a share of its
-- warehouse's daily cost (warehouse_cost_by_query.sql's allocation: day cost
-- x the query's duration / the day's total duration, days with a positive
-- total only). A day's allocation does not depend on the report window, so
-- the reports filter these rows by day and workspace.
DROP TABLE IF EXISTS rs_query_alloc;
CREATE TABLE rs_query_alloc (
    d TEXT NOT NULL, query_id TEXT NOT NULL, warehouse_id TEXT NOT NULL, workspace_id TEXT,
    user_id TEXT, ms INTEGER NOT NULL, error_message TEXT, cost REAL,
    PRIMARY KEY (d, query_id)
) WITHOUT ROWID;
INSERT INTO rs_query_alloc
WITH wd AS MATERIALIZED (
  SELECT compute_id AS warehouse_id, d, MIN(workspace_id) AS ws,
         CASE WHEN SUM(cost_n) > 0 THEN SUM(cost) END AS day_cost
  FROM rs_compute_day WHERE parent_type = 'SQL_WAREHOUSE' GROUP BY compute_id, d
),
q AS MATERIALIZED (
  SELECT query_id, parent_id AS warehouse_id, date(start_time) AS d, user_id, COALESCE(duration_ms, 0) AS ms,
         error_message
  FROM sql_query_history WHERE date(start_time) IS NOT NULL
),
qd AS MATERIALIZED (SELECT warehouse_id, d, SUM(ms) AS tot FROM q GROUP BY warehouse_id, d)
SELECT q.d, q.query_id, q.warehouse_id, wd.ws, q.user_id, q.ms, q.error_message, wd.day_cost * q.ms / qd.tot
FROM q CROSS JOIN qd ON qd.warehouse_id = q.warehouse_id AND qd.d = q.d AND qd.tot > 0
CROSS JOIN wd ON wd.warehouse_id = q.warehouse_id AND wd.d = q.d
ORDER BY q.d, q.query_id;
CREATE INDEX rs_query_alloc_wh ON rs_query_alloc (warehouse_id, d);

-- rs_failure_day: FAILED / SKIPPED runs with an error message per (start
-- day, normalized signature, job) — failure_signatures.sql's rows
-- pre-grouped; cost = SUM(total_cost) of their usage rows (NULL if none).
DROP TABLE IF EXISTS rs_failure_day;
CREATE TABLE rs_failure_day (
    d TEXT NOT NULL, signature TEXT NOT NULL, job_id TEXT NOT NULL, workspace_id TEXT,
    occurrences INTEGER NOT NULL, failed_runs INTEGER NOT NULL, skipped_runs INTEGER NOT NULL,
    first_seen TEXT, last_seen TEXT, cost REAL,
    PRIMARY KEY (d, signature, job_id)
) WITHOUT ROWID;
INSERT INTO rs_failure_day
SELECT d, signature, job_id, MIN(workspace_id), COUNT(*), SUM(run_status = 'FAILED'), SUM(run_status = 'SKIPPED'),
       MIN(start_time), MAX(start_time), SUM(total_cost)
FROM (
  SELECT date(r.start_time) AS d, r.job_id, j.workspace_id, r.run_status, r.start_time, u.total_cost,
         trim(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
           r.error_summary, '0', '#'), '1', '#'), '2', '#'), '3', '#'), '4', '#'), '5', '#'), '6', '#'),
           '7', '#'), '8', '#'), '9', '#')) AS signature
  FROM job_runs r JOIN jobs j ON j.job_id = r.job_id
  LEFT JOIN compute_usage u ON u.parent_id = r.job_run_id AND u.parent_type = 'JOB_RUN'
  WHERE r.run_status IN ('FAILED', 'SKIPPED') AND r.error_summary IS NOT NULL AND trim(r.error_summary) <> ''
    AND date(r.start_time) IS NOT NULL
)
GROUP BY d, signature, job_id
ORDER BY d, signature, job_id;

-- rs_failure_month: rs_failure_day per calendar month (whole months of a
-- failure_signatures window; its edge days come from rs_failure_day).
DROP TABLE IF EXISTS rs_failure_month;
CREATE TABLE rs_failure_month (
    m TEXT NOT NULL, signature TEXT NOT NULL, job_id TEXT NOT NULL, workspace_id TEXT,
    occurrences INTEGER NOT NULL, failed_runs INTEGER NOT NULL, skipped_runs INTEGER NOT NULL,
    first_seen TEXT, last_seen TEXT, cost REAL,
    PRIMARY KEY (m, signature, job_id)
) WITHOUT ROWID;
INSERT INTO rs_failure_month
SELECT substr(d, 1, 8) || '01', signature, job_id, MIN(workspace_id), SUM(occurrences), SUM(failed_runs),
       SUM(skipped_runs), MIN(first_seen), MAX(last_seen), SUM(cost)
FROM rs_failure_day
GROUP BY substr(d, 1, 8) || '01', signature, job_id
ORDER BY 1, 2, 3;

-- rs_job_tag: tag_showback's tag items of every job (jobs.tags as a JSON
-- array or object, normalized lower-case with '-' for blanks), one row per
-- item in item order (duplicates kept, as the raw report sums them).
DROP TABLE IF EXISTS rs_job_tag;
CREATE TABLE rs_job_tag (
    job_id TEXT NOT NULL, ord INTEGER NOT NULL, tag TEXT,
    PRIMARY KEY (job_id, ord)
) WITHOUT ROWID;
INSERT INTO rs_job_tag
SELECT j.job_id, t.id, lower(replace(trim(CASE WHEN t.type = 'text' THEN t.value ELSE t.key END), ' ', '-'))
FROM jobs j JOIN json_each(CASE WHEN json_valid(j.tags) THEN j.tags ELSE '[]' END) t
WHERE trim(CASE WHEN t.type = 'text' THEN t.value ELSE COALESCE(t.key, '') END) <> ''
ORDER BY j.job_id, t.id;

-- rs_job_runs_all: per job over ALL runs (start date known): run counts and
-- the median of successful durations (reliability_scorecard's median rule:
-- mean of the two middle values). Valid for a window that covers every run
-- (rs_rollup_state.run_min / run_max); the report guard checks that.
DROP TABLE IF EXISTS rs_job_runs_all;
CREATE TABLE rs_job_runs_all (
    job_id TEXT PRIMARY KEY, workspace_id TEXT,
    total_runs INTEGER NOT NULL, success_runs INTEGER NOT NULL, failed_runs INTEGER NOT NULL,
    skipped_runs INTEGER NOT NULL, retry_runs INTEGER NOT NULL, median_minutes REAL
) WITHOUT ROWID;
INSERT INTO rs_job_runs_all
WITH runs AS (
  SELECT r.job_id, j.workspace_id, r.job_run_id, r.run_status, r.duration_ms
  FROM job_runs r JOIN jobs j ON j.job_id = r.job_id WHERE date(r.start_time) IS NOT NULL
),
ok AS (
  SELECT job_id, duration_ms,
         ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY duration_ms) AS rn,
         COUNT(*) OVER (PARTITION BY job_id) AS n
  FROM runs WHERE run_status = 'SUCCESS' AND duration_ms IS NOT NULL
),
med AS (SELECT job_id, AVG(duration_ms) / 60000.0 AS median_minutes FROM ok WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY job_id)
SELECT r.job_id, MIN(r.workspace_id), COUNT(*), SUM(r.run_status = 'SUCCESS'), SUM(r.run_status = 'FAILED'),
       SUM(r.run_status = 'SKIPPED'), SUM(r.job_run_id GLOB '*-R[0-9][0-9]'), MAX(m.median_minutes)
FROM runs r LEFT JOIN med m ON m.job_id = r.job_id
GROUP BY r.job_id ORDER BY r.job_id;

-- rs_job_runtime: runtime_regression.sql's per (job, window) percentiles
-- for its default parameter set — every run from the first start day to
-- rs_rollup_state.rr_to (the latest usage date = the default as_of), recent
-- window = the last rr_recent_days (14, the registry default) days. The
-- report guard uses them only for exactly that parameter set.
DROP TABLE IF EXISTS rs_job_runtime;
CREATE TABLE rs_job_runtime (
    job_id TEXT NOT NULL, win TEXT NOT NULL, workspace_id TEXT, n INTEGER NOT NULL, p50 REAL, p95 REAL,
    PRIMARY KEY (job_id, win)
) WITHOUT ROWID;
INSERT INTO rs_job_runtime
WITH lim AS MATERIALIZED (SELECT MAX(usage_date) AS t FROM compute_usage),
ok AS (
  SELECT r.job_id, j.workspace_id, r.duration_ms / 60000.0 AS mins,
         CASE WHEN date(r.start_time) > date((SELECT t FROM lim), '-14 days') THEN 'recent' ELSE 'baseline' END AS win
  FROM job_runs r JOIN jobs j ON j.job_id = r.job_id
  WHERE r.run_status = 'SUCCESS' AND r.duration_ms IS NOT NULL
    AND date(r.start_time) <= (SELECT t FROM lim)
),
ranked AS (
  SELECT job_id, workspace_id, win, mins,
         ROW_NUMBER() OVER (PARTITION BY job_id, win ORDER BY mins) AS rn,
         COUNT(*) OVER (PARTITION BY job_id, win) AS n
  FROM ok
)
SELECT job_id, win, MIN(workspace_id), MAX(n),
       MAX(CASE WHEN rn = (n * 50 + 99) / 100 THEN mins END),
       MAX(CASE WHEN rn = (n * 95 + 99) / 100 THEN mins END)
FROM ranked GROUP BY job_id, win ORDER BY job_id, win;

-- rs_anomaly_entity / rs_anomaly_day: anomaly_detection's detector input.
-- One row per entity (a job with at least one executed run day, or a
-- warehouse / all-purpose cluster of non_job_compute) with its name, type
-- and workspace, and one row per (entity, day) with the report's daily
-- figures already computed exactly as anomaly_detection.fast.sql computed
-- them from rs_job_day / rs_compute_day, and the entity's name and type
-- repeated (the report reads ~375,000 days on the large profile: a join
-- back to rs_anomaly_entity per day was half its SQL time). Both are clustered on
-- entity_id (then day), so the report reads entities in order and seeks
-- each one's [:from, :to] days: rows come out sorted by (entity_id,
-- usage_date) without a sort. Exact for any window and workspace while
-- no job_id equals a compute_id (rs_rollup_state.anomaly_id_clash = 0,
-- the report's sql_fast_guard).
DROP TABLE IF EXISTS rs_anomaly_entity;
CREATE TABLE rs_anomaly_entity (
    entity_id TEXT NOT NULL PRIMARY KEY, entity_name TEXT, entity_type TEXT, workspace_id TEXT
) WITHOUT ROWID;
INSERT OR IGNORE INTO rs_anomaly_entity
SELECT entity_id, entity_name, entity_type, workspace_id FROM (
  SELECT j.job_id AS entity_id, j.job_name AS entity_name, 'job' AS entity_type, j.workspace_id, 0 AS k
  FROM jobs j WHERE EXISTS (SELECT 1 FROM rs_job_day d WHERE d.job_id = j.job_id AND d.x_runs > 0)
  UNION ALL
  SELECT c.compute_id, c.compute_name, c.compute_type, c.workspace_id, 1
  FROM non_job_compute c WHERE EXISTS (SELECT 1 FROM rs_compute_day x WHERE x.compute_id = c.compute_id)
)
ORDER BY entity_id, k;

DROP TABLE IF EXISTS rs_anomaly_day;
CREATE TABLE rs_anomaly_day (
    entity_id TEXT NOT NULL, d TEXT NOT NULL, entity_name TEXT, entity_type TEXT,
    total_cost REAL, run_count INTEGER, avg_duration_mins REAL, failure_count INTEGER, avg_spot_ratio REAL,
    PRIMARY KEY (entity_id, d)
) WITHOUT ROWID;
INSERT OR IGNORE INTO rs_anomaly_day
SELECT u.entity_id, u.d, e.entity_name, e.entity_type, u.total_cost, u.run_count, u.avg_duration_mins,
       u.failure_count, u.avg_spot_ratio FROM (
  SELECT d.job_id AS entity_id, d.d, 0 AS k,
         CASE WHEN d.cost_n > 0 THEN d.cost END AS total_cost,
         d.x_runs AS run_count,
         CAST(d.dur_sum AS REAL) / NULLIF(d.dur_n, 0) / 60000.0 AS avg_duration_mins,
         d.x_failed AS failure_count,
         CAST(d.spot_sum AS REAL) / NULLIF(d.spot_n, 0) AS avg_spot_ratio
  FROM rs_job_day d JOIN jobs j ON j.job_id = d.job_id
  WHERE d.x_runs > 0
  UNION ALL
  SELECT x.compute_id, x.d, 1,
         CASE WHEN SUM(x.cost_n) > 0 THEN SUM(x.cost) END, SUM(x.rows_n), NULL, 0, NULL
  FROM rs_compute_day x JOIN non_job_compute c ON c.compute_id = x.compute_id
  GROUP BY x.compute_id, x.d
) u JOIN rs_anomaly_entity e ON e.entity_id = u.entity_id
ORDER BY u.entity_id, u.d, u.k;

-- rs_rollup_state: which data_version these rows belong to and whether the
-- exactness conditions (a) and (b) above hold.
DROP TABLE IF EXISTS rs_rollup_state;
CREATE TABLE rs_rollup_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    built_for_version INTEGER NOT NULL,
    exact INTEGER NOT NULL,
    multi_usage_runs INTEGER NOT NULL,     -- runs with more than one JOB_RUN usage row
    date_mismatch_rows INTEGER NOT NULL,   -- JOB_RUN usage rows dated off their run's start date
    run_min TEXT, run_max TEXT,            -- MIN / MAX(date(start_time)) over job_runs (rs_job_runs_all)
    rr_to TEXT, rr_recent_days INTEGER,   -- rs_job_runtime's :to and :recent_days
    job_d_min TEXT, job_d_max TEXT,        -- MIN / MAX(d) of rs_job_day (rs_job_all covers them)
    anomaly_id_clash INTEGER NOT NULL,     -- job_ids that are also compute_ids (rs_anomaly_* inexact if > 0)
    layout INTEGER NOT NULL                -- layout of the rs_* tables; the engine uses them only when it
                                           -- equals its own (RS_ROLLUP_LAYOUT): older rollups mean raw SQL
);
INSERT INTO rs_rollup_state (id, built_for_version, exact, multi_usage_runs, date_mismatch_rows, run_min, run_max,
                             rr_to, rr_recent_days, job_d_min, job_d_max, anomaly_id_clash, layout)
SELECT 1, COALESCE((SELECT version FROM data_version WHERE id = 1), 0) + 1, (a + b) = 0, a, b,
       (SELECT MIN(date(start_time)) FROM job_runs), (SELECT MAX(date(start_time)) FROM job_runs),
       (SELECT MAX(usage_date) FROM compute_usage), 14,
       (SELECT MIN(d) FROM rs_job_day), (SELECT MAX(d) FROM rs_job_day),
       (SELECT COUNT(*) FROM jobs j JOIN non_job_compute c ON c.compute_id = j.job_id),
       2
FROM (SELECT (SELECT COUNT(*) FROM (SELECT parent_id FROM compute_usage WHERE parent_type = 'JOB_RUN'
                                    GROUP BY parent_id HAVING COUNT(*) > 1)) AS a,
             (SELECT COUNT(*) FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id
               WHERE u.parent_type = 'JOB_RUN' AND u.usage_date <> date(r.start_time)) AS b);
DROP TABLE temp.rs_ev;
DROP TABLE temp.rs_evday;
