-- 008_report_runtime_index: job_runs(job_id, run_status, duration_ms) for
-- the report-service (owner): reliability_scorecard's rollup variant counts
-- one job's successful runs slower than its SLA with an index range instead
-- of a scan of every run, and EntityFacts reads one job's successful run
-- durations (runtime trend) from it.
CREATE INDEX IF NOT EXISTS idx_job_runs_job_status_dur ON job_runs(job_id, run_status, duration_ms);
