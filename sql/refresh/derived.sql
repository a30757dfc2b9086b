-- derived.sql: rebuilds every derived table from the facts. Run by each
-- writer inside its own transaction after writing facts (dl_schema.c:
-- dl_schema_refresh). Deterministic: every INSERT reads in a fixed order.
-- Tables: job_tags, job_dependencies (rows with source 'description' only),
-- rollup_job_day, rollup_compute_day.

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
