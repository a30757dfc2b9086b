-- 003_jobs_graph: job dependencies, normalized job tags, configuration
-- changes. job_tags is derived (rebuilt from jobs.tags by
-- sql/refresh/derived.sql); the other two are facts written by generators
-- and importers. Dependencies that the reference only states in the job
-- description ("DEPENDS ON: J-X") are also derived by the refresh.
CREATE TABLE IF NOT EXISTS job_dependencies (
    upstream_job_id     TEXT NOT NULL,
    downstream_job_id   TEXT NOT NULL,
    dependency_type     TEXT NOT NULL DEFAULT 'HARD' CHECK (dependency_type IN ('HARD', 'SOFT')),
                                                  -- HARD: downstream is SKIPPED when upstream fails
    source              TEXT NOT NULL DEFAULT 'description',  -- 'description','generator','import'
    PRIMARY KEY (upstream_job_id, downstream_job_id),
    CHECK (upstream_job_id <> downstream_job_id),
    FOREIGN KEY (upstream_job_id) REFERENCES jobs(job_id),
    FOREIGN KEY (downstream_job_id) REFERENCES jobs(job_id)
);
CREATE INDEX IF NOT EXISTS idx_job_dependencies_down ON job_dependencies(downstream_job_id);

CREATE TABLE IF NOT EXISTS job_tags (
    job_id              TEXT NOT NULL,
    tag_key             TEXT NOT NULL,            -- as written, trimmed ('Supply Chain', 'SLA-4hr', 'team')
    tag_value           TEXT,                     -- NULL for a plain (flag) tag; 'fin' for 'team=fin'
    tag_norm            TEXT NOT NULL,            -- lower(tag_key), spaces/underscores -> '-'
    source              TEXT NOT NULL,            -- 'json_array','json_object','text'
    PRIMARY KEY (job_id, tag_key),
    FOREIGN KEY (job_id) REFERENCES jobs(job_id)
);
CREATE INDEX IF NOT EXISTS idx_job_tags_norm ON job_tags(tag_norm);

CREATE TABLE IF NOT EXISTS config_changes (
    change_id           TEXT PRIMARY KEY,         -- 'CHG-{entity}-{YYYYMMDD}-{field}'
    entity_type         TEXT NOT NULL CHECK (entity_type IN ('JOB', 'CLUSTER', 'WAREHOUSE', 'POOL', 'WORKSPACE')),
    entity_id           TEXT NOT NULL,            -- job_id, compute_id, instance_pool_id, ...
    changed_at          TEXT NOT NULL,            -- 'YYYY-MM-DD HH:MM:SS'
    field               TEXT NOT NULL,            -- 'spot_ratio','max_nodes','worker_instance_type',...
    before_value        TEXT,
    after_value         TEXT,
    changed_by          TEXT,                     -- users_lookup.user_id
    event_id            TEXT,                     -- the events row (event_type CONFIG_CHANGE)
    FOREIGN KEY (changed_by) REFERENCES users_lookup(user_id),
    FOREIGN KEY (event_id) REFERENCES events(event_id)
);
CREATE INDEX IF NOT EXISTS idx_config_changes_entity ON config_changes(entity_id, changed_at);
CREATE INDEX IF NOT EXISTS idx_config_changes_time ON config_changes(changed_at);
