-- 007_report_indexes: indexes for the report-service's keyed reads of facts
-- (owner: report-service). The report rollups themselves (rs_job_day,
-- rs_job_month, rs_job_eviction, rs_type_day, rs_compute_day,
-- rs_rollup_state) are derived tables: refresh/derived.sql drops and
-- re-creates them on every refresh, so they need no migration.
--
-- job_runs(job_id, start_time): EntityFacts of one job (runs, failures,
--   runtime trend, the runs of a day) without a scan of every run.
-- sql_query_history(parent_id, start_time): EntityFacts of one warehouse
--   (named rs_idx_*: the idx_* indexes on the reference tables compute_usage,
--   events, eviction_details and sql_query_history are exactly the
--   reference's, which unit.data.migrate checks).
CREATE INDEX IF NOT EXISTS idx_job_runs_job_start ON job_runs(job_id, start_time);
CREATE INDEX IF NOT EXISTS rs_idx_sql_history_parent ON sql_query_history(parent_id, start_time);
