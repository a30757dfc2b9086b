/* test_graph_service.c — integration test of the graph-service daemon: a real
 * process, a real ROUTER socket and the real pub/sub path.
 *
 *   test_graph_service <graph-service binary> <fixture db>
 *
 * 1. Start with a database path that does not exist yet: the daemon is not
 *    ready, answers UNAVAILABLE, and becomes READY once the file appears
 *    (retry timer).
 * 2. Subgraph / Neighbors / Path over the wire; NOT_FOUND names the anchor.
 * 3. Write a new job into the database, publish data.changed (the test binds
 *    the PUB socket the daemon's subscriber connects to), and keep sending
 *    requests meanwhile: the new node appears and no request fails.
 * 4. Publish an Alert: the anomaly node appears linked to its job.
 * 5. Snapshots (graph.snapshot_dir set): the first daemon built from SQLite
 *    ("built" in Ping's detail) and writes the graph to the snapshot
 *    (copilot_graph_snapshot_current 1 in Metrics). SIGTERM: exit status 0.
 * 6. A second daemon on the same database loads the snapshot ("from
 *    snapshot", copilot_graph_from_snapshot 1) and answers the same
 *    Subgraph text, anomaly included (restored from the snapshot).
 * 7. The database changes while no daemon runs: a third daemon rejects the
 *    stale snapshot, builds from SQLite and sees the new row; the anomaly
 *    is carried over from the stale snapshot.
 * Exits 77 when the fixture or the binary is missing.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zmq.h>

#include "bus.h"
#include "clock.h"
#include "env.h"
#include "pubsub.h"

#include "it_bus.h"
#include "it_check.h"
#include "it_files.h"
#include "it_proc.h"

static int s_failures;
#define CHECK(cond) ITC_CHECK (s_failures, cond)
#define REQUIRE(cond) ITC_REQUIRE (s_failures, cond, out)

static env_t *
s_call (bus_client_t *c, env_t *req)
{
    env_t *reply = NULL;
    bus_client_call (c, req, &reply, 5000, BUS_CALL_IDEMPOTENT);
    env_free (req);
    return reply;
}

static env_t *
s_subgraph (bus_client_t *c, const char *anchor, unsigned budget)
{
    env_t *req = env_new ("test");
    Copilot__V1__SubgraphRequest *r = env_msg_new (&copilot__v1__subgraph_request__descriptor);
    char *a = env_strdup (anchor);
    ENV_APPEND (r->anchors, r->n_anchors, a);
    r->hops = 4;
    r->node_budget = budget;
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_SUBGRAPH_REQUEST, r);
    return s_call (c, req);
}

static env_t *
s_neighbors (bus_client_t *c, const char *id, const char *type, unsigned limit)
{
    env_t *req = env_new ("test");
    Copilot__V1__NeighborsRequest *r = env_msg_new (&copilot__v1__neighbors_request__descriptor);
    env_set_str (&r->id, id);
    env_set_str (&r->edge_type, type);
    r->limit = limit;
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_NEIGHBORS_REQUEST, r);
    return s_call (c, req);
}

static env_t *
s_path (bus_client_t *c, const char *from, const char *to)
{
    env_t *req = env_new ("test");
    Copilot__V1__PathRequest *r = env_msg_new (&copilot__v1__path_request__descriptor);
    env_set_str (&r->from, from);
    env_set_str (&r->to, to);
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_PATH_REQUEST, r);
    return s_call (c, req);
}

/* Ping's ready detail (empty string on failure), copied into out. */
static void
s_ping_detail (bus_client_t *c, char *out, size_t size)
{
    env_t *req = env_new ("test");
    Copilot__V1__PingRequest *pr = env_msg_new (&copilot__v1__ping_request__descriptor);
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_PING_REQUEST, pr);
    env_t *r = s_call (c, req);
    out[0] = '\0';
    if (r && r->body_case == COPILOT__V1__ENVELOPE__BODY_PING_REPLY && r->ping_reply->detail)
        snprintf (out, size, "%s", r->ping_reply->detail);
    env_free (r);
}

/* True when the Metrics text contains `needle`. */
static bool
s_metrics_has (bus_client_t *c, const char *needle)
{
    env_t *req = env_new ("test");
    Copilot__V1__MetricsRequest *mr = env_msg_new (&copilot__v1__metrics_request__descriptor);
    env_set_body (req, COPILOT__V1__ENVELOPE__BODY_METRICS_REQUEST, mr);
    env_t *r = s_call (c, req);
    bool yes = r && r->body_case == COPILOT__V1__ENVELOPE__BODY_METRICS_REPLY && r->metrics_reply->text
               && strstr (r->metrics_reply->text, needle) != NULL;
    env_free (r);
    return yes;
}

static int
s_error_code (const env_t *e)
{
    if (e == NULL)
        return -1;
    return e->body_case == COPILOT__V1__ENVELOPE__BODY_ERROR ? (int) e->error->code : 0;
}

static int
s_publish_alert (pubsub_pub_t *pub)
{
    env_t *ev = env_new ("test");
    Copilot__V1__Alert *a = env_msg_new (&copilot__v1__alert__descriptor);
    env_set_str (&a->alert_id, "J-FIN-DAILY:2025-12-01");
    env_set_str (&a->severity, "high");
    env_set_str (&a->entity_type, "job");
    env_set_str (&a->entity_id, "J-FIN-DAILY");
    env_set_str (&a->date, "2025-12-01");
    env_set_str (&a->message, "daily cost $250.00 vs expected $120.00 (z 4.2)");
    a->value = 250.0;
    env_set_body (ev, COPILOT__V1__ENVELOPE__BODY_ALERT, a);
    int rc = pubsub_publish (pub, "alert.v1.high", ev);
    env_free (ev);
    return rc;
}

int
main (int argc, char **argv)
{
    if (argc < 3 || access (argv[1], X_OK) != 0 || access (argv[2], R_OK) != 0) {
        fprintf (stderr, "usage: %s <graph-service> <fixture.db> (missing: skipping)\n", argv[0]);
        return 77;
    }
    const char *bin = argv[1], *fixture = argv[2];
    char dir[] = "/tmp/gs_itest_XXXXXX";
    if (mkdtemp (dir) == NULL)
        return 1;
    char db[256], ep[256], sub_ep[256], pub_ep[256];
    snprintf (db, sizeof db, "%s/telemetry.db", dir);
    snprintf (ep, sizeof ep, "ipc://%s/gs.sock", dir);
    snprintf (sub_ep, sizeof sub_ep, "ipc://%s/bus-sub.sock", dir);
    snprintf (pub_ep, sizeof pub_ep, "@ipc://%s/bus-sub.sock", dir);
    setenv ("COPILOT_DB_PATH", db, 1);
    setenv ("COPILOT_RUN_DIR", dir, 1);
    setenv ("COPILOT_BUS_SUB_ENDPOINT", sub_ep, 1);
    setenv ("COPILOT_GRAPH_SERVICE_RETRY_MS", "200", 1);
    setenv ("COPILOT_GRAPH_SERVICE_DEBOUNCE_MS", "50", 1);
    setenv ("COPILOT_LOG_LEVEL", "warn", 1);
    setenv ("COPILOT_GRAPH_SNAPSHOT_DIR", dir, 1);
    char want_text[65536] = "";
    char detail[512];

    void *zctx = zmq_ctx_new ();
    pubsub_pub_t *pub = pubsub_pub_new (zctx, pub_ep, "test");
    bus_client_t *cl = bus_client_new (zctx, ep, "test", "graph-service");
    int fd = -1, status = 0;
    env_t *r = NULL;
    pid_t pid = itp_spawn_endpoint (bin, ep, &fd);
    REQUIRE (pub != NULL && cl != NULL && pid > 0);

    /* 1. No database yet: not ready, UNAVAILABLE; then the file appears. */
    clock_sleep_ms (300);
    r = s_subgraph (cl, "job::J-FIN-DAILY", 10);
    CHECK (s_error_code (r) == COPILOT__V1__ERROR_CODE__ERROR_UNAVAILABLE);
    env_free (r);
    {
        char tmp[300];   /* copy then rename: the daemon never sees half a file */
        snprintf (tmp, sizeof tmp, "%s.part", db);
        REQUIRE (itf_copy_file (fixture, tmp) == 0);
        chmod (tmp, 0644);
        REQUIRE (rename (tmp, db) == 0);
    }
    REQUIRE (itp_wait_ready_fd (fd, "READY graph-service", 10000));

    /* 2. Queries. */
    r = s_subgraph (cl, "job::J-FIN-DAILY", 40);
    REQUIRE (s_error_code (r) == 0 && r->body_case == COPILOT__V1__ENVELOPE__BODY_SUBGRAPH_REPLY);
    {
        Copilot__V1__SubgraphReply *sg = r->subgraph_reply;
        CHECK (sg->n_nodes == 40);
        CHECK (strcmp (sg->nodes[0]->id, "job::J-FIN-DAILY") == 0);
        CHECK (sg->nodes[0]->score == 1.0);
        CHECK (strncmp (sg->text, "- job::J-FIN-DAILY [job] Daily Financial Aggregation", 52) == 0);
        CHECK (strncmp (sg->data_version, "g1-", 3) == 0);   /* unmigrated DB: content hash */
        CHECK (sg->n_edges >= 39);
        size_t runs = 0;
        for (size_t k = 0; k < sg->n_nodes; k++)
            runs += strcmp (sg->nodes[k]->type, "jobrun") == 0;
        CHECK (runs >= 5);
    }
    env_free (r);
    r = s_subgraph (cl, "job::J-NOPE", 10);
    CHECK (s_error_code (r) == COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND);
    CHECK (r && r->error && strstr (r->error->message, "job::J-NOPE") != NULL);
    env_free (r);
    r = s_neighbors (cl, "job::J-FIN-DAILY", "HAS_RUN", 3);
    REQUIRE (s_error_code (r) == 0);
    CHECK (r->neighbors_reply->n_nodes == 3 && r->neighbors_reply->n_edges == 3);
    CHECK (strcmp (r->neighbors_reply->edges[0]->type, "HAS_RUN") == 0);
    env_free (r);
    r = s_neighbors (cl, "job::J-FIN-DAILY", "NOT_AN_EDGE", 3);
    CHECK (s_error_code (r) == COPILOT__V1__ERROR_CODE__ERROR_INVALID_ARGUMENT);
    env_free (r);
    r = s_path (cl, "job::J-FIN-DAILY", "eviction::EVICT-J-FIN-DAILY-2025-12-05-R02");
    REQUIRE (s_error_code (r) == 0);
    CHECK (r->path_reply->found && r->path_reply->n_nodes == 5 && r->path_reply->n_edges == 4);
    CHECK (strcmp (r->path_reply->nodes[1]->id, "jobrun::J-FIN-DAILY-2025-12-05-R02") == 0);
    env_free (r);

    /* 3. New data + data.changed while requests keep flowing. */
    {
        sqlite3 *h;
        REQUIRE (sqlite3_open (db, &h) == SQLITE_OK);
        int erc = sqlite3_exec (h,
                                "INSERT INTO jobs VALUES ('J-GS-TEST','OU-CHICOLA','Graph Test Job','new job',NULL);"
                                "INSERT INTO job_runs (job_run_id, job_id, start_time, run_status)"
                                " VALUES ('J-GS-TEST-R1','J-GS-TEST','2025-12-15 10:00:00','FAILED');",
                                NULL, NULL, NULL);
        sqlite3_close (h);
        REQUIRE (erc == SQLITE_OK);
    }
    int requests = 0, failures = 0;
    bool seen = false;
    int64_t end = clock_mono_ms () + 15000;
    int64_t next_pub = 0;
    while (!seen && clock_mono_ms () < end) {
        if (clock_mono_ms () >= next_pub) {   /* repeat: the subscription may still be joining */
            itb_publish_data_changed (pub, db);
            next_pub = clock_mono_ms () + 300;
        }
        r = s_subgraph (cl, "job::J-FIN-DAILY", 40);
        requests++;
        failures += s_error_code (r) != 0;
        env_free (r);
        r = s_neighbors (cl, "job::J-GS-TEST", "", 10);
        requests++;
        if (s_error_code (r) == 0)
            seen = r->neighbors_reply->n_nodes == 2;   /* workspace + its run */
        else if (s_error_code (r) != COPILOT__V1__ERROR_CODE__ERROR_NOT_FOUND)
            failures++;
        env_free (r);
    }
    fprintf (stderr, "rebuild: %d requests during the swap, %d failures, new node %s\n", requests, failures,
             seen ? "seen" : "NOT seen");
    CHECK (seen);
    CHECK (failures == 0);

    /* 4. An alert becomes an anomaly node linked to its job. */
    seen = false;
    end = clock_mono_ms () + 10000;
    next_pub = 0;
    while (!seen && clock_mono_ms () < end) {
        if (clock_mono_ms () >= next_pub) {
            s_publish_alert (pub);
            next_pub = clock_mono_ms () + 300;
        }
        r = s_neighbors (cl, "job::J-FIN-DAILY", "HAS_ANOMALY", 5);
        if (s_error_code (r) == 0 && r->neighbors_reply->n_nodes == 1)
            seen = strcmp (r->neighbors_reply->nodes[0]->id, "anomaly::J-FIN-DAILY:2025-12-01") == 0;
        env_free (r);
        clock_sleep_ms (20);
    }
    CHECK (seen);

    /* 5. Built from SQLite, saved as a snapshot; orderly shutdown. */
    s_ping_detail (cl, detail, sizeof detail);
    CHECK (strstr (detail, "(built)") != NULL);
    r = s_subgraph (cl, "job::J-FIN-DAILY", 40);
    REQUIRE (s_error_code (r) == 0);
    snprintf (want_text, sizeof want_text, "%s", r->subgraph_reply->text);
    env_free (r);
    CHECK (strstr (want_text, "anomaly::J-FIN-DAILY:2025-12-01") != NULL);
    {
        bool saved = false;
        for (int k = 0; k < 100 && !saved; k++) {
            saved = s_metrics_has (cl, "copilot_graph_snapshot_current{service=\"graph-service\"} 1");
            if (!saved)
                clock_sleep_ms (50);
        }
        CHECK (saved);
    }
    kill (pid, SIGTERM);
    CHECK (waitpid (pid, &status, 0) == pid);
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    pid = -1;
    close (fd);
    fd = -1;

    /* 6. Second start on the same database: loaded from the snapshot. */
    pid = itp_spawn_endpoint (bin, ep, &fd);
    REQUIRE (pid > 0 && itp_wait_ready_fd (fd, "READY graph-service", 10000));
    s_ping_detail (cl, detail, sizeof detail);
    fprintf (stderr, "second start: %s\n", detail);
    CHECK (strstr (detail, "(from snapshot)") != NULL);
    CHECK (s_metrics_has (cl, "copilot_graph_from_snapshot{service=\"graph-service\"} 1"));
    r = s_subgraph (cl, "job::J-FIN-DAILY", 40);
    REQUIRE (s_error_code (r) == 0);
    CHECK (strcmp (r->subgraph_reply->text, want_text) == 0);
    CHECK (r->subgraph_reply->n_nodes == 40);
    env_free (r);
    r = s_neighbors (cl, "job::J-GS-TEST", "", 10);
    CHECK (s_error_code (r) == 0 && r->neighbors_reply->n_nodes == 2);
    env_free (r);
    kill (pid, SIGTERM);
    CHECK (waitpid (pid, &status, 0) == pid);
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    pid = -1;
    close (fd);
    fd = -1;

    /* 7. The database changes while stopped: the snapshot is stale. */
    {
        sqlite3 *h;
        REQUIRE (sqlite3_open (db, &h) == SQLITE_OK);
        int erc = sqlite3_exec (h, "INSERT INTO jobs VALUES ('J-GS-TEST2','OU-CHICOLA','Second Test Job','new job',NULL);",
                                NULL, NULL, NULL);
        sqlite3_close (h);
        REQUIRE (erc == SQLITE_OK);
    }
    pid = itp_spawn_endpoint (bin, ep, &fd);
    REQUIRE (pid > 0 && itp_wait_ready_fd (fd, "READY graph-service", 10000));
    s_ping_detail (cl, detail, sizeof detail);
    fprintf (stderr, "third start: %s\n", detail);
    CHECK (strstr (detail, "(built)") != NULL);
    CHECK (s_metrics_has (cl, "copilot_graph_snapshot_rejects_total{service=\"graph-service\"} 1"));
    r = s_neighbors (cl, "job::J-GS-TEST2", "", 10);
    CHECK (s_error_code (r) == 0 && r->neighbors_reply->n_nodes == 1);
    env_free (r);
    /* The anomaly (an alert, published once) survives the stale snapshot. */
    r = s_neighbors (cl, "job::J-FIN-DAILY", "HAS_ANOMALY", 5);
    CHECK (s_error_code (r) == 0 && r->neighbors_reply->n_nodes == 1);
    env_free (r);
    kill (pid, SIGTERM);
    CHECK (waitpid (pid, &status, 0) == pid);
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    pid = -1;
out:
    if (pid > 0) {
        kill (pid, SIGKILL);
        waitpid (pid, &status, 0);
    }
    if (fd >= 0)
        close (fd);
    bus_client_destroy (&cl);
    pubsub_pub_destroy (&pub);
    if (zctx)
        zmq_ctx_term (zctx);
    unlink (db);
    char p[300];
    {
        /* the snapshot file(s) the daemon wrote into dir */
        char cmd[400];
        snprintf (cmd, sizeof cmd, "rm -f %s/graph-*.gsnap %s/graph-*.gsnap.tmp.*", dir, dir);
        if (system (cmd) != 0)
            fprintf (stderr, "cleanup failed: %s\n", cmd);
    }
    snprintf (p, sizeof p, "%s/gs.sock", dir);
    unlink (p);
    snprintf (p, sizeof p, "%s/bus-sub.sock", dir);
    unlink (p);
    rmdir (dir);
    fprintf (stderr, "%s\n", s_failures ? "FAILED" : "ok");
    return s_failures ? 1 : 0;
}
