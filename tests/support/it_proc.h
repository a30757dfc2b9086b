/* it_proc.h — process harness of the integration tests that run real
 * daemons and keep going after a failed check (explain, reports,
 * graph-service): they count failures, report skipped parts (exit 77) and
 * always clean up. Header-only (static inline); include dir tests/support.
 *
 * Two shapes, because the tests need two:
 *
 *  - A table of named processes (itp_proc_t, at most ITP_MAX_PROCS, in
 *    start order). Each child has its stdout on a non-blocking pipe read by
 *    a line reader (itp_wait_line: READY lines, "READY port=..." of the fake
 *    provider) and its stderr in <itp_dir>/<name>.log (truncated at start).
 *    itp_stop_all stops them in reverse order, checks exit status 0 and
 *    scans every log for sanitizer reports. Set itp_dir before the first
 *    spawn. Used by the explain tests.
 *  - One daemon started as `BIN --endpoint EP`, stdout on a pipe, stderr
 *    inherited (the test's own output): itp_spawn_endpoint,
 *    itp_wait_ready_fd (a line with a given prefix, byte by byte so
 *    nothing after the READY line is consumed), itp_term_wait. Used by the
 *    report-service and graph-service tests.
 *
 * Not ops_proc.h (tests/integration/ops): its checks exit the process on
 * the first failure and it appends to logs, which suits the fault tests but
 * not these. Not rt_proc.h: it has no environment per child, no line reader
 * and no process table. Single-threaded: every function is called from the
 * test's main thread. */
#ifndef IT_PROC_H
#define IT_PROC_H
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "it_files.h"
#include "str.h"

#define ITP_MAX_PROCS 12

typedef struct {
    char name[64];
    bool tool;          /* not a daemon: SIGKILLed by itp_stop_all, status ignored */
    pid_t pid;          /* 0 once reaped */
    int out_fd;         /* read end of the child's stdout (non-blocking) */
    char log[600];      /* <itp_dir>/<name>.log: the child's stderr */
    char outbuf[4096];  /* stdout bytes read but not yet consumed as lines */
    size_t outlen;
} itp_proc_t;

static char itp_dir[256];                       /* logs go here; set before itp_spawn */
static itp_proc_t itp_procs[ITP_MAX_PROCS];     /* in start order */
static int itp_nprocs;

/* True when `path` exists and is executable by its owner. */
static inline bool
itp_is_exec (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0 && (st.st_mode & S_IXUSR);
}

/* Starts argv[0] (argv NULL-terminated, not copied) as the next entry of the
 * table. env_extra: NULL or a NULL-terminated list of "K=V" strings put into
 * the child's environment (they must stay valid until the fork). The child's
 * stdout is a pipe, its stderr <itp_dir>/<name>.log. Returns the entry
 * (owned by the table), or NULL when the table is full or pipe/fork fail. */
static inline itp_proc_t *
itp_spawn (const char *name, char *const argv[], const char *const *env_extra)
{
    if (itp_nprocs >= ITP_MAX_PROCS)
        return NULL;
    itp_proc_t *p = &itp_procs[itp_nprocs];
    memset (p, 0, sizeof *p);
    str_copy (p->name, sizeof p->name, name);
    str_fmt (p->log, sizeof p->log, "%s/%s.log", itp_dir, name);
    int fds[2];
    if (pipe (fds) != 0)
        return NULL;
    pid_t pid = fork ();
    if (pid < 0)
        return NULL;
    if (pid == 0) {
        int lfd = open (p->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2 (fds[1], 1);
        if (lfd >= 0)
            dup2 (lfd, 2);
        close (fds[0]);
        for (size_t i = 0; env_extra && env_extra[i]; i++)
            putenv ((char *) env_extra[i]);
        execv (argv[0], argv);
        fprintf (stderr, "exec %s: %s\n", argv[0], strerror (errno));
        _exit (127);
    }
    close (fds[1]);
    fcntl (fds[0], F_SETFL, O_NONBLOCK);
    p->pid = pid;
    p->out_fd = fds[0];
    itp_nprocs++;
    return p;
}

/* Reads p's stdout until a line starting with `prefix` (lines before it are
 * dropped) or timeout_ms. On a match copies the line, without its newline
 * and truncated to size - 1, into `line` (may be NULL) and returns true.
 * Returns false on timeout, or when the child exited first (then says so
 * on stderr and marks p reaped). */
static inline bool
itp_wait_line (itp_proc_t *p, const char *prefix, int timeout_ms, char *line, size_t size)
{
    int64_t end = clock_mono_ms () + timeout_ms;
    for (;;) {
        char *nl;
        while ((nl = memchr (p->outbuf, '\n', p->outlen)) != NULL) {
            size_t len = (size_t) (nl - p->outbuf);
            bool hit = len >= strlen (prefix) && strncmp (p->outbuf, prefix, strlen (prefix)) == 0;
            if (hit && line) {
                size_t n = len < size - 1 ? len : size - 1;
                memcpy (line, p->outbuf, n);
                line[n] = '\0';
            }
            memmove (p->outbuf, nl + 1, p->outlen - len - 1);
            p->outlen -= len + 1;
            if (hit)
                return true;
        }
        int64_t left = end - clock_mono_ms ();
        if (left <= 0)
            return false;
        struct pollfd pfd = {.fd = p->out_fd, .events = POLLIN};
        int r = poll (&pfd, 1, (int) (left > 200 ? 200 : left));
        if (r > 0) {
            if (p->outlen >= sizeof p->outbuf - 1)
                p->outlen = 0;
            ssize_t n = read (p->out_fd, p->outbuf + p->outlen, sizeof p->outbuf - 1 - p->outlen);
            if (n == 0) {
                int st;
                if (waitpid (p->pid, &st, WNOHANG) == p->pid) {
                    fprintf (stderr, "%s exited before '%s' (status %d)\n", p->name, prefix,
                             WIFEXITED (st) ? WEXITSTATUS (st) : -1);
                    p->pid = 0;
                    return false;
                }
                clock_sleep_ms (50);
            } else if (n > 0)
                p->outlen += (size_t) n;
        }
    }
}

/* Starts <bin_dir>/<bin> (no arguments) under the name `bin` and waits up
 * to timeout_ms for its "READY " line, which it echoes as "started ...".
 * Returns the entry, or NULL: silently when it could not be spawned, with a
 * FAIL line and *failures incremented when it printed no READY line. */
static inline itp_proc_t *
itp_start_daemon (const char *bin_dir, const char *bin, const char *const *env_extra, int timeout_ms,
                  int *failures)
{
    char path[700];
    str_fmt (path, sizeof path, "%s/%s", bin_dir, bin);
    char *argv[] = {path, NULL};
    itp_proc_t *p = itp_spawn (bin, argv, env_extra);
    if (!p)
        return NULL;
    char line[512];
    if (!itp_wait_line (p, "READY ", timeout_ms, line, sizeof line)) {
        fprintf (stderr, "FAIL: %s did not print READY (log %s)\n", bin, p->log);
        (*failures)++;
        return NULL;
    }
    fprintf (stderr, "started %s: %s\n", bin, line);
    return p;
}

/* SIGTERM, then waits up to 15 s (SIGKILL after that). Returns the exit
 * code, -1 when p is NULL or already reaped, killed by a signal, or had to
 * be SIGKILLed. Marks p reaped and closes its stdout pipe. */
static inline int
itp_stop (itp_proc_t *p)
{
    if (!p || p->pid <= 0)
        return -1;
    kill (p->pid, SIGTERM);
    int64_t end = clock_mono_ms () + 15000;
    int st = 0;
    for (;;) {
        pid_t r = waitpid (p->pid, &st, WNOHANG);
        if (r == p->pid)
            break;
        if (clock_mono_ms () > end) {
            kill (p->pid, SIGKILL);
            waitpid (p->pid, &st, 0);
            p->pid = 0;
            return -1;
        }
        clock_sleep_ms (20);
    }
    p->pid = 0;
    close (p->out_fd);
    return WIFEXITED (st) ? WEXITSTATUS (st) : -1;
}

/* Stops every process still running, newest first: tools are SIGKILLed,
 * daemons go through itp_stop and must exit 0. Then scans every log for
 * AddressSanitizer / UBSan reports. Each problem prints a FAIL line and
 * increments *failures; when *failures is non-zero after that, the last
 * 3000 bytes of every log are printed. */
static inline void
itp_stop_all (int *failures)
{
    for (int i = itp_nprocs - 1; i >= 0; i--) {
        itp_proc_t *p = &itp_procs[i];
        if (p->pid <= 0)
            continue;
        if (p->tool) {
            kill (p->pid, SIGKILL);
            waitpid (p->pid, NULL, 0);
            p->pid = 0;
            continue;
        }
        int rc = itp_stop (p);
        if (rc != 0) {
            fprintf (stderr, "FAIL %s:%d: rc == 0: %s exited with %d (log %s)\n", __FILE__, __LINE__, p->name,
                     rc, p->log);
            (*failures)++;
        }
    }
    for (int i = 0; i < itp_nprocs; i++) {
        char *log = itf_slurp (itp_procs[i].log);
        if (!log)
            continue;
        if (strstr (log, "ERROR: AddressSanitizer") || strstr (log, "runtime error:")) {
            fprintf (stderr, "FAIL %s:%d: sanitizer report in %s\n", __FILE__, __LINE__, itp_procs[i].log);
            (*failures)++;
        }
        if (*failures) {
            size_t n = strlen (log);
            fprintf (stderr, "---- %s (last 3000 bytes) ----\n%s\n", itp_procs[i].name, n > 3000 ? log + n - 3000 : log);
        }
        free (log);
    }
}

/* ------------------------------------------------ one daemon, one pipe -- */

/* Starts `bin --endpoint endpoint` with its stdout on a pipe whose read end
 * is stored in *out_fd (the caller closes it); stderr is inherited. Returns
 * the pid, or -1 when the pipe or the fork fails. */
static inline pid_t
itp_spawn_endpoint (const char *bin, const char *endpoint, int *out_fd)
{
    int p[2];
    if (pipe (p) != 0)
        return -1;
    pid_t pid = fork ();
    if (pid == 0) {
        dup2 (p[1], 1);
        close (p[0]);
        close (p[1]);
        execl (bin, bin, "--endpoint", endpoint, (char *) NULL);
        _exit (127);
    }
    close (p[1]);
    *out_fd = p[0];
    return pid;
}

/* Reads fd one byte at a time until a line starting with `prefix` (true) or
 * timeout_ms, EOF or a read error (false). Lines longer than 511 bytes are
 * cut; nothing after the matching line is consumed. */
static inline bool
itp_wait_ready_fd (int fd, const char *prefix, int timeout_ms)
{
    char line[512];
    size_t n = 0;
    size_t plen = strlen (prefix);
    int64_t end = clock_mono_ms () + timeout_ms;
    while (clock_mono_ms () < end) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll (&pfd, 1, 100) <= 0)
            continue;
        char c;
        if (read (fd, &c, 1) != 1)
            return false;
        if (c == '\n') {
            line[n] = '\0';
            if (strncmp (line, prefix, plen) == 0)
                return true;
            n = 0;
        } else if (n + 1 < sizeof line) {
            line[n++] = c;
        }
    }
    return false;
}

/* SIGTERM to pid, then a blocking wait. Returns the exit code, 128 + the
 * signal number when it was killed, or -1 when waitpid fails. */
static inline int
itp_term_wait (pid_t pid)
{
    int status = 0;
    kill (pid, SIGTERM);
    if (waitpid (pid, &status, 0) != pid)
        return -1;
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
}

#endif
