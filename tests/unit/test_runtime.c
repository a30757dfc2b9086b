/* test_runtime.c — proc_: signal flags and self-pipe, the second-signal
 * immediate exit (in a forked child), SIGHUP reload flag, drain deadline,
 * zmq context termination that never waits on unsent messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "runtime.h"

static bool s_readable (int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll (&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

static void test_sigterm_sets_flag_and_wakes (void **state)
{
    (void) state;
    assert_int_equal (proc_init (), 0);
    assert_int_equal (proc_init (), 0);   /* idempotent */
    proc_reset ();
    int fd = proc_wakeup_fd ();
    assert_true (fd >= 0);
    assert_false (proc_stop_requested ());
    assert_false (s_readable (fd, 0));
    raise (SIGTERM);
    assert_true (proc_stop_requested ());
    assert_int_equal (proc_stop_signal (), SIGTERM);
    assert_true (s_readable (fd, 100));
    proc_drain_wakeup ();
    assert_false (s_readable (fd, 0));
    proc_reset ();
    assert_false (proc_stop_requested ());
    assert_int_equal (proc_stop_signal (), 0);
}

static void test_request_stop (void **state)
{
    (void) state;
    proc_init ();
    proc_reset ();
    proc_request_stop ();
    assert_true (proc_stop_requested ());
    assert_int_equal (proc_stop_signal (), 0);
    assert_true (s_readable (proc_wakeup_fd (), 100));
    proc_reset ();
}

static void test_sighup_reload (void **state)
{
    (void) state;
    proc_init ();
    proc_reset ();
    assert_false (proc_reload_requested ());
    raise (SIGHUP);
    assert_false (proc_stop_requested ());
    assert_true (proc_reload_requested ());
    assert_false (proc_reload_requested ());   /* cleared by reading */
    proc_reset ();
}

static void test_second_signal_exits (void **state)
{
    (void) state;
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        proc_init ();
        proc_reset ();
        raise (SIGINT);            /* first: flag only */
        if (!proc_stop_requested ())
            _exit (10);
        raise (SIGTERM);           /* second: _exit(128 + SIGTERM) */
        _exit (11);
    }
    int status = 0;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), PROC_EXIT_SIGNAL_BASE + SIGTERM);
}

static void test_drain_deadline (void **state)
{
    (void) state;
    proc_reset ();
    assert_false (proc_draining ());
    assert_int_equal (proc_drain_remaining_ms (), INT64_MAX);
    proc_drain_begin (80);
    proc_drain_begin (10000);   /* first call wins */
    assert_true (proc_draining ());
    int64_t left = proc_drain_remaining_ms ();
    assert_true (left > 0 && left <= 80);
    clock_sleep_ms (100);
    assert_int_equal (proc_drain_remaining_ms (), 0);
    proc_reset ();
    assert_false (proc_draining ());
}

static void test_ctx_term_does_not_wait (void **state)
{
    (void) state;
    void *ctx = proc_zmq_ctx_new ();
    assert_non_null (ctx);
    void *push = zmq_socket (ctx, ZMQ_PUSH);
    /* nobody listens: the message stays queued on the pipe */
    assert_int_equal (zmq_connect (push, "tcp://127.0.0.1:9"), 0);
    zmq_send (push, "x", 1, ZMQ_DONTWAIT);
    zmq_close (push);            /* no LINGER set on purpose: ctx default applies */
    int64_t t0 = clock_mono_ms ();
    proc_zmq_ctx_term (&ctx);
    assert_null (ctx);
    assert_true (clock_mono_ms () - t0 < 500);
    proc_zmq_ctx_term (&ctx);    /* NULL-safe */
}

static void test_exit_names (void **state)
{
    (void) state;
    assert_string_equal (proc_exit_name (PROC_EXIT_OK), "ok");
    assert_string_equal (proc_exit_name (PROC_EXIT_CONFIG), "configuration error");
    assert_string_equal (proc_exit_name (PROC_EXIT_SIGNAL_BASE + 15), "terminated by a second signal");
    assert_string_equal (proc_exit_name (77), "unknown exit code");
}

int main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sigterm_sets_flag_and_wakes),
        cmocka_unit_test (test_request_stop),
        cmocka_unit_test (test_sighup_reload),
        cmocka_unit_test (test_second_signal_exits),
        cmocka_unit_test (test_drain_deadline),
        cmocka_unit_test (test_ctx_term_does_not_wait),
        cmocka_unit_test (test_exit_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
