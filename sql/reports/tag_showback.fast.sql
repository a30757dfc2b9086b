-- tag_showback.fast.sql — rollup variant of tag_showback.sql (same columns,
-- order and figures): the per-job cost of the window (jc) comes from
-- the job rollups (see job_cost.fast.sql); the tag items come from
-- rs_job_tag (the raw report's json_each split, pre-computed).
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
