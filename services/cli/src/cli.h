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

/* ---- talking to the running cluster (cli_bus.c) ---------------------------
 * env_t is Copilot__V1__Envelope (env.h); declared here without the header. */
struct Copilot__V1__Envelope;

/* Resolves the endpoint of daemon `service` ("report-service", or "bus-sub" /
 * "bus-pub" for the event bus) into out: `endpoint` when not NULL; else, when
 * `data_dir` is not NULL, ipc://<data_dir>/run/<service>.sock (the cluster of
 * `copilot up --data-dir DIR`); else the configuration as the daemons read it
 * (svc.h; `config` is an optional file, COPILOT_* environment wins).
 * 0, or CLI_FAIL after printing "copilot <cmd>: <reason>". */
int cli_endpoint (const char *cmd, const char *service, const char *endpoint, const char *data_dir,
                  const char *config, char *out, size_t size);

/* True when `endpoint` is ipc:// and nothing can be listening there: its
 * socket file is missing, or refuses connections (left by a dead daemon). */
bool cli_endpoint_absent (const char *endpoint);

/* One request to daemon `service` at `endpoint` (bus_call; `req` is NOT
 * consumed). On success returns CLI_OK and *reply_out owns a reply whose body
 * case is `expect` (free it with env_free). Otherwise *reply_out is NULL, a
 * message is printed on stderr ("copilot <cmd>: ..." with the daemon's error
 * message, or naming the daemon and endpoint when it could not be reached,
 * nothing listens at its ipc socket, or the reply is unexpected) and the result is
 * CLI_USAGE for an ERROR_INVALID_ARGUMENT reply, CLI_FAIL otherwise. */
int cli_call (const char *cmd, const char *service, const char *endpoint, struct Copilot__V1__Envelope *req,
              int expect, int timeout_ms, struct Copilot__V1__Envelope **reply_out);

#endif
