/* cmd_generate.c — `copilot generate --profile P --seed N --db PATH`.
 * Front end over dl_gen_run: parses options, prints a summary line with
 * row counts and rows/s, publishes data.changed (best effort). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dl_bus.h"
#include "dl_common.h"
#include "dl_gen.h"

static void
s_help (FILE *out)
{
    fprintf (out,
             "usage: copilot generate --profile small|medium|large --seed N --db PATH [--force]\n"
             "                        [--progress]\n"
             "\n"
             "Writes a complete, deterministic synthetic telemetry database: the reference schema,\n"
             "every migration, facts reproducing the reference scenarios (FIN-DAILY cost spike with\n"
             "spot evictions and retries, SUPPLY cascade with SKIPPED runs, ROUTE-OPT eviction\n"
             "cluster, ML-TRAINING regression after a CONFIG_CHANGE, LEGACY-ETL chronic failures,\n"
             "messy tags, configuration drift, ad-hoc query timeouts/kills) and the rollups.\n"
             "Same profile and seed give a byte-identical file.\n"
             "\n"
             "profiles:\n"
             "  small    reference-sized: 1 workspace, the reference's 9 jobs, 45 days\n"
             "  medium   4 workspaces, ~130 jobs, 90 days\n"
             "  large    21 workspaces, ~5,000 jobs, 365 days (>= 2M runs, >= 6M events)\n"
             "\n"
             "options:\n"
             "  --profile P   small | medium | large (required)\n"
             "  --seed N      unsigned 64-bit seed (default 42)\n"
             "  --db PATH     output database (default: $COPILOT_DB_PATH)\n"
             "  --force       replace PATH if it exists\n"
             "  --progress    draw the progress bar even when stderr is not a terminal\n"
             "  -h, --help    this text\n"
             "\n"
             "examples:\n"
             "  copilot generate --profile small --seed 42 --db data/usage.db\n"
             "  copilot generate --profile medium --db /tmp/medium.db --force --progress\n");
}

int
cmd_generate (int argc, char **argv)
{
    const char *profile = NULL, *seed_s = NULL, *db = NULL;
    bool force = false, progress = false;
    cli_opt_t opts[] = {{"profile", &profile, NULL}, {"seed", &seed_s, NULL},
                        {"db", &db, NULL},           {"force", NULL, &force},
                        {"progress", NULL, &progress}, {NULL, NULL, NULL}};
    int rc = cli_parse ("generate", argc, argv, 1, opts, NULL, 0, NULL);
    if (rc == 1) {
        s_help (stdout);
        return CLI_OK;
    }
    if (rc)
        return rc;
    if (!profile) {
        cli_error ("generate", "--profile is required (small, medium or large)");
        return CLI_USAGE;
    }
    if (!dl_gen_profile_known (profile)) {
        cli_error ("generate", "unknown profile '%s' (small, medium or large)", profile);
        return CLI_USAGE;
    }
    uint64_t seed = 42;
    if (seed_s) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull (seed_s, &end, 10);
        if (errno || !end || *end || seed_s[0] == '-' || seed_s[0] == '\0') {
            cli_error ("generate", "--seed '%s' is not an unsigned 64-bit integer", seed_s);
            return CLI_USAGE;
        }
        seed = (uint64_t) v;
    }
    if (!db) {
        const char *env = getenv ("COPILOT_DB_PATH");
        db = env && *env ? env : NULL;
    }
    if (!db) {
        cli_error ("generate", "no database: pass --db PATH or set COPILOT_DB_PATH");
        return CLI_USAGE;
    }
    dl_gen_opts_t o = {.profile = profile, .seed = seed, .db_path = db, .force = force,
                       .progress = progress};
    dl_gen_stats_t st;
    rc = dl_gen_run (&o, &st);
    if (rc)
        return cli_error ("generate", "%s: %s", dl_strerror (rc), dl_last_error ());
    printf ("%s: profile %s seed %llu: %lld workspaces, %lld jobs, %lld runs, %lld usage rows, "
            "%lld events, %lld evictions, %lld queries, %lld config changes over %lld days; "
            "%lld rows in %.1f s (%.0f rows/s)\n",
            db, profile, (unsigned long long) seed, (long long) st.workspaces, (long long) st.jobs,
            (long long) st.job_runs, (long long) st.compute_usage, (long long) st.events,
            (long long) st.evictions, (long long) st.queries, (long long) st.config_changes,
            (long long) st.days, (long long) st.rows_total, st.seconds,
            st.seconds > 0 ? (double) st.rows_total / st.seconds : 0.0);
    dl_bus_publish_data_changed (db, st.data_version, "generate", st.rows_total);
    return CLI_OK;
}
