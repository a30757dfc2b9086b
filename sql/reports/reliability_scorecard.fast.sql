-- reliability_scorecard.fast.sql — rollup variant of
-- reliability_scorecard.sql (same columns, order and figures) for a window
-- that covers every run (registry sql_fast_guard: :from <= first start day
-- and :to >= last start day — the default parameters). Run counts and the
-- median come from rs_job_runs_all; slow runs are counted per job on the
-- index job_runs(job_id, run_status, duration_ms) (the integer lower bound
-- only narrows the range; the raw comparison decides).
WITH tag_sla AS (
  SELECT j.job_id, MIN(CAST(substr(t.value, 5, length(t.value) - 6) AS REAL)) * 60.0 AS sla_minutes,
         MIN(t.value) AS sla_tag
  FROM jobs j JOIN json_each(CASE WHEN json_valid(j.tags) THEN j.tags ELSE '[]' END) t
  WHERE t.type = 'text' AND t.value GLOB 'SLA-[0-9]*hr'
  GROUP BY j.job_id
),
sla AS (
  SELECT a.job_id, a.median_minutes,
         COALESCE(t.sla_minutes, :th_sla_median_factor * a.median_minutes) AS sla_minutes,
         CASE WHEN t.sla_tag IS NOT NULL THEN 'tag ' || t.sla_tag ELSE 'median x ' || :th_sla_median_factor END AS sla_source
  FROM rs_job_runs_all a LEFT JOIN tag_sla t ON t.job_id = a.job_id
  WHERE a.median_minutes IS NOT NULL
),
per_job AS (
  SELECT a.job_id, j.job_name, a.total_runs, a.success_runs, a.failed_runs, a.skipped_runs, a.retry_runs,
         COALESCE((SELECT COUNT(*) FROM job_runs r
                    WHERE r.job_id = a.job_id AND r.run_status = 'SUCCESS'
                      AND r.duration_ms >= CAST(s.sla_minutes * 60000.0 AS INTEGER) - 1
                      AND r.duration_ms / 60000.0 > s.sla_minutes AND date(r.start_time) IS NOT NULL), 0) AS slow_runs,
         s.median_minutes, s.sla_minutes, s.sla_source
  FROM rs_job_runs_all a JOIN jobs j ON j.job_id = a.job_id
  LEFT JOIN sla s ON s.job_id = a.job_id
  WHERE (:workspace IS NULL OR a.workspace_id = :workspace)
)
SELECT job_id, job_name, total_runs, success_runs, failed_runs, skipped_runs, retry_runs,
       CAST(100.0 * success_runs / NULLIF(total_runs, 0) AS REAL) AS success_rate_pct,
       CAST(100.0 * retry_runs / NULLIF(total_runs, 0) AS REAL) AS retry_rate_pct,
       median_minutes, sla_minutes, sla_source, slow_runs,
       slow_runs + failed_runs + skipped_runs AS sla_breaches,
       CAST(100.0 * (slow_runs + failed_runs + skipped_runs) / NULLIF(total_runs, 0) AS REAL) AS breach_rate_pct
FROM per_job
ORDER BY success_rate_pct ASC, failed_runs DESC, job_id
