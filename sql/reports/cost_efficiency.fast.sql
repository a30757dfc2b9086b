-- cost_efficiency.fast.sql — rollup variant of cost_efficiency.sql (same
-- columns, order and figures): jobs from rs_job_month + edge days of
-- rs_job_day (see job_cost.fast.sql), warehouses and clusters from
-- rs_compute_day.
WITH
-- @include window_split.inc.sql
b AS (
  SELECT job_id, x_runs, x_ok, cost, cost_n, dbus, dbus_n, cpu_sum, cpu_n
  FROM rs_job_all WHERE (SELECT covers_all FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, x_ok, cost, cost_n, dbus, dbus_n, cpu_sum, cpu_n
  FROM rs_job_month WHERE m >= (SELECT fm FROM w) AND m <= (SELECT lm FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, x_ok, cost, cost_n, dbus, dbus_n, cpu_sum, cpu_n
  FROM rs_job_day WHERE d >= :from AND d <= (SELECT day_to FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.x_ok, x.cost, x.cost_n, x.dbus, x.dbus_n, x.cpu_sum, x.cpu_n
  FROM jobs j CROSS JOIN rs_job_rtm x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MIN(y.d) FROM rs_job_rtm y
               WHERE y.job_id = j.job_id AND y.d >= :from AND y.d < (SELECT fm FROM w))
  WHERE (SELECT has_head FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.x_ok, x.cost, x.cost_n, x.dbus, x.dbus_n, x.cpu_sum, x.cpu_n
  FROM jobs j CROSS JOIN rs_job_mtd x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MAX(y.d) FROM rs_job_mtd y
               WHERE y.job_id = j.job_id AND y.d >= date(:to, 'start of month') AND y.d <= :to)
  WHERE (SELECT has_tail FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
j AS (
  SELECT 'job' AS entity_type, b.job_id AS entity_id, jb.job_name AS entity_name,
         CASE WHEN SUM(b.cost_n) > 0 THEN SUM(b.cost) END AS cost_total_usd,
         CASE WHEN SUM(b.dbus_n) > 0 THEN SUM(b.dbus) END AS dbus_total,
         SUM(b.x_ok) AS units, 'successful run' AS unit,
         CAST(SUM(b.cpu_sum) AS REAL) / NULLIF(SUM(b.cpu_n), 0) AS avg_cpu_utilization
  FROM b JOIN jobs jb ON jb.job_id = b.job_id
  GROUP BY b.job_id
  HAVING SUM(b.x_runs) > 0
),
c AS (
  SELECT 'compute' AS entity_type, c.compute_id, c.compute_name,
         CASE WHEN SUM(x.cost_n) > 0 THEN SUM(x.cost) END, CASE WHEN SUM(x.dbus_n) > 0 THEN SUM(x.dbus) END,
         COUNT(DISTINCT x.d), 'active day', CAST(SUM(x.cpu_sum) AS REAL) / NULLIF(SUM(x.cpu_n), 0)
  FROM rs_compute_day x JOIN non_job_compute c ON c.compute_id = x.compute_id
  WHERE x.d BETWEEN :from AND :to
    AND (:workspace IS NULL OR c.workspace_id = :workspace)
  GROUP BY c.compute_id, c.compute_name
),
a AS (SELECT * FROM j UNION ALL SELECT * FROM c)
SELECT entity_type, entity_id, entity_name, cost_total_usd, dbus_total, units, unit,
       CAST(cost_total_usd / NULLIF(units, 0) AS REAL) AS cost_per_unit_usd,
       CAST(cost_total_usd / NULLIF(dbus_total, 0) AS REAL) AS cost_per_dbu_usd,
       avg_cpu_utilization,
       CAST(100.0 * cost_total_usd / NULLIF(SUM(cost_total_usd) OVER (), 0) AS REAL) AS pct_of_total,
       CASE WHEN avg_cpu_utilization < :th_low_cpu_ratio
             AND 100.0 * cost_total_usd / NULLIF(SUM(cost_total_usd) OVER (), 0) > :th_costly_pct THEN 1 ELSE 0 END
         AS low_cpu_flag
FROM a
ORDER BY cost_total_usd DESC, entity_id
