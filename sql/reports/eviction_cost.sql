-- eviction_cost — what spot capacity saves versus what evictions cost, per
-- job, with the on-demand counterfactual.
--
-- d = th_spot_discount (spot price = (1 - d) x on-demand price); s = the run's
-- spot_ratio. For each executed run (base join):
--   gross_spot_savings_usd   = SUM(cost x s x d / (1 - d))   (spot portion repriced on demand, minus its cost)
--   eviction_cost_usd        = SUM(cost) over FAILED runs attributable to an eviction
--                              (evicted, or same job/usage_date at or after that day's first
--                              evicted run — the definition of spot_risk_by_job)
--   ondemand_counterfactual_usd = SUM(cost x ((1 - s) + s / (1 - d))) over the runs NOT
--                              attributable to evictions: the same useful work on on-demand
--                              only, without the wasted attempts
--   net_spot_benefit_usd     = ondemand_counterfactual_usd - cost_total_usd
--                              (> 0: spot pays off after its eviction waste)
-- Only jobs that use spot or had evictions. Ordered by eviction cost DESC,
-- then net benefit ASC, job_id.
-- Parameters: :from, :to, :workspace, :th_*.
WITH ev AS MATERIALIZED (
  -- usage rows that carry a SPOT_EVICTION event (events has no index on
  -- compute_usage_id, so collect them once)
  SELECT DISTINCT e.compute_usage_id FROM events e WHERE e.event_type = 'SPOT_EVICTION'
),
d AS (
  SELECT r.job_run_id, r.job_id, j.job_name, r.run_status, r.spot_ratio, r.start_time,
         u.usage_date, u.total_cost, u.compute_usage_id,
         u.compute_usage_id IN (SELECT compute_usage_id FROM ev) AS evicted
  FROM compute_usage u JOIN job_runs r ON r.job_run_id = u.parent_id
  JOIN jobs j ON j.job_id = r.job_id
  WHERE u.parent_type = 'JOB_RUN' AND u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
ev_day AS (
  SELECT job_id, usage_date, MIN(start_time) AS first_evicted FROM d WHERE evicted GROUP BY job_id, usage_date
),
att AS (
  SELECT d.*, CASE WHEN d.run_status = 'FAILED' AND x.first_evicted IS NOT NULL
                     AND d.start_time >= x.first_evicted THEN 1 ELSE 0 END AS wasted
  FROM d LEFT JOIN ev_day x ON x.job_id = d.job_id AND x.usage_date = d.usage_date
),
per_job AS (
  SELECT job_id, job_name,
         SUM(total_cost) AS cost_total_usd,
         SUM(total_cost * spot_ratio) AS cost_spot_usd,
         SUM(evicted) AS evictions,
         SUM(wasted) AS eviction_failed_runs,
         SUM(CASE WHEN wasted = 1 THEN total_cost ELSE 0 END) AS eviction_cost_usd,
         SUM(total_cost * spot_ratio * :th_spot_discount / (1 - :th_spot_discount)) AS gross_spot_savings_usd,
         SUM(CASE WHEN wasted = 0 THEN total_cost * ((1 - spot_ratio) + spot_ratio / (1 - :th_spot_discount)) ELSE 0 END)
           AS ondemand_counterfactual_usd
  FROM att GROUP BY job_id, job_name
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
