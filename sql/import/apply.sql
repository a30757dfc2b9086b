-- import/apply.sql: maps landing rows (import_rows) onto the telemetry
-- schema. Run by dl_import.c inside the batch transaction, after landing,
-- with temp.import_touched(source, group_key) holding the entities whose
-- landing rows are new or changed. Only touched entities are rebuilt, each
-- from ALL of its landing rows, so the result does not depend on how the
-- records were split across batches. Rules: databricks-sources.md §4-§5, §9;
-- documented in sql/README.md "Importer".

-- 0. Cross-entity dependencies: a price change re-prices the usage of its
--    SKU; a cluster change re-sizes the runs on it; node metrics refresh
--    the CPU of the cluster's usage.
INSERT OR IGNORE INTO temp.import_touched (source, group_key)
SELECT 'billing.usage', r.group_key FROM import_rows r
WHERE r.source = 'billing.usage'
  AND json_extract(r.row_json, '$.sku_name') IN (
      SELECT json_extract(p.row_json, '$.sku_name') FROM import_rows p
      JOIN temp.import_touched t ON t.source = p.source AND t.group_key = p.group_key
      WHERE p.source = 'billing.list_prices');
INSERT OR IGNORE INTO temp.import_touched (source, group_key)
SELECT 'lakeflow.job_run_timeline', d.job_run_id FROM job_run_details d
WHERE d.cluster_id IN (SELECT group_key FROM temp.import_touched WHERE source = 'compute.clusters');
INSERT OR IGNORE INTO temp.import_touched (source, group_key)
SELECT 'billing.usage', r.group_key FROM import_rows r
WHERE r.source = 'billing.usage' AND r.attr_type = 'APC_CLUSTER'
  AND r.attr_id IN (SELECT group_key FROM temp.import_touched WHERE source IN ('compute.node_timeline', 'compute.clusters'));

-- 1. Workspaces seen in touched rows.
INSERT OR IGNORE INTO workspace (workspace_id, workspace_name, account_id, description)
SELECT ws, 'Workspace ' || ws, MAX(acct), 'Imported from Databricks system tables'
FROM (SELECT json_extract(r.row_json, '$.workspace_id') AS ws, json_extract(r.row_json, '$.account_id') AS acct
      FROM import_rows r JOIN temp.import_touched t ON t.source = r.source AND t.group_key = r.group_key)
WHERE ws IS NOT NULL GROUP BY ws ORDER BY ws;

-- The cloud of each workspace (for the price lookup of v_compute_usage).
INSERT INTO workspace_details (workspace_id, cloud)
SELECT ws, MAX(cloud) FROM (
  SELECT json_extract(r.row_json, '$.workspace_id') AS ws, upper(json_extract(r.row_json, '$.cloud')) AS cloud
  FROM import_rows r JOIN temp.import_touched t ON t.source = r.source AND t.group_key = r.group_key
  WHERE r.source = 'billing.usage')
WHERE ws IS NOT NULL AND cloud IS NOT NULL GROUP BY ws ORDER BY ws
ON CONFLICT (workspace_id) DO UPDATE SET cloud = COALESCE(workspace_details.cloud, excluded.cloud);

-- 2. List prices -> sku_prices (price = pricing.effective_list.default, else pricing.default).
INSERT INTO sku_prices (sku, cloud, usage_unit, price_usd_per_dbu, currency, valid_from, valid_to, source)
SELECT json_extract(j, '$.sku_name'), COALESCE(json_extract(j, '$.cloud'), 'ANY'),
       COALESCE(json_extract(j, '$.usage_unit'), 'DBU'),
       CAST(COALESCE(json_extract(j, '$.pricing.effective_list.default'), json_extract(j, '$.pricing.default'),
                     json_extract(j, '$.price')) AS REAL),
       COALESCE(json_extract(j, '$.currency_code'), 'USD'),
       json_extract(j, '$.price_start_time'), json_extract(j, '$.price_end_time'), 'import'
FROM (SELECT r.row_json AS j FROM import_rows r
      JOIN temp.import_touched t ON t.source = r.source AND t.group_key = r.group_key
      WHERE r.source = 'billing.list_prices' ORDER BY r.record_key)
WHERE true
ON CONFLICT (sku, cloud, usage_unit, valid_from) DO UPDATE SET
    price_usd_per_dbu = excluded.price_usd_per_dbu, currency = excluded.currency,
    valid_to = excluded.valid_to, source = 'import';

-- 3. Jobs: the latest SCD2 row per (workspace, job) by change_time.
INSERT INTO jobs (job_id, workspace_id, job_name, description, tags)
SELECT json_extract(j, '$.workspace_id') || ':' || json_extract(j, '$.job_id'), json_extract(j, '$.workspace_id'),
       COALESCE(NULLIF(json_extract(j, '$.name'), ''), 'job ' || json_extract(j, '$.job_id')),
       NULLIF(trim(COALESCE(json_extract(j, '$.description'), '')
                   || CASE WHEN json_extract(j, '$.delete_time') IS NOT NULL
                           THEN ' [deleted ' || json_extract(j, '$.delete_time') || ']' ELSE '' END), ''),
       CASE WHEN json_type(j, '$.tags') IN ('object', 'array') THEN json_extract(j, '$.tags') END
FROM (SELECT r.row_json AS j,
             ROW_NUMBER () OVER (PARTITION BY r.group_key
                                 ORDER BY json_extract(r.row_json, '$.change_time') DESC, r.record_key DESC) AS rn
      FROM import_rows r JOIN temp.import_touched t ON t.source = r.source AND t.group_key = r.group_key
      WHERE r.source = 'lakeflow.jobs')
WHERE rn = 1
ON CONFLICT (job_id) DO UPDATE SET workspace_id = excluded.workspace_id, job_name = excluded.job_name,
    description = excluded.description, tags = excluded.tags;

-- Latest cluster / warehouse rows (all of them: lookups below need them).
DROP TABLE IF EXISTS temp.imp_cluster;
CREATE TEMP TABLE imp_cluster AS
SELECT group_key AS cluster_id, row_json AS j FROM (
  SELECT group_key, row_json,
         ROW_NUMBER () OVER (PARTITION BY group_key ORDER BY json_extract(row_json, '$.change_time') DESC, record_key DESC) AS rn
  FROM import_rows WHERE source = 'compute.clusters')
WHERE rn = 1;
CREATE UNIQUE INDEX temp.imp_cluster_pk ON imp_cluster(cluster_id);
DROP TABLE IF EXISTS temp.imp_warehouse;
CREATE TEMP TABLE imp_warehouse AS
SELECT group_key AS warehouse_id, row_json AS j FROM (
  SELECT group_key, row_json,
         ROW_NUMBER () OVER (PARTITION BY group_key ORDER BY json_extract(row_json, '$.change_time') DESC, record_key DESC) AS rn
  FROM import_rows WHERE source = 'compute.warehouses')
WHERE rn = 1;
CREATE UNIQUE INDEX temp.imp_warehouse_pk ON imp_warehouse(warehouse_id);

-- 4. All-purpose clusters (not job / pipeline clusters) and 5. warehouses -> non_job_compute.
INSERT INTO non_job_compute (compute_id, compute_name, compute_type, workspace_id)
SELECT c.cluster_id, COALESCE(json_extract(c.j, '$.cluster_name'), c.cluster_id), 'APC_CLUSTER',
       json_extract(c.j, '$.workspace_id')
FROM imp_cluster c
WHERE c.cluster_id IN (SELECT group_key FROM temp.import_touched WHERE source = 'compute.clusters')
  AND upper(COALESCE(json_extract(c.j, '$.cluster_source'), 'UI')) NOT IN ('JOB', 'PIPELINE', 'PIPELINE_MAINTENANCE', 'MODELS', 'SQL')
ORDER BY c.cluster_id
ON CONFLICT (compute_id) DO UPDATE SET compute_name = excluded.compute_name, workspace_id = excluded.workspace_id;
INSERT INTO non_job_compute (compute_id, compute_name, compute_type, workspace_id)
SELECT w.warehouse_id, COALESCE(json_extract(w.j, '$.warehouse_name'), w.warehouse_id), 'SQL_WAREHOUSE',
       json_extract(w.j, '$.workspace_id')
FROM imp_warehouse w
WHERE w.warehouse_id IN (SELECT group_key FROM temp.import_touched WHERE source = 'compute.warehouses')
ORDER BY w.warehouse_id
ON CONFLICT (compute_id) DO UPDATE SET compute_name = excluded.compute_name, workspace_id = excluded.workspace_id;

-- 6. Job runs: hourly slices of job_run_timeline merged per run_id.
DROP TABLE IF EXISTS temp.imp_run_keys;
CREATE TEMP TABLE imp_run_keys AS
SELECT DISTINCT group_key AS g FROM temp.import_touched
WHERE source IN ('lakeflow.job_run_timeline', 'lakeflow.job_task_run_timeline');
DROP TABLE IF EXISTS temp.imp_slices;
CREATE TEMP TABLE imp_slices AS
SELECT r.group_key AS g, json_extract(r.row_json, '$.workspace_id') AS ws, json_extract(r.row_json, '$.job_id') AS job_id,
       json_extract(r.row_json, '$.run_id') AS run_id,
       json_extract(r.row_json, '$.period_start_time') AS ps, json_extract(r.row_json, '$.period_end_time') AS pe,
       NULLIF(json_extract(r.row_json, '$.result_state'), '') AS rs, json_extract(r.row_json, '$.termination_code') AS tc,
       COALESCE(json_extract(r.row_json, '$.compute_ids[0]'), json_extract(r.row_json, '$.compute[0].cluster_id')) AS c0,
       json_extract(r.row_json, '$.trigger_type') AS trig, json_extract(r.row_json, '$.run_type') AS rtype,
       json_extract(r.row_json, '$.run_name') AS rname
FROM import_rows r
WHERE r.source = 'lakeflow.job_run_timeline' AND r.group_key IN (SELECT g FROM imp_run_keys);
CREATE INDEX temp.imp_slices_g ON imp_slices(g, pe);
DROP TABLE IF EXISTS temp.imp_runs;
CREATE TEMP TABLE imp_runs AS
SELECT s.g, MIN(s.ws) AS ws, MIN(s.job_id) AS job_id, MIN(s.run_id) AS run_id, MIN(s.ps) AS st, MAX(s.pe) AS en,
       COUNT(*) AS slices, SUM(s.rs IS NOT NULL) AS results,
       (SELECT s2.rs FROM imp_slices s2 WHERE s2.g = s.g AND s2.rs IS NOT NULL ORDER BY s2.pe DESC, s2.ps DESC LIMIT 1) AS rs,
       (SELECT s2.tc FROM imp_slices s2 WHERE s2.g = s.g AND s2.rs IS NOT NULL ORDER BY s2.pe DESC, s2.ps DESC LIMIT 1) AS tc,
       COALESCE(MIN(s.c0),
                (SELECT MIN(json_extract(t.row_json, '$.compute_ids[0]')) FROM import_rows t
                  WHERE t.source = 'lakeflow.job_task_run_timeline' AND t.group_key = s.g)) AS cluster_id,
       MIN(s.trig) AS trig, MIN(s.rtype) AS rtype, MIN(s.rname) AS rname
FROM imp_slices s GROUP BY s.g;
DROP TABLE IF EXISTS temp.imp_runs2;
CREATE TEMP TABLE imp_runs2 AS
SELECT r.*,
       CASE WHEN r.rs IS NULL THEN 'RUNNING'
            WHEN upper(r.rs) IN ('SUCCEEDED', 'SUCCESS', 'FINISHED', 'SUCCESS_WITH_FAILURES') THEN 'SUCCESS'
            WHEN upper(r.rs) IN ('ERROR', 'FAILED', 'INTERNAL_ERROR') THEN 'FAILED'
            WHEN upper(r.rs) IN ('TIMED_OUT', 'TIMEDOUT') THEN 'TIMED_OUT'
            WHEN upper(r.rs) IN ('CANCELLED', 'CANCELED', 'UPSTREAM_CANCELED') THEN 'CANCELLED'
            WHEN upper(r.rs) IN ('SKIPPED', 'UPSTREAM_FAILED', 'EXCLUDED', 'DISABLED', 'MAXIMUM_CONCURRENT_RUNS_REACHED') THEN 'SKIPPED'
            WHEN upper(r.rs) IN ('PENDING', 'QUEUED', 'RUNNING', 'TERMINATING', 'BLOCKED', 'WAITING', 'WAITING_FOR_RETRY') THEN 'RUNNING'
            ELSE 'FAILED' END AS canon,
       json_extract(c.j, '$.driver_node_type') AS driver, json_extract(c.j, '$.worker_node_type') AS worker,
       json_extract(c.j, '$.worker_count') AS wc, json_extract(c.j, '$.min_autoscale_workers') AS amin,
       json_extract(c.j, '$.max_autoscale_workers') AS amax,
       json_extract(c.j, '$.worker_instance_pool_id') AS pool,
       upper(COALESCE(json_extract(c.j, '$.aws_attributes.availability'), json_extract(c.j, '$.azure_attributes.availability'),
                      CASE WHEN json_extract(c.j, '$.gcp_attributes.use_preemptible_executors') THEN 'PREEMPTIBLE' END,
                      json_extract(c.j, '$.gcp_attributes.availability'), '')) AS avail,
       COALESCE(json_extract(c.j, '$.aws_attributes.first_on_demand'), json_extract(c.j, '$.azure_attributes.first_on_demand'),
                json_extract(c.j, '$.gcp_attributes.first_on_demand'), 1) AS fod
FROM imp_runs r LEFT JOIN imp_cluster c ON c.cluster_id = r.cluster_id;

INSERT OR IGNORE INTO jobs (job_id, workspace_id, job_name)
SELECT DISTINCT ws || ':' || job_id, ws, 'job ' || job_id FROM imp_runs2 ORDER BY 1;
INSERT OR IGNORE INTO instance_pools (instance_pool_id, pool_name, pool_instance_type)
SELECT DISTINCT pool, pool, COALESCE(worker, 'unknown') FROM imp_runs2 WHERE pool IS NOT NULL ORDER BY 1;

INSERT INTO job_runs (job_run_id, job_id, start_time, end_time, duration_ms, run_status, error_summary,
    driver_instance_type, worker_instance_type, is_fleet_cluster, instance_pool_id, min_nodes, max_nodes,
    fixed_nodes, is_autoscaling_enabled, spot_ratio)
SELECT g, ws || ':' || job_id, st,
       CASE WHEN canon = 'RUNNING' THEN NULL ELSE en END,
       CASE WHEN canon = 'RUNNING' THEN NULL ELSE (strftime('%s', en) - strftime('%s', st)) * 1000 END,
       CASE canon WHEN 'SUCCESS' THEN 'SUCCESS' WHEN 'SKIPPED' THEN 'SKIPPED' WHEN 'RUNNING' THEN 'RUNNING' ELSE 'FAILED' END,
       CASE WHEN canon IN ('SUCCESS', 'RUNNING') THEN NULL
            ELSE COALESCE(tc, canon) || ' (' || rs || ')' END,
       driver, worker, CASE WHEN worker LIKE '%fleet%' THEN 1 ELSE 0 END, pool,
       COALESCE(amin, wc), COALESCE(amax, wc), wc, CASE WHEN amax IS NOT NULL THEN 1 ELSE 0 END,
       CASE WHEN (avail LIKE 'SPOT%' OR avail LIKE 'PREEMPTIBLE%') AND COALESCE(amax, wc, 0) > 0
            THEN max(0.0, min(1.0, (COALESCE(amax, wc) - max(fod - 1, 0)) * 1.0 / COALESCE(amax, wc)))
            ELSE 0.0 END
FROM imp_runs2 WHERE true ORDER BY g
ON CONFLICT (job_run_id) DO UPDATE SET job_id = excluded.job_id, start_time = excluded.start_time,
    end_time = excluded.end_time, duration_ms = excluded.duration_ms, run_status = excluded.run_status,
    error_summary = excluded.error_summary, driver_instance_type = excluded.driver_instance_type,
    worker_instance_type = excluded.worker_instance_type, is_fleet_cluster = excluded.is_fleet_cluster,
    instance_pool_id = excluded.instance_pool_id, min_nodes = excluded.min_nodes, max_nodes = excluded.max_nodes,
    fixed_nodes = excluded.fixed_nodes, is_autoscaling_enabled = excluded.is_autoscaling_enabled,
    spot_ratio = excluded.spot_ratio;

INSERT INTO job_run_details (job_run_id, workspace_id, source_run_id, result_state, canonical_status,
    termination_code, trigger_type, run_type, run_name, cluster_id, slices, retries)
SELECT g, ws, run_id, rs, canon, tc, trig, rtype, rname, cluster_id, slices, max(results - 1, 0)
FROM imp_runs2 WHERE true ORDER BY g
ON CONFLICT (job_run_id) DO UPDATE SET workspace_id = excluded.workspace_id, source_run_id = excluded.source_run_id,
    result_state = excluded.result_state, canonical_status = excluded.canonical_status,
    termination_code = excluded.termination_code, trigger_type = excluded.trigger_type,
    run_type = excluded.run_type, run_name = excluded.run_name, cluster_id = excluded.cluster_id,
    slices = excluded.slices, retries = excluded.retries;

-- cluster start / terminate events of imported runs (as the reference writes them)
INSERT INTO events (event_id, compute_usage_id, event_time, event_type, user_id, details, eviction_id)
SELECT 'EVT-START-' || g, g, st, 'CLUSTER_START', NULL,
       'Cluster starting for job: ' || ws || ':' || job_id || ' with ' || COALESCE(COALESCE(amin, wc), '?')
       || ' to ' || COALESCE(COALESCE(amax, wc), '?') || ' nodes', NULL
FROM imp_runs2 WHERE canon <> 'SKIPPED' ORDER BY g
ON CONFLICT (event_id) DO UPDATE SET event_time = excluded.event_time, details = excluded.details;
INSERT INTO events (event_id, compute_usage_id, event_time, event_type, user_id, details, eviction_id)
SELECT 'EVT-END-' || g, g, en, 'CLUSTER_TERMINATE', NULL,
       'Cluster terminated ' || CASE WHEN canon = 'SUCCESS' THEN 'successfully ' ELSE '' END || 'after '
       || CAST(round((strftime('%s', en) - strftime('%s', st)) / 60.0) AS INTEGER) || ' minutes'
       || CASE WHEN canon = 'SUCCESS' THEN '' ELSE ': run ' || lower(canon) || ' (' || COALESCE(tc, rs) || ')' END, NULL
FROM imp_runs2 WHERE canon NOT IN ('SKIPPED', 'RUNNING') ORDER BY g
ON CONFLICT (event_id) DO UPDATE SET event_time = excluded.event_time, details = excluded.details;

-- 7. Evictions. (a) a SPOT/PREEMPTIBLE instance reaching INSTANCE_TERMINATED
--    with a spot/capacity reason, or while a job run on its cluster still had
--    more than a minute to go; (b) a run ending with a spot/capacity
--    termination code and no eviction from (a).
DROP TABLE IF EXISTS temp.imp_spot;
CREATE TEMP TABLE imp_spot AS
SELECT e.*,
       (SELECT d.job_run_id FROM job_run_details d JOIN job_runs jr ON jr.job_run_id = d.job_run_id
         WHERE d.cluster_id = e.cluster_id AND jr.start_time <= e.t
           AND (jr.end_time IS NULL OR jr.end_time > datetime(e.t, '+60 seconds'))
         ORDER BY jr.start_time DESC LIMIT 1) AS run_id
FROM (
  SELECT json_extract(r.row_json, '$.instance_id') AS iid, json_extract(r.row_json, '$.event_time') AS t,
         COALESCE(json_extract(r.row_json, '$.cluster_id'),
                  (SELECT json_extract(p.row_json, '$.cluster_id') FROM import_rows p
                    WHERE p.source = 'compute.instance_events' AND p.group_key = r.group_key
                      AND json_extract(p.row_json, '$.cluster_id') IS NOT NULL
                      AND json_extract(p.row_json, '$.event_time') <= json_extract(r.row_json, '$.event_time')
                    ORDER BY json_extract(p.row_json, '$.event_time') DESC LIMIT 1)) AS cluster_id,
         COALESCE(json_extract(r.row_json, '$.termination_reason'), json_extract(r.row_json, '$.reason'),
                  json_extract(r.row_json, '$.state_reason'), json_extract(r.row_json, '$.termination_code')) AS reason
  FROM import_rows r
  WHERE r.source = 'compute.instance_events'
    AND upper(json_extract(r.row_json, '$.state')) = 'INSTANCE_TERMINATED'
    AND upper(COALESCE(json_extract(r.row_json, '$.availability_type'), '')) IN ('SPOT', 'PREEMPTIBLE')
    AND EXISTS (SELECT 1 FROM temp.import_touched
                WHERE source IN ('compute.instance_events', 'lakeflow.job_run_timeline', 'lakeflow.job_task_run_timeline'))
) e;
DELETE FROM temp.imp_spot
WHERE run_id IS NULL
  AND NOT (upper(COALESCE(reason, '')) LIKE '%SPOT%' OR upper(COALESCE(reason, '')) LIKE '%CAPACITY%'
           OR upper(COALESCE(reason, '')) LIKE '%PREEMPT%' OR upper(COALESCE(reason, '')) LIKE '%STOCKOUT%'
           OR upper(COALESCE(reason, '')) LIKE '%EVICT%');
INSERT INTO eviction_details (eviction_id, cloud_instance_id, eviction_time, cloud_provider_message,
    eviction_reason, spot_price, eviction_action, was_retried)
SELECT 'EVICT-' || iid || '-' || strftime('%Y%m%d%H%M%S', t), iid, t,
       COALESCE(reason, 'Spot instance terminated while cluster ' || COALESCE(cluster_id, '?') || ' was running'),
       CASE WHEN upper(COALESCE(reason, '')) LIKE '%PRICE%' OR upper(COALESCE(reason, '')) LIKE '%BID%' THEN 'PRICE_CHANGE'
            WHEN upper(COALESCE(reason, '')) LIKE '%MAINTENANCE%' THEN 'MAINTENANCE'
            WHEN upper(COALESCE(reason, '')) LIKE '%UNREACHABLE%' OR upper(COALESCE(reason, '')) LIKE '%INSTANCE_FAILURE%' THEN 'INSTANCE_FAILURE'
            ELSE 'CAPACITY_CHANGE' END,
       NULL, 'DELETE', COALESCE((SELECT d.retries > 0 FROM job_run_details d WHERE d.job_run_id = s.run_id), 0)
FROM imp_spot s WHERE true ORDER BY 1
ON CONFLICT (eviction_id) DO UPDATE SET cloud_provider_message = excluded.cloud_provider_message,
    eviction_reason = excluded.eviction_reason, was_retried = excluded.was_retried;
INSERT INTO events (event_id, compute_usage_id, event_time, event_type, user_id, details, eviction_id)
SELECT 'EVT-EVICT-' || iid || '-' || strftime('%Y%m%d%H%M%S', t),
       COALESCE(run_id, COALESCE(cluster_id, iid) || ':' || date(t)), t, 'SPOT_EVICTION', NULL,
       'Spot instance evicted: ' || COALESCE(reason, 'instance ' || iid || ' terminated while cluster '
                                                    || COALESCE(cluster_id, '?') || ' was running'),
       'EVICT-' || iid || '-' || strftime('%Y%m%d%H%M%S', t)
FROM imp_spot WHERE true ORDER BY 1
ON CONFLICT (event_id) DO UPDATE SET compute_usage_id = excluded.compute_usage_id, details = excluded.details;
INSERT INTO eviction_details (eviction_id, cloud_instance_id, eviction_time, cloud_provider_message,
    eviction_reason, spot_price, eviction_action, was_retried)
SELECT 'EVICT-' || r.g, COALESCE(r.cluster_id, 'unknown'), r.en, r.tc,
       CASE WHEN upper(r.tc) LIKE '%PRICE%' THEN 'PRICE_CHANGE' ELSE 'CAPACITY_CHANGE' END, NULL, NULL,
       CASE WHEN r.results > 1 THEN 1 ELSE 0 END
FROM imp_runs2 r
WHERE (upper(COALESCE(r.tc, '')) LIKE '%SPOT%' OR upper(COALESCE(r.tc, '')) LIKE '%CAPACITY%'
       OR upper(COALESCE(r.tc, '')) LIKE '%PREEMPT%' OR upper(COALESCE(r.tc, '')) LIKE '%STOCKOUT%'
       OR upper(COALESCE(r.tc, '')) LIKE '%EVICT%')
  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.event_type = 'SPOT_EVICTION' AND e.compute_usage_id = r.g
                  AND e.event_id <> 'EVT-EVICT-' || r.g)
ORDER BY 1
ON CONFLICT (eviction_id) DO UPDATE SET cloud_provider_message = excluded.cloud_provider_message,
    eviction_reason = excluded.eviction_reason, was_retried = excluded.was_retried;
INSERT INTO events (event_id, compute_usage_id, event_time, event_type, user_id, details, eviction_id)
SELECT 'EVT-EVICT-' || substr(d.eviction_id, 7), substr(d.eviction_id, 7), d.eviction_time, 'SPOT_EVICTION', NULL,
       'Spot instance evicted: ' || d.cloud_provider_message, d.eviction_id
FROM eviction_details d JOIN imp_runs2 r ON d.eviction_id = 'EVICT-' || r.g
WHERE true ORDER BY 1
ON CONFLICT (event_id) DO UPDATE SET details = excluded.details;

-- 8. Warehouse events -> events (STARTING = start, STOPPING/STOPPED = terminate, SCALED_* = autoscaling).
INSERT INTO events (event_id, compute_usage_id, event_time, event_type, user_id, details, eviction_id)
SELECT 'WHE-' || wh || '-' || strftime('%Y%m%d%H%M%S', t) || '-' || upper(et), wh || ':' || date(t), t,
       CASE upper(et) WHEN 'SCALED_UP' THEN 'AUTOSCALING' WHEN 'SCALED_DOWN' THEN 'AUTOSCALING'
                      WHEN 'STARTING' THEN 'CLUSTER_START' WHEN 'STOPPING' THEN 'CLUSTER_TERMINATE'
                      WHEN 'STOPPED' THEN 'CLUSTER_TERMINATE' END,
       NULL, 'Warehouse ' || wh || ' ' || upper(et) || COALESCE(' (' || cc || ' clusters)', ''), NULL
FROM (SELECT json_extract(r.row_json, '$.warehouse_id') AS wh, json_extract(r.row_json, '$.event_time') AS t,
             json_extract(r.row_json, '$.event_type') AS et, json_extract(r.row_json, '$.cluster_count') AS cc
      FROM import_rows r JOIN temp.import_touched x ON x.source = r.source AND x.group_key = r.group_key
      WHERE r.source = 'compute.warehouse_events')
WHERE upper(et) IN ('SCALED_UP', 'SCALED_DOWN', 'STARTING', 'STOPPING', 'STOPPED')
ORDER BY 1
ON CONFLICT (event_id) DO UPDATE SET details = excluded.details;

-- 9. Query history -> sql_query_history (warehouse queries; user and warehouse rows created when unknown).
DROP TABLE IF EXISTS temp.imp_q;
CREATE TEMP TABLE imp_q AS
SELECT json_extract(j, '$.statement_id') AS qid, json_extract(j, '$.workspace_id') AS ws,
       json_extract(j, '$.compute.warehouse_id') AS wh,
       COALESCE(json_extract(j, '$.executed_by_user_id'), json_extract(j, '$.executed_by')) AS uid,
       COALESCE(json_extract(j, '$.executed_by'), json_extract(j, '$.executed_by_user_id')) AS uname,
       json_extract(j, '$.start_time') AS st, json_extract(j, '$.end_time') AS en,
       json_extract(j, '$.total_duration_ms') AS dur, json_extract(j, '$.statement_text') AS txt,
       json_extract(j, '$.error_message') AS err, upper(COALESCE(json_extract(j, '$.execution_status'), '')) AS status
FROM (SELECT r.row_json AS j FROM import_rows r
      JOIN temp.import_touched t ON t.source = r.source AND t.group_key = r.group_key
      WHERE r.source = 'query.history')
WHERE json_extract(j, '$.compute.warehouse_id') IS NOT NULL
  AND COALESCE(json_extract(j, '$.executed_by_user_id'), json_extract(j, '$.executed_by')) IS NOT NULL;
INSERT OR IGNORE INTO users_lookup (user_id, name, workspace_id, department)
SELECT uid, MIN(uname), MIN(ws), NULL FROM imp_q GROUP BY uid ORDER BY uid;
INSERT OR IGNORE INTO non_job_compute (compute_id, compute_name, compute_type, workspace_id)
SELECT wh, 'warehouse ' || wh, 'SQL_WAREHOUSE', MIN(ws) FROM imp_q GROUP BY wh ORDER BY wh;
INSERT INTO sql_query_history (query_id, parent_id, user_id, start_time, duration_ms, warehouse_sku, sql_text, error_message)
SELECT q.qid, q.wh, q.uid, q.st,
       COALESCE(q.dur, CASE WHEN q.en IS NOT NULL THEN (strftime('%s', q.en) - strftime('%s', q.st)) * 1000 END),
       'SQLWH-' || replace(COALESCE(json_extract(w.j, '$.warehouse_size'), 'UNKNOWN'), 'X_LARGE', 'XL'),
       q.txt,
       COALESCE(NULLIF(q.err, ''), CASE q.status WHEN 'FAILED' THEN 'Query failed' WHEN 'CANCELED' THEN 'Query cancelled'
                                                 WHEN 'CANCELLED' THEN 'Query cancelled' END)
FROM imp_q q LEFT JOIN imp_warehouse w ON w.warehouse_id = q.wh
WHERE true ORDER BY q.qid
ON CONFLICT (query_id) DO UPDATE SET parent_id = excluded.parent_id, user_id = excluded.user_id,
    start_time = excluded.start_time, duration_ms = excluded.duration_ms, warehouse_sku = excluded.warehouse_sku,
    sql_text = excluded.sql_text, error_message = excluded.error_message;

-- 10. Billing: net every record type per entity, price at usage time, attribute.
INSERT OR IGNORE INTO temp.import_touched (source, group_key)
SELECT 'billing.usage', 'JOB_RUN|' || g FROM imp_run_keys
WHERE EXISTS (SELECT 1 FROM import_rows b WHERE b.source = 'billing.usage' AND b.group_key = 'JOB_RUN|' || imp_run_keys.g);
DELETE FROM usage_attributed
WHERE group_key IN (SELECT group_key FROM temp.import_touched WHERE source = 'billing.usage');
INSERT INTO usage_attributed (group_key, workspace_id, billing_origin_product, resource_type, resource_id,
    usage_date, sku, usage_unit, quantity, cost_usd, records, corrections, unpriced_records)
SELECT g, MIN(ws), product, rtype, rid, d, sku, unit, SUM(q),
       CASE WHEN SUM(price IS NULL) > 0 THEN NULL ELSE SUM(q * price) END,
       COUNT(*), SUM(rt IN ('RETRACTION', 'RESTATEMENT')), SUM(price IS NULL)
FROM (
  SELECT b.*,
         COALESCE(
           (SELECT p.price_usd_per_dbu FROM sku_prices p
             WHERE p.sku = b.sku AND p.cloud = b.cloud AND p.usage_unit = b.unit
               AND p.valid_from <= b.ts AND (p.valid_to IS NULL OR b.ts < p.valid_to)
             ORDER BY p.valid_from DESC LIMIT 1),
           (SELECT p.price_usd_per_dbu FROM sku_prices p
             WHERE p.sku = b.sku AND p.cloud = 'ANY' AND p.usage_unit = b.unit
               AND p.valid_from <= b.ts AND (p.valid_to IS NULL OR b.ts < p.valid_to)
             ORDER BY p.valid_from DESC LIMIT 1)) AS price
  FROM (SELECT r.group_key AS g, json_extract(r.row_json, '$.workspace_id') AS ws, r.attr_product AS product,
               r.attr_type AS rtype, r.attr_id AS rid, r.attr_date AS d,
               json_extract(r.row_json, '$.sku_name') AS sku,
               COALESCE(json_extract(r.row_json, '$.usage_unit'), 'DBU') AS unit,
               COALESCE(json_extract(r.row_json, '$.cloud'), 'ANY') AS cloud,
               json_extract(r.row_json, '$.usage_start_time') AS ts,
               json_extract(r.row_json, '$.usage_quantity') AS q,
               upper(COALESCE(json_extract(r.row_json, '$.record_type'), 'ORIGINAL')) AS rt
        FROM import_rows r
        JOIN temp.import_touched t ON t.source = r.source AND t.group_key = r.group_key
        WHERE r.source = 'billing.usage') b
)
GROUP BY g, product, rtype, rid, d, sku, unit
ORDER BY g, d, sku;

DELETE FROM compute_usage
WHERE compute_usage_id IN (
  SELECT CASE WHEN group_key LIKE 'JOB_RUN|%' THEN substr(group_key, 9)
              ELSE substr(group_key, instr(group_key, '|') + 1, length(group_key) - instr(group_key, '|') - 11)
                   || ':' || substr(group_key, -10) END
  FROM temp.import_touched
  WHERE source = 'billing.usage' AND (group_key LIKE 'JOB_RUN|%' OR group_key LIKE 'SQL_WAREHOUSE|%' OR group_key LIKE 'APC_CLUSTER|%'));
INSERT INTO compute_usage (compute_usage_id, parent_id, parent_type, compute_sku, dbus_consumed, cluster_id,
    cluster_instance_type, total_cost, avg_cpu_utilization, avg_memory_gb, peak_concurrent_users, is_production, usage_date)
SELECT CASE WHEN u.rtype = 'JOB_RUN' THEN u.rid ELSE u.rid || ':' || u.d END,
       u.rid, u.rtype, u.sku, u.q,
       CASE u.rtype WHEN 'JOB_RUN' THEN (SELECT d.cluster_id FROM job_run_details d WHERE d.job_run_id = u.rid)
                    ELSE u.rid END,
       CASE u.rtype WHEN 'JOB_RUN' THEN (SELECT jr.worker_instance_type FROM job_runs jr WHERE jr.job_run_id = u.rid)
                    WHEN 'APC_CLUSTER' THEN (SELECT json_extract(c.j, '$.worker_node_type') FROM imp_cluster c WHERE c.cluster_id = u.rid)
                    ELSE (SELECT CASE json_extract(w.j, '$.warehouse_size')
                                   WHEN '2X_SMALL' THEN '2XS' WHEN 'X_SMALL' THEN 'XS' WHEN 'SMALL' THEN 'S'
                                   WHEN 'MEDIUM' THEN 'M' WHEN 'LARGE' THEN 'L' WHEN 'X_LARGE' THEN 'XL'
                                   WHEN '2X_LARGE' THEN '2XL' WHEN '3X_LARGE' THEN '3XL' WHEN '4X_LARGE' THEN '4XL'
                                   ELSE json_extract(w.j, '$.warehouse_size') END
                          FROM imp_warehouse w WHERE w.warehouse_id = u.rid) END,
       u.cost,
       (SELECT round(AVG(COALESCE(json_extract(n.row_json, '$.cpu_user_percent'), 0)
                         + COALESCE(json_extract(n.row_json, '$.cpu_system_percent'), 0)) / 100.0, 4)
          FROM import_rows n
         WHERE n.source = 'compute.node_timeline'
           AND n.group_key = CASE u.rtype WHEN 'JOB_RUN' THEN (SELECT d.cluster_id FROM job_run_details d WHERE d.job_run_id = u.rid)
                                          ELSE u.rid END
           AND substr(json_extract(n.row_json, '$.start_time'), 1, 10) = u.d),
       NULL, NULL, 0, u.d
FROM (
  SELECT ua.group_key, ua.resource_type AS rtype, ua.resource_id AS rid, MIN(ua.usage_date) AS d,
         (SELECT u2.sku FROM usage_attributed u2 WHERE u2.group_key = ua.group_key AND u2.usage_unit = 'DBU'
           ORDER BY abs(u2.quantity) DESC, u2.sku LIMIT 1) AS sku,
         SUM(ua.quantity) AS q,
         CASE WHEN SUM(ua.unpriced_records) > 0 THEN NULL ELSE SUM(ua.cost_usd) END AS cost
  FROM usage_attributed ua
  WHERE ua.group_key IN (SELECT group_key FROM temp.import_touched WHERE source = 'billing.usage')
    AND ua.resource_type IN ('JOB_RUN', 'SQL_WAREHOUSE', 'APC_CLUSTER') AND ua.usage_unit = 'DBU'
  GROUP BY ua.group_key, ua.resource_type, ua.resource_id
  HAVING abs(SUM(ua.quantity)) > 1e-12
) u
ORDER BY 1;

DROP TABLE IF EXISTS temp.imp_cluster;
DROP TABLE IF EXISTS temp.imp_warehouse;
DROP TABLE IF EXISTS temp.imp_run_keys;
DROP TABLE IF EXISTS temp.imp_slices;
DROP TABLE IF EXISTS temp.imp_runs;
DROP TABLE IF EXISTS temp.imp_runs2;
DROP TABLE IF EXISTS temp.imp_spot;
DROP TABLE IF EXISTS temp.imp_q;
