-- eviction_cost.fast.sql — rollup variant of eviction_cost.sql (same
-- columns, order and figures): jobs from rs_job_month + edge days of
-- rs_job_day (see job_cost.fast.sql). Per (job, day) the evicted rows
-- (ev_rows), the wasted FAILED runs (evx_runs, evx_cost) and the not-wasted
-- spot / on-demand cost (nw_cost_spot, nw_cost_od) do not depend on the
-- window, so they add up; the per-row counterfactual
-- cost * ((1 - spot) + spot / (1 - k)) is split into those two sums.
WITH
-- @include window_split.inc.sql
b AS (
  SELECT job_id, x_runs, cost, cost_n, cost_spot, ev_rows, evx_runs, evx_cost, nw_cost_od, nw_cost_spot
  FROM rs_job_all WHERE (SELECT covers_all FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, cost, cost_n, cost_spot, ev_rows, evx_runs, evx_cost, nw_cost_od, nw_cost_spot
  FROM rs_job_month WHERE m >= (SELECT fm FROM w) AND m <= (SELECT lm FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, x_runs, cost, cost_n, cost_spot, ev_rows, evx_runs, evx_cost, nw_cost_od, nw_cost_spot
  FROM rs_job_day WHERE d >= :from AND d <= (SELECT day_to FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.cost, x.cost_n, x.cost_spot, x.ev_rows, x.evx_runs, x.evx_cost, x.nw_cost_od, x.nw_cost_spot
  FROM jobs j CROSS JOIN rs_job_rtm x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MIN(y.d) FROM rs_job_rtm y
               WHERE y.job_id = j.job_id AND y.d >= :from AND y.d < (SELECT fm FROM w))
  WHERE (SELECT has_head FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.x_runs, x.cost, x.cost_n, x.cost_spot, x.ev_rows, x.evx_runs, x.evx_cost, x.nw_cost_od, x.nw_cost_spot
  FROM jobs j CROSS JOIN rs_job_mtd x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MAX(y.d) FROM rs_job_mtd y
               WHERE y.job_id = j.job_id AND y.d >= date(:to, 'start of month') AND y.d <= :to)
  WHERE (SELECT has_tail FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
per_job AS (
  SELECT b.job_id, j.job_name,
         CASE WHEN SUM(b.cost_n) > 0 THEN SUM(b.cost) END AS cost_total_usd,
         SUM(b.cost_spot) AS cost_spot_usd,
         SUM(b.ev_rows) AS evictions,
         SUM(b.evx_runs) AS eviction_failed_runs,
         COALESCE(SUM(b.evx_cost), 0) AS eviction_cost_usd,
         SUM(b.cost_spot) * :th_spot_discount / (1 - :th_spot_discount) AS gross_spot_savings_usd,
         COALESCE(SUM(b.nw_cost_od), 0) + COALESCE(SUM(b.nw_cost_spot), 0) / (1 - :th_spot_discount)
           AS ondemand_counterfactual_usd
  FROM b JOIN jobs j ON j.job_id = b.job_id
  GROUP BY b.job_id
  HAVING SUM(b.x_runs) > 0
)
SELECT job_id, job_name, cost_total_usd, cost_spot_usd,
       CAST(100.0 * cost_spot_usd / NULLIF(cost_total_usd, 0) AS REAL) AS spot_cost_pct,
       evictions, eviction_failed_runs, eviction_cost_usd, gross_spot_savings_usd,
       ondemand_counterfactual_usd,
       ondemand_counterfactual_usd - cost_total_usd AS net_spot_benefit_usd,
       CAST(100.0 * eviction_cost_usd / NULLIF(gross_spot_savings_usd, 0) AS REAL) AS waste_to_savings_pct
FROM per_job
WHERE cost_spot_usd > 0 OR evictions > 0
ORDER BY eviction_cost_usd DESC, net_spot_benefit_usd ASC, job_id
