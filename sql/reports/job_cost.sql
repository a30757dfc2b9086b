-- job_cost — Job Cost & Reliability (reference: src/reports/job_cost.py).
--
-- One row per job, ordered by cost_total_usd DESC (job_id breaks ties).
-- Column names and formulas are the reference's, with one fix (seed-copilot
-- §11.8): runs come from job_runs LEFT JOIN compute_usage, so SKIPPED runs,
-- which never have a usage row, count in total_runs and skipped_runs (and
-- therefore in the success/failure rate denominators). Run counts are
-- distinct job_run_ids. Cost, DBU, duration, CPU, memory and spot figures are
-- averaged over executed runs only (runs with a usage row), exactly as the
-- reference computes them. A run's date is its usage_date, or
-- date(start_time) when it has no usage row.
--
-- Parameters: :from, :to (inclusive dates), :workspace (NULL = all).
WITH job_runs_enriched AS (
  SELECT
    j.job_id,
    j.job_name,
    j.workspace_id,
    r.job_run_id,
    r.run_status,
    u.compute_usage_id,
    CASE WHEN u.compute_usage_id IS NOT NULL THEN r.duration_ms END AS duration_ms,
    CASE WHEN u.compute_usage_id IS NOT NULL THEN r.spot_ratio END AS spot_ratio,
    u.total_cost,
    u.dbus_consumed,
    u.avg_cpu_utilization,
    u.avg_memory_gb
  FROM job_runs r
  CROSS JOIN jobs j ON j.job_id = r.job_id   -- scan runs once; jobs by primary key
  LEFT JOIN compute_usage u ON u.parent_id = r.job_run_id AND u.parent_type = 'JOB_RUN'
  WHERE COALESCE(u.usage_date, date(r.start_time)) BETWEEN :from AND :to
    AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
job_summary AS (
  SELECT
    job_id,
    job_name,
    workspace_id,
    COALESCE(SUM(total_cost), 0.0) AS cost_total_usd,
    COALESCE(SUM(total_cost * spot_ratio), 0.0) AS cost_spot_usd,
    COALESCE(SUM(total_cost * (1 - spot_ratio)), 0.0) AS cost_ondemand_usd,
    COUNT(DISTINCT job_run_id) AS total_runs,
    COUNT(DISTINCT CASE WHEN run_status = 'SUCCESS' THEN job_run_id END) AS success_runs,
    COUNT(DISTINCT CASE WHEN run_status = 'FAILED' THEN job_run_id END) AS failed_runs,
    COUNT(DISTINCT CASE WHEN run_status = 'SKIPPED' THEN job_run_id END) AS skipped_runs,
    AVG(duration_ms) / 1000.0 / 60.0 AS avg_duration_mins,
    AVG(avg_cpu_utilization) AS avg_cpu_utilization,
    MAX(avg_memory_gb) AS max_memory_gb,
    AVG(spot_ratio) AS avg_spot_ratio,
    COALESCE(SUM(dbus_consumed), 0.0) AS total_dbus,
    CASE WHEN SUM(dbus_consumed) > 0
         THEN SUM(total_cost) / SUM(dbus_consumed)
         ELSE 0 END AS cost_per_dbu
  FROM job_runs_enriched
  GROUP BY job_id, job_name, workspace_id
)
SELECT
  s.*,
  CAST(100.0 * s.success_runs / NULLIF(s.total_runs, 0) AS REAL) AS success_rate_pct,
  CAST(100.0 * s.failed_runs / NULLIF(s.total_runs, 0) AS REAL) AS failure_rate_pct,
  SUM(s.cost_total_usd) OVER () AS grand_total_cost,
  CAST(100.0 * s.cost_total_usd / NULLIF(SUM(s.cost_total_usd) OVER (), 0) AS REAL) AS pct_of_total_cost
FROM job_summary s
ORDER BY s.cost_total_usd DESC, s.job_id
