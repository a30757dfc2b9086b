-- job_cost_pareto — Cost Concentration / Pareto (reference: src/reports/job_cost_pareto.py).
--
-- Base join (usage -> run -> job), one row per job ranked by cost. Formulas
-- and column names are the reference's; job_id breaks cost ties in both the
-- rank and the running total so the order is deterministic.
-- Added column prior_cumulative_pct = cumulative share of the jobs ranked
-- above this one. A job is "needed to reach X% of cost" when
-- prior_cumulative_pct < X; the priority bands, the 50%/80% KPIs and the
-- selection use that test (fixes seed-copilot §11.10: with cumulative_pct <= 50
-- the Critical band is empty whenever the largest job alone exceeds 50%).
--
-- Parameters: :from, :to (inclusive usage dates), :workspace (NULL = all).
WITH job_cost AS (
  SELECT
    j.job_id,
    j.job_name,
    SUM(u.total_cost) AS cost_total_usd,
    COUNT(DISTINCT r.job_run_id) AS run_count,
    AVG(r.duration_ms) / 1000.0 / 60.0 AS avg_duration_mins,
    CAST(100.0 * SUM(CASE WHEN r.run_status = 'FAILED' THEN 1 ELSE 0 END) / NULLIF(COUNT(*), 0) AS REAL)
      AS failure_rate_pct,
    AVG(r.spot_ratio) AS avg_spot_ratio
  FROM compute_usage u
  JOIN job_runs r ON r.job_run_id = u.parent_id
  JOIN jobs j ON j.job_id = r.job_id
  WHERE u.parent_type = 'JOB_RUN'
    AND u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR j.workspace_id = :workspace)
  GROUP BY j.job_id, j.job_name
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
