/* runtime.c — process runtime: signals, stop and drain state, zmq context.
 *
 * Design:
 *  - The signal handler is async-signal-safe: it only stores into
 *    `volatile sig_atomic_t` flags, writes one byte to a non-blocking
 *    self-pipe (write(2) is on the POSIX safe list) and, for a second
 *    SIGTERM/SIGINT while a stop is already pending, calls _exit(). errno is
 *    saved and restored around the write. All real work (draining, closing)
 *    happens on the loop thread after it sees the pipe become readable.
 *  - Handlers are installed without SA_RESTART so blocking calls such as
 *    zmq_poll return EINTR and simple loops notice the flag promptly.
 *  - The drain deadline uses the monotonic clock.
 *  - State is process-wide (signals are); proc_reset() exists for tests.
 */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"

static volatile sig_atomic_t s_stop;
static volatile sig_atomic_t s_stop_signo;
static volatile sig_atomic_t s_reload;
static int s_pipe[2] = { -1, -1 };
static bool s_installed;
static int64_t s_drain_deadline = -1;    /* mono ms; -1 = not draining */

static void s_wake (void)
{
    if (s_pipe[1] >= 0) {
        char b = 1;
        ssize_t rc = write (s_pipe[1], &b, 1);
        (void) rc;   /* EAGAIN: the pipe is already full, so it is readable */
    }
}

static void s_handler (int signo)
{
    int saved = errno;
    if (signo == SIGHUP) {
        s_reload = 1;
    } else {
        if (s_stop)
            _exit (PROC_EXIT_SIGNAL_BASE + signo);
        s_stop = 1;
        s_stop_signo = signo;
    }
    s_wake ();
    errno = saved;
}

static int s_set_flags (int fd)
{
    int fl = fcntl (fd, F_GETFL);
    if (fl < 0 || fcntl (fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fd_fl = fcntl (fd, F_GETFD);
    if (fd_fl < 0 || fcntl (fd, F_SETFD, fd_fl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

int proc_init (void)
{
    if (s_installed)
        return 0;
    if (pipe (s_pipe) != 0)
        return -1;
    if (s_set_flags (s_pipe[0]) != 0 || s_set_flags (s_pipe[1]) != 0) {
        int e = errno;
        close (s_pipe[0]);
        close (s_pipe[1]);
        s_pipe[0] = s_pipe[1] = -1;
        errno = e;
        return -1;
    }
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_handler;
    sigemptyset (&sa.sa_mask);
    sa.sa_flags = 0;   /* no SA_RESTART: let blocking polls return EINTR */
    if (sigaction (SIGTERM, &sa, NULL) != 0 || sigaction (SIGINT, &sa, NULL) != 0
        || sigaction (SIGHUP, &sa, NULL) != 0)
        return -1;
    struct sigaction ign;
    memset (&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset (&ign.sa_mask);
    if (sigaction (SIGPIPE, &ign, NULL) != 0)
        return -1;
    s_installed = true;
    return 0;
}

int proc_wakeup_fd (void)
{
    return s_pipe[0];
}

void proc_drain_wakeup (void)
{
    if (s_pipe[0] < 0)
        return;
    char buf[64];
    while (read (s_pipe[0], buf, sizeof buf) > 0) {
    }
}

bool proc_stop_requested (void)
{
    return s_stop != 0;
}

int proc_stop_signal (void)
{
    return (int) s_stop_signo;
}

void proc_request_stop (void)
{
    s_stop = 1;
    s_wake ();
}

bool proc_reload_requested (void)
{
    if (!s_reload)
        return false;
    s_reload = 0;
    return true;
}

void proc_reset (void)
{
    s_stop = 0;
    s_stop_signo = 0;
    s_reload = 0;
    s_drain_deadline = -1;
    proc_drain_wakeup ();
}

void proc_drain_begin (int64_t grace_ms)
{
    if (s_drain_deadline >= 0)
        return;
    if (grace_ms < 0)
        grace_ms = 0;
    s_drain_deadline = clock_mono_ms () + grace_ms;
}

bool proc_draining (void)
{
    return s_drain_deadline >= 0;
}

int64_t proc_drain_remaining_ms (void)
{
    if (s_drain_deadline < 0)
        return INT64_MAX;
    int64_t left = s_drain_deadline - clock_mono_ms ();
    return left > 0 ? left : 0;
}

void *proc_zmq_ctx_new (void)
{
    void *ctx = zmq_ctx_new ();
    if (!ctx)
        return NULL;
    /* blocky = 0: sockets default to LINGER 0 and zmq_ctx_term never waits
     * for unsent messages (we also set LINGER 0 on every socket). */
    if (zmq_ctx_set (ctx, ZMQ_BLOCKY, 0) != 0 || zmq_ctx_set (ctx, ZMQ_IO_THREADS, 1) != 0) {
        zmq_ctx_term (ctx);
        return NULL;
    }
    return ctx;
}

void proc_zmq_ctx_term (void **ctx_p)
{
    if (!ctx_p || !*ctx_p)
        return;
    while (zmq_ctx_term (*ctx_p) != 0 && errno == EINTR) {
    }
    *ctx_p = NULL;
}

const char *proc_exit_name (int code)
{
    switch (code) {
    case PROC_EXIT_OK: return "ok";
    case PROC_EXIT_FAILURE: return "failure";
    case PROC_EXIT_USAGE: return "usage error";
    case PROC_EXIT_CONFIG: return "configuration error";
    case PROC_EXIT_BIND: return "cannot bind or connect an endpoint";
    case PROC_EXIT_DRAIN_TIMEOUT: return "drain grace period ended with work in flight";
    default:
        if (code > PROC_EXIT_SIGNAL_BASE && code < PROC_EXIT_SIGNAL_BASE + 65)
            return "terminated by a second signal";
        return "unknown exit code";
    }
}
