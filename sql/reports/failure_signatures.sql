-- failure_signatures — error messages of FAILED/SKIPPED runs, normalised
-- (digits -> '#', whitespace trimmed) and grouped.
--
-- One row per signature: its error class (text before the first ':'),
-- occurrences, failed and skipped runs, affected jobs (count and ids),
-- first/last seen, and the cost of the failed runs carrying it (their usage
-- rows). Ordered by cost DESC, occurrences DESC, signature.
-- Parameters: :from, :to (run start dates), :workspace.
WITH f AS (
  SELECT r.job_run_id, r.job_id, r.run_status, r.start_time,
         trim(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
           r.error_summary, '0', '#'), '1', '#'), '2', '#'), '3', '#'), '4', '#'), '5', '#'), '6', '#'),
           '7', '#'), '8', '#'), '9', '#')) AS signature
  FROM job_runs r JOIN jobs j ON j.job_id = r.job_id
  WHERE r.run_status IN ('FAILED', 'SKIPPED') AND r.error_summary IS NOT NULL AND trim(r.error_summary) <> ''
    AND date(r.start_time) BETWEEN :from AND :to
    AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
cost AS (
  SELECT f.signature, SUM(u.total_cost) AS cost
  FROM f JOIN compute_usage u ON u.parent_id = f.job_run_id AND u.parent_type = 'JOB_RUN'
  GROUP BY f.signature
),
g AS (
  SELECT signature,
         CASE WHEN instr(signature, ':') > 0 THEN substr(signature, 1, instr(signature, ':') - 1) ELSE signature END AS error_class,
         COUNT(*) AS occurrences,
         SUM(run_status = 'FAILED') AS failed_runs,
         SUM(run_status = 'SKIPPED') AS skipped_runs,
         COUNT(DISTINCT job_id) AS affected_jobs,
         MIN(start_time) AS first_seen,
         MAX(start_time) AS last_seen
  FROM f GROUP BY signature
)
SELECT g.signature, g.error_class, g.occurrences, g.failed_runs, g.skipped_runs, g.affected_jobs,
       (SELECT group_concat(job_id, ', ') FROM (SELECT DISTINCT job_id FROM f WHERE f.signature = g.signature ORDER BY job_id))
         AS job_ids,
       g.first_seen, g.last_seen,
       COALESCE(c.cost, 0.0) AS failed_cost_usd,
       CAST(100.0 * COALESCE(c.cost, 0.0) / NULLIF(SUM(COALESCE(c.cost, 0.0)) OVER (), 0) AS REAL) AS pct_of_failure_cost
FROM g LEFT JOIN cost c ON c.signature = g.signature
ORDER BY failed_cost_usd DESC, g.occurrences DESC, g.signature
