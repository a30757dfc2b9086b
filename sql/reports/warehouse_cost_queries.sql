-- warehouse_cost_queries — the 100 costliest queries under the allocation of
-- warehouse_cost_by_query.sql (same rule), ordered by allocated cost DESC.
WITH wd AS (
  SELECT u.parent_id AS warehouse_id, u.usage_date, SUM(u.total_cost) AS day_cost
  FROM compute_usage u JOIN non_job_compute c ON c.compute_id = u.parent_id
  WHERE u.parent_type = 'SQL_WAREHOUSE' AND u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR c.workspace_id = :workspace)
  GROUP BY u.parent_id, u.usage_date
),
q AS (
  SELECT q.query_id, q.parent_id AS warehouse_id, date(q.start_time) AS d, q.user_id,
         COALESCE(q.duration_ms, 0) AS ms, q.error_message, substr(q.sql_text, 1, 200) AS sql_text
  FROM sql_query_history q WHERE date(q.start_time) BETWEEN :from AND :to
),
qd AS (SELECT warehouse_id, d, SUM(ms) AS tot FROM q GROUP BY warehouse_id, d)
SELECT q.query_id, q.warehouse_id, q.d AS query_date, q.user_id, q.ms AS duration_ms, q.error_message, q.sql_text,
       wd.day_cost * q.ms / qd.tot AS allocated_cost_usd
FROM q JOIN qd ON qd.warehouse_id = q.warehouse_id AND qd.d = q.d AND qd.tot > 0
JOIN wd ON wd.warehouse_id = q.warehouse_id AND wd.usage_date = q.d
ORDER BY allocated_cost_usd DESC, q.query_id
LIMIT 100
