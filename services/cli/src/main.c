/* main.c — the `copilot` command-line tool: a table of commands, each
 * implemented in src/cmd_<name>.c as `int cmd_<name> (int argc, char **argv)`.
 *
 * The table is the X-macro CLI_COMMANDS below; adding a command is ONE line
 * there (see cli.h). main() dispatches on argv[1]; `copilot`, `copilot
 * --help` and `copilot help` list the commands; `copilot help <cmd>` is
 * `copilot <cmd> --help`. An unknown command is answered with the closest
 * command name when it looks like a typo (edit distance, s_closest).
 * Exit codes: 0 ok, 1 failure, 2 usage error. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* X (name, summary) — one line per command, in display order. */
#define CLI_COMMANDS(X)                                                                       \
    X (db, "Create, migrate, refresh and inspect the telemetry database")                     \
    X (generate, "Generate deterministic synthetic telemetry (profiles small|medium|large)")  \
    X (import, "Import Databricks system-table exports (CSV / JSON lines) into the database") \
    X (graph, "Show the usage graph around a node: ranked subgraph, neighbours, paths")   \
    X (reports, "List the report registry grouped by pillar (status, id, title)")           \
    X (report, "Run a report, list the registry, or show one entity's facts (local --db or daemon)") \
    X (index, "Build the retrieval index (telemetry, docs, runbooks; FAISS + FTS5)")         \
    X (search, "Hybrid search over the retrieval index or a running retrieval router") \
    X (crawl, "Crawl documentation (sitemap + URL prefix) into knowledge-base notes for index") \
    X (events, "Tail the event bus: alerts, commentary, data changes (gaps on stderr)")   \
    X (explain, "Explain a report selection by chip or question (asks the running prompt-builder)") \
    X (up, "Start every daemon under a supervisor; prints url= and token= when ready")    \
    X (status, "Show each daemon's health, pid, uptime and restarts")                      \
    X (down, "Stop everything 'copilot up' started, gracefully")                           \
    X (ping, "Ping one daemon (health check): exit 0 when it answers and is ready")          \
    X (keygen, "Print a new CURVE keypair (Z85) for encrypted, authenticated daemons")

#define CLI_DECLARE(name, summary) int cmd_##name (int argc, char **argv);
CLI_COMMANDS (CLI_DECLARE)

typedef struct {
    const char *name;
    const char *summary;
    int (*run) (int argc, char **argv);
} cli_command_t;

#define CLI_ENTRY(name, summary) {#name, summary, cmd_##name},
static const cli_command_t s_commands[] = {CLI_COMMANDS (CLI_ENTRY){NULL, NULL, NULL}};

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: copilot <command> [options]\n"
             "\n"
             "Usage Copilot " COPILOT_VERSION " — Databricks usage, cost and reliability copilot.\n"
             "\n"
             "commands:\n");
    for (const cli_command_t *c = s_commands; c->name; c++)
        fprintf (out, "  %-12s %s\n", c->name, c->summary);
    fprintf (out,
             "\n"
             "Run 'copilot <command> --help' (or 'copilot help <command>') for the options of a\n"
             "command. Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static const cli_command_t *
s_find (const char *name)
{
    for (const cli_command_t *c = s_commands; c->name; c++)
        if (strcmp (c->name, name) == 0)
            return c;
    return NULL;
}

/* Optimal string alignment distance (Levenshtein plus adjacent
 * transpositions, so "reprots" is 1 from "reports"), bytes compared as is.
 * Names longer than 31 bytes are never close to a command. */
static int
s_distance (const char *a, const char *b)
{
    enum { N = 32 };
    size_t la = strlen (a), lb = strlen (b);
    if (la >= N || lb >= N)
        return N;
    int d[N][N];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int) i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int) j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1];
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

/* The command closest to `name` when it is a plausible typo (distance 1, or
 * 2 for names of 5+ bytes; ties go to the first in table order), else the
 * only command `name` (2+ bytes) is a prefix of, else NULL. */
static const char *
s_closest (const char *name)
{
    const char *best = NULL, *prefix_of = NULL;
    int best_d = strlen (name) >= 5 ? 2 : 1, prefixes = 0;
    for (const cli_command_t *c = s_commands; c->name; c++) {
        int d = s_distance (name, c->name);
        if (d <= best_d && (!best || d < best_d)) {
            best = c->name;
            best_d = d;
        }
        if (strlen (name) >= 2 && strncmp (c->name, name, strlen (name)) == 0) {
            prefix_of = c->name;
            prefixes++;
        }
    }
    return best ? best : prefixes == 1 ? prefix_of : NULL;
}

/* "copilot: unknown command 'x' (did you mean 'y'?)" and the command list,
 * on stderr; returns CLI_USAGE. */
static int
s_unknown (const char *name)
{
    const char *guess = s_closest (name);
    if (guess)
        fprintf (stderr, "copilot: unknown command '%s' (did you mean '%s'?)\n\n", name, guess);
    else
        fprintf (stderr, "copilot: unknown command '%s'\n\n", name);
    s_usage (stderr);
    return CLI_USAGE;
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        s_usage (stderr);
        return CLI_USAGE;
    }
    const char *name = argv[1];
    if (strcmp (name, "--help") == 0 || strcmp (name, "-h") == 0) {
        s_usage (stdout);
        return CLI_OK;
    }
    if (strcmp (name, "--version") == 0 || strcmp (name, "version") == 0) {
        printf ("copilot %s\n", COPILOT_VERSION);
        return CLI_OK;
    }
    if (strcmp (name, "help") == 0) {
        if (argc < 3) {
            s_usage (stdout);
            return CLI_OK;
        }
        const cli_command_t *c = s_find (argv[2]);
        if (!c)
            return s_unknown (argv[2]);
        char help[] = "--help";
        char *hargv[] = {argv[2], help, NULL};
        return c->run (2, hargv);
    }
    const cli_command_t *c = s_find (name);
    if (!c)
        return s_unknown (name);
    return c->run (argc - 1, argv + 1);
}
