-- runtime_regression — per job, p50/p95 runtime of SUCCESS runs in the recent
-- window (the last :recent_days days up to :to) versus the baseline (earlier
-- days from :from). Percentiles are nearest-rank (the value at rank
-- ceil(p·n)). drift_flag = 1 when the p50 or the p95 grew by more than
-- th_runtime_drift_pct percent. Ordered by p50 change DESC (NULLs last).
-- Parameters: :from, :to, :workspace, :recent_days, :th_*.
WITH ok AS (
  SELECT r.job_id, j.job_name, r.duration_ms / 60000.0 AS mins,
         CASE WHEN date(r.start_time) > date(:to, '-' || :recent_days || ' days') THEN 'recent' ELSE 'baseline' END AS win
  FROM job_runs r JOIN jobs j ON j.job_id = r.job_id
  WHERE r.run_status = 'SUCCESS' AND r.duration_ms IS NOT NULL
    AND date(r.start_time) BETWEEN :from AND :to
    AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
ranked AS (
  SELECT job_id, job_name, win, mins,
         ROW_NUMBER() OVER (PARTITION BY job_id, win ORDER BY mins) AS rn,
         COUNT(*) OVER (PARTITION BY job_id, win) AS n
  FROM ok
),
pct AS (
  SELECT job_id, job_name, win, MAX(n) AS n,
         MAX(CASE WHEN rn = (n * 50 + 99) / 100 THEN mins END) AS p50,
         MAX(CASE WHEN rn = (n * 95 + 99) / 100 THEN mins END) AS p95,
         AVG(mins) AS mean
  FROM ranked GROUP BY job_id, job_name, win
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
