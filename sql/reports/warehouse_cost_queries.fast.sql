-- warehouse_cost_queries.fast.sql — rollup variant of warehouse_cost_queries.sql (same columns, order and
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
         COALESCE(q.duration_ms, 0) AS ms, q.error_message, substr(q.sql_text, 1, 200) AS sql_text
  FROM sql_query_history q WHERE date(q.start_time) BETWEEN :from AND :to
),
qd AS MATERIALIZED (SELECT warehouse_id, d, SUM(ms) AS tot FROM q GROUP BY warehouse_id, d)
SELECT q.query_id, q.warehouse_id, q.d AS query_date, q.user_id, q.ms AS duration_ms, q.error_message, q.sql_text,
       wd.day_cost * q.ms / qd.tot AS allocated_cost_usd
FROM q CROSS JOIN qd ON qd.warehouse_id = q.warehouse_id AND qd.d = q.d AND qd.tot > 0
CROSS JOIN wd ON wd.warehouse_id = q.warehouse_id AND wd.usage_date = q.d
ORDER BY allocated_cost_usd DESC, q.query_id
LIMIT 100
