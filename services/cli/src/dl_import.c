/* dl_import.c — importer of Databricks system-table exports.
 *
 * Not built yet: returns DL_E_UNIMPLEMENTED with a clear message so the CLI
 * reports it honestly. */
#include "dl_import.h"

#include <string.h>

#include "dl_common.h"

int
dl_import_run (const dl_import_opts_t *opts, dl_import_stats_t *stats)
{
    if (stats)
        memset (stats, 0, sizeof *stats);
    if (!opts || !opts->db_path)
        return dl_fail (DL_E_ARG, "no database path");
    return dl_fail (DL_E_UNIMPLEMENTED, "copilot import is not implemented yet");
}
