-- spot_risk_timeline.fast.sql — rollup variant of spot_risk_timeline.sql:
-- SPOT_EVICTION events per (job, event day) from rs_job_eviction.
SELECT x.job_id, j.job_name, x.ev_day AS eviction_date, SUM(x.events) AS evictions_that_day
FROM rs_job_eviction x JOIN jobs j ON j.job_id = x.job_id
WHERE x.ev_day BETWEEN :from AND :to
  AND (:workspace IS NULL OR j.workspace_id = :workspace)
GROUP BY x.job_id, x.ev_day
ORDER BY eviction_date, x.job_id
