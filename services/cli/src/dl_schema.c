/* dl_schema.c — migrations over the embedded sql/ files.
 *
 * Design. The reference schema (schema/000_reference.sql) is written with
 * CREATE ... IF NOT EXISTS, so it is a no-op on the fixture and creates the
 * tables on an empty file. Numbered files under migrations/ are applied in
 * name order; version = the numeric prefix. Each pending migration runs in
 * one BEGIN IMMEDIATE transaction together with its schema_migrations row
 * (plus version 0 '000_reference' the first time), so a crash leaves the
 * database at a migration boundary and a re-run continues from there. The
 * derived tables are rebuilt (refresh/derived.sql) and data_version is
 * bumped inside the LAST pending migration's transaction; when nothing is
 * pending the database is only read, which keeps a second `db migrate`
 * byte-for-byte neutral.
 *
 * Migrations never touch rows of the 11 reference tables; see sql/README.md. */
#include "dl_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dl_common.h"

typedef struct { const char *name; const char *data; size_t size; } dl_sql_file_t;
extern const dl_sql_file_t dl_sql_files[];

const char *const dl_reference_tables[] = {
    "workspace", "users_lookup", "instance_pools", "non_job_compute", "jobs", "job_runs",
    "compute_usage", "events", "eviction_details", "sql_query_history", "date_series", NULL};

#define MAX_MIGRATIONS 64
static const dl_sql_file_t *s_mig[MAX_MIGRATIONS];
static int s_mig_n = -1;

const char *
dl_sql_get (const char *name, size_t *len_out)
{
    for (const dl_sql_file_t *f = dl_sql_files; f->name; f++)
        if (strcmp (f->name, name) == 0) {
            if (len_out)
                *len_out = f->size;
            return f->data;
        }
    return NULL;
}

static int
s_cmp_file (const void *a, const void *b)
{
    const dl_sql_file_t *const *x = a, *const *y = b;
    return strcmp ((*x)->name, (*y)->name);
}

static void
s_collect (void)
{
    if (s_mig_n >= 0)
        return;
    int n = 0;
    for (const dl_sql_file_t *f = dl_sql_files; f->name && n < MAX_MIGRATIONS; f++)
        if (strncmp (f->name, "migrations/", 11) == 0)
            s_mig[n++] = f;
    qsort (s_mig, (size_t) n, sizeof s_mig[0], s_cmp_file);
    s_mig_n = n;
}

static int
s_version_of (const char *name)
{
    const char *base = strrchr (name, '/');
    base = base ? base + 1 : name;
    char *end = NULL;
    long v = strtol (base, &end, 10);
    if (end == base || *end != '_' || v <= 0 || v > 100000)
        return -1;
    return (int) v;
}

int
dl_schema_migration_count (void)
{
    s_collect ();
    return s_mig_n;
}

int
dl_schema_migration_at (int i, const char **name, int *version)
{
    s_collect ();
    if (i < 0 || i >= s_mig_n)
        return DL_E_ARG;
    if (name)
        *name = s_mig[i]->name;
    if (version)
        *version = s_version_of (s_mig[i]->name);
    return DL_OK;
}

int
dl_schema_check_reference (sqlite3 *db)
{
    for (int i = 0; dl_reference_tables[i]; i++)
        if (!dl_table_exists (db, dl_reference_tables[i]))
            return dl_fail (DL_E_SCHEMA,
                            "not a telemetry database: table '%s' is missing (create one with "
                            "`copilot db init`)",
                            dl_reference_tables[i]);
    return DL_OK;
}

int
dl_schema_current_version (sqlite3 *db)
{
    if (!dl_table_exists (db, "schema_migrations"))
        return 0;
    int64_t v = 0;
    int rc = dl_query_i64 (db, "SELECT COALESCE(MAX(version),0) FROM schema_migrations", &v);
    return rc ? rc : (int) v;
}

static bool
s_applied (sqlite3 *db, int version)
{
    if (!dl_table_exists (db, "schema_migrations"))
        return false;
    sqlite3_stmt *st = NULL;
    bool found = false;
    if (sqlite3_prepare_v2 (db, "SELECT 1 FROM schema_migrations WHERE version=?1", -1, &st, NULL)
        != SQLITE_OK)
        return false;
    sqlite3_bind_int (st, 1, version);
    found = sqlite3_step (st) == SQLITE_ROW;
    sqlite3_finalize (st);
    return found;
}

static int
s_ledger (sqlite3 *db, int version, const char *name, const char *applied_at)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (db,
                            "INSERT OR IGNORE INTO schema_migrations (version, name, applied_at) "
                            "VALUES (?1, ?2, ?3)",
                            -1, &st, NULL)
        != SQLITE_OK)
        return dl_fail_sql (db, "prepare ledger insert");
    sqlite3_bind_int (st, 1, version);
    sqlite3_bind_text (st, 2, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (st, 3, applied_at, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (st) == SQLITE_DONE ? DL_OK : dl_fail_sql (db, "ledger insert");
    sqlite3_finalize (st);
    return rc;
}

static void
s_stem (const char *path, char *out, size_t size)
{
    const char *base = strrchr (path, '/');
    base = base ? base + 1 : path;
    snprintf (out, size, "%s", base);
    char *dot = strrchr (out, '.');
    if (dot)
        *dot = '\0';
}

int
dl_schema_refresh (sqlite3 *db)
{
    const char *sql = dl_sql_get ("refresh/derived.sql", NULL);
    if (!sql)
        return dl_fail (DL_E_SCHEMA, "refresh/derived.sql is not embedded");
    return dl_exec (db, sql, "refresh derived tables");
}

int
dl_data_version_bump (sqlite3 *db, const char *writer, const char *detail, const char *updated_at,
                      int64_t *version_out)
{
    char now[20];
    if (!updated_at) {
        dl_now_utc (now, sizeof now);
        updated_at = now;
    }
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (db,
                            "INSERT INTO data_version (id, version, writer, detail, updated_at) "
                            "VALUES (1, 1, ?1, ?2, ?3) ON CONFLICT(id) DO UPDATE SET "
                            "version = version + 1, writer = ?1, detail = ?2, updated_at = ?3",
                            -1, &st, NULL)
        != SQLITE_OK)
        return dl_fail_sql (db, "prepare data_version bump");
    sqlite3_bind_text (st, 1, writer, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (st, 2, detail, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text (st, 3, updated_at, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step (st) == SQLITE_DONE ? DL_OK : dl_fail_sql (db, "data_version bump");
    sqlite3_finalize (st);
    if (rc == DL_OK && version_out)
        rc = dl_query_i64 (db, "SELECT version FROM data_version WHERE id=1", version_out);
    return rc;
}

int
dl_schema_apply (sqlite3 *db, dl_schema_mode_t mode, const char *applied_at, int *applied_out)
{
    char now[20];
    if (applied_out)
        *applied_out = 0;
    if (!applied_at) {
        dl_now_utc (now, sizeof now);
        applied_at = now;
    }
    s_collect ();
    int rc;
    if (mode == DL_SCHEMA_MIGRATE) {
        rc = dl_schema_check_reference (db);
        if (rc)
            return rc;
    } else {
        bool have_all = dl_schema_check_reference (db) == DL_OK;
        dl_clear_error ();
        if (!have_all) {
            const char *ref = dl_sql_get ("schema/000_reference.sql", NULL);
            if (!ref)
                return dl_fail (DL_E_SCHEMA, "schema/000_reference.sql is not embedded");
            if ((rc = dl_exec (db, "BEGIN IMMEDIATE", "begin")))
                return rc;
            if ((rc = dl_exec (db, ref, "apply 000_reference"))) {
                dl_exec (db, "ROLLBACK", NULL);
                return rc;
            }
            if ((rc = dl_exec (db, "COMMIT", "commit 000_reference")))
                return rc;
        }
    }

    /* Pending migrations, in order. */
    int pending[MAX_MIGRATIONS], npending = 0;
    for (int i = 0; i < s_mig_n; i++) {
        int v = s_version_of (s_mig[i]->name);
        if (v < 0)
            return dl_fail (DL_E_SCHEMA, "bad migration file name %s", s_mig[i]->name);
        if (!s_applied (db, v))
            pending[npending++] = i;
    }
    for (int k = 0; k < npending; k++) {
        const dl_sql_file_t *f = s_mig[pending[k]];
        char stem[128], what[160];
        s_stem (f->name, stem, sizeof stem);
        snprintf (what, sizeof what, "apply %s", stem);
        if ((rc = dl_exec (db, "BEGIN IMMEDIATE", "begin")))
            return rc;
        rc = dl_exec (db, f->data, what);
        if (!rc)
            rc = s_ledger (db, 0, "000_reference", applied_at);
        if (!rc)
            rc = s_ledger (db, s_version_of (f->name), stem, applied_at);
        if (!rc && k == npending - 1) {
            rc = dl_schema_refresh (db);
            if (!rc)
                rc = dl_data_version_bump (db, "migrate", stem, applied_at, NULL);
        }
        if (rc) {
            char keep[1024];
            snprintf (keep, sizeof keep, "%s", dl_last_error ());
            dl_exec (db, "ROLLBACK", NULL);
            return dl_fail (rc, "%s", keep);
        }
        if ((rc = dl_exec (db, "COMMIT", "commit migration")))
            return rc;
        if (applied_out)
            (*applied_out)++;
    }
    return DL_OK;
}
