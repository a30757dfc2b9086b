-- 005_price_lookup: v_compute_usage with an index-only price lookup.
--
-- Same columns and the same price rule as 004 (workspace cloud preferred to
-- 'ANY'; latest valid_from whose window contains usage_time), but written as
-- two ordered lookups on the sku_prices primary key (sku, cloud, usage_unit,
-- valid_from) instead of one ORDER BY over an expression, so each row costs
-- two index probes and no temporary sort (matters at millions of rows).
DROP VIEW IF EXISTS v_compute_usage;
CREATE VIEW v_compute_usage AS
SELECT b.*,
       COALESCE(
         (SELECT p.price_usd_per_dbu FROM sku_prices p
           WHERE p.sku = b.compute_sku AND p.cloud = b.cloud AND p.usage_unit = 'DBU'
             AND p.valid_from <= b.usage_time
             AND (p.valid_to IS NULL OR b.usage_time < p.valid_to)
           ORDER BY p.valid_from DESC LIMIT 1),
         (SELECT p.price_usd_per_dbu FROM sku_prices p
           WHERE p.sku = b.compute_sku AND p.cloud = 'ANY' AND p.usage_unit = 'DBU'
             AND p.valid_from <= b.usage_time
             AND (p.valid_to IS NULL OR b.usage_time < p.valid_to)
           ORDER BY p.valid_from DESC LIMIT 1)) AS price_usd_per_dbu
FROM (
  SELECT u.compute_usage_id, u.parent_id, u.parent_type, u.compute_sku, u.dbus_consumed,
         u.cluster_id, u.cluster_instance_type, u.total_cost, u.avg_cpu_utilization,
         u.avg_memory_gb, u.peak_concurrent_users, u.is_production, u.usage_date,
         r.job_id, r.job_run_id, r.run_status, r.spot_ratio,
         COALESCE(j.workspace_id, n.workspace_id) AS workspace_id,
         wd.cloud AS cloud,
         CASE WHEN u.parent_type = 'JOB_RUN' AND r.start_time IS NOT NULL THEN r.start_time
              ELSE u.usage_date || ' 00:00:00' END AS usage_time
  FROM compute_usage u
  LEFT JOIN job_runs r ON u.parent_type = 'JOB_RUN' AND r.job_run_id = u.parent_id
  LEFT JOIN jobs j ON j.job_id = r.job_id
  LEFT JOIN non_job_compute n ON u.parent_type <> 'JOB_RUN' AND n.compute_id = u.parent_id
  LEFT JOIN workspace_details wd ON wd.workspace_id = COALESCE(j.workspace_id, n.workspace_id)
) b;
