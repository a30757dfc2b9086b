/* dl_gen.h — deterministic synthetic telemetry generator.
 *
 * Writes a complete telemetry database (reference schema + migrations +
 * facts + derived tables) reproducing the reference scenarios
 * (seed-copilot.md §1.6-1.7) with the reference's generator bugs fixed
 * (§11.5-11.7). Same profile + seed => byte-identical file. See
 * services/cli/README-generator section in sql/README.md for the rules. */
#ifndef COPILOT_DL_GEN_H
#define COPILOT_DL_GEN_H
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *profile;   /* "small" | "medium" | "large" */
    uint64_t seed;
    const char *db_path;   /* output file */
    bool force;            /* replace an existing file */
    bool progress;         /* draw the progress bar even when stderr is no TTY */
} dl_gen_opts_t;

typedef struct {
    int64_t workspaces, users, jobs, job_runs, compute_usage, events, evictions, queries,
        config_changes, job_dependencies, sku_prices, days;
    int64_t rows_total;     /* all fact rows written */
    double seconds;         /* wall time of the whole run (not written to the DB) */
    int64_t data_version;
} dl_gen_stats_t;

/* Generates into opts->db_path (written to "<path>.partial" then renamed, so
 * the final path only ever holds a complete, consistent file). Returns
 * DL_OK, DL_E_ARG (unknown profile), DL_E_EXISTS (file exists, no force),
 * DL_E_IO, DL_E_SQL; detail in dl_last_error(). `stats` optional. */
int dl_gen_run (const dl_gen_opts_t *opts, dl_gen_stats_t *stats);

/* True when `name` is a known profile. */
bool dl_gen_profile_known (const char *name);

#endif
