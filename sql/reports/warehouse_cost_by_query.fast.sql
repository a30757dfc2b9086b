-- warehouse_cost_by_query.fast.sql — rollup variant of
-- warehouse_cost_by_query.sql (same columns, order and figures): daily
-- warehouse cost from rs_compute_day, per-query allocations from
-- rs_query_alloc.
WITH wd AS MATERIALIZED (
  SELECT x.compute_id AS warehouse_id, x.d AS usage_date, CASE WHEN SUM(x.cost_n) > 0 THEN SUM(x.cost) END AS day_cost
  FROM rs_compute_day x JOIN non_job_compute c ON c.compute_id = x.compute_id
  WHERE x.parent_type = 'SQL_WAREHOUSE' AND x.d BETWEEN :from AND :to
    AND (:workspace IS NULL OR c.workspace_id = :workspace)
  GROUP BY x.compute_id, x.d
),
alloc AS (
  SELECT warehouse_id, user_id, ms, error_message, cost FROM rs_query_alloc
  WHERE d BETWEEN :from AND :to AND (:workspace IS NULL OR workspace_id = :workspace)
)
SELECT a.user_id || '@' || a.warehouse_id AS allocation_id, a.user_id, COALESCE(ul.name, a.user_id) AS user_name,
       ul.department, a.warehouse_id, c.compute_name AS warehouse_name,
       COUNT(*) AS queries, SUM(a.error_message IS NOT NULL) AS failed_queries,
       SUM(a.ms) / 1000.0 AS total_seconds, SUM(a.cost) AS allocated_cost_usd,
       CAST(100.0 * SUM(a.cost) / NULLIF((SELECT SUM(day_cost) FROM wd), 0) AS REAL) AS pct_of_warehouse_cost,
       (SELECT SUM(day_cost) FROM wd) AS warehouse_cost_total_usd
FROM alloc a LEFT JOIN users_lookup ul ON ul.user_id = a.user_id
LEFT JOIN non_job_compute c ON c.compute_id = a.warehouse_id
GROUP BY a.user_id, a.warehouse_id
ORDER BY allocated_cost_usd DESC, allocation_id
