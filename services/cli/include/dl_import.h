/* dl_import.h — importer of Databricks system-table exports (CSV with a
 * header, JSON lines) and live pull through the SQL Statement Execution
 * API. See sql/README.md for how source columns map to the schema. */
#ifndef COPILOT_DL_IMPORT_H
#define COPILOT_DL_IMPORT_H
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *dir;            /* --from DIR (exports) */
    const char *workspace_url;  /* --workspace URL (live pull) */
    const char *db_path;
    bool progress;
} dl_import_opts_t;

typedef struct {
    int64_t rows;       /* source rows read */
    int64_t rows_changed; /* new or different landing rows (0: nothing written) */
    int files;
    double seconds;
    int64_t data_version;
} dl_import_stats_t;

/* Imports into db_path (which must be a telemetry DB; migrations are applied
 * first). DL_OK or a DL_E_* code with the detail in dl_last_error(). */
int dl_import_run (const dl_import_opts_t *opts, dl_import_stats_t *stats);

#endif
