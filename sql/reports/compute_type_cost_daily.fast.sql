-- compute_type_cost_daily.fast.sql — rollup variant of
-- compute_type_cost_daily.sql from rs_type_day.
SELECT compute_type, d AS usage_date, CASE WHEN SUM(cost_n) > 0 THEN SUM(cost) END AS daily_cost
FROM rs_type_day
WHERE d BETWEEN :from AND :to AND (:workspace IS NULL OR workspace_id = :workspace)
GROUP BY compute_type, d
ORDER BY d, compute_type
