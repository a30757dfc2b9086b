-- anomaly_detection — the daily cost series the Cost Anomaly Detection report
-- feeds to the detector (reference: src/reports/anomaly_detection.py).
--
-- UNION ALL of one row per (job, usage_date) over the base join and one row
-- per (warehouse/cluster, usage_date), ordered by entity_id, usage_date.
-- Column names are the reference's. The reference filtered on
-- date('now','-90 days'), which empties the report for historical data
-- (seed-copilot §11.4); here the window is [:from, :to], where the registry
-- defaults :to to the as-of date (latest usage date) and :from to 90 days
-- before it.
--
-- Parameters: :from, :to (inclusive usage dates), :workspace (NULL = all).
WITH daily_job_cost AS (
  SELECT
    j.job_id AS entity_id,
    j.job_name AS entity_name,
    'job' AS entity_type,
    u.usage_date,
    SUM(u.total_cost) AS total_cost,
    COUNT(DISTINCT r.job_run_id) AS run_count,
    AVG(r.duration_ms) / 60000.0 AS avg_duration_mins,
    SUM(CASE WHEN r.run_status = 'FAILED' THEN 1 ELSE 0 END) AS failure_count,
    AVG(r.spot_ratio) AS avg_spot_ratio
  FROM compute_usage u
  JOIN job_runs r ON u.parent_id = r.job_run_id
  JOIN jobs j ON r.job_id = j.job_id
  WHERE u.parent_type = 'JOB_RUN'
    AND u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR j.workspace_id = :workspace)
  GROUP BY j.job_id, j.job_name, u.usage_date
),
daily_compute_cost AS (
  SELECT
    c.compute_id AS entity_id,
    c.compute_name AS entity_name,
    c.compute_type AS entity_type,
    u.usage_date,
    SUM(u.total_cost) AS total_cost,
    COUNT(*) AS usage_records
  FROM compute_usage u
  JOIN non_job_compute c ON u.parent_id = c.compute_id
  WHERE u.parent_type IN ('SQL_WAREHOUSE', 'APC_CLUSTER')
    AND u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR c.workspace_id = :workspace)
  GROUP BY c.compute_id, c.compute_name, c.compute_type, u.usage_date
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
