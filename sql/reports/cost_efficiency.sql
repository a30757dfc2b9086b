-- cost_efficiency — dollars per unit of useful work and per DBU, with low CPU
-- utilisation on costly compute called out.
--
-- Jobs: unit = a successful run (cost of every run, failed ones included,
-- divided by the successful runs). Warehouses and all-purpose clusters:
-- unit = an active day. pct_of_total is over jobs + warehouses + clusters.
-- low_cpu_flag = 1 when avg CPU < th_low_cpu_ratio and the entity holds more
-- than th_costly_pct percent of the cost. Ordered by cost DESC.
-- Parameters: :from, :to, :workspace, :th_*.
WITH j AS (
  SELECT 'job' AS entity_type, jb.job_id AS entity_id, jb.job_name AS entity_name,
         SUM(u.total_cost) AS cost_total_usd, SUM(u.dbus_consumed) AS dbus_total,
         COUNT(DISTINCT CASE WHEN r.run_status = 'SUCCESS' THEN r.job_run_id END) AS units,
         'successful run' AS unit, AVG(u.avg_cpu_utilization) AS avg_cpu_utilization
  FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id JOIN jobs jb ON jb.job_id = r.job_id
  WHERE u.parent_type = 'JOB_RUN' AND u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR jb.workspace_id = :workspace)
  GROUP BY jb.job_id, jb.job_name
),
c AS (
  SELECT 'compute' AS entity_type, c.compute_id, c.compute_name,
         SUM(u.total_cost), SUM(u.dbus_consumed), COUNT(DISTINCT u.usage_date), 'active day',
         AVG(u.avg_cpu_utilization)
  FROM compute_usage u JOIN non_job_compute c ON c.compute_id = u.parent_id
  WHERE u.parent_type IN ('SQL_WAREHOUSE', 'APC_CLUSTER') AND u.usage_date BETWEEN :from AND :to
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
