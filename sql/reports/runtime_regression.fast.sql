-- runtime_regression.fast.sql — rollup variant of runtime_regression.sql
-- (same columns, order and figures) for its default parameter set only
-- (registry sql_fast_guard: :from covers the first run, :to is the latest
-- usage date and recent_days = 14): the per (job, window) percentiles are
-- pre-computed in rs_job_runtime with the raw report's rank rule.
WITH pct AS (
  SELECT x.job_id, j.job_name, x.win, x.n, x.p50, x.p95
  FROM rs_job_runtime x JOIN jobs j ON j.job_id = x.job_id
  WHERE (:workspace IS NULL OR x.workspace_id = :workspace)
),
jobs_w AS (SELECT DISTINCT job_id, job_name FROM pct)
SELECT jw.job_id, jw.job_name,
       COALESCE(b.n, 0) AS baseline_runs, b.p50 AS baseline_p50_mins, b.p95 AS baseline_p95_mins,
       COALESCE(r.n, 0) AS recent_runs, r.p50 AS recent_p50_mins, r.p95 AS recent_p95_mins,
       CAST(100.0 * (r.p50 - b.p50) / NULLIF(b.p50, 0) AS REAL) AS p50_change_pct,
       CAST(100.0 * (r.p95 - b.p95) / NULLIF(b.p95, 0) AS REAL) AS p95_change_pct,
       CASE WHEN 100.0 * (r.p50 - b.p50) / NULLIF(b.p50, 0) > :th_runtime_drift_pct
              OR 100.0 * (r.p95 - b.p95) / NULLIF(b.p95, 0) > :th_runtime_drift_pct THEN 1 ELSE 0 END AS drift_flag
FROM jobs_w jw
LEFT JOIN pct b ON b.job_id = jw.job_id AND b.win = 'baseline'
LEFT JOIN pct r ON r.job_id = jw.job_id AND r.win = 'recent'
ORDER BY p50_change_pct DESC NULLS LAST, jw.job_id
