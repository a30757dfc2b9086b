-- anomaly_detection.fast.sql — rollup variant of anomaly_detection.sql (same
-- columns, order and figures). The daily figures come precomputed from
-- rs_anomaly_day (job days with at least one executed run, as the raw
-- usage -> run -> job join, and warehouse / cluster days, each carrying its
-- entity's name and type), the workspace filter from rs_anomaly_entity
-- (sql/refresh/derived.sql).
--
-- Plan: the IN list walks the selected entities in entity_id order and each
-- one's [:from, :to] days are a range seek on rs_anomaly_day's primary key
-- (entity_id, d), so rows leave SQLite already ordered by entity_id,
-- usage_date (no temp b-tree over the ~375,000-row 90-day series of the
-- large profile). Registry guard: rs_rollup_state.anomaly_id_clash = 0.
SELECT s.entity_id, s.entity_name, s.entity_type, s.d AS usage_date, s.total_cost, s.run_count,
       s.avg_duration_mins, s.failure_count, s.avg_spot_ratio
FROM rs_anomaly_day s
WHERE s.entity_id IN (SELECT entity_id FROM rs_anomaly_entity
                      WHERE :workspace IS NULL OR workspace_id = :workspace)
  AND s.d BETWEEN :from AND :to
ORDER BY s.entity_id, s.d
