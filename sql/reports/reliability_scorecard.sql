-- reliability_scorecard — per job: run outcomes (SKIPPED included), retries
-- and SLA breaches.
--
-- retry_runs: runs whose id ends in -Rnn (the reference's retry naming).
-- SLA: the job's "SLA-<n>hr" tag (n hours of runtime) when it has one, else
-- 1.5 × the median runtime of its successful runs in the window
-- (th_sla_median_factor). A breach is a SUCCESS run that took longer than the
-- SLA, or a FAILED/SKIPPED run (the work was not delivered).
-- Parameters: :from, :to (run start dates), :workspace, :th_*.
WITH runs AS (
  SELECT r.job_id, j.job_name, r.job_run_id, r.run_status, r.duration_ms,
         CASE WHEN r.job_run_id GLOB '*-R[0-9][0-9]' THEN 1 ELSE 0 END AS is_retry
  FROM job_runs r JOIN jobs j ON j.job_id = r.job_id
  WHERE date(r.start_time) BETWEEN :from AND :to
    AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
tag_sla AS (
  SELECT j.job_id, MIN(CAST(substr(t.value, 5, length(t.value) - 6) AS REAL)) * 60.0 AS sla_minutes,
         MIN(t.value) AS sla_tag
  FROM jobs j JOIN json_each(CASE WHEN json_valid(j.tags) THEN j.tags ELSE '[]' END) t
  WHERE t.type = 'text' AND t.value GLOB 'SLA-[0-9]*hr'
  GROUP BY j.job_id
),
ok AS (
  SELECT job_id, duration_ms,
         ROW_NUMBER() OVER (PARTITION BY job_id ORDER BY duration_ms) AS rn,
         COUNT(*) OVER (PARTITION BY job_id) AS n
  FROM runs WHERE run_status = 'SUCCESS' AND duration_ms IS NOT NULL
),
med AS (
  SELECT job_id, AVG(duration_ms) / 60000.0 AS median_minutes
  FROM ok WHERE rn IN ((n + 1) / 2, (n + 2) / 2) GROUP BY job_id
),
sla AS (
  SELECT m.job_id, m.median_minutes,
         COALESCE(t.sla_minutes, :th_sla_median_factor * m.median_minutes) AS sla_minutes,
         CASE WHEN t.sla_tag IS NOT NULL THEN 'tag ' || t.sla_tag ELSE 'median x ' || :th_sla_median_factor END AS sla_source
  FROM med m LEFT JOIN tag_sla t ON t.job_id = m.job_id
),
per_job AS (
  SELECT r.job_id, r.job_name,
         COUNT(*) AS total_runs,
         SUM(r.run_status = 'SUCCESS') AS success_runs,
         SUM(r.run_status = 'FAILED') AS failed_runs,
         SUM(r.run_status = 'SKIPPED') AS skipped_runs,
         SUM(r.is_retry) AS retry_runs,
         SUM(CASE WHEN r.run_status = 'SUCCESS' AND r.duration_ms / 60000.0 > s.sla_minutes THEN 1 ELSE 0 END) AS slow_runs,
         s.median_minutes, s.sla_minutes, s.sla_source
  FROM runs r LEFT JOIN sla s ON s.job_id = r.job_id
  GROUP BY r.job_id, r.job_name
)
SELECT job_id, job_name, total_runs, success_runs, failed_runs, skipped_runs, retry_runs,
       CAST(100.0 * success_runs / NULLIF(total_runs, 0) AS REAL) AS success_rate_pct,
       CAST(100.0 * retry_runs / NULLIF(total_runs, 0) AS REAL) AS retry_rate_pct,
       median_minutes, sla_minutes, sla_source, slow_runs,
       slow_runs + failed_runs + skipped_runs AS sla_breaches,
       CAST(100.0 * (slow_runs + failed_runs + skipped_runs) / NULLIF(total_runs, 0) AS REAL) AS breach_rate_pct
FROM per_job
ORDER BY success_rate_pct ASC, failed_runs DESC, job_id
