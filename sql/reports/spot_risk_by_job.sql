-- spot_risk_by_job — Spot Risk & Evictions (reference: src/reports/spot_risk_by_job.py).
--
-- Base join (usage -> run -> job), one row per job, ordered by risk_score
-- DESC, cost_spot_usd DESC (job_id breaks remaining ties). Column names and
-- formulas are the reference's, including
--   risk_score = SUM(cost * spot_ratio) * (1 + :th_risk_eviction_weight * eviction_count)
--              + :th_risk_failure_weight * SUM(cost of FAILED runs)
-- (weights 0.1 and 2 in the registry's thresholds), spot_discount_benefit =
-- cost_spot_usd * :th_spot_discount and cost_if_all_ondemand = cost_spot_usd *
-- :th_ondemand_multiplier.
--
-- Fix (seed-copilot §11.9): the reference's reliability_premium
-- (cost_if_all_ondemand - cost_total_usd, meaningless and mostly negative) is
-- replaced by eviction_cost_usd, the money evictions wasted:
--   an "evicted run" is a run whose usage row carries a SPOT_EVICTION event;
--   a FAILED run is "attributable to an eviction" when it is evicted itself, or
--   when it belongs to the same job and usage_date as an evicted run and starts
--   at or after that day's first evicted run (the failed retries the eviction
--   triggered);
--   eviction_cost_usd = SUM(total_cost) over attributable FAILED runs, and
--   eviction_failed_runs = their count.
-- The successful retry that finally completes the work is not counted: it
-- does the work the evicted attempt would have done anyway.
--
-- Parameters: :from, :to (inclusive usage dates), :workspace (NULL = all),
-- :th_* (registry thresholds).
WITH job_runs_detail AS (
  SELECT
    r.job_run_id,
    r.job_id,
    j.job_name,
    r.run_status,
    r.spot_ratio,
    r.duration_ms,
    r.start_time,
    u.usage_date,
    u.total_cost,
    u.compute_usage_id
  FROM job_runs r
  JOIN jobs j ON j.job_id = r.job_id
  JOIN compute_usage u ON u.parent_id = r.job_run_id
  WHERE u.parent_type = 'JOB_RUN'
    AND u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
ev AS MATERIALIZED (
  -- SPOT_EVICTION events once (events has no index on compute_usage_id);
  -- every use below looks usage rows up by primary key from here
  SELECT e.event_id, e.event_time, e.compute_usage_id
  FROM events e WHERE e.event_type = 'SPOT_EVICTION'
),
evicted AS (
  -- the evicted runs of job_runs_detail, reached by primary keys from ev
  SELECT r.job_id, r.job_run_id, u.usage_date, r.start_time, ev.event_id, ev.event_time
  FROM ev JOIN compute_usage u ON u.compute_usage_id = ev.compute_usage_id
  JOIN job_runs r ON r.job_run_id = u.parent_id
  JOIN jobs j ON j.job_id = r.job_id
  WHERE u.parent_type = 'JOB_RUN' AND u.usage_date BETWEEN :from AND :to
    AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
eviction_counts AS (
  SELECT job_id, COUNT(DISTINCT event_id) AS eviction_count,
         COUNT(DISTINCT DATE(event_time)) AS days_with_evictions
  FROM evicted GROUP BY job_id
),
evicted_days AS (
  SELECT job_id, usage_date, MIN(start_time) AS first_evicted_start
  FROM evicted GROUP BY job_id, usage_date
),
eviction_cost AS (
  SELECT
    jrd.job_id,
    SUM(jrd.total_cost) AS eviction_cost_usd,
    COUNT(DISTINCT jrd.job_run_id) AS eviction_failed_runs
  FROM job_runs_detail jrd
  JOIN evicted_days d ON d.job_id = jrd.job_id AND d.usage_date = jrd.usage_date
  WHERE jrd.run_status = 'FAILED' AND jrd.start_time >= d.first_evicted_start
  GROUP BY jrd.job_id
),
job_risk_profile AS (
  SELECT
    jrd.job_id,
    jrd.job_name,
    SUM(jrd.total_cost) AS cost_total_usd,
    SUM(jrd.total_cost * jrd.spot_ratio) AS cost_spot_usd,
    SUM(jrd.total_cost * (1 - jrd.spot_ratio)) AS cost_ondemand_usd,
    AVG(jrd.spot_ratio) AS avg_spot_ratio,
    CAST(100.0 * SUM(jrd.total_cost * jrd.spot_ratio) / NULLIF(SUM(jrd.total_cost), 0) AS REAL) AS spot_cost_pct,
    COUNT(*) AS total_runs,
    SUM(CASE WHEN jrd.run_status = 'FAILED' THEN 1 ELSE 0 END) AS failed_runs,
    CAST(100.0 * SUM(CASE WHEN jrd.run_status = 'FAILED' THEN 1 ELSE 0 END) / NULLIF(COUNT(*), 0) AS REAL)
      AS failure_rate_pct,
    COALESCE(ec.eviction_count, 0) AS eviction_count,
    COALESCE(ec.days_with_evictions, 0) AS days_with_evictions,
    AVG(jrd.duration_ms) / 1000.0 / 60.0 AS avg_duration_mins,
    (SUM(jrd.total_cost * jrd.spot_ratio) * (1 + COALESCE(ec.eviction_count, 0) * :th_risk_eviction_weight)) +
    (SUM(CASE WHEN jrd.run_status = 'FAILED' THEN jrd.total_cost ELSE 0 END) * :th_risk_failure_weight)
      AS risk_score
  FROM job_runs_detail jrd
  LEFT JOIN eviction_counts ec ON ec.job_id = jrd.job_id
  GROUP BY jrd.job_id, jrd.job_name
)
SELECT
  jrp.*,
  jrp.cost_spot_usd * :th_spot_discount AS spot_discount_benefit,
  jrp.cost_spot_usd * :th_ondemand_multiplier AS cost_if_all_ondemand,
  COALESCE(xc.eviction_cost_usd, 0.0) AS eviction_cost_usd,
  COALESCE(xc.eviction_failed_runs, 0) AS eviction_failed_runs
FROM job_risk_profile jrp
LEFT JOIN eviction_cost xc ON xc.job_id = jrp.job_id
ORDER BY jrp.risk_score DESC, jrp.cost_spot_usd DESC, jrp.job_id
