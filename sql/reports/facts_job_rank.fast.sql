-- facts_job_rank.fast.sql — EntityFacts (rs_facts.c): a job's cost share
-- and rank among all jobs with JOB_RUN usage in [:from, :to], from the job
-- rollups (window decomposition of job_cost.fast.sql) instead of a scan of
-- every usage row; the raw query is rs_facts.c's rank_sql. Used only when
-- the rollups are current and exact. Columns: share %, rank, jobs, cost.
WITH
-- @include window_split.inc.sql
b AS (
  SELECT job_id, x_runs, cost, cost_n
  FROM rs_job_all WHERE (SELECT covers_all FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, cost, cost_n
  FROM rs_job_month WHERE m >= (SELECT fm FROM w) AND m <= (SELECT lm FROM w)
  UNION ALL
  SELECT job_id, x_runs, cost, cost_n
  FROM rs_job_day WHERE d >= :from AND d <= (SELECT day_to FROM w)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.cost, x.cost_n
  FROM jobs j CROSS JOIN rs_job_rtm x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MIN(y.d) FROM rs_job_rtm y
               WHERE y.job_id = j.job_id AND y.d >= :from AND y.d < (SELECT fm FROM w))
  WHERE (SELECT has_head FROM w)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.cost, x.cost_n
  FROM jobs j CROSS JOIN rs_job_mtd x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MAX(y.d) FROM rs_job_mtd y
               WHERE y.job_id = j.job_id AND y.d >= date(:to, 'start of month') AND y.d <= :to)
  WHERE (SELECT has_tail FROM w)
),
c AS MATERIALIZED (
  SELECT job_id, CASE WHEN SUM(cost_n) > 0 THEN SUM(cost) END AS cost
  FROM b GROUP BY job_id HAVING SUM(x_runs) > 0
)
SELECT 100.0 * (SELECT cost FROM c WHERE job_id = :id) / NULLIF((SELECT SUM(cost) FROM c), 0),
       (SELECT COUNT(*) FROM c WHERE cost > (SELECT cost FROM c WHERE job_id = :id)) + 1,
       (SELECT COUNT(*) FROM c), (SELECT cost FROM c WHERE job_id = :id)
