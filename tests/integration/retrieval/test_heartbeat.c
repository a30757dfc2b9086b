/* test_heartbeat.c — a replica keeps heartbeating while it searches.
 *
 * The search must be genuinely slow, not artificially delayed: the test
 * builds a synthetic corpus of DOCS documents written over a 40-word
 * vocabulary (every document contains most words) and searches it in hybrid
 * mode with a query naming every word and k = 100: the BM25 list scores
 * every posting of every term, the fusion depth is 500 and the reply
 * carries 100 documents. The in-process time T of that search is measured
 * first and the heartbeat interval is derived from it: heartbeat_ms =
 * T / 6 (at least 50 ms), liveness 2, so each search lasts about three
 * liveness windows of the router. A replica that searched on its loop
 * thread (the old design) is dropped for missed heartbeats here; with the
 * search thread it must not be.
 *
 * Runs router + one replica over ipc://, keeps 2 slow searches in flight for
 * ROUNDS replies and asserts: every reply is a SearchReply with 100 hits,
 * the slowest reply took longer than the router's liveness window, and the
 * router's copilot_worker_heartbeat_misses_total and
 * copilot_router_workers_dropped_total stay 0. Clean SIGTERM exits and
 * sanitizer logs.
 * Usage: test_rt_heartbeat ROUTER_BIN WORKER_BIN
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "buf.h"
#include "bus.h"
#include "clock.h"
#include "env.h"
#include "rt.h"
#include "rt_proc.h"

#include "it_check.h"

#define DOCS 30000
#define ROUNDS 6
#define K 100

static int s_failures;

#define CHECK(cond, ...) ITC_CHECK_MSG (s_failures, cond, __VA_ARGS__)

static const char *const s_words[] = {
    "cluster", "spot",     "eviction", "warehouse", "query",   "timeout", "memory",  "driver",
    "executor", "shuffle", "spill",    "photon",    "pool",    "retry",   "failure", "cost",
    "delta",    "merge",   "pipeline", "dashboard", "refresh", "finance", "latency", "policy",
    "budget",   "node",    "worker",   "partition", "skew",    "join",    "schema",  "upstream",
    "deadline", "fallback", "zone",    "storage",   "cache",   "notebook", "queue",  "scaling"};
#define NWORDS (sizeof s_words / sizeof s_words[0])

static char s_query[1024];

static int
s_build (const char *dir)
{
    rt_docset_t *ds = rt_docset_new ();
    buf_t *t = buf_new (4096);
    if (!ds || !t)
        return -1;
    uint64_t x = 42;
    char id[64], title[64];
    int rc = 0;
    for (int i = 0; i < DOCS && rc == 0; i++) {
        buf_reset (t);
        buf_printf (t, "Synthetic run %d:", i);
        for (int w = 0; w < 60; w++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf_printf (t, " %s", s_words[x % NWORDS]);
        }
        snprintf (id, sizeof id, "jobrun::HB-%06d", i);
        snprintf (title, sizeof title, "HB run %d", i);
        rt_doc_t d = {.doc_id = id, .corpus = "telemetry", .type = "jobrun", .title = title,
                      .text = buf_data (t), .entity_ids = id};
        rc = rt_docset_add (ds, &d);
    }
    buf_destroy (&t);
    rt_config_t cfg;
    rt_config_defaults (&cfg);
    cfg.dim = 32;
    cfg.lsa.dim = 32;
    cfg.lsa.fit_sample = 2000;
    if (rc == 0)
        rc = rt_index_build_docs (ds, dir, &cfg, NULL, NULL, NULL);
    rt_docset_destroy (&ds);
    return rc;
}

typedef struct {
    int replies, errors;
    int64_t max_ms;
    char last_error[256];
} stats_t;
static stats_t s_st;
static bus_client_t *s_client;

static void
on_reply (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    int64_t sent = (int64_t) (intptr_t) arg;
    int64_t ms = clock_mono_ms () - sent;
    if (ms > s_st.max_ms)
        s_st.max_ms = ms;
    if (status == 0 && reply->body_case == COPILOT__V1__ENVELOPE__BODY_SEARCH_REPLY
        && reply->search_reply->n_hits == K) {
        s_st.replies++;
    } else {
        s_st.errors++;
        const Copilot__V1__Error *e = env_error (reply);
        snprintf (s_st.last_error, sizeof s_st.last_error, "status %d: %s (%zu hits)", status,
                  e ? e->message : env_body_name (reply->body_case),
                  reply->body_case == COPILOT__V1__ENVELOPE__BODY_SEARCH_REPLY ? reply->search_reply->n_hits : 0);
    }
    env_free (reply);
}

static int
s_send (void)
{
    env_t *req = env_new ("test");
    Copilot__V1__SearchRequest *sr = env_msg_new (&copilot__v1__search_request__descriptor);
    env_set_str (&sr->query, s_query);
    sr->k = K;
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, sr);
    /* not idempotent on purpose: a resend would hide a dropped worker */
    int rc = bus_client_send (s_client, req, 600000, 0, on_reply, (void *) (intptr_t) clock_mono_ms ());
    env_free (req);
    return rc;
}

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: %s ROUTER_BIN WORKER_BIN\n", argv[0]);
        return 2;
    }
    const char *router_bin = argv[1], *worker_bin = argv[2];
    snprintf (rt_proc_dir, sizeof rt_proc_dir, "/tmp/rt_hb_XXXXXX");
    if (!mkdtemp (rt_proc_dir))
        return 1;
    char idx[300], run[300], rep[400], bep[400], wep[400];
    snprintf (idx, sizeof idx, "%s/index", rt_proc_dir);
    snprintf (run, sizeof run, "%s/run", rt_proc_dir);
    mkdir (run, 0700);
    size_t qn = 0;
    for (size_t i = 0; i < NWORDS; i++)
        qn += (size_t) snprintf (s_query + qn, sizeof s_query - qn, "%s%s", i ? " " : "", s_words[i]);

    int64_t t0 = clock_mono_ms ();
    if (s_build (idx) != 0) {
        fprintf (stderr, "index build failed: %s\n", rt_last_error ());
        return 1;
    }
    int64_t build_ms = clock_mono_ms () - t0;
    /* how slow is this search here (best of 2, in-process)? */
    int64_t t_search = INT64_MAX;
    rt_index_t *ix = rt_index_open (idx, NULL);
    CHECK (ix != NULL, "open: %s", rt_last_error ());
    for (int i = 0; ix && i < 2; i++) {
        rt_query_t q = {.query = s_query, .k = K};
        rt_result_t *res = NULL;
        int64_t a = clock_mono_ms ();
        CHECK (rt_index_search (ix, &q, &res) == RT_OK, "search: %s", rt_last_error ());
        int64_t d = clock_mono_ms () - a;
        if (d < t_search)
            t_search = d;
        CHECK (rt_result_count (res) == K, "in-process search returned %zu hits", rt_result_count (res));
        rt_result_destroy (&res);
    }
    rt_index_destroy (&ix);
    int hb = (int) (t_search / 6);
    if (hb < 50)
        hb = 50;
    int window = 2 * hb; /* liveness 2 */
    printf ("index of %d docs built in %lld ms; slow search %lld ms in-process; heartbeat %d ms, liveness 2 "
            "(router window %d ms)\n",
            DOCS, (long long) build_ms, (long long) t_search, hb, window);
    CHECK (t_search > window, "the search (%lld ms) is not slower than the liveness window (%d ms): the test "
           "would prove nothing", (long long) t_search, window);

    char hbs[32];
    snprintf (hbs, sizeof hbs, "%d", hb);
    snprintf (rep, sizeof rep, "ipc://%s/router.sock", run);
    snprintf (bep, sizeof bep, "ipc://%s/backend.sock", run);
    snprintf (wep, sizeof wep, "ipc://%s/w1.sock", run);
    setenv ("COPILOT_RUN_DIR", run, 1);
    setenv ("COPILOT_RETRIEVAL_INDEX_DIR", idx, 1);
    setenv ("COPILOT_RETRIEVAL_ROUTER_BACKEND", bep, 1);
    setenv ("COPILOT_RETRIEVAL_HEARTBEAT_MS", hbs, 1);
    setenv ("COPILOT_RETRIEVAL_LIVENESS", "2", 1);
    setenv ("COPILOT_RETRIEVAL_HOT_RELOAD", "false", 1);
    unsetenv ("COPILOT_CONFIG");
    char set_bep[450];
    snprintf (set_bep, sizeof set_bep, "retrieval_router.backend=%s", bep);
    proc_t router = {0}, w1 = {0};
    char *rargv[] = {(char *) router_bin, "--endpoint", rep, "--set", set_bep, NULL};
    char *wargv[] = {(char *) worker_bin, "--endpoint", wep, "--set", "retrieval_service.worker_id=w1", NULL};
    int rc = 1;
    void *ctx = NULL;
    if (spawn (&router, "router", router_bin, rargv) != 0 || wait_ready (&router, 10000) != 0
        || spawn (&w1, "w1", worker_bin, wargv) != 0 || wait_ready (&w1, 60000) != 0) {
        fprintf (stderr, "daemons did not become ready\n");
        goto out;
    }
    int64_t end = clock_mono_ms () + 10000;
    while (ping_workers (rep) < 1 && clock_mono_ms () < end)
        clock_sleep_ms (20);
    CHECK (ping_workers (rep) == 1, "router does not see the worker");
    ctx = zmq_ctx_new ();
    s_client = bus_client_new (ctx, rep, "test", "retrieval-router");
    if (!s_client)
        goto out;
    int sent = 0;
    end = clock_mono_ms () + 600000;
    while (s_st.replies + s_st.errors < ROUNDS && clock_mono_ms () < end) {
        while (sent < ROUNDS && bus_client_pending (s_client) < 2 && s_send () == 0)
            sent++;
        bus_client_poll (s_client, 20);
    }
    double misses = metric_of (rep, "copilot_worker_heartbeat_misses_total");
    double dropped = metric_of (rep, "copilot_router_workers_dropped_total");
    double requeued = metric_of (rep, "copilot_router_requeued_total");
    printf ("%d slow searches: %d replies, %d errors, slowest %lld ms; router misses %.0f, dropped %.0f, "
            "requeued %.0f\n",
            ROUNDS, s_st.replies, s_st.errors, (long long) s_st.max_ms, misses, dropped, requeued);
    CHECK (s_st.replies == ROUNDS && s_st.errors == 0, "%d replies, %d errors (last: %s)", s_st.replies, s_st.errors,
           s_st.last_error);
    CHECK (s_st.max_ms > window, "slowest search %lld ms is within the liveness window %d ms", (long long) s_st.max_ms,
           window);
    CHECK (misses == 0, "router counted %.0f heartbeat misses while the replica searched", misses);
    CHECK (dropped == 0 && requeued == 0, "router dropped the busy replica (%.0f) / requeued (%.0f)", dropped,
           requeued);
    rc = s_failures ? 1 : 0;
out:
    if (s_client)
        bus_client_destroy (&s_client);
    if (ctx)
        zmq_ctx_term (ctx);
    {
        int ew = stop (&w1, SIGTERM), er = stop (&router, SIGTERM);
        if (rc == 0) {
            CHECK (ew == 0, "worker exit code %d", ew);
            CHECK (er == 0, "router exit code %d", er);
        }
    }
    CHECK (clean_log (&router) && clean_log (&w1), "sanitizer report in a daemon log");
    if (s_failures || rc != 0) {
        dump_log (&router);
        dump_log (&w1);
        rc = 1;
    }
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", rt_proc_dir);
    if (strncmp (rt_proc_dir, "/tmp/rt_hb_", 11) == 0 && system (cmd) != 0)
        fprintf (stderr, "cleanup of %s failed\n", rt_proc_dir);
    printf ("%s\n", rc == 0 ? "retrieval heartbeat: PASS" : "retrieval heartbeat: FAIL");
    return rc;
}
