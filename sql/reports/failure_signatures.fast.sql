-- failure_signatures.fast.sql — rollup variant of failure_signatures.sql
-- (same columns, order and figures) over rs_failure_day (failed / skipped
-- runs with a message, pre-grouped per start day, signature and job).
WITH f AS MATERIALIZED (
  SELECT signature, job_id, occurrences, failed_runs, skipped_runs, first_seen, last_seen, cost
  FROM rs_failure_day
  WHERE d BETWEEN :from AND :to AND (:workspace IS NULL OR workspace_id = :workspace)
),
g AS (
  SELECT signature,
         CASE WHEN instr(signature, ':') > 0 THEN substr(signature, 1, instr(signature, ':') - 1) ELSE signature END AS error_class,
         SUM(occurrences) AS occurrences,
         SUM(failed_runs) AS failed_runs,
         SUM(skipped_runs) AS skipped_runs,
         COUNT(DISTINCT job_id) AS affected_jobs,
         MIN(first_seen) AS first_seen,
         MAX(last_seen) AS last_seen,
         SUM(cost) AS cost
  FROM f GROUP BY signature
)
SELECT g.signature, g.error_class, g.occurrences, g.failed_runs, g.skipped_runs, g.affected_jobs,
       (SELECT group_concat(job_id, ', ') FROM (SELECT DISTINCT job_id FROM f WHERE f.signature = g.signature ORDER BY job_id))
         AS job_ids,
       g.first_seen, g.last_seen,
       COALESCE(g.cost, 0.0) AS failed_cost_usd,
       CAST(100.0 * COALESCE(g.cost, 0.0) / NULLIF(SUM(COALESCE(g.cost, 0.0)) OVER (), 0) AS REAL) AS pct_of_failure_cost
FROM g
ORDER BY failed_cost_usd DESC, g.occurrences DESC, g.signature
