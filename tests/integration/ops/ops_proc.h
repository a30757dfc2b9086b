/* ops_proc.h — process harness shared by the ops integration tests
 * (integration.curve, integration.faults.*): a temp dir, child processes
 * with stdout on a pipe (READY lines) and stderr in <dir>/<name>.log, exit
 * waits, log greps, and a CHECK macro that dumps every log, kills what is
 * left and exits 1. Header-only (static inline) so each test is one file. */
#ifndef OPS_PROC_H
#define OPS_PROC_H
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "env.h"
#include "str.h"

#define OPS_MAX_PROCS 16

typedef struct {
    char name[64];
    pid_t pid;
    int out_fd;
    char log_path[700];
    char endpoint[256];
    int exit_status;   /* -1 while running */
} ops_proc_t;

static char ops__dir[512];
static ops_proc_t ops__procs[OPS_MAX_PROCS];
static int ops__n;
static bool ops__keep;

static inline const char *ops_dir (void) { return ops__dir; }
static inline int ops_nprocs (void) { return ops__n; }
static inline ops_proc_t *ops_proc (int i) { return &ops__procs[i]; }

static inline void ops_dump_file (const char *title, const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return;
    fprintf (stderr, "----- %s (%s) -----\n", title, path);
    char line[4096];
    int n = 0;
    while (fgets (line, sizeof line, f))
        n++;
    rewind (f);
    int skip = n > 60 ? n - 60 : 0;   /* the last 60 lines are what matters */
    while (fgets (line, sizeof line, f))
        if (skip-- <= 0)
            fputs (line, stderr);
    fclose (f);
}

static inline void ops_dump_logs (void)
{
    for (int i = 0; i < ops__n; i++)
        ops_dump_file (ops__procs[i].name, ops__procs[i].log_path);
}

static inline void ops_kill_all (void)
{
    for (int i = 0; i < ops__n; i++)
        if (ops__procs[i].pid > 0 && ops__procs[i].exit_status < 0) {
            kill (ops__procs[i].pid, SIGKILL);
            waitpid (ops__procs[i].pid, NULL, 0);
            ops__procs[i].exit_status = 137;
        }
}

static inline void ops_finish (void)
{
    ops_kill_all ();
    char cmd[600];
    if (!ops__keep && ops__dir[0] && str_fmt (cmd, sizeof cmd, "rm -rf '%s'", ops__dir) == 0
        && system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", ops__dir);
    ops__dir[0] = '\0';
}

/* Hook for tests that own more cleanup (e.g. a supervisor): runs on failure. */
static void (*ops__on_fail) (void);

#define OPS_CHECK(cond, ...)                                                     \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf (stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf (stderr, __VA_ARGS__);                                       \
            fprintf (stderr, "\n");                                              \
            ops_dump_logs ();                                                    \
            if (ops__on_fail)                                                    \
                ops__on_fail ();                                                 \
            ops__keep = getenv ("OPS_KEEP") != NULL;                             \
            ops_finish ();                                                       \
            exit (1);                                                            \
        }                                                                        \
    } while (0)

static inline void ops_init (const char *name)
{
    char tmpl[256];
    const char *tmp = getenv ("TMPDIR");
    /* ipc:// paths are limited to 107 bytes: keep the dir short. */
    str_fmt (tmpl, sizeof tmpl, "%s/ops-%s-XXXXXX", tmp && strlen (tmp) < 40 ? tmp : "/tmp", name);
    if (!mkdtemp (tmpl)) {
        fprintf (stderr, "mkdtemp: %s\n", strerror (errno));
        exit (1);
    }
    str_copy (ops__dir, sizeof ops__dir, tmpl);
    signal (SIGPIPE, SIG_IGN);
}

/* Starts argv[0]; stdout on a pipe, stderr appended to <dir>/<name>.log. */
static inline ops_proc_t *ops_spawn (const char *name, char *const argv[])
{
    OPS_CHECK (ops__n < OPS_MAX_PROCS, "too many processes");
    ops_proc_t *p = &ops__procs[ops__n++];
    memset (p, 0, sizeof *p);
    str_copy (p->name, sizeof p->name, name);
    p->exit_status = -1;
    str_fmt (p->log_path, sizeof p->log_path, "%s/%s.log", ops__dir, name);
    int fds[2];
    OPS_CHECK (pipe (fds) == 0, "pipe: %s", strerror (errno));
    pid_t pid = fork ();
    OPS_CHECK (pid >= 0, "fork: %s", strerror (errno));
    if (pid == 0) {
        int err = open (p->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (err < 0 || dup2 (fds[1], 1) < 0 || dup2 (err, 2) < 0)
            _exit (127);
        close (fds[0]);
        close (fds[1]);
        close (err);
        execv (argv[0], argv);
        _exit (127);
    }
    close (fds[1]);
    fcntl (fds[0], F_SETFD, FD_CLOEXEC);
    p->pid = pid;
    p->out_fd = fds[0];
    return p;
}

/* Reads the child's stdout until "READY <name> <endpoint>"; keeps the endpoint. */
static inline void ops_wait_ready (ops_proc_t *p, int timeout_ms)
{
    char buf[1024];
    size_t n = 0;
    int64_t end = clock_mono_ms () + timeout_ms;
    for (;;) {
        buf[n] = '\0';
        char *r = strstr (buf, "READY ");
        char *nl = r ? strchr (r, '\n') : NULL;
        if (nl) {
            *nl = '\0';
            const char *sp = strchr (r + 6, ' ');
            str_copy (p->endpoint, sizeof p->endpoint, sp ? sp + 1 : "");
            return;
        }
        int64_t left = end - clock_mono_ms ();
        OPS_CHECK (left > 0 && n < sizeof buf - 1, "%s not READY within %d ms", p->name, timeout_ms);
        struct pollfd pf = {.fd = p->out_fd, .events = POLLIN};
        int rc = poll (&pf, 1, (int) left);
        if (rc < 0 && errno == EINTR)
            continue;
        OPS_CHECK (rc > 0, "%s not READY within %d ms", p->name, timeout_ms);
        ssize_t got = read (p->out_fd, buf + n, sizeof buf - 1 - n);
        OPS_CHECK (got > 0, "%s closed stdout before READY (exited?)", p->name);
        n += (size_t) got;
    }
}

/* Waits for the exit; returns the exit code (128 + signal) or -1 on timeout. */
static inline int ops_wait_exit (ops_proc_t *p, int timeout_ms)
{
    if (p->exit_status >= 0)
        return p->exit_status;
    int64_t end = clock_mono_ms () + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid (p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->exit_status = WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
            if (p->out_fd >= 0) {
                close (p->out_fd);
                p->out_fd = -1;
            }
            return p->exit_status;
        }
        if (clock_mono_ms () >= end)
            return -1;
        clock_sleep_ms (5);
    }
}

/* SIGTERM, wait up to timeout_ms (then SIGKILL and -1). */
static inline int ops_stop (ops_proc_t *p, int timeout_ms)
{
    if (p->exit_status >= 0)
        return p->exit_status;
    kill (p->pid, SIGTERM);
    int rc = ops_wait_exit (p, timeout_ms);
    if (rc < 0) {
        kill (p->pid, SIGKILL);
        ops_wait_exit (p, 5000);
        return -1;
    }
    return rc;
}

static inline bool ops_file_contains (const char *path, const char *needle)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return false;
    char line[8192];
    bool found = false;
    while (!found && fgets (line, sizeof line, f))
        found = strstr (line, needle) != NULL;
    fclose (f);
    return found;
}

static inline bool ops_log_contains (const ops_proc_t *p, const char *needle)
{
    return ops_file_contains (p->log_path, needle);
}

static inline env_t *ops_ping_req (void)
{
    env_t *e = env_new ("ops-test");
    env_set_body (e, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST,
                  env_msg_new (&copilot__v1__ping_request__descriptor));
    return e;
}

#endif
