-- 004_rollups: per-job-per-day and per-compute-per-day rollups plus the
-- priced usage view they are built from. Rollups are derived data: every
-- writer rebuilds them with sql/refresh/derived.sql after it commits facts
-- (copilot db migrate, generate and import do this in the same run), so a
-- reader may trust them as long as data_version did not move underneath.

-- Every compute_usage row with its workspace, job, run and price. usage_time
-- is the instant used for the price window: the run start for JOB_RUN rows,
-- midnight of usage_date otherwise. A price row of the workspace's cloud is
-- preferred to a cloud 'ANY' row; among those the latest valid_from wins.
CREATE VIEW IF NOT EXISTS v_compute_usage AS
SELECT b.*,
       (SELECT p.price_usd_per_dbu FROM sku_prices p
         WHERE p.sku = b.compute_sku
           AND p.cloud IN ('ANY', COALESCE(b.cloud, 'ANY'))
           AND p.valid_from <= b.usage_time
           AND (p.valid_to IS NULL OR b.usage_time < p.valid_to)
         ORDER BY (p.cloud = 'ANY'), p.valid_from DESC LIMIT 1) AS price_usd_per_dbu
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

-- One row per (job, day) that has a run starting that day, a usage row
-- dated that day, or a spot eviction that day. Runs are counted from
-- job_runs (SKIPPED runs included: they have no usage row); money, DBUs and
-- CPU come from the job's usage rows.
CREATE TABLE IF NOT EXISTS rollup_job_day (
    job_id              TEXT NOT NULL,
    usage_date          TEXT NOT NULL,            -- 'YYYY-MM-DD' (run start date / usage_date)
    workspace_id        TEXT,
    runs                INTEGER NOT NULL DEFAULT 0,   -- job_runs started that day (all statuses)
    success_runs        INTEGER NOT NULL DEFAULT 0,
    failed_runs         INTEGER NOT NULL DEFAULT 0,
    skipped_runs        INTEGER NOT NULL DEFAULT 0,
    running_runs        INTEGER NOT NULL DEFAULT 0,
    retry_runs          INTEGER NOT NULL DEFAULT 0,   -- runs whose id ends '-Rnn' (retries)
    duration_ms_sum     INTEGER NOT NULL DEFAULT 0,
    usage_rows          INTEGER NOT NULL DEFAULT 0,
    dbus                REAL NOT NULL DEFAULT 0,
    cost_usd            REAL NOT NULL DEFAULT 0,      -- SUM(compute_usage.total_cost) as recorded
    list_cost_usd       REAL,                         -- SUM(dbus x sku_prices price at usage time); NULL if a SKU has no price
    cost_spot_usd       REAL NOT NULL DEFAULT 0,      -- SUM(total_cost x job_runs.spot_ratio)
    cpu_sum             REAL NOT NULL DEFAULT 0,      -- SUM(avg_cpu_utilization); mean = cpu_sum / usage_rows
    evictions           INTEGER NOT NULL DEFAULT 0,   -- SPOT_EVICTION events of the job's runs that day
    PRIMARY KEY (job_id, usage_date)
);
CREATE INDEX IF NOT EXISTS idx_rollup_job_day_date ON rollup_job_day(usage_date);
CREATE INDEX IF NOT EXISTS idx_rollup_job_day_ws ON rollup_job_day(workspace_id, usage_date);

-- One row per (compute, day) over ALL of compute_usage, so the rollup sums
-- to the fact table. For SQL_WAREHOUSE / APC_CLUSTER parent_id is the
-- non_job_compute.compute_id; for JOB_RUN rows (ephemeral job clusters)
-- parent_id is the JOB id (job_runs.job_id), not the run id.
CREATE TABLE IF NOT EXISTS rollup_compute_day (
    parent_id           TEXT NOT NULL,
    parent_type         TEXT NOT NULL CHECK (parent_type IN ('JOB_RUN', 'SQL_WAREHOUSE', 'APC_CLUSTER')),
    usage_date          TEXT NOT NULL,
    workspace_id        TEXT,
    usage_rows          INTEGER NOT NULL DEFAULT 0,
    dbus                REAL NOT NULL DEFAULT 0,
    cost_usd            REAL NOT NULL DEFAULT 0,      -- SUM(total_cost) as recorded
    list_cost_usd       REAL,                         -- SUM(dbus x price at usage time)
    cpu_sum             REAL NOT NULL DEFAULT 0,
    memory_gb_sum       REAL NOT NULL DEFAULT 0,
    peak_users_max      INTEGER,
    is_production       INTEGER NOT NULL DEFAULT 0,   -- MAX(is_production)
    PRIMARY KEY (parent_type, parent_id, usage_date)
);
CREATE INDEX IF NOT EXISTS idx_rollup_compute_day_date ON rollup_compute_day(usage_date);
CREATE INDEX IF NOT EXISTS idx_rollup_compute_day_ws ON rollup_compute_day(workspace_id, usage_date);
