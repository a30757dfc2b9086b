-- tag_showback.fast.sql — rollup variant of tag_showback.sql (same columns,
-- order and figures): the per-job cost of the window (jc) comes from
-- the job rollups (see job_cost.fast.sql); the tag items come from
-- rs_job_tag (the raw report's json_each split, pre-computed).
WITH
-- @include window_split.inc.sql
b AS (
  SELECT job_id, x_runs, cost, cost_n
  FROM rs_job_all WHERE (SELECT covers_all FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, cost, cost_n
  FROM rs_job_month WHERE m >= (SELECT fm FROM w) AND m <= (SELECT lm FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, cost, cost_n
  FROM rs_job_day WHERE d >= :from AND d <= (SELECT day_to FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.cost, x.cost_n
  FROM jobs j CROSS JOIN rs_job_rtm x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MIN(y.d) FROM rs_job_rtm y
               WHERE y.job_id = j.job_id AND y.d >= :from AND y.d < (SELECT fm FROM w))
  WHERE (SELECT has_head FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.cost, x.cost_n
  FROM jobs j CROSS JOIN rs_job_mtd x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MAX(y.d) FROM rs_job_mtd y
               WHERE y.job_id = j.job_id AND y.d >= date(:to, 'start of month') AND y.d <= :to)
  WHERE (SELECT has_tail FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
jc AS MATERIALIZED (
  SELECT b.job_id, j.tags, CASE WHEN SUM(b.cost_n) > 0 THEN SUM(b.cost) END AS cost
  FROM b JOIN jobs j ON j.job_id = b.job_id
  GROUP BY b.job_id
  HAVING SUM(b.x_runs) > 0
),
jt AS MATERIALIZED (
  SELECT jc.job_id, jc.cost, t.tag FROM jc JOIN rs_job_tag t ON t.job_id = jc.job_id
),
tag_jobs AS MATERIALIZED (
  -- each tag's distinct job ids in order, in one pass (the raw report runs
  -- one correlated scan of jt per tag)
  SELECT tag, group_concat(job_id, ', ') AS job_ids
  FROM (SELECT DISTINCT tag, job_id FROM jt ORDER BY tag, job_id)
  GROUP BY tag
),
tagged AS (
  SELECT g.tag, g.jobs, g.cost_total_usd, tj.job_ids, 0 AS is_untagged
  FROM (SELECT tag, COUNT(DISTINCT job_id) AS jobs, SUM(cost) AS cost_total_usd FROM jt GROUP BY tag) g
  LEFT JOIN tag_jobs tj ON tj.tag IS g.tag
),
untagged AS (
  SELECT '(untagged)' AS tag, COUNT(*) AS jobs, COALESCE(SUM(cost), 0.0) AS cost_total_usd,
         (SELECT group_concat(job_id, ', ') FROM (SELECT job_id FROM jc WHERE job_id NOT IN (SELECT job_id FROM jt) ORDER BY job_id))
           AS job_ids, 1 AS is_untagged
  FROM jc WHERE job_id NOT IN (SELECT job_id FROM jt)
),
a AS (SELECT * FROM tagged UNION ALL SELECT * FROM untagged WHERE jobs > 0)
SELECT tag, is_untagged, jobs, job_ids, cost_total_usd,
       CAST(100.0 * cost_total_usd / NULLIF((SELECT SUM(cost) FROM jc), 0) AS REAL) AS pct_of_job_cost
FROM a
ORDER BY cost_total_usd DESC, tag
