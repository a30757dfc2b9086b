/* runtime.h — process runtime (prefix proc_): signals, stop/drain state,
 * exit codes, ZeroMQ context lifetime.
 *
 * Signals: SIGTERM and SIGINT handlers only set a flag and write one byte to
 * a self-pipe (async-signal-safe); the loop watches proc_wakeup_fd() and
 * calls proc_stop_requested(). A SECOND SIGTERM/SIGINT while draining exits
 * immediately with _exit(PROC_EXIT_SIGNAL_BASE + signo). SIGHUP sets a reload
 * flag. SIGPIPE is ignored (sockets report EPIPE instead).
 *
 * Drain (c-patterns §8.4): on stop the daemon 1) stops taking work (bus
 * server answers UNAVAILABLE), 2) lets in-flight work finish until the drain
 * deadline (grace period), 3) closes sockets with LINGER 0, 4) terminates the
 * zmq context, 5) exits with PROC_EXIT_OK. svc.h implements that order;
 * proc_drain_* keep the deadline.
 *
 * Process-wide state; call proc_init once from the main thread.
 */
#ifndef COPILOT_RUNTIME_H
#define COPILOT_RUNTIME_H
#include <stdbool.h>
#include <stdint.h>

/* Exit codes of every daemon (documented in the README; never change). */
enum {
    PROC_EXIT_OK = 0,            /* clean exit, including a drained SIGTERM/SIGINT */
    PROC_EXIT_FAILURE = 1,       /* runtime failure after start-up */
    PROC_EXIT_USAGE = 2,         /* bad command line */
    PROC_EXIT_CONFIG = 3,        /* invalid configuration (message names the key) */
    PROC_EXIT_BIND = 4,          /* could not bind/connect an endpoint */
    PROC_EXIT_DRAIN_TIMEOUT = 5, /* grace period ended with work still in flight */
    PROC_EXIT_SIGNAL_BASE = 128, /* + signo: second signal, immediate exit */
};

/* Installs the handlers and the self-pipe (idempotent). 0 or -1 (errno set). */
int proc_init (void);
/* Read end of the self-pipe (non-blocking, close-on-exec); readable after a
 * signal arrived. -1 before proc_init. Watch it, then call proc_drain_wakeup. */
int proc_wakeup_fd (void);
/* Empties the self-pipe (call when proc_wakeup_fd was readable). */
void proc_drain_wakeup (void);

/* True once SIGTERM/SIGINT arrived or proc_request_stop was called. */
bool proc_stop_requested (void);
/* Signal number that requested the stop (0 = programmatic / none). */
int proc_stop_signal (void);
/* Requests a stop from code (e.g. a fatal error); also wakes the pipe. */
void proc_request_stop (void);
/* True once after each SIGHUP (the flag is cleared by reading it). */
bool proc_reload_requested (void);
/* Clears all flags (tests). */
void proc_reset (void);

/* Drain deadline: proc_drain_begin(grace_ms) stamps now + grace (first call
 * wins); proc_drain_remaining_ms() is the time left (INT64_MAX before begin,
 * 0 when passed). */
void proc_drain_begin (int64_t grace_ms);
bool proc_draining (void);
int64_t proc_drain_remaining_ms (void);

/* New zmq context with our defaults (1 I/O thread, blocky off so
 * zmq_ctx_term never waits on lingering messages). NULL on failure. */
void *proc_zmq_ctx_new (void);
/* zmq_ctx_term retried on EINTR; NULL-safe; sets *ctx_p = NULL. Every socket
 * of the context must already be closed (with LINGER 0). */
void proc_zmq_ctx_term (void **ctx_p);

/* Human text for a PROC_EXIT_* code. */
const char *proc_exit_name (int code);

#endif
