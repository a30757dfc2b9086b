-- tag_showback_departments.fast.sql — rollup variant of
-- tag_showback_departments.sql (same columns, order and figures): daily
-- warehouse cost from rs_compute_day, per-query allocations from
-- rs_query_alloc; a warehouse day without any allocated query is
-- unattributed.
WITH wd AS MATERIALIZED (
  SELECT x.compute_id AS warehouse_id, x.d AS usage_date, CASE WHEN SUM(x.cost_n) > 0 THEN SUM(x.cost) END AS day_cost
  FROM rs_compute_day x JOIN non_job_compute c ON c.compute_id = x.compute_id
  WHERE x.parent_type = 'SQL_WAREHOUSE' AND x.d BETWEEN :from AND :to
    AND (:workspace IS NULL OR c.workspace_id = :workspace)
  GROUP BY x.compute_id, x.d
),
alloc AS (
  SELECT COALESCE(ul.department, '(no department)') AS department, a.cost AS cost
  FROM rs_query_alloc a LEFT JOIN users_lookup ul ON ul.user_id = a.user_id
  WHERE a.d BETWEEN :from AND :to AND (:workspace IS NULL OR a.workspace_id = :workspace)
),
un AS (
  SELECT '(unattributed)' AS department, wd.day_cost AS cost FROM wd
  WHERE NOT EXISTS (SELECT 1 FROM rs_query_alloc a WHERE a.warehouse_id = wd.warehouse_id AND a.d = wd.usage_date)
)
SELECT department, SUM(cost) AS warehouse_cost_usd
FROM (SELECT * FROM alloc UNION ALL SELECT * FROM un)
GROUP BY department
ORDER BY warehouse_cost_usd DESC, department
