-- job_cost.fast.sql — rollup variant of job_cost.sql (same columns, order
-- and figures; job_cost.sql stays the definition). Used by rs_engine only
-- when the rs_* rollups are current and exact (see sql/refresh/derived.sql).
--
-- Window decomposition (used by every *.fast.sql over rs_job_day): whole
-- calendar months inside [:from, :to] come from rs_job_month, the days of
-- the partial months at both edges from rs_job_day, so a 365-day window
-- reads ~12 month rows per job plus up to ~60 day rows, and the answer is
-- exact for any from/to.
--   fm = first day of the first whole month, lm = first day of the last
--   whole month; months fm <= m <= lm; head days [:from, min(fm, :to + 1));
--   tail days (max(lm's last day, fm - 1, :from - 1), :to]. Each day range
--   has exactly one lower and one upper bound so SQLite's range scan on the
--   (d, job_id) primary key reads only the edge days.
WITH w AS MATERIALIZED (
  SELECT fm, lm, min(fm, date(:to, '+1 day')) AS head_end,
         max(date(lm, '+1 month', '-1 day'), date(fm, '-1 day'), date(:from, '-1 day')) AS tail_after
  FROM (SELECT CASE WHEN substr(:from, 9, 2) = '01' THEN :from
                    ELSE date(:from, 'start of month', '+1 month') END AS fm,
               CASE WHEN :to = date(:to, 'start of month', '+1 month', '-1 day') THEN date(:to, 'start of month')
                    ELSE date(:to, 'start of month', '-1 month') END AS lm)
),
b AS (
  SELECT job_id, runs, ok_runs, failed_runs, skipped_runs, cost, cost_spot, cost_od, dbus, dur_sum, dur_n,
         cpu_sum, cpu_n, mem_max, spot_sum, spot_n
  FROM rs_job_month WHERE m >= (SELECT fm FROM w) AND m <= (SELECT lm FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, runs, ok_runs, failed_runs, skipped_runs, cost, cost_spot, cost_od, dbus, dur_sum, dur_n,
         cpu_sum, cpu_n, mem_max, spot_sum, spot_n
  FROM rs_job_day WHERE d >= :from AND d < (SELECT head_end FROM w)
    AND (:workspace IS NULL OR workspace_id = :workspace)
  UNION ALL
  SELECT job_id, runs, ok_runs, failed_runs, skipped_runs, cost, cost_spot, cost_od, dbus, dur_sum, dur_n,
         cpu_sum, cpu_n, mem_max, spot_sum, spot_n
  FROM rs_job_day WHERE d > (SELECT tail_after FROM w) AND d <= :to
    AND (:workspace IS NULL OR workspace_id = :workspace)
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
