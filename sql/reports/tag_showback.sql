-- tag_showback — job cost by tag, with the untagged share called out.
--
-- Tags come from jobs.tags (a JSON array of names, or JSON object keys; works
-- on the raw reference DB and on migrated ones), normalised to lower case
-- with spaces as '-'. A job's cost counts under each of its tags, so tag
-- shares can add up to more than 100%; '(untagged)' holds the jobs without a
-- tag (NULL, empty, or not JSON). Ordered by cost DESC, tag.
-- Parameters: :from, :to, :workspace.
WITH jc AS (
  SELECT j.job_id, j.tags, SUM(u.total_cost) AS cost
  FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id JOIN jobs j ON j.job_id = r.job_id
  WHERE u.parent_type = 'JOB_RUN' AND u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR j.workspace_id = :workspace)
  GROUP BY j.job_id, j.tags
),
jt AS (
  SELECT jc.job_id, jc.cost,
         lower(replace(trim(CASE WHEN t.type = 'text' THEN t.value ELSE t.key END), ' ', '-')) AS tag
  FROM jc JOIN json_each(CASE WHEN json_valid(jc.tags) THEN jc.tags ELSE '[]' END) t
  WHERE trim(CASE WHEN t.type = 'text' THEN t.value ELSE COALESCE(t.key, '') END) <> ''
),
tagged AS (
  SELECT tag, COUNT(DISTINCT job_id) AS jobs, SUM(cost) AS cost_total_usd,
         (SELECT group_concat(job_id, ', ') FROM (SELECT DISTINCT x.job_id FROM jt x WHERE x.tag = jt.tag ORDER BY x.job_id))
           AS job_ids, 0 AS is_untagged
  FROM jt GROUP BY tag
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
