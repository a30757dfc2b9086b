-- 001_bookkeeping: migration ledger and the data version every writer bumps.
--
-- schema_migrations has one row per applied file of sql/migrations/. The
-- runner (dl_schema.c) applies a file and inserts its row in one
-- transaction, so a file is applied exactly once; the statements are also
-- written idempotently so a replay would be harmless.
CREATE TABLE IF NOT EXISTS schema_migrations (
    version             INTEGER PRIMARY KEY,      -- numeric prefix of the file (1, 2, ...)
    name                TEXT NOT NULL,            -- file name without .sql, e.g. '001_bookkeeping'
    applied_at          TEXT NOT NULL             -- 'YYYY-MM-DD HH:MM:SS' UTC (generator: fixed)
);

-- Exactly one row (id = 1). Readers cache on (version, updated_at).
CREATE TABLE IF NOT EXISTS data_version (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    version             INTEGER NOT NULL DEFAULT 0,   -- +1 on every committed data change
    writer              TEXT,                         -- 'migrate', 'generate', 'import', ...
    detail              TEXT,                         -- e.g. 'profile=small seed=42'
    updated_at          TEXT                          -- 'YYYY-MM-DD HH:MM:SS' UTC (generator: fixed)
);
INSERT OR IGNORE INTO data_version (id, version, writer, detail, updated_at)
VALUES (1, 0, NULL, NULL, NULL);
