/* cmd_db.c — `copilot db init|migrate|version|refresh`.
 *
 * Thin front end over dl_schema: opens the file, applies the embedded
 * schema/migrations, prints what happened. The database path comes from
 * --db, else the COPILOT_DB_PATH environment variable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "dl_bus.h"
#include "dl_common.h"
#include "dl_schema.h"

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot db <init|migrate|version|refresh> --db PATH\n"
             "\n"
             "  init      create PATH if needed with the reference schema (11 tables) and apply\n"
             "            every migration; safe on an existing telemetry database\n"
             "  migrate   upgrade an existing telemetry database (e.g. the reference fixture) in\n"
             "            place: applies pending migrations from sql/migrations, rebuilds the\n"
             "            derived tables (job_tags, rollups) and bumps data_version; never\n"
             "            changes a row of the reference tables; a second run writes nothing\n"
             "  version   print the applied migrations, the data version and table row counts\n"
             "  refresh   rebuild the derived tables (job_tags, rollups) from the facts and bump\n"
             "            data_version; use after writing facts with another tool\n"
             "\n"
             "options:\n"
             "  --db PATH    telemetry database (default: $COPILOT_DB_PATH)\n"
             "  -h, --help   this text\n"
             "\n"
             "examples:\n"
             "  copilot db migrate --db data/usage.db\n"
             "  copilot db version --db data/usage.db\n");
}

static const char *
s_db_path (const char *opt)
{
    if (opt)
        return opt;
    const char *env = getenv ("COPILOT_DB_PATH");
    return env && *env ? env : NULL;
}

static int
s_latest (void)
{
    int v = 0;
    if (dl_schema_migration_count () > 0)
        dl_schema_migration_at (dl_schema_migration_count () - 1, NULL, &v);
    return v;
}

static int
s_init_or_migrate (const char *path, bool init)
{
    const char *cmd = init ? "db init" : "db migrate";
    struct stat sb;
    if (!init && stat (path, &sb) != 0)
        return cli_error (cmd, "%s does not exist (create a database with `copilot db init --db %s`)",
                          path, path);
    sqlite3 *db = NULL;
    int rc = dl_db_open (path, init, &db);
    if (rc)
        return cli_error (cmd, "%s", dl_last_error ());
    int applied = 0;
    rc = dl_schema_apply (db, init ? DL_SCHEMA_INIT : DL_SCHEMA_MIGRATE, NULL, &applied);
    int64_t version = 0;
    if (!rc)
        dl_query_i64 (db, "SELECT version FROM data_version WHERE id=1", &version);
    sqlite3_close (db);
    if (rc)
        return cli_error (cmd, "%s: %s", dl_strerror (rc), dl_last_error ());
    printf ("%s: schema version %d, %d migration(s) applied, data_version %lld\n", path,
            s_latest (), applied, (long long) version);
    if (applied > 0)
        dl_bus_publish_data_changed (path, version, "migrate", 0);
    return CLI_OK;
}

static int
s_print_rows (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2 (db, sql, -1, &st, NULL) != SQLITE_OK)
        return dl_fail_sql (db, "prepare");
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        int n = sqlite3_column_count (st);
        fputs ("  ", stdout);
        for (int i = 0; i < n; i++) {
            const unsigned char *t = sqlite3_column_text (st, i);
            printf ("%s%s", i ? "  " : "", t ? (const char *) t : "NULL");
        }
        fputc ('\n', stdout);
    }
    sqlite3_finalize (st);
    return rc == SQLITE_DONE ? DL_OK : dl_fail_sql (db, "query");
}

static int
s_version (const char *path)
{
    sqlite3 *db = NULL;
    if (dl_db_open_ro (path, &db))
        return cli_error ("db version", "%s", dl_last_error ());
    int rc = dl_schema_check_reference (db);
    if (rc) {
        sqlite3_close (db);
        return cli_error ("db version", "%s: %s", path, dl_last_error ());
    }
    int cur = dl_schema_current_version (db);
    int latest = s_latest ();
    printf ("database: %s\nschema version: %d (latest known: %d)%s\n", path, cur, latest,
            cur < latest ? " — run `copilot db migrate`" : "");
    if (dl_table_exists (db, "schema_migrations")) {
        printf ("migrations:\n");
        s_print_rows (db, "SELECT version, name, applied_at FROM schema_migrations ORDER BY version");
    }
    if (dl_table_exists (db, "data_version")) {
        printf ("data_version (version, writer, detail, updated_at):\n");
        s_print_rows (db, "SELECT version, COALESCE(writer,'-'), COALESCE(detail,'-'), "
                          "COALESCE(updated_at,'-') FROM data_version");
    }
    printf ("rows:\n");
    for (int i = 0; dl_reference_tables[i]; i++) {
        char sql[128];
        int64_t n = 0;
        snprintf (sql, sizeof sql, "SELECT COUNT(*) FROM %s", dl_reference_tables[i]);
        dl_query_i64 (db, sql, &n);
        printf ("  %-20s %lld\n", dl_reference_tables[i], (long long) n);
    }
    sqlite3_close (db);
    return CLI_OK;
}

static int
s_refresh (const char *path)
{
    sqlite3 *db = NULL;
    if (dl_db_open (path, false, &db))
        return cli_error ("db refresh", "%s", dl_last_error ());
    int64_t version = 0;
    int rc = dl_schema_current_version (db) >= 4 ? DL_OK
                                                 : dl_fail (DL_E_SCHEMA, "run `copilot db migrate` first");
    if (!rc)
        rc = dl_exec (db, "BEGIN IMMEDIATE", "begin");
    if (!rc) {
        rc = dl_schema_refresh (db);
        if (!rc)
            rc = dl_data_version_bump (db, "refresh", NULL, NULL, &version);
        rc = rc ? (dl_exec (db, "ROLLBACK", NULL), rc) : dl_exec (db, "COMMIT", "commit");
    }
    sqlite3_close (db);
    if (rc)
        return cli_error ("db refresh", "%s: %s", dl_strerror (rc), dl_last_error ());
    printf ("%s: derived tables rebuilt, data_version %lld\n", path, (long long) version);
    dl_bus_publish_data_changed (path, version, "refresh", 0);
    return CLI_OK;
}

int
cmd_db (int argc, char **argv)
{
    const char *db = NULL;
    const char *pos[1];
    int npos = 0;
    cli_opt_t opts[] = {{"db", &db, NULL}, {NULL, NULL, NULL}};
    int rc = cli_parse ("db", argc, argv, 1, opts, pos, 1, &npos);
    if (rc == 1) {
        s_help (stdout);
        return CLI_OK;
    }
    if (rc)
        return rc;
    if (npos == 0) {
        fprintf (stderr, "copilot db: missing subcommand\n\n");
        s_help (stderr);
        return CLI_USAGE;
    }
    const char *path = s_db_path (db);
    if (!path) {
        cli_error ("db", "no database: pass --db PATH or set COPILOT_DB_PATH");
        return CLI_USAGE;
    }
    if (strcmp (pos[0], "init") == 0)
        return s_init_or_migrate (path, true);
    if (strcmp (pos[0], "migrate") == 0)
        return s_init_or_migrate (path, false);
    if (strcmp (pos[0], "version") == 0)
        return s_version (path);
    if (strcmp (pos[0], "refresh") == 0)
        return s_refresh (path);
    cli_error ("db", "unknown subcommand '%s' (init, migrate, version, refresh)", pos[0]);
    return CLI_USAGE;
}
