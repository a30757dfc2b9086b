-- 006_import: landing ("bronze") rows of Databricks system-table exports and
-- the import-only detail tables the mapping needs. See sql/README.md
-- "Importer". Imported entity ids: Databricks job and run ids are unique per
-- workspace only, so they become '{workspace_id}:{job_id}' / '{workspace_id}:{run_id}';
-- cluster, warehouse, instance and statement ids are kept as they are.

CREATE TABLE IF NOT EXISTS import_batches (
    batch_id            INTEGER PRIMARY KEY,
    source              TEXT NOT NULL,            -- --from DIR or --workspace URL
    started_at          TEXT NOT NULL,
    files               INTEGER NOT NULL DEFAULT 0,
    rows_read           INTEGER NOT NULL DEFAULT 0,
    rows_changed        INTEGER NOT NULL DEFAULT 0   -- new or different landing rows
);

-- One row per source record, keyed by the source's record identity
-- (billing.usage record_id; timeline (workspace, run, period_start); SCD
-- tables (workspace, id, change_time); ...). row_json is the whole record,
-- normalized (timestamps UTC 'YYYY-MM-DD HH:MM:SS', numbers as numbers,
-- struct/map columns as JSON) with every unknown column and struct key kept.
CREATE TABLE IF NOT EXISTS import_rows (
    source              TEXT NOT NULL,            -- 'billing.usage', 'lakeflow.jobs', ...
    record_key          TEXT NOT NULL,
    group_key           TEXT NOT NULL,            -- the derived entity the record feeds
    attr_product        TEXT,                     -- billing.usage: billing_origin_product (inferred from the SKU when absent)
    attr_type           TEXT,                     -- billing.usage: JOB_RUN, SQL_WAREHOUSE, APC_CLUSTER, OTHER
    attr_id             TEXT,                     -- billing.usage: parent id / resource id
    attr_date           TEXT,                     -- billing.usage: usage_date
    row_json            TEXT NOT NULL,
    batch_id            INTEGER NOT NULL,         -- last batch that inserted or changed it
    PRIMARY KEY (source, record_key)
);
CREATE INDEX IF NOT EXISTS idx_import_rows_group ON import_rows(source, group_key);

-- Every billing record attributed per billing_origin_product (all products,
-- including those compute_usage cannot hold), netted over ORIGINAL /
-- RETRACTION / RESTATEMENT and priced at usage time.
CREATE TABLE IF NOT EXISTS usage_attributed (
    group_key           TEXT NOT NULL,            -- import_rows.group_key of its records
    workspace_id        TEXT,
    billing_origin_product TEXT NOT NULL,
    resource_type       TEXT NOT NULL,            -- JOB_RUN, SQL_WAREHOUSE, APC_CLUSTER, OTHER
    resource_id         TEXT NOT NULL,
    usage_date          TEXT NOT NULL,
    sku                 TEXT NOT NULL,
    usage_unit          TEXT NOT NULL,
    quantity            REAL NOT NULL,            -- net of corrections
    cost_usd            REAL,                     -- SUM(quantity x price at usage_start_time); NULL if unpriced
    records             INTEGER NOT NULL,         -- billing records netted (all record types)
    corrections         INTEGER NOT NULL,         -- RETRACTION + RESTATEMENT records among them
    unpriced_records    INTEGER NOT NULL,
    PRIMARY KEY (resource_type, resource_id, usage_date, sku, usage_unit, billing_origin_product)
);
CREATE INDEX IF NOT EXISTS idx_usage_attributed_date ON usage_attributed(usage_date);
CREATE INDEX IF NOT EXISTS idx_usage_attributed_group ON usage_attributed(group_key);

-- Job-run facts the reference job_runs table has no column for.
CREATE TABLE IF NOT EXISTS job_run_details (
    job_run_id          TEXT PRIMARY KEY,         -- = job_runs.job_run_id
    workspace_id        TEXT,
    source_run_id       TEXT,                     -- Databricks run_id
    result_state        TEXT,                     -- raw value (SUCCEEDED, ERROR, TIMED_OUT, CANCELED, ...)
    canonical_status    TEXT,                     -- SUCCESS, FAILED, TIMED_OUT, CANCELLED, SKIPPED, RUNNING
    termination_code    TEXT,
    trigger_type        TEXT,
    run_type            TEXT,
    run_name            TEXT,
    cluster_id          TEXT,                     -- first job cluster of compute_ids (or of a task)
    slices              INTEGER,                  -- hourly timeline rows merged
    retries             INTEGER                   -- result rows - 1 (official sample rule)
);
CREATE INDEX IF NOT EXISTS idx_job_run_details_cluster ON job_run_details(cluster_id);
