-- cost_forecast — the daily total cost series (every compute type) that the
-- forecaster extends by `horizon` days and backtests on its last
-- `backtest_days` days. One row per usage_date with usage, ordered by date.
-- Parameters: :from, :to, :workspace.
SELECT u.usage_date, SUM(u.total_cost) AS total_cost
FROM compute_usage u
WHERE u.usage_date BETWEEN :from AND :to
  AND (:workspace IS NULL OR
       CASE u.parent_type
         WHEN 'JOB_RUN' THEN EXISTS (SELECT 1 FROM job_runs r JOIN jobs j ON j.job_id = r.job_id
                                     WHERE r.job_run_id = u.parent_id AND j.workspace_id = :workspace)
         ELSE EXISTS (SELECT 1 FROM non_job_compute c
                      WHERE c.compute_id = u.parent_id AND c.workspace_id = :workspace)
       END)
GROUP BY u.usage_date
ORDER BY u.usage_date
