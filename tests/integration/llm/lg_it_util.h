/* lg_it_util.h — process and HTTP helpers for the llm-gateway integration
 * tests: spawn a child with its stdout on a pipe and its stderr in a file,
 * wait for its readiness line, stop it, fetch a URL. */
#ifndef LG_IT_UTIL_H
#define LG_IT_UTIL_H
#include <stddef.h>
#include <sys/types.h>

/* Starts argv[0] with `envp_extra` (NAME=VALUE strings, NULL-terminated;
 * added to the current environment), stderr appended to `stderr_path`
 * (NULL = inherit). Waits up to timeout_ms for a stdout line starting with
 * `ready_prefix` and copies it into line[size]. Returns the pid or -1. */
pid_t lg_it_spawn (const char *const *argv, const char *const *envp_extra, const char *stderr_path,
                   const char *ready_prefix, char *line, size_t size, int timeout_ms);
/* Sends `sig`, waits up to timeout_ms, SIGKILLs after that. Returns the exit
 * status (exit code, or 128 + signal) or -1. */
int lg_it_stop (pid_t pid, int sig, int timeout_ms);
/* GET http://127.0.0.1:port/path into a malloc'd string (NULL on failure). */
char *lg_it_get (int port, const char *path);
/* Reads a whole file (malloc'd, NULL on failure). */
char *lg_it_slurp (const char *path);
/* Count of requests the fake provider saw for `model` (-1 on failure). */
long lg_it_fake_count (int port, const char *model);
#endif
