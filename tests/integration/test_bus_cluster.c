/* test_bus_cluster.c — integration.bus_killrestart: the event bus and two
 * daemons as real processes on ipc endpoints in a temp dir.
 *
 *   1. start event-bus, svc-a, svc-b (bus_test_daemon); wait for their READY
 *      lines on stdout (never a sleep);
 *   2. request/reply: Ping each of the three;
 *   3. pub/sub: a subscriber on the bus waits for svc-a's heartbeat (slow
 *      joiner sync), asks svc-a to publish three events, receives them with
 *      seq n, n+1, n+2 from svc-a's stream and no gap;
 *   4. a slow request to svc-b is in flight (svc-b announces it on the bus);
 *      SIGKILL svc-b; the client gets DEADLINE_EXCEEDED within its deadline;
 *      a call to the dead endpoint fails at its deadline too (no hang);
 *   5. restart svc-b on the same endpoint; the SAME client's next request
 *      succeeds (reconnect);
 *   6. SIGTERM everything; each exits 0 within 1 s; no sanitizer reports in
 *      any daemon's stderr.
 * Logs of every daemon are dumped on failure.
 *
 * Usage: test_bus_cluster <event-bus binary> <bus_test_daemon binary> [exit-grace-ms]
 * The daemon's own shutdown (its "svc.stopping" → "svc.stopped" log lines)
 * must take ≤ 1 s in every build; the process exit must follow SIGTERM
 * within exit-grace-ms (default 1000; the sanitizer build passes more,
 * because LeakSanitizer's exit-time scan is slow on a loaded 2-core box).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus.h"
#include "clock.h"
#include "pubsub.h"
#include "runtime.h"
#include "str.h"

#define READY_TIMEOUT_MS 15000
#define MAX_PROCS 4

typedef struct {
    const char *name;
    pid_t pid;
    int out_fd;              /* read end of the child's stdout */
    char err_path[512];
    char endpoint[256];
    int exit_status;         /* -1 while running */
} proc_t;

static char s_dir[256];
static proc_t s_procs[MAX_PROCS];
static int s_nprocs;
static int s_failures;

static void s_dump_logs (void)
{
    for (int i = 0; i < s_nprocs; i++) {
        fprintf (stderr, "----- stderr of %s (%s) -----\n", s_procs[i].name, s_procs[i].err_path);
        FILE *f = fopen (s_procs[i].err_path, "r");
        if (!f)
            continue;
        char line[2048];
        while (fgets (line, sizeof line, f))
            fputs (line, stderr);
        fclose (f);
    }
}

static void s_cleanup (void)
{
    for (int i = 0; i < s_nprocs; i++)
        if (s_procs[i].pid > 0 && s_procs[i].exit_status < 0) {
            kill (s_procs[i].pid, SIGKILL);
            waitpid (s_procs[i].pid, NULL, 0);
        }
    char cmd[600];
    if (s_dir[0] && str_fmt (cmd, sizeof cmd, "rm -rf '%s'", s_dir) == 0 && system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", s_dir);
}

#define CHECK(cond, ...)                                                         \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf (stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
            fprintf (stderr, __VA_ARGS__);                                       \
            fprintf (stderr, "\n");                                              \
            s_failures++;                                                        \
            s_dump_logs ();                                                      \
            s_cleanup ();                                                        \
            exit (1);                                                            \
        }                                                                        \
    } while (0)

/* Starts argv[0] with stdout on a pipe and stderr appended to a log file. */
static proc_t *s_spawn (proc_t *p, const char *name, char *const argv[])
{
    int fds[2];
    CHECK (pipe (fds) == 0, "pipe: %s", strerror (errno));
    p->name = name;
    p->exit_status = -1;
    str_fmt (p->err_path, sizeof p->err_path, "%s/%s.stderr", s_dir, name);
    pid_t pid = fork ();
    CHECK (pid >= 0, "fork: %s", strerror (errno));
    if (pid == 0) {
        int err = open (p->err_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (err < 0 || dup2 (fds[1], 1) < 0 || dup2 (err, 2) < 0)
            _exit (127);
        close (fds[0]);
        close (fds[1]);
        close (err);
        execv (argv[0], argv);
        _exit (127);
    }
    close (fds[1]);
    p->pid = pid;
    p->out_fd = fds[0];
    return p;
}

/* Reads the child's stdout until "READY <name> <endpoint>\n". */
static void s_wait_ready (proc_t *p)
{
    char buf[512];
    size_t n = 0;
    int64_t end = clock_mono_ms () + READY_TIMEOUT_MS;
    for (;;) {
        char *nl = memchr (buf, '\n', n);
        if (nl) {
            *nl = '\0';
            char want[128];
            str_fmt (want, sizeof want, "READY %s ", p->name);
            CHECK (str_starts_with (buf, want), "%s printed '%s' instead of READY", p->name, buf);
            str_copy (p->endpoint, sizeof p->endpoint, buf + strlen (want));
            return;
        }
        int64_t left = end - clock_mono_ms ();
        CHECK (left > 0 && n < sizeof buf - 1, "%s not READY within %d ms", p->name, READY_TIMEOUT_MS);
        struct pollfd pf = { .fd = p->out_fd, .events = POLLIN };
        int rc = poll (&pf, 1, (int) left);
        if (rc < 0 && errno == EINTR)
            continue;
        CHECK (rc > 0, "%s not READY within %d ms", p->name, READY_TIMEOUT_MS);
        ssize_t got = read (p->out_fd, buf + n, sizeof buf - 1 - n);
        CHECK (got > 0, "%s closed stdout before READY (exited?)", p->name);
        n += (size_t) got;
    }
}

static env_t *s_ping (void)
{
    env_t *e = env_new ("cluster-test");
    env_set_body (e, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST,
                  env_msg_new (&copilot__v1__ping_request__descriptor));
    return e;
}

static void s_expect_ping (proc_t *p)
{
    env_t *req = s_ping ();
    env_t *rep = NULL;
    int rc = bus_call (p->endpoint, req, &rep, 3000);
    CHECK (rc == 0 && rep && rep->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY,
           "Ping %s at %s: rc %d (%s)", p->name, p->endpoint, rc,
           env_error (rep) ? env_error (rep)->message : "");
    CHECK (strcmp (rep->ping_reply->service, p->name) == 0, "service '%s'", rep->ping_reply->service);
    CHECK (rep->ping_reply->pid == (int) p->pid, "pid %d != %d", rep->ping_reply->pid, (int) p->pid);
    CHECK (rep->ping_reply->ready, "%s not ready", p->name);
    CHECK (rep->ping_reply->version[0] != '\0', "no version");
    env_free (rep);
    env_free (req);
}

/* ---- subscriber ------------------------------------------------------------- */

typedef struct {
    int events;
    int inflight;
    int heartbeats_a;
    uint64_t seq[16];
    char pub[16][200];
    char hb_pub[200];
} sub_state_t;

static void s_on_event (pubsub_sub_t *sub, const char *topic, env_t *env, void *arg)
{
    (void) sub;
    sub_state_t *st = arg;
    if (str_starts_with (topic, "hb.data.") && strstr (topic, "svc-a-")) {
        st->heartbeats_a++;
        str_copy (st->hb_pub, sizeof st->hb_pub, env->header->publisher_id);
    } else if (strcmp (topic, "data.changed.v1") == 0 && st->events < 16) {
        st->seq[st->events] = env->header->seq;
        str_copy (st->pub[st->events], sizeof st->pub[0], env->header->publisher_id);
        st->events++;
    } else if (strcmp (topic, "data.inflight.v1") == 0) {
        st->inflight++;
    }
    env_free (env);
}

static void s_pump_until (pubsub_sub_t *sub, const int *counter, int want, int timeout_ms)
{
    int64_t end = clock_mono_ms () + timeout_ms;
    while (*counter < want && clock_mono_ms () < end)
        pubsub_sub_poll (sub, 20);
}

/* ---- client callback for the in-flight request ------------------------------ */

typedef struct {
    int calls;
    int status;
    int code;
    int64_t at_ms;
} cb_state_t;

static void s_on_reply (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    cb_state_t *st = arg;
    st->calls++;
    st->status = status;
    st->code = env_error (reply) ? (int) env_error (reply)->code : 0;
    st->at_ms = clock_mono_ms ();
    env_free (reply);
}

static int s_wait_exit (proc_t *p, int64_t deadline_ms)
{
    while (clock_mono_ms () < deadline_ms) {
        int status;
        pid_t r = waitpid (p->pid, &status, WNOHANG);
        if (r == p->pid) {
            p->exit_status = WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
            return p->exit_status;
        }
        clock_sleep_ms (2);
    }
    return -1;
}

/* Milliseconds of the day from a log line's "ts":"YYYY-MM-DDTHH:MM:SS.mmmZ",
 * or -1. */
static int64_t s_line_ms (const char *line)
{
    const char *ts = strstr (line, "\"ts\":\"");
    if (!ts || strlen (ts) < 30)
        return -1;
    const char *t = ts + 6 + 11;   /* skip "ts":" and the date */
    int h, m, sec, ms;
    char buf[4] = { 0 };
    memcpy (buf, t, 2);
    if (str_to_int (buf, 0, 23, &h) != 0)
        return -1;
    memcpy (buf, t + 3, 2);
    if (str_to_int (buf, 0, 59, &m) != 0)
        return -1;
    memcpy (buf, t + 6, 2);
    if (str_to_int (buf, 0, 60, &sec) != 0)
        return -1;
    memcpy (buf, t + 9, 3);
    if (str_to_int (buf, 0, 999, &ms) != 0)
        return -1;
    return ((int64_t) h * 3600 + m * 60 + sec) * 1000 + ms;
}

/* Time between the last "svc.stopping" and the following "svc.stopped"
 * lines of a daemon's log, or -1 when either is missing. */
static int64_t s_shutdown_span_ms (const proc_t *p)
{
    FILE *f = fopen (p->err_path, "r");
    if (!f)
        return -1;
    char line[4096];
    int64_t start = -1, span = -1;
    while (fgets (line, sizeof line, f)) {
        if (strstr (line, "\"event\":\"svc.stopping\""))
            start = s_line_ms (line);
        else if (strstr (line, "\"event\":\"svc.stopped\"") && start >= 0) {
            span = s_line_ms (line) - start;
            if (span < 0)
                span += 86400000;   /* midnight */
        }
    }
    fclose (f);
    return span;
}

static bool s_log_clean (const proc_t *p)
{
    FILE *f = fopen (p->err_path, "r");
    if (!f)
        return true;
    char line[4096];
    bool clean = true;
    while (fgets (line, sizeof line, f))
        if (strstr (line, "ERROR: AddressSanitizer") || strstr (line, "ERROR: LeakSanitizer")
            || strstr (line, "runtime error:"))
            clean = false;
    fclose (f);
    return clean;
}

int main (int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf (stderr, "usage: %s <event-bus> <bus_test_daemon> [exit-grace-ms]\n", argv[0]);
        return 2;
    }
    int exit_grace_ms = 1000;
    if (argc == 4 && str_to_int (argv[3], 100, 60000, &exit_grace_ms) != 0) {
        fprintf (stderr, "bad exit-grace-ms '%s'\n", argv[3]);
        return 2;
    }
    signal (SIGPIPE, SIG_IGN);
    str_copy (s_dir, sizeof s_dir, "/tmp/copilot-bus-it-XXXXXX");
    CHECK (mkdtemp (s_dir) != NULL, "mkdtemp: %s", strerror (errno));
    setenv ("COPILOT_RUN_DIR", s_dir, 1);   /* children inherit: all ipc sockets live here */
    setenv ("COPILOT_LOG_LEVEL", "info", 1);

    char *bus_argv[] = { argv[1], NULL };
    char *a_argv[] = { argv[2], "--as", "svc-a", NULL };
    char *b_argv[] = { argv[2], "--as", "svc-b", NULL };
    proc_t *bus = s_spawn (&s_procs[s_nprocs++], "event-bus", bus_argv);
    proc_t *a = s_spawn (&s_procs[s_nprocs++], "svc-a", a_argv);
    proc_t *b = s_spawn (&s_procs[s_nprocs++], "svc-b", b_argv);
    int64_t t0 = clock_mono_ms ();
    s_wait_ready (bus);
    s_wait_ready (a);
    s_wait_ready (b);
    printf ("# 3 daemons READY in %lld ms (bus %s)\n", (long long) (clock_mono_ms () - t0),
            bus->endpoint);

    /* 2. request/reply */
    s_expect_ping (bus);
    s_expect_ping (a);
    s_expect_ping (b);
    printf ("# Ping ok: event-bus, svc-a, svc-b\n");

    /* 3. pub/sub through the bus */
    void *ctx = proc_zmq_ctx_new ();
    char sub_ep[400];
    str_fmt (sub_ep, sizeof sub_ep, "ipc://%s/bus-sub.sock", s_dir);
    sub_state_t st = { 0 };
    pubsub_sub_t *sub = pubsub_sub_new (ctx, sub_ep, "cluster-test", s_on_event, &st);
    CHECK (sub != NULL, "subscriber: %s", bus_last_error ());
    CHECK (pubsub_sub_subscribe (sub, "data.") == 0, "subscribe data.");
    CHECK (pubsub_sub_subscribe (sub, "hb.") == 0, "subscribe hb.");
    s_pump_until (sub, &st.heartbeats_a, 1, 5000);   /* heartbeats every second */
    CHECK (st.heartbeats_a >= 1, "no heartbeat from svc-a through the bus within 5 s");
    for (int i = 0; i < 3; i++) {
        env_t *req = env_new ("cluster-test");
        Copilot__V1__DataChanged *dc = env_msg_new (&copilot__v1__data_changed__descriptor);
        env_set_strf (&dc->reason, "test-%d", i);
        env_set_body (req, COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED, dc);
        env_t *rep = NULL;
        int rc = bus_call (a->endpoint, req, &rep, 3000);
        CHECK (rc == 0 && rep->body_case == COPILOT__V1__ENVELOPE__BODY_DATA_CHANGED,
               "publish request %d: rc %d", i, rc);
        env_free (rep);
        env_free (req);
    }
    s_pump_until (sub, &st.events, 3, 5000);
    CHECK (st.events == 3, "received %d of 3 events", st.events);
    for (int i = 0; i < 3; i++) {
        CHECK (strcmp (st.pub[i], st.hb_pub) == 0, "event %d from '%s', heartbeat from '%s'", i,
               st.pub[i], st.hb_pub);
        CHECK (st.seq[i] == st.seq[0] + (uint64_t) i, "seq %llu at %d", (unsigned long long) st.seq[i], i);
    }
    CHECK (st.seq[0] == 1, "first seq %llu (stream declared at start, nothing published before)",
           (unsigned long long) st.seq[0]);
    CHECK (pubsub_sub_missed (sub) == 0, "gaps: %llu", (unsigned long long) pubsub_sub_missed (sub));
    printf ("# pub/sub ok: 3 events seq %llu..%llu from %s, 0 missed\n",
            (unsigned long long) st.seq[0], (unsigned long long) st.seq[2], st.pub[0]);

    /* 4. SIGKILL svc-b while a request is in flight */
    bus_client_t *cli = bus_client_new (ctx, b->endpoint, "cluster-test", "svc-b");
    CHECK (cli != NULL, "client: %s", bus_last_error ());
    env_t *slow = env_new ("cluster-test");
    Copilot__V1__RunReportRequest *rr = env_msg_new (&copilot__v1__run_report_request__descriptor);
    env_set_str (&rr->report_id, "sleep:5000");
    env_set_body (slow, COPILOT__V1__ENVELOPE__BODY_RUN_REPORT_REQUEST, rr);
    cb_state_t cs = { 0 };
    const int deadline_ms = 800;
    int64_t sent_at = clock_mono_ms ();
    CHECK (bus_client_send (cli, slow, deadline_ms, 0, s_on_reply, &cs) == 0, "send slow");
    /* wait until svc-b announces the request is running */
    int64_t end = clock_mono_ms () + deadline_ms / 2;
    while (st.inflight < 1 && clock_mono_ms () < end) {
        pubsub_sub_poll (sub, 5);
        bus_client_poll (cli, 0);
    }
    CHECK (st.inflight == 1, "svc-b did not start the slow request");
    CHECK (kill (b->pid, SIGKILL) == 0, "kill: %s", strerror (errno));
    int killed = s_wait_exit (b, clock_mono_ms () + 2000);
    CHECK (killed == 128 + SIGKILL, "svc-b exit %d after SIGKILL", killed);
    while (cs.calls == 0 && clock_mono_ms () - sent_at < deadline_ms + 2000)
        bus_client_poll (cli, 20);
    int64_t took = cs.at_ms - sent_at;
    CHECK (cs.calls == 1, "no completion for the in-flight request (hang)");
    CHECK (cs.status == BUS_E_DEADLINE && cs.code == COPILOT__V1__ERROR_CODE__ERROR_DEADLINE_EXCEEDED,
           "status %d code %d", cs.status, cs.code);
    CHECK (took >= deadline_ms - 5 && took <= deadline_ms + 250, "deadline error after %lld ms",
           (long long) took);
    printf ("# SIGKILL in flight: DEADLINE_EXCEEDED after %lld ms (deadline %d ms)\n", (long long) took,
            deadline_ms);
    /* the dead endpoint: fails at its deadline, does not hang */
    env_t *req = s_ping ();
    env_t *rep = NULL;
    int64_t t1 = clock_mono_ms ();
    int rc = bus_call (b->endpoint, req, &rep, 300);
    int64_t took_dead = clock_mono_ms () - t1;
    CHECK ((rc == BUS_E_UNAVAILABLE || rc == BUS_E_DEADLINE) && took_dead < 600,
           "call to dead svc-b: rc %d after %lld ms", rc, (long long) took_dead);
    env_free (rep);
    env_free (req);

    /* 5. restart svc-b on the same endpoint; the same client reconnects */
    char old_ep[256];
    str_copy (old_ep, sizeof old_ep, b->endpoint);
    close (b->out_fd);
    b = s_spawn (b, "svc-b", b_argv);
    s_wait_ready (b);
    CHECK (strcmp (old_ep, b->endpoint) == 0, "endpoint changed: %s", b->endpoint);
    req = s_ping ();
    rep = NULL;
    t1 = clock_mono_ms ();
    rc = bus_client_call (cli, req, &rep, 5000, 0);
    CHECK (rc == 0 && rep->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY,
           "request after restart: rc %d (%s)", rc, env_error (rep) ? env_error (rep)->message : "");
    CHECK (rep->ping_reply->pid == (int) b->pid, "reply from pid %d, want %d", rep->ping_reply->pid,
           (int) b->pid);
    printf ("# restart: same client got Ping from new svc-b pid %d in %lld ms\n", (int) b->pid,
            (long long) (clock_mono_ms () - t1));
    env_free (rep);
    env_free (req);
    env_free (slow);
    bus_client_destroy (&cli);
    pubsub_sub_destroy (&sub);
    proc_zmq_ctx_term (&ctx);

    /* 6. SIGTERM everything: exit 0 within 1 s, clean sanitizer logs */
    int64_t term_at = clock_mono_ms ();
    for (int i = 0; i < s_nprocs; i++)
        if (s_procs[i].exit_status < 0)
            kill (s_procs[i].pid, SIGTERM);
    for (int i = 0; i < s_nprocs; i++) {
        if (s_procs[i].exit_status >= 0)
            continue;
        int code = s_wait_exit (&s_procs[i], term_at + exit_grace_ms);
        CHECK (code == 0, "%s exit %d after SIGTERM (-1 = still running after %d ms)",
               s_procs[i].name, code, exit_grace_ms);
    }
    int64_t all_exited = clock_mono_ms () - term_at;
    int64_t worst_span = 0;
    for (int i = 0; i < s_nprocs; i++) {
        int64_t span = s_shutdown_span_ms (&s_procs[i]);
        CHECK (span >= 0 && span <= 1000, "%s shutdown took %lld ms (stopping → stopped)",
               s_procs[i].name, (long long) span);
        if (span > worst_span)
            worst_span = span;
    }
    printf ("# SIGTERM: all exited 0 within %lld ms (grace %d ms); slowest drain→stopped %lld ms\n",
            (long long) all_exited, exit_grace_ms, (long long) worst_span);
    for (int i = 0; i < s_nprocs; i++)
        CHECK (s_log_clean (&s_procs[i]), "sanitizer report in %s", s_procs[i].err_path);
    for (int i = 0; i < s_nprocs; i++)
        close (s_procs[i].out_fd);
    s_cleanup ();
    printf ("integration.bus_killrestart: passed\n");
    return 0;
}
