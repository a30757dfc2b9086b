/* cmd_cluster.c — `copilot up`, `copilot down`, `copilot status`: the local
 * cluster runner.
 *
 * `up` prepares a data directory (demo database from the generator and the
 * retrieval index when absent), then forks a supervisor process (new
 * session, detached from the terminal) that starts every daemon in
 * dependency order:
 *
 *   event-bus → report-service → graph-service → llm-gateway →
 *   retrieval-router → retrieval-service × N → prompt-builder → gateway
 *
 * and waits for each one's "READY <name> <endpoint>" line on its stdout
 * before starting the next (never a sleep). When all are ready the
 * supervisor writes `url=...` and `token=...` to a pipe the parent prints,
 * and the parent exits 0; on a start-up failure the parent prints the reason
 * (and the daemon's log file) and exits 1 after everything was stopped.
 *
 * Supervision: SIGCHLD and SIGTERM reach the supervisor's poll loop through
 * a self-pipe (the handlers only write a byte). A daemon that exits is
 * restarted with exponential back-off (250 ms doubling to 8 s, reset after
 * 30 s of uptime); every restart is counted. SIGTERM to the supervisor
 * (what `copilot down` sends) stops daemons in reverse order: SIGTERM, up to
 * 5 s grace, then SIGKILL.
 *
 * Files under the data directory DIR:
 *   run/            ipc sockets (COPILOT_RUN_DIR), supervisor.pid,
 *                   supervisor.state (one tab-separated line per daemon:
 *                   name pid started_ms restarts state endpoint), http.port
 *   logs/<name>.log each daemon's stderr (JSON lines) and stdout
 *   auth/           the gateway's generated local tokens
 *   usage.db, index/, and the daemons' own state files.
 *
 * The supervisor is single-threaded; it never blocks except while waiting
 * for a (re)started daemon's READY line (bounded by --ready-timeout).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bus.h"
#include "bus_curve.h"
#include "cfg.h"
#include "clock.h"
#include "cli.h"
#include "env.h"
#include "str.h"

#define UP_MAX_DAEMONS 24
#define UP_MAX_REPLICAS 8
#define UP_BACKOFF_MIN_MS 250
#define UP_BACKOFF_MAX_MS 8000
#define UP_HEALTHY_RESET_MS 30000
#define UP_STOP_GRACE_MS 5000

typedef struct {
    char name[64];        /* unique: retrieval-service-2 */
    char bin[PATH_MAX];
    char endpoint[PATH_MAX];
    char extra_arg[PATH_MAX]; /* one extra "--set k=v" argument, or "" */
    pid_t pid;
    int out_fd;           /* read end of the daemon's stdout */
    int log_fd;
    int64_t started_ms;
    int64_t restart_at_ms; /* 0 = not scheduled */
    int64_t backoff_ms;
    int restarts;
    const char *state;    /* starting, ready, restarting, stopped */
} up_daemon_t;

typedef struct {
    char data_dir[PATH_MAX];
    char run_dir[PATH_MAX];
    char log_dir[PATH_MAX];
    char db_path[PATH_MAX];
    char bin_dir[PATH_MAX];
    int http_port;
    int replicas;
    int ready_timeout_ms;
    up_daemon_t d[UP_MAX_DAEMONS];
    int n;
} up_t;

static int s_sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t s_stop;

static void
s_on_signal (int signo)
{
    int saved = errno;
    if (signo == SIGTERM || signo == SIGINT)
        s_stop = 1;
    char b = (char) signo;
    if (s_sig_pipe[1] >= 0) {
        ssize_t w = write (s_sig_pipe[1], &b, 1);
        (void) w;
    }
    errno = saved;
}

/* ---- small helpers ------------------------------------------------------ */

static int
s_mkdir_p (const char *path)
{
    char tmp[PATH_MAX];
    if (str_copy (tmp, sizeof tmp, path) != 0)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir (tmp, 0700) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    }
    if (mkdir (tmp, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

static bool
s_exists (const char *path)
{
    struct stat st;
    return stat (path, &st) == 0;
}

static int
s_abs_path (const char *in, char *out, size_t size)
{
    if (in[0] == '/')
        return str_copy (out, size, in);
    char cwd[PATH_MAX];
    if (!getcwd (cwd, sizeof cwd))
        return -1;
    return str_fmt (out, size, "%s/%s", cwd, in);
}

static int
s_self_dir (char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    char *slash = strrchr (exe, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    return str_copy (out, size, exe);
}

/* Runs `argv` (a copilot sub-command) to completion, output inherited. */
static int
s_run_tool (char *const argv[])
{
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        execv (argv[0], argv);
        fprintf (stderr, "copilot up: cannot run %s: %s\n", argv[0], strerror (errno));
        _exit (127);
    }
    int st;
    while (waitpid (pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
}

static int
s_state_path (const char *run_dir, const char *leaf, char *out, size_t size)
{
    return str_fmt (out, size, "%s/%s", run_dir, leaf);
}

/* Rewrites run/supervisor.state atomically (tmp + rename). */
static void
s_write_state (up_t *up)
{
    char path[PATH_MAX], tmp[PATH_MAX];
    if (s_state_path (up->run_dir, "supervisor.state", path, sizeof path) != 0
        || str_fmt (tmp, sizeof tmp, "%s.tmp", path) != 0)
        return;
    FILE *f = fopen (tmp, "w");
    if (!f)
        return;
    fprintf (f, "# name\tpid\tstarted_ms\trestarts\tstate\tendpoint\n");
    for (int i = 0; i < up->n; i++) {
        up_daemon_t *d = &up->d[i];
        fprintf (f, "%s\t%d\t%lld\t%d\t%s\t%s\n", d->name, (int) d->pid,
                 (long long) d->started_ms, d->restarts, d->state, d->endpoint);
    }
    if (fclose (f) == 0)
        rename (tmp, path);
}

/* ---- daemon start/stop -------------------------------------------------- */

/* Forks and execs one daemon with stdout on a pipe and stderr on its log. */
static int
s_spawn (up_t *up, up_daemon_t *d)
{
    int p[2];
    if (pipe (p) != 0)
        return -1;
    pid_t pid = fork ();
    if (pid < 0) {
        close (p[0]);
        close (p[1]);
        return -1;
    }
    if (pid == 0) {
        dup2 (p[1], STDOUT_FILENO);
        dup2 (d->log_fd, STDERR_FILENO);
        close (p[0]);
        close (p[1]);
        sigset_t none;
        sigemptyset (&none);
        sigprocmask (SIG_SETMASK, &none, NULL);
        signal (SIGTERM, SIG_DFL);
        signal (SIGINT, SIG_DFL);
        signal (SIGCHLD, SIG_DFL);
        char *argv[8];
        int a = 0;
        argv[a++] = d->bin;
        argv[a++] = (char *) "--endpoint";
        argv[a++] = d->endpoint;
        if (d->extra_arg[0]) {
            argv[a++] = (char *) "--set";
            argv[a++] = d->extra_arg;
        }
        argv[a] = NULL;
        execv (d->bin, argv);
        fprintf (stderr, "cannot exec %s: %s\n", d->bin, strerror (errno));
        _exit (127);
    }
    close (p[1]);
    fcntl (p[0], F_SETFD, FD_CLOEXEC);
    d->pid = pid;
    d->out_fd = p[0];
    d->started_ms = clock_wall_ms ();
    d->state = "starting";
    (void) up;
    return 0;
}

/* Appends whatever the daemon wrote on stdout to its log; sets *ready when a
 * READY line was seen. Returns 0, or -1 at EOF. */
static int
s_drain_stdout (up_daemon_t *d, bool *ready)
{
    char buf[4096];
    ssize_t n = read (d->out_fd, buf, sizeof buf - 1);
    if (n <= 0) {
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            return 0;
        return -1;
    }
    buf[n] = '\0';
    ssize_t w = write (d->log_fd, buf, (size_t) n);
    (void) w;
    if (ready && strstr (buf, "READY "))
        *ready = true;
    return 0;
}

/* Waits for the READY line of d (or its exit / the timeout). 0 when ready. */
static int
s_wait_ready (up_t *up, up_daemon_t *d, char *why, size_t why_size)
{
    int64_t deadline = clock_mono_ms () + up->ready_timeout_ms;
    bool ready = false;
    while (!ready) {
        int64_t left = deadline - clock_mono_ms ();
        if (left <= 0) {
            str_fmt (why, why_size, "%s did not report READY within %d ms", d->name,
                     up->ready_timeout_ms);
            /* Never leave a hung, never-ready daemon behind: a restart is
             * only scheduled for a pid of 0, so it would stay stuck. */
            kill (d->pid, SIGKILL);
            waitpid (d->pid, NULL, 0);
            d->pid = 0;
            close (d->out_fd);
            d->out_fd = -1;
            return -1;
        }
        if (s_stop) {
            str_fmt (why, why_size, "interrupted while starting %s", d->name);
            return -1;
        }
        struct pollfd pfd = {.fd = d->out_fd, .events = POLLIN};
        int rc = poll (&pfd, 1, (int) (left < 200 ? left : 200));
        if (rc > 0 && s_drain_stdout (d, &ready) != 0 && !ready) {
            int st = 0;
            waitpid (d->pid, &st, 0);
            d->pid = 0;
            close (d->out_fd);   /* the next start opens a new pipe */
            d->out_fd = -1;
            if (WIFEXITED (st))
                str_fmt (why, why_size, "%s exited with status %d before READY", d->name,
                         WEXITSTATUS (st));
            else
                str_fmt (why, why_size, "%s was killed by signal %d before READY", d->name,
                         WIFSIGNALED (st) ? WTERMSIG (st) : 0);
            return -1;
        }
    }
    d->state = "ready";
    return 0;
}

static void
s_stop_one (up_daemon_t *d)
{
    if (d->pid <= 0)
        return;
    kill (d->pid, SIGTERM);
    int64_t deadline = clock_mono_ms () + UP_STOP_GRACE_MS;
    int st;
    for (;;) {
        pid_t r = waitpid (d->pid, &st, WNOHANG);
        if (r == d->pid || (r < 0 && errno == ECHILD))
            break;
        if (clock_mono_ms () >= deadline) {
            kill (d->pid, SIGKILL);
            waitpid (d->pid, &st, 0);
            break;
        }
        clock_sleep_ms (20);
    }
    d->pid = 0;
    if (d->out_fd >= 0) {
        close (d->out_fd);
        d->out_fd = -1;
    }
    d->state = "stopped";
}

static void
s_stop_all (up_t *up)
{
    for (int i = up->n - 1; i >= 0; i--)
        s_stop_one (&up->d[i]);
}

/* ---- configuration of the daemon set ------------------------------------ */

static int
s_add (up_t *up, const char *name, const char *bin, const char *sock, const char *extra)
{
    if (up->n >= UP_MAX_DAEMONS)
        return -1;
    up_daemon_t *d = &up->d[up->n];
    memset (d, 0, sizeof *d);
    d->out_fd = -1;
    d->log_fd = -1;
    d->backoff_ms = UP_BACKOFF_MIN_MS;
    d->state = "stopped";
    if (str_copy (d->name, sizeof d->name, name) != 0
        || str_fmt (d->bin, sizeof d->bin, "%s/%s", up->bin_dir, bin) != 0
        || str_fmt (d->endpoint, sizeof d->endpoint, "ipc://%s/%s.sock", up->run_dir, sock) != 0
        || str_copy (d->extra_arg, sizeof d->extra_arg, extra ? extra : "") != 0)
        return -1;
    up->n++;
    return 0;
}

static int
s_plan (up_t *up, char *why, size_t why_size)
{
    static const char *const order[] = {"event-bus", "report-service", "graph-service",
                                        "llm-gateway", "retrieval-router"};
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (s_add (up, order[i], order[i], order[i], NULL) != 0)
            return -1;
    for (int r = 1; r <= up->replicas; r++) {
        char name[64], extra[128];
        str_fmt (name, sizeof name, "retrieval-service-%d", r);
        str_fmt (extra, sizeof extra, "retrieval_service.worker_id=replica-%d", r);
        if (s_add (up, name, "retrieval-service", name, extra) != 0)
            return -1;
    }
    if (s_add (up, "prompt-builder", "prompt-builder", "prompt-builder", NULL) != 0
        || s_add (up, "gateway", "gateway", "gateway", NULL) != 0)
        return -1;
    for (int i = 0; i < up->n; i++) {
        if (access (up->d[i].bin, X_OK) != 0) {
            str_fmt (why, why_size, "daemon binary %s is missing (build with 'make build')",
                     up->d[i].bin);
            return -1;
        }
    }
    return 0;
}

/* Environment every daemon inherits (on top of the caller's environment, so
 * LLM keys and COPILOT_* overrides pass through). */
static int
s_export_env (up_t *up)
{
    char v[PATH_MAX];
    if (setenv ("COPILOT_RUN_DIR", up->run_dir, 1) != 0
        || setenv ("COPILOT_DATA_DIR", up->data_dir, 1) != 0
        || setenv ("COPILOT_DB_PATH", up->db_path, 1) != 0)
        return -1;
    str_fmt (v, sizeof v, "%d", up->http_port);
    setenv ("COPILOT_HTTP_PORT", v, 1);
    str_fmt (v, sizeof v, "%s/http.port", up->run_dir);
    setenv ("COPILOT_HTTP_PORT_FILE", v, 1);
    str_fmt (v, sizeof v, "%s/auth", up->data_dir);
    setenv ("COPILOT_AUTH_DIR", v, 1);
    str_fmt (v, sizeof v, "%s/index", up->data_dir);
    setenv ("COPILOT_INDEX_DIR", v, 1);
    setenv ("COPILOT_RETRIEVAL_INDEX_DIR", v, 1);
    str_fmt (v, sizeof v, "%s/llm-cache.db", up->data_dir);
    setenv ("COPILOT_LLM_CACHE_DB", v, 0);
    str_fmt (v, sizeof v, "%s/commentary.db", up->data_dir);
    setenv ("COPILOT_PROMPT_BUILDER_HISTORY_DB", v, 0);
    str_fmt (v, sizeof v, "%s/report-state.db", up->data_dir);
    setenv ("COPILOT_REPORT_SERVICE_STATE_PATH", v, 0);
    /* graph-service restarts from its snapshot (graph-<hash>.gsnap) in
     * seconds instead of rebuilding from SQLite. */
    setenv ("COPILOT_GRAPH_SNAPSHOT_DIR", up->data_dir, 0);
    /* Router endpoints: clients use the router's own endpoint; workers
     * connect to its backend. */
    str_fmt (v, sizeof v, "ipc://%s/retrieval-router.sock", up->run_dir);
    setenv ("COPILOT_RETRIEVAL_ROUTER_ENDPOINT", v, 1);
    /* The router binds retrieval_router.backend and the workers connect to
     * retrieval.router.backend: both read COPILOT_RETRIEVAL_ROUTER_BACKEND. */
    str_fmt (v, sizeof v, "ipc://%s/retrieval-router-backend.sock", up->run_dir);
    setenv ("COPILOT_RETRIEVAL_ROUTER_BACKEND", v, 1);
    if (!getenv ("COPILOT_HTTP_STATIC_DIR")) {
        static const char *const cands[] = {"%s/../web", "%s/../share/copilot/web",
                                            "%s/../../services/gateway/web"};
        for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
            char dir[PATH_MAX], idx[PATH_MAX];
            if (str_fmt (dir, sizeof dir, cands[i], up->bin_dir) == 0
                && str_fmt (idx, sizeof idx, "%s/index.html", dir) == 0 && s_exists (idx)) {
                char real[PATH_MAX];
                if (realpath (dir, real))
                    setenv ("COPILOT_HTTP_STATIC_DIR", real, 1);
                break;
            }
        }
    }
    return 0;
}

static int
s_read_file_line (const char *path, char *out, size_t size)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    bool ok = fgets (out, (int) size, f) != NULL;
    fclose (f);
    if (!ok)
        return -1;
    str_trim (out);
    return out[0] ? 0 : -1;
}

/* ---- the supervisor ------------------------------------------------------ */

static void
s_report (int fd, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    if (n > 0 && fd >= 0) {
        ssize_t w = write (fd, line, (size_t) n < sizeof line ? (size_t) n : sizeof line - 1);
        (void) w;
    }
}

static int
s_start_and_wait (up_t *up, up_daemon_t *d, char *why, size_t why_size)
{
    if (d->log_fd < 0) {
        char path[PATH_MAX];
        str_fmt (path, sizeof path, "%s/%s.log", up->log_dir, d->name);
        d->log_fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (d->log_fd < 0) {
            str_fmt (why, why_size, "cannot open %s: %s", path, strerror (errno));
            return -1;
        }
    }
    if (s_spawn (up, d) != 0) {
        str_fmt (why, why_size, "cannot start %s: %s", d->name, strerror (errno));
        return -1;
    }
    s_write_state (up);
    int rc = s_wait_ready (up, d, why, why_size);
    s_write_state (up);
    return rc;
}

static void
s_reap (up_t *up)
{
    int st;
    pid_t pid;
    while ((pid = waitpid (-1, &st, WNOHANG)) > 0) {
        for (int i = 0; i < up->n; i++) {
            up_daemon_t *d = &up->d[i];
            if (d->pid != pid)
                continue;
            int64_t now = clock_wall_ms ();
            if (now - d->started_ms >= UP_HEALTHY_RESET_MS)
                d->backoff_ms = UP_BACKOFF_MIN_MS;
            d->pid = 0;
            if (d->out_fd >= 0) {
                close (d->out_fd);
                d->out_fd = -1;
            }
            d->state = "restarting";
            d->restart_at_ms = clock_mono_ms () + d->backoff_ms;
            char msg[256];
            int n = snprintf (msg, sizeof msg,
                              "{\"level\":\"WARN\",\"service\":\"supervisor\",\"event\":"
                              "\"daemon.exit\",\"msg\":\"%s exited (%s %d); restart in %lld ms\"}\n",
                              d->name, WIFEXITED (st) ? "status" : "signal",
                              WIFEXITED (st) ? WEXITSTATUS (st) : WTERMSIG (st),
                              (long long) d->backoff_ms);
            if (n > 0) {
                ssize_t w = write (d->log_fd, msg, (size_t) n < sizeof msg ? (size_t) n : sizeof msg - 1);
                (void) w;
            }
            d->backoff_ms = d->backoff_ms * 2 > UP_BACKOFF_MAX_MS ? UP_BACKOFF_MAX_MS : d->backoff_ms * 2;
        }
    }
}

static int
s_supervise (up_t *up, int status_fd)
{
    char why[1024] = "";
    for (int i = 0; i < up->n; i++) {
        if (s_start_and_wait (up, &up->d[i], why, sizeof why) != 0) {
            s_report (status_fd, "error=%s (log: %s/%s.log)\n", why, up->log_dir, up->d[i].name);
            s_stop_all (up);
            s_write_state (up);
            return 1;
        }
    }
    char port[32] = "", token[256] = "", path[PATH_MAX];
    str_fmt (path, sizeof path, "%s/http.port", up->run_dir);
    if (s_read_file_line (path, port, sizeof port) != 0)
        str_fmt (port, sizeof port, "%d", up->http_port);
    str_fmt (path, sizeof path, "%s/auth/admin.token", up->data_dir);
    s_read_file_line (path, token, sizeof token);
    s_report (status_fd, "url=http://127.0.0.1:%s/\n", port);
    s_report (status_fd, "token=%s\n", token[0] ? token : "(auth disabled or configured by hash)");
    s_report (status_fd, "data_dir=%s\nlogs=%s\n", up->data_dir, up->log_dir);
    if (status_fd >= 0)
        close (status_fd);

    while (!s_stop) {
        struct pollfd pfd[UP_MAX_DAEMONS + 1];
        int map[UP_MAX_DAEMONS + 1];
        int np = 0;
        pfd[np].fd = s_sig_pipe[0];
        pfd[np].events = POLLIN;
        map[np++] = -1;
        int64_t now = clock_mono_ms (), wait = 1000;
        for (int i = 0; i < up->n; i++) {
            up_daemon_t *d = &up->d[i];
            if (d->out_fd >= 0) {
                pfd[np].fd = d->out_fd;
                pfd[np].events = POLLIN;
                map[np++] = i;
            }
            if (d->pid == 0 && d->restart_at_ms && d->restart_at_ms - now < wait)
                wait = d->restart_at_ms - now < 0 ? 0 : d->restart_at_ms - now;
        }
        int rc = poll (pfd, (nfds_t) np, (int) wait);
        if (rc > 0) {
            for (int k = 0; k < np; k++) {
                if (!(pfd[k].revents & (POLLIN | POLLHUP)))
                    continue;
                if (map[k] < 0) {
                    char b[64];
                    ssize_t r = read (s_sig_pipe[0], b, sizeof b);
                    (void) r;
                } else if (s_drain_stdout (&up->d[map[k]], NULL) != 0) {
                    close (up->d[map[k]].out_fd);
                    up->d[map[k]].out_fd = -1;
                }
            }
        }
        s_reap (up);
        now = clock_mono_ms ();
        for (int i = 0; i < up->n && !s_stop; i++) {
            up_daemon_t *d = &up->d[i];
            if (d->pid == 0 && d->restart_at_ms && d->restart_at_ms <= now) {
                d->restart_at_ms = 0;
                d->restarts++;
                if (s_start_and_wait (up, d, why, sizeof why) != 0) {
                    d->state = "restarting";
                    d->restart_at_ms = clock_mono_ms () + d->backoff_ms;
                    d->backoff_ms = d->backoff_ms * 2 > UP_BACKOFF_MAX_MS ? UP_BACKOFF_MAX_MS
                                                                          : d->backoff_ms * 2;
                }
            }
        }
        s_write_state (up);
    }
    s_stop_all (up);
    s_write_state (up);
    char pidfile[PATH_MAX];
    s_state_path (up->run_dir, "supervisor.pid", pidfile, sizeof pidfile);
    unlink (pidfile);
    return 0;
}

/* ---- commands ----------------------------------------------------------- */

static int
s_dirs (const char *cmd, const char *data_dir, up_t *up)
{
    if (s_abs_path (data_dir, up->data_dir, sizeof up->data_dir) != 0
        || str_fmt (up->run_dir, sizeof up->run_dir, "%s/run", up->data_dir) != 0
        || str_fmt (up->log_dir, sizeof up->log_dir, "%s/logs", up->data_dir) != 0)
        return cli_error (cmd, "data directory path too long: %s", data_dir);
    /* ipc:// paths are limited to 107 bytes by sockaddr_un. */
    if (strlen (up->run_dir) + sizeof "/retrieval-router-backend.sock" > 107)
        return cli_error (cmd, "--data-dir '%s' is too long for ipc socket paths (max ~75 characters)",
                          up->data_dir);
    return 0;
}

static pid_t
s_supervisor_pid (const up_t *up)
{
    char path[PATH_MAX], line[64];
    s_state_path (up->run_dir, "supervisor.pid", path, sizeof path);
    if (s_read_file_line (path, line, sizeof line) != 0)
        return 0;
    int64_t pid;
    if (str_to_i64 (line, &pid) != 0 || pid <= 1)
        return 0;
    if (kill ((pid_t) pid, 0) != 0 && errno == ESRCH)
        return 0;
    return (pid_t) pid;
}

int
cmd_up (int argc, char **argv)
{
    const char *db = NULL, *data_dir = "data", *port = "8080", *replicas = "2", *timeout = "60000";
    bool no_index = false;
    cli_opt_t opts[] = {{"db", &db, NULL},           {"data-dir", &data_dir, NULL},
                        {"http-port", &port, NULL},  {"replicas", &replicas, NULL},
                        {"ready-timeout-ms", &timeout, NULL},
                        {"no-index", NULL, &no_index}, {NULL, NULL, NULL}};
    int rc = cli_parse ("up", argc, argv, 1, opts, NULL, 0, NULL);
    if (rc == 1) {
        printf ("usage: copilot up [--db PATH] [--data-dir DIR] [--http-port N] [--replicas N]\n"
                "                  [--ready-timeout-ms MS] [--no-index]\n\n"
                "Starts the whole copilot on this machine under a supervisor and returns once\n"
                "every daemon reported READY, printing url=..., token=..., data_dir=..., logs=...\n"
                "\n"
                "options:\n"
                "  --db PATH         telemetry database (default DIR/usage.db; created with the\n"
                "                    generator's small profile when absent). An existing file is\n"
                "                    only read, never modified.\n"
                "  --data-dir DIR    where sockets, logs, tokens, indexes and state go (default data)\n"
                "  --http-port N     gateway port (default 8080; 0 picks a free port)\n"
                "  --replicas N      retrieval replicas behind the router (default 2, max %d)\n"
                "  --no-index        do not build the retrieval index when it is absent\n"
                "  --ready-timeout-ms MS  how long each daemon may take to print READY\n"
                "                    (default 60000)\n"
                "  -h, --help        this text\n\n"
                "Stop with 'copilot down --data-dir DIR'; inspect with 'copilot status --data-dir DIR'.\n"
                "\n"
                "examples:\n"
                "  copilot up --data-dir data --http-port 8080\n"
                "  copilot up --db /tmp/usage.db --data-dir /tmp/cp --http-port 0 --replicas 1\n",
                UP_MAX_REPLICAS);
        return CLI_OK;
    }
    if (rc != 0)
        return rc;
    static up_t up;
    memset (&up, 0, sizeof up);
    if (s_dirs ("up", data_dir, &up) != 0)
        return CLI_FAIL;
    if (str_to_int (port, 0, 65535, &up.http_port) != 0)
        return cli_error ("up", "--http-port: expected an integer in [0, 65535], got '%s'", port);
    if (str_to_int (replicas, 1, UP_MAX_REPLICAS, &up.replicas) != 0)
        return cli_error ("up", "--replicas: expected an integer in [1, %d], got '%s'",
                          UP_MAX_REPLICAS, replicas);
    if (str_to_int (timeout, 100, 600000, &up.ready_timeout_ms) != 0)
        return cli_error ("up", "--ready-timeout-ms: expected an integer in [100, 600000], got '%s'",
                          timeout);
    if (s_self_dir (up.bin_dir, sizeof up.bin_dir) != 0)
        return cli_error ("up", "cannot locate the copilot binary's directory");
    if (s_mkdir_p (up.run_dir) != 0 || s_mkdir_p (up.log_dir) != 0)
        return cli_error ("up", "cannot create %s: %s", up.data_dir, strerror (errno));
    pid_t running = s_supervisor_pid (&up);
    if (running)
        return cli_error ("up", "already running in %s (supervisor pid %d); "
                                "use 'copilot status --data-dir %s' or 'copilot down --data-dir %s'",
                          up.data_dir, (int) running, data_dir, data_dir);

    char self[PATH_MAX];
    str_fmt (self, sizeof self, "%s/copilot", up.bin_dir);
    if (db) {
        if (s_abs_path (db, up.db_path, sizeof up.db_path) != 0)
            return cli_error ("up", "--db path too long");
        if (!s_exists (up.db_path))
            return cli_error ("up", "--db %s does not exist (omit --db to create demo data)", db);
    } else {
        str_fmt (up.db_path, sizeof up.db_path, "%s/usage.db", up.data_dir);
        if (!s_exists (up.db_path)) {
            fprintf (stderr, "copilot up: creating the demo database %s (small profile, seed 42)\n",
                     up.db_path);
            char *gen[] = {self, (char *) "generate", (char *) "--profile", (char *) "small",
                           (char *) "--seed", (char *) "42", (char *) "--db", up.db_path, NULL};
            if (s_run_tool (gen) != 0)
                return cli_error ("up", "generating the demo database failed");
        }
    }
    char index_dir[PATH_MAX];
    str_fmt (index_dir, sizeof index_dir, "%s/index", up.data_dir);
    if (!no_index && !s_exists (index_dir)) {
        fprintf (stderr, "copilot up: building the retrieval index in %s\n", index_dir);
        char *idx[] = {self, (char *) "index", (char *) "--db", up.db_path, (char *) "--out",
                       index_dir, NULL};
        if (s_run_tool (idx) != 0)
            return cli_error ("up", "building the retrieval index failed");
    }

    char why[512];
    if (s_plan (&up, why, sizeof why) != 0)
        return cli_error ("up", "%s", why[0] ? why : "too many daemons");
    if (s_export_env (&up) != 0)
        return cli_error ("up", "cannot set the daemons' environment");

    int status[2];
    if (pipe (status) != 0)
        return cli_error ("up", "pipe: %s", strerror (errno));
    fflush (NULL);
    pid_t sup = fork ();
    if (sup < 0)
        return cli_error ("up", "fork: %s", strerror (errno));
    if (sup == 0) {
        close (status[0]);
        setsid ();
        int devnull = open ("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2 (devnull, STDIN_FILENO);
            dup2 (devnull, STDOUT_FILENO);
            close (devnull);
        }
        char sup_log[PATH_MAX];
        str_fmt (sup_log, sizeof sup_log, "%s/supervisor.log", up.log_dir);
        int lf = open (sup_log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (lf >= 0) {
            dup2 (lf, STDERR_FILENO);
            close (lf);
        }
        if (pipe (s_sig_pipe) != 0)
            _exit (1);
        fcntl (s_sig_pipe[0], F_SETFL, O_NONBLOCK);
        fcntl (s_sig_pipe[1], F_SETFL, O_NONBLOCK);
        fcntl (s_sig_pipe[0], F_SETFD, FD_CLOEXEC);
        fcntl (s_sig_pipe[1], F_SETFD, FD_CLOEXEC);
        fcntl (status[1], F_SETFD, FD_CLOEXEC);
        struct sigaction sa;
        memset (&sa, 0, sizeof sa);
        sa.sa_handler = s_on_signal;
        sigemptyset (&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        sigaction (SIGTERM, &sa, NULL);
        sigaction (SIGINT, &sa, NULL);
        sigaction (SIGCHLD, &sa, NULL);
        signal (SIGHUP, SIG_IGN);
        signal (SIGPIPE, SIG_IGN);
        char pidfile[PATH_MAX];
        s_state_path (up.run_dir, "supervisor.pid", pidfile, sizeof pidfile);
        FILE *pf = fopen (pidfile, "w");
        if (pf) {
            fprintf (pf, "%d\n", (int) getpid ());
            fclose (pf);
        }
        _exit (s_supervise (&up, status[1]));
    }
    close (status[1]);
    char out[4096];
    size_t used = 0;
    for (;;) {
        ssize_t n = read (status[0], out + used, sizeof out - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t) n;
        if (used >= sizeof out - 1)
            break;
    }
    close (status[0]);
    out[used] = '\0';
    if (strstr (out, "url=") == out || strstr (out, "\nurl=")) {
        fputs (out, stdout);
        fprintf (stderr, "copilot up: running; stop with 'copilot down --data-dir %s'\n", data_dir);
        return CLI_OK;
    }
    int st;
    waitpid (sup, &st, 0);
    fprintf (stderr, "copilot up: start-up failed: %s", out[0] ? out : "supervisor exited\n");
    return CLI_FAIL;
}

int
cmd_down (int argc, char **argv)
{
    const char *data_dir = "data";
    cli_opt_t opts[] = {{"data-dir", &data_dir, NULL}, {NULL, NULL, NULL}};
    int rc = cli_parse ("down", argc, argv, 1, opts, NULL, 0, NULL);
    if (rc == 1) {
        printf ("usage: copilot down [--data-dir DIR]\n\n"
                "Stops everything 'copilot up' started in DIR (default data): daemons get SIGTERM in\n"
                "reverse start order and up to 5 s to drain, then SIGKILL.\n"
                "\n"
                "options:\n"
                "  --data-dir DIR    the data directory given to 'copilot up' (default data)\n"
                "  -h, --help        this text\n"
                "\n"
                "examples:\n"
                "  copilot down --data-dir data\n");
        return CLI_OK;
    }
    if (rc != 0)
        return rc;
    static up_t up;
    memset (&up, 0, sizeof up);
    if (s_dirs ("down", data_dir, &up) != 0)
        return CLI_FAIL;
    pid_t pid = s_supervisor_pid (&up);
    if (!pid) {
        printf ("nothing running in %s\n", up.data_dir);
        return CLI_OK;
    }
    if (kill (pid, SIGTERM) != 0)
        return cli_error ("down", "cannot signal supervisor %d: %s", (int) pid, strerror (errno));
    int64_t deadline = clock_mono_ms () + 60000;
    while (kill (pid, 0) == 0) {
        if (clock_mono_ms () > deadline)
            return cli_error ("down", "supervisor %d still running after 60 s", (int) pid);
        clock_sleep_ms (50);
    }
    printf ("stopped (supervisor pid %d)\n", (int) pid);
    return CLI_OK;
}

int
cmd_status (int argc, char **argv)
{
    const char *data_dir = "data";
    cli_opt_t opts[] = {{"data-dir", &data_dir, NULL}, {NULL, NULL, NULL}};
    int rc = cli_parse ("status", argc, argv, 1, opts, NULL, 0, NULL);
    if (rc == 1) {
        printf ("usage: copilot status [--data-dir DIR]\n\n"
                "Shows each daemon started by 'copilot up': health (Ping over the bus), pid,\n"
                "uptime and restarts. Exit status 0 when every daemon is up and ready, 1 otherwise.\n"
                "\n"
                "options:\n"
                "  --data-dir DIR    the data directory given to 'copilot up' (default data)\n"
                "  -h, --help        this text\n"
                "\n"
                "examples:\n"
                "  copilot status --data-dir data\n");
        return CLI_OK;
    }
    if (rc != 0)
        return rc;
    static up_t up;
    memset (&up, 0, sizeof up);
    if (s_dirs ("status", data_dir, &up) != 0)
        return CLI_FAIL;
    pid_t sup = s_supervisor_pid (&up);
    if (!sup) {
        printf ("not running (no supervisor in %s)\n", up.data_dir);
        return CLI_FAIL;
    }
    char path[PATH_MAX];
    s_state_path (up.run_dir, "supervisor.state", path, sizeof path);
    FILE *f = fopen (path, "r");
    if (!f)
        return cli_error ("status", "cannot read %s: %s", path, strerror (errno));
    /* With curve.enabled in the environment, Ping over CURVE like the
     * daemons do (bus_call uses the process default policy). */
    cfg_t *ccfg = cfg_new (NULL, NULL);
    bus_curve_t *curve = NULL;
    char cerr[512];
    if (ccfg && bus_curve_from_cfg (ccfg, NULL, &curve, cerr, sizeof cerr) != 0) {
        fclose (f);
        cfg_destroy (&ccfg);
        return cli_error ("status", "%s", cerr);
    }
    if (curve)
        bus_curve_install (NULL, &curve);
    printf ("supervisor pid %d\n", (int) sup);
    printf ("%-22s %-8s %-8s %-10s %-8s %s\n", "DAEMON", "HEALTH", "PID", "UPTIME", "RESTARTS",
            "DETAIL");
    int bad = 0;
    char line[2 * PATH_MAX];
    int64_t now = clock_wall_ms ();
    while (fgets (line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        char *save = NULL, *fld[6];
        int nf = 0;
        for (char *t = strtok_r (line, "\t\n", &save); t && nf < 6; t = strtok_r (NULL, "\t\n", &save))
            fld[nf++] = t;
        if (nf < 6)
            continue;
        int64_t pid = 0, started = 0, restarts = 0;
        str_to_i64 (fld[1], &pid);
        str_to_i64 (fld[2], &started);
        str_to_i64 (fld[3], &restarts);
        const char *health = "down";
        char detail[256] = "";
        if (pid > 0 && kill ((pid_t) pid, 0) == 0) {
            env_t *req = env_new ("cli");
            env_t *rep = NULL;
            if (req) {
                Copilot__V1__PingRequest *p = env_msg_new (&copilot__v1__ping_request__descriptor);
                if (p && env_set_body (req, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, p) == 0
                    && bus_call (fld[5], req, &rep, 1000) == 0 && rep
                    && rep->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY) {
                    health = rep->ping_reply->ready ? "ready" : "starting";
                    str_copy (detail, sizeof detail, rep->ping_reply->detail);
                } else {
                    health = "no-reply";
                    if (rep && env_is_error (rep))
                        str_copy (detail, sizeof detail, env_error (rep)->message);
                }
            }
            env_free (req);
            env_free (rep);
        }
        if (strcmp (health, "ready") != 0)
            bad++;
        char up_s[32] = "-";
        if (pid > 0 && started > 0) {
            int64_t s = (now - started) / 1000;
            str_fmt (up_s, sizeof up_s, "%lldh%02lldm%02llds", (long long) (s / 3600),
                     (long long) (s / 60 % 60), (long long) (s % 60));
        }
        printf ("%-22s %-8s %-8lld %-10s %-8lld %s\n", fld[0], health, (long long) pid, up_s,
                (long long) restarts, detail);
    }
    fclose (f);
    bus_curve_uninstall (NULL);
    cfg_destroy (&ccfg);
    return bad ? CLI_FAIL : CLI_OK;
}
