-- job_cost_pareto.fast.sql — rollup variant of job_cost_pareto.sql (same
-- columns, order and figures). Whole months from rs_job_month, edge days
-- from rs_job_day (see job_cost.fast.sql). Executed runs only (x_*), as the
-- raw usage -> run -> job join.
WITH
-- @include window_split.inc.sql
b AS (
  SELECT job_id, x_runs, x_failed, cost, cost_n, dur_sum, dur_n, spot_sum, spot_n
  FROM rs_job_all WHERE (SELECT covers_all FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, x_failed, cost, cost_n, dur_sum, dur_n, spot_sum, spot_n
  FROM rs_job_month WHERE m >= (SELECT fm FROM w) AND m <= (SELECT lm FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, x_failed, cost, cost_n, dur_sum, dur_n, spot_sum, spot_n
  FROM rs_job_day WHERE d >= :from AND d <= (SELECT day_to FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.x_failed, x.cost, x.cost_n, x.dur_sum, x.dur_n, x.spot_sum, x.spot_n
  FROM jobs j CROSS JOIN rs_job_rtm x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MIN(y.d) FROM rs_job_rtm y
               WHERE y.job_id = j.job_id AND y.d >= :from AND y.d < (SELECT fm FROM w))
  WHERE (SELECT has_head FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.x_failed, x.cost, x.cost_n, x.dur_sum, x.dur_n, x.spot_sum, x.spot_n
  FROM jobs j CROSS JOIN rs_job_mtd x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MAX(y.d) FROM rs_job_mtd y
               WHERE y.job_id = j.job_id AND y.d >= date(:to, 'start of month') AND y.d <= :to)
  WHERE (SELECT has_tail FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
job_cost AS (
  SELECT b.job_id, j.job_name,
    CASE WHEN SUM(b.cost_n) > 0 THEN SUM(b.cost) END AS cost_total_usd,
    SUM(b.x_runs) AS run_count,
    CAST(SUM(b.dur_sum) AS REAL) / NULLIF(SUM(b.dur_n), 0) / 1000.0 / 60.0 AS avg_duration_mins,
    CAST(100.0 * SUM(b.x_failed) / NULLIF(SUM(b.x_runs), 0) AS REAL) AS failure_rate_pct,
    CAST(SUM(b.spot_sum) AS REAL) / NULLIF(SUM(b.spot_n), 0) AS avg_spot_ratio
  FROM b JOIN jobs j ON j.job_id = b.job_id
  GROUP BY b.job_id
  HAVING SUM(b.x_runs) > 0
),
ranked AS (
  SELECT
    job_id,
    job_name,
    cost_total_usd,
    run_count,
    avg_duration_mins,
    failure_rate_pct,
    avg_spot_ratio,
    SUM(cost_total_usd) OVER () AS grand_total_usd,
    ROW_NUMBER() OVER (ORDER BY cost_total_usd DESC, job_id) AS rank,
    SUM(cost_total_usd) OVER (ORDER BY cost_total_usd DESC, job_id
                              ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS cumulative_cost_usd
  FROM job_cost
)
SELECT
  rank,
  job_id,
  job_name,
  cost_total_usd,
  run_count,
  avg_duration_mins,
  failure_rate_pct,
  avg_spot_ratio,
  grand_total_usd,
  cumulative_cost_usd,
  CAST(100.0 * cumulative_cost_usd / NULLIF(grand_total_usd, 0) AS REAL) AS cumulative_pct,
  CAST(100.0 * cost_total_usd / NULLIF(grand_total_usd, 0) AS REAL) AS pct_of_total,
  CAST(100.0 * (cumulative_cost_usd - cost_total_usd) / NULLIF(grand_total_usd, 0) AS REAL)
    AS prior_cumulative_pct
FROM ranked
ORDER BY rank
