/* main.c — the `copilot` command-line tool: a table of commands, each
 * implemented in src/cmd_<name>.c as `int cmd_<name> (int argc, char **argv)`.
 *
 * The table is the X-macro CLI_COMMANDS below; adding a command is ONE line
 * there (see cli.h). main() dispatches on argv[1]; `copilot`, `copilot
 * --help` and `copilot help` list the commands; `copilot help <cmd>` is
 * `copilot <cmd> --help`. Exit codes: 0 ok, 1 failure, 2 usage error. */
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
        if (!c) {
            fprintf (stderr, "copilot: unknown command '%s'\n\n", argv[2]);
            s_usage (stderr);
            return CLI_USAGE;
        }
        char help[] = "--help";
        char *hargv[] = {argv[2], help, NULL};
        return c->run (2, hargv);
    }
    const cli_command_t *c = s_find (name);
    if (!c) {
        fprintf (stderr, "copilot: unknown command '%s'\n\n", name);
        s_usage (stderr);
        return CLI_USAGE;
    }
    return c->run (argc - 1, argv + 1);
}
