-- spot_risk_by_job.fast.sql — rollup variant of spot_risk_by_job.sql (same
-- columns, order and figures, same risk score). Whole months from
-- rs_job_month, edge days from rs_job_day (see job_cost.fast.sql); the
-- eviction figures come from the same rows (ev_events, evx_runs, evx_cost:
-- per (job, day) they do not depend on the window) and days_with_evictions
-- from rs_job_eviction.
WITH
-- @include window_split.inc.sql
b AS (
  SELECT job_id, x_runs, x_failed, cost, cost_n, cost_spot, cost_od, failed_cost, dur_sum, dur_n, spot_sum, spot_n, ev_events, evx_runs, evx_cost
  FROM rs_job_all WHERE (SELECT covers_all FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, x_failed, cost, cost_n, cost_spot, cost_od, failed_cost, dur_sum, dur_n, spot_sum, spot_n, ev_events, evx_runs, evx_cost
  FROM rs_job_month WHERE m >= (SELECT fm FROM w) AND m <= (SELECT lm FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, x_failed, cost, cost_n, cost_spot, cost_od, failed_cost, dur_sum, dur_n, spot_sum, spot_n, ev_events, evx_runs, evx_cost
  FROM rs_job_day WHERE d >= :from AND d <= (SELECT day_to FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.x_failed, x.cost, x.cost_n, x.cost_spot, x.cost_od, x.failed_cost, x.dur_sum, x.dur_n, x.spot_sum, x.spot_n, x.ev_events, x.evx_runs, x.evx_cost
  FROM jobs j CROSS JOIN rs_job_rtm x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MIN(y.d) FROM rs_job_rtm y
               WHERE y.job_id = j.job_id AND y.d >= :from AND y.d < (SELECT fm FROM w))
  WHERE (SELECT has_head FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.x_failed, x.cost, x.cost_n, x.cost_spot, x.cost_od, x.failed_cost, x.dur_sum, x.dur_n, x.spot_sum, x.spot_n, x.ev_events, x.evx_runs, x.evx_cost
  FROM jobs j CROSS JOIN rs_job_mtd x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MAX(y.d) FROM rs_job_mtd y
               WHERE y.job_id = j.job_id AND y.d >= date(:to, 'start of month') AND y.d <= :to)
  WHERE (SELECT has_tail FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
evdays AS (
  SELECT job_id, COUNT(DISTINCT ev_day) AS days_with_evictions
  FROM rs_job_eviction WHERE d BETWEEN :from AND :to AND (:workspace IS NULL OR workspace_id = :workspace)
  GROUP BY job_id
),
job_risk_profile AS (
  SELECT
    b.job_id,
    j.job_name,
    CASE WHEN SUM(b.cost_n) > 0 THEN SUM(b.cost) END AS cost_total_usd,
    SUM(b.cost_spot) AS cost_spot_usd,
    SUM(b.cost_od) AS cost_ondemand_usd,
    CAST(SUM(b.spot_sum) AS REAL) / NULLIF(SUM(b.spot_n), 0) AS avg_spot_ratio,
    CAST(100.0 * SUM(b.cost_spot) / NULLIF(CASE WHEN SUM(b.cost_n) > 0 THEN SUM(b.cost) END, 0) AS REAL) AS spot_cost_pct,
    SUM(b.x_runs) AS total_runs,
    SUM(b.x_failed) AS failed_runs,
    CAST(100.0 * SUM(b.x_failed) / NULLIF(SUM(b.x_runs), 0) AS REAL) AS failure_rate_pct,
    SUM(b.ev_events) AS eviction_count,
    COALESCE(MAX(ed.days_with_evictions), 0) AS days_with_evictions,
    CAST(SUM(b.dur_sum) AS REAL) / NULLIF(SUM(b.dur_n), 0) / 1000.0 / 60.0 AS avg_duration_mins,
    (SUM(b.cost_spot) * (1 + SUM(b.ev_events) * :th_risk_eviction_weight)) +
    (SUM(b.failed_cost) * :th_risk_failure_weight) AS risk_score,
    SUM(b.evx_cost) AS evx_cost,
    SUM(b.evx_runs) AS evx_runs
  FROM b JOIN jobs j ON j.job_id = b.job_id
  LEFT JOIN evdays ed ON ed.job_id = b.job_id
  GROUP BY b.job_id
  HAVING SUM(b.x_runs) > 0
)
SELECT
  jrp.job_id, jrp.job_name, jrp.cost_total_usd, jrp.cost_spot_usd, jrp.cost_ondemand_usd, jrp.avg_spot_ratio,
  jrp.spot_cost_pct, jrp.total_runs, jrp.failed_runs, jrp.failure_rate_pct, jrp.eviction_count,
  jrp.days_with_evictions, jrp.avg_duration_mins, jrp.risk_score,
  jrp.cost_spot_usd * :th_spot_discount AS spot_discount_benefit,
  jrp.cost_spot_usd * :th_ondemand_multiplier AS cost_if_all_ondemand,
  COALESCE(jrp.evx_cost, 0.0) AS eviction_cost_usd,
  jrp.evx_runs AS eviction_failed_runs
FROM job_risk_profile jrp
ORDER BY jrp.risk_score DESC, jrp.cost_spot_usd DESC, jrp.job_id
