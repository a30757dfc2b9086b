-- 002_pricing_workspaces: SKU list prices with validity windows, workspace
-- details for several workspaces.
--
-- Cost of a usage row = dbus_consumed x price_usd_per_dbu of the row of
-- sku_prices whose window contains the usage time:
--   valid_from <= t AND (valid_to IS NULL OR t < valid_to)
-- (t = job_runs.start_time for JOB_RUN rows, usage_date || ' 00:00:00'
-- otherwise; see view v_compute_usage in 004).
CREATE TABLE IF NOT EXISTS sku_prices (
    sku                 TEXT NOT NULL,            -- = compute_usage.compute_sku / billing sku_name
    cloud               TEXT NOT NULL DEFAULT 'ANY',  -- 'AWS','AZURE','GCP' or 'ANY'
    usage_unit          TEXT NOT NULL DEFAULT 'DBU',
    price_usd_per_dbu   REAL NOT NULL CHECK (price_usd_per_dbu >= 0),
    currency            TEXT NOT NULL DEFAULT 'USD',
    valid_from          TEXT NOT NULL,            -- 'YYYY-MM-DD HH:MM:SS' inclusive
    valid_to            TEXT,                     -- exclusive; NULL = open (current price)
    source              TEXT NOT NULL DEFAULT 'reference',  -- 'reference','generator','import'
    PRIMARY KEY (sku, cloud, usage_unit, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
CREATE INDEX IF NOT EXISTS idx_sku_prices_lookup ON sku_prices(sku, valid_from);

-- The reference prices every SKU at a flat $0.40 per DBU (seed-copilot §1.4),
-- valid forever: seed one open window for every SKU already in use.
INSERT OR IGNORE INTO sku_prices (sku, cloud, usage_unit, price_usd_per_dbu, currency, valid_from, valid_to, source)
SELECT DISTINCT compute_sku, 'ANY', 'DBU', 0.40, 'USD', '1970-01-01 00:00:00', NULL, 'reference'
FROM compute_usage
WHERE NOT EXISTS (SELECT 1 FROM sku_prices p WHERE p.sku = compute_usage.compute_sku);

-- The reference table `workspace` holds every workspace (one row each); this
-- side table carries what a multi-workspace, multi-region account needs.
CREATE TABLE IF NOT EXISTS workspace_details (
    workspace_id        TEXT PRIMARY KEY,
    cloud               TEXT,                     -- 'AWS','AZURE','GCP'
    region              TEXT,                     -- e.g. 'us-east-1'
    deployment_url      TEXT,                     -- https://<name>.cloud.databricks.com
    FOREIGN KEY (workspace_id) REFERENCES workspace(workspace_id)
);
