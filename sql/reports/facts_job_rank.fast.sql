-- facts_job_rank.fast.sql — EntityFacts (rs_facts.c): a job's cost share
-- and rank among all jobs with JOB_RUN usage in [:from, :to], from the job
-- rollups (window decomposition of job_cost.fast.sql) instead of a scan of
-- every usage row; the raw query is rs_facts.c's rank_sql. Used only when
-- the rollups are current and exact. Columns: share %, rank, jobs, cost.
WITH w0 AS MATERIALIZED (
  SELECT fm, lm, same_month,
         same_month AND NOT (substr(:from, 9, 2) = '01' AND :to = to_end) AS same_partial,
         NOT same_month AND substr(:from, 9, 2) <> '01' AS has_head,
         NOT same_month AND :to <> to_end AS has_tail,
         CASE WHEN same_month AND NOT (substr(:from, 9, 2) = '01' AND :to = to_end) THEN :to ELSE '' END AS day_to,
         COALESCE((SELECT :from <= job_d_min AND :to >= job_d_max FROM rs_rollup_state WHERE id = 1), 0) AS covers_all
  FROM (SELECT CASE WHEN substr(:from, 9, 2) = '01' THEN :from
                    ELSE date(:from, 'start of month', '+1 month') END AS fm,
               CASE WHEN :to = date(:to, 'start of month', '+1 month', '-1 day') THEN date(:to, 'start of month')
                    ELSE date(:to, 'start of month', '-1 month') END AS lm,
               substr(:from, 1, 7) = substr(:to, 1, 7) AS same_month,
               date(:to, 'start of month', '+1 month', '-1 day') AS to_end)
),
w AS MATERIALIZED (
  -- a window covering every day reads rs_job_all only: the other ranges are emptied
  SELECT covers_all, fm, CASE WHEN covers_all THEN '' ELSE lm END AS lm,
         has_head AND NOT covers_all AS has_head, has_tail AND NOT covers_all AS has_tail,
         CASE WHEN covers_all THEN '' ELSE day_to END AS day_to
  FROM w0
),
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
