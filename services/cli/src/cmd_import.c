/* cmd_import.c — `copilot import --from DIR --db PATH` (Databricks
 * system-table exports) and `copilot import --workspace URL` (live pull).
 * Front end over dl_import. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dl_bus.h"
#include "dl_common.h"
#include "dl_import.h"

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot import --from DIR --db PATH [--progress]\n"
             "       copilot import --workspace URL --db PATH\n"
             "\n"
             "Imports Databricks system-table exports into the telemetry database. DIR holds one\n"
             "file per table, CSV with a header (<table>.csv) or JSON lines (<table>.jsonl /\n"
             "<table>.json): billing.usage, billing.list_prices, lakeflow.jobs,\n"
             "lakeflow.job_run_timeline, lakeflow.job_task_run_timeline, compute.clusters,\n"
             "compute.node_timeline, compute.instance_events, compute.warehouses,\n"
             "compute.warehouse_events, query.history (file names use the table name, e.g.\n"
             "billing.usage.csv or billing_usage.jsonl).\n"
             "\n"
             "--workspace pulls the same tables through the SQL Statement Execution API,\n"
             "incrementally from the newest landed row (token: DATABRICKS_TOKEN; warehouse:\n"
             "COPILOT_DATABRICKS_WAREHOUSE_ID). One run is one transaction: a bad row fails it\n"
             "with <file>:<line>: column '<name>': <reason> and nothing is written; re-importing\n"
             "the same data writes nothing. See sql/README.md \"Importer\".\n"
             "\n"
             "options:\n"
             "  --from DIR        directory of exported files\n"
             "  --workspace URL   pull live through the SQL Statement Execution API\n"
             "  --db PATH         telemetry database (default: $COPILOT_DB_PATH)\n"
             "  --progress        progress bar even when stderr is not a terminal\n"
             "  -h, --help        this text\n"
             "\n"
             "examples:\n"
             "  copilot import --from exports/ --db data/usage.db --progress\n");
}

int
cmd_import (int argc, char **argv)
{
    const char *from = NULL, *ws = NULL, *db = NULL;
    bool progress = false;
    cli_opt_t opts[] = {{"from", &from, NULL}, {"workspace", &ws, NULL}, {"db", &db, NULL},
                        {"progress", NULL, &progress}, {NULL, NULL, NULL}};
    int rc = cli_parse ("import", argc, argv, 1, opts, NULL, 0, NULL);
    if (rc == 1) {
        s_help (stdout);
        return CLI_OK;
    }
    if (rc)
        return rc;
    if (!db) {
        const char *env = getenv ("COPILOT_DB_PATH");
        db = env && *env ? env : NULL;
    }
    if (!db || (!from && !ws) || (from && ws)) {
        cli_error ("import", "need --db PATH and exactly one of --from DIR / --workspace URL");
        return CLI_USAGE;
    }
    dl_import_stats_t st;
    dl_import_opts_t o = {.dir = from, .workspace_url = ws, .db_path = db, .progress = progress};
    rc = dl_import_run (&o, &st);
    if (rc)
        return cli_error ("import", "%s: %s", dl_strerror (rc), dl_last_error ());
    printf ("%s: imported %lld rows from %d file(s) in %.1f s; data_version %lld\n", db,
            (long long) st.rows, st.files, st.seconds, (long long) st.data_version);
    dl_bus_publish_data_changed (db, st.data_version, "import", st.rows);
    return CLI_OK;
}
