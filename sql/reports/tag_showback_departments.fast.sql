-- tag_showback_departments.fast.sql — rollup variant of tag_showback_departments.sql (same columns, order and
-- figures): a warehouse's daily cost (wd) comes from rs_compute_day instead
-- of a scan of compute_usage; the query allocation is the raw report's.
WITH wd AS MATERIALIZED (
  SELECT x.compute_id AS warehouse_id, x.d AS usage_date, CASE WHEN SUM(x.cost_n) > 0 THEN SUM(x.cost) END AS day_cost
  FROM rs_compute_day x JOIN non_job_compute c ON c.compute_id = x.compute_id
  WHERE x.parent_type = 'SQL_WAREHOUSE' AND x.d BETWEEN :from AND :to
    AND (:workspace IS NULL OR c.workspace_id = :workspace)
  GROUP BY x.compute_id, x.d
),
q AS MATERIALIZED (
  SELECT q.parent_id AS warehouse_id, date(q.start_time) AS d, q.user_id, COALESCE(q.duration_ms, 0) AS ms
  FROM sql_query_history q WHERE date(q.start_time) BETWEEN :from AND :to
),
qd AS MATERIALIZED (SELECT warehouse_id, d, SUM(ms) AS tot FROM q GROUP BY warehouse_id, d),
alloc AS (
  SELECT COALESCE(ul.department, '(no department)') AS department, wd.day_cost * q.ms / qd.tot AS cost
  FROM q CROSS JOIN qd ON qd.warehouse_id = q.warehouse_id AND qd.d = q.d AND qd.tot > 0
  CROSS JOIN wd ON wd.warehouse_id = q.warehouse_id AND wd.usage_date = q.d
  LEFT JOIN users_lookup ul ON ul.user_id = q.user_id
),
un AS (
  SELECT '(unattributed)' AS department, wd.day_cost AS cost FROM wd
  LEFT JOIN qd ON qd.warehouse_id = wd.warehouse_id AND qd.d = wd.usage_date AND qd.tot > 0
  WHERE qd.warehouse_id IS NULL
)
SELECT department, SUM(cost) AS warehouse_cost_usd
FROM (SELECT * FROM alloc UNION ALL SELECT * FROM un)
GROUP BY department
ORDER BY warehouse_cost_usd DESC, department
