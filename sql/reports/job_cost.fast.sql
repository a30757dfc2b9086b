-- job_cost.fast.sql — rollup variant of job_cost.sql (same columns, order
-- and figures; job_cost.sql stays the definition). Used by rs_engine only
-- when the rs_* rollups are current and exact (see sql/refresh/derived.sql).
--
-- Window decomposition (used by every *.fast.sql over the job rollups):
-- whole calendar months inside [:from, :to] come from rs_job_month (~12
-- rows per job for a year); the partial month at the start is ONE
-- rest-of-month row per job (rs_job_rtm at the job's first day >= :from),
-- the partial month at the end ONE month-to-date row (rs_job_mtd at the
-- last day <= :to), each found by a primary-key probe per job; a window
-- inside a single month reads its days from rs_job_day (day_to = '' empties
-- that range scan otherwise: a constant condition beside the range would
-- still walk the whole index). Exact for any
-- from/to: every day of the window is counted once, nothing is subtracted.
WITH
-- @include window_split.inc.sql
b AS (
  SELECT job_id, runs, ok_runs, failed_runs, skipped_runs, cost, cost_spot, cost_od, dbus, dur_sum, dur_n,
         cpu_sum, cpu_n, mem_max, spot_sum, spot_n
  FROM rs_job_all WHERE (SELECT covers_all FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, runs, ok_runs, failed_runs, skipped_runs, cost, cost_spot, cost_od, dbus, dur_sum, dur_n,
         cpu_sum, cpu_n, mem_max, spot_sum, spot_n
  FROM rs_job_month WHERE m >= (SELECT fm FROM w) AND m <= (SELECT lm FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, runs, ok_runs, failed_runs, skipped_runs, cost, cost_spot, cost_od, dbus, dur_sum, dur_n,
         cpu_sum, cpu_n, mem_max, spot_sum, spot_n
  FROM rs_job_day WHERE d >= :from AND d <= (SELECT day_to FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.runs, x.ok_runs, x.failed_runs, x.skipped_runs, x.cost, x.cost_spot, x.cost_od, x.dbus, x.dur_sum, x.dur_n, x.cpu_sum, x.cpu_n, x.mem_max, x.spot_sum, x.spot_n
  FROM jobs j CROSS JOIN rs_job_rtm x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MIN(y.d) FROM rs_job_rtm y
               WHERE y.job_id = j.job_id AND y.d >= :from AND y.d < (SELECT fm FROM w))
  WHERE (SELECT has_head FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
  UNION ALL
  SELECT x.job_id, x.runs, x.ok_runs, x.failed_runs, x.skipped_runs, x.cost, x.cost_spot, x.cost_od, x.dbus, x.dur_sum, x.dur_n, x.cpu_sum, x.cpu_n, x.mem_max, x.spot_sum, x.spot_n
  FROM jobs j CROSS JOIN rs_job_mtd x
    ON x.job_id = j.job_id
   AND x.d = (SELECT MAX(y.d) FROM rs_job_mtd y
               WHERE y.job_id = j.job_id AND y.d >= date(:to, 'start of month') AND y.d <= :to)
  WHERE (SELECT has_tail FROM w) AND (:workspace IS NULL OR j.workspace_id = :workspace)
),
agg AS (
  SELECT job_id,
    COALESCE(SUM(cost), 0.0) AS cost_total_usd,
    COALESCE(SUM(cost_spot), 0.0) AS cost_spot_usd,
    COALESCE(SUM(cost_od), 0.0) AS cost_ondemand_usd,
    SUM(runs) AS total_runs,
    SUM(ok_runs) AS success_runs,
    SUM(failed_runs) AS failed_runs,
    SUM(skipped_runs) AS skipped_runs,
    CAST(SUM(dur_sum) AS REAL) / NULLIF(SUM(dur_n), 0) / 1000.0 / 60.0 AS avg_duration_mins,
    CAST(SUM(cpu_sum) AS REAL) / NULLIF(SUM(cpu_n), 0) AS avg_cpu_utilization,
    MAX(mem_max) AS max_memory_gb,
    CAST(SUM(spot_sum) AS REAL) / NULLIF(SUM(spot_n), 0) AS avg_spot_ratio,
    COALESCE(SUM(dbus), 0.0) AS total_dbus,
    CASE WHEN SUM(dbus) > 0 THEN SUM(cost) / SUM(dbus) ELSE 0 END AS cost_per_dbu
  FROM b GROUP BY job_id
),
job_summary AS (
  SELECT a.job_id, j.job_name, j.workspace_id, a.cost_total_usd, a.cost_spot_usd, a.cost_ondemand_usd,
         a.total_runs, a.success_runs, a.failed_runs, a.skipped_runs, a.avg_duration_mins,
         a.avg_cpu_utilization, a.max_memory_gb, a.avg_spot_ratio, a.total_dbus, a.cost_per_dbu
  FROM agg a JOIN jobs j ON j.job_id = a.job_id
)
SELECT
  s.*,
  CAST(100.0 * s.success_runs / NULLIF(s.total_runs, 0) AS REAL) AS success_rate_pct,
  CAST(100.0 * s.failed_runs / NULLIF(s.total_runs, 0) AS REAL) AS failure_rate_pct,
  SUM(s.cost_total_usd) OVER () AS grand_total_cost,
  CAST(100.0 * s.cost_total_usd / NULLIF(SUM(s.cost_total_usd) OVER (), 0) AS REAL) AS pct_of_total_cost
FROM job_summary s
ORDER BY s.cost_total_usd DESC, s.job_id
