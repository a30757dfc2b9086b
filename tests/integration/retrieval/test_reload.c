/* test_reload.c — hot reload of the retrieval index with real daemons:
 * event-bus + retrieval-router + one retrieval-service replica over ipc://.
 *
 *  1. copies the fixture DB into a temp dir, `copilot db migrate` (creates
 *     data_version), builds the index from the copy (rt_index_build records
 *     the data_version);
 *  2. starts the event bus, the router and one replica (db.path = the copy)
 *     and waits for their READY lines and for the router to see the worker;
 *  3. a search loop runs from here to the end through the router (up to 4 in
 *     flight, mixed queries) and counts every reply that is not a
 *     SearchReply;
 *  4. asserts an existing telemetry doc is found and the canary job is not;
 *  5. inserts a new job (sqlite3, as another tool would) and runs
 *     `copilot db refresh`, which bumps data_version and publishes
 *     data.changed exactly as the CLI does after any write;
 *  6. waits (deadline) until a telemetry search returns job::J-HOTRELOAD-CANARY,
 *     then asserts: zero search errors during the whole run, the replica's
 *     copilot_retrieval_index_data_version equals the new data_version,
 *     one reload, no reload failure, the replica's Ping names the new
 *     data_version, the router never dropped the worker;
 *  7. SIGTERMs everything: exit 0, clean sanitizer logs.
 * Usage: test_rt_reload BUS_BIN ROUTER_BIN WORKER_BIN COPILOT_BIN FIXTURE_DB
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "clock.h"
#include "env.h"
#include "rt.h"
#include "rt_proc.h"

#include "it_check.h"

#define CANARY "J-HOTRELOAD-CANARY"

static int s_failures;

#define CHECK(cond, ...) ITC_CHECK_MSG (s_failures, cond, __VA_ARGS__)

/* ---- background search loop ---------------------------------------------- */

typedef struct {
    long replies, errors;
    char last_error[256];
} loop_t;
static loop_t s_loop;
static bus_client_t *s_client;
static unsigned s_next;
static const char *const s_queries[] = {"Daily Financial Aggregation", "spot eviction storm",
                                        "warehouse auto stop idle cost", "driver out of memory",
                                        "cascading upstream failure"};

static void
on_loop_reply (bus_client_t *c, int status, env_t *reply, void *arg)
{
    (void) c;
    (void) arg;
    if (status == 0 && reply && reply->body_case == COPILOT__V1__ENVELOPE__BODY_SEARCH_REPLY
        && reply->search_reply->n_hits > 0) {
        s_loop.replies++;
    } else {
        s_loop.errors++;
        const Copilot__V1__Error *e = reply ? env_error (reply) : NULL;
        snprintf (s_loop.last_error, sizeof s_loop.last_error, "status %d: %s", status,
                  e ? e->message : (reply ? env_body_name (reply->body_case) : "no reply"));
    }
    env_free (reply);
}

/* Keeps up to 4 loop searches in flight; polls for `ms`. */
static void
s_pump (int ms)
{
    int64_t end = clock_mono_ms () + ms;
    do {
        while (bus_client_pending (s_client) < 4) {
            env_t *req = env_new ("test");
            Copilot__V1__SearchRequest *sr = env_msg_new (&copilot__v1__search_request__descriptor);
            env_set_str (&sr->query, s_queries[s_next++ % 5]);
            sr->k = 5;
            env_set_body (req, COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, sr);
            int rc = bus_client_send (s_client, req, 30000, BUS_CALL_IDEMPOTENT, on_loop_reply, NULL);
            env_free (req);
            if (rc != 0)
                break;
        }
        bus_client_poll (s_client, 20);
    } while (clock_mono_ms () < end);
}

/* Synchronous telemetry search through the router; true when doc_id is a hit. */
static bool
s_found (const char *ep, const char *query, const char *doc_id)
{
    env_t *req = env_new ("test");
    Copilot__V1__SearchRequest *sr = env_msg_new (&copilot__v1__search_request__descriptor);
    env_set_str (&sr->query, query);
    env_set_str (&sr->corpus, "telemetry");
    sr->k = 10;
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_SEARCH_REQUEST, sr);
    env_t *reply = NULL;
    bus_call (ep, req, &reply, 30000);
    env_free (req);
    bool found = false;
    if (reply && reply->body_case == COPILOT__V1__ENVELOPE__BODY_SEARCH_REPLY) {
        for (size_t i = 0; i < reply->search_reply->n_hits; i++)
            if (strcmp (reply->search_reply->hits[i]->doc_id, doc_id) == 0)
                found = true;
    } else {
        s_loop.errors++;
        snprintf (s_loop.last_error, sizeof s_loop.last_error, "probe search failed: %s",
                  reply ? env_body_name (reply->body_case) : "no reply");
    }
    env_free (reply);
    return found;
}

static char s_ping_detail[512];
static void
s_ping (const char *ep)
{
    s_ping_detail[0] = '\0';
    env_t *req = env_new ("test");
    Copilot__V1__PingRequest *pr = env_msg_new (&copilot__v1__ping_request__descriptor);
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, pr);
    env_t *reply = NULL;
    bus_call (ep, req, &reply, 5000);
    env_free (req);
    if (reply && reply->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY)
        snprintf (s_ping_detail, sizeof s_ping_detail, "%s", reply->ping_reply->detail);
    env_free (reply);
}

static int
s_run (const char *cmd)
{
    int rc = system (cmd);
    return rc == -1 ? -1 : WEXITSTATUS (rc);
}

static long long
s_data_version (const char *db)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2 (db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK
        && sqlite3_prepare_v2 (h, "SELECT version FROM data_version WHERE id = 1", -1, &st, NULL) == SQLITE_OK
        && sqlite3_step (st) == SQLITE_ROW)
        v = sqlite3_column_int64 (st, 0);
    sqlite3_finalize (st);
    sqlite3_close (h);
    return v;
}

int
main (int argc, char **argv)
{
    if (argc != 6) {
        fprintf (stderr, "usage: %s BUS_BIN ROUTER_BIN WORKER_BIN COPILOT_BIN FIXTURE_DB\n", argv[0]);
        return 2;
    }
    const char *bus_bin = argv[1], *router_bin = argv[2], *worker_bin = argv[3], *cli = argv[4], *fixture = argv[5];
    if (access (fixture, R_OK) != 0 || access (bus_bin, X_OK) != 0 || access (cli, X_OK) != 0)
        return 77;
    bool sanitized = getenv ("COPILOT_SANITIZED") != NULL;
    snprintf (rt_proc_dir, sizeof rt_proc_dir, "/tmp/rt_reload_XXXXXX");
    if (!mkdtemp (rt_proc_dir))
        return 1;
    char db[300], idx[300], run[300], rep[400], bep[400], wep[400], cmd[1400];
    snprintf (db, sizeof db, "%s/usage.db", rt_proc_dir);
    snprintf (idx, sizeof idx, "%s/index", rt_proc_dir);
    snprintf (run, sizeof run, "%s/run", rt_proc_dir);
    mkdir (run, 0700);
    setenv ("COPILOT_RUN_DIR", run, 1);
    setenv ("COPILOT_DB_PATH", db, 1);
    setenv ("COPILOT_LOG_LEVEL", "info", 1);
    unsetenv ("COPILOT_CONFIG");
    int rc = 1;
    proc_t bus = {0}, router = {0}, w1 = {0};
    void *ctx = NULL;

    snprintf (cmd, sizeof cmd, "cp '%s' '%s' && '%s' db migrate --db '%s' >/dev/null", fixture, db, cli, db);
    if (s_run (cmd) != 0) {
        fprintf (stderr, "copy/migrate failed: %s\n", cmd);
        goto out;
    }
    long long dv0 = s_data_version (db);
    rt_config_t cfg;
    rt_config_defaults (&cfg);
    if (rt_index_build (db, idx, &cfg, NULL, NULL, NULL) != RT_OK) {
        fprintf (stderr, "index build failed: %s\n", rt_last_error ());
        goto out;
    }
    rt_index_t *ix = rt_index_open (idx, &cfg);
    CHECK (ix != NULL, "open: %s", rt_last_error ());
    if (ix) {
        char want[32];
        snprintf (want, sizeof want, "%lld", dv0);
        CHECK (strcmp (rt_index_data_version (ix), want) == 0, "index records data_version '%s', DB has %s",
               rt_index_data_version (ix), want);
        CHECK (strcmp (rt_index_db_path (ix), db) == 0, "index records db_path '%s'", rt_index_db_path (ix));
        rt_index_destroy (&ix);
    }

    snprintf (rep, sizeof rep, "ipc://%s/router.sock", run);
    snprintf (bep, sizeof bep, "ipc://%s/backend.sock", run);
    snprintf (wep, sizeof wep, "ipc://%s/w1.sock", run);
    setenv ("COPILOT_RETRIEVAL_INDEX_DIR", idx, 1);
    setenv ("COPILOT_RETRIEVAL_ROUTER_BACKEND", bep, 1);
    char set_bep[450];
    snprintf (set_bep, sizeof set_bep, "retrieval_router.backend=%s", bep);
    char *bargv[] = {(char *) bus_bin, NULL};
    char *rargv[] = {(char *) router_bin, "--endpoint", rep, "--set", set_bep, NULL};
    char *wargv[] = {(char *) worker_bin, "--endpoint", wep, "--set", "retrieval_service.worker_id=w1", NULL};
    if (spawn (&bus, "event-bus", bus_bin, bargv) != 0 || wait_ready (&bus, 10000) != 0
        || spawn (&router, "router", router_bin, rargv) != 0 || wait_ready (&router, 10000) != 0
        || spawn (&w1, "w1", worker_bin, wargv) != 0 || wait_ready (&w1, 60000) != 0) {
        fprintf (stderr, "daemons did not become ready\n");
        goto out;
    }
    int64_t end = clock_mono_ms () + 10000;
    while (ping_workers (rep) < 1 && clock_mono_ms () < end)
        clock_sleep_ms (50);
    CHECK (ping_workers (rep) == 1, "router does not see the worker");

    ctx = zmq_ctx_new ();
    s_client = bus_client_new (ctx, rep, "test", "retrieval-router");
    if (!s_client) {
        fprintf (stderr, "client\n");
        goto out;
    }
    s_pump (500);
    CHECK (s_found (rep, "Daily Financial Aggregation", "job::J-FIN-DAILY"), "existing job not found");
    CHECK (!s_found (rep, "hotreload canary zebra", "job::" CANARY), "canary found before it exists");
    /* the subscriber connects asynchronously: let it settle before publishing */
    s_pump (1000);

    /* 5. a new job, then the CLI's refresh: data_version bump + data.changed */
    {
        sqlite3 *h = NULL;
        char *err = NULL;
        int src = sqlite3_open (db, &h);
        if (src == SQLITE_OK)
            src = sqlite3_exec (h,
                                "INSERT INTO jobs(job_id, workspace_id, job_name, description, tags) "
                                "SELECT '" CANARY "', workspace_id, 'Hotreload canary zebra pipeline', "
                                "'Inserted by the hot reload test.', '[\"Test\"]' FROM jobs ORDER BY job_id LIMIT 1",
                                NULL, NULL, &err);
        CHECK (src == SQLITE_OK, "insert: %s", err ? err : sqlite3_errmsg (h));
        sqlite3_free (err);
        sqlite3_close (h);
    }
    int64_t t_change = clock_mono_ms ();
    snprintf (cmd, sizeof cmd, "'%s' db refresh --db '%s' >/dev/null", cli, db);
    CHECK (s_run (cmd) == 0, "copilot db refresh failed");
    long long dv1 = s_data_version (db);
    CHECK (dv1 > dv0, "data_version not bumped (%lld -> %lld)", dv0, dv1);

    /* 6. the canary becomes searchable while the loop keeps searching */
    bool found = false;
    int64_t deadline = t_change + (sanitized ? 240000 : 60000);
    while (!found && clock_mono_ms () < deadline) {
        s_pump (200);
        found = s_found (rep, "hotreload canary zebra", "job::" CANARY);
    }
    int64_t took = clock_mono_ms () - t_change;
    s_pump (500);
    CHECK (found, "canary not searchable %lld ms after data.changed", (long long) took);
    double wdv = metric_of (wep, "copilot_retrieval_index_data_version");
    double reloads = metric_of (wep, "copilot_retrieval_reloads_total");
    double rfail = metric_of (wep, "copilot_retrieval_reload_failures_total");
    double misses = metric_of (rep, "copilot_worker_heartbeat_misses_total");
    double dropped = metric_of (rep, "copilot_router_workers_dropped_total");
    s_ping (wep);
    char want[64];
    snprintf (want, sizeof want, "data_version %lld ", dv1);
    printf ("canary searchable %lld ms after data.changed; loop: %ld replies, %ld errors; replica data_version "
            "%.0f, reloads %.0f (failed %.0f); router misses %.0f, dropped %.0f; ping: %s\n",
            (long long) took, s_loop.replies, s_loop.errors, wdv, reloads, rfail, misses, dropped, s_ping_detail);
    CHECK (s_loop.errors == 0, "%ld search errors during the reload (last: %s)", s_loop.errors, s_loop.last_error);
    CHECK (s_loop.replies > 10, "search loop made no progress (%ld replies)", s_loop.replies);
    CHECK ((long long) wdv == dv1, "replica reports data_version %.0f, want %lld", wdv, dv1);
    CHECK (reloads == 1, "reloads_total %.0f, want 1", reloads);
    CHECK (rfail == 0, "reload failures %.0f", rfail);
    CHECK (strstr (s_ping_detail, want) != NULL, "Ping detail '%s' lacks '%s'", s_ping_detail, want);
    CHECK (misses == 0 && dropped == 0, "router dropped the worker during the reload (misses %.0f, dropped %.0f)",
           misses, dropped);
    rc = s_failures ? 1 : 0;
out:
    if (s_client) {
        /* let the loop's last searches finish: the router would otherwise
         * still hold them when it is stopped (drain timeout) */
        int64_t drain_end = clock_mono_ms () + 60000;
        while (bus_client_pending (s_client) > 0 && clock_mono_ms () < drain_end)
            bus_client_poll (s_client, 50);
        bus_client_destroy (&s_client);
    }
    if (ctx)
        zmq_ctx_term (ctx);
    {
        int ew = stop (&w1, SIGTERM), er = stop (&router, SIGTERM), eb = stop (&bus, SIGTERM);
        if (rc == 0) {
            CHECK (ew == 0, "worker exit code %d", ew);
            CHECK (er == 0, "router exit code %d", er);
            CHECK (eb == 0, "event-bus exit code %d", eb);
        }
    }
    CHECK (clean_log (&bus) && clean_log (&router) && clean_log (&w1), "sanitizer report in a daemon log");
    /* the replica deletes its private rebuilt index on exit */
    {
        char gen[400];
        snprintf (gen, sizeof gen, "%s.reload/w1/gen-1", idx);
        CHECK (access (gen, F_OK) != 0, "%s left behind", gen);
    }
    if (s_failures || rc != 0) {
        dump_log (&bus);
        dump_log (&router);
        dump_log (&w1);
        rc = 1;
    }
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", rt_proc_dir);
    if (strncmp (rt_proc_dir, "/tmp/rt_reload_", 15) == 0 && system (cmd) != 0)
        fprintf (stderr, "cleanup of %s failed\n", rt_proc_dir);
    printf ("%s\n", rc == 0 ? "retrieval reload: PASS" : "retrieval reload: FAIL");
    return rc;
}
