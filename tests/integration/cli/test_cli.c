/* test_cli.c — integration tests of `copilot reports`, `copilot events` and
 * the command-line surface of `copilot`, with real processes and sockets
 * (registered by tests/integration/cli.cmake):
 *
 *   test_cli reports <copilot> <fixture.db>
 *       text listing: the five reference reports with their titles, grouped
 *       by pillar (pillars in order of first appearance, registry order
 *       inside); --json parses, carries registry order, counts agree.
 *   test_cli events <bin-dir> <fixture.db>
 *       a real event-bus (COPILOT_RUN_DIR in a temp dir, READY line), then
 *       `copilot events --json --count 4`: the data.changed.v1 published by
 *       `copilot db migrate` on a copy of the fixture, commentary and alert
 *       events published through the bus by this test (an XPUB socket, so
 *       the test publishes only after the subscription arrived — no sleep),
 *       and a sequence gap reported on stderr; the text format (exact line),
 *       --data-dir, --topic, SIGINT, --timeout-ms, bus-down and usage errors.
 *   test_cli daemons <bin-dir> <fixture.db>
 *       event-bus + report-service: `copilot reports --data-dir` equals the
 *       local listing, `copilot events` receives a real alert published by
 *       report-service's start-up detection, and a stopped report-service
 *       gives the "not running" error at once.
 *   test_cli surface <copilot>
 *       unknown commands get a did-you-mean suggestion; `--help` of every
 *       command listed by `copilot --help` exits 0 with "usage: copilot
 *       <cmd>", "options:" and "examples:"; `copilot help <cmd>` prints the
 *       same (checked for three commands, to keep the test fast under ASan).
 *
 * Exit 0 all passed, 1 a check failed (logs dumped), 77 a binary is missing.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "../ops/ops_proc.h"
#include "buf.h"
#include "clock.h"
#include "env.h"
#include "str.h"

#define CHECK OPS_CHECK
#define RUN_TIMEOUT_MS 60000

static int s_checks;
#define EXPECT(cond, ...)                                                                                       \
    do {                                                                                                        \
        s_checks++;                                                                                             \
        CHECK (cond, __VA_ARGS__);                                                                              \
    } while (0)

/* ---- running short commands --------------------------------------------- */

typedef struct {
    int status;  /* exit code, 128 + signal, -1 timeout */
    buf_t *out;
    buf_t *err;
} run_t;

static void
s_run_free (run_t *r)
{
    buf_destroy (&r->out);
    buf_destroy (&r->err);
}

/* Runs argv (NULL-terminated) to completion, capturing stdout and stderr. */
static run_t
s_run (char *const argv[])
{
    run_t r = {-1, buf_new (8u << 20), buf_new (1u << 20)};
    CHECK (r.out && r.err, "out of memory");
    int po[2], pe[2];
    CHECK (pipe (po) == 0 && pipe (pe) == 0, "pipe: %s", strerror (errno));
    pid_t pid = fork ();
    CHECK (pid >= 0, "fork: %s", strerror (errno));
    if (pid == 0) {
        dup2 (po[1], 1);
        dup2 (pe[1], 2);
        close (po[0]);
        close (po[1]);
        close (pe[0]);
        close (pe[1]);
        execv (argv[0], argv);
        _exit (127);
    }
    close (po[1]);
    close (pe[1]);
    struct pollfd pf[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
    int open_fds = 2;
    int64_t end = clock_mono_ms () + RUN_TIMEOUT_MS;
    while (open_fds > 0 && clock_mono_ms () < end) {
        if (poll (pf, 2, 200) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP)))
                continue;
            char b[65536];
            ssize_t n = read (pf[i].fd, b, sizeof b);
            if (n > 0)
                buf_append (i == 0 ? r.out : r.err, b, (size_t) n);
            else {
                close (pf[i].fd);
                pf[i].fd = -1;
                open_fds--;
            }
        }
    }
    for (int i = 0; i < 2; i++)
        if (pf[i].fd >= 0) {
            kill (pid, SIGKILL);
            close (pf[i].fd);
        }
    int st;
    if (waitpid (pid, &st, 0) == pid)
        r.status = WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
    return r;
}

static bool
s_has (const buf_t *b, const char *needle)
{
    return strstr (buf_data (b), needle) != NULL;
}

static void
s_copy_file (const char *from, const char *to)
{
    FILE *in = fopen (from, "rb");
    FILE *out = fopen (to, "wb");
    CHECK (in && out, "copy %s -> %s: %s", from, to, strerror (errno));
    char b[1 << 16];
    size_t n;
    while ((n = fread (b, 1, sizeof b, in)) > 0)
        CHECK (fwrite (b, 1, n, out) == n, "write %s", to);
    fclose (in);
    CHECK (fclose (out) == 0, "close %s", to);
}

/* Waits until a process's stderr log contains `needle`. */
static void
s_wait_log (ops_proc_t *p, const char *needle, int timeout_ms)
{
    int64_t end = clock_mono_ms () + timeout_ms;
    while (!ops_log_contains (p, needle)) {
        CHECK (clock_mono_ms () < end, "%s: no '%s' on stderr within %d ms", p->name, needle, timeout_ms);
        int st;
        CHECK (waitpid (p->pid, &st, WNOHANG) == 0, "%s exited before printing '%s'", p->name, needle);
        clock_sleep_ms (10);
    }
}

/* Reads a child's stdout until it holds `lines` newlines (or EOF). */
static void
s_read_lines (ops_proc_t *p, buf_t *into, int lines, int timeout_ms)
{
    int64_t end = clock_mono_ms () + timeout_ms;
    for (;;) {
        int have = 0;
        for (const char *c = buf_data (into); *c; c++)
            have += *c == '\n';
        if (have >= lines || p->out_fd < 0)
            return;
        int64_t left = end - clock_mono_ms ();
        CHECK (left > 0, "%s: %d of %d lines within %d ms:\n%s", p->name, have, lines, timeout_ms, buf_data (into));
        struct pollfd pf = {p->out_fd, POLLIN, 0};
        int rc = poll (&pf, 1, (int) left);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            continue;
        char b[8192];
        ssize_t n = read (p->out_fd, b, sizeof b);
        if (n <= 0)
            return;
        buf_append (into, b, (size_t) n);
    }
}

static void
s_clean_env (const char *run_dir)
{
    static const char *const vars[] = {"COPILOT_BUS_PUB_ENDPOINT", "COPILOT_BUS_SUB_ENDPOINT",
                                       "COPILOT_EVENT_BUS_ENDPOINT", "COPILOT_REPORT_SERVICE_ENDPOINT",
                                       "COPILOT_CURVE_ENABLED", "COPILOT_DB_PATH"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv (vars[i]);
    CHECK (setenv ("COPILOT_RUN_DIR", run_dir, 1) == 0, "setenv");
    setenv ("COPILOT_LOG_LEVEL", "info", 1);
}

static bool
s_exe (const char *path)
{
    return access (path, X_OK) == 0;
}

/* ---- reports -------------------------------------------------------------- */

static const char *const REF_IDS[5] = {"job_cost", "compute_type_cost", "job_cost_pareto", "spot_risk_by_job",
                                       "anomaly_detection"};
static const char *const REF_TITLES[5] = {"Job Cost & Reliability", "Compute Type Analysis",
                                          "Cost Concentration (Pareto)", "Spot Risk & Evictions",
                                          "Cost Anomaly Detection"};
static const char *const REF_PILLARS[5] = {"cost", "efficiency", "cost", "resilience", "cost"};

static json_t *
s_parse (const buf_t *b, const char *what)
{
    json_error_t e;
    json_t *j = json_loads (buf_data (b), 0, &e);
    CHECK (j, "%s is not JSON: %s (line %d)\n%s", what, e.text, e.line, buf_data (b));
    return j;
}

static int
s_test_reports (const char *copilot, const char *fixture)
{
    char *argv_text[] = {(char *) copilot, "reports", "--db", (char *) fixture, NULL};
    run_t r = s_run (argv_text);
    EXPECT (r.status == 0, "reports --db exit %d: %s", r.status, buf_data (r.err));
    const char *text = buf_data (r.out);
    /* Each reference report on its own line: status, id, title. */
    const char *pos[5];
    for (int i = 0; i < 5; i++) {
        char line[200];
        str_fmt (line, sizeof line, "  %-10s %-26s %s\n", "available", REF_IDS[i], REF_TITLES[i]);
        pos[i] = strstr (text, line);
        EXPECT (pos[i], "line '%s' missing in:\n%s", line, text);
    }
    /* Grouped by pillar: Cost (job_cost, job_cost_pareto, anomaly_detection),
     * then Efficiency (compute_type_cost), then Resilience (spot_risk_by_job). */
    EXPECT (strncmp (text, "Cost (", 6) == 0, "first heading is not Cost:\n%s", text);
    EXPECT (pos[0] < pos[2] && pos[2] < pos[4] && pos[4] < pos[1] && pos[1] < pos[3],
            "reference reports not in registry order within pillars:\n%s", text);
    const char *eff = strstr (text, "\nEfficiency (");
    const char *res = strstr (text, "\nResilience (");
    EXPECT (eff && res && pos[4] < eff && eff < pos[1] && pos[1] < res && res < pos[3],
            "pillar headings misplaced:\n%s", text);
    EXPECT (strstr (text, "available, 0 planned (source: db "), "summary line missing:\n%s", text);
    s_run_free (&r);

    char *argv_json[] = {(char *) copilot, "reports", "--db", (char *) fixture, "--json", NULL};
    r = s_run (argv_json);
    EXPECT (r.status == 0, "reports --json exit %d: %s", r.status, buf_data (r.err));
    json_t *j = s_parse (r.out, "reports --json");
    json_t *pillars = json_object_get (j, "pillars");
    EXPECT (json_array_size (pillars) >= 3, "pillars: %zu", json_array_size (pillars));
    size_t i, k;
    json_t *p, *rep;
    int total = 0, avail = 0, seen_ref = 0;
    json_int_t last_first_order = -1;
    json_array_foreach (pillars, i, p) {
        json_int_t prev = -1;
        json_array_foreach (json_object_get (p, "reports"), k, rep) {
            json_int_t order = json_integer_value (json_object_get (rep, "order"));
            EXPECT (order > prev, "pillar %s: order %lld after %lld", json_string_value (json_object_get (p, "pillar")),
                    (long long) order, (long long) prev);
            if (k == 0) {
                EXPECT (order > last_first_order, "pillars not in order of first appearance");
                last_first_order = order;
            }
            prev = order;
            total++;
            const char *st = json_string_value (json_object_get (rep, "status"));
            EXPECT (st && (strcmp (st, "available") == 0 || strcmp (st, "planned") == 0), "status %s", st ? st : "null");
            avail += strcmp (st, "available") == 0;
            for (int x = 0; x < 5; x++)
                if (strcmp (json_string_value (json_object_get (rep, "id")), REF_IDS[x]) == 0) {
                    EXPECT (order == x, "%s has order %lld, want %d", REF_IDS[x], (long long) order, x);
                    EXPECT (strcmp (json_string_value (json_object_get (rep, "title")), REF_TITLES[x]) == 0, "title of %s",
                            REF_IDS[x]);
                    EXPECT (strcmp (json_string_value (json_object_get (p, "pillar")), REF_PILLARS[x]) == 0,
                            "pillar of %s", REF_IDS[x]);
                    EXPECT (strcmp (st, "available") == 0, "%s is %s", REF_IDS[x], st);
                    seen_ref++;
                }
        }
    }
    EXPECT (seen_ref == 5, "%d of the 5 reference reports listed", seen_ref);
    EXPECT (json_integer_value (json_object_get (j, "available")) == avail, "available count");
    EXPECT (json_integer_value (json_object_get (j, "planned")) == total - avail, "planned count");
    json_decref (j);
    s_run_free (&r);

    /* Usage errors. */
    char *argv_both[] = {(char *) copilot, "reports", "--db", (char *) fixture, "--data-dir", "/tmp", NULL};
    r = s_run (argv_both);
    EXPECT (r.status == 2 && s_has (r.err, "give at most one of --db PATH, --data-dir DIR, --endpoint EP"),
            "--db with --data-dir: exit %d %s", r.status, buf_data (r.err));
    s_run_free (&r);
    char *argv_missing[] = {(char *) copilot, "reports", "--db", "/nonexistent/x.db", NULL};
    r = s_run (argv_missing);
    EXPECT (r.status == 1 && s_has (r.err, "copilot reports: "), "missing db: exit %d %s", r.status, buf_data (r.err));
    s_run_free (&r);
    return 0;
}

/* ---- publishing through the bus from the test ------------------------------ */

/* An XPUB connected to the bus's XSUB side receives the subscriptions the bus
 * forwards, so the test can wait for a subscriber's prefix explicitly. */
static void *
s_xpub (void *zctx, const char *run_dir)
{
    void *s = zmq_socket (zctx, ZMQ_XPUB);
    CHECK (s, "zmq_socket: %s", zmq_strerror (errno));
    int zero = 0;
    zmq_setsockopt (s, ZMQ_LINGER, &zero, sizeof zero);
    char ep[600];
    str_fmt (ep, sizeof ep, "ipc://%s/bus-pub.sock", run_dir);
    CHECK (zmq_connect (s, ep) == 0, "connect %s: %s", ep, zmq_strerror (errno));
    return s;
}

/* Waits until the bus forwarded a subscription to each of the n prefixes. */
static void
s_wait_subscriptions (void *xpub, const char *const *prefixes, int n, int timeout_ms)
{
    int64_t end = clock_mono_ms () + timeout_ms;
    bool seen[8] = {false};
    CHECK (n <= 8, "too many prefixes");
    for (;;) {
        int missing = -1;
        for (int i = 0; i < n && missing < 0; i++)
            if (!seen[i])
                missing = i;
        if (missing < 0)
            return;
        int64_t left = end - clock_mono_ms ();
        CHECK (left > 0, "no subscription to '%s' reached the bus within %d ms", prefixes[missing], timeout_ms);
        zmq_pollitem_t it = {xpub, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&it, 1, (long) left) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init (&m);
        if (zmq_msg_recv (&m, xpub, 0) >= 0) {
            const unsigned char *d = zmq_msg_data (&m);
            size_t len = zmq_msg_size (&m);
            for (int i = 0; i < n; i++)
                if (len == strlen (prefixes[i]) + 1 && d[0] == 1 && memcmp (d + 1, prefixes[i], len - 1) == 0)
                    seen[i] = true;
        }
        zmq_msg_close (&m);
    }
}

static void
s_send (void *xpub, const char *topic, env_t *env, const char *publisher_id, uint64_t seq, int64_t sent_ms)
{
    CHECK (env_set_str (&env->header->publisher_id, publisher_id) == 0, "oom");
    CHECK (env_set_str (&env->header->sender, "cli-test") == 0, "oom");
    env->header->seq = seq;
    env->header->sent_unix_ms = sent_ms;
    uint8_t *bytes = NULL;
    size_t len = 0;
    CHECK (env_encode (env, &bytes, &len) == 0, "env_encode");
    CHECK (zmq_send (xpub, topic, strlen (topic), ZMQ_SNDMORE) >= 0, "send topic: %s", zmq_strerror (errno));
    CHECK (zmq_send (xpub, bytes, len, 0) >= 0, "send body: %s", zmq_strerror (errno));
    free (bytes);
    env_free (env);
}

static env_t *
s_commentary (const char *answer)
{
    env_t *e = env_new ("cli-test");
    Copilot__V1__CommentaryEvent *c = env_msg_new (&copilot__v1__commentary_event__descriptor);
    CHECK (e && c, "oom");
    c->seq = 42;
    env_set_str (&c->report_id, "job_cost");
    env_set_str (&c->entity_type, "job");
    env_set_str (&c->entity_id, "J-FIN-DAILY");
    env_set_str (&c->chip_id, "job:cost:J-FIN-DAILY");
    env_set_str (&c->answer_markdown, answer);
    env_set_str (&c->provider, "narrator");
    c->created_unix_ms = 1764936000000;
    CHECK (env_set_body (e, COPILOT__V1__ENVELOPE__BODY_COMMENTARY_EVENT, c) == 0, "body");
    return e;
}

static env_t *
s_alert (const char *severity, const char *message)
{
    env_t *e = env_new ("cli-test");
    Copilot__V1__Alert *a = env_msg_new (&copilot__v1__alert__descriptor);
    CHECK (e && a, "oom");
    env_set_str (&a->alert_id, "J-FIN-DAILY:2025-12-05");
    env_set_str (&a->severity, severity);
    env_set_str (&a->entity_type, "job");
    env_set_str (&a->entity_id, "J-FIN-DAILY");
    env_set_str (&a->date, "2025-12-05");
    env_set_str (&a->message, message);
    env_set_str (&a->report_id, "anomaly_detection");
    a->value = 1234.5;
    a->expected = 400.25;
    a->z_score = 6.5;
    CHECK (env_set_body (e, COPILOT__V1__ENVELOPE__BODY_ALERT, a) == 0, "body");
    return e;
}

/* Finds the JSON line whose topic is `topic` (and seq, when seq > 0). */
static json_t *
s_find_event (json_t *events, const char *topic, json_int_t seq)
{
    size_t i;
    json_t *e;
    json_array_foreach (events, i, e) {
        const char *t = json_string_value (json_object_get (e, "topic"));
        if (t && strcmp (t, topic) == 0 && (seq <= 0 || json_integer_value (json_object_get (e, "seq")) == seq))
            return e;
    }
    return NULL;
}

static const char *
s_jstr (json_t *o, const char *a, const char *b)
{
    json_t *x = json_object_get (o, a);
    if (b)
        x = json_object_get (x, b);
    const char *s = json_string_value (x);
    return s ? s : "(missing)";
}

static int
s_test_events (const char *bindir, const char *fixture)
{
    char copilot[PATH_MAX], bus[PATH_MAX];
    str_fmt (copilot, sizeof copilot, "%s/copilot", bindir);
    str_fmt (bus, sizeof bus, "%s/event-bus", bindir);
    if (!s_exe (copilot) || !s_exe (bus)) {
        fprintf (stderr, "skip: %s or %s not built\n", copilot, bus);
        return 77;
    }
    ops_init ("cli-ev");
    char run_dir[600], db[600];
    str_fmt (run_dir, sizeof run_dir, "%s/run", ops_dir ());
    str_fmt (db, sizeof db, "%s/usage.db", ops_dir ());
    CHECK (mkdir (run_dir, 0700) == 0, "mkdir %s", run_dir);
    s_clean_env (run_dir);
    s_copy_file (fixture, db);

    /* Bus down: a clear error at once, not a hang. */
    char *argv_down[] = {copilot, "events", "--count", "1", "--timeout-ms", "20000", NULL};
    int64_t t0 = clock_mono_ms ();
    run_t r = s_run (argv_down);
    EXPECT (r.status == 1 && s_has (r.err, "copilot events: the event bus is not running: nothing listens at "),
            "bus down: exit %d: %s", r.status, buf_data (r.err));
    EXPECT (clock_mono_ms () - t0 < 5000, "bus-down error took %lld ms", (long long) (clock_mono_ms () - t0));
    s_run_free (&r);

    char *argv_bus[] = {bus, NULL};
    ops_proc_t *eb = ops_spawn ("event-bus", argv_bus);
    ops_wait_ready (eb, 15000);

    /* 1. JSON: data.changed from a real `copilot db migrate`, commentary and
     *    alert from this test, and a gap of 3 on the commentary stream. */
    char *argv_ev[] = {copilot, "events", "--json", "--count", "4", "--timeout-ms", "30000", NULL};
    ops_proc_t *ev = ops_spawn ("events-json", argv_ev);
    s_wait_log (ev, "copilot events: listening on ipc://", 15000);
    EXPECT (ops_log_contains (ev, "(alert., commentary., data.)"), "default prefixes not announced");

    char *argv_mig[] = {copilot, "db", "migrate", "--db", db, NULL};
    r = s_run (argv_mig);
    EXPECT (r.status == 0, "db migrate exit %d: %s", r.status, buf_data (r.err));
    const char *dv = strstr (buf_data (r.out), "data_version ");
    EXPECT (dv, "migrate printed no data_version: %s", buf_data (r.out));
    char want_dv[32];
    size_t dvn = strcspn (dv + 13, " \n");
    CHECK (dvn > 0 && dvn < sizeof want_dv, "data_version text");
    memcpy (want_dv, dv + 13, dvn);
    want_dv[dvn] = '\0';
    s_run_free (&r);

    void *zctx = zmq_ctx_new ();
    void *xp = s_xpub (zctx, run_dir);
    static const char *const fams[] = {"commentary.", "alert."};
    s_wait_subscriptions (xp, fams, 2, 10000);
    const char *answer = "## J-FIN-DAILY cost spike\n\nCost rose 3.1x on 2025-12-05.";
    s_send (xp, "commentary.v1.job_cost", s_commentary (answer), "commentary@cli-test-1-0001", 1, 1764936000123);
    s_send (xp, "alert.v1.high", s_alert ("high", "Daily cost 1234.50 vs expected 400.25"), "alert@cli-test-1-0002", 1,
            1764936000456);
    s_send (xp, "commentary.v1.job_cost", s_commentary ("second"), "commentary@cli-test-1-0001", 5, 1764936000789);

    buf_t *out = buf_new (1u << 20);
    CHECK (out, "oom");
    s_read_lines (ev, out, 4, 30000);
    int rc = ops_wait_exit (ev, 10000);
    EXPECT (rc == 0, "events --count 4 exit %d", rc);
    json_t *events = json_array ();
    const char *line = buf_data (out);
    while (*line) {
        size_t n = strcspn (line, "\n");
        json_error_t e;
        json_t *j = json_loadb (line, n, 0, &e);
        EXPECT (j, "stdout line is not JSON (%s): %.*s", e.text, (int) n, line);
        json_array_append_new (events, j);
        line += n + (line[n] == '\n');
    }
    EXPECT (json_array_size (events) == 4, "%zu events printed:\n%s", json_array_size (events), buf_data (out));

    char real_db[PATH_MAX];
    CHECK (realpath (db, real_db), "realpath %s", db);
    json_t *dc = s_find_event (events, "data.changed.v1", 1);
    EXPECT (dc, "no data.changed.v1 #1 in:\n%s", buf_data (out));
    EXPECT (strcmp (s_jstr (dc, "kind", NULL), "data_changed") == 0, "kind %s", s_jstr (dc, "kind", NULL));
    EXPECT (strcmp (s_jstr (dc, "data_changed", "reason"), "migrate") == 0, "reason %s",
            s_jstr (dc, "data_changed", "reason"));
    EXPECT (strcmp (s_jstr (dc, "data_changed", "data_version"), want_dv) == 0, "data_version %s, migrate said %s",
            s_jstr (dc, "data_changed", "data_version"), want_dv);
    EXPECT (strcmp (s_jstr (dc, "data_changed", "db_path"), real_db) == 0, "db_path %s",
            s_jstr (dc, "data_changed", "db_path"));
    EXPECT (strncmp (s_jstr (dc, "publisher_id", NULL), "data@", 5) == 0, "publisher %s",
            s_jstr (dc, "publisher_id", NULL));

    json_t *c1 = s_find_event (events, "commentary.v1.job_cost", 1);
    EXPECT (c1, "no commentary #1 in:\n%s", buf_data (out));
    EXPECT (strcmp (s_jstr (c1, "kind", NULL), "commentary") == 0, "kind");
    EXPECT (strcmp (s_jstr (c1, "time", NULL), "2025-12-05T12:00:00.123Z") == 0, "time %s", s_jstr (c1, "time", NULL));
    EXPECT (strcmp (s_jstr (c1, "publisher_id", NULL), "commentary@cli-test-1-0001") == 0, "publisher");
    EXPECT (strcmp (s_jstr (c1, "commentary", "answer_markdown"), answer) == 0, "answer %s",
            s_jstr (c1, "commentary", "answer_markdown"));
    EXPECT (strcmp (s_jstr (c1, "commentary", "entity_id"), "J-FIN-DAILY") == 0, "entity");
    EXPECT (strcmp (s_jstr (c1, "commentary", "chip_id"), "job:cost:J-FIN-DAILY") == 0, "chip");
    json_t *a1 = s_find_event (events, "alert.v1.high", 1);
    EXPECT (a1, "no alert in:\n%s", buf_data (out));
    EXPECT (strcmp (s_jstr (a1, "alert", "severity"), "high") == 0, "severity");
    EXPECT (json_real_value (json_object_get (json_object_get (a1, "alert"), "value")) == 1234.5, "alert value");
    EXPECT (s_find_event (events, "commentary.v1.job_cost", 5), "no commentary #5 in:\n%s", buf_data (out));
    EXPECT (ops_log_contains (ev, "gap: 3 events missed from commentary@cli-test-1-0001 (last seq 1, then 5)"),
            "gap not reported on stderr");
    EXPECT (ops_log_contains (ev, "copilot events: 4 events, 3 missed"), "summary line");
    json_decref (events);
    zmq_close (xp);

    /* 2. Text format, --data-dir, a --topic that is not a whole family,
     *    then SIGINT: exit 0 at once with the summary. */
    char *argv_tx[] = {copilot, "events", "--data-dir", (char *) ops_dir (), "--topic", "alert.v1.critical", NULL};
    ops_proc_t *tx = ops_spawn ("events-text", argv_tx);
    s_wait_log (tx, "copilot events: listening on ipc://", 15000);
    EXPECT (ops_log_contains (tx, "/run/bus-sub.sock (alert.v1.critical)"), "--data-dir endpoint not used");
    xp = s_xpub (zctx, run_dir);
    static const char *const crit[] = {"alert.v1.critical"};
    s_wait_subscriptions (xp, crit, 1, 10000);
    s_send (xp, "alert.v1.high", s_alert ("high", "not subscribed"), "alert@cli-test-2-0003", 1, 1764936000000);
    s_send (xp, "alert.v1.critical",
            s_alert ("critical", "\n# Daily cost 3.1x expected\nsecond line is not printed"), "alert@cli-test-2-0003", 7,
            1764936000123);
    buf_reset (out);
    s_read_lines (tx, out, 1, 15000);
    const char *want = "2025-12-05T12:00:00.123Z alert.v1.critical cli-test#7 critical job:J-FIN-DAILY 2025-12-05 "
                       "Daily cost 3.1x expected\n";
    EXPECT (strcmp (buf_data (out), want) == 0, "text line:\n got: %s\nwant: %s", buf_data (out), want);
    kill (tx->pid, SIGINT);
    t0 = clock_mono_ms ();
    rc = ops_wait_exit (tx, 5000);
    EXPECT (rc == 0, "SIGINT: exit %d", rc);
    EXPECT (clock_mono_ms () - t0 < 3000, "SIGINT exit took %lld ms", (long long) (clock_mono_ms () - t0));
    EXPECT (ops_log_contains (tx, "copilot events: 1 event, 0 missed"), "summary after SIGINT");
    zmq_close (xp);
    zmq_ctx_term (zctx);
    buf_destroy (&out);

    /* 3. Timeouts: with --count not reached -> 1; without --count -> 0. */
    char *argv_to1[] = {copilot, "events", "--count", "1", "--timeout-ms", "300", NULL};
    r = s_run (argv_to1);
    EXPECT (r.status == 1 && s_has (r.err, "copilot events: timed out after 300 ms with 0 of 1 event\n"),
            "--count timeout: exit %d: %s", r.status, buf_data (r.err));
    s_run_free (&r);
    char *argv_to0[] = {copilot, "events", "--timeout-ms", "200", NULL};
    r = s_run (argv_to0);
    EXPECT (r.status == 0 && buf_len (r.out) == 0, "--timeout-ms alone: exit %d: %s", r.status, buf_data (r.err));
    s_run_free (&r);

    /* 4. Usage errors. */
    char *argv_u1[] = {copilot, "events", "--count", "0", NULL};
    r = s_run (argv_u1);
    EXPECT (r.status == 2 && s_has (r.err, "--count: expected an integer in [1, 1000000000], got '0'"), "--count 0: %s",
            buf_data (r.err));
    s_run_free (&r);
    char *argv_u2[] = {copilot, "events", "--data-dir", "x", "--sub-endpoint", "ipc:///y", NULL};
    r = s_run (argv_u2);
    EXPECT (r.status == 2 && s_has (r.err, "give --data-dir or --sub-endpoint, not both"), "both endpoints: %s",
            buf_data (r.err));
    s_run_free (&r);
    char *argv_u3[] = {copilot, "events", "--topics", "alert.", NULL};
    r = s_run (argv_u3);
    EXPECT (r.status == 2 && s_has (r.err, "unknown option '--topics'"), "unknown option: %s", buf_data (r.err));
    s_run_free (&r);

    rc = ops_stop (eb, 5000);
    EXPECT (rc == 0, "event-bus exit %d", rc);
    printf ("events: %d checks passed\n", s_checks);
    ops_finish ();
    return 0;
}

/* ---- daemons: report-service + event bus ------------------------------------ */

static int
s_test_daemons (const char *bindir, const char *fixture)
{
    char copilot[PATH_MAX], bus[PATH_MAX], rs[PATH_MAX];
    str_fmt (copilot, sizeof copilot, "%s/copilot", bindir);
    str_fmt (bus, sizeof bus, "%s/event-bus", bindir);
    str_fmt (rs, sizeof rs, "%s/report-service", bindir);
    if (!s_exe (copilot) || !s_exe (bus) || !s_exe (rs)) {
        fprintf (stderr, "skip: copilot, event-bus or report-service not built in %s\n", bindir);
        return 77;
    }
    ops_init ("cli-dm");
    char run_dir[600], state[600];
    str_fmt (run_dir, sizeof run_dir, "%s/run", ops_dir ());
    str_fmt (state, sizeof state, "%s/report-state.db", ops_dir ());
    CHECK (mkdir (run_dir, 0700) == 0, "mkdir %s", run_dir);
    s_clean_env (run_dir);
    setenv ("COPILOT_DB_PATH", fixture, 1);
    setenv ("COPILOT_REPORT_SERVICE_STATE_PATH", state, 1);

    char *argv_bus[] = {bus, NULL};
    ops_proc_t *eb = ops_spawn ("event-bus", argv_bus);
    ops_wait_ready (eb, 15000);
    char *argv_ev[] = {copilot, "events", "--data-dir", (char *) ops_dir (), "--topic", "alert.", "--json",
                       "--count", "1", "--timeout-ms", "60000", NULL};
    ops_proc_t *ev = ops_spawn ("events", argv_ev);
    s_wait_log (ev, "copilot events: listening on ipc://", 15000);
    char *argv_rs[] = {rs, NULL};
    ops_proc_t *rsp = ops_spawn ("report-service", argv_rs);
    ops_wait_ready (rsp, 30000);

    /* A real alert from report-service's start-up detection. */
    buf_t *out = buf_new (1u << 20);
    CHECK (out, "oom");
    s_read_lines (ev, out, 1, 60000);
    int rc = ops_wait_exit (ev, 10000);
    EXPECT (rc == 0, "events exit %d", rc);
    json_error_t e;
    json_t *a = json_loads (buf_data (out), 0, &e);
    EXPECT (a, "not JSON: %s", buf_data (out));
    const char *topic = s_jstr (a, "topic", NULL);
    const char *sev = s_jstr (a, "alert", "severity");
    char want_topic[80];
    str_fmt (want_topic, sizeof want_topic, "alert.v1.%s", sev);
    EXPECT (strcmp (topic, want_topic) == 0, "topic %s, severity %s", topic, sev);
    EXPECT (strcmp (s_jstr (a, "sender", NULL), "report-service") == 0, "sender %s", s_jstr (a, "sender", NULL));
    EXPECT (json_integer_value (json_object_get (a, "seq")) == 1, "first alert has seq %lld",
            (long long) json_integer_value (json_object_get (a, "seq")));
    EXPECT (*s_jstr (a, "alert", "entity_id") && strcmp (s_jstr (a, "alert", "entity_id"), "(missing)") != 0,
            "alert without entity");
    EXPECT (strcmp (s_jstr (a, "alert", "report_id"), "anomaly_detection") == 0, "report_id %s",
            s_jstr (a, "alert", "report_id"));
    json_decref (a);
    buf_destroy (&out);

    /* reports from the daemon (--data-dir) == reports from the local engine. */
    char *argv_remote[] = {copilot, "reports", "--data-dir", (char *) ops_dir (), "--json", NULL};
    char *argv_local[] = {copilot, "reports", "--db", (char *) fixture, "--json", NULL};
    run_t rr = s_run (argv_remote), rl = s_run (argv_local);
    EXPECT (rr.status == 0 && rl.status == 0, "reports exit %d/%d: %s %s", rr.status, rl.status, buf_data (rr.err),
            buf_data (rl.err));
    json_t *jr = s_parse (rr.out, "remote reports"), *jl = s_parse (rl.out, "local reports");
    EXPECT (strncmp (s_jstr (jr, "source", NULL), "report-service ipc://", 21) == 0, "source %s",
            s_jstr (jr, "source", NULL));
    json_object_del (jr, "source");
    json_object_del (jl, "source");
    EXPECT (json_equal (jr, jl), "daemon listing differs from the local one:\n%s\n---\n%s", buf_data (rr.out),
            buf_data (rl.out));
    json_decref (jr);
    json_decref (jl);
    s_run_free (&rr);
    s_run_free (&rl);
    char *argv_text[] = {copilot, "reports", "--data-dir", (char *) ops_dir (), NULL};
    rr = s_run (argv_text);
    EXPECT (rr.status == 0 && s_has (rr.out, "  available  job_cost                   Job Cost & Reliability\n"),
            "text listing via daemon: %s%s", buf_data (rr.out), buf_data (rr.err));
    s_run_free (&rr);

    /* report-service stopped: an immediate, specific error. */
    rc = ops_stop (rsp, 10000);
    EXPECT (rc == 0, "report-service exit %d", rc);
    int64_t t0 = clock_mono_ms ();
    rr = s_run (argv_text);
    EXPECT (rr.status == 1 && s_has (rr.err, "copilot reports: report-service is not running: nothing listens at "),
            "stopped report-service: exit %d: %s", rr.status, buf_data (rr.err));
    EXPECT (clock_mono_ms () - t0 < 5000, "error took %lld ms", (long long) (clock_mono_ms () - t0));
    s_run_free (&rr);
    rc = ops_stop (eb, 5000);
    EXPECT (rc == 0, "event-bus exit %d", rc);
    printf ("daemons: %d checks passed\n", s_checks);
    ops_finish ();
    return 0;
}

/* ---- command-line surface ------------------------------------------------------ */

static int
s_test_surface (const char *copilot)
{
    struct {
        const char *typed, *want;
    } cases[] = {{"reprots", "copilot: unknown command 'reprots' (did you mean 'reports'?)\n"},
                 {"evnets", "copilot: unknown command 'evnets' (did you mean 'events'?)\n"},
                 {"reprot", "copilot: unknown command 'reprot' (did you mean 'report'?)\n"},
                 {"serach", "copilot: unknown command 'serach' (did you mean 'search'?)\n"},
                 {"xyzzyq", "copilot: unknown command 'xyzzyq'\n"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {(char *) copilot, (char *) cases[i].typed, NULL};
        run_t r = s_run (argv);
        EXPECT (r.status == 2, "'%s': exit %d", cases[i].typed, r.status);
        EXPECT (strncmp (buf_data (r.err), cases[i].want, strlen (cases[i].want)) == 0, "'%s':\n got: %s\nwant: %s",
                cases[i].typed, buf_data (r.err), cases[i].want);
        EXPECT (s_has (r.err, "commands:"), "'%s': no command list after the error", cases[i].typed);
        s_run_free (&r);
    }
    char *argv_h[] = {(char *) copilot, "help", "evnets", NULL};
    run_t r = s_run (argv_h);
    EXPECT (r.status == 2 && s_has (r.err, "copilot: unknown command 'evnets' (did you mean 'events'?)"),
            "help evnets: %s", buf_data (r.err));
    s_run_free (&r);

    /* Every command of `copilot --help`: --help exits 0 with usage, options
     * and examples; `copilot help <cmd>` prints the same. */
    char *argv_top[] = {(char *) copilot, "--help", NULL};
    r = s_run (argv_top);
    EXPECT (r.status == 0 && s_has (r.out, "usage: copilot <command>"), "copilot --help: %s", buf_data (r.err));
    const char *list = strstr (buf_data (r.out), "commands:\n");
    CHECK (list, "no commands: section");
    list += 10;
    int ncmd = 0;
    bool have_reports = false, have_events = false;
    while (strncmp (list, "  ", 2) == 0) {
        char name[64];
        size_t n = strcspn (list + 2, " ");
        CHECK (n > 0 && n < sizeof name, "bad command line: %.40s", list);
        memcpy (name, list + 2, n);
        name[n] = '\0';
        have_reports |= strcmp (name, "reports") == 0;
        have_events |= strcmp (name, "events") == 0;
        ncmd++;
        char *argv_c[] = {(char *) copilot, name, "--help", NULL};
        run_t h = s_run (argv_c);
        char usage[100];
        str_fmt (usage, sizeof usage, "usage: copilot %s", name);
        EXPECT (h.status == 0, "copilot %s --help: exit %d", name, h.status);
        EXPECT (strncmp (buf_data (h.out), usage, strlen (usage)) == 0, "copilot %s --help does not start with '%s':\n%s",
                name, usage, buf_data (h.out));
        EXPECT (s_has (h.out, "\noptions:\n") || s_has (h.out, "\narguments:\n"), "copilot %s --help: no options: section",
                name);
        EXPECT (s_has (h.out, "\nexamples:\n  copilot "), "copilot %s --help: no examples: section", name);
        if (strcmp (name, "reports") == 0 || strcmp (name, "events") == 0 || strcmp (name, "up") == 0) {
            char *argv_hc[] = {(char *) copilot, "help", name, NULL};
            run_t hc = s_run (argv_hc);
            EXPECT (hc.status == 0 && strcmp (buf_data (hc.out), buf_data (h.out)) == 0, "copilot help %s differs",
                    name);
            s_run_free (&hc);
        }
        s_run_free (&h);
        list = strchr (list, '\n');
        CHECK (list, "truncated command list");
        list++;
    }
    EXPECT (ncmd >= 10 && have_reports && have_events, "%d commands listed (reports %d, events %d)", ncmd,
            have_reports, have_events);
    s_run_free (&r);
    printf ("surface: %d commands, %d checks passed\n", ncmd, s_checks);
    return 0;
}

int
main (int argc, char **argv)
{
    signal (SIGPIPE, SIG_IGN);
    if (argc >= 4 && strcmp (argv[1], "reports") == 0) {
        if (!s_exe (argv[2]) || access (argv[3], R_OK) != 0)
            return 77;
        int rc = s_test_reports (argv[2], argv[3]);
        printf ("reports: %d checks passed\n", s_checks);
        return rc;
    }
    if (argc >= 4 && strcmp (argv[1], "events") == 0)
        return access (argv[3], R_OK) != 0 ? 77 : s_test_events (argv[2], argv[3]);
    if (argc >= 4 && strcmp (argv[1], "daemons") == 0)
        return access (argv[3], R_OK) != 0 ? 77 : s_test_daemons (argv[2], argv[3]);
    if (argc >= 3 && strcmp (argv[1], "surface") == 0)
        return s_exe (argv[2]) ? s_test_surface (argv[2]) : 77;
    fprintf (stderr, "usage: %s reports <copilot> <db> | events <bindir> <db> | daemons <bindir> <db> | surface <copilot>\n",
             argv[0]);
    return 2;
}
