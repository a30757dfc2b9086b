-- anomaly_detection.fast.sql — rollup variant of anomaly_detection.sql (same
-- columns, order and figures): job days from rs_job_day (days with at
-- least one executed run, as the raw usage -> run -> job join), warehouse
-- and cluster days from rs_compute_day.
WITH daily_job_cost AS (
  SELECT
    d.job_id AS entity_id,
    j.job_name AS entity_name,
    'job' AS entity_type,
    d.d AS usage_date,
    CASE WHEN d.cost_n > 0 THEN d.cost END AS total_cost,
    d.x_runs AS run_count,
    CAST(d.dur_sum AS REAL) / NULLIF(d.dur_n, 0) / 60000.0 AS avg_duration_mins,
    d.x_failed AS failure_count,
    CAST(d.spot_sum AS REAL) / NULLIF(d.spot_n, 0) AS avg_spot_ratio
  FROM rs_job_day d JOIN jobs j ON j.job_id = d.job_id
  WHERE d.d BETWEEN :from AND :to AND d.x_runs > 0
    AND (:workspace IS NULL OR d.workspace_id = :workspace)
),
daily_compute_cost AS (
  SELECT
    c.compute_id AS entity_id,
    c.compute_name AS entity_name,
    c.compute_type AS entity_type,
    x.d AS usage_date,
    CASE WHEN SUM(x.cost_n) > 0 THEN SUM(x.cost) END AS total_cost,
    SUM(x.rows_n) AS usage_records
  FROM rs_compute_day x JOIN non_job_compute c ON c.compute_id = x.compute_id
  WHERE x.d BETWEEN :from AND :to
    AND (:workspace IS NULL OR c.workspace_id = :workspace)
  GROUP BY c.compute_id, c.compute_name, c.compute_type, x.d
)
SELECT entity_id, entity_name, entity_type, usage_date, total_cost, run_count,
       avg_duration_mins, failure_count, avg_spot_ratio
FROM daily_job_cost
UNION ALL
SELECT entity_id, entity_name, entity_type, usage_date, total_cost,
       usage_records AS run_count, NULL AS avg_duration_mins, 0 AS failure_count,
       NULL AS avg_spot_ratio
FROM daily_compute_cost
ORDER BY entity_id, usage_date
