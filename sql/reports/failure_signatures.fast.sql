-- failure_signatures.fast.sql — rollup variant of failure_signatures.sql
-- (same columns, order and figures) over failed / skipped runs with a
-- message pre-grouped per (signature, job): whole months of the window from
-- rs_failure_month, the edge days from rs_failure_day (fm = first whole
-- month, lm = last whole month; head [from, min(fm, to + 1)), tail
-- (max(end of lm, fm - 1, from - 1), to] — one bound each way per range).
WITH w AS MATERIALIZED (
  SELECT fm, lm, min(fm, date(:to, '+1 day')) AS head_end,
         max(date(lm, '+1 month', '-1 day'), date(fm, '-1 day'), date(:from, '-1 day')) AS tail_after
  FROM (SELECT CASE WHEN substr(:from, 9, 2) = '01' THEN :from
                    ELSE date(:from, 'start of month', '+1 month') END AS fm,
               CASE WHEN :to = date(:to, 'start of month', '+1 month', '-1 day') THEN date(:to, 'start of month')
                    ELSE date(:to, 'start of month', '-1 month') END AS lm)
),
f AS MATERIALIZED (
  SELECT signature, job_id, occurrences, failed_runs, skipped_runs, first_seen, last_seen, cost
  FROM rs_failure_month WHERE m >= (SELECT fm FROM w) AND m <= (SELECT lm FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT signature, job_id, occurrences, failed_runs, skipped_runs, first_seen, last_seen, cost
  FROM rs_failure_day WHERE d >= :from AND d < (SELECT head_end FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT signature, job_id, occurrences, failed_runs, skipped_runs, first_seen, last_seen, cost
  FROM rs_failure_day WHERE d > (SELECT tail_after FROM w) AND d <= :to
    AND (:workspace IS NULL OR workspace_id = :workspace)
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
