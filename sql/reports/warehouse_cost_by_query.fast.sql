-- warehouse_cost_by_query.fast.sql — rollup variant of warehouse_cost_by_query.sql (same columns, order and
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
  SELECT q.query_id, q.parent_id AS warehouse_id, date(q.start_time) AS d, q.user_id,
         COALESCE(q.duration_ms, 0) AS ms, q.error_message
  FROM sql_query_history q WHERE date(q.start_time) BETWEEN :from AND :to
),
qd AS MATERIALIZED (SELECT warehouse_id, d, SUM(ms) AS tot FROM q GROUP BY warehouse_id, d),
alloc AS (
  SELECT q.*, wd.day_cost * q.ms / qd.tot AS cost
  FROM q CROSS JOIN qd ON qd.warehouse_id = q.warehouse_id AND qd.d = q.d AND qd.tot > 0
  CROSS JOIN wd ON wd.warehouse_id = q.warehouse_id AND wd.usage_date = q.d
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
