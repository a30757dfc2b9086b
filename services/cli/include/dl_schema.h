/* dl_schema.h — the telemetry schema: embedded SQL files, migrations,
 * derived-table refresh and the data version (see sql/README.md).
 *
 * All SQL lives in sql/ and is embedded at build time (copilot_embed,
 * prefix dl_sql); names are relative to sql/ ("migrations/004_rollups.sql").
 * Functions take a raw sqlite3 handle owned by the caller; none of them is
 * thread-safe with respect to that handle. */
#ifndef COPILOT_DL_SCHEMA_H
#define COPILOT_DL_SCHEMA_H
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The 11 reference tables, NULL-terminated. */
extern const char *const dl_reference_tables[];

/* Embedded SQL text of `name` (NUL-terminated, static) or NULL. *len_out
 * (optional) receives its size. */
const char *dl_sql_get (const char *name, size_t *len_out);

/* Number of migration files embedded, and the i-th (sorted by name) as its
 * name ("migrations/001_bookkeeping.sql") and numeric version. */
int dl_schema_migration_count (void);
int dl_schema_migration_at (int i, const char **name, int *version);

/* Returns DL_OK when every reference table exists, else DL_E_SCHEMA with the
 * first missing table named in dl_last_error(). */
int dl_schema_check_reference (sqlite3 *db);

typedef enum {
    DL_SCHEMA_INIT = 0,     /* create the reference tables when missing */
    DL_SCHEMA_MIGRATE = 1   /* refuse a database without the reference tables */
} dl_schema_mode_t;

/* Brings `db` to the latest schema: (INIT) creates the reference tables,
 * then applies every migration not yet in schema_migrations, each in its
 * own transaction together with its ledger row. When at least one
 * migration was applied, the last transaction also runs
 * refresh/derived.sql and bumps data_version (writer 'migrate').
 * `applied_at` ('YYYY-MM-DD HH:MM:SS') is written to the ledger and
 * data_version; NULL means the current UTC time. A database that is already
 * current is not written at all. *applied_out (optional) = number applied.
 * Returns DL_OK, DL_E_SCHEMA or DL_E_SQL (the failing migration is rolled
 * back and named in dl_last_error()). The caller must not hold a
 * transaction. */
int dl_schema_apply (sqlite3 *db, dl_schema_mode_t mode, const char *applied_at, int *applied_out);

/* Runs refresh/derived.sql (job_tags, description dependencies, rollups).
 * Call inside the caller's transaction after writing facts. */
int dl_schema_refresh (sqlite3 *db);

/* data_version := version + 1 with writer/detail/updated_at (updated_at NULL
 * = now). Call inside the caller's transaction. *version_out optional. */
int dl_data_version_bump (sqlite3 *db, const char *writer, const char *detail,
                          const char *updated_at, int64_t *version_out);

/* Highest applied migration version (0 when only the reference schema or no
 * ledger), or a negative DL_E_* code. */
int dl_schema_current_version (sqlite3 *db);

#endif
