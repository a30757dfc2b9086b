/* cli.h — shared pieces of the `copilot` command-line tool.
 *
 * Adding a command: write src/cmd_<name>.c defining
 *     int cmd_<name> (int argc, char **argv);
 * (argv[0] is "<name>"; return 0 on success, 1 on failure, 2 on usage
 * error; print your own --help) and add ONE line
 *     X (<name>, "<one-line summary>")
 * to CLI_COMMANDS in main.c. CMake picks up every src/cmd_*.c. */
#ifndef COPILOT_CLI_H
#define COPILOT_CLI_H
#include <stdbool.h>
#include <stdio.h>

/* Exit codes of every command. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* One option: "--name VALUE" / "--name=VALUE" when `value` is set, a flag
 * ("--name") when `flag` is set. Parsed values point into argv. */
typedef struct {
    const char *name;     /* without the leading "--" */
    const char **value;   /* receives the argument (string option) */
    bool *flag;           /* set to true when present (flag option) */
} cli_opt_t;

/* Parses argv[first..argc) against `opts` (terminated by {NULL}).
 * Positional arguments go to pos[] (up to max_pos; *npos receives the
 * count). "-h"/"--help" anywhere returns 1 without error. Unknown options,
 * missing values and too many positionals print "copilot <cmd>: <reason>"
 * on stderr and return CLI_USAGE. 0 on success. */
int cli_parse (const char *cmd, int argc, char **argv, int first, const cli_opt_t *opts,
               const char **pos, int max_pos, int *npos);

/* Prints "copilot <cmd>: <message>" on stderr; returns CLI_FAIL. */
int cli_error (const char *cmd, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#endif
