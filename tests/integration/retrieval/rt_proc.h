/* rt_proc.h — process and bus helpers shared by the retrieval pool
 * integration test and the retrieval benchmark: spawn a daemon with its
 * stdout on a pipe and stderr in <dir>/<name>.err, wait for its READY line,
 * stop it with a signal and collect the exit code, scan logs for sanitizer
 * reports, ask the router how many workers it has, read one metric.
 * Header-only (static functions); include once per test program and set
 * rt_proc_dir to the directory for the logs first. */
#ifndef RT_PROC_H
#define RT_PROC_H
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus.h"
#include "clock.h"
#include "env.h"

static char rt_proc_dir[256];

typedef struct {
    pid_t pid;
    int out_fd;
    char name[32];
    char err_path[400];
} proc_t;

static inline int
spawn (proc_t *p, const char *name, const char *bin, char *const argv[])
{
    int fds[2];
    if (pipe (fds) != 0)
        return -1;
    snprintf (p->name, sizeof p->name, "%s", name);
    snprintf (p->err_path, sizeof p->err_path, "%s/%s.err", rt_proc_dir, name);
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2 (fds[1], 1);
        int e = open (p->err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (e >= 0)
            dup2 (e, 2);
        close (fds[0]);
        close (fds[1]);
        execv (bin, argv);
        _exit (127);
    }
    close (fds[1]);
    p->pid = pid;
    p->out_fd = fds[0];
    return 0;
}

/* Waits for a line starting with "READY" on the child's stdout. */
static inline int
wait_ready (proc_t *p, int timeout_ms)
{
    char buf[512];
    size_t n = 0;
    int64_t end = clock_mono_ms () + timeout_ms;
    while (clock_mono_ms () < end) {
        struct pollfd pfd = {p->out_fd, POLLIN, 0};
        int r = poll (&pfd, 1, 100);
        if (r > 0) {
            ssize_t k = read (p->out_fd, buf + n, sizeof buf - 1 - n);
            if (k <= 0)
                return -1;
            n += (size_t) k;
            buf[n] = '\0';
            if (strstr (buf, "READY"))
                return 0;
        }
    }
    return -1;
}

static inline int
stop (proc_t *p, int sig)
{
    if (p->pid <= 0)
        return -1;
    kill (p->pid, sig);
    int st = 0;
    int64_t end = clock_mono_ms () + 10000;
    while (clock_mono_ms () < end) {
        pid_t r = waitpid (p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            close (p->out_fd);
            return WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
        }
        clock_sleep_ms (20);
    }
    kill (p->pid, SIGKILL);
    waitpid (p->pid, &st, 0);
    p->pid = 0;
    return -1;
}

static inline bool
clean_log (const proc_t *p)
{
    FILE *f = fopen (p->err_path, "r");
    if (!f)
        return true;
    char line[4096];
    bool clean = true;
    while (fgets (line, sizeof line, f))
        if (strstr (line, "AddressSanitizer") || strstr (line, "runtime error:") || strstr (line, "LeakSanitizer"))
            clean = false;
    fclose (f);
    return clean;
}

static inline void
dump_log (const proc_t *p)
{
    FILE *f = fopen (p->err_path, "r");
    if (!f)
        return;
    fprintf (stderr, "---- %s stderr ----\n", p->name);
    char line[4096];
    while (fgets (line, sizeof line, f))
        fputs (line, stderr);
    fclose (f);
}

static inline int
ping_workers (const char *ep)
{
    env_t *req = env_new ("test");
    Copilot__V1__PingRequest *pr = env_msg_new (&copilot__v1__ping_request__descriptor);
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, pr);
    env_t *reply = NULL;
    bus_call (ep, req, &reply, 2000);
    env_free (req);
    int n = -1;
    if (reply && reply->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY) {
        const char *d = strstr (reply->ping_reply->detail, "workers ");
        if (d)
            n = (int) strtol (d + 8, NULL, 10);
    }
    env_free (reply);
    return n;
}

static inline double
metric_of (const char *ep, const char *name)
{
    env_t *req = env_new ("test");
    Copilot__V1__MetricsRequest *mr = env_msg_new (&copilot__v1__metrics_request__descriptor);
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_METRICS_REQUEST, mr);
    env_t *reply = NULL;
    bus_call (ep, req, &reply, 2000);
    env_free (req);
    double v = -1;
    if (reply && reply->body_case == COPILOT__V1__ENVELOPE__BODY_METRICS_REPLY) {
        const char *t = reply->metrics_reply->text;
        size_t nl = strlen (name);
        for (const char *p = t; p && *p; p = strchr (p, '\n') ? strchr (p, '\n') + 1 : NULL)
            if (strncmp (p, name, nl) == 0 && (p[nl] == ' ' || p[nl] == '{')) {
                const char *sp = strchr (p, ' ');
                if (sp)
                    v = strtod (sp + 1, NULL);
                break;
            }
    }
    env_free (reply);
    return v;
}

#endif
