-- compute_type_cost — Compute Type Analysis (reference: src/reports/compute_type_cost.py).
--
-- A daily aggregate per (parent_type, usage_date) over every usage row, then
-- one row per compute type, ordered by cost_total_usd DESC (type breaks ties).
-- Formulas and column names are the reference's. The workspace filter (the
-- reference ignored it here) keeps a JOB_RUN row when its job belongs to the
-- workspace and a warehouse/cluster row when its compute does.
--
-- Parameters: :from, :to (inclusive usage dates), :workspace (NULL = all).
WITH daily_usage AS (
  SELECT
    u.parent_type AS compute_type,
    u.usage_date,
    SUM(u.total_cost) AS daily_cost,
    SUM(u.dbus_consumed) AS daily_dbus,
    COUNT(*) AS usage_records,
    AVG(u.avg_cpu_utilization) AS avg_cpu,
    COUNT(DISTINCT u.parent_id) AS unique_entities
  FROM compute_usage u
  WHERE u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR
         CASE u.parent_type
           WHEN 'JOB_RUN' THEN EXISTS (SELECT 1 FROM job_runs r JOIN jobs j ON j.job_id = r.job_id
                                       WHERE r.job_run_id = u.parent_id AND j.workspace_id = :workspace)
           ELSE EXISTS (SELECT 1 FROM non_job_compute c
                        WHERE c.compute_id = u.parent_id AND c.workspace_id = :workspace)
         END)
  GROUP BY u.parent_type, u.usage_date
),
type_summary AS (
  SELECT
    compute_type,
    SUM(daily_cost) AS cost_total_usd,
    SUM(daily_dbus) AS dbus_total,
    AVG(daily_cost) AS avg_daily_cost,
    MAX(daily_cost) AS max_daily_cost,
    MIN(daily_cost) AS min_daily_cost,
    AVG(avg_cpu) AS avg_cpu_utilization,
    SUM(usage_records) AS total_usage_records,
    COUNT(DISTINCT usage_date) AS days_active,
    AVG(unique_entities) AS avg_active_entities
  FROM daily_usage
  GROUP BY compute_type
)
SELECT
  compute_type,
  cost_total_usd,
  dbus_total,
  avg_daily_cost,
  max_daily_cost,
  min_daily_cost,
  CAST(100.0 * cost_total_usd / NULLIF(SUM(cost_total_usd) OVER (), 0) AS REAL) AS pct_of_total,
  avg_cpu_utilization,
  total_usage_records,
  days_active,
  avg_active_entities,
  CAST((max_daily_cost - min_daily_cost) / NULLIF(avg_daily_cost, 0) AS REAL) AS cost_volatility_ratio
FROM type_summary
ORDER BY cost_total_usd DESC, compute_type
