-- spot_risk_timeline — the eviction timeline of spot_risk_by_job: one row
-- per (job, eviction date) with the number of SPOT_EVICTION events, ordered
-- by date then job (reference EVICTION_TIMELINE_SQL, with the same filters).
SELECT
  j.job_id,
  j.job_name,
  DATE(e.event_time) AS eviction_date,
  COUNT(*) AS evictions_that_day
FROM events e
JOIN compute_usage u ON u.compute_usage_id = e.compute_usage_id
JOIN job_runs r ON r.job_run_id = u.parent_id
JOIN jobs j ON j.job_id = r.job_id
WHERE e.event_type = 'SPOT_EVICTION'
  AND DATE(e.event_time) BETWEEN :from AND :to
  AND (:workspace IS NULL OR j.workspace_id = :workspace)
GROUP BY j.job_id, j.job_name, DATE(e.event_time)
ORDER BY eviction_date, j.job_id
