/* test_pool.c — integration test of the retrieval pool with real processes:
 * one retrieval-router and two retrieval-service replicas over ipc://.
 *
 *  1. builds the fixture index (rt_index_build) in a temp directory;
 *  2. starts the router and two workers, waits for their READY lines (no
 *     sleeps) and for Ping on the router to report both workers;
 *  3. keeps SEARCHES idempotent searches in flight through one DEALER
 *     client; after a third of the replies it SIGKILLs worker 1;
 *  4. asserts that every search got a SearchReply (zero lost, zero errors),
 *     that both workers served before the kill and only worker 2 after the
 *     router dropped worker 1, and that the router counted the drop;
 *  5. SIGTERMs the router and worker 2, asserts exit code 0 and clean
 *     sanitizer logs.
 * Prints a one-line result; exits 0 on success, 1 on failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "clock.h"
#include "env.h"
#include "rt.h"
#include "rt_proc.h"

#include "it_check.h"

#define SEARCHES 300
#define KILL_AFTER 100

#define s_tmp rt_proc_dir
static int s_failures;

#define CHECK(cond, ...) ITC_CHECK_MSG (s_failures, cond, __VA_ARGS__)

/* ---- client side ---------------------------------------------------------- */

typedef struct {
    int replies, errors, sent;
    int before_w1, before_w2, after_w1, after_w2;
    bool killed;
    int64_t killed_at_reply;
    char last_error[256];
} stats_t;

static stats_t s_st;
static bus_client_t *s_client;
static const char *const s_queries[] = {
    "spot eviction storm", "warehouse auto stop idle cost", "driver out of memory collect",
    "Which job trains the product recommendation model on GPUs?", "legacy ETL query timeout",
    "how do pools reduce cluster start time", "cascading upstream failure skipped jobs",
};

static void on_reply (bus_client_t *c, int status, env_t *reply, void *arg);

static int
send_one (int i)
{
    env_t *req = env_new ("test");
    Copilot__V1__SearchRequest *sr = env_msg_new (&copilot__v1__search_request__descriptor);
    if (!req || !sr)
        return -1;
    env_set_str (&sr->query, s_queries[i % 7]);
    sr->k = 5;
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, sr);
    int rc = bus_client_send (s_client, req, 10000, BUS_CALL_IDEMPOTENT, on_reply, NULL);
    env_free (req);
    if (rc == 0)
        s_st.sent++;
    return rc;
}

static void
on_reply (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    (void) arg;
    if (status == 0 && reply->body_case == COPILOT__V1__ENVELOPE__BODY_SEARCH_REPLY
        && reply->search_reply->n_hits == 5) {
        s_st.replies++;
        const char *by = reply->search_reply->served_by;
        bool w1 = strcmp (by, "w1") == 0;
        if (!s_st.killed) {
            s_st.before_w1 += w1;
            s_st.before_w2 += !w1;
        } else if (s_st.replies > s_st.killed_at_reply + 20) {
            /* well after the kill only the survivor may answer */
            s_st.after_w1 += w1;
            s_st.after_w2 += !w1;
        }
    } else {
        s_st.errors++;
        const Copilot__V1__Error *e = env_error (reply);
        snprintf (s_st.last_error, sizeof s_st.last_error, "status %d: %s", status,
                  e ? e->message : env_body_name (reply->body_case));
    }
    env_free (reply);
}

int
main (int argc, char **argv)
{
    if (argc != 4) {
        fprintf (stderr, "usage: %s ROUTER_BIN WORKER_BIN FIXTURE_DB\n", argv[0]);
        return 2;
    }
    const char *router_bin = argv[1], *worker_bin = argv[2], *db = argv[3];
    if (access (db, R_OK) != 0)
        return 77;
    snprintf (s_tmp, sizeof s_tmp, "/tmp/rt_pool_XXXXXX");
    if (!mkdtemp (s_tmp))
        return 1;
    char idx[300], run[300], rep[400], bep[400], w1ep[400], w2ep[400];
    snprintf (idx, sizeof idx, "%s/index", s_tmp);
    snprintf (run, sizeof run, "%s/run", s_tmp);
    mkdir (run, 0700);
    rt_config_t cfg;
    rt_config_defaults (&cfg);
    int64_t t0 = clock_mono_ms ();
    if (rt_index_build (db, idx, &cfg, NULL, NULL, NULL) != RT_OK) {
        fprintf (stderr, "index build failed: %s\n", rt_last_error ());
        return 1;
    }
    printf ("index built in %lld ms\n", (long long) (clock_mono_ms () - t0));
    snprintf (rep, sizeof rep, "ipc://%s/router.sock", run);
    snprintf (bep, sizeof bep, "ipc://%s/backend.sock", run);
    snprintf (w1ep, sizeof w1ep, "ipc://%s/w1.sock", run);
    snprintf (w2ep, sizeof w2ep, "ipc://%s/w2.sock", run);
    setenv ("COPILOT_RUN_DIR", run, 1);
    setenv ("COPILOT_RETRIEVAL_INDEX_DIR", idx, 1);
    setenv ("COPILOT_RETRIEVAL_ROUTER_BACKEND", bep, 1);
    setenv ("COPILOT_RETRIEVAL_HEARTBEAT_MS", "500", 1);

    char set_bep[450];
    snprintf (set_bep, sizeof set_bep, "retrieval_router.backend=%s", bep);
    proc_t router = {0}, w1 = {0}, w2 = {0};
    char *rargv[] = {(char *) router_bin, "--endpoint", rep, "--set", set_bep, NULL};
    char *w1argv[] = {(char *) worker_bin, "--endpoint", w1ep, "--set", "retrieval_service.worker_id=w1", NULL};
    char *w2argv[] = {(char *) worker_bin, "--endpoint", w2ep, "--set", "retrieval_service.worker_id=w2", NULL};
    int rc = 1;
    if (spawn (&router, "router", router_bin, rargv) != 0 || wait_ready (&router, 10000) != 0) {
        fprintf (stderr, "router did not become ready\n");
        goto out;
    }
    if (spawn (&w1, "w1", worker_bin, w1argv) != 0 || spawn (&w2, "w2", worker_bin, w2argv) != 0
        || wait_ready (&w1, 30000) != 0 || wait_ready (&w2, 30000) != 0) {
        fprintf (stderr, "workers did not become ready\n");
        goto out;
    }
    /* the router knows both workers once their READY arrived */
    int64_t end = clock_mono_ms () + 10000;
    while (ping_workers (rep) < 2 && clock_mono_ms () < end)
        clock_sleep_ms (50);
    CHECK (ping_workers (rep) == 2, "router does not report 2 workers");

    void *ctx = zmq_ctx_new ();
    s_client = bus_client_new (ctx, rep, "test", "retrieval-router");
    CHECK (s_client != NULL, "client");
    if (!s_client)
        goto out;
    int next = 0;
    /* keep up to 16 searches in flight */
    end = clock_mono_ms () + 120000;
    while ((s_st.replies + s_st.errors) < SEARCHES && clock_mono_ms () < end) {
        while (next < SEARCHES && (int) bus_client_pending (s_client) < 16) {
            if (send_one (next) != 0)
                break;
            next++;
        }
        bus_client_poll (s_client, 50);
        if (!s_st.killed && s_st.replies >= KILL_AFTER) {
            kill (w1.pid, SIGKILL);
            waitpid (w1.pid, NULL, 0);
            w1.pid = 0;
            close (w1.out_fd);
            s_st.killed = true;
            s_st.killed_at_reply = s_st.replies;
            printf ("SIGKILL worker 1 after %d replies (%d in flight)\n", s_st.replies,
                    (int) bus_client_pending (s_client));
        }
    }
    double dropped = metric_of (rep, "copilot_router_workers_dropped_total");
    double requeued = metric_of (rep, "copilot_router_requeued_total");
    bus_client_destroy (&s_client);
    zmq_ctx_term (ctx);

    printf ("searches %d sent, %d replies, %d errors; before kill w1 %d / w2 %d; after kill w1 %d / w2 %d; "
            "router dropped %.0f worker(s), requeued %.0f search(es)\n",
            s_st.sent, s_st.replies, s_st.errors, s_st.before_w1, s_st.before_w2, s_st.after_w1, s_st.after_w2,
            dropped, requeued);
    CHECK (s_st.sent == SEARCHES, "sent %d", s_st.sent);
    CHECK (s_st.replies == SEARCHES, "lost or failed searches: %d replies of %d (last error: %s)", s_st.replies,
           SEARCHES, s_st.last_error);
    CHECK (s_st.errors == 0, "%d errors (last: %s)", s_st.errors, s_st.last_error);
    CHECK (s_st.before_w1 > 0 && s_st.before_w2 > 0, "both replicas should serve before the kill");
    CHECK (s_st.after_w1 == 0 && s_st.after_w2 > 0, "only the survivor may serve after the kill");
    CHECK (dropped >= 1, "router did not drop the killed worker");
    rc = s_failures ? 1 : 0;
out:;
    int e2 = stop (&w2, SIGTERM), er = stop (&router, SIGTERM);
    if (w1.pid)
        stop (&w1, SIGKILL);
    if (rc == 0) {
        CHECK (e2 == 0, "worker 2 exit code %d", e2);
        CHECK (er == 0, "router exit code %d", er);
    }
    CHECK (clean_log (&router) && clean_log (&w1) && clean_log (&w2), "sanitizer report in a daemon log");
    if (s_failures || rc != 0) {
        dump_log (&router);
        dump_log (&w1);
        dump_log (&w2);
        rc = 1;
    }
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    if (strncmp (s_tmp, "/tmp/rt_pool_", 13) == 0 && system (cmd) != 0)
        fprintf (stderr, "cleanup of %s failed\n", s_tmp);
    printf ("%s\n", rc == 0 ? "retrieval pool: PASS" : "retrieval pool: FAIL");
    return rc;
}
