-- cost_forecast.fast.sql — rollup variant of cost_forecast.sql: the daily
-- total cost from rs_type_day (every usage row, per type and workspace).
SELECT d AS usage_date, CASE WHEN SUM(cost_n) > 0 THEN SUM(cost) END AS total_cost
FROM rs_type_day
WHERE d BETWEEN :from AND :to AND (:workspace IS NULL OR workspace_id = :workspace)
GROUP BY d
ORDER BY d
