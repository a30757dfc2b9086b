-- compute_type_cost_daily — the "Daily Cost by Compute Type" series of
-- compute_type_cost: one row per (type, usage_date), ordered by date then
-- type. Same filters as compute_type_cost.sql.
SELECT
  u.parent_type AS compute_type,
  u.usage_date,
  SUM(u.total_cost) AS daily_cost
FROM compute_usage u
WHERE u.usage_date BETWEEN :from AND :to
  AND (:workspace IS NULL OR
       CASE u.parent_type
         WHEN 'JOB_RUN' THEN EXISTS (SELECT 1 FROM job_runs r JOIN jobs j ON j.job_id = r.job_id
                                     WHERE r.job_run_id = u.parent_id AND j.workspace_id = :workspace)
         ELSE EXISTS (SELECT 1 FROM non_job_compute c
                      WHERE c.compute_id = u.parent_id AND c.workspace_id = :workspace)
       END)
GROUP BY u.parent_type, u.usage_date
ORDER BY u.usage_date, u.parent_type
