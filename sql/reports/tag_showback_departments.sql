-- tag_showback_departments — SQL warehouse cost per department: each
-- warehouse-day's cost is allocated to the queries of that day by duration
-- share, and summed per department of the query's user (users_lookup).
-- Warehouse-days without queries stay '(unattributed)'. Ordered by cost DESC.
WITH wd AS (
  SELECT u.parent_id AS warehouse_id, u.usage_date, SUM(u.total_cost) AS day_cost
  FROM compute_usage u JOIN non_job_compute c ON c.compute_id = u.parent_id
  WHERE u.parent_type = 'SQL_WAREHOUSE' AND u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR c.workspace_id = :workspace)
  GROUP BY u.parent_id, u.usage_date
),
q AS (
  SELECT q.parent_id AS warehouse_id, date(q.start_time) AS d, q.user_id, COALESCE(q.duration_ms, 0) AS ms
  FROM sql_query_history q WHERE date(q.start_time) BETWEEN :from AND :to
),
qd AS (SELECT warehouse_id, d, SUM(ms) AS tot FROM q GROUP BY warehouse_id, d),
alloc AS (
  SELECT COALESCE(ul.department, '(no department)') AS department, wd.day_cost * q.ms / qd.tot AS cost
  FROM q JOIN qd ON qd.warehouse_id = q.warehouse_id AND qd.d = q.d AND qd.tot > 0
  JOIN wd ON wd.warehouse_id = q.warehouse_id AND wd.usage_date = q.d
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
