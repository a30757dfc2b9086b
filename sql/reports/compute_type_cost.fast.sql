-- compute_type_cost.fast.sql — rollup variant of compute_type_cost.sql
-- (same columns, order and figures): the daily aggregate per (type, day) is
-- rs_type_day summed over workspaces (a parent has one workspace, so the
-- distinct entity counts add up).
WITH daily_usage AS (
  SELECT compute_type, d AS usage_date,
    CASE WHEN SUM(cost_n) > 0 THEN SUM(cost) END AS daily_cost,
    CASE WHEN SUM(dbus_n) > 0 THEN SUM(dbus) END AS daily_dbus,
    SUM(rows_n) AS usage_records,
    CAST(SUM(cpu_sum) AS REAL) / NULLIF(SUM(cpu_n), 0) AS avg_cpu,
    SUM(entities) AS unique_entities
  FROM rs_type_day
  WHERE d BETWEEN :from AND :to AND (:workspace IS NULL OR workspace_id = :workspace)
  GROUP BY compute_type, d
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
